/* SPDX-License-Identifier: MIT */
/*
 * tests/test_sqlite_diff.c - vmdb's SQL against SQLite's: the same random
 * rows loaded into a vmdb table and an SQLite table, then random SELECTs
 * run on both, their results compared.
 *
 * The statements keep to the part of the language where docs/sql.md says
 * vmdb agrees with SQLite (its table of differences says where not): no
 * NULL ever arises (no division, no aggregate but COUNT over rows that may
 * be none), LIKE meets lowercase text only (SQLite's is case-insensitive),
 * no pattern ends with its escape character, round() has no digits
 * argument, and no float is turned into text. A bool is 0 or 1 on both
 * sides. Numbers compare by value (SQLite's min(1, 2.5) is the integer 1,
 * vmdb's the float 1.0), floats to nine digits (sums are added in another
 * order). Rows compare in order when the ORDER BY orders them totally,
 * as a multiset otherwise.
 *
 * VMDB_SEED picks the statements, VMDB_SQLITE_DIFF_STATEMENTS how many
 * (2000 by default, a few seconds); a failure prints the statement and
 * both results.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>

#include "helpers.h"

TestSuite(sqlite_diff, .timeout = HARNESS_TIMEOUT);

/* ---- randomness ------------------------------------------------------------ */

static uint64_t rng;

static uint64_t next_u64(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* 0 .. n-1 */
static int pick(int n)
{
    return (int)(next_u64() % (uint64_t)n);
}

static int range(int lo, int hi)
{
    return lo + pick(hi - lo + 1);
}

/* ---- building text ----------------------------------------------------------- */

typedef struct sbuf {
    char s[4096];
    size_t len;
} sbuf;

static void add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s + b->len, sizeof b->s - b->len, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof b->s - b->len, "statement too long");
    b->len += (size_t)n;
}

/* A keyword or name in a random case: both sides must not care. */
static void word(sbuf *b, const char *w)
{
    int mode = pick(3);
    for (const char *p = w; *p; p++) {
        char c = *p;
        if (mode == 1 || (mode == 2 && pick(2)))
            c = (char)(c >= 'a' && c <= 'z' ? c - 32 : c >= 'A' && c <= 'Z' ? c + 32 : c);
        add(b, "%c", c);
    }
}

/* ---- the rows ------------------------------------------------------------------- */

#define SCHEMA_VMDB "id:i64 key, a:i32, b:i64, f:f64, s:str12, flag:bool"
#define SCHEMA_SQLITE "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, " \
                      "f REAL, s TEXT, flag INTEGER)"

static const char *const letters[] = {"a", "b", "c", "ab", "é", "%", "_", "!"};

static void random_text(sbuf *b)
{
    int n = pick(6);
    for (int i = 0; i < n; i++)
        add(b, "%s", letters[pick(5)]); /* a, b, c, ab, é: lowercase */
}

/* "INSERT INTO t VALUES (...), ..." of count rows, as both read it. */
static void insert_rows(sbuf *b, int from, int count)
{
    add(b, "INSERT INTO t VALUES ");
    for (int i = 0; i < count; i++) {
        add(b, "%s(%d, %d, %d, %d.%02d, '", i ? ", " : "", from + i, range(-20, 20),
            range(-1000, 1000), range(-100, 100), range(0, 99));
        random_text(b);
        add(b, "', %d)", pick(2));
    }
}

/* ---- the statements ------------------------------------------------------------ */

typedef struct gen {
    sbuf *b;
    const char *alias; /* the table's alias, or NULL */
} gen;

static void column(gen *g, const char *name)
{
    if (pick(4) == 0) {
        word(g->b, g->alias ? g->alias : "t");
        add(g->b, ".");
    }
    word(g->b, name);
}

static void int_expr(gen *g, int depth);
static void float_expr(gen *g, int depth);
static void text_expr(gen *g, int depth);
static void lower_text(gen *g, int depth);
static void cond(gen *g, int depth);

