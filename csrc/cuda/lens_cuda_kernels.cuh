// Lens CUDA kernels and their host-side launchers (C ABI in lens_cuda.h).
//
// Written against a deliberately small subset of CUDA (shared memory, __syncthreads,
// no warp shuffles / atomics / tensor cores) so that the very same text also compiles
// with csrc/cuda/emu/cuda_emu.h, which runs kernels on CPU threads: the index logic is
// then tested on machines without a GPU (tests/test_lens_ops_cuda_emu.py).
//
// Kernels launch through LK_LAUNCH; every kernel takes one argument struct.
#pragma once

#ifndef ATLAS_CUDA_EMU
#include <cuda_runtime.h>
#define LK_LAUNCH(grid, block, stream, arg, ...) \
  __VA_ARGS__<<<(grid), (block), 0, (stream)>>>(arg)
#endif

#include <math.h>

#include "lens_cuda.h"

namespace atlas_lens_cuda {

// 64x64 output tile per 256-thread block, 4x4 outputs per thread, k step 16.
constexpr int BM = 64, BN = 64, BK = 16, NTHREADS = 256;
// Rows per launch chunk: bounds the scratch memory (chunk x (H1 + H2) floats x 2).
// The emulation test shrinks it to exercise the chunk loop with small inputs.
#ifndef ATLAS_CUDA_ROW_CHUNK
#define ATLAS_CUDA_ROW_CHUNK 32768
#endif
constexpr long long ROW_CHUNK = ATLAS_CUDA_ROW_CHUNK;

enum AMode { A_MEM = 0, A_LANDSCAPE = 1 };
enum Epilogue { EPI_STORE = 0, EPI_BIAS_SILU = 1, EPI_DSILU = 2, EPI_COSDIST = 3 };

struct GemmArgs {
  int M, N, K;
  const float* A;  // A_MEM: M x K row-major (lda)
  long long lda;
  const float* B;  // B_NT: N x K row-major (torch Linear layout); else K x N
  long long ldb;
  float* C;  // M x N (ldc)
  long long ldc;
  const float* bias;  // EPI_BIAS_SILU: C = silu(acc + bias[n])
  float* pre;         //   optional: pre = acc + bias[n]  (ldc)
  const float* aux;   // EPI_DSILU: C = acc * silu'(aux[m, n])  (ldc)
  // A_LANDSCAPE: A[m, k] = silu(u[k] + s[g / T] p[k] + t[g % T] q[k]), g = row0 + m.
  const float *u, *p, *q, *s, *t;
  long long T, row0;
};

__device__ __forceinline__ float sigmoidf_(float z) { return 1.0f / (1.0f + expf(-z)); }
__device__ __forceinline__ float siluf_(float z) { return z * sigmoidf_(z); }
__device__ __forceinline__ float dsiluf_(float z) {
  const float sg = sigmoidf_(z);
  return sg * (1.0f + z * (1.0f - sg));
}
__device__ __forceinline__ float softplusf_(float s) {
  return fmaxf(s, 0.0f) + log1pf(expf(-fabsf(s)));
}

template <int AMODE>
__device__ __forceinline__ float load_a(const GemmArgs& g, int m, int k) {
  if (AMODE == A_MEM) return g.A[m * g.lda + k];
  const long long gi = g.row0 + m;
  const float z = g.u[k] + g.s[gi / g.T] * g.p[k] + g.t[gi % g.T] * g.q[k];
  return siluf_(z);
}

// C = epilogue(A * B). A tile and B tile go through shared memory; each thread owns
// rows ty + 16 i and columns tx + 16 j of the tile (i, j < 4).
template <int AMODE, bool B_NT, int EPI>
__global__ void __launch_bounds__(256) gemm_kernel(GemmArgs g) {
  __shared__ float As[BK][BM + 1];
  __shared__ float Bs[BK][BN + 1];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  float acc[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

  for (int k0 = 0; k0 < g.K; k0 += BK) {
    for (int l = 0; l < (BM * BK) / NTHREADS; ++l) {
      const int idx = tid + l * NTHREADS;
      const int r = idx / BK, c = idx % BK;  // consecutive threads walk along k
      const int m = m0 + r, k = k0 + c;
      As[c][r] = (m < g.M && k < g.K) ? load_a<AMODE>(g, m, k) : 0.0f;
    }
    for (int l = 0; l < (BN * BK) / NTHREADS; ++l) {
      const int idx = tid + l * NTHREADS;
      int kk, nn;
      if (B_NT) {  // B is N x K: walk along k for coalescing
        nn = idx / BK;
        kk = idx % BK;
      } else {  // B is K x N: walk along n
        kk = idx / BN;
        nn = idx % BN;
      }
      const int n = n0 + nn, k = k0 + kk;
      float v = 0.0f;
      if (n < g.N && k < g.K) v = B_NT ? g.B[n * g.ldb + k] : g.B[k * g.ldb + n];
      Bs[kk][nn] = v;
    }
    __syncthreads();
    for (int kk = 0; kk < BK; ++kk) {
      float a[4], b[4];
      for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i];
      for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx + 16 * j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }

  for (int i = 0; i < 4; ++i) {
    const int m = m0 + ty + 16 * i;
    if (m >= g.M) continue;
    for (int j = 0; j < 4; ++j) {
      const int n = n0 + tx + 16 * j;
      if (n >= g.N) continue;
      const long long o = m * g.ldc + n;
      const float v = acc[i][j];
      if (EPI == EPI_STORE) {
        g.C[o] = v;
      } else if (EPI == EPI_BIAS_SILU) {
        const float z = v + g.bias[n];
        if (g.pre) g.pre[o] = z;
        g.C[o] = siluf_(z);
      } else if (EPI == EPI_DSILU) {
        g.C[o] = v * dsiluf_(g.aux[o]);
      } else {  // EPI_COSDIST
        float d = 1.0f - v;
        d = d < 0.0f ? 0.0f : (d > 2.0f ? 2.0f : d);
        g.C[o] = (m == n) ? 0.0f : d;
      }
    }
  }
}

// Energies from layer-2 activations: 8 rows per 256-thread block, 32 threads per row
// sum h2 * w3 and reduce in shared memory. Optionally keeps sigmoid(s) for backward.
struct TailArgs {
  int M, H2;
  const float* h2;  // M x H2 activations
  const float* w3;
  float b3;
  float* e;    // M
  float* sig;  // optional, M
};

__global__ void __launch_bounds__(256) tail_kernel(TailArgs a) {
  __shared__ float red[8][33];
  const int lane = threadIdx.x % 32, rl = threadIdx.x / 32;
  const int m = blockIdx.x * 8 + rl;
  float acc = 0.0f;
  if (m < a.M)
    for (int j = lane; j < a.H2; j += 32) acc += a.h2[(long long)m * a.H2 + j] * a.w3[j];
  red[rl][lane] = acc;
  __syncthreads();
  for (int off = 16; off > 0; off >>= 1) {
    if (lane < off) red[rl][lane] += red[rl][lane + off];
    __syncthreads();
  }
  if (lane == 0 && m < a.M) {
    const float s = red[rl][0] + a.b3;
    a.e[m] = softplusf_(s);
    if (a.sig) a.sig[m] = sigmoidf_(s);
  }
}

// dZ2[m, j] = sig[m] * w3[j] * silu'(Z2pre[m, j]), written over Z2pre.
struct DZ2Args {
  long long total;
  int H2;
  float* z2;  // in: pre-activations, out: dZ2
  const float* sig;
  const float* w3;
};

__global__ void __launch_bounds__(256) dz2_kernel(DZ2Args a) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= a.total) return;
  const long long m = i / a.H2;
  const int j = (int)(i % a.H2);
  a.z2[i] = a.sig[m] * a.w3[j] * dsiluf_(a.z2[i]);
}

