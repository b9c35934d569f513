# While a task is in the pool, only its completion answers.
#
# Each block first downloads a large file over a keep-alive connection
# with a small receive buffer, so nginx met EAGAIN on it and epoll keeps
# reporting it writable.  Then the request goes out on that connection and,
# while its task is held (a slow provider, or a queue behind a send that
# occupies the pool's only thread), one more byte: a read event that comes
# with a write event.  The answer must be what the store and the provider
# did.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

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
    smsverify_resend_interval 1ms;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /status  { smsverify status; }
    location /files/    { root html; }
_EOC_

sv_block_defaults(main_config => "thread_pool one threads=1;\n",
                  http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

# a file that cannot fit the socket buffers of both ends
sub SmsVerify::big_file {
    my $dir = html_dir() . '/files';
    mkdir $dir;
    open my $out, '>', "$dir/big.bin" or die "big.bin: $!";
    print $out 'x' x (8 * 1024 * 1024);
    close $out;
    return '/files/big.bin';
}

# the pool's only thread is busy with a send the mock answers late
sub SmsVerify::occupy_pool {
    my $phone = shift;
    sv_mock_behaviour({ provider => 'sens', delay_ms => 1500 * $Slack,
                        count => 1 });
    my $pid = sv_fork(sub {
        my $res = sv_request(POST => '/send', { phoneNumber => $phone });
        return $res->{status} == 200 ? 0 : 1;
    });
    sleep 0.3 * $Slack;
    return $pid;
}

sub SmsVerify::reaped_ok {
    my $pid = shift;
    waitpid $pid, 0;
    return $? == 0;
}

# the request on the primed connection, one more byte while it is held,
# and the answer
sub SmsVerify::held_request {
    my ($sock, $method, $path, $body) = @_;
    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n";
    if (defined $body) {
        $body = JSON::PP->new->utf8->canonical->encode($body);
        $req .= "Content-Type: application/json\r\n"
              . "Content-Length: " . length($body) . "\r\n";
    }
    $req .= "\r\n" . ($body // '');
    syswrite($sock, $req) or die "write: $!";
    sleep 0.3 * $Slack;
    syswrite($sock, 'G') or die "write: $!";
    return sv_read_response($sock, $method eq 'HEAD');
}

sub SmsVerify::verified_token {
    my $phone = shift;
    my $res = sv_request(POST => '/send', { phoneNumber => $phone });
    die "send: $res->{status}" if $res->{status} != 200;
    my $code = sv_mock_code_for($phone);
    $res = sv_request(POST => '/confirm',
                      { phoneNumber => $phone, verificationNumber => $code });
    die "confirm: $res->{status}" if $res->{status} != 200;
    return $res->{json}{verificationToken};
}

no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: send: the provider takes 2 s; the answer waits for it
--- request
GET /status
--- error_code: 200
--- flow
sv_mock_reset();
my $sock = sv_primed_connection(big_file());
sv_mock_behaviour({ provider => 'sens', delay_ms => 2000 * slack(),
                    count => 1 });
my $res = held_request($sock, POST => '/send',
                       { phoneNumber => '010-5000-0001' });
is $res->{status}, 200, 'sent';
is $res->{json}{status}, 'sent', 'the body says sent';
is scalar @{ sv_mock_messages() }, 1, 'the provider got the SMS';
my $code = sv_mock_code_for('0001');
like $code, qr/^\d{6}$/, 'with its code';
$res = sv_request(POST => '/confirm',
                  { phoneNumber => '010-5000-0001', verificationNumber => $code });
is $res->{status}, 200, 'the code the provider was given confirms';
$res = sv_request(GET => '/status');
is $res->{json}{sent}, 1, 'one send counted';
is $res->{json}{sendFailed}, 0, 'no failure counted';
--- timeout: 30
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 2: confirm with a wrong code, queued behind a slow send
--- request
GET /status
--- error_code: 200
--- flow
sv_mock_reset();
my $res = sv_request(POST => '/send', { phoneNumber => '010-5000-0002' });
is $res->{status}, 200, 'a code was sent';
my $code = sv_mock_code_for('0002');
my $wrong = $code eq '000000' ? '111111' : '000000';
my $sock = sv_primed_connection(big_file());
my $holder = occupy_pool('010-5000-0102');
$res = held_request($sock, POST => '/confirm',
                    { phoneNumber => '010-5000-0002',
                      verificationNumber => $wrong });
is $res->{status}, 400, 'a mismatch';
is $res->{json}{error}, 'CODE_MISMATCH', 'CODE_MISMATCH';
is $res->{json}{attemptsLeft}, 4, 'one attempt spent';
ok !defined $res->{json}{verificationToken}, 'no token';
ok reaped_ok($holder), 'the send that held the pool was answered 200';
$res = sv_request(GET => '/status');
is $res->{json}{confirmFailed}, 1, 'one failed confirm counted';
is $res->{json}{confirmed}, 0, 'none confirmed';
$res = sv_request(POST => '/confirm',
                  { phoneNumber => '010-5000-0002', verificationNumber => $code });
is $res->{status}, 200, 'the right code still confirms';
--- timeout: 30
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 3: signup, queued behind a slow send: created, then a taken email
--- request
GET /status
--- error_code: 200
--- flow
sv_mock_reset();
my $token = verified_token('010-5000-0003');
my $sock = sv_primed_connection(big_file());
my $holder = occupy_pool('010-5000-0103');
my $res = held_request($sock, POST => '/signup',
                       sv_member(email => 'held@example.com',
                                 phoneNumber => '010-5000-0003', termsId => [1],
                                 verificationToken => $token));
is $res->{status}, 200, 'created';
is $res->{json}{status}, 'created', 'the body says created';
is $res->{json}{memberId}, 1, 'member 1';
ok reaped_ok($holder), 'the send that held the pool was answered 200';

$token = verified_token('010-5000-0004');
$sock = sv_primed_connection(big_file());
$holder = occupy_pool('010-5000-0104');
$res = held_request($sock, POST => '/signup',
                    sv_member(email => 'held@example.com',
                              phoneNumber => '010-5000-0004', termsId => [1],
                              verificationToken => $token));
is $res->{status}, 409, 'the email is taken';
is $res->{json}{error}, 'EMAIL_TAKEN', 'EMAIL_TAKEN';
ok !defined $res->{json}{memberId}, 'no member id';
ok reaped_ok($holder), 'the send that held the pool was answered 200';
$res = sv_request(GET => '/status');
is $res->{json}{signups}, 1, 'one signup counted';
is $res->{json}{members}, 1, 'one member in the store';
--- timeout: 30
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 4: status with GET and HEAD, queued behind a slow send
--- request
GET /status
--- error_code: 200
--- flow
sv_mock_reset();
my $sock = sv_primed_connection(big_file());
my $holder = occupy_pool('010-5000-0105');
my $res = held_request($sock, GET => '/status');
is $res->{status}, 200, 'GET answered';
ok defined $res->{json}{codesPending}, 'with the store figures';
is_deeply [sort keys %{ $res->{json} }],
          [sort qw(codesPending members sent sendFailed confirmed confirmFailed
                   signups rateLimited testSends logins loginsFailed resets
                   webhookBacklog webhookDelivered webhookFailed
                   storeUnavailable
                   providers)], 'every figure';
ok reaped_ok($holder), 'the send that held the pool was answered 200';

$sock = sv_primed_connection(big_file());
$holder = occupy_pool('010-5000-0106');
$res = held_request($sock, HEAD => '/status');
is $res->{status}, 200, 'HEAD answered';
is $res->{body}, '', 'without a body';
ok reaped_ok($holder), 'the send that held the pool was answered 200';

$res = sv_request(GET => '/status');
is $res->{status}, 200, 'the worker still answers';
is $res->{json}{sent}, 2, 'both held sends counted once';
--- timeout: 30
--- no_error_log
[alert]
[crit]
exited on signal
