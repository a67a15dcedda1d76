/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_txn_read.c - the records a statement's WHERE selects,
 * read inside BEGIN's transaction, which must see its own writes.
 *
 * Nothing of an open transaction is in the tables (vmdb applies a
 * transaction only at commit), so its reads go through it: a key is
 * looked up with vmdb_txn_get; a scan reads the table in place as usual
 * and takes, for each record the transaction changed, its after-image
 * from the log instead, skips those it deleted, and then visits those it
 * inserted at ids the table held free. The thread holds the writer lock,
 * so no other writer changes the tables meanwhile; the scan's reads are
 * still checked as everywhere else.
 */
#include <stdlib.h>
#include <string.h>

#include "sql_admin.h"
#include "sql_plan.h"

static int oom(sql_error *err)
{
    return sql_fail_oom(err, "running");
}

static int library_error(sql_error *err)
{
    return sql_fail_library(err, "");
}

typedef struct txn_visit {
    sql_plan *pl;
    vmdb_txn *txn;
    sql_visit_fn fn;
    void *ctx;
    sql_error *err;
    unsigned char *buf; /* a stable copy of the record at hand */
} txn_visit;

/* The WHERE on a stable copy, then fn: 0 to go on, 1 to stop, -1. */
static int visit_one(txn_visit *v, uint64_t rid, const unsigned char *record)
{
    bool match = true;
    sql_row row = {.record = record};
    if (v->pl->stmt->where && sql_eval_bool(v->pl->stmt->where, &row, &match, v->err) < 0)
        return -1;
    return match ? v->fn(v->ctx, rid, record, v->err) : 0;
}

static int visit_keys(txn_visit *v)
{
    sql_plan *pl = v->pl;
    for (size_t i = 0; i < pl->key_count; i++) {
        uint64_t rid;
        int rc = vmdb_txn_get(v->txn, pl->table, pl->keys[i].bytes, pl->keys[i].len, v->buf,
                              &rid);
        if (rc == VMDB_ENOTFOUND)
            continue;
        if (rc < 0)
            return library_error(v->err);
        if ((rc = visit_one(v, rid, v->buf)) != 0)
            return rc;
    }
    return 0;
}

static int visit_new(void *ctx, uint64_t rid, const void *record)
{
    txn_visit *v = ctx;
    memcpy(v->buf, record, v->pl->record_size);
    return visit_one(v, rid, v->buf);
}

static int visit_scan(txn_visit *v)
{
    sql_plan *pl = v->pl;
    vmdb_table_scan_batch *b = malloc(sizeof *b);
    if (!b)
        return oom(v->err);
    b->next_rid = 0;
    int rc;
    while ((rc = vmdb_table_scan_next(pl->table, b)) == 0) {
        for (size_t i = 0; i < b->count; i++) {
            const void *own;
            if (vmdb__txn_own_record(v->txn, pl->table, b->rid[i], &own) == 0) {
                if (!own)
                    continue; /* deleted by the transaction */
                memcpy(v->buf, own, pl->record_size);
            } else {
                memcpy(v->buf, b->record[i], pl->record_size);
                if (!vmdb_scan_valid(b, i) &&
                    (rc = vmdb_table_get_rid(pl->table, b->rid[i], v->buf)) < 0) {
                    if (rc == VMDB_ENOTFOUND)
                        continue;
                    free(b);
                    return library_error(v->err);
                }
            }
            if ((rc = visit_one(v, b->rid[i], v->buf)) != 0) {
                free(b);
                return rc;
            }
        }
    }
    free(b);
    if (rc != VMDB_ENOTFOUND)
        return library_error(v->err);
    return vmdb__txn_foreach_new(v->txn, pl->table, visit_new, v);
}

int sql_txn_visit(sql_plan *pl, vmdb_txn *txn, sql_visit_fn fn, void *ctx, sql_error *err)
{
    txn_visit v = {.pl = pl, .txn = txn, .fn = fn, .ctx = ctx, .err = err};
    if (!(v.buf = malloc(pl->record_size ? pl->record_size : 1)))
        return oom(err);
    int rc = pl->use_index ? visit_keys(&v) : visit_scan(&v);
    free(v.buf);
    return rc < 0 ? -1 : 0;
}
