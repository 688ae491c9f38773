// The compiled plan: what src/plan.ts derives from a tfjs LayersModel, as the executor holds it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/compute.h"
#include "core/plan_types.h"

namespace cairn {

enum class Op { Input, Dense, Conv2D, MaxPool, AvgPool, GlobalAvgPool, Reshape, Dropout, BatchNorm, Activation, Embedding, Add, Concat };
enum class Loss { SparseCategorical, Categorical, Binary, MeanSquared };
enum class Metric { CategoricalAccuracy, SparseCategoricalAccuracy, BinaryAccuracy, MeanSquared, Categorical, SparseCategorical, Binary };
enum class OptKind { Sgd, Momentum, Adam, RmsProp };

struct Node {
  Op op = Op::Input;
  std::vector<int> inputs;
  /** Output shape of one example (no batch axis) and its element count. */
  std::vector<int> shape;
  int64_t size = 0;
  ActKind act = ActKind::Linear;
  /** Parameter indices (-1: none). Dense/Conv: kernel, bias. BatchNorm: gamma, beta, moving mean, moving variance. Embedding: kernel. */
  int kernel = -1, bias = -1, gamma = -1, beta = -1, movingMean = -1, movingVar = -1;
  int units = 0;
  ConvShape conv{};  // n filled per call
  PoolShape pool{};
  float rate = 0.f;            // dropout
  float epsilon = 1e-3f;       // batchnorm
  double momentum = 0.99;      // batchnorm
  int vocab = 0;               // embedding
  // Filled by the executor.
  int outBuf = -1, gradBuf = -1;
  bool needGrad = false;
};

struct Param {
  std::vector<int> shape;
  int64_t size = 0;
  bool trainable = true;
};

struct OptimizerSpec {
  OptKind kind = OptKind::Sgd;
  double learningRate = 0.01, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7, momentum = 0, decay = 0.9;
  bool nesterov = false, centered = false;
};

struct Plan {
  std::vector<Node> nodes;  // topological order; node 0 is the input
  std::vector<Param> params;
  int output = -1;
  Loss loss = Loss::MeanSquared;
  /** The output's softmax (or sigmoid) is folded into the loss gradient. */
  bool fused = false;
  std::vector<Metric> metrics;
  /** Per-example label elements (1 for sparse labels). */
  int64_t labelSize = 0;
  OptimizerSpec optimizer;
  int maxBatch = 0;
};

}  // namespace cairn
