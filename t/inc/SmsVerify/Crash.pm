package SmsVerify::Crash;

# The generators of t/091-crash.t: clients taking phones through send,
# confirm and signup in children (sv_fork), workers killed under them, a
# reader and a writer of the store killed inside their transactions, and
# the checks of what the store holds afterwards. For the blocks' flows:
#
#   run_kills()         SIGKILL to each worker under a signup load, then a
#                       reader killed in its read transaction; the clients'
#                       outcomes, the store and the log checked (tests)
#   run_dead_writer()   a writer (mdb_load) killed holding LMDB's write
#                       lock while sends wait for it; checked likewise
#
# Under valgrind (TEST_NGINX_USE_VALGRIND) the load is smaller.


use strict;
use warnings;

use File::Temp ();
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

use SmsVerify ();

use Exporter 'import';
our @EXPORT = qw(run_kills run_dead_writer);

our $Valgrind = $ENV{TEST_NGINX_USE_VALGRIND};
our $Phones   = $Valgrind ? 40 : 120;
our $Clients  = $Valgrind ? 6 : 12;
our @Signups  = $Valgrind ? ('/signup4', '/signup6')
                           : ('/signup4', '/signup6', '/signup8');
our $Slack    = $Valgrind ? 20 : 1;     # how much longer things take

my $Json = JSON::PP->new->canonical;

sub phone { sprintf '010-4%03d-%04d', $_[0], 2000 + $_[0] }
sub e164  { sprintf '+82104%03d%04d', $_[0], 2000 + $_[0] }
sub email { "crash$_[0]\@example.com" }

sub status_of { ($_[0]{status} // 0) + 0 }

# One phone, start to finish, as a client that retries what it lost.
# Outcome: created (200, with its id), taken (a 409 after an attempt whose
# answer was lost: that one went through), or failed.
sub one_phone {
    my ($i) = @_;
    my %r = (i => $i, outcome => 'failed', lost => [], signup_lost => 0);
    for my $attempt (1 .. 5) {
        my $res = SmsVerify::sv_request(POST => '/send',
                                        { phoneNumber => phone($i) });
        if (status_of($res) == 409) {
            $r{outcome} = 'taken';
            last;
        }
        if (status_of($res) != 200) {
            push @{ $r{lost} }, 'send ' . status_of($res);
            next;
        }
        my $code = SmsVerify::sv_code_for(2000 + $i);
        $res = SmsVerify::sv_request(POST => '/confirm',
            { phoneNumber => phone($i), verificationNumber => "$code" });
        if (status_of($res) == 409) {
            $r{outcome} = 'taken';
            last;
        }
        if (status_of($res) != 200) {
            push @{ $r{lost} }, 'confirm ' . status_of($res);
            next;
        }
        my $token = $res->{json}{verificationToken};
        my $path = $Signups[rand @Signups];
        $res = SmsVerify::sv_request(POST => $path,
            { email => email($i), password => "Passw0rd!$i",
              nickname => "crash $i", phoneNumber => phone($i),
              termsId => [1], verificationToken => $token });
        if (status_of($res) == 200) {
            @r{qw(outcome id)} = ('created', $res->{json}{memberId});
            last;
        }
        if (status_of($res) == 409 && $r{signup_lost}) {
            $r{outcome} = 'taken';
            last;
        }
        push @{ $r{lost} }, "signup $path " . status_of($res);
        $r{signup_lost}++;
    }
    return \%r;
}

# A client: its share of the phones, results to a file.
sub client {
    my ($k, $file) = @_;
    srand(91 + $k);
    my @r = map { one_phone($_) } grep { $_ % $Clients == $k } 1 .. $Phones;
    open my $out, '>', "$file.tmp" or die "$file: $!";
    print $out $Json->encode(\@r);
    close $out;
    rename "$file.tmp", $file or die "$file: $!";
    return 0;
}

sub signups_so_far {
    my $res = SmsVerify::sv_request(GET => '/status');
    return $res->{json} ? $res->{json}{signups} : -1;
}

# waits for what() to be true, up to $secs (times the slack)
sub wait_until { SmsVerify::sv_wait_until($_[0], $_[1] * $Slack, 0.02) }

# SIGKILL to one worker; waits for the master to replace it.
sub kill_worker {
    my ($victim) = @_;
    my @before = SmsVerify::sv_worker_pids();
    $victim //= $before[rand @before];
    kill 'KILL', $victim;
    my $ok = wait_until(sub {
        my @now = SmsVerify::sv_worker_pids();
        @now == @before && !grep { $_ == $victim } @now;
    }, 10);
    ok($ok, "worker $victim killed, and replaced");
    return $victim;
}

# A reader that dies in its read transaction: mdb_dump writing into a
# pipe nobody reads (shrunk to a page, so it blocks at once), killed.
# Returns its pid once the store's reader table shows it.
sub stale_reader {
    my $dir = shift;
    pipe(my $from, my $to) or die "pipe: $!";
    fcntl($to, 1031, 4096);         # F_SETPIPE_SZ: Linux
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $from;
        open STDOUT, '>&', $to or POSIX::_exit(126);
        open STDERR, '>', '/dev/null';
        exec('stdbuf', '-o0', 'mdb_dump', '-a', $dir) or POSIX::_exit(127);
    }
    close $to;
    my $listed = wait_until(sub { `mdb_stat -r $dir` =~ /^\s*$pid\s/m }, 5);
    ok($listed, "a reader $pid holds a read transaction");
    kill 'KILL', $pid;
    waitpid $pid, 0;
    close $from;
    return $pid;
}

# A writer that dies holding the store's write lock: mdb_load, given a
# header and then nothing, waits for its first record inside its write
# transaction. Returns its pid (the lock is held once it is running).
sub lock_holder {
    my $dir = shift;
    pipe(my $from, my $to) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $to;
        open STDIN, '<&', $from or POSIX::_exit(126);
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec('mdb_load', '-s', 'never_committed', $dir) or POSIX::_exit(127);
    }
    close $from;
    syswrite $to, "VERSION=3\nformat=print\ntype=btree\nHEADER=END\n";
    return ($pid, $to);
}

