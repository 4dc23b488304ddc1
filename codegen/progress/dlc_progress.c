/* dlc_progress.c: the live progress bar of `train` on a terminal.
 *
 * When stdout is a terminal (and TERM is not "dumb"), each epoch shows one line redrawn in
 * place, at most 10 times a second:
 *
 *     epoch 3/10 |██████████▍         |  23/45  loss 0.326112  5120 samples/s  ETA 0:03
 *
 * and at the end of the epoch the same line is erased and replaced by the plain epoch line,
 * so a finished run looks exactly like one whose stdout went to a file. The bar lives on
 * stdout, the stream of the lines that replace it: `train > log.txt` and `train | tee` get
 * plain lines only, with no control characters. NO_COLOR (set and non-empty) turns the
 * colour off, not the bar; a locale that is not UTF-8 gets an ASCII bar (`#`).
 *
 * The training loop pays one predictable branch per micro-batch when the bar is off. When it
 * is on, the clock is read only every `stride` micro-batches, a stride that adapts so that
 * reads happen about every 20 ms whatever a batch costs. */
#include "dlc_runtime.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define DLC_BAR_MAX 30              /* widest bar, in columns */
#define DLC_BAR_REDRAW 0.1          /* seconds between redraws */

static int mode = -1;               /* -1: not decided yet; 0: plain lines; 1: live bar */
static int colour, utf8;
static int on_screen;               /* a bar is drawn on the current line of stdout */

static int env_contains(const char *value, const char *needle) {
    if (!value) return 0;
    size_t n = strlen(needle);
    for (const char *p = value; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && (p[i] | 0x20) == (needle[i] | 0x20)) i++;
        if (i == n) return 1;
    }
    return 0;
}

static void decide(void) {
    if (mode >= 0) return;
    const char *term = getenv("TERM");
    /* In a job of several processes, stdout is mpirun's relay (Open MPI hands every process a
     * pseudo-terminal whatever mpirun's own stdout is): plain lines. */
    mode = isatty(STDOUT_FILENO) && !(term && strcmp(term, "dumb") == 0) && dlc_comm_size() == 1;
    const char *no_colour = getenv("NO_COLOR");
    colour = mode && !(no_colour && *no_colour);
    /* The first of LC_ALL, LC_CTYPE, LANG that is set decides the character set. */
    const char *loc = NULL;
    const char *names[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (int i = 0; i < 3 && !loc; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) loc = v;
    }
    utf8 = env_contains(loc, "utf-8") || env_contains(loc, "utf8");
}

int dlc_progress_live(void) {
    decide();
    return mode;
}

static int terminal_width(void) {
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int w = c ? atoi(c) : 0;
    return w > 0 ? w : 80;
}

/* "m:ss" or "h:mm:ss". */
static void clock_text(char *buf, size_t cap, double seconds) {
    if (!(seconds >= 0) || seconds > 359999) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else snprintf(buf, cap, "%ld:%02ld", s / 60, s % 60);
}

/* printf onto line[*n..cap), never past its end. */
static void bar_printf(char *line, size_t cap, size_t *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0) *n = *n + (size_t)k < cap ? *n + (size_t)k : cap - 1;
}

