# Batches of store work (group commit): while one batch of a worker's is
# in the pool, the store operations of further requests (confirms here;
# session uses in TEST 5b) queue in the worker, up to smsverify_batch_queue, and go together as
# the next batch: one LMDB write transaction, or on PostgreSQL one
# pipeline (each confirm its own transaction, all in one round trip: the
# round trips are counted in t/unit/test_store_pg.c).
#
# A batch is held in the pool by another process holding the codes'
# write lock: on LMDB mdb_load waiting for its records, as in
# t/091-crash.t; on PostgreSQL psql in a transaction that locked the
# codes' table in SHARE mode (reads go on, writes wait).  The first
# confirm's batch waits for the lock, the next ones queue.  LMDB counts
# commits that wrote ("Last transaction ID" of mdb_stat -e): that the
# queued ones are one batch is read there.  Every confirm here is for a
# phone with a pending code: one without is answered on the event loop
# (t/141-loop-reads.t) and never reaches a batch.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

# where children leave the answers they got
our $Answers = File::Temp::tempdir(CLEANUP => 1);

# valgrind slows nginx down
our $Slack = $ENV{TEST_NGINX_USE_VALGRIND} ? 10 : 1;

# how long a session of TEST 5b lives unused: a tenth of it makes it stale
$ENV{TEST_NGINX_SESSION_IDLE} = 10 * $Slack . 's';

# the pauses while a batch is held: on PostgreSQL the held statement
# gives up after the statement timeout (5 s), so they stay shorter
our $HoldSlack = sv_store_is_pg() && $Slack > 3 ? 3 : $Slack;

{
package SmsVerify;

my $Seq = 0;

# A request (sv_request's arguments) in a child; answer_of() reads back
# its status and body.
sub request_in_child {
    my @request = @_;
    my $file = "$main::Answers/answer." . ++$Seq;
    my $pid = sv_fork(sub {
        my $res = sv_request(@request);
        open my $out, '>', $file or die "$file: $!";
        print $out JSON::PP->new->canonical->encode(
            { status => $res->{status}, body => $res->{body},
              at => Time::HiRes::time() });
        close $out;
        return 0;
    });
    return [$pid, $file];
}

sub confirm_in_child {
    my ($phone, $code) = @_;
    return request_in_child(POST => '/confirm',
                            { phoneNumber => $phone,
                              verificationNumber => "$code" });
}

sub answer_of {
    my $kid = shift;
    waitpid $kid->[0], 0;
    open my $in, '<', $kid->[1] or return { status => 'none' };
    local $/;
    my $a = JSON::PP->new->decode(<$in>);
    $a->{json} = eval { JSON::PP->new->decode($a->{body}) } // {};
    return $a;
}

# A confirm whose client goes away: the socket, to close when it should.
sub confirm_to_leave {
    my ($phone, $code) = @_;
    my $body = JSON::PP->new->encode({ phoneNumber => $phone,
                                       verificationNumber => "$code" });
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => server_port(),
                                     Proto => 'tcp')
        or die "connect: $!";
    print $sock "POST /confirm HTTP/1.1\r\nHost: localhost\r\n"
              . "Content-Type: application/json\r\n"
              . "Content-Length: " . length($body) . "\r\n\r\n$body";
    return $sock;
}

# waits for what() to be true, up to $secs (times the slack)
sub wait_until { sv_wait_until($_[0], $_[1] * $main::Slack) }

sub settle { Time::HiRes::sleep(0.4 * $main::HoldSlack) }

# mdb_load holding the codes' write lock: it waits for its records inside
# its write transaction until the pipe gives them or closes; on
# PostgreSQL psql, whose records are SQL
sub hold_codes {
    my $db = shift // 'never_committed';
    return hold_codes_pg() if sv_store_is_pg();
    my $dir = sv_store_env('codes');
    pipe(my $from, my $to) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $to;
        open STDIN, '<&', $from or POSIX::_exit(126);
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec('mdb_load', '-s', $db, $dir) or POSIX::_exit(127);
    }
    close $from;
    syswrite $to, "VERSION=3\nformat=print\ntype=btree\nHEADER=END\n";
    settle();
    return { pid => $pid, pipe => $to };
}

