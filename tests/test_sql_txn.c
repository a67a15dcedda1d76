/* SPDX-License-Identifier: MIT */
/*
 * tests/test_sql_txn.c - BEGIN, COMMIT and ROLLBACK through the public
 * query API: the statements between them are one transaction, its reads
 * (SELECT by scan and by key, the WHERE of UPDATE and DELETE) see its own
 * writes, a failed statement is undone alone and the transaction goes on,
 * other threads see only what is committed, close rolls back; and CREATE
 * TABLE and DROP TABLE.
 */
#include <pthread.h>

#include "helpers.h"

TestSuite(sql_txn, .timeout = SUITE_TIMEOUT);
TestSuite(sql_table, .timeout = SUITE_TIMEOUT);

static vmdb_db *open_db(void)
{
    vmdb_db *db;
    vmdb_db_options opts = VMDB_DB_OPTIONS_INIT;
    opts.flags = VMDB_DB_CREATE;
    ASSERT_OK(vmdb_open(test_path("t.db"), &opts, &db));
    return db;
}

static vmdb_db *people_db(void)
{
    vmdb_db *db = open_db();
    ASSERT_OK(vmdb_exec(db,
                        "CREATE TABLE people (id u64 KEY, name str16, age u8);"
                        "INSERT INTO people VALUES (1, 'Ann', 31), (2, 'Bob', 25), "
                        "(3, 'Cy', 40)",
                        NULL, NULL));
    return db;
}

static int add_row(void *ctx, vmdb_stmt *stmt)
{
    char *out = ctx;
    for (int i = 0; i < vmdb_column_count(stmt); i++) {
        const char *text;
        ASSERT_OK(vmdb_column_text(stmt, i, &text, NULL));
        strcat(out, i ? "|" : "");
        strcat(out, text);
    }
    strcat(out, "\n");
    return 0;
}

/* Every row of sql, cells joined by '|', rows by '\n'. */
static const char *rows_of(vmdb_db *db, const char *sql)
{
    static char out[4096];
    out[0] = '\0';
    ASSERT_OK(vmdb_exec(db, sql, add_row, out));
    return out;
}

#define ASSERT_ROWS(db, sql, want) cr_assert_str_eq(rows_of(db, sql), want, "%s", sql)

Test(sql_txn, rollback_undoes_every_statement_since_begin)
{
    vmdb_db *db = people_db();
    ASSERT_OK(vmdb_exec(db,
                        "BEGIN; INSERT INTO people VALUES (4, 'Di', 22);"
                        "UPDATE people SET age = 0; DELETE FROM people WHERE id = 1;",
                        NULL, NULL));
    ASSERT_OK(vmdb_exec(db, "ROLLBACK", NULL, NULL));
    ASSERT_ROWS(db, "SELECT id, age FROM people ORDER BY id", "1|31\n2|25\n3|40\n");
    vmdb_close(db);
}

Test(sql_txn, commit_keeps_them_and_they_survive_a_reopen)
{
    vmdb_db *db = people_db();
    ASSERT_OK(vmdb_exec(db,
                        "BEGIN TRANSACTION; INSERT INTO people VALUES (4, 'Di', 22);"
                        "DELETE FROM people WHERE id = 1; END",
                        NULL, NULL));
    ASSERT_OK(vmdb_close(db));
    db = open_db();
    ASSERT_ROWS(db, "SELECT id FROM people ORDER BY id", "2\n3\n4\n");
    vmdb_close(db);
}

