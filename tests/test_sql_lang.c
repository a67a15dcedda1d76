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

/* ---- names in any case, bool against numbers, quoted numbers -------------- */

static vmdb_db *people_db(void)
{
    vmdb_db *db = open_db();
    make_table(db, "People", "id:u32 key, Name:str16, age:u8, city:str16, member:bool, "
                             "score:f64");
    ASSERT_OK(vmdb_exec(db,
                        "INSERT INTO People VALUES (1, 'Ann', 30, 'Paris', TRUE, 1.5), "
                        "(2, 'Bob', 25, 'Rome', FALSE, 2), (3, 'Cy', 30, 'Paris', TRUE, 500), "
                        "(4, 'Di', 41, 'Rome', TRUE, 0.1), (5, 'Ed', 25, 'Oslo', FALSE, 3)",
                        NULL, NULL));
    return db;
}

Test(sql_lang, keywords_tables_and_fields_in_any_case)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "select NAME from PEOPLE where AGE = 41", "Di\n");
    EXPECT_ROWS(db, "SeLeCt name, people.CITY FROM people WHERE ID IN (2, 5) ORDER BY Id",
                "Bob|Rome\nEd|Oslo\n");
    ASSERT_OK(vmdb_exec(db, "update PEOPLE set SCORE = 7 where id = 5", NULL, NULL));
    EXPECT_ROWS(db, "SELECT score FROM people WHERE id = 5", "7\n");
    /* The column is headed as the statement wrote it, as sqlite3 does. */
    vmdb_stmt *stmt;
    ASSERT_OK(vmdb_prepare(db, "SELECT NAME FROM people", VMDB_SQL_NUL_TERMINATED, &stmt, NULL));
    cr_assert_str_eq(vmdb_column_name(stmt, 0), "NAME");
    vmdb_finalize(stmt);
    expect_error(db, "SELECT nam FROM people", VMDB_ENOTFOUND, "People: no field 'nam'");
    expect_error(db, "SELECT 1 FROM peple", VMDB_ENOTFOUND, "no table 'peple'");
    /* Two names that differ in case alone: the exact one, or an error. */
    make_table(db, "people", "id:u32 key, a:u8, A:u16");
    EXPECT_ROWS(db, "SELECT COUNT(*) FROM People", "5\n");
    EXPECT_ROWS(db, "SELECT COUNT(*) FROM people", "0\n");
    expect_error(db, "SELECT COUNT(*) FROM PEOPLE", VMDB_EINVAL,
                 "'PEOPLE' is ambiguous: tables People and people differ only in case");
    EXPECT_ROWS(db, "SELECT a, A FROM people", "");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_lang, a_bool_compares_with_numbers_as_one_and_zero)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT id FROM people WHERE member = 1 ORDER BY id", "1\n3\n4\n");
    EXPECT_ROWS(db, "SELECT id FROM people WHERE member = 0 ORDER BY id", "2\n5\n");
    EXPECT_ROWS(db, "SELECT id FROM people WHERE 1 = member AND id > 3", "4\n");
    EXPECT_ROWS(db, "SELECT id FROM people WHERE member != 1 ORDER BY id", "2\n5\n");
    EXPECT_ROWS(db, "SELECT id FROM people WHERE member IN (0, 7) ORDER BY id", "2\n5\n");
    EXPECT_ROWS(db, "SELECT COUNT(*) FROM people WHERE member = 2", "0\n");
    EXPECT_ROWS(db, "SELECT TRUE = 1, FALSE = 0, TRUE > 0.5, TRUE = 2", "true|true|true|false\n");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_lang, a_quoted_number_beside_a_number_field_is_that_number)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT id FROM people WHERE age = '30' ORDER BY id", "1\n3\n");
    EXPECT_ROWS(db, "SELECT id FROM people WHERE '25' = age ORDER BY id", "2\n5\n");
    EXPECT_ROWS(db, "SELECT id FROM people WHERE id IN ('4', '5') ORDER BY id", "4\n5\n");
    EXPECT_ROWS(db, "SELECT id FROM people WHERE age BETWEEN '26' AND '40.5' ORDER BY id",
                "1\n3\n");
    EXPECT_ROWS(db, "SELECT id FROM people WHERE score > '2.5' ORDER BY id", "3\n5\n");
    /* Through the index: the key from the text. */
    EXPECT_ROWS(db, "SELECT name FROM people WHERE id = '3'", "Cy\n");
    expect_error(db, "SELECT id FROM people WHERE age = '30x'", VMDB_EINVAL,
                 "cannot compare integer with text '30x': it is not a number");
    expect_error(db, "SELECT id FROM people WHERE age = ' 30'", VMDB_EINVAL, "not a number");
    vmdb_close(db);
    remove_test_dir();
}

