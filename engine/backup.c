/*
 * engine/backup.c - vmdb_backup(): a consistent copy of an open database
 * into a new directory, while the database stays open.
 *
 * The copy is taken under the writer lock, after a checkpoint: no
 * transaction can commit meanwhile and the log holds nothing the tables
 * do not, so the table and index files as they are in the page cache are
 * the database as of the last commit. Each is copied whole from its
 * mapping (every slot, sequence counters included: none is mid-write, the
 * lock holder being the only writer). The copy gets a fresh, empty log of
 * the same size and a lock file carrying that log's salt, so opening it
 * replays nothing. Lock-free readers go on reading throughout; writers
 * wait for the copy (not for the syncs, which come after the lock is
 * released).
 *
 * Crash safety: everything is built in "DEST.tmp-PID", each file synced,
 * then the directory synced, then renamed to DEST and DEST's parent
 * directory synced. Until the rename there is no DEST (or only the empty
 * directory the caller made), so a crash at any point leaves no DEST that
 * opens with the wrong contents; the temporary directory is left behind,
 * and a later backup to the same DEST from a process with the same id
 * removes it.
 *
 * A lock-free backup is possible and is the natural next step: copy the
 * files without the lock while writers go on (each slot copied under its
 * sequence counter, so no slot is torn), remembering the log position P
 * where the copy started and keeping the log from being checkpointed past
 * P; then take the lock briefly, and replay every committed record from P
 * to the end of the log into the copy (replay is idempotent: full
 * after-images at fixed record ids), rebuild the copy's indexes, and
 * release. Writers would wait only for the replay of what they committed
 * during the copy. It needs a way to hold checkpoints back (db.c owns
 * them), which is why this version keeps the lock.
 */
#include "db.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "internal.h"
#include "os.h"

/* As db.c names them. */
#define LOCK_MAGIC "VMDBLOCK"
#define LOCK_NAME "vmdb.lock"
#define WAL_NAME "wal.ring"

/* A malloc'ed string made as printf would; NULL when out of memory. */
static char *format(const char *fmt, ...) VMDB__PRINTF(1, 2);
static char *format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n < 0 ? NULL : malloc((size_t)n + 1);
    if (p) {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}

struct backup {
    const char *tmp; /* the directory being built */
    int *fds;        /* files written, to sync once the lock is released */
    size_t count, cap;
};

static int keep_fd(struct backup *b, int fd)
{
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        int *grown = realloc(b->fds, cap * sizeof *grown);
        if (!grown)
            return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", b->tmp);
        b->fds = grown;
        b->cap = cap;
    }
    b->fds[b->count++] = fd;
    return 0;
}

/* Writes src[0, len) to the new file tmp/name (blocks reserved first, so
 * a full disk is an error here), keeping its descriptor to sync later. */
