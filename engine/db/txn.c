/* SPDX-License-Identifier: MIT */
/*
 * engine/db/txn.c - write transactions and lock-free reads.
 *
 * A transaction holds the writer lock from begin to commit or abort. Each
 * change is written at once as a redo record into the log's ring, past
 * the published end (engine/store/wal.c), so the record's bytes are the only
 * copy the transaction keeps: the list of operations points into the ring.
 * Nothing else changes until commit:
 *
 *   1. append the COMMIT record and publish the records (one store);
 *   2. durability SYNC: flush the published range;
 *   3. apply each change in log order to its table slot and index.
 *
 * A crash before 1 leaves no trace; after 1 (or 2 at SYNC), recovery
 * replays the transaction whole. Abort gives back the record ids the
 * transaction reserved and forgets the unpublished bytes.
 *
 * Until commit the tables do not show the transaction's own changes, so
 * its decisions (does this key exist? is that record live?) consult two
 * small hash maps of its own operations first: by key, the latest
 * operation that mentions the key; by record id, the latest operation on
 * the record. A key's entry is believed only if the record it names still
 * carries that key after the record's latest operation.
 */
#include "txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "internal.h"

static int index_match(void *ctx, uint64_t rid, const void *key, size_t len)
{
    return vmdb__table_key_equals(ctx, rid, key, len);
}

/* Where key lives as the writer sees it (or a reader, own NULL): 1 and
 * *rid, or 0 absent. The newest layer that mentions the key decides, but
 * is believed only if the record it names still carries the key after its
 * newest operation. */
