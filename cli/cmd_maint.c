/* SPDX-License-Identifier: MIT */
/*
 * cli/cmd_maint.c - the commands that look after a database as a whole:
 * `stats`, `check`, `checkpoint`, `compact` and `backup`.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- stats -------------------------------------------------------------- */

static const char stats_usage[] =
    "usage: vmdb stats DB [--format table|csv|json]\n"
    "\n"
    "Prints two tables. One row per table of DB: live records, capacity and\n"
    "high water (in slots), record size, table and index file sizes (bytes),\n"
    "index capacity (entries) and load factor. Then the write-ahead log:\n"
    "its size, the bytes in use since the last checkpoint, the checkpoint's\n"
    "log position (LSN) and the end of the log. With --format csv the two\n"
    "are separated by an empty line; with json each row is one object.\n";

static int stats_tables(void *ctx, vmdb_table *table)
{
    cli_printer *printer = ctx;
    vmdb_table_info in;
    if (vmdb_table_stat(table, &in) < 0)
        return cli_library_error();
    char text[8][CLI_U64_TEXT], load[32];
    int n = snprintf(load, sizeof load, "%.3f", in.index_load);
    cli_cell cells[] = {
        cli_text_cell(vmdb_table_name(table)),
        cli_u64_cell(text[0], in.records),
        cli_u64_cell(text[1], in.capacity),
        cli_u64_cell(text[2], in.high_water),
        cli_u64_cell(text[3], in.record_size),
        cli_u64_cell(text[4], in.file_bytes),
        cli_u64_cell(text[5], in.index_bytes),
        cli_u64_cell(text[6], in.index_capacity),
        {load, (size_t)n, CLI_CELL_NUMBER},
    };
    return cli_printer_row(printer, cells);
}

static int stats_run(int argc, char **argv)
{
    char *pos[1];
    int status;
    enum cli_format format;
    vmdb_db *db;
    if (!cli_start_db_command(&cli_stats_command, argc, argv, 1, pos, NULL, VMDB_DB_READONLY,
                              &format, &db, &status))
        return status;
    static const char *const table_columns[] = {
        "table",       "records",     "capacity",       "high_water", "record_bytes",
        "table_bytes", "index_bytes", "index_capacity", "index_load",
    };
    cli_printer *printer = cli_printer_open(format, stdout, 9, table_columns);
    status = printer ? vmdb_table_foreach(db, stats_tables, printer) : CLI_ERROR;
    if (cli_printer_close(printer) != CLI_OK)
        status = CLI_ERROR;
    vmdb_db_info info;
    if (status == CLI_OK && vmdb_db_stat(db, &info) < 0)
        status = cli_library_error();
    if (status == CLI_OK) {
        if (format != CLI_FORMAT_JSON)
            putchar('\n');
        static const char *const wal_columns[] = {"wal_bytes", "used_bytes", "checkpoint_lsn",
                                                  "last_lsn"};
        char text[4][CLI_U64_TEXT];
        cli_cell cells[] = {
            cli_u64_cell(text[0], info.wal_size),
            cli_u64_cell(text[1], info.wal_used),
            cli_u64_cell(text[2], info.checkpoint_lsn),
            cli_u64_cell(text[3], info.last_lsn),
        };
        printer = cli_printer_open(format, stdout, 4, wal_columns);
        status = printer ? cli_printer_row(printer, cells) : CLI_ERROR;
        if (cli_printer_close(printer) != CLI_OK)
            status = CLI_ERROR;
    }
    vmdb_close(db);
    return status;
}

const cli_command cli_stats_command = {
    .name = "stats",
    .summary = "tables, file sizes, index load and the log's positions",
    .usage = stats_usage,
    .run = stats_run,
};

/* ---- check -------------------------------------------------------------- */

static const char check_usage[] =
    "usage: vmdb check DB\n"
    "\n"
    "Verifies database DB without changing it: every file's header, every\n"
    "live record's checksum, that each index and its table agree both ways,\n"
    "and the write-ahead log. Exit status 0 when all of it holds; otherwise\n"
    "2, with the first problem found, naming the file.\n";