/* ---- DISTINCT, HAVING, aliases, LIMIT --------------------------------------- */

Test(sql_lang, select_distinct_drops_repeated_rows_before_offset_and_limit)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT DISTINCT city FROM people", "Paris\nRome\nOslo\n");
    EXPECT_ROWS(db, "SELECT DISTINCT age, member FROM people ORDER BY age DESC",
                "41|true\n30|true\n25|false\n");
    EXPECT_ROWS(db, "SELECT DISTINCT city FROM people ORDER BY city LIMIT 2 OFFSET 1",
                "Paris\nRome\n");
    EXPECT_ROWS(db, "SELECT DISTINCT city FROM people LIMIT 1 OFFSET 2", "Oslo\n");
    EXPECT_ROWS(db, "SELECT DISTINCT member FROM people WHERE age < 40 ORDER BY 1",
                "false\ntrue\n");
    EXPECT_ROWS(db, "SELECT DISTINCT COUNT(*) FROM people GROUP BY city ORDER BY 1", "1\n2\n");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_lang, count_distinct_and_having)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT COUNT(DISTINCT age), COUNT(DISTINCT city), COUNT(age) FROM people",
                "3|3|5\n");
    EXPECT_ROWS(db, "SELECT SUM(DISTINCT age), AVG(DISTINCT age) FROM people", "96|32\n");
    EXPECT_ROWS(db,
                "SELECT city, COUNT(*) AS n FROM people GROUP BY city HAVING COUNT(*) > 1 "
                "ORDER BY city",
                "Paris|2\nRome|2\n");
    /* HAVING may use an aggregate the list does not show. */
    EXPECT_ROWS(db, "SELECT city FROM people GROUP BY city HAVING MAX(age) > 35", "Rome\n");
    EXPECT_ROWS(db, "SELECT city FROM people GROUP BY city HAVING city != 'Paris' ORDER BY 1",
                "Oslo\nRome\n");
    EXPECT_ROWS(db, "SELECT COUNT(*) FROM people HAVING COUNT(*) > 9", "");
    /* An output's alias stands for its expression, as in sqlite; a field
     * of that name comes first. */
    EXPECT_ROWS(db, "SELECT city, COUNT(*) AS n, AVG(age) AS avg_age FROM people GROUP BY city "
                    "HAVING n > 1 AND avg_age < 35 ORDER BY n * 10 + length(city) DESC",
                "Paris|2|30\nRome|2|33\n");
    EXPECT_ROWS(db, "SELECT COUNT(*) AS age FROM people GROUP BY age HAVING age > 26", "2\n1\n");
    EXPECT_ROWS(db, "SELECT city AS c, COUNT(*) n FROM people GROUP BY city "
                    "ORDER BY -n, c DESC",
                "Rome|2\nParis|2\nOslo|1\n");
    expect_error(db, "SELECT name FROM people HAVING age > 3", VMDB_EINVAL,
                 "HAVING needs GROUP BY or an aggregate");
    expect_error(db, "SELECT city FROM people GROUP BY city HAVING age > 3", VMDB_EINVAL,
                 "People.age must be in GROUP BY or inside an aggregate");
    expect_error(db, "SELECT city FROM people GROUP BY city HAVING COUNT(*)", VMDB_EINVAL,
                 "HAVING needs a bool, not integer");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_lang, group_by_an_expression_an_alias_or_a_number)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT lower(city), COUNT(*) FROM people GROUP BY lower(city) ORDER BY 1",
                "oslo|1\nparis|2\nrome|2\n");
    EXPECT_ROWS(db, "SELECT age / 10 AS decade, COUNT(*) FROM people GROUP BY decade "
                    "ORDER BY decade",
                "2|2\n3|2\n4|1\n");
    EXPECT_ROWS(db, "SELECT member, COUNT(*) FROM people GROUP BY 1 ORDER BY 1",
                "false|2\ntrue|3\n");
    /* The same expression however its names are written. */
    EXPECT_ROWS(db, "SELECT substr(NAME, 1, 1) || '.', SUM(age) FROM people p "
                    "GROUP BY substr(p.name, 1, 1) || '.' ORDER BY 2 DESC LIMIT 2",
                "D.|41\nA.|30\n");
    EXPECT_ROWS(db, "SELECT COUNT(*) FROM people GROUP BY 'all'", "5\n");
    expect_error(db, "SELECT city, COUNT(*) FROM people GROUP BY lower(city)", VMDB_EINVAL,
                 "People.city must be in GROUP BY or inside an aggregate");
    expect_error(db, "SELECT COUNT(*) FROM people GROUP BY COUNT(*)", VMDB_EINVAL,
                 "COUNT is not allowed in GROUP BY");
    expect_error(db, "SELECT COUNT(*) AS n FROM people GROUP BY n", VMDB_EINVAL,
                 "GROUP BY cannot hold an aggregate");
    expect_error(db, "SELECT city FROM people GROUP BY 3", VMDB_EINVAL,
                 "GROUP BY 3: the result has 1 column");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_lang, aliases_of_columns_and_tables_and_order_by_alias_or_number)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT p.name AS who, age years FROM people AS p WHERE p.age > 29 "
                    "ORDER BY YEARS DESC, who",
                "Di|41\nAnn|30\nCy|30\n");
    EXPECT_ROWS(db, "SELECT x.id FROM people x WHERE X.city = 'Oslo'", "5\n");
    EXPECT_ROWS(db, "SELECT name, age * 2 AS twice FROM people ORDER BY 2, 1 LIMIT 2",
                "Bob|50\nEd|50\n");
    vmdb_stmt *stmt;
    ASSERT_OK(vmdb_prepare(db, "SELECT name AS who, age years FROM people p",
                           VMDB_SQL_NUL_TERMINATED, &stmt, NULL));
    cr_assert_str_eq(vmdb_column_name(stmt, 0), "who");
    cr_assert_str_eq(vmdb_column_name(stmt, 1), "years");
    vmdb_finalize(stmt);
    expect_error(db, "SELECT q.name FROM people p", VMDB_EINVAL, "'q.name': the table here is");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_lang, limit_with_offset_in_both_forms)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT id FROM people ORDER BY id LIMIT 2 OFFSET 1", "2\n3\n");
    EXPECT_ROWS(db, "SELECT id FROM people ORDER BY id LIMIT 1, 2", "2\n3\n");
    EXPECT_ROWS(db, "SELECT id FROM people ORDER BY id LIMIT 3, 10", "4\n5\n");
    EXPECT_ROWS(db, "SELECT id FROM people ORDER BY id LIMIT 9, 1", "");
    vmdb_close(db);
    remove_test_dir();
}

