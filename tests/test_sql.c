/* SPDX-License-Identifier: MIT */
/*
 * tests/test_sql.c - the SQL of `vmdb query`: lexer, parser, evaluator,
 * planner and executor, called directly (the command's files are linked
 * into the test binary). The executor runs on a real database in the
 * test's own directory.
 */
#include <math.h>
#include <stdarg.h>

#include "helpers.h"
#include "sql.h"

TestSuite(sql_lex, .timeout = SUITE_TIMEOUT);
TestSuite(sql_parse, .timeout = SUITE_TIMEOUT);
TestSuite(sql_eval, .timeout = SUITE_TIMEOUT);
TestSuite(sql_exec, .timeout = SUITE_TIMEOUT);

/* ---- helpers ------------------------------------------------------------ */

/* Every token of text: kinds and texts, or the lexer's error. */
static size_t lex_all(const char *text, sql_token *toks, size_t cap, sql_error *err, int *rc)
{
    sql_lexer lx;
    sql_lex_init(&lx, text, strlen(text));
    size_t n = 0;
    *rc = 0;
    while (n < cap) {
        if ((*rc = sql_lex_next(&lx, &toks[n], err)) < 0)
            return n;
        if (toks[n++].kind == SQL_TOK_END)
            break;
    }
    return n;
}

static bool tok_is(const sql_token *t, enum sql_token_kind kind, const char *text)
{
    return t->kind == kind && t->len == strlen(text) && !memcmp(t->text, text, t->len);
}

static sql_stmt *parse_ok(const char *text)
{
    sql_stmt *st;
    sql_error err;
    int rc = sql_parse(text, strlen(text), &st, &err);
    cr_assert_eq(rc, 0, "%s: %s (line %u col %u)", text, err.message, err.line, err.col);
    return st;
}

/* Parses text, which must fail with a message holding `needle` at col. */
static void parse_fails(const char *text, const char *needle, unsigned col)
{
    sql_stmt *st = (sql_stmt *)1;
    sql_error err;
    cr_assert_eq(sql_parse(text, strlen(text), &st, &err), -1, "%s parsed", text);
    cr_assert_null(st);
    cr_assert(strstr(err.message, needle), "%s: message \"%s\" lacks \"%s\"", text, err.message,
              needle);
    cr_assert_eq(err.col, col, "%s: col %u, wanted %u (%s)", text, err.col, col, err.message);
}

/* The WHERE of "SELECT * FROM t WHERE <cond>", fully parenthesised; or
 * the first item of "SELECT <expr>". */
static const char *shape(const char *expr)
{
    static char out[1024];
    char text[1024];
    snprintf(text, sizeof text, "SELECT %s", expr);
    sql_stmt *st = parse_ok(text);
    sql_expr_format(st->items[0].expr, out, sizeof out);
    sql_stmt_free(st);
    return out;
}

/* The rows a statement produced, as "a|b\n" lines after a header line. */
static char output[65536];
static size_t output_len;

static void out_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out_add(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(output + output_len, sizeof output - output_len, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof output - output_len, "output too long");
    output_len += (size_t)n;
}

static int sink_columns(void *ctx, size_t count, const char *const *names,
                        const enum sql_type *types)
{
    (void)types;
    *(size_t *)ctx = count;
    for (size_t i = 0; i < count; i++)
        out_add("%s%s", i ? "|" : "", names[i]);
    out_add("\n");
    return 0;
}

static int sink_row(void *ctx, const sql_value *cells)
{
    size_t count = *(size_t *)ctx;
    for (size_t i = 0; i < count; i++) {
        char buf[8200];
        const char *text;
        size_t len;
        sql_value_text(&cells[i], buf, sizeof buf, &text, &len);
        out_add("%s%.*s", i ? "|" : "", (int)len, text);
    }
    out_add("\n");
    return 0;
}

typedef struct run_result {
    int rc;
    uint64_t rows, changed;
    bool used_index;
    sql_error err;
} run_result;

/* Parses, plans and runs text on db (NULL for statements without FROM),
 * leaving the rows in `output`. */
static run_result run(vmdb_db *db, const char *text)
{
    run_result r = {0};
    output_len = 0;
    output[0] = '\0';
    sql_stmt *st;
    r.rc = sql_parse(text, strlen(text), &st, &r.err);
    if (r.rc < 0)
        return r;
    sql_plan *plan;
    r.rc = sql_plan_new(db, "test.db", st, &plan, &r.err);
    if (r.rc == 0) {
        size_t columns = 0;
        sql_sink sink = {sink_columns, sink_row, &columns};
        r.used_index = sql_plan_uses_index(plan);
        r.rc = sql_execute(plan, &sink, &r.rows, &r.changed, &r.err);
        sql_plan_free(plan);
    }
    sql_stmt_free(st);
    return r;
}

/* Runs text, which must succeed, and returns its output. */
static const char *query(vmdb_db *db, const char *text)
{
    run_result r = run(db, text);
    cr_assert_eq(r.rc, 0, "%s: %s (col %u)", text, r.err.message, r.err.col);
    return output;
}

#define EXPECT_ROWS(db, text, want)                                            \
    do {                                                                       \
        const char *got_ = query((db), (text));                                \
        cr_assert_str_eq(got_, (want), "%s\ngot:\n%s\nwanted:\n%s", (text), got_, (want)); \
    } while (0)

/* Runs text, which must fail with a message holding needle. */
static void run_fails(vmdb_db *db, const char *text, const char *needle)
{
    run_result r = run(db, text);
    cr_assert_eq(r.rc, -1, "%s succeeded:\n%s", text, output);
    cr_assert(strstr(r.err.message, needle), "%s: message \"%s\" lacks \"%s\"", text,
              r.err.message, needle);
}

#define PEOPLE "id:u64 key, name:str16, age:u8, city:str16, score:f64, big:u64, neg:i64, " \
               "flag:bool, f:f32"

