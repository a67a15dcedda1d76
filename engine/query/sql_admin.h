/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_admin.h - the statements that are not about rows:
 * BEGIN, COMMIT and ROLLBACK (sql_txn.c), CREATE TABLE and DROP TABLE
 * (sql_table.c), and how the row statements read and write inside a
 * transaction (sql_txn.c, sql_txn_read.c). The parser, planner and
 * executor hand these kinds over here.
 */
#ifndef VMDB_QUERY_SQL_ADMIN_H
#define VMDB_QUERY_SQL_ADMIN_H

#include "sql.h"
#include "txn_stmt.h"

/* CREATE TABLE and DROP TABLE: the table, and the schema text the
 * field list makes ("id:u64 key, name:str32"), checked at parse. */
struct sql_table_def {
    const char *name;
    bool if_exists;     /* IF NOT EXISTS for CREATE, IF EXISTS for DROP */
    const char *schema; /* CREATE only */
};

/* True if tok (the first of a statement) starts one of these. Words are
 * matched by their text, whether the lexer calls them keywords or names,
 * so that none of them is reserved. */
bool sql_admin_starts(const sql_token *tok);

/* sql_parse for every statement: these kinds here, the row statements
 * by sql_parse. */
int sql_parse_statement(const char *text, size_t len, sql_stmt **out, sql_error *err);

/* Each parser of these kinds: tok is the statement's first token, lx
 * after it; st's arena takes what it keeps. Leaves tok on what follows
 * the statement. 0, or -1 with *err naming the token. */
int sql_txn_parse(sql_lexer *lx, sql_token *tok, sql_stmt *st, sql_error *err);
int sql_table_parse(sql_lexer *lx, sql_token *tok, sql_stmt *st, sql_error *err);

/* Shared by the two parsers: is tok the word w (case-insensitive, not a
 * quoted name)? */
bool sql_word(const sql_token *tok, const char *w);
/* The error of an unexpected token. */
int sql_admin_syntax_error(const sql_token *tok, sql_error *err);

/* The plan's text for --explain. */
void sql_admin_explain(const sql_stmt *st, FILE *out);

/* Runs the statement on db: 0, or -1 with *err. */
int sql_admin_execute(vmdb_db *db, const sql_stmt *st, sql_error *err);
int sql_txn_execute(vmdb_db *db, const sql_stmt *st, sql_error *err);
int sql_table_execute(vmdb_db *db, const sql_stmt *st, sql_error *err);

/* The transaction the calling thread began with BEGIN on db and has not
 * ended, or NULL: the row statements of that thread run in it. */
vmdb_txn *sql_txn_current(vmdb_db *db);

/*
 * A row statement's write: in the calling thread's transaction when BEGIN
 * opened one, undone alone if it fails (the transaction goes on, as in
 * SQLite); otherwise in a transaction of its own, committed at its end.
 */
typedef struct sql_write {
    vmdb_txn *txn;
    bool lent;          /* txn is BEGIN's */
    vmdb__txn_mark mark; /* where the statement began in it */
} sql_write;

int sql_write_begin(vmdb_db *db, sql_write *w, sql_error *err);
/* The statement failed: nothing of it stays. */
void sql_write_undo(sql_write *w);
/* The statement is done: committed, or kept in BEGIN's transaction. */
int sql_write_end(sql_write *w, sql_error *err);

/* Called with each record a statement's WHERE selects, a stable copy:
 * 0 to go on, 1 to stop, -1 on error (sql_exec.c's visitors). */
typedef int (*sql_visit_fn)(void *ctx, uint64_t rid, const unsigned char *record,
                            sql_error *err);

/* The records of plan's table that its WHERE selects, as txn sees them:
 * its own changes over what is committed. */
int sql_txn_visit(sql_plan *plan, vmdb_txn *txn, sql_visit_fn fn, void *ctx,
                  sql_error *err);

#endif
