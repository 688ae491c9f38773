// A persistent thread pool: workers are started once per session and woken per parallel
// region, so a training step pays a wake-up, not a thread start, for each kernel.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cairn {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  /**
   * Runs fn(task) for task in [0, tasks), spread over the workers and the calling thread;
   * returns when all are done. Which thread runs a task never changes a result: callers
   * partition work so that each output element is written by exactly one task.
   */
  void run(int64_t tasks, const std::function<void(int64_t)>& fn);
  /** Splits [0, n) into at most threads() contiguous ranges: fn(begin, end). */
  void range(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker();
  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t tasks_ = 0;
  std::atomic<int64_t> next_{0};
  int active_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace cairn
