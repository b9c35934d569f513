# smsverify_test_number PHONE CODE (API.md sections 1 and 4): a send to
# PHONE calls no provider, counts against no limit and no provider counter,
# stores CODE as the phone's code (which then confirms like any code) and
# answers as a real send does; it is counted as testSends. nginx warns at
# start-up for each, and never logs the code. The real provider is SENS on
# the mock (t/mock/sms_mock.py), so that "no provider was called" is the
# mock's own record.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

$ENV{TEST_NGINX_SENS_ID}     = 'ncp:sms:kr:260512:smsverify';
$ENV{TEST_NGINX_SENS_KEY}    = 'AKMOCKACCESS0123';
$ENV{TEST_NGINX_SENS_SECRET} = 'sensSecret-Zq8Xw3Lp9Vb';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

sv_mock_start(
    sens_service_id => $ENV{TEST_NGINX_SENS_ID},
    sens_access_key => $ENV{TEST_NGINX_SENS_KEY},
    sens_secret_key => $ENV{TEST_NGINX_SENS_SECRET},
);

# the test numbers' codes: in no log, whatever the block does
our @Never = ('482915', '73920418');

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    smsverify_test_number +821000000001 482915;
_EOC_

# X-Pid names the worker that answered
our $Config = <<'_EOC_';
    add_header X-Pid $pid always;
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /status  { smsverify status; }
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

    sv_mock_reset() if !defined $block->must_die;
});

# counters in shared memory, summed over the workers
workers(2);
master_on();
no_shuffle();
sv_flow_blocks();
run_tests();

sub SmsVerify::status_json {
    my $res = sv_request(GET => '/status');
    return $res->{json} // {};
}

sub SmsVerify::error_log_text {
    open my $in, '<', $Test::Nginx::Util::ErrLogFile or die $!;
    local $/;
    return scalar <$in>;
}

__DATA__

=== TEST 1: a send to a test number answers as a real send, and no provider hears of it
--- request
POST /send
{"phoneNumber":"+821000000001"}
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body chomp
{"status":"sent","phoneNumber":"+821000000001","expiresIn":180,"resendAfter":30}
--- flow
is_deeply sv_mock_requests(), [], 'the mock got no request';
my $st = status_json();
is $st->{testSends}, 1, 'testSends 1';
is $st->{sent}, 0, 'sent 0';
is $st->{codesPending}, 1, 'a code is pending';
is_deeply $st->{providers}, { sens => { ok => 0, failed => 0 } },
    'no provider counter moved';

# the mock does hear of a real send: its silence above means something
my $res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{status}, 200, 'a real send';
is scalar @{ sv_mock_requests() }, 1, 'the mock got the real send';
--- no_error_log
[error]



=== TEST 2: the whole flow with the fixed code: send, confirm, signup
--- request
POST /send
{"phoneNumber":"010-0000-0001"}
--- error_code: 200
--- response_body chomp
{"status":"sent","phoneNumber":"+821000000001","expiresIn":180,"resendAfter":30}
--- flow
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '+82 10 0000 0001', verificationNumber => '482915' });
is $res->{status}, 200, 'the fixed code confirms';
is $res->{json}{status}, 'verified', 'verified';
my $token = $res->{json}{verificationToken};
ok $token, 'with a token';

$res = sv_request(POST => '/signup', {
    email => 'reviewer@example.com', password => 'Passw0rd!',
    nickname => 'reviewer', phoneNumber => '01000000001', termsId => [1],
    verificationToken => $token,
});
is $res->{status}, 200, 'signup';
is $res->{json}{status}, 'created', 'created';

my $st = status_json();
is $st->{confirmed}, 1, 'confirmed 1';
is $st->{signups}, 1, 'signups 1';
is $st->{members}, 1, 'a member';
is $st->{testSends}, 1, 'testSends 1';
is $st->{sent}, 0, 'sent 0';
is_deeply sv_mock_requests(), [], 'no provider was asked, from send to signup';

