/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the control-message intake (fdpass_collect), on
 * control buffers laid out as the kernel lays them out, with any number of
 * headers of any level and type, any count of descriptors, MSG_CTRUNC or
 * not.  The descriptors are real (/dev/null), so the property that matters
 * can be checked: afterwards the process holds at most the one descriptor
 * it was handed, and every other one that "arrived" is closed.
 *
 * Input: byte 0 bit 0 = MSG_CTRUNC; then per header 2 bytes: level/type
 * choice (low 2 bits: SCM_RIGHTS, SCM_CREDENTIALS, other type, other
 * level), and a descriptor count (low 3 bits).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fdpass.h"

#define MAX_FDS 64

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	union {
		struct cmsghdr	hdr;
		char		buf[16 * CMSG_SPACE(7 * sizeof(int))];
	} u;
	struct msghdr	 msg;
	struct cmsghdr	*c;
	size_t		 i, used = 0, n;
	int		 fds[MAX_FDS], nfds = 0, got, rc, k, open_left = 0;

	if (size == 0)
		return 0;
	memset(&u, 0, sizeof(u));
	memset(&msg, 0, sizeof(msg));
	msg.msg_flags = data[0] & 1 ? MSG_CTRUNC : 0;
	for (i = 1; i + 1 < size && used + CMSG_SPACE(7 * sizeof(int)) <=
	    sizeof(u.buf); i += 2) {
		c = (struct cmsghdr *)(void *)(u.buf + used);
		n = data[i + 1] & 7;
		switch (data[i] & 3) {
		case 0: c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; break;
		case 1: c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_CREDENTIALS; break;
		case 2: c->cmsg_level = SOL_SOCKET; c->cmsg_type = 99; break;
		default: c->cmsg_level = SOL_IP; c->cmsg_type = SCM_RIGHTS; break;
		}
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		for (k = 0; k < (int)n; k++) {
			int fd = -1;

			/* Only SCM_RIGHTS carries descriptors; elsewhere the
			 * same bytes are plain data and must stay unclosed. */
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_RIGHTS && nfds < MAX_FDS) {
				fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				if (fd == -1)
					abort();
				fds[nfds++] = fd;
			}
			memcpy(CMSG_DATA(c) + (size_t)k * sizeof(int), &fd,
			    sizeof(int));
		}
		used += CMSG_SPACE(n * sizeof(int));
	}
	msg.msg_control = used > 0 ? u.buf : NULL;
	msg.msg_controllen = used;

	rc = fdpass_collect(&msg, &got);
	for (k = 0; k < nfds; k++) {
		if (fcntl(fds[k], F_GETFD) == -1)
			continue;
		if (rc != 0 || fds[k] != got)
			abort();	/* left open: a leak */
		open_left++;
	}
	if ((rc == 0 && got != -1 && open_left != 1) || (rc != 0 && got != -1))
		abort();
	if (got != -1)
		close(got);
	return 0;
}
