/* SPDX-License-Identifier: MIT */
/*
 * tests/test_space.c - address space: a database of many tables opens,
 * and a table that grows past the address space its map first reserved
 * moves to a larger reservation without disturbing readers that still
 * hold pointers into the old one (issue 10, finding 9).
 */
#include "helpers.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "table.h"
#include "vmdb/db.h"
#include "vmdb/schema.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

TestSuite(space, .timeout = 240);

struct small {
    uint64_t id;
    uint64_t value;
};

static const vmdb_field small_fields[] = {
    VMDB_KEY(struct small, id, VMDB_TYPE_U64),
    VMDB_FIELD(struct small, value, VMDB_TYPE_U64),
};

/* Wide records make a table pass a few MiB of reservation with a few
 * thousand inserts. */
struct wide {
    uint64_t id;
    uint64_t version;
    unsigned char blob[1008];
};

static const vmdb_field wide_fields[] = {
    VMDB_KEY(struct wide, id, VMDB_TYPE_U64),
    VMDB_FIELD(struct wide, version, VMDB_TYPE_U64),
    VMDB_FIELD(struct wide, blob, VMDB_TYPE_BYTES),
};

static vmdb_db *open_db(const char *path, unsigned flags)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = flags, .wal_size = 4 << 20};
    ASSERT_OK(vmdb_open(path, &o, &db));
    return db;
}

static vmdb_table *create_table(vmdb_db *db, const char *name, const vmdb_field *fields,
                                size_t count, size_t size)
{
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_new(fields, count, size, &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, name, s, &t));
    vmdb_schema_free(s);
    return t;
}

static struct wide wide_record(uint64_t id, uint64_t version)
{
    struct wide w;
    memset(&w, 0, sizeof w);
    w.id = id;
    w.version = version;
    for (size_t i = 0; i < sizeof w.blob; i++)
        w.blob[i] = (unsigned char)(id * 31 + version * 7 + i);
    return w;
}

/* Puts `value` into record id of each table t0000..t(n-1) (id = table
 * number) in one transaction. */
static int put_in_every_table(vmdb_db *db, unsigned n, uint64_t value)
{
    vmdb_txn *txn;
    int rc = vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn);
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%04u", i);
        vmdb_table *t;
        rc = vmdb_table_open(db, name, NULL, &t);
        struct small r = {.id = i, .value = value + i};
        if (rc == 0)
            rc = vmdb_txn_put(txn, t, &r, NULL);
    }
    if (rc == 0)
        return vmdb_txn_commit(txn);
    vmdb_txn_abort(txn);
    return rc;
}

/* 0 if record id i of every table t0000..t(n-1) holds value + i, else
 * the table number plus one. */
static unsigned first_wrong_table(vmdb_db *db, unsigned n, uint64_t value)
{
    for (unsigned i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%04u", i);
        vmdb_table *t;
        uint64_t key = i;
        struct small r;
        if (vmdb_table_open(db, name, NULL, &t) != 0 ||
            vmdb_table_get(t, &key, sizeof key, &r, NULL) != 0 || r.value != value + i)
            return i + 1;
    }
    return 0;
}

static void create_tables(vmdb_db *db, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%04u", i);
        create_table(db, name, small_fields, 2, sizeof(struct small));
    }
}

/* Forks a child that runs fn(arg) and exits with its result; returns
 * the exit status (or 100 + signal). */
static int in_child(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
        _exit(fn(arg));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static int say(int code)
{
    if (code)
        fprintf(stderr, "child step %d: %s\n", code, vmdb_last_error()->message);
    return code;
}

/* ---- a thousand tables -------------------------------------------------- */

static int other_process_reads_and_writes_every_table(void *path)
{
    vmdb_db *db;
    vmdb_db_options o = {.wal_size = 4 << 20};
    if (vmdb_open(path, &o, &db) != 0)
        return say(1);
    if (first_wrong_table(db, 1000, 1000) != 0)
        return say(2);
    if (put_in_every_table(db, 1000, 2000) != 0)
        return say(3);
    if (first_wrong_table(db, 1000, 2000) != 0)
        return say(4);
    vmdb_close(db);
    return 0;
}

/* Bytes of address space this process maps (VmSize). */
static uint64_t mapped_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    cr_assert_not_null(f);
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %llu kB", &kib) == 1)
            break;
    fclose(f);
    cr_assert_gt(kib, 0, "no VmSize in /proc/self/status");
    return (uint64_t)kib << 10;
}

