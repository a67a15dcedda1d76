/* SPDX-License-Identifier: MIT */
/*
 * engine/db/backup.c - vmdb_backup(): a consistent copy of an open database
 * into a new directory, while readers and writers go on.
 *
 * Tables are updated in place, so there is no old version to copy while
 * writers change the current one (LMDB copies a read transaction's
 * pages; vmdb has none). Instead the copy is fuzzy and the log makes it
 * exact:
 *
 *   1. Under the writer lock, briefly: apply queued group commits, note
 *      the end of the log P and its salt, and each table's header pages
 *      and slot count.
 *   2. Without the lock: copy each table's slots [0, count) from the live
 *      mapping, each slot under its sequence counter, so none is torn.
 *      A slot may be copied before or after any change made meanwhile.
 *   3. Under the lock, briefly: if the log still holds everything from P
 *      (no checkpoint drew a new salt), copy the log bytes [P, end). Every
 *      change a slot can have been copied with is in there, since changes
 *      are applied only after their commit record is in the log.
 *   4. Without the lock: replay those records into the copied files. They
 *      are full after-images at fixed record ids, so each slot ends as the
 *      last committed change left it, whatever state it was copied in.
 *      Opening the copy once builds its indexes from the records.
 *
 * While a backup copies, automatic checkpoints (in every process, through
 * a deadline in the lock page the copy keeps renewing) wait until the log
 * is nine tenths full, so the log from P usually survives. When one frees
 * it anyway, the copy starts again; after three tries, step 2 runs under
 * the lock, which always succeeds. Writers thus wait only for steps 1 and
 * 3 (a memcpy of the log written meanwhile) in the common case.
 *
 * Crash safety: everything is built in "DEST.tmp-PID", each file synced,
 * then the directory synced, then renamed to DEST and DEST's parent
 * directory synced. Until the rename there is no DEST (or only the empty
 * directory the caller made), so a crash at any point leaves no DEST that
 * opens with the wrong contents; the temporary directory is left behind,
 * and a later backup to the same DEST from a process with the same id
 * removes it.
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
    char *path = vmdb__format("%s/%s", b->tmp, name);
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

/* ---- the copy ------------------------------------------------------------ */

/* The log since the snapshot was freed meanwhile: copy again. */
#define LOG_GONE 1

/* What the copy starts from, taken under the writer lock. */
struct table_snap {
    vmdb_table *t;
    char *header;      /* the header pages as they were */
    size_t header_len;
    uint64_t capacity; /* slots then; later ones come from the log */
};

struct snapshot {
    struct table_snap *tables;
    size_t count;
    uint64_t from; /* the end of the log then: replay starts here */
    uint64_t salt; /* the log's salt then: a checkpoint changes it */
};

static void snapshot_free(struct snapshot *snap)
{
    for (size_t i = 0; i < snap->count; i++)
        free(snap->tables[i].header);
    free(snap->tables);
    *snap = (struct snapshot){0};
}

/* With the writer lock held and the group queue drained. */
static int snapshot_take(vmdb_db *db, struct snapshot *snap)
{
    *snap = (struct snapshot){
        .from = vmdb__wal_end(db->wal),
        .salt = vmdb__wal_salt(db->wal),
    };
    snap->tables =
        calloc(vmdb__db_table_count(db) ? vmdb__db_table_count(db) : 1, sizeof *snap->tables);
    if (!snap->tables)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    for (size_t i = 0; i < vmdb__db_table_count(db); i++) {
        vmdb_table *t = vmdb__db_table_at(db, i);
        struct table_snap *ts = &snap->tables[snap->count];
        ts->t = t;
        ts->capacity = t->capacity;
        ts->header_len = (size_t)(t->slots - (char *)vmdb_map_ptr(t->map));
        ts->header = malloc(ts->header_len);
        if (!ts->header)
            return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", t->path);
        memcpy(ts->header, vmdb_map_ptr(t->map), ts->header_len);
        snap->count++;
    }
    return 0;
}

