/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_plan.c - from a parsed statement to a plan: names bound to the
 * table's fields, types checked, the access path chosen.
 *
 * Binding resolves each column once, here, to its offset, size and load
 * kind in the record, so the executor reads a field from the record bytes
 * with no name lookup per row. Types are checked statically: a mixture
 * such as text = 5 is refused before a record is read, which leaves the
 * evaluator no type errors to find at run time.
 *
 * The access path: when the WHERE (or one of its AND-ed terms) is
 * `key = constant` or `key IN (constants)`, the index answers it, one
 * vmdb_table_get per distinct key, and the whole WHERE is still evaluated on
 * each record found. Anything else scans the table. Constants are
 * converted to key bytes with the same setters INSERT uses, so a constant
 * that no key can equal (-1 for a u64 key, 1.5 for an integer, a string
 * longer than the field) is no lookup at all. Float and bool keys always
 * scan: 0.0 = -0.0 in SQL, but they are two keys to the index.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sql_admin.h"
#include "sql_plan.h"

/* ---- helpers ------------------------------------------------------------ */

static int oom(sql_error *err)
{
    return sql_fail(err, 0, 0, "out of memory planning the statement");
}

static bool numeric(enum sql_type t)
{
    return t == SQL_T_INT || t == SQL_T_FLOAT;
}

/* "u8", "str32": the field's type as a schema writes it. */
static void field_type_text(const vmdb_field *f, char *dst, size_t cap)
{
    if (f->type == VMDB_TYPE_STR || f->type == VMDB_TYPE_BYTES)
        snprintf(dst, cap, "%s%u", vmdb_type_name(f->type), f->size);
    else
        snprintf(dst, cap, "%s", vmdb_type_name(f->type));
}

static enum sql_type type_of_field(const vmdb_field *f, enum sql_load *load)
{
    switch (f->type) {
    case VMDB_TYPE_U8: *load = SQL_LOAD_U8; return SQL_T_INT;
    case VMDB_TYPE_U16: *load = SQL_LOAD_U16; return SQL_T_INT;
    case VMDB_TYPE_U32: *load = SQL_LOAD_U32; return SQL_T_INT;
    case VMDB_TYPE_U64: *load = SQL_LOAD_U64; return SQL_T_INT;
    case VMDB_TYPE_I8: *load = SQL_LOAD_I8; return SQL_T_INT;
    case VMDB_TYPE_I16: *load = SQL_LOAD_I16; return SQL_T_INT;
    case VMDB_TYPE_I32: *load = SQL_LOAD_I32; return SQL_T_INT;
    case VMDB_TYPE_I64: *load = SQL_LOAD_I64; return SQL_T_INT;
    case VMDB_TYPE_F32: *load = SQL_LOAD_F32; return SQL_T_FLOAT;
    case VMDB_TYPE_F64: *load = SQL_LOAD_F64; return SQL_T_FLOAT;
    case VMDB_TYPE_BOOL: *load = SQL_LOAD_BOOL; return SQL_T_BOOL;
    case VMDB_TYPE_STR: *load = SQL_LOAD_STR; return SQL_T_TEXT;
    default: *load = SQL_LOAD_BYTES; return SQL_T_BYTES;
    }
}

/* The field called name, in any case as SQL has it: the field of that
 * exact name, else the only one whose name differs in case alone; or -1
 * naming it. */
static int find_field(const sql_plan *pl, const char *name, unsigned line, unsigned col,
                      size_t *field, sql_error *err)
{
    char q[VMDB_PRINTABLE_CAP];
    if (vmdb_schema_find(pl->schema, name, field) == 0)
        return 0;
    vmdb_error_clear(); /* a miss here is no error yet */
    size_t found = SIZE_MAX, count = vmdb_schema_field_count(pl->schema);
    for (size_t i = 0; i < count; i++) {
        if (strcasecmp(vmdb_schema_field(pl->schema, i)->name, name) != 0)
            continue;
        if (found != SIZE_MAX) {
            vmdb_printable(name, strlen(name), q, sizeof q);
            return sql_fail(err, line, col, "%s: '%s' is ambiguous: fields %s and %s differ "
                            "only in case (write the one meant in its own case)", pl->stmt->table, q,
                            vmdb_schema_field(pl->schema, found)->name,
                            vmdb_schema_field(pl->schema, i)->name);
        }
        found = i;
    }
    if (found != SIZE_MAX) {
        *field = found;
        return 0;
    }
    vmdb_printable(name, strlen(name), q, sizeof q);
    sql_fail(err, line, col, "%s: no field '%s'", pl->stmt->table, q);
    err->code = VMDB_ENOTFOUND;
    return -1;
}

/* ---- binding ------------------------------------------------------------ */

typedef struct bind_ctx {
    bool columns;          /* field names allowed */
    const char *no_columns;/* why not, for the message */
    bool aggs;             /* aggregates allowed */
    const char *no_aggs;   /* where they are not: "WHERE" */
    bool in_agg;
    bool aliases;          /* a name no field has may be an output's alias
                              (HAVING, ORDER BY), standing for its
                              expression, as sqlite has it */
} bind_ctx;

static int bind(sql_plan *pl, sql_expr *e, const bind_ctx *cx, sql_error *err);