Test(sql_txn, reads_inside_see_the_transactions_own_writes)
{
    vmdb_db *db = people_db();
    ASSERT_OK(vmdb_exec(db,
                        "BEGIN IMMEDIATE; INSERT INTO people VALUES (4, 'Di', 22), "
                        "(5, 'Ed', 50); UPDATE people SET age = age + 1 WHERE id = 2;"
                        "DELETE FROM people WHERE id = 3",
                        NULL, NULL));
    /* A scan, in slot order: the table's records, then the new ones. */
    ASSERT_ROWS(db, "SELECT id, age FROM people", "1|31\n2|26\n4|22\n5|50\n");
    /* Key lookups through the transaction. */
    ASSERT_ROWS(db, "SELECT id, age FROM people WHERE id IN (2, 3, 4)", "2|26\n4|22\n");
    ASSERT_ROWS(db, "SELECT COUNT(*), SUM(age) FROM people", "4|129\n");
    /* UPDATE and DELETE find what the transaction inserted. */
    vmdb_stmt *stmt;
    ASSERT_OK(vmdb_prepare(db, "UPDATE people SET name = 'new' WHERE age >= 50",
                           VMDB_SQL_NUL_TERMINATED, &stmt, NULL));
    cr_assert_eq(vmdb_step(stmt), VMDB_DONE);
    cr_assert_eq(vmdb_changes(stmt), 1);
    vmdb_finalize(stmt);
    ASSERT_OK(vmdb_exec(db, "DELETE FROM people WHERE id = 4", NULL, NULL));
    ASSERT_ROWS(db, "SELECT id, name FROM people ORDER BY id", "1|Ann\n2|Bob\n5|new\n");
    /* vmdb_step keeps a SELECT's rows; it sees them too. */
    ASSERT_OK(vmdb_prepare(db, "SELECT name FROM people WHERE id = 5", VMDB_SQL_NUL_TERMINATED,
                           &stmt, NULL));
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    const char *name;
    ASSERT_OK(vmdb_column_text(stmt, 0, &name, NULL));
    cr_assert_str_eq(name, "new");
    vmdb_finalize(stmt);
    ASSERT_OK(vmdb_exec(db, "COMMIT", NULL, NULL));
    ASSERT_ROWS(db, "SELECT id, name, age FROM people ORDER BY id",
                "1|Ann|31\n2|Bob|26\n5|new|50\n");
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
}

Test(sql_txn, a_failed_statement_is_undone_alone_and_the_transaction_goes_on)
{
    vmdb_db *db = people_db();
    ASSERT_OK(vmdb_exec(db, "BEGIN; INSERT INTO people VALUES (4, 'Di', 22)", NULL, NULL));
    /* The second row's key exists: neither row of this INSERT stays. */
    ASSERT_FAILS(vmdb_exec(db, "INSERT INTO people VALUES (5, 'Ed', 50), (1, 'X', 1)", NULL,
                           NULL),
                 VMDB_EEXIST, "key already exists");
    /* A value that does not fit, part way through an UPDATE. */
    ASSERT_FAILS(vmdb_exec(db, "UPDATE people SET age = age + 220", NULL, NULL), VMDB_ERANGE,
                 "does not fit u8");
    ASSERT_ROWS(db, "SELECT id, age FROM people ORDER BY id", "1|31\n2|25\n3|40\n4|22\n");
    /* The id reserved for row 5 went back: a later insert may take it. */
    ASSERT_OK(vmdb_exec(db, "INSERT INTO people VALUES (6, 'Fay', 60); COMMIT", NULL, NULL));
    ASSERT_ROWS(db, "SELECT id FROM people ORDER BY id", "1\n2\n3\n4\n6\n");
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
}

Test(sql_txn, rollback_after_an_error_undoes_the_statements_before_it)
{
    vmdb_db *db = people_db();
    ASSERT_OK(vmdb_exec(db, "BEGIN; UPDATE people SET age = 1 WHERE id = 1", NULL, NULL));
    ASSERT_FAILS(vmdb_exec(db, "UPDATE people SET age = 7 / 0", NULL, NULL), VMDB_ERANGE,
                 "division by zero");
    ASSERT_OK(vmdb_exec(db, "ROLLBACK", NULL, NULL));
    ASSERT_ROWS(db, "SELECT age FROM people WHERE id = 1", "31\n");
    vmdb_close(db);
}

