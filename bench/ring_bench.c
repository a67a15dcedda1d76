/* SPDX-License-Identifier: MIT */
/*
 * bench/ring_bench.c - moving messages from one thread to another through
 * vmdb's slot ring and mirrored byte ring, against a mutex ring and a
 * lock-free ring that copies at the boundary.
 *
 *   build/bench/ring_bench            (make bench-ring; under a minute)
 *
 * The file rings go into a fresh directory under $TMPDIR (or /tmp), which
 * is removed at the end, also after Ctrl-C.
 *
 * Contenders, all with the same capacity in bytes:
 *
 *   vmdb slotring zero-copy  vmdb_slotring_write_ptr/advance_write and
 *                            read_ptr/advance_read, one message per slot;
 *                            slot_count = capacity / stride
 *   vmdb slotring write/read the copying vmdb_slotring_write/read
 *   vmdb ring memfd/file     vmdb_ring_new / vmdb_ring_open(CREATE): each
 *                            message framed by a 4-byte length prefix,
 *                            written in place into write_span and read in
 *                            place from read_span. "per msg": one
 *                            commit and one consume per message, as the
 *                            other contenders publish; "batched": up to
 *                            BATCH messages per commit but no more than a
 *                            quarter of the ring (at least one), and one
 *                            consume for everything a read_span showed
 *   mutex+condvar ring       the textbook bounded buffer: a pthread mutex,
 *                            two condition variables, frames copied in and
 *                            out (in two pieces when they wrap). The
 *                            baseline of the "x mutex" column
 *   boundary-copy SPSC ring  the same lock-free protocol as vmdb's ring
 *                            (free-running positions, release/acquire, the
 *                            other side's position loaded on every
 *                            message) over one plain mapping: a frame that
 *                            straddles the end is built in a staging
 *                            buffer and copied in two pieces, and copied
 *                            out in two pieces before it is checked. What
 *                            the mirror buys is the difference to the
 *                            vmdb ring "per msg" row
 *
 * Every producer builds each message the same way, in place where the
 * ring allows it and in a local buffer otherwise: a copy of a fixed
 * pseudo-random template with three stamped words (the sequence number at
 * the start, functions of it in the middle and at the end). Every consumer
 * checks every message where it can read it (in place, or after its copy
 * out): the length, the sequence number in order, the two other stamps
 * (a torn or stale message fails them), and one word of every 64 bytes
 * against the template, which pulls every cache line of the payload to the
 * consumer's core. A failed check aborts the run, so a ring that loses,
 * reorders or tears messages cannot post a figure.
 *
 * Throughput: a producer and a consumer thread, pinned to two CPUs when
 * the system allows it, spin (with a pause instruction) while the ring is
 * full or empty. The producer sends for RUN_S seconds, then says how many
 * it sent; a run is timed from the moment both threads are at the start
 * line to the consumer's check of the last message. All rings of a table
 * are open at once, each gets a short warm-up run, and then every
 * contender runs once per round for REPEATS rounds, so that a drift of the
 * machine (a neighbour, the host moving a vCPU) reaches them all alike.
 * Each row is the median round, spread is (fastest - slowest) / median,
 * and "x mutex" is the median over the rounds of the ratio to the mutex
 * ring's run of the same round. GB/s counts payload bytes (10^9 B), not
 * frames or slots. Each table also says how much CPU other processes and
 * the hypervisor took while it ran, and the round trip of a cache line
 * between the two CPUs before each round: two spinning threads on a small
 * VM feel every neighbour, and the round trip shows where the host had
 * put the two vCPUs, which moves every figure of a round.
 *
 * Single thread: one message written and read back, over and over, through
 * each ring: the cost of the calls and copies without a second core. The
 * last table times each write+read on its own and splits them by whether
 * the frame straddled the end of the byte ring; the clock on the VM this
 * was written on steps by about 10 ns, so those figures are means of the
 * middle half of the samples rather than medians.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "vmdb.h"
#include "bench_util.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof *(a)))
#define KIB ((size_t)1024)
#define MIB (1024 * KIB)
#define CACHE_LINE 64

/* Runs per row; the median is reported. */
#define REPEATS 5
/* Seconds the producer sends in a timed run, and in the warm-up run that
 * faults the ring's pages in and settles the caches first. */
#define RUN_S 0.2
#define WARMUP_S 0.05
/* Messages between two looks at the clock by the producer. */
#define CHECK_EVERY 256
/* Bytes of the length prefix of a frame in a byte ring. */
#define LEN_PREFIX 4
/* Most messages a batched producer puts under one commit. A batch is also
 * kept to a quarter of the ring, so that the consumer can work on one
 * batch while the producer fills the next instead of the two taking turns
 * over the whole ring. */
#define BATCH 32
/* The largest payload, bytes. */
#define MAX_MSG (4 * KIB)
/* Stamps: the middle and end words of message `seq` are seq ^ K_MID and
 * seq * K_END, so a message with parts of two others fails the check. */
#define K_MID 0x9e3779b97f4a7c15ull
#define K_END 0xbf58476d1ce4e5b9ull
/* Write+read operations per single-thread run. */
#define SINGLE_OPS_SMALL 200000
#define SINGLE_OPS_LARGE 40000

/* ---- process-wide state ------------------------------------------------- */

static char g_dir[PATH_MAX];       /* our mkdtemp directory, "" if none */
/* One file name per contender ("ring-<i>"), whether it uses it or not. */
#define MAX_CONTENDERS 8
static char g_path[MAX_CONTENDERS][PATH_MAX];
static int g_cpu[2] = {-1, -1};    /* producer's and consumer's CPU, or -1 */
static char g_pin_note[160];       /* how the threads are placed */
static _Alignas(CACHE_LINE) uint8_t g_template[MAX_MSG];

static void cleanup(void)
{
    for (int i = 0; i < MAX_CONTENDERS; i++)
        unlink(g_path[i]);
    if (g_dir[0])
        rmdir(g_dir);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ring_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1); /* cleanup() runs from atexit, whichever thread failed */
}

static void die_errno(const char *what)
{
    die("%s: %s", what, strerror(errno));
}

/* vmdb's error context is per thread: this must run on the thread whose
 * call failed, which it does everywhere below. */
static void die_vmdb(const char *what)
{
    die("%s: %s", what, vmdb_last_error()->message);
}

/* The paths are empty strings until the directory exists; unlink("")
 * fails harmlessly. unlink() and rmdir() are async-signal-safe. */
