// Copy texts out of several Arrow string arrays into one (`gecko balance` gather, kernels/texts.py): for every
// i, the text at row rows[i] of array arrays[i], one after another, with the offsets of the new array. Plain C,
// called through ctypes.

#include <cstdint>
#include <cstring>

extern "C" {

// offsets[k]: array k's int32 offsets (from its first row); data[k]: its data. out_offsets gets n + 1 entries,
// out_data every byte of the texts, `capacity` at most. Returns the bytes written, or -1 (nothing more written)
// where the texts would not fit.
int64_t gecko_take_texts(const int32_t* const* offsets, const uint8_t* const* data, const int32_t* arrays,
                         const int64_t* rows, int64_t n, int32_t* out_offsets, uint8_t* out_data,
                         int64_t capacity) {
  int64_t at = 0;
  out_offsets[0] = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t* o = offsets[arrays[i]];
    const int32_t start = o[rows[i]];
    const int32_t size = o[rows[i] + 1] - start;
    if (size < 0 || at + size > capacity) return -1;
    std::memcpy(out_data + at, data[arrays[i]] + start, static_cast<size_t>(size));
    at += size;
    out_offsets[i + 1] = static_cast<int32_t>(at);
  }
  return at;
}

}  // extern "C"
