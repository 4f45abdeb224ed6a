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

#include "ev.h"
#include "netns.h"
#include "redirect.h"

#define OUT_MAX	16384	/* what we read of a command's output */

/* The rules, as istio-cni's default.golden has them (no DNS capture). */
static const char rules[] =
    "*mangle\n"
    ":ISTIO_PRERT - [0:0]\n"
    ":ISTIO_OUTPUT - [0:0]\n"
    "-A PREROUTING -j ISTIO_PRERT\n"
    "-A OUTPUT -j ISTIO_OUTPUT\n"
    "-A ISTIO_PRERT -m mark --mark 0x539/0xfff -j CONNMARK --set-xmark 0x111/0xfff\n"
    "-A ISTIO_OUTPUT -m connmark --mark 0x111/0xfff -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff\n"
    "COMMIT\n"
    "*nat\n"
    ":ISTIO_PRERT - [0:0]\n"
    ":ISTIO_OUTPUT - [0:0]\n"
    "-A OUTPUT -j ISTIO_OUTPUT\n"
    "-A PREROUTING -j ISTIO_PRERT\n"
    "-A ISTIO_PRERT -s 169.254.7.127/32 -p tcp -m tcp -j ACCEPT\n"
    "-A ISTIO_OUTPUT -d 169.254.7.127/32 -p tcp -m tcp -j ACCEPT\n"
    "-A ISTIO_PRERT ! -d 127.0.0.1/32 -p tcp -m tcp ! --dport 15008 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15006\n"
    "-A ISTIO_OUTPUT -p tcp -m mark --mark 0x111/0xfff -j ACCEPT\n"
    "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -j ACCEPT\n"
    "-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001\n"
    "COMMIT\n";

static const char *const route_add[] = { "ip", "route", "add", "local",
    "0.0.0.0/0", "dev", "lo", "table", "100", NULL };
static const char *const route_del[] = { "ip", "route", "del", "local",
    "0.0.0.0/0", "dev", "lo", "table", "100", NULL };
static const char *const route_show[] = { "ip", "route", "show", "table",
    "100", NULL };
static const char *const rule_add[] = { "ip", "rule", "add", "fwmark",
    "0x111/0xfff", "pref", "32764", "lookup", "100", NULL };
static const char *const rule_del[] = { "ip", "rule", "del", "fwmark",
    "0x111/0xfff", "pref", "32764", "lookup", "100", NULL };
static const char *const rule_show[] = { "ip", "rule", "show", "pref",
    "32764", NULL };
static const char *const ipt_save[] = { "iptables-save", NULL };
static const char *const ipt_restore[] = { "iptables-restore", "--noflush",
    "--wait", "5", NULL };

/*
 * Run argv inside the namespace nsfd with input on stdin; its stdout and
 * stderr, NUL-terminated, in out.  Returns its exit status, or -1 with
 * errno set if it could not be run.  The child unblocks the signals the
 * event loop blocked, enters the pod and execs; the parent never moves.
 */
static int
run_in(int nsfd, const char *const argv[], const char *input, char *out,
    size_t outsize)
{
	int	in[2], res[2], status, err;
	size_t	len = 0;
	ssize_t	n;
	pid_t	pid;

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
	/* Read to the end, keeping what fits: a child blocked on a full
	 * pipe would never exit. */
	for (;;) {
		char	scratch[4096];
		int	room = len + 1 < outsize;

		n = room ? read(res[0], out + len, outsize - len - 1) :
		    read(res[0], scratch, sizeof(scratch));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (room)
			len += (size_t)n;
	}
	out[len] = '\0';
	close(res[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The first line of a command's output, for an error message. */
static const char *
first_line(char *out)
{
	char *nl = strchr(out, '\n');

	if (nl != NULL)
		*nl = '\0';
	return out[0] != '\0' ? out : "no output";
}

static int
fail_cmd(const char *const argv[], int rc, char *out, char *err,
    size_t errlen)
{
	if (rc == -1)
		snprintf(err, errlen, "%s: %s", argv[0], strerror(errno));
	else if (rc == 127)
		snprintf(err, errlen, "%s: not found (apt-get install %s)",
		    argv[0], argv[0][0] == 'i' && argv[0][1] == 'p' &&
		    argv[0][2] == 't' ? "iptables" : "iproute2");
	else if (rc == 126)
		snprintf(err, errlen, "%s: cannot run it in the pod's netns",
		    argv[0]);
	else
		snprintf(err, errlen, "%s %s: %s", argv[0], argv[1],
		    first_line(out));
	return -1;
}

/* What of ours is in the pod now. */
struct state {
	int	mangle_chains, nat_chains;	/* ISTIO_PRERT + ISTIO_OUTPUT */
	int	mangle_jumps, nat_jumps;	/* PREROUTING/OUTPUT -> them */
	int	nat_rules;			/* rules in our nat chains */
	int	route, rule;
};

static void
parse_save(char *out, struct state *st)
{
	char	*line, *save, table = 0;

	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "*mangle") == 0 || strcmp(line, "*nat") == 0)
			table = line[1];
		else if (line[0] == '*')
			table = 0;
		if (table == 0)
			continue;
		if (strncmp(line, ":ISTIO_PRERT ", 13) == 0 ||
		    strncmp(line, ":ISTIO_OUTPUT ", 14) == 0)
			table == 'm' ? st->mangle_chains++ : st->nat_chains++;
		else if (strcmp(line, "-A PREROUTING -j ISTIO_PRERT") == 0 ||
		    strcmp(line, "-A OUTPUT -j ISTIO_OUTPUT") == 0)
			table == 'm' ? st->mangle_jumps++ : st->nat_jumps++;
		else if (table == 'n' && (strncmp(line, "-A ISTIO_PRERT ", 15)
		    == 0 || strncmp(line, "-A ISTIO_OUTPUT ", 16) == 0))
			st->nat_rules++;
	}
}

