/* SPDX-License-Identifier: MIT */
/*
 * engine/store/table_upgrade.c - a table file of format version 1 or 2
 * (32-byte slot headers) rewritten as version 3 (16-byte ones).
 *
 * Why rewrite rather than read both layouts: every lock-free read path
 * (copies, zero-copy pointers, scan batches whose counters callers
 * compare inline, backup's copies) would branch on the layout, and the
 * old one would live on untested by everything but old files. So an old
 * file is rewritten once, at the first open for writing, and a read-only
 * open of one is refused until then (engine/db/catalog.c says what to do).
 *
 * How, crash-safely, as compaction replaces a file (engine/db/compact.c):
 * the new file is built whole under NAME.vmt.upgrade-PID, synced, renamed
 * over the old one, and the directory synced. Until the rename is durable
 * a crash or a power cut leaves the old file under the name, untouched
 * (the upgrade only reads it), and the next open for writing upgrades
 * again, removing the temporary files crashed upgrades left. The writer
 * lock is held throughout, so no slot changes meanwhile and no other
 * upgrade runs.
 *
 * What each slot becomes: the same record at the same rid, so the index
 * (key -> rid) is as good for the new file as for the old. The checksum
 * keeps the low 32 bits of the old one, which is what a version 3 sum is
 * (the same XXH3-64, the same seed): nothing is hashed again, so a
 * record damaged in the old file is damaged in the new one, not
 * laundered. The counter keeps its low 32 bits, odd or even as it was
 * (a slot left mid-write stays mid-write, for replay and the writer's
 * scan), and a written slot never becomes 0. The lsn must fit 63 bits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "os.h"
#include "table.h"

#define UPGRADE_MARK ".upgrade-"

#ifdef VMDB_TEST_HOOKS
void (*vmdb__table_upgrade_test_hook)(const char *stage);
#define STAGE(name)                                                            \
    do {                                                                       \
        if (vmdb__table_upgrade_test_hook)                                     \
            vmdb__table_upgrade_test_hook(name);                               \
    } while (0)
#else
#define STAGE(name) ((void)0)
#endif
/* Slots converted per write: bounded memory for any table. */
#define CHUNK_SLOTS 8192u

struct leftovers {
    const char *dir;
    const char *prefix; /* NAME.vmt.upgrade- */
};

static int remove_leftover(void *ctx, const char *name)
{
    const struct leftovers *l = ctx;
    if (strncmp(name, l->prefix, strlen(l->prefix)) == 0) {
        char *path = vmdb__path_join(l->dir, name, "");
        if (path)
            vmdb__os_unlink(path);
        free(path);
    }
    return 0;
}

/* Slot rid of the old file as a version 3 slot, into `dst` (new_stride
 * bytes). */
static int convert_slot(const vmdb_table *old, uint64_t rid, char *dst, size_t new_stride)
{
    vmdb__slot_v2 was;
    const char *src = old->slots + rid * old->stride;
    memcpy(&was, src, sizeof was);
    if (was.lsn & VMDB__SLOT_LIVE)
        return vmdb__fail(VMDB_ECORRUPT,
                          "%s: slot %llu names log position %llu, past what a slot holds "
                          "(2^63): cannot upgrade it",
                          old->path, (unsigned long long)rid, (unsigned long long)was.lsn);
    uint32_t seq = (uint32_t)was.seq;
    if (seq == 0 && was.seq != 0)
        seq = 2; /* written (even, since its low bit is 0): never 0 */
    vmdb__slot now = {
        .seq = seq,
        .sum = (uint32_t)was.checksum,
        .lsn_live = was.lsn | (was.live ? VMDB__SLOT_LIVE : 0),
    };
    memset(dst, 0, new_stride);
    memcpy(dst, &now, sizeof now);
    memcpy(dst + sizeof now, src + sizeof was, old->record_size);
    return 0;
}

