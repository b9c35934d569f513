# smsverify_store postgresql://...: its configuration errors, and a
# database that cannot be reached.  No database is needed: the URIs here
# name a closed port on loopback (or a password that must never be
# logged), so nginx -t and the start-up must do without it, and every
# endpoint answers 503 STORE_UNAVAILABLE with Retry-After: 1, at once.
# These blocks name their store themselves: the PostgreSQL setting of
# the suite (t/inc/SmsVerify/Flow.pm) leaves them as they are.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use File::Temp ();
use Time::HiRes qw(time);

# a key for the blocks that need one
my $key = SmsVerify::sv_pg_key_file();
$ENV{TEST_NGINX_PG_KEY} = $key;

# nothing listens there: a connect is refused at once
my $closed = ($ENV{TEST_NGINX_SERVER_PORT} // 1984) + 97;
$ENV{TEST_NGINX_PG_NOWHERE} =
    "postgresql://smsverify:Hunter2pw\@127.0.0.1:$closed/smsverify"
    . "?connect_timeout=2";

our $HttpConfig = <<'_EOC_';
    smsverify_store $TEST_NGINX_PG_NOWHERE;
    smsverify_secret $TEST_NGINX_PG_KEY;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=4;
    smsverify_terms 1 required;
    smsverify_terms 2 optional;
_EOC_

our $Config = <<'_EOC_';
    location = /send       { smsverify send; }
    location = /confirm    { smsverify confirm; }
    location = /signup     { smsverify signup; }
    location = /login      { smsverify login; }
    location = /logout     { smsverify logout; }
    location = /session    { smsverify session; }
    location = /reset_send { smsverify reset_send; }
    location = /reset      { smsverify reset; }
    location = /status     { smsverify status; }
    location /members/     { smsverify_auth member; root html; }
    location /verified/    { smsverify_auth verified; root html; }
    location /admin/       { smsverify admin; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config);

workers(2);
master_on();
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: a PostgreSQL store needs smsverify_secret: every node the same key
--- http_config
    smsverify_store postgresql://db.internal/site;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_secret" is required with a PostgreSQL "smsverify_store" in \S+nginx\.conf:\d+/



=== TEST 2: size= does not apply to a PostgreSQL store
--- http_config
    smsverify_store postgresql://db.internal/site size=8m;
    smsverify_secret $TEST_NGINX_PG_KEY;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*parameter "size=8m" does not apply to a PostgreSQL store in \S+nginx\.conf:\d+/



=== TEST 3: nor does sync=
--- http_config
    smsverify_store postgres://db.internal/site sync=off;
    smsverify_secret $TEST_NGINX_PG_KEY;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*parameter "sync=off" does not apply to a PostgreSQL store in \S+nginx\.conf:\d+/



=== TEST 3b: nor does writemap=
--- http_config
    smsverify_store postgres://db.internal/site writemap=on;
    smsverify_secret $TEST_NGINX_PG_KEY;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*parameter "writemap=on" does not apply to a PostgreSQL store in \S+nginx\.conf:\d+/



=== TEST 4: an unknown parameter after the URI
--- http_config
    smsverify_store postgresql://db.internal/site mode=0700;
    smsverify_secret $TEST_NGINX_PG_KEY;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "mode=0700" in \S+nginx\.conf:\d+/



=== TEST 5: the secret is still required when it comes before the store
--- http_config
    smsverify_provider log;
    smsverify_store postgresql://db.internal/site;
--- config
    location = /send { smsverify send; }
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_secret" is required with a PostgreSQL "smsverify_store" in \S+nginx\.conf:\d+/



=== TEST 6: nginx -t and the start need no database, and make no directory
--- request
GET /status
--- error_code: 200
--- flow
my $root = server_root();
my $out = qx{$Test::Nginx::Util::NginxBinary -p '$root/' -c '$Test::Nginx::Util::ConfFile' -t 2>&1};
is $?, 0, 'nginx -t passes with the database away' or diag $out;
unlike $out, qr/Hunter2pw/, 'nginx -t does not repeat the password';
ok !-e "$root/smsverify_temp", 'no store directory';
--- no_error_log
[emerg]



=== TEST 7: the database away: every endpoint 503 STORE_UNAVAILABLE, at once
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- more_headers
Content-Type: application/json
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json
Cache-Control: no-store
--- response_body_like: ^\{"error":"STORE_UNAVAILABLE","message":"[^"]+"\}$
--- flow
my $session = 'S' x 43;
my @cases = (
    [POST => '/send', { phoneNumber => '010-1234-5678' }],
    [POST => '/confirm', { phoneNumber => '010-1234-5678',
                           verificationNumber => '123456' }],
    [POST => '/signup', sv_member(verificationToken => 'T' x 43)],
    [POST => '/login', { email => 'kim@example.com', password => 'Passw0rd!' }],
    [POST => '/login', { phoneNumber => '010-1234-5678',
                         password => 'Passw0rd!' }],
    [POST => '/logout', undef, { Cookie => "smsverify_session=$session" }],
    [GET => '/session', undef, { Cookie => "smsverify_session=$session" }],
    [POST => '/reset_send', { phoneNumber => '010-1234-5678' }],
    [POST => '/reset', { phoneNumber => '010-1234-5678',
                         password => 'Passw0rd!2', verificationToken => 'T' x 43 }],
    [GET => '/members/x', undef, { Cookie => "smsverify_session=$session" }],
    [GET => '/verified/x', undef, { Cookie => "smsverify_token=" . 'T' x 43 }],
    [GET => '/admin/members'],
    [GET => '/admin/members/1'],
    [GET => '/admin/members?email=kim@example.com'],
    [DELETE => '/admin/members/1'],
    [DELETE => '/admin/limits/%2B821012345678'],
);
for my $c (@cases) {
    my ($method, $path, $body, $headers) = @$c;
    my $t0 = time;
    my $res = sv_request($method, $path, $body, $headers);
    my $took = time - $t0;
    is $res->{status}, 503, "$method $path: 503" or diag $res->{body};
    is $res->{json}{error}, 'STORE_UNAVAILABLE', "$method $path: the word";
    is $res->{headers}{'retry-after'}, '1', "$method $path: Retry-After: 1";
    ok !exists $res->{json}{retryAfter}, "$method $path: no retryAfter key";
    ok $took < 3, "$method $path: answered in " . sprintf('%.2f s', $took);
}
is scalar(sv_log_grep(qr/smsverify log provider: to/)), 0,
   'no code was handed to the provider';

my $res = sv_request(GET => '/status');
is $res->{status}, 200, 'status answers' or diag $res->{body};
ok exists $res->{json}{codesPending} && !defined $res->{json}{codesPending},
   'codesPending null: the store cannot be read';
ok exists $res->{json}{members} && !defined $res->{json}{members},
   'members null';
ok exists $res->{json}{webhookBacklog}
   && !defined $res->{json}{webhookBacklog}, 'webhookBacklog null';
cmp_ok $res->{json}{storeUnavailable}, '>=', scalar(@cases) + 1,
       'every 503 counted';
is $res->{json}{sent}, 0, 'nothing sent';

$res = sv_request(GET => '/status?format=prometheus');
is $res->{status}, 200, 'the Prometheus form answers';
unlike $res->{body}, qr/^smsverify_(?:codes_pending|members|webhook_backlog) /m,
       'without the store gauges';
like $res->{body}, qr/^smsverify_store_unavailable_total [1-9]\d*$/m,
     'with the counter';

my @lines = sv_log_grep(qr/smsverify store unavailable/);
ok @lines >= 1 && @lines <= 4,
   scalar(@lines) . ' log lines for ' . (@cases + 2) . ' requests (two workers)'
    or diag @lines;
is scalar(sv_log_grep(qr/Hunter2pw/)), 0, 'the password is never logged';
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 8: the postgres:// scheme is a PostgreSQL store too
--- http_config
    smsverify_store postgres://smsverify@127.0.0.1:9/smsverify?connect_timeout=2;
    smsverify_secret $TEST_NGINX_PG_KEY;
    smsverify_provider log;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- more_headers
Content-Type: application/json
--- error_code: 503
--- response_body_like: "error":"STORE_UNAVAILABLE"



=== TEST 9: conf/nginx-postgresql.conf passes nginx -t, with no database
--- request
GET /status
--- error_code: 200
--- flow
my $dir = File::Temp::tempdir(CLEANUP => 1);
mkdir "$dir/$_" for qw(conf var var/log);
open my $in, '<', "$SmsVerify::RepoRoot/conf/nginx-postgresql.conf" or die $!;
my $conf = do { local $/; <$in> };
close $in;
$conf =~ s{/etc/nginx/}{$dir/}g;
$conf =~ s{^load_module \S+;}{$SmsVerify::Module ne '' ? "load_module $SmsVerify::Module;" : ''}me;
$conf =~ s{^\s*listen\s+8080;}{    listen 127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT};}m;
for my $f ("$dir/sens.secret", "$dir/cafe24.secret", "$dir/smsverify.key",
           "$dir/conf/nginx.conf") {
    open my $out, '>', $f or die "$f: $!";
    print $out $f =~ /nginx\.conf$/ ? $conf : 'K' x 32;
    close $out;
}
my $out = qx{$Test::Nginx::Util::NginxBinary -p '$dir/' -c '$dir/conf/nginx.conf' -t 2>&1};
is $?, 0, 'nginx -t passes' or diag $out;
like $conf, qr/smsverify_store\s+"postgresql:/, 'with a PostgreSQL store';
