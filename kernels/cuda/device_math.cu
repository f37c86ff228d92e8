// Device helpers shared by every kernel of the `kernels` package.
//
// This file is not a module of its own: the Python side prepends it to each
// RawModule source and to each ElementwiseKernel preamble, so NVRTC (at run
// time) and `nvcc -ptx` (in the tests) compile exactly the same text.
//
// Overloads rather than templates: `expf` for float and `exp` for double keep
// float32 kernels in single precision (a bare `exp(x)` on a float could
// promote to double on some toolchains and run ~30x slower on consumer GPUs).

#ifndef KERNELS_DEVICE_MATH
#define KERNELS_DEVICE_MATH

__device__ __forceinline__ float kernels_exp(float x) { return expf(x); }
__device__ __forceinline__ double kernels_exp(double x) { return exp(x); }

__device__ __forceinline__ float kernels_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double kernels_tanh(double x) { return tanh(x); }

__device__ __forceinline__ float kernels_fabs(float x) { return fabsf(x); }
__device__ __forceinline__ double kernels_fabs(double x) { return fabs(x); }

__device__ __forceinline__ float kernels_fmax(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double kernels_fmax(double a, double b) { return fmax(a, b); }

// Lowest value of the type: the identity of max(), and what padded cells of a
// max-pooling window hold. A finite lowest (not -inf) would let a padded cell
// win against a window of -inf inputs; -inf cannot win against anything.
__device__ __forceinline__ float kernels_lowest(float) { return -__int_as_float(0x7f800000); }
__device__ __forceinline__ double kernels_lowest(double) { return -__longlong_as_double(0x7ff0000000000000LL); }

// Numerically stable logistic sigmoid: exp() is only ever called on -|x|, so
// it never overflows (sigmoid(-1000) is 0, not 1/(1+inf) computed via inf).
template <typename T>
__device__ __forceinline__ T kernels_sigmoid(T x) {
    const T z = kernels_exp(-kernels_fabs(x));
    return x >= T(0) ? T(1) / (T(1) + z) : z / (T(1) + z);
}

// Index of the first thread of the grid-stride loop and the stride, in 64 bits
// so that arrays larger than 2**31 elements are walked correctly.
__device__ __forceinline__ long long kernels_thread_index() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ long long kernels_grid_stride() {
    return (long long)gridDim.x * blockDim.x;
}

#endif  // KERNELS_DEVICE_MATH
