/* SPDX-License-Identifier: MIT */
/*
 * engine/base/create.h - making a file whole or not at all, the one way
 * every vmdb file is created (rings, slot rings, tables, indexes, the
 * lock file, backups).
 */
#ifndef VMDB_ENGINE_CREATE_H
#define VMDB_ENGINE_CREATE_H

/* What a file already at the path means. */
enum vmdb__create_mode {
    VMDB__CREATE_REPLACE, /* the new file replaces it */
    VMDB__CREATE_KEEP,    /* it stays and the call succeeds: another creator
                             made the same empty file first */
    VMDB__CREATE_EXCL,    /* it stays and the call fails, VMDB_EEXIST */
};

/*
 * Creates `path`: `fill` writes the new file's contents through `fd` into
 * a temporary file beside it, under a name no one else holds (`tmp`, for
 * its messages); then the file is fsynced, renamed over `path` and the
 * directory fsynced. A crash leaves `path` as it was or whole, never part
 * written, and at worst a stray PATH.vmdb-new-* file. fill returns 0 or a
 * VMDB_E* code with its message; so does this call.
 */
int vmdb__create_atomically(const char *path, unsigned perm, enum vmdb__create_mode mode,
                            int (*fill)(void *ctx, int fd, const char *tmp), void *ctx);

#endif
