/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_txn.c - BEGIN, COMMIT and ROLLBACK, and the row
 * statements' writes inside the transaction they make.
 *
 * The transaction is a vmdb_txn, so it follows vmdb's model, which is
 * LMDB's: it belongs to the thread that ran BEGIN, on that handle, and
 * holds the handle's writer lock until COMMIT or ROLLBACK. That thread's
 * statements on the handle run in it and read its writes; another
 * thread's run beside it as another connection's would in SQLite (a
 * write waits for the lock, a SELECT reads what is committed). The state
 * is the db layer's, not this file's: BEGIN lends the transaction to
 * statements (vmdb__txn_lend), and vmdb_close aborts what its thread
 * left open, so nothing here can outlive the handle.
 *
 * A statement that fails inside the transaction is undone alone and the
 * transaction goes on, as in SQLite: ROLLBACK then undoes the statements
 * before it, COMMIT keeps them.
 */
#include <string.h>
#include <strings.h>

#include "sql_admin.h"

bool sql_word(const sql_token *tok, const char *w)
{
    size_t n = strlen(w);
    return (tok->kind == SQL_TOK_IDENT || tok->kind == SQL_TOK_KEYWORD) && tok->len == n &&
           tok->text[0] != '"' && strncasecmp(tok->text, w, n) == 0;
}

int sql_admin_syntax_error(const sql_token *tok, sql_error *err)
{
    if (tok->kind == SQL_TOK_END)
        return sql_fail(err, tok->line, tok->col, "syntax error at end of input");
    char q[VMDB_PRINTABLE_CAP];
    vmdb_printable(tok->text, tok->len, q, sizeof q);
    return sql_fail(err, tok->line, tok->col, "syntax error at '%s'", q);
}

int sql_txn_parse(sql_lexer *lx, sql_token *tok, sql_stmt *st, sql_error *err)
{
    if (sql_word(tok, "SAVEPOINT") || sql_word(tok, "RELEASE"))
        return sql_fail(err, tok->line, tok->col,
                        "savepoints are not supported (BEGIN, COMMIT and ROLLBACK are)");
    st->kind = sql_word(tok, "BEGIN")      ? SQL_BEGIN
               : sql_word(tok, "ROLLBACK") ? SQL_ROLLBACK
                                           : SQL_COMMIT;
    if (sql_lex_next(lx, tok, err) < 0)
        return -1;
    /* SQLite's modes: vmdb's writer lock is taken at BEGIN in every one,
     * which is what IMMEDIATE asks for. */
    if (st->kind == SQL_BEGIN &&
        (sql_word(tok, "DEFERRED") || sql_word(tok, "IMMEDIATE") || sql_word(tok, "EXCLUSIVE")) &&
        sql_lex_next(lx, tok, err) < 0)
        return -1;
    if (sql_word(tok, "TRANSACTION") && sql_lex_next(lx, tok, err) < 0)
        return -1;
    if (st->kind == SQL_ROLLBACK && sql_word(tok, "TO"))
        return sql_fail(err, tok->line, tok->col,
                        "savepoints are not supported: ROLLBACK TO needs one");
    return 0;
}

/* ---- running them ------------------------------------------------------- */

vmdb_txn *sql_txn_current(vmdb_db *db)
{
    return vmdb__txn_lent(db);
}

static int library_error(sql_error *err, const char *prefix)
{
    return sql_fail_library(err, prefix);
}

static int misuse(sql_error *err, int code, const char *fmt, const char *path)
{
    sql_fail(err, 0, 0, fmt, path);
    err->code = code;
    return -1;
}

int sql_txn_execute(vmdb_db *db, const sql_stmt *st, sql_error *err)
{
    vmdb_txn *txn = sql_txn_current(db);
    switch (st->kind) {
    case SQL_BEGIN:
        if (txn)
            return misuse(err, VMDB_EINVAL,
                          "%s: cannot BEGIN: a transaction is already open (COMMIT or ROLLBACK "
                          "it first)",
                          vmdb_db_path(db));
        if (vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) < 0)
            return library_error(err, "BEGIN: ");
        vmdb__txn_lend(txn);
        return 0;
    case SQL_COMMIT:
        if (!txn)
            return misuse(err, VMDB_EINVAL, "%s: cannot COMMIT: no transaction is open",
                          vmdb_db_path(db));
        /* Ended either way: a commit that fails aborts the transaction. */
        if (vmdb_txn_commit(txn) < 0)
            return library_error(err, "COMMIT: ");
        return 0;
    default:
        if (!txn)
            return misuse(err, VMDB_EINVAL, "%s: cannot ROLLBACK: no transaction is open",
                          vmdb_db_path(db));
        vmdb_txn_abort(txn);
        return 0;
    }
}

int sql_write_begin(vmdb_db *db, sql_write *w, sql_error *err)
{
    w->txn = sql_txn_current(db);
    w->lent = w->txn != NULL;
    if (w->lent) {
        vmdb__txn_mark_here(w->txn, &w->mark);
        return 0;
    }
    if (vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &w->txn) < 0)
        return library_error(err, "");
    return 0;
}

void sql_write_undo(sql_write *w)
{
    if (w->lent)
        vmdb__txn_undo_to(w->txn, &w->mark);
    else
        vmdb_txn_abort(w->txn);
    w->txn = NULL;
}

int sql_write_end(sql_write *w, sql_error *err)
{
    vmdb_txn *txn = w->txn;
    w->txn = NULL;
    if (w->lent || vmdb_txn_commit(txn) == 0)
        return 0;
    return library_error(err, "");
}
