#pragma once
// In-place exp-based elementwise functions over n floats, on the given ISA's path.
// x86 paths use a Cephes-style polynomial exp (about 2 ulp; inputs clamped to [-87.3, 88.7],
// NaN passes through); the portable path uses <cmath>.
#include <cstdint>

#include "kernels.h"

namespace cairn {
void exp_inplace(Isa isa, float* y, int64_t n);
void sigmoid_inplace(Isa isa, float* y, int64_t n);  // 1 / (1 + exp(-y))
void tanh_inplace(Isa isa, float* y, int64_t n);
void elu_inplace(Isa isa, float* y, int64_t n);      // y > 0 ? y : exp(y) - 1
}  // namespace cairn
