# smsverify admin: members by page, email, phone and id; deletion; a
# phone's limits cleared; export streamed as NDJSON and import, all or
# none, from one store into another.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

# a second server of the same nginx, with a tiny send buffer: the export's
# backpressure is seen there
$ENV{TEST_NGINX_ADMIN_SLOW_PORT} //= ($ENV{TEST_NGINX_SERVER_PORT} // 1984) + 1;

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=64m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_send_limit 2 1h;
    smsverify_countries 82 1;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_terms 2 optional;

    server {
        listen 127.0.0.1:$TEST_NGINX_ADMIN_SLOW_PORT sndbuf=4k;
        location /admin/ {
            smsverify admin;
            allow 127.0.0.1;
            deny all;
        }
    }
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /login   { smsverify login; }
    location = /session { smsverify session; }
    location /admin/ {
        smsverify admin;
        client_max_body_size 16m;
        allow 127.0.0.1;
        deny all;
    }
    location /denied/ {
        smsverify admin;
        deny all;
    }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

no_shuffle();
sv_flow_blocks();
run_tests();


package SmsVerify;

use Encode ();
use Test::More;

our ($Exported, $Hash);

# a member signed up through send, confirm and signup: its answer
sub admin_signup {
    my ($email, $phone, %more) = @_;
    my $token = sv_verify_phone($phone);
    my $res = sv_request(POST => '/signup',
        sv_member(email => $email, phoneNumber => $phone,
                  verificationToken => $token, termsId => [1], %more));
    die "signup: $res->{status} $res->{body}" if $res->{status} != 200;
    return $res;
}

# the answer is a JSON error of this word and status, with these extras
sub admin_error {
    my ($res, $status, $word, $extra, $what) = @_;
    is $res->{status}, $status, "$what: $status" or diag $res->{body};
    my $j = $res->{json} // {};
    is $j->{error}, $word, "$what: $word";
    like $j->{message} // '', qr/\S/, "$what: a message";
    is $res->{headers}{'content-type'}, 'application/json',
       "$what: JSON";
    my %want = (error => 1, message => 1, map { $_ => 1 } keys %$extra);
    is_deeply [sort keys %$j], [sort keys %want], "$what: its keys";
    for my $k (keys %$extra) {
        is $j->{$k}, $extra->{$k}, "$what: $k $extra->{$k}";
    }
}

# NDJSON lines, each decoded
sub admin_lines {
    my $body = shift;
    return map { JSON::PP->new->utf8->decode($_) } grep { length } split /\n/, $body;
}

sub admin_ndjson {
    my ($body, $headers) = @_;
    return sv_request(POST => '/admin/import', $body,
        { 'Content-Type' => 'application/x-ndjson', %{ $headers || {} } });
}

sub admin_hash {
    $Hash //= `/usr/bin/python3 -c 'import bcrypt; print(bcrypt.hashpw(b"Passw0rd!", bcrypt.gensalt(4)).decode())'`;
    chomp $Hash;
    return $Hash;
}

# an import line of member $i
sub admin_line {
    my ($i, %more) = @_;
    my %m = (memberId => $i, email => "m$i\@example.com",
             phoneNumber => sprintf('+8210%08d', 20000000 + $i),
             nickname => "m$i", terms => [1],
             createdAt => '2026-11-30T10:00:00Z',
             passwordHash => admin_hash(), %more);
    delete $m{$_} for grep { !defined $m{$_} } keys %m;
    return JSON::PP->new->canonical->encode(\%m);
}

sub admin_members_count {
    my $res = sv_request(GET => '/admin/members?limit=1000');
    return scalar @{ $res->{json}{members} };
}

# the worker's own memory: not the LMDB map's pages it reads (RssFile)
sub admin_rss_kb {
    my $pid = shift;
    open my $in, '<', "/proc/$pid/status" or return undef;
    while (<$in>) { return $1 if /^RssAnon:\s+(\d+)/ }
    return undef;
}

# how many exports the access log has: they are logged as they end
sub admin_exports_logged {
    open my $in, '<', server_root() . '/logs/access.log' or return -1;
    return scalar grep { m{"GET /admin/export\?hashes=1 HTTP/1\.1" 200 } } <$in>;
}

package main;

__DATA__

=== TEST 1: an empty store: no members, next is null
--- request
GET /admin/members
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body: {"members":[],"next":null}



=== TEST 2: pages by memberId, lookups by email and phone, one member
--- request
GET /admin/members
--- error_code: 200
--- flow
admin_signup('kim@example.com', '010-1111-0001');
admin_signup('Lee@Example.com', '010-1111-0002', termsId => [1, 2]);
admin_signup('park@example.com', '+14155550123', nickname => "a\"b\\c");

my $res = sv_request(GET => '/admin/members');
is $res->{status}, 200, 'the page';
is $res->{headers}{'cache-control'}, 'no-store', 'no-store';
my @m = @{ $res->{json}{members} };
is_deeply [map { $_->{memberId} } @m], [1, 2, 3], 'by memberId';
is $res->{json}{next}, undef, 'no next: the last page';
ok exists $res->{json}{next}, 'next is there, null';
is_deeply [sort keys %{ $m[0] }],
          [qw(createdAt email memberId nickname phoneNumber terms)],
          'MEMBER: no hash';
