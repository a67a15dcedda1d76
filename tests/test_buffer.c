/* SPDX-License-Identifier: MIT */
/* tests/test_buffer.c - the typed buffer: elements, stream, strings,
 * persistence, growth, the lock, and the typed wrappers. */
#include <errno.h>
#include <pthread.h>

#include "helpers.h"
#include "os_fault.h"

TestSuite(buffer, .timeout = SUITE_TIMEOUT);

struct point {
    int32_t x, y;
    double weight;
};

VMDB_BUFFER_TYPED(points, struct point)

Test(buffer, new_buffer_is_zeroed_with_its_geometry)
{
    vmdb_buffer *b;
    ASSERT_OK(vmdb_buffer_new(24, 1000, NULL, &b));
    cr_assert_eq(vmdb_buffer_elem_size(b), 24);
    cr_assert_eq(vmdb_buffer_capacity(b), 1000);
    cr_assert_eq(vmdb_buffer_byte_size(b), 24000);
    const unsigned char *p = vmdb_buffer_ptr(b);
    cr_assert_not_null(p);
    for (size_t i = 0; i < 24000; i++)
        cr_assert_eq(p[i], 0);
    cr_assert_not_null(vmdb_buffer_map(b));
    cr_assert_eq(vmdb_map_ptr(vmdb_buffer_map(b)), p);
    vmdb_buffer_close(b);
    ASSERT_FAILS(vmdb_buffer_new(0, 10, NULL, &b), VMDB_EINVAL, "element size");
    ASSERT_FAILS(vmdb_buffer_new(16, UINT64_MAX / 8, NULL, &b), VMDB_ERANGE, "overflow");
}

Test(buffer, get_and_set_are_bounds_checked)
{
    vmdb_buffer *b;
    ASSERT_OK(vmdb_buffer_new(sizeof(uint64_t), 10, NULL, &b));
    for (uint64_t i = 0; i < 10; i++)
        ASSERT_OK(vmdb_buffer_set(b, i, &(uint64_t){i * i}));
    for (uint64_t i = 0; i < 10; i++) {
        uint64_t v;
        ASSERT_OK(vmdb_buffer_get(b, i, &v));
        cr_assert_eq(v, i * i);
    }
    uint64_t v = 7;
    ASSERT_FAILS(vmdb_buffer_get(b, 10, &v), VMDB_ERANGE, "index 10");
    cr_assert_eq(v, 7, "a failed get must not write");
    ASSERT_FAILS(vmdb_buffer_set(b, UINT64_MAX, &v), VMDB_ERANGE, "anonymous buffer");
    void *ptr = (void *)1;
    ASSERT_FAILS(vmdb_buffer_at(b, 11, &ptr), VMDB_ERANGE, "capacity 10");
    cr_assert_null(ptr);
    ASSERT_OK(vmdb_buffer_at(b, 3, &ptr));
    cr_assert_eq(*(uint64_t *)ptr, 9);
    vmdb_buffer_close(b);
}

Test(buffer, file_buffer_persists_in_place)
{
    const char *path = test_path("ints.bin");
    vmdb_buffer *b;
    ASSERT_OK(vmdb_buffer_open(path, sizeof(uint32_t), 100, NULL, &b));
    cr_assert_eq(file_size(path), 400);
    for (uint32_t i = 0; i < 100; i++)
        ASSERT_OK(vmdb_buffer_set(b, i, &(uint32_t){i + 1000}));
    ASSERT_OK(vmdb_buffer_flush(b, VMDB_FLUSH_SYNC));
    vmdb_buffer_close(b);

    /* count 0 takes the file as it is; a larger count extends it. */
    ASSERT_OK(vmdb_buffer_open(path, sizeof(uint32_t), 0, NULL, &b));
    cr_assert_eq(vmdb_buffer_capacity(b), 100);
    uint32_t v;
    ASSERT_OK(vmdb_buffer_get(b, 99, &v));
    cr_assert_eq(v, 1099);
    vmdb_buffer_close(b);
    ASSERT_OK(vmdb_buffer_open(path, sizeof(uint32_t), 150, NULL, &b));
    cr_assert_eq(file_size(path), 600);
    ASSERT_OK(vmdb_buffer_get(b, 0, &v));
    cr_assert_eq(v, 1000);
    vmdb_buffer_close(b);
    /* A smaller count never cuts the file short. */
    ASSERT_OK(vmdb_buffer_open(path, sizeof(uint32_t), 10, NULL, &b));
    cr_assert_eq(vmdb_buffer_capacity(b), 150);
    vmdb_buffer_close(b);
    remove_test_dir();
}

