/* SPDX-License-Identifier: MIT */
/*
 * engine/query/stmt.c - the public statement (vmdb/query.h): text in,
 * parameters bound, rows out, over the parser, planner and executor of
 * sql.h.
 *
 * A statement is parsed and planned at prepare, so that what cannot run
 * fails there and its columns and parameters' types are known. With
 * parameters, each run parses its text again and puts the bound values in
 * as literals before planning: the planner then folds them, looks a bound
 * key up in the index, and never sees a value it did not check.
 *
 * The executor pushes rows (a sink); a SELECT's rows are kept in memory
 * until its read transaction validates (engine/query/select_read.c), and
 * vmdb_step hands them out from there.
 */
#define _GNU_SOURCE /* open_memstream, for the plan's text */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sql_admin.h"
#include "stmt.h"

/* ---- statements from text ----------------------------------------------- */

/* A statement whose callback has the row cannot be bound, reset or run
 * again from inside it: the run it is in reads its plan and rows. */
static int busy_in_callback(const char *call)
{
    return vmdb__fail(VMDB_EBUSY, "%s: the statement is running: its row callback cannot %s",
                      call, "bind, reset or run it again");
}

/* The first statement of sql: [0, *stmt_len) to parse; *tail past it.
 * Without tail, the whole text is the statement. */
static size_t statement_span(const char *sql, size_t *len, const char **tail)
{
    if (*len == VMDB_SQL_NUL_TERMINATED)
        *len = strlen(sql);
    if (!tail)
        return *len;
    size_t end = sql_statement_end(sql, *len);
    if (end == 0)
        end = *len;
    *tail = sql + end;
    return end;
}

int vmdb_sql_kind(const char *sql, size_t len, const char **tail)
{
    if (tail)
        *tail = NULL;
    if (!sql)
        return vmdb__fail(VMDB_EINVAL, "vmdb_sql_kind: sql is required");
    size_t span = statement_span(sql, &len, tail);
    sql_stmt *parsed;
    sql_error err;
    if (sql_parse_statement(sql, span, &parsed, &err) < 0)
        return vmdb__sql_fail(&err, VMDB_ESYNTAX, sql, span);
    int kind = parsed->explain ? SQL_SELECT : (int)parsed->kind; /* EXPLAIN only reads */
    sql_stmt_free(parsed);
    return kind;
}

size_t vmdb_sql_statement_length(const char *text, size_t len)
{
    return text ? sql_statement_end(text, len) : 0;
}

bool vmdb_sql_is_blank(const char *text, size_t len)
{
    return !text || sql_is_blank(text, len);
}

/* ---- parameters --------------------------------------------------------- */

/* What prepare learnt of each parameter, by walking the planned tree. */
static void note_params(vmdb_stmt *st, const sql_expr *e)
{
    if (!e)
        return;
    if (e->kind == SQL_E_PARAM) {
        stmt_param *p = &st->params[e->param - 1];
        p->want = e->type;
        p->has_field = e->param_field;
        p->field = e->field;
        p->line = e->line;
        p->col = e->col;
        return;
    }
    note_params(st, e->a);
    note_params(st, e->b);
    note_params(st, e->c);
    for (size_t i = 0; i < e->count; i++)
        note_params(st, e->list[i]);
}

/* Every expression of a statement, for fn. */
static void each_expr(const sql_stmt *s, void (*fn)(vmdb_stmt *, sql_expr *), vmdb_stmt *st)
{
    for (size_t i = 0; i < s->item_count; i++)
        if (s->items[i].expr)
            fn(st, s->items[i].expr);
    if (s->where)
        fn(st, s->where);
    if (s->having)
        fn(st, s->having);
    for (size_t i = 0; i < s->order_count; i++)
        fn(st, s->order_by[i].expr);
    for (size_t r = 0; r < s->row_count; r++)
        for (size_t i = 0; i < s->row_lengths[r]; i++)
            fn(st, s->rows[r][i]);
    for (size_t i = 0; i < s->set_count; i++)
        fn(st, s->sets[i].expr);
}

