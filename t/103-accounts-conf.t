# The accounts' directives and their errors; races of logins, resets,
# logouts and guarded requests over two workers.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

# the races log in with passwords a reset may just have changed: what
# they count must not lock the account (100-login.t tests the lock)
our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_login_limit 100 15m;
_EOC_

our $Config = <<'_EOC_';
    location = /send       { smsverify send; }
    location = /confirm    { smsverify confirm; }
    location = /signup     { smsverify signup; }
    location = /login      { smsverify login; }
    location = /logout     { smsverify logout; }
    location = /session    { smsverify session; }
    location = /reset/send { smsverify reset_send; }
    location = /reset      { smsverify reset; }
    location = /status     { smsverify status; }
    location /guarded/     { smsverify_auth member; root html; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

sub SmsVerify::signed_up {
    my ($phone, $email) = @_;
    my $token = sv_verify_phone($phone);
    my $res = sv_request(POST => '/signup',
                         sv_member(phoneNumber => $phone, email => $email,
                                   termsId => [1], verificationToken => $token));
    die "signup: $res->{status} $res->{body}" if $res->{status} != 200;
    return 'smsverify_session=' . sv_cookie($res, 'smsverify_session');
}

# n children at once, each running $code; their exit statuses
sub SmsVerify::at_once {
    my ($n, $code) = @_;
    my @pids = map { my $i = $_; sv_fork(sub { $code->($i) }) } 1 .. $n;
    return map { waitpid($_, 0); $? >> 8 } @pids;
}

workers(2);
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: smsverify_auth takes member, verified or off
--- config
    location /g/ { smsverify_auth maybe; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "maybe", it must be "member", "verified" or "off" in \S+nginx\.conf:\d+/



=== TEST 2: smsverify_session_ttl: times, and idle=
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_session_ttl 7d sleepy=1d;
--- config
    location = /login { smsverify login; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "sleepy=1d" in \S+nginx\.conf:\d+/



=== TEST 3: smsverify_session_ttl: a time that is none
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_session_ttl forever;
--- config
    location = /login { smsverify login; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid time "forever", it must be 1s or more in \S+nginx\.conf:\d+/



=== TEST 4: smsverify_session_ttl: idle= that is no time
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_session_ttl 7d idle=0;
--- config
    location = /login { smsverify login; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid idle time "idle=0", it must be 1s or more in \S+nginx\.conf:\d+/



=== TEST 5: smsverify_login_limit: N and TIME
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_login_limit 0 15m;
--- config
    location = /login { smsverify login; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number "0", it must be 1 to 100 in \S+nginx\.conf:\d+/



=== TEST 6: smsverify_login_limit: a window that is no time
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_login_limit 5 soon;
--- config
    location = /login { smsverify login; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid time "soon" in \S+nginx\.conf:\d+/



=== TEST 7: the endpoints' names
--- http_config
    smsverify_store smsverify_temp size=8m;
--- config
    location = /x { smsverify signin; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "signin", it must be "send", "confirm", "signup", "status", "login", "logout", "session", "reset_send", "reset" or "admin" in \S+nginx\.conf:\d+/



=== TEST 8: a guarded location needs the store
--- http_config
    smsverify_password_hash bcrypt cost=4;
--- config
    location /g/ { smsverify_auth member; }
--- must_die
--- error_log eval
qr/\[emerg\] .*no "smsverify_store" is defined at the http level for the "smsverify" directive in \S+nginx\.conf:\d+/



=== TEST 9: reset_send needs a provider
--- http_config
    smsverify_store smsverify_temp size=8m;
--- config
    location = /r { smsverify reset_send; }
--- must_die
--- error_log eval
qr/\[emerg\] .*no "smsverify_provider" is defined for "smsverify reset_send" in \S+nginx\.conf:\d+/



=== TEST 10: two workers: racing logins each get a session; racing resets, one wins
--- request
GET /status
--- error_code: 200
--- flow
signed_up('010-9300-0001', 'race@example.com');
my @rc = at_once(8, sub {
    my $res = sv_request(POST => '/login', { email => 'race@example.com',
                                             password => 'Passw0rd!' });
    return $res->{status} == 200 && sv_cookie($res, 'smsverify_session') ? 0 : 1;
});
is_deeply \@rc, [(0) x 8], 'eight logins at once: eight sessions';
is sv_request(GET => '/status')->{json}{logins}, 8, 'counted over both workers';

# one reset token, eight resets at once: exactly one changes the password
my $token = sv_verify_phone('010-9300-0001', '/reset/send', '/confirm');
@rc = at_once(8, sub {
    my $i = shift;
    my $res = sv_request(POST => '/reset', { phoneNumber => '010-9300-0001',
                                             password => "Racer${i}pass",
                                             verificationToken => $token });
    return $res->{status} == 200 ? 0 : $res->{status} == 403 ? 1 : 2;
});
is scalar(grep { $_ == 0 } @rc), 1, 'one reset won';
is scalar(grep { $_ == 1 } @rc), 7, 'the others: PHONE_NOT_VERIFIED';
my @works = grep {
    sv_request(POST => '/login', { email => 'race@example.com',
                                   password => "Racer${_}pass" })->{status} == 200
} 1 .. 8;
is scalar(@works), 1, 'exactly the winner\'s password logs in';
--- timeout: 30
--- no_error_log
[alert]
exited on signal



=== TEST 11: a reset racing logins: no session outlives the reset
--- request
GET /status
--- error_code: 200
--- flow
signed_up('010-9300-0002', 'racing@example.com');
my $token = sv_verify_phone('010-9300-0002', '/reset/send', '/confirm');
my $dir = server_root() . '/sessions';
mkdir $dir;
my @rc = at_once(9, sub {
    my $i = shift;
    if ($i == 5) {
        my $res = sv_request(POST => '/reset', { phoneNumber => '010-9300-0002',
                                                 password => 'N3wPassword',
                                                 verificationToken => $token });
        return $res->{status} == 200 ? 0 : 1;
    }
    my $res = sv_request(POST => '/login', { email => 'racing@example.com',
                                             password => 'Passw0rd!' });
    if ($res->{status} == 200) {
        open my $out, '>', "$dir/$i" or return 3;
        print $out sv_cookie($res, 'smsverify_session');
        close $out;
    }
    return 0;
});
is $rc[4], 0, 'the reset went through';
for my $f (glob "$dir/*") {
    open my $in, '<', $f or die $!;
    my $value = <$in>;
    close $in;
    my $res = sv_request(GET => '/session', undef,
                         { Cookie => "smsverify_session=$value" });
    is $res->{status}, 401, "an old-password session ($f) ended with the reset";
}
is sv_request(POST => '/login', { email => 'racing@example.com',
                                  password => 'N3wPassword' })->{status},
   200, 'the new password logs in';
--- timeout: 30
--- no_error_log
[alert]
exited on signal



=== TEST 12: logout racing guarded requests over two workers
--- request
GET /status
--- error_code: 200
--- flow
mkdir html_dir() . '/guarded';
open my $out, '>', html_dir() . '/guarded/page.html' or die $!;
print $out "members only\n";
close $out;
my $cookie = signed_up('010-9300-0003', 'logout@example.com');
my @rc = at_once(8, sub {
    my $i = shift;
    if ($i == 4) {
        return sv_request(POST => '/logout', undef, { Cookie => $cookie })
                   ->{status} == 200 ? 0 : 1;
    }
    my $res = sv_request(GET => '/guarded/page.html', undef, { Cookie => $cookie });
    return $res->{status} == 200 ? 0 : $res->{status} == 401 ? 0 : 1;
});
is_deeply \@rc, [(0) x 8], 'every answer is 200 or 401, the logout 200';
is sv_request(GET => '/guarded/page.html', undef, { Cookie => $cookie })->{status},
   401, 'after the logout, on any worker: 401';
is sv_request(GET => '/guarded/page.html', undef, { Cookie => $cookie })->{status},
   401, 'and again';
--- timeout: 30
--- no_error_log
[alert]
exited on signal
