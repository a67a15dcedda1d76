/* SPDX-License-Identifier: MIT */
/*
 * tests/test_fault_loops.c - every system call an operation makes, made
 * to fail in turn.
 *
 * For each public operation and each kind of call the os layer can fail
 * (open, allocate, map, flush, sync, write, rename), the Nth such call
 * fails, for N = 0, 1, ... until the operation no longer reaches an Nth
 * call. Then the database is opened again, as after a crash, and must
 * hold: every committed row, the operation's effect if it reported
 * success, nothing of it if it reported a plain failure (one that says
 * it "may have been committed" may go either way), and a clean check.
 */
#include "helpers.h"

#include <errno.h>
#include <sys/wait.h>

#include "os_fault.h"
#include "rows.h"
#include "vmdb/db.h"

TestSuite(fault_loops, .timeout = 300);

#define BASE_ROWS 100
#define NEW_KEY 1000
#define GROWTH_ROWS 200 /* past the table's first 64 slots and the index's */
#define MOST_CALLS 60   /* no operation here makes more of one kind */

static const enum vmdb__os_op kinds[] = {
    VMDB__OS_OP_OPEN, VMDB__OS_OP_ALLOCATE, VMDB__OS_OP_MAP,   VMDB__OS_OP_FLUSH,
    VMDB__OS_OP_SYNC, VMDB__OS_OP_WRITE,    VMDB__OS_OP_RENAME,
};
static const char *const kind_names[] = {"open", "allocate", "map", "flush", "sync", "write",
                                         "rename"};

static vmdb_db *open_rows(const char *path, unsigned flags, vmdb_table **t)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = flags, .wal_size = 1 << 20};
    ASSERT_OK(vmdb_open(path, &o, &db));
    if (flags & VMDB_DB_CREATE)
        *t = rows_table(db);
    else
        ASSERT_OK(vmdb_table_open(db, "rows", NULL, t));
    return db;
}

static int put_rows(vmdb_db *db, vmdb_table *t, enum vmdb_durability d, uint64_t from,
                    uint64_t to, uint64_t value)
{
    vmdb_txn *txn;
    int rc = vmdb_txn_begin(db, d, &txn);
    for (uint64_t id = from; rc == 0 && id < to; id++)
        rc = vmdb_txn_put(txn, t, &(struct row){id, value ? value : id}, NULL);
    return rc ? rc : vmdb_txn_commit(txn);
}

/* ---- the operations ------------------------------------------------------ */

/* Whether the operation's own failure (not its close's) said the commit
 * may have happened. */
static bool op_doubtful;
/* The database the operation runs on. */
static const char *op_path;

/* The result of the operation proper, noted before its close can
 * overwrite the message; a failed close is the close's business (it
 * must lose nothing, which verify checks). */
static int operation_result(int rc, vmdb_db *db)
{
    op_doubtful = rc < 0 && strstr(vmdb_last_error()->message, "may have been committed");
    vmdb_close(db);
    return rc;
}

/* What an operation changes: the rows [from, to) get `value`, or, with
 * `deleted`, those rows are gone. */
struct effect {
    uint64_t from, to, value;
    bool deleted;
};

struct operation {
    const char *name;
    /* Before the fault is set: brings the database where the operation
     * starts (may be NULL). */
    void (*prepare)(const char *path);
    /* With the fault set: the operation, on the database opened again;
     * returns its result. */
    int (*act)(vmdb_db *db);
    struct effect effect;
};

static int commit_at(vmdb_db *db, enum vmdb_durability d, uint64_t rows)
{
    vmdb_table *t;
    int rc = vmdb_table_open(db, "rows", NULL, &t);
    return rc ? rc : put_rows(db, t, d, NEW_KEY, NEW_KEY + rows, 7);
}

static int commit_sync(vmdb_db *db) { return commit_at(db, VMDB_DURABILITY_SYNC, 1); }
static int commit_group(vmdb_db *db) { return commit_at(db, VMDB_DURABILITY_GROUP, 1); }
static int commit_none(vmdb_db *db) { return commit_at(db, VMDB_DURABILITY_NONE, 1); }
static int grow(vmdb_db *db) { return commit_at(db, VMDB_DURABILITY_SYNC, GROWTH_ROWS); }

