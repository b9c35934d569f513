# Errors every endpoint shares: method, media type, body, field types.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_terms 1 required;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /status  { smsverify status; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: GET on send is 405 with Allow: POST
--- request
GET /send
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
Cache-Control: no-store
--- response_body_like: ^\{"error":"METHOD_NOT_ALLOWED","message":"[^"]+"\}$



=== TEST 2: PUT on confirm and DELETE on signup are 405
--- request eval
["PUT /confirm\n{}", "DELETE /signup"]
--- more_headers
Content-Type: application/json
--- error_code eval
[405, 405]
--- response_body_like eval
['"error":"METHOD_NOT_ALLOWED"', '"error":"METHOD_NOT_ALLOWED"']



=== TEST 3: POST on status is 405 with Allow: GET, HEAD
--- request
POST /status
{}
--- more_headers
Content-Type: application/json
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body_like: "error":"METHOD_NOT_ALLOWED"



=== TEST 4: OPTIONS without smsverify_cors is 405
--- request
OPTIONS /send
--- more_headers
Origin: https://shop.example
Access-Control-Request-Method: POST
--- error_code: 405
--- response_headers
Allow: POST
!Access-Control-Allow-Origin
--- response_body_like: "error":"METHOD_NOT_ALLOWED"



=== TEST 5: no Content-Type is 415
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 415
--- response_body_like: ^\{"error":"UNSUPPORTED_MEDIA_TYPE","message":"[^"]+"\}$



=== TEST 6: text/plain and application/jsonx are 415
--- request eval
["POST /send\n{\"phoneNumber\":\"010-1234-5678\"}",
 "POST /confirm\n{\"phoneNumber\":\"010-1234-5678\"}"]
--- more_headers eval
["Content-Type: text/plain", "Content-Type: application/jsonx"]
--- error_code eval
[415, 415]
--- response_body_like eval
['"error":"UNSUPPORTED_MEDIA_TYPE"', '"error":"UNSUPPORTED_MEDIA_TYPE"']



=== TEST 7: a charset and upper case are fine
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- more_headers
Content-Type: Application/JSON; charset=utf-8
--- error_code: 200
--- response_body_like: "status":"sent"



=== TEST 8: an empty body is INVALID_JSON
--- request
POST /send
--- more_headers
Content-Type: application/json
Content-Length: 0
--- error_code: 400
--- response_body_like: ^\{"error":"INVALID_JSON","message":"[^"]+"\}$



=== TEST 9: broken JSON, an array, a string and a number are INVALID_JSON
--- request eval
["POST /send\n{\"phoneNumber\":", "POST /send\n[1,2]",
 "POST /confirm\n\"010\"", "POST /signup\n42"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400, 400, 400]
--- response_body_like eval
['"error":"INVALID_JSON"', '"error":"INVALID_JSON"',
 '"error":"INVALID_JSON"', '"error":"INVALID_JSON"']



=== TEST 9b: an object followed by more than white space is INVALID_JSON
--- request eval
["POST /send\n{\"phoneNumber\":\"010-1234-5678\"} {}",
 "POST /send\n{\"phoneNumber\":\"010-1234-5678\"}x"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400]
--- response_body_like eval
['"error":"INVALID_JSON"', '"error":"INVALID_JSON"']



=== TEST 10: invalid UTF-8 is INVALID_JSON
--- request eval
"POST /send\n{\"phoneNumber\":\"010-1234-5678\",\"x\":\"\xff\xfe\"}"
--- more_headers
Content-Type: application/json
--- error_code: 400
--- response_body_like: "error":"INVALID_JSON"



=== TEST 11: a NUL escape inside a string is INVALID_JSON
--- request
POST /send
{"phoneNumber":"010-1234-5678\u0000"}
--- more_headers
Content-Type: application/json
--- error_code: 400
--- response_body_like: "error":"INVALID_JSON"



=== TEST 12: a missing phoneNumber is MISSING_FIELD naming it
--- request
POST /send
{"phone":"010-1234-5678"}
--- more_headers
Content-Type: application/json
--- error_code: 400
--- response_body_like: ^\{"error":"MISSING_FIELD","message":"[^"]+","field":"phoneNumber"\}$



=== TEST 13: a null phoneNumber is MISSING_FIELD too
--- request
POST /confirm
{"phoneNumber":null,"verificationNumber":"123456"}
--- more_headers
Content-Type: application/json
--- error_code: 400
--- response_body_like: "error":"MISSING_FIELD".*"field":"phoneNumber"



=== TEST 14: a numeric phoneNumber is INVALID_FIELD naming it
--- request
POST /send
{"phoneNumber":1012345678}
--- more_headers
Content-Type: application/json
--- error_code: 400
--- response_body_like: ^\{"error":"INVALID_FIELD","message":"[^"]+","field":"phoneNumber"\}$



=== TEST 15: a body over client_max_body_size is nginx's 413
--- config
    location = /send { client_max_body_size 64; smsverify send; }
--- request eval
"POST /send\n{\"phoneNumber\":\"010-1234-5678\",\"pad\":\"" . ("x" x 200) . "\"}"
--- more_headers
Content-Type: application/json
--- error_code: 413



=== TEST 16: a chunked body in two chunks parses
--- request eval
"POST /send
10\r
{\"phoneNumber\":\"\r
f\r
010-2222-0016\"}\r
0\r
\r
"
--- more_headers
Content-Type: application/json
Transfer-Encoding: chunked
--- error_code: 200
--- response_body_like: "phoneNumber":"\+821022220016"



=== TEST 17: a body spilled to a temporary file parses
--- config
    location = /send { client_body_buffer_size 16; smsverify send; }
--- request eval
"POST /send\n{\"phoneNumber\":\"010-2222-0017\",\"pad\":\"" . ("y" x 4000) . "\"}"
--- more_headers
Content-Type: application/json
--- error_code: 200
--- response_body_like: "phoneNumber":"\+821022220017"
--- error_log
a client request body is buffered to a temporary file



=== TEST 18: a body always kept in a file parses
--- config
    location = /send { client_body_in_file_only clean; smsverify send; }
--- request
POST /send
{"phoneNumber":"010-2222-0018"}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- response_body_like: "phoneNumber":"\+821022220018"



=== TEST 19: a body that arrives in pieces parses
--- raw_request eval
["POST /send HTTP/1.1\r
Host: localhost\r
Content-Type: application/json\r
Content-Length: 31\r
Connection: close\r
\r
{\"phoneNumber\":",
"\"010-2222-0019\"}"]
--- error_code: 200
--- response_body_like: "phoneNumber":"\+821022220019"



=== TEST 20: HEAD on status has no body
--- request
HEAD /status
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body



=== TEST 21: duplicate keys take the first
--- request
POST /send
{"phoneNumber":"010-2222-0021","phoneNumber":"nonsense"}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- response_body_like: "phoneNumber":"\+821022220021"
--- no_error_log
[alert]
[crit]
