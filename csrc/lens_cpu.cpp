// Weight packing and runtime choice of the kernel build (ISA dispatch).
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "lens_kernels.h"

namespace atlas_lens {

AlignedBuf::AlignedBuf(size_t n) : n_(n) {
  if (n == 0) return;
  const size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  void* p = nullptr;
  if (posix_memalign(&p, 64, bytes) != 0) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  p_ = static_cast<float*>(p);
}
AlignedBuf::~AlignedBuf() { std::free(p_); }
AlignedBuf& AlignedBuf::operator=(AlignedBuf&& o) noexcept {
  if (this != &o) {
    std::free(p_);
    p_ = o.p_;
    n_ = o.n_;
    o.p_ = nullptr;
    o.n_ = 0;
  }
  return *this;
}

void pack_nt(const float* W, int64_t nout, int64_t K, float* dst) {
  const int64_t np = round_up(nout, NR) / NR;
  for (int64_t p = 0; p < np; ++p) {
    float* panel = dst + p * K * NR;
    for (int64_t c = 0; c < NR; ++c) {
      const int64_t row = p * NR + c;
      if (row < nout) {
        const float* src = W + row * K;
        for (int64_t k = 0; k < K; ++k) panel[k * NR + c] = src[k];
      } else {
        for (int64_t k = 0; k < K; ++k) panel[k * NR + c] = 0.0f;
      }
    }
  }
}

void prepare_lens(PackedLens& P, int64_t D, int64_t H1, int64_t H2, const float* W1,
                  const float* b1, const float* W2, const float* b2, const float* w3,
                  float b3) {
  P.D = D;
  P.H1 = H1;
  P.H2 = H2;
  P.H1p = round_up(H1, NR);
  P.H2p = round_up(H2, NR);
  P.Dp = round_up(D, NR);
  P.W1p = AlignedBuf(static_cast<size_t>(P.H1p * D));
  pack_nt(W1, H1, D, P.W1p.data());
  P.b1p = AlignedBuf(static_cast<size_t>(P.H1p));
  std::memcpy(P.b1p.data(), b1, sizeof(float) * H1);
  P.W2p = AlignedBuf(static_cast<size_t>(P.H2p * H1));
  pack_nt(W2, H2, H1, P.W2p.data());
  P.b2p = AlignedBuf(static_cast<size_t>(P.H2p));
  std::memcpy(P.b2p.data(), b2, sizeof(float) * H2);
  P.w3p = AlignedBuf(static_cast<size_t>(P.H2p));
  std::memcpy(P.w3p.data(), w3, sizeof(float) * H2);
  P.b3 = b3;
}

// The backward products read W2 and W1 "the other way round"; build those packs from
// the forward packs the first time a gradient is asked for.
void ensure_backward(PackedLens& P) {
  std::call_once(P.bwd_once, [&P] {
    const int64_t D = P.D, H1 = P.H1, H2 = P.H2;
    AlignedBuf w2t(static_cast<size_t>(P.H1p * H2));
    const float* w2p = P.W2p.data();
    for (int64_t p = 0; p < P.H1p / NR; ++p)
      for (int64_t k = 0; k < H2; ++k)
        for (int64_t c = 0; c < NR; ++c) {
          const int64_t j = p * NR + c;  // column of W2 (index into H1)
          w2t.data()[(p * H2 + k) * NR + c] =
              j < H1 ? w2p[((k / NR) * H1 + j) * NR + k % NR] : 0.0f;
        }
    AlignedBuf w1t(static_cast<size_t>(P.Dp * H1));
    const float* w1p = P.W1p.data();
    for (int64_t p = 0; p < P.Dp / NR; ++p)
      for (int64_t k = 0; k < H1; ++k)
        for (int64_t c = 0; c < NR; ++c) {
          const int64_t d = p * NR + c;  // column of W1 (index into D)
          w1t.data()[(p * H1 + k) * NR + c] =
              d < D ? w1p[((k / NR) * D + d) * NR + k % NR] : 0.0f;
        }
    P.W2t = std::move(w2t);
    P.W1t = std::move(w1t);
  });
}

namespace {

bool cpu_has_avx2_fma() {
#if defined(ATLAS_HAVE_AVX2_TU)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

const KernelTable* auto_table() {
#if defined(ATLAS_HAVE_AVX2_TU)
  if (cpu_has_avx2_fma()) return &avx2::table;
#endif
  return &base::table;
}

const KernelTable* initial_table() {
  const char* env = std::getenv("ATLAS_LENS_SIMD");  // "baseline" forces the fallback
  if (env && std::strcmp(env, "baseline") == 0) return &base::table;
  return auto_table();
}

std::atomic<const KernelTable*> g_table{nullptr};

}  // namespace

const KernelTable& kernels() {
  const KernelTable* t = g_table.load(std::memory_order_acquire);
  if (!t) {
    t = initial_table();
    g_table.store(t, std::memory_order_release);
  }
  return *t;
}

bool select_kernels(const char* name) {
  const KernelTable* t = nullptr;
  if (std::strcmp(name, "auto") == 0) {
    t = auto_table();
  } else if (std::strcmp(name, "baseline") == 0) {
    t = &base::table;
  } else if (std::strcmp(name, "avx2") == 0 || std::strcmp(name, "avx2+fma") == 0) {
#if defined(ATLAS_HAVE_AVX2_TU)
    if (cpu_has_avx2_fma()) t = &avx2::table;
#endif
  }
  if (!t) return false;
  g_table.store(t, std::memory_order_release);
  return true;
}

}  // namespace atlas_lens
