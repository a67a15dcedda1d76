/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/peers.c - vmdb beside its peers, the same workloads on each
 * store (peer.h) in the same run:
 *
 *   make bench-peers                       (build/bench/peers [DIR])
 *   VMDB_PEERS_N=1000000                   keys (default 1,000,000)
 *   VMDB_PEERS_ROUNDS=3                    rounds (default 3)
 *   VMDB_PEERS_STORES=vmdb,lmdb,...        which stores (default all)
 *   VMDB_PEERS_COMMITS=1000                durable commits per round
 *
 * Each round runs every store once, in an order that rotates from round
 * to round so that no store always runs first (on a cold machine) or last
 * (after the others filled the page cache). A store runs in a child
 * process of its own, in a fresh directory, so that its peak RSS is its
 * own and a crash is reported instead of ending the run. Workloads, in
 * order, each timed around the store's calls only:
 *
 *   fill, keys in order   keys 0..n-1 ascending, 1,000 per batch (a
 *                         store of its own, dropped after)
 *   fill, random keys     a shuffle of 0..n-1, 1,000 per batch
 *   random get            n gets of uniformly drawn keys
 *   random get, many      the same keys through the store's multi-key
 *                         read, 64 keys a call (stores that have one)
 *   random get, 2 threads n gets split between two threads
 *   random update         n/10 updates, 100 per batch
 *   YCSB A, B, C, F       n/2 operations each on keys drawn from a
 *                         scrambled Zipfian distribution (theta 0.99, as
 *                         YCSB's): A half reads, half updates; B 95% reads;
 *                         C reads only; F half reads, half read-modify-
 *                         writes; each update its own (non-durable) batch
 *   full scan             every record
 *   durable commit        single-record durable updates: p50, p99, max,
 *                         after the store settled (peer.h's settle: a
 *                         checkpoint, sync or flush of the batches before)
 *   durable, 4 threads    the same from 4 threads at once (commits/s),
 *                         where group commit pays
 *
 * No batch is durable except the durable commits'. Values are 100 bytes
 * made from the key and its version. Every read is checked: gets and the
 * scan sum a hash of what they read, and those sums must agree across
 * stores and rounds (the run fails otherwise), so a store cannot post a
 * fast figure by reading nothing. The table gives per store the median
 * over rounds with the spread ((max - min) / median), and vmdb / store:
 * the median of the per-round ratios. Disk is the bytes allocated to the
 * store's files after its close; RSS the child's peak. The row "raw msync
 * 4 KiB" is one page written and msynced in a mapped file: the floor for
 * a durable commit here.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../bench_util.h"
#include "peer.h"

static const peer_ops *const all_stores[] = {&peer_vmdb,   &peer_lmdb,  &peer_lmdb_writemap,
                                             &peer_sqlite, &peer_rocksdb, &peer_tkrzw,
                                             &peer_array};
#define MAX_STORES (sizeof all_stores / sizeof *all_stores)
#define MAX_ROUNDS 15

enum {
    FILL_ORDER,
    FILL_RANDOM,
    GET,
    GET_MANY,
    GET_2T,
    UPDATE,
    YCSB_A,
    YCSB_B,
    YCSB_C,
    YCSB_F,
    SCAN,
    DURABLE,
    DURABLE_4T,
    WORKLOADS
};
static const char *const workload_names[WORKLOADS] = {
    "fill, keys in order", "fill, random keys", "random get",  "random get, many",
    "random get, 2 threads", "random update", "YCSB A 50/50", "YCSB B 95/5",
    "YCSB C read-only", "YCSB F read-mod-write", "full scan", "durable commit",
    "durable, 4 threads"};

/* What a child reports for one store in one round. */
typedef struct result {
    int ok;
    double rate[WORKLOADS]; /* ops/s */
    double p50_us, p99_us, max_us;
    uint64_t get_sum, get_many_sum, get_2t_sum, ycsb_sum, scan_sum, scan_count;
    uint64_t disk_bytes, rss_bytes;
} result;

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void make_value(uint64_t key, uint64_t version, unsigned char *v)
{
    uint64_t s = mix(key * 2654435761u + version);
    for (int i = 0; i < PEER_VALUE_BYTES; i += 8) {
        s = mix(s);
        memcpy(v + i, &s, i + 8 <= PEER_VALUE_BYTES ? 8 : PEER_VALUE_BYTES - i);
    }
}

/* What a read contributes to the sums: order-free, so a hash store's
 * scan and an ordered store's agree. */
static uint64_t record_hash(uint64_t key, const unsigned char *v)
{
    uint64_t a, b;
    memcpy(&a, v, 8);
    memcpy(&b, v + PEER_VALUE_BYTES - 8, 8);
    return mix(key ^ a ^ (b << 1));
}

struct scan_sum {
    uint64_t sum, count;
};

static int add_record(void *ctx, uint64_t key, const void *value)
{
    struct scan_sum *s = ctx;
    s->sum += record_hash(key, value);
    s->count++;
    return 0;
}

static uint64_t dir_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0)
            total += S_ISDIR(st.st_mode) ? dir_bytes(path) : (uint64_t)st.st_blocks * 512;
    }
    closedir(d);
    return total;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(path);
            else
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Zipfian ranks over [0, n) with parameter theta, by the method YCSB uses
 * (Gray et al., "Quickly generating billion-record synthetic databases"),
 * then scrambled by a hash so that the hot keys are spread over the key
 * space rather than all at its start.
 */
