/* dlc_plot.c: the training chart as SVG (spec section 11): `PATH train --plot FILE.svg` after
 * every epoch, and `dlc plot METRICS.csv -o FILE.svg` from a --log file. One renderer for both:
 * dlc builds `dlc plot` from this file (with a small main, Sources/Driver/Plotter.swift), so
 * the two pictures of one run are the same, byte for byte.
 *
 * The chart: a panel of the training and validation loss per epoch and, when there is a
 * metric, a panel of it below; each with its axis labelled, nice ticks, a grid and a legend. A
 * dashed line marks the epoch of the lowest validation loss (what --save-best keeps).
 *
 * Self-contained (the C library and libm only), so that `dlc plot` links nothing else. */
#include "dlc_runtime.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- A growing text buffer ------------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} text;

static void svg_add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void svg_add(text *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { t->failed = 1; return; }
        if (t->s && t->len + (size_t)n < t->cap) { t->len += (size_t)n; return; }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) { t->failed = 1; return; }
        t->s = s;
        t->cap = cap;
    }
}

/* Text content for XML: & < > " escaped. */
static void svg_add_escaped(text *t, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': svg_add(t, "&amp;"); break;
        case '<': svg_add(t, "&lt;"); break;
        case '>': svg_add(t, "&gt;"); break;
        case '"': svg_add(t, "&quot;"); break;
        default: svg_add(t, "%c", *s);
        }
    }
}

/* ---- Scales --------------------------------------------------------------------------------- */

typedef struct {
    double lo, hi, step;     /* the axis runs lo..hi with a tick every step (log: lo, hi are powers of ten) */
    double pixel_lo, pixel_hi;
    int log;                 /* a logarithmic axis */
} axis;

/* 1, 2 or 5 times a power of ten, near range / target. */
static double nice_step(double range, int target) {
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static axis make_axis(double lo, double hi, int target, int integers, double p0, double p1) {
    if (!(hi > lo)) {
        double pad = lo == 0 ? 1 : fabs(lo) * 0.5;
        lo -= pad, hi += pad;
    }
    double step = nice_step(hi - lo, target);
    if (integers && step < 1) step = 1;
    axis a = {floor(lo / step + 1e-9) * step, ceil(hi / step - 1e-9) * step, step, p0, p1, 0};
    if (a.hi <= a.lo) a.hi = a.lo + step;
    return a;
}

/* Whole decades around [lo, hi] (both > 0). */
static axis make_log_axis(double lo, double hi, double p0, double p1) {
    axis a = {pow(10, floor(log10(lo) + 1e-9)), pow(10, ceil(log10(hi) - 1e-9)), 0, p0, p1, 1};
    if (a.hi <= a.lo) a.hi = a.lo * 10;
    return a;
}

static double to_pixel(const axis *a, double v) {
    if (a->log) return a->pixel_lo + log10(v / a->lo) / log10(a->hi / a->lo) * (a->pixel_hi - a->pixel_lo);
    return a->pixel_lo + (v - a->lo) / (a->hi - a->lo) * (a->pixel_hi - a->pixel_lo);
}

/* The ticks of an axis: every step, or on a log axis 1, 2 and 5 times each power of ten (1
 * only when there are more than three decades). */
static int ticks(const axis *a, double *out, int cap) {
    int n = 0;
    if (!a->log) {
        for (double v = a->lo; v <= a->hi + a->step * 1e-6 && n < cap; v += a->step) out[n++] = v;
        return n;
    }
    int sparse = log10(a->hi / a->lo) > 3.5;
    for (double d = a->lo; d <= a->hi * (1 + 1e-9) && n < cap; d *= 10) {
        out[n++] = d;
        if (!sparse && d * 2 <= a->hi && n < cap) out[n++] = d * 2;
        if (!sparse && d * 5 <= a->hi && n < cap) out[n++] = d * 5;
    }
    return n;
}

/* A tick label with as many decimals as the step needs (0.25 -> 2, 5 -> 0); on a log axis %g. */
static void tick_label(char *buf, size_t cap, double v, double step) {
    if (step == 0) {
        snprintf(buf, cap, "%g", v);
        return;
    }
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (decimals > 6) decimals = 6;
    if (fabs(v) < step * 1e-6) v = 0;
    snprintf(buf, cap, "%.*f", decimals, v);
}

/* ---- The picture ---------------------------------------------------------------------------- */

enum { WIDTH = 760, LEFT = 78, RIGHT = 28, TOP = 56, PANEL = 250, GAP = 62, BOTTOM = 58 };

typedef struct {
    const char *name;
    const double *v;
    const char *colour;
    int dashed;
} series;

static int any_finite(const double *v, int64_t n) {
    for (int64_t i = 0; v && i < n; i++)
        if (isfinite(v[i])) return 1;
    return 0;
}

static void value_range(const series *s, int ns, int64_t n, double *lo, double *hi) {
    *lo = INFINITY, *hi = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int64_t i = 0; i < n; i++)
            if (isfinite(s[k].v[i])) {
                if (s[k].v[i] < *lo) *lo = s[k].v[i];
                if (s[k].v[i] > *hi) *hi = s[k].v[i];
            }
}

