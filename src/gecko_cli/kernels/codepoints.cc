// Per text of an Arrow string column, how many of its code points fall in each of a few sets of code point
// ranges (balance/rules.py: decorative symbols, bare jamo, conjoining jamo). Plain C, called through ctypes.
//
// The texts are read from the column's UTF-8 bytes as Python decodes them with "surrogatepass": a 3-byte
// sequence of a lone surrogate is the surrogate's code point. A byte that does not start a whole sequence
// counts as no code point.

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {

// counts[i * k + s] = the code points of text i, data[starts[i]:ends[i]], in set s; a code point is in set s
// when bit s of bits[cp] is set (cp below 65536), or when an astral range (lo, hi, bit) holds it.
void gecko_count_code_points(const uint8_t* data, const int64_t* starts, const int64_t* ends, int64_t n,
                             const uint8_t* bits, const uint32_t* astral, int64_t n_astral, int64_t k,
                             int64_t* counts) {
  std::memset(counts, 0, sizeof(int64_t) * n * k);
  bool ascii = false;  // whether any ASCII code point is in a set
  for (int c = 0; c < 128; ++c) ascii |= bits[c] != 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t* out = counts + i * k;
    const uint8_t* p = data + starts[i];
    const uint8_t* end = data + ends[i];
    while (p < end) {
      const uint8_t b = *p;
      uint32_t cp;
      if (b < 0x80) {
        if (!ascii) {  // runs of ASCII: nothing to count, 8 bytes at a time
          ++p;
          uint64_t word;
          while (end - p >= 8 && (std::memcpy(&word, p, 8), (word & 0x8080808080808080ull) == 0)) p += 8;
          continue;
        }
        cp = b;
        p += 1;
      } else if (b >= 0xC2 && b < 0xE0 && end - p >= 2) {
        cp = (uint32_t(b & 0x1F) << 6) | (p[1] & 0x3F);
        p += 2;
      } else if (b >= 0xE0 && b < 0xF0 && end - p >= 3) {
        cp = (uint32_t(b & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        p += 3;
      } else if (b >= 0xF0 && b < 0xF5 && end - p >= 4) {
        cp = (uint32_t(b & 0x07) << 18) | (uint32_t(p[1] & 0x3F) << 12) | (uint32_t(p[2] & 0x3F) << 6) |
             (p[3] & 0x3F);
        p += 4;
      } else {
        ++p;
        continue;
      }
      uint32_t in = 0;
      if (cp < 65536) {
        in = bits[cp];
      } else {
        for (int64_t r = 0; r < n_astral; ++r) {
          if (cp >= astral[3 * r] && cp <= astral[3 * r + 1]) in |= 1u << astral[3 * r + 2];
        }
      }
      while (in) {
        out[__builtin_ctz(in)] += 1;
        in &= in - 1;
      }
    }
  }
}

}  // extern "C"
