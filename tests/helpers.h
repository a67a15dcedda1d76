/* SPDX-License-Identifier: MIT */
/*
 * tests/helpers.h - shared by the Criterion suites: a private temporary
 * directory per test, and assertions that print the library's own message.
 */
#ifndef VMDB_TESTS_HELPERS_H
#define VMDB_TESTS_HELPERS_H

#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "vmdb.h"

/* Asserts that `expr` returned 0, printing vmdb's message if not. */
#define ASSERT_OK(expr)                                                        \
    do {                                                                       \
        int rc_ = (expr);                                                      \
        cr_assert_eq(rc_, 0, "%s -> %s: %s", #expr, vmdb_error_name(rc_),      \
                     vmdb_last_error()->message);                              \
    } while (0)

/* Asserts that `expr` failed with `code` and that the message left in the
 * error context contains `needle` (the file or value at fault). */
#define ASSERT_FAILS(expr, want, needle)                                       \
    do {                                                                       \
        vmdb_error_clear();                                                    \
        int rc_ = (expr);                                                      \
        cr_assert_eq(rc_, (want), "%s -> %s, expected %s (%s)", #expr,         \
                     vmdb_error_name(rc_), vmdb_error_name(want),              \
                     vmdb_last_error()->message);                              \
        cr_assert_eq(vmdb_last_error()->code, (want));                         \
        cr_assert(strstr(vmdb_last_error()->message, (needle)) != NULL,        \
                  "message \"%s\" does not name \"%s\"",                       \
                  vmdb_last_error()->message, (needle));                       \
    } while (0)

/* Asserts that `expr` gave the expected outcome `want` (an answer such as
 * "empty", not a failure) and left the error context alone. */
#define ASSERT_OUTCOME(expr, want)                                             \
    do {                                                                       \
        vmdb_error_clear();                                                    \
        int rc_ = (expr);                                                      \
        cr_assert_eq(rc_, (want), "%s -> %s, expected %s", #expr,              \
                     vmdb_error_name(rc_), vmdb_error_name(want));             \
        cr_assert_eq(vmdb_last_error()->code, 0,                               \
                     "%s left a message: %s", #expr,                           \
                     vmdb_last_error()->message);                              \
    } while (0)

/* Criterion timeouts, in seconds, so that a deadlock fails its test instead
 * of hanging the run. A test takes at most about a second under ASan on a
 * quiet machine, the crash harnesses about twenty; the limits allow for a
 * machine many times slower (both CPUs busy, nice 19) and still end a hang
 * well inside CI's 20 minutes. valgrind's build scales them (it runs some
 * fifty times slower). */
#ifndef VMDB_TEST_TIMEOUT_SCALE
#define VMDB_TEST_TIMEOUT_SCALE 1
#endif
#define SUITE_TIMEOUT (60.0 * VMDB_TEST_TIMEOUT_SCALE)
#define HARNESS_TIMEOUT (400.0 * VMDB_TEST_TIMEOUT_SCALE)

/* fork() for a test: the child is killed when the test's process ends, so
 * a failed assertion or a timeout never leaves it running, holding the
 * runner's pipes or spinning on a ring no one reads. */
static inline pid_t fork_child(void)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127); /* the test ended before the child could be tied to it */
    }
    return pid;
}

/* A monotonic clock, for where a harness's kill lands: never for what a
 * test asserts. */
static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits until another thread moves *counter past `from`: a writer that
 * lets its readers run now and then, so a concurrency test never rests on
 * how the scheduler shares out a busy machine's CPUs. */
static inline void wait_past(const uint64_t *counter, uint64_t from)
{
    while (__atomic_load_n(counter, __ATOMIC_RELAXED) <= from)
        sched_yield();
}

static char test_dir_path[256];
static pid_t test_dir_owner;

/* A test that fails, or forgets remove_test_dir, must not leave its
 * directory behind: each holds a database whose log alone is 64 MiB, and
 * a few thousand of them filled the disk. The process that made the
 * directory removes it when it exits (a child it forked does not), unless
 * VMDB_KEEP_TEST_DIR is set, to look at what a failure left. */
static inline void remove_test_dir_at_exit(void)
{
    if (getpid() != test_dir_owner || !test_dir_path[0] || getenv("VMDB_KEEP_TEST_DIR"))
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir_path);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", test_dir_path);
}

/* A fresh directory for this test; Criterion runs tests in separate
 * processes, possibly in parallel, so no two tests may share a path. */
static inline const char *test_dir(void)
{
    if (!test_dir_path[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(test_dir_path, sizeof test_dir_path, "%s/vmdb-test-XXXXXX",
                 base ? base : "/tmp");
        cr_assert_not_null(mkdtemp(test_dir_path), "mkdtemp failed");
        test_dir_owner = getpid();
        atexit(remove_test_dir_at_exit);
    }
    return test_dir_path;
}

/* A path inside the test's directory. The returned string is one of a few
 * rotating static buffers, enough for the paths a test holds at once. */
static inline const char *test_path(const char *name)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", test_dir(), name);
    return p;
}

/* Randomised tests take their seed from VMDB_SEED, or the suite's own
 * default, and log it, so that a failure can be run again as it was. */
static inline uint64_t test_seed(uint64_t suite_default)
{
    const char *s = getenv("VMDB_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : suite_default;
    cr_log_info("VMDB_SEED=%llu", (unsigned long long)seed);
    return seed;
}

static inline void remove_test_dir(void)
{
    char cmd[600];
    if (test_dir()[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir());
        cr_assert_eq(system(cmd), 0);
    }
}

/* Damages a file on purpose: XORs the byte at offset `at` with `mask`. */
static inline void xor_byte_at(const char *path, long at, int mask)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fseek(f, at, SEEK_SET), 0);
    int c = fgetc(f);
    cr_assert_neq(c, EOF, "%s: no byte at %ld", path, at);
    cr_assert_eq(fseek(f, at, SEEK_SET), 0);
    fputc(c ^ mask, f);
    cr_assert_eq(fclose(f), 0);
}

/* Writes `len` bytes of `data` to a new file at path. */
static inline void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* Reads a whole file into a malloc'ed buffer; *len gets its size. */
static inline unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Whether path lies on a tmpfs, where vmdb gives no space back (see
 * vmdb__os_punch_hole): tests of the space given back skip there. */
static inline bool on_tmpfs(const char *path)
{
    struct statfs fs;
    return statfs(path, &fs) == 0 && fs.f_type == 0x01021994;
}

static inline uint64_t file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
    return (uint64_t)st.st_size;
}

/* A deterministic byte pattern, so a test can check any byte it reads. */
static inline unsigned char pattern_byte(uint64_t i)
{
    return (unsigned char)((i * 2654435761u) >> 13);
}

static inline void fill_pattern(unsigned char *p, size_t len, uint64_t from)
{
    for (size_t i = 0; i < len; i++)
        p[i] = pattern_byte(from + i);
}

#endif /* VMDB_TESTS_HELPERS_H */
