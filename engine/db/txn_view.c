/* SPDX-License-Identifier: MIT */
/*
 * engine/db/txn_view.c - transactions as writers see them before they
 * reach the tables: each transaction's own operations, found by key and
 * by record id in two small hash maps, and the layer of committed
 * transactions queued for their log flush (NONE), newest first. Also the
 * memory of ended transactions, kept for the next ones.
 */
#include "txn.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- the operation maps ------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static void map_free(struct op_map *m)
{
    free(m->keys);
    free(m->ops);
}

static int map_grow(struct op_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = calloc(cap, sizeof *keys);
    uint32_t *ops = calloc(cap, sizeof *ops);
    if (!keys || !ops) {
        free(keys);
        free(ops);
        return vmdb__fail(VMDB_ENOMEM, "transaction: out of memory");
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->ops[i])
            continue;
        size_t j = mix(m->keys[i]) & (cap - 1);
        while (ops[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        ops[j] = m->ops[i];
    }
    map_free(m);
    m->keys = keys;
    m->ops = ops;
    m->cap = cap;
    return 0;
}

/* The slot for `key` for which same(ctx, op) holds, or the empty slot
 * where it would go. */
static size_t map_find(const struct op_map *m, uint64_t key,
                       bool (*same)(const struct vmdb_txn *, uint32_t, const void *),
                       const struct vmdb_txn *txn, const void *ctx)
{
    size_t j = mix(key) & (m->cap - 1);
    while (m->ops[j] && !(m->keys[j] == key && same(txn, m->ops[j] - 1, ctx)))
        j = (j + 1) & (m->cap - 1);
    return j;
}

int vmdb__txn_map_set(struct op_map *m, uint64_t key, uint32_t op,
                   bool (*same)(const struct vmdb_txn *, uint32_t, const void *),
                   const struct vmdb_txn *txn, const void *ctx)
{
    if ((m->used + 1) * 4 > m->cap * 3) {
        int rc = map_grow(m);
        if (rc < 0)
            return rc;
    }
    size_t j = map_find(m, key, same, txn, ctx);
    if (!m->ops[j])
        m->used++;
    m->keys[j] = key;
    m->ops[j] = op + 1;
    return 0;
}

int vmdb__txn_map_get(const struct op_map *m, uint64_t key,
                   bool (*same)(const struct vmdb_txn *, uint32_t, const void *),
                   const struct vmdb_txn *txn, const void *ctx)
{
    if (!m->cap)
        return -1;
    size_t j = map_find(m, key, same, txn, ctx);
    return m->ops[j] ? (int)(m->ops[j] - 1) : -1;
}

void vmdb__txn_op_key(const struct txn_op *op, const void **key, size_t *len)
{
    if (op->kind == VMDB__WAL_PUT) {
        vmdb__table_key(op->table, op->payload, key, len);
    } else {
        *key = op->payload;
        *len = op->payload_len;
    }
}

bool vmdb__txn_same_key(const struct vmdb_txn *txn, uint32_t op, const void *ctx)
{
    const struct key_ref *k = ctx;
    const struct txn_op *o = &txn->ops[op];
    if (o->table != k->table)
        return false;
    const void *key;
    size_t len;
    vmdb__txn_op_key(o, &key, &len);
    return len == k->len && memcmp(key, k->key, len) == 0;
}

bool vmdb__txn_same_rid(const struct vmdb_txn *txn, uint32_t op, const void *ctx)
{
    const struct txn_op *o = &txn->ops[op];
    const struct txn_op *want = ctx;
    return o->table == want->table && o->rid == want->rid;
}

uint64_t vmdb__txn_rid_key(const vmdb_table *t, uint64_t rid)
{
    return (uint64_t)t->id << 48 ^ rid;
}

/* ---- state as the transaction sees it ----------------------------------- */

/*
 * A writer sees, newest first: its own operations, those of transactions
 * queued for their log flush (committed, not yet in the tables), then the
 * tables. The queue is one layer, the view's by_key and by_rid, read with
 * db->group held: the newest queued operation that mentions a key, and
 * the newest on a record.
 */

/* Open addressing from a 64-bit key to a queued transaction's operation. */
typedef struct queue_map {
    uint64_t *keys;
    struct vmdb_txn **txns; /* NULL: an empty slot */
    uint32_t *ops;
    size_t cap; /* a power of two, or 0 */
    size_t used;
} queue_map;

/* txn_view.c's own: the queue's view, under db->group, and the ended
 * transactions kept for reuse, under `spares_lock`. */
struct vmdb__txn_view {
    queue_map by_key, by_rid;
    pthread_mutex_t spares_lock;
    vmdb_txn *spares;
    size_t spare_count;
};

static size_t qmap_find(const queue_map *m, uint64_t key,
                        bool (*same)(const struct vmdb_txn *, uint32_t, const void *),
                        const void *ctx)
{
    size_t j = mix(key) & (m->cap - 1);
    while (m->txns[j] && !(m->keys[j] == key && same(m->txns[j], m->ops[j], ctx)))
        j = (j + 1) & (m->cap - 1);
    return j;
}

static int qmap_reserve(queue_map *m, size_t more)
{
    size_t cap = m->cap ? m->cap : 64;
    while ((m->used + more) * 4 > cap * 3)
        cap *= 2;
    if (cap == m->cap)
        return 0;
    queue_map g = {.keys = calloc(cap, sizeof *g.keys),
                         .txns = calloc(cap, sizeof *g.txns),
                         .ops = calloc(cap, sizeof *g.ops),
                         .cap = cap,
                         .used = m->used};
    if (!g.keys || !g.txns || !g.ops) {
        free(g.keys);
        free(g.txns);
        free(g.ops);
        return vmdb__fail(VMDB_ENOMEM, "transaction: out of memory");
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->txns[i])
            continue;
        size_t j = mix(m->keys[i]) & (cap - 1);
        while (g.txns[j])
            j = (j + 1) & (cap - 1);
        g.keys[j] = m->keys[i];
        g.txns[j] = m->txns[i];
        g.ops[j] = m->ops[i];
    }
    free(m->keys);
    free(m->txns);
    free(m->ops);
    *m = g;
    return 0;
}

