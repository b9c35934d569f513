# Valgrind errors fail the block (t/lib stand-in only: upstream prints
# valgrind's report and leaves the judging to whoever reads it).

use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::More;

BEGIN {
    eval { require Test::Nginx::Util; 1 } && Test::Nginx::Util->can('first_valgrind_error')
        or plan skip_all => 'checks the t/lib stand-in of Test::Nginx';
}

my @log = map { "$_\n" } split /\n/, <<'LOG';
Memcheck, a memory error detector
Invalid read of size 8
   at 0x1234: ngx_http_smsverify_handler (ngx_http_smsverify_module.c:42)
   by 0x5678: ngx_http_core_content_phase (in /usr/sbin/nginx)
 Address 0x0 is not stack'd, malloc'd or (recently) free'd
LEAK SUMMARY:
   definitely lost: 0 bytes in 0 blocks
LOG
like(Test::Nginx::Util::first_valgrind_error(\@log),
     qr/^Invalid read of size 8\n   at 0x1234: ngx_http_smsverify_handler/,
     'an invalid read, with its stack');

for my $error ('Conditional jump or move depends on uninitialised value(s)',
               'Syscall param write(buf) points to uninitialised byte(s)',
               'Invalid write of size 1',
               'Invalid free() / delete / delete[] / realloc()',
               '24 bytes in 1 blocks are definitely lost in loss record 1 of 9',
               '   indirectly lost: 12,288 bytes in 2 blocks',
               '   definitely lost: 24 bytes in 1 blocks')
{
    like(Test::Nginx::Util::first_valgrind_error(["$error\n"]),
         qr/^\Q$error\E/, "an error: $error");
}

is(Test::Nginx::Util::first_valgrind_error([
       "LEAK SUMMARY:\n",
       "   definitely lost: 0 bytes in 0 blocks\n",
       "   indirectly lost: 0 bytes in 0 blocks\n",
       "     possibly lost: 128 bytes in 1 blocks\n",
       "ERROR SUMMARY: 0 errors from 0 contexts (suppressed: 4 from 4)\n",
   ]), undef, 'a clean log');

SKIP: {
    skip 'valgrind is not installed', 2
        if system('valgrind --version >/dev/null 2>&1') != 0;

    # End to end: nginx 1.22 leaves its connection array allocated when a
    # single process exits; without the core suppressions that is a leak.
    my $dir = tempdir(CLEANUP => 1);
    open my $out, '>', "$dir/leak.t" or die $!;
    print $out <<'T';
use Test::Nginx::Socket 'no_plan';
run_tests();
__DATA__
=== TEST 1: nginx core's exit leak, unsuppressed
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_body: ok
T
    close $out;

    local $ENV{TEST_NGINX_USE_VALGRIND} = 1;
    local $ENV{TEST_NGINX_VALGRIND_CORE_SUPP} = '';
    my @inc = map { "-I$_" } grep { !ref } @INC;
    my $tap = `$^X @inc $dir/leak.t 2>&1`;
    like($tap, qr/^not ok \d+ - .*TEST 1: .* - valgrind: .*definitely lost/m,
         'a leak fails the block') or diag($tap);
    isnt($?, 0, 'and the file');
}

done_testing();