static int bind_column(sql_plan *pl, sql_expr *e, const bind_ctx *cx, sql_error *err)
{
    if (!cx->columns)
        return sql_fail(err, e->line, e->col, "%s: '%s' is not a value", cx->no_columns,
                        e->name);
    if (e->qualifier && strcasecmp(e->qualifier, pl->stmt->table) != 0 &&
        !(pl->stmt->table_alias && !strcasecmp(e->qualifier, pl->stmt->table_alias)))
        return sql_fail(err, e->line, e->col, "'%s.%s': the table here is %s", e->qualifier,
                        e->name, pl->stmt->table);
    if (find_field(pl, e->name, e->line, e->col, &e->field, err) < 0) {
        const sql_stmt *st = pl->stmt;
        const sql_expr *alias = NULL;
        for (size_t k = 0; cx->aliases && !e->qualifier && err->code == VMDB_ENOTFOUND &&
                           k < st->item_count && !alias;
             k++)
            if (st->items[k].alias && !strcasecmp(st->items[k].alias, e->name))
                alias = st->items[k].expr;
        if (!alias)
            return -1;
        /* The output's expression, bound already, in the name's place:
         * its nodes are shared, which evaluation, reading only, allows. */
        memset(err, 0, sizeof *err);
        *e = *alias;
        return 0;
    }
    const vmdb_field *f = vmdb_schema_field(pl->schema, e->field);
    e->offset = f->offset;
    e->size = f->size;
    e->type = type_of_field(f, &e->load);
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A text literal compared with bytes becomes bytes: '0x0a0b', padded with
 * zeros to `pad` bytes as a bytesN field stores it. */
static int literal_to_bytes(sql_plan *pl, sql_expr *lit, size_t pad, sql_error *err)
{
    const char *s = lit->value.s.ptr;
    size_t len = lit->value.s.len;
    bool hex = len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && len % 2 == 0;
    for (size_t i = 2; hex && i < len; i++)
        hex = hex_digit(s[i]) >= 0;
    if (!hex) {
        char q[VMDB_PRINTABLE_CAP];
        vmdb_printable(s, len, q, sizeof q);
        return sql_fail(err, lit->line, lit->col, "'%s' is not hex bytes (0x...)", q);
    }
    size_t n = (len - 2) / 2, cap = n > pad ? n : pad;
    unsigned char *bytes = sql_arena_alloc(pl->arena, cap ? cap : 1);
    if (!bytes)
        return oom(err);
    for (size_t i = 0; i < n; i++)
        bytes[i] = (unsigned char)(hex_digit(s[2 + 2 * i]) << 4 | hex_digit(s[3 + 2 * i]));
    lit->value.type = SQL_T_BYTES;
    lit->value.s.ptr = (const char *)bytes;
    lit->value.s.len = cap;
    lit->type = SQL_T_BYTES;
    return 0;
}

/* A text literal that is all of a decimal number ("30", "-2", "2.5",
 * "1e3", no spaces) becomes that number, as sqlite's affinity makes it
 * beside a number field; false (the literal untouched) for other text. */
static bool literal_to_number(sql_expr *lit)
{
    const char *s = lit->value.s.ptr;
    size_t len = lit->value.s.len, i = 0;
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    if (s[i] == '+' || s[i] == '-')
        i++;
    size_t digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (i == len && digits) {
        sql_int v = 0;
        for (size_t k = s[0] == '+' || s[0] == '-' ? 1 : 0; k < len; k++) {
            v = v * 10 + (s[k] - '0');
            if (v > SQL_INT_MAX + 1)
                break;
        }
        if (s[0] == '-')
            v = -v;
        if (v >= SQL_INT_MIN && v <= SQL_INT_MAX) {
            lit->value = (sql_value){.type = SQL_T_INT, .i = v};
            lit->type = SQL_T_INT;
            return true;
        }
    }
    /* A decimal float: only these characters, all of them read (no hex,
     * no "inf" or "nan", which strtod would take). */
    if (strspn(buf, "0123456789.eE+-") != len)
        return false;
    char *end;
    double d = strtod(buf, &end);
    if (*end || !isfinite(d))
        return false;
    lit->value = (sql_value){.type = SQL_T_FLOAT, .f = d};
    lit->type = SQL_T_FLOAT;
    return true;
}

/* Can a and b be compared? Both numbers, or both of one type, or a bool
 * and a number (true is 1, as in sqlite); a text literal against bytes
 * is read as hex, and against a number field as the number it spells
 * when it is all of one ('30'). `at` is the operator, for the message. */
static int comparable(sql_plan *pl, sql_expr *a, sql_expr *b, const sql_expr *at,
                      sql_error *err)
{
    if (numeric(a->type) && numeric(b->type))
        return 0;
    if (a->type == b->type)
        return 0;
    if ((a->type == SQL_T_BOOL && numeric(b->type)) ||
        (b->type == SQL_T_BOOL && numeric(a->type)))
        return 0;
    for (int side = 0; side < 2; side++) {
        sql_expr *num = side ? b : a, *text = side ? a : b;
        if (numeric(num->type) && num->kind == SQL_E_COLUMN && text->type == SQL_T_TEXT &&
            text->kind == SQL_E_LITERAL) {
            if (literal_to_number(text))
                return 0;
            char q[VMDB_PRINTABLE_CAP];
            vmdb_printable(text->value.s.ptr, text->value.s.len, q, sizeof q);
            return sql_fail(err, text->line, text->col,
                            "cannot compare %s with text '%s': it is not a number",
                            sql_type_name(num->type), q);
        }
    }
    for (int side = 0; side < 2; side++) {
        sql_expr *bytes = side ? b : a, *text = side ? a : b;
        if (bytes->type == SQL_T_BYTES && text->type == SQL_T_TEXT &&
            text->kind == SQL_E_LITERAL)
            return literal_to_bytes(pl, text, bytes->kind == SQL_E_COLUMN ? bytes->size : 0,
                                    err);
    }
    return sql_fail(err, at->line, at->col, "cannot compare %s with %s", sql_type_name(a->type),
                    sql_type_name(b->type));
}

/* A parameter takes the type of what it meets, so that its value can be
 * checked when it is bound, before the statement runs; one met by a field
 * notes the field, whose range the value must then fit. */
static void meet(sql_expr *param, const sql_expr *peer)
{
    if (param->kind != SQL_E_PARAM || param->type != SQL_T_NONE || peer->type == SQL_T_NONE)
        return;
    param->type = peer->type;
    if (peer->kind == SQL_E_COLUMN) {
        param->field = peer->field;
        param->param_field = true;
    }
}

static void meet_type(sql_expr *param, enum sql_type type)
{
    if (param->kind == SQL_E_PARAM && param->type == SQL_T_NONE)
        param->type = type;
}

/* A parameter nothing gave a type to ("? + ?", "SELECT ?") cannot be
 * checked when bound: refused. */
static int typed(const sql_expr *e, sql_error *err)
{
    if (!e || e->kind != SQL_E_PARAM || e->type != SQL_T_NONE)
        return 0;
    return sql_fail(err, e->line, e->col,
                    "parameter %u has no type here: compare it with a field or a value",
                    e->param);
}

static int push_agg(sql_plan *pl, sql_expr *e, sql_error *err)
{
    sql_expr **n = realloc(pl->aggs, (pl->agg_count + 1) * sizeof *n);
    if (!n)
        return oom(err);
    pl->aggs = n;
    e->agg_slot = pl->agg_count;
    pl->aggs[pl->agg_count++] = e;
    return 0;
}

static int bind_agg(sql_plan *pl, sql_expr *e, const bind_ctx *cx, sql_error *err)
{
    static const char *const names[] = {"COUNT", "SUM", "MIN", "MAX", "AVG"};
    if (!cx->aggs)
        return sql_fail(err, e->line, e->col, "%s is not allowed in %s", names[e->agg],
                        cx->no_aggs);
    if (cx->in_agg)
        return sql_fail(err, e->line, e->col, "%s inside another aggregate", names[e->agg]);
    if (e->a) {
        bind_ctx inner = *cx;
        inner.in_agg = true;
        if (bind(pl, e->a, &inner, err) < 0 || typed(e->a, err) < 0)
            return -1;
    }
    switch (e->agg) {
    case SQL_AGG_COUNT:
        e->type = SQL_T_INT;
        break;
    case SQL_AGG_SUM:
    case SQL_AGG_AVG:
        if (!numeric(e->a->type))
            return sql_fail(err, e->line, e->col, "%s of %s: a number is needed", names[e->agg],
                            sql_type_name(e->a->type));
        e->type = e->agg == SQL_AGG_AVG ? SQL_T_FLOAT : e->a->type;
        break;
    case SQL_AGG_MIN:
    case SQL_AGG_MAX:
        e->type = e->a->type;
        break;
    }
    if (e->agg == SQL_AGG_AVG || e->agg == SQL_AGG_MIN || e->agg == SQL_AGG_MAX)
        pl->agg_may_be_empty = true;
    return push_agg(pl, e, err);
}

static int need_bool(const sql_expr *operand, const sql_expr *at, const char *what,
                     sql_error *err)
{
    if (operand->type == SQL_T_BOOL)
        return 0;
    return sql_fail(err, at->line, at->col, "%s needs bool operands, not %s", what,
                    sql_type_name(operand->type));
}

static const char *arith_symbol(enum sql_op op)
{
    switch (op) {
    case SQL_OP_PLUS: return "+";
    case SQL_OP_MINUS: return "-";
    case SQL_OP_STAR: return "*";
    case SQL_OP_SLASH: return "/";
    default: return "%";
    }
}

/* ---- scalar functions ------------------------------------------------------ */

static int arg_count(const sql_expr *e, size_t lo, size_t hi, sql_error *err)
{
    if (e->count >= lo && e->count <= hi)
        return 0;
    if (lo == hi)
        return sql_fail(err, e->line, e->col, "%s takes %zu argument%s, not %zu",
                        sql_func_name(e->func), lo, lo == 1 ? "" : "s", e->count);
    if (hi == SIZE_MAX)
        return sql_fail(err, e->line, e->col, "%s takes %zu or more arguments, not %zu",
                        sql_func_name(e->func), lo, e->count);
    return sql_fail(err, e->line, e->col, "%s takes %zu to %zu arguments, not %zu",
                    sql_func_name(e->func), lo, hi, e->count);
}

/* Argument i of e must be of one of the types in `want` (a bit per
 * sql_type); a parameter takes the first. */
static int arg_type(const sql_expr *e, size_t i, unsigned want, const char *what,
                    sql_error *err)
{
    sql_expr *a = e->list[i];
    if (a->kind == SQL_E_PARAM && a->type == SQL_T_NONE)
        for (int t = SQL_T_INT; t <= SQL_T_BYTES; t++)
            if (want & 1u << t) {
                a->type = (enum sql_type)t;
                break;
            }
    if (want & 1u << a->type)
        return 0;
    return sql_fail(err, a->line, a->col, "%s: argument %zu is %s, where %s is needed",
                    sql_func_name(e->func), i + 1, sql_type_name(a->type), what);
}

#define T_INT (1u << SQL_T_INT)
#define T_FLOAT (1u << SQL_T_FLOAT)
#define T_TEXT (1u << SQL_T_TEXT)
#define T_BOOL (1u << SQL_T_BOOL)
#define T_BYTES (1u << SQL_T_BYTES)

/* CAST's type: sqlite's names and vmdb's own. */
static int cast_type(sql_expr *e, sql_error *err)
{
    static const struct {
        const char *name;
        enum sql_type type;
        sql_int lo, hi;
    } types[] = {
        {"INTEGER", SQL_T_INT, SQL_INT_MIN, SQL_INT_MAX},
        {"INT", SQL_T_INT, SQL_INT_MIN, SQL_INT_MAX},
        {"BIGINT", SQL_T_INT, SQL_INT_MIN, SQL_INT_MAX},
        {"u8", SQL_T_INT, 0, UINT8_MAX},
        {"u16", SQL_T_INT, 0, UINT16_MAX},
        {"u32", SQL_T_INT, 0, UINT32_MAX},
        {"u64", SQL_T_INT, 0, UINT64_MAX},
        {"i8", SQL_T_INT, INT8_MIN, INT8_MAX},
        {"i16", SQL_T_INT, INT16_MIN, INT16_MAX},
        {"i32", SQL_T_INT, INT32_MIN, INT32_MAX},
        {"i64", SQL_T_INT, INT64_MIN, INT64_MAX},
        {"REAL", SQL_T_FLOAT, 0, 0},
        {"FLOAT", SQL_T_FLOAT, 0, 0},
        {"DOUBLE", SQL_T_FLOAT, 0, 0},
        {"f32", SQL_T_FLOAT, 0, 32}, /* hi 32: rounded to an f32 */
        {"f64", SQL_T_FLOAT, 0, 0},
        {"TEXT", SQL_T_TEXT, 0, 0},
        {"VARCHAR", SQL_T_TEXT, 0, 0},
        {"str", SQL_T_TEXT, 0, 0},
        {"BOOL", SQL_T_BOOL, 0, 0},
        {"BOOLEAN", SQL_T_BOOL, 0, 0},
    };
    const char *n = e->cast_name;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcasecmp(n, types[i].name)) {
            e->cast_type = types[i].type;
            e->cast_lo = types[i].lo;
            e->cast_hi = types[i].hi;
            return 0;
        }
    /* strN: text, whatever N. */
    if (!strncasecmp(n, "str", 3) && n[3] && strspn(n + 3, "0123456789") == strlen(n + 3)) {
        e->cast_type = SQL_T_TEXT;
        return 0;
    }
    char q[VMDB_PRINTABLE_CAP];
    vmdb_printable(n, strlen(n), q, sizeof q);
    return sql_fail(err, e->line, e->col,
                    "CAST: unknown type '%s' (INTEGER, REAL, TEXT, BOOL, or u8 ... i64, f32, "
                    "f64, strN, bool)", q);
}

