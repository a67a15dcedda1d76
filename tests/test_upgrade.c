/* SPDX-License-Identifier: MIT */
/*
 * tests/test_upgrade.c - the 16-byte slot header of table format 3
 * (issue 15) and the upgrade of older files: the slot size on disk; a
 * version 2 file refused read-only with the remedy, upgraded at the
 * first open for writing with every record, free slot and damaged
 * record as it was, also when a power cut strikes in the middle; every
 * bit of a record, its checksum and its live flag caught when flipped;
 * a slot left mid-write caught, also at the counter's wrap; and a
 * counter that wraps never reads as "never written".
 */
#include "helpers.h"

#include <signal.h>

#include "cli_helpers.h"
#include <sys/wait.h>

#include "old_table.h"
#include "os_powerloss.h"
#include "table.h"

TestSuite(upgrade, .timeout = HARNESS_TIMEOUT);

#define DATA 100
struct item {
    uint64_t k;
    unsigned char data[DATA];
};
#define RECORD 112 /* the schema's record: 108 bytes, padded to 8 */
#define STRIDE 128 /* 16 + 112; it was 144 with 32 bytes */
#define SLOT0 8192

static vmdb_db *open_path(const char *path, unsigned flags)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = flags, .durability = VMDB_DURABILITY_SYNC,
                         .wal_size = 1 << 20};
    ASSERT_OK(vmdb_open(path, &o, &db));
    return db;
}

static void make_item(struct item *it, uint64_t k, unsigned round)
{
    memset(it, 0, sizeof *it);
    it->k = k;
    fill_pattern(it->data, DATA, k * 131 + round);
}

/* Keys [0, n) put, then every seventh deleted: free slots below the top. */
static void make_db(const char *path, uint64_t n)
{
    vmdb_db *db = open_path(path, VMDB_DB_CREATE);
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("k:u64 key, data:bytes100", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "items", s, &t));
    vmdb_schema_free(s);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (uint64_t k = 0; k < n; k++) {
        struct item it;
        make_item(&it, k, 0);
        ASSERT_OK(vmdb_txn_put(txn, t, &it, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (uint64_t k = 0; k < n; k += 7)
        ASSERT_OK(vmdb_txn_delete(txn, t, &k, sizeof k));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_close(db));
}

/* Every key of make_db(n) is there, or gone if deleted, whole. */
static void expect_items(vmdb_db *db, uint64_t n)
{
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    for (uint64_t k = 0; k < n; k++) {
        struct item got, want;
        int rc = vmdb_table_get(t, &k, sizeof k, &got, NULL);
        if (k % 7 == 0) {
            cr_assert_eq(rc, VMDB_ENOTFOUND, "key %llu was deleted: %s",
                         (unsigned long long)k, vmdb_error_name(rc));
            continue;
        }
        cr_assert_eq(rc, 0, "key %llu -> %s: %s", (unsigned long long)k, vmdb_error_name(rc),
                     vmdb_last_error()->message);
        make_item(&want, k, 0);
        cr_assert(memcmp(&got, &want, RECORD) == 0, "key %llu differs", (unsigned long long)k);
    }
}

static char *table_file(const char *path)
{
    static char file[700];
    snprintf(file, sizeof file, "%s/items.vmt", path);
    return file;
}

static unsigned file_version(const char *file)
{
    vmdb_table_file *f;
    vmdb_table_file_info in;
    ASSERT_OK(vmdb_table_file_open(file, &f));
    ASSERT_OK(vmdb_table_file_stat(f, &in));
    unsigned v = in.version;
    vmdb_table_file_close(f);
    return v;
}

static bool dir_has_upgrade_leftover(const char *path)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q upgrade", path);
    return system(cmd) == 0;
}

/* ---- the slot on disk ----------------------------------------------------- */

