/* SPDX-License-Identifier: MIT */
/*
 * tests/test_db.c - the record store: tables, transactions, reads,
 * recovery and the errors each operation documents.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "db.h"
#include "helpers.h"

#include <xxhash.h>
#include "os_fault.h"
#include "vmdb/db.h"
#include "vmdb/schema.h"

TestSuite(db, .timeout = SUITE_TIMEOUT);

struct person {
    uint64_t id;
    char name[32];
    uint32_t age;
    uint32_t pad;
    double score;
};

static const vmdb_field person_fields[] = {
    VMDB_KEY(struct person, id, VMDB_TYPE_U64),
    VMDB_FIELD(struct person, name, VMDB_TYPE_STR),
    VMDB_FIELD(struct person, age, VMDB_TYPE_U32),
    VMDB_FIELD(struct person, score, VMDB_TYPE_F64),
};

static vmdb_schema *person_schema(void)
{
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_new(person_fields, 4, sizeof(struct person), &s));
    return s;
}

static vmdb_db *open_db(const char *path, unsigned flags)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = flags, .wal_size = 1 << 20};
    ASSERT_OK(vmdb_open(path, &o, &db));
    return db;
}

static vmdb_table *people_table(vmdb_db *db)
{
    vmdb_schema *s = person_schema();
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "people", s, &t));
    vmdb_schema_free(s);
    return t;
}

static struct person person(uint64_t id, const char *name, uint32_t age)
{
    struct person p;
    memset(&p, 0, sizeof p);
    p.id = id;
    snprintf(p.name, sizeof p.name, "%s", name);
    p.age = age;
    p.score = age * 1.5;
    return p;
}

static void put_people(vmdb_db *db, vmdb_table *t, uint64_t from, uint64_t to)
{
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn));
    for (uint64_t id = from; id < to; id++) {
        char name[32];
        snprintf(name, sizeof name, "person-%llu", (unsigned long long)id);
        struct person p = person(id, name, (uint32_t)(id % 90));
        ASSERT_OK(vmdb_txn_put(txn, t, &p, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
}

Test(db, put_get_and_reopen)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    put_people(db, t, 0, 1000);
    struct person p;
    uint64_t rid;
    uint64_t key = 417;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &p, &rid));
    cr_assert_str_eq(p.name, "person-417");
    cr_assert_eq(p.age, 417 % 90);
    cr_assert_eq(rid, 417, "ids are slot numbers, filled in order");
    key = 1000;
    vmdb_error_clear();
    cr_assert_eq(vmdb_table_get(t, &key, sizeof key, &p, NULL), VMDB_ENOTFOUND);
    cr_assert_eq(vmdb_last_error()->code, 0, "not finding leaves the error context alone");
    vmdb_close(db);

    db = open_db(path, 0);
    vmdb_schema *s = person_schema();
    ASSERT_OK(vmdb_table_open(db, "people", s, &t));
    vmdb_schema_free(s);
    for (key = 0; key < 1000; key += 37) {
        ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &p, NULL));
        cr_assert_eq(p.id, key);
    }
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert_eq(st.records, 1000);
    cr_assert_eq(st.record_size, sizeof(struct person));
    vmdb_recovery rep;
    ASSERT_OK(vmdb_recovery_report(db, &rep));
    cr_assert_eq(rep.transactions, 0, "a clean close leaves nothing to replay");
    vmdb_close(db);
    remove_test_dir();
}

Test(db, insert_update_delete_and_their_errors)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    vmdb_txn *txn;
    struct person ann = person(1, "ann", 30), bob = person(2, "bob", 40);
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    uint64_t rid;
    ASSERT_OK(vmdb_txn_insert(txn, t, &ann, &rid));
    cr_assert_eq(rid, 0);
    /* The transaction sees its own insert before commit. */
    ASSERT_FAILS(vmdb_txn_insert(txn, t, &ann, NULL), VMDB_EEXIST, "people");
    ASSERT_FAILS(vmdb_txn_update(txn, t, &bob), VMDB_ENOTFOUND, "people");
    ASSERT_OK(vmdb_txn_insert(txn, t, &bob, &rid));
    cr_assert_eq(rid, 1);
    ASSERT_OK(vmdb_txn_commit(txn));

    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ann.age = 31;
    ASSERT_OK(vmdb_txn_update(txn, t, &ann));
    uint64_t key = 2;
    ASSERT_OK(vmdb_txn_delete(txn, t, &key, sizeof key));
    ASSERT_FAILS(vmdb_txn_delete(txn, t, &key, sizeof key), VMDB_ENOTFOUND, "people");
    ASSERT_FAILS(vmdb_txn_delete_rid(txn, t, 1), VMDB_ENOTFOUND, "record 1");
    /* Deleted in this transaction, so the key may come back. */
    ASSERT_OK(vmdb_txn_insert(txn, t, &bob, &rid));
    cr_assert_eq(rid, 2, "the deleted slot is not free before commit");
    ASSERT_OK(vmdb_txn_commit(txn));

    struct person got;
    key = 1;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &got, NULL));
    cr_assert_eq(got.age, 31);
    key = 2;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &got, &rid));
    cr_assert_eq(rid, 2);
    cr_assert_eq(vmdb_table_get_rid(t, 1, &got), VMDB_ENOTFOUND);

    /* The freed slot 1 is reused by the next insert, once the delete is
     * in the table: a NONE commit gets there after its log flush, which a
     * checkpoint makes happen now. */
    ASSERT_OK(vmdb_checkpoint(db));
    struct person cy = person(3, "cy", 50);
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_insert(txn, t, &cy, &rid));
    cr_assert_eq(rid, 1);
    /* Update by id may change the key, but not to one that is taken. */
    struct person moved = cy;
    moved.id = 1;
    ASSERT_FAILS(vmdb_txn_update_rid(txn, t, 1, &moved), VMDB_EEXIST, "record 0");
    moved.id = 99;
    ASSERT_OK(vmdb_txn_update_rid(txn, t, 1, &moved));
    key = 3;
    ASSERT_FAILS(vmdb_txn_delete(txn, t, &key, sizeof key), VMDB_ENOTFOUND, "people");
    ASSERT_FAILS(vmdb_txn_update_rid(txn, t, 77, &moved), VMDB_ENOTFOUND, "record 77");
    ASSERT_OK(vmdb_txn_commit(txn));
    key = 99;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &got, &rid));
    cr_assert_eq(rid, 1);
    cr_assert_str_eq(got.name, "cy");
    key = 3;
    cr_assert_eq(vmdb_table_get(t, &key, sizeof key, &got, NULL), VMDB_ENOTFOUND);
    vmdb_close(db);
    remove_test_dir();
}

Test(db, abort_changes_nothing_and_gives_ids_back)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    put_people(db, t, 0, 10);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    struct person p = person(100, "ghost", 1);
    uint64_t rid;
    ASSERT_OK(vmdb_txn_insert(txn, t, &p, &rid));
    cr_assert_eq(rid, 10);
    uint64_t key = 3;
    ASSERT_OK(vmdb_txn_delete(txn, t, &key, sizeof key));
    vmdb_txn_abort(txn);
    struct person got;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &got, NULL));
    key = 100;
    cr_assert_eq(vmdb_table_get(t, &key, sizeof key, &got, NULL), VMDB_ENOTFOUND);
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_insert(txn, t, &p, &rid));
    cr_assert_eq(rid, 10, "the aborted transaction's id is free again");
    ASSERT_OK(vmdb_txn_commit(txn));
    vmdb_close(db);
    remove_test_dir();
}

Test(db, one_transaction_spans_tables)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *people = people_table(db);
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("code:str8 key, count:u32", &s));
    vmdb_table *codes;
    ASSERT_OK(vmdb_table_create(db, "codes", s, &codes));
    vmdb_schema_free(s);
    ASSERT_FAILS(vmdb_table_create(db, "codes", vmdb_table_schema(people), NULL), VMDB_EEXIST,
                 "codes");
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    struct person p = person(7, "seven", 7);
    ASSERT_OK(vmdb_txn_put(txn, people, &p, NULL));
    char code[16] = {0};
    memcpy(code, "abc", 3);
    uint32_t count = 5;
    memcpy(code + 8, &count, 4);
    ASSERT_OK(vmdb_txn_put(txn, codes, code, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    char got[16];
    ASSERT_OK(vmdb_table_get(codes, "abc", 3, got, NULL)); /* a str key without its padding */
    cr_assert_eq(memcmp(got + 8, &count, 4), 0);
    vmdb_close(db);

    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "codes", NULL, &codes));
    ASSERT_OK(vmdb_table_get(codes, "abc", 3, got, NULL));
    ASSERT_FAILS(vmdb_table_open(db, "nope", NULL, &codes), VMDB_ENOTFOUND, "nope");
    ASSERT_OK(vmdb_table_drop(db, "codes"));
    ASSERT_FAILS(vmdb_table_open(db, "codes", NULL, &codes), VMDB_ENOTFOUND, "codes");
    vmdb_close(db);
    db = open_db(path, 0);
    ASSERT_FAILS(vmdb_table_open(db, "codes", NULL, &codes), VMDB_ENOTFOUND, "codes");
    vmdb_close(db);
    remove_test_dir();
}

Test(db, schema_mismatch_names_the_field)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    people_table(db);
    vmdb_schema *other;
    ASSERT_OK(vmdb_schema_parse("id:u64 key, name:str32, age:u16, score:f64", &other));
    vmdb_table *t;
    ASSERT_FAILS(vmdb_table_open(db, "people", other, &t), VMDB_ESCHEMA, "age");
    cr_assert_null(t);
    ASSERT_FAILS(vmdb_table_create(db, "bad name", other, NULL), VMDB_EINVAL, "'bad name'");
    vmdb_schema_free(other);
    vmdb_close(db);
    remove_test_dir();
}

