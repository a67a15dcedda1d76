/* SPDX-License-Identifier: MIT */
/*
 * engine/db/apply.c - applying a committed transaction to the tables and
 * indexes, one logged operation at a time, inside the changes counter's
 * bracket that read transactions go by. Commit, the group flusher,
 * compaction and replay all apply through here.
 */
#include "txn.h"

#include "index.h"
#include "internal.h"

int vmdb__db_apply(vmdb_db *db, vmdb_table *t, uint8_t kind, uint64_t rid, uint64_t lsn,
                   const void *payload)
{
    (void)db;
    int rc = 0;
    bool was_live = rid < t->capacity && vmdb__slot_live(vmdb__table_slot(t, rid));
    const void *old_key = NULL, *new_key = NULL;
    size_t old_len = 0, new_len = 0;
    if (was_live)
        vmdb__table_key(t, vmdb__table_slot(t, rid) + 1, &old_key, &old_len);
    bool put = kind == VMDB__WAL_PUT;
    if (put)
        vmdb__table_key(t, payload, &new_key, &new_len);
    bool same = was_live && put && old_len == new_len && !memcmp(old_key, new_key, new_len);
    /* The index first drops the old key, the slot changes, then the index
     * learns the new key: a reader between the steps finds the key absent
     * for a moment or finds the record and checks its key, never a wrong
     * record. */
    if (was_live && !same)
        rc = vmdb__index_remove(t->index, vmdb__index_hash(old_key, old_len), rid);
    if (rc == 0)
        rc = vmdb__table_write(t, rid, lsn, put ? payload : NULL);
    if (rc == 0 && put && !same)
        rc = vmdb__index_insert(t->index, vmdb__index_hash(new_key, new_len), rid);
    if (rc < 0)
        return rc;
    if (put && !was_live) {
        t->live_count++;
        if (rid >= t->frontier)
            t->frontier = rid + 1;
    } else if (!put && was_live) {
        /* A live slot with none counted: the count came from a summary
         * that lied. Below zero it would make every later use of it
         * (the next summary, an index's room) absurd. */
        if (t->live_count == 0)
            t->state_doubtful = true;
        else
            t->live_count--;
        rc = vmdb__table_release_rid(t, rid);
    }
    return rc;
}
#ifdef VMDB_TEST_HOOKS
void (*vmdb__apply_test_hook)(vmdb_db *db, size_t applied);
#endif

/* Operations ahead of the one applied whose index entry and slot are
 * prefetched: a transaction's keys are scattered over the index, and
 * applied one after the other each would wait for its own cache miss
 * (the lines its put looked at were evicted by the puts after it). */
#define APPLY_AHEAD 8

static void prefetch_op(const struct txn_op *op)
{
    vmdb__index_prefetch(op->table->index, op->hash);
    vmdb__table_prefetch(op->table, op->rid);
}

int vmdb__txn_apply(vmdb_db *db, vmdb_txn *txn)
{
    vmdb__db_changing(db, true);
    for (size_t i = 0; i < txn->count && i < APPLY_AHEAD; i++)
        prefetch_op(&txn->ops[i]);
    for (size_t i = 0; i < txn->count; i++) {
        struct txn_op *op = &txn->ops[i];
        if (i + APPLY_AHEAD < txn->count)
            prefetch_op(&txn->ops[i + APPLY_AHEAD]);
        int rc = vmdb__db_apply(db, op->table, op->kind, op->rid, txn->start, op->payload);
        if (rc < 0)
            return rc; /* both counts stay up: the log has the rest */
#ifdef VMDB_TEST_HOOKS
        if (vmdb__apply_test_hook)
            vmdb__apply_test_hook(db, i);
#endif
    }
    vmdb__db_changing(db, false);
    return 0;
}
