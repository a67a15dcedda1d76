/* SPDX-License-Identifier: MIT */
/*
 * engine/db/wal_grow.c - the log's size: a new database's log starts at
 * 1 MiB and doubles, up to a maximum (vmdb_db_options.wal_size, kept in
 * the log's header; 1 GiB by default), when a transaction does not fit
 * it, or when automatic checkpoints come less than a second apart, up to
 * 64 MiB for that; a clean close takes it back to 1 MiB.
 *
 * Why these rules. A log's blocks are allocated whole (a full disk must
 * fail a growth, not a later log flush), so a fixed 64 MiB log was 64 MiB
 * of every database, however small. Each checkpoint flushes every table
 * and index, so a small log under a fast writer costs a flush every few
 * milliseconds: the rate of checkpoints, not the bytes between them, says
 * the log is too small (a byte rule would also grow the log of a database
 * written a record a minute, which gains nothing). A log filled in t
 * would take k t to fill k times larger, so it doubles as many times as
 * bring the next checkpoint a second away at that pace, in one step: a
 * fill grows its log once or twice, not once per size, and each small
 * log's checkpoint flushes pages all over a freshly filled index. 64 MiB,
 * the old fixed size, bounds what speed alone buys, so that a fill costs
 * no more memory and disk than it did; only a transaction that needs more
 * goes past it.
 *
 * How. The log can be replaced only where nothing in it is needed: right
 * after a checkpoint, with the writer lock, every change before the
 * checkpoint position durable in the tables. vmdb__wal_replace builds the
 * new ring file, empty, its positions starting at that position, with a
 * new salt, fsyncs it, renames it over wal.ring and fsyncs the directory:
 * a power cut at any point leaves the old log, checkpointed and empty
 * from the position, or the new one, empty from it. A transaction that
 * did not fit has its records written again into the new log (they were
 * never published). Other handles, in this process or others, map the
 * old file, which no longer has a name: the lock page's `wal_epoch`,
 * bumped around the rename, tells a writer when it takes the lock (before
 * it can write or replay anything) and a reader when it asks for the log,
 * and either opens wal.ring again. A replaced log stays mapped until the
 * handle closes: a transaction's payloads and a reader's scan point into
 * it. Its pages leave the handle's resident set at once (they are read
 * again from the page cache if anyone looks), so that the logs a fill
 * grew through do not add up in its memory.
 */
#include "db.h"

#include <stdlib.h>

#include "internal.h"
#include "os.h"

/* Automatic checkpoints closer than this grow the log (the first one is
 * timed from the open, or from the last replacement). */
#define GROW_INTERVAL_NS (1000ull * 1000 * 1000)

#ifdef VMDB_TEST_HOOKS
uint64_t vmdb__wal_grow_interval_ns = GROW_INTERVAL_NS;
static uint64_t grow_interval_ns(void)
{
    return __atomic_load_n(&vmdb__wal_grow_interval_ns, __ATOMIC_RELAXED);
}
#else
static uint64_t grow_interval_ns(void)
{
    return GROW_INTERVAL_NS;
}
#endif

struct vmdb__walgrow {
    uint64_t seen_epoch;   /* atomic: the lock page's wal_epoch when this
                              handle last opened wal.ring */
    uint64_t pins;         /* atomic: readers of the log without the writer
                              mutex (vmdb__db_wal_pin) */
    vmdb__wal **retired;   /* under `writer`: logs replaced, kept mapped
                              while a reader may be in them */
    size_t retired_count, retired_cap;
    uint64_t last_checkpoint_ns; /* under `writer`: the last automatic
                                    one, or the open, or the last
                                    replacement */
};

uint64_t vmdb__db_wal_start_size(uint64_t max)
{
    return max < VMDB__WAL_START ? max : VMDB__WAL_START;
}

int vmdb__walgrow_open(vmdb_db *db)
{
    db->walgrow = calloc(1, sizeof *db->walgrow);
    if (!db->walgrow)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    /* Before the log is opened: a replacement in between is followed at
     * the next look rather than missed. */
    db->walgrow->seen_epoch = __atomic_load_n(&db->lock_page->wal_epoch, __ATOMIC_ACQUIRE);
    db->walgrow->last_checkpoint_ns = vmdb__os_now_ns();
    return 0;
}

void vmdb__walgrow_close(vmdb_db *db)
{
    if (!db->walgrow)
        return;
    for (size_t i = 0; i < db->walgrow->retired_count; i++)
        vmdb__wal_close(db->walgrow->retired[i]);
    free(db->walgrow->retired);
    free(db->walgrow);
    db->walgrow = NULL;
}

/* Room to keep one more replaced log, made before the replacement so
 * that nothing fails after it. */
