/*
 * The providers against t/mock/sms_mock.py, started on a loopback port for
 * the whole run.  SV_MOCK names the mock if not run from the repository's
 * top directory.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "sv_escape.h"
#include "sv_http.h"
#include "sv_provider.h"

#define MOCK_DEFAULT   "t/mock/sms_mock.py"
#define PYTHON         "/usr/bin/python3"

#define SENS_SERVICE   "ncp:sms:kr:123456789012:smsverify"
#define SENS_ACCESS    "AKIAMOCKACCESSKEY01"
#define SENS_SECRET    "sens-secret-0123456789abcdef"
#define SENS_FROM      "0212345678"
#define CAFE24_USER    "myshop"
#define CAFE24_SECURE  "cafe24-secure-fedcba9876543210"
#define CAFE24_FROM    "070-1234-5678"

#define PHONE          "+821012345678"
#define CODE           "482913"
#define TEXT           "[MyShop] 인증번호 [" CODE "]를 입력해주세요."


static pid_t  mock_pid = -1;
static char   mock_url[64];


/* the mock */

static int
mock_start(void)
{
    int             fds[2];
    char            line[64];
    size_t          n;
    ssize_t         r;
    struct pollfd   pfd;
    const char     *path;

    path = getenv("SV_MOCK");
    if (path == NULL) {
        path = MOCK_DEFAULT;
    }

    if (pipe(fds) != 0) {
        return -1;
    }

    mock_pid = fork();
    if (mock_pid < 0) {
        return -1;
    }

    if (mock_pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(PYTHON, PYTHON, path, "--port", "0",
              "--sens-service-id", SENS_SERVICE,
              "--sens-access-key", SENS_ACCESS,
              "--sens-secret-key", SENS_SECRET,
              "--cafe24-user-id", CAFE24_USER,
              "--cafe24-secure-key", CAFE24_SECURE, (char *) NULL);
        _exit(127);
    }

    close(fds[1]);

    /* "ready <port>\n", within 10 s */
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

    if (strncmp(line, "ready ", 6) != 0) {
        fprintf(stderr, "sms_mock.py did not start: \"%s\"\n", line);
        return -1;
    }

    snprintf(mock_url, sizeof(mock_url), "http://127.0.0.1:%d",
             atoi(line + 6));

    return 0;
}


static void
mock_stop(void)
{
    int  status;

    if (mock_pid > 0) {
        kill(mock_pid, SIGTERM);
        waitpid(mock_pid, &status, 0);
        mock_pid = -1;
    }
}


/* the control API's answer, grown as it comes: the lists can be long */
typedef struct {
    char    *data;
    size_t   len;
} mock_answer_t;


static size_t
mock_collect(char *data, size_t size, size_t n, void *ctx)
{
    char           *grown;
    mock_answer_t  *a;

    a = ctx;

    grown = realloc(a->data, a->len + size * n + 1);
    if (grown == NULL) {
        return 0;
    }

    memcpy(grown + a->len, data, size * n);
    a->data = grown;
    a->len += size * n;

    return size * n;
}


static cJSON *
mock_call(const char *path, const char *body)
{
    CURL           *h;
    CURLcode        rc;
    char            url[128];
    cJSON          *json;
    mock_answer_t   a = { NULL, 0 };

    snprintf(url, sizeof(url), "%s%s", mock_url, path);

    h = curl_easy_init();
    assert_non_null(h);

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mock_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);

    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }

    rc = curl_easy_perform(h);
    curl_easy_cleanup(h);

    assert_int_equal(rc, CURLE_OK);

    json = cJSON_ParseWithLength(a.data, a.len);
    free(a.data);
    assert_non_null(json);

    return json;
}


static void
mock_behave(const char *provider, const char *mode)
{
    char  body[128];

    snprintf(body, sizeof(body), "{\"provider\":\"%s\",\"mode\":\"%s\"}",
             provider, mode);
    cJSON_Delete(mock_call("/__mock/behaviour", body));
}


static cJSON *
mock_messages(void)
{
    cJSON  *list;

    list = mock_call("/__mock/messages", NULL);
    assert_true(cJSON_IsArray(list));

    return list;
}


/* every request a provider got, accepted or not */
static cJSON *
mock_requests(void)
{
    cJSON  *list;

    list = mock_call("/__mock/requests", NULL);
    assert_true(cJSON_IsArray(list));

    return list;
}


static const char *
field(const cJSON *message, const char *name)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(message, name);
    assert_true(cJSON_IsString(item));

    return item->valuestring;
}


static double
field_number(const cJSON *message, const char *name)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(message, name);
    assert_true(cJSON_IsNumber(item));

    return item->valuedouble;
}


/* providers as nginx.conf would give them */

static sv_provider_t
sens(void)
{
    sv_provider_t  p;

    memset(&p, 0, sizeof(p));
    p.type = SV_PROVIDER_SENS;
    p.url = mock_url;
    p.timeout_ms = 5000;
    p.service_id = SENS_SERVICE;
    p.access_key = SENS_ACCESS;
    p.secret_key = SENS_SECRET;
    p.from = SENS_FROM;

    return p;
}


static sv_provider_t
cafe24(void)
{
    sv_provider_t  p;

    memset(&p, 0, sizeof(p));
    p.type = SV_PROVIDER_CAFE24;
    p.url = mock_url;
    p.timeout_ms = 5000;
    p.user_id = CAFE24_USER;
    p.secure_key = CAFE24_SECURE;
    p.from = CAFE24_FROM;

    return p;
}


static int
send_to(const sv_provider_t *p, const char *phone, const char *text,
    char *err, size_t errlen)
{
    sv_sms_t  sms;

    sms.phone = phone;
    sms.text = text;
    sms.len = strlen(text);

    return sv_provider_send(p, &sms, err, errlen);
}


