# Sends in batches: while a worker's send batches are in the pool, further
# sends queue in the worker (up to smsverify_batch_queue) and go together
# as one pool task: their send_begin in one store batch, their provider
# calls side by side (those to one SENS in one request), their code_put /
# send_abort in one store batch.
#
# A send batch is held by its provider: /hold sends to a gate (a SENS
# stand-in that takes N messages and answers them only once the test
# opens it, t/inc/SmsVerify/Mock.pm).  Sixteen holders, sent 0.1 s apart,
# are sixteen batches in the pool (a batch goes beside the ones in the
# pool once the newest ran 20 ms, up to 16); the sends after them queue,
# and go as one batch once a holder is answered.  That they are one batch is read in
# LMDB's commits that wrote ("Last transaction ID" of mdb_stat -e): one
# for their send_begin, one for their code_put and send_abort.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

$ENV{TEST_NGINX_SENS_ID}     = 'ncp:sms:kr:260512:smsverify';
$ENV{TEST_NGINX_SENS_KEY}    = 'AKMOCKACCESS0123';
$ENV{TEST_NGINX_SENS_SECRET} = 'sensSecret-Zq8Xw3Lp9Vb';
$ENV{TEST_NGINX_CAFE24_ID}   = 'smsverify';
$ENV{TEST_NGINX_CAFE24_KEY}  = 'cafe24Secure-Vh5Tn2Rk7Mc';

$ENV{TEST_NGINX_GATE_PORT} = ($ENV{TEST_NGINX_SERVER_PORT} || 1984) + 13;
$ENV{TEST_NGINX_HANG_PORT} = ($ENV{TEST_NGINX_SERVER_PORT} || 1984) + 14;

sv_mock_start(
    sens_service_id   => $ENV{TEST_NGINX_SENS_ID},
    sens_access_key   => $ENV{TEST_NGINX_SENS_KEY},
    sens_secret_key   => $ENV{TEST_NGINX_SENS_SECRET},
    cafe24_user_id    => $ENV{TEST_NGINX_CAFE24_ID},
    cafe24_secure_key => $ENV{TEST_NGINX_CAFE24_KEY},
);

# where children leave the answers they got
our $Answers = File::Temp::tempdir(CLEANUP => 1);

# valgrind slows nginx down
our $Slack = $ENV{TEST_NGINX_USE_VALGRIND} ? 10 : 1;

