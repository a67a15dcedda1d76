/* SPDX-License-Identifier: MIT */
/*
 * engine/base/version.c - the running library's version (vmdb/version.h).
 */
#include <stddef.h>

#include "internal.h"
#include "vmdb/version.h"

void vmdb_version(int *major, int *minor, int *patch)
{
    if (major)
        *major = VMDB_VERSION_MAJOR;
    if (minor)
        *minor = VMDB_VERSION_MINOR;
    if (patch)
        *patch = VMDB_VERSION_PATCH;
}

const char *vmdb_version_string(void)
{
    return VMDB_VERSION_STRING;
}
