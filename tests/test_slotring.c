/* SPDX-License-Identifier: MIT */
/* tests/test_slotring.c - the persistent slot ring: geometry and messages
 * across reopen and processes, full and empty edges, wrap-around, zero
 * copy, stats and reset, every damaged file open refuses, poisoning, and
 * SPSC stress between threads and between processes. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include <xxhash.h>

#include "helpers.h"
#include "os_fault.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* The harnesses' limit: two processes pass ten million messages here, and a
 * test's own .timeout would leak in Criterion 2.4's runner (LeakSanitizer). */
TestSuite(slotring, .timeout = HARNESS_TIMEOUT);

/* Byte offsets of the header fields (engine/mem/slotring.c). */
#define OFF_MAGIC 0
#define OFF_VERSION 8
#define OFF_HEADER_SIZE 12
#define OFF_SLOT_SIZE 16
#define OFF_STRIDE 20
#define OFF_SLOT_COUNT 24
#define OFF_CHECKSUM 32
#define OFF_WRITE_POS 64
#define OFF_TOTAL_WRITES 72
#define OFF_READ_POS 128
#define OFF_TOTAL_READS 136
#define HEADER 4096u


static vmdb_slotring *create_ring(const char *path, uint32_t slot_size, uint64_t slot_count)
{
    vmdb_slotring_options o = {
        .flags = VMDB_SLOTRING_CREATE, .slot_size = slot_size, .slot_count = slot_count};
    vmdb_slotring *r;
    ASSERT_OK(vmdb_slotring_open(path, &o, &r));
    return r;
}

static vmdb_slotring *open_ring(const char *path)
{
    vmdb_slotring *r;
    ASSERT_OK(vmdb_slotring_open(path, NULL, &r));
    return r;
}

/* A ring file of the given geometry holding nothing, handle closed. */
static const char *ring_file(const char *name, uint32_t slot_size, uint64_t slot_count)
{
    const char *path = test_path(name);
    vmdb_slotring_close(create_ring(path, slot_size, slot_count));
    return path;
}

static void patch(const char *path, uint64_t off, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0, "open %s", path);
    cr_assert_eq(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void patch_u32(const char *path, uint64_t off, uint32_t v)
{
    patch(path, off, &v, sizeof v);
}

static void patch_u64(const char *path, uint64_t off, uint64_t v)
{
    patch(path, off, &v, sizeof v);
}

static uint64_t peek_u64(const char *path, uint64_t off)
{
    uint64_t v = 0;
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "open %s", path);
    cr_assert_eq(pread(fd, &v, sizeof v, (off_t)off), (ssize_t)sizeof v);
    close(fd);
    return v;
}

/* Recomputes the header checksum, so a test can change a checked field
 * and reach the check behind the checksum. */
static void fix_checksum(const char *path)
{
    unsigned char fixed[OFF_CHECKSUM];
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, fixed, sizeof fixed, 0), (ssize_t)sizeof fixed);
    close(fd);
    patch_u64(path, OFF_CHECKSUM, XXH3_64bits(fixed, sizeof fixed));
}

/* Entries of the test directory, . and .. aside. */
static int dir_entries(void)
{
    DIR *d = opendir(test_dir());
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static uint32_t u32_at(const unsigned char *f, size_t off)
{
    uint32_t v;
    memcpy(&v, f + off, sizeof v);
    return v;
}

static uint64_t u64_at(const unsigned char *f, size_t off)
{
    uint64_t v;
    memcpy(&v, f + off, sizeof v);
    return v;
}

static void write_str(vmdb_slotring *r, const char *s)
{
    ASSERT_OK(vmdb_slotring_write(r, s, strlen(s)));
}

static void assert_reads(vmdb_slotring *r, const char *want)
{
    char buf[256];
    size_t len;
    ASSERT_OK(vmdb_slotring_read(r, buf, sizeof buf, &len));
    cr_assert_eq(len, strlen(want), "read %zu bytes, expected \"%s\"", len, want);
    cr_assert_eq(memcmp(buf, want, len), 0, "read \"%.*s\", expected \"%s\"", (int)len, buf, want);
}

static vmdb_slotring_info stats_of(vmdb_slotring *r)
{
    vmdb_slotring_info s;
    ASSERT_OK(vmdb_slotring_stat(r, &s));
    return s;
}

/* Message `seq` of a randomised run: its sequence number, then bytes drawn
 * from (seed, seq); `min` .. `max` bytes in all (min >= 8). */
static size_t make_message(uint64_t seed, uint64_t seq, unsigned char *buf, size_t min, size_t max)
{
    uint64_t h = XXH3_64bits_withSeed(&seq, sizeof seq, seed);
    size_t len = min + (size_t)(h % (max - min + 1));
    memcpy(buf, &seq, sizeof seq);
    for (size_t i = sizeof seq; i < len; i++)
        buf[i] = (unsigned char)(h >> ((i & 7) * 8)) ^ (unsigned char)i;
    return len;
}

/* NULL if (p, len) is message `seq`, else what is wrong with it. */
static const char *message_fault(uint64_t seed, uint64_t seq, const void *p, size_t len,
                                 size_t min, size_t max)
{
    unsigned char want[256];
    size_t want_len = make_message(seed, seq, want, min, max);
    uint64_t got_seq;
    if (len < sizeof got_seq)
        return "too short to hold a sequence number";
    memcpy(&got_seq, p, sizeof got_seq);
    if (got_seq != seq)
        return got_seq < seq ? "out of order or repeated" : "out of order or lost";
    if (len != want_len)
        return "wrong length";
    if (memcmp(p, want, len) != 0)
        return "damaged bytes";
    return NULL;
}

/* ---- Geometry, persistence, layout ----------------------------------- */

Test(slotring, create_then_reopen_finds_geometry_messages_and_positions)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring *r = create_ring(path, 100, 16);
    cr_assert_eq(vmdb_slotring_stride(r), 112, "8 + 100 rounded up to 8");
    for (int i = 0; i < 5; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "msg-%d", i);
        write_str(r, msg);
    }
    assert_reads(r, "msg-0");
    assert_reads(r, "msg-1");
    vmdb_slotring_close(r);

    r = open_ring(path);
    vmdb_slotring_info s = stats_of(r);
    cr_assert_eq(s.slot_size, 100);
    cr_assert_eq(s.slot_count, 16);
    cr_assert_eq(s.write_pos, 5);
    cr_assert_eq(s.read_pos, 2);
    cr_assert_eq(s.used, 3);
    cr_assert_eq(s.total_writes, 5);
    cr_assert_eq(s.total_reads, 2);
    cr_assert_eq(s.version, VMDB_SLOTRING_VERSION);
    cr_assert_eq(s.file_size, HEADER + 16 * 112);
    cr_assert_eq(s.file_size, file_size(path));
    cr_assert_eq(vmdb_slotring_stride(r), 112);
    assert_reads(r, "msg-2");
    write_str(r, "msg-5");
    vmdb_slotring_close(r);

    /* Geometry given and matching is accepted, with or without CREATE. */
    vmdb_slotring_options o = {.slot_size = 100, .slot_count = 16};
    ASSERT_OK(vmdb_slotring_open(path, &o, &r));
    assert_reads(r, "msg-3");
    vmdb_slotring_close(r);
    o.flags = VMDB_SLOTRING_CREATE;
    ASSERT_OK(vmdb_slotring_open(path, &o, &r));
    assert_reads(r, "msg-4");
    assert_reads(r, "msg-5");
    cr_assert(!vmdb_slotring_has_data(r));
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, messages_written_by_a_child_process_are_read_after_reopen)
{
    const char *path = ring_file("r.vsr", 32, 16);
    pid_t pid = fork_child();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        vmdb_slotring *r;
        if (vmdb_slotring_open(path, NULL, &r) != 0)
            _exit(10);
        for (int i = 0; i < 10; i++) {
            char msg[32];
            int n = snprintf(msg, sizeof msg, "child-%d", i);
            if (vmdb_slotring_write(r, msg, (size_t)n) != 0)
                _exit(11);
        }
        vmdb_slotring_close(r);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: status %d", status);
    vmdb_slotring *r = open_ring(path);
    for (int i = 0; i < 10; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "child-%d", i);
        assert_reads(r, msg);
    }
    cr_assert(!vmdb_slotring_has_data(r));
    cr_assert_eq(stats_of(r).total_writes, 10);
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, on_disk_layout_matches_the_documented_format)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring_options o = {
        .flags = VMDB_SLOTRING_CREATE, .slot_size = 13, .slot_count = 3, .perm = 0600};
    vmdb_slotring *r;
    ASSERT_OK(vmdb_slotring_open(path, &o, &r));
    cr_assert_eq(dir_entries(), 1, "a temporary file was left next to the ring");
    write_str(r, "hello");
    write_str(r, "ring");
    assert_reads(r, "hello");
    vmdb_slotring_close(r);

    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_geq((uint64_t)st.st_blocks * 512, HEADER + 3 * 24, "blocks were not reserved");
    size_t len;
    unsigned char *f = read_file(path, &len);
    cr_assert_eq(len, HEADER + 3 * 24, "stride is 8 + 13 rounded up to 24");
    cr_assert_eq(memcmp(f + OFF_MAGIC, "VMDBSLOT", 8), 0);
    cr_assert_eq(u32_at(f, OFF_VERSION), 1);
    cr_assert_eq(u32_at(f, OFF_HEADER_SIZE), 4096);
    cr_assert_eq(u32_at(f, OFF_SLOT_SIZE), 13);
    cr_assert_eq(u32_at(f, OFF_STRIDE), 24);
    cr_assert_eq(u64_at(f, OFF_SLOT_COUNT), 3);
    cr_assert_eq(u64_at(f, OFF_CHECKSUM), XXH3_64bits(f, OFF_CHECKSUM));
    cr_assert_eq(u64_at(f, OFF_WRITE_POS), 2);
    cr_assert_eq(u64_at(f, OFF_TOTAL_WRITES), 2);
    cr_assert_eq(u64_at(f, OFF_READ_POS), 1);
    cr_assert_eq(u64_at(f, OFF_TOTAL_READS), 1);
    /* Slot 1: length word, reserved word, message. */
    cr_assert_eq(u32_at(f, HEADER + 24), 4);
    cr_assert_eq(u32_at(f, HEADER + 24 + 4), 0);
    cr_assert_eq(memcmp(f + HEADER + 24 + 8, "ring", 4), 0);
    for (size_t i = HEADER + 2 * 24; i < len; i++)
        cr_assert_eq(f[i], 0, "unused slot byte %zu is not zero", i);
    free(f);
    remove_test_dir();
}

