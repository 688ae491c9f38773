// tfjs's optimizer update rules (tfjs-core 4.22 src/optimizers), element by element, with
// the same float32 operations in the same order: each tfjs op rounds to float32, and so
// does each step here. Kept to baseline ISA code so no multiply-add is contracted.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/plan.h"

namespace cairn {

/**
 * One update of w[e0, e1). s0, s1, s2 are the optimizer's slots: momentum: accumulation;
 * adam: first and second moment; rmsprop: mean square, moment, mean gradient (centered).
 * accBeta1/accBeta2: Adam's running beta powers before this step.
 */
inline void UpdateRange(const OptimizerSpec& o, float* w, const float* g, float* s0, float* s1, float* s2, int64_t e0, int64_t e1,
                        float accBeta1, float accBeta2) {
  const float lr = static_cast<float>(o.learningRate);
  switch (o.kind) {
    case OptKind::Sgd: {
      const float c = static_cast<float>(-o.learningRate);
      for (int64_t e = e0; e < e1; e++) w[e] = c * g[e] + w[e];
      return;
    }
    case OptKind::Momentum: {
      const float c = static_cast<float>(-o.learningRate), m = static_cast<float>(o.momentum);
      for (int64_t e = e0; e < e1; e++) {
        const float acc = m * s0[e] + g[e];
        s0[e] = acc;
        w[e] = o.nesterov ? c * (g[e] + acc * m) + w[e] : c * acc + w[e];
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
      for (int64_t e = e0; e < e1; e++) {
        const float ms = s0[e] * d + (g[e] * g[e]) * od;
        s0[e] = ms;
        float contribution;
        if (o.centered) {
          const float mg = s2[e] * d + g[e] * od;
          s2[e] = mg;
          contribution = (g[e] * lr) / std::sqrt(ms - (mg * mg + eps));
        } else {
          contribution = (g[e] * lr) / std::sqrt(ms + eps);
        }
        const float moment = s1[e] * mom + contribution;
        s1[e] = moment;
        w[e] = w[e] - moment;
      }
      return;
    }
  }
}

}  // namespace cairn
