/* SPDX-License-Identifier: MIT */
/*
 * tests/crash_model.h - what the crash harnesses (test_crash.c, kill;
 * test_powerloss.c, power cut) share: records that check themselves,
 * transactions generated from their number alone, and a model of the
 * database they should leave, so the parent knows what each transaction
 * did without being told.
 */
#ifndef VMDB_TESTS_CRASH_MODEL_H
#define VMDB_TESTS_CRASH_MODEL_H

#include <stdbool.h>
#include <xxhash.h>

#include "helpers.h"
#include "vmdb/db.h"
#include "vmdb/schema.h"

/* A tiny deterministic generator (splitmix64). */
static inline uint64_t next_rand(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}


static inline unsigned cycles_from_env(const char *name, unsigned dflt)
{
    const char *s = getenv(name);
    return s ? (unsigned)strtoul(s, NULL, 0) : dflt;
}

#define KEYS 64

/* 104 bytes, so slots (120 bytes with their header) straddle 512-byte
 * sectors and a torn sector can cut a record in two: key, the transaction
 * and operation that wrote it, a check derived from all three, padding
 * that repeats the check. */
struct rec {
    uint64_t key;
    uint64_t txn;
    uint64_t op;
    uint64_t check;
    uint64_t pad[9];
};

static const char *schema_text =
    "key:u64 key, txn:u64, op:u64, check:u64, p0:u64, p1:u64, p2:u64, p3:u64, p4:u64, "
    "p5:u64, p6:u64, p7:u64, p8:u64";

static inline uint64_t check_of(uint64_t key, uint64_t txn, uint64_t op)
{
    uint64_t v[3] = {key, txn, op};
    return XXH3_64bits(v, sizeof v);
}

static inline void make_rec(struct rec *r, uint64_t key, uint64_t txn, uint64_t op)
{
    r->key = key;
    r->txn = txn;
    r->op = op;
    r->check = check_of(key, txn, op);
    for (int i = 0; i < 9; i++)
        r->pad[i] = r->check + (uint64_t)i;
}

static inline bool rec_ok(const struct rec *r)
{
    if (r->check != check_of(r->key, r->txn, r->op))
        return false;
    for (int i = 0; i < 9; i++)
        if (r->pad[i] != r->check + (uint64_t)i)
            return false;
    return true;
}

/* The state of every key: the txn and op that wrote it, or txn 0. */
struct model {
    uint64_t txn[KEYS];
    uint64_t op[KEYS];
};

/* Transaction n applied to a model (the writer does the same to the db),
 * generated from its number alone. */
static inline void txn_ops(uint64_t seed, uint64_t n, struct model *m, vmdb_txn *txn, vmdb_table *t)
{
    uint64_t s = seed ^ (n * 0x2545f4914f6cdd1dULL);
    uint64_t count = 1 + next_rand(&s) % 100;
    for (uint64_t op = 0; op < count; op++) {
        uint64_t key = next_rand(&s) % KEYS;
        bool del = next_rand(&s) % 4 == 0;
        if (del) {
            if (m->txn[key] == 0)
                continue; /* deleting a missing key is not an operation */
            m->txn[key] = 0;
            m->op[key] = 0;
            if (txn && vmdb_txn_delete(txn, t, &key, sizeof key) != 0)
                _exit(10);
        } else {
            m->txn[key] = n;
            m->op[key] = op;
            if (txn) {
                struct rec r;
                make_rec(&r, key, n, op);
                if (vmdb_txn_put(txn, t, &r, NULL) != 0)
                    _exit(11);
            }
        }
    }
}

/* ---- several writers, one commit order ----------------------------------
 *
 * The power-cut harness runs up to MAX_WRITERS writer processes, each with
 * its own transaction numbers, at durabilities drawn from those numbers.
 * To know the order their commits took, every transaction reads ORDER_KEY
 * (the place g of the last commit in the order) and writes g + 1 there,
 * the txn field of every record it writes is g, and LAST_KEY(w) says
 * which transaction of writer w came last and where. The records after
 * the data keys are part of the state like any other: a state that is a
 * prefix of the order holds them as its last commit left them.
 */
#define MAX_WRITERS 2
#define ORDER_KEY KEYS               /* txn g, op writer << 32 | its number */
#define LAST_KEY(w) (KEYS + 1 + (w)) /* txn g, op the writer's number */
#define ALL_KEYS (KEYS + 1 + MAX_WRITERS)

/* The state of every key, the order's included: what wrote it, or txn 0. */
struct order_model {
    uint64_t txn[ALL_KEYS];
    uint64_t op[ALL_KEYS];
};

static inline uint64_t writer_txn_seed(uint64_t seed, unsigned w, uint64_t n)
{
    return seed ^ (n * 0x2545f4914f6cdd1dULL) ^ ((uint64_t)(w + 1) * 0x9fb21c651e98df25ULL);
}

/* Transaction n of writer w asks for this durability. */
static inline enum vmdb_durability writer_txn_durability(uint64_t seed, unsigned w, uint64_t n)
{
    static const enum vmdb_durability d[] = {VMDB_DURABILITY_NONE, VMDB_DURABILITY_SYNC,
                                             VMDB_DURABILITY_GROUP};
    uint64_t s = writer_txn_seed(seed, w, n) ^ 0x5851f42d4c957f2dULL;
    return d[next_rand(&s) % 3];
}

static inline const char *durability_name(enum vmdb_durability d)
{
    return d == VMDB_DURABILITY_NONE ? "NONE" : d == VMDB_DURABILITY_SYNC ? "SYNC" : "GROUP";
}

/* Puts record (key, g, op) into the model, and into the table if txn. */
static inline void order_put(struct order_model *m, uint64_t key, uint64_t g, uint64_t op,
                             vmdb_txn *txn, vmdb_table *t)
{
    m->txn[key] = g;
    m->op[key] = op;
    if (txn) {
        struct rec r;
        make_rec(&r, key, g, op);
        if (vmdb_txn_put(txn, t, &r, NULL) != 0)
            _exit(11);
    }
}

/*
 * Transaction n of writer w at place g of the order, applied to a model
 * (and, with txn, to the table). Its operations depend on (w, n) alone,
 * not on what the database holds (a delete of a missing key does
 * nothing), so a writer needs no knowledge of the other's. `progress`, if
 * not NULL, is called after each operation.
 */
static inline void writer_txn_ops(uint64_t seed, unsigned w, uint64_t n, uint64_t g,
                                  struct order_model *m, vmdb_txn *txn, vmdb_table *t,
                                  void (*progress)(void *ctx), void *ctx)
{
    uint64_t s = writer_txn_seed(seed, w, n);
    uint64_t count = 1 + next_rand(&s) % 100;
    for (uint64_t op = 0; op < count; op++) {
        uint64_t key = next_rand(&s) % KEYS;
        if (next_rand(&s) % 4 == 0) {
            m->txn[key] = 0;
            m->op[key] = 0;
            int rc = txn ? vmdb_txn_delete(txn, t, &key, sizeof key) : 0;
            if (rc != 0 && rc != VMDB_ENOTFOUND)
                _exit(10);
        } else {
            order_put(m, key, g, op, txn, t);
        }
        if (progress)
            progress(ctx);
    }
    order_put(m, ORDER_KEY, g, (uint64_t)w << 32 | n, txn, t);
    order_put(m, LAST_KEY(w), g, n, txn, t);
}

/* Creates the database of the power-cut tests: table t, and a log of
 * 256 KiB, small enough that checkpoints come every dozen transactions. */
static inline void create_crash_db(const char *path)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 256 << 10};
    ASSERT_OK(vmdb_open(path, &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse(schema_text, &s));
    ASSERT_OK(vmdb_table_create(db, "t", s, NULL));
    vmdb_schema_free(s);
    vmdb_close(db);
}

/* Describes how key `key` of the database differs from the state
 * (want_txn, want_op), txn 0 for absent, or returns false when it does
 * not. */
static inline bool key_state_differs(vmdb_table *t, uint64_t want_txn, uint64_t want_op,
                                     uint64_t key, char *buf, size_t cap)
{
    struct rec r;
    int rc = vmdb_table_get(t, &key, sizeof key, &r, NULL);
    if (want_txn == 0) {
        if (rc == VMDB_ENOTFOUND)
            return false;
        if (rc == 0)
            snprintf(buf, cap, "key %llu should be absent, holds txn %llu op %llu%s",
                     (unsigned long long)key, (unsigned long long)r.txn,
                     (unsigned long long)r.op, rec_ok(&r) ? "" : " (a damaged record)");
        else
            snprintf(buf, cap, "key %llu should be absent, lookup failed: %s",
                     (unsigned long long)key, vmdb_last_error()->message);
        return true;
    }
    if (rc == 0 && rec_ok(&r) && r.txn == want_txn && r.op == want_op)
        return false;
    if (rc == VMDB_ENOTFOUND)
        snprintf(buf, cap, "key %llu should hold txn %llu op %llu, is absent",
                 (unsigned long long)key, (unsigned long long)want_txn,
                 (unsigned long long)want_op);
    else if (rc == 0)
        snprintf(buf, cap, "key %llu should hold txn %llu op %llu, holds txn %llu op %llu%s",
                 (unsigned long long)key, (unsigned long long)want_txn,
                 (unsigned long long)want_op, (unsigned long long)r.txn,
                 (unsigned long long)r.op, rec_ok(&r) ? "" : " (a damaged record)");
    else
        snprintf(buf, cap, "key %llu should hold txn %llu op %llu, lookup failed: %s",
                 (unsigned long long)key, (unsigned long long)want_txn,
                 (unsigned long long)want_op, vmdb_last_error()->message);
    return true;
}

static inline bool key_differs(vmdb_table *t, const struct model *m, uint64_t key, char *buf,
                               size_t cap)
{
    return key_state_differs(t, m->txn[key], m->op[key], key, buf, cap);
}

/* How many keys differ from m; the first one described in buf. */
static inline unsigned differences(vmdb_table *t, const struct model *m, char *buf, size_t cap)
{
    unsigned n = 0;
    char one[256];
    buf[0] = '\0';
    for (uint64_t key = 0; key < KEYS; key++)
        if (key_differs(t, m, key, n ? one : buf, n ? sizeof one : cap))
            n++;
    return n;
}

/* How many keys, the order's included, differ from m; the first one
 * described in buf. */
static inline unsigned order_differences(vmdb_table *t, const struct order_model *m, char *buf,
                                         size_t cap)
{
    unsigned n = 0;
    char one[256];
    buf[0] = '\0';
    for (uint64_t key = 0; key < ALL_KEYS; key++)
        if (key_state_differs(t, m->txn[key], m->op[key], key, n ? one : buf,
                              n ? sizeof one : cap))
            n++;
    return n;
}

#endif /* VMDB_TESTS_CRASH_MODEL_H */