static int room_to_retire(vmdb_db *db)
{
    struct vmdb__walgrow *g = db->walgrow;
    if (g->retired_count < g->retired_cap)
        return 0;
    size_t cap = g->retired_cap ? g->retired_cap * 2 : 4;
    vmdb__wal **grown = realloc(g->retired, cap * sizeof *grown);
    if (!grown)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    g->retired = grown;
    g->retired_cap = cap;
    return 0;
}

/*
 * Unmaps the logs replaced, once nothing can be in them. Each one,
 * unlinked, keeps its disk blocks while mapped, and a long-lived handle
 * follows one replacement per busy session of another (a grown log,
 * shrunk at its close): keeping them all until close would leak disk.
 * What may still point into a replaced log: a reader without the mutex
 * (pinned: check, the log's listing, stat), and the transaction whose
 * growth replaced it, until its records are written again into the new
 * one. So this runs where the writer mutex is taken, before a
 * transaction begins, and where a reader follows. Commits queued for
 * their flush are all in the current log: the checkpoint before every
 * replacement drained the queue. The pin count and `db->wal` are both
 * sequentially consistent: a reader that pins after the count was seen
 * zero loads the new log.
 */
void vmdb__db_wal_close_retired(vmdb_db *db)
{
    struct vmdb__walgrow *g = db->walgrow;
    if (!g->retired_count || __atomic_load_n(&g->pins, __ATOMIC_SEQ_CST))
        return;
    for (size_t i = 0; i < g->retired_count; i++)
        vmdb__wal_close(g->retired[i]);
    g->retired_count = 0;
}

static void install(vmdb_db *db, vmdb__wal *fresh, uint64_t epoch)
{
    struct vmdb__walgrow *g = db->walgrow;
    vmdb__wal *old = db->wal;
    g->retired[g->retired_count++] = old;
    /* Shared pages of a file: dropped from this map, read again from
     * the page cache by whoever still looks, unchanged. A failure only
     * leaves them resident. */
    vmdb__os_advise(vmdb_ring_pos_ptr(vmdb__wal_ring(old), 0), 2 * (size_t)vmdb__wal_cap(old),
                    VMDB__ADV_DONTNEED);
    __atomic_store_n(&db->wal, fresh, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g->seen_epoch, epoch, __ATOMIC_RELEASE);
}

