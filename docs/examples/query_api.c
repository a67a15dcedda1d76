/* SPDX-License-Identifier: MIT */
/*
 * docs/examples/query_api.c - the SQL from C (docs/sql.md, "SQL from C"):
 * a table made, rows inserted with parameters, read back row by row and
 * through a callback, a plan explained, an error reported.
 *
 *     cc -std=c11 query_api.c $(pkg-config --cflags --libs vmdb) -o query_api
 *     ./query_api /tmp/shop.db
 *
 * `make test-readme` builds it against build/libvmdb.a, runs it and
 * compares what it prints with docs/examples/query_api.out.
 */
#include <stdio.h>
#include <stdlib.h>

#include <vmdb.h>

static int fail(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, vmdb_last_error()->message);
    return 1;
}

/* vmdb_exec's callback: one line per row, every value as text. */
static int print_row(void *ctx, vmdb_stmt *stmt)
{
    (void)ctx;
    for (int i = 0; i < vmdb_column_count(stmt); i++) {
        const char *text;
        if (vmdb_column_text(stmt, i, &text, NULL) < 0)
            return -1;
        printf("%s%s=%s", i ? " " : "  ", vmdb_column_name(stmt, i), text);
    }
    printf("\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DB\n", argv[0]);
        return 2;
    }
    vmdb_db_options opts = VMDB_DB_OPTIONS_INIT;
    opts.flags = VMDB_DB_CREATE;
    vmdb_db *db;
    if (vmdb_open(argv[1], &opts, &db) < 0)
        return fail("open");
    vmdb_schema *schema;
    vmdb_table *table;
    if (vmdb_schema_parse("sku:u32, name:str24, price:f64, stock:u16", &schema) < 0 ||
        vmdb_table_create(db, "items", schema, &table) < 0)
        return fail("create");
    vmdb_schema_free(schema);

    /* One prepared INSERT, run once per item with new values. */
    static const struct { unsigned sku; const char *name; double price; int stock; } items[] = {
        {101, "kettle", 24.5, 12}, {102, "teapot", 18, 0}, {103, "mug", 4.25, 140}};
    vmdb_stmt *insert;
    if (vmdb_prepare(db, "INSERT INTO items VALUES (?, ?, ?, ?)", VMDB_SQL_NUL_TERMINATED,
                     &insert, NULL) < 0)
        return fail("prepare");
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        vmdb_reset(insert);
        if (vmdb_bind_i64(insert, 1, items[i].sku) < 0 ||
            vmdb_bind_text(insert, 2, items[i].name, VMDB_SQL_NUL_TERMINATED) < 0 ||
            vmdb_bind_double(insert, 3, items[i].price) < 0 ||
            vmdb_bind_i64(insert, 4, items[i].stock) < 0 || vmdb_step(insert) != VMDB_DONE)
            return fail("insert");
    }
    printf("inserted %zu items\n", sizeof items / sizeof items[0]);
    vmdb_finalize(insert);

    /* Rows one at a time, each column read with its type. */
    vmdb_stmt *query;
    if (vmdb_prepare(db, "SELECT name, price * stock AS worth FROM items WHERE stock > ? "
                         "ORDER BY worth DESC",
                     VMDB_SQL_NUL_TERMINATED, &query, NULL) < 0 ||
        vmdb_bind_i64(query, 1, 0) < 0)
        return fail("query");
    int rc;
    while ((rc = vmdb_step(query)) == VMDB_ROW) {
        const char *name;
        double worth;
        vmdb_column_text(query, 0, &name, NULL);
        vmdb_column_double(query, 1, &worth);
        printf("%s in stock: worth %.2f\n", name, worth);
    }
    if (rc != VMDB_DONE)
        return fail("step");

    /* The plan, into a buffer sized as snprintf sizes it. */
    char plan[256];
    if (vmdb_explain(query, plan, sizeof plan) < 0)
        return fail("explain");
    printf("plan:\n%s", plan);
    vmdb_finalize(query);

    /* Several statements in one text, rows through a callback. */
    if (vmdb_exec(db, "UPDATE items SET stock = stock - 1 WHERE sku = 103; "
                      "SELECT sku, name, stock FROM items WHERE name LIKE '%t%'",
                  print_row, NULL) < 0)
        return fail("exec");

    /* Errors name what is at fault, and where. */
    if (vmdb_exec(db, "SELECT nmae FROM items", print_row, NULL) < 0)
        printf("error %s: %s\n", vmdb_error_name(vmdb_last_error()->code),
               vmdb_last_error()->message);

    if (vmdb_close(db) < 0)
        return fail("close");
    return 0;
}
