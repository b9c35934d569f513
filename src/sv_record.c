/*
 * The records' bytes: codes, sends, tokens, ids and members.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sv_record.h"


/* Little-endian integers, whatever the host. */

static void
sv_put_le(uint8_t *p, uint64_t v, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}


static uint64_t
sv_get_le(const uint8_t *p, size_t n)
{
    size_t    i;
    uint64_t  v;

    v = 0;

    for (i = 0; i < n; i++) {
        v |= (uint64_t) p[i] << (8 * i);
    }

    return v;
}


void
sv_id_encode(uint64_t id, uint8_t *p)
{
    size_t  i;

    for (i = 0; i < SV_ID_SIZE; i++) {
        p[i] = (uint8_t) (id >> (8 * (SV_ID_SIZE - 1 - i)));
    }
}


int
sv_id_decode(const uint8_t *p, size_t len, uint64_t *id)
{
    size_t  i;

    if (len != SV_ID_SIZE) {
        return -1;
    }

    *id = 0;

    for (i = 0; i < SV_ID_SIZE; i++) {
        *id = (*id << 8) | p[i];
    }

    return 0;
}


/* Codes. */

void
sv_code_rec_encode(const sv_code_rec_t *rec, uint8_t *p)
{
    p[0] = SV_REC_VERSION;
    sv_put_le(p + 1, rec->attempts_left, 4);
    sv_put_le(p + 5, (uint64_t) rec->expires_ms, 8);
    memcpy(p + 13, rec->hash, SV_HASH_SIZE);
}


int
sv_code_rec_decode(const uint8_t *p, size_t len, sv_code_rec_t *rec)
{
    if (len != SV_CODE_REC_SIZE || p[0] != SV_REC_VERSION) {
        return -1;
    }

    rec->attempts_left = (uint32_t) sv_get_le(p + 1, 4);
    rec->expires_ms = (int64_t) sv_get_le(p + 5, 8);
    memcpy(rec->hash, p + 13, SV_HASH_SIZE);

    return 0;
}


/* Sends. */

size_t
sv_send_rec_encode(const sv_send_rec_t *rec, uint8_t *p)
{
    unsigned  i;

    p[0] = SV_REC_VERSION;
    sv_put_le(p + 1, rec->count, 2);
    sv_put_le(p + 3, (uint64_t) rec->keep_until_ms, 8);

    for (i = 0; i < rec->count; i++) {
        sv_put_le(p + SV_SEND_REC_HEAD + 8 * i, (uint64_t) rec->stamps[i], 8);
    }

    return SV_SEND_REC_HEAD + 8 * rec->count;
}


int
sv_send_rec_decode(const uint8_t *p, size_t len, sv_send_rec_t *rec)
{
    unsigned  i;

    if (len < SV_SEND_REC_HEAD || p[0] != SV_REC_VERSION) {
        return -1;
    }

    rec->count = (unsigned) sv_get_le(p + 1, 2);

    if (rec->count > SV_SEND_LIMIT_MAX
        || len != SV_SEND_REC_HEAD + 8 * (size_t) rec->count)
    {
        return -1;
    }

    rec->keep_until_ms = (int64_t) sv_get_le(p + 3, 8);

    for (i = 0; i < rec->count; i++) {
        rec->stamps[i] = (int64_t) sv_get_le(p + SV_SEND_REC_HEAD + 8 * i, 8);
    }

    return 0;
}


/* Tokens. */

size_t
sv_token_rec_encode(const sv_token_rec_t *rec, uint8_t *p)
{
    p[0] = SV_TOKEN_REC_VERSION;
    sv_put_le(p + 1, (uint64_t) rec->expires_ms, 8);
    p[9] = (uint8_t) rec->failures;
    memcpy(p + SV_TOKEN_REC_HEAD, rec->phone, rec->phone_len);

    return SV_TOKEN_REC_HEAD + rec->phone_len;
}


