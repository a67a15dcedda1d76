/* SPDX-License-Identifier: MIT */
/*
 * tests/test_ring.c - the mirrored byte ring.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>
#include <xxhash.h>

#include "helpers.h"
#include "os_fault.h"

TestSuite(ring, .timeout = SUITE_TIMEOUT);

#define PAGE ((uint64_t)vmdb_page_size())

static vmdb_ring *memory_ring(uint64_t cap, unsigned flags)
{
    vmdb_ring *r;
    vmdb_ring_options o = {.cap = cap, .flags = flags};
    ASSERT_OK(vmdb_ring_new(&o, &r));
    return r;
}

static vmdb_ring *file_ring(const char *path, uint64_t cap, unsigned flags)
{
    vmdb_ring *r;
    vmdb_ring_options o = {.cap = cap, .flags = flags | VMDB_RING_CREATE};
    ASSERT_OK(vmdb_ring_open(path, &o, &r));
    return r;
}

Test(ring, capacity_is_rounded_up_to_the_page)
{
    vmdb_ring *r = memory_ring(1, 0);
    cr_assert_eq(vmdb_ring_cap(r), PAGE);
    cr_assert_eq(vmdb_ring_used(r), 0);
    cr_assert_eq(vmdb_ring_avail(r), PAGE);
    vmdb_ring_close(r);
    r = memory_ring(PAGE + 1, 0);
    cr_assert_eq(vmdb_ring_cap(r), 2 * PAGE);
    vmdb_ring_close(r);
}

/* For every start offset class (start, middle, the last bytes, just
 * before and after a page) and lengths that reach across the end, the
 * spans handed out are one contiguous run of the right bytes. */
Test(ring, spans_that_cross_the_end_are_contiguous_at_every_offset)
{
    uint64_t cap = 2 * PAGE;
    size_t offsets[] = {0, 1, 7, 63, 64, PAGE - 1, PAGE, PAGE + 1, cap / 2 + 3,
                        cap - 64, cap - 7, cap - 2, cap - 1};
    size_t lens[] = {1, 2, 64, 100, PAGE, cap - 1, cap};
    unsigned char *want = malloc(cap);
    unsigned char *got = malloc(cap);
    for (size_t oi = 0; oi < sizeof offsets / sizeof *offsets; oi++) {
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
            vmdb_ring *r = memory_ring(cap, 0);
            /* Move both positions to the offset under test. */
            size_t span;
            cr_assert_not_null(vmdb_ring_write_span(r, &span));
            ASSERT_OK(vmdb_ring_commit(r, offsets[oi]));
            ASSERT_OK(vmdb_ring_consume(r, offsets[oi]));
            size_t len = lens[li];
            fill_pattern(want, len, oi * 100 + li);
            unsigned char *w = vmdb_ring_write_span(r, &span);
            cr_assert_eq(span, cap, "an empty ring offers all of it");
            cr_assert_eq(w, vmdb_ring_pos_ptr(r, offsets[oi]));
            memcpy(w, want, len);
            ASSERT_OK(vmdb_ring_commit(r, len));
            const unsigned char *rd = vmdb_ring_read_span(r, &span);
            cr_assert_eq(span, len);
            cr_assert_eq(memcmp(rd, want, len), 0, "offset %zu len %zu", offsets[oi], len);
            /* The bytes past the end really are the start of the ring. */
            for (size_t i = 0; i < len; i++) {
                size_t at = (offsets[oi] + i) % cap;
                cr_assert_eq(((unsigned char *)vmdb_ring_pos_ptr(r, 0))[at], want[i]);
            }
            size_t n;
            ASSERT_OK(vmdb_ring_read(r, got, cap, &n));
            cr_assert_eq(n, len);
            cr_assert_eq(memcmp(got, want, len), 0);
            cr_assert_eq(vmdb_ring_head(r), offsets[oi] + len);
            cr_assert_eq(vmdb_ring_tail(r), offsets[oi] + len);
            vmdb_ring_close(r);
        }
    }
    free(want);
    free(got);
}

Test(ring, full_and_empty_edges)
{
    vmdb_ring *r = memory_ring(PAGE, 0);
    char byte = 'x';
    size_t n;
    ASSERT_FAILS(vmdb_ring_read(r, &byte, 1, &n), VMDB_EEMPTY, "memory ring");
    unsigned char *block = malloc(PAGE);
    fill_pattern(block, PAGE, 3);
    ASSERT_OK(vmdb_ring_write(r, block, PAGE - 1));
    cr_assert_eq(vmdb_ring_avail(r), 1);
    ASSERT_FAILS(vmdb_ring_write(r, block, 2), VMDB_EFULL, "2 bytes do not fit, 1 are free");
    ASSERT_OK(vmdb_ring_write(r, &byte, 1));
    cr_assert_eq(vmdb_ring_used(r), PAGE);
    cr_assert_eq(vmdb_ring_avail(r), 0);
    ASSERT_FAILS(vmdb_ring_write(r, &byte, 1), VMDB_EFULL, "memory ring");
    ASSERT_FAILS(vmdb_ring_commit(r, 1), VMDB_ERANGE, "commit of 1 bytes");
    ASSERT_FAILS(vmdb_ring_write(r, block, PAGE + 1), VMDB_ERANGE, "can never fit");
    size_t span;
    vmdb_ring_write_span(r, &span);
    cr_assert_eq(span, 0);
    ASSERT_FAILS(vmdb_ring_consume(r, PAGE + 1), VMDB_ERANGE, "only 4096 are unread");
    unsigned char *got = malloc(PAGE);
    ASSERT_OK(vmdb_ring_read(r, got, PAGE, &n));
    cr_assert_eq(n, PAGE);
    cr_assert_eq(memcmp(got, block, PAGE - 1), 0);
    cr_assert_eq(got[PAGE - 1], 'x');
    cr_assert_eq(vmdb_ring_used(r), 0);
    ASSERT_FAILS(vmdb_ring_read(r, got, PAGE, &n), VMDB_EEMPTY, "nothing to read");
    free(block);
    free(got);
    vmdb_ring_close(r);
}