static int resolve_key_locked(const vmdb_txn *own, vmdb_table *t, const void *key, size_t len,
                              uint64_t hash, uint64_t *rid)
{
    const vmdb_db *db = t->db;
    struct key_ref ref = {t, key, len};
    int i = own ? vmdb__txn_map_get(&own->by_key, hash, vmdb__txn_same_key, own, &ref) : -1;
    bool own_layer = i >= 0;
    const struct txn_op *op = own_layer ? &own->ops[i] : vmdb__txn_queued_on_key(db, &ref, hash);
    if (op) {
        if (op->kind != VMDB__WAL_PUT)
            return 0;
        /* The queue's newest on that record is no older than op. */
        const struct txn_op *latest = vmdb__txn_newest_on_rid(db, own, !own_layer, t, op->rid);
        if (latest != op) {
            const void *k;
            size_t n;
            if (latest->kind != VMDB__WAL_PUT)
                return 0;
            vmdb__txn_op_key(latest, &k, &n);
            if (n != len || memcmp(k, key, len) != 0)
                return 0;
        }
        *rid = op->rid;
        return 1;
    }
    uint64_t found;
    int rc = vmdb__index_find(vmdb__table_index(t), hash, key, len, index_match, t, &found);
    if (rc == VMDB_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    /* Any pending operation on that record changed or removed its key (an
     * operation keeping the key would have been found above). */
    if (vmdb__txn_newest_on_rid(db, own, true, t, found))
        return 0;
    *rid = found;
    return 1;
}

static int resolve_key(const vmdb_txn *own, vmdb_table *t, const void *key, size_t len,
                       uint64_t hash, uint64_t *rid)
{
    pthread_mutex_lock(&own->db->group);
    int rc = resolve_key_locked(own, t, key, len, hash, rid);
    pthread_mutex_unlock(&own->db->group);
    return rc;
}

/* Whether record rid is live as the writer sees it; its key too (into
 * scratch when it comes from the table). */
static int resolve_rid(const vmdb_txn *own, vmdb_table *t, uint64_t rid, const void **key,
                       size_t *len, void *scratch)
{
    pthread_mutex_lock(&own->db->group);
    const struct txn_op *op = vmdb__txn_newest_on_rid(own->db, own, true, t, rid);
    int rc;
    if (op) {
        rc = op->kind == VMDB__WAL_PUT;
        if (rc) {
            /* The payload lives in the ring until the log wraps over it,
             * which a checkpoint cannot do while the writer holds the lock. */
            vmdb__txn_op_key(op, key, len);
        }
    } else {
        bool live;
        rc = vmdb__table_read(t, rid, scratch, &live);
        if (rc == VMDB_ENOTFOUND || (rc == 0 && !live)) {
            rc = 0;
        } else if (rc == 0) {
            vmdb__table_key(t, scratch, key, len);
            rc = 1;
        }
    }
    pthread_mutex_unlock(&own->db->group);
    return rc;
}

/* ---- begin, abort ------------------------------------------------------- */

static int check_usable(vmdb_db *db)
{
    if (vmdb__db_inherited(db))
        return vmdb__db_lock(db); /* which refuses, naming why */
    if (db->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: opened read-only", db->path);
    if (vmdb__db_poisoned(db))
        return vmdb__fail(VMDB_EPOISONED, "%s: a flush failed earlier; reopen the database",
                          db->path);
    return 0;
}

int vmdb_txn_begin(vmdb_db *db, enum vmdb_durability durability, vmdb_txn **out)
{
    if (out)
        *out = NULL;
    if (!db || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_txn_begin: db and out are required");
    if ((unsigned)durability > VMDB_DURABILITY_GROUP)
        return vmdb__fail(VMDB_EINVAL, "%s: durability %d is not a vmdb_durability", db->path,
                          (int)durability);
    int rc = check_usable(db);
    if (rc < 0)
        return rc;
    vmdb_txn *txn = vmdb__txn_take_spare(db);
    if (!txn)
        txn = calloc(1, sizeof *txn);
    if (!txn)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    rc = vmdb__db_lock(db);
    if (rc < 0) {
        txn->db = NULL;
        vmdb__txn_free(txn);
        return rc;
    }
    if (vmdb__db_checkpoint_due(db)) {
        rc = vmdb__db_auto_checkpoint(db);
        if (rc < 0) {
            vmdb__db_unlock(db);
            txn->db = NULL;
            vmdb__txn_free(txn);
            return rc;
        }
    }
    txn->db = db;
    vmdb__db_note_open_txn(db, txn);
    txn->durability = durability ? durability : db->durability;
    txn->start = txn->pos = vmdb__wal_end(db->wal);
    *out = txn;
    return 0;
}

void vmdb_txn_abort(vmdb_txn *txn)
{
    if (!txn)
        return;
    pthread_mutex_lock(&txn->db->state);
    for (size_t i = txn->count; i-- > 0;)
        if (txn->ops[i].new_rid)
            vmdb__table_release_rid(txn->ops[i].table, txn->ops[i].rid);
    pthread_mutex_unlock(&txn->db->state);
    vmdb__db_unlock(txn->db);
    vmdb__txn_free(txn);
}

/* ---- logging an operation ----------------------------------------------- */

/* A checkpoint in the middle of a transaction draws a new salt, so the
 * records already written past the end of the log are sealed again with
 * it, at the same positions: in place, or copied into the log that
 * replaced the one they were in (which stays mapped until close). */
static void reseal(vmdb_txn *txn)
{
    vmdb__wal *wal = txn->db->wal;
    uint64_t pos = txn->start;
    for (size_t i = 0; i < txn->count; i++) {
        struct txn_op *op = &txn->ops[i];
        op->payload = vmdb__wal_write(wal, &pos, (enum vmdb__wal_kind)op->kind, op->table->id,
                                      txn->start, op->rid, op->payload, op->payload_len);
    }
}

/* Makes room in the log for `len` more bytes plus the COMMIT record:
 * a checkpoint at the transaction's start, and a larger log if it does
 * not fit the one there is. */
static int make_room(vmdb_txn *txn, uint32_t len)
{
    vmdb__wal *wal = txn->db->wal;
    uint64_t need = (uint64_t)len + vmdb__wal_record_len(0);
    if (vmdb__wal_room(wal, txn->pos) >= need)
        return 0;
    uint64_t whole = txn->pos - txn->start + need;
    int rc = whole > vmdb__wal_cap(wal) ? vmdb__db_grow_log_for(txn->db, txn->start, whole)
                                        : vmdb__db_checkpoint_locked(txn->db, txn->start);
    if (rc < 0)
        return rc;
    reseal(txn);
    return 0;
}

static int log_op(vmdb_txn *txn, vmdb_table *t, uint8_t kind, uint64_t rid, uint64_t hash,
                  const void *payload, uint32_t payload_len, bool new_rid)
{
    int rc = make_room(txn, vmdb__wal_record_len(payload_len));
    if (rc < 0)
        return rc;
    if (txn->count == txn->cap) {
        size_t cap = txn->cap ? txn->cap * 2 : 16;
        struct txn_op *ops = realloc(txn->ops, cap * sizeof *ops);
        if (!ops)
            return vmdb__fail(VMDB_ENOMEM, "transaction: out of memory");
        txn->ops = ops;
        txn->cap = cap;
    }
    uint32_t i = (uint32_t)txn->count;
    struct txn_op *op = &txn->ops[i];
    *op = (struct txn_op){
        .table = t,
        .rid = rid,
        .hash = hash,
        .kind = kind,
        .payload_len = payload_len,
        .new_rid = new_rid,
    };
    op->payload = vmdb__wal_write(txn->db->wal, &txn->pos, (enum vmdb__wal_kind)kind, t->id,
                                  txn->start, rid, payload, payload_len);
    txn->count++;
    const void *key;
    size_t len;
    vmdb__txn_op_key(op, &key, &len);
    struct key_ref ref = {t, key, len};
    rc = vmdb__txn_map_set(&txn->by_key, hash, i, vmdb__txn_same_key, txn, &ref);
    if (rc == 0)
        rc = vmdb__txn_map_set(&txn->by_rid, vmdb__txn_rid_key(t, rid), i, vmdb__txn_same_rid, txn,
                               op);
    return rc;
}

static int check_txn(vmdb_txn *txn, vmdb_table *t, const void *arg)
{
    if (!txn || !t || !arg)
        return vmdb__fail(VMDB_EINVAL, "transaction, table and record or key are required");
    if (t->db != txn->db)
        return vmdb__fail(VMDB_EINVAL, "table '%s' belongs to another database", t->name);
    if (t->dropped)
        return vmdb__fail(VMDB_ENOTFOUND, "table '%s' was dropped",
                          t->name);
    return check_usable(txn->db);
}

/*
 * An operation that fails with an answer (VMDB_ENOTFOUND, VMDB_EEXIST)
 * changes nothing and the transaction goes on, as in LMDB. Any other
 * failure may have left part of the operation in the log, and the program
 * may not look at every call's result: the transaction is failed, its
 * later operations return that first failure, and its commit aborts it
 * and returns it too.
 */
static int outcome(vmdb_txn *txn, int rc)
{
    if (rc >= 0 || rc == VMDB_ENOTFOUND || rc == VMDB_EEXIST || !txn || txn->failed)
        return rc;
    txn->failed = rc;
    /* As much of the message as fits: it names the table and the cause. */
    const char *message = vmdb_last_error()->message;
    size_t len = strnlen(message, sizeof txn->failure - 1);
    memcpy(txn->failure, message, len);
    txn->failure[len] = '\0';
    return rc;
}

static int failed_earlier(const vmdb_txn *txn, const char *call)
{
    return vmdb__fail(txn->failed, "%s: the transaction failed earlier (%s); abort it", call,
                      txn->failure);
}

#define TXN_OP(txn, call, expr) \
    ((txn) && (txn)->failed ? failed_earlier(txn, call) : outcome(txn, expr))

enum put_mode { PUT_ANY, PUT_INSERT, PUT_UPDATE };

static int put(vmdb_txn *txn, vmdb_table *t, const void *record, uint64_t *rid_out,
               enum put_mode mode)
{
    if (rid_out)
        *rid_out = 0;
    int rc = check_txn(txn, t, record);
    if (rc < 0)
        return rc;
    const void *key;
    size_t len;
    vmdb__table_key(t, record, &key, &len);
    uint64_t hash = vmdb__index_hash(key, len), rid = 0;
    /* The key's index entry is a cache miss in a large table: it is on its
     * way while the layers above the index are looked at. */
    if (vmdb__table_index(t))
        vmdb__index_prefetch(vmdb__table_index(t), hash);
    int found = resolve_key(txn, t, key, len, hash, &rid);
    if (found < 0)
        return found;
    if (found && mode == PUT_INSERT)
        return vmdb__fail(VMDB_EEXIST, "%s: key already exists (record %llu)", t->name,
                          (unsigned long long)rid);
    if (!found && mode == PUT_UPDATE)
        return vmdb__fail(VMDB_ENOTFOUND, "%s: no record with that key to update", t->name);
    bool fresh = !found;
    if (fresh) {
        pthread_mutex_lock(&txn->db->state);
        rc = vmdb__table_alloc_rid(t, &rid);
        /* Room for the record in the table and in its index now, while a
         * full disk still fails only this transaction: once committed it
         * must reach the tables, and a growth that failed there would
         * leave a commit that reported failure in the log, to reappear
         * at the next replay. */
        if (rc == 0)
            rc = vmdb__table_reserve(t, rid + 1);
        if (rc == 0)
            rc = vmdb__index_make_room(t->index, t->frontier);
        if (rc < 0)
            vmdb__table_release_rid(t, rid);
        pthread_mutex_unlock(&txn->db->state);
        if (rc < 0)
            return rc;
    }
    rc = log_op(txn, t, VMDB__WAL_PUT, rid, hash, record, (uint32_t)t->record_size, fresh);
    if (rc < 0) {
        if (fresh) {
            pthread_mutex_lock(&txn->db->state);
            vmdb__table_release_rid(t, rid);
            pthread_mutex_unlock(&txn->db->state);
        }
        return rc;
    }
    if (rid_out)
        *rid_out = rid;
    return 0;
}

int vmdb_txn_put(vmdb_txn *txn, vmdb_table *t, const void *record, uint64_t *rid)
{
    return TXN_OP(txn, "vmdb_txn_put", put(txn, t, record, rid, PUT_ANY));
}

int vmdb_txn_insert(vmdb_txn *txn, vmdb_table *t, const void *record, uint64_t *rid)
{
    return TXN_OP(txn, "vmdb_txn_insert", put(txn, t, record, rid, PUT_INSERT));
}

int vmdb_txn_update(vmdb_txn *txn, vmdb_table *t, const void *record)
{
    return TXN_OP(txn, "vmdb_txn_update", put(txn, t, record, NULL, PUT_UPDATE));
}

static int update_rid(vmdb_txn *txn, vmdb_table *t, uint64_t rid, const void *record)
{
    int rc = check_txn(txn, t, record);
    if (rc < 0)
        return rc;
    char *scratch = malloc(t->record_size);
    if (!scratch)
        return vmdb__fail(VMDB_ENOMEM, "transaction: out of memory");
    const void *old_key;
    size_t old_len;
    int live = resolve_rid(txn, t, rid, &old_key, &old_len, scratch);
    const void *key;
    size_t len;
    vmdb__table_key(t, record, &key, &len);
    uint64_t hash = vmdb__index_hash(key, len);
    if (live == 0)
        rc = vmdb__fail(VMDB_ENOTFOUND, "%s: record %llu does not exist", t->name,
                        (unsigned long long)rid);
    else if (live < 0)
        rc = live;
    else if (old_len != len || memcmp(old_key, key, len) != 0) {
        uint64_t other;
        int taken = resolve_key(txn, t, key, len, hash, &other);
        if (taken > 0)
            rc = vmdb__fail(VMDB_EEXIST, "%s: record %llu already holds that key", t->name,
                            (unsigned long long)other);
        else if (taken < 0)
            rc = taken;
    }
    free(scratch);
    if (rc < 0)
        return rc;
    return log_op(txn, t, VMDB__WAL_PUT, rid, hash, record, (uint32_t)t->record_size, false);
}

static int delete_at(vmdb_txn *txn, vmdb_table *t, uint64_t rid, const void *key, size_t len)
{
    return log_op(txn, t, VMDB__WAL_DELETE, rid, vmdb__index_hash(key, len), key,
                  (uint32_t)len, false);
}

int vmdb_txn_update_rid(vmdb_txn *txn, vmdb_table *t, uint64_t rid, const void *record)
{
    return TXN_OP(txn, "vmdb_txn_update_rid", update_rid(txn, t, rid, record));
}

static int delete_key(vmdb_txn *txn, vmdb_table *t, const void *key, size_t len)
{
    int rc = check_txn(txn, t, key);
    if (rc < 0)
        return rc;
    rc = vmdb__table_caller_key(t, key, &len);
    if (rc < 0)
        return rc;
    uint64_t rid;
    int found = resolve_key(txn, t, key, len, vmdb__index_hash(key, len), &rid);
    if (found < 0)
        return found;
    if (!found)
        return vmdb__fail(VMDB_ENOTFOUND, "%s: no record with that key to delete", t->name);
    return delete_at(txn, t, rid, key, len);
}

int vmdb_txn_delete(vmdb_txn *txn, vmdb_table *t, const void *key, size_t len)
{
    return TXN_OP(txn, "vmdb_txn_delete", delete_key(txn, t, key, len));
}

static int delete_rid(vmdb_txn *txn, vmdb_table *t, uint64_t rid)
{
    int rc = check_txn(txn, t, t);
    if (rc < 0)
        return rc;
    char *scratch = malloc(t->record_size);
    if (!scratch)
        return vmdb__fail(VMDB_ENOMEM, "transaction: out of memory");
    const void *key;
    size_t len;
    int live = resolve_rid(txn, t, rid, &key, &len, scratch);
    if (live == 0)
        rc = vmdb__fail(VMDB_ENOTFOUND, "%s: record %llu does not exist", t->name,
                        (unsigned long long)rid);
    else if (live < 0)
        rc = live;
    else
        rc = delete_at(txn, t, rid, key, len);
    free(scratch);
    return rc;
}

int vmdb_txn_delete_rid(vmdb_txn *txn, vmdb_table *t, uint64_t rid)
{
    return TXN_OP(txn, "vmdb_txn_delete_rid", delete_rid(txn, t, rid));
}

/* ---- reads inside a transaction ----------------------------------------- */

static int get_seen_by(const vmdb_txn *own, vmdb_table *t, const void *key, size_t len,
                       void *record, uint64_t *rid);
static int read_rid_seen_by(const vmdb_txn *own, vmdb_table *t, uint64_t rid, void *record);

static int txn_get(vmdb_txn *txn, vmdb_table *t, const void *key, size_t len, void *record,
                   uint64_t *rid)
{
    int rc = check_txn(txn, t, key);
    if (rc == 0)
        rc = vmdb__table_caller_key(t, key, &len);
    return rc < 0 ? rc : get_seen_by(txn, t, key, len, record, rid);
}

int vmdb_txn_get(vmdb_txn *txn, vmdb_table *t, const void *key, size_t len, void *record,
                 uint64_t *rid)
{
    return TXN_OP(txn, "vmdb_txn_get", txn_get(txn, t, key, len, record, rid));
}

static int txn_get_rid(vmdb_txn *txn, vmdb_table *t, uint64_t rid, void *record)
{
    int rc = check_txn(txn, t, record);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&txn->db->group);
    rc = read_rid_seen_by(txn, t, rid, record);
    pthread_mutex_unlock(&txn->db->group);
    return rc;
}

int vmdb_txn_get_rid(vmdb_txn *txn, vmdb_table *t, uint64_t rid, void *record)
{
    return TXN_OP(txn, "vmdb_txn_get_rid", txn_get_rid(txn, t, rid, record));
}

#ifdef VMDB_TEST_HOOKS
void (*vmdb__published_test_hook)(vmdb_db *db);
#endif

/* A commit that fails after its COMMIT record was published: the log
 * has it, and whether the disk does depends on how far the failed flush
 * got. SQLite's "database or disk is full" after a COMMIT leaves the
 * same doubt for a journal. Say so, rather than let it come back
 * unannounced at the next replay. */
static int may_have_committed(vmdb_db *db, int rc)
{
    char why[sizeof vmdb_last_error()->message];
    snprintf(why, sizeof why, "%s", vmdb_last_error()->message);
    return vmdb__fail(rc, "%s: the commit failed after its log was written (%s): it may have "
                          "been committed, and the next open for writing replays it if its "
                          "log reached the disk",
                      db->path, why);
}

int vmdb_txn_commit(vmdb_txn *txn)
{
    if (!txn)
        return vmdb__fail(VMDB_EINVAL, "vmdb_txn_commit: transaction is required");
    vmdb_db *db = txn->db;
    if (txn->failed) {
        int first = txn->failed;
        char failure[sizeof txn->failure];
        memcpy(failure, txn->failure, sizeof failure);
        vmdb_txn_abort(txn);
        return vmdb__fail(first, "%s: not committed, aborted: an operation failed (%s)", db->path,
                          failure);
    }
    int rc = check_usable(db);
    if (rc < 0) {
        vmdb_txn_abort(txn);
        return rc;
    }
    if (txn->count == 0) {
        vmdb__db_unlock(db);
        vmdb__txn_free(txn);
        return 0;
    }
    if (txn->durability != VMDB_DURABILITY_SYNC) {
        /* Room in the queue's view now, while failing still aborts. */
        pthread_mutex_lock(&db->group);
        rc = vmdb__txn_view_reserve(db, txn->count);
        pthread_mutex_unlock(&db->group);
        if (rc < 0) {
            vmdb_txn_abort(txn);
            return rc;
        }
    }
    vmdb__wal_write(db->wal, &txn->pos, VMDB__WAL_COMMIT, 0, txn->start, 0, NULL, 0);
    /* From the publish until the tables have the transaction, the count
     * in the lock page is up: a process that dies in between, even before
     * its apply began, leaves the next writer the sign to replay the log
     * rather than write on tables that lack a committed transaction. */
    vmdb__db_applying(db, true);
    rc = vmdb__wal_publish(db->wal, txn->pos);
    bool published = rc == 0;
    if (rc < 0)
        vmdb__db_applying(db, false);
#ifdef VMDB_TEST_HOOKS
    if (rc == 0 && vmdb__published_test_hook)
        vmdb__published_test_hook(db);
#endif
    if (rc == 0 && txn->durability == VMDB_DURABILITY_GROUP) {
        /* Let the next writer in while this one waits for a shared flush. */
        txn->node = (vmdb__group_node){
            .txn = txn, .start = txn->start, .end = txn->pos, .ops = txn->count};
        vmdb__group_enqueue(db, &txn->node);
        vmdb__db_unlock(db);
        rc = vmdb__group_wait(db, &txn->node);
        vmdb__txn_free(txn);
        return rc < 0 ? may_have_committed(db, rc) : rc;
    }
#if !defined(VMDB_MUTANT_NONE_APPLIED_AT_ONCE) && !defined(VMDB_MUTANT_OWN_RANGE_FLUSH)
    if (rc == 0 && txn->durability == VMDB_DURABILITY_NONE) {
        /* Applied once its log is durable, by the flusher (group.c). */
        txn->node = (vmdb__group_node){
            .txn = txn, .start = txn->start, .end = txn->pos, .ops = txn->count};
        rc = vmdb__group_enqueue_detached(db, &txn->node);
        vmdb__db_unlock(db);
        return rc < 0 ? may_have_committed(db, rc) : rc;
    }
#endif
    /* Queued group commits come first in the log, so they apply first. */
    if (rc == 0)
        rc = vmdb__group_drain(db);
    if (rc == 0 && txn->durability == VMDB_DURABILITY_SYNC) {
#if defined(VMDB_MUTANT_ACK_BEFORE_COMMIT)
        /* Mutant (test-mutants): each SYNC commit flushes the one before it. */
        static uint64_t acked_from, acked_to;
        rc = vmdb__wal_flush(db->wal, acked_from, acked_to);
        acked_from = txn->start;
        acked_to = txn->pos;
        if (rc < 0)
            rc = vmdb__db_poison(db, rc);
#elif defined(VMDB_MUTANT_OWN_RANGE_FLUSH)
        rc = vmdb__wal_flush(db->wal, txn->start, txn->pos);
        if (rc < 0)
            rc = vmdb__db_poison(db, rc);
#else
        rc = vmdb__db_flush_log(db, txn->pos);
#endif
    }
    if (rc == 0) {
        pthread_mutex_lock(&db->state);
        rc = vmdb__txn_apply(db, txn);
        if (rc == 0)
            vmdb__db_applying(db, false);
        pthread_mutex_unlock(&db->state);
        if (rc < 0)
            rc = vmdb__db_poison(db, rc); /* the log has it: recovery finishes the job */
    }
    if (rc == 0) {
        __atomic_add_fetch(&db->commits, 1, __ATOMIC_RELAXED);
        vmdb__db_publish_generation(db);
    }
    vmdb__db_unlock(db);
    vmdb__txn_free(txn);
    return rc < 0 && published ? may_have_committed(db, rc) : rc;
}

/* ---- reads -------------------------------------------------------------- */

/* Records up to this size are copied through the stack, larger ones
 * through the heap (see copy_live). */
#define READ_SCRATCH 4096

/*
 * Copies record rid into `record` if its slot is live and, with `key`,
 * holds that key: 1, or 0 with `record` as it was. The copy goes through
 * `scratch` (record_size bytes) first: the slot may be freed or given
 * another key between the look that named it and the copy, and the bytes
 * of a record that turns out not to be the answer must not reach the
 * caller's buffer on a miss (a delete racing a get left the deleted
 * record there, with VMDB_ENOTFOUND).
 */
static int copy_live(vmdb_table *t, uint64_t rid, const void *key, size_t len, void *scratch,
                     void *record)
{
    bool live;
    int rc = vmdb__table_read(t, rid, scratch, &live);
    if (rc == VMDB_ENOTFOUND || (rc == 0 && !live))
        return 0;
    if (rc < 0)
        return rc;
    if (key) {
        const void *k;
        size_t n;
        vmdb__table_key(t, scratch, &k, &n);
        if (n != len || memcmp(k, key, len) != 0)
            return 0;
    }
    memcpy(record, scratch, t->record_size);
    return 1;
}

/* Scratch for copy_live: `small` when the record fits, else the heap
 * (NULL and VMDB_ENOMEM's message when that fails). */
static void *scratch_for(const vmdb_table *t, void *small)
{
    if (t->record_size <= READ_SCRATCH)
        return small;
    void *p = malloc(t->record_size);
    if (!p)
        vmdb__fail(VMDB_ENOMEM, "%s: out of memory", t->path);
    return p;
}

static void scratch_free(void *scratch, void *small)
{
    if (scratch != small)
        free(scratch);
}

/* Record rid into `record` if its slot is live, else VMDB_ENOTFOUND with
 * `record` as it was. */
static int read_live(vmdb_table *t, uint64_t rid, void *record)
{
    unsigned char small[READ_SCRATCH];
    void *scratch = scratch_for(t, small);
    if (!scratch)
        return VMDB_ENOMEM;
    int rc = copy_live(t, rid, NULL, 0, scratch, record);
    scratch_free(scratch, small);
    return rc == 1 ? 0 : rc == 0 ? VMDB_ENOTFOUND : rc;
}

/* The index's match callback for a get: copies the candidate record under
 * its sequence counter and accepts it if the copy is live and holds the
 * key, so a hit costs one read of the slot and no second look. */
struct get_ctx {
    vmdb_table *table;
    void *record;
    void *scratch;
};

static int copy_if_key(void *ctx, uint64_t rid, const void *key, size_t len)
{
    struct get_ctx *g = ctx;
    return copy_live(g->table, rid, key, len, g->scratch, g->record);
}

/*
 * Reads on a handle with NONE commits queued (committed, in no table yet)
 * look through the queue's view first, under `group` for the whole read:
 * the leader takes a transaction out of the view only after applying it,
 * so no apply falls between the two looks. A point read thus costs a lock
 * and two probes, not the log flush that applying the queue would. (A
 * GROUP commit queued beside them shows too, a flush before its commit
 * returns: like a NONE one, it is in the log already.)
 */
/* Record rid as `own` (a writer's transaction, or NULL for a reader) sees
 * it, with `group` held: its own operations, then the queue's, then the
 * table. */
static int read_rid_seen_by(const vmdb_txn *own, vmdb_table *t, uint64_t rid, void *record)
{
    const struct txn_op *op = vmdb__txn_newest_on_rid(t->db, own, true, t, rid);
    if (op) {
        if (op->kind != VMDB__WAL_PUT)
            return VMDB_ENOTFOUND;
        memcpy(record, op->payload, op->payload_len);
        return 0;
    }
    return read_live(t, rid, record);
}

static bool queue_pending(const vmdb_db *db)
{
    /* An inherited handle's queue is the parent's, under its locks. */
#ifdef VMDB_MUTANT_READ_THROUGH_QUEUE
    /* Mutant (test-mutants): a read transaction looks through the queue,
     * which its counter does not cover. */
    return __builtin_expect(__atomic_load_n(&db->pending, __ATOMIC_ACQUIRE) != 0, 0) &&
           !vmdb__db_inherited(db);
#endif
    return __builtin_expect(__atomic_load_n(&db->pending, __ATOMIC_ACQUIRE) != 0, 0) &&
           !vmdb__db_inherited(db) && !vmdb__read_open_on(db);
}

/* A get by key as `own` sees it; record may be NULL (the id only). */
static int get_seen_by(const vmdb_txn *own, vmdb_table *t, const void *key, size_t len,
                       void *record, uint64_t *rid)
{
    pthread_mutex_lock(&t->db->group);
    uint64_t found;
    int rc = resolve_key_locked(own, t, key, len, vmdb__index_hash(key, len), &found);
    if (rc == 1)
        rc = record ? read_rid_seen_by(own, t, found, record) : 0;
    else if (rc == 0)
        rc = VMDB_ENOTFOUND;
    pthread_mutex_unlock(&t->db->group);
    if (rc == 0 && rid)
        *rid = found;
    return rc;
}

int vmdb_table_get(vmdb_table *t, const void *key, size_t len, void *record, uint64_t *rid)
{
    if (!t || !key)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_get: table and key are required");
    int frc = vmdb__follow(t->db);
    if (frc < 0)
        return frc;
    if (__atomic_load_n(&t->dropped, __ATOMIC_ACQUIRE))
        return VMDB_ENOTFOUND;
    int krc = vmdb__table_caller_key(t, key, &len);
    if (krc < 0)
        return krc;
    if (queue_pending(t->db))
        return get_seen_by(NULL, t, key, len, record, rid);
    unsigned char small[READ_SCRATCH];
    struct get_ctx g = {t, record, small};
    if (record && !(g.scratch = scratch_for(t, small)))
        return VMDB_ENOMEM;
    uint64_t found;
    vmdb__index *ix = vmdb__table_index(t);
    int rc = record ? vmdb__index_find(ix, vmdb__index_hash(key, len), key, len, copy_if_key, &g,
                                       &found)
                    : vmdb__index_find(ix, vmdb__index_hash(key, len), key, len, index_match, t,
                                       &found);
    if (record)
        scratch_free(g.scratch, small);
    if (rc == 0 && rid)
        *rid = found;
    return rc;
}

int vmdb_table_get_rid(vmdb_table *t, uint64_t rid, void *record)
{
    if (!t || !record)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_get_rid: table and record are required");
    int frc = vmdb__follow(t->db);
    if (frc < 0)
        return frc;
    if (__atomic_load_n(&t->dropped, __ATOMIC_ACQUIRE))
        return VMDB_ENOTFOUND;
    if (queue_pending(t->db)) {
        pthread_mutex_lock(&t->db->group);
        int rc = read_rid_seen_by(NULL, t, rid, record);
        pthread_mutex_unlock(&t->db->group);
        return rc;
    }
    return read_live(t, rid, record);
}

int vmdb_table_get_ptr(vmdb_table *t, uint64_t rid, const void **ptr, uint64_t *seq)
{
    if (ptr)
        *ptr = NULL;
    if (!t || !ptr || !seq)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_get_ptr: table, ptr and seq are required");
    vmdb__db_reader_settle(t->db);
    int frc = vmdb__follow(t->db);
    if (frc < 0)
        return frc;
    if (__atomic_load_n(&t->dropped, __ATOMIC_ACQUIRE))
        return VMDB_ENOTFOUND;
    if (rid >= __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE)) {
        vmdb__table_follow(t);
        if (rid >= __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE))
            return VMDB_ENOTFOUND;
    }
    bool live;
    uint64_t v;
    int rc;
    do {
        rc = vmdb__table_peek(t, rid, &v, &live);
        /* A free slot too: a record whose live flag was cleared shows. */
        if (rc == 0 && t->verify && !vmdb__slot_pristine(v, live))
            rc = vmdb__table_verify_in_place(t, rid, v, live);
    } while (rc == 1);
    if (rc < 0)
        return rc;
    if (!live)
        return VMDB_ENOTFOUND;
    *ptr = vmdb__table_slot(t, rid) + 1;
    *seq = v;
    return 0;
}

