/* dlc_cli.c: the trainer's command line (spec section 8): commands, flags, --help.
 *
 * Every flag is checked here, before any file is read, so that a bad flag always exits 2 with
 * a message naming the flag and nothing else has happened. Flags override the model's train
 * block (spec section 6); `--flag value` and `--flag=value` are both accepted, and
 * `--weight_decay` is the same flag as `--weight-decay`. */
#include "dlc_runtime.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The commands, as bits of a flag's `commands`. */
enum { TRAIN = 1, EVAL = 2, PREDICT = 4, INFO = 8, GRADCHECK = 16, EVERY_COMMAND = 31 };

typedef enum {
    F_DATA, F_INPUT, F_VAL, F_EPOCHS, F_STEPS, F_BATCH, F_LR, F_SEED, F_SHUFFLE, F_INIT, F_SAVE,
    F_RESUME, F_LOG, F_THREADS, F_WEIGHTS, F_OUT, F_OPTIMIZER, F_MOMENTUM, F_NESTEROV,
    F_WEIGHT_DECAY, F_BETA1, F_BETA2, F_EPS, F_DROP_LAST, F_SCHEDULE, F_ACCUMULATE, F_METRIC,
    F_NORMALIZE, F_COLUMNS, F_VALIDATION, F_INIT_MAP, F_PLOT, F_EARLY_STOP, F_SAVE_BEST, F_DEVICE,
} flag_id;

/* Which commands take each flag, and whether it makes sense only for a model with data. */
static const struct {
    const char *name;
    flag_id id;
    unsigned commands;
    int needs_data;
} flags[] = {
    {"data", F_DATA, TRAIN | EVAL | PREDICT | GRADCHECK, 1},
    {"input", F_INPUT, TRAIN | EVAL | PREDICT | GRADCHECK, 1},
    {"val", F_VAL, TRAIN, 1},
    {"epochs", F_EPOCHS, TRAIN, 1},
    {"steps", F_STEPS, TRAIN, 0},
    {"batch", F_BATCH, TRAIN | EVAL | PREDICT | INFO | GRADCHECK, 1},
    {"lr", F_LR, TRAIN, 0},
    {"seed", F_SEED, TRAIN | GRADCHECK, 0},
    {"shuffle", F_SHUFFLE, TRAIN, 1},
    {"init", F_INIT, TRAIN | GRADCHECK, 0},
    {"save", F_SAVE, TRAIN, 0},
    {"resume", F_RESUME, TRAIN, 0},
    {"log", F_LOG, TRAIN, 0},
    {"threads", F_THREADS, EVERY_COMMAND, 0},
    {"weights", F_WEIGHTS, EVAL | PREDICT, 0},
    {"out", F_OUT, PREDICT, 0},
    {"optimizer", F_OPTIMIZER, TRAIN | INFO, 0},
    {"momentum", F_MOMENTUM, TRAIN | INFO, 0},
    {"nesterov", F_NESTEROV, TRAIN, 0},
    {"weight-decay", F_WEIGHT_DECAY, TRAIN, 0},
    {"beta1", F_BETA1, TRAIN, 0},
    {"beta2", F_BETA2, TRAIN, 0},
    {"eps", F_EPS, TRAIN, 0},
    {"drop-last", F_DROP_LAST, TRAIN, 1},
    {"schedule", F_SCHEDULE, TRAIN, 0},
    {"accumulate", F_ACCUMULATE, TRAIN, 0},
    {"metric", F_METRIC, TRAIN | EVAL, 1},
    {"normalize", F_NORMALIZE, TRAIN, 1},
    {"columns", F_COLUMNS, TRAIN | EVAL | PREDICT | GRADCHECK, 1},
    {"validation", F_VALIDATION, TRAIN, 1},
    {"init-map", F_INIT_MAP, TRAIN | EVAL | PREDICT | GRADCHECK, 0},
    {"plot", F_PLOT, TRAIN, 0},
    {"early-stop", F_EARLY_STOP, TRAIN, 1},
    {"save-best", F_SAVE_BEST, TRAIN, 0},
    {"device", F_DEVICE, EVERY_COMMAND, 0},
};

static const char *command_names[] = {"train", "eval", "predict", "info", "gradcheck"};

/* `dlc train MODEL` runs the trainer with argv[0] = "dlc train MODEL" (what the user typed), and
 * the command is always train: its help names that program and leaves out the commands. */
static int started_by_dlc_train(const char *prog) { return strncmp(prog, "dlc train ", 10) == 0; }

