/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_MESH_H
#define ZT_MESH_H

#include <stdint.h>

#include "ipaddr.h"

/*
 * Who has an address: the one question the traffic code asks of the
 * node (is this destination a mesh pod, reached by HBONE?  which
 * workload is it, for the metrics?).  Whoever knows the pods answers it
 * (pods.c, with --peers); the traffic code only asks, through here, so
 * nothing below pods.c calls up into it.
 */

/* The workload at addr (its port aside): "namespace/name", a bare name or
 * "" (unnamed), with *mesh 1; NULL and *mesh 0 for nobody we know. */
typedef const char *mesh_resolve_fn(const union sockip *addr, int *mesh);

void		 mesh_init(mesh_resolve_fn *);
const char	*mesh_workload(const union sockip *addr, int *mesh);

#endif
