/* SPDX-License-Identifier: MIT */
/*
 * tests/test_backup.c - online backup (suite "backup") and compaction
 * (suite "compact"): copies that open with the same records, snapshots
 * taken while a writer commits, files that shrink, readers that keep
 * finding records while a table is rewritten under them, and a compactor
 * killed at random moments, with and without a power cut after the kill
 * (the test build's simulator in engine/base/os.c).
 *
 *   VMDB_SEED              the seed of timing, fillers and cuts
 *   VMDB_KILL_CYCLES       kill cycles x 50 (default 12 cycles)
 *   VMDB_POWERLOSS_CYCLES  power-cut cycles x 20 (default 12 cycles)
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "db.h"
#include "helpers.h"
#include "os_fault.h"
#include "os_powerloss.h"
#include "vmdb/db.h"
#include "vmdb/schema.h"

TestSuite(backup, .timeout = SUITE_TIMEOUT);
TestSuite(compact, .timeout = HARNESS_TIMEOUT);

/* ---- records that check themselves -------------------------------------- */

/* 72 bytes: a key, a version, words derived from both, and a check, so a
 * record read torn or from the wrong slot shows. */
struct item {
    uint64_t key;
    uint64_t version;
    uint64_t words[6];
    uint64_t check;
};

static const char *item_schema_text =
    "key:u64 key, version:u64, w0:u64, w1:u64, w2:u64, w3:u64, w4:u64, w5:u64, check:u64";

static struct item make_item(uint64_t key, uint64_t version)
{
    struct item r;
    r.key = key;
    r.version = version;
    for (int i = 0; i < 6; i++)
        r.words[i] = version * 1000003 + key * 7919 + (uint64_t)i;
    r.check = key ^ version ^ 0xC0FFEE;
    return r;
}

static bool item_ok(const struct item *r)
{
    if (r->check != (r->key ^ r->version ^ 0xC0FFEE))
        return false;
    for (int i = 0; i < 6; i++)
        if (r->words[i] != r->version * 1000003 + r->key * 7919 + (uint64_t)i)
            return false;
    return true;
}

static vmdb_db *open_db(const char *path, unsigned flags)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = flags, .wal_size = 1 << 20};
    ASSERT_OK(vmdb_open(path, &o, &db));
    return db;
}

static vmdb_table *create_table(vmdb_db *db, const char *name, const char *schema)
{
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse(schema, &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, name, s, &t));
    vmdb_schema_free(s);
    return t;
}

static vmdb_table *table(vmdb_db *db, const char *name)
{
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, name, NULL, &t));
    return t;
}

/* Puts items [from, to) with `version`, in transactions of 500. */
static void put_items(vmdb_db *db, vmdb_table *t, uint64_t from, uint64_t to, uint64_t version)
{
    for (uint64_t at = from; at < to;) {
        vmdb_txn *txn;
        ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
        for (uint64_t end = at + 500 < to ? at + 500 : to; at < end; at++) {
            struct item r = make_item(at, version);
            ASSERT_OK(vmdb_txn_put(txn, t, &r, NULL));
        }
        ASSERT_OK(vmdb_txn_commit(txn));
    }
}

/* Deletes the keys in [from, to) for which keep(key) is false. */
static void delete_items(vmdb_db *db, vmdb_table *t, uint64_t from, uint64_t to,
                         bool (*keep)(uint64_t key))
{
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    unsigned in_txn = 0;
    for (uint64_t key = from; key < to; key++) {
        if (keep(key))
            continue;
        ASSERT_OK(vmdb_txn_delete(txn, t, &key, sizeof key));
        if (++in_txn == 500) {
            ASSERT_OK(vmdb_txn_commit(txn));
            ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
            in_txn = 0;
        }
    }
    ASSERT_OK(vmdb_txn_commit(txn));
}

static uint64_t table_records(vmdb_table *t)
{
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    return st.records;
}

/* Every slot of every table of `a` holds the same bytes in `b`. */
struct compare {
    vmdb_db *other;
    uint64_t records;
};

static int compare_table(void *ctx, vmdb_table *t)
{
    struct compare *c = ctx;
    vmdb_table *u;
    ASSERT_OK(vmdb_table_open(c->other, vmdb_table_name(t), vmdb_table_schema(t), &u));
    vmdb_table_info st, su;
    ASSERT_OK(vmdb_table_stat(t, &st));
    ASSERT_OK(vmdb_table_stat(u, &su));
    cr_assert_eq(st.records, su.records, "table %s: %llu records, the copy %llu",
                 vmdb_table_name(t), (unsigned long long)st.records,
                 (unsigned long long)su.records);
    size_t size = st.record_size;
    unsigned char *a = malloc(size), *b = malloc(size);
    uint64_t cap = st.capacity > su.capacity ? st.capacity : su.capacity;
    for (uint64_t rid = 0; rid < cap; rid++) {
        int ra = vmdb_table_get_rid(t, rid, a), rb = vmdb_table_get_rid(u, rid, b);
        cr_assert_eq(ra, rb, "table %s record %llu: %s in the original, %s in the copy",
                     vmdb_table_name(t), (unsigned long long)rid, vmdb_error_name(ra),
                     vmdb_error_name(rb));
        if (ra == 0) {
            cr_assert_eq(memcmp(a, b, size), 0, "table %s record %llu differs",
                         vmdb_table_name(t), (unsigned long long)rid);
            c->records++;
        }
    }
    free(a);
    free(b);
    return 0;
}

static uint64_t compare_dbs(vmdb_db *a, vmdb_db *b)
{
    vmdb_db_info ia, ib;
    ASSERT_OK(vmdb_db_stat(a, &ia));
    ASSERT_OK(vmdb_db_stat(b, &ib));
    cr_assert_eq(ia.tables, ib.tables);
    struct compare c = {.other = b};
    ASSERT_OK(vmdb_table_foreach(a, compare_table, &c));
    return c.records;
}

static bool keep_every_tenth(uint64_t key)
{
    return key % 10 == 3;
}

static bool path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Items 0..99 with every key below 90 deleted, then one byte of the
 * record in `damaged_rid` changed on disk: the state a compaction would
 * move records down from. Returns the table's file. */
static const char *damaged_spread_table(const char *path, uint64_t damaged_rid)
{
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = create_table(db, "items", item_schema_text);
    put_items(db, t, 0, 100, 1);
    for (uint64_t key = 0; key < 90; key++) {
        vmdb_txn *txn;
        ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
        ASSERT_OK(vmdb_txn_delete(txn, t, &key, sizeof key));
        ASSERT_OK(vmdb_txn_commit(txn));
    }
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    ASSERT_OK(vmdb_close(db));
    static char file[600];
    snprintf(file, sizeof file, "%s/items.vmt", path);
    /* A byte of the record, past the 16-byte slot header. */
    xor_byte_at(file, (long)(8192 + damaged_rid * st.slot_size + 16 + 20), 0x10);
    return file;
}

