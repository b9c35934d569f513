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
#   sv_store_is_pg()        the suite runs against the PostgreSQL store
#   sv_psql($sql)           psql on its database: the rows, as arrays
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
our @EXPORT = qw(sv_flow_blocks sv_block_defaults sv_verify_phone sv_member
                 sv_store_is_pg sv_psql);
our @EXPORT_OK = qw(register_load_module run_flow $Module $RepoRoot
                    $LastConfirm sv_pg_empty sv_pg_key_file $PgUri);
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
        sv_pg_block($block) if sv_store_is_pg();
        return if defined $block->no_load_module || $Module eq '';
        my $main_config = $block->main_config // '';
        $block->set_value(main_config => "load_module $Module;\n$main_config");
    });
}

# ---- the PostgreSQL store ---------------------------------------------------
#
# With TEST_NGINX_SMSVERIFY_STORE=postgresql (and TEST_NGINX_PG_URI, from
# "t/pg/pg.sh env"), every block runs against the PostgreSQL store: its
# "smsverify_store DIR ...;" lines become the URI (size= and sync= left
# out, other parameters kept), a block without smsverify_secret gets one
# (a key file of this run), and the block starts from an empty database
# (the schema smsverify dropped; the module makes it again at its first
# connection). A store line that names a URI already (or
# $TEST_NGINX_PG_...) is left as it is. A store named by $TEST_NGINX_PERSIST_DIR is meant to
# outlive a block: only its first block starts empty.
#
# A block with a --- lmdb_only section (its value: why) is about what only
# the LMDB store has (its files, its map size, sync=, its start check) and
# is skipped, as a --- skip_eval section of upstream Test::Nginx skips.

our $PgUri = $ENV{TEST_NGINX_PG_URI};

sub sv_store_is_pg {
    return ($ENV{TEST_NGINX_SMSVERIFY_STORE} // '') =~ /^postgres(?:ql)?$/;
}

my ($pg_key_file, %pg_persisted);

sub sv_pg_key_file {
    return $pg_key_file if $pg_key_file;
    require File::Temp;
    my $dir = File::Temp::tempdir('smsverify-pg-key.XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    $pg_key_file = "$dir/secret.key";
    open my $out, '>', $pg_key_file or die "cannot write $pg_key_file: $!";
    binmode $out;
    print $out join '', map { chr int rand 256 } 1 .. 32;
    close $out;
    chmod 0644, $pg_key_file;
    return $pg_key_file;
}

# psql on the tests' database: the output's rows, fields split at "|"
sub sv_psql {
    my ($sql) = @_;
    die "TEST_NGINX_PG_URI is not set (eval \"\$(t/pg/pg.sh env)\")\n"
        if !$PgUri;
    my $bin = ($ENV{SV_PG_BIN} // '/usr/lib/postgresql/15/bin') . '/psql';
    $bin = 'psql' if !-x $bin;
    my @cmd = ($bin, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $PgUri,
               '-c', $sql);
    open my $in, '-|', @cmd or die "cannot run psql: $!\n";
    my @rows = map { chomp; [split /\|/, $_, -1] } <$in>;
    close $in or die "psql failed (status $?): $sql\n";
    return \@rows;
}

sub sv_pg_empty {
    sv_psql('SET client_min_messages = warning; '
            . 'DROP SCHEMA IF EXISTS smsverify CASCADE');
}

sub sv_pg_block {
    my $block = shift;

    if (defined $block->lmdb_only) {
        (my $why = $block->lmdb_only) =~ s/\s+$//;
        $block->set_value(skip_eval => "1: 1 # LMDB only: $why");
        return;
    }

    my ($stores, $persist, $secret) = (0, 0, 0);
    for my $section (qw(http_config config main_config)) {
        my $text = $block->can($section) ? $block->$section : undef;
        next if !defined $text;
        $secret ||= $text =~ /^\s*smsverify_secret\s/m;
        $text =~ s{^([ \t]*)smsverify_store[ \t]+(?!postgres|\$TEST_NGINX_PG_)([^;\s]+)([^;\n]*);}{
            my ($indent, $dir, $params) = ($1, $2, $3);
            $stores++;
            $persist ||= $dir =~ /PERSIST/;
            my $kept = join '', map { " $_" }
                       grep { !/^(?:size|sync)=/ } split ' ', $params;
            "${indent}smsverify_store $PgUri$kept;"
        }gme;
        $block->set_value($section => $text);
    }
    return if !$stores;

    if (!$secret) {
        my $key = sv_pg_key_file();
        my $text = $block->http_config;
        $text =~ s{^(\s*smsverify_store [^;]*;)}{$1\n    smsverify_secret $key;}m;
        $block->set_value(http_config => $text);
    }

    sv_pg_empty() if !$persist || !$pg_persisted{$0}++;
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
