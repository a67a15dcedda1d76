/* SPDX-License-Identifier: MIT */
/*
 * bench/query_bench.c - what `vmdb query` costs as a process (issue 5,
 * "Performance"): a full-scan filter over 1,000,000 records of 100 bytes,
 * a key lookup, and the start-up of a process that does nothing.
 *
 *   make bench-query             (or build/bench/query_bench [DIR])
 *   VMDB_BENCH_RECORDS=200000    fewer records for a quick look
 *   VMDB_CLI=path/to/vmdb        another binary (default build/vmdb)
 *
 * The database is built through the C API (id:u64 key, val:u32,
 * score:f64, name:str32, pad:bytes44: 100 bytes, 104 with the schema's
 * padding to 8), values from a fixed-seed generator. Then each command is
 * run as a child process (fork + exec, stdout into a pipe that the
 * benchmark reads to the end) and timed with CLOCK_MONOTONIC from before
 * the fork to after waitpid: start-up, opening the database, the query,
 * printing, exit. Each row is the median of its runs after one unmeasured
 * warm-up run, so the table's pages are in the page cache (the figures are
 * for a warm cache). Every run's output is checked: the scan must print
 * exactly the rows the benchmark counted when it wrote them, the lookup
 * the record asked for.
 *
 * The key lists, `id IN (...)` of 10,000 and 20,000 keys drawn at random
 * (repeats included), are too long for a command-line argument: they go
 * to `vmdb shell` on stdin, and the check is that each distinct key's
 * record comes out once.
 *
 * "GB/s" is the table's bytes (slots of records with their headers, up to
 * the high-water mark) divided by the process's time; "scan only" takes
 * the key lookup's time (start-up + open) off first, which estimates what
 * the scan itself runs at.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmdb.h"
#include "bench_util.h"

#define RECORD_BYTES 104
#define RUNS_FAST 41
#define RUNS_SCAN 15
#define RUNS_KEYS 9

static uint64_t rng_state = 0x5eed;
static uint64_t rnd(void)
{
    rng_state += 0x9e3779b97f4a7c15ULL;
    uint64_t z = rng_state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void die(const char *what)
{
    fprintf(stderr, "query_bench: %s: %s\n", what, vmdb_last_error()->message);
    exit(1);
}

/* ---- the database ------------------------------------------------------- */

#define SCHEMA "id:u64 key, val:u32, score:f64, name:str32, pad:bytes44"
#define VAL_RANGE 1000000u
#define PROBE_VAL 424242u      /* WHERE val = PROBE_VAL */
#define LIKE_TEXT "-77777"     /* WHERE name LIKE '%-77777%' */

typedef struct built {
    uint64_t records;
    uint64_t val_matches;  /* records with val = PROBE_VAL */
    uint64_t like_matches; /* names holding LIKE_TEXT */
    uint64_t table_bytes;  /* high water * slot size */
    uint64_t record_bytes; /* records * record size */
} built;

static built build(const char *dir, uint64_t count)
{
    built b = {.records = count};
    vmdb_db_options o = VMDB_DB_OPTIONS_INIT;
    o.flags = VMDB_DB_CREATE;
    vmdb_db *db;
    if (vmdb_open(dir, &o, &db) < 0)
        die("open");
    vmdb_schema *s;
    if (vmdb_schema_parse(SCHEMA, &s) < 0)
        die("schema");
    if (vmdb_schema_record_size(s) != RECORD_BYTES) {
        fprintf(stderr, "query_bench: record size %zu, expected %d\n",
                vmdb_schema_record_size(s), RECORD_BYTES);
        exit(1);
    }
    vmdb_table *t;
    if (vmdb_table_create(db, "bench", s, &t) < 0)
        die("create table");
    unsigned char rec[RECORD_BYTES];
    vmdb_txn *txn = NULL;
    for (uint64_t i = 0; i < count; i++) {
        if (i % 1000 == 0 && vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn) < 0)
            die("begin");
        memset(rec, 0, sizeof rec);
        uint64_t id = i + 1;
        uint32_t val = (uint32_t)(rnd() % VAL_RANGE);
        double score = (double)i * 0.5;
        char name[33];
        snprintf(name, sizeof name, "name-%llu", (unsigned long long)id);
        memcpy(rec, &id, 8);
        memcpy(rec + 8, &val, 4);
        memcpy(rec + 16, &score, 8);
        memcpy(rec + 24, name, strlen(name));
        memset(rec + 56, (int)(i & 0xff), 44);
        b.val_matches += val == PROBE_VAL;
        b.like_matches += strstr(name, LIKE_TEXT) != NULL;
        if (vmdb_txn_insert(txn, t, rec, NULL) < 0)
            die("insert");
        if ((i + 1) % 1000 == 0 || i + 1 == count) {
            if (vmdb_txn_commit(txn) < 0)
                die("commit");
        }
    }
    vmdb_table_info in;
    if (vmdb_table_stat(t, &in) < 0)
        die("stat");
    b.table_bytes = in.high_water * in.slot_size;
    b.record_bytes = in.records * in.record_size;
    vmdb_schema_free(s);
    vmdb_close(db);
    return b;
}

