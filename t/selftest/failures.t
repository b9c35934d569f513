# The scaffold must fail what is wrong: runs a test file whose blocks are
# all broken in known ways and checks the TAP it prints (t/lib stand-in
# only: upstream Test::Nginx words its failures otherwise).

use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::More;

BEGIN {
    eval { require Test::Nginx::Util; 1 } && Test::Nginx::Util->can('first_valgrind_error')
        or plan skip_all => 'checks the t/lib stand-in of Test::Nginx';
}

my $dir = tempdir(CLEANUP => 1);
my $file = "$dir/broken.t";
open my $out, '>', $file or die "$file: $!";
print $out do { local $/; <DATA> };
close $out;

my @inc = map { "-I$_" } grep { !ref } @INC;
my $tap = `$^X @inc $file 2>&1`;
my $status = $?;

isnt($status, 0, 'the broken file fails');

my @expected_failures = (
    qr/TEST 1: wrong status - status code ok/,
    qr/TEST 2: wrong body - response_body - response is expected/,
    qr/TEST 3: wrong headers - header X-Foo not present/,
    qr/TEST 3: wrong headers - header X-Bar ok/,
    qr/TEST 4: wrong log - pattern "no such line anywhere" should match/,
    qr/TEST 4: wrong log - pattern "http request line" should not match/,
    qr/TEST 5: a flow that dies - flow died: oops at --- flow of/,
    qr/TEST 6: nginx does not die - die as expected/,
    qr/TEST 7: wrong body_like - response_body_like - response is expected/,
    qr/ERROR: client socket timed out - .*TEST 8: no answer/,
);

my @not_ok = $tap =~ /^not ok \d+ - (.*)$/mg;
for my $re (@expected_failures) {
    ok((grep { $_ =~ $re } @not_ok), "fails: $re");
}
is(scalar @not_ok, scalar @expected_failures, 'nothing else fails')
    or diag($tap);

like($tap, qr/^ok \d+ - .*TEST 3: wrong headers - status code ok/m,
     'what is right still passes');

done_testing();

__DATA__
use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

sv_flow_blocks();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: wrong status
--- no_load_module
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- error_code: 404



=== TEST 2: wrong body
--- no_load_module
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_body: not ok



=== TEST 3: wrong headers
--- no_load_module
--- config
    location = /t { add_header X-Foo 1; return 200 "ok"; }
--- request
GET /t
--- response_headers
!X-Foo
X-Bar: 2



=== TEST 4: wrong log
--- no_load_module
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- error_log
no such line anywhere
--- no_error_log
http request line



=== TEST 5: a flow that dies
--- no_load_module
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- flow
die "oops" if sv_request('GET', '/t')->{body} eq 'ok';



=== TEST 6: nginx does not die
--- no_load_module
--- config
    location = /t { return 200 "ok"; }
--- must_die



=== TEST 7: wrong body_like
--- no_load_module
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_body_like: ^nope$



=== TEST 8: no answer
--- no_load_module
--- config
    location = /t { return 200 "ok"; }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 0.3
--- error_code:
