# Accounts: login, logout, session; the lock of an account; hashes of other
# libraries and costs; a signup that logs in.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_terms 2 optional;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /login   { smsverify login; }
    location = /logout  { smsverify logout; }
    location = /session { smsverify session; }
    location = /status  { smsverify status; }
_EOC_

# session times, stretched under valgrind (a request takes far longer)
our $Scale = $ENV{TEST_NGINX_USE_VALGRIND} ? 4 : 1;
$ENV{TEST_NGINX_SESSION_TTL} = 4 * $Scale . 's';
$ENV{TEST_NGINX_SESSION_IDLE} = 2 * $Scale . 's';
sub SmsVerify::scale { $Scale }

sv_block_defaults(http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

# a member of this phone and email, with password Passw0rd!
sub SmsVerify::signed_up {
    my ($phone, $email, %more) = @_;
    my $token = sv_verify_phone($phone);
    my $res = sv_request(POST => '/signup',
                         sv_member(phoneNumber => $phone, email => $email,
                                   termsId => [1], verificationToken => $token,
                                   %more));
    die "signup: $res->{status} $res->{body}" if $res->{status} != 200;
    return $res;
}

sub SmsVerify::session_of {
    my $res = shift;
    my $value = sv_cookie($res, 'smsverify_session');
    return defined $value ? "smsverify_session=$value" : undef;
}

sub SmsVerify::login {
    my %body = @_;
    return sv_request(POST => '/login', \%body);
}

no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: login by email and by phone; the session; logout
--- request
GET /status
--- error_code: 200
--- flow
signed_up('010-7000-0001', 'Lee@Example.com', nickname => 'lee "the" one');
my $res = login(email => 'lee@EXAMPLE.com', password => 'Passw0rd!');
is $res->{status}, 200, 'logged in by email, compared folded';
is $res->{json}{status}, 'logged_in', 'logged_in';
is $res->{json}{memberId}, 1, 'member 1';
is $res->{json}{expiresIn}, 604800, 'for the default 7d';
like $res->{headers}{'set-cookie'},
     qr/^smsverify_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=604800; HttpOnly; SameSite=Lax$/m,
     'the session cookie';
like $res->{headers}{'content-type'}, qr{^application/json}, 'JSON';
is $res->{headers}{'cache-control'}, 'no-store', 'no-store';
my $cookie = session_of($res);

$res = sv_request(GET => '/session', undef, { Cookie => $cookie });
is $res->{status}, 200, 'the session is valid';
is_deeply $res->{json},
          { memberId => 1, email => 'Lee@Example.com',
            phoneNumber => '+821070000001', nickname => 'lee "the" one',
            terms => [1], createdAt => $res->{json}{createdAt},
            expiresIn => 86400 },
          'the member, as it signed up; it ends a day after this use (idle=1d)';
like $res->{json}{createdAt}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'createdAt';
ok !exists $res->{json}{passwordHash}, 'never the hash';

$res = sv_request(HEAD => '/session', undef, { Cookie => $cookie });
is $res->{status}, 200, 'HEAD';

$res = login(phoneNumber => '+82 10 7000 0001', password => 'Passw0rd!');
is $res->{status}, 200, 'logged in by phone, in any accepted form';
my $second = session_of($res);
isnt $second, $cookie, 'a session of its own';

$res = sv_request(POST => '/logout', 'anything', { Cookie => $cookie,
                                                    'Content-Type' => 'text/plain' });
is $res->{status}, 200, 'logged out, whatever the body and its type';
is_deeply $res->{json}, { status => 'logged_out' }, 'logged_out';
like $res->{headers}{'set-cookie'}, qr/^smsverify_session=; Path=\/; Max-Age=0;/,
     'the cookie cleared';

$res = sv_request(GET => '/session', undef, { Cookie => $cookie });
is $res->{status}, 401, 'that session is gone';
is $res->{json}{error}, 'NOT_LOGGED_IN', 'NOT_LOGGED_IN';
$res = sv_request(GET => '/session', undef, { Cookie => $second });
is $res->{status}, 200, 'the other session lives on';

$res = sv_request(POST => '/logout');
is $res->{status}, 200, 'logout without a session: the same answer';
$res = sv_request(GET => '/session');
is $res->{status}, 401, 'no cookie: NOT_LOGGED_IN';
$res = sv_request(GET => '/session', undef,
                  { Cookie => 'smsverify_session=' . ('A' x 43) });
is $res->{status}, 401, 'a made-up session: NOT_LOGGED_IN';
$res = sv_request(POST => '/session', {});
is $res->{status}, 405, 'session takes GET';
is $res->{headers}{allow}, 'GET, HEAD', 'Allow: GET, HEAD';

$res = sv_request(GET => '/status');
is $res->{json}{logins}, 2, 'two logins counted';
is $res->{json}{loginsFailed}, 0, 'no failure';
--- no_error_log
[error]
Passw0rd



=== TEST 2: a wrong password and an unknown account get the same answer
--- request
GET /status
--- error_code: 200
--- flow
signed_up('010-7000-0002', 'park@example.com');
my $wrong = login(email => 'park@example.com', password => 'Wrong000!');
my $unknown = login(email => 'nobody@example.com', password => 'Passw0rd!');
my $badform = login(email => 'not an email', password => 'Passw0rd!');
my $nophone = login(phoneNumber => '010-7000-9999', password => 'Passw0rd!');
for ([$wrong, 'a wrong password'], [$unknown, 'an unknown email'],
     [$badform, 'an email of no form'], [$nophone, 'a phone no member has']) {
    my ($res, $what) = @$_;
    is $res->{status}, 401, "$what: 401";
    is_deeply [sort keys %{ $res->{json} }], ['error', 'message'], "$what: the body";
    is $res->{json}{error}, 'LOGIN_FAILED', "$what: LOGIN_FAILED";
    is $res->{json}{message}, $wrong->{json}{message}, "$what: the same message";
    ok !defined $res->{headers}{'set-cookie'}, "$what: no cookie";
}
my $res = sv_request(GET => '/status');
is $res->{json}{loginsFailed}, 4, 'four failures counted';
is $res->{json}{logins}, 0, 'no login';

# bad input: the common errors, and nothing changes
$res = login(password => 'Passw0rd!');
is $res->{status}, 400, 'no account';
is $res->{json}{error}, 'MISSING_FIELD', 'MISSING_FIELD';
is $res->{json}{field}, 'phoneNumber', 'without an email, the phone is the account';
$res = login(email => 'park@example.com');
is $res->{json}{error}, 'MISSING_FIELD', 'no password';
is $res->{json}{field}, 'password', 'names it';
$res = login(email => 7, password => 'Passw0rd!');
is $res->{json}{error}, 'INVALID_FIELD', 'an email of the wrong type';
is $res->{json}{field}, 'email', 'names it';
$res = login(email => 'park@example.com', password => ['Passw0rd!']);
is $res->{json}{field}, 'password', 'a password of the wrong type';
$res = sv_request(POST => '/login', 'email=park', { 'Content-Type' => 'text/plain' });
is $res->{status}, 415, 'not JSON: 415';
$res = sv_request(GET => '/login');
is $res->{status}, 405, 'login takes POST';
$res = sv_request(GET => '/status');
is $res->{json}{loginsFailed}, 4, 'bad input counts no failure';
--- no_error_log
[error]
Passw0rd
Wrong000



=== TEST 3: an unknown account costs one bcrypt of the configured cost
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=13;
    smsverify_terms 1 required;
--- config
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /slow    { smsverify login; }
    location = /status  { smsverify status; }
--- request
GET /status
--- error_code: 200
--- flow
use Time::HiRes ();
my $timed = sub {
    my $t = Time::HiRes::time();
    my $res = sv_request(POST => '/slow', { @_ });
    return (Time::HiRes::time() - $t, $res);
};
signed_up('010-7000-0003', 'choi@example.com');
my ($known) = $timed->(email => 'choi@example.com', password => 'Wrong000!');
my ($unknown, $res) = $timed->(email => 'ghost@example.com', password => 'Wrong000!');
is $res->{json}{error}, 'LOGIN_FAILED', 'LOGIN_FAILED';
# cost 13 is a good part of a second here: both pay it, or neither
ok $known > 0.2, "a wrong password costs a cost-13 bcrypt (${known}s)";
ok $unknown > 0.2, "so does an unknown account (${unknown}s)";
ok $unknown > $known / 3 && $unknown < $known * 3,
   "within a factor of 3 of each other (${known}s, ${unknown}s)";
my ($bad) = $timed->(email => 'no form at all', password => 'Wrong000!');
ok $bad < 0.1, "an email no member can have costs none (${bad}s)";
--- timeout: 30
--- no_error_log
[error]



=== TEST 4: LOGIN_LOCKED after N failures within TIME, per account
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_login_limit 3 2s;
--- request
GET /status
--- error_code: 200
--- flow
signed_up('010-7000-0004', 'jung@example.com');
for my $i (1 .. 3) {
    my $res = login(email => 'jung@example.com', password => "Wrong00$i!");
    is $res->{status}, 401, "failure $i: LOGIN_FAILED";
}
my $res = login(email => 'jung@example.com', password => 'Passw0rd!');
is $res->{status}, 429, 'locked: even the right password';
is $res->{json}{error}, 'LOGIN_LOCKED', 'LOGIN_LOCKED';
like $res->{json}{retryAfter}, qr/^[12]$/, 'retryAfter: until the oldest leaves the window';
is $res->{headers}{'retry-after'}, $res->{json}{retryAfter}, 'Retry-After says the same';
ok !defined $res->{headers}{'set-cookie'}, 'no session';
$res = login(phoneNumber => '010-7000-0004', password => 'Passw0rd!');
is $res->{status}, 200, 'the phone is another account';
$res = login(email => 'JUNG@example.com', password => 'Passw0rd!');
is $res->{status}, 429, 'the same email in other case is the same account';

# an account no member has is counted and locked the same way
for my $i (1 .. 3) {
    login(email => 'ghost@example.com', password => 'Wrong000!');
}
$res = login(email => 'ghost@example.com', password => 'Wrong000!');
is $res->{json}{error}, 'LOGIN_LOCKED', 'an unknown account locks too';

sleep 2.2;
$res = login(email => 'jung@example.com', password => 'Passw0rd!');
is $res->{status}, 200, 'after the window, the right password logs in';
$res = login(email => 'jung@example.com', password => 'Wrong009!');
is $res->{status}, 401, 'a login forgets the failures: one more is a failure';
--- timeout: 20
--- no_error_log
[error]



=== TEST 5: the idle limit and the absolute TTL end a session
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_session_ttl $TEST_NGINX_SESSION_TTL idle=$TEST_NGINX_SESSION_IDLE;
--- request
GET /status
--- error_code: 200
--- flow
my $k = scale();
signed_up('010-7000-0005', 'kang@example.com');
my $res = login(email => 'kang@example.com', password => 'Passw0rd!');
is $res->{json}{expiresIn}, 4 * $k, 'expiresIn: the TTL';
like $res->{headers}{'set-cookie'}, qr/Max-Age=${\(4 * $k)};/, 'Max-Age: the TTL';
my $cookie = session_of($res);
$res = sv_request(GET => '/session', undef, { Cookie => $cookie });
ok $res->{json}{expiresIn} <= 2 * $k, 'used now, it idles out at its idle limit';
sleep 1.2 * $k;
$res = sv_request(GET => '/session', undef, { Cookie => $cookie });
is $res->{status}, 200, 'used within the idle limit';
sleep 1.2 * $k;
$res = sv_request(GET => '/session', undef, { Cookie => $cookie });
is $res->{status}, 200, 'a use keeps it from idling out';
sleep 1.8 * $k;
$res = sv_request(GET => '/session', undef, { Cookie => $cookie });
is $res->{status}, 401, 'gone at its TTL, though in use';

$res = login(email => 'kang@example.com', password => 'Passw0rd!');
$cookie = session_of($res);
sleep 2.3 * $k;
$res = sv_request(GET => '/session', undef, { Cookie => $cookie });
is $res->{status}, 401, 'unused for the idle limit: gone';
--- timeout: 60
--- no_error_log
[error]



=== TEST 6: signup logs in; smsverify_signup_login off does not
--- config
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /signup2 { smsverify signup; smsverify_signup_login off; }
    location = /session { smsverify session; }
--- request
GET /session
--- error_code: 401
--- flow
my $res = signed_up('010-7000-0006', 'yoon@example.com');
my $cookie = session_of($res);
ok $cookie, 'a signup sets the session cookie';
$res = sv_request(GET => '/session', undef, { Cookie => $cookie });
is $res->{status}, 200, 'a valid session';
is $res->{json}{email}, 'yoon@example.com', 'of the new member';

my $token = sv_verify_phone('010-7000-0007');
$res = sv_request(POST => '/signup2',
                  sv_member(phoneNumber => '010-7000-0007',
                            email => 'han@example.com', termsId => [1],
                            verificationToken => $token));
is $res->{status}, 200, 'created';
ok !session_of($res), 'off: no session cookie';
--- no_error_log
[error]



=== TEST 7: hashes of other bcrypt libraries and costs verify; another cost is replaced
--- config
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /login   { smsverify login; }
    location = /login5  { smsverify login; smsverify_password_hash bcrypt cost=5; }
--- request
GET /login
--- error_code: 405
--- flow
signed_up('010-7000-0008', 'seo@example.com');
my $hash_of = sub {
    my ($record) = sv_members_in_store();
    return JSON::PP->new->decode($record)->{password_hash}
        // JSON::PP->new->decode($record)->{passwordHash};
};
like $hash_of->(), qr/^\$2b\$04\$/, 'signed up with a cost-4 $2b$ hash';

my $res = sv_request(POST => '/login5', { email => 'seo@example.com',
                                          password => 'Passw0rd!' });
is $res->{status}, 200, 'a login where the cost is 5';
like $hash_of->(), qr/^\$2b\$05\$/, 'replaced the hash by one of cost 5';
$res = sv_request(POST => '/login5', { email => 'seo@example.com',
                                       password => 'Passw0rd!' });
is $res->{status}, 200, 'which verifies';

# as the seed's Python bcrypt and other libraries wrote them
for my $prefix ('2a', '2y', '2b') {
    my $hash = `/usr/bin/python3 -c 'import bcrypt,sys; h=bcrypt.hashpw(b"Other1pass", bcrypt.gensalt(rounds=4, prefix=b"2a" if "$prefix"=="2a" else b"2b")).decode(); print(h.replace("\$2b\$", "\$$prefix\$", 1))'`;
    chomp $hash;
    like $hash, qr/^\$$prefix\$04\$/, "a \$$prefix\$ hash made by Python";
    my ($key, $record) = @{ sv_store_dump('members')->[0] };
    $record =~ s/"\$2[aby]\$\d\d\$[^"]+"/"$hash"/ or die "no hash in $record";
    sv_store_put('members', $key, $record);
    $res = sv_request(POST => '/login', { email => 'seo@example.com',
                                          password => 'Other1pass' });
    is $res->{status}, 200, "the \$$prefix\$ hash verifies";
    like $hash_of->(), qr/^\$$prefix\$04\$/, 'of the configured cost: kept as it is';
}
--- no_error_log
[error]