static void draw_bar(dlc_bar *b, int64_t done, int64_t rows, double loss_sum, double now) {
    char head[64], tail[160], eta[32];
    if (b->epochs >= 0) snprintf(head, sizeof head, "epoch %lld/%lld ", (long long)b->epoch, (long long)b->epochs);
    else snprintf(head, sizeof head, "epoch %lld ", (long long)b->epoch);
    int digits = snprintf(NULL, 0, "%lld", (long long)b->total);
    int len = snprintf(tail, sizeof tail, " %*lld/%lld", digits, (long long)done, (long long)b->total);
    double elapsed = now - b->t0;
    int64_t batches = done - b->done0;
    if (rows > 0) len += snprintf(tail + len, sizeof tail - (size_t)len, "  loss %.6f", loss_sum / (double)rows);
    if (batches > 0 && elapsed > 0) {
        double rate = (double)(rows - b->rows0) / elapsed;
        clock_text(eta, sizeof eta, (double)(b->total - done) * elapsed / (double)batches);
        if (rate >= 1e5) len += snprintf(tail + len, sizeof tail - (size_t)len, "  %.0fk samples/s", rate / 1e3);
        else len += snprintf(tail + len, sizeof tail - (size_t)len, "  %.0f samples/s", rate);
        snprintf(tail + len, sizeof tail - (size_t)len, "  ETA %s", eta);
    }
    /* One column less than the terminal: a line that reaches the last column wraps on some
     * terminals, and a wrapped line can no longer be redrawn with a carriage return. */
    int width = b->width - 1;
    int text = (int)(strlen(head) + strlen(tail));
    int bar = width - text - 2;
    if (bar > DLC_BAR_MAX) bar = DLC_BAR_MAX;
    char line[512];
    size_t n = 0;
    bar_printf(line, sizeof line, &n, "\r");
    if (bar >= 5) {
        double frac = b->total > 0 ? (double)done / (double)b->total : 1.0;
        if (frac > 1) frac = 1;
        int eighths = (int)(frac * bar * 8), full = eighths / 8, part = eighths % 8;
        bar_printf(line, sizeof line, &n, "%s|", head);
        int paint = colour && eighths > 0;
        if (paint) bar_printf(line, sizeof line, &n, "\033[32m");
        static const char *const partial[8] = {"", "\xe2\x96\x8f", "\xe2\x96\x8e", "\xe2\x96\x8d",
                                                "\xe2\x96\x8c", "\xe2\x96\x8b", "\xe2\x96\x8a", "\xe2\x96\x89"};
        for (int i = 0; i < full; i++) bar_printf(line, sizeof line, &n, "%s", utf8 ? "\xe2\x96\x88" : "#");
        int used = full;
        if (full < bar && part > 0) {
            bar_printf(line, sizeof line, &n, "%s", utf8 ? partial[part] : part >= 4 ? ">" : "");
            used += utf8 || part >= 4;
        }
        if (paint) bar_printf(line, sizeof line, &n, "\033[39m");
        bar_printf(line, sizeof line, &n, "%*s|%s", bar - used, "", tail);
    } else {
        /* Too narrow for a bar: the text alone, cut to the width. */
        char all[256];
        snprintf(all, sizeof all, "%s%s", head, tail + 1);
        if (width > 0 && (int)strlen(all) > width) all[width] = 0;
        bar_printf(line, sizeof line, &n, "%s", all);
    }
    bar_printf(line, sizeof line, &n, "\033[K");
    fwrite(line, 1, n, stdout);
    fflush(stdout);
    on_screen = 1;
    b->last_draw = now;
}

void dlc_bar_begin(dlc_bar *b, int64_t epoch, int64_t epochs, int64_t total, int64_t done, int64_t rows) {
    memset(b, 0, sizeof *b);
    b->live = dlc_progress_live();
    if (!b->live) return;
    b->epoch = epoch;
    b->epochs = epochs;
    b->total = total;
    b->done0 = done;
    b->rows0 = rows;
    b->width = terminal_width();
    b->t0 = b->last_check = dlc_now();
    b->stride = b->countdown = 1;
    draw_bar(b, done, 0, 0, b->t0);
}

void dlc_bar_update(dlc_bar *b, int64_t done, int64_t rows, double loss_sum) {
    double now = dlc_now(), since = now - b->last_check;
    b->last_check = now;
    /* Aim at a clock read every 10 to 40 ms. */
    if (since < 0.01 && b->stride < ((int64_t)1 << 20)) b->stride *= 2;
    else if (since > 0.04 && b->stride > 1) b->stride /= 2;
    b->countdown = b->stride;
    if (now - b->last_draw >= DLC_BAR_REDRAW || done >= b->total) draw_bar(b, done, rows, loss_sum, now);
}

void dlc_bar_clear(dlc_bar *b) {
    if (!b->live) return;
    b->live = 0;
    dlc_progress_abandon();
}

void dlc_progress_abandon(void) {
    if (!on_screen) return;
    on_screen = 0;
    fputs("\r\033[K", stdout);
    fflush(stdout);
}