static int bind_func(sql_plan *pl, sql_expr *e, const bind_ctx *cx, sql_error *err)
{
    for (size_t i = 0; i < e->count; i++)
        if (bind(pl, e->list[i], cx, err) < 0)
            return -1;
    if (!(e->scratch = sql_arena_alloc(pl->arena, sizeof *e->scratch)))
        return oom(err);
    e->scratch->arena = pl->arena;
    switch (e->func) {
    case SQL_FN_LENGTH:
        if (arg_count(e, 1, 1, err) < 0 ||
            arg_type(e, 0, T_TEXT | T_BYTES | T_INT | T_FLOAT, "text", err) < 0)
            return -1;
        e->type = SQL_T_INT;
        return 0;
    case SQL_FN_LOWER:
    case SQL_FN_UPPER:
        if (arg_count(e, 1, 1, err) < 0 || arg_type(e, 0, T_TEXT, "text", err) < 0)
            return -1;
        e->type = SQL_T_TEXT;
        return 0;
    case SQL_FN_SUBSTR:
        if (arg_count(e, 2, 3, err) < 0 || arg_type(e, 0, T_TEXT, "text", err) < 0 ||
            arg_type(e, 1, T_INT, "an integer", err) < 0 ||
            (e->count == 3 && arg_type(e, 2, T_INT, "an integer", err) < 0))
            return -1;
        e->type = SQL_T_TEXT;
        return 0;
    case SQL_FN_TRIM:
    case SQL_FN_LTRIM:
    case SQL_FN_RTRIM:
        if (arg_count(e, 1, 2, err) < 0 || arg_type(e, 0, T_TEXT, "text", err) < 0 ||
            (e->count == 2 && arg_type(e, 1, T_TEXT, "text", err) < 0))
            return -1;
        e->type = SQL_T_TEXT;
        return 0;
    case SQL_FN_REPLACE:
        if (arg_count(e, 3, 3, err) < 0)
            return -1;
        for (size_t i = 0; i < 3; i++)
            if (arg_type(e, i, T_TEXT, "text", err) < 0)
                return -1;
        e->type = SQL_T_TEXT;
        return 0;
    case SQL_FN_INSTR:
        if (arg_count(e, 2, 2, err) < 0 || arg_type(e, 0, T_TEXT, "text", err) < 0 ||
            arg_type(e, 1, T_TEXT, "text", err) < 0)
            return -1;
        e->type = SQL_T_INT;
        return 0;
    case SQL_FN_ABS:
        if (arg_count(e, 1, 1, err) < 0 || arg_type(e, 0, T_INT | T_FLOAT, "a number", err) < 0)
            return -1;
        e->type = e->list[0]->type;
        return 0;
    case SQL_FN_ROUND:
        if (arg_count(e, 1, 2, err) < 0 ||
            arg_type(e, 0, T_FLOAT | T_INT, "a number", err) < 0 ||
            (e->count == 2 && arg_type(e, 1, T_INT, "an integer", err) < 0))
            return -1;
        e->type = SQL_T_FLOAT;
        return 0;
    case SQL_FN_MIN:
    case SQL_FN_MAX: {
        if (arg_count(e, 2, SIZE_MAX, err) < 0)
            return -1;
        sql_expr *first = NULL;
        for (size_t i = 0; i < e->count && !first; i++)
            if (e->list[i]->type != SQL_T_NONE)
                first = e->list[i];
        if (!first)
            return typed(e->list[0], err);
        bool all_int = true;
        for (size_t i = 0; i < e->count; i++) {
            meet(e->list[i], first);
            if (typed(e->list[i], err) < 0 || comparable(pl, first, e->list[i], e, err) < 0)
                return -1;
            all_int &= e->list[i]->type == SQL_T_INT;
            if (e->list[i]->type == SQL_T_BOOL && first->type != SQL_T_BOOL)
                return sql_fail(err, e->line, e->col, "%s: cannot mix bool with %s",
                                sql_func_name(e->func), sql_type_name(first->type));
        }
        e->type = numeric(first->type) ? (all_int ? SQL_T_INT : SQL_T_FLOAT) : first->type;
        return 0;
    }
    case SQL_FN_CAST:
        if (cast_type(e, err) < 0 || typed(e->list[0], err) < 0)
            return -1;
        if (e->list[0]->type == SQL_T_BYTES && e->cast_type != SQL_T_TEXT)
            return sql_fail(err, e->line, e->col, "CAST: bytes become text only, not %s",
                            e->cast_name);
        e->type = e->cast_type;
        return 0;
    case SQL_FN_CONCAT:
        for (size_t i = 0; i < 2; i++)
            if (arg_type(e, i, T_TEXT | T_INT | T_FLOAT, "text or a number", err) < 0)
                return -1;
        e->type = SQL_T_TEXT;
        return 0;
    }
    return sql_fail(err, e->line, e->col, "unknown function");
}

