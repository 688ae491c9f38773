// Elementwise activations, forward in place on a layer's output and backward from it:
// each derivative is written in terms of the output y, so the pre-activation need not be kept.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/plan.h"

namespace cairn {

inline void ActivateRows(ActKind act, float* y, int64_t rows, int64_t width) {
  const int64_t n = rows * width;
  switch (act) {
    case ActKind::Linear: return;
    case ActKind::Relu:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.f ? y[i] : 0.f;
      return;
    case ActKind::Sigmoid:
      for (int64_t i = 0; i < n; i++) y[i] = 1.f / (1.f + std::exp(-y[i]));
      return;
    case ActKind::Tanh:
      for (int64_t i = 0; i < n; i++) y[i] = std::tanh(y[i]);
      return;
    case ActKind::Elu:
      for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.f ? y[i] : std::expm1(y[i]);
      return;
    case ActKind::Softmax:
      for (int64_t r = 0; r < rows; r++) {
        float* v = y + r * width;
        float m = v[0];
        for (int64_t j = 1; j < width; j++) m = v[j] > m ? v[j] : m;
        float s = 0.f;
        for (int64_t j = 0; j < width; j++) s += (v[j] = std::exp(v[j] - m));
        const float inv = 1.f / s;
        for (int64_t j = 0; j < width; j++) v[j] *= inv;
      }
      return;
  }
}

/** dy (the gradient at the output) becomes the gradient at the pre-activation, in place. */
inline void ActivationBackwardRows(ActKind act, const float* y, float* dy, int64_t rows, int64_t width) {
  const int64_t n = rows * width;
  switch (act) {
    case ActKind::Linear: return;
    case ActKind::Relu:
      for (int64_t i = 0; i < n; i++) dy[i] = y[i] > 0.f ? dy[i] : 0.f;
      return;
    case ActKind::Sigmoid:
      for (int64_t i = 0; i < n; i++) dy[i] *= y[i] * (1.f - y[i]);
      return;
    case ActKind::Tanh:
      for (int64_t i = 0; i < n; i++) dy[i] *= 1.f - y[i] * y[i];
      return;
    case ActKind::Elu:
      for (int64_t i = 0; i < n; i++) dy[i] = y[i] > 0.f ? dy[i] : dy[i] * (y[i] + 1.f);
      return;
    case ActKind::Softmax:
      for (int64_t r = 0; r < rows; r++) {
        const float* p = y + r * width;
        float* g = dy + r * width;
        float dot = 0.f;
        for (int64_t j = 0; j < width; j++) dot += g[j] * p[j];
        for (int64_t j = 0; j < width; j++) g[j] = p[j] * (g[j] - dot);
      }
      return;
  }
}

}  // namespace cairn
