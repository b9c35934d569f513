# Two nginx nodes on one PostgreSQL database (API.md section 6): node A is
# the nginx under test, node B a second nginx this file starts itself,
# with its own prefix, configuration, port and error log, from the same
# http configuration (the same URI and smsverify_secret).  A code sent
# through one node confirms on the other, limits and attempts count
# across them, racing signups on the two nodes never both win, a session
# of one is valid on the other, and a database stopped mid-traffic
# (pg_ctl stop -m immediate) answers 503 STORE_UNAVAILABLE at once, with
# no hang, no crash and no half-written member, until it is back, when
# everything works again without a reload.
#
# Runs with the PostgreSQL setting only (make test-nginx-pg:
# TEST_NGINX_SMSVERIFY_STORE=postgresql, TEST_NGINX_PG_URI); the outage
# block also needs the tests' own server (SV_PG_SH, t/pg/pg.sh).

use Test::Nginx::Socket;
use lib 't/inc';
use SmsVerify;

use File::Temp ();
use POSIX ();
use Time::HiRes qw(sleep time);

if (!sv_store_is_pg()) {
    plan(skip_all => 'two nodes need the PostgreSQL store '
                     . '(TEST_NGINX_SMSVERIFY_STORE=postgresql)');
} else {
    plan('no_plan');
}

