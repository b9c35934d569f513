/*
 * The records' bytes: codes, windows (sends, failed logins), the
 * budget's days, tokens, sessions, ids and members.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

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


/* Purposes: 0 signup, 1 reset; -1 for another byte. */

static uint8_t
sv_purpose_byte(sv_purpose_t purpose)
{
    return purpose == SV_PURPOSE_RESET ? SV_REC_RESET : SV_REC_SIGNUP;
}


static int
sv_purpose_decode(uint8_t b, sv_purpose_t *purpose)
{
    switch (b) {

    case SV_REC_SIGNUP:
        *purpose = SV_PURPOSE_SIGNUP;
        return 0;

    case SV_REC_RESET:
        *purpose = SV_PURPOSE_RESET;
        return 0;

    default:
        return -1;
    }
}


/* Codes. */

void
sv_code_rec_encode(const sv_code_rec_t *rec, uint8_t *p)
{
    p[0] = SV_CODE_REC_VERSION;
    sv_put_le(p + 1, rec->attempts_left, 4);
    sv_put_le(p + 5, (uint64_t) rec->expires_ms, 8);
    p[13] = sv_purpose_byte(rec->purpose);
    memcpy(p + 14, rec->hash, SV_HASH_SIZE);
}


int
sv_code_rec_decode(const uint8_t *p, size_t len, sv_code_rec_t *rec)
{
    if (len == SV_CODE_REC_SIZE_V1 && p[0] == 1) {
        rec->purpose = SV_PURPOSE_SIGNUP;
        memcpy(rec->hash, p + 13, SV_HASH_SIZE);

    } else if (len == SV_CODE_REC_SIZE && p[0] == SV_CODE_REC_VERSION) {
        if (sv_purpose_decode(p[13], &rec->purpose) != 0) {
            return -1;
        }

        memcpy(rec->hash, p + 14, SV_HASH_SIZE);

    } else {
        return -1;
    }

    rec->attempts_left = (uint32_t) sv_get_le(p + 1, 4);
    rec->expires_ms = (int64_t) sv_get_le(p + 5, 8);

    return 0;
}


/* Windows: sends by phone and by address, failed logins. */

size_t
sv_window_rec_encode(const sv_window_rec_t *rec, uint8_t *p)
{
    unsigned  i;

    p[0] = SV_REC_VERSION;
    sv_put_le(p + 1, rec->count, 2);
    sv_put_le(p + 3, (uint64_t) rec->keep_until_ms, 8);

    for (i = 0; i < rec->count; i++) {
        sv_put_le(p + SV_WINDOW_REC_HEAD + 8 * i, (uint64_t) rec->stamps[i], 8);
    }

    return SV_WINDOW_REC_HEAD + 8 * rec->count;
}


int
sv_window_rec_decode(const uint8_t *p, size_t len, sv_window_rec_t *rec)
{
    unsigned  i;

    if (len < SV_WINDOW_REC_HEAD || p[0] != SV_REC_VERSION) {
        return -1;
    }

    rec->count = (unsigned) sv_get_le(p + 1, 2);

    if (rec->count > SV_WINDOW_MAX
        || len != SV_WINDOW_REC_HEAD + 8 * (size_t) rec->count)
    {
        return -1;
    }

    rec->keep_until_ms = (int64_t) sv_get_le(p + 3, 8);

    for (i = 0; i < rec->count; i++) {
        rec->stamps[i] = (int64_t) sv_get_le(p + SV_WINDOW_REC_HEAD + 8 * i, 8);
    }

    return 0;
}


/* Days of the budget. */

void
sv_day_rec_encode(const sv_day_rec_t *rec, uint8_t *p)
{
    p[0] = SV_DAY_REC_VERSION;
    sv_put_le(p + 1, (uint64_t) rec->day, 8);
    sv_put_le(p + 9, rec->sent, 8);
    sv_put_le(p + 17, rec->refused, 8);
}


int
sv_day_rec_decode(const uint8_t *p, size_t len, sv_day_rec_t *rec)
{
    if (len != SV_DAY_REC_SIZE || p[0] != SV_DAY_REC_VERSION) {
        return -1;
    }

    rec->day = (int64_t) sv_get_le(p + 1, 8);
    rec->sent = sv_get_le(p + 9, 8);
    rec->refused = sv_get_le(p + 17, 8);

    return 0;
}


