// AVX2 + FMA build of the Lens CPU kernels. setup.py compiles this file alone with
// -mavx2 -mfma; it is only entered after a runtime CPU check (lens_cpu.cpp), so the
// extension stays safe on x86-64 CPUs without AVX2.
#if !defined(__AVX2__) || !defined(__FMA__)
#error "lens_kernels_avx2.cpp must be compiled with -mavx2 -mfma"
#endif
#define LK_MR 6  // 16 ymm registers: 6 rows x 2 accumulators + 2 B + 1 broadcast
#define LK_NS avx2
#define LK_NAME "avx2+fma"
#include "lens_kernels_impl.inc"
