/* SPDX-License-Identifier: MIT */
/*
 * bench/recovery_bench.c - how fast an open recovers a log that a writer
 * left behind when it died (make bench-recovery).
 *
 * A child process creates a table of `keys` records (u64 key, 100-byte
 * value), writes `keys * passes` puts in one NONE transaction, and ends
 * with _exit, without closing: its log holds the transaction whole (the
 * log grows to fit it, up to its maximum of 1 GiB), and nothing of it
 * reached a checkpoint, so all of it is left to replay. The parent then times
 * vmdb_open, which replays the log, rebuilds the index of every table
 * the replay changed, and checkpoints. Two shapes:
 *
 *   log = table   1,000,000 keys written once: the rebuild of a 1M-record
 *                 index and the check of every slot weigh as much as the
 *                 replay itself
 *   log >> table  100,000 keys written 10 times: the same log bytes over a
 *                 table a tenth the size, so replay dominates
 *
 * Each shape runs `rounds` times (VMDB_RECOVERY_ROUNDS, default 3); the
 * figure is the median. GB/s = log bytes replayed / open time.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "vmdb/db.h"
#include "vmdb/schema.h"

#define VALUE_BYTES 100

static vmdb_db_options options(void)
{
    vmdb_db_options o = VMDB_DB_OPTIONS_INIT;
    o.flags = VMDB_DB_CREATE;
    o.wal_size = (uint64_t)1 << 30;
    return o;
}

static void die(const char *what)
{
    fprintf(stderr, "recovery_bench: %s: %s\n", what, vmdb_last_error()->message);
    _exit(1);
}

/* The writer that dies: never returns. */
static void write_and_die(const char *dir, uint64_t keys, uint64_t passes)
{
    vmdb_db_options o = options();
    vmdb_db *db;
    if (vmdb_open(dir, &o, &db))
        die("open");
    vmdb_schema *s;
    if (vmdb_schema_parse("key:u64 key, value:bytes100", &s))
        die("schema");
    vmdb_table_options to = VMDB_TABLE_OPTIONS_INIT;
    to.capacity = keys;
    vmdb_table *t;
    if (vmdb_table_create_with(db, "kv", s, &to, &t))
        die("create");
    unsigned char record[128] = {0};
    uint64_t total = keys * passes;
    vmdb_txn *txn;
    if (vmdb_txn_begin(db, VMDB_DURABILITY_NONE, &txn))
        die("begin");
    for (uint64_t j = 0; j < total; j++) {
        uint64_t key = j * 2654435761u % keys; /* every key, scattered */
        memcpy(record, &key, sizeof key);
        memset(record + sizeof key, (int)j, VALUE_BYTES);
        if (vmdb_txn_put(txn, t, record, NULL))
            die("put");
    }
    if (vmdb_txn_commit(txn))
        die("commit");
    _exit(0); /* dies with its log unreplayed */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run_shape(const char *name, uint64_t keys, uint64_t passes, int rounds)
{
    double seconds[16], mb = 0;
    uint64_t records = 0;
    bool rebuilt = false;
    for (int r = 0; r < rounds; r++) {
        char dir[256];
        if (bench_temp_dir(dir, sizeof dir, 0, "recovery") < 0)
            return -1;
        pid_t pid = fork();
        if (pid == 0)
            write_and_die(dir, keys, passes);
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "recovery_bench: the writer failed\n");
            return -1;
        }
        vmdb_db_options o = options();
        o.flags = 0;
        vmdb_db *db;
        double t0 = bench_now();
        if (vmdb_open(dir, &o, &db))
            die("recovering open");
        seconds[r] = bench_now() - t0;
        vmdb_recovery rep;
        vmdb_recovery_report(db, &rep);
        if (rep.records != keys * passes) {
            fprintf(stderr, "recovery_bench: replayed %llu records, expected %llu\n",
                    (unsigned long long)rep.records, (unsigned long long)(keys * passes));
            return -1;
        }
        mb = (double)rep.bytes / 1e6;
        records = rep.records;
        rebuilt = rep.index_rebuilt;
        vmdb_close(db);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "recovery_bench: could not remove %s\n", dir);
    }
    qsort(seconds, (size_t)rounds, sizeof *seconds, cmp_double);
    double median = seconds[rounds / 2];
    printf("%-14s %9llu %10llu %9.1f %9.3f %8.2f   %-3s  (min %.3f s, max %.3f s)\n", name,
           (unsigned long long)keys, (unsigned long long)records, mb, median, mb / 1e3 / median,
           rebuilt ? "yes" : "no", seconds[0], seconds[rounds - 1]);
    return 0;
}

int main(void)
{
    const char *env = getenv("VMDB_RECOVERY_ROUNDS");
    int rounds = env ? atoi(env) : 3;
    if (rounds < 1 || rounds > 16)
        rounds = 3;
    printf("recovery after a writer died: median of %d rounds\n", rounds);
    printf("%-14s %9s %10s %9s %9s %8s   %s\n", "shape", "keys", "records", "log MB",
           "open s", "GB/s", "index rebuilt");
    fflush(stdout);
    if (run_shape("log = table", 1000000, 1, rounds) < 0 ||
        run_shape("log >> table", 100000, 10, rounds) < 0)
        return 1;
    return 0;
}
