#ifndef SV_WEBHOOK_H
#define SV_WEBHOOK_H

/*
 * Webhooks as the Standard Webhooks specification signs them: the secret
 * "whsec_" + base64, the event's JSON body, the headers webhook-id,
 * webhook-timestamp and webhook-signature ("v1," + base64 of
 * HMAC-SHA256(key, "id.timestamp.body")), and the POST itself.
 */

#include <stddef.h>
#include <stdint.h>

#include "sv_store.h"


/* the decoded key: the specification's secrets are 24 to 64 bytes */
#define SV_WEBHOOK_KEY_MAX   256

/* "v1," and the base64 of a SHA-256 digest, NUL included */
#define SV_WEBHOOK_SIG_SIZE  (3 + 44 + 1)


typedef struct {
    const char     *url;
    const uint8_t  *key;
    size_t          key_len;
    long            timeout_ms;
} sv_webhook_conf_t;


/*
 * The key of a secret's text ("whsec_" and standard base64, padded or
 * not) into key (SV_WEBHOOK_KEY_MAX bytes): 0 with *len, or -1 with what
 * is wrong in err (never the secret).
 */
int sv_webhook_key(const char *text, uint8_t *key, size_t *len, char *err,
    size_t errlen);

/* 1 if url is an http:// or https:// URL with a host, else 0 */
int sv_webhook_url_ok(const char *url);

/*
 * The event's body, {"type","timestamp","data": MEMBER}, into out
 * (SV_OUTBOX_BODY_MAX bytes, NUL-terminated); its length, 0 if it did
 * not fit.
 */
size_t sv_webhook_body(const char *type, int64_t now_ms,
    const sv_member_info_t *m, char *out);

/* a fresh webhook-id, "msg_" and 32 hex digits, into out: 0, or -1 */
int sv_webhook_msg_id(char *out);

/* the webhook-signature value of one attempt into sig */
void sv_webhook_sign(const uint8_t *key, size_t key_len, const char *msg_id,
    int64_t timestamp, const char *body, size_t len,
    char sig[SV_WEBHOOK_SIG_SIZE]);

/*
 * One attempt to deliver ev, signed at timestamp (Unix seconds): 0 if
 * the receiver answered 2xx, else -1 with why in err (*status the HTTP
 * status, 0 if none came).
 */
int sv_webhook_post(const sv_webhook_conf_t *conf,
    const sv_outbox_event_t *ev, int64_t timestamp, long *status, char *err,
    size_t errlen);

#endif /* SV_WEBHOOK_H */
