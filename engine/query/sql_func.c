/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_func.c - the scalar functions: length, lower, upper,
 * substr, trim, ltrim, rtrim, replace, instr, abs, round, min and max of
 * several values, CAST and ||, evaluated as sqlite3 evaluates them where
 * vmdb's values allow (docs/sql.md lists where they differ).
 *
 * Text is UTF-8 and counted in characters where sqlite counts characters
 * (length, substr, instr, trim's set); lower and upper change ASCII
 * letters only, as sqlite's own do. The planner has checked the
 * arguments' count and types, so each function meets only the types it
 * takes. A text result is written into the node's scratch buffer
 * (sql.h): it lives until the node is evaluated again.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "sql.h"

static const char *const names[] = {
    [SQL_FN_LENGTH] = "length", [SQL_FN_LOWER] = "lower",     [SQL_FN_UPPER] = "upper",
    [SQL_FN_SUBSTR] = "substr", [SQL_FN_TRIM] = "trim",       [SQL_FN_LTRIM] = "ltrim",
    [SQL_FN_RTRIM] = "rtrim",   [SQL_FN_REPLACE] = "replace", [SQL_FN_INSTR] = "instr",
    [SQL_FN_ABS] = "abs",       [SQL_FN_ROUND] = "round",     [SQL_FN_MIN] = "min",
    [SQL_FN_MAX] = "max",       [SQL_FN_CAST] = "CAST",       [SQL_FN_CONCAT] = "||",
};

bool sql_func_named(const char *name, size_t len, enum sql_func *out)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (i == SQL_FN_CAST || i == SQL_FN_CONCAT)
            continue; /* not called by name */
        if (strlen(names[i]) == len && !strncasecmp(names[i], name, len)) {
            *out = (enum sql_func)i;
            return true;
        }
    }
    if (len == 9 && !strncasecmp(name, "substring", len)) {
        *out = SQL_FN_SUBSTR;
        return true;
    }
    return false;
}

const char *sql_func_name(enum sql_func fn)
{
    return (size_t)fn < sizeof names / sizeof names[0] ? names[fn] : "?";
}

/* ---- helpers -------------------------------------------------------------- */

static int fail_at(const sql_expr *e, sql_error *err, const char *what)
{
    return sql_fail(err, e->line, e->col, "%s: %s", sql_func_name(e->func), what);
}

/* n bytes of the node's scratch buffer, or NULL after an error. */
static char *scratch(const sql_expr *e, size_t n, sql_error *err)
{
    sql_scratch *s = e->scratch;
    if (n > s->cap) {
        size_t cap = n > 2 * s->cap ? n : 2 * s->cap;
        char *p = sql_arena_alloc(s->arena, cap ? cap : 1);
        if (!p) {
            sql_fail(err, e->line, e->col, "out of memory evaluating %s",
                     sql_func_name(e->func));
            err->code = VMDB_ENOMEM;
            return NULL;
        }
        s->ptr = p;
        s->cap = cap;
    }
    return s->ptr;
}

static void text_out(sql_value *out, const char *p, size_t len)
{
    memset(out, 0, sizeof *out);
    out->type = SQL_T_TEXT;
    out->s.ptr = p;
    out->s.len = len;
}

static void int_out(sql_value *out, sql_int v)
{
    memset(out, 0, sizeof *out);
    out->type = SQL_T_INT;
    out->i = v;
}

static void float_out(sql_value *out, double f)
{
    memset(out, 0, sizeof *out);
    out->type = SQL_T_FLOAT;
    out->f = f;
}

/* Bytes of the UTF-8 character at s (n > 0 bytes left). */
static size_t char_len(const char *s, size_t n)
{
    return sql_like_char_len(s, n);
}

static size_t char_count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i += char_len(s + i, n - i))
        count++;
    return count;
}

/* The byte offset of character `index` (0-based) of s, or n past the end. */
static size_t char_offset(const char *s, size_t n, sql_int index)
{
    size_t at = 0;
    for (sql_int i = 0; i < index && at < n; i++)
        at += char_len(s + at, n - at);
    return at;
}

/* Any value as its text: numbers as vmdb prints them. */
static void value_text(const sql_value *v, char *tmp, size_t cap, const char **p, size_t *len)
{
    sql_value_text(v, tmp, cap, p, len);
}

/* ---- the functions -------------------------------------------------------- */

/* sqlite's substr: characters from `start` (1-based; from the end when
 * negative; 0 is the place before the first), `count` of them (all when
 * not given; those before start when negative). */
