# ztunnel-emulator and cni-emulator.  Plain make, no configure step.
#
#   make                  build both programs (CC=clang works too)
#   make test             unit + integration tests (root for the latter)
#   make demo             the seed walkthrough in a throwaway netns (root)
#   make install          PREFIX=/usr/local DESTDIR=

CC		?= cc
CFLAGS		?= -O2 -g
LDFLAGS		?=
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
MANDIR		?= $(PREFIX)/share/man
UNITDIR		?= $(PREFIX)/lib/systemd/system
DESTDIR		?=
INSTALL		?= install

# cni-emulator runs once per pod, as CNI plugins do, and like them it is
# linked statically: no dynamic loader, no relocations at every start
# (see tests/bench/RESULTS.md).  STATIC=0 links it like the daemon, as
# valgrind and the sanitizers need.
STATIC		?= 1
ifeq ($(SANITIZE),1)
STATIC		= 0
endif
ifeq ($(STATIC),1)
CNI_LDFLAGS	= -static
endif

# make SANITIZE=1: AddressSanitizer + UBSan, stopping at the first error.
ifeq ($(SANITIZE),1)
CFLAGS		+= -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=all
LDFLAGS		+= -fsanitize=address,undefined
endif

WARNINGS	= -Wall -Wextra -Werror -Wshadow -Wformat=2 \
		  -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition \
		  -Wpointer-arith -Wwrite-strings -Wvla -Wundef -Wcast-align \
		  -Wswitch-enum -Wmissing-declarations -Wredundant-decls \
		  -Wimplicit-fallthrough
ALL_CFLAGS	= -std=c11 -D_GNU_SOURCE -Icommon $(WARNINGS) $(CFLAGS)

COMMON_OBJS	= common/buf.o common/dns.o common/ev.o common/fdpass.o common/h2conn.o \
		  common/h2fields.o common/h2frame.o common/hpack.o \
		  common/httpd.o common/ipaddr.o common/linger.o common/log.o common/notify.o common/netns.o \
		  common/text.o common/udsock.o common/util.o common/wire.o \
		  common/zds.o
CNI_OBJS	= cni-emulator/main.o cni-emulator/agent.o cni-emulator/nswatch.o \
		  cni-emulator/redirect.o cni-emulator/client.o \
		  cni-emulator/verify.o cni-emulator/reconcile.o \
		  cni-emulator/status.o
ZT_OBJS		= ztunnel-emulator/main.o ztunnel-emulator/control.o \
		  ztunnel-emulator/listen.o ztunnel-emulator/pods.o \
		  ztunnel-emulator/podtab.o ztunnel-emulator/proxy.o \
		  ztunnel-emulator/relay.o ztunnel-emulator/zdsclient.o \
		  ztunnel-emulator/metrics.o ztunnel-emulator/admin.o \
		  ztunnel-emulator/hbone.o ztunnel-emulator/peers.o \
		  ztunnel-emulator/podsock.o ztunnel-emulator/mesh.o \
		  ztunnel-emulator/podjson.o ztunnel-emulator/drain.o \
		  ztunnel-emulator/handover.o ztunnel-emulator/dnsproxy.o
UNIT_OBJS	= tests/unit/main.o tests/unit/test_fdpass.o \
		  tests/unit/test_wire.o tests/unit/test_misc.o \
		  tests/unit/test_podtab.o tests/unit/test_zds.o \
		  tests/unit/test_hpack.o tests/unit/test_dns.o \
		  tests/unit/test_ipaddr.o \
		  ztunnel-emulator/podtab.o

FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_FLAGS	= -std=c11 -D_GNU_SOURCE -Icommon -g -O1 \
		  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZERS		= tests/fuzz/fuzz-zds tests/fuzz/fuzz-wire tests/fuzz/fuzz-cmsg \
		  tests/fuzz/fuzz-hpack tests/fuzz/fuzz-h2conn tests/fuzz/fuzz-dns

CNI		= cni-emulator/cni-emulator
ZT		= ztunnel-emulator/ztunnel-emulator
UNIT		= tests/unit/unit-tests
LOAD		= tests/bench/zt-load
TRUE		= tests/bench/true
SOMARK		= tests/bench/somark.so

all: $(CNI) $(ZT)

$(CNI): $(CNI_OBJS) $(COMMON_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(CNI_LDFLAGS) -o $@ $(filter %.o,$^)

$(ZT): $(ZT_OBJS) $(COMMON_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^)

$(UNIT): $(UNIT_OBJS) $(COMMON_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^)

$(LOAD): tests/bench/zt-load.o $(COMMON_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^)

$(TRUE): tests/bench/true.o
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^)

# Preloaded into haproxy by bench-traffic: a shared object, from source,
# never sanitized (a sanitizer's runtime must come first in a program).
$(SOMARK): tests/bench/somark.c common/ambient.h ztunnel-emulator/podsock.h
	$(CC) -std=c11 -D_GNU_SOURCE -Icommon -Iztunnel-emulator $(WARNINGS) \
	    -O2 -fPIC -shared -o $@ $<

# Objects remember the flags they were built with: change CC, CFLAGS or
# SANITIZE and everything is rebuilt, never mixed.
ALL_OBJS	= $(COMMON_OBJS) $(CNI_OBJS) $(ZT_OBJS) $(UNIT_OBJS) \
		  tests/bench/zt-load.o tests/bench/true.o
$(ALL_OBJS) $(CNI) $(ZT): .build-flags
.build-flags: FORCE
	@echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(CNI_LDFLAGS)' | cmp -s - $@ || \
	    echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(CNI_LDFLAGS)' >$@
