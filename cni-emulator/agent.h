/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CNI_AGENT_H
#define CNI_AGENT_H

#include <stddef.h>
#include <stdint.h>

struct agent_opts {
	const char	*path;		/* where to listen (SOCK_SEQPACKET) */
	const char	*k8s_namespace;	/* WorkloadInfo.namespace */
	uint64_t	 timeout_ms;	/* hello, each ack, a netns mount */
	int		 watch;		/* follow /var/run/netns */
};

/* cni-emulator --zds-serve: the node agent.  Runs until SIGINT/SIGTERM;
 * returns the exit status. */
int		agent_run(const struct agent_opts *, int nargs, char **args);

/* main.c: the pod name a netns argument stands for (ns2, pid-1234...). */
const char     *cni_default_name(const char *arg, const char *path,
		    char *buf, size_t size);

#endif
