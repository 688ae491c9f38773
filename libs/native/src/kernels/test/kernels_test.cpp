// Correctness tests for the native kernels: each kernel against a naive double-precision
// reference on random shapes, on every ISA path up to the detected one, and bit-identical
// output with 1, 2 and 3 threads. Exits non-zero on the first failure.
//   make -C libs/native/src/kernels/test test
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../kernels.h"

using namespace cairn;

static int failures = 0;
static int checks = 0;
static std::mt19937 rng(12345);

#define EXPECT(cond, ...)                                   \
  do {                                                      \
    ++checks;                                               \
    if (!(cond)) {                                          \
      ++failures;                                           \
      std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);                    \
      std::fprintf(stderr, "\n");                           \
      if (failures > 20) std::exit(1);                      \
    }                                                       \
  } while (0)

// A ParallelFor over `threads` std::threads, cutting [0,n) into equal contiguous ranges. It
// ignores grain (a hint) so that even small problems get split and the determinism checks bite.
static ParallelFor thread_for(int threads) {
  return [threads](int64_t n, int64_t, const std::function<void(int64_t, int64_t)>& body) {
    if (n <= 0) return;
    int64_t parts = std::min<int64_t>(threads, n);
    if (parts <= 1) return body(0, n);
    std::vector<std::thread> ts;
    for (int64_t p = 1; p < parts; ++p) ts.emplace_back([&, p] { body(n * p / parts, n * (p + 1) / parts); });
    body(0, n / parts);
    for (auto& t : ts) t.join();
  };
}

static std::vector<float> rand_vec(size_t n, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}
static int64_t rint_(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }

static bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Runs f(pf) into a fresh output with 1, 2 and 3 threads and checks the outputs are identical.
template <class F>
static std::vector<float> run_threads(const char* what, F f) {
  std::vector<float> r1 = f(thread_for(1));
  std::vector<float> r2 = f(thread_for(2));
  std::vector<float> r3 = f(thread_for(3));
  EXPECT(same_bits(r1, r2) && same_bits(r1, r3), "%s: output differs between 1, 2 and 3 threads", what);
  return r1;
}

// |got - want| <= tol * scale + 1e-30, where scale is the sum of |terms| the reference added.
static void expect_close(const char* what, const std::vector<float>& got, const std::vector<double>& want,
                         const std::vector<double>& scale, double tol) {
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]);
    const bool ok = std::isnan(want[i]) ? std::isnan(got[i]) : err <= tol * scale[i] + 1e-30;
    if (!ok) {
      if (!bad) first = i;
      ++bad;
    }
  }
  EXPECT(bad == 0, "%s: %zu of %zu elements off, first [%zu] got %.9g want %.9g (scale %.3g)", what, bad, got.size(),
         first, got[first], want[first], scale[first]);
}

// ---------------- GEMM ----------------
static void test_gemm_case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, int64_t pad) {
  const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  const auto A = rand_vec(size_t((ta ? K : M) * lda)), B = rand_vec(size_t((tb ? N : K) * ldb));
  auto C0 = rand_vec(size_t(M * ldc));
  if (beta == 0.0f) std::fill(C0.begin(), C0.end(), std::numeric_limits<float>::quiet_NaN());  // must be ignored
  std::vector<double> want(size_t(M * ldc)), scale(size_t(M * ldc));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t o = size_t(i * ldc + j);
      if (j >= N) {  // padding columns must stay untouched
        want[o] = C0[o];
        scale[o] = 0;
        continue;
      }
      double s = 0, sa = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double a = ta ? A[size_t(k * lda + i)] : A[size_t(i * lda + k)];
        const double b = tb ? B[size_t(j * ldb + k)] : B[size_t(k * ldb + j)];
        s += a * b;
        sa += std::fabs(a * b);
      }
      const double c = beta == 0.0f ? 0.0 : double(beta) * C0[o];
      want[o] = double(alpha) * s + c;
      scale[o] = std::fabs(alpha) * sa + std::fabs(c) + 1e-6;
    }
  char what[160];
  std::snprintf(what, sizeof what, "sgemm %c%c M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%lld (%s)", ta ? 'T' : 'N',
                tb ? 'T' : 'N', (long long)M, (long long)N, (long long)K, alpha, beta, (long long)pad,
                isa_name(active_isa()));
  const auto got = run_threads(what, [&](const ParallelFor& pf) {
    auto C = C0;
    sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc, pf);
    return C;
  });
  // Each product and each addition rounds once: error <= ~(K+2) eps * sum|terms|.
  expect_close(what, got, want, scale, 1.2e-7 * double(K + 4));
}

