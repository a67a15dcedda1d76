/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_eval.c - values and the evaluation of planned expressions.
 *
 * Integers are held as 128-bit signed numbers but only values in
 * [-2^63, 2^64-1] are allowed to exist: every vmdb integer field fits, an
 * i64 and a u64 compare correctly without conversions that lose a bit,
 * and a sum or product is computed exactly before it is checked, so an
 * overflow is always caught (the multiplication through
 * __builtin_mul_overflow, since two 64-bit magnitudes can exceed 127 bits).
 *
 * Evaluation reads columns straight from the record's bytes at the offset
 * the planner resolved: no name lookups and no allocation per row. Text
 * values point into the record.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sql.h"

const char *sql_type_name(enum sql_type type)
{
    switch (type) {
    case SQL_T_INT: return "integer";
    case SQL_T_FLOAT: return "float";
    case SQL_T_TEXT: return "text";
    case SQL_T_BOOL: return "bool";
    case SQL_T_BYTES: return "bytes";
    default: return "?";
    }
}

/* ---- text of values ----------------------------------------------------- */

/* A value quoted for a message. */
static void value_quote(const sql_value *v, char *dst, size_t cap)
{
    char tmp[64];
    const char *text;
    size_t len;
    if (v->type == SQL_T_BYTES || v->type == SQL_T_TEXT) {
        vmdb_printable(v->s.ptr, v->s.len, dst, cap);
        return;
    }
    sql_value_text(v, tmp, sizeof tmp, &text, &len);
    snprintf(dst, cap, "%.*s", (int)len, text);
}

/* ---- arithmetic --------------------------------------------------------- */

static const char *op_symbol(enum sql_op op)
{
    switch (op) {
    case SQL_OP_PLUS: return "+";
    case SQL_OP_MINUS: return "-";
    case SQL_OP_STAR: return "*";
    case SQL_OP_SLASH: return "/";
    default: return "%";
    }
}

static const char *op_name(enum sql_op op)
{
    switch (op) {
    case SQL_OP_PLUS: return "addition";
    case SQL_OP_MINUS: return "subtraction";
    case SQL_OP_STAR: return "multiplication";
    case SQL_OP_SLASH: return "division";
    default: return "modulo";
    }
}

static int arith_fail(enum sql_op op, const sql_value *a, const sql_value *b,
                      const char *what, sql_error *err)
{
    char qa[VMDB_PRINTABLE_CAP], qb[VMDB_PRINTABLE_CAP];
    value_quote(a, qa, sizeof qa);
    value_quote(b, qb, sizeof qb);
    if (!what) /* by zero: the operator says which operation */
        return sql_fail(err, 0, 0, "%s by zero: %s %s %s",
                        op == SQL_OP_SLASH ? "division" : "modulo", qa, op_symbol(op), qb);
    return sql_fail(err, 0, 0, "%s in %s: %s %s %s", what, op_name(op), qa, op_symbol(op), qb);
}

static double as_double(const sql_value *v)
{
    return v->type == SQL_T_INT ? (double)v->i : v->f;
}

int sql_arith(enum sql_op op, const sql_value *a, const sql_value *b, sql_value *out,
              sql_error *err)
{
    memset(out, 0, sizeof *out);
    if (a->type == SQL_T_INT && b->type == SQL_T_INT) {
        sql_int x = a->i, y = b->i, r;
        switch (op) {
        case SQL_OP_PLUS:
            r = x + y;
            break;
        case SQL_OP_MINUS:
            r = x - y;
            break;
        case SQL_OP_STAR:
            if (__builtin_mul_overflow(x, y, &r))
                return arith_fail(op, a, b, "integer overflow", err);
            break;
        case SQL_OP_SLASH:
        case SQL_OP_PERCENT:
            if (y == 0)
                return arith_fail(op, a, b, NULL, err);
            r = op == SQL_OP_SLASH ? x / y : x % y;
            break;
        default:
            return sql_fail(err, 0, 0, "bad arithmetic operator");
        }
        if (r < SQL_INT_MIN || r > SQL_INT_MAX)
            return arith_fail(op, a, b, "integer overflow", err);
        out->type = SQL_T_INT;
        out->i = r;
        return 0;
    }
    double x = as_double(a), y = as_double(b), r;
    switch (op) {
    case SQL_OP_PLUS:
        r = x + y;
        break;
    case SQL_OP_MINUS:
        r = x - y;
        break;
    case SQL_OP_STAR:
        r = x * y;
        break;
    case SQL_OP_SLASH:
    case SQL_OP_PERCENT:
        if (y == 0)
            return arith_fail(op, a, b, NULL, err);
        r = op == SQL_OP_SLASH ? x / y : fmod(x, y);
        break;
    default:
        return sql_fail(err, 0, 0, "bad arithmetic operator");
    }
    out->type = SQL_T_FLOAT;
    out->f = r;
    return 0;
}

