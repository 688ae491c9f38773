#pragma once
// Shared between the kernel files; not part of the contract in kernels.h.
#include <cstdint>

#include "kernels.h"

// x86 SIMD code is compiled only on x86-64; -DCAIRN_NO_X86 builds the portable code alone there,
// which is how the test Makefile checks the ARM64 code path on an x86 machine.
#if defined(__x86_64__) && !defined(CAIRN_NO_X86)
#define CAIRN_X86 1
#endif

namespace cairn {

// One register-tiled GEMM micro-kernel: over kc steps it accumulates an MR x NR tile
// acc[r][c] = sum_k a[k*MR + r] * b[k*NR + c] (a, b packed by the driver, k in order, so each
// element's sum has one fixed order), then writes c[r*ldc + j] =
//   beta == 0 ? alpha*acc : alpha*acc + beta*c   (mul then add, no FMA, on every path).
struct GemmMicro {
  int mr, nr;
  void (*run)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta);
};

// The micro-kernel for this ISA, chosen for a product with N columns (narrow N gets a taller,
// narrower tile so padding wastes less).
GemmMicro gemm_micro(Isa isa, int64_t N);

}  // namespace cairn
