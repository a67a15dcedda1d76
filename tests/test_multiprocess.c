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

/* 1 when a byte came, 0 at end of file. */
static int read_byte(int fd)
{
    char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    return n == 1;
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
                vmdb_close(db);
                _exit(0);
            }
        }
        close(go[0]);
        close(go[1]);
        for (int c = 0; c < CREATORS; c++)
            wait_ok(pids[c], "a creator");
        vmdb_db *db = open_db(path, 0);
        ASSERT_OK(vmdb_check(db));
        vmdb_close(db);
    }
    remove_test_dir();
}

