/* SPDX-License-Identifier: MIT */
/*
 * tests/test_read.c - read transactions: a reader sees every committed
 * transaction whole or not at all, across threads and processes.
 *
 * The bank: accounts whose balances always add up to the same total,
 * since every transaction moves money from one to another. Writers in
 * other processes transfer without a pause; readers sum all accounts. A
 * sum that differs is a transaction seen in part. Everything is driven by
 * progress (scans done, transfers made), never by the clock.
 */
#include "helpers.h" /* first: it picks the feature macros */

#include "cli_helpers.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "db.h"
#include "os.h"
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
#include "vmdb/db.h"
#include "vmdb/schema.h"

TestSuite(read, .timeout = 300);

#define ACCOUNTS 32
#define OPENING_BALANCE 1000
#define TOTAL ((int64_t)ACCOUNTS * OPENING_BALANCE)
#define WRITERS 2
#define READERS 2

struct account {
    uint64_t id;
    int64_t balance;
};

static const vmdb_field account_fields[] = {
    VMDB_KEY(struct account, id, VMDB_TYPE_U64),
    VMDB_FIELD(struct account, balance, VMDB_TYPE_I64),
};

static vmdb_db *open_db(const char *path, unsigned flags, enum vmdb_durability durability)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = flags, .durability = durability, .wal_size = 4 << 20};
    ASSERT_OK(vmdb_open(path, &o, &db));
    return db;
}

/* The accounts, each followed by `spacing` empty ones (balance 0, ids
 * from FILLER_ID on): a longer scan between two accounts gives a
 * transfer more time to land in the middle of it. */
#define FILLER_ID 1000000
static void open_spaced_bank(const char *path, uint64_t spacing)
{
    vmdb_db *db = open_db(path, VMDB_DB_CREATE, VMDB_DURABILITY_SYNC);
    vmdb_schema *s;
    vmdb_table *t;
    ASSERT_OK(vmdb_schema_new(account_fields, 2, sizeof(struct account), &s));
    ASSERT_OK(vmdb_table_create(db, "accounts", s, &t));
    vmdb_schema_free(s);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (uint64_t id = 0; id < ACCOUNTS; id++) {
        struct account a = {id, OPENING_BALANCE};
        ASSERT_OK(vmdb_txn_insert(txn, t, &a, NULL));
        for (uint64_t f = 0; f < spacing; f++) {
            struct account empty = {FILLER_ID + id * spacing + f, 0};
            ASSERT_OK(vmdb_txn_insert(txn, t, &empty, NULL));
        }
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_close(db));
}

static void open_bank(const char *path)
{
    open_spaced_bank(path, 0);
}

/* What the processes share: written by one, read by the parent. */
struct bank_run {
    uint64_t stop;
    uint64_t transfers[WRITERS];
    uint64_t scans[READERS];
    uint64_t wrong[READERS];
    uint64_t retries[READERS];
    int64_t first_wrong_sum[READERS];
};

