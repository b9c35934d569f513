package SmsVerify::Hostile;

# The generators of t/090-hostile.t: hostile input to send, confirm,
# signup and status, and the checks of what comes back and of what the
# store holds afterwards. For the blocks' flows:
#
#   run_field_faults($seed) every fault of every field of every endpoint,
#                           each alone in an otherwise valid body: (how
#                           many were sent, the failures)
#   run_http_faults($seed)  HTTP-level garbage, refused media types and
#                           methods, status asked oddly: the failures
#   run_fuzz()              the seeded fuzz (TEST_NGINX_HOSTILE_SEED,
#                           TEST_NGINX_HOSTILE_COUNT; see the .t file),
#                           with children sending at once and real flows
#                           among the malformed requests; then the store,
#                           the counters and the workers checked (tests)
#   http_request(%o)        a request's bytes (method, path, body, ctype,
#                           headers, conn, chunked, cl, no_cl, host)
#   answers_to($bytes)      the bytes sent on a fresh connection: the
#                           responses, in order
#   printable($bytes)       short and printable, for a test's name
#
# A failure is a string naming the case and what was wrong. The cases
# come from rand(): a seed gives the same requests every run.

use strict;
use warnings;

use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use Socket qw(SOL_SOCKET SO_LINGER);
use Test::More;
use Time::HiRes qw(sleep time);

use SmsVerify ();

use Exporter 'import';
our @EXPORT = qw(run_field_faults run_http_faults run_fuzz http_request
                 answers_to printable);

our $Valgrind = $ENV{TEST_NGINX_USE_VALGRIND};
our $Seed     = $ENV{TEST_NGINX_HOSTILE_SEED} // 90090;
our $Count    = $ENV{TEST_NGINX_HOSTILE_COUNT}
                // ($Valgrind ? 600 : 3000);
our $Children = $Valgrind ? 0 : 2;
our $Phones   = $Valgrind ? 12 : 60;    # taken through the real flow
our $Timeout  = $Valgrind ? 60 : 10;    # of one exchange's silence
our $Deadline = $Valgrind ? 900 : 100;  # seconds for the whole fuzz

my $Json = JSON::PP->new->utf8->canonical;

# ---- what answers may be (API.md) -----------------------------------------

our %Status = (
    METHOD_NOT_ALLOWED => 405, UNSUPPORTED_MEDIA_TYPE => 415,
    INVALID_JSON => 400, MISSING_FIELD => 400, INVALID_FIELD => 400,
    BUSY => 503, INTERNAL => 500, INVALID_PHONE => 400,
    COUNTRY_NOT_ALLOWED => 400, PHONE_TAKEN => 409, RESEND_TOO_SOON => 429,
    SEND_LIMIT => 429, PROVIDER_FAILED => 502, CODE_MISMATCH => 400,
    NO_PENDING_CODE => 404, CODE_EXPIRED => 410, TOO_MANY_ATTEMPTS => 429,
    INVALID_EMAIL => 400, INVALID_PASSWORD => 400, INVALID_NICKNAME => 400,
    TERMS_REQUIRED => 400, UNKNOWN_TERMS => 400, PHONE_NOT_VERIFIED => 403,
    EMAIL_TAKEN => 409, LOGIN_FAILED => 401, LOGIN_LOCKED => 429,
    NOT_LOGGED_IN => 401, NOT_A_MEMBER => 404,
);

my @Common = qw(METHOD_NOT_ALLOWED UNSUPPORTED_MEDIA_TYPE INVALID_JSON
                MISSING_FIELD INVALID_FIELD INVALID_PHONE COUNTRY_NOT_ALLOWED);

# the words a malformed request to each endpoint may get: never BUSY,
# INTERNAL or anything a valid request gets
our %Words = (
    send    => { map { $_ => 1 } @Common },
    confirm => { map { $_ => 1 } @Common, 'NO_PENDING_CODE' },
    signup  => { map { $_ => 1 } @Common, qw(INVALID_EMAIL INVALID_PASSWORD
                     INVALID_NICKNAME TERMS_REQUIRED UNKNOWN_TERMS
                     PHONE_NOT_VERIFIED) },
    status  => { METHOD_NOT_ALLOWED => 1 },
    # accounts (t/095-hostile-accounts.t): login by email, and by phone
    # (no email key); an H account is no member's, so a login that passes
    # every check fails, or is locked after smsverify_login_limit
    login       => { map { $_ => 1 } @Common, qw(LOGIN_FAILED LOGIN_LOCKED) },
    login_phone => { map { $_ => 1 } @Common, qw(LOGIN_FAILED LOGIN_LOCKED) },
    reset_send  => { map { $_ => 1 } @Common, 'NOT_A_MEMBER' },
    reset       => { map { $_ => 1 } @Common, qw(INVALID_PASSWORD
                         PHONE_NOT_VERIFIED) },
    session     => { map { $_ => 1 } qw(METHOD_NOT_ALLOWED NOT_LOGGED_IN) },
    logout      => { METHOD_NOT_ALLOWED => 1 },
    # locations behind smsverify_auth member and verified
    members     => { NOT_LOGGED_IN => 1 },
    verified    => { PHONE_NOT_VERIFIED => 1 },
);

our %Fields = (
    send    => [qw(phoneNumber)],
    confirm => [qw(phoneNumber verificationNumber)],
    signup  => [qw(email password nickname phoneNumber termsId
                   verificationToken)],
    # login names phoneNumber when there is no email (or it is null)
    login       => [qw(email password phoneNumber)],
    login_phone => [qw(phoneNumber password)],
    reset_send  => [qw(phoneNumber)],
    reset       => [qw(password verificationToken phoneNumber)],
);

# the fields a fault is put in, where not all of %Fields
our %Faulted = (login => [qw(email password)]);

our %Path = (send => '/send', confirm => '/confirm', signup => '/signup',
             status => '/status', login => '/login', login_phone => '/login',
             reset_send => '/reset/send', reset => '/reset',
             logout => '/logout', session => '/session',
             members => '/members/index.html',
             verified => '/verified/index.html');

# ---- randomness (seeded: the same cases every run) ------------------------

sub rnd  { int rand shift }
sub pick { $_[rnd scalar @_] }
sub chance { rand() < shift }

sub random_bytes {
    my $n = shift;
    return join '', map { chr rnd 256 } 1 .. $n;
}

my @TokenChars = ('A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_');

# ---- phones: V for the real flow, H for malformed requests ----------------
#
# Their last four digits differ (V 1000-1999, H 8000-8999), so the code
# the log provider writes for a V phone is never taken for another's, and
# anything the store holds for an H phone is a malformed request's doing.

