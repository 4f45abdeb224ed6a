#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make test: the unit tests, then the integration tests (root: real
# namespaces).  Prints "ok ..." / "not ok ..." per test, and as its last
# line "N passed, N failed".  Without root the integration tests are
# skipped, and say so; with CI=true they never are.  TESTS=regex picks
# integration tests by group/name, e.g. TESTS=walkthrough/.
set -u
cd "$(dirname "$0")/.." || exit 1

log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() { "$@" 2>&1 | tee -a "$log"; }

run tests/unit/unit-tests

# What the integration tests run, and the Debian package that has it.
missing=()
for need in ip:iproute2 ss:iproute2 python3:python3 iptables-restore:iptables nft:nftables \
    nsenter:util-linux setpriv:util-linux curl:curl promtool:prometheus \
    strace:strace pkill:procps dig:dnsutils; do
	PATH=$PATH:/usr/sbin:/sbin command -v "${need%%:*}" >/dev/null || missing+=("$need")
done
# The HBONE tests' independent HTTP/2 stack: Debian's python3-h2, which
# imports under /usr/bin/python3 only.
/usr/bin/python3 -c 'import h2' 2>/dev/null || missing+=("import h2:python3-h2")
why=""
if [ ${#missing[@]} -gt 0 ]; then
	tools=() pkgs=()
	for need in "${missing[@]}"; do
		tools+=("${need%%:*}")
		[[ " ${pkgs[*]} " == *" ${need#*:} "* ]] || pkgs+=("${need#*:}")
	done
	why="missing ${tools[*]}: apt-get install --no-install-recommends ${pkgs[*]}"
fi
if [ "$(id -u)" -ne 0 ]; then
	why="not root (namespaces need it): sudo make test${why:+; also $why}"
fi
if [ -n "$why" ]; then
	if [ "${CI:-}" = true ]; then
		run echo "not ok integration: CI=true, but cannot run: $why"
	else
		echo "# integration tests SKIPPED: $why"
	fi
else
	for t in tests/integration/t_*.sh; do
		run bash "$t"
	done
	# The pod traffic again with the in-pod rules in nftables (Istio
	# 1.28's native backend).  Not under valgrind: what differs is
	# cni-emulator's commands, and valgrind would watch the wrapper's
	# shell instead.
	if [ "${VALGRIND:-}" != 1 ]; then
		REDIRECT_BACKEND=nftables run bash tests/integration/t_traffic.sh
	fi
fi

passed=$(grep -c '^ok ' "$log")
failed=$(grep -c '^not ok ' "$log")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
