/* SPDX-License-Identifier: MIT */
/*
 * tests/test_powerloss_sim.c - the power-loss simulator's names, its state
 * shared by several tracking processes, and its reboots (engine/base/os.c,
 * "Power loss"); and that a new database survives a cut that loses every
 * name not made durable by a directory fsync.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "helpers.h"
#include "os.h"
#include "os_powerloss.h"

#define PAGE 4096u

/* Pattern `which`: offsets that are multiples of 2^21 would all give the
 * same bytes (pattern_byte drops the bits above), a prime step does not. */
static void pattern(unsigned char *p, unsigned which)
{
    fill_pattern(p, PAGE, (uint64_t)which * 7919);
}

/* Creates or rewrites `name` in `dir` with one page of pattern `which`
 * through the os layer, synced (its bytes, not its name). */
static void write_synced(const char *dir, const char *name, unsigned which, bool sync)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char buf[PAGE];
    pattern(buf, which);
    int fd;
    cr_assert_eq(vmdb__os_open(path, VMDB__OS_RDWR | VMDB__OS_CREATE, 0644, &fd), 0, "%s", path);
    cr_assert_eq(vmdb__os_pwrite_all(fd, buf, PAGE, 0), 0);
    if (sync)
        cr_assert_eq(vmdb__os_sync(fd, false), 0);
    vmdb__os_close(fd);
}

static void sync_dir(const char *dir, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(vmdb__os_sync_dir_of(path), 0);
}

static void do_rename(const char *dir, const char *from, const char *to)
{
    char a[700], b[700];
    snprintf(a, sizeof a, "%s/%s", dir, from);
    snprintf(b, sizeof b, "%s/%s", dir, to);
    cr_assert_eq(vmdb__os_rename(a, b), 0);
}

/* Which pattern `name` holds: -1 absent, -2 something else. */
static int holds(const char *dir, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    size_t len;
    unsigned char *got = read_file(path, &len);
    int which = -2;
    for (unsigned w = 0; len == PAGE && w < 8 && which == -2; w++) {
        unsigned char want[PAGE];
        pattern(want, w);
        if (memcmp(got, want, PAGE) == 0)
            which = (int)w;
    }
    free(got);
    return which;
}

static const char *new_dir(const char *name)
{
    const char *dir = test_path(name);
    cr_assert_eq(mkdir(dir, 0755), 0);
    return dir;
}

Test(powerloss_sim, lose_takes_every_name_change_since_the_last_directory_fsync_back,
     .timeout = 60)
{
    const char *dir = new_dir("lose");
    write_synced(dir, "old", 0, false); /* before tracking: durable, name too */
    write_synced(dir, "doomed", 0, false);
    write_synced(dir, "replaced", 0, false);
    ASSERT_OK(vmdb__os_powerloss_track(dir, true));
    /* Named durably by a directory fsync, then not. */
    write_synced(dir, "named", 1, true);
    sync_dir(dir, "named");
    write_synced(dir, "unnamed", 2, true);
    do_rename(dir, "old", "moved");
    /* The ring's and lock file's way: build aside, sync, rename over. */
    write_synced(dir, "replaced.tmp", 3, true);
    do_rename(dir, "replaced.tmp", "replaced");
    /* An unlink, after a write never synced. */
    write_synced(dir, "doomed", 4, false);
    char doomed[700];
    snprintf(doomed, sizeof doomed, "%s/doomed", dir);
    cr_assert_eq(vmdb__os_unlink(doomed), 0);
    ASSERT_OK(vmdb__os_powerloss_track(dir, false));

    vmdb__powerloss_report r;
    ASSERT_OK(vmdb__os_powerloss_cut(dir, 1, VMDB__POWERLOSS_LOSE, &r));
    cr_log_info("%s", r.summary);
    cr_assert_eq(holds(dir, "named"), 1, "%s", r.summary);
    cr_assert_eq(holds(dir, "unnamed"), -1, "created, synced, never named durably: %s",
                 r.summary);
    cr_assert_eq(holds(dir, "old"), 0, "a rename not made durable goes back: %s", r.summary);
    cr_assert_eq(holds(dir, "moved"), -1, "%s", r.summary);
    cr_assert_eq(holds(dir, "replaced"), 0, "the rename over it did not last: %s", r.summary);
    cr_assert_eq(holds(dir, "replaced.tmp"), -1, "%s", r.summary);
    cr_assert_eq(holds(dir, "doomed"), 0, "an unlink not made durable: back, durable bytes: %s",
                 r.summary);
    /* unnamed; old -> moved; replaced.tmp -> replaced; doomed */
    cr_assert_eq(r.name_changes, 4, "%s", r.summary);
    cr_assert_eq(r.name_changes_lost, 4);
    cr_assert_eq(r.files_vanished, 2, "unnamed and replaced.tmp's file: %s", r.summary);
    cr_assert_eq(r.files_restored, 2, "doomed, and the file renamed over: %s", r.summary);
    cr_assert_eq(r.files, 4);
    remove_test_dir();
}