static int bind(sql_plan *pl, sql_expr *e, const bind_ctx *cx, sql_error *err)
{
    switch (e->kind) {
    case SQL_E_FUNC:
        return bind_func(pl, e, cx, err);
    case SQL_E_LITERAL:
        e->type = e->value.type;
        return 0;
    case SQL_E_PARAM:
        return 0; /* typed by the operator above it: meet() */
    case SQL_E_COLUMN:
        return bind_column(pl, e, cx, err);
    case SQL_E_AGG:
        return bind_agg(pl, e, cx, err);
    case SQL_E_UNARY:
        if (bind(pl, e->a, cx, err) < 0 || typed(e->a, err) < 0)
            return -1;
        if (!numeric(e->a->type))
            return sql_fail(err, e->line, e->col, "cannot apply '%s' to %s", arith_symbol(e->op),
                            sql_type_name(e->a->type));
        e->type = e->a->type;
        return 0;
    case SQL_E_BINARY:
        if (bind(pl, e->a, cx, err) < 0 || bind(pl, e->b, cx, err) < 0)
            return -1;
        meet(e->a, e->b);
        meet(e->b, e->a);
        if (typed(e->a, err) < 0 || typed(e->b, err) < 0)
            return -1;
        if (!numeric(e->a->type) || !numeric(e->b->type))
            return sql_fail(err, e->line, e->col, "cannot apply '%s' to %s and %s",
                            arith_symbol(e->op), sql_type_name(e->a->type),
                            sql_type_name(e->b->type));
        e->type = e->a->type == SQL_T_INT && e->b->type == SQL_T_INT ? SQL_T_INT : SQL_T_FLOAT;
        return 0;
    case SQL_E_COMPARE:
        if (bind(pl, e->a, cx, err) < 0 || bind(pl, e->b, cx, err) < 0)
            return -1;
        meet(e->a, e->b);
        meet(e->b, e->a);
        if (typed(e->a, err) < 0 || typed(e->b, err) < 0 ||
            comparable(pl, e->a, e->b, e, err) < 0)
            return -1;
        e->type = SQL_T_BOOL;
        return 0;
    case SQL_E_AND:
    case SQL_E_OR: {
        const char *what = e->kind == SQL_E_AND ? "AND" : "OR";
        if (bind(pl, e->a, cx, err) < 0 || bind(pl, e->b, cx, err) < 0)
            return -1;
        meet_type(e->a, SQL_T_BOOL);
        meet_type(e->b, SQL_T_BOOL);
        if (need_bool(e->a, e, what, err) < 0 || need_bool(e->b, e, what, err) < 0)
            return -1;
        e->type = SQL_T_BOOL;
        return 0;
    }
    case SQL_E_NOT:
        if (bind(pl, e->a, cx, err) < 0)
            return -1;
        meet_type(e->a, SQL_T_BOOL);
        if (need_bool(e->a, e, "NOT", err) < 0)
            return -1;
        e->type = SQL_T_BOOL;
        return 0;
    case SQL_E_LIKE:
        if (bind(pl, e->a, cx, err) < 0 || bind(pl, e->b, cx, err) < 0)
            return -1;
        meet_type(e->a, SQL_T_TEXT);
        meet_type(e->b, SQL_T_TEXT);
        if (e->a->type != SQL_T_TEXT || e->b->type != SQL_T_TEXT)
            return sql_fail(err, e->line, e->col, "LIKE needs text, not %s LIKE %s",
                            sql_type_name(e->a->type), sql_type_name(e->b->type));
        e->type = SQL_T_BOOL;
        return 0;
    case SQL_E_IN:
        if (bind(pl, e->a, cx, err) < 0)
            return -1;
        for (size_t i = 0; i < e->count; i++) {
            if (bind(pl, e->list[i], cx, err) < 0)
                return -1;
            meet(e->a, e->list[i]);
        }
        if (typed(e->a, err) < 0)
            return -1;
        for (size_t i = 0; i < e->count; i++) {
            meet(e->list[i], e->a);
            if (typed(e->list[i], err) < 0 ||
                comparable(pl, e->a, e->list[i], e->list[i], err) < 0)
                return -1;
        }
        e->type = SQL_T_BOOL;
        return 0;
    case SQL_E_BETWEEN:
        if (bind(pl, e->a, cx, err) < 0 || bind(pl, e->b, cx, err) < 0 ||
            bind(pl, e->c, cx, err) < 0)
            return -1;
        meet(e->a, e->b);
        meet(e->a, e->c);
        meet(e->b, e->a);
        meet(e->c, e->a);
        if (typed(e->a, err) < 0 || typed(e->b, err) < 0 || typed(e->c, err) < 0 ||
            comparable(pl, e->a, e->b, e, err) < 0 || comparable(pl, e->a, e->c, e, err) < 0)
            return -1;
        e->type = SQL_T_BOOL;
        return 0;
    }
    return sql_fail(err, e->line, e->col, "unknown expression");
}

static bool has_agg(const sql_expr *e)
{
    if (!e)
        return false;
    if (e->kind == SQL_E_AGG)
        return true;
    if (has_agg(e->a) || has_agg(e->b) || has_agg(e->c))
        return true;
    for (size_t i = 0; i < e->count; i++)
        if (has_agg(e->list[i]))
            return true;
    return false;
}

static bool is_constant(const sql_expr *e)
{
    if (!e)
        return true;
    if (e->kind == SQL_E_COLUMN || e->kind == SQL_E_AGG || e->kind == SQL_E_PARAM)
        return false;
    if (!is_constant(e->a) || !is_constant(e->b) || !is_constant(e->c))
        return false;
    for (size_t i = 0; i < e->count; i++)
        if (!is_constant(e->list[i]))
            return false;
    return true;
}

/* ---- the WHERE made fast ------------------------------------------------ */

static bool is_int_column(const sql_expr *e)
{
    return e->kind == SQL_E_COLUMN && e->type == SQL_T_INT;
}

static bool is_int_literal(const sql_expr *e)
{
    return e->kind == SQL_E_LITERAL && e->value.type == SQL_T_INT;
}

/* LIKE 'abc', 'abc%', '%abc' or '%abc%' (any number of '%' at the
 * ends, none of '%' or '_' between): a literal and where it must stand,
 * which memcmp answers. The escape character is read first, as sql_like
 * reads it, since it may be '%' or '_' itself: '%%c' ESCAPE '%' is the
 * literal "%c", no wildcard at all. The literal is the pattern with its
 * escapes taken out. */
static void mark_like(sql_plan *pl, sql_expr *e)
{
    if (e->b->kind != SQL_E_LITERAL || e->b->value.type != SQL_T_TEXT)
        return;
    const char *p = e->b->value.s.ptr;
    size_t len = e->b->value.s.len, lead = 0, trail = 0, n = 0;
    char *lit = sql_arena_alloc(pl->arena, len + 1);
    if (!lit)
        return; /* the general matcher does without */
    bool in_lit = false, after = false;
    for (size_t i = 0; i < len;) {
        size_t esc = sql_like_escape_at(p, len, i, e->escape);
        if (esc) {
            if (after)
                return; /* a literal after the trailing '%' */
            size_t at = i + esc < len ? i + esc : i;
            size_t c = at == i ? esc : sql_like_char_len(p + at, len - at);
            memcpy(lit + n, p + at, c);
            n += c;
            i = at + c;
            in_lit = true;
        } else if (p[i] == '%') {
            if (in_lit)
                after = true;
            if (after)
                trail++;
            else
                lead++;
            i++;
        } else if (p[i] == '_' || after) {
            return;
        } else {
            lit[n++] = p[i++];
            in_lit = true;
        }
    }
    e->like_lit = lit;
    e->like_len = n;
    e->like_form = lead && trail ? SQL_LIKE_CONTAINS
                   : lead        ? SQL_LIKE_SUFFIX
                   : trail       ? SQL_LIKE_PREFIX
                                 : SQL_LIKE_EXACT;
}

/* Marks `int field op constant` and `int field BETWEEN constants` for the
 * evaluator's range test: [lo, hi] in 128 bits, where K-1 and K+1 cannot
 * overflow. The field is put on the left. */
