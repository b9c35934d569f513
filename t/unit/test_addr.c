/*
 * sv_addr: the keys client addresses count under.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "sv_addr.h"


static const char *
key_of(int family, const char *text)
{
    static char          key[SV_ADDR_KEY_SIZE];
    struct sockaddr_in   sin;
    struct sockaddr_in6  sin6;

    memset(key, 'x', sizeof(key));

    if (family == AF_INET) {
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons(1234);
        assert_int_equal(inet_pton(AF_INET, text, &sin.sin_addr), 1);
        assert_int_equal(sv_addr_key((struct sockaddr *) &sin, key), 0);

    } else {
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(1234);
        assert_int_equal(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1);
        assert_int_equal(sv_addr_key((struct sockaddr *) &sin6, key), 0);
    }

    return key;
}


static void
test_ipv4_as_itself(void **state)
{
    (void) state;

    assert_string_equal(key_of(AF_INET, "192.0.2.1"), "192.0.2.1");
    assert_string_equal(key_of(AF_INET, "255.255.255.255"),
                        "255.255.255.255");
    assert_string_equal(key_of(AF_INET6, "::ffff:192.0.2.7"), "192.0.2.7");
}


static void
test_ipv6_by_64(void **state)
{
    (void) state;

    assert_string_equal(key_of(AF_INET6, "2001:db8:1:2::5"),
                        "2001:db8:1:2::/64");
    assert_string_equal(key_of(AF_INET6, "2001:db8:1:2:ffff:1:2:3"),
                        "2001:db8:1:2::/64");
    assert_string_equal(key_of(AF_INET6, "2001:db8:1:3::5"),
                        "2001:db8:1:3::/64");
    assert_string_equal(key_of(AF_INET6, "::1"), "::/64");
    assert_string_equal(key_of(AF_INET6,
                               "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                        "ffff:ffff:ffff:ffff::/64");
    assert_true(strlen("ffff:ffff:ffff:ffff::/64") < SV_ADDR_KEY_SIZE);
}


static void
test_unix_and_others(void **state)
{
    char                key[SV_ADDR_KEY_SIZE];
    struct sockaddr     sa;
    struct sockaddr_un  sun;

    (void) state;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    assert_int_equal(sv_addr_key((struct sockaddr *) &sun, key), 0);
    assert_string_equal(key, "unix:");

    memset(&sa, 0, sizeof(sa));
    sa.sa_family = AF_APPLETALK;
    assert_int_equal(sv_addr_key(&sa, key), -1);
    assert_string_equal(key, "");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_ipv4_as_itself),
        cmocka_unit_test(test_ipv6_by_64),
        cmocka_unit_test(test_unix_and_others),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