static void usage(FILE *f, const dlc_model *m, const char *prog) {
    if (started_by_dlc_train(prog))
        fprintf(f, "usage: %s [options]      (model %s: the options of its trainer's train command)\n", prog, m->name);
    else
        fprintf(f,
                "usage: %s COMMAND [options]      (model %s)\n"
                "\n"
                "commands:\n"
                "  train       train the model (the train block's settings, overridden by flags)\n"
                "  eval        print the loss and metric over every row of the data (needs --weights)\n"
                "  predict     write the outputs of every row as CSV (needs --weights)\n"
                "  info        params, shapes, memory and FLOPs per step\n"
                "  gradcheck   compare the compiled gradients with central finite differences\n",
                prog, m->name);
    fprintf(f,
            "\n"
            "data:\n"
            "  --data FILE                   CSV file, one example per row (default: the train block's)\n"
            "  --input NAME=FILE[:COLUMNS]   bind one input or target to a .csv, .npy or IDX file\n"
            "  --columns 'x: 0-63, y: label' which columns feed which input or target\n"
            "  --val FILE                    validation data instead of the seeded split\n"
            "  --validation X                hold out this fraction as the validation set\n"
            "  --normalize NAME,...|none     z-score the features of these inputs\n"
            "\n"
            "training:\n"
            "  --epochs N | --steps N        train N epochs, or stop after N updates\n"
            "  --batch N|full  --lr X  --seed N  --shuffle true|false  --drop-last true|false\n"
            "  --optimizer 'adam(lr: 0.01)'  (sgd | adam | adamw | adagrad, with named arguments)\n"
            "  --momentum X  --nesterov true|false  --weight-decay X  --beta1 X  --beta2 X  --eps X\n"
            "  --schedule 'step_lr(every: 10, gamma: 0.5)' | 'cosine(epochs: 50)' |\n"
            "             'reduce_on_plateau(factor: 0.1, patience: 10, threshold: 1e-4)' | none\n"
            "  --accumulate N                average gradients over N batches per update\n"
            "  --metric accuracy|mse|mae|none\n"
            "\n"
            "checkpoints (safetensors):\n"
            "  --init CKPT     start from these params        --save CKPT    write params (and CKPT's .optim)\n"
            "  --resume CKPT   continue a saved run           --weights CKPT the params for eval/predict\n"
            "  --init-map '0.=fc1.,2.=fc2.' | position   read --init/--weights under other names (nn.Sequential's)\n"
            "\n"
            "watching and stopping:\n"
            "  --plot FILE.svg   the loss and metric per epoch as a chart, rewritten after each epoch\n"
            "  --early-stop N    stop when the validation loss has not improved for N epochs (0: never)\n"
            "  --save-best CKPT  keep the params of the epoch with the lowest validation loss\n"
            "\n"
            "other:\n"
            "  --log FILE      per-epoch metrics as CSV       --out FILE     predict's output (default stdout)\n"
            "  --threads N     threads (GEMMs, loops)         --help\n"
            "  --device N      the GPU of a CUDA trainer (default 0; under MPI, one per process of a machine)\n"
            "\n"
            "exit status: 0 ok, 1 bad data, bad checkpoint, a write error, a diverged run or failed gradcheck,\n"
            "             2 bad flag, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM)\n");
}

_Noreturn static void bad_flag(const char *flag, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "error: %s: ", flag);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    dlc_comm_exit(2);
}

/* ---- Value parsers: whole string, or exit 2 naming the flag ------------------------------- */

/* Numbers are read strictly: decimal only, the whole string, no white space, no '+', no hex,
 * no inf or nan. A real has the model language's number syntax (`12`, `0.5`, `1e-3`, `2.`),
 * with an optional leading '-'. */
static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int decimal_syntax(const char *s, int integer) {
    if (*s == '-') s++;
    if (!is_digit(*s)) return 0;
    while (is_digit(*s)) s++;
    if (integer) return *s == 0;
    if (*s == '.')
        for (s++; is_digit(*s);) s++;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!is_digit(*s)) return 0;
        while (is_digit(*s)) s++;
    }
    return *s == 0;
}

static double parse_double(const char *flag, const char *s) {
    if (!decimal_syntax(s, 0)) bad_flag(flag, "expected a number (decimal, like 0.01 or 1e-3), got '%s'", s);
    double v = strtod(s, NULL);
    if (!isfinite(v)) bad_flag(flag, "out of range: '%s'", s);
    return v;
}

