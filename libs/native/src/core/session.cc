#include "core/session.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/activations.h"
#include "core/optimizer.h"

namespace cairn {

namespace {

constexpr float kEpsilon = 1e-7f;  // tfjs-layers' epsilon() on float32 backends

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int64_t LastDim(const Node& n) { return n.shape.empty() ? 1 : n.shape.back(); }

bool HasTrainable(const Plan& p, const Node& n) {
  for (int i : {n.kernel, n.bias, n.gamma, n.beta})
    if (i >= 0 && p.params[i].trainable) return true;
  return false;
}

}  // namespace

Session::Session(Plan plan, int threads) : plan_(std::move(plan)), pool_(threads) {
  if (plan_.nodes.empty() || plan_.nodes[0].op != Op::Input) throw InputError("plan: node 0 must be the input");
  if (plan_.output <= 0 || plan_.output >= static_cast<int>(plan_.nodes.size())) throw InputError("plan: output node out of range");
  if (plan_.maxBatch <= 0) throw InputError("plan: maxBatch must be positive");
  for (size_t i = 0; i < plan_.nodes.size(); i++) {
    const Node& n = plan_.nodes[i];
    for (int in : n.inputs)
      if (in < 0 || in >= static_cast<int>(i)) throw InputError("plan: node " + std::to_string(i) + " reads a node that is not before it");
    for (int p : {n.kernel, n.bias, n.gamma, n.beta, n.movingMean, n.movingVar})
      if (p >= static_cast<int>(plan_.params.size())) throw InputError("plan: parameter index out of range");
    if (n.size <= 0) throw InputError("plan: node " + std::to_string(i) + " has no elements");
  }
  validate();
  allocate();
}

// Every size the kernels will index by, checked against the buffers they index into: a
// plan that does not add up is an error here, never a read past a buffer later.
void Session::validate() const {
  const auto& nodes = plan_.nodes;
  auto fail = [](size_t i, const std::string& what) { throw InputError("plan: node " + std::to_string(i) + ": " + what); };
  auto paramSize = [&](size_t i, int p, const char* what) -> int64_t {
    if (p < 0) fail(i, std::string("needs a ") + what);
    return plan_.params[p].size;
  };
  for (size_t i = 1; i < nodes.size(); i++) {
    const Node& n = nodes[i];
    const Node& in = nodes[n.inputs[0]];
    const bool many = n.op == Op::Add || n.op == Op::Concat;
    if (!many && n.inputs.size() != 1) fail(i, "takes exactly one input");
    const int64_t last = LastDim(n);
    switch (n.op) {
      case Op::Input: fail(i, "a second input"); break;
      case Op::Dense: {
        const int64_t K = LastDim(in);
        if (n.units <= 0 || n.units != last || in.size % K != 0 || n.size != (in.size / K) * n.units) fail(i, "dense shapes do not add up");
        if (paramSize(i, n.kernel, "kernel") != K * n.units) fail(i, "dense kernel size");
        if (n.bias >= 0 && paramSize(i, n.bias, "bias") != n.units) fail(i, "dense bias size");
        break;
      }
      case Op::Conv2D: {
        const ConvShape& c = n.conv;
        if (c.h <= 0 || c.w <= 0 || c.cin <= 0 || c.kh <= 0 || c.kw <= 0 || c.sh <= 0 || c.sw <= 0 || c.oh <= 0 || c.ow <= 0 || c.cout <= 0 || c.padTop < 0 || c.padLeft < 0 || c.padTop >= c.kh || c.padLeft >= c.kw)
          fail(i, "conv geometry out of range");
        if (in.size != static_cast<int64_t>(c.h) * c.w * c.cin || n.size != static_cast<int64_t>(c.oh) * c.ow * c.cout) fail(i, "conv shapes do not add up");
        if ((c.oh - 1) * c.sh - c.padTop >= c.h || (c.ow - 1) * c.sw - c.padLeft >= c.w) fail(i, "conv output larger than its input allows");
        if (paramSize(i, n.kernel, "kernel") != static_cast<int64_t>(c.kh) * c.kw * c.cin * c.cout) fail(i, "conv kernel size");
        if (n.bias >= 0 && paramSize(i, n.bias, "bias") != c.cout) fail(i, "conv bias size");
        break;
      }
      case Op::MaxPool:
      case Op::AvgPool: {
        const PoolShape& p = n.pool;
        if (p.h <= 0 || p.w <= 0 || p.c <= 0 || p.ph <= 0 || p.pw <= 0 || p.sh <= 0 || p.sw <= 0 || p.oh <= 0 || p.ow <= 0 || p.padTop < 0 || p.padLeft < 0 || p.padTop >= p.ph || p.padLeft >= p.pw)
          fail(i, "pool geometry out of range");
        if (in.size != static_cast<int64_t>(p.h) * p.w * p.c || n.size != static_cast<int64_t>(p.oh) * p.ow * p.c) fail(i, "pool shapes do not add up");
        if ((p.oh - 1) * p.sh - p.padTop >= p.h || (p.ow - 1) * p.sw - p.padLeft >= p.w) fail(i, "pool output larger than its input allows");
        break;
      }
      case Op::GlobalAvgPool:
        if (in.size % n.size != 0 || LastDim(in) != n.size) fail(i, "global pooling shapes do not add up");
        break;
      case Op::Reshape:
      case Op::Activation:
        if (in.size != n.size) fail(i, "sizes differ from the input's");
        break;
      case Op::Dropout:
        if (in.size != n.size) fail(i, "sizes differ from the input's");
        if (!(n.rate >= 0.f && n.rate < 1.f)) fail(i, "dropout rate must be in [0, 1)");
        break;
      case Op::BatchNorm:
        if (in.size != n.size || n.size % last != 0) fail(i, "batchnorm shapes do not add up");
        if (paramSize(i, n.gamma, "gamma") != last || paramSize(i, n.beta, "beta") != last || paramSize(i, n.movingMean, "moving mean") != last || paramSize(i, n.movingVar, "moving variance") != last)
          fail(i, "batchnorm parameter sizes");
        if (!(n.epsilon > 0.f)) fail(i, "batchnorm epsilon must be positive");
        break;
      case Op::Embedding:
        if (n.inputs[0] != 0) fail(i, "an embedding must read the model's input (its indices are checked when data is loaded)");
        if (n.vocab <= 0 || n.size != in.size * last) fail(i, "embedding shapes do not add up");
        if (paramSize(i, n.kernel, "table") != static_cast<int64_t>(n.vocab) * last) fail(i, "embedding table size");
        break;
      case Op::Add:
        for (int k : n.inputs)
          if (nodes[k].size != n.size) fail(i, "add inputs differ in size");
        break;
      case Op::Concat: {
        int64_t sum = 0;
        for (int k : n.inputs) {
          const int64_t d = LastDim(nodes[k]);
          if (nodes[k].size / d != n.size / last || nodes[k].size % d != 0) fail(i, "concatenated inputs differ in rows");
          sum += d;
        }
        if (sum != last) fail(i, "concatenated widths do not add up");
        break;
      }
    }
  }
  const int64_t out = nodes[plan_.output].size;
  if (plan_.loss == Loss::SparseCategorical ? plan_.labelSize != 1 : plan_.labelSize != out) throw InputError("plan: labelSize does not fit the output and the loss");
  for (Metric m : plan_.metrics)
    if ((m == Metric::SparseCategoricalAccuracy || m == Metric::SparseCategorical) != (plan_.loss == Loss::SparseCategorical)) throw InputError("plan: a metric does not fit the targets");
}

void Session::allocate() {
  const int64_t B = plan_.maxBatch;
  auto& nodes = plan_.nodes;
  int64_t maxBuf = 0;
  for (size_t i = 0; i < nodes.size(); i++) {
    Node& n = nodes[i];
    if (n.op == Op::Input) {
      n.needGrad = false;
    } else {
      n.needGrad = HasTrainable(plan_, n);
      if (n.op != Op::Embedding)
        for (int in : n.inputs) n.needGrad = n.needGrad || nodes[in].needGrad;
    }
    if (n.op == Op::Reshape) {
      n.outBuf = nodes[n.inputs[0]].outBuf;
      n.gradBuf = nodes[n.inputs[0]].gradBuf;
      continue;
    }
    n.outBuf = static_cast<int>(bufs_.size());
    bufs_.emplace_back(B * n.size);
    if (n.needGrad) {
      n.gradBuf = static_cast<int>(bufs_.size());
      bufs_.emplace_back(B * n.size);
    }
    maxBuf = std::max(maxBuf, B * n.size);
  }
  for (const Node& n : nodes)
    if (n.op == Op::Embedding && n.inputs[0] == 0) embeddingInput_ = true;
  gradWritten_.assign(bufs_.size(), 0);
  scratch_.assign(maxBuf, 0.f);
  params_.resize(plan_.params.size());
  grads_.resize(plan_.params.size());
  for (size_t i = 0; i < plan_.params.size(); i++) {
    params_[i].assign(plan_.params[i].size, 0.f);
    if (plan_.params[i].trainable) grads_[i].assign(plan_.params[i].size, 0.f);
  }
  aux_.resize(nodes.size());
  aux2_.resize(nodes.size());
  argmax_.resize(nodes.size());
  int64_t ws = 0;
  for (size_t i = 0; i < nodes.size(); i++) {
    Node& n = nodes[i];
    if (n.op == Op::Dropout) aux_[i].assign(B * n.size, 1.f);
    if (n.op == Op::BatchNorm) {
      aux_[i].assign(B * n.size, 0.f);
      aux2_[i].assign(2 * LastDim(n), 0.f);
    }
    if (n.op == Op::MaxPool) argmax_[i].assign(B * n.size, 0);
    if (n.op == Op::Conv2D) {
      ConvShape s = n.conv;
      s.n = static_cast<int>(B);
      ws = std::max(ws, ConvWorkspace(s, pool_.threads()));
    }
  }
  ws_.assign(ws, 0.f);
  labels_.assign(B * plan_.labelSize, 0.f);
  resetOptimizer();
}

std::vector<float>& Session::slot(int i, int s) {
  if (i < 0 || i >= static_cast<int>(params_.size()) || s < 0 || s > 2) throw InputError("optimizer slot out of range");
  auto& v = slots_[s][i];
  if (v.size() != params_[i].size()) v.assign(params_[i].size(), 0.f);
  return v;
}

void Session::resetOptimizer() {
  for (auto& s : slots_) s.assign(params_.size(), {});
  iterations = 0;
  accBeta1 = static_cast<float>(plan_.optimizer.beta1);
  accBeta2 = static_cast<float>(plan_.optimizer.beta2);
}

void Session::checkInput(const float* xs, int64_t rows, const char* what) const {
  const int64_t fs = plan_.nodes[0].size;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < fs; j++) {
      const float v = xs[r * fs + j];
      if (!std::isfinite(v)) throw InputError(std::string(what) + ": features of row " + std::to_string(r) + " hold " + (std::isnan(v) ? "NaN" : "Infinity") + " (element " + std::to_string(j) + ")");
      if (embeddingInput_ && (v != std::floor(v) || v < 0)) throw InputError(std::string(what) + ": row " + std::to_string(r) + " feeds an Embedding but holds " + std::to_string(v) + " (not an index)");
    }
  if (embeddingInput_)
    for (const Node& n : plan_.nodes)
      if (n.op == Op::Embedding && n.inputs[0] == 0)
        for (int64_t i = 0; i < rows * fs; i++)
          if (xs[i] >= n.vocab) throw InputError(std::string(what) + ": row " + std::to_string(i / fs) + " holds index " + std::to_string(static_cast<int64_t>(xs[i])) + ", outside the Embedding's vocabulary of " + std::to_string(n.vocab));
}

