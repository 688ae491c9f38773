// compute.h on the vectorised kernels (src/kernels): the pool becomes their ParallelFor.
#include "core/compute.h"

#include <algorithm>
#include <vector>

#include "core/activations.h"
#include "kernels/kernels.h"

namespace cairn {

namespace {

ParallelFor For(ThreadPool& pool) {
  return [&pool](int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) { pool.range(n, grain, body); };
}

Conv2DGeom Geom(const ConvShape& s) { return Conv2DGeom{s.n, s.h, s.w, s.cin, s.kh, s.kw, s.cout, s.sh, s.sw, s.padTop, s.padLeft, s.oh, s.ow}; }
Pool2DGeom Geom(const PoolShape& s) { return Pool2DGeom{s.n, s.h, s.w, s.c, s.ph, s.pw, s.sh, s.sw, s.padTop, s.padLeft, s.oh, s.ow}; }

Act KernelAct(ActKind a) {
  switch (a) {
    case ActKind::Relu: return Act::Relu;
    case ActKind::Sigmoid: return Act::Sigmoid;
    case ActKind::Tanh: return Act::Tanh;
    case ActKind::Elu: return Act::Elu;
    default: return Act::Linear;
  }
}

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void ColumnAdd(float* __restrict acc, const float* __restrict row, int64_t cols) {
  for (int64_t c = 0; c < cols; c++) acc[c] += row[c];
}

}  // namespace

void Gemm(ThreadPool& pool, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, For(pool));
}

int64_t ConvWorkspace(const ConvShape& s, int) { return conv2d_workspace_floats(Geom(s)); }
void ConvForward(ThreadPool& pool, const ConvShape& s, const float* x, const float* k, float* y, float* ws) { conv2d_forward(Geom(s), x, k, y, ws, For(pool)); }
void ConvBackwardData(ThreadPool& pool, const ConvShape& s, const float* dy, const float* k, float* dx, float* ws) { conv2d_backward_data(Geom(s), dy, k, dx, ws, For(pool)); }
void ConvBackwardFilter(ThreadPool& pool, const ConvShape& s, const float* x, const float* dy, float* dk, float* ws) { conv2d_backward_filter(Geom(s), x, dy, dk, ws, For(pool)); }
void MaxPoolForward(ThreadPool& pool, const PoolShape& s, const float* x, float* y, int32_t* argmax) { maxpool2d_forward(Geom(s), x, y, argmax, For(pool)); }
void MaxPoolBackward(ThreadPool& pool, const PoolShape& s, const float* dy, const int32_t* argmax, float* dx) { maxpool2d_backward(Geom(s), dy, argmax, dx, For(pool)); }
void AvgPoolForward(ThreadPool& pool, const PoolShape& s, const float* x, float* y) { avgpool2d_forward(Geom(s), x, y, For(pool)); }
void AvgPoolBackward(ThreadPool& pool, const PoolShape& s, const float* dy, float* dx) { avgpool2d_backward(Geom(s), dy, dx, For(pool)); }

void BiasActForward(ThreadPool& pool, int64_t rows, int64_t cols, float* y, const float* bias, ActKind act) {
  if (act == ActKind::Softmax) {
    bias_act_forward(rows, cols, y, bias, Act::Linear, y, For(pool));
    softmax_rows(rows, cols, y, y, For(pool));
    return;
  }
  if (!bias && act == ActKind::Linear) return;
  bias_act_forward(rows, cols, y, bias, KernelAct(act), y, For(pool));
}

void BiasActBackward(ThreadPool& pool, int64_t rows, int64_t cols, const float* y, float* dy, ActKind act, float* dbias) {
  // Rows in parallel (the kernels' bias_act_backward splits columns, which leaves a conv's
  // 16 or 32 channels to one thread); the bias sums go by fixed blocks of rows, added in
  // block order, so they do not depend on the thread count.
  if (act != ActKind::Linear) {
    pool.range(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, cols)), [&](int64_t r0, int64_t r1) { ActivationBackwardRows(act, y + r0 * cols, dy + r0 * cols, r1 - r0, cols); });
  }
  if (!dbias) return;
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (rows + kBlock - 1) / kBlock;
  thread_local std::vector<float> partial;
  if (static_cast<int64_t>(partial.size()) < blocks * cols) partial.resize(blocks * cols);
  float* part = partial.data();
  pool.range(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      float* acc = part + b * cols;
      std::fill(acc, acc + cols, 0.f);
      const int64_t end = std::min(rows, (b + 1) * kBlock);
      for (int64_t r = b * kBlock; r < end; r++) ColumnAdd(acc, dy + r * cols, cols);
    }
  });
  std::fill(dbias, dbias + cols, 0.f);
  for (int64_t b = 0; b < blocks; b++) ColumnAdd(dbias, part + b * cols, cols);
}

const char* KernelIsa() { return isa_name(active_isa()); }

}  // namespace cairn