static int
send_one(const sv_provider_t *p, char *err, size_t errlen)
{
    return send_to(p, PHONE, TEXT, err, errlen);
}


static void
assert_no_secrets(const char *err)
{
    assert_null(strstr(err, SENS_SECRET));
    assert_null(strstr(err, CAFE24_SECURE));
    assert_null(strstr(err, CODE));
}


static long
elapsed_ms(const struct timespec *since)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (now.tv_sec - since->tv_sec) * 1000
           + (now.tv_nsec - since->tv_nsec) / 1000000;
}


/* a loopback port nothing listens on */
static int
closed_port(void)
{
    int                 s, port;
    socklen_t           len;
    struct sockaddr_in  sin;

    s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sin);

    assert_int_equal(bind(s, (struct sockaddr *) &sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *) &sin, &len), 0);
    port = ntohs(sin.sin_port);
    close(s);

    return port;
}


/* fixtures */

static int
group_setup(void **state)
{
    (void) state;

    if (sv_provider_init() != 0) {
        return -1;
    }

    return mock_start();
}


static int
group_teardown(void **state)
{
    (void) state;

    mock_stop();
    sv_provider_cleanup();

    return 0;
}


static int
reset_mock(void **state)
{
    (void) state;

    cJSON_Delete(mock_call("/__mock/reset", "{}"));

    return 0;
}


/* the tests */

static void
test_names(void **state)
{
    (void) state;

    assert_string_equal(sv_provider_name(SV_PROVIDER_LOG), "log");
    assert_string_equal(sv_provider_name(SV_PROVIDER_SENS), "sens");
    assert_string_equal(sv_provider_name(SV_PROVIDER_CAFE24), "cafe24");
    assert_string_equal(sv_provider_name(SV_PROVIDER_NTYPES), "unknown");
}


static void
test_sens_success(void **state)
{
    char            err[256];
    cJSON          *list, *m;
    sv_provider_t   p;

    (void) state;

    p = sens();
    assert_int_equal(send_one(&p, err, sizeof(err)), 0);

    list = mock_messages();
    assert_int_equal(cJSON_GetArraySize(list), 1);

    m = cJSON_GetArrayItem(list, 0);
    assert_string_equal(field(m, "provider"), "sens");
    assert_string_equal(field(m, "to"), "01012345678");
    assert_string_equal(field(m, "countryCode"), "82");
    assert_string_equal(field(m, "from"), SENS_FROM);
    assert_string_equal(field(m, "text"), TEXT);
    assert_string_equal(field(m, "type"), "SMS");
    assert_string_equal(field(m, "contentType"), "COMM");

    cJSON_Delete(list);
}


static void
test_sens_abroad(void **state)
{
    char            err[256];
    cJSON          *list, *m;
    sv_provider_t   p;

    (void) state;

    p = sens();
    assert_int_equal(send_to(&p, "+14155550123", "code 1234", err,
                             sizeof(err)), 0);

    list = mock_messages();
    m = cJSON_GetArrayItem(list, 0);
    assert_non_null(m);
    assert_string_equal(field(m, "to"), "4155550123");
    assert_string_equal(field(m, "countryCode"), "1");

    cJSON_Delete(list);
}


/* +1 and +44 as typed with a Korean-looking national part, and as usual */
static void
test_sens_abroad_numbers(void **state)
{
    size_t          i;
    char            err[256];
    cJSON          *list, *m;
    sv_provider_t   p;

    static const struct {
        const char  *phone, *cc, *to;
    } cases[] = {
        { "+101055556666", "1", "01055556666" },
        { "+4401055556666", "44", "01055556666" },
        { "+447911123456", "44", "7911123456" },
        { "+821055556666", "82", "01055556666" },
    };

    (void) state;

    p = sens();

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(send_to(&p, cases[i].phone, "code 1234", err,
                                 sizeof(err)), SV_PROVIDER_ACCEPTED);
    }

    list = mock_messages();
    assert_int_equal(cJSON_GetArraySize(list), 4);

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        m = cJSON_GetArrayItem(list, (int) i);
        assert_string_equal(field(m, "countryCode"), cases[i].cc);
        assert_string_equal(field(m, "to"), cases[i].to);
    }

    cJSON_Delete(list);
}


