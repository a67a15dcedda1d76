/*
 * engine/db/db.c - the database: a directory of table files, their indexes,
 * the log and a lock file; opening with recovery, checkpoints, tables.
 *
 * Directory layout:
 *
 *   vmdb.lock   the lock file; its first page (vmdb__lock_page) is shared
 *               by writers in every process; created last, so a directory
 *               holding it is a complete database
 *   wal.ring    the write-ahead log (engine/store/wal.c)
 *   NAME.vmt    a table (engine/store/table.c)
 *   NAME.vmi    its primary index (engine/store/index.c), rebuilt from the table
 *               whenever it cannot be trusted
 *
 * Recovery, at every open for writing, under the writer lock: scan the log
 * from the last checkpoint, replay the after-images of every transaction
 * whose COMMIT record is there (replay is idempotent: full images at fixed
 * record ids), ignore the rest, then make the result durable (flush the
 * tables, rebuild the indexes if anything was replayed) and checkpoint at
 * the end of the valid log with a new salt, so that nothing after that end
 * can ever be replayed.
 */
#include "db.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index.h"
#include "internal.h"
#include "os.h"

#define LOCK_MAGIC "VMDBLOCK"
#define LOCK_NAME "vmdb.lock"
#define WAL_NAME "wal.ring"
#define DEFAULT_WAL_SIZE ((uint64_t)64 << 20)

/* ---- small helpers ------------------------------------------------------ */

static char *join(const char *dir, const char *name, const char *ext)
{
    size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s", dir, name, ext);
    return p;
}

vmdb_table *vmdb__db_table_by_id(vmdb_db *db, uint16_t id)
{
    for (size_t i = 0; i < db->table_count; i++)
        if (db->tables[i]->id == id)
            return db->tables[i];
    return NULL;
}

static vmdb_table *table_by_name(vmdb_db *db, const char *name)
{
    for (size_t i = 0; i < db->table_count; i++)
        if (!strcmp(db->tables[i]->name, name))
            return db->tables[i];
    return NULL;
}

int vmdb__db_poison(vmdb_db *db, int rc)
{
    db->poisoned = true;
    return rc;
}

/* ---- tables and indexes ------------------------------------------------- */

static int index_match(void *ctx, uint64_t rid, const void *key, size_t len)
{
    return vmdb__table_key_equals(ctx, rid, key, len);
}

static int index_rebuild(vmdb_table *t)
{
    /* The index is rebuilt from the slots alone: a record whose live flag
     * was cleared, or a zeroed page, would silently drop out of it. A
     * table that fails its checks keeps the index it has. So does one
     * where two live slots hold the same key (a log that put a record
     * onto another's key, replayed): an index holds one of them, and the
     * other would be found by scans, never by its key. */
    int rc = vmdb__table_verify(t, NULL, NULL);
    if (rc < 0) {
        char why[sizeof vmdb_last_error()->message];
        snprintf(why, sizeof why, "%s", vmdb_last_error()->message);
        return vmdb__fail(rc, "%s; its index is not rebuilt from it", why);
    }
    rc = vmdb__index_clear(t->index);
    if (rc == 0)
        rc = vmdb__index_reserve(t->index, t->live_count);
    char *record = malloc(t->record_size);
    if (!record)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", t->path);
    for (uint64_t rid = 0; rc == 0 && rid < t->capacity; rid++) {
        const vmdb__slot *s = vmdb__table_slot(t, rid);
        if (!s->live)
            continue;
        const void *key;
        size_t len;
        vmdb__table_key(t, s + 1, &key, &len);
        uint64_t hash = vmdb__index_hash(key, len), other;
        rc = vmdb__index_find(t->index, hash, key, len, index_match, t, &other);
        if (rc == 0)
            rc = vmdb__fail(VMDB_ECORRUPT,
                            "%s: records %llu and %llu hold the same key; its index is not "
                            "rebuilt from it",
                            t->path, (unsigned long long)other, (unsigned long long)rid);
        else if (rc == VMDB_ENOTFOUND)
            rc = vmdb__index_insert(t->index, hash, rid);
    }
    free(record);
    return rc;
}

/* An index rebuilt while readers may be reading it: it lacks keys until
 * the rebuild ends, which a read transaction must not end on. */
static int index_rebuild_seen(vmdb_table *t)
{
    vmdb__db_changing(t->db, true);
    int rc = index_rebuild(t);
    if (rc == 0)
        vmdb__db_changing(t->db, false);
    return rc;
}

/* Opens the index of table t, creating and rebuilding it when it is
 * missing or cannot be trusted (a writer only). */
