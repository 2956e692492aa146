// Causal attention, forward only, for the CPU: the online-softmax (flash attention) recurrence of
// pretrain/attention.py's `_online`, fused so that a block of scores stays in cache from the dot product that
// makes it, through the softmax, to the dot product with the values. XLA's CPU backend runs each of those as its
// own operation over memory; on the `small` preset this kernel takes a third to a half of the time
// (benchmarks/bench_attention_cpu.py).
//
// q (B, T, H, D) and k, v (B, S, KV, D), float32, H a multiple of KV (grouped-query attention), D 64 or 128,
// S = T + P: the last T keys are the queries' own, the first P come before them (a cached prompt). Query t may
// attend to keys 0 .. P + t. With the attribute `segmented`, also only to keys whose segment id kseg (B, S) is
// its own qseg (B, T) or -1 (any query's); ids of queries are >= 0, so a key with id -2 is no query's.
// Output (B, T, H, D).
//
// Work is split by (row, head): each task packs its keys (transposed, in tiles of 64) and values once, then runs
// its query blocks; tasks go to XLA's intra-op thread pool and the calling thread. A task's arithmetic does not
// depend on which thread runs it, so results are the same bit for bit whatever the number of threads.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include <sched.h>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t i16 __attribute__((vector_size(64)));

constexpr int QB = 32;    // query rows per block
constexpr int KB = 128;   // keys per block
constexpr int TILE = 64;  // keys per tile of the packed, transposed keys
constexpr float NEG_INF = -std::numeric_limits<float>::infinity();

inline v16 load(const float* p) { v16 v; std::memcpy(&v, p, sizeof v); return v; }
inline i16 loadi(const int32_t* p) { i16 v; std::memcpy(&v, p, sizeof v); return v; }
inline void store(float* p, v16 v) { std::memcpy(p, &v, sizeof v); }
inline v16 splat(float x) { return v16{x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }
inline v16 vmax(v16 a, v16 b) { return a > b ? a : b; }
inline float hmax(v16 v) { float m = v[0]; for (int i = 1; i < 16; ++i) m = std::max(m, v[i]); return m; }
inline float hsum(v16 v) { float s = 0; for (int i = 0; i < 16; ++i) s += v[i]; return s; }

// Keeps a loaded vector in a register: otherwise the compiler folds its load into every FMA that reads it, and
// the micro-kernels below become bound by loads (measured: 41 instead of 29 ms at 2 x 1,536 tokens).
#if defined(__AVX512F__)
#define IN_REGISTER(x) asm("" : "+v"(x))
#else
#define IN_REGISTER(x) (void)0
#endif

// exp(x) for x <= 0: Cody-Waite reduction and Cephes' polynomial (within about 1 ulp); exactly 0 below -87.3,
// so a masked score (-inf) gets weight 0.
inline v16 vexp(v16 x) {
  const v16 lo = splat(-87.33654f);
  const i16 under = x < lo;
  x = under ? lo : x;
  const v16 t = x * 1.44269504088896341f + 12582912.0f;  // + 1.5 * 2^23 rounds x / ln 2 to an integer n
  const v16 n = t - 12582912.0f;
  v16 r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  v16 p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  i16 bits;
  std::memcpy(&bits, &t, sizeof t);
  bits = (bits - 0x4B400000 + 127) << 23;  // 2^n
  v16 scale;
  std::memcpy(&scale, &bits, sizeof bits);
  return under ? splat(0.0f) : p * scale;
}

struct Problem {
  const float *q, *k, *v;
  const int32_t *qseg, *kseg;  // null: causal only
  float* out;
  int64_t B, T, S, H, KV, D;
  float scale;
};

// Scores S[r][c .. c + 64) (row stride KB) of the QB rows of Q (row stride D) against one tile of 64 packed keys
// KT[d][0 .. 64): 4 rows x 64 keys at a time, 16 accumulators.
template <int D>
inline void scores_tile(const float* Q, const float* KT, float* S, int c) {
  for (int r = 0; r < QB; r += 4) {
    v16 a[4][4] = {};
    const float* q = Q + r * D;
    for (int d = 0; d < D; ++d) {
      const float* kt = KT + d * TILE;
      v16 k0 = load(kt), k1 = load(kt + 16), k2 = load(kt + 32), k3 = load(kt + 48);
      IN_REGISTER(k0); IN_REGISTER(k1); IN_REGISTER(k2); IN_REGISTER(k3);
      for (int i = 0; i < 4; ++i) {
        const v16 qi = splat(q[i * D + d]);
        a[i][0] += qi * k0; a[i][1] += qi * k1; a[i][2] += qi * k2; a[i][3] += qi * k3;
      }
    }
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) store(S + (r + i) * KB + c + 16 * j, a[i][j]);
  }
}