static void note_params_of(vmdb_stmt *st, sql_expr *e)
{
    note_params(st, e);
}

/* Puts each bound value in place of its '?', as a literal written there. */
static void fill_params(vmdb_stmt *st, sql_expr *e)
{
    if (!e)
        return;
    if (e->kind == SQL_E_PARAM) {
        e->kind = SQL_E_LITERAL;
        e->value = st->params[e->param - 1].value;
        return;
    }
    fill_params(st, e->a);
    fill_params(st, e->b);
    fill_params(st, e->c);
    for (size_t i = 0; i < e->count; i++)
        fill_params(st, e->list[i]);
}

static bool all_bound(const vmdb_stmt *st)
{
    for (unsigned i = 0; i < st->param_count; i++)
        if (!st->params[i].bound)
            return false;
    return true;
}

static void drop_run_plan(vmdb_stmt *st)
{
    if (st->run_plan != st->plan) {
        sql_plan_free(st->run_plan);
        sql_stmt_free(st->run_parsed);
    }
    st->run_plan = NULL;
    st->run_parsed = NULL;
}

/* The plan the statement runs with: prepare's, or, with parameters, one
 * made with their values. */
static int run_plan(vmdb_stmt *st, sql_plan **out)
{
    int rc = vmdb__stmt_check_table(st);
    if (rc < 0)
        return rc;
    if (!st->run_plan) {
        if (st->param_count == 0) {
            st->run_plan = st->plan;
        } else {
            sql_error err = {0};
            for (unsigned i = 0; i < st->param_count; i++) {
                if (st->params[i].bound)
                    continue;
                sql_fail(&err, st->params[i].line, st->params[i].col,
                         "parameter %u has no value", i + 1);
                return vmdb__sql_fail(&err, VMDB_EINVAL, st->text, st->len);
            }
            if (sql_parse_statement(st->text, st->len, &st->run_parsed, &err) < 0)
                return vmdb__sql_fail(&err, VMDB_ESYNTAX, st->text, st->len);
            each_expr(st->run_parsed, fill_params, st);
            if (sql_plan_new(st->db, vmdb_db_path(st->db), st->run_parsed, &st->run_plan,
                             &err) < 0) {
                sql_stmt_free(st->run_parsed);
                st->run_parsed = NULL;
                return vmdb__sql_fail(&err, VMDB_EINVAL, st->text, st->len);
            }

        }
    }
    *out = st->run_plan;
    return 0;
}

/* "people.age (u8)", or "a number" when the parameter meets no field. */
static void param_place(const vmdb_stmt *st, const stmt_param *p, char *dst, size_t cap)
{
    const vmdb_schema *schema = sql_plan_schema(st->plan);
    if (p->has_field && schema) {
        const vmdb_field *f = vmdb_schema_field(schema, p->field);
        if (f->type == VMDB_TYPE_STR || f->type == VMDB_TYPE_BYTES)
            snprintf(dst, cap, "%s.%s (%s%u)", sql_plan_stmt(st->plan)->table, f->name,
                     vmdb_type_name(f->type), f->size);
        else
            snprintf(dst, cap, "%s.%s (%s)", sql_plan_stmt(st->plan)->table, f->name,
                     vmdb_type_name(f->type));
    } else {
        snprintf(dst, cap, "the expression");
    }
}

static const char *wanted(enum sql_type t)
{
    switch (t) {
    case SQL_T_INT:
    case SQL_T_FLOAT: return "a number";
    case SQL_T_BOOL: return "a bool";
    case SQL_T_BYTES: return "bytes as hex text ('0x...')";
    default: return "text";
    }
}

/* Would the field the parameter meets hold v? Its own setter says,
 * on a scratch record, with its own message. */