static vmdb_db *people_db(void)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_OK(vmdb_open(test_path("db"), &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse(PEOPLE, &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "people", s, &t));
    static const char *const rows[][9] = {
        {"1", "Alice", "30", "Paris", "9.5", "18446744073709551615", "-5", "true", "0.1"},
        {"2", "Bob", "25", "London", "7", "1", "-9223372036854775808", "false", "1.5"},
        {"3", "Carol", "35", "Paris", "8.25", "9223372036854775808", "0", "true", "2"},
        {"4", "Dave", "25", "Berlin", "6.5", "9223372036854775807", "7", "false", "-1"},
        {"5", "Eve", "41", "London", "9", "0", "100", "true", "0"},
    };
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn));
    unsigned char rec[256];
    cr_assert_leq(vmdb_schema_record_size(s), sizeof rec);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        memset(rec, 0, sizeof rec);
        for (size_t f = 0; f < 9; f++)
            ASSERT_OK(vmdb_record_set_text(s, rec, f, rows[r][f]));
        ASSERT_OK(vmdb_txn_put(txn, t, rec, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    vmdb_schema_free(s);
    return db;
}

static void finish(vmdb_db *db)
{
    vmdb_close(db);
    remove_test_dir();
}

/* ---- lexer -------------------------------------------------------------- */

Test(sql_lex, tokens_have_kinds_texts_and_positions)
{
    sql_token t[32];
    sql_error err;
    int rc;
    size_t n = lex_all("SELECT name, age FROM people\n  WHERE age >= 30;", t, 32, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.message);
    cr_assert_eq(n, 12);
    cr_assert(tok_is(&t[0], SQL_TOK_KEYWORD, "SELECT"));
    cr_assert_eq(t[0].keyword, SQL_KW_SELECT);
    cr_assert(tok_is(&t[1], SQL_TOK_IDENT, "name"));
    cr_assert_eq(t[1].col, 8);
    cr_assert(tok_is(&t[2], SQL_TOK_OP, ","));
    cr_assert(tok_is(&t[5], SQL_TOK_IDENT, "people"));
    cr_assert(tok_is(&t[6], SQL_TOK_KEYWORD, "WHERE"));
    cr_assert_eq(t[6].line, 2);
    cr_assert_eq(t[6].col, 3);
    cr_assert(tok_is(&t[8], SQL_TOK_OP, ">="));
    cr_assert_eq(t[8].op, SQL_OP_GE);
    cr_assert(tok_is(&t[9], SQL_TOK_INT, "30"));
    cr_assert_eq(t[9].col, 16);
    cr_assert_eq(t[10].op, SQL_OP_SEMI);
    cr_assert_eq(t[11].kind, SQL_TOK_END);
}

Test(sql_lex, keywords_are_case_insensitive_names_are_not_keywords)
{
    sql_token t[8];
    sql_error err;
    int rc;
    lex_all("sElEcT FROM where selector \"select\"", t, 8, &err, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_eq(t[0].keyword, SQL_KW_SELECT);
    cr_assert_eq(t[1].keyword, SQL_KW_FROM);
    cr_assert_eq(t[2].keyword, SQL_KW_WHERE);
    cr_assert(tok_is(&t[3], SQL_TOK_IDENT, "selector"));
    cr_assert(tok_is(&t[4], SQL_TOK_IDENT, "\"select\""));
}

Test(sql_lex, every_operator)
{
    static const struct {
        const char *text;
        enum sql_op op;
    } ops[] = {{"=", SQL_OP_EQ}, {"==", SQL_OP_EQ}, {"!=", SQL_OP_NE}, {"<>", SQL_OP_NE},
               {"<", SQL_OP_LT}, {"<=", SQL_OP_LE}, {">", SQL_OP_GT},  {">=", SQL_OP_GE},
               {"+", SQL_OP_PLUS}, {"-", SQL_OP_MINUS}, {"*", SQL_OP_STAR},
               {"/", SQL_OP_SLASH}, {"%", SQL_OP_PERCENT}, {"(", SQL_OP_LPAREN},
               {")", SQL_OP_RPAREN}, {",", SQL_OP_COMMA}, {";", SQL_OP_SEMI}, {".", SQL_OP_DOT}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        sql_token t[3];
        sql_error err;
        int rc;
        size_t n = lex_all(ops[i].text, t, 3, &err, &rc);
        cr_assert_eq(rc, 0, "%s", ops[i].text);
        cr_assert_eq(n, 2, "%s gave %zu tokens", ops[i].text, n);
        cr_assert(tok_is(&t[0], SQL_TOK_OP, ops[i].text), "%s", ops[i].text);
        cr_assert_eq(t[0].op, ops[i].op, "%s", ops[i].text);
    }
}

Test(sql_lex, numbers_strings_and_comments)
{
    sql_token t[16];
    sql_error err;
    int rc;
    size_t n = lex_all("12 0x1F 1.5 .5 1e3 2E-2 'it''s' -- a comment ; 'x'\n name", t, 16,
                       &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.message);
    cr_assert_eq(n, 9);
    cr_assert(tok_is(&t[0], SQL_TOK_INT, "12"));
    cr_assert(tok_is(&t[1], SQL_TOK_INT, "0x1F"));
    cr_assert(tok_is(&t[2], SQL_TOK_FLOAT, "1.5"));
    cr_assert(tok_is(&t[3], SQL_TOK_FLOAT, ".5"));
    cr_assert(tok_is(&t[4], SQL_TOK_FLOAT, "1e3"));
    cr_assert(tok_is(&t[5], SQL_TOK_FLOAT, "2E-2"));
    cr_assert(tok_is(&t[6], SQL_TOK_STRING, "'it''s'"));
    cr_assert(tok_is(&t[7], SQL_TOK_IDENT, "name"));
    cr_assert_eq(t[7].line, 2);
    cr_assert_eq(t[7].col, 2);
}

Test(sql_lex, bad_tokens_are_named_with_their_column)
{
    static const struct {
        const char *text;
        const char *message;
        unsigned col;
    } bad[] = {
        {"SELECT # FROM t", "syntax error: unexpected character '#'", 8},
        {"SELECT 'abc", "syntax error: unterminated string ''abc'", 8},
        {"SELECT 'it''s", "unterminated string", 8},
        {"SELECT \"name", "unterminated quoted name", 8},
        {"SELECT 12abc", "syntax error: bad number '12abc'", 8},
        {"SELECT 1.2.3", "bad number '1.2.3'", 8},
        {"SELECT a ! b", "unexpected character '!'", 10},
        {"SELECT \xc3\xa9", "unexpected character '\xc3\xa9'", 8},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sql_token t[8];
        sql_error err;
        int rc;
        lex_all(bad[i].text, t, 8, &err, &rc);
        cr_assert_eq(rc, -1, "%s lexed", bad[i].text);
        cr_assert(strstr(err.message, bad[i].message), "%s: \"%s\"", bad[i].text, err.message);
        cr_assert_eq(err.col, bad[i].col, "%s: col %u", bad[i].text, err.col);
    }
}

Test(sql_lex, statement_end_skips_quotes_and_comments)
{
    const char *s = "SELECT ';' -- ;\n, \"a;b\" FROM t; SELECT 2;";
    size_t end = sql_statement_end(s, strlen(s));
    cr_assert_eq(end, (size_t)(strchr(s, 't') - s) + 2, "end %zu", end);
    cr_assert_eq(sql_statement_end("SELECT 'a;", 10), 0);
    cr_assert_eq(sql_statement_end("SELECT 1 -- ;", 13), 0);
    cr_assert_eq(sql_statement_end("SELECT 1", 8), 0);
    cr_assert(sql_is_blank("  -- nothing\n\t", 14));
    cr_assert(!sql_is_blank("  -- nothing\n x", 15));
}

/* ---- parser ------------------------------------------------------------- */

Test(sql_parse, precedence_of_arithmetic)
{
    cr_assert_str_eq(shape("1 + 2 * 3 - 4"), "((1 + (2 * 3)) - 4)");
    cr_assert_str_eq(shape("(1 + 2) * 3"), "((1 + 2) * 3)");
    cr_assert_str_eq(shape("a / b % c"), "((a / b) % c)");
    cr_assert_str_eq(shape("-a * b"), "((-a) * b)");
    cr_assert_str_eq(shape("- - 3"), "(-(-3))");
    cr_assert_str_eq(shape("a - -b"), "(a - (-b))");
}

Test(sql_parse, precedence_of_logic_and_predicates)
{
    cr_assert_str_eq(shape("a OR b AND NOT c = d"), "(a OR (b AND (NOT (c = d))))");
    cr_assert_str_eq(shape("NOT a AND b"), "((NOT a) AND b)");
    cr_assert_str_eq(shape("a + 1 > b * 2"), "((a + 1) > (b * 2))");
    cr_assert_str_eq(shape("x BETWEEN 1 AND 5 AND y"), "((x BETWEEN 1 AND 5) AND y)");
    cr_assert_str_eq(shape("x NOT BETWEEN a - 1 AND a + 1"),
                     "(x NOT BETWEEN (a - 1) AND (a + 1))");
    cr_assert_str_eq(shape("x NOT IN (1, 2 + 3)"), "(x NOT IN (1, (2 + 3)))");
    cr_assert_str_eq(shape("name LIKE 'a%' OR name NOT LIKE '50!%' ESCAPE '!'"),
                     "((name LIKE 'a%') OR (name NOT LIKE '50!%' ESCAPE '!'))");
    cr_assert_str_eq(shape("a <> b"), "(a != b)");
    cr_assert_str_eq(shape("people.age >= 3"), "(people.age >= 3)");
    cr_assert_str_eq(shape("'it''s'"), "'it''s'");
    cr_assert_str_eq(shape("TRUE OR false"), "(TRUE OR FALSE)");
    cr_assert_str_eq(shape("COUNT(*) + sum(x)"), "(COUNT(*) + SUM(x))");
}

Test(sql_parse, select_with_every_clause)
{
    sql_stmt *st = parse_ok("select name AS n, age + 1 older, * from people where age > 3 "
                            "group by name, age order by n desc, 2, age asc limit 10 offset 5;");
    cr_assert_eq(st->kind, SQL_SELECT);
    cr_assert_eq(st->item_count, 3);
    cr_assert_str_eq(st->items[0].alias, "n");
    cr_assert_str_eq(st->items[0].label, "name");
    cr_assert_str_eq(st->items[1].alias, "older");
    cr_assert_str_eq(st->items[1].label, "age + 1");
    cr_assert_null(st->items[2].expr);
    cr_assert_str_eq(st->table, "people");
    cr_assert_eq(st->table_col, 41);
    char buf[256];
    sql_expr_format(st->where, buf, sizeof buf);
    cr_assert_str_eq(buf, "(age > 3)");
    cr_assert_eq(st->group_count, 2);
    cr_assert_str_eq(st->group_by[1]->name, "age");
    cr_assert_eq(st->order_count, 3);
    cr_assert(st->order_by[0].desc);
    cr_assert(!st->order_by[1].desc);
    cr_assert(!st->order_by[2].desc);
    cr_assert(st->has_limit);
    cr_assert_eq(st->limit, 10);
    cr_assert_eq(st->offset, 5);
    sql_stmt_free(st);

    st = parse_ok("SELECT COUNT(*)");
    cr_assert_null(st->table);
    cr_assert_str_eq(st->items[0].label, "COUNT(*)");
    sql_stmt_free(st);
}

Test(sql_parse, insert_update_delete)
{
    sql_stmt *st = parse_ok("INSERT INTO people (id, name) VALUES (1, 'a'), (2, 'b''c')");
    cr_assert_eq(st->kind, SQL_INSERT);
    cr_assert_eq(st->column_count, 2);
    cr_assert_str_eq(st->columns[1], "name");
    cr_assert_eq(st->column_cols[1], 25);
    cr_assert_eq(st->row_count, 2);
    cr_assert_eq(st->row_lengths[1], 2);
    cr_assert_eq(st->rows[1][1]->value.s.len, 3);
    cr_assert(!memcmp(st->rows[1][1]->value.s.ptr, "b'c", 3));
    sql_stmt_free(st);

    st = parse_ok("insert into t values (1)");
    cr_assert_null(st->columns);
    cr_assert_eq(st->row_count, 1);
    sql_stmt_free(st);

    st = parse_ok("UPDATE people SET age = age + 1, people.name = 'x' WHERE id = 3");
    cr_assert_eq(st->kind, SQL_UPDATE);
    cr_assert_eq(st->set_count, 2);
    cr_assert_str_eq(st->sets[1].column, "name");
    cr_assert_not_null(st->where);
    sql_stmt_free(st);

    st = parse_ok("DELETE FROM people");
    cr_assert_eq(st->kind, SQL_DELETE);
    cr_assert_null(st->where);
    sql_stmt_free(st);
}

Test(sql_parse, errors_name_the_token_and_its_column)
{
    parse_fails("SELECT * FORM people", "syntax error at 'FORM'", 10);
    parse_fails("SELECT * FROM", "syntax error at end of input", 14);
    parse_fails("", "syntax error at end of input", 1);
    parse_fails("SELEKT 1", "syntax error at 'SELEKT'", 1);
    parse_fails("SELECT a = b = c FROM t", "syntax error at '='", 14);
    parse_fails("SELECT (1 + 2 FROM t", "syntax error at 'FROM'", 15);
    parse_fails("SELECT 1 FROM t LIMIT -1", "syntax error at '-'", 23);
    parse_fails("SELECT 1 FROM t WHERE", "syntax error at end of input", 22);
    parse_fails("SELECT 1; SELECT 2", "syntax error at 'SELECT'", 11);
    parse_fails("UPDATE t SET", "syntax error at end of input", 13);
    parse_fails("UPDATE t SET a == ", "syntax error at end of input", 19);
    parse_fails("INSERT INTO t (a) VALUES", "syntax error at end of input", 25);
    parse_fails("INSERT INTO t VALUES (1,)", "syntax error at ')'", 25);
    parse_fails("DELETE t", "syntax error at 't'", 8);
    parse_fails("SELECT a NOT b", "syntax error at 'b'", 14);
    parse_fails("SELECT NULL", "NULL is not supported", 8);
    parse_fails("SELECT a FROM t WHERE a IS 1", "IS is not supported", 25);
    parse_fails("SELECT lowr(a)", "unknown function 'lowr'", 8);
    parse_fails("SELECT 18446744073709551616", "integer 18446744073709551616 is out of range", 8);
    parse_fails("SELECT 1e999", "float 1e999 is out of range", 8);
    parse_fails("SELECT a LIKE 'b' ESCAPE 'xy'", "ESCAPE takes one character", 26);
    /* GROUP BY takes expressions and numbers since issue 14; a bad one is
     * still named. */
    parse_fails("SELECT a FROM t GROUP BY a +", "syntax error at end of input", 29);

    sql_stmt *st;
    sql_error err;
    cr_assert_eq(sql_parse("SELECT a\nFROM t\nWHERE a >< 2", 28, &st, &err), -1);
    cr_assert_eq(err.line, 3);
    cr_assert_eq(err.col, 10);
    char text[256];
    sql_error_text(&err, true, text, sizeof text);
    cr_assert_str_eq(text, "syntax error at '<' (line 3, col 10)");
    sql_error_text(&err, false, text, sizeof text);
    cr_assert_str_eq(text, "syntax error at '<' (col 10)");
}

/* head, then unit n times, then tail: a statement too long to write out. */
static char *repeated(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *text = malloc(hl + ul * n + tl + 1);
    cr_assert_not_null(text);
    memcpy(text, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(text + hl + ul * i, unit, ul);
    memcpy(text + hl + ul * n, tail, tl + 1);
    return text;
}

/* Parses and plans text (no table), which must fail with exactly the
 * one-line message `want`. */
static void too_deep(char *text, const char *want)
{
    run_result r = run(NULL, text);
    cr_assert_eq(r.rc, -1, "a statement of %zu bytes succeeded", strlen(text));
    char line[700];
    sql_error_text(&r.err, false, line, sizeof line);
    cr_assert_str_eq(line, want);
    free(text);
}

/* Every way of nesting, far past the limit: the parser stops at the
 * token that passes it, so no later pass (which recurses) sees the tree.
 * A left-deep chain is as deep as it is long. */
Test(sql_parse, deep_nesting_is_an_error_naming_the_token_not_a_crash)
{
    too_deep(repeated("SELECT 1", "+1", 99999, ""),
             "expression nested deeper than 1000 levels at '+' (col 2007)");
    too_deep(repeated("SELECT TRUE", " AND TRUE", 11999, ""),
             "expression nested deeper than 1000 levels at 'AND' (col 9004)");
    too_deep(repeated("SELECT FALSE", " OR FALSE", 11999, ""),
             "expression nested deeper than 1000 levels at 'OR' (col 9005)");
    too_deep(repeated("SELECT 1", " * 1", 59999, ""),
             "expression nested deeper than 1000 levels at '*' (col 4006)");
    char *parens = repeated("SELECT ", "(", 100000, "1");
    char *closed = repeated(parens, ")", 100000, "");
    free(parens);
    too_deep(closed, "expression nested deeper than 1000 levels at '(' (col 1007)");
    too_deep(repeated("SELECT ", "NOT ", 100000, "TRUE"),
             "expression nested deeper than 1000 levels at 'NOT' (col 4004)");
    too_deep(repeated("SELECT ", "- ", 100000, "1"),
             "expression nested deeper than 1000 levels at '-' (col 2006)");
    /* Function calls and IN lists hold whole expressions: they recursed
     * with no bound at all. */
    too_deep(repeated("SELECT ", "COUNT(", 100000, "1"),
             "expression nested deeper than 1000 levels at 'COUNT' (col 6002)");
    too_deep(repeated("SELECT ", "1 IN (", 100000, "1"),
             "expression nested deeper than 1000 levels at 'IN' (col 6004)");
    /* Levels add up across kinds: 500 parentheses around a sum of 501
     * terms pass the limit at the outermost. */
    parens = repeated("SELECT ", "(", 500, "1");
    char *sum = repeated(parens, "+1", 500, "");
    free(parens);
    too_deep(repeated(sum, ")", 500, ""),
             "expression nested deeper than 1000 levels at '(' (col 8)");
    free(sum);
}

/* ---- evaluator ---------------------------------------------------------- */

Test(sql_eval, integer_arithmetic_truncates_and_floats_mix_in)
{
    EXPECT_ROWS(NULL, "SELECT 7 / 2 a, -7 / 2 b, 7 % 3 c, -7 % 3 d, 7 % -3 e",
                "a|b|c|d|e\n3|-3|1|-1|1\n");
    EXPECT_ROWS(NULL, "SELECT 1.5 * 2, 7 / 2.0, 0x10 + 1, 5 % 1.5, 2 - 3, -(-4), +5",
                "1.5 * 2|7 / 2.0|0x10 + 1|5 % 1.5|2 - 3|-(-4)|+5\n3|3.5|17|0.5|-1|4|5\n");
    EXPECT_ROWS(NULL, "SELECT 0.1 + 0.2, 1e300 * 1e300, 1 / 3.0",
                "0.1 + 0.2|1e300 * 1e300|1 / 3.0\n0.30000000000000004|inf|0.3333333333333333\n");
}

Test(sql_eval, integers_span_i64_and_u64)
{
    EXPECT_ROWS(NULL, "SELECT 9223372036854775807 + 1 a, -9223372036854775808 b, "
                      "18446744073709551615 c, -9223372036854775808 / -1 d, "
                      "18446744073709551615 - 18446744073709551615 e",
                "a|b|c|d|e\n9223372036854775808|-9223372036854775808|18446744073709551615|"
                "9223372036854775808|0\n");
}

Test(sql_eval, integer_overflow_is_an_error_naming_the_operation)
{
    run_fails(NULL, "SELECT 18446744073709551615 + 1",
              "integer overflow in addition: 18446744073709551615 + 1");
    run_fails(NULL, "SELECT -9223372036854775808 - 1",
              "integer overflow in subtraction: -9223372036854775808 - 1");
    run_fails(NULL, "SELECT 4294967296 * 4294967296",
              "integer overflow in multiplication: 4294967296 * 4294967296");
    run_fails(NULL, "SELECT 18446744073709551615 * 18446744073709551615",
              "integer overflow in multiplication");
    run_fails(NULL, "SELECT 18446744073709551615 * -1", "integer overflow in multiplication");
    run_fails(NULL, "SELECT -(9223372036854775809)",
              "integer overflow in negation: -9223372036854775809");
    run_result r = run(NULL, "SELECT 1 + (18446744073709551615 + 1)");
    cr_assert_eq(r.rc, -1);
    cr_assert_eq(r.err.col, 34, "col %u", r.err.col);
}

Test(sql_eval, division_and_modulo_by_zero_are_errors)
{
    run_fails(NULL, "SELECT 1 / 0", "division by zero: 1 / 0");
    run_fails(NULL, "SELECT 1 % 0", "modulo by zero: 1 % 0");
    run_fails(NULL, "SELECT 1.5 / 0", "division by zero: 1.5 / 0");
    run_fails(NULL, "SELECT 1 / 0.0", "division by zero: 1 / 0");
    run_fails(NULL, "SELECT 2.5 % 0.0", "modulo by zero");
    run_fails(NULL, "SELECT -9223372036854775808 % 0", "modulo by zero");
}

Test(sql_eval, comparisons_across_integers_and_floats_are_exact)
{
    EXPECT_ROWS(NULL,
                "SELECT 18446744073709551615 > -1, 18446744073709551615 > 9223372036854775807,"
                " -9223372036854775808 < 18446744073709551615, 1 = 1.0, 0.5 > 0, -0.5 < 0,"
                " 18446744073709551615 < 1e20, -9223372036854775808 > -1e19,"
                " 9007199254740993 > 9007199254740992.0, 9007199254740993 != 9007199254740992.0,"
                " 18446744073709551615 < 18446744073709551616.0, 2 >= 2, 2 <= 1",
                "18446744073709551615 > -1|18446744073709551615 > 9223372036854775807|"
                "-9223372036854775808 < 18446744073709551615|1 = 1.0|0.5 > 0|-0.5 < 0|"
                "18446744073709551615 < 1e20|-9223372036854775808 > -1e19|"
                "9007199254740993 > 9007199254740992.0|9007199254740993 != 9007199254740992.0|"
                "18446744073709551615 < 18446744073709551616.0|2 >= 2|2 <= 1\n"
                "true|true|true|true|true|true|true|true|true|true|true|true|false\n");
    /* Converting the integer to double would call these equal. */
    EXPECT_ROWS(NULL, "SELECT 9007199254740993 = 9007199254740992.0 x", "x\nfalse\n");
    EXPECT_ROWS(NULL, "SELECT 18446744073709551615 = 18446744073709551616.0 x", "x\nfalse\n");
}

Test(sql_eval, nan_compares_unordered_and_sorts_last)
{
    sql_value nan = {.type = SQL_T_FLOAT, .f = NAN}, one = {.type = SQL_T_INT, .i = 1};
    sql_value inf = {.type = SQL_T_FLOAT, .f = INFINITY};
    bool unordered;
    sql_compare(&nan, &one, &unordered);
    cr_assert(unordered);
    sql_compare(&one, &nan, &unordered);
    cr_assert(unordered);
    sql_compare(&nan, &nan, &unordered);
    cr_assert(unordered);
    cr_assert_gt(sql_compare_total(&nan, &inf), 0);
    cr_assert_lt(sql_compare_total(&one, &nan), 0);
    cr_assert_eq(sql_compare_total(&nan, &nan), 0);
    cr_assert_lt(sql_compare(&one, &inf, &unordered), 0);
    cr_assert(!unordered);
}

Test(sql_eval, text_bool_in_and_between)
{
    EXPECT_ROWS(NULL, "SELECT 'abc' < 'abd', 'ab' < 'abc', 'b' > 'abc', '' = '', 'B' < 'a'",
                "'abc' < 'abd'|'ab' < 'abc'|'b' > 'abc'|'' = ''|'B' < 'a'\n"
                "true|true|true|true|true\n");
    EXPECT_ROWS(NULL, "SELECT 3 IN (1, 2, 3) a, 4 NOT IN (1, 2) b, 2.0 IN (1, 2) c, "
                      "'x' IN ('y') d, 5 BETWEEN 1 AND 5 e, 0 NOT BETWEEN 1 AND 5 f, "
                      "3 BETWEEN 5 AND 1 g",
                "a|b|c|d|e|f|g\ntrue|true|true|false|true|true|false\n");
    EXPECT_ROWS(NULL, "SELECT true AND false a, true OR false b, NOT false c, false = false d, "
                      "true > false e, NOT 1 = 2 f",
                "a|b|c|d|e|f\nfalse|true|true|true|true|true\n");
}

Test(sql_eval, and_or_short_circuit_past_errors)
{
    EXPECT_ROWS(NULL, "SELECT false AND 1 / 0 = 1 a, true OR 1 / 0 = 1 b", "a|b\nfalse|true\n");
    run_fails(NULL, "SELECT true AND 1 / 0 = 1", "division by zero");
}

Test(sql_eval, type_errors_are_found_before_running)
{
    run_fails(NULL, "SELECT 'a' + 1", "cannot apply '+' to text and integer");
    run_fails(NULL, "SELECT -'a'", "cannot apply '-' to text");
    run_fails(NULL, "SELECT 'a' = 1", "cannot compare text with integer");
    run_fails(NULL, "SELECT true < 'a'", "cannot compare bool with text");
    run_fails(NULL, "SELECT 1 AND true", "AND needs bool operands, not integer");
    run_fails(NULL, "SELECT NOT 'x'", "NOT needs bool operands, not text");
    run_fails(NULL, "SELECT 1 LIKE 'a'", "LIKE needs text, not integer LIKE text");
    run_fails(NULL, "SELECT 1 IN (1, 'a')", "cannot compare integer with text");
    run_fails(NULL, "SELECT 1 BETWEEN 'a' AND 2", "cannot compare integer with text");
    run_fails(NULL, "SELECT age", "SELECT without FROM: 'age' is not a value");
    run_fails(NULL, "SELECT COUNT(*)", "aggregates need a FROM");
}

static void like(const char *text, const char *pat, int escape, bool want)
{
    bool got = sql_like(text, strlen(text), pat, strlen(pat), escape);
    cr_assert_eq(got, want, "'%s' LIKE '%s' (escape %d): %d", text, pat, escape, got);
}

Test(sql_eval, like_edge_cases)
{
    like("", "", -1, true);          /* empty pattern matches only empty text */
    like("abc", "", -1, false);
    like("", "%", -1, true);         /* only % matches everything */
    like("abc", "%", -1, true);
    like("abc", "%%%", -1, true);
    like("", "_", -1, false);
    like("abc", "a_c", -1, true);
    like("ab", "a_", -1, true);      /* _ at the end */
    like("a", "a_", -1, false);
    like("abcd", "ab_", -1, false);
    like("a.c", "a.c", -1, true);    /* every other character is literal */
    like("abc", "a.c", -1, false);
    like("a*c", "a*c", -1, true);
    like("abc", "a*c", -1, false);
    like("a[b]c", "a[b]c", -1, true);
    like("ABC", "abc", -1, false);   /* case-sensitive */
    like("abc", "ABC", -1, false);
    like("aaab", "%ab", -1, true);   /* backtracking */
    like("abcabd", "%abd", -1, true);
    like("mississippi", "%iss%ppi", -1, true);
    like("mississippi", "m%ss%ss%", -1, true);
    like("mississippi", "m%ss%ss%ss%", -1, false);
    like("ab", "%b%c", -1, false);
    like("abc", "%b%", -1, true);
    like("\xc3\xa9", "_", -1, true);  /* _ is one UTF-8 character */
    like("n\xc3\xa9", "n_", -1, true);
    like("n\xc3\xa9x", "n_x", -1, true);
    like("\xe2\x82\xac", "%_", -1, true);
    like("\xff", "_", -1, true);     /* a malformed byte counts as one */
    like("50%", "50!%", '!', true);  /* ESCAPE makes % and _ literal */
    like("500", "50!%", '!', false);
    like("a_b", "a!_b", '!', true);
    like("axb", "a!_b", '!', false);
    like("a!b", "a!!b", '!', true);
    like("a!xb", "a!_b", -1, true);  /* no escape character by default */
    like("a\\xb", "a\\_b", -1, true); /* backslash is not an escape */
    like("ab!", "ab!", '!', true);   /* an escape at the end is literal */
}

Test(sql_eval, value_text_forms)
{
    char buf[64];
    const char *text;
    size_t len;
    sql_value f32 = {.type = SQL_T_FLOAT, .f = (float)0.1, .single = true};
    sql_value_text(&f32, buf, sizeof buf, &text, &len);
    cr_assert_str_eq(text, "0.1");
    sql_value f64 = {.type = SQL_T_FLOAT, .f = (float)0.1};
    sql_value_text(&f64, buf, sizeof buf, &text, &len);
    cr_assert_str_eq(text, "0.10000000149011612");
    sql_value nan = {.type = SQL_T_FLOAT, .f = -NAN};
    sql_value_text(&nan, buf, sizeof buf, &text, &len);
    cr_assert_str_eq(text, "nan");
    sql_value bytes = {.type = SQL_T_BYTES, .s = {"\x01\xab", 2}};
    sql_value_text(&bytes, buf, sizeof buf, &text, &len);
    cr_assert_str_eq(text, "0x01ab");
    cr_assert_eq(len, 6);
    sql_value big = {.type = SQL_T_INT, .i = SQL_INT_MAX};
    sql_value_text(&big, buf, sizeof buf, &text, &len);
    cr_assert_str_eq(text, "18446744073709551615");
}

/* ---- executor ----------------------------------------------------------- */

Test(sql_exec, select_star_where_scan)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT * FROM people WHERE age > 30",
                "id|name|age|city|score|big|neg|flag|f\n"
                "3|Carol|35|Paris|8.25|9223372036854775808|0|true|2\n"
                "5|Eve|41|London|9|0|100|true|0\n");
    EXPECT_ROWS(db, "SELECT name, f FROM people WHERE name LIKE '%e' OR f = 0.1",
                "name|f\nAlice|0.1\nDave|-1\nEve|0\n");
    EXPECT_ROWS(db, "SELECT people.name FROM people WHERE city IN ('Berlin', 'Rome')",
                "name\nDave\n");
    EXPECT_ROWS(db, "SELECT id, big FROM people WHERE big > 9223372036854775807",
                "id|big\n1|18446744073709551615\n3|9223372036854775808\n");
    EXPECT_ROWS(db, "SELECT id FROM people WHERE neg < -5 OR neg BETWEEN 50 AND 100",
                "id\n2\n5\n");
    EXPECT_ROWS(db, "SELECT id FROM people WHERE flag AND NOT city = 'Paris'", "id\n5\n");
    EXPECT_ROWS(db, "SELECT id * 10 AS x, age - 50 FROM people WHERE id <= 2",
                "x|age - 50\n10|-20\n20|-25\n");
    run_result r = run(db, "SELECT id FROM people WHERE age > 100");
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.rows, 0);
    cr_assert_str_eq(output, "id\n");
    finish(db);
}