static struct bank_run *shared_run(void)
{
    struct bank_run *run = mmap(NULL, sizeof *run, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(run, MAP_FAILED);
    memset(run, 0, sizeof *run);
    return run;
}

static uint64_t next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Moves money between two accounts per transaction, reading both in it,
 * until told to stop. Durabilities mixed: NONE applies on the flusher
 * thread, GROUP and SYNC on the committer's. */
static int transfer(vmdb_db *db, vmdb_table *t, struct bank_run *run, int writer)
{
    uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(writer + 1);
    while (!__atomic_load_n(&run->stop, __ATOMIC_RELAXED)) {
        uint64_t from = next_random(&rng) % ACCOUNTS, to = next_random(&rng) % ACCOUNTS;
        if (from == to)
            continue;
        enum vmdb_durability d = next_random(&rng) % 64 == 0 ? VMDB_DURABILITY_GROUP
                                                             : VMDB_DURABILITY_NONE;
        int64_t amount = (int64_t)(next_random(&rng) % 100) + 1;
        vmdb_txn *txn;
        struct account a, b;
        if (vmdb_txn_begin(db, d, &txn) ||
            vmdb_txn_get(txn, t, &from, sizeof from, &a, NULL) ||
            vmdb_txn_get(txn, t, &to, sizeof to, &b, NULL))
            return 2;
        a.balance -= amount;
        b.balance += amount;
        if (vmdb_txn_update(txn, t, &a) || vmdb_txn_update(txn, t, &b) || vmdb_txn_commit(txn))
            return 3;
        __atomic_add_fetch(&run->transfers[writer], 1, __ATOMIC_RELAXED);
    }
    return 0;
}

/* A child's handle on the bank: 0, or nonzero for its exit status. */
static int open_accounts(const char *path, unsigned flags, vmdb_db **db, vmdb_table **t)
{
    vmdb_db_options o = {.flags = flags, .durability = VMDB_DURABILITY_NONE};
    return vmdb_open(path, &o, db) || vmdb_table_open(*db, "accounts", NULL, t);
}

/* Starts the writers, each running `writer(path, run, w)` in a process. */
static void start_writers(const char *path, struct bank_run *run, pid_t writers[WRITERS],
                          int (*writer)(const char *path, struct bank_run *run, int w))
{
    for (int w = 0; w < WRITERS; w++)
        if ((writers[w] = fork_child()) == 0)
            _exit(writer(path, run, w));
}

/* Tells the writers to stop and checks that none failed. */
static void stop_writers(struct bank_run *run, const pid_t writers[WRITERS])
{
    __atomic_store_n(&run->stop, 1, __ATOMIC_RELAXED);
    for (int w = 0; w < WRITERS; w++) {
        int status;
        cr_assert_eq(waitpid(writers[w], &status, 0), writers[w]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed (%#x)", w,
                  status);
    }
}

static int transfer_until_stopped(const char *path, struct bank_run *run, int writer)
{
    vmdb_db *db;
    vmdb_table *t;
    if (open_accounts(path, 0, &db, &t))
        return 1;
    int rc = transfer(db, t, run, writer);
    return vmdb_close(db) || rc ? 4 : 0;
}

static uint64_t total_transfers(const struct bank_run *run)
{
    uint64_t n = 0;
    for (int w = 0; w < WRITERS; w++)
        n += __atomic_load_n(&run->transfers[w], __ATOMIC_RELAXED);
    return n;
}

static int add_balance(void *ctx, uint64_t rid, const void *record)
{
    (void)rid;
    *(int64_t *)ctx += ((const struct account *)record)->balance;
    return 0;
}

/* One sum of every balance: a scan, or (every other time) a get by key
 * of each account, so that both kinds of read are covered. */
static int sum_balances(vmdb_table *t, uint64_t round, int64_t *sum)
{
    *sum = 0;
    if (round % 2 == 0)
        return vmdb_table_scan(t, add_balance, sum);
    for (uint64_t id = 0; id < ACCOUNTS; id++) {
        struct account a;
        int rc = vmdb_table_get(t, &id, sizeof id, &a, NULL);
        if (rc)
            return rc;
        *sum += a.balance;
    }
    return 0;
}

/* Sums until `scans` are done (and, when asked, until a wrong sum was
 * seen, up to `most`), each inside a read transaction or not. The
 * writers run alongside; the reader goes on only as they make progress,
 * so a busy machine cannot leave it scanning a still database. */
static int sum_while_transferring(vmdb_db *db, vmdb_table *t, struct bank_run *run, int reader,
                                  bool in_read_txn, uint64_t scans, uint64_t most)
{
    uint64_t transfers_seen = 0;
    for (uint64_t i = 0; i < most; i++) {
        if (i >= scans && (in_read_txn || run->wrong[reader] > 0))
            break;
        if (in_read_txn && run->wrong[reader] > 0)
            break; /* the test has failed: no need to go on */
        if (i % 64 == 0) {
            while (total_transfers(run) == transfers_seen)
                sched_yield();
            transfers_seen = total_transfers(run);
        }
        int64_t sum;
        int rc;
        if (in_read_txn) {
            vmdb_read r;
            rc = vmdb_read_begin(db, 0, &r);
            if (rc == 0) {
                while ((rc = sum_balances(t, i, &sum)) == 0 &&
                       (rc = vmdb_read_validate(&r)) == VMDB_ERETRY)
                    run->retries[reader]++;
                vmdb_read_end(&r);
            }
        } else {
            rc = sum_balances(t, i, &sum);
        }
        if (rc)
            return 2;
        if (sum != TOTAL && run->wrong[reader]++ == 0)
            run->first_wrong_sum[reader] = sum;
        __atomic_store_n(&run->scans[reader], i + 1, __ATOMIC_RELAXED);
    }
    return 0;
}

static int sum_in_own_process(const char *path, struct bank_run *run, int reader,
                              bool in_read_txn, uint64_t scans, uint64_t most)
{
    vmdb_db *db;
    vmdb_table *t;
    if (open_accounts(path, VMDB_DB_READONLY, &db, &t))
        return 1;
    int rc = sum_while_transferring(db, t, run, reader, in_read_txn, scans, most);
    return vmdb_close(db) || rc ? 3 : 0;
}

static void run_bank(bool in_read_txn, uint64_t scans, uint64_t most, struct bank_run *run)
{
    const char *path = test_path("bank");
    open_bank(path);
    pid_t writers[WRITERS], readers[READERS];
    start_writers(path, run, writers, transfer_until_stopped);
    /* The readers start once money moves. */
    while (total_transfers(run) < 100)
        sched_yield();
    for (int r = 0; r < READERS; r++)
        if ((readers[r] = fork_child()) == 0)
            _exit(sum_in_own_process(path, run, r, in_read_txn, scans, most));
    for (int r = 0; r < READERS; r++) {
        int status;
        cr_assert_eq(waitpid(readers[r], &status, 0), readers[r]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader %d failed (%d)", r,
                  status);
    }
    stop_writers(run, writers);
    /* The books still balance once everyone is gone. */
    vmdb_db *db = open_db(path, 0, VMDB_DURABILITY_SYNC);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "accounts", NULL, &t));
    int64_t sum;
    ASSERT_OK(sum_balances(t, 0, &sum));
    cr_assert_eq(sum, TOTAL);
    ASSERT_OK(vmdb_close(db));
}

