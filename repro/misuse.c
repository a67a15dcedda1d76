/* A tour of misuse: each line prints a call and what it returned, so that
 * a wrong code or a crash shows. Nothing here should crash or leak. */
#include "common.h"

#define SHOW(expr) do { long r_ = (long)(expr); printf("%-70s -> %ld %s\n", #expr, r_, r_ < 0 ? vmdb_last_error()->message : ""); } while (0)

static int count_rows(void *ctx, vmdb_stmt *s) { (void)s; ++*(int *)ctx; return 0; }

int main(void)
{
    vmdb_db *db = fresh_db("misuse");
    vmdb_stmt *st = NULL;
    const char *tail = NULL;
    int n = 0;
    SHOW(vmdb_prepare(NULL, "SELECT 1", VMDB_SQL_NUL_TERMINATED, &st, NULL));
    SHOW(vmdb_prepare(db, NULL, 0, &st, NULL));
    SHOW(vmdb_prepare(db, "SELECT 1", VMDB_SQL_NUL_TERMINATED, NULL, NULL));
    SHOW(vmdb_step(NULL));
    SHOW(vmdb_step_all(NULL, NULL, NULL));
    SHOW(vmdb_exec(db, NULL, NULL, NULL));
    SHOW(vmdb_exec(NULL, "SELECT 1", NULL, NULL));
    SHOW(vmdb_bind_i64(NULL, 1, 1));
    SHOW(vmdb_bind_text(NULL, 1, NULL, 0));
    SHOW(vmdb_column_count(NULL));
    SHOW(vmdb_column_name(NULL, 0) == NULL);
    SHOW(vmdb_column_type(NULL, 0));
    SHOW(vmdb_changes(NULL));
    SHOW(vmdb_stmt_kind(NULL));
    SHOW(vmdb_explain(NULL, NULL, 0));
    SHOW(vmdb_sql_kind(NULL, 0, NULL));
    SHOW(vmdb_sql_statement_length(NULL, 5));
    SHOW(vmdb_sql_is_blank(NULL, 5));
    vmdb_finalize(NULL);
    vmdb_reset(NULL);
    vmdb_sql_error_position(NULL);

    /* empty and odd texts */
    SHOW(vmdb_prepare(db, "", VMDB_SQL_NUL_TERMINATED, &st, NULL));
    SHOW(vmdb_prepare(db, "", VMDB_SQL_NUL_TERMINATED, &st, &tail)); printf("   st=%p\n", (void *)st);
    SHOW(vmdb_prepare(db, ";", VMDB_SQL_NUL_TERMINATED, &st, &tail)); printf("   st=%p tail=+%ld\n", (void *)st, (long)(tail ? tail - ";" : -1));
    SHOW(vmdb_exec(db, ";;;", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT 1;;;", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT 1; -- done", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT 1; garbage", NULL, NULL));
    SHOW(vmdb_exec(db, "-- only a comment", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT 1 -- no semicolon", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT ';' ; SELECT 2", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT 'unterminated", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT \"unterminated", NULL, NULL));
    SHOW(vmdb_prepare(db, "SELECT 1; SELECT 2", VMDB_SQL_NUL_TERMINATED, &st, NULL));
    SHOW(vmdb_prepare(db, "SELECT 1;", VMDB_SQL_NUL_TERMINATED, &st, NULL)); vmdb_finalize(st);
    SHOW(vmdb_prepare(db, "SELECT 1 ; -- c", VMDB_SQL_NUL_TERMINATED, &st, NULL)); vmdb_finalize(st);
    SHOW(vmdb_prepare(db, "SELECT 1 /* c */", VMDB_SQL_NUL_TERMINATED, &st, NULL)); vmdb_finalize(st);
    SHOW(vmdb_prepare(db, "SELECT 1", 0, &st, NULL));
    SHOW(vmdb_prepare(db, "SELECT 1", 0, &st, &tail)); printf("   st=%p\n", (void *)st);
    SHOW(vmdb_prepare(db, "SELECT 12345", 8, &st, NULL)); /* "SELECT 1" */
    if (st) { vmdb_step(st); const char *t; vmdb_column_text(st, 0, &t, NULL); printf("   value %s\n", t); vmdb_finalize(st); }
    SHOW(vmdb_prepare(db, "SELECT ?", VMDB_SQL_NUL_TERMINATED, &st, NULL));
    SHOW(vmdb_sql_kind("DELETE FROM x; garbage", VMDB_SQL_NUL_TERMINATED, &tail)); printf("   tail='%s'\n", tail);
    SHOW(vmdb_sql_kind("garbage", VMDB_SQL_NUL_TERMINATED, NULL));

    /* life of a statement */
    CHECK(vmdb_prepare(db, "SELECT id, name FROM people WHERE age > ? ORDER BY id", VMDB_SQL_NUL_TERMINATED, &st, NULL));
    SHOW(vmdb_step(st)); /* unbound */
    SHOW(vmdb_step(st)); /* after the error */
    SHOW(vmdb_bind_i64(st, 0, 1));
    SHOW(vmdb_bind_i64(st, -1, 1));
    SHOW(vmdb_bind_i64(st, 2, 1));
    SHOW(vmdb_bind_i64(st, 2147483647, 1));
    SHOW(vmdb_bind_i64(st, (int)0x80000000u, 1));
    SHOW(vmdb_bind_i64(st, 1, 300));
    SHOW(vmdb_bind_i64(st, 1, -1));
    SHOW(vmdb_bind_double(st, 1, 1e300));
    SHOW(vmdb_bind_double(st, 1, 0.0 / 0.0));
    SHOW(vmdb_bind_text(st, 1, "7", 1));
    SHOW(vmdb_bind_bool(st, 1, true));
    int64_t i; const char *t; size_t len;
    SHOW(vmdb_column_i64(st, 0, &i));
    SHOW(vmdb_column_text(st, 0, &t, &len));
    SHOW(vmdb_bind_i64(st, 1, 0));
    SHOW(vmdb_column_i64(st, -1, &i));
    SHOW(vmdb_column_i64(st, 2, &i));
    SHOW(vmdb_column_name(st, 2) == NULL);
    SHOW(vmdb_column_type(st, -1));
    SHOW(vmdb_step(st));
    SHOW(vmdb_column_i64(st, 0, &i)); printf("   id %lld\n", (long long)i);
    SHOW(vmdb_column_i64(st, 1, &i));
    SHOW(vmdb_column_bool(st, 0, &(bool){0}));
    SHOW(vmdb_column_u64(st, 0, &(uint64_t){0}));
    SHOW(vmdb_column_double(st, 1, &(double){0}));
    SHOW(vmdb_column_text(st, 1, &t, NULL)); printf("   name %s\n", t);
    SHOW(vmdb_bind_i64(st, 1, 35)); /* bind mid-iteration: resets */
    SHOW(vmdb_column_text(st, 1, &t, NULL));
    SHOW(vmdb_step(st));
    SHOW(vmdb_column_i64(st, 0, &i)); printf("   id %lld\n", (long long)i);
    vmdb_reset(st);
    SHOW(vmdb_column_i64(st, 0, &i));
    while (vmdb_step(st) == VMDB_ROW) {}
    SHOW(vmdb_step(st)); /* after done */
    SHOW(vmdb_step(st));
    SHOW(vmdb_column_i64(st, 0, &i));
    SHOW(vmdb_step_all(st, count_rows, &n)); printf("   rows %d\n", n);
    SHOW(vmdb_step_all(st, NULL, NULL));
    char buf[8];
    SHOW(vmdb_explain(st, NULL, 0));
    SHOW(vmdb_explain(st, NULL, 5));
    SHOW(vmdb_explain(st, buf, 1)); printf("   buf='%s'\n", buf);
    SHOW(vmdb_explain(st, buf, sizeof buf)); printf("   buf='%s'\n", buf);
    SHOW(vmdb_changes(st));
    SHOW(vmdb_stmt_kind(st));
    vmdb_finalize(st);

    /* write statements */
    CHECK(vmdb_prepare(db, "UPDATE people SET age = age + ? WHERE id = ?", VMDB_SQL_NUL_TERMINATED, &st, NULL));
    SHOW(vmdb_bind_i64(st, 1, 1));
    SHOW(vmdb_bind_i64(st, 2, 1));
    SHOW(vmdb_step(st));
    SHOW(vmdb_changes(st));
    SHOW(vmdb_step(st));
    SHOW(vmdb_changes(st));
    SHOW(vmdb_bind_i64(st, 1, 250));
    SHOW(vmdb_step(st));
    SHOW(vmdb_changes(st));
    SHOW(vmdb_column_count(st));
    SHOW(vmdb_explain(st, NULL, 0));
    vmdb_finalize(st);
    SHOW(vmdb_exec(db, "INSERT INTO people VALUES (1, 'dup', 1)", NULL, NULL));
    SHOW(vmdb_exec(db, "INSERT INTO people VALUES (9, 'x', 1), (9, 'y', 2)", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT 1/0", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT id FROM people WHERE 1/(id-2) > 0", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT 18446744073709551615 + 1", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT -9223372036854775808 - 1", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT -(-9223372036854775807 - 1) * -1", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT 99999999999999999999999", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT nmae FROM people", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT name FROM peeple", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT name\nFROM people\nWHERE agee > 3", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT name FROM people WHERE name > 3", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT COUNT(*) FROM people LIMIT 99999999999999999999", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT id FROM people LIMIT 70000 OFFSET 70000", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT id FROM people ORDER BY 3", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT id FROM people ORDER BY 0", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT id FROM people ORDER BY -1", NULL, NULL));
    n = 0;
    SHOW(vmdb_exec(db, "SELECT MIN(age) FROM people WHERE id > 100", count_rows, &n)); printf("   rows %d\n", n);
    SHOW(vmdb_exec(db, "SELECT id FROM people WHERE name LIKE 'a' ESCAPE 'xy'", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT id FROM people WHERE name LIKE 'a' ESCAPE ''", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT id FROM people WHERE id IN ()", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT * , * FROM people", NULL, NULL));
    SHOW(vmdb_exec(db, "SELECT COUNT(*) FROM people GROUP BY age ORDER BY name", NULL, NULL));
    SHOW(vmdb_exec(db, "UPDATE people SET id = 2 WHERE id = 1", NULL, NULL));
    SHOW(vmdb_exec(db, "UPDATE people SET id = id + 1", NULL, NULL));
    SHOW(vmdb_exec(db, "UPDATE people SET nope = 1", NULL, NULL));
    SHOW(vmdb_exec(db, "DELETE FROM people WHERE 1", NULL, NULL));
    SHOW(vmdb_exec(db, "INSERT INTO people (id, id) VALUES (5, 6)", NULL, NULL));
    SHOW(vmdb_exec(db, "INSERT INTO people (id) VALUES (5, 6)", NULL, NULL));
    SHOW(vmdb_exec(db, "INSERT INTO people VALUES (?)", NULL, NULL));
    n = 0;
    SHOW(vmdb_exec(db, "SELECT * FROM people", count_rows, &n)); printf("   rows %d\n", n);
    CHECK(vmdb_close(db));
    cleanup_db();
    return 0;
}