/* Copies one slot as a reader would: under its sequence counter, so the
 * copy is never torn, and checks the copy against its checksum, so that
 * a damaged record fails the backup naming the source's file and slot
 * instead of turning up in a copy that looks whole. A slot that stays odd
 * belongs to a writer that died mid-write; its transaction is in the log
 * after the snapshot (changes are applied only after their commit record),
 * so replay rewrites it and any bytes do here. */
static int copy_slot(const vmdb_table *t, uint64_t rid, char *dst)
{
    const vmdb__slot *s = vmdb__table_slot(t, rid);
    for (unsigned tries = 0;; tries++) {
        uint32_t before = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        vmdb__slot_load(dst, s, t->stride);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint32_t after = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
        if (before == after && !(before & 1))
            break;
        if (tries > 100000)
            return 0;
    }
    const vmdb__slot *copy = (const vmdb__slot *)dst;
    if (vmdb__slot_pristine(vmdb__slot_seq(copy), vmdb__slot_live(copy)))
        return 0;
    return vmdb__table_check_slot(t, rid, vmdb__slot_live(copy), vmdb__slot_sum(copy), copy + 1);
}

#define COPY_CHUNK (1u << 20)

/* Writes tmp/NAME.vmt: the header pages of the snapshot, then slots
 * [0, capacity) read from the live table while writers go on. */
static int copy_table_file(struct backup *b, const struct table_snap *ts, vmdb_db *db)
{
    const vmdb_table *t = ts->t;
    char *path = vmdb__format("%s/%s.vmt", b->tmp, t->name);
    size_t per_chunk = COPY_CHUNK / t->stride ? COPY_CHUNK / t->stride : 1;
    char *buf = malloc(per_chunk * t->stride);
    if (!path || !buf) {
        free(path);
        free(buf);
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", b->tmp);
    }
    uint64_t len = ts->header_len + ts->capacity * t->stride;
    int fd = -1;
    const char *step = "create";
    int rc = vmdb__os_open(path, VMDB__OS_RDWR | VMDB__OS_CREATE | VMDB__OS_EXCL, 0644, &fd);
    if (rc == 0 && (rc = vmdb__os_allocate(fd, 0, len)) < 0)
        step = "allocate the blocks of";
    if (rc == 0 && (rc = vmdb__os_pwrite_all(fd, ts->header, ts->header_len, 0)) < 0)
        step = "write";
    int damaged = 0; /* a slot's fault, its message set already */
    for (uint64_t rid = 0; rc == 0 && !damaged && rid < ts->capacity; rid += per_chunk) {
        uint64_t n = ts->capacity - rid < per_chunk ? ts->capacity - rid : per_chunk;
        for (uint64_t i = 0; !damaged && i < n; i++)
            damaged = copy_slot(t, rid + i, buf + i * t->stride);
        if (!damaged && (rc = vmdb__os_pwrite_all(fd, buf, (size_t)(n * t->stride),
                                                  ts->header_len + rid * t->stride)) < 0)
            step = "write";
        vmdb__db_hold_checkpoints(db, true);
    }
    if (damaged) {
        vmdb__os_close(fd);
        rc = damaged;
    } else if (rc < 0) {
        vmdb__os_close(fd);
        rc = vmdb__fail_os(rc, "%s: cannot %s the copy", path, step);
    } else {
        rc = keep_fd(b, fd);
        if (rc < 0)
            vmdb__os_close(fd);
    }
    free(buf);
    free(path);
    return rc;
}

/* The table with log id `id` in the snapshot, or NULL. */
static struct table_snap *snap_table(struct snapshot *snap, uint16_t id)
{
    for (size_t i = 0; i < snap->count; i++)
        if (snap->tables[i].t->id == id)
            return &snap->tables[i];
    return NULL;
}

/* Applies the log records in log[0, len) (whole committed transactions,
 * taken under the lock) to the copied table files: full after-images at
 * fixed record ids, so whatever state each slot was copied in, it ends as
 * the last of them left it. */
