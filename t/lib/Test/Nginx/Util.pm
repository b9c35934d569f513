package Test::Nginx::Util;

# Stand-in for openresty's Test::Nginx::Util (not packaged in Debian): the
# server side of the test scaffold. It lays out the server root, writes
# nginx.conf, starts and stops nginx (optionally under valgrind) and reads
# the error log. Test::Nginx::Socket drives the requests and the checks.
# Only used when the real Test::Nginx is not installed; see the Makefile.

use strict;
use warnings;

use base 'Exporter';

use Carp qw(croak);
use File::Basename ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use List::Util qw(min shuffle);
use POSIX qw(:sys_wait_h SIGQUIT SIGKILL SIGTERM);
use Scalar::Util qw(looks_like_number);
use Test::More ();
use Time::HiRes qw(sleep time);

our @EXPORT = qw(
    run_tests repeat_each no_shuffle workers master_on master_off
    master_process_enabled log_level no_long_string no_root_location
    worker_connections config_preamble env_to_nginx timeout
    server_addr server_name server_port server_port_for_client
    server_root html_dir add_block_preprocessor add_cleanup_handler
    check_accum_error_log bail_out error_log_data parse_time
    parse_headers trim sleep_time is_running verbose
    $ServerAddr $ServerName $ServerPort $ServerPortForClient
    $ServRoot $ErrLogFile $PidFile $ConfFile $NoLongString $RepeatEach
    $RunTestHelper $CheckErrorLog $CheckShutdownErrorLog
);

# Settings, with the environment variables upstream honours.
our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || find_nginx();
our $Workers              = 1;
our $WorkerConnections    = 64;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled        = 'on';
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient  = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep       = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES};
our $UseValgrind          = $ENV{TEST_NGINX_USE_VALGRIND};
our $Verbose              = $ENV{TEST_NGINX_VERBOSE};
our $WorkerUser           = $ENV{TEST_NGINX_WORKER_USER};
our $RepeatEach           = 1;
our $NoLongString;
our $NoRootLocation       = 0;
our $ConfigPreamble       = '';

# Exit code valgrind uses when it found errors, and how long nginx may take
# to come up (valgrind makes start-up an order of magnitude slower).
our $ValgrindErrorExit    = 99;
our $StartupTimeout       = $UseValgrind ? 60 : 10;

# What nginx core leaves allocated at exit; see the file. An empty
# TEST_NGINX_VALGRIND_CORE_SUPP turns these suppressions off.
our $CoreSuppressions = $ENV{TEST_NGINX_VALGRIND_CORE_SUPP}
    // File::Spec->catfile(File::Basename::dirname(File::Spec->rel2abs(__FILE__)),
                          'nginx-core.supp');

if ($ENV{TEST_NGINX_RANDOMIZE}) {
    $ServerPort = $ServerPortForClient = gen_rand_port()
        or die "Cannot find a free port to listen on\n";
}

our $ServRoot = $ENV{TEST_NGINX_RANDOMIZE}
    ? File::Spec->rel2abs("t/servroot_$ServerPort")
    : $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');
our $StderrFile = File::Spec->catfile($LogDir, 'nginx.stderr');

# Hooks filled in by Test::Nginx::Socket.
our ($RunTestHelper, $CheckErrorLog, $CheckShutdownErrorLog);

our (@BlockPreprocessors, @CleanupHandlers, @EnvToNginx);
our ($PrevConfig, $PrevBlock, $ErrLogFilePos);
our $ChildPid;          # nginx run in the foreground (valgrind mode)
our $DaemonPid;         # nginx we started as a daemon
our @StartupStderr;     # what nginx printed when it failed to start

