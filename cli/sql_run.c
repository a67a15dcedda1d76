/* SPDX-License-Identifier: MIT */
/*
 * cli/sql_run.c - a statement's rows to the record printer, for the
 * query and shell commands.
 *
 * The library hands each row over once it is one committed state
 * (vmdb/query.h): its cells are read as the text `vmdb query` prints,
 * numbers marked as numbers so that the table format aligns them.
 */
#include <stdlib.h>
#include <string.h>

#include "sql_run.h"

typedef struct print_ctx {
    enum cli_format format;
    bool no_header;
    FILE *out;
    cli_printer *printer; /* opened at the first row */
    const char **names;
    size_t columns;
    cli_cell *cells;
    uint64_t rows;
    bool failed;          /* a message is already on stderr */
} print_ctx;

/* The printer is opened when there is something to print, so that a
 * statement that fails before its first row prints no header. */
static bool open_printer(print_ctx *pc)
{
    if (!pc->printer && !(pc->printer = cli_printer_open(pc->format, pc->out, pc->columns,
                                                         pc->names)))
        pc->failed = true;
    else if (pc->no_header && pc->printer && cli_printer_rows(pc->printer) == 0)
        cli_printer_no_header(pc->printer);
    return pc->printer != NULL;
}

static enum cli_cell_kind kind_of(enum vmdb_value_type t)
{
    switch (t) {
    case VMDB_VALUE_INT:
    case VMDB_VALUE_FLOAT:
        return CLI_CELL_NUMBER;
    case VMDB_VALUE_BOOL:
        return CLI_CELL_BOOL;
    default:
        return CLI_CELL_TEXT;
    }
}

static int print_row(void *ctx, vmdb_stmt *stmt)
{
    print_ctx *pc = ctx;
    if (!open_printer(pc))
        return 1;
    for (size_t i = 0; i < pc->columns; i++) {
        if (vmdb_column_text(stmt, (int)i, &pc->cells[i].text, &pc->cells[i].len) < 0) {
            pc->failed = true;
            cli_library_error();
            return 1;
        }
        pc->cells[i].kind = kind_of(vmdb_column_type(stmt, (int)i));
    }
    if (cli_printer_row(pc->printer, pc->cells) != CLI_OK) {
        pc->failed = true;
        return 1;
    }
    pc->rows++;
    return 0;
}

static int explain(vmdb_stmt *stmt, FILE *out, bool *reported)
{
    long need = vmdb_explain(stmt, NULL, 0);
    char *text = need < 0 ? NULL : malloc((size_t)need + 1);
    if (need < 0 || !text) {
        free(text);
        *reported = true;
        return need < 0 ? cli_library_error() : cli_error("out of memory");
    }
    vmdb_explain(stmt, text, (size_t)need + 1);
    bool written = fwrite(text, 1, (size_t)need, out) == (size_t)need && fflush(out) == 0;
    free(text);
    if (written)
        return CLI_OK;
    *reported = true;
    return cli_error("cannot write the output");
}

static int execute(vmdb_stmt *stmt, const sql_output *how, bool *reported)
{
    print_ctx pc = {.format = how->format, .no_header = how->no_header, .out = how->out};
    pc.columns = (size_t)vmdb_column_count(stmt);
    pc.names = calloc(pc.columns + 1, sizeof *pc.names);
    pc.cells = calloc(pc.columns + 1, sizeof *pc.cells);
    if (!pc.names || !pc.cells) {
        free(pc.names);
        free(pc.cells);
        *reported = true;
        return cli_error("out of memory");
    }
    for (size_t i = 0; i < pc.columns; i++)
        pc.names[i] = vmdb_column_name(stmt, (int)i);
    int rc = vmdb_step_all(stmt, print_row, &pc);
    enum vmdb_stmt_kind kind = vmdb_stmt_kind(stmt);
    /* No row: the header alone says which columns there would be. */
    if (rc == 0 && kind == VMDB_STMT_SELECT && !pc.failed)
        open_printer(&pc);
    if (pc.printer && cli_printer_close(pc.printer) != CLI_OK)
        pc.failed = true;
    free(pc.names);
    free(pc.cells);
    if (pc.failed) {
        *reported = true;
        return CLI_ERROR;
    }
    if (rc != 0)
        return CLI_ERROR;
    if (kind == VMDB_STMT_SELECT)
        return pc.rows ? CLI_OK : CLI_NOT_FOUND;
    static const char *const verbs[] = {
        [VMDB_STMT_INSERT] = "inserted", [VMDB_STMT_UPDATE] = "updated",
        [VMDB_STMT_DELETE] = "deleted"};
    /* BEGIN, CREATE TABLE and the like say nothing when they work, as in
     * sqlite3. */
    if (kind > VMDB_STMT_DELETE)
        return CLI_OK;
    uint64_t changed = vmdb_changes(stmt);
    fprintf(stderr, "%llu record%s %s\n", (unsigned long long)changed, cli_plural(changed),
            verbs[kind]);
    return CLI_OK;
}

int sql_run(vmdb_db *db, const char *sql, size_t len, const sql_output *how, bool *reported)
{
    *reported = false;
    vmdb_stmt *stmt;
    if (vmdb_prepare(db, sql, len, &stmt, NULL) < 0)
        return CLI_ERROR;
    int status = how->explain ? explain(stmt, how->out, reported)
                              : execute(stmt, how, reported);
    vmdb_finalize(stmt);
    return status;
}
