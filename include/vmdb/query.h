/* SPDX-License-Identifier: MIT */
/*
 * vmdb/query.h - the SQL of `vmdb query` from C: statements prepared on an
 * open database, parameters bound, rows stepped through.
 *
 *     vmdb_stmt *stmt;
 *     rc = vmdb_prepare(db, "SELECT name, age FROM people WHERE age > ?",
 *                       VMDB_SQL_NUL_TERMINATED, &stmt, NULL);
 *     rc = vmdb_bind_i64(stmt, 1, 30);
 *     while ((rc = vmdb_step(stmt)) == VMDB_ROW) {
 *         const char *name;
 *         int64_t age;
 *         vmdb_column_text(stmt, 0, &name, NULL);
 *         vmdb_column_i64(stmt, 1, &age);
 *     }
 *     // rc is VMDB_DONE, or a negative VMDB_E* code
 *     vmdb_finalize(stmt);
 *
 * The language is docs/sql.md's (`vmdb query --help`): SELECT, INSERT,
 * UPDATE and DELETE on one table, without NULL; BEGIN, COMMIT (END) and
 * ROLLBACK; CREATE TABLE and DROP TABLE.
 *
 * BEGIN opens a write transaction (a vmdb_txn, vmdb/db.h) that belongs to
 * the calling thread on this handle, as a vmdb_txn does: that thread's
 * statements on the handle run in it and read its writes until COMMIT or
 * ROLLBACK, whichever statement objects they are (vmdb_finalize leaves it
 * open). Other threads' statements on the handle run outside it: a SELECT
 * reads what is committed, a write waits for it to end. A statement that
 * fails inside it is undone alone and the transaction goes on, as in
 * SQLite. vmdb_close on that thread rolls it back (sqlite3_close_v2's
 * way). CREATE TABLE and DROP TABLE are refused inside it (VMDB_EINVAL).
 * A transaction begun with vmdb_txn_begin is never joined by SQL.
 *
 * Otherwise each statement is one transaction. INSERT, UPDATE and DELETE are atomic:
 * all of their changes are committed together, or none when any fails.
 * A SELECT reads one committed state, never a part of another process's
 * transaction: its rows are read in a read transaction (vmdb_read_begin,
 * vmdb/db.h) into memory and handed out once it validated. When a try
 * is disturbed VMDB_READ_OPTIMISTIC_TRIES times, or its rows outgrow
 * 16 MiB, the statement is read once more holding writers back (in every
 * process) until its rows are read; vmdb_step_all and vmdb_exec then hand
 * them out as they are read, without keeping them, and release writers
 * when the statement is done. So a callback of theirs must not start a
 * write or another SELECT on the same thread (VMDB_EBUSY).
 *
 * Errors follow vmdb/error.h: a negative VMDB_E* code, and the calling
 * thread's vmdb_last_error() with a one-line message naming the token and
 * where it is: "syntax error at 'FORM' (col 10)", "people: no field
 * 'agee' (col 8)"; "(line 2, col 3)" when the statement spans lines.
 * VMDB_ESYNTAX for text that does not parse, VMDB_ENOTFOUND for a table
 * or field that does not exist, VMDB_EINVAL for other statements that
 * cannot run (types that do not mix, "cannot compare text with integer"),
 * VMDB_ERANGE for a result out of range, division by zero, a value a
 * field cannot hold, and a parameter or column index out of range.
 * vmdb_sql_error_position() gives the position apart, for a caller that
 * reports it in its own terms (a shell, counting lines of a script).
 *
 * A statement belongs to one thread at a time, and to its database: it
 * must be finalized before the database is closed.
 */
#ifndef VMDB_QUERY_H
#define VMDB_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmdb_stmt vmdb_stmt;

/* vmdb_step's verdicts besides errors: positive, so that they never meet
 * a VMDB_E* code (all negative). The values are sqlite3's. */
#define VMDB_ROW 100  /* a row is ready: read it with vmdb_column_* */
#define VMDB_DONE 101 /* the statement has run to its end */

/* The length argument of a NUL-terminated SQL text. */
#define VMDB_SQL_NUL_TERMINATED ((size_t)-1)

/* What a statement is. New kinds are added at the end. */
enum vmdb_stmt_kind {
    VMDB_STMT_SELECT,
    VMDB_STMT_INSERT,
    VMDB_STMT_UPDATE,
    VMDB_STMT_DELETE,
    VMDB_STMT_BEGIN,        /* BEGIN [DEFERRED|IMMEDIATE|EXCLUSIVE] [TRANSACTION] */
    VMDB_STMT_COMMIT,       /* COMMIT, END */
    VMDB_STMT_ROLLBACK,
    VMDB_STMT_CREATE_TABLE,
    VMDB_STMT_DROP_TABLE,
};

