/* SPDX-License-Identifier: MIT */
/*
 * tests/test_query_api.c - the SQL from C (vmdb/query.h): prepare, bind,
 * step, columns, finalize; errors that name what is at fault; several
 * statements in one text; vmdb_exec's callback; the plan into a buffer;
 * a write that fails leaves nothing behind. (A SELECT's view of a
 * concurrent transfer is read/select_through_the_api_* in test_read.c,
 * beside the bank it uses.)
 */
#include "helpers.h"

TestSuite(query_api, .timeout = SUITE_TIMEOUT);

static vmdb_db *people_db(void)
{
    vmdb_db *db;
    vmdb_db_options opts = VMDB_DB_OPTIONS_INIT;
    opts.flags = VMDB_DB_CREATE;
    ASSERT_OK(vmdb_open(test_path("people.db"), &opts, &db));
    vmdb_schema *schema;
    ASSERT_OK(vmdb_schema_parse("id:u64, name:str16, age:u8, score:f64, member:bool, "
                                "debt:i64",
                                &schema));
    vmdb_table *table;
    ASSERT_OK(vmdb_table_create(db, "people", schema, &table));
    vmdb_schema_free(schema);
    ASSERT_OK(vmdb_exec(db,
                        "INSERT INTO people VALUES (1, 'Ann', 31, 9.5, TRUE, -5), "
                        "(2, 'Bob', 25, 7.25, FALSE, 0), (3, 'Cy', 40, 8, TRUE, 12), "
                        "(18446744073709551615, 'Max', 255, 0.5, FALSE, 0)",
                        NULL, NULL));
    return db;
}

static vmdb_stmt *prepare(vmdb_db *db, const char *sql)
{
    vmdb_stmt *stmt;
    ASSERT_OK(vmdb_prepare(db, sql, VMDB_SQL_NUL_TERMINATED, &stmt, NULL));
    cr_assert_not_null(stmt);
    return stmt;
}

static const char *text_of(vmdb_stmt *stmt, int col)
{
    const char *text;
    ASSERT_OK(vmdb_column_text(stmt, col, &text, NULL));
    return text;
}

/* Every row of sql, cells joined by '|', rows by '\n'. */
static int add_row(void *ctx, vmdb_stmt *stmt)
{
    char *out = ctx;
    for (int i = 0; i < vmdb_column_count(stmt); i++) {
        strcat(out, i ? "|" : "");
        strcat(out, text_of(stmt, i));
    }
    strcat(out, "\n");
    return 0;
}

static const char *rows_of(vmdb_db *db, const char *sql)
{
    static char out[4096];
    out[0] = '\0';
    ASSERT_OK(vmdb_exec(db, sql, add_row, out));
    return out;
}

