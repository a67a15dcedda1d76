/* SPDX-License-Identifier: MIT */
/*
 * cli/cmd_import.c - `vmdb import DB TABLE FILE`: its arguments; the
 * import itself is cli/import.c's, which the shell's `.import` shares.
 */
#include "cli.h"
#include "import.h"

static const char usage[] =
    "usage: vmdb import DB TABLE FILE [--format csv|json] [--batch N]\n"
    "\n"
    "Puts every row of FILE into TABLE (insert or replace by key); FILE '-'\n"
    "reads standard input.\n"
    "\n"
    "  --format csv|json  csv: RFC 4180 with a header row naming the fields;\n"
    "                     json: one object per line (JSON lines). By default\n"
    "                     from the name: .csv, or .json/.jsonl/.ndjson; csv\n"
    "                     for standard input.\n"
    "  --batch N          rows per transaction (default 10000, fewer for\n"
    "                     records too large for the log to hold that many)\n"
    "\n"
    "A field the file does not give is zero; the key must be given. A bad row\n"
    "stops the import with its line and the reason; the batches committed\n"
    "before it stay, the rest of its batch is rolled back. A progress line is\n"
    "drawn on stderr when it is a terminal.\n";

const cli_command cli_import_command;

static int run(int argc, char **argv)
{
    cli_import_options opts = {0};
    const cli_option options[] = {
        CLI_FORMAT_OPTION(&opts.format),
        {"batch", 'b', &opts.batch, NULL},
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
    if (cli_open_db(pos[0], 0, &db) != CLI_OK)
        return CLI_ERROR;
    return cli_close_db(db, cli_import_file(db, pos[0], pos[1], pos[2], &opts));
}

const cli_command cli_import_command = {
    .name = "import",
    .summary = "put the rows of a CSV or JSON-lines file into a table",
    .usage = usage,
    .run = run,
};