# A daemonized nginx is reparented to the nearest "subreaper", else to
# PID 1, which in a container may never reap it: each stopped nginx would
# stay a zombie. As subreaper we reap them ourselves (Linux only).
sub become_subreaper {
    my $sys_prctl = eval {
        package Test::Nginx::Util::Syscall;     # syscall.ph defines subs here
        require 'syscall.ph';
        SYS_prctl();
    } or return;
    my $PR_SET_CHILD_SUBREAPER = 36;
    syscall($sys_prctl, $PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}
become_subreaper() if $^O eq 'linux';

sub find_nginx {
    for my $dir (split /:/, $ENV{PATH} // '') {
        my $path = "$dir/nginx";
        return $path if $dir ne '' && -f $path && -x _;
    }
    return '/usr/sbin/nginx';
}

sub gen_rand_port {
    for (1 .. 1000) {
        my $port = 1985 + int rand 63550;
        my $sock = IO::Socket::INET->new(
            LocalAddr => $ServerAddr, LocalPort => $port, Proto => 'tcp',
        ) or next;
        close $sock;
        return $port;
    }
    return;
}

# ---- settings functions exported to the .t files --------------------------

sub getset {
    my ($ref, @args) = @_;
    $$ref = $args[0] if @args;
    return $$ref;
}

sub repeat_each (@)            { getset(\$RepeatEach, @_) }
sub workers (@)                { getset(\$Workers, @_) }
sub worker_connections (@)     { getset(\$WorkerConnections, @_) }
sub log_level (@)              { getset(\$LogLevel, @_) }
sub timeout (@)                { getset(\$Timeout, @_) }
sub server_addr (@)            { getset(\$ServerAddr, @_) }
sub server_name (@)            { getset(\$ServerName, @_) }
sub server_port (@)            { getset(\$ServerPort, @_) }
sub server_port_for_client (@) { getset(\$ServerPortForClient, @_) }
sub config_preamble ($)        { $ConfigPreamble = shift }
sub no_shuffle ()              { $NoShuffle = 1 }
sub no_long_string ()          { $NoLongString = 1 }
sub no_root_location ()        { $NoRootLocation = 1 }
sub check_accum_error_log ()   { $CheckAccumErrLog = 1 }
sub master_on ()               { $MasterProcessEnabled = 'on' }
sub master_off ()              { $MasterProcessEnabled = 'off' }
sub html_dir ()                { $HtmlDir }
sub server_root ()             { $ServRoot }
sub sleep_time                 { $TestNginxSleep }
sub verbose                    { $Verbose }

sub master_process_enabled (@) {
    $MasterProcessEnabled = $_[0] ? 'on' : 'off' if @_;
    return $MasterProcessEnabled;
}

sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" if !@_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(@_);
}

# ---- small helpers shared with Test::Nginx::Socket -------------------------

sub parse_time ($) {
    my $tm = shift;
    return $tm if !defined $tm;
    if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
        return $tm / 1000;
    }
    $tm =~ s/([^_a-zA-Z])s$/$1/;
    return $tm;
}

# "Name: value" lines into a hash; "!Name" means the header must be absent.
sub parse_headers ($) {
    my $text = shift;
    my %headers;
    for my $line (split /\n/, $text) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $headers{$key} = $val;
        }
    }
    return \%headers;
}

sub trim ($) {
    my $s = shift;
    return undef if !defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

# A pid is alive if it exists and is not a zombie (see become_subreaper).
sub is_running ($) {
    my $pid = shift;
    return 0 if !$pid || !kill 0, $pid;
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in> // '';
        return 0 if $stat =~ /\)\s+Z\b/;
    }
    return 1;
}

# Lines of the error log written since the last call (or all of them with
# check_accum_error_log), plus whatever nginx printed on a failed start.
sub error_log_data () {
    # give nginx a moment for the log phase, run after the connection closed
    sleep $TestNginxSleep * 3;

    my @lines = @StartupStderr;
    open my $in, '<', $ErrLogFile or return \@lines;
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos;
    push @lines, <$in>;
    $ErrLogFilePos = tell $in if !$CheckAccumErrLog;
    close $in;
    return \@lines;
}

# ---- the main loop ---------------------------------------------------------

sub run_tests () {
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks if !$NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
        $PrevBlock = $block;
    }

    cleanup();
}

