# The clock is read in the pool thread, where each decision is made: a
# task that waited in the queue is judged by the time it runs, not by the
# time its request came. One pool thread; a send to a slow provider (the
# mock holds its answer 2 s) occupies it while a confirm waits behind.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use Time::HiRes ();

# the credentials the mock checks, and nginx is given
$ENV{TEST_NGINX_SENS_ID}     = 'ncp:sms:kr:260512:smsverify';
$ENV{TEST_NGINX_SENS_KEY}    = 'AKMOCKACCESS0123';
$ENV{TEST_NGINX_SENS_SECRET} = 'sensSecret-Zq8Xw3Lp9Vb';

sv_mock_start(
    sens_service_id => $ENV{TEST_NGINX_SENS_ID},
    sens_access_key => $ENV{TEST_NGINX_SENS_KEY},
    sens_secret_key => $ENV{TEST_NGINX_SENS_SECRET},
);

our $MainConfig = <<'_EOC_';
    thread_pool one threads=1 max_queue=64;
_EOC_

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_thread_pool one;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_code_ttl 1s;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /send-slow {
        smsverify send;
        smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
            access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
            from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT
            timeout=10s;
    }
    location = /confirm { smsverify confirm; }
    location = /status  { smsverify status; }
_EOC_

sv_block_defaults(main_config => $MainConfig, http_config => $HttpConfig,
                  config => $Config);

no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: a confirm queued past its code's life is CODE_EXPIRED
--- request
GET /status
--- error_code: 200
--- timeout: 30
--- flow
# without a queue, a code lives its second
my $res = sv_request(POST => '/send', { phoneNumber => '010-1111-1111' });
is $res->{status}, 200, 'a code for the first phone';
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1111-1111',
      verificationNumber => sv_code_for('1111') });
is $res->{status}, 200, 'confirmed at once' or diag $res->{body};

$res = sv_request(POST => '/send', { phoneNumber => '010-2222-2222' });
is $res->{status}, 200, 'a code for the second phone';
my $code = sv_code_for('2222');
my $sent = Time::HiRes::time();

# the one pool thread busy for 2 s with a send
sv_mock_behaviour({ provider => 'sens', mode => 'ok', delay_ms => 2000,
                    count => 1 });
my $slow = sv_fork(sub {
    my $r = sv_request(POST => '/send-slow', { phoneNumber => '010-3333-3333' });
    return $r->{status} == 200 ? 0 : 1;
});
Time::HiRes::sleep(0.3);

# asked within the code's second, answered after it
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-2222-2222', verificationNumber => $code });
my $asked_late = Time::HiRes::time() - $sent;
ok $asked_late > 1.2, sprintf('it waited: answered %.2fs after the send',
                              $asked_late);
is $res->{status}, 410, 'it came too late' or diag $res->{body};
is $res->{json}{error}, 'CODE_EXPIRED', 'CODE_EXPIRED';

waitpid $slow, 0;
is $?, 0, 'the slow send went out';
