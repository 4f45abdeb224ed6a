/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CNI_STATUS_H
#define CNI_STATUS_H

/*
 * The node agent's own surfaces, as istio-cni has them (its :8000 and
 * :15014), each off unless given:
 *   --health ADDR:PORT   GET /healthz: 200 while the agent runs;
 *                        GET /readyz: 200 once it serves ZDS and its
 *                        first reconcile round is done (at once with
 *                        --no-reconcile), else 503 with what it waits for
 *   --metrics ADDR:PORT  GET /metrics, Prometheus text: ztunnel_connected,
 *                        nodeagent_reconcile_events_total{type}, and
 *                        nodeagent_pod_enrolment{pod,uid,state} with the
 *                        state ambient.istio.io/redirection would say
 *                        (enabled: whole at the last round; pending: not,
 *                        or not checked yet)
 */
struct status_opts {
	const char	*health;	/* ADDR:PORT, or NULL */
	const char	*metrics;
	int		 reconcile;	/* rounds run (readiness waits for one) */
};

/* Parse both addresses (usage errors: -1, *bad the flag at fault). */
int	status_parse(const struct status_opts *, const char **bad);
/* Bind and serve; -1 with errno set and *bad the flag at fault. */
int	status_start(const struct status_opts *, const char **bad);
void	status_stop(void);

#endif
