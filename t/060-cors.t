# smsverify_cors: preflights from allowed origins, CORS headers on every
# answer to them, nothing for other origins, "*", and the inheritance rule.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_terms 1 required;
    smsverify_password_hash bcrypt cost=4;
    smsverify_cors https://shop.example https://admin.example:8443;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config);

no_shuffle();
sv_flow_blocks();
run_tests();

# The CORS headers of an answer, for is_deeply.
sub cors_of {
    my $res = shift;
    my %h;
    for my $name (qw(access-control-allow-origin
                     access-control-allow-credentials
                     access-control-allow-methods
                     access-control-allow-headers
                     access-control-max-age vary))
    {
        $h{$name} = $res->{headers}{$name}
            if defined $res->{headers}{$name};
    }
    return \%h;
}

__DATA__

=== TEST 1: a preflight from an allowed origin is 204 with every header
--- request
OPTIONS /send
--- more_headers
Origin: https://shop.example
Access-Control-Request-Method: POST
Access-Control-Request-Headers: content-type
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin: https://shop.example
Access-Control-Allow-Methods: POST
Access-Control-Allow-Headers: Content-Type
Access-Control-Max-Age: 600
Access-Control-Allow-Credentials: true
Vary: Origin
!Allow
--- response_body chomp



=== TEST 2: a preflight from the second origin gets that origin back
--- request
OPTIONS /confirm
--- more_headers
Origin: https://admin.example:8443
Access-Control-Request-Method: POST
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin: https://admin.example:8443
Access-Control-Allow-Credentials: true
Access-Control-Allow-Methods: POST
Vary: Origin



=== TEST 3: a preflight on signup, and it changes no state
--- request
OPTIONS /signup
--- more_headers
Origin: https://shop.example
Access-Control-Request-Method: POST
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin: https://shop.example
Access-Control-Max-Age: 600
--- flow
my $res = sv_request(OPTIONS => '/send', undef,
    { Origin => 'https://shop.example',
      'Access-Control-Request-Method' => 'POST' });
is $res->{status}, 204, 'a preflight on send';
$res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' },
                  { Origin => 'https://shop.example' });
is $res->{status}, 200, 'a send after preflights is not limited';