/* One panel at [top, top + PANEL): grid, axes, curves, legend. */
static void panel(text *t, const dlc_plot_data *d, const axis *x, double top, const char *y_label, const series *s,
                  int ns, int clamp_unit) {
    double lo, hi;
    value_range(s, ns, d->n, &lo, &hi);
    /* Positive values spanning a factor of 20 or more (a loss that falls from 550 to 13) read best on a
     * log scale; otherwise linear, from zero when that does not squash the curves. */
    axis y;
    if (!clamp_unit && lo > 0 && hi / lo >= 20) {
        y = make_log_axis(lo, hi, top + PANEL, top);
    } else {
        if (lo >= 0 && lo < 0.5 * hi) lo = 0;
        y = make_axis(lo, hi, 5, 0, top + PANEL, top);
    }
    if (clamp_unit) {                               /* accuracy never leaves [0, 1] */
        if (y.lo < 0) y.lo = 0;
        if (y.hi > 1) y.hi = 1;
    }
    double left = LEFT, right = WIDTH - RIGHT;
    char label[64];
    /* Grid and y ticks. */
    double at[64];
    int nt = ticks(&y, at, 64);
    for (int i = 0; i < nt; i++) {
        double v = at[i], py = to_pixel(&y, v);
        svg_add(t, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>\n", left, py, right, py);
        tick_label(label, sizeof label, v, y.step);
        svg_add(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\" fill=\"#333\">%s</text>\n", left - 8,
            py + 4, label);
    }
    /* x ticks, under the panel. */
    for (double v = x->lo; v <= x->hi + x->step * 1e-6; v += x->step) {
        double px = to_pixel(x, v);
        svg_add(t, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#f0f0f0\"/>\n", px, top, px, top + PANEL);
        svg_add(t, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", px, top + PANEL, px,
            top + PANEL + 5);
        tick_label(label, sizeof label, v, x->step);
        svg_add(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" fill=\"#333\">%s</text>\n", px,
            top + PANEL + 19, label);
    }
    /* Axes and the y label (turned). */
    svg_add(t, "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"#333\"/>\n", left, top, top + PANEL, right);
    svg_add(t, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\" fill=\"#111\">",
        22.0, top + PANEL / 2.0);
    svg_add_escaped(t, y_label);
    if (y.log) svg_add(t, " (log scale)");
    svg_add(t, "</text>\n");
    /* The curves: a polyline per run of finite values, dots when there are few epochs. */
    for (int k = 0; k < ns; k++) {
        int open = 0;
        for (int64_t i = 0; i <= d->n; i++) {
            int ok = i < d->n && isfinite(s[k].v[i]) && isfinite(d->x[i]);
            if (ok && !open) {
                svg_add(t, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", s[k].colour,
                    s[k].dashed ? " stroke-dasharray=\"6 4\"" : "");
                open = 1;
            }
            if (ok) svg_add(t, "%.1f,%.1f ", to_pixel(x, d->x[i]), to_pixel(&y, s[k].v[i]));
            if (!ok && open) {
                svg_add(t, "\"/>\n");
                open = 0;
            }
        }
        if (d->n <= 40)
            for (int64_t i = 0; i < d->n; i++)
                if (isfinite(s[k].v[i]) && isfinite(d->x[i]))
                    svg_add(t, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.8\" fill=\"%s\"/>\n", to_pixel(x, d->x[i]),
                        to_pixel(&y, s[k].v[i]), s[k].colour);
    }
    /* The legend, top right. */
    double lw = 0;
    for (int k = 0; k < ns; k++) {
        double w = 7.0 * (double)strlen(s[k].name) + 40;
        if (w > lw) lw = w;
    }
    /* Top right, unless more of the curves pass there than bottom right (a rising accuracy). */
    double lh = 8 + 18 * ns, lx = right - lw - 8, ly = top + 8;
    int covered[2] = {0, 0};
    for (int c = 0; c < 2; c++) {
        double y0 = c == 0 ? top + 8 : top + PANEL - 8 - lh;
        for (int k = 0; k < ns; k++)
            for (int64_t i = 0; i < d->n; i++) {
                if (!isfinite(s[k].v[i]) || !isfinite(d->x[i])) continue;
                double px = to_pixel(x, d->x[i]), py = to_pixel(&y, s[k].v[i]);
                covered[c] += px >= lx - 6 && px <= lx + lw + 6 && py >= y0 - 6 && py <= y0 + lh + 6;
            }
    }
    if (covered[1] < covered[0]) ly = top + PANEL - 8 - lh;
    svg_add(t, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#ccc\" rx=\"3\"/>\n",
        lx, ly, lw, lh);
    for (int k = 0; k < ns; k++) {
        double yy = ly + 17 + 18 * k;
        svg_add(t, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n", lx + 8,
            yy - 4, lx + 30, yy - 4, s[k].colour, s[k].dashed ? " stroke-dasharray=\"6 4\"" : "");
        svg_add(t, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#111\">", lx + 36, yy);
        svg_add_escaped(t, s[k].name);
        svg_add(t, "</text>\n");
    }
}

/* The dashed line at the epoch of the lowest validation loss, across both panels. */
static void best_marker(text *t, const dlc_plot_data *d, const axis *x, double bottom) {
    int64_t best = -1;
    for (int64_t i = 0; i < d->n; i++)
        if (isfinite(d->val_loss[i]) && isfinite(d->x[i]) && (best < 0 || d->val_loss[i] < d->val_loss[best])) best = i;
    if (best < 0) return;
    double px = to_pixel(x, d->x[best]);
    svg_add(t, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" stroke-dasharray=\"3 3\"/>\n", px, TOP, px,
        bottom);
    int right_half = px > (LEFT + WIDTH - RIGHT) / 2.0;
    svg_add(t, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\" font-size=\"11\" fill=\"#555\">lowest validation loss %.4g (%s %g)</text>\n",
        px + (right_half ? -5 : 5), TOP - 6, right_half ? "end" : "start", d->val_loss[best], d->x_label, d->x[best]);
}

/* The whole SVG document into t. */
static void render(text *t, const dlc_plot_data *d) {
    int has_val = any_finite(d->val_loss, d->n);
    int has_metric = d->metric && any_finite(d->metric_values, d->n);
    int height = TOP + PANEL + BOTTOM + (has_metric ? PANEL + GAP : 0);
    svg_add(t, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    svg_add(t, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
           "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n", WIDTH, height, WIDTH, height);
    svg_add(t, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", WIDTH, height);
    svg_add(t, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\" fill=\"#111\">", WIDTH / 2);
    svg_add_escaped(t, d->title);
    svg_add(t, "</text>\n");

    double xmin = INFINITY, xmax = -INFINITY;
    for (int64_t i = 0; i < d->n; i++)
        if (isfinite(d->x[i])) xmin = fmin(xmin, d->x[i]), xmax = fmax(xmax, d->x[i]);
    if (!isfinite(xmin)) xmin = 0, xmax = 1;
    axis x = make_axis(xmin, xmax, 8, 1, LEFT, WIDTH - RIGHT);

    series loss[2] = {{"training loss", d->loss, "#1f77b4", 0}, {"validation loss", d->val_loss, "#d62728", 0}};
    panel(t, d, &x, TOP, "loss", loss, has_val ? 2 : 1, 0);
    double bottom = TOP + PANEL;
    if (has_metric) {
        char name[64];
        snprintf(name, sizeof name, "%s %s", d->metric_on_validation ? "validation" : "training", d->metric);
        series m[1] = {{name, d->metric_values, d->metric_on_validation ? "#2ca02c" : "#9467bd", 0}};
        panel(t, d, &x, TOP + PANEL + GAP, d->metric, m, 1, strcmp(d->metric, "accuracy") == 0);
        bottom += GAP + PANEL;
    }
    if (has_val) best_marker(t, d, &x, bottom);
    svg_add(t, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\" fill=\"#111\">", (LEFT + WIDTH - RIGHT) / 2.0,
        height - 14);
    svg_add_escaped(t, d->x_label);
    svg_add(t, "</text>\n</svg>\n");
}

/* Writes through a temporary file beside path and rename(): a reader never sees half a chart. */
static int write_atomically(const char *path, const text *t, char *why, size_t cap) {
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) return snprintf(why, cap, "out of memory"), -1;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(t->s, 1, t->len, f) == t->len;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) {
        snprintf(why, cap, "%s", strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}

int dlc_plot_svg(const dlc_plot_data *d, const char *path, char *why, size_t cap) {
    text t = {0};
    render(&t, d);
    int r = t.failed ? (snprintf(why, cap, "out of memory"), -1) : write_atomically(path, &t, why, cap);
    free(t.s);
    return r;
}

/* ---- A --log file ------------------------------------------------------------------------------ */

/* Splits a CSV line in place at commas. */
static int split(char *line, char **fields, int max) {
    int n = 0;
    for (char *p = line;;) {
        if (n == max) return -1;
        fields[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma) break;
        *comma = 0;
        p = comma + 1;
    }
    return n;
}

static int find(char **names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

int dlc_plot_read_log(const char *log, dlc_plot_log *out, char *why, size_t cap) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(log, "rb");
    if (!f) return snprintf(why, cap, "%s: %s", log, strerror(errno)), -1;
    char line[1024];
    char *names[16], *fields[16];
    int rc = -1;
    int64_t capn = 0, lineno = 1;
    if (!fgets(out->header, sizeof out->header, f)) {
        snprintf(why, cap, "%s: empty file: not a --log file", log);
        goto done;
    }
    out->header[strcspn(out->header, "\r\n")] = 0;
    int nh = split(out->header, names, 16), c_loss = find(names, nh, "loss"), c_val = find(names, nh, "val_loss");
    if (nh < 2 || c_loss < 0) {
        snprintf(why, cap, "%s:1: not a --log file: its header has no 'loss' column", log);
        goto done;
    }
    /* The metric is the column after val_loss ("metric" when the run had none). */
    int c_metric = c_val >= 0 && c_val + 1 < nh && strcmp(names[c_val + 1], "lr") != 0 ? c_val + 1 : -1;
    int cols[4] = {0, c_loss, c_val, c_metric};
    out->x_label = names[0];
    out->metric = c_metric >= 0 && strcmp(names[c_metric], "metric") != 0 ? names[c_metric] : NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        int nf = split(line, fields, 16);
        if (nf != nh) {
            snprintf(why, cap, "%s:%lld: %d fields, expected %d as in the header", log, (long long)lineno, nf, nh);
            goto done;
        }
        if (out->n == capn) {
            capn = capn ? 2 * capn : 64;
            for (int k = 0; k < 4; k++) {
                double *grown = realloc(out->columns[k], (size_t)capn * sizeof *grown);
                if (!grown) { snprintf(why, cap, "out of memory"); goto done; }
                out->columns[k] = grown;
            }
        }
        for (int k = 0; k < 4; k++) {
            double v = NAN;
            if (cols[k] >= 0 && fields[cols[k]][0]) {
                char *end;
                v = strtod(fields[cols[k]], &end);
                if (*end) {
                    snprintf(why, cap, "%s:%lld: not a number: '%.40s'", log, (long long)lineno, fields[cols[k]]);
                    goto done;
                }
            }
            out->columns[k][out->n] = v;
        }
        out->n++;
    }
    if (ferror(f)) {
        snprintf(why, cap, "%s: %s", log, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    fclose(f);
    if (rc) dlc_plot_log_free(out);
    return rc;
}

void dlc_plot_log_free(dlc_plot_log *l) {
    for (int k = 0; k < 4; k++) free(l->columns[k]);
    memset(l, 0, sizeof *l);
}

int dlc_plot_from_log(const char *log, const char *svg, const char *title, char *why, size_t cap) {
    dlc_plot_log l;
    if (dlc_plot_read_log(log, &l, why, cap)) return -1;
    int rc = -1;
    if (l.n == 0) {
        snprintf(why, cap, "%s: no rows after the header: nothing to plot", log);
    } else {
        double **c = l.columns;
        dlc_plot_data d = {title, l.x_label, l.metric, any_finite(c[2], l.n), l.n, c[0], c[1], c[2], c[3]};
        rc = dlc_plot_svg(&d, svg, why, cap);
        if (rc) {
            char reason[256];
            snprintf(reason, sizeof reason, "%s", why);
            snprintf(why, cap, "%s: cannot write: %s", svg, reason);
        }
    }
    dlc_plot_log_free(&l);
    return rc;
}