/* An integer in [lo, hi]; counts have hi = DLC_MAX_COUNT. */
static int64_t parse_int(const char *flag, const char *s, int64_t lo, int64_t hi) {
    if (!decimal_syntax(s, 1)) bad_flag(flag, "expected an integer, got '%s'", s);
    errno = 0;
    long long v = strtoll(s, NULL, 10); /* saturates at the int64 limits, which are out of range anyway */
    if (v < lo || (errno == ERANGE && *s == '-')) bad_flag(flag, "must be at least %lld, got %s", (long long)lo, s);
    if (v > hi || errno == ERANGE) bad_flag(flag, "must be at most %lld, got %s", (long long)hi, s);
    return (int64_t)v;
}

static int64_t parse_count(const char *flag, const char *s, int64_t lo) { return parse_int(flag, s, lo, DLC_MAX_COUNT); }

static uint64_t parse_seed(const char *flag, const char *s) {
    if (*s == '-' || !decimal_syntax(s, 1)) bad_flag(flag, "expected a non-negative integer, got '%s'", s);
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE) bad_flag(flag, "must be at most %llu, got %s", (unsigned long long)UINT64_MAX, s);
    return (uint64_t)v;
}

static int parse_bool(const char *flag, const char *s) {
    if (strcmp(s, "true") == 0) return 1;
    if (strcmp(s, "false") == 0) return 0;
    bad_flag(flag, "expected true or false, got '%s'", s);
}

static double parse_range(const char *flag, const char *s, double lo, double hi, int hi_open) {
    double v = parse_double(flag, s);
    if (v < lo || v > hi || (hi_open && v == hi))
        bad_flag(flag, "must be in [%g, %g%s, got %s", lo, hi, hi_open ? ")" : "]", s);
    return v;
}

/* ---- `name(key: value, ...)`: the train block's call syntax for --optimizer, --schedule --- */

typedef struct {
    char name[32];
    int n;
    char keys[8][100];  /* "" for a positional argument */
    char values[8][100];
} call_spec;

static void trim(char *s) {
    char *a = s;
    while (*a == ' ' || *a == '\t') a++;
    size_t n = strlen(a);
    while (n && (a[n - 1] == ' ' || a[n - 1] == '\t')) n--;
    memmove(s, a, n);
    s[n] = 0;
}

static void parse_call(const char *flag, const char *text, call_spec *c) {
    memset(c, 0, sizeof *c);
    const char *open = strchr(text, '(');
    size_t name_len = open ? (size_t)(open - text) : strlen(text);
    if (name_len >= sizeof c->name) bad_flag(flag, "cannot read '%s'", text);
    memcpy(c->name, text, name_len);
    trim(c->name);
    if (!open) return;
    const char *close = strrchr(text, ')');
    if (!close || close < open) bad_flag(flag, "missing ')' in '%s'", text);
    for (const char *t = close + 1; *t; t++)
        if (*t != ' ') bad_flag(flag, "unexpected text after ')' in '%s'", text);
    const char *p = open + 1;
    while (p < close) {
        const char *comma = memchr(p, ',', (size_t)(close - p));
        const char *stop = comma ? comma : close;
        char arg[100];
        size_t n = (size_t)(stop - p);
        if (n >= sizeof arg || c->n == 8) bad_flag(flag, "cannot read '%s'", text);
        memcpy(arg, p, n);
        arg[n] = 0;
        trim(arg);
        if (!*arg) {
            if (comma || c->n) bad_flag(flag, "empty argument in '%s'", text);
            break;
        }
        char *sep = strpbrk(arg, ":=");
        if (sep) {
            *sep = 0;
            snprintf(c->keys[c->n], sizeof c->keys[0], "%s", arg);
            trim(c->keys[c->n]);
            snprintf(c->values[c->n], sizeof c->values[0], "%s", sep + 1);
        } else {
            snprintf(c->values[c->n], sizeof c->values[0], "%s", arg);
        }
        trim(c->values[c->n]);
        c->n++;
        p = stop + 1;
    }
}

/* Matches the call's arguments against the parameter names (positional, then named) and
 * returns the value given for each name, or NULL. */
static void bind_call(const char *flag, const call_spec *c, const char *const *params, int np, const char **out) {
    for (int i = 0; i < np; i++) out[i] = NULL;
    int named = 0;
    for (int a = 0; a < c->n; a++) {
        int slot = -1;
        if (!c->keys[a][0]) {
            if (named) bad_flag(flag, "a positional argument follows a named one");
            if (a >= np) bad_flag(flag, "%s takes at most %d arguments", c->name, np);
            slot = a;
        } else {
            named = 1;
            for (int i = 0; i < np; i++)
                if (strcmp(params[i], c->keys[a]) == 0) slot = i;
            if (slot < 0) bad_flag(flag, "%s has no argument '%s'", c->name, c->keys[a]);
        }
        if (out[slot]) bad_flag(flag, "argument '%s' given twice", params[slot]);
        out[slot] = c->values[a];
    }
}

