// im2col for NHWC images: every receptive field becomes one row of a matrix,
// so that a convolution is one matrix product with kernel.reshape(-1, out_ch).
//
//   x:    (batch, height, width, channels)
//   cols: (batch * out_h * out_w, kh * kw * channels)
//   cols[(b * out_h + oy) * out_w + ox, (dy * kw + dx) * channels + c]
//       = x[b, oy * stride_h - pad_top + dy, ox * stride_w - pad_left + dx, c]
//         (0 where that position falls in the padding)
//
// The column order (dy, dx, c) is the C order of a Keras Conv2D kernel
// (kh, kw, in_ch, out_ch), so kernel.reshape(-1, out_ch) lines up with it.
// One thread per element of `cols`; consecutive threads take consecutive
// channels, so both the reads of x and the writes of cols are coalesced.
// Every element of `cols` is written (zeros included), so cols need not be
// cleared beforehand.

template <typename T>
__global__ void kernels_im2col_nhwc(const T* __restrict__ x, T* __restrict__ cols,
                                    long long batch, long long height, long long width,
                                    long long channels, long long kh, long long kw,
                                    long long stride_h, long long stride_w,
                                    long long pad_top, long long pad_left,
                                    long long out_h, long long out_w) {
    const long long row_length = kh * kw * channels;
    const long long total = batch * out_h * out_w * row_length;
    for (long long i = kernels_thread_index(); i < total; i += kernels_grid_stride()) {
        const long long column = i % row_length;
        const long long row = i / row_length;
        const long long c = column % channels;
        const long long dx = (column / channels) % kw;
        const long long dy = column / (channels * kw);
        const long long ox = row % out_w;
        const long long oy = (row / out_w) % out_h;
        const long long b = row / (out_w * out_h);
        const long long y_in = oy * stride_h - pad_top + dy;
        const long long x_in = ox * stride_w - pad_left + dx;
        const bool inside = y_in >= 0 && y_in < height && x_in >= 0 && x_in < width;
        cols[i] = inside ? x[((b * height + y_in) * width + x_in) * channels + c] : T(0);
    }
}