static void on_signal(int sig)
{
    for (int i = 0; i < MAX_CONTENDERS; i++)
        unlink(g_path[i]);
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

static void make_dir(void)
{
    /* Room for "/ring-<i>" is kept, so the file names fit too. */
    if (bench_temp_dir(g_dir, sizeof g_dir, 16, "ring-bench") < 0)
        exit(1);
    for (int i = 0; i < MAX_CONTENDERS; i++)
        if (snprintf(g_path[i], sizeof g_path[i], "%s/ring-%d", g_dir, i) >=
            (int)sizeof g_path[i])
            die("path too long");
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
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
    void *p = aligned_alloc(4096, (len + 4095) / 4096 * 4096);
    if (!p)
        die("out of memory (%zu bytes)", len);
    memset(p, 0, len);
    return p;
}

static inline uint64_t ld64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void st64(void *p, uint64_t v)
{
    memcpy(p, &v, sizeof v);
}

static inline uint32_t ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void st32(void *p, uint32_t v)
{
    memcpy(p, &v, sizeof v);
}

static inline uint64_t load_acquire(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store_release(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place and returns its median. */
static double median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- messages -------------------------------------------------------------- */

/* The middle stamp's offset: 16 past a multiple of 64, so it never falls
 * on a sampled word (8 past a multiple of 64). Messages are >= 64 bytes. */
static inline size_t mid_off(size_t len)
{
    return 16 + ((len / 2) & ~(size_t)63);
}

/* The sum of the template's words at the offsets check_msg samples: one
 * word in every 64 bytes, never the first or the last word. */
static uint64_t sample_sum(const uint8_t *p, size_t len)
{
    uint64_t s = 0;
    for (size_t off = 8; off + 16 <= len; off += 64)
        s += ld64(p + off);
    return s;
}

/* What every producer does per message, into a contiguous destination. */
static inline void build_msg(uint8_t *dst, size_t len, uint64_t seq)
{
    memcpy(dst, g_template, len);
    st64(dst, seq);
    st64(dst + mid_off(len), seq ^ K_MID);
    st64(dst + len - 8, seq * K_END);
}

/* ---- runs: what the two threads share ----------------------------------- */

/* What a contender needs to know to build its ring. */
typedef struct ring_case {
    size_t cap; /* bytes */
    size_t msg; /* payload bytes */
} ring_case;

typedef struct run run;
typedef struct contender contender;

struct contender {
    const char *name;
    bool baseline;    /* the row the "x mutex" ratios divide by */
    bool byte_ring;   /* frames can straddle the end */
    bool batched;     /* several messages per commit and per consume */
    const char *how;  /* for the notes: how messages get in and out */
    /* Builds the ring for a case, in a file at `path` if it wants one, and
     * describes it in `note`; close removes the file. */
    void *(*open)(const ring_case *cs, const char *path, char *note, size_t n);
    void (*close)(void *ring, const char *path);
    /* Before every run, with no thread using the ring. */
    void (*prepare)(void *ring);
    void (*produce)(run *r);
    void (*consume)(run *r);
    /* Single thread: writes message `seq` and reads it back; says whether
     * its frame straddled the end of the ring. */
    bool (*single)(run *r, uint64_t seq);
};

struct run {
    const contender *c;
    void *ring;          /* the contender's state */
    size_t msg_len;      /* payload bytes */
    size_t frame;        /* bytes per message in a byte ring */
    uint64_t sample_sum; /* sample_sum() of the template at msg_len */
    double secs;         /* how long the producer sends */
    uint8_t *pbuf;       /* producer's local message buffer */
    uint8_t *cbuf;       /* consumer's local message buffer */

    _Alignas(CACHE_LINE) int ready; /* threads at the start line */
    _Alignas(CACHE_LINE) uint64_t stop_total; /* messages sent; UINT64_MAX
                                                 while the producer sends */
    /* The producer's results. */
    _Alignas(CACHE_LINE) double t0;  /* start line, seconds */
    uint64_t sent;       /* messages */
    uint64_t straddled;  /* frames that crossed the end of a byte ring */
    uint64_t commits;    /* publications of the write position */
    /* The consumer's results. */
    _Alignas(CACHE_LINE) double t1;  /* last message checked, seconds */
    uint64_t received;   /* messages */
    uint64_t consumes;   /* publications of the read position */
};

/* A check failed: nothing this run measured can be trusted. */
__attribute__((noinline, cold, format(printf, 3, 4))) static void
bad_msg(const run *r, uint64_t seq, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    die("%s, %zu B messages: message %llu is wrong: %s", r->c->name, r->msg_len,
        (unsigned long long)seq, what);
}

/* What every consumer does per message, where it can read it. */
static inline void check_msg(const run *r, const uint8_t *p, size_t len, uint64_t seq)
{
    if (len != r->msg_len)
        bad_msg(r, seq, "length %zu, %zu expected", len, r->msg_len);
    if (ld64(p) != seq)
        bad_msg(r, seq, "it carries sequence number %llu", (unsigned long long)ld64(p));
    if (ld64(p + mid_off(len)) != (seq ^ K_MID) || ld64(p + len - 8) != seq * K_END)
        bad_msg(r, seq, "torn: its middle or end belongs to another message");
    if (sample_sum(p, len) != r->sample_sum)
        bad_msg(r, seq, "its content differs from what was written");
}

/* Both threads wait here for each other; the producer's clock starts when
 * both are there. Returns the producer's deadline. */
static double start_line(run *r, bool producer)
{
    __atomic_add_fetch(&r->ready, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&r->ready, __ATOMIC_ACQUIRE) < 2)
        cpu_relax();
    if (!producer)
        return 0;
    r->t0 = bench_now();
    return r->t0 + r->secs;
}

/* The producer looks at the clock every CHECK_EVERY messages. */
static inline bool time_up(uint64_t seq, uint64_t *next_check, double deadline)
{
    if (seq < *next_check)
        return false;
    *next_check = seq + CHECK_EVERY;
    return bench_now() >= deadline;
}

/* After the last message is published: the consumer stops when it has
 * checked this many. */
static void producer_done(run *r, uint64_t sent)
{
    r->sent = sent;
    __atomic_store_n(&r->stop_total, sent, __ATOMIC_RELEASE);
}

/* Called by a consumer that found the ring empty. */
static inline bool all_received(const run *r, uint64_t received)
{
    return __atomic_load_n(&r->stop_total, __ATOMIC_ACQUIRE) == received;
}

static void consumer_done(run *r, uint64_t received)
{
    r->t1 = bench_now();
    r->received = received;
}

/* ---- contenders ----------------------------------------------------------- */

/* ---- vmdb slot ring ------------------------------------------------------- */

static const char *fs_name(const char *dir)
{
    struct statfs s;
    if (statfs(dir, &s) != 0)
        return "?";
    switch ((unsigned long)s.f_type) {
    case 0xEF53:
        return "ext4";
    case 0x01021994:
        return "tmpfs";
    case 0x58465342:
        return "xfs";
    case 0x9123683E:
        return "btrfs";
    default:
        return "another file system";
    }
}

static void *slot_open(const ring_case *cs, const char *path, char *note, size_t n)
{
    /* The stride the header documents: an 8-byte slot head, then the
     * message, rounded up to 8. */
    size_t stride = (8 + cs->msg + 7) / 8 * 8;
    vmdb_slotring_options o = VMDB_SLOTRING_OPTIONS_INIT;
    o.flags = VMDB_SLOTRING_CREATE | VMDB_SLOTRING_EXCL;
    o.slot_size = (uint32_t)cs->msg;
    o.slot_count = cs->cap / stride;
    vmdb_slotring *ring;
    if (vmdb_slotring_open(path, &o, &ring) != 0)
        die_vmdb("vmdb_slotring_open");
    if (vmdb_slotring_stride(ring) != stride)
        die("slot ring stride is %zu bytes, the bench assumed %zu", vmdb_slotring_stride(ring),
            stride);
    snprintf(note, n, "%llu slots of %zu B", (unsigned long long)o.slot_count, stride);
    return ring;
}

static void slot_close(void *ring, const char *path)
{
    vmdb_slotring_close(ring);
    unlink(path);
}

static void slot_zc_produce(run *r)
{
    vmdb_slotring *ring = r->ring;
    double deadline = start_line(r, true);
    uint64_t seq = 0, next_check = 0;
    for (; !time_up(seq, &next_check, deadline); seq++) {
        void *p;
        int rc;
        while ((rc = vmdb_slotring_write_ptr(ring, &p)) == VMDB_EFULL)
            cpu_relax();
        if (rc < 0)
            die_vmdb("vmdb_slotring_write_ptr");
        build_msg(p, r->msg_len, seq);
        if (vmdb_slotring_advance_write(ring, r->msg_len) < 0)
            die_vmdb("vmdb_slotring_advance_write");
    }
    r->commits = seq;
    producer_done(r, seq);
}

static void slot_zc_consume(run *r)
{
    vmdb_slotring *ring = r->ring;
    start_line(r, false);
    uint64_t seq = 0;
    for (;;) {
        const void *p;
        size_t len;
        int rc = vmdb_slotring_read_ptr(ring, &p, &len);
        if (rc == VMDB_EEMPTY) {
            if (all_received(r, seq))
                break;
            cpu_relax();
            continue;
        }
        if (rc < 0)
            die_vmdb("vmdb_slotring_read_ptr");
        check_msg(r, p, len, seq);
        if (vmdb_slotring_advance_read(ring) < 0)
            die_vmdb("vmdb_slotring_advance_read");
        seq++;
    }
    r->consumes = seq;
    consumer_done(r, seq);
}

static bool slot_zc_single(run *r, uint64_t seq)
{
    vmdb_slotring *ring = r->ring;
    void *w;
    if (vmdb_slotring_write_ptr(ring, &w) < 0)
        die_vmdb("vmdb_slotring_write_ptr");
    build_msg(w, r->msg_len, seq);
    if (vmdb_slotring_advance_write(ring, r->msg_len) < 0)
        die_vmdb("vmdb_slotring_advance_write");
    const void *p;
    size_t len;
    if (vmdb_slotring_read_ptr(ring, &p, &len) < 0)
        die_vmdb("vmdb_slotring_read_ptr");
    check_msg(r, p, len, seq);
    if (vmdb_slotring_advance_read(ring) < 0)
        die_vmdb("vmdb_slotring_advance_read");
    return false;
}

static void slot_copy_produce(run *r)
{
    vmdb_slotring *ring = r->ring;
    double deadline = start_line(r, true);
    uint64_t seq = 0, next_check = 0;
    for (; !time_up(seq, &next_check, deadline); seq++) {
        build_msg(r->pbuf, r->msg_len, seq);
        int rc;
        while ((rc = vmdb_slotring_write(ring, r->pbuf, r->msg_len)) == VMDB_EFULL)
            cpu_relax();
        if (rc < 0)
            die_vmdb("vmdb_slotring_write");
    }
    r->commits = seq;
    producer_done(r, seq);
}

static void slot_copy_consume(run *r)
{
    vmdb_slotring *ring = r->ring;
    start_line(r, false);
    uint64_t seq = 0;
    for (;;) {
        size_t len;
        int rc = vmdb_slotring_read(ring, r->cbuf, MAX_MSG, &len);
        if (rc == VMDB_EEMPTY) {
            if (all_received(r, seq))
                break;
            cpu_relax();
            continue;
        }
        if (rc < 0)
            die_vmdb("vmdb_slotring_read");
        check_msg(r, r->cbuf, len, seq);
        seq++;
    }
    r->consumes = seq;
    consumer_done(r, seq);
}

static bool slot_copy_single(run *r, uint64_t seq)
{
    vmdb_slotring *ring = r->ring;
    build_msg(r->pbuf, r->msg_len, seq);
    if (vmdb_slotring_write(ring, r->pbuf, r->msg_len) < 0)
        die_vmdb("vmdb_slotring_write");
    size_t len;
    if (vmdb_slotring_read(ring, r->cbuf, MAX_MSG, &len) < 0)
        die_vmdb("vmdb_slotring_read");
    check_msg(r, r->cbuf, len, seq);
    return false;
}

/* ---- vmdb mirrored byte ring ------------------------------------------- */

typedef struct vring {
    vmdb_ring *ring;
    uint64_t cap; /* bytes */
    bool file;
    uint64_t pos; /* single thread: the write position, bytes */
} vring;

static void *vring_open_common(const ring_case *cs, const char *path, char *note, size_t n)
{
    vring *v = calloc(1, sizeof *v);
    if (!v)
        die("out of memory");
    vmdb_ring_options o = VMDB_RING_OPTIONS_INIT;
    o.cap = cs->cap;
    v->file = path != NULL;
    if (path) {
        o.flags = VMDB_RING_CREATE | VMDB_RING_EXCL;
        if (vmdb_ring_open(path, &o, &v->ring) != 0)
            die_vmdb("vmdb_ring_open");
    } else if (vmdb_ring_new(&o, &v->ring) != 0) {
        die_vmdb("vmdb_ring_new");
    }
    v->cap = vmdb_ring_cap(v->ring);
    if (v->cap != cs->cap)
        die("vmdb ring of %llu bytes, %zu asked", (unsigned long long)v->cap, cs->cap);
    snprintf(note, n, "%s", path ? "file" : "memfd");
    return v;
}

static void *vring_open_mem(const ring_case *cs, const char *path, char *note, size_t n)
{
    (void)path;
    return vring_open_common(cs, NULL, note, n);
}

static void *vring_open_file(const ring_case *cs, const char *path, char *note, size_t n)
{
    return vring_open_common(cs, path, note, n);
}

static void vring_close(void *ring, const char *path)
{
    vring *v = ring;
    vmdb_ring_close(v->ring);
    if (v->file)
        unlink(path);
    free(v);
}

static void vring_prepare(void *ring)
{
    vring *v = ring;
    v->pos = vmdb_ring_head(v->ring);
}

static inline bool straddles(uint64_t pos, uint64_t cap, size_t frame)
{
    return pos % cap + frame > cap;
}

/* One message per commit: the write span is taken afresh each time. */
static void vring_produce(run *r)
{
    vring *v = r->ring;
    vmdb_ring *ring = v->ring;
    const size_t frame = r->frame;
    uint64_t pos = vmdb_ring_head(ring), straddled = 0;
    double deadline = start_line(r, true);
    uint64_t seq = 0, next_check = 0;
    for (; !time_up(seq, &next_check, deadline); seq++) {
        size_t span;
        uint8_t *p;
        while ((p = vmdb_ring_write_span(ring, &span)), span < frame)
            cpu_relax();
        st32(p, (uint32_t)r->msg_len);
        build_msg(p + LEN_PREFIX, r->msg_len, seq);
        straddled += straddles(pos, v->cap, frame);
        pos += frame;
        if (vmdb_ring_commit(ring, frame) < 0)
            die_vmdb("vmdb_ring_commit");
    }
    r->straddled = straddled;
    r->commits = seq;
    producer_done(r, seq);
}

static size_t batch_for(uint64_t cap, size_t frame)
{
    size_t n = (size_t)(cap / 4 / frame);
    return n < 1 ? 1 : n > BATCH ? BATCH : n;
}

/* Up to batch_for() messages into one write span, one commit for all of
 * them. */
static void vring_batch_produce(run *r)
{
    vring *v = r->ring;
    vmdb_ring *ring = v->ring;
    const size_t frame = r->frame, batch = batch_for(v->cap, frame);
    uint64_t pos = vmdb_ring_head(ring), straddled = 0, commits = 0;
    double deadline = start_line(r, true);
    uint64_t seq = 0, next_check = 0;
    while (!time_up(seq, &next_check, deadline)) {
        size_t span;
        uint8_t *p = vmdb_ring_write_span(ring, &span);
        if (span < frame) {
            cpu_relax();
            continue;
        }
        size_t used = 0;
        for (size_t k = 0; k < batch && span - used >= frame; k++, seq++) {
            st32(p + used, (uint32_t)r->msg_len);
            build_msg(p + used + LEN_PREFIX, r->msg_len, seq);
            straddled += straddles(pos, v->cap, frame);
            pos += frame;
            used += frame;
        }
        if (vmdb_ring_commit(ring, used) < 0)
            die_vmdb("vmdb_ring_commit");
        commits++;
    }
    r->straddled = straddled;
    r->commits = commits;
    producer_done(r, seq);
}

/* The frame at the start of a read span; dies on a partial one, which a
 * producer that commits whole frames never leaves. */
static inline const uint8_t *frame_at(const run *r, const uint8_t *p, size_t have, uint64_t seq,
                                      size_t *len)
{
    if (have < LEN_PREFIX)
        bad_msg(r, seq, "only %zu bytes readable, less than a length prefix", have);
    *len = ld32(p);
    if (have - LEN_PREFIX < *len)
        bad_msg(r, seq, "a frame of %zu bytes, only %zu readable", *len, have - LEN_PREFIX);
    return p + LEN_PREFIX;
}

static void vring_consume(run *r)
{
    vmdb_ring *ring = ((vring *)r->ring)->ring;
    start_line(r, false);
    uint64_t seq = 0;
    for (;;) {
        size_t have, len;
        const uint8_t *p = vmdb_ring_read_span(ring, &have);
        if (have == 0) {
            if (all_received(r, seq))
                break;
            cpu_relax();
            continue;
        }
        const uint8_t *msg = frame_at(r, p, have, seq, &len);
        check_msg(r, msg, len, seq);
        if (vmdb_ring_consume(ring, LEN_PREFIX + len) < 0)
            die_vmdb("vmdb_ring_consume");
        seq++;
    }
    r->consumes = seq;
    consumer_done(r, seq);
}

/* Every frame the read span shows, then one consume for all of them. */
static void vring_batch_consume(run *r)
{
    vmdb_ring *ring = ((vring *)r->ring)->ring;
    start_line(r, false);
    uint64_t seq = 0, consumes = 0;
    for (;;) {
        size_t have, len;
        const uint8_t *p = vmdb_ring_read_span(ring, &have);
        if (have == 0) {
            if (all_received(r, seq))
                break;
            cpu_relax();
            continue;
        }
        size_t off = 0;
        while (off < have) {
            const uint8_t *msg = frame_at(r, p + off, have - off, seq, &len);
            check_msg(r, msg, len, seq);
            off += LEN_PREFIX + len;
            seq++;
        }
        if (vmdb_ring_consume(ring, off) < 0)
            die_vmdb("vmdb_ring_consume");
        consumes++;
    }
    r->consumes = consumes;
    consumer_done(r, seq);
}

static bool vring_single(run *r, uint64_t seq)
{
    vring *v = r->ring;
    size_t span, have, len;
    uint8_t *w = vmdb_ring_write_span(v->ring, &span);
    if (span < r->frame)
        die("vmdb ring: write span of %zu bytes in an empty ring", span);
    st32(w, (uint32_t)r->msg_len);
    build_msg(w + LEN_PREFIX, r->msg_len, seq);
    if (vmdb_ring_commit(v->ring, r->frame) < 0)
        die_vmdb("vmdb_ring_commit");
    const uint8_t *p = vmdb_ring_read_span(v->ring, &have);
    const uint8_t *msg = frame_at(r, p, have, seq, &len);
    check_msg(r, msg, len, seq);
    if (vmdb_ring_consume(v->ring, LEN_PREFIX + len) < 0)
        die_vmdb("vmdb_ring_consume");
    bool s = straddles(v->pos, v->cap, r->frame);
    v->pos += r->frame;
    return s;
}

/* ---- the baseline: a mutex and two condition variables -------------------- */

/* The bounded buffer of any textbook: frames copied in and out under the
 * lock, in two pieces when they wrap; the producer waits on not_full, the
 * consumer on not_empty, and each signals the other after every message. */
typedef struct mring {
    pthread_mutex_t mu;
    pthread_cond_t not_full;
    pthread_cond_t not_empty;
    uint8_t *data;
    uint64_t cap;  /* bytes */
    uint64_t head; /* bytes ever written */
    uint64_t tail; /* bytes ever read */
    bool closed;   /* the producer has sent its last message */
} mring;

static void *mring_open(const ring_case *cs, const char *path, char *note, size_t n)
{
    (void)path;
    mring *m = calloc(1, sizeof *m);
    if (!m)
        die("out of memory");
    if (pthread_mutex_init(&m->mu, NULL) || pthread_cond_init(&m->not_full, NULL) ||
        pthread_cond_init(&m->not_empty, NULL))
        die("pthread mutex or condvar init failed");
    m->cap = cs->cap;
    m->data = xalloc(cs->cap);
    snprintf(note, n, "malloc");
    return m;
}

static void mring_close(void *ring, const char *path)
{
    (void)path;
    mring *m = ring;
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->not_full);
    pthread_cond_destroy(&m->not_empty);
    free(m->data);
    free(m);
}

static void mring_prepare(void *ring)
{
    ((mring *)ring)->closed = false;
}

static void mring_copy_in(mring *m, uint64_t pos, const void *src, size_t len)
{
    size_t off = (size_t)(pos % m->cap), first = len < m->cap - off ? len : m->cap - off;
    memcpy(m->data + off, src, first);
    memcpy(m->data, (const uint8_t *)src + first, len - first);
}

static void mring_copy_out(const mring *m, uint64_t pos, void *dst, size_t len)
{
    size_t off = (size_t)(pos % m->cap), first = len < m->cap - off ? len : m->cap - off;
    memcpy(dst, m->data + off, first);
    memcpy((uint8_t *)dst + first, m->data, len - first);
}

/* Returns whether the frame wrapped. */
static bool mring_put(mring *m, const uint8_t *msg, size_t len)
{
    size_t frame = LEN_PREFIX + len;
    uint32_t prefix = (uint32_t)len;
    pthread_mutex_lock(&m->mu);
    while (m->cap - (m->head - m->tail) < frame)
        pthread_cond_wait(&m->not_full, &m->mu);
    bool s = straddles(m->head, m->cap, frame);
    mring_copy_in(m, m->head, &prefix, LEN_PREFIX);
    mring_copy_in(m, m->head + LEN_PREFIX, msg, len);
    m->head += frame;
    pthread_cond_signal(&m->not_empty);
    pthread_mutex_unlock(&m->mu);
    return s;
}

/* Copies the next message into dst (MAX_MSG bytes); false once the
 * producer is done and everything was read. */
static bool mring_get(mring *m, const run *r, uint64_t seq, uint8_t *dst, size_t *len)
{
    pthread_mutex_lock(&m->mu);
    while (m->head == m->tail && !m->closed)
        pthread_cond_wait(&m->not_empty, &m->mu);
    if (m->head == m->tail) {
        pthread_mutex_unlock(&m->mu);
        return false;
    }
    uint32_t prefix;
    mring_copy_out(m, m->tail, &prefix, LEN_PREFIX);
    if (prefix > MAX_MSG || prefix > m->head - m->tail - LEN_PREFIX) {
        pthread_mutex_unlock(&m->mu);
        bad_msg(r, seq, "a frame of %u bytes", prefix);
    }
    mring_copy_out(m, m->tail + LEN_PREFIX, dst, prefix);
    m->tail += LEN_PREFIX + prefix;
    pthread_cond_signal(&m->not_full);
    pthread_mutex_unlock(&m->mu);
    *len = prefix;
    return true;
}

static void mring_produce(run *r)
{
    mring *m = r->ring;
    double deadline = start_line(r, true);
    uint64_t seq = 0, next_check = 0, straddled = 0;
    for (; !time_up(seq, &next_check, deadline); seq++) {
        build_msg(r->pbuf, r->msg_len, seq);
        straddled += mring_put(m, r->pbuf, r->msg_len);
    }
    r->straddled = straddled;
    r->commits = seq;
    producer_done(r, seq);
    pthread_mutex_lock(&m->mu);
    m->closed = true;
    pthread_cond_broadcast(&m->not_empty);
    pthread_mutex_unlock(&m->mu);
}

static void mring_consume(run *r)
{
    mring *m = r->ring;
    start_line(r, false);
    uint64_t seq = 0;
    size_t len;
    while (mring_get(m, r, seq, r->cbuf, &len)) {
        check_msg(r, r->cbuf, len, seq);
        seq++;
    }
    r->consumes = seq;
    consumer_done(r, seq);
}

static bool mring_single(run *r, uint64_t seq)
{
    mring *m = r->ring;
    build_msg(r->pbuf, r->msg_len, seq);
    bool s = mring_put(m, r->pbuf, r->msg_len);
    size_t len;
    if (!mring_get(m, r, seq, r->cbuf, &len))
        die("mutex ring: empty after a write");
    check_msg(r, r->cbuf, len, seq);
    return s;
}

/* ---- a lock-free ring that copies at the boundary ----------------------- */

/* vmdb's ring protocol over one plain mapping: positions are free-running
 * byte counters; the producer stores the bytes, then the head with
 * release, and loads the tail with acquire before reusing space; the
 * consumer loads the head with acquire, reads, then stores the tail with
 * release. As in vmdb_ring_write_span() and vmdb_ring_read_span(), each
 * side loads the other's position for every message. A frame that would
 * cross the end is built in a staging buffer and copied in two pieces, and
 * copied out in two pieces before it is checked: the copies that a mirror
 * makes unnecessary. */
typedef struct bring {
    uint8_t *data;
    uint64_t cap;                            /* bytes */
    _Alignas(CACHE_LINE) uint64_t head;      /* bytes ever written; producer stores */
    _Alignas(CACHE_LINE) uint64_t tail;      /* bytes ever read; consumer stores */
    _Alignas(CACHE_LINE) uint8_t *ptmp;      /* producer's staging buffer */
    _Alignas(CACHE_LINE) uint8_t *ctmp;      /* consumer's staging buffer */
} bring;

static void *bring_open(const ring_case *cs, const char *path, char *note, size_t n)
{
    (void)path;
    size_t bytes = (sizeof(bring) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    bring *b = aligned_alloc(CACHE_LINE, bytes);
    if (!b)
        die("out of memory");
    memset(b, 0, bytes);
    b->cap = cs->cap;
    b->data = xalloc(cs->cap);
    b->ptmp = xalloc(LEN_PREFIX + MAX_MSG);
    b->ctmp = xalloc(LEN_PREFIX + MAX_MSG);
    snprintf(note, n, "malloc");
    return b;
}

static void bring_close(void *ring, const char *path)
{
    (void)path;
    bring *b = ring;
    free(b->data);
    free(b->ptmp);
    free(b->ctmp);
    free(b);
}

/* Writes message `seq` if there is room; returns 1 if it was written and
 * wrapped, 0 if written whole, -1 if the ring is full. */
static inline int bring_put(bring *b, size_t len, uint64_t seq)
{
    size_t frame = LEN_PREFIX + len;
    uint64_t head = b->head; /* only this thread stores it */
    if (b->cap - (head - load_acquire(&b->tail)) < frame)
        return -1;
    size_t off = (size_t)(head % b->cap);
    int wrapped = off + frame > b->cap;
    if (!wrapped) {
        st32(b->data + off, (uint32_t)len);
        build_msg(b->data + off + LEN_PREFIX, len, seq);
    } else {
        st32(b->ptmp, (uint32_t)len);
        build_msg(b->ptmp + LEN_PREFIX, len, seq);
        size_t first = b->cap - off;
        memcpy(b->data + off, b->ptmp, first);
        memcpy(b->data, b->ptmp + first, frame - first);
    }
    store_release(&b->head, head + frame);
    return wrapped;
}

/* The next message, checked, then handed back; false if the ring is
 * empty. */
static inline bool bring_get(bring *b, const run *r, uint64_t seq)
{
    uint64_t tail = b->tail; /* only this thread stores it */
    uint64_t have = load_acquire(&b->head) - tail;
    if (have == 0)
        return false;
    size_t off = (size_t)(tail % b->cap), len;
    const uint8_t *p;
    if (off + LEN_PREFIX <= b->cap) {
        len = ld32(b->data + off);
    } else {
        uint8_t pre[LEN_PREFIX];
        size_t first = b->cap - off;
        memcpy(pre, b->data + off, first);
        memcpy(pre + first, b->data, LEN_PREFIX - first);
        len = ld32(pre);
    }
    size_t frame = LEN_PREFIX + len;
    if (len > MAX_MSG || have < frame)
        bad_msg(r, seq, "a frame of %zu bytes, %llu readable", len, (unsigned long long)have);
    if (off + frame <= b->cap) {
        p = b->data + off;
    } else {
        size_t first = b->cap - off;
        memcpy(b->ctmp, b->data + off, first);
        memcpy(b->ctmp + first, b->data, frame - first);
        p = b->ctmp;
    }
    check_msg(r, p + LEN_PREFIX, len, seq);
    store_release(&b->tail, tail + frame);
    return true;
}

static void bring_produce(run *r)
{
    bring *b = r->ring;
    double deadline = start_line(r, true);
    uint64_t seq = 0, next_check = 0, straddled = 0;
    for (; !time_up(seq, &next_check, deadline); seq++) {
        int rc;
        while ((rc = bring_put(b, r->msg_len, seq)) < 0)
            cpu_relax();
        straddled += (uint64_t)rc;
    }
    r->straddled = straddled;
    r->commits = seq;
    producer_done(r, seq);
}

static void bring_consume(run *r)
{
    bring *b = r->ring;
    start_line(r, false);
    uint64_t seq = 0;
    for (;;) {
        if (bring_get(b, r, seq)) {
            seq++;
            continue;
        }
        if (all_received(r, seq))
            break;
        cpu_relax();
    }
    r->consumes = seq;
    consumer_done(r, seq);
}

static bool bring_single(run *r, uint64_t seq)
{
    bring *b = r->ring;
    int rc = bring_put(b, r->msg_len, seq);
    if (rc < 0)
        die("boundary-copy ring: full while empty");
    if (!bring_get(b, r, seq))
        die("boundary-copy ring: empty after a write");
    return rc == 1;
}

/* ---- the list ------------------------------------------------------------- */

static const contender g_contenders[] = {
    {"vmdb slotring zero-copy", false, false, false, "in place", slot_open, slot_close, NULL,
     slot_zc_produce, slot_zc_consume, slot_zc_single},
    {"vmdb slotring write/read", false, false, false, "copied in and out", slot_open,
     slot_close, NULL, slot_copy_produce, slot_copy_consume, slot_copy_single},
    {"vmdb ring memfd, per msg", false, true, false, "in place", vring_open_mem, vring_close,
     vring_prepare, vring_produce, vring_consume, vring_single},
    {"vmdb ring memfd, batched", false, true, true, "in place", vring_open_mem, vring_close,
     vring_prepare, vring_batch_produce, vring_batch_consume, NULL},
    {"vmdb ring file, per msg", false, true, false, "in place", vring_open_file, vring_close,
     vring_prepare, vring_produce, vring_consume, vring_single},
    {"vmdb ring file, batched", false, true, true, "in place", vring_open_file, vring_close,
     vring_prepare, vring_batch_produce, vring_batch_consume, NULL},
    {"mutex+condvar ring", true, true, false, "copied in and out", mring_open, mring_close,
     mring_prepare, mring_produce, mring_consume, mring_single},
    {"boundary-copy SPSC ring", false, true, false, "in place, straddlers copied", bring_open,
     bring_close, NULL, bring_produce, bring_consume, bring_single},
};
_Static_assert(sizeof g_contenders / sizeof *g_contenders <= MAX_CONTENDERS,
               "one file name per contender");

/* ---- measuring throughput ------------------------------------------------ */

typedef struct result {
    const contender *c;
    double secs;
    uint64_t msgs;
    uint64_t straddled;
    uint64_t commits;
    uint64_t consumes;
    double spread; /* (fastest - slowest) / median rate over the rounds */
    double ratio;  /* median over the rounds of rate / the baseline's rate */
    char note[160];
} result;

static double rate(const result *r)
{
    return (double)r->msgs / r->secs;
}

static int by_rate(const void *a, const void *b)
{
    double x = rate(a), y = rate(b);
    return (x > y) - (x < y);
}

static void pin_self(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0)
        die("pthread_setaffinity_np(CPU %d): %s", cpu, strerror(rc));
}

static void *producer_main(void *arg)
{
    run *r = arg;
    pin_self(g_cpu[0]);
    r->c->produce(r);
    return NULL;
}

static void *consumer_main(void *arg)
{
    run *r = arg;
    pin_self(g_cpu[1]);
    r->c->consume(r);
    return NULL;
}

/* ---- how far apart the two CPUs are ----------------------------------- */

/* The round trip of one cache line between the producer's and the
 * consumer's CPU: a flag bounced ROUND_TRIPS times. On a VM it depends on
 * where the host runs the two vCPUs at the moment (two threads of one
 * core, one L3, or farther apart), it may change during a run, and every
 * figure of a table follows it; so each table says what it was before and
 * after. */
#define ROUND_TRIPS 20000

typedef struct probe {
    _Alignas(CACHE_LINE) uint64_t flag;
    _Alignas(CACHE_LINE) int ready;
    double t0, t1;
} probe;

static void *probe_ping(void *arg)
{
    probe *p = arg;
    pin_self(g_cpu[0]);
    __atomic_add_fetch(&p->ready, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&p->ready, __ATOMIC_ACQUIRE) < 2)
        cpu_relax();
    p->t0 = bench_now();
    for (uint64_t i = 1; i <= ROUND_TRIPS; i++) {
        store_release(&p->flag, 2 * i - 1);
        while (load_acquire(&p->flag) != 2 * i)
            cpu_relax();
    }
    p->t1 = bench_now();
    return NULL;
}

