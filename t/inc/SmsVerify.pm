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
# empty: the module is built into nginx). sv_flow_blocks() enables
# --- flow sections: Perl code run once, after the block's first
# response, with these helpers, Test::More's functions, server_root(),
# html_dir(), $block and $body (that response's body) in scope.

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
use Socket ();
use Test::More;
use Time::HiRes qw(sleep time);

use base 'Exporter';
our @EXPORT = qw(sv_request sv_code_for sv_flow_blocks sv_cookie sv_fork);

our $RepoRoot = Cwd::abs_path(
    File::Spec->catdir(File::Basename::dirname(__FILE__), '..', '..'));

# The module's .so for load_module. Set but empty: the module is built
# into TEST_NGINX_BINARY (--add-module, make test-static), and no block
# loads it.
our $Module = $ENV{TEST_NGINX_SMSVERIFY_MODULE}
    // File::Spec->catfile($RepoRoot, 'build', 'ngx_http_smsverify_module.so');
$Module = File::Spec->rel2abs($Module) if $Module ne '';

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
        return if defined $block->no_load_module || $Module eq '';
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

# ---- keep-alive connections ------------------------------------------------

push @EXPORT, qw(sv_primed_connection sv_read_response);

# A keep-alive connection on which nginx has already met EAGAIN: it
# downloads $path (a file far larger than the socket buffers) through a
# small receive buffer, so epoll keeps reporting the connection writable
# and every later read event comes with a write event.
sub sv_primed_connection {
    my $path = shift;
    socket(my $sock, Socket::PF_INET(), Socket::SOCK_STREAM(), 0)
        or die "socket: $!";
    setsockopt($sock, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 4096)
        or die "setsockopt: $!";
    connect($sock, Socket::pack_sockaddr_in(server_port(),
                                            Socket::inet_aton('127.0.0.1')))
        or die "connect: $!";
    binmode $sock;
    syswrite($sock, "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n")
        or die "write: $!";
    # let nginx fill the window and meet EAGAIN before anything is read
    sleep 0.3;
    my $res = sv_read_response($sock);
    die "priming $path: $res->{status}\n" if $res->{status} != 200;
    return $sock;
}

