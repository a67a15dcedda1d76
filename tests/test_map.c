/* SPDX-License-Identifier: MIT */
/* tests/test_map.c - file and anonymous maps: modes, offsets, options,
 * flush, protection, growth in place, and every error they document. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "helpers.h"
#include "os.h"
#include "os_fault.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

TestSuite(map, .timeout = SUITE_TIMEOUT);

#define PAGE 4096u

/* A file of `len` pattern bytes at test_path(name). */
static const char *pattern_file(const char *name, size_t len)
{
    const char *path = test_path(name);
    unsigned char *data = malloc(len);
    fill_pattern(data, len, 0);
    write_file(path, data, len);
    free(data);
    return path;
}

static void assert_pattern(const unsigned char *p, size_t len, uint64_t from)
{
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(p[i], pattern_byte(from + i), "byte %zu (file offset %llu) differs", i,
                     (unsigned long long)(from + i));
}

Test(map, maps_whole_file_read_only_by_default)
{
    const char *path = pattern_file("a.bin", 10000);
    vmdb_map *m;
    ASSERT_OK(vmdb_map_open(path, NULL, &m));
    cr_assert_eq(vmdb_map_len(m), 10000);
    assert_pattern(vmdb_map_ptr(m), 10000, 0);
    vmdb_map_info info;
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert_eq(info.mode, VMDB_MAP_READ);
    cr_assert_str_eq(info.path, path);
    cr_assert_eq(info.offset, 0);
    cr_assert_eq(info.reserved, 10000);
    cr_assert_eq(info.page_size, vmdb_page_size());
    cr_assert(!info.anonymous);
    vmdb_map_close(m);
    remove_test_dir();
}

Test(map, maps_region_at_unaligned_offset)
{
    const char *path = pattern_file("a.bin", 5 * PAGE);
    uint64_t offsets[] = {1, 4095, 4096, 5000, 3 * PAGE + 17};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        vmdb_map_options o = {.offset = offsets[i], .len = 1000};
        vmdb_map *m;
        ASSERT_OK(vmdb_map_open(path, &o, &m));
        cr_assert_eq(vmdb_map_len(m), 1000);
        assert_pattern(vmdb_map_ptr(m), 1000, offsets[i]);
        vmdb_map_info info;
        ASSERT_OK(vmdb_map_stat(m, &info));
        cr_assert_eq(info.offset, offsets[i]);
        vmdb_map_close(m);
    }
    /* len 0 maps from the offset to the end of the file. */
    vmdb_map_options o = {.offset = 9999};
    vmdb_map *m;
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    cr_assert_eq(vmdb_map_len(m), 5 * PAGE - 9999);
    assert_pattern(vmdb_map_ptr(m), 5 * PAGE - 9999, 9999);
    vmdb_map_close(m);
    remove_test_dir();
}

Test(map, missing_file_is_enoent_naming_it)
{
    const char *path = test_path("nope.bin");
    vmdb_map *m = (vmdb_map *)1;
    ASSERT_FAILS(vmdb_map_open(path, NULL, &m), VMDB_ENOENT, path);
    cr_assert_null(m);
    remove_test_dir();
}

Test(map, offset_beyond_end_is_erange_naming_file)
{
    const char *path = pattern_file("short.bin", 100);
    vmdb_map *m;
    vmdb_map_options o = {.offset = 8192};
    ASSERT_FAILS(vmdb_map_open(path, &o, &m), VMDB_ERANGE, path);
    cr_assert(strstr(vmdb_last_error()->message, "8192") != NULL);
    o = (vmdb_map_options){.offset = 50, .len = 51};
    ASSERT_FAILS(vmdb_map_open(path, &o, &m), VMDB_ERANGE, path);
    o = (vmdb_map_options){.offset = UINT64_MAX - 10, .len = 100, .flags = VMDB_MAP_CREATE};
    ASSERT_FAILS(vmdb_map_open(path, &o, &m), VMDB_ERANGE, path);
    cr_assert_eq(file_size(path), 100, "a failed open must not change the file");
    remove_test_dir();
}

Test(map, directory_is_refused)
{
    vmdb_map *m;
    ASSERT_FAILS(vmdb_map_open(test_dir(), NULL, &m), VMDB_EINVAL, test_dir());
    remove_test_dir();
}

Test(map, bad_options_are_einval)
{
    const char *path = pattern_file("a.bin", 100);
    vmdb_map *m;
    vmdb_map_options o = {.mode = (enum vmdb_map_mode)42};
    ASSERT_FAILS(vmdb_map_open(path, &o, &m), VMDB_EINVAL, "mode 42");
    o = (vmdb_map_options){.advice = (enum vmdb_advice)9};
    ASSERT_FAILS(vmdb_map_open(path, &o, &m), VMDB_EINVAL, "advice 9");
    o = (vmdb_map_options){.flags = 1u << 30};
    ASSERT_FAILS(vmdb_map_open(path, &o, &m), VMDB_EINVAL, "flag");
    o = (vmdb_map_options){.flags = VMDB_MAP_EXCL};
    ASSERT_FAILS(vmdb_map_open(path, &o, &m), VMDB_EINVAL, "EXCL");
    ASSERT_FAILS(vmdb_map_open(NULL, NULL, &m), VMDB_EINVAL, "path");
    remove_test_dir();
}

