package SmsVerify::Log;

# What nginx wrote to its error log ($Test::Nginx::Util::ErrLogFile).
#
#   sv_code_for($phone)     the code the log provider wrote for a phone
#                           (its last 4 digits count), waiting up to 2 s
#   sv_log_grep(qr/.../)    the error log's lines that match
#
# and, in scope for flows: last_logged_code($last4), without waiting.

use strict;
use warnings;

use Time::HiRes qw(sleep time);

use Exporter 'import';
our @EXPORT = qw(sv_code_for sv_log_grep);
our @EXPORT_OK = qw(last_logged_code);
our %EXPORT_TAGS = (all => [@EXPORT, @EXPORT_OK]);

# The code in the last log-provider line for a phone whose masked form ends
# in these 4 digits (more digits may be given: only the last 4 count).
# Waits up to 2 s for the line; undef if none.
sub sv_code_for {
    my $last4 = substr((shift // '') =~ s/\D//gr, -4);
    my $deadline = time + 2;
    while (1) {
        my $code = last_logged_code($last4);
        return $code if defined $code || time >= $deadline;
        sleep 0.05;
    }
}

sub last_logged_code {
    my $last4 = shift;
    open my $in, '<', $Test::Nginx::Util::ErrLogFile or return undef;
    my $code;
    while (my $line = <$in>) {
        # smsverify log provider: to "+82 10-****-5678" message "... [123456] ..."
        my ($to, $message) =
            $line =~ /smsverify log provider: to "([^"]*)" message "(.*)"/
            or next;
        next if ($to =~ s/\D//gr) !~ /\Q$last4\E$/;
        # the first bracketed group of digits: a template may start with
        # "[MyShop]" before the code
        $code = $1 if $message =~ /\[(\d+)\]/;
    }
    close $in;
    return $code;
}

# The error log's lines that match a pattern.
sub sv_log_grep {
    my $re = shift;
    open my $in, '<', $Test::Nginx::Util::ErrLogFile or return ();
    my @lines = grep { /$re/ } <$in>;
    close $in;
    return @lines;
}

1;
