/* SPDX-License-Identifier: MIT */
/*
 * tests/test_wal_grow.c - the log starts small and grows: what a new
 * database takes on disk, a transaction larger than the log, the
 * maximum, a power cut at every system call of a growth, and other
 * handles and processes that map the log a growth replaced.
 */
#include "helpers.h"

#include <errno.h>
#include <sys/wait.h>

#include "db.h"
#include "os_powerloss.h"
#include "os_syscalls.h"

#define MIB ((uint64_t)1 << 20)

/* 200 bytes of record: 256 bytes of log each (a 56-byte header). */
struct row {
    uint64_t id;
    uint64_t gen;
    unsigned char pad[184];
};
static const char *row_schema = "id:u64 key, gen:u64, pad:bytes184";

static struct row make_row(uint64_t id, uint64_t gen)
{
    struct row r = {.id = id, .gen = gen};
    for (size_t i = 0; i < sizeof r.pad; i++)
        r.pad[i] = (unsigned char)(id * 31 + gen + i);
    return r;
}

static vmdb_db *open_db(const char *path, uint64_t wal_size)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = wal_size};
    ASSERT_OK(vmdb_open(path, &o, &db));
    return db;
}

/* capacity: slots made at once (0: the table grows as rows come). */
static vmdb_table *make_table_sized(vmdb_db *db, uint64_t capacity)
{
    vmdb_schema *s;
    vmdb_table *t;
    vmdb_table_options to = VMDB_TABLE_OPTIONS_INIT;
    to.capacity = capacity;
    ASSERT_OK(vmdb_schema_parse(row_schema, &s));
    ASSERT_OK(vmdb_table_create_with(db, "t", s, &to, &t));
    vmdb_schema_free(s);
    return t;
}

static vmdb_table *make_table(vmdb_db *db)
{
    return make_table_sized(db, 0);
}

/* Puts ids [from, to) with `gen` in one transaction. */
static int put_rows(vmdb_db *db, vmdb_table *t, uint64_t from, uint64_t to, uint64_t gen,
                    enum vmdb_durability d)
{
    vmdb_txn *txn;
    int rc = vmdb_txn_begin(db, d, &txn);
    if (rc < 0)
        return rc;
    for (uint64_t id = from; rc == 0 && id < to; id++) {
        struct row r = make_row(id, gen);
        rc = vmdb_txn_put(txn, t, &r, NULL);
    }
    if (rc < 0) {
        vmdb_txn_abort(txn);
        return rc;
    }
    return vmdb_txn_commit(txn);
}

/* How many of ids [from, to) hold `gen`, whole. */
static uint64_t rows_with(vmdb_table *t, uint64_t from, uint64_t to, uint64_t gen)
{
    uint64_t n = 0;
    for (uint64_t id = from; id < to; id++) {
        struct row got, want = make_row(id, gen);
        if (vmdb_table_get(t, &id, sizeof id, &got, NULL) == 0 &&
            memcmp(&got, &want, sizeof got) == 0)
            n++;
    }
    return n;
}

static uint64_t allocated(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
    return (uint64_t)st.st_blocks * 512;
}

static char *db_file(const char *db, const char *name)
{
    static char p[4][600];
    static int next;
    char *at = p[next++ % 4];
    snprintf(at, sizeof p[0], "%s/%s", db, name);
    return at;
}

static vmdb_db_info stat_of(vmdb_db *db)
{
    vmdb_db_info info;
    ASSERT_OK(vmdb_db_stat(db, &info));
    return info;
}

/* A log of `cap` bytes takes its header page and cap on disk: within a
 * few pages of that, never the 64 MiB every database used to take. */
static void assert_log_on_disk(const char *path, uint64_t cap)
{
    uint64_t have = allocated(db_file(path, "wal.ring"));
    cr_assert(have >= cap && have <= cap + 64 * 1024,
              "wal.ring takes %llu bytes on disk, not about %llu",
              (unsigned long long)have, (unsigned long long)cap);
}

Test(wal_grow, a_new_database_takes_one_mib_of_log, .timeout = SUITE_TIMEOUT)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, 0);
    vmdb_table *t = make_table(db);
    ASSERT_OK(put_rows(db, t, 0, 249, 1, VMDB_DURABILITY_SYNC));
    vmdb_db_info info = stat_of(db);
    cr_assert_eq(info.wal_size, MIB);
    cr_assert_eq(info.wal_max, (uint64_t)1 << 30, "the default maximum is 1 GiB");
    ASSERT_OK(vmdb_close(db));
    assert_log_on_disk(path, MIB);
    /* The whole database: the log, a 249-row table, its index, the lock. */
    uint64_t all = allocated(db_file(path, "wal.ring")) + allocated(db_file(path, "t.vmt")) +
                   allocated(db_file(path, "t.vmi")) + allocated(db_file(path, "vmdb.lock"));
    cr_assert(all < 2 * MIB, "a 249-row database takes %llu bytes", (unsigned long long)all);
    remove_test_dir();
}

/* 3 MiB of log in one transaction: past the 1 MiB log, under the 8 MiB
 * maximum. */
