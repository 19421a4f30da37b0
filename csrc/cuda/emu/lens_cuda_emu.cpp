// CPU-emulated build of the Lens CUDA kernels (test-only shared library).
//   g++ -std=c++20 -O1 -shared -fPIC -pthread lens_cuda_emu.cpp -o lens_cuda_emu.so
// Exposes the kernel entry points of lens_cuda.h; pointers are host pointers.
#include "cuda_emu.h"
#include "../lens_cuda_kernels.cuh"

extern "C" long long atlas_emu_launch_count() { return atlas_emu::g_launches; }