static void apply_optimizer(const char *flag, const char *text, dlc_optimizer_config *o) {
    call_spec c;
    parse_call(flag, text, &c);
    static const char *sgd[] = {"lr", "momentum", "weight_decay", "nesterov"};
    static const char *adam[] = {"lr", "beta1", "beta2", "eps", "weight_decay"};
    static const char *adagrad[] = {"lr", "eps", "weight_decay"};
    /* A new kind starts from PyTorch's defaults for it. */
    dlc_optimizer_config d = {DLC_OPT_SGD, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8};
    const char *v[5];
    if (strcmp(c.name, "sgd") == 0) {
        bind_call(flag, &c, sgd, 4, v);
        if (v[0]) d.lr = parse_range(flag, v[0], 0, INFINITY, 0);
        if (v[1]) d.momentum = parse_range(flag, v[1], 0, INFINITY, 0);
        if (v[2]) d.weight_decay = parse_range(flag, v[2], 0, INFINITY, 0);
        if (v[3]) d.nesterov = parse_bool(flag, v[3]);
    } else if (strcmp(c.name, "adam") == 0 || strcmp(c.name, "adamw") == 0) {
        d.kind = c.name[4] ? DLC_OPT_ADAMW : DLC_OPT_ADAM;
        d.lr = 0.001;
        d.weight_decay = d.kind == DLC_OPT_ADAMW ? 0.01 : 0;
        bind_call(flag, &c, adam, 5, v);
        if (v[0]) d.lr = parse_range(flag, v[0], 0, INFINITY, 0);
        if (v[1]) d.beta1 = parse_range(flag, v[1], 0, 1, 1);
        if (v[2]) d.beta2 = parse_range(flag, v[2], 0, 1, 1);
        if (v[3]) d.eps = parse_range(flag, v[3], 0, INFINITY, 0);
        if (v[4]) d.weight_decay = parse_range(flag, v[4], 0, INFINITY, 0);
    } else if (strcmp(c.name, "adagrad") == 0) {
        d.kind = DLC_OPT_ADAGRAD;
        d.eps = 1e-10;
        bind_call(flag, &c, adagrad, 3, v);
        if (v[0]) d.lr = parse_range(flag, v[0], 0, INFINITY, 0);
        if (v[1]) d.eps = parse_range(flag, v[1], 0, INFINITY, 0);
        if (v[2]) d.weight_decay = parse_range(flag, v[2], 0, INFINITY, 0);
    } else {
        bad_flag(flag, "unknown optimizer '%s' (sgd, adam, adamw or adagrad)", c.name);
    }
    *o = d;
}

/* The value that an (already checked) --optimizer text gives `key`, by name or by position;
 * NULL when it leaves `key` at its default. */
static const char *optimizer_value(const char *text, const char *key) {
    static call_spec c;
    parse_call("--optimizer", text, &c);
    static const char *sgd[] = {"lr", "momentum", "weight_decay", "nesterov"};
    static const char *adam[] = {"lr", "beta1", "beta2", "eps", "weight_decay"};
    static const char *adagrad[] = {"lr", "eps", "weight_decay"};
    const char *const *params = strcmp(c.name, "sgd") == 0 ? sgd : strcmp(c.name, "adagrad") == 0 ? adagrad : adam;
    int np = params == sgd ? 4 : params == adagrad ? 3 : 5;
    const char *v[5];
    bind_call("--optimizer", &c, params, np, v);
    for (int i = 0; i < np; i++)
        if (strcmp(params[i], key) == 0) return v[i];
    return NULL;
}