Test(read, readers_in_read_transactions_never_see_part_of_a_transfer)
{
    struct bank_run *run = shared_run();
    run_bank(true, 50000, 50000, run);
    uint64_t scans = 0, wrong = 0, retries = 0;
    for (int r = 0; r < READERS; r++) {
        scans += run->scans[r];
        wrong += run->wrong[r];
        retries += run->retries[r];
    }
    cr_log_info("read transactions: %llu scans, %llu wrong sums, %llu retries, %llu transfers",
                (unsigned long long)scans, (unsigned long long)wrong,
                (unsigned long long)retries, (unsigned long long)total_transfers(run));
    cr_assert_geq(scans, 100000);
    cr_assert_eq(wrong, 0, "%llu of %llu sums were wrong (the first: %lld, not %lld)",
                 (unsigned long long)wrong, (unsigned long long)scans,
                 (long long)(run->first_wrong_sum[0] ? run->first_wrong_sum[0]
                                                     : run->first_wrong_sum[1]),
                 (long long)TOTAL);
    remove_test_dir();
}

/* The same readers without read transactions see transfers in part: what
 * the harness above would catch if read transactions did not hold. */
Test(read, readers_without_read_transactions_see_part_of_a_transfer)
{
    struct bank_run *run = shared_run();
    run_bank(false, 50000, 2000000, run);
    uint64_t scans = 0, wrong = 0;
    for (int r = 0; r < READERS; r++) {
        scans += run->scans[r];
        wrong += run->wrong[r];
    }
    cr_log_info("plain reads: %llu wrong sums in %llu scans", (unsigned long long)wrong,
                (unsigned long long)scans);
    cr_assert_gt(wrong, 0, "no reader saw a transfer in part in %llu scans",
                 (unsigned long long)scans);
    remove_test_dir();
}

/* Threads of one process on one handle: the writer's NONE commits wait in
 * the handle's queue, which plain point reads of this handle look
 * through; a read transaction settles it and reads the tables only. */
struct bank_thread {
    vmdb_db *db;
    vmdb_table *t;
    struct bank_run *run;
    int index;
    int rc;
};

static void *transfer_thread(void *arg)
{
    struct bank_thread *b = arg;
    b->rc = transfer(b->db, b->t, b->run, b->index);
    return NULL;
}

/* Scans per reader thread: VMDB_READ_SCANS, for the mutant run, which
 * needs its race to come up on a machine busy with other suites. */
static uint64_t thread_scans(void)
{
    const char *s = getenv("VMDB_READ_SCANS");
    return s ? strtoull(s, NULL, 0) : 20000;
}

static void *sum_thread(void *arg)
{
    struct bank_thread *b = arg;
    uint64_t scans = thread_scans();
    b->rc = sum_while_transferring(b->db, b->t, b->run, b->index, true, scans, scans);
    return NULL;
}

Test(read, threads_of_one_handle_in_read_transactions_never_see_part_of_a_transfer)
{
    struct bank_run *run = shared_run();
    const char *path = test_path("bank");
    open_bank(path);
    vmdb_db *db = open_db(path, 0, VMDB_DURABILITY_NONE);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "accounts", NULL, &t));
    struct bank_thread writer = {db, t, run, 0, 0}, readers[READERS];
    pthread_t writer_thread, reader_threads[READERS];
    cr_assert_eq(pthread_create(&writer_thread, NULL, transfer_thread, &writer), 0);
    for (int r = 0; r < READERS; r++) {
        readers[r] = (struct bank_thread){db, t, run, r, 0};
        cr_assert_eq(pthread_create(&reader_threads[r], NULL, sum_thread, &readers[r]), 0);
    }
    for (int r = 0; r < READERS; r++) {
        pthread_join(reader_threads[r], NULL);
        cr_assert_eq(readers[r].rc, 0, "reader %d failed", r);
    }
    __atomic_store_n(&run->stop, 1, __ATOMIC_RELAXED);
    pthread_join(writer_thread, NULL);
    cr_assert_eq(writer.rc, 0);
    cr_assert_eq(run->wrong[0] + run->wrong[1], 0, "%llu wrong sums (the first: %lld)",
                 (unsigned long long)(run->wrong[0] + run->wrong[1]),
                 (long long)(run->first_wrong_sum[0] ? run->first_wrong_sum[0]
                                                     : run->first_wrong_sum[1]));
    cr_log_info("threads: %llu scans, %llu retries, %llu transfers",
                (unsigned long long)(run->scans[0] + run->scans[1]),
                (unsigned long long)(run->retries[0] + run->retries[1]),
                (unsigned long long)total_transfers(run));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* ---- holding writers back ------------------------------------------------ */

