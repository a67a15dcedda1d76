/* SPDX-License-Identifier: MIT */
/*
 * engine/query/select_read.c - a SELECT's rows as one committed state of
 * the database, never a part of another process's transaction.
 *
 * The rows are read in a read transaction (vmdb_read, vmdb/db.h), which
 * may have to be read again: so a try keeps its rows in memory, and they
 * are handed out only once the try validated. A try whose rows outgrow
 * KEPT_ROWS_MAX, or the try after VMDB_READ_OPTIMISTIC_TRIES disturbed
 * ones, runs with writers held back and cannot be disturbed: it hands its
 * rows straight to a row callback (vmdb_step_all), or, for vmdb_step,
 * which hands out one row a call, keeps them all. Writers in every
 * process then wait until the rows are read, as they wait for a reader
 * in SQLite's rollback-journal mode.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sql_admin.h"
#include "stmt.h"

/* Rows a try may keep before it is done again with writers held back:
 * what a caller takes in well under a second. */
#define KEPT_ROWS_MAX (16u << 20)

void vmdb__select_rows_clear(select_rows *rows)
{
    sql_arena_free(rows->arena);
    rows->arena = NULL;
    rows->count = 0;
    rows->bytes = 0;
}

void vmdb__select_rows_free(select_rows *rows)
{
    vmdb__select_rows_clear(rows);
    free(rows->rows);
    rows->rows = NULL;
    rows->cap = 0;
}

typedef struct reader {
    vmdb_stmt *stmt;
    size_t limit;      /* bytes of rows a try may keep; 0: no limit */
    vmdb_row_fn row;   /* where rows go when they are not kept */
    void *ctx;
    bool full;         /* the try kept more than limit */
    int stopped;       /* row's nonzero return */
    sql_error err;
} reader;

enum try_result { TRY_OK = 0, TRY_FAILED = -1, TRY_FULL = 1, TRY_STOPPED = 2 };

static int ignore_columns(void *ctx, size_t count, const char *const *names,
                          const enum sql_type *types)
{
    (void)ctx, (void)count, (void)names, (void)types;
    return 0;
}

static int out_of_memory(reader *rd)
{
    sql_fail(&rd->err, 0, 0, "out of memory keeping the rows of the statement");
    rd->err.code = VMDB_ENOMEM;
    return 1;
}

/* The cells point into a record the executor reads next: kept as copies. */
static int keep_row(void *ctx, const sql_value *cells)
{
    reader *rd = ctx;
    select_rows *kept = &rd->stmt->rows;
    size_t n = rd->stmt->column_count;
    if (!kept->arena && !(kept->arena = sql_arena_new()))
        return out_of_memory(rd);
    if (kept->count == kept->cap) {
        size_t cap = kept->cap ? kept->cap * 2 : 256;
        sql_value **grown = realloc(kept->rows, cap * sizeof *grown);
        if (!grown)
            return out_of_memory(rd);
        kept->rows = grown;
        kept->cap = cap;
    }
    sql_value *row = sql_arena_alloc(kept->arena, (n + 1) * sizeof *row);
    if (!row)
        return out_of_memory(rd);
    size_t bytes = (n + 1) * sizeof *row + sizeof *kept->rows;
    for (size_t i = 0; i < n; i++) {
        row[i] = cells[i];
        if (cells[i].type != SQL_T_TEXT && cells[i].type != SQL_T_BYTES)
            continue;
        char *copy = sql_arena_alloc(kept->arena, cells[i].s.len + 1);
        if (!copy)
            return out_of_memory(rd);
        if (cells[i].s.len)
            memcpy(copy, cells[i].s.ptr, cells[i].s.len);
        row[i].s.ptr = copy;
        bytes += cells[i].s.len + 1;
    }
    kept->rows[kept->count++] = row;
    kept->bytes += bytes;
    if (rd->limit && kept->bytes > rd->limit) {
        rd->full = true;
        return 1;
    }
    return 0;
}

static int pass_row(void *ctx, const sql_value *cells)
{
    reader *rd = ctx;
    rd->stmt->current = cells;
    rd->stmt->in_callback = true;
    int rc = rd->row(rd->ctx, rd->stmt);
    rd->stmt->in_callback = false;
    rd->stmt->current = NULL;
    rd->stopped = rc;
    return rc;
}

static enum try_result run_try(reader *rd, sql_plan *plan, bool pass)
{
    sql_sink sink = {ignore_columns, pass ? pass_row : keep_row, rd};
    uint64_t rows, changed;
    rd->full = false;
    rd->stopped = 0;
    memset(&rd->err, 0, sizeof rd->err);
    vmdb__select_rows_clear(&rd->stmt->rows);
    int rc = sql_execute(plan, &sink, &rows, &changed, &rd->err);
    if (rd->stopped)
        return TRY_STOPPED;
    if (rd->full)
        return TRY_FULL;
    /* keep_row's own failure comes back as its nonzero return. */
    if (rc != 0 || rd->err.message[0])
        return TRY_FAILED;
    return TRY_OK;
}

