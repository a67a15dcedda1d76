/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cli_sqlite.c - `vmdb shell` and `vmdb query` as a sqlite3
 * user drives them, run as a black box: several statements in one
 * argument, BEGIN ... COMMIT and the rollback of input that ends inside
 * a transaction, -bail, -cmd, -header/-noheader, -csv/-json, the dot
 * commands .mode, .headers, .timer, .read, .output, .import and .dump
 * (whose output makes the tables again), and a missing database made or,
 * with --readonly, refused.
 */
#include <stdarg.h>

#include "cli_helpers.h"
#include "db.h"

TestSuite(cli_sqlite, .timeout = SUITE_TIMEOUT);

static char db[512];

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

/* A database with table t (every kind of value) made through the shell. */
static void make_db(void)
{
    snprintf(db, sizeof db, "%s", test_path("s.db"));
    cli_result *r = vmdb("shell '%s' \"CREATE TABLE t (id u64 KEY, name str16, x f64, ok bool, "
                         "b bytes2, n i8); INSERT INTO t VALUES "
                         "(1, 'it''s', 1.5, TRUE, '0x0a0b', -128), "
                         "(18446744073709551615, 'q\\\"', 1e300, FALSE, '0x0000', 127)\"",
                         db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    ASSERT_CONTAINS(r->err, "no such database: created it");
}

#define EXPECT(res, status_, out_, err_)                                       \
    do {                                                                       \
        const cli_result *r_ = (res);                                          \
        cr_assert_eq(r_->status, (status_), "exit %d, wanted %d\nstdout: %s\nstderr: %s", \
                     r_->status, (status_), r_->out, r_->err);                  \
        cr_assert_str_eq(r_->out, (out_), "stdout:\n%s\nwanted:\n%s", r_->out, (out_)); \
        const char *e_ = (err_);                                               \
        if (e_)                                                                \
            cr_assert_str_eq(r_->err, e_, "stderr:\n%s", r_->err);              \
    } while (0)

Test(cli_sqlite, shell_sql_argument_runs_statements_and_rolls_back_what_is_left_open)
{
    make_db();
    cli_result *r = vmdb("shell '%s' \"BEGIN; DELETE FROM t; SELECT COUNT(*) AS n FROM t\"", db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert_str_eq(r->out, "n\n-\n0\n");
    ASSERT_CONTAINS(r->err, "the input ended inside a transaction (BEGIN without COMMIT): "
                            "rolled back");
    EXPECT(vmdb("shell '%s' -csv \"SELECT COUNT(*) AS n FROM t\"", db), 0, "n\n2\n", "");
    /* A script on stdin likewise. */
    write_file(test_path("in.sql"), "BEGIN;\nDELETE FROM t WHERE id = 1;\n", 31);
    r = vmdb("shell '%s' < '%s'", db, test_path("in.sql"));
    ASSERT_CONTAINS(r->err, "rolled back");
    EXPECT(vmdb("query '%s' --format csv \"SELECT COUNT(*) AS n FROM t\"", db), 0, "n\n2\n", "");
    remove_test_dir();
}

Test(cli_sqlite, query_runs_several_statements_in_one_transaction_or_each_in_its_own)
{
    make_db();
    EXPECT(vmdb("query '%s' -f csv \"BEGIN; UPDATE t SET n = 0; SELECT SUM(n) AS s FROM t; "
                "ROLLBACK; SELECT SUM(n) AS s FROM t\"",
                db),
           0, "s\n0\ns\n-1\n", "2 records updated\n");
    EXPECT(vmdb("query '%s' -f csv \"BEGIN; UPDATE t SET n = 5 WHERE id = 1; COMMIT; "
                "SELECT n FROM t WHERE id = 1\"",
                db),
           0, "n\n5\n", "1 record updated\n");
    cli_result *r = vmdb("query '%s' BEGIN", db);
    cr_assert_eq(r->status, 0);
    ASSERT_CONTAINS(r->err, "rolled back");
    /* The last SELECT finding nothing gives 1, as one statement does. */
    EXPECT(vmdb("query '%s' \"SELECT 1 AS a; SELECT n FROM t WHERE id = 7\"", db), 1,
           "a\n-\n1\nn\n-\n", "");
    /* An error stops them there: what ran before it stays. */
    EXPECT(vmdb("query '%s' -f csv \"DELETE FROM t WHERE id = 1; SELECT 1/0; "
                "DELETE FROM t\"",
                db),
           2, "", "1 record deleted\nvmdb: line 1: division by zero: 1 / 0 (col 37)\n");
    EXPECT(vmdb("query '%s' -f csv \"SELECT COUNT(*) AS n FROM t\"", db), 0, "n\n1\n", "");
    remove_test_dir();
}

Test(cli_sqlite, bail_stops_at_the_first_error_and_without_it_the_script_goes_on)
{
    make_db();
    write_file(test_path("in.sql"), "SELECT 1 AS a;\nSELEC 2;\nSELECT 3 AS c;\n", 39);
    EXPECT(vmdb("shell '%s' -csv < '%s'", db, test_path("in.sql")), 2, "a\n1\nc\n3\n",
           "vmdb: line 2: syntax error at 'SELEC' (col 1)\n");
    EXPECT(vmdb("shell '%s' -csv -bail < '%s'", db, test_path("in.sql")), 2, "a\n1\n",
           "vmdb: line 2: syntax error at 'SELEC' (col 1)\n");
    EXPECT(vmdb("shell '%s' --csv --bail \"SELECT 1 AS a; SELEC 2; SELECT 3\"", db), 2,
           "a\n1\n", NULL);
    remove_test_dir();
}

Test(cli_sqlite, a_nul_byte_in_a_script_stops_its_statement_from_running)
{
    make_db();
    /* Read up to the NUL only, this ran "DELETE FROM t WHERE id > 2". */
    const char script[] = "DELETE FROM t WHERE id > 2\0 AND id = 9;\nSELECT COUNT(*) AS n FROM t;\n";
    write_file(test_path("in.sql"), script, sizeof script - 1);
    EXPECT(vmdb("shell '%s' -csv < '%s'", db, test_path("in.sql")), 2, "n\n2\n",
           "vmdb: line 1: a NUL byte in the input (col 27): the statement is not run\n");
    remove_test_dir();
}

Test(cli_sqlite, options_and_dot_commands_set_the_output)
{
    make_db();
    const char *q = "SELECT id, name FROM t WHERE id = 1";
    EXPECT(vmdb("shell '%s' -csv -noheader \"%s\"", db, q), 0, "1,it's\n", "");
    EXPECT(vmdb("shell '%s' -json \"%s\"", db, q), 0, "{\"id\":1,\"name\":\"it's\"}\n", "");
    EXPECT(vmdb("shell '%s' -noheader -table \"%s\"", db, q), 0, " 1  it's\n", "");
    EXPECT(vmdb("shell '%s' -header --format csv \"%s\"", db, q), 0, "id,name\n1,it's\n", "");
    EXPECT(vmdb("shell '%s' -cmd '.mode csv' -cmd '.headers off' \"%s\"", db, q), 0,
           "1,it's\n", "");
    EXPECT(vmdb("shell '%s' \".mode json\n%s;\n.mode column\n.headers on\n%s\"", db, q, q), 0,
           "{\"id\":1,\"name\":\"it's\"}\nid  name\n--  ----\n 1  it's\n", "");
    EXPECT(vmdb("shell '%s' \".mode xml\"", db), 2, "",
           "vmdb: line 1: unknown mode 'xml' (table, column, csv, json)\n");
    EXPECT(vmdb("shell '%s' \".headers maybe\"", db), 2, "",
           "vmdb: line 1: .headers takes on or off\n");
    cli_result *r = vmdb("shell '%s' \".timer on\n%s\"", db, q);
    cr_assert_eq(r->status, 0);
    ASSERT_CONTAINS(r->err, "vmdb: run time: ");
    remove_test_dir();
}

Test(cli_sqlite, output_goes_to_a_file_and_back)
{
    make_db();
    char out[512];
    snprintf(out, sizeof out, "%s", test_path("rows.csv"));
    EXPECT(vmdb("shell '%s' -csv \".output %s\nSELECT id FROM t WHERE id = 1;\n.output\n"
                "SELECT 2 AS two\"",
                db, out),
           0, "two\n2\n", "");
    char got[256];
    slurp(out, got, sizeof got);
    cr_assert_str_eq(got, "id\n1\n");
    EXPECT(vmdb("shell '%s' \".output /nonexistent/dir/x\"", db), 2, "", NULL);
    /* As in sqlite3, quotes around a name are not part of it, and let it
     * hold blanks. */
    char spaced[512];
    snprintf(spaced, sizeof spaced, "%s", test_path("my rows.csv"));
    EXPECT(vmdb("shell '%s' -csv \".output '%s'\nSELECT 3 AS three;\n.output\n"
                ".output \\\"%s\\\"\nSELECT 4 AS four;\"",
                db, out, spaced),
           0, "", "");
    slurp(out, got, sizeof got);
    cr_assert_str_eq(got, "three\n3\n");
    slurp(spaced, got, sizeof got);
    cr_assert_str_eq(got, "four\n4\n");
    EXPECT(vmdb("shell '%s' \".output 'open\"", db), 2, "",
           "vmdb: line 1: .output: a quote left open\n");
    remove_test_dir();
}

Test(cli_sqlite, output_that_cannot_be_written_is_an_error)
{
    make_db();
    /* `.dump > backup.sql` on a full disk must not pass for a backup. */
    EXPECT(vmdb("shell '%s' \".output /dev/full\n.dump\"", db), 2, "",
           "vmdb: line 2: cannot write the output: No space left on device\n");
    EXPECT(vmdb("shell '%s' \".output /dev/full\n.schema\n.tables\n.help\"", db), 2, "",
           "vmdb: line 2: cannot write the output: No space left on device\n"
           "vmdb: line 3: cannot write the output: No space left on device\n"
           "vmdb: line 4: cannot write the output: No space left on device\n");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s shell '%s' .dump >/dev/full 2>/dev/null", cli_binary(), db);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "exit %d", WEXITSTATUS(rc));
    remove_test_dir();
}

Test(cli_sqlite, read_runs_a_file_and_names_it_in_errors)
{
    make_db();
    char inner[512], outer[512];
    snprintf(inner, sizeof inner, "%s", test_path("inner.sql"));
    snprintf(outer, sizeof outer, "%s", test_path("outer.sql"));
    write_file(inner, "SELECT 2 AS b;\nSELEC 3;\n", 24);
    char text[1100];
    int n = snprintf(text, sizeof text, "SELECT 1 AS a;\n.read %s\n", inner);
    write_file(outer, text, (size_t)n);
    char want[1200];
    snprintf(want, sizeof want, "vmdb: %s: line 2: syntax error at 'SELEC' (col 1)\n", inner);
    EXPECT(vmdb("shell '%s' -csv \".read %s\nSELECT 4 AS d\"", db, outer), 2,
           "a\n1\nb\n2\nd\n4\n", want);
    /* A file that reads itself stops, said once per level too deep. */
    n = snprintf(text, sizeof text, ".read %s\n", outer);
    write_file(outer, text, (size_t)n);
    cli_result *r = vmdb("shell '%s' \".read %s\"", db, outer);
    cr_assert_eq(r->status, 2);
    ASSERT_CONTAINS(r->err, "files read each other more than 16 deep");
    EXPECT(vmdb("shell '%s' \".read %s\"", db, test_path("none.sql")), 2, "", NULL);
    /* A file that opens but cannot be read is no empty script. */
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_path("a_dir"));
    cr_assert_eq(mkdir(dir, 0700), 0);
    snprintf(want, sizeof want, "vmdb: line 1: .read %s: cannot read: Is a directory\n", dir);
    EXPECT(vmdb("shell '%s' \".read %s\"", db, dir), 2, "", want);
    EXPECT(vmdb("shell '%s' < '%s'", db, dir), 2, "",
           "vmdb: cannot read the script: Is a directory\n");
    remove_test_dir();
}

Test(cli_sqlite, dump_makes_the_tables_again_in_an_empty_database)
{
    make_db();
    cli_result *r = vmdb("shell '%s' \"CREATE TABLE \\\"order\\\" (\\\"select\\\" str8, "
                         "k u16 KEY); INSERT INTO \\\"order\\\" VALUES ('x', 3); "
                         "INSERT INTO t VALUES (7, 'nl\nline', -0.25, TRUE, '0xffff', 0), "
                         "(8, 'inf', -1e308 * 10, FALSE, '0x0001', 1), "
                         "(9, 'minus zero', -0.0, FALSE, '0x0002', 2)\"",
                         db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    char dump[512];
    snprintf(dump, sizeof dump, "%s", test_path("dump.sql"));
    r = vmdb("shell '%s' .dump", db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    static char text[sizeof r->out];
    memcpy(text, r->out, sizeof text);
    write_file(dump, text, strlen(text));
    ASSERT_CONTAINS(text, "CREATE TABLE \"t\" (\"id\" u64 key, \"name\" str16, \"x\" f64, "
                          "\"ok\" bool, \"b\" bytes2, \"n\" i8);\nBEGIN;\n");
    ASSERT_CONTAINS(text, "INSERT INTO \"t\" VALUES (1, 'it''s', 1.5, true, '0x0a0b', -128);");
    char copy[512];
    snprintf(copy, sizeof copy, "%s", test_path("copy.db"));
    r = vmdb("shell '%s' < '%s'", copy, dump);
    cr_assert_eq(r->status, 0, "%s", r->err);
    const char *q = "SELECT * FROM t ORDER BY id; SELECT * FROM \\\"order\\\"";
    static char want[sizeof r->out];
    r = vmdb("query '%s' -f csv \"%s\"", db, q);
    cr_assert_eq(r->status, 0, "%s", r->err);
    memcpy(want, r->out, sizeof want);
    ASSERT_CONTAINS(want, "18446744073709551615,\"q\"\"\",1e+300,false,0x0000,127");
    ASSERT_CONTAINS(want, "8,inf,-inf,false,0x0001,1\n9,minus zero,-0,");
    r = vmdb("query '%s' -f csv \"%s\"", copy, q);
    cr_assert_str_eq(r->out, want);
    /* One table alone. */
    r = vmdb("shell '%s' '.dump order'", db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert_str_eq(r->out, "CREATE TABLE \"order\" (\"select\" str8, \"k\" u16 key);\nBEGIN;\n"
                             "INSERT INTO \"order\" VALUES ('x', 3);\nCOMMIT;\n");
    EXPECT(vmdb("shell '%s' '.dump nowhere'", db), 2, "", NULL);
    /* A table's name in any case, as the statements take it. */
    r = vmdb("shell '%s' '.dump ORDER'", db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    ASSERT_CONTAINS(r->out, "CREATE TABLE \"order\" (");
    EXPECT(vmdb("shell '%s' '.schema T'", db), 0,
           "t: id:u64 key, name:str16, x:f64, ok:bool, b:bytes2, n:i8\n", "");
    remove_test_dir();
}

Test(cli_sqlite, dump_keeps_a_carriage_return_before_a_line_break_in_text)
{
    make_db();
    /* A quoted csv cell of a file with CRLF line ends holds "\r\n". */
    char csv[512];
    snprintf(csv, sizeof csv, "%s", test_path("crlf.csv"));
    const char rows[] = "id,name\r\n20,\"two\r\nlines\"\r\n21,\"end\r\"\r\n";
    write_file(csv, rows, sizeof rows - 1);
    cli_result *r = vmdb("import '%s' t '%s'", db, csv);
    cr_assert_eq(r->status, 0, "%s", r->err);
    const char *q = "SELECT id, name FROM t WHERE id >= 20 AND id < 100 ORDER BY id";
    const char want[] = "{\"id\":20,\"name\":\"two\\r\\nlines\"}\n{\"id\":21,\"name\":\"end\\r\"}\n";
    EXPECT(vmdb("query '%s' -f json \"%s\"", db, q), 0, want, "");
    char dump[512], copy[512];
    snprintf(dump, sizeof dump, "%s", test_path("dump.sql"));
    snprintf(copy, sizeof copy, "%s", test_path("copy.db"));
    r = vmdb("shell '%s' '.dump t'", db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    write_file(dump, r->out, strlen(r->out));
    r = vmdb("shell '%s' < '%s'", copy, dump);
    cr_assert_eq(r->status, 0, "%s", r->err);
    EXPECT(vmdb("query '%s' -f json \"%s\"", copy, q), 0, want, "");
    /* Outside a string, a CRLF script's '\r' is still no part of it. */
    const char script[] = "SELECT 1 AS a;\r\nSELECT 'x\r\ny' AS b;\r\n.mode csv\r\n";
    write_file(dump, script, sizeof script - 1);
    EXPECT(vmdb("shell '%s' -json < '%s'", copy, dump), 0, "{\"a\":1}\n{\"b\":\"x\\r\\ny\"}\n",
           "");
    remove_test_dir();
}

Test(cli_sqlite, dump_refuses_tables_whose_names_differ_in_case_alone)
{
    make_db();
    cr_assert_eq(vmdb("create '%s' T 'y:u8'", db)->status, 0);
    cr_assert_eq(vmdb("put '%s' T y=2", db)->status, 0);
    /* Its CREATE TABLE "T" would find t (names are case-insensitive in
     * SQL), and T's rows would go into t. */
    cli_result *r = vmdb("shell '%s' .dump", db);
    cr_assert_eq(r->status, 2, "%s", r->err);
    cr_assert_str_eq(r->out, "");
    ASSERT_CONTAINS(r->err, "tables T and t differ only in case");
    /* Each alone comes out as ever. */
    r = vmdb("shell '%s' '.dump T'", db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert_str_eq(r->out, "CREATE TABLE \"T\" (\"y\" u8 key);\nBEGIN;\n"
                             "INSERT INTO \"T\" VALUES (2);\nCOMMIT;\n");
    remove_test_dir();
}

Test(cli_sqlite, import_puts_a_csv_file_into_a_table)
{
    make_db();
    char csv[512];
    snprintf(csv, sizeof csv, "%s", test_path("rows.csv"));
    const char rows[] = "id,name,n\n5,five,5\n6,six,-6\n";
    write_file(csv, rows, sizeof rows - 1);
    cli_result *r = vmdb("shell '%s' -csv \".import %s t\nSELECT id, n FROM t WHERE id > 4 AND id < 100\"",
                         db, csv);
    cr_assert_eq(r->status, 0, "%s", r->err);
    ASSERT_CONTAINS(r->out, "imported 2 rows into t in ");
    ASSERT_CONTAINS(r->out, " s\nid,n\n5,5\n6,-6\n");
    EXPECT(vmdb("shell '%s' \".import %s\"", db, csv), 2, "",
           "vmdb: line 1: .import: usage: .import [OPTION...] FILE TABLE\n");
    /* sqlite3's order: options first; its --csv, and vmdb import's own. */
    const char more[] = "id,name\n10,ten\n";
    write_file(csv, more, sizeof more - 1);
    r = vmdb("shell '%s' -csv \".import --csv --batch 1 %s t\nSELECT name FROM t WHERE id = 10\"",
             db, csv);
    cr_assert_eq(r->status, 0, "%s", r->err);
    ASSERT_CONTAINS(r->out, "imported 1 row into t");
    ASSERT_CONTAINS(r->out, "name\nten\n");
    EXPECT(vmdb("shell '%s' \".import --bogus %s t\"", db, csv), 2, "",
           "vmdb: unknown option '--bogus'\n");
    EXPECT(vmdb("shell '%s' \"BEGIN;\n.import %s t\"", db, csv), 2, "", NULL);
    remove_test_dir();
}

Test(cli_sqlite, a_missing_database_is_made_unless_readonly)
{
    snprintf(db, sizeof db, "%s", test_path("new.db"));
    EXPECT(vmdb("shell --readonly '%s' \"SELECT 1\"", db), 2, "", NULL);
    cli_result *r = vmdb("shell -readonly '%s' \"SELECT 1\"", db);
    ASSERT_CONTAINS(r->err, "no such database");
    r = vmdb("shell '%s' -csv \"CREATE TABLE u (a u8)\"", db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    char want[700];
    snprintf(want, sizeof want, "vmdb: %s: no such database: created it\n", db);
    cr_assert_str_eq(r->err, want);
    /* It is there now, and --readonly opens it read-only. */
    EXPECT(vmdb("shell '%s' -csv \"INSERT INTO u VALUES (1)\"", db), 0, "",
           "1 record inserted\n");
    r = vmdb("shell --readonly '%s' \"DELETE FROM u\"", db);
    cr_assert_eq(r->status, 2);
    ASSERT_CONTAINS(r->err, "opened read-only");
    EXPECT(vmdb("shell --readonly '%s' -csv \"SELECT a FROM u\"", db), 0, "a\n1\n", "");
    remove_test_dir();
}

static void die_mid_apply(vmdb_db *w, size_t applied)
{
    (void)w;
    if (applied == 0)
        _exit(0);
}

Test(cli_sqlite, readonly_stays_read_only_when_the_database_needed_recovery)
{
    make_db();
    /* A writer dies half way through applying an UPDATE: a read-only
     * open refuses until a writer replays the log, which the command
     * does first, as sqlite3 rolls a hot journal back. */
    pid_t pid = fork_child();
    if (pid == 0) {
        vmdb_db *w;
        vmdb_db_options o = {.durability = VMDB_DURABILITY_SYNC};
        if (vmdb_open(db, &o, &w) < 0)
            _exit(1);
        vmdb__apply_test_hook = die_mid_apply;
        vmdb_exec(w, "UPDATE t SET n = 5", NULL, NULL);
        _exit(2);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer did not die mid-apply");
    /* The shell it opened for that is still read-only, as it was told. */
    cli_result *r = vmdb("shell --readonly '%s' -csv \"INSERT INTO t VALUES (3, 'x', 0, TRUE, "
                         "'0x', 0); SELECT n FROM t ORDER BY id\"",
                         db);
    cr_assert_eq(r->status, 2, "%s", r->err);
    ASSERT_CONTAINS(r->err, "opened read-only");
    cr_assert_str_eq(r->out, "n\n5\n5\n");
    remove_test_dir();
}
