/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cli_query.c - `vmdb query` and `vmdb shell` run as a black
 * box: output formats, exit statuses, --explain, the messages of bad
 * statements, and scripts fed to the shell on stdin. Databases are made
 * through the C API.
 */
#include <stdarg.h>

#include "cli_helpers.h"

TestSuite(cli_query, .timeout = SUITE_TIMEOUT);
TestSuite(cli_shell, .timeout = SUITE_TIMEOUT);

static char db[512];

/* A database in the test's directory with table people: five records. */
static void make_people(void)
{
    snprintf(db, sizeof db, "%s", test_path("people.db"));
    vmdb_db *d;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_OK(vmdb_open(db, &o, &d));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u64 key, name:str16, age:u8, score:f64, member:bool", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(d, "people", s, &t));
    static const char *const rows[][5] = {
        {"1", "Alice", "30", "9.5", "true"},  {"2", "Bob", "25", "7", "false"},
        {"3", "Carol, Jr.", "35", "8.25", "true"}, {"4", "Dave \"D\"", "25", "6.5", "false"},
        {"18446744073709551615", "Max", "41", "-0.5", "true"},
    };
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(d, VMDB_DURABILITY_DEFAULT, &txn));
    for (size_t r = 0; r < 5; r++) {
        unsigned char rec[128] = {0};
        for (size_t f = 0; f < 5; f++)
            ASSERT_OK(vmdb_record_set_text(s, rec, f, rows[r][f]));
        ASSERT_OK(vmdb_txn_put(txn, t, rec, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    vmdb_schema_free(s);
    vmdb_close(d);
}

static cli_result *vmdb(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cli_result *vmdb(const char *fmt, ...)
{
    char args[3000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return run_cli(args);
}

/* `vmdb shell DB` with `script` on stdin, plus extra arguments. */
static cli_result *shell(const char *script, const char *extra)
{
    const char *path = test_path("script.sql");
    write_file(path, script, strlen(script));
    return vmdb("shell '%s' %s < '%s'", db, extra, path);
}

#define EXPECT(res, status_, out_, err_)                                       \
    do {                                                                       \
        const cli_result *r_ = (res);                                          \
        cr_assert_eq(r_->status, (status_), "exit %d, wanted %d\nstdout: %s\nstderr: %s", \
                     r_->status, (status_), r_->out, r_->err);                  \
        cr_assert_str_eq(r_->out, (out_), "stdout:\n%s\nwanted:\n%s", r_->out, (out_)); \
        cr_assert_str_eq(r_->err, (err_), "stderr:\n%s\nwanted:\n%s", r_->err, (err_)); \
    } while (0)

/* ---- vmdb query --------------------------------------------------------- */

Test(cli_query, select_in_every_format)
{
    make_people();
    EXPECT(vmdb("query '%s' \"SELECT id, name, age, score, member FROM people WHERE age >= 30 "
                "ORDER BY age\" --format csv", db),
           0,
           "id,name,age,score,member\n1,Alice,30,9.5,true\n3,\"Carol, Jr.\",35,8.25,true\n"
           "18446744073709551615,Max,41,-0.5,true\n",
           "");
    EXPECT(vmdb("query --format json '%s' \"SELECT name, age * 2 AS twice, score, member "
                "FROM people WHERE id IN (4, 18446744073709551615)\"", db),
           0,
           "{\"name\":\"Dave \\\"D\\\"\",\"twice\":50,\"score\":6.5,\"member\":false}\n"
           "{\"name\":\"Max\",\"twice\":82,\"score\":-0.5,\"member\":true}\n",
           "");
    EXPECT(vmdb("query '%s' \"SELECT name, age FROM people WHERE age < 30 ORDER BY name\"", db),
           0, "name      age\n--------  ---\nBob        25\nDave \"D\"   25\n", "");
    EXPECT(vmdb("query '%s' \"select city, count(*) from people group by city\" -f csv", db), 2,
           "", "vmdb: people: no field 'city' (col 8)\n");
    EXPECT(vmdb("query '%s' \"SELECT age, COUNT(*) AS n, AVG(score) FROM people GROUP BY age "
                "ORDER BY n DESC, age LIMIT 2\" -f csv", db),
           0, "age,n,AVG(score)\n25,2,6.75\n30,1,9.5\n", "");
    remove_test_dir();
}

Test(cli_query, exit_status_is_1_when_a_select_finds_no_row)
{
    make_people();
    EXPECT(vmdb("query '%s' \"SELECT name FROM people WHERE age > 99\" -f csv", db), 1, "name\n",
           "");
    EXPECT(vmdb("query '%s' \"SELECT name FROM people WHERE id = 77\" -f json", db), 1, "", "");
    EXPECT(vmdb("query '%s' \"SELECT MAX(age) FROM people WHERE age > 99\" -f csv", db), 1,
           "MAX(age)\n", "");
    EXPECT(vmdb("query '%s' \"SELECT COUNT(*) FROM people WHERE age > 99\" -f csv", db), 0,
           "COUNT(*)\n0\n", "");
    remove_test_dir();
}

Test(cli_query, writes_report_the_records_changed_on_stderr)
{
    make_people();
    EXPECT(vmdb("query '%s' \"INSERT INTO people (id, name, age) VALUES (6, 'Fay', 52), "
                "(7, 'it''s', 1)\"", db),
           0, "", "2 records inserted\n");
    EXPECT(vmdb("query '%s' \"UPDATE people SET age = age + 1 WHERE name LIKE '%%y'\"", db), 0,
           "", "1 record updated\n");
    EXPECT(vmdb("query '%s' \"SELECT id, name, age FROM people WHERE id >= 6\" -f csv", db), 0,
           "id,name,age\n18446744073709551615,Max,41\n6,Fay,53\n7,it's,1\n", "");
    EXPECT(vmdb("query '%s' \"DELETE FROM people WHERE age < 30\"", db), 0, "",
           "3 records deleted\n");
    EXPECT(vmdb("query '%s' \"DELETE FROM people WHERE age < 30;\"", db), 0, "",
           "0 records deleted\n");
    EXPECT(vmdb("query '%s' \"SELECT COUNT(*) FROM people\" -f csv", db), 0, "COUNT(*)\n4\n", "");
    remove_test_dir();
}

Test(cli_query, a_failing_statement_changes_nothing)
{
    make_people();
    /* Ages 30, 25, 35, 25, 41: + 220 overflows u8 at the last, Max. */
    EXPECT(vmdb("query '%s' \"UPDATE people SET age = age + 220\"", db), 2, "",
           "vmdb: people.age: value 261 does not fit u8\n");
    EXPECT(vmdb("query '%s' \"SELECT SUM(age) FROM people\" -f csv", db), 0, "SUM(age)\n156\n",
           "");
    EXPECT(vmdb("query '%s' \"INSERT INTO people (id) VALUES (10), (1)\"", db), 2, "",
           "vmdb: people: key already exists (record 0)\n");
    EXPECT(vmdb("query '%s' \"SELECT COUNT(*) FROM people\" -f csv", db), 0, "COUNT(*)\n5\n", "");
    remove_test_dir();
}

/* "vmdb: <db>..." with the test's database path in it. */
static const char *with_db(const char *fmt)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, fmt, db);
    return buf;
}

Test(cli_query, explain_prints_the_plan_and_runs_nothing)
{
    make_people();
    EXPECT(vmdb("query --explain '%s' \"SELECT * FROM people WHERE id IN (1, 2) AND age > 20\"",
                db),
           0, "index lookup on people.id (2 keys)\nfilter: ((id IN (1, 2)) AND (age > 20))\n", "");
    EXPECT(vmdb("query '%s' \"SELECT name FROM people WHERE age = 25 ORDER BY name\" -e", db), 0,
           "full scan of people\nfilter: (age = 25)\nsort by: name\n", "");
    EXPECT(vmdb("query '%s' --explain \"DELETE FROM people WHERE id = 1\"", db), 0,
           "index lookup on people.id (1 key)\nfilter: (id = 1)\ndelete from people\n", "");
    EXPECT(vmdb("query '%s' \"SELECT COUNT(*) FROM people\" -f csv", db), 0, "COUNT(*)\n5\n", "");
    EXPECT(vmdb("query '%s' --explain \"SELECT * FROM nowhere\"", db), 2, "",
           with_db("vmdb: %s: no table 'nowhere' (col 15)\n"));
    remove_test_dir();
}

Test(cli_query, bad_statements_are_one_line_naming_the_token)
{
    make_people();
    EXPECT(vmdb("query '%s' \"SELECT * FORM people\"", db), 2, "",
           "vmdb: syntax error at 'FORM' (col 10)\n");
    EXPECT(vmdb("query '%s' \"SELECT *\n  FROM people\n  WHERE age >< 3\"", db), 2, "",
           "vmdb: syntax error at '<' (line 3, col 14)\n");
    EXPECT(vmdb("query '%s' \"SELECT 'abc FROM people\"", db), 2, "",
           "vmdb: syntax error: unterminated string ''abc FROM people' (col 8)\n");
    EXPECT(vmdb("query '%s' \"SELECT agee FROM people\"", db), 2, "",
           "vmdb: people: no field 'agee' (col 8)\n");
    EXPECT(vmdb("query '%s' \"SELECT name FROM people WHERE name = 3\"", db), 2, "",
           "vmdb: cannot compare text with integer (col 36)\n");
    EXPECT(vmdb("query '%s' \"SELECT age / (id - id) FROM people\"", db), 2, "",
           "vmdb: division by zero: 30 / 0 (col 12)\n");
    EXPECT(vmdb("query '%s' \"SELECT id * 2 FROM people WHERE id > 4\"", db), 2, "",
           "vmdb: integer overflow in multiplication: 18446744073709551615 * 2 (col 11)\n");
    EXPECT(vmdb("query '%s' \"UPDATE people SET age = 300 WHERE id = 1\"", db), 2, "",
           "vmdb: people.age: value 300 does not fit u8\n");
    EXPECT(vmdb("query '%s' \"INSERT INTO people (id, name) VALUES (8, 'a name far too long')\"",
                db),
           2, "", "vmdb: people.name: 'a name far too long' is 19 bytes, more than str16\n");
    EXPECT(vmdb("query '%s' \"SELECT name FROM people WHERE name = NULL\"", db), 2, "",
           "vmdb: NULL is not supported: vmdb fields always hold a value (col 38)\n");
    /* Of several statements, the one at fault is named by its line. */
    EXPECT(vmdb("query '%s' \"SELECT 1 AS a; SELEC 2\"", db), 2, "a\n-\n1\n",
           "vmdb: line 1: syntax error at 'SELEC' (col 16)\n");
    remove_test_dir();
}

Test(cli_query, bad_arguments)
{
    make_people();
    cli_result *r = vmdb("query --help");
    cr_assert_eq(r->status, 0);
    ASSERT_CONTAINS(r->out, "usage: vmdb query DB \"SQL\"");
    ASSERT_CONTAINS(r->out, "There is no NULL");
    EXPECT(vmdb("query '%s'", db), 2, "",
           "vmdb: query: missing arguments; usage: vmdb query DB \"SQL\" [--format "
           "table|csv|json] [--explain]\n");
    EXPECT(vmdb("query '%s' \"SELECT 1\" --format xml", db), 2, "",
           "vmdb: unknown format 'xml' (table, csv, json)\n");
    const char *missing = test_path("missing.db");
    r = vmdb("query '%s' \"SELECT 1\"", missing);
    cr_assert_eq(r->status, 2);
    cr_assert_str_eq(r->out, "");
    ASSERT_CONTAINS(r->err, missing);
    ASSERT_CONTAINS(r->err, "no such database");
    /* A statement without FROM needs the database all the same. */
    EXPECT(vmdb("query '%s' \"SELECT 2 * 21 AS answer\" -f csv", db), 0, "answer\n42\n", "");
    remove_test_dir();
}

/* ---- vmdb shell --------------------------------------------------------- */

Test(cli_shell, a_script_runs_statement_by_statement)
{
    make_people();
    const char *script = ".tables\n"
                         ".schema people\n"
                         "-- a comment line\n"
                         "SELECT name\n"
                         "  FROM people\n"
                         "  WHERE id = 1;\n"
                         "SELECT 1 AS one; SELECT * FORM people;\n"
                         ".format csv\n"
                         "INSERT INTO people (id, name) VALUES (9, 'Ivy');\n"
                         "SELECT id, name FROM people WHERE id >= 9;\n"
                         "UPDATE people SET age = 300 WHERE id = 9;\n"
                         ".bogus\n"
                         "\n"
                         "SELECT age\n"
                         "  + 18446744073709551615 FROM people;\n"
                         "SELECT COUNT(*) AS n FROM people\n";
    EXPECT(shell(script, ""), 2,
           "people\n"
           "people: id:u64 key, name:str16, age:u8, score:f64, member:bool\n"
           "name\n-----\nAlice\n"
           "one\n---\n  1\n"
           "id,name\n18446744073709551615,Max\n9,Ivy\n"
           "n\n6\n",
           "vmdb: line 7: syntax error at 'FORM' (col 27)\n"
           "1 record inserted\n"
           "vmdb: line 11: people.age: value 300 does not fit u8\n"
           "vmdb: line 12: unknown command '.bogus' (.help lists them)\n"
           "vmdb: line 15: integer overflow in addition: 30 + 18446744073709551615 (col 3)\n");
    remove_test_dir();
}

Test(cli_shell, a_clean_script_exits_0_and_quit_stops_it)
{
    make_people();
    EXPECT(shell("SELECT name FROM people WHERE id = 2;\n.format\n.quit\nSELECT nonsense;\n",
                 "--format json"),
           0, "{\"name\":\"Bob\"}\njson\n", "");
    /* A SELECT that finds nothing is not an error in a script. */
    EXPECT(shell(".format csv\nSELECT name FROM people WHERE id = 99;\n", ""), 0, "name\n", "");
    EXPECT(shell("", ""), 0, "", "");
    remove_test_dir();
}

/* A statement nested past the SQL's limit (a left-deep chain is as deep
 * as it is long) is one line of error, and the script goes on: such a
 * sum once took the shell down with SIGSEGV in the planner's recursion. */
Test(cli_shell, a_statement_nested_too_deep_is_an_error_and_the_script_goes_on)
{
    make_people();
    size_t terms = 100000, ands = 12000;
    char *script = malloc(terms * strlen("+1") + ands * strlen(" AND id = 1") + 100);
    cr_assert_not_null(script);
    size_t n = (size_t)sprintf(script, "SELECT 1");
    for (size_t i = 1; i < terms; i++)
        n += (size_t)sprintf(script + n, "+1");
    n += (size_t)sprintf(script + n, ";\nSELECT id FROM people WHERE id = 1");
    for (size_t i = 1; i < ands; i++)
        n += (size_t)sprintf(script + n, " AND id = 1");
    sprintf(script + n, ";\nSELECT 2 AS two;\n");
    EXPECT(shell(script, ""), 2, "two\n---\n  2\n",
           "vmdb: line 1: expression nested deeper than 1000 levels at '+' (col 2007)\n"
           "vmdb: line 2: expression nested deeper than 1000 levels at 'AND' (col 11014)\n");
    free(script);
    remove_test_dir();
}

Test(cli_shell, help_and_missing_database)
{
    make_people();
    cli_result *r = shell(".help\n", "");
    cr_assert_eq(r->status, 0);
    ASSERT_CONTAINS(r->out, ".schema [TABLE]");
    r = vmdb("shell --help");
    cr_assert_eq(r->status, 0);
    ASSERT_CONTAINS(r->out, "usage: vmdb shell DB");
    r = vmdb("shell --readonly '%s' < /dev/null", test_path("none.db"));
    cr_assert_eq(r->status, 2);
    ASSERT_CONTAINS(r->err, "no such database");
    EXPECT(shell(".schema nowhere\n.format xml\n.tables extra\n", ""), 2, "",
           with_db("vmdb: line 1: %s: no table 'nowhere'\n"
                   "vmdb: line 2: unknown format 'xml' (table, csv, json)\n"
                   "vmdb: line 3: .tables: unexpected 'extra'\n"));
    remove_test_dir();
}
