/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redirect.c: istio-cni's in-pod rules, put in and taken out of a pod's
 * network namespace (see redirect.h).  Like istio-cni, we hand the rule
 * text to iptables-restore --noflush, which commits it in one go, and add
 * the route and the rule with iproute2's ip; unlike it, we run them in a
 * child that setns()es into the pod, so the agent itself never leaves its
 * own namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "ambient.h"
#include "ev.h"
#include "netns.h"
#include "redirect.h"
#include "util.h"

/*
 * The rules, as istio-cni's default.golden has them, in iptables-save's
 * own spelling (what install compares with), built from ambient.h's
 * numbers; with DNS capture (the default, as Istio's), the pod's DNS to
 * 15053 and the raw table's conntrack zone for ztunnel's own DNS.  The
 * IPv6 set (default_ipv6.golden, for ip6tables-restore) is the same with
 * ::1 for 127.0.0.1 and the IPv6 probe address.
 */
#define MARK	ZT_STR(ZT_MARK) "/" ZT_STR(ZT_MARK_MASK)
#define CMARK	ZT_STR(ZT_CONNMARK) "/" ZT_STR(ZT_MARK_MASK)
#define DNSPORT	ZT_STR(ZT_PORT_DNS)
#define LO4	"127.0.0.1/32"
#define LO6	"::1/128"
#define IPT_MANGLE \
    "*mangle\n" \
    ":ISTIO_PRERT - [0:0]\n" \
    ":ISTIO_OUTPUT - [0:0]\n" \
    "-A PREROUTING -j ISTIO_PRERT\n" \
    "-A OUTPUT -j ISTIO_OUTPUT\n" \
    "-A ISTIO_PRERT -m mark --mark " MARK " -j CONNMARK --set-xmark " CMARK "\n" \
    "-A ISTIO_OUTPUT -m connmark --mark " CMARK " -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff\n" \
    "COMMIT\n"
#define IPT_NAT_HEAD(LO, PROBE) \
    "*nat\n" \
    ":ISTIO_PRERT - [0:0]\n" \
    ":ISTIO_OUTPUT - [0:0]\n" \
    "-A OUTPUT -j ISTIO_OUTPUT\n" \
    "-A PREROUTING -j ISTIO_PRERT\n" \
    "-A ISTIO_PRERT -s " PROBE " -p tcp -m tcp -j ACCEPT\n" \
    "-A ISTIO_OUTPUT -d " PROBE " -p tcp -m tcp -j ACCEPT\n" \
    "-A ISTIO_PRERT ! -d " LO " -p tcp -m tcp ! --dport " ZT_STR(ZT_PORT_HBONE) " -m mark ! --mark " MARK " -j REDIRECT --to-ports " ZT_STR(ZT_PORT_INBOUND) "\n"
#define IPT_NAT_DNS(LO) \
    "-A ISTIO_OUTPUT ! -o lo -p udp -m mark ! --mark " MARK " -m udp --dport 53 -j REDIRECT --to-ports " DNSPORT "\n" \
    "-A ISTIO_OUTPUT ! -d " LO " -p tcp -m tcp --dport 53 -m mark ! --mark " MARK " -j REDIRECT --to-ports " DNSPORT "\n"
#define IPT_NAT_TAIL(LO) \
    "-A ISTIO_OUTPUT -p tcp -m mark --mark " CMARK " -j ACCEPT\n" \
    "-A ISTIO_OUTPUT ! -d " LO " -o lo -j ACCEPT\n" \
    "-A ISTIO_OUTPUT ! -d " LO " -p tcp -m mark ! --mark " MARK " -j REDIRECT --to-ports " ZT_STR(ZT_PORT_OUTBOUND) "\n" \
    "COMMIT\n"
#define IPT_RAW \
    "*raw\n" \
    ":ISTIO_OUTPUT - [0:0]\n" \
    ":ISTIO_PRERT - [0:0]\n" \
    "-A PREROUTING -j ISTIO_PRERT\n" \
    "-A OUTPUT -j ISTIO_OUTPUT\n" \
    "-A ISTIO_OUTPUT -p udp -m mark --mark " MARK " -m udp --dport 53 -j CT --zone 1\n" \
    "-A ISTIO_PRERT -p udp -m mark ! --mark " MARK " -m udp --sport 53 -j CT --zone 1\n" \
    "COMMIT\n"
#define IPT_PLAIN(LO, PROBE) IPT_MANGLE IPT_NAT_HEAD(LO, PROBE) IPT_NAT_TAIL(LO)
#define IPT_DNS(LO, PROBE) IPT_MANGLE IPT_NAT_HEAD(LO, PROBE) IPT_NAT_DNS(LO) \
    IPT_NAT_TAIL(LO) IPT_RAW
static const char ipt_plain[] = IPT_PLAIN(LO4, ZT_PROBE_SNAT "/32");
static const char ipt_dns[] = IPT_DNS(LO4, ZT_PROBE_SNAT "/32");
static const char ipt6_plain[] = IPT_PLAIN(LO6, ZT_PROBE_SNAT6 "/128");
static const char ipt6_dns[] = IPT_DNS(LO6, ZT_PROBE_SNAT6 "/128");