static int put_account(vmdb_db *db, vmdb_table *t, struct account a)
{
    vmdb_txn *txn;
    int rc = vmdb_txn_begin(db, 0, &txn);
    if (rc == 0 && (rc = vmdb_txn_put(txn, t, &a, NULL)) < 0)
        vmdb_txn_abort(txn);
    return rc < 0 ? rc : vmdb_txn_commit(txn);
}

static int64_t balance_of(vmdb_table *t, uint64_t id)
{
    struct account a;
    ASSERT_OK(vmdb_table_get(t, &id, sizeof id, &a, NULL));
    return a.balance;
}

Test(read, a_read_that_holds_writers_back_keeps_another_process_waiting_until_it_ends)
{
    const char *path = test_path("bank");
    open_bank(path);
    vmdb_db *db = open_db(path, VMDB_DB_READONLY, 0);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "accounts", NULL, &t));
    vmdb_read r;
    ASSERT_OK(vmdb_read_begin(db, VMDB_READ_HOLD, &r));
    int done[2];
    cr_assert_eq(pipe(done), 0);
    pid_t pid = fork_child();
    if (pid == 0) {
        vmdb_db *w;
        vmdb_table *wt;
        vmdb_db_options o = {.durability = VMDB_DURABILITY_SYNC};
        struct account a = {0, 0};
        if (vmdb_open(path, &o, &w) || vmdb_table_open(w, "accounts", NULL, &wt) ||
            put_account(w, wt, a) != 0)
            _exit(1);
        _exit(write(done[1], "x", 1) == 1 && vmdb_close(w) == 0 ? 0 : 2);
    }
    close(done[1]);
    /* The writer marks itself a waiter once it blocks on the lock. */
    int lock_fd;
    ASSERT_OK(vmdb__db_open_lock_file(db, &lock_fd));
    while (vmdb__os_has_waiter(lock_fd) != 1)
        sched_yield();
    cr_assert_eq(balance_of(t, 0), OPENING_BALANCE);
    struct pollfd p = {.fd = done[0], .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 0), 0, "the writer committed while the read held it back");
    ASSERT_OK(vmdb_read_validate(&r));
    vmdb_read_end(&r);
    char c;
    cr_assert_eq(read(done[0], &c, 1), 1, "the writer never got the lock");
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(balance_of(t, 0), 0);
    vmdb__os_close(lock_fd);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

static void die_after_one(vmdb_db *db, size_t applied)
{
    (void)db;
    if (applied == 0)
        _exit(0);
}

Test(read, a_read_after_a_writer_died_mid_apply_needs_recovery_then_sees_the_transfer_whole)
{
    const char *path = test_path("bank");
    open_bank(path);
    vmdb_db *db = open_db(path, VMDB_DB_READONLY, 0);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "accounts", NULL, &t));
    pid_t pid = fork_child();
    if (pid == 0) {
        /* SYNC: the committer applies, and dies after the debit. */
        vmdb_db *w;
        vmdb_table *wt;
        vmdb_db_options o = {.durability = VMDB_DURABILITY_SYNC};
        vmdb_txn *txn;
        struct account a = {0, OPENING_BALANCE - 10}, b = {1, OPENING_BALANCE + 10};
        if (vmdb_open(path, &o, &w) || vmdb_table_open(w, "accounts", NULL, &wt) ||
            vmdb_txn_begin(w, 0, &txn) || vmdb_txn_update(txn, wt, &a) ||
            vmdb_txn_update(txn, wt, &b))
            _exit(1);
        vmdb__apply_test_hook = die_after_one;
        vmdb_txn_commit(txn);
        _exit(2);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer did not die mid-apply");
    /* A plain read sees the debit without the credit; a read transaction
     * refuses to begin on it. */
    cr_assert_eq(balance_of(t, 0) + balance_of(t, 1), 2 * OPENING_BALANCE - 10);
    vmdb_read r;
    ASSERT_FAILS(vmdb_read_begin(db, 0, &r), VMDB_ENEEDRECOVERY, path);
    vmdb_read_end(&r);
    /* The next writer finishes the transfer from the log. */
    vmdb_db *w = open_db(path, 0, VMDB_DURABILITY_SYNC);
    ASSERT_OK(vmdb_read_begin(db, 0, &r));
    int64_t sum;
    ASSERT_OK(sum_balances(t, 0, &sum));
    ASSERT_OK(vmdb_read_validate(&r));
    vmdb_read_end(&r);
    cr_assert_eq(sum, TOTAL);
    cr_assert_eq(balance_of(t, 1), OPENING_BALANCE + 10);
    ASSERT_OK(vmdb_close(w));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(read, a_thread_keeps_to_one_read_and_does_not_wait_for_itself)
{
    const char *path = test_path("bank");
    open_bank(path);
    vmdb_db *db = open_db(path, 0, VMDB_DURABILITY_NONE);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "accounts", NULL, &t));
    vmdb_read r, again;
    ASSERT_OK(vmdb_read_begin(db, VMDB_READ_HOLD, &r));
    ASSERT_FAILS(vmdb_read_begin(db, 0, &again), VMDB_EBUSY, "read transaction open");
    /* Writing now would wait for this very read. */
    vmdb_txn *txn;
    ASSERT_FAILS(vmdb_txn_begin(db, 0, &txn), VMDB_EBUSY, "holds writers back");
    vmdb_read_end(&r);

    /* A read inside this thread's own write transaction: the handle's
     * queued NONE commits are applied, its own writes are not seen. */
    struct account a = {0, 1};
    ASSERT_OK(put_account(db, t, a));
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    a = (struct account){1, 2};
    ASSERT_OK(vmdb_txn_update(txn, t, &a));
    ASSERT_OK(vmdb_read_begin(db, VMDB_READ_HOLD, &r));
    cr_assert_eq(balance_of(t, 0), 1);
    cr_assert_eq(balance_of(t, 1), OPENING_BALANCE);
    ASSERT_OK(vmdb_read_validate(&r));
    vmdb_read_end(&r);
    ASSERT_OK(vmdb_txn_commit(txn));
    cr_assert_eq(balance_of(t, 1), 2);
    ASSERT_FAILS(vmdb_read_begin(db, 4, &r), VMDB_EINVAL, "flags");
    /* Closing ends a read left open. */
    ASSERT_OK(vmdb_read_begin(db, VMDB_READ_HOLD, &r));
    ASSERT_OK(vmdb_close(db));
    db = open_db(path, 0, VMDB_DURABILITY_SYNC);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* ---- what the CLI and vmdb_check read ------------------------------------ */

