/* SPDX-License-Identifier: MIT */
/*
 * tests/test_summary.c - the tables' summaries (engine/db/summary.c): an
 * open for writing after a clean close reads no slot; after a killed
 * writer or a power cut the summary is not believed and the slots are
 * read, so every record and every free slot is where it was; a summary
 * crafted to lie (its checksum resealed) is reported by check and wastes
 * slots at most, never a record; version 1 files are upgraded.
 *
 * "Reads no slot" is shown by vmdb__table_slot_passes, the count of full
 * passes over a table's slots this process made, never by a clock.
 */
#include "helpers.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <xxhash.h>

#include "db.h"
#include "old_table.h"
#include "os_fault.h"
#include "os_powerloss.h"

TestSuite(summary, .timeout = 120);

struct item {
    uint64_t key;
    uint64_t value;
};

static const vmdb_field item_fields[] = {
    VMDB_KEY(struct item, key, VMDB_TYPE_U64),
    VMDB_FIELD(struct item, value, VMDB_TYPE_U64),
};

/* Keys 1..count in rids 0..count-1 (one transaction), then the keys in
 * `holes` deleted: a table with free slots below its frontier. */
static void make_items(const char *path, uint64_t count, const uint64_t *holes, size_t n)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 1 << 20};
    vmdb_schema *s;
    vmdb_table *t;
    vmdb_txn *txn;
    ASSERT_OK(vmdb_open(path, &o, &db));
    ASSERT_OK(vmdb_schema_new(item_fields, 2, sizeof(struct item), &s));
    ASSERT_OK(vmdb_table_create(db, "items", s, &t));
    vmdb_schema_free(s);
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (uint64_t k = 1; k <= count; k++) {
        uint64_t rid;
        ASSERT_OK(vmdb_txn_insert(txn, t, &(struct item){k, k * 10}, &rid));
        cr_assert_eq(rid, k - 1);
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (size_t i = 0; i < n; i++)
        ASSERT_OK(vmdb_txn_delete(txn, t, &holes[i], sizeof holes[i]));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_close(db));
}

/* Opens for writing; SYNC, so that a delete is applied, and its slot
 * free, before the next transaction begins. */
static int open_rw(const char *path, vmdb_db **db)
{
    vmdb_db_options o = {.durability = VMDB_DURABILITY_SYNC};
    return vmdb_open(path, &o, db);
}

static uint64_t passes(void)
{
    return __atomic_load_n(&vmdb__table_slot_passes, __ATOMIC_RELAXED);
}

static uint64_t insert_one(vmdb_db *db, vmdb_table *t, uint64_t key)
{
    vmdb_txn *txn;
    uint64_t rid = UINT64_MAX;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_insert(txn, t, &(struct item){key, key * 10}, &rid));
    ASSERT_OK(vmdb_txn_commit(txn));
    return rid;
}

/* Every key in [1, count] but those in `gone` is there with its value. */
static void expect_items(vmdb_table *t, uint64_t count, const uint64_t *gone, size_t n)
{
    for (uint64_t k = 1; k <= count; k++) {
        bool deleted = false;
        for (size_t i = 0; i < n; i++)
            deleted |= gone[i] == k;
        struct item got;
        int rc = vmdb_table_get(t, &k, sizeof k, &got, NULL);
        if (deleted) {
            cr_assert_eq(rc, VMDB_ENOTFOUND, "key %llu came back", (unsigned long long)k);
            continue;
        }
        cr_assert_eq(rc, 0, "key %llu -> %s: %s", (unsigned long long)k, vmdb_error_name(rc),
                     vmdb_last_error()->message);
        cr_assert_eq(got.value, k * 10, "key %llu holds %llu", (unsigned long long)k,
                     (unsigned long long)got.value);
    }
}

static const uint64_t three_holes[] = {31, 7, 400}; /* rids 30, 6, 399 */

