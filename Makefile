# ztunnel-emulator and cni-emulator.  Plain make, no configure step.
#
#   make                  build both programs (CC=clang works too)
#   make test             unit + integration tests (root for the latter)
#   make demo             the seed walkthrough in a throwaway netns (root)
#   make install          PREFIX=/usr/local DESTDIR=

VERSION		= 0.1.0

CC		?= cc
CFLAGS		?= -O2 -g
LDFLAGS		?=
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
DESTDIR		?=
INSTALL		?= install

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
ALL_CFLAGS	= -std=c11 -D_GNU_SOURCE -DVERSION='"$(VERSION)"' \
		  -Icommon $(WARNINGS) $(CFLAGS)

COMMON_OBJS	= common/fdpass.o common/log.o common/netns.o common/udsock.o \
		  common/util.o common/wire.o
CNI_OBJS	= cni-emulator/main.o
ZT_OBJS		= ztunnel-emulator/main.o ztunnel-emulator/control.o \
		  ztunnel-emulator/listen.o ztunnel-emulator/pods.o \
		  ztunnel-emulator/podtab.o
UNIT_OBJS	= tests/unit/main.o tests/unit/test_fdpass.o \
		  tests/unit/test_wire.o tests/unit/test_misc.o \
		  tests/unit/test_podtab.o ztunnel-emulator/podtab.o

CNI		= cni-emulator/cni-emulator
ZT		= ztunnel-emulator/ztunnel-emulator
UNIT		= tests/unit/unit-tests
LOAD		= tests/bench/zt-load

all: $(CNI) $(ZT)

$(CNI): $(CNI_OBJS) $(COMMON_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^

$(ZT): $(ZT_OBJS) $(COMMON_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^

$(UNIT): $(UNIT_OBJS) $(COMMON_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^

$(LOAD): tests/bench/zt-load.o $(COMMON_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^

%.o: %.c
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

tests/unit/%.o: tests/unit/%.c
	$(CC) $(ALL_CFLAGS) -Iztunnel-emulator -MMD -MP -c -o $@ $<

-include $(COMMON_OBJS:.o=.d) $(CNI_OBJS:.o=.d) $(ZT_OBJS:.o=.d) \
	 $(UNIT_OBJS:.o=.d) tests/bench/zt-load.d

# Last line of output: "N passed, N failed".  Root tests are skipped (and
# say so) without root, and never skipped when CI=true.
test: all $(UNIT)
	@tests/run.sh

# One daemon, PODS=1000 pods (root): functional checks plus measurements.
test-scale: all $(LOAD)
	@scripts/scale.sh

demo: all
	@scripts/demo.sh

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 0755 $(CNI) $(ZT) $(DESTDIR)$(BINDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cni-emulator $(DESTDIR)$(BINDIR)/ztunnel-emulator

clean:
	rm -f $(CNI) $(ZT) $(UNIT) $(LOAD) */*.o */*.d tests/*/*.o tests/*/*.d

.PHONY: all test test-scale demo install uninstall clean