Test(map, create_makes_and_extends_file_with_blocks)
{
    const char *path = test_path("new.bin");
    vmdb_map *m;
    vmdb_map_options o = {.len = 3 * PAGE + 5, .mode = VMDB_MAP_WRITE, .flags = VMDB_MAP_CREATE};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    cr_assert_eq(file_size(path), 3 * PAGE + 5);
    unsigned char *p = vmdb_map_ptr(m);
    for (size_t i = 0; i < 3 * PAGE + 5; i++)
        cr_assert_eq(p[i], 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_geq((uint64_t)st.st_blocks * 512, 3 * PAGE + 5, "blocks were not reserved");
    vmdb_map_close(m);
    /* An existing shorter file is extended and keeps its bytes. */
    const char *old = pattern_file("old.bin", 100);
    o.len = 2 * PAGE;
    ASSERT_OK(vmdb_map_open(old, &o, &m));
    cr_assert_eq(file_size(old), 2 * PAGE);
    assert_pattern(vmdb_map_ptr(m), 100, 0);
    vmdb_map_close(m);
    remove_test_dir();
}

Test(map, create_excl_refuses_existing_file)
{
    const char *path = pattern_file("a.bin", 100);
    vmdb_map *m;
    vmdb_map_options o = {.len = 100, .flags = VMDB_MAP_CREATE | VMDB_MAP_EXCL};
    ASSERT_FAILS(vmdb_map_open(path, &o, &m), VMDB_EEXIST, path);
    remove_test_dir();
}

Test(map, writable_map_stores_reach_the_file)
{
    const char *path = pattern_file("a.bin", 2 * PAGE);
    vmdb_map *m;
    vmdb_map_options o = {.mode = VMDB_MAP_WRITE, .offset = 100, .len = 200};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    memset(vmdb_map_ptr(m), 0xAB, 50);
    ASSERT_OK(vmdb_map_write(m, 150, "vmdb", 4));
    ASSERT_OK(vmdb_map_flush(m, 0, 0, VMDB_FLUSH_SYNC));
    ASSERT_OK(vmdb_map_flush(m, 10, 20, VMDB_FLUSH_ASYNC));
    vmdb_map_close(m);
    size_t len;
    unsigned char *data = read_file(path, &len);
    cr_assert_eq(len, 2 * PAGE);
    assert_pattern(data, 100, 0);
    for (int i = 100; i < 150; i++)
        cr_assert_eq(data[i], 0xAB);
    cr_assert_eq(memcmp(data + 250, "vmdb", 4), 0);
    assert_pattern(data + 300, 2 * PAGE - 300, 300);
    free(data);
    remove_test_dir();
}

Test(map, private_map_never_changes_the_file)
{
    const char *path = pattern_file("a.bin", PAGE);
    vmdb_map *m;
    vmdb_map_options o = {.mode = VMDB_MAP_PRIVATE};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    memset(vmdb_map_ptr(m), 0, PAGE);
    ASSERT_OK(vmdb_map_write(m, 0, "x", 1));
    ASSERT_OK(vmdb_map_flush(m, 0, 0, VMDB_FLUSH_SYNC));
    cr_assert_eq(((unsigned char *)vmdb_map_ptr(m))[0], 'x');
    vmdb_map_close(m);
    size_t len;
    unsigned char *data = read_file(path, &len);
    assert_pattern(data, PAGE, 0);
    free(data);
    remove_test_dir();
}

Test(map, read_only_map_refuses_writes_through_the_api)
{
    const char *path = pattern_file("ro.bin", PAGE);
    vmdb_map *m;
    ASSERT_OK(vmdb_map_open(path, NULL, &m));
    ASSERT_FAILS(vmdb_map_write(m, 0, "x", 1), VMDB_EREADONLY, path);
    assert_pattern(vmdb_map_ptr(m), PAGE, 0);
    vmdb_map_close(m);
    remove_test_dir();
}

Test(map, copies_are_bounds_checked)
{
    const char *path = pattern_file("a.bin", 1000);
    vmdb_map *m;
    vmdb_map_options o = {.mode = VMDB_MAP_WRITE};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    char buf[16];
    ASSERT_OK(vmdb_map_read(m, 990, buf, 10));
    ASSERT_FAILS(vmdb_map_read(m, 991, buf, 10), VMDB_ERANGE, path);
    ASSERT_FAILS(vmdb_map_read(m, UINT64_MAX, buf, 2), VMDB_ERANGE, path);
    ASSERT_FAILS(vmdb_map_write(m, 995, buf, 6), VMDB_ERANGE, path);
    ASSERT_FAILS(vmdb_map_flush(m, 500, 501, VMDB_FLUSH_SYNC), VMDB_ERANGE, path);
    ASSERT_FAILS(vmdb_map_advise(m, 2000, 1, VMDB_ADVICE_RANDOM), VMDB_ERANGE, path);
    vmdb_map_close(m);
    remove_test_dir();
}

Test(map, protect_switches_modes_in_place)
{
    const char *path = pattern_file("a.bin", PAGE);
    vmdb_map *m;
    /* Without UPGRADABLE the file is opened read-only: no way to write. */
    ASSERT_OK(vmdb_map_open(path, NULL, &m));
    ASSERT_FAILS(vmdb_map_protect(m, VMDB_MAP_WRITE), VMDB_EACCES, path);
    vmdb_map_close(m);

    vmdb_map_options o = {.flags = VMDB_MAP_UPGRADABLE};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    unsigned char *p = vmdb_map_ptr(m);
    ASSERT_FAILS(vmdb_map_write(m, 0, "z", 1), VMDB_EREADONLY, path);
    ASSERT_OK(vmdb_map_protect(m, VMDB_MAP_WRITE));
    cr_assert_eq(vmdb_map_ptr(m), p, "protect must not move the map");
    p[0] = 'z';
    ASSERT_OK(vmdb_map_protect(m, VMDB_MAP_READ));
    ASSERT_FAILS(vmdb_map_write(m, 0, "y", 1), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb_map_protect(m, VMDB_MAP_PRIVATE), VMDB_EINVAL, path);
    vmdb_map_close(m);
    size_t len;
    unsigned char *data = read_file(path, &len);
    cr_assert_eq(data[0], 'z');
    free(data);

    o = (vmdb_map_options){.mode = VMDB_MAP_PRIVATE};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    ASSERT_FAILS(vmdb_map_protect(m, VMDB_MAP_READ), VMDB_EINVAL, "private");
    vmdb_map_close(m);
    remove_test_dir();
}

Test(map, open_fd_keeps_its_own_descriptor)
{
    const char *path = pattern_file("a.bin", 3 * PAGE);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    vmdb_map *m;
    vmdb_map_options o = {.mode = VMDB_MAP_WRITE};
    ASSERT_FAILS(vmdb_map_open_fd(fd, &o, &m), VMDB_EACCES, "read-only");
    o = (vmdb_map_options){.offset = PAGE + 1, .len = 100};
    ASSERT_OK(vmdb_map_open_fd(fd, &o, &m));
    close(fd);
    assert_pattern(vmdb_map_ptr(m), 100, PAGE + 1);
    vmdb_map_info info;
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert_null(info.path);
    vmdb_map_close(m);
    ASSERT_FAILS(vmdb_map_open_fd(-1, NULL, &m), VMDB_EINVAL, "descriptor");
    remove_test_dir();
}

Test(map, grow_in_place_keeps_pointer_and_bytes)
{
    const char *path = test_path("grow.bin");
    vmdb_map *m;
    vmdb_map_options o = {.len = 100,
                          .reserve = 64 << 20,
                          .mode = VMDB_MAP_WRITE,
                          .flags = VMDB_MAP_CREATE};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    unsigned char *p = vmdb_map_ptr(m);
    fill_pattern(p, 100, 0);
    uint64_t sizes[] = {101, PAGE, PAGE + 1, 3 * PAGE + 7, 5 << 20, 64 << 20};
    uint64_t have = 100;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ASSERT_OK(vmdb_map_grow(m, sizes[i]));
        cr_assert_eq(vmdb_map_ptr(m), p, "growth moved the map");
        cr_assert_eq(vmdb_map_len(m), sizes[i]);
        cr_assert_eq(file_size(path), sizes[i]);
        assert_pattern(p, have, 0);
        fill_pattern(p + have, sizes[i] - have, have); /* the new bytes are writable */
        have = sizes[i];
    }
    ASSERT_OK(vmdb_map_flush(m, 0, 0, VMDB_FLUSH_SYNC));
    vmdb_map_close(m);
    ASSERT_OK(vmdb_map_open(path, NULL, &m));
    cr_assert_eq(vmdb_map_len(m), 64 << 20);
    assert_pattern(vmdb_map_ptr(m), 64 << 20, 0);
    vmdb_map_close(m);
    remove_test_dir();
}