# a member has the phone now: the send answers as a real send would
$res = sv_request(POST => '/send', { phoneNumber => '+821000000001' });
is $res->{status}, 409, 'a test send to a member phone';
is $res->{json}{error}, 'PHONE_TAKEN', 'PHONE_TAKEN';
is status_json()->{testSends}, 1, 'not counted';



=== TEST 3: the fixed code confirms like any code: wrong guesses count, a use ends it
--- http_config eval
$::HttpConfig . "    smsverify_max_attempts 2;\n"
--- request
POST /send
{"phoneNumber":"+821000000001"}
--- error_code: 200
--- flow
my $c = sub {
    sv_request(POST => '/confirm',
               { phoneNumber => '+821000000001', verificationNumber => shift });
};
my $res = $c->('000000');
is $res->{json}{error}, 'CODE_MISMATCH', 'a wrong guess';
is $res->{json}{attemptsLeft}, 1, 'one attempt left';
$res = $c->('000001');
is $res->{json}{error}, 'TOO_MANY_ATTEMPTS', 'the second burns it';
$res = $c->('482915');
is $res->{json}{error}, 'NO_PENDING_CODE', 'the fixed code no longer works';

$res = sv_request(POST => '/send', { phoneNumber => '+821000000001' });
is $res->{status}, 200, 'a new send, at once';
$res = $c->('482915');
is $res->{status}, 200, 'confirms';
$res = $c->('482915');
is $res->{json}{error}, 'NO_PENDING_CODE', 'once only';
is status_json()->{confirmFailed}, 4, 'confirmFailed counts them as any';



=== TEST 4: the fixed code expires with the code TTL
--- http_config eval
$::HttpConfig . "    smsverify_code_ttl 1s;\n"
--- request
POST /send
{"phoneNumber":"+821000000001"}
--- error_code: 200
--- response_body chomp
{"status":"sent","phoneNumber":"+821000000001","expiresIn":1,"resendAfter":30}
--- flow
Time::HiRes::sleep(1.3);
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '+821000000001', verificationNumber => '482915' });
is $res->{json}{error}, 'CODE_EXPIRED', 'expired';



=== TEST 5: no limit applies: 20 sends in a row, across both workers, all 200
--- http_config eval
$::HttpConfig . "    smsverify_send_limit 5 1h;\n"
--- request
GET /status
--- error_code: 200
--- flow
my %pids;
my $ok = 0;
for my $i (1 .. 20) {
    my $res = sv_request(POST => '/send', { phoneNumber => '010-0000-0001' });
    $ok++ if $res->{status} == 200;
    diag "send $i: $res->{status} $res->{body}" if $res->{status} != 200;
    $pids{ $res->{headers}{'x-pid'} // '' }++;
}
is $ok, 20, '20 sends to the test number, all 200';
is scalar(keys %pids), 2, 'answered by both workers';

is_deeply [grep { $_->[0] =~ /^\+821000000001/ } @{ sv_store_dump('sends') }],
    [], 'no send count for the test number in the store';

my $st = status_json();
is $st->{testSends}, 20, 'testSends 20, summed over the workers';
is $st->{sent}, 0, 'sent 0';
is $st->{rateLimited}, 0, 'rateLimited 0';
is $st->{codesPending}, 1, 'one code: each send replaced the last';
is_deeply $st->{providers}, { sens => { ok => 0, failed => 0 } },
    'no provider counter';
is_deeply sv_mock_requests(), [], 'the mock got nothing';

# the fixed code of the last send confirms
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '+821000000001', verificationNumber => '482915' });
is $res->{status}, 200, 'the fixed code confirms after 20 sends';

# a real phone beside it is limited as ever
$res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{status}, 200, 'a real send';
ok scalar(grep { $_->[0] =~ /^\+821012345678/ } @{ sv_store_dump('sends') }),
   'whose send is counted in the store';
$res = sv_request(POST => '/send', { phoneNumber => '010-1234-5678' });
is $res->{json}{error}, 'RESEND_TOO_SOON', 'a real phone is still limited';
$st = status_json();
is $st->{sent}, 1, 'sent 1';
is $st->{rateLimited}, 1, 'rateLimited 1';
is $st->{testSends}, 20, 'testSends still 20';



