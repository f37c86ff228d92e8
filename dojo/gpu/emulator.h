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
//    (ucontext) on one OS thread, each running until it returns, reaches
//    __syncthreads() or makes a warp-level call (__shfl_*_sync, __ballot_sync,
//    __syncwarp, ...: completed when every lane of its mask is there). When all
//    threads of the block wait at one barrier, all go on (a new epoch); threads
//    at different barriers, or waiting while others returned, are a divergent
//    barrier: reported, not hung.
//  * every access to a global array or to shared memory goes through a
//    bounds-checked reference (dojo::ref) that knows its source line: an index
//    outside the array stops the launch with the thread, block, array, index
//    and line named.
//  * shadow memory per element: a happens-before race detector (see "shadow
//    memory" below): read after write, write after read, write after write,
//    named with both threads and both lines.
//  * loads and stores are counted per array (global traffic), and grouped per
//    warp-level access into 32-byte sectors and shared-memory bank passes.
//  * every loop condition calls dojo::tick (source.py adds it): a loop that
//    never touches memory is stopped and named with its line.
#pragma once

#include <ucontext.h>

#include <math.h>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <algorithm>
#include <source_location>
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
    int32_t* shadow;       // SHADOW_FIELDS int32 per element (see enum Shadow)
    int64_t loads, stores, atomics;
    int32_t slot;          // global arrays: index in the argument list (register cache)
    int32_t padding;       // shared arrays: the launch that last used it (for the shared bytes per block)
    int64_t sectors, min_sectors;  // global: 32-byte sectors its warp-level accesses touched, and the fewest possible
    int32_t worst_line, worst_stride;  // the access furthest from its minimum: its line, the lanes' index step
    double worst_ratio;
    int64_t rows, cols;    // shared arrays: their declared shape (cols 0: one dimension)
};

struct Stats {  // mirrored by ctypes
    int64_t shared_loads, shared_stores, barriers, static_shared_bytes, accesses, blocks, threads;
    int64_t shared_wavefronts, shared_min_wavefronts;  // shared memory: bank passes used, and the fewest possible
    int32_t conflict_line, conflict_ways;             // the worst bank conflict: its line, its passes
    int32_t block_epoch, launch_id;                   // the epoch the last block run began; this launch's number
    int64_t last_block;                               // the block whose shared memory is left to see
};

enum { RUNNABLE = 0, AT_BARRIER = 1, DONE = 2, AT_WARP = 3 };
constexpr int WARP = 32;
constexpr int MAX_SLOTS = 32;
constexpr size_t STACK_BYTES = 64 * 1024;
constexpr int64_t IDLE_LIMIT = 50'000'000;  // loop iterations of one thread without a memory access
constexpr double LAUNCH_SECONDS = 20.0;      // wall-clock bound of one launch

struct Thread {
    ucontext_t context;
    int state = RUNNABLE;
    // a warp-level call this thread waits in (AT_WARP): what, with whom, its value in and out
    int warp_op = 0, warp_arg = 0, warp_width = 32, warp_line = 0;
    uint32_t warp_mask = 0;
    uint64_t warp_in = 0, warp_out = 0;
    uint32_t sync_mask = 0;  // the lanes of its latest __syncwarp(), and the epoch that began
    int32_t sync_epoch = 0;
    int barrier_line = 0;
    int line = 0;        // the line of its latest memory access, loop test or barrier
    int64_t idle = 0;    // loop iterations since its latest memory access
    dim3 index;
    int64_t cached[MAX_SLOTS];  // the element of each argument last read by this thread, or -1
    int sites[64], visits[64], n_sites = 0;  // how often it reached each access site: the dynamic instance
};

inline dim3 g_block_index, g_block_dim, g_grid_dim, g_thread_index;
inline std::vector<Thread> g_threads;
inline char* g_stacks = nullptr;
inline int g_current = 0;
inline int64_t g_block_linear = 0;
inline int32_t g_epoch = 0;   // +1 at every block's start, every completed barrier and __syncwarp()
inline int32_t g_block_epoch = 0;    // the epoch the current block began
inline int32_t g_barrier_epoch = 0;  // the epoch the block's latest __syncthreads() (or its start) began
inline int64_t g_ticks = 0;
inline double g_deadline = 0;  // CLOCK_MONOTONIC seconds: a launch running past it stops
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
//
// Happens-before, as compute-sanitizer's racecheck sees it. Two accesses to
// one element are ordered when one thread made both (program order), or when
// both threads are in one block and a __syncthreads() lies between them (the
// earlier one is in an earlier "epoch": every barrier and every new block
// starts one). Threads of different blocks are never ordered. A pair that is
// not ordered, at least one of them a plain write, is a data race (two atomics
// are not). It is enough to compare an access with the element's last write
// (ordering is transitive) and a write with the reads since: the last reader,
// another reader of the same epoch (so that a thread's own read does not hide
// another thread's), and the last reader from another block.

enum Shadow {
    W_TID, W_EPOCH, W_ATOMIC, W_LINE,  // the last write
    R_TID, R_EPOCH, R_LINE,            // the last read
    R2_TID, R2_LINE,                   // another thread that read it in R_TID's barrier interval
    RX_TID, RX_LINE,                   // the last reader from a block other than R_TID's
    R2_EPOCH,
    SHADOW_FIELDS_ = 12
};
constexpr int SHADOW_FIELDS = SHADOW_FIELDS_;