#define BIG_FROM 100000
#define BIG_ROWS (3 * MIB / 256)

Test(wal_grow, a_transaction_larger_than_the_log_commits_and_survives_reopen,
     .timeout = SUITE_TIMEOUT)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, 8 * MIB);
    vmdb_table *t = make_table(db);
    ASSERT_OK(put_rows(db, t, 0, 100, 1, VMDB_DURABILITY_SYNC));
    ASSERT_OK(put_rows(db, t, BIG_FROM, BIG_FROM + BIG_ROWS, 2, VMDB_DURABILITY_SYNC));
    vmdb_db_info info = stat_of(db);
    cr_assert_eq(info.wal_size, 4 * MIB, "the log doubled to 4 MiB, not %llu",
                 (unsigned long long)info.wal_size);
    assert_log_on_disk(path, 4 * MIB);
    cr_assert_eq(rows_with(t, BIG_FROM, BIG_FROM + BIG_ROWS, 2), BIG_ROWS);
    ASSERT_OK(vmdb_close(db));
    assert_log_on_disk(path, MIB); /* a clean close shrinks it back */

    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    cr_assert_eq(stat_of(db).wal_max, 8 * MIB, "the maximum is kept in the log's header");
    cr_assert_eq(rows_with(t, 0, 100, 1), 100);
    cr_assert_eq(rows_with(t, BIG_FROM, BIG_FROM + BIG_ROWS, 2), BIG_ROWS);
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(wal_grow, a_grown_log_is_replayed_after_the_writer_is_killed, .timeout = SUITE_TIMEOUT)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, 8 * MIB);
    make_table(db);
    ASSERT_OK(vmdb_close(db));
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        vmdb_db_options o = {.wal_size = 0};
        vmdb_table *t;
        /* The transaction reaches the log, not the tables: a NONE commit
         * waits for its flush, and the kill comes first. */
        if (vmdb_open(path, &o, &db) != 0 || vmdb_table_open(db, "t", NULL, &t) != 0 ||
            put_rows(db, t, BIG_FROM, BIG_FROM + BIG_ROWS, 3, VMDB_DURABILITY_SYNC) != 0)
            _exit(2);
        raise(SIGKILL);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "the writer failed (%d)", WEXITSTATUS(status));
    assert_log_on_disk(path, 4 * MIB); /* no close shrank it */
    vmdb_table *t;
    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    cr_assert_eq(rows_with(t, BIG_FROM, BIG_FROM + BIG_ROWS, 3), BIG_ROWS);
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(wal_grow, a_transaction_past_the_maximum_fails_naming_the_database_and_the_sizes,
     .timeout = SUITE_TIMEOUT)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, 2 * MIB);
    vmdb_table *t = make_table(db);
    cr_assert_eq(stat_of(db).wal_size, MIB);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    int rc = 0;
    uint64_t id = 0;
    for (; rc == 0 && id < 3 * MIB / 256; id++) {
        struct row r = make_row(id, 1);
        rc = vmdb_txn_put(txn, t, &r, NULL);
    }
    cr_assert_eq(rc, VMDB_EFULL, "3 MiB of log in a 2 MiB maximum -> %s", vmdb_error_name(rc));
    const char *msg = vmdb_last_error()->message;
    cr_assert(strstr(msg, path) && strstr(msg, "2097152"), "the message names the database "
              "and the maximum: %s", msg);
    cr_assert(strchr(msg, '\n') == NULL, "one line: %s", msg);
    cr_assert(id > MIB / 256, "the log grew before it refused (%llu rows)",
              (unsigned long long)id);
    ASSERT_FAILS(vmdb_txn_commit(txn), VMDB_EFULL, "2097152");
    cr_assert_eq(rows_with(t, 0, id, 1), 0, "nothing of the refused transaction");
    /* 1.5 MiB, under the maximum, commits. */
    ASSERT_OK(put_rows(db, t, 0, 3 * MIB / 2 / 256, 2, VMDB_DURABILITY_SYNC));
    cr_assert_eq(stat_of(db).wal_size, 2 * MIB, "grown to the maximum and not past it");
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* 24 MiB of log in batches of 100 rows (25 KiB), fast or slow as the
 * test's interval says. */
static vmdb_db_info fill_24_mib(const char *path, uint64_t interval_ns)
{
    vmdb__wal_grow_interval_ns = interval_ns;
    vmdb_db *db = open_db(path, 0);
    vmdb_table *t = make_table(db);
    for (uint64_t b = 0; b < 24 * MIB / 256 / 100; b++)
        ASSERT_OK(put_rows(db, t, b * 100, b * 100 + 100, 1, VMDB_DURABILITY_NONE));
    vmdb_db_info info = stat_of(db);
    ASSERT_OK(vmdb_close(db));
    return info;
}