static int
look(int nsfd, struct state *st, char *err, size_t errlen)
{
	char	out[OUT_MAX];
	int	rc;

	memset(st, 0, sizeof(*st));
	if ((rc = run_in(nsfd, ipt_save, NULL, out, sizeof(out))) != 0)
		return fail_cmd(ipt_save, rc, out, err, errlen);
	parse_save(out, st);
	if ((rc = run_in(nsfd, route_show, NULL, out, sizeof(out))) == -1 ||
	    rc == 127 || rc == 126)
		return fail_cmd(route_show, rc, out, err, errlen);
	/* "Error: ... FIB table does not exist" is no route at all. */
	st->route = rc == 0 && strstr(out, "local default dev lo") != NULL;
	if ((rc = run_in(nsfd, rule_show, NULL, out, sizeof(out))) != 0)
		return fail_cmd(rule_show, rc, out, err, errlen);
	st->rule = strstr(out, "fwmark 0x111/0xfff lookup 100") != NULL;
	return 0;
}

/* Take away what of ours st says is there; errors are reported, and the
 * rest is still tried. */
static int
remove_present(int nsfd, const struct state *st, char *err, size_t errlen)
{
	char	script[1024], out[OUT_MAX];
	size_t	len = 0;
	int	rc, failed = 0;

#define ADD(...) (len += (size_t)snprintf(script + len, sizeof(script) - len, \
	__VA_ARGS__))
	if (st->mangle_chains > 0 || st->mangle_jumps > 0) {
		ADD("*mangle\n");
		if (st->mangle_jumps > 0)
			ADD("-D PREROUTING -j ISTIO_PRERT\n"
			    "-D OUTPUT -j ISTIO_OUTPUT\n");
		if (st->mangle_chains > 0)
			ADD("-F ISTIO_PRERT\n-F ISTIO_OUTPUT\n"
			    "-X ISTIO_PRERT\n-X ISTIO_OUTPUT\n");
		ADD("COMMIT\n");
	}
	if (st->nat_chains > 0 || st->nat_jumps > 0) {
		ADD("*nat\n");
		if (st->nat_jumps > 0)
			ADD("-D OUTPUT -j ISTIO_OUTPUT\n"
			    "-D PREROUTING -j ISTIO_PRERT\n");
		if (st->nat_chains > 0)
			ADD("-F ISTIO_PRERT\n-F ISTIO_OUTPUT\n"
			    "-X ISTIO_PRERT\n-X ISTIO_OUTPUT\n");
		ADD("COMMIT\n");
	}
#undef ADD
	if (len > 0 && (rc = run_in(nsfd, ipt_restore, script, out,
	    sizeof(out))) != 0)
		failed = fail_cmd(ipt_restore, rc, out, err, errlen);
	if (st->rule && (rc = run_in(nsfd, rule_del, NULL, out,
	    sizeof(out))) != 0)
		failed = fail_cmd(rule_del, rc, out, err, errlen);
	if (st->route && (rc = run_in(nsfd, route_del, NULL, out,
	    sizeof(out))) != 0)
		failed = fail_cmd(route_del, rc, out, err, errlen);
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
	struct state	st;
	char		out[OUT_MAX], ignored[256];
	int		rc;

	if (look(nsfd, &st, err, errlen) == -1)
		return -1;
	/* All there already: nothing to do.  Part of it: start clean. */
	if (st.mangle_chains == 2 && st.mangle_jumps == 2 &&
	    st.nat_chains == 2 && st.nat_jumps == 2 && st.nat_rules == 6 &&
	    st.route && st.rule)
		return 0;
	if (remove_present(nsfd, &st, err, errlen) == -1)
		return -1;
	/* istio-cni's order: the route, the rule, then the rules. */
	if ((rc = run_in(nsfd, route_add, NULL, out, sizeof(out))) != 0)
		return fail_cmd(route_add, rc, out, err, errlen);
	if ((rc = run_in(nsfd, rule_add, NULL, out, sizeof(out))) != 0) {
		fail_cmd(rule_add, rc, out, err, errlen);
		goto undo;
	}
	if ((rc = run_in(nsfd, ipt_restore, rules, out, sizeof(out))) != 0) {
		fail_cmd(ipt_restore, rc, out, err, errlen);
		goto undo;
	}
	return 0;
undo:
	/* Nothing half-installed: take back what went in. */
	if (look(nsfd, &st, ignored, sizeof(ignored)) == 0)
		(void)remove_present(nsfd, &st, ignored, sizeof(ignored));
	return -1;
}