/* Writers transfer in other processes while `fn` reads `rounds` times,
 * going on only as transfers are made. */
static void while_transferring(const char *path, struct bank_run *run,
                               void (*fn)(vmdb_db *db, uint64_t round, void *ctx), void *ctx,
                               uint64_t rounds)
{
    pid_t writers[WRITERS];
    start_writers(path, run, writers, transfer_until_stopped);
    vmdb_db *db = open_db(path, VMDB_DB_READONLY, 0);
    uint64_t seen = 0;
    for (uint64_t i = 0; i < rounds; i++) {
        while (total_transfers(run) == seen)
            sched_yield();
        seen = total_transfers(run);
        fn(db, i, ctx);
    }
    ASSERT_OK(vmdb_close(db));
    stop_writers(run, writers);
}

struct sql_sums {
    const char *path;
    const char *sum, *rows;
    uint64_t wrong;
};

/* Runs `vmdb query` and adds up the numbers it printed, one per line
 * after the csv header. */
static int64_t printed_total(const char *path, const char *sql)
{
    char args[1024];
    snprintf(args, sizeof args, "query '%s' '%s' --format csv", path, sql);
    cli_result *res = run_cli(args);
    cr_assert_eq(res->status, 0, "vmdb %s: %s", args, res->err);
    int64_t total = 0;
    const char *line = strchr(res->out, '\n');
    while (line && line[1]) {
        total += strtoll(line + 1, NULL, 10);
        line = strchr(line + 1, '\n');
    }
    return total;
}

static void sum_with_sql(vmdb_db *db, uint64_t round, void *ctx)
{
    (void)db;
    struct sql_sums *s = ctx;
    if (printed_total(s->path, round % 2 ? s->sum : s->rows) != TOTAL)
        s->wrong++;
}

Test(read, select_prints_one_committed_state)
{
    struct bank_run *run = shared_run();
    char path[600]; /* test_path's buffer is run_cli's too */
    snprintf(path, sizeof path, "%s", test_path("bank"));
    open_spaced_bank(path, 200);
    struct sql_sums s = {path, "SELECT SUM(balance) FROM accounts", "SELECT balance FROM accounts",
                         0};
    /* Each SELECT is a run of the command: under valgrind, a second or
     * so each, so fewer of them fit the suite's timeout. */
    uint64_t selects = RUNNING_ON_VALGRIND ? 100 : 500;
    while_transferring(path, run, sum_with_sql, &s, selects);
    cr_assert_eq(s.wrong, 0, "%llu of %llu SELECTs printed books that do not balance",
                 (unsigned long long)s.wrong, (unsigned long long)selects);
    remove_test_dir();
}

/* The same through the library's statements: rows stepped through one by
 * one (vmdb_step), and handed to a callback (vmdb_step_all). */
#define API_ROUNDS 500

struct api_sums {
    vmdb_stmt *sum, *rows;
    uint64_t wrong;
};

