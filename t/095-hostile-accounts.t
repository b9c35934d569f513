# Hostile input to the accounts: login, logout, session, reset_send, reset
# and locations behind smsverify_auth, as 090-hostile.t does for send,
# confirm, signup and status (and with its generators). Every malformed
# request gets the documented JSON error (401/403 for a cookie that holds
# no session or token, logout's 200), or nginx's own 4xx for HTTP-level
# garbage; no worker dies; no member changes, no session is made and no
# password changed by a malformed request (each member logs in with its
# own password at the end); no password, session or token reaches the
# error log.
#
# The fuzz (TEST 7) is seeded and bounded:
#   TEST_NGINX_HOSTILE_SEED   the seed (default 95095; printed on failure)
#   TEST_NGINX_HOSTILE_COUNT  malformed requests sent by the test process
#                             (default 2000), and as many again by each of
#                             two children sending at the same time
# Under valgrind (TEST_NGINX_USE_VALGRIND) it sends 600, with no
# children, and fewer members take their steps among them.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

# the generators (t/inc/SmsVerify/Hostile.pm, HostileAccounts.pm), in
# scope for the flows
{ package SmsVerify; use SmsVerify::Hostile; use SmsVerify::HostileAccounts; }

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=16m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_terms 2 optional;
_EOC_

our $Config = <<'_EOC_';
    location = /send       { smsverify send;       client_max_body_size 1m; }
    location = /confirm    { smsverify confirm;    client_max_body_size 1m; }
    location = /signup     { smsverify signup;     client_max_body_size 1m; }
    location = /status     { smsverify status;     client_max_body_size 1m; }
    location = /login      { smsverify login;      client_max_body_size 1m; }
    location = /login/brisk {
        smsverify login; smsverify_session_ttl 1h idle=3s;
    }
    location = /logout     { smsverify logout;     client_max_body_size 1m; }
    location = /session    { smsverify session;    client_max_body_size 1m; }
    location = /reset/send { smsverify reset_send; client_max_body_size 1m; }
    location = /reset      { smsverify reset;      client_max_body_size 1m; }
    location /members/  { smsverify_auth member;   root html; client_max_body_size 1m; }
    location /verified/ { smsverify_auth verified; root html; client_max_body_size 1m; }
_EOC_

our $UserFiles = <<'_EOF_';
>>> members/index.html
members only
>>> verified/index.html
verified only
_EOF_

sv_block_defaults(http_config => $HttpConfig, config => $Config,
                  user_files => $UserFiles);

# what nginx itself logs at [error] for the HTTP-level faults
@SmsVerify::Expected = (qr/client intended to send too large (?:chunked )?body/,
                        qr/client sent invalid chunked body/);
@SmsVerify::Expected = @SmsVerify::Expected;

master_on();
workers(2);
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: every field of login, reset_send and reset, each fault alone
An account nobody has, so a body that passes every check fails the
login (LOGIN_FAILED, or LOGIN_LOCKED once the account has failed five
times), gets NOT_A_MEMBER from reset_send and PHONE_NOT_VERIFIED from
reset: a fault must be answered before that, with its own word and field.
--- request
GET /session
--- error_code: 401
--- log_level: notice
--- timeout: 120
--- flow
my ($n, @fail) = run_account_field_faults(1);
is scalar(@fail), 0, "$n malformed fields, each answered with its own error"
    or diag join "\n", @fail;
is_deeply [map { $_->[0] } @{ sv_store_dump('sessions') }], [], 'no session';
is_deeply [map { $_->[0] } @{ sv_store_dump('sends') }], [], 'no send counted';
my @logins = grep { !/^(?:e:h\d+\@example\.com|p:\+82109\d{3}8\d{3})$/ }
             map { $_->[0] } @{ sv_store_dump('logins') };
