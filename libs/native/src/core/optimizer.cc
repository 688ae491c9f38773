#include "core/optimizer.h"

namespace cairn {

CAIRN_CLONES void UpdateRange(const OptimizerSpec& o, float* __restrict w, const float* __restrict g, float* __restrict s0, float* __restrict s1,
                              float* __restrict s2, int64_t e0, int64_t e1, float accBeta1, float accBeta2) {
  const float lr = static_cast<float>(o.learningRate);
  switch (o.kind) {
    case OptKind::Sgd: {
      const float c = static_cast<float>(-o.learningRate);
      for (int64_t e = e0; e < e1; e++) w[e] = c * g[e] + w[e];
      return;
    }
    case OptKind::Momentum: {
      const float c = static_cast<float>(-o.learningRate), m = static_cast<float>(o.momentum);
      if (o.nesterov) {
        for (int64_t e = e0; e < e1; e++) {
          const float acc = m * s0[e] + g[e];
          s0[e] = acc;
          w[e] = c * (g[e] + acc * m) + w[e];
        }
      } else {
        for (int64_t e = e0; e < e1; e++) {
          const float acc = m * s0[e] + g[e];
          s0[e] = acc;
          w[e] = c * acc + w[e];
        }
      }
      return;
    }
    case OptKind::Adam: {
      const float b1 = static_cast<float>(o.beta1), b2 = static_cast<float>(o.beta2);
      const float ob1 = static_cast<float>(1 - o.beta1), ob2 = static_cast<float>(1 - o.beta2);
      const float oa1 = 1.f - accBeta1, oa2 = 1.f - accBeta2;
      const float eps = static_cast<float>(o.epsilon), nlr = static_cast<float>(-o.learningRate);
      for (int64_t e = e0; e < e1; e++) {
        const float m = s0[e] * b1 + g[e] * ob1;
        const float v = s1[e] * b2 + (g[e] * g[e]) * ob2;
        s0[e] = m;
        s1[e] = v;
        const float mh = m / oa1, vh = v / oa2;
        w[e] = (mh / (std::sqrt(vh) + eps)) * nlr + w[e];
      }
      return;
    }
    case OptKind::RmsProp: {
      const float d = static_cast<float>(o.decay), od = static_cast<float>(1 - o.decay);
      const float mom = static_cast<float>(o.momentum), eps = static_cast<float>(o.epsilon);
      if (o.centered) {
        for (int64_t e = e0; e < e1; e++) {
          const float ms = s0[e] * d + (g[e] * g[e]) * od;
          const float mg = s2[e] * d + g[e] * od;
          s0[e] = ms;
          s2[e] = mg;
          const float moment = s1[e] * mom + (g[e] * lr) / std::sqrt(ms - (mg * mg + eps));
          s1[e] = moment;
          w[e] = w[e] - moment;
        }
      } else {
        for (int64_t e = e0; e < e1; e++) {
          const float ms = s0[e] * d + (g[e] * g[e]) * od;
          s0[e] = ms;
          const float moment = s1[e] * mom + (g[e] * lr) / std::sqrt(ms + eps);
          s1[e] = moment;
          w[e] = w[e] - moment;
        }
      }
      return;
    }
  }
}

}  // namespace cairn
