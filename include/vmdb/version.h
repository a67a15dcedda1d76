/* SPDX-License-Identifier: MIT */
/*
 * vmdb/version.h - which vmdb: the version a program was compiled
 * against (the macros) and the one it runs with (the calls), which differ
 * when a shared library was replaced under it.
 */
#ifndef VMDB_VERSION_H
#define VMDB_VERSION_H

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDB_VERSION_MAJOR 0
#define VMDB_VERSION_MINOR 1
#define VMDB_VERSION_PATCH 0
#define VMDB_VERSION_STRING "0.1.0"
/* One number that compares in order: 0x00MMmmpp. */
#define VMDB_VERSION_NUMBER                                                    \
    ((VMDB_VERSION_MAJOR << 16) | (VMDB_VERSION_MINOR << 8) | VMDB_VERSION_PATCH)

/* The running library's version; any pointer may be NULL. */
VMDB_API void vmdb_version(int *major, int *minor, int *patch);
/* The same as text, e.g. "0.1.0". */
VMDB_API const char *vmdb_version_string(void);

#ifdef __cplusplus
}
#endif

#endif
