package SmsVerify::Flow;

# What the blocks of a .t file get, and whole flows for them to run.
#
#   register_load_module()  every block loads the module: a load_module
#                           line for $Module (TEST_NGINX_SMSVERIFY_MODULE,
#                           by default build/ngx_http_smsverify_module.so)
#                           before its main_config, unless the block has a
#                           --- no_load_module section or $Module is ''
#                           (the module is built into nginx). SmsVerify's
#                           import calls it.
#   sv_flow_blocks()        enables --- flow sections: Perl code run once,
#                           after the block's first response, in package
#                           SmsVerify (every helper in scope), with
#                           Test::More's functions, $block and $body
#   sv_block_defaults(config => $Config, ...)
#                           the values of sections a block leaves out
#   sv_verify_phone($phone, $send, $confirm)
#                           send, read the logged code, confirm: the token
#                           (the confirm's response in $LastConfirm)
#   sv_member(%fields)      a signup body
#
# and, in scope for flows: run_flow(), $Module, $RepoRoot, $LastConfirm.

use strict;
use warnings;

use Cwd ();
use File::Basename ();
use File::Spec ();
use Test::More;

use SmsVerify::Http qw(sv_request);
use SmsVerify::Log qw(sv_code_for);

use Exporter 'import';
our @EXPORT = qw(sv_flow_blocks sv_block_defaults sv_verify_phone sv_member);
our @EXPORT_OK = qw(register_load_module run_flow $Module $RepoRoot
                    $LastConfirm);
our %EXPORT_TAGS = (all => [@EXPORT, @EXPORT_OK]);

our $RepoRoot = Cwd::abs_path(
    File::Spec->catdir(File::Basename::dirname(__FILE__), '..', '..', '..'));

# The module's .so for load_module. Set but empty: the module is built
# into TEST_NGINX_BINARY (--add-module, make test-static), and no block
# loads it.
our $Module = $ENV{TEST_NGINX_SMSVERIFY_MODULE}
    // File::Spec->catfile($RepoRoot, 'build', 'ngx_http_smsverify_module.so');
$Module = File::Spec->rel2abs($Module) if $Module ne '';

my ($registered_preprocessor, $registered_flow);

sub register_load_module {
    return if $registered_preprocessor++;
    Test::Nginx::Util::add_block_preprocessor(sub {
        my $block = shift;
        return if defined $block->no_load_module || $Module eq '';
        my $main_config = $block->main_config // '';
        $block->set_value(main_config => "load_module $Module;\n$main_config");
    });
}

# ---- --- flow sections -----------------------------------------------------

sub sv_flow_blocks {
    return if $registered_flow++;
    Test::Nginx::Socket::add_response_body_check(sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
        # once per block: after its first response (not again for
        # repeat_each, as a flow's side effects need not be repeatable)
        return if $req_idx != 0 || $repeated_req_idx != 0 || $dry_run;
        my $flow = $block->flow;
        run_flow($block, $flow, $body) if defined $flow;
    });
}

# The flow's code sees $block and $body (the first response's body).
sub run_flow {
    my ($block, $flow, $body) = @_;
    (my $where = $block->name) =~ s/"/'/g;
    my $ok = eval "package SmsVerify;\n#line 1 \"--- flow of $where\"\n$flow\n;1";
    ok(0, $block->name . " - flow died: $@") if !$ok;
}

# ---- defaults and whole flows ----------------------------------------------

# Sections a block leaves out take these values, e.g.
#   sv_block_defaults(http_config => $HttpConfig, config => $Config,
#                     more_headers => 'Content-Type: application/json');
sub sv_block_defaults {
    my %default = @_;
    Test::Nginx::Util::add_block_preprocessor(sub {
        my $block = shift;
        for my $name (sort keys %default) {
            my $given = $block->can($name) ? $block->$name : undef;
            $block->set_value($name => $default{$name}) if !defined $given;
        }
    });
}

# Send, read the code where a person would see it (the log provider's
# line), confirm: the token.  The confirm's response stays in
# $SmsVerify::LastConfirm.
our $LastConfirm;

sub sv_verify_phone {
    my ($phone, $send, $confirm) = @_;
    my $res = sv_request(POST => $send // '/send', { phoneNumber => $phone });
    die "send: $res->{status} $res->{body}" if $res->{status} != 200;
    my $code = sv_code_for($phone);
    $res = sv_request(POST => $confirm // '/confirm',
                      { phoneNumber => $phone, verificationNumber => "$code" });
    die "confirm: $res->{status} $res->{body}" if $res->{status} != 200;
    $LastConfirm = $res;
    return $res->{json}{verificationToken};
}

# A signup body; keys given replace the defaults, undef ones are left out.
sub sv_member {
    my %m = (email => 'kim@example.com', password => 'Passw0rd!',
             nickname => "\x{AE40}\x{CCA0}\x{C218}",
             phoneNumber => '010-1234-5678', termsId => [1, 2], @_);
    delete $m{$_} for grep { !defined $m{$_} } keys %m;
    return \%m;
}

1;