/* The new file at `tmp`, synced. */
static int write_upgraded(const vmdb_table *old, const char *tmp)
{
    size_t new_stride = (size_t)vmdb__round_up(sizeof(vmdb__slot) + old->record_size, 8);
    uint64_t cap = old->capacity;
    char *head = calloc(1, 8192);
    char *chunk = malloc((size_t)CHUNK_SLOTS * new_stride);
    if (!head || !chunk) {
        free(head);
        free(chunk);
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", tmp);
    }
    /* A version 1 file has no summary; a version 2 one keeps its own,
     * which names the same rids and the same checkpoint. */
    int rc = vmdb__table_build_headers(old, head, cap,
                                       old->summary.log_salt ? &old->summary : NULL);
    if (rc < 0) {
        free(head);
        free(chunk);
        return vmdb__fail(rc, "%s: %s", tmp, vmdb_last_error()->message);
    }
    int fd = -1;
    const char *step = "create";
    vmdb__os_unlink(tmp); /* a crashed upgrade of this pid's */
    rc = vmdb__os_open(tmp, VMDB__OS_RDWR | VMDB__OS_CREATE | VMDB__OS_EXCL, 0644, &fd);
    if (rc == 0 && (rc = vmdb__os_allocate(fd, 0, 8192 + cap * new_stride)) < 0)
        step = "allocate the blocks of";
    if (rc == 0 && (rc = vmdb__os_pwrite_all(fd, head, 8192, 0)) < 0)
        step = "write the header of";
    int crc = 0;
    for (uint64_t from = 0; rc == 0 && crc == 0 && from < cap; from += CHUNK_SLOTS) {
        uint64_t n = cap - from < CHUNK_SLOTS ? cap - from : CHUNK_SLOTS;
        for (uint64_t i = 0; crc == 0 && i < n; i++)
            crc = convert_slot(old, from + i, chunk + i * new_stride, new_stride);
        if (crc == 0 &&
            (rc = vmdb__os_pwrite_all(fd, chunk, (size_t)(n * new_stride),
                                      8192 + from * new_stride)) < 0)
            step = "write the slots of";
    }
    if (rc == 0 && crc == 0 && (rc = vmdb__os_sync(fd, false)) < 0)
        step = "sync";
    if (fd >= 0)
        vmdb__os_close(fd);
    free(head);
    free(chunk);
    if (rc < 0 || crc < 0) {
        vmdb__os_unlink(tmp);
        return crc < 0 ? crc
                       : vmdb__fail_os(rc, "%s: cannot %s the upgraded table file", tmp, step);
    }
    return 0;
}

int vmdb__table_upgrade(vmdb_table **tp)
{
    vmdb_table *old = *tp;
    char *dir = strdup(old->path);
    char *prefix = vmdb__format("%s.vmt" UPGRADE_MARK, old->name);
    char *tmp = vmdb__format("%s" UPGRADE_MARK "%ld", old->path, vmdb__os_pid());
    int rc = dir && prefix && tmp ? 0 : vmdb__fail(VMDB_ENOMEM, "%s: out of memory", old->path);
    if (rc == 0) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            strcpy(dir, ".");
        struct leftovers l = {dir, prefix};
        vmdb__os_list_dir(dir, remove_leftover, &l);
        rc = write_upgraded(old, tmp);
    }
    vmdb_table *fresh = NULL;
    if (rc == 0) {
        /* It must open as a table before the rename makes it one. */
        rc = vmdb__table_open(tmp, false, old->verify, &fresh);
        if (rc == 0 && (vmdb__table_needs_upgrade(fresh) || fresh->capacity != old->capacity))
            rc = vmdb__fail(VMDB_ECORRUPT, "%s: the upgraded file does not open as written",
                            tmp);
        vmdb__table_close(fresh);
        fresh = NULL;
    }
    if (rc == 0)
        STAGE("written");
    if (rc == 0 && (rc = vmdb__os_rename(tmp, old->path)) < 0) {
        rc = vmdb__fail_os(rc, "%s: cannot rename %s over it", old->path, tmp);
        vmdb__os_unlink(tmp);
    } else if (rc < 0 && tmp) {
        vmdb__os_unlink(tmp);
    }
    /* Durable before anything is written into the new file: a change
     * that reached a file the cut then renamed away would be lost. */
    if (rc == 0)
        STAGE("renamed");
    if (rc == 0 && (rc = vmdb__os_sync_dir_of(old->path)) < 0)
        rc = vmdb__fail_os(rc, "%s: fsync of its directory", old->path);
    if (rc == 0)
        STAGE("durable");
    if (rc == 0)
        rc = vmdb__table_open(old->path, false, old->verify, &fresh);
    if (rc == 0) {
        fresh->db = old->db;
        vmdb__table_close(old);
        *tp = fresh;
    }
    free(dir);
    free(prefix);
    free(tmp);
    return rc;
}