inline int64_t block_of(int32_t global) { return global / threads_per_block(); }

// Was `other`'s access (in other_epoch) ordered before this thread's access now? By program order, by a
// __syncthreads() since (g_barrier_epoch: the epoch the block's latest barrier began), or by a
// __syncwarp() since that included both threads (lanes of one warp).
inline bool ordered(int32_t other, int32_t other_epoch) {
    if (other == me()) return true;
    if (block_of(other) != g_block_linear) return false;
    if (other_epoch < g_barrier_epoch) return true;
    const int lane_other = int(other % threads_per_block());
    const Thread& t = g_threads[g_current];
    return lane_other / WARP == g_current / WARP && ((t.sync_mask >> (lane_other % WARP)) & 1u) &&
           other_epoch < t.sync_epoch;
}

// In the block's current barrier interval?
inline bool this_interval(int32_t tid, int32_t epoch) {
    return block_of(tid) == g_block_linear && epoch >= g_barrier_epoch;
}

inline const char* shown_name(const Region* r) { return r->name[0] == '@' ? r->name + 1 : r->name; }

enum Access { READ = 0, WRITE = 1, ATOMIC = 2 };

inline const char* verb(int kind) { return kind == READ ? "read" : kind == WRITE ? "wrote" : "atomically updated"; }

// Which hazard a pair is, named as a sanitizer names it: (earlier access, later access).
inline const char* hazard(int earlier, int later) {
    if (earlier == READ) return "a write after a read";
    if (later == READ) return "a read after a write";
    return "a write after a write";
}

inline void race(const Region* r, int64_t i, int mine, int my_line, int theirs, int32_t other, int other_line) {
    char who[96], other_who[96];
    describe_thread(who, sizeof who, me());
    describe_thread(other_who, sizeof other_who, other);
    const bool same_block = block_of(other) == g_block_linear;
    const char* name = shown_name(r);
    if (r->kind == 1 || same_block) {
        const char* fix =
            r->kind == 0 ? "A __syncthreads() is missing between the two accesses; or, if threads add into one "
                           "element, they need atomicAdd(&out[k], v)"
            : mine != READ && theirs != READ
                ? "Two threads write one element between two barriers: give each thread its own element "
                  "(or atomicAdd), or a __syncthreads() is missing between the two writes"
                : "A __syncthreads() is missing between the two accesses (every thread of the block must pass it: "
                  "not inside an `if`)";
        char between[64];
        if (other_line == my_line) snprintf(between, sizeof between, " (both on line %d)", my_line);
        else snprintf(between, sizeof between, ", between line %d and line %d", other_line, my_line);
        fault("data race on %s%s[%lld] (%s): %s %s it on line %d, and %s %s it on line %d, in the same "
              "barrier interval: nothing orders the two. %s%s%s",
              r->kind == 1 ? "shared " : "", name, (long long)i, hazard(theirs, mine), other_who, verb(theirs),
              other_line, who, verb(mine), my_line, fix, between, "");
    }
    fault("data race on %s[%lld] (%s): %s %s it on line %d, and %s %s it on line %d: threads of different "
          "blocks never synchronise inside a kernel. Accumulate with atomicAdd(&%s[k], v), or give every "
          "element to exactly one thread (a grid-stride loop steps by blockDim.x * gridDim.x)",
          name, (long long)i, hazard(theirs, mine), other_who, verb(theirs), other_line, who, verb(mine), my_line,
          name);
}

inline void loop_fault(int line);
inline void check_clock();

inline void step() {
    Thread& t = g_threads[g_current];
    t.idle = 0;
    if (++g_stats->accesses > g_access_limit) {
        char who[96];
        describe_thread(who, sizeof who, me());
        fault("the kernel made more than %lld memory accesses on this small case (%s was running, near line %d): "
              "a loop that never ends? (a grid-stride loop whose step is 0, a reduction stride that never "
              "reaches 0, a thread spinning on a flag another thread of its block would set)",
              (long long)g_access_limit, who, t.line);
    }
    if ((g_stats->accesses & 0xFFFF) == 0) check_clock();
}

// Every loop of the learner's code calls this once per iteration (source.py adds it to the condition):
// a loop that touches no memory would otherwise spin for ever.
inline bool tick(int line) {
    Thread& t = g_threads[g_current];
    if (++t.idle > IDLE_LIMIT) loop_fault(line);
    if ((++g_ticks & 0xFFFFF) == 0) check_clock();
    return true;
}

inline void out_of_bounds(const Region* r, int64_t i, const char* how) {
    char who[96];
    describe_thread(who, sizeof who, me());
    const int line = g_threads[g_current].line;
    if (r->kind == 1 && r->name[0] == '@') {
        fault("%s %s dynamic shared %s[%lld], but the launch gave shared_mem=%lld bytes: room for %lld "
              "elements of %d bytes (indices 0..%lld): out of bounds on line %d. Is the index right, and is "
              "shared_mem = elements * itemsize?",
              who, how, r->name + 1, (long long)i, (long long)g_dynamic_bytes, (long long)r->count,
              r->elem_size, (long long)r->count - 1, line);
    }
    fault("%s %s %s%s[%lld], but %s has %lld elements (indices 0..%lld): out of bounds on line %d. Is the bounds "
          "guard missing or off by one (i < n), the grid bigger than the data, or row and column swapped?",
          who, how, r->kind == 1 ? "shared " : "", shown_name(r), (long long)i, shown_name(r),
          (long long)r->count, (long long)r->count - 1, line);
}