Test(sql_exec, order_by_several_keys_limit_and_offset)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT name, age, city FROM people ORDER BY age DESC, name",
                "name|age|city\nEve|41|London\nCarol|35|Paris\nAlice|30|Paris\n"
                "Bob|25|London\nDave|25|Berlin\n");
    EXPECT_ROWS(db, "SELECT name FROM people ORDER BY city, age DESC",
                "name\nDave\nEve\nBob\nCarol\nAlice\n");
    EXPECT_ROWS(db, "SELECT name n, age FROM people ORDER BY 2, n DESC LIMIT 3",
                "n|age\nDave|25\nBob|25\nAlice|30\n");
    EXPECT_ROWS(db, "SELECT name FROM people ORDER BY id LIMIT 2 OFFSET 3", "name\nDave\nEve\n");
    EXPECT_ROWS(db, "SELECT name FROM people ORDER BY score * -1 LIMIT 1", "name\nAlice\n");
    EXPECT_ROWS(db, "SELECT id FROM people LIMIT 2", "id\n1\n2\n");
    EXPECT_ROWS(db, "SELECT id FROM people LIMIT 2 OFFSET 4", "id\n5\n");
    EXPECT_ROWS(db, "SELECT id FROM people LIMIT 0", "id\n");
    EXPECT_ROWS(db, "SELECT id FROM people ORDER BY big DESC LIMIT 2", "id\n1\n3\n");
    run_fails(db, "SELECT id FROM people ORDER BY 3", "ORDER BY 3: the result has 1 column");
    finish(db);
}

