/* SPDX-License-Identifier: Apache-2.0 */
#ifndef UNIT_H
#define UNIT_H

/*
 * A small test harness.  Each test is a void function that runs in its own
 * child process (a crash or a hang fails that test alone) and fails at the
 * first CHECK that does not hold.
 */

struct unit_test {
	const char	*name;
	void		(*fn)(void);
};

#define UNIT_TEST(f)	{ #f, f }
#define UNIT_END	{ NULL, NULL }

void	unit_fail(const char *file, int line, const char *what)
	    __attribute__((noreturn));

#define CHECK(cond) do {						\
	if (!(cond))							\
		unit_fail(__FILE__, __LINE__, #cond);			\
} while (0)

/* Open descriptors of this process, counted in /proc/self/fd. */
int	unit_count_fds(void);

/* A socketpair(AF_UNIX, type) that the test owns. */
void	unit_socketpair(int type, int sv[2]);

extern const struct unit_test fdpass_tests[];
extern const struct unit_test wire_tests[];
extern const struct unit_test misc_tests[];
extern const struct unit_test podtab_tests[];
extern const struct unit_test zds_tests[];
extern const struct unit_test hpack_tests[];
extern const struct unit_test dns_tests[];
extern const struct unit_test ipaddr_tests[];

#endif
