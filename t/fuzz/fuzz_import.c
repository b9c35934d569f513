
/*
 * A line of an admin import: sv_import_line() on any bytes, and the
 * member it reads written back by sv_export_line().
 *
 * Invariants: the answer is one of sv_line_rc_t's, with a field exactly
 * for MISSING_FIELD and INVALID_FIELD; a member read is one the store
 * takes (id 1 to SV_STORE_ID_MAX, a valid email, an E.164 phone, a
 * valid nickname, a bcrypt hash, no time before 1970); its export line
 * is one line that reads back to the same member.
 */

#include "fuzz.h"

#include "sv_admin.h"
#include "sv_text.h"


static void
sv_fuzz_same(const sv_member_info_t *a, const sv_member_info_t *b)
{
    size_t  i;

    sv_fuzz_check(a->id == b->id);
    sv_fuzz_check(strcmp(a->email, b->email) == 0);
    sv_fuzz_check(strcmp(a->phone, b->phone) == 0);
    sv_fuzz_check(strcmp(a->nickname, b->nickname) == 0);
    sv_fuzz_check(strcmp(a->password_hash, b->password_hash) == 0);
    sv_fuzz_check(a->created_ms == b->created_ms);
    sv_fuzz_check(a->nterms == b->nterms);

    for (i = 0; i < a->nterms; i++) {
        sv_fuzz_check(a->terms[i] == b->terms[i]);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char              *s, line[SV_EXPORT_LINE_MAX];
    size_t             len;
    const char        *field;
    sv_line_rc_t       rc;
    sv_member_info_t   m, again;

    s = sv_fuzz_bytes(data, size);

    rc = sv_import_line(s, size, &m, &field);

    sv_fuzz_check(rc >= SV_LINE_OK && rc <= SV_LINE_INVALID_NICKNAME);
    sv_fuzz_check((field != NULL) == (rc == SV_LINE_MISSING_FIELD
                                      || rc == SV_LINE_INVALID_FIELD));

    if (rc == SV_LINE_OK) {
        sv_fuzz_check(size <= SV_IMPORT_LINE_MAX);
        sv_fuzz_check(m.id >= 1 && m.id <= SV_STORE_ID_MAX);
        sv_fuzz_check(sv_email_valid(m.email, strlen(m.email)));
        sv_fuzz_check(m.phone[0] == '+' && strlen(m.phone) <= 16);
        sv_fuzz_check(sv_nickname_valid(m.nickname, strlen(m.nickname),
                                        SV_ADMIN_NICKNAME_MAX));
        sv_fuzz_check(sv_admin_hash_valid(m.password_hash,
                                          strlen(m.password_hash)));
        sv_fuzz_check(m.created_ms >= 0);

        len = sv_export_line(&m, 1, line, sizeof(line));
        sv_fuzz_check(len > 0 && line[len - 1] == '\n');
        sv_fuzz_check(memchr(line, '\n', len - 1) == NULL);

        sv_fuzz_check(sv_import_line(line, len - 1, &again, &field)
                      == SV_LINE_OK);
        sv_fuzz_same(&m, &again);
    }

    free(s);

    return 0;
}
