/* SPDX-License-Identifier: MIT */
/*
 * cli/cmd_table.c - the commands about tables as a whole: `create`,
 * `tables`, `schema` and `drop`.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "cli.h"

/* ---- create ------------------------------------------------------------- */

static const char create_usage[] =
    "usage: vmdb create DB TABLE SCHEMA [--capacity N]\n"
    "\n"
    "Creates table TABLE in database DB, and the database directory DB if it\n"
    "is missing. SCHEMA lists the fields, e.g.\n"
    "\n"
    "    vmdb create people.db people 'id:u64 key, name:str32, age:u8, score:f64'\n"
    "\n"
    "Types: u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 bool strN bytesN (N 1..4096).\n"
    "One field may say \"key\"; without one, the first field is the key.\n"
    "\n"
    "--capacity N   the records the table is expected to hold: its file and\n"
    "               index are made that large at once (the file's space is\n"
    "               taken from the start), so filling it never stops to grow\n"
    "               them; it still grows past N. Default: start small.\n";

static int create_run(int argc, char **argv)
{
    char *pos[3];
    size_t npos;
    int status;
    const char *capacity = NULL;
    const cli_option options[] = {{"capacity", 0, &capacity, NULL}};
    if (!cli_command_args(&cli_create_command, argc, argv, options, 1, pos, 3, 3, &npos,
                          &status))
        return status;
    vmdb_table_options topts = VMDB_TABLE_OPTIONS_INIT;
    if (capacity) {
        char *end;
        errno = 0;
        topts.capacity = strtoull(capacity, &end, 10);
        if (!isdigit((unsigned char)capacity[0]) || *end || errno) {
            char shown[VMDB_PRINTABLE_CAP];
            return cli_error("create: --capacity '%s' is not a whole number of records",
                             cli_show(shown, capacity));
        }
    }
    vmdb_schema *schema;
    if (vmdb_schema_parse(pos[2], &schema) < 0)
        return cli_library_error();
    vmdb_db *db;
    if (cli_open_db(pos[0], VMDB_DB_CREATE, &db) != CLI_OK) {
        vmdb_schema_free(schema);
        return CLI_ERROR;
    }
    vmdb_table *table;
    int rc = vmdb_table_create_with(db, pos[1], schema, &topts, &table);
    if (rc == VMDB_EEXIST)
        status = cli_error("%s: table '%s' already exists", pos[0], pos[1]);
    else if (rc < 0)
        status = cli_library_error();
    vmdb_schema_free(schema);
    return cli_close_db(db, status);
}

const cli_command cli_create_command = {
    .name = "create",
    .summary = "create a table (and the database)",
    .usage = create_usage,
    .run = create_run,
};

/* ---- tables ------------------------------------------------------------- */

static const char tables_usage[] =
    "usage: vmdb tables DB [--format table|csv|json]\n"
    "\n"
    "Lists the tables of database DB in name order: name, records, schema.\n"
    "Exit status 1 when there are none.\n";

/* The canonical text of a schema, malloc'ed; NULL (message printed) on
 * failure. */
static char *schema_text(const vmdb_schema *schema)
{
    size_t len;
    vmdb_schema_format(schema, NULL, 0, &len);
    char *text = malloc(len + 1);
    if (!text) {
        cli_error("out of memory");
        return NULL;
    }
    if (vmdb_schema_format(schema, text, len + 1, &len) < 0) {
        free(text);
        cli_library_error();
        return NULL;
    }
    return text;
}

static int list_table(void *ctx, vmdb_table *table)
{
    cli_printer *printer = ctx;
    vmdb_table_info info;
    if (vmdb_table_stat(table, &info) < 0)
        return cli_library_error();
    char *schema = schema_text(vmdb_table_schema(table));
    if (!schema)
        return CLI_ERROR;
    char records[CLI_U64_TEXT];
    cli_cell cells[] = {
        cli_text_cell(vmdb_table_name(table)),
        cli_u64_cell(records, info.records),
        cli_text_cell(schema),
    };
    int rc = cli_printer_row(printer, cells);
    free(schema);
    return rc;
}

static int tables_run(int argc, char **argv)
{
    char *pos[1];
    int status;
    enum cli_format format;
    vmdb_db *db;
    if (!cli_start_db_command(&cli_tables_command, argc, argv, 1, pos, NULL, VMDB_DB_READONLY,
                              &format, &db, &status))
        return status;
    static const char *const names[] = {"name", "records", "schema"};
    cli_printer *printer = cli_printer_open(format, stdout, 3, names);
    if (!printer) {
        vmdb_close(db);
        return CLI_ERROR;
    }
    status = vmdb_table_foreach(db, list_table, printer);
    return cli_end_listing(printer, db, status);
}

const cli_command cli_tables_command = {
    .name = "tables",
    .summary = "list the tables: name, records, schema",
    .usage = tables_usage,
    .run = tables_run,
};

/* ---- schema ------------------------------------------------------------- */

static const char schema_usage[] =
    "usage: vmdb schema DB TABLE\n"
    "\n"
    "Prints the schema of TABLE in its canonical form, which `vmdb create`\n"
    "takes back: e.g. \"id:u64 key, name:str32, age:u8\".\n";

static int schema_run(int argc, char **argv)
{
    char *pos[2];
    size_t npos;
    int status;
    if (!cli_command_args(&cli_schema_command, argc, argv, NULL, 0, pos, 2, 2, &npos, &status))
        return status;
    vmdb_db *db;
    if (cli_open_db(pos[0], VMDB_DB_READONLY, &db) != CLI_OK)
        return CLI_ERROR;
    vmdb_table *table;
    status = cli_open_table(db, pos[0], pos[1], &table);
    char *text = status == CLI_OK ? schema_text(vmdb_table_schema(table)) : NULL;
    if (text) {
        printf("%s\n", text);
        free(text);
        if (fflush(stdout) != 0)
            status = cli_error("cannot write the output");
    } else {
        status = CLI_ERROR;
    }
    vmdb_close(db);
    return status;
}

const cli_command cli_schema_command = {
    .name = "schema",
    .summary = "print a table's schema",
    .usage = schema_usage,
    .run = schema_run,
};

/* ---- drop --------------------------------------------------------------- */

static const char drop_usage[] =
    "usage: vmdb drop DB TABLE\n"
    "\n"
    "Removes TABLE and every record in it from database DB.\n";

static int drop_run(int argc, char **argv)
{
    char *pos[2];
    size_t npos;
    int status;
    if (!cli_command_args(&cli_drop_command, argc, argv, NULL, 0, pos, 2, 2, &npos, &status))
        return status;
    vmdb_db *db;
    if (cli_open_db(pos[0], 0, &db) != CLI_OK)
        return CLI_ERROR;
    vmdb_table *table;
    status = cli_open_table(db, pos[0], pos[1], &table);
    if (status == CLI_OK && vmdb_table_drop(db, pos[1]) < 0)
        status = cli_library_error();
    return cli_close_db(db, status);
}

const cli_command cli_drop_command = {
    .name = "drop",
    .summary = "remove a table",
    .usage = drop_usage,
    .run = drop_run,
};
