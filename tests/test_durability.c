/* SPDX-License-Identifier: MIT */
/*
 * tests/test_durability.c - what each durability level promises after a
 * power cut, one finding of issue 10 at a time (the power-cut harness
 * covers the same ground at random; these are the cases it first found,
 * made deterministic).
 *
 * Each test runs a writer in a forked child that tracks the database
 * directory with the os layer's power-loss simulator, reports what it
 * committed on a pipe and dies by SIGKILL; the parent cuts the power and
 * opens the database (recovery), then checks the promise:
 *
 *   SYNC, GROUP  durable when commit returns, with everything committed
 *                before, at any durability, by any handle;
 *   NONE         may be lost after a power cut, but only as a suffix:
 *                the database is the state after a prefix of the commits,
 *                never part of a transaction.
 *
 *   VMDB_SEED                 the seed of the transfers, kills and cuts
 *   VMDB_NONE_CUT_CYCLES      cycles of the NONE test (default 40)
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "crash_model.h"
#include "db.h"
#include "os_powerloss.h"

TestSuite(durability, .timeout = 240);

/* In the child: one transaction putting key `key` (written by "txn" n). */
static int put_one(vmdb_db *db, vmdb_table *t, enum vmdb_durability d, uint64_t key, uint64_t n)
{
    vmdb_txn *txn;
    struct rec r;
    make_rec(&r, key, n, 0);
    if (vmdb_txn_begin(db, d, &txn))
        return -1;
    if (vmdb_txn_put(txn, t, &r, NULL)) {
        vmdb_txn_abort(txn);
        return -1;
    }
    return vmdb_txn_commit(txn) ? -1 : 0;
}

/* One report byte, or false at the end of the pipe. A signal (the
 * killed child's SIGCHLD) must not pass for the end: that would lose
 * reports. */
static bool read_report(int fd)
{
    char c;
    for (;;) {
        ssize_t n = read(fd, &c, 1);
        if (n == 1)
            return true;
        if (n < 0 && errno == EINTR)
            continue;
        return false;
    }
}

/* Waits for the child: it must have reported `want` (a byte per step) and
 * then been killed by its own SIGKILL. */
static void wait_for_writer(pid_t pid, int report, unsigned want)
{
    unsigned got = 0;
    while (read_report(report))
        got++;
    close(report);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "the writer failed (exit status %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    cr_assert_eq(got, want, "the writer reported %u steps of %u", got, want);
}

static void assert_key(vmdb_table *t, uint64_t key, uint64_t n, const char *what)
{
    struct rec r;
    int rc = vmdb_table_get(t, &key, sizeof key, &r, NULL);
    cr_assert(rc == 0 && rec_ok(&r) && r.txn == n, "key %llu (%s) after the cut: %s",
              (unsigned long long)key, what,
              rc == VMDB_ENOTFOUND ? "absent" : rc ? vmdb_last_error()->message
                                                   : "holds another or a damaged record");
}

/*
 * Finding 2: a durable commit flushed only its own log range. The NONE
 * commits before it were in the page cache only, so after a cut the log
 * ended at the first of them and the SYNC commit, acknowledged, was gone.
 */
Test(durability, a_sync_commit_after_none_commits_survives_a_power_cut)
{
    const char *path = test_path("db");
    create_crash_db(path);
    enum { NONE_COMMITS = 80 };
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fds[0]);
        vmdb_db *db;
        vmdb_table *t;
        if (vmdb__os_powerloss_track(path, true) || vmdb_open(path, NULL, &db) ||
            vmdb_table_open(db, "t", NULL, &t))
            _exit(2);
        for (uint64_t k = 0; k < NONE_COMMITS; k++)
            if (put_one(db, t, VMDB_DURABILITY_NONE, k, k + 1))
                _exit(3);
        if (put_one(db, t, VMDB_DURABILITY_SYNC, NONE_COMMITS, NONE_COMMITS + 1))
            _exit(4);
        if (write(fds[1], "s", 1) != 1)
            _exit(5);
        raise(SIGKILL);
    }
    close(fds[1]);
    wait_for_writer(pid, fds[0], 1);

    vmdb__powerloss_report cut;
    ASSERT_OK(vmdb__os_powerloss_cut(path, 1, VMDB__POWERLOSS_LOSE, &cut));
    vmdb_db *db;
    ASSERT_OK(vmdb_open(path, NULL, &db));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    assert_key(t, NONE_COMMITS, NONE_COMMITS + 1, "the acknowledged SYNC commit");
    for (uint64_t k = 0; k < NONE_COMMITS; k++)
        assert_key(t, k, k + 1, "a NONE commit before the SYNC one");
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/*
 * Finding 1: two handles (as two processes would) take turns on one log.
 * The second checkpoints twice; the first then synced the log header
 * under a number below the second's newest, and after a cut the open
 * trusted the older header, with its older salt, and replayed nothing.
 */