Test(wal_grow, checkpoints_close_together_grow_the_log_to_64_mib_and_a_close_shrinks_it,
     .timeout = SUITE_TIMEOUT)
{
    const char *path = test_path("db");
    /* Every checkpoint counts as close to the last: a machine as slow as
     * valgrind's grows the log too. */
    vmdb_db_info info = fill_24_mib(path, UINT64_MAX / 4);
    cr_assert_eq(info.wal_size, 64 * MIB, "a fast fill grows the log to 64 MiB, not %llu",
                 (unsigned long long)info.wal_size);
    assert_log_on_disk(path, MIB);
    vmdb_table *t;
    vmdb_db *db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    cr_assert_eq(rows_with(t, 0, 24 * MIB / 256 / 100 * 100, 1), 24 * MIB / 256 / 100 * 100);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(wal_grow, checkpoints_far_apart_leave_the_log_as_it_is, .timeout = SUITE_TIMEOUT)
{
    /* No two checkpoints are close together: a database written a little
     * at a time keeps its 1 MiB log. */
    vmdb_db_info info = fill_24_mib(test_path("db"), 0);
    cr_assert_eq(info.wal_size, MIB, "the log grew to %llu", (unsigned long long)info.wal_size);
    cr_assert_geq(info.checkpoints, 24 * 2 - 2, "it checkpointed every half MiB");
    remove_test_dir();
}

/* ---- other handles: they must follow the log a growth replaced ---------- */

static int count_entry(void *ctx, const vmdb_wal_entry *e)
{
    (void)e;
    ++*(uint64_t *)ctx;
    return 0;
}

Test(wal_grow, another_handle_follows_the_grown_log_before_it_writes_reads_and_checkpoints,
     .timeout = SUITE_TIMEOUT)
{
    const char *path = test_path("db");
    vmdb__wal_grow_interval_ns = 0; /* the sizes are the transactions' alone */
    vmdb_db *a = open_db(path, 8 * MIB), *b, *reader;
    vmdb_table *ta = make_table(a), *tb, *tr;
    ASSERT_OK(put_rows(a, ta, 0, 10, 1, VMDB_DURABILITY_SYNC));
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
    ASSERT_OK(vmdb_open(path, &ro, &reader));
    ASSERT_OK(vmdb_table_open(reader, "t", NULL, &tr));
    /* Two handles lock each other out as two processes do. */
    b = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(b, "t", NULL, &tb));
    ASSERT_OK(put_rows(b, tb, BIG_FROM, BIG_FROM + BIG_ROWS, 2, VMDB_DURABILITY_SYNC));
    cr_assert_eq(stat_of(b).wal_size, 4 * MIB);

    /* a reads what b wrote, writes into the new log, checkpoints. */
    cr_assert_eq(rows_with(ta, BIG_FROM, BIG_FROM + BIG_ROWS, 2), BIG_ROWS);
    ASSERT_OK(put_rows(a, ta, 20, 30, 3, VMDB_DURABILITY_SYNC));
    vmdb_db_info ia = stat_of(a), ib = stat_of(b);
    cr_assert_eq(ia.wal_size, 4 * MIB, "a maps the log b made, not the 1 MiB one it replaced");
    cr_assert_eq(ia.last_lsn, ib.last_lsn, "a's commit is in the log b sees (%llu, %llu)",
                 (unsigned long long)ia.last_lsn, (unsigned long long)ib.last_lsn);
    /* The reader lists a's transaction: 10 PUTs and a COMMIT. */
    uint64_t listed = 0;
    ASSERT_OK(vmdb_wal_foreach(reader, count_entry, &listed));
    cr_assert_eq(listed, 11, "the reader lists %llu records of the new log",
                 (unsigned long long)listed);
    cr_assert_eq(stat_of(reader).wal_size, 4 * MIB);
    ASSERT_OK(vmdb_check(reader));
    cr_assert_eq(rows_with(tr, 20, 30, 3), 10);
    ASSERT_OK(vmdb_checkpoint(a));
    ASSERT_OK(put_rows(b, tb, 40, 50, 4, VMDB_DURABILITY_SYNC));
    ASSERT_OK(vmdb_close(reader));
    ASSERT_OK(vmdb_close(b)); /* shrinks the log a maps */
    ASSERT_OK(put_rows(a, ta, 60, 70, 5, VMDB_DURABILITY_SYNC));
    cr_assert_eq(stat_of(a).wal_size, MIB);
    ASSERT_OK(vmdb_close(a));

    a = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(a, "t", NULL, &ta));
    cr_assert_eq(rows_with(ta, 0, 10, 1), 10);
    cr_assert_eq(rows_with(ta, BIG_FROM, BIG_FROM + BIG_ROWS, 2), BIG_ROWS);
    cr_assert_eq(rows_with(ta, 20, 30, 3), 10);
    cr_assert_eq(rows_with(ta, 40, 50, 4), 10);
    cr_assert_eq(rows_with(ta, 60, 70, 5), 10);
    ASSERT_OK(vmdb_check(a));
    ASSERT_OK(vmdb_close(a));
    remove_test_dir();
}

static void say(int fd, char c)
{
    while (write(fd, &c, 1) < 0 && errno == EINTR)
        ;
}

