# The real providers, SENS and Cafe24, over real HTTP to t/mock/sms_mock.py:
# what goes on the wire, every way a call can fail, failover, what a
# failed send leaves behind, slow providers, keep-alive, secret files, and
# no secret in the log.
#
# A block may have a --- mock_behaviour section: one JSON object a line,
# each POSTed to the mock's /__mock/behaviour before the block starts
# (the mock is reset before every block).

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use IO::Socket::INET ();
use JSON::PP ();
use MIME::Base64 ();

# the credentials the mock checks, and nginx is given
$ENV{TEST_NGINX_SENS_ID}     = 'ncp:sms:kr:260512:smsverify';
$ENV{TEST_NGINX_SENS_KEY}    = 'AKMOCKACCESS0123';
$ENV{TEST_NGINX_SENS_SECRET} = 'sensSecret-Zq8Xw3Lp9Vb';
$ENV{TEST_NGINX_CAFE24_ID}   = 'smsverify';
$ENV{TEST_NGINX_CAFE24_KEY}  = 'cafe24Secure-Vh5Tn2Rk7Mc';
# what a wrongly configured nginx has instead
$ENV{TEST_NGINX_WRONG_SECRET} = 'wrongSecret-Hy4Ud6Qe1';

# a port nothing listens on
$ENV{TEST_NGINX_CLOSED_PORT} = do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp') or die "bind: $!";
    my $port = $s->sockport;
    close $s;
    $port;
};

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

sv_mock_start(
    sens_service_id   => $ENV{TEST_NGINX_SENS_ID},
    sens_access_key   => $ENV{TEST_NGINX_SENS_KEY},
    sens_secret_key   => $ENV{TEST_NGINX_SENS_SECRET},
    cafe24_user_id    => $ENV{TEST_NGINX_CAFE24_ID},
    cafe24_secure_key => $ENV{TEST_NGINX_CAFE24_KEY},
);

# never in the error log, whatever the block does: the secrets, and the
# phone most blocks send to other than masked
our @Never = ($ENV{TEST_NGINX_SENS_SECRET}, $ENV{TEST_NGINX_CAFE24_KEY},
              MIME::Base64::encode_base64($ENV{TEST_NGINX_CAFE24_KEY}, ''),
              $ENV{TEST_NGINX_WRONG_SECRET},
              '01012345678', '010-1234-5678', '+821012345678');

# timings under valgrind are an order of magnitude longer
{ package SmsVerify; our $Slack = $ENV{TEST_NGINX_USE_VALGRIND} ? 10 : 1; }

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_password_hash bcrypt cost=4;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /status  { smsverify status; }
    location = /fast    { return 200 "fast\n"; }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(http_config => $HttpConfig)
        if !defined $block->http_config;
    $block->set_value(config => $Config) if !defined $block->config;
    $block->set_value(more_headers => 'Content-Type: application/json')
        if !defined $block->more_headers;

    my $no = $block->no_error_log;
    my @no = !defined $no            ? ()
           : ref $no eq 'ARRAY'      ? @$no
           : ref $no eq 'Regexp'     ? ($no)
           : grep { length } split /\n+/, $no;
    $block->set_value(no_error_log => [@no, @Never]);

    sv_mock_reset();
    for my $line (split /\n/, $block->mock_behaviour // '') {
        next if $line !~ /\S/;
        sv_mock_behaviour(JSON::PP->new->decode($line));
    }
});

# ---- helpers for the flows -------------------------------------------------

sub SmsVerify::status_json {
    my $res = sv_request(GET => '/status');
    return $res->{json} // {};
}

