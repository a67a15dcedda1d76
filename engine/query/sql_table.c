/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_table.c - CREATE TABLE and DROP TABLE:
 *
 *   CREATE TABLE [IF NOT EXISTS] t (field type [KEY], ...)
 *   DROP TABLE [IF EXISTS] t
 *
 * The field list is the schema text of `vmdb create` with a space where
 * that has ':' (docs/sql.md): the same types (u8 ... i64, f32, f64, bool,
 * strN, bytesN) and the same key rule (the field marked KEY, else the
 * first). PRIMARY KEY is read as KEY, for SQLite's habit. The schema is
 * checked when the statement is parsed, so a bad type fails before
 * anything runs, naming the field.
 *
 * A table is made or dropped under the writer lock and made durable at
 * once, outside any transaction: inside BEGIN's they are refused (the
 * thread holds the lock its own transaction would have to give up).
 */
#include <stdlib.h>
#include <string.h>

#include "sql_admin.h"

typedef struct text_buf {
    char *data;
    size_t len, cap;
    bool failed;
} text_buf;

static void add(text_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* A name token without its quotes. */
static char *name_of(const sql_token *tok, sql_arena *arena)
{
    char *d = sql_arena_alloc(arena, tok->len + 1);
    if (!d)
        return NULL;
    if (tok->text[0] != '"') {
        memcpy(d, tok->text, tok->len);
        return d;
    }
    size_t n = 0;
    for (size_t i = 1; i + 1 < tok->len; i++) {
        d[n++] = tok->text[i];
        if (tok->text[i] == '"')
            i++;
    }
    return d;
}

static bool is_name(const sql_token *tok)
{
    return tok->kind == SQL_TOK_IDENT || tok->kind == SQL_TOK_KEYWORD;
}

static bool is_op(const sql_token *tok, enum sql_op op)
{
    return tok->kind == SQL_TOK_OP && tok->op == op;
}

/* The schema's message without its " (col N)", which counts in a text
 * the user never wrote. */
static int schema_error(sql_error *err, const sql_token *at, const char *table)
{
    char message[sizeof vmdb_last_error()->message];
    snprintf(message, sizeof message, "%s", vmdb_last_error()->message);
    char *col = strstr(message, " (col ");
    if (col)
        *col = '\0';
    sql_fail(err, at->line, at->col, "CREATE TABLE %s: %s", table, message);
    err->code = vmdb_last_error()->code;
    return -1;
}

/* A field's name goes into the schema text as it is, so it must be one
 * name there: quoted, "a:u8, b" would be two fields and another table
 * than the one written. The schema's rule, [A-Za-z_][A-Za-z0-9_]*. */
static bool field_name_ok(const char *name)
{
    size_t n = strlen(name);
    bool ok = n >= 1 && n <= VMDB_SCHEMA_MAX_NAME && !(name[0] >= '0' && name[0] <= '9');
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             c == '_';
    }
    return ok;
}

static int check_schema(const char *text, const sql_token *at, const char *table, sql_error *err)
{
    vmdb_schema *schema;
    if (vmdb_schema_parse(text, &schema) < 0)
        return schema_error(err, at, table);
    vmdb_schema_free(schema);
    return 0;
}

/* field type [KEY | PRIMARY KEY], each checked alone so that an error
 * points at its field; the whole list is checked at the end (duplicate
 * names, two keys). */
static int parse_fields(sql_lexer *lx, sql_token *tok, struct sql_table_def *def, sql_arena *arena,
                        const sql_token *table_tok, sql_error *err)
{
    text_buf all = {0};
    int rc = -1;
    for (;;) {
        sql_token field = *tok;
        if (!is_name(tok) || sql_lex_next(lx, tok, err) < 0) {
            if (!is_name(&field))
                sql_admin_syntax_error(&field, err);
            goto done;
        }
        sql_token type = *tok;
        /* A quoted type would go into the schema text quotes and all. */
        bool typed = type.kind == SQL_TOK_IDENT && type.text[0] != '"';
        if (!typed || sql_lex_next(lx, tok, err) < 0) {
            if (!typed)
                sql_fail(err, type.line, type.col, "CREATE TABLE %s: field '%.*s' needs a type "
                         "(u8 ... u64, i8 ... i64, f32, f64, bool, strN, bytesN)",
                         def->name, (int)field.len, field.text);
            goto done;
        }
        bool key = false;
        if (sql_word(tok, "PRIMARY")) {
            if (sql_lex_next(lx, tok, err) < 0)
                goto done;
            if (!sql_word(tok, "KEY")) {
                sql_admin_syntax_error(tok, err);
                goto done;
            }
        }
        if (sql_word(tok, "KEY")) {
            key = true;
            if (sql_lex_next(lx, tok, err) < 0)
                goto done;
        }
        const char *fname = name_of(&field, arena);
        if (!fname) {
            sql_fail(err, 0, 0, "out of memory parsing the statement");
            goto done;
        }
        if (!field_name_ok(fname)) {
            char shown[VMDB_PRINTABLE_CAP];
            vmdb_printable(fname, strlen(fname), shown, sizeof shown);
            sql_fail(err, field.line, field.col,
                     "CREATE TABLE %s: '%s' is not a field name (letters, digits and '_', not "
                     "starting with a digit, at most %d bytes)",
                     def->name, shown, VMDB_SCHEMA_MAX_NAME);
            err->code = VMDB_ESCHEMA;
            goto done;
        }
        text_buf one = {0};
        add(&one, fname, strlen(fname));
        add(&one, ":", 1);
        add(&one, type.text, type.len);
        if (key)
            add(&one, " key", 4);
        if (one.failed) {
            free(one.data);
            sql_fail(err, 0, 0, "out of memory parsing the statement");
            goto done;
        }
        int checked = check_schema(one.data, &field, def->name, err);
        if (all.len)
            add(&all, ", ", 2);
        add(&all, one.data, one.len);
        free(one.data);
        if (checked < 0)
            goto done;
        if (!is_op(tok, SQL_OP_COMMA))
            break;
        if (sql_lex_next(lx, tok, err) < 0)
            goto done;
    }
    if (!is_op(tok, SQL_OP_RPAREN)) {
        sql_admin_syntax_error(tok, err);
        goto done;
    }
    if (all.failed) {
        sql_fail(err, 0, 0, "out of memory parsing the statement");
        goto done;
    }
    if (check_schema(all.data, table_tok, def->name, err) < 0)
        goto done;
    char *copy = sql_arena_alloc(arena, all.len + 1);
    if (!copy) {
        sql_fail(err, 0, 0, "out of memory parsing the statement");
        goto done;
    }
    memcpy(copy, all.data, all.len);
    def->schema = copy;
    rc = sql_lex_next(lx, tok, err);
done:
    free(all.data);
    return rc;
}