static void test_gemm() {
  const int64_t edge[][3] = {{1, 1, 1}, {1, 37, 5}, {29, 1, 7}, {3, 5, 1}, {13, 33, 17}, {128, 10, 128},
                             {12, 32, 256}, {25, 65, 300}, {28, 16, 9}, {100, 17, 513}, {9, 16, 700},
                             // several column blocks: op(A) packed once up front
                             {37, 300, 129}, {130, 257, 70}, {61, 520, 600}};
  for (auto& s : edge)
    for (int t = 0; t < 4; ++t) test_gemm_case(t & 1, t & 2, s[0], s[1], s[2], 1.0f, 0.0f, 0);
  for (int it = 0; it < 40; ++it) {
    const int64_t M = rint_(1, 90), N = rint_(1, 90), K = rint_(1, 600);
    const float alphas[] = {1.0f, -0.5f, 2.0f};
    const float betas[] = {0.0f, 1.0f, 0.25f};
    test_gemm_case(rint_(0, 1), rint_(0, 1), M, N, K, alphas[rint_(0, 2)], betas[rint_(0, 2)], rint_(0, 3));
  }
  // alpha = 0 and K = 0 only scale C
  test_gemm_case(false, false, 5, 7, 0, 1.0f, 0.5f, 1);
  test_gemm_case(false, true, 5, 7, 3, 0.0f, 0.0f, 0);
}

// ---------------- Conv2D ----------------
static Conv2DGeom conv_geom(int64_t n, int64_t h, int64_t w, int64_t cin, int64_t kh, int64_t kw, int64_t cout,
                            int64_t sh, int64_t sw, bool same) {
  Conv2DGeom g{n, h, w, cin, kh, kw, cout, sh, sw, 0, 0, 0, 0};
  if (same) {  // tfjs conv_util 'same'
    g.oh = (h + sh - 1) / sh;
    g.ow = (w + sw - 1) / sw;
    g.padTop = std::max<int64_t>(0, (g.oh - 1) * sh + kh - h) / 2;
    g.padLeft = std::max<int64_t>(0, (g.ow - 1) * sw + kw - w) / 2;
  } else {
    g.oh = (h - kh + sh) / sh;
    g.ow = (w - kw + sw) / sw;
  }
  return g;
}