/* ---- what is not supported ------------------------------------------------ */

Test(sql_lang, what_is_not_supported_says_so_by_name)
{
    vmdb_db *db = people_db();
    static const struct {
        const char *sql, *message;
    } cases[] = {
        {"SELECT * FROM people JOIN people", "JOIN is not supported"},
        {"SELECT * FROM people p LEFT JOIN people q ON p.id = q.id", "JOIN is not supported"},
        {"SELECT * FROM people INNER JOIN people", "JOIN is not supported"},
        {"SELECT * FROM people, people", "JOIN is not supported"},
        {"SELECT * FROM people p CROSS JOIN people", "JOIN is not supported"},
        {"SELECT id FROM people UNION SELECT id FROM people", "UNION is not supported"},
        {"SELECT id FROM people EXCEPT SELECT 1", "EXCEPT is not supported"},
        {"SELECT 1 INTERSECT SELECT 1", "INTERSECT is not supported"},
        {"SELECT (SELECT 1)", "subqueries are not supported"},
        {"SELECT id FROM people WHERE id IN (SELECT id FROM people)",
         "subqueries are not supported"},
        {"SELECT id FROM people WHERE EXISTS (SELECT 1)", "subqueries are not supported"},
        {"WITH t AS (SELECT 1) SELECT * FROM t", "WITH is not supported"},
        {"SELECT CASE WHEN age > 3 THEN 1 END FROM people", "CASE is not supported"},
        {"SELECT name FROM people WHERE name IS NULL", "IS is not supported"},
        {"SELECT NULL", "NULL is not supported"},
        {"SELECT coalesce(name, 'x') FROM people", "COALESCE is not supported"},
        {"SELECT COUNT(*) OVER () FROM people", "window functions are not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vmdb_error_clear();
        int rc = vmdb_exec(db, cases[i].sql, NULL, NULL);
        cr_assert_lt(rc, 0, "%s ran", cases[i].sql);
        cr_assert(strstr(vmdb_last_error()->message, cases[i].message),
                  "%s: \"%s\" lacks \"%s\"", cases[i].sql, vmdb_last_error()->message,
                  cases[i].message);
        cr_assert(!strstr(vmdb_last_error()->message, "syntax error"), "%s: %s", cases[i].sql,
                  vmdb_last_error()->message);
    }
    /* A quoted name is a name, whatever its word, and so is a word of a
     * join where an expression starts. */
    make_table(db, "w", "id:u32 key, union:u8, join:u8, left:u8, full:u8");
    ASSERT_OK(vmdb_exec(db, "INSERT INTO w VALUES (1, 2, 3, 4, 5)", NULL, NULL));
    EXPECT_ROWS(db, "SELECT \"union\", \"JOIN\", left, full + 1 FROM w WHERE left = 4",
                "2|3|4|6\n");
    vmdb_close(db);
    remove_test_dir();
}

/* ---- EXPLAIN ---------------------------------------------------------------- */

Test(sql_lang, explain_prefixes_give_the_plan_as_rows_and_run_nothing)
{
    vmdb_db *db = people_db();
    const char *sql = "SELECT DISTINCT city FROM people WHERE id IN (1, 2) AND age > 3 "
                      "ORDER BY city LIMIT 5";
    vmdb_stmt *stmt;
    ASSERT_OK(vmdb_prepare(db, sql, VMDB_SQL_NUL_TERMINATED, &stmt, NULL));
    char plan[1024], want[1100] = "";
    long len = vmdb_explain(stmt, plan, sizeof plan);
    cr_assert(len > 0 && (size_t)len < sizeof plan);
    vmdb_finalize(stmt);
    /* The same lines, as rows, under both prefixes. */
    snprintf(want, sizeof want, "%s", plan);
    char explain[600];
    snprintf(explain, sizeof explain, "EXPLAIN %s", sql);
    EXPECT_ROWS(db, explain, want);
    snprintf(explain, sizeof explain, "explain query plan %s", sql);
    EXPECT_ROWS(db, explain, want);
    cr_assert(strstr(want, "index lookup on People.id (2 keys)\n"), "%s", want);
    cr_assert(strstr(want, "distinct rows\n"), "%s", want);
    ASSERT_OK(vmdb_prepare(db, "EXPLAIN DELETE FROM people", VMDB_SQL_NUL_TERMINATED, &stmt,
                           NULL));
    cr_assert_eq(vmdb_column_count(stmt), 1);
    cr_assert_str_eq(vmdb_column_name(stmt, 0), "plan");
    cr_assert_eq(vmdb_column_type(stmt, 0), VMDB_VALUE_TEXT);
    cr_assert_eq(vmdb_stmt_kind(stmt), VMDB_STMT_SELECT);
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    cr_assert_eq(vmdb_step(stmt), VMDB_ROW);
    cr_assert_eq(vmdb_step(stmt), VMDB_DONE);
    vmdb_finalize(stmt);
    /* Nothing was deleted. */
    EXPECT_ROWS(db, "SELECT COUNT(*) FROM people", "5\n");
    expect_error(db, "EXPLAIN QUERY SELECT 1", VMDB_ESYNTAX, "syntax error at 'SELECT'");
    vmdb_close(db);
    remove_test_dir();
}

/* ---- scalar functions, CAST, || ------------------------------------------- */

Test(sql_lang, text_functions_count_utf8_characters_as_sqlite_does)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT length('héllo'), length(''), length(name), length(12345) "
                    "FROM people WHERE id = 1",
                "5|0|3|5\n");
    EXPECT_ROWS(db, "SELECT lower('AbÉ'), upper('abé'), upper(name) FROM people WHERE id = 2",
                "abÉ|ABé|BOB\n");
    /* substr: 1-based, negative from the end, 0 the place before the first,
     * a negative count the characters before. */
    EXPECT_ROWS(db, "SELECT substr('héllo', 2, 3), substr('hello', -3), substr('hello', 0, 2), "
                    "substr('hello', 3, -2), substr('hello', 9), substr('hello', -9, 7), "
                    "substring('hello', 2)",
                "éll|llo|h|he||hel|ello\n");
    EXPECT_ROWS(db, "SELECT trim('  a b  ') || '|', ltrim('xyaxy', 'yx'), rtrim('xyaxy', 'yx'), "
                    "trim('ééaé', 'é'), trim('  ')",
                "a b||axy|xya|a|\n");
    EXPECT_ROWS(db, "SELECT replace('banana', 'an', 'AN'), replace('aaa', 'a', ''), "
                    "replace('abc', '', 'x'), replace('abc', 'abcd', 'x')",
                "bANANa||abc|abc\n");
    EXPECT_ROWS(db, "SELECT instr('héllo', 'l'), instr('hello', 'z'), instr('hello', ''), "
                    "instr('', 'a')",
                "3|0|1|0\n");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_lang, numeric_functions_abs_round_min_max)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT abs(-7), abs(7), abs(-2.5), abs(-9223372036854775807 - 1)",
                "7|7|2.5|9223372036854775808\n");
    /* round: half away from zero, always a float. */
    EXPECT_ROWS(db, "SELECT round(2.5), round(-2.5), round(0.4), round(7), round(1.25, 1), "
                    "round(-1.25, 1), round(1.2345, 3), round(12.5, -1)",
                "3|-3|0|7|1.3|-1.3|1.235|13\n");
    EXPECT_ROWS(db, "SELECT min(3, 1, 2), max(3, 1, 2), min(2, 1.5), max(1, 2, 0.5), "
                    "min('b', 'a', 'c'), max(TRUE, FALSE)",
                "1|3|1.5|2|a|true\n");
    EXPECT_ROWS(db, "SELECT name, max(age, 35) FROM people WHERE id <= 2 ORDER BY id",
                "Ann|35\nBob|35\n");
    vmdb_stmt *stmt;
    ASSERT_OK(vmdb_prepare(db, "SELECT max(1, 2.5), min(1, 2), round(3)",
                           VMDB_SQL_NUL_TERMINATED, &stmt, NULL));
    cr_assert_eq(vmdb_column_type(stmt, 0), VMDB_VALUE_FLOAT);
    cr_assert_eq(vmdb_column_type(stmt, 1), VMDB_VALUE_INT);
    cr_assert_eq(vmdb_column_type(stmt, 2), VMDB_VALUE_FLOAT);
    vmdb_finalize(stmt);
    /* MIN and MAX of one argument are still the aggregates. */
    EXPECT_ROWS(db, "SELECT min(age), max(age) FROM people", "25|41\n");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_lang, cast_takes_sqlite_and_vmdb_type_names)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT CAST('12abc' AS INTEGER), CAST('  -7' AS INT), CAST('abc' AS INTEGER), "
                    "CAST(3.9 AS INTEGER), CAST(-3.9 AS i64), CAST(TRUE AS INTEGER), "
                    "CAST('1.5x' AS INTEGER)",
                "12|-7|0|3|-3|1|1\n");
    EXPECT_ROWS(db, "SELECT CAST('2.5e1x' AS REAL), CAST(7 AS REAL), CAST('x' AS FLOAT), "
                    "CAST(age AS f64) / 2 FROM people WHERE id = 2",
                "25|7|0|12.5\n");
    EXPECT_ROWS(db, "SELECT CAST(42 AS TEXT), CAST(1.5 AS str8), CAST(500.0 AS TEXT), "
                    "length(CAST(12345 AS TEXT))",
                "42|1.5|500|5\n");
    EXPECT_ROWS(db, "SELECT CAST(0 AS BOOL), CAST(2 AS BOOLEAN), CAST('true' AS bool), "
                    "CAST('0' AS bool)",
                "false|true|true|false\n");
    EXPECT_ROWS(db, "SELECT CAST(255 AS u8), CAST(-128 AS i8)", "255|-128\n");
    /* f32: rounded to its precision, printed as an f32 field is. */
    EXPECT_ROWS(db, "SELECT CAST(0.1 AS f32), CAST(0.1 AS f32) = 0.1, CAST(16777217 AS f32)",
                "0.1|false|16777216\n");
    expect_error(db, "SELECT CAST(1e39 AS f32)", VMDB_ERANGE, "does not fit f32");
    expect_error(db, "SELECT CAST(256 AS u8)", VMDB_ERANGE, "CAST: 256 does not fit u8");
    expect_error(db, "SELECT CAST(-1 AS u64)", VMDB_ERANGE, "CAST: -1 does not fit u64");
    expect_error(db, "SELECT CAST(1e30 AS INTEGER)", VMDB_ERANGE, "does not fit INTEGER");
    expect_error(db, "SELECT CAST(1 AS blob)", VMDB_EINVAL, "CAST: unknown type 'blob'");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_lang, concatenation_and_functions_in_where_order_and_group)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT name || '@' || city || age FROM people WHERE id = 1",
                "Ann@Paris30\n");
    /* || binds tighter than *, as in sqlite: ('a' || 2) * 3, text times
     * a number. */
    expect_error(db, "SELECT 'a' || 2 * 3", VMDB_EINVAL, "cannot apply '*' to text and integer");
    EXPECT_ROWS(db, "SELECT 2 * length('a' || 3)", "4\n");
    EXPECT_ROWS(db, "SELECT 'x' || 1.5 || 500.0", "x1.5500\n");
    EXPECT_ROWS(db, "SELECT name FROM people WHERE lower(city) = 'rome' AND length(name) = 3 "
                    "ORDER BY name",
                "Bob\n");
    /* A sort on a function's text, with and without a LIMIT: every key
     * kept, not the last one computed. */
    EXPECT_ROWS(db, "SELECT name FROM people ORDER BY upper(city) || name DESC",
                "Di\nBob\nCy\nAnn\nEd\n");
    EXPECT_ROWS(db, "SELECT name FROM people ORDER BY upper(city) || name LIMIT 3",
                "Ed\nAnn\nCy\n");
    EXPECT_ROWS(db, "SELECT upper(city) AS c, COUNT(*) FROM people GROUP BY city ORDER BY c",
                "OSLO|1\nPARIS|2\nROME|2\n");
    EXPECT_ROWS(db, "SELECT DISTINCT substr(city, 1, 1) FROM people ORDER BY 1", "O\nP\nR\n");
    EXPECT_ROWS(db, "SELECT MAX(lower(name)), SUM(length(city)) FROM people", "ed|22\n");
    ASSERT_OK(vmdb_exec(db, "UPDATE people SET name = upper(name) || '!' WHERE id = 5", NULL,
                        NULL));
    EXPECT_ROWS(db, "SELECT name FROM people WHERE id = 5", "ED!\n");
    expect_error(db, "SELECT length(1, 2)", VMDB_EINVAL, "length takes 1 argument, not 2");
    expect_error(db, "SELECT upper(5)", VMDB_EINVAL, "upper: argument 1 is integer, where text");
    expect_error(db, "SELECT substr('a', 'b')", VMDB_EINVAL, "argument 2 is text");
    expect_error(db, "SELECT TRUE || 'x'", VMDB_EINVAL, "||: argument 1 is bool");
    expect_error(db, "SELECT nosuch(1)", VMDB_ESYNTAX, "unknown function 'nosuch'");
    expect_error(db, "SELECT COUNT(1, 2) FROM people", VMDB_ESYNTAX, "COUNT takes one argument");
    vmdb_close(db);
    remove_test_dir();
}
