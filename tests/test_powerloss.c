/* SPDX-License-Identifier: MIT */
/*
 * tests/test_powerloss.c - crash safety against power cuts.
 *
 * A SIGKILLed process keeps every store it made: the page cache survives
 * it, so the kill tests of test_crash.c cannot find an ordering bug such
 * as "the log was freed before the table pages it protected reached the
 * disk". A power cut can. The test build of the os layer keeps a durable
 * image of every file of a tracked directory (engine/base/os.c, "Power loss"):
 * an msync(MS_SYNC) through vmdb__os_flush makes the pages it covers and
 * the file's length durable, an fsync through vmdb__os_sync the whole
 * file, and nothing else does. After the writer is killed, the cut takes
 * each 4 KiB page that differs from its image and loses it, keeps it (the
 * kernel wrote it back anyway) or tears it (each 512-byte sector old or
 * new), and takes either the durable or the current length of each file.
 *
 * What the cut covers: data written through shared mappings or pwrite,
 * file lengths, msync and fsync as the only durability points, directory
 * entries (durable only through a directory fsync; images follow the
 * inode through renames), files never synced (their image is empty).
 * What it does not: states a page held before its last one (a kept page
 * has its final bytes), files outside the tracked directory, and mappings
 * made before tracking began (test_powerloss_sim.c tests the names).
 *
 * The first tests check the simulator itself; the last, one ordering of
 * table growth. The harness that kills writers at random and cuts the
 * power under them is test_powercut.c.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <xxhash.h>

#include "crash_model.h"
#include "os.h"
#include "os_powerloss.h"

TestSuite(powerloss, .timeout = HARNESS_TIMEOUT);

/* ---- the simulator ------------------------------------------------------ */

#define PAGE 4096u
#define SECTOR 512u
#define FILE_PAGES 4u

/* The bytes of the scenario below: what was flushed (A) and what was
 * written after (B, from byte B_FROM on). */
#define B_FROM (PAGE + 1000u)

static void byte_a(unsigned char *p, size_t len)
{
    fill_pattern(p, len, 0);
}

static void byte_b(unsigned char *p, size_t len)
{
    fill_pattern(p, len, 1u << 20);
}

/*
 * In directory `dir` (created), with tracking on: maps a new file of four
 * pages, fills it with A, flushes the first two pages, then overwrites
 * from B_FROM on with B and closes the map without flushing. Returns the
 * file's path. Durable: pages 0 and 1 of A, pages 2 and 3 zero (the flush
 * made the length durable; the blocks were never written). Current: A up
 * to B_FROM, then B.
 */
static const char *flushed_then_written(const char *name)
{
    const char *dir = test_path(name);
    cr_assert_eq(mkdir(dir, 0755), 0);
    static char path[600];
    snprintf(path, sizeof path, "%s/data", dir);
    ASSERT_OK(vmdb__os_powerloss_track(dir, true));
    vmdb_map *m;
    vmdb_map_options o = {.flags = VMDB_MAP_CREATE, .mode = VMDB_MAP_WRITE,
                          .len = FILE_PAGES * PAGE};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    /* Its name durable: these tests are about the bytes. */
    cr_assert_eq(vmdb__os_sync_dir_of(path), 0);
    unsigned char *p = vmdb_map_ptr(m);
    byte_a(p, FILE_PAGES * PAGE);
    ASSERT_OK(vmdb_map_flush(m, 0, 2 * PAGE, VMDB_FLUSH_SYNC));
    unsigned char b[FILE_PAGES * PAGE];
    byte_b(b, sizeof b);
    memcpy(p + B_FROM, b + B_FROM, sizeof b - B_FROM);
    vmdb_map_close(m);
    ASSERT_OK(vmdb__os_powerloss_track(dir, false));
    return path;
}

static void durable_bytes(unsigned char *want)
{
    memset(want, 0, FILE_PAGES * PAGE);
    byte_a(want, 2 * PAGE);
}

static void current_bytes(unsigned char *want)
{
    byte_a(want, FILE_PAGES * PAGE);
    unsigned char b[FILE_PAGES * PAGE];
    byte_b(b, sizeof b);
    memcpy(want + B_FROM, b + B_FROM, sizeof b - B_FROM);
}

static char *dir_of(const char *path)
{
    char *dir = strdup(path);
    *strrchr(dir, '/') = '\0';
    return dir;
}

