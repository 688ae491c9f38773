#include "core/pool.h"

#include <algorithm>
#include <chrono>

namespace cairn {

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
  for (int i = 1; i < threads_; i++) workers_.emplace_back([this] { worker(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(Job& job) {
  for (int64_t t; (t = job.next.fetch_add(1)) < job.tasks;) {
    (*job.fn)(t);
    job.done.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::worker() {
  uint64_t seen = 0;
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
    }
    if (job) work(*job);
  }
}

void ThreadPool::run(int64_t tasks, const std::function<void(int64_t)>& fn) {
  if (tasks <= 0) return;
  if (threads_ == 1 || tasks == 1) {
    for (int64_t t = 0; t < tasks; t++) fn(t);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->tasks = tasks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = job;
    generation_++;
  }
  wake_.notify_all();
  // The caller works too: on a busy machine a worker may wake late, and then the caller
  // has taken its tasks already; it waits only for tasks a worker actually started.
  work(*job);
  while (job->done.load(std::memory_order_acquire) < tasks) std::this_thread::yield();
  std::lock_guard<std::mutex> lock(mu_);
  if (job_ == job) job_.reset();
}

void ThreadPool::range(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  // A few ranges per thread: on a busy machine a worker can be descheduled mid-range, and
  // smaller ranges leave less for the others to wait on (they take the rest meanwhile).
  const int64_t most = threads_ == 1 ? 1 : 4 * static_cast<int64_t>(threads_);
  int64_t parts = std::min<int64_t>(most, std::max<int64_t>(1, n / std::max<int64_t>(1, grain)));
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  const int64_t chunk = (n + parts - 1) / parts;
  run(parts, [&](int64_t p) {
    const int64_t b = p * chunk, e = std::min(n, b + chunk);
    if (b < e) fn(b, e);
  });
}

}  // namespace cairn
