# POST send: phones, countries, limits, providers.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: a send answers with the E.164 phone and the timings
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body chomp
{"status":"sent","phoneNumber":"+821012345678","expiresIn":180,"resendAfter":30}
--- error_log eval
qr/smsverify log provider: to "\+82 10-\*\*\*\*-5678" message "인증번호 \[\d{6}\]를 입력해주세요."/
--- no_error_log
+821012345678
01012345678



=== TEST 2: the "log" provider says it is for development at start-up
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- error_log
the "log" provider writes every code to the error log



=== TEST 3: every way of writing a Korean mobile is the same phone
--- request eval
["POST /send\n{\"phoneNumber\":\"01012345678\"}",
 "POST /send\n{\"phoneNumber\":\"+82 10 2345 6789\"}",
 "POST /send\n{\"phoneNumber\":\"(010) 3456.7890\"}",
 "POST /send\n{\"phoneNumber\":\"+82-010-4567-8901\"}",
 "POST /send\n{\"phoneNumber\":\"011-123-4567\"}",
 "POST /send\n{\"phoneNumber\":\"019-1234-5678\"}"]
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
['"phoneNumber":"\+821012345678"', '"phoneNumber":"\+821023456789"',
 '"phoneNumber":"\+821034567890"', '"phoneNumber":"\+821045678901"',
 '"phoneNumber":"\+82111234567"', '"phoneNumber":"\+821912345678"']



=== TEST 4: bad forms are INVALID_PHONE
--- request eval
["POST /send\n{\"phoneNumber\":\"\"}",
 "POST /send\n{\"phoneNumber\":\"010-1234-567\"}",
 "POST /send\n{\"phoneNumber\":\"010-1234-56789\"}",
 "POST /send\n{\"phoneNumber\":\"02-123-4567\"}",
 "POST /send\n{\"phoneNumber\":\"+82 2 123 4567\"}",
 "POST /send\n{\"phoneNumber\":\"010-1234-567a\"}",
 "POST /send\n{\"phoneNumber\":\"+1 415\"}",
 "POST /send\n{\"phoneNumber\":\"+1234567890123456\"}",
 "POST /send\n{\"phoneNumber\":\"--- ---\"}",
 "POST /send\n{\"phoneNumber\":\"１０１２３４５６７８\"}"]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400, 400, 400, 400]
--- response_body_like eval
[('^\{"error":"INVALID_PHONE","message":"[^"]+"\}$') x 10]



=== TEST 5: another country is COUNTRY_NOT_ALLOWED by default
--- request
POST /send
{"phoneNumber":"+1 415 555 0123"}
--- error_code: 400
--- response_body_like: ^\{"error":"COUNTRY_NOT_ALLOWED","message":"[^"]+"\}$



=== TEST 6: smsverify_countries admits other calling codes
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_countries 82 1;
--- request eval
["POST /send\n{\"phoneNumber\":\"+1 415 555 0123\"}",
 "POST /send\n{\"phoneNumber\":\"010-1234-5678\"}",
 "POST /send\n{\"phoneNumber\":\"+44 7700 900123\"}"]
--- error_code eval
[200, 200, 400]
--- response_body_like eval
['"phoneNumber":"\+14155550123"', '"phoneNumber":"\+821012345678"',
 '"error":"COUNTRY_NOT_ALLOWED"']



=== TEST 6b: a phone abroad is masked in the log too
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_countries 1;
--- request
POST /send
{"phoneNumber":"+1 415 555 0123"}
--- error_code: 200
--- error_log eval
qr/to "\+1 \*+0123"/
--- no_error_log
4155550123



=== TEST 7: a location's smsverify_countries replaces the inherited list
--- config
    location = /send {
        smsverify_countries 44;
        smsverify send;
    }
--- request eval
["POST /send\n{\"phoneNumber\":\"+44 7700 900123\"}",
 "POST /send\n{\"phoneNumber\":\"010-1234-5678\"}"]
--- error_code eval
[200, 400]
--- response_body_like eval
['"phoneNumber":"\+447700900123"', '"error":"COUNTRY_NOT_ALLOWED"']



=== TEST 8: a second send within the resend interval is RESEND_TOO_SOON
--- request eval
["POST /send\n{\"phoneNumber\":\"010-1234-5678\"}",
 "POST /send\n{\"phoneNumber\":\"010-1234-5678\"}",
 "POST /send\n{\"phoneNumber\":\"010-9999-5678\"}"]
--- error_code eval
[200, 429, 200]
--- response_headers eval
["", "Retry-After: 30", ""]
--- response_body_like eval
['"status":"sent"',
 '^\{"error":"RESEND_TOO_SOON","message":"[^"]+","retryAfter":30\}$',
 '"status":"sent"']



=== TEST 9: smsverify_resend_interval and the answer's resendAfter
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1s;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- response_body_like: "resendAfter":1\}
--- flow
my $res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{status}, 429, 'too soon after one send';
sleep 1.1;
$res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{status}, 200, 'a second after, a send is fine';



