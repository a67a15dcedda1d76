/* SPDX-License-Identifier: MIT */
/*
 * tests/test_crash.c - crash safety, for real.
 *
 * The kill harness: a forked writer runs random transactions of 1 to 100
 * operations on a small key space and reports each commit on a pipe as
 * soon as vmdb_txn_commit() returns; the parent waits for a random number
 * of reports (none, sometimes: the kill then lands in the writer's open
 * and recovery), then for a random fraction of the time a commit takes on
 * this machine, SIGKILLs it, reopens the database (recovery), and compares
 * it with a model built from the reported transactions. Every reported
 * transaction must be there. The one in flight when the kill came may
 * have reached the log (its COMMIT record was written, the report was
 * not): it must then be there whole, otherwise not at all. Nothing of any
 * other transaction may show. Transactions are generated from their
 * number alone, so the parent knows what each one did without being told.
 * The kill follows the writer's progress, not the clock, so a slow or busy
 * machine changes how long the harness takes, never what it checks.
 *
 * The corruption test flips, one at a time, every bit of the last
 * committed transaction's records in the log of a crashed writer, and
 * checks that recovery stops before that transaction, reports where, and
 * applies none of it.
 *
 *   VMDB_SEED           the seed of the writer's transactions and kills
 *   VMDB_KILL_CYCLES    kill cycles (default 500; make stress runs 5000)
 *   VMDB_KILL_MAX_COMMITS  the most reported commits a kill waits for
 *                       (default 4; each count from 0 up is as likely)
 *   VMDB_BITFLIP_STEP   flip every Nth bit only (default 1, every bit)
 */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <xxhash.h>

#include "crash_model.h"

/* The writer: transactions first, first+1, ... until killed. */
static void writer(const char *path, uint64_t seed, uint64_t first, const struct model *start,
                   int report, enum vmdb_durability durability)
{
    vmdb_db *db;
    vmdb_db_options o = {.wal_size = 256 << 10};
    if (vmdb_open(path, &o, &db) != 0)
        _exit(2);
    vmdb_table *t;
    if (vmdb_table_open(db, "t", NULL, &t) != 0)
        _exit(3);
    struct model m = *start;
    for (uint64_t n = first;; n++) {
        vmdb_txn *txn;
        if (vmdb_txn_begin(db, durability, &txn) != 0)
            _exit(4);
        txn_ops(seed, n, &m, txn, t);
        if (vmdb_txn_commit(txn) != 0)
            _exit(5);
        if (write(report, &n, sizeof n) != sizeof n)
            _exit(6);
    }
}

/* What the parent knows: the reported commits, applied to its model. */
struct reports {
    uint64_t seed;
    struct model model;
    uint64_t next; /* the transaction the writer commits next */
    uint64_t total;
};

static void take_report(struct reports *r, uint64_t n, unsigned cycle)
{
    cr_assert_eq(n, r->next, "cycle %u: commit %llu reported out of order", cycle,
                 (unsigned long long)n);
    txn_ops(r->seed, n, &r->model, NULL, NULL);
    r->next++;
    r->total++;
}

TestSuite(crash, .timeout = HARNESS_TIMEOUT);