is $m[1]{email}, 'Lee@Example.com', 'the email as given';
is $m[1]{phoneNumber}, '+821011110002', 'E.164';
is_deeply $m[1]{terms}, [1, 2], 'the terms';
like $m[1]{createdAt}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'createdAt';
is $m[2]{nickname}, "a\"b\\c", 'escapes come back';
unlike $res->{body}, qr/\$2b\$/, 'no hash in the body';

$res = sv_request(GET => '/admin/members?limit=2');
is_deeply [map { $_->{memberId} } @{ $res->{json}{members} }], [1, 2],
          'limit=2';
is $res->{json}{next}, 2, 'next is the last id';
$res = sv_request(GET => '/admin/members?limit=2&after=2');
is_deeply [map { $_->{memberId} } @{ $res->{json}{members} }], [3],
          'after=2';
is $res->{json}{next}, undef, 'then null';
$res = sv_request(GET => '/admin/members?after=3');
is_deeply $res->{json}, { members => [], next => undef }, 'after the last';
$res = sv_request(GET => '/admin/members?limit=1000&after=0');
is scalar @{ $res->{json}{members} }, 3, 'limit=1000';
$res = sv_request(GET => '/admin/members?limit=3');
is $res->{json}{next}, undef, 'a page that ends at the last: null';

for my $q ('email=LEE@example.COM', 'email=lee%40example.com',
           'phoneNumber=010-1111-0002', 'phoneNumber=%2B821011110002',
           'phoneNumber=+821011110002', 'phoneNumber=+82%2010%201111%200002')
{
    $res = sv_request(GET => "/admin/members?$q");
    is $res->{status}, 200, "$q: 200";
    is_deeply [map { $_->{memberId} } @{ $res->{json}{members} }], [2],
              "$q: member 2";
    is_deeply [keys %{ $res->{json} }], ['members'], "$q: no next";
}
$res = sv_request(GET => '/admin/members?email=nobody@example.com');
is $res->{body}, '{"members":[]}', 'an email nobody has';
$res = sv_request(GET => '/admin/members?phoneNumber=010-9999-9999');
is $res->{body}, '{"members":[]}', 'a phone nobody has';

$res = sv_request(GET => '/admin/members/3');
is $res->{status}, 200, 'members/3';
is $res->{json}{phoneNumber}, '+14155550123', 'its phone';
is_deeply [sort keys %{ $res->{json} }],
          [qw(createdAt email memberId nickname phoneNumber terms)],
          'MEMBER';
$res = sv_request(HEAD => '/admin/members/3');
is $res->{status}, 200, 'HEAD';
admin_error(sv_request(GET => '/admin/members/4'), 404, 'NO_SUCH_MEMBER',
            {}, 'members/4');
admin_error(sv_request(GET => '/admin/members/9007199254740991'), 404,
            'NO_SUCH_MEMBER', {}, 'the highest id');



=== TEST 3: bad ids and query values: 400 with the field, nothing changed
--- request
GET /admin/members
--- error_code: 200
--- flow
admin_signup('kim@example.com', '010-1111-0001');
my @bad = (
    ['members?limit=0', 'limit'], ['members?limit=abc', 'limit'],
    ['members?limit=1001', 'limit'], ['members?limit=', 'limit'],
    ['members?limit=-1', 'limit'], ['members?limit=1e3', 'limit'],
    ['members?limit=99999999999999999999999', 'limit'],
    ['members?limit=%31%00', 'limit'],
    ['members?after=x', 'after'], ['members?after=-1', 'after'],
    ['members?after=', 'after'], ['members?after=9007199254740992', 'after'],
    ['members?after=18446744073709551616', 'after'],
    ['members/abc', 'memberId'], ['members/0', 'memberId'],
    ['members/1x', 'memberId'], ['members/-1', 'memberId'],
    ['members/9007199254740992', 'memberId'],
    ['members/' . ('9' x 30), 'memberId'], ['members/%201', 'memberId'],
    ['export?hashes=2', 'hashes'], ['export?hashes=', 'hashes'],
    ['export?hashes=yes', 'hashes'],
);
for my $b (@bad) {
    admin_error(sv_request(GET => "/admin/$b->[0]"), 400, 'INVALID_FIELD',
                { field => $b->[1] }, $b->[0]);
}
admin_error(sv_request(GET => '/admin/members?email=not-an-email'), 400,
            'INVALID_EMAIL', { field => 'email' }, 'a bad email');
admin_error(sv_request(GET => '/admin/members?email='), 400,
            'INVALID_EMAIL', { field => 'email' }, 'an empty email');
admin_error(sv_request(GET => '/admin/members?email=kim%00@example.com'),
            400, 'INVALID_EMAIL', { field => 'email' }, 'a NUL in the email');