Test(map, grow_past_reservation_is_efull)
{
    const char *path = test_path("grow.bin");
    vmdb_map *m;
    vmdb_map_options o = {.len = PAGE, .reserve = 4 * PAGE, .mode = VMDB_MAP_WRITE,
                          .flags = VMDB_MAP_CREATE};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    ASSERT_OK(vmdb_map_grow(m, 4 * PAGE));
    ASSERT_FAILS(vmdb_map_grow(m, 4 * PAGE + 1), VMDB_EFULL, path);
    ASSERT_FAILS(vmdb_map_grow(m, PAGE), VMDB_EINVAL, path);
    cr_assert_eq(vmdb_map_len(m), 4 * PAGE);
    cr_assert_eq(file_size(path), 4 * PAGE);
    vmdb_map_close(m);
    remove_test_dir();
}

/* A movable map reserves four times its length, moves to a larger
 * reservation when it outgrows that, and keeps its old places mapped on
 * the same file pages until close. */
Test(map, movable_map_moves_past_its_reservation_and_old_pointers_see_the_file)
{
    const char *path = test_path("move.bin");
    vmdb_map *m;
    vmdb_map_options o = {.len = 3 * PAGE + 5, .reserve = 8 * PAGE, .mode = VMDB_MAP_WRITE,
                          .flags = VMDB_MAP_CREATE | VMDB_MAP_MOVABLE};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    vmdb_map_info info;
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert_eq(info.reserved, 4 * o.len, "four times len, more than `reserve`");
    unsigned char *first = vmdb_map_ptr(m);
    fill_pattern(first, o.len, 0);
    ASSERT_OK(vmdb_map_grow(m, 4 * o.len)); /* fits: in place */
    cr_assert_eq(vmdb_map_ptr(m), first);
    uint64_t len = 4 * o.len + 1;
    ASSERT_OK(vmdb_map_grow(m, len));
    unsigned char *second = vmdb_map_ptr(m);
    cr_assert_neq(second, first, "growth past the reservation moves the map");
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert_eq(info.reserved, 4 * len);
    cr_assert_eq(info.len, len);
    assert_pattern(second, o.len, 0);
    fill_pattern(second + o.len, len - o.len, o.len);
    /* One file under both places: a store through either shows in the
     * other. */
    second[7] ^= 0xFF;
    cr_assert_eq(first[7], (unsigned char)(pattern_byte(7) ^ 0xFF));
    first[7] ^= 0xFF;
    assert_pattern(second, len, 0);
    assert_pattern(first, 4 * o.len, 0);
    ASSERT_OK(vmdb_map_flush(m, 0, 0, VMDB_FLUSH_SYNC));
    cr_assert_eq(file_size(path), len);
    /* Room asked for ahead: within the reservation nothing moves; past
     * it the map moves now, with the same length. */
    ASSERT_OK(vmdb_map_make_room(m, 4 * len));
    cr_assert_eq(vmdb_map_ptr(m), second);
    ASSERT_OK(vmdb_map_make_room(m, 4 * len + 1));
    unsigned char *third = vmdb_map_ptr(m);
    cr_assert_neq(third, second);
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert_geq(info.reserved, 4 * len + 1);
    cr_assert_eq(info.len, len);
    assert_pattern(third, len, 0);
    assert_pattern(second, len, 0);
    vmdb_map_close(m);
    remove_test_dir();
}

Test(map, movable_needs_a_shared_file_map)
{
    const char *path = pattern_file("f.bin", PAGE);
    vmdb_map *m;
    vmdb_map_options o = {.mode = VMDB_MAP_PRIVATE, .flags = VMDB_MAP_MOVABLE};
    ASSERT_FAILS(vmdb_map_open(path, &o, &m), VMDB_EINVAL, "private");
    o = (vmdb_map_options){.len = PAGE, .flags = VMDB_MAP_MOVABLE};
    ASSERT_FAILS(vmdb_map_anon(&o, &m), VMDB_EINVAL, "MOVABLE");
    /* Without the flag there is no moving: no room past the reservation. */
    o = (vmdb_map_options){.reserve = 2 * PAGE};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    ASSERT_FAILS(vmdb_map_make_room(m, 2 * PAGE + 1), VMDB_EFULL, path);
    vmdb_map_close(m);
    remove_test_dir();
}

Test(map, empty_file_with_reservation_grows_from_zero)
{
    const char *path = test_path("empty.bin");
    vmdb_map *m;
    vmdb_map_options o = {.reserve = 1 << 20, .mode = VMDB_MAP_WRITE, .flags = VMDB_MAP_CREATE};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    cr_assert_eq(vmdb_map_len(m), 0);
    ASSERT_OK(vmdb_map_grow(m, 10));
    ASSERT_OK(vmdb_map_write(m, 0, "0123456789", 10));
    vmdb_map_close(m);
    cr_assert_eq(file_size(path), 10);
    remove_test_dir();
}