static void *probe_pong(void *arg)
{
    probe *p = arg;
    pin_self(g_cpu[1]);
    __atomic_add_fetch(&p->ready, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&p->ready, __ATOMIC_ACQUIRE) < 2)
        cpu_relax();
    for (uint64_t i = 1; i <= ROUND_TRIPS; i++) {
        while (load_acquire(&p->flag) != 2 * i - 1)
            cpu_relax();
        store_release(&p->flag, 2 * i);
    }
    return NULL;
}

/* Nanoseconds per round trip, the median of three probes. */
static double round_trip_ns(void)
{
    double ns[3];
    for (int k = 0; k < 3; k++) {
        static probe p;
        memset(&p, 0, sizeof p);
        pthread_t a, b;
        if (pthread_create(&b, NULL, probe_pong, &p) || pthread_create(&a, NULL, probe_ping, &p))
            die("pthread_create failed");
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        ns[k] = (p.t1 - p.t0) * 1e9 / ROUND_TRIPS;
    }
    return median(ns, 3);
}

static void init_run(run *r, const contender *c, void *ring, const ring_case *cs,
                     uint8_t *pbuf, uint8_t *cbuf)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    r->ring = ring;
    r->msg_len = cs->msg;
    r->frame = LEN_PREFIX + cs->msg;
    r->sample_sum = sample_sum(g_template, cs->msg);
    r->pbuf = pbuf;
    r->cbuf = cbuf;
    r->stop_total = UINT64_MAX;
    if (c->prepare)
        c->prepare(ring);
}