Test(durability, a_sync_commit_after_another_handle_checkpointed_twice_survives_a_power_cut)
{
    const char *path = test_path("db");
    create_crash_db(path);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fds[0]);
        vmdb_db *first, *second;
        vmdb_table *t1, *t2;
        if (vmdb__os_powerloss_track(path, true) || vmdb_open(path, NULL, &first) ||
            vmdb_table_open(first, "t", NULL, &t1))
            _exit(2);
        if (vmdb_open(path, NULL, &second) || vmdb_table_open(second, "t", NULL, &t2) ||
            put_one(second, t2, VMDB_DURABILITY_NONE, 1, 1) || vmdb_checkpoint(second) ||
            put_one(second, t2, VMDB_DURABILITY_NONE, 2, 2) || vmdb_checkpoint(second))
            _exit(3);
        vmdb_close(second);
        if (put_one(first, t1, VMDB_DURABILITY_NONE, 3, 3) || vmdb_checkpoint(first) ||
            put_one(first, t1, VMDB_DURABILITY_SYNC, 4, 4))
            _exit(4);
        if (write(fds[1], "s", 1) != 1)
            _exit(5);
        raise(SIGKILL);
    }
    close(fds[1]);
    wait_for_writer(pid, fds[0], 1);

    ASSERT_OK(vmdb__os_powerloss_cut(path, 1, VMDB__POWERLOSS_LOSE, NULL));
    vmdb_db *db;
    ASSERT_OK(vmdb_open(path, NULL, &db));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    assert_key(t, 4, 4, "the acknowledged SYNC commit");
    for (uint64_t k = 1; k <= 3; k++)
        assert_key(t, k, k, "checkpointed before it");
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* ---- NONE: a prefix, never half ------------------------------------------ */

/*
 * Transfers between ACCOUNTS accounts (key = account, txn field = the
 * balance), each transaction also bumping a counter record (key COUNTER,
 * txn field = transactions done), so the database names the prefix it
 * claims to be: the balances must be exactly those after that many
 * transfers, and they always sum to the start.
 */
#define ACCOUNTS 40
#define COUNTER 1000
#define START_BALANCE 1000

static void transfer(uint64_t seed, uint64_t n, uint64_t *balance, uint64_t *from, uint64_t *to,
                     uint64_t *amount)
{
    uint64_t s = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    *from = next_rand(&s) % ACCOUNTS;
    *to = (*from + 1 + next_rand(&s) % (ACCOUNTS - 1)) % ACCOUNTS;
    *amount = balance[*from] ? next_rand(&s) % (balance[*from] + 1) : 0;
    balance[*from] -= *amount;
    balance[*to] += *amount;
}

static int put_value(vmdb_txn *txn, vmdb_table *t, uint64_t key, uint64_t value)
{
    struct rec r;
    make_rec(&r, key, value, 0);
    return vmdb_txn_put(txn, t, &r, NULL);
}

static void none_writer(const char *path, uint64_t seed, uint64_t done, int report)
{
    vmdb_db *db;
    vmdb_table *t;
    if (vmdb__os_powerloss_track(path, true) || vmdb_open(path, NULL, &db) ||
        vmdb_table_open(db, "t", NULL, &t))
        _exit(2);
    uint64_t balance[ACCOUNTS];
    for (size_t i = 0; i < ACCOUNTS; i++)
        balance[i] = START_BALANCE;
    uint64_t from, to, amount;
    for (uint64_t n = 1; n <= done; n++)
        transfer(seed, n, balance, &from, &to, &amount);
    for (uint64_t n = done + 1;; n++) {
        transfer(seed, n, balance, &from, &to, &amount);
        vmdb_txn *txn;
        if (vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn) ||
            put_value(txn, t, from, balance[from]) || put_value(txn, t, to, balance[to]) ||
            put_value(txn, t, COUNTER, n) || vmdb_txn_commit(txn))
            _exit(3);
        if (write(report, "c", 1) != 1)
            _exit(4);
    }
}

