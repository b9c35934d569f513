# GET status?format=prometheus (API.md section 5): Prometheus text that
# `promtool check metrics` accepts, each value equal to the JSON's, and the
# histogram of provider call times (every call, in the right bucket),
# summed over two workers. The providers are SENS and Cafe24 on the mock
# (t/mock/sms_mock.py), slowed or failed as a block needs.
#
# promtool comes with Debian's "prometheus" package (make deps installs
# it); without it the promtool checks are skipped, the rest still runs.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use File::Temp ();
use JSON::PP ();

$ENV{TEST_NGINX_SENS_ID}     = 'ncp:sms:kr:260512:smsverify';
$ENV{TEST_NGINX_SENS_KEY}    = 'AKMOCKACCESS0123';
$ENV{TEST_NGINX_SENS_SECRET} = 'sensSecret-Zq8Xw3Lp9Vb';
$ENV{TEST_NGINX_CAFE24_ID}   = 'smsverify';
$ENV{TEST_NGINX_CAFE24_KEY}  = 'cafe24Secure-Vh5Tn2Rk7Mc';

sv_mock_start(
    sens_service_id   => $ENV{TEST_NGINX_SENS_ID},
    sens_access_key   => $ENV{TEST_NGINX_SENS_KEY},
    sens_secret_key   => $ENV{TEST_NGINX_SENS_SECRET},
    cafe24_user_id    => $ENV{TEST_NGINX_CAFE24_ID},
    cafe24_secure_key => $ENV{TEST_NGINX_CAFE24_KEY},
);

our $Promtool = $ENV{TEST_NGINX_PROMTOOL} // '/usr/bin/promtool';

# SENS first, Cafe24 second: a SENS failure fails over to Cafe24, and
# Cafe24 is not asked for a number outside +82
our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_countries 82 1;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    smsverify_provider cafe24 user_id=$TEST_NGINX_CAFE24_ID
        secure_key=$TEST_NGINX_CAFE24_KEY from=070-1234-5678
        url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    smsverify_test_number 010-0000-0001 482915;
_EOC_

our $Config = <<'_EOC_';
    add_header X-Pid $pid always;
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /status  { smsverify status; }
_EOC_

# a block's --- mock_behaviour: one JSON object a line, set after a reset
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(http_config => $HttpConfig)
        if !defined $block->http_config;
    $block->set_value(config => $Config) if !defined $block->config;

    sv_mock_reset();
    for my $line (split /\n/, $block->mock_behaviour // '') {
        next if $line !~ /\S/;
        sv_mock_behaviour(JSON::PP->new->decode($line));
    }
});

workers(2);
master_on();
no_shuffle();
sv_flow_blocks();
run_tests();

# ---- helpers for the flows -------------------------------------------------

sub SmsVerify::status_json {
    my $res = sv_request(GET => '/status');
    return $res->{json} // {};
}

sub SmsVerify::prometheus_text {
    my $res = sv_request(GET => '/status?format=prometheus');
    Test::More::is($res->{status}, 200, 'GET status?format=prometheus')
        if $res->{status} != 200;
    return $res->{body};
}

# The samples of a text, by name and labels as written:
# { 'smsverify_sent_total' => 3, 'x_bucket{provider="sens",le="0.5"}' => 1 }
sub SmsVerify::samples {
    my %s;
    for my $line (split /\n/, shift) {
        next if $line =~ /^#/ || $line !~ /\S/;
        my ($key, $value) = $line =~ /^(\S+) (\S+)$/
            or do { Test::More::fail("a sample line: $line"); next };
        Test::More::fail("$key twice") if exists $s{$key};
        $s{$key} = $value;
    }
    return \%s;
}

# promtool check metrics on the text: clean, or a failed test with what
# it said; skipped where promtool is not installed
sub SmsVerify::promtool_clean {
    my ($text, $what) = @_;
    SKIP: {
        Test::More::skip("no $main::Promtool (apt-get install prometheus)", 1)
            if !-x $main::Promtool;
        my $file = File::Temp->new;
        print $file $text;
        close $file;
        my $out = qx{$main::Promtool check metrics < \Q$file\E 2>&1};
        Test::More::ok($? == 0 && $out !~ /\S/, "promtool check metrics: $what")
            or Test::More::diag("promtool said ($?): $out");
    }
}