static int count_records(void *ctx, vmdb_table *table)
{
    vmdb_table_info in;
    if (vmdb_table_stat(table, &in) < 0)
        return cli_library_error();
    *(uint64_t *)ctx += in.records;
    return 0;
}

static int check_run(int argc, char **argv)
{
    char *pos[1];
    size_t npos;
    int status;
    if (!cli_command_args(&cli_check_command, argc, argv, NULL, 0, pos, 1, 1, &npos, &status))
        return status;
    vmdb_db *db;
    if (cli_open_db(pos[0], VMDB_DB_READONLY, &db) != CLI_OK)
        return CLI_ERROR;
    uint64_t records = 0;
    vmdb_db_info info;
    if (vmdb_check(db) < 0 || vmdb_db_stat(db, &info) < 0)
        status = cli_library_error();
    else
        status = vmdb_table_foreach(db, count_records, &records);
    if (status == CLI_OK)
        printf("%s: ok: %zu table%s, %llu record%s, log from LSN %llu to %llu\n", pos[0],
               info.tables, cli_plural(info.tables), (unsigned long long)records,
               cli_plural(records), (unsigned long long)info.checkpoint_lsn,
               (unsigned long long)info.last_lsn);
    vmdb_close(db);
    return status;
}

const cli_command cli_check_command = {
    .name = "check",
    .summary = "verify headers, checksums, indexes and the log",
    .usage = check_usage,
    .run = check_run,
};

/* ---- checkpoint --------------------------------------------------------- */

static const char checkpoint_usage[] =
    "usage: vmdb checkpoint DB\n"
    "\n"
    "Flushes every table and index of DB to disk and frees the log up to\n"
    "its end, so that nothing is left to replay.\n";

static int checkpoint_run(int argc, char **argv)
{
    char *pos[1];
    size_t npos;
    int status;
    if (!cli_command_args(&cli_checkpoint_command, argc, argv, NULL, 0, pos, 1, 1, &npos,
                          &status))
        return status;
    vmdb_db *db;
    if (cli_open_db(pos[0], 0, &db) != CLI_OK)
        return CLI_ERROR;
    vmdb_db_info before, after;
    if (vmdb_db_stat(db, &before) < 0 || vmdb_checkpoint(db) < 0 || vmdb_db_stat(db, &after) < 0)
        status = cli_library_error();
    else
        printf("%s: checkpoint at LSN %llu; log in use %llu -> %llu bytes\n", pos[0],
               (unsigned long long)after.checkpoint_lsn, (unsigned long long)before.wal_used,
               (unsigned long long)after.wal_used);
    return cli_close_db(db, status);
}

const cli_command cli_checkpoint_command = {
    .name = "checkpoint",
    .summary = "flush the tables and free the log",
    .usage = checkpoint_usage,
    .run = checkpoint_run,
};

/* ---- compact ------------------------------------------------------------ */

static const char compact_usage[] =
    "usage: vmdb compact DB [TABLE]\n"
    "\n"
    "Moves the live records of TABLE (of every table when none is named)\n"
    "into the lowest slots and shrinks the files to fit them. Record ids\n"
    "change; keys do not. Other processes may have DB open meanwhile:\n"
    "compaction holds the write lock throughout, so their writers wait for\n"
    "it; their readers go on, and every handle maps the new files before\n"
    "its next read or write. A scan running meanwhile may miss or repeat a\n"
    "record that moves; a lookup by key finds it. A crash at any point\n"
    "leaves the records whole.\n";

/* The tables to compact and their sizes before, to report the change. */
struct compact_sizes {
    vmdb_table **tables;
    vmdb_table_info *before;
    size_t count;
    size_t cap;
};