void Session::setSplit(int which, std::vector<float> xs, std::vector<float> ys, int64_t rows) {
  static const char* names[] = {"train", "validation", "test"};
  if (which < 0 || which > 2) throw InputError("split must be 0 (train), 1 (validation) or 2 (test)");
  const char* name = names[which];
  if (rows <= 0) throw InputError(std::string(name) + " split has no rows");
  if (static_cast<int64_t>(xs.size()) != rows * plan_.nodes[0].size)
    throw InputError(std::string(name) + " split: features hold " + std::to_string(xs.size()) + " values, the model's input needs " + std::to_string(rows) + " x " + std::to_string(plan_.nodes[0].size));
  if (static_cast<int64_t>(ys.size()) != rows * plan_.labelSize)
    throw InputError(std::string(name) + " split: targets hold " + std::to_string(ys.size()) + " values, the model's output needs " + std::to_string(rows) + " x " + std::to_string(plan_.labelSize));
  checkInput(xs.data(), rows, (std::string(name) + " split").c_str());
  const int64_t classes = plan_.nodes[plan_.output].size;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < plan_.labelSize; j++) {
      const float v = ys[r * plan_.labelSize + j];
      if (!std::isfinite(v)) throw InputError(std::string(name) + " split: targets of row " + std::to_string(r) + " hold " + (std::isnan(v) ? "NaN" : "Infinity"));
      if (plan_.loss == Loss::SparseCategorical && (v != std::floor(v) || v < 0 || v >= classes))
        throw InputError(std::string(name) + " split: row " + std::to_string(r) + " has label " + std::to_string(v) + ", not a class index below " + std::to_string(classes));
    }
  splits_[which] = Split{std::move(xs), std::move(ys), rows};
}

