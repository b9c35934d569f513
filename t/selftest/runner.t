# Self-test of the test scaffold (t/lib stand-in or upstream Test::Nginx)
# and of t/inc/SmsVerify.pm, with plain nginx: no block loads our module.

use Test::Nginx::Socket 'no_plan';

# Only the one block without --- no_load_module sees this path, and there
# nginx must fail to load it.
BEGIN { $ENV{TEST_NGINX_SMSVERIFY_MODULE} = '/nonexistent/ngx_http_smsverify_module.so' }

use lib 't/inc';
use SmsVerify;

sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: status, body and headers
--- no_load_module
--- config
    location = /hello {
        add_header X-Foo bar;
        return 200 "hello";
    }
--- request
GET /hello
--- error_code: 200
--- response_body chomp
hello
--- response_headers
Content-Type: text/plain
X-Foo: bar
!X-Nope



=== TEST 2: response_body_like, response_headers_like, an unknown section
--- no_load_module
--- config
    location = /hello {
        return 200 "hello world";
    }
--- request
GET /hello
--- response_body_like: ^hello w\w+$
--- response_headers_like
Content-Length: \d+
--- some_unknown_section
whatever



=== TEST 3: several requests, each with its own expectations
--- no_load_module
--- config
    location = /a {
        add_header X-A 1;
        return 200 "a";
    }
    location = /b {
        return 201 "b";
    }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 201]
--- response_body eval
["a", "b"]
--- response_headers eval
["X-A: 1", "!X-A"]



=== TEST 4: a request body: trimmed, with Content-Length
--- no_load_module
--- config
    location = /t {
        return 200 "len=$content_length";
    }
--- request
POST /t
hello world
--- response_body: len=11



=== TEST 5: a chunked request body
--- no_load_module
--- config
    location = /t {
        return 200 "got it";
    }
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /t\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
--- response_body: got it
--- no_error_log
[error]
client sent invalid chunked body



=== TEST 6: a broken chunked body is refused (so the body is sent as given)
--- no_load_module
--- config
    location = /t {
        return 200 "got it";
    }
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /t\nzz\r\nhello\r\n0\r\n\r\n"
--- error_code: 400
--- error_log
client sent invalid chunked body



=== TEST 7: error_log and no_error_log, string lines and eval arrays
--- no_load_module
--- config
    location = /log {
        return 200 "logged";
    }
--- request
GET /log
--- response_body: logged
--- wait: 0.1
--- error_log
http request line: "GET /log HTTP/1.1"
--- no_error_log eval
[qr/\[error\]/, qr/\[alert\]/]



=== TEST 8: must_die with an unknown directive
--- no_load_module
--- config
    no_such_directive on;
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown directive "no_such_directive"/



=== TEST 9: without --- no_load_module the module is loaded
--- config
    location = /t {
        return 200;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*dlopen\(\) "/nonexistent/ngx_http_smsverify_module\.so" failed}



=== TEST 10: user_files, also outside html/; $TEST_NGINX_ variables
--- no_load_module
--- user_files
>>> foo.txt
hello file
>>> ../conf/extra.conf
location = /port {
    return 200 "$TEST_NGINX_SERVER_PORT";
}
--- config
    include extra.conf;
--- request eval
["GET /foo.txt", "GET /port"]
--- response_body eval
["hello file\n", "$ENV{TEST_NGINX_SERVER_PORT}"]



=== TEST 11: raw_request
--- no_load_module
--- config
    location = /raw {
        return 200 "raw";
    }
--- raw_request eval
"GET /raw HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body: raw
--- timeout: 2



=== TEST 12: pipelined_requests
--- no_load_module
--- config
    location = /a {
        return 200 "a";
    }
    location = /b {
        return 201 "b";
    }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- error_code eval
[200, 201]
--- response_body eval
["a", "b"]



=== TEST 13: --- flow runs after the first response, with the helpers
--- no_load_module
--- config
    location = /hello {
        return 200 "hello";
    }
    location = /json {
        default_type application/json;
        add_header Set-Cookie "a=1; Path=/";
        add_header Set-Cookie "b=two; HttpOnly";
        return 200 '{"ok":true,"n":3,"len":"$content_length","type":"$content_type"}';
    }
--- request
GET /hello
--- response_body: hello
--- flow
is($body, "hello", 'flow: sees the first response');
like($block->name, qr/TEST 13/, 'flow: sees the block');
ok(-f server_root() . '/conf/nginx.conf', 'flow: server_root()');
ok(-f html_dir() . '/index.html', 'flow: html_dir()');

my $r = sv_request('POST', '/json', { phone => '01012345678' });
is($r->{status}, 200, 'flow: status');
is($r->{headers}{'content-type'}, 'application/json', 'flow: lowercase headers');
ok($r->{json}{ok}, 'flow: json decoded');
is($r->{json}{n}, 3, 'flow: json number');
is($r->{json}{len}, length('{"phone":"01012345678"}'), 'flow: json body sent');
is($r->{json}{type}, 'application/json', 'flow: json content type sent');
is($r->{headers}{'set-cookie'}, "a=1; Path=/\nb=two; HttpOnly", 'flow: cookies joined');
is(sv_cookie($r, 'a'), '1', 'flow: cookie a');
is(sv_cookie($r, 'b'), 'two', 'flow: cookie b');
is(sv_cookie($r, 'c'), undef, 'flow: no cookie c');

my $pid = sv_fork(sub { sv_request('GET', '/hello')->{body} eq 'hello' ? 7 : 1 });
waitpid $pid, 0;
is($? >> 8, 7, 'flow: sv_fork child ran and nginx is still up');
is(sv_request('GET', '/hello')->{status}, 200, 'flow: nginx survived the child');

$r = sv_request('GET', '/nowhere', undef, { 'X-Any' => 'x' });
is($r->{status}, 404, 'flow: 404');
is($r->{json}, undef, 'flow: html is not json');

# what the log provider would write
open my $log, '>>', $Test::Nginx::Util::ErrLogFile or die "open: $!";
my $pre = '2024/01/01 00:00:00 [notice] 1#1: *1 smsverify log provider: to';
print $log qq{$pre "+82 10-****-5678" message "인증번호 [123456]를 입력해주세요.", client: 127.0.0.1\n};
print $log qq{$pre "+82 10-****-1111" message "[MyShop] 인증번호 [654321]를 입력해주세요."\n};
print $log qq{$pre "+82 10-****-5678" message "인증번호 [777777]를 입력해주세요.", client: 127.0.0.1\n};
close $log;
is(sv_code_for('5678'), '777777', 'flow: the last code for a phone');
is(sv_code_for('010-9999-1111'), '654321', 'flow: the code, not the shop name');
is(sv_code_for('0000'), undef, 'flow: no code for another phone');



=== TEST 14: a chunked response is decoded
--- no_load_module
--- config
    location = /t {
        sub_filter 'a' 'A';
        sub_filter_once off;
        sub_filter_types *;
        return 200 "banana";
    }
--- request
GET /t
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body: bAnAnA