static char hear(int fd)
{
    char c = 0;
    ssize_t n;
    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    return n == 1 ? c : 0;
}

/*
 * Two processes and a power cut: A has the database open when G grows
 * the log and dies; A then reads G's rows and commits SYNC, and the
 * power goes. A's commit must be in the log that has the name wal.ring,
 * not in the one G unlinked, or the cut loses it.
 */
Test(wal_grow, another_process_commits_into_the_grown_log_and_a_power_cut_keeps_it,
     .timeout = SUITE_TIMEOUT)
{
    char path[600];
    snprintf(path, sizeof path, "%s", test_path("db"));
    vmdb_db *db = open_db(path, 8 * MIB);
    vmdb_table *t = make_table(db);
    ASSERT_OK(put_rows(db, t, 0, 10, 1, VMDB_DURABILITY_SYNC));
    ASSERT_OK(vmdb_close(db));

    int up[2], down[2];
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    pid_t a = fork_child();
    cr_assert_neq(a, -1);
    if (a == 0) {
        if (vmdb__os_powerloss_track(path, true) != 0 || vmdb_open(path, NULL, &db) != 0 ||
            vmdb_table_open(db, "t", NULL, &t) != 0 ||
            put_rows(db, t, 10, 20, 1, VMDB_DURABILITY_SYNC) != 0)
            _exit(2);
        say(up[1], 'o');
        if (hear(down[0]) != 'g')
            _exit(3);
        if (rows_with(t, BIG_FROM, BIG_FROM + BIG_ROWS, 2) != BIG_ROWS)
            _exit(4);
        if (put_rows(db, t, 20, 30, 3, VMDB_DURABILITY_SYNC) != 0)
            _exit(5);
        say(up[1], 'c');
        pause(); /* until killed, the handle open */
        _exit(6);
    }
    cr_assert_eq(hear(up[0]), 'o', "A did not open");
    pid_t g = fork_child();
    cr_assert_neq(g, -1);
    if (g == 0) {
        if (vmdb__os_powerloss_track(path, true) != 0 || vmdb_open(path, NULL, &db) != 0 ||
            vmdb_table_open(db, "t", NULL, &t) != 0 ||
            put_rows(db, t, BIG_FROM, BIG_FROM + BIG_ROWS, 2, VMDB_DURABILITY_SYNC) != 0)
            _exit(2);
        vmdb_db_info info;
        if (vmdb_db_stat(db, &info) != 0 || info.wal_size != 4 * MIB)
            _exit(3);
        raise(SIGKILL); /* no close: the grown log stays */
    }
    int status;
    cr_assert_eq(waitpid(g, &status, 0), g);
    cr_assert(WIFSIGNALED(status), "G failed (exit %d)", WEXITSTATUS(status));
    say(down[1], 'g');
    cr_assert_eq(hear(up[0]), 'c', "A did not commit after the growth");
    kill(a, SIGKILL);
    cr_assert_eq(waitpid(a, &status, 0), a);

    vmdb__powerloss_report r;
    ASSERT_OK(vmdb__os_powerloss_cut(path, 1, VMDB__POWERLOSS_LOSE, &r));
    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    cr_assert_eq(rows_with(t, 0, 20, 1), 20, "(cut: %s)", r.summary);
    cr_assert_eq(rows_with(t, BIG_FROM, BIG_FROM + BIG_ROWS, 2), BIG_ROWS, "(cut: %s)",
                 r.summary);
    cr_assert_eq(rows_with(t, 20, 30, 3), 10, "A's SYNC commit after the growth was lost "
                 "(cut: %s)", r.summary);
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* ---- a power cut at every system call of a growth ----------------------- */

/* The child dies (SIGKILL) just before the kill_at-th call of the os
 * seam's table counted from when it is armed: the calls a growth makes
 * (flushes, the new file's writes, fsyncs, the rename, maps) are its
 * steps. */
static struct vmdb__os_syscalls underneath, killer;
static long calls_left = -1;

static void step(void)
{
    if (calls_left >= 0 && calls_left-- == 0)
        raise(SIGKILL);
}

static int k_open(const char *p, int f, mode_t m) { step(); return underneath.open(p, f, m); }
static int k_fallocate(int fd, int m, off_t o, off_t l)
{
    step();
    return underneath.fallocate(fd, m, o, l);
}
static ssize_t k_pwrite(int fd, const void *s, size_t l, off_t o)
{
    step();
    return underneath.pwrite(fd, s, l, o);
}
static int k_fsync(int fd) { step(); return underneath.fsync(fd); }
static int k_fdatasync(int fd) { step(); return underneath.fdatasync(fd); }
static int k_rename(const char *f, const char *t) { step(); return underneath.rename(f, t); }
static void *k_mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
    step();
    return underneath.mmap(a, l, p, f, fd, o);
}
static int k_msync(void *a, size_t l, int f) { step(); return underneath.msync(a, l, f); }

static void install_killer(void)
{
    underneath = *vmdb__os_syscalls();
    killer = underneath;
    killer.open = k_open;
    killer.fallocate = k_fallocate;
    killer.pwrite = k_pwrite;
    killer.fsync = k_fsync;
    killer.fdatasync = k_fdatasync;
    killer.rename = k_rename;
    killer.mmap = k_mmap;
    killer.msync = k_msync;
    vmdb__os_set_syscalls(&killer);
}

#define CUT_ROWS (3 * MIB / 2 / 256) /* 1.5 MiB of log: the 1 MiB log doubles */
#define AFTER_FROM 900000            /* a commit into the grown log */

/* What grows the log in a cycle. */
enum growth {
    BIG_TRANSACTION, /* one of 1.5 MiB, in a 1 MiB log */
    BUSY,            /* the second of two checkpoints close together */
};

/* In the child, for BUSY: commits of 100 rows (25 KiB of log) until
 * the next commit's begin makes the first automatic checkpoint. *next is
 * the first id not written. */
static void fill_until_due(vmdb_db *db, vmdb_table *t, uint64_t *next)
{
    vmdb_db_info info;
    for (;;) {
        if (vmdb_db_stat(db, &info) != 0)
            _exit(6);
        if (info.wal_used >= info.wal_size / 2)
            return;
        if (put_rows(db, t, *next, *next + 100, 1, VMDB_DURABILITY_SYNC) != 0)
            _exit(7);
        *next += 100;
    }
}

/* One cycle: 1 when the child got through the growth and beyond before
 * call `at`, so that later calls are no step of it. */
static int cut_at(long at, enum vmdb__powerloss_mode mode, enum growth growth)
{
    char path[600];
    snprintf(path, sizeof path, "%s", test_path("db"));
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s.powerloss'", path, path);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(mkdir(path, 0755), 0);
    int up[2];
    cr_assert_eq(pipe(up), 0);
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(up[0]);
        vmdb_db *db;
        vmdb_table *t;
        if (vmdb__os_powerloss_track(path, true) != 0)
            _exit(2);
        install_killer();
        db = open_db(path, 8 * MIB);
        /* Slots for every row at once: a table that grows flushes itself,
         * which would make the rows before the growth durable anyway. */
        t = make_table_sized(db, 8192);
        for (uint64_t b = 0; b < 5; b++)
            if (put_rows(db, t, b * 10, b * 10 + 10, 1, VMDB_DURABILITY_SYNC) != 0)
                _exit(3);
        uint64_t next = 50; /* ids [0, next) are committed */
        if (growth == BUSY) {
            vmdb__wal_grow_interval_ns = UINT64_MAX / 4; /* the open was just now */
            fill_until_due(db, t, &next);
        }
        if (write(up[1], &next, sizeof next) != (ssize_t)sizeof next)
            _exit(8);
        say(up[1], 'a');
        calls_left = at;
        if (growth == BIG_TRANSACTION &&
            put_rows(db, t, BIG_FROM, BIG_FROM + CUT_ROWS, 2, VMDB_DURABILITY_SYNC) != 0)
            _exit(4);
        if (growth == BUSY && put_rows(db, t, next, next + 10, 1, VMDB_DURABILITY_SYNC) != 0)
            _exit(4);
        vmdb_db_info info;
        if (vmdb_db_stat(db, &info) != 0 || info.wal_size <= MIB)
            _exit(9); /* no growth: the test would test nothing */
        say(up[1], 'b');
        if (put_rows(db, t, AFTER_FROM, AFTER_FROM + 10, 3, VMDB_DURABILITY_SYNC) != 0)
            _exit(5);
        say(up[1], 'c');
        raise(SIGKILL);
    }
    close(up[1]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "the writer failed (exit %d)", WEXITSTATUS(status));
    uint64_t before = 0;
    cr_assert_eq(read(up[0], &before, sizeof before), (ssize_t)sizeof before,
                 "the writer died before the growth");
    char acked = 0, c;
    while ((c = hear(up[0])) != 0)
        acked = c;
    close(up[0]);
    cr_assert(acked >= 'a', "the writer died before the growth");

    vmdb__powerloss_report r;
    ASSERT_OK(vmdb__os_powerloss_cut(path, (uint64_t)at + 1, mode, &r));
    vmdb_db *db;
    vmdb_db_options o = {.wal_size = 0};
    int rc = vmdb_open(path, &o, &db);
    cr_assert_eq(rc, 0, "cut before call %ld (%s): open -> %s: %s (cut: %s)", at,
                 vmdb__os_powerloss_mode_name(mode), vmdb_error_name(rc),
                 vmdb_last_error()->message, r.summary);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    cr_assert_eq(rows_with(t, 0, before, 1), before, "cut before call %ld (%s): rows "
                 "committed before the growth are lost (cut: %s)", at,
                 vmdb__os_powerloss_mode_name(mode), r.summary);
    uint64_t big = growth == BIG_TRANSACTION ? rows_with(t, BIG_FROM, BIG_FROM + CUT_ROWS, 2)
                                             : rows_with(t, before, before + 10, 1);
    uint64_t whole = growth == BIG_TRANSACTION ? CUT_ROWS : 10;
    cr_assert(big == whole || (big == 0 && acked < 'b'),
              "cut before call %ld (%s): %llu of the %llu rows of the transaction that grew "
              "the log (%s) (cut: %s)", at, vmdb__os_powerloss_mode_name(mode),
              (unsigned long long)big, (unsigned long long)whole,
              acked >= 'b' ? "acknowledged" : "not acknowledged", r.summary);
    uint64_t after = rows_with(t, AFTER_FROM, AFTER_FROM + 10, 3);
    cr_assert(after == 10 || (after == 0 && acked < 'c'),
              "cut before call %ld (%s): %llu of 10 rows of the commit after the growth",
              at, vmdb__os_powerloss_mode_name(mode), (unsigned long long)after);
    rc = vmdb_check(db);
    cr_assert_eq(rc, 0, "cut before call %ld: check -> %s: %s", at, vmdb_error_name(rc),
                 vmdb_last_error()->message);
    ASSERT_OK(put_rows(db, t, 200, 210, 4, VMDB_DURABILITY_SYNC));
    ASSERT_OK(vmdb_close(db));
    return acked == 'c';
}

/* Every call up to the one after the last commit, in every mode. */
static void cut_at_every_step(enum growth growth)
{
    const enum vmdb__powerloss_mode modes[] = {VMDB__POWERLOSS_LOSE, VMDB__POWERLOSS_KEEP,
                                               VMDB__POWERLOSS_TEAR, VMDB__POWERLOSS_RANDOM,
                                               VMDB__POWERLOSS_LOSE_LENGTHS};
    long at = 0;
    unsigned cycles = 0;
    for (bool done = false; !done && at < 400; at++) {
        done = true;
        for (unsigned m = 0; m < sizeof modes / sizeof modes[0]; m++, cycles++)
            done &= cut_at(at, modes[m], growth) == 1;
    }
    cr_assert(at > 10, "the growth made only %ld calls", at);
    cr_log_info("%u cuts at %ld steps", cycles, at);
    remove_test_dir();
}

Test(wal_grow, a_power_cut_at_any_step_of_a_growth_for_a_transaction_loses_nothing_committed,
     .timeout = HARNESS_TIMEOUT)
{
    cut_at_every_step(BIG_TRANSACTION);
}

Test(wal_grow, a_power_cut_at_any_step_of_a_growth_for_busy_checkpoints_loses_nothing_committed,
     .timeout = HARNESS_TIMEOUT)
{
    cut_at_every_step(BUSY);
}

/* A session that grew the log closes by shrinking it, which replaces the
 * file. The tables' summaries were written at the checkpoint just before,
 * for that log: the next open for writing must still believe them, or
 * every open after a busy session reads every slot again. */
Test(wal_grow, the_open_after_a_close_that_shrank_the_log_reads_no_slot,
     .timeout = SUITE_TIMEOUT)
{
    const char *path = test_path("db");
    vmdb__wal_grow_interval_ns = 0;
    vmdb_db *db = open_db(path, 8 << 20);
    vmdb_table *t = make_table(db);
    ASSERT_OK(put_rows(db, t, 0, 12000, 1, VMDB_DURABILITY_NONE)); /* ~3 MiB of log */
    cr_assert_gt(stat_of(db).wal_size, 1 << 20, "the transaction did not grow the log");
    ASSERT_OK(vmdb_close(db));
    assert_log_on_disk(path, 1 << 20);
    uint64_t before = __atomic_load_n(&vmdb__table_slot_passes, __ATOMIC_RELAXED);
    db = open_db(path, 8 << 20);
    uint64_t passes = __atomic_load_n(&vmdb__table_slot_passes, __ATOMIC_RELAXED) - before;
    cr_assert_eq(passes, 0, "the open after the shrink read the slots (%llu passes)",
                 (unsigned long long)passes);
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    cr_assert_eq(rows_with(t, 0, 12000, 1), 12000);
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* Lines of this process's maps that map a replaced (unlinked) log of the
 * database at `path`: each keeps its disk blocks allocated while mapped. */
static int unlinked_logs_mapped(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    char line[4096], wal[700];
    snprintf(wal, sizeof wal, "%s/wal.ring", path);
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, wal) && strstr(line, "(deleted)");
    fclose(f);
    return n;
}

/* A long-lived handle follows every replacement another handle makes: a
 * busy session grows the log and its close shrinks it, two replacements
 * each. The logs it followed away from must not stay mapped until it
 * closes, or a server's handle would hold the disk blocks of every log
 * the command-line sessions beside it replaced. */
