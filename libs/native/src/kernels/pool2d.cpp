// Max and average pooling on NHWC with tfjs's semantics (tfjs-backend-cpu pool_utils and
// avgPoolGrad): windows clipped to the real input, max keeps the first strictly greater value
// starting from -inf, average divides by the number of real inputs, and avg's gradient spreads
// dy / (ph*pw) as tfjs does.
#include <algorithm>
#include <limits>

#include "kernels.h"

namespace cairn {

namespace {
struct Window { int64_t y0, y1, x0, x1; };  // clipped input rows [y0,y1), columns [x0,x1)
Window window(const Pool2DGeom& g, int64_t oy, int64_t ox) {
  const int64_t yc = oy * g.sh - g.padTop, xc = ox * g.sw - g.padLeft;
  return {std::max<int64_t>(0, yc), std::min(g.h, yc + g.ph), std::max<int64_t>(0, xc), std::min(g.w, xc + g.pw)};
}
}  // namespace

// Channels go in blocks through local arrays: they cannot alias x, so the compare-and-select
// loop vectorizes.
constexpr int64_t kCBlock = 64;

bool pool2d_geom_valid(const Pool2DGeom& g) {
  const int64_t lim = int64_t(1) << 40;
  for (int64_t v : {g.n, g.h, g.w, g.c, g.ph, g.pw, g.sh, g.sw, g.oh, g.ow})
    if (v < 1 || v > lim) return false;
  if (g.padTop < 0 || g.padLeft < 0 || g.padTop > lim || g.padLeft > lim) return false;
  return double(g.n) * g.h * g.w * g.c < 2147483648.0 && double(g.n) * g.oh * g.ow * g.c < double(lim);
}

void maxpool2d_forward(const Pool2DGeom& g, const float* x, float* y, int32_t* argmax, const ParallelFor& pf) {
  const float ninf = -std::numeric_limits<float>::infinity();
  pf(g.n * g.oh, 4, [&](int64_t b, int64_t e) {
    float best[kCBlock];
    int32_t arg[kCBlock];
    for (int64_t row = b; row < e; ++row) {
      const int64_t n = row / g.oh, oy = row % g.oh;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const Window wd = window(g, oy, ox);
        for (int64_t c0 = 0; c0 < g.c; c0 += kCBlock) {
          const int64_t cn = std::min(kCBlock, g.c - c0);
          for (int64_t c = 0; c < cn; ++c) best[c] = ninf, arg[c] = -1;
          for (int64_t iy = wd.y0; iy < wd.y1; ++iy)
            for (int64_t ix = wd.x0; ix < wd.x1; ++ix) {
              const int64_t base = ((n * g.h + iy) * g.w + ix) * g.c + c0;
              const float* xi = x + base;
              const int32_t ib = int32_t(base);
              for (int c = 0; c < int(cn); ++c) {  // branch-free, so it vectorizes
                const float v = xi[c], bc = best[c];
                const int32_t m = -int32_t(v > bc);  // all ones where v is a new max
                best[c] = v > bc ? v : bc;
                arg[c] = (arg[c] & ~m) | ((ib + c) & m);
              }
            }
          const int64_t o = (row * g.ow + ox) * g.c + c0;
          std::copy(best, best + cn, y + o);
          std::copy(arg, arg + cn, argmax + o);
        }
      }
    }
  });
}

void maxpool2d_backward(const Pool2DGeom& g, const float* dy, const int32_t* argmax, float* dx, const ParallelFor& pf) {
  // Scatter; every argmax of image n points into image n, so threads take whole images.
  const int64_t inImg = g.h * g.w * g.c, outImg = g.oh * g.ow * g.c;
  pf(g.n, 1, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) {
      std::fill(dx + n * inImg, dx + (n + 1) * inImg, 0.0f);
      for (int64_t i = n * outImg; i < (n + 1) * outImg; ++i)
        if (argmax[i] >= 0) dx[argmax[i]] += dy[i];
    }
  });
}

void avgpool2d_forward(const Pool2DGeom& g, const float* x, float* y, const ParallelFor& pf) {
  pf(g.n * g.oh, 4, [&](int64_t b, int64_t e) {
    float acc[kCBlock];
    for (int64_t row = b; row < e; ++row) {
      const int64_t n = row / g.oh, oy = row % g.oh;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const Window wd = window(g, oy, ox);
        const float count = float((wd.y1 - wd.y0) * (wd.x1 - wd.x0));
        for (int64_t c0 = 0; c0 < g.c; c0 += kCBlock) {
          const int64_t cn = std::min(kCBlock, g.c - c0);
          for (int64_t c = 0; c < cn; ++c) acc[c] = 0.0f;
          for (int64_t iy = wd.y0; iy < wd.y1; ++iy)
            for (int64_t ix = wd.x0; ix < wd.x1; ++ix) {
              const float* xi = x + ((n * g.h + iy) * g.w + ix) * g.c + c0;
              for (int64_t c = 0; c < cn; ++c) acc[c] += xi[c];
            }
          float* yo = y + (row * g.ow + ox) * g.c + c0;
          for (int64_t c = 0; c < cn; ++c) yo[c] = acc[c] / count;  // 0/0 = NaN for an all-padding window, as tfjs
        }
      }
    }
  });
}

void avgpool2d_backward(const Pool2DGeom& g, const float* dy, float* dx, const ParallelFor& pf) {
  // Gather: dx(iy,ix) = sum over windows covering it of dy / (ph*pw), windows in (oy,ox) order.
  const float mult = 1.0f / float(g.ph * g.pw);
  pf(g.n * g.h, 4, [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      const int64_t n = row / g.h, iy = row % g.h;
      // oy with oy*sh - padTop <= iy < oy*sh - padTop + ph
      const int64_t oyLo = std::max<int64_t>(0, (iy + g.padTop - g.ph + g.sh) / g.sh -
                                                    ((iy + g.padTop - g.ph + g.sh) % g.sh < 0 ? 1 : 0));
      const int64_t oyHi = std::min<int64_t>(g.oh - 1, (iy + g.padTop) / g.sh);
      for (int64_t ix = 0; ix < g.w; ++ix) {
        const int64_t oxLo = std::max<int64_t>(0, (ix + g.padLeft - g.pw + g.sw) / g.sw -
                                                      ((ix + g.padLeft - g.pw + g.sw) % g.sw < 0 ? 1 : 0));
        const int64_t oxHi = std::min<int64_t>(g.ow - 1, (ix + g.padLeft) / g.sw);
        float* d = dx + (row * g.w + ix) * g.c;
        std::fill(d, d + g.c, 0.0f);
        for (int64_t oy = oyLo; oy <= oyHi; ++oy)
          for (int64_t ox = oxLo; ox <= oxHi; ++ox) {
            const float* s = dy + ((n * g.oh + oy) * g.ow + ox) * g.c;
            for (int64_t c = 0; c < g.c; ++c) d[c] += s[c];
          }
        for (int64_t c = 0; c < g.c; ++c) d[c] *= mult;
      }
    }
  });
}

}  // namespace cairn
