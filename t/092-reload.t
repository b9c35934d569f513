# Reload (HUP) and graceful stop (QUIT) while sends wait on a slow SMS
# provider. The workers that are going away finish what they hold: every
# client gets its answer (502 PROVIDER_FAILED once a provider that never
# answers times out, 200 from one that answers late), no connection is
# left open ("open socket ... left in connection"), no worker dies.
#
# Two slow providers: a listening socket that accepts and never answers
# (sens timeout=2s), and the mock (t/mock/sms_mock.py) holding each
# answer back 1.5 s. The QUIT block ends nginx: it is the last one.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
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

# a provider that accepts connections and never answers
$ENV{TEST_NGINX_HANG_PORT} = ($ENV{TEST_NGINX_SERVER_PORT} || 1984) + 9;

# where children leave the answers they got
our $Answers = File::Temp::tempdir(CLEANUP => 1);

# valgrind slows nginx down; the providers' clocks do not
our $Slack = $ENV{TEST_NGINX_USE_VALGRIND} ? 10 : 1;

{
package SmsVerify;

# A send in a child; its answer (status and body) is read back by
# answer_of().
sub send_in_child {
    my ($path, $phone) = @_;
    my $file = "$main::Answers/answer." . ($phone =~ s/\D//gr);
    my $pid = sv_fork(sub {
        my $res = sv_request(POST => $path, { phoneNumber => $phone });
        open my $out, '>', $file or die "$file: $!";
        print $out JSON::PP->new->canonical->encode(
            { status => $res->{status}, body => $res->{body} });
        close $out;
        return 0;
    });
    return [$pid, $file, $phone];
}

sub answer_of {
    my $kid = shift;
    waitpid $kid->[0], 0;
    open my $in, '<', $kid->[1] or return { status => 'none' };
    local $/;
    return JSON::PP->new->decode(<$in>);
}

# waits for what() to be true, up to $secs (times the slack)
sub wait_until { sv_wait_until($_[0], $_[1] * $main::Slack) }

# the signal to the master; waits until a new generation of workers runs
sub reload {
    my @old = sv_worker_pids();
    kill 'HUP', sv_master_pid();
    my %old = map { $_ => 1 } @old;
    return wait_until(sub { grep({ !$old{$_} } sv_worker_pids()) >= 2 }, 10);
}

sub in_flight { Time::HiRes::sleep(0.5 * $main::Slack) }

} # package SmsVerify

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_resend_interval 1ms;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=10s;
_EOC_

our $Config = <<'_EOC_';
    location = /send-slow { smsverify send; }
    location = /send-hang {
        smsverify send;
        smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
            access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
            from=0212345678 url=http://127.0.0.1:$TEST_NGINX_HANG_PORT timeout=2s;
    }
    location = /confirm { smsverify confirm; }
    location = /status  { smsverify status; }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(http_config => $HttpConfig)
        if !defined $block->http_config;
    $block->set_value(config => $Config) if !defined $block->config;
    sv_mock_reset();
    # each answer of the mock held back 1.5 s
    sv_mock_behaviour({ provider => 'sens', mode => 'ok', delay_ms => 1500 });
});

master_on();
workers(2);
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: a reload while sends wait on a provider that never answers: 502 for each
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
sv_hang_provider($ENV{TEST_NGINX_HANG_PORT});
my @old = sv_worker_pids();
my @kids = map { send_in_child('/send-hang', "010-7100-00$_") } 10 .. 17;
in_flight();
ok reload(), 'new workers run';
my $res = sv_request(GET => '/status');
is $res->{status}, 200, 'and answer at once';
# one more that waits on the provider, in a new worker
push @kids, send_in_child('/send-hang', '010-7100-0018');
my @answers = map { answer_of($_) } @kids;
is_deeply [map { $_->{status} } @answers], [(502) x 9], 'every client got 502';
is scalar(grep { $_->{body} =~ /^\{"error":"PROVIDER_FAILED","message":"[^"]+"\}$/ }
           @answers), 9, 'PROVIDER_FAILED, in JSON';
ok wait_until(sub { sv_gone(@old) }, 10), 'the old workers are gone';
$res = sv_request(GET => '/status');
is $res->{json}{sendFailed}, 9, 'every failed send counted once';
is $res->{json}{codesPending}, 0, 'and none left a usable code';
is scalar(sv_log_grep(qr/gracefully shutting down/)), 2,
   'both old workers shut down gracefully';
--- no_error_log eval
[qr/open socket .* left in connection/, qr/exited on signal/,
 qr/\[(?:alert|crit|emerg)\]/, qr/aborting/]



=== TEST 2: two reloads while sends wait on a late provider: 200 for each, codes usable
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my @old = sv_worker_pids();
my @kids = map { send_in_child('/send-slow', "010-7200-00$_") } 10 .. 17;
in_flight();
ok reload(), 'a second generation runs';
my @second = sv_worker_pids();
push @kids, send_in_child('/send-slow', '010-7200-0018');
in_flight();
ok reload(), 'and a third';
my @answers = map { answer_of($_) } @kids;
is_deeply [map { $_->{status} } @answers], [(200) x 9], 'every client got 200';
ok wait_until(sub { sv_gone(@old, @second) }, 10), 'the old workers are gone';
# the codes the mock received work with the newest workers
my @confirmed = grep {
    my $code = sv_mock_code_for($_);
    my $r = sv_request(POST => '/confirm',
                       { phoneNumber => $_, verificationNumber => "$code" });
    $r->{status} == 200;
} map { "010-7200-00$_" } 10 .. 18;
is scalar(@confirmed), 9, 'every code sent during the reloads confirms';
is scalar(grep { $_->{to} =~ /^0107200001\d$/ } @{ sv_mock_messages() }), 9,
   'one SMS each';
--- no_error_log eval
[qr/open socket .* left in connection/, qr/exited on signal/,
 qr/\[(?:alert|crit|emerg)\]/, qr/aborting/]



=== TEST 3: a graceful stop (QUIT) while sends wait: every client answered, then nginx exits
The last block: it stops nginx itself.
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
sv_hang_provider($ENV{TEST_NGINX_HANG_PORT});
my $master = sv_master_pid();
my @workers = sv_worker_pids();
my @slow = map { send_in_child('/send-slow', "010-7300-00$_") } 10 .. 14;
my @hang = map { send_in_child('/send-hang', "010-7300-00$_") } 20 .. 24;
in_flight();
kill 'QUIT', $master;
my @answers = map { answer_of($_) } @slow, @hang;
is_deeply [map { $_->{status} } @answers], [(200) x 5, (502) x 5],
          'the late provider\'s sends 200, the silent one\'s 502';
ok wait_until(sub { sv_gone($master, @workers) }, 10), 'then nginx exits';
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                 PeerPort => SmsVerify::server_port(),
                                 Proto => 'tcp', Timeout => 2);
ok !$sock, 'and no longer listens';
is scalar(grep { $_->{to} =~ /^0107300001\d$/ } @{ sv_mock_messages() }), 5,
   'the late provider got its 5 messages';
ok scalar(sv_log_grep(qr/\[notice\] \d+#\d+: exit$/)), 'the master logged its exit';
--- no_error_log eval
[qr/open socket .* left in connection/, qr/exited on signal/,
 qr/\[(?:alert|crit|emerg)\]/, qr/aborting/]