Test(ring, partial_reads_take_what_fits)
{
    vmdb_ring *r = memory_ring(PAGE, 0);
    ASSERT_OK(vmdb_ring_write(r, "abcdef", 6));
    char out[4];
    size_t n;
    ASSERT_OK(vmdb_ring_read(r, out, 4, &n));
    cr_assert_eq(n, 4);
    cr_assert_eq(memcmp(out, "abcd", 4), 0);
    ASSERT_OK(vmdb_ring_read(r, out, 4, &n));
    cr_assert_eq(n, 2);
    cr_assert_eq(memcmp(out, "ef", 2), 0);
    vmdb_ring_close(r);
}

Test(ring, lines_and_formatted_writes)
{
    vmdb_ring *r = memory_ring(PAGE, 0);
    int i = 1;
    /* Fill with lines as vmap's example does, until one no longer fits. */
    while (vmdb_ring_avail(r) > 30)
        ASSERT_OK(vmdb_ring_printf(r, "this is test line %d\n", i++));
    uint64_t before = vmdb_ring_head(r);
    char big[64];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_FAILS(vmdb_ring_printf(r, "%s\n", big), VMDB_EFULL, "memory ring");
    cr_assert_eq(vmdb_ring_head(r), before, "a failed printf commits nothing");
    char line[64];
    size_t len;
    ASSERT_OK(vmdb_ring_read_line(r, line, sizeof line, &len));
    cr_assert_str_eq(line, "this is test line 1\n");
    cr_assert_eq(len, strlen(line));
    ASSERT_OK(vmdb_ring_read_line(r, line, sizeof line, &len));
    cr_assert_str_eq(line, "this is test line 2\n");
    /* Room again; this line wraps around the end of the ring. */
    ASSERT_OK(vmdb_ring_printf(r, "this is test line %d\n", i));
    char small[8];
    ASSERT_FAILS(vmdb_ring_read_line(r, small, sizeof small, &len), VMDB_ERANGE, "does not fit");
    cr_assert_eq(len, strlen("this is test line 3\n"));
    int last = 0;
    while (vmdb_ring_read_line(r, line, sizeof line, &len) == 0)
        cr_assert_eq(sscanf(line, "this is test line %d\n", &last), 1);
    cr_assert_eq(last, i, "the wrapped line reads back whole");
    cr_assert_eq(vmdb_last_error()->code, VMDB_EEMPTY);
    ASSERT_OK(vmdb_ring_printf(r, "no newline yet"));
    ASSERT_FAILS(vmdb_ring_read_line(r, line, sizeof line, &len), VMDB_EEMPTY, "no complete line");
    ASSERT_OK(vmdb_ring_printf(r, ", now\n"));
    ASSERT_OK(vmdb_ring_read_line(r, line, sizeof line, &len));
    cr_assert_str_eq(line, "no newline yet, now\n");
    vmdb_ring_close(r);
}

Test(ring, printf_that_fits_exactly_is_whole)
{
    vmdb_ring *r = memory_ring(PAGE, 0);
    ASSERT_OK(vmdb_ring_commit(r, PAGE - 10));
    ASSERT_OK(vmdb_ring_consume(r, PAGE - 10));
    ASSERT_OK(vmdb_ring_commit(r, PAGE - 10));
    cr_assert_eq(vmdb_ring_avail(r), 10);
    ASSERT_OK(vmdb_ring_printf(r, "%s", "0123456789"));
    cr_assert_eq(vmdb_ring_avail(r), 0);
    ASSERT_OK(vmdb_ring_consume(r, PAGE - 10));
    char out[16];
    size_t n;
    ASSERT_OK(vmdb_ring_read(r, out, sizeof out, &n));
    cr_assert_eq(n, 10);
    cr_assert_eq(memcmp(out, "0123456789", 10), 0);
    vmdb_ring_close(r);
}

Test(ring, full_ring_without_newline_is_erange)
{
    vmdb_ring *r = memory_ring(PAGE, 0);
    size_t span;
    char *w = vmdb_ring_write_span(r, &span);
    memset(w, 'z', span);
    ASSERT_OK(vmdb_ring_commit(r, span));
    char line[16];
    size_t len;
    ASSERT_FAILS(vmdb_ring_read_line(r, line, sizeof line, &len), VMDB_ERANGE, "no newline");
    vmdb_ring_close(r);
}

