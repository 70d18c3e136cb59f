#!/usr/bin/perl
# The clients of the dovecot auth test, in the Debian root's perl-base (no other module there):
#   auth SOCKET REQUEST...      dovecot's auth protocol as postfix's smtpd speaks it (xsasl_dovecot); a REQUEST is
#                               BASE64(\0user\0password)[,FLAG...], e.g. ",secured" when the client used TLS
#   lmtp SOCKET FROM RCPT...    one message over LMTP, as postfix's lmtp client delivers it
#   imap HOST PORT FROM USER PASSWORD   CAPABILITY and LOGIN without TLS, from source address FROM
# Prints what the server says as "S: ..." and what it sends as "C: ...".
use strict;
use warnings;
use IO::Socket::INET;
use IO::Socket::UNIX;
use Socket;

$| = 1;
my $mode = shift @ARGV // die "usage: client.pl auth|lmtp|imap ...\n";
alarm 20; # SIGALRM's default action ends the process, even in a blocking read

if ($mode eq "auth") {
    my $path = shift @ARGV;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path) or die "connect $path: $!\n";
    print $s "VERSION\t1\t2\nCPID\t$$\n";
    while (defined(my $l = <$s>)) {
        print "S: $l" if $l =~ /^MECH\t/;
        last if $l eq "DONE\n";
    }
    my $id = 0;
    for my $request (@ARGV) {
        my ($resp, @flags) = split /,/, $request;
        $id++;
        # One client address per request: dovecot delays a client address' next request after a failure.
        print $s join("\t", "AUTH", $id, "PLAIN", "service=smtp", "nologin", "lip=192.0.2.10", "rip=198.51.100.$id",
            @flags, "resp=$resp"), "\n";
    }
    # All requests at once, as the protocol's ids allow: each failure's auth_failure_delay (2 s) runs side by side
    # with the others, not one after another. The answers come as they are ready, and are printed in request order.
    my %answer;
    while (keys %answer < $id) {
        my $l = <$s> // die "no answer to AUTH " . join(" ", grep { !exists $answer{$_} } 1 .. $id) . "\n";
        my (undef, $n) = split /\t/, $l;
        die "answer to no request: $l" unless defined $n && $n =~ /^\d+$/ && $n >= 1 && $n <= $id && !exists $answer{$n};
        $answer{$n} = $l;
    }
    print "S: $answer{$_}" for 1 .. $id;
} elsif ($mode eq "lmtp") {
    my ($path, $from, @rcpts) = @ARGV;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path) or die "connect $path: $!\n";
    my $reply = sub {
        my $r = "";
        while (defined(my $l = <$s>)) {
            $l =~ s/\r//;
            $r .= "S: $l";
            last if $l =~ /^\d{3} /;
        }
        print $r;
        return $r;
    };
    my $cmd = sub { print "C: $_[0]\n"; print $s "$_[0]\r\n"; return $reply->(); };
    $reply->();
    $cmd->("LHLO client.example.org");
    $cmd->("MAIL FROM:<$from>");
    my $accepted = grep { $cmd->("RCPT TO:<$_>") =~ /^S: 250 /m } @rcpts;
    $cmd->("DATA");
    print $s "From: <$from>\r\nSubject: render test\r\n\r\nDelivered by the render test.\r\n.\r\n";
    $reply->() for 1 .. $accepted;
    $cmd->("QUIT");
} elsif ($mode eq "imap") {
    my ($host, $port, $from, $user, $password) = @ARGV;
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, LocalAddr => $from, Proto => "tcp")
        or die "connect $host:$port from $from: $!\n";
    my $tagged = sub {
        while (defined(my $l = <$s>)) {
            $l =~ s/\r//;
            print "S: $l";
            return if $l =~ /^\Q$_[0]\E /;
        }
    };
    my $greeting = <$s>;
    $greeting =~ s/\r//;
    print "S: $greeting";
    for (["a", "CAPABILITY"], ["b", "LOGIN $user $password"], ["c", "LOGOUT"]) {
        print "C: $_->[0] $_->[1]\n";
        print $s "$_->[0] $_->[1]\r\n";
        $tagged->($_->[0]);
    }
} else {
    die "unknown mode $mode\n";
}
