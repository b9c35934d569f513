# POST signup: validation, the token, one transaction per member.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_terms 2 required;
    smsverify_terms 3 optional;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /status  { smsverify status; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: the whole flow with the token in the body
--- request
GET /status
--- error_code: 200
--- flow
my $token = sv_verify_phone('010-1234-5678');
my $res = sv_request(POST => '/signup',
    sv_member(verificationToken => $token, phoneNumber => '+82 10 1234 5678'));
is $res->{status}, 200, 'created' or diag $res->{body};
is_deeply $res->{json}, { status => 'created', memberId => 1 }, 'the answer';
is $res->{headers}{'cache-control'}, 'no-store', 'no-store';
my @m = sv_members_in_store();
is scalar @m, 1, 'one member in LMDB';
like $m[0], qr/"email":"kim\@example.com"/, 'email stored';
like $m[0], qr/"phone":"\+821012345678"/, 'E.164 phone stored';
like $m[0], qr/"passwordHash":"\$2b\$04\$[.\/A-Za-z0-9]{53}"/, 'a bcrypt hash';
like $m[0], qr/"terms":\[1,2\]/, 'the terms agreed to';
unlike $m[0], qr/Passw0rd/, 'no plaintext password';



=== TEST 2: Python's bcrypt verifies the stored hash (cost 12 by default)
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
--- request
GET /status
--- error_code: 200
--- timeout: 20
--- flow
my $token = sv_verify_phone('010-1234-5678');
my $res = sv_request(POST => '/signup',
    sv_member(verificationToken => $token, termsId => []));
is $res->{status}, 200, 'created' or diag $res->{body};
my ($m) = sv_members_in_store();
my ($hash) = $m =~ /"passwordHash":"([^"]+)"/;
like $hash, qr/^\$2b\$12\$/, 'cost 12';
my $ok = `/usr/bin/python3 -c 'import bcrypt,sys; print(bcrypt.checkpw(b"Passw0rd!", sys.argv[1].encode()))' '$hash'`;
is $ok, "True\n", 'python bcrypt checks the password';
$ok = `/usr/bin/python3 -c 'import bcrypt,sys; print(bcrypt.checkpw(b"Passw0rd?", sys.argv[1].encode()))' '$hash'`;
is $ok, "False\n", 'and refuses another';



=== TEST 3: the token from the cookie, as the seed's frontend would send
--- request
GET /status
--- error_code: 200
--- flow
my $token = sv_verify_phone('010-1234-5678');
my $cookie = sv_cookie($SmsVerify::LastConfirm, 'smsverify_token');
is $cookie, $token, 'the cookie is the token';
my $res = sv_request(POST => '/signup', sv_member(),
                     { Cookie => "other=1; smsverify_token=$cookie" });
is $res->{status}, 200, 'created from the cookie' or diag $res->{body};
like $res->{headers}{'set-cookie'}, qr/^smsverify_token=; .*Max-Age=0/,
     'the used cookie is cleared';



=== TEST 4: no token is PHONE_NOT_VERIFIED
--- request
POST /signup
{"email":"kim@example.com","password":"Passw0rd!","nickname":"kim","phoneNumber":"010-1234-5678","termsId":[1,2]}
--- error_code: 403
--- response_body_like: ^\{"error":"PHONE_NOT_VERIFIED","message":"[^"]+"\}$



=== TEST 5: an unknown or malformed token is PHONE_NOT_VERIFIED
--- request eval
["POST /signup\n{\"email\":\"kim\@example.com\",\"password\":\"Passw0rd!\",\"nickname\":\"kim\",\"phoneNumber\":\"010-1234-5678\",\"termsId\":[1,2],\"verificationToken\":\"" . ("A" x 43) . "\"}",
 "POST /signup\n{\"email\":\"kim\@example.com\",\"password\":\"Passw0rd!\",\"nickname\":\"kim\",\"phoneNumber\":\"010-1234-5678\",\"termsId\":[1,2],\"verificationToken\":\"short\"}",
 "POST /signup\n{\"email\":\"kim\@example.com\",\"password\":\"Passw0rd!\",\"nickname\":\"kim\",\"phoneNumber\":\"010-1234-5678\",\"termsId\":[1,2],\"verificationToken\":\"\"}"]
