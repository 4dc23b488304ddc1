/* dlc_data_report.c: how located data errors reach the user (spec section 8).
 *
 * Every error is "FILE:LINE:COL: error: MESSAGE". A file of 150 rows with class names in its
 * label column must not print 150 lines (or stop after 20) that all say the same thing, so
 * errors are collected and printed in order of first appearance, each message once per
 * file and column: the first row's, then "note: the same error on N more rows (lines a, b,
 * c, ...)". Notes that explain an error (a column name that is nearly right, the header, a
 * separator other than ',', what a label column must hold) follow it, each note once per file.
 *
 * Errors are printed when loading stops (dlc_stop_on_data_errors), when too many distinct
 * ones have been seen, and at exit whatever the path to it. */
#include "dlc_runtime.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Past this many distinct errors the rest would only bury the first ones. */
#define DLC_MAX_DATA_ERRORS 20
/* Repeats whose lines are listed. */
#define REPORT_SHOWN_REPEATS 3
#define REPORT_MAX_NOTES 4

typedef struct {
    char *file, *message;
    int64_t line, col;
    int64_t repeats;                 /* further rows with the same message */
    int64_t repeat_lines[REPORT_SHOWN_REPEATS];
    char *notes[REPORT_MAX_NOTES];
    int n_notes;
} data_error;

static data_error *errors;
static int n_errors, cap_errors, printed, total_errors;
static data_error *last;             /* what dlc_data_note attaches to */
static int registered;               /* print_at_exit is registered */

static void print_pending(void) {
    if (printed == n_errors) return;
    fflush(stdout);
    for (; printed < n_errors; printed++) {
        const data_error *e = &errors[printed];
        if (e->line > 0 && e->col > 0)
            fprintf(stderr, "%s:%lld:%lld: error: %s\n", e->file, (long long)e->line, (long long)e->col, e->message);
        else if (e->line > 0)
            fprintf(stderr, "%s:%lld: error: %s\n", e->file, (long long)e->line, e->message);
        else
            fprintf(stderr, "%s: error: %s\n", e->file, e->message);
        if (e->repeats > 0) {
            fprintf(stderr, "note: the same error on %lld more row%s (line%s", (long long)e->repeats,
                    e->repeats == 1 ? "" : "s", e->repeats == 1 ? "" : "s");
            int64_t shown = e->repeats < REPORT_SHOWN_REPEATS ? e->repeats : REPORT_SHOWN_REPEATS;
            for (int64_t i = 0; i < shown; i++) fprintf(stderr, "%s %lld", i ? "," : "", (long long)e->repeat_lines[i]);
            fprintf(stderr, "%s)\n", e->repeats > shown ? ", ..." : "");
        }
        for (int i = 0; i < e->n_notes; i++) fprintf(stderr, "note: %s\n", e->notes[i]);
    }
}

/* Exit paths that do not pass through dlc_stop_on_data_errors still print what was found. */
static void print_at_exit(void) { print_pending(); }

void dlc_data_error(const char *file, int64_t line, int64_t col, const char *fmt, ...) {
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    total_errors++;
    /* The same message in the same file and column: one more row of an error already seen. */
    for (int i = n_errors - 1; i >= 0; i--) {
        data_error *e = &errors[i];
        if (e->col == col && strcmp(e->message, message) == 0 && strcmp(e->file, file) == 0 && e->line > 0 && line > 0) {
            if (e->repeats < REPORT_SHOWN_REPEATS) e->repeat_lines[e->repeats] = line;
            e->repeats++;
            last = e;
            return;
        }
    }
    if (!registered) registered = atexit(print_at_exit) == 0;
    if (n_errors == cap_errors) {
        cap_errors = cap_errors ? 2 * cap_errors : 8;
        errors = dlc_xrealloc(errors, dlc_mul_size((size_t)cap_errors, sizeof *errors));
    }
    data_error *e = &errors[n_errors++];
    memset(e, 0, sizeof *e);
    e->file = dlc_xstrdup(file);
    e->message = dlc_xstrdup(message);
    e->line = line;
    e->col = col;
    last = e;
    if (n_errors >= DLC_MAX_DATA_ERRORS) {
        print_pending();
        fprintf(stderr, "error: too many errors in the data; stopping\n");
        dlc_comm_exit(1);
    }
}