static void int_expr(gen *g, int depth)
{
    static const char *const cols[] = {"a", "b", "id"};
    int c = depth <= 0 ? pick(2) : pick(13);
    sbuf *b = g->b;
    switch (c) {
    case 0: column(g, cols[pick(3)]); break;
    case 1: add(b, "%d", range(-30, 30)); break;
    case 2: case 3:
        add(b, "(");
        int_expr(g, depth - 1);
        add(b, " %s ", (const char *[]){"+", "-", "*"}[pick(3)]);
        int_expr(g, depth - 1);
        add(b, ")");
        break;
    case 4:
        add(b, "(");
        int_expr(g, depth - 1);
        add(b, " %s %d)", pick(2) ? "/" : "%", range(1, 7) * (pick(2) ? 1 : -1));
        break;
    case 5: word(b, "abs"); add(b, "("); int_expr(g, depth - 1); add(b, ")"); break;
    case 6: word(b, "length"); add(b, "("); text_expr(g, depth - 1); add(b, ")"); break;
    case 7:
        word(b, "instr");
        add(b, "(");
        text_expr(g, depth - 1);
        add(b, ", '%s')", letters[pick(5)]);
        break;
    case 8:
        word(b, "CAST");
        add(b, "(");
        float_expr(g, depth - 1);
        add(b, " ");
        word(b, "AS");
        add(b, " ");
        word(b, pick(2) ? "INTEGER" : "INT");
        add(b, ")");
        break;
    case 9:
        word(b, pick(2) ? "min" : "max");
        add(b, "(");
        int_expr(g, depth - 1);
        add(b, ", ");
        int_expr(g, depth - 1);
        if (pick(2)) {
            add(b, ", ");
            int_expr(g, depth - 1);
        }
        add(b, ")");
        break;
    case 10: add(b, "-("); int_expr(g, depth - 1); add(b, ")"); break; /* not "--": a comment */
    case 11:
        word(b, "length");
        add(b, "(");
        int_expr(g, depth - 1);
        add(b, ")");
        break;
    default:
        word(b, "CAST");
        add(b, "(");
        text_expr(g, depth - 1);
        add(b, " ");
        word(b, "AS INTEGER");
        add(b, ")");
        break;
    }
}

static void float_expr(gen *g, int depth)
{
    sbuf *b = g->b;
    switch (depth <= 0 ? pick(2) : pick(8)) {
    case 0: column(g, "f"); break;
    case 1: add(b, "%d.%d", range(-50, 50), pick(10)); break;
    case 2:
        add(b, "(");
        float_expr(g, depth - 1);
        add(b, " %s ", (const char *[]){"+", "-", "*"}[pick(3)]);
        if (pick(2))
            float_expr(g, depth - 1);
        else
            int_expr(g, depth - 1);
        add(b, ")");
        break;
    case 3: word(b, "abs"); add(b, "("); float_expr(g, depth - 1); add(b, ")"); break;
    case 4: word(b, "round"); add(b, "("); float_expr(g, depth - 1); add(b, ")"); break;
    case 5:
        word(b, "CAST");
        add(b, "(");
        int_expr(g, depth - 1);
        add(b, " ");
        word(b, "AS REAL");
        add(b, ")");
        break;
    case 6:
        word(b, pick(2) ? "min" : "max");
        add(b, "(");
        float_expr(g, depth - 1);
        add(b, ", ");
        int_expr(g, depth - 1);
        add(b, ")");
        break;
    default:
        add(b, "(");
        float_expr(g, depth - 1);
        add(b, " / %d.5)", range(1, 9));
        break;
    }
}

