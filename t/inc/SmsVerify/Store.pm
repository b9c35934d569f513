package SmsVerify::Store;

# What the store holds, read beside nginx with the LMDB tools (a read
# transaction: it never waits for nginx's writers), for tests of crashes,
# reloads and a full store.
#
#   sv_store_dump($db, $dir)     the records of one database, in key
#                                order: [[key, value], ...] as bytes
#   sv_store_entries($db, $dir)  how many records it holds (mdb_stat)
#   sv_store_env($db, $dir)      the directory of the LMDB environment
#                                that holds it ("members" or "codes")
#   sv_members_in_store($dir)    the member records, as JSON text
#
# $dir is the store's directory, by default the servroot's smsverify_temp.
#
# With the PostgreSQL setting (SmsVerify::Flow's sv_store_is_pg), the same
# calls read the tables with psql, in the shapes the LMDB databases have
# where the tests read them: members (key: the id as 8 bytes big-endian,
# value: the member as JSON, with id, email, phone, nickname,
# passwordHash, epoch, terms), emails and phones (key: the folded email or the
# phone, value: the id), codes, sends, logins, addrs (key: the phone, the
# account, the address; value: the row's columns as text, the stamps of a
# count), days (key: the date, value: "sent refused"), tokens (key: the
# hash, value: its columns, the phone last) and sessions (key: the hash,
# value: the member's id).  sv_store_put writes a member's passwordHash
# only; meta is smsverify.meta (the schema's version).  Values are not
# LMDB's records: a test that decodes one reads the table itself
# (sv_psql), or is LMDB-only.

use strict;
use warnings;

use JSON::PP ();

use SmsVerify::Proc qw(server_root);
use SmsVerify::Flow qw(sv_store_is_pg sv_psql);

use Exporter 'import';
our @EXPORT = qw(sv_store_put sv_store_dump sv_store_entries sv_store_env
                 sv_members_in_store);
our @EXPORT_OK = ();
our %EXPORT_TAGS = (all => [@EXPORT, @EXPORT_OK]);

# The store is two LMDB environments under its directory: "members"
# (members, emails, phones, meta) and "codes" (codes, sends, tokens,
# sessions, logins, addrs, days).
# The environment directory that holds a database; $dir is the store's
# directory, by default the servroot's smsverify_temp.
sub sv_store_env {
    my ($db, $dir) = @_;
    $dir //= server_root() . '/smsverify_temp';
    my $env = $db =~ /^(?:codes|sends|tokens|sessions|logins|addrs|days)$/
              ? 'codes' : 'members';
    return "$dir/$env";
}

# The records of one database of the store ("codes", "sends", "tokens",
# "members", "emails", "phones", "meta"), in key order: [[key, value], ...]
# as bytes. $dir is the store's directory, by default the servroot's
# smsverify_temp. Dies if mdb_dump fails. (Read in mdb_dump's hex format:
# LMDB 0.9's -p prints a backslash as it is, so "\5c" in its output may
# be one byte or three.)
# what each database is on PostgreSQL: [key, value] as SQL, in key order
my %PgDump = (
    members => q{SELECT encode(int8send(m.id), 'hex'), encode(convert_to(
                   json_build_object('id', m.id, 'email', m.email,
                     'phone', m.phone, 'nickname', m.nickname,
                     'passwordHash', m.password_hash, 'epoch', m.epoch,
                     'terms', coalesce((SELECT json_agg(t.terms_id
                                          ORDER BY t.terms_id)
                                        FROM smsverify.member_terms t
                                        WHERE t.member_id = m.id), '[]'))::text,
                   'UTF8'), 'hex')
                 FROM smsverify.members m ORDER BY m.id},
    emails  => q{SELECT encode(convert_to(lower(email), 'UTF8'), 'hex'),
                   encode(int8send(id), 'hex')
                 FROM smsverify.members ORDER BY 1},
    phones  => q{SELECT encode(convert_to(phone, 'UTF8'), 'hex'),
                   encode(int8send(id), 'hex')
                 FROM smsverify.members ORDER BY 1},
    codes   => q{SELECT encode(convert_to(phone, 'UTF8'), 'hex'),
                   encode(convert_to(concat_ws(' ', encode(code_hash, 'hex'),
                     attempts_left, expires_ms, purpose), 'UTF8'), 'hex')
                 FROM smsverify.codes ORDER BY 1},
    sends   => q{SELECT encode(convert_to(phone, 'UTF8'), 'hex'),
                   encode(convert_to(stamps_ms::text, 'UTF8'), 'hex')
                 FROM smsverify.sends ORDER BY 1},
    logins  => q{SELECT encode(convert_to(account, 'UTF8'), 'hex'),
                   encode(convert_to(stamps_ms::text, 'UTF8'), 'hex')
                 FROM smsverify.login_failures ORDER BY 1},
    addrs   => q{SELECT encode(convert_to(address, 'UTF8'), 'hex'),
                   encode(convert_to(stamps_ms::text, 'UTF8'), 'hex')
                 FROM smsverify.address_sends ORDER BY 1},
    days    => q{SELECT encode(convert_to(day::text, 'UTF8'), 'hex'),
                   encode(convert_to(sent || ' ' || refused, 'UTF8'), 'hex')
                 FROM smsverify.daily_sms ORDER BY 1},
    meta    => q{SELECT encode(convert_to(key, 'UTF8'), 'hex'),
                   encode(convert_to(value, 'UTF8'), 'hex')
                 FROM smsverify.meta ORDER BY 1},
    tokens  => q{SELECT encode(token_hash, 'hex'),
                   encode(convert_to(concat_ws(' ', expires_ms, failures,
                     purpose, phone), 'UTF8'), 'hex')
                 FROM smsverify.tokens ORDER BY 1},
    sessions => q{SELECT encode(session_hash, 'hex'),
                    encode(convert_to(member_id::text, 'UTF8'), 'hex')
                  FROM smsverify.sessions ORDER BY 1},
);