/* Cafe24 sends within Korea: a number abroad is skipped, never sent */
static void
test_cafe24_abroad(void **state)
{
    size_t          i;
    char            err[256];
    cJSON          *list, *m;
    sv_provider_t   p;

    static const char  *abroad[] = {
        "+101055556666", "+4401055556666", "+14155550123", "+447911123456",
        "+8612345678901",
    };

    (void) state;

    p = cafe24();

    for (i = 0; i < sizeof(abroad) / sizeof(abroad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(send_to(&p, abroad[i], TEXT, err, sizeof(err)),
                         SV_PROVIDER_SKIPPED);
        assert_non_null(strstr(err, "cafe24: sends within Korea"));
    }

    list = mock_requests();
    assert_int_equal(cJSON_GetArraySize(list), 0);
    cJSON_Delete(list);

    /* a Korean number still goes */
    assert_int_equal(send_to(&p, "+821055556666", TEXT, err, sizeof(err)),
                     SV_PROVIDER_ACCEPTED);

    list = mock_requests();
    assert_int_equal(cJSON_GetArraySize(list), 1);
    m = cJSON_GetArrayItem(list, 0);
    assert_string_equal(field(m, "to"), "010-5555-6666");
    cJSON_Delete(list);
}


static void
test_serves(void **state)
{
    sv_provider_t  p;

    (void) state;

    memset(&p, 0, sizeof(p));

    p.type = SV_PROVIDER_CAFE24;
    assert_true(sv_provider_serves(&p, "+821012345678"));
    assert_false(sv_provider_serves(&p, "+14155550123"));
    assert_false(sv_provider_serves(&p, "+4401055556666"));
    assert_false(sv_provider_serves(&p, "+8"));
    assert_false(sv_provider_serves(&p, "+82"));
    assert_false(sv_provider_serves(&p, "01012345678"));
    assert_false(sv_provider_serves(&p, ""));

    p.type = SV_PROVIDER_SENS;
    assert_true(sv_provider_serves(&p, "+821012345678"));
    assert_true(sv_provider_serves(&p, "+14155550123"));

    p.type = SV_PROVIDER_LOG;
    assert_true(sv_provider_serves(&p, "+4401055556666"));
}


static void
test_sens_escapes_text(void **state)
{
    char            err[256];
    cJSON          *list, *m;
    const char     *text;
    sv_provider_t   p;

    (void) state;

    text = "a \"quoted\" \\ line\nand a tab\t";

    p = sens();
    assert_int_equal(send_to(&p, PHONE, text, err, sizeof(err)), 0);

    list = mock_messages();
    m = cJSON_GetArrayItem(list, 0);
    assert_non_null(m);
    assert_string_equal(field(m, "text"), text);

    cJSON_Delete(list);
}


/* the body is printed into a buffer of our own: the worst case fits */
static void
test_sens_escapes_all(void **state)
{
    char            err[256], text[301];
    cJSON          *list, *m;
    sv_provider_t   p;

    (void) state;

    /* every byte a control character: \u0001, six bytes each */
    memset(text, 0x01, sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';

    p = sens();
    assert_int_equal(send_to(&p, PHONE, text, err, sizeof(err)),
                     SV_PROVIDER_ACCEPTED);

    list = mock_messages();
    m = cJSON_GetArrayItem(list, 0);
    assert_non_null(m);
    assert_string_equal(field(m, "text"), text);

    cJSON_Delete(list);
}


static void
test_cafe24_success(void **state)
{
    char            err[256];
    cJSON          *list, *m;
    sv_provider_t   p;

    (void) state;

    p = cafe24();
    assert_int_equal(send_one(&p, err, sizeof(err)), 0);

    list = mock_messages();
    assert_int_equal(cJSON_GetArraySize(list), 1);

    m = cJSON_GetArrayItem(list, 0);
    assert_string_equal(field(m, "provider"), "cafe24");
    assert_string_equal(field(m, "to"), "010-1234-5678");
    assert_string_equal(field(m, "from"), CAFE24_FROM);
    assert_string_equal(field(m, "text"), TEXT);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(m, "testflag")));

    cJSON_Delete(list);
}


static void
test_cafe24_testflag(void **state)
{
    char            err[256];
    cJSON          *list, *m;
    sv_provider_t   p;

    (void) state;

    p = cafe24();
    p.testflag = 1;
    assert_int_equal(send_one(&p, err, sizeof(err)), 0);

    list = mock_messages();
    m = cJSON_GetArrayItem(list, 0);
    assert_non_null(m);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(m, "testflag")));
    assert_string_equal(field(m, "text"), TEXT);

    cJSON_Delete(list);
}


static void
test_cafe24_numbers(void **state)
{
    char            err[256];
    cJSON          *list, *m;
    sv_provider_t   p;

    (void) state;

    /* a two-part sender and an old 10-digit mobile */
    p = cafe24();
    p.from = "1588-0000";
    assert_int_equal(send_to(&p, "+82111234567", TEXT, err, sizeof(err)),
                     0);

    list = mock_messages();
    m = cJSON_GetArrayItem(list, 0);
    assert_non_null(m);
    assert_string_equal(field(m, "from"), "1588-0000");
    assert_string_equal(field(m, "to"), "011-123-4567");

    cJSON_Delete(list);

    p.from = "07012345678";
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "sender number"));
}


static void
test_sens_wrong_secret(void **state)
{
    char            err[256];
    cJSON          *list;
    sv_provider_t   p;

    (void) state;

    p = sens();
    p.secret_key = "not-the-secret-key-at-all";
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    assert_string_equal(err, "sens answered 401: \"Authentication Failed\"");
    assert_no_secrets(err);
    assert_null(strstr(err, p.secret_key));

    list = mock_messages();
    assert_int_equal(cJSON_GetArraySize(list), 0);
    cJSON_Delete(list);
}


static void
test_cafe24_wrong_key(void **state)
{
    char            err[256];
    sv_provider_t   p;

    (void) state;

    p = cafe24();
    p.secure_key = "not-the-secure-key";
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    assert_string_equal(err, "cafe24 answered \"-102\"");
    assert_no_secrets(err);
    assert_null(strstr(err, p.secure_key));
}


static void
test_http500(void **state)
{
    char            err[256];
    sv_provider_t   p;

    (void) state;

    mock_behave("sens", "http500");
    p = sens();
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    assert_string_equal(err, "sens answered 500: \"Unexpected Error\"");

    mock_behave("cafe24", "http500");
    p = cafe24();
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    assert_string_equal(err, "cafe24: HTTP 500");
}


static void
test_http400(void **state)
{
    char            err[256];
    sv_provider_t   p;

    (void) state;

    mock_behave("sens", "http400");
    p = sens();
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    assert_string_equal(err, "sens answered 400: \"Bad Request Exception\"");
}


static void
test_garbage(void **state)
{
    char            err[256];
    sv_provider_t   p;

    (void) state;

    mock_behave("sens", "garbage");
    p = sens();
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    assert_string_equal(err,
        "sens answered 202: \"<html><body>garbage</body></html>\"");

    mock_behave("cafe24", "garbage");
    p = cafe24();
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    assert_string_equal(err,
        "cafe24 answered \"\\x00\\x01garbage\\xff\"");
}


