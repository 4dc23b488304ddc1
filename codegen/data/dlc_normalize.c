/* dlc_normalize.c: the `normalize` setting: z-scores per feature of an input.
 *
 * Statistics come from the training rows (after the validation split), in double, with the
 * population std, then are rounded to f32; those f32 values are what is applied, saved in the
 * checkpoint and read back by eval and predict, so every command scales identically. A
 * feature with a std of 0 (constant; or below FLT_MIN) gets 1: it is centred, not scaled. */
#include "dlc_runtime.h"

#include <math.h>
#include <string.h>

void dlc_norm_compute(const dlc_model *m, const dlc_train_config *cfg, const dlc_dataset *ds, dlc_norms *out) {
    out->count = 0;
    out->items = dlc_xcalloc((size_t)cfg->n_normalize + 1, sizeof *out->items);
    for (int k = 0; k < cfg->n_normalize; k++) {
        int t = -1;
        for (int i = 0; i < m->n_data; i++)
            if (strcmp(m->data[i].name, cfg->normalize[k]) == 0) t = i;
        if (t < 0 || m->data[t].dtype != DLC_F32 || !ds->cols[t]) continue;
        int64_t size = m->data[t].size, n = ds->n;
        const float *x = ds->cols[t];
        dlc_norm *z = &out->items[out->count++];
        z->tensor = t;
        z->mean = dlc_xmalloc((size_t)size * sizeof(float));
        z->std = dlc_xmalloc((size_t)size * sizeof(float));
        for (int64_t j = 0; j < size; j++) {
            double sum = 0, sq = 0;
            for (int64_t i = 0; i < n; i++) sum += x[i * size + j];
            double mean = n ? sum / (double)n : 0;
            for (int64_t i = 0; i < n; i++) {
                double dev = x[i * size + j] - mean;
                sq += dev * dev;
            }
            z->mean[j] = (float)mean;
            z->std[j] = (float)(n ? sqrt(sq / (double)n) : 0);
            /* A constant feature is centred only: its scale is 1, as in sklearn's StandardScaler
             * (so a saved std is always a positive normal f32, which the loader insists on). */
            if (!(z->std[j] >= FLT_MIN)) z->std[j] = 1.0f;
        }
    }
}

/* In double, then rounded once: in f32, x - mean alone overflows for values near the ends of
 * the range (3e38 - (-1e38)). A training row's z-score is at most sqrt(rows), but a row the
 * statistics were not computed from (validation, eval, predict) can be anything: one that
 * f32 cannot hold is reported where it came from, not turned into inf or NaN. */
void dlc_norm_apply(const dlc_model *m, const dlc_norms *nz, dlc_dataset *ds) {
    for (int k = 0; k < nz->count; k++) {
        const dlc_norm *z = &nz->items[k];
        float *x = ds->cols[z->tensor];
        if (!x) continue;
        int64_t size = m->data[z->tensor].size;
        for (int64_t i = 0; i < ds->n; i++)
            for (int64_t j = 0; j < size; j++) {
                double v = (double)x[i * size + j] - (double)z->mean[j];
                if (z->std[j] != 0.0f) v /= (double)z->std[j];
                float f = (float)v;
                if (isfinite(f)) {
                    x[i * size + j] = f;
                    continue;
                }
                dlc_row_error(m, ds, i, z->tensor, j, "%g normalizes to %g with mean %g and std %g, which f32 cannot hold",
                              (double)x[i * size + j], v, (double)z->mean[j], (double)z->std[j]);
                break; /* one message per row */
            }
    }
    dlc_stop_on_data_errors();
}
