// The sampling key of each document of `gecko balance` (balance/core.py `doc_keys`): the first 8 bytes of
// BLAKE2b with an 8-byte digest (RFC 7693, no key) of a salt followed by the document's id, read as a
// little-endian integer; for every id of an Arrow string column. Plain C, called through ctypes.

#include <cstdint>
#include <cstring>

namespace {

constexpr uint64_t kIV[8] = {0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull,
                             0xa54ff53a5f1d36f1ull, 0x510e527fade682d1ull, 0x9b05688c2b3e6c1full,
                             0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull};
constexpr uint8_t kSigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

// The hash words of 8 messages side by side, one message per lane of vectors of 8 words (GCC's vector
// extensions: AVX-512 registers where the machine has them).
typedef uint64_t Lanes __attribute__((vector_size(64)));
constexpr int kLanes = 8;

template <int n>
inline Lanes rotr(Lanes x) { return (x >> n) | (x << (64 - n)); }

#define GECKO_MIX(a, b, c, d, x, y)          \
  v[a] = v[a] + v[b] + (x);                 \
  v[d] = rotr<32>(v[d] ^ v[a]);             \
  v[c] = v[c] + v[d];                       \
  v[b] = rotr<24>(v[b] ^ v[c]);             \
  v[a] = v[a] + v[b] + (y);                 \
  v[d] = rotr<16>(v[d] ^ v[a]);             \
  v[c] = v[c] + v[d];                       \
  v[b] = rotr<63>(v[b] ^ v[c]);

// The state before the first block: digest length 8, no key, fanout 1, depth 1.
inline void start(Lanes* h) {
  for (int i = 0; i < 8; ++i) h[i] = Lanes{} + kIV[i];
  h[0] ^= 0x01010000ull ^ 8;
}

// One 128-byte block of each lane's message (its words w in m[w]); `count` bytes hashed so far including this
// block; `last` for the final block.
void compress(Lanes* h, const Lanes* m, Lanes count, bool last) {
  Lanes v[16];
  for (int i = 0; i < 8; ++i) v[i] = h[i], v[i + 8] = Lanes{} + kIV[i];
  v[12] ^= count;
  if (last) v[14] = ~v[14];
#pragma GCC unroll 12
  for (int r = 0; r < 12; ++r) {
    const uint8_t* s = kSigma[r];
    GECKO_MIX(0, 4, 8, 12, m[s[0]], m[s[1]])
    GECKO_MIX(1, 5, 9, 13, m[s[2]], m[s[3]])
    GECKO_MIX(2, 6, 10, 14, m[s[4]], m[s[5]])
    GECKO_MIX(3, 7, 11, 15, m[s[6]], m[s[7]])
    GECKO_MIX(0, 5, 10, 15, m[s[8]], m[s[9]])
    GECKO_MIX(1, 6, 11, 12, m[s[10]], m[s[11]])
    GECKO_MIX(2, 7, 8, 13, m[s[12]], m[s[13]])
    GECKO_MIX(3, 4, 9, 14, m[s[14]], m[s[15]])
  }
  for (int i = 0; i < 8; ++i) h[i] ^= v[i] ^ v[i + 8];
}

#undef GECKO_MIX

// One message's block in every lane (the lanes then agree: a message longer than a block is hashed alone).
inline void broadcast(const uint8_t* block, Lanes* m) {
  uint64_t words[16];
  std::memcpy(words, block, 128);  // little-endian words (x86, ARM)
  for (int w = 0; w < 16; ++w) m[w] = Lanes{} + words[w];
}

}  // namespace

extern "C" {

// keys[i] = BLAKE2b-64(salt || data[starts[i]:ends[i]]) as a little-endian integer. Most salted ids fit in one
// block: those are hashed 8 at a time, one per lane; the others one by one.
void gecko_doc_keys(const uint8_t* salt, int64_t salt_size, const uint8_t* data, const int64_t* starts,
                    const int64_t* ends, int64_t n, uint64_t* keys) {
  Lanes h[8], m[16];
  // The messages of one block, 8 at a time: their blocks side by side, then word by word into the lanes.
  alignas(64) uint64_t blocks[kLanes][16];
  int64_t rows[kLanes];
  int lanes = 0;
  auto hash_lanes = [&]() {
    Lanes count = {};
    for (int k = lanes; k < kLanes; ++k) std::memset(blocks[k], 0, 128);  // (lanes left empty)
    for (int w = 0; w < 16; ++w) {
      for (int k = 0; k < kLanes; ++k) m[w][k] = blocks[k][w];
    }
    for (int k = 0; k < lanes; ++k) count[k] = uint64_t(salt_size + ends[rows[k]] - starts[rows[k]]);
    start(h);
    compress(h, m, count, true);
    for (int k = 0; k < lanes; ++k) keys[rows[k]] = h[0][k];
    lanes = 0;
  };
  uint8_t block[128];
  for (int64_t i = 0; i < n; ++i) {
    const int64_t total = salt_size + ends[i] - starts[i];
    if (total <= 128) {
      uint8_t* b = reinterpret_cast<uint8_t*>(blocks[lanes]);
      std::memcpy(b, salt, size_t(salt_size));
      std::memcpy(b + salt_size, data + starts[i], size_t(total - salt_size));
      std::memset(b + total, 0, size_t(128 - total));
      rows[lanes++] = i;
      if (lanes == kLanes) hash_lanes();
      continue;
    }
    start(h);
    const uint8_t* parts[2] = {salt, data + starts[i]};
    const int64_t sizes[2] = {salt_size, ends[i] - starts[i]};
    int64_t fill = 0, done = 0;  // bytes in `block`, bytes compressed
    for (int part = 0; part < 2; ++part) {
      const uint8_t* p = parts[part];
      int64_t left = sizes[part];
      while (left > 0) {
        if (fill == 128) {  // a full block with more to come: not the last
          done += 128;
          broadcast(block, m);
          compress(h, m, Lanes{} + uint64_t(done), false);
          fill = 0;
        }
        const int64_t take = left < 128 - fill ? left : 128 - fill;
        std::memcpy(block + fill, p, size_t(take));
        fill += take, p += take, left -= take;
      }
    }
    std::memset(block + fill, 0, size_t(128 - fill));
    broadcast(block, m);
    compress(h, m, Lanes{} + uint64_t(total), true);
    keys[i] = h[0][0];
  }
  if (lanes) hash_lanes();
}

}  // extern "C"
