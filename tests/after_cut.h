/* SPDX-License-Identifier: MIT */
/*
 * tests/after_cut.h - a database whose acknowledged commit a power cut
 * left only in the log, before any writer recovered it: for the library's
 * readers (test_reader_after_cut.c) and the command's (test_cli_after_cut.c).
 */
#ifndef VMDB_TESTS_AFTER_CUT_H
#define VMDB_TESTS_AFTER_CUT_H

#include <signal.h>
#include <sys/wait.h>

#include "helpers.h"
#include "os_powerloss.h"

struct row {
    uint64_t id;
    uint64_t v;
};

static inline void put(vmdb_db *db, vmdb_table *t, uint64_t id, uint64_t v)
{
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    struct row r = {id, v};
    ASSERT_OK(vmdb_txn_put(txn, t, &r, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
}

static inline void create_with_v1(const char *path)
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
static inline void acknowledged_v2_then_cut(const char *path)
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

static inline uint64_t v_of_1(vmdb_db *db)
{
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    uint64_t id = 1;
    struct row r;
    ASSERT_OK(vmdb_table_get(t, &id, sizeof id, &r, NULL));
    return r.v;
}

#endif
