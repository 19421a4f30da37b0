#include "threadpool.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <new>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace atlas_lens {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Workers spin this many rounds before sleeping: back-to-back kernel calls then
// skip the futex wake-up (tens of microseconds), idle pools still go to sleep quickly.
constexpr int kSpinRounds = 4000;

// One job at a time. A worker must *join* a job (under the mutex, while the job is
// open) before touching it; when the caller has run out of tasks it closes the job
// and waits only for workers that joined. A worker that is still asleep (waking a
// halted vCPU can take 100+ us on a VM) therefore never delays the caller: at worst
// the caller does all tasks itself, i.e. the call degrades to single-threaded.
class Pool {
 public:
  explicit Pool(int nthreads) : nthreads_(nthreads < 1 ? 1 : nthreads) {
    for (int i = 1; i < nthreads_; ++i) workers_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_.store(true);
    }
    cv_work_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return nthreads_; }

  // Returns false when the pool is busy (the caller then runs the work inline).
  bool run(int ntasks, const std::function<void(int)>& fn) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = &fn;
      ntasks_ = ntasks;
      next_.store(0);
      left_.store(0);
      joined_ = 0;
      open_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    if (sleeping_.load() > 0) cv_work_.notify_all();
    for (int t; (t = next_.fetch_add(1)) < ntasks;) fn(t);
    int joined;
    {
      std::lock_guard<std::mutex> lk(m_);
      open_ = false;  // latecomers skip this job
      joined = joined_;
    }
    for (int i = 0; i < kSpinRounds && left_.load(std::memory_order_acquire) != joined; ++i)
      cpu_relax();
    if (left_.load(std::memory_order_acquire) != joined) {
      std::unique_lock<std::mutex> lk(m_);
      cv_done_.wait(lk, [&] { return left_.load() == joined; });
    }
    return true;
  }

 private:
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      int spins = 0;
      while (generation_.load(std::memory_order_acquire) == seen && !stop_.load()) {
        if (++spins < kSpinRounds) {
          cpu_relax();
        } else {
          std::unique_lock<std::mutex> lk(m_);
          sleeping_.fetch_add(1);
          cv_work_.wait(lk, [&] { return stop_.load() || generation_.load() != seen; });
          sleeping_.fetch_sub(1);
        }
      }
      if (stop_.load()) return;
      const std::function<void(int)>* fn = nullptr;
      int nt = 0;
      {
        std::lock_guard<std::mutex> lk(m_);
        seen = generation_.load();
        if (open_) {
          ++joined_;
          fn = fn_;
          nt = ntasks_;
        }
      }
      if (!fn) continue;
      for (int t; (t = next_.fetch_add(1)) < nt;) (*fn)(t);
      {
        std::lock_guard<std::mutex> lk(m_);  // pairs with the caller's predicate check
        left_.fetch_add(1, std::memory_order_release);
      }
      cv_done_.notify_one();
    }
  }

  const int nthreads_;
  std::vector<std::thread> workers_;
  std::mutex m_, run_mutex_;
  std::condition_variable cv_work_, cv_done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> next_{0}, left_{0}, sleeping_{0};
  const std::function<void(int)>* fn_ = nullptr;
  int ntasks_ = 0;
  int joined_ = 0;
  bool open_ = false;
};

std::mutex g_pool_mutex;
std::shared_ptr<Pool> g_pool;  // created on first parallel use; shared so a resize
                               // never destroys a pool another thread is running on
int g_num_threads = 0;   // 0 = not decided yet

int default_num_threads() {
  if (const char* env = std::getenv("ATLAS_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

#if defined(__linux__)
// The pool's threads do not exist in a forked child: forget (leak) the parent's pool
// so the child lazily builds its own instead of waiting forever on dead workers.
void after_fork_child() {
  new (&g_pool_mutex) std::mutex();            // may have been held by a parent thread
  new std::shared_ptr<Pool>(std::move(g_pool));  // leak: its destructor would join ghosts
}
struct AtForkRegistrar {
  AtForkRegistrar() { pthread_atfork(nullptr, nullptr, after_fork_child); }
} g_atfork_registrar;
#endif

}  // namespace

int get_num_threads() {
  std::lock_guard<std::mutex> lk(g_pool_mutex);
  if (g_num_threads == 0) g_num_threads = default_num_threads();
  return g_num_threads;
}

void set_num_threads(int n) {
  std::shared_ptr<Pool> old;
  {
    std::lock_guard<std::mutex> lk(g_pool_mutex);
    g_num_threads = n > 0 ? n : default_num_threads();
    old.swap(g_pool);
  }
  // `old` is destroyed (workers joined) here or by the last kernel still using it.
}

void parallel_for(int ntasks, const std::function<void(int)>& fn) {
  if (ntasks <= 0) return;
  std::shared_ptr<Pool> pool;
  if (ntasks > 1) {
    std::lock_guard<std::mutex> lk(g_pool_mutex);
    if (g_num_threads == 0) g_num_threads = default_num_threads();
    if (g_num_threads > 1) {
      if (!g_pool) g_pool = std::make_shared<Pool>(g_num_threads);
      pool = g_pool;
    }
  }
  if (pool && pool->run(ntasks, fn)) return;
  for (int t = 0; t < ntasks; ++t) fn(t);
}

}  // namespace atlas_lens
