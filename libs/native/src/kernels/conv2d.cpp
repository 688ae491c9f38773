// Conv2D on NHWC with tfjs's [kh,kw,cin,cout] kernels, as im2col + sgemm.
// The batch is cut into chunks of whole images (sizes set by the geometry alone) so the im2col
// matrix stays near L2 size and the workspace stays small. Backward-filter sums the chunks in
// batch order and each chunk's GEMM splits only over kernel rows / output channels, so dk is
// bit-identical for any thread count.
#include <algorithm>
#include <cstring>

#include "kernels.h"

namespace cairn {

namespace {

constexpr int64_t kChunkFloats = int64_t(1) << 18;  // ~1 MiB of im2col per chunk

int64_t col_width(const Conv2DGeom& g) { return g.kh * g.kw * g.cin; }

// A 1x1, stride-1, unpadded conv is a plain GEMM over x: no im2col needed.
bool pointwise(const Conv2DGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.padTop == 0 && g.padLeft == 0 && g.oh == g.h &&
         g.ow == g.w;
}

int64_t images_per_chunk(const Conv2DGeom& g) {
  const int64_t perImage = std::max<int64_t>(1, g.oh * g.ow * col_width(g));
  return std::max<int64_t>(1, std::min<int64_t>(g.n, kChunkFloats / perImage));
}

// Copies / adds n floats; small n (a 3-wide window of one channel is 3 floats) is where a
// memcpy call per piece would cost more than the copy.
inline void copy_floats(float* d, const float* s, int64_t n) {
  if (n >= 32) std::memcpy(d, s, sizeof(float) * size_t(n));
  else for (int64_t i = 0; i < n; ++i) d[i] = s[i];
}
inline void zero_floats(float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = 0.0f;
}

// The kernel columns [kx0, kx1) of output column ox that fall inside the input; for those,
// the input pixels ix = ox*sw - padLeft + kx are consecutive, so (kx, ci) is one contiguous run.
struct ColSpan { int64_t ix0, kx0, kx1; };
inline ColSpan col_span(const Conv2DGeom& g, int64_t ox) {
  const int64_t ix0 = ox * g.sw - g.padLeft;
  const int64_t kx0 = std::max<int64_t>(0, -ix0), kx1 = std::min<int64_t>(g.kw, g.w - ix0);
  return {ix0, kx0, std::max(kx0, kx1)};
}

// col[r, (ky,kx,ci)] for the output pixels of images [n0, n0+nimg).
void im2col(const Conv2DGeom& g, const float* x, int64_t n0, int64_t nimg, float* col, const ParallelFor& pf) {
  const int64_t kcw = col_width(g), krow = g.kw * g.cin;
  if (g.cin == 1) {
    // One channel (a first layer): each piece is a single float, so fill the output row's
    // columns with a tight select loop per (ky, kx) instead of pieces of runs.
    pf(nimg * g.oh, 4, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t img = row / g.oh, oy = row % g.oh;
        float* base = col + row * g.ow * kcw;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const int64_t iy = oy * g.sh - g.padTop + ky;
          const bool inRow = iy >= 0 && iy < g.h;
          const float* s = x + ((n0 + img) * g.h + (inRow ? iy : 0)) * g.w;
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            float* d = base + ky * g.kw + kx;
            for (int64_t ox = 0; ox < g.ow; ++ox) {
              const int64_t ix = ox * g.sw - g.padLeft + kx;
              d[ox * kcw] = inRow && ix >= 0 && ix < g.w ? s[ix] : 0.0f;
            }
          }
        }
      }
    });
    return;
  }
  pf(nimg * g.oh, 4, [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      const int64_t img = row / g.oh, oy = row % g.oh;
      const float* xi = x + (n0 + img) * g.h * g.w * g.cin;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        float* dst = col + (row * g.ow + ox) * kcw;
        const ColSpan sp = col_span(g, ox);
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          const int64_t iy = oy * g.sh - g.padTop + ky;
          float* d = dst + ky * krow;
          if (iy < 0 || iy >= g.h) {
            zero_floats(d, krow);
            continue;
          }
          zero_floats(d, sp.kx0 * g.cin);
          copy_floats(d + sp.kx0 * g.cin, xi + (iy * g.w + sp.ix0 + sp.kx0) * g.cin, (sp.kx1 - sp.kx0) * g.cin);
          zero_floats(d + sp.kx1 * g.cin, (g.kw - sp.kx1) * g.cin);
        }
      }
    }
  });
}