int sql_negate(const sql_value *a, sql_value *out, sql_error *err)
{
    memset(out, 0, sizeof *out);
    if (a->type == SQL_T_FLOAT) {
        out->type = SQL_T_FLOAT;
        out->f = -a->f;
        out->single = a->single;
        return 0;
    }
    if (-a->i < SQL_INT_MIN) {
        char q[VMDB_PRINTABLE_CAP];
        value_quote(a, q, sizeof q);
        return sql_fail(err, 0, 0, "integer overflow in negation: -%s", q);
    }
    out->type = SQL_T_INT;
    out->i = -a->i;
    return 0;
}

/* ---- comparison --------------------------------------------------------- */

/* An integer against a double, exactly: converting the integer to double
 * would round values beyond 2^53 and call unequal numbers equal. */
static int cmp_int_float(sql_int i, double f, bool *unordered)
{
    if (isnan(f)) {
        *unordered = true;
        return 0;
    }
    if (f >= 18446744073709551616.0) /* 2^64: above every integer */
        return -1;
    if (f < -9223372036854775808.0) /* -2^63: below every integer */
        return 1;
    sql_int whole = (sql_int)f; /* toward zero; exact in this range */
    if (i != whole)
        return i < whole ? -1 : 1;
    double frac = f - (double)whole;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    /* An empty value's pointer may be NULL (MIN of text that met only
     * ''), which memcmp must not see even for no bytes. */
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int sql_compare(const sql_value *a, const sql_value *b, bool *unordered)
{
    *unordered = false;
    /* A bool beside a number is 0 or 1, as sqlite has it. */
    if (a->type == SQL_T_BOOL && b->type != SQL_T_BOOL) {
        sql_value n = {.type = SQL_T_INT, .i = a->b};
        return sql_compare(&n, b, unordered);
    }
    if (b->type == SQL_T_BOOL && a->type != SQL_T_BOOL) {
        sql_value n = {.type = SQL_T_INT, .i = b->b};
        return sql_compare(a, &n, unordered);
    }
    switch (a->type) {
    case SQL_T_INT:
        if (b->type == SQL_T_INT)
            return a->i < b->i ? -1 : a->i > b->i ? 1 : 0;
        return cmp_int_float(a->i, b->f, unordered);
    case SQL_T_FLOAT:
        if (b->type == SQL_T_INT)
            return -cmp_int_float(b->i, a->f, unordered);
        if (isnan(a->f) || isnan(b->f)) {
            *unordered = true;
            return 0;
        }
        return a->f < b->f ? -1 : a->f > b->f ? 1 : 0;
    case SQL_T_BOOL:
        return (int)a->b - (int)b->b;
    case SQL_T_TEXT:
    case SQL_T_BYTES:
        return cmp_bytes(a->s.ptr, a->s.len, b->s.ptr, b->s.len);
    default:
        return 0;
    }
}

int sql_compare_total(const sql_value *a, const sql_value *b)
{
    bool unordered;
    int c = sql_compare(a, b, &unordered);
    if (!unordered)
        return c;
    bool a_nan = a->type == SQL_T_FLOAT && isnan(a->f);
    bool b_nan = b->type == SQL_T_FLOAT && isnan(b->f);
    return a_nan == b_nan ? 0 : a_nan ? 1 : -1;
}

static bool compare_holds(enum sql_op op, int c, bool unordered)
{
    if (unordered)
        return op == SQL_OP_NE;
    switch (op) {
    case SQL_OP_EQ: return c == 0;
    case SQL_OP_NE: return c != 0;
    case SQL_OP_LT: return c < 0;
    case SQL_OP_LE: return c <= 0;
    case SQL_OP_GT: return c > 0;
    case SQL_OP_GE: return c >= 0;
    default: return false;
    }
}

/* ---- LIKE --------------------------------------------------------------- */

static size_t utf8_len(const unsigned char *s, size_t n)
{
    return sql_like_char_len((const char *)s, n);
}

size_t sql_like_escape_at(const char *pat, size_t plen, size_t pi, int escape)
{
    if (escape < 0)
        return 0;
    unsigned char esc[4];
    size_t n = sql_utf8_encode((unsigned)escape, esc);
    return pi + n <= plen && !memcmp(pat + pi, esc, n) ? n : 0;
}

/*
 * Matching with backtracking to the last '%' only: when a later literal
 * part fails, the last '%' swallows one more character and matching
 * resumes after it. Earlier '%'s never need to take more, since the last
 * one can absorb anything they would have, so this is O(text * pattern)
 * at worst and needs no recursion. The escape character is looked for
 * before '%' and '_', since it may be one of them ('%%c' ESCAPE '%' is
 * the literal "%c"); at the very end of the pattern it has nothing to
 * make literal, and stands for itself.
 */
bool sql_like(const char *text, size_t tlen, const char *pat, size_t plen, int escape)
{
    const unsigned char *t = (const unsigned char *)text, *p = (const unsigned char *)pat;
    size_t ti = 0, pi = 0;
    size_t star_p = SIZE_MAX, star_t = 0;
    while (ti < tlen) {
        if (pi < plen) {
            size_t esc = sql_like_escape_at(pat, plen, pi, escape);
            if (esc) {
                /* The literal: the character after the escape, or the
                 * escape itself at the end. */
                size_t at = pi + esc < plen ? pi + esc : pi;
                size_t n = at == pi ? esc : utf8_len(p + at, plen - at);
                if (tlen - ti >= n && !memcmp(t + ti, p + at, n)) {
                    ti += n;
                    pi = at + n;
                    continue;
                }
            } else if (p[pi] == '%') {
                star_p = ++pi;
                star_t = ti;
                continue;
            } else if (p[pi] == '_') {
                ti += utf8_len(t + ti, tlen - ti);
                pi++;
                continue;
            } else if (t[ti] == p[pi]) {
                ti++;
                pi++;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return false;
        star_t += utf8_len(t + star_t, tlen - star_t);
        ti = star_t;
        pi = star_p;
    }
    while (pi < plen && p[pi] == '%' && !sql_like_escape_at(pat, plen, pi, escape))
        pi++;
    return pi == plen;
}

/* LIKE for a pattern the planner reduced to a literal and its ends. */
static bool like_form_holds(const sql_expr *e, const char *text, size_t len)
{
    const char *lit = e->like_lit;
    size_t n = e->like_len;
    switch (e->like_form) {
    case SQL_LIKE_EXACT:
        return len == n && !memcmp(text, lit, n);
    case SQL_LIKE_PREFIX:
        return len >= n && !memcmp(text, lit, n);
    case SQL_LIKE_SUFFIX:
        return len >= n && !memcmp(text + len - n, lit, n);
    default:
        if (n == 0)
            return true;
        for (const char *p = text, *end = text + len; (size_t)(end - p) >= n; p++) {
            p = memchr(p, lit[0], (size_t)(end - p) - n + 1);
            if (!p)
                return false;
            if (!memcmp(p, lit, n))
                return true;
        }
        return false;
    }
}

/* ---- evaluation --------------------------------------------------------- */

static void load_column(const sql_expr *e, const unsigned char *rec, sql_value *out)
{
    const unsigned char *at = rec + e->offset;
    out->single = false;
    switch (e->load) {
    case SQL_LOAD_U8: out->type = SQL_T_INT; out->i = *at; return;
    case SQL_LOAD_I8: out->type = SQL_T_INT; out->i = (int8_t)*at; return;
    case SQL_LOAD_U16: { uint16_t v; memcpy(&v, at, 2); out->type = SQL_T_INT; out->i = v; return; }
    case SQL_LOAD_I16: { int16_t v; memcpy(&v, at, 2); out->type = SQL_T_INT; out->i = v; return; }
    case SQL_LOAD_U32: { uint32_t v; memcpy(&v, at, 4); out->type = SQL_T_INT; out->i = v; return; }
    case SQL_LOAD_I32: { int32_t v; memcpy(&v, at, 4); out->type = SQL_T_INT; out->i = v; return; }
    case SQL_LOAD_U64: { uint64_t v; memcpy(&v, at, 8); out->type = SQL_T_INT; out->i = v; return; }
    case SQL_LOAD_I64: { int64_t v; memcpy(&v, at, 8); out->type = SQL_T_INT; out->i = v; return; }
    case SQL_LOAD_F32: {
        float v;
        memcpy(&v, at, 4);
        out->type = SQL_T_FLOAT;
        out->f = v;
        out->single = true;
        return;
    }
    case SQL_LOAD_F64: { double v; memcpy(&v, at, 8); out->type = SQL_T_FLOAT; out->f = v; return; }
    case SQL_LOAD_BOOL: out->type = SQL_T_BOOL; out->b = *at != 0; return;
    case SQL_LOAD_STR: {
        const void *nul = memchr(at, 0, e->size);
        out->type = SQL_T_TEXT;
        out->s.ptr = (const char *)at;
        out->s.len = nul ? (size_t)((const unsigned char *)nul - at) : e->size;
        return;
    }
    case SQL_LOAD_BYTES:
        out->type = SQL_T_BYTES;
        out->s.ptr = (const char *)at;
        out->s.len = e->size;
        return;
    }
}

/* An error found while evaluating node e gets e's position. */
static int at_node(const sql_expr *e, sql_error *err)
{
    if (err->col == 0) {
        err->line = e->line;
        err->col = e->col;
    }
    return -1;
}

/* MIN and MAX of several values: the first of the least (greatest); an
 * integer beside floats is given as a float, the type the planner gave
 * the call. The other functions take their arguments' values. */
static int eval_func(const sql_expr *e, const sql_row *row, sql_value *out, sql_error *err)
{
    sql_value v[3], x;
    if (e->func != SQL_FN_MIN && e->func != SQL_FN_MAX) {
        for (size_t i = 0; i < e->count && i < 3; i++)
            if (sql_eval(e->list[i], row, &v[i], err) < 0)
                return -1;
        return sql_func_apply(e, v, out, err);
    }
    for (size_t i = 0; i < e->count; i++) {
        if (sql_eval(e->list[i], row, &x, err) < 0)
            return -1;
        int c = i ? sql_compare_total(&x, &v[0]) : 0;
        if (i == 0 || (e->func == SQL_FN_MIN ? c < 0 : c > 0))
            v[0] = x;
    }
    *out = v[0];
    if (e->type == SQL_T_FLOAT && v[0].type == SQL_T_INT) {
        out->type = SQL_T_FLOAT;
        out->f = (double)v[0].i;
    }
    return 0;
}

int sql_eval(const sql_expr *e, const sql_row *row, sql_value *out, sql_error *err)
{
    sql_value a, b;
    switch (e->kind) {
    case SQL_E_LITERAL:
        *out = e->value;
        return 0;
    case SQL_E_COLUMN:
        load_column(e, row->record, out);
        return 0;
    case SQL_E_AGG:
        *out = row->aggs[e->agg_slot];
        return 0;
    case SQL_E_PARAM:
        /* The public layer puts each bound value in as a literal. */
        return sql_fail(err, e->line, e->col, "parameter %u has no value", e->param);
    case SQL_E_UNARY:
        if (sql_eval(e->a, row, &a, err) < 0)
            return -1;
        if (e->op == SQL_OP_PLUS) {
            *out = a;
            return 0;
        }
        return sql_negate(&a, out, err) < 0 ? at_node(e, err) : 0;
    case SQL_E_BINARY:
        if (sql_eval(e->a, row, &a, err) < 0 || sql_eval(e->b, row, &b, err) < 0)
            return -1;
        return sql_arith(e->op, &a, &b, out, err) < 0 ? at_node(e, err) : 0;
    case SQL_E_FUNC:
        return eval_func(e, row, out, err);
    default: {
        bool v;
        if (sql_eval_bool(e, row, &v, err) < 0)
            return -1;
        memset(out, 0, sizeof *out);
        out->type = SQL_T_BOOL;
        out->b = v;
        return 0;
    }
    }
}

static int eval_compare(const sql_expr *e, const sql_row *row, bool *out, sql_error *err)
{
    sql_value a, b;
    bool unordered;
    if (sql_eval(e->a, row, &a, err) < 0 || sql_eval(e->b, row, &b, err) < 0)
        return -1;
    int cmp = sql_compare(&a, &b, &unordered);
    *out = compare_holds(e->op, cmp, unordered);
    return 0;
}

static int eval_between(const sql_expr *e, const sql_row *row, bool *out, sql_error *err)
{
    sql_value a, b, c;
    if (sql_eval(e->a, row, &a, err) < 0 || sql_eval(e->b, row, &b, err) < 0 ||
        sql_eval(e->c, row, &c, err) < 0)
        return -1;
    bool lo_un, hi_un;
    int lo = sql_compare(&a, &b, &lo_un), hi = sql_compare(&a, &c, &hi_un);
    bool inside = !lo_un && !hi_un && lo >= 0 && hi <= 0;
    *out = inside != e->negate;
    return 0;
}

/* Is a among the sorted values? The first value not below a in the total
 * order is the only candidate; equal in the total order but unordered
 * (NaN against NaN) is not found, as in the search one by one. */
static bool among_sorted(const sql_value *sorted, size_t count, const sql_value *a)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sql_compare_total(&sorted[mid], a) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    bool unordered;
    return lo < count && sql_compare(a, &sorted[lo], &unordered) == 0 && !unordered;
}

static int eval_in(const sql_expr *e, const sql_row *row, bool *out, sql_error *err)
{
    sql_value a, b;
    bool unordered;
    if (sql_eval(e->a, row, &a, err) < 0)
        return -1;
    if (e->in_sorted) {
        *out = among_sorted(e->in_sorted, e->count, &a) != e->negate;
        return 0;
    }
    bool found = false;
    for (size_t i = 0; i < e->count && !found; i++) {
        if (sql_eval(e->list[i], row, &b, err) < 0)
            return -1;
        found = sql_compare(&a, &b, &unordered) == 0 && !unordered;
    }
    *out = found != e->negate;
    return 0;
}

int sql_eval_bool(const sql_expr *e, const sql_row *row, bool *out, sql_error *err)
{
    if (e->fast_range) {
        *out = sql_range_holds(e, row->record);
        return 0;
    }
    sql_value a, b;
    switch (e->kind) {
    case SQL_E_AND:
        if (sql_eval_bool(e->a, row, out, err) < 0)
            return -1;
        return *out ? sql_eval_bool(e->b, row, out, err) : 0;
    case SQL_E_OR:
        if (sql_eval_bool(e->a, row, out, err) < 0)
            return -1;
        return *out ? 0 : sql_eval_bool(e->b, row, out, err);
    case SQL_E_NOT:
        if (sql_eval_bool(e->a, row, out, err) < 0)
            return -1;
        *out = !*out;
        return 0;
    case SQL_E_COMPARE:
        return eval_compare(e, row, out, err);
    case SQL_E_BETWEEN:
        return eval_between(e, row, out, err);
    case SQL_E_IN:
        return eval_in(e, row, out, err);
    case SQL_E_LIKE:
        if (sql_eval(e->a, row, &a, err) < 0)
            return -1;
        if (e->like_form != SQL_LIKE_GENERAL) {
            *out = like_form_holds(e, a.s.ptr, a.s.len) != e->negate;
            return 0;
        }
        if (sql_eval(e->b, row, &b, err) < 0)
            return -1;
        *out = sql_like(a.s.ptr, a.s.len, b.s.ptr, b.s.len, e->escape) != e->negate;
        return 0;
    default:
        if (sql_eval(e, row, &a, err) < 0)
            return -1;
        *out = a.b;
        return 0;
    }
}