Test(upgrade, a_record_of_a_u64_and_100_bytes_takes_a_slot_of_128)
{
    const char *path = test_path("db");
    make_db(path, 1000);
    vmdb_db *db = open_path(path, VMDB_DB_READONLY);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert_eq(st.record_size, RECORD);
    cr_assert_eq(st.slot_size, STRIDE);
    cr_assert_eq(st.file_bytes, SLOT0 + st.capacity * STRIDE);
    vmdb_close(db);

    vmdb_table_file *f;
    vmdb_table_file_info in;
    ASSERT_OK(vmdb_table_file_open(table_file(path), &f));
    ASSERT_OK(vmdb_table_file_stat(f, &in));
    cr_assert_eq(in.version, 3);
    cr_assert_eq(in.slot_header_bytes, 16);
    /* The bytes where docs/format.md puts them: key 1 at rid 1. */
    vmdb_slot_info s;
    ASSERT_OK(vmdb_table_file_slot(f, 1, &s));
    const unsigned char *raw = s.slot;
    uint64_t key, lsn_live;
    uint32_t seq, sum;
    memcpy(&seq, raw, 4);
    memcpy(&sum, raw + 4, 4);
    memcpy(&lsn_live, raw + 8, 8);
    memcpy(&key, raw + 16, 8);
    cr_assert_eq(key, 1);
    cr_assert_eq(seq, 2, "written once");
    cr_assert(lsn_live >> 63, "live");
    cr_assert_eq(lsn_live & ~(UINT64_C(1) << 63), s.lsn);
    cr_assert_eq(sum, (uint32_t)XXH3_64bits_withSeed(raw + 16, RECORD, 1 << 1 | 1));
    cr_assert(s.checksum_ok);
    vmdb_table_file_close(f);
    remove_test_dir();
}

/* ---- a version 2 file ------------------------------------------------------ */

Test(upgrade, a_version_2_table_is_refused_read_only_then_upgraded_with_every_record)
{
    const char *path = test_path("db");
    make_db(path, 3000);
    char *file = table_file(path);
    uint64_t size3 = file_size(file);
    make_old_table(file, 2);
    cr_assert_eq(file_size(file), SLOT0 + (size3 - SLOT0) / STRIDE * 144);
    cr_assert_eq(file_version(file), 2, "dump reads an old file");

    vmdb_db *db;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
    ASSERT_FAILS(vmdb_open(path, &ro, &db), VMDB_ENEEDRECOVERY,
                 "items.vmt: table of an older format (32-byte slot headers): open the "
                 "database for writing once to upgrade it");
    cr_assert_eq(file_version(file), 2, "a read-only open changed the file");

    db = open_path(path, 0);
    expect_items(db, 3000);
    ASSERT_OK(vmdb_check(db));
    /* It takes writes as any table. */
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    vmdb_txn *txn;
    struct item it;
    make_item(&it, 7, 0); /* a deleted key: into a free slot */
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &it, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_close(db));

    cr_assert_eq(file_version(file), 3);
    cr_assert_eq(file_size(file), size3, "the upgraded file is the size a new one would be");
    cr_assert(!dir_has_upgrade_leftover(path));
    db = open_path(path, VMDB_DB_READONLY);
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    uint64_t key = 7;
    struct item got;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &got, NULL));
    cr_assert(memcmp(&got, &it, RECORD) == 0);
    vmdb_close(db);
    remove_test_dir();
}

Test(upgrade, a_record_damaged_in_a_version_2_file_is_still_damaged_after_the_upgrade)
{
    const char *path = test_path("db");
    make_db(path, 100);
    char *file = table_file(path);
    make_old_table(file, 2);
    /* A byte of key 5's data, in the old layout (32-byte slot header). */
    xor_byte_at(file, SLOT0 + 5 * 144 + 32 + 40, 0x04);
    vmdb_table_file *f;
    vmdb_slot_info s;
    ASSERT_OK(vmdb_table_file_open(file, &f));
    ASSERT_OK(vmdb_table_file_slot(f, 5, &s));
    cr_assert(!s.checksum_ok, "dump of the old file sees the damage");
    vmdb_table_file_close(f);

    vmdb_db *db = open_path(path, 0);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    uint64_t key = 5;
    struct item got;
    ASSERT_FAILS(vmdb_table_get(t, &key, sizeof key, &got, NULL), VMDB_ECORRUPT,
                 "items.vmt: slot 5: checksum mismatch");
    ASSERT_FAILS(vmdb_check(db), VMDB_ECORRUPT, "items.vmt: slot 5: checksum mismatch");
    vmdb_close(db);
    cr_assert_eq(file_version(file), 3);
    remove_test_dir();
}

/* The command's readers open for writing once, as after a writer's
 * death, and read; without write permission the refusal stands. */
