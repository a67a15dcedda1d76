/* SPDX-License-Identifier: MIT */
/*
 * tests/test_crafted.c - damage that keeps every checksum valid: log
 * records rewritten field by field and resealed, as an attacker or a bug
 * in another build would leave them. Such a record is refused, by check
 * and by replay, naming its position; nothing is acted on before every
 * field is known good.
 */
#include "helpers.h"

#include <stddef.h>
#include <sys/wait.h>
#include <xxhash.h>

#include "db.h"
#include "wal.h"

TestSuite(crafted, .timeout = 120);

struct item {
    uint64_t key;
    uint64_t value;
};

static const vmdb_field item_fields[] = {
    VMDB_KEY(struct item, key, VMDB_TYPE_U64),
    VMDB_FIELD(struct item, value, VMDB_TYPE_U64),
};

static int put_items(vmdb_db *db, vmdb_table *t, uint64_t from, uint64_t to)
{
    vmdb_txn *txn;
    int rc = vmdb_txn_begin(db, 0, &txn);
    for (uint64_t k = from; rc == 0 && k < to; k++)
        rc = vmdb_txn_put(txn, t, &(struct item){k, k * 10}, NULL);
    return rc ? rc : vmdb_txn_commit(txn);
}

/* Creates table "items" at `path`, runs `before` (if not NULL) there and
 * checkpoints it by closing, then runs `writes` in a SYNC writer that is
 * killed: everything in the tables, and the writes in the log past its
 * checkpoint. */
static void logged_and_killed(const char *path, int (*before)(vmdb_db *db, vmdb_table *t),
                              int (*writes)(vmdb_db *db, vmdb_table *t))
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 1 << 20};
    vmdb_schema *s;
    vmdb_table *t;
    ASSERT_OK(vmdb_open(path, &o, &db));
    ASSERT_OK(vmdb_schema_new(item_fields, 2, sizeof(struct item), &s));
    ASSERT_OK(vmdb_table_create(db, "items", s, &t));
    vmdb_schema_free(s);
    if (before)
        ASSERT_OK(before(db, t));
    ASSERT_OK(vmdb_close(db));
    pid_t pid = fork_child();
    if (pid == 0) {
        vmdb_db_options w = {.durability = VMDB_DURABILITY_SYNC};
        if (vmdb_open(path, &w, &db) || vmdb_table_open(db, "items", NULL, &t) || writes(db, t))
            _exit(1);
        raise(SIGKILL);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "the writer failed (%#x)", status);
}

static int puts_then_a_delete(vmdb_db *db, vmdb_table *t)
{
    vmdb_txn *txn;
    uint64_t two = 2;
    return put_items(db, t, 1, 4) || vmdb_txn_begin(db, 0, &txn) ||
           vmdb_txn_delete(txn, t, &two, sizeof two) || vmdb_txn_commit(txn);
}

/* A database whose log holds, past its checkpoint, a transaction putting
 * keys 1-3 and one deleting key 2. */
static void make_logged_db(const char *path)
{
    logged_and_killed(path, NULL, puts_then_a_delete);
}

struct craft {
    int kind;    /* rewrite the nth record of this kind */
    int nth;     /* 0 for the first */
    void (*change)(vmdb__wal_record *rec);
    bool reseal; /* give it a valid checksum again */
    uint64_t lsn; /* where it was */
    bool done;
};

static int craft_one(void *ctx, const vmdb__wal_record *rec, const void *payload)
{
    struct craft *c = ctx;
    if (c->done || rec->kind != c->kind || c->nth-- > 0)
        return 0;
    vmdb__wal_record *h = (vmdb__wal_record *)rec;
    c->change(h);
    if (c->reseal) {
        uint64_t head = XXH3_64bits(h, offsetof(vmdb__wal_record, checksum));
        h->checksum = XXH3_64bits_withSeed(payload, h->payload_len, head);
    }
    c->lsn = h->lsn;
    c->done = true;
    return 1;
}

static uint64_t damage_log(const char *path, int kind, int nth,
                           void (*change)(vmdb__wal_record *rec), bool reseal)
{
    char wal_path[600];
    snprintf(wal_path, sizeof wal_path, "%s/wal.ring", path);
    vmdb__wal *w;
    ASSERT_OK(vmdb__wal_open(wal_path, 0, 0, false, false, &w));
    struct craft c = {kind, nth, change, reseal, 0, false};
    vmdb__wal_scan_end end;
    vmdb__wal_scan(w, vmdb__wal_start(w), vmdb__wal_end(w), craft_one, &c, &end);
    vmdb__wal_close(w);
    cr_assert(c.done, "no record %d of kind %d in the log", nth, kind);
    return c.lsn;
}

/* Rewrites the first log record of `kind` with `change`, resealed; returns
 * its position. */
