/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_parse.c - recursive descent from tokens to a statement's syntax
 * tree.
 *
 * One function per precedence level, loosest first:
 *
 *   OR < AND < NOT < comparison, LIKE, IN, BETWEEN < + - < * / % < unary -
 *
 * Comparisons do not chain ("a = b = c" is a syntax error at the second
 * '='), as in PostgreSQL: a chain would only ever compare a bool with
 * something. BETWEEN's bounds are parsed one level tighter than AND, so
 * "x BETWEEN 1 AND 5 AND y" is (x BETWEEN 1 AND 5) AND y.
 *
 * Every node lives in the statement's arena. The parser knows nothing of
 * tables: names are bound, and types checked, by the planner.
 *
 * Nesting is bounded by SQL_MAX_DEPTH (sql.h) twice over: on the way down
 * the levels still open are counted before each recursion, and on the way
 * up each node's height is checked as it is finished, which is the only
 * place a left-deep chain, built by a loop, shows how deep it is.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sql.h"

void sql_stmt_free(sql_stmt *stmt)
{
    if (stmt)
        sql_arena_free(stmt->arena); /* the statement itself is in its arena */
}

/* ---- parser state ------------------------------------------------------- */

typedef struct parser {
    sql_lexer lx;
    sql_token tok;      /* the current token, not yet consumed */
    size_t prev_end;    /* offset just past the last consumed token */
    sql_arena *arena;
    sql_error *err;
    /* Levels open around the current token: parentheses, function calls,
     * IN lists, unary operators and NOTs not yet closed. Each costs the
     * parser a few stack frames, so it is bounded before descending; the
     * height of what is built is bounded as each node is finished. */
    unsigned open_levels;
    unsigned params;    /* '?' placeholders so far */
} parser;

/* The recursive functions below cost stack for every level of nesting,
 * eight frames per parenthesis. What they call only for a literal or an
 * error is kept out of line: inlined, its buffers (a message, a number's
 * digits) would sit in every one of those frames. */
#define OUT_OF_LINE __attribute__((noinline))

OUT_OF_LINE static int oom(parser *p)
{
    return sql_fail(p->err, 0, 0, "out of memory parsing the statement");
}

static void *alloc(parser *p, size_t n)
{
    return sql_arena_alloc(p->arena, n);
}

static char *strndup_arena(parser *p, const char *s, size_t len)
{
    char *d = alloc(p, len + 1);
    if (d)
        memcpy(d, s, len);
    return d;
}

static int next(parser *p)
{
    p->prev_end = p->tok.offset + p->tok.len;
    return sql_lex_next(&p->lx, &p->tok, p->err);
}

OUT_OF_LINE static int syntax_error(parser *p)
{
    if (p->tok.kind == SQL_TOK_END)
        return sql_fail(p->err, p->tok.line, p->tok.col, "syntax error at end of input");
    char q[VMDB_PRINTABLE_CAP];
    vmdb_printable(p->tok.text, p->tok.len, q, sizeof q);
    return sql_fail(p->err, p->tok.line, p->tok.col, "syntax error at '%s'", q);
}

static bool is_kw(const parser *p, enum sql_keyword kw)
{
    return p->tok.kind == SQL_TOK_KEYWORD && p->tok.keyword == kw;
}

static bool is_op(const parser *p, enum sql_op op)
{
    return p->tok.kind == SQL_TOK_OP && p->tok.op == op;
}

static int expect_kw(parser *p, enum sql_keyword kw)
{
    return is_kw(p, kw) ? next(p) : syntax_error(p);
}

static int expect_op(parser *p, enum sql_op op)
{
    return is_op(p, op) ? next(p) : syntax_error(p);
}

/* Is the current token the unquoted word w, in any case? Words that are
 * not keywords (EXPLAIN, JOIN) stay usable as names elsewhere. */
static bool is_word(const parser *p, const char *w)
{
    return p->tok.kind == SQL_TOK_IDENT && p->tok.text[0] != '"' && p->tok.len == strlen(w) &&
           !strncasecmp(p->tok.text, w, p->tok.len);
}

/* What a sqlite3 user may write that vmdb does not have, said so by name
 * rather than as a syntax error; NULL when the current token is none. */
