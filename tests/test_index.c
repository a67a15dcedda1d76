/* SPDX-License-Identifier: MIT */
/* tests/test_index.c - the primary hash index: insert, find and remove
 * against a fake table, forced hash collisions, backward-shift deletion
 * and random operations against a reference model, growth in place,
 * reopen, every damaged file open refuses, a read-only child process that
 * follows the parent's growth, and lock-free readers racing the writer. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <xxhash.h>

#include "helpers.h"
#include "index.h"
#include "os_fault.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

TestSuite(index, .timeout = SUITE_TIMEOUT);

/* Byte offsets of the header fields (engine/store/index.c). */
#define OFF_MAGIC 0
#define OFF_VERSION 8
#define OFF_HEADER_SIZE 12
#define OFF_ENTRY_SIZE 16
#define OFF_CHECKSUM 24
#define OFF_SEQ 64
#define OFF_ACTIVE 72
#define OFF_COUNT 128
#define HEADER 4096u


/* splitmix64: a small, good generator whose state is one word. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---- a fake table: keys[rid] is the key of record rid ------------------- */

#define KEY_CAP 32

struct table {
    char (*keys)[KEY_CAP];
    uint64_t rows;
    uint64_t calls; /* match calls, counted atomically */
    int fail_with;  /* nonzero: match returns this error */
    unsigned dawdle; /* busy-loop iterations on each refused candidate */
};

static struct table *table_new(uint64_t rows)
{
    struct table *t = calloc(1, sizeof *t);
    cr_assert_not_null(t);
    t->keys = calloc(rows, KEY_CAP);
    cr_assert_not_null(t->keys);
    t->rows = rows;
    for (uint64_t rid = 0; rid < rows; rid++)
        snprintf(t->keys[rid], KEY_CAP, "key-%llu", (unsigned long long)rid);
    return t;
}

static void table_free(struct table *t)
{
    free(t->keys);
    free(t);
}

/* The match callback: the record at rid holds the key. It checks rid
 * against the table's bounds, as index.h requires. */
static int table_match(void *ctx, uint64_t rid, const void *key, size_t len)
{
    struct table *t = ctx;
    __atomic_fetch_add(&t->calls, 1, __ATOMIC_RELAXED);
    if (t->fail_with)
        return t->fail_with;
    if (rid < t->rows && strlen(t->keys[rid]) == len && memcmp(t->keys[rid], key, len) == 0)
        return 1;
    /* A slow refusal holds the reader in the middle of a cluster, where
     * the writer's shifts can move entries past it. */
    for (volatile unsigned i = 0; i < t->dawdle; i++)
        ;
    return 0;
}

static uint64_t real_hash(const struct table *t, uint64_t rid)
{
    return vmdb__index_hash(t->keys[rid], strlen(t->keys[rid]));
}

/* Looks up the key of record `rid` under `hash`. */
static int find_with(vmdb__index *ix, struct table *t, uint64_t hash, uint64_t rid, uint64_t *got)
{
    return vmdb__index_find(ix, hash, t->keys[rid], strlen(t->keys[rid]), table_match, t, got);
}

static void assert_found(vmdb__index *ix, struct table *t, uint64_t hash, uint64_t rid)
{
    uint64_t got;
    int rc = find_with(ix, t, hash, rid, &got);
    cr_assert_eq(rc, 0, "key of rid %llu: %s: %s", (unsigned long long)rid, vmdb_error_name(rc),
                 vmdb_last_error()->message);
    cr_assert_eq(got, rid, "key of rid %llu found at rid %llu", (unsigned long long)rid,
                 (unsigned long long)got);
}

static void assert_missing(vmdb__index *ix, struct table *t, uint64_t hash, uint64_t rid)
{
    uint64_t got;
    int rc = find_with(ix, t, hash, rid, &got);
    cr_assert_eq(rc, VMDB_ENOTFOUND, "key of rid %llu: %s (rid %llu), expected VMDB_ENOTFOUND",
                 (unsigned long long)rid, vmdb_error_name(rc), (unsigned long long)got);
    cr_assert_eq(got, UINT64_MAX);
}

static vmdb__index *create_index(const char *path, uint64_t initial_count)
{
    vmdb__index *ix;
    ASSERT_OK(vmdb__index_open(path, VMDB__INDEX_CREATE, initial_count, &ix));
    return ix;
}

static vmdb__index *open_index(const char *path, unsigned flags)
{
    vmdb__index *ix;
    ASSERT_OK(vmdb__index_open(path, flags, 0, &ix));
    return ix;
}

static vmdb__index_stats stats_of(vmdb__index *ix)
{
    vmdb__index_stats s;
    ASSERT_OK(vmdb__index_stats_get(ix, &s));
    return s;
}

static const void *map_ptr(const vmdb__index *ix)
{
    return vmdb_map_ptr(vmdb__index_map(ix));
}

