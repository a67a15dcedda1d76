/* A SELECT prepared on handle A; through handle B (same process; another
 * process is the same) its table is dropped and made again with another
 * schema; A's statement is then bound and stepped. A statement with a
 * parameter is planned again at its run, against the new table, while its
 * columns (count, names, types) are still the old table's. */
#include "common.h"

int main(int argc, char **argv)
{
    vmdb_db *a = fresh_db("drop2");
    const char *sql = argc > 1 ? argv[1] : "SELECT * FROM people WHERE id > ?";
    const char *schema = argc > 2 ? argv[2] : "id:u32";
    vmdb_stmt *st;
    CHECK(vmdb_prepare(a, sql, VMDB_SQL_NUL_TERMINATED, &st, NULL));
    printf("prepared: %d columns\n", vmdb_column_count(st));

    vmdb_db_options o = VMDB_DB_OPTIONS_INIT;
    vmdb_db *b;
    CHECK(vmdb_open(db_path, &o, &b));
    CHECK(vmdb_table_drop(b, "people"));
    vmdb_schema *s; vmdb_table *t;
    CHECK(vmdb_schema_parse(schema, &s));
    CHECK(vmdb_table_create(b, "people", s, &t));
    vmdb_schema_free(s);
    CHECK(vmdb_exec(b, "INSERT INTO people (id) VALUES (7)", NULL, NULL));
    CHECK(vmdb_close(b));

    if (vmdb_bind_count(st))
        printf("bind: %d\n", vmdb_bind_i64(st, 1, 0));
    int rc;
    while ((rc = vmdb_step(st)) == VMDB_ROW) {
        for (int i = 0; i < vmdb_column_count(st); i++) {
            const char *txt;
            int r = vmdb_column_text(st, i, &txt, NULL);
            printf(" %s=%s", vmdb_column_name(st, i), r == 0 ? txt : "?");
        }
        printf("\n");
    }
    printf("step: %d %s\n", rc, rc < 0 ? vmdb_last_error()->message : "");
    vmdb_finalize(st);
    CHECK(vmdb_close(a));
    cleanup_db();
    return 0;
}
