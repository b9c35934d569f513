package SmsVerify;

# Shared helpers for the module's Test::Nginx tests. Works under upstream
# Test::Nginx::Socket and under our stand-in in t/lib.
#
#   use Test::Nginx::Socket 'no_plan';
#   use lib 't/inc';
#   use SmsVerify;
#
# Loading it makes every block load the module (unless the block has a
# --- no_load_module section). sv_flow_blocks() enables --- flow sections:
# Perl code run once, after the block's first response, with these
# helpers, Test::More's functions, server_root(), html_dir(), $block and
# $body (that response's body) in scope.

use strict;
use warnings;

use Cwd ();
use Encode ();
use File::Basename ();
use File::Spec ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

use base 'Exporter';
our @EXPORT = qw(sv_request sv_code_for sv_flow_blocks sv_cookie sv_fork);

our $RepoRoot = Cwd::abs_path(
    File::Spec->catdir(File::Basename::dirname(__FILE__), '..', '..'));

our $Module = File::Spec->rel2abs($ENV{TEST_NGINX_SMSVERIFY_MODULE}
    // File::Spec->catfile($RepoRoot, 'build', 'ngx_http_smsverify_module.so'));

# valgrind slows nginx down a lot
our $Timeout = $ENV{TEST_NGINX_USE_VALGRIND} ? 60 : 10;

my ($registered_preprocessor, $registered_flow);

sub import {
    register_load_module();
    __PACKAGE__->export_to_level(1, @_);
}

sub register_load_module {
    return if $registered_preprocessor++;
    Test::Nginx::Util::add_block_preprocessor(sub {
        my $block = shift;
        return if defined $block->no_load_module;
        my $main_config = $block->main_config // '';
        $block->set_value(main_config => "load_module $Module;\n$main_config");
    });
}

# ---- HTTP ------------------------------------------------------------------

sub server_port {
    return $Test::Nginx::Util::ServerPortForClient
        // Test::Nginx::Util::server_port();
}

# One HTTP/1.1 request on its own connection. A hashref body is sent as
# JSON. Returns { status, headers => { lowercase name => value }, body,
# json }; status 599 (body: the reason) when no answer came.
sub sv_request {
    my ($method, $path, $body, $headers) = @_;
    my %headers = %{ $headers || {} };
    my %given = map { lc($_) => 1 } keys %headers;

    if (ref $body) {
        $body = JSON::PP->new->utf8->canonical->encode($body);
        $headers{'Content-Type'} = 'application/json'
            if !$given{'content-type'};
    }
    $body //= '';
    $body = Encode::encode_utf8($body) if $body =~ /[^\x00-\xff]/;

    my $req = "$method $path HTTP/1.1\r\n";
    $req .= "Host: localhost\r\n" if !$given{host};
    $req .= "Connection: close\r\n" if !$given{connection};
    if (!$given{'content-length'} && !$given{'transfer-encoding'}
        && ($body ne '' || $method =~ /^(?:POST|PUT|PATCH)$/))
    {
        $req .= "Content-Length: " . length($body) . "\r\n";
    }
    for my $name (sort keys %headers) {
        my $val = $headers{$name};
        $req .= "$name: $_\r\n" for ref $val eq 'ARRAY' ? @$val : ($val);
    }
    $req .= "\r\n" . $body;

    my ($raw, $err) = exchange($req);
    return { status => 599, headers => {}, body => $err, json => undef }
        if defined $err;
    return parse_response($raw);
}

# Send the request, read until the server closes; returns (bytes, error).
sub exchange {
    my $req = shift;
    my $sock = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => server_port(),
        Proto => 'tcp', Timeout => $Timeout,
    ) or return (undef, "cannot connect to 127.0.0.1:" . server_port() . ": $!");

    local $SIG{PIPE} = 'IGNORE';
    binmode $sock;
    # a request this small fits the socket buffer: a plain write is safe
    defined syswrite($sock, $req) or return (undef, "write failed: $!");

    my ($resp, $sel) = ('', IO::Select->new($sock));
    while (1) {
        $sel->can_read($Timeout) or return (undef, "timed out reading the response");
        my $n = sysread $sock, my $buf, 65536;
        return (undef, "read failed: $!") if !defined $n;
        last if $n == 0;
        $resp .= $buf;
    }
    close $sock;
    return ($resp, undef);
}

