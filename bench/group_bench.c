/* SPDX-License-Identifier: MIT */
/*
 * bench/group_bench.c - durable commits from several threads of one
 * handle (make bench-group): how many commits one log flush serves, and
 * what that gives in commits/s.
 *
 * Each thread commits single-record GROUP transactions (durable when the
 * commit returns) on keys of its own, `VMDB_GROUP_COMMITS` each (default
 * 3,000), into a fresh database. The run is repeated for 1, 2 and 4
 * threads, each in a fresh directory, and prints commits/s, commits per
 * flush (vmdb_db_stat's commits / flushes), the ratio to one thread, and
 * the CPU time the process used: a group commit that waits for its
 * flush should leave the CPUs idle.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "vmdb/db.h"
#include "vmdb/schema.h"

struct run {
    vmdb_db *db;
    vmdb_table *table;
    int commits;
    long id;
};

static void *committer(void *arg)
{
    const struct run *r = arg;
    unsigned char record[128] = {0};
    for (int i = 0; i < r->commits; i++) {
        uint64_t key = (uint64_t)r->id * 1000000 + (uint64_t)(i % 1000);
        memcpy(record, &key, sizeof key);
        record[sizeof key] = (unsigned char)i;
        vmdb_txn *txn;
        if (vmdb_txn_begin(r->db, VMDB_DURABILITY_GROUP, &txn) ||
            vmdb_txn_put(txn, r->table, record, NULL) || vmdb_txn_commit(txn)) {
            fprintf(stderr, "group_bench: %s\n", vmdb_last_error()->message);
            exit(1);
        }
    }
    return NULL;
}

/* Commits/s with `threads` committers. */
static double run_threads(int threads, int commits, double one)
{
    char dir[256];
    if (bench_temp_dir(dir, sizeof dir, 0, "group") < 0)
        exit(1);
    vmdb_db_options o = VMDB_DB_OPTIONS_INIT;
    o.flags = VMDB_DB_CREATE;
    vmdb_db *db;
    vmdb_schema *s;
    vmdb_table *t;
    if (vmdb_open(dir, &o, &db) || vmdb_schema_parse("key:u64 key, value:bytes100", &s) ||
        vmdb_table_create(db, "kv", s, &t)) {
        fprintf(stderr, "group_bench: %s\n", vmdb_last_error()->message);
        exit(1);
    }
    vmdb_schema_free(s);
    pthread_t tid[8];
    struct run runs[8];
    double cpu0 = bench_cpu_now(), t0 = bench_now();
    for (int i = 0; i < threads; i++) {
        runs[i] = (struct run){db, t, commits, i};
        if (pthread_create(&tid[i], NULL, committer, &runs[i]) != 0) {
            fprintf(stderr, "group_bench: cannot start a thread\n");
            exit(1);
        }
    }
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    double wall = bench_now() - t0, cpu = bench_cpu_now() - cpu0;
    vmdb_db_info info;
    vmdb_db_stat(db, &info);
    double rate = threads * commits / wall;
    printf("%7d %12.1fk %16.2f %10.2fx %11.2f s %9.2f s\n", threads, rate / 1e3,
           info.flushes ? (double)info.commits / (double)info.flushes : 0.0,
           one > 0 ? rate / one : 1.0, cpu, wall);
    vmdb_close(db);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "group_bench: could not remove %s\n", dir);
    return rate;
}

int main(void)
{
    const char *env = getenv("VMDB_GROUP_COMMITS");
    int commits = env ? atoi(env) : 3000;
    if (commits < 1)
        commits = 3000;
    printf("GROUP commits of one record, %d per thread\n", commits);
    printf("%7s %13s %16s %11s %13s %11s\n", "threads", "commits/s", "commits/flush", "vs 1",
           "CPU", "wall");
    double one = run_threads(1, commits, 0);
    run_threads(2, commits, one);
    run_threads(4, commits, one);
    return 0;
}