sub sv_pg_dump {
    my ($db) = @_;
    my $sql = $PgDump{$db}
        or die "sv_store_dump: no PostgreSQL form of \"$db\"\n";
    # no schema yet: no connection has reached the database
    return [] if !@{ sv_psql(q{SELECT 1 FROM pg_namespace
                               WHERE nspname = 'smsverify'}) };
    my $rows = sv_psql($sql);
    my @records = map { [pack('H*', $_->[0]), pack('H*', $_->[1] // '')] }
                  @$rows;
    if ($db eq 'members') {
        # compact, as the LMDB store writes its JSON
        my $json = JSON::PP->new->utf8->canonical;
        $_->[1] = $json->encode($json->decode($_->[1])) for @records;
    }
    return \@records;
}

sub sv_store_dump {
    my ($db, $dir) = @_;
    return sv_pg_dump($db) if sv_store_is_pg();
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
    return scalar @{ sv_pg_dump($db) } if sv_store_is_pg();
    $dir = sv_store_env($db, $dir);
    my $out = `mdb_stat -s \Q$db\E \Q$dir\E 2>&1`;
    die "mdb_stat -s $db $dir failed: $out" if $? || $out !~ /Entries: (\d+)/;
    return $1;
}

# Writes one record beside nginx (mdb_load: a write transaction of its
# own, which waits for nginx's writers), replacing the key's value: for
# records no endpoint can make, as a member carried over from elsewhere.
sub sv_store_put {
    my ($db, $key, $value, $dir) = @_;
    return sv_pg_put($db, $key, $value) if sv_store_is_pg();
    $dir = sv_store_env($db, $dir);
    open my $out, '|-', 'mdb_load', '-s', $db, $dir
        or die "cannot run mdb_load: $!\n";
    print $out "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n",
               ' ', unpack('H*', $key), "\n", ' ', unpack('H*', $value), "\n",
               "DATA=END\n";
    close $out or die "mdb_load -s $db $dir failed (status $?)\n";
}

# On PostgreSQL: a member's password hash, from a record as sv_store_dump
# gives it (the rest of a member is not written this way).
sub sv_pg_put {
    my ($db, $key, $value) = @_;
    die "sv_store_put: only members on PostgreSQL\n" if $db ne 'members';
    my $m = JSON::PP->new->decode($value);
    my $id = unpack 'Q>', $key;
    my $hash = $m->{passwordHash} // die "sv_store_put: no passwordHash\n";
    die "sv_store_put: not a bcrypt hash\n" if $hash !~ m{^[\$./0-9A-Za-z]+$};
    sv_psql("UPDATE smsverify.members SET password_hash = '$hash' "
            . "WHERE id = $id");
}

# The member records of the store, as JSON text.
sub sv_members_in_store {
    return map { $_->[1] } @{ sv_store_dump('members', @_) };
}

1;
