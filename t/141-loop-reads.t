# What a read decides is answered on the event loop, where the store's
# reads never wait (LMDB): a confirm with no code, an expired one or a
# member's phone; a send refused by the phone's interval or window, the
# address's limit, a taken phone or no member's; status.  The pool's only
# thread is held by a send the mock answers late: those answers come at
# once, while a confirm with a code to guess at, a send that passes and a
# send the budget refuses (the store counts each refusal) wait for it.
# Each answer is checked whole: status, body, Retry-After, the counters.
#
# Against PostgreSQL (TEST_NGINX_SMSVERIFY_STORE=postgresql), whose reads
# may wait, every one of them waits for the pool, and must be the same.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use Time::HiRes ();

# timings under valgrind are an order of magnitude longer
our $Slack = $ENV{TEST_NGINX_USE_VALGRIND} ? 4 : 1;
sub SmsVerify::slack { $Slack }

sv_mock_start();

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_thread_pool one;
    smsverify_provider sens service_id=s access_key=a secret_key=k
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT
        timeout=30s;
    smsverify_resend_interval 30s;
    smsverify_send_limit 2 1h;
    smsverify_code_ttl 1s;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_daily_budget 100;
_EOC_

our $Config = <<'_EOC_';
    location = /send       { smsverify send; }
    location = /send/ip    { smsverify send; smsverify_ip_limit 2 1h; }
    location = /send/long  { smsverify send; smsverify_code_ttl 10m; }
    location = /reset/send { smsverify reset_send; }
    location = /confirm    { smsverify confirm; }
    location = /signup     { smsverify signup; }
    location = /status     { smsverify status; }
_EOC_