Test(ring, overwrite_mode_drops_the_oldest_bytes)
{
    vmdb_ring *r = memory_ring(PAGE, VMDB_RING_OVERWRITE);
    uint64_t total = 3 * PAGE + 123;
    for (uint64_t i = 0; i < total; i += 8) {
        uint64_t v = i;
        ASSERT_OK(vmdb_ring_write(r, &v, sizeof v));
    }
    uint64_t written = (total + 7) / 8 * 8;
    cr_assert_eq(vmdb_ring_head(r), written);
    cr_assert_eq(vmdb_ring_used(r), PAGE, "full, never more");
    vmdb_ring_info info;
    ASSERT_OK(vmdb_ring_stat(r, &info));
    cr_assert_eq(info.dropped, written - PAGE);
    cr_assert(info.overwrite);
    /* What is left is exactly the newest cap bytes, in order. */
    uint64_t expect = written - PAGE, v;
    size_t n;
    while (vmdb_ring_read(r, &v, sizeof v, &n) == 0) {
        cr_assert_eq(n, sizeof v);
        cr_assert_eq(v, expect);
        expect += 8;
    }
    cr_assert_eq(expect, written);
    ASSERT_FAILS(vmdb_ring_make_room(r, PAGE + 1), VMDB_ERANGE, "can never fit");
    vmdb_ring_close(r);
}

/* Found by fuzz/fuzz_ring.c: in overwrite mode a consume moved the tail
 * but not the start of the consumer's span, so a second consume from the
 * same span, or one after read_line, failed with "the writer dropped
 * bytes" when no writer had dropped any. */
Test(ring, overwrite_mode_consumes_a_span_in_parts)
{
    vmdb_ring *r = memory_ring(PAGE, VMDB_RING_OVERWRITE);
    ASSERT_OK(vmdb_ring_printf(r, "first\nsecond\nrest"));
    size_t span;
    cr_assert_not_null(vmdb_ring_read_span(r, &span));
    cr_assert_eq(span, 17);
    ASSERT_OK(vmdb_ring_consume(r, 2));
    ASSERT_OK(vmdb_ring_consume(r, 4));
    cr_assert_eq(vmdb_ring_tail(r), 6);
    char line[16];
    size_t len;
    ASSERT_OK(vmdb_ring_read_line(r, line, sizeof line, &len));
    cr_assert_str_eq(line, "second\n");
    ASSERT_OK(vmdb_ring_consume(r, 4));
    cr_assert_eq(vmdb_ring_used(r), 0);
    /* A drop after the span was taken is still caught. */
    ASSERT_OK(vmdb_ring_printf(r, "%0*d", (int)PAGE, 1));
    cr_assert_not_null(vmdb_ring_read_span(r, &span));
    ASSERT_OK(vmdb_ring_consume(r, 1));
    ASSERT_OK(vmdb_ring_write(r, "xy", 2)); /* one byte is free: drops the oldest */
    ASSERT_FAILS(vmdb_ring_consume(r, 1), VMDB_EOVERRUN, "dropped bytes");
    vmdb_ring_close(r);
}

Test(ring, overwrite_mode_reports_a_span_dropped_while_read)
{
    vmdb_ring *r = memory_ring(PAGE, VMDB_RING_OVERWRITE);
    unsigned char *block = malloc(PAGE);
    fill_pattern(block, PAGE, 9);
    ASSERT_OK(vmdb_ring_write(r, block, PAGE));
    size_t span;
    const void *rd = vmdb_ring_read_span(r, &span);
    cr_assert_not_null(rd);
    cr_assert_eq(span, PAGE);
    ASSERT_OK(vmdb_ring_write(r, "new", 3)); /* drops the 3 oldest bytes */
    ASSERT_FAILS(vmdb_ring_consume(r, 16), VMDB_EOVERRUN, "dropped bytes [0, 3)");
    cr_assert_eq(vmdb_ring_tail(r), 3, "nothing consumed by the failed call");
    /* A fresh span consumes fine, and the formatted writer overwrites too. */
    vmdb_ring_read_span(r, &span);
    ASSERT_OK(vmdb_ring_consume(r, 16));
    ASSERT_OK(vmdb_ring_printf(r, "%0*d", (int)PAGE - 4, 7));
    cr_assert_eq(vmdb_ring_used(r), PAGE);
    free(block);
    vmdb_ring_close(r);
}

Test(ring, file_ring_reopens_with_data_and_positions)
{
    const char *path = test_path("log.ring");
    vmdb_ring *r = file_ring(path, 2 * PAGE, 0);
    for (int i = 0; i < 300; i++)
        ASSERT_OK(vmdb_ring_printf(r, "line %d\n", i));
    char line[32];
    size_t len;
    for (int i = 0; i < 100; i++)
        ASSERT_OK(vmdb_ring_read_line(r, line, sizeof line, &len));
    uint64_t head = vmdb_ring_head(r), tail = vmdb_ring_tail(r);
    vmdb_ring_close(r);

    vmdb_ring_options o = {0};
    ASSERT_OK(vmdb_ring_open(path, &o, &r));
    cr_assert_eq(vmdb_ring_cap(r), 2 * PAGE);
    cr_assert_eq(vmdb_ring_head(r), head);
    cr_assert_eq(vmdb_ring_tail(r), tail);
    ASSERT_OK(vmdb_ring_read_line(r, line, sizeof line, &len));
    cr_assert_str_eq(line, "line 100\n");
    vmdb_ring_close(r);
    remove_test_dir();
}