static int check_fits(const vmdb_stmt *st, int index, const stmt_param *p, const sql_value *v)
{
    const vmdb_schema *schema = sql_plan_schema(st->plan);
    if (!p->has_field || !schema)
        return 0;
    unsigned char *scratch = calloc(1, vmdb_schema_record_size(schema) + 1);
    if (!scratch)
        return vmdb__fail(VMDB_ENOMEM, "parameter %d: out of memory", index);
    int rc = 0;
    const vmdb_field *f = vmdb_schema_field(schema, p->field);
    switch (v->type) {
    case SQL_T_INT:
        if (f->type != VMDB_TYPE_F32 && f->type != VMDB_TYPE_F64)
            rc = v->i <= INT64_MAX ? vmdb_record_set_i64(schema, scratch, p->field, (int64_t)v->i)
                                   : vmdb_record_set_u64(schema, scratch, p->field,
                                                         (uint64_t)v->i);
        break;
    case SQL_T_FLOAT:
        /* A whole number is held to the field's range as an integer is;
         * a fraction is a value to compare with, which no range limits. */
        if (f->type >= VMDB_TYPE_U8 && f->type <= VMDB_TYPE_I64 && v->f == floor(v->f)) {
            if (v->f >= 0x1p64 || v->f < -0x1p63)
                rc = vmdb__fail(VMDB_ERANGE, "%s: %g does not fit %s", f->name, v->f,
                                vmdb_type_name(f->type));
            else
                rc = v->f >= 0 ? vmdb_record_set_u64(schema, scratch, p->field, (uint64_t)v->f)
                               : vmdb_record_set_i64(schema, scratch, p->field, (int64_t)v->f);
        } else if (f->type == VMDB_TYPE_F32 && isfinite(v->f) && fabs(v->f) > FLT_MAX) {
            rc = vmdb__fail(VMDB_ERANGE, "%s: %g does not fit f32", f->name, v->f);
        }
        break;
    case SQL_T_TEXT: {
        char *text = malloc(v->s.len + 1);
        if (!text) {
            free(scratch);
            return vmdb__fail(VMDB_ENOMEM, "parameter %d: out of memory", index);
        }
        memcpy(text, v->s.ptr, v->s.len);
        text[v->s.len] = '\0';
        rc = vmdb_record_set_text(schema, scratch, p->field, text);
        free(text);
        break;
    }
    default:
        break;
    }
    free(scratch);
    if (rc < 0) {
        char message[sizeof vmdb_last_error()->message];
        snprintf(message, sizeof message, "%s", vmdb_last_error()->message);
        return vmdb__fail(rc, "parameter %d: %s.%s", index, sql_plan_stmt(st->plan)->table,
                          message);
    }
    return 0;
}

static int bind_value(vmdb_stmt *st, int index, const sql_value *v, const char *own_text)
{
    if (!st)
        return vmdb__fail(VMDB_EINVAL, "vmdb_bind: stmt is required");
    if (st->in_callback)
        return busy_in_callback("vmdb_bind");
    if (index < 1 || (unsigned)index > st->param_count)
        return vmdb__fail(VMDB_ERANGE, "parameter %d: the statement has %u parameter%s", index,
                          st->param_count, st->param_count == 1 ? "" : "s");
    stmt_param *p = &st->params[index - 1];
    bool ok;
    switch (p->want) {
    case SQL_T_INT:
    case SQL_T_FLOAT: ok = v->type == SQL_T_INT || v->type == SQL_T_FLOAT; break;
    case SQL_T_BYTES: ok = v->type == SQL_T_TEXT; break;
    default: ok = v->type == p->want; break;
    }
    if (!ok) {
        char place[200];
        param_place(st, p, place, sizeof place);
        return vmdb__fail(VMDB_EINVAL, "parameter %d: %s where %s needs %s", index,
                          sql_type_name(v->type), place, wanted(p->want));
    }
    int rc = check_fits(st, index, p, v);
    if (rc < 0)
        return rc;
    char *copy = NULL;
    if (own_text) {
        if (!(copy = malloc(v->s.len + 1)))
            return vmdb__fail(VMDB_ENOMEM, "parameter %d: out of memory", index);
        memcpy(copy, own_text, v->s.len);
        copy[v->s.len] = '\0';
    }
    vmdb_reset(st);
    drop_run_plan(st);
    free(p->text);
    p->text = copy;
    p->value = *v;
    if (copy)
        p->value.s.ptr = copy;
    p->bound = true;
    return 0;
}