admin_error(sv_request(GET => '/admin/members?email=' . ('a' x 300) . '@example.com'),
            400, 'INVALID_EMAIL', { field => 'email' }, 'a long email');
admin_error(sv_request(GET => '/admin/members?phoneNumber=123'), 400,
            'INVALID_PHONE', { field => 'phoneNumber' }, 'a bad phone');
admin_error(sv_request(GET => '/admin/members?phoneNumber=02-123-4567'), 400,
            'INVALID_PHONE', { field => 'phoneNumber' }, 'a landline');
admin_error(sv_request(DELETE => '/admin/members/abc'), 400,
            'INVALID_FIELD', { field => 'memberId' }, 'DELETE members/abc');
admin_error(sv_request(DELETE => '/admin/limits/12'), 400,
            'INVALID_PHONE', {}, 'DELETE limits/12');
my $res = sv_request(GET => '/admin/members');
is scalar @{ $res->{json}{members} }, 1, 'the member is still there';
is sv_request(GET => '/admin/members/1')->{status}, 200, 'as it was';



=== TEST 4: other paths are NOT_FOUND, other methods 405 with Allow
--- request
GET /admin/members
--- error_code: 200
--- flow
for my $p ('', 'member', 'members/', 'members/1/x', 'members/1/',
           'exports', 'export/1', 'import/x', 'limits', 'limits/',
           'MEMBERS', 'status', 'export%3F')
{
    admin_error(sv_request(GET => "/admin/$p"), 404, 'NOT_FOUND', {},
                "GET /admin/$p");
}
admin_error(sv_request(DELETE => '/admin/nothing'), 404, 'NOT_FOUND', {},
            'DELETE another path');
my @rows = (
    ['members', 'GET, HEAD', [qw(POST DELETE PUT PATCH)]],
    ['members/1', 'GET, HEAD, DELETE', [qw(POST PUT PATCH)]],
    ['export', 'GET, HEAD', [qw(POST DELETE PUT)]],
    ['import', 'POST', [qw(GET HEAD DELETE PUT)]],
    ['limits/010-1234-5678', 'DELETE', [qw(GET POST PUT)]],
);
for my $row (@rows) {
    my ($p, $allow, $methods) = @$row;
    for my $m (@$methods) {
        my $res = sv_request($m => "/admin/$p", $m eq 'HEAD' ? undef : '{}');
        is $res->{status}, 405, "$m $p: 405";
        is $res->{headers}{allow}, $allow, "$m $p: Allow: $allow";
        next if $m eq 'HEAD';
        is $res->{json}{error}, 'METHOD_NOT_ALLOWED', "$m $p: the word";
    }
}
is sv_request(GET => '/denied/members')->{status}, 403,
   'deny all: nginx answers 403 before the module';



=== TEST 5: deletion: member, terms and sessions gone, email and phone free, the id never again
--- request
GET /admin/members
--- error_code: 200
--- flow
admin_signup('one@example.com', '010-2222-0001');
my $res = admin_signup('two@example.com', '010-2222-0002');
my $cookie = sv_cookie($res, 'smsverify_session');
ok $cookie, 'the signup started a session';
my $login = sv_request(POST => '/login',
    { email => 'two@example.com', password => 'Passw0rd!' });
is $login->{status}, 200, 'and a login another';
my $cookie2 = sv_cookie($login, 'smsverify_session');
is sv_request(GET => '/session', undef,
              { Cookie => "smsverify_session=$cookie" })->{status}, 200,
   'the session is valid';
is sv_store_entries('sessions'), 3, 'three sessions in the store';

$res = sv_request(DELETE => '/admin/members/2');
is $res->{status}, 200, 'deleted';
is $res->{body}, '{"status":"deleted","memberId":2}', 'the answer';

admin_error(sv_request(GET => '/admin/members/2'), 404, 'NO_SUCH_MEMBER',
            {}, 'gone');
admin_error(sv_request(DELETE => '/admin/members/2'), 404, 'NO_SUCH_MEMBER',
            {}, 'deleted twice');
admin_error(sv_request(DELETE => '/admin/members/77'), 404,
            'NO_SUCH_MEMBER', {}, 'never there');
is sv_request(GET => '/admin/members?email=two@example.com')->{body},
   '{"members":[]}', 'its email finds nobody';
is sv_request(GET => '/admin/members?phoneNumber=01022220002')->{body},
   '{"members":[]}', 'nor its phone';
for my $c ($cookie, $cookie2) {
    is sv_request(GET => '/session', undef,
                  { Cookie => "smsverify_session=$c" })->{status}, 401,
       'its session ended';
}
is sv_store_entries('sessions'), 1,
   "its sessions are gone from the store; the other member's is left";
is sv_store_entries('emails'), 1, 'one email key left';
is sv_store_entries('phones'), 1, 'one phone key left';
my @left = sv_members_in_store();
is scalar @left, 1, 'one member record left';
like $left[0], qr/one\@example\.com/, 'the other one';
is sv_request(POST => '/login',
    { email => 'two@example.com', password => 'Passw0rd!' })->{status}, 401,
   'its login fails';
