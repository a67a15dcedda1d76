/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cli_recovery.c - the commands that read after a writer died
 * in the middle of applying a transaction: they never show half of it.
 */
#include <sys/wait.h>

#include "cli_helpers.h"
#include "db.h"

TestSuite(cli_recovery, .timeout = SUITE_TIMEOUT);

struct row {
    uint64_t id;
    uint64_t version;
};

static void die_after_two(vmdb_db *db, size_t applied)
{
    (void)db;
    if (applied == 1)
        _exit(0);
}

static void put_versions(vmdb_db *db, vmdb_table *t, uint64_t version)
{
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (uint64_t id = 0; id < 10; id++) {
        struct row r = {id, version};
        ASSERT_OK(vmdb_txn_put(txn, t, &r, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
}

/* Ids 0..9 at version 1, then a writer in another process that updates
 * them all to version 2 and dies having applied two. */
static void half_applied(const char *path)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_OK(vmdb_open(path, &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u64 key, version:u64", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "t", s, &t));
    vmdb_schema_free(s);
    put_versions(db, t, 1);
    vmdb_close(db);
    pid_t pid = fork_child();
    if (pid == 0) {
        /* SYNC: the committer applies, so the hook runs in this thread. */
        vmdb_db_options so = {.durability = VMDB_DURABILITY_SYNC};
        if (vmdb_open(path, &so, &db) || vmdb_table_open(db, "t", NULL, &t))
            _exit(1);
        vmdb__apply_test_hook = die_after_two;
        put_versions(db, t, 2);
        _exit(2);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer died mid-apply");
}

Test(cli_recovery, a_query_after_a_writer_died_mid_apply_sees_all_of_its_transaction)
{
    char path[600]; /* test_path's buffer is reused by run_cli */
    snprintf(path, sizeof path, "%s", test_path("db"));
    half_applied(path);
    char args[700];
    /* The log as the dead writer left it: its transaction is there. */
    snprintf(args, sizeof args, "wal '%s' --format csv", path);
    cli_result *res = run_cli(args);
    cr_assert_eq(res->status, 0, "%s", res->err);
    ASSERT_CONTAINS(res->out, ",commit,");
    /* A read finishes it first: every record at version 2. */
    snprintf(args, sizeof args, "query '%s' 'SELECT COUNT(*) FROM t WHERE version = 2'", path);
    res = run_cli(args);
    cr_assert_eq(res->status, 0, "%s", res->err);
    ASSERT_CONTAINS(res->out, "10");
    snprintf(args, sizeof args, "check '%s'", path);
    res = run_cli(args);
    cr_assert_eq(res->status, 0, "%s", res->err);
    remove_test_dir();
}
