/*
 * sv_thread: a thread counted in is waited for until its exit is over,
 * every other thread-specific destructor of it included; a thread that
 * does not exit is waited for no longer than asked.
 *
 * The threads are detached, as nginx's pool threads are: nothing joins
 * them, so only sv_thread_wait() tells when their exit is over.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "sv_clock.h"
#include "sv_thread.h"


static pthread_key_t    slow_key;
static volatile int     slow_done;
static volatile int     entered;

static pthread_mutex_t  hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t   hold_cond = PTHREAD_COND_INITIALIZER;
static int              hold;


static void
spawn(void *(*fn)(void *))
{
    pthread_t       t;
    pthread_attr_t  attr;

    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setdetachstate(&attr,
                                                 PTHREAD_CREATE_DETACHED), 0);
    entered = 0;
    assert_int_equal(pthread_create(&t, &attr, fn, NULL), 0);
    pthread_attr_destroy(&attr);

    /* only a thread counted in is waited for */
    while (!__atomic_load_n(&entered, __ATOMIC_ACQUIRE)) {
        sched_yield();
    }
}


static void *
enter_and_exit(void *arg)
{
    (void) arg;

    sv_thread_enter();
    sv_thread_enter();
    __atomic_store_n(&entered, 1, __ATOMIC_RELEASE);

    pthread_exit(NULL);
}


/* a library's destructor that takes its time, as a connection's close */
static void
slow_destructor(void *value)
{
    struct timespec  ts = { 0, 100 * 1000 * 1000 };

    (void) value;

    nanosleep(&ts, NULL);
    slow_done = 1;
}


static void *
enter_with_slow_state(void *arg)
{
    (void) arg;

    pthread_setspecific(slow_key, (void *) 1);
    sv_thread_enter();
    __atomic_store_n(&entered, 1, __ATOMIC_RELEASE);

    pthread_exit(NULL);
}


static void *
enter_and_hold(void *arg)
{
    (void) arg;

    sv_thread_enter();
    __atomic_store_n(&entered, 1, __ATOMIC_RELEASE);

    pthread_mutex_lock(&hold_lock);

    while (hold) {
        pthread_cond_wait(&hold_cond, &hold_lock);
    }

    pthread_mutex_unlock(&hold_lock);

    pthread_exit(NULL);
}


/* counted once however often it enters, out once it exited */
static void
test_counted_once(void **state)
{
    (void) state;

    spawn(enter_and_exit);

    assert_int_equal(sv_thread_wait(5000), 0);
    assert_int_equal(sv_thread_running(), 0);
}


/*
 * The slow destructor's key comes after sv_thread's (made by the first
 * test): its destructor runs after sv_thread's in the same round, so a
 * count that dropped in the first round would be 0 before it is done.
 */
static void
test_waits_for_other_destructors(void **state)
{
    (void) state;

    assert_int_equal(pthread_key_create(&slow_key, slow_destructor), 0);

    slow_done = 0;
    spawn(enter_with_slow_state);

    assert_int_equal(sv_thread_wait(5000), 0);
    assert_int_equal(slow_done, 1);
}


static void
test_wait_is_bounded(void **state)
{
    int64_t  start, took;

    (void) state;

    hold = 1;
    spawn(enter_and_hold);

    start = sv_clock_mono_us();
    assert_int_equal(sv_thread_wait(50), 1);
    took = sv_clock_mono_us() - start;

    assert_true(took >= 50000);
    assert_true(took < 2000000);

    pthread_mutex_lock(&hold_lock);
    hold = 0;
    pthread_cond_signal(&hold_cond);
    pthread_mutex_unlock(&hold_lock);

    assert_int_equal(sv_thread_wait(5000), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_counted_once),
        cmocka_unit_test(test_waits_for_other_destructors),
        cmocka_unit_test(test_wait_is_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