const Split& Session::split(int which) const {
  if (which < 0 || which > 2 || splits_[which].rows == 0) throw InputError("that split was not loaded");
  return splits_[which];
}

void Session::loadBatch(const Split& s, const int32_t* idx, int n) {
  const int64_t fs = plan_.nodes[0].size, ls = plan_.labelSize;
  float* x = out(0);
  pool_.range(n, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      std::memcpy(x + r * fs, s.xs.data() + static_cast<int64_t>(idx[r]) * fs, fs * sizeof(float));
      std::memcpy(labels_.data() + r * ls, s.ys.data() + static_cast<int64_t>(idx[r]) * ls, ls * sizeof(float));
    }
  });
}

void Session::forward(int n, bool training, uint64_t seed, int64_t step, const float* masks) {
  auto& nodes = plan_.nodes;
  int64_t maskAt = 0;
  for (size_t i = 1; i < nodes.size(); i++) {
    Node& nd = nodes[i];
    const Node& in0 = nodes[nd.inputs.empty() ? 0 : nd.inputs[0]];
    float* y = out(static_cast<int>(i));
    const float* x = out(nd.inputs.empty() ? 0 : nd.inputs[0]);
    switch (nd.op) {
      case Op::Input:
        break;
      case Op::Dense: {
        const int64_t K = LastDim(in0), rows = n * (in0.size / K);
        Gemm(pool_, false, false, static_cast<int>(rows), nd.units, static_cast<int>(K), 1.f, x, static_cast<int>(K), params_[nd.kernel].data(), nd.units, 0.f, y, nd.units);
        BiasActForward(pool_, rows, nd.units, y, nd.bias >= 0 ? params_[nd.bias].data() : nullptr, nd.act);
        break;
      }
      case Op::Conv2D: {
        ConvShape s = nd.conv;
        s.n = n;
        ConvForward(pool_, s, x, params_[nd.kernel].data(), y, ws_.data());
        BiasActForward(pool_, static_cast<int64_t>(n) * s.oh * s.ow, s.cout, y, nd.bias >= 0 ? params_[nd.bias].data() : nullptr, nd.act);
        break;
      }
      case Op::MaxPool: {
        PoolShape s = nd.pool;
        s.n = n;
        MaxPoolForward(pool_, s, x, y, argmax_[i].data());
        break;
      }
      case Op::AvgPool: {
        PoolShape s = nd.pool;
        s.n = n;
        AvgPoolForward(pool_, s, x, y);
        break;
      }
      case Op::GlobalAvgPool: {
        const int64_t c = nd.size, hw = in0.size / c;
        const float inv = 1.f / static_cast<float>(hw);
        pool_.range(n, 4, [&](int64_t b0, int64_t b1) {
          for (int64_t b = b0; b < b1; b++) {
            float* o = y + b * c;
            std::fill(o, o + c, 0.f);
            for (int64_t p = 0; p < hw; p++)
              for (int64_t j = 0; j < c; j++) o[j] += x[(b * hw + p) * c + j];
            for (int64_t j = 0; j < c; j++) o[j] *= inv;
          }
        });
        break;
      }
      case Op::Reshape:
        break;  // shares its input's buffer
      case Op::Dropout: {
        const int64_t total = static_cast<int64_t>(n) * nd.size;
        float* mask = aux_[i].data();
        if (!training || nd.rate <= 0.f) {
          std::memcpy(y, x, total * sizeof(float));
          std::fill(mask, mask + total, 1.f);
          break;
        }
        if (masks) {
          // tfjs's own multipliers (floor(u + keep) / keep), drawn in JS from the run's seeded stream.
          const float* m = masks + maskAt;
          maskAt += total;
          pool_.range(total, 4096, [&](int64_t e0, int64_t e1) {
            for (int64_t e = e0; e < e1; e++) {
              mask[e] = m[e];
              y[e] = x[e] * m[e];
            }
          });
          break;
        }
        const float scale = 1.f / (1.f - nd.rate);
        const uint64_t key = Mix(Mix(seed) ^ Mix(static_cast<uint64_t>(step) * 0x100000001b3ull + i));
        pool_.range(total, 4096, [&](int64_t e0, int64_t e1) {
          for (int64_t e = e0; e < e1; e++) {
            const float u = static_cast<float>(Mix(key ^ static_cast<uint64_t>(e)) >> 40) * (1.f / 16777216.f);
            mask[e] = u >= nd.rate ? scale : 0.f;
            y[e] = x[e] * mask[e];
          }
        });
        break;
      }
      case Op::BatchNorm: {
        const int64_t c = LastDim(nd), rows = static_cast<int64_t>(n) * (nd.size / c);
        const float* gamma = params_[nd.gamma].data();
        const float* beta = params_[nd.beta].data();
        float* mm = params_[nd.movingMean].data();
        float* mv = params_[nd.movingVar].data();
        if (!training) {
          pool_.range(rows, 32, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; r++)
              for (int64_t j = 0; j < c; j++) y[r * c + j] = (x[r * c + j] - mm[j]) * gamma[j] / std::sqrt(mv[j] + nd.epsilon) + beta[j];
          });
          break;
        }
        float* xhat = aux_[i].data();
        float* invstd = aux2_[i].data();
        const float decay = static_cast<float>(1.0 - nd.momentum);
        pool_.range(c, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t j = c0; j < c1; j++) {
            double s = 0;
            for (int64_t r = 0; r < rows; r++) s += x[r * c + j];
            const float mean = static_cast<float>(s / rows);
            double v = 0;
            for (int64_t r = 0; r < rows; r++) {
              const double d = x[r * c + j] - mean;
              v += d * d;
            }
            const float var = static_cast<float>(v / rows);
            const float is = 1.f / std::sqrt(var + nd.epsilon);
            invstd[j] = is;
            for (int64_t r = 0; r < rows; r++) {
              const float h = (x[r * c + j] - mean) * is;
              xhat[r * c + j] = h;
              y[r * c + j] = gamma[j] * h + beta[j];
            }
            mm[j] = mm[j] - (mm[j] - mean) * decay;
            mv[j] = mv[j] - (mv[j] - var) * decay;
          }
        });
        break;
      }
      case Op::Activation: {
        const int64_t total = static_cast<int64_t>(n) * nd.size, w = LastDim(nd);
        std::memcpy(y, x, total * sizeof(float));
        pool_.range(total / w, 32, [&](int64_t r0, int64_t r1) { ActivateRows(nd.act, y + r0 * w, r1 - r0, w); });
        break;
      }
      case Op::Embedding: {
        const int64_t L = in0.size, dim = LastDim(nd);
        const float* table = params_[nd.kernel].data();
        pool_.range(static_cast<int64_t>(n) * L, 64, [&](int64_t e0, int64_t e1) {
          for (int64_t e = e0; e < e1; e++) {
            const int64_t id = static_cast<int64_t>(x[e]);
            if (id < 0 || id >= nd.vocab) {
              std::fill(y + e * dim, y + (e + 1) * dim, 0.f);  // validated on load; never read out of bounds
              continue;
            }
            std::memcpy(y + e * dim, table + id * dim, dim * sizeof(float));
          }
        });
        break;
      }
      case Op::Add: {
        const int64_t total = static_cast<int64_t>(n) * nd.size;
        pool_.range(total, 4096, [&](int64_t e0, int64_t e1) {
          for (int64_t e = e0; e < e1; e++) {
            float s = 0.f;
            for (int in : nd.inputs) s += out(in)[e];
            y[e] = s;
          }
        });
        break;
      }
      case Op::Concat: {
        const int64_t D = LastDim(nd), rows = static_cast<int64_t>(n) * (nd.size / D);
        pool_.range(rows, 32, [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; r++) {
            int64_t at = 0;
            for (int in : nd.inputs) {
              const int64_t d = LastDim(nodes[in]);
              std::memcpy(y + r * D + at, out(in) + r * d, d * sizeof(float));
              at += d;
            }
          }
        });
        break;
      }
    }
  }
}