Test(map, read_only_map_follows_a_file_grown_elsewhere)
{
    const char *path = test_path("shared.bin");
    vmdb_map *w, *r;
    vmdb_map_options wo = {.len = PAGE, .reserve = 1 << 20, .mode = VMDB_MAP_WRITE,
                           .flags = VMDB_MAP_CREATE};
    ASSERT_OK(vmdb_map_open(path, &wo, &w));
    vmdb_map_options ro = {.reserve = 1 << 20};
    ASSERT_OK(vmdb_map_open(path, &ro, &r));
    ASSERT_FAILS(vmdb_map_grow(r, 2 * PAGE), VMDB_ERANGE, path);
    ASSERT_OK(vmdb_map_grow(w, 10 * PAGE));
    ASSERT_OK(vmdb_map_write(w, 9 * PAGE, "tail", 4));
    ASSERT_OK(vmdb_map_grow(r, 10 * PAGE));
    cr_assert_eq(memcmp((char *)vmdb_map_ptr(r) + 9 * PAGE, "tail", 4), 0);
    vmdb_map_close(w);
    vmdb_map_close(r);
    remove_test_dir();
}

struct grow_race {
    vmdb_map *map;
    int stop; /* atomic: the main thread sets it once growth is done */
    uint64_t checks;
};

/* Reads every byte the map claims to have while another thread grows it:
 * a reader must never fault and never see a byte that is not the file's. */
static void *read_while_growing(void *arg)
{
    struct grow_race *g = arg;
    const unsigned char *p = vmdb_map_ptr(g->map);
    while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
        uint64_t len = vmdb_map_len(g->map);
        for (uint64_t i = 0; i < len; i += 509)
            cr_assert_eq(p[i], pattern_byte(i), "byte %llu", (unsigned long long)i);
        __atomic_add_fetch(&g->checks, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

Test(map, readers_keep_reading_while_the_map_grows)
{
    const char *path = pattern_file("a.bin", 64 << 20);
    vmdb_map_options o = {.len = PAGE, .reserve = 64 << 20};
    struct grow_race g = {0};
    ASSERT_OK(vmdb_map_open(path, &o, &g.map));
    const void *base = vmdb_map_ptr(g.map);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, read_while_growing, &g), 0);
    for (uint64_t len = 2 * PAGE; len <= 64 << 20; len += 257 * PAGE) {
        ASSERT_OK(vmdb_map_grow(g.map, len));
        /* Let the reader finish a pass over each new length. */
        uint64_t seen = __atomic_load_n(&g.checks, __ATOMIC_ACQUIRE);
        while (__atomic_load_n(&g.checks, __ATOMIC_ACQUIRE) < seen + 2)
            sched_yield();
    }
    ASSERT_OK(vmdb_map_grow(g.map, 64 << 20));
    __atomic_store_n(&g.stop, 1, __ATOMIC_RELEASE);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_gt(g.checks, 0);
    cr_assert_eq(vmdb_map_ptr(g.map), base);
    vmdb_map_close(g.map);
    remove_test_dir();
}

/* Growth on a full disk: RLIMIT_FSIZE makes the file system refuse bytes
 * past 1 MiB with EFBIG, the same verdict as ENOSPC for the caller. */
Test(map, growth_on_full_disk_is_enospc_not_sigbus)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {.rlim_cur = 1 << 20, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    const char *path = test_path("full.bin");
    vmdb_map *m;
    vmdb_map_options o = {.len = PAGE, .reserve = 16 << 20, .mode = VMDB_MAP_WRITE,
                          .flags = VMDB_MAP_CREATE};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    ASSERT_OK(vmdb_map_write(m, 0, "kept", 4));
    ASSERT_FAILS(vmdb_map_grow(m, 8 << 20), VMDB_ENOSPC, path);
    cr_assert_eq(vmdb_map_len(m), PAGE, "a failed growth must not change the length");
    ASSERT_OK(vmdb_map_grow(m, 512 << 10));
    cr_assert_eq(memcmp(vmdb_map_ptr(m), "kept", 4), 0);
    vmdb_map_close(m);

    o.len = 2 << 20;
    ASSERT_FAILS(vmdb_map_open(test_path("big.bin"), &o, &m), VMDB_ENOSPC, "big.bin");

    /* ENOSPC proper, from the os seam. */
    vmdb__os_inject_fault(VMDB__OS_OP_ALLOCATE, ENOSPC, 0);
    o.len = PAGE;
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    vmdb__os_inject_fault(VMDB__OS_OP_ALLOCATE, ENOSPC, 0);
    ASSERT_FAILS(vmdb_map_grow(m, 2 * PAGE), VMDB_ENOSPC, "No space left");
    vmdb_map_close(m);
    remove_test_dir();
}