typedef struct zipf {
    uint64_t n;
    double theta, alpha, zetan, eta;
} zipf;

static double zeta(uint64_t n, double theta)
{
    double sum = 0;
    for (uint64_t i = 1; i <= n; i++)
        sum += 1 / pow((double)i, theta);
    return sum;
}

static zipf zipf_make(uint64_t n, double theta)
{
    zipf z = {.n = n, .theta = theta, .alpha = 1 / (1 - theta), .zetan = zeta(n, theta)};
    z.eta = (1 - pow(2.0 / (double)n, 1 - theta)) / (1 - zeta(2, theta) / z.zetan);
    return z;
}

static uint64_t zipf_key(const zipf *z, uint64_t *state)
{
    *state = mix(*state);
    double u = (double)(*state >> 11) / 9007199254740992.0;
    double uz = u * z->zetan;
    uint64_t rank;
    if (uz < 1)
        rank = 0;
    else if (uz < 1 + pow(0.5, z->theta))
        rank = 1;
    else
        rank = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1, z->alpha));
    if (rank >= z->n)
        rank = z->n - 1;
    return mix(rank ^ 0x2c1f) % z->n;
}

typedef struct plan {
    uint64_t n, commits;
    int rounds;
    const peer_ops *stores[MAX_STORES];
    int nstores;
    char root[4096];
    zipf zipf;
} plan;

#define CHECK(call)                                                                                \
    do {                                                                                           \
        if ((call) < 0)                                                                            \
            return -1;                                                                             \
    } while (0)

/* Puts keys[from..to) in batches of `batch`, versions `version`. */
static int put_all(const peer_ops *o, peer *p, const uint64_t *keys, uint64_t count,
                   uint64_t batch, uint64_t version, bool in_order)
{
    unsigned char v[PEER_VALUE_BYTES];
    for (uint64_t i = 0; i < count; i += batch) {
        CHECK(o->begin(p, false, in_order));
        for (uint64_t j = i; j < i + batch && j < count; j++) {
            make_value(keys[j], version, v);
            CHECK(o->put(p, keys[j], v));
        }
        CHECK(o->commit(p));
    }
    return 0;
}

/* Work for one of several threads on its own attached handle. */
typedef struct thread_job {
    const plan *pl;
    const peer_ops *o;
    peer *p;
    int index, count;
    uint64_t sum;
    int rc;
} thread_job;

static void *random_gets(void *arg)
{
    thread_job *j = arg;
    uint64_t n = j->pl->n;
    unsigned char v[PEER_VALUE_BYTES];
    for (uint64_t i = (uint64_t)j->index; i < n && !j->rc; i += (uint64_t)j->count) {
        uint64_t key = mix(i ^ 0x6e7) % n;
        j->rc = j->o->get(j->p, key, v) ? -1 : 0;
        j->sum += record_hash(key, v);
    }
    return NULL;
}

static void *durable_commits(void *arg)
{
    thread_job *j = arg;
    uint64_t n = j->pl->n;
    unsigned char v[PEER_VALUE_BYTES];
    for (uint64_t i = (uint64_t)j->index; i < j->pl->commits && !j->rc; i += (uint64_t)j->count) {
        uint64_t key = mix(i ^ 0xd4e) % n;
        make_value(key, 3, v);
        j->rc = j->o->begin(j->p, true, false) || j->o->put(j->p, key, v) || j->o->commit(j->p)
                    ? -1
                    : 0;
    }
    return NULL;
}

