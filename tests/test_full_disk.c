/* SPDX-License-Identifier: MIT */
/*
 * tests/test_full_disk.c - a real full disk: a small tmpfs, filled
 * through the library and through the command. Mounting takes root; as
 * anyone else the tests skip, saying so.
 *
 * What must hold: no SIGBUS (every growth is allocated before it is
 * mapped), a clear ENOSPC naming the file, every committed row intact,
 * and writes that resume once space is freed.
 */
#include "cli_helpers.h"

#include <errno.h>
#include <sys/mount.h>

#include "rows.h"
#include "vmdb/db.h"

/* Unmounts the disk even when an assertion ended the test early. */
static void unmount_leftover(void)
{
    char disk[512];
    snprintf(disk, sizeof disk, "%s/disk", test_dir());
    umount2(disk, MNT_DETACH); /* a handle the failed test left open keeps it busy */
}

TestSuite(full_disk, .timeout = 120, .fini = unmount_leftover);

#define DISK_BYTES (3u << 20)
#define BALLAST_BYTES (1u << 20)
#define BATCH 200

/* A tmpfs of DISK_BYTES at test_dir()/disk, with a ballast file to free
 * later; NULL (and the test skipped) when it cannot be mounted. */
static const char *mount_small_disk(void)
{
    static char disk[512];
    snprintf(disk, sizeof disk, "%s/disk", test_dir());
    cr_assert_eq(mkdir(disk, 0755), 0);
    char size[32];
    snprintf(size, sizeof size, "size=%u", DISK_BYTES);
    if (mount("tmpfs", disk, "tmpfs", 0, size) != 0) {
        int err = errno;
        remove_test_dir();
        cr_skip_test("cannot mount a small tmpfs (%s): run as root to test a full disk",
                     strerror(err));
    }
    char ballast[600];
    snprintf(ballast, sizeof ballast, "%s/ballast", disk);
    unsigned char *zeros = calloc(1, BALLAST_BYTES);
    write_file(ballast, zeros, BALLAST_BYTES);
    free(zeros);
    return disk;
}

static void free_ballast(const char *disk)
{
    char ballast[600];
    snprintf(ballast, sizeof ballast, "%s/ballast", disk);
    cr_assert_eq(unlink(ballast), 0);
}

static void unmount_disk(const char *disk)
{
    cr_assert_eq(umount(disk), 0, "umount %s: %s", disk, strerror(errno));
    remove_test_dir();
}

static int put_batch(vmdb_db *db, vmdb_table *t, uint64_t from)
{
    vmdb_txn *txn;
    int rc = vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn);
    if (rc)
        return rc;
    for (uint64_t id = from; rc == 0 && id < from + BATCH; id++)
        rc = vmdb_txn_put(txn, t, &(struct row){id, id * 3}, NULL);
    return vmdb_txn_commit(txn); /* after a failed put: aborts, returns it */
}

static void expect_rows(vmdb_table *t, uint64_t count)
{
    for (uint64_t id = 0; id < count; id++) {
        struct row r;
        ASSERT_OK(vmdb_table_get(t, &id, sizeof id, &r, NULL));
        cr_assert_eq(r.value, id * 3, "row %llu", (unsigned long long)id);
    }
}

Test(full_disk, the_library_fills_the_disk_loses_nothing_and_goes_on_once_space_is_freed)
{
    const char *disk = mount_small_disk();
    char path[600];
    snprintf(path, sizeof path, "%s/db", disk);
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 256 << 10};
    ASSERT_OK(vmdb_open(path, &o, &db));
    vmdb_table *t = rows_table(db);
    uint64_t committed = 0;
    int rc;
    while ((rc = put_batch(db, t, committed)) == 0)
        committed += BATCH;
    cr_assert_eq(rc, VMDB_ENOSPC, "the disk filled with %s: %s", vmdb_error_name(rc),
                 vmdb_last_error()->message);
    cr_assert(strstr(vmdb_last_error()->message, path), "the message names no file: %s",
              vmdb_last_error()->message);
    cr_assert_gt(committed, 0);
    expect_rows(t, committed);
    /* The next row needing room fails the same way; the handle is fine. */
    rc = put_batch(db, t, committed);
    cr_assert_eq(rc, VMDB_ENOSPC, "again: %s: %s", vmdb_error_name(rc), vmdb_last_error()->message);
    ASSERT_OK(vmdb_check(db));

    free_ballast(disk);
    ASSERT_OK(put_batch(db, t, committed));
    committed += BATCH;
    ASSERT_OK(vmdb_close(db));
    ASSERT_OK(vmdb_open(path, &o, &db));
    ASSERT_OK(vmdb_table_open(db, "rows", NULL, &t));
    expect_rows(t, committed);
    ASSERT_OK(vmdb_check(db));
    ASSERT_OK(vmdb_close(db));
    unmount_disk(disk);
}

Test(full_disk, the_command_fills_the_disk_says_so_and_goes_on_once_space_is_freed)
{
    const char *disk = mount_small_disk();
    char path[600], csv[600];
    snprintf(path, sizeof path, "%s/db", disk);
    snprintf(csv, sizeof csv, "%s/rows.csv", test_dir());
    FILE *f = fopen(csv, "w");
    cr_assert_not_null(f);
    fprintf(f, "id,value\n");
    for (uint64_t id = 0; id < 100000; id++)
        fprintf(f, "%llu,%llu\n", (unsigned long long)id, (unsigned long long)id * 3);
    cr_assert_eq(fclose(f), 0);

    /* A log that fits the disk (the command makes 64 MiB ones). */
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 256 << 10};
    ASSERT_OK(vmdb_open(path, &o, &db));
    rows_table(db);
    ASSERT_OK(vmdb_close(db));
    char args[2000];
    cli_result *res;
    snprintf(args, sizeof args, "import '%s' rows '%s'", path, csv);
    res = run_cli(args);
    cr_assert_eq(res->status, 2, "import into a full disk: exit %d\n%s", res->status, res->err);
    ASSERT_CONTAINS(res->err, "No space left on device");
    ASSERT_CONTAINS(res->err, path);
    snprintf(args, sizeof args, "check '%s'", path);
    res = run_cli(args);
    cr_assert_eq(res->status, 0, "check after the full disk: %s", res->err);
    /* Whatever the import got in, every row of it is whole. */
    snprintf(args, sizeof args,
             "query --format csv '%s' 'SELECT COUNT(*) FROM rows WHERE value != id * 3'", path);
    res = run_cli(args);
    cr_assert_eq(res->status, 0, "%s", res->err);
    ASSERT_CONTAINS(res->out, "\n0\n");
    snprintf(args, sizeof args, "query --format csv '%s' 'SELECT COUNT(*) FROM rows'", path);
    res = run_cli(args);
    cr_assert_eq(res->status, 0, "%s", res->err);
    unsigned long long rows = strtoull(strchr(res->out, '\n') + 1, NULL, 10);

    free_ballast(disk);
    snprintf(args, sizeof args, "put '%s' rows id=999999 value=1", path);
    res = run_cli(args);
    cr_assert_eq(res->status, 0, "a put once space is free: %s", res->err);
    snprintf(args, sizeof args, "check '%s'", path);
    res = run_cli(args);
    cr_assert_eq(res->status, 0, "%s", res->err);
    cr_log_info("the import got %llu rows in before the disk was full", rows);
    unmount_disk(disk);
}