static void mark_fast(sql_plan *pl, sql_expr *e)
{
    const sql_int below_all = SQL_INT_MIN - 1, above_all = SQL_INT_MAX + 1;
    if (e->kind == SQL_E_LIKE) {
        mark_like(pl, e);
        return;
    }
    if (e->kind == SQL_E_BETWEEN && is_int_column(e->a) && is_int_literal(e->b) &&
        is_int_literal(e->c)) {
        e->lo = e->b->value.i;
        e->hi = e->c->value.i;
        e->fast_range = true;
        return;
    }
    if (e->kind != SQL_E_COMPARE)
        return;
    if (is_int_literal(e->a) && is_int_column(e->b)) {
        sql_expr *t = e->a;
        e->a = e->b;
        e->b = t;
        e->op = e->op == SQL_OP_LT ? SQL_OP_GT : e->op == SQL_OP_GT ? SQL_OP_LT
                : e->op == SQL_OP_LE ? SQL_OP_GE : e->op == SQL_OP_GE ? SQL_OP_LE : e->op;
    }
    if (!is_int_column(e->a) || !is_int_literal(e->b))
        return;
    sql_int k = e->b->value.i;
    e->lo = below_all;
    e->hi = above_all;
    switch (e->op) {
    case SQL_OP_EQ: e->lo = e->hi = k; break;
    case SQL_OP_NE: e->lo = e->hi = k; e->negate = true; break;
    case SQL_OP_LT: e->hi = k - 1; break;
    case SQL_OP_LE: e->hi = k; break;
    case SQL_OP_GT: e->lo = k + 1; break;
    case SQL_OP_GE: e->lo = k; break;
    default: return;
    }
    e->fast_range = true;
}

static int value_order(const void *a, const void *b)
{
    return sql_compare_total(a, b);
}

/* An IN whose items are all constants gets their values sorted, so that
 * each record costs a binary search, not a comparison per item: an index
 * lookup of n keys evaluates the IN on each of up to n records. Without
 * memory for the copy the items are searched one by one, as before. */
static void sort_in_list(sql_plan *pl, sql_expr *e)
{
    for (size_t i = 0; i < e->count; i++)
        if (e->list[i]->kind != SQL_E_LITERAL)
            return;
    sql_value *sorted = sql_arena_alloc(pl->arena, e->count * sizeof *sorted);
    if (!sorted)
        return;
    for (size_t i = 0; i < e->count; i++)
        sorted[i] = e->list[i]->value;
    qsort(sorted, e->count, sizeof *sorted, value_order);
    e->in_sorted = sorted;
}

/*
 * Replaces each constant part of the WHERE by its value, once, rather
 * than once per record (a part whose evaluation fails, 1/0, is left to
 * fail when it runs), then marks what the range test can answer and
 * sorts the IN lists that are left constant.
 */
static void optimize(sql_plan *pl, sql_expr *e)
{
    if (!e)
        return;
    if (e->kind != SQL_E_LITERAL && is_constant(e)) {
        sql_value v;
        sql_error ignored = {0};
        sql_row none = {0};
        if (sql_eval(e, &none, &v, &ignored) == 0) {
            e->kind = SQL_E_LITERAL;
            e->value = v;
            e->a = e->b = e->c = NULL;
            e->count = 0;
            return;
        }
    }
    optimize(pl, e->a);
    optimize(pl, e->b);
    optimize(pl, e->c);
    for (size_t i = 0; i < e->count; i++)
        optimize(pl, e->list[i]);
    if (e->kind == SQL_E_IN)
        sort_in_list(pl, e);
    mark_fast(pl, e);
}

/* Are two bound expressions the same computation? Fields by their index,
 * however they were written (CITY, p.city). */
static bool same_expr(const sql_expr *a, const sql_expr *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->count != b->count)
        return false;
    switch (a->kind) {
    case SQL_E_COLUMN:
        return a->field == b->field;
    case SQL_E_LITERAL:
        return a->value.type == b->value.type && sql_compare_total(&a->value, &b->value) == 0;
    case SQL_E_PARAM:
        return a->param == b->param;
    case SQL_E_AGG:
        if (a->agg != b->agg || a->distinct != b->distinct)
            return false;
        break;
    case SQL_E_FUNC:
        if (a->func != b->func || a->cast_type != b->cast_type || a->cast_hi != b->cast_hi ||
            a->cast_lo != b->cast_lo)
            return false;
        break;
    default:
        if (a->op != b->op || a->negate != b->negate || a->escape != b->escape)
            return false;
        break;
    }
    if (!same_expr(a->a, b->a) || !same_expr(a->b, b->b) || !same_expr(a->c, b->c))
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (!same_expr(a->list[i], b->list[i]))
            return false;
    return true;
}

/* In a grouped query a field outside an aggregate has one value per group
 * only if the group is made by it, or by an expression it is part of
 * (GROUP BY lower(city) makes lower(city) one value, not city). */
static int check_grouped(const sql_plan *pl, const sql_expr *e, sql_error *err)
{
    if (!e || e->kind == SQL_E_AGG)
        return 0;
    for (size_t i = 0; i < pl->stmt->group_count; i++)
        if (same_expr(pl->stmt->group_by[i], e))
            return 0;
    if (e->kind == SQL_E_COLUMN) {
        for (size_t i = 0; i < pl->stmt->group_count; i++)
            if (pl->stmt->group_by[i]->field == e->field)
                return 0;
        return sql_fail(err, e->line, e->col,
                        "%s.%s must be in GROUP BY or inside an aggregate", pl->stmt->table,
                        e->name);
    }
    if (check_grouped(pl, e->a, err) < 0 || check_grouped(pl, e->b, err) < 0 ||
        check_grouped(pl, e->c, err) < 0)
        return -1;
    for (size_t i = 0; i < e->count; i++)
        if (check_grouped(pl, e->list[i], err) < 0)
            return -1;
    return 0;
}

/* ---- assignment --------------------------------------------------------- */

int sql_assign(const sql_plan *pl, unsigned char *record, size_t field, const sql_value *v,
               sql_error *err)
{
    const vmdb_schema *s = pl->schema;
    int rc;
    switch (v->type) {
    case SQL_T_INT:
        rc = v->i <= INT64_MAX ? vmdb_record_set_i64(s, record, field, (int64_t)v->i)
                               : vmdb_record_set_u64(s, record, field, (uint64_t)v->i);
        break;
    case SQL_T_FLOAT:
        rc = vmdb_record_set_f64(s, record, field, v->f);
        break;
    case SQL_T_BOOL:
        rc = vmdb_record_set_i64(s, record, field, v->b);
        break;
    default: {
        /* Text goes through the library's parser (a str, or a number or
         * bytes written as text); bytes as their hex text. */
        char small[256];
        size_t cap = v->type == SQL_T_BYTES ? sql_value_text_cap(v) : v->s.len + 1;
        char *text = cap <= sizeof small ? small : malloc(cap);
        if (!text)
            return oom(err);
        if (v->type == SQL_T_BYTES) {
            const char *t;
            size_t len;
            sql_value_text(v, text, cap, &t, &len);
        } else {
            memcpy(text, v->s.ptr, v->s.len);
            text[v->s.len] = '\0';
            if (memchr(text, '\0', v->s.len)) {
                if (text != small)
                    free(text);
                return sql_fail(err, 0, 0, "%s.%s: text holds a NUL byte", pl->stmt->table,
                                vmdb_schema_field(s, field)->name);
            }
        }
        rc = vmdb_record_set_text(s, record, field, text);
        if (text != small)
            free(text);
        break;
    }
    }
    if (rc < 0) {
        sql_fail(err, 0, 0, "%s.%s", pl->stmt->table, vmdb_last_error()->message);
        err->code = vmdb_last_error()->code;
        return -1;
    }
    return 0;
}

/* Can a value of type t go into field? Numbers take numbers, and text that
 * the library parses; bool takes bool and 0/1; str takes text; bytes take
 * bytes or hex text. */