# the text as UTF-8 bytes, as this file's literals are
sub SmsVerify::u8 { Encode::encode_utf8(shift // '') }

sub SmsVerify::error_log_text {
    open my $in, '<', $Test::Nginx::Util::ErrLogFile or die $!;
    local $/;
    return scalar <$in>;
}

# (the answer, the seconds it took)
sub SmsVerify::timed_request {
    my $t0 = Time::HiRes::time();
    my $res = sv_request(@_);
    return ($res, Time::HiRes::time() - $t0);
}

no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: sens: the message reaches SENS the way its API wants it
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- response_body chomp
{"status":"sent","phoneNumber":"+821012345678","expiresIn":180,"resendAfter":30}
--- flow
my $msgs = sv_mock_messages();
is scalar @$msgs, 1, 'the mock took one message';
my $m = $msgs->[0] // {};
is $m->{provider}, 'sens', 'through SENS';
is $m->{to}, '01012345678', 'to: the national digits';
is $m->{from}, '0212345678', 'from: the registered sender';
is $m->{countryCode}, '82', 'countryCode 82';
is $m->{type}, 'SMS', 'type SMS';
is $m->{contentType}, 'COMM', 'contentType COMM';
like u8($m->{text}), qr/^인증번호 \[\d{6}\]를 입력해주세요\.$/,
     'content: the default message with a 6-digit code';
like sv_mock_code_for('5678'), qr/^\d{6}$/, 'sv_mock_code_for finds the code';
my $st = status_json();
is_deeply $st->{providers}, { sens => { ok => 1, failed => 0 } },
          'providers.sens.ok 1';
is $st->{sent}, 1, 'sent 1';
--- no_error_log
[warn]
[error]



=== TEST 2: sens: send -> confirm -> signup with the code SENS carried
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $code = sv_mock_code_for('5678');
ok defined $code, 'the mock has the code';
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => "$code" });
is $res->{status}, 200, 'confirm' or diag $res->{body};
is $res->{json}{status}, 'verified', 'verified';
$res = sv_request(POST => '/signup',
    { email => 'kim@example.com', password => 'Passw0rd!', nickname => 'kim',
      phoneNumber => '+82 10 1234 5678', termsId => [],
      verificationToken => $res->{json}{verificationToken} });
is $res->{status}, 200, 'signup' or diag $res->{body};
is $res->{json}{status}, 'created', 'created';
$res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{json}{error}, 'PHONE_TAKEN', 'the phone is a member now';
is scalar @{ sv_mock_messages() }, 1, 'and no second SMS went out';



=== TEST 3: sens: a phone abroad goes with its own country code (and url= may end in /)
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_countries 82 1;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
--- request
POST /send
{"phoneNumber":"+1 415 555 0123"}
--- error_code: 200
--- flow
my ($m) = @{ sv_mock_messages() };
is $m->{countryCode}, '1', 'countryCode 1';
is $m->{to}, '4155550123', 'to: the number without its country code';



=== TEST 4: cafe24: hyphenated receiver, split sender, base64 of UTF-8
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- request
POST /send
{"phoneNumber":"+82 10 1234 5678"}
--- error_code: 200
--- response_body chomp
{"status":"sent","phoneNumber":"+821012345678","expiresIn":180,"resendAfter":30}
--- flow
my $res = sv_request(POST => '/send', { phoneNumber => '011-123-4567' });
is $res->{status}, 200, 'an old 10-digit mobile';
my ($m, $old) = @{ sv_mock_messages() };
is $m->{provider}, 'cafe24', 'through Cafe24';
is $m->{to}, '010-1234-5678', 'rphone with hyphens';
is $old->{to}, '011-123-4567', 'rphone of a 10-digit mobile: 3-3-4';
is $m->{from}, '070-1234-5678', 'sphone1..3: 070, 1234, 5678';
like u8($m->{text}), qr/^인증번호 \[\d{6}\]를 입력해주세요\.$/,
     'msg: base64 of the UTF-8 message';
ok !$m->{testflag}, 'no testflag';
like sv_mock_code_for('5678'), qr/^\d{6}$/, 'sv_mock_code_for finds the code';
is_deeply status_json()->{providers}, { cafe24 => { ok => 2, failed => 0 } },
          'providers.cafe24.ok 2';
--- no_error_log
[warn]
[error]



=== TEST 5: cafe24: testflag=on ("Test Success!") a two-part sender, url= ending in /
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=1588-0000 testflag=on
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT/;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- response_body_like: "status":"sent"
--- flow
my ($m) = @{ sv_mock_messages() };
ok $m->{testflag}, 'testflag=Y went with it';
is $m->{from}, '1588-0000', 'sphone1, sphone2: 1588, 0000';
is $m->{to}, '010-1234-5678', 'rphone';



=== TEST 6: cafe24: a template with text in brackets and a longer code
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_message "[MyShop] 인증번호 [$smsverify_code]를 입력해주세요.";
    smsverify_code_length 8;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my ($m) = @{ sv_mock_messages() };
like u8($m->{text}), qr/^\[MyShop\] 인증번호 \[\d{8}\]를 입력해주세요\.$/,
     'the whole template';
my $code = sv_mock_code_for('010-1234-5678');
like $code, qr/^\d{8}$/, 'sv_mock_code_for skips [MyShop]';
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => "$code" });
is $res->{status}, 200, 'and the code confirms';



