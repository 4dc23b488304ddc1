/* format_check.c: dlc_format_fixed and dlc_format_int (progress/dlc_format.c) against snprintf,
 * which they stand in for in the epoch lines.
 *
 * Values: every magnitude from 1e-300 to 1e300 and the float losses of a training run, ties
 * (k + 0.5) / 10^d exactly as doubles and the doubles next to them, halves of odd and even
 * numbers, values whose product with 10^d rounds up to a tie or down from one, negative zero,
 * infinities, NaN; 0 to 9 decimals. Prints one line per mismatch (at most 20) and
 * `format_check: N values, M mismatches`; exits 1 on any mismatch. */
#include "dlc_runtime.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static long checked, mismatches;

static void check_fixed(double v, int decimals) {
    char want[400], got[400];
    int nw = snprintf(want, sizeof want, "%.*f", decimals, v);
    int ng = dlc_format_fixed(got, sizeof got, v, decimals);
    checked++;
    if (nw != ng || strcmp(want, got) != 0) {
        if (mismatches++ < 20) printf("mismatch: %.17g with %d decimals: printf '%s', dlc '%s'\n", v, decimals, want, got);
    }
    /* a short buffer: the same cut and the same return value as snprintf */
    char want_short[8], got_short[8];
    nw = snprintf(want_short, sizeof want_short, "%.*f", decimals, v);
    ng = dlc_format_fixed(got_short, sizeof got_short, v, decimals);
    if (nw != ng || strcmp(want_short, got_short) != 0) {
        if (mismatches++ < 20) printf("mismatch (8-byte buffer): %.17g with %d decimals\n", v, decimals);
    }
}

static void check_all_decimals(double v) {
    for (int d = 0; d <= 9; d++) {
        check_fixed(v, d);
        check_fixed(-v, d);
    }
}

static void check_int(int64_t v) {
    char want[32], got[32];
    int nw = snprintf(want, sizeof want, "%lld", (long long)v);
    int ng = dlc_format_int(got, sizeof got, v);
    checked++;
    if (nw != ng || strcmp(want, got) != 0) {
        if (mismatches++ < 20) printf("mismatch: %lld: printf '%s', dlc '%s'\n", (long long)v, want, got);
    }
}

static uint64_t state = 0x243F6A8885A308D3ull;
static uint64_t next(void) {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
}

int main(void) {
    static const double specials[] = {0.0, 1.0, 0.5, 1.5, 2.5, 0.125, 0.0625, 1e-7, 5e-7, 4.9999999e-7, 0.0000005,
                                      0.1, 0.2, 0.3, 0.05, 0.005, 0.0005, 0.00005, 0.000005, 0.0000015, 2.675,
                                      1.005, 999999.9999995, 1e9, 1e15, 1e16, 9.999999999e14, 1e300, 1.7976931348623157e308,
                                      4.9406564584124654e-324, 2.2250738585072014e-308, 1e-290, 1e-300,
                                      INFINITY, NAN};
    for (size_t i = 0; i < sizeof specials / sizeof *specials; i++) check_all_decimals(specials[i]);
    /* ties: (k + 0.5) / 10^d where that is a double exactly (k + 0.5 over a power of 2 times
     * 5^d is not, so build them as (2k+1) / 2 scaled by powers of two), and their neighbours */
    for (int64_t k = 0; k < 2000; k++) {
        double half = ((double)k + 0.5);
        for (int e = 0; e <= 40; e += 4) {
            double v = ldexp(half, -e);
            check_all_decimals(v);
            check_all_decimals(nextafter(v, 0));
            check_all_decimals(nextafter(v, INFINITY));
        }
    }
    /* decimal ties as the nearest doubles: x.yyyyyy5 for each decimal count, and neighbours */
    for (int d = 0; d <= 9; d++) {
        for (int64_t k = 0; k < 20000; k++) {
            double v = ((double)k * 10 + 5) / pow(10, d + 1) + (double)(next() % 1000);
            for (int s = -2; s <= 2; s++) {
                double w = v;
                for (int j = 0; j < s; j++) w = nextafter(w, INFINITY);
                for (int j = 0; j > s; j--) w = nextafter(w, 0);
                check_fixed(w, d);
                check_fixed(-w, d);
            }
        }
    }
    /* random doubles over every magnitude, and float values (losses are often floats) */
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = next();
        double v;
        memcpy(&v, &bits, sizeof v);
        check_fixed(v, (int)(next() % 10));
        double m = ldexp((double)(next() >> 11) / 9007199254740992.0, (int)(next() % 80) - 40);
        check_fixed(m, (int)(next() % 10));
        check_fixed((double)(float)m, 6);
        check_fixed((double)(float)m, 2);
    }
    /* integers */
    static const int64_t ints[] = {0, 1, -1, 9, 10, 99, 100, 5000, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) check_int(ints[i]);
    for (int i = 0; i < 100000; i++) check_int((int64_t)next() >> (next() % 64));
    printf("format_check: %ld values, %ld mismatches\n", checked, mismatches);
    return mismatches ? 1 : 0;
}