bool vmdb_table_read_valid(vmdb_table *t, uint64_t rid, uint64_t seq)
{
    const vmdb__slot *s = vmdb__table_slot(t, rid);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&s->seq, __ATOMIC_RELAXED) == seq;
}

int vmdb_table_scan_next(vmdb_table *t, vmdb_table_scan_batch *b)
{
    if (!t || !b)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_scan_next: table and batch are required");
    vmdb__db_reader_settle(t->db);
    int rc = vmdb__follow(t->db);
    if (rc < 0)
        return rc;
    if (__atomic_load_n(&t->dropped, __ATOMIC_ACQUIRE))
        return VMDB_ENOTFOUND;
    uint64_t cap = __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE);
    if (b->next_rid >= cap) {
        vmdb__table_follow(t); /* another process may have grown it */
        cap = __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE);
    }
    size_t n = 0;
    uint64_t rid = b->next_rid;
    b->count = 0; /* until the batch is whole */
    while (rid < cap && n < VMDB_SCAN_BATCH) {
        const vmdb__slot *s = vmdb__table_slot(t, rid);
        uint64_t seq;
        bool live;
        /* The usual slot is stable: one load of the counter, one of the
         * flag, one to confirm. A slot mid-write takes the careful way. */
        seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        live = vmdb__slot_live(s);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if ((seq & 1) || __atomic_load_n(&s->seq, __ATOMIC_RELAXED) != seq) {
            rc = vmdb__table_peek(t, rid, &seq, &live);
            if (rc < 0)
                return rc;
        }
        /* Every record handed out, and every free slot once written, is
         * checked where it lies: a damaged record is an error, never a
         * row, and a record whose live flag was cleared is not skipped. */
        if (t->verify && !vmdb__slot_pristine(seq, live)) {
            rc = vmdb__table_verify_in_place(t, rid, seq, live);
            if (rc < 0)
                return rc;
            if (rc == 1)
                continue; /* a writer moved it while it was hashed */
        }
        if (live) {
            b->rid[n] = rid;
            b->record[n] = s + 1;
            b->seq[n] = seq;
            b->seq_at[n] = &s->seq;
            n++;
        }
        rid++;
    }
    b->next_rid = rid;
    b->count = n;
    return n ? 0 : VMDB_ENOTFOUND;
}

