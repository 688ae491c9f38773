// A training session: one plan, its buffers (allocated once for the largest batch), the
// parameters and optimizer state, the data splits copied into native memory, a thread pool.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/plan.h"
#include "core/pool.h"

namespace cairn {

/** An error the caller caused (bad shapes, bad data): thrown to JS as a plain Error. */
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Split {
  std::vector<float> xs, ys;
  int64_t rows = 0;
};

struct StepResult {
  /** Per step: the batch's mean loss, then each metric's batch mean (as trainOnBatch returns). */
  std::vector<double> values;
  std::vector<int32_t> rows;
  int steps = 0;
  bool aborted = false;
};

class Session {
 public:
  Session(Plan plan, int threads);

  const Plan& plan() const { return plan_; }
  int threads() const { return pool_.threads(); }
  int metricsCount() const { return static_cast<int>(plan_.metrics.size()); }

  std::vector<float>& param(int i) { return params_.at(i); }
  /** Optimizer slots per parameter: adam m, v; momentum acc; rmsprop ms, mom, mg. */
  std::vector<float>& slot(int i, int s);
  int64_t iterations = 0;
  float accBeta1 = 0, accBeta2 = 0;
  void resetOptimizer();

  void setSplit(int which, std::vector<float> xs, std::vector<float> ys, int64_t rows);
  const Split& split(int which) const;

  /**
   * Trains `steps` batches taken in `order` from row `start` on; stops early on abort or a
   * non-finite loss. `masks`, when not empty, holds every dropout multiplier of the steps
   * (per step, per dropout node in plan order, rows x size), as tfjs drew them; without it
   * dropout draws from a counter-based stream keyed by (seed, step).
   */
  StepResult train(const std::vector<int32_t>& order, int64_t start, int steps, int batchSize, uint64_t seed, int64_t stepBase, const std::vector<float>& masks = {});
  /** Mean loss and metrics over a whole split, in inference mode. */
  std::vector<double> evaluate(int which, int batchSize);
  /** The model's output for rows of xs (inference mode, or training mode for tests of dropout and batchnorm). */
  std::vector<float> predict(const float* xs, int64_t rows, bool training);
  /** Loss and every parameter's gradient for one batch, without an update (tests). */
  double gradients(const float* xs, const float* ys, int64_t rows, std::vector<std::vector<float>>& grads);
  /** Applies the optimizer to the given gradients (tests of the update rules). */
  void applyGradients(const std::vector<std::vector<float>>& grads);

  std::atomic<bool> abort{false};
  std::atomic<bool> busy{false};

 private:
  void validate() const;
  void allocate();
  void loadBatch(const Split& s, const int32_t* idx, int n);
  void forward(int n, bool training, uint64_t seed, int64_t step, const float* masks = nullptr);
  /** Loss of the batch in the label buffer; fills sums of the metrics and, when grad, the output's gradient. */
  double lossAndMetrics(int n, bool grad, std::vector<double>& metricSums);
  void backward(int n);
  void optimizerStep();
  float* out(int node) { return bufs_[plan_.nodes[node].outBuf].data(); }
  float* grad(int node) { return bufs_[plan_.nodes[node].gradBuf].data(); }
  void checkInput(const float* xs, int64_t rows, const char* what) const;

  Plan plan_;
  ThreadPool pool_;
  std::vector<std::vector<float>> bufs_;
  std::vector<char> gradWritten_;
  std::vector<std::vector<float>> params_, grads_;
  std::vector<std::vector<float>> slots_[3];
  std::vector<std::vector<float>> aux_;      // per node: dropout mask, batchnorm xhat
  std::vector<std::vector<float>> aux2_;     // per node: batchnorm inverse std, batch mean
  std::vector<std::vector<int32_t>> argmax_;  // per node: max pooling winners
  std::vector<float> labels_, scratch_, ws_;
  Split splits_[3];
  bool embeddingInput_ = false;
};

}  // namespace cairn
