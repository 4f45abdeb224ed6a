/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CNI_CLIENT_H
#define CNI_CLIENT_H

#include <stdint.h>

/*
 * The one-shot client: one request to ztunnel-emulator's control socket
 * (add, del, list), with the in-pod rules around it if asked.  Each call
 * says what went wrong in one line and returns the program's exit status;
 * none exits.
 */
enum client_status {
	CLIENT_OK = 0,
	CLIENT_USAGE = 1,
	CLIENT_LOCAL = 2,	/* could not open, connect or send */
	CLIENT_REFUSED = 3,	/* the daemon answered with an error */
	CLIENT_NOACK = 4,	/* no answer: timeout or hang-up */
};

struct client_opts {
	const char	*sock_path;
	uint64_t	 timeout_ms;	/* for the whole exchange */
	const char	*name;		/* add: the pod's name, or NULL */
	int		 seed;		/* add: the seed's bare 0x01 request */
	int		 redirect;	/* add/del: istio-cni's in-pod rules too */
	int		 wait;		/* 0: send and go, like the seed */
	int		 verbose;	/* print the daemon's answer */
	enum { LIST_TABLE, LIST_WIDE, LIST_JSON } output;	/* list */
};

/* Hand the namespace netns (a path, or a name under /var/run/netns) to
 * the daemon; with redirect, its rules go in first (and out again if the
 * daemon refuses it). */
enum client_status	client_add(const struct client_opts *, const char *netns);
/* Remove the pod called name; with redirect, name is its namespace, the
 * pod is the one named after it, and its rules come out after the
 * daemon has let it go. */
enum client_status	client_del(const struct client_opts *, const char *name);
enum client_status	client_list(const struct client_opts *);
/* The pods of the daemon at path, as --list --json prints them (the
 * caller frees it), or NULL, quietly: it is no daemon of ours, or did
 * not answer within timeout_ms. */
char			*client_fetch_json(const char *path,
			    uint64_t timeout_ms);

#endif