/* A NONE commit left for the checkpoint to make durable. */
static void commit_unflushed(const char *path)
{
    vmdb_db *db;
    vmdb_table *t;
    db = open_rows(path, 0, &t);
    ASSERT_OK(put_rows(db, t, VMDB_DURABILITY_NONE, NEW_KEY, NEW_KEY + 1, 7));
    pid_t pid = fork_child();
    if (pid == 0)
        raise(SIGKILL); /* keeps the parent's handle as it is */
    waitpid(pid, NULL, 0);
    ASSERT_OK(vmdb_close(db));
}

static int checkpoint(vmdb_db *db) { return vmdb_checkpoint(db); }

static void delete_odd_rows(const char *path)
{
    vmdb_db *db;
    vmdb_table *t;
    db = open_rows(path, 0, &t);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    for (uint64_t id = 1; id < BASE_ROWS; id += 2)
        ASSERT_OK(vmdb_txn_delete(txn, t, &id, sizeof id));
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_close(db));
}

static int compact(vmdb_db *db) { return vmdb_compact(db, "rows"); }

static int backup(vmdb_db *db)
{
    char dest[600];
    snprintf(dest, sizeof dest, "%s.copy", op_path);
    return vmdb_backup(db, dest);
}

/* A writer killed with a SYNC commit in the log, not checkpointed. */
static void killed_with_commit(const char *path)
{
    pid_t pid = fork_child();
    if (pid == 0) {
        vmdb_db *db;
        vmdb_table *t;
        vmdb_db_options o = {.wal_size = 1 << 20};
        if (vmdb_open(path, &o, &db) || vmdb_table_open(db, "rows", NULL, &t) ||
            put_rows(db, t, VMDB_DURABILITY_SYNC, NEW_KEY, NEW_KEY + 1, 7))
            _exit(1);
        raise(SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status), "the writer failed (%#x)", status);
}

/* Recovery is the open itself. */
static int recover(vmdb_db *db)
{
    (void)db;
    return 0;
}

/* Opens the database at `path` (recovering it), runs the operation on it
 * and closes it: the result is the open's or the operation's. */
static int run_on(const char *path, int (*act)(vmdb_db *db))
{
    vmdb_db *db;
    vmdb_db_options o = {.wal_size = 1 << 20};
    op_doubtful = false;
    op_path = path;
    int rc = vmdb_open(path, &o, &db);
    return rc ? rc : operation_result(act(db), db);
}

static const struct operation operations[] = {
    {"SYNC commit", NULL, commit_sync, {NEW_KEY, NEW_KEY + 1, 7, false}},
    {"GROUP commit", NULL, commit_group, {NEW_KEY, NEW_KEY + 1, 7, false}},
    {"NONE commit and close", NULL, commit_none, {NEW_KEY, NEW_KEY + 1, 7, false}},
    {"table and index growth", NULL, grow, {NEW_KEY, NEW_KEY + GROWTH_ROWS, 7, false}},
    /* Committed before the fault: present whatever the checkpoint does. */
    {"checkpoint", commit_unflushed, checkpoint, {NEW_KEY, NEW_KEY + 1, 7, false}},
    {"compaction", delete_odd_rows, compact, {0, 0, 0, false}},
    {"backup", NULL, backup, {0, 0, 0, false}},
    /* Committed before the fault: recovery must not lose it. */
    {"recovery", killed_with_commit, recover, {NEW_KEY, NEW_KEY + 1, 7, false}},
};

/* ---- the loop ------------------------------------------------------------ */

static bool row_is(vmdb_table *t, uint64_t id, uint64_t value)
{
    struct row r;
    return vmdb_table_get(t, &id, sizeof id, &r, NULL) == 0 && r.value == value;
}

static bool row_absent(vmdb_table *t, uint64_t id)
{
    struct row r;
    return vmdb_table_get(t, &id, sizeof id, &r, NULL) == VMDB_ENOTFOUND;
}

