/* SPDX-License-Identifier: MIT */
/*
 * bench/oneshot_bench.c - what one `vmdb put` and one `vmdb get` cost as
 * processes on a small and a large table (issue 15, "One-shot commands
 * cost O(1) in the table size"): the promise is that the large table's
 * command finishes within 2x of the small one's.
 *
 *   make bench-oneshot             (or build/bench/oneshot_bench)
 *   VMDB_BENCH_RECORDS=1000000     the large table's records (default 10,000,000)
 *   VMDB_BENCH_DIR=/path           keep the databases there and reuse them
 *                                  on the next run (building 10M records
 *                                  takes a minute or two)
 *   VMDB_CLI=path/to/vmdb          another binary (default build/vmdb)
 *
 * Each database holds one table of 104-byte records (id:u64 key, val:u32,
 * name:str32, pad:bytes56), keys 1..N, built through the C API and closed
 * cleanly. Each command runs as a child process (fork + exec, stdout into
 * a pipe read to the end), timed from before the fork to after waitpid:
 * start-up, open, the command, close. A put replaces an existing record
 * (so the table's size stays what it is from run to run); a get reads
 * one. Every run's exit status is checked, and every get's output holds
 * the key asked for. Each row is the median of its runs after one
 * unmeasured warm-up: the figures are for a warm page cache.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmdb.h"
#include "bench_util.h"

#define SCHEMA "id:u64 key, val:u32, name:str32, pad:bytes56"
#define RECORD_BYTES 104
#define SMALL 100
#define RUNS 31

static void die(const char *what)
{
    fprintf(stderr, "oneshot_bench: %s: %s\n", what, vmdb_last_error()->message);
    exit(1);
}

static void build(const char *dir, uint64_t count)
{
    vmdb_db_options o = VMDB_DB_OPTIONS_INIT;
    o.flags = VMDB_DB_CREATE;
    vmdb_db *db;
    if (vmdb_open(dir, &o, &db) < 0)
        die("open");
    vmdb_schema *s;
    if (vmdb_schema_parse(SCHEMA, &s) < 0)
        die("schema");
    if (vmdb_schema_record_size(s) != RECORD_BYTES) {
        fprintf(stderr, "oneshot_bench: record size %zu, expected %d\n",
                vmdb_schema_record_size(s), RECORD_BYTES);
        exit(1);
    }
    vmdb_table_options to = VMDB_TABLE_OPTIONS_INIT;
    to.capacity = count;
    vmdb_table *t;
    if (vmdb_table_create_with(db, "bench", s, &to, &t) < 0)
        die("create table");
    unsigned char rec[RECORD_BYTES];
    vmdb_txn *txn = NULL;
    for (uint64_t i = 0; i < count; i++) {
        if (i % 1000 == 0 && vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn) < 0)
            die("begin");
        memset(rec, 0, sizeof rec);
        uint64_t id = i + 1;
        uint32_t val = (uint32_t)(i * 7);
        memcpy(rec, &id, 8);
        memcpy(rec + 8, &val, 4);
        snprintf((char *)rec + 12, 33, "name-%llu", (unsigned long long)id);
        if (vmdb_txn_insert(txn, t, rec, NULL) < 0)
            die("insert");
        if ((i + 1) % 1000 == 0 || i + 1 == count) {
            if (vmdb_txn_commit(txn) < 0)
                die("commit");
        }
        if ((i + 1) % 1000000 == 0)
            fprintf(stderr, "  %llu records\n", (unsigned long long)(i + 1));
    }
    vmdb_schema_free(s);
    if (vmdb_close(db) < 0)
        die("close");
}

static char output[1 << 16];
static size_t output_len;

static double run(char *const argv[])
{
    int fds[2];
    if (pipe(fds) < 0) {
        perror("pipe");
        exit(1);
    }
    double t0 = bench_now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    output_len = 0;
    for (;;) {
        ssize_t n = read(fds[0], output + output_len, sizeof output - 1 - output_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        output_len += (size_t)n;
    }
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    double t = bench_now() - t0;
    output[output_len] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "oneshot_bench: %s %s %s failed (status %d)\n", argv[0], argv[1],
                argv[2], status);
        exit(1);
    }
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of RUNS runs of `what` (put or get) on `dir`, after one
 * warm-up; keys cycle through 1..records. */