is sv_request(GET => '/admin/members/1')->{status}, 200,
   'the other member is untouched';

$res = admin_signup('two@example.com', '010-2222-0002');
is $res->{json}{memberId}, 3, 'the email and phone sign up again, id 3';
$res = sv_request(DELETE => '/admin/members/3');
is $res->{status}, 200, 'the highest id deleted';
$res = admin_signup('three@example.com', '010-2222-0003');
is $res->{json}{memberId}, 4, 'the next signup gets 4: ids are never reused';



=== TEST 6: DELETE limits/PHONE: send counts and the pending code forgotten
--- request
GET /admin/members
--- error_code: 200
--- flow
my $phone = '010-3333-0001';
for (1 .. 2) {
    is sv_request(POST => '/send', { phoneNumber => $phone })->{status}, 200,
       "send $_";
}
my $code = sv_code_for($phone);
sleep 0.01;     # past the 1ms resend interval: the loop answers at once
my $res = sv_request(POST => '/send', { phoneNumber => $phone });
is $res->{status}, 429, 'the send limit';
is $res->{json}{error}, 'SEND_LIMIT', 'SEND_LIMIT';
is sv_request(POST => '/send', { phoneNumber => '010-3333-0002' })->{status},
   200, 'another phone sends';

for my $form ('%2B821033330001', '+821033330001', '010-3333-0001',
              '+82%2010%203333%200001')
{
    $res = sv_request(DELETE => "/admin/limits/$form");
    is $res->{status}, 200, "limits/$form: 200";
    is $res->{body}, '{"status":"cleared"}', "limits/$form: cleared";
}
is sv_store_entries('sends'), 1, "only the other phone's counts are left";
is sv_store_entries('codes'), 1, "and only its code";
$res = sv_request(POST => '/confirm',
    { phoneNumber => $phone, verificationNumber => "$code" });
is $res->{status}, 404, 'the pending code is forgotten';
is $res->{json}{error}, 'NO_PENDING_CODE', 'NO_PENDING_CODE';
for (1 .. 2) {
    is sv_request(POST => '/send', { phoneNumber => $phone })->{status}, 200,
       "the phone sends again ($_)";
}
is sv_request(DELETE => '/admin/limits/010-9999-0000')->{status}, 200,
   'a phone with nothing to clear: cleared too';



=== TEST 7: export: NDJSON, streamed, with hashes only when asked
--- request
GET /admin/export
--- error_code: 200
--- response_headers
Content-Type: application/x-ndjson
Cache-Control: no-store
--- response_body:
--- flow
admin_signup('kim@example.com', '010-1111-0001');
admin_signup('lee@example.com', '010-1111-0002', nickname => "\x{C774}\"\\");
my $res = sv_request(GET => '/admin/export');
is $res->{status}, 200, 'export';
is lc $res->{headers}{'transfer-encoding'}, 'chunked', 'chunked: streamed';
ok !exists $res->{headers}{'content-length'}, 'no length known ahead';
my @lines = split /\n/, $res->{body}, -1;
is scalar @lines, 3, 'two lines and the final newline';
is $lines[2], '', 'every line ends with a newline';
my @m = admin_lines($res->{body});
is_deeply [map { $_->{memberId} } @m], [1, 2], 'by memberId';
is_deeply [sort keys %{ $m[0] }],
          [qw(createdAt email memberId nickname phoneNumber terms)],
          'MEMBER: no hash';
is $m[1]{nickname}, "\x{C774}\"\\", 'a quote and a backslash are escaped';
my $page = sv_request(GET => '/admin/members');
is_deeply \@m, $page->{json}{members}, 'the same members as the page';

$res = sv_request(GET => '/admin/export?hashes=1');
@m = admin_lines($res->{body});
is scalar @m, 2, 'hashes=1: two lines';
like $m[0]{passwordHash}, qr/^\$2b\$04\$[.\/A-Za-z0-9]{53}$/, 'the hash';
$res = sv_request(GET => '/admin/export?hashes=0');
unlike $res->{body}, qr/passwordHash/, 'hashes=0: none';
$res = sv_request(HEAD => '/admin/export');
is $res->{status}, 200, 'HEAD';
is $res->{body}, '', 'no body';



=== TEST 8: export?hashes=1 from this store ...
--- request
GET /admin/members
--- error_code: 200
--- flow
admin_signup('kim@example.com', '010-1111-0001');
admin_signup('Lee@Example.com', '010-1111-0002', termsId => [1, 2]);
admin_signup('park@example.com', '+14155550123', nickname => "\x{BC15}");
admin_signup('gone@example.com', '010-1111-0004');
admin_signup('five@example.com', '010-1111-0005');
is sv_request(DELETE => '/admin/members/4')->{status}, 200, 'a gap: 4 deleted';
my $res = sv_request(GET => '/admin/export?hashes=1');
is $res->{status}, 200, 'exported';
$SmsVerify::Exported = $res->{body};
is scalar(() = $SmsVerify::Exported =~ /\n/g), 4, 'four members';
$SmsVerify::Before = sv_request(GET => '/admin/members')->{json}{members};



