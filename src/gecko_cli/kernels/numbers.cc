// Which texts of an Arrow string array may hold a number that personal-data scrubbing replaces
// (balance/pii.py): a run of a byte of "0123456789+(" and 8 more of "0123456789 ().+-", which every match of
// pii._RUN starts with; and the matches of pii._RUN themselves. Those characters are ASCII, one byte each, and
// no byte of another character is one of them, so the bytes match exactly where the text's characters do.
// Plain C, called through ctypes.

#include <cstdint>

namespace {

struct Sets {
  bool run[256] = {};
  bool first[256] = {};
  bool body[256] = {};   // "0123456789().+-": a run's characters but the space
  bool after_space[256] = {};  // "0123456789(": what may follow a space inside a run
  Sets() {
    for (const char* c = "0123456789 ().+-"; *c; ++c) run[uint8_t(*c)] = true;
    for (const char* c = "0123456789+("; *c; ++c) first[uint8_t(*c)] = true;
    for (const char* c = "0123456789().+-"; *c; ++c) body[uint8_t(*c)] = true;
    for (const char* c = "0123456789("; *c; ++c) after_space[uint8_t(*c)] = true;
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

// The matches of pii._RUN, r"[0-9+(](?=[0-9 ().+-]{8})(?:[0-9().+-]++| (?=[0-9(]))++", in each text
// data[starts[i]:ends[i]], found as re.finditer finds them, that pii._candidates does not drop at once: a run of
// digits only of 9 to 19 (pii._bare judges it), or a run with separators and 8 digits or more (which
// pii._NUMBER searches). Writes each one's text, start and end (in characters of the text); returns how
// many, or -1 when there are more than `capacity` (nothing is then complete).
int64_t gecko_number_run_spans(const uint8_t* data, const int64_t* starts, const int64_t* ends, int64_t n,
                               int64_t* out_text, int64_t* out_start, int64_t* out_end, int64_t capacity) {
  int64_t found = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* text = data + starts[i];
    const int64_t size = ends[i] - starts[i];
    int64_t continuation = 0;  // continuation bytes before p: p - continuation is p in characters
    for (int64_t p = 0; p < size;) {
      const uint8_t b = text[p];
      if (!kSets.first[b] || p + 9 > size) {
        continuation += (b & 0xC0) == 0x80;
        ++p;
        continue;
      }
      bool ahead = true;  // (?=[0-9 ().+-]{8})
      for (int64_t k = p + 1; k <= p + 8; ++k) ahead &= kSets.run[text[k]];
      int64_t q = p + 1;
      bool grew = false;
      while (ahead) {  // (?:[0-9().+-]++| (?=[0-9(]))++, each step as long as it goes
        if (q < size && kSets.body[text[q]]) {
          while (q < size && kSets.body[text[q]]) ++q;
        } else if (q + 1 < size && text[q] == ' ' && kSets.after_space[text[q + 1]]) {
          ++q;
        } else {
          break;
        }
        grew = true;
      }
      if (!grew) {  // no match here: the next position (an ASCII byte, no continuation)
        ++p;
        continue;
      }
      int64_t digits = 0;
      for (int64_t k = p; k < q; ++k) digits += text[k] >= '0' && text[k] <= '9';
      const int64_t length = q - p;
      if (digits == length ? length >= 9 && length <= 19 : digits >= 8) {
        if (found == capacity) return -1;
        out_text[found] = i;
        out_start[found] = p - continuation;
        out_end[found] = q - continuation;
        ++found;
      }
      p = q;  // the match is ASCII: no continuation byte in it
    }
  }
  return found;
}

}  // extern "C"
