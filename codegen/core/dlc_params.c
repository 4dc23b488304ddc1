/* dlc_params.c: where params live and how they start (docs/rng.md, stream init).
 *
 * Every param is a slice of one float block. Gradients and optimizer state use the same
 * layout, so an optimizer update is one loop over a flat array. */
#include "dlc_runtime.h"

#include <math.h>
#include <string.h>

void dlc_layout_make(const dlc_model *m, dlc_layout *l) {
    l->offset = dlc_xcalloc((size_t)m->n_params + 1, sizeof *l->offset);
    l->total = 0;
    for (int i = 0; i < m->n_params; i++) {
        l->offset[i] = l->total;
        l->total += m->params[i].size;
    }
}

float **dlc_layout_views(const dlc_model *m, const dlc_layout *l, float *block) {
    float **v = dlc_xcalloc((size_t)m->n_params + 1, sizeof *v);
    for (int i = 0; i < m->n_params; i++) v[i] = block + l->offset[i];
    return v;
}

/* PyTorch's fans: fan_in is the product of all axes but the first; fan_out is the first
 * axis times the receptive field (the axes after the second). A scalar has 1 and 1. */
static void fans(const dlc_param_desc *p, double *fan_in, double *fan_out) {
    double in = 1, field = 1;
    for (int d = 1; d < p->rank; d++) in *= (double)p->dims[d];
    for (int d = 2; d < p->rank; d++) field *= (double)p->dims[d];
    *fan_in = in;
    *fan_out = p->rank == 0 ? 1 : (double)p->dims[0] * field;
}

static void fill_uniform(dlc_rng *r, float *w, int64_t n, double lo, double hi) {
    for (int64_t i = 0; i < n; i++) w[i] = (float)(lo + (hi - lo) * dlc_rng_uniform01(r));
}

void dlc_init_params(const dlc_model *m, const dlc_layout *l, float *params, uint64_t seed) {
    /* One stream for all params, consumed in declaration order. */
    dlc_rng r = dlc_rng_stream(seed, DLC_STREAM_INIT);
    for (int i = 0; i < m->n_params; i++) {
        const dlc_param_desc *p = &m->params[i];
        float *w = params + l->offset[i];
        double fan_in, fan_out, b;
        fans(p, &fan_in, &fan_out);
        switch (p->init.kind) {
        case DLC_INIT_ZEROS:
            for (int64_t k = 0; k < p->size; k++) w[k] = 0.0f;
            break;
        case DLC_INIT_ONES:
            for (int64_t k = 0; k < p->size; k++) w[k] = 1.0f;
            break;
        case DLC_INIT_CONSTANT:
            for (int64_t k = 0; k < p->size; k++) w[k] = (float)p->init.a;
            break;
        case DLC_INIT_UNIFORM:
            fill_uniform(&r, w, p->size, p->init.a, p->init.b);
            break;
        case DLC_INIT_NORMAL:
            for (int64_t k = 0; k < p->size; k++) {
                /* Box-Muller, first value only; 1 - u1 keeps the log finite. */
                double u1 = dlc_rng_uniform01(&r), u2 = dlc_rng_uniform01(&r);
                w[k] = (float)(p->init.a + p->init.b * sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * DLC_PI * u2));
            }
            break;
        case DLC_INIT_KAIMING_UNIFORM:
            b = 1.0 / sqrt(fan_in);
            fill_uniform(&r, w, p->size, -b, b);
            break;
        case DLC_INIT_XAVIER_UNIFORM:
            b = sqrt(6.0 / (fan_in + fan_out));
            fill_uniform(&r, w, p->size, -b, b);
            break;
        case DLC_INIT_VALUES:
            for (int64_t k = 0; k < p->size; k++) w[k] = p->init.values[k];
            break;
        }
    }
}

const char *dlc_init_string(char *buf, size_t cap, const dlc_init *init) {
    switch (init->kind) {
    case DLC_INIT_ZEROS: snprintf(buf, cap, "zeros"); break;
    case DLC_INIT_ONES: snprintf(buf, cap, "ones"); break;
    case DLC_INIT_CONSTANT: snprintf(buf, cap, "%g", init->a); break;
    case DLC_INIT_NORMAL: snprintf(buf, cap, "normal(%g, %g)", init->a, init->b); break;
    case DLC_INIT_UNIFORM: snprintf(buf, cap, "uniform(%g, %g)", init->a, init->b); break;
    case DLC_INIT_KAIMING_UNIFORM: snprintf(buf, cap, "kaiming_uniform"); break;
    case DLC_INIT_XAVIER_UNIFORM: snprintf(buf, cap, "xavier_uniform"); break;
    case DLC_INIT_VALUES: snprintf(buf, cap, "[%g, ...]", init->values ? (double)init->values[0] : 0.0); break;
    }
    return buf;
}
