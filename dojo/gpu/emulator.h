// The CUDA execution model on a CPU, for the GPU track (dojo/gpu/).
//
// A learner's kernel source is compiled by the host C++ compiler against
// this header, after dojo/gpu/source.py has rewritten its pointer types
// (`const double* x` becomes `dojo::ptr<const double> x`) and its
// `__shared__` declarations (into `dojo::shared_array<...>`). Nothing else
// in the learner's text changes, and `#line` keeps their line numbers.
//
// How a launch runs:
//  * blocks one after another; the threads of a block as coroutines
//    (ucontext) on one OS thread, each running until it returns or reaches
//    __syncthreads(). When every thread of the block waits at the barrier, all
//    go on (a new "barrier interval"); when some returned and others wait, the
//    block would hang on a GPU: that is reported, not hung.
//  * every access to a global array or to shared memory goes through a
//    bounds-checked reference (dojo::ref): an index outside the array stops
//    the launch with the thread, block, array and index named.
//  * shadow memory per element remembers the last writer and reader (thread,
//    barrier interval, atomic or not). Two accesses from different threads
//    to one element, at least one a plain write, with no barrier between them
//    (or from different blocks, which never synchronise) are a data race.
//  * loads and stores are counted per array: global traffic. A thread that
//    reads the same element twice in a row (x[i] > 0 ? x[i] : ...) is served
//    from a register, as a compiler would; any other load counts.
#pragma once

#include <ucontext.h>

#include <math.h>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__
#define __launch_bounds__(...)

struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
    constexpr dim3() = default;
    constexpr dim3(unsigned int x_, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace dojo {

// ---------------------------------------------------------------- the launch

// Mirrored by ctypes in dojo/gpu/runtime.py: keep the field order.
struct Region {
    const char* name;
    void* base;
    int64_t count;
    int32_t elem_size;
    int32_t kind;          // 0 global, 1 shared
    int32_t* shadow;       // 6 int32 per element: writer, its interval, atomic; reader, its interval, atomic
    int64_t loads, stores, atomics;
    int32_t slot;          // global arrays: index in the argument list (register cache)
    int32_t padding;       // shared arrays: the launch that last used it (for the shared bytes per block)
};

struct Stats {  // mirrored by ctypes
    int64_t shared_loads, shared_stores, barriers, static_shared_bytes, accesses, blocks, threads;
};

enum { RUNNABLE = 0, AT_BARRIER = 1, DONE = 2 };
constexpr int MAX_SLOTS = 32;
constexpr size_t STACK_BYTES = 64 * 1024;

struct Thread {
    ucontext_t context;
    int state = RUNNABLE;
    int barrier_line = 0;
    dim3 index;
    int64_t cached[MAX_SLOTS];  // the element of each argument last read by this thread, or -1
};

inline dim3 g_block_index, g_block_dim, g_grid_dim, g_thread_index;
inline std::vector<Thread> g_threads;
inline char* g_stacks = nullptr;
inline int g_current = 0;
inline int64_t g_block_linear = 0;
inline int32_t g_interval = 0;
inline int64_t g_launch_id = 0;
inline ucontext_t g_main;
inline bool g_failed = false;
inline char* g_error = nullptr;
inline int g_error_len = 0;
inline int64_t g_access_limit = 0;
inline int64_t g_dynamic_bytes = 0;
inline std::vector<unsigned char> g_dynamic;
inline Stats* g_stats = nullptr;
inline void (*g_body)(void*) = nullptr;
inline void* g_body_arg = nullptr;

inline int threads_per_block() { return int(g_block_dim.x * g_block_dim.y * g_block_dim.z); }
inline int32_t me() { return int32_t(g_block_linear * threads_per_block() + g_current); }

inline void describe_thread(char* out, size_t n, int32_t global) {
    const int per_block = threads_per_block();
    const int64_t block = global / per_block;
    const int t = int(global % per_block);
    const unsigned tx = t % g_block_dim.x, ty = (t / g_block_dim.x) % g_block_dim.y,
                   tz = t / (g_block_dim.x * g_block_dim.y);
    const unsigned bx = unsigned(block % g_grid_dim.x), by = unsigned((block / g_grid_dim.x) % g_grid_dim.y),
                   bz = unsigned(block / (int64_t(g_grid_dim.x) * g_grid_dim.y));
    snprintf(out, n, "thread (%u,%u,%u) of block (%u,%u,%u)", tx, ty, tz, bx, by, bz);
}

// Stop the launch with a message. Called from inside a thread: its coroutine
// is never resumed (what was on its stack is simply dropped).
[[noreturn]] inline void fault(const char* format, ...) {
    if (!g_failed) {
        va_list args;
        va_start(args, format);
        vsnprintf(g_error, size_t(g_error_len), format, args);
        va_end(args);
        g_failed = true;
    }
    swapcontext(&g_threads[g_current].context, &g_main);
    abort();  // never resumed
}

// ------------------------------------------------------------ shadow memory

inline bool ordered(int32_t other, int32_t other_interval) {
    if (other == me()) return true;
    const int per_block = threads_per_block();
    return other / per_block == g_block_linear && other_interval < g_interval;
}

inline void race(const Region* r, int64_t i, const char* mine, const char* theirs, int32_t other) {
    char who[96], other_who[96];
    describe_thread(who, sizeof who, me());
    describe_thread(other_who, sizeof other_who, other);
    const int per_block = threads_per_block();
    const bool same_block = other / per_block == g_block_linear;
    if (r->kind == 1) {
        fault("data race on shared %s[%lld]: %s %s it while %s %s it in the same barrier interval. "
              "A __syncthreads() is missing between the writes and the reads of %s (or two threads "
              "write one element: give each its own)",
              r->name, (long long)i, who, mine, other_who, theirs, r->name);
    }
    fault("data race on %s[%lld]: %s %s it while %s %s it, with nothing ordering the two. %s",
          r->name, (long long)i, who, mine, other_who, theirs,
          same_block ? "Threads that add into one element need atomicAdd(&out[k], v), or a __syncthreads() "
                       "between the write and the read"
                     : "Threads of different blocks never synchronise inside a kernel: accumulate with "
                       "atomicAdd(&out[k], v), or give every output element to exactly one thread");
}

inline void step() {
    if (++g_stats->accesses > g_access_limit) {
        char who[96];
        describe_thread(who, sizeof who, me());
        fault("the kernel made more than %lld memory accesses on this small case (%s was running): a loop "
              "that never ends? (a grid-stride loop whose step is 0, a reduction stride that never reaches 0)",
              (long long)g_access_limit, who);
    }
}

inline void out_of_bounds(const Region* r, int64_t i, const char* verb) {
    char who[96];
    describe_thread(who, sizeof who, me());
    if (r->kind == 1 && r->name[0] == '@') {
        fault("%s %s dynamic shared %s[%lld], but the launch gave shared_mem=%lld bytes: room for %lld "
              "elements of %d bytes (indices 0..%lld): out of bounds. Is the index right, and is "
              "shared_mem = elements * itemsize?",
              who, verb, r->name + 1, (long long)i, (long long)g_dynamic_bytes, (long long)r->count,
              r->elem_size, (long long)r->count - 1);
    }
    fault("%s %s %s%s[%lld], but %s has %lld elements (indices 0..%lld): out of bounds. Is the bounds guard "
          "missing or off by one (i < n), the grid bigger than the data, or row and column swapped?",
          who, verb, r->kind == 1 ? "shared " : "", r->name[0] == '@' ? r->name + 1 : r->name, (long long)i,
          r->name[0] == '@' ? r->name + 1 : r->name, (long long)r->count, (long long)r->count - 1);
}

// kind: 0 read, 1 write, 2 atomic read-modify-write
inline void access(Region* r, int64_t i, int kind) {
    step();
    if (i < 0 || i >= r->count) out_of_bounds(r, i, kind == 0 ? "read" : kind == 1 ? "wrote" : "atomically updated");
    Thread& t = g_threads[g_current];
    if (r->kind == 0 && kind == 0 && r->slot < MAX_SLOTS && t.cached[r->slot] == i) return;  // in a register
    int32_t* s = r->shadow + 6 * i;
    const bool atomic = kind == 2;
    if (r->kind == 1 && r->padding != int32_t(g_launch_id)) {  // first use of this shared array in this launch
        r->padding = int32_t(g_launch_id);
        if (r->name[0] != '@') g_stats->static_shared_bytes += r->count * r->elem_size;
    }
    if (r->kind == 1) {
        if (kind == 0) ++g_stats->shared_loads; else ++g_stats->shared_stores;
    } else if (kind == 0) {
        ++r->loads;
    } else if (kind == 1) {
        ++r->stores;
    } else {
        ++r->atomics;
    }
    // a write (or atomic) against the last write and the last read; a read against the last write
    if (s[0] >= 0 && !ordered(s[0], s[1]) && !(atomic && s[2])) {
        race(r, i, kind == 0 ? "read" : "wrote", s[2] ? "atomically updated" : "wrote", s[0]);
    }
    if (kind != 0 && s[3] >= 0 && !ordered(s[3], s[4]) && !(atomic && s[5])) {
        race(r, i, "wrote", "read", s[3]);
    }
    if (r->kind == 1 && kind == 0 && s[0] < 0) {
        char who[96];
        describe_thread(who, sizeof who, me());
        fault("%s read shared %s[%lld] before any thread of its block wrote it (shared memory starts as "
              "garbage in every block). If another thread writes it, a __syncthreads() is missing between "
              "that write and this read; otherwise check the index (a reduction's stride, a tile's bounds)",
              who, r->name[0] == '@' ? r->name + 1 : r->name, (long long)i);
    }
    if (kind == 0) {
        s[3] = me(); s[4] = g_interval; s[5] = 0;
        if (r->kind == 0 && r->slot < MAX_SLOTS) t.cached[r->slot] = i;
    } else {
        s[0] = me(); s[1] = g_interval; s[2] = atomic;
        if (atomic) { s[3] = me(); s[4] = g_interval; s[5] = 1; }
        if (r->kind == 0 && r->slot < MAX_SLOTS) t.cached[r->slot] = -1;
    }
}

// ------------------------------------------------------ references, pointers

template <class T> struct ptr;

template <class T>
struct ref {
    using V = std::remove_const_t<T>;
    Region* region;
    int64_t index;

    V* raw() const { return static_cast<V*>(region->base) + index; }
    operator V() const { access(region, index, 0); return *raw(); }
    V get() const { return V(*this); }
    ref& operator=(V value) requires(!std::is_const_v<T>) { access(region, index, 1); *raw() = value; return *this; }
    ref& operator=(const ref& other) requires(!std::is_const_v<T>) { return *this = other.get(); }
    template <class U> ref& operator+=(U v) requires(!std::is_const_v<T>) { return *this = V(get() + v); }
    template <class U> ref& operator-=(U v) requires(!std::is_const_v<T>) { return *this = V(get() - v); }
    template <class U> ref& operator*=(U v) requires(!std::is_const_v<T>) { return *this = V(get() * v); }
    template <class U> ref& operator/=(U v) requires(!std::is_const_v<T>) { return *this = V(get() / v); }
    ref& operator++() requires(!std::is_const_v<T>) { return *this = V(get() + 1); }
    V operator++(int) requires(!std::is_const_v<T>) { V old = get(); *this = V(old + 1); return old; }
    ptr<T> operator&() const { return ptr<T>{region, index}; }
};

template <class T>
struct ptr {
    Region* region = nullptr;
    int64_t offset = 0;

    ref<T> operator[](int64_t i) const { return ref<T>{region, offset + i}; }
    ref<T> operator*() const { return ref<T>{region, offset}; }
    ptr operator+(int64_t k) const { return ptr{region, offset + k}; }
    ptr operator-(int64_t k) const { return ptr{region, offset - k}; }
    ptr& operator+=(int64_t k) { offset += k; return *this; }
    ptr& operator-=(int64_t k) { offset -= k; return *this; }
    operator ptr<const T>() const requires(!std::is_const_v<T>) { return ptr<const T>{region, offset}; }
};
template <class T> ptr<T> operator+(int64_t k, ptr<T> p) { return p + k; }

// -------------------------------------------------------------- atomics

template <class T, class U>
std::remove_const_t<T> atomic_add(ptr<T> p, U value) {
    access(p.region, p.offset, 2);
    auto* raw = static_cast<std::remove_const_t<T>*>(p.region->base) + p.offset;
    auto old = *raw;
    *raw = old + value;
    return old;
}
template <class T, class U>
std::remove_const_t<T> atomic_max(ptr<T> p, U value) {
    access(p.region, p.offset, 2);
    auto* raw = static_cast<std::remove_const_t<T>*>(p.region->base) + p.offset;
    auto old = *raw;
    if (value > old) *raw = value;
    return old;
}

// --------------------------------------------------------------- shared memory

struct SharedBase;
inline std::vector<SharedBase*>& shared_registry() { static std::vector<SharedBase*> r; return r; }

struct SharedBase {
    Region region{};
    std::vector<int32_t> shadow;
    explicit SharedBase(const char* name) { region.name = name; region.kind = 1; shared_registry().push_back(this); }
    void wipe() {
        std::fill(shadow.begin(), shadow.end(), -1);
        memset(region.base, 0xFF, size_t(region.count) * size_t(region.elem_size));  // NaN / -1: garbage
    }
    virtual void reset() { wipe(); }
    virtual ~SharedBase() = default;
};

// A shared array is also a pointer to its first element (as in C), so that it can be passed to a
// __device__ function taking `double*` (template deduction sees the base class).
template <class T, size_t N, size_t M = 0>
struct shared_array : SharedBase, ptr<T> {
    static constexpr size_t total = M ? N * M : N;
    T data[total];
    explicit shared_array(const char* name) : SharedBase(name) {
        region.base = data; region.count = int64_t(total); region.elem_size = sizeof(T);
        shadow.assign(6 * total, -1); region.shadow = shadow.data(); wipe();
        this->ptr<T>::region = &region;
    }
    struct row {
        shared_array* owner;
        int64_t i;
        ref<T> operator[](int64_t j) const {
            if (j < 0 || j >= int64_t(M)) {
                char who[96];
                describe_thread(who, sizeof who, me());
                const char* name = owner->SharedBase::region.name;
                fault("%s used shared %s[%lld][%lld], but %s is [%zu][%zu]: column %lld is out of bounds. "
                      "Is the tile's index (threadIdx.x vs threadIdx.y) or its bounds check wrong?",
                      who, name, (long long)i, (long long)j, name, N, M, (long long)j);
            }
            return ref<T>{&owner->SharedBase::region, i * int64_t(M) + j};
        }
    };
    auto operator[](int64_t i) {
        if constexpr (M == 0) {
            return ref<T>{&region, i};
        } else {
            if (i < 0 || i >= int64_t(N)) {
                char who[96];
                describe_thread(who, sizeof who, me());
                fault("%s used shared %s[%lld][...], but %s is [%zu][%zu]: row %lld is out of bounds",
                      who, region.name, (long long)i, region.name, N, M, (long long)i);
            }
            return row{this, i};
        }
    }
    ptr<T> operator+(int64_t k) { return ptr<T>{&region, k}; }
};

template <class T>
struct shared_scalar : SharedBase {
    T value;
    explicit shared_scalar(const char* name) : SharedBase(name) {
        region.base = &value; region.count = 1; region.elem_size = sizeof(T);
        shadow.assign(6, -1); region.shadow = shadow.data(); wipe();
    }
    ref<T> r() { return ref<T>{&region, 0}; }
    operator T() { return r().get(); }
    shared_scalar& operator=(T v) { r() = v; return *this; }
    template <class U> shared_scalar& operator+=(U v) { r() += v; return *this; }
    ptr<T> operator&() { return ptr<T>{&region, 0}; }
};

// extern __shared__ T name[]: the launch's dynamic shared memory (shared_mem bytes), as T.
template <class T>
struct dynamic_shared : SharedBase, ptr<T> {
    std::vector<char> label;
    explicit dynamic_shared(const char* name) : SharedBase(nullptr) {
        label.assign(strlen(name) + 2, 0);
        label[0] = '@';  // marks dynamic shared memory in messages
        memcpy(label.data() + 1, name, strlen(name));
        region.name = label.data();
        this->ptr<T>::region = &region;
        reset();
    }
    void reset() override {
        region.base = g_dynamic.data();
        region.elem_size = sizeof(T);
        region.count = g_dynamic_bytes / int64_t(sizeof(T));
        shadow.assign(size_t(6 * region.count), -1);
        region.shadow = shadow.data();
        if (region.count) wipe();
    }
    ref<T> operator[](int64_t i) { return ref<T>{&region, i}; }
    ptr<T> operator+(int64_t k) { return ptr<T>{&region, k}; }
};

// ------------------------------------------------------------- barrier, launch

inline void syncthreads(int line) {
    step();
    Thread& t = g_threads[g_current];
    t.state = AT_BARRIER;
    t.barrier_line = line;
    swapcontext(&t.context, &g_main);
}

inline void run_thread() {
    g_body(g_body_arg);
    g_threads[g_current].state = DONE;  // returning resumes g_main (uc_link)
}

inline void block_hang(int waiting, int done, int line) {
    char msg[512];
    snprintf(msg, sizeof msg,
             "block (%u,%u,%u) would hang: %d of its threads wait at __syncthreads() (line %d) while %d have "
             "already returned, so the barrier is never complete. Every thread of a block must reach every "
             "__syncthreads(): keep it outside `if (i < n)` and out of an early `return`",
             g_block_index.x, g_block_index.y, g_block_index.z, waiting, line, done);
    if (!g_failed) { snprintf(g_error, size_t(g_error_len), "%s", msg); g_failed = true; }
}

template <class F>
int run_grid(F& body, dim3 grid, dim3 block, int64_t dynamic_bytes, bool reverse, Stats* stats,
             char* error, int error_len, int64_t access_limit) {
    g_grid_dim = grid; g_block_dim = block; g_failed = false; g_error = error; g_error_len = error_len;
    g_error[0] = 0; g_stats = stats; g_access_limit = access_limit; ++g_launch_id;
    g_dynamic_bytes = dynamic_bytes;
    g_dynamic.assign(size_t(dynamic_bytes) + 1, 0xFF);
    g_body = [](void* f) { (*static_cast<F*>(f))(); };
    g_body_arg = &body;
    const int n = threads_per_block();
    g_threads.assign(size_t(n), Thread{});
    std::vector<char> stacks(size_t(n) * STACK_BYTES);
    const int64_t blocks = int64_t(grid.x) * grid.y * grid.z;
    stats->blocks = blocks;
    stats->threads = blocks * n;
    for (int64_t b = 0; b < blocks && !g_failed; ++b) {
        g_block_linear = b;
        g_block_index = dim3(unsigned(b % grid.x), unsigned((b / grid.x) % grid.y), unsigned(b / (int64_t(grid.x) * grid.y)));
        g_interval = 0;
        for (SharedBase* s : shared_registry()) s->reset();
        for (int t = 0; t < n; ++t) {
            Thread& th = g_threads[size_t(t)];
            th.state = RUNNABLE;
            th.index = dim3(unsigned(t % block.x), unsigned((t / block.x) % block.y), unsigned(t / (block.x * block.y)));
            for (auto& c : th.cached) c = -1;
            getcontext(&th.context);
            th.context.uc_stack.ss_sp = stacks.data() + size_t(t) * STACK_BYTES;
            th.context.uc_stack.ss_size = STACK_BYTES;
            th.context.uc_link = &g_main;
            makecontext(&th.context, run_thread, 0);
        }
        for (;;) {
            for (int k = 0; k < n && !g_failed; ++k) {
                const int t = reverse ? n - 1 - k : k;
                if (g_threads[size_t(t)].state != RUNNABLE) continue;
                g_current = t;
                g_thread_index = g_threads[size_t(t)].index;
                swapcontext(&g_main, &g_threads[size_t(t)].context);
            }
            if (g_failed) break;
            int waiting = 0, done = 0, line = 0;
            for (auto& th : g_threads) {
                if (th.state == AT_BARRIER) { ++waiting; line = th.barrier_line; }
                else if (th.state == DONE) ++done;
            }
            if (waiting == 0) break;
            if (done > 0) { block_hang(waiting, done, line); break; }
            ++g_interval;
            ++stats->barriers;
            for (auto& th : g_threads) {
                th.state = RUNNABLE;
                for (auto& c : th.cached) c = -1;  // a barrier is also a fence: reload after it
            }
        }
    }
    return g_failed ? 1 : 0;
}

// ------------------------------------------------------------ device math

inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline int min(int a, int b) { return a < b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }

}  // namespace dojo

// What CUDA code sees.
#define threadIdx (::dojo::g_thread_index)
#define blockIdx (::dojo::g_block_index)
#define blockDim (::dojo::g_block_dim)
#define gridDim (::dojo::g_grid_dim)
#define __syncthreads() ::dojo::syncthreads(__LINE__)
#define atomicAdd(p, v) ::dojo::atomic_add((p), (v))
#define atomicMax(p, v) ::dojo::atomic_max((p), (v))
using dojo::max;
using dojo::min;

inline float __int_as_float(int bits) { float f; std::memcpy(&f, &bits, sizeof f); return f; }
inline double __longlong_as_double(long long bits) { double d; std::memcpy(&d, &bits, sizeof d); return d; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