Test(wal_grow, a_long_lived_handle_does_not_keep_the_logs_it_followed_away_from,
     .timeout = SUITE_TIMEOUT)
{
    const char *path = test_path("db");
    vmdb__wal_grow_interval_ns = 0;
    vmdb_db *a = open_db(path, 8 << 20);
    vmdb_table *ta = make_table(a);
    for (uint64_t round = 0; round < 8; round++) {
        vmdb_db *b = open_db(path, 8 << 20);
        vmdb_table *tb;
        ASSERT_OK(vmdb_table_open(b, "t", NULL, &tb));
        ASSERT_OK(put_rows(b, tb, 0, 12000, round + 1, VMDB_DURABILITY_NONE));
        ASSERT_OK(vmdb_close(b));
        /* a follows both replacements when it next writes. */
        ASSERT_OK(put_rows(a, ta, 20000 + round, 20001 + round, 1, VMDB_DURABILITY_NONE));
        cr_assert_eq(rows_with(ta, 0, 12000, round + 1), 12000);
    }
    int mapped = unlinked_logs_mapped(path);
    cr_assert_leq(mapped, 2, "after 16 replacements the handle maps %d pieces of unlinked logs",
                  mapped);
    ASSERT_OK(vmdb_check(a));
    cr_assert_eq(stat_of(a).wal_size, 1 << 20);
    ASSERT_OK(vmdb_close(a));
    remove_test_dir();
}

/* Names in the directory at `path` that contain `needle`. */
static int names_with(const char *path, const char *needle)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c -- '%s'", path, needle);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    int n = -1;
    cr_assert_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

static int rename_or_die(const char *from, const char *to)
{
    if (strstr(from, "wal.ring.vmdb-new-"))
        raise(SIGKILL);
    return underneath.rename(from, to);
}

/* A writer killed in the middle of a growth leaves the new log, built
 * whole, under its temporary name: up to the maximum (1 GiB by default)
 * of disk no file in the database names. The next writer, who holds the
 * lock no growth runs without, must take it away. */
