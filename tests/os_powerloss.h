/* SPDX-License-Identifier: MIT */
/*
 * tests/os_powerloss.h - a simulated power cut, for the test build only:
 * tests/os_powerloss.c watches the os seam's system calls
 * (engine/base/os_syscalls.h) from the test binary's start, and the
 * release library has none of it.
 */
#ifndef VMDB_TESTS_OS_POWERLOSS_H
#define VMDB_TESTS_OS_POWERLOSS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The power-loss simulator (the model, and what it does not cover, is
 * described in os_powerloss.c).
 *
 * vmdb__os_powerloss_track(dir, true) takes every regular file directly in
 * `dir`, bytes and name, as durable as it is now, and from then on keeps,
 * for each file of that directory the process opens through the seam, a
 * durable image: a shadow file in the sibling directory "<dir>.powerloss",
 * named by the file's inode number, which only a flush (vmdb__os_flush
 * with sync) or a vmdb__os_sync updates. Names are durable only through
 * vmdb__os_sync_dir_of: a create, rename or unlink is not until then.
 * Turn it on before the files are opened and mapped: mappings made
 * earlier are not seen. Off stops tracking and leaves the images for a
 * cut. Several processes may track one directory at once: the first
 * takes the files as durable, the others join it, and a flush or a
 * directory fsync by any of them counts for all.
 *
 * vmdb__os_powerloss_cut(dir, ...) is the power cut, applied to the files
 * as they are now, normally in another process after the tracking ones
 * were killed. First the names: each change since the last directory
 * fsync (a create, a rename with what it replaced, an unlink) is taken
 * back (LOSE, LOSE_LENGTHS), kept (KEEP) or either by a coin of its own
 * (TEAR, RANDOM); taken back, a new file vanishes, a renamed one has its
 * old name and an unlinked one comes back with its durable image. Then
 * the bytes: every 4 KiB page of a file that differs from its image is
 * lost, kept or torn as `mode` says, the file's length is the image's or
 * the current one (LOSE: the image's, KEEP: the current, TEAR and RANDOM:
 * a coin decides), and the result is written into the file. A file with
 * no image (never synced since tracking began) has an empty one. The
 * images are deleted afterwards, so tracking starts afresh, and the cut
 * is a reboot: vmdb__os_boot_id() returns a new id in this process and in
 * the processes it forks from then on.
 */
enum vmdb__powerloss_mode {
    VMDB__POWERLOSS_LOSE,   /* every page written since its last flush is lost */
    VMDB__POWERLOSS_KEEP,   /* every such page reached the disk anyway */
    VMDB__POWERLOSS_TEAR,   /* each 512-byte sector of such a page: old or new */
    VMDB__POWERLOSS_RANDOM, /* one of the three, drawn for each page */
    /* Every page kept, every length back to the image's: the kernel wrote
     * the data back, the journal never committed the new lengths. */
    VMDB__POWERLOSS_LOSE_LENGTHS,
};

typedef struct vmdb__powerloss_report {
    unsigned files;               /* regular files in the directory */
    unsigned files_without_image; /* never synced since tracking began */
    unsigned files_resized;       /* whose length the cut changed */
    uint64_t pages_differ;        /* pages whose bytes differed from the image */
    uint64_t pages_lost;          /* of those: back to the image */
    uint64_t pages_kept;          /* of those: the bytes as written */
    uint64_t pages_torn;          /* of those: sector by sector, old or new */
    unsigned name_changes;        /* changes of names since the last
                                     directory fsync (a rename and the file
                                     it replaced are one) */
    unsigned name_changes_lost;   /* of those: taken back */
    unsigned files_vanished;      /* never named durably: gone */
    unsigned files_restored;      /* unlinked, but the unlink was taken back */
    char summary[1536];           /* one "name: ..." clause per file that
                                     changed, for failure messages */
} vmdb__powerloss_report;

int vmdb__os_powerloss_track(const char *dir, bool on);
/* `report` may be NULL. -ENOENT if `dir` was never tracked. */
int vmdb__os_powerloss_cut(const char *dir, uint64_t seed, enum vmdb__powerloss_mode mode,
                           vmdb__powerloss_report *report);
const char *vmdb__os_powerloss_mode_name(enum vmdb__powerloss_mode mode);

#endif /* VMDB_TESTS_OS_POWERLOSS_H */
