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

// flags[i] = 1 when text i, data[starts[i]:ends[i]], holds such a run, else 0.
//
// Such a run is 9 bytes of "0123456789 ().+-", so it covers one of every 8 bytes of the text: only those are
// looked at, and the stretch of such bytes around one that is is searched for a byte of the first set that has
// 8 more after it.
void gecko_number_runs(const uint8_t* data, const int64_t* starts, const int64_t* ends, int64_t n, uint8_t* flags) {
  for (int64_t i = 0; i < n; ++i) {
    flags[i] = 0;
    const int64_t start = starts[i], end = ends[i];
    for (int64_t q = start; q < end; q += 8) {
      if (!kSets.run[data[q]]) continue;
      int64_t lo = q, hi = q + 1;  // the stretch of run bytes around q: [lo, hi)
      while (lo > start && kSets.run[data[lo - 1]]) --lo;
      while (hi < end && kSets.run[data[hi]]) ++hi;
      for (int64_t p = lo; p + 9 <= hi; ++p) {
        if (kSets.first[data[p]]) {
          flags[i] = 1;
          break;
        }
      }
      if (flags[i]) break;
      q += (hi - q) / 8 * 8;  // the next byte looked at lies beyond this stretch
    }
  }
}

}  // extern "C"
