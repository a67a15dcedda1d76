/* SPDX-License-Identifier: MIT */
/*
 * tests/test_txn.c - what a transaction promises the program (issue 11):
 * an operation that fails with an answer (not found, exists) changes
 * nothing and the transaction goes on; any other failure fails the
 * transaction, whose later operations and commit return that first
 * failure, and whose commit leaves nothing behind.
 */
#include <errno.h>

#include "helpers.h"
#include "os_fault.h"
#include "rows.h"
#include "vmdb/db.h"
#include "vmdb/schema.h"

TestSuite(txn, .timeout = SUITE_TIMEOUT);

static vmdb_db *open_db(const char *path, uint64_t wal_size)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = wal_size};
    ASSERT_OK(vmdb_open(path, &o, &db));
    return db;
}

static uint64_t row_count(vmdb_table *t)
{
    vmdb_table_info info;
    ASSERT_OK(vmdb_table_stat(t, &info));
    return info.records;
}

/* After a failure, every operation and the commit say so, naming it. */
static void assert_failed_for_good(vmdb_txn *txn, vmdb_table *t, int code, const char *first)
{
    struct row r = {999999, 1};
    uint64_t key = 1;
    ASSERT_FAILS(vmdb_txn_put(txn, t, &r, NULL), code, "failed earlier");
    cr_assert(strstr(vmdb_last_error()->message, first), "the first failure is named: %s",
              vmdb_last_error()->message);
    ASSERT_FAILS(vmdb_txn_insert(txn, t, &r, NULL), code, "failed earlier");
    ASSERT_FAILS(vmdb_txn_update(txn, t, &r), code, "failed earlier");
    ASSERT_FAILS(vmdb_txn_update_rid(txn, t, 0, &r), code, "failed earlier");
    ASSERT_FAILS(vmdb_txn_delete(txn, t, &key, sizeof key), code, "failed earlier");
    ASSERT_FAILS(vmdb_txn_delete_rid(txn, t, 0), code, "failed earlier");
    ASSERT_FAILS(vmdb_txn_commit(txn), code, "not committed");
    cr_assert(strstr(vmdb_last_error()->message, first), "the commit names the failure: %s",
              vmdb_last_error()->message);
}

/* The case: a transaction bigger than the log. Before, the puts
 * past the full log failed, the commit returned 0 and kept the first
 * 11,915 rows. */
Test(txn, a_put_the_log_cannot_hold_fails_the_transaction_and_its_commit)
{
    vmdb_db *db = open_db(test_path("db"), 1 << 20);
    vmdb_table *t = rows_table(db);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    uint64_t id = 0;
    int rc = 0;
    for (; id < 100000 && rc == 0; id++)
        rc = vmdb_txn_put(txn, t, &(struct row){id, id}, NULL);
    cr_assert_eq(rc, VMDB_EFULL, "the log was to fill up: %d after %llu puts", rc,
                 (unsigned long long)id);
    assert_failed_for_good(txn, t, VMDB_EFULL, "log");
    cr_assert_eq(row_count(t), 0, "nothing of the failed transaction is in the table");
    /* The database goes on. */
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &(struct row){1, 10}, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    cr_assert_eq(row_count(t), 1);
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

Test(txn, answers_leave_the_transaction_going)
{
    vmdb_db *db = open_db(test_path("db"), 0);
    vmdb_table *t = rows_table(db);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_insert(txn, t, &(struct row){1, 10}, NULL));
    ASSERT_FAILS(vmdb_txn_insert(txn, t, &(struct row){1, 11}, NULL), VMDB_EEXIST, "rows");
    ASSERT_FAILS(vmdb_txn_update(txn, t, &(struct row){2, 20}), VMDB_ENOTFOUND, "rows");
    uint64_t key = 3;
    ASSERT_FAILS(vmdb_txn_delete(txn, t, &key, sizeof key), VMDB_ENOTFOUND, "rows");
    ASSERT_FAILS(vmdb_txn_delete_rid(txn, t, 77), VMDB_ENOTFOUND, "rows");
    ASSERT_FAILS(vmdb_txn_update_rid(txn, t, 77, &(struct row){4, 40}), VMDB_ENOTFOUND, "rows");
    ASSERT_OK(vmdb_txn_put(txn, t, &(struct row){2, 20}, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    cr_assert_eq(row_count(t), 2);
    struct row r;
    key = 1;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
    cr_assert_eq(r.value, 10, "the refused insert changed nothing");
    vmdb_close(db);
    remove_test_dir();
}

Test(txn, a_call_with_a_wrong_argument_fails_the_transaction)
{
    vmdb_db *db = open_db(test_path("db"), 0);
    vmdb_table *t = rows_table(db);
    vmdb_db *other = open_db(test_path("other"), 0);
    vmdb_table *foreign = rows_table(other);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &(struct row){1, 10}, NULL));
    ASSERT_FAILS(vmdb_txn_put(txn, foreign, &(struct row){2, 20}, NULL), VMDB_EINVAL,
                 "another database");
    assert_failed_for_good(txn, t, VMDB_EINVAL, "another database");
    cr_assert_eq(row_count(t), 0);
    vmdb_close(other);
    vmdb_close(db);
    remove_test_dir();
}

