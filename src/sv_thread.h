#ifndef SV_THREAD_H
#define SV_THREAD_H

/*
 * The pool threads that ran the module's code, counted until their exit
 * is over.
 *
 * nginx's pool threads end in pthread_exit() right after telling the
 * worker they took their exit task, and the worker goes on to exit().
 * Each thread's thread-specific destructors (OpenSSL's per-thread state,
 * sv_pg's connection) would then run on while exit() runs the libraries'
 * own cleanup (OpenSSL's atexit handler frees every thread's list of
 * handlers), each freeing what the other frees.  A thread counts itself
 * in before the module's work; it counts itself out once every other
 * destructor of its exit has returned, and the worker waits for that.
 */

#include <stddef.h>


/* In a pool thread, before the module's work: counted in (once). */
void sv_thread_enter(void);

/* The threads counted in whose exit is not over yet. */
size_t sv_thread_running(void);

/*
 * Waits until no thread counted in is left, at most timeout_ms: 0, or
 * how many are left then.
 */
size_t sv_thread_wait(unsigned timeout_ms);

#endif /* SV_THREAD_H */