Test(sql_txn, commit_or_rollback_without_begin_and_begin_inside_begin_say_why)
{
    vmdb_db *db = people_db();
    ASSERT_FAILS(vmdb_exec(db, "COMMIT", NULL, NULL), VMDB_EINVAL,
                 "cannot COMMIT: no transaction is open");
    ASSERT_FAILS(vmdb_exec(db, "END TRANSACTION", NULL, NULL), VMDB_EINVAL,
                 "cannot COMMIT: no transaction is open");
    ASSERT_FAILS(vmdb_exec(db, "ROLLBACK", NULL, NULL), VMDB_EINVAL,
                 "cannot ROLLBACK: no transaction is open");
    ASSERT_OK(vmdb_exec(db, "BEGIN DEFERRED", NULL, NULL));
    ASSERT_FAILS(vmdb_exec(db, "BEGIN", NULL, NULL), VMDB_EINVAL,
                 "cannot BEGIN: a transaction is already open");
    /* Still open, and still usable. */
    ASSERT_OK(vmdb_exec(db, "INSERT INTO people VALUES (9, 'Z', 9); COMMIT", NULL, NULL));
    ASSERT_ROWS(db, "SELECT name FROM people WHERE id = 9", "Z\n");
    ASSERT_FAILS(vmdb_exec(db, "ROLLBACK TO sp", NULL, NULL), VMDB_ESYNTAX,
                 "savepoints are not supported");
    ASSERT_FAILS(vmdb_exec(db, "BEGIN WORK", NULL, NULL), VMDB_ESYNTAX,
                 "syntax error at 'WORK'");
    vmdb_close(db);
}

Test(sql_txn, statement_kinds_are_told_apart_without_a_database)
{
    cr_assert_eq(vmdb_sql_kind("begin immediate transaction", VMDB_SQL_NUL_TERMINATED, NULL),
                 VMDB_STMT_BEGIN);
    cr_assert_eq(vmdb_sql_kind("END;", VMDB_SQL_NUL_TERMINATED, NULL), VMDB_STMT_COMMIT);
    cr_assert_eq(vmdb_sql_kind("COMMIT", VMDB_SQL_NUL_TERMINATED, NULL), VMDB_STMT_COMMIT);
    cr_assert_eq(vmdb_sql_kind("Rollback", VMDB_SQL_NUL_TERMINATED, NULL), VMDB_STMT_ROLLBACK);
    cr_assert_eq(vmdb_sql_kind("CREATE TABLE t (a u8)", VMDB_SQL_NUL_TERMINATED, NULL),
                 VMDB_STMT_CREATE_TABLE);
    cr_assert_eq(vmdb_sql_kind("drop table if exists t", VMDB_SQL_NUL_TERMINATED, NULL),
                 VMDB_STMT_DROP_TABLE);
}

Test(sql_txn, finalizing_the_begin_statement_leaves_the_transaction_open)
{
    vmdb_db *db = people_db();
    vmdb_stmt *begin;
    ASSERT_OK(vmdb_prepare(db, "BEGIN", VMDB_SQL_NUL_TERMINATED, &begin, NULL));
    cr_assert_eq(vmdb_stmt_kind(begin), VMDB_STMT_BEGIN);
    cr_assert_eq(vmdb_step(begin), VMDB_DONE);
    vmdb_finalize(begin);
    ASSERT_OK(vmdb_exec(db, "DELETE FROM people", NULL, NULL));
    ASSERT_ROWS(db, "SELECT COUNT(*) FROM people", "0\n");
    ASSERT_OK(vmdb_exec(db, "ROLLBACK", NULL, NULL));
    ASSERT_ROWS(db, "SELECT COUNT(*) FROM people", "3\n");
    vmdb_close(db);
}

Test(sql_txn, close_rolls_back_an_open_transaction)
{
    vmdb_db *db = people_db();
    ASSERT_OK(vmdb_exec(db, "BEGIN; DELETE FROM people WHERE id = 2", NULL, NULL));
    ASSERT_OK(vmdb_close(db));
    db = open_db();
    ASSERT_ROWS(db, "SELECT id FROM people ORDER BY id", "1\n2\n3\n");
    /* No transaction is left behind to refuse the next BEGIN. */
    ASSERT_OK(vmdb_exec(db, "BEGIN; COMMIT", NULL, NULL));
    vmdb_close(db);
}

typedef struct other_thread {
    vmdb_db *db;
    char rows[256];
    int write_rc;
    bool wrote;
} other_thread;