/* ---- keys of the wrong length (point 5) ---------------------------------- */

Test(txn, a_key_of_a_length_the_key_field_cannot_have_is_an_error)
{
    vmdb_db *db = open_db(test_path("db"), 0);
    vmdb_table *t = rows_table(db);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &(struct row){7, 70}, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    struct row r;
    uint32_t short_key = 7;
    ASSERT_FAILS(vmdb_table_get(t, &short_key, sizeof short_key, &r, NULL), VMDB_EINVAL,
                 "rows: a key of 4 bytes; key field 'id' (u64) takes 8");
    uint64_t key = 7;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
    cr_assert_eq(r.value, 70);
    /* In a transaction the wrong key fails it, like any other misuse. */
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_FAILS(vmdb_txn_delete(txn, t, &short_key, sizeof short_key), VMDB_EINVAL, "takes 8");
    ASSERT_FAILS(vmdb_txn_commit(txn), VMDB_EINVAL, "not committed");
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
    vmdb_close(db);
    remove_test_dir();
}

Test(txn, a_str_key_is_its_bytes_up_to_the_first_nul)
{
    vmdb_db *db = open_db(test_path("db"), 0);
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("name:str8 key, n:u32", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "names", s, &t));
    vmdb_schema_free(s);
    struct {
        char name[8];
        uint32_t n, pad; /* the schema rounds records to 8 bytes */
    } rec = {"bob", 1, 0}, got;
    cr_assert_eq(vmdb_schema_record_size(vmdb_table_schema(t)), sizeof rec);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &rec, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_table_get(t, "bob", 3, &got, NULL));
    ASSERT_OK(vmdb_table_get(t, "bob", 4, &got, NULL)); /* with its NUL */
    ASSERT_OK(vmdb_table_get(t, "bob\0\0\0\0", 8, &got, NULL));
    cr_assert_eq(got.n, 1);
    cr_assert_eq(vmdb_table_get(t, "bobby", 5, &got, NULL), VMDB_ENOTFOUND);
    ASSERT_FAILS(vmdb_table_get(t, "bartholomew", 11, &got, NULL), VMDB_EINVAL,
                 "names: a key of 11 bytes; key field 'name' (str8) holds at most 8");
    vmdb_close(db);
    remove_test_dir();
}

/* ---- nothing hangs (point 4) ---------------------------------------------- */

