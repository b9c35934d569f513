/*
 * sv_metrics: which bucket of the provider call times a call lands in,
 * and the labels Prometheus gets for them; sv_clock's monotonic clock.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sv_clock.h"
#include "sv_metrics.h"


/* an edge belongs to its own bucket (le: less or equal), a µs more not */
static void
test_edges(void **state)
{
    size_t  i;

    (void) state;

    for (i = 0; i < SV_DURATION_BUCKETS - 1; i++) {
        assert_int_equal(sv_duration_bucket(sv_duration_edge_us[i]), i);
        assert_int_equal(sv_duration_bucket(sv_duration_edge_us[i] + 1),
                         i + 1);
    }
}


static void
test_calls(void **state)
{
    (void) state;

    assert_int_equal(sv_duration_bucket(0), 0);
    assert_int_equal(sv_duration_bucket(-5), 0);
    assert_int_equal(sv_duration_bucket(4999), 0);
    /* 300 ms: past 0.25, within 0.5 */
    assert_string_equal(sv_duration_le[sv_duration_bucket(300000)], "0.5");
    assert_string_equal(sv_duration_le[sv_duration_bucket(250001)], "0.5");
    assert_string_equal(sv_duration_le[sv_duration_bucket(250000)], "0.25");
    assert_string_equal(sv_duration_le[sv_duration_bucket(5000000)], "5");
    assert_string_equal(sv_duration_le[sv_duration_bucket(5000001)], "+Inf");
    assert_string_equal(sv_duration_le[sv_duration_bucket(INT64_MAX)],
                        "+Inf");
}


/* each label is its edge in seconds, as Prometheus parses it */
static void
test_labels(void **state)
{
    size_t  i;
    double  s;
    char   *end;

    (void) state;

    for (i = 0; i < SV_DURATION_BUCKETS - 1; i++) {
        s = strtod(sv_duration_le[i], &end);
        assert_int_equal(*end, '\0');
        assert_int_equal((int64_t) (s * 1e6 + 0.5), sv_duration_edge_us[i]);

        if (i > 0) {
            assert_true(sv_duration_edge_us[i] > sv_duration_edge_us[i - 1]);
        }
    }

    assert_string_equal(sv_duration_le[SV_DURATION_BUCKETS - 1], "+Inf");
}


static void
test_mono_clock(void **state)
{
    int64_t          a, b;
    struct timespec  ts = { 0, 20 * 1000 * 1000 };

    (void) state;

    a = sv_clock_mono_us();
    nanosleep(&ts, NULL);
    b = sv_clock_mono_us();

    assert_true(b - a >= 20000);
    assert_true(b - a < 5000000);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_mono_clock),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
