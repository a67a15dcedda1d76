/* SPDX-License-Identifier: MIT */
/*
 * tests/test_get_many.c - vmdb_table_get_many answers as a loop of
 * vmdb_table_get would: the same records, the same misses, the same
 * errors, whatever its prefetches guessed.
 */
#include "helpers.h" /* first: it picks the feature macros */

#include "vmdb/db.h"
#include "vmdb/schema.h"

#include <pthread.h>

TestSuite(get_many, .timeout = 120);

struct item {
    uint64_t id;
    uint64_t value;
    char note[16];
};

static const vmdb_field item_fields[] = {
    VMDB_KEY(struct item, id, VMDB_TYPE_U64),
    VMDB_FIELD(struct item, value, VMDB_TYPE_U64),
    VMDB_FIELD(struct item, note, VMDB_TYPE_STR),
};

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static struct item item_of(uint64_t id, uint64_t version)
{
    struct item it = {.id = id, .value = mix(id) + version};
    snprintf(it.note, sizeof it.note, "n%llu", (unsigned long long)(id % 100000));
    return it;
}

static vmdb_table *items_table(vmdb_db *db)
{
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_new(item_fields, sizeof item_fields / sizeof *item_fields,
                              sizeof(struct item), &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "items", s, &t));
    vmdb_schema_free(s);
    return t;
}

static vmdb_db *open_db(const char *path, enum vmdb_durability durability)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .durability = durability,
                         .wal_size = 8 << 20};
    ASSERT_OK(vmdb_open(path, &o, &db));
    return db;
}

/* Puts the even ids below 2n, version `version`. */
static void put_evens(vmdb_db *db, vmdb_table *t, uint64_t n, uint64_t version,
                      enum vmdb_durability durability)
{
    for (uint64_t i = 0; i < n; i += 500) {
        vmdb_txn *txn;
        ASSERT_OK(vmdb_txn_begin(db, durability, &txn));
        for (uint64_t j = i; j < i + 500 && j < n; j++) {
            struct item it = item_of(2 * j, version);
            ASSERT_OK(vmdb_txn_put(txn, t, &it, NULL));
        }
        ASSERT_OK(vmdb_txn_commit(txn));
    }
}

/* Looks up `count` random ids below 2n (half of them missing) both ways
 * and asserts the answers are the same. */
static void compare_with_gets(vmdb_table *t, uint64_t n, size_t count, uint64_t seed)
{
    uint64_t *keys = malloc(count * sizeof *keys);
    struct item *many = malloc(count * sizeof *many);
    bool *found = malloc(count);
    cr_assert(keys && many && found);
    for (size_t i = 0; i < count; i++)
        keys[i] = mix(seed + i) % (2 * n);
    memset(many, 0xa5, count * sizeof *many);
    long hits = vmdb_table_get_many(t, keys, sizeof *keys, count, many, found);
    cr_assert_geq(hits, 0, "get_many: %s", vmdb_last_error()->message);
    long expected = 0;
    for (size_t i = 0; i < count; i++) {
        struct item one;
        int rc = vmdb_table_get(t, &keys[i], sizeof keys[i], &one, NULL);
        cr_assert(rc == 0 || rc == VMDB_ENOTFOUND, "get %llu: %s",
                  (unsigned long long)keys[i], vmdb_last_error()->message);
        cr_assert_eq(found[i], rc == 0, "key %llu: get_many says %s, get %s",
                     (unsigned long long)keys[i], found[i] ? "found" : "missing",
                     rc ? "missing" : "found");
        if (rc == 0) {
            expected++;
            cr_assert_eq(memcmp(&many[i], &one, sizeof one), 0, "key %llu: records differ",
                         (unsigned long long)keys[i]);
        } else {
            unsigned char untouched[sizeof(struct item)];
            memset(untouched, 0xa5, sizeof untouched);
            cr_assert_eq(memcmp(&many[i], untouched, sizeof untouched), 0,
                         "key %llu is missing, yet its record was written",
                         (unsigned long long)keys[i]);
        }
    }
    cr_assert_eq(hits, expected);
    free(keys);
    free(many);
    free(found);
}

