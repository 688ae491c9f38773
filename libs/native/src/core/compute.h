// The compute primitives the executor needs. compute.cc maps them onto the vectorised
// kernels in src/kernels (runtime ISA dispatch); nothing here depends on their internals.
#pragma once
#include <cstdint>

#include "core/plan_types.h"
#include "core/pool.h"

namespace cairn {

/** C = alpha * op(A) * op(B) + beta * C, row-major; op transposes when the flag is set. */
void Gemm(ThreadPool& pool, bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc);

/** NHWC convolution geometry; the kernel is [kh, kw, cin, cout] as tfjs stores it. */
struct ConvShape {
  int n, h, w, cin;
  int kh, kw, sh, sw;
  int padTop, padLeft;
  int oh, ow, cout;
};

/** Floats of scratch the conv routines need for this shape (allocated once by the executor). */
int64_t ConvWorkspace(const ConvShape& s, int threads);
void ConvForward(ThreadPool& pool, const ConvShape& s, const float* x, const float* k, float* y, float* ws);
/** dx = conv^T(dy, k); overwrites dx. */
void ConvBackwardData(ThreadPool& pool, const ConvShape& s, const float* dy, const float* k, float* dx, float* ws);
/** dk = sum over the batch of x (*) dy; overwrites dk. */
void ConvBackwardFilter(ThreadPool& pool, const ConvShape& s, const float* x, const float* dy, float* dk, float* ws);

struct PoolShape {
  int n, h, w, c;
  int ph, pw, sh, sw;
  int padTop, padLeft;
  int oh, ow;
};
/** Max pooling; argmax (one int per output) records the winning input index for the backward pass. */
void MaxPoolForward(ThreadPool& pool, const PoolShape& s, const float* x, float* y, int32_t* argmax);
/** dx is overwritten (zeroed, then the gradient routed to each window's winner). */
void MaxPoolBackward(ThreadPool& pool, const PoolShape& s, const float* dy, const int32_t* argmax, float* dx);
/** Average pooling; padded cells are not counted (as tfjs). */
void AvgPoolForward(ThreadPool& pool, const PoolShape& s, const float* x, float* y);
void AvgPoolBackward(ThreadPool& pool, const PoolShape& s, const float* dy, float* dx);

/** y = act(y + bias) over rows (bias may be null); softmax works per row. */
void BiasActForward(ThreadPool& pool, int64_t rows, int64_t cols, float* y, const float* bias, ActKind act);
/** dy becomes the gradient at the pre-activation (from the output y), in place; dbias (may be null) gets its column sums. */
void BiasActBackward(ThreadPool& pool, int64_t rows, int64_t cols, const float* y, float* dy, ActKind act, float* dbias);

/** Which vectorised code path the kernels chose for this CPU. */
const char* KernelIsa();

}  // namespace cairn