static void apply_schedule(const char *flag, const char *text, dlc_schedule_config *s) {
    call_spec c;
    parse_call(flag, text, &c);
    static const char *step[] = {"every", "gamma"};
    static const char *cosine[] = {"epochs"};
    static const char *plateau[] = {"factor", "patience", "threshold"};
    dlc_schedule_config d = {DLC_SCHED_NONE, 10, 0.5, 0, 0.1, 10, 1e-4};
    const char *v[3];
    if (strcmp(c.name, "none") == 0) {
        bind_call(flag, &c, step, 0, v);
    } else if (strcmp(c.name, "step_lr") == 0) {
        d.kind = DLC_SCHED_STEP_LR;
        bind_call(flag, &c, step, 2, v);
        if (v[0]) d.every = parse_count(flag, v[0], 1);
        if (v[1]) d.gamma = parse_range(flag, v[1], 0, INFINITY, 0);
    } else if (strcmp(c.name, "cosine") == 0) {
        d.kind = DLC_SCHED_COSINE;
        bind_call(flag, &c, cosine, 1, v);
        if (v[0]) d.t_max = parse_count(flag, v[0], 1);
    } else if (strcmp(c.name, "reduce_on_plateau") == 0) {
        d.kind = DLC_SCHED_PLATEAU;
        bind_call(flag, &c, plateau, 3, v);
        if (v[0]) d.factor = parse_range(flag, v[0], 0, 1, 1);
        if (v[1]) d.patience = parse_count(flag, v[1], 0);
        if (v[2]) d.threshold = parse_range(flag, v[2], 0, INFINITY, 0);
    } else {
        bad_flag(flag, "unknown schedule '%s' (none, step_lr, cosine or reduce_on_plateau)", c.name);
    }
    *s = d;
}

/* ---- Names of inputs and targets ------------------------------------------------------------ */

static int find_data(const dlc_model *m, const char *name) {
    for (int i = 0; i < m->n_data; i++)
        if (strcmp(m->data[i].name, name) == 0) return i;
    return -1;
}

static const char *data_names(const dlc_model *m) {
    static char buf[512];
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < m->n_data && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? ", " : "", m->data[i].name);
    return buf;
}

/* --input NAME=FILE[:COLUMNS]. The file is the longest prefix that exists, so that a path
 * holding ':' still works; otherwise the text after the last ':' is the COLUMNS spec. */
static void parse_input(const dlc_model *m, const char *flag, const char *arg, dlc_source *src) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) bad_flag(flag, "expected NAME=FILE[:COLUMNS], got '%s'", arg);
    char *name = dlc_xstrdup(arg);
    name[eq - arg] = 0;
    int t = find_data(m, name);
    if (t < 0) bad_flag(flag, "'%s' is not an input or target of the model (%s)", name, data_names(m));
    if (src[t].path) bad_flag(flag, "'%s' is bound twice", name);
    char *file = dlc_xstrdup(eq + 1);
    char *colon = strrchr(file, ':');
    FILE *probe = fopen(file, "rb");
    if (probe) fclose(probe);
    if (colon && !probe) {
        *colon = 0;
        if (!colon[1]) bad_flag(flag, "empty COLUMNS after ':' in '%s'", arg);
        src[t].columns = colon + 1;
    }
    if (!*file) bad_flag(flag, "missing FILE in '%s'", arg);
    src[t].path = file;
}

/* --columns 'x: 0-63, y: label': a piece with ':' starts a binding; pieces without one
 * continue the previous binding's comma list. */
static void parse_columns(const dlc_model *m, const char *flag, const char *arg, dlc_train_config *cfg) {
    dlc_column_binding *b = dlc_xcalloc((size_t)m->n_data + 1, sizeof *b);
    int n = 0;
    char *text = dlc_xstrdup(arg);
    for (char *piece = strtok(text, ","); piece; piece = strtok(NULL, ",")) {
        char *colon = strchr(piece, ':');
        char *spec = piece;
        if (colon) {
            *colon = 0;
            trim(piece);
            int t = find_data(m, piece);
            if (t < 0) bad_flag(flag, "'%s' is not an input or target of the model (%s)", piece, data_names(m));
            for (int i = 0; i < n; i++)
                if (strcmp(b[i].name, piece) == 0) bad_flag(flag, "'%s' is bound twice", piece);
            b[n].name = m->data[t].name;
            b[n].columns = "";
            n++;
            spec = colon + 1;
        } else if (n == 0) {
            bad_flag(flag, "expected NAME: COLUMNS, got '%s'", arg);
        }
        trim(spec);
        size_t len = strlen(spec);
        if (len >= 2 && spec[0] == '"' && spec[len - 1] == '"') {
            spec[len - 1] = 0;
            spec++;
        }
        if (!*spec) bad_flag(flag, "empty column list for '%s'", b[n - 1].name);
        dlc_str s = {0};
        dlc_str_add(&s, "%s%s%s", b[n - 1].columns, *b[n - 1].columns ? "," : "", spec);
        b[n - 1].columns = s.s;
    }
    if (n == 0) bad_flag(flag, "expected NAME: COLUMNS, got '%s'", arg);
    cfg->columns = b;
    cfg->n_columns = n;
}

