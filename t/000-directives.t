# The directives of API.md section 1: a config using all of them works, each
# one's errors stop nginx at start-up with nginx's own words (what is wrong,
# and "in FILE:LINE"), and the server key behaves as documented.

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

use Time::HiRes qw(sleep time);

# paths of --- user_files in the config (upstream does not set this one)
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /status  { smsverify status; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config,
                  more_headers => 'Content-Type: application/json');

# a reload (HUP) must run init_process in fresh workers: master on
master_on();
workers(1);
no_shuffle();
sv_flow_blocks();
run_tests();

# Reload nginx and wait until its old workers have gone (and a new one
# runs), so that every later request meets the new configuration.
sub reload_nginx {
    open my $in, '<', $Test::Nginx::Util::PidFile or die "no pid file: $!";
    my $master = do { local $/; <$in> };
    close $in;
    $master =~ s/\s+//g;

    my %old = map { $_ => 1 } children_of($master);
    kill 'HUP', $master or die "cannot signal $master: $!";

    my $deadline = time + 10;
    while (time < $deadline) {
        my @now = children_of($master);
        return 1 if @now && !grep { $old{$_} } @now;
        sleep 0.05;
    }
    return 0;
}

# the pids whose parent is $ppid (Linux /proc)
sub children_of {
    my $ppid = shift;
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $in, '<', $stat or next;
        my $line = <$in> // '';
        close $in;
        # pid (comm) state ppid ...; comm may hold spaces and parentheses
        push @pids, $1 if $line =~ /^(\d+) \(.*\) \S+ (\d+) / && $2 == $ppid;
    }
    return @pids;
}

sub write_file {
    my ($path, $data) = @_;
    open my $out, '>', $path or die "cannot write $path: $!";
    binmode $out;
    print $out $data;
    close $out;
}

__DATA__

=== TEST 1: every directive at once: send, confirm and signup work
--- main_config
    thread_pool smsverify_pool threads=4 max_queue=1024;
--- http_config
    smsverify_store        smsverify_temp size=16m sync=2s;
    smsverify_secret       $TEST_NGINX_HTML_DIR/server.key;
    smsverify_thread_pool  smsverify_pool;

    smsverify_provider sens service_id=ncp:sms:kr:123:svc access_key=AK
                       secret_key_file=$TEST_NGINX_HTML_DIR/sens.secret
                       from=0212345678 url=http://127.0.0.1:1 timeout=1s;
    smsverify_provider cafe24 user_id=myid
                       secure_key_file=$TEST_NGINX_HTML_DIR/cafe24.secret
                       from=070-1234-5678 url=http://127.0.0.1:1
                       testflag=on timeout=1s;
    smsverify_provider log;
    smsverify_message  "[MyShop] 인증번호 [$smsverify_code]를 입력해주세요.";
    smsverify_code_length      8;
    smsverify_code_ttl         5m;
    smsverify_max_attempts     3;
    smsverify_resend_interval  10s;
    smsverify_send_limit       3 1h;
    smsverify_countries        82 1;
    smsverify_token_ttl        10m;
    smsverify_terms 1 required;
    smsverify_terms 2 required;
    smsverify_terms 3 optional;
    smsverify_password_length  10 40;
    smsverify_password_hash    bcrypt cost=4;
    smsverify_token_cookie     off;
    smsverify_cors             https://shop.example;
--- user_files
>>> server.key
0123456789abcdef0123456789abcdef
>>> sens.secret
sens-secret-key
>>> cafe24.secret
cafe24-secure-key
--- request
POST /send
{"phoneNumber":"+1 415 555 0123"}
--- more_headers
Content-Type: application/json
Origin: https://shop.example
--- error_code: 200
--- response_headers
Access-Control-Allow-Origin: https://shop.example
Access-Control-Allow-Credentials: true
--- response_body chomp
{"status":"sent","phoneNumber":"+14155550123","expiresIn":300,"resendAfter":10}
--- flow
my $phone = '+1 415 555 0123';
my $code = sv_code_for($phone);
like $code, qr/^\d{8}$/, 'an 8-digit code (smsverify_code_length 8)';

my $res = sv_request(POST => '/send', { phoneNumber => $phone });
is $res->{status}, 429, 'resend within 10s is refused';
is $res->{json}{retryAfter}, 10, 'smsverify_resend_interval 10s';

$res = sv_request(POST => '/confirm',
    { phoneNumber => $phone, verificationNumber => '00000000' });
$res = sv_request(POST => '/confirm',
    { phoneNumber => $phone, verificationNumber => '00000001' })
    if $code eq '00000000';
is $res->{json}{error}, 'CODE_MISMATCH', 'a wrong guess';
is $res->{json}{attemptsLeft}, 2, 'smsverify_max_attempts 3';