static void substr_span(sql_int chars, sql_int start, bool has_count, sql_int count,
                        sql_int *from, sql_int *take)
{
    sql_int p1 = start, p2 = has_count ? count : SQL_INT_MAX;
    bool back = false;
    if (p2 < 0) {
        p2 = -p2;
        back = true;
    }
    if (p1 < 0) {
        p1 += chars;
        if (p1 < 0) {
            p2 += p1;
            if (p2 < 0)
                p2 = 0;
            p1 = 0;
        }
    } else if (p1 > 0) {
#ifndef VMDB_MUTANT_SQL_SUBSTR_FROM_ZERO /* the harness's teeth (Makefile MUTANTS) */
        p1--;
#endif
    } else if (p2 > 0) {
        p2--;
    }
    if (back) {
        p1 -= p2;
        if (p1 < 0) {
            p2 += p1;
            p1 = 0;
        }
    }
    if (p1 > chars)
        p1 = chars;
    if (p2 > chars - p1)
        p2 = chars - p1;
    *from = p1;
    *take = p2 < 0 ? 0 : p2;
}

static bool in_set(const char *c, size_t clen, const char *set, size_t set_len)
{
    for (size_t i = 0; i < set_len;) {
        size_t n = char_len(set + i, set_len - i);
        if (n == clen && !memcmp(set + i, c, n))
            return true;
        i += n;
    }
    return false;
}

static void trim(const sql_expr *e, const sql_value *x, const char *set, size_t set_len,
                 sql_value *out)
{
    const char *s = x->s.ptr;
    size_t start = 0, end = x->s.len;
    if (e->func != SQL_FN_RTRIM)
        while (start < end) {
            size_t n = char_len(s + start, end - start);
            if (!in_set(s + start, n, set, set_len))
                break;
            start += n;
        }
    if (e->func != SQL_FN_LTRIM) {
        /* Forward, keeping the end of the last character not in the set:
         * UTF-8 is read one way only. */
        size_t keep = start;
        for (size_t i = start; i < end;) {
            size_t n = char_len(s + i, end - i);
            if (!in_set(s + i, n, set, set_len))
                keep = i + n;
            i += n;
        }
        end = keep;
    }
    text_out(out, s + start, end - start);
}

static int replace(const sql_expr *e, const sql_value *x, const sql_value *from,
                   const sql_value *to, sql_value *out, sql_error *err)
{
    if (from->s.len == 0 || x->s.len < from->s.len) {
        *out = *x;
        return 0;
    }
    size_t hits = 0;
    for (size_t i = 0; i + from->s.len <= x->s.len;)
        if (!memcmp(x->s.ptr + i, from->s.ptr, from->s.len)) {
            hits++;
            i += from->s.len;
        } else {
            i++;
        }
    size_t len = x->s.len + hits * to->s.len - hits * from->s.len;
    char *d = scratch(e, len + 1, err);
    if (!d)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < x->s.len;) {
        if (i + from->s.len <= x->s.len && !memcmp(x->s.ptr + i, from->s.ptr, from->s.len)) {
            memcpy(d + n, to->s.ptr, to->s.len);
            n += to->s.len;
            i += from->s.len;
        } else {
            d[n++] = x->s.ptr[i++];
        }
    }
    text_out(out, d, n);
    return 0;
}

/* Half away from zero at `digits` decimals, as sqlite rounds. */
static double round_to(double x, sql_int digits)
{
    if (!isfinite(x))
        return x;
    if (digits < 0)
        digits = 0;
    if (digits > 15)
        return x;
    double scale = 1;
    for (sql_int i = 0; i < digits; i++)
        scale *= 10;
    double r = x * scale;
    if (fabs(r) >= 4503599627370496.0) /* 2^52: no fraction left to round */
        return x;
    /* Through an integer, as sqlite: -0.3 rounds to 0, not -0. */
    r = (double)(int64_t)(r + (r < 0 ? -0.5 : 0.5));
    return digits ? r / scale : r;
}

/* The longest prefix of text that is a number, as sqlite's CAST reads
 * text: spaces, a sign, digits, and for a float a fraction and an
 * exponent; "" or "abc" is 0. */
static size_t number_prefix(const char *s, size_t n, bool fraction)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    size_t start = i;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    size_t digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (fraction && i < n && s[i] == '.') {
        size_t j = i + 1;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++, digits++;
        i = j;
    }
    if (!digits)
        return start;
    if (fraction && i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < n && s[j] >= '0' && s[j] <= '9') {
            while (j < n && s[j] >= '0' && s[j] <= '9')
                j++;
            i = j;
        }
    }
    return i;
}