static result run_threads(const contender *c, void *ring, const ring_case *cs, double secs,
                          uint8_t *pbuf, uint8_t *cbuf)
{
    static run r; /* one run at a time */
    init_run(&r, c, ring, cs, pbuf, cbuf);
    r.secs = secs;
    pthread_t prod, cons;
    int rc = pthread_create(&cons, NULL, consumer_main, &r);
    if (rc == 0)
        rc = pthread_create(&prod, NULL, producer_main, &r);
    if (rc != 0)
        die("pthread_create: %s", strerror(rc));
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    if (r.received != r.sent)
        die("%s: %llu messages sent, %llu received", c->name, (unsigned long long)r.sent,
            (unsigned long long)r.received);
    if (r.sent == 0)
        die("%s: no message sent in %.2f s", c->name, secs);
    return (result){.c = c, .secs = r.t1 - r.t0, .msgs = r.sent, .straddled = r.straddled,
                    .commits = r.commits, .consumes = r.consumes};
}

/* Runs every contender once per round, REPEATS rounds, rather than each
 * REPEATS times in a row: a slow drift of the machine (a neighbour starting,
 * the host moving a vCPU) then reaches all of them alike, and each ratio is
 * taken between two runs of the same round. res[i] is contender i's median
 * run, with its spread and the median of its per-round ratios; rt[k] is
 * the CPUs' round trip before round k, rt[REPEATS] after the last. */