/* A column's or value's type: SQL has five, whatever the field's width. */
enum vmdb_value_type {
    VMDB_VALUE_INT = 1, /* integers, exact over [-2^63, 2^64-1] */
    VMDB_VALUE_FLOAT,
    VMDB_VALUE_TEXT,
    VMDB_VALUE_BOOL,
    VMDB_VALUE_BYTES,   /* a bytesN field's raw bytes */
};

/*
 * Parses and plans the first statement of sql (len bytes, or
 * VMDB_SQL_NUL_TERMINATED): names are bound to the table's fields and
 * types checked now, so that a statement that cannot run fails here.
 * With tail, *tail gets where the next statement starts (after this
 * one's ';'), to run several in turn; without (NULL), sql must hold one
 * statement, a ';' after it allowed. With tail, text that holds no
 * statement (only spaces and comments) gives 0 with *out NULL and *tail
 * at its end; without, it is a syntax error.
 * Positions in messages count from sql.
 */
VMDB_API int vmdb_prepare(vmdb_db *db, const char *sql, size_t len, vmdb_stmt **out,
                          const char **tail);

/* Frees the statement; accepts NULL. */
VMDB_API void vmdb_finalize(vmdb_stmt *stmt);

/* Makes the statement ready to run again, its parameters kept. */
VMDB_API void vmdb_reset(vmdb_stmt *stmt);

/*
 * Parameters: each '?' of the statement, numbered from 1 in the order of
 * the text. A parameter has the type of what it is compared with, stored
 * in or computed with ("age > ?" an integer, "name LIKE ?" text), and a
 * value is checked when bound: VMDB_EINVAL for a value of another type
 * ("parameter 1: text where people.age (u8) needs a number"), VMDB_ERANGE
 * for a number the field cannot hold ("parameter 1: 300 does not fit
 * people.age (u8)") or an index that is no parameter's. Integers bind to
 * integers and floats, doubles to both; text (len bytes, copied; or
 * VMDB_SQL_NUL_TERMINATED) to text, and to bytes as '0x...' hex. Binding
 * resets a statement that was running. Every parameter must be bound
 * before the statement runs (VMDB_EINVAL).
 */
VMDB_API int vmdb_bind_i64(vmdb_stmt *stmt, int index, int64_t value);
VMDB_API int vmdb_bind_u64(vmdb_stmt *stmt, int index, uint64_t value);
VMDB_API int vmdb_bind_double(vmdb_stmt *stmt, int index, double value);
VMDB_API int vmdb_bind_text(vmdb_stmt *stmt, int index, const char *text, size_t len);
VMDB_API int vmdb_bind_bool(vmdb_stmt *stmt, int index, bool value);
/* How many parameters the statement has. */
VMDB_API int vmdb_bind_count(const vmdb_stmt *stmt);

/*
 * Runs the statement, or goes on with it: VMDB_ROW when a row of a
 * SELECT is ready, VMDB_DONE at the end (at once for INSERT, UPDATE and
 * DELETE, whose changes vmdb_changes counts), or a negative VMDB_E* code.
 * A SELECT's rows are all read at the first step (see above); after
 * VMDB_DONE, vmdb_reset runs it again; after an error (VMDB_EBUSY, say),
 * nothing of the run was kept and the next step runs it again. A
 * statement whose table was dropped since prepare fails to run:
 * VMDB_ENOTFOUND, or VMDB_ESCHEMA when a table was made again under its
 * name (prepare it again).
 */
VMDB_API int vmdb_step(vmdb_stmt *stmt);

/*
 * Runs the statement to its end, calling row(ctx, stmt) for each row
 * with the row ready for vmdb_column_*. A nonzero return from row stops
 * the statement and is returned. Otherwise 0 or a negative VMDB_E* code.
 * Rows that outgrow memory's share (above) are handed out as read. The
 * callback must not finalize the statement; binding, stepping or
 * resetting it there is refused (VMDB_EBUSY; vmdb_reset does nothing).
 */
typedef int (*vmdb_row_fn)(void *ctx, vmdb_stmt *stmt);
VMDB_API int vmdb_step_all(vmdb_stmt *stmt, vmdb_row_fn row, void *ctx);

/*
 * Prepares and runs each statement of sql (NUL-terminated) in turn, as
 * vmdb_step_all does, row (may be NULL) getting each SELECT's rows. Stops
 * at the first error, which it returns, or at row's first nonzero
 * return, which it returns too; 0 when every statement ran.
 */
