// Lets the reference kernels in cuda/ compile as plain host C++17, so that
// machines without a GPU (CI's) can run them against the CPU backend.
//
// Under NVCC or NVRTC this header defines only what both builds share. As
// host C++ it defines the CUDA keywords away, and maps blockIdx/threadIdx/
// blockDim/gridDim to thread-local variables that `launch_host` sets while it
// runs every (block, thread) of the grid, one after the other. That is only
// correct for kernels whose threads never talk to each other: no shared
// memory, no __syncthreads, no warp intrinsics — which is exactly what the
// reference kernels promise. The fast kernels are compiled for the GPU only
// (guarded by EQP_DEVICE_ONLY below).
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)

#define EQP_DEVICE_ONLY 1

#else  // host C++

#include <cmath>
#include <cstdint>
#include <cstddef>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __constant__ static

// Device code calls sqrt/sin/cos/floor unqualified, overloaded on float and
// double as CUDA's math library is; <cmath> has those overloads in std.
using std::sqrt;
using std::sin;
using std::cos;
using std::exp;
using std::floor;
using std::fabs;
using std::fmin;
using std::fmax;
using std::cbrt;

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
using uint3 = dim3;

namespace eqp_host {
inline thread_local dim3 block_idx, thread_idx, block_dim, grid_dim;
}
#define blockIdx (::eqp_host::block_idx)
#define threadIdx (::eqp_host::thread_idx)
#define blockDim (::eqp_host::block_dim)
#define gridDim (::eqp_host::grid_dim)

// The host loop runs one thread at a time, so the atomics the reference
// kernels use (counting sorts) are plain read-modify-writes.
template <typename T>
inline T atomicAdd(T *address, T value) {
    T old = *address;
    *address = old + value;
    return old;
}
inline int atomicMin(int *address, int value) {
    int old = *address;
    if (value < old) *address = value;
    return old;
}

// Runs kernel(args...) for every thread of every block, in order.
template <typename... Params, typename... Args>
void launch_host(void (*kernel)(Params...), dim3 grid, dim3 block, Args &&...args) {
    eqp_host::grid_dim = grid;
    eqp_host::block_dim = block;
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx)
                for (unsigned tz = 0; tz < block.z; ++tz)
                    for (unsigned ty = 0; ty < block.y; ++ty)
                        for (unsigned tx = 0; tx < block.x; ++tx) {
                            eqp_host::block_idx = dim3(bx, by, bz);
                            eqp_host::thread_idx = dim3(tx, ty, tz);
                            kernel(args...);
                        }
}

#endif

// What device code and host code both need from here on.
#if defined(__CUDACC_RTC__)
// NVRTC has no standard headers: the few fixed-width types the kernels use.
typedef unsigned int uint32_t;
typedef int int32_t;
typedef unsigned long long uint64_t;
typedef long long int64_t;
#endif

// The scalar type: one build per precision (NVRTC: -DEQP_REAL=float|double).
#ifndef EQP_REAL
#define EQP_REAL double
#endif
typedef EQP_REAL real;

// Index of this thread in a 1-D grid, as 64 bits (edge counts pass 2^31 / 32).
__device__ __forceinline__ int64_t global_thread_index() {
    return (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
}