/* Whether directory `dir` holds a file whose name contains `part`. */
static bool dir_has(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "opendir %s", dir);
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL)
        found = strstr(e->d_name, part) != NULL;
    closedir(d);
    return found;
}


static uint64_t next_rand(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- backup ------------------------------------------------------------- */

/* Three tables: items with holes, names with string keys, and an empty one. */
static void fill_three_tables(vmdb_db *db)
{
    vmdb_table *items = create_table(db, "items", item_schema_text);
    vmdb_table *names = create_table(db, "names", "name:str16 key, count:u32");
    create_table(db, "empty", "id:u32 key, x:f64");
    put_items(db, items, 0, 3000, 1);
    delete_items(db, items, 0, 3000, keep_every_tenth);
    put_items(db, items, 3000, 3500, 2);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (uint32_t i = 0; i < 200; i++) {
        char rec[64] = {0};
        snprintf(rec, 16, "name-%u", i);
        memcpy(rec + 16, &i, 4);
        ASSERT_OK(vmdb_txn_put(txn, names, rec, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
}

Test(backup, copy_opens_with_every_record_of_every_table)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    fill_three_tables(db);
    /* A committed transaction still in the log must be in the copy too. */
    vmdb_table *items = table(db, "items");
    put_items(db, items, 5000, 5010, 3);
    const char *dest = test_path("copy");
    ASSERT_OK(vmdb_backup(db, dest));
    cr_assert(!path_exists(test_path("copy.tmp")), "no temporary left");

    vmdb_db *copy = open_db(dest, 0);
    vmdb_recovery rep;
    ASSERT_OK(vmdb_recovery_report(copy, &rep));
    cr_assert_eq(rep.transactions, 0, "a copy has nothing to replay");
    uint64_t records = compare_dbs(db, copy);
    cr_assert_eq(records, 300 + 500 + 10 + 200, "%llu records compared",
                 (unsigned long long)records);
    ASSERT_OK(vmdb_check(copy));
    uint64_t key = 5005;
    struct item r;
    ASSERT_OK(vmdb_table_get(table(copy, "items"), &key, sizeof key, &r, NULL));
    cr_assert(item_ok(&r) && r.version == 3);
    ASSERT_OK(vmdb_table_get(table(copy, "names"), "name-77", 7, (char[64]){0}, NULL));

    /* The copy is a database of its own: changing it leaves the original. */
    put_items(copy, table(copy, "items"), 9000, 9001, 4);
    key = 9000;
    cr_assert_eq(vmdb_table_get(items, &key, sizeof key, &r, NULL), VMDB_ENOTFOUND);
    vmdb_close(copy);

    /* Read-only opens of the copy work too (the index files were copied). */
    copy = open_db(dest, VMDB_DB_READONLY);
    ASSERT_OK(vmdb_table_get(table(copy, "items"), &key, sizeof key, &r, NULL));
    vmdb_close(copy);
    vmdb_close(db);
    remove_test_dir();
}

/* A writer thread moves units between accounts, so their sum never
 * changes; every copy must show that sum. */
struct bank {
    vmdb_db *db;
    vmdb_table *t;
    bool stop; /* atomic: the main thread sets it when the copies are made */
    uint64_t transfers;
    int failed;
};

#define ACCOUNTS 16
#define OPENING 1000

static void *banker(void *arg)
{
    struct bank *b = arg;
    uint64_t s = 42;
    while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
        uint64_t from = next_rand(&s) % ACCOUNTS, to = next_rand(&s) % ACCOUNTS;
        if (from == to)
            continue;
        vmdb_txn *txn;
        if (vmdb_txn_begin(b->db, 0, &txn) != 0) {
            b->failed++;
            return NULL;
        }
        uint64_t acct[2] = {from, to};
        int64_t delta[2] = {-1, +1};
        for (int i = 0; i < 2; i++) {
            struct {
                uint64_t id;
                int64_t balance;
            } rec;
            if (vmdb_table_get(b->t, &acct[i], sizeof acct[i], &rec, NULL) != 0)
                b->failed++;
            rec.balance += delta[i];
            if (vmdb_txn_put(txn, b->t, &rec, NULL) != 0)
                b->failed++;
        }
        if (vmdb_txn_commit(txn) != 0)
            b->failed++;
        __atomic_store_n(&b->transfers, b->transfers + 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static int64_t bank_total(vmdb_db *db, uint64_t *accounts)
{
    vmdb_table *t = table(db, "accounts");
    int64_t total = 0;
    *accounts = 0;
    for (uint64_t id = 0; id < ACCOUNTS; id++) {
        struct {
            uint64_t id;
            int64_t balance;
        } rec;
        if (vmdb_table_get(t, &id, sizeof id, &rec, NULL) == 0) {
            total += rec.balance;
            (*accounts)++;
        }
    }
    return total;
}

Test(backup, copy_is_a_consistent_snapshot_while_a_writer_commits)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    vmdb_table *t = create_table(db, "accounts", "id:u64 key, balance:i64");
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (uint64_t id = 0; id < ACCOUNTS; id++) {
        struct {
            uint64_t id;
            int64_t balance;
        } rec = {id, OPENING};
        ASSERT_OK(vmdb_txn_put(txn, t, &rec, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    struct bank b = {.db = db, .t = t};
    pthread_t thread;
    pthread_create(&thread, NULL, banker, &b);
    uint64_t seen[4];
    for (int i = 0; i < 4; i++) {
        /* Let some transfers happen between copies. */
        uint64_t before = __atomic_load_n(&b.transfers, __ATOMIC_RELAXED);
        while (__atomic_load_n(&b.transfers, __ATOMIC_RELAXED) < before + 200 && !b.failed)
            sched_yield();
        char name[16];
        snprintf(name, sizeof name, "copy%d", i);
        ASSERT_OK(vmdb_backup(db, test_path(name)));
        seen[i] = __atomic_load_n(&b.transfers, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&b.stop, true, __ATOMIC_RELEASE);
    pthread_join(thread, NULL);
    cr_assert_eq(b.failed, 0);
    cr_assert_geq(seen[3], 800, "the writer kept committing (%llu transfers)",
                 (unsigned long long)seen[3]);
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "copy%d", i);
        vmdb_db *copy = open_db(test_path(name), 0);
        uint64_t accounts;
        int64_t total = bank_total(copy, &accounts);
        cr_assert_eq(accounts, ACCOUNTS);
        cr_assert_eq(total, (int64_t)ACCOUNTS * OPENING,
                     "copy %d: the balances sum to %lld, not %lld", i, (long long)total,
                     (long long)ACCOUNTS * OPENING);
        ASSERT_OK(vmdb_check(copy));
        vmdb_close(copy);
    }
    uint64_t accounts;
    cr_assert_eq(bank_total(db, &accounts), (int64_t)ACCOUNTS * OPENING);
    vmdb_close(db);
    remove_test_dir();
}

Test(backup, copy_is_a_consistent_snapshot_while_another_process_commits)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = create_table(db, "accounts", "id:u64 key, balance:i64");
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (uint64_t id = 0; id < ACCOUNTS; id++) {
        struct {
            uint64_t id;
            int64_t balance;
        } rec = {id, OPENING};
        ASSERT_OK(vmdb_txn_put(txn, t, &rec, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    /* Shared, so the parent sees the banker's progress and failures. */
    vmdb_map *shared;
    ASSERT_OK(vmdb_map_anon(&(vmdb_map_options){.len = sizeof(struct bank),
                                                .flags = VMDB_MAP_SHARED},
                            &shared));
    struct bank *b = vmdb_map_ptr(shared);
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        b->db = open_db(path, 0);
        b->t = table(b->db, "accounts");
        banker(b); /* until killed */
        _exit(0);
    }
    for (int i = 0; i < 4; i++) {
        /* Let some transfers happen between copies. */
        uint64_t until = __atomic_load_n(&b->transfers, __ATOMIC_RELAXED) + 200;
        while (__atomic_load_n(&b->transfers, __ATOMIC_RELAXED) < until) {
            int status;
            cr_assert_neq(waitpid(pid, &status, WNOHANG), pid,
                          "the banker process ended (status %d)", status);
            nanosleep(&(struct timespec){0, 100 * 1000}, NULL);
        }
        char name[16];
        snprintf(name, sizeof name, "copy%d", i);
        ASSERT_OK(vmdb_backup(db, test_path(name)));
    }
    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    cr_assert_eq(b->failed, 0, "the banker process failed %d times", b->failed);
    vmdb_map_close(shared);
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "copy%d", i);
        vmdb_db *copy = open_db(test_path(name), 0);
        uint64_t accounts;
        int64_t total = bank_total(copy, &accounts);
        cr_assert_eq(accounts, ACCOUNTS);
        cr_assert_eq(total, (int64_t)ACCOUNTS * OPENING,
                     "copy %d: the balances sum to %lld, not %lld", i, (long long)total,
                     (long long)ACCOUNTS * OPENING);
        ASSERT_OK(vmdb_check(copy));
        vmdb_close(copy);
    }
    vmdb_close(db);
    remove_test_dir();
}

/* ---- writers during the copy ---------------------------------------------- */

/* What the test hook does while the backup copies without the lock. */
struct during_copy {
    vmdb_db *db;
    vmdb_table *t;
    uint64_t next_key;  /* the next item the committer puts */
    unsigned calls;
    unsigned checkpoints; /* how many of the calls checkpoint first */
    uint64_t items;     /* items committed per call */
    volatile bool done;
};
static struct during_copy during;

static void *commit_items(void *arg)
{
    struct during_copy *d = arg;
    for (uint64_t i = 0; i < d->items; i++) {
        vmdb_txn *txn;
        struct item r = make_item(d->next_key, 7);
        if (vmdb_txn_begin(d->db, 0, &txn) || vmdb_txn_put(txn, d->t, &r, NULL) ||
            vmdb_txn_commit(txn))
            return NULL;
        d->next_key++;
    }
    d->done = true;
    return NULL;
}

/* Commits from another thread and waits for it: a backup holding the
 * writer lock here would make the commits wait for it forever, and the
 * test fail by its timeout. */
static void commit_during_copy(vmdb_db *db)
{
    during.calls++;
    if (during.calls <= during.checkpoints)
        ASSERT_OK(vmdb_checkpoint(db));
    during.done = false;
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, commit_items, &during), 0);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    cr_assert(during.done, "a writer could not commit while the backup copied");
}

static void backup_with_commits_during_copy(unsigned checkpoints, uint64_t items,
                                            unsigned expect_retries)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    fill_three_tables(db);
    vmdb_table *t = table(db, "items");
    during = (struct during_copy){
        .db = db, .t = t, .next_key = 100000, .checkpoints = checkpoints, .items = items};
    vmdb__backup_test_hook = commit_during_copy;
    ASSERT_OK(vmdb_backup(db, test_path("copy")));
    vmdb__backup_test_hook = NULL;
    cr_assert_eq(db->backup_retries, expect_retries, "%llu copies begun again",
                 (unsigned long long)db->backup_retries);
    /* The copy has every item committed before the backup returned,
     * those committed during the copy included. */
    vmdb_db *copy = open_db(test_path("copy"), 0);
    uint64_t records = compare_dbs(db, copy);
    cr_assert_eq(records, 300 + 500 + 200 + during.calls * items, "%llu records",
                 (unsigned long long)records);
    for (uint64_t key = 100000; key < during.next_key; key++) {
        struct item r;
        ASSERT_OK(vmdb_table_get(table(copy, "items"), &key, sizeof key, &r, NULL));
        cr_assert(item_ok(&r) && r.version == 7);
    }
    ASSERT_OK(vmdb_check(copy));
    vmdb_close(copy);
    vmdb_close(db);
    remove_test_dir();
}

Test(backup, writers_commit_while_the_files_are_copied)
{
    backup_with_commits_during_copy(0, 50, 0);
    cr_assert_eq(during.calls, 1);
}

Test(backup, a_checkpoint_during_the_copy_makes_it_copy_again)
{
    /* The checkpoint frees the log the copy needed: one more attempt. */
    backup_with_commits_during_copy(1, 20, 1);
    cr_assert_eq(during.calls, 2);
}

Test(backup, copies_under_the_lock_when_checkpoints_keep_freeing_the_log)
{
    /* Three lock-free attempts fail, the fourth holds the lock (and so
     * has no writers during it: the hook is not called). */
    backup_with_commits_during_copy(3, 10, 3);
    cr_assert_eq(during.calls, 3);
}

Test(backup, automatic_checkpoints_wait_while_a_backup_copies)
{
    /* 3000 items of 72 bytes make more than half of the 1 MiB log, which
     * would trigger a checkpoint; the backup holds it back, so its first
     * copy stands. */
    backup_with_commits_during_copy(0, 3000, 0);
}

/* The copy is checked as it is made, and the error names the source's
 * file and slot (before: the copy's temporary file, found only when the
 * copy was opened). */
Test(backup, refuses_a_damaged_record_naming_the_source_slot)
{
    const char *path = test_path("db");
    const char *file = damaged_spread_table(path, 93);
    vmdb_db *db = open_db(path, 0);
    char want[700];
    snprintf(want, sizeof want, "%s: slot 93: checksum mismatch", file);
    const char *dest = test_path("copy");
    ASSERT_FAILS(vmdb_backup(db, dest), VMDB_ECORRUPT, want);
    cr_assert(!path_exists(dest), "no copy");
    cr_assert(!dir_has(test_dir(), "copy.tmp"), "no temporary copy left");
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(backup, a_table_cannot_be_dropped_or_compacted_while_a_backup_copies_it)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    fill_three_tables(db);
    __atomic_add_fetch(&db->backups, 1, __ATOMIC_RELAXED);
    ASSERT_FAILS(vmdb_table_drop(db, "items"), VMDB_EBUSY, "backup");
    ASSERT_FAILS(vmdb_compact(db, NULL), VMDB_EBUSY, "backup");
    __atomic_sub_fetch(&db->backups, 1, __ATOMIC_RELAXED);
    ASSERT_OK(vmdb_table_drop(db, "items"));
    vmdb_close(db);
    remove_test_dir();
}

Test(backup, refuses_a_destination_that_is_not_empty)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    fill_three_tables(db);
    const char *dest = test_path("full");
    cr_assert_eq(mkdir(dest, 0755), 0);
    write_file(test_path("full/keep.txt"), "mine", 4);
    ASSERT_FAILS(vmdb_backup(db, dest), VMDB_EEXIST, "full");
    size_t len;
    unsigned char *kept = read_file(test_path("full/keep.txt"), &len);
    cr_assert(len == 4 && memcmp(kept, "mine", 4) == 0, "the file there is untouched");
    free(kept);
    write_file(test_path("plainfile"), "x", 1);
    ASSERT_FAILS(vmdb_backup(db, test_path("plainfile")), VMDB_EEXIST, "plainfile");
    /* The database itself is no empty directory either. */
    ASSERT_FAILS(vmdb_backup(db, test_path("db")), VMDB_EEXIST, "db");
    /* An empty directory is taken. */
    cr_assert_eq(mkdir(test_path("empty"), 0755), 0);
    ASSERT_OK(vmdb_backup(db, test_path("empty")));
    vmdb_db *copy = open_db(test_path("empty"), 0);
    compare_dbs(db, copy);
    vmdb_close(copy);
    vmdb_close(db);
    remove_test_dir();
}

Test(backup, failed_backup_leaves_no_destination_and_no_temporary)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    fill_three_tables(db);
    const char *dest = test_path("copy");
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dest, (long)getpid());
    /* Each failure point in turn: the first write, the log's creation
     * (its rename), the final rename. */
    struct {
        enum vmdb__os_op op;
        unsigned skip;
    } faults[] = {
        {VMDB__OS_OP_WRITE, 0},
        {VMDB__OS_OP_ALLOCATE, 2},
        {VMDB__OS_OP_RENAME, 0},
        {VMDB__OS_OP_RENAME, 1},
    };
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        vmdb__os_inject_fault(faults[i].op, EIO, faults[i].skip);
        vmdb_error_clear();
        int rc = vmdb_backup(db, dest);
        vmdb__os_clear_faults();
        cr_assert_lt(rc, 0, "fault %zu: the backup should fail", i);
        cr_assert(!path_exists(dest), "fault %zu: %s exists after a failed backup (%s)", i,
                  dest, vmdb_last_error()->message);
        cr_assert(!path_exists(tmp), "fault %zu: %s is left behind", i, tmp);
    }
    /* The database is unharmed, and the next backup works. */
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_backup(db, dest));
    vmdb_db *copy = open_db(dest, 0);
    compare_dbs(db, copy);
    vmdb_close(copy);
    vmdb_close(db);
    remove_test_dir();
}

