/*
 * cli/sql_run.c - a statement's rows to the record printer, for the
 * query and shell commands.
 *
 * The executor hands over values; this turns each into a cell of text
 * without allocating per row: numbers are written into one buffer per
 * column sized once, text and bools point at their bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "sql_run.h"

typedef struct print_ctx {
    enum cli_format format;
    FILE *out;
    cli_printer *printer; /* opened at the first row */
    const char *const *names;
    size_t columns;
    cli_cell *cells;
    char **bufs;     /* a text buffer per column */
    size_t *caps;    /* its bytes */
    bool failed;     /* a message is already on stderr */
    size_t limit;    /* output past which the try stops (0: none) */
    bool full;       /* it did */
} print_ctx;

static int print_columns(void *ctx, size_t count, const char *const *names,
                         const enum sql_type *types)
{
    (void)types;
    print_ctx *pc = ctx;
    pc->columns = count;
    pc->cells = calloc(count + 1, sizeof *pc->cells);
    pc->bufs = calloc(count + 1, sizeof *pc->bufs);
    pc->caps = calloc(count + 1, sizeof *pc->caps);
    if (!pc->cells || !pc->bufs || !pc->caps) {
        pc->failed = true;
        return cli_error("out of memory");
    }
    pc->names = names;
    return 0;
}

/* The printer is opened when there is something to print, so that a
 * statement that fails before its first row prints no header. */
static bool open_printer(print_ctx *pc)
{
    if (!pc->printer && !(pc->printer = cli_printer_open(pc->format, pc->out, pc->columns,
                                                         pc->names)))
        pc->failed = true;
    return pc->printer != NULL;
}

static enum cli_cell_kind kind_of(enum sql_type t)
{
    switch (t) {
    case SQL_T_INT:
    case SQL_T_FLOAT:
        return CLI_CELL_NUMBER;
    case SQL_T_BOOL:
        return CLI_CELL_BOOL;
    default:
        return CLI_CELL_TEXT;
    }
}

static int print_row(void *ctx, const sql_value *cells)
{
    print_ctx *pc = ctx;
    if (!open_printer(pc))
        return CLI_ERROR;
    for (size_t i = 0; i < pc->columns; i++) {
        size_t need = sql_value_text_cap(&cells[i]);
        if (need > pc->caps[i]) {
            char *b = realloc(pc->bufs[i], need);
            if (!b) {
                pc->failed = true;
                return cli_error("out of memory");
            }
            pc->bufs[i] = b;
            pc->caps[i] = need;
        }
        sql_value_text(&cells[i], pc->bufs[i], pc->caps[i], &pc->cells[i].text,
                       &pc->cells[i].len);
        pc->cells[i].kind = kind_of(cells[i].type);
    }
    if (cli_printer_row(pc->printer, pc->cells) != CLI_OK) {
        pc->failed = true;
        return CLI_ERROR;
    }
    if (cli_output_full(pc->out, pc->limit)) {
        pc->full = true;
        return CLI_ERROR;
    }
    return 0;
}

static int execute(sql_plan *plan, const sql_stmt *stmt, enum cli_format format, FILE *out,
                   size_t limit, sql_error *err)
{
    print_ctx pc = {.format = format, .out = out, .limit = limit};
    sql_sink sink = {print_columns, print_row, &pc};
    uint64_t rows, changed;
    int rc = sql_execute(plan, &sink, &rows, &changed, err);
    /* No row: the header alone says which columns there would be. */
    if (rc == 0 && stmt->kind == SQL_SELECT && !pc.failed)
        open_printer(&pc);
    if (pc.printer && cli_printer_close(pc.printer) != CLI_OK)
        pc.failed = true;
    for (size_t i = 0; pc.bufs && i < pc.columns; i++)
        free(pc.bufs[i]);
    free(pc.bufs);
    free(pc.caps);
    free(pc.cells);
    if (pc.full)
        return CLI_OUTPUT_FULL;
    if (pc.failed) {
        err->message[0] = '\0';
        return CLI_ERROR;
    }
    if (rc != 0)
        return CLI_ERROR;
    if (stmt->kind == SQL_SELECT)
        return rows ? CLI_OK : CLI_NOT_FOUND;
    static const char *const verbs[] = {"", "inserted", "updated", "deleted"};
    fprintf(stderr, "%llu record%s %s\n", (unsigned long long)changed, cli_plural(changed),
            verbs[stmt->kind]);
    return CLI_OK;
}

struct select_run {
    sql_plan *plan;
    const sql_stmt *stmt;
    enum cli_format format;
    sql_error *err;
};

static int select_try(void *ctx, FILE *out, size_t limit)
{
    struct select_run *run = ctx;
    return execute(run->plan, run->stmt, run->format, out, limit, run->err);
}

int sql_run(vmdb_db *db, const char *db_name, sql_stmt *stmt, enum cli_format format,
            bool explain, FILE *out, sql_error *err)
{
    sql_plan *plan;
    if (sql_plan_new(db, db_name, stmt, &plan, err) < 0)
        return CLI_ERROR;
    int status;
    if (explain) {
        sql_plan_explain(plan, out);
        status = fflush(out) == 0 ? CLI_OK : cli_error("cannot write the output");
        if (status != CLI_OK)
            err->message[0] = '\0';
    } else if (stmt->kind == SQL_SELECT) {
        /* Its rows are one committed state, never part of a transaction. */
        struct select_run run = {plan, stmt, format, err};
        status = cli_read_consistently(db, out, select_try, &run);
    } else {
        status = execute(plan, stmt, format, out, 0, err);
    }
    sql_plan_free(plan);
    return status;
}
