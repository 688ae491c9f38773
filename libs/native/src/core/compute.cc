// compute.h on the vectorised kernels (src/kernels): the pool becomes their ParallelFor.
#include "core/compute.h"

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
  if (act == ActKind::Softmax) {
    // Softmax's Jacobian couples a row: done here, then the bias sums over the result.
    pool.range(rows, 32, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; r++) {
        const float* p = y + r * cols;
        float* g = dy + r * cols;
        float dot = 0.f;
        for (int64_t j = 0; j < cols; j++) dot += g[j] * p[j];
        for (int64_t j = 0; j < cols; j++) g[j] = p[j] * (g[j] - dot);
      }
    });
    act = ActKind::Linear;
  }
  if (!dbias && act == ActKind::Linear) return;
  bias_act_backward(rows, cols, y, dy, KernelAct(act), dy, dbias, For(pool));
}

const char* KernelIsa() { return isa_name(active_isa()); }

}  // namespace cairn
