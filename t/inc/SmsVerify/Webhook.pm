package SmsVerify::Webhook;

# The webhook receiver (t/mock/webhook_receiver.py), which checks the
# signatures as the Standard Webhooks specification says, and the
# store's outbox read and written beside nginx.
#
#   sv_receiver_start($secret)  starts it on free loopback ports, once per
#                           .t file; sets $ENV{TEST_NGINX_HOOK_PORT}
#   sv_receiver_events()    the events delivered, oldest first (parsed)
#   sv_receiver_received()  every request that reached it: [{id,
#                           timestamp, verified, reason, duplicate,
#                           status, event, at}]
#   sv_receiver_behaviour({ mode => 'status', status => 500, count => 1 })
#                           what the next requests get ("ok", "status",
#                           "hang"; delay_ms)
#   sv_receiver_down($ms)   its port closed for $ms, then open again
#   sv_receiver_reset()     forget requests, ids and behaviours
#   sv_receiver_wait($n, $secs)
#                           waits until $n events were delivered; them
#
#   sv_outbox($dir)         the store's outbox: [{key, id, attempts,
#                           created_ms, next_ms, msg_id, type, body}]
#   sv_outbox_put($event, $dir)
#                           writes one back (mdb_load), e.g. with its
#                           next attempt or its creation moved
#
# The receiver stops when the process that started it exits.

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
use SmsVerify::Store qw(sv_store_dump sv_store_put);
use SmsVerify::Flow qw(sv_store_is_pg sv_psql);

use Exporter 'import';
our @EXPORT = qw(sv_receiver_start sv_receiver_events sv_receiver_received
                 sv_receiver_behaviour sv_receiver_down sv_receiver_reset
                 sv_receiver_wait sv_outbox sv_outbox_put);
our @EXPORT_OK = qw(receiver_call $ReceiverPort $ControlPort);
our %EXPORT_TAGS = (all => [@EXPORT, @EXPORT_OK]);

our $Script = File::Spec->catfile(
    Cwd::abs_path(File::Spec->catdir(File::Basename::dirname(__FILE__),
                                     '..', '..')), 'mock',
    'webhook_receiver.py');
our ($Pid, $Owner, $ReceiverPort, $ControlPort, $Pipe);

sub sv_receiver_start {
    my ($secret, %args) = @_;
    return $ReceiverPort if $Pid;

    my @cmd = ($ENV{TEST_NGINX_PYTHON} // '/usr/bin/python3', $Script,
               '--host', '127.0.0.1', '--port', 0, '--control-port', 0,
               '--secret', $secret);
    push @cmd, '--verbose' if $args{verbose};

    pipe(my $from, my $to) or die "sv_receiver_start: pipe: $!\n";
    my $pid = fork // die "sv_receiver_start: fork: $!\n";
    if ($pid == 0) {
        close $from;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $to or POSIX::_exit(126);
        exec { $cmd[0] } @cmd;
        warn "sv_receiver_start: cannot run $cmd[0]: $!\n";
        POSIX::_exit(127);
    }
    close $to;

    my ($out, $sel, $deadline) = ('', IO::Select->new($from), time + 10);
    while ($out !~ /\n/) {
        my $left = $deadline - time;
        my $n = $left > 0 && $sel->can_read($left)
                ? sysread($from, $out, 256, length $out) : undef;
        next if $n;
        kill 'KILL', $pid;
        waitpid $pid, 0;
        die "sv_receiver_start: it did not start ($out)\n";
    }
    my ($port, $control) = $out =~ /^ready (\d+) (\d+)$/m
        or do { kill 'KILL', $pid; waitpid $pid, 0;
                die "sv_receiver_start: unexpected output \"$out\"\n" };

    ($Pid, $Owner, $ReceiverPort, $ControlPort, $Pipe)
        = ($pid, $$, $port, $control, $from);
    $ENV{TEST_NGINX_HOOK_PORT} = $port;
    return $port;
}

sub sv_receiver_stop {
    return if !$Pid || $$ != $Owner;
    local ($?, $!);
    my $pid = $Pid;
    undef $Pid;
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
    close $Pipe if $Pipe;
}

END { sv_receiver_stop() }

