/* SPDX-License-Identifier: MIT */
/*
 * tests/test_sql_lang.c - the SQL a sqlite3 user reaches for (issue 14),
 * through the public API (vmdb/query.h) only: LIKE with ESCAPE, one float
 * formatter, names in any case, bool against integers, quoted numbers,
 * DISTINCT, HAVING, aliases, LIMIT's two forms, scalar functions, CAST,
 * ||, the messages of what is not supported, and EXPLAIN.
 */
#include <math.h>

#include "helpers.h"

TestSuite(sql_lang, .timeout = SUITE_TIMEOUT);

static vmdb_db *open_db(void)
{
    vmdb_db *db;
    vmdb_db_options opts = VMDB_DB_OPTIONS_INIT;
    opts.flags = VMDB_DB_CREATE;
    ASSERT_OK(vmdb_open(test_path("lang.db"), &opts, &db));
    return db;
}

static void make_table(vmdb_db *db, const char *name, const char *schema_text)
{
    vmdb_schema *schema;
    ASSERT_OK(vmdb_schema_parse(schema_text, &schema));
    vmdb_table *table;
    ASSERT_OK(vmdb_table_create(db, name, schema, &table));
    vmdb_schema_free(schema);
}

typedef struct rows_buf {
    char text[16384];
    size_t len;
} rows_buf;

/* Each row's cells as vmdb_column_text gives them, '|' between cells and
 * '\n' after each row. */
static int add_row(void *ctx, vmdb_stmt *stmt)
{
    rows_buf *b = ctx;
    for (int i = 0; i < vmdb_column_count(stmt); i++) {
        const char *text;
        ASSERT_OK(vmdb_column_text(stmt, i, &text, NULL));
        int n = snprintf(b->text + b->len, sizeof b->text - b->len, "%s%s", i ? "|" : "", text);
        cr_assert(n >= 0 && (size_t)n < sizeof b->text - b->len, "rows too long");
        b->len += (size_t)n;
    }
    cr_assert(b->len + 1 < sizeof b->text);
    b->text[b->len++] = '\n';
    b->text[b->len] = '\0';
    return 0;
}

static const char *rows_of(vmdb_db *db, const char *sql)
{
    static rows_buf b;
    b.len = 0;
    b.text[0] = '\0';
    int rc = vmdb_exec(db, sql, add_row, &b);
    cr_assert_eq(rc, 0, "%s: %s", sql, vmdb_last_error()->message);
    return b.text;
}

#define EXPECT_ROWS(db, sql, want)                                             \
    do {                                                                       \
        const char *got_ = rows_of((db), (sql));                               \
        cr_assert_str_eq(got_, (want), "%s\ngot:\n%s\nwanted:\n%s", (sql), got_, (want)); \
    } while (0)

/* The statement must fail at prepare or run with code and a message
 * holding needle. */
static void expect_error(vmdb_db *db, const char *sql, int code, const char *needle)
{
    rows_buf b = {0};
    vmdb_error_clear();
    int rc = vmdb_exec(db, sql, add_row, &b);
    cr_assert_eq(rc, code, "%s -> %d (%s), wanted %d", sql, rc, vmdb_last_error()->message,
                 code);
    cr_assert(strstr(vmdb_last_error()->message, needle), "%s: message \"%s\" lacks \"%s\"",
              sql, vmdb_last_error()->message, needle);
}

/* ---- LIKE with ESCAPE ----------------------------------------------------- */

static vmdb_db *words_db(void)
{
    vmdb_db *db = open_db();
    make_table(db, "w", "id:u32 key, s:str16");
    ASSERT_OK(vmdb_exec(db,
                        "INSERT INTO w VALUES (1, '%c'), (2, 'xc'), (3, 'ab%'), (4, 'abc'), "
                        "(5, 'ab_'), (6, 'é%'), (7, 'éx')",
                        NULL, NULL));
    return db;
}

/* The WHERE form (which the planner may reduce to a memcmp) and the
 * select-list form (always the general matcher) must agree. */
static void like_both_ways(vmdb_db *db, const char *pred, const char *want_ids)
{
    char sql[512], want[256] = "";
    snprintf(sql, sizeof sql, "SELECT id FROM w WHERE %s ORDER BY id", pred);
    for (const char *p = want_ids; *p; p++) {
        size_t n = strlen(want);
        if (*p == ',')
            continue;
        snprintf(want + n, sizeof want - n, "%c\n", *p);
    }
    EXPECT_ROWS(db, sql, want);
    snprintf(sql, sizeof sql, "SELECT id, %s FROM w ORDER BY id", pred);
    const char *got = rows_of(db, sql);
    for (char id = '1'; id <= '7'; id++) {
        char line[32];
        snprintf(line, sizeof line, "%c|%s\n", id, strchr(want_ids, id) ? "true" : "false");
        cr_assert(strstr(got, line), "%s: no line %s in\n%s", sql, line, got);
    }
}