int vmdb_bind_i64(vmdb_stmt *stmt, int index, int64_t value)
{
    sql_value v = {.type = SQL_T_INT, .i = value};
    return bind_value(stmt, index, &v, NULL);
}

int vmdb_bind_u64(vmdb_stmt *stmt, int index, uint64_t value)
{
    sql_value v = {.type = SQL_T_INT, .i = value};
    return bind_value(stmt, index, &v, NULL);
}

int vmdb_bind_double(vmdb_stmt *stmt, int index, double value)
{
    sql_value v = {.type = SQL_T_FLOAT, .f = value};
    return bind_value(stmt, index, &v, NULL);
}

int vmdb_bind_text(vmdb_stmt *stmt, int index, const char *text, size_t len)
{
    if (!text)
        return vmdb__fail(VMDB_EINVAL, "parameter %d: text is required", index);
    if (len == VMDB_SQL_NUL_TERMINATED)
        len = strlen(text);
    if (memchr(text, '\0', len))
        return vmdb__fail(VMDB_EINVAL, "parameter %d: text holds a NUL byte at %zu", index,
                          (size_t)((const char *)memchr(text, '\0', len) - text));
    sql_value v = {.type = SQL_T_TEXT, .s = {text, len}};
    return bind_value(stmt, index, &v, text);
}

int vmdb_bind_bool(vmdb_stmt *stmt, int index, bool value)
{
    sql_value v = {.type = SQL_T_BOOL, .b = value};
    return bind_value(stmt, index, &v, NULL);
}

int vmdb_bind_count(const vmdb_stmt *stmt)
{
    return stmt ? (int)stmt->param_count : 0;
}

/* ---- the statement's life ------------------------------------------------ */

