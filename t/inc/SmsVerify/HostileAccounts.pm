package SmsVerify::HostileAccounts;

# The generators of t/095-hostile-accounts.t: hostile input to login,
# logout, session, reset_send, reset and the locations behind
# smsverify_auth, built on those of t/090-hostile.t (Hostile.pm: the
# templates, the faults, the transports, the checks of an answer), and
# the checks of what the accounts' part of the store holds afterwards.
# For the blocks' flows:
#
#   acct_members($n)              $n members through send, confirm and
#                                 signup (V phones 1 .. $n): their records
#   run_account_field_faults($seed)
#                                 every fault of every field of login (by
#                                 email and by phone), reset_send and
#                                 reset, each alone in a body for an
#                                 account nobody has: (sent, failures)
#   run_member_faults($members)   the same faults aimed at real members:
#                                 their email or phone with a malformed
#                                 password, their real password with
#                                 hidden bytes, a malformed reset with a
#                                 real reset token: (sent, failures)
#   run_account_http_faults($seed)
#                                 HTTP-level garbage, refused media types
#                                 and methods, against every account
#                                 endpoint and guarded location: failures
#   run_cookie_faults($members)   smsverify_session and smsverify_token
#                                 cookies of every wrong length and byte,
#                                 many Cookie headers, a huge one: (sent,
#                                 failures)
#   run_account_fuzz($members)    the seeded fuzz, the real account flows
#                                 among the malformed requests, then the
#                                 store, the counters, the workers and
#                                 the log checked (tests)
#   check_accounts($members)      the accounts' part of the store and the
#                                 sessions: what the valid requests made;
#                                 then every member logs in (tests)
#   check_log($members, @allowed) the error log: nothing at [error] or
#                                 above but lines matching @allowed, and
#                                 no password, session or token the test
#                                 used (tests)
#
# A member: { i, e164, email, password, id, record (its stored JSON),
# sessions => { value => live? }, reset (its password was reset) }.

use strict;
use warnings;

use File::Temp ();
use JSON::PP ();
use Test::More;
use Time::HiRes qw(time);

use SmsVerify ();
use SmsVerify::Hostile ();

use Exporter 'import';
our @EXPORT = qw(acct_members run_account_field_faults run_member_faults
                 run_account_http_faults run_cookie_faults run_account_fuzz
                 check_accounts check_log member_cookie);

my $H = 'SmsVerify::Hostile';

# Hostile.pm's own, by their short names
BEGIN {
    no strict 'refs';
    *{$_} = \&{"SmsVerify::Hostile::$_"}
        for qw(rnd pick chance random_bytes template body_of faults_of
               named http_request exchange responses wrong json_request
               http_case refused_case status_case v_e164 printable run_case
               phone_format);
}

our $Valgrind = $SmsVerify::Hostile::Valgrind;
our $Seed     = $ENV{TEST_NGINX_HOSTILE_SEED} // 95095;
our $Count    = $ENV{TEST_NGINX_HOSTILE_COUNT} // ($Valgrind ? 600 : 2000);
our $Children = $Valgrind ? 0 : 2;

my $Json = JSON::PP->new->utf8->canonical;

# the endpoints of accounts: those with a JSON body, and the others
our @BodyEps = qw(login login_phone reset_send reset);
our @OtherEps = qw(logout session members verified);

# ---- members ---------------------------------------------------------------

sub member_cookie { "smsverify_session=$_[0]" }

sub session_in {
    my $res = shift;
    my $sc = $res->{headers}{'set-cookie'} // '';
    return $sc =~ /(?:^|[\s,])smsverify_session=([A-Za-z0-9_-]{43});/
         ? $1 : undef;
}

sub member_record {
    my $id = shift;
    for my $r (@{ SmsVerify::sv_store_dump('members') }) {
        return $r->[1] if unpack('Q>', $r->[0]) == $id;
    }
    return undef;
}

# $n members of V phones 1 .. $n (e-mails vI@example.com), each with the
# session its signup started.
sub acct_members {
    my $n = shift;
    my @m;
    for my $i (1 .. $n) {
        my $e164 = v_e164($i);
        my $token = SmsVerify::sv_verify_phone($e164);
        my $m = { i => $i, e164 => $e164, email => "v$i\@example.com",
                  password => "Passw0rd!$i", sessions => {} };
        my $res = SmsVerify::sv_request(POST => '/signup',
            SmsVerify::sv_member(phoneNumber => $e164, email => $m->{email},
                                 password => $m->{password},
                                 termsId => [1], verificationToken => $token));
        die "signup $i: $res->{status} $res->{body}" if $res->{status} != 200;
        $m->{id} = $res->{json}{memberId};
        my $s = session_in($res) // die "signup $i: no session";
        $m->{sessions}{$s} = 1;
        push @m, $m;
    }
    $_->{record} = member_record($_->{id}) for @m;
    return \@m;
}

