// Which texts of an Arrow string array may hold a number that personal-data scrubbing replaces
// (balance/pii.py): a run of a byte of "0123456789+(" and 8 more of "0123456789 ().+-", which every match of
// pii._RUN starts with. Those characters are ASCII, one byte each, and no byte of another character is one of
// them, so the bytes have such a run exactly when the text's characters have. Plain C, called through ctypes.

#include <cstdint>

namespace {

struct Sets {
  bool run[256] = {};
  bool first[256] = {};
  Sets() {
    for (const char* c = "0123456789 ().+-"; *c; ++c) run[uint8_t(*c)] = true;
    for (const char* c = "0123456789+("; *c; ++c) first[uint8_t(*c)] = true;
  }
};
const Sets kSets;

}  // namespace

extern "C" {

// flags[i] = 1 when text i, data[offsets[i]:offsets[i + 1]], holds such a run, else 0.
void gecko_number_runs(const uint8_t* data, const int32_t* offsets, int64_t n, uint8_t* flags) {
  for (int64_t i = 0; i < n; ++i) {
    flags[i] = 0;
    int64_t after = 0;  // bytes of the run that follow p
    for (int64_t p = int64_t(offsets[i + 1]) - 1; p >= offsets[i]; --p) {
      const uint8_t b = data[p];
      if (kSets.first[b] && after >= 8) {
        flags[i] = 1;
        break;
      }
      after = kSets.run[b] ? after + 1 : 0;
    }
  }
}

}  // extern "C"