Test(db, scan_and_cursor_visit_live_records_in_slot_order)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    put_people(db, t, 0, 50);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (uint64_t key = 0; key < 50; key += 3)
        ASSERT_OK(vmdb_txn_delete(txn, t, &key, sizeof key));
    ASSERT_OK(vmdb_txn_commit(txn));
    vmdb_table_cursor c;
    vmdb_table_cursor_init(&c, t);
    struct person p;
    uint64_t rid, seen = 0, last = 0;
    while (vmdb_table_cursor_next(&c, &rid, &p) == 0) {
        cr_assert_neq(p.id % 3, 0);
        cr_assert_eq(p.id, rid);
        cr_assert(seen == 0 || rid > last);
        last = rid;
        seen++;
    }
    cr_assert_eq(seen, 50 - 17);
    const void *ptr;
    uint64_t seq;
    ASSERT_OK(vmdb_table_get_ptr(t, 4, &ptr, &seq));
    cr_assert_eq(((const struct person *)ptr)->id, 4);
    cr_assert(vmdb_table_read_valid(t, 4, seq));
    cr_assert_eq(vmdb_table_get_ptr(t, 3, &ptr, &seq), VMDB_ENOTFOUND);
    vmdb_close(db);
    remove_test_dir();
}

Test(db, directories_that_are_not_databases_are_refused)
{
    vmdb_db *db;
    ASSERT_FAILS(vmdb_open(test_path("missing"), NULL, &db), VMDB_ENOENT, "missing");
    const char *dir = test_path("plain");
    cr_assert_eq(mkdir(dir, 0755), 0);
    write_file(test_path("plain/notes.txt"), "hello", 5);
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_FAILS(vmdb_open(dir, &o, &db), VMDB_EINVAL, "not a vmdb database");
    write_file(test_path("file"), "x", 1);
    ASSERT_FAILS(vmdb_open(test_path("file"), NULL, &db), VMDB_EINVAL, "not a directory");
    cr_assert_null(db);
    remove_test_dir();
}

Test(db, damaged_table_files_are_refused_naming_them)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    put_people(db, t, 0, 100);
    vmdb_close(db);
    const char *file = test_path("db/people.vmt");
    uint64_t size = file_size(file);

    /* Both header copies damaged. */
    FILE *f = fopen(file, "r+b");
    cr_assert_not_null(f);
    unsigned char junk[64];
    memset(junk, 0x5A, sizeof junk);
    fseek(f, 100, SEEK_SET);
    fwrite(junk, 1, sizeof junk, f);
    fseek(f, 4096 + 100, SEEK_SET);
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    vmdb_db_options o = {0};
    ASSERT_FAILS(vmdb_open(path, &o, &db), VMDB_ECORRUPT, "people.vmt");

    /* Wrong magic. */
    f = fopen(file, "r+b");
    fwrite("NOTATABL", 1, 8, f);
    fseek(f, 4096, SEEK_SET);
    fwrite("NOTATABL", 1, 8, f);
    fclose(f);
    ASSERT_FAILS(vmdb_open(path, &o, &db), VMDB_EBADMAGIC, "people.vmt");

    /* Truncated: the header says more slots than the file holds. */
    path = test_path("db2");
    file = test_path("db2/people.vmt");
    db = open_db(path, VMDB_DB_CREATE);
    t = people_table(db);
    put_people(db, t, 0, 100);
    vmdb_close(db);
    size = file_size(file);
    cr_assert_eq(truncate(file, (off_t)(size - 4096)), 0);
    ASSERT_FAILS(vmdb_open(path, &o, &db), VMDB_EBADSIZE, "truncated");
    remove_test_dir();
}

Test(db, damaged_log_is_refused_naming_it)
{
    const char *path = test_path("db");
    vmdb_close(open_db(path, VMDB_DB_CREATE));
    const char *wal = test_path("db/wal.ring");
    cr_assert_eq(truncate(wal, 3000), 0);
    vmdb_db *db;
    ASSERT_FAILS(vmdb_open(path, NULL, &db), VMDB_EBADSIZE, "wal.ring");
    cr_assert_null(db);
    remove_test_dir();
}

Test(db, transaction_larger_than_the_log_is_efull)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 64 << 10};
    ASSERT_OK(vmdb_open(test_path("db"), &o, &db));
    vmdb_table *t = people_table(db);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    int rc = 0;
    uint64_t id;
    for (id = 0; id < 10000 && rc == 0; id++) {
        struct person p = person(id, "big", 1);
        rc = vmdb_txn_put(txn, t, &p, NULL);
    }
    cr_assert_eq(rc, VMDB_EFULL, "got %s", vmdb_error_name(rc));
    cr_assert(strstr(vmdb_last_error()->message, "log") != NULL, "%s",
              vmdb_last_error()->message);
    vmdb_txn_abort(txn);
    /* Smaller transactions pass through many checkpoints. */
    for (uint64_t from = 0; from < 5000; from += 100)
        put_people(db, t, from, from + 100);
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert_eq(st.records, 5000);
    vmdb_close(db);
    remove_test_dir();
}

/* A forked writer commits, then dies without closing: recovery replays. */
Test(db, recovery_replays_what_a_killed_writer_committed)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    people_table(db);
    vmdb_close(db);
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        vmdb_db *c = open_db(path, 0);
        vmdb_table *t;
        if (vmdb_table_open(c, "people", NULL, &t) != 0)
            _exit(1);
        put_people(c, t, 0, 300);
        vmdb_txn *txn;
        if (vmdb_txn_begin(c, 0, &txn) != 0)
            _exit(2);
        struct person p = person(999, "uncommitted", 1);
        vmdb_txn_put(txn, t, &p, NULL);
        raise(SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status), "child status %d", status);
    db = open_db(path, 0);
    vmdb_recovery rep;
    ASSERT_OK(vmdb_recovery_report(db, &rep));
    cr_assert_eq(rep.transactions, 1);
    cr_assert_eq(rep.records, 300);
    cr_assert_eq(rep.discarded, 1, "the uncommitted put");
    cr_assert(rep.end_lsn > rep.first_lsn);
    cr_assert(rep.index_rebuilt);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    struct person p;
    uint64_t key = 299;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &p, NULL));
    key = 999;
    cr_assert_eq(vmdb_table_get(t, &key, sizeof key, &p, NULL), VMDB_ENOTFOUND);
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

Test(db, full_disk_is_an_error_and_loses_nothing)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    put_people(db, t, 0, 10);
    /* Files may not grow past 2 MiB from here on: the table must grow to
     * hold 100,000 records, and cannot. */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 2 << 20;
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    int rc = 0;
    for (uint64_t id = 10; id < 100000 && rc == 0; id++) {
        struct person p = person(id, "more", 2);
        rc = vmdb_txn_put(txn, t, &p, NULL);
    }
    if (rc == 0)
        rc = vmdb_txn_commit(txn);
    else
        vmdb_txn_abort(txn);
    setrlimit(RLIMIT_FSIZE, &old);
    cr_assert(rc == VMDB_ENOSPC || rc == VMDB_EPOISONED || rc == VMDB_EFULL,
              "got %s: %s", vmdb_error_name(rc), vmdb_last_error()->message);
    vmdb_close(db);
    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    struct person p;
    for (uint64_t key = 0; key < 10; key++)
        ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &p, NULL));
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* ---- readers against a writer ------------------------------------------ */

/* Records whose fields repeat each other, so a torn copy shows. */
struct selfcheck {
    uint64_t key;
    uint64_t version;
    uint64_t words[10];
    uint64_t check;
};

static void make_selfcheck(struct selfcheck *r, uint64_t key, uint64_t version)
{
    r->key = key;
    r->version = version;
    for (int i = 0; i < 10; i++)
        r->words[i] = version * 1000003 + key * 7 + (uint64_t)i;
    r->check = version ^ key ^ 0x5555;
}

static bool selfcheck_ok(const struct selfcheck *r, uint64_t key)
{
    if (r->key != key || r->check != (r->version ^ key ^ 0x5555))
        return false;
    for (int i = 0; i < 10; i++)
        if (r->words[i] != r->version * 1000003 + key * 7 + (uint64_t)i)
            return false;
    return true;
}

/* Updates the writer makes while readers hammer: VMDB_HAMMER_VERSIONS, or
 * 20000 (make valgrind asks for fewer: its threads take turns). */
static uint64_t hammer_versions(void)
{
    const char *s = getenv("VMDB_HAMMER_VERSIONS");
    uint64_t n = s ? strtoull(s, NULL, 0) : 20000;
    return n < 100 ? 100 : n;
}

struct hammer {
    vmdb_table *t;
    bool stop; /* atomic: the main thread sets it when it has written */
    uint64_t reads;
    int torn; /* atomic: both readers count */
};

