# One block under valgrind (TEST_NGINX_USE_VALGRIND=1 unless already set):
# nginx starts under memcheck, answers, stops, and its log is clean.

BEGIN {
    if (system('valgrind --version >/dev/null 2>&1') != 0) {
        print "1..0 # SKIP valgrind is not installed\n";
        exit 0;
    }
    $ENV{TEST_NGINX_USE_VALGRIND} ||= 1;
}

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

run_tests();

__DATA__

=== TEST 1: a clean run under valgrind
--- no_load_module
--- config
    location = /t {
        return 200 "clean";
    }
--- request
GET /t
--- response_body: clean
--- no_error_log
[error]