=== TEST 7: sens answers HTTP 400
--- mock_behaviour
{"provider": "sens", "mode": "http400"}
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens answered 400: "Bad Request Exception"/
--- flow
my $st = status_json();
is $st->{sendFailed}, 1, 'sendFailed 1';
is $st->{sent}, 0, 'sent 0';
is_deeply $st->{providers}, { sens => { ok => 0, failed => 1 } },
          'providers.sens.failed 1';
is $st->{codesPending}, 0, 'no code pending';



=== TEST 8: sens answers HTTP 500
--- mock_behaviour
{"provider": "sens", "mode": "http500"}
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens answered 500: "Unexpected Error"/



=== TEST 9: sens answers 202 with a body that is not JSON
--- mock_behaviour
{"provider": "sens", "mode": "garbage"}
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens answered 202: "<html><body>garbage<\/body><\/html>"/



=== TEST 10: sens answers 202 with a statusCode other than 202
--- mock_behaviour
{"provider": "sens", "mode": "badstatus"}
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens answered 202: "fail"/



=== TEST 11: sens with a wrong secret_key: the gateway refuses the signature
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_WRONG_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens answered 401: "Authentication Failed"/
--- flow
is scalar @{ sv_mock_messages() }, 0, 'the mock took nothing';



=== TEST 12: sens with a wrong service_id
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=ncp:sms:kr:1:other
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens answered 404: "Not Found serviceId"/



=== TEST 13: sens at a closed port: connection refused
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_CLOSED_PORT;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens: .*(?:Connection refused|Couldn't connect)/



=== TEST 14: sens that never answers: timeout=500ms ends the wait
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT
        timeout=500ms;
--- mock_behaviour
{"provider": "sens", "mode": "hang", "count": 1}
--- request
GET /status
--- error_code: 200
--- flow
my ($res, $took) = timed_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{status}, 502, "the send fails";
is $res->{json}{error}, 'PROVIDER_FAILED', 'PROVIDER_FAILED';
ok $took >= 0.45 && $took < 2 * $SmsVerify::Slack, "the answer came after the timeout ($took s)";
($res, $took) = timed_request(POST => '/send', { phoneNumber => '010-1234-0000' });
is $res->{status}, 200, 'the next send goes through';
--- error_log eval
qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens: .*timed out/



=== TEST 15: cafe24 answers HTTP 400
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- mock_behaviour
{"provider": "cafe24", "mode": "http400"}
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "cafe24" failed to send to "\+82 10-\*\*\*\*-5678": cafe24: HTTP 400/
--- flow
my $st = status_json();
is $st->{sendFailed}, 1, 'sendFailed 1';
is_deeply $st->{providers}, { cafe24 => { ok => 0, failed => 1 } },
          'providers.cafe24.failed 1';



=== TEST 16: cafe24 answers HTTP 500
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- mock_behaviour
{"provider": "cafe24", "mode": "http500"}
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "cafe24" failed to send to "\+82 10-\*\*\*\*-5678": cafe24: HTTP 500/



=== TEST 17: cafe24 answers binary garbage: escaped in the log
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- mock_behaviour
{"provider": "cafe24", "mode": "garbage"}
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "cafe24" failed to send to "\+82 10-\*\*\*\*-5678": cafe24 answered "\\x00\\x01garbage\\xff", client:/



=== TEST 18: cafe24 answers a result code (-100)
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- mock_behaviour
{"provider": "cafe24", "mode": "badstatus"}
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "cafe24" failed to send to "\+82 10-\*\*\*\*-5678": cafe24 answered "-100"/



=== TEST 19: cafe24 with a wrong secure_key (-102)
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_WRONG_SECRET from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "cafe24" failed to send to "\+82 10-\*\*\*\*-5678": cafe24 answered "-102"/
--- flow
is scalar @{ sv_mock_messages() }, 0, 'the mock took nothing';



=== TEST 20: with testflag off, "Test Success!" is no sent message
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/test-only;
--- config
    location = /send { smsverify send; }
    location = /test-only/sms_sender.php { return 200 "Test Success!"; }
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "cafe24" failed to send to "\+82 10-\*\*\*\*-5678": cafe24 answered "Test Success!"/



=== TEST 21: cafe24 at a closed port, and cafe24 that never answers
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_resend_interval 1ms;
--- config
    location = /refused {
        smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
            secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
            url=http://127.0.0.1:$TEST_NGINX_CLOSED_PORT;
        smsverify send;
    }
    location = /hang {
        smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
            secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
            url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=500ms;
        smsverify send;
    }
--- mock_behaviour
{"provider": "cafe24", "mode": "hang", "count": 1}
--- request
POST /refused
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- flow
my ($res, $took) = timed_request(POST => '/hang', { phoneNumber => '010-1234-1111' });
is $res->{status}, 502, 'a hanging Cafe24: 502';
ok $took >= 0.45 && $took < 2 * $SmsVerify::Slack, "after the timeout ($took s)";
--- error_log eval
[qr/\[warn\] .*smsverify provider "cafe24" failed to send to "\+82 10-\*\*\*\*-5678": cafe24: .*(?:Connection refused|Couldn't connect)/,
 qr/\[warn\] .*smsverify provider "cafe24" failed to send to "\+82 10-\*\*\*\*-1111": cafe24: .*timed out/]



=== TEST 22: failover: sens answers 500, cafe24 takes the message
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- mock_behaviour
{"provider": "sens", "mode": "http500"}
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- response_body_like: "status":"sent"
--- error_log eval
qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens answered 500: "Unexpected Error"/
--- flow
my $msgs = sv_mock_messages();
is_deeply [map { $_->{provider} } @$msgs], ['cafe24'], 'Cafe24 alone took it';
my $st = status_json();
is_deeply $st->{providers},
    { sens => { ok => 0, failed => 1 }, cafe24 => { ok => 1, failed => 0 } },
    'providers.sens.failed 1, providers.cafe24.ok 1';
is $st->{sent}, 1, 'sent 1';
is $st->{sendFailed}, 0, 'sendFailed 0';
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => '' . sv_mock_code_for('5678') });
is $res->{status}, 200, 'the code Cafe24 carried confirms';
--- no_error_log
provider "cafe24" failed



=== TEST 23: failover from a refused connection and from a timeout
--- http_config
    smsverify_store smsverify_temp size=8m;
--- config
    location = /refused {
        smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
            access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
            from=0212345678 url=http://127.0.0.1:$TEST_NGINX_CLOSED_PORT;
        smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
            secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
            url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        smsverify send;
    }
    location = /hang {
        smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
            access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
            from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT
            timeout=500ms;
        smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
            secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
            url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        smsverify send;
    }
    location = /status { smsverify status; }
--- mock_behaviour
{"provider": "sens", "mode": "hang", "count": 1}
--- request
POST /refused
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my ($res, $took) = timed_request(POST => '/hang', { phoneNumber => '010-1234-1111' });
is $res->{status}, 200, 'a hanging SENS: Cafe24 took it';
ok $took >= 0.45 && $took < 2 * $SmsVerify::Slack, "after SENS' timeout ($took s)";
is_deeply [map { "$_->{provider} $_->{to}" } @{ sv_mock_messages() }],
          ['cafe24 010-1234-5678', 'cafe24 010-1234-1111'], 'both by Cafe24';
is_deeply status_json()->{providers},
    { sens => { ok => 0, failed => 2 }, cafe24 => { ok => 2, failed => 0 } },
    'the counters';
--- error_log eval
[qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens: .*(?:Connection refused|Couldn't connect)/,
 qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-1111": sens: .*timed out/]



=== TEST 24: the order is the configured one: a good first provider is the only one asked
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
is_deeply [map { $_->{provider} } @{ sv_mock_messages() }], ['cafe24'],
          'Cafe24 only';
is_deeply status_json()->{providers},
    { sens => { ok => 0, failed => 0 }, cafe24 => { ok => 1, failed => 0 } },
    'SENS was not asked';



=== TEST 25: every provider fails: 502, each failure logged and counted
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- mock_behaviour
{"provider": "sens", "mode": "http400"}
{"provider": "cafe24", "mode": "badstatus"}
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
[qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens answered 400: "Bad Request Exception"/,
 qr/\[warn\] .*smsverify provider "cafe24" failed to send to "\+82 10-\*\*\*\*-5678": cafe24 answered "-100"/]
--- flow
my $st = status_json();
is_deeply $st->{providers},
    { sens => { ok => 0, failed => 1 }, cafe24 => { ok => 0, failed => 1 } },
    'both failures counted';
is $st->{sendFailed}, 1, 'sendFailed 1';
is $st->{codesPending}, 0, 'no code pending';



=== TEST 26: after an all-fail 502 the send is not counted: an immediate resend goes
--- mock_behaviour
{"provider": "sens", "mode": "http500", "count": 1}
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- flow
my $res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{status}, 200, 'the resend right away is not RESEND_TOO_SOON'
    or diag $res->{body};
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => '' . sv_mock_code_for('5678') });
is $res->{status}, 200, 'its code confirms';
my $st = status_json();
is $st->{rateLimited}, 0, 'rateLimited 0';
is $st->{sendFailed}, 1, 'sendFailed 1';
is $st->{sent}, 1, 'sent 1';