/* Text whose letters are all lowercase, which LIKE may meet. */
static void lower_text(gen *g, int depth)
{
    sbuf *b = g->b;
    switch (depth <= 0 ? pick(2) : pick(9)) {
    case 0: column(g, "s"); break;
    case 1: add(b, "'%s%s'", letters[pick(5)], letters[pick(5)]); break;
    case 2:
        word(b, "substr");
        add(b, "(");
        lower_text(g, depth - 1);
        add(b, ", %d", range(-4, 4));
        if (pick(2))
            add(b, ", %d", range(-3, 4));
        add(b, ")");
        break;
    case 3:
        word(b, (const char *[]){"trim", "ltrim", "rtrim"}[pick(3)]);
        add(b, "(");
        lower_text(g, depth - 1);
        if (pick(2))
            add(b, ", '%s%s'", letters[pick(5)], letters[pick(5)]);
        add(b, ")");
        break;
    case 4:
        word(b, "replace");
        add(b, "(");
        lower_text(g, depth - 1);
        add(b, ", '%s', '%s')", letters[pick(5)], pick(3) ? letters[pick(5)] : "");
        break;
    case 5:
        lower_text(g, depth - 1);
        add(b, " || ");
        lower_text(g, depth - 1);
        break;
    case 6:
        add(b, "(");
        lower_text(g, depth - 1);
        add(b, " || ");
        int_expr(g, depth - 1);
        add(b, ")");
        break;
    case 7: word(b, "lower"); add(b, "("); text_expr(g, depth - 1); add(b, ")"); break;
    default:
        word(b, "CAST");
        add(b, "(");
        int_expr(g, depth - 1);
        add(b, " ");
        word(b, "AS TEXT");
        add(b, ")");
        break;
    }
}

static void text_expr(gen *g, int depth)
{
    if (depth > 0 && pick(5) == 0) {
        word(g->b, "upper");
        add(g->b, "(");
        lower_text(g, depth - 1);
        add(g->b, ")");
        return;
    }
    lower_text(g, depth);
}

static void like_pattern(sbuf *b, bool *escape)
{
    static const char *const parts[] = {"%", "_", "a", "b", "c", "é", "ab", "!%", "!_", "!!"};
    *escape = pick(2);
    add(b, "'");
    int n = range(0, 4);
    for (int i = 0; i < n; i++) {
        int k = pick(*escape ? 10 : 7);
        add(b, "%s", parts[k]);
    }
    add(b, "'");
}

static void cond(gen *g, int depth)
{
    sbuf *b = g->b;
    static const char *const cmp[] = {"=", "!=", "<>", "<", "<=", ">", ">="};
    switch (depth <= 0 ? pick(4) : pick(12)) {
    case 0:
        int_expr(g, depth - 1);
        add(b, " %s ", cmp[pick(7)]);
        int_expr(g, depth - 1);
        break;
    case 1:
        column(g, "flag");
        add(b, " = %d", pick(2));
        break;
    case 2:
        lower_text(g, depth - 1);
        add(b, " %s ", cmp[pick(7)]);
        lower_text(g, depth - 1);
        break;
    case 3: {
        bool escape;
        lower_text(g, depth - 1);
        add(b, " ");
        if (pick(3) == 0)
            word(b, "NOT ");
        word(b, "LIKE");
        add(b, " ");
        like_pattern(b, &escape);
        if (escape) {
            add(b, " ");
            word(b, "ESCAPE");
            add(b, " '!'");
        }
        break;
    }
    case 4:
        float_expr(g, depth - 1);
        add(b, " %s ", cmp[pick(7)]);
        if (pick(2))
            float_expr(g, depth - 1);
        else
            int_expr(g, depth - 1);
        break;
    case 5:
        word(b, "NOT ");
        add(b, "(");
        cond(g, depth - 1);
        add(b, ")");
        break;
    case 6: case 7:
        add(b, "(");
        cond(g, depth - 1);
        add(b, " ");
        word(b, pick(2) ? "AND" : "OR");
        add(b, " ");
        cond(g, depth - 1);
        add(b, ")");
        break;
    case 8: {
        int_expr(g, depth - 1);
        add(b, " ");
        if (pick(3) == 0)
            word(b, "NOT ");
        word(b, "IN");
        add(b, " (");
        int n = range(1, 4);
        for (int i = 0; i < n; i++)
            add(b, "%s%d", i ? ", " : "", range(-20, 20));
        add(b, ")");
        break;
    }
    case 9:
        int_expr(g, depth - 1);
        add(b, " ");
        if (pick(3) == 0)
            word(b, "NOT ");
        word(b, "BETWEEN");
        add(b, " %d ", range(-30, 10));
        word(b, "AND");
        add(b, " %d", range(-10, 30));
        break;
    case 10:
        /* A quoted number beside a number field. */
        column(g, pick(2) ? "a" : "b");
        add(b, " %s '%d'", cmp[pick(7)], range(-20, 20));
        break;
    default:
        column(g, "flag");
        add(b, " %s %d", pick(2) ? "=" : "!=", pick(2));
        break;
    }
}