static int add_row_balance(void *ctx, vmdb_stmt *stmt)
{
    int64_t balance;
    ASSERT_OK(vmdb_column_i64(stmt, 0, &balance));
    *(int64_t *)ctx += balance;
    return 0;
}

static void sum_with_api(vmdb_db *db, uint64_t round, void *ctx)
{
    (void)db;
    struct api_sums *s = ctx;
    int64_t total = 0;
    if (round % 2) {
        vmdb_reset(s->sum);
        cr_assert_eq(vmdb_step(s->sum), VMDB_ROW, "%s", vmdb_last_error()->message);
        ASSERT_OK(vmdb_column_i64(s->sum, 0, &total));
        cr_assert_eq(vmdb_step(s->sum), VMDB_DONE);
    } else {
        ASSERT_OK(vmdb_step_all(s->rows, add_row_balance, &total));
    }
    if (total != TOTAL)
        s->wrong++;
}

static void prepare_sums(vmdb_db *db, uint64_t round, void *ctx)
{
    struct api_sums *s = ctx;
    if (!s->sum) {
        ASSERT_OK(vmdb_prepare(db, "SELECT SUM(balance) FROM accounts", VMDB_SQL_NUL_TERMINATED,
                               &s->sum, NULL));
        ASSERT_OK(vmdb_prepare(db, "SELECT balance FROM accounts WHERE balance > ?",
                               VMDB_SQL_NUL_TERMINATED, &s->rows, NULL));
        /* Every balance counts: one below zero is a bug elsewhere. */
        ASSERT_OK(vmdb_bind_i64(s->rows, 1, INT64_MIN));
    }
    sum_with_api(db, round, ctx);
    /* Statements go before their database closes, after the last round. */
    if (round + 1 == API_ROUNDS) {
        vmdb_finalize(s->sum);
        vmdb_finalize(s->rows);
    }
}

Test(read, select_through_the_api_sees_one_committed_state)
{
    struct bank_run *run = shared_run();
    const char *path = test_path("bank");
    open_spaced_bank(path, 200);
    struct api_sums s = {NULL, NULL, 0};
    while_transferring(path, run, prepare_sums, &s, API_ROUNDS);
    cr_assert_eq(s.wrong, 0, "%llu of 500 SELECTs through vmdb/query.h saw books that do not "
                 "balance", (unsigned long long)s.wrong);
    remove_test_dir();
}

/* Moves money and records: each transaction deletes the oldest filler
 * and inserts a new one, so that the index changes with the slots. */
static int churn_until_stopped(const char *path, struct bank_run *run, int writer)
{
    vmdb_db *db;
    vmdb_table *t;
    if (open_accounts(path, 0, &db, &t))
        return 1;
    uint64_t oldest = (uint64_t)(writer + 1) * 100000000, newest = oldest;
    for (int i = 0; i < 64; i++) {
        struct account empty = {newest++, 0};
        if (put_account(db, t, empty))
            return 2;
    }
    while (!__atomic_load_n(&run->stop, __ATOMIC_RELAXED)) {
        vmdb_txn *txn;
        struct account empty = {newest++, 0};
        uint64_t gone = oldest++;
        if (vmdb_txn_begin(db, 0, &txn) || vmdb_txn_delete(txn, t, &gone, sizeof gone) ||
            vmdb_txn_insert(txn, t, &empty, NULL) || vmdb_txn_commit(txn))
            return 3;
        __atomic_add_fetch(&run->transfers[writer], 1, __ATOMIC_RELAXED);
    }
    return vmdb_close(db) ? 4 : 0;
}

Test(read, check_finds_nothing_wrong_while_writers_change_records_and_index)
{
    struct bank_run *run = shared_run();
    const char *path = test_path("bank");
    open_spaced_bank(path, 100);
    pid_t writers[WRITERS];
    start_writers(path, run, writers, churn_until_stopped);
    vmdb_db *db = open_db(path, VMDB_DB_READONLY, 0);
    uint64_t seen = 0, failed = 0;
    char first[600] = "";
    for (int i = 0; i < 300; i++) {
        while (total_transfers(run) == seen)
            sched_yield();
        seen = total_transfers(run);
        if (vmdb_check(db) != 0 && failed++ == 0)
            snprintf(first, sizeof first, "%s", vmdb_last_error()->message);
    }
    ASSERT_OK(vmdb_close(db));
    stop_writers(run, writers);
    cr_assert_eq(failed, 0, "%llu of 300 checks failed, the first: %s",
                 (unsigned long long)failed, first);
    remove_test_dir();
}

