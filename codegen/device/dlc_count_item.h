/* dlc_count_item.h: one item of a metric's count (dlc_count, dlc_device.h), the same definition
 * on the host (core/dlc_metrics.c) and in the CUDA device's count kernel (DLC_HD: __host__
 * __device__ under nvcc), so that both devices count alike. */
#ifndef DLC_COUNT_ITEM_H
#define DLC_COUNT_ITEM_H
#include <math.h>
#include <stdint.h>

#include "dlc_device.h"
#include "dlc_kernels.h"

DLC_HD double dlc_count_value(const void *p, int i32, int64_t i) {
    return i32 ? (double)((const int32_t *)p)[i] : (double)((const float *)p)[i];
}

/* The first index of the largest value among p[start .. start+n). NaN never wins. */
DLC_HD int64_t dlc_count_argmax(const void *p, int i32, int64_t start, int64_t n) {
    int64_t best = 0;
    double bv = dlc_count_value(p, i32, start);
    for (int64_t k = 1; k < n; k++) {
        double v = dlc_count_value(p, i32, start + k);
        if (v > bv || (isnan(bv) && !isnan(v))) best = k, bv = v;
    }
    return best;
}

/* Item g's term of the count, in double. */
DLC_HD double dlc_count_item(const dlc_count *c, const void *out, const void *tgt, int64_t g) {
    const int oi = c->output_i32, ti = c->target_i32;
    switch (c->kind) {
    case DLC_COUNT_ARGMAX:
        return (double)dlc_count_argmax(out, oi, g * c->columns, c->columns) == dlc_count_value(tgt, ti, g);
    case DLC_COUNT_ARGMAX_ONEHOT:
        return dlc_count_argmax(out, oi, g * c->columns, c->columns) == dlc_count_argmax(tgt, ti, g * c->columns, c->columns);
    case DLC_COUNT_ABOVE: return (dlc_count_value(out, oi, g) > c->cut) == (dlc_count_value(tgt, ti, g) > c->cut);
    case DLC_COUNT_SQUARED: {
        double d = dlc_count_value(out, oi, g) - dlc_count_value(tgt, ti, g);
        return d * d;
    }
    case DLC_COUNT_ABSOLUTE: return fabs(dlc_count_value(out, oi, g) - dlc_count_value(tgt, ti, g));
    }
    return 0.0;
}
#endif
