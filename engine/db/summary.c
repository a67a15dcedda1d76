/* SPDX-License-Identifier: MIT */
/*
 * engine/db/summary.c - the tables' summaries: what each checkpoint
 * writes into every table's header about its slots (live count,
 * frontier, lowest possible hole, newest LSN), and when an open for
 * writing may believe it instead of reading every slot.
 *
 * A summary names the checkpoint it was written at by the log position
 * and the salt that checkpoint drew. It is written before the tables are
 * flushed and the log's header moves, so the log's header names that
 * checkpoint only once the summary is on disk. Every later change to a
 * slot is the apply of a commit logged at or past that position with that
 * salt, and a commit is applied only once its log is durable (replay,
 * compaction's moves and the NONE queue alike). So while the log is still
 * empty at that position and salt, no slot has changed since, and the
 * summary is the state of the slots. Anything else is a sign that slots
 * may have changed and the summary is not believed: a log holding records
 * (a writer killed after commits, a power cut), another checkpoint's
 * position or salt (a crash between the tables' flush and the log's, a
 * backup's new log), a lock page that says a writer died applying or
 * changing, another boot (a power cut: the brief cost of one full scan
 * per boot buys not having to reason about what the cut kept), or numbers
 * that cannot be. A checkpoint taken inside a transaction writes no
 * summary (its rids are handed out but not in the slots): the old one no
 * longer matches the log's new salt, and the next checkpoint writes one.
 *
 * Believing one that lies (a crafted header whose checksum holds) cannot
 * lose a record: every rid handed out is checked free in its slot first
 * (engine/store/table.c), so a wrong frontier or hole count wastes slots
 * at most; `vmdb check` compares a current summary with the slots.
 */
#include "db.h"

#include "internal.h"

static bool log_empty(vmdb_db *db)
{
    return vmdb__wal_start(db->wal) == vmdb__wal_end(db->wal);
}

bool vmdb__db_summaries_usable(vmdb_db *db, bool this_boot)
{
    bool crashed = !this_boot || !log_empty(db) ||
                   __atomic_load_n(&db->lock_page->applying, __ATOMIC_ACQUIRE) ||
                   (__atomic_load_n(&db->lock_page->changes, __ATOMIC_ACQUIRE) & 1);
#ifdef VMDB_MUTANT_SUMMARY_AFTER_CRASH /* test-mutants: a crash's summary believed */
    crashed = false;
#endif
    return !crashed;
}

bool vmdb__db_summary_current(vmdb_db *db, const vmdb__table_summary *s, uint64_t salt)
{
    if (!s->log_salt || s->log_salt != salt || s->log_pos != vmdb__wal_start(db->wal))
        return false;
    /* Every slot was written by a transaction before the checkpoint; a
     * table never written has none (its checkpoint may be at 0). */
    return s->max_lsn < s->log_pos || (s->max_lsn == 0 && s->frontier == 0);
}

bool vmdb__db_adopt_summary(vmdb_db *db, vmdb_table *t)
{
    return vmdb__db_summary_current(db, &t->summary, vmdb__wal_salt(db->wal)) &&
           vmdb__table_state_from_summary(t);
}

void vmdb__db_write_summaries(vmdb_db *db, uint64_t pos, uint64_t salt)
{
    /* Only a state with nothing handed out but not applied is the slots'. */
    if (pos != vmdb__wal_end(db->wal) || vmdb__db_open_txn(db))
        return;
    /* A header copy is rewritten in place while `vmdb_check` in another
     * thread or process may be reading it: inside the changes bracket,
     * its read transaction reads again instead of calling the copy torn.
     * One already open (a changer that died) covers this too. */
    bool bracket = !(__atomic_load_n(&db->lock_page->changes, __ATOMIC_RELAXED) & 1);
    if (bracket)
        vmdb__db_changing(db, true);
    for (size_t i = 0; i < vmdb__db_table_count(db); i++)
        vmdb__table_write_summary(vmdb__db_table_at(db, i), pos, salt);
    if (bracket)
        vmdb__db_changing(db, false);
}

int vmdb__db_check_summary(vmdb_db *db, vmdb_table *t, const vmdb__table_summary *s,
                           const vmdb__table_tally *tally)
{
    uint64_t salt = __atomic_load_n(&db->lock_page->salt, __ATOMIC_ACQUIRE);
    if (!log_empty(db) || !vmdb__db_summary_current(db, s, salt))
        return 0; /* older than the slots by design: nothing to hold it to */
    return vmdb__table_summary_agrees(t, s, tally);
}
