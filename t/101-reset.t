# Password reset by SMS: reset_send, confirm of a reset code, reset; the
# old sessions end; a signup token is no reset token and the other way.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
_EOC_

our $Config = <<'_EOC_';
    location = /send       { smsverify send; }
    location = /confirm    { smsverify confirm; }
    location = /signup     { smsverify signup; }
    location = /login      { smsverify login; }
    location = /session    { smsverify session; }
    location = /reset/send { smsverify reset_send; }
    location = /reset      { smsverify reset; }
    location = /status     { smsverify status; }
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
    return $res;
}

sub SmsVerify::session_of {
    my $value = sv_cookie(shift, 'smsverify_session');
    return defined $value ? "smsverify_session=$value" : undef;
}

sub SmsVerify::login {
    my ($email, $password) = @_;
    return sv_request(POST => '/login', { email => $email, password => $password });
}

no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: reset: the token of a reset code, a new password, every session ended
--- request
GET /status
--- error_code: 200
--- flow
my $signup = signed_up('010-8000-0001', 'reset@example.com');
my $old_session = session_of($signup);
my $res = login('reset@example.com', 'Passw0rd!');
my $login_session = session_of($res);

my $token = sv_verify_phone('010-8000-0001', '/reset/send', '/confirm');
ok $token, 'a reset code confirms, although a member has the phone';

$res = sv_request(POST => '/reset', { phoneNumber => '010-8000-0001',
                                      password => 'N3wPassword',
                                      verificationToken => $token });
is $res->{status}, 200, 'reset';
is_deeply $res->{json}, { status => 'password_changed', memberId => 1 },
          'password_changed, with the member';

for ([$old_session, 'the signup\'s session'], [$login_session, 'the login\'s']) {
    $res = sv_request(GET => '/session', undef, { Cookie => $_->[0] });
    is $res->{status}, 401, "$_->[1] ended";
}
is login('reset@example.com', 'Passw0rd!')->{status}, 401, 'the old password fails';
$res = login('reset@example.com', 'N3wPassword');
is $res->{status}, 200, 'the new one logs in';
is sv_request(GET => '/session', undef, { Cookie => session_of($res) })->{status},
   200, 'and its session is valid';

$res = sv_request(POST => '/reset', { phoneNumber => '010-8000-0001',
                                      password => 'An0therOne',
                                      verificationToken => $token });
is $res->{status}, 403, 'the token is used up';
is $res->{json}{error}, 'PHONE_NOT_VERIFIED', 'PHONE_NOT_VERIFIED';
is login('reset@example.com', 'N3wPassword')->{status}, 200,
   'and the password is still the new one';
is sv_request(GET => '/status')->{json}{resets}, 1, 'one reset counted';
--- no_error_log
[error]
N3wPassword



=== TEST 2: signup tokens and reset tokens are not interchangeable
--- request
GET /status
--- error_code: 200
--- flow
signed_up('010-8000-0002', 'two@example.com');

# a signup token (a phone no member has) is refused by reset
my $signup_token = sv_verify_phone('010-8000-0003');
my $res = sv_request(POST => '/reset', { phoneNumber => '010-8000-0003',
                                         password => 'N3wPassword',
                                         verificationToken => $signup_token });
is $res->{status}, 403, 'a signup token is no reset token';
is $res->{json}{error}, 'PHONE_NOT_VERIFIED', 'PHONE_NOT_VERIFIED';

# a reset token is refused by signup
my $reset_token = sv_verify_phone('010-8000-0002', '/reset/send', '/confirm');
$res = sv_request(POST => '/signup',
                  sv_member(phoneNumber => '010-8000-0002', email => 'x@example.com',
                            termsId => [1], verificationToken => $reset_token));
is $res->{status}, 403, 'a reset token is no signup token';
is $res->{json}{error}, 'PHONE_NOT_VERIFIED', 'PHONE_NOT_VERIFIED';

# nor for another phone
$res = sv_request(POST => '/reset', { phoneNumber => '010-8000-0009',
                                      password => 'N3wPassword',
                                      verificationToken => $reset_token });