Test(crash, killed_writer_loses_no_commit_and_shows_no_partial_transaction)
{
    uint64_t seed = test_seed(20261125);
    unsigned cycles = cycles_from_env("VMDB_KILL_CYCLES", 500);
    uint64_t max_commits = cycles_from_env("VMDB_KILL_MAX_COMMITS", 4);
    const char *path = test_path("db");
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 256 << 10};
    ASSERT_OK(vmdb_open(path, &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse(schema_text, &s));
    ASSERT_OK(vmdb_table_create(db, "t", s, NULL));
    vmdb_schema_free(s);
    vmdb_close(db);

    struct reports rep = {.seed = seed, .next = 1};
    uint64_t in_flight_applied = 0, waited_for = 0;
    uint64_t rs = seed;
    /* How long a commit takes here, per durability, learnt from the
     * reports (the first guess only places the first few kills). */
    uint64_t commit_ns[3] = {100000, 100000, 100000};
    for (unsigned cycle = 0; cycle < cycles; cycle++) {
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        unsigned mode = cycle % 3;
        pid_t pid = fork_child();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            close(fds[0]);
            /* Every durability's commit path, in turn. */
            static const enum vmdb_durability modes[] = {
                VMDB_DURABILITY_NONE, VMDB_DURABILITY_SYNC, VMDB_DURABILITY_GROUP};
            writer(path, seed, rep.next, &rep.model, fds[1], modes[mode]);
        }
        close(fds[1]);
        uint64_t target = next_rand(&rs) % (max_commits + 1), first_ns = 0, n;
        for (uint64_t got = 0; got < target; got++) {
            if (read(fds[0], &n, sizeof n) != sizeof n) {
                int status;
                cr_assert_eq(waitpid(pid, &status, 0), pid);
                cr_assert_fail("cycle %u: the writer ended after %llu of the %llu commits its "
                               "kill waits for (status %d)",
                               cycle, (unsigned long long)got, (unsigned long long)target,
                               status);
            }
            if (got == 0)
                first_ns = now_ns();
            take_report(&rep, n, cycle);
        }
        waited_for += target;
        if (target >= 2)
            commit_ns[mode] = (3 * commit_ns[mode] + (now_ns() - first_ns) / (target - 1)) / 4;
        /* Then anywhere in the next commit or two, wherever its time goes. */
        uint64_t ns = next_rand(&rs) % (2 * commit_ns[mode] + 1);
        struct timespec nap = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
        nanosleep(&nap, NULL);
        kill(pid, SIGKILL);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status), "cycle %u: the writer exited by itself (status %d)",
                  cycle, WEXITSTATUS(status));
        while (read(fds[0], &n, sizeof n) == sizeof n)
            take_report(&rep, n, cycle);
        close(fds[0]);

        ASSERT_OK(vmdb_open(path, NULL, &db));
        vmdb_table *t;
        ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
        struct model with_next = rep.model;
        txn_ops(seed, rep.next, &with_next, NULL, NULL);
        char without[256], with[256];
        if (differences(t, &rep.model, without, sizeof without) == 0) {
            /* the transaction in flight never reached the log */
        } else if (differences(t, &with_next, with, sizeof with) == 0) {
            rep.model = with_next; /* it did, whole */
            rep.next++;
            in_flight_applied++;
        } else {
            cr_assert_fail("cycle %u (VMDB_SEED=%llu): after commit %llu the database matches "
                           "neither the reported commits (%s) nor them plus the next "
                           "transaction whole (%s)",
                           cycle, (unsigned long long)seed, (unsigned long long)(rep.next - 1),
                           without, with);
        }
        ASSERT_OK(vmdb_check(db));
        vmdb_close(db);
    }
    cr_log_info("%u kill cycles, %llu reported commits (%llu waited for), %llu in-flight "
                "commits kept; a commit took %llu/%llu/%llu us (NONE/SYNC/GROUP)",
                cycles, (unsigned long long)rep.total, (unsigned long long)waited_for,
                (unsigned long long)in_flight_applied, (unsigned long long)commit_ns[0] / 1000,
                (unsigned long long)commit_ns[1] / 1000, (unsigned long long)commit_ns[2] / 1000);
    cr_assert_geq(rep.total, waited_for, "every commit a kill waited for was reported");
    remove_test_dir();
}

/* ---- bit flips in the log ---------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in && out, "copy %s -> %s", from, to);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

static const char *const db_files[] = {"vmdb.lock", "wal.ring", "t.vmt", "t.vmi"};

/* Copies the database files named in `which` (a bit per db_files entry). */
static void copy_db(const char *from, const char *to, unsigned which)
{
    mkdir(to, 0755);
    for (size_t i = 0; i < sizeof db_files / sizeof *db_files; i++) {
        if (!(which & (1u << i)))
            continue;
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/%s", from, db_files[i]);
        snprintf(b, sizeof b, "%s/%s", to, db_files[i]);
        copy_file(a, b);
    }
}
#define WAL_ONLY 0x2u
#define ALL_BUT_WAL 0xdu

static void flip_bit(const char *path, uint64_t bit)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, (long)(bit / 8), SEEK_SET), 0);
    int c = fgetc(f);
    cr_assert_neq(c, EOF);
    cr_assert_eq(fseek(f, (long)(bit / 8), SEEK_SET), 0);
    fputc(c ^ (1 << (bit % 8)), f);
    fclose(f);
}