Test(space, a_database_of_a_thousand_tables_opens_in_two_processes)
{
    /* Each open table holds descriptors of its two files: more than the
     * usual soft limit of 1024 in all. */
    struct rlimit files;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &files), 0);
    if (files.rlim_cur < 4096 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max < 4096 ? files.rlim_max : 4096;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &files), 0);
    }
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    create_tables(db, 1000);
    ASSERT_OK(put_in_every_table(db, 1000, 0));
    cr_assert_eq(first_wrong_table(db, 1000, 0), 0);
    vmdb_close(db);

    uint64_t before = mapped_bytes();
    db = open_db(path, 0);
    uint64_t opened = mapped_bytes() - before;
    /* A few MiB of reservation per table and index, not a fixed span. */
    cr_assert_lt(opened, (uint64_t)16 << 30, "opening took %llu MiB of address space",
                 (unsigned long long)(opened >> 20));
    vmdb_db_info info;
    ASSERT_OK(vmdb_db_stat(db, &info));
    cr_assert_eq(info.tables, 1000);
    cr_assert_eq(first_wrong_table(db, 1000, 0), 0, "table %u", first_wrong_table(db, 1000, 0));
    ASSERT_OK(put_in_every_table(db, 1000, 1000));
    /* This handle stays open while another process opens the database. */
    cr_assert_eq(in_child(other_process_reads_and_writes_every_table, (void *)path), 0);
    unsigned wrong = first_wrong_table(db, 1000, 2000);
    cr_assert_eq(wrong, 0, "table t%04u does not show the other process's write", wrong - 1);
    ASSERT_OK(put_in_every_table(db, 1000, 3000));
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* ---- growth past the reservation ---------------------------------------- */

static uint64_t reserved_bytes(vmdb_table *t)
{
    vmdb_map_info info;
    ASSERT_OK(vmdb_map_stat(t->map, &info));
    return info.reserved;
}

/* Zero-copy pointers to the first records, taken before growth. */
#define HELD 8
struct held {
    const struct wide *ptr[HELD];
    uint64_t seq[HELD];
};

static void hold_first_records(vmdb_table *t, struct held *h)
{
    for (uint64_t rid = 0; rid < HELD; rid++)
        ASSERT_OK(vmdb_table_get_ptr(t, rid, (const void **)&h->ptr[rid], &h->seq[rid]));
}

static void assert_held_records_read(vmdb_table *t, const struct held *h, uint64_t version)
{
    for (uint64_t rid = 0; rid < HELD; rid++) {
        struct wide want = wide_record(h->ptr[rid]->id, version);
        cr_assert_eq(memcmp(h->ptr[rid], &want, sizeof want), 0,
                     "an old pointer to rid %llu reads other bytes", (unsigned long long)rid);
        cr_assert(vmdb_table_read_valid(t, rid, h->seq[rid]));
    }
}

/* A reader thread of the growing process: passes over every record the
 * writer has reported, through get, get_ptr and the zero-copy scan, and
 * through the pointers taken before growth. */
struct reader {
    vmdb_table *t;
    const struct held *held;
    uint64_t committed; /* records the writer has committed: ids [0, n) */
    uint64_t passes;    /* passes completed */
    bool stop;
    uint64_t failures;
    char failure[640];
};