double Session::lossAndMetrics(int n, bool withGrad, std::vector<double>& sums) {
  const Node& o = plan_.nodes[plan_.output];
  const int64_t W = o.size, ls = plan_.labelSize;
  const float* p = out(plan_.output);
  float* g = withGrad ? grad(plan_.output) : nullptr;
  const float* t = labels_.data();
  const float invN = 1.f / static_cast<float>(n);
  std::vector<double> rowLoss(n), rowMetric(static_cast<size_t>(n) * plan_.metrics.size());
  const size_t M = plan_.metrics.size();
  pool_.range(n, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* pr = p + r * W;
      const float* tr = t + r * ls;
      float* gr = g ? g + r * W : nullptr;
      auto argmax = [](const float* v, int64_t w) {
        int64_t best = 0;
        for (int64_t j = 1; j < w; j++)
          if (v[j] > v[best]) best = j;
        return best;
      };
      auto target = [&](int64_t j) -> float { return plan_.loss == Loss::SparseCategorical ? (static_cast<int64_t>(tr[0]) == j ? 1.f : 0.f) : tr[j]; };
      auto crossentropy = [&]() {
        float s = 0.f;
        for (int64_t j = 0; j < W; j++) s += pr[j];
        double l = 0;
        for (int64_t j = 0; j < W; j++) {
          const float tj = target(j);
          if (tj == 0.f) continue;
          const float q = std::min(std::max(pr[j] / s, kEpsilon), 1.f - kEpsilon);
          l -= static_cast<double>(tj) * std::log(q);
        }
        return l;
      };
      auto binary = [&]() {
        double l = 0;
        for (int64_t j = 0; j < W; j++) {
          const float q = std::min(std::max(pr[j], kEpsilon), 1.f - kEpsilon);
          const float z = std::log(q / (1.f - q));
          l += std::max(z, 0.f) - z * tr[j] + std::log1p(std::exp(-std::fabs(z)));
        }
        return l / W;
      };
      auto squared = [&]() {
        double l = 0;
        for (int64_t j = 0; j < W; j++) {
          const double d = pr[j] - tr[j];
          l += d * d;
        }
        return l / W;
      };
      double loss = 0;
      switch (plan_.loss) {
        case Loss::SparseCategorical:
        case Loss::Categorical: {
          loss = crossentropy();
          if (gr) {
            float T = 0.f;
            for (int64_t j = 0; j < W; j++) T += target(j);
            // Fused softmax + cross-entropy: the gradient at the logits.
            for (int64_t j = 0; j < W; j++) gr[j] = (pr[j] * T - target(j)) * invN;
          }
          break;
        }
        case Loss::Binary: {
          loss = binary();
          if (gr) {
            const float s = invN / static_cast<float>(W);
            for (int64_t j = 0; j < W; j++) gr[j] = (pr[j] - tr[j]) * s;  // fused sigmoid + cross-entropy
          }
          break;
        }
        case Loss::MeanSquared: {
          loss = squared();
          if (gr) {
            const float s = 2.f * invN / static_cast<float>(W);
            for (int64_t j = 0; j < W; j++) gr[j] = (pr[j] - tr[j]) * s;
          }
          break;
        }
      }
      rowLoss[r] = loss;
      for (size_t m = 0; m < M; m++) {
        double v = 0;
        switch (plan_.metrics[m]) {
          case Metric::CategoricalAccuracy: v = argmax(pr, W) == argmax(tr, ls) ? 1 : 0; break;
          case Metric::SparseCategoricalAccuracy: v = argmax(pr, W) == static_cast<int64_t>(tr[0]) ? 1 : 0; break;
          case Metric::BinaryAccuracy: {
            for (int64_t j = 0; j < W; j++) v += tr[j] == (pr[j] > 0.5f ? 1.f : 0.f) ? 1 : 0;
            v /= W;
            break;
          }
          case Metric::MeanSquared: v = squared(); break;
          case Metric::Categorical:
          case Metric::SparseCategorical: v = crossentropy(); break;
          case Metric::Binary: v = binary(); break;
        }
        rowMetric[r * M + m] = v;
      }
    }
  });
  double total = 0;
  for (int r = 0; r < n; r++) total += rowLoss[r];
  sums.assign(M, 0);
  for (int r = 0; r < n; r++)
    for (size_t m = 0; m < M; m++) sums[m] += rowMetric[r * M + m];
  if (withGrad) gradWritten_[o.gradBuf] = 1;
  return total;
}