static const char *unsupported_word(const parser *p)
{
    static const struct {
        const char *word, *what;
    } words[] = {
        {"JOIN", "JOIN is not supported: a statement reads one table"},
        {"INNER", "JOIN is not supported: a statement reads one table"},
        {"LEFT", "JOIN is not supported: a statement reads one table"},
        {"RIGHT", "JOIN is not supported: a statement reads one table"},
        {"FULL", "JOIN is not supported: a statement reads one table"},
        {"CROSS", "JOIN is not supported: a statement reads one table"},
        {"NATURAL", "JOIN is not supported: a statement reads one table"},
        {"OUTER", "JOIN is not supported: a statement reads one table"},
        {"UNION", "UNION is not supported"},
        {"INTERSECT", "INTERSECT is not supported"},
        {"EXCEPT", "EXCEPT is not supported"},
        {"WITH", "WITH is not supported"},
        {"CASE", "CASE is not supported"},
        {"EXISTS", "subqueries are not supported"},
        {"OVER", "window functions are not supported"},
        {"COALESCE", "COALESCE is not supported: vmdb has no NULL"},
        {"IFNULL", "IFNULL is not supported: vmdb has no NULL"},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (is_word(p, words[i].word))
            return words[i].what;
    return NULL;
}

OUT_OF_LINE static int not_supported(parser *p, const char *what)
{
    return sql_fail(p->err, p->tok.line, p->tok.col, "%s", what);
}

/* Fails naming what is not supported when the current token is such a
 * word; 0 otherwise. */
static int refuse_unsupported(parser *p)
{
    const char *what = unsupported_word(p);
    return what ? not_supported(p, what) : 0;
}

/* A name: an identifier, its quotes removed ("" inside stands for "). */
static int name(parser *p, const char **out)
{
    if (p->tok.kind != SQL_TOK_IDENT)
        return syntax_error(p);
    const sql_token *t = &p->tok;
    char *d;
    if (t->text[0] == '"') {
        d = alloc(p, t->len);
        if (!d)
            return oom(p);
        size_t n = 0;
        for (size_t i = 1; i + 1 < t->len; i++) {
            d[n++] = t->text[i];
            if (t->text[i] == '"')
                i++;
        }
    } else if (!(d = strndup_arena(p, t->text, t->len))) {
        return oom(p);
    }
    *out = d;
    return next(p);
}

/* A growable array of pointers in the arena: doubling leaves the old
 * copies behind, which the arena frees with everything else. Typed arrays
 * are copied out of it once complete. */
typedef struct ptrvec {
    void **items;
    size_t count, cap;
} ptrvec;

static int push(parser *p, ptrvec *v, void *item)
{
    if (v->count == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 4;
        void **n = alloc(p, ncap * sizeof *n);
        if (!n)
            return oom(p);
        if (v->count)
            memcpy(n, v->items, v->count * sizeof *n);
        v->items = n;
        v->cap = ncap;
    }
    v->items[v->count++] = item;
    return 0;
}

static sql_expr **expr_array(parser *p, const ptrvec *v)
{
    sql_expr **a = alloc(p, (v->count ? v->count : 1) * sizeof *a);
    if (a)
        for (size_t i = 0; i < v->count; i++)
            a[i] = v->items[i];
    return a;
}

/* ---- expressions -------------------------------------------------------- */

static int parse_or(parser *p, sql_expr **out);

static sql_expr *node(parser *p, enum sql_expr_kind kind, const sql_token *at)
{
    sql_expr *e = alloc(p, sizeof *e);
    if (e) {
        e->kind = kind;
        e->line = at->line;
        e->col = at->col;
        e->start = at->offset;
        e->escape = -1;
        e->height = 1;
    }
    return e;
}

/* ---- depth -------------------------------------------------------------- */

OUT_OF_LINE static int too_deep(parser *p, const sql_token *at)
{
    char q[VMDB_PRINTABLE_CAP];
    vmdb_printable(at->text, at->len, q, sizeof q);
    return sql_fail(p->err, at->line, at->col, "expression nested deeper than %d levels at '%s'",
                    SQL_MAX_DEPTH, q);
}

/* Opens the level of token `at`, whose operand is yet to be parsed. The
 * operand is at least one level more, hence the >=. */
static int enter(parser *p, const sql_token *at)
{
    return ++p->open_levels >= SQL_MAX_DEPTH ? too_deep(p, at) : 0;
}

static void leave(parser *p)
{
    p->open_levels--;
}

/* Completes node e, named by token `at`, once its operands are parsed. A
 * chain such as 1+1+...+1 is built in a loop, not by recursion, so only
 * here, bottom up, is its height seen. */
static int finish(parser *p, sql_expr *e, const sql_token *at)
{
    const sql_expr *operands[] = {e->a, e->b, e->c};
    unsigned tallest = 0;
    for (size_t i = 0; i < 3; i++)
        if (operands[i] && operands[i]->height > tallest)
            tallest = operands[i]->height;
    for (size_t i = 0; i < e->count; i++)
        if (e->list[i]->height > tallest)
            tallest = e->list[i]->height;
    e->height = tallest + 1;
    e->end = p->prev_end;
    return e->height > SQL_MAX_DEPTH ? too_deep(p, at) : 0;
}

OUT_OF_LINE static int parse_int_literal(parser *p, sql_expr *e)
{
    const sql_token *t = &p->tok;
    bool hex = t->len > 2 && (t->text[1] == 'x' || t->text[1] == 'X');
    unsigned base = hex ? 16 : 10;
    sql_int v = 0;
    for (size_t i = hex ? 2 : 0; i < t->len; i++) {
        char c = t->text[i];
        unsigned d = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
        v = v * base + d;
        if (v > SQL_INT_MAX) {
            char q[VMDB_PRINTABLE_CAP];
            vmdb_printable(t->text, t->len, q, sizeof q);
            return sql_fail(p->err, t->line, t->col,
                            "integer %s is out of range (at most 18446744073709551615)", q);
        }
    }
    e->value.type = SQL_T_INT;
    e->value.i = v;
    return 0;
}

OUT_OF_LINE static int parse_float_literal(parser *p, sql_expr *e)
{
    const sql_token *t = &p->tok;
    char buf[128];
    if (t->len >= sizeof buf)
        return sql_fail(p->err, t->line, t->col, "number '%.40s...' is too long", t->text);
    memcpy(buf, t->text, t->len);
    buf[t->len] = '\0';
    errno = 0;
    double d = strtod(buf, NULL);
    if (errno == ERANGE && isinf(d))
        return sql_fail(p->err, t->line, t->col, "float %s is out of range", buf);
    e->value.type = SQL_T_FLOAT;
    e->value.f = d;
    return 0;
}

OUT_OF_LINE static int parse_string_literal(parser *p, sql_expr *e)
{
    const sql_token *t = &p->tok;
    char *d = alloc(p, t->len);
    if (!d)
        return oom(p);
    size_t n = 0;
    for (size_t i = 1; i + 1 < t->len; i++) {
        d[n++] = t->text[i];
        if (t->text[i] == '\'')
            i++;
    }
    e->value.type = SQL_T_TEXT;
    e->value.s.ptr = d;
    e->value.s.len = n;
    return 0;
}

static bool agg_named(const sql_token *t, enum sql_agg *agg)
{
    static const struct {
        const char *name;
        enum sql_agg agg;
    } aggs[] = {{"COUNT", SQL_AGG_COUNT}, {"SUM", SQL_AGG_SUM}, {"MIN", SQL_AGG_MIN},
                {"MAX", SQL_AGG_MAX},     {"AVG", SQL_AGG_AVG}};
    for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++)
        if (t->len == strlen(aggs[i].name) && !strncasecmp(t->text, aggs[i].name, t->len)) {
            *agg = aggs[i].agg;
            return true;
        }
    return false;
}

