// GEMM microbenchmark: GFLOP/s of cairn::sgemm per ISA path (single thread) on the shapes the
// MLP and CNN training steps run, and OpenBLAS's single-thread figure beside it when built with
// -DHAVE_OPENBLAS. Variants of a shape are timed in alternation (7 rounds of ~20 ms each) and the
// medians reported, so load from other processes hits them alike.
#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

#include "../kernels.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename(void);
#endif

using namespace cairn;

struct Shape { const char* name; bool ta, tb; int64_t M, N, K; };

static const Shape kShapes[] = {
    {"mlp fwd1  128x784 . 784x256", false, false, 128, 256, 784},
    {"mlp fwd2  128x256 . 256x128", false, false, 128, 128, 256},
    {"mlp fwd3  128x128 . 128x10", false, false, 128, 10, 128},
    {"mlp dW1   784x128^T . 128x256", true, false, 784, 256, 128},
    {"mlp dW2   256x128^T . 128x128", true, false, 256, 128, 128},
    {"mlp dX1   128x256 . (784x256)^T", false, true, 128, 784, 256},
    {"mlp dX2   128x128 . (256x128)^T", false, true, 128, 256, 128},
    {"mlp dW3   128x128^T . 128x10", true, false, 128, 10, 128},
    {"mlp dX3   128x10 . (128x10)^T", false, true, 128, 128, 10},
    {"cnn c1 fwd  43264x9 . 9x16", false, false, 43264, 16, 9},
    {"cnn c2 fwd  7744x144 . 144x32", false, false, 7744, 32, 144},
    {"cnn c2 bwdD 7744x32 . (144x32)^T", false, true, 7744, 144, 32},
    {"cnn c2 bwdF 7744x144^T . 7744x32", true, false, 144, 32, 7744},
    {"cnn c1 bwdF 43264x9^T . 43264x16", true, false, 9, 16, 43264},
    {"cnn dense 64x800 . 800x10", false, false, 64, 10, 800},
    {"cnn dW    64x800^T . 64x10", true, false, 800, 10, 64},
    {"cnn dX    64x10 . (800x10)^T", false, true, 64, 800, 10},
};

// Times every variant of one shape in turn, 7 rounds, so a busy neighbour slows all of them
// alike; returns each variant's median seconds per call. Time is this thread's CPU time
// (everything here runs on the calling thread), so other processes on a shared machine do not
// count, only their cache pollution does.
static double now_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}
static std::vector<double> median_seconds(const std::vector<std::function<void()>>& fs) {
  std::vector<int> reps(fs.size(), 1);
  for (size_t v = 0; v < fs.size(); ++v)
    for (;;) {  // calibrate each to ~20 ms a round
      const double t0 = now_s();
      for (int i = 0; i < reps[v]; ++i) fs[v]();
      if (now_s() - t0 > 0.02) break;
      reps[v] *= 2;
    }
  std::vector<std::vector<double>> t(fs.size());
  for (int round = 0; round < 7; ++round)
    for (size_t v = 0; v < fs.size(); ++v) {
      const double t0 = now_s();
      for (int i = 0; i < reps[v]; ++i) fs[v]();
      t[v].push_back((now_s() - t0) / reps[v]);
    }
  std::vector<double> med;
  for (auto& tv : t) {
    std::sort(tv.begin(), tv.end());
    med.push_back(tv[tv.size() / 2]);
  }
  return med;
}