void vmdb_table_cursor_init(vmdb_table_cursor *c, vmdb_table *t)
{
    c->table = t;
    c->next_rid = 0;
}

int vmdb_table_cursor_next(vmdb_table_cursor *c, uint64_t *rid, void *record)
{
    vmdb_table *t = c->table;
    vmdb__db_reader_settle(t->db);
    int frc = vmdb__follow(t->db);
    if (frc < 0)
        return frc;
    if (__atomic_load_n(&t->dropped, __ATOMIC_ACQUIRE))
        return VMDB_ENOTFOUND;
    uint64_t cap = __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE);
    if (c->next_rid >= cap) {
        vmdb__table_follow(t); /* another process may have grown it */
        cap = __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE);
    }
    while (c->next_rid < cap) {
        uint64_t at = c->next_rid++;
        const vmdb__slot *s = vmdb__table_slot(t, at);
        if (vmdb__slot_pristine(vmdb__slot_seq(s), vmdb__slot_live(s)))
            continue; /* cheap skip of slots never written; the copy below decides */
        /* Through read_live: a slot freed since the skip above leaves
         * `record` as it was, so the end of the table never hands back a
         * deleted record's bytes. */
        int rc = read_live(t, at, record);
        if (rc == VMDB_ENOTFOUND)
            continue;
        if (rc < 0)
            return rc;
        if (rid)
            *rid = at;
        return 0;
    }
    return VMDB_ENOTFOUND;
}

int vmdb_table_scan(vmdb_table *t, int (*fn)(void *ctx, uint64_t rid, const void *record),
                    void *ctx)
{
    if (!t || !fn)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_scan: table and fn are required");
    char *record = malloc(t->record_size);
    if (!record)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", t->name);
    vmdb_table_cursor c;
    vmdb_table_cursor_init(&c, t);
    uint64_t rid;
    int rc;
    while ((rc = vmdb_table_cursor_next(&c, &rid, record)) == 0) {
        rc = fn(ctx, rid, record);
        if (rc)
            break;
    }
    free(record);
    return rc == VMDB_ENOTFOUND ? 0 : rc;
}