# Upstream sections this stand-in does not implement: a block using one
# would silently check less than it says, so it stops the run instead.
my @UnsupportedSections = qw(
    access_log no_access_log grep_error_log grep_error_log_out
    response_body_filters http2 http3 curl stap stap_out stap_out_like
    tcp_listen tcp_reply udp_listen udp_reply skip_nginx skip_nginx2
    skip_openssl skip_slave todo todo_nginx http09
);

sub run_test {
    my $block = shift;
    return if defined $block->SKIP;

    my $name = $block->name;
    for my $section (@UnsupportedSections) {
        bail_out("$name - --- $section is not supported by the t/lib "
                 . "stand-in of Test::Nginx") if defined $block->$section;
    }

    # as upstream: "--- skip_eval: N: CODE" skips N tests if CODE is true
    if (defined(my $skip = $block->skip_eval)) {
        $skip =~ /^\s*(\d+)\s*:\s*(.*)$/s
            or bail_out("$name - bad --- skip_eval: \"$skip\"");
        my ($n, $code) = ($1, $2);
        my $should = eval $code;
        bail_out("$name - skip_eval failed: $@") if $@;
        if ($should) {
          SKIP: { Test::More::skip("$name - skip_eval", $n); }
            return;
        }
    }
    my $rand_ports = {};
    my $config = expand_env_in_text(scalar $block->config, $name, $rand_ports);

    local $LogLevel = $block->log_level || $LogLevel;
    local $UseValgrind = defined $block->must_die ? undef : $UseValgrind;

    if (defined $config) {
        $PrevConfig = $config;
        start_nginx($block, $config, $rand_ports);
        return if defined $block->must_die;
    } else {
        # Like upstream: a block without --- config reuses the running server.
        bail_out("$name - No '--- config' section specified and could not "
                 . "get previous one") if !defined $PrevConfig;
    }
    run_requests($block, $rand_ports);
}

sub run_requests {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;

    if (defined $block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        write_user_files($block, $rand_ports) if $i > 0;
        $RunTestHelper->($block, 0, $i);    # 0: not a dry run
    }

    if ($UseValgrind) {
        my $status = stop_child_nginx($name);
        check_valgrind($name, $status);
    }
}

# ---- server root and config ------------------------------------------------

sub setup_server_root {
    if (-d $ServRoot) {
        # remove only what we create, in case TEST_NGINX_SERVROOT is misused
        remove_tree($ConfDir, $HtmlDir, $LogDir,
                    glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));
    }
    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        mkdir $dir or bail_out("Failed to do mkdir $dir: $!");
    }
    write_file("$HtmlDir/index.html", '<html><head><title>It works!</title>'
               . '</head><body>It works!</body></html>');
}

sub write_file {
    my ($path, $data) = @_;
    open my $out, '>', $path or bail_out("Can't open $path for writing: $!");
    binmode $out;
    print $out $data;
    close $out;
}

# --- user_files: ">>> name [date]" headers, each followed by the content.
sub write_user_files {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files or return;

    if (!ref $files) {
        my @parsed;
        for my $line (split /^/, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @parsed, [$1, undef, $2];
            } elsif (@parsed) {
                $parsed[-1][1] .= $line;
            }
        }
        $files = \@parsed;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }
        write_file($path, expand_env_in_text($body // '', $name, $rand_ports));
        if ($date) {
            system("TZ=GMT touch -t '$date' '$path'") == 0
                or bail_out("$name - Failed to set the date of $path");
        }
    }
}

# $TEST_NGINX_FOO in config text becomes $ENV{TEST_NGINX_FOO} (an undefined
# one is an error, as upstream); $TEST_NGINX_RAND_PORT_N a free port.
sub expand_env_in_text {
    my ($text, $name, $rand_ports) = @_;
    return undef if !defined $text;

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            $rand_ports->{$var} //= gen_rand_port()
                // bail_out("$name - Cannot find a free port for $var");
        } else {
            bail_out("$name - No environment $var defined.\n")
                if !defined $ENV{$var};
            $ENV{$var};
        }
    }eg;
    return $text;
}

