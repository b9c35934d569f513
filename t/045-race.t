# Signups racing across two workers: the store's one write transaction
# decides, whatever worker runs it.

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

=== TEST 1: racing signups for one email from two workers: exactly one wins
--- request
GET /status
--- error_code: 200
--- flow
my @tokens = map { sv_verify_phone("010-1234-00$_") } 10 .. 17;
my @pids;
for my $i (0 .. 7) {
    push @pids, sv_fork(sub {
        my $res = sv_request(POST => '/signup',
            sv_member(verificationToken => $tokens[$i],
                   phoneNumber => '010-1234-00' . (10 + $i),
                   email => 'same@example.com'));
        return $res->{status} == 200 ? 0 : $res->{status} == 409 ? 9 : 1;
    });
}
my @rc = sort map { waitpid($_, 0); $? >> 8 } @pids;
is_deeply \@rc, [0, (9) x 7], 'one 200, seven 409 EMAIL_TAKEN';
is scalar(sv_members_in_store()), 1, 'one member';
