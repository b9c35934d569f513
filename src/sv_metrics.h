#ifndef SV_METRICS_H
#define SV_METRICS_H

/*
 * The histogram of provider call times: buckets for calls of 5 ms to
 * 5 s, as Prometheus reads them (a bucket counts the calls that took at
 * most its edge, "le"; the last, "+Inf", counts every call).
 */

#include <stddef.h>
#include <stdint.h>


/* ten edges and +Inf */
#define SV_DURATION_BUCKETS  11


/* the edges in microseconds; the last bucket has none */
extern const int64_t  sv_duration_edge_us[SV_DURATION_BUCKETS - 1];

/* the edges as Prometheus labels them: "0.005" ... "5", "+Inf" */
extern const char    *const sv_duration_le[SV_DURATION_BUCKETS];


/*
 * The one bucket a call of us microseconds falls in, 0 to
 * SV_DURATION_BUCKETS - 1: the first whose edge is at least us.  A
 * negative time (it cannot be, on a monotonic clock) is 0.
 */
size_t sv_duration_bucket(int64_t us);

#endif /* SV_METRICS_H */