Test(ring, replace_puts_an_empty_ring_of_another_size_whose_positions_go_on)
{
    const char *path = test_path("grow.ring");
    vmdb_ring *old = file_ring(path, 2 * PAGE, 0);
    ASSERT_OK(vmdb_ring_printf(old, "before\n"));
    uint64_t head = vmdb_ring_head(old);
    const char user[] = "user bytes";
    vmdb_ring_options o = {.cap = 8 * PAGE};
    ASSERT_OK(vmdb_ring_replace(path, &o, head + 5, user, sizeof user));

    vmdb_ring *r;
    vmdb_ring_options plain = {0};
    ASSERT_OK(vmdb_ring_open(path, &plain, &r));
    cr_assert_eq(vmdb_ring_cap(r), 8 * PAGE);
    cr_assert_eq(vmdb_ring_head(r), head + 5, "the positions go on from where they were asked");
    cr_assert_eq(vmdb_ring_tail(r), head + 5, "and the new ring is empty");
    char got[sizeof user];
    ASSERT_OK(vmdb_ring_user(r, got, sizeof got));
    cr_assert_str_eq(got, user);
    ASSERT_OK(vmdb_ring_printf(r, "after\n"));
    /* The old handle maps the old file, unlinked, as it was. */
    char line[32];
    size_t len;
    ASSERT_OK(vmdb_ring_read_line(old, line, sizeof line, &len));
    cr_assert_str_eq(line, "before\n");
    vmdb_ring_close(old);
    vmdb_ring_close(r);
    ASSERT_FAILS(vmdb_ring_replace(path, &plain, 0, NULL, 0), VMDB_EINVAL, "cap");
    ASSERT_FAILS(vmdb_ring_replace(path, &o, 0, line, VMDB_RING_USER_LEN + 1), VMDB_ERANGE,
                 "user bytes");
    remove_test_dir();
}

Test(ring, file_ring_survives_a_killed_writer)
{
    const char *path = test_path("killed.ring");
    vmdb_ring_close(file_ring(path, PAGE, 0));
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        vmdb_ring *c;
        if (vmdb_ring_open(path, NULL, &c) != 0)
            _exit(1);
        for (uint64_t i = 0; i < 1000; i++) {
            if (vmdb_ring_used(c) + 8 > vmdb_ring_cap(c)) {
                uint64_t drop;
                size_t n;
                if (vmdb_ring_read(c, &drop, sizeof drop, &n) != 0)
                    _exit(2);
            }
            if (vmdb_ring_write(c, &i, sizeof i) != 0)
                _exit(3);
        }
        raise(SIGKILL); /* no close, no sync: the page cache keeps it all */
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
    vmdb_ring *r;
    ASSERT_OK(vmdb_ring_open(path, NULL, &r));
    cr_assert_eq(vmdb_ring_head(r), 8000);
    cr_assert_eq(vmdb_ring_used(r), PAGE);
    uint64_t v, expect = 1000 - PAGE / 8;
    size_t n;
    while (vmdb_ring_read(r, &v, sizeof v, &n) == 0)
        cr_assert_eq(v, expect++);
    cr_assert_eq(expect, 1000);
    vmdb_ring_close(r);
    remove_test_dir();
}

/* Reads the raw header page of a ring file. */
static void read_header(const char *path, unsigned char *page)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    cr_assert_eq(fread(page, 1, PAGE, f), PAGE);
    fclose(f);
}

static void write_at(const char *path, long off, const void *src, size_t len)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, off, SEEK_SET), 0);
    cr_assert_eq(fwrite(src, 1, len, f), len);
    fclose(f);
}

/* Field offsets of a header copy, as engine/mem/ring.c lays them out. */
enum { COPY_A = 0, COPY_B = 512, LIVE = 1024, F_VERSION = 8, F_SEQ = 24, F_HEAD = 32,
       F_TAIL = 40, F_SUM = 112 };

static uint64_t get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void reseal(unsigned char *copy)
{
    uint64_t sum = XXH3_64bits(copy, F_SUM);
    memcpy(copy + F_SUM, &sum, 8);
}