=== TEST 4: a 200 to an allowed origin carries the CORS headers
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- more_headers
Content-Type: application/json
Origin: https://shop.example
--- error_code: 200
--- response_headers
Access-Control-Allow-Origin: https://shop.example
Access-Control-Allow-Credentials: true
Vary: Origin
Content-Type: application/json
--- response_body_like: ^\{"status":"sent",



=== TEST 5: error answers to an allowed origin carry the CORS headers too
--- request eval
["GET /send",
 "POST /send\n{\"phoneNumber\":\"010-1234-5678\"}",
 "POST /send\n{\"phoneNumber\":",
 "POST /send\n{\"phoneNumber\":\"02-123-4567\"}",
 "POST /confirm\n{\"phoneNumber\":\"010-1234-5678\",\"verificationNumber\":\"123456\"}",
 "POST /signup\n{\"email\":\"a\@example.com\",\"password\":\"Passw0rd!\",\"nickname\":\"n\",\"phoneNumber\":\"010-1234-5678\",\"termsId\":[1],\"verificationToken\":\"nope\"}"]
--- more_headers eval
["Origin: https://admin.example:8443",
 "Origin: https://admin.example:8443\nContent-Type: text/plain",
 "Origin: https://admin.example:8443\nContent-Type: application/json",
 "Origin: https://admin.example:8443\nContent-Type: application/json",
 "Origin: https://admin.example:8443\nContent-Type: application/json",
 "Origin: https://admin.example:8443\nContent-Type: application/json"]
--- error_code eval
[405, 415, 400, 400, 404, 403]
--- response_headers eval
[("Access-Control-Allow-Origin: https://admin.example:8443
Access-Control-Allow-Credentials: true
Vary: Origin") x 6]
--- response_body_like eval
['"error":"METHOD_NOT_ALLOWED"', '"error":"UNSUPPORTED_MEDIA_TYPE"',
 '"error":"INVALID_JSON"', '"error":"INVALID_PHONE"',
 '"error":"NO_PENDING_CODE"', '"error":"PHONE_NOT_VERIFIED"']



=== TEST 6: 429 and the whole flow to signup carry the CORS headers
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- more_headers
Content-Type: application/json
Origin: https://shop.example
--- error_code: 200
--- flow
my %origin = (Origin => 'https://shop.example');
my $want = { 'access-control-allow-origin' => 'https://shop.example',
             'access-control-allow-credentials' => 'true',
             vary => 'Origin' };

my $res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' },
                     \%origin);
is $res->{status}, 429, 'resend too soon';
is_deeply main::cors_of($res), $want, '429: CORS headers';

$res = sv_request(POST => '/confirm', { phoneNumber => '010-1234-5678',
    verificationNumber => sv_code_for('5678') }, \%origin);
is $res->{status}, 200, 'confirm';
is_deeply main::cors_of($res), $want, 'confirm: CORS headers';
ok defined sv_cookie($res, 'smsverify_token'), 'and the token cookie';

$res = sv_request(POST => '/signup', {
    email => 'a@example.com', password => 'Passw0rd!', nickname => 'n',
    phoneNumber => '010-1234-5678', termsId => [1],
    verificationToken => $res->{json}{verificationToken} }, \%origin);
is $res->{status}, 200, 'signup';
is_deeply main::cors_of($res), $want, 'signup: CORS headers';



=== TEST 7: another origin gets no CORS header on a 200
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- more_headers
Content-Type: application/json
Origin: https://evil.example
--- error_code: 200
--- response_headers
!Access-Control-Allow-Origin
!Access-Control-Allow-Credentials
!Access-Control-Allow-Methods
!Access-Control-Max-Age



=== TEST 8: a preflight from another origin is 405 without CORS headers
--- request
OPTIONS /send
--- more_headers
Origin: https://evil.example
Access-Control-Request-Method: POST
--- error_code: 405
--- response_headers
Allow: POST
!Access-Control-Allow-Origin
!Access-Control-Allow-Credentials
!Access-Control-Allow-Methods
!Access-Control-Max-Age
--- response_body_like: "error":"METHOD_NOT_ALLOWED"



=== TEST 9: origins must match exactly: scheme, host and port
--- request eval
["OPTIONS /send", "OPTIONS /send", "OPTIONS /send", "OPTIONS /send",
 "OPTIONS /send", "OPTIONS /send"]
--- more_headers eval
["Origin: http://shop.example\nAccess-Control-Request-Method: POST",
 "Origin: https://shop.example:8443\nAccess-Control-Request-Method: POST",
 "Origin: https://shop.example.evil.example\nAccess-Control-Request-Method: POST",
 "Origin: https://admin.example\nAccess-Control-Request-Method: POST",
 "Origin: null\nAccess-Control-Request-Method: POST",
 "Origin: https://shop.exampl\nAccess-Control-Request-Method: POST"]
--- error_code eval
[405, 405, 405, 405, 405, 405]
--- response_headers eval
[("!Access-Control-Allow-Origin") x 6]



=== TEST 10: without an Origin header: no CORS header, OPTIONS is 405
--- request eval
["POST /send\n{\"phoneNumber\":\"010-1234-5678\"}", "OPTIONS /send"]
--- more_headers eval
["Content-Type: application/json", "Access-Control-Request-Method: POST"]
--- error_code eval
[200, 405]
--- response_headers eval
["!Access-Control-Allow-Origin\n!Access-Control-Allow-Credentials",
 "!Access-Control-Allow-Origin\nAllow: POST"]



=== TEST 11: "*" allows any origin, without -Credentials
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_cors *;
--- request
OPTIONS /send
--- more_headers
Origin: https://anyone.example
Access-Control-Request-Method: POST
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin: https://anyone.example
Access-Control-Allow-Methods: POST
Access-Control-Allow-Headers: Content-Type
Access-Control-Max-Age: 600
Vary: Origin
!Access-Control-Allow-Credentials



=== TEST 12: "*": real answers, 200 and errors, without -Credentials
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_cors *;
--- request eval
["POST /send\n{\"phoneNumber\":\"010-1234-5678\"}",
 "POST /send\n{\"phoneNumber\":\"010-1234-5678\"}",
 "POST /send\n{\"phoneNumber\":\"bad\"}"]
--- more_headers eval
["Origin: http://localhost:3000\nContent-Type: application/json",
 "Origin: https://other.example\nContent-Type: application/json",
 "Origin: https://third.example\nContent-Type: application/json"]
--- error_code eval
[200, 429, 400]
--- response_headers eval
["Access-Control-Allow-Origin: http://localhost:3000\nVary: Origin\n!Access-Control-Allow-Credentials",
 "Access-Control-Allow-Origin: https://other.example\nVary: Origin\n!Access-Control-Allow-Credentials",
 "Access-Control-Allow-Origin: https://third.example\nVary: Origin\n!Access-Control-Allow-Credentials"]



=== TEST 13: a location's smsverify_cors replaces the inherited origins
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_cors https://shop.example;
--- config
    location = /send {
        smsverify_cors https://other.example;
        smsverify send;
    }
    location = /confirm { smsverify confirm; }
--- request eval
["OPTIONS /send", "OPTIONS /send", "OPTIONS /confirm", "OPTIONS /confirm"]
--- more_headers eval
["Origin: https://other.example\nAccess-Control-Request-Method: POST",
 "Origin: https://shop.example\nAccess-Control-Request-Method: POST",
 "Origin: https://shop.example\nAccess-Control-Request-Method: POST",
 "Origin: https://other.example\nAccess-Control-Request-Method: POST"]
--- error_code eval
[204, 405, 204, 405]
--- response_headers eval
["Access-Control-Allow-Origin: https://other.example",
 "!Access-Control-Allow-Origin",
 "Access-Control-Allow-Origin: https://shop.example",
 "!Access-Control-Allow-Origin"]



=== TEST 14: a server's smsverify_cors replaces the http level's, "*" too
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_cors *;
--- config
    smsverify_cors https://shop.example;
    location = /send { smsverify send; }
--- request eval
["POST /send\n{\"phoneNumber\":\"010-1234-5678\"}",
 "POST /send\n{\"phoneNumber\":\"010-2345-6789\"}"]
--- more_headers eval
["Origin: https://shop.example\nContent-Type: application/json",
 "Origin: https://other.example\nContent-Type: application/json"]
--- error_code eval
[200, 200]
--- response_headers eval
["Access-Control-Allow-Origin: https://shop.example\nAccess-Control-Allow-Credentials: true",
 "!Access-Control-Allow-Origin"]



=== TEST 15: without smsverify_cors no origin gets CORS headers
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
--- request eval
["OPTIONS /send", "POST /send\n{\"phoneNumber\":\"010-1234-5678\"}"]
--- more_headers eval
["Origin: https://shop.example\nAccess-Control-Request-Method: POST",
 "Origin: https://shop.example\nContent-Type: application/json"]
--- error_code eval
[405, 200]
--- response_headers eval
["!Access-Control-Allow-Origin", "!Access-Control-Allow-Origin"]



=== TEST 16: nginx's own 413 carries the CORS headers for an allowed origin
--- config
    location = /send { client_max_body_size 16; smsverify send; }
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- more_headers
Content-Type: application/json
Origin: https://shop.example
--- error_code: 413
--- response_headers
Access-Control-Allow-Origin: https://shop.example
Access-Control-Allow-Credentials: true
Vary: Origin



=== TEST 17: ... and none for another origin
--- config
    location = /send { client_max_body_size 16; smsverify send; }
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- more_headers
Content-Type: application/json
Origin: https://evil.example
--- error_code: 413
--- response_headers
!Access-Control-Allow-Origin
!Vary
