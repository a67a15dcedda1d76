/* SPDX-License-Identifier: MIT */
/*
 * tests/test_multiprocess.c - several processes on one database: creating
 * it at the same moment, opening it while another process creates and
 * grows tables, and a bounded stress of writers and readers with a writer
 * killed and restarted. Children are forked and coordinated with pipes;
 * nothing waits on the clock.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "db.h"
#include "helpers.h"
#include "os.h"
#include "vmdb/db.h"
#include "vmdb/schema.h"

/* Generous: the stress runs a few seconds plain, longer under ASan on a
 * busy machine; a deadlock fails here instead of hanging the run. */
TestSuite(multiprocess, .timeout = 180);

struct rec {
    uint64_t key;
    uint64_t writer;
    uint64_t n;
    uint64_t check; /* a function of the other three: a torn copy fails it */
};

static const vmdb_field rec_fields[] = {
    VMDB_KEY(struct rec, key, VMDB_TYPE_U64),
    VMDB_FIELD(struct rec, writer, VMDB_TYPE_U64),
    VMDB_FIELD(struct rec, n, VMDB_TYPE_U64),
    VMDB_FIELD(struct rec, check, VMDB_TYPE_U64),
};

static uint64_t rec_check(const struct rec *r)
{
    return (r->key * 0x9E3779B97F4A7C15ull) ^ (r->writer << 17) ^ (r->n * 31 + 7);
}

static struct rec make_rec(uint64_t key, uint64_t writer, uint64_t n)
{
    struct rec r = {.key = key, .writer = writer, .n = n};
    r.check = rec_check(&r);
    return r;
}

static int create_table(vmdb_db *db, const char *name, vmdb_table **t)
{
    vmdb_schema *s;
    int rc = vmdb_schema_new(rec_fields, 4, sizeof(struct rec), &s);
    if (rc == 0)
        rc = vmdb_table_create(db, name, s, t);
    vmdb_schema_free(s);
    return rc;
}

static int insert_keys(vmdb_db *db, vmdb_table *t, uint64_t from, uint64_t to)
{
    vmdb_txn *txn;
    int rc = vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn);
    for (uint64_t k = from; rc == 0 && k < to; k++) {
        struct rec r = make_rec(k, 0, k);
        rc = vmdb_txn_insert(txn, t, &r, NULL);
    }
    if (rc == 0)
        return vmdb_txn_commit(txn);
    vmdb_txn_abort(txn);
    return rc;
}

static vmdb_db *open_db(const char *path, unsigned flags)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = flags, .wal_size = 1 << 20};
    ASSERT_OK(vmdb_open(path, &o, &db));
    return db;
}

/* A child reports by exit status and says why on stderr. */
static void child_fail(int code, const char *what)
{
    fprintf(stderr, "child %ld: %s: %s\n", (long)getpid(), what, vmdb_last_error()->message);
    _exit(code);
}

static void wait_ok(pid_t pid, const char *who)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status 0x%x (its stderr says why)",
              who, status);
}

static void write_byte(int fd)
{
    char c = 1;
    while (write(fd, &c, 1) < 0 && errno == EINTR)
        ;
}

/* 1 when a byte came, 0 at end of file. */
static int read_byte(int fd)
{
    char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    return n == 1;
}

/* ---- the child's side of "meanwhile" ------------------------------------ */

/* In the child: when its vmdb_open is about to take the lock, it tells the
 * parent and waits until the parent has changed the database. */
static int hook_to_parent = -1, hook_from_parent = -1;

static void pause_before_lock(const char *path)
{
    (void)path;
    if (hook_to_parent < 0)
        return;
    write_byte(hook_to_parent);
    read_byte(hook_from_parent);
    hook_to_parent = -1; /* once */
}

/* Forks a child that opens `path` for writing and pauses before it takes
 * the lock; *to_child lets it go on. The child then runs fn and exits with
 * its result. */