{
package SmsVerify;

my $Seq = 0;

# A send in a child; answer_of() reads back its status, body and time.
sub send_in_child {
    my ($path, $phone) = @_;
    my $file = "$main::Answers/answer." . ++$Seq;
    my $pid = sv_fork(sub {
        my $res = sv_request(POST => $path, { phoneNumber => $phone });
        open my $out, '>', $file or die "$file: $!";
        print $out JSON::PP->new->canonical->encode(
            { status => $res->{status}, body => $res->{body},
              at => Time::HiRes::time() });
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
    my $a = JSON::PP->new->decode(<$in>);
    $a->{json} = eval { JSON::PP->new->decode($a->{body}) } // {};
    return $a;
}

sub waiting {
    scalar grep { waitpid($_->[0], POSIX::WNOHANG()) == 0 } @_;
}

# A send whose client goes away: the socket, to close when it should.
sub send_to_leave {
    my ($path, $phone) = @_;
    my $body = JSON::PP->new->encode({ phoneNumber => $phone });
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => server_port(),
                                     Proto => 'tcp')
        or die "connect: $!";
    print $sock "POST $path HTTP/1.1\r\nHost: localhost\r\n"
              . "Content-Type: application/json\r\n"
              . "Content-Length: " . length($body) . "\r\n\r\n$body";
    return $sock;
}

sub wait_until { sv_wait_until($_[0], $_[1] * $main::Slack) }

sub settle { Time::HiRes::sleep(0.4 * $main::Slack) }

# The gate, and $n sends held by it, each its own batch; $leave: the
# index of one whose client goes away (its socket is returned instead).
sub hold_all { hold(16, @_) }

sub hold {
    my $n = shift;
    my $leave = shift // -1;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $pid = sv_gate_provider($ENV{TEST_NGINX_GATE_PORT}, $n, $dir);
    my (@held, @phones);
    for my $i (0 .. $n - 1) {
        my $phone = sprintf '010-7299-%04d', 10 * $Seq + $i;
        push @phones, $phone;
        push @held, $i == $leave ? send_to_leave('/hold', $phone)
                                 : send_in_child('/hold', $phone);
        wait_until(sub { keys %{ sv_gate_messages($dir) } == $i + 1 }, 10)
            or die "the gate did not get send $i";
        Time::HiRes::sleep(0.1);
    }
    return { pid => $pid, dir => $dir, held => \@held, phones => \@phones };
}

sub open_gate {
    my $g = shift;
    open my $f, '>', "$g->{dir}/gate.open" or die;
    close $f;
    waitpid $g->{pid}, 0;
}

# the codes' commits that wrote something, so far (LMDB)
sub txnid {
    return 0 if sv_store_is_pg();
    my $dir = sv_store_env('codes');
    my ($id) = `mdb_stat -e $dir` =~ /Last transaction ID:\s*(\d+)/;
    return $id;
}

sub confirms {
    my ($phone, $code) = @_;
    return sv_request(POST => '/confirm',
        { phoneNumber => $phone, verificationNumber => "$code" })->{status};
}

sub reload {
    my @old = sv_worker_pids();
    kill 'HUP', sv_master_pid();
    my %old = map { $_ => 1 } @old;
    return wait_until(sub { grep({ !$old{$_} } sv_worker_pids()) >= 1 }, 10);
}

} # package SmsVerify

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_resend_interval 1ms;
    smsverify_batch_queue 3;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT
        timeout=5s;
_EOC_

our $Config = <<'_EOC_';
    location = /hold {
        smsverify send;
        smsverify_provider sens service_id=ncp:sms:kr:1:gate access_key=AK
            secret_key=SK from=0212345678
            url=http://127.0.0.1:$TEST_NGINX_GATE_PORT timeout=60s;
    }
    location = /send    { smsverify send; }
    location = /log     { smsverify send; smsverify_provider log; }
    location = /failover {
        smsverify send;
        smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
            access_key=$TEST_NGINX_SENS_KEY
            secret_key=$TEST_NGINX_SENS_SECRET from=0212345678
            url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
            secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
            url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    }
    location = /hang {
        smsverify send;
        smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
            access_key=$TEST_NGINX_SENS_KEY
            secret_key=$TEST_NGINX_SENS_SECRET from=0212345678
            url=http://127.0.0.1:$TEST_NGINX_HANG_PORT timeout=1s;
    }
    location = /confirm { smsverify confirm; }
    location = /status  { smsverify status; }
    location = /fast    { return 200 "fast\n"; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config);

add_block_preprocessor(sub { SmsVerify::sv_mock_reset() });

master_on();
workers(1);
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: a batch with one provider failing: only that send gets 502, in one batch
Three sends queue behind sixteen held batches and go as one batch, their
messages in one SENS request.  The mock refuses it (400, which one
message may cause) and the first of the three requests of one made
again: two sent, one 502 PROVIDER_FAILED whose count is taken back, two
commits for the three.
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my $g = hold_all();
sv_mock_behaviour({ provider => 'sens', mode => 'http400', count => 2 });
my @kids = map { send_in_child('/send', "010-7201-000$_") } 1 .. 3;
settle();
is(waiting(@kids), 3, 'the three queue');
is(scalar @{ sv_mock_requests() }, 0, 'no provider asked yet');
my $before = txnid();
my $t0 = Time::HiRes::time();
open_gate($g);
my @h = map { answer_of($_) } @{ $g->{held} };
my @a = map { answer_of($_) } @kids;
is_deeply([map { $_->{status} } @h], [(200) x 16], 'the held ones sent');
my @failed = grep { $a[$_]{status} == 502 } 0 .. 2;
my @sent = grep { $a[$_]{status} == 200 } 0 .. 2;
is(scalar @failed, 1, 'one 502');
is(scalar @sent, 2, 'two sent');
like($a[$failed[0]]{body}, qr/"error":"PROVIDER_FAILED"/, 'PROVIDER_FAILED');
is(scalar @{ sv_mock_requests() }, 3 + 3,
   'sens got the three in one request, then each alone');
ok(!grep({ $_->{at} - $t0 > 3 * $main::Slack } @a),
   'answered once the batch before them ended');
SKIP: {
    skip 'commits are counted on LMDB', 1 if sv_store_is_pg();
    is(txnid() - $before, 16 + 2, 'the held ones\' code_put, and two for the batch');
}
for my $i (@sent) {
    my $code = sv_mock_code_for($kids[$i][2]);
    is(confirms($kids[$i][2], $code), 200, "$kids[$i][2]: its code confirms");
}
my $res = sv_request(POST => '/send', { phoneNumber => $kids[$failed[0]][2] });
is($res->{status}, 200, 'the failed phone sends again at once: its count was taken back');
my $st = sv_request(GET => '/status')->{json};
is($st->{sendFailed}, 1, 'sendFailed 1');
is($st->{sent}, 16 + 2 + 1, 'sent 19');
is($st->{providers}{sens}{failed}, 1, 'sens failed once: the send, not the request of three');
--- error_log eval
[qr/provider "sens" failed to send to "\+82 10-\*+-\d+": sens answered 400/]
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 1b: a batch whose every send fails: each 502, each count taken back, together
Three sends go as one batch and SENS fails their one request (500, not
a message's fault: none is asked again alone): three 502 PROVIDER_FAILED,
and their three
send_abort in one store batch (one commit on LMDB; on PostgreSQL one
pipeline for them all, counted in t/unit/test_store_pg.c).
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my $g = hold_all();
sv_mock_behaviour({ provider => 'sens', mode => 'http500', count => 1 });
my @kids = map { send_in_child('/send', "010-7205-000$_") } 1 .. 3;
settle();
is(waiting(@kids), 3, 'the three queue');
my $before = txnid();
open_gate($g);
my @h = map { answer_of($_) } @{ $g->{held} };
my @a = map { answer_of($_) } @kids;
is_deeply([map { $_->{status} } @h], [(200) x 16], 'the held ones sent');
is_deeply([map { $_->{status} } @a], [502, 502, 502], 'all three 502');
is(scalar(grep { $_->{body} =~ /"error":"PROVIDER_FAILED"/ } @a), 3,
   'PROVIDER_FAILED each');
is(scalar @{ sv_mock_requests() }, 3, 'sens got the three in one request');
SKIP: {
    skip 'commits are counted on LMDB', 1 if sv_store_is_pg();
    is(txnid() - $before, 16 + 2, 'the held ones\' code_put, and two for the batch');
}
for my $k (@kids) {
    my $res = sv_request(POST => '/send', { phoneNumber => $k->[2] });
    is($res->{status}, 200, "$k->[2] sends again at once: its count was taken back");
}
my $st = sv_request(GET => '/status')->{json};
is($st->{sendFailed}, 3, 'sendFailed 3');
is($st->{sent}, 16 + 3, 'sent 19');
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 2: failover stays per send, in order, inside a batch
The request of the three is refused, then one of theirs alone: that send
alone goes on to cafe24.
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my $g = hold_all();
sv_mock_behaviour({ provider => 'sens', mode => 'http400', count => 2 });
my @kids = map { send_in_child('/failover', "010-7202-000$_") } 1 .. 3;
settle();
is(waiting(@kids), 3, 'the three queue');
open_gate($g);
my @a = map { answer_of($_) } @kids;
is_deeply([map { $_->{status} } @a], [200, 200, 200], 'all three sent');
my @asked = @{ sv_mock_requests() };
my @sens = grep { $_->{provider} eq 'sens' } @asked;
my @cafe24 = grep { $_->{provider} eq 'cafe24' } @asked;
is(scalar @sens, 3 + 3, 'sens asked for the three together, then for each');
is(scalar @cafe24, 1, 'cafe24 once');
my %by_sens = map { $_->{to} => 1 }
              grep { $_->{provider} eq 'sens' } @{ sv_mock_messages() };
my $failover = ($cafe24[0]{to} // '') =~ s/\D//gr;
ok(!$by_sens{$failover}, 'for the send sens refused alone');
is(scalar keys %by_sens, 2, 'sens took the other two');
for my $k (@kids) {
    is(confirms($k->[2], sv_mock_code_for($k->[2])), 200, "$k->[2]: its code confirms");
}
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 2b: a batch's sends go to SENS as one request, each with its own code
--- request
GET /status
--- timeout: 120
--- flow
my $g = hold_all();
my @kids = map { send_in_child('/send', "010-7203-000$_") } 1 .. 3;
settle();
is(waiting(@kids), 3, 'the three queue');
open_gate($g);
my @a = map { answer_of($_) } @kids;
is_deeply([map { $_->{status} } @a], [200, 200, 200], 'all three sent');
my @m = grep { $_->{to} =~ /^0107203/ } @{ sv_mock_messages() };
is(scalar @m, 3, 'three messages');
is(scalar(keys %{ { map { $_->{request} => 1 } @m } }), 1, 'in one request');
is(scalar(keys %{ { map { $_->{text} => 1 } @m } }), 3, 'each its own text');
for my $k (@kids) {
    is(confirms($k->[2], sv_mock_code_for($k->[2])), 200, "$k->[2]: its code confirms");
}
my $st = sv_request(GET => '/status')->{json};
is($st->{providers}{sens}{ok}, 16 + 3, 'sens ok counts the sends');
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 2c: the request of a batch's sends fails: each send on to its next provider
--- request
GET /status
--- timeout: 120
--- flow
my $g = hold_all();
sv_mock_behaviour({ provider => 'sens', mode => 'http500', count => 1 });
my @kids = map { send_in_child('/failover', "010-7204-000$_") } 1 .. 3;
settle();
is(waiting(@kids), 3, 'the three queue');
open_gate($g);
my @a = map { answer_of($_) } @kids;
is_deeply([map { $_->{status} } @a], [200, 200, 200], 'all three sent');
my @asked = @{ sv_mock_requests() };
is(scalar(grep { $_->{provider} eq 'sens' } @asked), 3, 'sens asked once for the three');
is(scalar(grep { $_->{provider} eq 'cafe24' } @asked), 3, 'cafe24 for each');
for my $k (@kids) {
    is(confirms($k->[2], sv_mock_code_for($k->[2])), 200, "$k->[2]: its code confirms");
}
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 3: a batch with one failing store operation: only that send fails, the others' writes stay
The phone's send record is corrupt: its send_begin fails alone (500), the
other two are sent and their codes stored, in the same two commits.
--- lmdb_only: a corrupt record is written with mdb_load
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my $g = hold_all();
sv_store_put('sends', '+821072030002', 'abc');
my @kids = map { send_in_child('/send', "010-7203-000$_") } 1 .. 3;
settle();
is(waiting(@kids), 3, 'the three queue');
my $before = txnid();
open_gate($g);
my @h = map { answer_of($_) } @{ $g->{held} };
my @a = map { answer_of($_) } @kids;
is_deeply([map { $_->{status} } @a], [200, 500, 200], 'the corrupt one alone fails');
like($a[1]{body}, qr/"error":"INTERNAL"/, 'INTERNAL');
is(txnid() - $before, 16 + 2, 'the held ones\' code_put, and two for the batch');
is(scalar @{ sv_mock_requests() }, 2, 'the failed one reached no provider');
for my $i (0, 2) {
    is(confirms($kids[$i][2], sv_mock_code_for($kids[$i][2])), 200,
       "$kids[$i][2]: its code confirms");
}
--- error_log eval
[qr/corrupt record in .sends./]
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 4: a full queue: 503 BUSY for exactly the sends that did not fit
smsverify_batch_queue 3: behind the sixteen held batches three wait, the
fourth and fifth are refused at once and count nothing.
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my $g = hold_all();
my @kids;
for my $i (1 .. 5) {
    push @kids, send_in_child('/send', "010-7204-000$i");
    Time::HiRes::sleep(0.15 * $main::Slack);
}
ok(wait_until(sub { !grep { !-e $_->[1] } @kids[3, 4] }, 5),
   'the two that did not fit are answered while the batches are held');
is(waiting(@kids[0 .. 2]), 3, 'the three others wait');
my @early = map { answer_of($_) } @kids[3, 4];
open_gate($g);
my @a = map { answer_of($_) } @kids[0 .. 2];
is_deeply([map { $_->{status} } @a, @early], [200, 200, 200, 503, 503],
          'three sent, then 503 for the two over the queue');
like($early[0]{body}, qr/^\{"error":"BUSY","message":"[^"]+"\}$/, 'BUSY');
my @to = sort map { $_->{to} } @{ sv_mock_requests() };
is_deeply(\@to, ['01072040001', '01072040002', '01072040003'],
          'the refused ones reached no provider');
my $res = sv_request(POST => '/send', { phoneNumber => '010-7204-0004' });
is($res->{status}, 200, 'a refused phone sends at once: nothing was counted');
my $st = sv_request(GET => '/status')->{json};
is($st->{sent}, 16 + 3 + 1, 'sent 20');
is($st->{rateLimited}, 0, 'nothing rate limited');
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 5: clients that go away while their send is in a batch, and while it is queued
Each send still goes out and its code is stored and counted; nothing is
answered to a closed connection.
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my $g = hold_all(1);
my $in_batch = $g->{held}[1];
my $queued = send_to_leave('/send', '010-7205-0001');
my $kid = send_in_child('/send', '010-7205-0002');
settle();
shutdown($in_batch, 2);
shutdown($queued, 2);
settle();
open_gate($g);
my $a = answer_of($kid);
is($a->{status}, 200, 'the one that stayed: sent');
my $codes = sv_gate_messages($g->{dir});
is(scalar keys %$codes, 16, 'the gate got the held messages');
for my $i (0, 2 .. 15) {
    is(answer_of($g->{held}[$i])->{status}, 200, "held $i: sent");
}
my $gone = $g->{phones}[1];
my $code = $codes->{ $gone =~ s/\D//gr };
ok($code, 'the message of the held one that left went out');
is(confirms($gone, $code), 200, 'and its code was stored');
is(confirms('010-7205-0001', sv_mock_code_for('010-7205-0001')), 200,
   'the queued one that left: sent, its code stored');
my $st = sv_request(GET => '/status')->{json};
is($st->{sent}, 16 + 2, 'every send counted');
ok(wait_until(sub { sv_log_grep(qr/client prematurely closed connection/) >= 2 }, 5),
   'both departures noticed');
is(scalar(sv_log_grep(qr/closed keepalive connection/)), 0,
   'and nothing answered to them');
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/,
 qr/open socket .* left in connection/]



=== TEST 6: a hanging provider in a batch: its timeout honoured, the others' answers right
Three sends queue; one's provider accepts the connection and never
answers (timeout=1s): it gets 502 after its timeout, the two others are
sent.  The event loop answers meanwhile.
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
sv_hang_provider($ENV{TEST_NGINX_HANG_PORT}, 64);
my $g = hold_all();
my @kids = (send_in_child('/send', '010-7206-0001'),
            send_in_child('/hang', '010-7206-0002'),
            send_in_child('/send', '010-7206-0003'));
settle();
is(waiting(@kids), 3, 'the three queue');
my $t0 = Time::HiRes::time();
open_gate($g);
Time::HiRes::sleep(0.3);
my $t1 = Time::HiRes::time();
my $fast = sv_request(GET => '/fast');
my $took = Time::HiRes::time() - $t1;
is($fast->{status}, 200, 'the loop answers while the batch waits');
ok($took < 0.5 * $main::Slack, "at once ($took s)");
my @a = map { answer_of($_) } @kids;
is_deeply([map { $_->{status} } @a], [200, 502, 200], 'the hanging one alone fails');
like($a[1]{body}, qr/"error":"PROVIDER_FAILED"/, 'PROVIDER_FAILED');
my $waited = $a[1]{at} - $t0;
ok($waited >= 0.9 && $waited < 4 * $main::Slack, "after its timeout ($waited s)");
for my $i (0, 2) {
    is(confirms($kids[$i][2], sv_mock_code_for($kids[$i][2])), 200,
       "$kids[$i][2]: its code confirms");
}
my $res = sv_request(POST => '/send', { phoneNumber => '010-7206-0002' });
is($res->{status}, 200, 'the hanging one\'s count was taken back');
--- error_log eval
[qr/provider "sens" failed to send to "\+82 10-\*+-0002": sens: .*timed out/]
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 7: beside slow batches, each send goes at once
Two batches held by their provider: sends one after the other go each as
a batch beside them (the newest batch in the pool is the last one, long
done, not a held one), none waits for the 20 ms bound.
--- request
GET /status
--- timeout: 120
--- flow
my $g = hold(2);
my $t0 = Time::HiRes::time();
my @status = map { sv_request(POST => '/log',
                              { phoneNumber => sprintf('010-7217-%04d', $_) })
                       ->{status} } 1 .. 50;
my $took = Time::HiRes::time() - $t0;
is_deeply(\@status, [(200) x 50], 'fifty sent');
ok($took < 0.9 * $main::Slack, "without a wait each ($took s for 50)");
open_gate($g);
is_deeply([map { answer_of($_)->{status} } @{ $g->{held} }], [200, 200],
          'the held ones sent');
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 8: a reload with send batches in flight: every send answered, no socket left
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my @old = sv_worker_pids();
my $g = hold_all();
my @kids = map { send_in_child('/send', "010-7207-000$_") } 1 .. 3;
settle();
ok(reload(), 'new workers run');
open_gate($g);
my @a = map { answer_of($_) } @{ $g->{held} }, @kids;
is_deeply([map { $_->{status} } @a], [(200) x 19], 'every client answered');
ok(wait_until(sub { sv_gone(@old) }, 10), 'the old worker is gone');
for my $k (@kids) {
    is(confirms($k->[2], sv_mock_code_for($k->[2])), 200,
       "$k->[2]: the new worker confirms its code");
}
is(scalar(sv_log_grep(qr/gracefully shutting down/)), 1,
   'the old worker shut down gracefully');
--- no_error_log eval
[qr/open socket .* left in connection/, qr/exited on signal/,
 qr/\[(?:alert|crit|emerg)\]/, qr/aborting/]



=== TEST 9: a graceful stop (QUIT) with send batches in flight: every client answered, then nginx exits
The last block: it stops nginx itself.
--- request
GET /status
--- log_level: info
--- timeout: 120
--- flow
my $master = sv_master_pid();
my @workers = sv_worker_pids();
my $g = hold_all();
my @kids = map { send_in_child('/send', "010-7208-000$_") } 1 .. 3;
settle();
kill 'QUIT', $master;
settle();
open_gate($g);
my @a = map { answer_of($_) } @{ $g->{held} }, @kids;
is_deeply([map { $_->{status} } @a], [(200) x 19], 'every client answered');
ok(wait_until(sub { sv_gone($master, @workers) }, 10), 'nginx exits');
ok(scalar(sv_log_grep(qr/\[notice\] \d+#\d+: exit$/)), 'the master logged its exit');
--- no_error_log eval
[qr/open socket .* left in connection/, qr/exited on signal/,
 qr/\[(?:alert|crit|emerg)\]/, qr/aborting/]