static int open_index(vmdb_db *db, vmdb_table *t, bool *rebuilt)
{
    char *path = join(db->path, t->name, ".vmi");
    if (!path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    unsigned flags = db->readonly ? VMDB__INDEX_READONLY : 0;
    vmdb__os_stat file;
    int named = vmdb__os_stat_path(path, &file); /* before mapping: follow.c */
    int rc = vmdb__index_open(path, flags, 0, &t->index);
    if (rc == 0 && named == 0) {
        t->index_dev = file.dev;
        t->index_ino = file.ino;
    }
    vmdb__index_stats st;
    if (rc == 0 && !db->readonly && vmdb__index_stats_get(t->index, &st) == 0 &&
        st.interrupted) {
        /* A writer died in the middle of changing it. */
        rc = index_rebuild(t);
        if (rc == 0 && rebuilt)
            *rebuilt = true;
        free(path);
        return rc;
    }
    if (rc < 0 && !db->readonly) {
        /* An index is derived data: a damaged or missing one is rebuilt. */
        vmdb__os_unlink(path);
        rc = vmdb__index_open(path, VMDB__INDEX_CREATE, t->live_count, &t->index);
        if (rc == 0)
            rc = vmdb__follow_note(t, NULL, path);
        if (rc == 0)
            rc = index_rebuild(t);
        if (rc == 0 && rebuilt)
            *rebuilt = true;
    }
    free(path);
    return rc;
}

static int add_table(vmdb_db *db, vmdb_table *t)
{
    vmdb_table **grown = realloc(db->tables, (db->table_count + 1) * sizeof *grown);
    if (!grown)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    db->tables = grown;
    size_t at = db->table_count;
    while (at > 0 && strcmp(db->tables[at - 1]->name, t->name) > 0) {
        db->tables[at] = db->tables[at - 1];
        at--;
    }
    db->tables[at] = t;
    db->table_count++;
    t->db = db;
    return 0;
}

static int open_table_file(vmdb_db *db, const char *file)
{
    char *path = join(db->path, file, "");
    if (!path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    vmdb_table *t;
    vmdb__os_stat st;
    int named = vmdb__os_stat_path(path, &st); /* before mapping: follow.c */
    int rc = vmdb__table_open(path, db->readonly, db->verify, &t);
    free(path);
    if (rc < 0)
        return rc;
    if (named == 0) {
        t->file_dev = st.dev;
        t->file_ino = st.ino;
    }
    /* File names are built from the header's name (the index, a
     * compaction's copies): it must be the name this file goes by. */
    size_t file_len = strlen(file) - 4; /* without ".vmt" */
    if (strlen(t->name) != file_len || memcmp(t->name, file, file_len) != 0) {
        rc = vmdb__fail(VMDB_ECORRUPT, "%s: its header names table '%s', not '%.*s'", t->path,
                        t->name, (int)file_len, file);
        vmdb__table_close(t);
        return rc;
    }
    if (table_by_name(db, t->name) || vmdb__db_table_by_id(db, t->id)) {
        rc = vmdb__fail(VMDB_ECORRUPT, "%s: table '%s' (id %u) is there twice", t->path,
                        t->name, t->id);
        vmdb__table_close(t);
        return rc;
    }
    rc = add_table(db, t);
    if (rc < 0)
        vmdb__table_close(t);
    return rc;
}

struct table_listing {
    vmdb_db *db;
    int rc; /* the first failure, a VMDB_E* code */
    bool new_only; /* skip the tables already open */
};

/* The directory walk's callback: its return value shares a channel with
 * errno values, so a failure is kept in the listing and signalled by 1. */
static int open_if_table(void *ctx, const char *name)
{
    struct table_listing *l = ctx;
    size_t n = strlen(name);
    if (n < 5 || strcmp(name + n - 4, ".vmt") != 0)
        return 0;
    if (l->new_only) {
        char table[VMDB__TABLE_NAME_MAX + 1];
        if (n - 4 > VMDB__TABLE_NAME_MAX)
            return 0;
        memcpy(table, name, n - 4);
        table[n - 4] = '\0';
        if (table_by_name(l->db, table))
            return 0;
    }
    if (!l->db->flock_held) {
        /* Without the lock this may be a table another process is
         * creating: its index comes next, then the layout epoch that makes
         * every handle look again. Until then it is not there. */
        char *index_path = join(l->db->path, name, "");
        if (!index_path) {
            l->rc = vmdb__fail(VMDB_ENOMEM, "%s: out of memory", l->db->path);
            return 1;
        }
        memcpy(index_path + strlen(index_path) - 4, ".vmi", 4); /* NAME.vmt -> NAME.vmi */
        vmdb__os_stat st;
        bool indexed = vmdb__os_stat_path(index_path, &st) == 0;
        free(index_path);
        if (!indexed)
            return 0;
    }
    l->rc = open_table_file(l->db, name);
    return l->rc < 0;
}

int vmdb__db_open_new_tables(vmdb_db *db)
{
    struct table_listing listing = {.db = db, .new_only = true};
    size_t before = db->table_count;
    int list = vmdb__os_list_dir(db->path, open_if_table, &listing);
    if (list < 0)
        return vmdb__fail_os(list, "%s: cannot list the directory", db->path);
    if (listing.rc < 0)
        return listing.rc;
    /* The new ones (anywhere in the sorted list): their indexes, and a
     * writer's free-slot state. */
    for (size_t i = 0; i < db->table_count && db->table_count > before; i++) {
        vmdb_table *t = db->tables[i];
        if (t->index)
            continue;
        int rc = db->readonly ? 0 : vmdb__table_scan_state(t);
        if (rc == 0)
            rc = open_index(db, t, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int vmdb__db_forget_table(vmdb_db *db, vmdb_table *t)
{
    vmdb_table **grown = realloc(db->dropped, (db->dropped_count + 1) * sizeof *grown);
    if (!grown)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    db->dropped = grown;
    db->dropped[db->dropped_count++] = t;
    size_t i = 0;
    while (db->tables[i] != t)
        i++;
    memmove(&db->tables[i], &db->tables[i + 1], (db->table_count - i - 1) * sizeof t);
    db->table_count--;
    __atomic_store_n(&t->dropped, true, __ATOMIC_RELEASE);
    return 0;
}

/* ---- the lock file ------------------------------------------------------ */

static int open_lock(vmdb_db *db)
{
    char *path = join(db->path, LOCK_NAME, "");
    if (!path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    /* Readers map it too, read-only, to follow replaced files (follow.c). */
    vmdb_map_options mo = {.mode = db->readonly ? VMDB_MAP_READ : VMDB_MAP_WRITE,
                           .len = vmdb_page_size()};
    int rc = vmdb_map_open(path, &mo, &db->lock_map);
    if (rc == 0) {
        db->lock_page = vmdb_map_ptr(db->lock_map);
        if (memcmp(db->lock_page->magic, LOCK_MAGIC, 8) != 0)
            rc = vmdb__fail(VMDB_EBADMAGIC, "%s: not a vmdb lock file", path);
        else if (db->lock_page->version != 1)
            rc = vmdb__fail(VMDB_EVERSION, "%s: lock file version %u, this build reads 1", path,
                            db->lock_page->version);
    }
    if (rc == 0 && (rc = vmdb__os_open(path, VMDB__OS_RDONLY, 0, &db->lock_fd)) < 0)
        rc = vmdb__fail_os(rc, "%s: cannot open", path);
    /* A reader cannot finish what a dead writer left half applied; it must
     * not show it either. A writer holding the lock may be applying now,
     * legitimately: only a free lock with the count up means a death, and
     * the count is read again under the lock, as a writer may have brought
     * it down and let go meanwhile. */
    bool dead_writer = false;
    if (rc == 0 && db->readonly && !db->as_is &&
        __atomic_load_n(&db->lock_page->applying, __ATOMIC_ACQUIRE) != 0 &&
        vmdb__os_try_lock_file_shared(db->lock_fd) == 0) {
        dead_writer = __atomic_load_n(&db->lock_page->applying, __ATOMIC_ACQUIRE) != 0;
        vmdb__os_lock_file(db->lock_fd, false);
    }
    if (dead_writer)
        rc = vmdb__fail(VMDB_ENEEDRECOVERY,
                        "%s: a writer stopped before all its commits reached the tables (it "
                        "died, or a write to the disk failed); open the database for writing "
                        "once to finish it (vmdb recover %s)",
                        db->path, db->path);
    if (rc == 0)
        db->seen_layout_epoch = db->lock_page->layout_epoch;
    free(path);
    return rc;
}

int vmdb__db_open_lock_file(vmdb_db *db, int *fd)
{
    char *path = join(db->path, LOCK_NAME, "");
    if (!path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    int rc = vmdb__os_open(path, VMDB__OS_RDONLY, 0, fd);
    if (rc < 0)
        rc = vmdb__fail_os(rc, "%s: cannot open", path);
    free(path);
    return rc;
}

static int finish_dead_writer(vmdb_db *db);

/* Most 20 us naps a writer that just let the lock go to a waiting process
 * takes before it competes for the lock again. */
#define YIELD_NAPS 10000

_Static_assert(offsetof(vmdb__lock_page, holder_pid) == 104,
               "every build that opens a database shares the lock page's layout");

static long lock_holder(vmdb_db *db)
{
    return (long)__atomic_load_n(&db->lock_page->holder_pid, __ATOMIC_RELAXED);
}

static int busy_error(vmdb_db *db)
{
    long pid = lock_holder(db);
    if (pid == 0)
        return vmdb__fail(VMDB_EBUSY,
                          "%s: database is locked (by another process, pid unknown; waited %u ms)",
                          db->path, db->busy_timeout_ms);
    if (pid == vmdb__os_pid())
        return vmdb__fail(VMDB_EBUSY,
                          "%s: database is locked (pid %ld holds the write lock: this process, "
                          "through another handle; waited %u ms)",
                          db->path, pid, db->busy_timeout_ms);
    return vmdb__fail(VMDB_EBUSY, "%s: database is locked (pid %ld holds the write lock; "
                                  "waited %u ms)",
                      db->path, pid, db->busy_timeout_ms);
}

/*
 * Waits for the file lock another process holds, as the options say: as
 * long as it takes in one blocking call when there is neither a timeout
 * nor a notice, otherwise in naps (os.c) up to the notice, then up to the
 * timeout. -EWOULDBLOCK when the timeout passed.
 */
static int wait_for_file_lock(vmdb_db *db)
{
    if (!db->busy_timeout_ms && !db->busy_notice)
        return vmdb__os_lock_file(db->lock_fd, true);
    uint64_t start = vmdb__os_now_ns();
    uint64_t give_up = db->busy_timeout_ms ? start + db->busy_timeout_ms * 1000000ull : UINT64_MAX;
    uint64_t notice_at = start + VMDB_BUSY_NOTICE_MS * 1000000ull;
    if (db->busy_notice && notice_at < give_up) {
        int rc = vmdb__os_lock_file_until(db->lock_fd, notice_at);
        if (rc != -EWOULDBLOCK)
            return rc;
        db->busy_notice(db->busy_notice_ctx, db->path, lock_holder(db));
    }
    if (give_up == UINT64_MAX)
        return vmdb__os_lock_file(db->lock_fd, true);
    return vmdb__os_lock_file_until(db->lock_fd, give_up);
}

/*
 * The file lock, fairly. A holder keeps it while its NONE commits wait
 * for their log flush (group.c), unless it sees a waiter: so a process
 * that waits marks itself, for the whole wait. flock itself is not fair:
 * the holder that lets go would take it again at its next transaction,
 * before the waiter it woke has run. So a holder that just let go for a
 * waiter first waits for the waiters to get their turn (their mark goes
 * once they have the lock), a bounded while.
 *
 * Returns 0 or a VMDB_E* code with its message: VMDB_EBUSY when another
 * process held the lock for busy_timeout_ms.
 */
static int take_file_lock(vmdb_db *db)
{
    if (db->yielded) {
        db->yielded = false;
        for (int i = 0; i < YIELD_NAPS && vmdb__os_has_waiter(db->lock_fd) > 0; i++)
            nanosleep(&(struct timespec){0, 20 * 1000}, NULL);
    }
    int rc = vmdb__os_try_lock_file(db->lock_fd);
    if (rc == -EWOULDBLOCK) {
        vmdb__os_mark_waiter(db->lock_fd, true);
        rc = wait_for_file_lock(db);
        vmdb__os_mark_waiter(db->lock_fd, false);
        if (rc == -EWOULDBLOCK)
            return busy_error(db);
    }
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot take the write lock", db->path);
    __atomic_store_n(&db->lock_page->holder_pid, (uint32_t)vmdb__os_pid(), __ATOMIC_RELAXED);
    return 0;
}

static int lock_writer(vmdb_db *db);

int vmdb__db_lock(vmdb_db *db)
{
    if (vmdb__db_inherited(db))
        return vmdb__fail(VMDB_EINVAL, "%s: this handle was opened before a fork, by the parent "
                                       "process; open the database again in this one",
                          db->path);
    if (vmdb__read_holding(db))
        return vmdb__fail(VMDB_EBUSY,
                          "%s: this thread holds writers back in a read transaction; end it "
                          "first",
                          db->path);
    /* The writer lock is not recursive: this thread would wait for itself. */
    if (vmdb__db_held_by_me(db))
        return vmdb__fail(VMDB_EBUSY,
                          "%s: this thread holds the write lock (a transaction is open); commit "
                          "or abort it first",
                          db->path);
    int rc = lock_writer(db);
    if (rc == 0)
        __atomic_store_n(&db->lock_thread, (unsigned long)pthread_self(), __ATOMIC_RELAXED);
    return rc;
}

static int lock_writer(vmdb_db *db)
{
    pthread_mutex_lock(&db->writer);
    if (db->flock_held)
        return 0; /* kept for queued group commits: nothing changed elsewhere */
    int rc = take_file_lock(db);
    if (rc < 0) {
        pthread_mutex_unlock(&db->writer);
        return rc;
    }
    db->flock_held = true;
    pthread_mutex_lock(&db->group);
    db->flushed_to = 0; /* others may have written since: flush from the lock page's LSN */
    pthread_mutex_unlock(&db->group);
    rc = vmdb__follow_locked(db);
    if (rc < 0) {
        vmdb__db_release_file_lock(db);
        pthread_mutex_unlock(&db->writer);
        return rc;
    }
    uint64_t gen = __atomic_load_n(&db->lock_page->generation, __ATOMIC_ACQUIRE);
    bool dead_writer = __atomic_load_n(&db->lock_page->applying, __ATOMIC_ACQUIRE) != 0;
    if (gen != __atomic_load_n(&db->seen_generation, __ATOMIC_RELAXED) || dead_writer) {
        /* Another process wrote since this one last held the lock. */
        rc = vmdb__wal_adopt_salt(db->wal, db->lock_page->salt);
        for (size_t i = 0; rc == 0 && i < db->table_count; i++) {
            vmdb_table *t = db->tables[i];
            rc = vmdb__table_refresh(t);
            if (rc == 0)
                rc = vmdb__table_scan_state(t);
            if (rc == 0)
                rc = vmdb__index_refresh(t->index);
            vmdb__index_stats st;
            if (rc == 0 && vmdb__index_stats_get(t->index, &st) == 0 && st.interrupted)
                rc = index_rebuild_seen(t); /* that process died mid-change */
        }
        if (rc < 0) {
            vmdb__db_release_file_lock(db);
            pthread_mutex_unlock(&db->writer);
            return rc;
        }
        __atomic_store_n(&db->seen_generation, gen, __ATOMIC_RELAXED);
    }
    if (dead_writer && (rc = finish_dead_writer(db)) < 0) {
        vmdb__db_release_file_lock(db);
        pthread_mutex_unlock(&db->writer);
        return rc;
    }
    return 0;
}

/* Every way the lock goes (a commit's unlock, the flusher's idle round, a
 * yield) leaves the next take_file_lock to let a marked waiter in first:
 * a holder whose flusher let go while its writer was between transactions
 * would otherwise take the lock straight back, round after round, while
 * the woken waiter was still on its way (seen under valgrind, where the
 * waiter is slow to run). */
void vmdb__db_release_file_lock(vmdb_db *db)
{
    __atomic_store_n(&db->lock_page->holder_pid, 0, __ATOMIC_RELAXED);
    vmdb__os_lock_file(db->lock_fd, false);
    db->flock_held = false;
    db->yielded = vmdb__os_has_waiter(db->lock_fd) > 0;
}

void vmdb__db_unlock(vmdb_db *db)
{
    __atomic_store_n(&db->lock_thread, 0, __ATOMIC_RELAXED);
    db->open_txn = NULL;
    bool idle = vmdb__group_idle_at_unlock(db);
    /* Another process waits (the flusher looks after each flush): it may
     * not wait for a writer here that commits without a pause. */
    if (!idle && __atomic_load_n(&db->yield_file_lock, __ATOMIC_RELAXED)) {
        __atomic_store_n(&db->yield_file_lock, false, __ATOMIC_RELAXED);
        idle = vmdb__group_drain(db) == 0;
    }
    if (idle)
        vmdb__db_release_file_lock(db);
    pthread_mutex_unlock(&db->writer);
}

int vmdb__db_lock_drained(vmdb_db *db)
{
    int rc = vmdb__db_lock(db);
    if (rc < 0)
        return rc;
    rc = vmdb__group_drain(db);
    if (rc < 0)
        vmdb__db_unlock(db);
    return rc;
}

/* Called with the lock held after every change other processes must see. */
static void publish_generation(vmdb_db *db)
{
    db->lock_page->salt = vmdb__wal_salt(db->wal);
    __atomic_store_n(&db->seen_generation,
                     __atomic_add_fetch(&db->lock_page->generation, 1, __ATOMIC_ACQ_REL),
                     __ATOMIC_RELAXED);
}

/* ---- creating a database ------------------------------------------------ */

/* Makes the files of a new database in `path`, a directory holding nothing
 * (creation leftovers are gone), under the creation lock: the log first,
 * the lock file last, so that a crash in between leaves a directory that
 * is not yet a database rather than half of one. */
static int init_dir(const char *path, const vmdb_db_options *o)
{
    char *wal_path = join(path, WAL_NAME, "");
    char *lock_path = join(path, LOCK_NAME, "");
    char *tmp = join(path, LOCK_NAME, ".tmp");
    int rc = 0;
    if (!wal_path || !lock_path || !tmp)
        rc = vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    vmdb__wal *wal = NULL;
    if (rc == 0)
        rc = vmdb__wal_open(wal_path, o->wal_size ? o->wal_size : DEFAULT_WAL_SIZE, true,
                            false, &wal);
    uint64_t salt = wal ? vmdb__wal_salt(wal) : 0;
    vmdb__wal_close(wal);
    if (rc == 0) {
        size_t page = vmdb_page_size();
        char *buf = calloc(1, page);
        vmdb__lock_page *lp = (vmdb__lock_page *)buf;
        int fd = -1;
        if (!buf) {
            rc = vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
        } else {
            memcpy(lp->magic, LOCK_MAGIC, 8);
            lp->version = 1;
            lp->salt = salt;
            rc = vmdb__os_open(tmp, VMDB__OS_RDWR | VMDB__OS_CREATE | VMDB__OS_TRUNC, 0644, &fd);
            if (rc == 0)
                rc = vmdb__os_pwrite_all(fd, buf, page, 0);
            if (rc == 0)
                rc = vmdb__os_sync(fd, false);
            vmdb__os_close(fd);
            if (rc == 0)
                rc = vmdb__os_rename(tmp, lock_path);
            if (rc == 0)
                rc = vmdb__os_sync_dir_of(lock_path);
            if (rc < 0)
                rc = vmdb__fail_os(rc, "%s: cannot create the lock file", lock_path);
        }
        free(buf);
    }
    free(wal_path);
    free(lock_path);
    free(tmp);
    return rc;
}

/* Whether `name` is what a creation cut short leaves: the log, the ring's
 * temporary file (WAL_NAME.tmp-PID) or the lock file's. */
static bool creation_leftover(const char *name)
{
    static const char ring_tmp[] = WAL_NAME ".tmp-";
    if (!strcmp(name, WAL_NAME) || !strcmp(name, LOCK_NAME ".tmp"))
        return true;
    if (strncmp(name, ring_tmp, sizeof ring_tmp - 1) != 0 || !name[sizeof ring_tmp - 1])
        return false;
    for (const char *p = name + sizeof ring_tmp - 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

struct leftovers {
    const char *dir;
    bool remove;       /* the second pass */
    char stranger[VMDB_PRINTABLE_CAP]; /* the first entry that is not a leftover, shown */
    int rc;            /* the first failed removal */
};

static int note_leftover(void *ctx, const char *name)
{
    struct leftovers *l = ctx;
    if (!creation_leftover(name)) {
        vmdb_printable(name, strlen(name), l->stranger, sizeof l->stranger);
        return 1;
    }
    if (!l->remove)
        return 0;
    char *p = join(l->dir, name, "");
    int rc = p ? vmdb__os_unlink(p) : -ENOMEM;
    free(p);
    if (rc < 0 && rc != -ENOENT) {
        l->rc = vmdb__fail_os(rc, "%s/%s: cannot remove a leftover of an earlier creation",
                              l->dir, name);
        return 1;
    }
    return 0;
}

/* Under the creation lock, in a directory with no lock file: creates the
 * database if asked and the directory holds nothing but what an earlier
 * creation cut short left. */
static int create_locked(const char *path, const vmdb_db_options *o)
{
    struct leftovers l = {.dir = path};
    int rc = vmdb__os_list_dir(path, note_leftover, &l);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot list the directory", path);
    if (l.stranger[0])
        return vmdb__fail(VMDB_EINVAL, "%s: not a vmdb database (no %s, and it holds '%s')",
                          path, LOCK_NAME, l.stranger);
    if (!(o->flags & VMDB_DB_CREATE))
        return vmdb__fail(VMDB_EINVAL, "%s: not a vmdb database (no %s)", path, LOCK_NAME);
    l.remove = true;
    rc = vmdb__os_list_dir(path, note_leftover, &l);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot list the directory", path);
    if (l.rc < 0)
        return l.rc;
    if (l.stranger[0])
        return vmdb__fail(VMDB_EINVAL, "%s: not a vmdb database (no %s, and it holds '%s')",
                          path, LOCK_NAME, l.stranger);
    return init_dir(path, o);
}

static bool has_lock_file(const char *path)
{
    char *lock_path = join(path, LOCK_NAME, "");
    vmdb__os_stat st;
    bool there = lock_path && vmdb__os_stat_path(lock_path, &st) == 0;
    free(lock_path);
    return there;
}

/*
 * Checks that `path` is a database directory, creating one if asked.
 *
 * The lock file, renamed into place last, says the database is whole; a
 * directory without it is being created, or its creation was cut short,
 * or it is no database. Creation happens under an flock on the directory
 * itself, the one lock that exists before the database does: a process
 * that finds no lock file takes it, looks again (another creator may have
 * finished meanwhile), and only then removes leftovers and creates. Racing
 * creators thus take turns, and every one of them opens the database the
 * first one made.
 */
static int prepare_dir(const char *path, const vmdb_db_options *o)
{
    vmdb__os_stat st;
    int rc = vmdb__os_stat_path(path, &st);
    if (rc < 0 && vmdb__code_from_errno(-rc) == VMDB_ENOENT) {
        if (!(o->flags & VMDB_DB_CREATE))
            return vmdb__fail(VMDB_ENOENT, "%s: no such database", path);
        rc = vmdb__os_mkdir(path);
        if (rc < 0 && rc != -EEXIST) /* EEXIST: a racing creator made it */
            return vmdb__fail_os(rc, "%s: cannot create the database directory", path);
        /* The database's name must survive a power cut as its files do. */
        if (rc == 0 && (rc = vmdb__os_sync_dir_of(path)) < 0)
            return vmdb__fail_os(rc, "%s: cannot sync the directory that holds it", path);
        rc = vmdb__os_stat_path(path, &st);
    }
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot stat", path);
    if (!st.is_dir)
        return vmdb__fail(VMDB_EINVAL, "%s: not a vmdb database (not a directory)", path);
    if (has_lock_file(path))
        return 0;
    int dir_fd;
    rc = vmdb__os_lock_dir(path, &dir_fd);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot lock the directory to create the database", path);
    rc = has_lock_file(path) ? 0 : create_locked(path, o);
    vmdb__os_close(dir_fd);
    return rc;
}

/* ---- recovery ----------------------------------------------------------- */

struct replay {
    vmdb_db *db;
    vmdb_recovery *plan; /* vmdb_recovery_plan: counts, replays nothing */
    uint64_t txn;        /* the transaction being gathered, 0 for none */
    uint64_t txn_start;  /* its first record */
    uint64_t txn_records;
    int error;
};

int vmdb__db_log_record_check(vmdb_db *db, const vmdb__wal_record *rec)
{
    unsigned long long lsn = rec->lsn;
    if (rec->flags || rec->reserved)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: log record at %llu has unknown flags",
                          db->path, lsn);
    if (rec->txn > rec->lsn)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: log record at %llu belongs to a "
                                         "transaction that starts after it (%llu)",
                          db->path, lsn, (unsigned long long)rec->txn);
    if (rec->kind == VMDB__WAL_COMMIT) {
        if (rec->payload_len || rec->table || rec->rid)
            return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: COMMIT record at %llu carries a "
                                             "change",
                              db->path, lsn);
        return 0;
    }
    if (rec->kind != VMDB__WAL_PUT && rec->kind != VMDB__WAL_DELETE)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: log record at %llu is of unknown kind %u",
                          db->path, lsn, rec->kind);
    vmdb_table *t = vmdb__db_table_by_id(db, rec->table);
    if (!t)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: log record at %llu names table id %u, "
                                         "which does not exist",
                          db->path, lsn, rec->table);
    size_t want = rec->kind == VMDB__WAL_PUT ? t->record_size : t->key_size;
    bool fits = rec->kind == VMDB__WAL_PUT || !t->key_is_str ? rec->payload_len == want
                                                               : rec->payload_len <= want;
    if (!fits)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: %s record at %llu holds %u bytes, table "
                                         "'%s' %s %zu",
                          db->path, rec->kind == VMDB__WAL_PUT ? "PUT" : "DELETE", lsn,
                          rec->payload_len, t->name,
                          rec->kind == VMDB__WAL_PUT ? "records are" : "keys are", want);
    /* A new slot comes from the end of the table, one per insert: the
     * log cannot hold more inserts than it has room for PUT records. */
    uint64_t base = t->replay_base ? t->replay_base : __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE);
    uint64_t most = base + vmdb__wal_cap(db->wal) / vmdb__wal_record_len((uint32_t)t->record_size);
    if (rec->rid >= most)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: log record at %llu names record %llu of "
                                         "table '%s', which has %llu slots (no log can grow it "
                                         "past %llu)",
                          db->path, lsn, (unsigned long long)rec->rid, t->name,
                          (unsigned long long)base, (unsigned long long)most);
    return 0;
}

/* Replay grows tables as it goes: the bound on the slots a record may
 * name is taken from the tables as they were before it. */
static void note_replay_bases(vmdb_db *db, bool replaying)
{
    for (size_t i = 0; i < db->table_count; i++)
        db->tables[i]->replay_base = replaying ? db->tables[i]->capacity + 1 : 0;
}

static int replay_one(vmdb_db *db, const vmdb__wal_record *rec, const void *payload)
{
    vmdb_table *t = vmdb__db_table_by_id(db, rec->table);
    /* A slot names the transaction that last wrote it (its first
     * record's position): one written by a later transaction already
     * holds newer data, which this older image must not replace. */
    if (rec->rid < t->capacity && vmdb__table_slot(t, rec->rid)->lsn > rec->txn)
        return 0;
    return vmdb__table_write(t, rec->rid, rec->txn,
                             rec->kind == VMDB__WAL_PUT ? payload : NULL);
}

struct committed {
    uint64_t *starts; /* of the transactions committed in the log, ascending */
    size_t count, cap;
};

static int note_commit(void *ctx, const vmdb__wal_record *rec, const void *payload)
{
    (void)payload;
    struct committed *c = ctx;
    if (rec->kind != VMDB__WAL_COMMIT)
        return 0;
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        uint64_t *grown = realloc(c->starts, cap * sizeof *grown);
        if (!grown)
            return 1;
        c->starts = grown;
        c->cap = cap;
    }
    c->starts[c->count++] = rec->txn;
    return 0;
}