/* ---- Messages ------------------------------------------------------- */

Test(slotring, write_read_peek_round_trip_every_length_from_zero_to_slot_size)
{
    vmdb_slotring *r = create_ring(test_path("r.vsr"), 64, 8);
    unsigned char in[64], out[64];
    for (size_t n = 0; n <= 64; n++) {
        fill_pattern(in, n, n * 1000);
        ASSERT_OK(vmdb_slotring_write(r, in, n));
        size_t len = 99;
        memset(out, 0xEE, sizeof out);
        ASSERT_OK(vmdb_slotring_peek(r, out, n, &len));
        cr_assert_eq(len, n);
        cr_assert_eq(memcmp(in, out, n), 0, "peek of %zu bytes differs", n);
        ASSERT_OK(vmdb_slotring_peek(r, out, sizeof out, &len));
        cr_assert_eq(len, n, "peek consumed the message");
        cr_assert_eq(stats_of(r).used, 1);
        memset(out, 0xEE, sizeof out);
        ASSERT_OK(vmdb_slotring_read(r, out, n, &len));
        cr_assert_eq(len, n);
        cr_assert_eq(memcmp(in, out, n), 0, "read of %zu bytes differs", n);
        cr_assert(!vmdb_slotring_has_data(r));
    }
    /* A zero-length message needs no buffer at all. */
    ASSERT_OK(vmdb_slotring_write(r, NULL, 0));
    size_t len = 99;
    ASSERT_OK(vmdb_slotring_read(r, NULL, 0, &len));
    cr_assert_eq(len, 0);
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, write_is_full_at_exactly_slot_count)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring *r = create_ring(path, 8, 7);
    for (int i = 0; i < 7; i++) {
        cr_assert(!vmdb_slotring_is_full(r));
        ASSERT_OK(vmdb_slotring_write(r, &i, sizeof i));
    }
    cr_assert(vmdb_slotring_is_full(r));
    cr_assert(vmdb_slotring_has_data(r));
    int x = 7;
    ASSERT_OUTCOME(vmdb_slotring_write(r, &x, sizeof x), VMDB_EFULL);
    cr_assert_eq(stats_of(r).write_pos, 7, "a refused write moved the position");
    cr_assert_eq(stats_of(r).used, 7);
    int got;
    size_t len;
    ASSERT_OK(vmdb_slotring_read(r, &got, sizeof got, &len));
    cr_assert_eq(got, 0);
    cr_assert(!vmdb_slotring_is_full(r));
    ASSERT_OK(vmdb_slotring_write(r, &x, sizeof x));
    ASSERT_OUTCOME(vmdb_slotring_write(r, &x, sizeof x), VMDB_EFULL);
    for (int want = 1; want <= 7; want++) {
        ASSERT_OK(vmdb_slotring_read(r, &got, sizeof got, &len));
        cr_assert_eq(got, want);
    }
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, read_is_empty_once_drained)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring *r = create_ring(path, 8, 4);
    char buf[8];
    size_t len = 5;
    const void *p = buf;
    cr_assert(!vmdb_slotring_has_data(r));
    ASSERT_OUTCOME(vmdb_slotring_read(r, buf, sizeof buf, &len), VMDB_EEMPTY);
    cr_assert_eq(len, 0);
    ASSERT_OUTCOME(vmdb_slotring_peek(r, buf, sizeof buf, &len), VMDB_EEMPTY);
    ASSERT_OUTCOME(vmdb_slotring_read_ptr(r, &p, &len), VMDB_EEMPTY);
    cr_assert_null(p);
    ASSERT_FAILS(vmdb_slotring_advance_read(r), VMDB_EEMPTY, path);
    write_str(r, "a");
    write_str(r, "b");
    write_str(r, "c");
    assert_reads(r, "a");
    assert_reads(r, "b");
    assert_reads(r, "c");
    ASSERT_OUTCOME(vmdb_slotring_read(r, buf, sizeof buf, &len), VMDB_EEMPTY);
    cr_assert(!vmdb_slotring_has_data(r));
    vmdb_slotring_info s = stats_of(r);
    cr_assert_eq(s.read_pos, 3, "a refused read moved the position");
    cr_assert_eq(s.total_reads, 3);
    vmdb_slotring_close(r);
    remove_test_dir();
}

