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

// Two lanes of 8 bytes, hashed apart then together: a lane's multiply waits for the one before it.
inline uint64_t hash_bytes(const uint8_t* p, int64_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ uint64_t(n), g = 0xD6E8FEB86659FD93ull;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    uint64_t v, w;
    std::memcpy(&v, p + i, 8);
    std::memcpy(&w, p + i + 8, 8);
    h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
    g = (g ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    g ^= g >> 32;
  }
  h ^= g * 0xBF58476D1CE4E5B9ull;
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

// The bytes that may start a line break: the ASCII breaks and the lead bytes of U+0085 (C2) and U+2028/9 (E2).
struct Stops {
  bool at[256];
  Stops() {
    for (int b = 0; b < 256; ++b) at[b] = b < 0x80 && is_break(uint32_t(b));
    at[0xC2] = at[0xE2] = true;
  }
};
const Stops kStops;

constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighs = 0x8080808080808080ull;

// Whether any byte of w is below 0x20 (a break is one of them), or is C2 or E2 (they lead U+0085, U+2028/9).
inline bool may_break(uint64_t w) {
  const uint64_t c2 = w ^ (kOnes * 0xC2), e2 = w ^ (kOnes * 0xE2);
  return (((w - kOnes * 0x20) & ~w) | ((c2 - kOnes) & ~c2) | ((e2 - kOnes) & ~e2)) & kHighs;
}

// The bytes of w that start a code point (are not continuation bytes 10xxxxxx).
inline int lead_bytes(uint64_t w) { return 8 - __builtin_popcountll(w & ~(w << 1) & kHighs); }

// The stripped lines of text [p, end). A line's break is looked for 8 bytes at a time (most words of 8 bytes
// hold none), counting the characters on the way; the line is then stripped by decoding its ends only, less
// the characters stripped; its characters are the bytes that are not continuation bytes.
void split(const uint8_t* p, const uint8_t* end, std::vector<Line>* lines) {
  lines->clear();
  const uint8_t* base = p;
  while (p < end) {
    const uint8_t* q = p;
    int brk = 0;  // bytes of the break at q (0 at the end of the text)
    int64_t chars = 0;  // code points of [p, q)
    for (;;) {
      while (q + 8 <= end) {
        uint64_t w;
        std::memcpy(&w, q, 8);
        if (may_break(w)) break;
        chars += lead_bytes(w);
        q += 8;
      }
      const uint8_t* stop = q + 8 <= end ? q + 8 : end;
      for (; q < stop; ++q) {
        if (kStops.at[*q]) {
          if (*q < 0x80) {
            brk = (*q == 0x0D && q + 1 < end && q[1] == 0x0A) ? 2 : 1;
            break;
          }
          if (*q == 0xC2 ? (q + 1 < end && q[1] == 0x85)
                         : (q + 2 < end && q[1] == 0x80 && (q[2] == 0xA8 || q[2] == 0xA9))) {
            brk = *q == 0xC2 ? 2 : 3;
            break;
          }
        }
        chars += (*q & 0xC0) != 0x80;
      }
      if (brk || q >= end) break;
    }
    const uint8_t* a = p;
    const uint8_t* z = q;
    uint32_t c;
    while (a < z) {
      const int n = decode(a, &c);
      if (!is_space(c)) break;
      a += n;
      --chars;
    }
    while (z > a) {
      const uint8_t* y = z - 1;
      while ((*y & 0xC0) == 0x80) --y;
      decode(y, &c);
      if (!is_space(c)) break;
      z = y;
      --chars;
    }
    lines->push_back(Line{a - base, z - a, chars, hash_bytes(a, z - a)});
    p = q + brk;
  }
}

inline bool same_line(const uint8_t* text, const Line& a, const Line& b) {
  return a.hash == b.hash && a.size == b.size && std::memcmp(text + a.start, text + b.start, size_t(a.size)) == 0;
}

// A paragraph: its non-blank lines, lines[first:first + count] (a paragraph's blank lines are at its ends).
struct Part {
  int64_t first, count, chars;
  uint64_t hash;
};

// The paragraphs of "\n".join(lines).split("\n\n"): a blank line with a line after it ends a paragraph, and
// the line after it starts the next one; any other line belongs to the current paragraph.
void paragraphs(const std::vector<Line>& lines, std::vector<Part>* parts) {
  parts->clear();
  const int64_t m = int64_t(lines.size());
  Part cur{0, 0, 0, 0};
  auto add = [&](int64_t j) {
    const Line& line = lines[j];
    if (line.size == 0) return;
    if (cur.count++ == 0) cur.first = j;
    cur.chars += line.chars;
    cur.hash = (cur.hash ^ line.hash) * 0xBF58476D1CE4E5B9ull + 0x9E3779B97F4A7C15ull;
  };
  auto close = [&]() {
    if (cur.count) cur.chars += cur.count - 1;  // the newlines between its lines
    parts->push_back(cur);
    cur = Part{0, 0, 0, 0};
  };
  if (m == 0) return;
  add(0);
  for (int64_t j = 1; j < m;) {
    if (lines[j].size == 0 && j + 1 < m) {
      close();
      add(j + 1);
      j += 2;
    } else {
      add(j++);
    }
  }
  close();
}

// Open addressing over the items of one text: find(j) is true when item j equals an earlier one, else it is
// remembered. Slots hold index + 1, 0 for empty.
template <class Same>
struct Distinct {
  std::vector<int32_t> slots;
  size_t mask = 0;
  void reset(int64_t items) {
    size_t cap = 16;
    while (cap < size_t(2 * items)) cap <<= 1;
    if (slots.size() < cap) slots.resize(cap);
    std::fill(slots.begin(), slots.begin() + cap, 0);
    mask = cap - 1;
  }
  bool seen(int64_t j, uint64_t hash, const Same& same) {
    for (size_t s = size_t(hash) & mask;; s = (s + 1) & mask) {
      const int32_t k = slots[s];
      if (k == 0) {
        slots[s] = int32_t(j + 1);
        return false;
      }
      if (same(k - 1, j)) return true;
    }
  }
};

thread_local std::vector<int64_t> line_lengths;  // of the last gecko_line_stats on this thread

// [p, end) without the whitespace at its ends (str.strip).
inline void strip(const uint8_t** p, const uint8_t** end) {
  uint32_t c;
  while (*p < *end) {
    const int n = decode(*p, &c);
    if (!is_space(c)) break;
    *p += n;
  }
  while (*end > *p) {
    const uint8_t* y = *end - 1;
    while (y > *p && (*y & 0xC0) == 0x80) --y;
    decode(y, &c);
    if (!is_space(c)) break;
    *end = y;
  }
}

int64_t line_stats(const uint8_t* data, const int64_t* starts, const int64_t* ends, bool stripped, int64_t n,
                   int64_t* count, int64_t* blanks, int64_t* distinct, int64_t* distinct_chars, int64_t* total_chars,
                   int64_t* par);

}  // namespace