sub run_dead_writer {
    # the codes' part, whose write lock every send takes
    my $dir = SmsVerify::sv_store_env('codes');
    my $root = File::Temp::tempdir(CLEANUP => 1);     # the clients' results

    # while another process holds the write lock, writes wait in the
    # pool threads; the event loop still answers
    my ($holder, $pipe) = lock_holder($dir);
    sleep 0.3;
    my $n = $Valgrind ? 3 : 6;
    my @kids = map { my $i = $_;
                     SmsVerify::sv_fork(sub {
                         my $r = one_phone($i);
                         open my $out, '>', "$root/writer.$i.json" or die;
                         print $out $Json->encode($r);
                         close $out;
                         return 0;
                     }) } 1 .. $n;
    sleep 1 * $Slack;
    is(scalar(grep { waitpid($_, POSIX::WNOHANG()) == 0 } @kids), $n,
       'the sends wait for the write lock');
    my $res = SmsVerify::sv_request(GET => '/status');
    is($res->{status}, 200, 'status answers meanwhile: no wait on the event loop');

    # the holder dies in its transaction: the next writer recovers the lock
    kill 'KILL', $holder;
    waitpid $holder, 0;
    close $pipe;
    waitpid $_, 0 for @kids;
    my @results = map { my $i = $_;
                        eval { open my $in, '<', "$root/writer.$i.json" or die;
                               local $/; $Json->decode(<$in>) }
                        // { i => $i, outcome => 'no result', lost => [] }
                      } 1 .. $n;
    is_deeply([map { $_->{outcome} } @results], [('created') x $n],
              'once it died, every signup went through')
        or diag $Json->encode(\@results);
    unlike(join('', `mdb_stat -a $dir`), qr/never_committed/,
           'nothing of the dead transaction is in the store');
    check_store(\@results);
}