Test(buffer, file_of_wrong_size_is_refused_naming_it)
{
    const char *path = test_path("odd.bin");
    write_file(path, "0123456789", 10);
    vmdb_buffer *b = (vmdb_buffer *)1;
    ASSERT_FAILS(vmdb_buffer_open(path, 4, 0, NULL, &b), VMDB_EBADSIZE, path);
    cr_assert_null(b);
    cr_assert(strstr(vmdb_last_error()->message, "10") && strstr(vmdb_last_error()->message, "4"));
    ASSERT_FAILS(vmdb_buffer_load(path, 3, NULL, &b), VMDB_EBADSIZE, path);
    cr_assert_eq(file_size(path), 10, "a refused file must be left alone");
    ASSERT_FAILS(vmdb_buffer_load(test_path("missing.bin"), 3, NULL, &b), VMDB_ENOENT,
                 "missing.bin");
    ASSERT_FAILS(vmdb_buffer_load(test_dir(), 3, NULL, &b), VMDB_EINVAL, "regular file");
    remove_test_dir();
}

Test(buffer, read_only_buffer_refuses_writes)
{
    const char *path = test_path("ro.bin");
    write_file(path, "abcdefgh", 8);
    vmdb_buffer_options o = {.flags = VMDB_BUFFER_READONLY};
    vmdb_buffer *b;
    ASSERT_OK(vmdb_buffer_open(path, 2, 0, &o, &b));
    char two[2];
    ASSERT_OK(vmdb_buffer_get(b, 3, two));
    cr_assert_eq(memcmp(two, "gh", 2), 0);
    ASSERT_FAILS(vmdb_buffer_set(b, 0, "zz"), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb_buffer_write(b, "zz", 2), VMDB_EREADONLY, path);
    cr_assert_eq(vmdb_buffer_tell(b), 0, "a failed write must not move the position");
    vmdb_buffer_close(b);
    ASSERT_FAILS(vmdb_buffer_open(path, 2, 10, &o, &b), VMDB_ERANGE, path);
    ASSERT_FAILS(vmdb_buffer_open(test_path("none.bin"), 2, 1, &o, &b), VMDB_ENOENT, "none.bin");
    size_t len;
    unsigned char *data = read_file(path, &len);
    cr_assert_eq(memcmp(data, "abcdefgh", 8), 0);
    free(data);
    remove_test_dir();
}

Test(buffer, save_and_load_round_trip)
{
    const char *path = test_path("saved.bin");
    vmdb_buffer *b, *c;
    ASSERT_OK(points_new(50, NULL, &b));
    for (int i = 0; i < 50; i++)
        ASSERT_OK(points_set(b, (uint64_t)i, &(struct point){i, -i, i / 3.0}));
    ASSERT_OK(vmdb_buffer_save(b, path));
    cr_assert_eq(file_size(path), 50 * sizeof(struct point));
    cr_assert_eq(access(test_path("saved.bin.vmdb-save"), F_OK), -1, "temporary file left");
    ASSERT_OK(points_load(path, NULL, &c));
    cr_assert_eq(points_count(c), 50);
    cr_assert_eq(memcmp(points_data(b), points_data(c), 50 * sizeof(struct point)), 0);
    /* A loaded buffer is a copy: changing it leaves the file alone. */
    ASSERT_OK(points_set(c, 0, &(struct point){99, 99, 99}));
    vmdb_buffer_close(c);
    ASSERT_OK(points_load(path, NULL, &c));
    struct point p;
    ASSERT_OK(points_get(c, 0, &p));
    cr_assert_eq(p.x, 0);
    vmdb_buffer_close(c);
    vmdb_buffer_close(b);
    remove_test_dir();
}