static bool committed_in_log(const struct committed *c, uint64_t start)
{
    size_t lo = 0, hi = c->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->starts[mid] < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->count && c->starts[lo] == start;
}

/*
 * Before anything is replayed: every slot written since the checkpoint
 * must have been written by a transaction whose COMMIT the log still
 * holds, since a change reaches a table only once its log is durable. A
 * slot that names one past the log's end, or one the log lost, means the
 * log is damaged in the middle, not torn at its tail: replaying the
 * valid part would put older images back under newer ones and leave the
 * later transactions half there. VMDB_ECORRUPT names where.
 */
static int log_holds_what_tables_hold(vmdb_db *db, vmdb_recovery *rep)
{
    uint64_t start = vmdb__wal_start(db->wal);
    struct committed c = {0};
    vmdb__wal_scan_end end;
    if (vmdb__wal_scan(db->wal, start, UINT64_MAX, note_commit, &c, &end)) {
        free(c.starts);
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    }
    const vmdb_table *first_table = NULL;
    uint64_t first_rid = 0;
    for (size_t i = 0; i < db->table_count; i++) {
        vmdb_table *t = db->tables[i];
        for (uint64_t rid = 0; rid < t->capacity; rid++) {
            const vmdb__slot *slot = vmdb__table_slot(t, rid);
            uint64_t lsn = slot->lsn;
            if (slot->seq == 0 || lsn < start || committed_in_log(&c, lsn))
                continue; /* never written, or written before the checkpoint */
            if (rep->slots_beyond_log++ == 0 || lsn < rep->first_lost_lsn) {
                rep->first_lost_lsn = lsn;
                first_table = t;
                first_rid = rid;
            }
        }
    }
    free(c.starts);
    if (!first_table || (db->open_flags & VMDB_DB_POINT_IN_TIME))
        return 0;
    return vmdb__fail(VMDB_ECORRUPT,
                      "%s/wal.ring: the log's valid part ends at %llu%s, but slot %llu of table "
                      "'%s' holds the transaction at %llu, which the log does not have whole "
                      "(%llu slot%s such): the log is damaged in the middle; `vmdb recover "
                      "--dry-run` says what a recovery would keep, `vmdb recover "
                      "--point-in-time` keeps it",
                      db->path, (unsigned long long)end.pos,
                      end.torn ? " (a damaged record)" : "", (unsigned long long)first_rid,
                      first_table->name, (unsigned long long)rep->first_lost_lsn,
                      (unsigned long long)rep->slots_beyond_log,
                      rep->slots_beyond_log == 1 ? "" : "s");
}