--- error_code eval
[403, 403, 403]
--- response_body_like eval
[('"error":"PHONE_NOT_VERIFIED"') x 3]



=== TEST 6: a token is bound to its phone and used up by a signup
--- request
GET /status
--- error_code: 200
--- flow
my $token = sv_verify_phone('010-1111-1111');
my $res = sv_request(POST => '/signup',
    sv_member(phoneNumber => '010-2222-2222', verificationToken => $token));
is $res->{status}, 403, 'another phone';
is $res->{json}{error}, 'PHONE_NOT_VERIFIED', 'PHONE_NOT_VERIFIED';
$res = sv_request(POST => '/signup',
    sv_member(phoneNumber => '010-1111-1111', verificationToken => $token));
is $res->{status}, 200, 'its own phone' or diag $res->{body};
$res = sv_request(POST => '/signup',
    sv_member(phoneNumber => '010-1111-1111', email => 'other@example.com',
           verificationToken => $token));
is $res->{status}, 403, 'the token is used up';



=== TEST 7: an expired token is PHONE_NOT_VERIFIED
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=4;
    smsverify_token_ttl 1s;
--- request
GET /status
--- error_code: 200
--- flow
my $token = sv_verify_phone('010-1234-5678');
sleep 1.2;
my $res = sv_request(POST => '/signup', sv_member(verificationToken => $token, termsId => []));
is $res->{status}, 403, 'expired' or diag $res->{body};
is $res->{json}{error}, 'PHONE_NOT_VERIFIED', 'PHONE_NOT_VERIFIED';



=== TEST 8: the same email in another case is EMAIL_TAKEN
--- request
GET /status
--- error_code: 200
--- flow
my $res = sv_request(POST => '/signup',
    sv_member(verificationToken => sv_verify_phone('010-1111-1111'),
           phoneNumber => '010-1111-1111', email => 'Kim@Example.com'));
is $res->{status}, 200, 'first member';
my $token = sv_verify_phone('010-2222-2222');
$res = sv_request(POST => '/signup',
    sv_member(verificationToken => $token, phoneNumber => '010-2222-2222',
           email => 'KIM@EXAMPLE.COM'));
is $res->{status}, 409, 'taken';
is $res->{json}{error}, 'EMAIL_TAKEN', 'EMAIL_TAKEN';
$res = sv_request(POST => '/signup',
    sv_member(verificationToken => $token, phoneNumber => '010-2222-2222',
           email => 'lee@example.com'));
is $res->{status}, 200, 'the refused signup left the token usable';
is $res->{json}{memberId}, 2, 'member 2';



=== TEST 9: a member's phone is PHONE_TAKEN for send, confirm and signup
--- request
GET /status
--- error_code: 200
--- flow
my $res = sv_request(POST => '/signup',
    sv_member(verificationToken => sv_verify_phone('010-1234-5678')));
is $res->{status}, 200, 'member';
$res = sv_request(POST => '/send', { phoneNumber => '+821012345678' });
is $res->{status}, 409, 'send';
is $res->{json}{error}, 'PHONE_TAKEN', 'PHONE_TAKEN on send';
$res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => '123456' });
is $res->{status}, 409, 'confirm';
is $res->{json}{error}, 'PHONE_TAKEN', 'PHONE_TAKEN on confirm';



=== TEST 10: two signups racing for one phone: exactly one wins
--- request
GET /status
--- error_code: 200
--- flow
my @tokens;
# two tokens for one phone: confirm, send again, confirm again
push @tokens, sv_verify_phone('010-1234-5678');
push @tokens, sv_verify_phone('010-1234-5678');
my @pids;
for my $i (0, 1) {
    push @pids, sv_fork(sub {
        my $res = sv_request(POST => '/signup',
            sv_member(verificationToken => $tokens[$i],
                   email => "racer$i\@example.com"));
        return $res->{status} == 200 ? 0 : $res->{status} == 409 ? 9 : 1;
    });
}
my @rc = map { waitpid($_, 0); $? >> 8 } @pids;
is_deeply [sort @rc], [0, 9], 'one 200, one 409 PHONE_TAKEN';
is scalar(sv_members_in_store()), 1, 'one member';