# One response read from a keep-alive connection (the connection stays
# open): as sv_request returns it. $head: the request was HEAD.
sub sv_read_response {
    my ($sock, $head) = @_;
    my ($raw, $sel) = ('', IO::Select->new($sock));
    my $read = sub {
        $sel->can_read($Timeout) or return "timed out reading the response";
        my $n = sysread $sock, $raw, 65536, length $raw;
        return defined $n ? ($n ? undef : "closed") : "read failed: $!";
    };
    while ($raw !~ /\r\n\r\n/) {
        my $err = $read->();
        return { status => 599, headers => {}, body => $err, json => undef }
            if $err;
    }
    my ($len) = $raw =~ /^Content-Length:\s*(\d+)/mi;
    my $want = index($raw, "\r\n\r\n") + 4 + ($head ? 0 : $len // 0);
    while (length $raw < $want) {
        my $err = $read->();
        return { status => 599, headers => {}, body => $err, json => undef }
            if $err;
    }
    return parse_response(substr $raw, 0, $want);
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

# ---- the store, the error log, nginx's processes ---------------------------
#
# For tests of crashes, reloads and a full store: what the store holds,
# read beside nginx with the LMDB tools (a read transaction: it never
# waits for nginx's writers), and which nginx processes run.

push @EXPORT, qw(sv_store_dump sv_store_entries sv_store_env sv_log_grep
                 sv_master_pid sv_worker_pids);

# The store is two LMDB environments under its directory: "members"
# (members, emails, phones, meta) and "codes" (codes, sends, tokens).
# The environment directory that holds a database; $dir is the store's
# directory, by default the servroot's smsverify_temp.
sub sv_store_env {
    my ($db, $dir) = @_;
    $dir //= server_root() . '/smsverify_temp';
    my $env = $db =~ /^(?:codes|sends|tokens)$/ ? 'codes' : 'members';
    return "$dir/$env";
}

# The records of one database of the store ("codes", "sends", "tokens",
# "members", "emails", "phones", "meta"), in key order: [[key, value], ...]
# as bytes. $dir is the store's directory, by default the servroot's
# smsverify_temp. Dies if mdb_dump fails. (Read in mdb_dump's hex format:
# LMDB 0.9's -p prints a backslash as it is, so "\5c" in its output may
# be one byte or three.)
sub sv_store_dump {
    my ($db, $dir) = @_;
    $dir = sv_store_env($db, $dir);
    open my $in, '-|', 'mdb_dump', '-s', $db, $dir
        or die "cannot run mdb_dump: $!\n";
    my ($in_data, $key, @records);
    while (my $line = <$in>) {
        chomp $line;
        if (!$in_data) {
            $in_data = $line eq 'HEADER=END';
            next;
        }
        last if $line eq 'DATA=END';
        my $bytes = pack 'H*', $line =~ s/^ //r;
        if (defined $key) {
            push @records, [$key, $bytes];
            undef $key;
        } else {
            $key = $bytes;
        }
    }
    close $in or die "mdb_dump -s $db $dir failed (status $?)\n";
    return \@records;
}

# How many records one database holds, as mdb_stat counts them.
sub sv_store_entries {
    my ($db, $dir) = @_;
    $dir = sv_store_env($db, $dir);
    my $out = `mdb_stat -s \Q$db\E \Q$dir\E 2>&1`;
    die "mdb_stat -s $db $dir failed: $out" if $? || $out !~ /Entries: (\d+)/;
    return $1;
}

# The error log's lines that match a pattern.
sub sv_log_grep {
    my $re = shift;
    open my $in, '<', $Test::Nginx::Util::ErrLogFile or return ();
    my @lines = grep { /$re/ } <$in>;
    close $in;
    return @lines;
}

# The master's pid, from nginx's pid file (undef if there is none).
sub sv_master_pid {
    open my $in, '<', server_root() . '/logs/nginx.pid' or return undef;
    my $pid = <$in> // '';
    close $in;
    return $pid =~ /^\s*(\d+)/ ? $1 : undef;
}

# The pids of the master's worker processes (Linux /proc), sorted. Under
# valgrind the process titles are not seen: every child but a cache
# process counts.
sub sv_worker_pids {
    my $master = shift // sv_master_pid() // return ();
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $in, '<', $stat or next;
        my $line = <$in> // '';
        close $in;
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        my ($pid, $state, $ppid) = $line =~ /^(\d+) \(.*\) (\S) (\d+) / or next;
        next if $ppid != $master || $state eq 'Z';
        open my $cmd, '<', "/proc/$pid/cmdline" or next;
        my $cmdline = <$cmd> // '';
        close $cmd;
        push @pids, $pid if $cmdline !~ /cache (?:manager|loader)/;
    }
    return sort { $a <=> $b } @pids;
}

# ---- the mock SMS providers (t/mock/sms_mock.py) ---------------------------
#
#   sv_mock_start(sens_service_id => 'ncp:sms:kr:1:svc',
#                 sens_access_key => 'AK...', sens_secret_key => '...',
#                 cafe24_user_id => 'myid', cafe24_secure_key => '...');
#   run_tests();
#
# and in config sections: url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT.
# A credential left out is not checked by the mock.

push @EXPORT, qw(sv_mock_start sv_mock_messages sv_mock_requests
                     sv_mock_behaviour sv_mock_reset sv_mock_code_for);

our $MockPython = $ENV{TEST_NGINX_PYTHON} // '/usr/bin/python3';
our $MockScript = File::Spec->catfile($RepoRoot, 't', 'mock', 'sms_mock.py');
our ($MockPid, $MockOwner, $MockPort, $MockPipe);

my %MockFlags = (
    sens_service_id   => '--sens-service-id',
    sens_access_key   => '--sens-access-key',
    sens_secret_key   => '--sens-secret-key',
    cafe24_user_id    => '--cafe24-user-id',
    cafe24_secure_key => '--cafe24-secure-key',
);

# Starts the mock on a free loopback port, once per .t file (a second call
# returns the running mock's port), and sets $ENV{TEST_NGINX_MOCK_PORT}:
# call it before run_tests(). verbose => 1 has the mock log each request
# to stderr. The mock is stopped when this process exits (not when a
# child of it does).
sub sv_mock_start {
    my %args = @_;
    return $MockPort if $MockPid;

    my @cmd = ($MockPython, $MockScript, '--host', '127.0.0.1', '--port', 0);
    for my $name (sort keys %args) {
        next if $name eq 'verbose';
        my $flag = $MockFlags{$name}
            // die "sv_mock_start: unknown argument \"$name\"\n";
        push @cmd, $flag, $args{$name} if defined $args{$name};
    }
    push @cmd, '--verbose' if $args{verbose};

    pipe(my $from_mock, my $to_us) or die "sv_mock_start: pipe: $!\n";
    my $pid = fork // die "sv_mock_start: fork: $!\n";
    if ($pid == 0) {
        close $from_mock;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $to_us or POSIX::_exit(126);
        exec { $cmd[0] } @cmd;
        warn "sv_mock_start: cannot run $cmd[0]: $!\n";
        POSIX::_exit(127);
    }
    close $to_us;

    # "ready <port>" once it listens
    my ($out, $sel, $deadline) = ('', IO::Select->new($from_mock), time + 10);
    while ($out !~ /\n/) {
        my $left = $deadline - time;
        my $n = $left > 0 && $sel->can_read($left)
                ? sysread($from_mock, $out, 256, length $out) : undef;
        next if $n;
        kill 'KILL', $pid if !defined $n;
        waitpid $pid, 0;
        die "sv_mock_start: the mock did not start (" . ($out =~ s/\s+$//r)
            . "): @cmd\n";
    }
    my ($port) = $out =~ /^ready (\d+)$/m
        or do { kill 'KILL', $pid; waitpid $pid, 0;
                die "sv_mock_start: unexpected output \"$out\"\n" };

    # the pipe stays open: the mock never blocks writing to it
    ($MockPid, $MockOwner, $MockPort, $MockPipe) = ($pid, $$, $port, $from_mock);
    $ENV{TEST_NGINX_MOCK_PORT} = $port;
    return $port;
}

sub sv_mock_stop {
    return if !$MockPid || $$ != $MockOwner;
    local ($?, $!);
    my $pid = $MockPid;
    undef $MockPid;
    kill 'TERM', $pid;
    my $deadline = time + 5;
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            last;
        }
        sleep 0.05;
    }
    close $MockPipe if $MockPipe;
    undef $MockPipe;
}

