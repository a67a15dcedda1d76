/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cli_sqlq.c - issue 14's query language through the `vmdb`
 * command as a black box: floats print as `vmdb get` and `export` print
 * them, EXPLAIN prints what --explain prints, names in any case, and what
 * is not supported is said so on stderr with exit status 2.
 */
#include <stdarg.h>

#include "cli_helpers.h"

TestSuite(cli_sqlq, .timeout = SUITE_TIMEOUT);

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

static void make_items(void)
{
    snprintf(db, sizeof db, "%s", test_path("items.db"));
    vmdb_db *d;
    vmdb_db_options o = VMDB_DB_OPTIONS_INIT;
    o.flags = VMDB_DB_CREATE;
    ASSERT_OK(vmdb_open(db, &o, &d));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u32 key, name:str16, price:f64, small:f32", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(d, "items", s, &t));
    vmdb_schema_free(s);
    ASSERT_OK(vmdb_exec(d,
                        "INSERT INTO items VALUES (1, 'mug', 500.0, 0.1), "
                        "(2, 'kettle', 1000, 1e-5), (3, 'spoon', 0.1, 3.5)",
                        NULL, NULL));
    vmdb_close(d);
}

Test(cli_sqlq, query_get_and_export_print_one_float_text)
{
    make_items();
    cli_result *r = vmdb("query '%s' \"SELECT price, small FROM items WHERE id = 1\" --format csv",
                         db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert_str_eq(r->out, "price,small\n500,0.1\n");
    r = vmdb("get '%s' items 1 --format csv", db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert_str_eq(r->out, "id,name,price,small\n1,mug,500,0.1\n");
    r = vmdb("export '%s' items --format csv", db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    ASSERT_CONTAINS(r->out, "2,kettle,1000,1e-05\n");
    r = vmdb("query '%s' \"SELECT 500.0, 1000.0, 1e300, price * 2 FROM items WHERE id = 2\" "
             "--format csv",
             db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert_str_eq(r->out, "500.0,1000.0,1e300,price * 2\n500,1000,1e+300,2000\n");
    remove_test_dir();
}

Test(cli_sqlq, explain_prints_what_the_explain_option_prints)
{
    make_items();
    /* No comma in the plan's lines, which CSV would quote. */
    const char *sql = "SELECT name FROM items WHERE id = 3 ORDER BY name";
    cli_result *r = vmdb("query --explain '%s' \"%s\"", db, sql);
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert_lt(strlen(r->out), 4000);
    char plan[4096] = "plan\n";
    strcat(plan, r->out);
    r = vmdb("query '%s' \"EXPLAIN QUERY PLAN %s\" --format csv", db, sql);
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert_str_eq(r->out, plan);
    ASSERT_CONTAINS(r->out, "index lookup on items.id (1 key)\n");
    /* EXPLAIN of a write writes nothing. */
    r = vmdb("query '%s' \"explain DELETE FROM items\" --format csv", db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    ASSERT_CONTAINS(r->out, "delete from items\n");
    r = vmdb("query '%s' \"SELECT COUNT(*) FROM items\" --format csv", db);
    cr_assert_str_eq(r->out, "COUNT(*)\n3\n");
    remove_test_dir();
}

Test(cli_sqlq, names_in_any_case_and_what_is_not_supported)
{
    make_items();
    cli_result *r = vmdb("query '%s' \"select NAME from ITEMS where Id = '2'\" --format csv", db);
    cr_assert_eq(r->status, 0, "%s", r->err);
    cr_assert_str_eq(r->out, "NAME\nkettle\n");
    r = vmdb("query '%s' \"SELECT * FROM items JOIN items\"", db);
    cr_assert_eq(r->status, 2);
    cr_assert_str_eq(r->err, "vmdb: JOIN is not supported: a statement reads one table (col 21)\n");
    r = vmdb("query '%s' \"SELECT name FROM items UNION SELECT name FROM items\"", db);
    cr_assert_eq(r->status, 2);
    cr_assert_str_eq(r->err, "vmdb: UNION is not supported (col 24)\n");
    remove_test_dir();
}