Test(read, a_read_waits_for_a_long_write_no_longer_than_the_busy_timeout)
{
    const char *path = test_path("bank");
    open_bank(path);
    int held[2], go[2];
    cr_assert_eq(pipe(held), 0);
    cr_assert_eq(pipe(go), 0);
    pid_t pid = fork_child();
    if (pid == 0) {
        vmdb_db *w;
        vmdb_txn *txn;
        char c;
        if (vmdb_open(path, NULL, &w) || vmdb_txn_begin(w, 0, &txn) ||
            write(held[1], "x", 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(1);
        vmdb_txn_abort(txn);
        _exit(vmdb_close(w) ? 2 : 0);
    }
    char c;
    cr_assert_eq(read(held[0], &c, 1), 1);
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_READONLY, .busy_timeout_ms = 100};
    ASSERT_OK(vmdb_open(path, &o, &db));
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "pid %d", (int)pid);
    vmdb_read r;
    ASSERT_FAILS(vmdb_read_begin(db, VMDB_READ_HOLD, &r), VMDB_EBUSY, pid_text);
    vmdb_read_end(&r);
    /* Without holding writers back, reading never waits for them. */
    ASSERT_OK(vmdb_read_begin(db, 0, &r));
    vmdb_read_end(&r);
    cr_assert_eq(write(go[1], "x", 1), 1);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_OK(vmdb_read_begin(db, VMDB_READ_HOLD, &r));
    vmdb_read_end(&r);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

/* ---- what the counter must also cover ------------------------------------- */

/* A transfer that grows the table: account 0 pays one unit to each of
 * `count` new accounts. */
static int pay_new_accounts(const char *path, uint64_t count)
{
    vmdb_db *db;
    vmdb_table *t;
    vmdb_txn *txn;
    struct account a;
    uint64_t id = 0;
    if (open_accounts(path, 0, &db, &t) || vmdb_txn_begin(db, 0, &txn) ||
        vmdb_txn_get(txn, t, &id, sizeof id, &a, NULL))
        return 1;
    a.balance -= (int64_t)count;
    if (vmdb_txn_update(txn, t, &a))
        return 2;
    for (uint64_t i = 0; i < count; i++) {
        struct account paid = {FILLER_ID + i, 1};
        if (vmdb_txn_insert(txn, t, &paid, NULL))
            return 3;
    }
    return vmdb_txn_commit(txn) || vmdb_close(db) ? 4 : 0;
}

static void run_child(int (*fn)(const char *path, uint64_t n), const char *path, uint64_t n)
{
    pid_t pid = fork_child();
    if (pid == 0)
        _exit(fn(path, n));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (%#x)", status);
}

Test(read, a_table_another_process_grew_is_read_whole)
{
    const char *path = test_path("bank");
    open_bank(path);
    vmdb_db *db = open_db(path, VMDB_DB_READONLY, 0);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "accounts", NULL, &t));
    run_child(pay_new_accounts, path, 20000);
    vmdb_read r;
    ASSERT_OK(vmdb_read_begin(db, 0, &r));
    int64_t by_scan = 0, by_cursor = 0;
    ASSERT_OK(vmdb_table_scan(t, add_balance, &by_scan));
    vmdb_table_cursor c;
    vmdb_table_cursor_init(&c, t);
    struct account a;
    while (vmdb_table_cursor_next(&c, NULL, &a) == 0)
        by_cursor += a.balance;
    ASSERT_OK(vmdb_read_validate(&r));
    vmdb_read_end(&r);
    cr_assert_eq(by_scan, TOTAL);
    cr_assert_eq(by_cursor, TOTAL);
    vmdb_table_info info;
    ASSERT_OK(vmdb_table_stat(t, &info));
    cr_assert_eq(info.records, ACCOUNTS + 20000);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

static int rebuild_until_stopped(const char *path, struct bank_run *run, int writer)
{
    vmdb_db *db;
    vmdb_table *t;
    if (writer != 0)
        return 0;
    if (open_accounts(path, 0, &db, &t))
        return 1;
    while (!__atomic_load_n(&run->stop, __ATOMIC_RELAXED)) {
        if (vmdb_index_rebuild(t))
            return 2;
        __atomic_add_fetch(&run->transfers[writer], 1, __ATOMIC_RELAXED);
    }
    return vmdb_close(db) ? 3 : 0;
}

Test(read, a_read_transaction_never_ends_on_an_index_being_rebuilt)
{
    struct bank_run *run = shared_run();
    const char *path = test_path("bank");
    open_spaced_bank(path, 100);
    pid_t writers[WRITERS];
    start_writers(path, run, writers, rebuild_until_stopped);
    vmdb_db *db = open_db(path, VMDB_DB_READONLY, 0);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "accounts", NULL, &t));
    uint64_t seen = 0, missing = 0;
    for (int round = 0; round < 200; round++) {
        while (total_transfers(run) == seen)
            sched_yield();
        seen = total_transfers(run);
        vmdb_read r;
        uint64_t found;
        ASSERT_OK(vmdb_read_begin(db, 0, &r));
        do {
            found = 0;
            for (uint64_t id = 0; id < ACCOUNTS; id++) {
                struct account a;
                found += vmdb_table_get(t, &id, sizeof id, &a, NULL) == 0;
            }
        } while (vmdb_read_validate(&r) == VMDB_ERETRY);
        vmdb_read_end(&r);
        missing += found != ACCOUNTS;
    }
    ASSERT_OK(vmdb_close(db));
    stop_writers(run, writers);
    cr_assert_eq(missing, 0, "%llu of 200 validated reads missed accounts",
                 (unsigned long long)missing);
    remove_test_dir();
}