void Session::backward(int n) {
  auto& nodes = plan_.nodes;
  // Writes `src` into an input's gradient, or adds it when another consumer wrote there first.
  auto deliver = [&](int in, const float* src, int64_t count) {
    float* d = grad(in);
    const bool add = gradWritten_[nodes[in].gradBuf];
    pool_.range(count, 8192, [&](int64_t e0, int64_t e1) {
      if (add)
        for (int64_t e = e0; e < e1; e++) d[e] += src[e];
      else
        std::memcpy(d + e0, src + e0, (e1 - e0) * sizeof(float));
    });
    gradWritten_[nodes[in].gradBuf] = 1;
  };

  for (int i = static_cast<int>(nodes.size()) - 1; i >= 1; i--) {
    Node& nd = nodes[i];
    if (!nd.needGrad || nd.op == Op::Reshape) continue;
    if (!gradWritten_[nd.gradBuf]) {
      // Nothing downstream reached the loss: every gradient of this layer is zero.
      for (int p : {nd.kernel, nd.bias, nd.gamma, nd.beta})
        if (p >= 0 && !grads_[p].empty()) std::fill(grads_[p].begin(), grads_[p].end(), 0.f);
      continue;
    }
    float* dy = grad(i);
    const float* y = out(i);
    const int in = nd.inputs.empty() ? 0 : nd.inputs[0];
    const Node& in0 = nodes[in];
    const float* x = out(in);
    const bool skipAct = plan_.fused && i == plan_.output;
    const bool wantInput = in0.needGrad;
    switch (nd.op) {
      case Op::Input:
      case Op::Reshape:
        break;
      case Op::Dense: {
        const int64_t K = LastDim(in0), rows = n * (in0.size / K);
        BiasActBackward(pool_, rows, nd.units, y, dy, skipAct ? ActKind::Linear : nd.act, nd.bias >= 0 && plan_.params[nd.bias].trainable ? grads_[nd.bias].data() : nullptr);
        if (plan_.params[nd.kernel].trainable)
          Gemm(pool_, true, false, static_cast<int>(K), nd.units, static_cast<int>(rows), 1.f, x, static_cast<int>(K), dy, nd.units, 0.f, grads_[nd.kernel].data(), nd.units);
        if (wantInput) {
          const bool add = gradWritten_[in0.gradBuf];
          Gemm(pool_, false, true, static_cast<int>(rows), static_cast<int>(K), nd.units, 1.f, dy, nd.units, params_[nd.kernel].data(), nd.units, add ? 1.f : 0.f, grad(in), static_cast<int>(K));
          gradWritten_[in0.gradBuf] = 1;
        }
        break;
      }
      case Op::Conv2D: {
        ConvShape s = nd.conv;
        s.n = n;
        const int64_t rows = static_cast<int64_t>(n) * s.oh * s.ow;
        BiasActBackward(pool_, rows, s.cout, y, dy, skipAct ? ActKind::Linear : nd.act, nd.bias >= 0 && plan_.params[nd.bias].trainable ? grads_[nd.bias].data() : nullptr);
        if (plan_.params[nd.kernel].trainable) ConvBackwardFilter(pool_, s, x, dy, grads_[nd.kernel].data(), ws_.data());
        if (wantInput) {
          if (!gradWritten_[in0.gradBuf]) {
            ConvBackwardData(pool_, s, dy, params_[nd.kernel].data(), grad(in), ws_.data());
            gradWritten_[in0.gradBuf] = 1;
          } else {
            ConvBackwardData(pool_, s, dy, params_[nd.kernel].data(), scratch_.data(), ws_.data());
            deliver(in, scratch_.data(), n * in0.size);
          }
        }
        break;
      }
      case Op::MaxPool:
      case Op::AvgPool: {
        if (!wantInput) break;
        PoolShape s = nd.pool;
        s.n = n;
        float* target = gradWritten_[in0.gradBuf] ? scratch_.data() : grad(in);
        if (nd.op == Op::MaxPool)
          MaxPoolBackward(pool_, s, dy, argmax_[i].data(), target);
        else
          AvgPoolBackward(pool_, s, dy, target);
        if (target == scratch_.data())
          deliver(in, scratch_.data(), n * in0.size);
        else
          gradWritten_[in0.gradBuf] = 1;
        break;
      }
      case Op::GlobalAvgPool: {
        if (!wantInput) break;
        const int64_t c = nd.size, hw = in0.size / c;
        const float inv = 1.f / static_cast<float>(hw);
        float* s = scratch_.data();
        pool_.range(n, 4, [&](int64_t b0, int64_t b1) {
          for (int64_t b = b0; b < b1; b++)
            for (int64_t p = 0; p < hw; p++)
              for (int64_t j = 0; j < c; j++) s[(b * hw + p) * c + j] = dy[b * c + j] * inv;
        });
        deliver(in, s, n * in0.size);
        break;
      }
      case Op::Dropout: {
        if (!wantInput) break;
        const float* mask = aux_[i].data();
        const int64_t total = static_cast<int64_t>(n) * nd.size;
        pool_.range(total, 8192, [&](int64_t e0, int64_t e1) {
          for (int64_t e = e0; e < e1; e++) dy[e] *= mask[e];
        });
        deliver(in, dy, total);
        break;
      }
      case Op::BatchNorm: {
        const int64_t c = LastDim(nd), rows = static_cast<int64_t>(n) * (nd.size / c);
        const float* xhat = aux_[i].data();
        const float* invstd = aux2_[i].data();
        const float* gamma = params_[nd.gamma].data();
        float* dgamma = grads_[nd.gamma].empty() ? nullptr : grads_[nd.gamma].data();
        float* dbeta = grads_[nd.beta].empty() ? nullptr : grads_[nd.beta].data();
        float* s = scratch_.data();
        pool_.range(c, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t j = c0; j < c1; j++) {
            double sg = 0, sgx = 0;
            for (int64_t r = 0; r < rows; r++) {
              sg += dy[r * c + j];
              sgx += dy[r * c + j] * xhat[r * c + j];
            }
            if (dgamma) dgamma[j] = static_cast<float>(sgx);
            if (dbeta) dbeta[j] = static_cast<float>(sg);
            const float k = gamma[j] * invstd[j], mg = static_cast<float>(sg / rows), mgx = static_cast<float>(sgx / rows);
            for (int64_t r = 0; r < rows; r++) s[r * c + j] = k * (dy[r * c + j] - mg - xhat[r * c + j] * mgx);
          }
        });
        if (wantInput) deliver(in, s, rows * c);
        break;
      }
      case Op::Activation: {
        const int64_t total = static_cast<int64_t>(n) * nd.size, w = LastDim(nd);
        if (!skipAct) pool_.range(total / w, 32, [&](int64_t r0, int64_t r1) { ActivationBackwardRows(nd.act, y + r0 * w, dy + r0 * w, r1 - r0, w); });
        if (wantInput) deliver(in, dy, total);
        break;
      }
      case Op::Embedding: {
        if (!plan_.params[nd.kernel].trainable) break;
        const int64_t L = in0.size, dim = LastDim(nd);
        float* dt = grads_[nd.kernel].data();
        std::fill(grads_[nd.kernel].begin(), grads_[nd.kernel].end(), 0.f);
        for (int64_t e = 0; e < static_cast<int64_t>(n) * L; e++) {
          const int64_t id = static_cast<int64_t>(x[e]);
          if (id < 0 || id >= nd.vocab) continue;
          for (int64_t j = 0; j < dim; j++) dt[id * dim + j] += dy[e * dim + j];
        }
        break;
      }
      case Op::Add: {
        for (int k : nd.inputs)
          if (nodes[k].needGrad) deliver(k, dy, static_cast<int64_t>(n) * nd.size);
        break;
      }
      case Op::Concat: {
        const int64_t D = LastDim(nd), rows = static_cast<int64_t>(n) * (nd.size / D);
        int64_t at = 0;
        for (int k : nd.inputs) {
          const int64_t d = LastDim(nodes[k]);
          if (nodes[k].needGrad) {
            float* s = scratch_.data();
            pool_.range(rows, 32, [&](int64_t r0, int64_t r1) {
              for (int64_t r = r0; r < r1; r++) std::memcpy(s + r * d, dy + r * D + at, d * sizeof(float));
            });
            deliver(k, s, rows * d);
          }
          at += d;
        }
        break;
      }
    }
  }
}