# ---- one field's faults, each alone ----------------------------------------

sub field_case {
    my ($ep, $v, $f, $fault, %o) = @_;
    my ($value, $words, $named) = @$fault;
    $words //= $SmsVerify::Hostile::Clean{$ep};
    $v->{$f} = $value;
    return { name => "$ep $f=" . (defined $value ? printable($value)
                                                  : '(absent)')
                     . ($o{who} ? " ($o{who})" : ''),
             req => http_request(path => $SmsVerify::Hostile::Path{$ep},
                                 body => body_of($v, 0),
                                 ctype => 'application/json',
                                 headers => $o{headers}),
             expect => { json => $ep, words => $words,
                         field => named($f, $named) } };
}

sub run_account_field_faults {
    my $seed = shift;
    my (@fail, $n);
    srand $seed;
    for my $ep (@BodyEps) {
        my $fields = $SmsVerify::Hostile::Faulted{$ep}
                     // $SmsVerify::Hostile::Fields{$ep};
        for my $f (@$fields) {
            for my $fault (faults_of($ep, $f)) {
                push @fail, run_case(field_case($ep, template($ep), $f,
                                                $fault), {});
                $n++;
            }
        }
    }
    return ($n, @fail);
}

# A JSON string of the member's real value with bytes that must not pass
# for it (RFC 8259, 7; see 090 TEST 4): INVALID_JSON, never the value.
sub hidden {
    my $s = shift;
    return map { [$_, ['INVALID_JSON']] }
        qq("$s\x00"), qq("$s\x00x"), qq("$s\\u0000"), qq("$s\\u0000x"),
        qq("$s\\uZZZZ"), qq("$s\\u00G0"), qq("$s\\u12"), qq("$s\x01"),
        qq("$s\x1f"), qq("$s\xff"), qq("$s\xc0\xaf"), qq("$s\xed\xa0\x80"),
        qq("$s\\ud800"), qq("$s\x0b"), qq("$s\\");
}

# The faults of %Faulted aimed at real members: their account with a
# password that never reaches bcrypt (no failure counted, no session),
# their real password with hidden bytes, their account with hidden bytes
# and the real password; a reset of a member's phone with a real reset
# token and a malformed password or phone, or the token of another phone.
# Returns (sent, failures); the tokens are left unused.
sub run_member_faults {
    my $members = shift;
    my (@fail, $n);
    my $run = sub { push @fail, run_case(shift, {}); $n++ };
    my ($m, $o) = @$members[0, 1];
    my %acct = (login => { email => qq("$m->{email}") },
                login_phone => { phoneNumber => qq("$m->{e164}") });
    for my $ep (qw(login login_phone)) {
        my @faults = grep { $_->[1] && $_->[1][0] =~ /^(?:MISSING|INVALID)_/ }
                     faults_of($ep, 'password');
        for my $fault (@faults, hidden($m->{password})) {
            $run->(field_case($ep, { %{ $acct{$ep} } }, 'password', $fault,
                              who => 'a member'));
        }
        my ($f, $real) = $ep eq 'login' ? ('email', $m->{email})
                                        : ('phoneNumber', $m->{e164});
        for my $fault (hidden($real)) {
            $run->(field_case($ep, { password => qq("$m->{password}") }, $f,
                              $fault, who => 'a member'));
        }
    }
    # a reset token for $m, taken through reset_send and confirm
    my $token = SmsVerify::sv_verify_phone($m->{e164}, '/reset/send',
                                           '/confirm');
    my %v = (phoneNumber => qq("$m->{e164}"), password => '"N3wPassw0rd"',
             verificationToken => qq("$token"));
    for my $fault (grep { $_->[1] && $_->[1][0] ne 'PHONE_NOT_VERIFIED' }
                   faults_of('reset', 'password'), hidden('N3wPassw0rd')) {
        $run->(field_case('reset', { %v }, 'password', $fault,
                          who => "a member's token"));
    }
    for my $fault (grep { $_->[1] && $_->[1][0] ne 'PHONE_NOT_VERIFIED' }
                   faults_of('reset', 'phoneNumber'), hidden($m->{e164})) {
        $run->(field_case('reset', { %v }, 'phoneNumber', $fault,
                          who => "a member's token"));
    }
    for my $fault (hidden($token)) {
        $run->(field_case('reset', { %v }, 'verificationToken', $fault,
                          who => "a member's token"));
    }
    # the token of another member's phone; the token as a cookie with
    # a body token that is wrong (the body's counts)
    $run->(field_case('reset', { %v }, 'phoneNumber',
                      [qq("$o->{e164}"), ['PHONE_NOT_VERIFIED']],
                      who => "another member's phone"));
    $run->(field_case('reset', { %v }, 'verificationToken',
                      ['"' . ('A' x 43) . '"', ['PHONE_NOT_VERIFIED']],
                      who => 'the real token as a cookie',
                      headers => ["Cookie: smsverify_token=$token"]));
    $m->{reset_token} = $token;
    return ($n, @fail);
}