Test(upgrade, the_command_reads_a_version_2_table_after_upgrading_it)
{
    const char *path = test_path("db");
    make_db(path, 50);
    char *file = table_file(path);
    make_old_table(file, 2);
    char args[800];
    snprintf(args, sizeof args, "get '%s' items 8 --format csv", path);
    cli_result *res = run_cli(args);
    cr_assert_eq(res->status, 0, "stderr: %s", res->err);
    ASSERT_CONTAINS(res->out, "8,");
    cr_assert_eq(file_version(file), 3);
    snprintf(args, sizeof args, "check '%s'", path);
    res = run_cli(args);
    cr_assert_eq(res->status, 0, "stderr: %s", res->err);
    ASSERT_CONTAINS(res->out, "42 records");
    remove_test_dir();
}

/* ---- a power cut in the middle of the upgrade ----------------------------- */

static const char *kill_at;

static void kill_at_stage(const char *stage)
{
    if (kill_at && strcmp(stage, kill_at) == 0)
        raise(SIGKILL);
}

static void cut_during_upgrade(const char *name, const char *stage,
                               enum vmdb__powerloss_mode mode, uint64_t seed)
{
    char path[600];
    snprintf(path, sizeof path, "%s", test_path(name));
    make_db(path, 2000);
    make_old_table(table_file(path), 2);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        kill_at = stage;
        vmdb__table_upgrade_test_hook = kill_at_stage;
        vmdb_db *db;
        if (vmdb__os_powerloss_track(path, true) != 0 || vmdb_open(path, NULL, &db) != 0)
            _exit(2);
        raise(SIGKILL); /* "open": the upgrade done, the handle open */
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the writer failed (%d)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    vmdb__powerloss_report r;
    ASSERT_OK(vmdb__os_powerloss_cut(path, seed, mode, &r));
    vmdb_db *db;
    vmdb_db_options o = {.durability = VMDB_DURABILITY_SYNC};
    int rc = vmdb_open(path, &o, &db);
    cr_assert_eq(rc, 0, "open after a cut at %s (%s) -> %s: %s (cut: %s)", stage,
                 vmdb__os_powerloss_mode_name(mode), vmdb_error_name(rc),
                 vmdb_last_error()->message, r.summary);
    expect_items(db, 2000);
    rc = vmdb_check(db);
    cr_assert_eq(rc, 0, "check after a cut at %s (%s) -> %s: %s (cut: %s)", stage,
                 vmdb__os_powerloss_mode_name(mode), vmdb_error_name(rc),
                 vmdb_last_error()->message, r.summary);
    ASSERT_OK(vmdb_close(db));
    cr_assert_eq(file_version(table_file(path)), 3);
    cr_assert(!dir_has_upgrade_leftover(path), "a crashed upgrade's file is left (%s, %s)",
              stage, vmdb__os_powerloss_mode_name(mode));
}

Test(upgrade, a_power_cut_at_any_stage_of_the_upgrade_loses_no_record)
{
    const char *stages[] = {"written", "renamed", "durable", "open"};
    const enum vmdb__powerloss_mode modes[] = {VMDB__POWERLOSS_LOSE, VMDB__POWERLOSS_KEEP,
                                               VMDB__POWERLOSS_TEAR, VMDB__POWERLOSS_RANDOM,
                                               VMDB__POWERLOSS_LOSE_LENGTHS};
    unsigned n = 0;
    for (unsigned s = 0; s < 4; s++)
        for (unsigned m = 0; m < 5; m++) {
            char name[32];
            snprintf(name, sizeof name, "db%u", n++);
            cut_during_upgrade(name, stages[s], modes[m], test_seed(15) + n);
        }
    remove_test_dir();
}

/* ---- damage and slots mid-write in the 16-byte layout --------------------- */

static void expect_slot_refused(const char *path, uint64_t rid, int code, const char *why)
{
    vmdb_db *db = open_path(path, VMDB_DB_READONLY);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    struct item got;
    ASSERT_FAILS(vmdb_table_get_rid(t, rid, &got), code, why);
    ASSERT_FAILS(vmdb_check(db), VMDB_ECORRUPT, why);
    vmdb_close(db);
}

/* Every bit of record 1, of its checksum and its live flag: a 32-bit
 * checksum misses a given damage with odds of 2^-32, and none of these. */