static void measure_case(const ring_case *cs, result *res, int n, double *rt)
{
    void *ring[MAX_CONTENDERS];
    char note[MAX_CONTENDERS][sizeof res->note];
    static result runs[MAX_CONTENDERS][REPEATS];
    uint8_t *pbuf = xalloc(LEN_PREFIX + MAX_MSG), *cbuf = xalloc(LEN_PREFIX + MAX_MSG);
    int base = -1;
    for (int i = 0; i < n; i++) {
        const contender *c = &g_contenders[i];
        ring[i] = c->open(cs, g_path[i], note[i], sizeof note[i]);
        if (c->baseline)
            base = i;
        run_threads(c, ring[i], cs, WARMUP_S, pbuf, cbuf);
    }
    for (int k = 0; k < REPEATS; k++) {
        rt[k] = round_trip_ns();
        for (int i = 0; i < n; i++)
            runs[i][k] = run_threads(&g_contenders[i], ring[i], cs, RUN_S, pbuf, cbuf);
    }
    rt[REPEATS] = round_trip_ns();
    for (int i = 0; i < n; i++) {
        double ratio[REPEATS];
        for (int k = 0; k < REPEATS; k++)
            ratio[k] = base >= 0 ? rate(&runs[i][k]) / rate(&runs[base][k]) : 0;
        qsort(runs[i], REPEATS, sizeof *runs[i], by_rate);
        res[i] = runs[i][REPEATS / 2];
        res[i].spread = (rate(&runs[i][REPEATS - 1]) - rate(&runs[i][0])) / rate(&res[i]);
        res[i].ratio = median(ratio, REPEATS);
        memcpy(res[i].note, note[i], sizeof res[i].note);
    }
    for (int i = 0; i < n; i++)
        g_contenders[i].close(ring[i], g_path[i]);
    free(pbuf);
    free(cbuf);
}