static int replay_into_copy(struct backup *b, struct snapshot *snap, const char *log,
                            uint64_t len)
{
    vmdb_table **copies = calloc(snap->count ? snap->count : 1, sizeof *copies);
    if (!copies)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", b->tmp);
    int rc = 0;
    for (uint64_t off = 0; rc == 0 && off < len;) {
        const vmdb__wal_record *rec = (const vmdb__wal_record *)(log + off);
        off += rec->len;
        if (rec->kind == VMDB__WAL_COMMIT)
            continue;
        struct table_snap *ts = snap_table(snap, rec->table);
        size_t i = (size_t)(ts - snap->tables);
        if (!copies[i]) {
            char *path = vmdb__format("%s/%s.vmt", b->tmp, ts->t->name);
            rc = path ? vmdb__table_open(path, false, false, &copies[i])
                      : vmdb__fail(VMDB_ENOMEM, "%s: out of memory", b->tmp);
            free(path);
            if (rc < 0)
                break;
        }
        rc = vmdb__table_write(copies[i], rec->rid, rec->txn,
                               rec->kind == VMDB__WAL_PUT ? (const char *)(rec + 1) : NULL);
    }
    for (size_t i = 0; i < snap->count; i++) {
        if (!copies[i])
            continue;
        if (rc == 0)
            rc = vmdb__table_flush(copies[i]);
        vmdb__table_close(copies[i]);
    }
    free(copies);
    return rc;
}

/* Under the lock: the log since the snapshot, or LOG_GONE when it is
 * gone (a checkpoint freed it) or names a table the snapshot lacks. */
static int take_log_tail(vmdb_db *db, struct snapshot *snap, char **log, uint64_t *len)
{
    *log = NULL;
    *len = 0;
    if (vmdb__wal_salt(db->wal) != snap->salt || vmdb__wal_start(db->wal) > snap->from)
        return LOG_GONE;
    uint64_t end = vmdb__wal_end(db->wal);
    if (end == snap->from)
        return 0;
    const char *src = vmdb_ring_pos_ptr(vmdb__wal_ring(db->wal), snap->from);
    for (uint64_t off = 0; off < end - snap->from;) {
        const vmdb__wal_record *rec = (const vmdb__wal_record *)(src + off);
        if (rec->kind != VMDB__WAL_COMMIT) {
            const struct table_snap *ts = snap_table(snap, rec->table);
            if (!ts || (rec->kind == VMDB__WAL_PUT && rec->payload_len != ts->t->record_size))
                return LOG_GONE;
        }
        off += rec->len;
    }
    *log = malloc(end - snap->from);
    if (!*log)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    memcpy(*log, src, end - snap->from);
    *len = end - snap->from;
    return 0;
}
/* A new empty log of `cap` bytes (growing up to `max`), and the lock
 * file that goes with it.
 * The log starts at `start`, past every position the copied slots name
 * (recovery compares them with the log's). */
