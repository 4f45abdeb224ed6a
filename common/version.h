/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_VERSION_H
#define COMMON_VERSION_H

/*
 * The one version of both programs: --version, the info request,
 * istio_build's tag.  The man pages' footers say it too; make lint
 * checks that they agree with this line.
 */
#define VERSION "0.4.0"

#endif
