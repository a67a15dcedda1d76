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
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "crash_model.h"
#include "os.h"

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
    int rc = vmdb_get(t, &key, sizeof key, &r, NULL);
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
