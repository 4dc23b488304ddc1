/* dlc_optim.c: optimizers and learning-rate schedules, following torch.optim.
 *
 * The updates are PyTorch's single-tensor (CPU) formulas: the state is f32, and each scalar
 * hyper-parameter is computed in double as Python does and rounded to f32 where it meets a
 * tensor. Schedules are stepped once per epoch and, like torch.optim.lr_scheduler, update
 * the current rate recursively from the previous one. */
#include "dlc_runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *dlc_optim_name(dlc_opt_kind k) {
    switch (k) {
    case DLC_OPT_SGD: return "sgd";
    case DLC_OPT_ADAM: return "adam";
    case DLC_OPT_ADAMW: return "adamw";
    case DLC_OPT_ADAGRAD: return "adagrad";
    }
    return "?";
}

int dlc_optim_slots(const dlc_optimizer_config *cfg) {
    switch (cfg->kind) {
    case DLC_OPT_SGD: return cfg->momentum != 0 ? 1 : 0;
    case DLC_OPT_ADAM: case DLC_OPT_ADAMW: return 2;
    case DLC_OPT_ADAGRAD: return 1;
    }
    return 0;
}

void dlc_optim_init(dlc_optimizer *o, const dlc_optimizer_config *cfg, int64_t total) {
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->lr = cfg->lr;
    o->total = total;
    o->n_slots = dlc_optim_slots(cfg);
    /* PyTorch's names for the state, used in the .optim checkpoint. */
    switch (cfg->kind) {
    case DLC_OPT_SGD: o->slot_names[0] = "momentum_buffer"; break;
    case DLC_OPT_ADAM: case DLC_OPT_ADAMW: o->slot_names[0] = "exp_avg"; o->slot_names[1] = "exp_avg_sq"; break;
    case DLC_OPT_ADAGRAD: o->slot_names[0] = "sum"; break;
    }
    size_t bytes = dlc_mul_size((size_t)total + 1, sizeof(float));
    for (int s = 0; s < o->n_slots; s++) {
        o->dev_slot[s] = dlc_device_alloc(bytes);
        o->slot[s] = dlc_device_is_host() ? o->dev_slot[s] : dlc_xcalloc((size_t)total + 1, sizeof(float));
    }
}

void dlc_optim_to_host(dlc_optimizer *o) {
    for (int s = 0; s < o->n_slots; s++) dlc_device_copy_out(o->slot[s], o->dev_slot[s], (size_t)o->total * sizeof(float));
}

void dlc_optim_to_device(dlc_optimizer *o) {
    for (int s = 0; s < o->n_slots; s++) dlc_device_copy_in(o->dev_slot[s], o->slot[s], (size_t)o->total * sizeof(float));
}

/* The update's scalars, computed in double as Python does and rounded to f32 where they meet
 * a tensor; the device applies them element by element (dlc_device_update). */
void dlc_optim_update(dlc_optimizer *o, float *params, const float *grads) {
    const dlc_optimizer_config *c = &o->cfg;
    dlc_update u = {.kind = DLC_UPDATE_SGD, .lr = (float)o->lr, .weight_decay = (float)c->weight_decay,
                    .eps = (float)c->eps};
    switch (c->kind) {
    case DLC_OPT_SGD:
        u.momentum = (float)c->momentum;
        u.nesterov = c->nesterov;
        u.first = o->step == 0; /* torch starts the momentum buffer as a copy of the gradient */
        break;
    case DLC_OPT_ADAM:
    case DLC_OPT_ADAMW: {
        double step = (double)o->step + 1;
        double bc1 = 1 - pow(c->beta1, step), bc2 = 1 - pow(c->beta2, step);
        u.kind = DLC_UPDATE_ADAM;
        u.decoupled = c->kind == DLC_OPT_ADAMW;
        u.shrink = (float)(1 - o->lr * c->weight_decay);
        u.step_size = (float)(o->lr / bc1);
        u.bc2_sqrt = (float)sqrt(bc2);
        u.w1 = (float)(1 - c->beta1);
        u.beta2 = (float)c->beta2;
        u.w2 = (float)(1 - c->beta2);
        break;
    }
    case DLC_OPT_ADAGRAD: /* lr_decay 0 */
        u.kind = DLC_UPDATE_ADAGRAD;
        break;
    }
    dlc_device_update(&u, params, grads, o->dev_slot[0], o->dev_slot[1], o->total);
    o->step++;
}

/* ---- Schedules --------------------------------------------------------------------------- */

void dlc_sched_init(dlc_schedule *s, const dlc_schedule_config *cfg, double base_lr, int64_t epochs) {
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (s->cfg.kind == DLC_SCHED_COSINE && s->cfg.t_max <= 0) s->cfg.t_max = epochs > 0 ? epochs : 1;
    s->base_lr = base_lr;
    s->best = INFINITY;
}

/* Python's %, whose result has the sign of the divisor. */
static int64_t py_mod(int64_t a, int64_t b) {
    int64_t r = a % b;
    return r < 0 ? r + b : r;
}

double dlc_sched_step(dlc_schedule *s, double lr, double watched) {
    int64_t e = ++s->last_epoch;
    switch (s->cfg.kind) {
    case DLC_SCHED_NONE:
        return lr;
    case DLC_SCHED_STEP_LR: /* StepLR */
        return e % s->cfg.every == 0 ? lr * s->cfg.gamma : lr;
    case DLC_SCHED_COSINE: { /* CosineAnnealingLR, eta_min 0, its recursive form */
        double T = (double)s->cfg.t_max;
        if (py_mod(e - 1 - s->cfg.t_max, 2 * s->cfg.t_max) == 0)
            return lr + s->base_lr * (1 - cos(DLC_PI / T)) / 2;
        return (1 + cos(DLC_PI * (double)e / T)) / (1 + cos(DLC_PI * (double)(e - 1) / T)) * lr;
    }
    case DLC_SCHED_PLATEAU: /* ReduceLROnPlateau: mode min, threshold_mode rel, cooldown 0, min_lr 0 */
        if (watched < s->best * (1 - s->cfg.threshold)) {
            s->best = watched;
            s->bad_epochs = 0;
        } else {
            s->bad_epochs++;
        }
        if (s->bad_epochs > s->cfg.patience) {
            double reduced = lr * s->cfg.factor;
            if (lr - reduced > 1e-8) lr = reduced; /* torch's eps: changes below it are skipped */
            s->bad_epochs = 0;
        }
        return lr;
    }
    return lr;
}
