# GET status: the body's shape, the counters and what the store holds,
# summed over all workers; access control is nginx's usual allow/deny.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use Time::HiRes qw(sleep);

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_terms 1 required;
    smsverify_terms 2 optional;
    smsverify_password_hash bcrypt cost=4;
_EOC_

# X-Pid names the worker that answered
our $Config = <<'_EOC_';
    add_header X-Pid $pid always;
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /status  { smsverify status; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config);

# the zero state of every counter
our %Zero = (codesPending => 0, members => 0, sent => 0, sendFailed => 0,
             confirmed => 0, confirmFailed => 0, signups => 0,
             rateLimited => 0, testSends => 0, logins => 0,
             loginsFailed => 0, resets => 0, webhookBacklog => 0,
             webhookDelivered => 0, webhookFailed => 0,
             storeUnavailable => 0);

# the counters live in shared memory, summed over the workers
workers(2);
master_on();
no_shuffle();
sv_flow_blocks();
run_tests();

sub status {
    my $res = SmsVerify::sv_request(GET => '/status');
    Test::More::is($res->{status}, 200, 'GET status')
        if $res->{status} != 200;
    return $res->{json} // {};
}

# The code the log provider sent to a phone, then confirm it; returns the
# verification token.
sub verify {
    my $phone = shift;
    my $code = SmsVerify::sv_code_for($phone);
    my $res = SmsVerify::sv_request(POST => '/confirm',
        { phoneNumber => $phone, verificationNumber => $code });
    Test::More::is($res->{status}, 200, "confirm $phone")
        if $res->{status} != 200;
    return $res->{json}{verificationToken};
}

sub signup {
    my ($phone, $token, $email) = @_;
    return SmsVerify::sv_request(POST => '/signup', {
        email => $email, password => 'Passw0rd!', nickname => 'nick',
        phoneNumber => $phone, termsId => [1], verificationToken => $token,
    });
}

__DATA__

=== TEST 1: a fresh status: every key, zero, and the configured provider
--- request
GET /status
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body chomp
{"codesPending":0,"members":0,"webhookBacklog":0,"sent":0,"sendFailed":0,"confirmed":0,"confirmFailed":0,"signups":0,"rateLimited":0,"testSends":0,"logins":0,"loginsFailed":0,"resets":0,"webhookDelivered":0,"webhookFailed":0,"storeUnavailable":0,"providers":{"log":{"ok":0,"failed":0}}}



=== TEST 2: HEAD status: the headers without the body
--- request
HEAD /status
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body chomp



=== TEST 3: providers: the configured names only, wherever configured
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s access_key=a secret_key=k
                       from=0212345678 url=http://127.0.0.1:1 timeout=1s;
--- config
    location = /send {
        smsverify_provider cafe24 user_id=u secure_key=k
                           from=070-1234-5678 url=http://127.0.0.1:1;
        smsverify send;
    }
    location = /send-sens { smsverify send; }
    location = /status    { smsverify status; }
--- request
GET /status
--- error_code: 200
--- flow
my $json = JSON::PP->new->utf8->decode($body);
is_deeply $json->{providers},
    { sens => { ok => 0, failed => 0 }, cafe24 => { ok => 0, failed => 0 } },
    'sens and cafe24, not log';



=== TEST 4: providers: one configured in a location only
--- http_config
    smsverify_store smsverify_temp size=8m;
--- config
    location = /send {
        smsverify_provider cafe24 user_id=u secure_key=k
                           from=070-1234-5678 url=http://127.0.0.1:1;
        smsverify send;
    }
    location = /status { smsverify status; }
--- request
GET /status
--- error_code: 200
--- response_body chomp
{"codesPending":0,"members":0,"webhookBacklog":0,"sent":0,"sendFailed":0,"confirmed":0,"confirmFailed":0,"signups":0,"rateLimited":0,"testSends":0,"logins":0,"loginsFailed":0,"resets":0,"webhookDelivered":0,"webhookFailed":0,"storeUnavailable":0,"providers":{"cafe24":{"ok":0,"failed":0}}}



=== TEST 5: every counter moves with its event, and nothing else moves
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_terms 1 required;
    smsverify_password_hash bcrypt cost=4;