# Environment nginx passes on to workers, as upstream does.
my @DefaultEnv = qw(MOCKEAGAIN_VERBOSE MOCKEAGAIN MOCKEAGAIN_WRITE_TIMEOUT_PATTERN
                    LD_PRELOAD LD_LIBRARY_PATH ASAN_OPTIONS);

sub write_config_file {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $main_config = $block->main_config // '';
    if ($LoadModules) {
        $main_config .= join ' ', map { "load_module $_;" } split ' ', $LoadModules;
    }
    $main_config = expand_env_in_text($main_config, $name, $rand_ports);
    my $http_config = expand_env_in_text($block->http_config // '', $name,
                                         $rand_ports);
    my $post_main_config = expand_env_in_text($block->post_main_config // '',
                                              $name, $rand_ports);
    my $err_log_file = $block->error_log_file || $ErrLogFile;
    my $server_name = $block->server_name // $ServerName;
    my $env = join '', map { /\s/ ? "env '$_';\n" : "env $_;\n" }
                       @DefaultEnv, @EnvToNginx;
    # under valgrind nginx stays our child, so we see it exit
    my $daemon = $UseValgrind ? 'off' : $DaemonEnabled;

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    # Upstream adds "user root;" whenever it runs as root, whatever the
    # block's main_config says; we do the same.
    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0             ? "user root;\n"
             : '';

    write_file($ConfFile, <<"_EOC_");
worker_processes  $Workers;
daemon $daemon;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
$env
$main_config

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;

$http_config

    server {
        listen          $ServerPort;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
}
$user
_EOC_
}

# ---- starting and stopping nginx -------------------------------------------

sub nginx_command {
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    return @cmd if !$UseValgrind;

    my @opts = $UseValgrind =~ /^\d+$/
        ? ('--tool=memcheck', '--leak-check=full', '--show-possibly-lost=no',
           '--num-callers=30', "--error-exitcode=$ValgrindErrorExit",
           '--errors-for-leak-kinds=definite,indirect',
           '--gen-suppressions=all')
        : split ' ', $UseValgrind;
    for my $supp ($CoreSuppressions, File::Spec->rel2abs('t/valgrind.suppress')) {
        push @opts, "--suppressions=$supp" if -f $supp;
    }
    # %p: with master_process on, each worker gets its own log
    push @opts, "--log-file=$LogDir/valgrind.%p.log";
    return ('valgrind', @opts, @cmd);
}

# Start nginx for the block and wait until it listens (or, for --- must_die,
# check that it does not start).
sub start_nginx {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    stop_nginx($name);
    check_prev_block_shutdown_error_log();
    @StartupStderr = ();

    setup_server_root();
    write_user_files($block, $rand_ports);
    write_config_file($block, $config, $rand_ports);

    return run_must_die($block) if defined $block->must_die;

    if ($UseValgrind) {
        spawn_child_nginx($name);
    } else {
        start_daemon_nginx($name);
    }
    wait_until_up($name);
}

# Runs the nginx command line in the foreground with stderr to a file;
# returns the wait status.
sub run_nginx_command {
    my @cmd = nginx_command();
    warn "running @cmd\n" if $Verbose;
    my $pid = fork // bail_out("fork() failed: $!");
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $StderrFile;
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $?;
}

sub read_stderr_file {
    open my $in, '<', $StderrFile or return ();
    return <$in>;
}

sub start_daemon_nginx {
    my $name = shift;
    my $deadline = time + $StartupTimeout;
    while (1) {
        my $status = run_nginx_command();
        return if $status == 0;

        my @err = read_stderr_file();
        # the port may still be held for a moment by a process on its way out
        if (grep(/Address already in use/, @err) && time < $deadline) {
            sleep 0.1;
            next;
        }
        bail_out("$name - Cannot start nginx using command \""
                 . join(' ', nginx_command()) . "\" (status $status): @err");
    }
}