Test(txn, a_thread_with_a_transaction_open_gets_ebusy_not_a_wait_for_itself)
{
    vmdb_db *db = open_db(test_path("db"), 0);
    vmdb_table *t = rows_table(db);
    vmdb_txn *txn, *second = (vmdb_txn *)1;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &(struct row){1, 10}, NULL));
    ASSERT_FAILS(vmdb_txn_begin(db, 0, &second), VMDB_EBUSY, "a transaction is open");
    cr_assert_null(second);
    ASSERT_FAILS(vmdb_checkpoint(db), VMDB_EBUSY, "commit or abort it first");
    ASSERT_FAILS(vmdb_compact(db, "rows"), VMDB_EBUSY, "a transaction is open");
    /* The open transaction is unharmed. */
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_txn_begin(db, 0, &second));
    vmdb_txn_abort(second);
    struct row r;
    uint64_t key = 1;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
    cr_assert_eq(vmdb_close(db), 0);
    remove_test_dir();
}

Test(txn, close_aborts_the_transaction_its_thread_left_open)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, 0);
    vmdb_table *t = rows_table(db);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &(struct row){1, 10}, NULL));
    cr_assert_eq(vmdb_close(db), 0, "%s", vmdb_last_error()->message);
    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "rows", NULL, &t));
    struct row r;
    uint64_t key = 1;
    cr_assert_eq(vmdb_table_get(t, &key, sizeof key, &r, NULL), VMDB_ENOTFOUND,
                 "the open transaction was aborted, not committed");
    ASSERT_OK(vmdb_check(db));
    cr_assert_eq(vmdb_close(db), 0);
    remove_test_dir();
}

Test(txn, close_reports_a_failed_last_checkpoint)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, 0);
    vmdb_table *t = rows_table(db);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &(struct row){1, 10}, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    vmdb__os_inject_fault(VMDB__OS_OP_FLUSH, EIO, 0);
    vmdb__os_inject_fault(VMDB__OS_OP_SYNC, EIO, 0);
    int rc = vmdb_close(db);
    vmdb__os_clear_faults();
    cr_assert(rc == VMDB_EIO || rc == VMDB_EPOISONED, "close returned %d: %s", rc,
              vmdb_last_error()->message);
    /* What was committed is in the log: the next open recovers it. */
    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "rows", NULL, &t));
    struct row r;
    uint64_t key = 1;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
    cr_assert_eq(r.value, 10);
    cr_assert_eq(vmdb_close(db), 0);
    remove_test_dir();
}

/* ---- a transaction reads its own writes (point 2) ------------------------- */

static uint64_t txn_value(vmdb_txn *txn, vmdb_table *t, uint64_t id)
{
    struct row r;
    int rc = vmdb_txn_get(txn, t, &id, sizeof id, &r, NULL);
    if (rc == VMDB_ENOTFOUND)
        return UINT64_MAX;
    ASSERT_OK(rc);
    return r.value;
}

Test(txn, a_transaction_reads_its_own_writes)
{
    vmdb_db *db = open_db(test_path("db"), 0);
    vmdb_table *t = rows_table(db);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &(struct row){1, 5}, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));

    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    /* Read and add one, twice: 5 becomes 7, not 6. */
    for (int i = 0; i < 2; i++) {
        uint64_t v = txn_value(txn, t, 1);
        ASSERT_OK(vmdb_txn_update(txn, t, &(struct row){1, v + 1}));
    }
    cr_assert_eq(txn_value(txn, t, 1), 7);
    /* A new key is there for the transaction, not yet for others. */
    uint64_t rid;
    ASSERT_OK(vmdb_txn_insert(txn, t, &(struct row){2, 20}, &rid));
    cr_assert_eq(txn_value(txn, t, 2), 20);
    struct row r;
    ASSERT_OK(vmdb_txn_get_rid(txn, t, rid, &r));
    cr_assert_eq(r.id, 2);
    uint64_t key = 2;
    cr_assert_eq(vmdb_table_get(t, &key, sizeof key, &r, NULL), VMDB_ENOTFOUND);
    key = 1;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
    cr_assert_eq(r.value, 5, "others see the committed value until the commit");
    /* A delete, then the key is gone for it; its record id too. */
    ASSERT_OK(vmdb_txn_delete(txn, t, &key, sizeof key));
    cr_assert_eq(txn_value(txn, t, 1), UINT64_MAX);
    cr_assert_eq(vmdb_txn_get(txn, t, &key, sizeof key, NULL, NULL), VMDB_ENOTFOUND);
    ASSERT_OK(vmdb_txn_commit(txn));
    key = 2;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
    cr_assert_eq(r.value, 20);
    vmdb_close(db);
    remove_test_dir();
}