--- config
    location = /send    { smsverify send; }
    location = /send-once {
        smsverify_resend_interval 1ms;
        smsverify_send_limit 1 1h;
        smsverify send;
    }
    location = /send-failing {
        smsverify_provider sens service_id=s access_key=a secret_key=k
                           from=0212345678 url=http://127.0.0.1:1 timeout=1s;
        smsverify send;
    }
    location = /send-short {
        smsverify_code_ttl 1s;
        smsverify send;
    }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /status  { smsverify status; }
--- request
GET /status
--- error_code: 200
--- flow
my %want = (%main::Zero,
            providers => { log  => { ok => 0, failed => 0 },
                           sens => { ok => 0, failed => 0 } });
my $check = sub {
    my ($what, %delta) = @_;
    for my $k (keys %delta) {
        if ($k =~ /^(\w+)\.(\w+)$/) {
            $want{providers}{$1}{$2} += $delta{$k};
        } else {
            $want{$k} += $delta{$k};
        }
    }
    is_deeply main::status(), \%want, $what;
};
$check->('all zero at first');

my $a = '010-1111-0001';
my $res = sv_request(POST => '/send', { phoneNumber => $a });
is $res->{status}, 200, 'send';
$check->('a send: sent, log ok, a code pending',
         sent => 1, 'log.ok' => 1, codesPending => 1);

$res = sv_request(POST => '/send', { phoneNumber => $a });
is $res->{json}{error}, 'RESEND_TOO_SOON', 'resend at once';
$check->('RESEND_TOO_SOON is rate limited', rateLimited => 1);

my $b = '010-2222-0002';
$res = sv_request(POST => '/send-once', { phoneNumber => $b });
is $res->{status}, 200, 'send with a limit of 1';
sleep 0.01;     # past the 1ms resend interval
$res = sv_request(POST => '/send-once', { phoneNumber => $b });
is $res->{json}{error}, 'SEND_LIMIT', 'over the limit';
$check->('SEND_LIMIT is rate limited too',
         sent => 1, 'log.ok' => 1, codesPending => 1, rateLimited => 1);

$res = sv_request(POST => '/send-failing', { phoneNumber => '010-3333-0003' });
is $res->{status}, 502, 'the provider fails';
$check->('PROVIDER_FAILED: sendFailed, sens failed, no code pending',
         sendFailed => 1, 'sens.failed' => 1);

$res = sv_request(POST => '/send', { phoneNumber => '02-123-4567' });
is $res->{json}{error}, 'INVALID_PHONE', 'a landline';
$res = sv_request(POST => '/send', '{"phoneNumber":', { 'Content-Type' => 'application/json' });
is $res->{json}{error}, 'INVALID_JSON', 'broken JSON';
$res = sv_request(GET => '/send');
is $res->{status}, 405, 'GET send';
$check->('bad requests move nothing');

my $code = sv_code_for($a);
my $wrong = $code eq '000000' ? '000001' : '000000';
$res = sv_request(POST => '/confirm',
    { phoneNumber => $a, verificationNumber => $wrong });
is $res->{json}{error}, 'CODE_MISMATCH', 'a wrong guess';
$check->('CODE_MISMATCH: confirmFailed', confirmFailed => 1);

$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-4444-0004', verificationNumber => '123456' });
is $res->{json}{error}, 'NO_PENDING_CODE', 'no code for this phone';
$check->('NO_PENDING_CODE: confirmFailed', confirmFailed => 1);

$res = sv_request(POST => '/confirm',
    { phoneNumber => $a, verificationNumber => $code });
is $res->{status}, 200, 'the right code';
my $token = $res->{json}{verificationToken};
$check->('confirmed, and the code is no longer pending',
         confirmed => 1, codesPending => -1);

$res = main::signup($a, $token, 'a@example.com');
is $res->{status}, 200, 'signup';
$check->('a signup: signups and members', signups => 1, members => 1);

$res = main::signup($a, $token, 'b@example.com');
is $res->{status}, 403, 'the token is used up';
$res = sv_request(POST => '/send', { phoneNumber => $a });
is $res->{json}{error}, 'PHONE_TAKEN', 'the phone is taken';
$check->('a refused signup and PHONE_TAKEN move nothing');

