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

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(http_config => $HttpConfig)
        if !defined $block->http_config;
    $block->set_value(config => $Config) if !defined $block->config;
    $block->set_value(more_headers => 'Content-Type: application/json')
        if !defined $block->more_headers;
});

# send, read the code where a person would see it, confirm: the token
sub SmsVerify::verify_phone {
    my ($phone) = @_;
    my $res = sv_request(POST => '/send', { phoneNumber => $phone });
    die "send: $res->{status} $res->{body}" if $res->{status} != 200;
    my $code = sv_code_for($phone);
    $res = sv_request(POST => '/confirm',
                      { phoneNumber => $phone, verificationNumber => "$code" });
    die "confirm: $res->{status} $res->{body}" if $res->{status} != 200;
    $SmsVerify::LastConfirm = $res;
    return $res->{json}{verificationToken};
}

sub SmsVerify::member {
    my %m = (email => 'kim@example.com', password => 'Passw0rd!',
             nickname => "\x{AE40}\x{CCA0}\x{C218}", phoneNumber => '010-1234-5678',
             termsId => [1, 2], @_);
    delete $m{$_} for grep { !defined $m{$_} } keys %m;
    return \%m;
}

sub SmsVerify::members_in_store {
    my $dir = Test::Nginx::Util::server_root() . '/smsverify_temp';
    my @out = `mdb_dump -p -s members $dir 2>&1`;
    return grep { /^ \{/ } @out;
}

workers(2);
master_on();
no_shuffle();
sv_flow_blocks();
run_tests();

__DATA__

=== TEST 1: racing signups for one email from two workers: exactly one wins
--- request
GET /status
--- error_code: 200
--- flow
my @tokens = map { verify_phone("010-1234-00$_") } 10 .. 17;
my @pids;
for my $i (0 .. 7) {
    push @pids, sv_fork(sub {
        my $res = sv_request(POST => '/signup',
            member(verificationToken => $tokens[$i],
                   phoneNumber => '010-1234-00' . (10 + $i),
                   email => 'same@example.com'));
        return $res->{status} == 200 ? 0 : $res->{status} == 409 ? 9 : 1;
    });
}
my @rc = sort map { waitpid($_, 0); $? >> 8 } @pids;
is_deeply \@rc, [0, (9) x 7], 'one 200, seven 409 EMAIL_TAKEN';
is scalar(members_in_store()), 1, 'one member';
