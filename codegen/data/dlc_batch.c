/* dlc_batch.c: hands the kernels one minibatch at a time.
 *
 * On the host device a batch of consecutive rows is passed in place; rows in a shuffled order
 * are first copied into buffers owned by the batch, so the kernels always see contiguous
 * row-major tensors. On a device whose memory is not the host's, a data set that fits is
 * copied there once (dlc_dataset_to_device) and each batch is gathered from it on the device.
 * Otherwise batches stream: each is gathered into page-locked host memory and copied over
 * ahead, while the step before it computes. The next batch is predicted from the last two
 * (the same stride and size: consecutive batches, or one process's parts of consecutive
 * global batches); a fill that was not predicted is copied on the spot, so a wrong guess
 * costs a copy, never a wrong row. Either way the kernels see the batch in a few fixed device
 * buffers, so a captured step replays. */
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
    for (int s = 0; s < 2; s++) {
        b->staged[s] = dlc_xcalloc((size_t)m->n_data + 1, sizeof *b->staged[s]);
        b->staged_dev[s] = dlc_xcalloc((size_t)m->n_data + 1, sizeof *b->staged_dev[s]);
    }
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

/* Row i of dst = row (order ? order[start + i] : start + i) of tensor t of ds. */
static void gather_rows(const dlc_model *m, const dlc_batch_rows *r, int t, char *dst) {
    size_t row = (size_t)m->data[t].size * 4;
    const char *src = r->ds->cols[t];
    if (!r->order) {
        memcpy(dst, src + (size_t)r->start * row, (size_t)r->count * row);
        return;
    }
    for (int64_t i = 0; i < r->count; i++) memcpy(dst + (size_t)i * row, src + (size_t)r->order[r->start + i] * row, row);
}

/* ---- Streaming ---------------------------------------------------------------------------------- */

/* Gathers r's rows into slot s's host buffers and starts their copy to its device buffers. */
static void stage(const dlc_model *m, const dlc_batch_rows *r, int s, dlc_batch *b) {
    dlc_device_ahead_host_ready(s); /* the slot's previous copy has left its host buffers */
    for (int t = 0; t < m->n_data; t++) {
        if (!r->ds->cols[t]) continue;
        if (!b->staged[s][t]) {
            b->staged[s][t] = dlc_device_host_alloc(rows_bytes(m, t, b->max_rows));
            b->staged_dev[s][t] = dlc_device_alloc(rows_bytes(m, t, b->max_rows));
        }
        gather_rows(m, r, t, b->staged[s][t]);
        dlc_device_copy_ahead(s, b->staged_dev[s][t], b->staged[s][t], rows_bytes(m, t, r->count));
    }
}

/* Whether the batch copied ahead holds exactly r's rows (order's entries compared, since the
 * order array may have been reshuffled since). */
static int ahead_holds(const dlc_batch *b, const dlc_batch_rows *r) {
    const dlc_batch_rows *a = &b->ahead;
    if (a->ds != r->ds || a->start != r->start || a->count != r->count || !a->order != !r->order) return 0;
    return !r->order || memcmp(b->ahead_order, r->order + r->start, (size_t)r->count * sizeof *r->order) == 0;
}

/* The batch after r, guessed from r and the one before it: the same stride and size. */
static int predict_next(const dlc_batch *b, const dlc_batch_rows *r, dlc_batch_rows *next) {
    const dlc_batch_rows *l = &b->last;
    int64_t stride = l->ds == r->ds && l->order == r->order && r->start > l->start ? r->start - l->start : r->count;
    *next = *r;
    next->start = r->start + stride;
    return r->count > 0 && next->start + next->count <= r->ds->n;
}

static void fill_streamed(const dlc_model *m, const dlc_batch_rows *r, dlc_batch *b) {
    int s;
    if (b->ahead.ds && ahead_holds(b, r)) {
        s = 1 - b->slot; /* copied while the last step computed */
    } else {
        s = b->last.ds ? 1 - b->slot : 0;
        stage(m, r, s, b);
    }
    dlc_device_ahead_use(s);
    for (int t = 0; t < m->n_data; t++) b->ptr[t] = r->ds->cols[t] ? b->staged_dev[s][t] : NULL;
    b->slot = s;
    dlc_batch_rows next;
    int guessed = predict_next(b, r, &next);
    b->last = *r;
    b->ahead.ds = NULL;
    if (!guessed) return;
    stage(m, &next, 1 - s, b);
    b->ahead = next;
    if (next.order) {
        if (!b->ahead_order) b->ahead_order = dlc_xcalloc((size_t)b->max_rows + 1, sizeof *b->ahead_order);
        memcpy(b->ahead_order, next.order + next.start, (size_t)next.count * sizeof *next.order);
    }
}

/* ---- Filling a batch ------------------------------------------------------------------------------ */

void dlc_batch_fill(const dlc_model *m, const dlc_dataset *ds, const int64_t *order, int64_t start, int64_t count,
                    dlc_batch *b) {
    if (count > b->max_rows) dlc_die(1, "internal: a batch of %lld rows in buffers of %lld", (long long)count,
                                     (long long)b->max_rows);
    dlc_rows_current(ds, order, start, count);
    dlc_batch_rows r = {ds, order, start, count};
    if (!dlc_device_is_host() && !ds->dev) {
        fill_streamed(m, &r, b);
        return;
    }
    for (int t = 0; t < m->n_data; t++) {
        const char *src = ds->cols[t];
        if (!src) {
            b->ptr[t] = NULL;
            continue;
        }
        if (ds->dev) { /* the data set is on the device: gather there */
            if (!b->dev[t]) b->dev[t] = dlc_device_alloc(rows_bytes(m, t, b->max_rows));
            dlc_device_rows(b->dev[t], ds->dev[t], order, start, count, (size_t)m->data[t].size * 4);
            b->ptr[t] = b->dev[t];
        } else if (order) {
            if (!b->gather[t]) b->gather[t] = dlc_aligned_alloc(rows_bytes(m, t, b->max_rows));
            gather_rows(m, &r, t, b->gather[t]);
            b->ptr[t] = b->gather[t];
        } else {
            b->ptr[t] = src + (size_t)start * (size_t)m->data[t].size * 4; /* in place */
        }
    }
}

void dlc_batch_free(dlc_batch *b) {
    for (int t = 0; t < b->n_data; t++) {
        free(b->gather[t]);
        dlc_device_free(b->dev[t]);
        for (int s = 0; s < 2; s++) {
            dlc_device_host_free(b->staged[s][t]);
            dlc_device_free(b->staged_dev[s][t]);
        }
    }
    for (int s = 0; s < 2; s++) {
        free(b->staged[s]);
        free(b->staged_dev[s]);
    }
    free(b->ahead_order);
    free(b->gather);
    free(b->dev);
    free(b->ptr);
}