/* vmdb_table_get with no record looks the key up; vmdb_table_get_ptr then reads the
 * record in place. */
Test(txn, a_get_without_a_record_finds_the_id_for_a_zero_copy_read)
{
    vmdb_db *db = open_db(test_path("db"), 0);
    vmdb_table *t = rows_table(db);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    for (uint64_t id = 0; id < 10; id++)
        ASSERT_OK(vmdb_txn_put(txn, t, &(struct row){id, id * 11}, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    uint64_t key = 7, rid = UINT64_MAX, seq;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, NULL, &rid));
    const void *p;
    ASSERT_OK(vmdb_table_get_ptr(t, rid, &p, &seq));
    const struct row *r = p;
    cr_assert_eq(r->id, 7);
    cr_assert_eq(r->value, 77);
    key = 70;
    cr_assert_eq(vmdb_table_get(t, &key, sizeof key, NULL, &rid), VMDB_ENOTFOUND);
    vmdb_close(db);
    remove_test_dir();
}

/* A full disk when a table must grow for an insert: the insert fails, the
 * transaction with it, and nothing of it comes back later. Before, the
 * table grew when the commit was applied: the commit failed after its
 * log was written, and the next writer replayed it once space was free. */
Test(txn, a_full_disk_fails_the_insert_that_needs_room_and_it_never_reappears)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, 1 << 20);
    vmdb_table *t = rows_table(db);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    for (uint64_t id = 0; id < 64; id++) /* the table's first 64 slots */
        ASSERT_OK(vmdb_txn_put(txn, t, &(struct row){id, id}, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    cr_assert_eq(row_count(t), 64);

    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    ASSERT_OK(vmdb_txn_update(txn, t, &(struct row){0, 1000}));
    vmdb__os_inject_fault(VMDB__OS_OP_ALLOCATE, ENOSPC, 0);
    ASSERT_FAILS(vmdb_txn_put(txn, t, &(struct row){64, 64}, NULL), VMDB_ENOSPC, "");
    vmdb__os_clear_faults();
    ASSERT_FAILS(vmdb_txn_commit(txn), VMDB_ENOSPC, "not committed");
    /* The handle goes on: the disk has room again. */
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &(struct row){65, 65}, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_close(db));

    vmdb_db_options o = {0};
    ASSERT_OK(vmdb_open(path, &o, &db));
    ASSERT_OK(vmdb_table_open(db, "rows", NULL, &t));
    struct row r;
    uint64_t key = 64;
    cr_assert_eq(vmdb_table_get(t, &key, sizeof key, &r, NULL), VMDB_ENOTFOUND,
                 "the insert that failed came back");
    key = 0;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
    cr_assert_neq(r.value, 1000, "the update of the failed transaction came back");
    key = 65;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* A SYNC commit whose log flush fails: the COMMIT record is in the log,
 * which may or may not be on the disk. The error says so. */
Test(txn, a_commit_that_fails_after_its_log_was_written_says_it_may_have_committed)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, 1 << 20);
    vmdb_table *t = rows_table(db);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &(struct row){1, 1}, NULL));
    vmdb__os_inject_fault(VMDB__OS_OP_FLUSH, EIO, 0);
    ASSERT_FAILS(vmdb_txn_commit(txn), VMDB_EIO, "it may have been committed");
    vmdb__os_clear_faults();
    vmdb_close(db);
    remove_test_dir();
}