FORCE:

# Fuzzers build straight from the sources: their own flags, no objects.
tests/fuzz/fuzz-zds: tests/fuzz/fuzz_zds.c common/zds.c common/text.c
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^
tests/fuzz/fuzz-dns: tests/fuzz/fuzz_dns.c common/dns.c
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^
tests/fuzz/fuzz-wire: tests/fuzz/fuzz_wire.c common/wire.c common/text.c
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^
tests/fuzz/fuzz-cmsg: tests/fuzz/fuzz_cmsg.c common/fdpass.c
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^
tests/fuzz/fuzz-hpack: tests/fuzz/fuzz_hpack.c common/hpack.c common/h2frame.c common/h2fields.c
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^
# A small SPLICE_MIN: a fuzz input's DATA payloads take the splice paths.
tests/fuzz/fuzz-h2conn: tests/fuzz/fuzz_h2conn.c common/h2conn.c common/h2fields.c common/hpack.c common/buf.c \
		common/h2frame.c common/ev.c common/linger.c common/util.c common/text.c
	$(FUZZ_CC) $(FUZZ_FLAGS) -DSPLICE_MIN=16 -o $@ $^

%.o: %.c
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

tests/unit/%.o: tests/unit/%.c
	$(CC) $(ALL_CFLAGS) -Iztunnel-emulator -MMD -MP -c -o $@ $<

-include $(COMMON_OBJS:.o=.d) $(CNI_OBJS:.o=.d) $(ZT_OBJS:.o=.d) \
	 $(UNIT_OBJS:.o=.d) tests/bench/zt-load.d tests/bench/true.d

# Last line of output: "N passed, N failed".  Root tests are skipped (and
# say so) without root, and never skipped when CI=true.
test: all $(UNIT) $(LOAD)
	@tests/run.sh

# One daemon, PODS=1000 pods (root): functional checks plus measurements.
test-scale: all $(LOAD)
	@scripts/scale.sh

# Speed against the kernel floor, repeated; tables and a CSV (root).
bench: all $(LOAD) $(TRUE) $(SOMARK)
	@scripts/bench.sh

# Pod-to-pod traffic: direct, through the mesh, through two socat hops
# (root; iptables, iperf3, socat).  Also the last part of make bench.
bench-traffic: all $(LOAD) $(SOMARK)
	@scripts/bench-traffic.sh

# What an upgrade costs: --handover against Istio's way, 10 and 1000
# open connections (root, iptables).  Also the last part of make bench.
bench-upgrade: all
	@scripts/bench-upgrade.sh

# The DNS proxy: lookups answered here, forwarded, and direct to the same
# upstream (root, iptables).  Also the last part of make bench.
bench-dns: all
	@scripts/bench-dns.sh

demo: all
	@scripts/demo.sh

# The same with Istio's ZDS protocol, both roles ours (root).
demo-zds: all
	@scripts/demo-zds.sh

# Real pod traffic: two pods on a node of their own, A calls B through
# ztunnel-emulator --proxy (root, iptables).
demo-traffic: all
	@scripts/demo-traffic.sh

demo-hbone: all
	@scripts/demo-hbone.sh

# An upgrade with --handover while a pod's connections flow (root,
# iptables): the same listening sockets, the same connections.
demo-upgrade: all
	@scripts/demo-upgrade.sh

# libFuzzer targets (clang), each run FUZZ_SECONDS from its seed corpus.
fuzz: $(FUZZERS)
	@scripts/fuzz.sh $(FUZZ_SECONDS)

# Static analysis, zero findings: cppcheck, clang-tidy, gcc -fanalyzer,
# shellcheck, mandoc -Tlint; the man pages fit 80 columns and carry
# common/version.h's version; README's layout table matches the code.
lint:
	@scripts/lint.sh

# Re-encode the ZDS golden vectors with protoc (protobuf-compiler).
golden:
	@scripts/golden.sh

MAN8		= cni-emulator/cni-emulator.8 ztunnel-emulator/ztunnel-emulator.8
MAN7		= common/ztunnel-emulator-protocol.7
UNITS		= ztunnel-emulator/ztunnel-emulator.service \
		  cni-emulator/cni-emulator-agent.service

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man7
	$(INSTALL) -m 0755 -s $(CNI) $(ZT) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/
	$(INSTALL) -d $(DESTDIR)$(UNITDIR)
	for u in $(UNITS); do \
		sed 's|@BINDIR@|$(BINDIR)|g' $$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u) && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u) || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cni-emulator $(DESTDIR)$(BINDIR)/ztunnel-emulator \
	    $(DESTDIR)$(MANDIR)/man8/cni-emulator.8 \
	    $(DESTDIR)$(MANDIR)/man8/ztunnel-emulator.8 \
	    $(DESTDIR)$(MANDIR)/man7/ztunnel-emulator-protocol.7 \
	    $(DESTDIR)$(UNITDIR)/ztunnel-emulator.service \
	    $(DESTDIR)$(UNITDIR)/cni-emulator-agent.service

clean:
	rm -f $(CNI) $(ZT) $(UNIT) $(LOAD) $(TRUE) $(SOMARK) $(FUZZERS) */*.o */*.d tests/*/*.o \
	    tests/*/*.d .build-flags

.PHONY: all test test-scale bench bench-traffic bench-upgrade bench-dns demo demo-zds demo-traffic demo-hbone demo-upgrade fuzz golden lint install uninstall clean FORCE
