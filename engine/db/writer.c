/* SPDX-License-Identifier: MIT */
/*
 * engine/db/writer.c - becoming the writer: the handle's writer mutex,
 * then the file lock (lock.c), then catching up with whatever other
 * handles did meanwhile (replaced files, other processes' commits, a
 * writer that died mid-apply), and letting go again unless queued NONE
 * commits still need the lock.
 */
#include "db.h"

#include <pthread.h>

#include "index.h"
#include "internal.h"
#include "os.h"

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
        vmdb__db_note_holder(db, true);
    return rc;
}

static int lock_writer(vmdb_db *db)
{
    vmdb__db_mutex_lock(db);
    vmdb__db_wal_close_retired(db);
    if (vmdb__db_file_lock_held(db))
        return 0; /* kept for queued group commits: nothing changed elsewhere */
    int rc = vmdb__db_take_file_lock(db);
    if (rc < 0) {
        vmdb__db_mutex_unlock(db);
        return rc;
    }
    vmdb__group_forget_flushed(db);
    /* Before anything reads or writes the log: another handle may have
     * replaced it by a larger or smaller one. */
    rc = vmdb__db_wal_follow_locked(db);
    /* From the log's header, every time: a checkpoint of another process
     * that died after the header took its salt, before the lock page
     * did, left the lock page's older (and no new generation), and
     * records sealed with that one are not read by recovery. */
#ifndef VMDB_MUTANT_SALT_FROM_LOCK_PAGE /* test-mutants: the lock page's salt believed */
    if (rc == 0)
        rc = vmdb__wal_follow_salt(db->wal);
#endif
    if (rc == 0)
        rc = vmdb__follow_locked(db);
    if (rc < 0) {
        vmdb__db_release_file_lock(db);
        vmdb__db_mutex_unlock(db);
        return rc;
    }
    uint64_t gen = __atomic_load_n(&db->lock_page->generation, __ATOMIC_ACQUIRE);
    bool dead_writer = __atomic_load_n(&db->lock_page->applying, __ATOMIC_ACQUIRE) != 0;
    /* Nobody changes with the lock free: an odd count of changes is a
     * changer that died, also outside an apply (in vmdb_index_rebuild),
     * where it left no new generation and an index to rebuild. */
    bool dead_changer = __atomic_load_n(&db->lock_page->changes, __ATOMIC_ACQUIRE) & 1;
    if (gen != vmdb__db_seen_generation(db) || dead_writer || dead_changer) {
        /* Another process wrote since this one last held the lock. */
#ifdef VMDB_MUTANT_SALT_FROM_LOCK_PAGE
        vmdb__wal_adopt_salt(db->wal, db->lock_page->salt);
#endif
        for (size_t i = 0; rc == 0 && i < vmdb__db_table_count(db); i++) {
            vmdb_table *t = vmdb__db_table_at(db, i);
            rc = vmdb__table_refresh(t);
            if (rc == 0)
                rc = vmdb__table_scan_state(t);
            if (rc == 0)
                rc = vmdb__index_refresh(t->index);
            if (rc == 0 && vmdb__index_interrupted(t->index))
                rc = vmdb__db_index_rebuild_seen(t); /* that process died mid-change */
        }
        if (rc < 0) {
            vmdb__db_release_file_lock(db);
            vmdb__db_mutex_unlock(db);
            return rc;
        }
        vmdb__db_note_generation(db, gen);
        /* The indexes it left mid-change are whole again; a dead writer's
         * transaction is finished below. */
        if (!dead_writer && (__atomic_load_n(&db->lock_page->changes, __ATOMIC_RELAXED) & 1))
            vmdb__db_changing(db, false);
    }
    if (dead_writer && (rc = vmdb__db_finish_dead_writer(db)) < 0) {
        vmdb__db_release_file_lock(db);
        vmdb__db_mutex_unlock(db);
        return rc;
    }
    return 0;
}

void vmdb__db_unlock(vmdb_db *db)
{
    vmdb__db_note_holder(db, false);
    bool idle = vmdb__group_idle_at_unlock(db);
    /* Another process waits (the flusher looks after each flush): it may
     * not wait for a writer here that commits without a pause. */
    if (!idle && vmdb__db_yield_asked(db))
        idle = vmdb__group_drain(db) == 0;
    if (idle)
        vmdb__db_release_file_lock(db);
    vmdb__db_mutex_unlock(db);
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