/* name '(' ... ')': an aggregate (COUNT, SUM, AVG, and MIN or MAX of one
 * argument) or a scalar function (MIN and MAX of several). */
OUT_OF_LINE static int parse_call(parser *p, const sql_token *fn, sql_expr **out)
{
    enum sql_agg agg = SQL_AGG_COUNT;
    enum sql_func func = SQL_FN_LENGTH;
    bool is_agg = fn->text[0] != '"' && agg_named(fn, &agg);
    bool is_func = fn->text[0] != '"' && sql_func_named(fn->text, fn->len, &func);
    if (!is_agg && !is_func) {
        char q[VMDB_PRINTABLE_CAP];
        vmdb_printable(fn->text, fn->len, q, sizeof q);
        return sql_fail(p->err, fn->line, fn->col,
                        "unknown function '%s' (COUNT, SUM, MIN, MAX, AVG, length, lower, "
                        "upper, substr, trim, ltrim, rtrim, replace, instr, abs, round, CAST)",
                        q);
    }
    sql_expr *e = node(p, SQL_E_AGG, fn);
    if (!e)
        return oom(p);
    if (enter(p, fn) < 0 || next(p) < 0) /* the '(' */
        return -1;
    if (is_kw(p, SQL_KW_DISTINCT)) {
        if (!is_agg)
            return syntax_error(p);
        e->distinct = true;
        if (next(p) < 0)
            return -1;
    }
    ptrvec args = {0};
    bool star = false;
    if (is_agg && agg == SQL_AGG_COUNT && !e->distinct && is_op(p, SQL_OP_STAR)) {
        star = true;
        if (next(p) < 0)
            return -1;
    } else if (!is_op(p, SQL_OP_RPAREN)) {
        for (;;) {
            sql_expr *arg;
            if (parse_or(p, &arg) < 0 || push(p, &args, arg) < 0)
                return -1;
            if (!is_op(p, SQL_OP_COMMA))
                break;
            if (next(p) < 0)
                return -1;
        }
    }
    if (expect_op(p, SQL_OP_RPAREN) < 0 || refuse_unsupported(p) < 0)
        return -1;
    leave(p);
    if (is_agg && (star || args.count == 1) && !(is_func && args.count != 1)) {
        e->agg = agg;
        e->a = star ? NULL : args.items[0];
    } else if (is_func && !e->distinct) {
        e->kind = SQL_E_FUNC;
        e->func = func;
        if (!(e->list = expr_array(p, &args)))
            return oom(p);
        e->count = args.count;
    } else {
        char q[VMDB_PRINTABLE_CAP];
        vmdb_printable(fn->text, fn->len, q, sizeof q);
        return sql_fail(p->err, fn->line, fn->col, "%s takes one argument", q);
    }
    *out = e;
    return finish(p, e, fn);
}

/* CAST '(' e AS type ')', the CAST consumed: the type is a name, which the
 * planner reads (INTEGER, REAL, TEXT, u8, f64, str32, bool, ...). */
OUT_OF_LINE static int parse_cast(parser *p, const sql_token *at, sql_expr **out)
{
    sql_expr *e = node(p, SQL_E_FUNC, at);
    sql_expr **arg = alloc(p, sizeof *arg);
    if (!e || !arg)
        return oom(p);
    e->func = SQL_FN_CAST;
    e->list = arg;
    e->count = 1;
    if (enter(p, at) < 0 || expect_op(p, SQL_OP_LPAREN) < 0 || parse_or(p, arg) < 0 ||
        expect_kw(p, SQL_KW_AS) < 0)
        return -1;
    if (p->tok.kind != SQL_TOK_IDENT)
        return syntax_error(p);
    if (name(p, &e->cast_name) < 0 || expect_op(p, SQL_OP_RPAREN) < 0)
        return -1;
    leave(p);
    *out = e;
    return finish(p, e, at);
}

