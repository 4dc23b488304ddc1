/* dlc_main.c: the trainer's entry point: opens the communicator, checks the model descriptor,
 * parses the command line, opens the device and runs the command. */
#include "dlc_runtime.h"

#include <string.h>

/* A malformed descriptor is a compiler bug; say so rather than misbehave later. */
static void check_model(const dlc_model *m) {
    for (int i = 0; i < m->n_params; i++) {
        const dlc_param_desc *p = &m->params[i];
        int64_t n = 1;
        for (int d = 0; d < p->rank; d++) n *= p->dims[d];
        if (p->rank < 0 || p->rank > DLC_MAX_RANK || n != p->size)
            dlc_die(1, "internal: param %s has size %lld but dims give %lld", p->name, (long long)p->size, (long long)n);
    }
    for (int i = 0; i < m->n_data; i++) {
        const dlc_data_desc *d = &m->data[i];
        int64_t n = 1;
        for (int k = 0; k < d->rank; k++) n *= d->dims[k];
        if (d->rank < 0 || d->rank > DLC_MAX_RANK || n != d->size || d->size < 1)
            dlc_die(1, "internal: data %s has size %lld but dims give %lld", d->name, (long long)d->size, (long long)n);
    }
    if (!m->arena_bytes || !m->train_step || !m->eval_step) dlc_die(1, "internal: model %s lacks a kernel", m->name);
}

static int run(const dlc_model *m, const dlc_options *o) {
    switch (o->command) {
    case DLC_CMD_TRAIN: return dlc_cmd_train(m, o);
    case DLC_CMD_EVAL: return dlc_cmd_eval(m, o);
    case DLC_CMD_PREDICT: return dlc_cmd_predict(m, o);
    case DLC_CMD_INFO: return dlc_cmd_info(m, o);
    case DLC_CMD_GRADCHECK: return dlc_cmd_gradcheck(m, o);
    }
    return 2;
}

int main(int argc, char **argv) {
    dlc_comm_open(&argc, &argv); /* first: MPI_Init may take its own arguments out of argv */
    const dlc_model *m = &dlc_generated_model;
    check_model(m);
    dlc_options o;
    dlc_parse_args(m, argc, argv, &o);
    dlc_device_open(o.device, dlc_comm_local_rank());
    int status = run(m, &o);
    dlc_device_close();
    status = dlc_finish_stdout(status); /* every write error is reported, stdout's too */
    dlc_comm_close();
    return status;
}