=== TEST 27: a failed resend leaves the previous code working, and its own stamp out
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_resend_interval 1s;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $first = sv_mock_code_for('5678');
my $res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{json}{error}, 'RESEND_TOO_SOON', 'within the interval: RESEND_TOO_SOON';
sleep 1.1;
sv_mock_behaviour({ provider => 'sens', mode => 'http500', count => 1 });
$res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{status}, 502, 'the resend fails';
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => "$first" });
is $res->{status}, 200, 'the first code still confirms' or diag $res->{body};
$res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{status}, 200,
   'a send right after the failed one: its stamp was taken back'
   or diag $res->{body};
my $second = sv_mock_code_for('5678');
isnt $second, $first, 'a new code';
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => "$second" });
is $res->{status}, 200, 'which confirms';



=== TEST 28: failed sends do not count against smsverify_send_limit
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_resend_interval 1ms;
    smsverify_send_limit 2 1h;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
sv_mock_behaviour({ provider => 'sens', mode => 'http500', count => 3 });
my @got = map { sv_request(POST => '/send', { phoneNumber => '010-1234-5678' })->{status} } 1 .. 3;
is_deeply \@got, [502, 502, 502], 'three failures';
my $res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{status}, 200, 'the second real send is within the limit'
    or diag $res->{body};
sleep 0.01;     # past the 1ms resend interval: the loop answers at once
$res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{json}{error}, 'SEND_LIMIT', 'the third is over it';



=== TEST 29: a slow provider holds up its own sends only
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT
        timeout=3s;
--- mock_behaviour
{"provider": "sens", "mode": "ok", "delay_ms": 1500, "count": 4}
--- request
GET /fast
--- error_code: 200
--- timeout: 10
--- flow
my $t0 = Time::HiRes::time();
my @kids = map { sv_request_in_child(POST => '/send',
                                     { phoneNumber => "010-1234-000$_" }) }
           1 .. 4;
sleep 0.3;
my $slowest = 0;
for (1 .. 3) {
    for my $path ('/fast', '/status') {
        my ($res, $took) = timed_request(GET => $path);
        is $res->{status}, 200, "$path answers while the sends wait";
        $slowest = $took if $took > $slowest;
    }
}
ok $slowest < 0.2 * $SmsVerify::Slack, "at once (the slowest took $slowest s)";
is_deeply [map { sv_child_status($_) } @kids], [200, 200, 200, 200],
          'the slow sends got through';
my $all = Time::HiRes::time() - $t0;
ok $all < 3 * $SmsVerify::Slack, "side by side, not one after another ($all s)";
is scalar @{ sv_mock_messages() }, 4, 'four messages';



=== TEST 30: keep-alive: one pool thread sends over one connection
--- main_config
    thread_pool one threads=1;
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_thread_pool one;
--- config
    location = /sens {
        smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
            access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
            from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        smsverify send;
    }
    location = /cafe24 {
        smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
            secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
            url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        smsverify send;
    }
--- request
POST /sens
{"phoneNumber":"010-1234-0001"}
--- error_code: 200
--- flow
for my $step (['/sens', '0002'], ['/cafe24', '0003'], ['/cafe24', '0004']) {
    my $res = sv_request(POST => $step->[0], { phoneNumber => "010-1234-$step->[1]" });
    is $res->{status}, 200, "$step->[0] $step->[1]";
}
my @m = @{ sv_mock_messages() };
is scalar @m, 4, 'four messages';
ok $m[0]{conn} && $m[0]{conn} == $m[1]{conn},
   "two SENS sends, one connection ($m[0]{conn}, $m[1]{conn})";
ok $m[2]{conn} && $m[2]{conn} == $m[3]{conn},
   "two Cafe24 sends, one connection ($m[2]{conn}, $m[3]{conn})";



=== TEST 31: keep-alive: a connection dropped by a timeout is replaced
--- main_config
    thread_pool one threads=1;
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_thread_pool one;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT
        timeout=500ms;