END { sv_mock_stop() }

# One request to the mock's control API; its JSON answer. Dies if the mock
# does not answer 200: a test that cannot steer the mock tests nothing.
sub mock_call {
    my ($method, $path, $body) = @_;
    my $port = $MockPort // $ENV{TEST_NGINX_MOCK_PORT}
        // die "the mock is not running: call sv_mock_start() first\n";

    $body = defined $body ? JSON::PP->new->canonical->encode($body) : '';
    my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            . "Connection: close\r\nContent-Type: application/json\r\n"
            . "Content-Length: " . length($body) . "\r\n\r\n$body";

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Proto => 'tcp',
                                     Timeout => $Timeout)
        or die "cannot connect to the mock on port $port: $!\n";
    local $SIG{PIPE} = 'IGNORE';
    binmode $sock;
    defined syswrite($sock, $req) or die "writing to the mock: $!\n";

    my ($raw, $sel) = ('', IO::Select->new($sock));
    while (1) {
        $sel->can_read($Timeout) or die "the mock did not answer $path\n";
        my $n = sysread $sock, my $buf, 65536;
        die "reading from the mock: $!\n" if !defined $n;
        last if $n == 0;
        $raw .= $buf;
    }
    close $sock;

    my $res = parse_response($raw);
    die "the mock answered $path with " . ($res->{status} // '?')
        . ": $res->{body}\n" if ($res->{status} // 0) != 200;
    return $res->{json};
}

# Every message the mock accepted, oldest first: [{provider, to, from,
# text, conn, ...}], strings decoded from UTF-8.
sub sv_mock_messages { mock_call(GET => '/__mock/messages') }

# Every request a provider got, accepted or refused, oldest first:
# [{provider, to, countryCode}], as far as the mock could read the body.
sub sv_mock_requests { mock_call(GET => '/__mock/requests') }

# What the next requests to a provider get:
#   sv_mock_behaviour({ provider => 'sens', mode => 'http500', count => 1 })
sub sv_mock_behaviour {
    my $b = shift;
    ref $b eq 'HASH' or die "sv_mock_behaviour: takes a hashref\n";
    mock_call(POST => '/__mock/behaviour', $b);
    return 1;
}

# Forget the messages and behaviours.
sub sv_mock_reset { mock_call(POST => '/__mock/reset'); return 1 }

# The code in the last message the mock accepted for a phone whose "to"
# ends in these 4 digits (more may be given: only the last 4 count), as
# sv_code_for does for the log provider: the first bracketed group of
# digits. Waits up to 2 s for such a message; undef if none.
sub sv_mock_code_for {
    my $last4 = substr((shift // '') =~ s/\D//gr, -4);
    my $deadline = time + 2;
    while (1) {
        my ($last) = grep { (($_->{to} // '') =~ s/\D//gr) =~ /\Q$last4\E$/ }
                     reverse @{ sv_mock_messages() };
        if ($last) {
            return ($last->{text} // '') =~ /\[([0-9]+)\]/ ? $1 : undef;
        }
        return undef if time >= $deadline;
        sleep 0.05;
    }
}


# ---- defaults and whole flows ----------------------------------------------

push @EXPORT, qw(sv_block_defaults sv_verify_phone sv_member
                 sv_members_in_store);

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

# The member records of the store, as JSON text.
sub sv_members_in_store {
    return map { $_->[1] } @{ sv_store_dump('members', @_) };
}

1;
