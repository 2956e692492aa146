// A stable argsort of 64-bit unsigned keys (balance's shuffle: the copies of documents in key order), by least
// significant digit radix sort: 11 bits a pass, a pass skipped where every key has the same digit. Plain C,
// called through ctypes.

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

extern "C" {

// order[0:n]: the positions of keys[0:n] sorted by key, equal keys in position order (numpy's
// argsort(keys, kind="stable")). scratch: room for n more int64.
void gecko_argsort_u64(const uint64_t* keys, int64_t n, int64_t* order, int64_t* scratch) {
  constexpr int kBits = 11;
  constexpr int kPasses = (64 + kBits - 1) / kBits;
  constexpr uint64_t kMask = (uint64_t(1) << kBits) - 1;
  std::vector<int64_t> counts(size_t(kPasses) << kBits, 0);
  for (int64_t i = 0; i < n; ++i) {  // every pass's histogram, in one read of the keys
    const uint64_t k = keys[i];
    for (int p = 0; p < kPasses; ++p) ++counts[(size_t(p) << kBits) + ((k >> (p * kBits)) & kMask)];
  }
  // The keys travel with their positions: each pass reads both in order and writes each pair once.
  std::vector<uint64_t> key_a(keys, keys + n), key_b(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  uint64_t* kfrom = key_a.data();
  uint64_t* kto = key_b.data();
  int64_t* from = order;
  int64_t* to = scratch;
  for (int p = 0; p < kPasses; ++p) {
    int64_t* c = counts.data() + (size_t(p) << kBits);
    const int shift = p * kBits;
    if (n == 0 || c[(keys[0] >> shift) & kMask] == n) continue;  // one digit for all: nothing moves
    int64_t sum = 0;
    for (uint64_t d = 0; d <= kMask; ++d) {
      const int64_t here = c[d];
      c[d] = sum;
      sum += here;
    }
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t k = kfrom[i];
      const int64_t to_at = c[(k >> shift) & kMask]++;
      kto[to_at] = k;
      to[to_at] = from[i];
    }
    std::swap(kfrom, kto);
    std::swap(from, to);
  }
  if (from != order) std::memcpy(order, from, size_t(n) * sizeof(int64_t));
}

}  // extern "C"