// upq = [W1 c + b1 | W1 a | W1 b]: 8 rows of W1 per block, 32 threads per row.
struct Gemv3Args {
  int H1, D;
  const float *W1, *b1, *c, *a, *b;
  float* upq;  // 3 x H1
};

__global__ void __launch_bounds__(256) gemv3_kernel(Gemv3Args g) {
  __shared__ float red[3][8][33];
  const int lane = threadIdx.x % 32, rl = threadIdx.x / 32;
  const int j = blockIdx.x * 8 + rl;
  float su = 0.0f, sp = 0.0f, sq = 0.0f;
  if (j < g.H1) {
    const float* w = g.W1 + (long long)j * g.D;
    for (int k = lane; k < g.D; k += 32) {
      su += w[k] * g.c[k];
      sp += w[k] * g.a[k];
      sq += w[k] * g.b[k];
    }
  }
  red[0][rl][lane] = su;
  red[1][rl][lane] = sp;
  red[2][rl][lane] = sq;
  __syncthreads();
  for (int off = 16; off > 0; off >>= 1) {
    if (lane < off) {
      red[0][rl][lane] += red[0][rl][lane + off];
      red[1][rl][lane] += red[1][rl][lane + off];
      red[2][rl][lane] += red[2][rl][lane + off];
    }
    __syncthreads();
  }
  if (lane == 0 && j < g.H1) {
    g.upq[j] = red[0][rl][0] + g.b1[j];
    g.upq[g.H1 + j] = red[1][rl][0];
    g.upq[2 * g.H1 + j] = red[2][rl][0];
  }
}