=== TEST 9: ... imported into a fresh one: the same members, ids and passwords
--- request
GET /admin/members
--- error_code: 200
--- response_body: {"members":[],"next":null}
--- flow
my $res = admin_ndjson($SmsVerify::Exported);
is $res->{status}, 200, 'imported' or diag $res->{body};
is $res->{body}, '{"status":"imported","members":4}', 'the answer';
my $after = sv_request(GET => '/admin/members')->{json}{members};
is_deeply $after, $SmsVerify::Before,
          'the same members, ids, emails, phones, nicknames, terms, createdAt';
for my $m (@$after) {
    my $login = sv_request(POST => '/login',
        { email => $m->{email}, password => 'Passw0rd!' });
    is $login->{status}, 200, "$m->{email} logs in with its password";
    is $login->{json}{memberId}, $m->{memberId}, "as member $m->{memberId}";
}
is sv_request(POST => '/login',
    { email => 'kim@example.com', password => 'Passw0rd?' })->{status}, 401,
   'and not with another';
is sv_request(GET => '/admin/export?hashes=1')->{body}, $SmsVerify::Exported,
   'exported again: byte for byte the same';
$res = admin_signup('new@example.com', '010-1111-0009');
is $res->{json}{memberId}, 6, 'a later signup gets an id above every imported one';
$res = admin_signup('park2@example.com', '010-1111-0008');
is $res->{json}{memberId}, 7, 'and the next one above';



=== TEST 10: import is all or none: taken ids, emails and phones, in the store or in the file
--- request
GET /admin/members
--- error_code: 200
--- flow
admin_signup('kim@example.com', '010-1111-0001');
my $ok1 = admin_line(10);
my $ok2 = admin_line(11);
my @cases = (
    ["$ok1\n" . admin_line(1) . "\n", 'ID_TAKEN', 2, 'an id of the store'],
    ["$ok1\n" . admin_line(12, email => 'KIM@example.com') . "\n",
     'EMAIL_TAKEN', 2, 'an email of the store, folded'],
    ["$ok1\n" . admin_line(12, phoneNumber => '010-1111-0001'),
     'PHONE_TAKEN', 2, 'a phone of the store, in another form'],
    ["$ok1\n$ok2\n" . admin_line(10, email => 'x@example.com',
                                 phoneNumber => '+821099990000'),
     'ID_TAKEN', 3, 'an id twice in the file'],
    ["$ok1\n\n$ok2\n" . admin_line(12, email => 'M10@EXAMPLE.com'),
     'EMAIL_TAKEN', 4, 'an email twice in the file (blank lines count)'],
    ["$ok1\n" . admin_line(12, phoneNumber => '+82 10 2000 0010'),
     'PHONE_TAKEN', 2, 'a phone twice in the file'],
);
for my $c (@cases) {
    my ($body, $word, $line, $what) = @$c;
    admin_error(admin_ndjson($body), 409, $word, { line => $line }, $what);
}
is admin_members_count(), 1, 'nothing was imported';
is sv_store_entries('emails'), 1, 'no email key';
is sv_store_entries('phones'), 1, 'no phone key';
my $res = admin_signup('lee@example.com', '010-1111-0002');
is $res->{json}{memberId}, 2, 'a refused import moved no id';

$res = admin_ndjson("$ok1\r\n$ok2\r\n\r\n");
is $res->{status}, 200, 'CRLF lines and a blank one' or diag $res->{body};
is $res->{json}{members}, 2, 'two members';
$res = admin_signup('park@example.com', '010-1111-0003');
is $res->{json}{memberId}, 12, 'the next signup: above 11';



