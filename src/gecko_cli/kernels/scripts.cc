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

// Non-overlapping matches of "x y x" (a letter class, a space, the same letter class), as bytes.count.
struct Triple {
  uint8_t letter;
  int state = 0;  // 1: saw the letter, 2: saw the letter and a space
  int64_t count = 0;
  explicit Triple(uint8_t l) : letter(l) {}
  void next(uint8_t c) {
    if (state == 2 && c == letter) {
      ++count;
      state = 0;
    } else if (c == letter) {
      state = 1;
    } else {
      state = (state == 1 && c == ' ') ? 2 : 0;
    }
  }
};

// The counts of one text into out[0 .. kFields): its chars characters from p, or (kBounded) its bytes up to
// end. Returns where it ends.
template <bool kBounded>
const uint8_t* count_text(const uint8_t* p, const uint8_t* end, int64_t chars, const uint8_t* classes,
                          int64_t* out) {
  for (int f = 0; f < kFields; ++f) out[f] = 0;
  Triple latin('a'), hangul('h');
  bool newline = false;        // the previous shape class was "\n"
  bool newline_open = false;   // a "\n" that can still start a "\n\n"
  for (int64_t k = 0; kBounded ? p < end : k < chars; ++k) {
    const uint8_t b = *p;
    const int size = char_size(b);
    uint8_t c = classes[b];
    if (b == '\r') {
      p += size;
      continue;
    }
    if (c == 'g' || c == 'j') {
      const uint32_t cp = size == 3 ? (uint32_t(b & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F) : 0;
      const int script = mixed_script(cp);
      if (script >= 0) ++out[script];
    } else if (c == 'h') {
      ++out[kHangul];
    } else if (c == 'a') {
      ++out[kLatin];
    } else if (c == 'o') {
      ++out[kOther];
    } else if (c == 's') {
      ++out[kSymbols];
    }
    if (c == '\n') {
      ++out[kNewlines];
      if (newline_open) {
        ++out[kNewlinePairs];
        newline_open = false;
      } else {
        newline_open = true;
      }
    } else {
      newline_open = false;
      if (c == ' ' && newline) ++out[kIndents];
    }
    newline = c == '\n';
    latin.next(c);
    hangul.next(c);
    ++out[kSize];
    p += size;
  }
  out[kLatinPairs] = latin.count;
  out[kHangulPairs] = hangul.count;
  return p;
}

}  // namespace

extern "C" {

// Text i is the next chars[i] characters of data, each text followed by one separator character. Writes
// kFields counts per text into out[kFields * i ...]: Hangul, Latin and other-script letters, newlines, "\n\n",
// "a a", "h h", "s", "\n " and the shape's length.
void gecko_script_counts(const uint8_t* data, const int64_t* chars, int64_t n, const uint8_t* classes,
                         int64_t* out) {
  const uint8_t* p = data;
  for (int64_t i = 0; i < n; ++i, out += kFields) {
    p = count_text<false>(p, nullptr, chars[i], classes, out);
    p += char_size(*p);  // the separator
  }
}

// The same counts of the texts data[starts[i]:ends[i]] (the texts of an Arrow column, read in place).
void gecko_script_counts_bounds(const uint8_t* data, const int64_t* starts, const int64_t* ends, int64_t n,
                                const uint8_t* classes, int64_t* out) {
  for (int64_t i = 0; i < n; ++i, out += kFields) count_text<true>(data + starts[i], data + ends[i], 0, classes, out);
}

}  // extern "C"