static void *other_reads(void *arg)
{
    other_thread *o = arg;
    o->rows[0] = '\0';
    vmdb_exec(o->db, "SELECT id FROM people ORDER BY id", add_row, o->rows);
    /* Not in the other thread's transaction: COMMIT has nothing to end. */
    o->write_rc = vmdb_exec(o->db, "COMMIT", NULL, NULL);
    return NULL;
}

static void *other_writes(void *arg)
{
    other_thread *o = arg;
    o->write_rc = vmdb_exec(o->db, "INSERT INTO people VALUES (8, 'T', 8)", NULL, NULL);
    __atomic_store_n(&o->wrote, true, __ATOMIC_RELEASE);
    return NULL;
}

Test(sql_txn, another_thread_reads_what_is_committed_and_its_write_waits)
{
    vmdb_db *db = people_db();
    ASSERT_OK(vmdb_exec(db, "BEGIN; DELETE FROM people WHERE id = 1", NULL, NULL));
    other_thread o = {.db = db};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, other_reads, &o), 0);
    pthread_join(th, NULL);
    cr_assert_str_eq(o.rows, "1\n2\n3\n");
    cr_assert_eq(o.write_rc, VMDB_EINVAL);
    /* A write of another thread waits for the transaction's end, then
     * runs on its own. */
    cr_assert_eq(pthread_create(&th, NULL, other_writes, &o), 0);
    ASSERT_ROWS(db, "SELECT id FROM people ORDER BY id", "2\n3\n");
    cr_assert(!__atomic_load_n(&o.wrote, __ATOMIC_ACQUIRE));
    ASSERT_OK(vmdb_exec(db, "COMMIT", NULL, NULL));
    pthread_join(th, NULL);
    ASSERT_OK(o.write_rc);
    ASSERT_ROWS(db, "SELECT id FROM people ORDER BY id", "2\n3\n8\n");
    vmdb_close(db);
}

Test(sql_txn, a_transaction_begun_in_c_is_not_joined_by_sql)
{
    vmdb_db *db = people_db();
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn));
    ASSERT_FAILS(vmdb_exec(db, "COMMIT", NULL, NULL), VMDB_EINVAL, "no transaction is open");
    ASSERT_FAILS(vmdb_exec(db, "DELETE FROM people", NULL, NULL), VMDB_EBUSY, "");
    vmdb_txn_abort(txn);
    ASSERT_ROWS(db, "SELECT COUNT(*) FROM people", "3\n");
    vmdb_close(db);
}

Test(sql_txn, a_read_only_handle_refuses_begin_clearly)
{
    vmdb_db *db = people_db();
    vmdb_close(db);
    vmdb_db_options opts = VMDB_DB_OPTIONS_INIT;
    opts.flags = VMDB_DB_READONLY;
    ASSERT_OK(vmdb_open(test_path("t.db"), &opts, &db));
    ASSERT_FAILS(vmdb_exec(db, "BEGIN", NULL, NULL), VMDB_EREADONLY, "BEGIN: ");
    vmdb_close(db);
}

/* ---- CREATE TABLE, DROP TABLE ------------------------------------------- */

static char *schema_text(vmdb_db *db, const char *table)
{
    static char text[512];
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, table, NULL, &t));
    size_t len;
    ASSERT_OK(vmdb_schema_format(vmdb_table_schema(t), text, sizeof text, &len));
    return text;
}

Test(sql_table, create_table_takes_the_schema_types_and_key_rule)
{
    vmdb_db *db = open_db();
    ASSERT_OK(vmdb_exec(db, "CREATE TABLE items (name str32, id u32 KEY, price f64, "
                            "stock i16, ok bool, tag bytes4)",
                        NULL, NULL));
    cr_assert_str_eq(schema_text(db, "items"),
                     "name:str32, id:u32 key, price:f64, stock:i16, ok:bool, tag:bytes4");
    ASSERT_OK(vmdb_exec(db, "create table \"Two\" (a u8, b STR8); "
                            "CREATE TABLE p (x u64 PRIMARY KEY, y u8)",
                        NULL, NULL));
    cr_assert_str_eq(schema_text(db, "Two"), "a:u8 key, b:str8");
    cr_assert_str_eq(schema_text(db, "p"), "x:u64 key, y:u8");
    ASSERT_OK(vmdb_exec(db, "INSERT INTO items (id, name) VALUES (7, 'mug')", NULL, NULL));
    ASSERT_ROWS(db, "SELECT id, name FROM items", "7|mug\n");
    vmdb_close(db);
}

