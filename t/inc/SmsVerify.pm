package SmsVerify;

# Shared helpers for the module's Test::Nginx tests. Works under upstream
# Test::Nginx::Socket and under our stand-in in t/lib.
#
#   use Test::Nginx::Socket 'no_plan';
#   use lib 't/inc';
#   use SmsVerify;
#
# Loading it makes every block load the module (unless the block has a
# --- no_load_module section, or TEST_NGINX_SMSVERIFY_MODULE is set but
# empty: the module is built into nginx), and exports the sv_ helpers of
# the modules below. sv_flow_blocks() enables --- flow sections: Perl
# code run once, after the block's first response, in this package, with
# every helper below (exported or not), Test::More's functions,
# server_root(), html_dir(), $block and $body (that response's body) in
# scope.
#
#   SmsVerify::Http   requests to nginx: sv_request, sv_cookie, keep-alive
#                     connections
#   SmsVerify::Log    the error log: sv_code_for (the log provider's
#                     codes), sv_log_grep
#   SmsVerify::Store  the LMDB store read beside nginx: sv_store_dump,
#                     sv_store_entries, sv_members_in_store
#   SmsVerify::Proc   nginx's processes and the test's children:
#                     sv_master_pid, sv_worker_pids, sv_fork
#   SmsVerify::Mock   the mock SMS providers: sv_mock_start and its
#                     control API
#   SmsVerify::Webhook  the webhook receiver: sv_receiver_start and its
#                     control API; the store's outbox
#   SmsVerify::Flow   the blocks: load_module, --- flow sections,
#                     sv_block_defaults; whole flows: sv_verify_phone,
#                     sv_member
#
# Generators of single .t files live beside them (SmsVerify::Hostile for
# t/090-hostile.t, SmsVerify::Crash for t/091-crash.t); a .t file loads
# those itself.

use strict;
use warnings;

# Each module's names, exported or not, are this package's too: flows
# and the .t files' own helpers call them as they did when all of them
# were here (SmsVerify::server_root(), $SmsVerify::Timeout, ...).
use SmsVerify::Http qw(:all);
use SmsVerify::Log qw(:all);
use SmsVerify::Store qw(:all);
use SmsVerify::Proc qw(:all);
use SmsVerify::Mock qw(:all);
use SmsVerify::Webhook qw(:all);
use SmsVerify::Flow qw(:all);

# and flows have Test::More's functions, Time::HiRes's sleep and time,
# and the modules the helpers use (JSON::PP, POSIX, Encode, ...)
use Test::More;
use Time::HiRes qw(sleep time);

use base 'Exporter';
our @EXPORT = (@SmsVerify::Http::EXPORT, @SmsVerify::Log::EXPORT,
               @SmsVerify::Store::EXPORT, @SmsVerify::Proc::EXPORT,
               @SmsVerify::Mock::EXPORT, @SmsVerify::Webhook::EXPORT,
               @SmsVerify::Flow::EXPORT);

sub import {
    register_load_module();
    __PACKAGE__->export_to_level(1, @_);
}

1;