inline void record_read(int32_t* s, int line) {
    const int32_t m = me();
    if (s[R_TID] >= 0 && this_interval(s[R_TID], s[R_EPOCH])) {
        if (s[R_TID] != m) { s[R2_TID] = s[R_TID]; s[R2_LINE] = s[R_LINE]; s[R2_EPOCH] = s[R_EPOCH]; }
    } else {
        if (s[R_TID] >= 0 && block_of(s[R_TID]) != g_block_linear) { s[RX_TID] = s[R_TID]; s[RX_LINE] = s[R_LINE]; }
        s[R2_TID] = -1;
    }
    s[R_TID] = m; s[R_EPOCH] = g_epoch; s[R_LINE] = line;
}

// A write (or an atomic) against the reads no barrier separates from it.
inline void check_reads(const Region* r, int64_t i, const int32_t* s, int kind, int line) {
    if (s[R_TID] >= 0) {
        if (!ordered(s[R_TID], s[R_EPOCH])) race(r, i, kind, line, READ, s[R_TID], s[R_LINE]);
        if (this_interval(s[R_TID], s[R_EPOCH]) && s[R2_TID] >= 0 && !ordered(s[R2_TID], s[R2_EPOCH])) {
            race(r, i, kind, line, READ, s[R2_TID], s[R2_LINE]);
        }
    }
    if (s[RX_TID] >= 0 && block_of(s[RX_TID]) != g_block_linear) race(r, i, kind, line, READ, s[RX_TID], s[RX_LINE]);
}

inline void count(Region* r, int kind) {
    if (r->kind == 1 && r->padding != int32_t(g_launch_id)) {  // first use of this shared array in this launch
        r->padding = int32_t(g_launch_id);
        if (r->name[0] != '@') g_stats->static_shared_bytes += r->count * r->elem_size;
    }
    if (r->kind == 1) {
        if (kind == READ) ++g_stats->shared_loads; else ++g_stats->shared_stores;
    } else if (kind == READ) {
        ++r->loads;
    } else if (kind == WRITE) {
        ++r->stores;
    } else {
        ++r->atomics;
    }
}

inline void note_warp_access(Region* r, int64_t i, int site);

inline void access(Region* r, int64_t i, int kind, int line, int site = 0) {
    Thread& t = g_threads[g_current];
    if (line > 0) t.line = line; else line = t.line;
    step();
    if (i < 0 || i >= r->count) out_of_bounds(r, i, verb(kind));
    if (r->kind == 0 && kind == READ && r->slot < MAX_SLOTS && t.cached[r->slot] == i) return;  // in a register
    int32_t* s = r->shadow + SHADOW_FIELDS * i;
    count(r, kind);
    note_warp_access(r, i, site ? site : line * 1024);
    if (s[W_TID] >= 0 && !ordered(s[W_TID], s[W_EPOCH]) && !(kind == ATOMIC && s[W_ATOMIC])) {
        race(r, i, kind, line, s[W_ATOMIC] ? ATOMIC : WRITE, s[W_TID], s[W_LINE]);
    }
    if (kind != READ) check_reads(r, i, s, kind, line);
    if (r->kind == 1 && kind == READ && s[W_TID] < 0) {
        char who[96];
        describe_thread(who, sizeof who, me());
        fault("%s read shared %s[%lld] on line %d before any thread of its block wrote it (shared memory starts "
              "as garbage in every block). If another thread writes it, a __syncthreads() is missing between "
              "that write and this read; otherwise check the index (a reduction's stride, a tile's bounds)",
              who, shown_name(r), (long long)i, line);
    }
    if (kind == READ) {
        record_read(s, line);
        if (r->kind == 0 && r->slot < MAX_SLOTS) t.cached[r->slot] = i;
    } else {
        s[W_TID] = me(); s[W_EPOCH] = g_epoch; s[W_ATOMIC] = kind == ATOMIC; s[W_LINE] = line;
        if (r->kind == 0 && r->slot < MAX_SLOTS) t.cached[r->slot] = -1;
    }
}

// ------------------------------------------------------- memory transactions
//
// A GPU serves the loads and stores of a warp together: one instruction, the lanes that execute it.
// Here the lanes of a warp run one after the other, so each access is noted with its warp, its site
// (line and column) and the thread's visit count of that site (the dynamic instance, the same for
// the lanes of a loop iteration); at the end of the block the notes are grouped. Global memory:
// the 32-byte sectors a group touches, against the fewest its distinct elements need (a broadcast
// of one element is one sector: one request). Shared memory: the passes of the 32 banks (4-byte
// words, bank = word % 32) a group needs, against the fewest its bytes need (128 bytes per pass);
// the difference is the bank conflicts' replays.

struct WarpAccess {
    uint64_t group;  // warp, site, instance
    Region* region;
    int64_t index;
    int32_t lane;
};
inline std::vector<WarpAccess> g_warp_accesses;
constexpr size_t WARP_NOTES_MAX = 4'000'000;  // flushed early past this (a group may then count twice)

inline void flush_warp_accesses();