static void
test_badstatus(void **state)
{
    char            err[256];
    sv_provider_t   p;

    (void) state;

    mock_behave("sens", "badstatus");
    p = sens();
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    assert_string_equal(err, "sens answered 202: \"fail\"");

    mock_behave("cafe24", "badstatus");
    p = cafe24();
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    assert_string_equal(err, "cafe24 answered \"-100\"");
}


static void
test_refused(void **state)
{
    char            err[256], url[64];
    sv_provider_t   p;

    (void) state;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());

    p = sens();
    p.url = url;
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    assert_memory_equal(err, "sens: ", 6);
    assert_no_secrets(err);

    p = cafe24();
    p.url = url;
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    assert_memory_equal(err, "cafe24: ", 8);
    assert_no_secrets(err);
}


static void
test_timeout(void **state)
{
    char             err[256];
    long             ms;
    sv_provider_t    p;
    struct timespec  start;

    (void) state;

    mock_behave("sens", "hang");
    p = sens();
    p.timeout_ms = 300;

    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    ms = elapsed_ms(&start);

    assert_true(ms >= 250 && ms < 1000);
    assert_memory_equal(err, "sens: ", 6);
    assert_non_null(strstr(err, "imed out"));

    mock_behave("cafe24", "hang");
    p = cafe24();
    p.timeout_ms = 300;

    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(send_one(&p, err, sizeof(err)), -1);
    ms = elapsed_ms(&start);

    assert_true(ms >= 250 && ms < 1000);
    assert_memory_equal(err, "cafe24: ", 8);
}


static void
test_slow(void **state)
{
    char             err[256];
    long             ms;
    sv_provider_t    p;
    struct timespec  start;

    (void) state;

    cJSON_Delete(mock_call("/__mock/behaviour",
                           "{\"provider\":\"cafe24\",\"mode\":\"ok\","
                           "\"delay_ms\":400,\"count\":1}"));
    p = cafe24();

    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(send_one(&p, err, sizeof(err)), 0);
    assert_true(elapsed_ms(&start) >= 400);

    /* count 1: the next one is prompt again */
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(send_one(&p, err, sizeof(err)), 0);
    ms = elapsed_ms(&start);
    assert_true(ms < 400);
}


static void
test_keepalive(void **state)
{
    char            err[256];
    cJSON          *list;
    sv_provider_t   p;

    (void) state;

    p = sens();
    assert_int_equal(send_one(&p, err, sizeof(err)), 0);
    assert_int_equal(send_one(&p, err, sizeof(err)), 0);

    list = mock_messages();
    assert_int_equal(cJSON_GetArraySize(list), 2);

    /* the same client port: the second call reused the connection */
    assert_true(field_number(cJSON_GetArrayItem(list, 0), "conn")
                == field_number(cJSON_GetArrayItem(list, 1), "conn"));

    cJSON_Delete(list);
}


static void *
send_in_thread(void *arg)
{
    int            i;
    char           err[256];
    sv_provider_t  p;

    p = *(sv_provider_t *) arg;

    for (i = 0; i < 3; i++) {
        if (send_one(&p, err, sizeof(err)) != 0) {
            return (void *) 1;
        }
    }

    return NULL;
}


static void
test_threads(void **state)
{
    int             i;
    void           *result;
    cJSON          *list;
    pthread_t       t[4];
    sv_provider_t   p[2];

    (void) state;

    /* each thread its own handle, freed when the thread ends */
    p[0] = sens();
    p[1] = cafe24();

    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, send_in_thread,
                                        &p[i % 2]), 0);
    }

    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], &result), 0);
        assert_null(result);
    }

    list = mock_messages();
    assert_int_equal(cJSON_GetArraySize(list), 12);
    cJSON_Delete(list);
}


static char    log_line[2048];
static size_t  log_len;
static int     log_calls;

static void
log_capture(void *data, const char *line, size_t len)
{
    assert_ptr_equal(data, &log_calls);
    assert_true(len < sizeof(log_line));

    memcpy(log_line, line, len);
    log_line[len] = '\0';
    log_len = len;
    log_calls++;
}


static void
test_log(void **state)
{
    char           err[256];
    sv_provider_t  p;

    (void) state;

    memset(&p, 0, sizeof(p));
    p.type = SV_PROVIDER_LOG;
    p.log_write = log_capture;
    p.log_data = &log_calls;
    log_calls = 0;

    assert_int_equal(send_one(&p, err, sizeof(err)), 0);
    assert_int_equal(log_calls, 1);
    assert_string_equal(log_line,
        "smsverify log provider: to \"+82 10-****-5678\" message \""
        TEXT "\"");
    assert_int_equal(log_len, strlen(log_line));

    assert_int_equal(send_to(&p, "+14155550123",
                             "say \"hi\" \\ now\r\n\x7f", err, sizeof(err)),
                     0);
    assert_string_equal(log_line,
        "smsverify log provider: to \"+1 ******0123\" message "
        "\"say \\\"hi\\\" \\\\ now\\x0d\\x0a\\x7f\"");

    /* no writer: still a success */
    p.log_write = NULL;
    assert_int_equal(send_one(&p, err, sizeof(err)), 0);
    assert_int_equal(log_calls, 2);
}


static void
test_escape(void **state)
{
    char  out[16];

    (void) state;

    assert_int_equal(sv_escape_quoted(out, sizeof(out), "a\"b\\c", 5, 0), 7);
    assert_string_equal(out, "a\\\"b\\\\c");

    assert_int_equal(sv_escape_quoted(out, sizeof(out), "\xed\x95\x9c", 3, 0),
                     3);
    assert_string_equal(out, "\xed\x95\x9c");

    assert_int_equal(sv_escape_quoted(out, sizeof(out), "\xed\x95\x9c", 3, 1),
                     12);
    assert_string_equal(out, "\\xed\\x95\\x9c");

    /* an escape that would not fit is left out whole */
    assert_int_equal(sv_escape_quoted(out, 6, "ab\ncd", 5, 0), 2);
    assert_string_equal(out, "ab");

    assert_int_equal(sv_escape_reason(out, sizeof(out), "  -101\r\nmore", 12,
                                    100), 4);
    assert_string_equal(out, "-101");

    assert_int_equal(sv_escape_reason(out, sizeof(out), "0123456789", 10, 4),
                     4);
    assert_string_equal(out, "0123");
}