// xn[i] = x[i] / |x[i]| (zero rows stay zero): one block per row.
struct NormArgs {
  long long N;
  int D;
  const float* x;
  float* xn;
};

__global__ void __launch_bounds__(256) normalize_kernel(NormArgs a) {
  __shared__ float red[256];
  const long long i = blockIdx.x;
  const float* xi = a.x + i * a.D;
  float ss = 0.0f;
  for (int k = threadIdx.x; k < a.D; k += 256) ss += xi[k] * xi[k];
  red[threadIdx.x] = ss;
  __syncthreads();
  for (int off = 128; off > 0; off >>= 1) {
    if ((int)threadIdx.x < off) red[threadIdx.x] += red[threadIdx.x + off];
    __syncthreads();
  }
  const float tot = red[0];
  const float inv = tot > 0.0f ? 1.0f / sqrtf(tot) : 0.0f;
  for (int k = threadIdx.x; k < a.D; k += 256) a.xn[i * a.D + k] = xi[k] * inv;
}

// ---------------------------------------------------------------- host side
inline dim3 gemm_grid(int M, int N) { return dim3((N + BN - 1) / BN, (M + BM - 1) / BM); }

template <int AMODE, bool B_NT, int EPI>
cudaError_t launch_gemm(const GemmArgs& g, cudaStream_t st) {
  if (g.M <= 0 || g.N <= 0) return cudaSuccess;
  LK_LAUNCH(gemm_grid(g.M, g.N), dim3(NTHREADS), st, g, gemm_kernel<AMODE, B_NT, EPI>);
  return cudaGetLastError();
}

inline cudaError_t launch_tail(const TailArgs& a, cudaStream_t st) {
  if (a.M <= 0) return cudaSuccess;
  LK_LAUNCH(dim3((a.M + 7) / 8), dim3(256), st, a, tail_kernel);
  return cudaGetLastError();
}

// Selects `device` for the lifetime of the object, restoring the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    err_ = cudaGetDevice(&prev_);
    if (err_ == cudaSuccess && prev_ != device) {
      err_ = cudaSetDevice(device);
      switched_ = err_ == cudaSuccess;
    }
  }
  ~DeviceGuard() {
    if (switched_) cudaSetDevice(prev_);
  }
  cudaError_t error() const { return err_; }

 private:
  int prev_ = 0;
  bool switched_ = false;
  cudaError_t err_;
};

// Stream-ordered scratch memory (cudaMallocAsync); falls back to cudaMalloc on
// devices without memory pools (then freeing waits for the stream).
class Scratch {
 public:
  explicit Scratch(cudaStream_t st) : st_(st) {}
  ~Scratch() {
    if (!p_) return;
    if (async_) {
      cudaFreeAsync(p_, st_);
    } else {
      cudaStreamSynchronize(st_);
      cudaFree(p_);
    }
  }
  cudaError_t alloc(size_t nfloats) {
    if (nfloats == 0) nfloats = 1;
    cudaError_t e = cudaMallocAsync(&p_, nfloats * sizeof(float), st_);
    if (e == cudaSuccess) {
      async_ = true;
      return e;
    }
    cudaGetLastError();  // clear "not supported"
    p_ = nullptr;
    return cudaMalloc(&p_, nfloats * sizeof(float));
  }
  float* get() const { return static_cast<float*>(p_); }

