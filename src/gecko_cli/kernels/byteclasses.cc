// Per text of an Arrow string column, how many of its bytes are in each of a few classes (up to 8), and the
// longest run of bytes of the first class (balance/rules.py: base64 runs, backslashes and digits of data
// literals), or the bytes in its long runs of one class (the base64 runs themselves); or whether it holds each
// of a few bytes (balance/langid.py: line breaks), found by memchr; or how often it holds a string of bytes
// (balance/rules.py: "..."), found by memchr and memcmp. Plain C, called through ctypes.

#include <cstdint>
#include <cstring>

extern "C" {

// counts[i * k + c]: the bytes of text i, data[starts[i]:ends[i]], in class c (bit c of classes[byte]);
// longest[i]: the longest run of bytes of class 0 in it.
void gecko_byte_classes(const uint8_t* data, const int64_t* starts, const int64_t* ends, int64_t n,
                        const uint8_t* classes, int64_t k, int64_t* counts, int64_t* longest) {
  // Counted 8 classes at once: a byte adds 1 to the 8-bit lane of each of its classes in a 64-bit word, whose
  // lanes are added up every 255 bytes (before one can overflow).
  uint64_t lanes[256];
  for (int b = 0; b < 256; ++b) {
    lanes[b] = 0;
    for (int c = 0; c < 8; ++c) lanes[b] |= uint64_t(classes[b] >> c & 1) << (8 * c);
  }
  for (int64_t i = 0; i < n; ++i) {
    int64_t total[8] = {}, run = 0, best = 0;
    const uint8_t* p = data + starts[i];
    const uint8_t* end = data + ends[i];
    while (p < end) {
      const uint8_t* stop = end - p > 255 ? p + 255 : end;
      uint64_t acc = 0;
      for (; p < stop; ++p) {
        acc += lanes[*p];
        run = (run + 1) & -int64_t(classes[*p] & 1);  // the run of class 0, without a branch
        best = best > run ? best : run;
      }
      for (int c = 0; c < 8; ++c) total[c] += (acc >> (8 * c)) & 0xFF;
    }
    longest[i] = best;
    for (int64_t c = 0; c < k; ++c) counts[i * k + c] = total[c];
  }
}

// runs[i]: the bytes of text i, data[starts[i]:ends[i]], in its runs of at least min_run bytes of class 0 (bit 0
// of classes[byte]), each with up to max_tail bytes equal to tail that follow it; as Python's
// sum(map(len, re.findall("(?<![C])[C]{min_run,}T{0,max_tail}", text))) with C the class and T the tail byte
// (balance/rules.py: base64 runs and their "=" padding), when the tail byte is not in the class.
void gecko_long_runs(const uint8_t* data, const int64_t* starts, const int64_t* ends, int64_t n,
                     const uint8_t* classes, int64_t min_run, uint8_t tail, int64_t max_tail, int64_t* runs) {
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* p = data + starts[i];
    const uint8_t* end = data + ends[i];
    int64_t total = 0;
    while (p < end) {
      if (!(classes[*p] & 1)) {
        ++p;
        continue;
      }
      const uint8_t* run = p;
      while (p < end && (classes[*p] & 1)) ++p;
      if (p - run >= min_run) {
        int64_t padding = 0;
        while (padding < max_tail && p < end && *p == tail) ++p, ++padding;
        total += (p - run);
      }
    }
    runs[i] = total;
  }
}

// found[i * k + c]: whether text i, data[starts[i]:ends[i]], holds the byte needles[c].
void gecko_bytes_found(const uint8_t* data, const int64_t* starts, const int64_t* ends, int64_t n,
                       const uint8_t* needles, int64_t k, uint8_t* found) {
  for (int64_t i = 0; i < n; ++i) {
    const size_t size = size_t(ends[i] - starts[i]);
    for (int64_t c = 0; c < k; ++c) found[i * k + c] = std::memchr(data + starts[i], needles[c], size) != nullptr;
  }
}

// counts[i]: the non-overlapping occurrences of needle[0:m] (m >= 1) in text i, data[starts[i]:ends[i]],
// found from left to right, as Python's str.count; with limit > 0, at most limit of them.
void gecko_substring_counts(const uint8_t* data, const int64_t* starts, const int64_t* ends, int64_t n,
                            const uint8_t* needle, int64_t m, int64_t limit, int64_t* counts) {
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* p = data + starts[i];
    const uint8_t* end = data + ends[i];
    int64_t count = 0;
    // memchr to the next first byte, then compare the rest: the first bytes searched for ('.', '`', ':', the
    // lead byte of U+2026) are rare enough that this beats glibc's memmem about threefold on text.
    while (end - p >= m && (limit <= 0 || count < limit)) {
      const uint8_t* hit = static_cast<const uint8_t*>(std::memchr(p, needle[0], size_t(end - p - m + 1)));
      if (hit == nullptr) break;
      if (std::memcmp(hit + 1, needle + 1, size_t(m - 1)) == 0) {
        ++count;
        p = hit + m;
      } else {
        p = hit + 1;
      }
    }
    counts[i] = count;
  }
}

}  // extern "C"