Test(buffer, failed_save_keeps_the_old_file)
{
    const char *path = test_path("saved.bin");
    write_file(path, "old!", 4);
    vmdb_buffer *b;
    ASSERT_OK(vmdb_buffer_new(1, 8, NULL, &b));
    ASSERT_OK(vmdb_buffer_write(b, "newbytes", 8));
    vmdb__os_inject_fault(VMDB__OS_OP_RENAME, EIO, 0);
    ASSERT_FAILS(vmdb_buffer_save(b, path), VMDB_EIO, path);
    vmdb__os_inject_fault(VMDB__OS_OP_WRITE, ENOSPC, 0);
    ASSERT_FAILS(vmdb_buffer_save(b, path), VMDB_ENOSPC, "saved.bin.vmdb-save");
    size_t len;
    unsigned char *data = read_file(path, &len);
    cr_assert_eq(len, 4);
    cr_assert_eq(memcmp(data, "old!", 4), 0);
    free(data);
    cr_assert_eq(access(test_path("saved.bin.vmdb-save"), F_OK), -1, "temporary file left");
    ASSERT_FAILS(vmdb_buffer_save(b, test_path("no/such/dir/x.bin")), VMDB_ENOENT, "no/such/dir");
    vmdb_buffer_close(b);
    remove_test_dir();
}

Test(buffer, stream_reads_writes_and_seeks)
{
    vmdb_buffer *b;
    ASSERT_OK(vmdb_buffer_new(4, 4, NULL, &b)); /* 16 bytes */
    cr_assert(!vmdb_buffer_eos(b));
    ASSERT_OK(vmdb_buffer_write(b, "0123456789", 10));
    cr_assert_eq(vmdb_buffer_tell(b), 10);
    ASSERT_FAILS(vmdb_buffer_write(b, "abcdefg", 7), VMDB_ERANGE, "does not fit");
    cr_assert_eq(vmdb_buffer_tell(b), 10, "a write that does not fit writes nothing");
    cr_assert_eq(((char *)vmdb_buffer_ptr(b))[10], 0);
    ASSERT_OK(vmdb_buffer_write(b, "abcdef", 6));
    cr_assert(vmdb_buffer_eos(b));

    uint64_t pos;
    ASSERT_OK(vmdb_buffer_seek(b, 0, SEEK_SET, &pos));
    cr_assert_eq(pos, 0);
    char got[32];
    size_t n;
    ASSERT_OK(vmdb_buffer_read(b, got, 4, &n));
    cr_assert_eq(n, 4);
    cr_assert_eq(memcmp(got, "0123", 4), 0);
    ASSERT_OK(vmdb_buffer_seek(b, 2, SEEK_CUR, &pos));
    cr_assert_eq(pos, 6);
    ASSERT_OK(vmdb_buffer_seek(b, -3, SEEK_END, &pos));
    cr_assert_eq(pos, 13);
    ASSERT_OK(vmdb_buffer_read(b, got, sizeof got, &n));
    cr_assert_eq(n, 3, "a read past the end returns what is left");
    cr_assert_eq(memcmp(got, "def", 3), 0);
    ASSERT_OK(vmdb_buffer_read(b, got, sizeof got, &n));
    cr_assert_eq(n, 0);
    cr_assert(vmdb_buffer_eos(b));

    ASSERT_OK(vmdb_buffer_seek(b, 14, SEEK_SET, NULL));
    ASSERT_FAILS(vmdb_buffer_read_exact(b, got, 3), VMDB_ERANGE, "only 2 remain");
    cr_assert_eq(vmdb_buffer_tell(b), 14);
    ASSERT_FAILS(vmdb_buffer_seek(b, 17, SEEK_SET, NULL), VMDB_ERANGE, "[0, 16]");
    ASSERT_FAILS(vmdb_buffer_seek(b, -15, SEEK_CUR, NULL), VMDB_ERANGE, "leaves");
    ASSERT_FAILS(vmdb_buffer_seek(b, 1, SEEK_END, NULL), VMDB_ERANGE, "leaves");
    ASSERT_FAILS(vmdb_buffer_seek(b, INT64_MIN, SEEK_END, NULL), VMDB_ERANGE, "leaves");
    ASSERT_FAILS(vmdb_buffer_seek(b, 0, 99, NULL), VMDB_EINVAL, "whence 99");
    cr_assert_eq(vmdb_buffer_tell(b), 14);
    vmdb_buffer_close(b);
}

