# The request's life across thread tasks: a full queue, a client that
# goes away, a reload with tasks in flight, a full store, a restart.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();

# a provider that accepts connections and never answers
$ENV{TEST_NGINX_HANG_PORT} = ($ENV{TEST_NGINX_SERVER_PORT} || 1984) + 7;
# how much longer a send is held under valgrind, and the timeout that holds
our $Hold = $ENV{TEST_NGINX_USE_VALGRIND} ? 4 : 1;
$ENV{TEST_NGINX_HOLD_TIMEOUT} = 2 * $Hold . 's';
# a store that outlives one nginx
our $Persist = File::Temp::tempdir(CLEANUP => 1);
chmod 0777, $Persist;
$ENV{TEST_NGINX_PERSIST_DIR} = "$Persist/store";

sv_block_defaults(more_headers => 'Content-Type: application/json');

master_on();
workers(1);
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: a full thread pool queue is 503 BUSY with Retry-After
--- main_config
    thread_pool tiny threads=1 max_queue=1;
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_thread_pool tiny;
    smsverify_provider sens service_id=s access_key=a secret_key=k
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_HANG_PORT
        timeout=$TEST_NGINX_HOLD_TIMEOUT;
--- config
    location = /send { smsverify send; }
--- request
GET /send
--- error_code: 405
--- flow
# one send in the pool's thread, at the provider; then one in its queue of
# 1, well past the 20 ms in which a send would wait in the worker instead
my $hang = sv_hang_provider($ENV{TEST_NGINX_HANG_PORT}, 64);
my @kids = (sv_request_in_child(POST => '/send',
                                { phoneNumber => '010-1234-0001' }));
ok(IO::Select->new($hang)->can_read(5 * $main::Hold),
   'the first send is at the provider');
push @kids, sv_request_in_child(POST => '/send',
                                { phoneNumber => '010-1234-0002' });
sleep 0.4 * $main::Hold;
my $res = sv_request(POST => '/send', { phoneNumber => '010-1234-0003' });
is $res->{status}, 503, 'the third is refused';
is $res->{json}{error}, 'BUSY', 'BUSY';
is $res->{headers}{'retry-after'}, '1', 'Retry-After: 1';
is_deeply [map { sv_child_status($_) } @kids], [500, 500],
          'the others got their answers (502) once the provider timed out';
ok sv_log_grep(qr/thread pool "tiny" queue overflow/), 'nginx logged the overflow';
--- timeout: 10
--- no_error_log
[crit]
exited on signal



=== TEST 2: a client that goes away mid-task: the task finishes, nothing breaks
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s access_key=a secret_key=k
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_HANG_PORT timeout=1s;
    smsverify_resend_interval 1ms;
--- config
    location = /send { smsverify send; }
    location = /status { smsverify status; }
--- request
GET /status
--- error_code: 200
--- flow
sv_hang_provider($ENV{TEST_NGINX_HANG_PORT}, 64);
for my $i (1 .. 5) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => Test::Nginx::Util::server_port())
        or die $!;
    my $body = qq({"phoneNumber":"010-1234-567$i"});
    print $s "POST /send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
    sleep 0.1;
    close $s;
}
sleep 1.5;
my $res = sv_request(GET => '/status');
is $res->{status}, 200, 'the worker still answers';
is $res->{json}{sendFailed}, 5, 'every task finished and was counted';
ok sv_log_grep(qr/client prematurely closed connection/),
   'nginx saw the clients go';
--- timeout: 10
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 3: a reload with sends in flight answers them and leaves no socket
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s access_key=a secret_key=k
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_HANG_PORT timeout=2s;
    smsverify_resend_interval 1ms;
--- config
    location = /send { smsverify send; }
--- request
GET /send
--- error_code: 405
--- flow
sv_hang_provider($ENV{TEST_NGINX_HANG_PORT}, 64);
my @kids = map { sv_request_in_child(POST => '/send',
                                     { phoneNumber => "010-1234-567$_" }) }
           1 .. 3;