static void
test_url(void **state)
{
    char  out[32];

    (void) state;

    assert_int_equal(sv_http_url(out, sizeof(out), "http://h:1//", "/a"), 0);
    assert_string_equal(out, "http://h:1/a");

    assert_int_equal(sv_http_url(out, sizeof(out), "https://h", "/a/b"), 0);
    assert_string_equal(out, "https://h/a/b");

    assert_int_equal(sv_http_url(out, 8, "https://h", "/a/b"), -1);
}


/* the two halves of a send: the request built, the answer read */

static void
test_build_read(void **state)
{
    int              rc;
    char             err[256];
    sv_sms_t         sms;
    sv_provider_t    p;
    sv_http_call_t  *call;

    (void) state;

    call = calloc(1, sizeof(*call));
    assert_non_null(call);

    sms.phone = PHONE;
    sms.text = TEXT;
    sms.len = strlen(TEXT);

    p = sens();
    p.timeout_ms = 1234;
    rc = sv_provider_build(&p, &sms, call, err, sizeof(err));
    assert_int_equal(rc, SV_PROVIDER_PENDING);
    assert_non_null(strstr(call->url, "/sms/v2/services/" SENS_SERVICE
                                      "/messages"));
    assert_int_equal(call->timeout_ms, 1234);
    assert_non_null(call->body);
    assert_int_equal(call->len, strlen(call->body));
    assert_non_null(strstr(call->body, CODE));
    assert_string_equal(call->headers[0],
                        "Content-Type: application/json; charset=utf-8");
    assert_memory_equal(call->headers[3], "x-ncp-apigw-signature-v2: ", 26);
    assert_null(call->headers[4]);

    /* an answer that says accepted */
    call->rc = 0;
    call->resp.status = 202;
    call->resp.len = snprintf(call->resp.body, sizeof(call->resp.body),
                              "{\"statusCode\":\"202\"}");
    assert_int_equal(sv_provider_read(&p, call, err, sizeof(err)), 0);
    assert_null(call->body);

    /* refused */
    assert_int_equal(sv_provider_build(&p, &sms, call, err, sizeof(err)),
                     SV_PROVIDER_PENDING);
    call->rc = 0;
    call->resp.status = 500;
    call->resp.len = snprintf(call->resp.body, sizeof(call->resp.body),
                              "{\"errorMessage\":\"down\"}");
    assert_int_equal(sv_provider_read(&p, call, err, sizeof(err)), -1);
    assert_string_equal(err, "sens answered 500: \"down\"");
    assert_null(call->body);

    /* no answer at all: the HTTP client's reason */
    assert_int_equal(sv_provider_build(&p, &sms, call, err, sizeof(err)),
                     SV_PROVIDER_PENDING);
    call->rc = -1;
    snprintf(call->err, sizeof(call->err), "Connection refused");
    assert_int_equal(sv_provider_read(&p, call, err, sizeof(err)), -1);
    assert_string_equal(err, "sens: Connection refused");

    /* cafe24: a form; abroad it is skipped before any request */
    p = cafe24();
    assert_int_equal(sv_provider_build(&p, &sms, call, err, sizeof(err)),
                     SV_PROVIDER_PENDING);
    assert_non_null(strstr(call->url, "/sms_sender.php"));
    assert_non_null(strstr(call->body, "mode=MQ%3D%3D"));
    assert_string_equal(call->headers[0],
                        "Content-Type: application/x-www-form-urlencoded");
    assert_null(call->headers[1]);
    call->rc = 0;
    call->resp.status = 200;
    call->resp.len = snprintf(call->resp.body, sizeof(call->resp.body),
                              "success,99");
    assert_int_equal(sv_provider_read(&p, call, err, sizeof(err)), 0);

    sms.phone = "+14155550123";
    assert_int_equal(sv_provider_build(&p, &sms, call, err, sizeof(err)),
                     SV_PROVIDER_SKIPPED);
    assert_null(call->body);

    /* log: accepted while built, no request */
    memset(&p, 0, sizeof(p));
    p.type = SV_PROVIDER_LOG;
    assert_int_equal(sv_provider_build(&p, &sms, call, err, sizeof(err)),
                     SV_PROVIDER_ACCEPTED);
    assert_null(call->body);

    free(call);
}


/* calls side by side: each answered, the slow one last */