/*
 * The native nftables backend (Istio 1.28): the three inet tables of
 * istio-cni's nftables default.golden (without DNS capture: its
 * dns_pod golden, the raw table's chains empty), as one nft -f
 * transaction.  "add table" then "flush table" makes it idempotent.  For
 * a pod with IPv6, each rule that names an IPv4 address has its ip6 twin
 * right after it, as in the _ipv6 goldens.
 */
#define NFT_MARK	"mark and " ZT_STR(ZT_MARK_MASK) " != " ZT_STR(ZT_MARK)
#define NFT_NAT	"add rule inet istio-ambient-nat "
#define NFT_NAT_CHAINS \
    "add table inet istio-ambient-nat\n" \
    "flush table inet istio-ambient-nat\n" \
    "add chain inet istio-ambient-nat prerouting { type nat hook prerouting priority -100 ; }\n" \
    "add chain inet istio-ambient-nat output { type nat hook output priority -100 ; }\n" \
    "add chain inet istio-ambient-nat istio-prerouting\n" \
    "add chain inet istio-ambient-nat istio-output\n" \
    NFT_NAT "output jump istio-output\n" \
    NFT_NAT "prerouting jump istio-prerouting\n"
#define NFT_PROBE_IN(IP, PROBE) \
    NFT_NAT "istio-prerouting meta l4proto tcp " IP " saddr " PROBE " counter accept\n"
#define NFT_PROBE_OUT(IP, PROBE) \
    NFT_NAT "istio-output meta l4proto tcp " IP " daddr " PROBE " counter accept\n"
#define NFT_INBOUND(IP, LO) \
    NFT_NAT "istio-prerouting " IP " daddr != " LO " tcp dport != " ZT_STR(ZT_PORT_HBONE) " " NFT_MARK " counter redirect to :" ZT_STR(ZT_PORT_INBOUND) "\n"
#define NFT_DNS_UDP \
    NFT_NAT "istio-output oifname != lo " NFT_MARK " udp dport 53 counter redirect to :" DNSPORT "\n"
#define NFT_DNS_TCP(IP, LO) \
    NFT_NAT "istio-output " IP " daddr != " LO " tcp dport 53 " NFT_MARK " counter redirect to :" DNSPORT "\n"
#define NFT_OURS \
    NFT_NAT "istio-output meta l4proto tcp mark and " ZT_STR(ZT_MARK_MASK) " == " ZT_STR(ZT_CONNMARK) " counter accept\n"
#define NFT_SELF(IP, LO) \
    NFT_NAT "istio-output oifname lo " IP " daddr != " LO " counter accept\n"
#define NFT_OUTBOUND(IP, LO) \
    NFT_NAT "istio-output meta l4proto tcp " IP " daddr != " LO " " NFT_MARK " counter redirect to :" ZT_STR(ZT_PORT_OUTBOUND) "\n"
#define NFT4_HEAD \
    NFT_NAT_CHAINS NFT_PROBE_IN("ip", ZT_PROBE_SNAT) \
    NFT_PROBE_OUT("ip", ZT_PROBE_SNAT) NFT_INBOUND("ip", LO4)
#define NFT4_DNS	NFT_DNS_UDP NFT_DNS_TCP("ip", LO4)
#define NFT4_TAIL	NFT_OURS NFT_SELF("ip", LO4) NFT_OUTBOUND("ip", LO4)
#define NFT46_HEAD \
    NFT_NAT_CHAINS NFT_PROBE_IN("ip", ZT_PROBE_SNAT) \
    NFT_PROBE_IN("ip6", ZT_PROBE_SNAT6) NFT_PROBE_OUT("ip", ZT_PROBE_SNAT) \
    NFT_PROBE_OUT("ip6", ZT_PROBE_SNAT6) NFT_INBOUND("ip", LO4) \
    NFT_INBOUND("ip6", LO6)
#define NFT46_DNS \
    NFT_DNS_UDP NFT_DNS_TCP("ip", LO4) NFT_DNS_TCP("ip6", LO6)
#define NFT46_TAIL \
    NFT_OURS NFT_SELF("ip", LO4) NFT_SELF("ip6", LO6) \
    NFT_OUTBOUND("ip", LO4) NFT_OUTBOUND("ip6", LO6)
#define NFT_MANGLE \
    "add table inet istio-ambient-mangle\n" \
    "flush table inet istio-ambient-mangle\n" \
    "add chain inet istio-ambient-mangle prerouting { type filter hook prerouting priority -150 ; }\n" \
    "add chain inet istio-ambient-mangle output { type route hook output priority -150 ; }\n" \
    "add chain inet istio-ambient-mangle istio-prerouting\n" \
    "add chain inet istio-ambient-mangle istio-output\n" \
    "add rule inet istio-ambient-mangle prerouting jump istio-prerouting\n" \
    "add rule inet istio-ambient-mangle output jump istio-output\n" \
    "add rule inet istio-ambient-mangle istio-prerouting meta mark & " ZT_STR(ZT_MARK_MASK) " == " ZT_STR(ZT_MARK) " counter ct mark set ct mark & 0xfffff000 | " ZT_STR(ZT_CONNMARK) "\n" \
    "add rule inet istio-ambient-mangle istio-output ct mark and " ZT_STR(ZT_MARK_MASK) " == " ZT_STR(ZT_CONNMARK) " counter meta mark set ct mark\n"