static double median(const char *cli, const char *dir, const char *what, uint64_t records)
{
    double t[RUNS];
    for (int i = -1; i < RUNS; i++) {
        uint64_t key = (uint64_t)(i + 2) * 7919 % records + 1;
        char idarg[64], keyarg[32], valarg[32];
        snprintf(idarg, sizeof idarg, "id=%llu", (unsigned long long)key);
        snprintf(keyarg, sizeof keyarg, "%llu", (unsigned long long)key);
        snprintf(valarg, sizeof valarg, "val=%d", i + 1);
        char *put[] = {(char *)cli, "put", (char *)dir, "bench", idarg, valarg, NULL};
        char *get[] = {(char *)cli, "get", (char *)dir, "bench", keyarg, NULL};
        double s = run(strcmp(what, "put") == 0 ? put : get);
        if (strcmp(what, "get") == 0 && !strstr(output, keyarg)) {
            fprintf(stderr, "oneshot_bench: get %s printed: %s\n", keyarg, output);
            exit(1);
        }
        if (i >= 0)
            t[i] = s;
    }
    qsort(t, RUNS, sizeof t[0], cmp_double);
    return t[RUNS / 2];
}

/* The database for `records` in `dir`, built unless a finished one is
 * there (its marker file is written after a clean close). */
static void prepare(const char *dir, uint64_t records)
{
    char mark[4200];
    snprintf(mark, sizeof mark, "%s.built", dir);
    struct stat st;
    if (stat(mark, &st) == 0)
        return;
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        exit(1);
    fprintf(stderr, "building %llu records in %s\n", (unsigned long long)records, dir);
    double t0 = bench_now();
    build(dir, records);
    fprintf(stderr, "  built in %.1f s\n", bench_now() - t0);
    FILE *f = fopen(mark, "w");
    if (f)
        fclose(f);
}

int main(void)
{
    const char *cli = getenv("VMDB_CLI");
    cli = cli && *cli ? cli : "build/vmdb";
    const char *n = getenv("VMDB_BENCH_RECORDS");
    uint64_t large = n && *n ? strtoull(n, NULL, 10) : 10000000;
    if (large < SMALL) {
        fprintf(stderr, "oneshot_bench: VMDB_BENCH_RECORDS below %d\n", SMALL);
        return 1;
    }
    char base[4096];
    const char *keep = getenv("VMDB_BENCH_DIR");
    bool temp = !(keep && *keep);
    if (temp) {
        if (bench_temp_dir(base, sizeof base, 64, "oneshot") < 0)
            return 1;
    } else {
        snprintf(base, sizeof base, "%s", keep);
        mkdir(base, 0755);
    }
    char small_dir[4200], large_dir[4200];
    snprintf(small_dir, sizeof small_dir, "%s/small-%d", base, SMALL);
    snprintf(large_dir, sizeof large_dir, "%s/large-%llu", base, (unsigned long long)large);
    prepare(small_dir, SMALL);
    prepare(large_dir, large);

    printf("one-shot commands, %s, median of %d runs (warm cache)\n", cli, RUNS);
    printf("%-10s %14s %14s %8s\n", "command", "100 records", "large", "ratio");
    const char *what[] = {"put", "get"};
    for (int i = 0; i < 2; i++) {
        double s = median(cli, small_dir, what[i], SMALL);
        double l = median(cli, large_dir, what[i], large);
        printf("%-10s %11.2f ms %11.2f ms %7.2fx   (large: %llu records)\n", what[i], s * 1e3,
               l * 1e3, l / s, (unsigned long long)large);
    }
    if (temp) {
        char cmd[4300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        if (system(cmd) != 0)
            return 1;
    }
    return 0;
}