inline void note_warp_access(Region* r, int64_t i, int site) {
    Thread& t = g_threads[g_current];
    int k = 0;
    while (k < t.n_sites && t.sites[k] != site) ++k;
    if (k == t.n_sites) {
        if (t.n_sites == 64) k = 63; else { t.sites[k] = site; t.visits[k] = 0; ++t.n_sites; }
    }
    // the instance: the barrier interval, and the thread's visits of this site within it (a reduction's
    // levels are told apart by their barriers, a loop's iterations by the visits)
    const uint64_t instance = (uint64_t(uint32_t(g_epoch - g_block_epoch) & 0xFFFFu) << 16) |
                              uint64_t(uint32_t(t.visits[k]++) & 0xFFFFu);
    const uint64_t warp = uint64_t(g_current / WARP);
    const uint64_t group = (warp << 58) | (uint64_t(uint32_t(site) & 0x3FFFFFFu) << 32) | instance;
    g_warp_accesses.push_back(WarpAccess{group, r, i, g_current % WARP});
    if (g_warp_accesses.size() >= WARP_NOTES_MAX) flush_warp_accesses();
}

// Shared memory: 8-byte (and wider) accesses are served a half-warp (a quarter...) at a time, each
// phase in passes of the 32 banks; a pass serves one 4-byte word per bank (any lanes reading it).
inline void shared_cost(const WarpAccess* first, const WarpAccess* last, int line) {
    const int64_t size = first->region->elem_size;
    const int phases = size >= 8 ? int(size / 4) : 1;  // 8 bytes: two half-warps
    int64_t passes_total = 0, fewest_total = 0;
    int worst = 0;
    for (int phase = 0; phase < phases; ++phase) {
        int words_in_bank[32] = {0};
        int64_t distinct = 0, previous = -1;
        for (const WarpAccess* a = first; a != last; ++a) {
            if (a->lane * phases / WARP != phase || a->index == previous) continue;
            previous = a->index;
            ++distinct;
            for (int64_t w = a->index * size / 4; w <= (a->index * size + size - 1) / 4; ++w) ++words_in_bank[w % 32];
        }
        if (!distinct) continue;
        int passes = 0;
        for (int b = 0; b < 32; ++b) passes = std::max(passes, words_in_bank[b]);
        passes_total += passes;
        fewest_total += std::max<int64_t>(1, (distinct * size + 127) / 128);
        worst = std::max(worst, passes);
    }
    g_stats->shared_wavefronts += passes_total;
    g_stats->shared_min_wavefronts += fewest_total;
    if (passes_total > fewest_total && worst > g_stats->conflict_ways) {
        g_stats->conflict_ways = worst;
        g_stats->conflict_line = line;
    }
}

// One group (same region, warp, site, instance), sorted by index: count what it costs.
inline void cost_group(const WarpAccess* first, const WarpAccess* last) {
    Region* r = first->region;
    const int64_t size = r->elem_size;
    int64_t distinct = 0, sectors = 0, previous = -1, previous_sector = -1;
    for (const WarpAccess* a = first; a != last; ++a) {
        if (a->index == previous) continue;
        previous = a->index;
        ++distinct;
        if (r->kind == 0) {
            for (int64_t s = a->index * size / 32; s <= (a->index * size + size - 1) / 32; ++s) {
                if (s != previous_sector) { ++sectors; previous_sector = s; }
            }
        }
    }
    const int line = int((first->group >> 32) & 0x3FFFFFFu) / 1024;
    if (r->kind == 0) {
        const int64_t fewest = (distinct * size + 31) / 32;
        r->sectors += sectors;
        r->min_sectors += fewest;
        const double ratio = double(sectors) / double(fewest);
        if (ratio > r->worst_ratio) {
            r->worst_ratio = ratio;
            r->worst_line = line;
            int64_t lane0 = -1, lane1 = -1;
            for (const WarpAccess* a = first; a != last; ++a) {
                if (a->lane == 0) lane0 = a->index;
                if (a->lane == 1) lane1 = a->index;
            }
            r->worst_stride = lane0 >= 0 && lane1 >= 0 ? int32_t(lane1 - lane0) : 0;
        }
        return;
    }
    shared_cost(first, last, line);
}

inline void flush_warp_accesses() {
    auto& notes = g_warp_accesses;
    std::sort(notes.begin(), notes.end(), [](const WarpAccess& a, const WarpAccess& b) {
        if (a.region != b.region) return a.region < b.region;
        if (a.group != b.group) return a.group < b.group;
        return a.index < b.index;
    });
    size_t start = 0;
    for (size_t k = 1; k <= notes.size(); ++k) {
        if (k == notes.size() || notes[k].region != notes[start].region || notes[k].group != notes[start].group) {
            cost_group(notes.data() + start, notes.data() + k);
            start = k;
        }
    }
    notes.clear();
}

// ------------------------------------------------------ references, pointers

template <class T> struct ptr;

// An index, and the line of the expression that used it: `x[i]` converts i to `at` where it stands, so
// __builtin_LINE() is the learner's line (the #line directive maps it to their file).
struct at {
    int64_t value;
    int line, site;
    template <class I>
    at(I v, std::source_location where = std::source_location::current())
        : value(int64_t(v)), line(int(where.line())), site(int(where.line()) * 1024 + int(where.column() % 1024)) {
        static_assert(!std::is_floating_point_v<I>, "an array index must be an integer, not a float");
    }
};

