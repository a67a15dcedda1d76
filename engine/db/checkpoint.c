/* SPDX-License-Identifier: MIT */
/*
 * engine/db/checkpoint.c - checkpoints: the tables and indexes made
 * durable, then the log emptied past them; and when one is due.
 */
#include "db.h"

#include <time.h>

#include "internal.h"
#include "os.h"

/* ---- checkpoints -------------------------------------------------------- */

int vmdb__db_checkpoint_locked(vmdb_db *db, uint64_t pos)
{
    if (vmdb__db_poisoned(db))
        return vmdb__fail(VMDB_EPOISONED, "%s: a flush failed earlier; reopen the database",
                          db->path);
    /* Queued group commits are in the log but not yet in the tables. */
    int drained = vmdb__group_drain(db);
    if (drained < 0)
        return drained;
    /* The salt first: the summaries name the checkpoint by it, and reach
     * the disk with the tables, before the log's header names it. */
    uint64_t salt;
    int drawn = vmdb__wal_draw_salt(db->wal, &salt);
    if (drawn < 0)
        return drawn;
    vmdb__db_write_summaries(db, pos, salt);
    /* Tables and indexes first: the log may forget a change only once the
     * change itself is on disk. */
#ifndef VMDB_MUTANT_CHECKPOINT_WITHOUT_TABLE_FLUSH /* test-mutants: the log goes first */
    for (size_t i = 0; i < vmdb__db_table_count(db); i++) {
        int rc = vmdb__table_flush(vmdb__db_table_at(db, i));
        if (rc == 0)
            rc = vmdb__index_flush(vmdb__db_table_at(db, i)->index, VMDB_FLUSH_SYNC);
        if (rc < 0)
            return vmdb__db_poison(db, rc);
    }
#endif
    int rc = vmdb__wal_checkpoint(db->wal, pos, salt);
    if (rc < 0)
        return vmdb__db_poison(db, rc);
    __atomic_store_n(&db->lock_page->durable_lsn, pos, __ATOMIC_RELEASE);
    db->unflushed = false;
    vmdb__db_publish_generation(db);
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
    if (used < vmdb__wal_cap(db->wal) / 100 * db->checkpoint_percent)
        return false;
    uint64_t until = __atomic_load_n(&db->lock_page->checkpoint_hold_until, __ATOMIC_RELAXED);
    if (until && used < vmdb__wal_cap(db->wal) / 10 * 9 && realtime_ns() < until)
        return false;
    return true;
}