Test(ring, sync_alternates_header_copies_and_a_torn_copy_is_survived)
{
    const char *path = test_path("sync.ring");
    vmdb_ring *r = file_ring(path, PAGE, 0);
    ASSERT_OK(vmdb_ring_write(r, "first", 5));
    ASSERT_OK(vmdb_ring_sync(r)); /* seq 2 -> copy A */
    ASSERT_OK(vmdb_ring_write(r, "second", 6));
    ASSERT_OK(vmdb_ring_sync(r)); /* seq 3 -> copy B */
    vmdb_ring_info info;
    ASSERT_OK(vmdb_ring_stat(r, &info));
    cr_assert_eq(info.sync_seq, 3);
    cr_assert_eq(info.synced_head, 11);
    vmdb_ring_close(r);
    unsigned char *page = malloc(PAGE);
    read_header(path, page);
    cr_assert_eq(get64(page + COPY_A + F_SEQ), 2);
    cr_assert_eq(get64(page + COPY_A + F_HEAD), 5);
    cr_assert_eq(get64(page + COPY_B + F_SEQ), 3);
    cr_assert_eq(get64(page + COPY_B + F_HEAD), 11);

    /* Tear the newer copy and make the live positions stale, as a power
     * cut in the middle of the header write could: the older copy wins. */
    unsigned char junk[40];
    memset(junk, 0xAB, sizeof junk);
    write_at(path, COPY_B + F_SEQ, junk, sizeof junk);
    uint64_t zero[2] = {0, 0};
    write_at(path, LIVE, zero, 8);
    ASSERT_OK(vmdb_ring_open(path, NULL, &r));
    ASSERT_OK(vmdb_ring_stat(r, &info));
    cr_assert_eq(info.sync_seq, 2);
    cr_assert_eq(info.head, 5, "positions of the surviving copy");
    cr_assert_eq(info.tail, 0);
    char out[8];
    size_t n;
    ASSERT_OK(vmdb_ring_read(r, out, sizeof out, &n));
    cr_assert_eq(n, 5);
    cr_assert_eq(memcmp(out, "first", 5), 0);
    vmdb_ring_close(r);

    /* Both copies torn: refused, naming the file. */
    write_at(path, COPY_A + F_SEQ, junk, sizeof junk);
    ASSERT_FAILS(vmdb_ring_open(path, NULL, &r), VMDB_ECORRUPT, "sync.ring");
    cr_assert_null(r);
    free(page);
    remove_test_dir();
}

/* Issue 10, finding 1: the WAL of a database is one ring file that writer
 * processes take turns to sync. A handle that numbered its header copy
 * from its own count wrote a copy older than another handle's newest, and
 * after a power cut the open trusted that other, older copy. */
Test(ring, sync_numbers_its_copy_after_the_newest_copy_any_handle_wrote)
{
    const char *path = test_path("shared.ring");
    vmdb_ring *first = file_ring(path, PAGE, 0), *second;
    ASSERT_OK(vmdb_ring_open(path, NULL, &second));
    ASSERT_OK(vmdb_ring_write(second, "aa", 2));
    ASSERT_OK(vmdb_ring_sync(second));
    ASSERT_OK(vmdb_ring_write(second, "bb", 2));
    ASSERT_OK(vmdb_ring_sync(second));
    vmdb_ring_close(second);
    /* `first` still counts the one sync it saw at open. */
    ASSERT_OK(vmdb_ring_write(first, "cc", 2));
    ASSERT_OK(vmdb_ring_sync(first));
    vmdb_ring_close(first);

    unsigned char *page = malloc(PAGE);
    read_header(path, page);
    uint64_t seq_a = get64(page + COPY_A + F_SEQ), seq_b = get64(page + COPY_B + F_SEQ);
    unsigned newest = seq_a > seq_b ? COPY_A : COPY_B;
    cr_assert_eq(get64(page + newest + F_HEAD), 6,
                 "the newest copy (seq %llu and %llu) holds head %llu, not the last sync's 6",
                 (unsigned long long)seq_a, (unsigned long long)seq_b,
                 (unsigned long long)get64(page + newest + F_HEAD));
    /* After a power cut the live positions may be stale: the copies decide. */
    uint64_t zero = 0;
    write_at(path, LIVE, &zero, 8);
    vmdb_ring *r;
    ASSERT_OK(vmdb_ring_open(path, NULL, &r));
    vmdb_ring_info info;
    ASSERT_OK(vmdb_ring_stat(r, &info));
    cr_assert_eq(info.head, 6, "reopened at head %llu", (unsigned long long)info.head);
    vmdb_ring_close(r);
    free(page);
    remove_test_dir();
}

Test(ring, impossible_live_positions_fall_back_to_the_header)
{
    const char *path = test_path("live.ring");
    vmdb_ring *r = file_ring(path, PAGE, 0);
    ASSERT_OK(vmdb_ring_write(r, "abc", 3));
    ASSERT_OK(vmdb_ring_sync(r));
    vmdb_ring_close(r);
    uint64_t bad = 10 * PAGE; /* head - tail > cap */
    write_at(path, LIVE, &bad, 8);
    ASSERT_OK(vmdb_ring_open(path, NULL, &r));
    cr_assert_eq(vmdb_ring_head(r), 3);
    cr_assert_eq(vmdb_ring_tail(r), 0);
    vmdb_ring_close(r);
    remove_test_dir();
}

