# Durability: the store is two LMDB environments, "members" with every
# commit synced and "codes" (codes, send counts, tokens) synced lazily
# with sync=TIME. A power loss cannot be made here; what can be:
#
# - SIGKILL to the master and every worker, then a fresh start: every
#   member that got its 200 is there, and the codes too (a process crash
#   loses nothing that reached the page cache);
# - the codes' data file overwritten with garbage while nginx is stopped:
#   the next start finds it damaged, moves it aside (an alert says what
#   was lost) and starts it afresh; the members are untouched and their
#   emails and phones still taken.
#
# nginx is started again by the flow itself (the same command line as
# Test::Nginx's), and stopped by it at the end. Not under valgrind.

use Test::Nginx::Socket;
use lib 't/inc';
use SmsVerify;

use POSIX ();
use Time::HiRes ();

if ($ENV{TEST_NGINX_USE_VALGRIND}) {
    plan(skip_all => 'restarts nginx itself');
} else {
    plan('no_plan');
}

{
package SmsVerify;

use Test::More;

sub wait_until {
    my ($what, $secs) = @_;
    my $deadline = Time::HiRes::time() + $secs;
    while (Time::HiRes::time() < $deadline) {
        return 1 if $what->();
        Time::HiRes::sleep(0.05);
    }
    return 0;
}

# SIGKILL to the master and all its workers, as a crash of the machine's
# processes (not of its disk) would do.
sub kill_all {
    my $master = sv_master_pid();
    my @pids = ($master, sv_worker_pids($master));
    kill 'KILL', @pids;
    ok(wait_until(sub { sv_gone(@pids) }, 10),
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
    ok(wait_until(sub { sv_request(GET => '/status')->{status} == 200 }, 10),
       'and answers');
}

sub stop {
    my $master = sv_master_pid();
    kill 'QUIT', $master;
    ok(wait_until(sub { sv_gone($master) }, 10), 'stopped');
}

sub signup {
    my ($phone, $email, $token) = @_;
    return sv_request(POST => '/signup',
        sv_member(verificationToken => $token // sv_verify_phone($phone),
                  phoneNumber => $phone, email => $email, termsId => []));
}

sub codes_file { server_root() . '/smsverify_temp/codes/data.mdb' }

} # package SmsVerify

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m sync=1s;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_password_hash bcrypt cost=4;
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

=== TEST 1: SIGKILL to every process, then a damaged codes' part: members stay
--- lmdb_only: LMDB's files: the codes' part overwritten, the start check
--- request
GET /status
--- error_code: 200
--- log_level: notice
--- timeout: 60
--- flow
my @phones = map { sprintf '010-5555-%04d', $_ } 1 .. 5;
for my $i (0 .. $#phones) {
    my $res = signup($phones[$i], "m$i\@example.com");
    is $res->{status}, 200, "member $i" or diag $res->{body};
}
# a code waiting, a token not used: what the codes' part holds
my $res = sv_request(POST => '/send', { phoneNumber => '010-6666-0001' });
is $res->{status}, 200, 'a code pending';
my $token = sv_verify_phone('010-6666-0002');

kill_all();
is scalar(sv_members_in_store()), 5, 'the five members, read beside nginx';
start();
is sv_request(GET => '/status')->{json}{members}, 5, 'status counts five';
$res = signup('010-6666-0002', 'new@example.com', $token);
is $res->{status}, 200, 'the token confirmed before the crash still serves';
ok !sv_log_grep(qr/was damaged/), 'nothing damaged';

# garbage where the codes were, while nginx is stopped
kill_all();
my $size = -s codes_file();
ok $size > 0, "the codes' data file ($size bytes)";
open my $f, '+<', codes_file() or die "codes: $!";
print $f join('', map { chr(($_ * 131 + 7) % 256) } 1 .. $size);
close $f;
start();

my ($alert) = sv_log_grep(qr/\[alert\].*smsverify store/);
like $alert, qr/codes" was damaged .* moved to ".*codes\.damaged-.*" and started afresh: its pending codes, send counts and verification tokens are lost; the members are untouched/,
     'an alert says what was lost';
my @aside = glob(server_root() . '/smsverify_temp/codes.damaged-*');
is scalar(@aside), 1, 'the damaged part kept aside';

is sv_request(GET => '/status')->{json}{members}, 6, 'the six members';
is sv_request(GET => '/status')->{json}{codesPending}, 0, 'no code pending';
$res = signup('010-7777-0001', 'M0@example.com');
is $res->{status}, 409, 'an existing email is still taken';
is $res->{json}{error}, 'EMAIL_TAKEN', 'EMAIL_TAKEN';
$res = sv_request(POST => '/send', { phoneNumber => $phones[1] });
is $res->{json}{error}, 'PHONE_TAKEN', 'an existing phone is still taken';
$res = signup('010-7777-0001', 'fresh@example.com');
is $res->{status}, 200, 'a new member';
is $res->{json}{memberId}, 7, 'with the next id';

stop();
--- error_log eval
["[alert]", qr/smsverify store ".*codes" was damaged \(mdb_env_open: MDB_INVALID/]
--- no_error_log
[emerg]
[crit]
