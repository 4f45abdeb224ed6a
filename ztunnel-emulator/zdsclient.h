/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ZT_ZDSCLIENT_H
#define ZT_ZDSCLIENT_H

/* ztunnel's side of ZDS: connect to the node agent at path (and again
 * whenever it goes away), and take its pods. */
void	zdsclient_start(const char *path);
void	zdsclient_stop(void);

#endif
