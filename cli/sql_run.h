/*
 * cli/sql_run.h - one SQL statement run for `vmdb query` and `vmdb shell`:
 * planned on an open database, explained or executed, its rows printed
 * with the --format printer.
 */
#ifndef VMDB_CLI_SQL_RUN_H
#define VMDB_CLI_SQL_RUN_H

#include "cli.h"
#include "sql.h"

/*
 * Plans stmt on db (db_name names it in messages) and, if explain,
 * prints the plan on out; otherwise runs it, printing a SELECT's rows on
 * out in `format`, and for INSERT, UPDATE and DELETE a line on stderr
 * saying how many records changed ("3 records updated").
 *
 * Returns CLI_OK, CLI_NOT_FOUND for a SELECT that found no row, or
 * CLI_ERROR. An error of the statement (a name, a type, an overflow)
 * is left in *err for the caller to report with its own prefix and
 * nothing is printed; an error already reported on stderr (the output
 * could not be written) leaves err->message empty.
 */
int sql_run(vmdb_db *db, const char *db_name, sql_stmt *stmt, enum cli_format format,
            bool explain, FILE *out, sql_error *err);

#endif /* VMDB_CLI_SQL_RUN_H */