static int check_assignable(const sql_plan *pl, size_t field, sql_expr *value, sql_error *err)
{
    const vmdb_field *f = vmdb_schema_field(pl->schema, field);
    if (value->kind == SQL_E_PARAM && value->type == SQL_T_NONE) {
        enum sql_load load;
        value->type = type_of_field(f, &load);
        value->field = field;
        value->param_field = true;
    }
    enum sql_type t = value->type;
    unsigned line = value->line, col = value->col;
    bool ok;
    switch (f->type) {
    case VMDB_TYPE_BOOL:
        ok = t == SQL_T_BOOL || t == SQL_T_INT;
        break;
    case VMDB_TYPE_STR:
        ok = t == SQL_T_TEXT;
        break;
    case VMDB_TYPE_BYTES:
        ok = t == SQL_T_BYTES || t == SQL_T_TEXT;
        break;
    default:
        ok = numeric(t) || t == SQL_T_TEXT;
        break;
    }
    if (ok)
        return 0;
    char type[32];
    field_type_text(f, type, sizeof type);
    return sql_fail(err, line, col, "%s.%s: cannot store %s in %s", pl->stmt->table, f->name,
                    sql_type_name(t), type);
}

/* ---- access path -------------------------------------------------------- */

/* The key of a constant, appended to pl->keys, which has room for it. A
 * constant no key can equal is no key at all. */
static int add_key(sql_plan *pl, const sql_expr *constant, sql_error *err)
{
    sql_value v;
    sql_row none = {0};
    if (sql_eval(constant, &none, &v, err) < 0)
        return -1;
    unsigned char *rec = sql_arena_alloc(pl->arena, pl->record_size);
    if (!rec)
        return oom(err);
    sql_error ignored = {0};
    if (sql_assign(pl, rec, pl->key_field, &v, &ignored) < 0)
        return 0; /* no key can equal it */
    const void *bytes;
    size_t len;
    vmdb_record_key(pl->schema, rec, &bytes, &len);
    pl->keys[pl->key_count++] = (sql_key){rec, bytes, len};
    return 0;
}

/* A key and its place in the list as written. */
typedef struct key_place {
    const void *bytes;
    size_t len;
    size_t pos;
} key_place;

/* By bytes, then by place: equal keys come together, the first written
 * first. */
