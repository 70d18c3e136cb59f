# Runs on the server as `sh -s` (this text arrives on stdin). Idempotent: apt-get install of what is installed
# is a no-op. Only `dovecot --version` goes to stdout: the stack reads it to pick the config syntax.
set -eu
# scripts/rootfs reads this line too, to fill the local test server's apt repository: keep it on one line.
PACKAGES="postfix dovecot-core dovecot-imapd dovecot-lmtpd certbot ca-certificates openssl"
export DEBIAN_FRONTEND=noninteractive
# A freshly booted cloud image may still be running cloud-init or unattended-upgrades: wait, do not fail.
if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null 2>&1 || true; fi
# mailstack writes main.cf itself; the packaged questionnaire would only be overwritten.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get -o DPkg::Lock::Timeout=600 update -q >&2
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $PACKAGES >&2
dovecot --version
