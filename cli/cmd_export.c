/* SPDX-License-Identifier: MIT */
/*
 * cli/cmd_export.c - `vmdb export DB TABLE [--format csv|json]`: every
 * record of a table, in slot order, as `vmdb import` reads them back.
 *
 * The records go through the shared printer (cli_print_record), whose csv
 * and json forms are the ones the import readers accept: csv quotes what
 * needs quoting and passes every byte through, floats are written in the
 * shortest form that reads back the same, bytes as 0x hex, u64 and i64
 * in full. So an export imported into an empty table with the same
 * schema and exported again gives the same bytes. json cannot carry
 * bytes that are not UTF-8 (the printer writes U+FFFD for them): csv is
 * the lossless form, and the default.
 *
 * The database is opened read-only, and the export is one committed
 * state of the table: it runs in a read transaction (cli/consistent.c),
 * so a transaction committed meanwhile is in it whole or not at all.
 */
#include <stdlib.h>

#include "cli.h"
#include "vmdb.h"

static const char usage[] =
    "usage: vmdb export DB TABLE [--format csv|json|table]\n"
    "\n"
    "Writes every record of TABLE to standard output in slot order: csv with\n"
    "a header row (the default, lossless), json with one object per line, or\n"
    "an aligned table to read. `vmdb import` reads csv and json back.\n"
    "Exit status 0 also for an empty table (the csv is then its header).\n";

struct export {
    vmdb_table *table;
    enum cli_format format;
};

static int export_table(void *ctx, FILE *out, size_t limit)
{
    const struct export *e = ctx;
    vmdb_table *table = e->table;
    const vmdb_schema *schema = vmdb_table_schema(table);
    size_t count = vmdb_schema_field_count(schema);
    const char **names = malloc(count * sizeof *names);
    void *record = malloc(vmdb_schema_record_size(schema));
    if (!names || !record) {
        free(names);
        free(record);
        return cli_error("out of memory");
    }
    for (size_t i = 0; i < count; i++)
        names[i] = vmdb_schema_field(schema, i)->name;
    cli_printer *p = cli_printer_open(e->format, out, count, names);
    free(names);
    if (!p) {
        free(record);
        return CLI_ERROR;
    }
    vmdb_table_cursor cursor;
    vmdb_table_cursor_init(&cursor, table);
    int rc = CLI_OK, next;
    while (rc == CLI_OK && (next = vmdb_table_cursor_next(&cursor, NULL, record)) == 0) {
        rc = cli_print_record(p, schema, record);
        if (rc == CLI_OK && cli_output_full(out, limit))
            rc = CLI_OUTPUT_FULL;
    }
    /* The cursor's messages name the table's file already ("DB/people.vmt:
     * slot 0 ..."): cli_table_error is for a record's, which start with a
     * field. */
    if (rc == CLI_OK && next != VMDB_ENOTFOUND)
        rc = cli_library_error();
    int closed = cli_printer_close(p);
    free(record);
    return rc != CLI_OK ? rc : closed;
}

const cli_command cli_export_command;

static int run(int argc, char **argv)
{
    char *pos[2];
    int status;
    enum cli_format format;
    vmdb_db *db;
    if (!cli_start_db_command(&cli_export_command, argc, argv, 2, pos, "csv", VMDB_DB_READONLY,
                              &format, &db, &status))
        return status;
    vmdb_table *table;
    int rc = cli_open_table(db, pos[0], pos[1], &table);
    struct export e = {table, format};
    if (rc == CLI_OK)
        rc = cli_read_consistently(db, stdout, export_table, &e);
    vmdb_close(db);
    return rc;
}

const cli_command cli_export_command = {
    .name = "export",
    .summary = "write every record of a table as csv or json lines",
    .usage = usage,
    .run = run,
};