static int key_place_cmp(const void *x, const void *y)
{
    const key_place *a = x, *b = y;
    int c = memcmp(a->bytes, b->bytes, a->len < b->len ? a->len : b->len);
    if (c)
        return c;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/*
 * Drops every key written before, keeping the first of each in the order
 * written. Sorting copies of the keys brings repeats together, O(n log n);
 * looking each key up among those before it was O(n^2), seconds for
 * 20,000 keys.
 */
static int drop_repeated_keys(sql_plan *pl, sql_error *err)
{
    size_t n = pl->key_count;
    if (n < 2)
        return 0;
    key_place *sorted = malloc(n * sizeof *sorted);
    bool *repeated = calloc(n, sizeof *repeated);
    if (!sorted || !repeated) {
        free(sorted);
        free(repeated);
        return oom(err);
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = (key_place){pl->keys[i].bytes, pl->keys[i].len, i};
    qsort(sorted, n, sizeof *sorted, key_place_cmp);
    for (size_t i = 1; i < n; i++)
        repeated[sorted[i].pos] = sorted[i].len == sorted[i - 1].len &&
                                  !memcmp(sorted[i].bytes, sorted[i - 1].bytes, sorted[i].len);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (!repeated[i])
            pl->keys[kept++] = pl->keys[i];
    pl->key_count = kept;
    free(sorted);
    free(repeated);
    return 0;
}

static bool is_key_column(const sql_plan *pl, const sql_expr *e)
{
    return e->kind == SQL_E_COLUMN && e->field == pl->key_field;
}

/* Finds an AND-ed term of where that the index can answer. */
static const sql_expr *index_term(const sql_plan *pl, const sql_expr *e)
{
    if (e->kind == SQL_E_AND) {
        const sql_expr *t = index_term(pl, e->a);
        return t ? t : index_term(pl, e->b);
    }
    if (e->kind == SQL_E_COMPARE && e->op == SQL_OP_EQ &&
        ((is_key_column(pl, e->a) && is_constant(e->b)) ||
         (is_key_column(pl, e->b) && is_constant(e->a))))
        return e;
    if (e->kind == SQL_E_IN && !e->negate && is_key_column(pl, e->a)) {
        for (size_t i = 0; i < e->count; i++)
            if (!is_constant(e->list[i]))
                return NULL;
        return e;
    }
    return NULL;
}

static int choose_access(sql_plan *pl, sql_error *err)
{
    const sql_expr *where = pl->stmt->where;
    if (!where)
        return 0;
    pl->key_field = vmdb_schema_key(pl->schema);
    enum vmdb_type kt = vmdb_schema_field(pl->schema, pl->key_field)->type;
    if (kt == VMDB_TYPE_F32 || kt == VMDB_TYPE_F64 || kt == VMDB_TYPE_BOOL)
        return 0;
    const sql_expr *t = index_term(pl, where);
    if (!t)
        return 0;
    pl->use_index = true;
    pl->index_term = t;
    /* A key per constant at most: one allocation holds them all. */
    if (!(pl->keys = malloc((t->kind == SQL_E_IN ? t->count : 1) * sizeof *pl->keys)))
        return oom(err);
    if (t->kind == SQL_E_COMPARE)
        return add_key(pl, is_key_column(pl, t->a) ? t->b : t->a, err);
    for (size_t i = 0; i < t->count; i++)
        if (add_key(pl, t->list[i], err) < 0)
            return -1;
    return drop_repeated_keys(pl, err);
}

/* ---- statements --------------------------------------------------------- */

static const char *dup_name(sql_plan *pl, const char *name)
{
    size_t n = strlen(name);
    char *d = sql_arena_alloc(pl->arena, n + 1);
    if (d)
        memcpy(d, name, n);
    return d;
}

/* The output columns: each item, a '*' giving every field in order. */
static int plan_outputs(sql_plan *pl, const bind_ctx *cx, sql_error *err)
{
    const sql_stmt *st = pl->stmt;
    size_t fields = pl->schema ? vmdb_schema_field_count(pl->schema) : 0;
    size_t n = 0;
    for (size_t i = 0; i < st->item_count; i++) {
        if (!st->items[i].expr && !pl->table)
            return sql_fail(err, 0, 0, "SELECT * needs a FROM");
        n += st->items[i].expr ? 1 : fields;
    }
    pl->out_exprs = sql_arena_alloc(pl->arena, n * sizeof *pl->out_exprs);
    pl->out_names = sql_arena_alloc(pl->arena, n * sizeof *pl->out_names);
    pl->out_types = sql_arena_alloc(pl->arena, n * sizeof *pl->out_types);
    if (!pl->out_exprs || !pl->out_names || !pl->out_types)
        return oom(err);
    for (size_t i = 0; i < st->item_count; i++) {
        const sql_select_item *it = &st->items[i];
        if (it->expr) {
            if (bind(pl, it->expr, cx, err) < 0)
                return -1;
            pl->out_exprs[pl->out_count] = it->expr;
            /* A field is headed by its name, however it was written. */
            pl->out_names[pl->out_count] = it->alias                          ? it->alias
                                           : it->expr->kind == SQL_E_COLUMN ? it->expr->name
                                                                            : it->label;
            pl->out_types[pl->out_count++] = it->expr->type;
            continue;
        }
        for (size_t f = 0; f < fields; f++) {
            sql_expr *col = sql_arena_alloc(pl->arena, sizeof *col);
            if (!col || !(col->name = dup_name(pl, vmdb_schema_field(pl->schema, f)->name)))
                return oom(err);
            col->kind = SQL_E_COLUMN;
            col->escape = -1;
            if (bind(pl, col, cx, err) < 0)
                return -1;
            pl->out_exprs[pl->out_count] = col;
            pl->out_names[pl->out_count] = col->name;
            pl->out_types[pl->out_count++] = col->type;
        }
    }
    return 0;
}

/* ORDER BY: an output column's number (1-based), an output column's alias,
 * or an expression over the table. */
static int plan_order(sql_plan *pl, const bind_ctx *cx, sql_error *err)
{
    const sql_stmt *st = pl->stmt;
    pl->order_count = st->order_count;
    pl->order_exprs = sql_arena_alloc(pl->arena, (st->order_count + 1) * sizeof(sql_expr *));
    pl->order_desc = sql_arena_alloc(pl->arena, st->order_count + 1);
    if (!pl->order_exprs || !pl->order_desc)
        return oom(err);
    for (size_t i = 0; i < st->order_count; i++) {
        sql_expr *e = st->order_by[i].expr;
        pl->order_desc[i] = st->order_by[i].desc;
        if (e->kind == SQL_E_LITERAL && e->value.type == SQL_T_INT) {
            if (e->value.i < 1 || e->value.i > (sql_int)pl->out_count)
                return sql_fail(err, e->line, e->col,
                                "ORDER BY %llu: the result has %zu column%s",
                                (unsigned long long)e->value.i, pl->out_count,
                                pl->out_count == 1 ? "" : "s");
            pl->order_exprs[i] = pl->out_exprs[(size_t)e->value.i - 1];
            continue;
        }
        sql_expr *alias = NULL;
        if (e->kind == SQL_E_COLUMN && !e->qualifier)
            for (size_t k = 0; k < st->item_count && !alias; k++)
                if (st->items[k].alias && !strcasecmp(st->items[k].alias, e->name))
                    alias = st->items[k].expr;
        if (alias) {
            pl->order_exprs[i] = alias;
            continue;
        }
        bind_ctx ocx = *cx;
        ocx.aliases = true;
        if (bind(pl, e, &ocx, err) < 0)
            return -1;
        pl->order_exprs[i] = e;
    }
    return 0;
}

static int plan_select(sql_plan *pl, sql_error *err)
{
    sql_stmt *st = pl->stmt;
    bind_ctx cx = {.columns = pl->table != NULL, .no_columns = "SELECT without FROM",
                   .aggs = true};
    pl->grouped = st->group_count > 0;
    for (size_t i = 0; i < st->item_count; i++)
        pl->grouped |= has_agg(st->items[i].expr);
    for (size_t i = 0; i < st->order_count; i++)
        pl->grouped |= has_agg(st->order_by[i].expr);
    if (pl->grouped && !pl->table)
        return sql_fail(err, 0, 0, "aggregates need a FROM");
    if (plan_outputs(pl, &cx, err) < 0 || plan_order(pl, &cx, err) < 0)
        return -1;
    if (st->where) {
        bind_ctx wcx = {.columns = true, .no_aggs = "WHERE"};
        if (bind(pl, st->where, &wcx, err) < 0)
            return -1;
        if (st->where->type != SQL_T_BOOL)
            return sql_fail(err, st->where->line, st->where->col,
                            "WHERE needs a bool, not %s", sql_type_name(st->where->type));
        optimize(pl, st->where);
    }
    /* GROUP BY: a number is an output's (GROUP BY 1), a name no field has
     * may be an output's alias, anything else an expression of fields. */
    bind_ctx gcx = {.columns = true, .no_aggs = "GROUP BY", .aliases = true};
    for (size_t i = 0; i < st->group_count; i++) {
        sql_expr *g = st->group_by[i];
        if (g->kind == SQL_E_LITERAL && g->value.type == SQL_T_INT) {
            if (g->value.i < 1 || g->value.i > (sql_int)pl->out_count)
                return sql_fail(err, g->line, g->col, "GROUP BY %llu: the result has %zu column%s",
                                (unsigned long long)g->value.i, pl->out_count,
                                pl->out_count == 1 ? "" : "s");
            st->group_by[i] = g = pl->out_exprs[(size_t)g->value.i - 1];
        } else if (bind(pl, g, &gcx, err) < 0) {
            return -1;
        }
        if (has_agg(g))
            return sql_fail(err, g->line, g->col, "GROUP BY cannot hold an aggregate");
    }
    if (st->having) {
        bind_ctx hcx = {.columns = true, .aggs = true, .aliases = true};
        if (!pl->grouped && !has_agg(st->having))
            return sql_fail(err, st->having->line, st->having->col,
                            "HAVING needs GROUP BY or an aggregate");
        pl->grouped = true;
        if (bind(pl, st->having, &hcx, err) < 0)
            return -1;
        meet_type(st->having, SQL_T_BOOL);
        if (st->having->type != SQL_T_BOOL)
            return sql_fail(err, st->having->line, st->having->col,
                            "HAVING needs a bool, not %s", sql_type_name(st->having->type));
        if (check_grouped(pl, st->having, err) < 0)
            return -1;
    }
    if (pl->grouped) {
        for (size_t i = 0; i < pl->out_count; i++)
            if (check_grouped(pl, pl->out_exprs[i], err) < 0)
                return -1;
        for (size_t i = 0; i < pl->order_count; i++)
            if (check_grouped(pl, pl->order_exprs[i], err) < 0)
                return -1;
    }
    return pl->table ? choose_access(pl, err) : 0;
}

static int plan_insert(sql_plan *pl, sql_error *err)
{
    sql_stmt *st = pl->stmt;
    size_t nfields = vmdb_schema_field_count(pl->schema);
    pl->field_count = st->columns ? st->column_count : nfields;
    pl->fields = sql_arena_alloc(pl->arena, pl->field_count * sizeof *pl->fields);
    if (!pl->fields)
        return oom(err);
    for (size_t i = 0; i < pl->field_count; i++) {
        if (!st->columns) {
            pl->fields[i] = i;
            continue;
        }
        if (find_field(pl, st->columns[i], 1, st->column_cols[i], &pl->fields[i], err) < 0)
            return -1;
        for (size_t k = 0; k < i; k++)
            if (pl->fields[k] == pl->fields[i])
                return sql_fail(err, 0, st->column_cols[i], "%s.%s is named twice", st->table,
                                st->columns[i]);
    }
    bind_ctx cx = {.no_columns = "VALUES", .no_aggs = "VALUES"};
    for (size_t r = 0; r < st->row_count; r++) {
        if (st->row_lengths[r] != pl->field_count) {
            const sql_expr *first = st->rows[r][0];
            return sql_fail(err, first->line, first->col,
                            "row %zu has %zu value%s for %zu field%s", r + 1,
                            st->row_lengths[r], st->row_lengths[r] == 1 ? "" : "s",
                            pl->field_count, pl->field_count == 1 ? "" : "s");
        }
        for (size_t i = 0; i < pl->field_count; i++) {
            sql_expr *e = st->rows[r][i];
            if (bind(pl, e, &cx, err) < 0 ||
                check_assignable(pl, pl->fields[i], e, err) < 0)
                return -1;
        }
    }
    return 0;
}

static int plan_update(sql_plan *pl, sql_error *err)
{
    sql_stmt *st = pl->stmt;
    pl->field_count = st->set_count;
    pl->fields = sql_arena_alloc(pl->arena, st->set_count * sizeof *pl->fields);
    if (!pl->fields)
        return oom(err);
    bind_ctx cx = {.columns = true, .no_aggs = "SET"};
    for (size_t i = 0; i < st->set_count; i++) {
        const sql_set_item *a = &st->sets[i];
        if (find_field(pl, a->column, a->line, a->col, &pl->fields[i], err) < 0)
            return -1;
        for (size_t k = 0; k < i; k++)
            if (pl->fields[k] == pl->fields[i])
                return sql_fail(err, a->line, a->col, "%s.%s is set twice", st->table, a->column);
        if (bind(pl, a->expr, &cx, err) < 0 ||
            check_assignable(pl, pl->fields[i], a->expr, err) < 0)
            return -1;
    }
    return 0;
}

static int plan_where(sql_plan *pl, sql_error *err)
{
    sql_expr *w = pl->stmt->where;
    if (!w)
        return 0;
    bind_ctx cx = {.columns = true, .no_aggs = "WHERE"};
    if (bind(pl, w, &cx, err) < 0)
        return -1;
    meet_type(w, SQL_T_BOOL);
    if (w->type != SQL_T_BOOL)
        return sql_fail(err, w->line, w->col, "WHERE needs a bool, not %s",
                        sql_type_name(w->type));
    optimize(pl, w);
    return choose_access(pl, err);
}

static int check_tree_typed(const sql_expr *e, sql_error *err)
{
    if (!e)
        return 0;
    if (typed(e, err) < 0 || check_tree_typed(e->a, err) < 0 ||
        check_tree_typed(e->b, err) < 0 || check_tree_typed(e->c, err) < 0)
        return -1;
    for (size_t i = 0; i < e->count; i++)
        if (check_tree_typed(e->list[i], err) < 0)
            return -1;
    return 0;
}

/* What no operator typed ("SELECT ?", "ORDER BY ?") is refused at the end. */
static int check_params_typed(const sql_stmt *st, sql_error *err)
{
    if (st->param_count == 0)
        return 0;
    for (size_t i = 0; i < st->item_count; i++)
        if (check_tree_typed(st->items[i].expr, err) < 0)
            return -1;
    for (size_t i = 0; i < st->order_count; i++)
        if (check_tree_typed(st->order_by[i].expr, err) < 0)
            return -1;
    if (check_tree_typed(st->having, err) < 0)
        return -1;
    return check_tree_typed(st->where, err);
}

/* The table the statement names, in any case as SQL has it: the table of
 * that exact name, else the only one whose name differs in case alone.
 * stmt->table becomes its real name, for messages and for the runs that
 * open it again. VMDB_ENOTFOUND, a library error, or -1 with *err. */
static int open_table(vmdb_db *db, sql_stmt *stmt, vmdb_table **out, sql_error *err)
{
    const char *found, *also;
    int rc = sql_table_named(db, stmt->table, &found, &also);
    if (rc < 0)
        return rc;
    if (also) {
        char q[VMDB_PRINTABLE_CAP];
        vmdb_printable(stmt->table, strlen(stmt->table), q, sizeof q);
        return sql_fail(err, stmt->table_line, stmt->table_col,
                        "'%s' is ambiguous: tables %s and %s differ only in case (write the "
                        "one meant in its own case)", q, found, also);
    }
    if (strcmp(found, stmt->table) != 0) {
        size_t len = strlen(found);
        char *real = sql_arena_alloc(stmt->arena, len + 1);
        if (!real)
            return oom(err);
        memcpy(real, found, len + 1);
        stmt->table = real;
    }
    return vmdb_table_open(db, stmt->table, NULL, out);
}

int sql_plan_new(vmdb_db *db, const char *db_name, sql_stmt *stmt, sql_plan **out,
                 sql_error *err)
{
    *out = NULL;
    memset(err, 0, sizeof *err);
    sql_plan *pl = calloc(1, sizeof *pl);
    if (!pl || !(pl->arena = sql_arena_new())) {
        free(pl);
        return oom(err);
    }
    pl->stmt = stmt;
    pl->db = db;
    int rc = 0;
    if (stmt->table) {
        rc = open_table(db, stmt, &pl->table, err);
        if (rc == -1) {
            /* err says it */
        } else if (rc == VMDB_ENOTFOUND) {
            char q[VMDB_PRINTABLE_CAP];
            vmdb_printable(stmt->table, strlen(stmt->table), q, sizeof q);
            rc = sql_fail(err, stmt->table_line, stmt->table_col, "%s: no table '%s'", db_name,
                          q);
            err->code = VMDB_ENOTFOUND;
        } else if (rc < 0) {
            rc = sql_fail(err, 0, 0, "%s", vmdb_last_error()->message);
            err->code = vmdb_last_error()->code;
        } else {
            pl->schema = vmdb_table_schema(pl->table);
            pl->record_size = vmdb_schema_record_size(pl->schema);
        }
    }
    if (rc == 0) {
        switch (stmt->kind) {
        case SQL_SELECT:
            rc = plan_select(pl, err);
            break;
        case SQL_INSERT:
            rc = plan_insert(pl, err);
            break;
        case SQL_UPDATE:
            rc = plan_update(pl, err);
            if (rc == 0)
                rc = plan_where(pl, err);
            break;
        case SQL_DELETE:
            rc = plan_where(pl, err);
            break;
        default: /* sql_admin.h's: nothing to plan */
            break;
        }
    }
    if (rc == 0)
        rc = check_params_typed(stmt, err);
    if (rc < 0) {
        sql_plan_free(pl);
        return -1;
    }
    *out = pl;
    return 0;
}

const sql_stmt *sql_plan_stmt(const sql_plan *pl)
{
    return pl->stmt;
}

const vmdb_schema *sql_plan_schema(const sql_plan *pl)
{
    return pl->schema;
}

size_t sql_plan_columns(const sql_plan *pl, const char *const **names,
                        const enum sql_type **types)
{
    *names = pl->out_names;
    *types = pl->out_types;
    return pl->out_count;
}

void sql_plan_free(sql_plan *pl)
{
    if (!pl)
        return;
    free(pl->aggs);
    free(pl->keys);
    sql_arena_free(pl->arena);
    free(pl);
}

bool sql_plan_uses_index(const sql_plan *pl)
{
    return pl->use_index;
}

/* ---- explain ------------------------------------------------------------ */

static void explain_expr(FILE *out, const char *prefix, const sql_expr *e)
{
    char buf[1024];
    sql_expr_format(e, buf, sizeof buf);
    fprintf(out, "%s%s\n", prefix, buf);
}

static void explain_access(const sql_plan *pl, FILE *out)
{
    const char *t = pl->stmt->table;
    if (pl->use_index)
        fprintf(out, "index lookup on %s.%s (%zu key%s)\n", t,
                vmdb_schema_field(pl->schema, pl->key_field)->name, pl->key_count,
                pl->key_count == 1 ? "" : "s");
    else
        fprintf(out, "full scan of %s\n", t);
    if (pl->stmt->where)
        explain_expr(out, "filter: ", pl->stmt->where);
}

void sql_plan_explain(const sql_plan *pl, FILE *out)
{
    const sql_stmt *st = pl->stmt;
    switch (st->kind) {
    case SQL_SELECT:
        if (!pl->table) {
            fprintf(out, "one row, no table\n");
        } else {
            explain_access(pl, out);
            if (st->group_count) {
                fprintf(out, "group by: ");
                for (size_t i = 0; i < st->group_count; i++) {
                    char buf[1024];
                    sql_expr_format(st->group_by[i], buf, sizeof buf);
                    fprintf(out, "%s%s", i ? ", " : "", buf);
                }
                fprintf(out, "\n");
            }
            if (pl->agg_count) {
                char buf[1024];
                fprintf(out, "aggregate: ");
                for (size_t i = 0; i < pl->agg_count; i++) {
                    sql_expr_format(pl->aggs[i], buf, sizeof buf);
                    fprintf(out, "%s%s", i ? ", " : "", buf);
                }
                fprintf(out, "\n");
            }
        }
        if (st->having)
            explain_expr(out, "having: ", st->having);
        if (st->distinct)
            fprintf(out, "distinct rows\n");
        if (pl->order_count) {
            char buf[1024];
            fprintf(out, "sort by: ");
            for (size_t i = 0; i < pl->order_count; i++) {
                sql_expr_format(pl->order_exprs[i], buf, sizeof buf);
                fprintf(out, "%s%s%s", i ? ", " : "", buf, pl->order_desc[i] ? " DESC" : "");
            }
            fprintf(out, "\n");
        }
        if (st->has_limit)
            fprintf(out, "limit %llu offset %llu\n", (unsigned long long)st->limit,
                    (unsigned long long)st->offset);
        break;
    case SQL_INSERT:
        fprintf(out, "insert %zu record%s into %s\n", st->row_count,
                st->row_count == 1 ? "" : "s", st->table);
        break;
    case SQL_UPDATE:
        explain_access(pl, out);
        fprintf(out, "update %s: set ", st->table);
        for (size_t i = 0; i < st->set_count; i++)
            fprintf(out, "%s%s", i ? ", " : "", st->sets[i].column);
        fprintf(out, "\n");
        break;
    case SQL_DELETE:
        explain_access(pl, out);
        fprintf(out, "delete from %s\n", st->table);
        break;
    default:
        sql_admin_explain(st, out);
        break;
    }
}