Test(backup, read_only_handle_is_refused_naming_the_database)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    fill_three_tables(db);
    vmdb_close(db);
    db = open_db(path, VMDB_DB_READONLY);
    ASSERT_FAILS(vmdb_backup(db, test_path("copy")), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb_compact(db, NULL), VMDB_EREADONLY, path);
    cr_assert(!path_exists(test_path("copy")));
    vmdb_close(db);
    remove_test_dir();
}

/* ---- compaction --------------------------------------------------------- */

Test(compact, shrinks_the_file_and_keeps_every_live_record)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = create_table(db, "items", item_schema_text);
    put_items(db, t, 0, 5000, 1);
    delete_items(db, t, 0, 5000, keep_every_tenth);
    const char *file = test_path("db/items.vmt");
    const char *index_file = test_path("db/items.vmi");
    uint64_t before = file_size(file), index_before = file_size(index_file);
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert_eq(st.records, 500);
    cr_assert_geq(st.high_water, 4990, "the records are spread out before");

    ASSERT_OK(vmdb_compact(db, "items"));
    uint64_t after = file_size(file);
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert_eq(st.records, 500);
    cr_assert_eq(st.capacity, 500, "exactly the slots needed, got %llu",
                 (unsigned long long)st.capacity);
    cr_assert_eq(st.high_water, 500, "no holes");
    cr_assert_lt(after, before / 5, "%llu bytes before, %llu after", (unsigned long long)before,
                 (unsigned long long)after);
    cr_assert_eq(after, 8192 + 500 * st.slot_size);
    cr_assert_lt(file_size(index_file), index_before, "the index shrank too");
    cr_assert_eq(st.file_bytes, after, "the handle maps the new file");
    ASSERT_OK(vmdb_check(db));

    /* Every live record by key, with its bytes; record ids are 0..499. */
    for (uint64_t key = 0; key < 5000; key++) {
        struct item r;
        uint64_t rid;
        int rc = vmdb_table_get(t, &key, sizeof key, &r, &rid);
        if (!keep_every_tenth(key)) {
            cr_assert_eq(rc, VMDB_ENOTFOUND, "key %llu was deleted", (unsigned long long)key);
            continue;
        }
        cr_assert_eq(rc, 0, "key %llu is lost: %s", (unsigned long long)key,
                     vmdb_error_name(rc));
        cr_assert(item_ok(&r) && r.key == key && r.version == 1);
        cr_assert_lt(rid, 500);
    }
    /* The table works on: inserts grow it again, deletes free slots. */
    put_items(db, t, 10000, 10100, 2);
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);

    db = open_db(path, 0);
    t = table(db, "items");
    cr_assert_eq(table_records(t), 600);
    for (uint64_t key = 3; key < 5000; key += 10) {
        struct item r;
        ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
        cr_assert(item_ok(&r) && r.key == key);
    }
    ASSERT_OK(vmdb_check(db));
    /* The 100 inserts grew the file past 600 slots; compacting cuts it to
     * 600, and a second compaction finds nothing to do. */
    ASSERT_OK(vmdb_compact(db, "items"));
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert_eq(st.capacity, 600);
    struct stat first, second;
    cr_assert_eq(stat(file, &first), 0);
    ASSERT_OK(vmdb_compact(db, "items"));
    cr_assert_eq(stat(file, &second), 0);
    cr_assert_eq(first.st_ino, second.st_ino, "no new file when there is nothing to do");
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

