/* SPDX-License-Identifier: MIT */
/*
 * bench/import_bench.c - how fast `vmdb import` loads a file and `vmdb
 * export` writes it back: 1,000,000 rows of made-up people
 * (id:u64 key, name:str32, city:str24, age:u8, score:f64).
 *
 *   make bench-import            (or build/bench/import_bench [DIR])
 *   VMDB_BENCH_ROWS=100000       fewer rows for a quick look
 *   VMDB_CLI=path/to/vmdb        another binary (default build/vmdb)
 *
 * The rows are written once as CSV and as JSON lines from a fixed-seed
 * generator. Each command is run as a user runs it, a process of its own
 * with stdout and stderr away from the terminal (so no progress line),
 * into a fresh database each time, and timed with CLOCK_MONOTONIC from
 * fork to exit: process start, opening the database, parsing, the
 * transactions (batches of 10,000 at durability NONE, the default) and
 * the checkpoint at close are all in. Each figure is the median of 3
 * runs, with the spread (slowest - fastest) / median. After each import
 * the benchmark counts the table's records and fails if one is missing,
 * so a broken import cannot post a fast number.
 *
 * The readers alone (cli/csv.c and cli/jsonl.c over the same files,
 * counting fields, no database) are timed too, to show how the time
 * divides between parsing and the library.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "csv.h"
#include "jsonl.h"
#include "vmdb.h"
#include "bench_util.h"

#define RUNS 3
#define SCHEMA "id:u64 key, name:str32, city:str24, age:u8, score:f64"

/* Seconds of CPU, user and system, of one run. */
static double last_cpu;

static uint64_t rng_state = 0x5eed1e55;
static uint64_t rnd(void)
{
    rng_state += 0x9e3779b97f4a7c15ULL;
    uint64_t z = rng_state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "import_bench: %s: %s\n", what, why);
    exit(1);
}

static const char *const first_names[] = {"Ada", "Alan", "Barbara", "Dennis", "Edsger",
                                          "Grace", "Hedy", "José", "Ken", "Linus",
                                          "Margaret", "Radia", "Søren", "Zoë", "Priya"};
static const char *const last_names[] = {"Lovelace", "Turing", "Liskov", "Ritchie", "Dijkstra",
                                         "Hopper", "Lamarr", "García", "Thompson", "Torvalds",
                                         "Hamilton", "Perlman", "Kierkegaard", "O'Brien", "Rao"};
static const char *const cities[] = {"London", "Paris", "Kraków", "Lagos", "São Paulo",
                                     "Portland, Oregon", "Tokyo", "Zürich", "Lima", "Seoul"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Writes the same rows as CSV and as JSON lines. */
static void write_inputs(const char *csv_path, const char *json_path, uint64_t rows)
{
    FILE *csv = fopen(csv_path, "w"), *json = fopen(json_path, "w");
    if (!csv || !json)
        die(csv_path, "cannot create");
    fputs("id,name,city,age,score\n", csv);
    for (uint64_t id = 1; id <= rows; id++) {
        uint64_t r = rnd();
        const char *first = first_names[r % COUNT(first_names)];
        const char *last = last_names[(r >> 8) % COUNT(last_names)];
        const char *city = cities[(r >> 16) % COUNT(cities)];
        unsigned age = 18 + (unsigned)((r >> 24) % 70);
        unsigned score = (unsigned)((r >> 32) % 10001);
        bool quote = strchr(city, ',') != NULL;
        fprintf(csv, "%llu,%s %s,%s%s%s,%u,%u.%02u\n", (unsigned long long)id, first, last,
                quote ? "\"" : "", city, quote ? "\"" : "", age, score / 100, score % 100);
        fprintf(json, "{\"id\":%llu,\"name\":\"%s %s\",\"city\":\"%s\",\"age\":%u,\"score\":%u.%02u}\n",
                (unsigned long long)id, first, last, city, age, score / 100, score % 100);
    }
    if (fclose(csv) || fclose(json))
        die(csv_path, "cannot write");
}

static uint64_t file_bytes(const char *path)
{
    struct stat st;
    if (stat(path, &st))
        die(path, "cannot stat");
    return (uint64_t)st.st_size;
}

static void create_db(const char *path)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    vmdb_schema *s;
    vmdb_table *t;
    if (vmdb_open(path, &o, &db) || vmdb_schema_parse(SCHEMA, &s) ||
        vmdb_table_create(db, "people", s, &t))
        die(path, vmdb_last_error()->message);
    vmdb_schema_free(s);
    vmdb_close(db);
}