static pid_t fork_paused_opener(const char *path, int (*fn)(vmdb_db *db), int *to_child)
{
    int up[2], down[2];
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        hook_to_parent = up[1];
        hook_from_parent = down[0];
        vmdb__open_test_hook = pause_before_lock;
        vmdb_db *db;
        vmdb_db_options o = {.wal_size = 1 << 20};
        if (vmdb_open(path, &o, &db) != 0)
            child_fail(10, "vmdb_open");
        int rc = fn(db);
        vmdb_close(db);
        _exit(rc);
    }
    close(up[1]);
    close(down[0]);
    cr_assert(read_byte(up[0]), "the child died before it took the lock");
    close(up[0]);
    *to_child = down[1];
    return pid;
}

/* ---- finding 5: a creation cut short ------------------------------------ */

Test(multiprocess, leftovers_of_a_creation_cut_short_are_removed_by_the_next_create)
{
    /* What a power cut during creation can leave: any subset of the
     * temporary ring, the ring and the temporary lock file. */
    const char *leftovers[][3] = {
        {"wal.ring.tmp-1", NULL, NULL},
        {"wal.ring", "vmdb.lock.tmp", NULL},
        {"wal.ring.tmp-77", "wal.ring", "vmdb.lock.tmp"},
    };
    for (size_t c = 0; c < sizeof leftovers / sizeof leftovers[0]; c++) {
        char name[32], file[64], path[512];
        snprintf(name, sizeof name, "db%zu", c);
        snprintf(path, sizeof path, "%s", test_path(name));
        cr_assert_eq(mkdir(path, 0755), 0);
        for (int i = 0; i < 3 && leftovers[c][i]; i++) {
            snprintf(file, sizeof file, "%s/%s", name, leftovers[c][i]);
            write_file(test_path(file), "junk", 4);
        }
        vmdb_db *db;
        ASSERT_FAILS(vmdb_open(path, NULL, &db), VMDB_EINVAL, "vmdb.lock");
        db = open_db(path, VMDB_DB_CREATE);
        vmdb_table *t;
        ASSERT_OK(create_table(db, "t", &t));
        ASSERT_OK(insert_keys(db, t, 0, 3));
        vmdb_close(db);
        for (int i = 0; i < 3 && leftovers[c][i]; i++) {
            if (!strcmp(leftovers[c][i], "wal.ring"))
                continue;
            snprintf(file, sizeof file, "%s/%s", name, leftovers[c][i]);
            cr_assert(access(test_path(file), F_OK) != 0 && errno == ENOENT,
                      "%s is still there", file);
        }
        db = open_db(path, 0);
        ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
        ASSERT_OK(vmdb_check(db));
        vmdb_close(db);
    }
    /* Anything else is not a leftover: such a directory is not made a
     * database. */
    const char *path = test_path("other");
    cr_assert_eq(mkdir(path, 0755), 0);
    write_file(test_path("other/wal.ring.tmp-1"), "junk", 4);
    write_file(test_path("other/notes.txt"), "mine", 4);
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_FAILS(vmdb_open(path, &o, &db), VMDB_EINVAL, "notes.txt");
    cr_assert_eq(access(test_path("other/notes.txt"), F_OK), 0);
    remove_test_dir();
}

/* ---- finding 6: creators racing ----------------------------------------- */

Test(multiprocess, processes_creating_one_database_at_once_all_succeed)
{
    enum { ROUNDS = 12, CREATORS = 3 };
    for (int round = 0; round < ROUNDS; round++) {
        char name[32];
        snprintf(name, sizeof name, "db%d", round);
        const char *path = test_path(name);
        int go[2];
        cr_assert_eq(pipe(go), 0);
        pid_t pids[CREATORS];
        for (int c = 0; c < CREATORS; c++) {
            pids[c] = fork();
            cr_assert_neq(pids[c], -1);
            if (pids[c] == 0) {
                close(go[1]);
                read_byte(go[0]); /* all start when the parent closes it */
                vmdb_db *db;
                vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 1 << 20};
                if (vmdb_open(path, &o, &db) != 0)
                    child_fail(1, "vmdb_open(CREATE)");
                char table[16];
                snprintf(table, sizeof table, "t%d", c);
                vmdb_table *t;
                if (create_table(db, table, &t) != 0 || insert_keys(db, t, 0, 5) != 0)
                    child_fail(2, "create and fill a table");
                vmdb_close(db);
                _exit(0);
            }
        }
        close(go[0]);
        close(go[1]);
        for (int c = 0; c < CREATORS; c++)
            wait_ok(pids[c], "a creator");
        vmdb_db *db = open_db(path, 0);
        vmdb_db_info info;
        ASSERT_OK(vmdb_db_stat(db, &info));
        cr_assert_eq(info.tables, CREATORS);
        ASSERT_OK(vmdb_check(db));
        vmdb_close(db);
    }
    remove_test_dir();
}

