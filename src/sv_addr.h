#ifndef SV_ADDR_H
#define SV_ADDR_H

/*
 * The key a client address counts under for smsverify_ip_limit, from the
 * address nginx has for the connection ($remote_addr: the realip module
 * may have set it from a proxy's header).
 */

#include <stddef.h>

#include <sys/socket.h>

#include "sv_store.h"


#define SV_ADDR_KEY_SIZE  (SV_STORE_ADDR_MAX + 1)

/*
 * Into key (SV_ADDR_KEY_SIZE bytes): an IPv4 address as itself
 * ("192.0.2.1"); an IPv6 address by its /64, since one subscriber or host
 * commonly has a whole /64 ("2001:db8:1:2::/64"); an IPv4-mapped IPv6
 * address as the IPv4 address it maps; every client of a Unix socket as
 * "unix:" (nginx's $remote_addr for them).  0, or -1 for another family
 * (key is then empty).
 */
int sv_addr_key(const struct sockaddr *sa, char *key);

#endif /* SV_ADDR_H */