static uint64_t count_records(const char *path)
{
    vmdb_db *db;
    vmdb_table *t;
    vmdb_table_info info;
    if (vmdb_open(path, NULL, &db) || vmdb_table_open(db, "people", NULL, &t) ||
        vmdb_table_stat(t, &info))
        die(path, vmdb_last_error()->message);
    vmdb_close(db);
    return info.records;
}

/* Runs the command with stdout to `out` (or /dev/null) and stderr to
 * `err`; returns the seconds from fork to exit, or dies if it failed.
 * last_cpu gets the CPU seconds the command used. */
static double run(char *const argv[], const char *out, const char *err)
{
    double start = bench_now();
    pid_t pid = fork();
    if (pid < 0)
        die("fork", "failed");
    if (pid == 0) {
        int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0)
            _exit(127);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid)
        die("wait4", "failed");
    double secs = bench_now() - start;
    last_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "import_bench: %s %s failed; its stderr:\n", argv[0], argv[1]);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "cat '%s' >&2", err);
        if (system(cmd) != 0)
            fprintf(stderr, "(cannot show %s)\n", err);
        exit(1);
    }
    return secs;
}

static uint64_t count_lines(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, "cannot open");
    uint64_t lines = 0;
    int c;
    while ((c = getc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    return lines;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t rows, uint64_t bytes, double *secs, double *cpu,
                   int runs)
{
    qsort(secs, (size_t)runs, sizeof *secs, cmp_double);
    qsort(cpu, (size_t)runs, sizeof *cpu, cmp_double);
    double median = secs[runs / 2];
    printf("%-32s %10.0f rows/s %7.1f MB/s %7.3f s  cpu %6.3f s  spread %3.0f%%\n", what,
           (double)rows / median, (double)bytes / median / 1e6, median, cpu[runs / 2],
           100 * (secs[runs - 1] - secs[0]) / median);
}

/* The readers alone: every record read and its fields counted. */
static double parse_csv(const char *path, uint64_t rows)
{
    double start = bench_now(), cpu_start = bench_cpu_now();
    FILE *in = fopen(path, "rb");
    csv_reader *r = in ? csv_reader_new(in, path) : NULL;
    if (!r)
        die(path, "cannot open");
    uint64_t records = 0, fields = 0;
    int rc;
    while ((rc = csv_read(r)) == 1) {
        records++;
        fields += csv_field_count(r);
    }
    if (rc < 0)
        die(path, csv_reader_error(r));
    csv_reader_free(r);
    fclose(in);
    if (records != rows + 1 || fields != 5 * records)
        die(path, "the reader miscounted");
    last_cpu = bench_cpu_now() - cpu_start;
    return bench_now() - start;
}

static double parse_json(const char *path, uint64_t rows)
{
    double start = bench_now(), cpu_start = bench_cpu_now();
    FILE *in = fopen(path, "rb");
    jsonl_reader *r = in ? jsonl_reader_new(in, path) : NULL;
    if (!r)
        die(path, "cannot open");
    uint64_t records = 0, fields = 0;
    int rc;
    while ((rc = jsonl_read(r)) == 1) {
        records++;
        fields += jsonl_member_count(r);
    }
    if (rc < 0)
        die(path, jsonl_reader_error(r));
    jsonl_reader_free(r);
    fclose(in);
    if (records != rows || fields != 5 * records)
        die(path, "the reader miscounted");
    last_cpu = bench_cpu_now() - cpu_start;
    return bench_now() - start;
}

int main(int argc, char **argv)
{
    const char *env_rows = getenv("VMDB_BENCH_ROWS");
    uint64_t rows = env_rows ? strtoull(env_rows, NULL, 10) : 1000000;
    const char *cli = getenv("VMDB_CLI") ? getenv("VMDB_CLI") : "build/vmdb";
    if (access(cli, X_OK))
        die(cli, "no such program (run from the project root, or set VMDB_CLI)");
    char dir[512];
    bool own_dir = argc < 2;
    if (own_dir) {
        if (bench_temp_dir(dir, sizeof dir, 100, "import-bench") < 0)
            return 1;
    } else {
        snprintf(dir, sizeof dir, "%s", argv[1]);
        if (mkdir(dir, 0700))
            die(dir, "cannot create (it must not exist)");
    }
    char csv[600], json[600], err[600], out[600], db[600];
    snprintf(csv, sizeof csv, "%s/people.csv", dir);
    snprintf(json, sizeof json, "%s/people.jsonl", dir);
    snprintf(err, sizeof err, "%s/stderr.txt", dir);
    snprintf(out, sizeof out, "%s/export.csv", dir);

    double t = bench_now();
    write_inputs(csv, json, rows);
    uint64_t csv_bytes = file_bytes(csv), json_bytes = file_bytes(json);
    printf("vmdb %s import benchmark: %llu rows of %s\n", vmdb_version_string(),
           (unsigned long long)rows, SCHEMA);
    printf("inputs      %s, %.1f MB; %s, %.1f MB (written in %.1f s)\n", csv,
           (double)csv_bytes / 1e6, json, (double)json_bytes / 1e6, bench_now() - t);
    printf("timing      median of %d runs, fork to exit; cpu = user + system seconds of the\n"
           "            command (median); MB = 10^6 B of input (of output for export)\n\n",
           RUNS);

    double secs[RUNS], cpu[RUNS];
    for (int i = 0; i < RUNS; i++) {
        secs[i] = parse_csv(csv, rows);
        cpu[i] = last_cpu;
    }
    report("csv reader alone (no database)", rows, csv_bytes, secs, cpu, RUNS);
    for (int i = 0; i < RUNS; i++) {
        secs[i] = parse_json(json, rows);
        cpu[i] = last_cpu;
    }
    report("json reader alone (no database)", rows, json_bytes, secs, cpu, RUNS);

    const char *inputs[2] = {csv, json};
    const char *names[2] = {"vmdb import, csv", "vmdb import, json lines"};
    uint64_t bytes[2] = {csv_bytes, json_bytes};
    for (int f = 0; f < 2; f++) {
        for (int i = 0; i < RUNS; i++) {
            snprintf(db, sizeof db, "%s/db-%d-%d", dir, f, i);
            create_db(db);
            char *args[] = {(char *)cli, "import", db, "people", (char *)inputs[f], NULL};
            secs[i] = run(args, NULL, err);
            cpu[i] = last_cpu;
            uint64_t got = count_records(db);
            if (got != rows) {
                fprintf(stderr, "import_bench: %s holds %llu records, not %llu\n", db,
                        (unsigned long long)got, (unsigned long long)rows);
                return 1;
            }
        }
        report(names[f], rows, bytes[f], secs, cpu, RUNS);
    }

    snprintf(db, sizeof db, "%s/db-0-0", dir);
    for (int i = 0; i < RUNS; i++) {
        char *args[] = {(char *)cli, "export", db, "people", NULL};
        secs[i] = run(args, out, err);
        cpu[i] = last_cpu;
    }
    if (count_lines(out) != rows + 1)
        die(out, "the export lacks rows");
    report("vmdb export, csv", rows, file_bytes(out), secs, cpu, RUNS);

    if (own_dir) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "import_bench: could not remove %s\n", dir);
    }
    return 0;
}
