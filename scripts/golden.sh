#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make golden: encode every tests/zds/vectors/*.txtpb with protoc into the
# .bin beside it.  The first line of each text file names its message
# ("# message: zdsemu.WorkloadRequest").  Needs protoc (Debian package
# protobuf-compiler); the tests only read the committed .bin files.
set -eu
cd "$(dirname "$0")/.."

if ! command -v protoc >/dev/null; then
	echo "golden: protoc not found (apt-get install protobuf-compiler)" >&2
	exit 1
fi
for txt in tests/zds/vectors/*.txtpb; do
	type=$(sed -n '1s/^# message: //p' "$txt")
	if [ -z "$type" ]; then
		echo "golden: $txt: first line must be '# message: TYPE'" >&2
		exit 1
	fi
	protoc --proto_path=tests/zds --encode="$type" tests/zds/zds.proto \
	    <"$txt" >"${txt%.txtpb}.bin"
	printf '%-40s %s\n' "${txt%.txtpb}.bin" "$(od -An -tx1 -v "${txt%.txtpb}.bin" | tr -s ' \n' ' ')"
done