sub v_e164  { sprintf '+82105%03d%04d', $_[0], 1000 + $_[0] }
sub h_phone { my $j = shift() % 1000; sprintf '010-9%03d-%04d', $j, 8000 + $j }

# ---- bodies: a template with one fault -------------------------------------

# A field's value as JSON text in a body that is otherwise valid: the
# request then fails on that field alone, whatever order the module
# checks fields in. The token is one nobody was given, so a signup that
# passes every check is still 403 PHONE_NOT_VERIFIED, and a confirm for
# an H phone 404 NO_PENDING_CODE.
sub template {
    my $ep = shift;
    my $j = rnd 1000;
    my %v = (phoneNumber => qq("@{[ h_phone($j) ]}"));
    if ($ep eq 'confirm') {
        $v{verificationNumber} = '"' . join('', map { rnd 10 } 1 .. 6) . '"';
    } elsif ($ep eq 'signup') {
        %v = (%v, email => qq("h$j\@example.com"), password => '"Passw0rd!"',
              nickname => '"kim"', termsId => '[1,2]',
              verificationToken => '"' . join('', map { pick(@TokenChars) }
                                                  1 .. 43) . '"');
    } elsif ($ep eq 'login') {
        %v = (email => qq("h$j\@example.com"), password => '"Passw0rd!"');
    } elsif ($ep eq 'login_phone') {
        $v{password} = '"Passw0rd!"';
    } elsif ($ep eq 'reset') {
        %v = (%v, password => '"Passw0rd!"',
              verificationToken => '"' . join('', map { pick(@TokenChars) }
                                                  1 .. 43) . '"');
    }
    return \%v;
}

# The answer to a template without faults.
our %Clean = (send => undef, confirm => ['NO_PENDING_CODE'],
              signup => ['PHONE_NOT_VERIFIED'],
              login => ['LOGIN_FAILED', 'LOGIN_LOCKED'],
              login_phone => ['LOGIN_FAILED', 'LOGIN_LOCKED'],
              reset_send => ['NOT_A_MEMBER'], reset => ['PHONE_NOT_VERIFIED']);

# A body that is valid JSON and still an error (a send's phone is empty),
# and its answer: for faults that a lenient parser might look past.
sub soft_body {
    my $ep = shift;
    my $v = template($ep);
    $v->{phoneNumber} = '""' if $ep eq 'send';
    return (body_of($v, 0), $ep eq 'send' ? ['INVALID_PHONE'] : $Clean{$ep});
}

sub body_of {
    my ($v, $ws) = @_;
    my $sp = sub { $ws ? pick('', ' ', "\n", "\t", "\r\n  ") : '' };
    my @keys = keys %$v;
    @keys = sort @keys if !$ws;
    @keys = map { splice @keys, rnd(scalar @keys), 1 } 1 .. @keys if $ws;
    return $sp->() . '{' . join(',', map {
               $sp->() . qq("$_") . $sp->() . ':' . $sp->() . $v->{$_}
                   . $sp->()
           } grep { defined $v->{$_} } @keys) . '}' . $sp->();
}

# One JSON value for a field, and what the answer must be: [value or
# undef (the key is left out), [words], field named or undef]. "$f" in a
# word list stands for the field.
my %StringFaults = (
    phoneNumber => [
        ['""', ['INVALID_PHONE']], ['"abc"', ['INVALID_PHONE']],
        ['"010-1234-567"', ['INVALID_PHONE']], ['"+"', ['INVALID_PHONE']],
        ['"+82 2 123 4567"', ['INVALID_PHONE']],
        ['"++821012345678"', ['INVALID_PHONE']],
        ['"0101234567890123"', ['INVALID_PHONE']],
        ['"010-1234-5678 ext 9"', ['INVALID_PHONE']],
        ['"\u0661\u0660\u0661\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668"',
         ['INVALID_PHONE']],
        ["\"\xef\xbc\x90\xef\xbc\x91\xef\xbc\x90\"", ['INVALID_PHONE']],
        ['"+14155550123"', ['COUNTRY_NOT_ALLOWED']],
        ['"+447911123456"', ['COUNTRY_NOT_ALLOWED']],
        ['"+999123456789"', ['INVALID_PHONE', 'COUNTRY_NOT_ALLOWED']],
        ['"' . ('1' x 5000) . '"', ['INVALID_PHONE']],
        ['"' . ('0' x 200000) . '"', ['INVALID_PHONE']],
    ],
    verificationNumber => [
        map({ [$_, ['INVALID_FIELD'], 1] }
            '""', '"12a456"', '" 123456"', '"123456 "', '"-12345"',
            '"12.456"', "\"\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\"",
            '"' . ('1' x 21) . '"', '"' . ('9' x 100000) . '"'),
    ],
    email => [
        map({ [$_, ['INVALID_EMAIL']] }
            '""', '"kim"', '"kim@"', '"@example.com"', '"kim@@example.com"',
            '"kim @example.com"', '"kim@example"', '"kim@example.com\n"',
            '"\u00e9@example.com"', '"' . ('a' x 300) . '@example.com"',
            '"kim@' . ('b' x 70000) . '.com"'),
    ],
    password => [
        map({ [$_, ['INVALID_PASSWORD']] }
            '""', '"short1"', '"password!"', '"12345678"',
            '"' . ('a1' x 40) . '"', '"Passw0rd\t"', '"Passw0rd\u00e9"',
            '"Passw0rd\u007f"', '"' . ('Z9' x 50000) . '"'),
    ],
    nickname => [
        map({ [$_, ['INVALID_NICKNAME']] }
            '""', '"' . ("\xea\xb0\x80" x 21) . '"', '"kim\u0007"',
            '"kim\n"', '"\u007f"', '"k\u0085"', '"\u001b[31m"',
            '"' . ('n' x 100000) . '"'),
    ],
    verificationToken => [
        map({ [$_, ['PHONE_NOT_VERIFIED']] }
            '""', '"short"', '"' . ('A' x 42) . '"', '"' . ('A' x 44) . '"',
            '"' . ('A' x 100000) . '"'),
    ],
    termsId => [
        ['[]', ['TERMS_REQUIRED']], ['[2]', ['TERMS_REQUIRED']],
        ['[1,2,9]', ['UNKNOWN_TERMS']], ['[1,0]', ['UNKNOWN_TERMS']],
        ['[1,-4]', ['UNKNOWN_TERMS']], ['[1,1e-400]', ['UNKNOWN_TERMS']],
        map({ [$_, ['INVALID_FIELD'], 1] }
            '"1,2"', '"[1,2]"', '""', '[1,"2"]', '[1,2.5]', '[1,null]',
            '[1,[2]]', '[1,true]', '[1,{}]', '[1,1e400]', '[1,-1e400]',
            '[1,18446744073709551616]', '[1,2147483648]', '[1,-2147483649]'),
        ['[' . join(',', 1 .. 70) . ']', ['INVALID_FIELD', 'UNKNOWN_TERMS']],
        ['[' . join(',', (1, 2) x 5000) . ']', undef],     # fine: a set
    ],
);

