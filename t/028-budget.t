# smsverify_daily_budget N (API.md sections 1, 2 and 4): at most N SMS a
# UTC day over the whole store; past it, sends get 503 SMS_BUDGET with
# Retry-After up to the next UTC midnight, and the error log says so at
# alert once a day (the store tells the day's first refusal, whichever
# worker meets it). A send every provider failed does not spend it; test
# numbers do not touch it; a refused send stores and sends nothing. http
# level only; its config errors name file and line.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use Time::HiRes ();

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_test_number +821000000001 482915;
    smsverify_daily_budget 3;
_EOC_

our $Config = <<'_EOC_';
    add_header X-Pid $pid always;
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /send/broken {
        smsverify send;
        smsverify_provider sens service_id=ncp:sms:kr:1:svc access_key=AK
            secret_key=sk from=0212345678 url=http://127.0.0.1:9 timeout=2s;
    }
    location = /status  { smsverify status; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

# a day that ends while the file runs would count twice
my $left = 86400 - time() % 86400;
Time::HiRes::sleep($left + 0.5) if $left < 20;

sub SmsVerify::send_to {
    my ($phone, $path) = @_;
    return sv_request(POST => $path // '/send', { phoneNumber => $phone });
}

sub SmsVerify::status_json { sv_request(GET => '/status')->{json} // {} }

# today's record of the budget: [key, sent, refused], or ()
sub SmsVerify::today {
    my @t = gmtime;
    my $key = sprintf '%04d-%02d-%02d', $t[5] + 1900, $t[4] + 1, $t[3];
    for (@{ sv_store_dump('days') }) {
        next if $_->[0] ne $key;
        return [$key, split ' ', $_->[1]] if sv_store_is_pg();
        my (undef, undef, $sent, $refused) = unpack 'C q< Q< Q<', $_->[1];
        return [$key, $sent, $refused];
    }
    return ();
}

workers(2);
master_on();
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: the budget is 1 or more
--- http_config eval
$::HttpConfig =~ s/budget 3/budget 0/r
--- must_die
--- error_log eval
qr/\[emerg\] .*value must be between 1 and 100000000 in \S+nginx\.conf:\d+/



=== TEST 2: a number
--- http_config eval
$::HttpConfig =~ s/budget 3/budget lots/r
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_daily_budget" directive invalid number in \S+nginx\.conf:\d+/



=== TEST 3: http level only
--- config
    location = /send { smsverify send; smsverify_daily_budget 5; }
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_daily_budget" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 4: once
--- http_config eval
$::HttpConfig . "    smsverify_daily_budget 4;\n"
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_daily_budget" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 5: N SMS, then 503 SMS_BUDGET until midnight UTC, one alert over both workers
--- request
GET /status
--- error_code: 200
--- flow
for my $i (1 .. 3) {
    is send_to("010-6100-000$i")->{status}, 200, "send $i";
}

my $res = send_to('010-6100-0004');
my $midnight = 86400 - time() % 86400;
is $res->{status}, 503, 'the 4th: 503';
is $res->{json}{error}, 'SMS_BUDGET', 'SMS_BUDGET';
my $retry = $res->{headers}{'retry-after'} // 0;
ok abs($retry - $midnight) <= 2, "Retry-After $retry: the next UTC midnight ($midnight)";
is $res->{json}{retryAfter}, $retry + 0, 'retryAfter as the header';
is_deeply [sort keys %{ $res->{json} }], [qw(error message retryAfter)],
   'the documented keys only';

my %pids = ($res->{headers}{'x-pid'} => 1);
for my $i (5 .. 24) {
    $res = send_to(sprintf '010-6100-%04d', $i);
    is $res->{json}{error}, 'SMS_BUDGET', "refused $i"
        if ($res->{json}{error} // '') ne 'SMS_BUDGET';
    $pids{ $res->{headers}{'x-pid'} // '' }++;
}
is scalar(keys %pids), 2, 'refused by both workers';

my @alerts = sv_log_grep(qr/\[alert\].*smsverify daily budget/);
is scalar(@alerts), 1, 'one alert for 21 refusals over two workers';
like $alerts[0] // '',
     qr/smsverify daily budget of 3 SMS is spent for \d{4}-\d\d-\d\d \(UTC\): sends are refused until midnight UTC/,
     'it says what and until when';

is_deeply today(), [today()->[0], 3, 21], 'the day: 3 sent, 21 refused';
ok !grep({ $_->[0] =~ /^\+82106100(00(0[4-9]|1\d|2[0-4]))$/ } @{ sv_store_dump('codes') }),
   'no code stored for a refused send';
is scalar(sv_log_grep(qr/smsverify log provider: to/)), 3, 'three SMS only';

my $st = status_json();
is $st->{sent}, 3, 'sent 3';
is $st->{rateLimited}, 0, 'SMS_BUDGET is no rate limit';
--- error_log eval
qr/\[alert\] .*smsverify daily budget of 3 SMS is spent for /



=== TEST 6: a send every provider failed does not spend the budget
--- request
GET /status
--- error_code: 200
--- flow
for my $i (1 .. 4) {
    my $res = send_to("010-6200-000$i", '/send/broken');
    is $res->{status}, 502, "failed send $i: 502, not SMS_BUDGET";
}
is_deeply [@{ today() }[1, 2]], [0, 0], 'nothing spent';
for my $i (1 .. 3) {
    is send_to("010-6200-001$i")->{status}, 200, "send $i";
}
is send_to('010-6200-0014')->{json}{error}, 'SMS_BUDGET', 'then SMS_BUDGET';
--- error_log eval
qr/\[alert\] .*smsverify daily budget of 3 SMS is spent for /



=== TEST 7: test numbers do not touch the budget, and pass when it is spent
--- request
GET /status
--- error_code: 200
--- flow
for my $i (1 .. 4) {
    is send_to('010-0000-0001')->{status}, 200, "test number $i";
}
ok !today(), 'no day counted';
for my $i (1 .. 3) {
    is send_to("010-6300-000$i")->{status}, 200, "send $i";
}
is send_to('010-6300-0004')->{json}{error}, 'SMS_BUDGET', 'spent';
is send_to('010-0000-0001')->{status}, 200, 'the test number still goes';
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-0000-0001', verificationNumber => '482915' });
is $res->{status}, 200, 'and confirms';
is_deeply [@{ today() }[1, 2]], [3, 1], 'the day: 3 sent, 1 refused';
--- error_log eval
qr/\[alert\] .*smsverify daily budget of 3 SMS is spent for /
--- no_error_log
[error]
