/* SPDX-License-Identifier: MIT */
/*
 * cli/cmd_record.c - the commands about one record, found by its key:
 * `put`, `get` and `del`.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The field names of a schema, in order, for a printer's header; a
 * malloc'ed array of pointers into the schema. */
static const char **field_names(const vmdb_schema *schema)
{
    size_t count = vmdb_schema_field_count(schema);
    const char **names = malloc(count * sizeof *names);
    if (!names) {
        cli_error("out of memory");
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        names[i] = vmdb_schema_field(schema, i)->name;
    return names;
}

/* "id, name, age": what a user who misspelt a field needs to see. */
static void list_fields(const vmdb_schema *schema, char *dst, size_t cap)
{
    size_t used = 0;
    dst[0] = '\0';
    for (size_t i = 0; i < vmdb_schema_field_count(schema) && used < cap; i++) {
        int n = snprintf(dst + used, cap - used, "%s%s", i ? ", " : "",
                         vmdb_schema_field(schema, i)->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* ---- put ---------------------------------------------------------------- */

static const char put_usage[] =
    "usage: vmdb put DB TABLE FIELD=VALUE...\n"
    "\n"
    "Inserts a record into TABLE, or replaces the one with the same key.\n"
    "The key field must be given; every field not given is zero (an empty\n"
    "string, false, 0). Values are written as the schema's types read them:\n"
    "integers in decimal or 0x hex, floats as 1.5, 1e-3, inf or nan, bools\n"
    "as true/false/yes/no/1/0, strings as they are, bytes as 0x and hex.\n"
    "\n"
    "    vmdb put people.db people id=1 name=Alice age=30\n";

/* Fills `record` from the FIELD=VALUE arguments; messages name the
 * table and field at fault. */
static int fill_record(vmdb_table *table, char **assignments, size_t count, void *record)
{
    const vmdb_schema *schema = vmdb_table_schema(table);
    const char *table_name = vmdb_table_name(table);
    size_t fields = vmdb_schema_field_count(schema);
    bool *given = calloc(fields, sizeof *given);
    if (!given)
        return cli_error("out of memory");
    int status = CLI_OK;
    for (size_t i = 0; i < count && status == CLI_OK; i++) {
        char *arg = assignments[i];
        char *eq = strchr(arg, '=');
        char shown[VMDB_PRINTABLE_CAP];
        if (!eq || eq == arg) {
            status = cli_error("put: '%s' is not FIELD=VALUE", cli_show(shown, arg));
            break;
        }
        *eq = '\0';
        size_t field;
        if (vmdb_schema_find(schema, arg, &field) < 0) {
            char known[512];
            list_fields(schema, known, sizeof known);
            status = cli_error("%s.%s: no such field (the fields are %s)", table_name,
                               cli_show(shown, arg), known);
        } else if (given[field]) {
            status = cli_error("%s.%s: given twice", table_name, arg);
        } else if (vmdb_record_set_text(schema, record, field, eq + 1) < 0) {
            status = cli_table_error(table_name);
        } else {
            given[field] = true;
        }
        *eq = '=';
    }
    size_t key = vmdb_schema_key(schema);
    if (status == CLI_OK && !given[key])
        status = cli_error("%s.%s: the key field is missing", table_name,
                           vmdb_schema_field(schema, key)->name);
    free(given);
    return status;
}

static int put_run(int argc, char **argv)
{
    char *pos[2 + VMDB_SCHEMA_MAX_FIELDS];
    size_t npos;
    int status;
    if (!cli_command_args(&cli_put_command, argc, argv, NULL, 0, pos, 3,
                          sizeof pos / sizeof pos[0], &npos, &status))
        return status;
    vmdb_db *db;
    if (cli_open_db(pos[0], 0, &db) != CLI_OK)
        return CLI_ERROR;
    vmdb_table *table;
    void *record = NULL;
    status = cli_open_table(db, pos[0], pos[1], &table);
    if (status == CLI_OK) {
        record = calloc(1, vmdb_schema_record_size(vmdb_table_schema(table)));
        status = record ? fill_record(table, pos + 2, npos - 2, record)
                        : cli_error("out of memory");
    }
    if (status == CLI_OK) {
        vmdb_txn *txn;
        if (vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) < 0)
            status = cli_library_error();
        else if (vmdb_txn_put(txn, table, record, NULL) < 0) {
            status = cli_library_error();
            vmdb_txn_abort(txn);
        } else if (vmdb_txn_commit(txn) < 0) {
            status = cli_library_error();
        }
    }
    free(record);
    return cli_close_db(db, status);
}

const cli_command cli_put_command = {
    .name = "put",
    .summary = "insert or replace a record by key",
    .usage = put_usage,
    .run = put_run,
};

/* ---- get ---------------------------------------------------------------- */

static const char get_usage[] =
    "usage: vmdb get DB TABLE KEY [--format table|csv|json]\n"
    "\n"
    "Prints the record of TABLE whose key is KEY. Exit status 1 if there is\n"
    "none. A negative KEY may be written as is: vmdb get DB t -5.\n";

static void say_not_found(const char *table, const char *key)
{
    char shown[VMDB_PRINTABLE_CAP];
    cli_say("%s: no record with key '%s'", table, cli_show(shown, key));
}

static int get_run(int argc, char **argv)
{
    char *pos[3];
    int status;
    enum cli_format format;
    vmdb_db *db;
    /* Verifying one record's checksum costs nothing next to starting the
     * process, and a damaged record is then an error, not a wrong answer. */
    if (!cli_start_db_command(&cli_get_command, argc, argv, 3, pos, NULL,
                              VMDB_DB_READONLY | VMDB_DB_VERIFY, &format, &db, &status))
        return status;
    vmdb_table *table;
    status = cli_open_table(db, pos[0], pos[1], &table);
    if (status != CLI_OK) {
        vmdb_close(db);
        return status;
    }
    const vmdb_schema *schema = vmdb_table_schema(table);
    size_t size = vmdb_schema_record_size(schema);
    unsigned char *key_record = calloc(2, size);
    const char **names = field_names(schema);
    const void *key;
    size_t key_len;
    if (!key_record || !names)
        status = key_record ? CLI_ERROR : cli_error("out of memory");
    else
        status = cli_key_from_text(table, pos[2], key_record, &key, &key_len);
    if (status == CLI_OK) {
        unsigned char *record = key_record + size;
        int rc = vmdb_table_get(table, key, key_len, record, NULL);
        if (rc == VMDB_ENOTFOUND) {
            say_not_found(pos[1], pos[2]);
            status = CLI_NOT_FOUND;
        } else if (rc < 0) {
            status = cli_library_error();
        } else {
            cli_printer *printer =
                cli_printer_open(format, stdout, vmdb_schema_field_count(schema), names);
            status = printer ? cli_print_record(printer, schema, record) : CLI_ERROR;
            if (cli_printer_close(printer) != CLI_OK)
                status = CLI_ERROR;
        }
    }
    free(names);
    free(key_record);
    vmdb_close(db);
    return status;
}

const cli_command cli_get_command = {
    .name = "get",
    .summary = "print the record with a key",
    .usage = get_usage,
    .run = get_run,
};

/* ---- del ---------------------------------------------------------------- */

static const char del_usage[] =
    "usage: vmdb del DB TABLE KEY\n"
    "\n"
    "Deletes the record of TABLE whose key is KEY. Exit status 1 if there\n"
    "is none.\n";

static int del_run(int argc, char **argv)
{
    char *pos[3];
    size_t npos;
    int status;
    if (!cli_command_args(&cli_del_command, argc, argv, NULL, 0, pos, 3, 3, &npos, &status))
        return status;
    vmdb_db *db;
    if (cli_open_db(pos[0], 0, &db) != CLI_OK)
        return CLI_ERROR;
    vmdb_table *table;
    void *key_record = NULL;
    const void *key;
    size_t key_len;
    status = cli_open_table(db, pos[0], pos[1], &table);
    if (status == CLI_OK) {
        key_record = calloc(1, vmdb_schema_record_size(vmdb_table_schema(table)));
        status = key_record ? cli_key_from_text(table, pos[2], key_record, &key, &key_len)
                            : cli_error("out of memory");
    }
    if (status == CLI_OK) {
        vmdb_txn *txn;
        int rc = vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn);
        if (rc < 0) {
            status = cli_library_error();
        } else if ((rc = vmdb_txn_delete(txn, table, key, key_len)) < 0) {
            vmdb_txn_abort(txn);
            if (rc == VMDB_ENOTFOUND) {
                say_not_found(pos[1], pos[2]);
                status = CLI_NOT_FOUND;
            } else {
                status = cli_library_error();
            }
        } else if (vmdb_txn_commit(txn) < 0) {
            status = cli_library_error();
        }
    }
    free(key_record);
    return cli_close_db(db, status);
}

const cli_command cli_del_command = {
    .name = "del",
    .summary = "delete the record with a key",
    .usage = del_usage,
    .run = del_run,
};
