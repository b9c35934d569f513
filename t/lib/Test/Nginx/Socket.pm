package Test::Nginx::Socket;

# Stand-in for openresty's Test::Nginx::Socket, which Debian does not
# package: the same data-driven test blocks, run against a real nginx over
# plain sockets. It implements the subset of upstream's sections this
# project uses, with upstream's semantics (and test counts), so the .t
# files run unchanged under either. Test::Nginx::Util runs the server.

use strict;
use warnings;

# -base (not -Base): inherit Test::Base and its exports (Test::More's
# functions, blocks, ...) without Spiffy's source filter.
use Test::Base -base;

use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes qw(sleep);

use Test::Nginx::Util;

our $VERSION = '0.29';

our @EXPORT = qw(
    env_to_nginx is_str run_tests run_test repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout check_accum_error_log
    add_block_preprocessor bail_out add_cleanup_handler
    add_response_body_check
);

our @ResponseBodyChecks;

$RunTestHelper         = \&run_test_helper;
$CheckErrorLog         = \&check_error_log;
$CheckShutdownErrorLog = \&check_shutdown_error_log;

sub add_response_body_check ($) {
    push @ResponseBodyChecks, shift;
}

sub run_test ($) {
    Test::Nginx::Util::run_test(@_);
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    return like($got, $expected, $desc) if ref $expected eq 'Regexp';
    return is($got, $expected, $desc);
}

# ---- building requests -----------------------------------------------------

# "Key: value" lines (comments skipped) to CRLF-terminated header lines;
# also says whether the body is sent chunked (then the .t file supplies the
# chunked framing itself and no Content-Length is added).
sub parse_more_headers {
    my $text = shift // '';
    my ($out, $is_chunked) = ('', 0);
    for my $line (split /\n+/, $text) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $is_chunked = 1 if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# "METHOD [URI [VERSION]]\nbody" to a full HTTP request. Returns the request
# head (request line and headers) and the body separately.
sub build_http_request {
    my ($name, $text, $more_headers, $conn) = @_;

    my ($first, $body) = $text =~ /\A([^\n]*\n?)(.*)\z/s;
    my ($meth, $uri, $ver) =
        $first =~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$first\".");
    $uri //= '/';
    $ver //= 'HTTP/1.1';

    my ($headers, $is_chunked) = parse_more_headers($more_headers);
    my $len_header = '';
    if (!$is_chunked && $body ne '' && $headers !~ /(?:^|\n)Content-Length:/) {
        $body =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($body) . "\r\n";
    }

    my $head = "$meth $uri $ver\r\n";
    $head .= "Host: $ServerName\r\n" if $headers !~ /(?:^|\n)Host:/msi;
    $head .= "Connection: $conn\r\n" if $headers !~ /(?:^|\n)Connection/msi;
    $head .= "$headers$len_header\r\n";
    return ($head, $body);
}

sub packet_value { ref $_[0] eq 'HASH' ? $_[0]{value} : $_[0] }

# A request given as packets: built from their concatenation and sent cut
# where the original body was cut (packet boundaries are assumed to fall
# in the body, as in practice they do), keeping each packet's delay.
sub build_packets {
    my ($name, $packets, $more_headers, $conn) = @_;
    my $text = join '', map { packet_value($_) } @$packets;
    my ($head, $body) = build_http_request($name, $text, $more_headers, $conn);
    my $full = $head . $body;

    # where the body starts in the text, and how much of it trimming dropped
    my $body_start = $text =~ /\A[^\n]*\n?/ ? $+[0] : 0;
    my $trimmed = $body eq '' ? 0 : index substr($text, $body_start), $body;
    $trimmed = 0 if $trimmed < 0;

    my ($pos, $orig, @out) = (0, 0);
    for my $i (0 .. $#$packets) {
        my $p = $packets->[$i];
        $orig += length packet_value($p);
        my $end = $i == $#$packets ? length $full
                : length($head) + $orig - $body_start - $trimmed;
        $end = length $head if $end < length $head;
        $end = length $full if $end > length $full;
        $end = $pos if $end < $pos;
        my %packet = ref $p eq 'HASH' ? %$p : ();
        $packet{value} = substr $full, $pos, $end - $pos;
        push @out, \%packet;
        $pos = $end;
    }
    return \@out;
}

sub headers_for {
    my ($name, $more_headers, $i) = @_;
    return $more_headers if ref $more_headers ne 'ARRAY';
    my $hdr = $more_headers->[$i];
    bail_out("$name - --- more_headers lacks data for the ${i}th request")
        if !defined $hdr;
    return $hdr;
}

