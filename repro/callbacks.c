/* What a row callback may do. Mode "small": the SELECT's rows are kept and
 * handed out after the read (writes and SELECTs allowed in the callback).
 * Mode "big": past 16 MiB the rows are handed out while writers are held
 * back; the docs say a write or another SELECT in the callback fails with
 * VMDB_EBUSY. Usage: callbacks small|big ACTION, ACTION one of
 *   update select checkpoint compact drop bind reset finalize stop  */
#include "common.h"
#include <signal.h>

static vmdb_db *db;
static const char *action;
static int calls;

static int cb(void *ctx, vmdb_stmt *st)
{
    (void)ctx;
    if (calls++ > 0)
        return 0; /* act once */
    int rc = 0;
    if (!strcmp(action, "update"))
        rc = vmdb_exec(db, "UPDATE people SET age = 1 WHERE id = 1", NULL, NULL);
    else if (!strcmp(action, "select"))
        rc = vmdb_exec(db, "SELECT COUNT(*) FROM people", NULL, NULL);
    else if (!strcmp(action, "checkpoint"))
        rc = vmdb_checkpoint(db);
    else if (!strcmp(action, "compact"))
        rc = vmdb_compact(db, "people");
    else if (!strcmp(action, "drop"))
        rc = vmdb_table_drop(db, "people");
    else if (!strcmp(action, "bind"))
        rc = vmdb_bind_i64(st, 1, 0);
    else if (!strcmp(action, "reset"))
        vmdb_reset(st);
    else if (!strcmp(action, "stop"))
        return 42;
    printf("  in callback: %s -> %d %s\n", action, rc, rc < 0 ? vmdb_last_error()->message : "");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: callbacks small|big ACTION\n"); return 2; }
    action = argv[2];
    alarm(60); /* a deadlock shows as SIGALRM */
    db = fresh_db("cb");
    if (!strcmp(argv[1], "big")) {
        vmdb_table *t;
        CHECK(vmdb_table_open(db, "people", NULL, &t));
        const vmdb_schema *s = vmdb_table_schema(t);
        unsigned char rec[64] = {0};
        vmdb_txn *txn;
        CHECK(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn));
        for (uint32_t i = 10; i < 400000; i++) {
            CHECK(vmdb_record_set_u64(s, rec, 0, i));
            CHECK(vmdb_record_set_text(s, rec, 1, "0123456789abcde"));
            CHECK(vmdb_txn_insert(txn, t, rec, NULL));
        }
        CHECK(vmdb_txn_commit(txn));
    }
    vmdb_stmt *st;
    CHECK(vmdb_prepare(db, "SELECT id, name, age FROM people WHERE id > ?", VMDB_SQL_NUL_TERMINATED, &st, NULL));
    CHECK(vmdb_bind_i64(st, 1, 0));
    int rc = vmdb_step_all(st, cb, NULL);
    printf("%s %s: step_all -> %d %s (callback called %d times)\n", argv[1], action, rc,
           rc < 0 ? vmdb_last_error()->message : "", calls);
    vmdb_finalize(st);
    rc = vmdb_close(db);
    printf("close -> %d\n", rc);
    cleanup_db();
    return 0;
}