/* ---- other load ----------------------------------------------------------- */

/* The machine's CPU time as /proc/stat counts it, and this process's own:
 * the difference over a table is what other processes took, and steal is
 * what the hypervisor gave to other guests. A spinning benchmark on two
 * CPUs suffers from both, so each table says how much there was. */
typedef struct cpu_mark {
    double busy;  /* seconds of all CPUs, not idle and not steal */
    double steal; /* seconds */
    double self;  /* seconds of this process, user + system */
    double wall;  /* seconds */
} cpu_mark;

static cpu_mark cpu_mark_now(void)
{
    cpu_mark m = {.wall = bench_now()};
    unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                       steal = 0;
    FILE *f = fopen("/proc/stat", "re");
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle,
                   &iowait, &irq, &softirq, &steal) < 8)
            user = nice = sys = irq = softirq = steal = 0;
        fclose(f);
    }
    double tick = (double)sysconf(_SC_CLK_TCK);
    m.busy = (double)(user + nice + sys + irq + softirq) / tick;
    m.steal = (double)steal / tick;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        m.self = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    return m;
}

static void print_other_load(const cpu_mark *a)
{
    cpu_mark b = cpu_mark_now();
    double others = (b.busy - a->busy) - (b.self - a->self);
    double wall = b.wall - a->wall;
    if (others < 0)
        others = 0; /* the two clocks tick differently */
    printf("other load during this table: other processes %.0f%% of a CPU, steal %.0f%%\n",
           100 * others / wall, 100 * (b.steal - a->steal) / wall);
}