/* Replays the records of transaction r->txn, from r->txn_start up to its
 * COMMIT at `commit_lsn`. They are still in the ring: read them there. */
static int replay_txn(struct replay *r, uint64_t commit_lsn)
{
    vmdb_ring *ring = vmdb__wal_ring(r->db->wal);
    for (uint64_t pos = r->txn_start; pos < commit_lsn;) {
        const vmdb__wal_record *rec = vmdb_ring_pos_ptr(ring, pos);
        int rc = replay_one(r->db, rec, (const char *)rec + VMDB__WAL_HEADER_LEN);
        if (rc < 0)
            return rc;
        pos += rec->len;
    }
    return 0;
}

static int gather(void *ctx, const vmdb__wal_record *rec, const void *payload)
{
    (void)payload;
    struct replay *r = ctx;
    vmdb_recovery *rep = r->plan ? r->plan : &r->db->recovery;
    /* Every record is checked before any of its transaction is applied:
     * a damaged one refuses the log, it is not replayed as whatever its
     * fields happen to say. */
    int valid = vmdb__db_log_record_check(r->db, rec);
    if (valid < 0) {
        r->error = valid;
        return 1;
    }
    if (rec->txn != r->txn) {
        /* A new transaction: whatever was gathered never committed. */
        rep->discarded += r->txn_records;
        r->txn = rec->txn;
        r->txn_start = rec->lsn;
        r->txn_records = 0;
    }
    if (rec->kind != VMDB__WAL_COMMIT) {
        r->txn_records++;
        return 0;
    }
    int rc = r->plan ? 0 : replay_txn(r, rec->lsn);
    if (rc < 0) {
        r->error = rc;
        return 1;
    }
    rep->transactions++;
    rep->records += r->txn_records;
    rep->bytes += rec->lsn + rec->len - r->txn_start;
    r->txn = 0;
    r->txn_records = 0;
    return 0;
}