static void test_conv_case(const Conv2DGeom& g) {
  EXPECT(conv2d_geom_valid(g), "conv geometry rejected");
  const auto x = rand_vec(size_t(g.n * g.h * g.w * g.cin));
  const auto k = rand_vec(size_t(g.kh * g.kw * g.cin * g.cout));
  const auto dy = rand_vec(size_t(g.n * g.oh * g.ow * g.cout));
  std::vector<double> y(dy.size()), ys(dy.size()), dx(x.size()), dxs(x.size()), dk(k.size()), dks(k.size());
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox)
        for (int64_t ky = 0; ky < g.kh; ++ky)
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t iy = oy * g.sh - g.padTop + ky, ix = ox * g.sw - g.padLeft + kx;
            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
            for (int64_t ci = 0; ci < g.cin; ++ci)
              for (int64_t co = 0; co < g.cout; ++co) {
                const size_t xo = size_t(((n * g.h + iy) * g.w + ix) * g.cin + ci);
                const size_t ko = size_t(((ky * g.kw + kx) * g.cin + ci) * g.cout + co);
                const size_t yo = size_t(((n * g.oh + oy) * g.ow + ox) * g.cout + co);
                y[yo] += double(x[xo]) * k[ko];
                ys[yo] += std::fabs(double(x[xo]) * k[ko]);
                dx[xo] += double(dy[yo]) * k[ko];
                dxs[xo] += std::fabs(double(dy[yo]) * k[ko]);
                dk[ko] += double(x[xo]) * dy[yo];
                dks[ko] += std::fabs(double(x[xo]) * dy[yo]);
              }
          }
  for (auto* s : {&ys, &dxs, &dks})
    for (double& v : *s) v += 1e-6;
  char what[200];
  std::snprintf(what, sizeof what, "conv n=%lld %lldx%lldx%lld k=%lldx%lld->%lld s=%lld,%lld pad=%lld,%lld out=%lldx%lld (%s)",
                (long long)g.n, (long long)g.h, (long long)g.w, (long long)g.cin, (long long)g.kh, (long long)g.kw,
                (long long)g.cout, (long long)g.sh, (long long)g.sw, (long long)g.padTop, (long long)g.padLeft,
                (long long)g.oh, (long long)g.ow, isa_name(active_isa()));
  std::vector<float> ws(size_t(conv2d_workspace_floats(g)) + 1);
  const std::string w = what;
  const auto gy = run_threads((w + " forward").c_str(), [&](const ParallelFor& pf) {
    std::vector<float> out(dy.size(), std::numeric_limits<float>::quiet_NaN());
    conv2d_forward(g, x.data(), k.data(), out.data(), ws.data(), pf);
    return out;
  });
  const auto gdx = run_threads((w + " backward_data").c_str(), [&](const ParallelFor& pf) {
    std::vector<float> out(x.size(), std::numeric_limits<float>::quiet_NaN());
    conv2d_backward_data(g, dy.data(), k.data(), out.data(), ws.data(), pf);
    return out;
  });
  const auto gdk = run_threads((w + " backward_filter").c_str(), [&](const ParallelFor& pf) {
    std::vector<float> out(k.size(), std::numeric_limits<float>::quiet_NaN());
    conv2d_backward_filter(g, x.data(), dy.data(), out.data(), ws.data(), pf);
    return out;
  });
  const double kk = double(g.kh * g.kw * g.cin), kf = double(g.n * g.oh * g.ow);
  expect_close((w + " forward").c_str(), gy, y, ys, 1.2e-7 * (kk + 4));
  expect_close((w + " backward_data").c_str(), gdx, dx, dxs, 1.2e-7 * (g.kh * g.kw * g.cout + 4));
  expect_close((w + " backward_filter").c_str(), gdk, dk, dks, 1.2e-7 * (kf + 4));
}

static void test_conv() {
  Conv2DGeom bad = conv_geom(1, 5, 5, 1, 3, 3, 1, 1, 1, false);
  bad.sh = 0;
  EXPECT(!conv2d_geom_valid(bad), "stride 0 accepted");
  bad = conv_geom(1, 5, 5, 1, 3, 3, 1, 1, 1, false);
  bad.padLeft = -1;
  EXPECT(!conv2d_geom_valid(bad), "negative pad accepted");
  bad = conv_geom(1 << 20, 1 << 12, 1 << 12, 1, 3, 3, 1, 1, 1, false);
  EXPECT(!conv2d_geom_valid(bad), "2^44-float input accepted");
  // The CNN that matters, then odd ones: strides, same padding, 1x1 (pointwise path), and a
  // batch large enough to be cut into several im2col chunks.
  test_conv_case(conv_geom(3, 28, 28, 1, 3, 3, 16, 1, 1, false));
  test_conv_case(conv_geom(2, 13, 13, 16, 3, 3, 32, 1, 1, false));
  test_conv_case(conv_geom(7, 28, 28, 8, 3, 3, 5, 1, 1, false));
  test_conv_case(conv_geom(2, 9, 7, 3, 1, 1, 4, 1, 1, false));
  test_conv_case(conv_geom(2, 9, 7, 3, 1, 1, 4, 2, 2, true));
  test_conv_case(conv_geom(1, 1, 1, 1, 1, 1, 1, 1, 1, false));
  for (int it = 0; it < 14; ++it) {
    const int64_t kh = rint_(1, 5), kw = rint_(1, 5);
    const bool same = rint_(0, 1);
    const int64_t h = rint_(same ? 1 : kh, 12), w = rint_(same ? 1 : kw, 12);
    test_conv_case(conv_geom(rint_(1, 3), h, w, rint_(1, 7), kh, kw, rint_(1, 40), rint_(1, 2), rint_(1, 2), same));
  }
}

