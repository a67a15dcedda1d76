/* SPDX-License-Identifier: MIT */
/*
 * bench/map_bench.c - reading a file through vmdb_map versus read()/pread().
 *
 *   build/bench/map_bench [FILE]      (make bench)
 *
 * FILE must not exist: it is created, filled with pseudo-random bytes and
 * removed at the end. Without it the file goes into a fresh directory under
 * $TMPDIR (or /tmp). VMDB_BENCH_MB sets its size in MiB (default 1024).
 *
 * Every variant hashes every record it reads with XXH3_64bits, so all of
 * them do the same work per byte and differ only in how the bytes reach
 * the hash: in place through a map (zero copy), copied by pread() into a
 * buffer (the sane baseline), or copied by one read() syscall per record
 * (the naive baseline that MemBase's 9.4x / 3.8x claims were measured
 * against). The sums of the hashes must agree between variants that read
 * the same records; the run aborts if they do not.
 *
 * Sections:
 *   1. sequential scans of the whole file, 4 KiB and 64 B records, warm;
 *   2. random record reads, 64 B and 4 KiB, warm;
 *   3. random 64 B reads of anonymous memory with and without huge pages;
 *   4. sequential and random 4 KiB reads with the file evicted (cold);
 *   5. the 4 KiB scan and the 64 B random reads again, warm, with the page
 *      cache as pwrite() left it rather than as read-ahead builds it: the
 *      map's cost depends on which.
 *
 * Each map variant opens a fresh map and the clock runs from
 * vmdb_map_open() to vmdb_map_close(), so page faults, MAP_POPULATE and the
 * unmap are all paid for. Slow variants stop at a time budget and report
 * the rate over the part they did. Every variant runs REPEATS times and
 * the median run is reported, with the spread of the rates.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "vmdb.h"
#include "bench_util.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof *(a)))
#define KIB ((size_t)1024)
#define MIB (1024 * KIB)

/* Seconds a slow variant may run before it stops and reports its rate. */
#define BUDGET_S 1.5
/* A cold sequential scan is bounded by the disk; it gets longer so that
 * it normally finishes and its checksum can be verified. */
#define COLD_SEQ_BUDGET_S 10.0
/* Reads between two looks at the clock: rare enough to cost nothing,
 * frequent enough that a budget overshoots by little. */
#define CHECK_EVERY 64
#define RANDOM_SEED 0x5eed0f7a11ca75ull
/* Runs per variant; the median is reported. */
#define REPEATS 5

/* ---- process-wide state: the test file ---------------------------------- */

static char g_dir[PATH_MAX];  /* our mkdtemp directory, "" if none */
static char g_path[PATH_MAX]; /* the test file */
static bool g_created;        /* remove g_path at exit */
static int g_fd = -1;         /* read-write: fill, fdatasync, evict */
static uint64_t g_size;       /* bytes */

