/* dlc_batch.c: hands the kernels one minibatch at a time.
 *
 * A batch of consecutive rows is passed in place; rows in a shuffled order are first copied
 * into buffers owned by the batch, so the kernels always see contiguous row-major tensors. On
 * a device whose memory is not the host's, the rows then go to device buffers (one copy per
 * tensor and batch); the host rows stay at hand for the metrics. */
#include "dlc_runtime.h"

#include <stdlib.h>
#include <string.h>

void dlc_batch_init(const dlc_model *m, int64_t max_rows, dlc_batch *b) {
    memset(b, 0, sizeof *b);
    b->n_data = m->n_data;
    b->max_rows = max_rows;
    b->ptr = dlc_xcalloc((size_t)m->n_data + 1, sizeof *b->ptr);
    b->host = dlc_xcalloc((size_t)m->n_data + 1, sizeof *b->host);
    b->gather = dlc_xcalloc((size_t)m->n_data + 1, sizeof *b->gather);
    b->dev = dlc_xcalloc((size_t)m->n_data + 1, sizeof *b->dev);
}

/* Buffers are made when first needed: a run in file order on the host needs none. */
static size_t rows_bytes(const dlc_model *m, int t, int64_t rows) {
    return dlc_mul_size((size_t)rows, (size_t)m->data[t].size * 4);
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
            b->ptr[t] = b->host[t] = NULL;
            continue;
        }
        if (!order) {
            b->host[t] = src + (size_t)start * row;
        } else {
            if (!b->gather[t]) b->gather[t] = dlc_aligned_alloc(rows_bytes(m, t, b->max_rows));
            char *dst = b->gather[t];
            for (int64_t i = 0; i < count; i++) memcpy(dst + (size_t)i * row, src + (size_t)order[start + i] * row, row);
            b->host[t] = dst;
        }
        if (dlc_device_is_host()) {
            b->ptr[t] = b->host[t];
        } else {
            if (!b->dev[t]) b->dev[t] = dlc_device_alloc(rows_bytes(m, t, b->max_rows));
            dlc_device_copy_in(b->dev[t], b->host[t], (size_t)count * row);
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
    free(b->host);
    free(b->ptr);
}