/* The database after the failure, opened again as after a crash. */
static void verify(const char *path, const struct operation *op, int rc, bool doubtful,
                   const char *what)
{
    vmdb_table *t;
    vmdb_db *db;
    vmdb_db_options o = {.wal_size = 1 << 20};
    int open_rc = vmdb_open(path, &o, &db);
    cr_assert_eq(open_rc, 0, "%s: the database does not open again: %s", what,
                 vmdb_last_error()->message);
    ASSERT_OK(vmdb_table_open(db, "rows", NULL, &t));
    bool odd_deleted = op->prepare == delete_odd_rows;
    for (uint64_t id = 0; id < BASE_ROWS; id++) {
        if (odd_deleted && id % 2)
            cr_assert(row_absent(t, id), "%s: deleted row %llu is back", what,
                      (unsigned long long)id);
        else
            cr_assert(row_is(t, id, id), "%s: committed row %llu is lost", what,
                      (unsigned long long)id);
    }
    bool always = op->prepare == commit_unflushed || op->prepare == killed_with_commit;
    const struct effect *e = &op->effect;
    uint64_t present = 0;
    for (uint64_t id = e->from; id < e->to; id++)
        present += row_is(t, id, e->value);
    uint64_t all = e->to - e->from;
    if (rc == 0 || always)
        cr_assert_eq(present, all, "%s: reported done, %llu of %llu rows there", what,
                     (unsigned long long)present, (unsigned long long)all);
    else if (!doubtful)
        cr_assert_eq(present, 0, "%s: reported failed, %llu of %llu rows there", what,
                     (unsigned long long)present, (unsigned long long)all);
    else
        cr_assert(present == 0 || present == all, "%s: half a transaction (%llu of %llu)", what,
                  (unsigned long long)present, (unsigned long long)all);
    int check = vmdb_check(db);
    cr_assert_eq(check, 0, "%s: check: %s", what, vmdb_last_error()->message);
    ASSERT_OK(vmdb_close(db));
}

static void run_operation(const struct operation *op)
{
    unsigned cases = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (unsigned n = 0; n < MOST_CALLS; n++) {
            char path[512], what[200];
            snprintf(path, sizeof path, "%s/%s-%zu-%u", test_dir(), op->name, k, n);
            for (char *c = path + strlen(test_dir()); *c; c++)
                if (*c == ' ')
                    *c = '_';
            vmdb_table *t;
            vmdb_db *db = open_rows(path, VMDB_DB_CREATE, &t);
            ASSERT_OK(put_rows(db, t, VMDB_DURABILITY_SYNC, 0, BASE_ROWS, 0));
            ASSERT_OK(vmdb_close(db));
            if (op->prepare)
                op->prepare(path);
            int err = kinds[k] == VMDB__OS_OP_ALLOCATE ? ENOSPC : EIO;
            vmdb_error_clear();
            vmdb__os_inject_fault(kinds[k], err, n);
            int rc = run_on(path, op->act);
            bool fired = !vmdb__os_fault_armed(kinds[k]);
            bool doubtful = op_doubtful;
            vmdb__os_clear_faults();
            snprintf(what, sizeof what, "%s, %s call %u failing (%s)", op->name, kind_names[k], n,
                     rc ? vmdb_error_name(rc) : "reported done");
            /* A failed call may also be one the library works around (an
             * index it cannot open is rebuilt): what counts is the state
             * left, and that a reported success is one. */
            verify(path, op, rc, doubtful, what);
            cases++;
            if (!fired)
                break; /* the operation makes fewer such calls */
        }
    }
    cr_log_info("%s: %u cases", op->name, cases);
    remove_test_dir();
}

Test(fault_loops, sync_commit) { run_operation(&operations[0]); }
Test(fault_loops, group_commit) { run_operation(&operations[1]); }
Test(fault_loops, none_commit_and_close) { run_operation(&operations[2]); }
Test(fault_loops, table_and_index_growth) { run_operation(&operations[3]); }
Test(fault_loops, checkpoint) { run_operation(&operations[4]); }
Test(fault_loops, compaction) { run_operation(&operations[5]); }
Test(fault_loops, backup) { run_operation(&operations[6]); }
Test(fault_loops, recovery_then_recovery_again) { run_operation(&operations[7]); }