static int remember_size(void *ctx, vmdb_table *table)
{
    struct compact_sizes *s = ctx;
    if (s->count == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        vmdb_table **tables = realloc(s->tables, cap * sizeof *tables);
        if (tables)
            s->tables = tables;
        vmdb_table_info *before = realloc(s->before, cap * sizeof *before);
        if (before)
            s->before = before;
        if (!tables || !before)
            return cli_error("out of memory");
        s->cap = cap;
    }
    if (vmdb_table_stat(table, &s->before[s->count]) < 0)
        return cli_library_error();
    s->tables[s->count++] = table;
    return 0;
}

static int compact_run(int argc, char **argv)
{
    char *pos[2];
    size_t npos;
    int status;
    if (!cli_command_args(&cli_compact_command, argc, argv, NULL, 0, pos, 1, 2, &npos, &status))
        return status;
    const char *only = npos == 2 ? pos[1] : NULL;
    vmdb_db *db;
    if (cli_open_db(pos[0], 0, &db) != CLI_OK)
        return CLI_ERROR;
    struct compact_sizes sizes = {0};
    vmdb_table *table;
    if (only) {
        status = cli_open_table(db, pos[0], only, &table);
        if (status == CLI_OK)
            status = remember_size(&sizes, table);
    } else {
        status = vmdb_table_foreach(db, remember_size, &sizes);
    }
    if (status == CLI_OK && vmdb_compact(db, only) < 0)
        status = cli_library_error();
    for (size_t i = 0; status == CLI_OK && i < sizes.count; i++) {
        vmdb_table_info after;
        const vmdb_table_info *before = &sizes.before[i];
        if (vmdb_table_stat(sizes.tables[i], &after) < 0) {
            status = cli_library_error();
            break;
        }
        printf("%s: %llu record%s; %llu -> %llu slots, table file %llu -> %llu bytes, "
               "index file %llu -> %llu bytes\n",
               vmdb_table_name(sizes.tables[i]), (unsigned long long)after.records,
               cli_plural(after.records),
               (unsigned long long)before->capacity, (unsigned long long)after.capacity,
               (unsigned long long)before->file_bytes, (unsigned long long)after.file_bytes,
               (unsigned long long)before->index_bytes, (unsigned long long)after.index_bytes);
    }
    free(sizes.tables);
    free(sizes.before);
    return cli_close_db(db, status);
}

const cli_command cli_compact_command = {
    .name = "compact",
    .summary = "move records together and shrink the files",
    .usage = compact_usage,
    .run = compact_run,
};

/* ---- backup ------------------------------------------------------------- */

static const char backup_usage[] =
    "usage: vmdb backup DB DEST\n"
    "\n"
    "Writes a consistent copy of database DB into the new directory DEST\n"
    "(which must not exist, or be empty): the state after the last commit\n"
    "before the copy ended. Readers and writers, in this process and\n"
    "others, go on while the files are copied; writers wait only for two\n"
    "short holds of the write lock (noting where the log ends, then copying\n"
    "what was logged meanwhile), and automatic checkpoints wait until the\n"
    "log is nine tenths full. The copy opens with nothing to replay; a crash\n"
    "part way leaves DEST.tmp-PID behind, never a DEST that is wrong.\n";

static int backup_run(int argc, char **argv)
{
    char *pos[2];
    size_t npos;
    int status;
    if (!cli_command_args(&cli_backup_command, argc, argv, NULL, 0, pos, 2, 2, &npos, &status))
        return status;
    vmdb_db *db;
    if (cli_open_db(pos[0], 0, &db) != CLI_OK)
        return CLI_ERROR;
    vmdb_db_info info;
    if (vmdb_backup(db, pos[1]) < 0 || vmdb_db_stat(db, &info) < 0)
        status = cli_library_error();
    else
        printf("%s: backed up to %s (%zu table%s)\n", pos[0], pos[1], info.tables,
               cli_plural(info.tables));
    return cli_close_db(db, status);
}

const cli_command cli_backup_command = {
    .name = "backup",
    .summary = "copy the database into a new directory",
    .usage = backup_usage,
    .run = backup_run,
};
