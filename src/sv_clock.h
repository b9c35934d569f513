#ifndef SV_CLOCK_H
#define SV_CLOCK_H

/*
 * The clock every rule of the store is judged by: send windows, code and
 * token lives, sweeps; and the monotonic clock durations are measured by.
 */

#include <stdint.h>


/* Wall clock in milliseconds since the epoch. */
int64_t sv_clock_ms(void);

/*
 * Monotonic clock in microseconds since some fixed point: for durations
 * only, never moved by a change of the wall clock.
 */
int64_t sv_clock_mono_us(void);

#endif /* SV_CLOCK_H */