# Every figure of the JSON equals its sample, and the histogram agrees
# with the provider counters: a call is counted once, in one bucket.
sub SmsVerify::agree {
    my ($json, $s, $what) = @_;
    my %names = (sent => 'sent', sendFailed => 'send_failed',
                 confirmed => 'confirmed', confirmFailed => 'confirm_failed',
                 signups => 'signups', rateLimited => 'rate_limited',
                 testSends => 'test_sends', logins => 'logins',
                 loginsFailed => 'logins_failed', resets => 'resets',
                 webhookDelivered => 'webhook_delivered',
                 webhookFailed => 'webhook_failed',
                 storeUnavailable => 'store_unavailable');
    my %keys = map { $_ => 1 } keys %$json;
    delete @keys{qw(codesPending members webhookBacklog providers),
                 keys %names};
    Test::More::is_deeply([sort keys %keys], [], "$what: no JSON key left out");

    my @diff;
    my $cmp = sub {
        my ($name, $want) = @_;
        push @diff, "$name: " . ($s->{$name} // 'none') . " not $want"
            if !defined $s->{$name} || $s->{$name} != $want;
    };
    $cmp->('smsverify_codes_pending', $json->{codesPending});
    $cmp->('smsverify_members', $json->{members});
    $cmp->('smsverify_webhook_backlog', $json->{webhookBacklog});
    $cmp->("smsverify_$names{$_}_total", $json->{$_}) for sort keys %names;

    my $h = 'smsverify_provider_duration_seconds';
    for my $p (sort keys %{ $json->{providers} }) {
        my ($ok, $failed) = @{ $json->{providers}{$p} }{qw(ok failed)};
        $cmp->(qq{smsverify_provider_requests_total{provider="$p",result="ok"}}, $ok);
        $cmp->(qq{smsverify_provider_requests_total{provider="$p",result="failed"}}, $failed);
        $cmp->(qq{${h}_count{provider="$p"}}, $ok + $failed);
        $cmp->(qq{${h}_bucket{provider="$p",le="+Inf"}}, $ok + $failed);

        my $last = 0;
        for my $le (qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 +Inf)) {
            my $n = $s->{qq{${h}_bucket{provider="$p",le="$le"}}};
            push @diff, "$p le=$le: " . ($n // 'none') . " after $last"
                if !defined $n || $n < $last;
            $last = $n // $last;
        }
        my $sum = $s->{qq{${h}_sum{provider="$p"}}};
        push @diff, "$p: no sum" if !defined $sum;
        push @diff, "$p: sum $sum for no call"
            if defined $sum && $ok + $failed == 0 && $sum != 0;
        push @diff, "$p: sum $sum for calls"
            if defined $sum && $ok + $failed > 0 && $sum <= 0;
    }
    Test::More::is_deeply(\@diff, [], "$what: every value equals the JSON's");
}

__DATA__

=== TEST 1: a fresh answer: the media type, every family, promtool clean
--- request
GET /status?format=prometheus
--- error_code: 200
--- response_headers
Content-Type: text/plain; version=0.0.4
Cache-Control: no-store
--- flow
promtool_clean($body, 'a fresh answer');
my $s = samples($body);
agree(status_json(), $s, 'fresh');
is $s->{'smsverify_sent_total'}, 0, 'sent 0';
is $s->{'smsverify_provider_duration_seconds_sum{provider="sens"}'}, '0.000000',
   'the sum in seconds';
like $body, qr/^# HELP smsverify_sent_total \S.*\n# TYPE smsverify_sent_total counter\nsmsverify_sent_total 0\n/m,
     'HELP and TYPE before the sample';
like $body, qr/^# TYPE smsverify_codes_pending gauge$/m, 'codes pending is a gauge';
like $body, qr/^# TYPE smsverify_members gauge$/m, 'members is a gauge';
like $body, qr/^# TYPE smsverify_provider_duration_seconds histogram$/m,
     'the call times are a histogram';
is scalar(grep { /^# TYPE smsverify_provider_requests_total / } split /\n/, $body),
   1, 'one family for the requests of every provider';
unlike $body, qr/provider="log"/, 'only the configured providers';
like $body, qr/^# TYPE smsverify_webhook_backlog gauge\nsmsverify_webhook_backlog 0$/m,
     'the webhook backlog is a gauge, 0 without a webhook';



=== TEST 2: HEAD: the headers without the body
--- request
HEAD /status?format=prometheus
--- error_code: 200
--- response_headers
Content-Type: text/plain; version=0.0.4
Cache-Control: no-store
--- response_body chomp



=== TEST 3: another format is refused with a JSON error; format=json is the default
--- request eval
["GET /status?format=xml", "GET /status?format=", "GET /status?format=Prometheus",
 "GET /status?format=prometheus2", "HEAD /status?format=xml"]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_headers eval
[("Content-Type: application/json") x 5]
--- response_body eval
['{"error":"INVALID_FIELD","message":"A field has the wrong type.","field":"format"}',
 '{"error":"INVALID_FIELD","message":"A field has the wrong type.","field":"format"}',
 '{"error":"INVALID_FIELD","message":"A field has the wrong type.","field":"format"}',
 '{"error":"INVALID_FIELD","message":"A field has the wrong type.","field":"format"}',
 '']
--- flow
my $res = sv_request(GET => '/status?format=json');
is $res->{status}, 200, 'format=json';
is $res->{headers}{'content-type'}, 'application/json', 'is JSON';
is_deeply $res->{json}, status_json(), 'the same as without format';
$res = sv_request(GET => '/status?x=1&format=prometheus&y=2');
is $res->{status}, 200, 'format among other arguments';
like $res->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4$}, 'is Prometheus';
$res = sv_request(POST => '/status?format=prometheus');
is $res->{status}, 405, 'POST is still not allowed';



=== TEST 4: after a mix of sends, failures, confirms and a signup, every value is the JSON's
--- request
GET /status
--- error_code: 200
--- flow
my $send = sub { sv_request(POST => '/send', { phoneNumber => shift }) };
my $res;
for my $i (1 .. 4) {
    $res = $send->(sprintf '010-5100-%04d', $i);
    is $res->{status}, 200, "send $i" if $res->{status} != 200;
}
$res = $send->('010-5100-0001');
is $res->{json}{error}, 'RESEND_TOO_SOON', 'rate limited';

# SENS fails twice: Cafe24 takes the first, and both fail the second
sv_mock_behaviour({ provider => 'sens', mode => 'http500', count => 2 });
sv_mock_behaviour({ provider => 'cafe24', mode => 'http500', count => 1 });
$res = $send->('010-5200-0001');
is $res->{status}, 502, 'every provider failed';
$res = $send->('010-5200-0002');
is $res->{status}, 200, 'SENS failed, Cafe24 took it';

# +1: Cafe24 is not asked (no call, not counted), SENS refuses it
sv_mock_behaviour({ provider => 'sens', mode => 'http400', count => 1 });
$res = $send->('+1 415 555 0123');
is $res->{status}, 502, 'outside +82: SENS refused, Cafe24 not asked';

$res = $send->('010-0000-0001');
is $res->{status}, 200, 'a test send';

my $code = sv_mock_code_for('51000001');
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-5100-0001', verificationNumber => $code });
is $res->{status}, 200, 'confirmed';
my $token = $res->{json}{verificationToken};
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-5100-0003', verificationNumber => '0000000' });
is $res->{json}{error}, 'CODE_MISMATCH', 'a wrong code';
$res = sv_request(POST => '/signup', {
    email => 'a@example.com', password => 'Passw0rd!', nickname => 'a',
    phoneNumber => '010-5100-0001', termsId => [1], verificationToken => $token });
is $res->{status}, 200, 'a signup';

my $json = status_json();
my $text = prometheus_text();
promtool_clean($text, 'after the mix');
my $s = samples($text);
agree($json, $s, 'after the mix');

is_deeply [@$json{qw(sent sendFailed rateLimited testSends confirmed signups members)}],
          [5, 2, 1, 1, 1, 1, 1], 'the mix as the JSON counts it';
is_deeply $json->{providers},
          { sens => { ok => 4, failed => 3 }, cafe24 => { ok => 1, failed => 1 } },
          'each provider call, but the one not asked';
is $s->{'smsverify_provider_duration_seconds_count{provider="sens"}'}, 7,
   'the histogram counts each SENS call';
is $s->{'smsverify_provider_duration_seconds_count{provider="cafe24"}'}, 2,
   'and each Cafe24 call';
is scalar @{ sv_mock_requests() }, 9, 'as many calls as the mock got';



=== TEST 5: bucket edges: a call of 300 ms is within le="0.5", not le="0.25"
--- mock_behaviour
{"provider": "sens", "mode": "ok", "delay_ms": 300, "count": 1}
--- request
POST /send
{"phoneNumber":"010-5300-0001"}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- flow
my $s = samples(prometheus_text());
my $b = sub {
    $s->{qq{smsverify_provider_duration_seconds_bucket{provider="sens",le="$_[0]"}}};
};
# valgrind slows the call past the upper edges: only the lower one holds
my $slow = $ENV{TEST_NGINX_USE_VALGRIND};
is $b->('0.25'), 0, 'not within 0.25 s';
is $b->('+Inf'), 1, 'one call';
my $sum = $s->{'smsverify_provider_duration_seconds_sum{provider="sens"}'};
like $sum, qr/^\d+\.\d{6}$/, 'the sum in seconds, to the microsecond';
ok $sum >= 0.3, "the sum, $sum s, is at least the delay";
SKIP: {
    skip 'valgrind: the call takes longer', 6 if $slow;
    is $b->('0.5'), 1, 'within 0.5 s';
    ok $sum < 0.5, "the sum, $sum s, is the call's time";

    # a fast call after it lands in a low bucket: both stay counted
    my $res = sv_request(POST => '/send', { phoneNumber => '010-5300-0002' });
    is $res->{status}, 200, 'a fast send';
    $s = samples(prometheus_text());
    is $b->('0.25'), 1, 'the fast call within 0.25 s';
    is $b->('0.5'), 2, 'both within 0.5 s';
    is $s->{'smsverify_provider_duration_seconds_count{provider="sens"}'}, 2,
       'two calls';
}



=== TEST 6: a provider that times out is counted in the bucket of its timeout
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=$TEST_NGINX_SENS_ID
        access_key=$TEST_NGINX_SENS_KEY secret_key=$TEST_NGINX_SENS_SECRET
        from=0212345678 url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=1100ms;
--- mock_behaviour
{"provider": "sens", "mode": "hang", "count": 1}
--- request
POST /send
{"phoneNumber":"010-5400-0001"}
--- more_headers
Content-Type: application/json
--- error_code: 502
--- flow
my $text = prometheus_text();
promtool_clean($text, 'after a timeout');
my $s = samples($text);
my $h = 'smsverify_provider_duration_seconds_bucket{provider="sens",le="%s"}';
is $s->{sprintf $h, '1'}, 0, 'not within 1 s';
is $s->{sprintf $h, '+Inf'}, 1, 'one call';
SKIP: {
    skip 'valgrind: the call takes longer', 1 if $ENV{TEST_NGINX_USE_VALGRIND};
    is $s->{sprintf $h, '2.5'}, 1, 'within 2.5 s';
}
is $s->{'smsverify_provider_requests_total{provider="sens",result="failed"}'}, 1,
   'counted as failed';
agree(status_json(), $s, 'after a timeout');



=== TEST 7: summed over both workers: each worker answers every worker's figures
--- request
GET /status?format=prometheus
--- error_code: 200
--- flow
my (%send_pids, %status_pids);
my $n = 0;
while ($n < 60 && (keys %send_pids < 2 || $n < 10)) {
    $n++;
    my $res = sv_request(POST => '/send',
        { phoneNumber => sprintf('010-5500-%04d', $n) });
    is $res->{status}, 200, "send $n" if $res->{status} != 200;
    $send_pids{ $res->{headers}{'x-pid'} // '' }++;
    $res = sv_request(POST => '/send', { phoneNumber => '010-0000-0001' });
    is $res->{status}, 200, "test send $n" if $res->{status} != 200;
}
is scalar(keys %send_pids), 2, "$n sends were answered by both workers";

my ($tries, @bad) = (0);
while ($tries < 60 && (keys %status_pids < 2 || $tries < 10)) {
    $tries++;
    my $res = sv_request(GET => '/status?format=prometheus');
    $status_pids{ $res->{headers}{'x-pid'} // '' }++;
    my $s = samples($res->{body});
    my %want = (
        'smsverify_sent_total' => $n,
        'smsverify_test_sends_total' => $n,
        'smsverify_codes_pending' => $n + 1,
        'smsverify_provider_requests_total{provider="sens",result="ok"}' => $n,
        'smsverify_provider_duration_seconds_count{provider="sens"}' => $n,
        'smsverify_provider_duration_seconds_bucket{provider="sens",le="+Inf"}' => $n,
    );
    for my $k (sort keys %want) {
        push @bad, "worker $res->{headers}{'x-pid'}: $k " . ($s->{$k} // 'none')
            if ($s->{$k} // -1) != $want{$k};
    }
}
is scalar(keys %status_pids), 2, 'the metrics were answered by both workers';
is_deeply \@bad, [], "each worker's answer counts every worker's work ($n sends)";