sub hold_codes_pg {
    my $bin = ($ENV{SV_PG_BIN} // '/usr/lib/postgresql/15/bin') . '/psql';
    $bin = 'psql' if !-x $bin;
    pipe(my $from, my $to) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $to;
        open STDIN, '<&', $from or POSIX::_exit(126);
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec($bin, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d',
             $SmsVerify::Flow::PgUri) or POSIX::_exit(127);
    }
    close $from;
    syswrite $to, "BEGIN;\nLOCK TABLE smsverify.codes IN SHARE MODE;\n";
    wait_until(sub {
        sv_psql(q{SELECT count(*) FROM pg_locks l
                  JOIN pg_class c ON c.oid = l.relation
                  WHERE c.relname = 'codes' AND l.mode = 'ShareLock'
                  AND l.granted})->[0][0] > 0 }, 10)
        or die "psql did not lock smsverify.codes";
    return { pid => $pid, pipe => $to, pg => 1 };
}

# the holder commits what it was given (its records, then the end)
sub release {
    my ($h, $records) = @_;
    syswrite $h->{pipe}, ($records // '') . ($h->{pg} ? "\nCOMMIT;\n" : '');
    close $h->{pipe};
    waitpid $h->{pid}, 0;
    return $? >> 8;
}

# the holder dies in its transaction: nothing of it is committed
sub kill_holder {
    my $h = shift;
    kill 'KILL', $h->{pid};
    waitpid $h->{pid}, 0;
    close $h->{pipe};
}

# the codes' commits that wrote something, so far
sub txnid {
    my $dir = sv_store_env('codes');
    my ($id) = `mdb_stat -e $dir` =~ /Last transaction ID:\s*(\d+)/;
    return $id;
}

# a code sent through the log provider
sub code_of {
    my $phone = shift;
    my $res = sv_request(POST => '/send', { phoneNumber => $phone });
    die "send $phone: $res->{status}" if $res->{status} != 200;
    return sv_code_for($phone);
}

# the reload signal; waits until the new workers run
sub reload {
    my @old = sv_worker_pids();
    kill 'HUP', sv_master_pid();
    my %old = map { $_ => 1 } @old;
    return wait_until(sub { grep({ !$old{$_} } sv_worker_pids()) >= 1 }, 10);
}

sub wrong { my $c = shift; sprintf '%06d', ($c + 1) % 1000000 }

} # package SmsVerify

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_send_limit 50 1h;
    smsverify_max_attempts 5;
    smsverify_batch_queue 3;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /status  { smsverify status; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config);

master_on();
workers(1);
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: the queue holds 1 to 65536
--- http_config eval
$::HttpConfig =~ s/batch_queue 3/batch_queue 0/r
--- must_die
--- error_log eval
qr/\[emerg\] .*value must be between 1 and 65536 in \S+nginx\.conf:\d+/



=== TEST 2: http level only
--- config
    location = /confirm { smsverify confirm; smsverify_batch_queue 5; }
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_batch_queue" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 3: once
--- http_config eval
$::HttpConfig . "    smsverify_batch_queue 4;\n"
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_batch_queue" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 4: a batch with one failing operation: only that request fails, the others' writes stay
Three confirms queue behind a confirm waiting for the write lock; while
the lock is held, a corrupt code record is written for one of them.  The
three go as one batch, one commit (PostgreSQL: one pipeline): a match, a
mismatch, and a 500 for the corrupt record alone.
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my %code = map { $_ => code_of($_) }
           '010-7101-0001', '010-7101-0002', '010-7101-0003', '010-7101-0009';