// O (QB x D) = O * alpha (per row) + P (QB x kw, row stride KB) . V (kw x D).
template <int D>
inline void values_tile(const float* S, const float* V, int kw, const float* alpha, float* O) {
  constexpr int R = D == 64 ? 4 : 2, NV = D / 16;
  for (int r = 0; r < QB; r += R) {
    v16 a[R][NV] = {};
    for (int j = 0; j < kw; ++j) {
      v16 vv[NV];
      for (int t = 0; t < NV; ++t) { vv[t] = load(V + j * D + 16 * t); IN_REGISTER(vv[t]); }
      for (int i = 0; i < R; ++i) {
        const v16 p = splat(S[(r + i) * KB + j]);
        for (int t = 0; t < NV; ++t) a[i][t] += p * vv[t];
      }
    }
    for (int i = 0; i < R; ++i)
      for (int t = 0; t < NV; ++t) {
        float* o = O + (r + i) * D + 16 * t;
        store(o, load(o) * alpha[r + i] + a[i][t]);
      }
  }
}

// Row b, head h: every query block, meeting the key blocks from the first to the one holding its last row.
template <int D>
void one_head(const Problem& P, int64_t b, int64_t h, std::vector<float>& buf, std::vector<int32_t>& segbuf) {
  const int64_t T = P.T, S_ = P.S, offset = S_ - T, tp = (S_ + KB - 1) / KB * KB, kvh = h / (P.H / P.KV);
  buf.assign(2 * D * tp + 2 * QB * D + QB * KB + 3 * QB, 0.0f);  // keys and values past S stay 0
  float *KT = buf.data(), *V = KT + D * tp, *Q = V + D * tp, *O = Q + QB * D, *S = O + QB * D;
  float *m = S + QB * KB, *l = m + QB, *alpha = l + QB;  // running row maximum, denominator, rescale
  const int64_t kstride = P.KV * D;
  const float* k = P.k + (b * S_ * P.KV + kvh) * D;
  const float* v = P.v + (b * S_ * P.KV + kvh) * D;
  for (int64_t j = 0; j < S_; ++j) {
    const float* kj = k + j * kstride;
    float* kt = KT + (j / TILE) * (D * TILE) + j % TILE;
    for (int d = 0; d < D; ++d) kt[d * TILE] = kj[d];
    std::memcpy(V + j * D, v + j * kstride, D * sizeof(float));
  }
  const int32_t* kseg = nullptr;
  if (P.kseg) {  // past S: no query's
    segbuf.assign(tp, -2);
    std::copy(P.kseg + b * S_, P.kseg + (b + 1) * S_, segbuf.begin());
    kseg = segbuf.data();
  }
  const i16 anyone = i16{} - 1;
  const i16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  for (int64_t q0 = 0; q0 < T; q0 += QB) {
    const int rows = static_cast<int>(std::min<int64_t>(QB, T - q0));
    for (int r = 0; r < QB; ++r) {
      float* qr = Q + r * D;
      if (r < rows) std::memcpy(qr, P.q + ((b * T + q0 + r) * P.H + h) * D, D * sizeof(float));
      else std::fill(qr, qr + D, 0.0f);
    }
    std::fill(O, O + QB * D, 0.0f);
    std::fill(m, m + QB, NEG_INF);
    std::fill(l, l + QB, 0.0f);
    const int64_t end = offset + q0 + rows;  // the keys at or before the block's last row
    for (int64_t k0 = 0; k0 < end; k0 += KB) {
      const int kw = static_cast<int>(std::min<int64_t>(KB, end - k0));
      const int width = (kw + TILE - 1) / TILE * TILE;
      for (int c = 0; c < width; c += TILE) scores_tile<D>(Q, KT + ((k0 + c) / TILE) * (D * TILE), S, c);
      const bool diagonal = k0 + width > offset + q0;  // some keys lie after some rows
      for (int r = 0; r < QB; ++r) {
        float* s = S + r * KB;
        if (r >= rows) {  // past the sequence: weight 0
          std::fill(s, s + width, 0.0f);
          alpha[r] = 0.0f;
          continue;
        }
        const int64_t row = offset + q0 + r;  // the row's own key
        const int32_t own = kseg ? P.qseg[b * T + q0 + r] : 0;
        v16 top16 = splat(NEG_INF);
        for (int c = 0; c < width; c += 16) {
          v16 x = load(s + c) * P.scale;
          if (diagonal) x = iota + static_cast<int32_t>(k0 + c) > static_cast<int32_t>(row) ? splat(NEG_INF) : x;
          if (kseg) {
            const i16 ks = loadi(kseg + k0 + c);
            x = (ks != own) & (ks != anyone) ? splat(NEG_INF) : x;
          }
          store(s + c, x);
          top16 = vmax(top16, x);
        }
        const float top = std::max(m[r], hmax(top16));
        if (top == NEG_INF) {  // no key of the row's segment yet (padding before it): nothing to add
          std::fill(s, s + width, 0.0f);
          alpha[r] = 1.0f;
          continue;
        }
        v16 sum = splat(0.0f);
        for (int c = 0; c < width; c += 16) {
          const v16 p = vexp(load(s + c) - top);
          store(s + c, p);
          sum += p;
        }
        alpha[r] = m[r] == NEG_INF ? 0.0f : std::exp(m[r] - top);
        l[r] = l[r] * alpha[r] + hsum(sum);
        m[r] = top;
      }
      values_tile<D>(S, V + k0 * D, kw, alpha, O);
    }
    for (int r = 0; r < rows; ++r) {
      float* o = P.out + ((b * T + q0 + r) * P.H + h) * D;
      const float inv = 1.0f / l[r];
      for (int d = 0; d < D; ++d) o[d] = O[r * D + d] * inv;
    }
  }
}

