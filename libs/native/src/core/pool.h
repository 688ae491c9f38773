// A persistent thread pool: workers start once per session and are woken per parallel
// region, so a training step pays a wake-up, not a thread start, for each kernel.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
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
  /** Splits [0, n) into contiguous ranges of at least `grain` (a few per thread): fn(begin, end). */
  void range(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  /** One parallel region. Workers that wake late hold it by shared_ptr and find no task left. */
  struct Job {
    const std::function<void(int64_t)>* fn;
    int64_t tasks;
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> done{0};
  };
  void worker();
  static void work(Job& job);
  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::shared_ptr<Job> job_;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace cairn