Test(buffer, stream_write_grows_up_to_max_count)
{
    vmdb_buffer_options o = {.max_count = 1 << 20};
    vmdb_buffer *b;
    ASSERT_OK(vmdb_buffer_new(8, 2, &o, &b));
    const void *base = vmdb_buffer_ptr(b);
    unsigned char chunk[1000];
    for (int i = 0; i < 100; i++) {
        fill_pattern(chunk, sizeof chunk, (uint64_t)i * sizeof chunk);
        ASSERT_OK(vmdb_buffer_write(b, chunk, sizeof chunk));
    }
    cr_assert_eq(vmdb_buffer_ptr(b), base, "growth moved the buffer");
    cr_assert_geq(vmdb_buffer_byte_size(b), 100000);
    cr_assert_leq(vmdb_buffer_capacity(b), 1 << 20);
    const unsigned char *p = base;
    for (size_t i = 0; i < 100000; i++)
        cr_assert_eq(p[i], pattern_byte(i));
    ASSERT_OK(vmdb_buffer_grow(b, 1 << 20));
    ASSERT_FAILS(vmdb_buffer_grow(b, (1 << 20) + 1), VMDB_EFULL, "max_count");
    ASSERT_FAILS(vmdb_buffer_grow(b, 5), VMDB_EINVAL, "shrink");
    ASSERT_OK(vmdb_buffer_seek(b, 0, SEEK_END, NULL));
    ASSERT_FAILS(vmdb_buffer_write(b, "x", 1), VMDB_ERANGE, "max_count");
    vmdb_buffer_close(b);
}

Test(buffer, file_buffer_grows_its_file)
{
    const char *path = test_path("log.bin");
    vmdb_buffer_options o = {.max_count = 1 << 16};
    vmdb_buffer *b;
    ASSERT_OK(vmdb_buffer_open(path, 16, 1, &o, &b));
    for (int i = 0; i < 1000; i++)
        ASSERT_OK(vmdb_buffer_write_str(b, "sixteen-ish line", 16));
    ASSERT_OK(vmdb_buffer_flush(b, VMDB_FLUSH_SYNC));
    uint64_t cap = vmdb_buffer_capacity(b);
    vmdb_buffer_close(b);
    cr_assert_eq(file_size(path), cap * 16);
    ASSERT_OK(vmdb_buffer_open(path, 16, 0, NULL, &b));
    for (int i = 0; i < 1000; i++) {
        char s[32];
        size_t len;
        ASSERT_OK(vmdb_buffer_read_str(b, s, sizeof s, &len));
        cr_assert_str_eq(s, "sixteen-ish line");
    }
    vmdb_buffer_close(b);
    remove_test_dir();
}

Test(buffer, strings_round_trip_with_length_prefix)
{
    vmdb_buffer *b;
    ASSERT_OK(vmdb_buffer_new(1, 256, NULL, &b));
    ASSERT_OK(vmdb_buffer_write_str(b, "Hello Virtual World", 19));
    ASSERT_OK(vmdb_buffer_write_str(b, "", 0));
    ASSERT_OK(vmdb_buffer_write_str(b, "nul\0inside", 10));
    const unsigned char *p = vmdb_buffer_ptr(b);
    cr_assert_eq(p[0], 19);
    cr_assert_eq(p[1] | p[2] | p[3], 0, "the prefix is little-endian u32");
    ASSERT_OK(vmdb_buffer_seek(b, 0, SEEK_SET, NULL));

    char s[64];
    size_t len;
    ASSERT_FAILS(vmdb_buffer_read_str(b, s, 19, &len), VMDB_ERANGE, "needs 20");
    cr_assert_eq(len, 19, "a short destination still learns the length");
    cr_assert_eq(vmdb_buffer_tell(b), 0);
    ASSERT_OK(vmdb_buffer_read_str(b, s, sizeof s, &len));
    cr_assert_str_eq(s, "Hello Virtual World");
    ASSERT_OK(vmdb_buffer_read_str(b, s, sizeof s, &len));
    cr_assert_eq(len, 0);
    cr_assert_str_eq(s, "");
    const char *view;
    ASSERT_OK(vmdb_buffer_view_str(b, &view, &len));
    cr_assert_eq(len, 10);
    cr_assert_eq(memcmp(view, "nul\0inside", 10), 0);
    cr_assert_eq(view, (const char *)p + 4 + 19 + 4 + 4, "a view must not copy");
    vmdb_buffer_close(b);
}