Test(sql_exec, group_by_with_aggregates)
{
    vmdb_db *db = people_db();
    EXPECT_ROWS(db, "SELECT city, COUNT(*), SUM(age), MIN(name), MAX(score), AVG(age) "
                    "FROM people GROUP BY city ORDER BY city",
                "city|COUNT(*)|SUM(age)|MIN(name)|MAX(score)|AVG(age)\n"
                "Berlin|1|25|Dave|6.5|25\nLondon|2|66|Bob|9|33\nParis|2|65|Alice|9.5|32.5\n");
    /* Without ORDER BY, groups come in the order they were first met. */
    EXPECT_ROWS(db, "SELECT city, COUNT(*) AS n FROM people GROUP BY city",
                "city|n\nParis|2\nLondon|2\nBerlin|1\n");
    EXPECT_ROWS(db, "SELECT COUNT(*), SUM(score), MIN(big), MAX(big), SUM(neg + 0) FROM people",
                "COUNT(*)|SUM(score)|MIN(big)|MAX(big)|SUM(neg + 0)\n"
                "5|40.25|0|18446744073709551615|-9223372036854775706\n");
    EXPECT_ROWS(db, "SELECT age, COUNT(id) FROM people WHERE age < 40 GROUP BY age "
                    "ORDER BY COUNT(id) DESC, age",
                "age|COUNT(id)\n25|2\n30|1\n35|1\n");
    EXPECT_ROWS(db, "SELECT city, SUM(age) * 2 s FROM people GROUP BY city ORDER BY s LIMIT 1",
                "city|s\nBerlin|50\n");
    EXPECT_ROWS(db, "SELECT flag, city, COUNT(*) FROM people GROUP BY flag, city ORDER BY 1, 2",
                "flag|city|COUNT(*)\nfalse|Berlin|1\nfalse|London|1\ntrue|London|1\n"
                "true|Paris|2\n");
    run_fails(db, "SELECT SUM(big) FROM people", "integer overflow in SUM(big)");
    run_fails(db, "SELECT name, COUNT(*) FROM people GROUP BY city",
              "people.name must be in GROUP BY or inside an aggregate");
    run_fails(db, "SELECT SUM(name) FROM people", "SUM of text: a number is needed");
    run_fails(db, "SELECT COUNT(*) FROM people WHERE COUNT(*) > 1",
              "COUNT is not allowed in WHERE");
    run_fails(db, "SELECT MAX(MIN(age)) FROM people", "MIN inside another aggregate");
    finish(db);
}