/* A writer in another process commits one record, waiting for the lock
 * at most `wait_ms`: 0 when it committed. */
static int commit_within(const char *path, uint64_t wait_ms)
{
    vmdb_db *db;
    vmdb_table *t;
    vmdb_db_options o = {.busy_timeout_ms = (unsigned)wait_ms};
    int rc = vmdb_open(path, &o, &db);
    if (rc == VMDB_EBUSY)
        return 2;
    if (rc || vmdb_table_open(db, "accounts", NULL, &t))
        return 1;
    struct account paid = {FILLER_ID, 0};
    rc = put_account(db, t, paid);
    vmdb_close(db);
    return rc == 0 ? 0 : rc == VMDB_EBUSY ? 2 : 3;
}

static int commit_status(const char *path, uint64_t wait_ms)
{
    pid_t pid = fork_child();
    if (pid == 0)
        _exit(commit_within(path, wait_ms));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the writer died (%#x)", status);
    return WEXITSTATUS(status);
}

Test(read, a_second_begin_on_an_open_read_leaves_its_hold_to_its_end)
{
    const char *path = test_path("bank");
    open_bank(path);
    vmdb_db *db = open_db(path, VMDB_DB_READONLY, 0);
    vmdb_read r;
    ASSERT_OK(vmdb_read_begin(db, VMDB_READ_HOLD, &r));
    ASSERT_FAILS(vmdb_read_begin(db, VMDB_READ_HOLD, &r), VMDB_EBUSY, "read transaction open");
    cr_assert_eq(commit_status(path, 100), 2, "a writer got past the hold");
    vmdb_read_end(&r);
    cr_assert_eq(commit_status(path, 10000), 0, "the hold outlived its read");
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(read, a_hold_begun_inside_a_write_transaction_holds_on_after_its_commit)
{
    const char *path = test_path("bank");
    open_bank(path);
    vmdb_db *db = open_db(path, 0, VMDB_DURABILITY_SYNC);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "accounts", NULL, &t));
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    struct account a = {1, 7};
    ASSERT_OK(vmdb_txn_update(txn, t, &a));
    vmdb_read r;
    ASSERT_OK(vmdb_read_begin(db, VMDB_READ_HOLD, &r));
    cr_assert_eq(balance_of(t, 1), OPENING_BALANCE);
    ASSERT_OK(vmdb_read_validate(&r));
    ASSERT_OK(vmdb_txn_commit(txn));
    /* What was read since the commit was not held: read again, held. */
    cr_assert_eq(vmdb_read_validate(&r), VMDB_ERETRY);
    cr_assert_eq(balance_of(t, 1), 7);
    cr_assert_eq(commit_status(path, 100), 2, "a writer got past the hold");
    ASSERT_OK(vmdb_read_validate(&r));
    vmdb_read_end(&r);
    cr_assert_eq(commit_status(path, 10000), 0);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}


Test(read, a_scan_cut_short_by_a_drop_is_read_again)
{
    const char *path = test_path("bank");
    open_bank(path);
    /* The dropper opens first: an open for writing is a change too. */
    int ready[2], go[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(go), 0);
    pid_t pid = fork_child();
    if (pid == 0) {
        vmdb_db *w;
        char c;
        if (vmdb_open(path, NULL, &w) || write(ready[1], "x", 1) != 1 ||
            read(go[0], &c, 1) != 1 || vmdb_table_drop(w, "accounts"))
            _exit(1);
        _exit(vmdb_close(w) ? 2 : 0);
    }
    char byte;
    cr_assert_eq(read(ready[0], &byte, 1), 1);
    vmdb_db *db = open_db(path, VMDB_DB_READONLY, 0);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "accounts", NULL, &t));
    vmdb_read r;
    ASSERT_OK(vmdb_read_begin(db, 0, &r));
    vmdb_table_cursor c;
    vmdb_table_cursor_init(&c, t);
    struct account a;
    int seen = 0;
    while (seen < ACCOUNTS / 2 && vmdb_table_cursor_next(&c, NULL, &a) == 0)
        seen++;
    cr_assert_eq(write(go[1], "x", 1), 1);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the dropper failed (%#x)", status);
    while (vmdb_table_cursor_next(&c, NULL, &a) == 0)
        seen++;
    cr_assert_eq(vmdb_read_validate(&r), VMDB_ERETRY, "a scan of %d of %d accounts validated",
                 seen, ACCOUNTS);
    vmdb_table_cursor_init(&c, t);
    cr_assert_eq(vmdb_table_cursor_next(&c, NULL, &a), VMDB_ENOTFOUND);
    ASSERT_OK(vmdb_read_validate(&r));
    vmdb_read_end(&r);
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}
