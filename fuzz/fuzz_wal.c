/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_wal.c - log replay from bytes: the input is wal.ring of a
 * small database (fuzz_template.h) whose tables are as that database left
 * them. The fuzz build lets the log's checksums pass (engine/base/checksum.h),
 * so the record validation and replay behind them are what gets tried.
 *
 * The log is listed by a read-only open (vmdb_wal_foreach, what `vmdb
 * wal` shows), then a writer's open replays it, and everything is read
 * (fuzz_walk.h). Checked besides memory safety: when a writer's open
 * accepts the log, the database it leaves passes vmdb_check, and a
 * transaction and a checkpoint then work: replay must refuse what it
 * cannot apply whole, never leave tables and indexes that disagree.
 */
#include <stdint.h>

#include "fuzz_scratch.h"
#include "fuzz_template.h"
#include "fuzz_walk.h"

static fuzz_db_files files;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_template_create(fuzz_path("template"));
    fuzz_db_files_load(fuzz_path("template"), &files);
    return 0;
}

/* A put into t after replay, which must commit and stay checkable. */
static void write_after(vmdb_db *db)
{
    vmdb_table *t;
    FUZZ_MUST(vmdb_table_open(db, "t", NULL, &t) == 0);
    vmdb_txn *txn;
    FUZZ_MUST(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) == 0);
    fuzz_template_put(txn, t, (const char *[]){"77", "after", "7", "7"});
    FUZZ_MUST(vmdb_txn_commit(txn) == 0);
    FUZZ_MUST(vmdb_checkpoint(db) == 0);
    FUZZ_MUST(vmdb_check(db) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_path("db");
    fuzz_empty_dir(dir);
    fuzz_db_files_store(dir, &files, "wal.ring", data, size);

    vmdb_db *db;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY | VMDB_DB_AS_IS};
    if (vmdb_open(dir, &ro, &db) == 0) {
        fuzz_walk(db);
        (void)vmdb_close(db);
    }
    vmdb_db_options rw = {.durability = VMDB_DURABILITY_SYNC};
    if (vmdb_open(dir, &rw, &db) == 0) {
        int rc = vmdb_check(db);
        if (rc != 0)
            fprintf(stderr, "check after replay: %s\n", vmdb_last_error()->message);
        FUZZ_MUST(rc == 0);
        fuzz_walk(db);
        write_after(db);
        FUZZ_MUST(vmdb_close(db) == 0);
    }
    return 0;
}