/* Empties slot j, moving later entries of its run back so that every
 * entry stays reachable from its home slot. */
static void qmap_remove_at(queue_map *m, size_t j)
{
    size_t mask = m->cap - 1;
    for (size_t k = (j + 1) & mask; m->txns[k]; k = (k + 1) & mask) {
        size_t home = mix(m->keys[k]) & mask;
        /* The entry at k may fill the hole at j unless its home lies
         * cyclically in (j, k]. */
        bool stays = j <= k ? (home > j && home <= k) : (home > j || home <= k);
        if (stays)
            continue;
        m->keys[j] = m->keys[k];
        m->txns[j] = m->txns[k];
        m->ops[j] = m->ops[k];
        j = k;
    }
    m->txns[j] = NULL;
    m->used--;
}

/* The view's slots for operation i of txn: where its key's entry and its
 * record's entry are, or would go. */
static void view_slots(vmdb_db *db, const vmdb_txn *txn, uint32_t i, size_t *by_key,
                       size_t *by_rid)
{
    const struct txn_op *op = &txn->ops[i];
    const void *key;
    size_t len;
    vmdb__txn_op_key(op, &key, &len);
    struct key_ref ref = {op->table, key, len};
    *by_key = qmap_find(&db->txn_view->by_key, op->hash, vmdb__txn_same_key, &ref);
    *by_rid = qmap_find(&db->txn_view->by_rid, vmdb__txn_rid_key(op->table, op->rid),
                        vmdb__txn_same_rid, op);
}

static void qmap_put_at(queue_map *m, size_t j, uint64_t key, vmdb_txn *txn, uint32_t op)
{
    m->used += m->txns[j] == NULL;
    m->keys[j] = key;
    m->txns[j] = txn;
    m->ops[j] = op;
}

