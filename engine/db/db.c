/* SPDX-License-Identifier: MIT */
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

#include "create.h"
#include "index.h"
#include "internal.h"
#include "os.h"

/* The most a log grows to: the options' wal_size, else what the log's
 * header says, else the default; whole pages, as the ring is. */
static uint64_t wal_max_of(uint64_t asked, uint64_t in_header)
{
    uint64_t max = asked ? asked : in_header ? in_header : VMDB__WAL_MAX_DEFAULT;
    uint64_t page = vmdb_page_size();
    return max < page ? page : vmdb__round_down(max, page);
}

/* ---- creating a database ------------------------------------------------ */

/* Makes the files of a new database in `path`, a directory holding nothing
 * (creation leftovers are gone), under the creation lock: the log first,
 * the lock file last, so that a crash in between leaves a directory that
 * is not yet a database rather than half of one. */
static int fill_lock_file(void *ctx, int fd, const char *tmp)
{
    uint64_t salt = *(const uint64_t *)ctx;
    size_t page = vmdb_page_size();
    char *buf = calloc(1, page);
    if (!buf)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", tmp);
    vmdb__lock_page *lp = (vmdb__lock_page *)buf;
    memcpy(lp->magic, VMDB__LOCK_MAGIC, 8);
    lp->version = 1;
    lp->salt = salt;
    int rc = vmdb__os_pwrite_all(fd, buf, page, 0);
    free(buf);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot write the lock file", tmp);
    return 0;
}

/* The log first, then the lock file: a directory with a lock file is a
 * database (has_lock_file), so it comes last, whole. */
static int init_dir(const char *path, const vmdb_db_options *o)
{
    char *wal_path = vmdb__path_join(path, VMDB__WAL_NAME, "");
    char *lock_path = vmdb__path_join(path, VMDB__LOCK_NAME, "");
    int rc = 0;
    if (!wal_path || !lock_path)
        rc = vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    vmdb__wal *wal = NULL;
    uint64_t max = wal_max_of(o->wal_size, 0);
    if (rc == 0)
        rc = vmdb__wal_open(wal_path, vmdb__db_wal_start_size(max), max, true, false, &wal);
    uint64_t salt = wal ? vmdb__wal_salt(wal) : 0;
    vmdb__wal_close(wal);
    if (rc == 0)
        rc = vmdb__create_atomically(lock_path, 0644, VMDB__CREATE_REPLACE, fill_lock_file,
                                     &salt);
    free(wal_path);
    free(lock_path);
    return rc;
}

/* Whether `name` is NAME followed by `mark` and at least one character
 * of `digits` only. */
static bool name_with_suffix(const char *name, const char *file, const char *mark,
                             const char *digits)
{
    size_t f = strlen(file), m = strlen(mark);
    if (strncmp(name, file, f) != 0 || strncmp(name + f, mark, m) != 0 || !name[f + m])
        return false;
    return strspn(name + f + m, digits) == strlen(name + f + m);
}

/* Whether `name` is what a creation cut short leaves: the log, or the
 * temporary file of the log or of the lock file (engine/base/create.c;
 * older builds named them VMDB__WAL_NAME.tmp-PID and VMDB__LOCK_NAME.tmp). */
static bool creation_leftover(const char *name)
{
    static const char hex[] = "0123456789abcdef";
    return !strcmp(name, VMDB__WAL_NAME) || !strcmp(name, VMDB__LOCK_NAME ".tmp") ||
           name_with_suffix(name, VMDB__WAL_NAME, ".tmp-", "0123456789") ||
           name_with_suffix(name, VMDB__WAL_NAME, ".vmdb-new-", hex) ||
           name_with_suffix(name, VMDB__LOCK_NAME, ".vmdb-new-", hex);
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
    char *p = vmdb__path_join(l->dir, name, "");
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
                          path, VMDB__LOCK_NAME, l.stranger);
    if (!(o->flags & VMDB_DB_CREATE))
        return vmdb__fail(VMDB_EINVAL, "%s: not a vmdb database (no %s)", path, VMDB__LOCK_NAME);
    l.remove = true;
    rc = vmdb__os_list_dir(path, note_leftover, &l);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot list the directory", path);
    if (l.rc < 0)
        return l.rc;
    if (l.stranger[0])
        return vmdb__fail(VMDB_EINVAL, "%s: not a vmdb database (no %s, and it holds '%s')",
                          path, VMDB__LOCK_NAME, l.stranger);
    return init_dir(path, o);
}