=== TEST 6: nginx warns once at start-up for each test number, masked, naming its line
--- http_config eval
$::HttpConfig . "    smsverify_test_number 010-9999-0002 730204;\n"
--- config
    location = /send { smsverify send; }
    location = /other {
        smsverify_test_number +14155550123 7392;
        smsverify_countries 82 1;
        smsverify_code_length 4;
        smsverify send;
    }
    location = /status { smsverify status; }
--- request
GET /status
--- error_code: 200
--- flow
my @warn = grep { /smsverify test number/ } split /\n/, error_log_text();
is scalar @warn, 3, 'three warnings, once each (not once per worker)'
    or diag join "\n", @warn;
like $warn[0], qr/\[warn\] .*smsverify test number "\+82 10-\*\*\*\*-0001" verifies with a fixed code, no SMS and no limit in \S+nginx\.conf:\d+$/,
     'the first';
like $warn[1], qr/\[warn\] .*smsverify test number "\+82 10-\*\*\*\*-0002" verifies .* in \S+nginx\.conf:\d+$/,
     'the second';
like $warn[2], qr/\[warn\] .*smsverify test number "\+1 \*+0123" verifies .* in \S+nginx\.conf:\d+$/,
     'the location\'s';
my ($l1) = $warn[0] =~ /:(\d+)$/;
my ($l2) = $warn[1] =~ /:(\d+)$/;
is $l2, $l1 + 1, 'each names its own line';