Test(map, failed_flush_poisons_the_map)
{
    const char *path = pattern_file("a.bin", 4 * PAGE);
    vmdb_map *m;
    vmdb_map_options o = {.mode = VMDB_MAP_WRITE, .reserve = 1 << 20};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    ASSERT_OK(vmdb_map_write(m, 0, "x", 1));
    vmdb__os_inject_fault(VMDB__OS_OP_FLUSH, EIO, 0);
    ASSERT_FAILS(vmdb_map_flush(m, 0, 0, VMDB_FLUSH_SYNC), VMDB_EIO, path);
    cr_assert(strstr(vmdb_last_error()->message, "poisoned") != NULL);
    ASSERT_FAILS(vmdb_map_flush(m, 0, 0, VMDB_FLUSH_SYNC), VMDB_EPOISONED, path);
    ASSERT_FAILS(vmdb_map_write(m, 0, "y", 1), VMDB_EPOISONED, path);
    ASSERT_FAILS(vmdb_map_grow(m, 8 * PAGE), VMDB_EPOISONED, path);
    vmdb_map_info info;
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert(info.poisoned);
    vmdb_map_close(m);
    /* Reopening is the way back. */
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    ASSERT_OK(vmdb_map_flush(m, 0, 0, VMDB_FLUSH_SYNC));
    vmdb_map_close(m);
    remove_test_dir();
}

Test(map, failed_map_call_is_reported_with_file_offset)
{
    const char *path = pattern_file("a.bin", 4 * PAGE);
    vmdb_map *m = (vmdb_map *)1;
    vmdb__os_inject_fault(VMDB__OS_OP_MAP, ENOMEM, 0);
    ASSERT_FAILS(vmdb_map_open(path, NULL, &m), VMDB_ENOMEM, path);
    cr_assert_null(m);
    remove_test_dir();
}

Test(map, anonymous_memory_is_zeroed_and_writable)
{
    vmdb_map *m;
    vmdb_map_options o = {.len = 3 * PAGE + 1};
    ASSERT_OK(vmdb_map_anon(&o, &m));
    unsigned char *p = vmdb_map_ptr(m);
    for (size_t i = 0; i < 3 * PAGE + 1; i++)
        cr_assert_eq(p[i], 0);
    memset(p, 7, 3 * PAGE + 1);
    vmdb_map_info info;
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert(info.anonymous);
    cr_assert_eq(info.mode, VMDB_MAP_WRITE);
    cr_assert_null(info.path);
    ASSERT_OK(vmdb_map_flush(m, 0, 0, VMDB_FLUSH_SYNC)); /* nothing to do */
    ASSERT_OK(vmdb_map_grow(m, 3 * PAGE + 1));
    ASSERT_FAILS(vmdb_map_grow(m, 4 * PAGE), VMDB_EFULL, "anonymous map");
    vmdb_map_close(m);

    o = (vmdb_map_options){0};
    ASSERT_FAILS(vmdb_map_anon(&o, &m), VMDB_EINVAL, "len or reserve");
    o = (vmdb_map_options){.len = PAGE, .flags = VMDB_MAP_CREATE};
    ASSERT_FAILS(vmdb_map_anon(&o, &m), VMDB_EINVAL, "files");
    o = (vmdb_map_options){.len = PAGE, .mode = VMDB_MAP_READ};
    ASSERT_OK(vmdb_map_anon(&o, &m));
    ASSERT_FAILS(vmdb_map_write(m, 0, "x", 1), VMDB_EREADONLY, "anonymous map");
    ASSERT_OK(vmdb_map_protect(m, VMDB_MAP_WRITE));
    ASSERT_OK(vmdb_map_write(m, 0, "x", 1));
    vmdb_map_close(m);
}

/* Forks a child that writes into the map; returns what the parent sees. */
static unsigned char byte_after_child_writes(unsigned flags)
{
    vmdb_map *m;
    vmdb_map_options o = {.len = PAGE, .flags = flags};
    ASSERT_OK(vmdb_map_anon(&o, &m));
    pid_t pid = fork_child();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        ((unsigned char *)vmdb_map_ptr(m))[10] = 0x5A;
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unsigned char b = ((unsigned char *)vmdb_map_ptr(m))[10];
    vmdb_map_close(m);
    return b;
}

Test(map, shared_anonymous_memory_is_seen_by_forked_children)
{
    cr_assert_eq(byte_after_child_writes(VMDB_MAP_SHARED), 0x5A);
    cr_assert_eq(byte_after_child_writes(0), 0, "private memory leaked into the parent");
}

Test(map, populate_prefaults_every_page)
{
    vmdb_map *m;
    uint64_t resident;
    vmdb_map_options o = {.len = 256 * PAGE};
    ASSERT_OK(vmdb_map_anon(&o, &m));
    ASSERT_OK(vmdb_map_resident_bytes(m, &resident));
    cr_assert_lt(resident, 256 * PAGE, "untouched memory should not all be resident");
    vmdb_map_close(m);

    o.flags = VMDB_MAP_POPULATE;
    o.reserve = 1024 * PAGE;
    ASSERT_OK(vmdb_map_anon(&o, &m));
    ASSERT_OK(vmdb_map_resident_bytes(m, &resident));
    cr_assert_eq(resident, 256 * PAGE);
    ASSERT_OK(vmdb_map_grow(m, 512 * PAGE));
    ASSERT_OK(vmdb_map_resident_bytes(m, &resident));
    cr_assert_eq(resident, 512 * PAGE, "growth must populate the new pages too");
    vmdb_map_info info;
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert(info.populated);
    vmdb_map_close(m);
}