sub spawn_child_nginx {
    my $name = shift;
    my @cmd = nginx_command();
    warn "$name\n";     # upstream names each block on stderr under valgrind
    my $pid = fork // bail_out("$name - fork() failed: $!");
    if ($pid == 0) {
        setpgrp;
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $StderrFile;
        exec { $cmd[0] } @cmd or POSIX::_exit(127);
    }
    $ChildPid = $pid;
}

sub port_is_listening {
    my $port = shift;
    my $hex = sprintf '%04X', $port;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $file or next;
        while (<$in>) {
            # local_address rem_address st; 0A is LISTEN
            return 1 if /^\s*\d+:\s+[0-9A-F]+:$hex\s+[0-9A-F]+:[0-9A-F]+\s+0A\b/;
        }
    }
    return 0;
}

# Wait for the pid file and the listening socket. Probing the port with a
# connection would put extra lines in the error log, so /proc is read.
sub wait_until_up {
    my $name = shift;
    my $deadline = time + $StartupTimeout;
    my $has_proc = -r '/proc/net/tcp';

    while (time < $deadline) {
        if ($ChildPid && waitpid($ChildPid, WNOHANG) == $ChildPid) {
            my $status = $?;
            undef $ChildPid;
            bail_out("$name - nginx exited during start-up (status $status): "
                     . join('', read_stderr_file(), tail_error_log()));
        }
        if (-s $PidFile && (!$has_proc || port_is_listening($ServerPort))) {
            $DaemonPid = pid_from_pidfile() if !$ChildPid;
            sleep $TestNginxSleep;
            return;
        }
        sleep 0.02;
    }
    bail_out("$name - nginx did not come up within ${StartupTimeout}s: "
             . join('', read_stderr_file(), tail_error_log()));
}

sub tail_error_log {
    open my $in, '<', $ErrLogFile or return ();
    my @lines = <$in>;
    return @lines > 20 ? @lines[-20 .. -1] : @lines;
}

