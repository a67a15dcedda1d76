/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cli_after_cut.c - the command's readers after a power cut,
 * before any writer recovered (issue 10, finding 4): they recover first,
 * and `vmdb check` says ok only of the recovered database. In process,
 * through the command's own functions, since the cut and the boot it
 * stands for are simulated in this process (tests/os_powerloss.c).
 */
#include "after_cut.h"
#include "cli.h"

Test(cli_after_cut, the_commands_readers_recover_first, .timeout = 60)
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

Test(cli_after_cut, check_says_ok_only_of_a_recovered_database, .timeout = 60)
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