/* ---- finding 7: tables created while an open waits for the lock ---------- */

static int reads_new_table(vmdb_db *db)
{
    vmdb_table *t;
    struct rec r;
    uint64_t key = 7;
    if (vmdb_table_open(db, "created_meanwhile", NULL, &t) != 0)
        child_fail(11, "the table created meanwhile");
    if (vmdb_table_get(t, &key, sizeof key, &r, NULL) != 0 || r.check != rec_check(&r))
        child_fail(12, "the record committed meanwhile");
    return 0;
}

Test(multiprocess, an_open_that_waits_for_the_lock_sees_tables_created_meanwhile)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t;
    ASSERT_OK(create_table(db, "first", &t));
    ASSERT_OK(insert_keys(db, t, 0, 10));
    int go;
    pid_t pid = fork_paused_opener(path, reads_new_table, &go);
    /* The child has not taken the lock yet: a table and a logged commit
     * naming it, not checkpointed, so recovery meets it. */
    ASSERT_OK(create_table(db, "created_meanwhile", &t));
    ASSERT_OK(insert_keys(db, t, 5, 10));
    vmdb_db_info info;
    ASSERT_OK(vmdb_db_stat(db, &info));
    cr_assert_gt(info.wal_used, 0, "the commit must still be in the log");
    write_byte(go);
    close(go);
    wait_ok(pid, "the opener");
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* ---- finding 8: a table grown while an open waits for the lock ------------ */

static int inserts_one(vmdb_db *db)
{
    vmdb_table *t;
    if (vmdb_table_open(db, "grown", NULL, &t) != 0)
        child_fail(11, "the table");
    if (insert_keys(db, t, 1000000, 1000001) != 0)
        child_fail(12, "insert");
    return 0;
}

Test(multiprocess, an_open_that_waits_for_the_lock_sees_growth_made_meanwhile)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t;
    ASSERT_OK(create_table(db, "grown", &t));
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    uint64_t first = st.capacity;
    ASSERT_OK(insert_keys(db, t, 0, first)); /* full to the last slot */
    vmdb_close(db);
    int go;
    pid_t pid = fork_paused_opener(path, inserts_one, &go);
    /* The child may have mapped the full table: grow it, and checkpoint
     * so that recovery has nothing to replay that would grow it there. */
    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "grown", NULL, &t));
    ASSERT_OK(insert_keys(db, t, first, first + 1));
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert_gt(st.capacity, first);
    vmdb_close(db);
    write_byte(go);
    close(go);
    wait_ok(pid, "the opener");
    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "grown", NULL, &t));
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert_eq(st.records, first + 2, "one record overwrote another");
    for (uint64_t k = 0; k <= first; k++) {
        struct rec r;
        ASSERT_OK(vmdb_table_get(t, &k, sizeof k, &r, NULL));
        cr_assert_eq(r.n, k);
    }
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* ---- issue 11.4b: a writer waiting for the lock never waits forever ------ */

enum { HELD_KEY = 4242 };

/* What a lock holder does once the parent writes to it. */
enum { HOLDER_RELEASE = 'r', HOLDER_RELEASE_ONCE_WAITED = 'w' };

struct holder {
    pid_t pid;
    int command; /* the parent writes HOLDER_* here */
};

/* Forks a child that opens `path`, begins a transaction (so holds the
 * write lock) and tells the parent. On HOLDER_RELEASE it commits (puts)
 * HELD_KEY and exits; on HOLDER_RELEASE_ONCE_WAITED it first waits until
 * another process waits for the lock (its waiter mark). */
