// Baseline build of the Lens CPU kernels: only the compiler's default instruction set
// (SSE2 on x86-64), so it runs on any CPU the wheel may land on.
#if defined(__x86_64__) || defined(__i386__)
#define LK_MR 2  // 16 SSE registers: 2 rows x 4 xmm accumulators + B + broadcast
#else
#define LK_MR 6  // e.g. aarch64 NEON: 32 registers
#endif
#define LK_NS base
#define LK_NAME "baseline"
#include "lens_kernels_impl.inc"