# One request to the control API; its JSON answer; dies unless 200.
sub receiver_call {
    my ($method, $path, $body) = @_;
    die "the receiver is not running\n" if !$ControlPort;

    $body = defined $body ? JSON::PP->new->canonical->encode($body) : '';
    my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            . "Connection: close\r\nContent-Type: application/json\r\n"
            . "Content-Length: " . length($body) . "\r\n\r\n$body";

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $ControlPort,
                                     Proto => 'tcp', Timeout => $Timeout)
        or die "cannot connect to the receiver: $!\n";
    local $SIG{PIPE} = 'IGNORE';
    binmode $sock;
    defined syswrite($sock, $req) or die "writing to the receiver: $!\n";

    my ($raw, $sel) = ('', IO::Select->new($sock));
    while (1) {
        $sel->can_read($Timeout) or die "the receiver did not answer\n";
        my $n = sysread $sock, my $buf, 65536;
        die "reading from the receiver: $!\n" if !defined $n;
        last if $n == 0;
        $raw .= $buf;
    }
    close $sock;

    my $res = parse_response($raw);
    die "the receiver answered $path with " . ($res->{status} // '?')
        . "\n" if ($res->{status} // 0) != 200;
    return $res->{json};
}

sub sv_receiver_events   { receiver_call(GET => '/events') }
sub sv_receiver_received { receiver_call(GET => '/received') }
sub sv_receiver_reset    { receiver_call(POST => '/reset'); 1 }
sub sv_receiver_down     { receiver_call(POST => '/down', { ms => shift }); 1 }

sub sv_receiver_behaviour {
    my $b = shift;
    ref $b eq 'HASH' or die "sv_receiver_behaviour: takes a hashref\n";
    receiver_call(POST => '/behaviour', $b);
    return 1;
}

sub sv_receiver_wait {
    my ($n, $secs) = @_;
    my $deadline = time + ($secs // 10);
    while (1) {
        my $events = sv_receiver_events();
        return $events if @$events >= $n || time >= $deadline;
        sleep 0.1;
    }
}

# The outbox record (sv_record.h): version, attempts (4), created_ms (8),
# next_ms (8), msg_id (36), the type's length (1), the type, the body;
# integers little-endian, the key the event's id (8 bytes big-endian).
sub sv_outbox {
    my $dir = shift;
    return sv_pg_outbox() if sv_store_is_pg();
    my @out;
    for my $r (@{ sv_store_dump('outbox', $dir) }) {
        my ($key, $val) = @$r;
        my ($v, $attempts, $created, $next, $msg_id, $type)
            = unpack 'C V q< q< a36 C/a', $val;
        my $body = substr $val, 1 + 4 + 8 + 8 + 36 + 1 + length $type;
        push @out, { key => $key, id => unpack('Q>', $key),
                     attempts => $attempts, created_ms => $created,
                     next_ms => $next, msg_id => $msg_id, type => $type,
                     body => $body };
    }
    return \@out;
}

sub sv_outbox_put {
    my ($e, $dir) = @_;
    return sv_pg_outbox_put($e) if sv_store_is_pg();
    my $val = pack('C V q< q< a36 C/a', 1, $e->{attempts}, $e->{created_ms},
                   $e->{next_ms}, $e->{msg_id}, $e->{type}) . $e->{body};
    sv_store_put('outbox', $e->{key}, $val, $dir);
}

# On PostgreSQL the events are rows of smsverify.outbox (sv_pg_schema.c):
# the same fields, the key the id as the LMDB store keys it.
sub sv_pg_outbox {
    return [] if !@{ sv_psql(q{SELECT 1 FROM pg_namespace
                               WHERE nspname = 'smsverify'}) };
    my $rows = sv_psql(q{SELECT id, attempts, created_ms, next_attempt_ms,
                           msg_id, type,
                           encode(convert_to(payload, 'UTF8'), 'hex')
                         FROM smsverify.outbox WHERE delivered_ms IS NULL
                         ORDER BY id});
    return [map {
        my ($id, $attempts, $created, $next, $msg_id, $type, $hex) = @$_;
        { key => pack('Q>', $id), id => $id + 0, attempts => $attempts + 0,
          created_ms => $created + 0, next_ms => $next + 0,
          msg_id => $msg_id, type => $type, body => pack('H*', $hex) }
    } @$rows];
}

sub sv_pg_outbox_put {
    my $e = shift;
    my @n = map { $e->{$_} } qw(attempts created_ms next_ms id);
    die "sv_outbox_put: not integers\n" if grep { !/^-?\d+$/ } @n;
    sv_psql(sprintf 'UPDATE smsverify.outbox SET attempts = %d,'
            . ' created_ms = %s, next_attempt_ms = %s WHERE id = %s', @n);
}

1;