static int parse_primary(parser *p, sql_expr **out)
{
    sql_token t = p->tok;
    sql_expr *e;
    switch (t.kind) {
    case SQL_TOK_INT:
    case SQL_TOK_FLOAT:
    case SQL_TOK_STRING:
        if (!(e = node(p, SQL_E_LITERAL, &t)))
            return oom(p);
        if ((t.kind == SQL_TOK_INT ? parse_int_literal(p, e)
             : t.kind == SQL_TOK_FLOAT ? parse_float_literal(p, e)
                                       : parse_string_literal(p, e)) < 0)
            return -1;
        break;
    case SQL_TOK_KEYWORD:
        if (t.keyword == SQL_KW_NULL)
            return sql_fail(p->err, t.line, t.col,
                            "NULL is not supported: vmdb fields always hold a value");
        if (t.keyword == SQL_KW_SELECT)
            return not_supported(p, "subqueries are not supported");
        if (t.keyword == SQL_KW_CAST)
            return next(p) < 0 ? -1 : parse_cast(p, &t, out);
        if (t.keyword != SQL_KW_TRUE && t.keyword != SQL_KW_FALSE)
            return syntax_error(p);
        if (!(e = node(p, SQL_E_LITERAL, &t)))
            return oom(p);
        e->value.type = SQL_T_BOOL;
        e->value.b = t.keyword == SQL_KW_TRUE;
        break;
    case SQL_TOK_IDENT: {
        const char *first;
        /* Only the words that start an expression: a field may well be
         * called "left" or "full". */
        if ((is_word(p, "CASE") || is_word(p, "EXISTS") || is_word(p, "COALESCE") ||
             is_word(p, "IFNULL")) &&
            refuse_unsupported(p) < 0)
            return -1;
        if (name(p, &first) < 0)
            return -1;
        if (is_op(p, SQL_OP_LPAREN))
            return parse_call(p, &t, out);
        if (!(e = node(p, SQL_E_COLUMN, &t)))
            return oom(p);
        e->name = first;
        if (is_op(p, SQL_OP_DOT)) {
            if (next(p) < 0)
                return -1;
            e->qualifier = first;
            e->line = p->tok.line;
            e->col = p->tok.col;
            if (name(p, &e->name) < 0)
                return -1;
        }
        e->end = p->prev_end;
        *out = e;
        return 0;
    }
    case SQL_TOK_OP:
        if (t.op == SQL_OP_QUESTION) {
            if (!(e = node(p, SQL_E_PARAM, &t)))
                return oom(p);
            e->param = ++p->params;
            break;
        }
        if (t.op == SQL_OP_LPAREN) {
            if (enter(p, &t) < 0 || next(p) < 0 || parse_or(p, out) < 0 ||
                expect_op(p, SQL_OP_RPAREN) < 0)
                return -1;
            leave(p);
            /* The parentheses belong to the expression's text (its label),
             * and count as a level, as they do on the way down. */
            (*out)->start = t.offset;
            (*out)->end = p->prev_end;
            return ++(*out)->height > SQL_MAX_DEPTH ? too_deep(p, &t) : 0;
        }
        return syntax_error(p);
    default:
        return syntax_error(p);
    }
    if (next(p) < 0)
        return -1;
    e->end = p->prev_end;
    *out = e;
    return 0;
}

static int parse_unary(parser *p, sql_expr **out)
{
    if (is_op(p, SQL_OP_MINUS) || is_op(p, SQL_OP_PLUS)) {
        sql_token t = p->tok;
        if (enter(p, &t) < 0)
            return -1;
        sql_expr *e = node(p, SQL_E_UNARY, &t);
        if (!e)
            return oom(p);
        e->op = t.op;
        if (next(p) < 0 || parse_unary(p, &e->a) < 0)
            return -1;
        leave(p);
        *out = e;
        return finish(p, e, &t);
    }
    return parse_primary(p, out);
}

static sql_expr *binary(parser *p, enum sql_expr_kind kind, const sql_token *op, sql_expr *a)
{
    sql_expr *e = node(p, kind, op);
    if (e) {
        e->op = op->op;
        e->a = a;
        e->start = a->start;
    }
    return e;
}

/* a || b, tighter than * / % as in sqlite: a function of two arguments. */
static int parse_concat(parser *p, sql_expr **out)
{
    if (parse_unary(p, out) < 0)
        return -1;
    while (is_op(p, SQL_OP_CONCAT)) {
        sql_token t = p->tok;
        sql_expr *e = binary(p, SQL_E_FUNC, &t, *out);
        sql_expr **args = alloc(p, 2 * sizeof *args);
        if (!e || !args)
            return oom(p);
        e->func = SQL_FN_CONCAT;
        e->list = args;
        e->count = 2;
        args[0] = e->a;
        e->a = NULL;
        if (next(p) < 0 || parse_unary(p, &args[1]) < 0 || finish(p, e, &t) < 0)
            return -1;
        *out = e;
    }
    return 0;
}

static int parse_mul(parser *p, sql_expr **out)
{
    if (parse_concat(p, out) < 0)
        return -1;
    while (is_op(p, SQL_OP_STAR) || is_op(p, SQL_OP_SLASH) || is_op(p, SQL_OP_PERCENT)) {
        sql_token t = p->tok;
        sql_expr *e = binary(p, SQL_E_BINARY, &t, *out);
        if (!e)
            return oom(p);
        if (next(p) < 0 || parse_concat(p, &e->b) < 0 || finish(p, e, &t) < 0)
            return -1;
        *out = e;
    }
    return 0;
}

static int parse_add(parser *p, sql_expr **out)
{
    if (parse_mul(p, out) < 0)
        return -1;
    while (is_op(p, SQL_OP_PLUS) || is_op(p, SQL_OP_MINUS)) {
        sql_token t = p->tok;
        sql_expr *e = binary(p, SQL_E_BINARY, &t, *out);
        if (!e)
            return oom(p);
        if (next(p) < 0 || parse_mul(p, &e->b) < 0 || finish(p, e, &t) < 0)
            return -1;
        *out = e;
    }
    return 0;
}

static bool is_compare_op(const parser *p)
{
    if (p->tok.kind != SQL_TOK_OP)
        return false;
    switch (p->tok.op) {
    case SQL_OP_EQ: case SQL_OP_NE: case SQL_OP_LT:
    case SQL_OP_LE: case SQL_OP_GT: case SQL_OP_GE:
        return true;
    default:
        return false;
    }
}

static int parse_in_list(parser *p, sql_expr *e)
{
    if (expect_op(p, SQL_OP_LPAREN) < 0)
        return -1;
    ptrvec items = {0};
    for (;;) {
        sql_expr *item;
        if (parse_or(p, &item) < 0 || push(p, &items, item) < 0)
            return -1;
        if (!is_op(p, SQL_OP_COMMA))
            break;
        if (next(p) < 0)
            return -1;
    }
    if (!(e->list = expr_array(p, &items)))
        return oom(p);
    e->count = items.count;
    return expect_op(p, SQL_OP_RPAREN);
}

