# Crash safety: workers killed with SIGKILL in the middle of a signup
# load. The master starts new ones, they open the store cleanly (clearing
# the reader slots of dead processes), every member answered 200 is in the
# store, and none is half-written: members, emails and phones agree.
#
# The load: clients (sv_fork) each take phones through send, confirm and
# signup, with bcrypt costs 4 to 8, so that signups are in flight when a
# worker dies. A request the dying worker had is lost (the connection
# drops); its client starts that phone again. Under valgrind the load is
# smaller (40 phones, 6 clients, costs 4 and 6).

use Test::Nginx::Socket 'no_plan';
use lib 't/inc';
use SmsVerify;

# the generators (t/inc/SmsVerify/Crash.pm), in scope for the flows
{ package SmsVerify; use SmsVerify::Crash; }

our $HttpConfig = <<'_EOC_';
    smsverify_store smsverify_temp size=16m;
    smsverify_provider log;
    smsverify_resend_interval 1ms;
    smsverify_send_limit 20 1h;
    smsverify_terms 1 required;
_EOC_

our $Config = <<'_EOC_';
    location = /send    { smsverify send; }
    location = /confirm { smsverify confirm; }
    location = /signup4 { smsverify signup; smsverify_password_hash bcrypt cost=4; }
    location = /signup6 { smsverify signup; smsverify_password_hash bcrypt cost=6; }
    location = /signup8 { smsverify signup; smsverify_password_hash bcrypt cost=8; }
    location = /status  { smsverify status; }
_EOC_

sv_block_defaults(http_config => $HttpConfig, config => $Config);

master_on();
workers(2);
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: SIGKILL to workers under a signup load: nothing lost, nothing half-written
--- request
GET /status
--- log_level: notice
--- timeout: 600
--- flow
run_kills();
--- error_log eval
[qr/\[alert\] .*worker process \d+ exited on signal 9/]
--- no_error_log eval
[qr/could not open the store/, qr/\[(?:crit|emerg)\]/,
 qr/smsverify store failed/]



=== TEST 2: a writer killed holding the store's write lock: the next one recovers
LMDB's write lock is a robust mutex: a worker (here mdb_load) that dies
in a write transaction leaves it to the next writer, and its transaction
is never committed.
--- lmdb_only: LMDB's write lock, held by mdb_load
--- request
GET /status
--- log_level: notice
--- timeout: 600
--- flow
run_dead_writer();
--- no_error_log eval
[qr/exited on signal/, qr/smsverify store failed/,
 qr/\[(?:alert|crit|emerg)\]/]