Test(get_many, answers_as_a_loop_of_gets_would)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DURABILITY_SYNC);
    vmdb_table *t = items_table(db);
    uint64_t n = 20000;
    put_evens(db, t, n, 0, VMDB_DURABILITY_NONE);
    uint64_t seed = test_seed(1);
    /* Counts around the pipeline's depth, where its edges are. */
    for (size_t count = 0; count < 40; count++)
        compare_with_gets(t, n, count, seed + count * 1000);
    compare_with_gets(t, n, 5000, seed);
    vmdb_close(db);
    remove_test_dir();
}

Test(get_many, sees_commits_still_queued)
{
    /* NONE commits wait in the group queue before they reach the tables:
     * a get sees them there, and so must get_many. */
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DURABILITY_NONE);
    vmdb_table *t = items_table(db);
    uint64_t n = 3000;
    put_evens(db, t, n, 0, VMDB_DURABILITY_NONE);
    put_evens(db, t, n, 1, VMDB_DURABILITY_NONE);
    uint64_t keys[64];
    struct item many[64];
    for (size_t i = 0; i < 64; i++)
        keys[i] = 2 * (mix(i) % n);
    cr_assert_eq(vmdb_table_get_many(t, keys, sizeof *keys, 64, many, NULL), 64);
    for (size_t i = 0; i < 64; i++)
        cr_assert_eq(many[i].value, mix(keys[i]) + 1, "key %llu: an old version",
                     (unsigned long long)keys[i]);
    compare_with_gets(t, n, 2000, test_seed(2));
    vmdb_close(db);
    remove_test_dir();
}

Test(get_many, takes_str_keys_padded_to_one_size)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DURABILITY_SYNC);
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("code:str8 key, count:u32", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "codes", s, &t));
    vmdb_schema_free(s);
    size_t record = vmdb_schema_record_size(vmdb_table_schema(t));
    cr_assert_leq(record, 16);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    const char *codes[] = {"a", "bb", "ccc", "dddddddd"};
    for (uint32_t i = 0; i < 4; i++) {
        unsigned char rec[16] = {0};
        memcpy(rec, codes[i], strlen(codes[i]));
        memcpy(rec + 8, &i, 4);
        ASSERT_OK(vmdb_txn_put(txn, t, rec, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    /* Keys of 9 bytes each, NUL-padded: a str key ends at its first NUL. */
    char keys[5][9] = {"ccc", "zz", "a", "dddddddd", "bb"};
    unsigned char out[5][16];
    bool found[5];
    cr_assert_eq(vmdb_table_get_many(t, keys, 9, 5, out, found), 4);
    int want[5] = {2, -1, 0, 3, 1};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(found[i], want[i] >= 0, "key %s", keys[i]);
        uint32_t count;
        memcpy(&count, out[i] + 8, 4);
        if (want[i] >= 0)
            cr_assert_eq(count, (uint32_t)want[i], "key %s", keys[i]);
    }
    vmdb_close(db);
    remove_test_dir();
}

Test(get_many, refuses_what_get_refuses)
{
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DURABILITY_SYNC);
    vmdb_table *t = items_table(db);
    put_evens(db, t, 100, 0, VMDB_DURABILITY_SYNC);
    uint32_t short_keys[4] = {0, 2, 4, 6};
    struct item out[4];
    vmdb_error_clear();
    cr_assert_eq(vmdb_table_get_many(t, short_keys, sizeof *short_keys, 4, out, NULL),
                 VMDB_EINVAL);
    cr_assert(strstr(vmdb_last_error()->message, "items"), "%s", vmdb_last_error()->message);
    uint64_t keys[2] = {0, 2};
    cr_assert_eq(vmdb_table_get_many(NULL, keys, 8, 2, out, NULL), VMDB_EINVAL);
    cr_assert_eq(vmdb_table_get_many(t, NULL, 8, 2, out, NULL), VMDB_EINVAL);
    cr_assert_eq(vmdb_table_get_many(t, keys, 8, 2, NULL, NULL), VMDB_EINVAL);
    cr_assert_eq(vmdb_table_get_many(t, keys, 0, 2, out, NULL), VMDB_EINVAL);
    cr_assert_eq(vmdb_table_get_many(t, NULL, 8, 0, NULL, NULL), 0);
    vmdb_close(db);
    remove_test_dir();
}