Test(summary, an_open_after_a_clean_close_reads_no_slot_and_fills_the_holes_lowest_first)
{
    const char *path = test_path("db");
    make_items(path, 500, three_holes, 3);
    vmdb_db *db;
    vmdb_table *t;
    for (int round = 0; round < 2; round++) {
        uint64_t before = passes();
        ASSERT_OK(open_rw(path, &db));
        cr_assert_eq(passes(), before, "an open for writing after a clean close read the "
                     "slots (%llu passes)", (unsigned long long)(passes() - before));
        vmdb_close(db);
    }
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
    uint64_t before = passes();
    ASSERT_OK(vmdb_open(path, &ro, &db));
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    expect_items(t, 500, three_holes, 3);
    vmdb_close(db);
    cr_assert_eq(passes(), before, "a read-only open and gets read the slots");

    /* The holes are found as inserts need them, lowest first, and the
     * frontier comes after them. */
    before = passes();
    ASSERT_OK(open_rw(path, &db));
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    cr_assert_eq(insert_one(db, t, 1001), 6);
    cr_assert_eq(insert_one(db, t, 1002), 30);
    cr_assert_eq(insert_one(db, t, 1003), 399);
    cr_assert_eq(insert_one(db, t, 1004), 500);
    cr_assert_eq(passes(), before, "filling the holes took a full pass");
    expect_items(t, 500, three_holes, 3);
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);

    /* A hole made and filled within one session after such an open. */
    ASSERT_OK(open_rw(path, &db));
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    vmdb_txn *txn;
    uint64_t k = 250;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_delete(txn, t, &k, sizeof k));
    ASSERT_OK(vmdb_txn_commit(txn));
    cr_assert_eq(insert_one(db, t, 1005), 249);
    cr_assert_eq(insert_one(db, t, 1006), 501);
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* In a writer that is then killed: inserts key 900 at the frontier (rid
 * 300), then deletes keys 100 and 101 (rids 99 and 100: holes below the
 * frontier that the summary does not know), each a SYNC commit. */