static uint64_t craft_log(const char *path, int kind, void (*change)(vmdb__wal_record *rec))
{
    return damage_log(path, kind, 0, change, true);
}

static void kind_7(vmdb__wal_record *rec) { rec->kind = 7; }
static void table_99(vmdb__wal_record *rec) { rec->table = 99; }
static void rid_2_20(vmdb__wal_record *rec) { rec->rid = 1u << 20; }
static void rid_2_32(vmdb__wal_record *rec) { rec->rid = (uint64_t)1 << 32; }
static void short_key(vmdb__wal_record *rec) { rec->payload_len = 4; }
static void flagged(vmdb__wal_record *rec) { rec->flags = 1; }
static void commit_with_table(vmdb__wal_record *rec) { rec->table = 1; }
static void txn_from_the_future(vmdb__wal_record *rec) { rec->txn = rec->lsn + 8; }

Test(crafted, a_log_record_with_any_field_wrong_is_refused_by_check_and_replay)
{
    static const struct {
        const char *what;
        int kind;
        void (*change)(vmdb__wal_record *rec);
    } cases[] = {
        {"unknown kind", VMDB__WAL_DELETE, kind_7},
        {"table id", VMDB__WAL_PUT, table_99},
        {"record", VMDB__WAL_PUT, rid_2_20},
        {"record", VMDB__WAL_PUT, rid_2_32},
        {"bytes", VMDB__WAL_DELETE, short_key},
        {"flags", VMDB__WAL_PUT, flagged},
        {"COMMIT", VMDB__WAL_COMMIT, commit_with_table},
        {"starts after it", VMDB__WAL_PUT, txn_from_the_future},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], table_file[600], at[64];
        snprintf(path, sizeof path, "%s/db%zu", test_dir(), i);
        make_logged_db(path);
        snprintf(table_file, sizeof table_file, "%s/items.vmt", path);
        uint64_t size_before = file_size(table_file);
        uint64_t lsn = craft_log(path, cases[i].kind, cases[i].change);
        snprintf(at, sizeof at, "at %llu", (unsigned long long)lsn);

        vmdb_db *db;
        vmdb_db_options ro = {.flags = VMDB_DB_READONLY | VMDB_DB_AS_IS};
        ASSERT_OK(vmdb_open(path, &ro, &db));
        ASSERT_FAILS(vmdb_check(db), VMDB_ECORRUPT, at);
        cr_assert(strstr(vmdb_last_error()->message, cases[i].what) != NULL,
                  "case %zu: \"%s\" does not say \"%s\"", i, vmdb_last_error()->message,
                  cases[i].what);
        ASSERT_OK(vmdb_close(db));
        /* A writer replays nothing of it, and grows nothing for it. */
        ASSERT_FAILS(vmdb_open(path, NULL, &db), VMDB_ECORRUPT, at);
        cr_assert_eq(file_size(table_file), size_before, "case %zu: the table grew", i);
    }
    remove_test_dir();
}

/* The same log, undamaged, replays and checks clean: the cases above
 * fail for their one field. */
Test(crafted, the_undamaged_log_replays_and_checks_clean)
{
    const char *path = test_path("db");
    make_logged_db(path);
    vmdb_db *db;
    vmdb_table *t;
    ASSERT_OK(vmdb_open(path, NULL, &db));
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    struct item it;
    uint64_t key = 3, gone = 2;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &it, NULL));
    cr_assert_eq(it.value, 30);
    cr_assert_eq(vmdb_table_get(t, &gone, sizeof gone, &it, NULL), VMDB_ENOTFOUND);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* Moves the log's put of record `from` onto record `to`, resealed. */
struct move_put {
    uint64_t from, to;
    bool done;
};

static int move_one_put(void *ctx, const vmdb__wal_record *rec, const void *payload)
{
    struct move_put *m = ctx;
    if (rec->kind != VMDB__WAL_PUT || rec->rid != m->from)
        return 0;
    vmdb__wal_record *h = (vmdb__wal_record *)rec;
    h->rid = m->to;
    uint64_t head = XXH3_64bits(h, offsetof(vmdb__wal_record, checksum));
    h->checksum = XXH3_64bits_withSeed(payload, h->payload_len, head);
    m->done = true;
    return 1;
}

/* Found by fuzz/fuzz_wal.c: a log whose put of key 3 names record 0 (key
 * 1's) instead of record 2, valid in every field, was replayed onto key
 * 1, the index rebuilt from two records holding key 3, and the open
 * succeeded; export then printed key 3 twice and check failed. */
