# Runs on the server as `sh -s` (this text arrives on stdin). Idempotent: apt-get install of what is installed
# is a no-op. The versions the config depends on are read by the state check (components/serverState.ts).
set -eu
# unbound is the server's own validating resolver (components/resolver.ts); dns-root-data gives it the root trust
# anchor it starts with (a recommendation of unbound's, which --no-install-recommends would leave out).
# scripts/rootfs reads this line too, to fill the local test server's apt repository: keep it on one line.
PACKAGES="postfix dovecot-core dovecot-imapd dovecot-lmtpd certbot ca-certificates openssl fail2ban nftables python3-systemd nginx libsasl2-modules logrotate curl rspamd redis-server dovecot-sieve dovecot-managesieved restic e2fsprogs openssh-client postsrsd unbound dns-root-data postfix-mta-sts-resolver"
# With the argument `webmail` (mailstack:webmail): Roundcube with SQLite, its plugins, php-fpm for nginx, sudo for the
# password plugin's helper. php-fpm first: apt would otherwise satisfy PHP's "libapache2-mod-php | php-fpm" with
# Apache. scripts/rootfs reads this line too: keep it on one line.
WEBMAIL_PACKAGES="php-fpm roundcube-core roundcube-sqlite3 roundcube-plugins sqlite3 sudo"
if [ "${1:-}" = webmail ]; then PACKAGES="$PACKAGES $WEBMAIL_PACKAGES"; fi
export DEBIAN_FRONTEND=noninteractive
# A freshly booted cloud image may still be running cloud-init or unattended-upgrades: wait, do not fail.
if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null 2>&1 || true; fi
# Debian's fail2ban enables its sshd jail, which reads /var/log/auth.log: a Debian 12 server without rsyslog has
# none, and fail2ban then refuses to start at all. The journal has what sshd logs.
mkdir -p /etc/fail2ban/jail.d
printf '[sshd]\nbackend = systemd\n' > /etc/fail2ban/jail.d/mailstack-sshd.local
# An install cut short (the engine killed: its ssh session closes) leaves its apt-get and dpkg running until their
# next line of output meets the closed pipe, and a maintainer script of theirs holds debconf's own lock
# (config.dat; debconf runs it as `frontend`), which neither dpkg's lock nor apt-get's timeout covers: wait until
# they are gone (10 min at most).
busy() {
    for comm in /proc/[0-9]*/comm; do
        case $(cat "$comm" 2>/dev/null) in apt-get | dpkg | dpkg-deb | debconf-* | frontend) return 0 ;; esac
    done
    return 1
}
i=0
while busy && [ $((i += 1)) -lt 600 ]; do sleep 1; done
# mailstack writes main.cf itself; the packaged questionnaire would only be overwritten.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
# Roundcube's database is mailstack's (mailstack-ctl webmail), not dbconfig-common's.
echo "roundcube-core roundcube/dbconfig-install boolean false" | debconf-set-selections
# What the cut session left undone, dpkg "interrupted": apt-get refuses everything until `dpkg --configure -a`
# finishes the job. Anything else still holding dpkg's lock: wait for it, as apt-get does below.
i=0
until out=$(dpkg --configure -a 2>&1); do
    case $out in *lock*) [ $((i += 1)) -lt 600 ] || break; sleep 1 ;; *) echo "$out" >&2; exit 1 ;; esac
done
apt-get -o DPkg::Lock::Timeout=600 update -q >&2
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $PACKAGES >&2
