
/*
 * The buckets of the provider call times.
 */

#include "sv_metrics.h"


const int64_t  sv_duration_edge_us[SV_DURATION_BUCKETS - 1] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
    5000000
};

const char  *const sv_duration_le[SV_DURATION_BUCKETS] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "+Inf"
};


size_t
sv_duration_bucket(int64_t us)
{
    size_t  i;

    for (i = 0; i < SV_DURATION_BUCKETS - 1; i++) {
        if (us <= sv_duration_edge_us[i]) {
            return i;
        }
    }

    return SV_DURATION_BUCKETS - 1;
}