static void parse_normalize(const dlc_model *m, const char *flag, const char *arg, dlc_train_config *cfg) {
    const char **names = dlc_xcalloc((size_t)m->n_data + 1, sizeof *names);
    int n = 0;
    if (strcmp(arg, "none") != 0) {
        char *text = dlc_xstrdup(arg);
        for (char *piece = strtok(text, ","); piece; piece = strtok(NULL, ",")) {
            trim(piece);
            int t = find_data(m, piece);
            if (t < 0 || m->data[t].is_target || m->data[t].dtype != DLC_F32)
                bad_flag(flag, "'%s' is not an f32 input of the model", piece);
            for (int i = 0; i < n; i++)
                if (strcmp(names[i], piece) == 0) bad_flag(flag, "'%s' is listed twice", piece);
            names[n++] = m->data[t].name;
        }
        if (n == 0) bad_flag(flag, "expected input names or none");
    }
    cfg->normalize = names;
    cfg->n_normalize = n;
}

static dlc_metric_kind parse_metric(const char *flag, const char *s) {
    if (strcmp(s, "accuracy") == 0) return DLC_METRIC_ACCURACY;
    if (strcmp(s, "mse") == 0) return DLC_METRIC_MSE;
    if (strcmp(s, "mae") == 0) return DLC_METRIC_MAE;
    if (strcmp(s, "none") == 0) return DLC_METRIC_NONE;
    bad_flag(flag, "expected accuracy, mse, mae or none, got '%s'", s);
}

/* ---- Outputs never overwrite inputs ---------------------------------------------------------- */

/* The directory part of path ("." for none) and where its last name starts. */
static char *dir_of(const char *path, const char **name) {
    const char *slash = strrchr(path, '/');
    *name = slash ? slash + 1 : path;
    char *dir = dlc_xstrdup(slash ? path : ".");
    if (slash) dir[slash - path + 1] = 0;
    return dir;
}

/* Whether two paths name one file: the same inode when both exist; when neither does yet, the
 * same name in the same directory. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (ea || eb) return 0;
    const char *na, *nb;
    char *da = dir_of(a, &na), *db = dir_of(b, &nb);
    int same = stat(da, &sa) == 0 && stat(db, &sb) == 0 ? sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino && strcmp(na, nb) == 0
                                                        : strcmp(a, b) == 0;
    free(da);
    free(db);
    return same;
}

typedef struct {
    const char *flag, *what, *path;  /* what: "" or "'s optimizer file" */
} named_file;

/* --save, --log, --out, --plot and --save-best must not name a file the command reads (--save
 * may continue the pair --resume or --init names), nor each other, and must be writable: exit
 * 2 before anything is read or written. */
static void check_outputs(const dlc_model *m, const dlc_options *o) {
    named_file in[64], out[6];
    int ni = 0, no = 0;
    int data_used = 0;
    for (int i = 0; i < m->n_data; i++) data_used |= !o->inputs[i].path;
    if (data_used && o->data) in[ni++] = (named_file){"--data", "", o->data};
    if (o->val) in[ni++] = (named_file){"--val", "", o->val};
    for (int i = 0; i < m->n_data && ni < 58; i++)
        if (o->inputs[i].path) in[ni++] = (named_file){"--input", "", o->inputs[i].path};
    if (o->init) in[ni++] = (named_file){"--init", "", o->init};
    if (o->resume) in[ni++] = (named_file){"--resume", "", o->resume};
    if (o->resume) in[ni++] = (named_file){"--resume", "'s optimizer file", dlc_optim_path(o->resume)};
    if (o->weights) in[ni++] = (named_file){"--weights", "", o->weights};
    if (o->save) out[no++] = (named_file){"--save", "", o->save};
    if (o->save) out[no++] = (named_file){"--save", "'s optimizer file", dlc_optim_path(o->save)};
    if (o->log) out[no++] = (named_file){"--log", "", o->log};
    if (o->out) out[no++] = (named_file){"--out", "", o->out};
    if (o->plot) out[no++] = (named_file){"--plot", "", o->plot};
    if (o->save_best) out[no++] = (named_file){"--save-best", "", o->save_best};
    for (int a = 0; a < no; a++) {
        for (int b = 0; b < ni; b++) {
            int continues = strcmp(out[a].flag, "--save") == 0 &&
                            (strcmp(in[b].flag, "--init") == 0 ||
                             (strcmp(in[b].flag, "--resume") == 0 && strcmp(in[b].what, out[a].what) == 0));
            if (continues || !same_file(out[a].path, in[b].path)) continue;
            if (*out[a].what)
                bad_flag(out[a].flag, "its optimizer file %s is the same file as %s%s (%s): it would be overwritten",
                         out[a].path, in[b].flag, in[b].what, in[b].path);
            bad_flag(out[a].flag, "names the same file as %s%s (%s): it would be overwritten", in[b].flag, in[b].what,
                     in[b].path);
        }
        for (int b = a + 1; b < no; b++)
            if (same_file(out[a].path, out[b].path))
                bad_flag(out[b].flag, "names the same file as %s%s (%s): it would be overwritten", out[a].flag, out[a].what,
                         out[a].path);
    }
    /* And each can be written: found now, not after an epoch of training. */
    for (int a = 0; a < no; a++) dlc_check_writable(out[a].flag, out[a].path, strcmp(out[a].flag, "--log") == 0);
}