// ---------------- Pooling ----------------
static Pool2DGeom pool_geom(int64_t n, int64_t h, int64_t w, int64_t c, int64_t ph, int64_t pw, int64_t sh,
                            int64_t sw, bool same) {
  const Conv2DGeom cg = conv_geom(n, h, w, c, ph, pw, c, sh, sw, same);
  return {n, h, w, c, ph, pw, sh, sw, cg.padTop, cg.padLeft, cg.oh, cg.ow};
}

static void test_pool_case(const Pool2DGeom& g, bool ties) {
  EXPECT(pool2d_geom_valid(g), "pool geometry rejected");
  auto x = rand_vec(size_t(g.n * g.h * g.w * g.c));
  if (ties)
    for (float& v : x) v = std::round(v * 2);  // few distinct values: many ties
  const auto dy = rand_vec(size_t(g.n * g.oh * g.ow * g.c));
  const size_t ny = dy.size();
  std::vector<double> ymax(ny), yavg(ny), dxmax(x.size()), dxavg(x.size());
  std::vector<int32_t> amax(ny);
  const double mult = 1.0 / double(g.ph * g.pw);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox)
        for (int64_t c = 0; c < g.c; ++c) {
          const size_t yo = size_t(((n * g.oh + oy) * g.ow + ox) * g.c + c);
          double best = -INFINITY, sum = 0;
          int32_t arg = -1;
          int cnt = 0;
          for (int64_t wy = 0; wy < g.ph; ++wy)
            for (int64_t wx = 0; wx < g.pw; ++wx) {
              const int64_t iy = oy * g.sh - g.padTop + wy, ix = ox * g.sw - g.padLeft + wx;
              if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
              const int32_t xo = int32_t(((n * g.h + iy) * g.w + ix) * g.c + c);
              if (x[size_t(xo)] > best) best = x[size_t(xo)], arg = xo;
              sum += x[size_t(xo)];
              ++cnt;
              dxavg[size_t(xo)] += dy[yo] * mult;
            }
          ymax[yo] = best;
          amax[yo] = arg;
          yavg[yo] = sum / cnt;
          if (arg >= 0) dxmax[size_t(arg)] += dy[yo];
        }
  char what[160];
  std::snprintf(what, sizeof what, "pool n=%lld %lldx%lldx%lld win=%lldx%lld s=%lld,%lld pad=%lld,%lld (%s)",
                (long long)g.n, (long long)g.h, (long long)g.w, (long long)g.c, (long long)g.ph, (long long)g.pw,
                (long long)g.sh, (long long)g.sw, (long long)g.padTop, (long long)g.padLeft, isa_name(active_isa()));
  const std::string w = what;
  std::vector<int32_t> arg(ny);
  const auto gmax = run_threads((w + " max").c_str(), [&](const ParallelFor& pf) {
    std::vector<float> y(ny);
    maxpool2d_forward(g, x.data(), y.data(), arg.data(), pf);
    return y;
  });
  EXPECT(arg == amax, "%s: argmax differs from the reference (first max on ties)", what);
  const auto gdmax = run_threads((w + " max backward").c_str(), [&](const ParallelFor& pf) {
    std::vector<float> dx(x.size(), std::numeric_limits<float>::quiet_NaN());
    maxpool2d_backward(g, dy.data(), arg.data(), dx.data(), pf);
    return dx;
  });
  const auto gavg = run_threads((w + " avg").c_str(), [&](const ParallelFor& pf) {
    std::vector<float> y(ny);
    avgpool2d_forward(g, x.data(), y.data(), pf);
    return y;
  });
  const auto gdavg = run_threads((w + " avg backward").c_str(), [&](const ParallelFor& pf) {
    std::vector<float> dx(x.size(), std::numeric_limits<float>::quiet_NaN());
    avgpool2d_backward(g, dy.data(), dx.data(), pf);
    return dx;
  });
  const double win = double(g.ph * g.pw);
  std::vector<double> s1(ny, 1.0), s2(x.size(), 1.0);
  expect_close((w + " max").c_str(), gmax, ymax, s1, 0.0);
  expect_close((w + " max backward").c_str(), gdmax, dxmax, s2, 1.2e-7 * (win + 2));
  expect_close((w + " avg").c_str(), gavg, yavg, s1, 1.2e-7 * (win + 2));
  expect_close((w + " avg backward").c_str(), gdavg, dxavg, s2, 1.2e-7 * (win + 2));
}

