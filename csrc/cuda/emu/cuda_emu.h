// Minimal CPU emulation of the CUDA subset used by lens_cuda_kernels.cuh.
//
// Test-only: lets tests/test_lens_ops_cuda_emu.py compile the real kernel text with g++
// and check its index arithmetic, tiling and reductions on a machine without a GPU.
// Model: one block at a time; its threads are real std::threads, __syncthreads is a
// std::barrier, and __shared__ variables become function-local statics (shared by the
// block's threads, reused by the next block, exactly like shared memory). "Device"
// memory is host memory.
#pragma once
#define ATLAS_CUDA_EMU 1

#include <barrier>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x, y, z;
};
inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline dim3 blockDim, gridDim;

typedef int cudaError_t;
constexpr cudaError_t cudaSuccess = 0;
constexpr cudaError_t cudaErrorMemoryAllocation = 2;
typedef void* cudaStream_t;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3
};

namespace atlas_emu {
inline std::barrier<>* g_barrier = nullptr;
inline long long g_launches = 0;

template <class F>
void launch(dim3 grid, dim3 block, F&& body) {
  const unsigned nt = block.x * block.y * block.z;
  blockDim = block;
  gridDim = grid;
  std::barrier<> bar(static_cast<std::ptrdiff_t>(nt));
  g_barrier = &bar;
  ++g_launches;
  std::vector<std::thread> threads;
  threads.reserve(nt);
  for (unsigned t = 0; t < nt; ++t) {
    threads.emplace_back([&, t] {
      threadIdx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
      for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
          for (unsigned bx = 0; bx < grid.x; ++bx) {
            blockIdx = {bx, by, bz};
            body();
            bar.arrive_and_wait();  // block boundary: shared statics get reused next
          }
    });
  }
  for (auto& th : threads) th.join();
  g_barrier = nullptr;
}
}  // namespace atlas_emu

inline void __syncthreads() { atlas_emu::g_barrier->arrive_and_wait(); }

inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t) { return "emulated error"; }
inline cudaError_t cudaMalloc(void** p, size_t n) {
  *p = std::malloc(n);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaMallocAsync(void** p, size_t n, cudaStream_t) {
  // Poison fresh scratch so kernels that read before writing give NaN, not luck.
  *p = std::malloc(n);
  if (!*p) return cudaErrorMemoryAllocation;
  std::memset(*p, 0xff, n);
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
inline cudaError_t cudaFreeAsync(void* p, cudaStream_t) { std::free(p); return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) {
  std::memcpy(d, s, n);
  return cudaSuccess;
}

#define LK_LAUNCH(grid, block, stream, arg, ...) \
  atlas_emu::launch((grid), (block), [&] { __VA_ARGS__(arg); })