VMDB_API int vmdb_exec(vmdb_db *db, const char *sql, vmdb_row_fn row, void *ctx);

/* Records written by the last run of an INSERT, UPDATE or DELETE (0 for a
 * SELECT). */
VMDB_API uint64_t vmdb_changes(const vmdb_stmt *stmt);

/* What the statement is. */
VMDB_API enum vmdb_stmt_kind vmdb_stmt_kind(const vmdb_stmt *stmt);

/*
 * The statement's plan as text, one step a line, as `vmdb query
 * --explain` prints it ("index lookup on people.id (1 key)\n"), into buf
 * (cap bytes, NUL-terminated, cut to fit; buf may be NULL with cap 0).
 * Returns the length of the whole text, without its NUL, as snprintf
 * does; negative on error. With every parameter bound it is the plan the
 * statement runs with, their values known (a key bound to `id = ?` is
 * looked up); before, a plan for any value.
 */
VMDB_API long vmdb_explain(vmdb_stmt *stmt, char *buf, size_t cap);

/*
 * The output columns of a SELECT, known from vmdb_prepare on: their count
 * (0 for the other statements), each one's name (a field's name, the
 * alias, or the expression as written) and type. The values are the
 * current row's, after vmdb_step gave VMDB_ROW or in vmdb_step_all's
 * callback. Index from 0: VMDB_ERANGE beyond the last; VMDB_EINVAL
 * without a row, or for a value the call cannot give: vmdb_column_i64 of
 * text, or of an integer above INT64_MAX (VMDB_ERANGE); vmdb_column_u64
 * of a negative one (VMDB_ERANGE). vmdb_column_double takes integers too,
 * vmdb_column_bool bools only.
 *
 * vmdb_column_text gives every value as text, as `vmdb query` prints it:
 * integers in decimal, floats in the shortest form that reads back the
 * same, true/false, bytes as 0x and hex; NUL-terminated, *len (may be
 * NULL) its length. The text stays valid until the next step, reset or
 * finalize.
 */
VMDB_API int vmdb_column_count(const vmdb_stmt *stmt);
VMDB_API const char *vmdb_column_name(const vmdb_stmt *stmt, int col);
/* A VMDB_VALUE_*, or 0 for an index beyond the last. */
VMDB_API enum vmdb_value_type vmdb_column_type(const vmdb_stmt *stmt, int col);
VMDB_API int vmdb_column_i64(vmdb_stmt *stmt, int col, int64_t *out);
VMDB_API int vmdb_column_u64(vmdb_stmt *stmt, int col, uint64_t *out);
VMDB_API int vmdb_column_double(vmdb_stmt *stmt, int col, double *out);
VMDB_API int vmdb_column_bool(vmdb_stmt *stmt, int col, bool *out);
VMDB_API int vmdb_column_text(vmdb_stmt *stmt, int col, const char **text, size_t *len);

/*
 * Where the last SQL error of this thread points, for a caller that
 * words the position itself. `line` and `col` are 1-based, counted from
 * the start of the text given to the failing call (col 0: no position,
 * as for a value out of range); `offset` is in bytes from there;
 * `message_len` is the length of vmdb_last_error()->message without the
 * position " (col C)" or " (line L, col C)" it ends with. All zero when
 * the thread's last error was not a SQL one.
 */
typedef struct vmdb_sql_position {
    unsigned line;
    unsigned col;
    size_t offset;
    size_t message_len;
} vmdb_sql_position;
VMDB_API void vmdb_sql_error_position(vmdb_sql_position *pos);

/*
 * Text helpers for a prompt or a script reader that gathers lines into
 * statements.
 *
 * vmdb_sql_statement_length: the length of the first complete statement
 * of text (len bytes), its ';' included, quotes and comments skipped; 0
 * when no ';' has come yet outside them.
 *
 * vmdb_sql_is_blank: true if text holds nothing but spaces and comments.
 *
 * vmdb_sql_kind: parses the first statement of sql without a database
 * (as vmdb_prepare does, tail the same) and returns its kind, a
 * VMDB_STMT_*, or VMDB_ESYNTAX: for a caller that opens the database
 * read-only when the statement only reads, and says what is wrong
 * before opening anything.
 */
VMDB_API size_t vmdb_sql_statement_length(const char *text, size_t len);
VMDB_API bool vmdb_sql_is_blank(const char *text, size_t len);
VMDB_API int vmdb_sql_kind(const char *sql, size_t len, const char **tail);

#ifdef __cplusplus
}
#endif

#endif /* VMDB_QUERY_H */