static void
test_http_many(void **state)
{
    int              i, rc;
    char             err[256];
    size_t           n;
    sv_sms_t         sms[5];
    sv_provider_t    p, slow;
    sv_http_call_t  *calls, *call;
    struct timespec  start;
    char             phones[5][16];

    (void) state;

    assert_null(sv_http_next());
    assert_int_equal(sv_http_in_flight(), 0);

    /* cafe24 (the first call) answers after 500 ms, sens at once */
    cJSON_Delete(mock_call("/__mock/behaviour",
                           "{\"provider\":\"cafe24\",\"mode\":\"ok\","
                           "\"delay_ms\":500}"));

    calls = calloc(5, sizeof(*calls));
    assert_non_null(calls);

    p = sens();
    slow = cafe24();

    clock_gettime(CLOCK_MONOTONIC, &start);

    for (i = 0; i < 5; i++) {
        snprintf(phones[i], sizeof(phones[i]), "+8210555500%02d", i);
        sms[i].phone = phones[i];
        sms[i].text = TEXT;
        sms[i].len = strlen(TEXT);

        rc = sv_provider_build(i == 0 ? &slow : &p, &sms[i], &calls[i], err,
                               sizeof(err));
        assert_int_equal(rc, SV_PROVIDER_PENDING);
        calls[i].data = &calls[i];
        assert_int_equal(sv_http_start(&calls[i]), 0);
        assert_int_equal(sv_http_in_flight(), i + 1);
    }

    for (n = 0; (call = sv_http_next()) != NULL; n++) {
        assert_ptr_equal(call->data, call);
        assert_int_equal(call->rc, 0);
        assert_int_equal(sv_provider_read(call == &calls[0] ? &slow : &p,
                                          call, err, sizeof(err)), 0);

        /* the four prompt ones first, side by side with the slow one */
        if (n < 4) {
            assert_true(call != &calls[0]);
            assert_int_equal(call->resp.status, 202);
            assert_true(elapsed_ms(&start) < 500);

        } else {
            assert_ptr_equal(call, &calls[0]);
            assert_int_equal(call->resp.status, 200);
            assert_true(elapsed_ms(&start) >= 500);
        }
    }

    assert_int_equal(n, 5);
    assert_int_equal(sv_http_in_flight(), 0);

    free(calls);
}


/* a call that never gets an answer ends at its own timeout */

static void
test_http_many_timeout(void **state)
{
    char             err[256], url[64];
    long             ms;
    sv_sms_t         sms;
    sv_provider_t    p, dead;
    sv_http_call_t  *calls, *call;
    struct timespec  start;

    (void) state;

    calls = calloc(3, sizeof(*calls));
    assert_non_null(calls);

    sms.phone = PHONE;
    sms.text = TEXT;
    sms.len = strlen(TEXT);

    p = sens();
    p.timeout_ms = 3000;
    dead = cafe24();
    dead.timeout_ms = 300;

    /* cafe24 never answers; the second goes to a closed port */
    mock_behave("cafe24", "hang");
    assert_int_equal(sv_provider_build(&dead, &sms, &calls[0], err,
                                       sizeof(err)), SV_PROVIDER_PENDING);
    assert_int_equal(sv_http_start(&calls[0]), 0);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
    dead.url = url;
    assert_int_equal(sv_provider_build(&dead, &sms, &calls[1], err,
                                       sizeof(err)), SV_PROVIDER_PENDING);
    assert_int_equal(sv_http_start(&calls[1]), 0);

    assert_int_equal(sv_provider_build(&p, &sms, &calls[2], err,
                                       sizeof(err)), SV_PROVIDER_PENDING);
    assert_int_equal(sv_http_start(&calls[2]), 0);

    clock_gettime(CLOCK_MONOTONIC, &start);

    while ((call = sv_http_next()) != NULL) {
        ms = elapsed_ms(&start);

        if (call == &calls[0]) {
            assert_int_equal(call->rc, -1);
            assert_non_null(strstr(call->err, "imed out"));
            assert_true(ms >= 250 && ms < 1000);

        } else if (call == &calls[1]) {
            assert_int_equal(call->rc, -1);
            assert_true(call->err[0] != '\0');
            assert_true(ms < 300);

        } else {
            assert_int_equal(call->rc, 0);
            assert_int_equal(call->resp.status, 202);
            assert_true(ms < 300);
        }

        sv_http_call_wipe(call);
    }

    free(calls);
}


/* chains side by side: each one's providers in order, on its own */

static void
test_send_all(void **state)
{
    char                    url[64];
    cJSON                  *list;
    sv_sms_t                sms[4];
    sv_provider_t           a[2], b[2], c[1], d[2];
    sv_provider_chain_t     chain[4], *chains[4];
    sv_provider_outcome_t   out[4][2];
    int                     i;

    (void) state;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());

    /* a: a dead sens, then sens; b: cafe24 abroad (skipped), then log */
    a[0] = sens();
    a[0].url = url;
    a[1] = sens();
    b[0] = cafe24();
    memset(&b[1], 0, sizeof(b[1]));
    b[1].type = SV_PROVIDER_LOG;
    /* c: sens alone; d: cafe24 (which fails here), then a dead sens */
    c[0] = sens();
    d[0] = cafe24();
    d[1] = sens();
    d[1].url = url;

    for (i = 0; i < 4; i++) {
        sms[i].text = TEXT;
        sms[i].len = strlen(TEXT);
    }

    sms[0].phone = "+821055550001";
    sms[1].phone = "+14155550123";
    sms[2].phone = "+821055550003";
    sms[3].phone = "+821055550004";

    chain[0] = (sv_provider_chain_t) {
        .providers = a, .nproviders = 2, .sms = &sms[0], .outcomes = out[0],
        .tried = 9, .accepted = 9 };
    chain[1] = (sv_provider_chain_t) {
        .providers = b, .nproviders = 2, .sms = &sms[1], .outcomes = out[1],
        .tried = 9, .accepted = 9 };
    chain[2] = (sv_provider_chain_t) {
        .providers = c, .nproviders = 1, .sms = &sms[2], .outcomes = out[2],
        .tried = 9, .accepted = 9 };
    chain[3] = (sv_provider_chain_t) {
        .providers = d, .nproviders = 2, .sms = &sms[3], .outcomes = out[3],
        .tried = 9, .accepted = 9 };

    for (i = 0; i < 4; i++) {
        chains[i] = &chain[i];
    }

    mock_behave("cafe24", "http500");

    sv_provider_send_all(chains, 4);

    assert_int_equal(chain[0].tried, 2);
    assert_int_equal(chain[0].accepted, 1);
    assert_int_equal(out[0][0].rc, SV_PROVIDER_FAILED);
    assert_memory_equal(out[0][0].reason, "sens: ", 6);
    assert_int_equal(out[0][1].rc, SV_PROVIDER_ACCEPTED);

    assert_int_equal(chain[1].tried, 2);
    assert_int_equal(chain[1].accepted, 1);
    assert_int_equal(out[1][0].rc, SV_PROVIDER_SKIPPED);
    assert_int_equal(out[1][1].rc, SV_PROVIDER_ACCEPTED);

    assert_int_equal(chain[2].tried, 1);
    assert_int_equal(chain[2].accepted, 0);
    assert_true(out[2][0].us > 0);

    assert_int_equal(chain[3].tried, 2);
    assert_int_equal(chain[3].accepted, -1);
    assert_string_equal(out[3][0].reason, "cafe24: HTTP 500");
    assert_int_equal(out[3][1].rc, SV_PROVIDER_FAILED);
    assert_memory_equal(out[3][1].reason, "sens: ", 6);

    /* a's second sens and c's got through */
    list = mock_messages();
    assert_int_equal(cJSON_GetArraySize(list), 2);
    cJSON_Delete(list);

    assert_int_equal(sv_http_in_flight(), 0);

    /* nothing to send: returns at once */
    sv_provider_send_all(chains, 0);
}