# The requests of a block, each a list of packets ({ value, delay_before }),
# each request sent on a connection of its own.
sub get_req_from_block {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        my @packets = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        return [[map { ref $_ ? $_ : { value => $_ } } @packets]];
    }

    my $more_headers = $block->more_headers // '';

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            if ref $reqs ne 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            my ($head, $body) = build_http_request(
                $name, $reqs->[$i], headers_for($name, $more_headers, $i), $conn);
            $all .= $head . $body;
        }
        return [[{ value => $all }]];
    }

    my $request = $block->request;
    bail_out("$name - request empty") if !defined $request;

    if (!ref $request) {
        1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
        my ($head, $body) = build_http_request(
            $name, $request, headers_for($name, $more_headers, 0), 'close');
        return [[{ value => $head . $body }]];
    }

    bail_out("$name - invalid ---request : MUST be string or array of requests")
        if ref $request ne 'ARRAY';

    my @list;
    for my $i (0 .. $#$request) {
        my $one = $request->[$i];
        my $hdr = headers_for($name, $more_headers, $i);
        if (ref $one eq 'ARRAY') {
            push @list, build_packets($name, $one, $hdr, 'close');
        } elsif (!ref $one) {
            my ($head, $body) = build_http_request($name, $one, $hdr, 'close');
            push @list, [{ value => $head . $body }];
        } else {
            bail_out("$name - Invalid syntax. $one should be a string or an "
                     . "array of packets.");
        }
    }
    return \@list;
}

# ---- talking to nginx ------------------------------------------------------

sub connect_to_server {
    my ($block, $timeout) = @_;
    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $wait = sleep_time();

    for (1 .. 20) {
        my $sock = IO::Socket::INET->new(
            PeerAddr => $addr, PeerPort => $ServerPortForClient,
            Proto => 'tcp', Timeout => $timeout,
        );
        return $sock if $sock;
        sleep $wait;
        $wait = $wait * 2 > 0.5 ? 0.5 : $wait * 2;
    }
    fail($block->name . " - Can't connect to $addr:$ServerPortForClient: "
         . "$! (aborted)\n");
    return undef;
}