Test(powerloss, lose_keeps_the_flushed_bytes_and_nothing_written_after)
{
    const char *path = flushed_then_written("lose");
    char *dir = dir_of(path);
    vmdb__powerloss_report r;
    ASSERT_OK(vmdb__os_powerloss_cut(dir, 1, VMDB__POWERLOSS_LOSE, &r));
    cr_log_info("%s", r.summary);
    size_t len;
    unsigned char *got = read_file(path, &len);
    unsigned char want[FILE_PAGES * PAGE];
    durable_bytes(want);
    cr_assert_eq(len, sizeof want);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(got[i], want[i], "byte %zu: %02x, the durable image has %02x", i, got[i],
                     want[i]);
    /* Page 0 is as flushed; 1 was written after its flush, 2 and 3 never
     * flushed. */
    cr_assert_eq(r.files, 1);
    cr_assert_eq(r.pages_differ, 3, "%s", r.summary);
    cr_assert_eq(r.pages_lost, 3);
    cr_assert_eq(r.files_resized, 0);
    /* The images are gone: a second cut has nothing to go by. */
    cr_assert_eq(vmdb__os_powerloss_cut(dir, 1, VMDB__POWERLOSS_LOSE, NULL), -ENOENT);
    free(got);
    free(dir);
    remove_test_dir();
}

Test(powerloss, keep_keeps_every_byte_written)
{
    const char *path = flushed_then_written("keep");
    char *dir = dir_of(path);
    vmdb__powerloss_report r;
    ASSERT_OK(vmdb__os_powerloss_cut(dir, 1, VMDB__POWERLOSS_KEEP, &r));
    size_t len;
    unsigned char *got = read_file(path, &len);
    unsigned char want[FILE_PAGES * PAGE];
    current_bytes(want);
    cr_assert_eq(len, sizeof want);
    cr_assert(memcmp(got, want, len) == 0, "KEEP changed the file");
    cr_assert_eq(r.pages_differ, 3, "%s", r.summary);
    cr_assert_eq(r.pages_kept, 3);
    free(got);
    free(dir);
    remove_test_dir();
}

/* Every 512-byte sector is the durable one or the current one. Returns
 * how many changed sectors came out old and new through *old and *new. */
static void check_sectors(const unsigned char *got, unsigned *old, unsigned *new)
{
    unsigned char durable[FILE_PAGES * PAGE], current[FILE_PAGES * PAGE];
    durable_bytes(durable);
    current_bytes(current);
    *old = *new = 0;
    for (size_t s = 0; s < sizeof durable; s += SECTOR) {
        bool is_old = memcmp(got + s, durable + s, SECTOR) == 0;
        bool is_new = memcmp(got + s, current + s, SECTOR) == 0;
        cr_assert(is_old || is_new, "sector at %zu is neither the durable nor the current one",
                  s);
        if (memcmp(durable + s, current + s, SECTOR) != 0) {
            *old += is_old;
            *new += is_new;
        }
    }
}

Test(powerloss, tear_makes_each_sector_of_a_changed_page_old_or_new)
{
    /* Pages 1-3 differ: 3 pages of 8 sectors, all of them changed but the
     * first sector of page 1 and the flushed part of its second. */
    unsigned total_old = 0, total_new = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        char name[32];
        snprintf(name, sizeof name, "tear%llu", (unsigned long long)seed);
        const char *path = flushed_then_written(name);
        char *dir = dir_of(path);
        vmdb__powerloss_report r;
        ASSERT_OK(vmdb__os_powerloss_cut(dir, seed, VMDB__POWERLOSS_TEAR, &r));
        cr_assert_eq(r.pages_torn, 3, "%s", r.summary);
        size_t len;
        unsigned char *got = read_file(path, &len);
        cr_assert_eq(len, FILE_PAGES * PAGE);
        unsigned old, new;
        check_sectors(got, &old, &new);
        total_old += old;
        total_new += new;
        free(got);
        free(dir);
    }
    cr_assert(total_old > 0 && total_new > 0, "tearing gave %u old and %u new sectors",
              total_old, total_new);
    remove_test_dir();
}

Test(powerloss, random_draws_lose_keep_or_tear_for_each_page)
{
    uint64_t lost = 0, kept = 0, torn = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        char name[32];
        snprintf(name, sizeof name, "random%llu", (unsigned long long)seed);
        const char *path = flushed_then_written(name);
        char *dir = dir_of(path);
        vmdb__powerloss_report r;
        ASSERT_OK(vmdb__os_powerloss_cut(dir, seed, VMDB__POWERLOSS_RANDOM, &r));
        cr_assert_eq(r.pages_lost + r.pages_kept + r.pages_torn, 3, "%s", r.summary);
        lost += r.pages_lost;
        kept += r.pages_kept;
        torn += r.pages_torn;
        size_t len;
        unsigned char *got = read_file(path, &len);
        /* The length is durable: the flush made it so. */
        cr_assert_eq(len, FILE_PAGES * PAGE);
        unsigned old, new;
        check_sectors(got, &old, &new);
        free(got);
        free(dir);
    }
    cr_assert(lost && kept && torn, "36 pages: %llu lost, %llu kept, %llu torn",
              (unsigned long long)lost, (unsigned long long)kept, (unsigned long long)torn);
    remove_test_dir();
}