/* Random bursts of writes and reads, so the ring is full, empty and
 * everything between at every slot, many times round. */
Test(slotring, wraps_around_many_times_with_contents_intact)
{
    uint64_t seed = test_seed(20240611);
    srand((unsigned)seed);
    const uint64_t count = 5;
    vmdb_slotring *r = create_ring(test_path("r.vsr"), 40, count);
    uint64_t next_write = 0, next_read = 0;
    unsigned char buf[40];
    while (next_read < 1000 * count) {
        int burst = rand() % (int)(count + 2);
        for (int i = 0; i < burst; i++) {
            size_t n = make_message(seed, next_write, buf, 8, sizeof buf);
            int rc = vmdb_slotring_write(r, buf, n);
            if (next_write - next_read == count) {
                cr_assert_eq(rc, VMDB_EFULL);
                break;
            }
            ASSERT_OK(rc);
            next_write++;
        }
        burst = rand() % (int)(count + 2);
        for (int i = 0; i < burst; i++) {
            size_t len;
            int rc = vmdb_slotring_read(r, buf, sizeof buf, &len);
            if (next_write == next_read) {
                cr_assert_eq(rc, VMDB_EEMPTY);
                break;
            }
            ASSERT_OK(rc);
            const char *fault = message_fault(seed, next_read, buf, len, 8, sizeof buf);
            cr_assert_null(fault, "message %llu: %s", (unsigned long long)next_read, fault);
            next_read++;
        }
        vmdb_slotring_info s = stats_of(r);
        cr_assert_eq(s.write_pos, next_write);
        cr_assert_eq(s.read_pos, next_read);
        cr_assert_eq(s.used, next_write - next_read);
    }
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, positions_past_32_bits_keep_working)
{
    const char *path = ring_file("r.vsr", 16, 5);
    const uint64_t start = (UINT64_C(1) << 32) - 3;
    patch_u64(path, OFF_WRITE_POS, start);
    patch_u64(path, OFF_READ_POS, start);
    vmdb_slotring *r = open_ring(path);
    for (uint64_t pos = start; pos < start + 20; pos++) {
        ASSERT_OK(vmdb_slotring_write(r, &pos, sizeof pos));
        const void *p;
        size_t len;
        ASSERT_OK(vmdb_slotring_slot(r, pos % 5, &p, &len));
        cr_assert_eq(memcmp(p, &pos, sizeof pos), 0, "position %llu is not in slot pos %% count",
                     (unsigned long long)pos);
        uint64_t got;
        ASSERT_OK(vmdb_slotring_read(r, &got, sizeof got, &len));
        cr_assert_eq(got, pos);
    }
    cr_assert_eq(stats_of(r).write_pos, start + 20);
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, zero_copy_write_ptr_then_advance_write_publishes)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring *r = create_ring(path, 16, 4);
    void *p, *again;
    ASSERT_OK(vmdb_slotring_write_ptr(r, &p));
    ASSERT_OK(vmdb_slotring_write_ptr(r, &again));
    cr_assert_eq(p, again, "write_ptr moved before advance_write");
    memcpy(p, "hello", 5);
    cr_assert(!vmdb_slotring_has_data(r), "the slot was visible before advance_write");
    ASSERT_OK(vmdb_slotring_advance_write(r, 5));
    cr_assert(vmdb_slotring_has_data(r));
    assert_reads(r, "hello");

    ASSERT_OK(vmdb_slotring_write_ptr(r, &p));
    memset(p, 'x', 16);
    ASSERT_FAILS(vmdb_slotring_advance_write(r, 17), VMDB_ERANGE, path);
    cr_assert(strstr(vmdb_last_error()->message, "17") != NULL);
    cr_assert(!vmdb_slotring_has_data(r), "a refused advance_write published");
    ASSERT_OK(vmdb_slotring_advance_write(r, 16));
    assert_reads(r, "xxxxxxxxxxxxxxxx");

    for (int i = 0; i < 4; i++) {
        ASSERT_OK(vmdb_slotring_write_ptr(r, &p));
        memcpy(p, "full", 4);
        ASSERT_OK(vmdb_slotring_advance_write(r, 4));
    }
    p = &again;
    ASSERT_OUTCOME(vmdb_slotring_write_ptr(r, &p), VMDB_EFULL);
    cr_assert_null(p);
    ASSERT_OUTCOME(vmdb_slotring_advance_write(r, 1), VMDB_EFULL);
    cr_assert_eq(stats_of(r).write_pos, 6);
    cr_assert_eq(stats_of(r).total_writes, 6);
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, zero_copy_read_ptr_stays_valid_until_advance_read)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring *r = create_ring(path, 8, 3);
    write_str(r, "one");
    write_str(r, "two");
    write_str(r, "three");
    const void *p, *again;
    size_t len, len2;
    ASSERT_OK(vmdb_slotring_read_ptr(r, &p, &len));
    ASSERT_OK(vmdb_slotring_read_ptr(r, &again, &len2));
    cr_assert_eq(p, again);
    cr_assert_eq(len, 3);
    cr_assert_eq(len2, 3);
    cr_assert_eq(memcmp(p, "one", 3), 0);
    /* The ring is full, so the producer cannot reuse the slot under us. */
    ASSERT_OUTCOME(vmdb_slotring_write(r, "four", 4), VMDB_EFULL);
    cr_assert_eq(memcmp(p, "one", 3), 0);
    cr_assert_eq(stats_of(r).used, 3, "read_ptr consumed");
    ASSERT_OK(vmdb_slotring_advance_read(r));
    ASSERT_OK(vmdb_slotring_read_ptr(r, &p, &len));
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(p, "two", 3), 0);
    ASSERT_OK(vmdb_slotring_advance_read(r));
    ASSERT_OK(vmdb_slotring_advance_read(r));
    len = 7;
    ASSERT_OUTCOME(vmdb_slotring_read_ptr(r, &p, &len), VMDB_EEMPTY);
    cr_assert_null(p);
    cr_assert_eq(len, 0);
    ASSERT_FAILS(vmdb_slotring_advance_read(r), VMDB_EEMPTY, path);
    cr_assert_eq(stats_of(r).total_reads, 3);
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, write_rejects_message_larger_than_slot)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring *r = create_ring(path, 10, 4);
    char big[11] = "0123456789";
    ASSERT_FAILS(vmdb_slotring_write(r, big, 11), VMDB_ERANGE, path);
    cr_assert(strstr(vmdb_last_error()->message, "11 bytes") != NULL);
    cr_assert(!vmdb_slotring_has_data(r));
    cr_assert_eq(stats_of(r).total_writes, 0);
    ASSERT_OK(vmdb_slotring_write(r, big, 10));
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, read_into_too_small_dst_consumes_nothing)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring *r = create_ring(path, 32, 4);
    write_str(r, "0123456789");
    char buf[16];
    size_t len = 0;
    ASSERT_FAILS(vmdb_slotring_read(r, buf, 9, &len), VMDB_ERANGE, path);
    cr_assert_eq(len, 10, "*len must tell the length needed");
    len = 0;
    ASSERT_FAILS(vmdb_slotring_peek(r, buf, 9, &len), VMDB_ERANGE, path);
    cr_assert_eq(len, 10);
    ASSERT_FAILS(vmdb_slotring_read(r, NULL, 0, &len), VMDB_ERANGE, path);
    cr_assert_eq(stats_of(r).used, 1, "a refused read consumed the message");
    cr_assert_eq(stats_of(r).total_reads, 0);
    ASSERT_OK(vmdb_slotring_read(r, buf, 10, &len));
    cr_assert_eq(len, 10);
    cr_assert_eq(memcmp(buf, "0123456789", 10), 0);
    vmdb_slotring_close(r);
    remove_test_dir();
}

