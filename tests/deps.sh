#!/bin/sh
# Install, when missing, the Debian packages that building and testing
# mailfetch need. `sh tests/deps.sh bench` also installs the tools the
# benchmark compares against (those the archive does not have are
# skipped). Quiet and quick when everything is there.
#
# Works as root without a terminal (CI); as another user it tries
# `sudo -n`, else says what to install and exits 1. The system Dovecot
# service is not started or enabled: the tests run a throwaway instance
# of their own. Neither is GNU Mailutils' imap4d (the server without
# CONDSTORE that tests/test_mailutils.py runs a private copy of).

set -eu

PKGS="gcc make pkg-config libtls-dev libinih-dev libssl-dev dovecot-imapd
dovecot-pop3d dovecot-submissiond openssl python3 clang-format clang
libclang-rt-14-dev time valgrind mandoc man-db dnsmasq tzdata systemd
zlib1g-dev mailutils-imap4d strace"
BENCH_PKGS="mpop isync fdm fetchmail procmail getmail6 time hyperfine
heaptrack"

installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = \
	    "install ok installed" ]
}

missing_of() {
	out=
	for p in $1; do
		installed "$p" || out="$out $p"
	done
	echo $out
}

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: not a Debian system; install by hand: $PKGS" >&2
	exit 1
fi

want="$PKGS"
[ "${1-}" = bench ] && want="$PKGS $BENCH_PKGS"
missing=$(missing_of "$want")
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	SUDO="sudo -n"
else
	echo "deps.sh: missing Debian packages: $missing" >&2
	echo "deps.sh: install them with:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y" \
	    "--no-install-recommends $missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps.sh: installing: $missing"
$SUDO apt-get update -qq </dev/null

# Packages the archive does not have (some benchmark tools) are skipped;
# the required ones must all exist.
have=
for p in $missing; do
	if apt-cache show "$p" >/dev/null 2>&1; then
		have="$have $p"
	else
		case " $PKGS " in
		*" $p "*)
			echo "deps.sh: package $p is not available" >&2
			exit 1
			;;
		esac
		echo "deps.sh: skipping $p (not in the archive)"
	fi
done
[ -z "$have" ] && exit 0

# Keep the system Dovecot and dnsmasq from being started by the
# install: a policy-rc.d that refuses every start, unless one is
# already there.
policy=/usr/sbin/policy-rc.d
made_policy=
case "$have" in
*dovecot* | *dnsmasq* | *imap4d*)
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
		$SUDO chmod 755 "$policy"
		made_policy=1
	fi
	;;
esac

rc=0
$SUDO apt-get install -y -qq --no-install-recommends $have </dev/null ||
    rc=$?
[ -n "$made_policy" ] && $SUDO rm -f "$policy"
[ "$rc" -ne 0 ] && exit "$rc"

# Not enabled at boot either (systemd machines only).
case "$have" in
*dovecot* | *dnsmasq* | *imap4d*)
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		$SUDO systemctl disable --now dovecot.service \
		    dovecot.socket dnsmasq.service \
		    mailutils-imap4d.service >/dev/null 2>&1 || true
	fi
	;;
esac

still=$(missing_of "$PKGS")
if [ -n "$still" ]; then
	echo "deps.sh: still missing after install: $still" >&2
	exit 1
fi
exit 0
