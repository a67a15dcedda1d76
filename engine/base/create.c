/* SPDX-License-Identifier: MIT */
/*
 * engine/base/create.c - making a file whole or not at all (create.h).
 */
#include "create.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "os.h"

static uint64_t mix(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* O_EXCL is what makes the name ours; the token only makes a clash
 * unlikely, so concurrent creators (even forked ones, which share the
 * counter and the addresses) and strays from an earlier crash just cost
 * a retry. */
static int open_temporary(const char *path, unsigned perm, char **tmp_out, int *fd)
{
    static uint64_t counter;
    size_t cap = strlen(path) + sizeof ".vmdb-new-0123456789abcdef";
    char *tmp = malloc(cap);
    if (!tmp)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    int rc = -EEXIST;
    for (int attempt = 0; attempt < 100 && rc == -EEXIST; attempt++) {
        uint64_t token = mix((uint64_t)vmdb__os_pid() << 32 ^ (uint64_t)(uintptr_t)tmp ^
                             mix(__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED)));
        snprintf(tmp, cap, "%s.vmdb-new-%016llx", path, (unsigned long long)token);
        rc = vmdb__os_open(tmp, VMDB__OS_RDWR | VMDB__OS_CREATE | VMDB__OS_EXCL, perm, fd);
    }
    if (rc < 0) {
        free(tmp);
        return vmdb__fail_os(rc, "%s: cannot create a temporary file next to it", path);
    }
    *tmp_out = tmp;
    return 0;
}

/* The check for a file already there and the rename are two steps: a
 * creator that loses that race by a hair replaces an empty file with
 * another empty one, never with a part-written one. */
static int install(const char *tmp, const char *path, enum vmdb__create_mode mode,
                   bool *renamed)
{
    if (mode != VMDB__CREATE_REPLACE) {
        vmdb__os_stat st;
        int rc = vmdb__os_stat_path(path, &st);
        if (rc == 0)
            return mode == VMDB__CREATE_EXCL ? vmdb__fail(VMDB_EEXIST, "%s: already exists", path)
                                             : 0;
        if (rc != -ENOENT)
            return vmdb__fail_os(rc, "%s: cannot stat", path);
    }
    int rc = vmdb__os_rename(tmp, path);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot rename %s over it", path, tmp);
    *renamed = true;
    rc = vmdb__os_sync_dir_of(path);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: fsync of its directory", path);
    return 0;
}

int vmdb__create_atomically(const char *path, unsigned perm, enum vmdb__create_mode mode,
                            int (*fill)(void *ctx, int fd, const char *tmp), void *ctx)
{
    char *tmp = NULL;
    int fd = -1;
    int rc = open_temporary(path, perm, &tmp, &fd);
    if (rc < 0)
        return rc;
    rc = fill(ctx, fd, tmp);
    if (rc == 0 && (rc = vmdb__os_sync(fd, false)) < 0)
        rc = vmdb__fail_os(rc, "%s: fsync", tmp);
    vmdb__os_close(fd);
    bool renamed = false;
    if (rc == 0)
        rc = install(tmp, path, mode, &renamed);
    if (!renamed)
        vmdb__os_unlink(tmp);
    free(tmp);
    return rc;
}