my $res = sv_request(POST => '/other', { phoneNumber => '+1 415 555 0123' });
is $res->{status}, 200, 'the location\'s test number';
is_deeply sv_mock_requests(), [], 'no provider asked';
--- no_error_log eval
# the codes as numbers of their own: not a pid, a thread's id ("7343#7392")
# or a connection's ("*7392") that happen to have the same digits
[qr/(?<![\d#*])7392(?![\d#])/, qr/(?<![\d#*])730204(?![\d#])/,
 qr/4155550123/]



=== TEST 7: a level with test numbers replaces the inherited ones
--- config
    location = /send { smsverify send; }
    location = /send-own {
        smsverify_test_number 010-9999-0002 111111;
        smsverify send;
    }
    location = /status { smsverify status; }
--- request
POST /send-own
{"phoneNumber":"010-9999-0002"}
--- error_code: 200
--- flow
is_deeply sv_mock_requests(), [], 'the location\'s own test number';
my $res = sv_request(POST => '/send-own', { phoneNumber => '+821000000001' });
is $res->{status}, 200, 'the http level\'s number there';
is scalar @{ sv_mock_requests() }, 1, 'is a real send there';
$res = sv_request(POST => '/send', { phoneNumber => '010-9999-0002' });
is scalar @{ sv_mock_requests() }, 2, 'and the location\'s is real elsewhere';
my $st = status_json();
is $st->{testSends}, 1, 'testSends 1';
is $st->{sent}, 2, 'sent 2';



=== TEST 8: a send that a bad body or a bad phone stops is not a test send
--- request
POST /send
{"phoneNumber":"+82100000000"}
--- error_code: 400
--- response_body_like: "INVALID_PHONE"
--- flow
is status_json()->{testSends}, 0, 'testSends 0';



=== TEST 9: config: a phone number that is not one
--- http_config eval
$::HttpConfig . "    smsverify_test_number 02-123-4567 123456;\n"
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid phone number "02-123-4567" in \S+nginx\.conf:\d+/



=== TEST 10: config: a code that is not digits, without the code in the error
--- http_config eval
$::HttpConfig . "    smsverify_test_number 010-9999-0002 12a456;\n"
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid code for test number "010-9999-0002", it must be 4 to 10 digits in \S+nginx\.conf:\d+/
--- no_error_log
12a456



=== TEST 11: config: a code of 3 digits
--- http_config eval
$::HttpConfig . "    smsverify_test_number 010-9999-0002 123;\n"
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid code for test number "010-9999-0002", it must be 4 to 10 digits in \S+nginx\.conf:\d+/



=== TEST 12: config: a code of 11 digits
--- http_config eval
$::HttpConfig . "    smsverify_test_number 010-9999-0002 12345678901;\n"
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid code for test number "010-9999-0002", it must be 4 to 10 digits in \S+nginx\.conf:\d+/



=== TEST 13: config: the same phone twice on a level, written two ways
--- http_config eval
$::HttpConfig . "    smsverify_test_number 010-0000-0001 123456;\n"
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate test number "010-0000-0001" in \S+nginx\.conf:\d+/



=== TEST 14: config: 20 test numbers on a level work, 21 do not
--- http_config eval
my $n = CORE::join '', map { sprintf "    smsverify_test_number 010-9000-%04d 123456;\n", $_ } 1 .. 19;
$::HttpConfig . $n
--- request
POST /send
{"phoneNumber":"010-9000-0019"}
--- error_code: 200
--- flow
is_deeply sv_mock_requests(), [], 'the 20th is a test number';
is status_json()->{testSends}, 1, 'counted';



=== TEST 15: config: a 21st test number on a level
--- http_config eval
my $n = CORE::join '', map { sprintf "    smsverify_test_number 010-9000-%04d 123456;\n", $_ } 1 .. 20;
$::HttpConfig . $n
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_test_number" directive takes at most 20 numbers on one level in \S+nginx\.conf:\d+/



=== TEST 16: config: a code of another length than the default code length
--- http_config eval
$::HttpConfig . "    smsverify_test_number 010-9999-0002 1234;\n"
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_test_number" "\+82 10-\*\*\*\*-0002" in \S+nginx\.conf:\d+ has a 4-digit code, not the 6 digits of the default "smsverify_code_length", for "smsverify send" in \S+nginx\.conf:\d+/
--- no_error_log eval
qr/(?<![\d#*])1234(?![\d#])/



=== TEST 17: config: a code of another length than the location's smsverify_code_length
--- config
    location = /send {
        smsverify_code_length 8;
        smsverify send;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_test_number" "\+82 10-\*\*\*\*-0001" in \S+nginx\.conf:\d+ has a 6-digit code, not the 8 digits of "smsverify_code_length" in \S+nginx\.conf:\d+, for "smsverify send" in \S+nginx\.conf:\d+/



=== TEST 18: config: the length matters where codes are sent only
--- config
    location = /send { smsverify send; }
    location = /confirm {
        smsverify_code_length 8;
        smsverify confirm;
    }
    location = /status { smsverify status; }
--- request
GET /status
--- error_code: 200



=== TEST 19: config: a test number of a country the send location does not allow
--- config
    location = /send {
        smsverify_test_number +14155550123 123456;
        smsverify send;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_test_number" "\+1 \*+0123" in \S+nginx\.conf:\d+ is of a country that "smsverify_countries" does not allow for "smsverify send" in \S+nginx\.conf:\d+/
--- no_error_log
4155550123



=== TEST 20: config: one argument
--- http_config eval
$::HttpConfig . "    smsverify_test_number 010-9999-0002;\n"
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "smsverify_test_number" directive in \S+nginx\.conf:\d+/



=== TEST 21: config: three arguments
--- http_config eval
$::HttpConfig . "    smsverify_test_number 010-9999-0002 123456 789;\n"
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "smsverify_test_number" directive in \S+nginx\.conf:\d+/



=== TEST 22: nginx -t warns too, once per number, and loads the configuration
--- request
GET /status
--- error_code: 200
--- flow
my $root = Test::Nginx::Util::server_root();
my $out = qx{$Test::Nginx::Util::NginxBinary -p '$root/' -c '$Test::Nginx::Util::ConfFile' -t 2>&1};
is $?, 0, 'nginx -t passes' or diag $out;
my @lines = grep { /smsverify test number/ } split /\n/, $out;
is scalar @lines, 1, 'nginx -t warns once' or diag $out;
like $lines[0] // '', qr/^nginx: \[warn\] smsverify test number "\+82 10-\*\*\*\*-0001" /,
     'for the test number';
unlike $out, qr/482915/, 'without its code';