static void put_bytes(const char *path, uint64_t off, const void *src, size_t len)
{
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0, "open %s", path);
    cr_assert_eq(pwrite(fd, src, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void put_u64(const char *path, uint64_t off, uint64_t v)
{
    put_bytes(path, off, &v, sizeof v);
}

static uint64_t get_u64(const char *path, uint64_t off)
{
    size_t len;
    unsigned char *data = read_file(path, &len);
    cr_assert_geq(len, off + 8);
    uint64_t v;
    memcpy(&v, data + off, sizeof v);
    free(data);
    return v;
}

/* ---- basic behaviour ---------------------------------------------------- */

Test(index, insert_find_remove_with_a_fake_table)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(1000);
    vmdb__index *ix = create_index(path, 1000);
    for (uint64_t rid = 0; rid < 1000; rid += 2)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    for (uint64_t rid = 0; rid < 1000; rid++) {
        if (rid % 2 == 0)
            assert_found(ix, t, real_hash(t, rid), rid);
        else
            assert_missing(ix, t, real_hash(t, rid), rid);
    }
    for (uint64_t rid = 0; rid < 1000; rid += 4)
        ASSERT_OK(vmdb__index_remove(ix, real_hash(t, rid), rid));
    for (uint64_t rid = 0; rid < 1000; rid++) {
        if (rid % 4 == 2)
            assert_found(ix, t, real_hash(t, rid), rid);
        else
            assert_missing(ix, t, real_hash(t, rid), rid);
    }
    cr_assert_eq(stats_of(ix).count, 250);
    cr_assert_eq(stats_of(ix).capacity, 2048, "1000 entries need 2048 at load <= 0.75");
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

Test(index, equal_hashes_for_different_keys_are_told_apart_by_the_callback)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(64);
    vmdb__index *ix = create_index(path, 0);
    const uint64_t h = 0x1234567890abcdefull;
    for (uint64_t rid = 0; rid < 20; rid++)
        ASSERT_OK(vmdb__index_insert(ix, h, rid));
    for (uint64_t rid = 0; rid < 20; rid++)
        assert_found(ix, t, h, rid);
    /* A key absent from the index but with the same hash: every
     * candidate is offered to the callback and refused. */
    t->calls = 0;
    assert_missing(ix, t, h, 40);
    cr_assert_eq(t->calls, 20, "each of the 20 candidates is checked once");
    /* A different hash never reaches the callback for them. */
    t->calls = 0;
    assert_missing(ix, t, h ^ 1, 3);
    cr_assert_eq(t->calls, 0);
    for (uint64_t rid = 0; rid < 20; rid += 3)
        ASSERT_OK(vmdb__index_remove(ix, h, rid));
    for (uint64_t rid = 0; rid < 20; rid++) {
        if (rid % 3 == 0)
            assert_missing(ix, t, h, rid);
        else
            assert_found(ix, t, h, rid);
    }
    /* The same rid may be indexed under two hashes (a key whose hash the
     * caller computed differently is the caller's business). */
    ASSERT_OK(vmdb__index_insert(ix, h + 1, 1));
    assert_found(ix, t, h + 1, 1);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

/* A rebuild's insert looks for the key and for an empty entry in one
 * probe: a key already held (here under a shared hash, so only the
 * callback tells keys apart) is refused with the record that holds it,
 * and changes nothing; across growths every key inserted stays found. */
Test(index, insert_key_refuses_a_key_already_held_and_names_its_record)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(2000);
    vmdb__index *ix = create_index(path, 0);
    const uint64_t h = 0x1234567890abcdefull;
    uint64_t other = UINT64_MAX;
    for (uint64_t rid = 0; rid < 10; rid++)
        ASSERT_OK(vmdb__index_insert_key(ix, h, t->keys[rid], strlen(t->keys[rid]), table_match,
                                         t, rid, &other));
    /* Record 12 holding record 7's key: refused, naming 7. */
    memcpy(t->keys[12], t->keys[7], KEY_CAP);
    uint64_t before = stats_of(ix).count;
    int rc = vmdb__index_insert_key(ix, h, t->keys[12], strlen(t->keys[12]), table_match, t, 12,
                                    &other);
    cr_assert_eq(rc, VMDB_EEXIST, "%s", vmdb_error_name(rc));
    cr_assert_eq(other, 7);
    cr_assert_eq(stats_of(ix).count, before, "a refused key changed the count");
    /* Real hashes, through several growths of the array. */
    for (uint64_t rid = 100; rid < 2000; rid++)
        ASSERT_OK(vmdb__index_insert_key(ix, real_hash(t, rid), t->keys[rid],
                                         strlen(t->keys[rid]), table_match, t, rid, &other));
    for (uint64_t rid = 100; rid < 2000; rid++)
        assert_found(ix, t, real_hash(t, rid), rid);
    for (uint64_t rid = 0; rid < 10; rid++)
        assert_found(ix, t, h, rid);
    rc = vmdb__index_insert_key(ix, real_hash(t, 1500), t->keys[1500], strlen(t->keys[1500]),
                                table_match, t, 1999, &other);
    cr_assert_eq(rc, VMDB_EEXIST);
    cr_assert_eq(other, 1500);
    /* The callback's own error comes back as it is. */
    t->fail_with = VMDB_EIO;
    rc = vmdb__index_insert_key(ix, h, "new", 3, table_match, t, 50, &other);
    cr_assert_eq(rc, VMDB_EIO, "%s", vmdb_error_name(rc));
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

Test(index, find_miss_is_enotfound_and_leaves_the_error_context_alone)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(10);
    vmdb__index *ix = create_index(path, 0);
    ASSERT_OK(vmdb__index_insert(ix, real_hash(t, 1), 1));
    vmdb__index *gone;
    const char *missing = test_path("missing.vmi");
    ASSERT_FAILS(vmdb__index_open(missing, 0, 0, &gone), VMDB_ENOENT, missing);
    char before[sizeof vmdb_last_error()->message];
    memcpy(before, vmdb_last_error()->message, sizeof before);
    assert_missing(ix, t, real_hash(t, 2), 2);
    cr_assert_eq(vmdb_last_error()->code, VMDB_ENOENT, "a miss must not touch the error context");
    cr_assert_str_eq(vmdb_last_error()->message, before);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

Test(index, callback_error_is_passed_up)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(10);
    vmdb__index *ix = create_index(path, 0);
    ASSERT_OK(vmdb__index_insert(ix, real_hash(t, 4), 4));
    t->fail_with = VMDB_EIO;
    uint64_t got;
    cr_assert_eq(find_with(ix, t, real_hash(t, 4), 4, &got), VMDB_EIO);
    cr_assert_eq(got, UINT64_MAX);
    t->fail_with = 0;
    assert_found(ix, t, real_hash(t, 4), 4);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

Test(index, inserting_a_present_pair_is_eexist_naming_the_file)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(10);
    vmdb__index *ix = create_index(path, 0);
    ASSERT_OK(vmdb__index_insert(ix, 77, 3));
    ASSERT_OK(vmdb__index_insert(ix, 77, 4));
    ASSERT_FAILS(vmdb__index_insert(ix, 77, 3), VMDB_EEXIST, path);
    cr_assert_eq(stats_of(ix).count, 2);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

Test(index, removing_an_absent_pair_is_enotfound_naming_the_file)
{
    const char *path = test_path("t.vmi");
    vmdb__index *ix = create_index(path, 0);
    ASSERT_OK(vmdb__index_insert(ix, 77, 3));
    ASSERT_FAILS(vmdb__index_remove(ix, 77, 4), VMDB_ENOTFOUND, path);
    ASSERT_FAILS(vmdb__index_remove(ix, 78, 3), VMDB_ENOTFOUND, path);
    ASSERT_FAILS(vmdb__index_remove(ix, 77, UINT64_MAX), VMDB_ENOTFOUND, path);
    ASSERT_OK(vmdb__index_remove(ix, 77, 3));
    ASSERT_FAILS(vmdb__index_remove(ix, 77, 3), VMDB_ENOTFOUND, path);
    cr_assert_eq(stats_of(ix).count, 0);
    vmdb__index_close(ix);
    remove_test_dir();
}

Test(index, replace_points_a_key_at_its_record_new_slot)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(10);
    vmdb__index *ix = create_index(path, 0);
    uint64_t h = real_hash(t, 1);
    ASSERT_OK(vmdb__index_insert(ix, h, 1));
    ASSERT_OK(vmdb__index_insert(ix, h, 2)); /* another key, same hash */
    /* The record of key-1 moves to slot 7. */
    strcpy(t->keys[7], t->keys[1]);
    ASSERT_OK(vmdb__index_replace(ix, h, 1, 7));
    snprintf(t->keys[1], KEY_CAP, "gone");
    uint64_t got;
    ASSERT_OK(vmdb__index_find(ix, h, "key-1", 5, table_match, t, &got));
    cr_assert_eq(got, 7);
    ASSERT_FAILS(vmdb__index_replace(ix, h, 1, 8), VMDB_ENOTFOUND, path);
    ASSERT_FAILS(vmdb__index_replace(ix, h, 7, 2), VMDB_EEXIST, path);
    ASSERT_OK(vmdb__index_replace(ix, h, 7, 7));
    ASSERT_FAILS(vmdb__index_replace(ix, h, 7, UINT64_MAX), VMDB_EINVAL, path);
    cr_assert_eq(stats_of(ix).count, 2);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

/* ---- randomised, against a reference model ------------------------------ */

/* Hashes chosen to make long clusters: pairs that share a hash, hashes
 * whose home is the last slot (so their cluster wraps to slot 0), many
 * hashes with one home, and ordinary ones. */
static uint64_t clustering_hash(uint64_t rid)
{
    uint64_t group = rid / 8;
    switch (rid % 4) {
    case 0:
        return XXH3_64bits(&group, sizeof group);
    case 1:
        return ~(uint64_t)0 - rid;
    case 2:
        return (uint64_t)5 << 58 | rid;
    default:
        return XXH3_64bits(&rid, sizeof rid);
    }
}

static void verify_model(vmdb__index *ix, struct table *t, const bool *present, uint64_t universe,
                         uint64_t (*hash_of)(uint64_t), uint64_t op)
{
    uint64_t live = 0;
    for (uint64_t rid = 0; rid < universe; rid++) {
        uint64_t got;
        int rc = find_with(ix, t, hash_of(rid), rid, &got);
        if (present[rid]) {
            live++;
            cr_assert(rc == 0 && got == rid, "op %llu: rid %llu present but find gave %s (%llu)",
                      (unsigned long long)op, (unsigned long long)rid, vmdb_error_name(rc),
                      (unsigned long long)got);
        } else {
            cr_assert_eq(rc, VMDB_ENOTFOUND, "op %llu: rid %llu absent but find gave %s (%llu)",
                         (unsigned long long)op, (unsigned long long)rid, vmdb_error_name(rc),
                         (unsigned long long)got);
        }
    }
    cr_assert_eq(stats_of(ix).count, live, "op %llu: count", (unsigned long long)op);
}

/* Runs `ops` random inserts, removes and finds on rids [0, universe) and
 * checks each result against a model; the whole index is compared with
 * the model after every removal if `check_each_removal`, else every
 * `every` operations. */
static void run_model(uint64_t universe, uint64_t ops, bool check_each_removal, uint64_t every,
                      uint64_t (*hash_of)(uint64_t))
{
    uint64_t seed = test_seed(20240611);
    uint64_t rng = seed;
    const char *path = test_path("model.vmi");
    struct table *t = table_new(universe);
    bool *present = calloc(universe, sizeof *present);
    vmdb__index *ix = create_index(path, 0);
    const void *base = map_ptr(ix);
    for (uint64_t op = 0; op < ops; op++) {
        uint64_t rid = next_random(&rng) % universe;
        uint64_t h = hash_of(rid);
        unsigned dice = (unsigned)(next_random(&rng) % 10);
        /* Lean towards inserts in the first half and removes in the
         * second, so the population rises, then falls. */
        bool want_insert = dice < (op < ops / 2 ? 6u : 4u);
        if (dice == 9) {
            uint64_t got;
            int rc = find_with(ix, t, h, rid, &got);
            cr_assert_eq(rc, present[rid] ? 0 : VMDB_ENOTFOUND, "seed %llu op %llu: find rid %llu",
                         (unsigned long long)seed, (unsigned long long)op,
                         (unsigned long long)rid);
        } else if (want_insert) {
            int rc = vmdb__index_insert(ix, h, rid);
            cr_assert_eq(rc, present[rid] ? VMDB_EEXIST : 0,
                         "seed %llu op %llu: insert rid %llu: %s", (unsigned long long)seed,
                         (unsigned long long)op, (unsigned long long)rid,
                         vmdb_last_error()->message);
            present[rid] = true;
        } else {
            int rc = vmdb__index_remove(ix, h, rid);
            cr_assert_eq(rc, present[rid] ? 0 : VMDB_ENOTFOUND,
                         "seed %llu op %llu: remove rid %llu: %s", (unsigned long long)seed,
                         (unsigned long long)op, (unsigned long long)rid,
                         vmdb_last_error()->message);
            bool was = present[rid];
            present[rid] = false;
            if (was && check_each_removal)
                verify_model(ix, t, present, universe, hash_of, op);
        }
        if (every && op % every == every - 1)
            verify_model(ix, t, present, universe, hash_of, op);
    }
    verify_model(ix, t, present, universe, hash_of, ops);
    cr_assert_eq(memcmp(base, VMDB__INDEX_MAGIC, 8), 0, "the first pointer still reads the file");
    vmdb__index_close(ix);
    free(present);
    table_free(t);
    remove_test_dir();
}

Test(index, backward_shift_deletion_keeps_every_other_key_findable)
{
    /* 48 keys fill a 64-entry array to exactly 0.75: it never grows, so
     * clusters are long and wrap around its end. */
    run_model(48, 100000, true, 0, clustering_hash);
}

static uint64_t grouped_hash(uint64_t rid)
{
    uint64_t group = rid % 3 == 0 ? rid / 3 : rid;
    return XXH3_64bits(&group, sizeof group);
}

Test(index, random_operations_match_a_reference_model_through_growth)
{
    run_model(20000, 100000, false, 10000, grouped_hash);
}

/* ---- growth ------------------------------------------------------------- */

Test(index, growth_doubles_through_several_sizes_and_old_pointers_stay_good)
{
    const char *path = test_path("t.vmi");
    const uint64_t n = 100000;
    struct table *t = table_new(n);
    vmdb__index *ix = create_index(path, 0);
    const unsigned char *base = map_ptr(ix);
    uint64_t cap = stats_of(ix).capacity;
    cr_assert_eq(cap, VMDB__INDEX_MIN_CAP);
    unsigned doublings = 0;
    bool moved = false;
    uint64_t mapped = vmdb_map_len(vmdb__index_map(ix));
    for (uint64_t rid = 0; rid < n; rid++) {
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
        if (vmdb_map_len(vmdb__index_map(ix)) == mapped)
            continue; /* no growth: stats would read the whole array */
        mapped = vmdb_map_len(vmdb__index_map(ix));
        vmdb__index_stats s = stats_of(ix);
        cr_assert_eq(s.capacity, 2 * cap, "growth doubles");
        cap = s.capacity;
        doublings++;
        /* The map moves when it outgrows its reservation; the places it
         * left stay mapped until close. */
        if (map_ptr(ix) != base)
            moved = true;
        cr_assert_eq(memcmp(base, VMDB__INDEX_MAGIC, 8), 0, "the old pointer still reads the file");
        cr_assert_leq(s.load, 0.75);
        for (uint64_t old = 0; old <= rid; old++)
            assert_found(ix, t, real_hash(t, old), old);
    }
    cr_assert_eq(doublings, 12, "64 -> 262144 entries is 12 doublings");
    cr_assert(moved, "8 MiB of file did not outgrow the first reservation");
    vmdb__index_stats s = stats_of(ix);
    cr_assert_eq(s.count, n);
    cr_assert_eq(s.file_size, file_size(path));
    /* Appending: the file holds the live array and the dead ones of
     * earlier sizes, less than twice the live array plus the header and
     * page rounding. */
    cr_assert_leq(s.file_size, HEADER + 2 * 16 * s.capacity + 13 * 4096);
    cr_assert_gt(s.max_probe, 0);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

/* Allocated bytes of a file: what it takes on disk. */
static uint64_t disk_bytes(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
    return (uint64_t)st.st_blocks * 512;
}

Test(index, a_sync_flush_gives_the_outgrown_arrays_back_and_every_reader_still_finds_all)
{
    const char *path = test_path("t.vmi");
    if (on_tmpfs(test_dir()))
        cr_skip_test("%s is a tmpfs, where nothing is given back", test_dir());
    const uint64_t n = 100000;
    struct table *t = table_new(n);
    vmdb__index *ix = create_index(path, 0);
    /* A reader opened while the index was small: it follows the growth. */
    for (uint64_t rid = 0; rid < 100; rid++)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    ASSERT_OK(vmdb__index_flush(ix, VMDB_FLUSH_SYNC));
    vmdb__index *early = open_index(path, VMDB__INDEX_READONLY);
    assert_found(early, t, real_hash(t, 7), 7);
    for (uint64_t rid = 100; rid < n; rid++)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    vmdb__index_stats s = stats_of(ix);
    uint64_t live = 16 * s.capacity;
    uint64_t before = disk_bytes(path);
    cr_assert_gt(before, HEADER + live + live / 2, "the dead arrays take space before the flush");
    ASSERT_OK(vmdb__index_flush(ix, VMDB_FLUSH_ASYNC));
    cr_assert_eq(disk_bytes(path), before, "only a SYNC flush gives space back");
    ASSERT_OK(vmdb__index_flush(ix, VMDB_FLUSH_SYNC));
    uint64_t after = disk_bytes(path);
    cr_assert_leq(after, HEADER + live + 4096, "%llu bytes on disk for a live array of %llu",
                  (unsigned long long)after, (unsigned long long)live);
    cr_assert_eq(file_size(path), s.file_size, "the file keeps its length");
    for (uint64_t rid = 0; rid < n; rid++) {
        assert_found(ix, t, real_hash(t, rid), rid);
        assert_found(early, t, real_hash(t, rid), rid);
    }
    vmdb__index *late = open_index(path, VMDB__INDEX_READONLY);
    for (uint64_t rid = 0; rid < n; rid += 7)
        assert_found(late, t, real_hash(t, rid), rid);
    assert_missing(late, t, real_hash(t, 0) ^ 1, 0);
    vmdb__index_close(late);
    vmdb__index_close(early);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

/* A reader held in the middle of a probe of the array that was active
 * when it began: the match callback, at its first call, makes the writer
 * outgrow that array and give it back (a SYNC flush), and on a tmpfs fills
 * the disk too. */
struct stale_reader {
    struct table *t;
    vmdb__index *ix;
    const char *fill; /* a file to write until the disk is full, or NULL */
    bool grown;
};

static void fill_disk(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    static char block[4096];
    while (write(fd, block, sizeof block) == (ssize_t)sizeof block)
        ;
    close(fd);
}

static int grow_then_refuse(void *ctx, uint64_t rid, const void *key, size_t len)
{
    struct stale_reader *r = ctx;
    if (r->grown)
        return table_match(r->t, rid, key, len);
    r->grown = true;
    for (uint64_t other = 2; other < 200; other++)
        ASSERT_OK(vmdb__index_insert(r->ix, real_hash(r->t, other), other));
    ASSERT_OK(vmdb__index_flush(r->ix, VMDB_FLUSH_SYNC));
    if (r->fill)
        fill_disk(r->fill);
    return 0; /* rid 0 does not hold the key: the probe goes on, in the dead array */
}

/* Two entries under one hash, rid 0's first in the cluster, and a look for
 * rid 1's key: the probe passes rid 0 (the callback above) before it
 * comes to rid 1. */
static void find_past_a_give_back(const char *path, const char *fill)
{
    struct table *t = table_new(200);
    vmdb__index *ix = create_index(path, 0);
    uint64_t hash = real_hash(t, 1);
    ASSERT_OK(vmdb__index_insert(ix, hash, 0));
    ASSERT_OK(vmdb__index_insert(ix, hash, 1));
    ASSERT_OK(vmdb__index_flush(ix, VMDB_FLUSH_SYNC));
    struct stale_reader r = {.t = t, .ix = ix, .fill = fill};
    uint64_t got;
    int rc = vmdb__index_find(ix, hash, t->keys[1], strlen(t->keys[1]), grow_then_refuse, &r,
                              &got);
    cr_assert(r.grown);
    cr_assert_eq(rc, 0, "%s: %s", vmdb_error_name(rc), vmdb_last_error()->message);
    cr_assert_eq(got, 1);
    vmdb__index_close(ix);
    table_free(t);
}

Test(index, a_reader_probing_an_array_given_back_meanwhile_finds_the_key_in_the_new_one)
{
    find_past_a_give_back(test_path("t.vmi"), NULL);
    remove_test_dir();
}

static void unmount_small_disk(void)
{
    char disk[512];
    snprintf(disk, sizeof disk, "%s/disk", test_dir());
    umount2(disk, MNT_DETACH);
}

/* On a tmpfs, a page read through a shared map where a hole was punched
 * is allocated again, and on a full tmpfs that fault is a SIGBUS: the
 * stale reader of the test above crashed there. The writer never touches
 * a dead array; only a reader that loaded `active` before the growth and
 * still probes after the checkpoint does (a reader preempted across a
 * checkpoint). So nothing is given back on a tmpfs (vmdb__os_punch_hole),
 * which keeps its dead arrays in memory as before. */
Test(index, a_stale_reader_on_a_full_tmpfs_survives_the_give_back, .fini = unmount_small_disk)
{
    char disk[512];
    snprintf(disk, sizeof disk, "%s/disk", test_dir());
    cr_assert_eq(mkdir(disk, 0755), 0);
    if (mount("tmpfs", disk, "tmpfs", 0, "size=1m") != 0)
        cr_skip_test("cannot mount a small tmpfs (%s): run as root", strerror(errno));
    char path[600], fill[600];
    snprintf(path, sizeof path, "%s/t.vmi", disk);
    snprintf(fill, sizeof fill, "%s/ballast", disk);
    find_past_a_give_back(path, fill);
    cr_assert_eq(umount(disk), 0);
    remove_test_dir();
}

Test(index, reserve_grows_once_ahead_of_a_bulk_load)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(10000);
    vmdb__index *ix = create_index(path, 0);
    for (uint64_t rid = 0; rid < 30; rid++)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    ASSERT_OK(vmdb__index_reserve(ix, 10000));
    cr_assert_eq(stats_of(ix).capacity, 16384);
    ASSERT_OK(vmdb__index_reserve(ix, 100)); /* already fits: nothing */
    cr_assert_eq(stats_of(ix).capacity, 16384);
    for (uint64_t rid = 30; rid < 10000; rid++)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    cr_assert_eq(stats_of(ix).capacity, 16384, "no growth after reserve");
    for (uint64_t rid = 0; rid < 10000; rid++)
        assert_found(ix, t, real_hash(t, rid), rid);
    ASSERT_FAILS(vmdb__index_reserve(ix, (uint64_t)1 << 41), VMDB_EFULL, path);
    assert_found(ix, t, real_hash(t, 9999), 9999);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

Test(index, growth_on_a_full_disk_is_enospc_and_keeps_the_index_usable)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(100);
    vmdb__index *ix = create_index(path, 0);
    for (uint64_t rid = 0; rid < 48; rid++)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    vmdb__os_inject_fault(VMDB__OS_OP_ALLOCATE, ENOSPC, 0);
    ASSERT_FAILS(vmdb__index_insert(ix, real_hash(t, 48), 48), VMDB_ENOSPC, path);
    cr_assert_eq(stats_of(ix).capacity, 64);
    cr_assert_eq(stats_of(ix).count, 48);
    for (uint64_t rid = 0; rid < 48; rid++)
        assert_found(ix, t, real_hash(t, rid), rid);
    assert_missing(ix, t, real_hash(t, 48), 48);
    ASSERT_OK(vmdb__index_insert(ix, real_hash(t, 48), 48));
    cr_assert_eq(stats_of(ix).capacity, 128);
    for (uint64_t rid = 0; rid < 49; rid++)
        assert_found(ix, t, real_hash(t, rid), rid);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

Test(index, growth_over_leftovers_of_a_failed_growth_starts_from_zero)
{
    /* A growth that extended the file but never published its array leaves
     * bytes past the active one; the next growth must not trust them. */
    const char *path = test_path("t.vmi");
    struct table *t = table_new(100);
    vmdb__index *ix = create_index(path, 0);
    for (uint64_t rid = 0; rid < 48; rid++)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    vmdb__index_close(ix);
    unsigned char junk[2048];
    memset(junk, 0xA5, sizeof junk);
    put_bytes(path, HEADER + 4096, junk, sizeof junk); /* where the next array goes */
    ix = open_index(path, 0);
    ASSERT_OK(vmdb__index_insert(ix, real_hash(t, 48), 48));
    cr_assert_eq(stats_of(ix).capacity, 128);
    cr_assert_eq(stats_of(ix).count, 49);
    for (uint64_t rid = 0; rid < 49; rid++)
        assert_found(ix, t, real_hash(t, rid), rid);
    assert_missing(ix, t, real_hash(t, 60), 60);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

static int count_entry(void *ctx, uint64_t hash, uint64_t rid)
{
    (void)hash;
    (void)rid;
    ++*(uint64_t *)ctx;
    return 0;
}

Test(index, writers_taking_turns_follow_each_others_growth)
{
    /* Two writable handles stand for writers in two processes that take
     * turns under the database's write lock. */
    const char *path = test_path("t.vmi");
    struct table *t = table_new(20000);
    vmdb__index *a = create_index(path, 0);
    vmdb__index *b = open_index(path, 0);
    for (uint64_t rid = 0; rid < 5000; rid++)
        ASSERT_OK(vmdb__index_insert(a, real_hash(t, rid), rid));
    /* Lookups on b follow a's growth at once, before b takes its turn. */
    for (uint64_t rid = 0; rid < 5000; rid += 7)
        assert_found(b, t, real_hash(t, rid), rid);
    assert_missing(b, t, real_hash(t, 5000), 5000);
    ASSERT_OK(vmdb__index_refresh(b));
    for (uint64_t rid = 5000; rid < 12000; rid++)
        ASSERT_OK(vmdb__index_insert(b, real_hash(t, rid), rid));
    for (uint64_t rid = 0; rid < 12000; rid++)
        assert_found(a, t, real_hash(t, rid), rid);
    /* a's turn: a growth of b's that failed after extending the file left
     * junk where a's next array goes, past a's map. */
    ASSERT_OK(vmdb__index_refresh(a));
    unsigned char junk[65536];
    memset(junk, 0xA5, sizeof junk);
    put_bytes(path, file_size(path), junk, sizeof junk);
    for (uint64_t rid = 12000; rid < 20000; rid++)
        ASSERT_OK(vmdb__index_insert(a, real_hash(t, rid), rid));
    for (uint64_t rid = 0; rid < 20000; rid += 3)
        ASSERT_OK(vmdb__index_remove(a, real_hash(t, rid), rid));
    ASSERT_OK(vmdb__index_refresh(b));
    vmdb__index_stats sa = stats_of(a), sb = stats_of(b);
    cr_assert_eq(sa.count, 20000 - 6667);
    cr_assert_eq(sb.count, sa.count);
    cr_assert_eq(sb.capacity, sa.capacity);
    uint64_t visited = 0;
    ASSERT_OK(vmdb__index_foreach(b, count_entry, &visited));
    cr_assert_eq(visited, sa.count, "junk in the new array would be visited too");
    for (uint64_t rid = 0; rid < 20000; rid++) {
        if (rid % 3 == 0)
            assert_missing(b, t, real_hash(t, rid), rid);
        else
            assert_found(b, t, real_hash(t, rid), rid);
    }
    /* A turn taken after the holder died in the middle of a change. */
    put_u64(path, OFF_SEQ, get_u64(path, OFF_SEQ) + 1);
    cr_assert(!stats_of(b).interrupted);
    ASSERT_OK(vmdb__index_refresh(b));
    cr_assert(stats_of(b).interrupted);
    ASSERT_OK(vmdb__index_clear(b));
    cr_assert_eq(get_u64(path, OFF_SEQ) % 2, 0);
    vmdb__index_close(a);
    vmdb__index_close(b);
    vmdb__index *ro = open_index(path, VMDB__INDEX_READONLY);
    ASSERT_FAILS(vmdb__index_refresh(ro), VMDB_EREADONLY, path);
    vmdb__index_close(ro);
    table_free(t);
    remove_test_dir();
}

/* ---- clear, stats, foreach, flush --------------------------------------- */

Test(index, clear_empties_the_index_and_keeps_its_capacity)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(1000);
    vmdb__index *ix = create_index(path, 0);
    for (uint64_t rid = 0; rid < 1000; rid++)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    uint64_t cap = stats_of(ix).capacity;
    ASSERT_OK(vmdb__index_clear(ix));
    vmdb__index_stats s = stats_of(ix);
    cr_assert_eq(s.count, 0);
    cr_assert_eq(s.capacity, cap);
    cr_assert_eq(s.max_probe, 0);
    for (uint64_t rid = 0; rid < 1000; rid++)
        assert_missing(ix, t, real_hash(t, rid), rid);
    for (uint64_t rid = 0; rid < 1000; rid += 7)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    for (uint64_t rid = 0; rid < 1000; rid++) {
        if (rid % 7 == 0)
            assert_found(ix, t, real_hash(t, rid), rid);
        else
            assert_missing(ix, t, real_hash(t, rid), rid);
    }
    cr_assert_eq(get_u64(path, OFF_SEQ) % 2, 0);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

Test(index, stats_report_count_capacity_load_size_and_probe_length)
{
    const char *path = test_path("t.vmi");
    vmdb__index *ix = create_index(path, 100);
    vmdb__index_stats s = stats_of(ix);
    cr_assert_eq(s.count, 0);
    cr_assert_eq(s.capacity, 256, "100 entries at load <= 0.75 need 256");
    cr_assert_eq(s.file_size, HEADER + 256 * 16);
    cr_assert_eq(s.file_size, file_size(path));
    cr_assert_eq(s.max_probe, 0);
    cr_assert(!s.interrupted);
    /* Ten entries with one home slot: the last of them is ten entries
     * from home. */
    for (uint64_t rid = 0; rid < 10; rid++)
        ASSERT_OK(vmdb__index_insert(ix, (uint64_t)3 << 56 | rid, rid));
    s = stats_of(ix);
    cr_assert_eq(s.count, 10);
    cr_assert_eq(s.max_probe, 10);
    cr_assert_float_eq(s.load, 10.0 / 256, 1e-12);
    ASSERT_FAILS(vmdb__index_stats_get(NULL, &s), VMDB_EINVAL, "stats");
    ASSERT_FAILS(vmdb__index_stats_get(ix, NULL), VMDB_EINVAL, "stats");
    vmdb__index_close(ix);
    remove_test_dir();
}

struct visit {
    uint64_t seen[64];
    uint64_t hashes[64];
    unsigned calls;
    unsigned stop_at; /* return 99 at this call; 0 = never */
};

static int visit_entry(void *ctx, uint64_t hash, uint64_t rid)
{
    struct visit *v = ctx;
    v->calls++;
    if (rid < 64) {
        v->seen[rid]++;
        v->hashes[rid] = hash;
    }
    return v->calls == v->stop_at ? 99 : 0;
}

Test(index, foreach_visits_every_entry_once_and_stops_at_nonzero)
{
    const char *path = test_path("t.vmi");
    vmdb__index *ix = create_index(path, 0);
    for (uint64_t rid = 0; rid < 40; rid++)
        ASSERT_OK(vmdb__index_insert(ix, XXH3_64bits(&rid, sizeof rid), rid));
    ASSERT_OK(vmdb__index_remove(ix, XXH3_64bits(&(uint64_t){5}, 8), 5));
    struct visit v = {0};
    ASSERT_OK(vmdb__index_foreach(ix, visit_entry, &v));
    cr_assert_eq(v.calls, 39);
    for (uint64_t rid = 0; rid < 40; rid++) {
        cr_assert_eq(v.seen[rid], rid == 5 ? 0 : 1, "rid %llu", (unsigned long long)rid);
        if (rid != 5)
            cr_assert_eq(v.hashes[rid], XXH3_64bits(&rid, sizeof rid));
    }
    v = (struct visit){.stop_at = 10};
    cr_assert_eq(vmdb__index_foreach(ix, visit_entry, &v), 99);
    cr_assert_eq(v.calls, 10);
    vmdb__index_close(ix);
    remove_test_dir();
}

Test(index, flush_writes_back_and_a_failed_flush_poisons_changes_until_reopen)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(10);
    vmdb__index *ix = create_index(path, 0);
    ASSERT_OK(vmdb__index_insert(ix, real_hash(t, 1), 1));
    ASSERT_OK(vmdb__index_flush(ix, VMDB_FLUSH_SYNC));
    ASSERT_OK(vmdb__index_flush(ix, VMDB_FLUSH_ASYNC));
    vmdb__os_inject_fault(VMDB__OS_OP_FLUSH, EIO, 0);
    ASSERT_FAILS(vmdb__index_flush(ix, VMDB_FLUSH_SYNC), VMDB_EIO, path);
    ASSERT_FAILS(vmdb__index_insert(ix, real_hash(t, 2), 2), VMDB_EPOISONED, path);
    ASSERT_FAILS(vmdb__index_remove(ix, real_hash(t, 1), 1), VMDB_EPOISONED, path);
    ASSERT_FAILS(vmdb__index_clear(ix), VMDB_EPOISONED, path);
    assert_found(ix, t, real_hash(t, 1), 1); /* lookups go on */
    vmdb__index_close(ix);
    ix = open_index(path, 0);
    ASSERT_OK(vmdb__index_insert(ix, real_hash(t, 2), 2));
    assert_found(ix, t, real_hash(t, 1), 1);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

/* ---- files: create, reopen, damage -------------------------------------- */

Test(index, reopen_after_close_finds_everything)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(5000);
    vmdb__index *ix = create_index(path, 0);
    for (uint64_t rid = 0; rid < 5000; rid++)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    for (uint64_t rid = 0; rid < 5000; rid += 3)
        ASSERT_OK(vmdb__index_remove(ix, real_hash(t, rid), rid));
    vmdb__index_stats before = stats_of(ix);
    vmdb__index_close(ix);
    unsigned flags[] = {0, VMDB__INDEX_READONLY, VMDB__INDEX_CREATE};
    for (size_t f = 0; f < 3; f++) {
        /* CREATE on an existing file opens it as it is, initial_count or not. */
        vmdb__index *again;
        ASSERT_OK(vmdb__index_open(path, flags[f], 1000000, &again));
        vmdb__index_stats s = stats_of(again);
        cr_assert_eq(s.count, before.count);
        cr_assert_eq(s.capacity, before.capacity);
        for (uint64_t rid = 0; rid < 5000; rid++) {
            if (rid % 3 == 0)
                assert_missing(again, t, real_hash(t, rid), rid);
            else
                assert_found(again, t, real_hash(t, rid), rid);
        }
        vmdb__index_close(again);
    }
    table_free(t);
    remove_test_dir();
}

Test(index, on_disk_layout_matches_the_documented_format)
{
    const char *path = test_path("t.vmi");
    vmdb__index *ix = create_index(path, 0);
    const uint64_t h = (uint64_t)9 << 58 | 12345; /* home slot 9 of 64 */
    ASSERT_OK(vmdb__index_insert(ix, h, 41));
    ASSERT_OK(vmdb__index_insert(ix, h, 42)); /* next slot */
    vmdb__index_close(ix);
    size_t len;
    unsigned char *d = read_file(path, &len);
    cr_assert_eq(len, HEADER + 64 * 16);
    cr_assert_eq(memcmp(d + OFF_MAGIC, "VMDBINDX", 8), 0);
    uint32_t u32;
    memcpy(&u32, d + OFF_VERSION, 4);
    cr_assert_eq(u32, 1);
    memcpy(&u32, d + OFF_HEADER_SIZE, 4);
    cr_assert_eq(u32, 4096);
    memcpy(&u32, d + OFF_ENTRY_SIZE, 4);
    cr_assert_eq(u32, 16);
    uint64_t u64;
    memcpy(&u64, d + OFF_CHECKSUM, 8);
    cr_assert_eq(u64, XXH3_64bits(d, 24));
    memcpy(&u64, d + OFF_SEQ, 8);
    cr_assert_eq(u64 % 2, 0);
    memcpy(&u64, d + OFF_ACTIVE, 8);
    cr_assert_eq(u64, (uint64_t)1 << 6 | 6, "array at page 1, capacity 2^6");
    memcpy(&u64, d + OFF_COUNT, 8);
    cr_assert_eq(u64, 2);
    uint64_t e[4];
    memcpy(e, d + HEADER + 9 * 16, sizeof e);
    cr_assert_eq(e[0], h);
    cr_assert_eq(e[1], 42, "entries store rid + 1");
    cr_assert_eq(e[2], h);
    cr_assert_eq(e[3], 43);
    for (size_t i = 0; i < 64; i++)
        if (i != 9 && i != 10)
            for (size_t b = 0; b < 16; b++)
                cr_assert_eq(d[HEADER + i * 16 + b], 0, "entry %zu is not empty", i);
    free(d);
    remove_test_dir();
}

static size_t files_in(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

Test(index, failed_create_leaves_no_file_behind)
{
    const char *path = test_path("t.vmi");
    vmdb__index *ix = (vmdb__index *)1;
    vmdb__os_inject_fault(VMDB__OS_OP_ALLOCATE, ENOSPC, 0);
    ASSERT_FAILS(vmdb__index_open(path, VMDB__INDEX_CREATE, 0, &ix), VMDB_ENOSPC, path);
    cr_assert_null(ix);
    cr_assert_eq(files_in(test_dir()), 0, "a failed create left a file");
    remove_test_dir();
}

Test(index, missing_file_without_create_is_enoent)
{
    const char *path = test_path("none.vmi");
    vmdb__index *ix = (vmdb__index *)1;
    ASSERT_FAILS(vmdb__index_open(path, 0, 0, &ix), VMDB_ENOENT, path);
    cr_assert_null(ix);
    ASSERT_FAILS(vmdb__index_open(path, VMDB__INDEX_READONLY, 0, &ix), VMDB_ENOENT, path);
    remove_test_dir();
}

Test(index, bad_arguments_are_einval)
{
    const char *path = test_path("t.vmi");
    vmdb__index *ix = (vmdb__index *)1;
    ASSERT_FAILS(vmdb__index_open(path, 1u << 7, 0, &ix), VMDB_EINVAL, "flag");
    cr_assert_null(ix);
    ASSERT_FAILS(vmdb__index_open(path, VMDB__INDEX_CREATE | VMDB__INDEX_READONLY, 0, &ix),
                 VMDB_EINVAL, path);
    ASSERT_FAILS(vmdb__index_open(NULL, 0, 0, &ix), VMDB_EINVAL, "path");
    ASSERT_FAILS(vmdb__index_open(path, VMDB__INDEX_CREATE, UINT64_MAX, &ix), VMDB_EINVAL, path);
    cr_assert_eq(files_in(test_dir()), 0);
    ix = create_index(path, 0);
    ASSERT_FAILS(vmdb__index_insert(ix, 1, UINT64_MAX), VMDB_EINVAL, path);
    uint64_t rid = 5;
    ASSERT_FAILS(vmdb__index_find(ix, 1, "k", 1, NULL, NULL, &rid), VMDB_EINVAL, "match");
    cr_assert_eq(rid, UINT64_MAX);
    ASSERT_FAILS(vmdb__index_insert(NULL, 1, 1), VMDB_EINVAL, "index");
    ASSERT_FAILS(vmdb__index_foreach(ix, NULL, NULL), VMDB_EINVAL, "fn");
    vmdb__index_close(ix);
    vmdb__index_close(NULL);
    remove_test_dir();
}

Test(index, readonly_handle_refuses_every_change)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(10);
    vmdb__index *w = create_index(path, 0);
    ASSERT_OK(vmdb__index_insert(w, real_hash(t, 1), 1));
    vmdb__index_close(w);
    vmdb__index *ix = open_index(path, VMDB__INDEX_READONLY);
    ASSERT_FAILS(vmdb__index_insert(ix, real_hash(t, 2), 2), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb__index_remove(ix, real_hash(t, 1), 1), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb__index_replace(ix, real_hash(t, 1), 1, 3), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb__index_clear(ix), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb__index_reserve(ix, 1000), VMDB_EREADONLY, path);
    ASSERT_FAILS(vmdb__index_flush(ix, VMDB_FLUSH_SYNC), VMDB_EREADONLY, path);
    assert_found(ix, t, real_hash(t, 1), 1);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

/* A closed index file with three entries, for the damage tests. */
static const char *sound_file(void)
{
    const char *path = test_path("t.vmi");
    unlink(path);
    vmdb__index *ix = create_index(path, 0);
    for (uint64_t rid = 0; rid < 3; rid++)
        ASSERT_OK(vmdb__index_insert(ix, rid * 1000003, rid));
    vmdb__index_close(ix);
    return path;
}

static void assert_open_fails(const char *path, int code, const char *needle)
{
    unsigned flags[] = {0, VMDB__INDEX_READONLY, VMDB__INDEX_CREATE};
    for (size_t f = 0; f < 3; f++) {
        vmdb__index *ix = (vmdb__index *)1;
        ASSERT_FAILS(vmdb__index_open(path, flags[f], 0, &ix), code, path);
        cr_assert_null(ix);
        cr_assert(strstr(vmdb_last_error()->message, needle) != NULL,
                  "message \"%s\" does not say \"%s\"", vmdb_last_error()->message, needle);
    }
}

Test(index, wrong_magic_is_ebadmagic)
{
    const char *path = sound_file();
    put_bytes(path, OFF_MAGIC, "VMDBSLOT", 8);
    assert_open_fails(path, VMDB_EBADMAGIC, "VMDBSLOT");
    /* Not a vmdb file at all, and short. */
    write_file(path, "hello, world\n", 13);
    assert_open_fails(path, VMDB_EBADMAGIC, "hello, w");
    remove_test_dir();
}

Test(index, other_format_version_is_eversion)
{
    const char *path = sound_file();
    uint32_t v = 2;
    put_bytes(path, OFF_VERSION, &v, sizeof v);
    assert_open_fails(path, VMDB_EVERSION, "version 2");
    remove_test_dir();
}

Test(index, damaged_static_header_is_ecorrupt_by_checksum)
{
    const char *path = sound_file();
    uint32_t entry_size = 32;
    put_bytes(path, OFF_ENTRY_SIZE, &entry_size, sizeof entry_size);
    assert_open_fails(path, VMDB_ECORRUPT, "checksum");
    remove_test_dir();
}

Test(index, impossible_active_region_is_ecorrupt)
{
    const char *path = sound_file();
    uint64_t words[] = {
        (uint64_t)1 << 6 | 3,  /* capacity 8: below the minimum */
        (uint64_t)1 << 6 | 41, /* capacity 2^41: above the format's limit */
        (uint64_t)0 << 6 | 6,  /* array inside the header */
        ~(uint64_t)0,
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        put_u64(path, OFF_ACTIVE, words[i]);
        assert_open_fails(path, VMDB_ECORRUPT, "active region");
    }
    remove_test_dir();
}

Test(index, count_above_capacity_is_ecorrupt)
{
    const char *path = sound_file();
    put_u64(path, OFF_COUNT, 65);
    assert_open_fails(path, VMDB_ECORRUPT, "count 65");
    remove_test_dir();
}

Test(index, truncated_file_is_ebadsize)
{
    const char *path = sound_file();
    /* Shorter than the array the header names. */
    cr_assert_eq(truncate(path, HEADER + 512), 0);
    assert_open_fails(path, VMDB_EBADSIZE, "truncated");
    /* An array named past the end of the file. */
    path = sound_file();
    put_u64(path, OFF_ACTIVE, (uint64_t)100 << 6 | 6);
    assert_open_fails(path, VMDB_EBADSIZE, "truncated");
    /* Shorter than the header. */
    cr_assert_eq(truncate(path, 100), 0);
    assert_open_fails(path, VMDB_EBADSIZE, "truncated");
    cr_assert_eq(truncate(path, 0), 0);
    assert_open_fails(path, VMDB_EBADSIZE, "0 bytes");
    remove_test_dir();
}

Test(index, damage_under_an_open_reader_is_an_error_not_a_crash)
{
    const char *path = sound_file();
    struct table *t = table_new(10);
    vmdb__index *ix = open_index(path, VMDB__INDEX_READONLY);
    uint64_t got;
    put_u64(path, OFF_ACTIVE, (uint64_t)1 << 6 | 63);
    ASSERT_FAILS(find_with(ix, t, 5, 1, &got), VMDB_ECORRUPT, path);
    put_u64(path, OFF_ACTIVE, (uint64_t)100 << 6 | 6);
    ASSERT_FAILS(find_with(ix, t, 5, 1, &got), VMDB_EBADSIZE, path);
    put_u64(path, OFF_ACTIVE, (uint64_t)1 << 6 | 6);
    /* An array with no empty entry, which the load factor never allows. */
    unsigned char full[64 * 16];
    for (size_t i = 0; i < 64; i++) {
        uint64_t e[2] = {i << 58, i + 1};
        memcpy(full + i * 16, e, sizeof e);
    }
    put_bytes(path, HEADER, full, sizeof full);
    ASSERT_FAILS(find_with(ix, t, 5, 1, &got), VMDB_ECORRUPT, "no empty entry");
    vmdb__index_close(ix);
    ix = open_index(path, 0);
    ASSERT_FAILS(vmdb__index_insert(ix, 7, 7), VMDB_ECORRUPT, "no empty entry");
    ASSERT_OK(vmdb__index_clear(ix));
    ASSERT_OK(vmdb__index_insert(ix, real_hash(t, 7), 7));
    assert_found(ix, t, real_hash(t, 7), 7);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

Test(index, writer_dead_mid_change_makes_misses_ebusy_until_clear)
{
    const char *path = test_path("t.vmi");
    struct table *t = table_new(200);
    vmdb__index *ix = create_index(path, 0);
    for (uint64_t rid = 0; rid < 100; rid++)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    vmdb__index_close(ix);
    /* What a writer killed inside a removal leaves: seq odd. */
    put_u64(path, OFF_SEQ, get_u64(path, OFF_SEQ) + 1);
    vmdb__index *reader = open_index(path, VMDB__INDEX_READONLY);
    assert_found(reader, t, real_hash(t, 5), 5); /* hits never wait */
    uint64_t got;
    ASSERT_FAILS(find_with(reader, t, real_hash(t, 150), 150, &got), VMDB_EBUSY, path);
    ix = open_index(path, 0);
    cr_assert(stats_of(ix).interrupted);
    /* Changes before the clear keep seq odd: the array is still suspect. */
    ASSERT_OK(vmdb__index_remove(ix, real_hash(t, 7), 7));
    cr_assert_eq(get_u64(path, OFF_SEQ) % 2, 1);
    ASSERT_OK(vmdb__index_clear(ix));
    cr_assert(!stats_of(ix).interrupted);
    cr_assert_eq(get_u64(path, OFF_SEQ) % 2, 0);
    for (uint64_t rid = 0; rid < 100; rid++)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    assert_missing(reader, t, real_hash(t, 150), 150);
    assert_found(reader, t, real_hash(t, 7), 7);
    vmdb__index_close(reader);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

/* ---- other processes and threads ---------------------------------------- */

static void send_byte(int fd, char c)
{
    if (write(fd, &c, 1) != 1)
        _exit(90);
}

static char receive_byte(int fd)
{
    char c = 0;
    if (read(fd, &c, 1) != 1)
        _exit(91);
    return c;
}

/* The child's side: checks what the parent inserted, before and after the
 * parent grew the index past the child's map. Exit status 0 or the step
 * that failed. */
static int child_reader(const char *path, struct table *t, int from_parent, int to_parent,
                        uint64_t first, uint64_t all)
{
    vmdb__index *ix;
    if (vmdb__index_open(path, VMDB__INDEX_READONLY, 0, &ix) != 0)
        return 10;
    uint64_t got;
    for (uint64_t rid = 0; rid < first; rid++)
        if (find_with(ix, t, real_hash(t, rid), rid, &got) != 0 || got != rid)
            return 11;
    vmdb__index_stats s;
    if (vmdb__index_stats_get(ix, &s) != 0)
        return 12;
    const void *ptr = map_ptr(ix);
    uint64_t mapped = vmdb_map_len(vmdb__index_map(ix));
    send_byte(to_parent, '1');
    if (receive_byte(from_parent) != '2')
        return 13;
    for (uint64_t rid = 0; rid < all; rid++)
        if (find_with(ix, t, real_hash(t, rid), rid, &got) != 0 || got != rid)
            return 14;
    for (uint64_t rid = all; rid < all + 100; rid++)
        if (find_with(ix, t, real_hash(t, rid), rid, &got) != VMDB_ENOTFOUND)
            return 15;
    vmdb__index_stats after;
    if (vmdb__index_stats_get(ix, &after) != 0 || after.capacity <= s.capacity ||
        after.count != all)
        return 16;
    if (vmdb_map_len(vmdb__index_map(ix)) <= mapped || memcmp(ptr, VMDB__INDEX_MAGIC, 8) != 0)
        return 17;
    vmdb__index_close(ix);
    return 0;
}

Test(index, readonly_child_process_follows_the_parent_through_growth)
{
    const char *path = test_path("t.vmi");
    const uint64_t first = 1000, all = 50000;
    struct table *t = table_new(all + 100);
    vmdb__index *ix = create_index(path, 0);
    for (uint64_t rid = 0; rid < first; rid++)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    int down[2], up[2];
    cr_assert_eq(pipe(down), 0);
    cr_assert_eq(pipe(up), 0);
    pid_t pid = fork_child();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        int code = child_reader(path, t, down[0], up[1], first, all);
        vmdb__index_close(ix); /* the parent's, inherited: for valgrind */
        table_free(t);
        _exit(code);
    }
    close(down[0]);
    close(up[1]);
    char c = 0;
    cr_assert_eq(read(up[0], &c, 1), 1, "the child did not get through its first checks");
    cr_assert_eq(c, '1');
    uint64_t cap = stats_of(ix).capacity;
    for (uint64_t rid = first; rid < all; rid++)
        ASSERT_OK(vmdb__index_insert(ix, real_hash(t, rid), rid));
    cr_assert_gt(stats_of(ix).capacity, cap);
    cr_assert_eq(write(down[1], "2", 1), 1);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: status %d", status);
    close(down[1]);
    close(up[0]);
    vmdb__index_close(ix);
    table_free(t);
    remove_test_dir();
}

/*
 * The race: one writer inserts, removes and re-inserts "volatile" keys,
 * growing the index several times, while readers look up "stable" keys
 * (inserted before they start, never removed), volatile keys, and keys
 * never inserted. Hashes are shared in groups across all three kinds, so
 * most lookups meet candidates the callback must refuse; the callback
 * refuses slowly, which holds readers in the middle of clusters while the
 * writer's backward shifts move entries past them.
 *
 * The writer brackets each change of volatile key v with gen[v], as a
 * seqlock of its own: odd while it changes v, then even, and (gen / 2) & 1
 * says whether v is present. A reader that loads the same even gen[v]
 * before and after its lookup knows v was present (or absent) throughout,
 * so a miss (or a hit) is a bug of the index. Recently inserted keys sit
 * behind older ones in their clusters, so removals of those older ones keep
 * shifting them: the case a miss must never be believed in.
 *
 * One reader uses the writer's handle; two share a read-only handle whose
 * map must follow the growth.
 */
#define RACE_GROUPS 1000u
#define RACE_FIRST 1000u /* volatile keys inserted before the stable ones */

struct race_reader;

struct race {
    struct race_reader *readers; /* which the writer lets run now and then */
    unsigned nreaders;
    struct table *table;
    vmdb__index *writer_ix;
    uint64_t stable;        /* rids [0, stable) */
    uint64_t volatile_keys; /* rids [stable, stable + volatile_keys) */
    uint64_t *gen;          /* per volatile key, see above */
    uint64_t ops;
    uint64_t seed;
    bool done;
    /* results */
    int writer_rc;
    char writer_message[600];
    uint64_t grown;         /* doublings while readers ran */
};

struct race_reader {
    struct race *race;
    vmdb__index *ix;
    uint64_t seed;
    uint64_t lookups, checked_volatile;
    uint64_t stable_misses, volatile_misses, ghost_hits, wrong_rids, errors;
    int last_error;
    char message[512];
};

static uint64_t race_hash(uint64_t rid)
{
    uint64_t group = rid % RACE_GROUPS;
    return XXH3_64bits(&group, sizeof group);
}

static void *race_writer(void *arg)
{
    struct race *r = arg;
    uint64_t rng = r->seed;
    uint64_t mapped = vmdb_map_len(vmdb__index_map(r->writer_ix));
    for (uint64_t op = 0; op < r->ops; op++) {
        /* The universe widens as the run goes on, so the population, and
         * with it the capacity, keeps rising. */
        uint64_t universe = RACE_FIRST + (r->volatile_keys - RACE_FIRST) * op / r->ops;
        uint64_t v = next_random(&rng) % universe;
        uint64_t rid = r->stable + v;
        uint64_t g = __atomic_load_n(&r->gen[v], __ATOMIC_RELAXED);
        bool present = (g / 2) & 1;
        __atomic_store_n(&r->gen[v], g + 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        int rc = present ? vmdb__index_remove(r->writer_ix, race_hash(rid), rid)
                         : vmdb__index_insert(r->writer_ix, race_hash(rid), rid);
        __atomic_store_n(&r->gen[v], g + 2, __ATOMIC_RELEASE);
        if (rc != 0) {
            r->writer_rc = rc;
            snprintf(r->writer_message, sizeof r->writer_message, "op %llu: %s",
                     (unsigned long long)op, vmdb_last_error()->message);
            break;
        }
        if (vmdb_map_len(vmdb__index_map(r->writer_ix)) != mapped) {
            r->grown++;
            mapped = vmdb_map_len(vmdb__index_map(r->writer_ix));
        }
        if (op % (r->ops / 8) == r->ops / 16) /* each reader checks a key meanwhile */
            for (unsigned i = 0; i < r->nreaders; i++)
                wait_past(&r->readers[i].checked_volatile,
                          __atomic_load_n(&r->readers[i].checked_volatile, __ATOMIC_RELAXED));
    }
    __atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
    return NULL;
}

static void race_note_error(struct race_reader *rd, int rc)
{
    rd->errors++;
    rd->last_error = rc;
    snprintf(rd->message, sizeof rd->message, "%s", vmdb_last_error()->message);
}

static void *race_read(void *arg)
{
    struct race_reader *rd = arg;
    struct race *r = rd->race;
    uint64_t rng = rd->seed;
    uint64_t absent_base = r->stable + r->volatile_keys;
    uint64_t absent_count = r->table->rows - absent_base;
    while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
        uint64_t x = next_random(&rng);
        unsigned kind = x % 8; /* 0: never inserted, 1-2: stable, 3-7: volatile */
        uint64_t got;
        rd->lookups++;
        if (kind == 0) {
            uint64_t rid = absent_base + (x >> 8) % absent_count;
            int rc = find_with(rd->ix, r->table, race_hash(rid), rid, &got);
            if (rc == 0)
                rd->ghost_hits++;
            else if (rc != VMDB_ENOTFOUND)
                race_note_error(rd, rc);
        } else if (kind <= 2) {
            uint64_t rid = (x >> 8) % r->stable;
            int rc = find_with(rd->ix, r->table, race_hash(rid), rid, &got);
            if (rc == VMDB_ENOTFOUND)
                rd->stable_misses++;
            else if (rc != 0)
                race_note_error(rd, rc);
            else if (got != rid)
                rd->wrong_rids++;
        } else {
            uint64_t v = (x >> 8) % r->volatile_keys;
            uint64_t rid = r->stable + v;
            uint64_t g1 = __atomic_load_n(&r->gen[v], __ATOMIC_ACQUIRE);
            int rc = find_with(rd->ix, r->table, race_hash(rid), rid, &got);
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            uint64_t g2 = __atomic_load_n(&r->gen[v], __ATOMIC_RELAXED);
            if (rc != 0 && rc != VMDB_ENOTFOUND)
                race_note_error(rd, rc);
            else if (g1 != g2 || (g1 & 1))
                continue; /* v changed meanwhile: either answer is right */
            __atomic_store_n(&rd->checked_volatile, rd->checked_volatile + 1, __ATOMIC_RELAXED);
            bool present = (g1 / 2) & 1;
            if (present && rc == VMDB_ENOTFOUND)
                rd->volatile_misses++;
            else if (!present && rc == 0)
                rd->ghost_hits++;
            else if (rc == 0 && got != rid)
                rd->wrong_rids++;
        }
    }
    return NULL;
}

/*
 * The same race, focused on backward shifts: 40 keys whose hashes all have
 * one home slot in a 64-entry array (half of them share one hash, so the
 * callback sees them), about half present at any time. Every removal then
 * shifts every present key behind it, and a reader is almost always in a
 * cluster that is moving.
 */
#define SHIFT_KEYS 40u

static uint64_t shift_hash(uint64_t rid)
{
    return (uint64_t)7 << 58 | (rid % 2 ? 12345 : rid);
}

struct shift_reader;

struct shift_race {
    struct shift_reader *reader; /* which the writer lets run now and then */
    vmdb__index *ix;
    struct table *table;
    uint64_t gen[SHIFT_KEYS];
    uint64_t ops, seed;
    bool done;
    int writer_rc;
};

struct shift_reader {
    struct shift_race *race;
    vmdb__index *ix;
    uint64_t seed, checked, misses, ghosts, errors;
};

static void *shift_writer(void *arg)
{
    struct shift_race *r = arg;
    uint64_t rng = r->seed;
    for (uint64_t op = 0; op < r->ops && r->writer_rc == 0; op++) {
        if (op % (r->ops / 8) == r->ops / 16) /* the reader checks a key meanwhile */
            wait_past(&r->reader->checked, __atomic_load_n(&r->reader->checked, __ATOMIC_RELAXED));
        uint64_t rid = next_random(&rng) % SHIFT_KEYS;
        uint64_t g = __atomic_load_n(&r->gen[rid], __ATOMIC_RELAXED);
        __atomic_store_n(&r->gen[rid], g + 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        r->writer_rc = (g / 2) & 1 ? vmdb__index_remove(r->ix, shift_hash(rid), rid)
                                   : vmdb__index_insert(r->ix, shift_hash(rid), rid);
        __atomic_store_n(&r->gen[rid], g + 2, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
    return NULL;
}

static void *shift_read(void *arg)
{
    struct shift_reader *rd = arg;
    struct shift_race *r = rd->race;
    uint64_t rng = rd->seed;
    while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
        uint64_t rid = next_random(&rng) % SHIFT_KEYS;
        uint64_t got;
        uint64_t g1 = __atomic_load_n(&r->gen[rid], __ATOMIC_ACQUIRE);
        int rc = find_with(rd->ix, r->table, shift_hash(rid), rid, &got);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint64_t g2 = __atomic_load_n(&r->gen[rid], __ATOMIC_RELAXED);
        if (rc != 0 && rc != VMDB_ENOTFOUND) {
            rd->errors++;
            continue;
        }
        if (g1 != g2 || (g1 & 1))
            continue;
        __atomic_store_n(&rd->checked, rd->checked + 1, __ATOMIC_RELAXED);
        bool present = (g1 / 2) & 1;
        if (present && (rc != 0 || got != rid))
            rd->misses++;
        else if (!present && rc == 0)
            rd->ghosts++;
    }
    return NULL;
}

/* One round of the focused race: the writer and one reader, so that on a
 * machine of two cores both really run at once. */
static void shift_round(struct shift_race *r, vmdb__index *reader_ix, const char *which)
{
    struct shift_reader rd = {.race = r, .ix = reader_ix, .seed = r->seed + 1};
    r->reader = &rd;
    r->done = false;
    pthread_t reader, writer;
    cr_assert_eq(pthread_create(&reader, NULL, shift_read, &rd), 0);
    cr_assert_eq(pthread_create(&writer, NULL, shift_writer, r), 0);
    cr_assert_eq(pthread_join(writer, NULL), 0);
    cr_assert_eq(pthread_join(reader, NULL), 0);
    cr_assert_eq(r->writer_rc, 0, "writer: %s", vmdb_error_name(r->writer_rc));
    cr_log_info("reader on the %s: %llu lookups checked; %llu misses, %llu ghosts, %llu errors",
                which, (unsigned long long)rd.checked, (unsigned long long)rd.misses,
                (unsigned long long)rd.ghosts, (unsigned long long)rd.errors);
    cr_assert_gt(rd.checked, 0);
    cr_assert_eq(rd.misses, 0, "reader on the %s missed present keys", which);
    cr_assert_eq(rd.ghosts, 0, "reader on the %s found absent keys", which);
    cr_assert_eq(rd.errors, 0, "reader on the %s had errors", which);
}

Test(index, concurrent_readers_never_miss_a_key_that_removals_shift)
{
    const char *path = test_path("shift.vmi");
    struct shift_race r = {
        .table = table_new(SHIFT_KEYS),
        .ops = RUNNING_ON_VALGRIND ? 20000 : 200000,
        .seed = test_seed(20240611),
    };
    r.table->dawdle = 200;
    r.ix = create_index(path, 0);
    vmdb__index *ro = open_index(path, VMDB__INDEX_READONLY);
    shift_round(&r, r.ix, "writer's handle");
    r.seed = next_random(&r.seed);
    shift_round(&r, ro, "read-only handle");
    cr_assert_eq(stats_of(r.ix).capacity, 64, "40 keys never need more than 64 entries");
    vmdb__index_close(ro);
    vmdb__index_close(r.ix);
    table_free(r.table);
    remove_test_dir();
}

Test(index, concurrent_readers_never_miss_a_present_key_while_the_writer_churns_and_grows)
{
    const char *path = test_path("race.vmi");
    struct race r = {
        .stable = RUNNING_ON_VALGRIND ? 200 : 2000,
        .volatile_keys = RUNNING_ON_VALGRIND ? 16000 : 60000,
        .ops = RUNNING_ON_VALGRIND ? 100000 : 400000,
        .seed = test_seed(20240611),
    };
    r.table = table_new(r.stable + r.volatile_keys + 5000);
    r.table->dawdle = 200;
    r.gen = calloc(r.volatile_keys, sizeof *r.gen);
    r.writer_ix = create_index(path, 0);
    /* Volatile keys first: in each hash group they then sit before the
     * stable keys, so removing them shifts stable keys back too. */
    for (uint64_t v = 0; v < RACE_FIRST; v++) {
        ASSERT_OK(vmdb__index_insert(r.writer_ix, race_hash(r.stable + v), r.stable + v));
        r.gen[v] = 2;
    }
    for (uint64_t rid = 0; rid < r.stable; rid++)
        ASSERT_OK(vmdb__index_insert(r.writer_ix, race_hash(rid), rid));
    vmdb__index *shared_reader = open_index(path, VMDB__INDEX_READONLY);
    uint64_t reader_mapped = vmdb_map_len(vmdb__index_map(shared_reader));
    struct race_reader readers[3] = {
        {.race = &r, .ix = r.writer_ix, .seed = r.seed + 1},
        {.race = &r, .ix = shared_reader, .seed = r.seed + 2},
        {.race = &r, .ix = shared_reader, .seed = r.seed + 3},
    };
    r.readers = readers;
    r.nreaders = 3;
    pthread_t reader_tids[3], writer_tid;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&reader_tids[i], NULL, race_read, &readers[i]), 0);
    cr_assert_eq(pthread_create(&writer_tid, NULL, race_writer, &r), 0);
    cr_assert_eq(pthread_join(writer_tid, NULL), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_join(reader_tids[i], NULL), 0);
    cr_assert_eq(r.writer_rc, 0, "writer: %s: %s", vmdb_error_name(r.writer_rc), r.writer_message);
    cr_log_info("the index grew %llu times during the race", (unsigned long long)r.grown);
    cr_assert_geq(r.grown, 3, "the index grew only %llu times during the race",
                  (unsigned long long)r.grown);
    for (int i = 0; i < 3; i++) {
        struct race_reader *rd = &readers[i];
        cr_log_info("reader %d: %llu lookups, %llu of volatile keys checked; missed %llu stable, "
                    "%llu volatile; %llu ghosts, %llu wrong rids, %llu errors",
                    i, (unsigned long long)rd->lookups, (unsigned long long)rd->checked_volatile,
                    (unsigned long long)rd->stable_misses,
                    (unsigned long long)rd->volatile_misses, (unsigned long long)rd->ghost_hits,
                    (unsigned long long)rd->wrong_rids, (unsigned long long)rd->errors);
    }
    for (int i = 0; i < 3; i++) {
        struct race_reader *rd = &readers[i];
        cr_assert_gt(rd->checked_volatile, 0, "reader %d checked no volatile key", i);
        cr_assert_eq(rd->stable_misses + rd->volatile_misses, 0, "reader %d missed present keys",
                     i);
        cr_assert_eq(rd->ghost_hits, 0, "reader %d found absent keys", i);
        cr_assert_eq(rd->wrong_rids, 0, "reader %d got wrong rids", i);
        cr_assert_eq(rd->errors, 0, "reader %d: %llu errors, last %s: %s", i,
                     (unsigned long long)rd->errors, vmdb_error_name(rd->last_error), rd->message);
    }
    cr_assert_gt(vmdb_map_len(vmdb__index_map(shared_reader)), reader_mapped,
                 "the read-only map should have followed the growth");
    for (uint64_t rid = 0; rid < r.stable; rid++) {
        assert_found(shared_reader, r.table, race_hash(rid), rid);
        assert_found(r.writer_ix, r.table, race_hash(rid), rid);
    }
    for (uint64_t v = 0; v < r.volatile_keys; v++) {
        if ((r.gen[v] / 2) & 1)
            assert_found(shared_reader, r.table, race_hash(r.stable + v), r.stable + v);
        else
            assert_missing(shared_reader, r.table, race_hash(r.stable + v), r.stable + v);
    }
    vmdb__index_close(shared_reader);
    vmdb__index_close(r.writer_ix);
    free(r.gen);
    table_free(r.table);
    remove_test_dir();
}
