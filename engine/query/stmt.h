/* SPDX-License-Identifier: MIT */
/*
 * engine/query/stmt.h - the public statement's insides, shared by its
 * life and columns (stmt.c) and the read of a SELECT's rows
 * (select_read.c). Private to those two files.
 */
#ifndef VMDB_QUERY_STMT_H
#define VMDB_QUERY_STMT_H

#include "sql.h"

/* A parameter: its value once bound, and what prepare learnt of it. */
typedef struct stmt_param {
    bool bound;
    sql_value value;
    char *text;          /* bound text's own copy, value.s.ptr */
    enum sql_type want;  /* the type of what it meets */
    bool has_field;      /* it meets field `field` of the table */
    size_t field;
    unsigned line, col;  /* where its '?' is, for a message */
} stmt_param;

/* A SELECT's rows kept until its read validated: each row its cells, the
 * cells' text and bytes copied beside them. */
typedef struct select_rows {
    sql_arena *arena;
    sql_value **rows;
    size_t count, cap;
    size_t bytes;        /* what they hold, against the limit */
} select_rows;

enum stmt_state {
    STMT_READY, /* not run since prepare or reset */
    STMT_ROWS,  /* run: rows being handed out */
    STMT_DONE,
};

struct vmdb_stmt {
    vmdb_db *db;
    sql_stmt *parsed;         /* at prepare; owns text */
    sql_plan *plan;           /* prepare's, for columns and parameters */
    const char *text;         /* the statement's text, for runs and messages */
    size_t len;
    unsigned param_count;
    stmt_param *params;
    sql_stmt *run_parsed;     /* with the bound values in; NULL without */
    sql_plan *run_plan;       /* what runs: plan, or run_parsed's */

    size_t column_count;
    const char *const *column_names;
    const enum sql_type *column_types;
    char **cell_text;         /* per column: vmdb_column_text's buffer */
    size_t *cell_cap;

    enum stmt_state state;
    select_rows rows;
    size_t next_row;
    const sql_value *current; /* the row the columns read, or NULL */
    bool in_callback;         /* a row is with vmdb_step_all's callback */
    uint64_t changes;
};

/* Records err (code, or default_code) as the thread's error, its position
 * in text[0, len) in the message; returns the code. */
int vmdb__sql_fail(const sql_error *err, int default_code, const char *text, size_t len);
/* The last SQL error said again with its position counted from the start
 * of `text`, in which the failing statement began `base` bytes in (the
 * statements of one text run in turn). Returns code. */
int vmdb__sql_error_rebase(int code, const char *text, size_t base);

/*
 * Runs plan, a SELECT of stmt, so that its rows are one committed state:
 * without row, into stmt->rows for vmdb_step; with row, each row to
 * row(ctx, stmt), stmt->current set. 0, row's nonzero return, or a
 * negative VMDB_E* code.
 */
int vmdb__select_read(vmdb_stmt *stmt, sql_plan *plan, vmdb_row_fn row, void *ctx);

/* 0 if the statement's table is still the one it was prepared on, else
 * VMDB_ENOTFOUND (dropped) or VMDB_ESCHEMA (made again), said
 * (select_read.c). */
int vmdb__stmt_check_table(const vmdb_stmt *st);

/* EXPLAIN before a statement (explain_rows.c): its one column, and its
 * rows, the plan's lines, kept in stmt->rows and, with row, handed to
 * row(ctx, stmt) as vmdb__select_read does. */
size_t vmdb__explain_columns(const char *const **names, const enum sql_type **types);
int vmdb__explain_rows(vmdb_stmt *stmt, sql_plan *plan, vmdb_row_fn row, void *ctx);

/* Empties the rows for the next run; frees them for good. */
void vmdb__select_rows_clear(select_rows *rows);
void vmdb__select_rows_free(select_rows *rows);

#endif /* VMDB_QUERY_STMT_H */