 private:
  cudaStream_t st_;
  void* p_ = nullptr;
  bool async_ = false;
};

#define LK_TRY(expr)                          \
  do {                                        \
    cudaError_t e_ = (expr);                  \
    if (e_ != cudaSuccess) return (int)e_;    \
  } while (0)

// Layer 1 -> layer 2 for rows [0, m) of x; h1/h2 receive activations, z1/z2 the
// pre-activations when non-null (needed by the backward pass).
inline cudaError_t forward_rows(const atlas_lens_dev* L, const float* x, int m, float* h1,
                                float* z1, float* h2, float* z2, cudaStream_t st) {
  GemmArgs a = {};
  a.M = m;
  a.N = L->H1;
  a.K = L->D;
  a.A = x;
  a.lda = L->D;
  a.B = L->W1;
  a.ldb = L->D;
  a.C = h1;
  a.ldc = L->H1;
  a.bias = L->b1;
  a.pre = z1;
  cudaError_t e = launch_gemm<A_MEM, true, EPI_BIAS_SILU>(a, st);
  if (e != cudaSuccess) return e;
  GemmArgs b = {};
  b.M = m;
  b.N = L->H2;
  b.K = L->H1;
  b.A = h1;
  b.lda = L->H1;
  b.B = L->W2;
  b.ldb = L->H1;
  b.C = h2;
  b.ldc = L->H2;
  b.bias = L->b2;
  b.pre = z2;
  return launch_gemm<A_MEM, true, EPI_BIAS_SILU>(b, st);
}

}  // namespace atlas_lens_cuda

extern "C" int atlas_cuda_energy(const atlas_lens_dev* L, const float* x, long long N,
                                 float* e, int device, void* stream) {
  using namespace atlas_lens_cuda;
  if (N <= 0) return 0;
  DeviceGuard guard(device);
  LK_TRY(guard.error());
  cudaStream_t st = (cudaStream_t)stream;
  const long long chunk = N < ROW_CHUNK ? N : ROW_CHUNK;
  Scratch buf(st);
  LK_TRY(buf.alloc((size_t)chunk * (L->H1 + L->H2)));
  float* h1 = buf.get();
  float* h2 = h1 + chunk * L->H1;
  for (long long r0 = 0; r0 < N; r0 += chunk) {
    const int m = (int)(N - r0 < chunk ? N - r0 : chunk);
    LK_TRY(forward_rows(L, x + r0 * L->D, m, h1, nullptr, h2, nullptr, st));
    TailArgs t = {m, L->H2, h2, L->w3, L->b3, e + r0, nullptr};
    LK_TRY(launch_tail(t, st));
  }
  return 0;
}

extern "C" int atlas_cuda_energy_grad(const atlas_lens_dev* L, const float* x, long long N,
                                      float* e, float* g, int device, void* stream) {
  using namespace atlas_lens_cuda;
  if (N <= 0) return 0;
  DeviceGuard guard(device);
  LK_TRY(guard.error());
  cudaStream_t st = (cudaStream_t)stream;
  const long long chunk = N < ROW_CHUNK ? N : ROW_CHUNK;
  const int H1 = L->H1, H2 = L->H2, D = L->D;
  Scratch buf(st);
  LK_TRY(buf.alloc((size_t)chunk * (2 * H1 + 2 * H2 + 1)));
  float* h1 = buf.get();
  float* z1 = h1 + chunk * H1;
  float* h2 = z1 + chunk * H1;
  float* z2 = h2 + chunk * H2;
  float* sig = z2 + chunk * H2;
  for (long long r0 = 0; r0 < N; r0 += chunk) {
    const int m = (int)(N - r0 < chunk ? N - r0 : chunk);
    LK_TRY(forward_rows(L, x + r0 * D, m, h1, z1, h2, z2, st));
    TailArgs t = {m, H2, h2, L->w3, L->b3, e + r0, sig};
    LK_TRY(launch_tail(t, st));
    DZ2Args d = {(long long)m * H2, H2, z2, sig, L->w3};
    LK_LAUNCH(dim3((unsigned)((d.total + 255) / 256)), dim3(256), st, d, dz2_kernel);
    LK_TRY(cudaGetLastError());
    // dZ1 = (dZ2 W2) * silu'(Z1): B = W2 read as K x N = H2 x H1. Written into h1.
    GemmArgs b = {};
    b.M = m;
    b.N = H1;
    b.K = H2;
    b.A = z2;
    b.lda = H2;
    b.B = L->W2;
    b.ldb = H1;
    b.C = h1;
    b.ldc = H1;
    b.aux = z1;
    LK_TRY((launch_gemm<A_MEM, false, EPI_DSILU>(b, st)));
    // dX = dZ1 W1: B = W1 read as K x N = H1 x D.
    GemmArgs c = {};
    c.M = m;
    c.N = D;
    c.K = H1;
    c.A = h1;
    c.lda = H1;
    c.B = L->W1;
    c.ldb = D;
    c.C = g + r0 * D;
    c.ldc = D;
    LK_TRY((launch_gemm<A_MEM, false, EPI_STORE>(c, st)));
  }
  return 0;
}