/* ---- reporting ------------------------------------------------------------ */

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

static void fmt_size(char *buf, size_t n, size_t bytes)
{
    if (bytes >= MIB && bytes % MIB == 0)
        snprintf(buf, n, "%zu MiB", bytes / MIB);
    else if (bytes >= KIB && bytes % KIB == 0)
        snprintf(buf, n, "%zu KiB", bytes / KIB);
    else
        snprintf(buf, n, "%zu B", bytes);
}

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

static void section_throughput(const char *label, const ring_case *cs)
{
    enum { N = COUNT(g_contenders) };
    result res[N];
    cpu_mark mark = cpu_mark_now();
    double rt[REPEATS + 1];
    measure_case(cs, res, N, rt);
    char cap[32];
    fmt_size(cap, sizeof cap, cs->cap);
    printf("\n== %s. Two threads, %zu B messages, %s ring\n", label, cs->msg, cap);
    printf("byte rings: %zu B frames (%d B length prefix), %.2f frames per lap; "
           "%d rounds of %.1f s\n",
           cs->msg + LEN_PREFIX, LEN_PREFIX, (double)cs->cap / (double)(cs->msg + LEN_PREFIX),
           REPEATS, RUN_S);
    printf("%-26s %8s %6s %7s %6s  %s\n", "contender", "msgs/s", "GB/s", "x mutex", "spread",
           "notes");
    for (int i = 0; i < N; i++) {
        result *r = &res[i];
        char msgs[16], x[16] = "";
        fmt_count(msgs, sizeof msgs, rate(r));
        if (r->ratio > 0 && !r->c->baseline)
            snprintf(x, sizeof x, "%.2fx", r->ratio);
        note_add(r->note, sizeof r->note, "%s", r->c->how);
        if (r->c->batched)
            note_add(r->note, sizeof r->note, "batched: %.1f msgs/commit, %.1f msgs/consume",
                     (double)r->msgs / (double)r->commits, (double)r->msgs / (double)r->consumes);
        if (r->c->byte_ring)
            note_add(r->note, sizeof r->note, "%.2f%% straddle",
                     100.0 * (double)r->straddled / (double)r->msgs);
        printf("%-26s %8s %6.2f %7s %5.0f%%  %s\n", r->c->name, msgs,
               rate(r) * (double)cs->msg / 1e9, x, r->spread * 100, r->note);
    }
    print_other_load(&mark);
    printf("cache-line round trip between the two CPUs before each round and after the last:");
    for (int k = 0; k <= REPEATS; k++)
        printf("%s %.0f", k ? "," : "", rt[k]);
    printf(" ns\n");
    fflush(stdout);
}

/* ---- single thread ------------------------------------------------------- */


/* Sorts v in place and returns the mean of its middle half: as robust to
 * interrupts as the median, but it averages over the clock's steps (about
 * 10 ns on the VM the figures come from), which a median cannot. */
static double mid_mean(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t lo = n / 4, hi = n - n / 4;
    double sum = 0;
    for (size_t i = lo; i < hi; i++)
        sum += v[i];
    return sum / (double)(hi - lo);
}


/* The cost of the two clock reads around a timed operation, subtracted
 * from the per-op times. */
static double clock_overhead_ns(void)
{
    enum { N = 100000 };
    static double v[N];
    for (int i = 0; i < N; i++) {
        uint64_t a = bench_now_ns();
        uint64_t b = bench_now_ns();
        v[i] = (double)(b - a);
    }
    return mid_mean(v, N);
}

typedef struct single_result {
    const contender *c;
    size_t msg;
    double ns;        /* median of the runs, per write+read */
    double spread;
    double contig_ns; /* per-op medians, clock overhead subtracted */
    double strad_ns;
    size_t nstrad;    /* straddling ops among the timed ones */
    size_t nops;
} single_result;

static single_result measure_single(const contender *c, const ring_case *cs, double clock_ns)
{
    char note[160];
    void *ring = c->open(cs, g_path[0], note, sizeof note);
    uint8_t *pbuf = xalloc(LEN_PREFIX + MAX_MSG), *cbuf = xalloc(LEN_PREFIX + MAX_MSG);
    static run r;
    init_run(&r, c, ring, cs, pbuf, cbuf);
    size_t nops = cs->msg <= 64 ? SINGLE_OPS_SMALL : SINGLE_OPS_LARGE;
    uint64_t seq = 0;
    for (size_t i = 0; i < nops / 4; i++) /* warm-up: faults, caches */
        c->single(&r, seq++);
    double runs[REPEATS];
    for (int k = 0; k < REPEATS; k++) {
        double t0 = bench_now();
        for (size_t i = 0; i < nops; i++)
            c->single(&r, seq++);
        runs[k] = (bench_now() - t0) * 1e9 / (double)nops;
    }
    single_result res = {.c = c, .msg = cs->msg, .nops = nops};
    res.ns = median(runs, REPEATS); /* sorts runs: [0] is the fastest */
    res.spread = (runs[REPEATS - 1] - runs[0]) / res.ns;
    if (c->byte_ring) {
        double *a = malloc(nops * sizeof *a), *b = malloc(nops * sizeof *b);
        if (!a || !b)
            die("out of memory");
        size_t na = 0, nb = 0;
        for (size_t i = 0; i < nops; i++) {
            uint64_t t0 = bench_now_ns();
            bool s = c->single(&r, seq++);
            double dt = (double)(bench_now_ns() - t0) - clock_ns;
            if (s)
                b[nb++] = dt;
            else
                a[na++] = dt;
        }
        res.contig_ns = mid_mean(a, na);
        res.strad_ns = mid_mean(b, nb);
        res.nstrad = nb;
        free(a);
        free(b);
    }
    c->close(ring, g_path[0]);
    free(pbuf);
    free(cbuf);
    return res;
}