Test(ring, bad_files_are_refused_naming_them)
{
    vmdb_ring *r;
    const char *path = test_path("bad.ring");
    ASSERT_FAILS(vmdb_ring_open(path, NULL, &r), VMDB_ENOENT, "bad.ring");

    char text[5000];
    memset(text, 't', sizeof text);
    write_file(path, text, sizeof text);
    ASSERT_FAILS(vmdb_ring_open(path, NULL, &r), VMDB_EBADMAGIC, "bad.ring");
    write_file(path, "", 0);
    ASSERT_FAILS(vmdb_ring_open(path, NULL, &r), VMDB_EBADMAGIC, "bad.ring");
    write_file(path, "VMDBRING....", 12);
    ASSERT_FAILS(vmdb_ring_open(path, NULL, &r), VMDB_EBADSIZE, "truncated");

    /* A version from the future, properly sealed. */
    unlink(path);
    vmdb_ring_close(file_ring(path, PAGE, 0));
    unsigned char *page = malloc(PAGE);
    read_header(path, page);
    for (int c = 0; c < 2; c++) {
        uint32_t v = 99;
        memcpy(page + c * COPY_B + F_VERSION, &v, 4);
        reseal(page + c * COPY_B);
    }
    write_at(path, 0, page, PAGE);
    ASSERT_FAILS(vmdb_ring_open(path, NULL, &r), VMDB_EVERSION, "version 99");

    /* Positions that no ring can have, properly sealed. */
    unlink(path);
    vmdb_ring_close(file_ring(path, PAGE, 0));
    read_header(path, page);
    for (int c = 0; c < 2; c++) {
        uint64_t tail = 5;
        memcpy(page + c * COPY_B + F_TAIL, &tail, 8);
        reseal(page + c * COPY_B);
    }
    write_at(path, 0, page, PAGE);
    ASSERT_FAILS(vmdb_ring_open(path, NULL, &r), VMDB_ECORRUPT, "impossible");

    /* Data pages cut short. */
    unlink(path);
    vmdb_ring_close(file_ring(path, 4 * PAGE, 0));
    cr_assert_eq(truncate(path, 3 * PAGE), 0);
    ASSERT_FAILS(vmdb_ring_open(path, NULL, &r), VMDB_EBADSIZE, "truncated");
    cr_assert_null(r);
    free(page);
    remove_test_dir();
}

Test(ring, create_excl_and_cap_mismatch)
{
    const char *path = test_path("excl.ring");
    vmdb_ring_close(file_ring(path, PAGE, VMDB_RING_EXCL));
    vmdb_ring *r;
    vmdb_ring_options o = {.cap = PAGE, .flags = VMDB_RING_CREATE | VMDB_RING_EXCL};
    ASSERT_FAILS(vmdb_ring_open(path, &o, &r), VMDB_EEXIST, "excl.ring");
    o = (vmdb_ring_options){.cap = 8 * PAGE};
    ASSERT_FAILS(vmdb_ring_open(path, &o, &r), VMDB_EBADSIZE, "cap is 4096 bytes");
    o = (vmdb_ring_options){.cap = PAGE - 100}; /* rounds to the same cap */
    ASSERT_OK(vmdb_ring_open(path, &o, &r));
    vmdb_ring_close(r);
    remove_test_dir();
}

Test(ring, options_are_checked)
{
    vmdb_ring *r;
    vmdb_ring_options o = {0};
    ASSERT_FAILS(vmdb_ring_new(&o, &r), VMDB_EINVAL, "cap is required");
    ASSERT_FAILS(vmdb_ring_new(NULL, &r), VMDB_EINVAL, "vmdb_ring_new");
    o = (vmdb_ring_options){.cap = PAGE, .flags = VMDB_RING_CREATE};
    ASSERT_FAILS(vmdb_ring_new(&o, &r), VMDB_EINVAL, "apply to file rings");
    o = (vmdb_ring_options){.cap = PAGE, .flags = 1u << 20};
    ASSERT_FAILS(vmdb_ring_new(&o, &r), VMDB_EINVAL, "unknown flag");
    o = (vmdb_ring_options){.flags = VMDB_RING_CREATE};
    ASSERT_FAILS(vmdb_ring_open(test_path("x.ring"), &o, &r), VMDB_EINVAL, "cap is required");
    o = (vmdb_ring_options){.flags = VMDB_RING_EXCL};
    ASSERT_FAILS(vmdb_ring_open(test_path("x.ring"), &o, &r), VMDB_EINVAL, "EXCL");
    o = (vmdb_ring_options){.cap = PAGE, .advice = 42};
    ASSERT_FAILS(vmdb_ring_new(&o, &r), VMDB_EINVAL, "advice 42");
    cr_assert_null(r);
    remove_test_dir();
}

Test(ring, read_only_ring_refuses_to_move_positions)
{
    const char *path = test_path("ro.ring");
    vmdb_ring *w = file_ring(path, PAGE, 0);
    ASSERT_OK(vmdb_ring_write(w, "hello", 5));
    vmdb_ring *r;
    vmdb_ring_options o = {.flags = VMDB_RING_READONLY};
    ASSERT_OK(vmdb_ring_open(path, &o, &r));
    size_t span;
    const char *rd = vmdb_ring_read_span(r, &span);
    cr_assert_eq(span, 5);
    cr_assert_eq(memcmp(rd, "hello", 5), 0);
    cr_assert_null(vmdb_ring_write_span(r, &span));
    ASSERT_FAILS(vmdb_ring_write(r, "x", 1), VMDB_EREADONLY, "ro.ring");
    ASSERT_FAILS(vmdb_ring_consume(r, 1), VMDB_EREADONLY, "ro.ring");
    char out[8];
    size_t n;
    ASSERT_FAILS(vmdb_ring_read(r, out, sizeof out, &n), VMDB_EREADONLY, "ro.ring");
    ASSERT_FAILS(vmdb_ring_sync(r), VMDB_EREADONLY, "ro.ring");
    /* The writer's later commits show through the read-only map. */
    ASSERT_OK(vmdb_ring_write(w, " you", 4));
    cr_assert_eq(vmdb_ring_used(r), 9);
    vmdb_ring_close(r);
    vmdb_ring_close(w);
    remove_test_dir();
}