Test(sql_exec, aggregates_over_no_rows_have_no_null)
{
    vmdb_db *db = people_db();
    run_result r = run(db, "SELECT COUNT(*), SUM(age) FROM people WHERE age > 100");
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.rows, 1);
    cr_assert_str_eq(output, "COUNT(*)|SUM(age)\n0|0\n");
    /* MIN, MAX and AVG of nothing would be NULL: no row instead. */
    r = run(db, "SELECT COUNT(*), MIN(age) FROM people WHERE age > 100");
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.rows, 0);
    r = run(db, "SELECT city, COUNT(*) FROM people WHERE age > 100 GROUP BY city");
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.rows, 0);
    finish(db);
}

Test(sql_exec, insert_update_delete_change_the_table)
{
    vmdb_db *db = people_db();
    run_result r = run(db, "INSERT INTO people (id, name, age) VALUES (6, 'it''s', 7), "
                           "(7, 'Gus', 3 * 4)");
    cr_assert_eq(r.rc, 0, "%s", r.err.message);
    cr_assert_eq(r.changed, 2);
    EXPECT_ROWS(db, "SELECT id, name, age, city, score, flag FROM people WHERE id >= 6",
                "id|name|age|city|score|flag\n6|it's|7||0|false\n7|Gus|12||0|false\n");
    r = run(db, "INSERT INTO people VALUES (8, 'Hal', 1, 'Oslo', 1.5, 2, -3, true, 0.5)");
    cr_assert_eq(r.rc, 0, "%s", r.err.message);
    EXPECT_ROWS(db, "SELECT * FROM people WHERE id = 8",
                "id|name|age|city|score|big|neg|flag|f\n8|Hal|1|Oslo|1.5|2|-3|true|0.5\n");

    r = run(db, "UPDATE people SET age = age + 1, city = 'Rome' WHERE city = 'Paris'");
    cr_assert_eq(r.rc, 0, "%s", r.err.message);
    cr_assert_eq(r.changed, 2);
    EXPECT_ROWS(db, "SELECT id, age, city FROM people WHERE city = 'Rome'",
                "id|age|city\n1|31|Rome\n3|36|Rome\n");
    /* Every SET reads the record as it was. */
    r = run(db, "UPDATE people SET age = neg, neg = age WHERE id = 5");
    cr_assert_eq(r.rc, 0, "%s", r.err.message);
    EXPECT_ROWS(db, "SELECT age, neg FROM people WHERE id = 5", "age|neg\n100|41\n");

    r = run(db, "DELETE FROM people WHERE age < 20");
    cr_assert_eq(r.rc, 0, "%s", r.err.message);
    cr_assert_eq(r.changed, 3);
    EXPECT_ROWS(db, "SELECT COUNT(*) FROM people", "COUNT(*)\n5\n");
    r = run(db, "DELETE FROM people WHERE id = 99");
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.changed, 0);
    r = run(db, "DELETE FROM people");
    cr_assert_eq(r.changed, 5);
    EXPECT_ROWS(db, "SELECT COUNT(*) FROM people", "COUNT(*)\n0\n");
    finish(db);
}

Test(sql_exec, update_can_change_the_key)
{
    vmdb_db *db = people_db();
    run_result r = run(db, "UPDATE people SET id = 50 WHERE id = 5");
    cr_assert_eq(r.rc, 0, "%s", r.err.message);
    EXPECT_ROWS(db, "SELECT name FROM people WHERE id = 50", "name\nEve\n");
    EXPECT_ROWS(db, "SELECT name FROM people WHERE id = 5", "name\n");
    run_fails(db, "UPDATE people SET id = 1 WHERE id = 2", "people: record");
    finish(db);
}