static void section_single(const char *label, size_t cap)
{
    static const size_t sizes[] = {64, 4096};
    enum { N = COUNT(g_contenders), S = COUNT(sizes) };
    single_result res[S][N];
    int n[S];
    double clock_ns = clock_overhead_ns();
    for (int s = 0; s < S; s++) {
        ring_case cs = {cap, sizes[s]};
        n[s] = 0;
        for (int i = 0; i < N; i++)
            if (g_contenders[i].single)
                res[s][n[s]++] = measure_single(&g_contenders[i], &cs, clock_ns);
    }
    char capname[32];
    fmt_size(capname, sizeof capname, cap);
    printf("\n== %s. One thread: write one message, read it back (%s ring)\n", label, capname);
    printf("ns per write+read: median of %d runs of %d (64 B) or %d (4 KiB) messages,\n"
           "whole laps, straddling frames included; x mutex = the mutex ring's ns / this ns\n",
           REPEATS, SINGLE_OPS_SMALL, SINGLE_OPS_LARGE);
    printf("%-26s %5s %8s %7s %6s\n", "contender", "msg", "ns/op", "x mutex", "spread");
    for (int s = 0; s < S; s++) {
        double base = 0;
        for (int i = 0; i < n[s]; i++)
            if (res[s][i].c->baseline)
                base = res[s][i].ns;
        for (int i = 0; i < n[s]; i++) {
            single_result *r = &res[s][i];
            char x[16] = "";
            /* Faster is better: the ratio is the mutex ring's time over
             * this one's, so it reads like the throughput column. */
            if (base > 0 && !r->c->baseline)
                snprintf(x, sizeof x, "%.2fx", base / r->ns);
            printf("%-26s %5zu %8.1f %7s %5.0f%%\n", r->c->name, r->msg, r->ns, x,
                   r->spread * 100);
        }
    }
    printf("\n== %s'. Same, each write+read timed alone, split by whether the frame "
           "straddled the end\n", label);
    printf("ns per op, mean of the middle half of the per-op times, %.1f ns of clock reads "
           "subtracted\n", clock_ns);
    printf("%-26s %5s %9s %9s %8s  %s\n", "contender", "msg", "in one", "straddles", "extra",
           "ops that straddled");
    for (int s = 0; s < S; s++)
        for (int i = 0; i < n[s]; i++) {
            single_result *r = &res[s][i];
            if (!r->c->byte_ring)
                continue;
            printf("%-26s %5zu %9.1f %9.1f %8.1f  %zu of %zu\n", r->c->name, r->msg,
                   r->contig_ns, r->strad_ns, r->strad_ns - r->contig_ns, r->nstrad, r->nops);
        }
    fflush(stdout);
}

/* ---- machine context ------------------------------------------------------ */

static void read_line(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "re");
    if (!f || !fgets(buf, (int)n, f))
        snprintf(buf, n, "?");
    if (f)
        fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

static void cpu_model(char *buf, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[256];
    snprintf(buf, n, "?");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            const char *v = strchr(line, ':');
            if (v) {
                snprintf(buf, n, "%s", v + 2);
                buf[strcspn(buf, "\n")] = '\0';
            }
            break;
        }
    if (f)
        fclose(f);
}

/* The producer and the consumer each get a CPU of their own when the
 * process may run on two: the first two of its affinity mask. */
static void choose_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        snprintf(g_pin_note, sizeof g_pin_note, "not pinned (sched_getaffinity: %s)",
                 strerror(errno));
        return;
    }
    int found = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
        if (CPU_ISSET(cpu, &set))
            g_cpu[found++] = cpu;
    if (found < 2) {
        g_cpu[0] = g_cpu[1] = -1;
        snprintf(g_pin_note, sizeof g_pin_note, "not pinned: the process may use one CPU only");
        return;
    }
    /* Try it on this thread, then give the thread its old mask back. */
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(g_cpu[0], &one);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    if (rc != 0) {
        g_cpu[0] = g_cpu[1] = -1;
        snprintf(g_pin_note, sizeof g_pin_note, "not pinned (pthread_setaffinity_np: %s)",
                 strerror(rc));
        return;
    }
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    snprintf(g_pin_note, sizeof g_pin_note, "producer pinned to CPU %d, consumer to CPU %d",
             g_cpu[0], g_cpu[1]);
}

static void print_context(void)
{
    struct utsname u;
    char model[128], load[128], sched_note[96];
    /* A real-time policy, inherited from chrt, keeps other processes off
     * the two CPUs (but for the few percent the kernel reserves them);
     * the output must say when figures were taken that way. */
    int policy = sched_getscheduler(0);
    struct sched_param sp = {0};
    sched_getparam(0, &sp);
    if (policy == SCHED_FIFO || policy == SCHED_RR)
        snprintf(sched_note, sizeof sched_note, "scheduling policy %s, priority %d",
                 policy == SCHED_FIFO ? "SCHED_FIFO" : "SCHED_RR", sp.sched_priority);
    else
        snprintf(sched_note, sizeof sched_note, "scheduling policy SCHED_OTHER, nice %d",
                 getpriority(PRIO_PROCESS, 0));
    if (uname(&u) != 0)
        die_errno("uname");
    cpu_model(model, sizeof model);
    read_line("/proc/loadavg", load, sizeof load);
    printf("vmdb %s ring benchmark\n", vmdb_version_string());
    printf("kernel      %s %s %s, %ld CPUs online (%s), page size %zu B\n", u.sysname,
           u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN), model, vmdb_page_size());
    printf("threads     %s; both spin (pause) while full or empty;\n"
           "            %s\n", g_pin_note, sched_note);
    printf("files       slot rings and file rings in %s (%s)\n", g_dir, fs_name(g_dir));
    printf("load        load average at start %s\n", load);
    printf("timing      CLOCK_MONOTONIC; a run sends for %.1f s and is timed from the start\n"
           "            line to the consumer's check of the last message; every contender\n"
           "            of a table runs once per round, %d rounds after a %.2f s warm-up each;\n"
           "            msgs/s and GB/s (10^9 B of payload) are the median round;\n"
           "            x mutex = median over the rounds of rate / the mutex ring's rate in\n"
           "            the same round; spread = (fastest - slowest) / median\n",
           RUN_S, REPEATS, WARMUP_S);
    fflush(stdout);
}

int main(void)
{
    double t0 = bench_now();
    install_cleanup();
    make_dir();
    choose_cpus();
    uint64_t state = 0x5eed0f7a11ca75ull;
    for (size_t i = 0; i < MAX_MSG; i += 8)
        st64(g_template + i, splitmix64(&state));
    print_context();

    static const ring_case cases[] = {
        {64 * KIB, 64}, {64 * KIB, 4096}, {MIB, 64}, {MIB, 4096}, {16 * KIB, 4096},
    };
    static const char *const labels[] = {"1a", "1b", "1c", "1d", "1e"};
    for (int i = 0; i < COUNT(cases); i++)
        section_throughput(labels[i], &cases[i]);
    section_single("2", 64 * KIB);

    char load[128];
    read_line("/proc/loadavg", load, sizeof load);
    printf("\nfinished in %.0f s; load average at the end %s\n", bench_now() - t0, load);
    return 0;
}
