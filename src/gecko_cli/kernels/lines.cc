// Line statistics of UTF-8 texts, as Python computes them with
//     items = [line.strip() for line in text.splitlines()]
// per text: the number of lines, of blank lines, of distinct lines (blank included) and their characters, all the
// lines' characters, and each line's length. Lengths count code points, as Python's len() does. Line breaks
// are those of str.splitlines (\n \r \r\n \v \f \x1c \x1d \x1e \x85 U+2028 U+2029) and whitespace that of
// str.strip (str.isspace). The texts are valid UTF-8, lone surrogates allowed (Python's "surrogatepass").
// Plain C functions, called through ctypes (lines.py).

#include <cstdint>
#include <cstring>
#include <vector>

namespace {

inline bool is_break(uint32_t c) {
  return (c >= 0x0A && c <= 0x0D) || (c >= 0x1C && c <= 0x1E) || c == 0x85 || c == 0x2028 || c == 0x2029;
}

inline bool is_space(uint32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

// The code point at p and its length in bytes.
inline int decode(const uint8_t* p, uint32_t* cp) {
  const uint8_t b = p[0];
  if (b < 0x80) {
    *cp = b;
    return 1;
  }
  if (b < 0xE0) {
    *cp = (uint32_t(b & 0x1F) << 6) | (p[1] & 0x3F);
    return 2;
  }
  if (b < 0xF0) {
    *cp = (uint32_t(b & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    return 3;
  }
  *cp = (uint32_t(b & 0x07) << 18) | (uint32_t(p[1] & 0x3F) << 12) | (uint32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
  return 4;
}

inline uint64_t hash_bytes(const uint8_t* p, int64_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ uint64_t(n);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
  }
  uint64_t w = 0;
  std::memcpy(&w, p + i, size_t(n - i));
  h = (h ^ w) * 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

struct Line {
  int64_t start, size, chars;  // stripped line: first byte, bytes, code points
  uint64_t hash;
};

// What a UTF-8 byte can be: a continuation byte, the start of a character that is neither a break nor a space,
// an ASCII break, an ASCII space, or the lead byte of a character that may be either (U+0085, U+1680, U+2000..).
enum : uint8_t { kMore, kChar, kBreak, kSpace, kCheck };

struct Classes {
  uint8_t of[256];
  Classes() {
    for (int b = 0; b < 256; ++b) {
      of[b] = b >= 0x80 && b < 0xC0 ? kMore : kChar;
      if (b < 0x80 && is_break(uint32_t(b))) of[b] = kBreak;
      else if (b < 0x80 && is_space(uint32_t(b))) of[b] = kSpace;
    }
    of[0xC2] = of[0xE1] = of[0xE2] = of[0xE3] = kCheck;
  }
};
const Classes kClasses;

// The stripped lines of text [p, end), one byte at a time: only the lead bytes of kCheck are decoded.
void split(const uint8_t* p, const uint8_t* end, std::vector<Line>* lines) {
  lines->clear();
  const uint8_t* base = p;
  while (p < end) {
    // One line: where its first non-space character starts and its last one ends, up to the break.
    const uint8_t* first = nullptr;
    const uint8_t* last_end = nullptr;
    int64_t cps = 0, first_cp = 0, last_cp = 0;
    bool in_char = false;  // inside a non-space character (its continuation bytes extend last_end)
    while (p < end) {
      const uint8_t k = kClasses.of[*p];
      if (k == kMore) {
        ++p;
        if (in_char) last_end = p;
        continue;
      }
      int size = 1;
      bool space = k == kSpace;
      if (k == kBreak) {
        p += (*p == 0x0D && p + 1 < end && p[1] == 0x0A) ? 2 : 1;
        goto line_end;
      }
      if (k == kCheck) {
        uint32_t c;
        size = decode(p, &c);
        if (is_break(c)) {
          p += size;
          goto line_end;
        }
        space = is_space(c);
      }
      if (space) {
        in_char = false;
      } else {
        if (first == nullptr) {
          first = p;
          first_cp = cps;
        }
        in_char = true;
        last_end = p + size;
        last_cp = cps + 1;
      }
      p += size;
      ++cps;
    }
  line_end:
    Line line{0, 0, 0, 0};
    if (first != nullptr) {
      line.start = first - base;
      line.size = last_end - first;
      line.chars = last_cp - first_cp;
    }
    line.hash = hash_bytes(base + line.start, line.size);
    lines->push_back(line);
  }
}

thread_local std::vector<int64_t> line_lengths;  // of the last gecko_line_stats on this thread

}  // namespace

extern "C" {

// Per text i of data[offsets[i]:offsets[i + 1]]: its lines, blank lines, distinct lines (a blank one included),
// the characters of its distinct lines and of all its lines. Returns the number of lines of all texts, whose
// lengths (text after text) gecko_line_lengths then copies out.
int64_t gecko_line_stats(const uint8_t* data, const int64_t* offsets, int64_t n, int64_t* count, int64_t* blanks,
                         int64_t* distinct, int64_t* distinct_chars, int64_t* total_chars) {
  std::vector<Line> lines;
  std::vector<int32_t> slots;  // open addressing over the lines of one text: index + 1, 0 empty
  std::vector<int64_t>& lengths = line_lengths;
  lengths.clear();
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* text = data + offsets[i];
    split(text, data + offsets[i + 1], &lines);
    const int64_t m = int64_t(lines.size());
    size_t cap = 16;
    while (cap < size_t(2 * m)) cap <<= 1;
    if (slots.size() < cap) slots.resize(cap);
    std::fill(slots.begin(), slots.begin() + cap, 0);
    int64_t nb = 0, nd = 0, dc = 0, tc = 0;
    for (int64_t j = 0; j < m; ++j) {
      const Line& line = lines[j];
      lengths.push_back(line.chars);
      tc += line.chars;
      nb += line.size == 0;
      size_t s = size_t(line.hash) & (cap - 1);
      while (true) {
        const int32_t k = slots[s];
        if (k == 0) {
          slots[s] = int32_t(j + 1);
          ++nd;
          dc += line.chars;
          break;
        }
        const Line& seen = lines[k - 1];
        if (seen.hash == line.hash && seen.size == line.size &&
            std::memcmp(text + seen.start, text + line.start, size_t(line.size)) == 0) {
          break;
        }
        s = (s + 1) & (cap - 1);
      }
    }
    count[i] = m;
    blanks[i] = nb;
    distinct[i] = nd;
    distinct_chars[i] = dc;
    total_chars[i] = tc;
  }
  return int64_t(lengths.size());
}

// The line lengths of this thread's last gecko_line_stats, into out (as many as it returned).
void gecko_line_lengths(int64_t* out) { std::memcpy(out, line_lengths.data(), line_lengths.size() * sizeof(int64_t)); }

}  // extern "C"
