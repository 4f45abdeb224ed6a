/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The unit test runner: one child per test, "ok NAME" or "not ok NAME"
 * per line, and a summary line the top-level runner can count.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "unit.h"

#define TEST_TIMEOUT_S 20

void
unit_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "    %s:%d: CHECK(%s) failed (errno: %s)\n", file,
	    line, what, strerror(errno));
	exit(1);
}

int
unit_count_fds(void)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		unit_fail(__FILE__, __LINE__, "opendir /proc/self/fd");
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

void
unit_socketpair(int type, int sv[2])
{
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == -1)
		unit_fail(__FILE__, __LINE__, "socketpair");
}

static int
run_one(const struct unit_test *t)
{
	pid_t	pid;
	int	status;

	fflush(stdout);
	if ((pid = fork()) == -1) {
		perror("fork");
		return 0;
	}
	if (pid == 0) {
		alarm(TEST_TIMEOUT_S);
		t->fn();
		exit(0);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return 0;
	if (WIFSIGNALED(status))
		fprintf(stderr, "    killed by signal %d (%s)\n",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int
main(int argc, char *argv[])
{
	static const struct unit_test *suites[] = {
		fdpass_tests, wire_tests, misc_tests, podtab_tests, zds_tests,
		hpack_tests, dns_tests, ipaddr_tests,
	};
	const struct unit_test	*t;
	size_t			 i;
	int			 passed = 0, failed = 0;

	/* Tests write to peers that are gone: that must be EPIPE here, as
	 * it is in the daemon. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		for (t = suites[i]; t->name != NULL; t++) {
			if (argc > 1 && strstr(t->name, argv[1]) == NULL)
				continue;
			if (run_one(t)) {
				printf("ok unit/%s\n", t->name);
				passed++;
			} else {
				printf("not ok unit/%s\n", t->name);
				failed++;
			}
		}
	}
	printf("# unit: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