static void reader_fail(struct reader *r, const char *what, uint64_t id)
{
    if (r->failures++ == 0)
        snprintf(r->failure, sizeof r->failure, "%s of id %llu: %s", what,
                 (unsigned long long)id, vmdb_last_error()->message);
}

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct wide w;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        uint64_t n = __atomic_load_n(&r->committed, __ATOMIC_ACQUIRE);
        for (uint64_t id = 0; id < n; id += 7) {
            if (vmdb_table_get(r->t, &id, sizeof id, &w, NULL) != 0 || w.id != id)
                reader_fail(r, "get", id);
        }
        uint64_t seen = 0;
        vmdb_table_scan_batch b = {0};
        while (vmdb_table_scan_next(r->t, &b) == 0)
            for (size_t i = 0; i < b.count; i++) {
                const struct wide *rec = b.record[i];
                if (rec->id == b.rid[i] && vmdb_scan_valid(&b, i))
                    seen++;
            }
        if (seen < n)
            reader_fail(r, "scan", seen);
        for (uint64_t rid = 0; rid < HELD; rid++)
            if (r->held->ptr[rid]->id != rid)
                reader_fail(r, "old pointer", rid);
        __atomic_add_fetch(&r->passes, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* Past this many bytes of records a table whose slots have not moved
 * fails the test rather than fill the disk. */
#define GROWTH_LIMIT ((uint64_t)192 << 20)

/* Inserts wide records from id `from` in transactions of 64 until the
 * table's slots have moved `moves` times; *next gets the next id. Each
 * move waits for the reader (if any) to complete a pass over the moved
 * table. 0, a failed call's code, or -1 when the limit is reached. */
static int grow_until_moved(vmdb_db *db, vmdb_table *t, uint64_t from, unsigned moves,
                            struct reader *r, uint64_t *next)
{
    uint64_t id = from;
    int rc = 0;
    for (unsigned moved = 0; rc == 0 && moved < moves;) {
        if (id * sizeof(struct wide) > GROWTH_LIMIT) {
            fprintf(stderr, "%llu records and the slots moved %u times, not %u\n",
                    (unsigned long long)id, moved, moves);
            rc = -1;
            break;
        }
        const char *slots = __atomic_load_n(&t->slots, __ATOMIC_ACQUIRE);
        vmdb_txn *txn;
        rc = vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn);
        for (unsigned i = 0; rc == 0 && i < 64; i++, id++) {
            struct wide w = wide_record(id, 1);
            rc = vmdb_txn_put(txn, t, &w, NULL);
        }
        if (rc == 0)
            rc = vmdb_txn_commit(txn);
        else
            vmdb_txn_abort(txn);
        if (rc == 0 && r)
            __atomic_store_n(&r->committed, id, __ATOMIC_RELEASE);
        if (rc != 0 || __atomic_load_n(&t->slots, __ATOMIC_ACQUIRE) == slots)
            continue;
        moved++;
        if (r) {
            uint64_t after = __atomic_load_n(&r->passes, __ATOMIC_ACQUIRE) + 1;
            while (__atomic_load_n(&r->passes, __ATOMIC_ACQUIRE) <= after)
                sched_yield();
        }
    }
    *next = id;
    return rc;
}

