#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# cni-emulator with --redirect-backend $REDIRECT_BACKEND added wherever it
# installs or removes in-pod rules (--redirect), for the tests that run
# once per backend (tests/lib.sh).  Bash builtins only: a test may run it
# with an empty PATH.
bin=${BASH_SOURCE[0]%/*}/../../cni-emulator/cni-emulator
for arg in "$@"; do
	if [ "$arg" = --redirect ]; then
		exec "$bin" --redirect-backend "$REDIRECT_BACKEND" "$@"
	fi
done
exec "$bin" "$@"