my $c = '010-5555-0005';
$code = sv_code_for($b);
$wrong = $code eq '000000' ? '000001' : '000000';
for my $i (1 .. 5) {
    $res = sv_request(POST => '/confirm',
        { phoneNumber => $b, verificationNumber => $wrong });
}
is $res->{json}{error}, 'TOO_MANY_ATTEMPTS', 'the fifth wrong guess burns the code';
$check->('5 wrong guesses: confirmFailed 5, the code is gone',
         confirmFailed => 5, codesPending => -1);

$res = sv_request(POST => '/send-short', { phoneNumber => $c });
is $res->{status}, 200, 'a code for 1s';
$check->('pending', sent => 1, 'log.ok' => 1, codesPending => 1);
sleep 1.2;
# held until the sweep deletes it, an hour after its expiry
$check->('an expired code is still held');
$res = sv_request(POST => '/confirm',
    { phoneNumber => $c, verificationNumber => sv_code_for($c) });
is $res->{json}{error}, 'CODE_EXPIRED', 'expired';
$check->('CODE_EXPIRED: confirmFailed, the code still held',
         confirmFailed => 1);



=== TEST 6: failover counts each provider tried
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=u secure_key=k from=070-1234-5678
                       url=http://127.0.0.1:1 timeout=1s;
    smsverify_provider log;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- flow
my $json = main::status();
is $json->{sent}, 1, 'sent once';
is $json->{sendFailed}, 0, 'not a failed send';
is_deeply $json->{providers},
    { cafe24 => { ok => 0, failed => 1 }, log => { ok => 1, failed => 0 } },
    'cafe24 failed, log took it';



=== TEST 7: the counters are summed over both workers
--- request
GET /status
--- error_code: 200
--- flow
my (%send_pids, %status_pids);
my $n = 0;
while ($n < 60 && (keys %send_pids < 2 || $n < 10)) {
    $n++;
    my $res = sv_request(POST => '/send',
        { phoneNumber => sprintf('010-7777-%04d', $n) });
    is $res->{status}, 200, "send $n" if $res->{status} != 200;
    $send_pids{ $res->{headers}{'x-pid'} // '' }++;
}
is scalar(keys %send_pids), 2, "$n sends were answered by both workers";

my $res = main::signup('010-7777-0001', main::verify('010-7777-0001'),
                       'one@example.com');
is $res->{status}, 200, 'a signup';

my $tries = 0;
my $ok = 1;
while ($tries < 60 && (keys %status_pids < 2 || $tries < 10)) {
    $tries++;
    $res = sv_request(GET => '/status');
    $status_pids{ $res->{headers}{'x-pid'} // '' }++;
    my $j = $res->{json} // {};
    if (($j->{sent} // -1) != $n || ($j->{members} // -1) != 1
        || ($j->{signups} // -1) != 1 || ($j->{confirmed} // -1) != 1
        || ($j->{codesPending} // -1) != $n - 1
        || ($j->{providers}{log}{ok} // -1) != $n)
    {
        $ok = 0;
        diag "worker $res->{headers}{'x-pid'} says $res->{body}";
    }
}
is scalar(keys %status_pids), 2, 'status was answered by both workers';
ok $ok, "each worker's status counts every worker's work ($n sends)";



=== TEST 8: allow lets a client see the status
--- config
    location = /status {
        smsverify status;
        allow 127.0.0.1;
        deny all;
    }
--- request
GET /status
--- error_code: 200
--- response_body_like: ^\{"codesPending":0,



=== TEST 9: deny keeps a client from the status with nginx's 403
--- config
    location = /status {
        smsverify status;
        allow 10.0.0.1;
        deny all;
    }
--- request
GET /status
--- error_code: 403
--- response_body_like: 403 Forbidden
--- response_body_unlike: codesPending
--- error_log
access forbidden by rule



=== TEST 10: deny all in the server, allow in the status location
--- config
    deny all;
    location = /send   { smsverify send; }
    location = /status { smsverify status; allow 127.0.0.1; }
--- request eval
["GET /status", "POST /send\n{\"phoneNumber\":\"010-1234-5678\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 403]
--- response_body_like eval
['"codesPending":0', '403 Forbidden']
