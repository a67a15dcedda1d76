/* SPDX-License-Identifier: MIT */
/*
 * cli/import.h - rows of a CSV or JSON-lines file put into a table: the
 * work of `vmdb import`, and of any other command that imports (the
 * shell's `.import`), so that both take the same options and say the
 * same things.
 */
#ifndef VMDB_CLI_IMPORT_H
#define VMDB_CLI_IMPORT_H

#include <stdbool.h>

#include "vmdb.h"

/*
 * The options, as text the way a command line gives them, so that every
 * caller gets the same checks and the same messages ("import: --batch '0'
 * is not a row count (1 or more)"). A zeroed struct asks for the
 * defaults.
 */
typedef struct cli_import_options {
    const char *format; /* "csv" or "json"; NULL: from the file's name
                           (.csv; .json, .jsonl, .ndjson), csv for "-" */
    const char *batch;  /* rows per transaction; NULL: 10000, fewer for
                           records too large for the log to hold that many */
    bool skip_extra;    /* columns (json: members) the table lacks are
                           ignored; false: they stop the import */
    bool create;        /* a missing table is made from the first 1000
                           rows (cli/schema_guess.h): from a csv file's
                           columns, or the json objects' members, and
                           dropped again if the import fails */
    const char *key;    /* with create: the key column; NULL: the first */
    bool quiet;         /* nothing on stdout: neither "created table T:
                           SCHEMA" nor "imported N rows into T in S s" */

    /* csv only (a json file with one of them is refused): */
    const char *delimiter; /* one character, or "\\t" or "tab" for a tab;
                              NULL: ',' */
    bool no_header;     /* the first row is data, not the fields' names */
    const char *columns; /* "a,b,c": the fields of the columns, in order,
                            instead of the header's names (a header row,
                            when there is one, is then skipped); NULL:
                            the header's, or without one the table's
                            fields in order */
    const char *empty;  /* what an empty cell is: "zero" (NULL: 0, false
                           or the empty string, but an error in a key
                           that is not a str) or "error" */
} cli_import_options;

/* Checks the options for an import of `file` without reading anything,
 * so that a command can refuse them before it opens (or creates) the
 * database. CLI_OK, or CLI_ERROR after a message. cli_import_file checks
 * them again itself. */
int cli_import_check(const char *file, const cli_import_options *options);

/*
 * Puts every row of `file` ("-": standard input) into table `table` of
 * `db`, which the caller opened for writing and closes afterwards. Rows
 * go in transactions of `batch` rows: a bad row stops the import with
 * one line naming the file, line and field at fault, and the batches
 * committed before it stay (cli/import.c says exactly which); a table
 * that options->create made is dropped again. Must not be called with a
 * transaction of the calling thread open: the import takes the write
 * lock itself (vmdb_txn_begin would fail with VMDB_EBUSY). Returns
 * CLI_OK, or CLI_ERROR after a message on stderr.
 */
int cli_import_file(vmdb_db *db, const char *table, const char *file,
                    const cli_import_options *options);

#endif /* VMDB_CLI_IMPORT_H */
