# smsverify_auth: guarded locations, static and proxied, the variables that
# hand the member on, error_page taking over, "verified", $smsverify_error.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;

    log_format smsverify '$request_uri $status "$smsverify_error" '
                         '"$smsverify_member_id"';
_EOC_

our $Config = <<'_EOC_';
    access_log logs/auth.log smsverify;

    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; smsverify_signup_login off; }
    location = /login   { smsverify login; }
    location = /logout  { smsverify logout; }

    # the application behind: it sees what nginx hands it
    location /app/ {
        return 200 "id=$http_x_member_id email=$http_x_member_email phone=$http_x_member_phone nick=$http_x_member_nickname\n";
    }

    location /members/ {
        smsverify_auth member;
        proxy_set_header X-Member-Id       $smsverify_member_id;
        proxy_set_header X-Member-Email    $smsverify_member_email;
        proxy_set_header X-Member-Phone    $smsverify_member_phone;
        proxy_set_header X-Member-Nickname $smsverify_member_nickname;
        proxy_pass http://127.0.0.1:$server_port/app/;
    }

    location /static/ {
        smsverify_auth member;
        root html;
        add_header X-Member $smsverify_member_id;
    }

    location /to-login/ {
        smsverify_auth member;
        error_page 401 = @login;
        root html;
    }

    location @login {
        return 302 /login-page?from=$smsverify_error;
    }

    location /verified/ {
        smsverify_auth verified;
        root html;
        add_header X-Verified-Phone $smsverify_verified_phone;
    }

    location /open/ {
        root html;
        add_header X-Member "[$smsverify_member_id]";
    }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

sub SmsVerify::member_session {
    my ($phone, $email) = @_;
    my $token = sv_verify_phone($phone);
    my $res = sv_request(POST => '/signup',
                         sv_member(phoneNumber => $phone, email => $email,
                                   nickname => 'kim&lee', termsId => [1],
                                   verificationToken => $token));
    die "signup: $res->{status}" if $res->{status} != 200;
    $res = sv_request(POST => '/login', { email => $email,
                                          password => 'Passw0rd!' });
    die "login: $res->{status}" if $res->{status} != 200;
    return 'smsverify_session=' . sv_cookie($res, 'smsverify_session');
}

sub SmsVerify::files {
    for my $dir (qw(static to-login verified open)) {
        mkdir html_dir() . "/$dir";
        open my $out, '>', html_dir() . "/$dir/page.html" or die $!;
        print $out "the $dir page\n";
        close $out;
    }
}

no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: a member goes through to the upstream, which gets the member
--- request
GET /members/profile
--- error_code: 401
--- flow
my $res = SmsVerify::sv_request(GET => '/members/profile');
is $res->{json}{error}, 'NOT_LOGGED_IN', 'without a session: NOT_LOGGED_IN as JSON';
is $res->{headers}{'cache-control'}, 'no-store', 'no-store';

my $cookie = member_session('010-9100-0001', 'guard@example.com');
$res = sv_request(GET => '/members/profile', undef, { Cookie => $cookie });
is $res->{status}, 200, 'a member goes through';
is $res->{body},
   "id=1 email=guard\@example.com phone=+821091000001 nick=kim&lee\n",
   'the upstream got the member from the store';

$res = sv_request(GET => '/members/profile', undef,
                  { Cookie => $cookie, 'X-Member-Id' => '999',
                    'X-Member-Email' => 'evil@example.com' });
like $res->{body}, qr/^id=1 email=guard\@example\.com /,
     'what the client sends never reaches the upstream as the member';

$res = sv_request(GET => '/members/profile', undef,
                  { 'X-Member-Id' => '999',
                    Cookie => 'smsverify_session=' . ('x' x 43) });
is $res->{status}, 401, 'a made-up session with made-up headers: 401';

$res = sv_request(POST => '/logout', undef, { Cookie => $cookie });
$res = sv_request(GET => '/members/profile', undef, { Cookie => $cookie });
is $res->{status}, 401, 'after logout: 401';
--- no_error_log
[error]



=== TEST 2: a static location; the variables are empty where nobody logged in
--- request
GET /static/page.html
--- error_code: 401
--- flow
files();
my $res = sv_request(GET => '/static/page.html');
is $res->{status}, 401, 'static and guarded: 401';
my $cookie = member_session('010-9100-0002', 'static@example.com');
$res = sv_request(GET => '/static/page.html', undef, { Cookie => $cookie });
is $res->{status}, 200, 'a member gets the file';
is $res->{body}, "the static page\n", 'the file';
is $res->{headers}{'x-member'}, '1', '$smsverify_member_id';

$res = sv_request(GET => '/open/page.html', undef, { Cookie => $cookie });
is $res->{status}, 200, 'an open location';
is $res->{headers}{'x-member'}, '[]', 'its variables are empty: no guard, no member';
--- no_error_log
[error]



=== TEST 3: error_page 401 takes over: a redirect to the login page
--- request
GET /to-login/page.html
--- error_code: 302
--- response_headers_like
Location: .*/login-page\?from=NOT_LOGGED_IN$
--- flow
files();
my $cookie = member_session('010-9100-0003', 'redirect@example.com');
my $res = sv_request(GET => '/to-login/page.html', undef, { Cookie => $cookie });
is $res->{status}, 200, 'a member gets the page';
is $res->{body}, "the to-login page\n", 'the page';
--- no_error_log
[error]



=== TEST 4: verified: the token's phone, the token not used up
--- request
GET /verified/page.html
--- error_code: 403
--- flow
files();
my $res = sv_request(GET => '/verified/page.html');
is $res->{json}{error}, 'PHONE_NOT_VERIFIED', 'no token: PHONE_NOT_VERIFIED';
my $token = sv_verify_phone('010-9100-0004');
for my $i (1, 2) {
    $res = sv_request(GET => '/verified/page.html', undef,
                      { Cookie => "smsverify_token=$token" });
    is $res->{status}, 200, "a verified phone goes through ($i)";
    is $res->{headers}{'x-verified-phone'}, '+821091000004',
       '$smsverify_verified_phone';
}
$res = sv_request(POST => '/signup',
                  sv_member(phoneNumber => '010-9100-0004', email => 'v@example.com',
                            termsId => [1], verificationToken => $token));
is $res->{status}, 200, 'the token still signs up: the guard used nothing';
$res = sv_request(GET => '/verified/page.html', undef,
                  { Cookie => "smsverify_token=$token" });
is $res->{status}, 403, 'a used token: 403';
--- no_error_log
[error]



=== TEST 5: $smsverify_error in the access log
--- request
GET /members/x
--- error_code: 401
--- flow
sv_request(POST => '/login', { email => 'no@example.com', password => 'Passw0rd!' });
sv_request(POST => '/send', { phoneNumber => 'bad' });
my @lines;
# nginx writes the access log line once the answer is out
sv_wait_until(sub {
    open my $in, '<', server_root() . '/logs/auth.log' or die $!;
    @lines = <$in>;
    close $in;
    return grep { m{^/send } } @lines;
}, 2, 0.05);
ok((grep { m{^/members/x 401 "NOT_LOGGED_IN" ""$} } @lines), 'the guard\'s word');
ok((grep { m{^/login 401 "LOGIN_FAILED" ""$} } @lines), 'login\'s');
ok((grep { m{^/send 400 "INVALID_PHONE" ""$} } @lines), 'send\'s');
--- no_error_log
[error]
