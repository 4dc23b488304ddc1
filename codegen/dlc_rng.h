/* dlc_rng.h: the random-number generator shared with the Swift interpreter (docs/rng.md). */
#ifndef DLC_RNG_H
#define DLC_RNG_H
#include <stdint.h>

typedef struct { uint64_t state; } dlc_rng;

enum { DLC_STREAM_INIT = 1, DLC_STREAM_SPLIT = 2, DLC_STREAM_SHUFFLE = 3, DLC_STREAM_DROPOUT = 4 };

#define DLC_RNG_GAMMA 0x9E3779B97F4A7C15ull

/* The counter-based functions run on the host and, under nvcc, on the device too. */
#ifdef __CUDACC__
#define DLC_RNG_HD static inline __host__ __device__
#else
#define DLC_RNG_HD static inline
#endif

/* SplitMix64's finaliser: a bijection that mixes every bit of x into every bit of the result. */
DLC_RNG_HD uint64_t dlc_rng_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Draw number `index` (from 0) of the generator started at `state`, computed directly. */
DLC_RNG_HD uint64_t dlc_rng_draw(uint64_t state, uint64_t index) {
    return dlc_rng_mix(state + (index + 1) * DLC_RNG_GAMMA);
}

/* The generator of stream `stream` of a run seeded `seed`: seed and stream each mixed in. */
static inline dlc_rng dlc_rng_stream(uint64_t seed, uint64_t stream) {
    dlc_rng r = { dlc_rng_draw(dlc_rng_draw(0, seed), stream) };
    return r;
}

static inline uint64_t dlc_rng_next(dlc_rng *r) { return dlc_rng_mix(r->state += DLC_RNG_GAMMA); }

/* A double in [0, 1) from 64 random bits. */
DLC_RNG_HD double dlc_rng_unit(uint64_t bits) { return (double)(bits >> 11) * (1.0 / 9007199254740992.0); }

/* A double in [0, 1). */
static inline double dlc_rng_uniform01(dlc_rng *r) { return dlc_rng_unit(dlc_rng_next(r)); }

/* An integer in [0, n), n >= 1. */
static inline uint64_t dlc_rng_below(dlc_rng *r, uint64_t n) { return dlc_rng_next(r) % n; }

/* Fisher-Yates over p[0..n). */
static inline void dlc_rng_permute(dlc_rng *r, int64_t *p, int64_t n) {
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)dlc_rng_below(r, (uint64_t)(i + 1));
        int64_t t = p[i]; p[i] = p[j]; p[j] = t;
    }
}

/* Where one training step's dropout masks come from (docs/rng.md, "Dropout"): element j of the
 * row at position p of epoch e, at dropout site d, draws
 *     dlc_rng_draw(dlc_rng_draw(dlc_rng_draw(epoch_key, d), p), j),  epoch_key = dlc_rng_draw(D, e)
 * with D the dropout stream's initial state. A batch's row r is at p = first_row + r; a mask
 * without the batch axis is one row at first_row. */
typedef struct {
    uint64_t epoch_key;
    int64_t first_row;
} dlc_dropout;

static inline dlc_dropout dlc_dropout_at(uint64_t seed, int64_t epoch, int64_t first_row) {
    dlc_dropout d = { dlc_rng_draw(dlc_rng_stream(seed, DLC_STREAM_DROPOUT).state, (uint64_t)epoch), first_row };
    return d;
}

/* The uniform draw of one mask element on its own (a GPU thread's or a process's): element
 * `element` of the row at epoch position `position`, dropout site `site`. */
DLC_RNG_HD double dlc_dropout_unit(uint64_t epoch_key, uint64_t site, uint64_t position, uint64_t element) {
    return dlc_rng_unit(dlc_rng_draw(dlc_rng_draw(dlc_rng_draw(epoch_key, site), position), element));
}
#endif
