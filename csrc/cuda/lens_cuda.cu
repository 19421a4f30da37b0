// nvcc translation unit for the Lens CUDA kernels. setup.py compiles it to an object
// file that is linked into atlas_kernel._lens_ext together with libcudart_static, so the
// extension imports on machines with no GPU and no driver; whether a device is usable
// is only asked at run time (atlas_cuda_device_count).
#include <cuda_runtime.h>

#include "lens_cuda.h"
#include "lens_cuda_kernels.cuh"

extern "C" int atlas_cuda_device_count(int* count) {
  *count = 0;
  cudaError_t e = cudaGetDeviceCount(count);
  if (e != cudaSuccess) {
    cudaGetLastError();  // do not leave a sticky error behind
    *count = 0;
  }
  return (int)e;
}

extern "C" const char* atlas_cuda_error_string(int err) {
  return cudaGetErrorString((cudaError_t)err);
}

extern "C" int atlas_cuda_malloc(void** ptr, size_t nbytes, int device) {
  atlas_lens_cuda::DeviceGuard guard(device);
  if (guard.error() != cudaSuccess) return (int)guard.error();
  return (int)cudaMalloc(ptr, nbytes ? nbytes : 1);
}

extern "C" int atlas_cuda_free(void* ptr, int device) {
  if (!ptr) return 0;
  atlas_lens_cuda::DeviceGuard guard(device);
  if (guard.error() != cudaSuccess) return (int)guard.error();
  return (int)cudaFree(ptr);
}

extern "C" int atlas_cuda_memcpy_htod(void* dst, const void* src, size_t nbytes, int device) {
  atlas_lens_cuda::DeviceGuard guard(device);
  if (guard.error() != cudaSuccess) return (int)guard.error();
  return (int)cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice);
}

extern "C" int atlas_cuda_memcpy_dtoh(void* dst, const void* src, size_t nbytes, int device) {
  atlas_lens_cuda::DeviceGuard guard(device);
  if (guard.error() != cudaSuccess) return (int)guard.error();
  return (int)cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost);
}

extern "C" int atlas_cuda_pointer_device(const void* ptr, int* device) {
  cudaPointerAttributes attr;
  cudaError_t e = cudaPointerGetAttributes(&attr, ptr);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return (int)e;
  }
  *device = (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged)
                ? attr.device
                : -1;
  return 0;
}

extern "C" int atlas_cuda_synchronize(int device) {
  atlas_lens_cuda::DeviceGuard guard(device);
  if (guard.error() != cudaSuccess) return (int)guard.error();
  return (int)cudaDeviceSynchronize();
}
