/* SPDX-License-Identifier: MIT */
/*
 * tests/test_powercut.c - the power-cut harness: writers at every
 * durability, one or two processes, killed and then the power cut
 * (the simulator of engine/base/os.c, "Power loss", tested in
 * test_powerloss.c).
 *
 * The promise checked after each cut: the state recovery leaves is the
 * result of a prefix of the commit order, across all processes, and that
 * prefix reaches every commit acknowledged at SYNC or GROUP (so it holds
 * every commit before one of those, NONE ones included). NONE commits may
 * be missing at the end, never in part and never out of order; the
 * transaction each writer had in flight is whole or absent; vmdb_check
 * passes. A read-only open before recovery must refuse with
 * VMDB_ENEEDRECOVERY or show a state that keeps the same promise.
 *
 * How the parent knows the order without being told: every transaction
 * reads the order record and writes the next place there (crash_model.h,
 * "several writers"), and reports its place g when its commit returns.
 * After the cut the database's order record names its prefix length L,
 * each writer's record says whether the transaction it had in flight is
 * in it and where, and the parent rebuilds the state of that prefix from
 * the state it verified after the previous cut and compares every key.
 *
 * The kill comes after a random number of reported commits and then a
 * random number of further steps (each operation and each commit call is
 * reported as it starts), so it lands anywhere: in an open, a transaction,
 * a commit's flush, a checkpoint or a close, whatever the machine's speed.
 * The log is small (256 KiB), so checkpoints come every dozen or so
 * transactions; writers also checkpoint, close (which checkpoints) and
 * reopen at points drawn from their transaction numbers.
 *
 *   VMDB_SEED                the seed of transactions, kill points and cuts
 *   VMDB_POWERLOSS_CYCLES    kill-and-cut cycles of each test (defaults below)
 *   VMDB_POWERLOSS_MODE      lose, keep, tear, random (the default) or
 *                            lose-lengths
 *   VMDB_POWERCUT_DURABILITY none, sync or group: every transaction at that
 *                            one; otherwise all three, by number
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "crash_model.h"
#include "os_powerloss.h"

TestSuite(powercut, .timeout = 300);

/* ---- the writers --------------------------------------------------------- */

enum step { STEP_OP, STEP_COMMITTING, STEP_COMMITTED };

/* What a writer reports on the shared pipe; smaller than PIPE_BUF, so the
 * two writers' reports never interleave. */
struct report {
    uint32_t writer;
    uint32_t step;
    uint64_t n; /* the writer's transaction number */
    uint64_t g; /* STEP_COMMITTED: its place in the commit order */
    uint64_t durability;
};

struct reporter {
    int fd;
    unsigned w;
    uint64_t n;
};

static void report(const struct reporter *r, enum step step, uint64_t g, enum vmdb_durability d)
{
    struct report m = {.writer = r->w, .step = step, .n = r->n, .g = g, .durability = d};
    if (write(r->fd, &m, sizeof m) != (ssize_t)sizeof m)
        _exit(7);
}

static void op_done(void *ctx)
{
    report(ctx, STEP_OP, 0, 0);
}

static enum vmdb_durability durability_of(uint64_t seed, unsigned w, uint64_t n)
{
    const char *s = getenv("VMDB_POWERCUT_DURABILITY");
    if (s && !strcmp(s, "none"))
        return VMDB_DURABILITY_NONE;
    if (s && !strcmp(s, "sync"))
        return VMDB_DURABILITY_SYNC;
    if (s && !strcmp(s, "group"))
        return VMDB_DURABILITY_GROUP;
    return writer_txn_durability(seed, w, n);
}

/* What a writer does besides its transaction, drawn from its number. */
#define REOPEN_EVERY 48     /* close (a checkpoint) and open again */
#define CHECKPOINT_EVERY 24 /* an explicit checkpoint after the commit */