/* Runs fn in `count` threads, each on a handle of its own; the seconds it
 * took, or -1. *sum gets the threads' sums added. */
static double run_threads(const plan *pl, const peer_ops *o, peer *p, int count,
                          void *(*fn)(void *), uint64_t *sum)
{
    thread_job jobs[8];
    pthread_t threads[8];
    for (int i = 0; i < count; i++) {
        jobs[i] = (thread_job){.pl = pl, .o = o, .index = i, .count = count};
        if (o->attach(p, &jobs[i].p) < 0)
            return -1;
    }
    double t = bench_now();
    for (int i = 0; i < count; i++)
        pthread_create(&threads[i], NULL, fn, &jobs[i]);
    int rc = 0;
    for (int i = 0; i < count; i++) {
        pthread_join(threads[i], NULL);
        rc |= jobs[i].rc;
        *sum += jobs[i].sum;
    }
    t = bench_now() - t;
    for (int i = 0; i < count; i++)
        o->detach(jobs[i].p);
    return rc ? -1 : t;
}

/* A YCSB workload: ops operations, reads_per_100 of them reads, the rest
 * updates (or read-modify-writes when rmw). Returns ops/s, or -1. */
static double ycsb(const plan *pl, const peer_ops *o, peer *p, int reads_per_100, bool rmw,
                   uint64_t seed, uint64_t version, uint64_t *sum)
{
    uint64_t ops = pl->n / 2, state = seed;
    unsigned char v[PEER_VALUE_BYTES];
    double t = bench_now();
    for (uint64_t i = 0; i < ops; i++) {
        uint64_t key = zipf_key(&pl->zipf, &state);
        bool read = mix(seed ^ i) % 100 < (uint64_t)reads_per_100;
        if (read || rmw) {
            if (o->get(p, key, v))
                return -1;
            *sum += record_hash(key, v);
        }
        if (!read) {
            if (rmw)
                v[0] ^= 1, v[PEER_VALUE_BYTES - 1] += (unsigned char)version;
            else
                make_value(key, version + i, v);
            if (o->begin(p, false, false) || o->put(p, key, v) || o->commit(p))
                return -1;
        }
    }
    return (double)ops / (bench_now() - t);
}

