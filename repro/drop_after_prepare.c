/* A SELECT prepared, its table dropped through the same handle, then
 * stepped. vmdb_table_drop says "this handle's vmdb_table for it dies";
 * the statement's plan still holds it. Expect: a clean error. */
#include "common.h"

int main(int argc, char **argv)
{
    vmdb_db *db = fresh_db("drop");
    vmdb_stmt *st;
    const char *sql = argc > 1 ? argv[1] : "SELECT * FROM people";
    CHECK(vmdb_prepare(db, sql, VMDB_SQL_NUL_TERMINATED, &st, NULL));
    CHECK(vmdb_table_drop(db, "people"));
    if (argc > 2) { /* recreate with another schema */
        vmdb_schema *s; vmdb_table *t;
        CHECK(vmdb_schema_parse("id:u32", &s));
        CHECK(vmdb_table_create(db, "people", s, &t));
        vmdb_schema_free(s);
        CHECK(vmdb_exec(db, "INSERT INTO people VALUES (1)", NULL, NULL));
    }
    if (vmdb_bind_count(st) > 0)
        printf("bind: %d\n", vmdb_bind_i64(st, 1, 1));
    int rc = vmdb_step(st);
    printf("step: %d %s\n", rc, rc < 0 ? vmdb_last_error()->message : "");
    while (rc == VMDB_ROW) {
        const char *t;
        for (int i = 0; i < vmdb_column_count(st); i++)
            if (vmdb_column_text(st, i, &t, NULL) == 0) printf(" %s=%s", vmdb_column_name(st, i), t);
        printf("\n");
        rc = vmdb_step(st);
    }
    vmdb_finalize(st);
    CHECK(vmdb_close(db));
    cleanup_db();
    return 0;
}