Test(upgrade, every_bit_of_a_record_its_checksum_and_live_flag_is_caught)
{
    const char *path = test_path("db");
    make_db(path, 10);
    char *file = table_file(path);
    long slot = SLOT0 + 1 * STRIDE;
    for (long byte = 16; byte < 16 + RECORD; byte++)
        for (int bit = 0; bit < 8; bit++) {
            xor_byte_at(file, slot + byte, 1 << bit);
            expect_slot_refused(path, 1, VMDB_ECORRUPT, "items.vmt: slot 1: checksum mismatch");
            xor_byte_at(file, slot + byte, 1 << bit);
        }
    for (long byte = 4; byte < 8; byte++)
        for (int bit = 0; bit < 8; bit++) {
            xor_byte_at(file, slot + byte, 1 << bit);
            expect_slot_refused(path, 1, VMDB_ECORRUPT, "items.vmt: slot 1: checksum mismatch");
            xor_byte_at(file, slot + byte, 1 << bit);
        }
    xor_byte_at(file, slot + 15, 0x80);
    expect_slot_refused(path, 1, VMDB_ECORRUPT,
                        "items.vmt: slot 1 holds a record whose live flag was cleared");
    xor_byte_at(file, slot + 15, 0x80);
    vmdb_db *db = open_path(path, VMDB_DB_READONLY);
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

static void set_seq(const char *file, uint64_t rid, uint32_t seq)
{
    size_t len;
    unsigned char *bytes = read_file(file, &len);
    memcpy(bytes + SLOT0 + rid * STRIDE, &seq, 4);
    write_file(file, bytes, len);
    free(bytes);
}

static uint32_t get_seq(const char *file, uint64_t rid)
{
    size_t len;
    unsigned char *bytes = read_file(file, &len);
    uint32_t seq;
    memcpy(&seq, bytes + SLOT0 + rid * STRIDE, 4);
    free(bytes);
    return seq;
}

Test(upgrade, a_slot_left_mid_write_is_caught_and_a_writer_settles_it_past_the_wrap)
{
    const char *path = test_path("db");
    make_db(path, 10);
    char *file = table_file(path);
    /* Odd at the very top of the counter: the writer died there. */
    set_seq(file, 3, UINT32_MAX);
    expect_slot_refused(path, 3, VMDB_EBUSY, "slot 3");
    vmdb_db *db = open_path(path, VMDB_DB_READONLY);
    ASSERT_FAILS(vmdb_check(db), VMDB_ECORRUPT, "items.vmt: slot 3 was left mid-write");
    vmdb_close(db);
    /* What a writer that died there leaves in the lock page too: a
     * transaction being applied (docs/format.md, the lock file). */
    char lock[700];
    snprintf(lock, sizeof lock, "%s/vmdb.lock", path);
    size_t len;
    unsigned char *page = read_file(lock, &len);
    uint64_t applying = 1;
    memcpy(page + 48, &applying, 8);
    write_file(lock, page, len);
    free(page);
    /* The next writer makes it even, and not 0, which would say "never
     * written" of a live slot. */
    db = open_path(path, 0);
    ASSERT_OK(vmdb_close(db));
    cr_assert_eq(get_seq(file, 3), 2);
    db = open_path(path, VMDB_DB_READONLY);
    expect_items(db, 10);
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* A counter that wraps around to 0 would make the slot look never
 * written, and readers skip such a slot unchecked: a free slot's cleared
 * live flag would pass for a free slot. The mutant SEQ_WRAPS_TO_ZERO. */
Test(upgrade, a_counter_that_wraps_never_reads_as_never_written)
{
    const char *path = test_path("db");
    make_db(path, 10);
    char *file = table_file(path);
    set_seq(file, 4, UINT32_MAX - 1); /* stable, one write from the wrap */
    vmdb_db *db = open_path(path, 0);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    struct item it;
    make_item(&it, 4, 9);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &it, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_close(db));

    xor_byte_at(file, SLOT0 + 4 * STRIDE + 15, 0x80); /* its live flag cleared */
    db = open_path(path, VMDB_DB_READONLY);
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    struct item got;
    ASSERT_FAILS(vmdb_table_get_rid(t, 4, &got), VMDB_ECORRUPT,
                 "slot 4 holds a record whose live flag was cleared");
    vmdb_close(db);
    cr_assert_eq(get_seq(file, 4), 2, "the wrap skips 0");
    remove_test_dir();
}