static void test_pool() {
  Pool2DGeom pbad = pool_geom(1 << 12, 1 << 10, 1 << 10, 1, 2, 2, 2, 2, false);
  EXPECT(!pool2d_geom_valid(pbad), "pool input of 2^32 floats accepted (argmax is int32)");
  test_pool_case(pool_geom(4, 26, 26, 16, 2, 2, 2, 2, false), false);
  test_pool_case(pool_geom(2, 11, 11, 32, 2, 2, 2, 2, false), true);
  test_pool_case(pool_geom(2, 7, 9, 3, 3, 3, 2, 2, true), true);
  test_pool_case(pool_geom(2, 7, 9, 3, 3, 2, 1, 1, true), false);
  for (int it = 0; it < 12; ++it) {
    const int64_t ph = rint_(1, 4), pw = rint_(1, 4);
    const bool same = rint_(0, 1);
    test_pool_case(pool_geom(rint_(1, 3), rint_(same ? 1 : ph, 11), rint_(same ? 1 : pw, 11), rint_(1, 9), ph, pw,
                             rint_(1, 3), rint_(1, 3), same),
                   rint_(0, 1));
  }
  // A window of only -inf: no element is chosen, -inf out, no gradient.
  const Pool2DGeom g = pool_geom(1, 2, 2, 1, 2, 2, 2, 2, false);
  std::vector<float> x(4, -INFINITY), y(1), dx(4, 7.0f);
  std::vector<int32_t> a(1);
  const float dy = 1.0f;
  maxpool2d_forward(g, x.data(), y.data(), a.data(), serial_for());
  maxpool2d_backward(g, &dy, a.data(), dx.data(), serial_for());
  EXPECT(a[0] == -1 && y[0] == -INFINITY && dx[0] == 0 && dx[3] == 0, "maxpool over -inf: argmax %d", a[0]);
}

// ---------------- Row helpers ----------------
static double ref_act(Act a, double v) {
  switch (a) {
    case Act::Linear: return v;
    case Act::Relu: return v > 0 ? v : 0;
    case Act::Sigmoid: return 1 / (1 + std::exp(-v));
    case Act::Tanh: return std::tanh(v);
    case Act::Elu: return v > 0 ? v : std::expm1(v);
  }
  return v;
}
static double ref_dact(Act a, double y) {
  switch (a) {
    case Act::Linear: return 1;
    case Act::Relu: return y > 0 ? 1 : 0;
    case Act::Sigmoid: return y * (1 - y);
    case Act::Tanh: return 1 - y * y;
    case Act::Elu: return y > 0 ? 1 : y + 1;
  }
  return 1;
}