/* A log a growth built (engine/db/wal_grow.c) keeps its temporary name
 * if the writer dies, or the power goes, before the rename: up to the
 * log's maximum of disk that no file of the database names, and no later
 * growth reuses (each draws a name of its own). Growths run only under
 * the write lock, so a writer holding it knows that every such file is
 * dead and removes it; one that cannot be removed costs disk, nothing
 * else, and is left to the next writer. */
static int remove_new_log(void *ctx, const char *name)
{
    static const char hex[] = "0123456789abcdef";
    const char *dir = ctx;
    if (name_with_suffix(name, VMDB__WAL_NAME, ".vmdb-new-", hex)) {
        char *p = vmdb__path_join(dir, name, "");
        if (p)
            vmdb__os_unlink(p);
        free(p);
    }
    return 0;
}

static bool has_lock_file(const char *path)
{
    char *lock_path = vmdb__path_join(path, VMDB__LOCK_NAME, "");
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

/* ---- open and close ----------------------------------------------------- */

#ifdef VMDB_TEST_HOOKS
void (*vmdb__open_test_hook)(const char *path);
#endif

static void free_db(vmdb_db *db)
{
    vmdb__db_catalog_close(db);
    vmdb__wal_close(db->wal);
    vmdb__walgrow_close(db);
    vmdb__db_lock_close(db);
    pthread_mutex_destroy(&db->state);
    vmdb__txn_view_close(db);
    pthread_mutex_destroy(&db->group);
    vmdb__group_close(db);
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
    int vrc = vmdb__options_version(o->version, VMDB_DB_OPTIONS_VERSION, path);
    if (vrc < 0)
        return vrc;
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
    pthread_mutex_init(&db->state, NULL);
    pthread_mutex_init(&db->group, NULL);
    db->readonly = (o->flags & VMDB_DB_READONLY) != 0;
    db->as_is = (o->flags & VMDB_DB_AS_IS) != 0;
    db->verify = (o->flags & VMDB_DB_NO_VERIFY) == 0;
    db->open_flags = o->flags;
    db->durability = o->durability ? o->durability : VMDB_DURABILITY_NONE;
    vmdb__group_note_owner(db);
    rc = vmdb__db_lock_init(db, o);
    if (rc == 0)
        rc = vmdb__group_open(db);
    if (rc == 0)
        rc = vmdb__txn_view_open(db);
    if (rc == 0)
        rc = vmdb__db_catalog_open(db);
    if (rc == 0)
        rc = vmdb__db_open_lock(db);
    if (rc == 0)
        rc = vmdb__walgrow_open(db);
    /* A writer reads the log and the tables only under the lock: another
     * writer may be creating a table, or growing one, until it has the
     * lock, and recovery must not meet a log record naming a table it
     * never listed, nor free slots that were taken after it looked. */
    if (rc == 0 && !db->readonly) {
#ifdef VMDB_TEST_HOOKS
        if (vmdb__open_test_hook)
            vmdb__open_test_hook(path);
#endif
        rc = vmdb__db_take_file_lock(db);
        if (rc == 0)
            vmdb__os_list_dir(path, remove_new_log, (void *)path);
    }
    char *wal_path = vmdb__path_join(path, VMDB__WAL_NAME, "");
    if (rc == 0 && !wal_path)
        rc = vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    if (rc == 0)
        rc = vmdb__wal_open(wal_path, 0, 0, false, db->readonly, &db->wal);
    free(wal_path);
    if (rc == 0 && db->readonly && !db->as_is)
        rc = vmdb__db_check_recovered_this_boot(db);
    if (rc == 0) {
        db->checkpoint_percent = o->checkpoint_percent ? o->checkpoint_percent : 50;
        db->wal_max = wal_max_of(o->wal_size, vmdb__wal_max(db->wal));
        rc = vmdb__db_open_tables(db);
    }
    if (rc == 0 && db->readonly) {
        for (size_t i = 0; rc == 0 && i < vmdb__db_table_count(db); i++)
            rc = vmdb__db_open_index(db, vmdb__db_table_at(db, i), NULL);
    } else if (rc == 0) {
        if (db->tables_upgraded) {
            /* An older build's handle maps the old file: it must look,
             * and refuse the new version, rather than write there. */
            vmdb__follow_publish(db);
            db->tables_upgraded = false;
        }
        rc = vmdb__db_recover(db);
    }
    if (db->lockfile && vmdb__db_file_lock_held(db))
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
    if (vmdb__db_held_by_me(db) && vmdb__db_open_txn(db))
        vmdb_txn_abort(vmdb__db_open_txn(db));
    vmdb__read_end_on(db); /* it would hold the close's checkpoint back */
    int rc = 0;
    if (!db->readonly && !vmdb__db_poisoned(db) && (rc = vmdb__db_lock(db)) == 0) {
        /* A clean close leaves nothing to replay; with nothing logged and
         * nothing changed beside the log, there is nothing to flush. */
        if (!vmdb__db_log_is_empty(db) || db->unflushed || !vmdb__group_idle(db))
            rc = vmdb__db_checkpoint_locked(db, vmdb__wal_end(db->wal));
        /* A log that grew for a burst goes back to its start: between
         * runs a database takes the disk of its records. */
        if (rc == 0) {
            uint64_t cap = vmdb__wal_cap(db->wal);
            rc = vmdb__db_shrink_log(db);
            /* The smaller log has a salt of its own, and the tables'
             * summaries name the log they were written for: written again
             * for this one, or the next open would not believe them and
             * would read every slot. */
            if (rc == 0 && vmdb__wal_cap(db->wal) != cap)
                rc = vmdb__db_checkpoint_locked(db, vmdb__wal_end(db->wal));
        }
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
    if (rc == 0 && vmdb__db_poisoned(db))
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

const char *vmdb_db_path(const vmdb_db *db)
{
    return db->path;
}

int vmdb_db_stat(vmdb_db *db, vmdb_db_info *info)
{
    if (!db || !info)
        return vmdb__fail(VMDB_EINVAL, "vmdb_db_stat: db and info are required");
    vmdb__wal *wal = vmdb__db_wal_pin(db);
    uint64_t start = vmdb__wal_start(wal), end = vmdb__wal_end(wal), cap = vmdb__wal_cap(wal);
    vmdb__db_wal_unpin(db);
    *info = (vmdb_db_info){
        .wal_size = cap,
        .wal_max = db->wal_max,
        .wal_used = end - start,
        .checkpoint_lsn = start,
        .last_lsn = end,
        .commits = __atomic_load_n(&db->commits, __ATOMIC_RELAXED),
        .flushes = __atomic_load_n(&db->flushes, __ATOMIC_RELAXED),
        .checkpoints = __atomic_load_n(&db->checkpoints, __ATOMIC_RELAXED),
        .tables = vmdb__db_table_count(db),
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
    return vmdb_table_create_with(db, name, schema, NULL, out);
}

/* Removes the files of a table whose create failed after its file was
 * made, and the table from the handle's list if it got there (t, or
 * NULL). Best effort: the create's own failure is what the caller hears. */
static void unmake_table(vmdb_db *db, const char *name, vmdb_table *t)
{
    char *table_path = vmdb__path_join(db->path, name, ".vmt");
    char *index_path = vmdb__path_join(db->path, name, ".vmi");
    if (index_path)
        vmdb__os_unlink(index_path);
    if (table_path && vmdb__os_unlink(table_path) == 0)
        vmdb__os_sync_dir_of(table_path);
    free(index_path);
    free(table_path);
    if (t)
        vmdb__db_forget_table(db, t); /* cannot fail: the room is made */
}

/* The most records a capacity hint may ask for: 2^40 slots is terabytes
 * of file, and a typo (a size in bytes) should not allocate them. */
#define CAPACITY_HINT_MAX ((uint64_t)1 << 40)

int vmdb_table_create_with(vmdb_db *db, const char *name, const vmdb_schema *schema,
                           const vmdb_table_options *opts, vmdb_table **out)
{
    if (out)
        *out = NULL;
    if (!db || !name || !schema)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_create: db, name and schema are required");
    static const vmdb_table_options defaults = VMDB_TABLE_OPTIONS_INIT;
    const vmdb_table_options *o = opts ? opts : &defaults;
    int vrc = vmdb__options_version(o->version, VMDB_TABLE_OPTIONS_VERSION, name);
    if (vrc < 0)
        return vrc;
    if (o->capacity > CAPACITY_HINT_MAX)
        return vmdb__fail(VMDB_EINVAL, "table '%s': capacity %llu is over 2^40 records", name,
                          (unsigned long long)o->capacity);
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
    if (vmdb__db_table_by_name(db, name)) {
        vmdb__db_unlock(db);
        return vmdb__fail(VMDB_EEXIST, "table '%s' already exists", name);
    }
    uint16_t id = 1;
    for (size_t i = 0; i < vmdb__db_table_count(db); i++)
        if (vmdb__db_table_at(db, i)->id >= id)
            id = (uint16_t)(vmdb__db_table_at(db, i)->id + 1);
    if (id == 0)
        rc = vmdb__fail(VMDB_EFULL, "%s: no table id left", db->path);
    /* Room to forget the table first, so that undoing a create that
     * fails half-way cannot fail too. */
    if (rc == 0)
        rc = vmdb__db_make_room_to_forget(db);
    if (rc == 0)
        rc = vmdb__table_create_file(db->path, name, id, schema, o->capacity);
    bool made = rc == 0;
    char file[VMDB__TABLE_NAME_MAX + 8];
    snprintf(file, sizeof file, "%s.vmt", name);
    if (rc == 0)
        rc = vmdb__db_open_table_file(db, file);
    vmdb_table *t = rc == 0 ? vmdb__db_table_by_name(db, name) : NULL;
    if (t) {
        /* A new file's slots are all free: no need to read them, which for
         * a large capacity would fault in every page. */
        vmdb__table_state_empty(t);
        rc = vmdb__db_create_index(db, t, o->capacity);
    }
    if (rc == 0) {
        vmdb__db_publish_generation(db);
        vmdb__follow_publish(db); /* other handles open it */
    } else if (made) {
        /* The file is there but the table is not whole: its index, or the
         * index's room for a hint, could not be made (a full disk). It
         * goes, or the name would be taken by a table the caller was told
         * does not exist. Nothing was published: no other handle has it. */
        unmake_table(db, name, t);
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
    vmdb_table *t = vmdb__db_table_by_name(db, name);
    /* A table another thread is creating is listed before its index is
     * open: it is not there until then (catalog.c). */
    if (t && !vmdb__table_index(t))
        t = NULL;
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
    vmdb_table *t = vmdb__db_table_by_name(db, name);
    char shown[VMDB_PRINTABLE_CAP];
    if (!t)
        rc = vmdb__fail(VMDB_ENOTFOUND, "no table '%s' in %s",
                        vmdb_printable(name, strlen(name), shown, sizeof shown), db->path);
    else if (__atomic_load_n(&db->backups, __ATOMIC_RELAXED))
        rc = vmdb__fail(VMDB_EBUSY, "%s: a backup is copying table '%s'; drop it after",
                        db->path, name);
    /* The handle is kept, dead, until the database closes (as other
     * handles keep theirs): a prepared statement or a caller may still
     * hold it. Room for it first, so that nothing fails once it is gone. */
    if (rc == 0)
        rc = vmdb__db_make_room_to_forget(db);
    /* After a checkpoint no log record can name the table any more. */
    if (rc == 0)
        rc = vmdb__db_checkpoint_locked(db, vmdb__wal_end(db->wal));
    /* A read transaction that began with the table there must not end
     * on part of it: a scan cut short by the drop reads again and finds
     * no table. */
    if (rc == 0)
        vmdb__db_changing(db, true);
    if (rc == 0) {
        char *index_path = vmdb__path_join(db->path, t->name, ".vmi");
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
        vmdb__db_forget_table(db, t); /* cannot fail: the room is made */
        vmdb__db_publish_generation(db);
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
    vmdb_table **tables;
    size_t count;
    if ((rc = vmdb__db_tables_snapshot(db, &tables, &count)) < 0)
        return rc;
    /* fn may create or drop tables: it runs on the copy, outside the lock. */
    for (size_t i = 0; i < count && !rc; i++)
        if (!__atomic_load_n(&tables[i]->dropped, __ATOMIC_ACQUIRE))
            rc = fn(ctx, tables[i]);
    free(tables);
    return rc;
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
    while (high > 0 && !vmdb__slot_live(vmdb__table_slot(t, high - 1)))
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
    rc = vmdb__db_index_rebuild_seen(t);
    t->db->unflushed = true;
    if (rc == 0)
        vmdb__db_publish_generation(t->db);
    vmdb__db_unlock(t->db);
    return rc;
}