void Session::optimizerStep() {
  const OptimizerSpec& o = plan_.optimizer;
  for (size_t i = 0; i < params_.size(); i++) {
    if (!plan_.params[i].trainable) continue;
    float* w = params_[i].data();
    const float* g = grads_[i].data();
    const int64_t size = static_cast<int64_t>(params_[i].size());
    float* s0 = o.kind == OptKind::Sgd ? nullptr : slot(static_cast<int>(i), 0).data();
    float* s1 = (o.kind == OptKind::Adam || o.kind == OptKind::RmsProp) ? slot(static_cast<int>(i), 1).data() : nullptr;
    float* s2 = (o.kind == OptKind::RmsProp && o.centered) ? slot(static_cast<int>(i), 2).data() : nullptr;
    pool_.range(size, 16384, [&](int64_t e0, int64_t e1) { UpdateRange(o, w, g, s0, s1, s2, e0, e1, accBeta1, accBeta2); });
  }
  if (o.kind == OptKind::Adam) {
    accBeta1 = accBeta1 * static_cast<float>(o.beta1);
    accBeta2 = accBeta2 * static_cast<float>(o.beta2);
  }
  iterations++;
}

StepResult Session::train(const std::vector<int32_t>& order, int64_t start, int steps, int batchSize, uint64_t seed, int64_t stepBase, const std::vector<float>& masks) {
  const Split& s = split(0);
  if (batchSize <= 0 || batchSize > plan_.maxBatch) throw InputError("batch size " + std::to_string(batchSize) + " is outside 1.." + std::to_string(plan_.maxBatch));
  if (static_cast<int64_t>(order.size()) != s.rows) throw InputError("the order holds " + std::to_string(order.size()) + " rows, the train split " + std::to_string(s.rows));
  for (int32_t v : order)
    if (v < 0 || v >= s.rows) throw InputError("the order names row " + std::to_string(v) + ", outside the train split");
  if (start < 0) throw InputError("start must not be negative");
  int64_t perRow = 0;  // dropout multipliers per example
  for (const Node& nd : plan_.nodes)
    if (nd.op == Op::Dropout && nd.rate > 0.f) perRow += nd.size;
  if (!masks.empty()) {
    int64_t expected = 0;
    for (int k = 0; k < steps; k++) {
      const int64_t b = start + static_cast<int64_t>(k) * batchSize;
      if (b >= s.rows) break;
      expected += std::min<int64_t>(batchSize, s.rows - b) * perRow;
    }
    if (static_cast<int64_t>(masks.size()) != expected) throw InputError("dropout masks hold " + std::to_string(masks.size()) + " values, these steps need " + std::to_string(expected));
  }
  int64_t maskAt = 0;
  StepResult r;
  const size_t M = plan_.metrics.size();
  std::vector<double> sums;
  for (int k = 0; k < steps; k++) {
    if (abort.load()) {
      r.aborted = true;
      break;
    }
    const int64_t b = start + static_cast<int64_t>(k) * batchSize;
    if (b >= s.rows) break;
    const int n = static_cast<int>(std::min<int64_t>(batchSize, s.rows - b));
    loadBatch(s, order.data() + b, n);
    std::fill(gradWritten_.begin(), gradWritten_.end(), 0);
    forward(n, true, seed, stepBase + k, masks.empty() ? nullptr : masks.data() + maskAt);
    maskAt += n * perRow;
    const double loss = lossAndMetrics(n, true, sums) / n;
    r.values.push_back(loss);
    for (size_t m = 0; m < M; m++) r.values.push_back(sums[m] / n);
    r.rows.push_back(n);
    r.steps++;
    if (!std::isfinite(loss)) break;
    backward(n);
    optimizerStep();
  }
  return r;
}

