/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_sql.c - the SQL of `vmdb query` and `vmdb shell`: lexer,
 * parser, planner, executor, the public statement (vmdb/query.h) and the
 * printing of rows (cli/sql_run.c), on a
 * small database made once per process.
 *
 * The input is a script: statements split as the shell splits them
 * (sql_statement_end), the first MAX_STATEMENTS run in turn. SELECTs run
 * through sql_run, as `vmdb query` runs them, printing in each --format
 * in turn to /dev/null; the first statement is also explained. INSERT,
 * UPDATE and DELETE commit (or fail and roll back) like the command's;
 * BEGIN, COMMIT and ROLLBACK run too, so that statements run and read
 * inside a transaction, which is rolled back at the end of the input if
 * it is still open; CREATE TABLE and DROP TABLE are parsed and explained,
 * not run. The tables are then put back as they were, so every input
 * runs against the same rows and a finding replays.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_scratch.h"
#include "sql.h"
#include "sql_admin.h"
#include "sql_run.h"

#define MAX_STATEMENTS 8

/* Every type of field, and a table keyed by text. */
#define PEOPLE_SCHEMA                                                          \
    "id:u64 key, name:str16, age:u8, city:str16, score:f64, big:u64, neg:i64, " \
    "flag:bool, f:f32, raw:bytes4, small:i16"
static const char *const people_rows[][11] = {
    {"1", "Alice", "30", "Paris", "9.5", "18446744073709551615", "-5", "true", "0.1", "0x01020304", "-32768"},
    {"2", "Bob", "25", "London", "7", "1", "-9223372036854775808", "false", "1.5", "0x", "7"},
    {"3", "Carol", "35", "Paris", "8.25", "9223372036854775808", "0", "true", "2", "0xff", "32767"},
    {"4", "", "25", "Berlin", "nan", "0", "7", "false", "-inf", "0x00000000", "0"},
    {"5", "Eve_%", "255", "", "-0", "42", "100", "true", "1e38", "0x7f", "-1"},
};
#define WORDS_SCHEMA "w:str8 key, n:i32"
static const char *const words_rows[][2] = {{"a", "1"}, {"b%_", "-2"}, {"", "0"}};

static vmdb_db *db;
static vmdb_table *people, *words;
static FILE *devnull;
static bool verbose; /* VMDB_FUZZ_VERBOSE set: each statement's outcome on stderr */

static void fill(vmdb_table *t, const char *const *rows, size_t count, size_t fields)
{
    const vmdb_schema *s = vmdb_table_schema(t);
    unsigned char record[256];
    FUZZ_MUST(vmdb_schema_record_size(s) <= sizeof record);
    vmdb_txn *txn;
    FUZZ_MUST(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) == 0);
    vmdb_table_cursor c;
    vmdb_table_cursor_init(&c, t);
    uint64_t rid;
    while (vmdb_table_cursor_next(&c, &rid, record) == 0)
        FUZZ_MUST(vmdb_txn_delete_rid(txn, t, rid) == 0);
    for (size_t r = 0; r < count; r++) {
        memset(record, 0, sizeof record);
        for (size_t f = 0; f < fields; f++)
            FUZZ_MUST(vmdb_record_set_text(s, record, f, rows[r * fields + f]) == 0);
        FUZZ_MUST(vmdb_txn_put(txn, t, record, NULL) == 0);
    }
    FUZZ_MUST(vmdb_txn_commit(txn) == 0);
}

static void restore(void)
{
    fill(people, &people_rows[0][0], sizeof people_rows / sizeof people_rows[0], 11);
    fill(words, &words_rows[0][0], sizeof words_rows / sizeof words_rows[0], 2);
}

static vmdb_table *create(const char *name, const char *schema_text)
{
    vmdb_schema *s;
    FUZZ_MUST(vmdb_schema_parse(schema_text, &s) == 0);
    vmdb_table *t;
    FUZZ_MUST(vmdb_table_create(db, name, s, &t) == 0);
    vmdb_schema_free(s);
    return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .durability = VMDB_DURABILITY_SYNC,
                         .wal_size = 1u << 20};
    FUZZ_MUST(vmdb_open(fuzz_path("db"), &o, &db) == 0);
    people = create("people", PEOPLE_SCHEMA);
    words = create("words", WORDS_SCHEMA);
    restore();
    verbose = getenv("VMDB_FUZZ_VERBOSE") != NULL;
    devnull = verbose ? stdout : fopen("/dev/null", "w");
    FUZZ_MUST(devnull != NULL);
    return 0;
}