--- request
POST /send
{"phoneNumber":"010-1234-0001"}
--- error_code: 200
--- flow
sv_mock_behaviour({ provider => 'sens', mode => 'hang', count => 1 });
my $res = sv_request(POST => '/send', { phoneNumber => '010-1234-0002' });
is $res->{status}, 502, 'a timeout';
$res = sv_request(POST => '/send', { phoneNumber => '010-1234-0003' });
is $res->{status}, 200, 'the next send works';
$res = sv_request(POST => '/send', { phoneNumber => '010-1234-0004' });
is $res->{status}, 200, 'and the next';
my @m = @{ sv_mock_messages() };
is scalar @m, 3, 'three messages';
isnt $m[1]{conn}, $m[0]{conn}, 'a new connection after the timeout';
is $m[2]{conn}, $m[1]{conn}, 'kept alive again';



=== TEST 32: secret_key_file= and secure_key_file= (CRLF ends a line too)
--- http_config
    smsverify_store smsverify_temp size=8m;
--- config
    location = /sens {
        smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
            access_key=$TEST_NGINX_SENS_KEY
            secret_key_file=$TEST_NGINX_HTML_DIR/sens.secret
            from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        smsverify send;
    }
    location = /cafe24 {
        smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
            secure_key_file=$TEST_NGINX_HTML_DIR/cafe24.secret
            from=070-1234-5678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        smsverify send;
    }
--- user_files eval
[["sens.secret", "$ENV{TEST_NGINX_SENS_SECRET}\n"],
 ["cafe24.secret", "$ENV{TEST_NGINX_CAFE24_KEY}\r\nsecond line\n"]]
--- request
POST /sens
{"phoneNumber":"010-1234-0001"}
--- error_code: 200
--- flow
my $res = sv_request(POST => '/cafe24', { phoneNumber => '010-1234-0002' });
is $res->{status}, 200, 'cafe24 with the key from its file' or diag $res->{body};
is_deeply [map { $_->{provider} } @{ sv_mock_messages() }], ['sens', 'cafe24'],
          'both accepted';



=== TEST 33: a key file with the wrong key is a wrong key
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY
        secret_key_file=$TEST_NGINX_HTML_DIR/sens.secret
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- user_files
>>> sens.secret
$TEST_NGINX_WRONG_SECRET
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens answered 401/



=== TEST 34: no secret, code, token or password in the debug log of a whole flow
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_code_length 10;
    smsverify_token_cookie off;
    smsverify_password_hash bcrypt cost=4;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- log_level: debug
--- request
GET /status
--- error_code: 200
--- flow
my (@codes, @tokens);
my $password = 'Pa55word-Kx9';
my $n = 0;
# one through SENS, one failed over to Cafe24, one that both refuse
for my $phone ('010-1234-0001', '010-1234-0002', '010-1234-0003') {
    $n++;
    sv_mock_behaviour({ provider => 'sens', mode => 'http400', count => 1 })
        if $n >= 2;
    sv_mock_behaviour({ provider => 'cafe24', mode => 'http500', count => 1 })
        if $n == 3;
    my $res = sv_request(POST => '/send', { phoneNumber => $phone });
    is $res->{status}, $n == 3 ? 502 : 200, "send $n";
    next if $n == 3;
    my $code = sv_mock_code_for($phone);
    push @codes, $code;
    $res = sv_request(POST => '/confirm',
        { phoneNumber => $phone, verificationNumber => '0000000000' });
    is $res->{json}{error}, 'CODE_MISMATCH', "a wrong guess $n";
    $res = sv_request(POST => '/confirm',
        { phoneNumber => $phone, verificationNumber => "$code" });
    is $res->{status}, 200, "confirm $n";
    my $token = $res->{json}{verificationToken};
    push @tokens, $token;
    $res = sv_request(POST => '/signup',
        { email => "m$n\@example.com", password => $password,
          nickname => "m$n", phoneNumber => $phone, termsId => [],
          verificationToken => $token });
    is $res->{status}, 200, "signup $n";
}
is scalar(@codes), 2, 'two codes';
is scalar(@tokens), 2, 'two tokens';
my $log = error_log_text();
like $log, qr/\[debug\]/, 'the log is at debug level';
like $log, qr/smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-0003"/,
     'and the failures, with masked phones';
