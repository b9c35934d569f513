# smsverify_webhook: signed events from the outbox to a receiver that
# checks them as the Standard Webhooks specification says (signature,
# timestamp tolerance, duplicate ids: t/mock/webhook_receiver.py).
# Delivery, a wrong secret refused, retries with the same webhook-id
# after an error answer and after a timeout, the order of events, a
# receiver away for a while, a deletion by the admin API, signups unhindered by a receiver that hangs,
# the long retry schedule (an event's next attempt or creation moved in
# the store beside nginx), and the directive's errors.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use File::Temp ();
use MIME::Base64 ();
use Time::HiRes qw(sleep time);

# the secrets, in files nginx reads at start-up
our $Dir = File::Temp::tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_WEBHOOK_DIR} = $Dir;

sub secret { 'whsec_' . MIME::Base64::encode_base64(join('', map { chr rand 256 } 1 .. shift), '') }

our $Secret = secret(32);
my %files = (
    'good.secret'   => "$Secret\n",
    'wrong.secret'  => secret(32) . "\n",
    'prefix.secret' => 'sk_' . substr($Secret, 6) . "\n",
    'base64.secret' => "whsec_not*base64!\n",
    'empty.secret'  => "whsec_\n",
);
for my $name (keys %files) {
    open my $out, '>', "$Dir/$name" or die "$Dir/$name: $!";
    print $out $files{$name};
    close $out;
}

sv_receiver_start($Secret);

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_webhook http://127.0.0.1:$TEST_NGINX_HOOK_PORT/hooks/members
                      secret_file=$TEST_NGINX_WEBHOOK_DIR/good.secret
                      timeout=2s;
_EOC_

our $Config = <<'_EOC_';
    location = /send       { smsverify send; }
    location = /confirm    { smsverify confirm; }
    location = /signup     { smsverify signup; }
    location = /reset/send { smsverify reset_send; }
    location = /reset      { smsverify reset; }
    location = /status     { smsverify status; }
    location /admin/       { smsverify admin; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config);

