/* dlc_rng.h: the random-number generator shared with the Swift interpreter (docs/rng.md). */
#ifndef DLC_RNG_H
#define DLC_RNG_H
#include <stdint.h>

typedef struct { uint64_t state; } dlc_rng;

enum { DLC_STREAM_INIT = 1, DLC_STREAM_SPLIT = 2, DLC_STREAM_SHUFFLE = 3, DLC_STREAM_DROPOUT = 4 };

static inline dlc_rng dlc_rng_stream(uint64_t seed, uint64_t stream) {
    dlc_rng r = { seed * 0x9E3779B97F4A7C15ull + stream * 0xD6E8FEB86659FD93ull };
    return r;
}

static inline uint64_t dlc_rng_next(dlc_rng *r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A double in [0, 1). */
static inline double dlc_rng_uniform01(dlc_rng *r) {
    return (double)(dlc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* An integer in [0, n), n >= 1. */
static inline uint64_t dlc_rng_below(dlc_rng *r, uint64_t n) { return dlc_rng_next(r) % n; }

/* Fisher-Yates over p[0..n). */
static inline void dlc_rng_permute(dlc_rng *r, int64_t *p, int64_t n) {
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)dlc_rng_below(r, (uint64_t)(i + 1));
        int64_t t = p[i]; p[i] = p[j]; p[j] = t;
    }
}
#endif