/* Writer w: waits for a byte on `go` if it is not -1, then commits its
 * transactions first, first+1, ... until killed, reporting each step.
 * Exit codes: 3-6 and 12 a call that failed, 7 a report, 8 the start,
 * 9 the order record (10 and 11 in writer_txn_ops). */
static void writer(const char *path, uint64_t seed, unsigned w, uint64_t first, int fd, int go)
{
    char c;
    if (go >= 0 && read(go, &c, 1) != 1)
        _exit(8);
    vmdb_db *db = NULL;
    vmdb_table *t = NULL;
    struct reporter r = {.fd = fd, .w = w};
    for (uint64_t n = first;; n++) {
        r.n = n;
        uint64_t s = writer_txn_seed(seed, w, n) ^ 0x6a09e667f3bcc909ULL;
        uint64_t plan = next_rand(&s);
        if (!db || plan % REOPEN_EVERY == 0) {
            vmdb_close(db);
            if (vmdb_open(path, NULL, &db) != 0)
                _exit(3);
            if (vmdb_table_open(db, "t", NULL, &t) != 0)
                _exit(4);
        }
        enum vmdb_durability d = durability_of(seed, w, n);
        vmdb_txn *txn;
        if (vmdb_txn_begin(db, d, &txn) != 0)
            _exit(5);
        /* Under the write lock: nobody else can move the order now. */
        uint64_t key = ORDER_KEY;
        struct rec last;
        int rc = vmdb_table_get(t, &key, sizeof key, &last, NULL);
        if ((rc != 0 && rc != VMDB_ENOTFOUND) || (rc == 0 && !rec_ok(&last)))
            _exit(9);
        uint64_t g = rc == 0 ? last.txn + 1 : 1;
        struct order_model unused;
        writer_txn_ops(seed, w, n, g, &unused, txn, t, op_done, &r);
        report(&r, STEP_COMMITTING, g, d);
        if (vmdb_txn_commit(txn) != 0)
            _exit(6);
        report(&r, STEP_COMMITTED, g, d);
        if (plan % CHECKPOINT_EVERY == 1 && vmdb_checkpoint(db) != 0)
            _exit(12);
    }
}

/* ---- the promise ----------------------------------------------------------- */

struct commit {
    unsigned w;
    uint64_t n, g;
    enum vmdb_durability d;
};

/* What the parent knows of one cycle. */
struct cycle {
    struct order_model base; /* the state verified after the last cut */
    uint64_t base_g;         /* its prefix length */
    struct commit *reported; /* the commits reported this cycle */
    size_t count, cap;
    unsigned writers;
    uint64_t in_flight[MAX_WRITERS]; /* each writer's number after its last report */
    const struct commit *durable;    /* the last acknowledged SYNC or GROUP commit */
};

static void reported_commit(struct cycle *c, struct commit k)
{
    if (c->count == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->reported = realloc(c->reported, c->cap * sizeof *c->reported);
        cr_assert_not_null(c->reported);
    }
    c->reported[c->count++] = k;
}

/* Reads key `key`'s record: 1 present and whole, 0 absent, -1 otherwise. */
static int read_rec(vmdb_table *t, uint64_t key, struct rec *r)
{
    int rc = vmdb_table_get(t, &key, sizeof key, r, NULL);
    if (rc == VMDB_ENOTFOUND)
        return 0;
    return rc == 0 && rec_ok(r) ? 1 : -1;
}

/* For a failure message: the prefix, among those whose order is known
 * from the reports alone, that the table is nearest to. */
static void nearest_prefix(vmdb_table *t, const struct cycle *c, uint64_t seed, char *buf,
                           size_t cap)
{
    struct order_model m = c->base;
    char first[256];
    unsigned best = order_differences(t, &m, first, sizeof first);
    uint64_t best_g = c->base_g;
    for (uint64_t g = c->base_g + 1;; g++) {
        const struct commit *k = NULL;
        for (size_t i = 0; i < c->count && !k; i++)
            if (c->reported[i].g == g)
                k = &c->reported[i];
        if (!k)
            break;
        writer_txn_ops(seed, k->w, k->n, g, &m, NULL, NULL, NULL, NULL);
        char d[256];
        unsigned n = order_differences(t, &m, d, sizeof d);
        if (n <= best) {
            best = n;
            best_g = g;
            snprintf(first, sizeof first, "%s", d);
        }
    }
    snprintf(buf, cap, "nearest reported prefix: %llu, %u keys differ (first: %s)",
             (unsigned long long)best_g, best, first);
}