static void cleanup(void)
{
    if (g_fd >= 0)
        close(g_fd);
    if (g_created)
        unlink(g_path);
    if (g_dir[0])
        rmdir(g_dir);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("map_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1); /* cleanup() runs from atexit */
}

static void die_errno(const char *what)
{
    die("%s: %s", what, strerror(errno));
}

static void die_vmdb(const char *what)
{
    die("%s: %s", what, vmdb_last_error()->message);
}

/* A 1 GiB file must not outlive an interrupted run: remove it, then die of
 * the signal as if unhandled. unlink() and rmdir() are async-signal-safe. */
static void on_signal(int sig)
{
    if (g_created)
        unlink(g_path);
    if (g_dir[0])
        rmdir(g_dir);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_cleanup(void)
{
    atexit(cleanup);
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < COUNT(sigs); i++) {
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        if (sigaction(sigs[i], &sa, NULL) != 0)
            die_errno("sigaction");
    }
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void *xalloc(size_t len)
{
    /* Page-aligned, like a map, so neither side gets a misalignment tax. */
    void *p = aligned_alloc(4096, (len + 4095) / 4096 * 4096);
    if (!p)
        die("out of memory (%zu bytes)", len);
    return p;
}

/* pread() until len bytes are in: the kernel may return fewer. */
static void pread_full(int fd, void *dst, size_t len, uint64_t off)
{
    uint8_t *p = dst;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die_errno("pread");
        if (n == 0)
            die("pread: unexpected end of file at offset %llu", (unsigned long long)off);
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
}

/* ---- the test file ------------------------------------------------------ */

static uint64_t size_from_env(void)
{
    const char *s = getenv("VMDB_BENCH_MB");
    if (!s || !*s)
        return 1024 * (uint64_t)MIB;
    char *end;
    errno = 0;
    unsigned long long mb = strtoull(s, &end, 10);
    if (errno || *end || mb == 0 || mb > (1ull << 20))
        die("VMDB_BENCH_MB=%s: want a whole number of MiB, 1 to 1048576", s);
    return mb * MIB;
}

static void choose_path(int argc, char **argv)
{
    if (argc > 2)
        die("usage: map_bench [FILE]   (FILE must not exist; it is removed at the end)");
    if (argc == 2) {
        if (snprintf(g_path, sizeof g_path, "%s", argv[1]) >= (int)sizeof g_path)
            die("path too long: %s", argv[1]);
        return;
    }
    /* Room for "/data.bin" is kept in g_dir, so the file name fits too. */
    if (bench_temp_dir(g_dir, sizeof g_dir, 16, "map-bench") < 0)
        exit(1);
    if (snprintf(g_path, sizeof g_path, "%s/data.bin", g_dir) >= (int)sizeof g_path)
        die("path too long");
}

/* Writes g_size pseudo-random bytes (the same ones every time) in 1 MiB
 * pwrite()s and makes them durable, so that eviction later leaves nothing
 * dirty behind. */
static void write_content(void)
{
    uint64_t *chunk = xalloc(MIB);
    uint64_t state = RANDOM_SEED;
    for (uint64_t off = 0; off < g_size; off += MIB) {
        for (size_t i = 0; i < MIB / sizeof *chunk; i++)
            chunk[i] = splitmix64(&state);
        const uint8_t *p = (const uint8_t *)chunk;
        size_t left = MIB;
        while (left > 0) {
            ssize_t n = pwrite(g_fd, p, left, (off_t)(off + (MIB - left)));
            if (n < 0 && errno != EINTR)
                die_errno("pwrite");
            if (n > 0) {
                p += n;
                left -= (size_t)n;
            }
        }
    }
    free(chunk);
    if (fdatasync(g_fd) < 0)
        die_errno("fdatasync");
}

static void create_file(void)
{
    g_fd = open(g_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (g_fd < 0)
        die_errno(g_path);
    g_created = true;
    write_content();
}

/* Bytes of the file in the page cache, via mincore() on a throw-away map:
 * the evidence that an eviction worked. */
static uint64_t cached_bytes(void)
{
    vmdb_map *m;
    uint64_t bytes;
    if (vmdb_map_open(g_path, NULL, &m) != 0)
        die_vmdb("vmdb_map_open");
    if (vmdb_map_resident_bytes(m, &bytes) != 0)
        die_vmdb("vmdb_map_resident_bytes");
    vmdb_map_close(m);
    return bytes;
}

/* Drops the file from the page cache. DONTNEED skips dirty pages, hence
 * the fdatasync first; it also skips mapped pages, and no map is open. */
static void evict_file(void)
{
    if (fdatasync(g_fd) < 0)
        die_errno("fdatasync");
    int rc = posix_fadvise(g_fd, 0, 0, POSIX_FADV_DONTNEED);
    if (rc != 0)
        die("posix_fadvise(DONTNEED): %s", strerror(rc));
    uint64_t left = cached_bytes();
    if (left > g_size / 100)
        fprintf(stderr, "map_bench: warning: %llu MiB of the file still cached after eviction\n",
                (unsigned long long)(left / MIB));
}

static void read_whole_file(void)
{
    uint8_t *buf = xalloc(MIB);
    for (uint64_t off = 0; off < g_size; off += MIB)
        pread_full(g_fd, buf, MIB, off);
    free(buf);
}

/* Puts the file in the page cache the way a reader would find it: the
 * pages pwrite() left behind are dropped and the file is read once, so
 * the cache holds what read-ahead builds (large folios on recent kernels,
 * which a map can then use whole) rather than what the writes built. */
static void warm_file(void)
{
    evict_file();
    read_whole_file();
}

/* Warm runs that had to re-read part of the file first, since the last
 * table: reported under the table. */
static struct {
    int runs;
    uint64_t max_missing;
} g_rewarm;

/* A warm run must find every page cached, or its figure mixes in disk
 * reads. Memory pressure or a reclaim daemon (DAMON pageout, say, which
 * can drop an idle file's pages within seconds) may have evicted some
 * since the last run. */
static void ensure_warm(void)
{
    uint64_t missing = g_size - cached_bytes();
    if (missing == 0)
        return;
    g_rewarm.runs++;
    if (missing > g_rewarm.max_missing)
        g_rewarm.max_missing = missing;
    read_whole_file();
}

/* ---- readers: the ways of getting at the bytes ------------------------- */

enum role {
    ROLE_VMDB,  /* the thing measured: ratio columns are filled in */
    ROLE_SANE,  /* pread() into a buffer: what a careful program does */
    ROLE_NAIVE, /* one syscall per record */
    ROLE_OTHER, /* no baseline in its table */
};

typedef struct reader reader;

/* open() and close() are inside the timed region: mapping, populating and
 * unmapping are real costs of a map, as opening a descriptor and
 * allocating a buffer are of the baselines. get() returns a pointer to
 * the file bytes [off, off + len), valid until the next get(). */
typedef struct reader_ops {
    void (*open)(reader *r);
    const uint8_t *(*get)(reader *r, uint64_t off, size_t len);
    void (*close)(reader *r);
} reader_ops;

struct reader {
    const char *name;
    const reader_ops *ops;
    enum role role;
    size_t chunk;          /* bytes per get() in a sequential scan */
    vmdb_map_options opts; /* file maps: how to open */
    vmdb_map *map;         /* open file map, or a borrowed anonymous map */
    const uint8_t *base;   /* vmdb_map_ptr(map) */
    int fd;                /* baselines' own descriptor */
    uint64_t pos;          /* naive: where the descriptor's offset is */
    uint8_t *buf;          /* baselines: what the kernel copies into */
};

static void map_open(reader *r)
{
    if (vmdb_map_open(g_path, &r->opts, &r->map) != 0)
        die_vmdb("vmdb_map_open");
    if (vmdb_map_len(r->map) != g_size)
        die("%s: map of %llu bytes, file of %llu", r->name,
            (unsigned long long)vmdb_map_len(r->map), (unsigned long long)g_size);
    r->base = vmdb_map_ptr(r->map);
}

/* Zero copy: the record is processed where the page cache holds it. */
static const uint8_t *map_get(reader *r, uint64_t off, size_t len)
{
    (void)len;
    return r->base + off;
}

static void map_close(reader *r)
{
    vmdb_map_close(r->map);
    r->map = NULL;
}

/* A borrowed anonymous map: created and filled by the caller, untimed. */
static void borrowed_noop(reader *r)
{
    (void)r;
}

static void fd_open(reader *r)
{
    r->fd = open(g_path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        die_errno(g_path);
    r->pos = 0;
    r->buf = xalloc(r->chunk);
}

static void fd_close(reader *r)
{
    close(r->fd);
    r->fd = -1;
    free(r->buf);
    r->buf = NULL;
}

static const uint8_t *pread_get(reader *r, uint64_t off, size_t len)
{
    pread_full(r->fd, r->buf, len, off);
    return r->buf;
}

/* One read() per record, with an lseek() first unless the descriptor is
 * already there: a sequential scan costs one syscall per record and a
 * random read two, as in the straightforward code this stands for. A
 * short read is an error rather than a retry: this reader is meant to be
 * simple. */
static const uint8_t *naive_get(reader *r, uint64_t off, size_t len)
{
    if (off != r->pos && lseek(r->fd, (off_t)off, SEEK_SET) < 0)
        die_errno("lseek");
    ssize_t n = read(r->fd, r->buf, len);
    if (n != (ssize_t)len)
        die("read at %llu: %s", (unsigned long long)off, n < 0 ? strerror(errno) : "short read");
    r->pos = off + len;
    return r->buf;
}

static const reader_ops map_ops = {map_open, map_get, map_close};
static const reader_ops borrowed_ops = {borrowed_noop, map_get, borrowed_noop};
static const reader_ops pread_ops = {fd_open, pread_get, fd_close};
static const reader_ops naive_ops = {fd_open, naive_get, fd_close};

/* The map is read in 1 MiB windows only so that the budget check has
 * somewhere to go; the pointer arithmetic costs nothing. */
static reader map_reader(const char *name, unsigned flags, enum vmdb_advice advice,
                         enum vmdb_huge huge)
{
    return (reader){.name = name, .ops = &map_ops, .role = ROLE_VMDB, .chunk = MIB,
                    .opts = {.flags = flags, .advice = advice, .huge = huge}, .fd = -1};
}

static reader anon_reader(const char *name, vmdb_map *map)
{
    return (reader){.name = name, .ops = &borrowed_ops, .role = ROLE_OTHER, .chunk = MIB,
                    .map = map, .base = vmdb_map_ptr(map), .fd = -1};
}

/* chunk: bytes per pread(), a multiple of the record size. */
static reader pread_reader(const char *name, size_t chunk)
{
    return (reader){.name = name, .ops = &pread_ops, .role = ROLE_SANE, .chunk = chunk, .fd = -1};
}

static reader naive_reader(const char *name, size_t rec)
{
    return (reader){.name = name, .ops = &naive_ops, .role = ROLE_NAIVE, .chunk = rec, .fd = -1};
}

/* ---- workloads: the access patterns ------------------------------------ */

enum pattern { SEQUENTIAL, RANDOM };

typedef struct workload {
    enum pattern pattern;
    size_t rec;     /* record size, bytes */
    uint64_t nops;  /* records to read: the whole file for SEQUENTIAL */
    double budget;  /* seconds before a variant stops early */
} workload;

/* What a pass did: records hashed and the sum of their hashes. */
typedef struct tally {
    uint64_t ops;
    uint64_t sum;
} tally;

static uint64_t hash_records(const uint8_t *p, size_t len, size_t rec)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < len; i += rec)
        sum += XXH3_64bits(p + i, rec);
    return sum;
}

/* The whole file front to back in r->chunk pieces; chunks are multiples
 * of the record size and divide the file size. */
static tally run_sequential(reader *r, const workload *w, double deadline)
{
    tally t = {0, 0};
    unsigned gets = 0;
    for (uint64_t off = 0; off < g_size; off += r->chunk) {
        size_t len = g_size - off < r->chunk ? (size_t)(g_size - off) : r->chunk;
        t.sum += hash_records(r->ops->get(r, off, len), len, w->rec);
        t.ops += len / w->rec;
        if (++gets % CHECK_EVERY == 0 && bench_now() > deadline)
            break;
    }
    return t;
}

/* w->nops records at offsets drawn from a fixed-seed PRNG, so every
 * variant reads the same records in the same order. */
static tally run_random(reader *r, const workload *w, double deadline)
{
    tally t = {0, 0};
    uint64_t nrec = g_size / w->rec;
    uint64_t state = RANDOM_SEED;
    while (t.ops < w->nops) {
        uint64_t off = splitmix64(&state) % nrec * w->rec;
        t.sum += XXH3_64bits(r->ops->get(r, off, w->rec), w->rec);
        if (++t.ops % CHECK_EVERY == 0 && bench_now() > deadline)
            break;
    }
    return t;
}

/* ---- measuring ----------------------------------------------------------- */

typedef struct result {
    const char *name;
    enum role role;
    uint64_t ops;
    uint64_t bytes;
    double secs;
    uint64_t sum;
    bool complete;
    double spread;  /* (fastest - slowest) / median rate over the repeats */
    char note[160];
} result;

static const char *pages_name(enum vmdb_pages p)
{
    switch (p) {
    case VMDB_PAGES_THP:
        return "thp";
    case VMDB_PAGES_HUGETLB:
        return "hugetlb";
    default:
        return "normal";
    }
}

/* What the map says it got and what the kernel gave: .pages from
 * vmdb_map_stat() and vmdb_map_huge_bytes() (read from smaps, slow, so
 * this runs outside the timed region, after the pass has faulted pages
 * in). */
static void describe_map(const reader *r, char *note, size_t n)
{
    vmdb_map_info info;
    uint64_t huge;
    if (vmdb_map_stat(r->map, &info) != 0)
        die_vmdb("vmdb_map_stat");
    if (vmdb_map_huge_bytes(r->map, &huge) != 0)
        die_vmdb("vmdb_map_huge_bytes");
    snprintf(note, n, "pages=%s huge=%llu MiB", pages_name(info.pages),
             (unsigned long long)(huge / MIB));
}

/* Appends to a result's note, comma-separated. */
static void note_add(char *note, size_t n, const char *fmt, ...)
{
    size_t k = strlen(note);
    if (k + 2 >= n)
        return;
    if (k) {
        memcpy(note + k, ", ", 3);
        k += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note + k, n - k, fmt, ap);
    va_end(ap);
}

static result measure(reader *r, const workload *w)
{
    result res = {.name = r->name, .role = r->role};
    double t0 = bench_now();
    r->ops->open(r);
    double t_open = bench_now();
    tally t = (w->pattern == SEQUENTIAL ? run_sequential : run_random)(r, w, t0 + w->budget);
    double t1 = bench_now();
    if (r->map)
        describe_map(r, res.note, sizeof res.note);
    double t2 = bench_now();
    r->ops->close(r);
    double t3 = bench_now();

    res.secs = (t1 - t0) + (t3 - t2);
    res.ops = t.ops;
    res.bytes = t.ops * w->rec;
    res.sum = t.sum;
    res.complete = t.ops == w->nops;
    /* Where a map's time goes besides the reads: MAP_POPULATE work at
     * open, page-table teardown at close. */
    if (r->ops == &map_ops)
        note_add(res.note, sizeof res.note, "open %.0f + close %.0f ms", (t_open - t0) * 1e3,
                 (t3 - t2) * 1e3);
    if (!res.complete)
        note_add(res.note, sizeof res.note, "partial: %.1f%% of the ops",
                 100.0 * (double)t.ops / (double)w->nops);
    return res;
}

/* ---- reporting ----------------------------------------------------------- */

static double rate(const result *r)
{
    return (double)r->ops / r->secs;
}

static void fmt_count(char *buf, size_t n, double v)
{
    if (v >= 1e9)
        snprintf(buf, n, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, n, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, n, "%.1fk", v / 1e3);
    else
        snprintf(buf, n, "%.0f", v);
}

static void fmt_ratio(char *buf, size_t n, double num, double den)
{
    if (den > 0)
        snprintf(buf, n, "%.2fx", num / den);
    else
        snprintf(buf, n, "-");
}

/* Results that read every record must have the same sum: otherwise some
 * reader returned the wrong bytes and no figure can be trusted. Returns
 * the reference result (NULL if none read everything) and how many
 * agreed. */
static const result *check_sums(const char *what, const result *res, int n, int *agree)
{
    const result *ref = NULL;
    *agree = 0;
    for (int i = 0; i < n; i++) {
        if (!res[i].complete)
            continue;
        if (!ref)
            ref = &res[i];
        else if (res[i].sum != ref->sum)
            die("%s: checksum mismatch: %s gave %016llx, %s gave %016llx", what, ref->name,
                (unsigned long long)ref->sum, res[i].name, (unsigned long long)res[i].sum);
        ++*agree;
    }
    return ref;
}

static int by_rate(const void *a, const void *b)
{
    double x = rate(a), y = rate(b);
    return (x > y) - (x < y);
}

/* Runs a reader REPEATS times and keeps the median run: this is a small
 * VM with neighbours, and one unlucky run should not decide a ratio. A
 * cold run starts from an evicted file each time, and notes how much of
 * the file the run left cached: read-ahead may fetch far more than the
 * records asked for, and that is most of the cold story. */
static result measure_median(reader *r, const workload *w, bool cold)
{
    result runs[REPEATS];
    for (int i = 0; i < REPEATS; i++) {
        if (cold)
            evict_file();
        else if (r->ops != &borrowed_ops)
            ensure_warm();
        runs[i] = measure(r, w);
        if (cold)
            note_add(runs[i].note, sizeof runs[i].note, "cached after %llu MiB",
                     (unsigned long long)(cached_bytes() / MIB));
    }
    int agree;
    check_sums(r->name, runs, REPEATS, &agree);
    qsort(runs, REPEATS, sizeof *runs, by_rate);
    result med = runs[REPEATS / 2];
    med.spread = (rate(&runs[REPEATS - 1]) - rate(&runs[0])) / rate(&med);
    return med;
}

static void print_table(const char *title, const workload *w, const result *res, int n)
{
    double sane = 0, naive = 0;
    for (int i = 0; i < n; i++) {
        if (res[i].role == ROLE_SANE && rate(&res[i]) > sane)
            sane = rate(&res[i]);
        if (res[i].role == ROLE_NAIVE)
            naive = rate(&res[i]);
    }
    printf("\n== %s\n", title);
    printf("%llu %s records of %zu B, budget %.1f s per run, median of %d runs\n",
           (unsigned long long)w->nops, w->pattern == SEQUENTIAL ? "sequential" : "random",
           w->rec, w->budget, REPEATS);
    printf("%-28s %7s %8s %7s %7s %6s  %s\n", "variant", "MB/s", "rec/s", "x sane", "x naive",
           "spread", "notes");
    for (int i = 0; i < n; i++) {
        const result *r = &res[i];
        char recs[16], xs[16] = "", xn[16] = "";
        fmt_count(recs, sizeof recs, rate(r));
        if (r->role == ROLE_VMDB) {
            fmt_ratio(xs, sizeof xs, rate(r), sane);
            fmt_ratio(xn, sizeof xn, rate(r), naive);
        }
        printf("%-28s %7.0f %8s %7s %7s %5.0f%%  %s\n", r->name,
               (double)r->bytes / r->secs / 1e6, recs, xs, xn, r->spread * 100, r->note);
    }
    int agree;
    const result *ref = check_sums(title, res, n, &agree);
    if (ref && agree > 1)
        printf("checksum %016llx, identical for the %d variants that read every record\n",
               (unsigned long long)ref->sum, agree);
    else if (ref)
        printf("checksum %016llx; only %s read every record, nothing to compare it with\n",
               (unsigned long long)ref->sum, ref->name);
    else
        printf("no variant read every record: no checksum to compare\n");
    if (g_rewarm.runs)
        printf("page cache: before %d of the %d runs part of the file (at most %llu KiB) had "
               "been evicted and was read back in\n",
               g_rewarm.runs, n * REPEATS, (unsigned long long)(g_rewarm.max_missing / KIB));
    g_rewarm.runs = 0;
    g_rewarm.max_missing = 0;
    fflush(stdout);
}

/* Measures each reader over the workload, then prints the table. */
static void run_table(const char *title, const workload *w, reader *readers, int n, bool cold)
{
    result res[16];
    if (n > (int)(sizeof res / sizeof *res))
        die("too many variants");
    for (int i = 0; i < n; i++)
        res[i] = measure_median(&readers[i], w, cold);
    print_table(title, w, res, n);
}

/* ---- sections ------------------------------------------------------------- */

static workload sequential(size_t rec, double budget)
{
    return (workload){SEQUENTIAL, rec, g_size / rec, budget};
}

static workload random_ops(size_t rec, uint64_t nops, double budget)
{
    return (workload){RANDOM, rec, nops, budget};
}

static void section_sequential(size_t rec)
{
    char title[96];
    snprintf(title, sizeof title, "1. Sequential scan, %zu B records, warm page cache", rec);
    workload w = sequential(rec, BUDGET_S);
    reader readers[] = {
        map_reader("vmdb map", 0, VMDB_ADVICE_NORMAL, VMDB_HUGE_OFF),
        map_reader("vmdb map + POPULATE", VMDB_MAP_POPULATE, VMDB_ADVICE_NORMAL, VMDB_HUGE_OFF),
        map_reader("vmdb map + ADVICE_SEQUENTIAL", 0, VMDB_ADVICE_SEQUENTIAL, VMDB_HUGE_OFF),
        map_reader("vmdb map + HUGE_TRY", 0, VMDB_ADVICE_NORMAL, VMDB_HUGE_TRY),
        pread_reader("pread 64 KiB buffer", 64 * KIB),
        pread_reader("pread 1 MiB buffer", MIB),
        naive_reader("naive read() per record", rec),
    };
    run_table(title, &w, readers, COUNT(readers), false);
}

static void section_random(size_t rec, uint64_t nops)
{
    char title[96];
    snprintf(title, sizeof title, "2. Random reads, %zu B records, warm page cache", rec);
    workload w = random_ops(rec, nops, BUDGET_S);
    reader readers[] = {
        map_reader("vmdb map", 0, VMDB_ADVICE_NORMAL, VMDB_HUGE_OFF),
        map_reader("vmdb map + ADVICE_RANDOM", 0, VMDB_ADVICE_RANDOM, VMDB_HUGE_OFF),
        map_reader("vmdb map + POPULATE", VMDB_MAP_POPULATE, VMDB_ADVICE_NORMAL, VMDB_HUGE_OFF),
        map_reader("vmdb map + HUGE_TRY", 0, VMDB_ADVICE_NORMAL, VMDB_HUGE_TRY),
        pread_reader("pread one record", rec),
        naive_reader("naive lseek()+read()", rec),
    };
    run_table(title, &w, readers, COUNT(readers), false);
}

/* Anonymous memory isolates the TLB effect: no page cache, no file
 * faults, the same bytes at the same offsets. Creating and filling the
 * map is setup and stays outside the timing. */
static void section_anon_huge(void)
{
    static const struct {
        const char *name;
        enum vmdb_huge huge;
    } kinds[] = {
        {"anon map, HUGE_OFF", VMDB_HUGE_OFF},
        {"anon map, HUGE_TRY", VMDB_HUGE_TRY},
    };
    enum { N = sizeof kinds / sizeof *kinds };
    workload w = random_ops(64, 2000000, BUDGET_S);
    result res[N];
    for (int i = 0; i < N; i++) {
        vmdb_map_options o = {.len = g_size, .huge = kinds[i].huge};
        vmdb_map *m;
        if (vmdb_map_anon(&o, &m) != 0)
            die_vmdb("vmdb_map_anon");
        for (uint64_t off = 0; off < g_size; off += MIB)
            pread_full(g_fd, (uint8_t *)vmdb_map_ptr(m) + off, MIB, off);
        reader r = anon_reader(kinds[i].name, m);
        res[i] = measure_median(&r, &w, false);
        vmdb_map_close(m);
    }
    print_table("3. Huge pages: random 64 B reads of an anonymous copy of the file", &w, res, N);
    char x[16];
    fmt_ratio(x, sizeof x, rate(&res[1]), rate(&res[0]));
    printf("HUGE_TRY / HUGE_OFF: %s\n", x);
}

static void section_cold(void)
{
    workload seq = sequential(4 * KIB, COLD_SEQ_BUDGET_S);
    reader seq_readers[] = {
        map_reader("vmdb map", 0, VMDB_ADVICE_NORMAL, VMDB_HUGE_OFF),
        map_reader("vmdb map + ADVICE_SEQUENTIAL", 0, VMDB_ADVICE_SEQUENTIAL, VMDB_HUGE_OFF),
        pread_reader("pread 1 MiB buffer", MIB),
    };
    run_table("4a. Sequential scan, 4096 B records, cold (file evicted before each run)", &seq,
              seq_readers, COUNT(seq_readers), true);

    workload rnd = random_ops(4 * KIB, 500000, BUDGET_S);
    reader rnd_readers[] = {
        map_reader("vmdb map", 0, VMDB_ADVICE_NORMAL, VMDB_HUGE_OFF),
        map_reader("vmdb map + ADVICE_RANDOM", 0, VMDB_ADVICE_RANDOM, VMDB_HUGE_OFF),
        pread_reader("pread one record", 4 * KIB),
    };
    run_table("4b. Random reads, 4096 B records, cold (file evicted before each run)", &rnd,
              rnd_readers, COUNT(rnd_readers), true);
}

/* The warm figures depend on how the pages got into the page cache: read
 * and fault read-ahead build large folios (up to 2 MiB) that a map can
 * take whole, while pwrite() builds smaller ones that a map must take 4
 * KiB at a time. A file the program has just written is the second case,
 * so the main warm comparisons are repeated on it. */
static void section_write_cache(void)
{
    evict_file();
    write_content();
    workload seq = sequential(4 * KIB, BUDGET_S);
    reader seq_readers[] = {
        map_reader("vmdb map", 0, VMDB_ADVICE_NORMAL, VMDB_HUGE_OFF),
        map_reader("vmdb map + POPULATE", VMDB_MAP_POPULATE, VMDB_ADVICE_NORMAL, VMDB_HUGE_OFF),
        map_reader("vmdb map + HUGE_TRY", 0, VMDB_ADVICE_NORMAL, VMDB_HUGE_TRY),
        pread_reader("pread 1 MiB buffer", MIB),
        naive_reader("naive read() per record", 4 * KIB),
    };
    run_table("5a. Sequential scan, 4096 B records, warm, page cache built by pwrite()", &seq,
              seq_readers, COUNT(seq_readers), false);

    workload rnd = random_ops(64, 2000000, BUDGET_S);
    reader rnd_readers[] = {
        map_reader("vmdb map", 0, VMDB_ADVICE_NORMAL, VMDB_HUGE_OFF),
        map_reader("vmdb map + POPULATE", VMDB_MAP_POPULATE, VMDB_ADVICE_NORMAL, VMDB_HUGE_OFF),
        map_reader("vmdb map + HUGE_TRY", 0, VMDB_ADVICE_NORMAL, VMDB_HUGE_TRY),
        pread_reader("pread one record", 64),
        naive_reader("naive lseek()+read()", 64),
    };
    run_table("5b. Random reads, 64 B records, warm, page cache built by pwrite()", &rnd,
              rnd_readers, COUNT(rnd_readers), false);
}

/* ---- machine context ------------------------------------------------------ */

/* The first line of a small text file, without its newline; "?" if the
 * file cannot be read (a kernel without THP, say). */
static void read_line(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "re");
    if (!f || !fgets(buf, (int)n, f))
        snprintf(buf, n, "?");
    if (f)
        fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

static unsigned long long meminfo(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[256];
    unsigned long long v = 0;
    size_t klen = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            v = strtoull(line + klen + 1, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

/* The read-ahead window of the file's block device: it decides how much a
 * cold page fault or a sequential read() pulls in. A partition keeps its
 * queue settings in the parent disk's directory. */
static void read_ahead(char *buf, size_t n)
{
    struct stat st;
    char path[128];
    if (fstat(g_fd, &st) != 0)
        die_errno("fstat");
    snprintf(path, sizeof path, "/sys/dev/block/%u:%u/queue/read_ahead_kb", major(st.st_dev),
             minor(st.st_dev));
    read_line(path, buf, n);
    if (!strcmp(buf, "?")) {
        snprintf(path, sizeof path, "/sys/dev/block/%u:%u/../queue/read_ahead_kb",
                 major(st.st_dev), minor(st.st_dev));
        read_line(path, buf, n);
    }
}

static void print_context(double create_secs)
{
    struct utsname u;
    char thp[128], defrag[128], ra[32];
    if (uname(&u) != 0)
        die_errno("uname");
    read_line("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof thp);
    read_line("/sys/kernel/mm/transparent_hugepage/defrag", defrag, sizeof defrag);
    printf("vmdb %s map benchmark\n", vmdb_version_string());
    printf("kernel      %s %s %s, %ld CPUs, %llu MiB RAM\n", u.sysname, u.release, u.machine,
           sysconf(_SC_NPROCESSORS_ONLN), meminfo("MemTotal") / 1024);
    printf("page size   %zu B; THP enabled: %s; defrag: %s; hugetlb pages free: %llu\n",
           vmdb_page_size(), thp, defrag, meminfo("HugePages_Free"));
    read_ahead(ra, sizeof ra);
    printf("file        %s, %llu MiB, created in %.1f s; device read-ahead %s KiB\n", g_path,
           (unsigned long long)(g_size / MIB), create_secs, ra);
    printf("timing      CLOCK_MONOTONIC; map variants open a fresh map and the clock covers\n"
           "            open + reads + close; MB = 10^6 B; x sane = rate / fastest pread row;\n"
           "            x naive = rate / one-syscall-per-record row\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    g_size = size_from_env();
    install_cleanup();
    choose_path(argc, argv);
    double t0 = bench_now();
    create_file();
    print_context(bench_now() - t0);
    warm_file();

    section_sequential(4 * KIB);
    section_sequential(64);
    section_random(64, 2000000);
    section_random(4 * KIB, 500000);
    section_anon_huge();
    section_cold();
    section_write_cache();
    return 0;
}
