# The webhook outbox across a crash: SIGKILL to the master and every
# worker, one of them in the middle of a delivery, then a fresh start.
# Every event of a signup that got its 200 is delivered after it, the one
# whose taker was killed at once (its lease died with it), and in order.
#
# nginx is started again by the flow itself (the same command line as
# Test::Nginx's), and stopped by it at the end. Not under valgrind.

use Test::Nginx::Socket;
use lib 't/inc';
use SmsVerify;

use File::Temp ();
use MIME::Base64 ();
use POSIX ();
use Time::HiRes qw(sleep time);

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    plan(skip_all => 'restarts nginx itself');
} else {
    plan('no_plan');
}

our $Dir = File::Temp::tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_WEBHOOK_DIR} = $Dir;
our $Secret = 'whsec_' . MIME::Base64::encode_base64(
    join('', map { chr rand 256 } 1 .. 32), '');
open my $out, '>', "$Dir/good.secret" or die "$Dir/good.secret: $!";
print $out "$Secret\n";
close $out;

sv_receiver_start($Secret);

{
package SmsVerify;

use Test::More;

sub kill_all {
    my $master = sv_master_pid();
    my @pids = ($master, sv_worker_pids($master));
    kill 'KILL', @pids;
    ok(sv_wait_until(sub { sv_gone(@pids) }, 10),
       "master and workers (@pids) killed");
}

# nginx as Test::Nginx starts it; waits until it answers.
sub start {
    my @cmd = ($Test::Nginx::Util::NginxBinary, '-p', server_root() . '/',
               '-c', $Test::Nginx::Util::ConfFile);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    is($?, 0, 'nginx started again');
    ok(sv_wait_until(sub { sv_request(GET => '/status')->{status} == 200 },
                     10), 'and answers');
}

sub signed_up {
    my ($phone, $email) = @_;
    my $res = sv_request(POST => '/signup',
        sv_member(phoneNumber => $phone, email => $email, termsId => [],
                  verificationToken => sv_verify_phone($phone)));
    is($res->{status}, 200, "signup of $email") or diag($res->{body});
    return $res->{json}{memberId};
}

sub member_ids { [map { $_->{data}{memberId} } @{ shift() }] }
} # package SmsVerify

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m sync=1s;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_password_hash bcrypt cost=4;
    smsverify_webhook http://127.0.0.1:$TEST_NGINX_HOOK_PORT/hooks
                      secret_file=$TEST_NGINX_WEBHOOK_DIR/good.secret
                      timeout=30s;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /status  { smsverify status; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config);

master_on();
workers(2);
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: SIGKILL during a delivery: every event delivered after the restart
--- request
GET /status
--- error_code: 200
--- log_level: notice
--- timeout: 90
--- flow
sv_receiver_reset();
sv_receiver_behaviour({ mode => 'hang' });
my @ids = map { signed_up(sprintf('010-3500-%04d', $_), "crash$_\@example.com") }
          1 .. 3;
ok sv_wait_until(sub { @{ sv_receiver_received() } == 1 }, 5),
   'the first is being delivered';
is scalar(@{ sv_outbox() }), 3, 'three events in the outbox';

kill_all();
is scalar(@{ sv_outbox() }), 3, 'still three, read beside nginx';
sv_receiver_reset();
my $t0 = time;
start();
my $events = sv_receiver_wait(3, 10);
my $took = time - $t0;
is_deeply member_ids($events), \@ids, 'all three, in order';
# the lease of 30 s + 10 s the killed worker held is void: its pid is gone
ok $took < 8, sprintf('at once after the restart (%.1f s)', $took);
is scalar(@{ sv_outbox() }), 0, 'the outbox is empty';

# events that had failed before the crash: at their next attempt
sv_receiver_reset();
sv_receiver_behaviour({ mode => 'status', status => 503 });
@ids = map { signed_up(sprintf('010-3501-%04d', $_), "again$_\@example.com") }
       1 .. 2;
ok sv_wait_until(sub { (grep { $_->{attempts} >= 1 } @{ sv_outbox() }) == 2 },
                 5), 'both failed once';
kill_all();
sv_receiver_reset();
start();
$events = sv_receiver_wait(2, 15);
is_deeply member_ids($events), \@ids, 'both delivered after the restart';

kill 'QUIT', sv_master_pid();