Test(powerloss_sim, a_directory_fsync_makes_creates_renames_and_unlinks_durable, .timeout = 60)
{
    const char *dir = new_dir("durable");
    write_synced(dir, "old", 0, false);
    write_synced(dir, "doomed", 0, false);
    ASSERT_OK(vmdb__os_powerloss_track(dir, true));
    write_synced(dir, "made", 1, true);
    do_rename(dir, "old", "moved");
    char doomed[700];
    snprintf(doomed, sizeof doomed, "%s/doomed", dir);
    cr_assert_eq(vmdb__os_unlink(doomed), 0);
    sync_dir(dir, "made");
    ASSERT_OK(vmdb__os_powerloss_track(dir, false));
    vmdb__powerloss_report r;
    ASSERT_OK(vmdb__os_powerloss_cut(dir, 1, VMDB__POWERLOSS_LOSE, &r));
    cr_assert_eq(holds(dir, "made"), 1, "%s", r.summary);
    cr_assert_eq(holds(dir, "moved"), 0, "%s", r.summary);
    cr_assert_eq(holds(dir, "old"), -1, "%s", r.summary);
    cr_assert_eq(holds(dir, "doomed"), -1, "%s", r.summary);
    cr_assert_eq(r.name_changes, 0, "%s", r.summary);
    remove_test_dir();
}

Test(powerloss_sim, keep_keeps_every_name_change, .timeout = 60)
{
    const char *dir = new_dir("keep");
    write_synced(dir, "old", 0, false);
    ASSERT_OK(vmdb__os_powerloss_track(dir, true));
    write_synced(dir, "made", 1, true);
    do_rename(dir, "old", "moved");
    ASSERT_OK(vmdb__os_powerloss_track(dir, false));
    vmdb__powerloss_report r;
    ASSERT_OK(vmdb__os_powerloss_cut(dir, 1, VMDB__POWERLOSS_KEEP, &r));
    cr_assert_eq(holds(dir, "made"), 1, "%s", r.summary);
    cr_assert_eq(holds(dir, "moved"), 0, "%s", r.summary);
    cr_assert_eq(holds(dir, "old"), -1, "%s", r.summary);
    cr_assert_eq(r.name_changes, 2);
    cr_assert_eq(r.name_changes_lost, 0);
    remove_test_dir();
}

/* RANDOM decides each change on its own, and a rename over a file whole:
 * never both names, never neither, never the new file under the old name
 * beside the old one. */