Test(ring, failed_flush_poisons_the_ring)
{
    const char *path = test_path("poison.ring");
    vmdb_ring *r = file_ring(path, PAGE, 0);
    ASSERT_OK(vmdb_ring_write(r, "abc", 3));
    ASSERT_OK(vmdb_ring_flush(r, 0, 3, VMDB_FLUSH_SYNC));
    ASSERT_FAILS(vmdb_ring_flush(r, 0, PAGE + 1, VMDB_FLUSH_SYNC), VMDB_ERANGE, "poison.ring");
    vmdb__os_inject_fault(VMDB__OS_OP_FLUSH, EIO, 0);
    ASSERT_FAILS(vmdb_ring_sync(r), VMDB_EIO, "poisoned");
    vmdb__os_clear_faults();
    ASSERT_FAILS(vmdb_ring_write(r, "d", 1), VMDB_EPOISONED, "poison.ring");
    ASSERT_FAILS(vmdb_ring_flush(r, 0, 3, VMDB_FLUSH_SYNC), VMDB_EPOISONED, "poison.ring");
    vmdb_ring_close(r);
    ASSERT_OK(vmdb_ring_open(path, NULL, &r));
    ASSERT_OK(vmdb_ring_write(r, "d", 1));
    vmdb_ring_close(r);
    remove_test_dir();
}

Test(ring, failed_mapping_is_reported)
{
    vmdb_ring *r;
    vmdb_ring_options o = {.cap = PAGE};
    vmdb__os_inject_fault(VMDB__OS_OP_MAP, ENOMEM, 1);
    ASSERT_FAILS(vmdb_ring_new(&o, &r), VMDB_ENOMEM, "map the 4096 data bytes twice");
    vmdb__os_clear_faults();
    cr_assert_null(r);
}

/* ---- two sides at once -------------------------------------------------- */

/* A message: a 4-byte length, the sequence number, then bytes derived from
 * it. Lengths vary so messages straddle the end at every offset. */
static size_t message_len(uint64_t seq)
{
    return 12 + (size_t)(XXH3_64bits(&seq, sizeof seq) % 200);
}

static void make_message(unsigned char *p, uint64_t seq)
{
    uint32_t len = (uint32_t)message_len(seq);
    memcpy(p, &len, 4);
    memcpy(p + 4, &seq, 8);
    for (uint32_t i = 12; i < len; i++)
        p[i] = (unsigned char)(seq + i);
}

static void check_message(const unsigned char *p, uint64_t seq)
{
    unsigned char want[256];
    make_message(want, seq);
    uint32_t len;
    memcpy(&len, p, 4);
    cr_assert_eq(len, message_len(seq), "message %llu: length %u", (unsigned long long)seq, len);
    cr_assert_eq(memcmp(p, want, len), 0, "message %llu is damaged", (unsigned long long)seq);
}

struct spsc {
    vmdb_ring *ring;
    uint64_t count;
};

static int produce(vmdb_ring *r, uint64_t count)
{
    for (uint64_t seq = 0; seq < count; seq++) {
        size_t len = message_len(seq), span;
        unsigned char *w;
        while ((w = vmdb_ring_write_span(r, &span)) && span < len)
            sched_yield();
        if (!w)
            return -1;
        make_message(w, seq);
        if (vmdb_ring_commit(r, len) != 0)
            return -1;
    }
    return 0;
}

static void *producer_thread(void *arg)
{
    struct spsc *s = arg;
    return produce(s->ring, s->count) == 0 ? NULL : (void *)1;
}

/* The consumer reads messages in place, never copying. */
static void consume_all(vmdb_ring *r, uint64_t count)
{
    uint64_t seq = 0;
    while (seq < count) {
        size_t have;
        const unsigned char *rd = vmdb_ring_read_span(r, &have);
        size_t used = 0;
        while (have - used >= 4) {
            uint32_t len;
            memcpy(&len, rd + used, 4);
            if (have - used < len)
                break;
            check_message(rd + used, seq++);
            used += len;
        }
        if (used)
            ASSERT_OK(vmdb_ring_consume(r, used));
        else
            sched_yield();
    }
}

Test(ring, two_threads_pass_messages_in_order_without_a_lock)
{
    const uint64_t count = 2000000;
    struct spsc s = {.ring = memory_ring(4 * PAGE, 0), .count = count};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, producer_thread, &s), 0);
    consume_all(s.ring, count);
    void *res;
    pthread_join(t, &res);
    cr_assert_null(res);
    cr_assert_eq(vmdb_ring_used(s.ring), 0);
    vmdb_ring_close(s.ring);
}

