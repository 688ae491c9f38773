// GEMM micro-kernels: one register tile per ISA. The file is built without -m flags; the x86
// kernels carry target attributes and are only called after detect_isa() said the CPU and OS
// support them.
#include "kernels_internal.h"

#include <algorithm>

#if defined(CAIRN_X86)
#include <immintrin.h>
#endif

namespace cairn {

namespace {

// Portable: plain loops the compiler vectorizes with the baseline ISA (SSE2, NEON).
template <int MR, int NR>
void micro_portable(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta,
                    int rows, int cols) {
  float acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int r = 0; r < MR; ++r) {
      const float ar = a[r];
      for (int j = 0; j < NR; ++j) acc[r][j] += ar * b[j];
    }
    a += MR;
    b += NR;
  }
  for (int r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    if (beta == 0.0f) {
      for (int j = 0; j < cols; ++j) cr[j] = alpha * acc[r][j];
    } else {
      for (int j = 0; j < cols; ++j) {
        const float s = alpha * acc[r][j];
        const float t = beta * cr[j];
        cr[j] = s + t;
      }
    }
  }
}

#if defined(CAIRN_X86)

template <int MR, int NV>
__attribute__((target("avx512f"))) void micro_avx512(int64_t kc, const float* a, const float* b, float* c,
                                                     int64_t ldc, float alpha, float beta, int rows, int cols) {
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + 16 * v);
    _mm_prefetch(reinterpret_cast<const char*>(b + 16 * NV * 8), _MM_HINT_T0);
#pragma GCC unroll 32
    for (int r = 0; r < MR; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
    a += MR;
    b += 16 * NV;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (rows == MR && cols == 16 * NV) {
#pragma GCC unroll 32
    for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* p = c + r * ldc + 16 * v;
        __m512 s = _mm512_mul_ps(va, acc[r][v]);
        if (beta != 0.0f) s = _mm512_add_ps(s, _mm512_mul_ps(vb, _mm512_loadu_ps(p)));
        _mm512_storeu_ps(p, s);
      }
    }
    return;
  }
  __mmask16 m[NV];
  for (int v = 0; v < NV; ++v) {
    const int w = std::max(0, std::min(16, cols - 16 * v));
    m[v] = __mmask16((1u << w) - 1u);
  }
#pragma GCC unroll 32
  for (int r = 0; r < MR; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* p = c + r * ldc + 16 * v;
      __m512 s = _mm512_mul_ps(va, acc[r][v]);
      if (beta != 0.0f) s = _mm512_add_ps(s, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m[v], p)));
      _mm512_mask_storeu_ps(p, m[v], s);
    }
  }
}

template <int MR, int NV>
__attribute__((target("avx2,fma"))) void micro_avx2(int64_t kc, const float* a, const float* b, float* c,
                                                   int64_t ldc, float alpha, float beta, int rows, int cols) {
  __m256 acc[MR][NV];
#pragma GCC unroll 32
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m256 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 32
    for (int r = 0; r < MR; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(ar, bv[v], acc[r][v]);
    }
    a += MR;
    b += 8 * NV;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (rows == MR && cols == 8 * NV) {
#pragma GCC unroll 32
    for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* p = c + r * ldc + 8 * v;
        __m256 s = _mm256_mul_ps(va, acc[r][v]);
        if (beta != 0.0f) s = _mm256_add_ps(s, _mm256_mul_ps(vb, _mm256_loadu_ps(p)));
        _mm256_storeu_ps(p, s);
      }
    }
    return;
  }
  __m256i m[NV];
  for (int v = 0; v < NV; ++v) {
    const int w = cols - 8 * v;
    m[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(w), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
#pragma GCC unroll 32
  for (int r = 0; r < MR; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* p = c + r * ldc + 8 * v;
      __m256 s = _mm256_mul_ps(va, acc[r][v]);
      if (beta != 0.0f) s = _mm256_add_ps(s, _mm256_mul_ps(vb, _mm256_maskload_ps(p, m[v])));
      _mm256_maskstore_ps(p, m[v], s);
    }
  }
}

#endif  // CAIRN_X86

}  // namespace

// Of the candidates, the one with the least estimated time: padded rows x padded columns x the
// tile's relative cost (measured on a Zen 5 with bench-like loops: the tall narrow tiles spend
// more loads per FMA, so they only win when N or M is small); ties go to the first listed.
static GemmMicro pick(const GemmMicro* c, int n, int64_t M, int64_t N) {
  GemmMicro best = c[0];
  double bestCost = 1e300;
  for (int i = 0; i < n; ++i) {
    const double rows = double((M + c[i].mr - 1) / c[i].mr * c[i].mr);
    const double cols = double((N + c[i].nr - 1) / c[i].nr * c[i].nr);
    const double cost = rows * cols * c[i].cost;
    if (cost < bestCost) best = c[i], bestCost = cost;
  }
  return best;
}

GemmMicro gemm_micro(Isa isa, int64_t M, int64_t N) {
#if defined(CAIRN_X86)
  if (isa == Isa::Avx512) {
    static const GemmMicro k[] = {{12, 32, 1.0f, micro_avx512<12, 2>}, {16, 16, 1.1f, micro_avx512<16, 1>},
                                  {28, 16, 1.15f, micro_avx512<28, 1>}, {6, 32, 1.05f, micro_avx512<6, 2>},
                                  {10, 16, 1.2f, micro_avx512<10, 1>}};
    return pick(k, 5, M, N);
  }
  if (isa == Isa::Avx2) {
    static const GemmMicro k[] = {{6, 16, 1.0f, micro_avx2<6, 2>}, {12, 8, 1.1f, micro_avx2<12, 1>}};
    return pick(k, 2, M, N);
  }
#endif
  (void)isa;
  static const GemmMicro k[] = {{4, 8, 1.0f, micro_portable<4, 8>}};
  return pick(k, 1, M, N);
}

}  // namespace cairn
