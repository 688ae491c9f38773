// GEMM microbenchmark: GFLOP/s of cairn::sgemm per ISA path (single thread) on the shapes the
// MLP and CNN training steps run, and OpenBLAS's single-thread figure beside it when built with
// -DHAVE_OPENBLAS. Medians of 7 timed repetitions, each at least ~30 ms.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "../kernels.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
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
    {"cnn c1 fwd  43264x9 . 9x16", false, false, 43264, 16, 9},
    {"cnn c2 fwd  7744x144 . 144x32", false, false, 7744, 32, 144},
    {"cnn c2 bwdD 7744x32 . (144x32)^T", false, true, 7744, 144, 32},
    {"cnn c2 bwdF 7744x144^T . 7744x32", true, false, 144, 32, 7744},
    {"cnn c1 bwdF 43264x9^T . 43264x16", true, false, 9, 16, 43264},
    {"cnn dense 64x800 . 800x10", false, false, 64, 10, 800},
};

template <class F>
static double median_seconds_per_call(F f) {
  using clk = std::chrono::steady_clock;
  int reps = 1;
  for (;;) {  // calibrate to ~30 ms
    auto t0 = clk::now();
    for (int i = 0; i < reps; ++i) f();
    double s = std::chrono::duration<double>(clk::now() - t0).count();
    if (s > 0.03) break;
    reps *= 2;
  }
  std::vector<double> t;
  for (int r = 0; r < 7; ++r) {
    auto t0 = clk::now();
    for (int i = 0; i < reps; ++i) f();
    t.push_back(std::chrono::duration<double>(clk::now() - t0).count() / reps);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main() {
#ifdef HAVE_OPENBLAS
  openblas_set_num_threads(1);
#endif
  const Isa best = detect_isa();
  std::vector<Isa> isas;
  for (Isa i : {Isa::Avx512, Isa::Avx2, Isa::Portable})
    if (int(i) <= int(best)) isas.push_back(i);
  std::printf("detected isa: %s; single thread; GFLOP/s (median of 7)\n", isa_name(best));
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
    double bestg = 0;
    for (Isa i : isas) {
      force_isa(i);
      double t = median_seconds_per_call(
          [&] { sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), s.N, pf); });
      double g = flops / t * 1e-9;
      bestg = std::max(bestg, g);
      std::printf(" %9.1f", g);
    }
    force_isa(Isa::Avx512);
#ifdef HAVE_OPENBLAS
    double t = median_seconds_per_call([&] {
      cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, int(s.M), int(s.N),
                  int(s.K), 1.0f, A.data(), int(lda), B.data(), int(ldb), 0.0f, C.data(), int(s.N));
    });
    double g = flops / t * 1e-9;
    std::printf(" %9.1f %8.2f", g, bestg / g);
#endif
    std::printf("\n");
    std::fflush(stdout);
  }
  return 0;
}