Test(sql_exec, assignments_are_range_checked_by_the_library)
{
    vmdb_db *db = people_db();
    run_fails(db, "UPDATE people SET age = 300 WHERE id = 1",
              "people.age: value 300 does not fit u8");
    run_fails(db, "INSERT INTO people (id, age) VALUES (9, -1)",
              "people.age: value -1 does not fit u8");
    run_fails(db, "INSERT INTO people (id, name) VALUES (9, 'a name longer than sixteen')",
              "people.name: 'a name longer than sixteen' is 26 bytes, more than str16");
    run_fails(db, "INSERT INTO people (id, age) VALUES (9, 1.5)",
              "people.age: value 1.5 is not an integer");
    run_fails(db, "INSERT INTO people (id, age) VALUES (9, 'abc')", "people.age: 'abc'");
    run_fails(db, "INSERT INTO people (id, name) VALUES (9, 5)",
              "people.name: cannot store integer in str16");
    run_fails(db, "INSERT INTO people (id, flag) VALUES (9, 2)", "people.flag");
    run_fails(db, "INSERT INTO people (id, nope) VALUES (9, 2)", "people: no field 'nope'");
    run_fails(db, "INSERT INTO people (id, id) VALUES (9, 2)", "people.id is named twice");
    run_fails(db, "INSERT INTO people (id, age) VALUES (9)", "row 1 has 1 value for 2 fields");
    run_fails(db, "INSERT INTO people (id, age) VALUES (9, age)",
              "VALUES: 'age' is not a value");
    run_fails(db, "INSERT INTO people (id) VALUES (1)", "people: key already exists");
    run_fails(db, "UPDATE people SET age = 1, age = 2", "people.age is set twice");
    run_fails(db, "UPDATE people SET name = 'x' | 'y'", "unexpected character '|'");
    EXPECT_ROWS(db, "SELECT COUNT(*) FROM people", "COUNT(*)\n5\n");
    finish(db);
}

Test(sql_exec, a_statement_is_all_or_nothing)
{
    vmdb_db *db = people_db();
    /* Alice (30) and Bob (25) fit age + 221, Carol (35) does not: the
     * records already changed in the transaction are dropped with it. */
    run_fails(db, "UPDATE people SET age = age + 221 WHERE id <= 3",
              "people.age: value 256 does not fit u8");
    EXPECT_ROWS(db, "SELECT id, age FROM people WHERE id <= 3",
                "id|age\n1|30\n2|25\n3|35\n");
    /* An integer overflow part way: neg - 1 is fine for Alice, not Bob. */
    run_fails(db, "UPDATE people SET neg = neg - 1",
              "integer overflow in subtraction: -9223372036854775808 - 1");
    EXPECT_ROWS(db, "SELECT id, neg FROM people WHERE id <= 2",
                "id|neg\n1|-5\n2|-9223372036854775808\n");
    /* An INSERT whose second row repeats the first's key writes neither. */
    run_fails(db, "INSERT INTO people (id) VALUES (10), (11), (10)", "key already exists");
    EXPECT_ROWS(db, "SELECT COUNT(*) FROM people WHERE id >= 10", "COUNT(*)\n0\n");
    finish(db);
}

/* The executor writes through its transaction, whose own changes every
 * later write of the statement sees: the second record given a key the
 * first one just took collides with it, as in SQLite. (No statement reads
 * a record back after writing it: UPDATE and DELETE find their records
 * before they change any.) */
Test(sql_exec, a_statement_sees_its_own_writes)
{
    vmdb_db *db = people_db();
    run_fails(db, "UPDATE people SET id = 60 WHERE id >= 4", "already holds that key");
    EXPECT_ROWS(db, "SELECT id FROM people WHERE id >= 4 ORDER BY id", "id\n4\n5\n");
    run_fails(db, "INSERT INTO people (id) VALUES (70), (71), (70)", "key already exists");
    EXPECT_ROWS(db, "SELECT COUNT(*) FROM people WHERE id >= 60", "COUNT(*)\n0\n");
    finish(db);
}

/* A statement whose changes outgrow the log fails whole: the rows it had
 * changed before the log filled up are not committed. */
Test(sql_exec, a_statement_that_outgrows_the_log_changes_nothing)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 64 << 10};
    ASSERT_OK(vmdb_open(test_path("db"), &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u64 key, v:u64", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "t", s, &t));
    vmdb_schema_free(s);
    for (uint64_t at = 0; at < 2000; at += 100) {
        vmdb_txn *txn;
        ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn));
        for (uint64_t id = at; id < at + 100; id++)
            ASSERT_OK(vmdb_txn_put(txn, t, (uint64_t[2]){id, 1}, NULL));
        ASSERT_OK(vmdb_txn_commit(txn));
    }
    run_fails(db, "UPDATE t SET v = v + 1", "more than the log");
    EXPECT_ROWS(db, "SELECT COUNT(*), SUM(v) FROM t", "COUNT(*)|SUM(v)\n2000|2000\n");
    finish(db);
}

Test(sql_exec, index_plan_for_key_equality_and_in)
{
    vmdb_db *db = people_db();
    run_result r = run(db, "SELECT name FROM people WHERE id = 3");
    cr_assert(r.used_index);
    cr_assert_str_eq(output, "name\nCarol\n");
    r = run(db, "SELECT name FROM people WHERE 4 = id");
    cr_assert(r.used_index);
    cr_assert_str_eq(output, "name\nDave\n");
    /* Keys repeated or no record has: each record once, in key order given. */
    r = run(db, "SELECT name FROM people WHERE id IN (5, 1, 99, 5, 2 + 3)");
    cr_assert(r.used_index);
    cr_assert_str_eq(output, "name\nEve\nAlice\n");
    r = run(db, "SELECT name FROM people WHERE id = 3 AND age > 40");
    cr_assert(r.used_index);
    cr_assert_str_eq(output, "name\n");
    r = run(db, "SELECT name FROM people WHERE age > 20 AND (id = 2 AND city = 'London')");
    cr_assert(r.used_index);
    cr_assert_str_eq(output, "name\nBob\n");
    /* Constants no u64 key can equal are no lookups. */
    r = run(db, "SELECT name FROM people WHERE id = -1 OR id = 1");
    cr_assert(!r.used_index);
    cr_assert_str_eq(output, "name\nAlice\n");
    r = run(db, "SELECT name FROM people WHERE id IN (-1, 1.5, 2.0)");
    cr_assert(r.used_index);
    cr_assert_str_eq(output, "name\nBob\n");
    /* Not key = constant: a scan. */
    const char *scans[] = {"WHERE age = 30", "WHERE id + 0 = 1", "WHERE id = age - 29",
                           "WHERE id NOT IN (2, 3, 4, 5)", "WHERE id >= 1 AND id <= 1",
                           "WHERE id = 1 OR id = 1"};
    for (size_t i = 0; i < sizeof scans / sizeof scans[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "SELECT name FROM people %s", scans[i]);
        r = run(db, text);
        cr_assert_eq(r.rc, 0, "%s: %s", text, r.err.message);
        cr_assert(!r.used_index, "%s used the index", text);
        cr_assert_str_eq(output, "name\nAlice\n", "%s", text);
    }
    /* Updates and deletes use it too. */
    r = run(db, "UPDATE people SET age = 1 WHERE id IN (1, 2)");
    cr_assert(r.used_index);
    cr_assert_eq(r.changed, 2);
    r = run(db, "DELETE FROM people WHERE id = 2");
    cr_assert(r.used_index);
    cr_assert_eq(r.changed, 1);
    EXPECT_ROWS(db, "SELECT id, age FROM people WHERE age = 1", "id|age\n1|1\n");
    finish(db);
}

static const char *explain(vmdb_db *db, const char *text)
{
    static char buf[4096];
    sql_stmt *st;
    sql_error err;
    cr_assert_eq(sql_parse(text, strlen(text), &st, &err), 0, "%s", err.message);
    sql_plan *plan;
    cr_assert_eq(sql_plan_new(db, "test.db", st, &plan, &err), 0, "%s", err.message);
    FILE *f = fmemopen(buf, sizeof buf, "w");
    sql_plan_explain(plan, f);
    fclose(f);
    sql_plan_free(plan);
    sql_stmt_free(st);
    return buf;
}

Test(sql_exec, explain_names_the_access_path_and_the_steps)
{
    vmdb_db *db = people_db();
    cr_assert_str_eq(explain(db, "SELECT * FROM people WHERE id IN (1, 2) AND age > 3"),
                     "index lookup on people.id (2 keys)\n"
                     "filter: ((id IN (1, 2)) AND (age > 3))\n");
    cr_assert_str_eq(explain(db, "SELECT * FROM people WHERE id = 7"),
                     "index lookup on people.id (1 key)\nfilter: (id = 7)\n");
    cr_assert_str_eq(explain(db, "SELECT city, COUNT(*) FROM people WHERE age > 3 GROUP BY "
                                 "city ORDER BY 2 DESC LIMIT 5 OFFSET 1"),
                     "full scan of people\nfilter: (age > 3)\ngroup by: city\n"
                     "aggregate: COUNT(*)\nsort by: COUNT(*) DESC\nlimit 5 offset 1\n");
    cr_assert_str_eq(explain(db, "UPDATE people SET age = 1, name = 'x' WHERE id = 1"),
                     "index lookup on people.id (1 key)\nfilter: (id = 1)\n"
                     "update people: set age, name\n");
    cr_assert_str_eq(explain(db, "DELETE FROM people"), "full scan of people\n"
                                                        "delete from people\n");
    cr_assert_str_eq(explain(db, "INSERT INTO people (id) VALUES (9), (10)"),
                     "insert 2 records into people\n");
    cr_assert_str_eq(explain(db, "SELECT 1"), "one row, no table\n");
    finish(db);
}