static int count_columns(void *ctx, size_t count, const char *const *names,
                         const enum sql_type *types)
{
    (void)ctx;
    for (size_t i = 0; i < count; i++)
        FUZZ_MUST(names[i] != NULL && types[i] != SQL_T_NONE);
    return 0;
}

static int format_row(void *ctx, const sql_value *cells)
{
    (void)ctx;
    (void)cells;
    return 0;
}

/* Runs one statement; true if it may have changed a table. */
static bool run(const char *text, size_t len, unsigned ordinal)
{
    sql_error err = {0};
    sql_stmt *stmt;
    if (sql_parse_statement(text, len, &stmt, &err) < 0) {
        if (verbose)
            fprintf(stderr, "parse: %s\n", err.message);
        FUZZ_MUST(err.message[0] != '\0');
        return false;
    }
    char shape[512];
    if (stmt->where)
        sql_expr_format(stmt->where, shape, sizeof shape);
    bool changed = false;
    if (stmt->kind == SQL_CREATE_TABLE || stmt->kind == SQL_DROP_TABLE) {
        sql_admin_explain(stmt, devnull);
    } else if (stmt->kind == SQL_BEGIN || stmt->kind == SQL_COMMIT ||
               stmt->kind == SQL_ROLLBACK) {
        int rc = sql_admin_execute(db, stmt, &err);
        FUZZ_MUST(rc == 0 || (rc == -1 && err.message[0] != '\0'));
        changed = stmt->kind == SQL_COMMIT;
    } else if (stmt->kind == SQL_SELECT) {
        bool reported;
        sql_output how = {.format = (enum cli_format)(ordinal % 3), .out = devnull};
        int rc = sql_run(db, text, len, &how, &reported);
        FUZZ_MUST(rc == CLI_OK || rc == CLI_NOT_FOUND || rc == CLI_ERROR);
        FUZZ_MUST(rc != CLI_ERROR || reported || vmdb_last_error()->message[0] != '\0');
        if (verbose)
            fprintf(stderr, "select: %d %s\n", rc,
                    rc == CLI_ERROR ? vmdb_last_error()->message : "");
    } else {
        sql_plan *plan;
        if (sql_plan_new(db, "fuzz.db", stmt, &plan, &err) == 0) {
            sql_sink sink = {count_columns, format_row, NULL};
            uint64_t rows = 0, writes = 0;
            int rc = sql_execute(plan, &sink, &rows, &writes, &err);
            FUZZ_MUST(rc == 0 || rc == -1);
            FUZZ_MUST(rc == 0 || writes == 0 || err.message[0] != '\0');
            changed = rc == 0 && writes > 0;
            if (verbose)
                fprintf(stderr, "change: %d, %llu written %s\n", rc, (unsigned long long)writes,
                        rc ? err.message : "");
            sql_plan_free(plan);
        } else if (verbose) {
            fprintf(stderr, "plan: %s\n", err.message);
        }
    }
    sql_stmt_free(stmt);

    if (ordinal == 0) {
        bool reported;
        sql_output how = {.format = CLI_FORMAT_TABLE, .explain = true, .out = devnull};
        (void)sql_run(db, text, len, &how, &reported);
    }
    return changed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    /* The lexer over the whole script, as far as it goes. */
    sql_lexer lx;
    sql_lex_init(&lx, text, size);
    sql_token tok;
    sql_error err;
    for (size_t n = 0; n <= size && sql_lex_next(&lx, &tok, &err) == 0 && tok.kind != SQL_TOK_END;
         n++)
        FUZZ_MUST(tok.offset + tok.len <= size);

    bool changed = false;
    unsigned ordinal = 0;
    while (size > 0 && ordinal < MAX_STATEMENTS) {
        size_t len = sql_statement_end(text, size);
        if (len == 0)
            len = size; /* the last statement needs no ';' */
        FUZZ_MUST(len <= size);
        if (!sql_is_blank(text, len))
            changed |= run(text, len, ordinal++);
        text += len;
        size -= len;
    }
    /* A transaction left open would keep restore's from beginning. */
    if (sql_txn_current(db))
        changed |= vmdb_exec(db, "ROLLBACK", NULL, NULL) == 0;
    if (changed)
        restore();
    return 0;
}