template <class T>
struct ref {
    using V = std::remove_const_t<T>;
    Region* region;
    int64_t index;
    int line = 0;
    int site = 0;  // line and column of the expression: with the thread's visit count, a warp-level access

    V* raw() const { return static_cast<V*>(region->base) + index; }
    operator V() const { access(region, index, READ, line, site); return *raw(); }
    V get() const { return V(*this); }
    ref& operator=(V value) requires(!std::is_const_v<T>) {
        access(region, index, WRITE, line, site);
        *raw() = value;
        return *this;
    }
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

    ref<T> operator[](at i) const { return ref<T>{region, offset + i.value, i.line, i.site}; }
    ref<T> operator*() const { return ref<T>{region, offset, 0}; }
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
    access(p.region, p.offset, ATOMIC, 0);
    auto* raw = static_cast<std::remove_const_t<T>*>(p.region->base) + p.offset;
    auto old = *raw;
    *raw = old + value;
    return old;
}
template <class T, class U>
std::remove_const_t<T> atomic_max(ptr<T> p, U value) {
    access(p.region, p.offset, ATOMIC, 0);
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
        region.rows = int64_t(N); region.cols = int64_t(M);
        shadow.assign(SHADOW_FIELDS * total, -1); region.shadow = shadow.data(); wipe();
        this->ptr<T>::region = &region;
    }
    struct row {
        shared_array* owner;
        int64_t i;
        ref<T> operator[](at a) const {
            const int64_t j = a.value;
            g_threads[g_current].line = a.line;
            if (j < 0 || j >= int64_t(M)) {
                char who[96];
                describe_thread(who, sizeof who, me());
                const char* name = owner->SharedBase::region.name;
                fault("%s used shared %s[%lld][%lld], but %s is [%zu][%zu]: column %lld is out of bounds. "
                      "Is the tile's index (threadIdx.x vs threadIdx.y) or its bounds check wrong?",
                      who, name, (long long)i, (long long)j, name, N, M, (long long)j);
            }
            return ref<T>{&owner->SharedBase::region, i * int64_t(M) + j, a.line, a.site};
        }
    };
    auto operator[](at a) {
        const int64_t i = a.value;
        if constexpr (M == 0) {
            return ref<T>{&region, i, a.line, a.site};
        } else {
            g_threads[g_current].line = a.line;
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
        shadow.assign(SHADOW_FIELDS, -1); region.shadow = shadow.data(); wipe();
    }
    ref<T> r() { return ref<T>{&region, 0, 0}; }  // line 0: the thread's latest line
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
        shadow.assign(size_t(SHADOW_FIELDS * region.count), -1);
        region.shadow = shadow.data();
        if (region.count) wipe();
    }
    ref<T> operator[](at i) { return ref<T>{&region, i.value, i.line, i.site}; }
    ptr<T> operator+(int64_t k) { return ptr<T>{&region, k}; }
};

// ------------------------------------------------------------------ warps
//
// Threads t = 0, 1, ... of a block form warps of 32 (lanes t % 32). A warp-level call
// (__shfl_*_sync, __ballot_sync, __any_sync, __all_sync, __syncwarp) waits (AT_WARP) until every lane
// of its mask has made the same call; then all get their results together, as CUDA documents. A mask
// lane that has exited, never comes, or makes another call is named, as is a shuffle that reads a
// lane outside the mask.

enum WarpOp { SHFL = 1, SHFL_UP, SHFL_DOWN, SHFL_XOR, BALLOT, ANY, ALL, SYNCWARP };

inline const char* warp_op_name(int op) {
    static const char* names[] = {"", "__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync",
                                  "__ballot_sync", "__any_sync", "__all_sync", "__syncwarp"};
    return names[op];
}

inline int lanes_in_warp(int warp) { return std::min(WARP, threads_per_block() - warp * WARP); }

inline uint64_t warp_call(int op, unsigned mask, uint64_t bits, int arg, int width, int line) {
    Thread& t = g_threads[g_current];
    t.line = line;
    t.idle = 0;
    const int lane = g_current % WARP;
    if (!((mask >> lane) & 1u)) {
        char who[96];
        describe_thread(who, sizeof who, me());
        fault("%s (lane %d) calls %s(0x%08x, ...) on line %d, but its own lane is not in the mask: every "
              "lane that calls it must be in the mask (0xffffffff for the whole warp)",
              who, lane, warp_op_name(op), mask, line);
    }
    if (op != SYNCWARP && op <= SHFL_XOR && (width <= 0 || width > WARP || (width & (width - 1)))) {
        fault("%s on line %d: width=%d must be a power of two from 1 to 32", warp_op_name(op), line, width);
    }
    t.warp_op = op; t.warp_mask = mask; t.warp_in = bits; t.warp_arg = arg; t.warp_width = width;
    t.warp_line = line;
    t.state = AT_WARP;
    swapcontext(&t.context, &g_main);
    return t.warp_out;
}

// Stop the launch from the scheduler (not from inside a thread): "<thread> <what follows>".
inline void warp_fault(int thread, const char* format, ...) {
    if (g_failed) return;
    char who[96], rest[768];
    describe_thread(who, sizeof who, int32_t(g_block_linear * threads_per_block() + thread));
    va_list args;
    va_start(args, format);
    vsnprintf(rest, sizeof rest, format, args);
    va_end(args);
    snprintf(g_error, size_t(g_error_len), "%s %s", who, rest);
    g_failed = true;
}