sub pid_from_pidfile {
    open my $in, '<', $PidFile or return undef;
    my $pid = do { local $/; <$in> } // '';
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# Stop the nginx we started, else whatever nginx the pid file names (one
# left behind by an earlier run). Our own pid is remembered in case the
# pid file went away under us.
sub stop_nginx {
    my $name = shift;
    return stop_child_nginx($name) if $ChildPid;

    my $pid = $DaemonPid // pid_from_pidfile();
    undef $DaemonPid;
    if (defined $pid && is_running($pid) && is_nginx($pid)) {
        kill_process($pid, $name);
    }
    unlink $PidFile;
}

sub is_nginx {
    my $pid = shift;
    open my $in, '<', "/proc/$pid/cmdline" or return 1;   # no /proc: trust it
    my $cmd = <$in> // '';
    return $cmd =~ /nginx/;
}

sub kill_process {
    my ($pid, $name) = @_;
    kill SIGQUIT, $pid;
    return if wait_for_exit($pid, $Timeout);

    warn "$name - timeout when waiting for the process $pid to exit\n";
    kill SIGTERM, $pid;
    return if wait_for_exit($pid, 1);
    kill SIGKILL, $pid;
    wait_for_exit($pid, 1);
}

sub wait_for_exit {
    my ($pid, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        waitpid $pid, WNOHANG;
        return 1 if !is_running($pid);
        sleep 0.02;
    }
    return !is_running($pid);
}

# Graceful stop of the foreground nginx; returns its wait status, or undef
# if it had to be killed.
sub stop_child_nginx {
    my $name = shift;
    my $pid = $ChildPid or return undef;
    undef $ChildPid;

    kill SIGQUIT, $pid;
    # valgrind's leak check at exit can take a while
    my $deadline = time + $StartupTimeout;
    while (time < $deadline) {
        my $r = waitpid $pid, WNOHANG;
        return $? if $r == $pid;
        return undef if $r == -1;
        sleep 0.05;
    }
    warn "$name - nginx $pid did not exit on SIGQUIT; killing it\n";
    kill SIGKILL, -$pid;
    waitpid $pid, 0;
    unlink $PidFile;
    return undef;
}

# ---- --- must_die -------------------------------------------------------

sub run_must_die {
    my $block = shift;
    my $name = $block->name;
    my $must_die = $block->must_die;

    for my $i (0 .. $RepeatEach - 1) {
        my $status = run_nginx_command();
        my $exit_code = $status >> 8;

        if ($status & 127) {
            Test::More::fail("$name - nginx died of signal " . ($status & 127));
        } elsif ($exit_code == 127 && !-x $NginxBinary) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($must_die, $exit_code,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        # the block's error_log patterns also see what nginx printed
        # before it had an error log of its own
        @StartupStderr = read_stderr_file();
        $ErrLogFilePos = 0;
        $CheckErrorLog->($block, undef, 0, $i, 0);
        @StartupStderr = ();

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; killing it\n";
            for (1 .. 50) { last if -s $PidFile; sleep $TestNginxSleep }
            stop_nginx($name);
        }
    }
}

# ---- valgrind ----------------------------------------------------------

my $ValgrindErrorRe = qr/
      Invalid\ (?:read|write)\ of\ size
    | uninitialised
    | Invalid\ free\(\)
    | Mismatched\ free\(\)
    | definitely\ lost\ in\ loss\ record
    | indirectly\ lost\ in\ loss\ record
/x;

# Fail the block on the first error any of its valgrind logs reports.
sub check_valgrind {
    my ($name, $status) = @_;

    for my $log (sort glob "$LogDir/valgrind.*.log") {
        open my $in, '<', $log or next;
        my @lines = map { s/^==\d+==\s?//r } <$in>;
        close $in;

        my $error = first_valgrind_error(\@lines);
        if (defined $error) {
            Test::More::fail("$name - valgrind: $error");
            Test::More::diag("see $log");
            return;
        }
    }

    if (!defined $status) {
        Test::More::diag("$name - nginx was killed; valgrind could not check leaks");
    } elsif (($status >> 8) == $ValgrindErrorExit) {
        Test::More::fail("$name - valgrind exited with its error code; see "
                         . "$LogDir/valgrind.*.log");
    }
}

sub first_valgrind_error {
    my $lines = shift;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        if ($line =~ $ValgrindErrorRe) {
            my @next = @$lines[$i + 1 .. min($i + 8, $#$lines)];
            my @stack = grep { /^\s+(?:at|by) / } @next;
            chomp(my $head = $line);
            return join "\n", $head, map { s/\s+$//r } @stack;
        }
        if ($line =~ /(definitely|indirectly) lost: ([\d,]+) bytes/ && $2 ne '0') {
            chomp $line;
            return $line;
        }
    }
    return undef;
}

# ---- --- shutdown_error_log ----------------------------------------------

sub check_prev_block_shutdown_error_log {
    my $block = $PrevBlock or return;
    return if !defined $block->shutdown_error_log
              && !defined $block->no_shutdown_error_log;
    $CheckShutdownErrorLog->($block, $ENV{TEST_NGINX_NO_CLEAN} ? 1 : 0);
}

# ---- the end -------------------------------------------------------------

sub cleanup {
    $_->() for @CleanupHandlers;
    @CleanupHandlers = ();
}

our $MainPid = $$;

END {
    # never from a forked child that failed to exec
    return if $$ != $MainPid;
    local $?;   # keep Test::Builder's exit code

    cleanup();
    if ($ChildPid) {
        stop_child_nginx('END');
    } elsif (!$ENV{TEST_NGINX_NO_CLEAN}) {
        stop_nginx('END');
    }
    check_prev_block_shutdown_error_log();
    undef $PrevBlock;

    if ($ENV{TEST_NGINX_RANDOMIZE} && !$ENV{TEST_NGINX_NO_CLEAN}
        && $ServRoot =~ m{/t/servroot_\d+$})
    {
        remove_tree($ServRoot);
    }
}

1;