is_deeply \@logins, [], 'failed logins: only of the accounts the bodies named';
check_log([], @SmsVerify::Expected);
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 2: the faults aimed at real members, and their real passwords with hidden bytes
--- request
GET /session
--- error_code: 401
--- log_level: notice
--- timeout: 120
--- flow
my $members = acct_members(3);
my ($n, @fail) = run_member_faults($members);
is scalar(@fail), 0, "$n malformed logins and resets of members, each refused"
    or diag join "\n", @fail;
# the reset token left unused proves the phone to reset only
my ($m, $o) = @$members;
my $res = sv_request(GET => '/verified/index.html', undef,
                     { Cookie => "smsverify_token=$m->{reset_token}" });
is $res->{status}, 403, 'a reset token lets nobody past smsverify_auth verified';
$res = sv_request(POST => '/signup',
                  sv_member(phoneNumber => $m->{e164}, email => 'new@example.com',
                            termsId => [1],
                            verificationToken => $m->{reset_token}));
is $res->{json}{error}, 'PHONE_NOT_VERIFIED', 'nor signs anybody up';
$res = sv_request(POST => '/reset', { phoneNumber => $o->{e164},
                                      password => 'N3wPassw0rd' },
                  { Cookie => "smsverify_token=$m->{reset_token}" });
is $res->{json}{error}, 'PHONE_NOT_VERIFIED', 'nor resets another phone as a cookie';
check_accounts($members);
check_log($members, @SmsVerify::Expected);
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 3: HTTP-level faults, refused media types and methods, on every account endpoint
--- request
GET /session
--- error_code: 401
--- log_level: notice
--- timeout: 120
--- flow
my $members = acct_members(2);
my @fail = run_account_http_faults(3);
is scalar(@fail), 0, 'every HTTP-level fault answered as expected'
    or diag join "\n", @fail;
check_accounts($members);
check_log($members, @SmsVerify::Expected);
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 4: cookies that hold no session or token, of every length and byte, many, huge
A member's session lives through them all, logouts with them included.
--- request
GET /session
--- error_code: 401
--- log_level: notice
--- timeout: 120
--- flow
my $members = acct_members(2);
my ($n, @fail) = run_cookie_faults($members);
is scalar(@fail), 0, "$n requests with hostile cookies, each answered as without"
    or diag join "\n", @fail;
check_accounts($members);
check_log($members, @SmsVerify::Expected);
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 5: pipelined: a member's login, session and logout among malformed requests
--- request
GET /session
--- error_code: 401
--- log_level: notice
--- flow
my $members = acct_members(1);
my ($m) = @$members;
my ($s) = keys %{ $m->{sessions} };
my @res = answers_to(
    http_request(path => '/login', body => '{"email":1,"password":"x"}',
                 ctype => 'application/json', conn => 'keep-alive')
    . http_request(path => '/login', ctype => 'application/json',
                   conn => 'keep-alive',
                   body => qq({"email":"$m->{email}","password":"$m->{password}"}))
    . http_request(method => 'GET', path => '/session', conn => 'keep-alive',
                   headers => ["Cookie: smsverify_session=$s"])
    . http_request(path => '/logout', body => 'x' x 20000, ctype => 'text/plain',
                   conn => 'keep-alive', headers => ["Cookie: smsverify_session=$s"])
    . http_request(method => 'GET', path => '/members/index.html',
                   conn => 'keep-alive', headers => ["Cookie: smsverify_session=$s"])
    . http_request(path => '/reset', body => '{"phoneNumber":',
                   ctype => 'application/json', conn => 'keep-alive')
    . http_request(method => 'GET', path => '/session'));
is scalar(@res), 7, 'seven answers, in order';
like $res[0]{body}, qr/"error":"INVALID_FIELD","message":"[^"]+","field":"email"/,
     'the wrong type first';