Test(powerloss_sim, random_keeps_or_takes_back_each_change_whole, .timeout = 60)
{
    unsigned kept = 0, lost = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        char name[32];
        snprintf(name, sizeof name, "random%llu", (unsigned long long)seed);
        const char *dir = new_dir(name);
        write_synced(dir, "target", 0, false);
        ASSERT_OK(vmdb__os_powerloss_track(dir, true));
        write_synced(dir, "target.tmp", 1, true);
        do_rename(dir, "target.tmp", "target");
        for (unsigned i = 0; i < 4; i++) {
            char made[16];
            snprintf(made, sizeof made, "made%u", i);
            write_synced(dir, made, 2, true);
        }
        ASSERT_OK(vmdb__os_powerloss_track(dir, false));
        vmdb__powerloss_report r;
        ASSERT_OK(vmdb__os_powerloss_cut(dir, seed, VMDB__POWERLOSS_RANDOM, &r));
        int target = holds(dir, "target");
        cr_assert(target == 0 || target == 1, "target holds %d: %s", target, r.summary);
        cr_assert_eq(holds(dir, "target.tmp"), -1, "%s", r.summary);
        unsigned made_there = 0;
        for (unsigned i = 0; i < 4; i++) {
            char made[16];
            snprintf(made, sizeof made, "made%u", i);
            int h = holds(dir, made);
            cr_assert(h == -1 || h == 2, "%s holds %d: %s", made, h, r.summary);
            made_there += h == 2;
        }
        cr_assert_eq(r.name_changes, 5, "%s", r.summary);
        cr_assert_eq(r.name_changes_lost, (unsigned)(target == 0) + (4 - made_there), "%s",
                     r.summary);
        kept += r.name_changes - r.name_changes_lost;
        lost += r.name_changes_lost;
    }
    cr_assert(kept > 0 && lost > 0, "40 changes: %u kept, %u lost", kept, lost);
    remove_test_dir();
}

/* ---- several processes -------------------------------------------------- */

static void say(int fd, char c)
{
    if (write(fd, &c, 1) != 1)
        _exit(90);
}

static void hear(int fd, char want)
{
    char c;
    if (read(fd, &c, 1) != 1 || c != want)
        _exit(91);
}

/* Writes one page of pattern `which` at page `at` of dir/file, synced or
 * not; in a child, so failures are exit codes. */
static void child_write(const char *dir, const char *file, unsigned at, unsigned which,
                        bool sync)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    unsigned char buf[PAGE];
    pattern(buf, which);
    int fd;
    if (vmdb__os_open(path, VMDB__OS_RDWR, 0, &fd) ||
        vmdb__os_pwrite_all(fd, buf, PAGE, (uint64_t)at * PAGE) ||
        (sync && vmdb__os_sync(fd, true)))
        _exit(92);
    vmdb__os_close(fd);
}

static void child_create(const char *dir, const char *name, unsigned which)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char buf[PAGE];
    pattern(buf, which);
    int fd;
    if (vmdb__os_open(path, VMDB__OS_RDWR | VMDB__OS_CREATE, 0644, &fd) ||
        vmdb__os_pwrite_all(fd, buf, PAGE, 0) || vmdb__os_sync(fd, true))
        _exit(93);
    vmdb__os_close(fd);
}

/*
 * Two processes track one directory, each writes its own page of a shared
 * file and syncs, each creates a file of its own; B fsyncs the directory
 * after both creates. A writes another file before B joins and the shared
 * one after B is done, never synced. The cut (LOSE) keeps what either made
 * durable, and nothing B's joining could have taken as durable.
 */