/* One store, one round, in the child. */
static int run_store(const plan *pl, const peer_ops *o, const char dir[4300], result *r)
{
    uint64_t n = pl->n;
    uint64_t *keys = malloc(n * sizeof *keys);
    if (!keys)
        return -1;
    unsigned char v[PEER_VALUE_BYTES];
    char sub[4400];
    peer *p;

    /* Fill in order, in a store of its own. */
    for (uint64_t i = 0; i < n; i++)
        keys[i] = i;
    snprintf(sub, sizeof sub, "%s/order", dir);
    mkdir(sub, 0755);
    CHECK(o->open(sub, n, &p));
    double t = bench_now();
    CHECK(put_all(o, p, keys, n, 1000, 0, true));
    r->rate[FILL_ORDER] = (double)n / (bench_now() - t);
    CHECK(o->close(p));
    remove_tree(sub);

    /* Fill in random order: a shuffle drawn from a fixed seed. */
    for (uint64_t i = n - 1; i > 0; i--) {
        uint64_t j = mix(i ^ 0x5eed) % (i + 1), k = keys[i];
        keys[i] = keys[j];
        keys[j] = k;
    }
    snprintf(sub, sizeof sub, "%s/random", dir);
    mkdir(sub, 0755);
    CHECK(o->open(sub, n, &p));
    t = bench_now();
    CHECK(put_all(o, p, keys, n, 1000, 0, false));
    r->rate[FILL_RANDOM] = (double)n / (bench_now() - t);

    /* Random gets. */
    for (uint64_t i = 0; i < n; i++)
        keys[i] = mix(i ^ 0x6e7) % n;
    uint64_t sum = 0;
    t = bench_now();
    for (uint64_t i = 0; i < n; i++) {
        int rc = o->get(p, keys[i], v);
        if (rc) {
            if (rc > 0)
                fprintf(stderr, "%s: key %llu, which the fill put, is missing\n", o->name,
                        (unsigned long long)keys[i]);
            return -1;
        }
        sum += record_hash(keys[i], v);
    }
    r->rate[GET] = (double)n / (bench_now() - t);
    r->get_sum = sum;

    /* The same keys, many at a time. */
    if (o->get_many) {
        enum { CHUNK = 1024 };
        static unsigned char values[CHUNK * PEER_VALUE_BYTES];
        sum = 0;
        t = bench_now();
        for (uint64_t i = 0; i < n; i += CHUNK) {
            size_t m = n - i < CHUNK ? (size_t)(n - i) : CHUNK;
            CHECK(o->get_many(p, keys + i, m, values));
            for (size_t j = 0; j < m; j++)
                sum += record_hash(keys[i + j], values + j * PEER_VALUE_BYTES);
        }
        r->rate[GET_MANY] = (double)n / (bench_now() - t);
        r->get_many_sum = sum;
    } else {
        r->get_many_sum = r->get_sum; /* nothing to compare */
    }

    /* The same gets from two threads. */
    uint64_t sum2 = 0;
    double secs = run_threads(pl, o, p, 2, random_gets, &sum2);
    if (secs < 0)
        return -1;
    r->rate[GET_2T] = (double)n / secs;
    r->get_2t_sum = sum2;

    /* Random updates, 100 per batch. */
    uint64_t updates = n / 10 ? n / 10 : 1;
    for (uint64_t i = 0; i < updates; i++)
        keys[i] = mix(i ^ 0x0bd) % n;
    t = bench_now();
    CHECK(put_all(o, p, keys, updates, 100, 1, false));
    r->rate[UPDATE] = (double)updates / (bench_now() - t);

    /* YCSB's core workloads. */
    const struct {
        int w, reads;
        bool rmw;
    } ycsbs[] = {{YCSB_A, 50, false}, {YCSB_B, 95, false}, {YCSB_C, 100, false},
                 {YCSB_F, 50, true}};
    for (size_t i = 0; i < sizeof ycsbs / sizeof *ycsbs; i++) {
        double rate = ycsb(pl, o, p, ycsbs[i].reads, ycsbs[i].rmw, 0x7c5b + i, 10 * (i + 1),
                           &r->ycsb_sum);
        if (rate < 0)
            return -1;
        r->rate[ycsbs[i].w] = rate;
    }

    /* Full scan. */
    struct scan_sum s = {0, 0};
    t = bench_now();
    CHECK(o->scan(p, add_record, &s));
    r->rate[SCAN] = (double)s.count / (bench_now() - t);
    r->scan_sum = s.sum;
    r->scan_count = s.count;

    /* Durable single-record commits, on a store that the batches before
     * left settled (peer.h). */
    CHECK(o->settle(p));
    double *lat = malloc(pl->commits * sizeof *lat);
    if (!lat)
        return -1;
    double total = 0;
    for (uint64_t i = 0; i < pl->commits; i++) {
        uint64_t key = mix(i ^ 0xd0e) % n;
        make_value(key, 2, v);
        t = bench_now();
        CHECK(o->begin(p, true, false));
        CHECK(o->put(p, key, v));
        CHECK(o->commit(p));
        lat[i] = bench_now() - t;
        total += lat[i];
    }
    r->rate[DURABLE] = (double)pl->commits / total;
    qsort(lat, pl->commits, sizeof *lat, cmp_double);
    r->p50_us = lat[pl->commits / 2] * 1e6;
    r->p99_us = lat[pl->commits * 99 / 100] * 1e6;
    r->max_us = lat[pl->commits - 1] * 1e6;
    free(lat);

    /* Durable commits from four threads. */
    CHECK(o->settle(p));
    uint64_t unused = 0;
    secs = run_threads(pl, o, p, 4, durable_commits, &unused);
    if (secs < 0)
        return -1;
    r->rate[DURABLE_4T] = (double)pl->commits / secs;

    CHECK(o->close(p));
    r->disk_bytes = dir_bytes(sub);
    free(keys);
    r->ok = 1;
    return 0;
}