/* ---- running a process -------------------------------------------------- */

static char output[1 << 20];
static size_t output_len;

/* Runs argv with stdout into `output` and stdin from the file `input`
 * (NULL: the benchmark's); returns the seconds it took. */
static double run(char *const argv[], const char *input)
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
        if (input && !freopen(input, "r", stdin))
            _exit(126);
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
    if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 1)) {
        fprintf(stderr, "query_bench: %s %s failed (status %d)\n", argv[0],
                argv[1] ? argv[1] : "", status);
        exit(1);
    }
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static size_t count_lines(void)
{
    size_t n = 0;
    for (size_t i = 0; i < output_len; i++)
        n += output[i] == '\n';
    return n;
}

typedef void (*check_fn)(int run_index);

/* Median seconds of `runs` runs after one warm-up, stdin from `input`
 * (may be NULL). check (may be NULL) verifies each run's output. */
static double measure(char *const argv[], const char *input, int runs, check_fn check,
                      double *min)
{
    double *t = malloc((size_t)runs * sizeof *t);
    run(argv, input);
    if (check)
        check(-1);
    for (int i = 0; i < runs; i++) {
        t[i] = run(argv, input);
        if (check)
            check(i);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    double median = t[runs / 2];
    *min = t[0];
    free(t);
    return median;
}

/* ---- checks ------------------------------------------------------------- */

static built db_info;
static uint64_t lookup_id;

static void check_rows(uint64_t want, const char *what)
{
    /* csv: a header line, then one line per row */
    size_t rows = count_lines() - 1;
    if (rows != want) {
        fprintf(stderr, "query_bench: %s printed %zu rows, expected %llu:\n%s\n", what, rows,
                (unsigned long long)want, output);
        exit(1);
    }
}

static void check_val_scan(int i)
{
    (void)i;
    check_rows(db_info.val_matches, "the val scan");
}

static void check_like_scan(int i)
{
    (void)i;
    check_rows(db_info.like_matches, "the LIKE scan");
}

static void check_lookup(int i)
{
    (void)i;
    char want[64];
    snprintf(want, sizeof want, "\n%llu,", (unsigned long long)lookup_id);
    if (count_lines() != 2 || !strstr(output, want)) {
        fprintf(stderr, "query_bench: the lookup of id %llu printed:\n%s\n",
                (unsigned long long)lookup_id, output);
        exit(1);
    }
}

/* The IN lists' scripts, and how many distinct keys each holds. */
static uint64_t keys_distinct;

static void check_keys(int i)
{
    (void)i;
    check_rows(keys_distinct, "the IN lookup");
}

/* Writes "SELECT id FROM bench WHERE id IN (...);" with `n` keys drawn
 * from [1, records] into path; returns how many are distinct. */
static uint64_t write_keys_script(const char *path, size_t n, uint64_t records)
{
    FILE *f = fopen(path, "w");
    unsigned char *seen = calloc(records + 1, 1);
    if (!f || !seen) {
        perror(path);
        exit(1);
    }
    uint64_t distinct = 0;
    fprintf(f, "SELECT id FROM bench WHERE id IN (");
    for (size_t i = 0; i < n; i++) {
        uint64_t id = rnd() % records + 1;
        distinct += !seen[id];
        seen[id] = 1;
        fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)id);
    }
    fprintf(f, ");\n");
    free(seen);
    if (fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    return distinct;
}

static void check_version(int i)
{
    (void)i;
    if (strncmp(output, "vmdb ", 5) != 0) {
        fprintf(stderr, "query_bench: --version printed: %s\n", output);
        exit(1);
    }
}

/* ---- main --------------------------------------------------------------- */

static void row(const char *name, double median, double min, const char *note)
{
    printf("%-34s %9.2f ms %9.2f ms  %s\n", name, median * 1e3, min * 1e3, note);
}

