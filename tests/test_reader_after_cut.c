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

#include "after_cut.h"

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