my $h = hold_codes('codes');
my $first = confirm_in_child('010-7101-0009', wrong($code{'010-7101-0009'}));
settle();
my @kids = (confirm_in_child('010-7101-0001', $code{'010-7101-0001'}),
            confirm_in_child('010-7101-0002', '123456'),
            confirm_in_child('010-7101-0003', wrong($code{'010-7101-0003'})));
settle();
is(scalar(grep { waitpid($_->[0], POSIX::WNOHANG()) == 0 } $first, @kids), 4,
   'the four wait');
my $before = sv_store_is_pg() ? 0 : txnid();
# the holder replaces a code's record with one no code has: 3 bytes
is(release($h, sv_store_is_pg()
    ? "UPDATE smsverify.codes SET code_hash = 'abc'"
      . " WHERE phone = '+821071010002';"
    : " +821071010002\n abc\nDATA=END\n"), 0, 'the holder commits');
my $a = answer_of($first);
my @a = map { answer_of($_) } @kids;
is($a->{status}, 400, 'the first: a mismatch (a batch of one)');
like($a->{body}, qr/"error":"CODE_MISMATCH"/, '');
is($a[0]{status}, 200, 'the right code: verified');
like($a[0]{json}{verificationToken} // '', qr/^[A-Za-z0-9_-]{43}$/, 'with a token');
is($a[1]{status}, 500, 'the corrupt record: 500');
like($a[1]{body}, qr/"error":"INTERNAL"/, 'INTERNAL');
is($a[2]{status}, 400, 'the wrong code: a mismatch');
is($a[2]{json}{attemptsLeft}, 4, 'one attempt counted');
# LMDB: one commit for the batch (PostgreSQL: its round trip, unit-tested)
is(txnid(), $before + 3,
   'the holder\'s commit, the first\'s and one for the batch')
    if !sv_store_is_pg();
# what the batch wrote is in the store
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-7101-0003',
    verificationNumber => wrong($code{'010-7101-0003'}) });
is($res->{json}{attemptsLeft}, 3, 'the mismatch was kept');
$res = sv_request(POST => '/confirm', { phoneNumber => '010-7101-0003',
    verificationNumber => $code{'010-7101-0003'} });
is($res->{status}, 200, 'and the code still confirms');
$res = sv_request(POST => '/confirm', { phoneNumber => '010-7101-0001',
    verificationNumber => $code{'010-7101-0001'} });
like($res->{body}, qr/"error":"NO_PENDING_CODE"/, 'the matched code is gone');
--- error_log eval
[SmsVerify::Flow::sv_store_is_pg()
 ? qr/a row of smsverify\.codes that is not of this module's making/
 : qr/corrupt record in .codes./]
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 5: a full queue: 503 BUSY for exactly the requests that did not fit
smsverify_batch_queue 3: behind the batch in the pool, three wait; the
fourth and fifth are refused at once, the three answered once the lock is
free.
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my $code = code_of('010-7102-0001');
my $held = code_of('010-7102-0009');
my $h = hold_codes();
my $first = confirm_in_child('010-7102-0009', wrong($held));
settle();
my @kids;
for my $i (1 .. 5) {
    push @kids, confirm_in_child('010-7102-0001', wrong($code));
    Time::HiRes::sleep(0.15 * $main::HoldSlack);
}
ok(wait_until(sub { !grep { !-e $_->[1] } @kids[3, 4] }, 5),
   'the two that did not fit are answered while the lock is held');
is(scalar(grep { waitpid($_->[0], POSIX::WNOHANG()) == 0 } $first, @kids[0 .. 2]),
   4, 'the others wait');
kill_holder($h);
my @a = map { answer_of($_) } @kids;
is(answer_of($first)->{status}, 400, 'the first answered');
is_deeply([map { $_->{status} } @a], [400, 400, 400, 503, 503],
          'three mismatches, then 503 for the two over the queue');