=== TEST 11: broken lines, bad fields, huge lines, an empty body: 400 with the line, nothing changed
--- request
GET /admin/members
--- error_code: 200
--- flow
my $ok = admin_line(1);
my $h = admin_hash();
my @cases = (
    ['', 'INVALID_JSON', {line => 1}, 'an empty body'],
    ["\n\n", 'INVALID_JSON', {line => 1}, 'only blank lines'],
    ["$ok\n{\"memberId\":", 'INVALID_JSON', {line => 2}, 'a cut line'],
    ["$ok\nnot json", 'INVALID_JSON', {line => 2}, 'not JSON'],
    ["$ok\n[1,2]", 'INVALID_JSON', {line => 2}, 'not an object'],
    ["$ok\n\"x\"", 'INVALID_JSON', {line => 2}, 'a string'],
    ["$ok\n{\"a\":\"\xff\"}", 'INVALID_JSON', {line => 2}, 'not UTF-8'],
    ["$ok\n{\"memberId\":2} {\"memberId\":3}", 'INVALID_JSON', {line => 2},
     'two objects on a line'],
    ["$ok\n" . admin_line(2, nickname => 'x' x 5000), 'INVALID_JSON',
     {line => 2}, 'a huge line'],
    ["$ok\n" . ('x' x 100000), 'INVALID_JSON', {line => 2},
     'a huge line of garbage'],
    [admin_line(2, memberId => undef), 'MISSING_FIELD',
     {field => 'memberId', line => 1}, 'no memberId'],
    [admin_line(2, memberId => '2'), 'INVALID_FIELD',
     {field => 'memberId', line => 1}, 'a memberId string'],
    [admin_line(2, memberId => 0), 'INVALID_FIELD',
     {field => 'memberId', line => 1}, 'memberId 0'],
    [admin_line(2, memberId => -3), 'INVALID_FIELD',
     {field => 'memberId', line => 1}, 'a negative memberId'],
    [admin_line(2, memberId => 1.5), 'INVALID_FIELD',
     {field => 'memberId', line => 1}, 'a fraction'],
    [admin_line(2, memberId => 9007199254740992), 'INVALID_FIELD',
     {field => 'memberId', line => 1}, 'memberId past 2^53'],
    [admin_line(2, email => undef), 'MISSING_FIELD',
     {field => 'email', line => 1}, 'no email'],
    [admin_line(2, email => 'nope'), 'INVALID_EMAIL', {line => 1},
     'a bad email'],
    [admin_line(2, email => 7), 'INVALID_FIELD',
     {field => 'email', line => 1}, 'an email number'],
    [admin_line(2, phoneNumber => undef), 'MISSING_FIELD',
     {field => 'phoneNumber', line => 1}, 'no phone'],
    [admin_line(2, phoneNumber => '12345'), 'INVALID_PHONE', {line => 1},
     'a bad phone'],
    [admin_line(2, nickname => ''), 'INVALID_NICKNAME', {line => 1},
     'an empty nickname'],
    [admin_line(2, nickname => 'x' x 21), 'INVALID_NICKNAME', {line => 1},
     'a long nickname'],
    [admin_line(2, nickname => "a\x01b"), 'INVALID_NICKNAME', {line => 1},
     'a control character'],
    [admin_line(2, terms => undef), 'MISSING_FIELD',
     {field => 'terms', line => 1}, 'no terms'],
    [admin_line(2, terms => ['1']), 'INVALID_FIELD',
     {field => 'terms', line => 1}, 'terms of strings'],
    [admin_line(2, terms => 1), 'INVALID_FIELD',
     {field => 'terms', line => 1}, 'terms not a list'],
    [admin_line(2, createdAt => undef), 'MISSING_FIELD',
     {field => 'createdAt', line => 1}, 'no createdAt'],
    [admin_line(2, createdAt => '2026-13-01T00:00:00Z'), 'INVALID_FIELD',
     {field => 'createdAt', line => 1}, 'month 13'],
    [admin_line(2, createdAt => '2026-02-30T00:00:00Z'), 'INVALID_FIELD',
     {field => 'createdAt', line => 1}, 'February 30'],
    [admin_line(2, createdAt => '2026-12-01 00:00:00'), 'INVALID_FIELD',
     {field => 'createdAt', line => 1}, 'another form'],
    [admin_line(2, createdAt => 1764547200000), 'INVALID_FIELD',
     {field => 'createdAt', line => 1}, 'a number'],
    [admin_line(2, passwordHash => undef), 'MISSING_FIELD',
     {field => 'passwordHash', line => 1}, 'no hash (export without hashes=1)'],
    [admin_line(2, passwordHash => 'Passw0rd!'), 'INVALID_FIELD',
     {field => 'passwordHash', line => 1}, 'a password, not a hash'],
    [admin_line(2, passwordHash => substr($h, 0, 59)), 'INVALID_FIELD',
     {field => 'passwordHash', line => 1}, 'a cut hash'],
    [admin_line(2, passwordHash => '$2b$03$' . substr($h, 7)), 'INVALID_FIELD',
     {field => 'passwordHash', line => 1}, 'cost 3'],
    [admin_line(2, passwordHash => '$2x$04$' . substr($h, 7)), 'INVALID_FIELD',
     {field => 'passwordHash', line => 1}, 'not bcrypt'],
    [admin_line(2, passwordHash => substr($h, 0, 59) . '"'), 'INVALID_FIELD',
     {field => 'passwordHash', line => 1}, 'a quote in the hash'],
);
for my $c (@cases) {
    my ($body, $word, $extra, $what) = @$c;
    admin_error(admin_ndjson($body), 400, $word, $extra, $what);
}
is admin_members_count(), 0, 'nothing was imported';
is sv_store_entries('emails'), 0, 'no email key';

my $res = sv_request(POST => '/admin/import', "$ok\n",
                     { 'Content-Type' => 'application/json' });
admin_error($res, 415, 'UNSUPPORTED_MEDIA_TYPE',
            { accepted => 'application/x-ndjson' }, 'JSON is not NDJSON');
$res = sv_request(POST => '/admin/import', "$ok\n", {});
is $res->{status}, 415, 'no Content-Type: 415';
$res = admin_ndjson("$ok\n",
                    { 'Content-Type' => 'Application/X-NDJSON; charset=utf-8' });