static void *reader(void *arg)
{
    struct hammer *h = arg;
    struct selfcheck r;
    while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
        for (uint64_t key = 0; key < 8; key++) {
            if (vmdb_table_get(h->t, &key, sizeof key, &r, NULL) != 0 || !selfcheck_ok(&r, key))
                __atomic_add_fetch(&h->torn, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&h->reads, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

/* The same through zero-copy batch scans: a copy that vmdb_scan_valid
 * accepts must be whole. */
static void *scan_reader(void *arg)
{
    struct hammer *h = arg;
    vmdb_table_scan_batch b;
    struct selfcheck r;
    while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
        b.next_rid = 0;
        uint64_t found = 0;
        while (vmdb_table_scan_next(h->t, &b) == 0) {
            for (size_t i = 0; i < b.count; i++) {
                memcpy(&r, b.record[i], sizeof r);
                if (!vmdb_scan_valid(&b, i))
                    continue; /* a writer was there: the copy may be torn */
                if (!selfcheck_ok(&r, r.key))
                    __atomic_add_fetch(&h->torn, 1, __ATOMIC_RELAXED);
                found++;
                __atomic_add_fetch(&h->reads, 1, __ATOMIC_RELAXED);
            }
        }
        /* Eight keys, updated in place: never more records. */
        if (found > 8)
            __atomic_add_fetch(&h->torn, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

Test(db, readers_never_see_a_torn_record)
{
    vmdb_db *db = open_db(test_path("db"), VMDB_DB_CREATE);
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("key:u64 key, version:u64, w0:u64, w1:u64, w2:u64, w3:u64, "
                                "w4:u64, w5:u64, w6:u64, w7:u64, w8:u64, w9:u64, check:u64",
                                &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "hot", s, &t));
    vmdb_schema_free(s);
    cr_assert_eq(vmdb_schema_record_size(vmdb_table_schema(t)), sizeof(struct selfcheck));
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    struct selfcheck r;
    for (uint64_t key = 0; key < 8; key++) {
        make_selfcheck(&r, key, 0);
        ASSERT_OK(vmdb_txn_put(txn, t, &r, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    struct hammer h = {.t = t};
    pthread_t threads[2];
    pthread_create(&threads[0], NULL, reader, &h);
    pthread_create(&threads[1], NULL, scan_reader, &h);
    for (uint64_t version = 1; version < hammer_versions(); version++) {
        if (version % (hammer_versions() / 8) == 0) /* the readers read meanwhile */
            wait_past(&h.reads, __atomic_load_n(&h.reads, __ATOMIC_RELAXED));
        ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
        uint64_t key = version % 8;
        make_selfcheck(&r, key, version);
        ASSERT_OK(vmdb_txn_put(txn, t, &r, NULL));
        ASSERT_OK(vmdb_txn_commit(txn));
    }
    __atomic_store_n(&h.stop, true, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    cr_assert_eq(h.torn, 0, "%d of %llu reads were torn or missing", h.torn,
                 (unsigned long long)h.reads);
    cr_assert_gt(h.reads, 0);
    vmdb_close(db);
    remove_test_dir();
}

/* ---- group commit ------------------------------------------------------- */

struct committer {
    vmdb_db *db;
    vmdb_table *t;
    uint64_t first_key;
    int count;
    enum vmdb_durability durability;
    int failures;
};

static void *commit_loop(void *arg)
{
    struct committer *c = arg;
    for (int i = 0; i < c->count; i++) {
        vmdb_txn *txn;
        struct person p = person(c->first_key + (uint64_t)i, "grouped", (uint32_t)i);
        if (vmdb_txn_begin(c->db, c->durability, &txn) || vmdb_txn_insert(txn, c->t, &p, NULL) ||
            vmdb_txn_commit(txn))
            c->failures++;
    }
    return NULL;
}

static void run_committers(vmdb_db *db, vmdb_table *t, const enum vmdb_durability *modes,
                           int threads, int each)
{
    pthread_t tid[8];
    struct committer c[8];
    for (int i = 0; i < threads; i++) {
        c[i] = (struct committer){db, t, (uint64_t)i * 100000, each, modes[i], 0};
        pthread_create(&tid[i], NULL, commit_loop, &c[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        cr_assert_eq(c[i].failures, 0, "thread %d: %d commits failed: %s", i, c[i].failures,
                     vmdb_last_error()->message);
    }
    for (int i = 0; i < threads; i++)
        for (int k = 0; k < each; k++) {
            uint64_t key = (uint64_t)i * 100000 + (uint64_t)k;
            struct person p;
            ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &p, NULL));
            cr_assert_eq(p.age, (uint32_t)k);
        }
}

Test(db, group_commit_shares_flushes_between_committers)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    const enum vmdb_durability modes[4] = {VMDB_DURABILITY_GROUP, VMDB_DURABILITY_GROUP,
                                           VMDB_DURABILITY_GROUP, VMDB_DURABILITY_GROUP};
    vmdb_db_info before, after;
    ASSERT_OK(vmdb_db_stat(db, &before));
    run_committers(db, t, modes, 4, 150);
    ASSERT_OK(vmdb_db_stat(db, &after));
    uint64_t commits = after.commits - before.commits, flushes = after.flushes - before.flushes;
    cr_log_info("group commit: %llu commits, %llu flushes", (unsigned long long)commits,
                (unsigned long long)flushes);
    cr_assert_eq(commits, 600);
    cr_assert_lt(flushes, commits, "committers waiting together share a flush");
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert_eq(st.records, 600);
    vmdb_close(db);
    remove_test_dir();
}

Test(db, mixed_durabilities_commit_in_log_order)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 128 << 10};
    ASSERT_OK(vmdb_open(test_path("db"), &o, &db));
    vmdb_table *t = people_table(db);
    const enum vmdb_durability modes[4] = {VMDB_DURABILITY_GROUP, VMDB_DURABILITY_NONE,
                                           VMDB_DURABILITY_GROUP, VMDB_DURABILITY_SYNC};
    run_committers(db, t, modes, 4, 300);
    vmdb_db_info info;
    ASSERT_OK(vmdb_db_stat(db, &info));
    cr_assert_gt(info.checkpoints, 0, "a small log checkpoints along the way");
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* ---- other processes ---------------------------------------------------- */

Test(db, reader_in_another_process_never_sees_a_torn_record)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("key:u64 key, version:u64, w0:u64, w1:u64, w2:u64, w3:u64, "
                                "w4:u64, w5:u64, w6:u64, w7:u64, w8:u64, w9:u64, check:u64",
                                &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "hot", s, &t));
    vmdb_schema_free(s);
    vmdb_txn *txn;
    struct selfcheck r;
    /* SYNC: in the tables before the reader process opens. */
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    for (uint64_t key = 0; key < 8; key++) {
        make_selfcheck(&r, key, 0);
        ASSERT_OK(vmdb_txn_put(txn, t, &r, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* A read-only handle of its own: no lock, no recovery. */
        close(go[1]);
        vmdb_db *rdb;
        vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
        vmdb_table *rt;
        if (vmdb_open(path, &ro, &rdb) || vmdb_table_open(rdb, "hot", NULL, &rt))
            _exit(1);
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(2);
        uint64_t reads = 0, newest = 0;
        for (;;) {
            for (uint64_t key = 0; key < 8; key++, reads++) {
                struct selfcheck got;
                if (vmdb_table_get(rt, &key, sizeof key, &got, NULL) != 0 || !selfcheck_ok(&got, key))
                    _exit(3);
                if (got.version > newest)
                    newest = got.version;
            }
            if (newest >= hammer_versions() - 10)
                break;
        }
        vmdb_close(rdb);
        _exit(reads > 0 ? 0 : 4);
    }
    close(go[0]);
    cr_assert_eq(write(go[1], "g", 1), 1);
    for (uint64_t version = 1; version < hammer_versions(); version++) {
        ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
        uint64_t key = version % 8;
        make_selfcheck(&r, key, version);
        ASSERT_OK(vmdb_txn_put(txn, t, &r, NULL));
        ASSERT_OK(vmdb_txn_commit(txn));
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the reader process saw a torn or missing record (status %d)", status);
    close(go[1]);
    vmdb_close(db);
    remove_test_dir();
}

/* Two processes write to one database by turns: each must see the other's
 * changes when it gets the lock (ids, free slots, a grown file, the salt). */
Test(db, writers_in_two_processes_take_turns)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    people_table(db);
    vmdb_close(db);
    pid_t pids[2];
    for (int w = 0; w < 2; w++) {
        pids[w] = fork_child();
        cr_assert_neq(pids[w], -1);
        if (pids[w] == 0) {
            vmdb_db *c = open_db(path, 0);
            vmdb_table *t;
            if (vmdb_table_open(c, "people", NULL, &t))
                _exit(1);
            for (uint64_t i = 0; i < 400; i++) {
                uint64_t id = (uint64_t)w * 10000 + i;
                struct person p = person(id, "turns", (uint32_t)i);
                vmdb_txn *txn;
                if (vmdb_txn_begin(c, i % 2 ? VMDB_DURABILITY_GROUP : 0, &txn) ||
                    vmdb_txn_insert(txn, t, &p, NULL) || vmdb_txn_commit(txn))
                    _exit(2);
                if (i % 50 == 49) { /* and delete some, so slots get reused */
                    uint64_t old = id - 10;
                    if (vmdb_txn_begin(c, 0, &txn) || vmdb_txn_delete(txn, t, &old, 8) ||
                        vmdb_txn_commit(txn))
                        _exit(3);
                }
            }
            vmdb_close(c);
            _exit(0);
        }
    }
    for (int w = 0; w < 2; w++) {
        int status;
        cr_assert_eq(waitpid(pids[w], &status, 0), pids[w]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d: status %d", w,
                  status);
    }
    db = open_db(path, 0);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert_eq(st.records, 2 * (400 - 8));
    for (int w = 0; w < 2; w++)
        for (uint64_t i = 0; i < 400; i++) {
            uint64_t id = (uint64_t)w * 10000 + i;
            struct person p;
            bool deleted = i % 50 == 39;
            cr_assert_eq(vmdb_table_get(t, &id, sizeof id, &p, NULL), deleted ? VMDB_ENOTFOUND : 0,
                         "id %llu", (unsigned long long)id);
        }
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* ---- checksums ---------------------------------------------------------- */

static void damage_record(const char *table_file, uint64_t rid, size_t stride)
{
    /* A byte of the name, past the 16-byte slot header. */
    xor_byte_at(table_file, (long)(8192 + rid * stride + 16 + 10), 0x40);
}

/* Reads check checksums unless the handle opts out; check always does. */
Test(db, reads_and_check_catch_a_damaged_record_unless_no_verify)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    put_people(db, t, 0, 10);
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    vmdb_close(db);
    damage_record(test_path("db/people.vmt"), 4, st.slot_size);

    db = open_db(path, VMDB_DB_NO_VERIFY);
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    struct person p;
    ASSERT_OK(vmdb_table_get_rid(t, 4, &p)); /* unverified reads trust the bytes */
    ASSERT_FAILS(vmdb_check(db), VMDB_ECORRUPT, "slot 4: checksum mismatch");
    vmdb_close(db);

    unsigned flags[] = {0, VMDB_DB_VERIFY}; /* the default, and the old opt-in */
    for (size_t i = 0; i < 2; i++) {
        db = open_db(path, flags[i]);
        ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
        ASSERT_FAILS(vmdb_table_get_rid(t, 4, &p), VMDB_ECORRUPT, "people.vmt: slot 4");
        ASSERT_OK(vmdb_table_get_rid(t, 5, &p));
        vmdb_close(db);
    }
    remove_test_dir();
}

static int count_record(void *ctx, uint64_t rid, const void *record)
{
    (void)rid;
    (void)record;
    ++*(int *)ctx;
    return 0;
}

/* What every read path does with slot 4 damaged, where `needle` is what
 * its message must say: the copying reads and the zero-copy ones alike
 * refuse it naming the file and slot, and each reads the others whole.
 * (Before issue 12, only VMDB_DB_VERIFY handles checked, and only the
 * copying reads.) */
static void expect_reads_refuse_slot_4(vmdb_db *db, vmdb_table *t, const char *needle)
{
    struct person p;
    ASSERT_FAILS(vmdb_table_get_rid(t, 4, &p), VMDB_ECORRUPT, needle);
    ASSERT_OK(vmdb_table_get_rid(t, 5, &p));
    const void *ptr;
    uint64_t seq;
    ASSERT_FAILS(vmdb_table_get_ptr(t, 4, &ptr, &seq), VMDB_ECORRUPT, needle);
    cr_assert_null(ptr);
    ASSERT_OK(vmdb_table_get_ptr(t, 5, &ptr, &seq));

    /* A cursor stops at it, and goes on after it when asked. */
    vmdb_table_cursor c;
    vmdb_table_cursor_init(&c, t);
    uint64_t rid;
    for (uint64_t want = 0; want < 4; want++) {
        ASSERT_OK(vmdb_table_cursor_next(&c, &rid, &p));
        cr_assert_eq(rid, want);
    }
    ASSERT_FAILS(vmdb_table_cursor_next(&c, &rid, &p), VMDB_ECORRUPT, needle);
    ASSERT_OK(vmdb_table_cursor_next(&c, &rid, &p));
    cr_assert_eq(rid, 5);

    int seen = 0;
    ASSERT_FAILS(vmdb_table_scan(t, count_record, &seen), VMDB_ECORRUPT, needle);
    cr_assert_eq(seen, 4, "the records before it, then the error");

    vmdb_table_scan_batch *b = malloc(sizeof *b);
    b->next_rid = 0;
    ASSERT_FAILS(vmdb_table_scan_next(t, b), VMDB_ECORRUPT, needle);
    cr_assert_eq(b->count, 0, "nothing in the batch to use");
    b->next_rid = 5;
    ASSERT_OK(vmdb_table_scan_next(t, b));
    cr_assert_eq(b->count, 5);
    free(b);

    /* Inside a read transaction too. */
    vmdb_read r;
    ASSERT_OK(vmdb_read_begin(db, 0, &r));
    ASSERT_FAILS(vmdb_table_scan(t, count_record, &seen), VMDB_ECORRUPT, needle);
    vmdb_read_end(&r);
}

Test(db, every_read_path_refuses_a_damaged_record)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    put_people(db, t, 0, 10);
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    vmdb_close(db);
    damage_record(test_path("db/people.vmt"), 4, st.slot_size);

    unsigned flags[] = {0, VMDB_DB_READONLY};
    for (size_t i = 0; i < 2; i++) {
        db = open_db(path, flags[i]);
        ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
        expect_reads_refuse_slot_4(db, t, "people.vmt: slot 4: checksum mismatch");
        struct person p;
        uint64_t id = 4;
        ASSERT_FAILS(vmdb_table_get(t, &id, sizeof id, &p, NULL), VMDB_ECORRUPT, "people.vmt: slot 4");
        vmdb_close(db);
    }

    /* A handle that opts out trusts the bytes on every path. */
    db = open_db(path, VMDB_DB_NO_VERIFY);
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    int seen = 0;
    ASSERT_OK(vmdb_table_scan(t, count_record, &seen));
    cr_assert_eq(seen, 10);
    vmdb_close(db);
    vmdb_db_options both = {.flags = VMDB_DB_VERIFY | VMDB_DB_NO_VERIFY};
    ASSERT_FAILS(vmdb_open(path, &both, &db), VMDB_EINVAL, "NO_VERIFY");
    remove_test_dir();
}

/* A live flag cleared by a bit flip: the record is not skipped as free,
 * which would drop it from a scan without a word. */
Test(db, reads_refuse_a_record_whose_live_flag_was_cleared)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    put_people(db, t, 0, 10);
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    vmdb_close(db);
    /* The live flag is bit 63 of the slot header's word at 8: its byte 15. */
    xor_byte_at(test_path("db/people.vmt"), (long)(8192 + 4 * st.slot_size + 15), 0x80);

    db = open_db(path, VMDB_DB_READONLY);
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    expect_reads_refuse_slot_4(db, t, "people.vmt: slot 4 holds a record whose live flag was cleared");
    vmdb_close(db);
    remove_test_dir();
}

/* One header copy damaged (a torn header write): the table opens from the
 * other, check reports the damage, and an open for writing repairs it.
 * Each copy in turn, after growth has made either the newer one. */
/* A header rewrite never touches the copy in use, the first one included:
 * a reader in another process may be copying it (and a torn write of it
 * would leave no valid copy if the other one were damaged). */
Test(db, a_tables_first_growth_leaves_the_header_copy_in_use_untouched)
{
    char path[600], file[640];
    snprintf(path, sizeof path, "%s", test_path("db"));
    snprintf(file, sizeof file, "%s/people.vmt", path);
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    vmdb_table_file *tf;
    ASSERT_OK(vmdb_table_file_open(file, &tf));
    vmdb_table_file_info info;
    ASSERT_OK(vmdb_table_file_stat(tf, &info));
    cr_assert_eq(info.capacity, 64);
    char in_use = info.copy_in_use;
    vmdb_table_file_close(tf);
    size_t len;
    unsigned char *before = read_file(file, &len);
    put_people(db, t, 0, 100); /* 64 slots grow to 128: one header rewrite */
    ASSERT_OK(vmdb_table_file_open(file, &tf));
    ASSERT_OK(vmdb_table_file_stat(tf, &info));
    cr_assert_eq(info.capacity, 128);
    cr_assert_neq(info.copy_in_use, in_use, "the rewrite went to the copy in use");
    vmdb_table_file_close(tf);
    unsigned char *after = read_file(file, &len);
    size_t off = (size_t)(in_use - 'A') * 4096;
    cr_assert(memcmp(before + off, after + off, 4096) == 0,
              "header copy %c, in use before the growth, was written", in_use);
    free(before);
    free(after);
    vmdb_close(db);
    remove_test_dir();
}

Test(db, check_reports_a_damaged_header_copy_and_a_writer_repairs_it)
{
    for (int copy = 0; copy < 2; copy++) {
        for (int grown = 0; grown < 2; grown++) {
            char name[32], path[600], file[640];
            snprintf(name, sizeof name, "db%d%d", copy, grown);
            snprintf(path, sizeof path, "%s", test_path(name));
            snprintf(file, sizeof file, "%s/people.vmt", path);
            vmdb_db *db = open_db(path, VMDB_DB_CREATE);
            vmdb_table *t = people_table(db);
            put_people(db, t, 0, grown ? 200 : 10);
            vmdb_close(db);
            /* A byte of the table name in copy A (offset 60) or B. */
            xor_byte_at(file, copy * 4096 + 60, 0x40);
            char which[32];
            snprintf(which, sizeof which, "header copy %c", 'A' + copy);

            vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
            ASSERT_OK(vmdb_open(path, &ro, &db));
            ASSERT_FAILS(vmdb_check(db), VMDB_ECORRUPT, which);
            ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
            struct person p;
            uint64_t id = 7;
            ASSERT_OK(vmdb_table_get(t, &id, sizeof id, &p, NULL));
            vmdb_close(db);

            db = open_db(path, 0);
            ASSERT_OK(vmdb_check(db));
            vmdb_close(db);
            ASSERT_OK(vmdb_open(path, &ro, &db));
            ASSERT_OK(vmdb_check(db));
            ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
            vmdb_table_info st;
            ASSERT_OK(vmdb_table_stat(t, &st));
            cr_assert_eq(st.records, grown ? 200 : 10, "copy %c, grown %d", 'A' + copy, grown);
            vmdb_close(db);
        }
    }
    remove_test_dir();
}

Test(db, recovery_repairs_a_torn_slot_from_the_log)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    vmdb_close(db);
    pid_t pid = fork_child();
    if (pid == 0) {
        vmdb_db *c = open_db(path, 0);
        vmdb_table *ct;
        if (vmdb_table_open(c, "people", NULL, &ct))
            _exit(1);
        put_people(c, ct, 0, 10);
        raise(SIGKILL); /* committed, not checkpointed */
    }
    int status;
    waitpid(pid, &status, 0);
    /* The slot as a torn write would leave it. */
    damage_record(test_path("db/people.vmt"), 4, st.slot_size);
    db = open_db(path, VMDB_DB_VERIFY);
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    struct person p;
    ASSERT_OK(vmdb_table_get_rid(t, 4, &p));
    cr_assert_str_eq(p.name, "person-4");
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* A transaction that runs out of log room checkpoints in the middle (the
 * log's salt changes) and reseals what it had written: recovery after a
 * crash must replay it whole. */
Test(db, checkpoint_in_the_middle_of_a_transaction_keeps_it_replayable)
{
    const char *path = test_path("db");
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 64 << 10};
    ASSERT_OK(vmdb_open(path, &o, &db));
    people_table(db);
    vmdb_close(db);
    pid_t pid = fork_child();
    if (pid == 0) {
        vmdb_db *c;
        vmdb_table *t;
        if (vmdb_open(path, NULL, &c) || vmdb_table_open(c, "people", NULL, &t))
            _exit(1);
        vmdb_db_info before, after;
        put_people(c, t, 0, 100); /* 11 KiB of log: no checkpoint at the next begin */
        vmdb_db_stat(c, &before);
        put_people(c, t, 100, 600); /* 56 KiB more: the log fills up mid-way */
        vmdb_db_stat(c, &after);
        raise(after.checkpoints > before.checkpoints ? SIGKILL : SIGTERM);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "the writer must have checkpointed mid-transaction (status %d)", status);
    ASSERT_OK(vmdb_open(path, NULL, &db));
    vmdb_recovery rep;
    ASSERT_OK(vmdb_recovery_report(db, &rep));
    cr_assert_eq(rep.transactions, 1, "the resealed transaction replays (replayed %llu, records %llu, discarded %llu, torn %d, lsn %llu..%llu)", (unsigned long long)rep.transactions, (unsigned long long)rep.records, (unsigned long long)rep.discarded, rep.torn_tail, (unsigned long long)rep.first_lsn, (unsigned long long)rep.end_lsn);
    cr_assert_eq(rep.records, 500);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    for (uint64_t key = 0; key < 600; key++) {
        struct person p;
        ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &p, NULL));
    }
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* Opening and closing a cleanly closed database for writing, with nothing
 * written, needs no flush: both would fail here if they made one. */
Test(db, a_clean_open_and_close_make_no_flush)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    put_people(db, people_table(db), 0, 10);
    vmdb_close(db);
    vmdb__os_inject_fault(VMDB__OS_OP_SYNC, EIO, 0);
    vmdb__os_inject_fault(VMDB__OS_OP_FLUSH, EIO, 0);
    db = open_db(path, 0);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    struct person p;
    uint64_t id = 3;
    ASSERT_OK(vmdb_table_get(t, &id, sizeof id, &p, NULL));
    vmdb_close(db);
    /* A write does flush at close: the armed fault fires and poisons. */
    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    put_people(db, t, 10, 11);
    /* The log flush before the NONE commit is applied fails first. */
    ASSERT_FAILS(vmdb_checkpoint(db), VMDB_EPOISONED, "flush failed");
    vmdb__os_clear_faults();
    vmdb_close(db);
    db = open_db(path, 0);
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* ---- a writer that dies while applying ---------------------------------- */

static void die_after_three(vmdb_db *db, size_t applied)
{
    (void)db;
    if (applied == 2)
        _exit(0);
}

Test(db, a_writer_that_dies_while_applying_is_finished_by_the_next_writer)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    put_people(db, t, 0, 10);
    /* Another process commits ids 100..109 and dies having applied three
     * of them; this handle stays open throughout. */
    pid_t pid = fork_child();
    if (pid == 0) {
        /* SYNC: the committer applies (a NONE commit is applied by the
         * flusher thread, after put_people returned). */
        vmdb_db *c;
        vmdb_db_options o = {.durability = VMDB_DURABILITY_SYNC};
        vmdb_table *ct;
        if (vmdb_open(path, &o, &c) || vmdb_table_open(c, "people", NULL, &ct))
            _exit(1);
        vmdb__apply_test_hook = die_after_three;
        put_people(c, ct, 100, 110);
        _exit(2);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer died mid-apply");

    /* Lock-free readers see what was applied (no reader sees a torn
     * record, but a transaction is not atomic to them); a read-only open
     * refuses to start from that. */
    struct person p;
    uint64_t id = 100, last = 109;
    ASSERT_OK(vmdb_table_get(t, &id, sizeof id, &p, NULL));
    cr_assert_eq(vmdb_table_get(t, &last, sizeof last, &p, NULL), VMDB_ENOTFOUND);
    vmdb_db *ro;
    vmdb_db_options o = {.flags = VMDB_DB_READONLY};
    ASSERT_FAILS(vmdb_open(path, &o, &ro), VMDB_ENEEDRECOVERY, path);
    o.flags |= VMDB_DB_AS_IS;
    ASSERT_OK(vmdb_open(path, &o, &ro));
    vmdb_close(ro);
    o.flags = VMDB_DB_READONLY;

    /* The next writer, in any process, finishes the transaction first. */
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    vmdb_txn_abort(txn);
    for (id = 100; id < 110; id++)
        ASSERT_OK(vmdb_table_get(t, &id, sizeof id, &p, NULL));
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_open(path, &o, &ro));
    vmdb_close(ro);
    vmdb_close(db);
    remove_test_dir();
}

/* ---- zero-copy batch scans ---------------------------------------------- */

Test(db, batch_scan_visits_live_records_in_order_and_sees_changes)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    put_people(db, t, 0, 300);
    /* Holes: every third record deleted. */
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (uint64_t id = 0; id < 300; id += 3)
        ASSERT_OK(vmdb_txn_delete(txn, t, &id, sizeof id));
    ASSERT_OK(vmdb_txn_commit(txn));

    vmdb_table_scan_batch b = {.next_rid = 0};
    uint64_t seen = 0, last_rid = 0, batches = 0;
    int rc;
    while ((rc = vmdb_table_scan_next(t, &b)) == 0) {
        cr_assert(b.count > 0 && b.count <= VMDB_SCAN_BATCH);
        batches++;
        for (size_t i = 0; i < b.count; i++) {
            const struct person *p = b.record[i];
            cr_assert_neq(p->id % 3, 0, "record %llu was deleted", (unsigned long long)p->id);
            cr_assert(seen == 0 || b.rid[i] > last_rid, "slot order");
            last_rid = b.rid[i];
            cr_assert(vmdb_scan_valid(&b, i));
            seen++;
        }
    }
    cr_assert_eq(rc, VMDB_ENOTFOUND);
    cr_assert_eq(seen, 200);
    cr_assert_eq(batches, 4, "200 records in batches of 64");
    cr_assert_eq(vmdb_table_scan_next(t, &b), VMDB_ENOTFOUND, "the end stays the end");

    /* A change after the batch was read makes that record's reads invalid,
     * and only that record's. */
    b.next_rid = 0;
    ASSERT_OK(vmdb_table_scan_next(t, &b));
    const struct person *first = b.record[0];
    struct person changed = *first;
    changed.age = 99;
    /* SYNC: applied when commit returns (a NONE commit changes the slot
     * when the flusher applies it, a few milliseconds later). */
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    ASSERT_OK(vmdb_txn_update(txn, t, &changed));
    ASSERT_OK(vmdb_txn_commit(txn));
    cr_assert(!vmdb_scan_valid(&b, 0), "the updated record's read is stale");
    cr_assert(vmdb_scan_valid(&b, 1));
    cr_assert_eq(vmdb_table_scan_next(NULL, &b), VMDB_EINVAL);
    vmdb_close(db);
    remove_test_dir();
}

/* ---- tables created and dropped by other handles ------------------------ */

/* Dropped and made again by another handle before this one looked: the
 * file under the name is another table now, not the old one moved
 * (compaction), so this handle forgets the old table and opens the new
 * one, rather than refusing every call, its close included. */
Test(db, a_table_dropped_and_made_again_by_another_handle_is_a_new_table_here)
{
    char path[600];
    snprintf(path, sizeof path, "%s", test_path("db"));
    vmdb_db *a = open_db(path, VMDB_DB_CREATE);
    vmdb_table *ax = people_table(a);
    put_people(a, ax, 0, 5);

    vmdb_db *b = open_db(path, 0);
    ASSERT_OK(vmdb_table_drop(b, "people"));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("k:u64 key, v:u64", &s));
    vmdb_table *bnew;
    ASSERT_OK(vmdb_table_create(b, "people", s, &bnew));
    uint64_t pair[2] = {7, 70};
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(b, VMDB_DURABILITY_SYNC, &txn));
    ASSERT_OK(vmdb_txn_put(txn, bnew, pair, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_close(b));

    struct person p;
    uint64_t id = 3;
    cr_assert_eq(vmdb_table_get(ax, &id, sizeof id, &p, NULL), VMDB_ENOTFOUND,
                 "the old table's handle finds nothing: %s", vmdb_last_error()->message);
    vmdb_table *anew;
    ASSERT_OK(vmdb_table_open(a, "people", s, &anew));
    vmdb_schema_free(s);
    cr_assert_neq(anew, ax);
    uint64_t got[2], key = 7;
    ASSERT_OK(vmdb_table_get(anew, &key, sizeof key, got, NULL));
    cr_assert_eq(got[1], 70);
    uint64_t pair2[2] = {8, 80};
    ASSERT_OK(vmdb_txn_begin(a, VMDB_DURABILITY_SYNC, &txn));
    ASSERT_OK(vmdb_txn_put(txn, anew, pair2, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_check(a));
    ASSERT_OK(vmdb_close(a));

    a = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(a, "people", NULL, &anew));
    key = 8;
    ASSERT_OK(vmdb_table_get(anew, &key, sizeof key, got, NULL));
    cr_assert_eq(got[1], 80);
    ASSERT_OK(vmdb_close(a));
    remove_test_dir();
}

