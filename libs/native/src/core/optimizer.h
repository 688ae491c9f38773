// tfjs's optimizer update rules (tfjs-core 4.22 src/optimizers), element by element, with
// the same float32 operations in the same order: each tfjs op rounds to float32, and so
// does each step here. Kept to baseline ISA code so no multiply-add is contracted.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/plan.h"

namespace cairn {

/** Vectorised with AVX2 where the CPU has it, chosen at load time; AVX2 alone has no FMA, so nothing is contracted. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define CAIRN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CAIRN_CLONES
#endif

/**
 * One update of w[e0, e1). s0, s1, s2 are the optimizer's slots: momentum: accumulation;
 * adam: first and second moment; rmsprop: mean square, moment, mean gradient (centered).
 * accBeta1/accBeta2: Adam's running beta powers before this step.
 */
CAIRN_CLONES void UpdateRange(const OptimizerSpec& o, float* w, const float* g, float* s0, float* s1, float* s2, int64_t e0, int64_t e1,
                        float accBeta1, float accBeta2);

}  // namespace cairn
