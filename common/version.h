/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COMMON_VERSION_H
#define COMMON_VERSION_H

#define VERSION "0.2.0"

#endif