Test(db, tables_created_or_dropped_by_another_handle_are_followed)
{
    char path[600];
    snprintf(path, sizeof path, "%s", test_path("db"));
    vmdb_db *a = open_db(path, VMDB_DB_CREATE);
    vmdb_table *ax = people_table(a);
    put_people(a, ax, 0, 5);
    vmdb_db *b = open_db(path, 0), *r = open_db(path, VMDB_DB_READONLY);
    vmdb_table *bx, *rx;
    ASSERT_OK(vmdb_table_open(b, "people", NULL, &bx));
    ASSERT_OK(vmdb_table_open(r, "people", NULL, &rx));

    /* A creates a table: the others open it and see its records (SYNC
     * commits: in the tables when commit returns; NONE ones reach other
     * handles when the flusher applies them, see below). */
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("k:u64 key, v:u64", &s));
    vmdb_table *ay, *by, *ry;
    ASSERT_OK(vmdb_table_create(a, "pairs", s, &ay));
    vmdb_schema_free(s);
    uint64_t pair[2] = {7, 70};
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(a, VMDB_DURABILITY_SYNC, &txn));
    ASSERT_OK(vmdb_txn_put(txn, ay, pair, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_table_open(b, "pairs", NULL, &by));
    ASSERT_OK(vmdb_table_open(r, "pairs", NULL, &ry));
    uint64_t got[2], key = 7;
    ASSERT_OK(vmdb_table_get(ry, &key, sizeof key, got, NULL));
    cr_assert_eq(got[1], 70);
    /* and B writes into it, which A reads. */
    uint64_t pair2[2] = {8, 80};
    ASSERT_OK(vmdb_txn_begin(b, VMDB_DURABILITY_SYNC, &txn));
    ASSERT_OK(vmdb_txn_put(txn, by, pair2, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    key = 8;
    ASSERT_OK(vmdb_table_get(ay, &key, sizeof key, got, NULL));
    cr_assert_eq(got[1], 80);

    /* A drops people: B's and R's handles find nothing and write nothing,
     * so no log record can name a table that is gone. */
    ASSERT_OK(vmdb_table_drop(a, "people"));
    struct person p;
    uint64_t id = 3;
    cr_assert_eq(vmdb_table_get(bx, &id, sizeof id, &p, NULL), VMDB_ENOTFOUND);
    cr_assert_eq(vmdb_table_get(rx, &id, sizeof id, &p, NULL), VMDB_ENOTFOUND);
    ASSERT_OK(vmdb_txn_begin(b, VMDB_DURABILITY_SYNC, &txn));
    ASSERT_FAILS(vmdb_txn_put(txn, bx, &p, NULL), VMDB_ENOTFOUND, "dropped");
    vmdb_txn_abort(txn);
    ASSERT_FAILS(vmdb_table_open(b, "people", NULL, &bx), VMDB_ENOTFOUND, "people");
    ASSERT_FAILS(vmdb_table_open(r, "people", NULL, &rx), VMDB_ENOTFOUND, "people");

    /* Created again, with another schema: the others open the new one. */
    ASSERT_OK(vmdb_schema_parse("name:str16 key, n:u32", &s));
    vmdb_table *anew, *bnew;
    ASSERT_OK(vmdb_table_create(a, "people", s, &anew));
    ASSERT_OK(vmdb_table_open(b, "people", s, &bnew));
    vmdb_schema_free(s);
    struct {
        char name[16];
        uint32_t n, pad; /* the record is padded to 8 bytes: 24 */
    } row = {"zed", 1, 0};
    cr_assert_eq(vmdb_schema_record_size(vmdb_table_schema(anew)), sizeof row);
    ASSERT_OK(vmdb_txn_begin(b, VMDB_DURABILITY_SYNC, &txn));
    ASSERT_OK(vmdb_txn_put(txn, bnew, &row, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_table_get(anew, "zed", 3, &row, NULL));
    vmdb_close(r);
    vmdb_close(b);
    vmdb_close(a);
    a = open_db(path, 0);
    ASSERT_OK(vmdb_check(a));
    vmdb_close(a);
    remove_test_dir();
}

/* ---- files that are not what their names say ------------------------------ */

/* A FIFO planted in place of each file of a database: every open, for
 * reading or writing, refuses it at once, naming it, instead of waiting
 * for a writer that never comes. */
Test(db, a_fifo_in_place_of_a_database_file_is_refused_not_waited_on)
{
    static const char *const planted[] = {"vmdb.lock", "wal.ring", "people.vmt", "people.vmi",
                                          "other.vmt"};
    for (size_t i = 0; i < sizeof planted / sizeof planted[0]; i++) {
        char path[512], file[600];
        snprintf(path, sizeof path, "%s/db%zu", test_dir(), i);
        vmdb_db *db = open_db(path, VMDB_DB_CREATE);
        people_table(db);
        ASSERT_OK(vmdb_close(db));
        snprintf(file, sizeof file, "%s/%s", path, planted[i]);
        unlink(file);
        cr_assert_eq(mkfifo(file, 0600), 0, "mkfifo %s", file);
        for (int readonly = 1; readonly >= 0; readonly--) {
            vmdb_db_options o = {.flags = readonly ? VMDB_DB_READONLY : 0};
            vmdb_table *t;
            vmdb_error_clear();
            int rc = vmdb_open(path, &o, &db);
            if (rc == 0) {
                rc = vmdb_table_open(db, "people", NULL, &t);
                vmdb_close(db);
            }
            if (!readonly && strcmp(planted[i], "people.vmi") == 0) {
                /* An index is derived: a writer makes a new one. */
                struct stat st;
                ASSERT_OK(rc);
                cr_assert(stat(file, &st) == 0 && S_ISREG(st.st_mode));
                continue;
            }
            if (readonly && strcmp(planted[i], "other.vmt") == 0) {
                /* Without its index it is a table being created, which a
                 * reader does not see yet: it did not wait for it. */
                ASSERT_OK(rc);
                continue;
            }
            cr_assert_lt(rc, 0, "%s opened %s", readonly ? "a reader" : "a writer", file);
            cr_assert(strstr(vmdb_last_error()->message, planted[i]) != NULL,
                      "\"%s\" does not name %s", vmdb_last_error()->message, planted[i]);
        }
    }
    remove_test_dir();
}

/* Renames the table in both header copies of a table file, resealing
 * their checksums: damage that checksums cannot see. */
static void rename_in_header(const char *table_file, const char *name)
{
    size_t len;
    unsigned char *bytes = read_file(table_file, &len);
    for (size_t copy = 0; copy < 2; copy++) {
        unsigned char *h = bytes + copy * 4096;
        uint32_t used_len;
        memcpy(&used_len, h + 20, sizeof used_len);
        uint16_t name_len = (uint16_t)strlen(name);
        memcpy(h + 38, &name_len, sizeof name_len);
        memset(h + 56, 0, 64);
        memcpy(h + 56, name, name_len);
        uint32_t version;
        memcpy(&version, h + 16, sizeof version);
        uint64_t sum = XXH3_64bits(h + 16, used_len - 16);
        memcpy(h + 8, &sum, sizeof sum);
        if (version >= 2) { /* the summary's own, seeded with that */
            uint64_t ssum = XXH3_64bits_withSeed(h + 3968, 120, sum);
            memcpy(h + 4088, &ssum, sizeof ssum);
        }
    }
    write_file(table_file, bytes, len);
    free(bytes);
}

Test(db, a_table_name_in_a_header_never_becomes_a_path_outside_the_database)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    put_people(db, t, 0, 3);
    ASSERT_OK(vmdb_close(db));
    char table_file[600], victim[600];
    snprintf(table_file, sizeof table_file, "%s/people.vmt", path);
    snprintf(victim, sizeof victim, "%s/victim.vmi", test_dir());
    write_file(victim, "precious", 8);

    /* A name that climbs out of the directory, then a valid name that is
     * not the file's: every open refuses the file, naming it. */
    static const char *const crafted[] = {"../victim", "other"};
    for (size_t i = 0; i < 2; i++) {
        rename_in_header(table_file, crafted[i]);
        for (int readonly = 1; readonly >= 0; readonly--) {
            vmdb_db_options o = {.flags = readonly ? VMDB_DB_READONLY : 0};
            ASSERT_FAILS(vmdb_open(path, &o, &db), VMDB_ECORRUPT, "people.vmt");
        }
    }
    size_t len;
    unsigned char *kept = read_file(victim, &len);
    cr_assert(len == 8 && memcmp(kept, "precious", 8) == 0, "the file outside was written");
    free(kept);
    /* Named right again, the table is all there. */
    rename_in_header(table_file, "people");
    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(db, a_capacity_hint_sizes_table_and_index_so_a_fill_never_grows_them)
{
    const char *path = test_path("db");
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 8 << 20};
    ASSERT_OK(vmdb_open(path, &o, &db));
    vmdb_schema *s = person_schema();
    vmdb_table_options to = VMDB_TABLE_OPTIONS_INIT;
    to.capacity = 5000;
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create_with(db, "people", s, &to, &t));
    vmdb_table_info before;
    ASSERT_OK(vmdb_table_stat(t, &before));
    cr_assert_geq(before.capacity, 5000);
    cr_assert_eq(before.records, 0);
    cr_assert_geq(before.file_bytes, 5000 * before.slot_size);
    cr_assert_geq(before.index_capacity * 3, 5000 * 4, "index of %llu entries",
                  (unsigned long long)before.index_capacity);
    for (uint64_t i = 0; i < 5000; i += 500) {
        vmdb_txn *txn;
        ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn));
        for (uint64_t id = i; id < i + 500; id++) {
            struct person p = person(id, "x", (uint32_t)id);
            ASSERT_OK(vmdb_txn_put(txn, t, &p, NULL));
        }
        ASSERT_OK(vmdb_txn_commit(txn));
    }
    vmdb_table_info after;
    ASSERT_OK(vmdb_table_stat(t, &after));
    cr_assert_eq(after.records, 5000);
    cr_assert_eq(after.capacity, before.capacity, "the table grew");
    cr_assert_eq(after.index_capacity, before.index_capacity, "the index grew");
    /* Without a hint, the same fill grows both. */
    vmdb_table *u;
    ASSERT_OK(vmdb_table_create_with(db, "small", s, NULL, &u));
    ASSERT_OK(vmdb_table_stat(u, &before));
    cr_assert_lt(before.capacity, 5000);
    ASSERT_OK(vmdb_close(db));
    ASSERT_OK(vmdb_open(path, &o, &db));
    ASSERT_OK(vmdb_table_open(db, "people", s, &t));
    ASSERT_OK(vmdb_table_stat(t, &after));
    cr_assert_eq(after.records, 5000);
    struct person got;
    uint64_t key = 4321;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &got, NULL));
    cr_assert_eq(got.age, 4321);
    /* Options from a newer library, and a hint past 2^40, are refused. */
    to.version = VMDB_TABLE_OPTIONS_VERSION + 1;
    ASSERT_FAILS(vmdb_table_create_with(db, "later", s, &to, NULL), VMDB_EVERSION, "later");
    to = (vmdb_table_options)VMDB_TABLE_OPTIONS_INIT;
    to.capacity = ((uint64_t)1 << 40) + 1;
    ASSERT_FAILS(vmdb_table_create_with(db, "huge", s, &to, NULL), VMDB_EINVAL, "huge");
    vmdb_schema_free(s);
    vmdb_close(db);
    remove_test_dir();
}

