/*
 * Standard Webhooks: the secret's key, the event's body, the signature
 * of one attempt and the POST that carries it (sv_http.c's handle of the
 * calling thread).
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "sv_http.h"
#include "sv_member.h"
#include "sv_webhook.h"


#define SV_WEBHOOK_PREFIX  "whsec_"

/* "type", "timestamp" and the braces around MEMBER */
#if SV_MEMBER_JSON_MAX + SV_OUTBOX_TYPE_MAX + 64 > SV_OUTBOX_BODY_MAX
#error "SV_OUTBOX_BODY_MAX does not hold an event"
#endif


static int
sv_b64_value(int c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '+') {
        return 62;
    }

    if (c == '/') {
        return 63;
    }

    return -1;
}


int
sv_webhook_key(const char *text, uint8_t *key, size_t *len, char *err,
    size_t errlen)
{
    int          v;
    size_t       n, i, pad;
    uint32_t     acc;
    unsigned     bits;
    const char  *p;

    if (strncmp(text, SV_WEBHOOK_PREFIX, sizeof(SV_WEBHOOK_PREFIX) - 1)
        != 0)
    {
        snprintf(err, errlen, "the secret does not begin with \""
                 SV_WEBHOOK_PREFIX "\"");
        return -1;
    }

    p = text + sizeof(SV_WEBHOOK_PREFIX) - 1;
    n = strlen(p);

    pad = 0;
    while (n > 0 && p[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }

    if (n == 0) {
        snprintf(err, errlen, "the secret's key is empty");
        return -1;
    }

    /* a group of 4 is complete, padded or not; 1 left over never is */
    if (n % 4 == 1 || (pad && (n + pad) % 4 != 0)) {
        snprintf(err, errlen, "the secret is not valid base64");
        return -1;
    }

    if (n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > SV_WEBHOOK_KEY_MAX) {
        snprintf(err, errlen, "the secret's key is longer than %d bytes",
                 SV_WEBHOOK_KEY_MAX);
        return -1;
    }

    acc = 0;
    bits = 0;
    *len = 0;

    for (i = 0; i < n; i++) {
        v = sv_b64_value((unsigned char) p[i]);

        if (v < 0) {
            snprintf(err, errlen, "the secret is not valid base64");
            return -1;
        }

        acc = (acc << 6) | (uint32_t) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            key[(*len)++] = (uint8_t) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }

    return 0;
}


int
sv_webhook_url_ok(const char *url)
{
    const char  *host;

    if (strncmp(url, "http://", 7) == 0) {
        host = url + 7;

    } else if (strncmp(url, "https://", 8) == 0) {
        host = url + 8;

    } else {
        return 0;
    }

    if (host[0] == '\0' || host[0] == '/' || host[0] == ':'
        || host[0] == '?' || host[0] == '#')
    {
        return 0;
    }

    for ( /* void */ ; *host; host++) {
        if ((unsigned char) *host <= ' ' || *host == 0x7f) {
            return 0;
        }
    }

    return 1;
}


size_t
sv_webhook_body(const char *type, int64_t now_ms, const sv_member_info_t *m,
    char *out)
{
    int     n;
    char    stamp[21];
    char    member[SV_MEMBER_JSON_MAX + 1];
    size_t  len;

    len = sv_member_json(m, member, sizeof(member));
    if (len == 0) {
        out[0] = '\0';
        return 0;
    }

    sv_member_time(now_ms, stamp);

    /* the type is ours, never input: no escapes needed */
    n = snprintf(out, SV_OUTBOX_BODY_MAX + 1,
                 "{\"type\":\"%s\",\"timestamp\":\"%s\",\"data\":{%s}}",
                 type, stamp, member);

    if (n < 0 || n > SV_OUTBOX_BODY_MAX) {
        out[0] = '\0';
        return 0;
    }

    return (size_t) n;
}


int
sv_webhook_msg_id(char *out)
{
    size_t          i;
    unsigned char   raw[16];
    static const char  hex[] = "0123456789abcdef";

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return -1;
    }

    memcpy(out, "msg_", 4);

    for (i = 0; i < sizeof(raw); i++) {
        out[4 + 2 * i] = hex[raw[i] >> 4];
        out[5 + 2 * i] = hex[raw[i] & 0x0f];
    }

    out[4 + 2 * sizeof(raw)] = '\0';

    return 0;
}


void
sv_webhook_sign(const uint8_t *key, size_t key_len, const char *msg_id,
    int64_t timestamp, const char *body, size_t len,
    char sig[SV_WEBHOOK_SIG_SIZE])
{
    int             n;
    unsigned int    mac_len;
    unsigned char   mac[EVP_MAX_MD_SIZE];
    unsigned char  *msg;

    memcpy(sig, "v1,", 4);

    /* "id.timestamp.body" */
    msg = malloc(strlen(msg_id) + 24 + len);
    if (msg == NULL) {
        return;         /* no signature a receiver could accept */
    }

    n = sprintf((char *) msg, "%s.%" PRId64 ".", msg_id, timestamp);
    memcpy(msg + n, body, len);

    mac_len = 0;

    if (HMAC(EVP_sha256(), key, (int) key_len, msg, (size_t) n + len, mac,
             &mac_len)
        != NULL)
    {
        EVP_EncodeBlock((unsigned char *) sig + 3, mac, (int) mac_len);
    }

    free(msg);
}


int
sv_webhook_post(const sv_webhook_conf_t *conf, const sv_outbox_event_t *ev,
    int64_t timestamp, long *status, char *err, size_t errlen)
{
    char                 sig[SV_WEBHOOK_SIG_SIZE];
    char                 h_id[sizeof("webhook-id: ") + SV_OUTBOX_MSG_ID_MAX];
    char                 h_ts[sizeof("webhook-timestamp: ") + 24];
    char                 h_sig[sizeof("webhook-signature: ")
                               + SV_WEBHOOK_SIG_SIZE];
    const char          *headers[5];
    sv_http_response_t   resp;

    *status = 0;

    sv_webhook_sign(conf->key, conf->key_len, ev->msg_id, timestamp,
                    ev->body, ev->len, sig);

    snprintf(h_id, sizeof(h_id), "webhook-id: %s", ev->msg_id);
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %" PRId64, timestamp);
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);

    headers[0] = "Content-Type: application/json";
    headers[1] = h_id;
    headers[2] = h_ts;
    headers[3] = h_sig;
    headers[4] = NULL;

    if (sv_http_post(conf->url, headers, ev->body, ev->len, conf->timeout_ms,
                     &resp, err, errlen)
        != 0)
    {
        return -1;
    }

    *status = resp.status;

    if (resp.status >= 200 && resp.status < 300) {
        return 0;
    }

    snprintf(err, errlen, "the receiver answered %ld", resp.status);

    return -1;
}