std::vector<double> Session::evaluate(int which, int batchSize) {
  const Split& s = split(which);
  const int bs = std::max(1, std::min(batchSize, plan_.maxBatch));
  const size_t M = plan_.metrics.size();
  std::vector<double> total(1 + M, 0), sums;
  std::vector<int32_t> idx(bs);
  for (int64_t b = 0; b < s.rows; b += bs) {
    const int n = static_cast<int>(std::min<int64_t>(bs, s.rows - b));
    for (int r = 0; r < n; r++) idx[r] = static_cast<int32_t>(b + r);
    loadBatch(s, idx.data(), n);
    forward(n, false, 0, 0);
    total[0] += lossAndMetrics(n, false, sums);
    for (size_t m = 0; m < M; m++) total[1 + m] += sums[m];
  }
  for (double& v : total) v /= static_cast<double>(s.rows);
  return total;
}

std::vector<float> Session::predict(const float* xs, int64_t rows, bool training) {
  if (rows <= 0 || rows > plan_.maxBatch) throw InputError("predict takes 1.." + std::to_string(plan_.maxBatch) + " rows");
  checkInput(xs, rows, "predict");
  std::memcpy(out(0), xs, rows * plan_.nodes[0].size * sizeof(float));
  forward(static_cast<int>(rows), training, 1, 0);
  const int64_t W = plan_.nodes[plan_.output].size;
  return std::vector<float>(out(plan_.output), out(plan_.output) + rows * W);
}