Test(sql_table, if_not_exists_and_if_exists_make_the_missing_case_no_error)
{
    vmdb_db *db = people_db();
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE people (a u8)", NULL, NULL), VMDB_EEXIST,
                 "table 'people' exists");
    ASSERT_OK(vmdb_exec(db, "CREATE TABLE IF NOT EXISTS people (a u8)", NULL, NULL));
    /* The table that was there is left as it was. */
    ASSERT_ROWS(db, "SELECT COUNT(*) FROM people", "3\n");
    ASSERT_OK(vmdb_exec(db, "DROP TABLE people", NULL, NULL));
    ASSERT_FAILS(vmdb_exec(db, "DROP TABLE people", NULL, NULL), VMDB_ENOTFOUND,
                 "no table 'people'");
    ASSERT_OK(vmdb_exec(db, "DROP TABLE IF EXISTS people", NULL, NULL));
    ASSERT_FAILS(vmdb_exec(db, "SELECT * FROM people", NULL, NULL), VMDB_ENOTFOUND,
                 "no table 'people'");
    vmdb_close(db);
}

Test(sql_table, create_and_drop_take_names_in_any_case_as_every_statement_does)
{
    vmdb_db *db = people_db();
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE PEOPLE (a u8)", NULL, NULL), VMDB_EEXIST,
                 "table 'people' exists");
    ASSERT_OK(vmdb_exec(db, "CREATE TABLE IF NOT EXISTS People (a u8)", NULL, NULL));
    ASSERT_ROWS(db, "SELECT COUNT(*) FROM PEOPLE", "3\n");
    /* Two tables whose names differ in case alone: the exact name picks
     * one, any other spelling is ambiguous and drops nothing. */
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("a:u8 key", &s));
    ASSERT_OK(vmdb_table_create(db, "People", s, NULL));
    vmdb_schema_free(s);
    ASSERT_FAILS(vmdb_exec(db, "DROP TABLE PEOPLE", NULL, NULL), VMDB_EINVAL, "ambiguous");
    ASSERT_OK(vmdb_exec(db, "DROP TABLE People", NULL, NULL));
    ASSERT_ROWS(db, "SELECT COUNT(*) FROM people", "3\n");
    ASSERT_OK(vmdb_exec(db, "DROP TABLE PEOPLE", NULL, NULL));
    ASSERT_FAILS(vmdb_exec(db, "SELECT * FROM people", NULL, NULL), VMDB_ENOTFOUND,
                 "no table 'people'");
    ASSERT_OK(vmdb_exec(db, "DROP TABLE IF EXISTS People", NULL, NULL));
    vmdb_close(db);
}

Test(sql_table, bad_field_lists_name_the_field_and_where_it_is)
{
    vmdb_db *db = open_db();
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE t (a u8, b integer)", NULL, NULL), VMDB_ESCHEMA,
                 "unknown type 'integer' for field 'b' (col 23)");
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE t (a u8 KEY, b u8 KEY)", NULL, NULL),
                 VMDB_ESCHEMA, "two key fields");
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE t (a u8, a u16)", NULL, NULL), VMDB_ESCHEMA,
                 "'a'");
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE t (a)", NULL, NULL), VMDB_ESYNTAX,
                 "field 'a' needs a type");
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE t (a u8", NULL, NULL), VMDB_ESYNTAX,
                 "syntax error at end of input");
    ASSERT_FAILS(vmdb_exec(db, "CREATE INDEX i ON t (a)", NULL, NULL), VMDB_ESYNTAX,
                 "CREATE INDEX is not supported");
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE t AS SELECT 1", NULL, NULL), VMDB_ESYNTAX,
                 "AS SELECT is not supported");
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE \"bad name\" (a u8)", NULL, NULL), VMDB_EINVAL,
                 "bad name");
    vmdb_table *t;
    cr_assert_eq(vmdb_table_open(db, "t", NULL, &t), VMDB_ENOTFOUND);
    vmdb_close(db);
}