/* ---- Stats, raw slots, reset ---------------------------------------- */

Test(slotring, stats_count_totals_and_reset_keeps_them)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring *r = create_ring(path, 8, 8);
    for (int i = 0; i < 6; i++)
        write_str(r, "abc");
    for (int i = 0; i < 4; i++)
        assert_reads(r, "abc");
    vmdb_slotring_info s = stats_of(r);
    cr_assert_eq(s.write_pos, 6);
    cr_assert_eq(s.read_pos, 4);
    cr_assert_eq(s.used, 2);
    cr_assert_eq(s.total_writes, 6);
    cr_assert_eq(s.total_reads, 4);

    ASSERT_OK(vmdb_slotring_reset(r));
    s = stats_of(r);
    cr_assert_eq(s.write_pos, 0);
    cr_assert_eq(s.read_pos, 0);
    cr_assert_eq(s.used, 0);
    cr_assert_eq(s.total_writes, 6, "reset must keep the totals");
    cr_assert_eq(s.total_reads, 4);
    cr_assert(!vmdb_slotring_has_data(r));
    for (uint64_t i = 0; i < 8; i++) {
        const void *p;
        size_t len;
        ASSERT_OK(vmdb_slotring_slot(r, i, &p, &len));
        cr_assert_eq(len, 0, "slot %llu kept its length", (unsigned long long)i);
        for (int b = 0; b < 8; b++)
            cr_assert_eq(((const unsigned char *)p)[b], 0, "slot %llu not zeroed",
                         (unsigned long long)i);
    }
    write_str(r, "new");
    const void *p;
    size_t len;
    ASSERT_OK(vmdb_slotring_slot(r, 0, &p, &len));
    cr_assert_eq(len, 3, "the first write after reset goes to slot 0");
    vmdb_slotring_close(r);

    r = open_ring(path);
    s = stats_of(r);
    cr_assert_eq(s.write_pos, 1);
    cr_assert_eq(s.total_writes, 7);
    cr_assert_eq(s.total_reads, 4);
    assert_reads(r, "new");
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, slot_gives_raw_access_and_refuses_index_out_of_range)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring *r = create_ring(path, 8, 4);
    write_str(r, "a");
    write_str(r, "bb");
    write_str(r, "ccc");
    assert_reads(r, "a");
    const void *p;
    size_t len;
    ASSERT_OK(vmdb_slotring_slot(r, 0, &p, &len));
    cr_assert_eq(len, 1, "a consumed slot keeps its stale message");
    cr_assert_eq(memcmp(p, "a", 1), 0);
    ASSERT_OK(vmdb_slotring_slot(r, 2, &p, &len));
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(p, "ccc", 3), 0);
    ASSERT_OK(vmdb_slotring_slot(r, 3, &p, &len));
    cr_assert_eq(len, 0);
    p = path;
    len = 9;
    ASSERT_FAILS(vmdb_slotring_slot(r, 4, &p, &len), VMDB_ERANGE, path);
    cr_assert(strstr(vmdb_last_error()->message, "slot index 4") != NULL);
    cr_assert_null(p);
    cr_assert_eq(len, 0);
    ASSERT_FAILS(vmdb_slotring_slot(r, UINT64_MAX, &p, &len), VMDB_ERANGE, path);
    vmdb_slotring_close(r);
    remove_test_dir();
}

/* ---- Opening ------------------------------------------------------- */

Test(slotring, readonly_handle_refuses_every_change)
{
    const char *path = ring_file("r.vsr", 8, 4);
    vmdb_slotring *r = open_ring(path);
    write_str(r, "kept");
    write_str(r, "too");
    vmdb_slotring_close(r);
    cr_assert_eq(chmod(path, 0444), 0);
    size_t before_len;
    unsigned char *before = read_file(path, &before_len);

    vmdb_slotring_options o = {.flags = VMDB_SLOTRING_READONLY};
    ASSERT_OK(vmdb_slotring_open(path, &o, &r));
    char buf[8];
    size_t len;
    const void *p;
    void *wp;
    ASSERT_OK(vmdb_slotring_peek(r, buf, sizeof buf, &len));
    cr_assert_eq(memcmp(buf, "kept", 4), 0);
    ASSERT_OK(vmdb_slotring_read_ptr(r, &p, &len));
    cr_assert_eq(len, 4);
    ASSERT_OK(vmdb_slotring_slot(r, 1, &p, &len));
    cr_assert_eq(stats_of(r).used, 2);
    ASSERT_OK(vmdb_slotring_sync(r, VMDB_FLUSH_SYNC));
    ASSERT_FAILS(vmdb_slotring_write(r, "x", 1), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb_slotring_write_ptr(r, &wp), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb_slotring_advance_write(r, 1), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb_slotring_read(r, buf, sizeof buf, &len), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb_slotring_advance_read(r), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb_slotring_reset(r), VMDB_EREADONLY, path);
    vmdb_slotring_close(r);

    size_t after_len;
    unsigned char *after = read_file(path, &after_len);
    cr_assert_eq(after_len, before_len);
    cr_assert_eq(memcmp(before, after, before_len), 0, "a read-only handle changed the file");
    free(before);
    free(after);
    remove_test_dir();
}

