/*
 * Standard Webhooks: the secret's key, the signature (the specification's
 * own example), the body, and posts to t/mock/webhook_receiver.py, which
 * verifies them with Python's hmac: two implementations agree.  SV_HOOK
 * names the receiver if not run from the repository's top directory.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "sv_http.h"
#include "sv_provider.h"
#include "sv_webhook.h"

#define HOOK_DEFAULT  "t/mock/webhook_receiver.py"
#define PYTHON        "/usr/bin/python3"

/* the specification's example secret, id, timestamp and payload */
#define SPEC_SECRET   "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SPEC_ID       "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SPEC_TS       1614265330
#define SPEC_BODY     "{\"test\": 2432232314}"
#define SPEC_SIG      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


static pid_t  hook_pid = -1;
static char   hook_url[64], control_url[64];


static int
hook_start(void)
{
    int            fds[2], port, control;
    char           line[128];
    size_t         n;
    ssize_t        r;
    struct pollfd  pfd;
    const char    *path;

    path = getenv("SV_HOOK");
    if (path == NULL) {
        path = HOOK_DEFAULT;
    }

    if (pipe(fds) != 0) {
        return -1;
    }

    hook_pid = fork();
    if (hook_pid < 0) {
        return -1;
    }

    if (hook_pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(PYTHON, PYTHON, path, "--port", "0", "--control-port", "0",
              "--secret", SPEC_SECRET, (char *) NULL);
        _exit(127);
    }

    close(fds[1]);

    n = 0;
    pfd.fd = fds[0];
    pfd.events = POLLIN;

    while (n < sizeof(line) - 1 && memchr(line, '\n', n) == NULL) {
        if (poll(&pfd, 1, 10000) != 1) {
            break;
        }

        r = read(fds[0], line + n, sizeof(line) - 1 - n);
        if (r <= 0) {
            break;
        }

        n += r;
    }

    close(fds[0]);
    line[n] = '\0';

    if (sscanf(line, "ready %d %d", &port, &control) != 2) {
        fprintf(stderr, "webhook_receiver.py did not start: \"%s\"\n", line);
        return -1;
    }

    snprintf(hook_url, sizeof(hook_url), "http://127.0.0.1:%d/hooks", port);
    snprintf(control_url, sizeof(control_url), "http://127.0.0.1:%d",
             control);

    return 0;
}


static size_t
collect(char *data, size_t size, size_t n, void *ctx)
{
    sv_http_response_t  *resp = ctx;
    size_t               room;

    room = SV_HTTP_BODY_MAX - resp->len;
    if (room > size * n) {
        room = size * n;
    }

    memcpy(resp->body + resp->len, data, room);
    resp->len += room;

    return size * n;
}


static cJSON *
control(const char *path, const char *body)
{
    CURL                *h;
    char                 url[128];
    cJSON               *json;
    sv_http_response_t  *resp;

    resp = calloc(1, sizeof(*resp));
    assert_non_null(resp);

    snprintf(url, sizeof(url), "%s%s", control_url, path);

    h = curl_easy_init();
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);

    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }

    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);

    json = cJSON_ParseWithLength(resp->body, resp->len);
    free(resp);
    assert_non_null(json);

    return json;
}


static int
group_setup(void **state)
{
    (void) state;

    if (sv_provider_init() != 0) {
        return -1;
    }

    return hook_start();
}


static int
group_teardown(void **state)
{
    int  status;

    (void) state;

    if (hook_pid > 0) {
        kill(hook_pid, SIGTERM);
        waitpid(hook_pid, &status, 0);
    }

    sv_provider_cleanup();

    return 0;
}


static int
reset_hook(void **state)
{
    (void) state;

    cJSON_Delete(control("/reset", "{}"));

    return 0;
}


/* the key */

