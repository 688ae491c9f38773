// sgemm driver: packs op(B) once into NR-wide panels, then runs jobs over (row block, column
// block) tiles of C; each job packs its rows of op(A) into MR-tall panels per K chunk (or op(A)
// is packed once up front when several column blocks share it) and calls the micro-kernel. Threads split M and N only; K is cut into chunks whose bounds depend on K
// alone, so every element of C is summed in the same order whatever the thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "kernels_internal.h"

#if defined(CAIRN_X86)
#include <immintrin.h>
#endif

namespace cairn {

namespace {

constexpr int64_t kMaxKc = 256;      // K chunk: an NR x KC slice of packed B stays in L1
constexpr int64_t kRowsPerJob = 48;  // rough: rounded to MR; A block per job stays in L2
constexpr int64_t kColsPerJob = 128; // rough: rounded to NR
constexpr double kMinTaskFlops = 1e6;     // less than ~10 us of work is not worth a thread hand-off
constexpr int64_t kMinPackFloats = 32768; // likewise for packing
constexpr int64_t kMaxPrepackFloats = int64_t(1) << 19;  // 2 MiB: op(A) packed once if no larger

// Packs op(A) rows [i0, i0+mr) for k in [k0, k0+kc): dst[k*mr + r]; zero beyond M.
void pack_a_panel(bool transA, const float* A, int64_t lda, int64_t M, int64_t i0, int64_t k0, int64_t kc, int mr,
                  float* dst) {
  const int64_t h = std::min<int64_t>(mr, M - i0);
  if (!transA) {
    int64_t r = 0;
#if defined(CAIRN_X86)
    // Groups of 4 rows, 4 k at a time, through an SSE 4x4 transpose (SSE is baseline x86-64):
    // about 4x fewer instructions than moving single floats, which matters when N is narrow
    // and each packed panel feeds few micro-kernel calls.
    for (; r + 4 <= h; r += 4) {
      const float* s0 = A + (i0 + r) * lda + k0;
      const float* s1 = s0 + lda;
      const float* s2 = s1 + lda;
      const float* s3 = s2 + lda;
      int64_t k = 0;
      for (; k + 4 <= kc; k += 4) {
        __m128 a0 = _mm_loadu_ps(s0 + k), a1 = _mm_loadu_ps(s1 + k), a2 = _mm_loadu_ps(s2 + k),
               a3 = _mm_loadu_ps(s3 + k);
        _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
        _mm_storeu_ps(dst + k * mr + r, a0);
        _mm_storeu_ps(dst + (k + 1) * mr + r, a1);
        _mm_storeu_ps(dst + (k + 2) * mr + r, a2);
        _mm_storeu_ps(dst + (k + 3) * mr + r, a3);
      }
      for (; k < kc; ++k) {
        float* d = dst + k * mr + r;
        d[0] = s0[k], d[1] = s1[k], d[2] = s2[k], d[3] = s3[k];
      }
    }
#endif
    for (; r < h; ++r) {
      const float* src = A + (i0 + r) * lda + k0;
      for (int64_t k = 0; k < kc; ++k) dst[k * mr + r] = src[k];
    }
    for (r = h; r < mr; ++r)
      for (int64_t k = 0; k < kc; ++k) dst[k * mr + r] = 0.0f;
  } else {
    // op(A)(i, k) = A[k*lda + i]: each k gives mr contiguous floats.
#if defined(CAIRN_X86)
    if (h == mr && mr % 4 == 0) {  // whole panel: 4 floats per SSE move
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = A + (k0 + k) * lda + i0;
        float* d = dst + k * mr;
        for (int r = 0; r < mr; r += 4) _mm_storeu_ps(d + r, _mm_loadu_ps(src + r));
      }
      return;
    }
#endif
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = A + (k0 + k) * lda + i0;
      float* d = dst + k * mr;
      for (int64_t r = 0; r < h; ++r) d[r] = src[r];  // a few floats: no memcpy call
      for (int64_t r = h; r < mr; ++r) d[r] = 0.0f;
    }
  }
}

// Packs op(B) columns [j0, j0+nr) for all K: dst[k*nr + j]; zero beyond N.
void pack_b_panel(bool transB, const float* B, int64_t ldb, int64_t N, int64_t K, int64_t j0, int nr, float* dst) {
  if (transB) {
    // op(B)(k, j) = B[j*ldb + k]: the same layout change as packing rows of a plain A.
    pack_a_panel(false, B, ldb, N, j0, 0, K, nr, dst);
    return;
  }
  const int64_t w = std::min<int64_t>(nr, N - j0);
  for (int64_t k = 0; k < K; ++k) {
    const float* src = B + k * ldb + j0;
    float* d = dst + k * nr;
    for (int64_t j = 0; j < w; ++j) d[j] = src[j];  // nr floats: a loop beats a memcpy call
    for (int64_t j = w; j < nr; ++j) d[j] = 0.0f;
  }
}