is $res[1]{status}, 200, 'the valid login';
my ($new) = ($res[1]{headers}{'set-cookie'} // '') =~ /smsverify_session=([^;]+)/;
ok $new, 'with its session';
like $res[2]{body}, qr/"memberId":$m->{id}/, 'the signup\'s session answers';
is $res[3]{status}, 200, 'logout, a big body discarded';
is $res[4]{status}, 401, 'the session it ended is no more';
like $res[5]{body}, qr/"error":"INVALID_JSON"/, 'the truncated reset';
is $res[6]{status}, 401, 'no cookie: NOT_LOGGED_IN';
$m->{sessions}{$s} = 0;
$m->{sessions}{$new} = 1 if $new;
check_accounts($members);
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 6: a session refreshed in the pool, while clients misbehave
A session of idle=3s has its last use written at most every 0.3 s: the
lookup then posts a task, and the access phase (or the session
endpoint) waits for it. (A round whose requests the client resets may
write nothing: the 3 s leave room for a loaded machine.) Those requests come with bodies, pipelined,
half-closed, or reset by the client while the task runs.
--- request
GET /session
--- error_code: 401
--- log_level: notice
--- timeout: 120
--- flow
my $members = acct_members(1);
my ($m) = @$members;
my $res = sv_request(POST => '/login/brisk',
                     { email => $m->{email}, password => $m->{password} });
my $s = sv_cookie($res, 'smsverify_session');
ok $s, 'a brisk session';
my @workers = sv_worker_pids();
my $cookie = ["Cookie: smsverify_session=$s"];
my $members_only = sub {
    http_request(method => 'GET', path => '/members/index.html', @_,
                 headers => $cookie);
};
my $session = sub {
    http_request(method => 'GET', path => '/session', @_, headers => $cookie);
};
my @fail;
srand 6;
for my $round (1 .. ($SmsVerify::HostileAccounts::Valgrind ? 10 : 25)) {
    Time::HiRes::sleep(0.32);
    my $k = $round % 5;
    if ($k == 0) {
        # gone while its lookup runs: nothing to answer; the next is
        SmsVerify::Hostile::exchange($members_only->(), reset => 1);
        SmsVerify::Hostile::exchange($session->(conn => 'keep-alive') . $session->(), reset => 1);
        next;
    }
    my @req = $k == 1 ? ($members_only->(body => 'x' x (1 + int rand 200000)))
            : $k == 2 ? ($session->(body => 'x' x 5000, chunked => 1))
            : $k == 3 ? ($members_only->(conn => 'keep-alive'),
                         $session->(conn => 'keep-alive'),
                         http_request(path => '/login', body => '{"email":',
                                      ctype => 'application/json',
                                      conn => 'keep-alive'),
                         $members_only->())
            : ($session->());
    my $ex = SmsVerify::Hostile::exchange(join('', @req), half_close => $k == 4);
    my @res = SmsVerify::Hostile::responses($ex->{raw});
    my @want = $k == 3 ? (200, 200, 400, 200) : (200) x @req;
    # a client that shuts its side while the task runs has gone, as
    # nginx's proxy takes it: no answer, or the answer if it came first
    next if $k == 4 && !@res && !$ex->{timed_out};
    push @fail, "round $round: " . join(',', map { $_->{status} // 'garbage' } @res)
                . ' for ' . join(',', @want)
                . ($ex->{timed_out} ? ' (timed out)' : '')
        if join(',', map { $_->{status} // 'x' } @res) ne join(',', @want);
}
is scalar(@fail), 0, 'every request with a session in refresh answered'
    or diag join "\n", @fail;
is_deeply [sv_worker_pids()], \@workers, 'the same workers';
$m->{sessions}{$s} = 1;
check_accounts($members);
check_log($members, @SmsVerify::Expected);
--- no_error_log eval
[qr/exited on signal/, qr/\[(?:alert|crit|emerg)\]/]



=== TEST 7: fuzz: thousands of malformed requests, the members' own among them
Seeded and bounded: see the top of the file.
--- request
GET /session
--- error_code: 401
--- log_level: notice
--- timeout: 900
--- flow
my $members = acct_members($SmsVerify::HostileAccounts::Valgrind ? 4 : 16);
run_account_fuzz($members);
check_log($members, @SmsVerify::Expected);
--- no_error_log eval
[qr/exited on signal/, qr/worker process \d+ exited/,
 qr/\[(?:alert|crit|emerg)\]/]