Test(buffer, corrupt_string_prefix_is_ecorrupt)
{
    const char *path = test_path("strings.bin");
    unsigned char bad[12] = {200, 0, 0, 0, 'a', 'b'};
    write_file(path, bad, sizeof bad);
    vmdb_buffer *b;
    ASSERT_OK(vmdb_buffer_open(path, 1, 0, NULL, &b));
    char s[300];
    size_t len;
    ASSERT_FAILS(vmdb_buffer_read_str(b, s, sizeof s, &len), VMDB_ECORRUPT, path);
    cr_assert(strstr(vmdb_last_error()->message, "200") != NULL);
    const char *view = (const char *)1;
    ASSERT_FAILS(vmdb_buffer_view_str(b, &view, &len), VMDB_ECORRUPT, path);
    cr_assert_null(view);
    ASSERT_OK(vmdb_buffer_seek(b, -2, SEEK_END, NULL));
    ASSERT_FAILS(vmdb_buffer_read_str(b, s, sizeof s, &len), VMDB_ERANGE, "end of stream");
    vmdb_buffer_close(b);
    remove_test_dir();
}

Test(buffer, typed_wrappers_check_the_element_size)
{
    vmdb_buffer *b;
    ASSERT_OK(points_new(4, NULL, &b));
    struct point a = {1, 2, 0.5}, got;
    ASSERT_OK(points_set(b, 3, &a));
    ASSERT_OK(points_get(b, 3, &got));
    cr_assert(got.x == 1 && got.y == 2 && got.weight == 0.5);
    struct point *ptr;
    ASSERT_OK(points_at(b, 3, &ptr));
    cr_assert_eq(ptr, &points_data(b)[3]);
    ptr->weight = 2.0;
    ASSERT_OK(points_write(b, &a));
    ASSERT_OK(vmdb_buffer_seek(b, 0, SEEK_SET, NULL));
    ASSERT_OK(points_read(b, &got));
    cr_assert_eq(got.x, 1);
    ASSERT_OK(vmdb_buffer_seek(b, -4, SEEK_END, NULL));
    ASSERT_FAILS(points_read(b, &got), VMDB_ERANGE, "remain");
    ASSERT_FAILS(points_get(b, 4, &got), VMDB_ERANGE, "index 4");
    vmdb_buffer_close(b);

    ASSERT_OK(vmdb_buffer_new(3, 4, NULL, &b));
    ASSERT_FAILS(points_get(b, 0, &got), VMDB_EINVAL, "3 bytes");
    ASSERT_FAILS(points_at(b, 0, &ptr), VMDB_EINVAL, "3 bytes");
    cr_assert_null(ptr);
    cr_assert_null(points_data(b));
    vmdb_buffer_close(b);
}

#define WRITERS 4
#define PER_WRITER 20000

struct writer {
    vmdb_buffer *buf;
    uint32_t id;
};

static void *append_records(void *arg)
{
    struct writer *w = arg;
    for (uint32_t i = 0; i < PER_WRITER; i++) {
        uint32_t rec[2] = {w->id, i};
        cr_assert_eq(vmdb_buffer_write(w->buf, rec, sizeof rec), 0);
    }
    return NULL;
}

/* Four threads append to one stream. Without the lock, two writers take
 * the same position and records are lost; with it, every record lands
 * exactly once and each writer's records keep their order. */