/*
 * Checks what table t shows against the promise. On success returns true
 * with the state and its prefix length in *state and *len; otherwise
 * false with the reason in why.
 */
static bool keeps_promise(vmdb_table *t, const struct cycle *c, uint64_t seed,
                          struct order_model *state, uint64_t *len, char *why, size_t cap)
{
    struct rec r;
    int got = read_rec(t, ORDER_KEY, &r);
    if (got < 0) {
        snprintf(why, cap, "the order record (key %d) is damaged or unreadable", ORDER_KEY);
        return false;
    }
    uint64_t L = got ? r.txn : 0;
    *len = L;
    if (L < c->base_g) {
        snprintf(why, cap,
                 "the order record says prefix %llu, shorter than the %llu commits the last "
                 "recovery had made durable",
                 (unsigned long long)L, (unsigned long long)c->base_g);
        return false;
    }
    /* Who took each place after the base: reports first. */
    size_t places = (size_t)(L - c->base_g);
    struct commit *order = calloc(places ? places : 1, sizeof *order);
    cr_assert_not_null(order);
    bool ok = true;
    for (size_t i = 0; ok && i < c->count; i++) {
        const struct commit *k = &c->reported[i];
        if (k->g <= c->base_g) {
            snprintf(why, cap,
                     "writer %u reported txn %llu at place %llu, which the state before "
                     "this cycle already held: it read a stale order record",
                     k->w, (unsigned long long)k->n, (unsigned long long)k->g);
            ok = false;
        } else if (k->g <= L) {
            struct commit *slot = &order[k->g - c->base_g - 1];
            if (slot->g) {
                snprintf(why, cap, "writers %u and %u both reported place %llu", slot->w, k->w,
                         (unsigned long long)k->g);
                ok = false;
            }
            *slot = *k;
        }
    }
    /* Then the transactions in flight, where the database puts them. */
    for (unsigned w = 0; ok && w < c->writers; w++) {
        got = read_rec(t, LAST_KEY(w), &r);
        if (got < 0) {
            snprintf(why, cap, "writer %u's record (key %d) is damaged or unreadable", w,
                     LAST_KEY(w));
            ok = false;
        } else if (got && r.op == c->in_flight[w] && r.txn > c->base_g && r.txn <= L &&
                   !order[r.txn - c->base_g - 1].g) {
            order[r.txn - c->base_g - 1] = (struct commit){
                .w = w, .n = r.op, .g = r.txn, .d = durability_of(seed, w, r.op)};
        }
    }
    for (size_t i = 0; ok && i < places; i++)
        if (!order[i].g) {
            snprintf(why, cap,
                     "the order record says prefix %llu, but no reported commit and no "
                     "transaction in flight took place %llu",
                     (unsigned long long)L, (unsigned long long)(c->base_g + 1 + i));
            ok = false;
        }
    if (ok) {
        *state = c->base;
        for (size_t i = 0; i < places; i++)
            writer_txn_ops(seed, order[i].w, order[i].n, order[i].g, state, NULL, NULL, NULL,
                           NULL);
        char first[256], near[400];
        unsigned d = order_differences(t, state, first, sizeof first);
        if (d) {
            nearest_prefix(t, c, seed, near, sizeof near);
            snprintf(why, cap,
                     "not the state of a prefix: its order record says prefix %llu, from "
                     "which %u keys differ (first: %s); %s",
                     (unsigned long long)L, d, first, near);
            ok = false;
        }
    }
    if (ok && c->durable && L < c->durable->g) {
        unsigned none = 0;
        for (size_t i = 0; i < c->count; i++)
            none += c->reported[i].g > L && c->reported[i].g < c->durable->g &&
                    c->reported[i].d == VMDB_DURABILITY_NONE;
        snprintf(why, cap,
                 "an acknowledged durable commit is lost: writer %u's txn %llu at %s took "
                 "place %llu, the state is the prefix of %llu (%u NONE commits reported "
                 "between them)",
                 c->durable->w, (unsigned long long)c->durable->n,
                 durability_name(c->durable->d), (unsigned long long)c->durable->g,
                 (unsigned long long)L, none);
        ok = false;
    }
    free(order);
    return ok;
}

