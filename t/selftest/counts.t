# "plan tests => ..." counts as upstream Test::Nginx counts: one test for
# the status of each response, one per body check, one per error-log
# pattern each time the log is checked (after every request but the last,
# and at the end), and everything again for each repeat_each.

use Test::Nginx::Socket;

repeat_each(2);
no_shuffle();

# TEST 1: 1 status + 1 body + 1 no_error_log pattern = 3
# TEST 2: 2 statuses + 2 bodies + 1 error_log pattern twice = 6
plan tests => repeat_each() * (3 * blocks() + 3);

run_tests();

__DATA__

=== TEST 1: one request
--- config
    location = /t {
        return 200 "ok";
    }
--- request
GET /t
--- response_body: ok
--- no_error_log
[error]



=== TEST 2: two requests
--- config
    location = /t {
        return 200 "ok";
    }
--- request eval
["GET /t", "GET /t?again"]
--- response_body eval
["ok", "ok"]
--- error_code eval
[200, 200]
--- error_log
http request line:
