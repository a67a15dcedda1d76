/* sqlite's way with a busy database: step again. Here a second vmdb_step
 * after an error returns VMDB_DONE without running anything, so a retry
 * loop reports success and the UPDATE never happens. */
#include "common.h"
#include <sys/wait.h>

int main(void)
{
    vmdb_db *setup = fresh_db("busy");
    CHECK(vmdb_close(setup));
    int ready[2], go[2], opened[2];
    if (pipe(ready) || pipe(go) || pipe(opened)) return 2;
    pid_t child = fork();
    if (child == 0) { /* holds the write lock until told */
        vmdb_db_options o = VMDB_DB_OPTIONS_INIT;
        vmdb_db *b;
        vmdb_txn *txn;
        char w;
        if (read(opened[0], &w, 1) != 1) _exit(2);
        CHECK(vmdb_open(db_path, &o, &b));
        CHECK(vmdb_txn_begin(b, VMDB_DURABILITY_DEFAULT, &txn));
        if (write(ready[1], "r", 1) != 1) _exit(2);
        char c;
        if (read(go[0], &c, 1) != 1) _exit(2);
        CHECK(vmdb_txn_commit(txn));
        CHECK(vmdb_close(b));
        _exit(0);
    }
    vmdb_db_options o = VMDB_DB_OPTIONS_INIT;
    o.busy_timeout_ms = 100;
    vmdb_db *db;
    CHECK(vmdb_open(db_path, &o, &db));
    if (write(opened[1], "o", 1) != 1) return 2;
    char c;
    if (read(ready[0], &c, 1) != 1) return 2;
    vmdb_stmt *st;
    CHECK(vmdb_prepare(db, "UPDATE people SET age = 99 WHERE id = 1", VMDB_SQL_NUL_TERMINATED, &st, NULL));
    int rc = vmdb_step(st);
    printf("step while another process writes: %d %s\n", rc, rc < 0 ? vmdb_last_error()->message : "");
    if (write(go[1], "g", 1) != 1) return 2;
    waitpid(child, NULL, 0);
    rc = vmdb_step(st);
    printf("step again once it is done: %d (%s), changes %llu\n", rc,
           rc == VMDB_DONE ? "VMDB_DONE" : vmdb_last_error()->message,
           (unsigned long long)vmdb_changes(st));
    vmdb_finalize(st);
    int n = 0;
    CHECK(vmdb_prepare(db, "SELECT age FROM people WHERE id = 1", VMDB_SQL_NUL_TERMINATED, &st, NULL));
    if (vmdb_step(st) == VMDB_ROW) { int64_t a; vmdb_column_i64(st, 0, &a); n = (int)a; }
    vmdb_finalize(st);
    printf("age of id 1: %d (%s)\n", n, n == 99 ? "ok" : "BUG: the retried UPDATE never ran");
    CHECK(vmdb_close(db));
    cleanup_db();
    return n == 99 ? 0 : 1;
}
