package SmsVerify::Http;

# HTTP to the nginx under test, from a plain socket (no LWP: the tests
# send bytes a library would refuse to).
#
#   sv_request(METHOD => $path, $body, \%headers)
#                           one request on its own connection; a hashref
#                           body goes as JSON; { status, headers, body, json }
#   sv_cookie($res, $name)  a cookie the response set
#   sv_primed_connection($path), sv_read_response($sock, $head)
#                           keep-alive connections on which nginx has met
#                           EAGAIN, and reading one response from them
#
# and, not exported by SmsVerify but in scope for flows: server_port(),
# exchange($bytes) (send, read until nginx closes), parse_response($raw),
# dechunk($body), $Timeout (seconds of silence before giving up).

use strict;
use warnings;

use Encode ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use Socket ();
use Time::HiRes qw(sleep);

use Exporter 'import';
our @EXPORT = qw(sv_request sv_cookie sv_primed_connection sv_read_response);
our @EXPORT_OK = qw(server_port exchange parse_response dechunk $Timeout);
our %EXPORT_TAGS = (all => [@EXPORT, @EXPORT_OK]);

# valgrind slows nginx down a lot
our $Timeout = $ENV{TEST_NGINX_USE_VALGRIND} ? 60 : 10;

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

1;