static void test_rows() {
  const char* names[] = {"linear", "relu", "sigmoid", "tanh", "elu"};
  const int64_t shapes[][2] = {{1, 1}, {3, 17}, {128, 256}, {5, 10}, {64, 33}, {2, 1000}, {1000, 16}, {777, 33}};
  for (auto& s : shapes)
    for (int ai = 0; ai < 5; ++ai) {
      const Act act = Act(ai);
      const int64_t R = s[0], Cn = s[1];
      const auto x = rand_vec(size_t(R * Cn), -12, 12);
      const auto bias = rand_vec(size_t(Cn), -1, 1);
      const auto dy = rand_vec(size_t(R * Cn));
      std::vector<double> want(x.size()), sc(x.size());
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < Cn; ++c) {
          const size_t o = size_t(r * Cn + c);
          want[o] = ref_act(act, double(float(x[o] + bias[size_t(c)])));
          // relative, with an absolute floor near 0; elu's exp(x)-1 (as tfjs) loses digits near 0-
          sc[o] = std::fabs(want[o]) + (act == Act::Elu ? 0.05 : 1e-6);
        }
      char what[120];
      std::snprintf(what, sizeof what, "bias_act_forward %s %lldx%lld (%s)", names[ai], (long long)R, (long long)Cn,
                    isa_name(active_isa()));
      const auto y = run_threads(what, [&](const ParallelFor& pf) {
        std::vector<float> out(x);  // in place
        bias_act_forward(R, Cn, out.data(), bias.data(), act, out.data(), pf);
        return out;
      });
      expect_close(what, y, want, sc, 4e-6);
      // backward from this y: dz and the column sums
      std::vector<double> wdz(x.size()), sdz(x.size()), wdb(static_cast<size_t>(Cn)), sdb(static_cast<size_t>(Cn), 1e-6);
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < Cn; ++c) {
          const size_t o = size_t(r * Cn + c);
          wdz[o] = dy[o] * ref_dact(act, y[o]);
          sdz[o] = std::fabs(wdz[o]) + 1e-30;
          wdb[size_t(c)] += wdz[o];
          sdb[size_t(c)] += std::fabs(wdz[o]);
        }
      std::snprintf(what, sizeof what, "bias_act_backward %s %lldx%lld (%s)", names[ai], (long long)R, (long long)Cn,
                    isa_name(active_isa()));
      std::vector<float> dz;
      const auto db = run_threads(what, [&](const ParallelFor& pf) {
        std::vector<float> out(size_t(Cn), NAN), z(dy.size());
        bias_act_backward(R, Cn, y.data(), dy.data(), act, z.data(), out.data(), pf);
        dz = z;
        return out;
      });
      expect_close(what, dz, wdz, sdz, 3e-7);
      expect_close(what, db, wdb, sdb, 1.2e-7 * double(R + 4));
    }
  // softmax
  for (auto& s : shapes) {
    const int64_t R = s[0], Cn = s[1];
    const auto x = rand_vec(size_t(R * Cn), -30, 30);
    std::vector<double> want(x.size()), sc(x.size());
    for (int64_t r = 0; r < R; ++r) {
      double m = -INFINITY, sum = 0;
      for (int64_t c = 0; c < Cn; ++c) m = std::max(m, double(x[size_t(r * Cn + c)]));
      for (int64_t c = 0; c < Cn; ++c) sum += std::exp(double(x[size_t(r * Cn + c)]) - m);
      for (int64_t c = 0; c < Cn; ++c) {
        const size_t o = size_t(r * Cn + c);
        want[o] = std::exp(double(x[o]) - m) / sum;
        sc[o] = want[o] + 1e-37;
      }
    }
    char what[100];
    std::snprintf(what, sizeof what, "softmax_rows %lldx%lld (%s)", (long long)R, (long long)Cn, isa_name(active_isa()));
    const auto y = run_threads(what, [&](const ParallelFor& pf) {
      std::vector<float> out(x.size());
      softmax_rows(R, Cn, x.data(), out.data(), pf);
      return out;
    });
    expect_close(what, y, want, sc, 1.2e-7 * double(Cn + 8) + 1e-6);
  }
}

int main() {
  const Isa best = detect_isa();
  std::printf("detected isa: %s\n", isa_name(best));
  for (Isa isa : {Isa::Portable, Isa::Avx2, Isa::Avx512}) {
    if (int(isa) > int(best)) continue;
    force_isa(isa);
    EXPECT(active_isa() == isa, "force_isa(%s) not active", isa_name(isa));
    const int before = failures;
    test_gemm();
    test_conv();
    test_pool();
    test_rows();
    std::printf("%-8s %s\n", isa_name(isa), failures == before ? "ok" : "FAILED");
  }
  force_isa(Isa::Avx512);
  EXPECT(active_isa() == best, "force_isa(avx512) should fall back to the detected %s", isa_name(best));
  std::printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
