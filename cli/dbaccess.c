/* SPDX-License-Identifier: MIT */
/*
 * cli/dbaccess.c - opening a database and a table for a command, and
 * turning the library's messages into the command's, so every command
 * names a missing database, table or bad key the same way.
 */
#include "cli.h"

unsigned cli_lock_timeout_ms = CLI_DEFAULT_TIMEOUT_MS;

/* A command that seems to hang says why, once a wait has lasted long
 * enough for a person to wonder. */
static void say_waiting(void *ctx, const char *path, long holder_pid)
{
    (void)ctx;
    if (holder_pid)
        cli_say("waiting for pid %ld, which holds the write lock of %s", holder_pid, path);
    else
        cli_say("waiting for another process, which holds the write lock of %s", path);
}

int cli_open_db(const char *path, unsigned flags, vmdb_db **out)
{
    *out = NULL;
    vmdb_db_options opts = VMDB_DB_OPTIONS_INIT;
    opts.flags = flags;
    opts.busy_timeout_ms = cli_lock_timeout_ms;
    opts.busy_notice = say_waiting;
    /* The library's messages already name the path: "PATH: no such
     * database", or the damaged file inside it. */
    int rc = vmdb_open(path, &opts, out);
    if (rc == VMDB_ENEEDRECOVERY) {
        /* A writer died half way through applying a transaction: finish
         * it from the log (an open for writing does), as sqlite3 rolls a
         * hot journal back before it reads, then read. Without write
         * permission, the reader's refusal stands. */
        char message[sizeof vmdb_last_error()->message];
        snprintf(message, sizeof message, "%s", vmdb_last_error()->message);
        opts.flags &= ~(unsigned)VMDB_DB_READONLY;
        rc = vmdb_open(path, &opts, out);
        if (rc < 0)
            return cli_error("%s", message);
        /* Recovered: the handle is the read-only one asked for again, so
         * that the shell's --readonly still refuses every write. */
        if (flags & VMDB_DB_READONLY) {
            opts.flags = flags;
            rc = vmdb_close(*out);
            *out = NULL;
            if (rc == 0)
                rc = vmdb_open(path, &opts, out);
        }
    }
    if (rc < 0)
        return cli_library_error();
    return CLI_OK;
}

int cli_close_db(vmdb_db *db, int status)
{
    if (vmdb_close(db) < 0 && status != CLI_ERROR)
        return cli_library_error();
    return status;
}

bool cli_start_db_command(const cli_command *cmd, int argc, char **argv, size_t npos, char **pos,
                          const char *default_format, unsigned flags, enum cli_format *format,
                          vmdb_db **db, int *status)
{
    const char *format_text = default_format;
    const cli_option options[] = {CLI_FORMAT_OPTION(&format_text)};
    size_t given;
    if (!cli_command_args(cmd, argc, argv, options, 1, pos, npos, npos, &given, status))
        return false;
    *status = CLI_ERROR;
    if (cli_parse_format(format_text, format) != CLI_OK)
        return false;
    return cli_open_db(pos[0], flags, db) == CLI_OK;
}

int cli_end_listing(cli_printer *printer, vmdb_db *db, int status)
{
    uint64_t rows = printer ? cli_printer_rows(printer) : 0;
    if (cli_printer_close(printer) != CLI_OK)
        status = CLI_ERROR;
    status = cli_close_db(db, status);
    if (status != CLI_OK)
        return CLI_ERROR;
    return rows ? CLI_OK : CLI_NOT_FOUND;
}

int cli_open_table(vmdb_db *db, const char *db_path, const char *name, vmdb_table **out)
{
    int rc = vmdb_table_open(db, name, NULL, out);
    char shown[VMDB_PRINTABLE_CAP];
    if (rc == VMDB_ENOTFOUND)
        return cli_error("%s: no table '%s'", db_path, cli_show(shown, name));
    if (rc < 0)
        return cli_library_error();
    return CLI_OK;
}

int cli_table_error(const char *table)
{
    return cli_error("%s.%s", table, vmdb_last_error()->message);
}

int cli_key_from_text(vmdb_table *table, const char *text, void *record, const void **key,
                      size_t *key_len)
{
    const vmdb_schema *schema = vmdb_table_schema(table);
    if (vmdb_record_set_text(schema, record, vmdb_schema_key(schema), text) < 0)
        return cli_table_error(vmdb_table_name(table));
    vmdb_record_key(schema, record, key, key_len);
    return CLI_OK;
}