// The source lane of lane `lane`'s shuffle, or -1 where CUDA returns the caller's own value.
inline int shuffle_source(const Thread& t, int lane) {
    const int width = t.warp_width, start = lane & ~(width - 1);
    switch (t.warp_op) {
        case SHFL: return start + (t.warp_arg & (width - 1));
        case SHFL_UP: return lane - t.warp_arg >= start ? lane - t.warp_arg : -1;
        case SHFL_DOWN: return lane + t.warp_arg < start + width ? lane + t.warp_arg : -1;
        default: {
            const int source = lane ^ t.warp_arg;
            return source < start + width ? source : -1;
        }
    }
}

// Complete the warp-level call lane `first` of `warp` waits in, if its whole mask is there.
// Returns true when the lanes could go on.
inline bool complete_warp_call(int warp, int first) {
    const int base = warp * WARP;
    Thread& lead = g_threads[size_t(base + first)];
    const char* op = warp_op_name(lead.warp_op);
    for (int lane = 0; lane < WARP; ++lane) {
        if (!((lead.warp_mask >> lane) & 1u)) continue;
        if (lane >= lanes_in_warp(warp)) {
            warp_fault(base + first, "calls %s on line %d with lane %d in its mask, but that lane does not exist (the "
                       "block's last warp has %d threads): build the mask from the lanes there are "
                       "(__ballot_sync or __activemask())", op, lead.warp_line, lane, lanes_in_warp(warp));
            return false;
        }
        const Thread& other = g_threads[size_t(base + lane)];
        if (other.state == RUNNABLE) return false;  // not there yet
        if (other.state == DONE) {
            warp_fault(base + first, "calls %s on line %d, but lane %d of its mask has exited: every lane in the mask "
                       "must make the same call (keep the call outside `if (i < n)`, or leave that lane out of "
                       "the mask)", op, lead.warp_line, lane);
            return false;
        }
        if (other.state == AT_BARRIER || other.warp_op != lead.warp_op || other.warp_mask != lead.warp_mask) {
            warp_fault(base + first, "calls %s on line %d, but lane %d of its mask waits at %s on line %d: every "
                       "lane of the mask must reach the same warp-level call with the same mask", op,
                       lead.warp_line, lane, other.state == AT_BARRIER ? "__syncthreads()" : warp_op_name(other.warp_op),
                       other.state == AT_BARRIER ? other.barrier_line : other.warp_line);
            return false;
        }
    }
    uint64_t votes = 0;
    bool all = true;
    for (int lane = 0; lane < WARP; ++lane) {
        if (!((lead.warp_mask >> lane) & 1u)) continue;
        const bool yes = g_threads[size_t(base + lane)].warp_in != 0;
        votes |= uint64_t(yes) << lane;
        all = all && yes;
    }
    if (lead.warp_op == SYNCWARP) ++g_epoch;
    for (int lane = 0; lane < WARP; ++lane) {
        if (!((lead.warp_mask >> lane) & 1u)) continue;
        Thread& t = g_threads[size_t(base + lane)];
        if (t.warp_op <= SHFL_XOR) {
            const int source = shuffle_source(t, lane);
            if (source >= 0 && (source >= lanes_in_warp(warp) || !((t.warp_mask >> source) & 1u))) {
                warp_fault(base + lane, "calls %s on line %d and reads lane %d, which is not in the mask 0x%08x (or "
                           "does not exist): its value is undefined. Put every lane you read from in the mask",
                           warp_op_name(t.warp_op), t.warp_line, source, t.warp_mask);
                return false;
            }
            t.warp_out = source < 0 ? t.warp_in : g_threads[size_t(base + source)].warp_in;
        } else if (t.warp_op == BALLOT) {
            t.warp_out = votes;
        } else if (t.warp_op == ANY) {
            t.warp_out = votes != 0;
        } else if (t.warp_op == ALL) {
            t.warp_out = all;
        } else {
            t.sync_mask = lead.warp_mask;
            t.sync_epoch = g_epoch;
        }
    }
    for (int lane = 0; lane < WARP; ++lane) {
        if (!((lead.warp_mask >> lane) & 1u)) continue;
        Thread& t = g_threads[size_t(base + lane)];
        t.warp_op = 0;
        t.state = RUNNABLE;
    }
    return true;
}

// After a pass: complete every warp-level call whose lanes are all there. True if any lane goes on.
inline bool resolve_warps() {
    bool progressed = false;
    for (int warp = 0; warp * WARP < threads_per_block() && !g_failed; ++warp) {
        for (int lane = 0; lane < lanes_in_warp(warp) && !g_failed; ++lane) {
            if (g_threads[size_t(warp * WARP + lane)].state == AT_WARP) progressed |= complete_warp_call(warp, lane);
        }
    }
    return progressed;
}

template <class T> T value_of(const T& v) { return v; }
template <class T> std::remove_const_t<T> value_of(const ref<T>& r) { return r.get(); }