# Sends the packets and reads until nginx closes the connection. The
# timeout is for inactivity, as upstream's.
sub send_request {
    my ($packets, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;

    my $head_req = (join '', map { $_->{value} } @$packets) =~ /^\s*HEAD\s+/;
    my $sock = connect_to_server($block, $timeout) or return ('', $head_req);
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my @queue = @$packets;
    my ($buf, $off, $resp, $writing) = ((shift @queue)->{value}, 0, '', 1);
    my $sel = IO::Select->new($sock);

    while (1) {
        if ($writing && $off >= length $buf) {
            if (my $next = shift @queue) {
                my $delay = $next->{delay_before} // $middle_delay;
                sleep $delay if $delay;
                ($buf, $off) = ($next->{value}, 0);
                next;
            }
            $writing = 0;
            if (defined(my $how = $block->shutdown)) {
                shutdown $sock, $how =~ /^\s*$/ ? 1 : $how;
            }
        }

        my ($readable, $writable) =
            IO::Select->select($sel, $writing ? $sel : undef, undef, $timeout);
        if (!$readable && !$writable) {
            fail("ERROR: client socket timed out - $name\n")
                if !defined $block->abort;
            last;
        }

        if ($writable && @$writable) {
            my $n = syswrite $sock, $buf, length($buf) - $off, $off;
            if (defined $n) {
                $off += $n;
            } elsif (!$!{EAGAIN} && !$!{EWOULDBLOCK}) {
                # nginx may answer (and close) before reading everything
                $writing = 0;
            }
        }

        if ($readable && @$readable) {
            my $n = sysread $sock, my $chunk, 65536;
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EWOULDBLOCK};
                warn "WARNING: $name - HTTP response read failure: $!\n"
                    if !$resp;
                last;
            }
            last if $n == 0;
            $resp .= $chunk;
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# Returns the HTTP::Response, the raw header text and any bytes left over
# after this response (the next pipelined one).
sub parse_response {
    my ($name, $raw, $head_req) = @_;

    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        undef $code;
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $left;
    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my $content = $res->content // '';

    if (defined $enc && $enc eq 'chunked') {
        my ($decoded, $rest, $err) = decode_chunked($content);
        if (defined $err) {
            fail("$name - $err");
            return;
        }
        $left = $rest if $rest ne '';
        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $content < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($content) . "\n" if !$head_req;
        } elsif (length $content > $len) {
            $left = substr $content, $len;
            $res->content(substr $content, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}

sub decode_chunked {
    my $raw = shift;
    my $decoded = '';
    while (1) {
        if ($raw =~ /\G0[ \t]*\r\n\r\n/gc) {
            return ($decoded, substr($raw, pos $raw));
        }
        if ($raw =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
            my $size = hex $1;
            return (undef, undef, "invalid chunked data received (not enough "
                                  . "octets for the data section)")
                if length($raw) - pos($raw) < $size;
            $decoded .= substr $raw, pos($raw), $size;
            pos($raw) += $size;
            return (undef, undef, "invalid chunked data received (expected CRLF).")
                if $raw !~ /\G\r\n/gc;
            next;
        }
        return (undef, undef, "invalid chunked body received: "
                              . substr($raw, pos($raw) // 0))
            if $raw =~ /\G./gcs;
        return (undef, undef, "no last chunk found - $raw");
    }
}

# ---- running one block -----------------------------------------------------

sub run_test_helper {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;

    my $requests = get_req_from_block($block);
    bail_out("$name - request empty") if !@$requests;

    my $timeout = parse_time($block->timeout) // timeout();
    my $pipelined = $block->pipelined_requests;
    my $nresp = $pipelined ? @$pipelined : 1;
    my $total = $pipelined ? $nresp : @$requests;
    my $need_array = $total > 1;
    my $res;

    my $req_idx = 0;
    for my $req (@$requests) {
        my ($raw, $head_req) = send_request(
            $req, scalar $block->raw_request_middle_delay, $timeout, $block);

        for my $n (1 .. $nresp) {
            if (!defined $block->ignore_response) {
                my ($raw_headers, $left);
                ($res, $raw_headers, $left) =
                    parse_response($name, $raw // '', $head_req);
                warn_extra_bytes($name, $left) if $n == $nresp && !$pipelined;
                $raw = $left;
                check_response($block, $res, $raw_headers, $req_idx,
                               $repeated_req_idx, $need_array);
            }

            if ($req_idx < $total - 1) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, $dry_run, $repeated_req_idx,
                                $need_array);
            }
            $req_idx++;
        }
    }

    sleep $block->wait if $block->wait;
    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
}

sub warn_extra_bytes {
    my ($name, $left) = @_;
    return if !defined $left || $left eq '';
    $left =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
    warn "WARNING: $name - unexpected extra bytes after last chunk in "
         . "response: \"$left\"\n";
}

sub check_response {
    my ($block, $res, $raw_headers, $req_idx, $repeated_req_idx, $need_array) = @_;
    check_error_code($block, $res, $req_idx, $need_array);
    check_raw_response_headers($block, $raw_headers, $req_idx, $need_array);
    check_response_headers($block, $res, $raw_headers, $req_idx, $need_array);
    check_response_body($block, $res, $req_idx, $repeated_req_idx, $need_array);
}

# With several requests every expectation must be an array with one entry
# per request; with one, an array's first entry is used.
sub get_indexed_value {
    my ($name, $value, $req_idx, $need_array) = @_;
    if (ref $value eq 'ARRAY') {
        return $value->[$req_idx];
    }
    bail_out("$name - You asked for many requests, the expected results "
             . "should be arrays as well.") if $need_array;
    return $value;
}

# The block's expectation in section $section for request $req_idx.
sub expected {
    my ($block, $section, $req_idx, $need_array) = @_;
    return get_indexed_value($block->name, scalar $block->$section, $req_idx,
                             $need_array);
}

sub check_error_code {
    my ($block, $res, $req_idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';

    if (defined $block->error_code_like) {
        my $pat = expected($block, 'error_code_like', $req_idx, $need_array);
        like($code, qr/$pat/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        is($code, expected($block, 'error_code', $req_idx, $need_array),
           "$name - status code ok");
    } else {
        is($code, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers {
    my ($block, $raw_headers, $req_idx, $need_array) = @_;
    my $name = $block->name;
    if (defined $block->raw_response_headers_like) {
        my $pat = expected($block, 'raw_response_headers_like', $req_idx,
                           $need_array);
        like($raw_headers, qr/$pat/s, "$name - raw resp headers like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $pat = expected($block, 'raw_response_headers_unlike', $req_idx,
                           $need_array);
        unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike");
    }
}

sub expand_server_port {
    my $s = shift;
    $s =~ s/\$ServerPort\b/$ServerPort/g;
    $s =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
    return $s;
}

sub check_response_headers {
    my ($block, $res, $raw_headers, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $headers = parse_headers(
            expected($block, 'response_headers', $req_idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};
            if (!defined $val) {
                unlike($raw_headers // '', qr/^\s*\Q$key\E\s*:/ms,
                       "$name - header $key not present in the raw headers");
                next;
            }
            my $actual = $res ? $res->header($key) : undef;
            is($actual // '', expand_server_port($val), "$name - header $key ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(
            expected($block, 'response_headers_like', $req_idx, $need_array));
        for my $key (sort keys %$headers) {
            my $actual = $res ? $res->header($key) : undef;
            like($actual // '', qr/^$headers->{$key}$/,
                 "$name - header $key like ok");
        }
    }
}

sub response_content {
    my $res = shift;
    my $content = $res ? $res->content : undef;
    if (defined $content) {
        $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
        $content =~ s/^Connection: TE, close\r\n//gms;
    }
    return $content;
}

sub check_response_body {
    my ($block, $res, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $what = "(repeated req $repeated_req_idx, req $req_idx)";

    if (defined $block->response_body) {
        my $expected = expected($block, 'response_body', $req_idx, $need_array);
        $expected = expand_server_port($expected)
            if defined $expected && !ref $expected;
        my $content = response_content($res);
        if (ref $expected) {
            like($content, $expected, "$name - response_body - like $what");
        } else {
            is($content, $expected,
               "$name - response_body - response is expected $what");
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $pat = expand_server_port(
            expected($block, "response_body_$type", $req_idx, $need_array));
        my $content = response_content($res);
        my $summary = trim($content) // '';
        my $cmp = $type eq 'like' ? \&like : \&unlike;
        $cmp->($content, qr/$pat/s,
               "$name - response_body_$type - response is expected ($summary)");
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $req_idx,
                 $repeated_req_idx, 0);
    }
}

# ---- error log checks ------------------------------------------------------

# A section's patterns: lines of a string, a qr//, or an array of either.
sub pattern_list {
    my $pats = shift;
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats] if ref $pats eq 'ARRAY';
    chomp(my $text = $pats);
    return [split /\n+/, $text];
}

sub line_matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub fmt_str {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

sub value_contains {
    my ($val, $needle) = @_;
    return 0 if !defined $val;
    return grep { value_contains($_, $needle) } @$val if ref $val eq 'ARRAY';
    return index("$val", $needle) >= 0;
}

# One test per pattern: pass when some line matches.
sub expect_patterns {
    my ($name, $pats, $lines, $what, $suffix) = @_;
    for my $pat (@{ pattern_list($pats) }) {
        next if !defined $pat;
        if (grep { line_matches($_, $pat) } @$lines) {
            pass("$name - pattern \"$pat\" matches a line in $what$suffix");
        } else {
            fail("$name - pattern \"$pat\" should match a line in $what$suffix");
        }
    }
}

# One test per pattern: pass when no line matches. (Upstream fails once per
# matching line; one failure per pattern keeps the test count fixed.)
sub reject_patterns {
    my ($name, $pats, $lines, $what, $suffix) = @_;
    for my $pat (@{ pattern_list($pats) }) {
        next if !defined $pat;
        my $p = fmt_str($pat);
        my ($hit) = grep { line_matches($_, $pat) } @$lines;
        if (defined $hit) {
            fail("$name - pattern \"$p\" should not match any line in $what "
                 . "but matches line \"" . fmt_str($hit) . "\"$suffix");
        } else {
            pass("$name - pattern \"$p\" does not match a line in $what$suffix");
        }
    }
}

sub check_error_log {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $suffix = " (req $repeated_req_idx)";
    my $lines;

    my $error_log = $block->error_log;
    my $no_error_log = $block->no_error_log;

    if (defined $error_log) {
        $lines ||= error_log_data();
        expect_patterns($name, $error_log, $lines, 'error.log', $suffix);
    }
    if (defined $no_error_log) {
        $lines ||= error_log_data();
        reject_patterns($name, $no_error_log, $lines, 'error.log', $suffix);
    }

    $lines ||= error_log_data();
    for my $level (qw(alert crit emerg)) {
        next if value_contains($error_log, "[$level")
             || value_contains($no_error_log, "[$level");
        for my $line (grep { /\[$level\]/ } @$lines) {
            warn "WARNING: $name - " . fmt_str($line) . "\n";
        }
    }

    for my $line (grep { /\bAssertion .*?failed\b/ } @$lines) {
        fail("$name - " . fmt_str($line));
    }
}

sub check_shutdown_error_log {
    my ($block, $dry_run) = @_;
    return if $dry_run;
    my $name = $block->name;
    my $lines = error_log_data();

    if (defined $block->no_shutdown_error_log) {
        reject_patterns($name, scalar $block->no_shutdown_error_log, $lines,
                        'error.log', '');
    }
    if (defined $block->shutdown_error_log) {
        expect_patterns($name, scalar $block->shutdown_error_log, $lines,
                        'error.log', '');
    }
}

1;