/* Runs one store in a child; its result, with the child's peak RSS. */
static result run_child(const plan *pl, const peer_ops *o, int round)
{
    result r = {0};
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/%s-%d", pl->root, o->name, round);
    if (mkdir(dir, 0755) < 0) {
        perror(dir);
        return r;
    }
    int fds[2];
    if (pipe(fds) < 0)
        return r;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        result mine = {0};
        run_store(pl, o, dir, &mine);
        ssize_t w = write(fds[1], &mine, sizeof mine);
        _exit(w == (ssize_t)sizeof mine && mine.ok ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], &r, sizeof r);
    close(fds[0]);
    int status;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || got != (ssize_t)sizeof r ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "peers: %s failed in round %d\n", o->name, round + 1);
        r.ok = 0;
    }
    r.rss_bytes = (uint64_t)ru.ru_maxrss * 1024;
    remove_tree(dir);
    return r;
}

/* One page written and msynced in a mapped file, `count` times: p50 us. */
static double raw_msync_p50_us(const char *root, uint64_t count)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/msync", root);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    size_t len = 1 << 20;
    if (fd < 0 || ftruncate(fd, (off_t)len) < 0)
        return 0;
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return 0;
    double *lat = malloc(count * sizeof *lat);
    for (uint64_t i = 0; i < count; i++) {
        size_t off = (i % (len / 4096)) * 4096;
        double t = bench_now();
        memset(m + off, (int)i, 128);
        msync(m + off, 4096, MS_SYNC);
        lat[i] = bench_now() - t;
    }
    qsort(lat, count, sizeof *lat, cmp_double);
    double p50 = lat[count / 2] * 1e6;
    free(lat);
    munmap(m, len);
    unlink(path);
    return p50;
}

static uint64_t env_u64(const char *name, uint64_t def, uint64_t lo, uint64_t hi)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "peers: %s=%s: want a whole number from %llu to %llu\n", name, s,
                (unsigned long long)lo, (unsigned long long)hi);
        exit(2);
    }
    return v;
}

static int pick_stores(plan *pl)
{
    const char *want = getenv("VMDB_PEERS_STORES");
    for (size_t i = 0; i < MAX_STORES; i++) {
        const char *name = all_stores[i]->name;
        bool on = !want || !*want;
        for (const char *w = want; !on && w && *w;) {
            size_t len = strcspn(w, ",");
            on = len == strlen(name) && !strncmp(w, name, len);
            w += len + (w[len] == ',');
        }
        if (on)
            pl->stores[pl->nstores++] = all_stores[i];
    }
    if (!pl->nstores || pl->stores[0] != &peer_vmdb) {
        fprintf(stderr, "peers: VMDB_PEERS_STORES=%s: must name vmdb and stores among vmdb, "
                        "lmdb, lmdb-writemap, sqlite, rocksdb, tkrzw, array\n",
                want);
        return -1;
    }
    return 0;
}

static void print_rate(double v)
{
    if (v >= 1e6)
        printf(" %9.2fM", v / 1e6);
    else
        printf(" %9.1fk", v / 1e3);
}

