# POST confirm: codes, attempts, expiry, the token.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_terms 1 required;
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

=== TEST 1: the right code gives a token in the body and a cookie
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $code = sv_code_for('5678');
like $code, qr/^\d{6}$/, 'the code reached the log';
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '+82 10 1234 5678', verificationNumber => "$code" });
is $res->{status}, 200, 'confirmed';
is $res->{json}{status}, 'verified', 'status verified';
is $res->{json}{phoneNumber}, '+821012345678', 'E.164 phone';
is $res->{json}{expiresIn}, 1800, 'token TTL';
like $res->{json}{verificationToken}, qr/^[A-Za-z0-9_-]{43}$/, 'a token';
is $res->{headers}{'cache-control'}, 'no-store', 'no-store';
my $cookie = $res->{headers}{'set-cookie'};
like $cookie, qr/^smsverify_token=\Q$res->{json}{verificationToken}\E;/,
     'the cookie holds the token';
like $cookie, qr/; HttpOnly/, 'HttpOnly';
like $cookie, qr/; SameSite=Strict/, 'SameSite=Strict';
like $cookie, qr/; Path=\//, 'Path=/';
like $cookie, qr/; Max-Age=1800/, 'Max-Age is the token TTL';
unlike $cookie, qr/Secure/, 'not Secure over plain http';
--- no_error_log
[error]



=== TEST 2: a code works once
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $code = sv_code_for('5678');
my $body = { phoneNumber => '010-1234-5678', verificationNumber => "$code" };
is sv_request(POST => '/confirm', $body)->{status}, 200, 'first use';
my $res = sv_request(POST => '/confirm', $body);
is $res->{status}, 404, 'second use';
is $res->{json}{error}, 'NO_PENDING_CODE', 'NO_PENDING_CODE';



=== TEST 3: no code sent is NO_PENDING_CODE
--- request
POST /confirm
{"phoneNumber":"010-1234-5678","verificationNumber":"123456"}
--- error_code: 404
--- response_body_like: ^\{"error":"NO_PENDING_CODE","message":"[^"]+"\}$



=== TEST 4: wrong guesses count down, the last one burns the code
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $code = sv_code_for('5678');
my $wrong = sprintf '%06d', ($code + 1) % 1000000;
for my $left (reverse 1 .. 4) {
    my $res = sv_request(POST => '/confirm',
        { phoneNumber => '010-1234-5678', verificationNumber => $wrong });
    is $res->{status}, 400, "wrong guess, $left left";
    is $res->{json}{error}, 'CODE_MISMATCH', 'CODE_MISMATCH';
    is $res->{json}{attemptsLeft}, $left, "attemptsLeft $left";
}
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => $wrong });
is $res->{status}, 429, 'the fifth wrong guess';
is $res->{json}{error}, 'TOO_MANY_ATTEMPTS', 'TOO_MANY_ATTEMPTS';
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => "$code" });
is $res->{status}, 404, 'the right code after that';
is $res->{json}{error}, 'NO_PENDING_CODE', 'the code is burnt';



=== TEST 5: smsverify_max_attempts
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_max_attempts 2;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $code = sv_code_for('5678');
my $wrong = sprintf '%06d', ($code + 1) % 1000000;
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => $wrong });
is $res->{json}{attemptsLeft}, 1, 'one left';
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => $wrong });
is $res->{status}, 429, 'burnt at the second';



=== TEST 6: an expired code is CODE_EXPIRED
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_code_ttl 1s;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- response_body_like: "expiresIn":1,
--- flow
my $code = sv_code_for('5678');
sleep 1.2;
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => "$code" });
is $res->{status}, 410, 'expired' or diag $res->{body};
is $res->{json}{error}, 'CODE_EXPIRED', 'CODE_EXPIRED';



=== TEST 7: another phone's code does not confirm this phone
--- request
POST /send
{"phoneNumber":"010-1111-1111"}
--- error_code: 200
--- flow
my $code = sv_code_for('1111');
my $res = sv_request(POST => '/send', { phoneNumber => '010-2222-2222' });
is $res->{status}, 200, 'second phone';
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-2222-2222', verificationNumber => "$code" });
SKIP: {
    skip 'both phones drew the same code', 1
        if $code eq sv_code_for('2222');
    is $res->{json}{error}, 'CODE_MISMATCH', 'the first phone\'s code';
}
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1111-1111', verificationNumber => "$code" });
is $res->{status}, 200, 'the first phone is untouched';



=== TEST 8: a JSON number is INVALID_FIELD and changes nothing
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $code = sv_code_for('5678');
for my $bad ('{"phoneNumber":"010-1234-5678","verificationNumber":123456}',
             '{"phoneNumber":"010-1234-5678","verificationNumber":"12a456"}',
             '{"phoneNumber":"010-1234-5678","verificationNumber":""}',
             '{"phoneNumber":"010-1234-5678","verificationNumber":["1"]}')
{
    my $res = sv_request(POST => '/confirm', $bad,
                         { 'Content-Type' => 'application/json' });
    is $res->{status}, 400, "400 for $bad";
    is $res->{json}{error}, 'INVALID_FIELD', 'INVALID_FIELD';
    is $res->{json}{field}, 'verificationNumber', 'names the field';
}
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => "$code" });
is $res->{status}, 200, 'no attempt was spent: the code still works';



=== TEST 9: a missing verificationNumber is MISSING_FIELD
--- request
POST /confirm
{"phoneNumber":"010-1234-5678"}
--- error_code: 400
--- response_body_like: ^\{"error":"MISSING_FIELD","message":"[^"]+","field":"verificationNumber"\}$



=== TEST 10: bad phones are INVALID_PHONE and COUNTRY_NOT_ALLOWED
--- request eval
["POST /confirm\n{\"phoneNumber\":\"12\",\"verificationNumber\":\"123456\"}",
 "POST /confirm\n{\"phoneNumber\":\"+14155550123\",\"verificationNumber\":\"123456\"}"]
--- error_code eval
[400, 400]
--- response_body_like eval
['"error":"INVALID_PHONE"', '"error":"COUNTRY_NOT_ALLOWED"']



=== TEST 11: a wrong-length guess is a wrong guess
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => '1234' });
is $res->{json}{error}, 'CODE_MISMATCH', 'four digits do not match';
is $res->{json}{attemptsLeft}, 4, 'and count';



=== TEST 12: smsverify_token_ttl and smsverify_token_cookie off
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_token_ttl 10m;
    smsverify_token_cookie off;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => sv_code_for('5678') });
is $res->{status}, 200, 'confirmed';
is $res->{json}{expiresIn}, 600, 'expiresIn is the token TTL';
ok !defined $res->{headers}{'set-cookie'}, 'no cookie';



=== TEST 13: no code, token or full phone reaches the log, debug included
nginx itself dumps whole headers at debug level, cookies included: the
token is looked for with the cookie off.
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_token_cookie off;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $code = sv_code_for('5678');
my $wrong = sprintf '%06d', ($code + 1) % 1000000;
sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => $wrong });
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => "$code" });
my $token = $res->{json}{verificationToken};
open my $in, '<', $Test::Nginx::Util::ErrLogFile or die $!;
my @lines = grep { !/smsverify log provider/ } <$in>;
close $in;
ok !(grep { /\Q$code\E/ } @lines), 'the code is only in the provider line';
ok !(grep { /\Q$wrong\E/ } @lines), 'no guess';
ok !(grep { /\Q$token\E/ } @lines), 'no token';
ok !(grep { /1234-?5678|12345678/ } @lines), 'no unmasked phone';