Test(sql_table, a_quoted_field_name_is_one_name_never_schema_text)
{
    vmdb_db *db = open_db();
    /* Each of these once made another table than the one written: the
     * name went into the schema text as it was, ':' and ',' included. */
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE t (\"a:u8, b\" u16)", NULL, NULL), VMDB_ESCHEMA,
                 "CREATE TABLE t: 'a:u8, b' is not a field name");
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE t (id u64, \"k:str8 key, z\" u8)", NULL, NULL),
                 VMDB_ESCHEMA, "'k:str8 key, z' is not a field name");
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE t (\"i d\" u64)", NULL, NULL), VMDB_ESCHEMA,
                 "'i d' is not a field name (letters, digits and '_', not starting with a "
                 "digit, at most 63 bytes) (col 17)");
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE t (a \"u8, b:u16\")", NULL, NULL), VMDB_ESYNTAX,
                 "field 'a' needs a type");
    vmdb_table *t;
    cr_assert_eq(vmdb_table_open(db, "t", NULL, &t), VMDB_ENOTFOUND);
    /* A keyword is a name like any other, quoted or not. */
    ASSERT_OK(vmdb_exec(db, "CREATE TABLE t (\"select\" u8, from u8)", NULL, NULL));
    cr_assert_str_eq(schema_text(db, "t"), "select:u8 key, from:u8");
    vmdb_close(db);
}

Test(sql_table, create_and_drop_are_refused_inside_a_transaction_which_goes_on)
{
    vmdb_db *db = people_db();
    ASSERT_OK(vmdb_exec(db, "BEGIN; DELETE FROM people WHERE id = 1", NULL, NULL));
    ASSERT_FAILS(vmdb_exec(db, "CREATE TABLE t (a u8)", NULL, NULL), VMDB_EINVAL,
                 "not inside a transaction");
    ASSERT_FAILS(vmdb_exec(db, "DROP TABLE people", NULL, NULL), VMDB_EINVAL,
                 "not inside a transaction");
    ASSERT_OK(vmdb_exec(db, "COMMIT", NULL, NULL));
    ASSERT_ROWS(db, "SELECT COUNT(*) FROM people", "2\n");
    vmdb_close(db);
}