Test(powerloss_sim, two_tracking_processes_share_one_durable_state, .timeout = 60)
{
    const char *dir = new_dir("shared");
    unsigned char zero[4 * PAGE];
    memset(zero, 0, sizeof zero);
    char path[700];
    snprintf(path, sizeof path, "%s/shared", dir);
    write_file(path, zero, sizeof zero);
    char private[700];
    snprintf(private, sizeof private, "%s/private", dir);
    write_file(private, zero, PAGE);
    int to_a[2], to_b[2], back[2];
    cr_assert(pipe(to_a) == 0 && pipe(to_b) == 0 && pipe(back) == 0);
    pid_t a = fork();
    cr_assert_neq(a, -1);
    if (a == 0) {
        if (vmdb__os_powerloss_track(dir, true))
            _exit(94);
        child_write(dir, "shared", 0, 1, true);
        child_create(dir, "a_only", 1);
        child_write(dir, "private", 0, 3, false); /* before B joins, never synced */
        say(back[1], 'a');
        hear(to_a[0], 'b');
        child_write(dir, "shared", 2, 4, false); /* after B is done, never synced */
        say(back[1], 'A');
        raise(SIGKILL);
    }
    char c;
    cr_assert_eq(read(back[0], &c, 1), 1);
    cr_assert_eq(c, 'a', "A could not start");
    pid_t b = fork();
    cr_assert_neq(b, -1);
    if (b == 0) {
        if (vmdb__os_powerloss_track(dir, true))
            _exit(94);
        child_write(dir, "shared", 1, 2, true);
        child_create(dir, "b_only", 2);
        sync_dir(dir, "b_only");
        say(back[1], 'b');
        raise(SIGKILL);
    }
    cr_assert_eq(read(back[0], &c, 1), 1);
    cr_assert_eq(c, 'b', "B could not finish");
    cr_assert_eq(write(to_a[1], "b", 1), 1);
    cr_assert_eq(read(back[0], &c, 1), 1);
    cr_assert_eq(c, 'A', "A could not finish");
    int status;
    cr_assert_eq(waitpid(a, &status, 0), a);
    cr_assert(WIFSIGNALED(status), "A exited with %d", WEXITSTATUS(status));
    cr_assert_eq(waitpid(b, &status, 0), b);
    cr_assert(WIFSIGNALED(status), "B exited with %d", WEXITSTATUS(status));

    vmdb__powerloss_report r;
    ASSERT_OK(vmdb__os_powerloss_cut(dir, 1, VMDB__POWERLOSS_LOSE, &r));
    cr_log_info("%s", r.summary);
    cr_assert_eq(holds(dir, "a_only"), 1, "A's file, named by B's directory fsync: %s",
                 r.summary);
    cr_assert_eq(holds(dir, "b_only"), 2, "%s", r.summary);
    size_t len;
    unsigned char *got = read_file(path, &len);
    cr_assert_eq(len, 4 * PAGE);
    unsigned char want[PAGE];
    pattern(want, 1);
    cr_assert(memcmp(got, want, PAGE) == 0, "A's synced page: %s", r.summary);
    pattern(want, 2);
    cr_assert(memcmp(got + PAGE, want, PAGE) == 0, "B's synced page: %s", r.summary);
    cr_assert(memcmp(got + 2 * PAGE, zero, PAGE) == 0, "A's page written after B: %s",
              r.summary);
    cr_assert(memcmp(got + 3 * PAGE, zero, PAGE) == 0, "%s", r.summary);
    free(got);
    got = read_file(private, &len);
    cr_assert(len == PAGE && memcmp(got, zero, PAGE) == 0,
              "A's write to a file B never synced, before B joined: B took it as durable "
              "(%s)", r.summary);
    free(got);
    remove_test_dir();
}

/* ---- reboots ------------------------------------------------------------ */

static void boot_id(char out[37])
{
    cr_assert_eq(vmdb__os_boot_id(out), 0);
    cr_assert_eq(strlen(out), 36, "%s", out);
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        cr_assert(dash ? out[i] == '-' : strchr("0123456789abcdef", out[i]) != NULL,
                  "boot id %s, character %d", out, i);
    }
}

/* A child that reports its boot id on `fd` when told to on `go`. */
static pid_t boot_reporter(int go, int fd)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        char c, id[37];
        if (read(go, &c, 1) != 1 || vmdb__os_boot_id(id) != 0 || write(fd, id, 37) != 37)
            _exit(1);
        _exit(0);
    }
    return pid;
}