struct toggler {
    vmdb_db *db;
    vmdb_table *t;
    uint64_t id;
    uint64_t rounds; /* puts and deletes made, read by the reader */
    bool stop;
};

/* Puts the key, deletes it, over and over, each in its own commit. */
static void *toggle_key(void *arg)
{
    struct toggler *g = arg;
    while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
        struct item it = item_of(g->id, __atomic_load_n(&g->rounds, __ATOMIC_RELAXED));
        vmdb_txn *txn;
        if (vmdb_txn_begin(g->db, VMDB_DURABILITY_SYNC, &txn) < 0 ||
            vmdb_txn_put(txn, g->t, &it, NULL) < 0 || vmdb_txn_commit(txn) < 0)
            break;
        if (vmdb_txn_begin(g->db, VMDB_DURABILITY_SYNC, &txn) < 0 ||
            vmdb_txn_delete(txn, g->t, &g->id, sizeof g->id) < 0 || vmdb_txn_commit(txn) < 0)
            break;
        __atomic_add_fetch(&g->rounds, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

Test(get_many, a_key_deleted_meanwhile_leaves_its_record_as_it_was)
{
    /* A get that finds the key's entry, then the slot freed by a delete
     * before it reads it, answers "missing": the record must not hold the
     * freed slot's bytes then. */
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DURABILITY_SYNC);
    vmdb_table *t = items_table(db);
    put_evens(db, t, 64, 0, VMDB_DURABILITY_SYNC);
    struct toggler g = {.db = db, .t = t, .id = 1};
    pthread_t writer;
    cr_assert_eq(pthread_create(&writer, NULL, toggle_key, &g), 0);
    uint64_t keys[1] = {1};
    unsigned char untouched[sizeof(struct item)];
    memset(untouched, 0xa5, sizeof untouched);
    long clobbered = 0, misses = 0;
    while (__atomic_load_n(&g.rounds, __ATOMIC_ACQUIRE) < 3000 && clobbered == 0) {
        struct item out;
        bool found;
        memset(&out, 0xa5, sizeof out);
        long hits = vmdb_table_get_many(t, keys, sizeof *keys, 1, &out, &found);
        cr_assert_geq(hits, 0, "get_many: %s", vmdb_last_error()->message);
        if (!found) {
            misses++;
            clobbered += memcmp(&out, untouched, sizeof out) != 0;
        }
    }
    __atomic_store_n(&g.stop, true, __ATOMIC_RELEASE);
    pthread_join(writer, NULL);
    cr_assert_eq(clobbered, 0, "a miss wrote its record (after %llu rounds, %ld misses)",
                 (unsigned long long)g.rounds, misses);
    vmdb_close(db);
    remove_test_dir();
}

Test(get_many, get_rid_of_a_deleted_record_leaves_the_buffer_alone)
{
    /* The mutant's path, and a program's: a freed slot still holds bytes,
     * which a miss must not hand over. */
    const char *path = test_path("db");
    vmdb_db *db = open_db(path, VMDB_DURABILITY_SYNC);
    vmdb_table *t = items_table(db);
    put_evens(db, t, 4, 0, VMDB_DURABILITY_SYNC);
    uint64_t id = 2, rid;
    struct item out;
    ASSERT_OK(vmdb_table_get(t, &id, sizeof id, &out, &rid));
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_SYNC, &txn));
    ASSERT_OK(vmdb_txn_delete(txn, t, &id, sizeof id));
    ASSERT_OK(vmdb_txn_commit(txn));
    unsigned char untouched[sizeof out];
    memset(untouched, 0xa5, sizeof untouched);
    memset(&out, 0xa5, sizeof out);
    cr_assert_eq(vmdb_table_get_rid(t, rid, &out), VMDB_ENOTFOUND);
    cr_assert_eq(memcmp(&out, untouched, sizeof out), 0, "a miss wrote the record");
    vmdb_close(db);
    remove_test_dir();
}
