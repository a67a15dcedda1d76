/* SPDX-License-Identifier: MIT */
/*
 * cli/cmd_import.c - `vmdb import DB TABLE FILE`: its arguments; the
 * import itself is cli/import.c's, which the shell's `.import` shares.
 */
#include "cli.h"
#include "import.h"

static const char usage[] =
    "usage: vmdb import DB TABLE FILE [--format csv|json] [--batch N] [--create [--key NAME]]\n"
    "       [--delimiter C] [--no-header] [--columns A,B,...] [--empty zero|error]\n"
    "       [--skip-extra]\n"
    "\n"
    "Puts every row of FILE into TABLE (insert or replace by key); FILE '-'\n"
    "reads standard input.\n"
    "\n"
    "  --format csv|json  csv: RFC 4180 with a header row naming the fields\n"
    "                     (LF or CRLF line ends; a UTF-8 byte order mark is\n"
    "                     skipped); json: one object per line (JSON lines).\n"
    "                     By default from the name: .csv, or .json/.jsonl/\n"
    "                     .ndjson; csv for standard input.\n"
    "  --batch N          rows per transaction (default 10000, fewer for\n"
    "                     records too large for the log to hold that many)\n"
    "  --create           if TABLE is missing, make it (and DB) from the first\n"
    "                     1000 rows, a field per csv column or json member:\n"
    "                     bool for true/false, the narrowest of u8..u64\n"
    "                     (i8..i64 with a negative value) for integers, f64\n"
    "                     for decimals, else strN, N the longest value rounded\n"
    "                     up to a power of two (at least 8); prints the schema\n"
    "                     chosen. A TABLE that exists is imported into as it is.\n"
    "  --key NAME         with --create: the key column (default: the first)\n"
    "  --skip-extra       ignore columns (json: members) TABLE lacks, instead\n"
    "                     of stopping at them\n"
    "csv only:\n"
    "  --delimiter C      the field separator, one character (default ','),\n"
    "                     '\\t' or tab for a tab\n"
    "  --no-header        the first row is data; the columns are TABLE's\n"
    "                     fields in order, or those of --columns\n"
    "  --columns A,B,...  the fields of the columns, in order; a header row,\n"
    "                     if there is one, is skipped\n"
    "  --empty zero|error\n"
    "                     an empty cell is 0, false or the empty string\n"
    "                     (zero, the default; but an empty key is an error\n"
    "                     unless the key is a str), or stops the import\n"
    "                     (error)\n"
    "\n"
    "A field the file does not give is zero; the key must be given. A bad row\n"
    "stops the import with its line and the reason; the batches committed\n"
    "before it stay, the rest of its batch is rolled back, and a table that\n"
    "--create made is dropped again. A progress line is drawn on stderr when\n"
    "it is a terminal.\n";

const cli_command cli_import_command;

static int run(int argc, char **argv)
{
    cli_import_options opts = {0};
    const cli_option options[] = {
        CLI_FORMAT_OPTION(&opts.format),
        {"batch", 'b', &opts.batch, NULL},
        {"create", 0, NULL, &opts.create},
        {"key", 0, &opts.key, NULL},
        {"skip-extra", 0, NULL, &opts.skip_extra},
        {"delimiter", 'd', &opts.delimiter, NULL},
        {"no-header", 0, NULL, &opts.no_header},
        {"columns", 0, &opts.columns, NULL},
        {"empty", 0, &opts.empty, NULL},
    };
    char *pos[3];
    size_t npos;
    int status;
    if (!cli_command_args(&cli_import_command, argc, argv, options,
                          sizeof options / sizeof options[0], pos, 3, 3, &npos, &status))
        return status;
    if (cli_import_check(pos[2], &opts) != CLI_OK)
        return CLI_ERROR;
    vmdb_db *db;
    if (cli_open_db(pos[0], opts.create ? VMDB_DB_CREATE : 0, &db) != CLI_OK)
        return CLI_ERROR;
    return cli_close_db(db, cli_import_file(db, pos[1], pos[2], &opts));
}

const cli_command cli_import_command = {
    .name = "import",
    .summary = "put the rows of a CSV or JSON-lines file into a table",
    .usage = usage,
    .run = run,
};