/* What a try that stands returns. A failed one's error is recorded only
 * now: a disturbed try's is no error. */
static int finish(reader *rd, enum try_result result)
{
    switch (result) {
    case TRY_STOPPED:
        return rd->stopped;
    case TRY_FAILED:
        vmdb__select_rows_clear(&rd->stmt->rows);
        return vmdb__sql_fail(&rd->err, VMDB_ERANGE, rd->stmt->text, rd->stmt->len);
    default:
        return 0;
    }
}

/* Is the statement's table still the one it was prepared on? A dropped
 * table's handle stays valid memory that finds nothing, so a run on it
 * would read no row; one made again under the name has other fields.
 * Here, since a read checks it again once its rows stand; stmt.c checks
 * it before every run. */
int vmdb__stmt_check_table(const vmdb_stmt *st)
{
    const char *name = sql_plan_stmt(st->plan)->table;
    if (!name)
        return 0;
    vmdb_table *now;
    int rc = vmdb_table_open(st->db, name, NULL, &now);
    if (rc == VMDB_ENOTFOUND)
        return vmdb__fail(VMDB_ENOTFOUND, "%s: no table '%s': dropped since the statement "
                          "was prepared", vmdb_db_path(st->db), name);
    if (rc < 0)
        return rc;
    if (vmdb_table_schema(now) != sql_plan_schema(st->plan))
        return vmdb__fail(VMDB_ESCHEMA, "%s: the table was dropped and made again since the "
                          "statement was prepared: prepare it again", name);
    return 0;
}

/* The last try, which nothing can disturb: writers are held back. */
static int held_try(reader *rd, sql_plan *plan, vmdb_read *r)
{
    rd->limit = 0;
    /* A drop that disturbed the tries before is done now: the table
     * would read as empty, a state it never had. */
    int rc = vmdb__stmt_check_table(rd->stmt);
    if (rc < 0) {
        vmdb_read_end(r);
        return rc;
    }
    enum try_result result = run_try(rd, plan, rd->row != NULL);
    vmdb_read_end(r);
    return finish(rd, result);
}

/* The rows of a try that validated, to the callback; outside the read
 * transaction, so that it may run statements of its own. */
static int hand_out(reader *rd)
{
    if (!rd->row)
        return 0;
    vmdb_stmt *stmt = rd->stmt;
    for (size_t i = 0; i < stmt->rows.count; i++) {
        stmt->current = stmt->rows.rows[i];
        stmt->in_callback = true;
        int rc = rd->row(rd->ctx, stmt);
        stmt->in_callback = false;
        stmt->current = NULL;
        if (rc != 0)
            return rc;
    }
    return 0;
}

int vmdb__select_read(vmdb_stmt *stmt, sql_plan *plan, vmdb_row_fn row, void *ctx)
{
    reader rd = {.stmt = stmt, .limit = KEPT_ROWS_MAX, .row = row, .ctx = ctx};
    if (sql_txn_current(stmt->db)) {
        /* Inside BEGIN's transaction its thread holds the writer lock, so
         * nothing changes what it reads. The rows are kept whole before
         * they are handed out: a callback's write in the transaction must
         * not change what the read is going through. */
        rd.limit = 0;
        enum try_result result = run_try(&rd, plan, false);
        return result == TRY_OK ? hand_out(&rd) : finish(&rd, result);
    }
    vmdb_read r;
    int rc = vmdb_read_begin(stmt->db, 0, &r);
    if (rc < 0)
        return rc;
    for (;;) {
        enum try_result result = run_try(&rd, plan, false);
        if (result == TRY_FULL) {
            vmdb_read_end(&r);
            if ((rc = vmdb_read_begin(stmt->db, VMDB_READ_HOLD, &r)) < 0)
                return rc;
            return held_try(&rd, plan, &r);
        }
        int valid = vmdb_read_validate(&r);
        if (valid == VMDB_ERETRY) {
            /* After enough tries validate holds writers back itself. */
            if (r.tries >= VMDB_READ_OPTIMISTIC_TRIES)
                return held_try(&rd, plan, &r);
            continue;
        }
        vmdb_read_end(&r);
        if (valid < 0)
            return valid;
        if (result != TRY_OK)
            return finish(&rd, result);
        /* A scan of a table dropped before or while the try ran finds
         * nothing, and the try after a drop validates: rows that stand
         * are the table's only if it is still there. */
        if ((rc = vmdb__stmt_check_table(stmt)) < 0) {
            vmdb__select_rows_clear(&stmt->rows);
            return rc;
        }
        return hand_out(&rd);
    }
}