sub parse_response {
    my $raw = shift;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    $body //= '';
    my ($status_line, @lines) = split /\r\n/, $head // '';
    my ($status) = ($status_line // '') =~ m{^HTTP/\d\.\d\s+(\d{3})};

    my %headers;
    for my $line (@lines) {
        my ($name, $val) = $line =~ /^([^:]+):\s*(.*?)\s*$/ or next;
        $name = lc $name;
        if (!exists $headers{$name}) {
            $headers{$name} = $val;
        } else {
            $headers{$name} .= ($name eq 'set-cookie' ? "\n" : ', ') . $val;
        }
    }

    if (lc($headers{'transfer-encoding'} // '') eq 'chunked') {
        $body = dechunk($body);
    } elsif (defined $headers{'content-length'}
             && $headers{'content-length'} =~ /^\d+$/) {
        $body = substr $body, 0, $headers{'content-length'};
    }

    my $json = eval { JSON::PP->new->utf8->allow_nonref->decode($body) };
    return { status => $status, headers => \%headers, body => $body,
             json => $json };
}

sub dechunk {
    my $raw = shift;
    my $out = '';
    while ($raw =~ /\G([0-9A-Fa-f]+)[^\r\n]*\r\n/gc) {
        my $size = hex $1;
        last if $size == 0;
        $out .= substr $raw, pos($raw), $size;
        pos($raw) += $size + 2;     # the data and its CRLF
    }
    return $out;
}

sub sv_cookie {
    my ($res, $name) = @_;
    for my $cookie (split /\n/, $res->{headers}{'set-cookie'} // '') {
        return $1 if $cookie =~ /^\s*\Q$name\E=([^;]*)/;
    }
    return undef;
}

# Runs $code in a child process that ends with POSIX::_exit($code's
# result): a plain exit would run upstream Test::Nginx's END block there,
# which stops nginx under the parent's feet. Returns the child's pid.
sub sv_fork {
    my $code = shift;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    my $rc = eval { $code->() };
    warn $@ if $@;
    POSIX::_exit(defined $rc && $rc =~ /^\d+$/ ? $rc : 255);
}

# ---- codes the log provider wrote ------------------------------------------

# The code in the last log-provider line for a phone whose masked form ends
# in these 4 digits (more digits may be given: only the last 4 count).
# Waits up to 2 s for the line; undef if none.
sub sv_code_for {
    my $last4 = substr((shift // '') =~ s/\D//gr, -4);
    my $deadline = time + 2;
    while (1) {
        my $code = last_logged_code($last4);
        return $code if defined $code || time >= $deadline;
        sleep 0.05;
    }
}

sub last_logged_code {
    my $last4 = shift;
    open my $in, '<', $Test::Nginx::Util::ErrLogFile or return undef;
    my $code;
    while (my $line = <$in>) {
        # smsverify log provider: to "+82 10-****-5678" message "... [123456] ..."
        my ($to, $message) =
            $line =~ /smsverify log provider: to "([^"]*)" message "(.*)"/
            or next;
        next if ($to =~ s/\D//gr) !~ /\Q$last4\E$/;
        # the first bracketed group of digits: a template may start with
        # "[MyShop]" before the code
        $code = $1 if $message =~ /\[(\d+)\]/;
    }
    close $in;
    return $code;
}

# ---- --- flow sections -----------------------------------------------------

# Also in scope for flows (both Test::Nginx implementations have these).
sub server_root { Test::Nginx::Util::server_root() }
sub html_dir    { Test::Nginx::Util::html_dir() }

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

1;