# the SENS stand-in of TEST 6, which holds its messages until told
$ENV{TEST_NGINX_GATE_PORT} = ($ENV{TEST_NGINX_SERVER_PORT} || 1984) + 2;

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_send_limit 4 1h;
    smsverify_max_attempts 3;
    smsverify_login_limit 3 15m;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_terms 2 required;
    smsverify_terms 3 optional;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /login   { smsverify login; }
    location = /logout  { smsverify logout; }
    location = /session { smsverify session; }
    location = /status  { smsverify status; }
    location /members/  {
        smsverify_auth member;
        proxy_set_header X-Member-Id $smsverify_member_id;
        proxy_pass http://127.0.0.1:$server_port/echo;
    }
    location = /echo    { return 200 "$http_x_member_id\n"; }
    location = /node    { return 200 "A\n"; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

workers(2);
master_on();
no_shuffle();
sv_flow_blocks();
run_tests();


# ---- node B -----------------------------------------------------------------

{
package SmsVerify;

use Time::HiRes qw(sleep time);

our ($BPrefix, $BPort, $BLog);

sub node_b_start {
    my ($block) = @_;
    $BPort = server_port() + 1;
    $BPrefix = server_root() . '-b';
    $BLog = "$BPrefix/logs/error.log";
    node_b_stop();      # one a failed flow left
    system('rm', '-rf', $BPrefix) == 0 or die "rm $BPrefix";
    mkdir $_ or die "mkdir $_: $!" for $BPrefix, "$BPrefix/conf", "$BPrefix/logs";

    (my $config = $block->config) =~ s/return 200 "A\\n"/return 200 "B\\n"/;
    my $load = $SmsVerify::Module ne '' ? "load_module $SmsVerify::Module;" : '';
    my $user = $> == 0 ? 'user root;' : '';
    open my $out, '>', "$BPrefix/conf/nginx.conf" or die $!;
    print $out <<"_EOC_";
$user
worker_processes 2;
daemon on;
master_process on;
error_log $BLog info;
pid $BPrefix/logs/nginx.pid;
$load

events { worker_connections 1024; }

http {
    access_log off;
    client_body_temp_path $BPrefix/client_body_temp;
    proxy_temp_path $BPrefix/proxy_temp;
    fastcgi_temp_path $BPrefix/fastcgi_temp;
    uwsgi_temp_path $BPrefix/uwsgi_temp;
    scgi_temp_path $BPrefix/scgi_temp;
${\ $block->http_config }
    server {
        listen 127.0.0.1:$BPort;
        server_name localhost;
$config
    }
}
_EOC_
    close $out;

    my $out_text = `$Test::Nginx::Util::NginxBinary -p $BPrefix/ -c $BPrefix/conf/nginx.conf 2>&1`;
    die "node B did not start: $out_text" if $?;
    sv_wait_until(sub { (on_b(GET => '/node')->{body} // '') eq "B\n" }, 10)
        or die "node B does not answer on $BPort";
}

sub node_b_stop {
    return if !$BPrefix;
    my $pid = node_b_master() or return;
    kill 'QUIT', $pid;
    sv_wait_until(sub { !kill 0, $pid }, 10) or kill 'KILL', $pid;
}

sub node_b_master {
    open my $in, '<', "$BPrefix/logs/nginx.pid" or return undef;
    my $pid = <$in> // '';
    return $pid =~ /(\d+)/ ? $1 : undef;
}

# a request to node B; its log provider's codes are in B's error log
sub on_b {
    local $Test::Nginx::Util::ServerPortForClient = $BPort;
    return sv_request(@_);
}

sub code_on_b {
    local $Test::Nginx::Util::ErrLogFile = $BLog;
    return sv_code_for(shift);
}

sub b_log_grep {
    local $Test::Nginx::Util::ErrLogFile = $BLog;
    return sv_log_grep(shift);
}

# a phone verified through one node (send there, confirm on the other)
sub token_across {
    my ($phone) = @_;
    my $res = sv_request(POST => '/send', { phoneNumber => $phone });
    die "send: $res->{body}" if $res->{status} != 200;
    $res = on_b(POST => '/confirm', { phoneNumber => $phone,
                                      verificationNumber => '' . sv_code_for($phone) });
    die "confirm: $res->{body}" if $res->{status} != 200;
    return $res->{json}{verificationToken};
}

# the members as the application reads them
sub pg_members {
    return sv_psql(q{SELECT m.id, m.email, m.phone,
                       (SELECT string_agg(t.terms_id::text, ',' ORDER BY t.terms_id)
                        FROM smsverify.member_terms t WHERE t.member_id = m.id)
                     FROM smsverify.members m ORDER BY m.id});
}

# Children that each start on the same instant, on alternate nodes: the
# statuses (and JSON) of their answers, in the children's order.
sub race {
    my (@requests) = @_;
    my $at = time + 0.3;
    my @pids;
    for my $i (0 .. $#requests) {
        my ($node, @req) = @{ $requests[$i] };
        my $file = server_root() . "/race.$i";
        unlink $file;
        push @pids, sv_fork(sub {
            sleep($at - time) if $at > time;
            my $res = $node eq 'B' ? on_b(@req) : sv_request(@req);
            open my $out, '>', $file or return 1;
            print $out "$res->{status} " . ($res->{json}{error} // '') . "\n";
            close $out;
            return 0;
        });
    }
    waitpid $_, 0 for @pids;
    my @got;
    for my $i (0 .. $#requests) {
        open my $in, '<', server_root() . "/race.$i" or do { push @got, '599'; next };
        my $line = <$in> // '599';
        chomp $line;
        push @got, $line;
    }
    return @got;
}

}

__DATA__

=== TEST 1: a code sent through A confirms on B; the signup on A; its session on both
--- request
GET /node
--- response_body
A
--- flow
node_b_start($block);

my $res = sv_request(POST => '/send', { phoneNumber => '010-1000-0001' });
is $res->{status}, 200, 'sent through A';
my $code = sv_code_for('0001');
$res = on_b(POST => '/confirm', { phoneNumber => '010-1000-0001',
                                  verificationNumber => "$code" });
is $res->{status}, 200, 'confirmed on B' or diag $res->{body};
my $token = $res->{json}{verificationToken};

$res = sv_request(POST => '/signup', sv_member(verificationToken => $token,
                                              phoneNumber => '010-1000-0001'));
is $res->{status}, 200, 'B\'s token signs up on A' or diag $res->{body};
my $id = $res->{json}{memberId};
my $cookie = sv_cookie($res, 'smsverify_session');
ok $cookie, 'A started a session';

$res = on_b(GET => '/session', undef, { Cookie => "smsverify_session=$cookie" });
is $res->{status}, 200, 'A\'s session is valid on B' or diag $res->{body};
is $res->{json}{memberId}, $id, 'the member';
$res = on_b(GET => '/members/x', undef, { Cookie => "smsverify_session=$cookie" });
is $res->{body}, "$id\n", 'B\'s smsverify_auth member lets it through';

$res = on_b(POST => '/logout', undef, { Cookie => "smsverify_session=$cookie" });
is $res->{status}, 200, 'logout on B';
$res = sv_request(GET => '/session', undef, { Cookie => "smsverify_session=$cookie" });
is $res->{json}{error}, 'NOT_LOGGED_IN', 'the session ended on A too';

$res = on_b(POST => '/login', { email => 'kim@example.com', password => 'Passw0rd!' });
is $res->{status}, 200, 'the member logs in on B';
$cookie = sv_cookie($res, 'smsverify_session');
$res = sv_request(GET => '/members/x', undef, { Cookie => "smsverify_session=$cookie" });
is $res->{body}, "$id\n", 'B\'s session is valid on A';

$res = on_b(POST => '/send', { phoneNumber => '010-1000-0001' });
is $res->{json}{error}, 'PHONE_TAKEN', 'B knows A\'s member';
is_deeply pg_members(), [[$id, 'kim@example.com', '+821010000001', '1,2']],
          'smsverify.members and member_terms hold it';
is sv_request(GET => '/status')->{json}{members}, 1, 'A counts one member';
is on_b(GET => '/status')->{json}{members}, 1, 'B counts the same';
node_b_stop();
--- no_error_log
[error]



=== TEST 2: limits and attempts count across the nodes
--- request
GET /node
--- response_body
A
--- flow
node_b_start($block);

# the send limit (4 an hour), sends alternating between the nodes
my @got;
for my $i (1 .. 5) {
    my $res = $i % 2 ? sv_request(POST => '/send', { phoneNumber => '010-2000-0001' })
                     : on_b(POST => '/send', { phoneNumber => '010-2000-0001' });
    push @got, $res->{json}{error} // $res->{status};
}
is_deeply \@got, [200, 200, 200, 200, 'SEND_LIMIT'],
          'four sends over both nodes, then SEND_LIMIT on A';
my $res = on_b(POST => '/send', { phoneNumber => '010-2000-0001' });
is $res->{json}{error}, 'SEND_LIMIT', 'and on B';

# attempts: three wrong guesses, on A, B, A
$res = on_b(POST => '/send', { phoneNumber => '010-2000-0002' });
my $code = code_on_b('0002');
my $wrong = $code eq '000000' ? '000001' : '000000';
my @left;
for my $node (qw(A B A)) {
    my @req = (POST => '/confirm', { phoneNumber => '010-2000-0002',
                                     verificationNumber => $wrong });
    $res = $node eq 'B' ? on_b(@req) : sv_request(@req);
    push @left, $res->{json}{attemptsLeft} // $res->{json}{error};
}
is_deeply \@left, [2, 1, 'TOO_MANY_ATTEMPTS'], 'the attempts count over both';
$res = on_b(POST => '/confirm', { phoneNumber => '010-2000-0002',
                                  verificationNumber => "$code" });
is $res->{json}{error}, 'NO_PENDING_CODE', 'the burnt code is gone on B too';

# a resend through B replaces A's code
$res = sv_request(POST => '/send', { phoneNumber => '010-2000-0003' });
my $old = sv_code_for('0003');
$res = on_b(POST => '/send', { phoneNumber => '010-2000-0003' });
my $new = code_on_b('0003');
SKIP: {
    skip 'the two codes drawn happen to be the same', 1 if $old eq $new;
    $res = sv_request(POST => '/confirm', { phoneNumber => '010-2000-0003',
                                            verificationNumber => "$old" });
    is $res->{json}{error}, 'CODE_MISMATCH', 'A\'s code no longer works';
}
$res = sv_request(POST => '/confirm', { phoneNumber => '010-2000-0003',
                                        verificationNumber => "$new" });
is $res->{status}, 200, 'B\'s code confirms on A';

# the login limit: 3 failures, on B, A, B, then LOCKED on A
@got = ();
for my $node (qw(B A B A)) {
    my @req = (POST => '/login', { email => 'nobody@example.com',
                                   password => 'Wrong1pass' });
    $res = $node eq 'B' ? on_b(@req) : sv_request(@req);
    push @got, $res->{json}{error};
}
is_deeply \@got, [('LOGIN_FAILED') x 3, 'LOGIN_LOCKED'],
          'failed logins count over both nodes';
node_b_stop();
--- no_error_log
[error]



=== TEST 3: racing signups with one email on the two nodes: exactly one wins, every round
--- request
GET /node
--- response_body
A
--- timeout: 120
--- flow
node_b_start($block);
my $rounds = $ENV{TEST_NGINX_USE_VALGRIND} ? 4 : 20;
my ($ok, @bad) = (0);
for my $r (1 .. $rounds) {
    my @phones = map { sprintf '010-3%03d-%04d', $r, $_ } 1 .. 4;
    my @tokens = map { token_across($_) } @phones;
    my $email = "race$r\@example.com";
    my @got = race(map { [$_ % 2 ? 'B' : 'A', POST => '/signup',
                          sv_member(email => uc($_ % 2 ? $email : lc $email),
                                    phoneNumber => $phones[$_],
                                    verificationToken => $tokens[$_])] } 0 .. 3);
    my @won = grep { /^200/ } @got;
    my @lost = grep { /^409 EMAIL_TAKEN$/ } @got;
    if (@won == 1 && @lost == 3) { $ok++ } else { push @bad, "round $r: @got" }
}
is $ok, $rounds, "$rounds rounds of 4 signups (2 a node), one email: one wins each"
    or diag join "\n", @bad;
my $members = pg_members();
is scalar(@$members), $rounds, 'one member a round';
is scalar(grep { ($_->[3] // '') eq '1,2' } @$members), $rounds,
   'each with its terms';
node_b_stop();
--- no_error_log
[error]



=== TEST 4: racing signups with one token on the two nodes: exactly one wins, every round
--- request
GET /node
--- response_body
A
--- timeout: 120
--- flow
node_b_start($block);
my $rounds = $ENV{TEST_NGINX_USE_VALGRIND} ? 4 : 20;
my ($ok, @bad) = (0);
for my $r (1 .. $rounds) {
    my $phone = sprintf '010-4%03d-0001', $r;
    my $token = token_across($phone);
    my @got = race(map { [$_ % 2 ? 'B' : 'A', POST => '/signup',
                          sv_member(email => "tok$r.$_\@example.com",
                                    phoneNumber => $phone,
                                    verificationToken => $token)] } 0 .. 3);
    my @won = grep { /^200/ } @got;
    my @lost = grep { /^(?:409 PHONE_TAKEN|403 PHONE_NOT_VERIFIED)$/ } @got;
    if (@won == 1 && @lost == 3) { $ok++ } else { push @bad, "round $r: @got" }
}
is $ok, $rounds, "$rounds rounds of 4 signups (2 a node), one token: one wins each"
    or diag join "\n", @bad;
is scalar(@{ pg_members() }), $rounds, 'one member a round';
is sv_psql('SELECT count(*) FROM smsverify.tokens')->[0][0], 0,
   'every token used up';
node_b_stop();
--- no_error_log
[error]



=== TEST 5: the database stopped mid-traffic: 503 at once, no hang, no crash; back without a reload
--- request
GET /node
--- response_body
A
--- timeout: 120
--- flow
SKIP: {
skip 'the outage needs the tests\' own server (SV_PG_SH)', 1 if !$ENV{SV_PG_SH};
node_b_start($block);
my $pg = sub {
    local $ENV{SV_PG_DIR} = $ENV{TEST_NGINX_PG_DIR} // $ENV{SV_PG_DIR};
    local $ENV{SV_PG_PORT} = $ENV{TEST_NGINX_PG_PORT} // $ENV{SV_PG_PORT};
    system($ENV{SV_PG_SH}, @_) == 0 or die "pg.sh @_ failed";
};
my %pids_before = (A => [sv_worker_pids()], B => [sv_worker_pids(node_b_master())]);
# node A may run under valgrind
my $slack = $ENV{TEST_NGINX_USE_VALGRIND} ? 10 : 1;

# clients on both nodes: whole signups, each step's answer and its time
my $stop_at = time + 6;
my @clients;
for my $c (0 .. 3) {
    my $node = $c % 2 ? 'B' : 'A';
    push @clients, sv_fork(sub {
        my $log = server_root() . "/client.$c";
        open my $out, '>', $log or return 1;
        my $send = sub { $node eq 'B' ? on_b(@_) : sv_request(@_) };
        my $n = 0;
        while (time < $stop_at) {
            $n++;
            # the last 4 digits tell the clients' codes apart in a log
            my $phone = sprintf '010-5%03d-%04d', $n % 1000, $c;
            my @steps;
            my $t0 = time;
            my $res = $send->(POST => '/send', { phoneNumber => $phone });
            push @steps, [send => $res->{status}, $res->{json}{error} // '', time - $t0];
            if ($res->{status} == 200) {
                my $code = $node eq 'B' ? code_on_b($phone) : sv_code_for($phone);
                $t0 = time;
                $res = $send->(POST => '/confirm', { phoneNumber => $phone,
                                                     verificationNumber => "$code" });
                push @steps, [confirm => $res->{status}, $res->{json}{error} // '', time - $t0];
            }
            if ($res->{status} == 200 && $res->{json}{verificationToken}) {
                $t0 = time;
                $res = $send->(POST => '/signup',
                    sv_member(email => "out$c.$n\@example.com", phoneNumber => $phone,
                              verificationToken => $res->{json}{verificationToken}));
                push @steps, [signup => $res->{status}, $res->{json}{error} // '', time - $t0];
            }
            print $out join(' ', $phone, map { join ':', @$_ } @steps), "\n";
            sleep 0.02;
        }
        close $out;
        return 0;
    });
}

sleep 2;
my $killed_at = time;
$pg->('kill');
sleep 2.5;

# during the outage, on each node: 503 STORE_UNAVAILABLE, at once
for my $node (qw(A B)) {
    my $t0 = time;
    my $res = $node eq 'B' ? on_b(POST => '/send', { phoneNumber => '010-5999-0001' })
                           : sv_request(POST => '/send', { phoneNumber => '010-5999-0001' });
    my $took = time - $t0;
    is $res->{status}, 503, "$node: 503 while the database is down" or diag $res->{body};
    is $res->{json}{error}, 'STORE_UNAVAILABLE', "$node: STORE_UNAVAILABLE";
    is $res->{headers}{'retry-after'}, 1, "$node: Retry-After: 1";
    ok $took < $slack, sprintf '%s: answered in %.3f s', $node, $took;
    $res = $node eq 'B' ? on_b(GET => '/status') : sv_request(GET => '/status');
    is $res->{status}, 200, "$node: status still answers";
    ok !defined $res->{json}{members} && $res->{json}{storeUnavailable} >= 1,
       "$node: without the store's counts, the 503s counted";
}

$pg->('start');
my $back_at = time;
waitpid $_, 0 for @clients;

# every answer came, within the statement timeout's bound; each was a
# step's own answer, a 503 STORE_UNAVAILABLE, or (a signup whose commit
# met the kill) 500 INTERNAL
my (%seen, @slow, @odd, %created, %attempted);
for my $c (0 .. 3) {
    open my $in, '<', server_root() . "/client.$c" or next;
    while (my $line = <$in>) {
        my ($phone, @steps) = split ' ', $line;
        for (@steps) {
            my ($step, $status, $error, $took) = split /:/;
            $seen{"$status $error"}++;
            push @slow, "$phone $step $status $took" if $took > 7 * $slack;
            push @odd, "$phone $step $status $error"
                if $status != 200 && $error !~ /^(?:STORE_UNAVAILABLE|INTERNAL)$/;
            if ($step eq 'signup') {
                (my $digits = $phone) =~ s/\D//g;
                $attempted{'+82' . substr($digits, 1)} = 1;
                $created{'+82' . substr($digits, 1)} = 1 if $status == 200;
                delete $created{'+82' . substr($digits, 1)} if $status != 200;
            }
        }
    }
}
ok $seen{'503 STORE_UNAVAILABLE'}, "the clients met the outage: "
   . join ', ', map { "$_ x$seen{$_}" } sort keys %seen;
ok $seen{'200 '}, 'and were answered 200 before it (and after)';
is_deeply \@slow, [], 'no answer took long (no hang)';
is_deeply \@odd, [], 'nothing but 200, 503 STORE_UNAVAILABLE or 500 INTERNAL';

# back: both nodes work without a reload, within a few seconds
for my $node (qw(A B)) {
    my $phone = $node eq 'A' ? '010-5999-1001' : '010-5999-1002';
    my $up = sv_wait_until(sub {
        my $res = $node eq 'B' ? on_b(POST => '/send', { phoneNumber => $phone })
                               : sv_request(POST => '/send', { phoneNumber => $phone });
        $res->{status} == 200;
    }, 15, 0.2);
    ok $up, sprintf '%s: sends again %.1f s after the database came back',
                    $node, time - $back_at;
}
# Each worker of a node tries a failed connect again only after 1 s
# (sv_pg.h): the one that answered above may not be the one that answers
# next.  Past that second from the database's return, every worker does.
sleep(1.1 - (time - $back_at)) if time - $back_at < 1.1;
my $token = token_across('010-5999-1001');
my $res = on_b(POST => '/signup', sv_member(email => 'after@example.com',
                                            phoneNumber => '010-5999-1001',
                                            verificationToken => $token));
is $res->{status}, 200, 'a whole signup across the nodes after the outage'
    or diag $res->{body};
$created{'+821059991001'} = $attempted{'+821059991001'} = 1;

# no half-written member: each whole, with its terms; every 200 there;
# none that was never tried
my $members = pg_members();
my @half = grep { ($_->[3] // '') ne '1,2' } @$members;
is_deeply \@half, [], 'every member has its terms';
my %in_db = map { $_->[2] => 1 } @$members;
is_deeply [grep { !$in_db{$_} } sort keys %created], [],
          'every signup answered 200 is a member';
is_deeply [grep { !$attempted{$_} } sort keys %in_db], [],
          'no member that no signup asked for';

# no worker died: the same workers on both nodes, no signal in the logs
is_deeply [sv_worker_pids()], $pids_before{A}, 'A: the same workers';
is_deeply [sv_worker_pids(node_b_master())], $pids_before{B}, 'B: the same workers';
is scalar(b_log_grep(qr/exited on signal|\[alert\]|\[emerg\]/)), 0,
   'B: no worker died, nothing alarming';
my @unavail = b_log_grep(qr/smsverify store unavailable/);
ok @unavail >= 1 && @unavail <= 12, scalar(@unavail) . ' lines for the outage on B'
    or diag @unavail;
node_b_stop();
}
--- no_error_log
exited on signal
[alert]
[emerg]



=== TEST 6: an SMS that went out while the database stopped: 500, truthfully, not 503
The send was counted, then the provider held the message while the
database went away: the code cannot be stored, and the SMS is out, so
"nothing was changed" (STORE_UNAVAILABLE) would be a lie. It is answered
as a failed LMDB write is: 500 INTERNAL, and the log says what happened.
--- config
    location = /send-held {
        smsverify send;
        smsverify_provider sens service_id=ncp:sms:kr:1:gate access_key=AK
            secret_key=SK from=0212345678
            url=http://127.0.0.1:$TEST_NGINX_GATE_PORT timeout=60s;
    }
    location = /send { smsverify send; }
    location = /node { return 200 "A\n"; }
--- request
GET /node
--- response_body
A
--- timeout: 120
--- flow
SKIP: {
skip 'the outage needs the tests\' own server (SV_PG_SH)', 1 if !$ENV{SV_PG_SH};
my $pg = sub {
    local $ENV{SV_PG_DIR} = $ENV{TEST_NGINX_PG_DIR} // $ENV{SV_PG_DIR};
    local $ENV{SV_PG_PORT} = $ENV{TEST_NGINX_PG_PORT} // $ENV{SV_PG_PORT};
    system($ENV{SV_PG_SH}, @_) == 0 or die "pg.sh @_ failed";
};
my $dir = File::Temp::tempdir(CLEANUP => 1);
my $gate = sv_gate_provider($ENV{TEST_NGINX_GATE_PORT}, 1, $dir);
my $kid = sv_fork(sub {
    my $res = sv_request(POST => '/send-held', { phoneNumber => '010-6000-0001' });
    open my $out, '>', "$dir/answer" or return 1;
    print $out "$res->{status} " . ($res->{json}{error} // '');
    close $out;
    return 0;
});
ok sv_wait_until(sub { keys %{ sv_gate_messages($dir) } == 1 }, 30, 0.1),
   'the provider holds the message: the send was counted first';
$pg->('kill');
open my $open, '>', "$dir/gate.open" or die;
close $open;
waitpid $kid, 0;
waitpid $gate, 0;
open my $in, '<', "$dir/answer" or die;
is scalar(<$in>), '500 INTERNAL', 'the SMS went out, the code could not be stored: 500';
ok scalar(sv_log_grep(qr/\[error\].*smsverify store failed: the SMS went out, and its code could not be stored: /)),
   'the log says so';
my $res = sv_request(POST => '/send', { phoneNumber => '010-6000-0002' });
is $res->{json}{error}, 'STORE_UNAVAILABLE', 'a send now: 503, before any provider';
$pg->('start');
ok sv_wait_until(sub {
        sv_request(POST => '/send', { phoneNumber => '010-6000-0002' })->{status} == 200
    }, 15, 0.2), 'and 200 once the database is back';
}
--- no_error_log
exited on signal
[alert]