static struct holder fork_lock_holder(const char *path)
{
    int up[2], down[2];
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        vmdb_db *db;
        vmdb_table *t;
        vmdb_txn *txn;
        if (vmdb_open(path, NULL, &db) != 0 || vmdb_table_open(db, "t", NULL, &t) != 0)
            child_fail(1, "holder: open");
        if (vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn) != 0)
            child_fail(2, "holder: begin");
        write_byte(up[1]);
        char command;
        if (read(down[0], &command, 1) != 1)
            _exit(3);
        while (command == HOLDER_RELEASE_ONCE_WAITED && !vmdb__db_waiter_marked(db))
            sched_yield();
        struct rec r = make_rec(HELD_KEY, 1, 1);
        if (vmdb_txn_put(txn, t, &r, NULL) != 0 || vmdb_txn_commit(txn) != 0)
            child_fail(4, "holder: commit");
        if (vmdb_close(db) != 0)
            child_fail(5, "holder: close");
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    cr_assert(read_byte(up[0]), "the holder died before it took the lock");
    close(up[0]);
    return (struct holder){.pid = pid, .command = down[1]};
}

static void holder_release(struct holder *h, char how)
{
    cr_assert_eq(write(h->command, &how, 1), 1);
    close(h->command);
    wait_ok(h->pid, "the lock holder");
}

static const char *holder_named(const struct holder *h)
{
    static char text[64];
    snprintf(text, sizeof text, "database is locked (pid %ld holds the write lock",
             (long)h->pid);
    return text;
}

/* A database with table "t", closed. */
static void make_db_with_table(const char *path)
{
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t;
    ASSERT_OK(create_table(db, "t", &t));
    vmdb_close(db);
}

Test(multiprocess, a_writer_gives_up_after_the_busy_timeout_naming_the_holder)
{
    const char *path = test_path("db");
    make_db_with_table(path);
    vmdb_db_options o = {.busy_timeout_ms = 200};
    vmdb_db *db;
    ASSERT_OK(vmdb_open(path, &o, &db));
    struct holder h = fork_lock_holder(path);

    vmdb_txn *txn;
    uint64_t before = now_ns();
    ASSERT_FAILS(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn), VMDB_EBUSY, holder_named(&h));
    cr_assert_geq(now_ns() - before, 200ull * 1000 * 1000, "gave up before the timeout");
    ASSERT_FAILS(vmdb_checkpoint(db), VMDB_EBUSY, holder_named(&h));
    /* The open for writing recovers under the lock: it gives up too. */
    vmdb_db *second = (vmdb_db *)1;
    ASSERT_FAILS(vmdb_open(path, &o, &second), VMDB_EBUSY, holder_named(&h));
    cr_assert_null(second);
    /* A reader takes no lock. */
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY, .busy_timeout_ms = 200};
    ASSERT_OK(vmdb_open(path, &ro, &second));
    vmdb_close(second);

    holder_release(&h, HOLDER_RELEASE);
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    struct rec r = make_rec(1, 0, 1);
    ASSERT_OK(vmdb_txn_insert(txn, t, &r, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    uint64_t key = HELD_KEY;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

Test(multiprocess, with_no_busy_timeout_a_writer_waits_until_the_holder_lets_go)
{
    const char *path = test_path("db");
    make_db_with_table(path);
    vmdb_db *db = open_db(path, 0);
    struct holder h = fork_lock_holder(path);
    /* The holder lets go only once this process waits for the lock. */
    char how = HOLDER_RELEASE_ONCE_WAITED;
    cr_assert_eq(write(h.command, &how, 1), 1);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn));
    vmdb_txn_abort(txn);
    close(h.command);
    wait_ok(h.pid, "the lock holder");
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    struct rec r;
    uint64_t key = HELD_KEY;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, &r, NULL));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}

struct notices {
    unsigned count;
    long pid;
    char path[512];
    int release; /* the holder's command pipe, or -1 */
};

static void note_busy(void *ctx, const char *path, long holder_pid)
{
    struct notices *n = ctx;
    n->count++;
    n->pid = holder_pid;
    snprintf(n->path, sizeof n->path, "%s", path);
    char how = HOLDER_RELEASE;
    if (n->release >= 0)
        cr_assert_eq(write(n->release, &how, 1), 1);
}

