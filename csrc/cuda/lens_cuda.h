/* C interface of the Lens CUDA kernels (csrc/cuda/lens_cuda.cu).
 *
 * All tensor pointers are device pointers (float32, C-contiguous) unless a parameter
 * says "host". Every call returns a cudaError_t value (0 = success), names the device
 * it runs on, and enqueues its work on `stream` (a cudaStream_t; 0 = legacy default)
 * without synchronising, so callers keep the stream semantics of torch / CuPy. */
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct atlas_lens_dev {
  const float* W1; /* H1 x D  */
  const float* b1; /* H1      */
  const float* W2; /* H2 x H1 */
  const float* b2; /* H2      */
  const float* w3; /* H2      */
  float b3;
  int D, H1, H2;
} atlas_lens_dev;

/* Runtime queries and memory helpers (not available in the CPU emulation build). */
int atlas_cuda_device_count(int* count);
const char* atlas_cuda_error_string(int err);
int atlas_cuda_malloc(void** ptr, size_t nbytes, int device);
int atlas_cuda_free(void* ptr, int device);
int atlas_cuda_memcpy_htod(void* dst, const void* src_host, size_t nbytes, int device);
int atlas_cuda_memcpy_dtoh(void* dst_host, const void* src, size_t nbytes, int device);
/* device >= 0 for device (or managed) memory, -1 for host memory. */
int atlas_cuda_pointer_device(const void* ptr, int* device);
int atlas_cuda_synchronize(int device);

/* e[N] = lens energies of x[N x D]. */
int atlas_cuda_energy(const atlas_lens_dev* L, const float* x, long long N, float* e,
                      int device, void* stream);
/* e[N] and g[N x D] = d e_i / d x_i. */
int atlas_cuda_energy_grad(const atlas_lens_dev* L, const float* x, long long N, float* e,
                           float* g, int device, void* stream);
/* out[S x T] = energy(c + s_i a + t_j b); s_host / t_host are host arrays. */
int atlas_cuda_landscape(const atlas_lens_dev* L, const float* c, const float* a,
                         const float* b, const float* s_host, long long S,
                         const float* t_host, long long T, float* out, int device,
                         void* stream);
/* out[N x N] = 1 - cos(x_i, x_j), clamped to [0, 2], zero diagonal. */
int atlas_cuda_pairwise_cosine(const float* x, long long N, int D, float* out, int device,
                               void* stream);

#ifdef __cplusplus
}
#endif
