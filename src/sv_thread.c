
/*
 * The module's pool threads counted until their exit is over: see
 * sv_thread.h.
 */

#include <pthread.h>
#include <time.h>

#include "sv_clock.h"
#include "sv_thread.h"

/* a thread's value of the key: counted in, then in the last round */
#define SV_THREAD_IN    ((void *) 1)
#define SV_THREAD_OUT   ((void *) 2)


static void sv_thread_key_create(void);
static void sv_thread_exit(void *value);


static pthread_once_t  sv_thread_once = PTHREAD_ONCE_INIT;
static pthread_key_t   sv_thread_key;
static int             sv_thread_key_ready;
static size_t          sv_thread_count;         /* __atomic */


void
sv_thread_enter(void)
{
    pthread_once(&sv_thread_once, sv_thread_key_create);

    if (!sv_thread_key_ready || pthread_getspecific(sv_thread_key) != NULL) {
        return;
    }

    if (pthread_setspecific(sv_thread_key, SV_THREAD_IN) == 0) {
        __atomic_add_fetch(&sv_thread_count, 1, __ATOMIC_ACQ_REL);
    }
}


size_t
sv_thread_running(void)
{
    return __atomic_load_n(&sv_thread_count, __ATOMIC_ACQUIRE);
}


size_t
sv_thread_wait(unsigned timeout_ms)
{
    size_t           n;
    int64_t          deadline;
    struct timespec  pause = { 0, 1000000 };

    deadline = sv_clock_mono_us() + (int64_t) timeout_ms * 1000;

    for ( ;; ) {
        n = sv_thread_running();

        if (n == 0 || sv_clock_mono_us() >= deadline) {
            return n;
        }

        nanosleep(&pause, NULL);
    }
}


static void
sv_thread_key_create(void)
{
    sv_thread_key_ready = (pthread_key_create(&sv_thread_key, sv_thread_exit)
                           == 0);
}


/*
 * The destructors of a thread's exit run in rounds: a value set again
 * during one round has its destructor called in the next, after every
 * destructor of this one has returned (POSIX allows at least 4 rounds).
 * So the value is set again once, and the count drops in the second.
 */
static void
sv_thread_exit(void *value)
{
    if (value == SV_THREAD_IN
        && pthread_setspecific(sv_thread_key, SV_THREAD_OUT) == 0)
    {
        return;
    }

    __atomic_sub_fetch(&sv_thread_count, 1, __ATOMIC_ACQ_REL);
}
