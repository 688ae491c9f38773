// Vector exp, sigmoid, tanh and elu: one body (vector_exp_simd.inc) written once over a tiny SIMD
// wrapper (V512, V256) and compiled per ISA under `#pragma GCC target`; a tail shorter than a vector is run
// through a padded buffer so every element takes the same arithmetic.
#include <algorithm>
#include <cmath>

#include "vector_exp.h"
#include "kernels_internal.h"

// AVX types in signatures of target-attributed functions warn about ABI; they never cross this
// file. GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized (_mm512_undefined_ps).
#pragma GCC diagnostic ignored "-Wpsabi"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#if defined(CAIRN_X86)
#include <immintrin.h>
#endif

namespace cairn {

namespace {

enum class Fn { Exp, Sigmoid, Tanh, Elu };

float scalar_fn(Fn f, float x) {
  switch (f) {
    case Fn::Exp: return std::exp(x);
    case Fn::Sigmoid: return 1.0f / (1.0f + std::exp(-x));
    case Fn::Tanh: return std::tanh(x);
    case Fn::Elu: return x > 0.0f ? x : std::exp(x) - 1.0f;
  }
  return x;
}

#if defined(CAIRN_X86)

#define CAIRN_T512 __attribute__((target("avx512f"), always_inline)) inline
#define CAIRN_T256 __attribute__((target("avx2,fma"), always_inline)) inline

struct V512 {
  using T = __m512;
  static constexpr int W = 16;
  static CAIRN_T512 T set(float v) { return _mm512_set1_ps(v); }
  static CAIRN_T512 T load(const float* p) { return _mm512_loadu_ps(p); }
  static CAIRN_T512 void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static CAIRN_T512 T add(T a, T b) { return _mm512_add_ps(a, b); }
  static CAIRN_T512 T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static CAIRN_T512 T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static CAIRN_T512 T div(T a, T b) { return _mm512_div_ps(a, b); }
  static CAIRN_T512 T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static CAIRN_T512 T max(T a, T b) { return _mm512_max_ps(a, b); }
  static CAIRN_T512 T min(T a, T b) { return _mm512_min_ps(a, b); }
  static CAIRN_T512 T round(T a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static CAIRN_T512 T abs(T a) { return _mm512_abs_ps(a); }
  // 2^n for integral n in [-127, 128]
  static CAIRN_T512 T pow2(T n) { return _mm512_scalef_ps(_mm512_set1_ps(1.0f), n); }
  // bits of mag where the mask is set (all but the sign), else of sgn: ternary-logic a ? b : c
  static CAIRN_T512 T copysign(T mag, T sgn) {
    const __m512i m = _mm512_set1_epi32(0x7fffffff);
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(m, _mm512_castps_si512(mag), _mm512_castps_si512(sgn), 0xca));
  }
  // lt(a, b) ? x : y
  static CAIRN_T512 T select_lt(T a, T b, T x, T y) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x); }
  static CAIRN_T512 T select_gt(T a, T b, T x, T y) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), y, x); }
};

struct V256 {
  using T = __m256;
  static constexpr int W = 8;
  static CAIRN_T256 T set(float v) { return _mm256_set1_ps(v); }
  static CAIRN_T256 T load(const float* p) { return _mm256_loadu_ps(p); }
  static CAIRN_T256 void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static CAIRN_T256 T add(T a, T b) { return _mm256_add_ps(a, b); }
  static CAIRN_T256 T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static CAIRN_T256 T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static CAIRN_T256 T div(T a, T b) { return _mm256_div_ps(a, b); }
  static CAIRN_T256 T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static CAIRN_T256 T max(T a, T b) { return _mm256_max_ps(a, b); }
  static CAIRN_T256 T min(T a, T b) { return _mm256_min_ps(a, b); }
  static CAIRN_T256 T round(T a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static CAIRN_T256 T abs(T a) { return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }
  static CAIRN_T256 T pow2(T n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  static CAIRN_T256 T copysign(T mag, T sgn) {
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(int(0x80000000u)));
    return _mm256_or_ps(_mm256_andnot_ps(sign, mag), _mm256_and_ps(sign, sgn));
  }
  static CAIRN_T256 T select_lt(T a, T b, T x, T y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
  static CAIRN_T256 T select_gt(T a, T b, T x, T y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
};

#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
using V = V512;
#include "vector_exp_simd.inc"
}  // namespace avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
using V = V256;
#include "vector_exp_simd.inc"
}  // namespace avx2
#pragma GCC pop_options

#endif  // CAIRN_X86

void run(Isa isa, Fn f, float* y, int64_t n) {
#if defined(CAIRN_X86)
  if (isa == Isa::Avx512) return avx512::run_simd(f, y, n);
  if (isa == Isa::Avx2) return avx2::run_simd(f, y, n);
#endif
  (void)isa;
  for (int64_t i = 0; i < n; ++i) y[i] = scalar_fn(f, y[i]);
}

}  // namespace

void exp_inplace(Isa isa, float* y, int64_t n) { run(isa, Fn::Exp, y, n); }
void sigmoid_inplace(Isa isa, float* y, int64_t n) { run(isa, Fn::Sigmoid, y, n); }
void tanh_inplace(Isa isa, float* y, int64_t n) { run(isa, Fn::Tanh, y, n); }
void elu_inplace(Isa isa, float* y, int64_t n) { run(isa, Fn::Elu, y, n); }

}  // namespace cairn