ok !grep({ !defined $_ || length($_) < 16 } @tokens), 'the tokens are long enough to find';
for my $what (['the SENS secret key', $ENV{TEST_NGINX_SENS_SECRET}],
              ['the Cafe24 secure key', $ENV{TEST_NGINX_CAFE24_KEY}],
              ['the Cafe24 secure key in base64', MIME::Base64::encode_base64($ENV{TEST_NGINX_CAFE24_KEY}, '')],
              ['the password', $password],
              (map { ["code $_", $_] } @codes),
              (map { ["token $_", $_] } @tokens))
{
    ok index($log, $what->[1]) < 0, "$what->[0] is not in the log";
}



=== TEST 35: sens from= must be digits: a config error, not a failure at each send
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=02-1234-5678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- must_die
--- error_log eval
qr/\[emerg\] .*"from=02-1234-5678".*"sens".*digits.* in \S+nginx\.conf:\d+/



=== TEST 36: cafe24 from= must be a hyphenated number: a config error too
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=07012345678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- must_die
--- error_log eval
qr/\[emerg\] .*"from=07012345678".*"cafe24".* in \S+nginx\.conf:\d+/



=== TEST 37: cafe24 from= the config takes must be one Cafe24 sends (a group of 8 digits)
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=12345678-1234
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- must_die
--- error_log eval
qr/\[emerg\] .*"from=12345678-1234".*"cafe24".* in \S+nginx\.conf:\d+/



=== TEST 38: sens service_id= with a character SENS is never sent: a config error
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=ncp:sms:kr:1:svc/x
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- must_die
--- error_log eval
qr/\[emerg\] .*(?:"sens".*service_id|service_id.*"sens").* in \S+nginx\.conf:\d+/



=== TEST 39: every pool thread's HTTP handle goes at exit, after its last send (check with TEST_NGINX_USE_VALGRIND=1)
--- main_config
    thread_pool many threads=20;
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_thread_pool many;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT
        timeout=5s;
--- mock_behaviour
{"provider": "sens", "mode": "ok", "delay_ms": 300}
--- request
GET /fast
--- error_code: 200
--- timeout: 20
--- flow
# as many sends at once as threads: every thread makes its own handle
my @kids = map { sv_request_in_child(POST => '/send',
                     { phoneNumber => sprintf('010-1234-%04d', $_) }) } 1 .. 20;
is_deeply [map { sv_child_status($_) } @kids], [(200) x 20], 'all sent';
is scalar @{ sv_mock_messages() }, 20, 'twenty messages';
my %conns = map { $_->{conn} => 1 } @{ sv_mock_messages() };
ok keys(%conns) > 1, 'over several connections: several threads ('
   . keys(%conns) . ')';



=== TEST 40: a redirect is not followed: the form goes nowhere else
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_SERVER_PORT/moved;
--- config
    location = /send { smsverify send; }
    location = /moved/sms_sender.php {
        return 307 http://127.0.0.1:$TEST_NGINX_MOCK_PORT/sms_sender.php;
    }
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "cafe24" failed to send to "\+82 10-\*\*\*\*-5678": cafe24: HTTP 307/
--- flow
is scalar @{ sv_mock_messages() }, 0, 'the mock got nothing';



=== TEST 41: https to a server that speaks plain HTTP: a TLS failure, not a hang
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=https://127.0.0.1:$TEST_NGINX_MOCK_PORT
        timeout=2s;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- error_log eval
qr/\[warn\] .*smsverify provider "sens" failed to send to "\+82 10-\*\*\*\*-5678": sens: .*(?:SSL|TLS|ssl|tls)/



=== TEST 42: cafe24 is never handed a number abroad: SENS, next in line, takes it with its country code
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_countries 82 1 44;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- request
POST /send
{"phoneNumber":"010-5555-6666"}
--- error_code: 200
--- response_body_like: "phoneNumber":"\+821055556666"
--- flow
# three phones to the store: once all three went to 010-5555-6666
for my $phone ('+1 010 5555 6666', '+44 010 5555 6666',
               '+1 415 555 0123', '+44 7911 123456') {
    my $res = sv_request(POST => '/send', { phoneNumber => $phone });
    is $res->{status}, 200, "$phone sent" or diag $res->{body};
}
is_deeply [map { "$_->{provider} $_->{to}" }
           grep { $_->{provider} eq 'cafe24' } @{ sv_mock_requests() }],
          ['cafe24 010-5555-6666'], 'Cafe24 was asked for the Korean phone only';