#define NFT_RAW \
    "add table inet istio-ambient-raw\n" \
    "flush table inet istio-ambient-raw\n" \
    "add chain inet istio-ambient-raw prerouting { type filter hook prerouting priority -300 ; }\n" \
    "add chain inet istio-ambient-raw output { type filter hook output priority -300 ; }\n" \
    "add chain inet istio-ambient-raw istio-prerouting\n" \
    "add chain inet istio-ambient-raw istio-output\n" \
    "add rule inet istio-ambient-raw prerouting jump istio-prerouting\n" \
    "add rule inet istio-ambient-raw output jump istio-output\n"
#define NFT_RAW_DNS \
    "add rule inet istio-ambient-raw istio-output udp dport 53 meta mark and " ZT_STR(ZT_MARK_MASK) " == " ZT_STR(ZT_MARK) " counter ct zone set 1\n" \
    "add rule inet istio-ambient-raw istio-prerouting udp sport 53 meta " NFT_MARK " counter ct zone set 1\n"
static const char nft_plain[] = NFT4_HEAD NFT4_TAIL NFT_MANGLE NFT_RAW;
static const char nft_dns[] = NFT4_HEAD NFT4_DNS NFT4_TAIL NFT_MANGLE NFT_RAW
    NFT_RAW_DNS;
static const char nft46_plain[] = NFT46_HEAD NFT46_TAIL NFT_MANGLE NFT_RAW;
static const char nft46_dns[] = NFT46_HEAD NFT46_DNS NFT46_TAIL NFT_MANGLE
    NFT_RAW NFT_RAW_DNS;

static int dns_capture = 1;

/* A family's rules: [0] IPv4, [1] IPv6. */
#define NFAM	2

/* What install puts in, as things are set. */
static const char *
ipt_text(int fam)
{
	if (fam == 1)
		return dns_capture ? ipt6_dns : ipt6_plain;
	return dns_capture ? ipt_dns : ipt_plain;
}

/* One inet transaction for both families: with the ip6 twins if the pod
 * has IPv6. */
static const char *
nft_text(int v6)
{
	if (v6)
		return dns_capture ? nft46_dns : nft46_plain;
	return dns_capture ? nft_dns : nft_plain;
}

void
redirect_set_dns(int on)
{
	dns_capture = on;
}

int
redirect_dns(void)
{
	return dns_capture;
}

static const char *const nft_tables[] = { "istio-ambient-nat",
    "istio-ambient-mangle", "istio-ambient-raw" };
#define NFT_NTABLES	3

static enum redirect_backend backend = REDIRECT_IPTABLES;

#define TABLE	ZT_STR(ZT_ROUTE_TABLE)
static const char cmark[] = CMARK;	/* one argument, not a concatenation */

/* The commands of one family: iproute2's -4 or -6, iptables or
 * ip6tables. */
struct famcmd {
	const char *const route_add[11], *const route_del[11];
	const char *const route_show[7];
	const char *const rule_add[11], *const rule_del[11];
	const char *const rule_show[7];
	const char *const save[3][4];	/* mangle, nat, raw */
	const char *const restore[5];
	const char *prefix;	/* in what is amiss: "" for IPv4, as ever */
};
static const struct famcmd fams[NFAM] = {
	{
	    { "ip", "-4", "route", "add", "local", "0.0.0.0/0", "dev", "lo",
	      "table", TABLE, NULL },
	    { "ip", "-4", "route", "del", "local", "0.0.0.0/0", "dev", "lo",
	      "table", TABLE, NULL },
	    { "ip", "-4", "route", "show", "table", TABLE, NULL },
	    { "ip", "-4", "rule", "add", "fwmark", cmark, "pref",
	      ZT_STR(ZT_RULE_PREF), "lookup", TABLE, NULL },
	    { "ip", "-4", "rule", "del", "fwmark", cmark, "pref",
	      ZT_STR(ZT_RULE_PREF), "lookup", TABLE, NULL },
	    { "ip", "-4", "rule", "show", "pref", ZT_STR(ZT_RULE_PREF), NULL },
	    { { "iptables-save", "-t", "mangle", NULL },
	      { "iptables-save", "-t", "nat", NULL },
	      { "iptables-save", "-t", "raw", NULL } },
	    { "iptables-restore", "--noflush", "--wait", "5", NULL },
	    "",
	},
	{
	    { "ip", "-6", "route", "add", "local", "::/0", "dev", "lo",
	      "table", TABLE, NULL },
	    { "ip", "-6", "route", "del", "local", "::/0", "dev", "lo",
	      "table", TABLE, NULL },
	    { "ip", "-6", "route", "show", "table", TABLE, NULL },
	    { "ip", "-6", "rule", "add", "fwmark", cmark, "pref",
	      ZT_STR(ZT_RULE_PREF), "lookup", TABLE, NULL },
	    { "ip", "-6", "rule", "del", "fwmark", cmark, "pref",
	      ZT_STR(ZT_RULE_PREF), "lookup", TABLE, NULL },
	    { "ip", "-6", "rule", "show", "pref", ZT_STR(ZT_RULE_PREF), NULL },
	    { { "ip6tables-save", "-t", "mangle", NULL },
	      { "ip6tables-save", "-t", "nat", NULL },
	      { "ip6tables-save", "-t", "raw", NULL } },
	    { "ip6tables-restore", "--noflush", "--wait", "5", NULL },
	    "IPv6 ",
	},
};
static const char *const table_names[3] = { "mangle", "nat", "raw" };
static const char *const nft_apply[] = { "nft", "-f", "-", NULL };
static const char *const nft_list_tables[] = { "nft", "list", "tables",
    NULL };