=== TEST 12: field errors name the field and create nothing
--- request eval
[map { "POST /signup\n$_" }
 '{"password":"Passw0rd!","nickname":"kim","phoneNumber":"010-1234-5678","termsId":[1,2]}',
 '{"email":"kim@example.com","nickname":"kim","phoneNumber":"010-1234-5678","termsId":[1,2]}',
 '{"email":"kim@example.com","password":"Passw0rd!","phoneNumber":"010-1234-5678","termsId":[1,2]}',
 '{"email":"kim@example.com","password":"Passw0rd!","nickname":"kim","termsId":[1,2]}',
 '{"email":"kim@example.com","password":"Passw0rd!","nickname":"kim","phoneNumber":"010-1234-5678"}',
 '{"email":1,"password":"Passw0rd!","nickname":"kim","phoneNumber":"010-1234-5678","termsId":[1,2]}',
 '{"email":"kim@example.com","password":12345678,"nickname":"kim","phoneNumber":"010-1234-5678","termsId":[1,2]}',
 '{"email":"kim@example.com","password":"Passw0rd!","nickname":{},"phoneNumber":"010-1234-5678","termsId":[1,2]}',
 '{"email":"kim@example.com","password":"Passw0rd!","nickname":"kim","phoneNumber":"010-1234-5678","termsId":"1,2"}',
 '{"email":"kim@example.com","password":"Passw0rd!","nickname":"kim","phoneNumber":"010-1234-5678","termsId":[1,"2"]}',
 '{"email":"kim@example.com","password":"Passw0rd!","nickname":"kim","phoneNumber":"010-1234-5678","termsId":[1,2.5]}',
 '{"email":"kim@example.com","password":"Passw0rd!","nickname":"kim","phoneNumber":"010-1234-5678","termsId":[1,2],"verificationToken":7}']
--- error_code eval
[(400) x 12]
--- response_body_like eval
['"error":"MISSING_FIELD".*"field":"email"',
 '"error":"MISSING_FIELD".*"field":"password"',
 '"error":"MISSING_FIELD".*"field":"nickname"',
 '"error":"MISSING_FIELD".*"field":"phoneNumber"',
 '"error":"MISSING_FIELD".*"field":"termsId"',
 '"error":"INVALID_FIELD".*"field":"email"',
 '"error":"INVALID_FIELD".*"field":"password"',
 '"error":"INVALID_FIELD".*"field":"nickname"',
 '"error":"INVALID_FIELD".*"field":"termsId"',
 '"error":"INVALID_FIELD".*"field":"termsId"',
 '"error":"INVALID_FIELD".*"field":"termsId"',
 '"error":"INVALID_FIELD".*"field":"verificationToken"']



=== TEST 13: bad values are INVALID_EMAIL, INVALID_PASSWORD, INVALID_NICKNAME
--- request eval
[map { my ($f, $v) = @$_;
       my %m = (email => '"kim@example.com"', password => '"Passw0rd!"',
                nickname => '"kim"');
       $m{$f} = $v;
       "POST /signup\n{\"email\":$m{email},\"password\":$m{password},\"nickname\":$m{nickname},\"phoneNumber\":\"010-1234-5678\",\"termsId\":[1,2]}" }
 [email => '""'], [email => '"kim"'], [email => '"kim@example"'],
 [email => '"kim @example.com"'], [email => '"kim@@example.com"'],
 [password => '""'], [password => '"Pass0rd"'], [password => '"password!"'],
 [password => '"12345678"'], [password => '"' . ('a1' x 33) . '"'],
 [password => '"Passw0rd\u00e9"'], [password => '"Passw0rd\t"'],
 [nickname => '""'], [nickname => '"' . ('가' x 21) . '"'],
 [nickname => '"kim\u0007"'], [nickname => '"kim\n"']]
--- error_code eval
[(400) x 16]
--- response_body_like eval
[('"error":"INVALID_EMAIL"') x 5, ('"error":"INVALID_PASSWORD"') x 7,
 ('"error":"INVALID_NICKNAME"') x 4]



=== TEST 14: boundaries that pass: 64-character password, 20-character nickname
--- request
GET /status
--- error_code: 200
--- flow
my $res = sv_request(POST => '/signup',
    sv_member(verificationToken => sv_verify_phone('010-1234-5678'),
           password => 'a1' x 32, nickname => "\x{AC00}" x 20,
           email => "o'brien+shop\@mail.example.co.kr"));
