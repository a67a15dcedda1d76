/* SPDX-License-Identifier: MIT */
/*
 * tests/cli_helpers.h - runs the built vmdb command as a black box and
 * captures its exit status, stdout and stderr.
 */
#ifndef VMDB_TESTS_CLI_HELPERS_H
#define VMDB_TESTS_CLI_HELPERS_H

#include <sys/wait.h>

#include "helpers.h"

typedef struct cli_result {
    int status;     /* exit status, or -1 if it did not exit normally */
    char out[65536]; /* stdout, NUL-terminated, truncated to fit */
    char err[4096];  /* stderr, likewise */
} cli_result;

/* The binary under test: $VMDB_CLI, or build/vmdb from the project root,
 * where make runs the suites. */
static inline const char *cli_binary(void)
{
    const char *env = getenv("VMDB_CLI");
    return env ? env : "build/vmdb";
}

static inline void slurp(const char *path, char *dst, size_t cap)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    size_t n = fread(dst, 1, cap - 1, f);
    dst[n] = '\0';
    fclose(f);
}

/* Runs `vmdb ARGS` (ARGS already shell-quoted by the caller) and fills
 * *res. The result is large, so it lives in static storage. */
static inline cli_result *run_cli(const char *args)
{
    static cli_result res;
    char cmd[4096];
    const char *out = test_path("cli.out"), *err = test_path("cli.err");
    snprintf(cmd, sizeof cmd, "%s %s >'%s' 2>'%s'", cli_binary(), args, out, err);
    int rc = system(cmd);
    res.status = rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    slurp(out, res.out, sizeof res.out);
    slurp(err, res.err, sizeof res.err);
    return &res;
}

#define ASSERT_CONTAINS(hay, needle)                                           \
    cr_assert(strstr((hay), (needle)) != NULL, "\"%s\" not found in:\n%s",     \
              (needle), (hay))

#endif /* VMDB_TESTS_CLI_HELPERS_H */