static int make_log_and_lock(struct backup *b, uint64_t cap, uint64_t max, uint64_t start)
{
    char *wal_path = vmdb__format("%s/%s", b->tmp, VMDB__WAL_NAME);
    if (!wal_path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", b->tmp);
    vmdb__wal *wal = NULL;
    int rc = vmdb__wal_open(wal_path, cap, max, true, false, &wal);
    uint64_t fresh = 0;
    if (rc == 0 && start > 0 && (rc = vmdb__wal_draw_salt(wal, &fresh)) == 0)
        rc = vmdb__wal_checkpoint(wal, start, fresh);
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
    memcpy(lp->magic, VMDB__LOCK_MAGIC, sizeof lp->magic);
    lp->version = 1;
    lp->salt = salt;
    /* Last, as db.c creates it: a directory holding it is a database. */
    rc = write_copy(b, VMDB__LOCK_NAME, buf, page);
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
    char *inside = vmdb__format("%s/%s", b->tmp, VMDB__LOCK_NAME);
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
    char *path = vmdb__format("%s/%s", (const char *)ctx, name);
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

#ifdef VMDB_TEST_HOOKS
void (*vmdb__backup_test_hook)(vmdb_db *db);
#endif

/* Copies made while writers go on before giving up and copying under the
 * lock, which always succeeds. */
#define LOCK_FREE_ATTEMPTS 3

/*
 * One attempt: snapshot under the lock, copy the table files (writers go
 * on unless `hold_lock`), then under the lock again take the log written
 * meanwhile. LOG_GONE when a checkpoint freed that log first; the copies
 * are then removed for the next attempt.
 */
static int copy_once(vmdb_db *db, struct backup *b, bool hold_lock, struct snapshot *snap,
                     char **log, uint64_t *log_len)
{
    int rc = vmdb__db_lock(db);
    if (rc < 0)
        return rc;
    /* Queued group commits are in the log before the snapshot's position
     * but not yet in the tables: apply them first. */
    rc = vmdb__group_drain(db);
    if (rc == 0)
        rc = snapshot_take(db, snap);
    if (rc == 0) {
        __atomic_add_fetch(&db->backups, 1, __ATOMIC_RELAXED);
        vmdb__db_hold_checkpoints(db, true);
    }
    if (!hold_lock || rc < 0)
        vmdb__db_unlock(db);
    if (rc < 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < snap->count; i++)
        rc = copy_table_file(b, &snap->tables[i], db);
#ifdef VMDB_TEST_HOOKS
    if (rc == 0 && !hold_lock && vmdb__backup_test_hook)
        vmdb__backup_test_hook(db);
#endif
    int lrc = hold_lock ? 0 : vmdb__db_lock(db);
    if (lrc == 0) {
        if (rc == 0)
            rc = vmdb__group_drain(db);
        if (rc == 0)
            rc = take_log_tail(db, snap, log, log_len);
        __atomic_sub_fetch(&db->backups, 1, __ATOMIC_RELAXED);
        vmdb__db_hold_checkpoints(db, false);
        vmdb__db_unlock(db);
    } else {
        rc = rc < 0 ? rc : lrc;
        __atomic_sub_fetch(&db->backups, 1, __ATOMIC_RELAXED);
    }
    return rc;
}

/* Closes and forgets the files of a failed attempt. */
static void discard_copies(struct backup *b)
{
    for (size_t i = 0; i < b->count; i++)
        vmdb__os_close(b->fds[i]);
    b->count = 0;
    vmdb__os_list_dir(b->tmp, unlink_entry, (void *)b->tmp);
}

/* Opening the finished copy once replays nothing (its log is empty) but
 * builds each table's index from its records, and closing it leaves
 * everything synced. */
static int build_indexes(const char *tmp)
{
    vmdb_db *copy;
    int rc = vmdb_open(tmp, NULL, &copy);
    if (rc == 0)
        rc = vmdb_checkpoint(copy);
    vmdb_close(copy);
    return rc;
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
    char *dest = vmdb__format("%.*s", (int)n, dest_dir);
    char *tmp = dest ? vmdb__format("%s.tmp-%ld", dest, vmdb__os_pid()) : NULL;
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
    struct snapshot snap = {0};
    char *log = NULL;
    uint64_t log_len = 0;
    for (unsigned attempt = 0; rc == 0; attempt++) {
        rc = copy_once(db, &b, attempt == LOCK_FREE_ATTEMPTS, &snap, &log, &log_len);
        if (rc != LOG_GONE)
            break;
        __atomic_add_fetch(&db->backup_retries, 1, __ATOMIC_RELAXED);
        snapshot_free(&snap);
        discard_copies(&b);
        rc = 0;
    }
    if (rc == 0)
        rc = replay_into_copy(&b, &snap, log, log_len);
    if (rc == 0)
        rc = make_log_and_lock(&b, vmdb__db_wal_start_size(db->wal_max), db->wal_max,
                               snap.from + log_len);
    if (rc == 0)
        rc = sync_all(&b);
    for (size_t i = 0; i < b.count; i++)
        vmdb__os_close(b.fds[i]);
    free(b.fds);
    free(log);
    snapshot_free(&snap);
    if (rc == 0)
        rc = build_indexes(tmp);
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