static void deletes_and_an_insert_then_killed(const char *path, bool track)
{
    pid_t pid = fork_child();
    if (pid == 0) {
        vmdb_db *db;
        vmdb_table *t;
        vmdb_txn *txn;
        vmdb_db_options o = {.durability = VMDB_DURABILITY_SYNC};
        uint64_t k1 = 100, k2 = 101;
        if ((track && vmdb__os_powerloss_track(path, true)) || vmdb_open(path, &o, &db) ||
            vmdb_table_open(db, "items", NULL, &t) || vmdb_txn_begin(db, 0, &txn) ||
            vmdb_txn_insert(txn, t, &(struct item){900, 9000}, NULL) ||
            vmdb_txn_commit(txn) || vmdb_txn_begin(db, 0, &txn) ||
            vmdb_txn_delete(txn, t, &k1, sizeof k1) ||
            vmdb_txn_delete(txn, t, &k2, sizeof k2) || vmdb_txn_commit(txn))
            _exit(1);
        raise(SIGKILL);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the writer failed (%#x)",
              status);
}

/* After the killed writer of deletes_and_an_insert_then_killed: the
 * slots were read, every record is there, the two freed slots are the
 * first an insert takes, and check agrees with the summary written. */
static void expect_state_after_the_writer(const char *path, const char *what)
{
    static const uint64_t gone[] = {100, 101};
    vmdb_db *db;
    vmdb_table *t;
    uint64_t before = passes();
    int rc = open_rw(path, &db);
    cr_assert_eq(rc, 0, "open after %s -> %s: %s", what, vmdb_error_name(rc),
                 vmdb_last_error()->message);
    cr_assert_gt(passes(), before, "after %s the summary was believed", what);
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    expect_items(t, 300, gone, 2);
    struct item got;
    uint64_t k = 900;
    ASSERT_OK(vmdb_table_get(t, &k, sizeof k, &got, NULL));
    cr_assert_eq(got.value, 9000);
    uint64_t rid = insert_one(db, t, 1001);
    cr_assert_eq(rid, 99, "after %s the first insert took rid %llu, not the freed 99", what,
                 (unsigned long long)rid);
    rid = insert_one(db, t, 1002);
    cr_assert_eq(rid, 100, "after %s the second insert took rid %llu, not the freed 100",
                 what, (unsigned long long)rid);
    cr_assert_eq(insert_one(db, t, 1003), 301);
    ASSERT_OK(vmdb_close(db));
    ASSERT_OK(open_rw(path, &db));
    rc = vmdb_check(db);
    cr_assert_eq(rc, 0, "check after %s -> %s: %s", what, vmdb_error_name(rc),
                 vmdb_last_error()->message);
    vmdb_close(db);
}

Test(summary, after_a_killed_writer_the_summary_is_not_believed)
{
    const char *path = test_path("db");
    make_items(path, 300, NULL, 0);
    deletes_and_an_insert_then_killed(path, false);
    expect_state_after_the_writer(path, "a killed writer");
    remove_test_dir();
}

Test(summary, after_a_power_cut_the_summary_is_not_believed, .timeout = 240)
{
    const enum vmdb__powerloss_mode modes[] = {VMDB__POWERLOSS_LOSE, VMDB__POWERLOSS_KEEP,
                                               VMDB__POWERLOSS_TEAR, VMDB__POWERLOSS_RANDOM,
                                               VMDB__POWERLOSS_LOSE_LENGTHS};
    for (unsigned m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        char name[32];
        snprintf(name, sizeof name, "db%u", m);
        const char *path = test_path(name);
        make_items(path, 300, NULL, 0);
        deletes_and_an_insert_then_killed(path, true);
        vmdb__powerloss_report r;
        ASSERT_OK(vmdb__os_powerloss_cut(path, m + 1, modes[m], &r));
        char what[64];
        snprintf(what, sizeof what, "a power cut (%s)", vmdb__os_powerloss_mode_name(modes[m]));
        expect_state_after_the_writer(path, what);
    }
    remove_test_dir();
}

/* Even a clean close does not carry its summary across a power cut: the
 * cut is a reboot, and the first writer of a boot reads the slots. */
Test(summary, the_first_open_of_a_boot_reads_the_slots)
{
    const char *path = test_path("db");
    make_items(path, 200, three_holes, 2);
    ASSERT_OK(vmdb__os_powerloss_track(path, true));
    vmdb_db *db;
    ASSERT_OK(open_rw(path, &db));
    vmdb_close(db);
    ASSERT_OK(vmdb__os_powerloss_track(path, false));
    ASSERT_OK(vmdb__os_powerloss_cut(path, 1, VMDB__POWERLOSS_KEEP, NULL));
    uint64_t before = passes();
    ASSERT_OK(open_rw(path, &db));
    cr_assert_gt(passes(), before, "the first writer after a reboot believed the summary");
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    cr_assert_eq(insert_one(db, t, 1001), 6);
    cr_assert_eq(insert_one(db, t, 1002), 30);
    cr_assert_eq(insert_one(db, t, 1003), 200);
    vmdb_close(db);
    remove_test_dir();
}

/* ---- crafted headers --------------------------------------------------- */

/* Where the table header keeps what this suite rewrites (docs/format.md). */
#define COPY_LEN 4096
#define VERSION_AT 16
#define USED_LEN_AT 20
#define SUMMARY_AT 3968
enum { S_POS, S_SALT, S_FRONTIER, S_LIVE, S_HOLE_FROM, S_MAX_LSN };

static void reseal(unsigned char *copy)
{
    uint32_t used_len, version;
    memcpy(&used_len, copy + USED_LEN_AT, 4);
    memcpy(&version, copy + VERSION_AT, 4);
    uint64_t sum = XXH3_64bits(copy + 16, used_len - 16);
    memcpy(copy + 8, &sum, 8);
    if (version != 1) {
        uint64_t ssum = XXH3_64bits_withSeed(copy + SUMMARY_AT, 120, sum);
        memcpy(copy + SUMMARY_AT + 120, &ssum, 8);
    }
}

/* Sets summary field `field` to `value` in both header copies, resealed. */
static void set_summary_field(const char *table_file, int field, uint64_t value)
{
    size_t len;
    unsigned char *bytes = read_file(table_file, &len);
    for (int copy = 0; copy < 2; copy++) {
        unsigned char *h = bytes + copy * COPY_LEN;
        memcpy(h + SUMMARY_AT + 8 * field, &value, 8);
        reseal(h);
    }
    write_file(table_file, bytes, len);
    free(bytes);
}

static uint64_t size_of_file(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return (uint64_t)st.st_size;
}

Test(summary, a_crafted_summary_is_reported_by_check_and_loses_no_record)
{
    static const uint64_t hole[] = {50}; /* rid 49 */
    const char *path = test_path("db");
    char file[600];
    snprintf(file, sizeof file, "%s/items.vmt", path);
    make_items(path, 100, hole, 1);
    uint64_t size = size_of_file(file);
    /* It says: 5 records, all below slot 10, no hole below slot 0. */
    set_summary_field(file, S_FRONTIER, 10);
    set_summary_field(file, S_LIVE, 5);
    set_summary_field(file, S_HOLE_FROM, 0);

    vmdb_db *db;
    vmdb_table *t;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
    ASSERT_OK(vmdb_open(path, &ro, &db));
    ASSERT_FAILS(vmdb_check(db), VMDB_ECORRUPT, "items.vmt: the header's summary");
    vmdb_close(db);

    /* Believed by a writer, it costs the walk up to the real hole and past
     * the live records: nothing is written over. */
    ASSERT_OK(open_rw(path, &db));
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    cr_assert_eq(insert_one(db, t, 1001), 49);
    cr_assert_eq(insert_one(db, t, 1002), 100);
    expect_items(t, 100, hole, 1);
    struct item got;
    uint64_t k = 1001;
    ASSERT_OK(vmdb_table_get(t, &k, sizeof k, &got, NULL));
    ASSERT_OK(vmdb_close(db));
    /* A lie found out is not written into the next summary. */
    ASSERT_OK(open_rw(path, &db));
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    cr_assert_eq(size_of_file(file), size, "the table grew");
    remove_test_dir();
}

Test(summary, a_summary_with_impossible_numbers_is_not_believed)
{
    static const uint64_t hole[] = {50};
    /* Past the slots, more live than the frontier, a hole past the live
     * count, a newest LSN past the checkpoint: each makes the open read
     * the slots, which say where the free slot is. */
    const struct {
        int field;
        uint64_t value;
    } lies[] = {
        {S_FRONTIER, (uint64_t)1 << 40},
        {S_LIVE, 101},
        {S_HOLE_FROM, 100},
        {S_MAX_LSN, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "db%zu", i);
        const char *path = test_path(name);
        char file[600];
        snprintf(file, sizeof file, "%s/items.vmt", path);
        make_items(path, 100, hole, 1);
        uint64_t size = size_of_file(file);
        set_summary_field(file, lies[i].field, lies[i].value);
        vmdb_db *db;
        vmdb_table *t;
        uint64_t before = passes();
        ASSERT_OK(open_rw(path, &db));
        cr_assert_gt(passes(), before, "lie %zu was believed", i);
        ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
        cr_assert_eq(insert_one(db, t, 1001), 49);
        expect_items(t, 100, hole, 1);
        ASSERT_OK(vmdb_check(db));
        ASSERT_OK(vmdb_close(db));
        cr_assert_eq(size_of_file(file), size, "lie %zu grew the table", i);
    }
    remove_test_dir();
}

Test(summary, a_version_1_table_is_upgraded_and_gets_a_summary_at_its_first_checkpoint)
{
    const char *path = test_path("db");
    char file[600];
    snprintf(file, sizeof file, "%s/items.vmt", path);
    make_items(path, 100, three_holes, 2);
    /* The first format (no summary, 32-byte slot headers), as an older
     * build left it: a read-only open cannot read its slots and says what
     * to do. */
    make_old_table(file, 1);
    vmdb_db *db;
    vmdb_table *t;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
    ASSERT_FAILS(vmdb_open(path, &ro, &db), VMDB_ENEEDRECOVERY,
                 "items.vmt: table of an older format (32-byte slot headers): open the "
                 "database for writing once to upgrade it");

    uint64_t before = passes();
    ASSERT_OK(open_rw(path, &db));
    cr_assert_gt(passes(), before, "a version 1 table was not read");
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    expect_items(t, 100, three_holes, 2);
    cr_assert_eq(insert_one(db, t, 1001), 6);
    ASSERT_OK(vmdb_close(db));

    before = passes();
    ASSERT_OK(open_rw(path, &db));
    cr_assert_eq(passes(), before, "the summary written at the close was not believed");
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    cr_assert_eq(insert_one(db, t, 1002), 30);
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(summary, a_table_of_an_unknown_version_is_refused_naming_the_file)
{
    const char *path = test_path("db");
    char file[600];
    snprintf(file, sizeof file, "%s/items.vmt", path);
    make_items(path, 10, NULL, 0);
    size_t len;
    unsigned char *bytes = read_file(file, &len);
    for (int copy = 0; copy < 2; copy++) {
        uint32_t four = 4;
        memcpy(bytes + copy * COPY_LEN + VERSION_AT, &four, 4);
        reseal(bytes + copy * COPY_LEN);
    }
    write_file(file, bytes, len);
    free(bytes);
    vmdb_db *db;
    ASSERT_FAILS(open_rw(path, &db), VMDB_EVERSION,
                 "items.vmt: table format version 4");
    remove_test_dir();
}

/* A count of live records too low, believed, met a delete of one of them:
 * the count went below zero, and an index rebuild then asked room for
 * 2^64 - 1 entries after it had cleared the index, which failed and left
 * every record out of the index, for this session and the next. */
Test(summary, a_summary_counting_too_few_records_loses_none_to_a_delete_and_an_index_rebuild)
{
    static const uint64_t gone[] = {5};
    const char *path = test_path("db");
    char file[600];
    snprintf(file, sizeof file, "%s/items.vmt", path);
    make_items(path, 100, NULL, 0);
    set_summary_field(file, S_LIVE, 0);
    set_summary_field(file, S_HOLE_FROM, 0);
    vmdb_db *db;
    vmdb_table *t;
    vmdb_txn *txn;
    ASSERT_OK(open_rw(path, &db));
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_delete(txn, t, &gone[0], sizeof gone[0]));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_index_rebuild(t));
    expect_items(t, 100, gone, 1);
    ASSERT_OK(vmdb_close(db));
    ASSERT_OK(open_rw(path, &db));
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    expect_items(t, 100, gone, 1);
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* A frontier set too low, believed, then a delete of a record past it:
 * its rid went on the free stack, the next insert took it from there, and
 * the one after it got the same rid again from the frontier, which stepped
 * up over the live slots to that one, still free in the file. Both
 * inserts of one transaction landed in one slot: the first record was
 * lost although its commit succeeded. */
Test(summary, a_frontier_too_low_and_a_delete_past_it_give_no_rid_twice)
{
    static const uint64_t gone[] = {51}; /* rid 50, past the frontier it says */
    const char *path = test_path("db");
    char file[600];
    snprintf(file, sizeof file, "%s/items.vmt", path);
    make_items(path, 100, NULL, 0);
    set_summary_field(file, S_FRONTIER, 10);
    set_summary_field(file, S_LIVE, 10);
    set_summary_field(file, S_HOLE_FROM, 10);
    vmdb_db *db;
    vmdb_table *t;
    vmdb_txn *txn;
    ASSERT_OK(open_rw(path, &db));
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_delete(txn, t, &gone[0], sizeof gone[0]));
    ASSERT_OK(vmdb_txn_commit(txn));
    uint64_t a, b;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_insert(txn, t, &(struct item){1001, 10010}, &a));
    ASSERT_OK(vmdb_txn_insert(txn, t, &(struct item){1002, 10020}, &b));
    ASSERT_OK(vmdb_txn_commit(txn));
    cr_assert_neq(a, b, "both inserts got record %llu", (unsigned long long)a);
    expect_items(t, 100, gone, 1);
    for (uint64_t k = 1001; k <= 1002; k++) {
        struct item got;
        ASSERT_OK(vmdb_table_get(t, &k, sizeof k, &got, NULL));
        cr_assert_eq(got.value, k * 10, "key %llu", (unsigned long long)k);
    }
    ASSERT_OK(vmdb_close(db));
    ASSERT_OK(open_rw(path, &db));
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* ---- a checkpoint cut short, then another writer ------------------------ */