is_deeply [map { "$_->{provider} +" . ($_->{countryCode} // '') . " $_->{to}" }
           @{ sv_mock_messages() }],
          ['cafe24 + 010-5555-6666',
           'sens +1 01055556666', 'sens +44 01055556666',
           'sens +1 4155550123', 'sens +44 7911123456'],
          'SENS: countryCode and the digits after it';
my $st = status_json();
is_deeply $st->{providers},
    { cafe24 => { ok => 1, failed => 0 }, sens => { ok => 4, failed => 0 } },
    'a provider not asked is neither ok nor failed';
is $st->{sent}, 5, 'sent 5';
is $st->{sendFailed}, 0, 'sendFailed 0';
my $res = sv_request(POST => '/confirm', { phoneNumber => '+44 7911 123456',
    verificationNumber => '' . sv_mock_code_for('+44 7911123456') });
is $res->{status}, 200, 'the code SENS carried abroad confirms';
--- error_log eval
qr/\[info\] .*smsverify provider "cafe24" not asked to send to "\+44 \*+3456": cafe24: sends within Korea \(\+82\) only/
--- no_error_log
[warn]
[error]



=== TEST 43: cafe24 alone and a number abroad: 502, Cafe24 got nothing, the send is not counted
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_countries 82 1;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
--- request
POST /send
{"phoneNumber":"+1 010 5555 6666"}
--- error_code: 502
--- response_body_like: ^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$
--- flow
my $res = sv_request(POST => '/send', { phoneNumber => '+1 010 5555 6666' });
is $res->{status}, 502, 'a resend at once: 502 again, not RESEND_TOO_SOON'
    or diag $res->{body};
$res = sv_request(POST => '/send', { phoneNumber => '010-5555-6666' });
is $res->{status}, 200, 'a Korean phone still goes through Cafe24';
is_deeply [map { "$_->{provider} $_->{to}" } @{ sv_mock_requests() }],
          ['cafe24 010-5555-6666'], 'Cafe24 was asked for the Korean phone only';
my $st = status_json();
is_deeply $st->{providers}, { cafe24 => { ok => 1, failed => 0 } },
          'the skips are not failures';
is $st->{sendFailed}, 2, 'sendFailed 2';
is $st->{sent}, 1, 'sent 1';
is $st->{rateLimited}, 0, 'rateLimited 0';
is $st->{codesPending}, 1, 'a code for the Korean phone only';
--- error_log eval
qr/\[warn\] .*smsverify provider "cafe24" not asked to send to "\+1 \*+6666": cafe24: sends within Korea \(\+82\) only/
--- no_error_log
failed to send



=== TEST 44: a full thread pool queue: 503 BUSY, and the send it refused changed nothing
--- main_config
    thread_pool tiny threads=1 max_queue=1;
--- config
    location = /send   { smsverify_thread_pool tiny; smsverify send; }
    location = /status { smsverify status; }
    location = /fast   { return 200 "fast\n"; }
--- request
GET /fast
--- error_code: 200
--- timeout: 10
--- flow
# one send in the pool's thread, at the provider; then one in its queue of
# 1, well past the 20 ms in which a send would wait in the worker instead
my $hold = $SmsVerify::Slack > 1 ? 4 : 1;
sv_mock_behaviour({ provider => 'sens', mode => 'ok',
                    delay_ms => 1000 * $hold, count => 2 });
my @kids = (sv_request_in_child(POST => '/send',
                                { phoneNumber => '010-1234-0001' }));
ok sv_wait_until(sub { @{ sv_mock_requests() } == 1 }, 5 * $hold),
   'the first send is at the provider';
push @kids, sv_request_in_child(POST => '/send',
                                { phoneNumber => '010-1234-0002' });
sleep 0.4 * $hold;
my $res = sv_request(POST => '/send', { phoneNumber => '010-1234-0003' });
is $res->{status}, 503, 'the third: 503';
is $res->{json}{error}, 'BUSY', 'BUSY';
is $res->{headers}{'retry-after'}, '1', 'Retry-After: 1';
is_deeply [map { sv_child_status($_) } @kids], [200, 200],
          'the two in the pool got through';
is_deeply [sort map { $_->{to} } @{ sv_mock_requests() }],
          ['01012340001', '01012340002'], 'the refused send reached no provider';
$res = sv_request(POST => '/send', { phoneNumber => '010-1234-0003' });
is $res->{status}, 200, 'the refused phone sends at once: nothing was counted'
    or diag $res->{body};
my $st = status_json();
is $st->{sent}, 3, 'sent 3';
is $st->{rateLimited}, 0, 'rateLimited 0';
is $st->{codesPending}, 3, 'three codes';
--- error_log
thread pool "tiny" queue overflow
