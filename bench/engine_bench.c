/* SPDX-License-Identifier: MIT */
/*
 * bench/engine_bench.c - the record store's own figures (issue 4): fills,
 * random gets and updates, a full scan and durable single-record commits
 * over 1,000,000 records of 100 bytes with u64 keys.
 *
 *   make bench-engine            (or build/bench/engine_bench [DIR])
 *   VMDB_BENCH_RECORDS=200000    fewer records for a quick look
 *   VMDB_BENCH_NO_VERIFY=1       reads skip their checksums
 *
 * Each phase is timed with CLOCK_MONOTONIC around the library calls only;
 * keys come from a fixed-seed generator, so runs are comparable. Durable
 * commits report the median and p99 latency and, per commit, the bytes
 * that reached the disks during the phase (/proc/diskstats) and the bytes
 * of page cache the process dirtied (/proc/self/io write_bytes, charged
 * when a page is dirtied and written back later, at the next checkpoint).
 * Every phase checks what it read, so a broken engine cannot post a fast
 * number.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmdb.h"
#include "vmdb/db.h"
#include "vmdb/schema.h"
#include "bench_util.h"

struct record {
    uint64_t id;
    unsigned char payload[92];
};
/* The schema rounds records to 8 bytes: 100 becomes 104. */
#define RECORD_BYTES 104

static uint64_t rng_state = 0x1234567;
static uint64_t rnd(void)
{
    rng_state += 0x9e3779b97f4a7c15ULL;
    uint64_t z = rng_state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void fill_record(unsigned char *rec, uint64_t id, uint64_t version)
{
    memset(rec, 0, RECORD_BYTES);
    memcpy(rec, &id, 8);
    for (int i = 0; i < 92; i += 8) {
        uint64_t v = id * 31 + version + (uint64_t)i;
        memcpy(rec + 8 + i, &v, i + 8 <= 92 ? 8 : 92 - i);
    }
}

static void die(const char *what)
{
    fprintf(stderr, "engine_bench: %s: %s\n", what, vmdb_last_error()->message);
    exit(1);
}

static uint64_t write_bytes(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (!f)
        return 0;
    char line[128];
    unsigned long long v = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "write_bytes: %llu", &v) == 1)
            break;
    fclose(f);
    return v;
}

/* A whole disk, not a partition (which would count twice) nor a loop or
 * RAM device. */
static bool whole_disk(const char *name)
{
    if (!strncmp(name, "loop", 4) || !strncmp(name, "ram", 3) || !strncmp(name, "zram", 4))
        return false;
    if (!strncmp(name, "nvme", 4) || !strncmp(name, "mmcblk", 6))
        return strchr(name, 'p') == NULL;
    size_t n = strlen(name);
    return n > 0 && !(name[n - 1] >= '0' && name[n - 1] <= '9');
}

/* Bytes written to the disks so far (/proc/diskstats field 10: sectors of
 * 512 B): what really reached them, whoever caused it, as opposed to
 * write_bytes, which charges a process for each page it dirties when it
 * dirties it. */
static uint64_t disk_bytes(void)
{
    FILE *f = fopen("/proc/diskstats", "r");
    if (!f)
        return 0;
    char line[512], name[64];
    unsigned long long sectors = 0, v[7];
    while (fgets(line, sizeof line, f)) {
        unsigned major, minor;
        if (sscanf(line, "%u %u %63s %llu %llu %llu %llu %llu %llu %llu", &major, &minor, name,
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) == 10 &&
            whole_disk(name))
            sectors += v[6];
    }
    fclose(f);
    return sectors * 512;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *phase, uint64_t ops, double secs, const char *note)
{
    printf("%-34s %10.0f ops/s  %8.3f s  %s\n", phase, (double)ops / secs, secs, note);
}

static vmdb_table *fresh_table(const char *dir, const char *name, vmdb_db **db)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 256 << 20};
    /* What the reads' checksums cost: the same runs trusting the file. */
    if (getenv("VMDB_BENCH_NO_VERIFY"))
        o.flags |= VMDB_DB_NO_VERIFY;
    if (vmdb_open(path, &o, db))
        die(path);
    vmdb_schema *s;
    if (vmdb_schema_parse("id:u64 key, payload:bytes92", &s))
        die("schema");
    vmdb_table *t;
    if (vmdb_table_create(*db, "bench", s, &t))
        die("create table");
    vmdb_schema_free(s);
    return t;
}