like($a[3]{body}, qr/^\{"error":"BUSY","message":"[^"]+"\}$/, 'BUSY');
is_deeply([sort map { $_->{json}{attemptsLeft} } @a[0 .. 2]], [2, 3, 4],
          'each queued guess counted once');
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-7102-0001',
    verificationNumber => $code });
is($res->{status}, 200, 'the refused ones counted nothing: the code confirms');
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 5b: session uses queue too: guards that write a last use and logouts, one batch; past the queue 503 BUSY
Four sessions of one member, each unused for more than a tenth of its
idle time: a guarded request writes its last use.  Behind the batch in
the pool, two guarded requests and a logout wait, and go as one batch
once the lock is free (LMDB: one commit); the fourth guarded request is
refused at once and changes nothing.  On PostgreSQL the lookups
themselves go in the batch.
--- http_config eval
$::HttpConfig . q{
    smsverify_password_hash bcrypt cost=4;
    smsverify_session_ttl 1h idle=$TEST_NGINX_SESSION_IDLE;
}
--- config eval
$::Config . q{
    location = /signup { smsverify signup; smsverify_signup_login off; }
    location = /login  { smsverify login; }
    location = /logout { smsverify logout; }
    location = /who {
        smsverify_auth member;
        proxy_set_header X-Member-Id $smsverify_member_id;
        proxy_pass http://127.0.0.1:$server_port/whoami;
    }
    location = /whoami { return 200 "$http_x_member_id"; }
}
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my $token = sv_verify_phone('010-7106-0001');
my $res = sv_request(POST => '/signup',
    sv_member(phoneNumber => '010-7106-0001', termsId => [],
              verificationToken => $token));
is($res->{status}, 200, 'a member');
my $id = $res->{json}{memberId};
my @cookie = map {
    my $r = sv_request(POST => '/login', { email => 'kim@example.com',
                                           password => 'Passw0rd!' });
    { Cookie => 'smsverify_session=' . sv_cookie($r, 'smsverify_session') }
} 1 .. 4;
# a tenth of the idle time unused: a use writes its last use
Time::HiRes::sleep(1.2 * $main::Slack);
my $held = code_of('010-7106-0009');
my $h = hold_codes();
my $first = confirm_in_child('010-7106-0009', wrong($held));
settle();
my @kids = (request_in_child(GET => '/who', undef, $cookie[0]),
            request_in_child(GET => '/who', undef, $cookie[1]),
            request_in_child(POST => '/logout', undef, $cookie[2]));
settle();
is(scalar(grep { waitpid($_->[0], POSIX::WNOHANG()) == 0 } $first, @kids),
   4, 'the three wait behind the batch in the pool');
$res = sv_request(GET => '/who', undef, $cookie[3]);
is($res->{status}, 503, 'the fourth does not fit the queue: 503');
like($res->{body}, qr/^\{"error":"BUSY","message":"[^"]+"\}$/, 'BUSY');
my $before = sv_store_is_pg() ? 0 : txnid();
kill_holder($h);
is(answer_of($first)->{status}, 400, 'the held confirm answered');
my @a = map { answer_of($_) } @kids;
is_deeply([map { $_->{status} } @a], [200, 200, 200], 'the three answered');
is_deeply([map { $_->{body} } @a[0, 1]], [$id, $id], 'the guards: the member');
like($a[2]{body}, qr/"status":"logged_out"/, 'the logout');
is(txnid(), $before + 2, 'the held confirm\'s commit, then one for the three')
    if !sv_store_is_pg();
is(sv_request(GET => '/who', undef, $cookie[2])->{status}, 401,
   'the logged-out session is gone');
is(sv_psql(q{SELECT count(*) FROM smsverify.sessions
             WHERE last_used_ms > created_ms})->[0][0], 2,
   'the two guarded sessions\' last use written, no other')
    if sv_store_is_pg();
$before = sv_store_is_pg() ? 0 : txnid();
is_deeply([map { sv_request(GET => '/who', undef, $_)->{status} }
           @cookie[0, 1, 3]], [200, 200, 200], 'the others still let in');
is(txnid(), $before + 1,
   'the two just written are not stale; the refused one is, and is written')
    if !sv_store_is_pg();
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 6: clients that go away while their confirm is in the batch, and while it is queued
The operation still runs (its guess is counted), nothing is answered to a
closed connection, and nothing else is disturbed.
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my $code = code_of('010-7103-0001');
my $h = hold_codes();
my $in_batch = confirm_to_leave('010-7103-0001', wrong($code));
settle();
my $queued = confirm_to_leave('010-7103-0001', wrong($code));
my $kid = confirm_in_child('010-7103-0001', wrong($code));
settle();
# shutdown: the child forked since holds the sockets too
shutdown($in_batch, 2);
shutdown($queued, 2);
settle();
kill_holder($h);
my $a = answer_of($kid);
is($a->{status}, 400, 'the one that stayed: its answer');
is($a->{json}{attemptsLeft}, 2, 'after the two that left were counted');
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-7103-0001',
    verificationNumber => $code });