/* In a child: opens for writing, says so on `ready`, waits for a byte on
 * `go`, commits key `key`, says so on `ready` and dies without closing. */
static void late_writer(const char *path, uint64_t key, int ready, int go)
{
    vmdb_db *db;
    vmdb_table *t;
    vmdb_txn *txn;
    char c = 'r';
    if (open_rw(path, &db) < 0 || vmdb_table_open(db, "items", NULL, &t) < 0 ||
        write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
        _exit(2);
    if (vmdb_txn_begin(db, 0, &txn) < 0 ||
        vmdb_txn_insert(txn, t, &(struct item){key, key * 10}, NULL) < 0 ||
        vmdb_txn_commit(txn) < 0)
        _exit(3);
    _exit(write(ready, &c, 1) == 1 ? 0 : 4);
}

/* In a child: commits key 900, then checkpoints with the flush after the
 * first `skip` failing, and dies there as if killed in it. Exits 1 when
 * the checkpoint made no more than `skip` flushes. */
static void cut_checkpoint(const char *path, unsigned skip)
{
    vmdb_db *db;
    vmdb_table *t;
    vmdb_txn *txn;
    if (open_rw(path, &db) < 0 || vmdb_table_open(db, "items", NULL, &t) < 0 ||
        vmdb_txn_begin(db, 0, &txn) < 0 ||
        vmdb_txn_insert(txn, t, &(struct item){900, 9000}, NULL) < 0 || vmdb_txn_commit(txn) < 0)
        _exit(2);
    vmdb__os_inject_fault(VMDB__OS_OP_FLUSH, EIO, skip);
    (void)vmdb_checkpoint(db);
    _exit(vmdb__os_fault_armed(VMDB__OS_OP_FLUSH) ? 1 : 0);
}

/* A checkpoint whose writer dies in it after the log's header took the
 * new salt, before the lock page did: the next writer, open since before,
 * wrote its records under the old salt, which recovery does not read. Its
 * commit was then refused at the next open as a log damaged in the middle
 * (and after a power cut, a durable commit was gone). Each flush of the
 * checkpoint in turn is where the first writer dies. */
Test(summary, a_writer_after_a_checkpoint_cut_short_at_any_flush_loses_no_commit)
{
    bool past_the_end = false;
    for (unsigned skip = 0; !past_the_end; skip++) {
        cr_assert_lt(skip, 64, "the checkpoint never ran out of flushes");
        char name[32];
        snprintf(name, sizeof name, "db%u", skip);
        const char *path = test_path(name);
        make_items(path, 500, three_holes, 3);
        int ready[2], go[2];
        cr_assert_eq(pipe(ready), 0);
        cr_assert_eq(pipe(go), 0);
        uint64_t key = 1000 + skip;
        pid_t late = fork();
        cr_assert_geq(late, 0);
        if (late == 0)
            late_writer(path, key, ready[1], go[0]);
        char c;
        cr_assert_eq(read(ready[0], &c, 1), 1, "the late writer did not open");
        pid_t cut = fork();
        cr_assert_geq(cut, 0);
        if (cut == 0)
            cut_checkpoint(path, skip);
        int status;
        cr_assert_eq(waitpid(cut, &status, 0), cut);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) <= 1, "skip %u: status %d", skip,
                  status);
        past_the_end = WEXITSTATUS(status) == 1;
        cr_assert_eq(write(go[1], &c, 1), 1);
        cr_assert_eq(read(ready[0], &c, 1), 1, "skip %u: the late writer did not commit", skip);
        cr_assert_eq(waitpid(late, &status, 0), late);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "skip %u: status %d", skip,
                  status);
        for (int i = 0; i < 2; i++) {
            close(ready[i]);
            close(go[i]);
        }
        vmdb_db *db;
        vmdb_table *t;
        int rc = open_rw(path, &db);
        cr_assert_eq(rc, 0, "skip %u: %s: %s", skip, vmdb_error_name(rc),
                     vmdb_last_error()->message);
        ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
        expect_items(t, 500, three_holes, 3);
        uint64_t keys[] = {900, key};
        for (size_t i = 0; i < 2; i++) {
            struct item got;
            rc = vmdb_table_get(t, &keys[i], sizeof keys[i], &got, NULL);
            cr_assert_eq(rc, 0, "skip %u: key %llu: %s", skip, (unsigned long long)keys[i],
                         vmdb_error_name(rc));
            cr_assert_eq(got.value, keys[i] * 10);
        }
        ASSERT_OK(vmdb_check(db));
        ASSERT_OK(vmdb_close(db));
    }
    remove_test_dir();
}