/*
 * Sends to one SENS in one batch go as one request, each message with
 * its own text; a number of another country goes in another.
 */

#define MANY  5

static void
many_chains(sv_provider_chain_t *chain, sv_provider_chain_t **chains,
    sv_sms_t *sms, char (*text)[64], const sv_provider_t *p, size_t np,
    sv_provider_outcome_t (*out)[2], size_t n)
{
    size_t  i;
    char    phone[32];

    for (i = 0; i < n; i++) {
        snprintf(text[i], 64, "[MyShop] code %06zu", 100000 + i);
        snprintf(phone, sizeof(phone), "+821055%06zu", i);

        sms[i].phone = strdup(phone);
        sms[i].text = text[i];
        sms[i].len = strlen(text[i]);

        chain[i] = (sv_provider_chain_t) {
        .providers = p, .nproviders = np, .sms = &sms[i], .outcomes = out[i],
        .tried = 9, .accepted = 9 };
        chains[i] = &chain[i];
    }
}


static void
many_free(sv_sms_t *sms, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        free((char *) sms[i].phone);
    }
}


/* to, as a provider got it ("01055550100", "010-5555-0100"), is phone */
static int
korean_number_is(const char *to, const char *phone)
{
    char    digits[32];
    size_t  n;

    for (n = 0; *to != '\0' && n < sizeof(digits) - 1; to++) {
        if (*to != '-') {
            digits[n++] = *to;
        }
    }

    digits[n] = '\0';

    return digits[0] == '0' && strcmp(digits + 1, phone + 3) == 0;
}


/* the mock's message to the Korean number phone, or fails */
static const cJSON *
message_to(const cJSON *list, const char *provider, const char *phone)
{
    const cJSON  *m;

    cJSON_ArrayForEach(m, list) {
        if (strcmp(field(m, "provider"), provider) == 0
            && korean_number_is(field(m, "to"), phone))
        {
            return m;
        }
    }

    fail_msg("no %s message to %s", provider, phone);

    return NULL;
}


/* the providers were asked for asked messages, took took: the taken */
static cJSON *
asked_then_took(int asked, int took)
{
    cJSON  *list;

    list = mock_requests();
    assert_int_equal(cJSON_GetArraySize(list), asked);
    cJSON_Delete(list);

    list = mock_messages();
    assert_int_equal(cJSON_GetArraySize(list), took);

    return list;
}


static void
test_send_all_many(void **state)
{
    char                    text[MANY + 1][64];
    cJSON                  *list;
    size_t                  i;
    sv_sms_t                sms[MANY + 1];
    sv_provider_t           p[1];
    const cJSON            *m;
    const char             *request;
    sv_provider_chain_t     chain[MANY + 1], *chains[MANY + 1];
    sv_provider_outcome_t   out[MANY + 1][2];

    (void) state;

    p[0] = sens();
    many_chains(chain, chains, sms, text, p, 1, out, MANY + 1);

    /* the last abroad: a request of its own */
    free((char *) sms[MANY].phone);
    sms[MANY].phone = strdup("+14155550123");

    sv_provider_send_all(chains, MANY + 1);

    list = mock_messages();
    assert_int_equal(cJSON_GetArraySize(list), MANY + 1);

    request = field(message_to(list, "sens", sms[0].phone), "request");

    for (i = 0; i < MANY; i++) {
        assert_int_equal(chain[i].accepted, 0);
        assert_int_equal(out[i][0].rc, SV_PROVIDER_ACCEPTED);

        m = message_to(list, "sens", sms[i].phone);
        assert_string_equal(field(m, "text"), text[i]);
        assert_string_equal(field(m, "countryCode"), "82");
        assert_string_equal(field(m, "request"), request);
    }

    assert_int_equal(chain[MANY].accepted, 0);

    cJSON_ArrayForEach(m, list) {
        if (strcmp(field(m, "to"), "4155550123") == 0) {
            assert_string_equal(field(m, "countryCode"), "1");
            assert_string_equal(field(m, "text"), text[MANY]);
            assert_string_not_equal(field(m, "request"), request);
        }
    }

    cJSON_Delete(list);
    many_free(sms, MANY + 1);

    assert_int_equal(sv_http_in_flight(), 0);
}