is $res->{status}, 403, 'a reset token for another phone';

# the reset token still works for its phone (the refusals cost nothing)
$res = sv_request(POST => '/reset', { phoneNumber => '010-8000-0002',
                                      password => 'N3wPassword',
                                      verificationToken => $reset_token });
is $res->{status}, 200, 'and for its own phone it works';

# a send for signup to a member's phone is still PHONE_TAKEN
$res = sv_request(POST => '/send', { phoneNumber => '010-8000-0002' });
is $res->{status}, 409, 'send to a member: PHONE_TAKEN';
is $res->{json}{error}, 'PHONE_TAKEN', 'PHONE_TAKEN';
--- no_error_log
[error]



=== TEST 3: reset_send to a phone no member has: 404 NOT_A_MEMBER and no SMS
--- request
GET /status
--- error_code: 200
--- flow
my $res = sv_request(POST => '/reset/send', { phoneNumber => '010-8000-0004' });
is $res->{status}, 404, 'not a member: 404';
is $res->{json}{error}, 'NOT_A_MEMBER', 'NOT_A_MEMBER';
ok !defined sv_code_for('0004'), 'no SMS went out';
is sv_request(GET => '/status')->{json}{sent}, 0, 'nothing sent';

signed_up('010-8000-0005', 'five@example.com');
$res = sv_request(POST => '/reset/send', { phoneNumber => '010-8000-0005' });
is $res->{status}, 200, 'to a member: sent';
is $res->{json}{status}, 'sent', 'sent';
is $res->{json}{phoneNumber}, '+821080000005', 'the phone';
$res = sv_request(POST => '/reset/send', { phoneNumber => 'nope' });
is $res->{json}{error}, 'INVALID_PHONE', 'bad phones as for send';
--- no_error_log
[error]



=== TEST 4: the token from the cookie; the password rules; bad input changes nothing
--- request
GET /status
--- error_code: 200
--- flow
signed_up('010-8000-0006', 'six@example.com');
my $token = sv_verify_phone('010-8000-0006', '/reset/send', '/confirm');
my $cookie = 'smsverify_token=' . $token;

my $res = sv_request(POST => '/reset', { phoneNumber => '010-8000-0006',
                                         password => 'short1' },
                     { Cookie => $cookie });
is $res->{status}, 400, 'a password against the rules';
is $res->{json}{error}, 'INVALID_PASSWORD', 'INVALID_PASSWORD';
$res = sv_request(POST => '/reset', { phoneNumber => '010-8000-0006' },
                  { Cookie => $cookie });
is $res->{json}{error}, 'MISSING_FIELD', 'no password';
is $res->{json}{field}, 'password', 'names it';
$res = sv_request(POST => '/reset', { password => 'N3wPassword' },
                  { Cookie => $cookie });
is $res->{json}{field}, 'phoneNumber', 'no phone';
$res = sv_request(POST => '/reset', { phoneNumber => '010-8000-0006',
                                      password => 'N3wPassword' });
is $res->{status}, 403, 'no token at all';
$res = sv_request(POST => '/reset', { phoneNumber => '010-8000-0006',
                                      password => 'N3wPassword',
                                      verificationToken => '' },
                  { Cookie => $cookie });
is $res->{status}, 403, 'an empty token in the body is no token, cookie or not';
is $res->{json}{error}, 'PHONE_NOT_VERIFIED', 'PHONE_NOT_VERIFIED';
is login('six@example.com', 'Passw0rd!')->{status}, 200,
   'none of these changed the password';

$res = sv_request(POST => '/reset', { phoneNumber => '010-8000-0006',
                                      password => 'N3wPassword' },
                  { Cookie => $cookie });
is $res->{status}, 200, 'the token from the cookie';
like $res->{headers}{'set-cookie'}, qr/^smsverify_token=; Path=\/; Max-Age=0/,
     'the token cookie cleared';
is login('six@example.com', 'N3wPassword')->{status}, 200, 'the new password';
--- no_error_log
[error]