extern "C" {

// Per text i of data[offsets[i]:offsets[i + 1]]: its lines, blank lines, distinct lines (a blank one included),
// the characters of its distinct lines and of all its lines; where a line repeats and a blank line exists (the
// only texts whose paragraphs can repeat), the non-empty paragraphs, the distinct ones, and their characters
// (0 elsewhere): par[4 * i .. 4 * i + 3]. Returns the number of lines of all texts, whose lengths (text after
// text) gecko_line_lengths then copies out.
int64_t gecko_line_stats(const uint8_t* data, const int64_t* offsets, int64_t n, int64_t* count, int64_t* blanks,
                         int64_t* distinct, int64_t* distinct_chars, int64_t* total_chars, int64_t* par) {
  return line_stats(data, offsets, offsets + 1, false, n, count, blanks, distinct, distinct_chars, total_chars, par);
}

// The same for the texts data[starts[i]:ends[i]] stripped of whitespace first (str.strip): the texts of an Arrow
// column, read in place.
int64_t gecko_line_stats_stripped(const uint8_t* data, const int64_t* starts, const int64_t* ends, int64_t n,
                                  int64_t* count, int64_t* blanks, int64_t* distinct, int64_t* distinct_chars,
                                  int64_t* total_chars, int64_t* par) {
  return line_stats(data, starts, ends, true, n, count, blanks, distinct, distinct_chars, total_chars, par);
}

// The line lengths of this thread's last gecko_line_stats, into out (as many as it returned).
void gecko_line_lengths(int64_t* out) { std::memcpy(out, line_lengths.data(), line_lengths.size() * sizeof(int64_t)); }

}  // extern "C"

namespace {

int64_t line_stats(const uint8_t* data, const int64_t* starts, const int64_t* ends, bool stripped, int64_t n,
                   int64_t* count, int64_t* blanks, int64_t* distinct, int64_t* distinct_chars, int64_t* total_chars,
                   int64_t* par) {
  std::vector<Line> lines;
  std::vector<Part> parts;
  const uint8_t* text = data;
  auto same_lines = [&](int64_t a, int64_t b) { return same_line(text, lines[a], lines[b]); };
  auto same_parts = [&](int64_t a, int64_t b) {
    const Part& x = parts[a];
    const Part& y = parts[b];
    if (x.hash != y.hash || x.count != y.count || x.chars != y.chars) return false;
    for (int64_t t = 0; t < x.count; ++t) {
      if (!same_line(text, lines[x.first + t], lines[y.first + t])) return false;
    }
    return true;
  };
  Distinct<decltype(same_lines)> line_set;
  Distinct<decltype(same_parts)> part_set;
  std::vector<int64_t>& lengths = line_lengths;
  lengths.clear();
  for (int64_t i = 0; i < n; ++i) {
    text = data + starts[i];
    const uint8_t* end = data + ends[i];
    if (stripped) strip(&text, &end);
    split(text, end, &lines);
    const int64_t m = int64_t(lines.size());
    line_set.reset(m);
    int64_t nb = 0, nd = 0, dc = 0, tc = 0;
    for (int64_t j = 0; j < m; ++j) {
      const Line& line = lines[j];
      lengths.push_back(line.chars);
      tc += line.chars;
      nb += line.size == 0;
      if (!line_set.seen(j, line.hash, same_lines)) {
        ++nd;
        dc += line.chars;
      }
    }
    count[i] = m;
    blanks[i] = nb;
    distinct[i] = nd;
    distinct_chars[i] = dc;
    total_chars[i] = tc;
    int64_t* p = par + 4 * i;
    p[0] = p[1] = p[2] = p[3] = 0;
    if (nb > 0 && m - nb - nd + 1 > 0) {  // a blank line, and a line that repeats
      paragraphs(lines, &parts);
      part_set.reset(int64_t(parts.size()));
      for (int64_t j = 0; j < int64_t(parts.size()); ++j) {
        const Part& part = parts[j];
        if (part.count == 0) continue;  // an empty paragraph: "" in Python's list
        ++p[0];
        p[2] += part.chars;
        if (!part_set.seen(j, part.hash, same_parts)) {
          ++p[1];
          p[3] += part.chars;
        }
      }
    }
  }
  return int64_t(lengths.size());
}

}  // namespace
