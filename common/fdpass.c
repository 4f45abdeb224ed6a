/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fdpass.c: one message, at most one descriptor, over a Unix socket.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fdpass.h"

/*
 * Room for exactly one int.  CMSG_SPACE rounds up to the alignment of
 * struct cmsghdr, so on 64-bit Linux this buffer also fits a second
 * descriptor without MSG_CTRUNC: fdpass_collect() counts rather than
 * trusting the buffer size.  Three or more set MSG_CTRUNC.
 */
union fdpass_cbuf {
	struct cmsghdr	hdr;
	char		buf[CMSG_SPACE(sizeof(int))];
};

ssize_t
fdpass_send(int sock, const void *buf, size_t len, int fd)
{
	union fdpass_cbuf	 cbuf;
	struct msghdr		 msg;
	struct cmsghdr		*cmsg;
	struct iovec		 iov;
	ssize_t			 n;

	memset(&msg, 0, sizeof(msg));
	/* sendmsg does not write through iov_base; the cast drops const only. */
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;

	if (fd != -1) {
		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}

	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	return n;
}

ssize_t
fdpass_recv(int sock, void *buf, size_t len, int *fdp)
{
	union fdpass_cbuf	cbuf;
	struct msghdr		msg;
	struct iovec		iov;
	ssize_t			n;

	*fdp = -1;
	memset(&msg, 0, sizeof(msg));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);

	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (fdpass_collect(&msg, fdp) == -1)
		return -1;
	if (msg.msg_flags & MSG_TRUNC) {
		if (*fdp != -1)
			close(*fdp);
		*fdp = -1;
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

int
fdpass_collect(const struct msghdr *msg, int *fdp)
{
	const unsigned char	*end;
	struct cmsghdr		*cmsg;
	size_t			 datalen, i, nfds = 0;
	int			 err = 0, fd;

	*fdp = -1;
	if (msg->msg_flags & MSG_CTRUNC)
		err = EBADMSG;
	if (msg->msg_control == NULL)
		goto out;
	end = (const unsigned char *)msg->msg_control + msg->msg_controllen;

	/* CMSG_NXTHDR is a macro over a non-const msghdr; we only read. */
	for (cmsg = CMSG_FIRSTHDR((struct msghdr *)msg);
	    cmsg != NULL;
	    cmsg = CMSG_NXTHDR((struct msghdr *)msg, cmsg)) {
		/*
		 * The kernel never writes a header that runs past the buffer
		 * (it truncates and sets MSG_CTRUNC).  One that does is not
		 * from the kernel: nothing in it is a descriptor of ours.
		 */
		if (cmsg->cmsg_len < CMSG_LEN(0) ||
		    cmsg->cmsg_len - CMSG_LEN(0) >
		    (size_t)(end - CMSG_DATA(cmsg))) {
			err = EBADMSG;
			break;
		}
		datalen = cmsg->cmsg_len - CMSG_LEN(0);
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS) {
			/* Credentials and the like carry no descriptors. */
			if (err == 0)
				err = EPROTO;
			continue;
		}
		for (i = 0; i + sizeof(int) <= datalen; i += sizeof(int)) {
			memcpy(&fd, CMSG_DATA(cmsg) + i, sizeof(int));
			if (nfds++ == 0)
				*fdp = fd;
			else
				close(fd);
		}
	}
	if (nfds > 1 && err == 0)
		err = E2BIG;
out:
	if (err != 0) {
		if (*fdp != -1)
			close(*fdp);
		*fdp = -1;
		errno = err;
		return -1;
	}
	return 0;
}

const char *
fdpass_strerror(int err)
{
	switch (err) {
	case EBADMSG:
		return "control data truncated (too many descriptors sent, "
		    "or the receiver's descriptor table is full)";
	case E2BIG:
		return "more than one descriptor attached";
	case EPROTO:
		return "unexpected control message (only SCM_RIGHTS is accepted)";
	case EMSGSIZE:
		return "message too long";
	default:
		return strerror(err);
	}
}
