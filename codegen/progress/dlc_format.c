/* dlc_format.c: numbers for the epoch lines, written as printf writes them but without
 * printf's cost.
 *
 * A model of 10x10 layers trains an epoch in a few microseconds, and printf("%.6f") of the
 * loss took longer than the step (glibc formats through multi-precision arithmetic): printing
 * bench (b)'s 5000 epoch lines was 14% of its instructions. These functions write the same
 * characters: codegen/tests/format_check.c compares them with snprintf on millions of values
 * (ties, values next to ties, every magnitude, negative zero, infinities, NaN). */
#include "dlc_runtime.h"

#include <math.h>
#include <string.h>

/* 10^d for the decimals the fast path takes: each is exact in a double. */
static const double pow10_exact[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* Writes u's decimal digits at buf[len]; returns the new length. */
static int put_decimal(char *buf, int len, uint64_t u) {
    char rev[20];
    int k = 0;
    do { rev[k++] = (char)('0' + u % 10); u /= 10; } while (u);
    while (k) buf[len++] = rev[--k];
    return len;
}

/* snprintf's contract: as much as fits, always terminated; returns the full length. */
static int copy_out(char *out, size_t cap, const char *tmp, int len) {
    if (cap > 0) {
        size_t n_copy = (size_t)len < cap ? (size_t)len : cap - 1;
        memcpy(out, tmp, n_copy);
        out[n_copy] = '\0';
    }
    return len;
}

int dlc_format_fixed(char *out, size_t cap, double v, int decimals) {
    double a = fabs(v);
    /* The fast path: |v| · 10^d below 2^52, so that the product's integer part is exact and
     * 0.5 is a multiple of its ulp; not so tiny that fma's residual could underflow. Anything
     * else (huge, tiny but not 0, NaN, infinite) is printf's. */
    if (decimals < 0 || decimals > 9 || !(a < 1e15 / pow10_exact[decimals]) || (a != 0 && a < 1e-290))
        return snprintf(out, cap, "%.*f", decimals, v);
    double scale = pow10_exact[decimals];
    double p = a * scale;             /* rounded product */
    double err = fma(a, scale, -p);   /* the exact product is p + err */
    double n = floor(p), d = (p - n) - 0.5; /* both exact (see above) */
    /* Round the exact product to the nearest integer, ties to even (printf's rounding in the
     * default mode). d is a multiple of ulp(p) and |err| <= ulp(p)/2, so err decides only
     * when d is 0. */
    if (d > 0 || (d == 0 && (err > 0 || (err == 0 && fmod(n, 2) != 0)))) n += 1;
    uint64_t digits = (uint64_t)n, whole = digits / (uint64_t)scale, frac = digits % (uint64_t)scale;
    char tmp[48];
    int len = 0;
    if (signbit(v)) tmp[len++] = '-'; /* printf writes -0.000000 for -0.0 and -1e-9 alike */
    len = put_decimal(tmp, len, whole);
    if (decimals > 0) {
        tmp[len++] = '.';
        for (int i = decimals - 1; i >= 0; i--) { tmp[len + i] = (char)('0' + frac % 10); frac /= 10; }
        len += decimals;
    }
    return copy_out(out, cap, tmp, len);
}

int dlc_format_int(char *out, size_t cap, int64_t v) {
    char tmp[24];
    int len = 0;
    if (v < 0) tmp[len++] = '-';
    len = put_decimal(tmp, len, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    return copy_out(out, cap, tmp, len);
}