Test(space, a_table_grown_far_past_its_reservation_keeps_old_pointers_readable)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = create_table(db, "wide", wide_fields, 3, sizeof(struct wide));
    uint64_t first_reserve = reserved_bytes(t);
    cr_assert_leq(first_reserve, (uint64_t)64 << 20,
                  "a new table reserves %llu bytes of address space",
                  (unsigned long long)first_reserve);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    for (uint64_t id = 0; id < HELD; id++) {
        struct wide w = wide_record(id, 1);
        ASSERT_OK(vmdb_txn_put(txn, t, &w, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    struct held held;
    hold_first_records(t, &held);
    const void *first_slots = t->slots;

    struct reader r = {.t = t, .held = &held, .committed = HELD};
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, reader_main, &r), 0);
    uint64_t next;
    int rc = grow_until_moved(db, t, HELD, 3, &r, &next);
    __atomic_store_n(&r.stop, true, __ATOMIC_RELEASE);
    pthread_join(thread, NULL);
    cr_assert_eq(rc, 0, "growth: %s", vmdb_last_error()->message);
    cr_assert_eq(r.failures, 0, "%llu failed reads; first: %s", (unsigned long long)r.failures,
                 r.failure);
    cr_assert_neq((const void *)t->slots, first_slots);
    cr_assert_gt(reserved_bytes(t), first_reserve);

    assert_held_records_read(t, &held, 1);
    /* The old mapping is the same file: a change shows through it. */
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    for (uint64_t id = 0; id < HELD; id++) {
        struct wide w = wide_record(id, 2);
        ASSERT_OK(vmdb_txn_put(txn, t, &w, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    for (uint64_t rid = 0; rid < HELD; rid++)
        cr_assert_not(vmdb_table_read_valid(t, rid, held.seq[rid]), "rid %llu changed",
                      (unsigned long long)rid);
    hold_first_records(t, &held);
    assert_held_records_read(t, &held, 2);
    ASSERT_OK(vmdb_check(db));
    for (uint64_t id = 0; id < next; id += 97) {
        struct wide w;
        ASSERT_OK(vmdb_table_get(t, &id, sizeof id, &w, NULL));
        struct wide want = wide_record(id, id < HELD ? 2 : 1);
        cr_assert_eq(memcmp(&w, &want, sizeof w), 0, "id %llu", (unsigned long long)id);
    }
    vmdb_close(db);
    remove_test_dir();
}

struct grower {
    const char *path;
    uint64_t from;
    uint64_t *next; /* in shared memory */
};

static int other_process_grows_the_table(void *arg)
{
    struct grower *g = arg;
    vmdb_db *db;
    vmdb_db_options o = {.wal_size = 4 << 20};
    if (vmdb_open(g->path, &o, &db) != 0)
        return say(1);
    vmdb_table *t;
    if (vmdb_table_open(db, "wide", NULL, &t) != 0)
        return say(2);
    if (grow_until_moved(db, t, g->from, 3, NULL, g->next) != 0)
        return say(3);
    vmdb_close(db);
    return 0;
}

Test(space, a_table_grown_far_by_another_process_keeps_old_pointers_readable)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t = create_table(db, "wide", wide_fields, 3, sizeof(struct wide));
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    for (uint64_t id = 0; id < HELD; id++) {
        struct wide w = wide_record(id, 1);
        ASSERT_OK(vmdb_txn_put(txn, t, &w, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    /* Else the other process's open would replay the log into the slots,
     * bumping the counters the held pointers were read under. */
    ASSERT_OK(vmdb_checkpoint(db));
    struct held held;
    hold_first_records(t, &held);
    uint64_t first_reserve = reserved_bytes(t);
    const void *first_slots = t->slots;

    uint64_t *next = mmap(NULL, sizeof *next, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                          -1, 0);
    cr_assert_neq(next, MAP_FAILED);
    struct grower g = {.path = path, .from = HELD, .next = next};
    cr_assert_eq(in_child(other_process_grows_the_table, &g), 0);
    uint64_t end = *next;
    cr_assert_gt(end * sizeof(struct wide), 4 * first_reserve, "the child grew it %llu records",
                 (unsigned long long)end);

    /* Reading follows the growth: the map moves under the old pointers. */
    for (uint64_t id = 0; id < end; id++) {
        struct wide w;
        ASSERT_OK(vmdb_table_get(t, &id, sizeof id, &w, NULL));
        cr_assert_eq(w.id, id);
    }
    cr_assert_neq((const void *)t->slots, first_slots);
    assert_held_records_read(t, &held, 1);
    /* So does writing, which takes the lock after the other writer. */
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    struct wide w = wide_record(end, 1);
    ASSERT_OK(vmdb_txn_put(txn, t, &w, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    assert_held_records_read(t, &held, 1);
    ASSERT_OK(vmdb_check(db));
    vmdb_table_info ti;
    ASSERT_OK(vmdb_table_stat(t, &ti));
    cr_assert_eq(ti.records, end + 1);
    vmdb_close(db);
    munmap(next, sizeof *next);
    remove_test_dir();
}

/* ---- a limited address space -------------------------------------------- */

static int few_hundred_tables_under_a_limit(void *path)
{
    struct rlimit lim = {.rlim_cur = (rlim_t)8 << 30, .rlim_max = (rlim_t)8 << 30};
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        return say(1);
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 4 << 20};
    if (vmdb_open(path, &o, &db) != 0)
        return say(2);
    vmdb_schema *s;
    if (vmdb_schema_new(small_fields, 2, sizeof(struct small), &s) != 0)
        return say(3);
    for (unsigned i = 0; i < 300; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%04u", i);
        vmdb_table *t;
        if (vmdb_table_create(db, name, s, &t) != 0)
            return say(4);
    }
    vmdb_schema_free(s);
    if (put_in_every_table(db, 300, 0) != 0)
        return say(5);
    vmdb_close(db);
    o.flags = 0;
    if (vmdb_open(path, &o, &db) != 0)
        return say(6);
    if (first_wrong_table(db, 300, 0) != 0)
        return say(7);
    if (put_in_every_table(db, 300, 1) != 0 || first_wrong_table(db, 300, 1) != 0)
        return say(8);
    if (vmdb_check(db) != 0)
        return say(9);
    vmdb_close(db);
    return 0;
}

Test(space, a_few_hundred_tables_open_under_an_address_space_limit)
{
    if (UNDER_ASAN)
        cr_skip_test("ASan's shadow memory does not fit under RLIMIT_AS");
    if (RUNNING_ON_VALGRIND)
        cr_skip_test("valgrind keeps its own address space under RLIMIT_AS");
#ifdef __SANITIZE_THREAD__
    cr_skip_test("TSan's shadow memory does not fit under RLIMIT_AS");
#endif
    cr_assert_eq(in_child(few_hundred_tables_under_a_limit, (void *)test_path("db")), 0);
    remove_test_dir();
}
