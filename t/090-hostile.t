# Hostile input: malformed requests of every kind to send, confirm, signup
# and status, and HTTP-level garbage nginx itself must refuse, interleaved
# with real sends, confirms and signups. Every malformed request gets a
# well-formed JSON error (or nginx's own 4xx for HTTP-level garbage), no
# worker dies, and the store holds exactly what the valid requests put
# there.
#
# The fuzzing (TEST 5) is seeded and bounded:
#   TEST_NGINX_HOSTILE_SEED   the seed (default 90090; printed on failure)
#   TEST_NGINX_HOSTILE_COUNT  malformed requests sent by the test process
#                             (default 3000), and as many again by each of
#                             two children sending at the same time
# Under valgrind (TEST_NGINX_USE_VALGRIND) it sends 600, with no
# children, and takes fewer phones through the real flow.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

# the generators (t/inc/SmsVerify/Hostile.pm), in scope for the flows
{ package SmsVerify; use SmsVerify::Hostile; }

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=16m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_terms 2 optional;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send;    client_max_body_size 1m; }
    location = /confirm { smsverify confirm; client_max_body_size 1m; }
    location = /signup  { smsverify signup;  client_max_body_size 1m; }
    location = /status  { smsverify status;  client_max_body_size 1m; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config);

master_on();
workers(2);
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: every field of every endpoint, each fault alone: that field's error
--- request
GET /status
--- log_level: notice
--- timeout: 60
--- flow
my ($n, @fail) = run_field_faults(1);
is scalar(@fail), 0, "$n malformed fields, each answered with its own error"
    or diag join "\n", @fail;
is_deeply [map { $_->[0] } @{ sv_store_dump('sends') }], [], 'no send counted';
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 2: HTTP-level faults: nginx's own answer, or none for a cut request
--- request
GET /status
--- log_level: notice
--- timeout: 60
--- flow
my @fail = run_http_faults(2);
is scalar(@fail), 0, 'every HTTP-level fault answered as expected'
    or diag join "\n", @fail;
my $res = sv_request(GET => '/status');
is $res->{json}{sent}, 0, 'nothing was sent';
is_deeply [map { $_->[0] } @{ sv_store_dump('sends') }], [], 'no send counted';
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 3: pipelined and kept-alive requests, a valid send among them
--- request
GET /status
--- log_level: notice
--- flow
my $send = sub {
    http_request(path => '/send', body => shift, ctype => 'application/json',
                 conn => 'keep-alive');
};
my @res = answers_to($send->('{"phoneNumber":1}')
                     . $send->('{"phoneNumber":"010-5001-1001"}')
                     . $send->('{"phoneNumber":')
                     . http_request(method => 'GET', path => '/status'));
is scalar(@res), 4, 'four answers, in order';
is $res[0]{status}, 400, 'INVALID_FIELD first';
like $res[0]{body}, qr/"error":"INVALID_FIELD"/, 'its word';
is $res[1]{status}, 200, 'the valid send in the middle';
like $res[1]{body}, qr/"phoneNumber":"\+821050011001"/, 'sent to its phone';
like $res[2]{body}, qr/"error":"INVALID_JSON"/, 'the truncated one';
is $res[3]{status}, 200, 'status answers last';
like $res[3]{body}, qr/"sent":1,/, 'and counts the one send';
ok defined sv_code_for('1001'), 'the code was logged';
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 4: what would hide bytes from the checks is INVALID_JSON
A NUL or another control character must be escaped in a JSON string (RFC
8259, 7), and is no white space; "\u" takes four hex digits. cJSON keeps
a raw NUL in a string, where it ends the C string, and decodes a bad
"\u" escape as U+0000: "a<NUL>b" or "a\uZZZZb" would pass for "a", as
"a\u0000b" would.
--- request
GET /status
--- log_level: notice
--- flow
my @bodies = (
    qq({"phoneNumber":"010-9001-8001\x00"}),
    qq({"phoneNumber":"010-9001-8001\x00garbage"}),
    qq({"phoneNumber":"+14155550123\x00"}),
    qq(\x00{"phoneNumber":"+14155550123"}),
    qq({\x00"phoneNumber":"+14155550123"}),
    qq({"phoneNumber"\x00:"+14155550123"}),
    qq({"phoneNumber":"+14155550123"}\x00),
    qq({"phoneNumber":"010-9001-8001\x01"}),
    qq(\x0b{"phoneNumber":"+14155550123"}),
    q({"phoneNumber":"010-9001-8001\uZZZZ"}),
    q({"phoneNumber":"010-9001-8001\u00G0"}),
    q({"phoneNumber":"010-9001-8001\u12"}),
    q({"phoneNumber":"010-9001-8001\u0000"}),
);
for my $body (@bodies) {
    my $res = sv_request(POST => '/send', $body,
                         { 'Content-Type' => 'application/json' });
    is $res->{status}, 400, 'refused: ' . printable($body);
    like $res->{body}, qr/"error":"INVALID_JSON"/,
         'INVALID_JSON: ' . printable($body);
}
is_deeply [map { $_->[0] } @{ sv_store_dump('sends') }], [],
          'no send was counted';
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 5: fuzz: thousands of malformed requests, real flows among them
Seeded and bounded: see the top of the file.
--- request
GET /status
--- log_level: notice
--- timeout: 900
--- flow
run_fuzz();
--- no_error_log eval
[qr/exited on signal/, qr/worker process \d+ exited/,
 qr/\[(?:alert|crit|emerg)\]/]