extern "C" int atlas_cuda_landscape(const atlas_lens_dev* L, const float* c, const float* a,
                                    const float* b, const float* s_host, long long S,
                                    const float* t_host, long long T, float* out, int device,
                                    void* stream) {
  using namespace atlas_lens_cuda;
  const long long G = S * T;
  if (G <= 0) return 0;
  DeviceGuard guard(device);
  LK_TRY(guard.error());
  cudaStream_t st = (cudaStream_t)stream;
  const int H1 = L->H1, H2 = L->H2;
  const long long chunk = G < ROW_CHUNK ? G : ROW_CHUNK;
  Scratch buf(st);
  LK_TRY(buf.alloc((size_t)(3 * H1 + S + T + chunk * H2)));
  float* upq = buf.get();
  float* sd = upq + 3 * H1;
  float* td = sd + S;
  float* h2 = td + T;
  LK_TRY(cudaMemcpyAsync(sd, s_host, S * sizeof(float), cudaMemcpyHostToDevice, st));
  LK_TRY(cudaMemcpyAsync(td, t_host, T * sizeof(float), cudaMemcpyHostToDevice, st));
  Gemv3Args gv = {H1, L->D, L->W1, L->b1, c, a, b, upq};
  LK_LAUNCH(dim3((H1 + 7) / 8), dim3(256), st, gv, gemv3_kernel);
  LK_TRY(cudaGetLastError());
  for (long long r0 = 0; r0 < G; r0 += chunk) {
    const int m = (int)(G - r0 < chunk ? G - r0 : chunk);
    // Layer 2 with A generated on the fly: h1 of a grid point is never stored.
    GemmArgs g = {};
    g.M = m;
    g.N = H2;
    g.K = H1;
    g.B = L->W2;
    g.ldb = H1;
    g.C = h2;
    g.ldc = H2;
    g.bias = L->b2;
    g.u = upq;
    g.p = upq + H1;
    g.q = upq + 2 * H1;
    g.s = sd;
    g.t = td;
    g.T = T;
    g.row0 = r0;
    LK_TRY((launch_gemm<A_LANDSCAPE, true, EPI_BIAS_SILU>(g, st)));
    TailArgs t = {m, H2, h2, L->w3, L->b3, out + r0, nullptr};
    LK_TRY(launch_tail(t, st));
  }
  return 0;
}

extern "C" int atlas_cuda_pairwise_cosine(const float* x, long long N, int D, float* out,
                                          int device, void* stream) {
  using namespace atlas_lens_cuda;
  if (N <= 0) return 0;
  DeviceGuard guard(device);
  LK_TRY(guard.error());
  cudaStream_t st = (cudaStream_t)stream;
  Scratch buf(st);
  LK_TRY(buf.alloc((size_t)N * D));
  NormArgs na = {N, D, x, buf.get()};
  LK_LAUNCH(dim3((unsigned)N), dim3(256), st, na, normalize_kernel);
  LK_TRY(cudaGetLastError());
  GemmArgs g = {};
  g.M = (int)N;
  g.N = (int)N;
  g.K = D;
  g.A = buf.get();
  g.lda = D;
  g.B = buf.get();
  g.ldb = D;
  g.C = out;
  g.ldc = N;
  LK_TRY((launch_gemm<A_MEM, true, EPI_COSDIST>(g, st)));
  return 0;
}