int vmdb__db_wal_follow_locked(vmdb_db *db)
{
    uint64_t epoch = __atomic_load_n(&db->lock_page->wal_epoch, __ATOMIC_ACQUIRE);
    if (epoch == __atomic_load_n(&db->walgrow->seen_epoch, __ATOMIC_RELAXED)) {
        vmdb__db_wal_close_retired(db);
        return 0;
    }
    char *path = vmdb__path_join(db->path, VMDB__WAL_NAME, "");
    if (!path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    vmdb__wal *fresh = NULL;
    int rc = room_to_retire(db);
    if (rc == 0)
        rc = vmdb__wal_open(path, 0, 0, false, db->readonly, &fresh);
    free(path);
    if (rc < 0)
        return rc;
    install(db, fresh, epoch);
    vmdb__db_wal_close_retired(db);
    return 0;
}

vmdb__wal *vmdb__db_wal_now(vmdb_db *db)
{
    if (__atomic_load_n(&db->lock_page->wal_epoch, __ATOMIC_ACQUIRE) !=
            __atomic_load_n(&db->walgrow->seen_epoch, __ATOMIC_ACQUIRE) &&
        !vmdb__db_inherited(db) && !vmdb__read_holding(db)) {
        /* As follow.c's readers: a thread holding the lock follows
         * without the mutex; a failure leaves the log it had, which
         * still reads as it was. */
        bool mine = vmdb__db_held_by_me(db);
        if (!mine)
            vmdb__db_mutex_lock(db);
        if (vmdb__db_wal_follow_locked(db) < 0)
            vmdb_error_clear();
        if (!mine)
            vmdb__db_mutex_unlock(db);
    }
    return __atomic_load_n(&db->wal, __ATOMIC_SEQ_CST);
}

bool vmdb__db_wal_current(vmdb_db *db)
{
    vmdb__db_wal_now(db);
    return __atomic_load_n(&db->lock_page->wal_epoch, __ATOMIC_ACQUIRE) ==
           __atomic_load_n(&db->walgrow->seen_epoch, __ATOMIC_ACQUIRE);
}

vmdb__wal *vmdb__db_wal_pin(vmdb_db *db)
{
    __atomic_add_fetch(&db->walgrow->pins, 1, __ATOMIC_SEQ_CST);
    return vmdb__db_wal_now(db);
}

void vmdb__db_wal_unpin(vmdb_db *db)
{
    __atomic_sub_fetch(&db->walgrow->pins, 1, __ATOMIC_SEQ_CST);
}

static void bump_epoch(vmdb_db *db)
{
#ifndef VMDB_MUTANT_WAL_EPOCH_UNCHANGED /* test-mutants: others write into the unlinked log */
    uint64_t epoch = __atomic_add_fetch(&db->lock_page->wal_epoch, 1, __ATOMIC_ACQ_REL);
    __atomic_store_n(&db->walgrow->seen_epoch, epoch, __ATOMIC_RELEASE);
#else
    (void)db;
#endif
}

/* With the lock, right after a checkpoint at `pos` (nothing in the log
 * is needed any more): replaces the log by an empty one of `size` bytes
 * from pos. A failure before the rename leaves the old log in use; one
 * after it (the new file will not open) leaves the handle mapping a log
 * without a name, so it is poisoned. */
static int replace_log(vmdb_db *db, uint64_t size, uint64_t pos)
{
    int rc = room_to_retire(db);
    if (rc < 0)
        return rc;
    bump_epoch(db);
    vmdb__wal *fresh = NULL;
    rc = vmdb__wal_replace(db->wal, size, db->wal_max, pos, &fresh);
    if (rc < 0) {
        /* The new file got its name (its directory's fsync, or the open
         * after, failed): wal.ring, of the new size, is no longer the file
         * this handle maps. */
        vmdb__os_stat st;
        char *path = vmdb__path_join(db->path, VMDB__WAL_NAME, "");
        bool renamed = path && vmdb__os_stat_path(path, &st) == 0 &&
                       st.size != vmdb_page_size() + vmdb__wal_cap(db->wal);
        free(path);
        return renamed ? vmdb__db_poison(db, rc) : rc;
    }
    install(db, fresh, __atomic_load_n(&db->lock_page->wal_epoch, __ATOMIC_RELAXED));
    db->walgrow->last_checkpoint_ns = vmdb__os_now_ns(); /* the pace of the new log */
    vmdb__db_publish_generation(db); /* the new salt, for the next writer */
    bump_epoch(db);
    return 0;
}

int vmdb__db_auto_checkpoint(vmdb_db *db)
{
    uint64_t now = vmdb__os_now_ns(), since = now - db->walgrow->last_checkpoint_ns;
    uint64_t pos = vmdb__wal_end(db->wal), cap = vmdb__wal_cap(db->wal);
    uint64_t limit = db->wal_max < VMDB__WAL_BUSY_MAX ? db->wal_max : VMDB__WAL_BUSY_MAX;
    uint64_t size = cap;
    for (uint64_t t = since; t < grow_interval_ns() && size < limit; t *= 2)
        size = size * 2 < limit ? size * 2 : limit;
    bool grow = size > cap;
    db->walgrow->last_checkpoint_ns = now;
    int rc = 0;
#ifndef VMDB_MUTANT_WAL_REPLACED_UNFLUSHED /* test-mutants: the log goes before the tables are durable */
    rc = vmdb__db_checkpoint_locked(db, pos);
#else
    if (grow)
        rc = replace_log(db, size, pos);
    grow = false;
    if (rc == 0)
        rc = vmdb__db_checkpoint_locked(db, pos);
#endif
    if (rc < 0 || !grow)
        return rc;
    rc = replace_log(db, size, pos);
    /* Unless poisoned, the log it has still works, as before. */
    if (rc < 0 && !vmdb__db_poisoned(db)) {
        vmdb_error_clear();
        rc = 0;
    }
    return rc;
}

int vmdb__db_grow_log_for(vmdb_db *db, uint64_t start, uint64_t need)
{
    uint64_t cap = vmdb__wal_cap(db->wal), size = cap;
    while (size < need && size < db->wal_max)
        size = size * 2 < db->wal_max ? size * 2 : db->wal_max;
    if (size < need)
        return vmdb__fail(VMDB_EFULL,
                          "%s: the transaction needs more than the log's maximum of %llu bytes "
                          "(%llu needed, the log is %llu now); commit it in parts or open the "
                          "database with a larger wal_size",
                          db->path, (unsigned long long)db->wal_max, (unsigned long long)need,
                          (unsigned long long)cap);
    int rc = vmdb__db_checkpoint_locked(db, start);
    if (rc == 0 && size > cap)
        rc = replace_log(db, size, start);
    return rc;
}

int vmdb__db_shrink_log(vmdb_db *db)
{
    uint64_t size = vmdb__db_wal_start_size(db->wal_max);
    if (vmdb__wal_cap(db->wal) <= size || vmdb__wal_start(db->wal) != vmdb__wal_end(db->wal))
        return 0;
    int rc = replace_log(db, size, vmdb__wal_end(db->wal));
    if (rc < 0 && !vmdb__db_poisoned(db)) {
        vmdb_error_clear(); /* a close that kept the larger log lost nothing */
        rc = 0;
    }
    return rc;
}