/* Tokens. */

size_t
sv_token_rec_encode(const sv_token_rec_t *rec, uint8_t *p)
{
    p[0] = SV_TOKEN_REC_VERSION;
    sv_put_le(p + 1, (uint64_t) rec->expires_ms, 8);
    p[9] = (uint8_t) rec->failures;
    p[10] = sv_purpose_byte(rec->purpose);
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

    case 2:
        head = SV_TOKEN_REC_HEAD_V2;
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

    rec->purpose = SV_PURPOSE_SIGNUP;

    if (head == SV_TOKEN_REC_HEAD
        && sv_purpose_decode(p[10], &rec->purpose) != 0)
    {
        return -1;
    }

    rec->expires_ms = (int64_t) sv_get_le(p + 1, 8);
    rec->failures = (head >= SV_TOKEN_REC_HEAD_V2) ? p[9] : 0;
    rec->phone_len = len - head;
    memcpy(rec->phone, p + head, rec->phone_len);

    return 0;
}


/* Sessions. */

void
sv_session_rec_encode(const sv_session_rec_t *rec, uint8_t *p)
{
    p[0] = SV_REC_VERSION;
    sv_put_le(p + 1, rec->member_id, 8);
    sv_put_le(p + 9, rec->epoch, 4);
    sv_put_le(p + 13, (uint64_t) rec->created_ms, 8);
    sv_put_le(p + 21, (uint64_t) rec->last_used_ms, 8);
    sv_put_le(p + 29, (uint64_t) rec->expires_ms, 8);
    sv_put_le(p + 37, (uint64_t) rec->idle_ms, 8);
}


int
sv_session_rec_decode(const uint8_t *p, size_t len, sv_session_rec_t *rec)
{
    if (len != SV_SESSION_REC_SIZE || p[0] != SV_REC_VERSION) {
        return -1;
    }

    rec->member_id = sv_get_le(p + 1, 8);
    rec->epoch = (uint32_t) sv_get_le(p + 9, 4);
    rec->created_ms = (int64_t) sv_get_le(p + 13, 8);
    rec->last_used_ms = (int64_t) sv_get_le(p + 21, 8);
    rec->expires_ms = (int64_t) sv_get_le(p + 29, 8);
    rec->idle_ms = (int64_t) sv_get_le(p + 37, 8);

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


/* What the text is made of, a new member's or one read back. */
typedef struct {
    uint64_t            id;
    const char         *email;
    const char         *phone;
    const char         *nickname;
    const char         *password_hash;
    const int          *terms;
    size_t              nterms;
    int64_t             created_ms;
    uint32_t            epoch;
} sv_member_view_t;


static void
sv_member_text(sv_text_t *t, const sv_member_view_t *m)
{
    size_t  i;

    sv_text_literal(t, "{\"id\":");
    sv_text_uint(t, m->id);
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
    sv_text_int(t, m->created_ms);
    sv_text_literal(t, ",\"epoch\":");
    sv_text_uint(t, m->epoch);
    sv_text_add(t, "}", 1);
}


static char *
sv_member_view_encode(const sv_member_view_t *m, size_t *len)
{
    sv_text_t  t;

    t.p = NULL;
    t.len = 0;
    sv_member_text(&t, m);

    t.p = malloc(t.len + 1);
    if (t.p == NULL) {
        return NULL;
    }

    *len = t.len;
    t.len = 0;
    sv_member_text(&t, m);
    t.p[t.len] = '\0';

    return t.p;
}


char *
sv_member_encode(const sv_member_t *m, uint64_t id, size_t *len)
{
    sv_member_view_t  v;

    if (m->email == NULL || m->phone == NULL || m->nickname == NULL
        || m->password_hash == NULL)
    {
        return NULL;
    }

    v.id = id;
    v.email = m->email;
    v.phone = m->phone;
    v.nickname = m->nickname;
    v.password_hash = m->password_hash;
    v.terms = m->terms;
    v.nterms = m->nterms;
    v.created_ms = m->now_ms;
    v.epoch = 0;

    return sv_member_view_encode(&v, len);
}


char *
sv_member_info_encode(const sv_member_info_t *m, size_t *len)
{
    sv_member_view_t  v;

    v.id = m->id;
    v.email = m->email;
    v.phone = m->phone;
    v.nickname = m->nickname;
    v.password_hash = m->password_hash;
    v.terms = m->terms;
    v.nterms = m->nterms;
    v.created_ms = m->created_ms;
    v.epoch = m->epoch;

    return sv_member_view_encode(&v, len);
}


/* A string member into buf of size bytes; -1 if missing or too long. */
static int
sv_json_string(const cJSON *obj, const char *name, char *buf, size_t size)
{
    size_t        n;
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        return -1;
    }

    n = strlen(item->valuestring);

    if (n >= size) {
        return -1;
    }

    memcpy(buf, item->valuestring, n + 1);

    return 0;
}