=== TEST 10: smsverify_send_limit counts sends in a sliding window
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_send_limit 3 1h;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
for my $i (2 .. 3) {
    my $res = sv_request(POST => '/send', { phoneNumber => '01012345678' });
    is $res->{status}, 200, "send $i of 3";
    sleep 0.01;
}
my $res = sv_request(POST => '/send', { phoneNumber => '+821012345678' });
is $res->{status}, 429, 'the fourth is over the limit';
is $res->{json}{error}, 'SEND_LIMIT', 'SEND_LIMIT';
ok $res->{json}{retryAfter} > 3500 && $res->{json}{retryAfter} <= 3600,
   'retryAfter is when the oldest send leaves the window';
is $res->{headers}{'retry-after'}, $res->{json}{retryAfter},
   'Retry-After says the same';
$res = sv_request(POST => '/send', { phoneNumber => '010-1111-2222' });
is $res->{status}, 200, 'another phone is not limited';



=== TEST 11: a send replaces the previous code
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $first = sv_code_for('5678');
sleep 0.01;
my $res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{status}, 200, 'second send';
my $second = sv_code_for('5678');
SKIP: {
    skip 'the CSPRNG drew the same code twice', 2 if $first eq $second;
    $res = sv_request(POST => '/confirm',
        { phoneNumber => '010-1234-5678', verificationNumber => $first });
    is $res->{json}{error}, 'CODE_MISMATCH', 'the first code stopped working';
    $res = sv_request(POST => '/confirm',
        { phoneNumber => '010-1234-5678', verificationNumber => $second });
    is $res->{status}, 200, 'the second code works';
}



=== TEST 12: codes are six uniform digits and never repeat a pattern
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
--- request
POST /send
{"phoneNumber":"010-0000-0000"}
--- error_code: 200
--- flow
my %seen;
my @count = (0) x 10;
for my $i (1 .. 60) {
    my $phone = sprintf '010-5555-%04d', $i;
    my $res = sv_request(POST => '/send', { phoneNumber => $phone });
    is $res->{status}, 200, "send to $phone" if $res->{status} != 200;
    my $code = sv_code_for($phone);
    like $code, qr/^\d{6}$/, 'six digits' if $code !~ /^\d{6}$/;
    $seen{$code}++;
    $count[$_]++ for split //, $code;
}
ok keys(%seen) >= 58, 'codes differ from send to send';
ok !(grep { $_ == 0 } @count), 'every digit shows up in 360 digits';



=== TEST 13: smsverify_code_length and smsverify_code_ttl show in code and answer
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_code_length 8;
    smsverify_code_ttl 5m;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- response_body_like: "expiresIn":300,
--- error_log eval
qr/message "인증번호 \[\d{8}\]를/



=== TEST 14: smsverify_message with nginx variables
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_message "[$host] code $smsverify_code";
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- error_log eval
qr/message "\[localhost\] code \d{6}"/



=== TEST 15: a message longer than one SMS at run time is INTERNAL, and changes nothing
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_message "$http_x_pad [$smsverify_code]";
--- config
    location = /send   { smsverify send; }
    location = /status { smsverify status; }
--- more_headers eval
"Content-Type: application/json\nX-Pad: " . ("x" x 100)
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 500
--- response_body_like: ^\{"error":"INTERNAL","message":"[^"]+"\}$
--- flow
my $res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' },
                     { 'X-Pad' => 'x' x 82 });
is $res->{status}, 500, '90 bytes and one more: INTERNAL again';
$res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' },
                  { 'X-Pad' => 'x' x 81 });
is $res->{status}, 200, 'exactly 90 bytes: sent, at once (nothing was counted)'
    or diag $res->{body};
my $st = sv_request(GET => '/status')->{json};
is $st->{sent}, 1, 'sent 1';
is $st->{rateLimited}, 0, 'rateLimited 0';
--- error_log
smsverify message takes 109 bytes in EUC-KR, more than one SMS (90)
smsverify message takes 91 bytes in EUC-KR, more than one SMS (90)



=== TEST 16: every provider failing is PROVIDER_FAILED and does not count
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=ncp:sms:kr:1:svc access_key=AK
                       secret_key=SK from=0212345678
                       url=http://127.0.0.1:1 timeout=1s;
    smsverify_resend_interval 30s;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens: /
--- flow
my $res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{status}, 502, 'again at once: not RESEND_TOO_SOON, the failure did not count';



=== TEST 17: failover: a failing provider first, then the log provider
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=u secure_key=k from=070-1234-5678
                       url=http://127.0.0.1:1 timeout=1s;
    smsverify_provider log;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- response_body_like: "status":"sent"
--- error_log eval
[qr/smsverify provider "cafe24" failed to send to "\+82 10-\*\*\*\*-5678"/,
 qr/smsverify log provider: to "\+82 10-\*\*\*\*-5678"/]



=== TEST 18: a location's providers replace the inherited ones
--- config
    location = /send {
        smsverify_provider sens service_id=s access_key=a secret_key=k
                           from=0212345678 url=http://127.0.0.1:1;
        smsverify send;
    }
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- no_error_log
smsverify log provider
