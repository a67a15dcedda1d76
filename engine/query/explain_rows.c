/* SPDX-License-Identifier: MIT */
/*
 * engine/query/explain_rows.c - EXPLAIN and EXPLAIN QUERY PLAN before a
 * statement: its rows are the plan, one text column "plan" with a row per
 * line of what vmdb_explain and `vmdb query --explain` print, and the
 * statement itself does not run (an EXPLAIN DELETE deletes nothing).
 */
#define _GNU_SOURCE /* open_memstream, for the plan's text */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "stmt.h"

static const char *const plan_column_name[] = {"plan"};
static const enum sql_type plan_column_type[] = {SQL_T_TEXT};

size_t vmdb__explain_columns(const char *const **names, const enum sql_type **types)
{
    *names = plan_column_name;
    *types = plan_column_type;
    return 1;
}

/* One kept row: a text cell copied into the rows' arena. */
static int keep_line(select_rows *rows, const char *line, size_t len)
{
    if (!rows->arena && !(rows->arena = sql_arena_new()))
        return -1;
    if (rows->count == rows->cap) {
        size_t cap = rows->cap ? rows->cap * 2 : 16;
        sql_value **grown = realloc(rows->rows, cap * sizeof *grown);
        if (!grown)
            return -1;
        rows->rows = grown;
        rows->cap = cap;
    }
    sql_value *cell = sql_arena_alloc(rows->arena, 2 * sizeof *cell);
    char *copy = sql_arena_alloc(rows->arena, len + 1);
    if (!cell || !copy)
        return -1;
    memcpy(copy, line, len);
    cell->type = SQL_T_TEXT;
    cell->s.ptr = copy;
    cell->s.len = len;
    rows->rows[rows->count++] = cell;
    return 0;
}

int vmdb__explain_rows(vmdb_stmt *stmt, sql_plan *plan, vmdb_row_fn row, void *ctx)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return vmdb__fail(VMDB_ENOMEM, "EXPLAIN: out of memory");
    sql_plan_explain(plan, out);
    if (fclose(out) != 0) {
        free(text);
        return vmdb__fail(VMDB_ENOMEM, "EXPLAIN: out of memory");
    }
    vmdb__select_rows_clear(&stmt->rows);
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (keep_line(&stmt->rows, text + at, end - at) < 0) {
            free(text);
            vmdb__select_rows_clear(&stmt->rows);
            return vmdb__fail(VMDB_ENOMEM, "EXPLAIN: out of memory");
        }
        at = end + 1;
    }
    free(text);
    for (size_t i = 0; row && i < stmt->rows.count; i++) {
        stmt->current = stmt->rows.rows[i];
        stmt->in_callback = true;
        int rc = row(ctx, stmt);
        stmt->in_callback = false;
        stmt->current = NULL;
        if (rc != 0)
            return rc;
    }
    return 0;
}
