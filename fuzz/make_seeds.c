/* SPDX-License-Identifier: MIT */
/*
 * fuzz/make_seeds.c - writes the binary seeds of the file harnesses into
 * fuzz/corpus/{table,wal,ring,slotring}/ (make fuzz-seeds): real files as
 * the library writes them, which the fuzzer then mutates. A seed is the
 * whole file the harness writes its input to.
 *
 * The log seeds come from the harnesses' own template database
 * (fuzz_template.h) changed further and copied while still open, so that
 * replay has committed, uncommitted and aborted transactions to work on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_scratch.h"
#include "fuzz_template.h"

static const char *out_dir;

static void seed(const char *harness, const char *name, const char *from)
{
    size_t len;
    unsigned char *data = fuzz_read_file(from, &len);
    char path[600];
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, harness, name);
    fuzz_write_file(path, data, len);
    free(data);
    printf("%s: %zu bytes\n", path, len);
}

static vmdb_db *open_copy(const char *name)
{
    const char *dir = fuzz_path(name);
    fuzz_template_create(dir);
    vmdb_db_options o = {.durability = VMDB_DURABILITY_SYNC};
    vmdb_db *db;
    FUZZ_MUST(vmdb_open(dir, &o, &db) == 0);
    return db;
}

static vmdb_table *table(vmdb_db *db, const char *name)
{
    vmdb_table *t;
    FUZZ_MUST(vmdb_table_open(db, name, NULL, &t) == 0);
    return t;
}

static void table_seeds(void)
{
    fuzz_template_create(fuzz_path("tables"));
    seed("table", "template-t.vmt", fuzz_path("tables/t.vmt"));
    seed("table", "other-name-u.vmt", fuzz_path("tables/u.vmt"));

    vmdb_db *db = open_copy("grown");
    vmdb_table *t = table(db, "t");
    for (int k = 10; k < 60; k++) {
        /* A transaction each: the template's log holds only a few puts. */
        vmdb_txn *txn;
        FUZZ_MUST(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) == 0);
        char key[16];
        snprintf(key, sizeof key, "%d", k);
        fuzz_template_put(txn, t, (const char *[]){key, "grown", key, "-0"});
        FUZZ_MUST(vmdb_txn_commit(txn) == 0);
    }
    FUZZ_MUST(vmdb_close(db) == 0);
    seed("table", "grown-t.vmt", fuzz_path("grown/t.vmt"));
}

/* Log seeds: the log of the template database after more transactions,
 * copied while the database is open (a close would checkpoint it away). */
static void wal_seeds(void)
{
    vmdb_db *db = open_copy("wal");
    vmdb_table *t = table(db, "t"), *u = table(db, "u");
    vmdb_txn *txn;
    FUZZ_MUST(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) == 0);
    fuzz_template_put(txn, t, (const char *[]){"10", "ten", "10", "10"});
    fuzz_template_put(txn, t, (const char *[]){"1", "one again", "-1", "inf"});
    FUZZ_MUST(vmdb_txn_commit(txn) == 0);
    FUZZ_MUST(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) == 0);
    FUZZ_MUST(vmdb_txn_delete(txn, u, "x", 1) == 0);
    fuzz_template_put(txn, u, (const char *[]){"zzz", "1", "true"});
    FUZZ_MUST(vmdb_txn_commit(txn) == 0);
    seed("wal", "committed.ring", fuzz_path("wal/wal.ring"));

    FUZZ_MUST(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) == 0);
    fuzz_template_put(txn, t, (const char *[]){"11", "aborted", "0", "0"});
    vmdb_txn_abort(txn);
    FUZZ_MUST(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) == 0);
    uint64_t k = 3;
    FUZZ_MUST(vmdb_txn_delete(txn, t, &k, sizeof k) == 0);
    fuzz_template_put(txn, t, (const char *[]){"12", "open", "12", "12"});
    seed("wal", "uncommitted-tail.ring", fuzz_path("wal/wal.ring"));
    vmdb_txn_abort(txn);
    FUZZ_MUST(vmdb_close(db) == 0);
    seed("wal", "checkpointed.ring", fuzz_path("wal/wal.ring"));
}

