/* SPDX-License-Identifier: MIT */
/*
 * cli/cmd_wal.c
engine/base/checksum.h - the commands about the write-ahead log: `wal` lists
 * what recovery would replay, `recover` replays it and says what it did.
 */
#include "cli.h"

/* ---- wal ---------------------------------------------------------------- */

static const char wal_usage[] =
    "usage: vmdb wal DB [--format table|csv|json]\n"
    "\n"
    "Lists the records of DB's write-ahead log since the last checkpoint,\n"
    "without changing anything: what `vmdb recover` would replay. Columns:\n"
    "lsn (the record's log position), txn (its transaction: the lsn of the\n"
    "transaction's first record), kind (put, delete, commit), table, rid\n"
    "(the record id it changes), bytes (in the log, header included),\n"
    "payload (bytes of record image or key), checksum (ok, or bad for the\n"
    "damaged record where the log ends) and committed (whether its\n"
    "transaction's commit record is in the log; uncommitted ones are not\n"
    "replayed). Exit status 1 when the log is empty: a database closed\n"
    "cleanly has nothing to replay.\n";

static int list_entry(void *ctx, const vmdb_wal_entry *e)
{
    char text[5][CLI_U64_TEXT];
    cli_cell cells[] = {
        cli_u64_cell(text[0], e->lsn),
        cli_u64_cell(text[1], e->txn),
        cli_text_cell(e->kind),
        cli_text_cell(e->table),
        cli_u64_cell(text[2], e->rid),
        cli_u64_cell(text[3], e->len),
        cli_u64_cell(text[4], e->payload_len),
        cli_text_cell(e->valid ? "ok" : "bad"),
        {e->committed ? "true" : "false", e->committed ? 4 : 5, CLI_CELL_BOOL},
    };
    return cli_printer_row(ctx, cells);
}

static int wal_run(int argc, char **argv)
{
    char *pos[1];
    int status;
    enum cli_format format;
    vmdb_db *db;
    /* As is: the log of a writer that died is what this command is for. */
    if (!cli_start_db_command(&cli_wal_command, argc, argv, 1, pos, NULL,
                              VMDB_DB_READONLY | VMDB_DB_AS_IS, &format, &db, &status))
        return status;
    static const char *const columns[] = {"lsn",   "txn",     "kind",     "table",    "rid",
                                          "bytes", "payload", "checksum", "committed"};
    cli_printer *printer = cli_printer_open(format, stdout, 9, columns);
    status = printer ? vmdb_wal_foreach(db, list_entry, printer) : CLI_ERROR;
    /* The callback returns CLI_ERROR after its own message; anything
     * negative is the library's failure. */
    if (status < 0)
        status = cli_library_error();
    return cli_end_listing(printer, db, status);
}

const cli_command cli_wal_command = {
    .name = "wal",
    .summary = "list the log records since the checkpoint",
    .usage = wal_usage,
    .run = wal_run,
};

/* ---- recover ------------------------------------------------------------ */

static const char recover_usage[] =
    "usage: vmdb recover DB [--dry-run | --point-in-time]\n"
    "\n"
    "Opens DB for writing, which replays the committed transactions of its\n"
    "write-ahead log into the tables (any open does), reports what was\n"
    "replayed, and closes it with a checkpoint, leaving nothing to replay.\n"
    "\n"
    "A log damaged in the middle (the tables hold transactions from past its\n"
    "valid end) is refused, by this and by every open for writing.\n"
    "  --dry-run        say what a recovery would replay, discard and keep,\n"
    "                   and whether it would refuse; change nothing\n"
    "  --point-in-time  recover such a log anyway: replay its valid part,\n"
    "                   never over newer data, and keep what the tables hold\n"
    "                   of the later transactions (the log cannot undo it)\n";

static void print_recovery(const char *name, const vmdb_recovery *r, bool planned)
{
    printf("%s: %s %llu transaction%s (%llu record%s, %llu bytes)\n", name,
           planned ? "would replay" : "replayed", (unsigned long long)r->transactions,
           cli_plural(r->transactions), (unsigned long long)r->records, cli_plural(r->records),
           (unsigned long long)r->bytes);
    printf("log:         LSN %llu to %llu\n", (unsigned long long)r->first_lsn,
           (unsigned long long)r->end_lsn);
    printf("discarded:   %llu record%s of transactions that never committed\n",
           (unsigned long long)r->discarded, cli_plural(r->discarded));
    printf("torn tail:   %s\n", r->torn_tail ? "yes: replay stops at a damaged record" : "no");
    if (r->slots_beyond_log)
        printf("beyond log:  %llu slot%s hold%s transactions the log lost (the first at LSN "
               "%llu): %s\n",
               (unsigned long long)r->slots_beyond_log, cli_plural(r->slots_beyond_log),
               r->slots_beyond_log == 1 ? "s" : "", (unsigned long long)r->first_lost_lsn,
               planned ? "a recovery refuses; --point-in-time keeps them as they are"
                       : "kept as they are");
    if (!planned)
        printf("index:       %s\n", r->index_rebuilt ? "rebuilt" : "as it was");
}

static int recover_run(int argc, char **argv)
{
    bool dry_run = false, point_in_time = false;
    const cli_option options[] = {{"dry-run", 0, NULL, &dry_run},
                                  {"point-in-time", 0, NULL, &point_in_time}};
    char *pos[1];
    size_t npos;
    int status;
    if (!cli_command_args(&cli_recover_command, argc, argv, options, 2, pos, 1, 1, &npos,
                          &status))
        return status;
    if (dry_run && point_in_time)
        return cli_error("recover: --dry-run changes nothing; give it alone");
    vmdb_db *db;
    vmdb_recovery r;
    if (dry_run) {
        if (cli_open_db(pos[0], VMDB_DB_READONLY | VMDB_DB_AS_IS, &db) != CLI_OK)
            return CLI_ERROR;
        status = vmdb_recovery_plan(db, &r) < 0 ? cli_library_error() : CLI_OK;
        if (status == CLI_OK)
            print_recovery(pos[0], &r, true);
        return cli_close_db(db, status);
    }
    if (cli_open_db(pos[0], point_in_time ? VMDB_DB_POINT_IN_TIME : 0, &db) != CLI_OK)
        return CLI_ERROR;
    if (vmdb_recovery_report(db, &r) < 0)
        status = cli_library_error();
    else
        print_recovery(pos[0], &r, false);
    return cli_close_db(db, status);
}

const cli_command cli_recover_command = {
    .name = "recover",
    .summary = "replay the log and report what was replayed",
    .usage = recover_usage,
    .run = recover_run,
};