Test(compact, null_name_compacts_every_table)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    fill_three_tables(db);
    vmdb_table *items = table(db, "items");
    /* The copy taken before is the reference for records by key. */
    ASSERT_OK(vmdb_backup(db, test_path("before")));
    ASSERT_OK(vmdb_compact(db, NULL));
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(items, &st));
    cr_assert_eq(st.capacity, 800);
    ASSERT_OK(vmdb_table_stat(table(db, "empty"), &st));
    cr_assert_eq(st.capacity, 0);
    cr_assert_eq(file_size(test_path("db/empty.vmt")), 8192);
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);

    db = open_db(path, 0);
    vmdb_db *ref = open_db(test_path("before"), 0);
    vmdb_table *a = table(ref, "items"), *b = table(db, "items");
    vmdb_table_cursor c;
    vmdb_table_cursor_init(&c, a);
    struct item r, got;
    uint64_t seen = 0;
    while (vmdb_table_cursor_next(&c, NULL, &r) == 0) {
        ASSERT_OK(vmdb_table_get(b, &r.key, sizeof r.key, &got, NULL));
        cr_assert_eq(memcmp(&r, &got, sizeof r), 0);
        seen++;
    }
    cr_assert_eq(seen, 800);
    cr_assert_eq(table_records(table(db, "names")), 200);
    /* An empty table grows again from nothing. */
    vmdb_table *empty = table(db, "empty");
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    char rec[64] = {0};
    ASSERT_OK(vmdb_txn_put(txn, empty, rec, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_check(db));
    vmdb_close(ref);
    vmdb_close(db);
    remove_test_dir();
}