/* A table created for a million records is empty: making it must not
 * read its slots (which faults in every page of a 128 MiB file) to
 * rebuild an index of nothing. Counted in page faults, not time. */
Test(db, creating_a_table_with_a_large_capacity_reads_none_of_its_slots)
{
    const char *path = test_path("db");
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 8 << 20};
    ASSERT_OK(vmdb_open(path, &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("key:u64 key, value:bytes100", &s));
    vmdb_table_options to = VMDB_TABLE_OPTIONS_INIT;
    to.capacity = 1000000;
    vmdb_table *t;
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    ASSERT_OK(vmdb_table_create_with(db, "kv", s, &to, &t));
    getrusage(RUSAGE_SELF, &after);
    long faults = (after.ru_minflt - before.ru_minflt) + (after.ru_majflt - before.ru_majflt);
    /* Reading the slots takes one fault per 64 KiB at best: 2,000 and
     * more. A sanitizer's own bookkeeping adds a few hundred. */
    cr_assert_lt(faults, 1000, "creating an empty table took %ld page faults", faults);
    vmdb_table_info info;
    ASSERT_OK(vmdb_table_stat(t, &info));
    cr_assert_geq(info.capacity, 1000000);
    cr_assert_geq(info.index_capacity * 3, 1000000 * 4);
    /* And the table is whole: a record goes in and is found after a reopen,
     * which checks the files. */
    unsigned char record[128] = {0};
    uint64_t key = 77;
    memcpy(record, &key, sizeof key);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, record, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_close(db));
    ASSERT_OK(vmdb_open(path, &o, &db));
    ASSERT_OK(vmdb_table_open(db, "kv", s, &t));
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, record, NULL));
    ASSERT_OK(vmdb_check(db));
    vmdb_schema_free(s);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* Another thread of the handle creates and drops tables while this one
 * opens and lists them: the list it reads moves (a create may reallocate
 * it), and a reader must neither crash nor miss a table that stays. */
