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
 * The rules, as istio-cni's default.golden has them (no DNS capture),
 * in iptables-save's own spelling (what install compares with), built
 * from ambient.h's numbers.
 */
#define MARK	ZT_STR(ZT_MARK) "/" ZT_STR(ZT_MARK_MASK)
#define CMARK	ZT_STR(ZT_CONNMARK) "/" ZT_STR(ZT_MARK_MASK)
static const char rules[] =
    "*mangle\n"
    ":ISTIO_PRERT - [0:0]\n"
    ":ISTIO_OUTPUT - [0:0]\n"
    "-A PREROUTING -j ISTIO_PRERT\n"
    "-A OUTPUT -j ISTIO_OUTPUT\n"
    "-A ISTIO_PRERT -m mark --mark " MARK " -j CONNMARK --set-xmark " CMARK "\n"
    "-A ISTIO_OUTPUT -m connmark --mark " CMARK " -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff\n"
    "COMMIT\n"
    "*nat\n"
    ":ISTIO_PRERT - [0:0]\n"
    ":ISTIO_OUTPUT - [0:0]\n"
    "-A OUTPUT -j ISTIO_OUTPUT\n"
    "-A PREROUTING -j ISTIO_PRERT\n"
    "-A ISTIO_PRERT -s " ZT_PROBE_SNAT "/32 -p tcp -m tcp -j ACCEPT\n"
    "-A ISTIO_OUTPUT -d " ZT_PROBE_SNAT "/32 -p tcp -m tcp -j ACCEPT\n"
    "-A ISTIO_PRERT ! -d 127.0.0.1/32 -p tcp -m tcp ! --dport " ZT_STR(ZT_PORT_HBONE) " -m mark ! --mark " MARK " -j REDIRECT --to-ports " ZT_STR(ZT_PORT_INBOUND) "\n"
    "-A ISTIO_OUTPUT -p tcp -m mark --mark " CMARK " -j ACCEPT\n"
    "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -j ACCEPT\n"
    "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark " MARK " -j REDIRECT --to-ports " ZT_STR(ZT_PORT_OUTBOUND) "\n"
    "COMMIT\n";

#define TABLE	ZT_STR(ZT_ROUTE_TABLE)
static const char cmark[] = CMARK;	/* one argument, not a concatenation */
static const char *const route_add[] = { "ip", "route", "add", "local",
    "0.0.0.0/0", "dev", "lo", "table", TABLE, NULL };
static const char *const route_del[] = { "ip", "route", "del", "local",
    "0.0.0.0/0", "dev", "lo", "table", TABLE, NULL };
static const char *const route_show[] = { "ip", "route", "show", "table",
    TABLE, NULL };
static const char *const rule_add[] = { "ip", "rule", "add", "fwmark",
    cmark, "pref", ZT_STR(ZT_RULE_PREF), "lookup", TABLE, NULL };
static const char *const rule_del[] = { "ip", "rule", "del", "fwmark",
    cmark, "pref", ZT_STR(ZT_RULE_PREF), "lookup", TABLE, NULL };
static const char *const rule_show[] = { "ip", "rule", "show", "pref",
    ZT_STR(ZT_RULE_PREF), NULL };
static const char *const save_mangle[] = { "iptables-save", "-t", "mangle",
    NULL };
static const char *const save_nat[] = { "iptables-save", "-t", "nat", NULL };
static const char *const ipt_restore[] = { "iptables-restore", "--noflush",
    "--wait", "5", NULL };

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
		    argv[0], strncmp(argv[0], "ipt", 3) == 0 ? "iptables" :
		    "iproute2");
	else if (rc == 126)
		snprintf(err, errlen, "%s: cannot run it in the pod's netns",
		    argv[0]);
	else
		snprintf(err, errlen, "%s %s: %s", argv[0], argv[1],
		    first_line(out));
	return -1;
}

/* What of ours one table (mangle or nat) holds now. */
struct table {
	int	chains;		/* ISTIO_PRERT and ISTIO_OUTPUT declared */
	int	jump_pre;	/* PREROUTING -> ISTIO_PRERT, how often */
	int	jump_out;	/* OUTPUT -> ISTIO_OUTPUT, how often */
	int	exact;		/* our chains hold the golden rules, no more */
};

/* What of ours is in the pod now. */
struct state {
	struct table	mangle, nat;
	int		route, rule;
};

/* The golden rules of one chain of ours ("-A ISTIO_PRERT ") in table name
 * ("mangle", "nat"), in order, one per line. */
