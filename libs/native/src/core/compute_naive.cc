// TEMPORARY: plain loops standing in for src/kernels until that code lands (then this file
// goes, and compute.cc maps compute.h onto the kernels). Deterministic per output element.
#if !__has_include("kernels/kernels.h")
#include <algorithm>
#include <cfloat>
#include <cstring>
#include <vector>

#include "core/compute.h"

namespace cairn {

void Gemm(ThreadPool& pool, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
          float beta, float* C, int ldc) {
  pool.range(M, 4, [&](int64_t i0, int64_t i1) {
    std::vector<float> acc(N);
    for (int64_t i = i0; i < i1; i++) {
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int k = 0; k < K; k++) {
        const float a = ta ? A[(int64_t)k * lda + i] : A[i * lda + k];
        if (!tb) {
          const float* b = B + (int64_t)k * ldb;
          for (int j = 0; j < N; j++) acc[j] += a * b[j];
        } else {
          for (int j = 0; j < N; j++) acc[j] += a * B[(int64_t)j * ldb + k];
        }
      }
      float* c = C + i * ldc;
      for (int j = 0; j < N; j++) c[j] = alpha * acc[j] + (beta == 0.f ? 0.f : beta * c[j]);
    }
  });
}

int64_t ConvWorkspace(const ConvShape&, int) { return 0; }

void ConvForward(ThreadPool& pool, const ConvShape& s, const float* x, const float* k, float* y, float*) {
  pool.range((int64_t)s.n * s.oh, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const int b = r / s.oh, oy = r % s.oh;
      for (int ox = 0; ox < s.ow; ox++) {
        float* out = y + (((int64_t)b * s.oh + oy) * s.ow + ox) * s.cout;
        std::fill(out, out + s.cout, 0.f);
        for (int ky = 0; ky < s.kh; ky++) {
          const int iy = oy * s.sh + ky - s.padTop;
          if (iy < 0 || iy >= s.h) continue;
          for (int kx = 0; kx < s.kw; kx++) {
            const int ix = ox * s.sw + kx - s.padLeft;
            if (ix < 0 || ix >= s.w) continue;
            const float* in = x + (((int64_t)b * s.h + iy) * s.w + ix) * s.cin;
            const float* kk = k + ((int64_t)ky * s.kw + kx) * s.cin * s.cout;
            for (int ci = 0; ci < s.cin; ci++)
              for (int co = 0; co < s.cout; co++) out[co] += in[ci] * kk[ci * s.cout + co];
          }
        }
      }
    }
  });
}

void ConvBackwardData(ThreadPool& pool, const ConvShape& s, const float* dy, const float* k, float* dx, float*) {
  pool.range(s.n, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      float* dxb = dx + (int64_t)b * s.h * s.w * s.cin;
      std::fill(dxb, dxb + (int64_t)s.h * s.w * s.cin, 0.f);
      for (int oy = 0; oy < s.oh; oy++)
        for (int ox = 0; ox < s.ow; ox++) {
          const float* g = dy + (((int64_t)b * s.oh + oy) * s.ow + ox) * s.cout;
          for (int ky = 0; ky < s.kh; ky++) {
            const int iy = oy * s.sh + ky - s.padTop;
            if (iy < 0 || iy >= s.h) continue;
            for (int kx = 0; kx < s.kw; kx++) {
              const int ix = ox * s.sw + kx - s.padLeft;
              if (ix < 0 || ix >= s.w) continue;
              float* o = dxb + ((int64_t)iy * s.w + ix) * s.cin;
              const float* kk = k + ((int64_t)ky * s.kw + kx) * s.cin * s.cout;
              for (int ci = 0; ci < s.cin; ci++) {
                float acc = 0.f;
                for (int co = 0; co < s.cout; co++) acc += g[co] * kk[ci * s.cout + co];
                o[ci] += acc;
              }
            }
          }
        }
    }
  });
}

void ConvBackwardFilter(ThreadPool& pool, const ConvShape& s, const float* x, const float* dy, float* dk, float*) {
  const int64_t taps = (int64_t)s.kh * s.kw;
  pool.range(taps, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      const int ky = t / s.kw, kx = t % s.kw;
      float* kk = dk + t * s.cin * s.cout;
      std::fill(kk, kk + (int64_t)s.cin * s.cout, 0.f);
      for (int b = 0; b < s.n; b++)
        for (int oy = 0; oy < s.oh; oy++) {
          const int iy = oy * s.sh + ky - s.padTop;
          if (iy < 0 || iy >= s.h) continue;
          for (int ox = 0; ox < s.ow; ox++) {
            const int ix = ox * s.sw + kx - s.padLeft;
            if (ix < 0 || ix >= s.w) continue;
            const float* in = x + (((int64_t)b * s.h + iy) * s.w + ix) * s.cin;
            const float* g = dy + (((int64_t)b * s.oh + oy) * s.ow + ox) * s.cout;
            for (int ci = 0; ci < s.cin; ci++)
              for (int co = 0; co < s.cout; co++) kk[ci * s.cout + co] += in[ci] * g[co];
          }
        }
    }
  });
}