Test(sql_lang, like_escape_respected_by_the_wherefast_path_and_the_select_list)
{
    vmdb_db *db = words_db();
    /* '%' escaping '%': the literal "%c", no wildcard at all. */
    like_both_ways(db, "s LIKE '%%c' ESCAPE '%'", "1");
    like_both_ways(db, "s NOT LIKE '%%c' ESCAPE '%'", "2,3,4,5,6,7");
    /* An escaped '%' at the end and a real one at the start. */
    like_both_ways(db, "s LIKE '%!%' ESCAPE '!'", "3,6");
    like_both_ways(db, "s LIKE 'ab!%' ESCAPE '!'", "3");
    like_both_ways(db, "s LIKE '%c'", "1,2,4");
    /* '_' as the escape: '__' is a literal '_'. */
    like_both_ways(db, "s LIKE 'ab__' ESCAPE '_'", "5");
    like_both_ways(db, "s LIKE '%__' ESCAPE '_'", "5");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_lang, an_escape_at_the_end_of_a_pattern_stands_for_itself)
{
    vmdb_db *db = words_db();
    /* 'ab_' ESCAPE '_' is the text "ab_", not "ab" and any character. */
    like_both_ways(db, "s LIKE 'ab_' ESCAPE '_'", "5");
    like_both_ways(db, "s LIKE 'ab%' ESCAPE '%'", "3");
    like_both_ways(db, "s LIKE '%b%' ESCAPE '%'", "");
    EXPECT_ROWS(db, "SELECT 'ab!' LIKE 'ab!' ESCAPE '!', 'abc' LIKE 'ab!' ESCAPE '!'",
                "true|false\n");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_lang, an_escape_of_several_utf8_bytes_is_one_character)
{
    vmdb_db *db = words_db();
    like_both_ways(db, "s LIKE '%é%' ESCAPE 'é'", "3,6");
    like_both_ways(db, "s LIKE 'éé%' ESCAPE 'é'", "6,7");
    like_both_ways(db, "s LIKE 'éé_' ESCAPE 'é'", "6,7");
    like_both_ways(db, "s LIKE 'ééé%' ESCAPE 'é'", "6");
    expect_error(db, "SELECT id FROM w WHERE s LIKE 'a' ESCAPE 'éx'", VMDB_ESYNTAX,
                 "ESCAPE takes one character");
    expect_error(db, "SELECT id FROM w WHERE s LIKE 'a' ESCAPE ''", VMDB_ESYNTAX,
                 "ESCAPE takes one character");
    vmdb_close(db);
    remove_test_dir();
}

/* ---- one float text ------------------------------------------------------- */

static uint64_t next_random(uint64_t *state)
{
    /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The text the SQL gives for d stored in an f64 (and f32) field, the text
 * vmdb_record_format_text gives (vmdb get, export): the same, the
 * shortest that reads back as the same bits, and never in exponent form
 * where a plain number is as short. */
static void check_float_text(vmdb_db *db, vmdb_table *t, double d)
{
    const vmdb_schema *s = vmdb_table_schema(t);
    unsigned char rec[64] = {0};
    ASSERT_OK(vmdb_record_set_u64(s, rec, 0, 1));
    ASSERT_OK(vmdb_record_set_f64(s, rec, 1, d));
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, rec, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    char stored[64];
    size_t len;
    ASSERT_OK(vmdb_record_format_text(s, rec, 1, stored, sizeof stored, &len));
    vmdb_stmt *stmt;
    ASSERT_OK(vmdb_prepare(db, "SELECT f FROM nums", VMDB_SQL_NUL_TERMINATED, &stmt, NULL));
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    const char *text;
    ASSERT_OK(vmdb_column_text(stmt, 0, &text, NULL));
    cr_assert_str_eq(text, stored, "%a: SQL says %s, the record text %s", d, text, stored);
    double back = strtod(text, NULL);
    cr_assert(memcmp(&back, &d, sizeof d) == 0, "%a printed %s, which reads back as %a", d,
              text, back);
    /* Shortest: one digit fewer does not read back (when there are two). */
    char shorter[64], sig[64];
    size_t n = 0;
    for (const char *p = text; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && (n || *p != '0'))
            sig[n++] = *p;
    while (n && sig[n - 1] == '0')
        n--;
    int digits = (int)n;
    if (digits > 1 && isfinite(d) && d != 0) {
        snprintf(shorter, sizeof shorter, "%.*e", digits - 2, d);
        cr_assert_neq(strtod(shorter, NULL), d, "%a: %s is shorter than %s", d, shorter, text);
    }
    vmdb_finalize(stmt);
}

Test(sql_lang, floats_print_as_the_shortest_text_that_reads_back)
{
    vmdb_db *db = open_db();
    make_table(db, "nums", "id:u64 key, f:f64");
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "nums", NULL, &t));
    static const struct {
        double d;
        const char *text;
    } fixed[] = {{500.0, "500"},       {1000.0, "1000"},   {0.1, "0.1"},
                 {1e300, "1e+300"},    {-0.0, "-0"},       {0.0, "0"},
                 {1e15, "1000000000000000"}, {1e16, "1e+16"}, {0.0001, "0.0001"},
                 {1e-5, "1e-05"},      {-2.5, "-2.5"},     {4.9406564584124654e-324, "5e-324"},
                 {2.2250738585072009e-308, "2.225073858507201e-308"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        check_float_text(db, t, fixed[i].d);
        char want[64];
        snprintf(want, sizeof want, "%s\n", fixed[i].text);
        EXPECT_ROWS(db, "SELECT f FROM nums", want);
    }
    uint64_t state = test_seed(14);
    for (int i = 0; i < 2000; i++) {
        uint64_t bits = next_random(&state);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d))
            continue;
        check_float_text(db, t, d);
        /* And numbers of the sizes people write. */
        check_float_text(db, t, (double)(int64_t)(bits % 2000001) / 100.0 - 10000.0);
    }
    EXPECT_ROWS(db, "SELECT 500.0, 1000.0, 1e300, 0.5 * 2", "500|1000|1e+300|1\n");
    vmdb_close(db);
    remove_test_dir();
}