is $res->{status}, 200, 'the type in any case, with a charset'
    or diag $res->{body};
is admin_members_count(), 1, 'imported';



=== TEST 12: a body in nginx's temporary file, and over client_max_body_size
--- config
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /login   { smsverify login; }
    location /admin/ {
        smsverify admin;
        client_body_buffer_size 1k;
        client_max_body_size 64k;
    }
--- request
GET /admin/members
--- error_code: 200
--- flow
my $body = join '', map { admin_line($_) . "\n" } 1 .. 150;
ok length($body) > 1024 * 16 && length($body) < 64 * 1024, 'between the two';
my $res = admin_ndjson($body);
is $res->{status}, 200, 'from the temporary file' or diag $res->{body};
is $res->{json}{members}, 150, '150 members';
is admin_members_count(), 150, 'all there';
$res = sv_request(POST => '/login',
    { email => 'm150@example.com', password => 'Passw0rd!' });
is $res->{json}{memberId}, 150, 'the last logs in';
$body = join '', map { admin_line($_) . "\n" } 151 .. 600;
$res = admin_ndjson($body);
is $res->{status}, 413, 'over client_max_body_size: 413';
is admin_members_count(), 150, 'nothing more';
$res = sv_request(POST => '/admin/import', admin_line(151) . "\n",
    { 'Content-Type' => 'application/x-ndjson',
      'Transfer-Encoding' => 'chunked' });
is $res->{status}, 400, 'a chunked header with an unchunked body: refused';
my $one = admin_line(151) . "\n";
$res = sv_request(POST => '/admin/import',
    sprintf("%x\r\n%s\r\n0\r\n\r\n", length $one, $one),
    { 'Content-Type' => 'application/x-ndjson',
      'Transfer-Encoding' => 'chunked' });
is $res->{status}, 200, 'a chunked body' or diag $res->{body};
is admin_members_count(), 151, 'imported';



=== TEST 13: thousands of members exported page by page, as the client takes them
--- request
GET /admin/members
--- error_code: 200
--- timeout: 120
--- flow
# under valgrind fewer; the worker's size is not the module's under
# valgrind or AddressSanitizer (its quarantine keeps what was freed)
my $valgrind = $ENV{TEST_NGINX_USE_VALGRIND};
my $sized = !$valgrind && ($ENV{TEST_NGINX_BINARY} // '') !~ m{/asan/};
my $n = $valgrind ? 3000 : 20000;
my $body = join '', map { admin_line($_) . "\n" } 1 .. $n;
my $res = admin_ndjson($body);
is $res->{status}, 200, "$n imported" or diag $res->{body};

# the worker's size before any export: an export built whole would grow
# it by its size, one that holds a page by a page
my $pid = sv_master_pid();
my $rss0 = admin_rss_kb($pid);

# a client that reads 4 KB, then nothing for a while, from the server
# whose send buffer is small
socket(my $sock, Socket::PF_INET(), Socket::SOCK_STREAM(), 0) or die $!;
setsockopt($sock, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 4096) or die $!;
connect($sock, Socket::pack_sockaddr_in($ENV{TEST_NGINX_ADMIN_SLOW_PORT},
                                        Socket::inet_aton('127.0.0.1')))
    or die "connect: $!";
binmode $sock;
syswrite $sock, "GET /admin/export?hashes=1 HTTP/1.1\r\nHost: x\r\n"
              . "Connection: close\r\n\r\n";
my $got = '';
while (length $got < 4096) {
    my $r = sysread $sock, $got, 4096, length $got;
    last if !$r;
}
like $got, qr{^HTTP/1\.1 200 }, 'the first chunk arrived';
Time::HiRes::sleep(1.5);
is admin_exports_logged(), 0,
   'while the client reads nothing, the export waits: it has not ended';
my $rss1 = admin_rss_kb($pid);
my $sel = IO::Select->new($sock);
while ($sel->can_read(20)) {
    my $r = sysread $sock, $got, 65536, length $got;
    last if !$r;
}
close $sock;
sv_wait_until(sub { admin_exports_logged() == 1 }, 30);
is admin_exports_logged(), 1, 'then it ended';
my $rss2 = admin_rss_kb($pid);
my $resp = parse_response($got);
my @lines = split /\n/, $resp->{body};
is scalar @lines, $n, "then every one of the $n members";
my $first = JSON::PP->new->decode($lines[0]);
my $last = JSON::PP->new->decode($lines[-1]);
is $first->{memberId}, 1, 'from the first';
is $last->{memberId}, $n, 'to the last';
is $last->{passwordHash}, admin_hash(), 'with its hash';
my $size = length $resp->{body};
ok $size > $n * 200, "$size bytes exported";
SKIP: {
    skip 'the size of a worker under valgrind or ASan', 2 if !$sized;
    cmp_ok $rss1 - $rss0, '<', 2048,
           "the worker did not grow while the client waited ($rss0 -> $rss1 kB)";
    cmp_ok $rss2 - $rss0, '<', 2048,
           "nor by the end ($rss0 -> $rss2 kB): pages, not the whole export";
}

# clients that go away in the middle of an export, while a page is read
# in the pool or while nginx waits for them to take one
for my $round (1 .. 6) {
    socket(my $s, Socket::PF_INET(), Socket::SOCK_STREAM(), 0) or die $!;
    setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 4096) or die $!;
    connect($s, Socket::pack_sockaddr_in($ENV{TEST_NGINX_ADMIN_SLOW_PORT},
                                         Socket::inet_aton('127.0.0.1')))
        or die "connect: $!";
    syswrite $s, "GET /admin/export HTTP/1.1\r\nHost: x\r\n\r\n";
    my $buf = '';
    sysread $s, $buf, 1024 * $round;
    if ($round % 2) {
        # a reset, not a FIN
        setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_LINGER(),
                   pack('ii', 1, 0));
    }
    close $s;
}
Time::HiRes::sleep(0.5);
is sv_request(GET => '/admin/members/7')->{json}{memberId}, 7,
   'nginx answers after clients went away mid-export';