/* Adds a note to e, unless an error of the same file already carries the same note. */
static void attach(data_error *e, const char *note) {
    if (!e || e->n_notes == REPORT_MAX_NOTES) return;
    for (int i = 0; i < n_errors; i++) {
        if (strcmp(errors[i].file, e->file) != 0) continue;
        for (int k = 0; k < errors[i].n_notes; k++)
            if (strcmp(errors[i].notes[k], note) == 0) return;
    }
    e->notes[e->n_notes++] = dlc_xstrdup(note);
}

void dlc_data_note(const char *fmt, ...) {
    char note[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note, sizeof note, fmt, ap);
    va_end(ap);
    attach(last, note);
}

void dlc_data_file_note(const char *file, const char *fmt, ...) {
    char note[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note, sizeof note, fmt, ap);
    va_end(ap);
    for (int i = printed; i < n_errors; i++)
        if (strcmp(errors[i].file, file) == 0) {
            attach(&errors[i], note);
            return;
        }
}

int dlc_data_error_count(void) { return total_errors; }

/* The fuzz targets (codegen/fuzz) free what a call allocated before they call this, so the
 * records are dropped, not freed. */
void dlc_data_errors_reset(void) {
    errors = NULL;
    last = NULL;
    n_errors = cap_errors = printed = total_errors = 0;
}

void dlc_stop_on_data_errors(void) {
    print_pending();
    if (total_errors > 0) dlc_comm_exit(1);
}

/* ---- Hints ------------------------------------------------------------------------------------- */

static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb) {
    size_t *row = dlc_xmalloc((nb + 1) * sizeof *row);
    for (size_t j = 0; j <= nb; j++) row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            size_t best = diag + (same ? 0 : 1);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[nb];
    free(row);
    return d;
}

int dlc_nearest_name(const char *name, size_t len, const char *const *names, const size_t *lens, int n) {
    /* A typo, or a prefix of the name (`sepal_len` for `sepal_length`). */
    size_t limit = len / 3 + 1 < 3 ? len / 3 + 1 : 3;
    int best = -1;
    size_t best_d = (size_t)-1;
    for (int i = 0; i < n; i++) {
        size_t d = edit_distance(name, len, names[i], lens[i]);
        int prefix = len >= 3 && lens[i] > len && strncmp(names[i], name, len) == 0;
        if (prefix) d = d < 2 ? d : 2;
        if ((d <= limit || prefix) && d < best_d) best = i, best_d = d;
    }
    return best;
}

char dlc_other_separator(const char *line, size_t len) {
    /* Separators counted outside quotes; ',' wins whenever there is one. */
    static const char candidates[] = {';', '\t', '|'};
    size_t count[3] = {0, 0, 0}, commas = 0;
    int quoted = 0;
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '"') quoted = !quoted;
        if (quoted) continue;
        if (line[i] == ',') commas++;
        for (int k = 0; k < 3; k++) count[k] += line[i] == candidates[k];
    }
    if (commas) return 0;
    int best = -1;
    for (int k = 0; k < 3; k++)
        if (count[k] > 0 && (best < 0 || count[k] > count[best])) best = k;
    return best < 0 ? 0 : candidates[best];
}

void dlc_data_value_note(const dlc_data_desc *d, size_t len, int is_number, double v) {
    if (d->dtype != DLC_I32) return;
    if (d->classes > 0 && !is_number && len > 0) {
        dlc_data_note("'%s' holds class labels: whole numbers 0 to %lld, one per class; a column of class names "
                      "must be turned into those numbers first", d->name, (long long)d->classes - 1);
    } else if (d->classes > 0 && is_number && v == (double)d->classes) {
        dlc_data_note("labels of '%s' must be 0 to %lld; a label of %lld suggests labels numbered from 1: subtract 1 "
                      "from the column (or write the loss's target as %s - 1)",
                      d->name, (long long)d->classes - 1, (long long)d->classes, d->name);
    } else if (is_number && v != floor(v)) { /* floor, not a cast: 1e50 does not fit an integer */
        dlc_data_note("'%s' is i32: its column must hold whole numbers (declare it f32 for measurements)", d->name);
    }
}
