/* dlc_batch.c: hands the kernels one minibatch at a time.
 *
 * On the host device a batch of consecutive rows is passed in place; rows in a shuffled order
 * are first copied into buffers owned by the batch, so the kernels always see contiguous
 * row-major tensors. On a device whose memory is not the host's, a data set that fits is
 * copied there once (dlc_dataset_to_device) and each batch is gathered from it on the device;
 * otherwise each batch's rows go over (one copy per tensor and batch). Either way the kernels
 * see the batch in the same device buffers every step, so a captured step replays. */
#include "dlc_runtime.h"

#include <stdlib.h>
#include <string.h>

void dlc_batch_init(const dlc_model *m, int64_t max_rows, dlc_batch *b) {
    memset(b, 0, sizeof *b);
    b->n_data = m->n_data;
    b->max_rows = max_rows;
    b->ptr = dlc_xcalloc((size_t)m->n_data + 1, sizeof *b->ptr);
    b->gather = dlc_xcalloc((size_t)m->n_data + 1, sizeof *b->gather);
    b->dev = dlc_xcalloc((size_t)m->n_data + 1, sizeof *b->dev);
}

/* Buffers are made when first needed: a run in file order on the host needs none. */
static size_t rows_bytes(const dlc_model *m, int t, int64_t rows) {
    return dlc_mul_size((size_t)rows, (size_t)m->data[t].size * 4);
}

void dlc_dataset_to_device(const dlc_model *m, dlc_dataset *ds) {
    if (dlc_device_is_host() || ds->dev || ds->n == 0) return;
    size_t bytes = 0;
    for (int t = 0; t < m->n_data; t++)
        if (ds->cols[t]) bytes += rows_bytes(m, t, ds->n);
    if (!dlc_device_can_hold(bytes)) return; /* batches stream over instead */
    ds->dev = dlc_xcalloc((size_t)m->n_data + 1, sizeof *ds->dev);
    for (int t = 0; t < m->n_data; t++) {
        if (!ds->cols[t]) continue;
        ds->dev[t] = dlc_device_alloc(rows_bytes(m, t, ds->n));
        dlc_device_copy_in(ds->dev[t], ds->cols[t], rows_bytes(m, t, ds->n));
    }
    dlc_device_sync(); /* the host rows may change (or go) once this returns */
}

void dlc_dataset_off_device(const dlc_model *m, dlc_dataset *ds) {
    if (!ds->dev) return;
    for (int t = 0; t < m->n_data; t++) dlc_device_free(ds->dev[t]);
    free(ds->dev);
    ds->dev = NULL;
}

void dlc_batch_fill(const dlc_model *m, const dlc_dataset *ds, const int64_t *order, int64_t start, int64_t count,
                    dlc_batch *b) {
    if (count > b->max_rows) dlc_die(1, "internal: a batch of %lld rows in buffers of %lld", (long long)count,
                                     (long long)b->max_rows);
    dlc_rows_current(ds, order, start, count);
    for (int t = 0; t < m->n_data; t++) {
        const char *src = ds->cols[t];
        size_t row = (size_t)m->data[t].size * 4;
        if (!src) {
            b->ptr[t] = NULL;
            continue;
        }
        if (!dlc_device_is_host() && !b->dev[t]) b->dev[t] = dlc_device_alloc(rows_bytes(m, t, b->max_rows));
        if (ds->dev && ds->dev[t]) { /* the data set is on the device: gather there */
            dlc_device_rows(b->dev[t], ds->dev[t], order, start, count, row);
            b->ptr[t] = b->dev[t];
            continue;
        }
        const char *host = src + (size_t)start * row;
        if (order) {
            if (!b->gather[t]) b->gather[t] = dlc_aligned_alloc(rows_bytes(m, t, b->max_rows));
            char *dst = b->gather[t];
            for (int64_t i = 0; i < count; i++) memcpy(dst + (size_t)i * row, src + (size_t)order[start + i] * row, row);
            host = dst;
        }
        if (dlc_device_is_host()) {
            b->ptr[t] = host;
        } else {
            dlc_device_copy_in(b->dev[t], host, (size_t)count * row);
            b->ptr[t] = b->dev[t];
        }
    }
}

void dlc_batch_free(dlc_batch *b) {
    for (int t = 0; t < b->n_data; t++) {
        free(b->gather[t]);
        dlc_device_free(b->dev[t]);
    }
    free(b->gather);
    free(b->dev);
    free(b->ptr);
}
