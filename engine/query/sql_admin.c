/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_admin.c - the statements that are not about rows,
 * handed from the parser, planner and executor to their files: BEGIN,
 * COMMIT, ROLLBACK (sql_txn.c), CREATE TABLE, DROP TABLE (sql_table.c).
 */
#include <string.h>

#include "sql_admin.h"

bool sql_admin_starts(const sql_token *tok)
{
    static const char *const words[] = {"BEGIN", "COMMIT", "END", "ROLLBACK", "CREATE", "DROP",
                                        "SAVEPOINT", "RELEASE"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (sql_word(tok, words[i]))
            return true;
    return false;
}

int sql_parse_statement(const char *text, size_t len, sql_stmt **out, sql_error *err)
{
    *out = NULL;
    memset(err, 0, sizeof *err);
    sql_lexer lx;
    sql_token tok;
    sql_lex_init(&lx, text, len);
    if (sql_lex_next(&lx, &tok, err) < 0 || !sql_admin_starts(&tok))
        return sql_parse(text, len, out, err);
    sql_arena *arena = sql_arena_new();
    sql_stmt *st = arena ? sql_arena_alloc(arena, sizeof *st) : NULL;
    char *copy = st ? sql_arena_alloc(arena, len + 1) : NULL;
    if (!copy) {
        sql_arena_free(arena);
        return sql_fail(err, 0, 0, "out of memory parsing the statement");
    }
    memcpy(copy, text, len);
    st->arena = arena;
    st->text = copy;
    /* Positions count in the copy as in text. */
    sql_lex_init(&lx, copy, len);
    int rc = sql_lex_next(&lx, &tok, err);
    if (rc == 0)
        rc = sql_word(&tok, "CREATE") || sql_word(&tok, "DROP")
                 ? sql_table_parse(&lx, &tok, st, err)
                 : sql_txn_parse(&lx, &tok, st, err);
    if (rc == 0 && tok.kind == SQL_TOK_OP && tok.op == SQL_OP_SEMI)
        rc = sql_lex_next(&lx, &tok, err);
    if (rc == 0 && tok.kind != SQL_TOK_END)
        rc = sql_admin_syntax_error(&tok, err);
    if (rc < 0) {
        sql_arena_free(arena);
        return -1;
    }
    *out = st;
    return 0;
}

int sql_admin_execute(vmdb_db *db, const sql_stmt *st, sql_error *err)
{
    memset(err, 0, sizeof *err);
    if (st->kind == SQL_CREATE_TABLE || st->kind == SQL_DROP_TABLE)
        return sql_table_execute(db, st, err);
    return sql_txn_execute(db, st, err);
}

void sql_admin_explain(const sql_stmt *st, FILE *out)
{
    switch (st->kind) {
    case SQL_BEGIN: fprintf(out, "begin a transaction\n"); break;
    case SQL_COMMIT: fprintf(out, "commit the transaction\n"); break;
    case SQL_ROLLBACK: fprintf(out, "roll the transaction back\n"); break;
    case SQL_CREATE_TABLE: fprintf(out, "create table %s\n", st->table_def->name); break;
    default: fprintf(out, "drop table %s\n", st->table_def->name); break;
    }
}