static int os_write_file(const char *path, unsigned flags, const void *data, size_t len,
                         uint64_t off, bool sync)
{
    int fd;
    int rc = vmdb__os_open(path, VMDB__OS_RDWR | flags, 0644, &fd);
    if (rc == 0)
        rc = vmdb__os_pwrite_all(fd, data, len, off);
    if (rc == 0 && sync)
        rc = vmdb__os_sync(fd, true);
    vmdb__os_close(fd);
    return rc;
}

Test(powerloss, images_follow_renames_and_files_never_synced_come_back_empty)
{
    const char *dir = test_path("files");
    cr_assert_eq(mkdir(dir, 0755), 0);
    char old_path[600], tmp[600], final[600], unsynced[600];
    snprintf(old_path, sizeof old_path, "%s/old", dir);
    snprintf(tmp, sizeof tmp, "%s/new.tmp", dir);
    snprintf(final, sizeof final, "%s/new", dir);
    snprintf(unsynced, sizeof unsynced, "%s/unsynced", dir);
    unsigned char a[3 * PAGE], b[3 * PAGE];
    byte_a(a, sizeof a);
    byte_b(b, sizeof b);
    /* "old" exists before tracking starts: that is its durable state. */
    write_file(old_path, a, PAGE);
    ASSERT_OK(vmdb__os_powerloss_track(dir, true));
    /* Grown and rewritten, never synced. */
    cr_assert_eq(os_write_file(old_path, 0, b, 2 * PAGE, 0, false), 0);
    /* Built under a temporary name, synced, renamed into place; then
     * appended to without a sync. */
    cr_assert_eq(os_write_file(tmp, VMDB__OS_CREATE | VMDB__OS_EXCL, a, 2 * PAGE, 0, true), 0);
    cr_assert_eq(vmdb__os_rename(tmp, final), 0);
    cr_assert_eq(os_write_file(final, 0, b, PAGE, 2 * PAGE, false), 0);
    /* Written and never synced. */
    cr_assert_eq(os_write_file(unsynced, VMDB__OS_CREATE, a, PAGE, 0, false), 0);
    /* The names durable (without it they vanish: test_powerloss_sim.c). */
    cr_assert_eq(vmdb__os_sync_dir_of(final), 0);
    ASSERT_OK(vmdb__os_powerloss_track(dir, false));

    vmdb__powerloss_report r;
    ASSERT_OK(vmdb__os_powerloss_cut(dir, 7, VMDB__POWERLOSS_LOSE, &r));
    cr_log_info("%s", r.summary);
    cr_assert_eq(r.files, 3);
    cr_assert_eq(r.files_without_image, 1, "%s", r.summary);
    size_t len;
    unsigned char *got = read_file(old_path, &len);
    cr_assert(len == PAGE && memcmp(got, a, PAGE) == 0, "old: %zu bytes, not its first state",
              len);
    free(got);
    got = read_file(final, &len);
    cr_assert(len == 2 * PAGE && memcmp(got, a, 2 * PAGE) == 0,
              "new: %zu bytes, not what was synced before the rename", len);
    free(got);
    cr_assert_eq(file_size(unsynced), 0);
    remove_test_dir();
}