static void hear_boot(pid_t pid, int go, int fd, char out[37])
{
    cr_assert_eq(write(go, "g", 1), 1);
    cr_assert_eq(read(fd, out, 37), 37);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void cut_once(const char *dir)
{
    ASSERT_OK(vmdb__os_powerloss_track(dir, true));
    ASSERT_OK(vmdb__os_powerloss_track(dir, false));
    ASSERT_OK(vmdb__os_powerloss_cut(dir, 1, VMDB__POWERLOSS_LOSE, NULL));
}

Test(powerloss_sim, a_cut_is_a_reboot_for_this_process_and_those_it_forks_after,
     .timeout = 60)
{
    char real[64] = "", first[37], second[37], third[37], child[37];
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(real, sizeof real, f));
    fclose(f);
    boot_id(first);
    cr_assert(strncmp(first, real, 36) == 0, "no cut yet: the kernel's id %s, not %s", real,
              first);
    int go[2], ids[2];
    cr_assert(pipe(go) == 0 && pipe(ids) == 0);
    pid_t before = boot_reporter(go[0], ids[1]);
    const char *dir = new_dir("boots");
    /* A cut that finds nothing to cut is no reboot. */
    cr_assert_eq(vmdb__os_powerloss_cut(dir, 1, VMDB__POWERLOSS_LOSE, NULL), -ENOENT);
    boot_id(second);
    cr_assert_str_eq(second, first);
    cut_once(dir);
    boot_id(second);
    cr_assert_str_neq(second, first, "a cut should be a reboot");
    /* Started before the cut: it belongs to the boot that ended. */
    hear_boot(before, go[1], ids[0], child);
    cr_assert_str_eq(child, first);
    pid_t after = boot_reporter(go[0], ids[1]);
    hear_boot(after, go[1], ids[0], child);
    cr_assert_str_eq(child, second, "a process started after the cut is in the new boot");
    cut_once(dir);
    boot_id(third);
    cr_assert(strcmp(third, first) && strcmp(third, second), "%s after %s and %s", third,
              second, first);
    remove_test_dir();
}

/* ---- the database's directory fsyncs ------------------------------------ */

/*
 * Everything vmdb creates (the log, the lock file, a table and its index)
 * is named durably before the call that created it returns: a cut that
 * takes back every name change not made durable by a directory fsync
 * leaves a database that opens, with its table and its synced record.
 * The mutant VMDB_MUTANT_NO_DIR_FSYNC fails here.
 */
Test(powerloss_dirsync, a_new_database_and_table_survive_losing_every_unsynced_name,
     .timeout = 60)
{
    char path[600];
    snprintf(path, sizeof path, "%s", test_path("db"));
    cr_assert_eq(mkdir(path, 0755), 0);
    ASSERT_OK(vmdb__os_powerloss_track(path, true));
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 256 << 10};
    ASSERT_OK(vmdb_open(path, &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u64 key, v:u64", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "t", s, &t));
    vmdb_schema_free(s);
    vmdb_txn *txn;
    uint64_t rec[2] = {7, 70};
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, rec, NULL));
    ASSERT_OK(vmdb_txn_commit(txn));
    vmdb_close(db);
    ASSERT_OK(vmdb__os_powerloss_track(path, false));
    vmdb__powerloss_report r;
    ASSERT_OK(vmdb__os_powerloss_cut(path, 1, VMDB__POWERLOSS_LOSE, &r));
    int rc = vmdb_open(path, NULL, &db);
    cr_assert_eq(rc, 0, "open after a cut that lost every name not made durable -> %s: %s "
                 "(cut: %s)", vmdb_error_name(rc), vmdb_last_error()->message, r.summary);
    rc = vmdb_table_open(db, "t", NULL, &t);
    cr_assert_eq(rc, 0, "table t after the cut -> %s: %s (cut: %s)", vmdb_error_name(rc),
                 vmdb_last_error()->message, r.summary);
    uint64_t key = 7, got[2];
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, got, NULL));
    cr_assert_eq(got[1], 70);
    ASSERT_OK(vmdb_check(db));
    vmdb_close(db);
    remove_test_dir();
}

/* A table made with a capacity hint: its slots are fallocated and its
 * index reserved, and nothing of them read. A cut of any kind just after
 * (with one record committed, or none) leaves a table that opens, checks
 * whole, keeps the record and grows past the hint. */
