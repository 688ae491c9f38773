// Row-wise helpers for the executor: bias + activation (forward and backward) and softmax.
// Elementwise work is split over rows (forward) or columns (backward, so each bias-gradient
// column is summed by one thread in row order). Exp-based activations go through the ISA's
// vector exp (vector_exp.h); relu and linear are plain loops the compiler vectorizes.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "vector_exp.h"

namespace cairn {

namespace {

// y = act(x + bias) over one row of n.
void act_row(Act act, const float* x, const float* bias, float* y, int64_t n, Isa isa) {
  if (bias) for (int64_t j = 0; j < n; ++j) y[j] = x[j] + bias[j];
  else if (y != x) std::copy(x, x + n, y);
  switch (act) {
    case Act::Linear: break;
    case Act::Relu:
      for (int64_t j = 0; j < n; ++j) y[j] = y[j] > 0.0f ? y[j] : 0.0f;
      break;
    case Act::Sigmoid: sigmoid_inplace(isa, y, n); break;
    case Act::Tanh: tanh_inplace(isa, y, n); break;
    case Act::Elu: elu_inplace(isa, y, n); break;
  }
}

}  // namespace

void bias_act_forward(int64_t rows, int64_t cols, const float* x, const float* bias, Act act, float* y,
                      const ParallelFor& pf) {
  const Isa isa = active_isa();
  pf(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, cols)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) act_row(act, x + r * cols, bias, y + r * cols, cols, isa);
  });
}

void bias_act_backward(int64_t rows, int64_t cols, const float* y, const float* dy, Act act, float* dz, float* dbias,
                       const ParallelFor& pf) {
  // Threads take blocks of kRowBlock rows (a conv's output has many rows and only 16 or 32
  // columns, so splitting columns left it serial). Each block sums its columns in row order;
  // the block sums are then added in block order: an order fixed by `rows` alone.
  constexpr int64_t kRowBlock = 256;
  const int64_t nblk = (rows + kRowBlock - 1) / kRowBlock;
  thread_local std::vector<float> partialBuf;
  if (dbias && int64_t(partialBuf.size()) < nblk * cols) partialBuf.resize(size_t(nblk * cols));
  float* partial = partialBuf.data();
  pf(nblk, 1, [&](int64_t bb, int64_t be) {
    for (int64_t blk = bb; blk < be; ++blk) {
      const int64_t r0 = blk * kRowBlock, r1 = std::min(rows, r0 + kRowBlock);
      float* ps = dbias ? partial + blk * cols : nullptr;
      if (ps) std::fill(ps, ps + cols, 0.0f);
      for (int64_t r = r0; r < r1; ++r) {
        const float* yr = y + r * cols;
        const float* gr = dy + r * cols;
        float* zr = dz + r * cols;
        switch (act) {
          case Act::Linear: for (int64_t j = 0; j < cols; ++j) zr[j] = gr[j]; break;
          case Act::Relu: for (int64_t j = 0; j < cols; ++j) zr[j] = yr[j] > 0.0f ? gr[j] : 0.0f; break;
          case Act::Sigmoid: for (int64_t j = 0; j < cols; ++j) zr[j] = gr[j] * (yr[j] * (1.0f - yr[j])); break;
          case Act::Tanh:  // (1-y)(1+y): no cancellation as |y| -> 1
            for (int64_t j = 0; j < cols; ++j) zr[j] = gr[j] * ((1.0f - yr[j]) * (1.0f + yr[j]));
            break;
          case Act::Elu: for (int64_t j = 0; j < cols; ++j) zr[j] = yr[j] > 0.0f ? gr[j] : gr[j] * (yr[j] + 1.0f); break;
        }
        if (ps) for (int64_t j = 0; j < cols; ++j) ps[j] += zr[j];
      }
    }
  });
  if (!dbias) return;
  pf(cols, 64, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      float s = 0.0f;
      for (int64_t blk = 0; blk < nblk; ++blk) s += partial[blk * cols + j];
      dbias[j] = s;
    }
  });
}

void softmax_rows(int64_t rows, int64_t cols, const float* x, float* y, const ParallelFor& pf) {
  const Isa isa = active_isa();
  pf(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, cols)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      if (cols <= 0) continue;
      const float m = *std::max_element(xr, xr + cols);
      for (int64_t j = 0; j < cols; ++j) yr[j] = xr[j] - m;
      exp_inplace(isa, yr, cols);
      float s = 0.0f;
      for (int64_t j = 0; j < cols; ++j) s += yr[j];
      for (int64_t j = 0; j < cols; ++j) yr[j] /= s;
    }
  });
}

}  // namespace cairn