Test(powerloss, ring_flush_through_the_mirror_reaches_the_image)
{
    const char *dir = test_path("ring");
    cr_assert_eq(mkdir(dir, 0755), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/r.ring", dir);
    ASSERT_OK(vmdb__os_powerloss_track(dir, true));
    vmdb_ring *ring;
    vmdb_ring_options o = {.cap = 2 * PAGE, .flags = VMDB_RING_CREATE};
    ASSERT_OK(vmdb_ring_open(path, &o, &ring));
    unsigned char first[6000], wrap[4000], late[100], sink[6000];
    fill_pattern(first, sizeof first, 0);
    fill_pattern(wrap, sizeof wrap, 1u << 20);
    fill_pattern(late, sizeof late, 2u << 20);
    /* Positions [0, 6000) written and consumed; [6000, 10000) wraps the
     * end of the data and is flushed through the second mapping; then
     * [10000, 10100), never flushed. */
    ASSERT_OK(vmdb_ring_write(ring, first, sizeof first));
    size_t got_len;
    ASSERT_OK(vmdb_ring_read(ring, sink, sizeof sink, &got_len));
    ASSERT_OK(vmdb_ring_write(ring, wrap, sizeof wrap));
    ASSERT_OK(vmdb_ring_flush(ring, 6000, 10000, VMDB_FLUSH_SYNC));
    ASSERT_OK(vmdb_ring_write(ring, late, sizeof late));
    vmdb_ring_close(ring);
    ASSERT_OK(vmdb__os_powerloss_track(dir, false));

    ASSERT_OK(vmdb__os_powerloss_cut(dir, 3, VMDB__POWERLOSS_LOSE, NULL));
    size_t len;
    unsigned char *file = read_file(path, &len);
    const unsigned char *data = file + PAGE; /* after the header page */
    cr_assert_eq(len, 3 * PAGE);
    size_t tail_part = 2 * PAGE - 6000;
    cr_assert(memcmp(data + 6000, wrap, tail_part) == 0, "the part before the wrap");
    cr_assert(memcmp(data, wrap + tail_part, sizeof wrap - tail_part) == 0,
              "the part after the wrap, flushed through the mirror");
    /* The page under the unflushed bytes was flushed when it held the
     * first write's bytes there: those are what the power cut leaves. */
    size_t at = sizeof wrap - tail_part;
    cr_assert(memcmp(data + at, first + at, sizeof late) == 0, "bytes never flushed survived");
    free(file);
    remove_test_dir();
}

Test(powerloss, cut_of_an_untracked_directory_is_refused)
{
    const char *dir = test_path("never");
    cr_assert_eq(mkdir(dir, 0755), 0);
    cr_assert_eq(vmdb__os_powerloss_cut(dir, 1, VMDB__POWERLOSS_LOSE, NULL), -ENOENT);
    remove_test_dir();
}

/* ---- the database under power cuts ------------------------------------- */

#define GROW_KEYS 100 /* the table starts with 64 slots */
#define GROW_PER_TXN 10

/*
 * The table file grows (fallocate, then a header copy recording the new
 * slot count is stored through the map) when a transaction needs a slot
 * past its end; neither is flushed before the next checkpoint. A kernel
 * may write the header page back before its journal commits the new
 * length: the power cut LOSE_LENGTHS. Every commit here was synced, so
 * the log holds all of them and recovery must be able to redo them.
 */
Test(powerloss, table_grown_since_the_last_checkpoint_survives_losing_its_new_length)
{
    const char *path = test_path("db");
    create_crash_db(path);
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
        for (uint64_t n = 1; n <= GROW_KEYS / GROW_PER_TXN; n++) {
            vmdb_txn *txn;
            if (vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn) != 0)
                _exit(3);
            for (uint64_t i = 0; i < GROW_PER_TXN; i++) {
                struct rec r;
                make_rec(&r, (n - 1) * GROW_PER_TXN + i, n, i);
                if (vmdb_txn_insert(txn, t, &r, NULL) != 0)
                    _exit(4);
            }
            if (vmdb_txn_commit(txn) != 0)
                _exit(5);
            if (write(fds[1], &n, sizeof n) != sizeof n)
                _exit(6);
        }
        raise(SIGKILL);
    }
    close(fds[1]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the writer failed (%d)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    uint64_t n, reported = 0;
    while (read(fds[0], &n, sizeof n) == sizeof n)
        reported = n;
    close(fds[0]);
    cr_assert_eq(reported, GROW_KEYS / GROW_PER_TXN);

    vmdb__powerloss_report cut;
    ASSERT_OK(vmdb__os_powerloss_cut(path, 1, VMDB__POWERLOSS_LOSE_LENGTHS, &cut));
    cr_log_info("cut: %s", cut.summary);
    vmdb_db *db;
    int rc = vmdb_open(path, NULL, &db);
    cr_assert_eq(rc, 0,
                 "reopen after a power cut that kept every page and lost every new file "
                 "length (cut: %s) -> %s: %s",
                 cut.summary, vmdb_error_name(rc), vmdb_last_error()->message);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    for (uint64_t key = 0; key < GROW_KEYS; key++) {
        struct rec r;
        rc = vmdb_table_get(t, &key, sizeof key, &r, NULL);
        cr_assert(rc == 0 && rec_ok(&r) && r.txn == key / GROW_PER_TXN + 1,
                  "key %llu of synced commit %llu: %s (cut: %s)", (unsigned long long)key,
                  (unsigned long long)(key / GROW_PER_TXN + 1),
                  rc == VMDB_ENOTFOUND ? "absent" : rc ? vmdb_last_error()->message
                                                       : "a wrong or damaged record",
                  cut.summary);
    }
    rc = vmdb_check(db);
    cr_assert_eq(rc, 0, "vmdb_check -> %s: %s (cut: %s)", vmdb_error_name(rc),
                 vmdb_last_error()->message, cut.summary);
    vmdb_close(db);
    remove_test_dir();
}