$res = sv_request(POST => '/confirm',
    { phoneNumber => $phone, verificationNumber => $code });
is $res->{status}, 200, 'the code confirms';
is $res->{json}{expiresIn}, 600, 'smsverify_token_ttl 10m';
ok !defined $res->{headers}{'set-cookie'}, 'smsverify_token_cookie off';
my $token = $res->{json}{verificationToken};

my %member = (email => 'all@example.com', nickname => 'all',
              phoneNumber => $phone, termsId => [1, 2],
              verificationToken => $token);
$res = sv_request(POST => '/signup', { %member, password => 'Passw0rd!' });
is $res->{json}{error}, 'INVALID_PASSWORD',
   '9 characters are too short for smsverify_password_length 10 40';
$res = sv_request(POST => '/signup',
    { %member, password => 'Passw0rd!!', termsId => [1] });
is $res->{json}{error}, 'TERMS_REQUIRED', 'term 2 is required';
$res = sv_request(POST => '/signup',
    { %member, password => 'Passw0rd!!', termsId => [1, 2, 3] });
is $res->{status}, 200, 'signup';
is $res->{json}{status}, 'created', 'created';

$res = sv_request(GET => '/status');
is_deeply $res->{json}{providers},
    { sens => { ok => 0, failed => 1 }, cafe24 => { ok => 0, failed => 0 },
      log => { ok => 1, failed => 0 } },
    'sens failed over to log; cafe24, in Korea only, was not asked for +1';

my $logged = do { open my $in, '<', $Test::Nginx::Util::ErrLogFile; local $/; <$in> };
like $logged, qr/smsverify log provider: to "[^"]*" message "\[MyShop\] 인증번호 \[\d{8}\]를 입력해주세요\."/,
     'the message template';



=== TEST 2: the thread pool at the location level, and "default"
--- main_config
    thread_pool other_pool threads=2;
--- config
    location = /send {
        smsverify_thread_pool other_pool;
        smsverify send;
    }
    location = /confirm {
        smsverify_thread_pool default;
        smsverify confirm;
    }
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-1234-5678',
    verificationNumber => sv_code_for('5678') });
is $res->{status}, 200, 'confirm in the default pool';



=== TEST 3: smsverify with an unknown endpoint
--- config
    location = /x { smsverify verify; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "verify", it must be "send", "confirm", "signup", "status", "login", "logout", "session", "reset_send", "reset" or "admin" in \S+nginx\.conf:\d+/



=== TEST 4: smsverify twice in a location
--- config
    location = /x { smsverify send; smsverify confirm; }
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 5: smsverify is a location directive only
--- config
    smsverify send;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 6: smsverify without smsverify_store
--- http_config
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*no "smsverify_store" is defined at the http level for the "smsverify" directive in \S+nginx\.conf:\d+/



=== TEST 6b: the missing store error names the first "smsverify" directive's line
--- http_config
    smsverify_provider log;
--- config
    include $TEST_NGINX_HTML_DIR/send.conf;
    location = /confirm { smsverify confirm; }
--- user_files
>>> send.conf
location = /send {
    smsverify send;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*no "smsverify_store" is defined at the http level for the "smsverify" directive in \S+\/send\.conf:2\b/



=== TEST 7: smsverify_store is an http directive only
--- http_config
    smsverify_provider log;
--- config
    smsverify_store smsverify_temp;
    location = /send { smsverify send; }
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_store" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 8: smsverify_store size= too small for a store
--- lmdb_only: the map size
--- http_config
    smsverify_store smsverify_temp size=1k;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*store size "size=1k" is too small, it must be at least 256k in \S+nginx\.conf:\d+/



=== TEST 8b: smsverify_store size=100k is too small, not invalid
--- lmdb_only: the map size
--- http_config
    smsverify_store smsverify_temp size=100k;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*store size "size=100k" is too small, it must be at least 256k in \S+nginx\.conf:\d+/
--- no_error_log
invalid store size



=== TEST 9: smsverify_store size= that is no size
--- lmdb_only: the map size
--- http_config
    smsverify_store smsverify_temp size=lots;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid store size "size=lots" in \S+nginx\.conf:\d+/
--- no_error_log
at least



=== TEST 9b: smsverify_store sizes that do not parse are invalid, whatever their digits
--- lmdb_only: the map size
--- http_config
    smsverify_store smsverify_temp size=12x;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid store size "size=12x" in \S+nginx\.conf:\d+/



=== TEST 9c: smsverify_store size= with nothing after it
--- lmdb_only: the map size
--- http_config
    smsverify_store smsverify_temp size=;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid store size "size=" in \S+nginx\.conf:\d+/



=== TEST 9d: smsverify_store size= past what a worker can map
--- lmdb_only: the map size
--- http_config
    smsverify_store smsverify_temp size=129g;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*store size "size=129g" is too large, it must be at most 128g in \S+nginx\.conf:\d+/



=== TEST 9e: smsverify_store size=1g works, and each part's map is 1g
--- lmdb_only: the map size
--- http_config
    smsverify_store smsverify_temp size=1g;
    smsverify_provider log;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-1234-5678',
    verificationNumber => sv_code_for('5678') });