int vmdb_recovery_plan(vmdb_db *db, vmdb_recovery *plan)
{
    if (!db || !plan)
        return vmdb__fail(VMDB_EINVAL, "vmdb_recovery_plan: db and plan are required");
    *plan = (vmdb_recovery){.first_lsn = vmdb__wal_start(db->wal)};
    struct replay r = {.db = db, .plan = plan};
    vmdb__wal_scan_end end;
    vmdb__wal_scan(db->wal, plan->first_lsn, UINT64_MAX, gather, &r, &end);
    if (r.error)
        return r.error;
    plan->discarded += r.txn_records;
    plan->end_lsn = end.pos;
    plan->torn_tail = end.torn;
    unsigned flags = db->open_flags;
    db->open_flags |= VMDB_DB_POINT_IN_TIME; /* count, do not fail */
    int rc = log_holds_what_tables_hold(db, plan);
    db->open_flags = flags;
    plan->refused = plan->slots_beyond_log > 0;
    return rc;
}

static bool log_is_empty(vmdb_db *db)
{
    return vmdb__wal_start(db->wal) == vmdb__wal_end(db->wal);
}

/* After recovery: the tables are up to date with the log in this boot.
 * The lock page is never flushed, so after a power cut it holds an older
 * boot's id, or none: that is what a reader goes by. */
static void note_boot(vmdb_db *db)
{
    char boot[37];
    if (vmdb__os_boot_id(boot) < 0)
        boot[0] = '\0'; /* no boot known: readers check the log instead */
    char *to = db->lock_page->boot_id;
    memset(to, 0, sizeof db->lock_page->boot_id);
    memcpy(to, boot, strlen(boot));
}

/* A read-only open cannot replay the log. If no writer has recovered the
 * database in this boot and the log holds records past the checkpoint,
 * a power cut may have left the tables behind them: refuse rather than
 * show that. A writer of this boot applies what it logs before it lets
 * go of the lock, so its records in the log are no such sign. */
static bool recovered_this_boot(vmdb_db *db)
{
    char seen[sizeof db->lock_page->boot_id], boot[37];
    memcpy(seen, db->lock_page->boot_id, sizeof seen);
    seen[sizeof seen - 1] = '\0';
    return vmdb__os_boot_id(boot) == 0 && strcmp(seen, boot) == 0;
}