Test(slotring, excl_refuses_an_existing_file)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring_options o = {.flags = VMDB_SLOTRING_CREATE | VMDB_SLOTRING_EXCL,
                               .slot_size = 8,
                               .slot_count = 4};
    vmdb_slotring *r = (vmdb_slotring *)1;
    ASSERT_OK(vmdb_slotring_open(path, &o, &r));
    write_str(r, "first");
    vmdb_slotring_close(r);
    r = (vmdb_slotring *)1;
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EEXIST, path);
    cr_assert_null(r);
    /* Without EXCL, CREATE opens what is there and keeps its messages. */
    o.flags = VMDB_SLOTRING_CREATE;
    ASSERT_OK(vmdb_slotring_open(path, &o, &r));
    assert_reads(r, "first");
    vmdb_slotring_close(r);
    cr_assert_eq(dir_entries(), 1);
    remove_test_dir();
}

Test(slotring, missing_file_without_create_is_enoent)
{
    const char *path = test_path("none.vsr");
    vmdb_slotring *r = (vmdb_slotring *)1;
    ASSERT_FAILS(vmdb_slotring_open(path, NULL, &r), VMDB_ENOENT, path);
    cr_assert_null(r);
    vmdb_slotring_options o = {.flags = VMDB_SLOTRING_READONLY};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_ENOENT, path);
    cr_assert_eq(dir_entries(), 0);
    remove_test_dir();
}

Test(slotring, reopen_with_other_geometry_is_ebadsize_naming_the_field)
{
    const char *path = ring_file("r.vsr", 64, 8);
    vmdb_slotring *r = (vmdb_slotring *)1;
    vmdb_slotring_options o = {.slot_size = 32};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EBADSIZE, "slot_size");
    cr_assert(strstr(vmdb_last_error()->message, "64") && strstr(vmdb_last_error()->message, "32"),
              "both sizes should be named: %s", vmdb_last_error()->message);
    cr_assert(strstr(vmdb_last_error()->message, path));
    cr_assert_null(r);
    o = (vmdb_slotring_options){.slot_count = 9};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EBADSIZE, "slot_count");
    cr_assert(strstr(vmdb_last_error()->message, "8") && strstr(vmdb_last_error()->message, "9"));
    o = (vmdb_slotring_options){.flags = VMDB_SLOTRING_CREATE, .slot_size = 64, .slot_count = 16};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EBADSIZE, "slot_count");
    cr_assert_eq(file_size(path), HEADER + 8 * 72, "a refused open changed the file");
    remove_test_dir();
}

Test(slotring, bad_options_are_einval)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring *r = (vmdb_slotring *)1;
    vmdb_slotring_options o = {.flags = 1u << 7};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EINVAL, "flag");
    cr_assert_null(r);
    o = (vmdb_slotring_options){.flags = VMDB_SLOTRING_EXCL, .slot_size = 8, .slot_count = 8};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EINVAL, "VMDB_SLOTRING_EXCL");
    o = (vmdb_slotring_options){.flags = VMDB_SLOTRING_CREATE, .slot_count = 8};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EINVAL, "slot_size");
    o = (vmdb_slotring_options){.flags = VMDB_SLOTRING_CREATE, .slot_size = 8};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EINVAL, "slot_count");
    o = (vmdb_slotring_options){
        .flags = VMDB_SLOTRING_CREATE | VMDB_SLOTRING_READONLY, .slot_size = 8, .slot_count = 8};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EINVAL, "READONLY");
    o = (vmdb_slotring_options){
        .flags = VMDB_SLOTRING_CREATE, .slot_size = (1u << 30) + 1, .slot_count = 8};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EINVAL, "slot_size");
    o = (vmdb_slotring_options){
        .flags = VMDB_SLOTRING_CREATE, .slot_size = 8, .slot_count = (UINT64_C(1) << 40) + 1};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EINVAL, "slot_count");
    o = (vmdb_slotring_options){
        .flags = VMDB_SLOTRING_CREATE, .slot_size = 1u << 30, .slot_count = UINT64_C(1) << 40};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EINVAL, "larger than 2^63");
    o = (vmdb_slotring_options){
        .flags = VMDB_SLOTRING_CREATE, .slot_size = 8, .slot_count = 8, .perm = 010000};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EINVAL, "perm");
    /* Limits themselves are options, not errors, when the file exists. */
    o = (vmdb_slotring_options){.slot_size = 1u << 30};
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_ENOENT, path);
    cr_assert_eq(dir_entries(), 0, "a refused open created something");
    remove_test_dir();
}

Test(slotring, null_arguments_are_einval_and_outputs_cleared)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring *r = (vmdb_slotring *)1;
    ASSERT_FAILS(vmdb_slotring_open(NULL, NULL, &r), VMDB_EINVAL, "path");
    cr_assert_null(r);
    ASSERT_FAILS(vmdb_slotring_open(path, NULL, NULL), VMDB_EINVAL, "out");
    r = create_ring(path, 8, 4);
    char buf[8];
    size_t len = 5;
    const void *p = buf;
    void *wp = buf;
    vmdb_slotring_info s;
    memset(&s, 0xFF, sizeof s);
    ASSERT_FAILS(vmdb_slotring_write(NULL, "x", 1), VMDB_EINVAL, "ring");
    ASSERT_FAILS(vmdb_slotring_write(r, NULL, 1), VMDB_EINVAL, "data");
    ASSERT_FAILS(vmdb_slotring_read(NULL, buf, sizeof buf, &len), VMDB_EINVAL, "ring");
    cr_assert_eq(len, 0);
    ASSERT_FAILS(vmdb_slotring_read(r, NULL, sizeof buf, &len), VMDB_EINVAL, "dst");
    ASSERT_FAILS(vmdb_slotring_read(r, buf, sizeof buf, NULL), VMDB_EINVAL, "len");
    ASSERT_FAILS(vmdb_slotring_peek(NULL, buf, sizeof buf, &len), VMDB_EINVAL, "ring");
    ASSERT_FAILS(vmdb_slotring_peek(r, buf, sizeof buf, NULL), VMDB_EINVAL, "len");
    ASSERT_FAILS(vmdb_slotring_write_ptr(NULL, &wp), VMDB_EINVAL, "ring");
    cr_assert_null(wp);
    ASSERT_FAILS(vmdb_slotring_write_ptr(r, NULL), VMDB_EINVAL, "ptr");
    ASSERT_FAILS(vmdb_slotring_advance_write(NULL, 1), VMDB_EINVAL, "ring");
    len = 5;
    ASSERT_FAILS(vmdb_slotring_read_ptr(NULL, &p, &len), VMDB_EINVAL, "ring");
    cr_assert_null(p);
    cr_assert_eq(len, 0);
    ASSERT_FAILS(vmdb_slotring_read_ptr(r, NULL, &len), VMDB_EINVAL, "ptr");
    ASSERT_FAILS(vmdb_slotring_read_ptr(r, &p, NULL), VMDB_EINVAL, "len");
    ASSERT_FAILS(vmdb_slotring_advance_read(NULL), VMDB_EINVAL, "ring");
    ASSERT_FAILS(vmdb_slotring_stat(NULL, &s), VMDB_EINVAL, "ring");
    cr_assert_eq(s.used, 0, "stats not cleared on entry");
    ASSERT_FAILS(vmdb_slotring_stat(r, NULL), VMDB_EINVAL, "stats");
    ASSERT_FAILS(vmdb_slotring_slot(NULL, 0, &p, &len), VMDB_EINVAL, "ring");
    ASSERT_FAILS(vmdb_slotring_slot(r, 0, NULL, &len), VMDB_EINVAL, "ptr");
    ASSERT_FAILS(vmdb_slotring_slot(r, 0, &p, NULL), VMDB_EINVAL, "len");
    ASSERT_FAILS(vmdb_slotring_reset(NULL), VMDB_EINVAL, "ring");
    ASSERT_FAILS(vmdb_slotring_sync(NULL, VMDB_FLUSH_SYNC), VMDB_EINVAL, "ring");
    ASSERT_FAILS(vmdb_slotring_sync(r, (enum vmdb_flush)7), VMDB_EINVAL, path);
    cr_assert_eq(vmdb_slotring_stride(NULL), 0);
    cr_assert(!vmdb_slotring_has_data(NULL));
    cr_assert(!vmdb_slotring_is_full(NULL));
    vmdb_slotring_close(NULL);
    cr_assert(!vmdb_slotring_has_data(r), "a refused call changed the ring");
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, failed_create_leaves_neither_ring_nor_temporary)
{
    const char *path = test_path("r.vsr");
    vmdb_slotring_options o = {.flags = VMDB_SLOTRING_CREATE, .slot_size = 8, .slot_count = 4};
    vmdb_slotring *r = (vmdb_slotring *)1;
    vmdb__os_inject_fault(VMDB__OS_OP_ALLOCATE, ENOSPC, 0);
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_ENOSPC, ".vmdb-new-");
    cr_assert_null(r);
    cr_assert_eq(dir_entries(), 0);
    vmdb__os_inject_fault(VMDB__OS_OP_WRITE, EIO, 0);
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EIO, "header");
    cr_assert_eq(dir_entries(), 0);
    vmdb__os_inject_fault(VMDB__OS_OP_SYNC, EIO, 0);
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EIO, "fsync");
    cr_assert_eq(dir_entries(), 0);
    vmdb__os_inject_fault(VMDB__OS_OP_RENAME, EIO, 0);
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EIO, path);
    cr_assert_eq(dir_entries(), 0);
    vmdb__os_inject_fault(VMDB__OS_OP_OPEN, EACCES, 0);
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EACCES, path);
    cr_assert_eq(dir_entries(), 0);
    /* The directory fsync fails after the rename: the error is reported,
     * and the ring in place is complete. */
    vmdb__os_inject_fault(VMDB__OS_OP_SYNC, EIO, 1);
    ASSERT_FAILS(vmdb_slotring_open(path, &o, &r), VMDB_EIO, "directory");
    vmdb__os_clear_faults();
    cr_assert_eq(dir_entries(), 1);
    r = open_ring(path);
    cr_assert_eq(stats_of(r).slot_count, 4);
    vmdb_slotring_close(r);
    remove_test_dir();
}