void MaxPoolForward(ThreadPool& pool, const PoolShape& s, const float* x, float* y, int32_t* am) {
  pool.range(s.n, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++)
      for (int oy = 0; oy < s.oh; oy++)
        for (int ox = 0; ox < s.ow; ox++)
          for (int c = 0; c < s.c; c++) {
            float best = -FLT_MAX;
            int32_t at = -1;
            for (int py = 0; py < s.ph; py++) {
              const int iy = oy * s.sh + py - s.padTop;
              if (iy < 0 || iy >= s.h) continue;
              for (int px = 0; px < s.pw; px++) {
                const int ix = ox * s.sw + px - s.padLeft;
                if (ix < 0 || ix >= s.w) continue;
                const int32_t idx = ((int32_t)iy * s.w + ix) * s.c + c;
                const float v = x[(int64_t)b * s.h * s.w * s.c + idx];
                if (at < 0 || v > best) best = v, at = idx;
              }
            }
            const int64_t o = (((int64_t)b * s.oh + oy) * s.ow + ox) * s.c + c;
            y[o] = best;
            am[o] = at;
          }
  });
}

void MaxPoolBackward(ThreadPool& pool, const PoolShape& s, const float* dy, const int32_t* am, float* dx) {
  pool.range(s.n, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      float* d = dx + (int64_t)b * s.h * s.w * s.c;
      std::fill(d, d + (int64_t)s.h * s.w * s.c, 0.f);
      const int64_t per = (int64_t)s.oh * s.ow * s.c;
      for (int64_t o = 0; o < per; o++)
        if (am[b * per + o] >= 0) d[am[b * per + o]] += dy[b * per + o];
    }
  });
}

void AvgPoolForward(ThreadPool& pool, const PoolShape& s, const float* x, float* y) {
  pool.range(s.n, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++)
      for (int oy = 0; oy < s.oh; oy++)
        for (int ox = 0; ox < s.ow; ox++)
          for (int c = 0; c < s.c; c++) {
            float sum = 0.f;
            int cnt = 0;
            for (int py = 0; py < s.ph; py++) {
              const int iy = oy * s.sh + py - s.padTop;
              if (iy < 0 || iy >= s.h) continue;
              for (int px = 0; px < s.pw; px++) {
                const int ix = ox * s.sw + px - s.padLeft;
                if (ix < 0 || ix >= s.w) continue;
                sum += x[(((int64_t)b * s.h + iy) * s.w + ix) * s.c + c];
                cnt++;
              }
            }
            y[(((int64_t)b * s.oh + oy) * s.ow + ox) * s.c + c] = cnt ? sum / cnt : 0.f;
          }
  });
}

void AvgPoolBackward(ThreadPool& pool, const PoolShape& s, const float* dy, float* dx) {
  pool.range(s.n, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      float* d = dx + (int64_t)b * s.h * s.w * s.c;
      std::fill(d, d + (int64_t)s.h * s.w * s.c, 0.f);
      for (int oy = 0; oy < s.oh; oy++)
        for (int ox = 0; ox < s.ow; ox++) {
          int cnt = 0;
          for (int py = 0; py < s.ph; py++) {
            const int iy = oy * s.sh + py - s.padTop;
            for (int px = 0; px < s.pw; px++) {
              const int ix = ox * s.sw + px - s.padLeft;
              if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) cnt++;
            }
          }
          for (int c = 0; c < s.c; c++) {
            const float g = dy[(((int64_t)b * s.oh + oy) * s.ow + ox) * s.c + c] / (cnt ? cnt : 1);
            for (int py = 0; py < s.ph; py++) {
              const int iy = oy * s.sh + py - s.padTop;
              if (iy < 0 || iy >= s.h) continue;
              for (int px = 0; px < s.pw; px++) {
                const int ix = ox * s.sw + px - s.padLeft;
                if (ix < 0 || ix >= s.w) continue;
                d[((int64_t)iy * s.w + ix) * s.c + c] += g;
              }
            }
          }
        }
    }
  });
}

const char* KernelIsa() { return "naive"; }

}  // namespace cairn
#endif