static int check_recovered_this_boot(vmdb_db *db)
{
    if (recovered_this_boot(db))
        return 0;
    uint64_t start = vmdb__wal_start(db->wal);
    vmdb__wal_scan_end end;
    vmdb__wal_scan(db->wal, start, UINT64_MAX, NULL, NULL, &end);
    if (end.pos == start)
        return 0;
    return vmdb__fail(VMDB_ENEEDRECOVERY,
                      "%s: the log holds transactions from LSN %llu to %llu that no writer has "
                      "replayed since the machine started (a power cut?); open the database "
                      "for writing once to recover them (vmdb recover %s)",
                      db->path, (unsigned long long)start, (unsigned long long)end.pos,
                      db->path);
}

/* Replay changes table pages in place, which the kernel may write back at
 * once: the log they come from must be on disk first, or a power cut
 * during the replay, or before the checkpoint after it, leaves tables
 * holding transactions whose log is gone (a process that died left its
 * last commits in the page cache only). */
static int flush_log_before_replay(vmdb_db *db)
{
    uint64_t start = vmdb__wal_start(db->wal), end = vmdb__wal_end(db->wal);
    int rc = end > start ? vmdb__wal_flush(db->wal, start, end) : 0;
    if (rc < 0)
        return vmdb__db_poison(db, rc);
    __atomic_store_n(&db->lock_page->durable_lsn, end, __ATOMIC_RELEASE);
    return 0;
}

static int recover(vmdb_db *db)
{
    vmdb_recovery *rep = &db->recovery;
    memset(rep, 0, sizeof *rep);
    rep->first_lsn = vmdb__wal_start(db->wal);
    struct replay r = {.db = db};
    vmdb__wal_scan_end end;
    int frc = flush_log_before_replay(db);
    if (frc == 0)
        frc = log_holds_what_tables_hold(db, &db->recovery);
    if (frc < 0)
        return frc;
    /* Readers in other processes may be open: until the indexes match the
     * replayed tables, a read transaction must not end on what it saw. */
    vmdb__db_changing(db, true);
    note_replay_bases(db, true);
    vmdb__wal_scan(db->wal, rep->first_lsn, UINT64_MAX, gather, &r, &end);
    note_replay_bases(db, false);
    if (r.error)
        return r.error;
    rep->discarded += r.txn_records;
    rep->end_lsn = end.pos;
    rep->torn_tail = end.torn;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < db->table_count; i++) {
        rc = vmdb__table_scan_state(db->tables[i]);
        if (rc == 0)
            rc = vmdb__table_repair_headers(db->tables[i]);
        if (rc > 0) {
            db->unflushed = true;
            rc = 0;
        }
    }
    for (size_t i = 0; rc == 0 && i < db->table_count; i++) {
        bool rebuilt = false;
        rc = open_index(db, db->tables[i], &rebuilt);
        if (rc == 0 && rep->transactions > 0 && !rebuilt) {
            /* Replay changed the table under the index: rebuild it. */
            rc = index_rebuild(db->tables[i]);
            rebuilt = true;
        }
        rep->index_rebuilt |= rebuilt;
    }
    if (rc == 0)
        vmdb__db_changing(db, false);
    db->unflushed |= rep->index_rebuilt;
    /* A clean database (the usual open) needs no checkpoint: its log is
     * empty, so the last one left the files durable. Skipping it makes
     * opening cost no flush. Not after a power cut (another boot): the
     * cut may have kept log pages past a lost one, records with the
     * current salt that the scan did not reach; once new records fill
     * the gap, the next recovery would replay them. The checkpoint's new
     * salt retires them. */
    if (rc == 0 && (!log_is_empty(db) || end.pos != vmdb__wal_end(db->wal) || db->unflushed ||
                    !recovered_this_boot(db)))
        rc = vmdb__db_checkpoint_locked(db, end.pos);
    else if (rc == 0)
        /* The lock page is not flushed, so after a power cut it may name an
         * older salt than the log's: a writer adopting that would write
         * records recovery cannot see. The log's own salt is the truth. */
        publish_generation(db);
    if (rc == 0) {
        /* Whatever the lock page held (it is never flushed): the log now
         * ends where recovery found its end, all of it on disk. */
        __atomic_store_n(&db->lock_page->durable_lsn, vmdb__wal_end(db->wal), __ATOMIC_RELEASE);
        __atomic_store_n(&db->lock_page->applying, 0, __ATOMIC_RELEASE);
        note_boot(db);
    }
    return rc;
}

/* With the writer lock, when the lock page says a transaction was being
 * applied: its writer died part way (nobody else can be applying while
 * this process holds the file lock). Its transaction is in the log, whole:
 * replaying the log from the checkpoint finishes it, as recovery at open
 * would, and the indexes are rebuilt for the tables it changed under
 * them. */
static int finish_dead_writer(vmdb_db *db)
{
    vmdb_recovery *rep = &db->recovery;
    memset(rep, 0, sizeof *rep);
    rep->first_lsn = vmdb__wal_start(db->wal);
    struct replay r = {.db = db};
    vmdb__wal_scan_end end;
    int frc = flush_log_before_replay(db);
    if (frc == 0)
        frc = log_holds_what_tables_hold(db, &db->recovery);
    if (frc < 0)
        return frc;
    vmdb__db_changing(db, true);
    note_replay_bases(db, true);
    vmdb__wal_scan(db->wal, rep->first_lsn, vmdb__wal_end(db->wal), gather, &r, &end);
    note_replay_bases(db, false);
    if (r.error)
        return r.error;
    rep->discarded += r.txn_records;
    rep->end_lsn = end.pos;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < db->table_count; i++) {
        rc = vmdb__table_scan_state(db->tables[i]);
        if (rc == 0)
            rc = index_rebuild(db->tables[i]);
    }
    rep->index_rebuilt = db->table_count > 0;
    if (rc == 0)
        vmdb__db_changing(db, false);
    if (rc == 0)
        rc = vmdb__db_checkpoint_locked(db, vmdb__wal_end(db->wal));
    if (rc == 0)
        __atomic_store_n(&db->lock_page->applying, 0, __ATOMIC_RELEASE);
    return rc;
}

/* ---- open and close ----------------------------------------------------- */

#ifdef VMDB_FAULT_INJECTION
void (*vmdb__open_test_hook)(const char *path);
#endif

static void free_db(vmdb_db *db)
{
    for (size_t i = 0; i < db->table_count; i++)
        vmdb__table_close(db->tables[i]);
    for (size_t i = 0; i < db->dropped_count; i++)
        vmdb__table_close(db->dropped[i]);
    free(db->dropped);
    free(db->tables);
    vmdb__wal_close(db->wal);
    vmdb_map_close(db->lock_map);
    vmdb__os_close(db->lock_fd);
    pthread_mutex_destroy(&db->writer);
    pthread_mutex_destroy(&db->state);
    vmdb__txn_free_spares(db);
    vmdb__txn_free_queue_view(db);
    pthread_mutex_destroy(&db->group);
    pthread_mutex_destroy(&db->spare_lock);
    pthread_cond_destroy(&db->group_done);
    free(db->path);
    free(db);
}