/* Operations ahead whose entries in the queue's maps are prefetched: a
 * transaction's keys scatter over maps as large as the queue, and joining
 * or leaving them one at a time would wait for each cache miss in turn. */
#define VIEW_AHEAD 8

static void qmap_prefetch(const queue_map *m, uint64_t key)
{
    size_t j = mix(key) & (m->cap - 1);
    __builtin_prefetch(&m->txns[j]);
    __builtin_prefetch(&m->keys[j]);
    __builtin_prefetch(&m->ops[j]);
}

static void prefetch_view_slots(const vmdb_db *db, const vmdb_txn *txn, uint32_t i)
{
    if (i >= txn->count || !db->txn_view->by_key.cap)
        return;
    const struct txn_op *op = &txn->ops[i];
    qmap_prefetch(&db->txn_view->by_key, op->hash);
    qmap_prefetch(&db->txn_view->by_rid, vmdb__txn_rid_key(op->table, op->rid));
}

void vmdb__txn_join_queue_view(vmdb_db *db, vmdb_txn *txn)
{
    for (uint32_t i = 0; i < VIEW_AHEAD; i++)
        prefetch_view_slots(db, txn, i);
    for (uint32_t i = 0; i < txn->count; i++) {
        const struct txn_op *op = &txn->ops[i];
        prefetch_view_slots(db, txn, i + VIEW_AHEAD);
        size_t k, r;
        view_slots(db, txn, i, &k, &r);
        qmap_put_at(&db->txn_view->by_key, k, op->hash, txn, i);
        qmap_put_at(&db->txn_view->by_rid, r, vmdb__txn_rid_key(op->table, op->rid), txn, i);
    }
}

void vmdb__txn_leave_queue_view(vmdb_db *db, vmdb_txn *txn)
{
    for (uint32_t i = 0; i < VIEW_AHEAD; i++)
        prefetch_view_slots(db, txn, i);
    for (uint32_t i = 0; i < txn->count; i++) {
        prefetch_view_slots(db, txn, i + VIEW_AHEAD);
        size_t k, r;
        view_slots(db, txn, i, &k, &r);
        if (db->txn_view->by_key.txns[k] == txn)
            qmap_remove_at(&db->txn_view->by_key, k);
        if (db->txn_view->by_rid.txns[r] == txn)
            qmap_remove_at(&db->txn_view->by_rid, r);
    }
}

int vmdb__txn_view_reserve(vmdb_db *db, size_t ops)
{
    int rc = qmap_reserve(&db->txn_view->by_key, ops);
    return rc < 0 ? rc : qmap_reserve(&db->txn_view->by_rid, ops);
}

static void free_queue_view(vmdb_db *db)
{
    queue_map *maps[] = {&db->txn_view->by_key, &db->txn_view->by_rid};
    for (size_t i = 0; i < 2; i++) {
        free(maps[i]->keys);
        free(maps[i]->txns);
        free(maps[i]->ops);
        *maps[i] = (queue_map){0};
    }
}

/* The latest operation of one transaction on record rid, or NULL. */
static const struct txn_op *layer_on_rid(const vmdb_txn *layer, const vmdb_table *t,
                                         uint64_t rid)
{
    if (!layer)
        return NULL;
    struct txn_op probe = {.table = (vmdb_table *)t, .rid = rid};
    int i = vmdb__txn_map_get(&layer->by_rid, vmdb__txn_rid_key(t, rid), vmdb__txn_same_rid, layer,
                              &probe);
    return i < 0 ? NULL : &layer->ops[i];
}

static const struct txn_op *queued_on_rid(const vmdb_db *db, const vmdb_table *t, uint64_t rid)
{
    const queue_map *m = &db->txn_view->by_rid;
    if (!m->used)
        return NULL;
    struct txn_op probe = {.table = (vmdb_table *)t, .rid = rid};
    size_t j = qmap_find(m, vmdb__txn_rid_key(t, rid), vmdb__txn_same_rid, &probe);
    return m->txns[j] ? &m->txns[j]->ops[m->ops[j]] : NULL;
}