Test(crash, every_bit_flip_in_the_last_transaction_stops_replay_before_it)
{
    const char *pristine = test_path("pristine");
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 64 << 10};
    ASSERT_OK(vmdb_open(pristine, &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse(schema_text, &s));
    ASSERT_OK(vmdb_table_create(db, "t", s, NULL));
    vmdb_schema_free(s);
    vmdb_close(db);
    /* The tables as they were before the writer: the state a power cut
     * leaves when the log reached the disk and the table pages did not. */
    const char *before = test_path("before");
    copy_db(pristine, before, ALL_BUT_WAL);

    /* A writer commits A (key 1) and then B (key 2), and dies. */
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        vmdb_db *c;
        vmdb_table *t;
        vmdb_txn *txn;
        struct rec r;
        if (vmdb_open(pristine, NULL, &c) || vmdb_table_open(c, "t", NULL, &t))
            _exit(1);
        for (uint64_t key = 1; key <= 2; key++) {
            make_rec(&r, key, key, 0);
            if (vmdb_txn_begin(c, 0, &txn) || vmdb_txn_put(txn, t, &r, NULL) ||
                vmdb_txn_commit(txn))
                _exit(2);
        }
        raise(SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status));

    /* Where B's records are: open a copy read-only and ask the log. */
    char wal[600];
    snprintf(wal, sizeof wal, "%s/wal.ring", pristine);
    vmdb_ring *ring;
    vmdb_ring_options ro = {.flags = VMDB_RING_READONLY};
    ASSERT_OK(vmdb_ring_open(wal, &ro, &ring));
    uint64_t tail = vmdb_ring_tail(ring), head = vmdb_ring_head(ring), cap = vmdb_ring_cap(ring);
    vmdb_ring_close(ring);
    /* Each transaction is a PUT record (a 56-byte header and the record)
     * and a COMMIT (the header alone). */
    const uint64_t put_len = 56 + sizeof(struct rec), txn_len = put_len + 56;
    cr_assert_eq(head - tail, 2 * txn_len, "two transactions in the log");
    uint64_t b_start = tail + txn_len;
    uint64_t bits = txn_len * 8, checked = 0;
    /* VMDB_BITFLIP_STEP=N flips every Nth bit only (make valgrind: each
     * flip is a recovery, slow under valgrind). */
    uint64_t step = cycles_from_env("VMDB_BITFLIP_STEP", 1);
    if (step == 0)
        step = 1;
    const char *work = test_path("work");
    for (uint64_t bit = 0; bit < bits; bit += step) {
        copy_db(before, work, ALL_BUT_WAL);
        copy_db(pristine, work, WAL_ONLY);
        char wal_copy[600];
        snprintf(wal_copy, sizeof wal_copy, "%s/wal.ring", work);
        uint64_t file_off = vmdb_page_size() + b_start % cap;
        flip_bit(wal_copy, file_off * 8 + bit);
        ASSERT_OK(vmdb_open(work, NULL, &db));
        vmdb_recovery rep;
        ASSERT_OK(vmdb_recovery_report(db, &rep));
        /* A damaged PUT ends the log where B starts; a damaged COMMIT
         * where it would be, B's PUT then being uncommitted. A flip in a
         * record's lsn or salt (its first 16 bytes) makes it no record of
         * this log at all, which looks like the end; anything else is
         * reported as a damaged record. */
        uint64_t byte = bit / 8;
        bool in_commit = byte >= put_len;
        uint64_t in_record = in_commit ? byte - put_len : byte;
        cr_assert_eq(rep.transactions, 1, "bit %llu: only A replays", (unsigned long long)bit);
        cr_assert_eq(rep.end_lsn, b_start + (in_commit ? put_len : 0), "bit %llu: replay stops at "
                     "the damaged record", (unsigned long long)bit);
        cr_assert_eq(rep.torn_tail, in_record >= 16, "bit %llu: torn_tail", (unsigned long long)bit);
        cr_assert_eq(rep.discarded, in_commit ? 1 : 0, "bit %llu", (unsigned long long)bit);
        vmdb_table *t;
        ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
        struct rec r;
        uint64_t key = 1;
        ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
        key = 2;
        cr_assert_eq(vmdb_table_get(t, &key, sizeof key, &r, NULL), VMDB_ENOTFOUND,
                     "bit %llu: B must not be applied", (unsigned long long)bit);
        vmdb_close(db);
        checked++;
    }
    cr_assert_eq(checked, (bits + step - 1) / step);
    remove_test_dir();
}