Test(map, advice_is_kept_for_growth_and_dontneed_drops_pages)
{
    vmdb_map *m;
    vmdb_map_options o = {.len = 16 * PAGE, .reserve = 64 * PAGE, .advice = VMDB_ADVICE_RANDOM};
    ASSERT_OK(vmdb_map_anon(&o, &m));
    vmdb_map_info info;
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert_eq(info.advice, VMDB_ADVICE_RANDOM);
    ASSERT_OK(vmdb_map_advise(m, 0, 0, VMDB_ADVICE_SEQUENTIAL));
    ASSERT_OK(vmdb_map_advise(m, PAGE + 3, 10, VMDB_ADVICE_WILLNEED));
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert_eq(info.advice, VMDB_ADVICE_SEQUENTIAL, "one-off advice must not replace it");
    ASSERT_OK(vmdb_map_grow(m, 32 * PAGE));
    ASSERT_FAILS(vmdb_map_advise(m, 0, 0, (enum vmdb_advice)77), VMDB_EINVAL, "advice 77");
    /* DONTNEED on private anonymous memory gives zero pages back. */
    memset(vmdb_map_ptr(m), 1, 32 * PAGE);
    ASSERT_OK(vmdb_map_advise(m, 0, 0, VMDB_ADVICE_DONTNEED));
    cr_assert_eq(((unsigned char *)vmdb_map_ptr(m))[5 * PAGE], 0);
    vmdb_map_close(m);
}

Test(map, lock_in_ram_pins_pages)
{
    vmdb_map *m;
    vmdb_map_options o = {.len = 16 * PAGE, .reserve = 32 * PAGE, .flags = VMDB_MAP_LOCK};
    int rc = vmdb_map_anon(&o, &m);
    if (rc == VMDB_ENOMEM || rc == VMDB_EACCES)
        cr_skip_test("RLIMIT_MEMLOCK too low here: %s", vmdb_last_error()->message);
    ASSERT_OK(rc);
    vmdb_map_info info;
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert(info.locked);
    ASSERT_OK(vmdb_map_grow(m, 32 * PAGE));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) /* the sanitizers turn mlock into a no-op */
    uint64_t resident;
    ASSERT_OK(vmdb_map_resident_bytes(m, &resident));
    cr_assert_eq(resident, 32 * PAGE, "mlock faults every page in, grown ones too");
#endif
    ASSERT_OK(vmdb_map_lock_ram(m, false));
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert(!info.locked);
    vmdb_map_close(m);
}

static bool thp_disabled(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return true;
    char line[128] = "";
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    return strstr(line, "[never]") != NULL;
}

Test(map, huge_try_gets_huge_pages_where_the_system_has_them)
{
    size_t huge = vmdb__os_huge_page_size();
    vmdb_map *m;
    vmdb_map_options o = {.len = 8 * huge, .huge = VMDB_HUGE_TRY};
    ASSERT_OK(vmdb_map_anon(&o, &m));
    vmdb_map_info info;
    ASSERT_OK(vmdb_map_stat(m, &info));
    if (vmdb__os_hugetlb_free() >= 8) {
        cr_assert_eq(info.pages, VMDB_PAGES_HUGETLB);
        cr_assert_eq(info.page_size, huge);
    } else if (thp_disabled()) {
        cr_assert_eq(info.pages, VMDB_PAGES_NORMAL);
    } else {
        cr_assert_eq(info.pages, VMDB_PAGES_THP);
    }
    cr_assert_eq((uintptr_t)vmdb_map_ptr(m) % huge, 0, "huge pages need an aligned map");
    memset(vmdb_map_ptr(m), 1, 8 * huge);
    uint64_t bytes;
    ASSERT_OK(vmdb_map_huge_bytes(m, &bytes));
    cr_assert_leq(bytes, 8 * huge);
    if (info.pages != VMDB_PAGES_NORMAL)
        cr_assert_gt(bytes, 0, "the kernel backed none of the map with huge pages");
    vmdb_map_close(m);

    /* Without the option, an anonymous map reports ordinary pages. */
    o.huge = VMDB_HUGE_OFF;
    ASSERT_OK(vmdb_map_anon(&o, &m));
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert_eq(info.pages, VMDB_PAGES_NORMAL);
    vmdb_map_close(m);
}

Test(map, huge_require_fails_cleanly_without_a_hugetlb_pool)
{
    size_t huge = vmdb__os_huge_page_size();
    vmdb_map *m = (vmdb_map *)1;
    vmdb_map_options o = {.len = 2 * huge, .huge = VMDB_HUGE_REQUIRE};
    if (vmdb__os_hugetlb_free() >= 2) {
        ASSERT_OK(vmdb_map_anon(&o, &m));
        vmdb_map_info info;
        ASSERT_OK(vmdb_map_stat(m, &info));
        cr_assert_eq(info.pages, VMDB_PAGES_HUGETLB);
        vmdb_map_close(m);
    } else {
        ASSERT_FAILS(vmdb_map_anon(&o, &m), VMDB_EUNSUPPORTED, "nr_hugepages");
        cr_assert_null(m);
    }
}

