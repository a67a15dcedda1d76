/* SPDX-License-Identifier: MIT */
/*
 * engine/db/txn_stmt.h - a write transaction as SQL statements use it
 * (engine/query): lent to its thread's statements by BEGIN, undone to
 * where a failed statement began, and read as it sees the tables.
 */
#ifndef VMDB_ENGINE_TXN_STMT_H
#define VMDB_ENGINE_TXN_STMT_H

#include "db.h"

/* Marks txn as begun by SQL's BEGIN: the statements of the thread that
 * holds it then run in it (vmdb__txn_lent). One begun by a program with
 * vmdb_txn_begin is never lent: its pointer is the program's. */
void vmdb__txn_lend(vmdb_txn *txn);

/* The transaction the calling thread has open on db and lent to its
 * statements, or NULL. */
vmdb_txn *vmdb__txn_lent(vmdb_db *db);

/* Where a statement began inside a transaction, to undo it alone when it
 * fails (SQLite's statement journal): its operations so far and the
 * log position then. */
typedef struct vmdb__txn_mark {
    size_t count;
    uint64_t pos;
} vmdb__txn_mark;

void vmdb__txn_mark_here(const vmdb_txn *txn, vmdb__txn_mark *mark);

/* Forgets every operation after mark: the record ids they reserved go
 * back, their log bytes are written over by the next ones, and the
 * transaction's failure, which only they can have caused, is cleared. */
void vmdb__txn_undo_to(vmdb_txn *txn, const vmdb__txn_mark *mark);

/* How txn's own operations leave record rid of t: VMDB_ENOTFOUND when
 * none touched it (the table's copy stands); 0 with *record at its
 * after-image (in the log, valid while the transaction is open and adds
 * nothing), or NULL when the transaction deleted it. */
int vmdb__txn_own_record(const vmdb_txn *txn, const vmdb_table *t, uint64_t rid,
                         const void **record);

/* The records txn put into t at ids the table held free, in the order it
 * put them: fn(ctx, rid, record) for each it still holds, the record as
 * its last operation left it; stops at fn's first nonzero return and
 * returns it. */
int vmdb__txn_foreach_new(const vmdb_txn *txn, const vmdb_table *t,
                          int (*fn)(void *ctx, uint64_t rid, const void *record), void *ctx);

#endif