static void
golden(const char *name, const char *chain, struct strbuf *want)
{
	const char	*line, *end;
	size_t		 len = strlen(name);
	int		 in = 0;

	for (line = rules; *line != '\0'; line = end + 1) {
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
 * install in it: each chain of ours holds its golden rules in order and
 * no more.  Chain by chain: iptables-save lists chains in an order of
 * its own (the nf_tables backend sorts them by name).
 */
static int
parse_table(const char *name, char *save, struct table *t)
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
		golden(name, chains[i], &want[i]);
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
table_whole(const struct table *t)
{
	return t->chains == 2 && t->jump_pre == 1 && t->jump_out == 1 &&
	    t->exact;
}

static int
table_any(const struct table *t)
{
	return t->chains > 0 || t->jump_pre > 0 || t->jump_out > 0;
}

static int
look_table(int nsfd, const char *const save[], struct table *t,
    struct strbuf *out, char *err, size_t errlen)
{
	int rc;

	if ((rc = run_in(nsfd, save, NULL, out)) != 0)
		return fail_cmd(save, rc, out, err, errlen);
	if (parse_table(save[2], out->buf, t) == -1) {
		snprintf(err, errlen, "%s: %s", save[0], strerror(errno));
		return -1;
	}
	return 0;
}

/* Each table on its own, whole: a pod's own rules can be any size. */
static int
look(int nsfd, struct state *st, char *err, size_t errlen)
{
	struct strbuf	out = { NULL, 0, 0, 0 };
	int		rc = -1;

	memset(st, 0, sizeof(*st));
	if (look_table(nsfd, save_mangle, &st->mangle, &out, err,
	    errlen) == -1 ||
	    look_table(nsfd, save_nat, &st->nat, &out, err, errlen) == -1)
		goto done;
	if ((rc = run_in(nsfd, route_show, NULL, &out)) == -1 || rc == 127 ||
	    rc == 126) {
		rc = fail_cmd(route_show, rc, &out, err, errlen);
		goto done;
	}
	/* "Error: ... FIB table does not exist" is no route at all. */
	st->route = rc == 0 && strstr(out.buf, "local default dev lo") != NULL;
	if ((rc = run_in(nsfd, rule_show, NULL, &out)) != 0) {
		rc = fail_cmd(rule_show, rc, &out, err, errlen);
		goto done;
	}
	st->rule = strstr(out.buf, "fwmark " CMARK " lookup " TABLE) != NULL;
done:
	strbuf_free(&out);
	return rc;
}

/* What is amiss in one table, in a few words; NULL if nothing is. */
static const char *
table_amiss(const struct table *t, char *buf, size_t size, const char *name)
{
	if (t->chains == 0 && t->jump_pre == 0 && t->jump_out == 0)
		snprintf(buf, size, "%s: no ISTIO_PRERT, ISTIO_OUTPUT", name);
	else if (t->chains != 2)
		snprintf(buf, size, "%s: a chain of ours missing", name);
	else if (t->jump_pre != 1)
		snprintf(buf, size, "%s: PREROUTING -j ISTIO_PRERT %s", name,
		    t->jump_pre == 0 ? "missing" : "more than once");
	else if (t->jump_out != 1)
		snprintf(buf, size, "%s: OUTPUT -j ISTIO_OUTPUT %s", name,
		    t->jump_out == 0 ? "missing" : "more than once");
	else if (!t->exact)
		snprintf(buf, size, "%s: our chains' rules altered", name);
	else
		return NULL;
	return buf;
}

int
redirect_check(int nsfd, struct redirect_check *c, char *err, size_t errlen)
{
	struct state st;

	memset(c, 0, sizeof(*c));
	if (look(nsfd, &st, err, errlen) == -1)
		return -1;
	c->any = table_any(&st.mangle) || table_any(&st.nat) || st.route ||
	    st.rule;
	c->rules = table_amiss(&st.mangle, c->rules_why, sizeof(c->rules_why),
	    "mangle") == NULL && table_amiss(&st.nat, c->rules_why,
	    sizeof(c->rules_why), "nat") == NULL;
	c->routing = st.rule && st.route;
	if (!st.rule)
		snprintf(c->routing_why, sizeof(c->routing_why),
		    "no rule fwmark %s lookup %s", CMARK, TABLE);
	else if (!st.route)
		snprintf(c->routing_why, sizeof(c->routing_why),
		    "no route local default dev lo in table %s", TABLE);
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
	int		rc, failed = 0;

	remove_table(&script, "mangle", &st->mangle);
	remove_table(&script, "nat", &st->nat);
	if (script.failed) {
		snprintf(err, errlen, "out of memory");
		failed = -1;
	} else if (script.len > 0 && (rc = run_in(nsfd, ipt_restore,
	    script.buf, &out)) != 0)
		failed = fail_cmd(ipt_restore, rc, &out, err, errlen);
	if (st->rule && (rc = run_in(nsfd, rule_del, NULL, &out)) != 0)
		failed = fail_cmd(rule_del, rc, &out, err, errlen);
	if (st->route && (rc = run_in(nsfd, route_del, NULL, &out)) != 0)
		failed = fail_cmd(route_del, rc, &out, err, errlen);
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

int
redirect_install(int nsfd, char *err, size_t errlen)
{
	struct strbuf	out = { NULL, 0, 0, 0 };
	struct state	st;
	char		ignored[256];
	int		rc;

	if (look(nsfd, &st, err, errlen) == -1)
		return -1;
	/* All there already, exactly: nothing to do.  Part of it, or
	 * something altered: start clean. */
	if (table_whole(&st.mangle) && table_whole(&st.nat) && st.route &&
	    st.rule)
		return 0;
	if (remove_present(nsfd, &st, err, errlen) == -1)
		return -1;
	/* istio-cni's order: the route, the rule, then the rules. */
	if ((rc = run_in(nsfd, route_add, NULL, &out)) != 0) {
		fail_cmd(route_add, rc, &out, err, errlen);
		strbuf_free(&out);
		return -1;
	}
	if ((rc = run_in(nsfd, rule_add, NULL, &out)) != 0) {
		fail_cmd(rule_add, rc, &out, err, errlen);
		goto undo;
	}
	if ((rc = run_in(nsfd, ipt_restore, rules, &out)) != 0) {
		fail_cmd(ipt_restore, rc, &out, err, errlen);
		goto undo;
	}
	strbuf_free(&out);
	return 0;
undo:
	strbuf_free(&out);
	/* Nothing half-installed: take back what went in. */
	if (look(nsfd, &st, ignored, sizeof(ignored)) == 0)
		(void)remove_present(nsfd, &st, ignored, sizeof(ignored));
	return -1;
}
