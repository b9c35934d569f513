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

use strict;
use warnings;

use SmsVerify::Proc qw(server_root);

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
sub sv_store_dump {
    my ($db, $dir) = @_;
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
    $dir = sv_store_env($db, $dir);
    open my $out, '|-', 'mdb_load', '-s', $db, $dir
        or die "cannot run mdb_load: $!\n";
    print $out "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n",
               ' ', unpack('H*', $key), "\n", ' ', unpack('H*', $value), "\n",
               "DATA=END\n";
    close $out or die "mdb_load -s $db $dir failed (status $?)\n";
}

# The member records of the store, as JSON text.
sub sv_members_in_store {
    return map { $_->[1] } @{ sv_store_dump('members', @_) };
}

1;