static int write_copy(struct backup *b, const char *name, const void *src, uint64_t len)
{
    char *path = format("%s/%s", b->tmp, name);
    if (!path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", b->tmp);
    int fd = -1;
    const char *step = "create";
    int rc = vmdb__os_open(path, VMDB__OS_RDWR | VMDB__OS_CREATE | VMDB__OS_EXCL, 0644, &fd);
    if (rc == 0 && (rc = vmdb__os_allocate(fd, 0, len)) < 0)
        step = "allocate the blocks of";
    if (rc == 0 && len && (rc = vmdb__os_pwrite_all(fd, src, (size_t)len, 0)) < 0)
        step = "write";
    if (rc < 0) {
        vmdb__os_close(fd);
        rc = vmdb__fail_os(rc, "%s: cannot %s the copy", path, step);
    } else {
        rc = keep_fd(b, fd);
        if (rc < 0)
            vmdb__os_close(fd);
    }
    free(path);
    return rc;
}

/* Copies table t and its index, whole, from their mappings. */
static int copy_table(struct backup *b, vmdb_table *t)
{
    char name[VMDB__TABLE_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s.vmt", t->name);
    int rc = write_copy(b, name, vmdb_map_ptr(t->map), vmdb_map_len(t->map));
    if (rc == 0) {
        const vmdb_map *ix = vmdb__index_map(t->index);
        snprintf(name, sizeof name, "%s.vmi", t->name);
        rc = write_copy(b, name, vmdb_map_ptr(ix), vmdb_map_len(ix));
    }
    return rc;
}

/* A new empty log of `cap` bytes, and the lock file that goes with it. */
static int make_log_and_lock(struct backup *b, uint64_t cap)
{
    char *wal_path = format("%s/%s", b->tmp, WAL_NAME);
    if (!wal_path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", b->tmp);
    vmdb__wal *wal = NULL;
    int rc = vmdb__wal_open(wal_path, cap, true, false, &wal);
    uint64_t salt = wal ? vmdb__wal_salt(wal) : 0;
    vmdb__wal_close(wal);
    int fd = -1;
    if (rc == 0 && (rc = vmdb__os_open(wal_path, VMDB__OS_RDONLY, 0, &fd)) < 0)
        rc = vmdb__fail_os(rc, "%s: cannot open", wal_path);
    if (rc == 0 && (rc = keep_fd(b, fd)) < 0)
        vmdb__os_close(fd);
    free(wal_path);
    if (rc < 0)
        return rc;
    size_t page = vmdb_page_size();
    char *buf = calloc(1, page);
    if (!buf)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", b->tmp);
    vmdb__lock_page *lp = (vmdb__lock_page *)buf;
    memcpy(lp->magic, LOCK_MAGIC, sizeof lp->magic);
    lp->version = 1;
    lp->salt = salt;
    /* Last, as db.c creates it: a directory holding it is a database. */
    rc = write_copy(b, LOCK_NAME, buf, page);
    free(buf);
    return rc;
}

/* Syncs every file written, then the directory that holds them. */
static int sync_all(struct backup *b)
{
    for (size_t i = 0; i < b->count; i++) {
        int rc = vmdb__os_sync(b->fds[i], false);
        if (rc < 0)
            return vmdb__fail_os(rc, "%s: cannot sync the copied files", b->tmp);
    }
    char *inside = format("%s/%s", b->tmp, LOCK_NAME);
    if (!inside)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", b->tmp);
    int rc = vmdb__os_sync_dir_of(inside);
    free(inside);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: fsync of the directory", b->tmp);
    return 0;
}

static int count_entry(void *ctx, const char *name)
{
    (void)name;
    (*(size_t *)ctx)++;
    return 0;
}

static int unlink_entry(void *ctx, const char *name)
{
    char *path = format("%s/%s", (const char *)ctx, name);
    if (path)
        vmdb__os_unlink(path);
    free(path);
    return 0;
}

/* Removes directory `dir` and the files directly in it (a backup's
 * temporary directory holds nothing else). */
static void remove_dir(const char *dir)
{
    vmdb__os_list_dir(dir, unlink_entry, (void *)dir);
    vmdb__os_rmdir(dir);
}

/* VMDB_EEXIST unless `dest` is missing or an empty directory. */
static int check_dest(const char *dest)
{
    vmdb__os_stat st;
    int rc = vmdb__os_stat_path(dest, &st);
    if (rc < 0 && vmdb__code_from_errno(-rc) == VMDB_ENOENT)
        return 0;
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot stat the backup's destination", dest);
    if (!st.is_dir)
        return vmdb__fail(VMDB_EEXIST, "%s: exists and is not a directory", dest);
    size_t entries = 0;
    rc = vmdb__os_list_dir(dest, count_entry, &entries);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot list the backup's destination", dest);
    if (entries)
        return vmdb__fail(VMDB_EEXIST, "%s: exists and is not empty", dest);
    return 0;
}

int vmdb_backup(vmdb_db *db, const char *dest_dir)
{
    if (!db || !dest_dir || !dest_dir[0])
        return vmdb__fail(VMDB_EINVAL, "vmdb_backup: db and dest_dir are required");
    if (db->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: opened read-only; a backup needs the write "
                                          "lock",
                          db->path);
    /* "dest/" names dest: the temporary directory must be its sibling. */
    size_t n = strlen(dest_dir);
    while (n > 1 && dest_dir[n - 1] == '/')
        n--;
    char *dest = format("%.*s", (int)n, dest_dir);
    char *tmp = dest ? format("%s.tmp-%ld", dest, vmdb__os_pid()) : NULL;
    if (!tmp) {
        free(dest);
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", dest_dir);
    }
    int rc = check_dest(dest);
    if (rc < 0) {
        free(dest);
        free(tmp);
        return rc;
    }
    struct backup b = {.tmp = tmp};
    /* One left here by a process with this id that died mid-backup. */
    remove_dir(tmp);
    rc = vmdb__os_mkdir(tmp);
    bool made = rc == 0;
    if (rc < 0)
        rc = vmdb__fail_os(rc, "%s: cannot create the backup's temporary directory", tmp);
    if (rc == 0)
        rc = vmdb__db_lock(db);
    if (rc == 0) {
        /* Writers wait from here until the copies are written. */
        rc = vmdb__db_checkpoint_locked(db, vmdb__wal_end(db->wal));
        for (size_t i = 0; rc == 0 && i < db->table_count; i++)
            rc = copy_table(&b, db->tables[i]);
        uint64_t wal_cap = vmdb__wal_cap(db->wal);
        vmdb__db_unlock(db);
        if (rc == 0)
            rc = make_log_and_lock(&b, wal_cap);
    }
    if (rc == 0)
        rc = sync_all(&b);
    for (size_t i = 0; i < b.count; i++)
        vmdb__os_close(b.fds[i]);
    free(b.fds);
    if (rc == 0) {
        rc = vmdb__os_rename(tmp, dest);
        if (rc == -ENOTEMPTY || rc == -EEXIST || rc == -ENOTDIR)
            rc = vmdb__fail(VMDB_EEXIST, "%s: appeared during the backup and is not empty",
                            dest);
        else if (rc < 0)
            rc = vmdb__fail_os(rc, "%s: cannot rename %s to it", dest, tmp);
        if (rc == 0) {
            made = false;
            rc = vmdb__os_sync_dir_of(dest);
            if (rc < 0)
                rc = vmdb__fail_os(rc, "%s: fsync of its parent directory", dest);
        }
    }
    if (made && rc < 0)
        remove_dir(tmp);
    free(tmp);
    free(dest);
    return rc;
}