/* Creators racing for one path: every one gets a ring, and the ring left
 * under the name is whole. */
Test(slotring, concurrent_creators_leave_one_complete_ring)
{
    const char *path = test_path("r.vsr");
    int gate[2];
    cr_assert_eq(pipe(gate), 0);
    pid_t pids[6];
    for (int i = 0; i < 6; i++) {
        pids[i] = fork_child();
        cr_assert_geq(pids[i], 0);
        if (pids[i] == 0) {
            char c;
            close(gate[1]);
            if (read(gate[0], &c, 1) != 0)
                _exit(9);
            vmdb_slotring_options o = {
                .flags = VMDB_SLOTRING_CREATE, .slot_size = 64, .slot_count = 32};
            vmdb_slotring *r;
            if (vmdb_slotring_open(path, &o, &r) != 0)
                _exit(10);
            vmdb_slotring_close(r);
            _exit(0);
        }
    }
    close(gate[0]);
    close(gate[1]); /* opens the gate for every child at once */
    for (int i = 0; i < 6; i++) {
        int status;
        cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "creator %d failed: %d", i,
                  status);
    }
    cr_assert_eq(dir_entries(), 1, "a temporary file was left behind");
    vmdb_slotring *r = open_ring(path);
    cr_assert_eq(stats_of(r).slot_count, 32);
    cr_assert_eq(file_size(path), HEADER + 32 * 72);
    vmdb_slotring_close(r);
    remove_test_dir();
}

/* ---- Damaged files ------------------------------------------------- */

Test(slotring, bad_magic_is_ebadmagic)
{
    const char *path = ring_file("r.vsr", 8, 4);
    patch(path, OFF_MAGIC, "NOTARING", 8);
    vmdb_slotring *r = (vmdb_slotring *)1;
    ASSERT_FAILS(vmdb_slotring_open(path, NULL, &r), VMDB_EBADMAGIC, path);
    cr_assert(strstr(vmdb_last_error()->message, "NOTARING") != NULL);
    cr_assert_null(r);
    /* A file of zeros says what it holds, not garbage. */
    const char *zeros = test_path("zeros.bin");
    unsigned char *z = calloc(1, 2 * HEADER);
    write_file(zeros, z, 2 * HEADER);
    free(z);
    ASSERT_FAILS(vmdb_slotring_open(zeros, NULL, &r), VMDB_EBADMAGIC, "\\x00\\x00");
    remove_test_dir();
}

Test(slotring, other_format_version_is_eversion)
{
    const char *path = ring_file("r.vsr", 8, 4);
    patch_u32(path, OFF_VERSION, 2);
    fix_checksum(path);
    vmdb_slotring *r;
    ASSERT_FAILS(vmdb_slotring_open(path, NULL, &r), VMDB_EVERSION, path);
    cr_assert(strstr(vmdb_last_error()->message, "version 2") != NULL);
    remove_test_dir();
}

Test(slotring, corrupted_checksum_is_ecorrupt)
{
    const char *path = ring_file("r.vsr", 8, 4);
    uint64_t sum = peek_u64(path, OFF_CHECKSUM);
    patch_u64(path, OFF_CHECKSUM, sum ^ 1);
    vmdb_slotring *r;
    ASSERT_FAILS(vmdb_slotring_open(path, NULL, &r), VMDB_ECORRUPT, "checksum");
    cr_assert(strstr(vmdb_last_error()->message, path) != NULL);
    /* A checked field changed behind the checksum's back. */
    patch_u64(path, OFF_CHECKSUM, sum);
    patch_u64(path, OFF_SLOT_COUNT, 5);
    ASSERT_FAILS(vmdb_slotring_open(path, NULL, &r), VMDB_ECORRUPT, "checksum");
    remove_test_dir();
}