static void
test_key(void **state)
{
    char     err[128];
    size_t   len;
    uint8_t  key[SV_WEBHOOK_KEY_MAX];

    (void) state;

    assert_int_equal(sv_webhook_key(SPEC_SECRET, key, &len, err,
                                    sizeof(err)), 0);
    assert_int_equal(len, 24);
    assert_int_equal(key[0], 0x31);
    assert_int_equal(key[23], 0xb0);

    /* padded or not, the same bytes */
    assert_int_equal(sv_webhook_key("whsec_AAE=", key, &len, err,
                                    sizeof(err)), 0);
    assert_int_equal(len, 2);
    assert_int_equal(key[1], 0x01);
    assert_int_equal(sv_webhook_key("whsec_AAE", key, &len, err,
                                    sizeof(err)), 0);
    assert_int_equal(len, 2);

    assert_int_equal(sv_webhook_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key,
                                    &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "whsec_"));
    assert_int_equal(sv_webhook_key("whsec_", key, &len, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(sv_webhook_key("whsec_==", key, &len, err,
                                    sizeof(err)), -1);

    assert_int_equal(sv_webhook_key("whsec_Mf*Q", key, &len, err,
                                    sizeof(err)), -1);
    assert_non_null(strstr(err, "base64"));
    assert_int_equal(sv_webhook_key("whsec_MfKQ9", key, &len, err,
                                    sizeof(err)), -1);
    assert_int_equal(sv_webhook_key("whsec_AAE==", key, &len, err,
                                    sizeof(err)), -1);
    assert_int_equal(sv_webhook_key("whsec_AA=E", key, &len, err,
                                    sizeof(err)), -1);
    assert_int_equal(sv_webhook_key("whsec_MfKQ 9r8G", key, &len, err,
                                    sizeof(err)), -1);

    /* never the secret in the error */
    assert_null(strstr(err, "MfKQ"));
}


static void
test_key_too_long(void **state)
{
    char     text[6 + 4 * (SV_WEBHOOK_KEY_MAX / 3 + 2) + 1], err[128];
    size_t   len;
    uint8_t  key[SV_WEBHOOK_KEY_MAX];

    (void) state;

    memcpy(text, "whsec_", 6);
    memset(text + 6, 'A', sizeof(text) - 7);
    text[sizeof(text) - 1] = '\0';

    assert_int_equal(sv_webhook_key(text, key, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer"));

    /* the longest key taken: SV_WEBHOOK_KEY_MAX bytes, 256 = 85 * 3 + 1 */
    text[6 + 4 * 85 + 2] = '\0';
    assert_int_equal(sv_webhook_key(text, key, &len, err, sizeof(err)), 0);
    assert_int_equal(len, SV_WEBHOOK_KEY_MAX);
}


static void
test_url(void **state)
{
    (void) state;

    assert_true(sv_webhook_url_ok("https://app.example.com/hooks/members"));
    assert_true(sv_webhook_url_ok("http://127.0.0.1:8080/"));
    assert_false(sv_webhook_url_ok("ftp://app.example.com/"));
    assert_false(sv_webhook_url_ok("https://"));
    assert_false(sv_webhook_url_ok("https:///path"));
    assert_false(sv_webhook_url_ok("app.example.com/hooks"));
    assert_false(sv_webhook_url_ok("https://app.example.com/a b"));
    assert_false(sv_webhook_url_ok("HTTPS://app.example.com/"));
}


/* the specification's example, byte for byte */
static void
test_sign(void **state)
{
    char     err[128], sig[SV_WEBHOOK_SIG_SIZE];
    size_t   len;
    uint8_t  key[SV_WEBHOOK_KEY_MAX];

    (void) state;

    assert_int_equal(sv_webhook_key(SPEC_SECRET, key, &len, err,
                                    sizeof(err)), 0);

    sv_webhook_sign(key, len, SPEC_ID, SPEC_TS, SPEC_BODY,
                    sizeof(SPEC_BODY) - 1, sig);
    assert_string_equal(sig, SPEC_SIG);

    /* another timestamp, another signature */
    sv_webhook_sign(key, len, SPEC_ID, SPEC_TS + 1, SPEC_BODY,
                    sizeof(SPEC_BODY) - 1, sig);
    assert_string_not_equal(sig, SPEC_SIG);
}


static void
test_body_and_id(void **state)
{
    char               a[SV_OUTBOX_MSG_ID_MAX + 1], b[SV_OUTBOX_MSG_ID_MAX + 1];
    char               body[SV_OUTBOX_BODY_MAX + 1];
    size_t             i, len;
    cJSON             *j;
    sv_member_info_t   m;

    (void) state;

    memset(&m, 0, sizeof(m));
    m.id = 17;
    strcpy(m.email, "kim\"q@example.com");
    strcpy(m.phone, "+821012345678");
    strcpy(m.nickname, "\xea\xb9\x80");
    strcpy(m.password_hash, "$2b$12$secret");
    m.terms[0] = 1;
    m.terms[1] = 2;
    m.nterms = 2;
    m.created_ms = 1764565200000LL;

    len = sv_webhook_body("member.created", 1764565201000LL, &m, body);
    assert_true(len > 0);
    assert_int_equal(len, strlen(body));
    assert_null(strstr(body, "$2b$"));
    assert_memory_equal(body, "{\"type\":\"member.created\","
                        "\"timestamp\":\"2025-12-01T05:00:01Z\",\"data\":{",
                        sizeof("{\"type\":\"member.created\","
                               "\"timestamp\":\"2025-12-01T05:00:01Z\","
                               "\"data\":{") - 1);

    j = cJSON_ParseWithLength(body, len);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"),
                                            "email")->valuestring,
                        "kim\"q@example.com");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"),
                                            "createdAt")->valuestring,
                        "2025-12-01T05:00:00Z");
    cJSON_Delete(j);

    assert_int_equal(sv_webhook_msg_id(a), 0);
    assert_int_equal(sv_webhook_msg_id(b), 0);
    assert_int_equal(strlen(a), SV_OUTBOX_MSG_ID_MAX);
    assert_memory_equal(a, "msg_", 4);
    for (i = 4; i < SV_OUTBOX_MSG_ID_MAX; i++) {
        assert_non_null(strchr("0123456789abcdef", a[i]));
    }
    assert_string_not_equal(a, b);
}