int
sv_token_rec_decode(const uint8_t *p, size_t len, sv_token_rec_t *rec)
{
    size_t  head;

    if (len == 0) {
        return -1;
    }

    switch (p[0]) {

    case 1:
        head = SV_TOKEN_REC_HEAD_V1;
        break;

    case SV_TOKEN_REC_VERSION:
        head = SV_TOKEN_REC_HEAD;
        break;

    default:
        return -1;
    }

    if (len <= head || len > head + SV_STORE_PHONE_MAX) {
        return -1;
    }

    rec->expires_ms = (int64_t) sv_get_le(p + 1, 8);
    rec->failures = (head == SV_TOKEN_REC_HEAD) ? p[9] : 0;
    rec->phone_len = len - head;
    memcpy(rec->phone, p + head, rec->phone_len);

    return 0;
}


/*
 * Members.  The text is written twice: once into nothing, to count it,
 * then into a buffer of that size.
 */

typedef struct {
    char               *p;          /* NULL: only count */
    size_t              len;
} sv_text_t;


static void
sv_text_add(sv_text_t *t, const char *s, size_t n)
{
    if (t->p != NULL) {
        memcpy(t->p + t->len, s, n);
    }

    t->len += n;
}


static void
sv_text_literal(sv_text_t *t, const char *s)
{
    sv_text_add(t, s, strlen(s));
}


/* A JSON string, escaped as cJSON escapes: UTF-8 passes as it is. */
static void
sv_text_string(sv_text_t *t, const char *s)
{
    char                  esc[8];
    const unsigned char  *c;

    sv_text_add(t, "\"", 1);

    for (c = (const unsigned char *) s; *c; c++) {

        switch (*c) {

        case '"':
        case '\\':
            esc[0] = '\\';
            esc[1] = (char) *c;
            sv_text_add(t, esc, 2);
            break;

        case '\b':
            sv_text_add(t, "\\b", 2);
            break;

        case '\f':
            sv_text_add(t, "\\f", 2);
            break;

        case '\n':
            sv_text_add(t, "\\n", 2);
            break;

        case '\r':
            sv_text_add(t, "\\r", 2);
            break;

        case '\t':
            sv_text_add(t, "\\t", 2);
            break;

        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", *c);
                sv_text_add(t, esc, 6);

            } else {
                sv_text_add(t, (const char *) c, 1);
            }
        }
    }

    sv_text_add(t, "\"", 1);
}


static void
sv_text_uint(sv_text_t *t, uint64_t v)
{
    char  buf[24];

    sv_text_add(t, buf, snprintf(buf, sizeof(buf), "%" PRIu64, v));
}


static void
sv_text_int(sv_text_t *t, int64_t v)
{
    char  buf[24];

    sv_text_add(t, buf, snprintf(buf, sizeof(buf), "%" PRId64, v));
}


static void
sv_member_text(sv_text_t *t, const sv_member_t *m, uint64_t id)
{
    size_t  i;

    sv_text_literal(t, "{\"id\":");
    sv_text_uint(t, id);
    sv_text_literal(t, ",\"email\":");
    sv_text_string(t, m->email);
    sv_text_literal(t, ",\"phone\":");
    sv_text_string(t, m->phone);
    sv_text_literal(t, ",\"nickname\":");
    sv_text_string(t, m->nickname);
    sv_text_literal(t, ",\"passwordHash\":");
    sv_text_string(t, m->password_hash);
    sv_text_literal(t, ",\"terms\":[");

    for (i = 0; i < m->nterms; i++) {
        if (i > 0) {
            sv_text_add(t, ",", 1);
        }

        sv_text_int(t, m->terms[i]);
    }

    sv_text_literal(t, "],\"createdAt\":");
    sv_text_int(t, m->now_ms);
    sv_text_add(t, "}", 1);
}


char *
sv_member_encode(const sv_member_t *m, uint64_t id, size_t *len)
{
    sv_text_t  t;

    if (m->email == NULL || m->phone == NULL || m->nickname == NULL
        || m->password_hash == NULL)
    {
        return NULL;
    }

    t.p = NULL;
    t.len = 0;
    sv_member_text(&t, m, id);

    t.p = malloc(t.len + 1);
    if (t.p == NULL) {
        return NULL;
    }

    *len = t.len;
    t.len = 0;
    sv_member_text(&t, m, id);
    t.p[t.len] = '\0';

    return t.p;
}