/* Inserts keys[0..n) in batches of `batch` per transaction. */
static double fill(vmdb_db *db, vmdb_table *t, const uint64_t *keys, uint64_t n, uint64_t batch)
{
    unsigned char rec[RECORD_BYTES];
    double t0 = bench_now();
    for (uint64_t i = 0; i < n; i += batch) {
        vmdb_txn *txn;
        if (vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn))
            die("begin");
        for (uint64_t j = i; j < i + batch && j < n; j++) {
            fill_record(rec, keys[j], 0);
            if (vmdb_txn_put(txn, t, rec, NULL))
                die("put");
        }
        if (vmdb_txn_commit(txn))
            die("commit");
    }
    return bench_now() - t0;
}

int main(int argc, char **argv)
{
    uint64_t n = 1000000;
    const char *env = getenv("VMDB_BENCH_RECORDS");
    if (env)
        n = strtoull(env, NULL, 0);
    char dir[512];
    if (argc > 1) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
        mkdir(dir, 0755);
    } else {
        if (bench_temp_dir(dir, sizeof dir, 64, "engine-bench") < 0)
            return 1;
    }
    printf("vmdb %s engine benchmark: %llu records of %d bytes (u64 key), in %s\n",
           vmdb_version_string(), (unsigned long long)n, RECORD_BYTES, dir);
    printf("%-34s %16s  %10s\n", "phase", "rate", "time");

    uint64_t *keys = calloc(n ? n : 1, sizeof *keys);
    if (!keys) {
        fprintf(stderr, "engine_bench: out of memory for %llu keys\n", (unsigned long long)n);
        return 1;
    }
    for (uint64_t i = 0; i < n; i++)
        keys[i] = i;

    vmdb_db *db;
    vmdb_table *t = fresh_table(dir, "ordered", &db);
    double secs = fill(db, t, keys, n, 1000);
    report("fill in order (1000 per txn)", n, secs, "durability none");
    vmdb_close(db);

    for (uint64_t i = n; i > 1; i--) { /* Fisher-Yates */
        uint64_t j = rnd() % i, tmp = keys[i - 1];
        keys[i - 1] = keys[j];
        keys[j] = tmp;
    }
    t = fresh_table(dir, "random", &db);
    secs = fill(db, t, keys, n, 1000);
    report("fill random (1000 per txn)", n, secs, "durability none");

    unsigned char rec[RECORD_BYTES];
    uint64_t lookups = n;
    double t0 = bench_now();
    uint64_t sum = 0;
    for (uint64_t i = 0; i < lookups; i++) {
        uint64_t key = rnd() % n;
        if (vmdb_table_get(t, &key, sizeof key, rec, NULL))
            die("get");
        uint64_t got;
        memcpy(&got, rec, 8);
        sum += got ^ key; /* 0 when every record is the right one */
    }
    secs = bench_now() - t0;
    if (sum != 0) {
        fprintf(stderr, "engine_bench: a get returned the wrong record\n");
        return 1;
    }
    report("random get", lookups, secs, "copy of the record, checked");

    /* The same gets, ten to a read transaction: its begin and validate
     * are what a consistent view costs on top of the reads. */
    t0 = bench_now();
    for (uint64_t i = 0; i < lookups; i += 10) {
        vmdb_read r;
        uint64_t first = rng_state;
        if (vmdb_read_begin(db, 0, &r))
            die("read begin");
        do {
            rng_state = first;
            for (uint64_t j = 0; j < 10; j++) {
                uint64_t key = rnd() % n;
                if (vmdb_table_get(t, &key, sizeof key, rec, NULL))
                    die("get");
                uint64_t got;
                memcpy(&got, rec, 8);
                sum += got ^ key;
            }
        } while (vmdb_read_validate(&r) == VMDB_ERETRY);
        vmdb_read_end(&r);
    }
    secs = bench_now() - t0;
    if (sum != 0) {
        fprintf(stderr, "engine_bench: a get returned the wrong record\n");
        return 1;
    }
    report("random get, 10 per read txn", lookups, secs, "vmdb_read_begin/validate/end");

    uint64_t updates = n / 10;
    t0 = bench_now();
    for (uint64_t i = 0; i < updates; i++) {
        vmdb_txn *txn;
        uint64_t key = rnd() % n;
        fill_record(rec, key, i + 1);
        if (vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn) || vmdb_txn_update(txn, t, rec) ||
            vmdb_txn_commit(txn))
            die("update");
    }
    secs = bench_now() - t0;
    report("random update (1 per txn)", updates, secs, "durability none");

    t0 = bench_now();
    for (uint64_t i = 0; i < n; i += 1000) {
        vmdb_txn *txn;
        if (vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn))
            die("begin");
        for (uint64_t j = 0; j < 1000; j++) {
            uint64_t key = rnd() % n;
            fill_record(rec, key, i + j + 7);
            if (vmdb_txn_update(txn, t, rec))
                die("update");
        }
        if (vmdb_txn_commit(txn))
            die("commit");
    }
    secs = bench_now() - t0;
    report("random update (1000 per txn)", n, secs, "durability none");

    vmdb_table_cursor c;
    vmdb_table_cursor_init(&c, t);
    uint64_t rid, seen = 0;
    t0 = bench_now();
    while (vmdb_table_cursor_next(&c, &rid, rec) == 0)
        seen++;
    secs = bench_now() - t0;
    if (seen != n) {
        fprintf(stderr, "engine_bench: the scan saw %llu records, not %llu\n",
                (unsigned long long)seen, (unsigned long long)n);
        return 1;
    }
    char note[128];
    snprintf(note, sizeof note, "%.2f GB/s of records", (double)n * RECORD_BYTES / secs / 1e9);
    report("full scan (cursor, copies)", n, secs, note);

    vmdb_read r;
    t0 = bench_now();
    if (vmdb_read_begin(db, 0, &r))
        die("read begin");
    do {
        vmdb_table_cursor_init(&c, t);
        seen = 0;
        while (vmdb_table_cursor_next(&c, &rid, rec) == 0)
            seen++;
    } while (vmdb_read_validate(&r) == VMDB_ERETRY);
    vmdb_read_end(&r);
    secs = bench_now() - t0;
    if (seen != n) {
        fprintf(stderr, "engine_bench: the scan saw %llu records, not %llu\n",
                (unsigned long long)seen, (unsigned long long)n);
        return 1;
    }
    snprintf(note, sizeof note, "%.2f GB/s of records", (double)n * RECORD_BYTES / secs / 1e9);
    report("full scan in a read txn", n, secs, note);

    if (vmdb_checkpoint(db))
        die("checkpoint");
    uint64_t commits = 2000;
    double *lat = malloc(commits * sizeof *lat);
    if (!lat)
        return 1;
    uint64_t wb0 = write_bytes(), disk0 = disk_bytes();
    t0 = bench_now();
    for (uint64_t i = 0; i < commits; i++) {
        vmdb_txn *txn;
        uint64_t key = rnd() % n;
        fill_record(rec, key, i + 99);
        double c0 = bench_now();
        if (vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn) || vmdb_txn_update(txn, t, rec) ||
            vmdb_txn_commit(txn))
            die("durable commit");
        lat[i] = bench_now() - c0;
    }
    secs = bench_now() - t0;
    uint64_t wb = write_bytes() - wb0, disk = disk_bytes() - disk0;
    qsort(lat, commits, sizeof *lat, cmp_double);
    snprintf(note, sizeof note,
             "p50 %.0f us, p99 %.0f us; per commit %.1f KiB to disk, %.1f KiB dirtied",
             lat[commits / 2] * 1e6, lat[commits * 99 / 100] * 1e6,
             (double)disk / (double)commits / 1024, (double)wb / (double)commits / 1024);
    report("durable commit (1 record, sync)", commits, secs, note);
    free(lat);
    vmdb_close(db);
    free(keys);
    if (argc <= 1) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "engine_bench: could not remove %s\n", dir);
    }
    return 0;
}