int vmdb_open(const char *path, const vmdb_db_options *opts, vmdb_db **out)
{
    static const vmdb_db_options defaults;
    const vmdb_db_options *o = opts ? opts : &defaults;
    if (out)
        *out = NULL;
    if (!path || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_open: path and out are required");
    unsigned known = VMDB_DB_CREATE | VMDB_DB_READONLY | VMDB_DB_VERIFY | VMDB_DB_AS_IS |
                     VMDB_DB_POINT_IN_TIME | VMDB_DB_NO_VERIFY;
    if (o->flags & ~known)
        return vmdb__fail(VMDB_EINVAL, "%s: unknown open flag bits 0x%x", path, o->flags & ~known);
    if ((o->flags & VMDB_DB_VERIFY) && (o->flags & VMDB_DB_NO_VERIFY))
        return vmdb__fail(VMDB_EINVAL, "%s: VERIFY and NO_VERIFY contradict each other", path);
    if ((unsigned)o->durability > VMDB_DURABILITY_GROUP)
        return vmdb__fail(VMDB_EINVAL, "%s: durability %d is not a vmdb_durability", path,
                          (int)o->durability);
    if (o->checkpoint_percent > 100)
        return vmdb__fail(VMDB_EINVAL, "%s: checkpoint_percent %u is over 100", path,
                          o->checkpoint_percent);
    if ((o->flags & VMDB_DB_READONLY) && (o->flags & VMDB_DB_CREATE))
        return vmdb__fail(VMDB_EINVAL, "%s: READONLY cannot CREATE", path);
    int rc = prepare_dir(path, o);
    if (rc < 0)
        return rc;
    vmdb_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    }
    pthread_mutex_init(&db->writer, NULL);
    pthread_mutex_init(&db->state, NULL);
    pthread_mutex_init(&db->group, NULL);
    pthread_mutex_init(&db->spare_lock, NULL);
    pthread_cond_init(&db->group_done, NULL);
    db->lock_fd = -1;
    db->readonly = (o->flags & VMDB_DB_READONLY) != 0;
    db->as_is = (o->flags & VMDB_DB_AS_IS) != 0;
    db->verify = (o->flags & VMDB_DB_NO_VERIFY) == 0;
    db->open_flags = o->flags;
    db->durability = o->durability ? o->durability : VMDB_DURABILITY_NONE;
    db->busy_timeout_ms = o->busy_timeout_ms;
    db->busy_notice = o->busy_notice;
    db->busy_notice_ctx = o->busy_notice_ctx;
    vmdb__group_note_owner(db);
    rc = open_lock(db);
    /* A writer reads the log and the tables only under the lock: another
     * writer may be creating a table, or growing one, until it has the
     * lock, and recovery must not meet a log record naming a table it
     * never listed, nor free slots that were taken after it looked. */
    if (rc == 0 && !db->readonly) {
#ifdef VMDB_FAULT_INJECTION
        if (vmdb__open_test_hook)
            vmdb__open_test_hook(path);
#endif
        rc = take_file_lock(db);
        if (rc == 0)
            db->flock_held = true;
    }
    char *wal_path = join(path, WAL_NAME, "");
    if (rc == 0 && !wal_path)
        rc = vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    if (rc == 0)
        rc = vmdb__wal_open(wal_path, 0, false, db->readonly, &db->wal);
    free(wal_path);
    if (rc == 0 && db->readonly && !db->as_is)
        rc = check_recovered_this_boot(db);
    if (rc == 0) {
        unsigned pct = o->checkpoint_percent ? o->checkpoint_percent : 50;
        db->checkpoint_bytes = vmdb__wal_cap(db->wal) / 100 * pct;
        struct table_listing listing = {.db = db};
        int list = vmdb__os_list_dir(path, open_if_table, &listing);
        if (list < 0)
            rc = vmdb__fail_os(list, "%s: cannot list the directory", path);
        else
            rc = listing.rc;
    }
    if (rc == 0 && db->readonly) {
        for (size_t i = 0; rc == 0 && i < db->table_count; i++)
            rc = open_index(db, db->tables[i], NULL);
    } else if (rc == 0) {
        rc = recover(db);
    }
    if (db->flock_held)
        vmdb__db_release_file_lock(db);
    if (rc < 0) {
        free_db(db);
        return rc;
    }
    *out = db;
    return 0;
}

int vmdb_close(vmdb_db *db)
{
    if (!db)
        return 0;
    if (vmdb__db_inherited(db)) {
        /* The parent's: its lock, queue and files stay as they are. */
        vmdb__group_forget_inherited(db);
        free_db(db);
        return 0;
    }
    /* A transaction this thread left open would keep the lock from the
     * close below: it is aborted, as sqlite3_close_v2 rolls back. */
    if (vmdb__db_held_by_me(db) && db->open_txn)
        vmdb_txn_abort(db->open_txn);
    vmdb__read_end_on(db); /* it would hold the close's checkpoint back */
    int rc = 0;
    if (!db->readonly && !db->poisoned && (rc = vmdb__db_lock(db)) == 0) {
        /* A clean close leaves nothing to replay; with nothing logged and
         * nothing changed beside the log, there is nothing to flush. */
        if (!log_is_empty(db) || db->unflushed || !vmdb__group_idle(db))
            rc = vmdb__db_checkpoint_locked(db, vmdb__wal_end(db->wal));
        vmdb__db_unlock(db);
    } else if (rc == VMDB_EBUSY && !db->unflushed) {
        /* Another process kept the lock past the timeout. This one has no
         * commit queued (it would hold the lock): what it committed is in
         * the log, flushed, and in the tables. The checkpoint is only
         * housekeeping, which the next writer does. */
        vmdb_error_clear();
        rc = 0;
    }
    if (!db->readonly)
        vmdb__group_stop(db);
    if (rc == 0 && db->poisoned)
        rc = vmdb__fail(VMDB_EPOISONED, "%s: a flush failed earlier; the log has what was "
                                        "committed, and the next open recovers it",
                        db->path);
    free_db(db);
    return rc;
}

int vmdb_recovery_report(const vmdb_db *db, vmdb_recovery *report)
{
    if (!db || !report)
        return vmdb__fail(VMDB_EINVAL, "vmdb_recovery_report: db and report are required");
    *report = db->recovery;
    return 0;
}

/* ---- checkpoints -------------------------------------------------------- */

int vmdb__db_checkpoint_locked(vmdb_db *db, uint64_t pos)
{
    if (db->poisoned)
        return vmdb__fail(VMDB_EPOISONED, "%s: a flush failed earlier; reopen the database",
                          db->path);
    /* Queued group commits are in the log but not yet in the tables. */
    int drained = vmdb__group_drain(db);
    if (drained < 0)
        return drained;
    /* Tables and indexes first: the log may forget a change only once the
     * change itself is on disk. */
#ifndef VMDB_MUTANT_CHECKPOINT_WITHOUT_TABLE_FLUSH /* test-mutants: the log goes first */
    for (size_t i = 0; i < db->table_count; i++) {
        int rc = vmdb__table_flush(db->tables[i]);
        if (rc == 0)
            rc = vmdb__index_flush(db->tables[i]->index, VMDB_FLUSH_SYNC);
        if (rc < 0)
            return vmdb__db_poison(db, rc);
    }
#endif
    int rc = vmdb__wal_checkpoint(db->wal, pos);
    if (rc < 0)
        return vmdb__db_poison(db, rc);
    __atomic_store_n(&db->lock_page->durable_lsn, pos, __ATOMIC_RELEASE);
    db->unflushed = false;
    publish_generation(db);
    __atomic_add_fetch(&db->checkpoints, 1, __ATOMIC_RELAXED);
    return 0;
}

/* Long enough for a backup to copy a chunk of a table between renewals,
 * short enough that one which died does not hold checkpoints back for
 * long. */
#define CHECKPOINT_HOLD_NS (5ull * 1000 * 1000 * 1000)

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vmdb__db_hold_checkpoints(vmdb_db *db, bool hold)
{
    uint64_t until = hold ? realtime_ns() + CHECKPOINT_HOLD_NS : 0;
    __atomic_store_n(&db->lock_page->checkpoint_hold_until, until, __ATOMIC_RELAXED);
}

bool vmdb__db_checkpoint_due(vmdb_db *db)
{
    uint64_t used = vmdb__wal_end(db->wal) - vmdb__wal_start(db->wal);
    if (used < db->checkpoint_bytes)
        return false;
    uint64_t until = __atomic_load_n(&db->lock_page->checkpoint_hold_until, __ATOMIC_RELAXED);
    if (until && used < vmdb__wal_cap(db->wal) / 10 * 9 && realtime_ns() < until)
        return false;
    return true;
}

const char *vmdb_db_path(const vmdb_db *db)
{
    return db->path;
}

int vmdb_db_stat(vmdb_db *db, vmdb_db_info *info)
{
    if (!db || !info)
        return vmdb__fail(VMDB_EINVAL, "vmdb_db_stat: db and info are required");
    uint64_t start = vmdb__wal_start(db->wal), end = vmdb__wal_end(db->wal);
    *info = (vmdb_db_info){
        .wal_size = vmdb__wal_cap(db->wal),
        .wal_used = end - start,
        .checkpoint_lsn = start,
        .last_lsn = end,
        .commits = __atomic_load_n(&db->commits, __ATOMIC_RELAXED),
        .flushes = __atomic_load_n(&db->flushes, __ATOMIC_RELAXED),
        .checkpoints = __atomic_load_n(&db->checkpoints, __ATOMIC_RELAXED),
        .tables = db->table_count,
    };
    return 0;
}

