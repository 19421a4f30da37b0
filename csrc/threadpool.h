// Persistent worker pool for the Lens CPU kernels.
//
// Why not OpenMP: we want (a) no thread start-up on the small-N path (callers simply
// do not enter the pool for tiny work), (b) no second OpenMP runtime fighting with the
// one torch ships, (c) a pool that survives fork() (a child gets a fresh pool).
#pragma once
#include <functional>

namespace atlas_lens {

// Runs fn(task) for every task in [0, ntasks). The calling thread takes part. Runs
// inline when ntasks <= 1, when the pool has a single thread, or when another caller
// is using the pool at that moment (concurrent Python threads never block each other).
void parallel_for(int ntasks, const std::function<void(int)>& fn);

// Threads used by parallel_for (caller included). Default: CPUs in this process's
// affinity mask, or the ATLAS_NUM_THREADS environment variable.
int get_num_threads();
void set_num_threads(int n);

}  // namespace atlas_lens
