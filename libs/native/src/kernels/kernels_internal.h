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
// acc[r][j] = sum_k a[k*MR + r] * b[k*NR + j] (a, b packed by the driver, k in order, so each
// element's sum has one fixed order), then for r < rows, j < cols (the tile's part inside C)
// writes c[r*ldc + j] = beta == 0 ? alpha*acc : alpha*acc + beta*c (mul then add, no FMA).
struct GemmMicro {
  int mr, nr;
  float cost;  // measured time per MR*NR*k element relative to the ISA's main tile (tile choice only)
  void (*run)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta,
              int rows, int cols);
};

// The micro-kernel for this ISA and an M x N product: the tile shape that wastes least on
// padding (a narrow N gets a tall narrow tile, a small M a short one).
GemmMicro gemm_micro(Isa isa, int64_t M, int64_t N);

}  // namespace cairn