is $res->{status}, 200, 'a code confirms in a 1g store';
for my $part ('members', 'codes') {
    my $dir = Test::Nginx::Util::server_root() . "/smsverify_temp/$part";
    my $out = `mdb_stat -e \Q$dir\E 2>&1`;
    like $out, qr/^\s*Map size: 1073741824$/m, "mdb_stat -e: $part, a map of 1g"
        or diag $out;
}



=== TEST 10: smsverify_store sync= that is no time
--- lmdb_only: sync=
--- http_config
    smsverify_store smsverify_temp sync=often;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid sync "sync=often" in \S+nginx\.conf:\d+/



=== TEST 11: smsverify_store sync=0
--- lmdb_only: sync=
--- http_config
    smsverify_store smsverify_temp sync=0s;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid sync "sync=0s"/



=== TEST 12: smsverify_store with an unknown parameter
--- http_config
    smsverify_store smsverify_temp size=8m mode=0700;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "mode=0700" in \S+nginx\.conf:\d+/



=== TEST 13: smsverify_store twice
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_store other_temp size=8m;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_store" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 14: smsverify_store sync=on works (every commit synced)
--- lmdb_only: sync=
--- http_config
    smsverify_store smsverify_temp size=8m sync=on;
    smsverify_provider log;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-1234-5678',
    verificationNumber => sv_code_for('5678') });
is $res->{status}, 200, 'confirm under sync=on';



=== TEST 15: smsverify_store sync=off works
--- lmdb_only: sync=
--- http_config
    smsverify_store smsverify_temp size=8m sync=off;
    smsverify_provider log;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-1234-5678',
    verificationNumber => sv_code_for('5678') });
is $res->{status}, 200, 'confirm under sync=off';



=== TEST 16: smsverify_store sync=100ms works, and the timer does not break it
--- lmdb_only: sync=
--- http_config
    smsverify_store smsverify_temp size=8m sync=100ms;
    smsverify_provider log;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
sleep 0.35;     # a few syncs run meanwhile
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-1234-5678',
    verificationNumber => sv_code_for('5678') });
is $res->{status}, 200, 'confirm under sync=100ms';
my $logged = do { open my $in, '<', $Test::Nginx::Util::ErrLogFile; local $/; <$in> };
unlike $logged, qr/smsverify store maintenance failed/, 'the syncs went well';



=== TEST 17: nginx creates the store directory and a 32-byte 0600 server key
--- lmdb_only: the key made in the store directory
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $dir = Test::Nginx::Util::server_root() . '/smsverify_temp';
ok -d $dir, 'the store directory was created';
my @st = stat "$dir/secret.key";
ok @st, 'secret.key exists';
is sprintf('%04o', $st[2] & 07777), '0600', 'secret.key is 0600';
is $st[7], 32, 'secret.key holds 32 bytes';
open my $in, '<', "$dir/secret.key";
binmode $in;
my $key = do { local $/; <$in> } // '';
close $in;
isnt $key, "\0" x 32, 'not all zeros';
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-1234-5678',
    verificationNumber => sv_code_for('5678') });
is $res->{status}, 200, 'a code works under the generated key';



=== TEST 18: an existing server key in the store is kept, not replaced
--- lmdb_only: the key in the store directory
--- user_files eval
[["../smsverify_temp/secret.key", "K" x 32]]
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $path = Test::Nginx::Util::server_root() . '/smsverify_temp/secret.key';
open my $in, '<', $path;
binmode $in;
my $key = do { local $/; <$in> } // '';
close $in;
is $key, "K" x 32, 'the key file is untouched';



=== TEST 19: a short server key in the store stops nginx
--- lmdb_only: the key in the store directory
--- user_files eval
[["../smsverify_temp/secret.key", "K" x 5]]
--- must_die
--- error_log eval
qr/\[emerg\] .*server key "\S*smsverify_temp\/secret\.key" must hold 32 bytes/



=== TEST 20: the generated key survives a reload: a code still confirms
--- lmdb_only: the key made in the store directory
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $code = sv_code_for('5678');
ok main::reload_nginx(), 'nginx reloaded';
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => $code });
is $res->{status}, 200, 'the code sent before the reload confirms after it';



=== TEST 21: a valid smsverify_secret file works, also across a reload
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_secret $TEST_NGINX_HTML_DIR/sv.key;
    smsverify_provider log;