OUT_OF_LINE static int parse_escape(parser *p, sql_expr *e)
{
    if (p->tok.kind != SQL_TOK_STRING)
        return syntax_error(p);
    sql_expr lit = {0};
    if (parse_string_literal(p, &lit) < 0)
        return -1;
    /* One character, which in UTF-8 may be several bytes ('é'). */
    const unsigned char *c = (const unsigned char *)lit.value.s.ptr;
    size_t len = lit.value.s.len;
    size_t n = len ? sql_like_char_len(lit.value.s.ptr, len) : 0;
    if (len == 0 || n != len || (len == 1 && c[0] >= 0x80)) {
        char q[VMDB_PRINTABLE_CAP];
        vmdb_printable(p->tok.text, p->tok.len, q, sizeof q);
        return sql_fail(p->err, p->tok.line, p->tok.col,
                        "ESCAPE takes one character, not %s", q);
    }
    unsigned cp = n == 1 ? c[0] : c[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        cp = cp << 6 | (c[i] & 0x3f);
    e->escape = (int)cp;
    return next(p);
}

/* The predicates: comparison, [NOT] LIKE, [NOT] IN, [NOT] BETWEEN. */
static int parse_predicate(parser *p, sql_expr **out)
{
    if (parse_add(p, out) < 0)
        return -1;
    if (is_kw(p, SQL_KW_IS))
        return sql_fail(p->err, p->tok.line, p->tok.col,
                        "IS is not supported: vmdb fields are never NULL");
    if (is_compare_op(p)) {
        sql_token t = p->tok;
        sql_expr *e = binary(p, SQL_E_COMPARE, &t, *out);
        if (!e)
            return oom(p);
        if (next(p) < 0 || parse_add(p, &e->b) < 0)
            return -1;
        *out = e;
        return finish(p, e, &t);
    }
    bool negate = false;
    sql_token not_tok = p->tok;
    if (is_kw(p, SQL_KW_NOT)) {
        negate = true;
        if (next(p) < 0)
            return -1;
        if (!is_kw(p, SQL_KW_LIKE) && !is_kw(p, SQL_KW_IN) && !is_kw(p, SQL_KW_BETWEEN))
            return syntax_error(p);
    }
    sql_token t = p->tok;
    enum sql_expr_kind kind;
    if (is_kw(p, SQL_KW_LIKE))
        kind = SQL_E_LIKE;
    else if (is_kw(p, SQL_KW_IN))
        kind = SQL_E_IN;
    else if (is_kw(p, SQL_KW_BETWEEN))
        kind = SQL_E_BETWEEN;
    else
        return 0;
    sql_expr *e = binary(p, kind, negate ? &not_tok : &t, *out);
    if (!e)
        return oom(p);
    e->op = SQL_OP_NONE;
    e->negate = negate;
    if (next(p) < 0)
        return -1;
    int rc;
    if (kind == SQL_E_LIKE) {
        rc = parse_add(p, &e->b);
        if (rc == 0 && is_kw(p, SQL_KW_ESCAPE))
            rc = next(p) < 0 ? -1 : parse_escape(p, e);
    } else if (kind == SQL_E_IN) {
        /* Its items are whole expressions: IN (x IN (...)) recurses. */
        rc = enter(p, &t);
        if (rc == 0)
            rc = parse_in_list(p, e);
        if (rc == 0)
            leave(p);
    } else {
        rc = parse_add(p, &e->b);
        if (rc == 0)
            rc = expect_kw(p, SQL_KW_AND);
        if (rc == 0)
            rc = parse_add(p, &e->c);
    }
    if (rc < 0)
        return -1;
    *out = e;
    return finish(p, e, negate ? &not_tok : &t);
}

static int parse_not(parser *p, sql_expr **out)
{
    if (!is_kw(p, SQL_KW_NOT))
        return parse_predicate(p, out);
    sql_token t = p->tok;
    if (enter(p, &t) < 0)
        return -1;
    sql_expr *e = node(p, SQL_E_NOT, &t);
    if (!e)
        return oom(p);
    if (next(p) < 0 || parse_not(p, &e->a) < 0)
        return -1;
    leave(p);
    *out = e;
    return finish(p, e, &t);
}

static int parse_and(parser *p, sql_expr **out)
{
    if (parse_not(p, out) < 0)
        return -1;
    while (is_kw(p, SQL_KW_AND)) {
        sql_token t = p->tok;
        sql_expr *e = binary(p, SQL_E_AND, &t, *out);
        if (!e)
            return oom(p);
        if (next(p) < 0 || parse_not(p, &e->b) < 0 || finish(p, e, &t) < 0)
            return -1;
        *out = e;
    }
    return 0;
}

static int parse_or(parser *p, sql_expr **out)
{
    if (parse_and(p, out) < 0)
        return -1;
    while (is_kw(p, SQL_KW_OR)) {
        sql_token t = p->tok;
        sql_expr *e = binary(p, SQL_E_OR, &t, *out);
        if (!e)
            return oom(p);
        if (next(p) < 0 || parse_and(p, &e->b) < 0 || finish(p, e, &t) < 0)
            return -1;
        *out = e;
    }
    return 0;
}

/* ---- statements --------------------------------------------------------- */

static int parse_table_name(parser *p, sql_stmt *st)
{
    st->table_line = p->tok.line;
    st->table_col = p->tok.col;
    return name(p, &st->table);
}

static int parse_where(parser *p, sql_stmt *st)
{
    if (!is_kw(p, SQL_KW_WHERE))
        return 0;
    return next(p) < 0 ? -1 : parse_or(p, &st->where);
}

/* LIMIT and OFFSET take a literal count. */
static int parse_count(parser *p, uint64_t *out)
{
    if (p->tok.kind != SQL_TOK_INT)
        return syntax_error(p);
    sql_expr lit = {0};
    if (parse_int_literal(p, &lit) < 0)
        return -1;
    *out = (uint64_t)lit.value.i;
    return next(p);
}

static int parse_select_clauses(parser *p, sql_stmt *st);

/* SELECT, the keyword consumed. What comes after its clauses is the end
 * of the statement, unless it is something vmdb does not have (UNION),
 * which is said so. */
static int parse_select(parser *p, sql_stmt *st)
{
    if (parse_select_clauses(p, st) < 0)
        return -1;
    return refuse_unsupported(p);
}

/* An alias without AS: a name that is not a word of what is not
 * supported (JOIN, UNION), which would otherwise become the alias. */
static bool bare_alias(const parser *p)
{
    return p->tok.kind == SQL_TOK_IDENT && !unsupported_word(p);
}

static int parse_select_clauses(parser *p, sql_stmt *st)
{
    st->kind = SQL_SELECT;
    if (is_kw(p, SQL_KW_DISTINCT)) {
        st->distinct = true;
        if (next(p) < 0)
            return -1;
    }
    ptrvec items = {0};
    for (;;) {
        sql_select_item *item = alloc(p, sizeof *item);
        if (!item)
            return oom(p);
        size_t start = p->tok.offset, end;
        if (is_op(p, SQL_OP_STAR)) {
            end = start + 1;
            if (next(p) < 0)
                return -1;
        } else {
            if (parse_or(p, &item->expr) < 0)
                return -1;
            end = item->expr->end;
            if (is_kw(p, SQL_KW_AS)) {
                if (next(p) < 0 || name(p, &item->alias) < 0)
                    return -1;
            } else if (bare_alias(p) && name(p, &item->alias) < 0) {
                return -1;
            }
        }
        if (!(item->label = strndup_arena(p, p->lx.text + start, end - start)))
            return oom(p);
        if (push(p, &items, item) < 0)
            return -1;
        if (!is_op(p, SQL_OP_COMMA))
            break;
        if (next(p) < 0)
            return -1;
    }
    if (!(st->items = alloc(p, items.count * sizeof *st->items)))
        return oom(p);
    for (size_t i = 0; i < items.count; i++)
        st->items[i] = *(sql_select_item *)items.items[i];
    st->item_count = items.count;

    if (!is_kw(p, SQL_KW_FROM))
        return 0;
    if (next(p) < 0 || parse_table_name(p, st) < 0)
        return -1;
    if (is_kw(p, SQL_KW_AS)) {
        if (next(p) < 0 || name(p, &st->table_alias) < 0)
            return -1;
    } else if (bare_alias(p) && name(p, &st->table_alias) < 0) {
        return -1;
    }
    if (is_op(p, SQL_OP_COMMA))
        return not_supported(p, "JOIN is not supported: a statement reads one table");
    if (refuse_unsupported(p) < 0 || parse_where(p, st) < 0)
        return -1;
    if (is_kw(p, SQL_KW_GROUP)) {
        if (next(p) < 0 || expect_kw(p, SQL_KW_BY) < 0)
            return -1;
        ptrvec cols = {0};
        for (;;) {
            /* A field, an expression, an output's alias or its number:
             * the planner tells them apart. */
            sql_expr *e;
            if (parse_or(p, &e) < 0)
                return -1;
            if (push(p, &cols, e) < 0)
                return -1;
            if (!is_op(p, SQL_OP_COMMA))
                break;
            if (next(p) < 0)
                return -1;
        }
        if (!(st->group_by = expr_array(p, &cols)))
            return oom(p);
        st->group_count = cols.count;
    }
    if (is_kw(p, SQL_KW_HAVING) && (next(p) < 0 || parse_or(p, &st->having) < 0))
        return -1;
    if (is_kw(p, SQL_KW_ORDER)) {
        if (next(p) < 0 || expect_kw(p, SQL_KW_BY) < 0)
            return -1;
        ptrvec order = {0};
        for (;;) {
            sql_order_item *o = alloc(p, sizeof *o);
            if (!o)
                return oom(p);
            if (parse_or(p, &o->expr) < 0)
                return -1;
            if (is_kw(p, SQL_KW_ASC) || is_kw(p, SQL_KW_DESC)) {
                o->desc = is_kw(p, SQL_KW_DESC);
                if (next(p) < 0)
                    return -1;
            }
            if (push(p, &order, o) < 0)
                return -1;
            if (!is_op(p, SQL_OP_COMMA))
                break;
            if (next(p) < 0)
                return -1;
        }
        if (!(st->order_by = alloc(p, order.count * sizeof *st->order_by)))
            return oom(p);
        for (size_t i = 0; i < order.count; i++)
            st->order_by[i] = *(sql_order_item *)order.items[i];
        st->order_count = order.count;
    }
    if (is_kw(p, SQL_KW_LIMIT)) {
        st->has_limit = true;
        if (next(p) < 0 || parse_count(p, &st->limit) < 0)
            return -1;
        if (is_kw(p, SQL_KW_OFFSET) && (next(p) < 0 || parse_count(p, &st->offset) < 0))
            return -1;
        /* sqlite's other form: LIMIT offset, count. */
        if (is_op(p, SQL_OP_COMMA)) {
            st->offset = st->limit;
            if (next(p) < 0 || parse_count(p, &st->limit) < 0)
                return -1;
        }
    }
    return 0;
}

static int parse_insert(parser *p, sql_stmt *st)
{
    st->kind = SQL_INSERT;
    if (next(p) < 0 || expect_kw(p, SQL_KW_INTO) < 0 || parse_table_name(p, st) < 0)
        return -1;
    if (is_op(p, SQL_OP_LPAREN)) {
        if (next(p) < 0)
            return -1;
        ptrvec names = {0}, cols = {0};
        for (;;) {
            unsigned *col = alloc(p, sizeof *col);
            if (!col)
                return oom(p);
            *col = p->tok.col;
            const char *n;
            if (name(p, &n) < 0 || push(p, &names, (void *)n) < 0 || push(p, &cols, col) < 0)
                return -1;
            if (!is_op(p, SQL_OP_COMMA))
                break;
            if (next(p) < 0)
                return -1;
        }
        if (expect_op(p, SQL_OP_RPAREN) < 0)
            return -1;
        st->columns = alloc(p, names.count * sizeof *st->columns);
        st->column_cols = alloc(p, names.count * sizeof *st->column_cols);
        if (!st->columns || !st->column_cols)
            return oom(p);
        for (size_t i = 0; i < names.count; i++) {
            st->columns[i] = names.items[i];
            st->column_cols[i] = *(unsigned *)cols.items[i];
        }
        st->column_count = names.count;
    }
    if (expect_kw(p, SQL_KW_VALUES) < 0)
        return -1;
    ptrvec rows = {0}, lengths = {0};
    for (;;) {
        if (expect_op(p, SQL_OP_LPAREN) < 0)
            return -1;
        ptrvec row = {0};
        for (;;) {
            sql_expr *e;
            if (parse_or(p, &e) < 0 || push(p, &row, e) < 0)
                return -1;
            if (!is_op(p, SQL_OP_COMMA))
                break;
            if (next(p) < 0)
                return -1;
        }
        if (expect_op(p, SQL_OP_RPAREN) < 0)
            return -1;
        size_t *len = alloc(p, sizeof *len);
        sql_expr **values = expr_array(p, &row);
        if (!len || !values)
            return oom(p);
        *len = row.count;
        if (push(p, &rows, values) < 0 || push(p, &lengths, len) < 0)
            return -1;
        if (!is_op(p, SQL_OP_COMMA))
            break;
        if (next(p) < 0)
            return -1;
    }
    st->rows = alloc(p, rows.count * sizeof *st->rows);
    st->row_lengths = alloc(p, rows.count * sizeof *st->row_lengths);
    if (!st->rows || !st->row_lengths)
        return oom(p);
    for (size_t i = 0; i < rows.count; i++) {
        st->rows[i] = rows.items[i];
        st->row_lengths[i] = *(size_t *)lengths.items[i];
    }
    st->row_count = rows.count;
    return 0;
}

static int parse_update(parser *p, sql_stmt *st)
{
    st->kind = SQL_UPDATE;
    if (next(p) < 0 || parse_table_name(p, st) < 0 || expect_kw(p, SQL_KW_SET) < 0)
        return -1;
    ptrvec sets = {0};
    for (;;) {
        sql_set_item *a = alloc(p, sizeof *a);
        if (!a)
            return oom(p);
        a->line = p->tok.line;
        a->col = p->tok.col;
        if (name(p, &a->column) < 0)
            return -1;
        /* "SET people.age = 3" names the table too. */
        if (is_op(p, SQL_OP_DOT)) {
            if (strcasecmp(a->column, st->table) != 0)
                return sql_fail(p->err, a->line, a->col, "'%s' is not the table updated (%s)",
                                a->column, st->table);
            if (next(p) < 0)
                return -1;
            a->line = p->tok.line;
            a->col = p->tok.col;
            if (name(p, &a->column) < 0)
                return -1;
        }
        if (expect_op(p, SQL_OP_EQ) < 0 || parse_or(p, &a->expr) < 0 || push(p, &sets, a) < 0)
            return -1;
        if (!is_op(p, SQL_OP_COMMA))
            break;
        if (next(p) < 0)
            return -1;
    }
    if (!(st->sets = alloc(p, sets.count * sizeof *st->sets)))
        return oom(p);
    for (size_t i = 0; i < sets.count; i++)
        st->sets[i] = *(sql_set_item *)sets.items[i];
    st->set_count = sets.count;
    return parse_where(p, st);
}

static int parse_delete(parser *p, sql_stmt *st)
{
    st->kind = SQL_DELETE;
    if (next(p) < 0 || expect_kw(p, SQL_KW_FROM) < 0 || parse_table_name(p, st) < 0)
        return -1;
    return parse_where(p, st);
}

int sql_parse(const char *text, size_t len, sql_stmt **out, sql_error *err)
{
    *out = NULL;
    memset(err, 0, sizeof *err);
    parser p = {0};
    p.err = err;
    p.arena = sql_arena_new();
    if (!p.arena)
        return sql_fail(err, 0, 0, "out of memory parsing the statement");
    sql_stmt *st = sql_arena_alloc(p.arena, sizeof *st);
    char *copy = sql_arena_alloc(p.arena, len + 1);
    if (!st || !copy) {
        sql_arena_free(p.arena);
        return sql_fail(err, 0, 0, "out of memory parsing the statement");
    }
    memcpy(copy, text, len);
    st->arena = p.arena;
    st->text = copy;
    sql_lex_init(&p.lx, copy, len);
    int rc = next(&p);
    if (rc == 0 && is_word(&p, "EXPLAIN")) {
        /* EXPLAIN and EXPLAIN QUERY PLAN alike: the plan as rows. */
        st->explain = true;
        rc = next(&p);
        if (rc == 0 && is_word(&p, "QUERY"))
            rc = next(&p) < 0 ? -1 : is_word(&p, "PLAN") ? next(&p) : syntax_error(&p);
    }
    if (rc == 0)
        rc = refuse_unsupported(&p); /* WITH */
    if (rc == 0) {
        if (is_kw(&p, SQL_KW_SELECT))
            rc = next(&p) < 0 ? -1 : parse_select(&p, st);
        else if (is_kw(&p, SQL_KW_INSERT))
            rc = parse_insert(&p, st);
        else if (is_kw(&p, SQL_KW_UPDATE))
            rc = parse_update(&p, st);
        else if (is_kw(&p, SQL_KW_DELETE))
            rc = parse_delete(&p, st);
        else
            rc = syntax_error(&p);
    }
    st->param_count = p.params;
    if (rc == 0 && st->explain && st->kind > SQL_DELETE)
        rc = sql_fail(err, 1, 1, "EXPLAIN takes SELECT, INSERT, UPDATE or DELETE");
    if (rc == 0 && is_op(&p, SQL_OP_SEMI))
        rc = next(&p);
    if (rc == 0 && p.tok.kind != SQL_TOK_END)
        rc = syntax_error(&p);
    if (rc < 0) {
        sql_arena_free(p.arena);
        return -1;
    }
    *out = st;
    return 0;
}

/* ---- printing ----------------------------------------------------------- */

typedef struct strbuf {
    char *dst;
    size_t cap, len;
} strbuf;

static void put(strbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, b->len++)
        if (b->len + 1 < b->cap)
            b->dst[b->len] = s[i];
    if (b->cap)
        b->dst[b->len < b->cap ? b->len : b->cap - 1] = '\0';
}