int vmdb_prepare(vmdb_db *db, const char *sql, size_t len, vmdb_stmt **out, const char **tail)
{
    if (out)
        *out = NULL;
    if (tail)
        *tail = NULL;
    if (!db || !sql || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_prepare: db, sql and out are required");
    size_t span = statement_span(sql, &len, tail);
    /* An empty statement (blanks, comments, or nothing before its ';')
     * is none, as sqlite3 has it: the caller goes on at the tail. */
    size_t body = span && sql[span - 1] == ';' ? span - 1 : span;
    if (tail && sql_is_blank(sql, body))
        return 0;
    vmdb_stmt *st = calloc(1, sizeof *st);
    if (!st)
        return vmdb__fail(VMDB_ENOMEM, "vmdb_prepare: out of memory");
    st->db = db;
    sql_error err;
    int rc = 0;
    if (sql_parse_statement(sql, span, &st->parsed, &err) < 0) {
        rc = vmdb__sql_fail(&err, VMDB_ESYNTAX, sql, span);
    } else if (sql_plan_new(db, vmdb_db_path(db), st->parsed, &st->plan, &err) < 0) {
        rc = vmdb__sql_fail(&err, VMDB_EINVAL, sql, span);
    } else {
        /* The parsed copy of the text, for the runs that parse it again:
         * positions in their messages count from the caller's sql. */
        st->text = st->parsed->text;
        st->len = span;
        st->param_count = st->parsed->param_count;
        st->params = calloc(st->param_count + 1, sizeof *st->params);
        if (!st->params)
            rc = vmdb__fail(VMDB_ENOMEM, "vmdb_prepare: out of memory");
        else
            each_expr(st->parsed, note_params_of, st);
    }
    if (rc < 0) {
        vmdb_finalize(st);
        return rc;
    }
    st->column_count = st->parsed->explain
                           ? vmdb__explain_columns(&st->column_names, &st->column_types)
                           : sql_plan_columns(st->plan, &st->column_names, &st->column_types);
    st->cell_text = calloc(st->column_count + 1, sizeof *st->cell_text);
    st->cell_cap = calloc(st->column_count + 1, sizeof *st->cell_cap);
    if (!st->cell_text || !st->cell_cap) {
        vmdb_finalize(st);
        return vmdb__fail(VMDB_ENOMEM, "vmdb_prepare: out of memory");
    }
    *out = st;
    return 0;
}

void vmdb_reset(vmdb_stmt *stmt)
{
    if (!stmt || stmt->in_callback)
        return;
    vmdb__select_rows_clear(&stmt->rows);
    stmt->current = NULL;
    stmt->next_row = 0;
    stmt->state = STMT_READY;
}

void vmdb_finalize(vmdb_stmt *stmt)
{
    if (!stmt)
        return;
    vmdb_reset(stmt);
    vmdb__select_rows_free(&stmt->rows);
    drop_run_plan(stmt);
    sql_plan_free(stmt->plan);
    sql_stmt_free(stmt->parsed);
    for (unsigned i = 0; stmt->params && i < stmt->param_count; i++)
        free(stmt->params[i].text);
    free(stmt->params);
    for (size_t i = 0; stmt->cell_text && i < stmt->column_count; i++)
        free(stmt->cell_text[i]);
    free(stmt->cell_text);
    free(stmt->cell_cap);
    free(stmt);
}

static int run_write(vmdb_stmt *st, sql_plan *plan)
{
    sql_error err;
    uint64_t rows;
    sql_sink none = {0};
    if (sql_execute(plan, &none, &rows, &st->changes, &err) < 0)
        return vmdb__sql_fail(&err, VMDB_ERANGE, st->text, st->len);
    return 0;
}

int vmdb_step(vmdb_stmt *stmt)
{
    if (!stmt)
        return vmdb__fail(VMDB_EINVAL, "vmdb_step: stmt is required");
    if (stmt->in_callback)
        return busy_in_callback("vmdb_step");
    if (stmt->state == STMT_READY) {
        sql_plan *plan;
        int rc = run_plan(stmt, &plan);
        stmt->changes = 0;
        stmt->state = STMT_DONE;
        if (rc == 0 && stmt->parsed->explain)
            rc = vmdb__explain_rows(stmt, plan, NULL, NULL);
        else if (rc == 0)
            rc = stmt->parsed->kind == SQL_SELECT ? vmdb__select_read(stmt, plan, NULL, NULL)
                                                  : run_write(stmt, plan);
        /* Nothing of a failed run was handed out or kept: the next step
         * runs it again (a retry after VMDB_EBUSY, as with sqlite3). */
        if (rc < 0) {
            stmt->state = STMT_READY;
            return rc;
        }
        stmt->state = STMT_ROWS;
        stmt->next_row = 0;
    }
    if (stmt->state == STMT_ROWS && stmt->next_row < stmt->rows.count) {
        stmt->current = stmt->rows.rows[stmt->next_row++];
        return VMDB_ROW;
    }
    stmt->current = NULL;
    stmt->state = STMT_DONE;
    return VMDB_DONE;
}

int vmdb_step_all(vmdb_stmt *stmt, vmdb_row_fn row, void *ctx)
{
    if (!stmt)
        return vmdb__fail(VMDB_EINVAL, "vmdb_step_all: stmt is required");
    if (stmt->in_callback)
        return busy_in_callback("vmdb_step_all");
    vmdb_reset(stmt);
    sql_plan *plan;
    int rc = run_plan(stmt, &plan);
    stmt->changes = 0;
    stmt->state = STMT_DONE;
    if (rc < 0)
        return rc;
    if (stmt->parsed->explain)
        rc = vmdb__explain_rows(stmt, plan, row, ctx);
    else if (stmt->parsed->kind != SQL_SELECT)
        return run_write(stmt, plan);
    else
        rc = vmdb__select_read(stmt, plan, row, ctx);
    stmt->current = NULL;
    vmdb__select_rows_clear(&stmt->rows);
    return rc;
}

int vmdb_exec(vmdb_db *db, const char *sql, vmdb_row_fn row, void *ctx)
{
    if (!db || !sql)
        return vmdb__fail(VMDB_EINVAL, "vmdb_exec: db and sql are required");
    const char *at = sql;
    while (*at) {
        vmdb_stmt *stmt;
        const char *tail;
        int rc = vmdb_prepare(db, at, VMDB_SQL_NUL_TERMINATED, &stmt, &tail);
        if (rc < 0)
            return vmdb__sql_error_rebase(rc, sql, (size_t)(at - sql));
        if (stmt) {
            rc = vmdb_step_all(stmt, row, ctx);
            vmdb_finalize(stmt);
            if (rc < 0)
                return vmdb__sql_error_rebase(rc, sql, (size_t)(at - sql));
            if (rc != 0)
                return rc;
        }
        at = tail;
    }
    return 0;
}

uint64_t vmdb_changes(const vmdb_stmt *stmt)
{
    return stmt ? stmt->changes : 0;
}

enum vmdb_stmt_kind vmdb_stmt_kind(const vmdb_stmt *stmt)
{
    static const enum vmdb_stmt_kind kinds[] = {
        [SQL_SELECT] = VMDB_STMT_SELECT, [SQL_INSERT] = VMDB_STMT_INSERT,
        [SQL_UPDATE] = VMDB_STMT_UPDATE, [SQL_DELETE] = VMDB_STMT_DELETE,
        [SQL_BEGIN] = VMDB_STMT_BEGIN, [SQL_COMMIT] = VMDB_STMT_COMMIT,
        [SQL_ROLLBACK] = VMDB_STMT_ROLLBACK, [SQL_CREATE_TABLE] = VMDB_STMT_CREATE_TABLE,
        [SQL_DROP_TABLE] = VMDB_STMT_DROP_TABLE};
    return stmt && !stmt->parsed->explain ? kinds[stmt->parsed->kind] : VMDB_STMT_SELECT;
}

long vmdb_explain(vmdb_stmt *stmt, char *buf, size_t cap)
{
    if (!stmt || (!buf && cap))
        return vmdb__fail(VMDB_EINVAL, "vmdb_explain: stmt is required, and buf with cap");
    sql_plan *plan = stmt->plan;
    if (stmt->param_count && all_bound(stmt)) {
        int rc = run_plan(stmt, &plan);
        if (rc < 0)
            return rc;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return vmdb__fail(VMDB_ENOMEM, "vmdb_explain: out of memory");
    sql_plan_explain(plan, out);
    if (fclose(out) != 0) {
        free(text);
        return vmdb__fail(VMDB_ENOMEM, "vmdb_explain: out of memory");
    }
    if (cap) {
        size_t n = len < cap ? len : cap - 1;
        memcpy(buf, text, n);
        buf[n] = '\0';
    }
    free(text);
    return (long)len;
}

/* ---- columns ------------------------------------------------------------ */

int vmdb_column_count(const vmdb_stmt *stmt)
{
    return stmt ? (int)stmt->column_count : 0;
}

const char *vmdb_column_name(const vmdb_stmt *stmt, int col)
{
    if (!stmt || col < 0 || (size_t)col >= stmt->column_count)
        return NULL;
    return stmt->column_names[col];
}

enum vmdb_value_type vmdb_column_type(const vmdb_stmt *stmt, int col)
{
    if (!stmt || col < 0 || (size_t)col >= stmt->column_count)
        return 0;
    switch (stmt->column_types[col]) {
    case SQL_T_INT: return VMDB_VALUE_INT;
    case SQL_T_FLOAT: return VMDB_VALUE_FLOAT;
    case SQL_T_TEXT: return VMDB_VALUE_TEXT;
    case SQL_T_BOOL: return VMDB_VALUE_BOOL;
    default: return VMDB_VALUE_BYTES;
    }
}

/* The current row's value of col, or NULL after recording why not. */
static const sql_value *cell(const vmdb_stmt *stmt, int col, const char *call)
{
    if (!stmt)
        return vmdb__fail(VMDB_EINVAL, "%s: stmt is required", call), NULL;
    if (col < 0 || (size_t)col >= stmt->column_count)
        return vmdb__fail(VMDB_ERANGE, "%s: column %d: the statement has %zu column%s", call,
                          col, stmt->column_count, stmt->column_count == 1 ? "" : "s"),
               NULL;
    if (!stmt->current)
        return vmdb__fail(VMDB_EINVAL, "%s: no row: vmdb_step has not given VMDB_ROW", call),
               NULL;
    return &stmt->current[col];
}

static int not_a(const vmdb_stmt *stmt, int col, const char *call, const char *what)
{
    return vmdb__fail(VMDB_EINVAL, "%s: column %d (%s) is %s, not %s", call, col,
                      stmt->column_names[col], sql_type_name(stmt->current[col].type), what);
}

int vmdb_column_i64(vmdb_stmt *stmt, int col, int64_t *out)
{
    const sql_value *v = cell(stmt, col, "vmdb_column_i64");
    if (!v)
        return vmdb_last_error()->code;
    if (v->type != SQL_T_INT)
        return not_a(stmt, col, "vmdb_column_i64", "an integer");
    if (v->i > INT64_MAX)
        return vmdb__fail(VMDB_ERANGE, "vmdb_column_i64: column %d (%s): %llu is above INT64_MAX",
                          col, stmt->column_names[col], (unsigned long long)v->i);
    *out = (int64_t)v->i;
    return 0;
}

int vmdb_column_u64(vmdb_stmt *stmt, int col, uint64_t *out)
{
    const sql_value *v = cell(stmt, col, "vmdb_column_u64");
    if (!v)
        return vmdb_last_error()->code;
    if (v->type != SQL_T_INT)
        return not_a(stmt, col, "vmdb_column_u64", "an integer");
    if (v->i < 0)
        return vmdb__fail(VMDB_ERANGE, "vmdb_column_u64: column %d (%s): %lld is negative", col,
                          stmt->column_names[col], (long long)v->i);
    *out = (uint64_t)v->i;
    return 0;
}

int vmdb_column_double(vmdb_stmt *stmt, int col, double *out)
{
    const sql_value *v = cell(stmt, col, "vmdb_column_double");
    if (!v)
        return vmdb_last_error()->code;
    if (v->type == SQL_T_INT)
        *out = (double)v->i;
    else if (v->type == SQL_T_FLOAT)
        *out = v->f;
    else
        return not_a(stmt, col, "vmdb_column_double", "a number");
    return 0;
}

int vmdb_column_bool(vmdb_stmt *stmt, int col, bool *out)
{
    const sql_value *v = cell(stmt, col, "vmdb_column_bool");
    if (!v)
        return vmdb_last_error()->code;
    if (v->type != SQL_T_BOOL)
        return not_a(stmt, col, "vmdb_column_bool", "a bool");
    *out = v->b;
    return 0;
}

int vmdb_column_text(vmdb_stmt *stmt, int col, const char **text, size_t *len)
{
    const sql_value *v = cell(stmt, col, "vmdb_column_text");
    if (!v)
        return vmdb_last_error()->code;
    /* Text is copied too: a value's own bytes are not NUL-terminated. */
    size_t need = v->type == SQL_T_TEXT ? v->s.len + 1 : sql_value_text_cap(v);
    if (need > stmt->cell_cap[col]) {
        char *b = realloc(stmt->cell_text[col], need);
        if (!b)
            return vmdb__fail(VMDB_ENOMEM, "vmdb_column_text: out of memory");
        stmt->cell_text[col] = b;
        stmt->cell_cap[col] = need;
    }
    char *buf = stmt->cell_text[col];
    size_t n;
    if (v->type == SQL_T_TEXT) {
        n = v->s.len;
        if (n)
            memcpy(buf, v->s.ptr, n);
        buf[n] = '\0';
    } else {
        const char *t;
        sql_value_text(v, buf, need, &t, &n);
        if (t != buf)
            memmove(buf, t, n);
        buf[n] = '\0';
    }
    *text = buf;
    if (len)
        *len = n;
    return 0;
}