struct catalog_churn {
    vmdb_db *db;
    int rounds;
    int done; /* atomic */
};

static void *create_and_drop(void *arg)
{
    struct catalog_churn *c = arg;
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u64 key", &s));
    for (int i = 0; i < c->rounds; i++) {
        char name[32];
        snprintf(name, sizeof name, "churn%d", i % 7);
        ASSERT_OK(vmdb_table_create(c->db, name, s, NULL));
        ASSERT_OK(vmdb_table_drop(c->db, name));
    }
    vmdb_schema_free(s);
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int count_base(void *ctx, vmdb_table *t)
{
    *(int *)ctx += !strcmp(vmdb_table_name(t), "people");
    return 0;
}

Test(db, tables_are_opened_and_listed_while_another_thread_creates_and_drops_them)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    people_table(db);
    struct catalog_churn c = {.db = db, .rounds = 60};
    pthread_t writer;
    pthread_create(&writer, NULL, create_and_drop, &c);
    uint64_t looks = 0;
    while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE) || looks < 100) {
        vmdb_table *t;
        ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
        int seen = 0;
        ASSERT_OK(vmdb_table_foreach(db, count_base, &seen));
        cr_assert_eq(seen, 1, "the listing showed 'people' %d times", seen);
        looks++;
    }
    pthread_join(writer, NULL);
    vmdb_close(db);
    remove_test_dir();
}