int main(int argc, char **argv)
{
    const char *env = getenv("VMDB_BENCH_RECORDS");
    uint64_t count = env ? strtoull(env, NULL, 10) : 1000000;
    const char *cli = getenv("VMDB_CLI") ? getenv("VMDB_CLI") : "build/vmdb";
    if (access(cli, X_OK) != 0) {
        fprintf(stderr, "query_bench: %s: not an executable (make all first)\n", cli);
        return 1;
    }
    char dir[512];
    bool own_dir = argc < 2;
    if (own_dir) {
        char parent[400];
        if (bench_temp_dir(parent, sizeof parent, 0, "query-bench") < 0)
            return 1;
        snprintf(dir, sizeof dir, "%s/db", parent);
    } else {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    }

    printf("vmdb %s query benchmark: %s\n", vmdb_version_string(), cli);
    double t0 = bench_now();
    db_info = build(dir, count);
    printf("database    %s: %llu records of %d B (%s), built in %.1f s\n", dir,
           (unsigned long long)count, RECORD_BYTES, SCHEMA, bench_now() - t0);
    printf("table       %.1f MB of slots (records with their headers), %.1f MB of records\n",
           (double)db_info.table_bytes / 1e6, (double)db_info.record_bytes / 1e6);
    printf("timing      whole process: fork to waitpid, stdout read to the end; median and\n"
           "            fastest of %d runs (%d for scans) after a warm-up run; MB = 10^6 B\n\n",
           RUNS_FAST, RUNS_SCAN);

    char val_sql[128], like_sql[128], lookup_sql[128];
    snprintf(val_sql, sizeof val_sql, "SELECT id, name FROM bench WHERE val = %u", PROBE_VAL);
    snprintf(like_sql, sizeof like_sql, "SELECT id, name FROM bench WHERE name LIKE '%%%s%%'",
             LIKE_TEXT);
    lookup_id = count / 2 + 1;
    snprintf(lookup_sql, sizeof lookup_sql, "SELECT * FROM bench WHERE id = %llu",
             (unsigned long long)lookup_id);

    char *true_argv[] = {"/bin/true", NULL};
    char *version_argv[] = {(char *)cli, "--version", NULL};
    char *lookup_argv[] = {(char *)cli, "query", dir, lookup_sql, "--format", "csv", NULL};
    char *val_argv[] = {(char *)cli, "query", dir, val_sql, "--format", "csv", NULL};
    char *like_argv[] = {(char *)cli, "query", dir, like_sql, "--format", "csv", NULL};

    double min;
    printf("%-34s %12s %12s\n", "command", "median", "fastest");
    double t_true = measure(true_argv, NULL, RUNS_FAST, NULL, &min);
    row("/bin/true", t_true, min, "");
    double t_version = measure(version_argv, NULL, RUNS_FAST, check_version, &min);
    row("vmdb --version", t_version, min, "");
    double t_lookup = measure(lookup_argv, NULL, RUNS_FAST, check_lookup, &min);
    char note[256];
    snprintf(note, sizeof note, "%.2fx vmdb --version, %.2fx /bin/true", t_lookup / t_version,
             t_lookup / t_true);
    row("query: key lookup (id = K)", t_lookup, min, note);

    double t_val = measure(val_argv, NULL, RUNS_SCAN, check_val_scan, &min);
    double scan_only = t_val - t_lookup;
    snprintf(note, sizeof note, "%.2f GB/s; scan only %.2f GB/s (%.1f ms); %llu row%s",
             (double)db_info.table_bytes / t_val / 1e9,
             scan_only > 0 ? (double)db_info.table_bytes / scan_only / 1e9 : 0.0,
             scan_only * 1e3, (unsigned long long)db_info.val_matches,
             db_info.val_matches == 1 ? "" : "s");
    row("query: full scan, val = X", t_val, min, note);

    double t_like = measure(like_argv, NULL, RUNS_SCAN, check_like_scan, &min);
    scan_only = t_like - t_lookup;
    snprintf(note, sizeof note, "%.2f GB/s; scan only %.2f GB/s (%.1f ms); %llu row%s",
             (double)db_info.table_bytes / t_like / 1e9,
             scan_only > 0 ? (double)db_info.table_bytes / scan_only / 1e9 : 0.0,
             scan_only * 1e3, (unsigned long long)db_info.like_matches,
             db_info.like_matches == 1 ? "" : "s");
    row("query: full scan, name LIKE", t_like, min, note);

    /* Key lists: the shell reads them, so a row for its start-up alone. */
    char script[600], keys_sql[700];
    snprintf(script, sizeof script, "%s.keys.sql", dir);
    char *shell_argv[] = {(char *)cli, "shell", dir, "--format", "csv", NULL};
    snprintf(keys_sql, sizeof keys_sql, "SELECT * FROM bench WHERE id = %llu;\n",
             (unsigned long long)lookup_id);
    FILE *f = fopen(script, "w");
    if (!f || fputs(keys_sql, f) < 0 || fclose(f) != 0) {
        perror(script);
        return 1;
    }
    double t_shell = measure(shell_argv, script, RUNS_FAST, check_lookup, &min);
    row("shell: key lookup (id = K)", t_shell, min, "");
    static const size_t key_lists[] = {10000, 20000};
    for (size_t i = 0; i < sizeof key_lists / sizeof key_lists[0]; i++) {
        keys_distinct = write_keys_script(script, key_lists[i], count);
        double t_keys = measure(shell_argv, script, RUNS_KEYS, check_keys, &min);
        char name[64];
        snprintf(name, sizeof name, "shell: id IN (%zu keys)", key_lists[i]);
        snprintf(note, sizeof note, "%llu distinct, each printed once; %.1f us a key over the lookup",
                 (unsigned long long)keys_distinct,
                 (t_keys - t_shell) / (double)key_lists[i] * 1e6);
        row(name, t_keys, min, note);
    }
    remove(script);

    printf("\nSQL: %s\n     %s\n     %s\n"
           "     SELECT id FROM bench WHERE id IN (K1, K2, ...)   (vmdb shell, script on stdin)\n",
           lookup_sql, val_sql, like_sql);

    if (own_dir) {
        char cmd[1200];
        char *slash = strrchr(dir, '/');
        *slash = '\0';
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "query_bench: could not remove %s\n", dir);
    }
    return 0;
}