# wrong JSON types: a string field gets INVALID_FIELD, termsId too
my @WrongTypes = ('0', '-1', '1.5', '1e400', '-1e400', '18446744073709551616',
                  '-9223372036854775809', '1e-400', '-0',
                  '123456789012345678901234567890', 'true', 'false', '{}',
                  '{"a":1}', '["x"]', '[' x 50 . ']' x 50);

# values that are not JSON at all, or not UTF-8, or hide a NUL: the body
# is INVALID_JSON wherever they are
my @NotJson = (
    "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
    "\"\xe0\x80\"", "\"\x80\"", "\"\xf8\x88\x80\x80\x80\"", "\"abc\xe2\x82\"",
    "\"\xfe\xff\"", '"\ud800"', '"\udc00x"', '"\ud800\u0041"', '"\u0000"',
    '"x\u0000y"', '"010-1234-5678\u0000"', '"\uZZZZ"', '"\x41"', '"\\', '"',
    'abc', "'x'", 'NaN', 'Infinity', '-Infinity', '0x10', '+1', '.5',
    '"a"b', 'tru', 'nul', '[1,]', '[1', '{"a"}', '{"a":}', '{,}', '--1',
);

sub faults_of {
    my ($ep, $f) = @_;
    my @out;
    # absent or null: MISSING_FIELD, except the token, which may come as
    # a cookie (there is none: PHONE_NOT_VERIFIED)
    my $missing = $f eq 'verificationToken'
                ? [['PHONE_NOT_VERIFIED']] : [['MISSING_FIELD'], 1];
    # a login without an email is one by phone, which has none
    $missing = [['MISSING_FIELD'], 'phoneNumber']
        if $ep eq 'login' && $f eq 'email';
    push @out, [undef, @$missing], ['null', @$missing];
    for my $t (@WrongTypes) {
        next if $f eq 'termsId' && $t =~ /^\[/;
        push @out, [$t, ['INVALID_FIELD'], 1];
    }
    # login takes any string for its account and password: no member has
    # it, so the login fails (an email of no valid form without bcrypt)
    if ($ep =~ /^login/ && $f ne 'phoneNumber') {
        push @out, map { [$_->[0], $Clean{$ep}] } @{ $StringFaults{$f} };
    } else {
        push @out, @{ $StringFaults{$f} };
    }
    push @out, map { [$_, ['INVALID_JSON']] } @NotJson;
    # not JSON numbers, which cJSON takes for numbers all the same
    push @out, map { [$_, ['INVALID_JSON', 'INVALID_FIELD']] } '01', '-01', '1.'
        if $f ne 'termsId';
    return @out;
}

# A whole body that is wrong, whatever the endpoint: [bytes, [words]]
# (words undef: any error the endpoint may give).
sub body_fault {
    my $ep = shift;
    my $good = body_of(template($ep), 0);
    my ($soft, $soft_words) = soft_body($ep);
    my $n = pick(10, 500, 999, 1000, 2000, 100000);
    # cJSON nests at most 1000 deep
    my $deep = sub { $n < 999 ? [@_] : $n > 1000 ? ['INVALID_JSON']
                                     : ['INVALID_JSON', @_] };
    my $field = $Fields{$ep}[0];
    my @k = (
        sub { [random_bytes(1 + rnd 600), ['INVALID_JSON']] },
        sub { [substr($good, 0, rnd length $good), ['INVALID_JSON']] },
        sub { ['', ['INVALID_JSON']] },
        sub { [pick(' ', "\r\n", "\t \n"), ['INVALID_JSON']] },
        sub { [pick('[]', '"x"', '1', 'null', 'true', "[$good]", '""'),
               ['INVALID_JSON']] },
        sub { ['[' x $n, ['INVALID_JSON']] },
        sub { ['[' x $n . ']' x $n, ['INVALID_JSON']] },
        sub { ['{"a":' x $n . '1' . '}' x $n, $deep->('MISSING_FIELD')] },
        sub { ['{"a":' x $n, ['INVALID_JSON']] },
        sub { [qq({"$field":) . '[' x $n . ']' x $n . '}',
               $deep->('INVALID_FIELD')] },
        sub { [$good . pick(' x', '{}', ',', $good, ']', '}', "\x00",
                            '/* */', ' //'), ['INVALID_JSON']] },
        sub { [pick('/* c */', '//c', "\xc2\xa0", "\xe3\x80\x80") . $good,
               ['INVALID_JSON']] },
        # control bytes are no JSON white space; cJSON skips them
        sub { [pick("\x00", "\x0b", "\x0c", "\x01", "\x1f") . $soft,
               ['INVALID_JSON', @$soft_words]] },
        sub { [$good =~ s/"/'/gr, ['INVALID_JSON']] },
        sub { [$good =~ s/:/=/r, ['INVALID_JSON']] },
        sub { [$good =~ s/\}$//r, ['INVALID_JSON']] },
        # a byte order mark: RFC 8259 lets a parser skip it
        sub { ["\xef\xbb\xbf" . $soft, ['INVALID_JSON', @$soft_words]] },
        # UTF-16: NUL bytes everywhere
        sub { [join('', map { "$_\x00" } split //, $good), undef] },
    );
    return pick(@k)->();
}

# A JSON-level hostile case for an endpoint: [body, [words], field or
# undef, name]. None can be a valid request.
sub json_case {
    my $ep = shift;
    if (chance(0.3)) {
        my ($body, $words) = @{ body_fault($ep) };
        return [$body, $words, undef, 'body ' . printable($body)];
    }
    my $v = template($ep);
    my $f = pick(@{ $Faulted{$ep} // $Fields{$ep} });
    my ($value, $words, $named) = @{ pick(faults_of($ep, $f)) };
    $words //= $Clean{$ep};
    if (!defined $words) {          # a fine value: fault the phone instead
        ($f, $value, $words, $named) = ('phoneNumber', '""', ['INVALID_PHONE']);
    }
    $v->{$f} = $value;
    my $name = "$f=" . (defined $value ? printable($value) : '(absent)');
    # sometimes the same key twice, both faulty: whichever is taken, the
    # answer is an error
    if (chance(0.1) && defined $value && $f ne 'verificationToken') {
        my ($v2, $w2) = @{ pick(grep { defined $_->[0] && $_->[1] }
                                faults_of($ep, $f)) };
        my $body = body_of($v, 0);
        $body =~ s/\}$/,"$f":$v2}/;
        return [$body, [@$words, @$w2, 'INVALID_JSON'], undef,
                "$name twice"];
    }
    return [body_of($v, chance(0.3)), $words, named($f, $named), $name];
}

# The field an answer must name: the faulted one (1), another (its name),
# or none (undef).
sub named {
    my ($f, $named) = @_;
    return !$named ? undef : $named eq '1' ? $f : $named;
}

sub printable {
    my $s = shift;
    $s = substr($s, 0, 40) . '...(' . length($s) . ' bytes)' if length $s > 48;
    $s =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
    return $s;
}

# ---- requests --------------------------------------------------------------

# A request's bytes. Options: method, path, body, ctype (undef: none),
# headers (lines), conn, chunked (chunk sizes are random), te, cl, host.
sub http_request {
    my %o = @_;
    my $body = $o{body} // '';
    my @h = ("Host: " . ($o{host} // 'localhost'));
    push @h, "Content-Type: $o{ctype}" if defined $o{ctype};
    push @h, @{ $o{headers} // [] };
    push @h, 'Connection: ' . ($o{conn} // 'close');
    if ($o{chunked}) {
        push @h, 'Transfer-Encoding: chunked';
        $body = chunked($body);
    } elsif (!$o{no_cl}) {
        push @h, 'Content-Length: ' . ($o{cl} // length $body);
    }
    return ($o{method} // 'POST') . " $o{path} HTTP/1.1\r\n"
           . join('', map { "$_\r\n" } @h) . "\r\n" . $body;
}

# valid chunked framing of random chunk sizes, sometimes with chunk
# extensions and a trailer
sub chunked {
    my $body = shift;
    my $out = '';
    while (length $body) {
        my $n = 1 + rnd(chance(0.5) ? 16 : 40000);
        my $piece = substr $body, 0, $n, '';
        $out .= sprintf('%x', length $piece)
                . (chance(0.2) ? ';ext=1;q="a b"' : '')
                . "\r\n$piece\r\n";
    }
    return $out . '0' . "\r\n" . (chance(0.2) ? "X-Trailer: 1\r\n" : '')
           . "\r\n";
}

# JSON media types, and others
my @JsonTypes = ('application/json', 'application/json; charset=utf-8',
                 'Application/JSON', 'application/json;charset=UTF-8',
                 'application/json ; charset=latin1', 'application/json   ');
my @OtherTypes = ('text/plain', 'application/x-www-form-urlencoded',
                  'multipart/form-data; boundary=x', 'application/jsonp',
                  'application/json-patch+json', 'text/json', 'json',
                  'application/javascript', 'application/json,text/plain',
                  'application/jsonx; charset=utf-8', '*/*');

# Sends bytes on a fresh connection and reads until nginx closes it.
# Options: half_close (shut our side once sent), reset (close with an
# RST right after sending, reading nothing). Returns { raw, timed_out,
# error }.
sub exchange {
    my ($req, %o) = @_;
    my $sock = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => SmsVerify::server_port(),
        Proto => 'tcp', Timeout => $Timeout)
        or return { raw => '', error => "connect: $!" };
    local $SIG{PIPE} = 'IGNORE';
    binmode $sock;
    $sock->blocking(0);

    my ($off, $raw, $writing, $last, $timed_out, $error) =
        (0, '', 1, time, 0, undef);
    my $sel = IO::Select->new($sock);
    while (1) {
        if ($writing && $off >= length $req) {
            $writing = 0;
            if ($o{reset}) {
                setsockopt($sock, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
                close $sock;
                return { raw => '' };
            }
            shutdown $sock, 1 if $o{half_close};
        }
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef,
                                         undef, 0.2);
        if (!$r && !$w) {
            next if defined $r || time - $last < $Timeout;
            $timed_out = 1;
            last;
        }
        if ($w && @$w) {
            my $n = syswrite $sock, $req, 65536, $off;
            if (defined $n) {
                $off += $n;
                $last = time;
            } elsif (!$!{EAGAIN} && !$!{EWOULDBLOCK}) {
                $writing = 0;       # nginx answered and stopped reading
            }
        }
        if ($r && @$r) {
            my $n = sysread $sock, my $buf, 65536;
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EWOULDBLOCK};
                $error = "read: $!" if $raw eq '';
                last;
            }
            last if $n == 0;
            $raw .= $buf;
            $last = time;
        }
    }
    close $sock;
    return { raw => $raw, timed_out => $timed_out, error => $error };
}

# The responses in raw bytes, in order; $heads says which requests were
# HEAD (no body whatever Content-Length says). A 1xx is skipped.
sub responses {
    my ($raw, $heads) = @_;
    my @out;
    while (length $raw) {
        # to an HTTP/0.9 request nginx answers with the page alone
        if ($raw =~ m{^<html>\r?\n<head><title>(\d{3}) }) {
            push @out, { status => $1, body => $raw,
                         headers => { 'content-type' => 'text/html' } };
            last;
        }
        my $end = index $raw, "\r\n\r\n";
        if ($end < 0 || $raw !~ m{^HTTP/1\.[01] (\d{3})[^\r\n]*\r\n}) {
            push @out, { garbage => $raw };
            last;
        }
        my $status = $1;
        my $head = substr $raw, 0, $end;
        $raw = substr $raw, $end + 4;
        next if $status < 200;
        my %h;
        for my $line (split /\r\n/, $head) {
            my ($k, $v) = $line =~ /^([^:]+):\s*(.*?)\s*$/ or next;
            $h{lc $k} = exists $h{lc $k} ? "$h{lc $k}, $v" : $v;
        }
        my $body = '';
        if ($heads && $heads->[@out]) {
            # no body
        } elsif (lc($h{'transfer-encoding'} // '') eq 'chunked') {
            while ($raw =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
                my $n = hex $1;
                if ($n == 0) { $raw =~ s/^(?:[^\r\n]+\r\n)*\r\n//; last }
                $body .= substr $raw, 0, $n, '';
                $raw =~ s/^\r\n//;
            }
        } elsif (defined $h{'content-length'}) {
            $body = substr $raw, 0, $h{'content-length'}, '';
        } else {
            ($body, $raw) = ($raw, '');
        }
        push @out, { status => $status, headers => \%h, body => $body };
    }
    return @out;
}

# ---- checking an answer ----------------------------------------------------

# Why an answer is wrong for what was expected, or undef if it is right.
#   { json => $ep, words => [...], field => ... }  the module's JSON error
#   { nginx => [statuses] }                        nginx's own error page
#   { status => 1 }                                GET status: the counters
#   { ok => $ep, check => sub }                    a valid request: 200
# With none => 1 no answer at all is right too.
sub wrong {
    my ($e, $res) = @_;
    if (!$res) {
        return $e->{none} ? undef : 'no answer';
    }
    return 'garbage instead of an HTTP answer: ' . printable($res->{garbage})
        if exists $res->{garbage};
    my ($st, $h, $body) = @$res{qw(status headers body)};
    my $ct = $h->{'content-type'} // '';

    # nginx's own error page; or, if nginx let the request through, the
    # module's JSON error
    if ($e->{nginx} && ($ct !~ /json/ || !$e->{json})) {
        return "nginx's own error expected, got $st $ct: " . printable($body)
            if !grep { $_ == $st } @{ $e->{nginx} };
        return "nginx's own $st should not be JSON: " . printable($body)
            if $ct =~ /json/;
        return undef;
    }

    if ($e->{ok}) {
        return "200 expected, got $st: " . printable($body) if $st != 200;
        my $json = eval { $Json->decode($body) };
        return 'not JSON: ' . printable($body) if ref $json ne 'HASH';
        return $e->{check} ? $e->{check}->($json) : undef;
    }

    return "Content-Type $ct, not application/json" if $ct ne 'application/json';
    return 'no Cache-Control: no-store'
        if ($h->{'cache-control'} // '') ne 'no-store';

    if ($e->{head}) {
        return "HEAD: $st, body " . printable($body)
            if $body ne '' || !grep { $_ == $st } @{ $e->{head} };
        return undef;
    }

    my $json = eval { $Json->decode($body) };
    return 'the body is not JSON: ' . printable($body) if ref $json ne 'HASH';

    if ($e->{status}) {
        return undef if $st == 200 && !grep { !defined $json->{$_} }
            qw(codesPending members sent sendFailed confirmed confirmFailed
               signups rateLimited providers);
        return "status: $st " . printable($body) if $st != 405;
        $e = { json => 'status' };
    }

    my $word = $json->{error};
    return "$st without an error word: " . printable($body)
        if !defined $word || ref $word;
    return "unknown word $word" if !$Status{$word};
    return "$word with status $st" if $Status{$word} != $st;
    return "$word without a message"
        if !defined $json->{message} || ref $json->{message}
           || $json->{message} eq '';
    return "$word not one a malformed $e->{json} request may get"
        if !$Words{ $e->{json} }{$word};
    if ($e->{words} && !grep { $_ eq $word } @{ $e->{words} }) {
        return "$word, expected " . join(' or ', @{ $e->{words} });
    }
    if ($word eq 'MISSING_FIELD' || $word eq 'INVALID_FIELD') {
        my $f = $json->{field} // '(none)';
        return "$word names the field $f, not one of $e->{json}"
            if !grep { $_ eq $f } @{ $Fields{ $e->{json} } // [] };
        return "$word names $f, expected $e->{field}"
            if $e->{field} && $f ne $e->{field};
    }
    for my $k (keys %$json) {
        return "unexpected key $k in " . printable($body)
            if !grep { $_ eq $k }
                qw(error message field missing unknown retryAfter attemptsLeft);
    }
    return "Allow: " . ($h->{allow} // '(none)')
        if $word eq 'METHOD_NOT_ALLOWED'
           && ($h->{allow} // '') ne ($e->{json} =~ /^(?:status|session)$/
                                      ? 'GET, HEAD' : 'POST');
    return undef;
}

# ---- hostile cases ---------------------------------------------------------
#
# A case: { name, req (bytes), expect => [one per response], half_close,
# reset, heads, ep }. Pipelined cases carry several requests.

sub json_request {
    my ($ep, %o) = @_;
    my ($body, $words, $field, $name) = @{ json_case($ep) };
    my %transport;
    my $how = rnd 10;
    if ($how == 0 && $body ne '') {
        $transport{chunked} = 1;
        $name .= ' (chunked)';
    } elsif ($how == 1 && $body =~ /^[ \t\r\n]*\{/) {
        # white space after a body keeps its meaning, or its fault (and
        # before one that starts with "{"); this much spills the body to
        # a temporary file
        my $pad = pick(' ', "\n", "\r\n", "\t") x (16384 + rnd 200000);
        $body = chance(0.5) ? "$pad$body" : "$body$pad";
        $name .= ' (padded)';
    } elsif ($how == 2) {
        $transport{headers} = ['Expect: 100-continue'];
        $name .= ' (expect 100)';
    }
    return {
        name => "$ep $name",
        req => http_request(path => $Path{$ep}, body => $body,
                            ctype => pick(@JsonTypes), %transport, %o),
        expect => { json => $ep, words => $words, field => $field },
    };
}

# HTTP-level garbage and transport faults, whatever the endpoint (one of
# those given, by default send, confirm, signup and status).
sub http_case {
    my $ep = @_ ? pick(@_) : pick(qw(send confirm signup status));
    my $path = $Path{$ep};
    # should nginx let one through, the module answers an error
    my ($body) = soft_body($Clean{$ep} || $ep eq 'send' ? $ep : 'send');
    my @bad = (400);
    my @k = (
        # random bytes for a request
        sub { { name => 'random bytes', req => random_bytes(1 + rnd 400),
                half_close => 1, expect => { nginx => \@bad, none => 1 } } },
        sub { { name => 'random printable', half_close => 1,
                req => join('', map { chr(32 + rnd 95) } 1 .. 1 + rnd 300)
                       . pick('', "\r\n", "\r\n\r\n"),
                expect => { nginx => [400, 405, 414, 501, 505], none => 1 } } },
        # a request line gone wrong
        sub { { name => 'bad request line', half_close => 1,
                req => pick("POST\r\n\r\n", "POST $path\r\n\r\n",
                            "POST $path HTTP/9.9\r\nHost: x\r\n\r\n",
                            "POST $path HTTP/1.1 x\r\nHost: x\r\n\r\n",
                            "post $path HTTP/1.1\r\nHost: x\r\n\r\n",
                            "POST \x00$path HTTP/1.1\r\nHost: x\r\n\r\n",
                            "POST $path\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
                            "POST /" . ('a' x 9000) . " HTTP/1.1\r\nHost: x\r\n\r\n",
                            "POST $path HTTP/1.1\rHost: x\r\r",
                            "\r\n\r\n\r\n"),
                expect => { nginx => [400, 414, 505], json => $ep,
                            none => 1 } } },
        # headers gone wrong
        sub { my $h = pick("Content-Length: -1", "Content-Length: abc",
                           "Content-Length: 99999999999999999999999",
                           "Content-Length: 5\r\nContent-Length: 6",
                           "Transfer-Encoding: chunked\r\nContent-Length: 5",
                           "Host: a\r\nHost: b",
                           "X-Big: " . ('b' x 9000),
                           "Bad\x00Header: 1", "Content-Type: application/json\x00",
                           ": novalue", "X-Folded: a\r\n b");
              { name => 'bad header ' . printable($h), half_close => 1,
                req => "POST $path HTTP/1.1\r\nHost: localhost\r\n$h\r\n"
                       . "Connection: close\r\n\r\n$body",
                expect => { nginx => [400, 411, 413, 494], json => $ep,
                            none => 1 } } },
        sub { { name => 'no Host in HTTP/1.1',
                req => "POST $path HTTP/1.1\r\nContent-Type: application/json\r\n"
                       . "Content-Length: " . length($body)
                       . "\r\nConnection: close\r\n\r\n$body",
                expect => { nginx => [400] } } },
        sub { { name => 'Transfer-Encoding not chunked', half_close => 1,
                req => http_request(path => $path, body => $body, no_cl => 1,
                                    ctype => 'application/json',
                                    headers => [pick('Transfer-Encoding: gzip',
                                        'Transfer-Encoding: chunked, gzip',
                                        'Transfer-Encoding: identity')]),
                expect => { nginx => [400, 501] } } },
        # malformed chunking
        sub { my $c = pick("zz\r\nabc\r\n0\r\n\r\n", "5\r\nabc\r\n0\r\n\r\n",
                           "3\r\nabcdef\r\n0\r\n\r\n", "-1\r\nabc\r\n0\r\n\r\n",
                           "ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
                           "3\r\nabc0\r\n\r\n", "3 x\r\nabc\r\n0\r\n\r\n",
                           "0x3\r\nabc\r\n0\r\n\r\n", "\r\n\r\n",
                           "3\nabc\n0\n\n");
              { name => 'bad chunking ' . printable($c), half_close => 1,
                req => http_request(path => $path, ctype => 'application/json',
                                    no_cl => 1,
                                    headers => ['Transfer-Encoding: chunked'])
                       . $c,
                expect => { nginx => [400, 413], json => $ep,
                            none => 1 } } },
        # too big for client_max_body_size (1m here)
        sub { my $big = '{"phoneNumber":"' . ('1' x (1048576 + rnd 100000)) . '"}';
              # (status refuses a POST before reading a chunked body)
              { name => 'body over client_max_body_size',
                req => http_request(path => $path, body => $big,
                                    ctype => 'application/json',
                                    chunked => chance(0.5)),
                expect => { nginx => [413],
                            json => $ep eq 'status' ? 'status' : undef } } },
        # cut in the middle, then the client shuts its side
        sub { my $full = http_request(path => $path, body => $body,
                                      ctype => 'application/json',
                                      chunked => chance(0.3));
              # (status answers without reading the body)
              { name => 'cut mid-request', half_close => 1,
                req => substr($full, 0, rnd length $full),
                expect => { nginx => [400], json => $ep, none => 1 } } },
        # or goes away with an RST
        sub { my $full = http_request(path => $path, body => $body,
                                      ctype => 'application/json');
              { name => 'reset mid-request', reset => 1,
                req => substr($full, 0, rnd length $full),
                expect => { none => 1 } } },
    );
    return { %{ pick(@k)->() }, ep => $ep };
}

# Media types and methods the endpoints refuse (one of those given, by
# default send, confirm and signup): with a body that would otherwise be
# valid (an H phone), so a mistake here would show in the store.
sub refused_case {
    my $ep = @_ ? pick(@_) : pick(qw(send confirm signup));
    my $body = body_of(template($ep), 0);
    if (chance(0.5)) {
        my $ct = pick(@OtherTypes, undef);
        return { name => "$ep Content-Type " . ($ct // '(none)'),
                 req => http_request(path => $Path{$ep}, body => $body,
                                     ctype => $ct),
                 expect => { json => $ep, words => ['UNSUPPORTED_MEDIA_TYPE'] } };
    }
    my $m = pick(qw(GET PUT DELETE PATCH OPTIONS PROPFIND FOO HEAD));
    return { name => "$ep $m",
             req => http_request(method => $m, path => $Path{$ep},
                                 body => $body, ctype => 'application/json'),
             heads => [$m eq 'HEAD'],
             expect => $m eq 'HEAD' ? { head => [405] }
                     : { json => $ep, words => ['METHOD_NOT_ALLOWED'] } };
}

# The status endpoint, asked oddly: the counters, or 405.
sub status_case {
    my $m = pick(qw(GET GET GET HEAD POST PUT DELETE));
    my %o = (method => $m, path => pick('/status', '/status?x=1&y', '/status?'
                                        . ('a' x 3000)));
    if (chance(0.5)) {
        $o{body} = chance(0.5) ? random_bytes(rnd 3000) : '{"x":' x 50;
        $o{chunked} = chance(0.3);
        $o{ctype} = pick(@JsonTypes, @OtherTypes);
    }
    return { name => "status $m", req => http_request(%o),
             heads => [$m eq 'HEAD'],
             expect => $m eq 'HEAD' ? { head => [200] }
                     : $m eq 'GET' ? { status => 1 }
                     : { json => 'status', words => ['METHOD_NOT_ALLOWED'] } };
}

# Several cases on one kept-alive connection, the last closing it.
sub pipeline_case {
    my @parts = map { chance(0.7) ? json_request(pick(qw(send confirm signup)),
                                                 conn => 'keep-alive')
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

sub hostile_case {
    my $r = rand;
    return $r < 0.55 ? json_request(pick(qw(send confirm signup)))
         : $r < 0.70 ? http_case()
         : $r < 0.82 ? refused_case()
         : $r < 0.90 ? status_case()
         : pipeline_case();
}

# ---- running cases ---------------------------------------------------------

# Runs one case; returns the failures (strings) and counts the words.
sub run_case {
    my ($case, $words) = @_;
    my $ex = exchange($case->{req}, half_close => $case->{half_close},
                      reset => $case->{reset});
    my @expect = ref $case->{expect} eq 'ARRAY' ? @{ $case->{expect} }
                                                : ($case->{expect});
    return "$case->{name}: no answer within ${Timeout}s (a hang)"
        if $ex->{timed_out};
    my @res = responses($ex->{raw}, $case->{heads});
    my @fail;
    push @fail, "$case->{name}: " . scalar(@res) . ' answers for '
                . scalar(@expect) . ' requests'
        if @res > @expect;
    for my $i (0 .. $#expect) {
        my $why = wrong($expect[$i], $res[$i]);
        push @fail, "$case->{name} [" . ($i + 1) . "]: $why" if defined $why;
        my $w = $res[$i] && $res[$i]{body} && $res[$i]{body} =~ /"error":"(\w+)"/
              ? $1 : $res[$i] ? $res[$i]{status} // 'garbage' : 'none';
        $words->{$w}++;
    }
    return @fail;
}

# The malformed half of the traffic, as a child sends it: results to a
# file. Returns 0.
sub child_fuzz {
    my ($k, $file) = @_;
    srand($Seed + $k);
    my (%words, @fail, $n);
    my $stop = time + $Deadline;
    for (1 .. $Count) {
        last if time > $stop;
        push @fail, run_case(hostile_case(), \%words);
        $n++;
    }
    open my $out, '>', "$file.tmp" or die "$file: $!";
    print $out $Json->encode({ n => $n, fail => \@fail, words => \%words });
    close $out;
    rename "$file.tmp", $file;
    return 0;
}

# ---- what the blocks run -----------------------------------------------------

# TEST 1: every field of every endpoint, each fault alone; the answer
# must be that field's error. Returns (requests sent, failures).
sub run_field_faults {
    my $seed = shift;
    my (@fail, $n);
    srand $seed;
    for my $ep (qw(send confirm signup)) {
        for my $f (@{ $Fields{$ep} }) {
            for my $fault (faults_of($ep, $f)) {
                my ($value, $words, $named) = @$fault;
                $words //= $Clean{$ep} // next;
                my $v = template($ep);
                $v->{$f} = $value;
                my $case = { name => "$ep $f=" . (defined $value
                                       ? printable($value) : '(absent)'),
                             req => http_request(path => "/$ep",
                                        body => body_of($v, 0),
                                        ctype => 'application/json'),
                             expect => { json => $ep, words => $words,
                                         field => named($f, $named) } };
                push @fail, run_case($case, {});
                $n++;
            }
        }
    }
    return ($n, @fail);
}

# TEST 2: each kind of HTTP-level case a few times, with a different pick
# each time. Returns the failures.
sub run_http_faults {
    my $seed = shift;
    my @fail;
    srand $seed;
    for (1 .. 120) {
        push @fail, run_case(http_case(), {});
    }
    for (1 .. 60) {
        push @fail, run_case(refused_case(), {});
        push @fail, run_case(status_case(), {});
    }
    return @fail;
}

# The responses to bytes sent on a fresh connection, in order.
sub answers_to {
    my $req = shift;
    return responses(exchange($req)->{raw});
}

# ---- the real flow, interleaved ---------------------------------------------

# How a valid request travels this time: plain, chunked, padded to spill
# into a temporary file, with a charset, pipelined between two malformed
# ones, or after Expect: 100-continue.
sub valid_exchange {
    my ($ep, $fields, $check) = @_;
    my $body = $Json->encode($fields);
    my $how = rnd 6;
    my %o = (path => $Path{$ep}, body => $body, ctype => 'application/json');
    if ($how == 1) {
        $o{chunked} = 1;
    } elsif ($how == 2) {
        my $pad = ' ' x (16384 + rnd 100000);
        $o{body} = chance(0.5) ? "$pad$body" : "$body\n$pad";
    } elsif ($how == 3) {
        $o{ctype} = pick(@JsonTypes);
    } elsif ($how == 4) {
        $o{headers} = ['Expect: 100-continue'];
    }
    my @how = qw(plain chunked padded charset pipelined expect-100);
    my $case = { name => "valid $ep ($how[$how])",
                 req => http_request(%o),
                 expect => { ok => $ep, check => $check } };
    if ($how == 5) {
        my @p = (json_request(pick(qw(send confirm signup))), $case,
                 json_request(pick(qw(send confirm signup))));
        $p[$_]{req} =~ s/\r\nConnection: close\r\n/\r\nConnection: keep-alive\r\n/
            for 0, 1;
        $case = { name => "valid $ep (pipelined)",
                  req => join('', map { $_->{req} } @p),
                  expect => [map { $_->{expect} } @p] };
    }
    return $case;
}

sub phone_format {
    my $i = shift;
    my $d = sprintf '5%03d%04d', $i, 1000 + $i;
    my ($a, $b) = (substr($d, 0, 4), substr($d, 4));
    return pick("010-$a-$b", "010$a$b", "+82 10 $a $b", "(010) $a.$b",
                "+82-10-$a-$b", "+8210$a$b");
}

sub run_fuzz {
    srand($Seed);
    # the children's results: a directory of this run's own
    my $root = File::Temp::tempdir(CLEANUP => 1);
    my $t0 = time;
    my @workers = SmsVerify::sv_worker_pids();

    my @kids = map { my $k = $_;
                     SmsVerify::sv_fork(sub { child_fuzz($k, "$root/hostile.$k.json") })
                   } 1 .. $Children;

    # each V phone: sent (some twice), some confirmed, some signed up
    my @phones = map { { i => $_, goal => $_ % 3, resend => $_ % 5 == 0,
                         step => 'send' } } 1 .. $Phones;
    my (%words, @fail);
    my $n = 0;
    my $stop = $t0 + $Deadline;
    my $every = int($Count / ($Phones * 2.5)) || 1;

    for my $round (1 .. $Count) {
        last if time > $stop;
        push @fail, run_case(hostile_case(), \%words);
        $n++;
        next if $round % $every;
        # one step of the real flow, for a phone that has one to take
        my @todo = grep { $_->{step} ne 'done' } @phones or next;
        push @fail, valid_step(pick(@todo), \%words);
    }
    # and the steps left
    for my $p (@phones) {
        while ($p->{step} ne 'done') {
            my @f = valid_step($p, \%words);
            push @fail, @f;
            last if @f;
        }
    }

    my $children = { n => 0, fail => [], words => {} };
    for my $k (1 .. $Children) {
        waitpid $kids[$k - 1], 0;
        my $file = "$root/hostile.$k.json";
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
    my $took = time - $t0;
    ok($total == $Count * (1 + $Children),
       "$total malformed requests, $n of them here, in "
       . sprintf('%.1f', $took) . "s (seed $Seed)");
    is(scalar(@all_fail), 0, 'every answer as expected (seed '
                             . "$Seed)")
        or diag join "\n", grep { defined } @all_fail[0 .. 29];
    my %all = %words;
    $all{$_} += $children->{words}{$_} for keys %{ $children->{words} };
    note 'answers: ' . join ', ', map { "$_ $all{$_}" }
                                  sort { $all{$b} <=> $all{$a} } keys %all;

    # what the real flow put in the store, and nothing else
    check_store(\@phones, \%words, $children->{words});

    is_deeply([SmsVerify::sv_worker_pids()], \@workers,
              'the same workers as at the start: none died');
    my @died = SmsVerify::sv_log_grep(qr/exited on signal|worker process \d+ exited/);
    is(scalar(@died), 0, 'no worker exited') or diag @died;
}

# One step of a V phone's flow; the request's failures, if any.
sub valid_step {
    my ($p, $words) = @_;
    my $i = $p->{i};

    if ($p->{step} eq 'send' || $p->{step} eq 'resend') {
        my $case = valid_exchange(send => { phoneNumber => phone_format($i) },
            sub { my $j = shift;
                  $j->{status} eq 'sent' && $j->{phoneNumber} eq v_e164($i)
                      ? undef : 'not sent: ' . $Json->encode($j) });
        my @f = run_case($case, $words);
        return @f if @f;
        $p->{sends}++;
        $p->{step} = $p->{resend} && $p->{step} eq 'send' ? 'resend'
                   : $p->{goal} >= 1 ? 'confirm' : 'done';
        return;
    }

    if ($p->{step} eq 'confirm') {
        my $code = SmsVerify::sv_code_for(1000 + $i);
        return "phone $i: no code in the log" if !defined $code;
        my $token;
        my $case = valid_exchange(confirm => { phoneNumber => phone_format($i),
                                               verificationNumber => "$code" },
            sub { my $j = shift;
                  $token = $j->{verificationToken};
                  $j->{status} eq 'verified' && $j->{phoneNumber} eq v_e164($i)
                  && ($token // '') =~ /^[A-Za-z0-9_-]{43}$/
                      ? undef : 'not verified: ' . $Json->encode($j) });
        my @f = run_case($case, $words);
        return @f if @f;
        $p->{token} = $token;
        $p->{step} = $p->{goal} >= 2 ? 'signup' : 'done';
        return;
    }

    # signup
    my $email = pick("v$i\@example.com", "V$i\@Example.COM", "v$i\@EXAMPLE.com");
    my $member = { email => $email, password => 'Passw0rd!' . $i,
                   nickname => pick('kim', "\x{AE40}\x{CCA0}\x{C218}", "n$i",
                                    "\x{1F600} x"),
                   phoneNumber => phone_format($i),
                   termsId => pick([1], [1, 2], [2, 1, 1]),
                   verificationToken => $p->{token} };
    my $id;
    my $case = valid_exchange(signup => $member,
        sub { my $j = shift;
              $id = $j->{memberId};
              $j->{status} eq 'created' && ($id // '') =~ /^\d+$/
                  ? undef : 'not created: ' . $Json->encode($j) });
    my @f = run_case($case, $words);
    return @f if @f;
    $p->{member} = { id => $id, email => $email };
    $p->{step} = 'done';
    return;
}

sub check_store {
    my ($phones, $words, $child_words) = @_;
    my %sent = map { v_e164($_->{i}) => 1 } grep { $_->{sends} } @$phones;
    my %pending = map { v_e164($_->{i}) => 1 }
                  grep { $_->{sends} && !$_->{token} } @$phones;
    my %tokens = map { v_e164($_->{i}) => 1 }
                 grep { $_->{token} && !$_->{member} } @$phones;
    my @members = sort { $a->{id} <=> $b->{id} }
                  map { { %{ $_->{member} }, e164 => v_e164($_->{i}) } }
                  grep { $_->{member} } @$phones;

    my %dump = map { $_ => SmsVerify::sv_store_dump($_) }
               qw(codes sends tokens members emails phones meta);

    is_deeply([map { $_->[0] } @{ $dump{sends} }], [sort keys %sent],
              'sends: a record for each phone sent to, no other');
    is_deeply([map { $_->[0] } @{ $dump{codes} }], [sort keys %pending],
              'codes: one for each phone sent to and not confirmed');
    # a token record ends with its phone
    is_deeply([sort map { $_->[1] =~ /(\+\d+)\z/ ? $1 : $_->[1] }
                    @{ $dump{tokens} }],
              [sort keys %tokens],
              'tokens: one for each phone confirmed and not signed up');

    # members, emails and phones agree, and are what the signups made
    my @got = map { my $m = eval { JSON::PP->new->decode($_->[1]) } // {};
                    { id => unpack('Q>', $_->[0]), email => $m->{email} // '',
                      e164 => $m->{phone} // '', json_id => $m->{id} // 0 } }
              @{ $dump{members} };
    is_deeply([map { [$_->{id}, $_->{json_id}, $_->{email}, $_->{e164}] } @got],
              [map { [$_->{id}, $_->{id}, $_->{email}, $_->{e164}] } @members],
              'members: exactly those signed up, with their ids');
    is_deeply({ map { $_->[0] => unpack('Q>', $_->[1]) } @{ $dump{emails} } },
              { map { lc($_->{email}) => $_->{id} } @members },
              'emails: each member\'s folded email, to its id');
    is_deeply({ map { $_->[0] => unpack('Q>', $_->[1]) } @{ $dump{phones} } },
              { map { $_->{e164} => $_->{id} } @members },
              'phones: each member\'s phone, to its id');

    # the counters: the valid requests, and the malformed confirms that
    # reached the store (an H phone never has a code)
    my $res = SmsVerify::sv_request(GET => '/status');
    my $st = $res->{json} // {};
    my $nsends = 0;
    $nsends += $_->{sends} // 0 for @$phones;
    my $no_code = ($words->{NO_PENDING_CODE} // 0)
                  + ($child_words->{NO_PENDING_CODE} // 0);
    is_deeply({ map { $_ => $st->{$_} } qw(codesPending members sent sendFailed
                  confirmed confirmFailed signups rateLimited) },
              { codesPending => scalar(keys %pending),
                members => scalar(@members), sent => $nsends, sendFailed => 0,
                confirmed => scalar(grep { $_->{token} } @$phones),
                confirmFailed => $no_code, signups => scalar(@members),
                rateLimited => 0 },
              'status: the counters add up') or diag $res->{body};
}

1;