static void ring_seeds(void)
{
    vmdb_ring_options o = {.cap = 4096, .flags = VMDB_RING_CREATE};
    vmdb_ring *r;
    FUZZ_MUST(vmdb_ring_open(fuzz_path("lines.ring"), &o, &r) == 0);
    FUZZ_MUST(vmdb_ring_printf(r, "first line\nsecond line\nno end") == 0);
    char line[64];
    size_t len;
    FUZZ_MUST(vmdb_ring_read_line(r, line, sizeof line, &len) == 0);
    FUZZ_MUST(vmdb_ring_set_user(r, "user", 4) == 0);
    FUZZ_MUST(vmdb_ring_sync(r) == 0);
    vmdb_ring_close(r);
    seed("ring", "lines.ring", fuzz_path("lines.ring"));

    /* Positions past the end of the data, so the unread bytes wrap. */
    FUZZ_MUST(vmdb_ring_open(fuzz_path("wrapped.ring"), &o, &r) == 0);
    static char block[3000];
    memset(block, 'w', sizeof block);
    FUZZ_MUST(vmdb_ring_write(r, block, sizeof block) == 0);
    FUZZ_MUST(vmdb_ring_consume(r, sizeof block) == 0);
    FUZZ_MUST(vmdb_ring_sync(r) == 0);
    FUZZ_MUST(vmdb_ring_write(r, block, 2000) == 0);
    vmdb_ring_close(r);
    seed("ring", "wrapped.ring", fuzz_path("wrapped.ring"));

    o.flags |= VMDB_RING_OVERWRITE;
    FUZZ_MUST(vmdb_ring_open(fuzz_path("overwrite.ring"), &o, &r) == 0);
    for (int i = 0; i < 3; i++)
        FUZZ_MUST(vmdb_ring_write(r, block, sizeof block) == 0);
    vmdb_ring_close(r);
    seed("ring", "overwrite.ring", fuzz_path("overwrite.ring"));
}

static void slotring_seeds(void)
{
    vmdb_slotring_options o = {.flags = VMDB_SLOTRING_CREATE, .slot_size = 16, .slot_count = 4};
    vmdb_slotring *r;
    FUZZ_MUST(vmdb_slotring_open(fuzz_path("a.slots"), &o, &r) == 0);
    FUZZ_MUST(vmdb_slotring_write(r, "hello", 5) == 0);
    FUZZ_MUST(vmdb_slotring_write(r, "sixteen bytes!!!", 16) == 0);
    FUZZ_MUST(vmdb_slotring_write(r, "", 0) == 0);
    char msg[16];
    size_t len;
    FUZZ_MUST(vmdb_slotring_read(r, msg, sizeof msg, &len) == 0);
    vmdb_slotring_close(r);
    seed("slotring", "three-written.slots", fuzz_path("a.slots"));

    o.slot_size = 8;
    o.slot_count = 3;
    FUZZ_MUST(vmdb_slotring_open(fuzz_path("b.slots"), &o, &r) == 0);
    for (int i = 0; i < 7; i++) {
        FUZZ_MUST(vmdb_slotring_write(r, "wrap", 4) == 0);
        FUZZ_MUST(vmdb_slotring_read(r, msg, sizeof msg, &len) == 0);
    }
    FUZZ_MUST(vmdb_slotring_write(r, "last", 4) == 0);
    FUZZ_MUST(vmdb_slotring_sync(r, VMDB_FLUSH_SYNC) == 0);
    vmdb_slotring_close(r);
    seed("slotring", "wrapped.slots", fuzz_path("b.slots"));
}

static void seed_packed(const char *name, const char *dir)
{
    size_t len;
    unsigned char *data = fuzz_db_files_pack(dir, &len);
    char path[600];
    snprintf(path, sizeof path, "%s/dir/%s", out_dir, name);
    fuzz_write_file(path, data, len);
    free(data);
    printf("%s: %zu bytes\n", path, len);
}

/* Whole directories: the template as it is, and one whose log holds
 * committed transactions, packed while its writer has it open. */
static void dir_seeds(void)
{
    fuzz_template_create(fuzz_path("dirs"));
    seed_packed("template.dir", fuzz_path("dirs"));
    vmdb_db *db = open_copy("dir-live");
    vmdb_table *t = table(db, "t");
    vmdb_txn *txn;
    FUZZ_MUST(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) == 0);
    fuzz_template_put(txn, t, (const char *[]){"20", "logged", "20", "2"});
    fuzz_template_put(txn, t, (const char *[]){"1", "changed", "-1", "0.5"});
    FUZZ_MUST(vmdb_txn_commit(txn) == 0);
    seed_packed("logged.dir", fuzz_path("dir-live"));
    FUZZ_MUST(vmdb_close(db) == 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    table_seeds();
    wal_seeds();
    ring_seeds();
    slotring_seeds();
    dir_seeds();
    return 0;
}