/* SENS takes at most 100 messages a request: 150 go as 100 and 50 */
static void
test_send_all_many_max(void **state)
{
    int                     ids;
    cJSON                  *list;
    size_t                  i, n;
    sv_sms_t               *sms;
    sv_provider_t           p[1];
    const cJSON            *m, *o;
    sv_provider_chain_t    *chain, **chains;
    sv_provider_outcome_t  (*out)[2];
    char                  (*text)[64];

    (void) state;

    n = 150;

    sms = calloc(n, sizeof(sv_sms_t));
    chain = calloc(n, sizeof(sv_provider_chain_t));
    chains = calloc(n, sizeof(sv_provider_chain_t *));
    out = calloc(n, sizeof(*out));
    text = calloc(n, sizeof(*text));
    assert_true(sms && chain && chains && out && text);

    p[0] = sens();
    many_chains(chain, chains, sms, text, p, 1, out, n);

    sv_provider_send_all(chains, n);

    for (i = 0; i < n; i++) {
        assert_int_equal(chain[i].accepted, 0);
    }

    list = asked_then_took((int) n, (int) n);

    /* the distinct request ids, and how many messages the first holds */

    ids = 0;

    cJSON_ArrayForEach(m, list) {
        cJSON_ArrayForEach(o, list) {
            if (o == m) {
                ids++;
                break;
            }

            if (strcmp(field(o, "request"), field(m, "request")) == 0) {
                break;
            }
        }
    }

    assert_int_equal(ids, 2);

    cJSON_Delete(list);
    many_free(sms, n);
    free(sms);
    free(chain);
    free(chains);
    free(out);
    free(text);
}


/* a request of many that SENS refuses: each message again, alone */
static void
test_send_all_many_refused(void **state)
{
    char                    text[MANY][64];
    cJSON                  *list;
    size_t                  i, j;
    sv_sms_t                sms[MANY];
    sv_provider_t           p[1];
    const char             *request[MANY];
    sv_provider_chain_t     chain[MANY], *chains[MANY];
    sv_provider_outcome_t   out[MANY][2];

    (void) state;

    p[0] = sens();
    many_chains(chain, chains, sms, text, p, 1, out, MANY);

    cJSON_Delete(mock_call("/__mock/behaviour",
                           "{\"provider\":\"sens\",\"mode\":\"http400\","
                           "\"count\":1}"));

    sv_provider_send_all(chains, MANY);

    /* the request of five refused, then five of one */
    list = asked_then_took(2 * MANY, MANY);

    for (i = 0; i < MANY; i++) {
        assert_int_equal(chain[i].tried, 1);
        assert_int_equal(chain[i].accepted, 0);
        assert_string_equal(field(message_to(list, "sens", sms[i].phone),
                                  "text"),
                            text[i]);

        request[i] = field(message_to(list, "sens", sms[i].phone),
                           "request");

        for (j = 0; j < i; j++) {
            assert_string_not_equal(request[i], request[j]);
        }
    }

    cJSON_Delete(list);
    many_free(sms, MANY);
}


/* a request of many that fails otherwise: each on to its next provider */
static void
test_send_all_many_failover(void **state)
{
    char                    text[MANY][64];
    cJSON                  *list;
    size_t                  i;
    sv_sms_t                sms[MANY];
    sv_provider_t           p[2];
    sv_provider_chain_t     chain[MANY], *chains[MANY];
    sv_provider_outcome_t   out[MANY][2];

    (void) state;

    p[0] = sens();
    p[1] = cafe24();
    many_chains(chain, chains, sms, text, p, 2, out, MANY);

    mock_behave("sens", "http500");

    sv_provider_send_all(chains, MANY);

    list = asked_then_took(2 * MANY, MANY);

    for (i = 0; i < MANY; i++) {
        assert_int_equal(chain[i].tried, 2);
        assert_int_equal(chain[i].accepted, 1);
        assert_int_equal(out[i][0].rc, SV_PROVIDER_FAILED);
        assert_memory_equal(out[i][0].reason, "sens answered 500", 17);
        assert_string_equal(field(message_to(list, "cafe24", sms[i].phone),
                                  "text"),
                            text[i]);
    }

    cJSON_Delete(list);
    many_free(sms, MANY);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_serves),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_log),
        cmocka_unit_test_setup(test_sens_success, reset_mock),
        cmocka_unit_test_setup(test_sens_abroad, reset_mock),
        cmocka_unit_test_setup(test_sens_abroad_numbers, reset_mock),
        cmocka_unit_test_setup(test_cafe24_abroad, reset_mock),
        cmocka_unit_test_setup(test_sens_escapes_text, reset_mock),
        cmocka_unit_test_setup(test_sens_escapes_all, reset_mock),
        cmocka_unit_test_setup(test_cafe24_success, reset_mock),
        cmocka_unit_test_setup(test_cafe24_testflag, reset_mock),
        cmocka_unit_test_setup(test_cafe24_numbers, reset_mock),
        cmocka_unit_test_setup(test_sens_wrong_secret, reset_mock),
        cmocka_unit_test_setup(test_cafe24_wrong_key, reset_mock),
        cmocka_unit_test_setup(test_http500, reset_mock),
        cmocka_unit_test_setup(test_http400, reset_mock),
        cmocka_unit_test_setup(test_garbage, reset_mock),
        cmocka_unit_test_setup(test_badstatus, reset_mock),
        cmocka_unit_test_setup(test_refused, reset_mock),
        cmocka_unit_test_setup(test_timeout, reset_mock),
        cmocka_unit_test_setup(test_slow, reset_mock),
        cmocka_unit_test_setup(test_keepalive, reset_mock),
        cmocka_unit_test_setup(test_threads, reset_mock),
        cmocka_unit_test_setup(test_build_read, reset_mock),
        cmocka_unit_test_setup(test_http_many, reset_mock),
        cmocka_unit_test_setup(test_http_many_timeout, reset_mock),
        cmocka_unit_test_setup(test_send_all, reset_mock),
        cmocka_unit_test_setup(test_send_all_many, reset_mock),
        cmocka_unit_test_setup(test_send_all_many_max, reset_mock),
        cmocka_unit_test_setup(test_send_all_many_refused, reset_mock),
        cmocka_unit_test_setup(test_send_all_many_failover, reset_mock),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