#define PUNCH_KEYS 300  /* the index grows from 64 entries to 512 */
#define PUNCH_MORE 400  /* and once more, to 1024, after the checkpoint */

/* Inserts keys [from, to), 10 a transaction, synced. */
static void insert_synced(vmdb_db *db, vmdb_table *t, uint64_t from, uint64_t to)
{
    for (uint64_t key = from; key < to; key += 10) {
        vmdb_txn *txn;
        if (vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn) != 0)
            _exit(3);
        for (uint64_t k = key; k < key + 10 && k < to; k++) {
            struct rec r;
            make_rec(&r, k, k / 10 + 1, k % 10);
            if (vmdb_txn_insert(txn, t, &r, NULL) != 0)
                _exit(4);
        }
        if (vmdb_txn_commit(txn) != 0)
            _exit(5);
    }
}

/*
 * A checkpoint gives the index's outgrown arrays back once the header
 * naming the active one is synced. A power cut just after it (the
 * simulator does not model the hole: a lost page brings the dead array's
 * old bytes back, a kept one reads zeros), or after one more growth that
 * no checkpoint made durable, must leave a database that opens with every
 * synced row found through its key and passes vmdb_check.
 */
static void cut_around_a_give_back(const char *path, bool grow_again,
                                   enum vmdb__powerloss_mode mode, uint64_t seed)
{
    create_crash_db(path);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        vmdb_db *db;
        vmdb_table *t;
        vmdb_db_options o = {.durability = VMDB_DURABILITY_SYNC};
        if (vmdb__os_powerloss_track(path, true) != 0 || vmdb_open(path, &o, &db) != 0 ||
            vmdb_table_open(db, "t", NULL, &t) != 0)
            _exit(2);
        insert_synced(db, t, 0, PUNCH_KEYS);
        if (vmdb_checkpoint(db) != 0)
            _exit(6);
        if (grow_again)
            insert_synced(db, t, PUNCH_KEYS, PUNCH_KEYS + PUNCH_MORE);
        raise(SIGKILL);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the writer failed (%d)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    vmdb__powerloss_report cut;
    ASSERT_OK(vmdb__os_powerloss_cut(path, seed, mode, &cut));
    vmdb_db *db;
    int rc = vmdb_open(path, NULL, &db);
    cr_assert_eq(rc, 0, "reopen (%s, cut: %s) -> %s: %s", vmdb__os_powerloss_mode_name(mode),
                 cut.summary, vmdb_error_name(rc), vmdb_last_error()->message);
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    uint64_t keys = grow_again ? PUNCH_KEYS + PUNCH_MORE : PUNCH_KEYS;
    for (uint64_t key = 0; key < keys; key++) {
        struct rec r;
        rc = vmdb_table_get(t, &key, sizeof key, &r, NULL);
        cr_assert(rc == 0 && rec_ok(&r) && r.key == key, "key %llu (%s, cut: %s): %s",
                  (unsigned long long)key, vmdb__os_powerloss_mode_name(mode), cut.summary,
                  rc == VMDB_ENOTFOUND ? "absent" : rc ? vmdb_last_error()->message
                                                       : "a wrong or damaged record");
    }
    rc = vmdb_check(db);
    cr_assert_eq(rc, 0, "vmdb_check -> %s: %s (%s, cut: %s)", vmdb_error_name(rc),
                 vmdb_last_error()->message, vmdb__os_powerloss_mode_name(mode), cut.summary);
    vmdb_close(db);
}

Test(powerloss, a_cut_after_the_index_gave_its_outgrown_arrays_back_loses_no_key)
{
    enum vmdb__powerloss_mode modes[] = {VMDB__POWERLOSS_LOSE, VMDB__POWERLOSS_KEEP,
                                         VMDB__POWERLOSS_TEAR, VMDB__POWERLOSS_LOSE_LENGTHS};
    uint64_t seed = test_seed(5);
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        for (int again = 0; again < 2; again++) {
            char name[32];
            snprintf(name, sizeof name, "db%zu-%d", m, again);
            cut_around_a_give_back(test_path(name), again, modes[m], seed + m);
        }
    }
    remove_test_dir();
}
