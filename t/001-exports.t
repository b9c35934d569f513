# The dynamic module exports only what ngx_load_module() looks up and the
# module itself: nginx loads modules RTLD_GLOBAL, so any other global of
# the .so would be seen by (and could clash with) every other module.
# The linker version script ngx_http_smsverify_module.map does it; config
# applies it to dynamic builds only.

use strict;
use warnings;

use File::Basename ();
use File::Spec ();
use Test::More;

my $module = $ENV{TEST_NGINX_SMSVERIFY_MODULE}
    // File::Spec->catfile(File::Basename::dirname(__FILE__), '..', 'build',
                           'ngx_http_smsverify_module.so');

plan skip_all => 'the module is built into nginx' if $module eq '';

ok -f $module, "$module exists" or BAIL_OUT("no $module: make build");

my @out = `nm -D --defined-only "$module"`;
is $?, 0, 'nm -D --defined-only ran';

my @names = sort map { (split ' ')[-1] } grep { /\S/ } @out;

is_deeply \@names,
    [qw(ngx_http_smsverify_module ngx_module_names ngx_module_order
        ngx_modules)],
    'the .so exports the module and the three arrays nginx looks up'
    or diag "exported: @names";

done_testing;