Test(compact, unknown_table_is_enotfound_naming_it)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    fill_three_tables(db);
    ASSERT_FAILS(vmdb_compact(db, "nosuchtable"), VMDB_ENOTFOUND, "nosuchtable");
    /* The lock was given back. */
    put_items(db, table(db, "items"), 100000, 100001, 1);
    vmdb_close(db);
    remove_test_dir();
}

/* A moved record is written again under a new checksum: compacting a
 * damaged one made it look whole (before: compact exited 0 and check
 * then passed with the changed byte in the record). */
Test(compact, refuses_a_table_with_a_damaged_record_and_moves_nothing)
{
    const char *path = test_path("db");
    const char *file = damaged_spread_table(path, 95);
    vmdb_db *db = open_db(path, 0);
    char want[700];
    snprintf(want, sizeof want, "%s: slot 95: checksum mismatch", file);
    ASSERT_FAILS(vmdb_compact(db, "items"), VMDB_ECORRUPT, want);
    ASSERT_FAILS(vmdb_check(db), VMDB_ECORRUPT, want);
    vmdb_table *t = table(db, "items");
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert_eq(st.high_water, 100, "nothing moved");
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

static bool has_item(vmdb_table *t, uint64_t key, uint64_t version)
{
    struct item r;
    return vmdb_table_get(t, &key, sizeof key, &r, NULL) == 0 && item_ok(&r) && r.version == version;
}

/* A process that opens the database (read-only or not), waits for the go,
 * then, as a writer, puts item `key` or, as a reader, checks that it and
 * the items delete_items(keep_every_tenth) left are there; exit status 0 if all held. */
static void other_process(const char *path, bool writer, uint64_t key, int ready, int go)
{
    vmdb_db *c;
    vmdb_db_options o = {.flags = writer ? 0 : VMDB_DB_READONLY};
    vmdb_table *t;
    char byte = vmdb_open(path, &o, &c) == 0 && vmdb_table_open(c, "items", NULL, &t) == 0;
    if (write(ready, &byte, 1) != 1 || !byte)
        _exit(1);
    if (read(go, &byte, 1) != 1)
        _exit(2);
    if (writer) {
        vmdb_txn *txn;
        struct item r = make_item(key, 9);
        if (vmdb_txn_begin(c, 0, &txn) || vmdb_txn_put(txn, t, &r, NULL) ||
            vmdb_txn_commit(txn))
            _exit(3);
    } else {
        for (uint64_t k = 3; k < 2000; k += 10)
            if (!has_item(t, k, 1))
                _exit(4);
        if (!has_item(t, key, 9))
            _exit(5);
    }
    vmdb_close(c);
    _exit(0);
}

Test(compact, every_other_handle_follows_the_new_files)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = create_table(db, "items", item_schema_text);
    put_items(db, t, 0, 2000, 1);
    delete_items(db, t, 0, 2000, keep_every_tenth);
    /* Handles opened before the compaction: another writer and a reader
     * in this process, a writer and a reader in other processes. */
    vmdb_db *second = open_db(path, 0), *reader = open_db(path, VMDB_DB_READONLY);
    vmdb_table *t2 = table(second, "items"), *tr = table(reader, "items");
    /* Each child has a pipe of its own to wait on, so that neither can
     * take the other's go. */
    int ready[2], go_writer[2], go_reader[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(go_writer), 0);
    cr_assert_eq(pipe(go_reader), 0);
    /* A child keeps only its ends of the pipes, so that it sees the end
     * of its pipe if this process dies before sending the go. */
    pid_t writer_pid = fork_child();
    if (writer_pid == 0) {
        close(ready[0]);
        close(go_writer[1]);
        close(go_reader[1]);
        other_process(path, true, 50001, ready[1], go_writer[0]);
    }
    char byte;
    cr_assert_eq(read(ready[0], &byte, 1), 1);
    cr_assert_eq(byte, 1, "the writer process opened the database");
    pid_t reader_pid = fork_child();
    if (reader_pid == 0) {
        close(ready[0]);
        close(go_writer[1]);
        close(go_reader[1]);
        other_process(path, false, 50001, ready[1], go_reader[0]);
    }
    cr_assert_eq(read(ready[0], &byte, 1), 1);
    cr_assert_eq(byte, 1, "the reader process opened the database");

    vmdb_table_info before, after;
    ASSERT_OK(vmdb_table_stat(t, &before));
    ASSERT_OK(vmdb_compact(db, "items"));
    ASSERT_OK(vmdb_table_stat(t, &after));
    cr_assert_lt(after.file_bytes, before.file_bytes, "the file was rewritten smaller");

    /* The other writer process commits into the new file; the reader
     * process then sees that record and the old ones. */
    cr_assert_eq(write(go_writer[1], "w", 1), 1);
    int status;
    cr_assert_eq(waitpid(writer_pid, &status, 0), writer_pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer process: %d", status);
    cr_assert_eq(write(go_reader[1], "r", 1), 1);
    cr_assert_eq(waitpid(reader_pid, &status, 0), reader_pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader process: %d", status);

    /* The second writer here commits, and every handle sees every write. */
    put_items(second, t2, 50002, 50003, 9);
    /* Other handles see a NONE commit once it is applied, after its log
     * flush (within milliseconds); the checkpoint applies it now. */
    ASSERT_OK(vmdb_checkpoint(second));
    for (uint64_t key = 50001; key <= 50002; key++) {
        cr_assert(has_item(t, key, 9), "the compacting handle misses %llu",
                  (unsigned long long)key);
        cr_assert(has_item(t2, key, 9), "the second handle misses %llu",
                  (unsigned long long)key);
        cr_assert(has_item(tr, key, 9), "the read-only handle misses %llu",
                  (unsigned long long)key);
    }
    for (uint64_t key = 3; key < 2000; key += 10)
        cr_assert(has_item(tr, key, 1) && has_item(t2, key, 1));
    int fds[] = {ready[0], ready[1], go_writer[0], go_writer[1], go_reader[0], go_reader[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        close(fds[i]);
    vmdb_close(reader);
    vmdb_close(second);
    vmdb_close(db);

    /* Nothing went into a file that lost its name. */
    db = open_db(path, 0);
    t = table(db, "items");
    cr_assert_eq(table_records(t), 200 + 2);
    cr_assert(has_item(t, 50001, 9) && has_item(t, 50002, 9));
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

Test(compact, a_failure_before_the_switch_changes_nothing)
{
    char path[512];
    snprintf(path, sizeof path, "%s", test_path("db"));
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = create_table(db, "items", item_schema_text);
    put_items(db, t, 0, 2000, 1);
    delete_items(db, t, 0, 2000, keep_every_tenth);
    ASSERT_OK(vmdb_check(db)); /* NONE commits applied: the file is as big as it gets */
    uint64_t before = file_size(test_path("db/items.vmt"));
    /* The new index's creation (a rename), then the table's rename. */
    for (unsigned skip = 0; skip < 2; skip++) {
        vmdb__os_inject_fault(VMDB__OS_OP_RENAME, EIO, skip);
        vmdb_error_clear();
        int rc = vmdb_compact(db, "items");
        vmdb__os_clear_faults();
        cr_assert_lt(rc, 0, "skip %u: the compaction should fail", skip);
        cr_assert_eq(file_size(test_path("db/items.vmt")), before, "skip %u", skip);
        ASSERT_OK(vmdb_check(db));
        put_items(db, t, 50000 + skip, 50001 + skip, 1); /* not poisoned */
    }
    /* The index's own rename fails after the table switched: the table is
     * compacted, the index not, and all is consistent. */
    vmdb__os_inject_fault(VMDB__OS_OP_RENAME, EIO, 2);
    cr_assert_lt(vmdb_compact(db, "items"), 0);
    vmdb__os_clear_faults();
    cr_assert_lt(file_size(test_path("db/items.vmt")), before);
    ASSERT_OK(vmdb_check(db));
    put_items(db, t, 60000, 60001, 1);
    ASSERT_OK(vmdb_compact(db, "items"));
    ASSERT_OK(vmdb_check(db));
    cr_assert_eq(table_records(t), 203);
    vmdb_close(db);
    db = open_db(path, 0);
    ASSERT_OK(vmdb_check(db));
    cr_assert_eq(table_records(table(db, "items")), 203);
    vmdb_close(db);
    remove_test_dir();
}

/* Readers hammer the table while the main thread deletes, compacts,
 * re-inserts and compacts again. Stable keys are never deleted: a reader
 * must always find them, whole. Others come and go: found or not, a
 * record found must be whole and carry the key asked for. */
/* Keys in the hot table: VMDB_HOT_KEYS, or 20000 (make valgrind asks for
 * fewer: its threads take turns, and the readers would starve the
 * compactor). */
static uint64_t hot_keys;
#define HOT_KEYS hot_keys

static bool is_stable(uint64_t key)
{
    return key % 4 == 0;
}

struct readers {
    vmdb_table *t;
    bool stop; /* atomic: the main thread sets it after its last round */
    uint64_t reads;
    uint64_t ptr_reads;
    int missing; /* stable keys not found */
    int wrong;   /* torn, or another key's record */
    int errors;  /* anything but 0 and VMDB_ENOTFOUND */
};

static void *hot_reader(void *arg)
{
    struct readers *h = arg;
    uint64_t s = (uint64_t)(uintptr_t)&s;
    while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
        uint64_t key = next_rand(&s) % HOT_KEYS;
        struct item r;
        uint64_t rid;
        int rc = vmdb_table_get(h->t, &key, sizeof key, &r, &rid);
        __atomic_add_fetch(&h->reads, 1, __ATOMIC_RELAXED);
        if (rc == VMDB_ENOTFOUND) {
            if (is_stable(key))
                __atomic_add_fetch(&h->missing, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (rc != 0) {
            __atomic_add_fetch(&h->errors, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (!item_ok(&r) || r.key != key)
            __atomic_add_fetch(&h->wrong, 1, __ATOMIC_RELAXED);
        /* Zero copy at the id just found: the record may have moved on
         * since, but whatever the pointer shows while still valid is whole. */
        const void *ptr;
        uint64_t seq;
        if (vmdb_table_get_ptr(h->t, rid, &ptr, &seq) == 0) {
            struct item copy;
            memcpy(&copy, ptr, sizeof copy);
            if (vmdb_table_read_valid(h->t, rid, seq)) {
                __atomic_add_fetch(&h->ptr_reads, 1, __ATOMIC_RELAXED);
                if (!item_ok(&copy))
                    __atomic_add_fetch(&h->wrong, 1, __ATOMIC_RELAXED);
            }
        }
    }
    return NULL;
}

static bool keep_stable(uint64_t key)
{
    return is_stable(key);
}

static bool keep_stable_and_odd(uint64_t key)
{
    return is_stable(key) || key % 2 == 1;
}

Test(compact, readers_keep_finding_records_while_tables_are_compacted)
{
    const char *env = getenv("VMDB_HOT_KEYS");
    hot_keys = env ? strtoull(env, NULL, 0) : 20000;
    if (hot_keys < 400)
        hot_keys = 400;
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    vmdb_table *t = create_table(db, "hot", item_schema_text);
    put_items(db, t, 0, HOT_KEYS, 1);
    struct readers h = {.t = t};
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&threads[i], NULL, hot_reader, &h);
    for (uint64_t round = 0; round < 4; round++) {
        delete_items(db, t, 0, HOT_KEYS, round % 2 ? keep_stable : keep_stable_and_odd);
        ASSERT_OK(vmdb_compact(db, "hot"));
        /* The readers read meanwhile, however busy the machine. */
        wait_past(&h.reads, __atomic_load_n(&h.reads, __ATOMIC_RELAXED) + 300);
        /* Back in, at the end of the table, then spread out by deletes. */
        put_items(db, t, 0, HOT_KEYS, round + 2);
        delete_items(db, t, 0, HOT_KEYS, keep_stable_and_odd);
        ASSERT_OK(vmdb_compact(db, NULL));
        put_items(db, t, 0, HOT_KEYS, round + 3);
    }
    __atomic_store_n(&h.stop, true, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    cr_log_info("%llu reads, %llu zero-copy reads", (unsigned long long)h.reads,
                (unsigned long long)h.ptr_reads);
    cr_assert_eq(h.wrong, 0, "%d reads returned a torn record or another key's", h.wrong);
    cr_assert_eq(h.missing, 0, "%d reads missed a key that was never deleted", h.missing);
    cr_assert_eq(h.errors, 0, "%d reads failed", h.errors);
    cr_assert_gt(h.reads, 1000);
    ASSERT_OK(vmdb_check(db));
    cr_assert_eq(table_records(t), HOT_KEYS);
    vmdb_close(db);
    remove_test_dir();
}

/* ---- a compactor killed at random moments ------------------------------- */

#define REAL_KEYS 20000
#define FILLER_BASE ((uint64_t)1 << 40)

/* The child: rounds of deleting a random half of the fillers (spread all
 * over the table), compacting, and adding fillers back, until killed. */
#define TRACKING UINT_MAX /* reported once the power-loss images exist */

static void compactor(const char *path, uint64_t seed, int report, bool track)
{
    /* Tracked from before anything is mapped, for a power cut after. */
    if (track) {
        unsigned started = TRACKING;
        if (vmdb__os_powerloss_track(path, true) != 0 ||
            write(report, &started, sizeof started) != sizeof started)
            _exit(12);
    }
    /* A commit at durability NONE survives a killed process, not a power
     * cut: under power cuts the fillers' transactions must be SYNC. */
    vmdb_db_options o = {.durability = track ? VMDB_DURABILITY_SYNC : VMDB_DURABILITY_NONE};
    vmdb_db *db;
    if (vmdb_open(path, &o, &db) != 0)
        _exit(2);
    vmdb_table *t;
    if (vmdb_table_open(db, "t", NULL, &t) != 0)
        _exit(3);
    uint64_t next_filler = FILLER_BASE;
    vmdb_table_cursor c;
    vmdb_table_cursor_init(&c, t);
    struct item r;
    while (vmdb_table_cursor_next(&c, NULL, &r) == 0)
        if (r.key >= next_filler)
            next_filler = r.key + 1;
    for (unsigned round = 0; round < 40; round++) {
        vmdb_txn *txn;
        if (vmdb_txn_begin(db, 0, &txn) != 0)
            _exit(4);
        vmdb_table_cursor_init(&c, t);
        while (vmdb_table_cursor_next(&c, NULL, &r) == 0)
            if (r.key >= FILLER_BASE && next_rand(&seed) % 2 &&
                vmdb_txn_delete(txn, t, &r.key, sizeof r.key) != 0)
                _exit(5);
        if (vmdb_txn_commit(txn) != 0)
            _exit(6);
        if (vmdb_compact(db, "t") != 0)
            _exit(7);
        if (write(report, &round, sizeof round) != sizeof round)
            _exit(11);
        if (vmdb_txn_begin(db, 0, &txn) != 0)
            _exit(8);
        for (unsigned i = 0; i < REAL_KEYS / 2; i++) {
            struct item f = make_item(next_filler++, round);
            if (vmdb_txn_put(txn, t, &f, NULL) != 0)
                _exit(9);
        }
        if (vmdb_txn_commit(txn) != 0)
            _exit(10);
    }
    _exit(0);
}

/* Kills the compactor `cycles` times at random moments; after each kill,
 * with `cut`, also cuts the power (each page written since its last sync
 * lost, kept or torn). Then every real record must be there, whole. */
static void kill_compactor(unsigned cycles, bool cut)
{
    uint64_t seed = test_seed(20261207);
    const char *path = test_path("db");
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 4 << 20};
    ASSERT_OK(vmdb_open(path, &o, &db));
    vmdb_table *t = create_table(db, "t", item_schema_text);
    /* Real records and fillers interleaved, so the fillers' deletes leave
     * holes everywhere and real records move. */
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (uint64_t i = 0; i < REAL_KEYS; i++) {
        struct item real = make_item(i, 7), filler = make_item(FILLER_BASE + i, 0);
        ASSERT_OK(vmdb_txn_put(txn, t, &real, NULL));
        ASSERT_OK(vmdb_txn_put(txn, t, &filler, NULL));
        if (i % 1000 == 999) {
            ASSERT_OK(vmdb_txn_commit(txn));
            ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
        }
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    vmdb_close(db);

    uint64_t rs = seed, moved_total = 0;
    unsigned compactions = 0, mid_rewrite = 0, replayed = 0;
    /* How long the compactor takes to its first report here (open, delete,
     * compact), so the kills spread over its rounds on any machine. */
    uint64_t round_ns = 0;
    for (unsigned cycle = 0; cycle < cycles; cycle++) {
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork_child();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            close(fds[0]);
            compactor(path, seed + cycle, fds[1], cut);
        }
        close(fds[1]);
        /* The kill waits for a compaction (always in the first cycle: the
         * checks at the end want one) or none, then up to two and a half
         * times that long (a whole round also refills the table): so often
         * in the first compaction, later in any. */
        unsigned target = cycle == 0 ? 1 : (unsigned)(next_rand(&rs) % 2), round;
        uint64_t start = now_ns();
        /* A power cut needs the images, which the compactor makes first. */
        if (cut && (read(fds[0], &round, sizeof round) != sizeof round || round != TRACKING)) {
            int status;
            cr_assert_eq(waitpid(pid, &status, 0), pid);
            cr_assert_fail("cycle %u: the compactor did not start tracking (status %d)", cycle,
                           status);
        }
        for (unsigned got = 0; got < target; got++) {
            if (read(fds[0], &round, sizeof round) != sizeof round) {
                int status;
                cr_assert_eq(waitpid(pid, &status, 0), pid);
                cr_assert_fail("cycle %u: the compactor ended before its report (status %d)",
                               cycle, status);
            }
            compactions++;
        }
        if (target > 0)
            round_ns = cycle == 0 ? now_ns() - start : (3 * round_ns + now_ns() - start) / 4;
        uint64_t ns = next_rand(&rs) % (2 * round_ns + round_ns / 2 + 1);
        nanosleep(&(struct timespec){(time_t)(ns / 1000000000), (long)(ns % 1000000000)}, NULL);
        kill(pid, SIGKILL);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
                  "cycle %u: the compactor failed with status %d", cycle,
                  WEXITSTATUS(status));
        while (read(fds[0], &round, sizeof round) == sizeof round)
            compactions++;
        close(fds[0]);
        /* A kill in the middle of writing the new files leaves them. */
        mid_rewrite += dir_has(path, ".compact-");
        vmdb__powerloss_report report = {.summary = ""};
        if (cut)
            ASSERT_OK(vmdb__os_powerloss_cut(path, next_rand(&rs), VMDB__POWERLOSS_RANDOM,
                                             &report));

        int orc = vmdb_open(path, NULL, &db);
        cr_assert_eq(orc, 0, "cycle %u: reopen -> %s: %s (cut: %s)", cycle,
                     vmdb_error_name(orc), vmdb_last_error()->message, report.summary);
        t = table(db, "t");
        vmdb_recovery rep;
        ASSERT_OK(vmdb_recovery_report(db, &rep));
        replayed += rep.transactions > 0;
        int crc = vmdb_check(db);
        cr_assert_eq(crc, 0, "cycle %u: vmdb_check -> %s: %s (cut: %s)", cycle,
                     vmdb_error_name(crc), vmdb_last_error()->message, report.summary);
        for (uint64_t key = 0; key < REAL_KEYS; key++) {
            struct item r;
            uint64_t rid;
            int rc = vmdb_table_get(t, &key, sizeof key, &r, &rid);
            cr_assert_eq(rc, 0, "cycle %u: record %llu is lost (%s; cut: %s)", cycle,
                         (unsigned long long)key, vmdb_error_name(rc), report.summary);
            cr_assert(item_ok(&r) && r.key == key && r.version == 7,
                      "cycle %u: record %llu is damaged", cycle, (unsigned long long)key);
            if (rid != key * 2)
                moved_total++;
        }
        vmdb_table_cursor c;
        vmdb_table_cursor_init(&c, t);
        struct item r;
        uint64_t reals = 0;
        while (vmdb_table_cursor_next(&c, NULL, &r) == 0) {
            cr_assert(item_ok(&r), "cycle %u: a damaged record, key %llu", cycle,
                      (unsigned long long)r.key);
            reals += r.key < REAL_KEYS;
        }
        cr_assert_eq(reals, REAL_KEYS, "cycle %u: no record twice", cycle);
        vmdb_close(db);
    }
    cr_log_info("%u kills%s: %u compactions completed, %u kills left a rewrite's files, %u "
                "needed replay, %llu real records found moved; a round took %llu ms",
                cycles, cut ? " and power cuts" : "", compactions, mid_rewrite, replayed,
                (unsigned long long)moved_total, (unsigned long long)round_ns / 1000000);
    cr_assert_gt(compactions, 0, "the compactor should get compactions done");
    cr_assert_gt(moved_total, 0, "the compactor should have moved records");
    remove_test_dir();
}

Test(compact, killed_compactor_leaves_a_database_with_every_record)
{
    const char *env = getenv("VMDB_KILL_CYCLES");
    unsigned cycles = env ? (unsigned)strtoul(env, NULL, 0) / 50 : 12;
    kill_compactor(cycles < 3 ? 3 : cycles, false);
}

Test(compact, power_cut_during_compaction_loses_no_record)
{
    const char *env = getenv("VMDB_POWERLOSS_CYCLES");
    unsigned cycles = env ? (unsigned)strtoul(env, NULL, 0) / 20 : 12;
    kill_compactor(cycles < 3 ? 3 : cycles, true);
}

/* The copy's log starts past every position its slots name: a writer of
 * the copy killed after committing, and recovered, finds its tables and
 * its log in agreement (they would not be if the copy's log began again
 * at 0 under slots written at higher positions of the source's). */
Test(backup, a_copy_written_then_killed_recovers_what_it_committed)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    fill_three_tables(db);
    put_items(db, table(db, "items"), 5000, 5010, 3);
    const char *dest = test_path("copy");
    ASSERT_OK(vmdb_backup(db, dest));
    ASSERT_OK(vmdb_close(db));
    pid_t pid = fork_child();
    if (pid == 0) {
        vmdb_db *c;
        vmdb_table *t;
        vmdb_db_options o = {.durability = VMDB_DURABILITY_SYNC};
        vmdb_txn *txn;
        struct item r = make_item(5005, 4);
        if (vmdb_open(dest, &o, &c) || vmdb_table_open(c, "items", NULL, &t) ||
            vmdb_txn_begin(c, 0, &txn) || vmdb_txn_put(txn, t, &r, NULL) ||
            vmdb_txn_commit(txn))
            _exit(1);
        raise(SIGKILL);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "the copy's writer failed (%#x)", status);
    vmdb_db *copy = open_db(dest, 0);
    uint64_t key = 5005;
    struct item r;
    ASSERT_OK(vmdb_table_get(table(copy, "items"), &key, sizeof key, &r, NULL));
    cr_assert_eq(r.version, 4);
    ASSERT_OK(vmdb_check(copy));
    ASSERT_OK(vmdb_close(copy));
    remove_test_dir();
}
