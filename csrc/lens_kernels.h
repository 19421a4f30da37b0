// Lens CPU kernels: packed weight layout and the per-ISA kernel table.
//
// Layout. Every right-hand matrix of a product is stored "packed": split into panels of
// NR = 16 output columns, each panel K-major (panel p, row k holds 16 consecutive
// floats), zero-padded to a multiple of 16 columns. The micro-kernel then reads one
// contiguous 64-byte row of B per k, and padding never needs a special case.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace atlas_lens {

constexpr int64_t NR = 16;
inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// 64-byte aligned, zero-initialised float buffer (owned).
class AlignedBuf {
 public:
  AlignedBuf() = default;
  explicit AlignedBuf(size_t n);
  ~AlignedBuf();
  AlignedBuf(const AlignedBuf&) = delete;
  AlignedBuf& operator=(const AlignedBuf&) = delete;
  AlignedBuf(AlignedBuf&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
  AlignedBuf& operator=(AlignedBuf&& o) noexcept;
  float* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  float* p_ = nullptr;
  size_t n_ = 0;
};

// A lens prepared for the CPU kernels (built once per Lens, cached on the Python side).
struct PackedLens {
  int64_t D = 0, H1 = 0, H2 = 0;   // true sizes
  int64_t H1p = 0, H2p = 0, Dp = 0;  // rounded up to NR
  AlignedBuf W1p;  // W1 (H1 x D) as panels over H1: [H1p/16][D][16]
  AlignedBuf b1p;  // H1p, zero padded
  AlignedBuf W2p;  // W2 (H2 x H1) as panels over H2: [H2p/16][H1][16]
  AlignedBuf b2p, w3p;  // H2p, zero padded
  float b3 = 0.f;
  // Backward packs, built on the first gradient call only.
  std::once_flag bwd_once;
  AlignedBuf W2t;  // W2 read as (K=H2) x (H1 columns): [H1p/16][H2][16]
  AlignedBuf W1t;  // W1 read as (K=H1) x (D columns):  [Dp/16][H1][16]
};

// W (nout x K, row-major) -> panels over nout: dst[p][k][c] = W[p*16+c][k].
void pack_nt(const float* W, int64_t nout, int64_t K, float* dst);
void prepare_lens(PackedLens& P, int64_t D, int64_t H1, int64_t H2, const float* W1,
                  const float* b1, const float* W2, const float* b2, const float* w3,
                  float b3);
void ensure_backward(PackedLens& P);

struct KernelTable {
  const char* name;
  void (*energy)(const PackedLens& P, const float* x, int64_t N, float* e);
  void (*energy_grad)(const PackedLens& P, const float* x, int64_t N, float* e, float* g);
  void (*landscape)(const PackedLens& P, const float* c, const float* a, const float* b,
                    const float* s, int64_t S, const float* t, int64_t T, float* out);
  void (*pairwise_cosine)(const float* x, int64_t N, int64_t D, float* out);
};

namespace base { extern const KernelTable table; }
#if defined(ATLAS_HAVE_AVX2_TU)
namespace avx2 { extern const KernelTable table; }
#endif

// Active table: AVX2+FMA when the running CPU has it, else the baseline build.
const KernelTable& kernels();
// Force "baseline", "avx2" or "auto"; returns false if the request is unavailable.
bool select_kernels(const char* name);

}  // namespace atlas_lens