sub check_store {
    my ($results) = @_;
    my %dump = map { $_ => SmsVerify::sv_store_dump($_) }
               qw(members emails phones meta);

    my (%by_id, @bad);
    for my $rec (@{ $dump{members} }) {
        my $id = unpack 'Q>', $rec->[0];
        my $m = eval { JSON::PP->new->decode($rec->[1]) };
        if (ref $m ne 'HASH' || ($m->{id} // 0) != $id) {
            push @bad, "member $id: " . substr($rec->[1], 0, 80);
            next;
        }
        $by_id{$id} = $m;
    }
    is(scalar(@bad), 0, 'every member record is whole JSON with its id')
        or diag join "\n", @bad;

    # members, emails and phones: the same members, each way
    my %emails = map { $_->[0] => unpack('Q>', $_->[1]) } @{ $dump{emails} };
    my %phones = map { $_->[0] => unpack('Q>', $_->[1]) } @{ $dump{phones} };
    is_deeply(\%emails, { map { lc($by_id{$_}{email}) => $_ } keys %by_id },
              'emails: each member\'s email, to its id, and nothing else');
    is_deeply(\%phones, { map { $by_id{$_}{phone} => $_ } keys %by_id },
              'phones: each member\'s phone, to its id, and nothing else');
    # (PostgreSQL's ids come from an identity, which a failed insert moves
    # on too: ids grow, with gaps, and are never reused)
    if (!SmsVerify::sv_store_is_pg()) {
        my ($next) = map { unpack 'Q>', $_->[1] }
                     grep { $_->[0] eq 'next_id' } @{ $dump{meta} };
        my $max = (sort { $b <=> $a } keys %by_id)[0] // 0;
        is($next, $max + 1, 'the next id follows the last member');
    }

    # every 200 is there; every other member is one whose answer was lost
    my %member_of = map { $by_id{$_}{phone} => $by_id{$_} } keys %by_id;
    my (@missing, @stray);
    my %ours;
    for my $r (@$results) {
        my $e164 = e164($r->{i});
        $ours{$e164} = 1;
        my $m = $member_of{$e164};
        if ($r->{outcome} eq 'created') {
            push @missing, "phone $r->{i}: answered 200 as member $r->{id}"
                if !$m || $m->{id} != $r->{id} || $m->{email} ne email($r->{i});
        } elsif ($r->{outcome} eq 'taken') {
            push @missing, "phone $r->{i}: 409 after a lost signup, no member"
                if !$m;
        } elsif ($m && !$r->{signup_lost}) {
            push @stray, "phone $r->{i}: a member, never signed up";
        }
    }
    push @stray, map { "$_: a member of no client" }
                 grep { !$ours{$_} } keys %member_of;
    is(scalar(@missing), 0, 'every member answered 200 is in the store')
        or diag join "\n", @missing;
    is(scalar(@stray), 0, 'and no member came from nowhere')
        or diag join "\n", @stray;

    my $res = SmsVerify::sv_request(GET => '/status');
    is($res->{json}{members}, scalar(keys %by_id), 'status counts them');
}

sub run_kills {
    my $dir = SmsVerify::sv_store_env('members');
    my $root = File::Temp::tempdir(CLEANUP => 1);     # the clients' results
    my $t0 = time;
    my @first = SmsVerify::sv_worker_pids();
    is(scalar(@first), 2, 'two workers');

    my @kids = map { my $k = $_;
                     SmsVerify::sv_fork(sub { client($k, "$root/client.$k.json") })
                   } 0 .. $Clients - 1;

    # kill one worker, then the other, while the signups go on
    my @killed;
    ok(wait_until(sub { signups_so_far() >= $Phones / 4 }, 30),
       'a quarter of the signups done');
    push @killed, kill_worker($first[0]);
    ok(wait_until(sub { signups_so_far() >= $Phones / 2 }, 30),
       'half of them done');
    push @killed, kill_worker($first[1]);

    my @results;
    for my $k (0 .. $Clients - 1) {
        waitpid $kids[$k], 0;
        my $r = eval { open my $in, '<', "$root/client.$k.json" or die;
                       local $/; $Json->decode(<$in>) };
        ok($r, "client $k finished") or next;
        push @results, @$r;
    }
    my %n;
    $n{$_->{outcome}}++ for @results;
    my $lost = grep { @{ $_->{lost} } } @results;
    note sprintf '%d phones in %.1fs: %s; %d lost an answer and tried again',
                 scalar(@results), time - $t0,
                 join(', ', map { "$_ $n{$_}" } sort keys %n), $lost;
    is($n{failed} // 0, 0, 'every phone ended a member')
        or diag join "\n", map { "phone $_->{i}: @{ $_->{lost} }" }
                           grep { $_->{outcome} eq 'failed' } @results;

    # a reader killed in its transaction; the next worker clears its slot
    # (LMDB's reader table: PostgreSQL has none, a worker is killed alone)
    if (SmsVerify::sv_store_is_pg()) {
        push @killed, kill_worker();
    } else {
        my $reader = stale_reader($dir);
        push @killed, kill_worker();
        ok(wait_until(sub { SmsVerify::sv_log_grep(
                         qr/smsverify cleared \d+ stale store readers/) }, 5),
           'the new worker cleared the dead reader\'s slot');
        unlike(`mdb_stat -r $dir`, qr/^\s*$reader\s/m, 'it is gone');
    }

    # the new workers write: the whole flow, across both of them
    my @after = map { one_phone($Phones + $_) } 1 .. 8;
    is_deeply([map { $_->{outcome} } @after], [('created') x 8],
              'signups after the crashes go through')
        or diag $Json->encode(\@after);

    check_store([@results, @after]);

    # the kills, and nothing else
    my @died = SmsVerify::sv_log_grep(qr/exited on signal/);
    my @sig9 = map { /worker process (\d+) exited on signal 9\b/ ? $1 : () } @died;
    is_deeply([sort @sig9], [sort @killed], 'only the killed workers died')
        or diag @died;
    is(scalar(@died), scalar(@killed), 'of our SIGKILL, once each');
}

1;
