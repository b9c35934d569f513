#ifndef SV_CLOCK_H
#define SV_CLOCK_H

/*
 * The clock every rule of the store is judged by: send windows, code and
 * token lives, sweeps.
 */

#include <stdint.h>


/* Wall clock in milliseconds since the epoch. */
int64_t sv_clock_ms(void);

#endif /* SV_CLOCK_H */