static void puts_(strbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static const char *op_text(enum sql_op op)
{
    switch (op) {
    case SQL_OP_PLUS: return "+";
    case SQL_OP_MINUS: return "-";
    case SQL_OP_STAR: return "*";
    case SQL_OP_SLASH: return "/";
    case SQL_OP_PERCENT: return "%";
    case SQL_OP_EQ: return "=";
    case SQL_OP_NE: return "!=";
    case SQL_OP_LT: return "<";
    case SQL_OP_LE: return "<=";
    case SQL_OP_GT: return ">";
    case SQL_OP_GE: return ">=";
    default: return "?";
    }
}

static void format_literal(strbuf *b, const sql_value *v)
{
    if (v->type == SQL_T_TEXT) {
        put(b, "'", 1);
        for (size_t i = 0; i < v->s.len; i++) {
            put(b, v->s.ptr + i, 1);
            if (v->s.ptr[i] == '\'')
                put(b, "'", 1);
        }
        put(b, "'", 1);
        return;
    }
    if (v->type == SQL_T_BOOL) {
        puts_(b, v->b ? "TRUE" : "FALSE");
        return;
    }
    char tmp[64];
    const char *text;
    size_t len;
    char *big = NULL;
    if (v->type == SQL_T_BYTES) {
        size_t cap = sql_value_text_cap(v);
        big = malloc(cap);
        if (!big)
            return;
        sql_value_text(v, big, cap, &text, &len);
    } else {
        sql_value_text(v, tmp, sizeof tmp, &text, &len);
    }
    put(b, text, len);
    free(big);
}

static void format(strbuf *b, const sql_expr *e)
{
    static const char *const agg_names[] = {"COUNT", "SUM", "MIN", "MAX", "AVG"};
    switch (e->kind) {
    case SQL_E_LITERAL:
        format_literal(b, &e->value);
        break;
    case SQL_E_COLUMN:
        if (e->qualifier) {
            puts_(b, e->qualifier);
            puts_(b, ".");
        }
        puts_(b, e->name);
        break;
    case SQL_E_UNARY:
        puts_(b, "(");
        puts_(b, op_text(e->op));
        format(b, e->a);
        puts_(b, ")");
        break;
    case SQL_E_NOT:
        puts_(b, "(NOT ");
        format(b, e->a);
        puts_(b, ")");
        break;
    case SQL_E_BINARY:
    case SQL_E_COMPARE:
    case SQL_E_AND:
    case SQL_E_OR:
        puts_(b, "(");
        format(b, e->a);
        puts_(b, e->kind == SQL_E_AND ? " AND " : e->kind == SQL_E_OR ? " OR " : " ");
        if (e->kind == SQL_E_BINARY || e->kind == SQL_E_COMPARE) {
            puts_(b, op_text(e->op));
            puts_(b, " ");
        }
        format(b, e->b);
        puts_(b, ")");
        break;
    case SQL_E_LIKE:
        puts_(b, "(");
        format(b, e->a);
        puts_(b, e->negate ? " NOT LIKE " : " LIKE ");
        format(b, e->b);
        if (e->escape >= 0) {
            unsigned char esc[4];
            size_t n = sql_utf8_encode((unsigned)e->escape, esc);
            puts_(b, " ESCAPE ");
            sql_value v = {.type = SQL_T_TEXT, .s = {(const char *)esc, n}};
            format_literal(b, &v);
        }
        puts_(b, ")");
        break;
    case SQL_E_IN:
        puts_(b, "(");
        format(b, e->a);
        puts_(b, e->negate ? " NOT IN (" : " IN (");
        for (size_t i = 0; i < e->count; i++) {
            if (i)
                puts_(b, ", ");
            format(b, e->list[i]);
        }
        puts_(b, "))");
        break;
    case SQL_E_BETWEEN:
        puts_(b, "(");
        format(b, e->a);
        puts_(b, e->negate ? " NOT BETWEEN " : " BETWEEN ");
        format(b, e->b);
        puts_(b, " AND ");
        format(b, e->c);
        puts_(b, ")");
        break;
    case SQL_E_PARAM:
        puts_(b, "?");
        break;
    case SQL_E_FUNC:
        if (e->func == SQL_FN_CONCAT) {
            puts_(b, "(");
            format(b, e->list[0]);
            puts_(b, " || ");
            format(b, e->list[1]);
            puts_(b, ")");
            break;
        }
        puts_(b, sql_func_name(e->func));
        puts_(b, "(");
        for (size_t i = 0; i < e->count; i++) {
            if (i)
                puts_(b, ", ");
            format(b, e->list[i]);
        }
        if (e->func == SQL_FN_CAST) {
            puts_(b, " AS ");
            puts_(b, e->cast_name);
        }
        puts_(b, ")");
        break;
    case SQL_E_AGG:
        puts_(b, agg_names[e->agg]);
        puts_(b, e->distinct ? "(DISTINCT " : "(");
        if (e->a)
            format(b, e->a);
        else
            puts_(b, "*");
        puts_(b, ")");
        break;
    }
}

void sql_expr_format(const sql_expr *e, char *dst, size_t cap)
{
    strbuf b = {dst, cap, 0};
    if (cap)
        dst[0] = '\0';
    format(&b, e);
}