template <class T>
T shuffle(int op, unsigned mask, T value, int arg, int width, int line) {
    static_assert(sizeof(T) <= 8, "a shuffle moves at most 8 bytes");
    uint64_t bits = 0;
    memcpy(&bits, &value, sizeof(T));
    const uint64_t out = warp_call(op, mask, bits, arg, width, line);
    T result;
    memcpy(&result, &out, sizeof(T));
    return result;
}

}  // namespace dojo

template <class V>
auto __shfl_sync(unsigned mask, const V& v, int src, int width = 32, int line = __builtin_LINE()) {
    return ::dojo::shuffle(::dojo::SHFL, mask, ::dojo::value_of(v), src, width, line);
}
template <class V>
auto __shfl_up_sync(unsigned mask, const V& v, unsigned delta, int width = 32, int line = __builtin_LINE()) {
    return ::dojo::shuffle(::dojo::SHFL_UP, mask, ::dojo::value_of(v), int(delta), width, line);
}
template <class V>
auto __shfl_down_sync(unsigned mask, const V& v, unsigned delta, int width = 32, int line = __builtin_LINE()) {
    return ::dojo::shuffle(::dojo::SHFL_DOWN, mask, ::dojo::value_of(v), int(delta), width, line);
}
template <class V>
auto __shfl_xor_sync(unsigned mask, const V& v, int lane_mask, int width = 32, int line = __builtin_LINE()) {
    return ::dojo::shuffle(::dojo::SHFL_XOR, mask, ::dojo::value_of(v), lane_mask, width, line);
}
inline unsigned __ballot_sync(unsigned mask, int predicate, int line = __builtin_LINE()) {
    return unsigned(::dojo::warp_call(::dojo::BALLOT, mask, predicate != 0, 0, 32, line));
}
inline int __any_sync(unsigned mask, int predicate, int line = __builtin_LINE()) {
    return int(::dojo::warp_call(::dojo::ANY, mask, predicate != 0, 0, 32, line));
}
inline int __all_sync(unsigned mask, int predicate, int line = __builtin_LINE()) {
    return int(::dojo::warp_call(::dojo::ALL, mask, predicate != 0, 0, 32, line));
}
inline void __syncwarp(unsigned mask = 0xffffffffu, int line = __builtin_LINE()) {
    ::dojo::warp_call(::dojo::SYNCWARP, mask, 0, 0, 32, line);
}
// The lanes of the calling thread's warp that have not exited (threads here never diverge mid-statement).
inline unsigned __activemask() {
    const int warp = ::dojo::g_current / ::dojo::WARP;
    unsigned mask = 0;
    for (int lane = 0; lane < ::dojo::lanes_in_warp(warp); ++lane) {
        if (::dojo::g_threads[size_t(warp * ::dojo::WARP + lane)].state != ::dojo::DONE) mask |= 1u << lane;
    }
    return mask;
}
constexpr int warpSize = 32;

