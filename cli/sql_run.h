/* SPDX-License-Identifier: MIT */
/*
 * cli/sql_run.h - one SQL statement run for `vmdb query` and `vmdb shell`
 * through the public query layer (vmdb/query.h): prepared on an open
 * database, explained or run, its rows printed with the --format printer.
 */
#ifndef VMDB_CLI_SQL_RUN_H
#define VMDB_CLI_SQL_RUN_H

#include "cli.h"

/* How a statement's output is printed. */
typedef struct sql_output {
    enum cli_format format;
    bool no_header;  /* rows without the header (the shell's .headers off) */
    bool explain;    /* the plan, not the rows */
    FILE *out;       /* where rows and plans go */
} sql_output;

/*
 * Prepares the one statement of sql[0, len) on db and, with how->explain,
 * prints its plan on how->out; otherwise runs it, printing a SELECT's rows
 * on how->out in how->format, and for INSERT, UPDATE and DELETE a line on
 * stderr saying how many records changed ("3 records updated").
 *
 * Returns CLI_OK, CLI_NOT_FOUND for a SELECT that found no row, or
 * CLI_ERROR. An error of the statement (a name, a type, an overflow) is
 * left in the library's error context (vmdb_last_error,
 * vmdb_sql_error_position) for the caller to report in its own terms,
 * and nothing is printed; an error already reported on stderr (the
 * output could not be written) sets *reported.
 */
int sql_run(vmdb_db *db, const char *sql, size_t len, const sql_output *how, bool *reported);

#endif /* VMDB_CLI_SQL_RUN_H */