/* A whole number member in [0, max]; absent is dflt if dflt >= 0. */
static int
sv_json_uint(const cJSON *obj, const char *name, double max, double dflt,
    double *v)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (item == NULL && dflt >= 0) {
        *v = dflt;
        return 0;
    }

    if (!cJSON_IsNumber(item) || item->valuedouble < 0
        || item->valuedouble > max
        || item->valuedouble != (double) (int64_t) item->valuedouble)
    {
        return -1;
    }

    *v = item->valuedouble;

    return 0;
}


static int
sv_json_terms(const cJSON *obj, sv_member_info_t *m)
{
    const cJSON  *arr, *item;

    arr = cJSON_GetObjectItemCaseSensitive(obj, "terms");

    if (!cJSON_IsArray(arr)) {
        return -1;
    }

    m->nterms = 0;

    cJSON_ArrayForEach(item, arr) {
        if (!cJSON_IsNumber(item) || m->nterms == SV_STORE_TERMS_MAX) {
            return -1;
        }

        m->terms[m->nterms++] = item->valueint;
    }

    return 0;
}


static int
sv_member_parse(const char *text, size_t len, sv_member_info_t *m)
{
    int     rc;
    cJSON  *obj;
    double  id, created, epoch;

    obj = cJSON_ParseWithLength(text, len);

    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return -1;
    }

    /* ids and times as cJSON wrote them: doubles, exact below 2^53 */

    rc = sv_json_uint(obj, "id", 9007199254740992.0, -1, &id) != 0
         || sv_json_uint(obj, "createdAt", 9007199254740992.0, -1,
                         &created) != 0
         || sv_json_uint(obj, "epoch", 4294967295.0, 0, &epoch) != 0
         || sv_json_string(obj, "email", m->email, sizeof(m->email)) != 0
         || sv_json_string(obj, "phone", m->phone, sizeof(m->phone)) != 0
         || sv_json_string(obj, "nickname", m->nickname,
                           sizeof(m->nickname)) != 0
         || sv_json_string(obj, "passwordHash", m->password_hash,
                           sizeof(m->password_hash)) != 0
         || sv_json_terms(obj, m) != 0;

    cJSON_Delete(obj);

    if (rc) {
        return -1;
    }

    m->id = (uint64_t) id;
    m->created_ms = (int64_t) created;
    m->epoch = (uint32_t) epoch;

    return 0;
}


/*
 * The members this thread decoded last, by their records' bytes: a guard
 * reads the same few members again and again, and cJSON's parse is most
 * of its cost.  Equal bytes decode to an equal member, so an entry is
 * never stale; a record that changed is decoded anew.
 */
#define SV_MEMBER_MEMO_SLOTS  8
#define SV_MEMBER_MEMO_TEXT   1536     /* the longest member is shorter */

typedef struct {
    size_t            len;              /* 0: empty */
    char              text[SV_MEMBER_MEMO_TEXT];
    sv_member_info_t  m;
} sv_member_memo_t;

static __thread sv_member_memo_t  sv_member_memo[SV_MEMBER_MEMO_SLOTS];


static sv_member_memo_t *
sv_member_memo_slot(const char *text, size_t len)
{
    size_t    i, n;
    uint32_t  h;

    /* the record begins with its id: its first bytes tell members apart */

    n = len < 32 ? len : 32;
    h = 2166136261u ^ (uint32_t) len;

    for (i = 0; i < n; i++) {
        h = (h ^ (uint8_t) text[i]) * 16777619u;
    }

    return &sv_member_memo[h % SV_MEMBER_MEMO_SLOTS];
}


