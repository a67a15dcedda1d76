/* SPDX-License-Identifier: MIT */
/*
 * tests/test_wal_list.c - vmdb_wal_foreach lists what recovery would
 * replay: the log of a writer that was killed before it could checkpoint.
 */
#include <signal.h>
#include <sys/wait.h>

#include "helpers.h"

TestSuite(wal_list, .timeout = SUITE_TIMEOUT);

struct row {
    uint64_t id;
    char name[24];
};

struct seen {
    vmdb_wal_entry e[16];
    char table[16][64]; /* the names die with the handle: copied */
    size_t n;
};

static int collect(void *ctx, const vmdb_wal_entry *entry)
{
    struct seen *s = ctx;
    cr_assert_lt(s->n, 16);
    snprintf(s->table[s->n], sizeof s->table[s->n], "%s", entry->table);
    s->e[s->n] = *entry;
    s->e[s->n].table = s->table[s->n];
    s->n++;
    return 0;
}

/* A writer that commits put(1), then put(2)+delete(1), then leaves a
 * transaction half written (its records published by nobody) and dies. */
static void crashed_writer(const char *path)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 64 << 10};
    ASSERT_OK(vmdb_open(path, &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u64 key, name:str24", &s));
    ASSERT_OK(vmdb_table_create(db, "people", s, NULL));
    vmdb_schema_free(s);
    vmdb_close(db);
    pid_t pid = fork_child();
    if (pid == 0) {
        vmdb_table *t;
        vmdb_txn *txn;
        if (vmdb_open(path, NULL, &db) || vmdb_table_open(db, "people", NULL, &t))
            _exit(1);
        struct row a = {.id = 1, .name = "ada"}, b = {.id = 2, .name = "bob"};
        uint64_t key = 1;
        if (vmdb_txn_begin(db, 0, &txn) || vmdb_txn_put(txn, t, &a, NULL) ||
            vmdb_txn_commit(txn))
            _exit(2);
        if (vmdb_txn_begin(db, 0, &txn) || vmdb_txn_put(txn, t, &b, NULL) ||
            vmdb_txn_delete(txn, t, &key, sizeof key) || vmdb_txn_commit(txn))
            _exit(3);
        raise(SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status), "the writer was to die by SIGKILL");
}

Test(wal_list, lists_committed_transactions_with_tables_and_kinds)
{
    const char *path = test_path("db");
    crashed_writer(path);
    vmdb_db *db;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY | VMDB_DB_AS_IS};
    ASSERT_OK(vmdb_open(path, &ro, &db));
    struct seen s = {0};
    ASSERT_OK(vmdb_wal_foreach(db, collect, &s));
    vmdb_close(db);

    static const char *const kinds[] = {"put", "commit", "put", "delete", "commit"};
    cr_assert_eq(s.n, 5, "records listed: %zu", s.n);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_str_eq(s.e[i].kind, kinds[i], "record %zu", i);
        cr_assert(s.e[i].valid && s.e[i].committed, "record %zu", i);
        cr_assert_str_eq(s.e[i].table, i == 1 || i == 4 ? "" : "people", "record %zu: table \"%s\"", i, s.e[i].table);
        if (i > 0)
            cr_assert_eq(s.e[i].lsn, s.e[i - 1].lsn + s.e[i - 1].len, "records are contiguous");
    }
    cr_assert_eq(s.e[0].txn, s.e[0].lsn, "a transaction is named by its first record");
    cr_assert_eq(s.e[1].txn, s.e[0].lsn);
    cr_assert_eq(s.e[3].txn, s.e[2].lsn);
    cr_assert_eq(s.e[0].payload_len, sizeof(struct row));
    cr_assert_eq(s.e[3].payload_len, sizeof(uint64_t), "a delete logs the key");
    cr_assert_eq(s.e[4].payload_len, 0);
}

Test(wal_list, a_damaged_record_is_listed_last_as_invalid_and_uncommitted)
{
    const char *path = test_path("db");
    crashed_writer(path);
    vmdb_db *db;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY | VMDB_DB_AS_IS};
    ASSERT_OK(vmdb_open(path, &ro, &db));
    struct seen before = {0};
    ASSERT_OK(vmdb_wal_foreach(db, collect, &before));
    vmdb_close(db);

    /* Damage the payload of the second transaction's delete: its checksum
     * fails, so the log ends there and that transaction never commits. */
    vmdb_ring *ring;
    char wal[600];
    snprintf(wal, sizeof wal, "%s/wal.ring", path);
    vmdb_ring_options rop = {.flags = VMDB_RING_READONLY};
    ASSERT_OK(vmdb_ring_open(wal, &rop, &ring));
    uint64_t cap = vmdb_ring_cap(ring);
    vmdb_ring_close(ring);
    uint64_t off = vmdb_page_size() + (before.e[3].lsn + 56) % cap;
    FILE *f = fopen(wal, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, (long)off, SEEK_SET), 0);
    int c = fgetc(f);
    cr_assert_eq(fseek(f, (long)off, SEEK_SET), 0);
    fputc(c ^ 0x40, f);
    fclose(f);

    ASSERT_OK(vmdb_open(path, &ro, &db));
    struct seen s = {0};
    ASSERT_OK(vmdb_wal_foreach(db, collect, &s));
    vmdb_close(db);
    cr_assert_eq(s.n, 4, "records listed: %zu", s.n);
    cr_assert(s.e[0].committed && s.e[1].committed);
    cr_assert(s.e[2].valid && !s.e[2].committed, "its commit is past the damage");
    cr_assert(!s.e[3].valid && !s.e[3].committed);
    cr_assert_eq(s.e[3].lsn, before.e[3].lsn);
    cr_assert_str_eq(s.e[3].kind, "delete");
}

static int stop_at_two(void *ctx, const vmdb_wal_entry *e)
{
    (void)e;
    return ++*(int *)ctx == 2 ? 7 : 0;
}

Test(wal_list, the_callback_stops_the_listing)
{
    const char *path = test_path("db");
    crashed_writer(path);
    vmdb_db *db;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY | VMDB_DB_AS_IS};
    ASSERT_OK(vmdb_open(path, &ro, &db));
    cr_assert_eq(vmdb_wal_foreach(db, NULL, NULL), VMDB_EINVAL);
    int calls = 0;
    cr_assert_eq(vmdb_wal_foreach(db, stop_at_two, &calls), 7);
    cr_assert_eq(calls, 2);
    vmdb_close(db);
}
