/* SPDX-License-Identifier: MIT */
/*
 * tests/test_reader_after_cut.c - a read-only open after a power cut, before
 * any writer has recovered (issue 10, finding 4).
 *
 * The lock page's count of transactions being applied is never flushed, so
 * after a power cut it says nothing; the tables may be behind the log all
 * the same. A writer of the boot before acknowledged id=1 v=2 at SYNC, and
 * the cut lost the table page (LOSE): the log has it, the table has v=1. A
 * reader must not show v=1 as the database: the library refuses
 * (VMDB_ENEEDRECOVERY), and the command's readers recover first.
 */
#include <signal.h>
#include <sys/wait.h>

#include "cli.h"
#include "helpers.h"
#include "os_powerloss.h"

struct row {
    uint64_t id;
    uint64_t v;
};

static void put(vmdb_db *db, vmdb_table *t, uint64_t id, uint64_t v)
{
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    struct row r = {id, v};
    ASSERT_OK(vmdb_txn_put(txn, t, &r, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
}

static void create_with_v1(const char *path)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 256 << 10};
    ASSERT_OK(vmdb_open(path, &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u64 key, v:u64", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "t", s, &t));
    vmdb_schema_free(s);
    put(db, t, 1, 1);
    vmdb_close(db);
}

/* The repro: a writer (a child, the boot before the cut) puts id=1 v=2 at
 * SYNC, says so, and dies; the power goes, losing every page not flushed. */
static void acknowledged_v2_then_cut(const char *path)
{
    create_with_v1(path);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fds[0]);
        vmdb_db *db;
        vmdb_table *t;
        vmdb_db_options o = {.durability = VMDB_DURABILITY_SYNC};
        if (vmdb__os_powerloss_track(path, true) != 0 || vmdb_open(path, &o, &db) != 0 ||
            vmdb_table_open(db, "t", NULL, &t) != 0)
            _exit(2);
        vmdb_txn *txn;
        struct row r = {1, 2};
        if (vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn) || vmdb_txn_put(txn, t, &r, NULL) ||
            vmdb_txn_commit(txn))
            _exit(3);
        char ack = 1;
        if (write(fds[1], &ack, 1) != 1)
            _exit(4);
        raise(SIGKILL);
    }
    close(fds[1]);
    char ack = 0;
    cr_assert_eq(read(fds[0], &ack, 1), 1, "the writer died before acknowledging v=2");
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    vmdb__powerloss_report cut;
    ASSERT_OK(vmdb__os_powerloss_cut(path, 1, VMDB__POWERLOSS_LOSE, &cut));
    cr_log_info("cut: %s", cut.summary);
}

static uint64_t v_of_1(vmdb_db *db)
{
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    uint64_t id = 1;
    struct row r;
    ASSERT_OK(vmdb_table_get(t, &id, sizeof id, &r, NULL));
    return r.v;
}

Test(reader_after_cut, read_only_open_refuses_until_a_writer_of_this_boot_recovered,
     .timeout = 60)
{
    char path[600];
    snprintf(path, sizeof path, "%s", test_path("db"));
    acknowledged_v2_then_cut(path);
    vmdb_db *db = NULL;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
    int rc = vmdb_open(path, &ro, &db);
    cr_assert_eq(rc, VMDB_ENEEDRECOVERY,
                 "a read-only open after the cut -> %s%s (v=%llu; the acknowledged commit "
                 "put v=2)",
                 vmdb_error_name(rc), rc ? "" : ", and reads what the cut left",
                 rc ? 0ull : (unsigned long long)v_of_1(db));
    cr_assert(strstr(vmdb_last_error()->message, path) &&
                  strstr(vmdb_last_error()->message, "vmdb recover"),
              "the refusal should name the database and how to recover: %s",
              vmdb_last_error()->message);
    cr_assert_null(strchr(vmdb_last_error()->message, '\n'));
    /* AS_IS opens for inspection: the table as the cut left it. */
    vmdb_db_options as_is = {.flags = VMDB_DB_READONLY | VMDB_DB_AS_IS};
    ASSERT_OK(vmdb_open(path, &as_is, &db));
    cr_assert_eq(v_of_1(db), 1);
    vmdb_close(db);
    /* A writer recovers; readers are welcome from then on. */
    ASSERT_OK(vmdb_open(path, NULL, &db));
    cr_assert_eq(v_of_1(db), 2);
    vmdb_close(db);
    ASSERT_OK(vmdb_open(path, &ro, &db));
    cr_assert_eq(v_of_1(db), 2);
    vmdb_close(db);
    remove_test_dir();
}

