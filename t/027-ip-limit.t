# smsverify_ip_limit N TIME (API.md sections 1, 2 and 4): at most N sends
# (send and reset_send) from one client address in any TIME window,
# counted in the store, so over both workers; one count an address, which
# each location checks against its own N and TIME; $remote_addr, as the
# realip module sets it (here from X-Forwarded-For); IPv6 by its /64. 429
# IP_LIMIT with Retry-After and "retryAfter"; a refused send stores and
# sends nothing; test numbers neither count nor are limited; a send every
# provider failed is given back. Its config errors name file and line.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_test_number +821000000001 482915;
    smsverify_resend_interval 1ms;
_EOC_

# X-Pid names the worker that answered; X-Forwarded-For the client
our $Config = <<'_EOC_';
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    add_header X-Pid $pid always;

    location = /send       { smsverify send; smsverify_ip_limit 3 1h; }
    location = /send/loose { smsverify send; smsverify_ip_limit 5 1h; }
    location = /send/free  { smsverify send; }
    location = /reset/send { smsverify reset_send; smsverify_ip_limit 3 1h; }
    location = /send/broken {
        smsverify send;
        smsverify_ip_limit 1 1h;
        smsverify_provider sens service_id=ncp:sms:kr:1:svc access_key=AK
            secret_key=sk from=0212345678 url=http://127.0.0.1:9 timeout=2s;
    }
    location = /confirm    { smsverify confirm; }
    location = /signup     { smsverify signup; }
    location = /status     { smsverify status; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

sub SmsVerify::send_from {
    my ($addr, $phone, $path) = @_;
    return sv_request(POST => $path // '/send', { phoneNumber => $phone },
                      { 'X-Forwarded-For' => $addr });
}

sub SmsVerify::status_json { sv_request(GET => '/status')->{json} // {} }

# the address's window in the store: its sends' count, or undef
sub SmsVerify::addr_sends {
    my $key = shift;
    for (@{ sv_store_dump('addrs') }) {
        next if $_->[0] ne $key;
        # PostgreSQL: the array of the sends' times, as text
        return scalar(() = $_->[1] =~ /\d+/g) if sv_store_is_pg();
        return unpack('x v', $_->[1]);
    }
    return undef;
}

sub SmsVerify::has_record {
    my ($db, $key) = @_;
    return scalar grep { $_->[0] eq $key } @{ sv_store_dump($db) };
}

workers(2);
master_on();
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: the N must be 1 to 100
--- config
    location = /send { smsverify send; smsverify_ip_limit 0 1h; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number "0", it must be 1 to 100 in \S+nginx\.conf:\d+/



=== TEST 2: the TIME must be a time
--- config
    location = /send { smsverify send; smsverify_ip_limit 5 soon; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid time "soon" in \S+nginx\.conf:\d+/



=== TEST 3: two arguments
--- config
    location = /send { smsverify send; smsverify_ip_limit 5; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "smsverify_ip_limit" directive in \S+nginx\.conf:\d+/



=== TEST 4: once a level
--- config
    location = /send {
        smsverify send; smsverify_ip_limit 5 1h; smsverify_ip_limit 6 1h;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_ip_limit" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 5: N sends from an address, then 429 IP_LIMIT; the refused send stores and sends nothing
--- request
GET /status
--- error_code: 200
--- flow
for my $i (1 .. 3) {
    my $res = send_from('192.0.2.1', "010-5100-000$i");
    is $res->{status}, 200, "send $i from 192.0.2.1";
}

my $res = send_from('192.0.2.1', '010-5100-0004');
is $res->{status}, 429, 'the 4th from the address: 429';
is $res->{json}{error}, 'IP_LIMIT', 'IP_LIMIT';
ok $res->{headers}{'retry-after'} >= 3599
   && $res->{headers}{'retry-after'} <= 3600,
   "Retry-After: until the first leaves the hour ($res->{headers}{'retry-after'})";
is $res->{json}{retryAfter}, $res->{headers}{'retry-after'} + 0,
   'retryAfter as the header';
is_deeply [sort keys %{ $res->{json} }], [qw(error message retryAfter)],
   'the documented keys only';
is $res->{headers}{'cache-control'}, 'no-store', 'no-store';

ok !has_record('codes', '+821051000004'), 'no code stored for the refused phone';
ok !has_record('sends', '+821051000004'), 'no send counted for it';
is scalar(sv_log_grep(qr/to "\+82 10-\*\*\*\*-0004"/)), 0, 'no SMS for it';
is addr_sends('192.0.2.1'), 3, 'the address holds its 3 sends';

$res = send_from('192.0.2.2', '010-5100-0004');
is $res->{status}, 200, 'the phone goes from another address';

my $st = status_json();
is $st->{sent}, 4, 'sent 4';
is $st->{rateLimited}, 1, 'the IP_LIMIT counts in rateLimited';
--- no_error_log
[error]



=== TEST 6: reset_send counts too; NOT_A_MEMBER and a refusal count nothing
--- request
GET /status
--- error_code: 200
--- flow
my $token = sv_verify_phone('010-5200-0001');
my $res = sv_request(POST => '/signup', sv_member(phoneNumber => '010-5200-0001',
    email => 'ip@example.com', termsId => [1], verificationToken => $token));
is $res->{status}, 200, 'a member (from 127.0.0.1)';

$res = send_from('192.0.2.9', '010-5200-0009', '/reset/send');
is $res->{status}, 404, 'NOT_A_MEMBER';
is addr_sends('192.0.2.9'), undef, 'and nothing counted for the address';

is send_from('192.0.2.9', '010-5200-0001', '/reset/send')->{status}, 200,
   'a reset code from the address';
is send_from('192.0.2.9', '010-5200-0002')->{status}, 200, 'a send';
is send_from('192.0.2.9', '010-5200-0003')->{status}, 200, 'another';
is addr_sends('192.0.2.9'), 3, 'reset_send and send: one count';

$res = send_from('192.0.2.9', '010-5200-0001', '/reset/send');
is $res->{json}{error}, 'IP_LIMIT', 'reset_send is limited with send';
$res = send_from('192.0.2.9', '010-5200-0004');
is $res->{json}{error}, 'IP_LIMIT', 'and send with reset_send';
is addr_sends('192.0.2.9'), 3, 'refusals are not counted';
--- no_error_log
[error]



=== TEST 7: IPv6 counts by its /64
--- request
GET /status
--- error_code: 200
--- flow
is send_from('2001:db8:1:2::5', '010-5300-0001')->{status}, 200, '::5';
is send_from('2001:db8:1:2::6', '010-5300-0002')->{status}, 200, '::6, the same /64';
is send_from('2001:db8:1:2:ffff::1', '010-5300-0003')->{status}, 200,
   'another host of the /64';
my $res = send_from('2001:db8:1:2::7', '010-5300-0004');
is $res->{json}{error}, 'IP_LIMIT', 'the 4th from the /64: IP_LIMIT';
is send_from('2001:db8:1:3::5', '010-5300-0004')->{status}, 200,
   'the next /64 is another client';
is addr_sends('2001:db8:1:2::/64'), 3, 'the store keys the /64';
is addr_sends('2001:db8:1:3::/64'), 1, 'and the other /64';
--- no_error_log
[error]



=== TEST 8: test numbers neither count nor are limited
--- request
GET /status
--- error_code: 200
--- flow
for my $i (1 .. 5) {
    is send_from('192.0.2.20', '010-0000-0001')->{status}, 200,
       "test number send $i";
}
is addr_sends('192.0.2.20'), undef, 'not counted';
for my $i (1 .. 3) {
    is send_from('192.0.2.20', "010-5400-000$i")->{status}, 200, "real send $i";
}
is send_from('192.0.2.20', '010-5400-0004')->{json}{error}, 'IP_LIMIT',
   'the 4th real send: IP_LIMIT';
is send_from('192.0.2.20', '010-0000-0001')->{status}, 200,
   'the test number still goes from the address';
is status_json()->{testSends}, 6, 'testSends 6';
--- no_error_log
[error]



=== TEST 9: one count an address, each location its own N; a location without the directive counts
--- request
GET /status
--- error_code: 200
--- flow
is send_from('192.0.2.30', '010-5500-0001', '/send/free')->{status}, 200, 'free 1';
is send_from('192.0.2.30', '010-5500-0002', '/send/free')->{status}, 200, 'free 2';
is send_from('192.0.2.30', '010-5500-0003', '/send')->{status}, 200, 'limited 3';
is send_from('192.0.2.30', '010-5500-0004', '/send')->{json}{error}, 'IP_LIMIT',
   '/send (3 1h) sees the three';
is send_from('192.0.2.30', '010-5500-0004', '/send/loose')->{status}, 200,
   '/send/loose (5 1h): the 4th';
is send_from('192.0.2.30', '010-5500-0005', '/send/loose')->{status}, 200,
   'the 5th';
is send_from('192.0.2.30', '010-5500-0006', '/send/loose')->{json}{error},
   'IP_LIMIT', 'then IP_LIMIT there too';
for my $i (7 .. 9) {
    is send_from('192.0.2.30', "010-5500-000$i", '/send/free')->{status}, 200,
       "no limit where there is no directive ($i)";
}
is addr_sends('192.0.2.30'), 8, 'all eight counted';
--- no_error_log
[error]



=== TEST 10: a send every provider failed is given back to the address
--- request
GET /status
--- error_code: 200
--- flow
for my $i (1 .. 3) {
    my $res = send_from('192.0.2.40', "010-5600-000$i", '/send/broken');
    is $res->{status}, 502, "failed send $i: 502, not IP_LIMIT (limit 1)";
    is $res->{json}{error}, 'PROVIDER_FAILED', 'PROVIDER_FAILED';
}
is addr_sends('192.0.2.40'), undef, 'nothing left counted';
is status_json()->{rateLimited}, 0, 'rateLimited 0';



=== TEST 11: one count over both workers, also for racing sends
--- http_config eval
$::HttpConfig
--- config eval
$::Config =~ s/smsverify_ip_limit 3 1h; \}/smsverify_ip_limit 20 1h; }/r
--- request
GET /status
--- error_code: 200
--- flow
my %pids;
for my $i (1 .. 10) {
    my $res = send_from('192.0.2.50', sprintf('010-5700-%04d', $i));
    is $res->{status}, 200, "send $i" if $res->{status} != 200;
    $pids{ $res->{headers}{'x-pid'} // '' }++;
}

# two clients race for the other 10 sends with 10 each
my @kids;
for my $k (0, 1) {
    push @kids, sv_fork(sub {
        my $ok = 0;
        for my $i (1 .. 10) {
            my $res = send_from('192.0.2.50',
                                sprintf('010-57%02d-%04d', 10 + $k, $i));
            $ok++ if $res->{status} == 200;
            return 99 if $res->{status} != 200
                         && ($res->{json}{error} // '') ne 'IP_LIMIT';
        }
        return $ok;
    });
}
my $won = 0;
for my $pid (@kids) {
    waitpid $pid, 0;
    my $rc = $? >> 8;
    isnt $rc, 99, 'a client got only 200 and IP_LIMIT';
    $won += $rc;
}
is $won, 10, 'the racing clients got exactly the 10 sends left';

for my $i (1 .. 10) {
    my $res = send_from('192.0.2.50', sprintf('010-5799-%04d', $i));
    is $res->{json}{error}, 'IP_LIMIT', "then IP_LIMIT ($i)"
        if ($res->{json}{error} // '') ne 'IP_LIMIT';
    $pids{ $res->{headers}{'x-pid'} // '' }++;
}
is scalar(keys %pids), 2, 'answered by both workers';
is addr_sends('192.0.2.50'), 20, 'twenty counted';
is status_json()->{sent}, 20, 'sent 20';
--- no_error_log
[error]