Test(map, huge_advice_on_a_file_map_never_fails_with_try)
{
    const char *path = pattern_file("a.bin", 4 << 20);
    vmdb_map *m;
    vmdb_map_options o = {.huge = VMDB_HUGE_TRY};
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    vmdb_map_info info;
    ASSERT_OK(vmdb_map_stat(m, &info));
    cr_assert(info.pages == VMDB_PAGES_THP || info.pages == VMDB_PAGES_NORMAL);
    if (thp_disabled())
        cr_assert_eq(info.pages, VMDB_PAGES_NORMAL);
    assert_pattern(vmdb_map_ptr(m), 4 << 20, 0);
    vmdb_map_close(m);
    remove_test_dir();
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) /* a sanitizer's shadow memory cannot live under RLIMIT_AS */
/* Where a large reservation is refused (here: an address-space limit),
 * RESERVE_SHRINK takes less room to grow instead of failing. */
Test(map, refused_reservation_shrinks_when_asked)
{
    if (RUNNING_ON_VALGRIND)
        cr_skip_test("valgrind keeps its own address space under RLIMIT_AS");
    pid_t pid = fork_child();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        struct rlimit lim = {.rlim_cur = (rlim_t)64 << 30, .rlim_max = RLIM_INFINITY};
        if (setrlimit(RLIMIT_AS, &lim) != 0)
            _exit(10);
        vmdb_map *m;
        vmdb_map_options o = {.len = 1 << 20, .reserve = (uint64_t)1 << 40};
        if (vmdb_map_anon(&o, &m) != VMDB_ENOMEM)
            _exit(11); /* without the flag: refused */
        o.flags = VMDB_MAP_RESERVE_SHRINK;
        if (vmdb_map_anon(&o, &m) != 0)
            _exit(12);
        vmdb_map_info info;
        vmdb_map_stat(m, &info);
        if (info.reserved >= (uint64_t)1 << 40 || info.reserved < o.len)
            _exit(13);
        if (vmdb_map_grow(m, info.reserved) != 0 || vmdb_map_grow(m, info.reserved + 1) != VMDB_EFULL)
            _exit(14);
        vmdb_map_close(m);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exit %d",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}
#endif

Test(map, punch_gives_whole_pages_back_keeps_the_length_and_reads_zeros)
{
    if (on_tmpfs(test_dir()))
        cr_skip_test("%s is a tmpfs, where nothing is given back", test_dir());
    const char *path = pattern_file("a.bin", 16 * PAGE);
    vmdb_map_options o = {.mode = VMDB_MAP_WRITE};
    vmdb_map *m;
    ASSERT_OK(vmdb_map_open(path, &o, &m));
    ASSERT_OK(vmdb_map_flush(m, 0, 0, VMDB_FLUSH_SYNC));
    struct stat before;
    cr_assert_eq(stat(path, &before), 0);
    /* [PAGE + 1, 9 * PAGE - 1) rounds inwards to pages 2 .. 7. */
    ASSERT_OK(vmdb_map_punch(m, PAGE + 1, 8 * PAGE - 2));
    const unsigned char *p = vmdb_map_ptr(m);
    assert_pattern(p, 2 * PAGE, 0);
    for (uint64_t i = 2 * PAGE; i < 8 * PAGE; i++)
        cr_assert_eq(p[i], 0, "byte %llu of a punched page", (unsigned long long)i);
    assert_pattern(p + 8 * PAGE, 8 * PAGE, 8 * PAGE);
    struct stat after;
    cr_assert_eq(stat(path, &after), 0);
    cr_assert_eq(after.st_size, 16 * PAGE, "the file keeps its length");
    cr_assert_leq(after.st_blocks * 512, before.st_blocks * 512 - 6 * PAGE,
                  "six pages went back: %lld -> %lld bytes", (long long)before.st_blocks * 512,
                  (long long)after.st_blocks * 512);
    /* Less than a page, or nothing: no change. */
    ASSERT_OK(vmdb_map_punch(m, 9 * PAGE + 1, PAGE - 2));
    ASSERT_OK(vmdb_map_punch(m, 10 * PAGE, 0));
    assert_pattern(p + 8 * PAGE, 8 * PAGE, 8 * PAGE);
    ASSERT_FAILS(vmdb_map_punch(m, 15 * PAGE, 2 * PAGE), VMDB_ERANGE, "a.bin");
    vmdb_map_close(m);
    ASSERT_OK(vmdb_map_open(path, NULL, &m));
    ASSERT_FAILS(vmdb_map_punch(m, 0, PAGE), VMDB_EINVAL, "a.bin");
    vmdb_map_close(m);
    remove_test_dir();
}
