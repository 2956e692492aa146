// What the language detector (balance/langid.py) counts in the prose of each document, in one pass over its
// UTF-8 bytes: letters by script, and the counts of its line and code-score rules on the text's shape. The
// shape has one class per character (langid._CLASSES, given by the caller, of each character's first byte),
// "\r" dropped: "a" Latin letter, "h" Hangul, "o" other script, "g" and "j" the mixed U+1000 and U+3000
// blocks, "s" code symbol, "\n", " " (space or tab). Counts of two- and three-class patterns are Python's
// bytes.count: non-overlapping, from the left. Plain C functions, called through ctypes (scripts.py).

#include <cstdint>

namespace {

enum Field { kHangul, kLatin, kOther, kNewlines, kNewlinePairs, kLatinPairs, kHangulPairs, kSymbols, kIndents,
             kSize, kFields };

// The letters of the mixed blocks by code point (langid._MIXED_RANGES): Hangul, Latin, other script.
inline int mixed_script(uint32_t c) {
  if ((c >= 0x1100 && c <= 0x11FF) || (c >= 0x3100 && c <= 0x31BF)) return kHangul;
  if (c >= 0x1E00 && c <= 0x1EFF) return kLatin;
  if ((c >= 0x1000 && c <= 0x10FF) || (c >= 0x1200 && c <= 0x1DFF) || (c >= 0x1F00 && c <= 0x1FFF) ||
      (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31C0 && c <= 0x3FFF)) {
    return kOther;
  }
  return -1;
}

inline int char_size(uint8_t b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

// The counts of one text are kept in 6-bit lanes of one 64-bit word (one lane per field), added up into the
// output every 63 characters, before a lane can overflow. What a character adds, and the state it leaves, depend
// only on its kind and the state: tables built once per call (Steps), so that the loop has no branch on the kind.
enum Kind { kA, kH, kO, kS, kNewline, kSpace, kRest, kMixed, kCR, kKinds };
constexpr int kLane = 6;
constexpr int kFlush = (1 << kLane) - 1;

// The state: the "a a" and "h h" matches in progress (0: none, 1: saw the letter, 2: and a space, as
// bytes.count finds them from the left) and the line state (0: the last character was no "\n", 1: a "\n" that
// may start a "\n\n", 2: a "\n" that ended one).
constexpr int kStates = 3 * 3 * 3;

inline int pack(int latin, int hangul, int line) { return (latin * 3 + hangul) * 3 + line; }

inline uint64_t lane(Field f) { return uint64_t(1) << (kLane * f); }

struct Steps {
  uint8_t kind[256];
  uint8_t next[kStates][kKinds];
  uint64_t adds[kStates][kKinds];

  explicit Steps(const uint8_t* classes) {
    for (int b = 0; b < 256; ++b) {
      const uint8_t c = classes[b];
      kind[b] = b == '\r' ? kCR : c == 'a' ? kA : c == 'h' ? kH : c == 'o' ? kO : c == 's' ? kS : c == '\n' ? kNewline
                : c == ' ' ? kSpace : (c == 'g' || c == 'j') ? kMixed : kRest;
    }
    for (int latin = 0; latin < 3; ++latin) {
      for (int hangul = 0; hangul < 3; ++hangul) {
        for (int line = 0; line < 3; ++line) {
          const int state = pack(latin, hangul, line);
          for (int k = 0; k < kKinds; ++k) {
            if (k == kCR) {  // dropped from the shape
              next[state][k] = state, adds[state][k] = 0;
              continue;
            }
            uint64_t add = lane(kSize);
            if (k == kA) add += lane(kLatin);
            if (k == kH) add += lane(kHangul);
            if (k == kO) add += lane(kOther);
            if (k == kS) add += lane(kSymbols);
            int l = latin, h = hangul, n;
            if (l == 2 && k == kA) add += lane(kLatinPairs), l = 0;
            else l = k == kA ? 1 : (l == 1 && k == kSpace) ? 2 : 0;
            if (h == 2 && k == kH) add += lane(kHangulPairs), h = 0;
            else h = k == kH ? 1 : (h == 1 && k == kSpace) ? 2 : 0;
            if (k == kNewline) {
              add += lane(kNewlines);
              if (line == 1) add += lane(kNewlinePairs), n = 2;
              else n = 1;
            } else {
              if (k == kSpace && line != 0) add += lane(kIndents);
              n = 0;
            }
            next[state][k] = uint8_t(pack(l, h, n)), adds[state][k] = add;
          }
        }
      }
    }
  }
};

inline void flush(uint64_t& acc, int64_t* out) {
  for (int f = 0; f < kFields; ++f) out[f] += (acc >> (kLane * f)) & kFlush;
  acc = 0;
}

// The counts of one text into out[0 .. kFields): its chars characters from p, or (kBounded) its bytes up to
// end. Returns where it ends.
template <bool kBounded>
const uint8_t* count_text(const uint8_t* p, const uint8_t* end, int64_t chars, const Steps& steps, int64_t* out) {
  for (int f = 0; f < kFields; ++f) out[f] = 0;
  uint64_t acc = 0;
  int state = 0, pending = kFlush;
  for (int64_t k = 0; kBounded ? p < end : k < chars; ++k) {
    const uint8_t b = *p;
    const int kind = steps.kind[b];
    const int size = char_size(b);
    acc += steps.adds[state][kind];
    state = steps.next[state][kind];
    if (kind == kMixed) {  // a letter of a mixed block counts by its code point
      const uint32_t cp = size == 3 ? (uint32_t(b & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F) : 0;
      const int script = mixed_script(cp);
      if (script >= 0) ++out[script];
    }
    p += size;
    if (--pending == 0) flush(acc, out), pending = kFlush;
  }
  flush(acc, out);
  return p;
}

}  // namespace

extern "C" {

// Text i is the next chars[i] characters of data, each text followed by one separator character. Writes
// kFields counts per text into out[kFields * i ...]: Hangul, Latin and other-script letters, newlines, "\n\n",
// "a a", "h h", "s", "\n " and the shape's length.
void gecko_script_counts(const uint8_t* data, const int64_t* chars, int64_t n, const uint8_t* classes,
                         int64_t* out) {
  const Steps steps(classes);
  const uint8_t* p = data;
  for (int64_t i = 0; i < n; ++i, out += kFields) {
    p = count_text<false>(p, nullptr, chars[i], steps, out);
    p += char_size(*p);  // the separator
  }
}

// The same counts of the texts data[starts[i]:ends[i]] (the texts of an Arrow column, read in place).
void gecko_script_counts_bounds(const uint8_t* data, const int64_t* starts, const int64_t* ends, int64_t n,
                                const uint8_t* classes, int64_t* out) {
  const Steps steps(classes);
  for (int64_t i = 0; i < n; ++i, out += kFields) count_text<true>(data + starts[i], data + ends[i], 0, steps, out);
}

}  // extern "C"