/*
 * Run argv inside the namespace nsfd with input on stdin; its stdout and
 * stderr, all of it, NUL-terminated, in out (emptied first; the caller
 * frees it).  Returns its exit status, or -1 with errno set if it could
 * not be run.  The child unblocks the signals the event loop blocked,
 * enters the pod and execs; the parent never moves.
 */
static int
run_in(int nsfd, const char *const argv[], const char *input,
    struct strbuf *out)
{
	int	in[2], res[2], status, err;
	ssize_t	n;
	pid_t	pid;
	char	buf[4096];

	out->len = 0;
	strbuf_add(out, "", 0);
	if (pipe2(in, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(res, O_CLOEXEC) == -1) {
		err = errno;
		close(in[0]);
		close(in[1]);
		errno = err;
		return -1;
	}
	if ((pid = fork()) == -1) {
		err = errno;
		close(in[0]);
		close(in[1]);
		close(res[0]);
		close(res[1]);
		errno = err;
		return -1;
	}
	if (pid == 0) {
		ev_signal_restore_mask();
		if (netns_enter(nsfd) == -1 ||
		    dup2(in[0], STDIN_FILENO) == -1 ||
		    dup2(res[1], STDOUT_FILENO) == -1 ||
		    dup2(res[1], STDERR_FILENO) == -1)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		/* The parent tells missing from failed by this status. */
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(in[0]);
	close(res[1]);
	if (input != NULL) {
		size_t off = 0, total = strlen(input);

		while (off < total) {
			n = write(in[1], input + off, total - off);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1)
				break;	/* it will say why on stderr */
			off += (size_t)n;
		}
	}
	close(in[1]);
	/* Read to the end, all of it: a pod with its own firewall has
	 * thousands of lines, and ours may come after them. */
	for (;;) {
		n = read(res[0], buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		strbuf_add(out, buf, (size_t)n);
	}
	close(res[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (out->failed) {
		errno = ENOMEM;
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The first line of a command's output, for an error message. */
static const char *
first_line(const struct strbuf *out)
{
	char *nl;

	if (out->buf == NULL || out->buf[0] == '\0')
		return "no output";
	if ((nl = strchr(out->buf, '\n')) != NULL)
		*nl = '\0';
	return out->buf;
}

static int
fail_cmd(const char *const argv[], int rc, const struct strbuf *out,
    char *err, size_t errlen)
{
	if (rc == -1)
		snprintf(err, errlen, "%s: %s", argv[0], strerror(errno));
	else if (rc == 127)
		snprintf(err, errlen, "%s: not found (apt-get install %s)",
		    argv[0], strstr(argv[0], "tables") != NULL ? "iptables" :
		    strcmp(argv[0], "nft") == 0 ? "nftables" : "iproute2");
	else if (rc == 126)
		snprintf(err, errlen, "%s: cannot run it in the pod's netns",
		    argv[0]);
	else if (strcmp(argv[0], "ip") == 0)	/* "ip -6 route: ..." */
		snprintf(err, errlen, "%s %s %s: %s", argv[0], argv[1],
		    argv[2], first_line(out));
	else
		snprintf(err, errlen, "%s %s: %s", argv[0], argv[1],
		    first_line(out));
	return -1;
}

/* What of ours one table (mangle, nat or raw) holds now. */
struct table {
	int	chains;		/* ISTIO_PRERT and ISTIO_OUTPUT declared */
	int	jump_pre;	/* PREROUTING -> ISTIO_PRERT, how often */
	int	jump_out;	/* OUTPUT -> ISTIO_OUTPUT, how often */
	int	exact;		/* our chains hold the golden rules, no more */
};

/* What of ours is in the pod now. */
struct state {
	int		v6;		/* IPv6 on the pod's lo: both families */
	struct table	t[NFAM][3];	/* mangle, nat, raw of each family */
	int		route[NFAM], rule[NFAM];
	int		nft[NFT_NTABLES];	/* our nft tables present */
	int		nft_any;
	char		nft_why[REDIRECT_WHY_MAX];	/* "": all as installed */
};

/*
 * Whether the pod's lo has IPv6, as istio-cni asks before it adds the
 * IPv6 route: /proc/sys/net is the reader's namespace's, so a child
 * enters the pod and reads it (the agent itself never leaves home).
 * 1 yes, 0 no (or no IPv6 in this kernel), -1 with errno set.
 */
static int
pod_ipv6(int nsfd)
{
	char	c = '1';
	int	fd, status;
	pid_t	pid;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if (netns_enter(nsfd) == -1)
			_exit(2);
		if ((fd = open("/proc/sys/net/ipv6/conf/lo/disable_ipv6",
		    O_RDONLY | O_CLOEXEC)) == -1)
			_exit(1);
		_exit(read(fd, &c, 1) == 1 && c == '0' ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 2) {
		errno = EPERM;
		return -1;
	}
	return WEXITSTATUS(status) == 0;
}

/* The golden rules of one chain of ours ("-A ISTIO_PRERT ") in table name
 * ("mangle", "nat") of text, in order, one per line. */
static void
golden(const char *text, const char *name, const char *chain,
    struct strbuf *want)
{
	const char	*line, *end;
	size_t		 len = strlen(name);
	int		 in = 0;

	for (line = text; *line != '\0'; line = end + 1) {
		end = strchr(line, '\n');
		if (line[0] == '*')
			in = (size_t)(end - line) == len + 1 &&
			    strncmp(line + 1, name, len) == 0;
		else if (in && strncmp(line, chain, strlen(chain)) == 0)
			strbuf_add(want, line, (size_t)(end - line) + 1);
	}
}

/*
 * One table's iptables-save output, read whole, compared with what we
 * install in it (text): each chain of ours holds its golden rules in
 * order and no more.  Chain by chain: iptables-save lists chains in an
 * order of its own (the nf_tables backend sorts them by name).
 */
static int
parse_table(const char *text, const char *name, char *save, struct table *t)
{
	static const char *const chains[2] = { "-A ISTIO_PRERT ",
	    "-A ISTIO_OUTPUT " };
	struct strbuf	 want[2], have[2];
	char		*line, *sp;
	int		 i, failed = 0;

	memset(t, 0, sizeof(*t));
	memset(want, 0, sizeof(want));
	memset(have, 0, sizeof(have));
	for (i = 0; i < 2; i++) {
		strbuf_add(&want[i], "", 0);	/* never NULL */
		strbuf_add(&have[i], "", 0);
		golden(text, name, chains[i], &want[i]);
	}
	for (line = strtok_r(save, "\n", &sp); line != NULL;
	    line = strtok_r(NULL, "\n", &sp)) {
		if (strncmp(line, ":ISTIO_PRERT ", 13) == 0 ||
		    strncmp(line, ":ISTIO_OUTPUT ", 14) == 0)
			t->chains++;
		else if (strcmp(line, "-A PREROUTING -j ISTIO_PRERT") == 0)
			t->jump_pre++;
		else if (strcmp(line, "-A OUTPUT -j ISTIO_OUTPUT") == 0)
			t->jump_out++;
		else
			for (i = 0; i < 2; i++)
				if (strncmp(line, chains[i],
				    strlen(chains[i])) == 0) {
					strbuf_add(&have[i], line, strlen(line));
					strbuf_add(&have[i], "\n", 1);
				}
	}
	t->exact = 1;
	for (i = 0; i < 2; i++) {
		failed |= want[i].failed | have[i].failed;
		t->exact &= have[i].len == want[i].len &&
		    memcmp(have[i].buf, want[i].buf, want[i].len) == 0;
		strbuf_free(&want[i]);
		strbuf_free(&have[i]);
	}
	if (failed) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static int
table_any(const struct table *t)
{
	return t->chains > 0 || t->jump_pre > 0 || t->jump_out > 0;
}

/* Table i (mangle, nat, raw) of family fam. */
static int
look_table(int nsfd, int fam, int i, struct table *t, struct strbuf *out,
    char *err, size_t errlen)
{
	const char *const *save = fams[fam].save[i];
	int rc;

	/* The nftables backend needs no iptables: without the tool, no
	 * iptables rules of ours can be there. */
	if ((rc = run_in(nsfd, save, NULL, out)) == 127 &&
	    backend == REDIRECT_NFTABLES) {
		memset(t, 0, sizeof(*t));
		return 0;
	}
	if (rc != 0)
		return fail_cmd(save, rc, out, err, errlen);
	if (parse_table(ipt_text(fam), table_names[i], out->buf, t) == -1) {
		snprintf(err, errlen, "%s: %s", save[0], strerror(errno));
		return -1;
	}
	return 0;
}

/* How many rules our text puts in table's chain. */
static int
nft_expected(const char *text, const char *table, const char *chain)
{
	char		 prefix[128];
	const char	*p;
	int		 n = 0;

	snprintf(prefix, sizeof(prefix), "add rule inet %s %s ", table, chain);
	for (p = text; (p = strstr(p, prefix)) != NULL; p++)
		n++;
	return n;
}

/*
 * One of our nft tables as nft lists it: each chain's rules counted
 * against what we install, text (nft prints rules in a form of its own,
 * so the count, not the text, is compared).  "" in why if it is whole.
 */
static void
nft_table_check(const char *text, const char *table, char *list, char *why,
    size_t size)
{
	static const char *const chains[4] = { "prerouting", "output",
	    "istio-prerouting", "istio-output" };
	int		 count[4] = { 0, 0, 0, 0 }, seen[4] = { 0, 0, 0, 0 };
	int		 cur = -1, i, want;
	char		*line, *sp, *t;

	for (line = strtok_r(list, "\n", &sp); line != NULL;
	    line = strtok_r(NULL, "\n", &sp)) {
		for (t = line; *t == ' ' || *t == '\t'; t++)
			;
		if (strncmp(t, "chain ", 6) == 0) {
			cur = -1;
			for (i = 0; i < 4; i++)
				if (strncmp(t + 6, chains[i], strlen(chains[i])) == 0 &&
				    t[6 + strlen(chains[i])] == ' ')
					cur = i;
			if (cur != -1)
				seen[cur] = 1;
			continue;
		}
		if (cur == -1 || *t == '\0' || *t == '}' ||
		    strncmp(t, "type ", 5) == 0)
			continue;
		count[cur]++;
	}
	for (i = 0; i < 4; i++) {
		if (!seen[i]) {
			snprintf(why, size, "nft: %s: chain %s missing", table,
			    chains[i]);
			return;
		}
		want = nft_expected(text, table, chains[i]);
		if (count[i] != want) {
			snprintf(why, size, "nft: %s %s: %d rules, %d installed",
			    table, chains[i], count[i], want);
			return;
		}
	}
	why[0] = '\0';
}

/* Our nft tables in the pod, each checked.  No nft on this machine: no
 * tables of ours can have been put there by us. */
static int
look_nft(int nsfd, struct state *st, struct strbuf *out, char *err,
    size_t errlen)
{
	const char	*argv[] = { "nft", "list", "table", "inet", NULL, NULL };
	int		 rc, i;

	if ((rc = run_in(nsfd, nft_list_tables, NULL, out)) == 127)
		return 0;
	if (rc != 0)
		return fail_cmd(nft_list_tables, rc, out, err, errlen);
	for (i = 0; i < NFT_NTABLES; i++) {
		char line[64];

		snprintf(line, sizeof(line), "table inet %s\n", nft_tables[i]);
		st->nft[i] = strstr(out->buf, line) != NULL;
		st->nft_any |= st->nft[i];
	}
	if (!st->nft_any)
		return 0;
	for (i = 0; i < NFT_NTABLES; i++) {
		if (!st->nft[i]) {
			if (st->nft_why[0] == '\0')
				snprintf(st->nft_why, sizeof(st->nft_why),
				    "nft: table inet %s missing", nft_tables[i]);
			continue;
		}
		argv[4] = nft_tables[i];
		if ((rc = run_in(nsfd, argv, NULL, out)) != 0)
			return fail_cmd(argv, rc, out, err, errlen);
		if (st->nft_why[0] == '\0')
			nft_table_check(nft_text(st->v6), nft_tables[i],
			    out->buf, st->nft_why, sizeof(st->nft_why));
	}
	return 0;
}

static int
iptables_any(const struct state *st)
{
	int f, i;

	for (f = 0; f < NFAM; f++)
		for (i = 0; i < 3; i++)
			if (table_any(&st->t[f][i]))
				return 1;
	return 0;
}

/* The route and the rule of family fam. */
static int
look_routing(int nsfd, int fam, struct state *st, struct strbuf *out,
    char *err, size_t errlen)
{
	const struct famcmd *c = &fams[fam];
	int rc;

	if ((rc = run_in(nsfd, c->route_show, NULL, out)) == -1 ||
	    rc == 127 || rc == 126)
		return fail_cmd(c->route_show, rc, out, err, errlen);
	/* "Error: ... FIB table does not exist" is no route at all. */
	st->route[fam] = rc == 0 &&
	    strstr(out->buf, "local default dev lo") != NULL;
	if ((rc = run_in(nsfd, c->rule_show, NULL, out)) != 0)
		return fail_cmd(c->rule_show, rc, out, err, errlen);
	st->rule[fam] = strstr(out->buf, "fwmark " CMARK " lookup " TABLE) !=
	    NULL;
	return 0;
}

/* Each table on its own, whole: a pod's own rules can be any size.  The
 * IPv6 ones only where the pod has IPv6. */
static int
look(int nsfd, struct state *st, char *err, size_t errlen)
{
	struct strbuf	out = { NULL, 0, 0, 0 };
	int		rc = -1, f, i;

	memset(st, 0, sizeof(*st));
	if ((st->v6 = pod_ipv6(nsfd)) == -1) {
		snprintf(err, errlen, "cannot read the pod's IPv6 setting: %s",
		    strerror(errno));
		return -1;
	}
	for (f = 0; f < 1 + st->v6; f++)
		for (i = 0; i < 3; i++)
			if (look_table(nsfd, f, i, &st->t[f][i], &out, err,
			    errlen) == -1)
				goto done;
	if (look_nft(nsfd, st, &out, err, errlen) == -1)
		goto done;
	for (f = 0; f < 1 + st->v6; f++)
		if (look_routing(nsfd, f, st, &out, err, errlen) == -1)
			goto done;
	rc = 0;
done:
	strbuf_free(&out);
	return rc;
}

/* What is amiss in one table, in a few words; NULL if nothing is. */
static const char *
table_amiss(const struct table *t, char *buf, size_t size, const char *fam,
    const char *name)
{
	if (t->chains == 0 && t->jump_pre == 0 && t->jump_out == 0)
		snprintf(buf, size, "%s%s: no ISTIO_PRERT, ISTIO_OUTPUT", fam,
		    name);
	else if (t->chains != 2)
		snprintf(buf, size, "%s%s: a chain of ours missing", fam, name);
	else if (t->jump_pre != 1)
		snprintf(buf, size, "%s%s: PREROUTING -j ISTIO_PRERT %s", fam,
		    name, t->jump_pre == 0 ? "missing" : "more than once");
	else if (t->jump_out != 1)
		snprintf(buf, size, "%s%s: OUTPUT -j ISTIO_OUTPUT %s", fam,
		    name, t->jump_out == 0 ? "missing" : "more than once");
	else if (!t->exact)
		snprintf(buf, size, "%s%s: our chains' rules altered", fam,
		    name);
	else
		return NULL;
	return buf;
}

/* The iptables rules of every family the pod has: the first thing amiss,
 * NULL if none.  raw: ours with DNS capture, else nothing of ours. */
static const char *
ipt_amiss(const struct state *st, char *buf, size_t size)
{
	int f, i;

	for (f = 0; f < 1 + st->v6; f++)
		for (i = 0; i < 3; i++) {
			if (i == 2 && !dns_capture) {
				if (!table_any(&st->t[f][i]))
					continue;
				snprintf(buf, size, "%sraw: chains of ours "
				    "without DNS capture", fams[f].prefix);
				return buf;
			}
			if (table_amiss(&st->t[f][i], buf, size, fams[f].prefix,
			    table_names[i]) != NULL)
				return buf;
		}
	return NULL;
}

/* The route and the rule of every family the pod has. */
static const char *
routing_amiss(const struct state *st, char *buf, size_t size)
{
	int f;

	for (f = 0; f < 1 + st->v6; f++) {
		if (!st->rule[f]) {
			snprintf(buf, size, "%sno rule fwmark %s lookup %s",
			    fams[f].prefix, CMARK, TABLE);
			return buf;
		}
		if (!st->route[f]) {
			snprintf(buf, size, "%sno route local default dev lo "
			    "in table %s", fams[f].prefix, TABLE);
			return buf;
		}
	}
	return NULL;
}

int
redirect_check(int nsfd, struct redirect_check *c, char *err, size_t errlen)
{
	struct state	st;
	int		f;

	memset(c, 0, sizeof(*c));
	if (look(nsfd, &st, err, errlen) == -1)
		return -1;
	c->ipv6 = st.v6;
	c->any = iptables_any(&st) || st.nft_any;
	for (f = 0; f < NFAM; f++)
		c->any |= st.route[f] || st.rule[f];
	c->backend = st.nft_any ? REDIRECT_NFTABLES : REDIRECT_IPTABLES;
	if (st.nft_any && iptables_any(&st)) {
		c->rules = 0;
		snprintf(c->rules_why, sizeof(c->rules_why), "both iptables "
		    "and nftables rules of ours");
	} else if (st.nft_any) {
		c->rules = st.nft_why[0] == '\0';
		snprintf(c->rules_why, sizeof(c->rules_why), "%s", st.nft_why);
	} else
		c->rules = ipt_amiss(&st, c->rules_why,
		    sizeof(c->rules_why)) == NULL;
	c->routing = routing_amiss(&st, c->routing_why,
	    sizeof(c->routing_why)) == NULL;
	return 0;
}

/* The commands that take one table's part of ours away: every copy of
 * each jump, then our chains. */
static void
remove_table(struct strbuf *script, const char *name, const struct table *t)
{
	int i;

	if (!table_any(t))
		return;
	strbuf_printf(script, "*%s\n", name);
	for (i = 0; i < t->jump_pre; i++)
		strbuf_printf(script, "-D PREROUTING -j ISTIO_PRERT\n");
	for (i = 0; i < t->jump_out; i++)
		strbuf_printf(script, "-D OUTPUT -j ISTIO_OUTPUT\n");
	if (t->chains > 0)
		strbuf_printf(script, "-F ISTIO_PRERT\n-F ISTIO_OUTPUT\n"
		    "-X ISTIO_PRERT\n-X ISTIO_OUTPUT\n");
	strbuf_printf(script, "COMMIT\n");
}

/* Take away what of ours st says is there, and nothing else; errors are
 * reported, and the rest is still tried. */
static int
remove_present(int nsfd, const struct state *st, char *err, size_t errlen)
{
	struct strbuf	script = { NULL, 0, 0, 0 }, out = { NULL, 0, 0, 0 };
	const struct famcmd *c;
	int		rc, failed = 0, i, f;

	for (f = 0; f < NFAM; f++) {
		c = &fams[f];
		script.len = 0;
		for (i = 0; i < 3; i++)
			remove_table(&script, table_names[i], &st->t[f][i]);
		if (script.failed) {
			snprintf(err, errlen, "out of memory");
			failed = -1;
		} else if (script.len > 0 && (rc = run_in(nsfd, c->restore,
		    script.buf, &out)) != 0)
			failed = fail_cmd(c->restore, rc, &out, err, errlen);
	}
	/* Ours in nft: the tables that are there, in one transaction. */
	script.len = 0;
	for (i = 0; i < NFT_NTABLES; i++)
		if (st->nft[i])
			strbuf_printf(&script, "delete table inet %s\n",
			    nft_tables[i]);
	if (script.failed) {
		snprintf(err, errlen, "out of memory");
		failed = -1;
	} else if (script.len > 0 && (rc = run_in(nsfd, nft_apply,
	    script.buf, &out)) != 0)
		failed = fail_cmd(nft_apply, rc, &out, err, errlen);
	for (f = 0; f < NFAM; f++) {
		c = &fams[f];
		if (st->rule[f] && (rc = run_in(nsfd, c->rule_del, NULL,
		    &out)) != 0)
			failed = fail_cmd(c->rule_del, rc, &out, err, errlen);
		if (st->route[f] && (rc = run_in(nsfd, c->route_del, NULL,
		    &out)) != 0)
			failed = fail_cmd(c->route_del, rc, &out, err, errlen);
	}
	strbuf_free(&script);
	strbuf_free(&out);
	return failed;
}

int
redirect_remove(int nsfd, char *err, size_t errlen)
{
	struct state st;

	if (look(nsfd, &st, err, errlen) == -1)
		return -1;
	return remove_present(nsfd, &st, err, errlen);
}

/* All there already, exactly as install would put it. */
static int
whole(const struct state *st)
{
	char why[REDIRECT_WHY_MAX];

	if (routing_amiss(st, why, sizeof(why)) != NULL)
		return 0;
	if (backend == REDIRECT_NFTABLES)
		return st->nft_any && st->nft_why[0] == '\0';
	return ipt_amiss(st, why, sizeof(why)) == NULL;
}

int
redirect_install(int nsfd, char *err, size_t errlen)
{
	struct strbuf	out = { NULL, 0, 0, 0 };
	struct state	st;
	char		ignored[256];
	int		rc, f;

	if (look(nsfd, &st, err, errlen) == -1)
		return -1;
	/* One backend per pod: the other's rules are reported, never
	 * written over (two sets would each redirect the same packets). */
	if (backend == REDIRECT_NFTABLES && iptables_any(&st)) {
		snprintf(err, errlen, "the pod has iptables rules of ours: not "
		    "mixing backends (--redirect-backend iptables, or remove "
		    "them first with --del --redirect)");
		return -1;
	}
	if (backend == REDIRECT_IPTABLES && st.nft_any) {
		snprintf(err, errlen, "the pod has nftables rules of ours: not "
		    "mixing backends (--redirect-backend nftables, or remove "
		    "them first with --del --redirect)");
		return -1;
	}
	/* All there already, exactly: nothing to do.  Part of it, or
	 * something altered: start clean. */
	if (whole(&st))
		return st.v6;
	if (remove_present(nsfd, &st, err, errlen) == -1)
		return -1;
	/* istio-cni's order: the route, the rule (IPv4, then IPv6 where the
	 * pod has it), then the rules. */
	for (f = 0; f < 1 + st.v6; f++) {
		if ((rc = run_in(nsfd, fams[f].route_add, NULL, &out)) != 0) {
			fail_cmd(fams[f].route_add, rc, &out, err, errlen);
			goto undo;
		}
		if ((rc = run_in(nsfd, fams[f].rule_add, NULL, &out)) != 0) {
			fail_cmd(fams[f].rule_add, rc, &out, err, errlen);
			goto undo;
		}
	}
	if (backend == REDIRECT_NFTABLES &&
	    (rc = run_in(nsfd, nft_apply, nft_text(st.v6), &out)) != 0) {
		fail_cmd(nft_apply, rc, &out, err, errlen);
		goto undo;
	}
	for (f = 0; backend == REDIRECT_IPTABLES && f < 1 + st.v6; f++)
		if ((rc = run_in(nsfd, fams[f].restore, ipt_text(f),
		    &out)) != 0) {
			fail_cmd(fams[f].restore, rc, &out, err, errlen);
			goto undo;
		}
	strbuf_free(&out);
	return st.v6;
undo:
	strbuf_free(&out);
	/* Nothing half-installed: take back what went in. */
	if (look(nsfd, &st, ignored, sizeof(ignored)) == 0)
		(void)remove_present(nsfd, &st, ignored, sizeof(ignored));
	return -1;
}

/* --- the backend ---------------------------------------------------------- */

int
redirect_backend_parse(const char *s, enum redirect_backend *b)
{
	if (strcmp(s, "iptables") == 0)
		*b = REDIRECT_IPTABLES;
	else if (strcmp(s, "nftables") == 0)
		*b = REDIRECT_NFTABLES;
	else if (strcmp(s, "auto") == 0)
		*b = REDIRECT_AUTO;
	else
		return -1;
	return 0;
}

const char *
redirect_backend_name(enum redirect_backend b)
{
	return b == REDIRECT_NFTABLES ? "nftables" : b == REDIRECT_AUTO ?
	    "auto" : "iptables";
}

/*
 * auto, as istio-cni decides, once per node: iptables rules on the host
 * (our own namespace: only read) keep iptables, whoever put them there;
 * otherwise nftables if the host has nft, else iptables.
 */
static enum redirect_backend
decide(const char **why)
{
	static const char *const save[] = { "iptables-save", NULL };
	static const char *const nft_version[] = { "nft", "--version", NULL };
	struct strbuf	 out = { NULL, 0, 0, 0 };
	enum redirect_backend b = REDIRECT_IPTABLES;
	int		 self, rc;

	if ((self = netns_open_self()) == -1) {
		*why = "cannot look at the host's rules";
		return b;
	}
	if ((rc = run_in(self, save, NULL, &out)) == 0 &&
	    (strncmp(out.buf, "-A ", 3) == 0 || strstr(out.buf, "\n-A ") != NULL))
		*why = "iptables rules on the host";
	else if (run_in(self, nft_version, NULL, &out) == 0) {
		b = REDIRECT_NFTABLES;
		*why = rc == 127 ? "no iptables on the host; nft there" :
		    "no iptables rules on the host; nft there";
	} else
		*why = "no nft on the host";
	close(self);
	strbuf_free(&out);
	return b;
}

enum redirect_backend
redirect_set_backend(enum redirect_backend b, const char **why)
{
	*why = "given";
	backend = b == REDIRECT_AUTO ? decide(why) : b;
	return backend;
}