// dx += col2im(dcol) for images [n0, n0+nimg); threads take whole images, so every dx element
// is summed in one fixed order.
void col2im_add(const Conv2DGeom& g, const float* dcol, int64_t n0, int64_t nimg, float* dx, const ParallelFor& pf) {
  const int64_t kcw = col_width(g);
  pf(nimg, 1, [&](int64_t b, int64_t e) {
    for (int64_t img = b; img < e; ++img) {
      float* xi = dx + (n0 + img) * g.h * g.w * g.cin;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const float* src = dcol + ((img * g.oh + oy) * g.ow + ox) * kcw;
          const ColSpan sp = col_span(g, ox);
          const int64_t n = (sp.kx1 - sp.kx0) * g.cin;
          for (int64_t ky = 0; ky < g.kh; ++ky) {
            const int64_t iy = oy * g.sh - g.padTop + ky;
            if (iy < 0 || iy >= g.h) continue;
            const float* s = src + (ky * g.kw + sp.kx0) * g.cin;
            float* d = xi + (iy * g.w + sp.ix0 + sp.kx0) * g.cin;
            for (int64_t i = 0; i < n; ++i) d[i] += s[i];
          }
        }
    }
  });
}

}  // namespace

bool conv2d_geom_valid(const Conv2DGeom& g) {
  const int64_t lim = int64_t(1) << 40;
  for (int64_t v : {g.n, g.h, g.w, g.cin, g.kh, g.kw, g.cout, g.sh, g.sw, g.oh, g.ow})
    if (v < 1 || v > lim) return false;
  if (g.padTop < 0 || g.padLeft < 0 || g.padTop > lim || g.padLeft > lim) return false;
  // products in doubles so an overflow cannot slip through
  const double in = double(g.n) * g.h * g.w * g.cin, out = double(g.n) * g.oh * g.ow * g.cout;
  const double ker = double(g.kh) * g.kw * g.cin * g.cout, col = double(g.oh) * g.ow * g.kh * g.kw * g.cin;
  return in < lim && out < lim && ker < lim && col < lim;
}

int64_t conv2d_workspace_floats(const Conv2DGeom& g) {
  if (pointwise(g)) return 0;
  return images_per_chunk(g) * g.oh * g.ow * col_width(g);
}

void conv2d_forward(const Conv2DGeom& g, const float* x, const float* k, float* y, float* ws, const ParallelFor& pf) {
  const int64_t kcw = col_width(g), pix = g.oh * g.ow;
  if (pointwise(g)) {
    sgemm(false, false, g.n * pix, g.cout, g.cin, 1.0f, x, g.cin, k, g.cout, 0.0f, y, g.cout, pf);
    return;
  }
  const int64_t chunk = images_per_chunk(g);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t nimg = std::min(chunk, g.n - n0);
    im2col(g, x, n0, nimg, ws, pf);
    sgemm(false, false, nimg * pix, g.cout, kcw, 1.0f, ws, kcw, k, g.cout, 0.0f, y + n0 * pix * g.cout, g.cout, pf);
  }
}

void conv2d_backward_data(const Conv2DGeom& g, const float* dy, const float* k, float* dx, float* ws,
                          const ParallelFor& pf) {
  const int64_t kcw = col_width(g), pix = g.oh * g.ow;
  if (pointwise(g)) {
    sgemm(false, true, g.n * pix, g.cin, g.cout, 1.0f, dy, g.cout, k, g.cout, 0.0f, dx, g.cin, pf);
    return;
  }
  const int64_t imgSize = g.h * g.w * g.cin;
  pf(g.n, 1, [&](int64_t b, int64_t e) { std::fill(dx + b * imgSize, dx + e * imgSize, 0.0f); });
  const int64_t chunk = images_per_chunk(g);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t nimg = std::min(chunk, g.n - n0);
    // dcol = dy_chunk . k^T, k seen as [kcw, cout]
    sgemm(false, true, nimg * pix, kcw, g.cout, 1.0f, dy + n0 * pix * g.cout, g.cout, k, g.cout, 0.0f, ws, kcw, pf);
    col2im_add(g, ws, n0, nimg, dx, pf);
  }
}

void conv2d_backward_filter(const Conv2DGeom& g, const float* x, const float* dy, float* dk, float* ws,
                            const ParallelFor& pf) {
  const int64_t kcw = col_width(g), pix = g.oh * g.ow;
  if (g.n * pix == 0) {
    std::fill(dk, dk + kcw * g.cout, 0.0f);
    return;
  }
  if (pointwise(g)) {
    sgemm(true, false, g.cin, g.cout, g.n * pix, 1.0f, x, g.cin, dy, g.cout, 0.0f, dk, g.cout, pf);
    return;
  }
  const int64_t chunk = images_per_chunk(g);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t nimg = std::min(chunk, g.n - n0);
    im2col(g, x, n0, nimg, ws, pf);
    // dk (+)= col^T . dy_chunk
    sgemm(true, false, kcw, g.cout, nimg * pix, 1.0f, ws, kcw, dy + n0 * pix * g.cout, g.cout, n0 == 0 ? 0.0f : 1.0f,
          dk, g.cout, pf);
  }
}

}  // namespace cairn