/* Exactly at the limit, 1000 levels, in every pass: the planner's
 * binding, its constant folding and checks, the evaluator on each record,
 * aggregates, and the printer of --explain all recurse over these trees.
 * Under ASan (make test-asan), whose frames are larger, this is the test
 * that the limit leaves room on the stack. */
Test(sql_exec, expressions_as_deep_as_the_limit_plan_run_and_explain)
{
    vmdb_db *db = people_db();
    struct {
        char *text;
        const char *rows;
    } at_limit[] = {
        /* 999 terms and the comparison: 1000 levels. */
        {repeated("SELECT id FROM people WHERE id", " + 0", 998, " = 1"), "id\n1\n"},
        {repeated("SELECT id FROM people WHERE age > 26", " AND age > 26", 998, ""),
         "id\n1\n3\n5\n"},
        {repeated("SELECT id FROM people WHERE age < 26", " OR age < 26", 998, ""),
         "id\n2\n4\n"},
        {repeated("SELECT id FROM people WHERE ", "NOT ", 999, "flag"), "id\n2\n4\n"},
        {repeated("SELECT ", "- ", 999, "neg AS m FROM people WHERE id = 2"),
         "m\n9223372036854775808\n"},
        {repeated("SELECT SUM(age", " + 0", 998, ") FROM people"), NULL},
        {repeated("SELECT 1", " + 1", 999, " AS n"), "n\n1000\n"},
        {repeated("SELECT city FROM people GROUP BY city ORDER BY COUNT(*)", " + 0", 998,
                  " DESC, city LIMIT 1"),
         "city\nLondon\n"},
    };
    for (size_t i = 0; i < sizeof at_limit / sizeof at_limit[0]; i++) {
        const char *got = query(db, at_limit[i].text);
        if (at_limit[i].rows)
            cr_assert_str_eq(got, at_limit[i].rows, "statement %zu:\n%s", i, got);
        else
            cr_assert(strstr(got, "\n156\n"), "statement %zu:\n%s", i, got);
        cr_assert(strlen(explain(db, at_limit[i].text)) > 0);
        free(at_limit[i].text);
    }
    char *parens = repeated("SELECT ", "(", 999, "id");
    char *text = repeated(parens, ")", 999, " FROM people WHERE id = 3");
    EXPECT_ROWS(db, text, "id\n3\n");
    free(text);
    free(parens);
    /* One more level is refused. */
    text = repeated("SELECT id FROM people WHERE id", " + 0", 999, " = 1");
    run_fails(db, text, "expression nested deeper than 1000 levels at '='");
    free(text);
    text = repeated("SELECT id FROM people WHERE ", "NOT ", 1000, "flag");
    run_fails(db, text, "expression nested deeper than 1000 levels at 'NOT'");
    free(text);
    finish(db);
}

/* The ids of `SELECT id, <cond> FROM t` whose cond came out true: the IN
 * of a SELECT item is searched item by item, a WHERE's binary-searched. */
static const char *ids_where_item_true(vmdb_db *db, const char *cond)
{
    static char ids[4096];
    char text[512];
    snprintf(text, sizeof text, "SELECT id, %s FROM t ORDER BY id", cond);
    const char *rows = strchr(query(db, text), '\n') + 1;
    size_t n = (size_t)snprintf(ids, sizeof ids, "id\n");
    for (const char *line = rows; *line; line = strchr(line, '\n') + 1) {
        const char *bar = strchr(line, '|');
        if (!strncmp(bar + 1, "true\n", 5))
            n += (size_t)snprintf(ids + n, sizeof ids - n, "%.*s\n", (int)(bar - line), line);
    }
    return ids;
}

Test(sql_exec, in_lists_of_constants_agree_with_the_search_one_by_one)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_OK(vmdb_open(test_path("db"), &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u64 key, i:i64, f:f64, s:str8, b:bytes2, flag:bool", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "t", s, &t));
    static const char *const rows[][5] = {
        {"1", "3", "a", "0x0102", "true"},
        {"2", "-1", "ab", "0x0100", "false"},
        {"3", "9223372036854775807", "", "0xffff", "true"},
        {"4", "2", "b", "0x0000", "false"},
        {"5", "-9223372036854775808", "abc", "0x0001", "true"},
        {"6", "0", "ba", "0x0101", "false"},
    };
    const double floats[] = {0.5, NAN, -0.0, 1e300, 18446744073709551616.0, 1};
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn));
    for (size_t r = 0; r < 6; r++) {
        unsigned char rec[64] = {0};
        ASSERT_OK(vmdb_record_set_text(s, rec, 0, rows[r][0]));
        ASSERT_OK(vmdb_record_set_text(s, rec, 1, rows[r][1]));
        ASSERT_OK(vmdb_record_set_f64(s, rec, 2, floats[r]));
        for (size_t f = 2; f < 5; f++)
            ASSERT_OK(vmdb_record_set_text(s, rec, f + 1, rows[r][f]));
        ASSERT_OK(vmdb_txn_put(txn, t, rec, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    vmdb_schema_free(s);
    static const char *const conds[] = {
        "i IN (3, -1, 9223372036854775807, 2.0, 2.5, -9223372036854775808, 3)",
        "i NOT IN (3, 2.0, 1e300)",
        "f IN (1, 0.5, 0, -2, 1e300, 18446744073709551615, 18446744073709551616.0)",
        "f NOT IN (0.5, 3, 0.0)",
        "s IN ('b', 'a', 'ab', '', 'b')",
        "s NOT IN ('abc', 'ba')",
        "b IN ('0x0102', '0x01', '0xffff', '0x0001')",
        "flag IN (TRUE)",
        "flag IN (FALSE, FALSE)",
        "id IN (6, 2, 1, 2)",
        "id + 0 IN (6, 2, 1, 2)",
    };
    for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "SELECT id FROM t WHERE %s ORDER BY id", conds[i]);
        char want[4096];
        snprintf(want, sizeof want, "%s", ids_where_item_true(db, conds[i]));
        EXPECT_ROWS(db, text, want);
        cr_assert_gt(strlen(want), 3, "%s matches nothing: a weak case", conds[i]);
    }
    finish(db);
}

static uint64_t ids_seen[20000];
static size_t ids_seen_count;

static int collect_id(void *ctx, const sql_value *cells)
{
    (void)ctx;
    cr_assert_lt(ids_seen_count, sizeof ids_seen / sizeof ids_seen[0]);
    ids_seen[ids_seen_count++] = (uint64_t)cells[0].i;
    return 0;
}

static int ignore_columns(void *ctx, size_t count, const char *const *names,
                          const enum sql_type *types)
{
    (void)ctx, (void)count, (void)names, (void)types;
    return 0;
}

/* 20,000 keys, a fifth of them repeats and some of no record, through the
 * index: each record found comes out once, in the order its key was first
 * written. (Planning them once compared each key with every one before
 * it; how long it takes is bench-query's business, not this test's.) */
