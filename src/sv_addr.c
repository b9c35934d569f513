
/*
 * Client addresses as the keys of their sends.
 */

#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "sv_addr.h"


static int
sv_addr_v4(const void *in4, char *key)
{
    return inet_ntop(AF_INET, in4, key, SV_ADDR_KEY_SIZE) ? 0 : -1;
}


/* the /64 of an IPv6 address: the rest zeroed, "/64" after */
static int
sv_addr_v6_prefix(const struct in6_addr *in6, char *key)
{
    size_t           len;
    struct in6_addr  prefix;

    memset(&prefix, 0, sizeof(prefix));
    memcpy(prefix.s6_addr, in6->s6_addr, 8);

    if (inet_ntop(AF_INET6, &prefix, key, SV_ADDR_KEY_SIZE - 3) == NULL) {
        return -1;
    }

    len = strlen(key);
    memcpy(key + len, "/64", 4);

    return 0;
}


int
sv_addr_key(const struct sockaddr *sa, char *key)
{
    const struct sockaddr_in6  *sin6;

    key[0] = '\0';

    switch (sa->sa_family) {

    case AF_INET:
        return sv_addr_v4(&((const struct sockaddr_in *) sa)->sin_addr, key);

    case AF_INET6:
        sin6 = (const struct sockaddr_in6 *) sa;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            return sv_addr_v4(&sin6->sin6_addr.s6_addr[12], key);
        }

        return sv_addr_v6_prefix(&sin6->sin6_addr, key);

    case AF_UNIX:
        memcpy(key, "unix:", 6);
        return 0;

    default:
        return -1;
    }
}