is $res->{status}, 200, 'created' or diag $res->{body};



=== TEST 15: terms: a required one missing, an unknown one
--- request eval
["POST /signup\n{\"email\":\"kim\@example.com\",\"password\":\"Passw0rd!\",\"nickname\":\"kim\",\"phoneNumber\":\"010-1234-5678\",\"termsId\":[1,3]}",
 "POST /signup\n{\"email\":\"kim\@example.com\",\"password\":\"Passw0rd!\",\"nickname\":\"kim\",\"phoneNumber\":\"010-1234-5678\",\"termsId\":[]}",
 "POST /signup\n{\"email\":\"kim\@example.com\",\"password\":\"Passw0rd!\",\"nickname\":\"kim\",\"phoneNumber\":\"010-1234-5678\",\"termsId\":[1,2,9,9,-4]}"]
--- error_code eval
[400, 400, 400]
--- response_body_like eval
['^\{"error":"TERMS_REQUIRED","message":"[^"]+","missing":\[2\]\}$',
 '^\{"error":"TERMS_REQUIRED","message":"[^"]+","missing":\[1,2\]\}$',
 '^\{"error":"UNKNOWN_TERMS","message":"[^"]+","unknown":\[9,-4\]\}$']



=== TEST 16: smsverify_password_length
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_length 10 12;
--- request eval
["POST /signup\n{\"email\":\"kim\@example.com\",\"password\":\"Passw0rd!\",\"nickname\":\"kim\",\"phoneNumber\":\"010-1234-5678\",\"termsId\":[]}",
 "POST /signup\n{\"email\":\"kim\@example.com\",\"password\":\"Passw0rd!123\",\"nickname\":\"kim\",\"phoneNumber\":\"010-1234-5678\",\"termsId\":[]}",
 "POST /signup\n{\"email\":\"kim\@example.com\",\"password\":\"Passw0rd!1234\",\"nickname\":\"kim\",\"phoneNumber\":\"010-1234-5678\",\"termsId\":[]}"]
--- error_code eval
[400, 403, 400]
--- response_body_like eval
['"error":"INVALID_PASSWORD"', '"error":"PHONE_NOT_VERIFIED"',
 '"error":"INVALID_PASSWORD"']



=== TEST 17: a failed signup leaves nothing behind
--- request
GET /status
--- error_code: 200
--- flow
my $token = sv_verify_phone('010-1234-5678');
for my $bad (sv_member(email => 'bad'), sv_member(password => 'short1'),
             sv_member(termsId => [1]), sv_member(nickname => ''))
{
    my $res = sv_request(POST => '/signup', { %$bad, verificationToken => $token });
    is $res->{status}, 400, "refused: $res->{json}{error}";
}
is scalar(sv_members_in_store()), 0, 'no member';
my $res = sv_request(POST => '/signup', sv_member(verificationToken => $token));
is $res->{status}, 200, 'the token still works after refusals';



=== TEST 18: a replayed token with a taken email: refused before the hash, used up after 3
Each 409 answers in far less time than one cost-14 hash takes, and the
third uses the token up (API.md section 7).
--- config
    location = /send     { smsverify send; }
    location = /confirm  { smsverify confirm; }
    location = /signup   { smsverify signup; }
    location = /signup14 { smsverify signup;
                           smsverify_password_hash bcrypt cost=14; }
    location = /status   { smsverify status; }
--- request
GET /status
--- error_code: 200
--- timeout: 60
--- flow
use Time::HiRes ();
my $res = sv_request(POST => '/signup',
    sv_member(verificationToken => sv_verify_phone('010-1111-1111'),
              phoneNumber => '010-1111-1111'));
is $res->{status}, 200, 'a member with kim@example.com';

# what one hash at cost 14 takes, signup and all
my $token = sv_verify_phone('010-3333-3333');
my $t0 = Time::HiRes::time();
$res = sv_request(POST => '/signup14',
    sv_member(verificationToken => $token, phoneNumber => '010-3333-3333',
              email => 'lee@example.com'));
my $hash = Time::HiRes::time() - $t0;
is $res->{status}, 200, sprintf('a signup at cost 14 took %.3fs', $hash);