Test(slotring, insane_geometry_is_ecorrupt_naming_the_field)
{
    static const struct {
        uint64_t off;
        uint64_t value;
        bool wide;
        const char *needle;
    } cases[] = {
        {OFF_SLOT_SIZE, 0, false, "slot_size 0"},
        {OFF_SLOT_SIZE, (1u << 30) + 1, false, "slot_size 1073741825"},
        {OFF_SLOT_COUNT, 0, true, "slot_count 0"},
        {OFF_SLOT_COUNT, (UINT64_C(1) << 40) + 1, true, "slot_count 1099511627777"},
        {OFF_STRIDE, 24, false, "stride 24"},
        {OFF_HEADER_SIZE, 8192, false, "header size 8192"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = ring_file("r.vsr", 8, 4);
        if (cases[i].wide)
            patch_u64(path, cases[i].off, cases[i].value);
        else
            patch_u32(path, cases[i].off, (uint32_t)cases[i].value);
        fix_checksum(path);
        vmdb_slotring *r;
        ASSERT_FAILS(vmdb_slotring_open(path, NULL, &r), VMDB_ECORRUPT, cases[i].needle);
        cr_assert(strstr(vmdb_last_error()->message, path) != NULL);
        cr_assert_eq(unlink(path), 0);
    }
    remove_test_dir();
}

Test(slotring, truncated_header_is_ebadsize)
{
    const char *path = ring_file("r.vsr", 8, 4);
    size_t len;
    unsigned char *whole = read_file(path, &len);
    /* Cut before the magic is whole, the file is not recognisably a ring;
     * after, it is a truncated one. */
    const size_t cuts[] = {0, 7, 8, 100, HEADER - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        const char *cut = test_path("cut.vsr");
        write_file(cut, whole, cuts[i]);
        vmdb_slotring *r = (vmdb_slotring *)1;
        if (cuts[i] < 8)
            ASSERT_FAILS(vmdb_slotring_open(cut, NULL, &r), VMDB_EBADMAGIC, "not a slot ring");
        else
            ASSERT_FAILS(vmdb_slotring_open(cut, NULL, &r), VMDB_EBADSIZE, "truncated");
        cr_assert(strstr(vmdb_last_error()->message, cut) != NULL);
        cr_assert_null(r);
    }
    free(whole);
    remove_test_dir();
}

Test(slotring, slots_cut_short_is_ebadsize_naming_both_sizes)
{
    const char *path = ring_file("r.vsr", 64, 8); /* 4096 + 8 * 72 = 4672 bytes */
    cr_assert_eq(truncate(path, 4600), 0);
    vmdb_slotring *r;
    ASSERT_FAILS(vmdb_slotring_open(path, NULL, &r), VMDB_EBADSIZE, path);
    cr_assert(strstr(vmdb_last_error()->message, "4600") &&
                  strstr(vmdb_last_error()->message, "4672"),
              "both sizes should be named: %s", vmdb_last_error()->message);
    cr_assert_eq(truncate(path, HEADER), 0);
    ASSERT_FAILS(vmdb_slotring_open(path, NULL, &r), VMDB_EBADSIZE, "4096");
    /* Longer than needed is fine: the bytes past the last slot are ignored. */
    cr_assert_eq(truncate(path, 8192), 0);
    r = open_ring(path);
    write_str(r, "ok");
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, impossible_positions_are_ecorrupt)
{
    const char *path = ring_file("r.vsr", 8, 8);
    vmdb_slotring *r;
    patch_u64(path, OFF_WRITE_POS, 3);
    patch_u64(path, OFF_READ_POS, 5);
    ASSERT_FAILS(vmdb_slotring_open(path, NULL, &r), VMDB_ECORRUPT, "read position 5");
    cr_assert(strstr(vmdb_last_error()->message, path) != NULL);
    patch_u64(path, OFF_WRITE_POS, 20);
    patch_u64(path, OFF_READ_POS, 3);
    ASSERT_FAILS(vmdb_slotring_open(path, NULL, &r), VMDB_ECORRUPT, "write position 20");
    /* Exactly full is possible. */
    patch_u64(path, OFF_WRITE_POS, 11);
    r = open_ring(path);
    cr_assert(vmdb_slotring_is_full(r));
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, damaged_slot_length_is_ecorrupt_never_an_overread)
{
    const char *path = ring_file("r.vsr", 8, 4);
    vmdb_slotring *r = open_ring(path);
    for (int i = 0; i < 4; i++)
        write_str(r, "msg");
    for (int i = 0; i < 3; i++)
        assert_reads(r, "msg");
    vmdb_slotring_close(r);
    patch_u32(path, HEADER + 3 * 16, 9);
    r = open_ring(path);
    char buf[64];
    size_t len = 1;
    const void *p = buf;
    ASSERT_FAILS(vmdb_slotring_read(r, buf, sizeof buf, &len), VMDB_ECORRUPT, "slot 3");
    cr_assert(strstr(vmdb_last_error()->message, path) != NULL);
    cr_assert_eq(len, 0);
    ASSERT_FAILS(vmdb_slotring_peek(r, buf, sizeof buf, &len), VMDB_ECORRUPT, "slot 3");
    ASSERT_FAILS(vmdb_slotring_read_ptr(r, &p, &len), VMDB_ECORRUPT, "slot 3");
    cr_assert_null(p);
    cr_assert_eq(stats_of(r).used, 1, "a damaged message was consumed");
    /* Raw access shows what is stored, for a dump tool to clamp. */
    ASSERT_OK(vmdb_slotring_slot(r, 3, &p, &len));
    cr_assert_eq(len, 9);
    /* The consumer can skip the damaged message and go on. */
    ASSERT_OK(vmdb_slotring_advance_read(r));
    write_str(r, "next");
    assert_reads(r, "next");
    vmdb_slotring_close(r);
    /* Positions 4 and 5 are consumed; damage slot 1 and publish it as 5. */
    patch_u32(path, HEADER + 1 * 16, UINT32_MAX);
    patch_u64(path, OFF_WRITE_POS, 6);
    r = open_ring(path);
    ASSERT_FAILS(vmdb_slotring_read(r, buf, sizeof buf, &len), VMDB_ECORRUPT, "4294967295");
    cr_assert(strstr(vmdb_last_error()->message, "slot 1") != NULL);
    vmdb_slotring_close(r);
    remove_test_dir();
}

Test(slotring, failed_sync_poisons_writes_until_reopened)
{
    const char *path = ring_file("r.vsr", 8, 4);
    vmdb_slotring *r = open_ring(path);
    write_str(r, "one");
    write_str(r, "two");
    ASSERT_OK(vmdb_slotring_sync(r, VMDB_FLUSH_SYNC));
    ASSERT_OK(vmdb_slotring_sync(r, VMDB_FLUSH_ASYNC));
    vmdb__os_inject_fault(VMDB__OS_OP_FLUSH, EIO, 0);
    ASSERT_FAILS(vmdb_slotring_sync(r, VMDB_FLUSH_SYNC), VMDB_EIO, path);
    vmdb__os_clear_faults();
    void *wp;
    ASSERT_FAILS(vmdb_slotring_write(r, "x", 1), VMDB_EPOISONED, path);
    ASSERT_FAILS(vmdb_slotring_write_ptr(r, &wp), VMDB_EPOISONED, path);
    ASSERT_FAILS(vmdb_slotring_advance_write(r, 1), VMDB_EPOISONED, path);
    ASSERT_FAILS(vmdb_slotring_reset(r), VMDB_EPOISONED, path);
    ASSERT_FAILS(vmdb_slotring_sync(r, VMDB_FLUSH_SYNC), VMDB_EPOISONED, path);
    /* What is in memory can still be drained. */
    assert_reads(r, "one");
    vmdb_slotring_close(r);
    r = open_ring(path);
    assert_reads(r, "two");
    write_str(r, "three");
    ASSERT_OK(vmdb_slotring_sync(r, VMDB_FLUSH_SYNC));
    vmdb_slotring_close(r);
    remove_test_dir();
}

/* ---- Concurrency --------------------------------------------------- */

#define STRESS_SLOT 64
#define STRESS_SLOTS 1024

/* Fewer messages under valgrind, which runs threads one at a time and
 * everything some fifty times slower. */
static uint64_t stress_messages(uint64_t normal)
{
    return RUNNING_ON_VALGRIND ? 20000 : normal;
}

/* Waits while the ring is full; false once `consumer_gone` says no one
 * will ever make room (a producer process whose test has failed must not
 * spin on forever). */
static bool wait_for_room(int rc, unsigned *spins, bool (*consumer_gone)(void))
{
    if (rc != VMDB_EFULL)
        return false;
    if (++*spins % 1024 == 0 && consumer_gone && consumer_gone())
        return false;
    sched_yield();
    return true;
}

/* Produces messages [0, count) of `seed`, every other one through the
 * zero-copy calls; 0 or the step that failed. */
static int produce(vmdb_slotring *r, uint64_t seed, uint64_t count, bool (*consumer_gone)(void))
{
    unsigned char buf[STRESS_SLOT];
    unsigned spins = 0;
    for (uint64_t seq = 0; seq < count; seq++) {
        int rc;
        if (seq & 1) {
            void *p;
            while (wait_for_room(rc = vmdb_slotring_write_ptr(r, &p), &spins, consumer_gone))
                ;
            if (rc != 0)
                return 1;
            size_t len = make_message(seed, seq, p, 8, STRESS_SLOT);
            rc = vmdb_slotring_advance_write(r, len);
        } else {
            size_t len = make_message(seed, seq, buf, 8, STRESS_SLOT);
            while (wait_for_room(rc = vmdb_slotring_write(r, buf, len), &spins, consumer_gone))
                ;
        }
        if (rc != 0)
            return 2;
    }
    return 0;
}

/* Waits for the next message; false once `producer_gone` says no more
 * will come and the ring is still empty. */
static bool next_message(vmdb_slotring *r, const void **p, size_t *len,
                         bool (*producer_gone)(void *), void *arg)
{
    for (unsigned spins = 1;; spins++) {
        int rc = vmdb_slotring_read_ptr(r, p, len);
        if (rc == 0)
            return true;
        cr_assert_eq(rc, VMDB_EEMPTY, "read_ptr: %s", vmdb_last_error()->message);
        if (spins % 1024 == 0 && producer_gone(arg) &&
            vmdb_slotring_read_ptr(r, p, len) != 0)
            return false;
        sched_yield();
    }
}

/* Consumes messages [0, count) of `seed`, every third one through the
 * copying read, checking each arrives once, in order and intact. */
static void consume_and_check(vmdb_slotring *r, uint64_t seed, uint64_t count,
                              bool (*producer_gone)(void *), void *arg)
{
    unsigned char buf[STRESS_SLOT];
    for (uint64_t seq = 0; seq < count; seq++) {
        const void *p;
        size_t len;
        if (!next_message(r, &p, &len, producer_gone, arg))
            cr_assert_fail("the producer stopped after %llu of %llu messages",
                           (unsigned long long)seq, (unsigned long long)count);
        if (seq % 3 == 0) {
            ASSERT_OK(vmdb_slotring_read(r, buf, sizeof buf, &len));
            p = buf;
        }
        const char *fault = message_fault(seed, seq, p, len, 8, STRESS_SLOT);
        if (fault)
            cr_assert_fail("message %llu: %s", (unsigned long long)seq, fault);
        if (seq % 3 != 0)
            ASSERT_OK(vmdb_slotring_advance_read(r));
    }
    cr_assert(!vmdb_slotring_has_data(r), "more messages than were written");
}

struct producer_thread {
    vmdb_slotring *ring;
    uint64_t seed, count;
    int result;
    bool done;
};

static void *producer_main(void *arg)
{
    struct producer_thread *t = arg;
    t->result = produce(t->ring, t->seed, t->count, NULL);
    __atomic_store_n(&t->done, true, __ATOMIC_RELEASE);
    return NULL;
}

static bool thread_done(void *arg)
{
    return __atomic_load_n(&((struct producer_thread *)arg)->done, __ATOMIC_ACQUIRE);
}

Test(slotring, two_threads_pass_every_message_once_in_order)
{
    struct producer_thread t = {
        .ring = create_ring(test_path("r.vsr"), STRESS_SLOT, 256),
        .seed = test_seed(20240611),
        .count = stress_messages(2000000),
    };
    pthread_t tid;
    cr_assert_eq(pthread_create(&tid, NULL, producer_main, &t), 0);
    consume_and_check(t.ring, t.seed, t.count, thread_done, &t);
    cr_assert_eq(pthread_join(tid, NULL), 0);
    cr_assert_eq(t.result, 0, "producer failed at step %d", t.result);
    vmdb_slotring_info s = stats_of(t.ring);
    cr_assert_eq(s.total_writes, t.count);
    cr_assert_eq(s.total_reads, t.count);
    vmdb_slotring_close(t.ring);
    remove_test_dir();
}

struct producer_process {
    pid_t pid;
    int status;
    bool reaped;
};

static pid_t test_pid;

static bool parent_exited(void)
{
    return getppid() != test_pid;
}

static bool child_exited(void *arg)
{
    struct producer_process *c = arg;
    if (!c->reaped)
        c->reaped = waitpid(c->pid, &c->status, WNOHANG) == c->pid;
    return c->reaped;
}

Test(slotring, two_processes_pass_every_message_once_in_order)
{
    const char *path = ring_file("r.vsr", STRESS_SLOT, STRESS_SLOTS);
    uint64_t seed = test_seed(20240611);
    uint64_t count = stress_messages(10000000);
    test_pid = getpid();
    struct producer_process child = {.pid = fork_child()};
    cr_assert_geq(child.pid, 0);
    if (child.pid == 0) {
        vmdb_slotring *r;
        if (vmdb_slotring_open(path, NULL, &r) != 0)
            _exit(10);
        int rc = produce(r, seed, count, parent_exited);
        vmdb_slotring_close(r);
        _exit(rc);
    }
    vmdb_slotring *r = open_ring(path);
    consume_and_check(r, seed, count, child_exited, &child);
    if (!child.reaped)
        cr_assert_eq(waitpid(child.pid, &child.status, 0), child.pid);
    cr_assert(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0,
              "producer process failed: status %d", child.status);
    vmdb_slotring_info s = stats_of(r);
    cr_assert_eq(s.total_writes, count);
    cr_assert_eq(s.total_reads, count);
    vmdb_slotring_close(r);
    remove_test_dir();
}