Test(query_api, a_select_with_parameters_gives_typed_columns_row_by_row)
{
    vmdb_db *db = people_db();
    vmdb_stmt *stmt = prepare(db, "SELECT id, name, score, member, debt, age * 2 AS twice "
                                  "FROM people WHERE age > ? AND member = ? ORDER BY id");
    cr_assert_eq(vmdb_bind_count(stmt), 2);
    cr_assert_eq(vmdb_column_count(stmt), 6);
    const char *names[] = {"id", "name", "score", "member", "debt", "twice"};
    enum vmdb_value_type types[] = {VMDB_VALUE_INT, VMDB_VALUE_TEXT, VMDB_VALUE_FLOAT,
                                    VMDB_VALUE_BOOL, VMDB_VALUE_INT, VMDB_VALUE_INT};
    for (int i = 0; i < 6; i++) {
        cr_assert_str_eq(vmdb_column_name(stmt, i), names[i]);
        cr_assert_eq(vmdb_column_type(stmt, i), types[i]);
    }
    cr_assert_null(vmdb_column_name(stmt, 6));
    ASSERT_OK(vmdb_bind_i64(stmt, 1, 30));
    ASSERT_OK(vmdb_bind_bool(stmt, 2, true));

    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    uint64_t id;
    int64_t debt;
    double score;
    bool member;
    ASSERT_OK(vmdb_column_u64(stmt, 0, &id));
    ASSERT_OK(vmdb_column_double(stmt, 2, &score));
    ASSERT_OK(vmdb_column_bool(stmt, 3, &member));
    ASSERT_OK(vmdb_column_i64(stmt, 4, &debt));
    cr_assert(id == 1 && score == 9.5 && member && debt == -5);
    size_t len;
    const char *name;
    ASSERT_OK(vmdb_column_text(stmt, 1, &name, &len));
    cr_assert_str_eq(name, "Ann");
    cr_assert_eq(len, 3);
    cr_assert_str_eq(text_of(stmt, 2), "9.5");
    cr_assert_str_eq(text_of(stmt, 3), "true");
    cr_assert_str_eq(text_of(stmt, 5), "62");
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    cr_assert_str_eq(text_of(stmt, 1), "Cy");
    cr_assert_eq(vmdb_step(stmt), VMDB_DONE);
    cr_assert_eq(vmdb_step(stmt), VMDB_DONE);

    /* Again with another value: bound values stay until bound anew. */
    vmdb_reset(stmt);
    ASSERT_OK(vmdb_bind_bool(stmt, 2, false));
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    cr_assert_str_eq(text_of(stmt, 1), "Max");
    ASSERT_OK(vmdb_column_u64(stmt, 0, &id));
    cr_assert_eq(id, UINT64_MAX);
    cr_assert_eq(vmdb_step(stmt), VMDB_DONE);
    vmdb_finalize(stmt);
    vmdb_finalize(NULL);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(query_api, a_key_and_text_bound_as_parameters)
{
    vmdb_db *db = people_db();
    vmdb_stmt *stmt = prepare(db, "SELECT name FROM people WHERE id IN (?, ?) OR name LIKE ?");
    ASSERT_OK(vmdb_bind_u64(stmt, 1, UINT64_MAX));
    ASSERT_OK(vmdb_bind_i64(stmt, 2, 2));
    char pattern[] = "C%xyz";
    ASSERT_OK(vmdb_bind_text(stmt, 3, pattern, 2));
    pattern[0] = 'A'; /* the statement has its own copy */
    const char *want[] = {"Bob", "Cy", "Max"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
        cr_assert_str_eq(text_of(stmt, 0), want[i]);
    }
    cr_assert_eq(vmdb_step(stmt), VMDB_DONE);
    vmdb_finalize(stmt);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(query_api, errors_name_the_token_the_field_and_the_parameter)
{
    vmdb_db *db = people_db();
    vmdb_stmt *stmt = (vmdb_stmt *)1;
    ASSERT_FAILS(vmdb_prepare(db, "SELECT name FROM people WHERE age >> 3",
                              VMDB_SQL_NUL_TERMINATED, &stmt, NULL),
                 VMDB_ESYNTAX, "syntax error at '>' (col 36)");
    cr_assert_null(stmt);
    vmdb_sql_position at;
    vmdb_sql_error_position(&at);
    cr_assert_eq(at.line, 1);
    cr_assert_eq(at.col, 36);
    cr_assert_eq(at.offset, 35);
    cr_assert_eq(at.message_len, strlen("syntax error at '>'"));

    ASSERT_FAILS(vmdb_prepare(db, "SELECT name,\n  agee FROM people", VMDB_SQL_NUL_TERMINATED,
                              &stmt, NULL),
                 VMDB_ENOTFOUND, "people: no field 'agee' (line 2, col 3)");
    vmdb_sql_error_position(&at);
    cr_assert(at.line == 2 && at.col == 3 && at.offset == 15);
    ASSERT_FAILS(vmdb_prepare(db, "DELETE FROM nobody", VMDB_SQL_NUL_TERMINATED, &stmt, NULL),
                 VMDB_ENOTFOUND, "no table 'nobody' (col 13)");
    ASSERT_FAILS(vmdb_prepare(db, "SELECT name FROM people WHERE name = 5",
                              VMDB_SQL_NUL_TERMINATED, &stmt, NULL),
                 VMDB_EINVAL, "cannot compare text with integer");
    ASSERT_FAILS(vmdb_prepare(db, "SELECT ? FROM people", VMDB_SQL_NUL_TERMINATED, &stmt, NULL),
                 VMDB_EINVAL, "parameter 1 has no type here");
    /* Another layer's error is no SQL error: no position. */
    ASSERT_FAILS(vmdb_table_open(db, "nobody", NULL, &(vmdb_table *){NULL}), VMDB_ENOTFOUND, "");
    vmdb_sql_error_position(&at);
    cr_assert(at.line == 0 && at.col == 0 && at.message_len == 0);

    stmt = prepare(db, "UPDATE people SET age = ? WHERE name = ?");
    ASSERT_FAILS(vmdb_bind_i64(stmt, 0, 1), VMDB_ERANGE, "parameter 0: the statement has 2");
    ASSERT_FAILS(vmdb_bind_i64(stmt, 3, 1), VMDB_ERANGE, "parameter 3: the statement has 2");
    ASSERT_FAILS(vmdb_bind_text(stmt, 1, "old", 3), VMDB_EINVAL,
                 "parameter 1: text where people.age (u8) needs a number");
    ASSERT_FAILS(vmdb_bind_i64(stmt, 1, 300), VMDB_ERANGE, "parameter 1: people.age");
    ASSERT_FAILS(vmdb_bind_i64(stmt, 2, 7), VMDB_EINVAL,
                 "parameter 2: integer where people.name (str16) needs text");
    ASSERT_FAILS(vmdb_bind_text(stmt, 2, "a name longer than sixteen", VMDB_SQL_NUL_TERMINATED),
                 VMDB_ERANGE, "parameter 2: people.name");
    ASSERT_OK(vmdb_bind_i64(stmt, 1, 32));
    ASSERT_FAILS(vmdb_step(stmt), VMDB_EINVAL, "parameter 2 has no value");
    ASSERT_OK(vmdb_bind_text(stmt, 2, "Ann", VMDB_SQL_NUL_TERMINATED));
    cr_assert_eq(vmdb_step(stmt), VMDB_DONE);
    cr_assert_eq(vmdb_changes(stmt), 1);
    vmdb_finalize(stmt);

    stmt = prepare(db, "SELECT name, age, debt FROM people WHERE id = 18446744073709551615");
    ASSERT_FAILS(vmdb_column_text(stmt, 0, &(const char *){NULL}, NULL), VMDB_EINVAL, "no row");
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    ASSERT_FAILS(vmdb_column_i64(stmt, 0, &(int64_t){0}), VMDB_EINVAL, "(name) is text");
    ASSERT_FAILS(vmdb_column_bool(stmt, 1, &(bool){0}), VMDB_EINVAL, "not a bool");
    ASSERT_FAILS(vmdb_column_double(stmt, 3, &(double){0}), VMDB_ERANGE, "column 3");
    ASSERT_FAILS(vmdb_column_double(stmt, -1, &(double){0}), VMDB_ERANGE, "column -1");
    vmdb_finalize(stmt);
    stmt = prepare(db, "SELECT id, debt FROM people WHERE debt < 0 OR id > 3");
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    ASSERT_FAILS(vmdb_column_u64(stmt, 1, &(uint64_t){0}), VMDB_ERANGE, "-5 is negative");
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    ASSERT_FAILS(vmdb_column_i64(stmt, 0, &(int64_t){0}), VMDB_ERANGE, "above INT64_MAX");
    vmdb_finalize(stmt);

    ASSERT_FAILS(vmdb_exec(db, "SELECT 1 / (age - 25) FROM people", NULL, NULL), VMDB_ERANGE,
                 "division by zero");
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(query_api, statements_of_one_text_run_in_turn)
{
    vmdb_db *db = people_db();
    const char *sql = "DELETE FROM people WHERE id = 2;\n"
                      "SELECT COUNT(*) FROM people; -- three left\n"
                      "UPDATE people SET age = age + 1 WHERE name = 'it''s; no end';"
                      "  SELECT name FROM people WHERE age = 32  \n -- the end\n";
    const char *at = sql;
    enum vmdb_stmt_kind want[] = {VMDB_STMT_DELETE, VMDB_STMT_SELECT, VMDB_STMT_UPDATE,
                                  VMDB_STMT_SELECT};
    int n = 0;
    while (*at) {
        vmdb_stmt *stmt;
        const char *tail;
        ASSERT_OK(vmdb_prepare(db, at, VMDB_SQL_NUL_TERMINATED, &stmt, &tail));
        cr_assert(tail > at && tail <= sql + strlen(sql));
        at = tail;
        if (!stmt)
            break; /* the comment at the end */
        cr_assert_lt(n, 4);
        cr_assert_eq(vmdb_stmt_kind(stmt), want[n]);
        int rc = vmdb_step(stmt);
        cr_assert_eq(rc, n == 1 ? VMDB_ROW : VMDB_DONE, "statement %d: %d %s", n, rc,
                     vmdb_last_error()->message);
        if (n == 0)
            cr_assert_eq(vmdb_changes(stmt), 1);
        if (n == 1)
            cr_assert_str_eq(text_of(stmt, 0), "3");
        if (n == 2)
            cr_assert_eq(vmdb_changes(stmt), 0);
        vmdb_finalize(stmt);
        n++;
    }
    cr_assert_eq(n, 4);
    cr_assert_eq(*at, '\0');

    /* The position in a later statement counts from the start of the
     * text vmdb_exec was given (query.h). */
    ASSERT_FAILS(vmdb_exec(db, "SELECT 1; SELECT nothing FROM people", NULL, NULL),
                 VMDB_ENOTFOUND, "no field 'nothing' (col 18)");
    /* Without tail the text is one statement. */
    ASSERT_FAILS(vmdb_prepare(db, "SELECT 1; SELECT 2", VMDB_SQL_NUL_TERMINATED,
                              &(vmdb_stmt *){NULL}, NULL),
                 VMDB_ESYNTAX, "syntax error at 'SELECT' (col 11)");
    cr_assert_eq(vmdb_sql_kind("UPDATE people SET age = 1", VMDB_SQL_NUL_TERMINATED, NULL),
                 VMDB_STMT_UPDATE);
    cr_assert_eq(vmdb_sql_statement_length("SELECT ';'; x", 13), 11);
    cr_assert_eq(vmdb_sql_statement_length("SELECT ';' -- ;", 15), 0);
    cr_assert(vmdb_sql_is_blank(" -- nothing\n ", 13));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

struct counting {
    int rows;
    int stop_at;
};

static int count_rows(void *ctx, vmdb_stmt *stmt)
{
    struct counting *c = ctx;
    cr_assert_eq(vmdb_column_count(stmt), 1);
    c->rows++;
    return c->rows == c->stop_at ? 7 : 0;
}

Test(query_api, exec_hands_each_row_to_the_callback_which_may_stop_it)
{
    vmdb_db *db = people_db();
    cr_assert_str_eq(rows_of(db, "SELECT name, age FROM people ORDER BY age DESC LIMIT 2; "
                                 "SELECT 1 + 1"),
                     "Max|255\nCy|40\n2\n");
    struct counting c = {0, 0};
    ASSERT_OK(vmdb_exec(db, "SELECT id FROM people; SELECT id FROM people WHERE id = 2", count_rows,
                        &c));
    cr_assert_eq(c.rows, 5);
    /* A callback's nonzero return stops everything and is returned. */
    c = (struct counting){0, 2};
    cr_assert_eq(vmdb_exec(db, "SELECT id FROM people; DELETE FROM people", count_rows, &c), 7);
    cr_assert_eq(c.rows, 2);
    cr_assert_str_eq(rows_of(db, "SELECT COUNT(*) FROM people"), "4\n");
    /* vmdb_step_all does the same for a prepared statement. */
    vmdb_stmt *stmt = prepare(db, "SELECT id FROM people WHERE age < ?");
    ASSERT_OK(vmdb_bind_i64(stmt, 1, 35));
    c = (struct counting){0, 0};
    ASSERT_OK(vmdb_step_all(stmt, count_rows, &c));
    cr_assert_eq(c.rows, 2);
    vmdb_finalize(stmt);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(query_api, explain_writes_the_plan_into_a_buffer_as_snprintf_does)
{
    vmdb_db *db = people_db();
    vmdb_stmt *stmt = prepare(db, "SELECT name FROM people WHERE id = ? ORDER BY name");
    const char *scan = "full scan of people\nfilter: (id = ?)\nsort by: name\n";
    char buf[12];
    cr_assert_eq(vmdb_explain(stmt, buf, sizeof buf), (long)strlen(scan));
    cr_assert_str_eq(buf, "full scan o");
    cr_assert_eq(vmdb_explain(stmt, NULL, 0), (long)strlen(scan));
    /* Bound, the key is known: looked up. */
    ASSERT_OK(vmdb_bind_i64(stmt, 1, 3));
    char full[200];
    const char *lookup = "index lookup on people.id (1 key)\nfilter: (id = 3)\nsort by: name\n";
    cr_assert_eq(vmdb_explain(stmt, full, sizeof full), (long)strlen(lookup));
    cr_assert_str_eq(full, lookup);
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    cr_assert_str_eq(text_of(stmt, 0), "Cy");
    vmdb_finalize(stmt);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(query_api, a_write_that_fails_half_way_leaves_nothing)
{
    vmdb_db *db = people_db();
    /* The second row's key is taken: the first is not inserted either. */
    ASSERT_FAILS(vmdb_exec(db, "INSERT INTO people (id, name) VALUES (10, 'Dee'), (3, 'Cy2')",
                           NULL, NULL),
                 VMDB_EEXIST, "");
    cr_assert_str_eq(rows_of(db, "SELECT COUNT(*) FROM people"), "4\n");
    /* One record's age would leave u8: none is updated. */
    vmdb_stmt *stmt = prepare(db, "UPDATE people SET age = age + ?");
    ASSERT_OK(vmdb_bind_i64(stmt, 1, 1));
    ASSERT_FAILS(vmdb_step(stmt), VMDB_ERANGE, "people.age");
    cr_assert_eq(vmdb_changes(stmt), 0);
    cr_assert_str_eq(rows_of(db, "SELECT SUM(age) FROM people"), "351\n");
    /* Without Max, it does. */
    ASSERT_OK(vmdb_exec(db, "DELETE FROM people WHERE age = 255", NULL, NULL));
    vmdb_reset(stmt);
    cr_assert_eq(vmdb_step(stmt), VMDB_DONE);
    cr_assert_eq(vmdb_changes(stmt), 3);
    cr_assert_str_eq(rows_of(db, "SELECT SUM(age) FROM people"), "99\n");
    vmdb_finalize(stmt);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

static int count_and_check(void *ctx, vmdb_stmt *stmt)
{
    uint64_t *rows = ctx;
    uint64_t id;
    ASSERT_OK(vmdb_column_u64(stmt, 0, &id));
    cr_assert_eq(id, *rows, "rows out of order: %llu at %llu", (unsigned long long)id,
                 (unsigned long long)*rows);
    cr_assert_eq(strlen(text_of(stmt, 1)), 200);
    ++*rows;
    return 0;
}

/* Past 16 MiB of rows a SELECT is read once more with writers held back:
 * kept whole for vmdb_step, handed out as read by vmdb_step_all. */
Test(query_api, a_select_past_16_mib_of_rows_gives_every_row_once)
{
    vmdb_db *db;
    vmdb_db_options opts = VMDB_DB_OPTIONS_INIT;
    opts.flags = VMDB_DB_CREATE;
    ASSERT_OK(vmdb_open(test_path("big.db"), &opts, &db));
    vmdb_schema *schema;
    ASSERT_OK(vmdb_schema_parse("id:u64, text:str200", &schema));
    vmdb_table *table;
    ASSERT_OK(vmdb_table_create(db, "big", schema, &table));
    enum { ROWS = 60000 };
    size_t size = vmdb_schema_record_size(schema);
    unsigned char *record = calloc(1, size);
    char text[201];
    memset(text, 'x', 200);
    text[200] = '\0';
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn));
    for (uint64_t i = 0; i < ROWS; i++) {
        ASSERT_OK(vmdb_record_set_u64(schema, record, 0, i));
        ASSERT_OK(vmdb_record_set_text(schema, record, 1, text));
        ASSERT_OK(vmdb_txn_insert(txn, table, record, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    free(record);
    vmdb_schema_free(schema);

    vmdb_stmt *stmt = prepare(db, "SELECT id, text FROM big ORDER BY id");
    uint64_t rows = 0;
    ASSERT_OK(vmdb_step_all(stmt, count_and_check, &rows));
    cr_assert_eq(rows, ROWS);
    rows = 0;
    vmdb_reset(stmt);
    int rc;
    while ((rc = vmdb_step(stmt)) == VMDB_ROW)
        count_and_check(&rows, stmt);
    cr_assert_eq(rc, VMDB_DONE);
    cr_assert_eq(rows, ROWS);
    vmdb_finalize(stmt);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* A table dropped through the statement's own handle after prepare: its
 * run fails naming the table (it read freed memory), and once a table
 * with other fields is made under the name, says to prepare again. */
Test(query_api, a_statement_whose_table_was_dropped_fails_at_its_run)
{
    vmdb_db *db = people_db();
    vmdb_stmt *all = prepare(db, "SELECT * FROM people");
    vmdb_stmt *one = prepare(db, "SELECT name FROM people WHERE id = ?");
    ASSERT_OK(vmdb_table_drop(db, "people"));
    ASSERT_FAILS(vmdb_step(all), VMDB_ENOTFOUND, "no table 'people': dropped since");
    ASSERT_OK(vmdb_bind_i64(one, 1, 1));
    ASSERT_FAILS(vmdb_step(one), VMDB_ENOTFOUND, "dropped since");
    vmdb_schema *schema;
    ASSERT_OK(vmdb_schema_parse("id:u64", &schema));
    vmdb_table *table;
    ASSERT_OK(vmdb_table_create(db, "people", schema, &table));
    vmdb_schema_free(schema);
    ASSERT_OK(vmdb_exec(db, "INSERT INTO people VALUES (1)", NULL, NULL));
    ASSERT_FAILS(vmdb_step_all(all, NULL, NULL), VMDB_ESCHEMA, "prepare it again");
    ASSERT_FAILS(vmdb_step(one), VMDB_ESCHEMA, "prepare it again");
    cr_assert_str_eq(vmdb_column_name(all, 1), "name");
    vmdb_finalize(all);
    vmdb_finalize(one);
    cr_assert_str_eq(rows_of(db, "SELECT * FROM people"), "1\n");
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* As with sqlite3, a step after an error (VMDB_EBUSY, say) runs the
 * statement again; it used to give VMDB_DONE, having run nothing. */
Test(query_api, a_step_after_an_error_runs_the_statement_again)
{
    vmdb_db *db = people_db();
    vmdb_stmt *stmt = prepare(db, "UPDATE people SET age = age + 1");
    ASSERT_FAILS(vmdb_step(stmt), VMDB_ERANGE, "people.age");
    ASSERT_OK(vmdb_exec(db, "DELETE FROM people WHERE age = 255", NULL, NULL));
    cr_assert_eq(vmdb_step(stmt), VMDB_DONE, "%s", vmdb_last_error()->message);
    cr_assert_eq(vmdb_changes(stmt), 3);
    cr_assert_str_eq(rows_of(db, "SELECT SUM(age) FROM people"), "99\n");
    vmdb_finalize(stmt);
    stmt = prepare(db, "SELECT id FROM people WHERE age > ?");
    ASSERT_FAILS(vmdb_step(stmt), VMDB_EINVAL, "parameter 1 has no value");
    ASSERT_FAILS(vmdb_step(stmt), VMDB_EINVAL, "parameter 1 has no value");
    vmdb_finalize(stmt);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

struct meddling {
    int rows;
    int bind_rc, step_rc, step_all_rc;
};

static int meddle(void *ctx, vmdb_stmt *stmt)
{
    struct meddling *m = ctx;
    if (m->rows++ == 0) {
        m->bind_rc = vmdb_bind_i64(stmt, 1, 100);
        m->step_rc = vmdb_step(stmt);
        m->step_all_rc = vmdb_step_all(stmt, meddle, ctx);
        vmdb_reset(stmt);
    }
    uint64_t id;
    ASSERT_OK(vmdb_column_u64(stmt, 0, &id));
    return 0;
}

/* A row callback that binds, steps or resets its own statement: refused
 * (VMDB_EBUSY), the run going on. Binding freed the plan the run was
 * reading (rows past 16 MiB), or cut the rows short silently. */
Test(query_api, a_row_callback_cannot_bind_reset_or_run_its_own_statement)
{
    vmdb_db *db = people_db();
    vmdb_stmt *stmt = prepare(db, "SELECT id FROM people WHERE age > ?");
    ASSERT_OK(vmdb_bind_i64(stmt, 1, 0));
    struct meddling m = {0};
    ASSERT_OK(vmdb_step_all(stmt, meddle, &m));
    cr_assert_eq(m.rows, 4);
    cr_assert_eq(m.bind_rc, VMDB_EBUSY);
    cr_assert_eq(m.step_rc, VMDB_EBUSY);
    cr_assert_eq(m.step_all_rc, VMDB_EBUSY);
    /* Outside the callback all of it works again. */
    ASSERT_OK(vmdb_bind_i64(stmt, 1, 100));
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    vmdb_finalize(stmt);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* The statements of one text run in turn, and an error's position counts
 * from the start of the text the caller gave, not of the statement. */
Test(query_api, an_error_in_a_later_statement_of_exec_is_placed_in_the_whole_text)
{
    vmdb_db *db = people_db();
    vmdb_sql_position pos;
    cr_assert_eq(vmdb_exec(db, "SELECT 1; SELECT nmae FROM people", NULL, NULL), VMDB_ENOTFOUND);
    cr_assert(strstr(vmdb_last_error()->message, "nmae") &&
                  strstr(vmdb_last_error()->message, "(col 18)"),
              "%s", vmdb_last_error()->message);
    vmdb_sql_error_position(&pos);
    cr_assert_eq(pos.line, 1);
    cr_assert_eq(pos.col, 18);
    cr_assert_eq(pos.offset, 17);

    cr_assert_lt(vmdb_exec(db, "SELECT 1;\nSELECT 2;\n  SELECT nmae FROM people", NULL, NULL), 0);
    cr_assert(strstr(vmdb_last_error()->message, "(line 3, col 10)"), "%s",
              vmdb_last_error()->message);
    vmdb_sql_error_position(&pos);
    cr_assert_eq(pos.line, 3);
    cr_assert_eq(pos.col, 10);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* Empty statements, ";" alone or ";;" after one, are none: sqlite3 runs
 * such scripts, and so does vmdb_exec. */
Test(query_api, empty_statements_between_semicolons_are_skipped)
{
    vmdb_db *db = people_db();
    cr_assert_str_eq(rows_of(db, "SELECT 1;;"), "1\n");
    cr_assert_str_eq(rows_of(db, ";; SELECT 2 ; ; -- done\n;"), "2\n");
    ASSERT_OK(vmdb_exec(db, ";", NULL, NULL));
    const char *tail;
    vmdb_stmt *stmt = (vmdb_stmt *)1;
    ASSERT_OK(vmdb_prepare(db, " ; SELECT 3", VMDB_SQL_NUL_TERMINATED, &stmt, &tail));
    cr_assert_null(stmt);
    cr_assert_str_eq(tail, " SELECT 3");
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* What a field cannot hold is refused when it is bound, whatever the C
 * type it comes in: a whole double out of the field's range as an
 * integer is, and text with a NUL byte, which no text value holds. */
Test(query_api, a_bound_double_or_text_the_field_cannot_hold_is_refused_at_bind)
{
    vmdb_db *db = people_db();
    vmdb_stmt *stmt = prepare(db, "SELECT name FROM people WHERE age > ?");
    cr_assert_eq(vmdb_bind_double(stmt, 1, 1e300), VMDB_ERANGE);
    cr_assert(strstr(vmdb_last_error()->message, "parameter 1") &&
                  strstr(vmdb_last_error()->message, "age") &&
                  strstr(vmdb_last_error()->message, "u8"),
              "%s", vmdb_last_error()->message);
    cr_assert_eq(vmdb_bind_double(stmt, 1, 300.0), VMDB_ERANGE);
    ASSERT_OK(vmdb_bind_double(stmt, 1, 30.5)); /* a fraction compares */
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    cr_assert_str_eq(text_of(stmt, 0), "Ann");
    vmdb_finalize(stmt);
    stmt = prepare(db, "SELECT id FROM people WHERE name = ?");
    cr_assert_eq(vmdb_bind_text(stmt, 1, "Ann\0x", 5), VMDB_EINVAL);
    cr_assert(strstr(vmdb_last_error()->message, "parameter 1") &&
                  strstr(vmdb_last_error()->message, "NUL"),
              "%s", vmdb_last_error()->message);
    ASSERT_OK(vmdb_bind_text(stmt, 1, "Ann", VMDB_SQL_NUL_TERMINATED));
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    cr_assert_str_eq(text_of(stmt, 0), "1");
    vmdb_finalize(stmt);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}