Test(wal_grow, a_growth_killed_before_its_rename_leaves_no_temporary_log_behind,
     .timeout = SUITE_TIMEOUT)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, 8 * MIB);
    vmdb_table *t = make_table_sized(db, 8192);
    ASSERT_OK(put_rows(db, t, 0, 10, 1, VMDB_DURABILITY_SYNC));
    ASSERT_OK(vmdb_close(db));
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        vmdb_db_options o = {.wal_size = 0};
        if (vmdb_open(path, &o, &db) != 0 || vmdb_table_open(db, "t", NULL, &t) != 0)
            _exit(2);
        underneath = *vmdb__os_syscalls();
        killer = underneath;
        killer.rename = rename_or_die;
        vmdb__os_set_syscalls(&killer);
        put_rows(db, t, BIG_FROM, BIG_FROM + CUT_ROWS, 2, VMDB_DURABILITY_SYNC);
        _exit(3); /* no growth: the test would test nothing */
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "the writer did not die at the rename (exit %d)",
              WEXITSTATUS(status));
    cr_assert_eq(names_with(path, "wal.ring.vmdb-new-"), 1, "the kill left no new log");
    db = open_db(path, 0);
    cr_assert_eq(names_with(path, "wal.ring.vmdb-new-"), 0,
                 "the open for writing left the dead writer's new log on disk");
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    cr_assert_eq(rows_with(t, 0, 10, 1), 10);
    cr_assert_eq(rows_with(t, BIG_FROM, BIG_FROM + CUT_ROWS, 2), 0);
    ASSERT_OK(put_rows(db, t, BIG_FROM, BIG_FROM + CUT_ROWS, 2, VMDB_DURABILITY_SYNC));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* A handle that has not looked at the log since another one replaced it
 * maps the old file, which a close left empty at the very position its
 * second checkpoint names again, with the salt of the lock page: the
 * tables' summaries looked current by that log while commits went on in
 * the new one, and vmdb_check called a sound table damaged ("the
 * header's summary of the slots is wrong"). */
Test(wal_grow, check_from_a_handle_that_has_not_followed_the_log_finds_no_damage,
     .timeout = SUITE_TIMEOUT)
{
    const char *path = test_path("db");
    vmdb_db *b = open_db(path, 8 * MIB);
    vmdb_table *t = make_table(b);
    ASSERT_OK(put_rows(b, t, 0, 100, 1, VMDB_DURABILITY_SYNC));
    ASSERT_OK(put_rows(b, t, BIG_FROM, BIG_FROM + BIG_ROWS, 2, VMDB_DURABILITY_SYNC));
    cr_assert_gt(stat_of(b).wal_size, MIB, "the transaction did not grow the log");
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
    vmdb_db *r;
    ASSERT_OK(vmdb_open(path, &ro, &r));
    ASSERT_OK(vmdb_check(r)); /* r maps the grown log */
    ASSERT_OK(vmdb_close(b)); /* checkpoints, shrinks, checkpoints again */
    vmdb_db *c = open_db(path, 8 * MIB);
    ASSERT_OK(vmdb_table_open(c, "t", NULL, &t));
    ASSERT_OK(put_rows(c, t, 0, 100, 3, VMDB_DURABILITY_SYNC)); /* into the small log */
    ASSERT_OK(vmdb_check(r));
    ASSERT_OK(vmdb_table_open(r, "t", NULL, &t));
    cr_assert_eq(rows_with(t, 0, 100, 3), 100);
    ASSERT_OK(vmdb_close(c));
    ASSERT_OK(vmdb_close(r));
    remove_test_dir();
}

/* ---- readers of a log that a writer in another process goes on writing -- */

/* A 1 MiB log wraps every 1 MiB of records, and a transaction larger than
 * the room left checkpoints at its start and goes on writing over the
 * records before it: a reader without the lock (vmdb_check, the log's
 * listing) may find a record it checked already written over. */

static const char *scribble_path;
static vmdb_db *wrapper;
static vmdb_table *wrapper_table;
static int hook_calls;

/* As a stray write would: the record's payload length, once its lengths
 * were checked, becomes one far past the log. */
static void scribble_payload_len(const char *stage, const void *rec)
{
    if (strcmp(stage, "fields checked") != 0 || hook_calls++)
        return;
    const vmdb__wal_record *h = rec;
    int fd = open(scribble_path, O_WRONLY);
    cr_assert_geq(fd, 0);
    uint32_t huge = 0x7ffffff0;
    off_t at = (off_t)(4096 + h->lsn % MIB + offsetof(vmdb__wal_record, payload_len));
    cr_assert_eq(pwrite(fd, &huge, sizeof huge, at), (ssize_t)sizeof huge);
    close(fd);
}

/* The checksum was computed over the payload length read again after the
 * check: a reader ran off the end of the log's map (SIGSEGV in vmdb check
 * beside a writer). Damage in place, with no checkpoint meanwhile, is
 * damage: the record is reported, and nothing is read past it. */
Test(wal_grow, a_record_changed_after_its_lengths_were_checked_is_read_no_further,
     .timeout = SUITE_TIMEOUT)
{
    const char *path = test_path("db");
    vmdb_db *w = open_db(path, MIB);
    vmdb_table *t = make_table_sized(w, 8192);
    ASSERT_OK(put_rows(w, t, 0, 100, 1, VMDB_DURABILITY_SYNC));
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
    vmdb_db *r;
    ASSERT_OK(vmdb_open(path, &ro, &r));
    scribble_path = db_file(path, "wal.ring");
    hook_calls = 0;
    vmdb__wal_scan_test_hook = scribble_payload_len;
    int rc = vmdb_check(r);
    vmdb__wal_scan_test_hook = NULL;
    cr_assert_gt(hook_calls, 0, "the check read no record");
    cr_assert_eq(rc, VMDB_ECORRUPT, "check -> %s: %s", vmdb_error_name(rc),
                 vmdb_last_error()->message);
    cr_assert(strstr(vmdb_last_error()->message, "wal.ring"), "%s", vmdb_last_error()->message);
    vmdb_close(r);
    vmdb_close(w);
    remove_test_dir();
}

/* The writer's turn, as it would come in another process: a transaction
 * that does not fit the room left checkpoints at its start and writes its
 * 256-byte records over the oldest ones, out of step with them. */
static void wrap_over(const char *stage, const void *rec)
{
    (void)rec;
    if (strcmp(stage, "record checked") != 0 || hook_calls++)
        return;
    ASSERT_OK(put_rows(wrapper, wrapper_table, 2000, 2000 + 2700, 2, VMDB_DURABILITY_SYNC));
}

/* A record checked, then written over by a checkpoint and the records
 * after it before the reader looked at its fields: vmdb_check called the
 * log damaged ("has unknown flags", at a position made of payload bytes)
 * where it only moved on. */
Test(wal_grow, check_beside_a_writer_that_wraps_the_log_finds_no_damage,
     .timeout = SUITE_TIMEOUT)
{
    const char *path = test_path("db");
    wrapper = open_db(path, MIB);
    wrapper_table = make_table_sized(wrapper, 8192);
    ASSERT_OK(vmdb_checkpoint(wrapper));
    /* 1300 transactions of a row and a commit, 312 bytes each: 40% of
     * the log, no checkpoint due. */
    for (uint64_t id = 0; id < 1300; id++)
        ASSERT_OK(put_rows(wrapper, wrapper_table, id, id + 1, 1, VMDB_DURABILITY_SYNC));
    vmdb_db_info before = stat_of(wrapper);
    cr_assert_eq(before.wal_used, 1300 * 312);
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
    vmdb_db *r;
    ASSERT_OK(vmdb_open(path, &ro, &r));
    hook_calls = 0;
    vmdb__wal_scan_test_hook = wrap_over;
    int rc = vmdb_check(r);
    vmdb__wal_scan_test_hook = NULL;
    cr_assert_gt(hook_calls, 0, "the check read no record");
    cr_assert_gt(stat_of(wrapper).checkpoint_lsn, before.checkpoint_lsn,
                 "the writer did not checkpoint in the middle of the check");
    cr_assert_eq(rc, 0, "check -> %s: %s", vmdb_error_name(rc), vmdb_last_error()->message);
    vmdb_table *rt;
    ASSERT_OK(vmdb_table_open(r, "t", NULL, &rt));
    cr_assert_eq(rows_with(rt, 2000, 4700, 2), 2700);
    vmdb_close(r);
    ASSERT_OK(vmdb_close(wrapper));
    remove_test_dir();
}
