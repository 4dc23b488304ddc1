/* dlc_gradcheck_rule.h: how a gradient check judges one element of a param, shared by both
 * checks: the trainer's `gradcheck` (dlc_gradcheck.c, in f32) and `dlc gradcheck` (in double,
 * through Sources/CRuntimeRules). docs/gradcheck.md explains the rule.
 *
 * The loss is evaluated at five points around the element's value w, a half step apart:
 * x[k] = w + (k - 2) h / 2 for k = 0..4 (as the float arithmetic actually placed them), giving
 * loss[k]. The numeric gradient is the central difference over the whole step,
 *     numeric = (loss[4] - loss[0]) / (x[4] - x[0]).
 * A non-differentiable point within the step (relu at 0, a max or maximum changing hands,
 * abs at 0) makes that difference meaningless. The four half-step slopes
 * s[k] = (loss[k+1] - loss[k]) / (x[k+1] - x[k]) of a smooth loss change steadily, so their
 * second differences agree; a kink breaks that, and the largest change between consecutive
 * second differences (a third difference of the loss),
 *     kink = max(|(s2 - s1) - (s1 - s0)|, |(s3 - s2) - (s2 - s1)|),
 * is at least the error a single kink anywhere in the step causes in `numeric`. So an element is
 * skipped when kink / scale > threshold (the check's tolerance), and a checked element's error
 * is never a kink's:
 *     scale = max(|analytic|, |numeric|, floor),  error = |analytic - numeric| / scale.
 * For a smooth loss `kink` is O(h^2), far below the threshold, and nothing is skipped. */
#ifndef DLC_GRADCHECK_RULE_H
#define DLC_GRADCHECK_RULE_H
#include <math.h>

typedef struct {
    double numeric; /* the central difference over the whole step */
    double kink;    /* the kink signal, relative to the scale */
    double error;   /* |analytic - numeric| / scale; infinite when anything is NaN */
    int skipped;    /* 1: a non-differentiable point lies within the step; no verdict */
} dlc_gc_verdict;

static inline dlc_gc_verdict dlc_gc_judge(const double x[5], const double loss[5], double analytic, double floor,
                                          double threshold) {
    double s[4];
    for (int k = 0; k < 4; k++) s[k] = (loss[k + 1] - loss[k]) / (x[k + 1] - x[k]);
    double d0 = s[1] - s[0], d1 = s[2] - s[1], d2 = s[3] - s[2];
    double third = fmax(fabs(d1 - d0), fabs(d2 - d1));
    dlc_gc_verdict v;
    v.numeric = (loss[4] - loss[0]) / (x[4] - x[0]);
    double scale = fmax(fmax(fabs(analytic), fabs(v.numeric)), floor);
    v.kink = third / scale;
    v.error = fabs(analytic - v.numeric) / scale;
    if (isnan(v.error) || isnan(v.kink)) v.error = INFINITY, v.kink = 0; /* NaN fails, never skips */
    v.skipped = v.kink > threshold;
    return v;
}
#endif