--- user_files
>>> sv.key
0123456789abcdef0123456789abcdef
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
ok !-e Test::Nginx::Util::server_root() . '/smsverify_temp/secret.key',
   'no secret.key is made when smsverify_secret names one';
my $code = sv_code_for('5678');
ok main::reload_nginx(), 'nginx reloaded with the same key';
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => $code });
is $res->{status}, 200, 'the code confirms';



=== TEST 22: a code sent under one key does not confirm after the key changed
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_secret $TEST_NGINX_HTML_DIR/sv.key;
    smsverify_provider log;
--- user_files
>>> sv.key
0123456789abcdef0123456789abcdef
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $code = sv_code_for('5678');
main::write_file(Test::Nginx::Util::html_dir() . '/sv.key', 'fedcba9876543210fedcba9876543210');
ok main::reload_nginx(), 'nginx reloaded with another key';
my $res = sv_request(POST => '/confirm',
    { phoneNumber => '010-1234-5678', verificationNumber => $code });
is $res->{status}, 400, 'the right code is refused under the new key';
is $res->{json}{error}, 'CODE_MISMATCH', 'CODE_MISMATCH';



=== TEST 23: smsverify_secret naming a missing file
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_secret $TEST_NGINX_HTML_DIR/no-such.key;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*open\(\) "\S*no-such\.key" failed \(2: No such file or directory\) in \S+nginx\.conf:\d+/



=== TEST 24: smsverify_secret naming a file shorter than 32 bytes
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_secret $TEST_NGINX_HTML_DIR/short.key;
    smsverify_provider log;
--- user_files eval
[["short.key", "0123456789abcdef0123456789abcde"]]
--- must_die
--- error_log eval
qr/\[emerg\] .*secret file "\S*short\.key" must hold at least 32 bytes in \S+nginx\.conf:\d+/



=== TEST 25: smsverify_secret naming an empty file
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_secret $TEST_NGINX_HTML_DIR/empty.key;
    smsverify_provider log;
--- user_files eval
[["empty.key", ""]]
--- must_die
--- error_log eval
qr/\[emerg\] .*secret file "\S*empty\.key" must hold at least 32 bytes/



=== TEST 26: smsverify_secret twice
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_secret $TEST_NGINX_HTML_DIR/a.key;
    smsverify_secret $TEST_NGINX_HTML_DIR/a.key;
    smsverify_provider log;
--- user_files
>>> a.key
0123456789abcdef0123456789abcdef
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_secret" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 27: smsverify_secret is an http directive only
--- config
    smsverify_secret $TEST_NGINX_HTML_DIR/a.key;
    location = /send { smsverify send; }
--- user_files
>>> a.key
0123456789abcdef0123456789abcdef
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_secret" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 28: smsverify_thread_pool naming an undefined pool
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_thread_pool nosuchpool;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown thread pool "nosuchpool" in \S+nginx\.conf:\d+/