namespace dojo {

// ------------------------------------------------------------- barrier, launch

inline void syncthreads(int line) {
    step();
    Thread& t = g_threads[g_current];
    t.state = AT_BARRIER;
    t.barrier_line = line;
    t.line = line;
    swapcontext(&t.context, &g_main);
}

inline void run_thread() {
    g_body(g_body_arg);
    g_threads[g_current].state = DONE;  // returning resumes g_main (uc_link)
}

inline double now() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

inline void check_clock() {
    if (now() <= g_deadline) return;
    char who[96];
    describe_thread(who, sizeof who, me());
    fault("the launch ran for more than %.0f s on this small case (%s was running, near line %d): a loop that "
          "never ends?", LAUNCH_SECONDS, who, g_threads[g_current].line);
}

inline void loop_fault(int line) {
    char who[96];
    describe_thread(who, sizeof who, me());
    fault("%s went round the loop on line %d %lld times without touching memory: a loop that never ends? "
          "(its condition never becomes false: a counter that never changes, a step of 0, a stride that "
          "never reaches 0)", who, line, (long long)IDLE_LIMIT);
}

inline void fail_block(const char* msg) {
    if (!g_failed) { snprintf(g_error, size_t(g_error_len), "%s", msg); g_failed = true; }
}

// Some threads wait at a barrier that others will never reach: they returned, or they wait at another
// __syncthreads(). On a GPU the block hangs or computes garbage; here it is named. The marker at the end
// ([[branch:lines]]) is replaced by runtime.py with the `if` around the barrier, read from the source.
inline void divergent_barrier() {
    int waiting = 0, elsewhere = 0, done = 0, line = 0, other_line = 0, first = -1, first_other = -1;
    for (int t = 0; t < threads_per_block(); ++t) {
        const Thread& th = g_threads[size_t(t)];
        if (th.state == AT_BARRIER && (first < 0 || th.barrier_line == line)) {
            if (first < 0) { first = t; line = th.barrier_line; }
            ++waiting;
        } else if (th.state == AT_BARRIER) {
            if (first_other < 0) { first_other = t; other_line = th.barrier_line; }
            ++elsewhere;
        } else if (th.state == DONE) {
            ++done;
            if (first_other < 0 && elsewhere == 0) first_other = t;
        }
    }
    char who[96], other_who[96], msg[1024];
    describe_thread(who, sizeof who, int32_t(g_block_linear * threads_per_block() + first));
    describe_thread(other_who, sizeof other_who, int32_t(g_block_linear * threads_per_block() + first_other));
    if (elsewhere > 0) {
        snprintf(msg, sizeof msg,
                 "divergent barrier in block (%u,%u,%u): %d threads (the first: %s) wait at the __syncthreads() on "
                 "line %d while %d (the first: %s) wait at the one on line %d. Every thread of a block must reach "
                 "the same __syncthreads() the same number of times[[branch:%d,%d]]",
                 g_block_index.x, g_block_index.y, g_block_index.z, waiting, who, line, elsewhere, other_who,
                 other_line, line, other_line);
    } else {
        snprintf(msg, sizeof msg,
                 "divergent barrier in block (%u,%u,%u): %d threads (the first: %s) wait at the __syncthreads() on "
                 "line %d while %d (the first: %s) have returned without reaching it, so the barrier is never "
                 "complete (the block would hang on a GPU). Every thread of a block must reach every "
                 "__syncthreads()[[branch:%d]]",
                 g_block_index.x, g_block_index.y, g_block_index.z, waiting, who, line, done, other_who, line);
    }
    fail_block(msg);
}

inline void start_threads(std::vector<char>& stacks, dim3 block) {
    for (int t = 0; t < threads_per_block(); ++t) {
        Thread& th = g_threads[size_t(t)];
        th = Thread{};
        th.index = dim3(unsigned(t % block.x), unsigned((t / block.x) % block.y), unsigned(t / (block.x * block.y)));
        for (auto& c : th.cached) c = -1;
        getcontext(&th.context);
        th.context.uc_stack.ss_sp = stacks.data() + size_t(t) * STACK_BYTES;
        th.context.uc_stack.ss_size = STACK_BYTES;
        th.context.uc_link = &g_main;
        makecontext(&th.context, run_thread, 0);
    }
}

// A lane waits in a warp-level call that can never complete (a lane of its mask waits at a barrier).
inline void stuck_in_warp_call(int t) {
    const int warp = t / WARP;
    for (int lane = 0; lane < WARP; ++lane) {
        if (((g_threads[size_t(t)].warp_mask >> lane) & 1u) && lane < lanes_in_warp(warp)) {
            const Thread& other = g_threads[size_t(warp * WARP + lane)];
            if (other.state != AT_WARP) {
                g_current = t;
                complete_warp_call(warp, t % WARP);  // names the lane that is elsewhere
                return;
            }
        }
    }
}

// Run one block to its end: every runnable thread until it returns or waits at a barrier; when all
// that have not returned wait at one barrier, a new epoch begins and they all go on.
inline void run_block(bool reverse, Stats* stats) {
    const int n = threads_per_block();
    for (;;) {
        for (int k = 0; k < n && !g_failed; ++k) {
            const int t = reverse ? n - 1 - k : k;
            if (g_threads[size_t(t)].state != RUNNABLE) continue;
            g_current = t;
            g_thread_index = g_threads[size_t(t)].index;
            swapcontext(&g_main, &g_threads[size_t(t)].context);
        }
        if (g_failed) return;
        if (resolve_warps()) continue;
        if (g_failed) return;
        for (int t = 0; t < n; ++t) {
            if (g_threads[size_t(t)].state == AT_WARP) { stuck_in_warp_call(t); return; }
        }
        int waiting = 0, done = 0, line = -1;
        bool same_line = true;
        for (auto& th : g_threads) {
            if (th.state == AT_BARRIER) {
                ++waiting;
                same_line = same_line && (line < 0 || th.barrier_line == line);
                line = th.barrier_line;
            } else if (th.state == DONE) {
                ++done;
            }
        }
        if (waiting == 0) return;
        if (done > 0 || !same_line) { divergent_barrier(); return; }
        ++g_epoch;
        g_barrier_epoch = g_epoch;
        ++stats->barriers;
        for (auto& th : g_threads) {
            th.state = RUNNABLE;
            th.n_sites = 0;  // a new interval: access sites count their visits afresh
            for (auto& c : th.cached) c = -1;  // a barrier is also a fence: reload after it
        }
    }
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
    g_deadline = now() + LAUNCH_SECONDS;
    g_warp_accesses.clear();
    g_ticks = 0;
    const int n = threads_per_block();
    g_threads.assign(size_t(n), Thread{});
    std::vector<char> stacks(size_t(n) * STACK_BYTES);
    const int64_t blocks = int64_t(grid.x) * grid.y * grid.z;
    stats->blocks = blocks;
    stats->threads = blocks * n;
    for (int64_t k = 0; k < blocks && !g_failed; ++k) {
        const int64_t b = reverse ? blocks - 1 - k : k;
        g_block_linear = b;
        g_block_index = dim3(unsigned(b % grid.x), unsigned((b / grid.x) % grid.y), unsigned(b / (int64_t(grid.x) * grid.y)));
        ++g_epoch;
        g_barrier_epoch = g_block_epoch = g_epoch;
        for (SharedBase* s : shared_registry()) s->reset();
        start_threads(stacks, block);
        stats->block_epoch = g_block_epoch;
        stats->launch_id = int32_t(g_launch_id);
        stats->last_block = b;
        run_block(reverse, stats);
        flush_warp_accesses();
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

// The shared arrays of the library, as the last block left them (read by runtime.py for the picture).
extern "C" int dojo_shared_count() { return int(dojo::shared_registry().size()); }
extern "C" dojo::Region* dojo_shared_region(int k) { return &dojo::shared_registry()[size_t(k)]->region; }
