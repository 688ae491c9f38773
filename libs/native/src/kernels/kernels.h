#pragma once
#include <cstdint>
#include <functional>
namespace cairn {
// Splits [0,n) into disjoint ranges run on the caller's thread pool; returns when all are done.
// `grain` is the smallest useful range. Kernels must give bit-identical results whatever the
// number of threads (partition work so no reduction order depends on the split: never split a
// sum across threads unless the partial sums are combined in a fixed order independent of thread count).
using ParallelFor = std::function<void(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& body)>;
ParallelFor serial_for();  // runs body(0,n) on the calling thread (for tests)
// Kernels call pf only from the calling thread, one after another, never from inside a body,
// so a pool without nested parallelism is enough. Their scratch (sgemm's packed panels) lives in
// thread_local buffers that grow to the largest problem seen and are then reused: no allocation
// per call once warm. Any number of threads may call kernels at once.

enum class Isa { Portable, Avx2, Avx512 };
Isa detect_isa();               // cpuid + xgetbv at run time (OS support for AVX/AVX-512 state); Portable on non-x86
const char* isa_name(Isa);      // "avx512" | "avx2" | "portable"
void force_isa(Isa);            // tests/bench: use a path no better than the detected one
Isa active_isa();               // the path the kernels use now: min(detected, forced)

// C[M,N] = alpha * op(A) * op(B) + beta * C; row-major; op(X) = X or X^T; ld* are row strides.
// beta == 0 overwrites C (NaN/Inf already in C are not propagated), as BLAS does.
// Bit-identical for any thread count; results may differ between ISA paths (FMA vs mul+add).
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
           const ParallelFor& pf);

// NHWC input [n,h,w,cin], kernel [kh,kw,cin,cout] (tfjs layout), output NHWC [n,oh,ow,cout].
// Padding as tfjs computes it for 'valid'/'same' (the caller fills padTop/padLeft/oh/ow).
struct Conv2DGeom { int64_t n, h, w, cin, kh, kw, cout, sh, sw, padTop, padLeft, oh, ow; };
// True when every size and stride is >= 1, pads >= 0 and every tensor holds < 2^40 floats. The
// kernels check input indices against h/w themselves, so any such oh/ow/pad is memory-safe;
// the executor should call this (and throw a JS error) before the first conv call.
bool conv2d_geom_valid(const Conv2DGeom& g);
int64_t conv2d_workspace_floats(const Conv2DGeom& g);   // scratch the three conv calls may use
void conv2d_forward(const Conv2DGeom& g, const float* x, const float* k, float* y, float* ws, const ParallelFor& pf);        // y overwritten, no bias (the executor fuses bias+activation)
void conv2d_backward_data(const Conv2DGeom& g, const float* dy, const float* k, float* dx, float* ws, const ParallelFor& pf); // dx overwritten
void conv2d_backward_filter(const Conv2DGeom& g, const float* x, const float* dy, float* dk, float* ws, const ParallelFor& pf); // dk overwritten

// Pooling, NHWC; tfjs semantics for 'valid' and 'same' (average pooling over 'same' padding divides by the count of real inputs in the window, as tfjs does — check tfjs-backend-cpu's pool implementation to be exact).
struct Pool2DGeom { int64_t n, h, w, c, ph, pw, sh, sw, padTop, padLeft, oh, ow; };
// As conv2d_geom_valid, and x must hold < 2^31 elements (argmax is int32).
bool pool2d_geom_valid(const Pool2DGeom& g);
// argmax[i] = flat index into the whole x tensor (n*h*w*c, so x must hold < 2^31 elements) of the
// element chosen for output i: the first strictly greater than -inf in window order (row, then
// column), as tfjs; -1 when none is (all -inf or NaN), and then y = -inf and no gradient flows.
void maxpool2d_forward(const Pool2DGeom& g, const float* x, float* y, int32_t* argmax, const ParallelFor& pf);
void maxpool2d_backward(const Pool2DGeom& g, const float* dy, const int32_t* argmax, float* dx, const ParallelFor& pf); // dx overwritten
// Forward divides by the number of real (unpadded) inputs in each window, as tfjs does.
// Backward copies tfjs (tfjs-backend-cpu avgPoolGrad and the WebGL shader alike): every window
// spreads dy * 1/(ph*pw), so for 'same' padding the border gradient is tfjs's, not the exact one.
void avgpool2d_forward(const Pool2DGeom& g, const float* x, float* y, const ParallelFor& pf);
void avgpool2d_backward(const Pool2DGeom& g, const float* dy, float* dx, const ParallelFor& pf); // dx overwritten

// ---- Row-wise helpers for the executor (same ISA dispatch) ----
// Activation, as tfjs's: elu uses alpha = 1.
enum class Act { Linear, Relu, Sigmoid, Tanh, Elu };
// y[r,c] = act(x[r,c] + bias[c]) for r < rows, c < cols (contiguous rows). bias may be null
// (no bias). x may equal y (in place).
void bias_act_forward(int64_t rows, int64_t cols, const float* x, const float* bias, Act act,
                      float* y, const ParallelFor& pf);
// From the activation's OUTPUT y (what forward wrote) and the upstream gradient dy:
// dz[r,c] = dy[r,c] * act'(.) (relu: y>0; sigmoid: y(1-y); tanh: 1-y^2; elu: y>0 ? 1 : y+1),
// and, when dbias is not null, dbias[c] = sum over r of dz[r,c]: threads take blocks of 256
// rows, each summed in row order, and the block sums are added in block order, so it is
// bit-identical for any thread count. dz may equal dy.
void bias_act_backward(int64_t rows, int64_t cols, const float* y, const float* dy, Act act,
                       float* dz, float* dbias, const ParallelFor& pf);
// y[r,:] = softmax(x[r,:]) (max subtracted first). x may equal y.
void softmax_rows(int64_t rows, int64_t cols, const float* x, float* y, const ParallelFor& pf);
}
