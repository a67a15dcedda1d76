/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_table.c - a table file from bytes: the input is t.vmt of a
 * small database (fuzz_template.h), the other files being as that
 * database left them.
 *
 * It is opened three ways: on its own, as `vmdb dump` does
 * (vmdb_table_file_open: headers, every slot and its record as text); in
 * the database read-only with checksum verification, reading everything
 * (fuzz_walk.h); and in the database for writing, which recovers,
 * rebuilds what it must and checks, then a put and a delete go through a
 * transaction. The fuzz build lets checksums pass (engine/base/checksum.h), so
 * the header, schema and slot parsing behind them is what gets tried.
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

static void open_alone(const char *path)
{
    vmdb_table_file *tf;
    if (vmdb_table_file_open(path, &tf) != 0)
        return;
    vmdb_table_file_info info;
    vmdb_table_file_stat(tf, &info);
    FUZZ_MUST(info.name != NULL && info.schema != NULL);
    FUZZ_MUST(vmdb_schema_record_size(info.schema) == info.record_size);
    for (uint64_t rid = 0; rid < info.capacity && rid < FUZZ_WALK_MAX_RECORDS; rid++) {
        vmdb_slot_info slot;
        FUZZ_MUST(vmdb_table_file_slot(tf, rid, &slot) == 0);
        fuzz_walk_fields(info.schema, slot.record);
    }
    vmdb_slot_info slot;
    FUZZ_MUST(vmdb_table_file_slot(tf, info.capacity, &slot) == VMDB_ERANGE);
    vmdb_table_file_close(tf);
}

static void change(vmdb_db *db)
{
    vmdb_table *t;
    if (vmdb_table_open(db, "t", NULL, &t) != 0)
        return;
    vmdb_txn *txn;
    if (vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) != 0)
        return;
    const vmdb_schema *s = vmdb_table_schema(t);
    unsigned char *record = calloc(1, vmdb_schema_record_size(s));
    FUZZ_MUST(record != NULL);
    (void)vmdb_txn_put(txn, t, record, NULL);
    const void *key;
    size_t key_len;
    FUZZ_MUST(vmdb_record_key(s, record, &key, &key_len) == 0);
    uint64_t one = 1;
    (void)vmdb_txn_delete(txn, t, key_len == sizeof one ? (const void *)&one : key, key_len);
    (void)vmdb_txn_commit(txn);
    free(record);
    (void)vmdb_checkpoint(db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_path("db");
    fuzz_empty_dir(dir);
    fuzz_db_files_store(dir, &files, "t.vmt", data, size);
    open_alone(fuzz_path("db/t.vmt"));

    vmdb_db *db;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY | VMDB_DB_VERIFY};
    if (vmdb_open(dir, &ro, &db) == 0) {
        fuzz_walk(db);
        (void)vmdb_close(db);
    }
    vmdb_db_options rw = {.flags = VMDB_DB_VERIFY, .durability = VMDB_DURABILITY_SYNC};
    if (vmdb_open(dir, &rw, &db) == 0) {
        fuzz_walk(db);
        change(db);
        fuzz_walk(db);
        (void)vmdb_close(db);
    }
    return 0;
}
