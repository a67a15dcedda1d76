/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_scratch.h - a private directory for the harnesses that need
 * files, on tmpfs when there is one: a harness writes and maps files on
 * every run, and a disk would make that the cost of the run.
 */
#ifndef VMDB_FUZZ_SCRATCH_H
#define VMDB_FUZZ_SCRATCH_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_record.h"

/* The directory, made at the first call and removed (with what is left in
 * it) when the process exits normally; a crashed run leaves it behind, in
 * $TMPDIR or /dev/shm, named vmdb-fuzz-*. */
static char fuzz_scratch_dir[256];

static void fuzz_scratch_remove(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_scratch_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", fuzz_scratch_dir);
}

static inline const char *fuzz_scratch(void)
{
    if (!fuzz_scratch_dir[0]) {
        const char *base = getenv("TMPDIR");
        if (!base)
            base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_scratch_dir, sizeof fuzz_scratch_dir, "%s/vmdb-fuzz-XXXXXX", base);
        FUZZ_MUST(mkdtemp(fuzz_scratch_dir) != NULL);
        atexit(fuzz_scratch_remove);
    }
    return fuzz_scratch_dir;
}

/* A path in the directory; one of a few rotating buffers. */
static inline const char *fuzz_path(const char *name)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", fuzz_scratch(), name);
    return p;
}

/* Makes dir an empty directory: a run must not find what the run before
 * it left (a temporary file, a rebuilt index). Files only: the engine
 * makes no subdirectories in a database. */
static inline void fuzz_empty_dir(const char *dir)
{
    if (mkdir(dir, 0755) == 0)
        return;
    DIR *d = opendir(dir);
    FUZZ_MUST(d != NULL);
    struct dirent *e;
    char path[600];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FUZZ_MUST(unlink(path) == 0);
    }
    closedir(d);
}

/* Writes len bytes of data as the whole of the file at path. */
static inline void fuzz_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    FUZZ_MUST(f != NULL);
    FUZZ_MUST(len == 0 || fwrite(data, 1, len, f) == len);
    FUZZ_MUST(fclose(f) == 0);
}

#endif /* VMDB_FUZZ_SCRATCH_H */