static uint64_t value_of(vmdb_table *t, uint64_t key, const char *where)
{
    struct rec r;
    int rc = vmdb_table_get(t, &key, sizeof key, &r, NULL);
    cr_assert(rc == 0 && rec_ok(&r), "%s: key %llu is %s", where, (unsigned long long)key,
              rc == VMDB_ENOTFOUND ? "absent" : "damaged");
    return r.txn;
}

Test(durability, none_commits_after_power_cuts_leave_a_prefix_never_half_a_transfer)
{
    uint64_t seed = test_seed(20261125);
    unsigned cycles = cycles_from_env("VMDB_NONE_CUT_CYCLES", 40);
    const char *path = test_path("db");
    create_crash_db(path);
    {
        vmdb_db *db;
        vmdb_table *t;
        vmdb_txn *txn;
        ASSERT_OK(vmdb_open(path, NULL, &db));
        ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
        ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
        for (uint64_t a = 0; a < ACCOUNTS; a++)
            ASSERT_OK(put_value(txn, t, a, START_BALANCE));
        ASSERT_OK(put_value(txn, t, COUNTER, 0));
        ASSERT_OK(vmdb_txn_commit(txn));
        vmdb_close(db);
    }
    uint64_t done = 0, rs = seed, lost = 0, reported_total = 0;
    for (unsigned cycle = 0; cycle < cycles; cycle++) {
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork_child();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            close(fds[0]);
            none_writer(path, seed, done, fds[1]);
        }
        close(fds[1]);
        /* Killed after a random number of commits: progress, not time. */
        uint64_t want = next_rand(&rs) % 300, reported = 0;
        while (reported < want && read_report(fds[0]))
            reported++;
        kill(pid, SIGKILL);
        while (read_report(fds[0]))
            reported++;
        close(fds[0]);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status), "cycle %u: the writer failed (exit status %d)", cycle,
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        reported_total += reported;

        uint64_t cut_seed = seed ^ ((uint64_t)(cycle + 1) * 0xd1342543de82ef95ULL);
        vmdb__powerloss_report cut;
        ASSERT_OK(vmdb__os_powerloss_cut(path, cut_seed, VMDB__POWERLOSS_RANDOM, &cut));
        char where[1800];
        snprintf(where, sizeof where, "cycle %u (VMDB_SEED=%llu, cut seed %#llx; %llu done before, %llu reported); cut: %s", cycle,
                 (unsigned long long)seed, (unsigned long long)cut_seed,
                 (unsigned long long)done, (unsigned long long)reported, cut.summary);
        vmdb_db *db;
        int rc = vmdb_open(path, NULL, &db);
        cr_assert_eq(rc, 0, "%s: reopen -> %s", where, vmdb_last_error()->message);
        vmdb_table *t;
        ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
        uint64_t prefix = value_of(t, COUNTER, where);
        cr_assert(prefix >= done && prefix <= done + reported + 1,
                  "%s: the counter says %llu transfers", where, (unsigned long long)prefix);
        uint64_t balance[ACCOUNTS], from, to, amount;
        for (size_t i = 0; i < ACCOUNTS; i++)
            balance[i] = START_BALANCE;
        for (uint64_t n = 1; n <= prefix; n++)
            transfer(seed, n, balance, &from, &to, &amount);
        for (uint64_t a = 0; a < ACCOUNTS; a++) {
            uint64_t got = value_of(t, a, where);
            cr_assert_eq(got, balance[a],
                         "%s: account %llu holds %llu, the state after %llu transfers has %llu",
                         where, (unsigned long long)a, (unsigned long long)got,
                         (unsigned long long)prefix, (unsigned long long)balance[a]);
        }
        rc = vmdb_check(db);
        cr_assert_eq(rc, 0, "%s: vmdb_check: %s", where, vmdb_last_error()->message);
        vmdb_close(db);
        lost += done + reported > prefix ? done + reported - prefix : 0;
        done = prefix;
    }
    cr_log_info("%u cuts: %llu NONE commits reported, %llu of them lost to the cuts", cycles,
                (unsigned long long)reported_total, (unsigned long long)lost);
    remove_test_dir();
}

/*
 * A cut keeps whatever log pages the kernel had written back, which may be
 * pages past one it lost. Recovery stops at the lost one; those past it
 * hold records with the log's salt at the positions they were written.
 * Recovery must retire them (a new salt): otherwise the next writer, whose
 * records of the same sizes fill the gap exactly, makes them the log's
 * continuation, and the recovery after it replays commits that were gone.
 */
struct listing {
    uint64_t boundary; /* the end of the log page the first record is on */
    uint64_t first_lsn;
    unsigned puts_before; /* transactions that start before the boundary */
    unsigned puts;
};