double Session::gradients(const float* xs, const float* ys, int64_t rows, std::vector<std::vector<float>>& grads) {
  if (rows <= 0 || rows > plan_.maxBatch) throw InputError("gradients takes 1.." + std::to_string(plan_.maxBatch) + " rows");
  checkInput(xs, rows, "gradients");
  std::memcpy(out(0), xs, rows * plan_.nodes[0].size * sizeof(float));
  std::memcpy(labels_.data(), ys, rows * plan_.labelSize * sizeof(float));
  std::fill(gradWritten_.begin(), gradWritten_.end(), 0);
  const int n = static_cast<int>(rows);
  forward(n, true, 1, 0);
  std::vector<double> sums;
  const double loss = lossAndMetrics(n, true, sums) / n;
  backward(n);
  grads = grads_;
  return loss;
}

void Session::applyGradients(const std::vector<std::vector<float>>& grads) {
  if (grads.size() != params_.size()) throw InputError("applyGradients needs one gradient per parameter");
  for (size_t i = 0; i < grads.size(); i++) {
    if (!plan_.params[i].trainable) continue;
    if (grads[i].size() != params_[i].size()) throw InputError("gradient " + std::to_string(i) + " has the wrong size");
    grads_[i] = grads[i];
  }
  optimizerStep();
}

}  // namespace cairn