sleep 0.5;
my $pidfile = Test::Nginx::Util::server_root() . '/logs/nginx.pid';
open my $fh, '<', $pidfile or die "$pidfile: $!";
chomp(my $master = <$fh>);
kill 'HUP', $master;
is_deeply [map { sv_child_status($_) } @kids], [500, 500, 500],
          'every client got its answer (502)';
sleep 0.5;
ok sv_log_grep(qr/gracefully shutting down/), 'the old worker shut down';
ok !sv_log_grep(qr/open socket .* left in connection/), 'no socket left open';
--- timeout: 10
--- no_error_log
[crit]
exited on signal



=== TEST 4: a full store is 500 INTERNAL with a clear log line, then heals
Once the codes have expired, the next write sweeps them and goes through.
The sends' counts by phone, which outlive the codes, take most of the
map; codes that expire meanwhile are swept, so a slow run (valgrind)
takes more sends to fill it: the loop ends at the first failure.
--- lmdb_only: a full LMDB map
--- http_config
    smsverify_store smsverify_temp size=256k;
    smsverify_provider log;
    smsverify_code_ttl 2s;
--- config
    location = /send { smsverify send; }
    location = /status { smsverify status; }
--- request
GET /status
--- error_code: 200
--- log_level: notice
--- flow
my ($res, $i);
for $i (1 .. 20000) {
    $res = sv_request(POST => '/send',
                      { phoneNumber => sprintf('010-%04d-%04d',
                                               7000 + $i / 10000, $i % 10000) });
    last if $res->{status} != 200;
}
is $res->{status}, 500, 'the store filled up';
is $res->{json}{error}, 'INTERNAL', 'INTERNAL';
ok sv_log_grep(qr/smsverify store failed: store is full/), 'the log says why';
$res = sv_request(GET => '/status');
is $res->{status}, 200, 'status still answers';
ok $res->{json}{codesPending} > 10, 'and sees the codes'
    or diag "$i sends, $res->{body}";
sleep 2.2;
$res = sv_request(POST => '/send', { phoneNumber => '010-8888-0001' });
is $res->{status}, 200, 'after the codes expired, a send goes through'
    or diag $res->{body};
$res = sv_request(GET => '/status');
is $res->{json}{codesPending}, 1, 'the expired codes were swept';
--- timeout: 60
--- no_error_log
exited on signal



=== TEST 5: members and codes outlive nginx (a store outside the servroot)
--- http_config
    smsverify_store $TEST_NGINX_PERSIST_DIR;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=4;
--- config
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
--- request
POST /send
{"phoneNumber":"010-1111-1111"}
--- error_code: 200
--- flow
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1111-1111', verificationNumber => '' . sv_code_for('1111') });
$res = sv_request(POST => '/signup',
    { email => 'kim@example.com', password => 'Passw0rd!', nickname => 'kim',
      phoneNumber => '010-1111-1111', termsId => [],
      verificationToken => $res->{json}{verificationToken} });
is $res->{status}, 200, 'a member' or diag $res->{body};
$res = sv_request(POST => '/send', { phoneNumber => '010-2222-2222' });
$SmsVerify::Kept = sv_code_for('2222');
ok $SmsVerify::Kept, 'a code for the next nginx';



=== TEST 6: ... and the next nginx has them
--- http_config
    smsverify_store $TEST_NGINX_PERSIST_DIR;
    smsverify_provider log;
--- config
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /status  { smsverify status; }
--- request
GET /status
--- error_code: 200
--- response_body_like: "members":1,
--- flow
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-2222-2222', verificationNumber => "$SmsVerify::Kept" });
is $res->{status}, 200, 'the code sent before the restart confirms';
$res = sv_request(POST => '/send', { phoneNumber => '010-1111-1111' });
is $res->{json}{error}, 'PHONE_TAKEN', 'the member is still there';
