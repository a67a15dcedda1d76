/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_dir.c - a whole database directory from bytes: every file of
 * a small database (its two tables and indexes, the log, the lock file)
 * comes from the input (fuzz_db_files_store_packed), so damage can meet
 * damage across files, as it cannot in the one-file harnesses.
 *
 * The directory is looked at read-only as it is (what recovery would do,
 * every record walked, check), then opened for writing, which recovers
 * or refuses, and a writer that got in walks, changes, checkpoints and
 * checks. Whatever the bytes, nothing may crash, hang or leak, and a
 * database a writer accepted must pass its own check after a commit.
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

static void put_one(vmdb_db *db)
{
    vmdb_table *t;
    vmdb_txn *txn;
    if (vmdb_table_open(db, "t", NULL, &t) != 0 ||
        vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) != 0)
        return;
    const vmdb_schema *s = vmdb_table_schema(t);
    unsigned char *record = calloc(1, vmdb_schema_record_size(s));
    FUZZ_MUST(record != NULL);
    (void)vmdb_txn_put(txn, t, record, NULL);
    (void)vmdb_txn_commit(txn);
    free(record);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_path("db");
    fuzz_empty_dir(dir);
    fuzz_db_files_store_packed(dir, &files, data, size);

    vmdb_db *db;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY | VMDB_DB_AS_IS};
    if (vmdb_open(dir, &ro, &db) == 0) {
        vmdb_recovery plan;
        (void)vmdb_recovery_plan(db, &plan);
        fuzz_walk(db);
        (void)vmdb_check(db);
        (void)vmdb_close(db);
    }
    vmdb_db_options rw = {.durability = VMDB_DURABILITY_SYNC};
    if (vmdb_open(dir, &rw, &db) == 0) {
        fuzz_walk(db);
        put_one(db);
        (void)vmdb_checkpoint(db);
        fuzz_walk(db);
        (void)vmdb_close(db);
    }
    return 0;
}