Test(multiprocess, a_long_wait_for_the_lock_is_noticed_once_and_goes_on)
{
    const char *path = test_path("db");
    make_db_with_table(path);
    struct holder h = fork_lock_holder(path);
    /* No timeout: the wait goes on after the notice, whose callback lets
     * the holder go. */
    struct notices n = {.release = h.command};
    vmdb_db_options o = {.busy_notice = note_busy, .busy_notice_ctx = &n};
    vmdb_db *db;
    ASSERT_OK(vmdb_open(path, &o, &db));
    close(h.command);
    wait_ok(h.pid, "the lock holder");
    cr_assert_eq(n.count, 1);
    cr_assert_eq(n.pid, (long)h.pid);
    cr_assert_str_eq(n.path, path);
    ASSERT_OK(vmdb_close(db));
    /* With a timeout beyond the notice: noticed, then given up. */
    h = fork_lock_holder(path);
    n = (struct notices){.release = -1};
    o.busy_timeout_ms = VMDB_BUSY_NOTICE_MS + 100;
    ASSERT_FAILS(vmdb_open(path, &o, &db), VMDB_EBUSY, holder_named(&h));
    cr_assert_eq(n.count, 1);
    cr_assert_eq(n.pid, (long)h.pid);
    holder_release(&h, HOLDER_RELEASE);
    remove_test_dir();
}