int sql_table_parse(sql_lexer *lx, sql_token *tok, sql_stmt *st, sql_error *err)
{
    bool create = sql_word(tok, "CREATE");
    st->kind = create ? SQL_CREATE_TABLE : SQL_DROP_TABLE;
    struct sql_table_def *def = sql_arena_alloc(st->arena, sizeof *def);
    if (!def)
        return sql_fail(err, 0, 0, "out of memory parsing the statement");
    st->table_def = def;
    if (sql_lex_next(lx, tok, err) < 0)
        return -1;
    if (!sql_word(tok, "TABLE")) {
        if (create && (sql_word(tok, "INDEX") || sql_word(tok, "VIEW") ||
                       sql_word(tok, "TRIGGER") || sql_word(tok, "UNIQUE")))
            return sql_fail(err, tok->line, tok->col,
                            "CREATE %.*s is not supported: only CREATE TABLE (every table has "
                            "one index, on its key)",
                            (int)tok->len, tok->text);
        return sql_admin_syntax_error(tok, err);
    }
    if (sql_lex_next(lx, tok, err) < 0)
        return -1;
    if (sql_word(tok, "IF")) {
        if (sql_lex_next(lx, tok, err) < 0)
            return -1;
        if (create) {
            if (!sql_word(tok, "NOT"))
                return sql_admin_syntax_error(tok, err);
            if (sql_lex_next(lx, tok, err) < 0)
                return -1;
        }
        if (!sql_word(tok, "EXISTS"))
            return sql_admin_syntax_error(tok, err);
        def->if_exists = true;
        if (sql_lex_next(lx, tok, err) < 0)
            return -1;
    }
    if (!is_name(tok))
        return sql_admin_syntax_error(tok, err);
    sql_token table_tok = *tok;
    if (!(def->name = name_of(tok, st->arena)))
        return sql_fail(err, 0, 0, "out of memory parsing the statement");
    if (sql_lex_next(lx, tok, err) < 0)
        return -1;
    if (!create)
        return 0;
    if (is_op(tok, SQL_OP_DOT))
        return sql_fail(err, tok->line, tok->col, "CREATE TABLE %s: a table name has no "
                        "database part", def->name);
    if (sql_word(tok, "AS"))
        return sql_fail(err, tok->line, tok->col,
                        "CREATE TABLE ... AS SELECT is not supported: list the fields");
    if (!is_op(tok, SQL_OP_LPAREN))
        return sql_admin_syntax_error(tok, err);
    if (sql_lex_next(lx, tok, err) < 0)
        return -1;
    return parse_fields(lx, tok, def, st->arena, &table_tok, err);
}

static int library_error(sql_error *err)
{
    return sql_fail_library(err, "");
}

int sql_table_execute(vmdb_db *db, const sql_stmt *st, sql_error *err)
{
    const struct sql_table_def *def = st->table_def;
    bool create = st->kind == SQL_CREATE_TABLE;
    if (sql_txn_current(db)) {
        sql_fail(err, 0, 0, "%s TABLE %s: not inside a transaction (COMMIT or ROLLBACK it "
                 "first): a table is made or dropped at once, outside any",
                 create ? "CREATE" : "DROP", def->name);
        err->code = VMDB_EINVAL;
        return -1;
    }
    /* Names in any case, as in every other statement. */
    const char *real, *also;
    int found = sql_table_named(db, def->name, &real, &also);
    if (found < 0 && found != VMDB_ENOTFOUND)
        return library_error(err);
    if (!create) {
        if (found == VMDB_ENOTFOUND && def->if_exists)
            return 0;
        if (found == 0 && also) {
            sql_fail(err, 0, 0, "DROP TABLE %s: ambiguous: tables %s and %s differ only in case "
                     "(write the one meant in its own case)", def->name, real, also);
            err->code = VMDB_EINVAL;
            return -1;
        }
        int rc = vmdb_table_drop(db, found == 0 ? real : def->name);
        return rc < 0 ? library_error(err) : 0;
    }
    vmdb_table *t;
    if (found == 0) {
        if (def->if_exists)
            return 0;
        sql_fail(err, 0, 0, "%s: table '%s' exists (CREATE TABLE IF NOT EXISTS leaves it)",
                 vmdb_db_path(db), real);
        err->code = VMDB_EEXIST;
        return -1;
    }
    vmdb_schema *schema;
    if (vmdb_schema_parse(def->schema, &schema) < 0)
        return library_error(err);
    int rc = vmdb_table_create(db, def->name, schema, &t);
    vmdb_schema_free(schema);
    if (rc == VMDB_EEXIST && def->if_exists) {
        vmdb_error_clear();
        return 0;
    }
    return rc < 0 ? library_error(err) : 0;
}
