// 2-D max pooling over NHWC images, forward and backward.
//
//   out[b, oy, ox, c] = max over the window of x[b, oy*sh - pad_top + dy, ox*sw - pad_left + dx, c]
//
// Cells of the window that fall in the padding ("same") are skipped: they
// act as -inf, as in Keras. The backward pass sends each upstream gradient
// to the window's argmax; where windows overlap (stride < pool) one input
// can be the argmax of several windows, so gradients are accumulated with
// atomicAdd into dx, which the caller zero-fills. Ties go to the first
// maximum in row-major window order, which is what TensorFlow's CPU kernel does.

// Flat index into x of the maximum of one window (first one on ties), or -1
// for a window with no cell inside the image (cannot happen for Keras's
// "valid" and "same" geometries, kept for safety).
template <typename T>
__device__ long long kernels_window_argmax(const T* __restrict__ x, long long b, long long oy,
                                           long long ox, long long c, long long height,
                                           long long width, long long channels, long long pool_h,
                                           long long pool_w, long long stride_h, long long stride_w,
                                           long long pad_top, long long pad_left) {
    long long best = -1;
    T best_value = kernels_lowest(T(0));
    for (long long dy = 0; dy < pool_h; ++dy) {
        const long long y_in = oy * stride_h - pad_top + dy;
        if (y_in < 0 || y_in >= height) continue;
        for (long long dx = 0; dx < pool_w; ++dx) {
            const long long x_in = ox * stride_w - pad_left + dx;
            if (x_in < 0 || x_in >= width) continue;
            const long long index = ((b * height + y_in) * width + x_in) * channels + c;
            const T value = x[index];
            // Strictly greater: the first maximum wins. `best < 0` takes the
            // first cell even when it is -inf (or NaN), so a window is never empty.
            if (best < 0 || value > best_value) {
                best = index;
                best_value = value;
            }
        }
    }
    return best;
}

// One thread per output element (b, oy, ox, c); out: (batch, out_h, out_w, channels).
template <typename T>
__global__ void kernels_max_pool_forward(const T* __restrict__ x, T* __restrict__ out,
                                         long long batch, long long height, long long width,
                                         long long channels, long long pool_h, long long pool_w,
                                         long long stride_h, long long stride_w,
                                         long long pad_top, long long pad_left,
                                         long long out_h, long long out_w) {
    const long long total = batch * out_h * out_w * channels;
    for (long long i = kernels_thread_index(); i < total; i += kernels_grid_stride()) {
        const long long c = i % channels;
        const long long ox = (i / channels) % out_w;
        const long long oy = (i / (channels * out_w)) % out_h;
        const long long b = i / (channels * out_w * out_h);
        const long long best = kernels_window_argmax(x, b, oy, ox, c, height, width, channels,
                                                     pool_h, pool_w, stride_h, stride_w,
                                                     pad_top, pad_left);
        out[i] = best >= 0 ? x[best] : kernels_lowest(T(0));
    }
}

// One thread per upstream gradient element; dx (the shape of x) must be zeros.
// atomicAdd on double needs compute capability 6.0+ (every GPU CUDA 12 supports).
template <typename T>
__global__ void kernels_max_pool_backward(const T* __restrict__ dout, const T* __restrict__ x,
                                          T* __restrict__ dx, long long batch, long long height,
                                          long long width, long long channels, long long pool_h,
                                          long long pool_w, long long stride_h, long long stride_w,
                                          long long pad_top, long long pad_left,
                                          long long out_h, long long out_w) {
    const long long total = batch * out_h * out_w * channels;
    for (long long i = kernels_thread_index(); i < total; i += kernels_grid_stride()) {
        const long long c = i % channels;
        const long long ox = (i / channels) % out_w;
        const long long oy = (i / (channels * out_w)) % out_h;
        const long long b = i / (channels * out_w * out_h);
        const long long best = kernels_window_argmax(x, b, oy, ox, c, height, width, channels,
                                                     pool_h, pool_w, stride_h, stride_w,
                                                     pad_top, pad_left);
        if (best >= 0) atomicAdd(dx + best, dout[i]);
    }
}