/* ---- the harness ------------------------------------------------------------ */

/* Copies the regular files of directory `from` into `to` (made anew). */
static void copy_dir(const char *from, const char *to)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static enum vmdb__powerloss_mode mode_from_env(void)
{
    const char *s = getenv("VMDB_POWERLOSS_MODE");
    for (int m = VMDB__POWERLOSS_LOSE; s && m <= VMDB__POWERLOSS_LOSE_LENGTHS; m++)
        if (!strcmp(s, vmdb__os_powerloss_mode_name((enum vmdb__powerloss_mode)m)))
            return (enum vmdb__powerloss_mode)m;
    return VMDB__POWERLOSS_RANDOM;
}

struct harness {
    unsigned writers;
    bool staggered;    /* every other cycle, the second writer starts late */
    bool readers;      /* a read-only open between the cut and recovery */
    unsigned cycles;   /* default of VMDB_POWERLOSS_CYCLES */
};

/* Most commits a cycle waits for before its kill, and most steps after. */
#define MAX_COMMITS_BEFORE_KILL 24
#define MAX_STEPS_AFTER 150

static void run(const struct harness *h)
{
    signal(SIGPIPE, SIG_IGN);
    uint64_t seed = test_seed(20261125);
    unsigned cycles = cycles_from_env("VMDB_POWERLOSS_CYCLES", h->cycles);
    enum vmdb__powerloss_mode mode = mode_from_env();
    const char *mode_name = vmdb__os_powerloss_mode_name(mode);
    const char *forced = getenv("VMDB_POWERCUT_DURABILITY");
    cr_log_info("%u cycles, %u writers, mode %s, durability %s", cycles, h->writers, mode_name,
                forced ? forced : "mixed");
    const char *path = test_path("db");
    char after_cut[600];
    snprintf(after_cut, sizeof after_cut, "%s", test_path("db-after-last-cut"));
    create_crash_db(path);

    struct cycle c;
    memset(&c, 0, sizeof c);
    c.writers = h->writers;
    uint64_t next_n[MAX_WRITERS];
    for (unsigned w = 0; w < MAX_WRITERS; w++)
        next_n[w] = 1;
    uint64_t rs = seed, waited_for = 0, by_durability[4] = {0}, by_writer[MAX_WRITERS] = {0};
    uint64_t in_flight_kept = 0, none_lost = 0, refused = 0, reader_saw = 0;
    for (unsigned cycle = 0; cycle < cycles; cycle++) {
        bool late = h->writers > 1 && h->staggered && cycle % 2 == 1;
        uint64_t target = next_rand(&rs) % (MAX_COMMITS_BEFORE_KILL + 1);
        uint64_t steps = next_rand(&rs) % (MAX_STEPS_AFTER + 1);
        uint64_t start_late_at = 1 + next_rand(&rs) % 8;
        waited_for += target;

        /* Tracking starts here and the writers inherit it: their flushes
         * all update the one set of images. */
        ASSERT_OK(vmdb__os_powerloss_track(path, true));
        int fds[2], go[2] = {-1, -1};
        cr_assert_eq(pipe(fds), 0);
        if (late)
            cr_assert_eq(pipe(go), 0);
        pid_t pid[MAX_WRITERS];
        for (unsigned w = 0; w < h->writers; w++) {
            pid[w] = fork();
            cr_assert_neq(pid[w], -1);
            if (pid[w] == 0) {
                close(fds[0]);
                if (late)
                    close(go[1]);
                writer(path, seed, w, next_n[w], fds[1], late && w == 1 ? go[0] : -1);
            }
        }
        ASSERT_OK(vmdb__os_powerloss_track(path, false));
        close(fds[1]);
        if (late)
            close(go[0]);

        c.count = 0;
        c.durable = NULL;
        for (unsigned w = 0; w < h->writers; w++)
            c.in_flight[w] = next_n[w];
        uint64_t commits = 0, after = 0;
        bool started = !late, killed = false;
        struct report m;
        ssize_t got;
        while ((got = read(fds[0], &m, sizeof m)) == (ssize_t)sizeof m) {
            cr_assert(m.writer < h->writers && m.n == c.in_flight[m.writer],
                      "cycle %u: writer %u reported txn %llu, expected %llu", cycle, m.writer,
                      (unsigned long long)m.n,
                      (unsigned long long)c.in_flight[m.writer < MAX_WRITERS ? m.writer : 0]);
            if (m.step == STEP_COMMITTED) {
                reported_commit(&c, (struct commit){.w = m.writer, .n = m.n, .g = m.g,
                                                    .d = (enum vmdb_durability)m.durability});
                c.in_flight[m.writer]++;
                commits++;
            } else if (commits >= target) {
                after++;
            }
            if (!started && !killed && commits >= start_late_at) {
                /* A late writer that failed already (SIGPIPE is ignored)
                 * is reported below, by its exit status. */
                ssize_t sent = write(go[1], "g", 1);
                (void)sent;
                started = true;
            }
            if (!killed && commits >= target && after >= steps) {
                for (unsigned w = 0; w < h->writers; w++)
                    kill(pid[w], SIGKILL);
                killed = true; /* and read what they reported before dying */
            }
        }
        cr_assert_eq(got, 0, "cycle %u: a report of %zd bytes", cycle, got);
        close(fds[0]);
        if (late)
            close(go[1]);
        for (unsigned w = 0; w < h->writers; w++) {
            if (!killed)
                kill(pid[w], SIGKILL); /* the other one failed: see below */
            int status;
            cr_assert_eq(waitpid(pid[w], &status, 0), pid[w]);
            cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "cycle %u: writer %u ended by itself (%s %d; exit codes in writer())",
                      cycle, w, WIFSIGNALED(status) ? "signal" : "exit status",
                      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
        for (size_t i = 0; i < c.count; i++) {
            by_durability[c.reported[i].d]++;
            by_writer[c.reported[i].w]++;
            if (c.reported[i].d != VMDB_DURABILITY_NONE &&
                (!c.durable || c.reported[i].g > c.durable->g))
                c.durable = &c.reported[i];
        }

        uint64_t cut_seed = seed ^ ((uint64_t)(cycle + 1) * 0xd1342543de82ef95ULL);
        vmdb__powerloss_report cut;
        int rc = vmdb__os_powerloss_cut(path, cut_seed, mode, &cut);
        cr_assert_eq(rc, 0, "cycle %u: the power cut failed: %s", cycle, strerror(-rc));
        copy_dir(path, after_cut); /* for a post-mortem */

        char where[2600];
        snprintf(where, sizeof where,
                 "cycle %u (VMDB_SEED=%llu, cut seed %#llx, mode %s, %u writers%s; prefix %llu "
                 "before the cycle, %zu commits reported in it, last durable one at place "
                 "%llu); cut: %s; the files as the cut left them: %s",
                 cycle, (unsigned long long)seed, (unsigned long long)cut_seed, mode_name,
                 h->writers, late ? ", the second started late" : "",
                 (unsigned long long)c.base_g, c.count,
                 (unsigned long long)(c.durable ? c.durable->g : 0), cut.summary, after_cut);
        char why[2048];
        struct order_model state;
        uint64_t len;
        vmdb_db *db;
        vmdb_table *t;
        if (h->readers) {
            vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
            rc = vmdb_open(path, &ro, &db);
            if (rc == VMDB_ENEEDRECOVERY) {
                refused++;
            } else {
                cr_assert_eq(rc, 0, "%s: a read-only open before recovery -> %s: %s", where,
                             vmdb_error_name(rc), vmdb_last_error()->message);
                rc = vmdb_table_open(db, "t", NULL, &t);
                cr_assert_eq(rc, 0, "%s: a read-only open before recovery, table t -> %s: %s",
                             where, vmdb_error_name(rc), vmdb_last_error()->message);
                cr_assert(keeps_promise(t, &c, seed, &state, &len, why, sizeof why),
                          "%s: a read-only open before recovery shows a state that breaks "
                          "the promise: %s",
                          where, why);
                vmdb_close(db);
                reader_saw++;
            }
        }
        rc = vmdb_open(path, NULL, &db);
        cr_assert_eq(rc, 0, "%s: reopen after the cut -> %s: %s", where, vmdb_error_name(rc),
                     vmdb_last_error()->message);
        ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
        vmdb_recovery rep;
        ASSERT_OK(vmdb_recovery_report(db, &rep));
        cr_assert(keeps_promise(t, &c, seed, &state, &len, why, sizeof why),
                  "%s: after recovery (replayed %llu transactions from log position %llu to "
                  "%llu%s): %s",
                  where, (unsigned long long)rep.transactions,
                  (unsigned long long)rep.first_lsn, (unsigned long long)rep.end_lsn,
                  rep.torn_tail ? ", a torn record ended it" : "", why);
        rc = vmdb_check(db);
        cr_assert_eq(rc, 0, "%s: vmdb_check -> %s: %s", where, vmdb_error_name(rc),
                     vmdb_last_error()->message);
        vmdb_close(db);

        for (size_t i = 0; i < c.count; i++)
            none_lost += c.reported[i].g > len;
        for (unsigned w = 0; w < h->writers; w++) {
            in_flight_kept += state.txn[LAST_KEY(w)] > c.base_g &&
                              state.op[LAST_KEY(w)] == c.in_flight[w];
            /* Numbers are never reused, whether or not the one in flight
             * made it. */
            next_n[w] = c.in_flight[w] + 1;
        }
        c.base = state;
        c.base_g = len;
    }
    uint64_t total = 0;
    for (unsigned w = 0; w < MAX_WRITERS; w++)
        total += by_writer[w];
    cr_log_info("%u power cuts (%s): %llu commits reported (%llu NONE, %llu SYNC, %llu GROUP; "
                "%llu by the second writer), %llu NONE commits lost at the end, %llu in-flight "
                "commits kept; read-only opens before recovery: %llu refused, %llu saw a "
                "prefix",
                cycles, mode_name, (unsigned long long)total,
                (unsigned long long)by_durability[VMDB_DURABILITY_NONE],
                (unsigned long long)by_durability[VMDB_DURABILITY_SYNC],
                (unsigned long long)by_durability[VMDB_DURABILITY_GROUP],
                (unsigned long long)by_writer[1], (unsigned long long)none_lost,
                (unsigned long long)in_flight_kept, (unsigned long long)refused,
                (unsigned long long)reader_saw);
    /* The kills waited for these commits, however slow the machine. */
    cr_assert_geq(total, waited_for);
    free(c.reported);
    remove_test_dir();
}

Test(powercut, one_writer_at_mixed_durabilities_recovers_a_prefix_holding_every_durable_commit)
{
    run(&(struct harness){.writers = 1, .cycles = 80});
}

Test(powercut, two_writer_processes_recover_a_prefix_of_their_common_commit_order)
{
    run(&(struct harness){.writers = 2, .staggered = true, .cycles = 80});
}

Test(powercut, read_only_open_before_recovery_refuses_or_shows_a_prefix)
{
    run(&(struct harness){.writers = 2, .staggered = true, .readers = true, .cycles = 40});
}