=== TEST 29: smsverify_thread_pool naming an undefined pool in a location
--- config
    location = /send {
        smsverify_thread_pool nosuchpool;
        smsverify send;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown thread pool "nosuchpool" in \S+nginx\.conf:\d+/



=== TEST 30: the unknown thread pool error names the line of smsverify_thread_pool
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    include $TEST_NGINX_HTML_DIR/pool.conf;
--- user_files
>>> pool.conf
# the pool for provider calls
smsverify_thread_pool nosuchpool;
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown thread pool "nosuchpool" in \S+\/pool\.conf:2\b/



=== TEST 31: the same for smsverify_thread_pool in a location
--- config
    location = /send {
        include $TEST_NGINX_HTML_DIR/pool.conf;
        smsverify send;
    }
--- user_files
>>> pool.conf
# the pool for provider calls
smsverify_thread_pool nosuchpool;
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown thread pool "nosuchpool" in \S+\/pool\.conf:2\b/



=== TEST 32: smsverify_provider with an unknown name
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider twilio;
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown provider "twilio", it must be "sens", "cafe24" or "log" in \S+nginx\.conf:\d+/



=== TEST 33: smsverify_provider sens with an unknown parameter
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s access_key=a secret_key=k
                       from=0212345678 region=kr;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "region" for provider "sens" in \S+nginx\.conf:\d+/



=== TEST 34: smsverify_provider cafe24 does not take sens' parameters
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=u secure_key=k from=070-1234-5678
                       access_key=a;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "access_key" for provider "cafe24"/



=== TEST 35: smsverify_provider log takes no parameter
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log level=info;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "level" for provider "log"/



=== TEST 36: a provider parameter without "="
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id access_key=a secret_key=k
                       from=0212345678;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "service_id" in \S+nginx\.conf:\d+/



=== TEST 37: a provider parameter with an empty value
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s access_key=a secret_key=k from=;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "from" for provider "sens"/



=== TEST 38: a provider timeout= that is no time
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s access_key=a secret_key=k
                       from=0212345678 timeout=soon;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "timeout" for provider "sens"/



=== TEST 39: cafe24 testflag= other than on|off
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=u secure_key=k from=070-1234-5678
                       testflag=yes;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "testflag" for provider "cafe24"/



=== TEST 40: sens without service_id
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens access_key=a secret_key=k from=0212345678;
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "sens" needs "service_id=" in \S+nginx\.conf:\d+/



=== TEST 41: sens without access_key
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s secret_key=k from=0212345678;
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "sens" needs "access_key="/



=== TEST 42: sens without secret_key or secret_key_file
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s access_key=a from=0212345678;
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "sens" needs "secret_key="/



=== TEST 43: sens without from
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s access_key=a secret_key=k;
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "sens" needs "from="/



=== TEST 44: cafe24 without user_id
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 secure_key=k from=070-1234-5678;
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "cafe24" needs "user_id=" in \S+nginx\.conf:\d+/



=== TEST 45: cafe24 without secure_key or secure_key_file
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=u from=070-1234-5678;
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "cafe24" needs "secure_key="/



=== TEST 46: cafe24 without from
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=u secure_key=k;
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "cafe24" needs "from="/



=== TEST 47: sens secret_key_file naming a missing file
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s access_key=a from=0212345678
                       secret_key_file=$TEST_NGINX_HTML_DIR/no-such.secret;
--- must_die
--- error_log eval
qr/\[emerg\] .*open\(\) "\S*no-such\.secret" failed \(2: No such file or directory\) in \S+nginx\.conf:\d+/



=== TEST 48: sens secret_key_file naming an empty file
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s access_key=a from=0212345678
                       secret_key_file=$TEST_NGINX_HTML_DIR/empty.secret;
--- user_files eval
[["empty.secret", ""]]
--- must_die
--- error_log eval
qr/\[emerg\] .*secret file "\S*empty\.secret" is empty in \S+nginx\.conf:\d+/



=== TEST 49: cafe24 secure_key_file naming a file whose first line is empty
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=u from=070-1234-5678
                       secure_key_file=$TEST_NGINX_HTML_DIR/blank.secret;
--- user_files eval
[["blank.secret", "\nkey-on-the-second-line\n"]]
--- must_die
--- error_log eval
qr/\[emerg\] .*secret file "\S*blank\.secret" is empty/



=== TEST 50: cafe24 secure_key_file naming a missing file
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=u from=070-1234-5678
                       secure_key_file=$TEST_NGINX_HTML_DIR/no-such.secret;
--- must_die
--- error_log eval
qr/\[emerg\] .*open\(\) "\S*no-such\.secret" failed \(2: No such file or directory\)/



=== TEST 51: sens with a sender that is not a number
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s access_key=a secret_key=k
                       from=MyShop;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid sender "from=MyShop" for provider "sens".* in \S+nginx\.conf:\d+/



=== TEST 52: cafe24 with a sender without hyphens
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=u secure_key=k from=07012345678;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid sender "from=07012345678" for provider "cafe24"/



=== TEST 53: a provider url that is not http(s)
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider sens service_id=s access_key=a secret_key=k
                       from=0212345678 url=ftp://sens.example;
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "sens" url "ftp:\/\/sens\.example" must start with "http:\/\/" or "https:\/\/" in \S+nginx\.conf:\d+/



=== TEST 54: a cafe24 url without a scheme
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider cafe24 user_id=u secure_key=k from=070-1234-5678
                       url=sslsms.cafe24.com;
--- must_die
--- error_log eval
qr/\[emerg\] .*provider "cafe24" url "sslsms\.cafe24\.com" must start with "http:\/\/" or "https:\/\/"/



=== TEST 55: a send location without any provider
--- http_config
    smsverify_store smsverify_temp size=8m;
--- must_die
--- error_log eval
qr/\[emerg\] .*no "smsverify_provider" is defined for "smsverify send" in \S+nginx\.conf:\d+/



=== TEST 56: the error names the line of "smsverify send", not the end of a block
--- http_config
    smsverify_store smsverify_temp size=8m;
--- config
    include $TEST_NGINX_HTML_DIR/send.conf;
--- user_files
>>> send.conf
location = /send {
    smsverify send;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*no "smsverify_provider" is defined for "smsverify send" in \S+\/send\.conf:2\b/



=== TEST 57: confirm, signup and status need no provider
--- http_config
    smsverify_store smsverify_temp size=8m;
--- config
    location = /confirm { smsverify confirm; }
    location = /signup  { smsverify signup; }
    location = /status  { smsverify status; }
--- request
GET /status
--- error_code: 200
--- response_body chomp
{"codesPending":0,"members":0,"webhookBacklog":0,"sent":0,"sendFailed":0,"confirmed":0,"confirmFailed":0,"signups":0,"rateLimited":0,"testSends":0,"logins":0,"loginsFailed":0,"resets":0,"webhookDelivered":0,"webhookFailed":0,"storeUnavailable":0,"providers":{}}



=== TEST 58: smsverify_message of 90 bytes in EUC-KR (Korean counts 2) is fine
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_message "가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가[$smsverify_code]";
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- error_log eval
qr/message "(?:가){41}\[\d{6}\]"/



=== TEST 59: smsverify_message of 91 bytes in EUC-KR with the code
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_message "가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가[$smsverify_code].";
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_message" in \S+nginx\.conf:\d+ takes 91 bytes in EUC-KR with a 6-digit code, more than one SMS \(90\), for "smsverify send" in \S+nginx\.conf:\d+/



=== TEST 60: smsverify_message that fits with 6 digits but not with 8
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_code_length 8;
    smsverify_message "가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가[${smsverify_code}]";
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_message" in \S+nginx\.conf:\d+ takes 92 bytes in EUC-KR with the 8-digit code of "smsverify_code_length" in \S+nginx\.conf:\d+, more than one SMS \(90\), for "smsverify send" in \S+nginx\.conf:\d+/



=== TEST 61: the message error names the line of smsverify_message and of "smsverify send"
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    include $TEST_NGINX_HTML_DIR/message.conf;
--- config
    include $TEST_NGINX_HTML_DIR/send.conf;
--- user_files
>>> message.conf
# the SMS text
smsverify_message "가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가[$smsverify_code].";
>>> send.conf
location = /send {
    smsverify send;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_message" in \S+\/message\.conf:2 takes 91 bytes in EUC-KR with a 6-digit code, more than one SMS \(90\), for "smsverify send" in \S+\/send\.conf:2$/



=== TEST 61b: ... and of smsverify_code_length when the code's length makes it too long
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    include $TEST_NGINX_HTML_DIR/message.conf;
--- config
    location = /send {
        include $TEST_NGINX_HTML_DIR/length.conf;
        smsverify send;
    }
    location = /send6 {
        include $TEST_NGINX_HTML_DIR/send.conf;
    }
--- user_files
>>> message.conf
# 84 bytes in EUC-KR and the code
smsverify_message "가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가가[$smsverify_code]";
>>> length.conf

# longer codes here
smsverify_code_length 8;
>>> send.conf
smsverify send;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_message" in \S+\/message\.conf:2 takes 92 bytes in EUC-KR with the 8-digit code of "smsverify_code_length" in \S+\/length\.conf:3, more than one SMS \(90\), for "smsverify send" in \S+nginx\.conf:\d+$/



=== TEST 62: smsverify_message that is not UTF-8
--- http_config eval
"    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_message \"\xff\xfe [\$smsverify_code]\";"
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_message" in \S+nginx\.conf:\d+ is not valid UTF-8 for "smsverify send" in \S+nginx\.conf:\d+/



=== TEST 62b: a smsverify_message without the code
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_message "Welcome to [$host]";
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_message" in \S+nginx\.conf:\d+ has no \$smsverify_code for "smsverify send" in \S+nginx\.conf:\d+/



=== TEST 62ba: the same, at its own line, for a location's "smsverify send"
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
--- config
    location = /send {
        include $TEST_NGINX_HTML_DIR/message.conf;
        include $TEST_NGINX_HTML_DIR/send.conf;
    }
--- user_files
>>> message.conf
smsverify_message "Welcome to [$host]";
>>> send.conf

smsverify send;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_message" in \S+\/message\.conf:1 has no \$smsverify_code for "smsverify send" in \S+\/send\.conf:2$/



=== TEST 62c: the code with other variables is checked per request only
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_message "[$host] ${smsverify_code}";
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- more_headers
Content-Type: application/json
--- error_code: 200
--- error_log eval
qr/message "\[localhost\] \d{6}"/



=== TEST 63: smsverify_code_length 3
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_code_length 3;
--- must_die
--- error_log eval
qr/\[emerg\] .*value must be between 4 and 10 in \S+nginx\.conf:\d+/



=== TEST 64: smsverify_code_length 11
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_code_length 11;
--- must_die
--- error_log eval
qr/\[emerg\] .*value must be between 4 and 10/



=== TEST 65: smsverify_code_length 4 and 10 are fine
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_code_length 4;
--- config
    location = /send { smsverify send; }
    location = /send10 { smsverify_code_length 10; smsverify send; }
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
like sv_code_for('5678'), qr/^\d{4}$/, 'a 4-digit code';
my $res = sv_request(POST => '/send10', { phoneNumber => '010-9999-1111' });
is $res->{status}, 200, 'send with 10 digits';
like sv_code_for('1111'), qr/^\d{10}$/, 'a 10-digit code';



=== TEST 66: smsverify_code_ttl 0
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_code_ttl 0;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_code_ttl" directive must be more than 0 and at most 10m in \S+nginx\.conf:\d+/



=== TEST 67: smsverify_code_ttl over 10m
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_code_ttl 601s;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_code_ttl" directive must be more than 0 and at most 10m/



=== TEST 68: smsverify_code_ttl 10m is the longest allowed
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_code_ttl 10m;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- response_body_like: "expiresIn":600,



=== TEST 69: smsverify_max_attempts 0
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_max_attempts 0;
--- must_die
--- error_log eval
qr/\[emerg\] .*value must be between 1 and \d+ in \S+nginx\.conf:\d+/



=== TEST 70: smsverify_max_attempts that is no number
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_max_attempts many;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_max_attempts" directive invalid number in \S+nginx\.conf:\d+/



=== TEST 71: smsverify_resend_interval that is no time
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_resend_interval soon;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_resend_interval" directive invalid value in \S+nginx\.conf:\d+/



=== TEST 72: smsverify_token_ttl that is no time
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_token_ttl half-an-hour;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_token_ttl" directive invalid value in \S+nginx\.conf:\d+/



=== TEST 73: smsverify_send_limit with N 0
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_send_limit 0 1h;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number "0", it must be 1 to \d+ in \S+nginx\.conf:\d+/



=== TEST 74: smsverify_send_limit with N not a number
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_send_limit five 1h;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number "five"/



=== TEST 75: smsverify_send_limit with a bad time
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_send_limit 5 hourly;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid time "hourly" in \S+nginx\.conf:\d+/



=== TEST 76: smsverify_send_limit with a zero time
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_send_limit 5 0s;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid time "0s"/



=== TEST 77: smsverify_send_limit with one argument
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_send_limit 5;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "smsverify_send_limit" directive in \S+nginx\.conf:\d+/



=== TEST 78: smsverify_countries with a non-digit
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_countries 82 +1;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid country calling code "\+1" in \S+nginx\.conf:\d+/



=== TEST 79: smsverify_countries with a leading zero
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_countries 082;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid country calling code "082"/



=== TEST 80: smsverify_countries with 4 digits
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_countries 82 1234;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid country calling code "1234"/



=== TEST 81: smsverify_countries with 3 digits is fine
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_countries 886;
--- request
POST /send
{"phoneNumber":"+886 912 345 678"}
--- error_code: 200
--- response_body_like: "phoneNumber":"\+886912345678"



=== TEST 82: smsverify_terms with id 0
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_terms 0 required;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid terms id "0" in \S+nginx\.conf:\d+/



=== TEST 83: smsverify_terms with an id that is no number
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_terms privacy required;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid terms id "privacy"/



=== TEST 84: smsverify_terms with a duplicate id
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_terms 1 required;
    smsverify_terms 2 optional;
    smsverify_terms 1 optional;
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate terms id "1" in \S+nginx\.conf:\d+/



=== TEST 85: smsverify_terms neither required nor optional
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_terms 1 mandatory;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "mandatory", it must be "required" or "optional" in \S+nginx\.conf:\d+/



=== TEST 86: smsverify_password_length with MIN over MAX
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_length 12 10;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid lengths "12" "10", they must be 1 <= MIN <= MAX <= 72 \(bcrypt's limit\) in \S+nginx\.conf:\d+/



=== TEST 87: smsverify_password_length with MAX over 72
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_length 8 73;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid lengths "8" "73"/



=== TEST 88: smsverify_password_length with a MIN that is no number
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_length short 64;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid lengths "short" "64"/



=== TEST 89: smsverify_password_hash other than bcrypt
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash argon2;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid hash "argon2", it must be "bcrypt" in \S+nginx\.conf:\d+/



=== TEST 90: smsverify_password_hash bcrypt cost=3
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=3;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid cost "cost=3", it must be 4 to 31 in \S+nginx\.conf:\d+/



=== TEST 91: smsverify_password_hash bcrypt cost=32
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash bcrypt cost=32;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid cost "cost=32", it must be 4 to 31/



=== TEST 92: smsverify_password_hash bcrypt with an unknown parameter
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_password_hash bcrypt rounds=10;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "rounds=10" in \S+nginx\.conf:\d+/



=== TEST 93: smsverify_token_cookie neither on nor off
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_token_cookie yes;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid value "yes" in "smsverify_token_cookie" directive, it must be "on" or "off" in \S+nginx\.conf:\d+/



=== TEST 94: smsverify_cors with an origin without a scheme
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_cors shop.example;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid origin "shop\.example", it must be "\*" or start with "http:\/\/" or "https:\/\/" in \S+nginx\.conf:\d+/



=== TEST 95: smsverify_cors with "*" after an origin
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_cors https://shop.example *;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_cors" directive takes "\*" alone in \S+nginx\.conf:\d+/



=== TEST 96: smsverify_cors with "*" before an origin
--- http_config
    smsverify_store smsverify_temp size=8m;
    smsverify_provider log;
    smsverify_cors * https://shop.example;
--- must_die
--- error_log eval
qr/\[emerg\] .*"smsverify_cors" directive takes "\*" alone/



=== TEST 97: the "log" provider warning: once per configuration load, naming the first one
--- http_config
    smsverify_store smsverify_temp size=8m;
    include $TEST_NGINX_HTML_DIR/log.conf;
--- config
    location = /send  { smsverify_provider log; smsverify send; }
    location = /send2 { smsverify_provider log; smsverify send; }
--- user_files
>>> log.conf
# for development
smsverify_provider log;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $warning = qr/\[warn\] .*the "log" provider writes every code to the error log: use it for development only in \S+\/log\.conf:2$/;
my $count = sub {
    open my $in, '<', $Test::Nginx::Util::ErrLogFile or die $!;
    my @all = grep { /development only/ } <$in>;
    is scalar(grep { /$warning/ } @all), scalar(@all),
       'every warning names log.conf:2' or diag @all;
    return scalar @all;
};
my $before = $count->();
ok main::reload_nginx(), 'nginx reloaded';
is $count->() - $before, 1, 'the reload warned once, in the error log';

my $root = Test::Nginx::Util::server_root();
my $out = qx{$Test::Nginx::Util::NginxBinary -p '$root/' -c '$Test::Nginx::Util::ConfFile' -t 2>&1};
is $?, 0, 'nginx -t passes' or diag $out;
my @lines = grep { /development only/ } split /\n/, $out;
is scalar @lines, 1, 'nginx -t warns once' or diag $out;
like $lines[0] // '', qr/^nginx: \[warn\] the "log" provider .* in \S+\/log\.conf:2$/,
     'naming the first "smsverify_provider log"';



=== TEST 98: smsverify_store writemap=on: a small map allocated whole, and it works
--- lmdb_only: LMDB's map
--- http_config
    smsverify_store smsverify_temp size=8m sync=1s writemap=on;
    smsverify_provider log;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-1234-5678',
    verificationNumber => sv_code_for('5678') });
is $res->{status}, 200, 'confirm under writemap=on';
my @st = stat(server_root() . '/smsverify_temp/codes/data.mdb');
is $st[7], 8 * 1024 * 1024, 'the file is the map';
ok $st[12] * 512 >= 8 * 1024 * 1024, 'its blocks allocated';
@st = stat(server_root() . '/smsverify_temp/members/data.mdb');
ok $st[7] < 8 * 1024 * 1024, 'the members\' part is not written through its map';



=== TEST 98a: writemap is on by default; a large map is not allocated whole
--- lmdb_only: LMDB's map
--- http_config
    smsverify_store smsverify_temp size=1g;
    smsverify_provider log;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-1234-5678',
    verificationNumber => sv_code_for('5678') });