Test(sql_table, a_statement_prepared_before_a_drop_and_create_says_so)
{
    vmdb_db *db = people_db();
    vmdb_stmt *stmt;
    ASSERT_OK(vmdb_prepare(db, "SELECT * FROM people", VMDB_SQL_NUL_TERMINATED, &stmt, NULL));
    ASSERT_OK(vmdb_exec(db, "DROP TABLE people; CREATE TABLE people (x u8)", NULL, NULL));
    cr_assert_eq(vmdb_step(stmt), VMDB_ESCHEMA);
    vmdb_finalize(stmt);
    char buf[128];
    ASSERT_OK(vmdb_prepare(db, "DROP TABLE people", VMDB_SQL_NUL_TERMINATED, &stmt, NULL));
    cr_assert_gt(vmdb_explain(stmt, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "drop table people\n");
    vmdb_finalize(stmt);
    vmdb_close(db);
}

typedef struct drop_race {
    vmdb_db *db;
    bool write;     /* UPDATE every record, rather than count them */
    int round;      /* the round whose table the reader is to count */
    int counted;    /* rounds the reader counted at least once */
    int wrong;      /* counts that were neither the table's nor an error */
    int64_t last_wrong;
} drop_race;

/* Counts t with one statement, again and again, until it fails: the
 * table was dropped. */
static void *count_until_dropped(void *arg)
{
    drop_race *d = arg;
    for (int round = 0; round < 20; round++) {
        while (__atomic_load_n(&d->round, __ATOMIC_ACQUIRE) < round)
            sched_yield();
        vmdb_stmt *stmt;
        if (vmdb_prepare(d->db, d->write ? "UPDATE t SET id = id" : "SELECT COUNT(*) FROM t",
                         VMDB_SQL_NUL_TERMINATED, &stmt, NULL) < 0)
            return NULL;
        int64_t n;
        while (d->write ? vmdb_step(stmt) == VMDB_DONE && (n = (int64_t)vmdb_changes(stmt), true)
                        : vmdb_step(stmt) == VMDB_ROW && vmdb_column_i64(stmt, 0, &n) == 0) {
            if (n != 5000) {
                d->wrong++;
                d->last_wrong = n;
            }
            __atomic_store_n(&d->counted, round + 1, __ATOMIC_RELEASE);
            vmdb_reset(stmt);
        }
        vmdb_finalize(stmt);
    }
    return NULL;
}

static void drop_beside(bool write)
{
    vmdb_db *db = open_db();
    char *sql = malloc(5000 * 16 + 64);
    size_t n = (size_t)sprintf(sql, "INSERT INTO t VALUES (0)");
    for (int i = 1; i < 5000; i++)
        n += (size_t)sprintf(sql + n, ", (%d)", i);
    drop_race d = {.db = db, .write = write, .round = -1};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, count_until_dropped, &d), 0);
    for (int round = 0; round < 20; round++) {
        ASSERT_OK(vmdb_exec(db, "CREATE TABLE t (id u64 KEY)", NULL, NULL));
        ASSERT_OK(vmdb_exec(db, sql, NULL, NULL));
        __atomic_store_n(&d.round, round, __ATOMIC_RELEASE);
        while (__atomic_load_n(&d.counted, __ATOMIC_ACQUIRE) <= round)
            sched_yield();
        /* The drop lands while the reader counts: it saw the table, or
         * sees that it was dropped, never a table that was there empty. */
        ASSERT_OK(vmdb_exec(db, "DROP TABLE t", NULL, NULL));
    }
    pthread_join(th, NULL);
    free(sql);
    cr_assert_eq(d.wrong, 0, "%d times %s beside DROP TABLE %s %lld records of 5000", d.wrong,
                 write ? "an UPDATE" : "a SELECT", write ? "changed" : "counted",
                 (long long)d.last_wrong);
    vmdb_close(db);
}

Test(sql_table, a_select_beside_a_drop_reads_the_table_whole_or_fails)
{
    drop_beside(false);
}

/* An UPDATE that found the table dropped when it got the write lock said
 * "0 records updated", as if the table were there and empty. */
Test(sql_table, a_write_beside_a_drop_changes_the_table_whole_or_fails)
{
    drop_beside(true);
}

Test(sql_txn, a_statement_that_outgrows_the_log_is_undone_and_the_transaction_commits_the_rest)
{
    vmdb_db *db;
    vmdb_db_options opts = VMDB_DB_OPTIONS_INIT;
    opts.flags = VMDB_DB_CREATE;
    opts.wal_size = 1 << 20;
    ASSERT_OK(vmdb_open(test_path("small.db"), &opts, &db));
    ASSERT_OK(vmdb_exec(db, "CREATE TABLE big (id u64 KEY, pad str200); BEGIN; "
                            "INSERT INTO big VALUES (1, 'first')",
                        NULL, NULL));
    /* 8000 records of about 260 log bytes each: twice the log. */
    size_t cap = 8000 * 32 + 64;
    char *sql = malloc(cap);
    size_t n = (size_t)snprintf(sql, cap, "INSERT INTO big VALUES (2, 'x')");
    for (int i = 3; i < 8000; i++)
        n += (size_t)snprintf(sql + n, cap - n, ", (%d, 'x')", i);
    ASSERT_FAILS(vmdb_exec(db, sql, NULL, NULL), VMDB_EFULL, "more than the log");
    free(sql);
    ASSERT_ROWS(db, "SELECT COUNT(*) FROM big", "1\n");
    ASSERT_OK(vmdb_exec(db, "INSERT INTO big VALUES (9, 'last'); COMMIT", NULL, NULL));
    ASSERT_ROWS(db, "SELECT id, pad FROM big ORDER BY id", "1|first\n9|last\n");
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
}