static void cut_after_a_hinted_create(const char *name, enum vmdb__powerloss_mode mode,
                                      uint64_t seed, bool with_record)
{
    char path[600];
    snprintf(path, sizeof path, "%s", test_path(name));
    cr_assert_eq(mkdir(path, 0755), 0);
    vmdb_db *db;
    vmdb_table *t;
    vmdb_txn *txn;
    /* The writer dies (SIGKILL) with the handle open, just after. */
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 256 << 10};
        vmdb_schema *s;
        vmdb_table_options to = VMDB_TABLE_OPTIONS_INIT;
        to.capacity = 3000;
        uint64_t rec[2] = {7, 70};
        if (vmdb__os_powerloss_track(path, true) != 0 || vmdb_open(path, &o, &db) != 0 ||
            vmdb_schema_parse("id:u64 key, v:u64", &s) != 0 ||
            vmdb_table_create_with(db, "t", s, &to, &t) != 0)
            _exit(2);
        if (with_record && (vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn) != 0 ||
                            vmdb_txn_put(txn, t, rec, NULL) != 0 || vmdb_txn_commit(txn) != 0))
            _exit(3);
        raise(SIGKILL);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the writer failed (%d)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    vmdb__powerloss_report r;
    ASSERT_OK(vmdb__os_powerloss_cut(path, seed, mode, &r));
    int rc = vmdb_open(path, NULL, &db);
    cr_assert_eq(rc, 0, "open after the cut -> %s: %s (cut: %s)", vmdb_error_name(rc),
                 vmdb_last_error()->message, r.summary);
    rc = vmdb_table_open(db, "t", NULL, &t);
    cr_assert_eq(rc, 0, "table t after the cut -> %s: %s (cut: %s)", vmdb_error_name(rc),
                 vmdb_last_error()->message, r.summary);
    rc = vmdb_check(db);
    cr_assert_eq(rc, 0, "check after the cut -> %s: %s (cut: %s)", vmdb_error_name(rc),
                 vmdb_last_error()->message, r.summary);
    uint64_t key = 7, got[2];
    if (with_record) {
        ASSERT_OK(vmdb_table_get(t, &key, sizeof key, got, NULL));
        cr_assert_eq(got[1], 70);
    }
    for (uint64_t id = 100; id < 100 + 4000; id++) {
        if (id % 500 == 100)
            ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn));
        uint64_t rec[2] = {id, id * 10};
        ASSERT_OK(vmdb_txn_put(txn, t, rec, NULL));
        if (id % 500 == 99)
            ASSERT_OK(vmdb_txn_commit(txn));
    }
    key = 4099;
    ASSERT_OK(vmdb_table_get(t, &key, sizeof key, got, NULL));
    cr_assert_eq(got[1], 40990);
    rc = vmdb_check(db);
    cr_assert_eq(rc, 0, "check after a fill past the hint -> %s: %s (cut: %s)",
                 vmdb_error_name(rc), vmdb_last_error()->message, r.summary);
    vmdb_close(db);
}

Test(powerloss_dirsync, a_hinted_table_survives_any_cut_just_after_its_create, .timeout = 120)
{
    const enum vmdb__powerloss_mode modes[] = {VMDB__POWERLOSS_LOSE, VMDB__POWERLOSS_KEEP,
                                               VMDB__POWERLOSS_TEAR, VMDB__POWERLOSS_RANDOM,
                                               VMDB__POWERLOSS_LOSE_LENGTHS};
    for (unsigned m = 0; m < sizeof modes / sizeof modes[0]; m++)
        for (uint64_t seed = 1; seed <= 3; seed++)
            for (int with = 0; with < 2; with++) {
                char name[32];
                snprintf(name, sizeof name, "db%u-%llu-%d", m, (unsigned long long)seed, with);
                cut_after_a_hinted_create(name, modes[m], seed, with);
            }
    remove_test_dir();
}