static int cast_fail(const sql_expr *e, const sql_value *v, sql_error *err)
{
    char tmp[64], q[VMDB_PRINTABLE_CAP];
    const char *p;
    size_t len;
    if (v->type == SQL_T_TEXT || v->type == SQL_T_BYTES) {
        vmdb_printable(v->s.ptr, v->s.len, q, sizeof q);
    } else {
        value_text(v, tmp, sizeof tmp, &p, &len);
        snprintf(q, sizeof q, "%.*s", (int)len, p);
    }
    sql_fail(err, e->line, e->col, "CAST: %s does not fit %s", q, e->cast_name);
    err->code = VMDB_ERANGE;
    return -1;
}

static int cast(const sql_expr *e, const sql_value *v, sql_value *out, sql_error *err)
{
    char tmp[80];
    const char *p;
    size_t len;
    switch (e->cast_type) {
    case SQL_T_INT: {
        sql_int i;
        if (v->type == SQL_T_INT) {
            i = v->i;
        } else if (v->type == SQL_T_BOOL) {
            i = v->b;
        } else if (v->type == SQL_T_FLOAT) {
            if (!(v->f >= -0x1p63 && v->f < 0x1p64))
                return cast_fail(e, v, err);
            i = (sql_int)v->f; /* toward zero */
        } else {
            /* The integer the text starts with; its fraction dropped. */
            size_t n = number_prefix(v->s.ptr, v->s.len, true);
            size_t k = 0;
            while (k < n && (v->s.ptr[k] == ' ' || v->s.ptr[k] == '\t' ||
                             v->s.ptr[k] == '\n' || v->s.ptr[k] == '\r'))
                k++;
            bool neg = k < n && v->s.ptr[k] == '-';
            if (k < n && (v->s.ptr[k] == '-' || v->s.ptr[k] == '+'))
                k++;
            i = 0;
            for (; k < n && v->s.ptr[k] >= '0' && v->s.ptr[k] <= '9'; k++) {
                i = i * 10 + (v->s.ptr[k] - '0');
                if (i > SQL_INT_MAX + 1)
                    return cast_fail(e, v, err);
            }
            if (neg)
                i = -i;
        }
        if (i < e->cast_lo || i > e->cast_hi)
            return cast_fail(e, v, err);
        int_out(out, i);
        return 0;
    }
    case SQL_T_FLOAT:
        if (v->type == SQL_T_FLOAT) {
            float_out(out, v->f);
            out->single = v->single;
        } else if (v->type == SQL_T_INT) {
            float_out(out, (double)v->i);
        } else if (v->type == SQL_T_BOOL) {
            float_out(out, v->b);
        } else {
            size_t n = number_prefix(v->s.ptr, v->s.len, true);
            char *buf = scratch(e, n + 1, err);
            if (!buf)
                return -1;
            memcpy(buf, v->s.ptr, n);
            buf[n] = '\0';
            float_out(out, n ? strtod(buf, NULL) : 0.0);
        }
        if (e->cast_hi == 32) {
            /* f32: its precision, and its range as a field's setter has it. */
            if (isfinite(out->f) && fabs(out->f) > FLT_MAX)
                return cast_fail(e, v, err);
            out->f = (float)out->f;
            out->single = true;
        }
        return 0;
    case SQL_T_TEXT: {
        if (v->type == SQL_T_TEXT) {
            *out = *v;
            return 0;
        }
        size_t cap = sql_value_text_cap(v);
        char *buf = scratch(e, cap, err);
        if (!buf)
            return -1;
        value_text(v, buf, cap, &p, &len);
        if (p != buf)
            memmove(buf, p, len);
        text_out(out, buf, len);
        return 0;
    }
    default: { /* bool */
        bool b;
        if (v->type == SQL_T_BOOL) {
            b = v->b;
        } else if (v->type == SQL_T_INT) {
            b = v->i != 0;
        } else if (v->type == SQL_T_FLOAT) {
            b = v->f != 0;
        } else if (v->s.len == 4 && !strncasecmp(v->s.ptr, "true", 4)) {
            b = true;
        } else if (v->s.len == 5 && !strncasecmp(v->s.ptr, "false", 5)) {
            b = false;
        } else {
            size_t n = number_prefix(v->s.ptr, v->s.len, true);
            if (n >= sizeof tmp)
                n = sizeof tmp - 1;
            memcpy(tmp, v->s.ptr, n);
            tmp[n] = '\0';
            b = n && strtod(tmp, NULL) != 0;
        }
        memset(out, 0, sizeof *out);
        out->type = SQL_T_BOOL;
        out->b = b;
        return 0;
    }
    }
}