/* posts, verified by the receiver */

static sv_outbox_event_t *
event(void)
{
    sv_outbox_event_t  *ev;

    ev = calloc(1, sizeof(*ev));
    assert_non_null(ev);

    strcpy(ev->msg_id, "msg_00112233445566778899aabbccddeeff");
    strcpy(ev->type, "member.created");
    strcpy(ev->body, "{\"type\":\"member.created\",\"data\":{}}");
    ev->len = strlen(ev->body);

    return ev;
}


static cJSON *
received(void)
{
    return control("/received", NULL);
}


static void
test_post_verified(void **state)
{
    long                status;
    char                err[256];
    size_t              len;
    uint8_t             key[SV_WEBHOOK_KEY_MAX];
    cJSON              *r, *one;
    sv_outbox_event_t  *ev;
    sv_webhook_conf_t   conf;

    (void) state;

    assert_int_equal(sv_webhook_key(SPEC_SECRET, key, &len, err,
                                    sizeof(err)), 0);

    conf.url = hook_url;
    conf.key = key;
    conf.key_len = len;
    conf.timeout_ms = 5000;

    ev = event();

    assert_int_equal(sv_webhook_post(&conf, ev, time(NULL), &status, err,
                                     sizeof(err)), 0);
    assert_int_equal(status, 204);

    /* again: a duplicate, answered as the first */
    assert_int_equal(sv_webhook_post(&conf, ev, time(NULL), &status, err,
                                     sizeof(err)), 0);

    r = received();
    assert_int_equal(cJSON_GetArraySize(r), 2);
    one = cJSON_GetArrayItem(r, 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(one, "verified")));
    assert_string_equal(cJSON_GetObjectItem(one, "id")->valuestring,
                        ev->msg_id);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(r, 1),
                                                 "duplicate")));
    cJSON_Delete(r);

    /* an old timestamp: outside the receiver's tolerance */
    strcpy(ev->msg_id, "msg_ffeeddccbbaa99887766554433221100");
    assert_int_equal(sv_webhook_post(&conf, ev, time(NULL) - 600, &status,
                                     err, sizeof(err)), -1);
    assert_int_equal(status, 400);
    assert_string_equal(err, "the receiver answered 400");

    /* another key: refused */
    key[0] ^= 1;
    assert_int_equal(sv_webhook_post(&conf, ev, time(NULL), &status, err,
                                     sizeof(err)), -1);
    assert_int_equal(status, 401);

    free(ev);
}


static void
test_post_failures(void **state)
{
    long                status;
    char                err[256];
    size_t              len;
    uint8_t             key[SV_WEBHOOK_KEY_MAX];
    cJSON              *r;
    struct timespec     t0, t1;
    sv_outbox_event_t  *ev;
    sv_webhook_conf_t   conf;

    (void) state;

    assert_int_equal(sv_webhook_key(SPEC_SECRET, key, &len, err,
                                    sizeof(err)), 0);

    conf.url = hook_url;
    conf.key = key;
    conf.key_len = len;
    conf.timeout_ms = 500;

    ev = event();

    /* a 2xx only delivers: 500, and a 3xx is not followed */
    cJSON_Delete(control("/behaviour", "{\"mode\":\"status\",\"status\":500,"
                                       "\"count\":1}"));
    assert_int_equal(sv_webhook_post(&conf, ev, time(NULL), &status, err,
                                     sizeof(err)), -1);
    assert_int_equal(status, 500);

    cJSON_Delete(control("/behaviour", "{\"mode\":\"status\",\"status\":302,"
                                       "\"count\":1}"));
    assert_int_equal(sv_webhook_post(&conf, ev, time(NULL), &status, err,
                                     sizeof(err)), -1);
    assert_int_equal(status, 302);

    /* no answer within the timeout */
    cJSON_Delete(control("/behaviour", "{\"mode\":\"hang\",\"count\":1}"));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(sv_webhook_post(&conf, ev, time(NULL), &status, err,
                                     sizeof(err)), -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(status, 0);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000
                + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000);

    /* and then it takes it, under the same id */
    assert_int_equal(sv_webhook_post(&conf, ev, time(NULL), &status, err,
                                     sizeof(err)), 0);

    r = received();
    assert_int_equal(cJSON_GetArraySize(r), 4);
    cJSON_Delete(r);

    /* nobody listens */
    conf.url = "http://127.0.0.1:1/hooks";
    assert_int_equal(sv_webhook_post(&conf, ev, time(NULL), &status, err,
                                     sizeof(err)), -1);
    assert_int_equal(status, 0);
    assert_true(err[0] != '\0');

    free(ev);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_key_too_long),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_sign),
        cmocka_unit_test(test_body_and_id),
        cmocka_unit_test_setup(test_post_verified, reset_hook),
        cmocka_unit_test_setup(test_post_failures, reset_hook),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