# ---- HTTP-level faults -----------------------------------------------------

my $LoggedOut = sub {
    my $j = shift;
    return ($j->{status} // '') eq 'logged_out' && keys %$j == 1
         ? undef : 'not logged_out: ' . $Json->encode($j);
};

# What an HTTP-level case may get from an endpoint without a body (or a
# guarded location), where nginx lets the request through: logout's 200,
# the others' JSON error, whatever the method; nginx's own page too where
# a body over client_max_body_size is discarded, not read.
sub account_expect {
    my $case = shift;
    my $ep = $case->{ep} // return $case;
    return $case if !grep { $_ eq $ep } @OtherEps;
    for my $e (ref $case->{expect} eq 'ARRAY' ? @{ $case->{expect} }
                                              : $case->{expect}) {
        next if !$e->{nginx};
        $e->{json} //= $ep;
        @$e{qw(ok check)} = ('logout', $LoggedOut) if $ep eq 'logout';
    }
    return $case;
}

# Methods each endpoint without a body refuses; a guarded location asks
# for the session whatever the method.
sub method_case {
    my $ep = pick(@OtherEps);
    my $m = pick(qw(GET HEAD POST PUT DELETE PATCH PROPFIND FOO));
    my %o = (method => $m, path => $SmsVerify::Hostile::Path{$ep});
    if (chance(0.5)) {
        $o{body} = chance(0.5) ? random_bytes(rnd 3000) : '{"x":' x 50;
        $o{chunked} = chance(0.3);
        $o{ctype} = pick('application/json', 'text/plain', undef);
    }
    my $head = $m eq 'HEAD';
    my $e = $ep eq 'logout'
          ? ($m eq 'POST' ? { ok => 'logout', check => $LoggedOut }
                          : { json => 'logout', words => ['METHOD_NOT_ALLOWED'] })
          : $ep eq 'session'
          ? { json => 'session', words => [$m eq 'GET' || $head
                                   ? 'NOT_LOGGED_IN' : 'METHOD_NOT_ALLOWED'] }
          : { json => $ep, words => [$ep eq 'members' ? 'NOT_LOGGED_IN'
                                                      : 'PHONE_NOT_VERIFIED'] };
    if ($head) {
        my %st = (logout => 405, session => 401, members => 401,
                  verified => 403);
        $e = { head => [$st{$ep}] };
    }
    return { name => "$ep $m", req => http_request(%o), heads => [$head],
             expect => $e };
}

sub run_account_http_faults {
    my $seed = shift;
    my @fail;
    srand $seed;
    push @fail, run_case(account_expect(http_case(@BodyEps, @OtherEps)), {})
        for 1 .. 200;
    push @fail, run_case(refused_case(@BodyEps), {}) for 1 .. 60;
    push @fail, run_case(method_case(), {}) for 1 .. 80;
    return @fail;
}

# ---- cookies ---------------------------------------------------------------

my @TokenChars = ('A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_');

sub token_chars { join '', map { pick(@TokenChars) } 1 .. shift }

# Cookie values that hold no session (or token): every length but 43 in
# the token's alphabet, 43 of another alphabet, a real value cut, grown
# or with a byte changed; and whether nginx itself refuses the header
# (NUL, a bare CR, a line over large_client_header_buffers). (Not the
# real value with white space after it: nginx trims a header's value.)
my %BadValues;

sub bad_values {
    my $real = shift;
    return @{ $BadValues{$real // ''} //= [bad_values_of($real)] };
}

sub bad_values_of {
    my $real = shift;
    my @v = map { [token_chars($_)] } 0 .. 42, 44 .. 50, 64, 86, 100, 1000,
                                      4000, 7000;
    push @v, map { [$_] }
        'A' x 42 . '=', 'A' x 42 . '%', 'A' x 42 . '"', '"' . 'A' x 41 . '"',
        'A' x 42 . "\x80", "\xff" x 43, "\xe2\x82\xac" x 14 . 'A',
        'A' x 21 . ' ' . 'A' x 21, 'A' x 21 . ',' . 'A' x 21,
        'A' x 21 . "\t" . 'A' x 21, 'A' x 42 . "\x7f";
    push @v, map { ['A' x 21 . chr($_) . 'A' x 21] } 1 .. 8, 11, 12, 14 .. 31;
    if (defined $real) {
        push @v, [substr($real, 0, 42)], [substr($real, 1)], ["${real}A"],
                 ["$real,"], ["$real\x01"], ["$real\x7f"],
                 ["A$real"], [lc $real eq $real ? uc $real : lc $real],
                 [substr($real, 0, 20) . (substr($real, 20, 1) eq 'A'
                                          ? 'B' : 'A') . substr($real, 21)],
                 ["$real$real"], ['"' . $real . '"'];
    }
    push @v, ["A" x 21 . "\x00" . "A" x 21, 400], ["A" x 42 . "\x00", 400],
             ["A" x 21 . "\r" . "A" x 21, 400], [token_chars(9000), 400];
    return @v;
}

# How a value travels: alone, among other cookies, after a cookie of a
# name that starts the same, in a second Cookie header, or in one of many.
sub cookie_headers {
    my ($name, $value) = @_;
    my $k = rnd 6;
    return ["Cookie: $name=$value"] if $k == 0;
    return ["Cookie: a=1; $name=$value; b=2"] if $k == 1;
    return ["Cookie: ${name}_x=" . token_chars(43) . "; $name=$value"]
        if $k == 2;
    return ["Cookie: a=1", "Cookie: $name=$value"] if $k == 3;
    return ["Cookie: " . uc($name) . "=$value"] if $k == 4;
    my @h = map { "Cookie: c$_=" . token_chars(1 + rnd 60) } 1 .. 1 + rnd 60;
    splice @h, rnd(scalar @h), 0, "Cookie: $name=$value";
    return \@h;
}

# One request with a cookie that holds no session or token, to an
# endpoint that reads it: the answer as if there were no cookie.
sub cookie_case {
    my ($value, $nginx, $target) = @_;
    my $ep = $target // pick(qw(session session logout members verified
                                reset));
    my $name = $ep =~ /^(?:verified|reset)$/ ? 'smsverify_token'
                                              : 'smsverify_session';
    $name = 'smsverify_token' if $ep eq 'session' && chance(0.2);
    my $head = $ep eq 'session' && chance(0.2);
    my %o = (path => $SmsVerify::Hostile::Path{$ep},
             headers => cookie_headers($name, $value));
    my $e;
    if ($ep eq 'logout') {
        $e = { ok => 'logout', check => $LoggedOut };
        $o{body} = pick('', 'x', '{}') if chance(0.5);
    } elsif ($ep eq 'reset') {
        my $v = template('reset');
        delete $v->{verificationToken};
        %o = (%o, body => body_of($v, 0), ctype => 'application/json');
        $e = { json => 'reset', words => ['PHONE_NOT_VERIFIED'] };
    } else {
        %o = (%o, method => $head ? 'HEAD' : 'GET');
        my %w = (session => 'NOT_LOGGED_IN', members => 'NOT_LOGGED_IN',
                 verified => 'PHONE_NOT_VERIFIED');
        $e = $head ? { head => [401] } : { json => $ep, words => [$w{$ep}] };
    }
    $e = { nginx => [400] } if $nginx;
    return { name => "$ep $name=" . printable($value), ep => $ep,
             req => http_request(%o), heads => [$head], expect => $e };
}

# Every bad value on every endpoint that reads a cookie, then a few with
# a real session or token hidden in them; the real session must live on
# (the caller checks). Returns (sent, failures).
sub run_cookie_faults {
    my $members = shift;
    my ($m) = @$members;
    my ($real) = grep { $m->{sessions}{$_} } sort keys %{ $m->{sessions} };
    my (@fail, $n);
    srand $Seed + 3;
    for my $target (qw(session logout members verified reset)) {
        for my $bad (bad_values($real)) {
            push @fail, run_case(cookie_case($bad->[0], $bad->[1], $target), {});
            $n++;
        }
    }
    # the real session among the noise, where it is the only one: found
    for my $headers (["Cookie: a=1; smsverify_session=$real; b=2"],
                     [(map { "Cookie: c$_=x" } 1 .. 50),
                      "Cookie: smsverify_session=$real"],
                     ["Cookie: SMSVERIFY_SESSION=$real"]) {
        my $case = { name => 'the real session among others: '
                             . printable(join ' ', @$headers),
                     req => http_request(method => 'GET', path => '/session',
                                         headers => $headers),
                     expect => { ok => 'session', check => sub {
                         $_[0]{memberId} == $m->{id} ? undef
                             : 'not the member: ' . $Json->encode($_[0]) } } };
        push @fail, run_case($case, {});
        $n++;
    }
    # every Cookie header the request may have, and more
    for my $many (100, 1000) {
        my @h = map { "Cookie: c$_=" . token_chars(20) } 1 .. $many;
        my $case = { name => "$many Cookie headers",
                     req => http_request(method => 'GET', path => '/session',
                                         headers => \@h),
                     expect => $many > 500
                             ? { nginx => [400], json => 'session',
                                 words => ['NOT_LOGGED_IN'] }
                             : { json => 'session', words => ['NOT_LOGGED_IN'] } };
        push @fail, run_case($case, {});
        $n++;
    }
    return ($n, @fail);
}

# ---- the fuzz --------------------------------------------------------------

sub hostile_account_case {
    my $r = rand;
    return $r < 0.40 ? json_request(pick(@BodyEps, @BodyEps,
                                         qw(send confirm signup)))
         : $r < 0.52 ? account_expect(http_case(@BodyEps, @OtherEps))
         : $r < 0.60 ? refused_case(@BodyEps)
         : $r < 0.68 ? method_case()
         : $r < 0.86 ? cookie_case(@{ pick(bad_values()) })
         : $r < 0.90 ? status_case()
         : pipeline_case();
}

sub pipeline_case {
    my @parts = map { my $r = rand;
                      $r < 0.5 ? json_request(pick(@BodyEps), conn => 'keep-alive')
                    : $r < 0.8 ? cookie_case(@{ pick(grep { !$_->[1] }
                                                      bad_values()) })
                    : status_case() } 1 .. 2 + rnd 4;
    for my $p (@parts[0 .. $#parts - 1]) {
        $p->{req} =~ s/\r\nConnection: close\r\n/\r\nConnection: keep-alive\r\n/;
    }
    $parts[-1]{req} =~ s/\r\nConnection: keep-alive\r\n/\r\nConnection: close\r\n/;
    return { name => 'pipelined: ' . join(' | ', map { $_->{name} } @parts),
             req => join('', map { $_->{req} } @parts),
             heads => [map { $_->{heads} ? $_->{heads}[0] : 0 } @parts],
             expect => [map { $_->{expect} } @parts] };
}

sub child_fuzz {
    my ($k, $file) = @_;
    srand($Seed + $k);
    my (%words, @fail, $n);
    my $stop = time + $SmsVerify::Hostile::Deadline;
    for (1 .. $Count) {
        last if time > $stop;
        push @fail, run_case(hostile_account_case(), \%words);
        $n++;
    }
    open my $out, '>', "$file.tmp" or die "$file: $!";
    print $out $Json->encode({ n => $n, fail => \@fail, words => \%words });
    close $out;
    rename "$file.tmp", $file;
    return 0;
}

# A valid request, sent plainly or chunked, padded into a temporary file,
# or pipelined between two malformed ones; its answer checked by $check
# (the status, the JSON and the response): the response, the failures.
sub valid_request {
    my ($ep, $method, $body, $headers, $check) = @_;
    my $how = defined $body ? rnd 4 : 0;
    my %o = (method => $method, path => $SmsVerify::Hostile::Path{$ep},
             headers => $headers);
    if (defined $body) {
        %o = (%o, body => $Json->encode($body), ctype => 'application/json');
        $o{chunked} = 1 if $how == 1;
        $o{body} .= ' ' x (16384 + rnd 100000) if $how == 2;
    }
    my @parts = ({ name => "valid $ep", req => http_request(%o),
                   expect => { ok => $ep } });
    if ($how == 3) {
        # (no login: the counters add up the answers to those run_case
        # sends)
        @parts = (json_request(pick(qw(reset_send reset send))), @parts,
                  json_request(pick(qw(reset_send reset send))));
        $parts[$_]{req} =~ s/\r\nConnection: close\r\n/\r\nConnection: keep-alive\r\n/
            for 0, 1;
    }
    my $ex = exchange(join '', map { $_->{req} } @parts);
    my @res = responses($ex->{raw});
    my $name = "valid $ep " . ($Json->encode($body // {}) =~ s/"password":"[^"]*"/"password":.../r);
    return (undef, "$name: no answer (a hang)") if $ex->{timed_out};
    my @fail;
    for my $i (0 .. $#parts) {
        next if $parts[$i]{name} =~ /^valid/;
        my $why = wrong($parts[$i]{expect}, $res[$i]);
        push @fail, "$parts[$i]{name} (around $name): $why" if defined $why;
    }
    my $res = $res[$how == 3 ? 1 : 0];
    return (undef, @fail, "$name: no answer") if !$res || !$res->{status};
    my $json = eval { $Json->decode($res->{body}) } // {};
    my $why = $check->($res->{status}, $json, $res);
    push @fail, "$name: $why: $res->{status} $res->{body}" if defined $why;
    return ($res, @fail);
}

# One step of a member's account: log in (by email in any case, or by
# phone in any form), a wrong password now and then, the session and the
# guarded location with its cookie, logout, a password reset. Steps are
# taken in a random order, one member at a time. Returns the failures.
sub member_step {
    my ($m, $count) = @_;
    my @live = grep { $m->{sessions}{$_} } sort keys %{ $m->{sessions} };
    my @dead = grep { !$m->{sessions}{$_} } sort keys %{ $m->{sessions} };
    my $r = rnd 10;
    my @f;
    if ($r < 3 || !@live) {
        my $by_email = chance(0.5);
        my $acct = $by_email ? { email => pick($m->{email}, uc $m->{email},
                                               ucfirst $m->{email}) }
                             : { phoneNumber => phone_format($m->{i}) };
        if (chance(0.15) && ($m->{failed} // 0) < 2) {
            (undef, @f) = valid_request(login => 'POST',
                               { %$acct, password => "$m->{password}x" }, undef,
                               sub { $_[0] == 401 && $_[1]{error} eq 'LOGIN_FAILED'
                                     ? undef : 'not LOGIN_FAILED' });
            $m->{failed}++;
            $count->{failed}++;
            return @f;
        }
        my $res;
        ($res, @f) = valid_request(login => 'POST',
                           { %$acct, password => $m->{password} }, undef,
                           sub { $_[0] == 200 && $_[1]{memberId} == $m->{id}
                                 && session_in($_[2]) ? undef : 'not logged in' });
        if (!@f) {
            $m->{sessions}{ session_in($res) } = 1;
            $m->{failed} = 0;
            $count->{logins}++;
        }
        return @f;
    }
    my $s = pick(@live);
    if ($r < 5) {
        (undef, @f) = valid_request(session => pick('GET', 'HEAD'), undef,
                           cookie_headers('smsverify_session', $s),
                           sub { $_[0] == 200 && (!keys %{ $_[1] }
                                 || $_[1]{memberId} == $m->{id})
                                 ? undef : 'not the session' });
    } elsif ($r < 7) {
        (undef, @f) = valid_request(members => 'GET', undef,
                           ["Cookie: smsverify_session=$s"],
                           sub { $_[0] == 200 && $_[2]{body} eq "members only\n"
                                 ? undef : 'not let through' });
    } elsif ($r < 8 && @dead) {
        my $d = pick(@dead);
        (undef, @f) = valid_request(session => 'GET', undef,
                           ["Cookie: smsverify_session=$d"],
                           sub { $_[0] == 401 && $_[1]{error} eq 'NOT_LOGGED_IN'
                                 ? undef : 'an ended session lives' });
    } elsif ($r < 9) {
        (undef, @f) = valid_request(logout => 'POST', pick(undef, {}),
                           ["Cookie: smsverify_session=$s"],
                           sub { $_[0] == 200 && !$LoggedOut->($_[1])
                                 && ($_[2]{headers}{'set-cookie'} // '')
                                    =~ /smsverify_session=; Path=\/; Max-Age=0/
                                 ? undef : 'not logged out' });
        $m->{sessions}{$s} = 0 if !@f;
    } elsif (!$m->{reset} && $m->{i} % 4 == 1) {
        @f = member_reset($m, $count);
    }
    return @f;
}

# A member's password reset, with malformed resets of its real token
# before it: the valid one still works, and ends every session.
sub member_reset {
    my ($m, $count) = @_;
    my $token = eval { SmsVerify::sv_verify_phone(phone_format($m->{i}),
                                                  '/reset/send', '/confirm') }
        or return "member $m->{i}: no reset token: $@";
    $count->{reset_sends}++;
    push @{ $m->{tokens} }, $token;
    my @f;
    my %v = (phoneNumber => qq("$m->{e164}"), verificationToken => qq("$token"),
             password => qq("N3w$m->{password}"));
    for (1 .. 3) {
        my ($f, $fault) = (pick('password', 'phoneNumber'));
        ($fault) = grep { $_->[1] && $_->[1][0] ne 'PHONE_NOT_VERIFIED' }
                   pick(faults_of('reset', $f), hidden($f eq 'password'
                                                       ? "N3w$m->{password}"
                                                       : $m->{e164}));
        next if !$fault;
        push @f, run_case(field_case('reset', { %v }, $f, $fault,
                                     who => "member $m->{i}'s token"), {});
    }
    my $new = "N3w$m->{password}";
    my (undef, @v) = valid_request(reset => 'POST',
                           { phoneNumber => phone_format($m->{i}),
                             password => $new,
                             chance(0.5) ? (verificationToken => $token) : () },
                           ["Cookie: smsverify_token=$token"],
                           sub { $_[0] == 200 && $_[1]{status} eq 'password_changed'
                                 && $_[1]{memberId} == $m->{id}
                                 ? undef : 'not reset' });
    push @f, @v;
    return @f if @f;
    $count->{resets}++;
    $m->{old_password} = $m->{password};
    $m->{password} = $new;
    $m->{reset} = 1;
    $m->{sessions}{$_} = 0 for keys %{ $m->{sessions} };
    return;
}

sub run_account_fuzz {
    my $members = shift;
    srand($Seed);
    my $root = File::Temp::tempdir(CLEANUP => 1);
    my $t0 = time;
    my @workers = SmsVerify::sv_worker_pids();
    my $before = SmsVerify::sv_request(GET => '/status')->{json};

    my @kids = map { my $k = $_;
                     SmsVerify::sv_fork(sub { child_fuzz($k, "$root/acct.$k.json") })
                   } 1 .. $Children;

    my (%words, @fail, %count);
    my $n = 0;
    my $stop = $t0 + $SmsVerify::Hostile::Deadline;
    my $every = int($Count / (@$members * 12)) || 1;
    for my $round (1 .. $Count) {
        last if time > $stop;
        push @fail, run_case(hostile_account_case(), \%words);
        $n++;
        next if $round % $every;
        push @fail, member_step(pick(@$members), \%count);
    }

    my $children = { n => 0, fail => [], words => {} };
    for my $k (1 .. $Children) {
        waitpid $kids[$k - 1], 0;
        my $file = "$root/acct.$k.json";
        my $r = eval { open my $in, '<', $file or die; local $/;
                       $Json->decode(<$in>) };
        if (!$r) {
            push @fail, "child $k reported nothing (status $?)";
            next;
        }
        $children->{n} += $r->{n};
        push @{ $children->{fail} }, @{ $r->{fail} };
        $children->{words}{$_} += $r->{words}{$_} for keys %{ $r->{words} };
    }
    my $total = $n + $children->{n};
    my @all_fail = (@fail, @{ $children->{fail} });
    ok($total == $Count * (1 + $Children),
       "$total malformed requests, $n of them here, in "
       . sprintf('%.1f', time - $t0) . "s (seed $Seed), "
       . join(', ', map { "$_ $count{$_}" } sort keys %count)
       . ' by the members');
    is(scalar(@all_fail), 0, "every answer as expected (seed $Seed)")
        or diag join "\n", grep { defined } @all_fail[0 .. 29];
    my %all = %words;
    $all{$_} += $children->{words}{$_} for keys %{ $children->{words} };
    note 'answers: ' . join ', ', map { "$_ $all{$_}" }
                                  sort { $all{$b} <=> $all{$a} } keys %all;

    # the counters: every failed login answered (the lock's too), the
    # members' logins and resets, nothing else
    my $st = SmsVerify::sv_request(GET => '/status')->{json} // {};
    is_deeply({ map { $_ => ($st->{$_} // 0) - ($before->{$_} // 0) }
                qw(logins loginsFailed resets signups sent) },
              { logins => $count{logins} // 0,
                loginsFailed => ($all{LOGIN_FAILED} // 0)
                                + ($all{LOGIN_LOCKED} // 0)
                                + ($count{failed} // 0),
                resets => $count{resets} // 0, signups => 0,
                sent => $count{reset_sends} // 0 },
              'status: the counters add up');

    check_accounts($members);

    is_deeply([SmsVerify::sv_worker_pids()], \@workers,
              'the same workers as at the start: none died');
}

# ---- what the store holds --------------------------------------------------

# Every live session answers for its member and every ended one is gone;
# the members are as they signed up but for a reset's hash; no failed
# login of a member's account is left once it logged in again, and the
# accounts nobody has are the only others; then each member logs in with
# its password (a reset one's old password fails first).
sub check_accounts {
    my ($members, %o) = @_;
    my @wrong;
    my ($live, $ended) = (0, 0);
    for my $m (@$members) {
        for my $s (sort keys %{ $m->{sessions} }) {
            my $res = SmsVerify::sv_request(GET => '/session', undef,
                                            { Cookie => member_cookie($s) });
            if ($m->{sessions}{$s}) {
                $live++;
                push @wrong, "member $m->{i}: a live session answers "
                             . "$res->{status}"
                    if $res->{status} != 200
                       || ($res->{json}{memberId} // 0) != $m->{id};
            } else {
                $ended++;
                push @wrong, "member $m->{i}: an ended session answers "
                             . "$res->{status}"
                    if $res->{status} != 401;
            }
        }
    }
    is(scalar(@wrong), 0, "$live live sessions answer, $ended ended ones do not")
        or diag join "\n", @wrong;
    # records: the live ones, and those a reset ended (until the sweep)
    my @sessions = @{ SmsVerify::sv_store_dump('sessions') };
    my $reset_ended = 0;
    for my $m (grep { $_->{reset} } @$members) {
        $reset_ended += grep { !$m->{sessions}{$_} } keys %{ $m->{sessions} };
    }
    ok(@sessions >= $live && @sessions <= $live + $reset_ended,
       scalar(@sessions) . " session records: the $live live ones, and at "
       . "most the $reset_ended a reset ended");

    # members: byte for byte as they signed up, but for a reset's hash
    my @diff;
    for my $m (@$members) {
        my $rec = member_record($m->{id});
        if (!$m->{reset}) {
            push @diff, "member $m->{i} changed" if ($rec // '') ne $m->{record};
            next;
        }
        my ($was, $is) = map { eval { JSON::PP->new->decode($_) } // {} }
                         $m->{record}, $rec // '';
        my @changed = sort grep { $Json->encode([$was->{$_}])
                                  ne $Json->encode([$is->{$_}]) }
                      keys %{ { %$was, %$is } };
        push @diff, "member $m->{i} (reset): changed @changed"
            if "@changed" ne 'epoch passwordHash'
               || $is->{epoch} != $was->{epoch} + 1;
    }
    is(scalar(@diff), 0, 'the members as they signed up; a reset changed '
                         . 'only the hash') or diag join "\n", @diff;
    is(SmsVerify::sv_store_entries('members'), scalar(@$members),
       'no member more');

    # the codes' part holds V phones only: nothing for an H phone
    my @h = grep { $_ !~ /^\+82105\d{3}1\d{3}$/ }
            (map { $_->[0] } @{ SmsVerify::sv_store_dump('sends') },
                             @{ SmsVerify::sv_store_dump('codes') }),
            map { $_->[1] =~ /(\+\d+)\z/ ? $1 : printable($_->[1]) }
            @{ SmsVerify::sv_store_dump('tokens') };
    is(scalar(@h), 0, 'codes, sends, tokens: no phone of a malformed request')
        or diag join ' ', map { printable($_) } grep { defined } @h[0 .. 9];

    # logins: the old password of a reset member fails, then every member
    # logs in with its password, which forgets its failures
    my @bad;
    for my $m (@$members) {
        if ($m->{old_password}) {
            my $res = SmsVerify::sv_request(POST => '/login',
                          { email => $m->{email}, password => $m->{old_password} });
            push @bad, "member $m->{i}: the old password: $res->{status}"
                if $res->{status} != 401;
        }
        # by email and by phone: each forgets its account's failures
        for my $acct ({ email => $m->{email} }, { phoneNumber => $m->{e164} }) {
            my $res = SmsVerify::sv_request(POST => '/login',
                          { %$acct, password => $m->{password} });
            push @bad, "member $m->{i}: its password: $res->{status} "
                       . $res->{body}
                if $res->{status} != 200;
            my $s = session_in($res);
            $m->{sessions}{$s} = 1 if $s;
        }
    }
    is(scalar(@bad), 0, 'each member logs in with its password, not an old one')
        or diag join "\n", @bad;
    my %v = map { ("e:$_->{email}" => 1, "p:$_->{e164}" => 1) } @$members;
    my @left = grep { $v{$_} || !/^(?:e:h\d+\@example\.com|p:\+82109\d{3}8\d{3})$/ }
               map { $_->[0] } @{ SmsVerify::sv_store_dump('logins') };
    is(scalar(@left), 0, 'failed logins: only of accounts nobody has')
        or diag join ' ', map { printable($_) } grep { defined } @left[0 .. 9];
}

sub check_log {
    my ($members, @allowed) = @_;
    my @errors = grep { my $l = $_; !grep { $l =~ $_ } @allowed }
                 SmsVerify::sv_log_grep(qr/\[(?:error|crit|alert|emerg)\]/);
    is(scalar(@errors), 0, 'nothing at [error] or above but what was expected')
        or diag join '', @errors[0 .. ($#errors < 9 ? $#errors : 9)];
    my @secrets = ('Passw0rd!', 'N3wPassw0rd',
                   map { ($_->{password}, $_->{old_password} // (),
                          keys %{ $_->{sessions} }, @{ $_->{tokens} // [] },
                          $_->{reset_token} // ()) } @$members);
    my @seen = grep { my $v = $_; SmsVerify::sv_log_grep(qr/\Q$v\E/) } @secrets;
    is(scalar(@seen), 0, scalar(@secrets) . ' passwords, sessions and tokens '
                         . 'used, none in the error log')
        or diag join ' ', @seen;
}

1;