Test(reader_after_cut, the_commands_readers_recover_first, .timeout = 60)
{
    char path[600];
    snprintf(path, sizeof path, "%s", test_path("db"));
    acknowledged_v2_then_cut(path);
    vmdb_db *db;
    cr_assert_eq(cli_open_db(path, VMDB_DB_READONLY, &db), CLI_OK);
    cr_assert_eq(v_of_1(db), 2, "vmdb get t 1 would print what the cut left");
    vmdb_close(db);
    remove_test_dir();
}

Test(reader_after_cut, check_says_ok_only_of_a_recovered_database, .timeout = 60)
{
    char path[600], out[600];
    snprintf(path, sizeof path, "%s", test_path("db"));
    snprintf(out, sizeof out, "%s", test_path("check.out"));
    acknowledged_v2_then_cut(path);
    /* `vmdb check DB` in a child of this boot, its output in a file. */
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (!freopen(out, "w", stdout))
            _exit(99);
        char *argv[] = {path, NULL};
        int status = cli_check_command.run(1, argv);
        fflush(stdout);
        _exit(status);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    size_t len;
    char *said = (char *)read_file(out, &len);
    said[len] = '\0';
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "vmdb check failed: %s", said);
    cr_assert(strstr(said, ": ok: "), "vmdb check said: %s", said);
    /* It said ok: of the database recovered, not of the cut's leftovers. */
    vmdb_db *db;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
    ASSERT_OK(vmdb_open(path, &ro, &db));
    cr_assert_eq(v_of_1(db), 2, "vmdb check said \"%s\" of an unrecovered database", said);
    vmdb_close(db);
    free(said);
    remove_test_dir();
}

/* No false alarms: the checks that let a reader in. */
Test(reader_after_cut, a_cut_after_a_clean_close_or_a_writer_of_this_boot_lets_readers_in,
     .timeout = 60)
{
    char path[600];
    snprintf(path, sizeof path, "%s", test_path("db"));
    create_with_v1(path);
    /* A cut after a clean close: the log is empty, nothing to replay. */
    ASSERT_OK(vmdb__os_powerloss_track(path, true));
    ASSERT_OK(vmdb__os_powerloss_track(path, false));
    ASSERT_OK(vmdb__os_powerloss_cut(path, 1, VMDB__POWERLOSS_LOSE, NULL));
    vmdb_db *db, *reader;
    vmdb_db_options ro = {.flags = VMDB_DB_READONLY};
    ASSERT_OK(vmdb_open(path, &ro, &reader));
    cr_assert_eq(v_of_1(reader), 1);
    vmdb_close(reader);
    /* A writer of this boot with transactions in its log: they are in the
     * tables too. */
    ASSERT_OK(vmdb_open(path, NULL, &db));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    put(db, t, 1, 3);
    vmdb_db_info info;
    ASSERT_OK(vmdb_db_stat(db, &info));
    cr_assert_gt(info.last_lsn, info.checkpoint_lsn, "the commit should be in the log");
    ASSERT_OK(vmdb_open(path, &ro, &reader));
    cr_assert_eq(v_of_1(reader), 3);
    vmdb_close(reader);
    vmdb_close(db);
    remove_test_dir();
}