static int list_puts(void *ctx, const vmdb_wal_entry *e)
{
    struct listing *l = ctx;
    if (!l->puts) {
        l->first_lsn = e->lsn;
        l->boundary = e->lsn - e->lsn % vmdb_page_size() + vmdb_page_size();
    }
    if (!strcmp(e->kind, "put")) {
        l->puts++;
        l->puts_before += e->lsn < l->boundary;
    }
    return 0;
}

static void commit_then_die(const char *path, enum vmdb_durability d, uint64_t count,
                            uint64_t n_base, bool track)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fds[0]);
        vmdb_db *db;
        vmdb_table *t;
        if ((track && vmdb__os_powerloss_track(path, true)) || vmdb_open(path, NULL, &db) ||
            vmdb_table_open(db, "t", NULL, &t))
            _exit(2);
        /* NONE commits wait in the queue, in no table and not flushed. */
        vmdb__none_delay_ns = 3600ull * 1000 * 1000 * 1000;
        for (uint64_t k = 0; k < count; k++)
            if (put_one(db, t, d, k, n_base + k))
                _exit(3);
        if (write(fds[1], "s", 1) != 1)
            _exit(4);
        raise(SIGKILL);
    }
    close(fds[1]);
    wait_for_writer(pid, fds[0], 1);
}

Test(durability, log_records_a_cut_kept_past_a_lost_page_are_never_replayed)
{
    const char *path = test_path("db");
    create_crash_db(path);
    enum { OLD = 150 };
    commit_then_die(path, VMDB_DURABILITY_NONE, OLD, 1, true);
    /* The kernel wrote back every log page but the first (and no table
     * page has those commits: they waited for their log flush). */
    vmdb__powerloss_report cut;
    ASSERT_OK(vmdb__os_powerloss_cut(path, 1, VMDB__POWERLOSS_KEEP, &cut));
    vmdb_db *db;
    vmdb_db_options as_is = {.flags = VMDB_DB_READONLY | VMDB_DB_AS_IS};
    ASSERT_OK(vmdb_open(path, &as_is, &db));
    struct listing l = {0};
    ASSERT_OK(vmdb_wal_foreach(db, list_puts, &l));
    vmdb_close(db);
    cr_assert_eq(l.puts, OLD);
    cr_assert(l.puts_before > 0 && l.puts_before < OLD, "%u of %u transactions on the first page",
              l.puts_before, l.puts);
    char wal[600];
    snprintf(wal, sizeof wal, "%s/wal.ring", path);
    vmdb_ring *ring;
    ASSERT_OK(vmdb_ring_open(wal, &(vmdb_ring_options){.flags = VMDB_RING_READONLY}, &ring));
    uint64_t cap = vmdb_ring_cap(ring);
    vmdb_ring_close(ring);
    /* From the first record to the page's end: lost, not what was written. */
    long from = (long)(vmdb_page_size() + l.first_lsn % cap);
    long to = (long)(vmdb_page_size() + (l.boundary - 1) % cap + 1);
    for (long at = from; at < to; at++)
        xor_byte_at(wal, at, 0xff);
    /* Nor did the ring's live head reach the disk (its own sector, at 1024;
     * the live tail is at 1088): the log looks empty. */
    size_t wal_len;
    unsigned char *bytes = read_file(wal, &wal_len);
    memcpy(bytes + 1024, bytes + 1088, 8);
    write_file(wal, bytes, wal_len);
    free(bytes);

    /* Recovery stops at once; a writer then commits transactions of the
     * same sizes over the lost page, and dies. */
    ASSERT_OK(vmdb_open(path, NULL, &db));
    vmdb_recovery rep;
    ASSERT_OK(vmdb_recovery_report(db, &rep));
    cr_assert_eq(rep.transactions, 0);
    vmdb_close(db);
    commit_then_die(path, VMDB_DURABILITY_SYNC, l.puts_before, 1000, false);

    ASSERT_OK(vmdb_open(path, NULL, &db));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    for (uint64_t k = 0; k < l.puts_before; k++)
        assert_key(t, k, 1000 + k, "a commit after the recovery");
    for (uint64_t k = l.puts_before; k < OLD; k++) {
        struct rec r;
        cr_assert_eq(vmdb_table_get(t, &k, sizeof k, &r, NULL), VMDB_ENOTFOUND,
                     "key %llu: a commit lost by the cut came back (txn %llu)",
                     (unsigned long long)k, (unsigned long long)r.txn);
    }
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}