int
sv_member_decode(const char *text, size_t len, sv_member_info_t *m)
{
    sv_member_memo_t  *memo;

    if (len == 0 || len > SV_MEMBER_MEMO_TEXT) {
        return sv_member_parse(text, len, m);
    }

    memo = sv_member_memo_slot(text, len);

    if (memo->len == len && memcmp(memo->text, text, len) == 0) {
        *m = memo->m;
        return 0;
    }

    if (sv_member_parse(text, len, m) != 0) {
        return -1;
    }

    memo->len = len;
    memcpy(memo->text, text, len);
    memo->m = *m;

    return 0;
}


/* The webhook outbox. */

size_t
sv_outbox_rec_encode(const sv_outbox_event_t *ev, uint8_t *p)
{
    size_t  tlen;

    tlen = strlen(ev->type);

    if (strlen(ev->msg_id) != SV_OUTBOX_MSG_ID_MAX
        || tlen > SV_OUTBOX_TYPE_MAX || ev->len > SV_OUTBOX_BODY_MAX)
    {
        return 0;
    }

    p[0] = SV_OUTBOX_REC_VERSION;
    sv_put_le(p + 1, ev->attempts, 4);
    sv_put_le(p + 5, (uint64_t) ev->created_ms, 8);
    sv_put_le(p + 13, (uint64_t) ev->next_ms, 8);
    memcpy(p + 21, ev->msg_id, SV_OUTBOX_MSG_ID_MAX);
    p[SV_OUTBOX_REC_HEAD - 1] = (uint8_t) tlen;
    memcpy(p + SV_OUTBOX_REC_HEAD, ev->type, tlen);
    memcpy(p + SV_OUTBOX_REC_HEAD + tlen, ev->body, ev->len);

    return SV_OUTBOX_REC_HEAD + tlen + ev->len;
}


int
sv_outbox_rec_decode(const uint8_t *p, size_t len, sv_outbox_event_t *ev)
{
    size_t  tlen;

    if (len < SV_OUTBOX_REC_HEAD || p[0] != SV_OUTBOX_REC_VERSION) {
        return -1;
    }

    tlen = p[SV_OUTBOX_REC_HEAD - 1];

    if (tlen > SV_OUTBOX_TYPE_MAX || len < SV_OUTBOX_REC_HEAD + tlen
        || len - SV_OUTBOX_REC_HEAD - tlen > SV_OUTBOX_BODY_MAX)
    {
        return -1;
    }

    ev->attempts = (unsigned) sv_get_le(p + 1, 4);
    ev->created_ms = (int64_t) sv_get_le(p + 5, 8);
    ev->next_ms = (int64_t) sv_get_le(p + 13, 8);
    memcpy(ev->msg_id, p + 21, SV_OUTBOX_MSG_ID_MAX);
    ev->msg_id[SV_OUTBOX_MSG_ID_MAX] = '\0';
    memcpy(ev->type, p + SV_OUTBOX_REC_HEAD, tlen);
    ev->type[tlen] = '\0';
    ev->len = len - SV_OUTBOX_REC_HEAD - tlen;
    memcpy(ev->body, p + SV_OUTBOX_REC_HEAD + tlen, ev->len);
    ev->body[ev->len] = '\0';

    return 0;
}


void
sv_lease_rec_encode(const sv_lease_rec_t *rec, uint8_t *p)
{
    p[0] = SV_LEASE_REC_VERSION;
    sv_put_le(p + 1, rec->id, 8);
    sv_put_le(p + 9, (uint64_t) rec->until_ms, 8);
    sv_put_le(p + 17, rec->pid, 4);
}


int
sv_lease_rec_decode(const uint8_t *p, size_t len, sv_lease_rec_t *rec)
{
    if (len != SV_LEASE_REC_SIZE || p[0] != SV_LEASE_REC_VERSION) {
        return -1;
    }

    rec->id = sv_get_le(p + 1, 8);
    rec->until_ms = (int64_t) sv_get_le(p + 9, 8);
    rec->pid = (uint32_t) sv_get_le(p + 17, 4);

    return 0;
}