Test(ring, memory_ring_is_shared_with_a_forked_child)
{
    const uint64_t count = 500000;
    vmdb_ring *r = memory_ring(2 * PAGE, 0);
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int rc = produce(r, count);
        vmdb_ring_close(r); /* the child's copy of the handle */
        _exit(rc == 0 ? 0 : 1);
    }
    consume_all(r, count);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    vmdb_ring_close(r);
}

Test(ring, fill_and_drain_move_bytes_between_descriptors_and_the_ring)
{
    const char *in = test_path("in.bin"), *out = test_path("out.bin");
    size_t total = 3 * PAGE + 321;
    unsigned char *data = malloc(total);
    fill_pattern(data, total, 77);
    write_file(in, data, total);
    int ifd = open(in, O_RDONLY), ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(ifd >= 0 && ofd >= 0);
    /* A ring smaller than the file, started near its end so spans wrap. */
    vmdb_ring *r = memory_ring(PAGE, 0);
    ASSERT_OK(vmdb_ring_commit(r, PAGE - 100));
    ASSERT_OK(vmdb_ring_consume(r, PAGE - 100));
    size_t n, moved_in = 0, moved_out = 0;
    for (;;) {
        ASSERT_OK(vmdb_ring_fill(r, ifd, &n));
        moved_in += n;
        size_t m;
        ASSERT_OK(vmdb_ring_drain(r, ofd, &m));
        moved_out += m;
        if (n == 0 && vmdb_ring_used(r) == 0)
            break;
    }
    cr_assert_eq(moved_in, total);
    cr_assert_eq(moved_out, total);
    close(ifd);
    close(ofd);
    cr_assert_eq(file_size(out), total);
    unsigned char *back = malloc(total);
    FILE *f = fopen(out, "rb");
    cr_assert_eq(fread(back, 1, total, f), total);
    fclose(f);
    cr_assert_eq(memcmp(back, data, total), 0);
    ASSERT_FAILS(vmdb_ring_fill(r, -1, &n), VMDB_EINVAL, "vmdb_ring_fill");
    int bad = open(in, O_RDONLY);
    ASSERT_OK(vmdb_ring_write(r, "x", 1));
    ASSERT_FAILS(vmdb_ring_drain(r, bad, &n), VMDB_EIO, "write to fd");
    close(bad);
    free(data);
    free(back);
    vmdb_ring_close(r);
    remove_test_dir();
}

Test(ring, user_bytes_are_kept_with_the_synced_header)
{
    const char *path = test_path("user.ring");
    vmdb_ring *r = file_ring(path, PAGE, 0);
    char user[VMDB_RING_USER_LEN] = "salt and checkpoint";
    ASSERT_OK(vmdb_ring_set_user(r, user, sizeof user));
    ASSERT_FAILS(vmdb_ring_set_user(r, user, sizeof user + 1), VMDB_ERANGE, "user.ring");
    ASSERT_OK(vmdb_ring_write(r, "abc", 3));
    ASSERT_OK(vmdb_ring_sync(r));
    ASSERT_OK(vmdb_ring_set_user(r, "staged only", 12)); /* never synced */
    vmdb_ring_close(r);
    ASSERT_OK(vmdb_ring_open(path, NULL, &r));
    char back[VMDB_RING_USER_LEN];
    ASSERT_OK(vmdb_ring_user(r, back, sizeof back));
    cr_assert_str_eq(back, "salt and checkpoint");
    /* Reset moves both positions; below the tail is refused. */
    ASSERT_OK(vmdb_ring_reset(r, 100));
    cr_assert_eq(vmdb_ring_head(r), 100);
    cr_assert_eq(vmdb_ring_used(r), 0);
    ASSERT_FAILS(vmdb_ring_reset(r, 99), VMDB_ERANGE, "below the tail 100");
    ASSERT_OK(vmdb_ring_write(r, "x", 1));
    cr_assert_eq(vmdb_ring_head(r), 101);
    vmdb_ring_close(r);
    remove_test_dir();
}

/* Two handles of one ring file: the user bytes one syncs are what the
 * other reads next (the log's salt after another process's checkpoint),
 * not those it read at its open; its own staged ones stay its own. */
Test(ring, user_bytes_synced_by_another_handle_are_read_from_the_header)
{
    const char *path = test_path("user.ring");
    vmdb_ring *a = file_ring(path, PAGE, 0);
    vmdb_ring *b;
    char back[VMDB_RING_USER_LEN];
    ASSERT_OK(vmdb_ring_set_user(a, "first", 6));
    ASSERT_OK(vmdb_ring_sync(a));
    ASSERT_OK(vmdb_ring_open(path, NULL, &b));
    ASSERT_OK(vmdb_ring_set_user(a, "second", 7));
    ASSERT_OK(vmdb_ring_user(b, back, sizeof back));
    cr_assert_str_eq(back, "first", "staged, not synced: not the file's yet");
    ASSERT_OK(vmdb_ring_sync(a));
    ASSERT_OK(vmdb_ring_user(b, back, sizeof back));
    cr_assert_str_eq(back, "second");
    ASSERT_OK(vmdb_ring_set_user(b, "third", 6));
    ASSERT_OK(vmdb_ring_user(b, back, sizeof back));
    cr_assert_str_eq(back, "third", "a handle's staged bytes are its newest");
    vmdb_ring_close(a);
    vmdb_ring_close(b);
    remove_test_dir();
}