/* One output column of a plain SELECT, of a random type. */
static void item(gen *g)
{
    switch (pick(4)) {
    case 0: int_expr(g, 2); break;
    case 1: float_expr(g, 2); break;
    case 2: text_expr(g, 2); break;
    default: cond(g, 1); break;
    }
}

typedef struct statement {
    sbuf text;
    bool ordered; /* the ORDER BY orders every row: compare in order */
} statement;

static void limit(sbuf *b)
{
    add(b, " ");
    switch (pick(3)) {
    case 0: word(b, "LIMIT"); add(b, " %d", range(0, 12)); break;
    case 1: word(b, "LIMIT"); add(b, " %d ", range(0, 12)); word(b, "OFFSET"); add(b, " %d", range(0, 30)); break;
    default: word(b, "LIMIT"); add(b, " %d, %d", range(0, 30), range(0, 12)); break;
    }
}

/* ORDER BY every output column, by number, in a random order. */
static void order_all(sbuf *b, int columns)
{
    int order[8];
    for (int i = 0; i < columns; i++)
        order[i] = i + 1;
    for (int i = columns - 1; i > 0; i--) {
        int j = pick(i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    add(b, " ");
    word(b, "ORDER BY");
    for (int i = 0; i < columns; i++) {
        add(b, "%s %d", i ? "," : "", order[i]);
        if (pick(2)) {
            add(b, " ");
            word(b, pick(2) ? "DESC" : "ASC");
        }
    }
}

static void from(gen *g)
{
    add(g->b, " ");
    word(g->b, "FROM");
    add(g->b, " ");
    word(g->b, "t");
    if (g->alias) {
        add(g->b, " ");
        if (pick(2)) {
            word(g->b, "AS");
            add(g->b, " ");
        }
        word(g->b, g->alias);
    }
}

static void plain_select(statement *st, gen *g)
{
    sbuf *b = g->b;
    bool distinct = pick(4) == 0;
    word(b, "SELECT");
    if (distinct) {
        add(b, " ");
        word(b, "DISTINCT");
    }
    int columns = range(1, 3);
    for (int i = 0; i < columns; i++) {
        add(b, i ? ", " : " ");
        item(g);
        if (pick(3) == 0) {
            add(b, " ");
            if (pick(2)) {
                word(b, "AS");
                add(b, " ");
            }
            add(b, "c%d", i);
        }
    }
    from(g);
    if (pick(4)) {
        add(b, " ");
        word(b, "WHERE");
        add(b, " ");
        cond(g, 2);
    }
    if (distinct) {
        /* Distinct rows ordered by all their columns: a total order. */
        if (pick(2)) {
            order_all(b, columns);
            st->ordered = true;
            if (pick(2))
                limit(b);
        }
        return;
    }
    if (pick(2)) {
        add(b, " ");
        word(b, "ORDER BY");
        add(b, " ");
        int keys = range(0, 2);
        for (int i = 0; i < keys; i++) {
            if (pick(2)) {
                /* Never a bare number, which would be a column's. */
                add(b, "(");
                int_expr(g, 1);
                add(b, ") + ");
                column(g, "a");
            } else
                column(g, (const char *[]){"s", "f", "a", "flag"}[pick(4)]);
            if (pick(2)) {
                add(b, " ");
                word(b, pick(2) ? "DESC" : "ASC");
            }
            add(b, ", ");
        }
        /* The key last: every row in one place. */
        column(g, "id");
        if (pick(2)) {
            add(b, " ");
            word(b, "DESC");
        }
        st->ordered = true;
        if (pick(2))
            limit(b);
    }
}

static void aggregate(gen *g)
{
    sbuf *b = g->b;
    switch (pick(9)) {
    case 0: word(b, "COUNT(*)"); break;
    case 1: word(b, "COUNT"); add(b, "("); word(b, "DISTINCT "); column(g, "a"); add(b, ")"); break;
    case 2: word(b, "SUM"); add(b, "("); int_expr(g, 1); add(b, ")"); break;
    case 3: word(b, "SUM"); add(b, "("); column(g, "f"); add(b, ")"); break;
    case 4: word(b, "MIN"); add(b, "("); lower_text(g, 1); add(b, ")"); break;
    case 5: word(b, "MAX"); add(b, "("); column(g, "b"); add(b, ")"); break;
    case 6: word(b, "AVG"); add(b, "("); column(g, "a"); add(b, ")"); break;
    case 7: word(b, "SUM"); add(b, "("); word(b, "DISTINCT "); column(g, "a"); add(b, ")"); break;
    default: word(b, "COUNT"); add(b, "("); word(b, "DISTINCT "); column(g, "s"); add(b, ")"); break;
    }
}

static void grouped_select(statement *st, gen *g)
{
    sbuf *b = g->b;
    static const char *const keys[] = {"flag", "s", "a"};
    int nkeys = range(1, 2), first = pick(3);
    const char *group[2] = {keys[first], keys[(first + 1 + pick(2)) % 3]};
    word(b, "SELECT ");
    int columns = 0;
    for (int i = 0; i < nkeys; i++, columns++) {
        add(b, i ? ", " : "");
        column(g, group[i]);
    }
    int aggs = range(1, 3);
    for (int i = 0; i < aggs; i++, columns++) {
        add(b, ", ");
        aggregate(g);
    }
    from(g);
    if (pick(3)) {
        add(b, " ");
        word(b, "WHERE");
        add(b, " ");
        cond(g, 2);
    }
    add(b, " ");
    word(b, "GROUP BY");
    for (int i = 0; i < nkeys; i++) {
        add(b, i ? ", " : " ");
        /* The field, or its column's number. */
        if (pick(3) == 0)
            add(b, "%d", i + 1);
        else
            column(g, group[i]);
    }
    if (pick(2)) {
        add(b, " ");
        word(b, "HAVING");
        add(b, " ");
        switch (pick(4)) {
        case 0: word(b, "COUNT(*)"); add(b, " > %d", range(0, 4)); break;
        case 1: word(b, "SUM"); add(b, "("); column(g, "a"); add(b, ") %s %d", pick(2) ? "<" : ">", range(-20, 20)); break;
        case 2: word(b, "MAX"); add(b, "("); column(g, "b"); add(b, ") >= %d", range(-500, 500)); break;
        default: column(g, group[0]); add(b, " != "); add(b, "%s", group[0][0] == 's' ? "'a'" : "1"); break;
        }
    }
    /* The group keys lead, so the order is total before any float. */
    if (pick(2)) {
        add(b, " ");
        word(b, "ORDER BY");
        for (int i = 0; i < columns; i++) {
            add(b, "%s %d", i ? "," : "", i + 1);
            if (pick(2)) {
                add(b, " ");
                word(b, "DESC");
            }
        }
        st->ordered = true;
        if (pick(2))
            limit(b);
    }
}

/* GROUP BY an expression: the same expression in the list. */
static void expression_grouped_select(statement *st, gen *g)
{
    sbuf *b = g->b;
    static const char *const keys[] = {"a % 4", "length(s)", "substr(s, 1, 1)",
                                       "lower(s) || a", "abs(a) / 5", "a > 3"};
    const char *key = keys[pick(6)];
    word(b, "SELECT ");
    add(b, "%s ", key);
    word(b, "AS");
    add(b, " k, ");
    aggregate(g);
    from(g);
    if (pick(2)) {
        add(b, " ");
        word(b, "WHERE");
        add(b, " ");
        cond(g, 2);
    }
    add(b, " ");
    word(b, "GROUP BY");
    add(b, " ");
    switch (pick(3)) {
    case 0: add(b, "%s", key); break;
    case 1: add(b, "1"); break;
    default: word(b, "k"); break;
    }
    if (pick(2)) {
        add(b, " ");
        word(b, "ORDER BY");
        add(b, " 1");
        st->ordered = true;
    }
}

static void count_select(gen *g)
{
    word(g->b, "SELECT ");
    word(g->b, pick(2) ? "COUNT(*)" : "COUNT(DISTINCT s)");
    from(g);
    add(g->b, " ");
    word(g->b, "WHERE");
    add(g->b, " ");
    cond(g, 3);
}

static void random_select(statement *st)
{
    memset(st, 0, sizeof *st);
    gen g = {.b = &st->text, .alias = pick(3) == 0 ? "x" : NULL};
    switch (pick(7)) {
    case 0: case 1: case 2: plain_select(st, &g); break;
    case 3: case 4: grouped_select(st, &g); break;
    case 5: expression_grouped_select(st, &g); break;
    default: count_select(&g); break;
    }
}

/* ---- results ---------------------------------------------------------------------- */

typedef struct result {
    char **rows;
    size_t count, cap;
} result;

static void number_text(double d, char *dst, size_t cap)
{
    if (d == 0)
        snprintf(dst, cap, "n:0"); /* -0.0 is 0 to both */
    else if (d == floor(d) && fabs(d) < 9007199254740992.0)
        snprintf(dst, cap, "n:%.0f", d);
    else
        snprintf(dst, cap, "n:%.9g", d);
}

static void add_row(result *r, const char *row)
{
    if (r->count == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->rows = realloc(r->rows, r->cap * sizeof *r->rows);
        cr_assert_not_null(r->rows);
    }
    r->rows[r->count++] = strdup(row);
}

static void result_free(result *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->rows[i]);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

static int vmdb_row(void *ctx, vmdb_stmt *stmt)
{
    sbuf line = {0};
    for (int i = 0; i < vmdb_column_count(stmt); i++) {
        char cell[256];
        switch (vmdb_column_type(stmt, i)) {
        case VMDB_VALUE_INT:
        case VMDB_VALUE_FLOAT: {
            double d;
            ASSERT_OK(vmdb_column_double(stmt, i, &d));
            number_text(d, cell, sizeof cell);
            break;
        }
        case VMDB_VALUE_BOOL: {
            bool v;
            ASSERT_OK(vmdb_column_bool(stmt, i, &v));
            snprintf(cell, sizeof cell, "n:%d", v);
            break;
        }
        default: {
            const char *text;
            ASSERT_OK(vmdb_column_text(stmt, i, &text, NULL));
            snprintf(cell, sizeof cell, "t:%s", text);
            break;
        }
        }
        add(&line, "%s%s", i ? " | " : "", cell);
    }
    add_row(ctx, line.s);
    return 0;
}

static int sqlite_rows(sqlite3 *db, const char *sql, result *r, char *error, size_t cap)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        snprintf(error, cap, "%s", sqlite3_errmsg(db));
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        sbuf line = {0};
        for (int i = 0; i < sqlite3_column_count(stmt); i++) {
            char cell[256];
            switch (sqlite3_column_type(stmt, i)) {
            case SQLITE_INTEGER:
            case SQLITE_FLOAT:
                number_text(sqlite3_column_double(stmt, i), cell, sizeof cell);
                break;
            case SQLITE_NULL:
                snprintf(cell, sizeof cell, "NULL");
                break;
            default:
                snprintf(cell, sizeof cell, "t:%s", (const char *)sqlite3_column_text(stmt, i));
                break;
            }
            add(&line, "%s%s", i ? " | " : "", cell);
        }
        add_row(r, line.s);
    }
    if (rc != SQLITE_DONE)
        snprintf(error, cap, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_rows(sbuf *b, const char *who, const result *r)
{
    add(b, "%s (%zu rows):\n", who, r->count);
    for (size_t i = 0; i < r->count && i < 12 && b->len + 300 < sizeof b->s; i++)
        add(b, "  %.200s\n", r->rows[i]);
}

/* ---- the test ---------------------------------------------------------------------- */

Test(sqlite_diff, random_selects_agree_with_sqlite)
{
    uint64_t seed = test_seed(1414);
    rng = seed;
    const char *env = getenv("VMDB_SQLITE_DIFF_STATEMENTS");
    long statements = env ? strtol(env, NULL, 10) : 2000;

    vmdb_db *vdb;
    vmdb_db_options opts = VMDB_DB_OPTIONS_INIT;
    opts.flags = VMDB_DB_CREATE;
    ASSERT_OK(vmdb_open(test_path("diff.db"), &opts, &vdb));
    vmdb_schema *schema;
    ASSERT_OK(vmdb_schema_parse(SCHEMA_VMDB, &schema));
    vmdb_table *table;
    ASSERT_OK(vmdb_table_create(vdb, "t", schema, &table));
    vmdb_schema_free(schema);
    sqlite3 *sdb;
    cr_assert_eq(sqlite3_open(":memory:", &sdb), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(sdb, SCHEMA_SQLITE, NULL, NULL, NULL), SQLITE_OK);
    /* The same INSERTs on both sides: their values are the rows. */
    for (int from = 1; from <= 240; from += 40) {
        sbuf ins = {0};
        insert_rows(&ins, from, 40);
        ASSERT_OK(vmdb_exec(vdb, ins.s, NULL, NULL));
        cr_assert_eq(sqlite3_exec(sdb, ins.s, NULL, NULL, NULL), SQLITE_OK, "%s",
                     sqlite3_errmsg(sdb));
    }

    long compared = 0, nonempty = 0;
    for (long n = 0; n < statements; n++) {
        statement st;
        random_select(&st);
        result mine = {0}, theirs = {0};
        char sqlite_error[512] = "";
        vmdb_error_clear();
        int vrc = vmdb_exec(vdb, st.text.s, vmdb_row, &mine);
        cr_assert_eq(vrc, 0, "statement %ld (VMDB_SEED=%llu): %s\nvmdb: %s", n,
                     (unsigned long long)seed, st.text.s, vmdb_last_error()->message);
        int src = sqlite_rows(sdb, st.text.s, &theirs, sqlite_error, sizeof sqlite_error);
        cr_assert_eq(src, 0, "statement %ld (VMDB_SEED=%llu): %s\nsqlite: %s", n,
                     (unsigned long long)seed, st.text.s, sqlite_error);
        if (!st.ordered && mine.count > 1)
            qsort(mine.rows, mine.count, sizeof *mine.rows, by_text);
        if (!st.ordered && theirs.count > 1)
            qsort(theirs.rows, theirs.count, sizeof *theirs.rows, by_text);
        bool same = mine.count == theirs.count;
        for (size_t i = 0; same && i < mine.count; i++)
            same = !strcmp(mine.rows[i], theirs.rows[i]);
        if (!same) {
            sbuf msg = {0};
            add(&msg, "statement %ld (VMDB_SEED=%llu) differs%s:\n%s\n", n,
                (unsigned long long)seed, st.ordered ? " (in order)" : "", st.text.s);
            print_rows(&msg, "vmdb", &mine);
            print_rows(&msg, "sqlite", &theirs);
            cr_assert_fail("%s", msg.s);
        }
        compared++;
        if (getenv("VMDB_SQLITE_DIFF_SHOW"))
            cr_log_info("%s -> %zu rows", st.text.s, mine.count);
        nonempty += mine.count > 0;
        result_free(&mine);
        result_free(&theirs);
    }
    cr_log_info("%ld statements compared, %ld with rows", compared, nonempty);
    /* Statements that all return nothing would prove little. */
    cr_assert_gt(nonempty, compared / 3, "only %ld of %ld statements returned rows", nonempty,
                 compared);
    sqlite3_close(sdb);
    vmdb_close(vdb);
    remove_test_dir();
}