float* grow(std::vector<float>& v, int64_t n) {
  if (int64_t(v.size()) < n) v.resize(size_t(n));
  return v.data();
}

void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc, const ParallelFor& pf) {
  pf(M, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float* c = C + i * ldc;
      if (beta == 0.0f) std::fill(c, c + N, 0.0f);
      else for (int64_t j = 0; j < N; ++j) c[j] *= beta;
    }
  });
}

}  // namespace

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const ParallelFor& pf) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    if (beta != 1.0f) scale_c(M, N, beta, C, ldc, pf);
    return;
  }
  const GemmMicro mk = gemm_micro(active_isa(), M, N);
  const int mr = mk.mr, nr = mk.nr;
  const int64_t npanels = (N + nr - 1) / nr;
  const int64_t nk = (K + kMaxKc - 1) / kMaxKc;
  const int64_t kcStep = (K + nk - 1) / nk;

  // Packed op(B), owned by the calling thread (pool threads only read it).
  thread_local std::vector<float> bbuf;
  float* bp = grow(bbuf, npanels * K * nr);
  pf(npanels, std::max<int64_t>(1, kMinPackFloats / (K * nr)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) pack_b_panel(transB, B, ldb, N, K, p * nr, nr, bp + p * K * nr);
  });

  const int64_t rowPanelsPerJob = std::max<int64_t>(1, (kRowsPerJob + mr / 2) / mr);
  const int64_t colPanelsPerJob = std::max<int64_t>(1, kColsPerJob / nr);
  const int64_t rowPanels = (M + mr - 1) / mr;
  const int64_t mJobs = (rowPanels + rowPanelsPerJob - 1) / rowPanelsPerJob;
  const int64_t nJobs = (npanels + colPanelsPerJob - 1) / colPanelsPerJob;

  // When several column blocks would each pack the same rows of A, pack all of op(A) once up
  // front (panel ip at ip*mr*K, element (k, r) at k*mr + r) if it stays cache-sized; otherwise
  // each job packs its rows per K chunk. Same packed values either way.
  const bool prepackA = nJobs > 1 && rowPanels * mr * K <= kMaxPrepackFloats;
  thread_local std::vector<float> aAllBuf;
  float* aAll = prepackA ? grow(aAllBuf, rowPanels * mr * K) : nullptr;
  if (prepackA)
    pf(rowPanels, std::max<int64_t>(1, kMinPackFloats / (K * mr)), [&](int64_t b, int64_t e) {
      for (int64_t ip = b; ip < e; ++ip) pack_a_panel(transA, A, lda, M, ip * mr, 0, K, mr, aAll + ip * mr * K);
    });

  const double jobFlops = 2.0 * double(rowPanelsPerJob * mr) * double(colPanelsPerJob * nr) * double(K);
  const int64_t grain = std::max<int64_t>(1, int64_t(kMinTaskFlops / jobFlops));
  pf(mJobs * nJobs, grain, [&](int64_t jb, int64_t je) {
    thread_local std::vector<float> abuf;
    float* ap = prepackA ? nullptr : grow(abuf, rowPanelsPerJob * mr * kcStep);
    for (int64_t job = jb; job < je; ++job) {
      const int64_t mj = job / nJobs, nj = job % nJobs;
      const int64_t ip0 = mj * rowPanelsPerJob, ip1 = std::min(rowPanels, ip0 + rowPanelsPerJob);
      const int64_t p0 = nj * colPanelsPerJob, p1 = std::min(npanels, p0 + colPanelsPerJob);
      for (int64_t k0 = 0; k0 < K; k0 += kcStep) {
        const int64_t kc = std::min(kcStep, K - k0);
        const float bet = k0 == 0 ? beta : 1.0f;
        if (!prepackA)
          for (int64_t ip = ip0; ip < ip1; ++ip)
            pack_a_panel(transA, A, lda, M, ip * mr, k0, kc, mr, ap + (ip - ip0) * mr * kc);
        for (int64_t p = p0; p < p1; ++p) {
          const float* bpan = bp + p * K * nr + k0 * nr;
          const int64_t j0 = p * nr;
          const int64_t w = std::min<int64_t>(nr, N - j0);
          for (int64_t ip = ip0; ip < ip1; ++ip) {
            const int64_t i0 = ip * mr;
            const int64_t h = std::min<int64_t>(mr, M - i0);
            const float* apan = prepackA ? aAll + ip * mr * K + k0 * mr : ap + (ip - ip0) * mr * kc;
            float* c = C + i0 * ldc + j0;
            mk.run(kc, apan, bpan, c, ldc, alpha, bet, int(h), int(w));
          }
        }
      }
    }
  });
}

}  // namespace cairn