Test(sql_exec, an_in_list_of_20000_keys_finds_each_record_once)
{
    enum { RECORDS = 15000, KEYS = 20000, SPREAD = 16001 };
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_OK(vmdb_open(test_path("db"), &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("k:u64 key, v:u32", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "t", s, &t));
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn));
    for (uint64_t k = 1; k <= RECORDS; k++) {
        unsigned char rec[16] = {0};
        memcpy(rec, &k, sizeof k);
        ASSERT_OK(vmdb_txn_put(txn, t, rec, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    vmdb_schema_free(s);

    /* Keys scattered over [1, SPREAD]: KEYS - SPREAD of them repeats, the
     * ones above RECORDS in no record; -1 and 0.5 can be no u64 key. */
    char *text = malloc(64 + KEYS * 8);
    static bool written[SPREAD + 1];
    static uint64_t want[KEYS];
    size_t want_count = 0, distinct = 0;
    size_t n = (size_t)sprintf(text, "SELECT k FROM t WHERE k IN (-1, 0.5");
    for (uint64_t i = 0; i < KEYS; i++) {
        uint64_t k = i * 7919 % SPREAD + 1;
        n += (size_t)sprintf(text + n, ", %llu", (unsigned long long)k);
        if (!written[k]) {
            written[k] = true;
            distinct++;
            if (k <= RECORDS)
                want[want_count++] = k;
        }
    }
    strcpy(text + n, ")");
    cr_assert_eq(distinct, SPREAD);

    char line[64];
    snprintf(line, sizeof line, "index lookup on t.k (%zu keys)\n", distinct);
    cr_assert(!strncmp(explain(db, text), line, strlen(line)), "%.200s", explain(db, text));
    sql_stmt *st;
    sql_error err;
    cr_assert_eq(sql_parse(text, strlen(text), &st, &err), 0, "%s", err.message);
    sql_plan *plan;
    cr_assert_eq(sql_plan_new(db, "test.db", st, &plan, &err), 0, "%s", err.message);
    sql_sink sink = {ignore_columns, collect_id, NULL};
    uint64_t rows, changed;
    ids_seen_count = 0;
    cr_assert_eq(sql_execute(plan, &sink, &rows, &changed, &err), 0, "%s", err.message);
    cr_assert_eq(ids_seen_count, want_count);
    for (size_t i = 0; i < want_count; i++)
        cr_assert_eq(ids_seen[i], want[i], "row %zu: key %llu, wanted %llu", i,
                     (unsigned long long)ids_seen[i], (unsigned long long)want[i]);
    sql_plan_free(plan);
    sql_stmt_free(st);
    free(text);
    finish(db);
}

Test(sql_exec, unknown_names_are_errors_naming_them)
{
    vmdb_db *db = people_db();
    run_result r = run(db, "SELECT * FROM persons");
    cr_assert_eq(r.rc, -1);
    cr_assert_str_eq(r.err.message, "test.db: no table 'persons'");
    cr_assert_eq(r.err.col, 15);
    r = run(db, "SELECT agee FROM people");
    cr_assert_str_eq(r.err.message, "people: no field 'agee'");
    cr_assert_eq(r.err.col, 8);
    run_fails(db, "SELECT x.age FROM people", "'x.age': the table here is people");
    run_fails(db, "UPDATE people SET nope = 1", "people: no field 'nope'");
    run_fails(db, "DELETE FROM people WHERE nope = 1", "people: no field 'nope'");
    run_fails(db, "SELECT * FROM people WHERE age", "WHERE needs a bool, not integer");
    /* Names are case-insensitive (issue 14): only a name no field has is a miss. */
    run_fails(db, "SELECT Nmae FROM people", "no field 'Nmae'");
    finish(db);
}

Test(sql_exec, bytes_fields_compare_and_print_as_hex)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_OK(vmdb_open(test_path("db"), &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("tag:bytes4 key, note:str8", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "tags", s, &t));
    vmdb_schema_free(s);
    run_result r = run(db, "INSERT INTO tags VALUES ('0x01020304', 'a'), ('0x01', 'b')");
    cr_assert_eq(r.rc, 0, "%s", r.err.message);
    EXPECT_ROWS(db, "SELECT * FROM tags ORDER BY tag", "tag|note\n0x01000000|b\n0x01020304|a\n");
    r = run(db, "SELECT note FROM tags WHERE tag = '0x01020304'");
    cr_assert(r.used_index);
    cr_assert_str_eq(output, "note\na\n");
    EXPECT_ROWS(db, "SELECT note FROM tags WHERE tag = '0x01'", "note\nb\n");
    EXPECT_ROWS(db, "SELECT note FROM tags WHERE tag > '0x0102'", "note\na\n");
    run_fails(db, "SELECT note FROM tags WHERE tag = 'zz'", "'zz' is not hex bytes (0x...)");
    run_fails(db, "SELECT note FROM tags WHERE tag = 1", "cannot compare bytes with integer");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_exec, string_keys_use_the_index)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_OK(vmdb_open(test_path("db"), &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("name:str8 key, n:i32", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "words", s, &t));
    vmdb_schema_free(s);
    cr_assert_eq(run(db, "INSERT INTO words VALUES ('one', 1), ('two', 2), ('three', -3)").rc, 0);
    run_result r = run(db, "SELECT n FROM words WHERE name IN ('three', 'a string too long')");
    cr_assert(r.used_index);
    cr_assert_str_eq(output, "n\n-3\n");
    r = run(db, "SELECT n FROM words WHERE name LIKE 't%' ORDER BY n");
    cr_assert(!r.used_index);
    cr_assert_str_eq(output, "n\n-3\n2\n");
    vmdb_close(db);
    remove_test_dir();
}

Test(sql_exec, like_shortcuts_agree_with_the_general_matcher)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_OK(vmdb_open(test_path("db"), &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("n:u32 key, w:str8", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "words", s, &t));
    vmdb_schema_free(s);
    static const char *const words[] = {"", "a", "ab", "abc", "cab", "abab", "b%c", "a_c",
                                        "%", "xabcx", "aaaa"};
    size_t nwords = sizeof words / sizeof words[0];
    for (size_t i = 0; i < nwords; i++) {
        char text[128];
        snprintf(text, sizeof text, "INSERT INTO words VALUES (%zu, '%s')", i, words[i]);
        cr_assert_eq(run(db, text).rc, 0, "%s", text);
    }
    static const char *const patterns[] = {"", "a", "ab", "a%", "%b", "%ab%", "%%ab%%", "%",
                                           "%%", "abc", "%abc", "abc%", "a%c", "_b%", "b!%c",
                                           "%!_%", "aaa%", "%aaa", "%aa%"};
    for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
        for (int negate = 0; negate < 2; negate++) {
            char text[128], want[512] = "n\n";
            snprintf(text, sizeof text, "SELECT n FROM words WHERE w %sLIKE '%s' ESCAPE '!'",
                     negate ? "NOT " : "", patterns[p]);
            for (size_t i = 0; i < nwords; i++) {
                const char *pat = patterns[p];
                if (sql_like(words[i], strlen(words[i]), pat, strlen(pat), '!') != negate)
                    snprintf(want + strlen(want), sizeof want - strlen(want), "%zu\n", i);
            }
            EXPECT_ROWS(db, text, want);
        }
    }
    vmdb_close(db);
    remove_test_dir();
}

/* The sink may stop a statement: its return comes back. */
static int stop_after_one(void *ctx, const sql_value *cells)
{
    (void)cells;
    return ++*(int *)ctx >= 1 ? 7 : 0;
}

static int no_columns(void *ctx, size_t count, const char *const *names,
                      const enum sql_type *types)
{
    (void)ctx, (void)count, (void)names, (void)types;
    return 0;
}

Test(sql_exec, a_sink_can_stop_the_rows)
{
    vmdb_db *db = people_db();
    sql_stmt *st;
    sql_error err;
    const char *text = "SELECT id FROM people";
    cr_assert_eq(sql_parse(text, strlen(text), &st, &err), 0);
    sql_plan *plan;
    cr_assert_eq(sql_plan_new(db, "db", st, &plan, &err), 0);
    int seen = 0;
    sql_sink sink = {no_columns, stop_after_one, &seen};
    uint64_t rows, changed;
    cr_assert_eq(sql_execute(plan, &sink, &rows, &changed, &err), 7);
    cr_assert_eq(seen, 1);
    sql_plan_free(plan);
    sql_stmt_free(st);
    finish(db);
}

/* ORDER BY with a LIMIT keeps only the rows it needs (a heap); its rows
 * must be exactly the full sort's, ties in the order the rows were read,
 * for every LIMIT and OFFSET. A LIMIT past the heap's bound sorts
 * everything, which gives the reference. */
Test(sql_exec, order_by_with_limit_agrees_with_the_full_sort)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_OK(vmdb_open(test_path("db"), &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u32 key, grade:u8, name:str8", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "p", s, &t));
    vmdb_schema_free(s);
    /* 400 rows, grades 0..9 with many ties, names from a small set. */
    for (unsigned i = 0; i < 400; i += 50) {
        char text[4096];
        int n = snprintf(text, sizeof text, "INSERT INTO p VALUES ");
        for (unsigned j = i; j < i + 50; j++)
            n += snprintf(text + n, sizeof text - (size_t)n, "%s(%u, %u, 'n%u')",
                          j > i ? ", " : "", (j * 7919) % 1000, (j * 31) % 10, (j * 13) % 7);
        cr_assert_eq(run(db, text).rc, 0, "%s", text);
    }
    static const char *const orders[] = {"grade", "grade DESC", "grade, name DESC",
                                         "name, grade DESC, id"};
    static const unsigned limits[][2] = {{1, 0}, {5, 0}, {10, 3}, {37, 100}, {399, 0},
                                         {400, 0}, {50, 390}, {10, 400}};
    for (size_t oi = 0; oi < sizeof orders / sizeof orders[0]; oi++) {
        char text[256];
        snprintf(text, sizeof text, "SELECT id, grade, name FROM p ORDER BY %s LIMIT 100000",
                 orders[oi]);
        char full[65536];
        snprintf(full, sizeof full, "%s", query(db, text));
        for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
            /* The reference: lines [offset, offset + limit) of the full
             * sort, after its header line. */
            char want[65536] = "";
            const char *line = full;
            size_t header = strcspn(line, "\n") + 1;
            strncat(want, line, header);
            line += header;
            for (unsigned k = 0; *line && k < limits[li][1] + limits[li][0]; k++) {
                size_t len = strcspn(line, "\n") + 1;
                if (k >= limits[li][1])
                    strncat(want, line, len);
                line += len;
            }
            snprintf(text, sizeof text,
                     "SELECT id, grade, name FROM p ORDER BY %s LIMIT %u OFFSET %u", orders[oi],
                     limits[li][0], limits[li][1]);
            EXPECT_ROWS(db, text, want);
        }
    }
    vmdb_close(db);
    remove_test_dir();
}