is($res->{status}, 200, 'the code confirms');
my $st = sv_request(GET => '/status')->{json};
is($st->{confirmFailed}, 3, 'three failed confirms counted');
ok(wait_until(sub { sv_log_grep(qr/client prematurely closed connection/) >= 2 }, 5),
   'both departures noticed');
is(scalar(sv_log_grep(qr/closed keepalive connection/)), 0,
   'and nothing answered to them');
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/,
 qr/open socket .* left in connection/]



=== TEST 7: a reload with batches in flight: every request answered, no socket left
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my $code = code_of('010-7104-0001');
my @old = sv_worker_pids();
my $held = code_of('010-7104-0009');
my $h = hold_codes();
my $first = confirm_in_child('010-7104-0009', wrong($held));
settle();
my @kids = map { confirm_in_child('010-7104-0001', wrong($code)) } 1 .. 3;
settle();
ok(reload(), 'new workers run');
kill_holder($h);
my @a = map { answer_of($_) } $first, @kids;
is_deeply([map { $_->{status} } @a], [400, 400, 400, 400], 'every client answered');
ok(wait_until(sub { sv_gone(@old) }, 10), 'the old worker is gone');
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-7104-0001',
    verificationNumber => $code });
is($res->{status}, 200, 'the new worker confirms the code');
is(scalar(sv_log_grep(qr/gracefully shutting down/)), 1,
   'the old worker shut down gracefully');
--- no_error_log eval
[qr/open socket .* left in connection/, qr/exited on signal/,
 qr/\[(?:alert|crit|emerg)\]/, qr/aborting/]



=== TEST 8: a graceful stop (QUIT) with batches in flight: every client answered, then nginx exits
The last block: it stops nginx itself.
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my $code = code_of('010-7105-0001');
my $master = sv_master_pid();
my @workers = sv_worker_pids();
my $held = code_of('010-7105-0009');
my $h = hold_codes();
my $first = confirm_in_child('010-7105-0009', wrong($held));
settle();
my @kids = map { confirm_in_child('010-7105-0001', wrong($code)) } 1 .. 3;
settle();
kill 'QUIT', $master;
settle();
kill_holder($h);
my @a = map { answer_of($_) } $first, @kids;
is_deeply([map { $_->{status} } @a], [400, 400, 400, 400], 'every client answered');
ok(wait_until(sub { sv_gone($master, @workers) }, 10), 'nginx exits');
ok(scalar(sv_log_grep(qr/\[notice\] \d+#\d+: exit$/)), 'the master logged its exit');
--- no_error_log eval
[qr/open socket .* left in connection/, qr/exited on signal/,
 qr/\[(?:alert|crit|emerg)\]/, qr/aborting/]
