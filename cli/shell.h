/* SPDX-License-Identifier: MIT */
/*
 * cli/shell.h - the shell's script runner (cli/cmd_shell.c), which `vmdb
 * query` uses for a text of several statements.
 */
#ifndef VMDB_CLI_SHELL_H
#define VMDB_CLI_SHELL_H

#include "sql_run.h"

/*
 * Runs text as the shell runs its SQL argument: statements ending with
 * ';' (the last may lack it) and dot commands alone on a line, errors
 * reported with their line; with bail, stopping at the first. A
 * transaction BEGIN left open at the end is rolled back, and stderr says
 * so. Returns CLI_OK, CLI_NOT_FOUND when the last statement was a SELECT
 * that found no row, or CLI_ERROR when anything failed.
 */
int shell_run_text(vmdb_db *db, const char *db_name, const char *text, const sql_output *how,
                   bool bail);

#endif