Test(db, a_cursor_that_ends_on_deleted_slots_leaves_the_last_record_it_gave)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    for (uint64_t id = 1; id <= 5; id++) {
        struct person p = person(id, "kept", (uint32_t)id);
        if (id > 3)
            memcpy(p.name, "deleted", 8);
        ASSERT_OK(vmdb_txn_put(txn, t, &p, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    for (uint64_t id = 4; id <= 5; id++)
        ASSERT_OK(vmdb_txn_delete(txn, t, &id, sizeof id));
    ASSERT_OK(vmdb_txn_commit(txn));
    vmdb_table_cursor c;
    vmdb_table_cursor_init(&c, t);
    struct person got;
    uint64_t rid, seen = 0;
    while (vmdb_table_cursor_next(&c, &rid, &got) == 0)
        seen++;
    cr_assert_eq(seen, 3);
    cr_assert_str_eq(got.name, "kept", "the end of the table left '%s' in the record", got.name);
    cr_assert_eq(got.id, 3);
    vmdb_close(db);
    remove_test_dir();
}

/* Every step of a hinted create may fail (the index's room for the hint
 * is taken after the table file is in place): a create that fails leaves
 * no table behind, neither in the handle nor on disk, and the same create
 * then succeeds. */
Test(db, a_hinted_create_that_fails_at_any_allocation_leaves_no_table_behind)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_schema *s = person_schema();
    vmdb_table_options to = VMDB_TABLE_OPTIONS_INIT;
    to.capacity = 100000;
    char file[4096];
    snprintf(file, sizeof file, "%s/people.vmt", path);
    unsigned failed = 0;
    for (unsigned skip = 0; skip < 16; skip++) {
        vmdb__os_inject_fault(VMDB__OS_OP_ALLOCATE, ENOSPC, skip);
        vmdb_table *t;
        int rc = vmdb_table_create_with(db, "people", s, &to, &t);
        bool fired = !vmdb__os_fault_armed(VMDB__OS_OP_ALLOCATE);
        vmdb__os_clear_faults();
        if (!fired) {
            ASSERT_OK(rc);
            break;
        }
        cr_assert_eq(rc, VMDB_ENOSPC, "allocation %u: %d %s", skip, rc,
                     vmdb_last_error()->message);
        failed++;
        cr_assert_eq(vmdb_table_open(db, "people", NULL, &t), VMDB_ENOTFOUND,
                     "allocation %u failed, yet the handle has the table", skip);
        cr_assert_eq(access(file, F_OK), -1, "allocation %u failed, yet %s is there", skip, file);
        vmdb_close(db);
        db = open_db(path, 0);
        cr_assert_eq(vmdb_table_open(db, "people", NULL, &t), VMDB_ENOTFOUND,
                     "allocation %u failed, yet a reopen finds the table", skip);
    }
    cr_assert_geq(failed, 2, "the index's allocation was never reached");
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "people", s, &t));
    vmdb_schema_free(s);
    vmdb_close(db);
    remove_test_dir();
}

/* What a writer that died in the middle of changing people.vmi leaves:
 * the header's seq odd (offset 64) and, here, every entry of the active
 * array (word at offset 72: page << 6 | bits) gone, as after the clear
 * that begins a rebuild; in the lock page, `changes` odd, and `applying`
 * up if it died applying a transaction. */
static void leave_index_mid_change(const char *path, bool applying)
{
    char file[4096];
    snprintf(file, sizeof file, "%s/vmdb.lock", path);
    int lock = open(file, O_RDWR);
    cr_assert_geq(lock, 0, "%s", file);
    uint64_t changes, one = 1;
    cr_assert_eq(pread(lock, &changes, 8, offsetof(vmdb__lock_page, changes)), 8);
    changes |= 1;
    cr_assert_eq(pwrite(lock, &changes, 8, offsetof(vmdb__lock_page, changes)), 8);
    if (applying)
        cr_assert_eq(pwrite(lock, &one, 8, offsetof(vmdb__lock_page, applying)), 8);
    close(lock);
    snprintf(file, sizeof file, "%s/people.vmi", path);
    int fd = open(file, O_RDWR);
    cr_assert_geq(fd, 0, "%s", file);
    uint64_t seq, active;
    cr_assert_eq(pread(fd, &seq, 8, 64), 8);
    cr_assert_eq(pread(fd, &active, 8, 72), 8);
    seq |= 1;
    cr_assert_eq(pwrite(fd, &seq, 8, 64), 8);
    size_t len = (size_t)16 << (active & 63);
    char *zeros = calloc(1, len);
    cr_assert_eq(pwrite(fd, zeros, len, (off_t)(active >> 6) * 4096), (ssize_t)len);
    free(zeros);
    close(fd);
}

static void fill_people(vmdb_db *db, vmdb_table *t, uint64_t from, uint64_t to)
{
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn));
    for (uint64_t id = from; id < to; id++) {
        struct person p = person(id, "x", (uint32_t)id);
        ASSERT_OK(vmdb_txn_put(txn, t, &p, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
}

/* A put of a key already there replaces its record: with an index that
 * lost keys it would add a second record under the key. */
static void assert_people_whole(vmdb_db *db, vmdb_table *t, uint64_t count)
{
    fill_people(db, t, 0, count);
    for (uint64_t id = 0; id < count; id++) {
        struct person got;
        ASSERT_OK(vmdb_table_get(t, &id, sizeof id, &got, NULL));
        cr_assert_eq(got.age, id);
    }
    vmdb_table_info info;
    ASSERT_OK(vmdb_table_stat(t, &info));
    cr_assert_eq(info.records, count);
    cr_assert_eq(info.high_water, count, "%llu slots used for %llu records",
                 (unsigned long long)info.high_water, (unsigned long long)count);
    ASSERT_OK(vmdb_check(db));
}

Test(db, an_open_for_writing_rebuilds_an_index_a_writer_left_mid_change)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    fill_people(db, t, 0, 200);
    ASSERT_OK(vmdb_close(db));
    leave_index_mid_change(path, false);
    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    assert_people_whole(db, t, 200);
    vmdb_close(db);
    remove_test_dir();
}

/* The same, found by a handle that was open all along and takes the lock
 * next, after a writer died applying a transaction (`applying` up) or
 * changing the index outside one (vmdb_index_rebuild: no new generation
 * either). */
static void next_writer_after_death_mid_index_change(bool applying)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    fill_people(db, t, 0, 200);
    vmdb_db *next = open_db(path, 0);
    vmdb_table *u;
    ASSERT_OK(vmdb_table_open(next, "people", NULL, &u));
    fill_people(next, u, 0, 1); /* it has seen the latest generation */
    ASSERT_OK(vmdb_checkpoint(next)); /* and lets the lock go */
    leave_index_mid_change(path, applying);
    assert_people_whole(next, u, 200);
    vmdb_close(next);
    vmdb_close(db);
    remove_test_dir();
}