sv_block_defaults(main_config => "thread_pool one threads=1;\n",
                  http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

# the helpers flows call, in the package flows run in
{
package SmsVerify;

# the store's reads are answered on the loop: not where they may wait
sub loop_reads {
    return !(defined &SmsVerify::sv_store_is_pg && SmsVerify::sv_store_is_pg());
}

our $Hold = 2;
sub hold { $Hold }

# when the send holding the pool is answered, about
our $HeldUntil = 0;

# the pool's only thread is busy with a send the mock answers late
sub occupy_pool {
    my $phone = shift;
    sv_mock_behaviour({ provider => 'sens',
                        delay_ms => 1000 * $Hold * $main::Slack,
                        count => 1 });
    my $t0 = Time::HiRes::time();
    my $pid = sv_fork(sub {
        my $res = sv_request(POST => '/send', { phoneNumber => $phone });
        return $res->{status} == 200 ? 0 : 1;
    });
    $HeldUntil = $t0 + $Hold * $main::Slack;
    sleep 0.3 * $main::Slack;
    return $pid;
}

sub reaped_ok {
    my $pid = shift;
    waitpid $pid, 0;
    return $? == 0;
}

# a request and how long its answer took
sub timed {
    my $t0 = Time::HiRes::time();
    my $res = sv_request(@_);
    $res->{end} = Time::HiRes::time();
    $res->{took} = $res->{end} - $t0;
    return $res;
}

# at once, while the pool is still held, on the loop; elsewhere not
# before the held send is answered
sub at_once {
    my ($res, $what) = @_;
    if (loop_reads()) {
        ok $res->{took} < 0.5 * $Hold * $main::Slack
           && $res->{end} < $HeldUntil - 0.1 * $main::Slack,
           sprintf '%s: at once (%.3f s), the pool held', $what,
                   $res->{took};
    } else {
        waits($res, $what);
    }
}

sub waits {
    my ($res, $what) = @_;
    ok $res->{end} > $HeldUntil - 0.2 * $main::Slack,
       sprintf '%s: after the held send (%.3f s before its answer)', $what,
               $HeldUntil - $res->{end};
}

sub status_json { sv_request(GET => '/status')->{json} // {} }

# the error body, exactly: its word, a message, and retryAfter if given
sub error_is {
    my ($res, $status, $word, $retry, $what) = @_;
    is $res->{status}, $status, "$what: $status";
    is $res->{json}{error}, $word, "$what: $word";
    my @keys = defined $retry ? qw(error message retryAfter)
                              : qw(error message);
    is_deeply [sort keys %{ $res->{json} // {} }], \@keys,
              "$what: the keys " . join(' ', @keys);
    is $res->{headers}{'content-type'}, 'application/json',
       "$what: JSON";
    if (defined $retry) {
        is $res->{json}{retryAfter}, $retry, "$what: retryAfter $retry";
        is $res->{headers}{'retry-after'}, $retry,
           "$what: Retry-After $retry";
    } else {
        ok !defined $res->{headers}{'retry-after'}, "$what: no Retry-After";
    }
}

sub member_of {
    my $phone = shift;
    my $res = sv_request(POST => '/send/long', { phoneNumber => $phone });
    die "send: $res->{status}" if $res->{status} != 200;
    my $code = sv_mock_code_for($phone);
    $res = sv_request(POST => '/confirm',
                      { phoneNumber => $phone, verificationNumber => $code });
    die "confirm: $res->{status}" if $res->{status} != 200;
    $res = sv_request(POST => '/signup',
                      sv_member(email => "m$code\@example.com",
                                phoneNumber => $phone, termsId => [1],
                                verificationToken =>
                                    $res->{json}{verificationToken}));
    die "signup: $res->{status} $res->{body}" if $res->{status} != 200;
}
}

no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: confirm: no code, an expired one, a member's phone answer at once; a code to guess at waits
--- request
GET /status
--- error_code: 200
--- flow
sv_mock_reset();
member_of('010-5100-0009');
is sv_request(POST => '/send', { phoneNumber => '010-5100-0002' })->{status},
   200, 'a code that expires in 1 s';
is sv_request(POST => '/send/long', { phoneNumber => '010-5100-0003' })->{status},
   200, 'a code that does not';
sleep 1.2;
my $before = status_json();

my $holder = occupy_pool('010-5100-0100');
my $res = timed(POST => '/confirm', { phoneNumber => '010-5100-0001',
                                      verificationNumber => '123456' });
at_once($res, 'no code');
error_is($res, 404, 'NO_PENDING_CODE', undef, 'no code');

$res = timed(POST => '/confirm', { phoneNumber => '010-5100-0002',
                                   verificationNumber => '123456' });
at_once($res, 'an expired code');
error_is($res, 410, 'CODE_EXPIRED', undef, 'an expired code');

$res = timed(POST => '/confirm', { phoneNumber => '010-5100-0009',
                                   verificationNumber => '123456' });
at_once($res, "a member's phone");
error_is($res, 409, 'PHONE_TAKEN', undef, "a member's phone");

my $code = sv_mock_code_for('010-5100-0003');
my $wrong = $code eq '000000' ? '111111' : '000000';
$res = timed(POST => '/confirm', { phoneNumber => '010-5100-0003',
                                   verificationNumber => $wrong });
waits($res, 'a code to guess at');
is $res->{status}, 400, 'a wrong guess: 400';
is_deeply $res->{json}{attemptsLeft}, 4, 'an attempt spent';
ok reaped_ok($holder), 'the send that held the pool was answered 200';

my $after = status_json();
is $after->{confirmFailed} - $before->{confirmFailed}, 3,
   'confirmFailed: no code, expired, wrong (a taken phone is not counted)';
is $after->{confirmed}, $before->{confirmed}, 'none confirmed';
is $after->{codesPending}, $before->{codesPending} + 1,
   'the held send stored its code, nothing else changed';

$res = sv_request(POST => '/confirm', { phoneNumber => '010-5100-0003',
                                        verificationNumber => $code });
is $res->{status}, 200, 'the right code still confirms';
--- timeout: 30
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 2: send: the interval, the window, a taken phone, no member's answer at once; a send that passes waits
--- request
GET /status
--- error_code: 200
--- flow
sv_mock_reset();
member_of('010-5200-0009');
is sv_request(POST => '/send', { phoneNumber => '010-5200-0001' })->{status},
   200, 'a first send';
my $before = status_json();

my $holder = occupy_pool('010-5200-0100');
my $res = timed(POST => '/send', { phoneNumber => '010-5200-0001' });
at_once($res, 'again within 30 s');
my $retry = $res->{json}{retryAfter} // -1;
ok $retry >= 28 && $retry <= 30, "retryAfter $retry: what is left of 30 s";
error_is($res, 429, 'RESEND_TOO_SOON', $retry, 'again within 30 s');

$res = timed(POST => '/send', { phoneNumber => '010-5200-0009' });
at_once($res, "a member's phone");
error_is($res, 409, 'PHONE_TAKEN', undef, "a member's phone");

$res = timed(POST => '/reset/send', { phoneNumber => '010-5200-0002' });
at_once($res, 'a reset for no member');
error_is($res, 404, 'NOT_A_MEMBER', undef, 'a reset for no member');

$res = timed(POST => '/send', { phoneNumber => '010-5200-0003' });
waits($res, 'a send that passes');
is $res->{status}, 200, 'a send that passes: 200';
ok reaped_ok($holder), 'the send that held the pool was answered 200';

my $after = status_json();
is $after->{rateLimited} - $before->{rateLimited}, 1,
   'rateLimited: the interval only';
is $after->{sent} - $before->{sent}, 2, 'sent: the held one and the last';
is scalar(grep { ($_->{to} // '') =~ /52000001$/ } @{ sv_mock_messages() }),
   1, 'the refused phone got one SMS, the first';
--- timeout: 30
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 3: send: the window and the address's limit answer at once, with the same Retry-After
--- request
GET /status
--- error_code: 200
--- main_config
thread_pool one threads=1;
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_thread_pool one;
    smsverify_provider sens service_id=s access_key=a secret_key=k
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT
        timeout=30s;
    smsverify_resend_interval 1ms;
    smsverify_send_limit 2 1h;
--- config
    location = /send       { smsverify send; }
    location = /send/ip    { smsverify send; smsverify_ip_limit 4 1h; }
    location = /status     { smsverify status; }
--- flow
sv_mock_reset();
for my $n (1, 2) {
    is sv_request(POST => '/send', { phoneNumber => '010-5300-0001' })->{status},
       200, "send $n of the phone's 2 an hour";
    sleep 0.01;     # past the 1ms resend interval
}
for my $n (2 .. 3) {
    is sv_request(POST => '/send/ip', { phoneNumber => "010-5300-000$n" })->{status},
       200, "send $n: the address's";
}
my $t_free = time;
my $free = sv_request(POST => '/send', { phoneNumber => '010-5300-0001' });
error_is($free, 429, 'SEND_LIMIT', $free->{json}{retryAfter},
         'the window, the pool free');
my $ipfree = sv_request(POST => '/send/ip', { phoneNumber => '010-5300-0004' });
error_is($ipfree, 429, 'IP_LIMIT', $ipfree->{json}{retryAfter},
         "the address's limit, the pool free");
my $before = status_json();

my $holder = occupy_pool('010-5300-0100');
my $res = timed(POST => '/send', { phoneNumber => '010-5300-0001' });
at_once($res, 'the window');
error_is($res, 429, 'SEND_LIMIT', $res->{json}{retryAfter},
         'the window, the pool held');
# the same send's window: less by the seconds gone since
my $gone = int(time - $t_free) + 1;
my $got = $res->{json}{retryAfter} // 0;
ok $got <= $free->{json}{retryAfter}
   && $got >= $free->{json}{retryAfter} - $gone,
   "the window's retryAfter $got: $free->{json}{retryAfter} with the pool "
   . "free, less the $gone s since";

$res = timed(POST => '/send/ip', { phoneNumber => '010-5300-0005' });
at_once($res, "the address's limit");
error_is($res, 429, 'IP_LIMIT', $res->{json}{retryAfter},
         "the address's limit, the pool held");
# the held send counts in the address's window too: its second oldest
$got = $res->{json}{retryAfter} // 0;
ok $got <= $ipfree->{json}{retryAfter}
   && $got >= $ipfree->{json}{retryAfter} - $gone - 1,
   "the address's retryAfter $got: as with the pool free, less the time "
   . "since";
ok reaped_ok($holder), 'the send that held the pool was answered 200';

my $after = status_json();
is $after->{rateLimited} - $before->{rateLimited}, 2, 'rateLimited: both';
is $after->{sent} - $before->{sent}, 1, 'sent: the held one only';
--- timeout: 30
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 4: the budget's refusals wait for the pool: the store counts each, and tells the first
--- request
GET /status
--- error_code: 200
--- main_config
thread_pool one threads=1;
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_thread_pool one;
    smsverify_provider sens service_id=s access_key=a secret_key=k
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT
        timeout=30s;
    smsverify_resend_interval 1ms;
    smsverify_daily_budget 2;
--- flow
sv_mock_reset();
is sv_request(POST => '/send', { phoneNumber => '010-5400-0001' })->{status},
   200, 'the budget: 1 of 2';
my $holder = occupy_pool('010-5400-0100');
my $other = sv_fork(sub {
    my $res = timed(POST => '/send', { phoneNumber => '010-5400-0002' });
    return ($res->{json}{error} // '') eq 'SMS_BUDGET'
           && $res->{end} > $SmsVerify::HeldUntil - 0.2 * slack() ? 0 : 1;
});
sleep 0.2 * slack();
my $res = timed(POST => '/send', { phoneNumber => '010-5400-0003' });
waits($res, 'a refusal of the budget, 2 of 2 spent by the held send');
error_is($res, 503, 'SMS_BUDGET', $res->{json}{retryAfter}, 'the budget');
ok reaped_ok($other), 'the other refusal waited too, SMS_BUDGET';
ok reaped_ok($holder), 'the send that held the pool was answered 200';
is scalar(sv_log_grep(qr/\[alert\].*smsverify daily budget/)), 1,
   'one alert for the two refusals';
if (loop_reads()) {
    my @t = gmtime;
    my $key = sprintf '%04d-%02d-%02d', $t[5] + 1900, $t[4] + 1, $t[3];
    my ($day) = grep { $_->[0] eq $key } @{ sv_store_dump('days') };
    my (undef, undef, $sent, $refused) = unpack 'C q< Q< Q<', $day->[1];
    is_deeply [$sent, $refused], [2, 2], 'the day: 2 sent, 2 refused';
}
--- timeout: 30
--- error_log eval
qr/\[alert\] .*smsverify daily budget of 2 SMS is spent for /



=== TEST 5: status answers at once while the pool is held
--- request
GET /status
--- error_code: 200
--- flow
sv_mock_reset();
my $holder = occupy_pool('010-5500-0100');
my $res = timed(GET => '/status');
at_once($res, 'status');
is $res->{status}, 200, 'status: 200';
# on the loop, before the held send is answered; elsewhere after it
my $done = loop_reads() ? 0 : 1;
is $res->{json}{codesPending}, $done,
   $done ? 'after the held send: its code' : 'the held send has no code yet';
my $held = $res->{json};
$res = timed(GET => '/status?format=prometheus');
at_once($res, 'status in the Prometheus form');
like $res->{body}, qr/^smsverify_codes_pending $done$/m,
     "codes pending: $done";
$res = timed(HEAD => '/status');
at_once($res, 'HEAD status');
is $res->{body}, '', 'HEAD: no body';
ok reaped_ok($holder), 'the send that held the pool was answered 200';
my $free = status_json();
is $free->{codesPending}, 1, 'then its code';
is_deeply [sort keys %$held], [sort keys %$free],
          'every figure, as with the pool free';
is $free->{sent}, $held->{sent} + 1 - $done, 'and the held send counted';
--- timeout: 30
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 6: a message whose length is known per request only: its own failure comes before a refusal
--- request
GET /status
--- error_code: 200
--- config
    location = /send/var {
        smsverify send;
        smsverify_provider log;
        smsverify_message "code $smsverify_code $arg_pad";
    }
    location = /send/fixed {
        smsverify send;
        smsverify_provider log;
    }
    location = /status { smsverify status; }
--- flow
my $long = 'x' x 100;
is sv_request(POST => '/send/var?pad=a', { phoneNumber => '010-5600-0001' })->{status},
   200, 'a short message: sent';
my $res = sv_request(POST => "/send/var?pad=$long",
                     { phoneNumber => '010-5600-0001' });
is $res->{status}, 500, 'again within 30 s, too long a message: 500, as the pool would';
is $res->{json}{error}, 'INTERNAL', 'INTERNAL';
$res = sv_request(POST => '/send/var?pad=a', { phoneNumber => '010-5600-0001' });
error_is($res, 429, 'RESEND_TOO_SOON', $res->{json}{retryAfter},
         'again within 30 s, a short message');
is sv_request(POST => '/send/fixed', { phoneNumber => '010-5600-0002' })->{status},
   200, 'a fixed message: sent';
$res = sv_request(POST => '/send/fixed', { phoneNumber => '010-5600-0002' });
error_is($res, 429, 'RESEND_TOO_SOON', $res->{json}{retryAfter},
         'again within 30 s, a fixed message');
is scalar(sv_log_grep(qr/more than one SMS/)), 1, 'the long one logged';
--- no_error_log
[alert]
[crit]
exited on signal
