/* Text parameters with an embedded NUL, invalid UTF-8, no NUL at all,
 * and a statement text that is not NUL-terminated; deep nesting and a
 * long IN list. */
#include "common.h"

#define SHOW(expr) do { long r_ = (long)(expr); printf("%-60s -> %ld %s\n", #expr, r_, r_ < 0 ? vmdb_last_error()->message : ""); } while (0)

static int show_row(void *ctx, vmdb_stmt *st)
{
    (void)ctx;
    for (int i = 0; i < vmdb_column_count(st); i++) {
        const char *t; size_t n;
        vmdb_column_text(st, i, &t, &n);
        printf("   [%zu]", n);
        for (size_t k = 0; k < n; k++) printf(t[k] >= 32 && t[k] < 127 ? "%c" : "\\x%02x", (unsigned char)t[k]);
    }
    printf("\n");
    return 0;
}

int main(void)
{
    vmdb_db *db = fresh_db("text");
    vmdb_stmt *st;
    CHECK(vmdb_prepare(db, "INSERT INTO people VALUES (?, ?, 1)", VMDB_SQL_NUL_TERMINATED, &st, NULL));
    CHECK(vmdb_bind_i64(st, 1, 10));
    SHOW(vmdb_bind_text(st, 2, "ab\0cd", 5));
    SHOW(vmdb_step(st));
    vmdb_reset(st);
    CHECK(vmdb_bind_i64(st, 1, 11));
    SHOW(vmdb_bind_text(st, 2, "\xff\xfe\xc3", 3));
    SHOW(vmdb_step(st));
    vmdb_reset(st);
    CHECK(vmdb_bind_i64(st, 1, 12));
    char *exact = malloc(16); memset(exact, 'z', 16); /* no NUL */
    SHOW(vmdb_bind_text(st, 2, exact, 16));
    SHOW(vmdb_step(st));
    vmdb_reset(st);
    CHECK(vmdb_bind_i64(st, 1, 13));
    char *huge = malloc(1 << 20); memset(huge, 'h', (1 << 20) - 1); huge[(1 << 20) - 1] = 0;
    SHOW(vmdb_bind_text(st, 2, huge, VMDB_SQL_NUL_TERMINATED));
    vmdb_finalize(st);
    SHOW(vmdb_exec(db, "SELECT id, name FROM people WHERE id >= 10", show_row, NULL));
    CHECK(vmdb_prepare(db, "SELECT id FROM people WHERE name = ?", VMDB_SQL_NUL_TERMINATED, &st, NULL));
    SHOW(vmdb_bind_text(st, 1, "ab\0cd", 5));
    SHOW(vmdb_step_all(st, show_row, NULL));
    SHOW(vmdb_bind_text(st, 1, "ab", 2));
    SHOW(vmdb_step_all(st, show_row, NULL));
    SHOW(vmdb_bind_text(st, 1, huge, VMDB_SQL_NUL_TERMINATED));
    SHOW(vmdb_step_all(st, show_row, NULL));
    vmdb_finalize(st);
    CHECK(vmdb_prepare(db, "SELECT id FROM people WHERE name LIKE ?", VMDB_SQL_NUL_TERMINATED, &st, NULL));
    SHOW(vmdb_bind_text(st, 1, huge, VMDB_SQL_NUL_TERMINATED));
    SHOW(vmdb_step_all(st, show_row, NULL));
    SHOW(vmdb_bind_text(st, 1, "%\xff%", 3));
    SHOW(vmdb_step_all(st, show_row, NULL));
    vmdb_finalize(st);

    /* statement text without a NUL, exactly len bytes */
    const char *q = "SELECT name FROM people WHERE id = 1";
    size_t ql = strlen(q);
    char *nonul = malloc(ql); memcpy(nonul, q, ql);
    SHOW(vmdb_prepare(db, nonul, ql, &st, NULL)); vmdb_finalize(st);
    const char *tail;
    SHOW(vmdb_prepare(db, nonul, ql, &st, &tail)); vmdb_finalize(st);
    SHOW(vmdb_prepare(db, nonul, ql - 3, &st, NULL)); /* "... id " */
    memcpy(nonul, "SELECT 'unterminated string here xxxxx", ql);
    SHOW(vmdb_prepare(db, nonul, ql, &st, NULL));
    SHOW(vmdb_prepare(db, nonul, ql, &st, &tail));
    SHOW(vmdb_sql_kind(nonul, ql, NULL));
    SHOW(vmdb_sql_statement_length(nonul, ql));
    SHOW(vmdb_sql_is_blank(nonul, ql));
    memcpy(nonul, "SELECT name FROM people WHERE name ", ql - 1); nonul[ql - 1] = '\xff';
    SHOW(vmdb_prepare(db, nonul, ql, &st, NULL));
    memcpy(nonul, "-- a comment without any newline xxxx", ql);
    SHOW(vmdb_prepare(db, nonul, ql, &st, &tail));
    SHOW(vmdb_sql_is_blank(nonul, ql));
    free(nonul);
    SHOW(vmdb_prepare(db, "SELECT name FROM people WHERE id = 1\0 garbage", 46, &st, NULL));
    SHOW(vmdb_prepare(db, "SELECT 'a\0b'", 13, &st, NULL));
    if (st) { SHOW(vmdb_step_all(st, show_row, NULL)); vmdb_finalize(st); }
    SHOW(vmdb_prepare(db, "SELECT \xc3\xa9t\xe9 FROM people", VMDB_SQL_NUL_TERMINATED, &st, NULL));

    /* depth: 1000 levels allowed, then an error; a huge text */
    size_t n = 200000;
    char *deep = malloc(n * 2 + 64);
    strcpy(deep, "SELECT ");
    size_t at = 7;
    for (size_t i = 0; i < n; i++) deep[at++] = '(';
    deep[at++] = '1';
    for (size_t i = 0; i < n; i++) deep[at++] = ')';
    deep[at] = 0;
    SHOW(vmdb_exec(db, deep, NULL, NULL));
    at = 7;
    for (size_t i = 0; i < n; i++) deep[at++] = '-';
    deep[at++] = '1'; deep[at] = 0;
    SHOW(vmdb_exec(db, deep, NULL, NULL));
    at = 7;
    for (size_t i = 0; i < n; i++) { deep[at++] = 'N'; deep[at++] = 'O'; deep[at++] = 'T'; deep[at++] = ' '; if (at > n * 2) break; }
    strcpy(deep + at, "TRUE");
    SHOW(vmdb_exec(db, deep, NULL, NULL));
    free(deep);
    size_t m = 2000000;
    char *in = malloc(m * 8 + 64);
    at = (size_t)sprintf(in, "SELECT COUNT(*) FROM people WHERE id IN (");
    for (size_t i = 0; i < m; i++) at += (size_t)sprintf(in + at, "%zu,", i);
    in[at - 1] = ')'; in[at] = 0;
    SHOW(vmdb_exec(db, in, show_row, NULL));
    free(in);
    free(huge); free(exact);
    CHECK(vmdb_close(db));
    cleanup_db();
    return 0;
}