Test(multiprocess, a_close_that_cannot_take_the_lock_leaves_the_checkpoint_to_the_next_writer)
{
    const char *path = test_path("db");
    make_db_with_table(path);
    vmdb_db_options o = {.busy_timeout_ms = 100, .durability = VMDB_DURABILITY_SYNC};
    vmdb_db *db;
    ASSERT_OK(vmdb_open(path, &o, &db));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    ASSERT_OK(insert_keys(db, t, 0, 3));
    struct holder h = fork_lock_holder(path);
    /* What it committed is in the log and the tables: nothing is lost. */
    ASSERT_OK(vmdb_close(db));
    holder_release(&h, HOLDER_RELEASE);
    db = open_db(path, 0);
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert_eq(st.records, 4);
    vmdb_close(db);

    /* A rebuilt index is durable only after a checkpoint: that close
     * fails. */
    ASSERT_OK(vmdb_open(path, &o, &db));
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    ASSERT_OK(vmdb_index_rebuild(t));
    h = fork_lock_holder(path);
    ASSERT_FAILS(vmdb_close(db), VMDB_EBUSY, holder_named(&h));
    holder_release(&h, HOLDER_RELEASE);
    db = open_db(path, 0);
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* ---- the stress: writers, readers, tables made and grown, a kill --------- */

enum { WRITERS = 3, READERS = 2, COMMITS = 120, TABLE_EVERY = 40 };

/* What a writer reports after each commit returned 0: one per record. */
struct ack {
    char table[24];
    uint64_t key;
};

static uint64_t stress_key(int w, int incarnation, uint64_t i)
{
    return (uint64_t)w << 40 | (uint64_t)incarnation << 32 | i;
}

/* A writer: each commit puts one record into the shared table and two into
 * a table of its own, which it replaces with a new one every TABLE_EVERY
 * commits; it reopens the database as often. Durabilities take turns. */
static void stress_writer(const char *path, int w, int incarnation, int ack_fd)
{
    static const enum vmdb_durability dur[] = {VMDB_DURABILITY_NONE, VMDB_DURABILITY_SYNC,
                                               VMDB_DURABILITY_GROUP};
    vmdb_db *db = NULL;
    vmdb_table *shared = NULL, *own = NULL;
    char own_name[24] = "";
    for (uint64_t i = 0; i < COMMITS; i++) {
        if (i % TABLE_EVERY == 0) {
            vmdb_close(db);
            vmdb_db_options o = {.wal_size = 1 << 20};
            if (vmdb_open(path, &o, &db) != 0)
                child_fail(1, "writer: vmdb_open");
            if (vmdb_table_open(db, "shared", NULL, &shared) != 0)
                child_fail(2, "writer: the shared table");
            snprintf(own_name, sizeof own_name, "w%di%dn%llu", w, incarnation,
                     (unsigned long long)(i / TABLE_EVERY));
            if (create_table(db, own_name, &own) != 0)
                child_fail(3, "writer: its own table");
        }
        uint64_t key = stress_key(w, incarnation, i);
        struct rec r0 = make_rec(key, (uint64_t)w, i), r1 = make_rec(2 * key, (uint64_t)w, i),
                   r2 = make_rec(2 * key + 1, (uint64_t)w, i);
        vmdb_txn *txn;
        if (vmdb_txn_begin(db, dur[i % 3], &txn) != 0 || vmdb_txn_insert(txn, shared, &r0, NULL) ||
            vmdb_txn_insert(txn, own, &r1, NULL) || vmdb_txn_insert(txn, own, &r2, NULL) ||
            vmdb_txn_commit(txn))
            child_fail(4, "writer: a commit");
        struct ack acks[3] = {{.key = r0.key}, {.key = r1.key}, {.key = r2.key}};
        snprintf(acks[0].table, sizeof acks[0].table, "shared");
        snprintf(acks[1].table, sizeof acks[1].table, "%s", own_name);
        snprintf(acks[2].table, sizeof acks[2].table, "%s", own_name);
        /* One write under PIPE_BUF: the parent reads all three or none. */
        if (write(ack_fd, acks, sizeof acks) != (ssize_t)sizeof acks)
            _exit(5);
    }
    vmdb_close(db);
    _exit(0);
}

static int reader_check(void *ctx, uint64_t rid, const void *record)
{
    (void)rid;
    const struct rec *r = record;
    if (r->check != rec_check(r)) {
        fprintf(stderr, "reader: table %s: record %llu is torn\n", (const char *)ctx,
                (unsigned long long)r->key);
        return 1;
    }
    return 0;
}

static int reader_table(void *ctx, vmdb_table *t)
{
    (void)ctx;
    int rc = vmdb_table_scan(t, reader_check, (void *)vmdb_table_name(t));
    /* A writer killed mid-write leaves a slot odd until a writer recovers
     * it: that is "not now", not a torn record. */
    return rc == VMDB_EBUSY || rc == VMDB_ENOTFOUND ? 0 : rc;
}

/* A reader: opens read-only, scans every table checking every record, and
 * reopens, until the parent closes `stop`. Exits 0 after at least one
 * whole pass with no torn record. */
static void stress_reader(const char *path, int stop)
{
    unsigned passes = 0;
    for (;;) {
        struct pollfd p = {.fd = stop, .events = POLLIN};
        if (poll(&p, 1, 0) > 0 && passes > 0)
            _exit(0);
        vmdb_db *db;
        vmdb_db_options o = {.flags = VMDB_DB_READONLY};
        int rc = vmdb_open(path, &o, &db);
        if (rc == VMDB_ENEEDRECOVERY) /* the killed writer, until the next one */
            continue;
        if (rc != 0)
            child_fail(20, "reader: vmdb_open");
        for (int i = 0; i < 4; i++) {
            rc = vmdb_table_foreach(db, reader_table, NULL);
            if (rc == 1)
                _exit(21);
            if (rc != 0)
                child_fail(22, "reader: a scan");
            passes++;
        }
        vmdb_close(db);
    }
}

static pid_t spawn_writer(const char *path, int w, int incarnation, int *ack_read)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fds[0]);
        stress_writer(path, w, incarnation, fds[1]);
    }
    close(fds[1]);
    *ack_read = fds[0];
    return pid;
}

