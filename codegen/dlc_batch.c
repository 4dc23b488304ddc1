/* dlc_batch.c: hands the kernels one minibatch at a time.
 *
 * A batch of consecutive rows is passed in place; rows in a shuffled order are first copied
 * into buffers owned by the batch, so the kernels always see contiguous row-major tensors. */
#include "dlc_runtime.h"

#include <stdlib.h>
#include <string.h>

void dlc_batch_init(const dlc_model *m, const dlc_dataset *ds, int64_t max_rows, dlc_batch *b) {
    b->n_data = m->n_data;
    b->max_rows = max_rows;
    b->ptr = dlc_xcalloc((size_t)m->n_data + 1, sizeof *b->ptr);
    b->buf = dlc_xcalloc((size_t)m->n_data + 1, sizeof *b->buf);
    for (int t = 0; t < m->n_data && max_rows > 0; t++)
        if (ds->cols[t]) b->buf[t] = dlc_aligned_alloc(dlc_mul_size((size_t)max_rows, (size_t)m->data[t].size * 4));
}

void dlc_batch_fill(const dlc_model *m, const dlc_dataset *ds, const int64_t *order, int64_t start, int64_t count,
                    dlc_batch *b) {
    dlc_rows_current(ds, order, start, count);
    for (int t = 0; t < m->n_data; t++) {
        const char *src = ds->cols[t];
        size_t row = (size_t)m->data[t].size * 4;
        if (!src) {
            b->ptr[t] = NULL;
        } else if (!order) {
            b->ptr[t] = src + (size_t)start * row;
        } else {
            char *dst = b->buf[t];
            for (int64_t i = 0; i < count; i++) memcpy(dst + (size_t)i * row, src + (size_t)order[start + i] * row, row);
            b->ptr[t] = dst;
        }
    }
}

void dlc_batch_free(dlc_batch *b) {
    for (int t = 0; t < b->n_data; t++) free(b->buf[t]);
    free(b->buf);
    free(b->ptr);
}