int main(int argc, char **argv)
{
    static plan pl;
    static result res[MAX_ROUNDS][MAX_STORES];
    pl.n = env_u64("VMDB_PEERS_N", 1000000, 1000, 1000000000);
    pl.rounds = (int)env_u64("VMDB_PEERS_ROUNDS", 3, 1, MAX_ROUNDS);
    pl.commits = env_u64("VMDB_PEERS_COMMITS", 1000, 10, 10000000);
    if (pick_stores(&pl) < 0)
        return 2;
    pl.zipf = zipf_make(pl.n, 0.99);
    if (argc > 1) {
        snprintf(pl.root, sizeof pl.root, "%s/vmdb-peers-XXXXXX", argv[1]);
        if (!mkdtemp(pl.root)) {
            perror(pl.root);
            return 2;
        }
    } else if (bench_temp_dir(pl.root, sizeof pl.root, 64, "peers") < 0) {
        return 2;
    }

    printf("vmdb peers benchmark: %llu keys (u64), values of %d bytes, %d rounds, %llu durable "
           "commits per round\nfiles under %s\n",
           (unsigned long long)pl.n, PEER_VALUE_BYTES, pl.rounds,
           (unsigned long long)pl.commits, pl.root);
    for (int s = 0; s < pl.nstores; s++)
        printf("  %-14s %s\n", pl.stores[s]->name, pl.stores[s]->config());
    fflush(stdout);

    double msync_p50[MAX_ROUNDS];
    int failed = 0;
    for (int round = 0; round < pl.rounds; round++) {
        for (int k = 0; k < pl.nstores; k++) {
            int s = (k + round) % pl.nstores;
            res[round][s] = run_child(&pl, pl.stores[s], round);
            failed |= !res[round][s].ok;
        }
        msync_p50[round] = raw_msync_p50_us(pl.root, pl.commits);
        fprintf(stderr, "peers: round %d of %d done\n", round + 1, pl.rounds);
        fflush(stderr);
    }
    rmdir(pl.root);
    if (failed)
        return 1;

    /* Every store and round read the same values. */
    for (int round = 0; round < pl.rounds; round++)
        for (int s = 0; s < pl.nstores; s++) {
            const result *a = &res[0][0], *b = &res[round][s];
            if (a->get_sum != b->get_sum || b->get_many_sum != b->get_sum ||
                b->get_2t_sum != b->get_sum || a->ycsb_sum != b->ycsb_sum ||
                a->scan_sum != b->scan_sum ||
                b->scan_count != pl.n) {
                fprintf(stderr,
                        "peers: %s in round %d read other values than vmdb in round 1 (get sum "
                        "%016llx vs %016llx, scan sum %016llx vs %016llx, %llu records "
                        "scanned of %llu)\n",
                        pl.stores[s]->name, round + 1, (unsigned long long)b->get_sum,
                        (unsigned long long)a->get_sum, (unsigned long long)b->scan_sum,
                        (unsigned long long)a->scan_sum, (unsigned long long)b->scan_count,
                        (unsigned long long)pl.n);
                return 1;
            }
        }

    printf("\nops/s, median of %d rounds (spread); vmdb/x = median of the per-round ratios\n",
           pl.rounds);
    printf("%-21s", "workload");
    for (int s = 0; s < pl.nstores; s++)
        printf(" %10s %6s %6s", pl.stores[s]->name, "spread", s ? "vmdb/x" : "");
    printf("\n");
    for (int w = 0; w < WORKLOADS; w++) {
        printf("%-21s", workload_names[w]);
        for (int s = 0; s < pl.nstores; s++) {
            double v[MAX_ROUNDS], ratio[MAX_ROUNDS];
            double lo = 1e300, hi = 0;
            for (int round = 0; round < pl.rounds; round++) {
                v[round] = res[round][s].rate[w];
                ratio[round] = res[round][0].rate[w] / v[round];
                lo = v[round] < lo ? v[round] : lo;
                hi = v[round] > hi ? v[round] : hi;
            }
            double m = median(v, pl.rounds);
            if (m == 0) {
                printf(" %10s %6s %6s", "n/a", "", "");
                continue;
            }
            print_rate(m);
            printf(" %5.0f%%", m > 0 ? (hi - lo) / m * 100 : 0);
            if (s)
                printf(" %5.2fx", median(ratio, pl.rounds));
            else
                printf(" %6s", "");
        }
        printf("\n");
    }

    printf("\nper store, median of %d rounds\n%-14s %10s %10s %10s %10s %10s\n", pl.rounds,
           "store", "p50 us", "p99 us", "max us", "disk MiB", "RSS MiB");
    for (int s = 0; s < pl.nstores; s++) {
        double p50[MAX_ROUNDS], p99[MAX_ROUNDS], mx[MAX_ROUNDS], disk[MAX_ROUNDS],
            rss[MAX_ROUNDS];
        for (int round = 0; round < pl.rounds; round++) {
            const result *r = &res[round][s];
            p50[round] = r->p50_us;
            p99[round] = r->p99_us;
            mx[round] = r->max_us;
            disk[round] = (double)r->disk_bytes / (1 << 20);
            rss[round] = (double)r->rss_bytes / (1 << 20);
        }
        printf("%-14s %10.0f %10.0f %10.0f %10.1f %10.1f\n", pl.stores[s]->name,
               median(p50, pl.rounds), median(p99, pl.rounds), median(mx, pl.rounds),
               median(disk, pl.rounds), median(rss, pl.rounds));
    }
    printf("%-14s %10.0f   (one 4 KiB page written and msynced in a mapped file)\n",
           "raw msync", median(msync_p50, pl.rounds));
    printf("records + keys: %.1f MiB; checksums agree across stores and rounds (get %016llx, "
           "scan %016llx)\n",
           (double)pl.n * (8 + PEER_VALUE_BYTES) / (1 << 20), (unsigned long long)res[0][0].get_sum,
           (unsigned long long)res[0][0].scan_sum);
    return 0;
}