static int concat(const sql_expr *e, const sql_value *a, const sql_value *b, sql_value *out,
                  sql_error *err)
{
    char ta[64], tb[64];
    const char *pa, *pb;
    size_t la, lb;
    value_text(a, ta, sizeof ta, &pa, &la);
    value_text(b, tb, sizeof tb, &pb, &lb);
    char *d = scratch(e, la + lb + 1, err);
    if (!d)
        return -1;
    /* An operand may be this node's own last result: move, not copy. */
    memmove(d, pa, la);
    memmove(d + la, pb, lb);
    text_out(out, d, la + lb);
    return 0;
}

int sql_func_apply(const sql_expr *e, const sql_value *v, sql_value *out, sql_error *err)
{
    switch (e->func) {
    case SQL_FN_LENGTH:
        if (v[0].type == SQL_T_BYTES) {
            int_out(out, v[0].s.len);
        } else if (v[0].type == SQL_T_TEXT) {
            int_out(out, char_count(v[0].s.ptr, v[0].s.len));
        } else {
            char tmp[64];
            const char *p;
            size_t len;
            value_text(&v[0], tmp, sizeof tmp, &p, &len);
            int_out(out, len);
        }
        return 0;
    case SQL_FN_LOWER:
    case SQL_FN_UPPER: {
        char *d = scratch(e, v[0].s.len + 1, err);
        if (!d)
            return -1;
        for (size_t i = 0; i < v[0].s.len; i++) {
            char c = v[0].s.ptr[i];
            if (e->func == SQL_FN_LOWER && c >= 'A' && c <= 'Z')
                c = (char)(c + 32);
            else if (e->func == SQL_FN_UPPER && c >= 'a' && c <= 'z')
                c = (char)(c - 32);
            d[i] = c;
        }
        text_out(out, d, v[0].s.len);
        return 0;
    }
    case SQL_FN_SUBSTR: {
        sql_int chars = (sql_int)char_count(v[0].s.ptr, v[0].s.len), from, take;
        substr_span(chars, v[1].i, e->count == 3, e->count == 3 ? v[2].i : 0, &from, &take);
        size_t start = char_offset(v[0].s.ptr, v[0].s.len, from);
        size_t end = start + char_offset(v[0].s.ptr + start, v[0].s.len - start, take);
        text_out(out, v[0].s.ptr + start, end - start);
        return 0;
    }
    case SQL_FN_TRIM:
    case SQL_FN_LTRIM:
    case SQL_FN_RTRIM:
        trim(e, &v[0], e->count == 2 ? v[1].s.ptr : " ", e->count == 2 ? v[1].s.len : 1, out);
        return 0;
    case SQL_FN_REPLACE:
        return replace(e, &v[0], &v[1], &v[2], out, err);
    case SQL_FN_INSTR: {
        const char *hay = v[0].s.ptr, *needle = v[1].s.ptr;
        size_t hl = v[0].s.len, nl = v[1].s.len;
        sql_int pos = 0, at = 1;
        for (size_t i = 0; i + nl <= hl; i += char_len(hay + i, hl - i), at++)
            if (!memcmp(hay + i, needle, nl)) {
                pos = at;
                break;
            }
        int_out(out, pos);
        return 0;
    }
    case SQL_FN_ABS:
        if (v[0].type == SQL_T_INT)
            int_out(out, v[0].i < 0 ? -v[0].i : v[0].i);
        else
            float_out(out, fabs(v[0].f));
        return 0;
    case SQL_FN_ROUND: {
        double x = v[0].type == SQL_T_INT ? (double)v[0].i : v[0].f;
        float_out(out, round_to(x, e->count == 2 ? v[1].i : 0));
        return 0;
    }
    case SQL_FN_MIN:
    case SQL_FN_MAX:
        break; /* sql_eval's: they compare */
    case SQL_FN_CAST:
        return cast(e, &v[0], out, err);
    case SQL_FN_CONCAT:
        return concat(e, &v[0], &v[1], out, err);
    }
    return fail_at(e, err, "unknown function");
}