Test(multiprocess, writers_readers_growth_and_a_killed_writer_lose_no_acknowledged_record)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DB_CREATE);
    vmdb_table *t;
    ASSERT_OK(create_table(db, "shared", &t));
    vmdb_close(db);

    int stop[2];
    cr_assert_eq(pipe(stop), 0);
    pid_t readers[READERS];
    for (int r = 0; r < READERS; r++) {
        readers[r] = fork();
        cr_assert_neq(readers[r], -1);
        if (readers[r] == 0) {
            close(stop[1]);
            stress_reader(path, stop[0]);
        }
    }
    close(stop[0]);

    size_t cap = (size_t)(WRITERS + 1) * COMMITS * 3, count = 0;
    struct ack *acked = calloc(cap, sizeof *acked);
    cr_assert_not_null(acked);
    pid_t writers[WRITERS];
    int ack_fd[WRITERS];
    uint64_t got[WRITERS] = {0};
    for (int w = 0; w < WRITERS; w++)
        writers[w] = spawn_writer(path, w, 0, &ack_fd[w]);
    /* Writer 0 dies after a random number of its commits were reported,
     * somewhere in the next one, and starts again. */
    srand((unsigned)getpid());
    uint64_t kill_after = 1 + (uint64_t)rand() % (COMMITS - 2);
    bool killed = false;
    int open_pipes = WRITERS;
    while (open_pipes > 0) {
        struct pollfd p[WRITERS];
        for (int w = 0; w < WRITERS; w++)
            p[w] = (struct pollfd){.fd = ack_fd[w], .events = POLLIN};
        int n = poll(p, WRITERS, -1);
        cr_assert(n > 0 || errno == EINTR);
        for (int w = 0; w < WRITERS; w++) {
            if (ack_fd[w] < 0 || !(p[w].revents & (POLLIN | POLLHUP)))
                continue;
            struct ack batch[3];
            ssize_t got_bytes = read(ack_fd[w], batch, sizeof batch);
            if (got_bytes == 0) {
                close(ack_fd[w]);
                if (w == 0 && killed && writers[0] > 0) {
                    /* The killed one's reports are all in: a new one. */
                    wait_ok(writers[0], "writer 0, restarted");
                    writers[0] = 0;
                }
                ack_fd[w] = -1;
                p[w].fd = -1;
                open_pipes--;
                continue;
            }
            cr_assert_eq(got_bytes, (ssize_t)sizeof batch, "writer %d: a short report", w);
            cr_assert_leq(count + 3, cap);
            memcpy(&acked[count], batch, sizeof batch);
            count += 3;
            got[w]++;
            if (w == 0 && !killed && got[0] == kill_after) {
                cr_assert_eq(kill(writers[0], SIGKILL), 0);
                int status;
                cr_assert_eq(waitpid(writers[0], &status, 0), writers[0]);
                cr_assert(WIFSIGNALED(status), "writer 0 ended before it was killed: 0x%x",
                          status);
                killed = true;
                /* Reports written before it died are still in the pipe. */
                for (;;) {
                    ssize_t m = read(ack_fd[0], batch, sizeof batch);
                    if (m <= 0)
                        break;
                    cr_assert_eq(m, (ssize_t)sizeof batch);
                    memcpy(&acked[count], batch, sizeof batch);
                    count += 3;
                }
                close(ack_fd[0]);
                writers[0] = spawn_writer(path, 0, 1, &ack_fd[0]);
            }
        }
    }
    for (int w = 1; w < WRITERS; w++)
        wait_ok(writers[w], "a writer");
    if (writers[0] > 0)
        wait_ok(writers[0], "writer 0, restarted");
    close(stop[1]);
    for (int r = 0; r < READERS; r++)
        wait_ok(readers[r], "a reader");

    cr_assert(killed);
    db = open_db(path, 0);
    uint64_t in_shared = 0;
    for (size_t i = 0; i < count; i++) {
        ASSERT_OK(vmdb_table_open(db, acked[i].table, NULL, &t));
        struct rec r;
        int rc = vmdb_table_get(t, &acked[i].key, sizeof acked[i].key, &r, NULL);
        cr_assert_eq(rc, 0, "acknowledged record %llx of %s is missing",
                     (unsigned long long)acked[i].key, acked[i].table);
        cr_assert_eq(r.check, rec_check(&r));
        in_shared += !strcmp(acked[i].table, "shared");
    }
    /* At most the killed writer's last commit, done but not reported. */
    ASSERT_OK(vmdb_table_open(db, "shared", NULL, &t));
    vmdb_table_info st;
    ASSERT_OK(vmdb_table_stat(t, &st));
    cr_assert(st.records == in_shared || st.records == in_shared + 1,
              "%llu records in the shared table, %llu acknowledged",
              (unsigned long long)st.records, (unsigned long long)in_shared);
    cr_assert_gt(st.capacity, 64, "the shared table should have grown");
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    free(acked);
    remove_test_dir();
}