is sv_master_pid(), $pid, 'the same process';
is scalar(sv_log_grep(qr/\[(?:alert|crit|emerg)\]|signal/)), 0,
   'no alert, no crash';
$res = sv_request(GET => '/admin/export');
is scalar(() = $res->{body} =~ /\n/g), $n, 'and a whole export after them';



=== TEST 14: hostile paths, queries and bodies: a JSON error each, no crash, nothing changed
--- request
GET /admin/members
--- error_code: 200
--- timeout: 120
--- flow
admin_signup('kim@example.com', '010-1111-0001');
my $before = sv_request(GET => '/admin/export?hashes=1')->{body};
my $pid = sv_master_pid();
srand(120120);
my @paths = ('members', 'members/1', 'export', 'import', 'limits/+821011110001');
my @junk = ('%00', '%ff', '%', '%2', "\x{AC00}", '..', '/', '?', '&', '=',
            '+', '%2B', ' ', "\t", '9' x 40, '-1', '0x10', '1e9', '"', '\\',
            '{', '}', '[', ']', "'", ';', '*', '#');
my $n = $ENV{TEST_NGINX_USE_VALGRIND} ? 150 : 600;
my %words = map { $_ => 1 } qw(NOT_FOUND METHOD_NOT_ALLOWED INVALID_FIELD
    INVALID_EMAIL INVALID_PHONE INVALID_JSON MISSING_FIELD INVALID_NICKNAME
    UNSUPPORTED_MEDIA_TYPE NO_SUCH_MEMBER ID_TAKEN EMAIL_TAKEN PHONE_TAKEN);
my ($bad, $json, $nginx) = (0, 0, 0);
for my $i (1 .. $n) {
    my $path = $paths[rand @paths];
    my $extra = join '', map { $junk[rand @junk] } 1 .. int(rand 4);
    my $query = join '&', map { (qw(limit after email phoneNumber hashes))[rand 5]
                                . '=' . $junk[rand @junk] } 1 .. int(rand 3);
    my $method = (qw(GET HEAD POST DELETE PUT PATCH OPTIONS))[rand 7];
    my $body = join '', map { $junk[rand @junk] } 1 .. int(rand 20);
    # keep the one member: no DELETE of members/1 and no limits change
    $path = 'members/2' if $path eq 'members/1' && $method eq 'DELETE';
    my $uri = "/admin/$path$extra" . ($query ne '' ? "?$query" : '');
    $uri =~ s/ /%20/g;
    $uri =~ s/\t/%09/g;
    $uri = Encode::encode_utf8($uri);
    my $res = sv_request($method => $uri, $body,
        { 'Content-Type' => (rand() < 0.5 ? 'application/x-ndjson'
                                          : 'application/json') });
    if ($res->{status} == 599) {
        $bad++;
        diag "no answer to $method $uri";
        next;
    }
    if (($res->{headers}{'content-type'} // '') eq 'application/json') {
        next if $res->{status} == 200;
        $json++;
        # HEAD: the status and headers of the GET's error, no body
        next if $method eq 'HEAD' && $res->{status} =~ /^(?:400|404|405)$/;
        $bad++, diag "$method $uri: $res->{body}"
            if !$words{ $res->{json}{error} // '' };
    } else {
        # nginx's own answer to what it refuses before the module
        $nginx++;
        $bad++, diag "$method $uri: $res->{status}"
            if $res->{status} !~ /^(?:400|405|411|413|414|200)$/;
    }
}
is $bad, 0, "$n hostile requests: each a known JSON error or nginx's own 4xx"
          . " ($json JSON errors, $nginx nginx's)";
is sv_master_pid(), $pid, 'the same process';
is scalar(sv_log_grep(qr/\[(?:alert|crit|emerg)\]|signal \d+/)), 0,
   'no alert, no crash';
is sv_request(GET => '/admin/export?hashes=1')->{body}, $before,
   'the store is as it was';