// The CNN's conv and pool layers at batch 64, whole calls (im2col and col2im included), ms.
static void bench_cnn(const std::vector<Isa>& isas) {
  struct Layer { const char* name; Conv2DGeom g; };
  const Layer convs[] = {{"conv1 28x28x1 -> 26x26x16", {64, 28, 28, 1, 3, 3, 16, 1, 1, 0, 0, 26, 26}},
                         {"conv2 13x13x16 -> 11x11x32", {64, 13, 13, 16, 3, 3, 32, 1, 1, 0, 0, 11, 11}}};
  const ParallelFor pf = serial_for();
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1, 1);
  auto rnd = [&](int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = u(rng);
    return v;
  };
  std::printf("\nCNN layers, batch 64, single thread, CPU ms per call (median of 7)\n%-40s", "layer");
  for (Isa i : isas) std::printf(" %9s", isa_name(i));
  std::printf("\n");
  for (const Layer& l : convs) {
    const Conv2DGeom& g = l.g;
    auto x = rnd(g.n * g.h * g.w * g.cin), k = rnd(g.kh * g.kw * g.cin * g.cout), dy = rnd(g.n * g.oh * g.ow * g.cout);
    std::vector<float> y(dy.size()), dx(x.size()), dk(k.size()), ws(size_t(conv2d_workspace_floats(g)));
    const char* what[] = {"forward", "backward_data", "backward_filter"};
    for (int op = 0; op < 3; ++op) {
      std::vector<std::function<void()>> fs;
      for (Isa i : isas)
        fs.push_back([&, i, op] {
          force_isa(i);
          if (op == 0) conv2d_forward(g, x.data(), k.data(), y.data(), ws.data(), pf);
          if (op == 1) conv2d_backward_data(g, dy.data(), k.data(), dx.data(), ws.data(), pf);
          if (op == 2) conv2d_backward_filter(g, x.data(), dy.data(), dk.data(), ws.data(), pf);
        });
      const auto t = median_seconds(fs);
      char name[80];
      std::snprintf(name, sizeof name, "%s %s", l.name, what[op]);
      std::printf("%-40s", name);
      for (double v : t) std::printf(" %9.3f", v * 1e3);
      std::printf("\n");
    }
  }
  const Pool2DGeom pools[] = {{64, 26, 26, 16, 2, 2, 2, 2, 0, 0, 13, 13}, {64, 11, 11, 32, 2, 2, 2, 2, 0, 0, 5, 5}};
  for (const Pool2DGeom& g : pools) {
    auto x = rnd(g.n * g.h * g.w * g.c), dy = rnd(g.n * g.oh * g.ow * g.c);
    std::vector<float> y(dy.size()), dx(x.size());
    std::vector<int32_t> arg(dy.size());
    const auto t = median_seconds({[&] { maxpool2d_forward(g, x.data(), y.data(), arg.data(), pf); },
                                   [&] { maxpool2d_backward(g, dy.data(), arg.data(), dx.data(), pf); }});
    std::printf("maxpool2 %lldx%lldx%-3lld fwd / bwd %15.3f / %.3f\n", (long long)g.h, (long long)g.w, (long long)g.c,
                t[0] * 1e3, t[1] * 1e3);
  }
  force_isa(Isa::Avx512);
}

int main() {
#ifdef HAVE_OPENBLAS
  openblas_set_num_threads(1);
#endif
  const Isa best = detect_isa();
  std::vector<Isa> isas;
  for (Isa i : {Isa::Avx512, Isa::Avx2, Isa::Portable})
    if (int(i) <= int(best)) isas.push_back(i);
  std::printf("detected isa: %s; single thread; GFLOP/s by thread CPU time (median of 7)\n", isa_name(best));
#ifdef HAVE_OPENBLAS
  std::printf("openblas kernels: %s (choose with OPENBLAS_CORETYPE, e.g. SkylakeX for its AVX-512 ones)\n",
              openblas_get_corename());
#endif
  std::printf("%-36s", "shape (op(A) . op(B))");
  for (Isa i : isas) std::printf(" %9s", isa_name(i));
#ifdef HAVE_OPENBLAS
  std::printf(" %9s %8s", "openblas", "best/ob");
#endif
  std::printf("\n");
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  const ParallelFor pf = serial_for();
  for (const Shape& s : kShapes) {
    const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
    std::vector<float> A(size_t(s.M * s.K)), B(size_t(s.K * s.N)), C(size_t(s.M * s.N));
    for (float& v : A) v = u(rng);
    for (float& v : B) v = u(rng);
    const double flops = 2.0 * s.M * s.N * s.K;
    std::printf("%-36s", s.name);
    std::vector<std::function<void()>> fs;
    for (Isa i : isas)
      fs.push_back([&, i] {
        force_isa(i);
        sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), s.N, pf);
      });
#ifdef HAVE_OPENBLAS
    fs.push_back([&] {
      cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, int(s.M), int(s.N),
                  int(s.K), 1.0f, A.data(), int(lda), B.data(), int(ldb), 0.0f, C.data(), int(s.N));
    });
#endif
    const std::vector<double> t = median_seconds(fs);
    force_isa(Isa::Avx512);
    double bestg = 0;
    for (size_t i = 0; i < isas.size(); ++i) {
      const double g = flops / t[i] * 1e-9;
      bestg = std::max(bestg, g);
      std::printf(" %9.1f", g);
    }
#ifdef HAVE_OPENBLAS
    const double g = flops / t.back() * 1e-9;
    std::printf(" %9.1f %8.2f", g, bestg / g);
#endif
    std::printf("\n");
    std::fflush(stdout);
  }
  bench_cnn(isas);
  return 0;
}
