package SmsVerify::Mock;

# The mock SMS providers (t/mock/sms_mock.py): SENS and Cafe24 on a free
# loopback port, checking what comes over the wire.
#
#   sv_mock_start(sens_service_id => 'ncp:sms:kr:1:svc',
#                 sens_access_key => 'AK...', sens_secret_key => '...',
#                 cafe24_user_id => 'myid', cafe24_secure_key => '...');
#   run_tests();
#
# and in config sections: url=http://127.0.0.1:$TEST_NGINX_MOCK_PORT.
# A credential left out is not checked by the mock. Its control API:
#
#   sv_mock_messages()      every message it accepted, oldest first
#   sv_mock_requests()      every request a provider got, refused too
#   sv_mock_behaviour({ provider => 'sens', mode => 'http500', count => 1 })
#                           what the next requests to a provider get
#   sv_mock_reset()         forget the messages and behaviours
#   sv_mock_code_for($phone)  the code in the last message to a phone
#
# The mock stops when the process that started it exits. In scope for
# flows: sv_mock_stop(), mock_call($method, $path, $body), $MockPort.
#
# Providers that do not answer, on a port of the test's choosing:
#
#   sv_hang_provider($port, $backlog)
#                           a socket that accepts and never answers
#   sv_gate_provider($port, $n, $dir), sv_gate_messages($dir)
#                           a SENS stand-in that holds $n messages until
#                           $dir/gate.open exists, then accepts them all;
#                           the codes it holds, by phone

use strict;
use warnings;

use Cwd ();
use File::Basename ();
use File::Spec ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep time);

use SmsVerify::Http qw(parse_response $Timeout);
use SmsVerify::Proc qw(sv_fork sv_wait_until);

use Exporter 'import';
our @EXPORT = qw(sv_mock_start sv_mock_messages sv_mock_requests
                 sv_mock_behaviour sv_mock_reset sv_mock_code_for
                 sv_hang_provider sv_gate_provider sv_gate_messages);
our @EXPORT_OK = qw(sv_mock_stop mock_call $MockPython $MockScript
                    $MockPid $MockOwner $MockPort $MockPipe);
our %EXPORT_TAGS = (all => [@EXPORT, @EXPORT_OK]);

our $MockPython = $ENV{TEST_NGINX_PYTHON} // '/usr/bin/python3';
our $MockScript = File::Spec->catfile(
    Cwd::abs_path(File::Spec->catdir(File::Basename::dirname(__FILE__),
                                     '..', '..')), 'mock', 'sms_mock.py');
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

# ---- providers that do not answer ------------------------------------------

my %Hang;

# A provider that accepts connections on 127.0.0.1:$port and never
# answers (the kernel accepts them: nobody calls accept). The same socket
# for the same port, open until the process exits.
sub sv_hang_provider {
    my ($port, $backlog) = @_;
    $Hang{$port} ||= IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => $port,
        Listen => $backlog // 128, ReuseAddr => 1) or die "listen: $!";
    return $Hang{$port};
}

# A SENS stand-in on 127.0.0.1:$port that takes $n messages (in as many
# requests as they come: one request may carry several), keeps each
# request's JSON in $dir/gate.N.json, and accepts them all (202) once
# $dir/gate.open exists. Runs in a child; returns its pid.
sub sv_gate_provider {
    my ($port, $n, $dir) = @_;
    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => $port,
        Listen => 64, ReuseAddr => 1) or die "listen: $!";
    my $pid = sv_fork(sub {
        my @held;
        my $messages = 0;
        while ($messages < $n) {
            IO::Select->new($listen)->can_read(120) or return 1;
            my $c = $listen->accept or next;
            my $req = '';
            while ($req !~ /\r\n\r\n/) {
                sysread($c, $req, 65536, length $req) or last;
            }
            my ($len) = $req =~ /^Content-Length:\s*(\d+)/mi;
            syswrite $c, "HTTP/1.1 100 Continue\r\n\r\n"
                if $req =~ /^Expect:\s*100-continue/mi;
            my $body = $req =~ s/^.*?\r\n\r\n//sr;
            while (length($body) < ($len // 0)) {
                sysread($c, $body, 65536, length $body) or last;
            }
            open my $out, '>', "$dir/gate." . scalar(@held) . ".json" or die;
            print $out $body;
            close $out;
            push @held, $c;
            my $m = eval { JSON::PP->new->decode($body) };
            $messages += ref $m eq 'HASH' && ref $m->{messages} eq 'ARRAY'
                         ? scalar @{ $m->{messages} } : 1;
        }
        sv_wait_until(sub { -e "$dir/gate.open" }, 300, 0.2) or return 1;
        my $ok = '{"requestId":"gate","requestTime":"2024-01-01T00:00:00.000",'
               . '"statusCode":"202","statusName":"success"}';
        for my $c (@held) {
            syswrite $c, "HTTP/1.1 202 Accepted\r\nContent-Type: application/json"
                . "\r\nContent-Length: " . length($ok)
                . "\r\nConnection: close\r\n\r\n$ok";
            close $c;
        }
        return 0;
    });
    close $listen;
    return $pid;
}

# The messages the gate holds: phone (as SENS gets it) => code, from each
# message's own content or else the request's.
sub sv_gate_messages {
    my $dir = shift;
    my %code;
    for my $file (glob "$dir/gate.*.json") {
        open my $in, '<', $file or next;
        my $m = eval { JSON::PP->new->decode(do { local $/; <$in> }) } or next;
        for my $to (@{ $m->{messages} // [] }) {
            my ($c) = ($to->{content} // $m->{content} // '') =~ /\[(\d+)\]/;
            $code{ $to->{to} // '' } = $c;
        }
    }
    return \%code;
}

1;