Test(crafted, a_replayed_put_onto_another_records_key_is_refused_not_indexed)
{
    const char *path = test_path("db");
    make_logged_db(path); /* keys 1, 2, 3 at records 0, 1, 2 */
    char wal_path[600];
    snprintf(wal_path, sizeof wal_path, "%s/wal.ring", path);
    vmdb__wal *w;
    ASSERT_OK(vmdb__wal_open(wal_path, 0, 0, false, false, &w));
    struct move_put m = {2, 0, false};
    vmdb__wal_scan_end end;
    vmdb__wal_scan(w, vmdb__wal_start(w), vmdb__wal_end(w), move_one_put, &m, &end);
    vmdb__wal_close(w);
    cr_assert(m.done, "no put of record 2 in the log");
    vmdb_db *db;
    ASSERT_FAILS(vmdb_open(path, NULL, &db), VMDB_ECORRUPT, "records 0 and 2 hold the same key");
    remove_test_dir();
}

/* Found by fuzz/fuzz_wal.c (UBSan: a misaligned record read in
 * check_record): a ring whose positions are not multiples of 8 made the
 * log scan read records at misaligned addresses. The live positions carry
 * no checksum; the log refuses them at open. */
Test(crafted, log_positions_off_the_record_alignment_are_refused)
{
    const char *path = test_path("db");
    make_logged_db(path);
    char wal_path[600];
    snprintf(wal_path, sizeof wal_path, "%s/wal.ring", path);
    size_t len;
    unsigned char *bytes = read_file(wal_path, &len);
    uint64_t head;
    memcpy(&head, bytes + 1024, sizeof head); /* the live head, then the live tail */
    head += 4;
    memcpy(bytes + 1024, &head, sizeof head);
    memcpy(bytes + 1088, &head, sizeof head);
    write_file(wal_path, bytes, len);
    free(bytes);
    vmdb_db *db;
    ASSERT_FAILS(vmdb_open(path, NULL, &db), VMDB_ECORRUPT, "not 8-byte aligned");
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY | VMDB_DB_AS_IS};
    ASSERT_FAILS(vmdb_open(path, &ro, &db), VMDB_ECORRUPT, "not 8-byte aligned");
    remove_test_dir();
}

/* ---- slots that no checksum of a live record covers ----------------------- */

#define TABLE_HEADER_LEN 8192
#define ITEM_STRIDE 32 /* 16 bytes of slot header + 16 of record */
/* The live flag: bit 63 of the slot header's little-endian word at 8. */
#define LIVE_BYTE 15
#define LIVE_BIT 0x80

static int four_hundred_items(vmdb_db *db, vmdb_table *t)
{
    return put_items(db, t, 0, 400);
}

static int item_399_again(vmdb_db *db, vmdb_table *t)
{
    return put_items(db, t, 399, 400);
}

/* 400 items, checkpointed, then a transaction on key 399 left in the log
 * by a writer that was killed: the next writer replays it, and rebuilds
 * the index after. */
static void make_items_db(const char *path)
{
    logged_and_killed(path, four_hundred_items, item_399_again);
}

static void expect_refused(const char *path, const char *why)
{
    vmdb_db *db;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY | VMDB_DB_AS_IS};
    ASSERT_OK(vmdb_open(path, &ro, &db));
    ASSERT_FAILS(vmdb_check(db), VMDB_ECORRUPT, why);
    ASSERT_OK(vmdb_close(db));
    /* The writer would replay the log and rebuild the index from the
     * slots: it refuses rather than drop the records. */
    ASSERT_FAILS(vmdb_open(path, NULL, &db), VMDB_ECORRUPT, why);
}

Test(crafted, a_record_whose_live_flag_was_cleared_is_found_not_dropped)
{
    const char *path = test_path("db");
    make_items_db(path);
    char table_file[600];
    snprintf(table_file, sizeof table_file, "%s/items.vmt", path);
    xor_byte_at(table_file, TABLE_HEADER_LEN + 3 * ITEM_STRIDE + LIVE_BYTE, LIVE_BIT);
    expect_refused(path, "slot 3 holds a record whose live flag was cleared");
    remove_test_dir();
}

Test(crafted, a_zeroed_page_of_slots_is_found_not_dropped)
{
    const char *path = test_path("db");
    make_items_db(path);
    char table_file[600];
    snprintf(table_file, sizeof table_file, "%s/items.vmt", path);
    size_t len;
    unsigned char *bytes = read_file(table_file, &len);
    /* With 32-byte slots every page starts at a slot; 4 KiB zeroed from
     * the middle of one (a torn write) leaves slot 127 half zeroed. */
    memset(bytes + TABLE_HEADER_LEN + 128 * ITEM_STRIDE - ITEM_STRIDE / 2, 0, 4096);
    write_file(table_file, bytes, len);
    free(bytes);
    expect_refused(path, "slot 127: checksum mismatch");
    /* A page that starts at a slot's start: slot 256 is at 8192 + 8192. */
    make_items_db(test_path("db2"));
    snprintf(table_file, sizeof table_file, "%s/items.vmt", test_path("db2"));
    bytes = read_file(table_file, &len);
    memset(bytes + TABLE_HEADER_LEN + 256 * ITEM_STRIDE, 0, 4096);
    write_file(table_file, bytes, len);
    free(bytes);
    expect_refused(test_path("db2"), "slot 256 holds nothing ever written, but slot 384");
    remove_test_dir();
}