is $res->{status}, 200, 'confirm under the default';
my @st = stat(server_root() . '/smsverify_temp/codes/data.mdb');
is $st[7], 1024 * 1024 * 1024, 'the file is the map: writemap=on';
ok $st[12] * 512 >= 64 * 1024 * 1024, 'allocated ahead of what it holds';
ok $st[12] * 512 < 256 * 1024 * 1024, 'but not the whole 1g'
    or diag $st[12] * 512;



=== TEST 98b: writemap=off: the codes' file grows with what it holds
--- lmdb_only: LMDB's map
--- http_config
    smsverify_store smsverify_temp size=8m writemap=off;
    smsverify_provider log;
--- request
POST /send
{"phoneNumber":"010-1234-5678"}
--- error_code: 200
--- flow
my $res = sv_request(POST => '/confirm', { phoneNumber => '010-1234-5678',
    verificationNumber => sv_code_for('5678') });
is $res->{status}, 200, 'confirm under writemap=off';
my @st = stat(server_root() . '/smsverify_temp/codes/data.mdb');
ok $st[7] < 8 * 1024 * 1024, 'the file is not the map';



=== TEST 99: smsverify_store writemap= neither on nor off
--- lmdb_only: writemap=
--- http_config
    smsverify_store smsverify_temp writemap=yes;
    smsverify_provider log;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "writemap=yes" in \S+nginx\.conf:\d+/