const struct txn_op *vmdb__txn_queued_on_key(const vmdb_db *db, const struct key_ref *ref,
                                          uint64_t hash)
{
    const queue_map *m = &db->txn_view->by_key;
    if (!m->used)
        return NULL;
    size_t j = qmap_find(m, hash, vmdb__txn_same_key, ref);
    return m->txns[j] ? &m->txns[j]->ops[m->ops[j]] : NULL;
}

/* The newest operation on record rid: the writer's own (none for a
 * reader, own NULL), else (when `queue_too`) the queue's, or NULL if none
 * touched it. */
const struct txn_op *vmdb__txn_newest_on_rid(const vmdb_db *db, const vmdb_txn *own, bool queue_too,
                                          const vmdb_table *t, uint64_t rid)
{
    const struct txn_op *op = layer_on_rid(own, t, rid);
    return op || !queue_too ? op : queued_on_rid(db, t, rid);
}

/* Transactions ended are kept for the next ones, up to SPARE_TXNS of
 * small ones: a NONE commit is freed by whichever thread applies it, a
 * batch at a time, and a malloc that churns that way costs more than the
 * commit. */
#define SPARE_TXNS 4096
#define SPARE_MAP_CAP 64

int vmdb__txn_view_open(vmdb_db *db)
{
    db->txn_view = calloc(1, sizeof *db->txn_view);
    if (!db->txn_view)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    pthread_mutex_init(&db->txn_view->spares_lock, NULL);
    return 0;
}

vmdb_txn *vmdb__txn_take_spare(vmdb_db *db)
{
    struct vmdb__txn_view *v = db->txn_view;
    pthread_mutex_lock(&v->spares_lock);
    vmdb_txn *txn = v->spares;
    if (txn) {
        v->spares = txn->spare_next;
        v->spare_count--;
    }
    pthread_mutex_unlock(&v->spares_lock);
    return txn;
}

void vmdb__txn_map_clear(struct op_map *m)
{
    if (m->used)
        memset(m->ops, 0, m->cap * sizeof *m->ops);
    m->used = 0;
}

void vmdb__txn_free(vmdb_txn *txn)
{
    struct vmdb__txn_view *v = txn->db ? txn->db->txn_view : NULL;
    if (v && txn->by_key.cap <= SPARE_MAP_CAP && txn->by_rid.cap <= SPARE_MAP_CAP) {
        pthread_mutex_lock(&v->spares_lock);
        bool keep = v->spare_count < SPARE_TXNS;
        if (keep) {
            vmdb__txn_map_clear(&txn->by_key);
            vmdb__txn_map_clear(&txn->by_rid);
            *txn = (vmdb_txn){.ops = txn->ops, .cap = txn->cap, .by_key = txn->by_key,
                              .by_rid = txn->by_rid, .spare_next = v->spares};
            v->spares = txn;
            v->spare_count++;
        }
        pthread_mutex_unlock(&v->spares_lock);
        if (keep)
            return;
    }
    map_free(&txn->by_key);
    map_free(&txn->by_rid);
    free(txn->ops);
    free(txn);
}

void vmdb__txn_forget(vmdb_txn *txn)
{
    txn->db = NULL;
    vmdb__txn_free(txn);
}

void vmdb__txn_view_close(vmdb_db *db)
{
    struct vmdb__txn_view *v = db->txn_view;
    if (!v)
        return;
    while (v->spares) {
        vmdb_txn *txn = v->spares;
        v->spares = txn->spare_next;
        txn->db = NULL;
        vmdb__txn_free(txn);
    }
    free_queue_view(db);
    pthread_mutex_destroy(&v->spares_lock);
    free(v);
    db->txn_view = NULL;
}