/* ---- a log damaged in the middle ------------------------------------------- */

static void flip_payload_bit(vmdb__wal_record *rec)
{
    ((unsigned char *)(rec + 1))[8] ^= 1; /* the value's first byte */
}

static void flip_checksum_bit(vmdb__wal_record *rec)
{
    rec->checksum ^= 1;
}

static uint64_t value_of(vmdb_table *t, uint64_t key)
{
    struct item it;
    int rc = vmdb_table_get(t, &key, sizeof key, &it, NULL);
    return rc == 0 ? it.value : (uint64_t)-1;
}

static int three_transactions(vmdb_db *db, vmdb_table *t)
{
    vmdb_txn *txn;
    return put_items(db, t, 1, 2) || put_items(db, t, 2, 3) || vmdb_txn_begin(db, 0, &txn) ||
           vmdb_txn_put(txn, t, &(struct item){1, 100}, NULL) ||
           vmdb_txn_put(txn, t, &(struct item){3, 300}, NULL) || vmdb_txn_commit(txn);
}

/* T1 puts 1, T2 puts 2, T3 sets 1 and puts 3, all in the tables; one bit
 * of T2 goes. Replaying T1 alone would put key 1's old value back and
 * leave half of T3: every writer refuses, naming the log, until told to
 * keep what the tables hold. */
Test(crafted, a_log_damaged_in_the_middle_is_refused_never_replayed_over_newer_data)
{
    const char *path = test_path("db");
    logged_and_killed(path, NULL, three_transactions);
    uint64_t damaged = damage_log(path, VMDB__WAL_PUT, 1, flip_payload_bit, false);
    char at[64];
    snprintf(at, sizeof at, "ends at %llu (a damaged record)", (unsigned long long)damaged);
    vmdb_db *db;
    ASSERT_FAILS(vmdb_open(path, NULL, &db), VMDB_ECORRUPT, at);
    cr_assert(strstr(vmdb_last_error()->message, "damaged in the middle"));

    vmdb_db_options ro = {.flags = VMDB_DB_READONLY | VMDB_DB_AS_IS};
    vmdb_recovery plan;
    ASSERT_OK(vmdb_open(path, &ro, &db));
    ASSERT_OK(vmdb_recovery_plan(db, &plan));
    cr_assert(plan.refused && plan.torn_tail);
    cr_assert_eq(plan.transactions, 1);
    cr_assert_eq(plan.slots_beyond_log, 3, "key 2 (T2), key 1 and key 3 (T3): %llu", (unsigned long long)plan.slots_beyond_log);
    ASSERT_OK(vmdb_close(db));

    vmdb_db_options keep = {.flags = VMDB_DB_POINT_IN_TIME};
    vmdb_table *t;
    ASSERT_OK(vmdb_open(path, &keep, &db));
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    cr_assert_eq(value_of(t, 1), 100, "T1's image went back over T3's");
    cr_assert_eq(value_of(t, 2), 20);
    cr_assert_eq(value_of(t, 3), 300);
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

static int reuse_a_slot(vmdb_db *db, vmdb_table *t)
{
    vmdb_txn *txn;
    uint64_t one = 1;
    return put_items(db, t, 1, 2) || vmdb_txn_begin(db, 0, &txn) ||
           vmdb_txn_delete(txn, t, &one, sizeof one) || vmdb_txn_commit(txn) ||
           put_items(db, t, 2, 3);
}

/* Put 1, delete 1, put 2 into the slot 1 left: the last COMMIT damaged.
 * A checkpoint that replayed the rest would delete key 2 for good. */
Test(crafted, a_damaged_last_commit_does_not_take_a_reused_slot_with_it)
{
    const char *path = test_path("db");
    logged_and_killed(path, NULL, reuse_a_slot);
    damage_log(path, VMDB__WAL_COMMIT, 2, flip_checksum_bit, false);
    vmdb_db *db;
    ASSERT_FAILS(vmdb_open(path, NULL, &db), VMDB_ECORRUPT, "damaged in the middle");
    vmdb_db_options keep = {.flags = VMDB_DB_POINT_IN_TIME};
    vmdb_table *t;
    ASSERT_OK(vmdb_open(path, &keep, &db));
    ASSERT_OK(vmdb_checkpoint(db));
    ASSERT_OK(vmdb_table_open(db, "items", NULL, &t));
    cr_assert_eq(value_of(t, 2), 20, "key 2 is gone");
    cr_assert_eq(value_of(t, 1), (uint64_t)-1);
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}