Test(buffer, thread_safe_mode_serialises_every_call)
{
    vmdb_buffer_options o = {.flags = VMDB_BUFFER_THREAD_SAFE};
    vmdb_buffer *b;
    ASSERT_OK(vmdb_buffer_new(8, WRITERS * PER_WRITER, &o, &b));
    pthread_t t[WRITERS];
    struct writer w[WRITERS];
    for (uint32_t i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){b, i + 1};
        cr_assert_eq(pthread_create(&t[i], NULL, append_records, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        cr_assert_eq(pthread_join(t[i], NULL), 0);
    cr_assert(vmdb_buffer_eos(b));
    uint32_t next[WRITERS + 1] = {0};
    const uint32_t *rec = vmdb_buffer_ptr(b);
    for (uint64_t i = 0; i < WRITERS * PER_WRITER; i++) {
        uint32_t id = rec[2 * i], seq = rec[2 * i + 1];
        cr_assert(id >= 1 && id <= WRITERS, "record %llu has no writer", (unsigned long long)i);
        cr_assert_eq(seq, next[id], "writer %u: record %u where %u was due", id, seq, next[id]);
        next[id]++;
    }
    /* The lock is recursive, so callers can group calls under it. */
    vmdb_buffer_lock(b);
    ASSERT_OK(vmdb_buffer_seek(b, 0, SEEK_SET, NULL));
    uint32_t first[2];
    ASSERT_OK(vmdb_buffer_read_exact(b, first, sizeof first));
    vmdb_buffer_unlock(b);
    cr_assert_eq(first[1], 0);
    vmdb_buffer_close(b);
}

Test(buffer, failed_flush_poisons_a_file_buffer)
{
    const char *path = test_path("p.bin");
    vmdb_buffer *b;
    ASSERT_OK(vmdb_buffer_open(path, 8, 16, NULL, &b));
    ASSERT_OK(vmdb_buffer_set(b, 0, "12345678"));
    vmdb__os_inject_fault(VMDB__OS_OP_FLUSH, EIO, 0);
    ASSERT_FAILS(vmdb_buffer_flush(b, VMDB_FLUSH_SYNC), VMDB_EIO, path);
    ASSERT_FAILS(vmdb_buffer_set(b, 1, "12345678"), VMDB_EPOISONED, path);
    vmdb_buffer_close(b);
    remove_test_dir();
}

Test(buffer, options_are_checked)
{
    vmdb_buffer *b;
    vmdb_buffer_options o = {.flags = 1u << 9};
    ASSERT_FAILS(vmdb_buffer_new(8, 1, &o, &b), VMDB_EINVAL, "flag");
    o = (vmdb_buffer_options){.map_flags = VMDB_MAP_CREATE};
    ASSERT_FAILS(vmdb_buffer_new(8, 1, &o, &b), VMDB_EINVAL, "map_flags");
    o = (vmdb_buffer_options){.flags = VMDB_BUFFER_READONLY};
    ASSERT_FAILS(vmdb_buffer_new(8, 1, &o, &b), VMDB_EINVAL, "files");
    /* Options reach the map underneath. */
    o = (vmdb_buffer_options){.map_flags = VMDB_MAP_POPULATE, .advice = VMDB_ADVICE_RANDOM};
    ASSERT_OK(vmdb_buffer_new(4096, 8, &o, &b));
    vmdb_map_info info;
    ASSERT_OK(vmdb_map_stat(vmdb_buffer_map(b), &info));
    cr_assert(info.populated);
    cr_assert_eq(info.advice, VMDB_ADVICE_RANDOM);
    vmdb_buffer_close(b);
    /* An empty buffer is legal and grows like any other. */
    o = (vmdb_buffer_options){.max_count = 4};
    ASSERT_OK(vmdb_buffer_new(8, 0, &o, &b));
    cr_assert(vmdb_buffer_eos(b));
    ASSERT_OK(vmdb_buffer_write(b, "8 bytes!", 8));
    cr_assert_eq(vmdb_buffer_capacity(b), 1);
    vmdb_buffer_close(b);
}
