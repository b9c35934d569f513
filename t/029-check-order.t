# The order of a send's checks (README.md, "Abuse"): the phone's form, its
# country, a test number (which skips every limit), the member (PHONE_TAKEN
# for send, NOT_A_MEMBER for reset_send), then the limits in the store's
# one transaction: the daily budget, the client address, the phone's
# resend interval and send limit. The first that refuses answers; a
# refused send changes nothing else: no code replaced, no attempt spent, no
# count of another limit moved (the budget's day counts its own refusals).

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use Time::HiRes ();

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_test_number +821000000001 482915;
    smsverify_resend_interval 0;
    smsverify_send_limit 2 1h;
    smsverify_ip_limit 2 1h;
    smsverify_daily_budget 6;
_EOC_

our $Config = <<'_EOC_';
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    location = /send       { smsverify send; }
    location = /send/slow  { smsverify send; smsverify_resend_interval 1h; }
    location = /reset/send { smsverify reset_send; }
    location = /confirm    { smsverify confirm; }
    location = /signup     { smsverify signup; }
    location = /status     { smsverify status; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

my $left = 86400 - time() % 86400;
Time::HiRes::sleep($left + 0.5) if $left < 20;

sub SmsVerify::send_from {
    my ($addr, $phone, $path) = @_;
    return sv_request(POST => $path // '/send', { phoneNumber => $phone },
                      { 'X-Forwarded-For' => $addr });
}

sub SmsVerify::error_of { $_[0]{json}{error} // "$_[0]{status}" }

# everything a send may change in the codes' part, by database
sub SmsVerify::snapshot {
    return { map { $_ => sv_store_dump($_) } qw(codes sends addrs days tokens) };
}

# the day's count of sends (the refusals apart)
sub SmsVerify::day_sent {
    my $days = sv_store_dump('days');
    return 0 if !@$days;
    return (split ' ', $days->[0][1])[0] if sv_store_is_pg();
    return (unpack 'C q< Q<', $days->[0][1])[2];
}

no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: the phone's form and country answer first, whatever the limits say, and count nothing
--- request
GET /status
--- error_code: 200
--- flow
is send_from('192.0.2.1', '010-7100-0001')->{status}, 200, 'send 1 from A';
is send_from('192.0.2.1', '010-7100-0002')->{status}, 200, 'send 2 from A';
is error_of(send_from('192.0.2.1', '010-7100-0003')), 'IP_LIMIT', 'A is spent';

my $before = snapshot();
is error_of(send_from('192.0.2.1', '010-71')), 'INVALID_PHONE', 'INVALID_PHONE';
is error_of(send_from('192.0.2.1', '+14155550123')), 'COUNTRY_NOT_ALLOWED',
   'COUNTRY_NOT_ALLOWED';
is_deeply snapshot(), $before, 'nothing changed';
--- no_error_log
[error]



=== TEST 2: a test number skips every limit: budget, address, phone
--- request
GET /status
--- error_code: 200
--- flow
is send_from('192.0.2.1', '010-7200-0001')->{status}, 200, 'send 1 from A';
is send_from('192.0.2.1', '010-7200-0002')->{status}, 200, 'send 2 from A';
for my $i (3 .. 6) {
    is send_from("192.0.2.$i", "010-7200-000$i")->{status}, 200, "send $i";
}
is error_of(send_from('192.0.2.9', '010-7200-0009')), 'SMS_BUDGET',
   'the budget is spent';
for my $i (1 .. 3) {
    is send_from('192.0.2.1', '010-0000-0001', '/send/slow')->{status}, 200,
       "the test number from the spent address, again at once ($i)";
}
is day_sent(), 6, 'the budget did not move';
--- error_log eval
qr/\[alert\] .*smsverify daily budget of 6 SMS is spent/



=== TEST 3: PHONE_TAKEN and NOT_A_MEMBER answer before the limits, and count nothing
--- request
GET /status
--- error_code: 200
--- flow
my $token = sv_verify_phone('010-7300-0001');
my $res = sv_request(POST => '/signup', sv_member(phoneNumber => '010-7300-0001',
    email => 'order@example.com', termsId => [1], verificationToken => $token));
is $res->{status}, 200, 'a member (one send from 127.0.0.1)';

is send_from('192.0.2.1', '010-7300-0002')->{status}, 200, 'send from A';
is send_from('192.0.2.1', '010-7300-0003')->{status}, 200, 'send from A';
for my $i (4 .. 6) {
    is send_from("192.0.2.$i", "010-7300-000$i")->{status}, 200, "send $i";
}
is error_of(send_from('192.0.2.9', '010-7300-0009')), 'SMS_BUDGET', 'spent';

my $before = snapshot();
is error_of(send_from('192.0.2.1', '010-7300-0001')), 'PHONE_TAKEN',
   'PHONE_TAKEN, though budget and address are spent';
is error_of(send_from('192.0.2.1', '010-7300-0099', '/reset/send')),
   'NOT_A_MEMBER', 'NOT_A_MEMBER likewise';
is_deeply snapshot(), $before, 'nothing changed';
--- error_log eval
qr/\[alert\] .*smsverify daily budget of 6 SMS is spent/



=== TEST 4: budget, then address, then the phone: which answers, and a refusal moves no other count
--- request
GET /status
--- error_code: 200
--- flow
# P from A: P 1 of 2, A 1 of 2, the day 1 of 6
is send_from('192.0.2.1', '010-7400-0001')->{status}, 200, 'P from A';
my $p_code = sv_code_for('7400-0001');
is send_from('192.0.2.1', '010-7400-0002')->{status}, 200, 'Q from A: A is spent';

# P again from A: the address refuses, and P's count, code and the day
# do not move
my $before = snapshot();
my $res = send_from('192.0.2.1', '010-7400-0001');
is error_of($res), 'IP_LIMIT', 'IP_LIMIT';
is_deeply snapshot(), $before, 'IP_LIMIT changed nothing';

# so P still has a send left: from B it goes (it would be SEND_LIMIT had
# the refusal counted)
is send_from('192.0.2.2', '010-7400-0001')->{status}, 200, 'P from B: its 2nd';

# P is spent now: SEND_LIMIT, which counts nothing against B or the day
$before = snapshot();
is error_of(send_from('192.0.2.2', '010-7400-0001')), 'SEND_LIMIT',
   'SEND_LIMIT';
is_deeply snapshot(), $before, 'SEND_LIMIT changed nothing';
is send_from('192.0.2.2', '010-7400-0003')->{status}, 200,
   'R from B: B had room for one more';

# the resend interval likewise, and it comes after the address
is send_from('192.0.2.3', '010-7400-0004', '/send/slow')->{status}, 200,
   'S from C';
$before = snapshot();
is error_of(send_from('192.0.2.3', '010-7400-0004', '/send/slow')),
   'RESEND_TOO_SOON', 'S again at once: RESEND_TOO_SOON';
is_deeply snapshot(), $before, 'RESEND_TOO_SOON changed nothing';
is error_of(send_from('192.0.2.2', '010-7400-0004', '/send/slow')),
   'IP_LIMIT', 'S from B, spent: the address answers before the phone';

# the day counted the five sends and none of the refusals
is day_sent(), 5, 'the day: 5 sent';
is send_from('192.0.2.5', '010-7400-0005')->{status}, 200, 'the 6th';

# and the budget answers before the address and the phone
$before = snapshot();
is error_of(send_from('192.0.2.1', '010-7400-0001')), 'SMS_BUDGET',
   'P from A: budget, address and phone all refuse; the budget answers';
my $after = snapshot();
is_deeply [@$after{qw(codes sends addrs tokens)}],
          [@$before{qw(codes sends addrs tokens)}],
          'SMS_BUDGET changed nothing but the day\'s refusals';
is day_sent(), 6, 'the day: 6 sent';

# no attempt was spent on P's code by the refusals: it confirms
my $code = sv_code_for('7400-0001');
isnt $code, $p_code, 'P\'s code is the one of its 2nd send';
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-7400-0001', verificationNumber => "$code" });
is $res->{status}, 200, 'and it confirms';
--- error_log eval
qr/\[alert\] .*smsverify daily budget of 6 SMS is spent/