$token = sv_verify_phone('010-2222-2222');
for my $i (1 .. 3) {
    my $t = Time::HiRes::time();
    $res = sv_request(POST => '/signup14',
        sv_member(verificationToken => $token, phoneNumber => '010-2222-2222',
                  email => 'KIM@example.com'));
    my $took = Time::HiRes::time() - $t;
    is $res->{status}, 409, "replay $i: 409";
    is $res->{json}{error}, 'EMAIL_TAKEN', "replay $i: EMAIL_TAKEN";
    ok $took < $hash / 5,
       sprintf('replay %d took %.3fs: no hash (one takes %.3fs)', $i, $took,
               $hash);
}
$res = sv_request(POST => '/signup14',
    sv_member(verificationToken => $token, phoneNumber => '010-2222-2222',
              email => 'park@example.com'));
is $res->{status}, 403, 'after 3 taken answers the token is used up';
is $res->{json}{error}, 'PHONE_NOT_VERIFIED', 'PHONE_NOT_VERIFIED';
is scalar(sv_members_in_store()), 2, 'two members';



=== TEST 19: the password does not stay in the body's buffers or its temp file
$request_body, logged after the answer, reads the wiped buffer; a body
kept in a file (client_body_in_file_only on keeps it) is zeroes.
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    log_format body '[$request_body]';
--- config
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; access_log logs/body.log body; }
    location = /signup_file {
        smsverify signup;
        client_body_in_file_only on;
        client_body_temp_path body_temp;
    }
    location = /status  { smsverify status; }
--- request
GET /status
--- error_code: 200
--- flow
my $res = sv_request(POST => '/signup',
    sv_member(verificationToken => sv_verify_phone('010-1111-1111'),
              phoneNumber => '010-1111-1111', termsId => [1],
              password => 'Secr3tPassA'));
is $res->{status}, 200, 'a signup, its body in memory';
$res = sv_request(POST => '/signup',
    sv_member(email => 'bad', password => 'Secr3tPassB'));
is $res->{status}, 400, 'a refused one';
$res = sv_request(POST => '/signup_file',
    sv_member(verificationToken => sv_verify_phone('010-2222-2222'),
              phoneNumber => '010-2222-2222', termsId => [1],
              email => 'lee@example.com', password => 'Secr3tPassC'));
is $res->{status}, 200, 'a signup, its body in a file';

my $log = do { local $/; open my $in, '<', server_root() . '/logs/body.log'
                             or die "body.log: $!"; <$in> };
my @lines = split /\n/, $log;
is scalar(@lines), 2, 'two bodies logged';
unlike $log, qr/Secr3tPass|example\.com/, 'no password, nothing of the body';
like $_, qr/^\[(?:\\x00)+\]$/, 'zeroes in its place' for @lines;

my @files = grep { -f } glob(server_root() . '/body_temp/*');
is scalar(@files), 1, 'one body file kept';
my $bytes = do { local $/; open my $in, '<', $files[0] or die; <$in> };
ok length($bytes) > 50, 'of the body\'s length (' . length($bytes) . ')';
is $bytes =~ tr/\0//c, 0, 'all of it zeroes';



=== TEST 20: threads that hashed are back at their priority
A hash runs in a thread of its own at nice 10; the pool threads, which
take the store's write lock, stay at 0.
--- request
GET /status
--- error_code: 200
--- flow
for my $i (1 .. 6) {
    my $phone = sprintf '010-1111-%04d', $i;
    my $res = sv_request(POST => '/signup',
        sv_member(verificationToken => sv_verify_phone($phone),
                  phoneNumber => $phone, email => "m$i\@example.com"));
    is $res->{status}, 200, "signup $i";
}
my @pids = grep { $_ } (sv_master_pid(), sv_worker_pids());
my %nice;
for my $pid (@pids) {
    for my $stat (glob "/proc/$pid/task/*/stat") {
        open my $in, '<', $stat or next;
        my $line = <$in>;
        my @f = split ' ', substr($line, rindex($line, ')') + 2);
        $nice{$f[16]}++;       # field 19 of stat
    }
}
ok scalar(keys %nice) > 0, 'threads seen';
is_deeply [keys %nice], [0], 'every thread at nice 0'
    or diag explain \%nice;