void run_task(const Problem& P, int64_t i) {
  thread_local std::vector<float> buf;
  thread_local std::vector<int32_t> segbuf;
  if (P.D == 64) one_head<64>(P, i / P.H, i % P.H, buf, segbuf);
  else one_head<128>(P, i / P.H, i % P.H, buf, segbuf);
}

// Threads to use: GECKO_KERNEL_THREADS when set (tests compare 1 and 2), else the CPUs this process may run on.
int64_t threads() {
  if (const char* e = std::getenv("GECKO_KERNEL_THREADS")) {
    const long n = std::strtol(e, nullptr, 10);
    if (n > 0) return n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

struct Progress {
  std::atomic<int64_t> next{0}, done{0};
};

ffi::Error Attention(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> q, ffi::Buffer<ffi::F32> k,
                     ffi::Buffer<ffi::F32> v, ffi::Buffer<ffi::S32> qseg, ffi::Buffer<ffi::S32> kseg,
                     ffi::ResultBuffer<ffi::F32> out, bool segmented) {
  const auto qd = q.dimensions(), kd = k.dimensions(), vd = v.dimensions();
  if (qd.size() != 4 || kd.size() != 4 || vd.size() != 4)
    return ffi::Error::InvalidArgument("gecko attention: q, k and v must be 4-D");
  const Problem P{q.typed_data(), k.typed_data(), v.typed_data(), segmented ? qseg.typed_data() : nullptr,
                  segmented ? kseg.typed_data() : nullptr, out->typed_data(), qd[0], qd[1], kd[1], qd[2], kd[2],
                  qd[3], 1.0f / std::sqrt(static_cast<float>(qd[3]))};
  if (P.D != 64 && P.D != 128) return ffi::Error::InvalidArgument("gecko attention: head size must be 64 or 128");
  if (P.KV <= 0 || P.H % P.KV || kd[0] != P.B || kd[1] < P.T || kd[3] != P.D)
    return ffi::Error::InvalidArgument("gecko attention: k and v must be (B, S >= T, KV, D) with KV dividing H");
  if (segmented && (qseg.element_count() != P.B * P.T || kseg.element_count() != P.B * P.S))
    return ffi::Error::InvalidArgument("gecko attention: segment ids must be (B, T) and (B, S)");
  for (int i = 0; i < 4; ++i)
    if (vd[i] != kd[i]) return ffi::Error::InvalidArgument("gecko attention: k and v differ in shape");
  const int64_t n = P.B * P.H;
  auto progress = std::make_shared<Progress>();
  auto work = [progress, P, n]() {
    for (int64_t i; (i = progress->next.fetch_add(1)) < n;) {
      run_task(P, i);
      progress->done.fetch_add(1, std::memory_order_release);
    }
  };
  // Helpers that start after the tasks ran out find none left and return; only `progress` outlives the call.
  for (int64_t i = 1; i < std::min(threads(), n); ++i) pool.Schedule(decltype(work)(work));
  work();
  while (progress->done.load(std::memory_order_acquire) < n) std::this_thread::yield();
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(GeckoAttention, Attention,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<bool>("segmented"));