Test(db, the_next_writer_rebuilds_an_index_a_writer_left_mid_apply)
{
    next_writer_after_death_mid_index_change(true);
}

Test(db, the_next_writer_rebuilds_an_index_a_writer_left_mid_rebuild)
{
    next_writer_after_death_mid_index_change(false);
}

struct reentrant {
    vmdb_db *db;
    vmdb_schema *schema;
    unsigned visited;
    char names[8][16];
};

/* Does from inside the walk what a caller may: creates and drops tables
 * (the next one of the list among them), opens one, and checks the
 * database. */
static int walk_and_change(void *ctx, vmdb_table *t)
{
    struct reentrant *r = ctx;
    snprintf(r->names[r->visited], sizeof r->names[0], "%s", vmdb_table_name(t));
    r->visited++;
    if (!strcmp(vmdb_table_name(t), "b")) {
        vmdb_table *made, *got;
        ASSERT_OK(vmdb_table_create(r->db, "bb", r->schema, &made));
        ASSERT_OK(vmdb_table_drop(r->db, "c"));
        ASSERT_OK(vmdb_table_drop(r->db, "b"));
        ASSERT_OK(vmdb_table_open(r->db, "a", NULL, &got));
        ASSERT_OK(vmdb_check(r->db));
        fill_people(r->db, made, 0, 1);
    }
    return 0;
}

Test(db, a_foreach_callback_may_create_drop_open_and_check_tables)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    struct reentrant r = {.db = db, .schema = person_schema()};
    const char *names[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        vmdb_table *t;
        ASSERT_OK(vmdb_table_create(db, names[i], r.schema, &t));
    }
    ASSERT_OK(vmdb_table_foreach(db, walk_and_change, &r));
    /* Tables dropped during the walk are not visited after it; the new
     * one is not on the copy walked. */
    cr_assert_eq(r.visited, 3, "visited %u", r.visited);
    cr_assert_str_eq(r.names[0], "a");
    cr_assert_str_eq(r.names[1], "b");
    cr_assert_str_eq(r.names[2], "d");
    r.visited = 0;
    ASSERT_OK(vmdb_table_foreach(db, walk_and_change, &r));
    cr_assert_eq(r.visited, 3, "visited %u", r.visited);
    cr_assert_str_eq(r.names[1], "bb");
    vmdb_schema_free(r.schema);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

#define CURSOR_STABLE 2000
#define CURSOR_PASSES 30

struct churn {
    vmdb_db *db;
    vmdb_table *t;
    int stop;
    unsigned rounds;
};

/* Updates the stable records (ages go up) and inserts and deletes records
 * beside them, whose slots the stable ones' neighbours keep reusing. */
static void *churn_table(void *arg)
{
    struct churn *c = arg;
    for (uint32_t round = 1; !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); round++) {
        vmdb_txn *txn;
        ASSERT_OK(vmdb_txn_begin(c->db, VMDB_DURABILITY_NONE, &txn));
        for (uint64_t id = round % 7; id < CURSOR_STABLE; id += 7) {
            struct person p = person(id, "stable", round);
            ASSERT_OK(vmdb_txn_put(txn, c->t, &p, NULL));
        }
        for (uint64_t id = 1000000; id < 1000050; id++) {
            struct person p = person(id + (round & 1) * 100, "passing", round);
            ASSERT_OK(vmdb_txn_put(txn, c->t, &p, NULL));
            uint64_t gone = id + (~round & 1) * 100;
            int rc = vmdb_txn_delete(txn, c->t, &gone, sizeof gone);
            cr_assert(rc == 0 || rc == VMDB_ENOTFOUND, "delete: %d", rc);
        }
        ASSERT_OK(vmdb_txn_commit(txn));
        __atomic_store_n(&c->rounds, round, __ATOMIC_RELEASE);
    }
    return NULL;
}

Test(db, a_cursor_gives_every_stable_record_once_while_others_change_around_it)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = people_table(db);
    /* Stable records between the passing ones: their slots interleave. */
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn));
    for (uint64_t id = 0; id < CURSOR_STABLE; id++) {
        struct person p = person(id, "stable", 0);
        ASSERT_OK(vmdb_txn_put(txn, t, &p, NULL));
        if (id % 40 == 0) {
            uint64_t passing = 1000000 + id / 40;
            struct person q = person(passing, "passing", 0);
            ASSERT_OK(vmdb_txn_put(txn, t, &q, NULL));
        }
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    struct churn c = {.db = db, .t = t};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, churn_table, &c), 0);
    static unsigned char seen[CURSOR_STABLE];
    for (int pass = 0; pass < CURSOR_PASSES; pass++) {
        unsigned start = __atomic_load_n(&c.rounds, __ATOMIC_ACQUIRE);
        memset(seen, 0, sizeof seen);
        vmdb_table_cursor cur;
        vmdb_table_cursor_init(&cur, t);
        uint64_t rid, last = 0;
        bool first = true;
        struct person got;
        int rc;
        while ((rc = vmdb_table_cursor_next(&cur, &rid, &got)) == 0) {
            cr_assert(first || rid > last, "rid %llu after %llu", (unsigned long long)rid,
                      (unsigned long long)last);
            first = false;
            last = rid;
            if (got.id < CURSOR_STABLE) {
                cr_assert_str_eq(got.name, "stable");
                cr_assert_eq(seen[got.id], 0, "pass %d: record %llu given twice", pass,
                             (unsigned long long)got.id);
                seen[got.id] = 1;
            } else {
                cr_assert_str_eq(got.name, "passing", "record %llu", (unsigned long long)got.id);
            }
        }
        cr_assert_eq(rc, VMDB_ENOTFOUND, "%d %s", rc, vmdb_last_error()->message);
        for (uint64_t id = 0; id < CURSOR_STABLE; id++)
            cr_assert(seen[id], "pass %d: record %llu never given", pass, (unsigned long long)id);
        /* Progress-driven: a pass that saw no commit proves nothing. */
        while (__atomic_load_n(&c.rounds, __ATOMIC_ACQUIRE) == start)
            sched_yield();
    }
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* A table made with a capacity hint by one handle, while another has the
 * database open: the other finds it, reads and writes it, and the first
 * goes on writing beside it, past the hint. */
Test(db, another_handle_opens_reads_and_writes_a_hinted_table_made_meanwhile)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_db *other = open_db(path, 0);
    vmdb_schema *s = person_schema();
    vmdb_table_options to = VMDB_TABLE_OPTIONS_INIT;
    to.capacity = 100;
    vmdb_table *t, *u;
    ASSERT_OK(vmdb_table_create_with(db, "people", s, &to, &t));
    fill_people(db, t, 0, 50);
    ASSERT_OK(vmdb_checkpoint(db)); /* NONE commits reach the tables */
    ASSERT_OK(vmdb_table_open(other, "people", s, &u));
    struct person got;
    uint64_t key = 49;
    ASSERT_OK(vmdb_table_get(u, &key, sizeof key, &got, NULL));
    cr_assert_eq(got.age, 49);
    fill_people(other, u, 40, 120);
    ASSERT_OK(vmdb_checkpoint(other));
    fill_people(db, t, 100, 200);
    ASSERT_OK(vmdb_checkpoint(db));
    vmdb_table_info a, b;
    ASSERT_OK(vmdb_table_stat(t, &a));
    ASSERT_OK(vmdb_table_stat(u, &b));
    cr_assert_eq(a.records, 200);
    cr_assert_eq(b.records, 200);
    cr_assert_eq(a.high_water, 200, "%llu", (unsigned long long)a.high_water);
    for (key = 0; key < 200; key++) {
        ASSERT_OK(vmdb_table_get(u, &key, sizeof key, &got, NULL));
        cr_assert_eq(got.age, key);
    }
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_check(other));
    vmdb_schema_free(s);
    vmdb_close(other);
    vmdb_close(db);
    remove_test_dir();
}

/* A table another thread is creating is listed before its index is
 * open: vmdb_table_open must not hand it out until then, or a read of it
 * searches no index. */
Test(db, tables_another_thread_is_creating_are_read_only_once_whole)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    people_table(db);
    struct catalog_churn c = {.db = db, .rounds = 300};
    pthread_t writer;
    pthread_create(&writer, NULL, create_and_drop, &c);
    uint64_t reads = 0;
    while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < 7; i++) {
            char name[32];
            snprintf(name, sizeof name, "churn%d", i);
            vmdb_table *t;
            if (vmdb_table_open(db, name, NULL, &t) != 0)
                continue;
            uint64_t key = 1, got;
            int rc = vmdb_table_get(t, &key, sizeof key, &got, NULL);
            cr_assert_eq(rc, VMDB_ENOTFOUND, "a get in %s -> %d %s", name, rc,
                         vmdb_last_error()->message);
            reads++;
        }
    }
    pthread_join(writer, NULL);
    cr_log_info("%llu reads", (unsigned long long)reads);
    vmdb_close(db);
    remove_test_dir();
}

/* vmdb_check walks a copy of the list: a table another thread drops
 * meanwhile is skipped, or its check is taken again, never an error. */
Test(db, check_finds_nothing_wrong_while_another_thread_creates_and_drops_tables)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    people_table(db);
    struct catalog_churn c = {.db = db, .rounds = 200};
    pthread_t writer;
    pthread_create(&writer, NULL, create_and_drop, &c);
    uint64_t looks = 0;
    while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE) || looks < 100) {
        int rc = vmdb_check(db);
        cr_assert_eq(rc, 0, "check %llu -> %d %s", (unsigned long long)looks, rc,
                     vmdb_last_error()->message);
        looks++;
    }
    pthread_join(writer, NULL);
    vmdb_close(db);
    remove_test_dir();
}
