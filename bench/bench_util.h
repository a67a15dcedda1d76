/* SPDX-License-Identifier: MIT */
/*
 * bench/bench_util.h - what every benchmark needs the same way: clocks,
 * and a fresh directory of its own under $TMPDIR (or /tmp) for its files.
 */
#ifndef VMDB_BENCH_UTIL_H
#define VMDB_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Wall-clock seconds on the monotonic clock, for rates and durations. */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Seconds of CPU this process has used, all threads. */
static inline double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Makes $TMPDIR/vmdb-NAME-XXXXXX (or under /tmp) into dir, keeping
 * `spare` bytes of dir's `cap` free for the file names the caller puts
 * in it. 0, or -1 with a message on stderr. */
static inline int bench_temp_dir(char *dir, size_t cap, size_t spare, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    tmp = tmp && *tmp ? tmp : "/tmp";
    if (spare >= cap ||
        (size_t)snprintf(dir, cap - spare, "%s/vmdb-%s-XXXXXX", tmp, name) >= cap - spare) {
        fprintf(stderr, "%s: TMPDIR too long: %s\n", name, tmp);
        dir[0] = '\0';
        return -1;
    }
    if (!mkdtemp(dir)) {
        perror(dir);
        dir[0] = '\0';
        return -1;
    }
    return 0;
}

#endif
