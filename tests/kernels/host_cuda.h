// Just enough of CUDA, on the host, to run the kernels of kernels/cuda/*.cu
// on a CPU: every CUDA thread is a std::thread, the threads of one block run
// together (so __syncthreads() is a real barrier and __shared__ memory is
// really shared), and blocks run one after another. Used only by the tests
// (test_kernels_cuda_on_host.py) to check the kernels' index arithmetic,
// padding and tie rules numerically on machines without a GPU. It says
// nothing about speed, coalescing or NVRTC; nvcc -ptx checks the compiling.

#pragma once
#include <barrier>
#include <math.h>  // expf, exp, tanhf, ... in the global namespace, as CUDA has them
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static  // one copy per kernel instantiation; blocks run one at a time

struct dim3 { unsigned int x = 0, y = 0, z = 0; };
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline std::barrier<>* host_cuda_block_barrier = nullptr;
inline std::mutex host_cuda_atomic_mutex;

inline void __syncthreads() { host_cuda_block_barrier->arrive_and_wait(); }

inline float __int_as_float(int bits) { float f; std::memcpy(&f, &bits, sizeof f); return f; }
inline double __longlong_as_double(long long bits) { double d; std::memcpy(&d, &bits, sizeof d); return d; }

template <typename T>
T atomicAdd(T* address, T value) {
    std::lock_guard<std::mutex> lock(host_cuda_atomic_mutex);
    const T old = *address;
    *address = old + value;
    return old;
}

// kernel<<<grid, block>>>(args...), synchronously.
template <typename Kernel, typename... Args>
void host_cuda_launch(Kernel kernel, unsigned int grid, unsigned int block, Args... args) {
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    for (unsigned int b = 0; b < grid; ++b) {
        std::barrier<> barrier(block);
        host_cuda_block_barrier = &barrier;
        std::vector<std::thread> threads;
        for (unsigned int t = 0; t < block; ++t) {
            threads.emplace_back([=] {
                blockIdx = {b, 0, 0};
                threadIdx = {t, 0, 0};
                kernel(args...);
            });
        }
        for (auto& thread : threads) thread.join();
        host_cuda_block_barrier = nullptr;
    }
}