/* ---- The whole command line ----------------------------------------------------------------- */

void dlc_parse_args(const dlc_model *m, int argc, char **argv, dlc_options *o) {
    memset(o, 0, sizeof *o);
    o->program = argc > 0 ? argv[0] : m->name;
    o->cfg = m->config;
    o->data = m->config.data;
    o->max_steps = -1;
    o->device = -1;
    o->inputs = dlc_xcalloc((size_t)m->n_data + 1, sizeof *o->inputs);

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "help") == 0) {
            usage(stdout, m, o->program);
            dlc_comm_exit(0);
        }
    if (argc < 2) {
        usage(stderr, m, o->program);
        dlc_comm_exit(2);
    }
    int cmd = -1;
    for (int c = 0; c < 5; c++)
        if (strcmp(argv[1], command_names[c]) == 0) cmd = c;
    if (cmd < 0) {
        fprintf(stderr, "error: unknown command '%s' (train, eval, predict, info or gradcheck; see --help)\n", argv[1]);
        dlc_comm_exit(2);
    }
    o->command = (dlc_command)cmd;
    unsigned mask = 1u << cmd;
    int has_data = dlc_model_has_data(m);

    /* Optimizer settings apply after --optimizer, whatever their order on the line. */
    const char *opt_spec = NULL, *lr = NULL, *momentum = NULL, *nesterov = NULL, *wd = NULL, *beta1 = NULL,
               *beta2 = NULL, *eps = NULL;
    const char *epochs_flag = NULL;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "error: unexpected argument '%s' (flags start with --; see --help)\n", arg);
            dlc_comm_exit(2);
        }
        char name[64];
        const char *value = NULL;
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (len >= sizeof name) len = sizeof name - 1;
        memcpy(name, arg + 2, len);
        name[len] = 0;
        for (char *c = name; *c; c++)
            if (*c == '_') *c = '-';
        int f = -1;
        for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
            if (strcmp(flags[k].name, name) == 0) f = (int)k;
        char flag[80];
        snprintf(flag, sizeof flag, "--%s", name);
        if (f < 0) bad_flag(flag, "unknown flag (see --help)");
        if (!(flags[f].commands & mask)) bad_flag(flag, "not an option of %s", command_names[cmd]);
        if (flags[f].needs_data && !has_data)
            bad_flag(flag, "the model has no inputs or targets%s", flags[f].id == F_EPOCHS ? " (it trains --steps N updates)" : "");
        if (eq) value = eq + 1;
        else if (i + 1 < argc) value = argv[++i];
        else bad_flag(flag, "needs a value");

        switch (flags[f].id) {
        case F_DATA: o->data = value; break;
        case F_INPUT: parse_input(m, flag, value, o->inputs); break;
        case F_VAL: o->val = value; break;
        case F_EPOCHS: o->cfg.epochs = parse_count(flag, value, 0); o->epochs_given = 1; epochs_flag = flag; break;
        case F_STEPS: o->max_steps = parse_count(flag, value, 0); break;
        case F_BATCH: o->cfg.batch = strcmp(value, "full") == 0 ? 0 : parse_count(flag, value, 1); break;
        case F_LR: lr = value; o->lr_given = 1; break;
        case F_SEED: o->cfg.seed = parse_seed(flag, value); o->seed_given = 1; break;
        case F_SHUFFLE: o->cfg.shuffle = parse_bool(flag, value); break;
        case F_INIT: o->init = value; break;
        case F_SAVE: o->save = value; break;
        case F_RESUME: o->resume = value; break;
        case F_LOG: o->log = value; break;
        case F_THREADS: o->threads = (int)parse_int(flag, value, 1, INT32_MAX); break;
        case F_DEVICE: o->device = (int)parse_int(flag, value, 0, INT32_MAX); break;
        case F_WEIGHTS: o->weights = value; break;
        case F_OUT: o->out = value; break;
        case F_OPTIMIZER: opt_spec = value; break;
        case F_MOMENTUM: momentum = value; break;
        case F_NESTEROV: nesterov = value; break;
        case F_WEIGHT_DECAY: wd = value; break;
        case F_BETA1: beta1 = value; break;
        case F_BETA2: beta2 = value; break;
        case F_EPS: eps = value; break;
        case F_DROP_LAST: o->cfg.drop_last = parse_bool(flag, value); break;
        case F_SCHEDULE: apply_schedule(flag, value, &o->cfg.schedule); break;
        case F_ACCUMULATE: o->cfg.accumulate = parse_count(flag, value, 1); break;
        case F_METRIC: o->cfg.metric = parse_metric(flag, value); break;
        case F_NORMALIZE: parse_normalize(m, flag, value, &o->cfg); break;
        case F_COLUMNS: parse_columns(m, flag, value, &o->cfg); break;
        case F_VALIDATION: o->cfg.validation = parse_range(flag, value, 0, 1, 1); break;
        case F_INIT_MAP: o->init_map = value; break;
        case F_PLOT: o->plot = value; break;
        case F_EARLY_STOP: o->cfg.early_stop_patience = parse_count(flag, value, 0); break;
        case F_SAVE_BEST: o->save_best = value; break;
        }
    }

    dlc_optimizer_config *opt = &o->cfg.optimizer;
    if (opt_spec) apply_optimizer("--optimizer", opt_spec, opt);
    /* `--lr 0.1 --optimizer 'sgd(lr: 0.5)'` gives one setting twice: refused, not resolved by a rule. */
    const struct { const char *flag, *key, *value; } settings[] = {
        {"--lr", "lr", lr}, {"--momentum", "momentum", momentum}, {"--nesterov", "nesterov", nesterov},
        {"--weight-decay", "weight_decay", wd}, {"--beta1", "beta1", beta1}, {"--beta2", "beta2", beta2},
        {"--eps", "eps", eps},
    };
    for (size_t k = 0; opt_spec && k < sizeof settings / sizeof settings[0]; k++) {
        const char *given = settings[k].value ? optimizer_value(opt_spec, settings[k].key) : NULL;
        if (given)
            bad_flag(settings[k].flag, "conflicts with --optimizer '%s', which sets %s: %s; give it once", opt_spec,
                     settings[k].key, given);
    }
    if (lr) opt->lr = parse_range("--lr", lr, 0, INFINITY, 0);
    if (momentum) opt->momentum = parse_range("--momentum", momentum, 0, INFINITY, 0);
    if (nesterov) opt->nesterov = parse_bool("--nesterov", nesterov);
    if (wd) opt->weight_decay = parse_range("--weight-decay", wd, 0, INFINITY, 0);
    if (beta1) opt->beta1 = parse_range("--beta1", beta1, 0, 1, 1);
    if (beta2) opt->beta2 = parse_range("--beta2", beta2, 0, 1, 1);
    if (eps) opt->eps = parse_range("--eps", eps, 0, INFINITY, 0);
    if ((momentum || nesterov) && opt->kind != DLC_OPT_SGD)
        bad_flag(momentum ? "--momentum" : "--nesterov", "applies to sgd only (the optimizer is %s)",
                 dlc_optim_name(opt->kind));
    if ((beta1 || beta2) && opt->kind != DLC_OPT_ADAM && opt->kind != DLC_OPT_ADAMW)
        bad_flag(beta1 ? "--beta1" : "--beta2", "applies to adam and adamw only (the optimizer is %s)",
                 dlc_optim_name(opt->kind));
    if (opt->nesterov && opt->momentum <= 0) bad_flag("--nesterov", "needs a momentum above 0");

    if (o->max_steps >= 0 && epochs_flag) bad_flag("--steps", "cannot be combined with --epochs");
    if (o->init && o->resume) bad_flag("--init", "cannot be combined with --resume");
    if (o->init_map && !o->init && !o->weights) bad_flag("--init-map", "maps the names of --init or --weights; give one");
    if ((o->command == DLC_CMD_EVAL || o->command == DLC_CMD_PREDICT) && !o->weights)
        bad_flag("--weights", "%s needs --weights CKPT", command_names[cmd]);
    if (o->val && o->cfg.validation > 0) o->cfg.validation = 0; /* --val replaces the split */
    if (o->cfg.metric != DLC_METRIC_NONE) dlc_metric_check(m, o->cfg.metric);
    check_outputs(m, o);
}
