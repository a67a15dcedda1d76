/* SPDX-License-Identifier: MIT */
/*
 * engine/db/txn_stmt.c - a write transaction as SQL statements use it:
 * lent by BEGIN to the statements of its thread, undone to the start of
 * a statement that failed, and its own records shown to a statement's
 * scan.
 *
 * A statement inside a transaction must be atomic on its own (an INSERT
 * of three rows whose third key exists adds none), yet the transaction
 * goes on, as in SQLite. Nothing of a transaction reaches the tables
 * before commit, and its operations are a list with two maps over it, so
 * undoing the last ones is cutting the list and building the maps again
 * from what is left: the log bytes past the cut are unpublished, and the
 * next operation writes over them.
 */
#include "txn_stmt.h"

#include <string.h>

#include "txn.h"

void vmdb__txn_lend(vmdb_txn *txn)
{
    txn->lent = true;
}

vmdb_txn *vmdb__txn_lent(vmdb_db *db)
{
    /* A child's copy of the handle shows the parent's holder, which may
     * be this very thread id. */
    if (vmdb__db_inherited(db) || !vmdb__db_held_by_me(db))
        return NULL;
    vmdb_txn *txn = vmdb__db_open_txn(db);
    return txn && txn->lent ? txn : NULL;
}

void vmdb__txn_mark_here(const vmdb_txn *txn, vmdb__txn_mark *mark)
{
    mark->count = txn->count;
    mark->pos = txn->pos;
}

void vmdb__txn_undo_to(vmdb_txn *txn, const vmdb__txn_mark *mark)
{
    if (txn->count < mark->count)
        return;
    pthread_mutex_lock(&txn->db->state);
    for (size_t i = txn->count; i-- > mark->count;)
        if (txn->ops[i].new_rid)
            vmdb__table_release_rid(txn->ops[i].table, txn->ops[i].rid);
    pthread_mutex_unlock(&txn->db->state);
    txn->count = mark->count;
    txn->pos = mark->pos;
    /* The maps name the newest operation per key and per record: built
     * again in order, each entry ends on the newest that is left. They
     * held at least as many entries before, so they do not grow. */
    vmdb__txn_map_clear(&txn->by_key);
    vmdb__txn_map_clear(&txn->by_rid);
    for (uint32_t i = 0; i < txn->count; i++) {
        const struct txn_op *op = &txn->ops[i];
        const void *key;
        size_t len;
        vmdb__txn_op_key(op, &key, &len);
        struct key_ref ref = {op->table, key, len};
        vmdb__txn_map_set(&txn->by_key, op->hash, i, vmdb__txn_same_key, txn, &ref);
        vmdb__txn_map_set(&txn->by_rid, vmdb__txn_rid_key(op->table, op->rid), i,
                          vmdb__txn_same_rid, txn, op);
    }
    txn->failed = 0;
    txn->failure[0] = '\0';
}

static const struct txn_op *own_on_rid(const vmdb_txn *txn, const vmdb_table *t, uint64_t rid)
{
    struct txn_op probe = {.table = (vmdb_table *)t, .rid = rid};
    int i = vmdb__txn_map_get(&txn->by_rid, vmdb__txn_rid_key(t, rid), vmdb__txn_same_rid, txn,
                              &probe);
    return i < 0 ? NULL : &txn->ops[i];
}

int vmdb__txn_own_record(const vmdb_txn *txn, const vmdb_table *t, uint64_t rid,
                         const void **record)
{
    *record = NULL;
    const struct txn_op *op = own_on_rid(txn, t, rid);
    if (!op)
        return VMDB_ENOTFOUND;
    if (op->kind == VMDB__WAL_PUT)
        *record = op->payload;
    return 0;
}

int vmdb__txn_foreach_new(const vmdb_txn *txn, const vmdb_table *t,
                          int (*fn)(void *ctx, uint64_t rid, const void *record), void *ctx)
{
    /* An id is reserved once: its first operation is the one marked new. */
    for (size_t i = 0; i < txn->count; i++) {
        const struct txn_op *op = &txn->ops[i];
        if (op->table != t || !op->new_rid)
            continue;
        const struct txn_op *last = own_on_rid(txn, t, op->rid);
        if (last->kind != VMDB__WAL_PUT)
            continue;
        int rc = fn(ctx, op->rid, last->payload);
        if (rc)
            return rc;
    }
    return 0;
}
