/* dlc_info.c: the `info` command: params, data, outputs, memory and FLOPs per step. */
#include "dlc_runtime.h"

#include <string.h>

static const char *dtype_name(dlc_dtype t) { return t == DLC_F32 ? "f32" : "i32"; }

/* "f32[N, 64]" for a per-example shape behind the batch axis. */
static const char *batched_type(char *buf, size_t cap, dlc_dtype t, int batched, int rank, const int64_t *dims) {
    size_t used = (size_t)snprintf(buf, cap, "%s%s", dtype_name(t), batched || rank ? "[" : "");
    if (batched) used += (size_t)snprintf(buf + used, cap - used, "N");
    for (int i = 0; i < rank && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", batched || i ? ", " : "", (long long)dims[i]);
    if ((batched || rank) && used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

int dlc_cmd_info(const dlc_model *m, const dlc_options *o) {
    char a[160], b[160];
    printf("model %s\n\nparams:\n", m->name);
    int64_t total = 0;
    for (int i = 0; i < m->n_params; i++) {
        const dlc_param_desc *p = &m->params[i];
        printf("  %-24s %-16s %12lld  %s\n", p->name, dlc_shape_string(a, sizeof a, p->rank, p->dims), (long long)p->size,
               dlc_init_string(b, sizeof b, &p->init));
        total += p->size;
    }
    printf("  %-24s %-16s %12lld\n", "total", "", (long long)total);
    if (m->n_state) printf("\nstate (not trained; updated by each training step, saved with the params):\n");
    for (int i = 0; i < m->n_state; i++) {
        const dlc_state_desc *d = &m->state[i];
        printf("  %-24s %-16s %12lld  %s %g\n", d->name, batched_type(a, sizeof a, d->dtype, 0, d->rank, d->dims),
               (long long)d->size, "starts at", d->init);
    }
    if (m->n_data) printf("\ndata:\n");
    for (int i = 0; i < m->n_data; i++) {
        const dlc_data_desc *d = &m->data[i];
        printf("  %-6s %-24s %s", d->is_target ? "target" : "input", d->name,
               batched_type(a, sizeof a, d->dtype, 1, d->rank, d->dims));
        if (d->classes) printf("  (%lld classes)", (long long)d->classes);
        printf("\n");
    }
    if (m->n_outputs) printf("\noutputs:\n");
    for (int i = 0; i < m->n_outputs; i++) {
        const dlc_output_desc *out = &m->outputs[i];
        printf("  %-24s %s\n", out->name, batched_type(a, sizeof a, out->dtype, out->batched, out->rank, out->dims));
    }

    int64_t batch = dlc_model_has_data(m) ? o->cfg.batch : 1;
    const char *note = "";
    if (batch <= 0) {
        batch = 1000; /* `batch full`: the arena grows with the data; show a round size */
        note = " (batch full: shown for N = 1000)";
    }
    int slots = dlc_optim_slots(&o->cfg.optimizer);
    double mib = 1.0 / (1 << 20);
    printf("\nmemory per step, batch %lld%s:\n", (long long)batch, note);
    printf("  params     %14lld bytes  %9.2f MiB\n", (long long)(4 * total), 4.0 * (double)total * mib);
    printf("  gradients  %14lld bytes  %9.2f MiB\n", (long long)(4 * total), 4.0 * (double)total * mib);
    printf("  optimizer  %14lld bytes  %9.2f MiB  (%s, %d state tensor%s per param)\n", (long long)(4 * total * slots),
           4.0 * (double)total * slots * mib, dlc_optim_name(o->cfg.optimizer.kind), slots, slots == 1 ? "" : "s");
    size_t arena = m->arena_bytes(batch);
    printf("  arena      %14llu bytes  %9.2f MiB\n", (unsigned long long)arena, (double)arena * mib);
    if (m->train_flops) printf("\nFLOPs per training step: %.4g\n", m->train_flops(batch));
    else printf("\nFLOPs per training step: not reported by this model\n");
    return 0;
}
