package SmsVerify::Proc;

# nginx's processes, and the test's own children.
#
#   sv_master_pid()         the master's pid, from nginx's pid file
#   sv_worker_pids($master) the master's workers (Linux /proc), sorted
#   sv_fork(sub { ... })    runs the code in a child that exits with its
#                           result, without the parent's END blocks
#   sv_request_in_child(METHOD => $path, $body), sv_child_status($pid)
#                           a request in a child, and its answer's status
#                           to the tens (an exit code holds no more)
#   sv_gone(@pids)          none of them runs any more (a zombie is gone,
#                           a thread still exiting is not)
#   sv_wait_until(sub { ... }, $secs, $every)
#                           waits until the code returns true: 1, or 0
#                           once $secs went by
#
# and, in scope for flows: server_root() and html_dir(), where the
# nginx under test runs (both Test::Nginx implementations have these).

use strict;
use warnings;

use POSIX ();
use Time::HiRes ();

use SmsVerify::Http qw(sv_request);

use Exporter 'import';
our @EXPORT = qw(sv_master_pid sv_worker_pids sv_fork sv_request_in_child
                 sv_child_status sv_gone sv_wait_until);
our @EXPORT_OK = qw(server_root html_dir);
our %EXPORT_TAGS = (all => [@EXPORT, @EXPORT_OK]);

sub server_root { Test::Nginx::Util::server_root() }
sub html_dir    { Test::Nginx::Util::html_dir() }

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

# One request (sv_request's arguments) in a child, which exits with the
# answer's status / 10 (0: no status). Returns the child's pid.
sub sv_request_in_child {
    my @request = @_;
    return sv_fork(sub {
        my $res = sv_request(@request);
        return int(($res->{status} // 0) / 10);
    });
}

# The status a sv_request_in_child() got, to the tens (503 is 500), once
# the child exited.
sub sv_child_status {
    my $pid = shift;
    waitpid $pid, 0;
    return ($? >> 8) * 10;
}

# None of the processes runs (a zombie is gone: the stand-in runner,
# whose child nginx may be, reaps it and reads its exit status). A process
# runs while any of its threads does: the main thread of a process killed
# shows Z as soon as it has exited, while its pool threads may still be
# exiting, holding the files they share (a listening socket: a start
# then would fail to bind()).
sub sv_gone {
    my @pids = @_;
    for my $pid (@pids) {
        next if !kill 0, $pid;
        for my $stat (glob "/proc/$pid/task/*/stat") {
            open my $in, '<', $stat or next;
            my $line = <$in> // '';
            return 0 if $line !~ /\)\s+[ZX]\b/;
        }
    }
    return 1;
}

# Calls $what every $every seconds (default 0.05) until it returns true
# (then 1), for up to $secs seconds (then 0).
sub sv_wait_until {
    my ($what, $secs, $every) = @_;
    my $deadline = Time::HiRes::time() + $secs;
    while (Time::HiRes::time() < $deadline) {
        return 1 if $what->();
        Time::HiRes::sleep($every // 0.05);
    }
    return 0;
}

1;