int vmdb_checkpoint(vmdb_db *db)
{
    if (!db)
        return vmdb__fail(VMDB_EINVAL, "vmdb_checkpoint: db is required");
    if (db->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: opened read-only", db->path);
    int rc = vmdb__db_lock(db);
    if (rc < 0)
        return rc;
    rc = vmdb__db_checkpoint_locked(db, vmdb__wal_end(db->wal));
    vmdb__db_unlock(db);
    return rc;
}

/* ---- tables ------------------------------------------------------------- */

int vmdb_table_create(vmdb_db *db, const char *name, const vmdb_schema *schema,
                      vmdb_table **out)
{
    if (out)
        *out = NULL;
    if (!db || !name || !schema)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_create: db, name and schema are required");
    if (db->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: opened read-only", db->path);
    char shown[VMDB_PRINTABLE_CAP];
    if (!vmdb__table_name_valid(name, strlen(name)))
        return vmdb__fail(VMDB_EINVAL, "table name '%s' is not [A-Za-z_][A-Za-z0-9_]* of at "
                                       "most %d bytes",
                          vmdb_printable(name, strlen(name), shown, sizeof shown),
                          VMDB__TABLE_NAME_MAX);
    int rc = vmdb__db_lock_drained(db);
    if (rc < 0)
        return rc;
    if (table_by_name(db, name)) {
        vmdb__db_unlock(db);
        return vmdb__fail(VMDB_EEXIST, "table '%s' already exists", name);
    }
    uint16_t id = 1;
    for (size_t i = 0; i < db->table_count; i++)
        if (db->tables[i]->id >= id)
            id = (uint16_t)(db->tables[i]->id + 1);
    if (id == 0)
        rc = vmdb__fail(VMDB_EFULL, "%s: no table id left", db->path);
    if (rc == 0)
        rc = vmdb__table_create_file(db->path, name, id, schema);
    char file[VMDB__TABLE_NAME_MAX + 8];
    snprintf(file, sizeof file, "%s.vmt", name);
    if (rc == 0)
        rc = open_table_file(db, file);
    vmdb_table *t = rc == 0 ? table_by_name(db, name) : NULL;
    if (t) {
        rc = vmdb__table_scan_state(t);
        if (rc == 0)
            rc = open_index(db, t, NULL);
    }
    if (rc == 0) {
        publish_generation(db);
        vmdb__follow_publish(db); /* other handles open it */
    }
    vmdb__db_unlock(db);
    if (rc == 0 && out)
        *out = t;
    return rc;
}

int vmdb_table_open(vmdb_db *db, const char *name, const vmdb_schema *expect, vmdb_table **out)
{
    if (out)
        *out = NULL;
    if (!db || !name || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_open: db, name and out are required");
    /* Tables other handles created or dropped since this one looked. */
    int frc = vmdb__follow(db);
    if (frc < 0)
        return frc;
    vmdb_table *t = table_by_name(db, name);
    char shown[VMDB_PRINTABLE_CAP];
    if (!t)
        return vmdb__fail(VMDB_ENOTFOUND, "no table '%s' in %s",
                          vmdb_printable(name, strlen(name), shown, sizeof shown), db->path);
    if (expect) {
        int rc = vmdb_schema_equal(expect, t->schema);
        if (rc < 0) {
            char why[sizeof vmdb_last_error()->message];
            memcpy(why, vmdb_last_error()->message, sizeof why);
            return vmdb__fail(rc, "table '%s': %s", name, why);
        }
    }
    *out = t;
    return 0;
}

int vmdb_table_drop(vmdb_db *db, const char *name)
{
    if (!db || !name)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_drop: db and name are required");
    if (db->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: opened read-only", db->path);
    int rc = vmdb__db_lock(db);
    if (rc < 0)
        return rc;
    vmdb_table *t = table_by_name(db, name);
    char shown[VMDB_PRINTABLE_CAP];
    if (!t)
        rc = vmdb__fail(VMDB_ENOTFOUND, "no table '%s' in %s",
                        vmdb_printable(name, strlen(name), shown, sizeof shown), db->path);
    else if (__atomic_load_n(&db->backups, __ATOMIC_RELAXED))
        rc = vmdb__fail(VMDB_EBUSY, "%s: a backup is copying table '%s'; drop it after",
                        db->path, name);
    /* After a checkpoint no log record can name the table any more. */
    if (rc == 0)
        rc = vmdb__db_checkpoint_locked(db, vmdb__wal_end(db->wal));
    /* A read transaction that began with the table there must not end
     * on part of it: a scan cut short by the drop reads again and finds
     * no table. */
    if (rc == 0)
        vmdb__db_changing(db, true);
    if (rc == 0) {
        char *index_path = join(db->path, t->name, ".vmi");
        int urc = vmdb__os_unlink(t->path);
        if (urc == 0 && index_path)
            vmdb__os_unlink(index_path);
        if (urc == 0)
            urc = vmdb__os_sync_dir_of(t->path);
        free(index_path);
        if (urc < 0) {
            vmdb__db_changing(db, false);
            rc = vmdb__fail_os(urc, "%s: cannot remove", t->path);
        }
    }
    if (rc == 0) {
        size_t i = 0;
        while (db->tables[i] != t)
            i++;
        memmove(&db->tables[i], &db->tables[i + 1], (db->table_count - i - 1) * sizeof t);
        db->table_count--;
        vmdb__table_close(t);
        publish_generation(db);
        vmdb__follow_publish(db); /* other handles forget it */
        vmdb__db_changing(db, false);
    }
    vmdb__db_unlock(db);
    return rc;
}

int vmdb_table_foreach(vmdb_db *db, int (*fn)(void *ctx, vmdb_table *table), void *ctx)
{
    if (!db || !fn)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_foreach: db and fn are required");
    int rc = vmdb__follow(db);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < db->table_count; i++) {
        rc = fn(ctx, db->tables[i]);
        if (rc)
            return rc;
    }
    return 0;
}

const char *vmdb_table_name(const vmdb_table *t)
{
    return t ? t->name : NULL;
}

const vmdb_schema *vmdb_table_schema(const vmdb_table *t)
{
    return t ? t->schema : NULL;
}

int vmdb_table_stat(vmdb_table *t, vmdb_table_info *st)
{
    if (!t || !st)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_stat: table and info are required");
    vmdb__db_reader_settle(t->db);
    int rc = vmdb__follow(t->db);
    if (rc < 0)
        return rc;
    vmdb__table_follow(t); /* another process may have grown it */
    /* The index counts the records, so only the free tail is walked. */
    vmdb__index_stats is;
    rc = vmdb__index_summary(t->index, &is);
    if (rc < 0)
        return rc;
    uint64_t cap = __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE);
    uint64_t high = cap;
    while (high > 0 && !__atomic_load_n(&vmdb__table_slot(t, high - 1)->live, __ATOMIC_RELAXED))
        high--;
    *st = (vmdb_table_info){
        .records = is.count,
        .capacity = cap,
        .high_water = high,
        .file_bytes = vmdb_map_len(t->map),
        .index_bytes = is.file_size,
        .index_capacity = is.capacity,
        .index_load = is.load,
        .record_size = t->record_size,
        .slot_size = t->stride,
    };
    return 0;
}

int vmdb_index_rebuild(vmdb_table *t)
{
    if (!t)
        return vmdb__fail(VMDB_EINVAL, "vmdb_index_rebuild: table is required");
    if (t->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: opened read-only", t->path);
    int rc = vmdb__db_lock_drained(t->db);
    if (rc < 0)
        return rc;
    rc = index_rebuild_seen(t);
    t->db->unflushed = true;
    if (rc == 0)
        publish_generation(t->db);
    vmdb__db_unlock(t->db);
    return rc;
}