{
package SmsVerify;

sub signup {
    my ($phone, $email) = @_;
    my $token = sv_verify_phone($phone);
    return sv_request(POST => '/signup',
        sv_member(phoneNumber => $phone, email => $email, termsId => [1],
                  verificationToken => $token));
}

sub signed_up {
    my $res = signup(@_);
    Test::More::is($res->{status}, 200, "signup of $_[1]")
        or Test::More::diag($res->{body});
    return $res->{json}{memberId};
}

sub status { sv_request(GET => '/status')->{json} // {} }

sub member_ids { [map { $_->{data}{memberId} } @{ shift() }] }
} # package SmsVerify

# the counters are summed over the workers; the lease is the store's
master_on();
workers(2);
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: a signup and a reset are delivered, signed, with the member
--- request
GET /status
--- error_code: 200
--- timeout: 30
--- flow
sv_receiver_reset();
my $id = signed_up('010-3000-0001', 'hook1@example.com');
my $events = sv_receiver_wait(1);
is scalar(@$events), 1, 'one event delivered';
my $e = $events->[0];
is $e->{type}, 'member.created', 'member.created';
like $e->{timestamp}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'its time';
is_deeply $e->{data}, {
    memberId => $id, email => 'hook1@example.com',
    phoneNumber => '+821030000001', nickname => "\x{AE40}\x{CCA0}\x{C218}",
    terms => [1], createdAt => $e->{timestamp} }, 'the member, as MEMBER';

my ($got) = @{ sv_receiver_received() };
ok $got->{verified}, 'the signature verified';
like $got->{id}, qr/^msg_[0-9a-f]{32}$/, 'a webhook-id';
ok abs($got->{timestamp} - time) < 30, 'a webhook-timestamp of now';

my $token = sv_verify_phone('010-3000-0001', '/reset/send', '/confirm');
my $res = sv_request(POST => '/reset', { phoneNumber => '010-3000-0001',
    password => 'N3wPassw0rd', verificationToken => $token });
is $res->{status}, 200, 'reset' or diag $res->{body};
$events = sv_receiver_wait(2);
is $events->[1]{type}, 'member.password_changed', 'member.password_changed';
is $events->[1]{data}{memberId}, $id, 'of the member';
my @ids = map { $_->{id} } @{ sv_receiver_received() };
isnt $ids[1], $ids[0], 'another webhook-id';
unlike join('', map { $_->{body} // '' } @{ sv_receiver_received() }),
    qr/Passw0rd|\$2b\$/, 'no password nor hash in an event';

ok sv_wait_until(sub { status()->{webhookDelivered} == 2 }, 5),
   'two delivered, in status';
my $s = status();
is $s->{webhookBacklog}, 0, 'nothing waits';
is $s->{webhookFailed}, 0, 'nothing failed';
is scalar(@{ sv_outbox() }), 0, 'the outbox is empty';
my $prom = sv_request(GET => '/status?format=prometheus')->{body};
like $prom, qr/^smsverify_webhook_backlog 0$/m, 'the backlog gauge';
like $prom, qr/^# TYPE smsverify_webhook_backlog gauge$/m, 'typed';
like $prom, qr/^smsverify_webhook_delivered_total 2$/m, 'delivered';
like $prom, qr/^smsverify_webhook_failed_total 0$/m, 'failed';
SKIP: {
    my $promtool = $ENV{TEST_NGINX_PROMTOOL} // '/usr/bin/promtool';
    skip "no $promtool", 1 if !-x $promtool;
    my $file = File::Temp->new;
    print $file $prom;
    close $file;
    my $out = qx{$promtool check metrics < \Q$file\E 2>&1};
    ok $? == 0 && $out !~ /\S/, 'promtool check metrics' or diag $out;
}
--- no_error_log
[error]



=== TEST 2: a wrong secret: the receiver refuses, the event waits
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_webhook http://127.0.0.1:$TEST_NGINX_HOOK_PORT/hooks/members
                      secret_file=$TEST_NGINX_WEBHOOK_DIR/wrong.secret;
--- request
GET /status
--- error_code: 200
--- timeout: 30
--- flow
sv_receiver_reset();
signed_up('010-3000-0002', 'hook2@example.com');
ok sv_wait_until(sub { @{ sv_receiver_received() } >= 1 }, 5),
   'the attempt reached the receiver';
my ($got) = @{ sv_receiver_received() };
ok !$got->{verified}, 'not verified';
is $got->{reason}, 'bad signature', 'a bad signature';
is $got->{status}, 401, 'refused';
is scalar(@{ sv_receiver_events() }), 0, 'nothing delivered';
ok sv_wait_until(sub { my $o = sv_outbox(); @$o && $o->[0]{attempts} == 1 },
                 5), 'the failure counted in the outbox';
is status()->{webhookBacklog}, 1, 'one waits';
is status()->{webhookDelivered}, 0, 'none delivered';
--- error_log eval
qr/\[warn\] .*smsverify webhook "msg_[0-9a-f]{32}" \(member\.created\) attempt 1 failed: the receiver answered 401; next attempt in 5 s/



=== TEST 3: an error answer: tried again 5 s later with the same webhook-id
--- request
GET /status
--- error_code: 200
--- timeout: 30
--- flow
sv_receiver_reset();
sv_receiver_behaviour({ mode => 'status', status => 503, count => 1 });
signed_up('010-3000-0003', 'hook3@example.com');
my $events = sv_receiver_wait(1, 15);
is scalar(@$events), 1, 'delivered at the second attempt';
my @got = @{ sv_receiver_received() };
is scalar(@got), 2, 'two attempts';
is $got[0]{status}, 503, 'the first refused';
ok $got[0]{verified} && $got[1]{verified}, 'both signed right';
is $got[1]{id}, $got[0]{id}, 'the same webhook-id';
my $gap = $got[1]{at} - $got[0]{at};
ok $gap >= 4.5 && $gap < 9, "the second 5 s later ($gap s)";
--- error_log eval
qr/attempt 1 failed: the receiver answered 503; next attempt in 5 s/



=== TEST 4: no answer within timeout: tried again with the same webhook-id
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_webhook http://127.0.0.1:$TEST_NGINX_HOOK_PORT/hooks/members
                      secret_file=$TEST_NGINX_WEBHOOK_DIR/good.secret
                      timeout=1s;
--- request
GET /status
--- error_code: 200
--- timeout: 30
--- flow
sv_receiver_reset();
sv_receiver_behaviour({ mode => 'hang', count => 1 });
signed_up('010-3000-0004', 'hook4@example.com');
my $events = sv_receiver_wait(1, 15);
is scalar(@$events), 1, 'delivered at the second attempt';
my @got = @{ sv_receiver_received() };
is scalar(@got), 2, 'two attempts';
ok !defined $got[0]{status}, 'the first never answered';
is $got[1]{id}, $got[0]{id}, 'the same webhook-id';
--- error_log eval
qr/attempt 1 failed: .*[Tt]imed? ?out.*; next attempt in 5 s/



=== TEST 5: in the order made; one that fails does not hold back the rest
--- request
GET /status
--- error_code: 200
--- timeout: 60
--- flow
sv_receiver_reset();
my @ids = map { signed_up(sprintf('010-3001-%04d', $_), "order$_\@example.com") } 1 .. 4;
my $events = sv_receiver_wait(4);
is_deeply member_ids($events), \@ids, 'four in order';

# the first of three refused once: the other two go, it follows
sv_receiver_reset();
sv_receiver_behaviour({ mode => 'status', status => 500, count => 1 });
@ids = map { signed_up(sprintf('010-3002-%04d', $_), "skip$_\@example.com") } 1 .. 3;
$events = sv_receiver_wait(3, 15);
is_deeply member_ids($events), [@ids[1, 2, 0]],
    'the two after it first, then the one retried';

# all three refused: retried in their order
sv_receiver_reset();
sv_receiver_behaviour({ mode => 'status', status => 500, count => 3 });
@ids = map { signed_up(sprintf('010-3003-%04d', $_), "again$_\@example.com") } 1 .. 3;
$events = sv_receiver_wait(3, 20);
is_deeply member_ids($events), \@ids, 'retried in the order made';
my %seen;
$seen{ $_->{id} }++ for @{ sv_receiver_received() };
is_deeply [sort values %seen], [2, 2, 2], 'each twice, under its own id';



=== TEST 6: the receiver away for a while: delivered when it is back
--- request
GET /status
--- error_code: 200
--- timeout: 30
--- flow
sv_receiver_reset();
sv_receiver_down(2500);
my $id = signed_up('010-3000-0006', 'hook6@example.com');
sleep 1;
is scalar(@{ sv_receiver_received() }), 0, 'nothing reached it';
is status()->{webhookBacklog}, 1, 'the event waits';
my $events = sv_receiver_wait(1, 15);
is_deeply member_ids($events), [$id], 'delivered once it was back';
ok sv_wait_until(sub { status()->{webhookBacklog} == 0 }, 5), 'nothing waits';
--- error_log eval
qr/attempt 1 failed: .*(?:refused|connect).*; next attempt in 5 s/i



=== TEST 7: a receiver that hangs does not slow signups
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_webhook http://127.0.0.1:$TEST_NGINX_HOOK_PORT/hooks/members
                      secret_file=$TEST_NGINX_WEBHOOK_DIR/good.secret
                      timeout=3s;
--- request
GET /status
--- error_code: 200
--- timeout: 60
--- flow
sv_receiver_reset();
my $timed = sub {
    my $i = shift;
    my $t0 = time;
    signed_up("010-3000-07$i", "slow$i\@example.com");
    return time - $t0;
};
my @before = map { $timed->($_) } 10 .. 14;
sv_wait_until(sub { @{ sv_receiver_events() } == 5 }, 10);

sv_receiver_behaviour({ mode => 'hang' });
$timed->(20);
ok sv_wait_until(sub { @{ sv_receiver_received() } == 6 }, 5),
   'a delivery hangs at the receiver';
my @during = map { $timed->($_) } 21 .. 25;
my ($b, $d) = (0, 0);
$b += $_ for @before;
$d += $_ for @during;
diag sprintf 'signups: %.3f s each before, %.3f s while the receiver hangs',
    $b / 5, $d / 5;
ok $d / 5 < $b / 5 * 3 + 0.2, 'no slower while the receiver hangs';
ok !grep({ $_ > 2 } @during), 'none waited for the receiver';
my $t0 = time;
is sv_request(GET => '/status')->{status}, 200, 'status answers';
ok time - $t0 < 1, 'at once';
is status()->{webhookBacklog}, 6, 'the six wait';
sv_receiver_reset();



=== TEST 8: the long schedule: 6 h after the fifth failure, dropped after three days
--- request
GET /status
--- error_code: 200
--- timeout: 60
--- flow
sv_receiver_reset();
sv_receiver_behaviour({ mode => 'status', status => 500 });
signed_up('010-3000-0008', 'hook8@example.com');
ok sv_wait_until(sub { my $o = sv_outbox(); @$o && $o->[0]{attempts} == 1 },
                 5), 'the first attempt failed';
my ($e) = @{ sv_outbox() };
my $msg_id = $e->{msg_id};
ok abs($e->{next_ms} - $e->{created_ms} - 5000) < 3000, 'next in 5 s';

# as if five attempts had failed over an hour and more: the next is due
$e->{attempts} = 5;
$e->{next_ms} = int(time * 1000) - 1000;
sv_outbox_put($e);
ok sv_wait_until(sub { sv_outbox()->[0]{attempts} == 6 }, 5),
   'the sixth attempt made';
($e) = @{ sv_outbox() };
my $wait = $e->{next_ms} - time * 1000;
ok abs($wait - 6 * 3600 * 1000) < 60_000, "the next 6 h later ($wait ms)";

# due again, and the receiver takes it: the same webhook-id
sv_receiver_behaviour({ mode => 'ok' });
$e->{next_ms} = int(time * 1000) - 1000;
sv_outbox_put($e);
my $events = sv_receiver_wait(1, 5);
is scalar(@$events), 1, 'delivered at the seventh';
is sv_receiver_received()->[-1]{id}, $msg_id, 'under its first webhook-id';

# three days since it was made: the failure drops it
sv_receiver_reset();
sv_receiver_behaviour({ mode => 'status', status => 500 });
signed_up('010-3000-0009', 'hook9@example.com');
ok sv_wait_until(sub { my $o = sv_outbox(); @$o && $o->[0]{attempts} == 1 },
                 5), 'failed once';
($e) = @{ sv_outbox() };
$e->{attempts} = 20;
$e->{created_ms} = int(time * 1000) - 3 * 24 * 3600 * 1000 - 1000;
$e->{next_ms} = int(time * 1000) - 1000;
sv_outbox_put($e);
ok sv_wait_until(sub { @{ sv_outbox() } == 0 }, 5), 'dropped';
ok sv_wait_until(sub { status()->{webhookFailed} == 1 }, 2),
   'counted in webhookFailed';
is status()->{webhookBacklog}, 0, 'nothing waits';
--- error_log eval
qr/\[error\] .*smsverify webhook "msg_[0-9a-f]{32}" \(member\.created\) dropped after 21 attempts in three days: the receiver answered 500/



=== TEST 9: a missing secret file
--- http_config
    smsverify_store smsverify_temp;
    smsverify_webhook http://127.0.0.1/ secret_file=$TEST_NGINX_WEBHOOK_DIR/none.secret;
--- must_die
--- error_log eval
qr/\[emerg\] .*none\.secret" failed .* in \S+nginx\.conf:\d+/



=== TEST 10: a secret without "whsec_"
--- http_config
    smsverify_store smsverify_temp;
    smsverify_webhook http://127.0.0.1/ secret_file=$TEST_NGINX_WEBHOOK_DIR/prefix.secret;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid webhook secret in "\S+prefix\.secret": the secret does not begin with "whsec_" in \S+nginx\.conf:\d+/



=== TEST 11: a secret that is not base64
--- http_config
    smsverify_store smsverify_temp;
    smsverify_webhook http://127.0.0.1/ secret_file=$TEST_NGINX_WEBHOOK_DIR/base64.secret;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid webhook secret in "\S+base64\.secret": the secret is not valid base64 in \S+nginx\.conf:\d+/



=== TEST 12: an empty key
--- http_config
    smsverify_store smsverify_temp;
    smsverify_webhook http://127.0.0.1/ secret_file=$TEST_NGINX_WEBHOOK_DIR/empty.secret;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid webhook secret in "\S+empty\.secret": the secret's key is empty in \S+nginx\.conf:\d+/



=== TEST 13: a URL that is not http(s)
--- http_config
    smsverify_store smsverify_temp;
    smsverify_webhook ftp://127.0.0.1/hooks secret_file=$TEST_NGINX_WEBHOOK_DIR/good.secret;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid webhook url "ftp:\/\/127\.0\.0\.1\/hooks": an http:\/\/ or https:\/\/ url is needed in \S+nginx\.conf:\d+/



=== TEST 14: no secret_file
--- http_config
    smsverify_store smsverify_temp;
    smsverify_webhook http://127.0.0.1/ timeout=1s;
--- must_die
--- error_log eval
qr/\[emerg\] .*smsverify_webhook needs "secret_file=" in \S+nginx\.conf:\d+/



=== TEST 15: a bad timeout
--- http_config
    smsverify_store smsverify_temp;
    smsverify_webhook http://127.0.0.1/ secret_file=$TEST_NGINX_WEBHOOK_DIR/good.secret timeout=soon;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid webhook timeout "timeout=soon" in \S+nginx\.conf:\d+/



=== TEST 16: twice
--- http_config
    smsverify_store smsverify_temp;
    smsverify_webhook http://127.0.0.1/ secret_file=$TEST_NGINX_WEBHOOK_DIR/good.secret;
    smsverify_webhook http://127.0.0.1/ secret_file=$TEST_NGINX_WEBHOOK_DIR/good.secret;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_webhook" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 17: at the http level only
--- config
    smsverify_webhook http://127.0.0.1/ secret_file=$TEST_NGINX_WEBHOOK_DIR/good.secret;
    location = /status { smsverify status; }
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_webhook" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 18: a deletion by the admin API is delivered as member.deleted
--- request
GET /status
--- error_code: 200
--- timeout: 30
--- flow
sv_receiver_reset();
my $id = signed_up('010-3000-0181', 'hook18@example.com');
my $created = sv_receiver_wait(1);
is $created->[0]{type}, 'member.created', 'created first';
my $res = sv_request(DELETE => "/admin/members/$id");
is $res->{status}, 200, 'deleted' or diag $res->{body};
my $events = sv_receiver_wait(2);
is scalar(@$events), 2, 'a second event';
is $events->[1]{type}, 'member.deleted', 'member.deleted';
is_deeply $events->[1]{data}, $created->[0]{data},
    'the member as it was, as MEMBER';
ok $_->{verified}, 'signed' for @{ sv_receiver_received() };
$res = sv_request(DELETE => "/admin/members/$id");
is $res->{status}, 404, 'a deletion of no member';
sleep 1;
is scalar(@{ sv_receiver_received() }), 2, 'makes no event';
is scalar(@{ sv_outbox() }), 0, 'the outbox is empty';
--- no_error_log
[error]
