/* SPDX-License-Identifier: MIT */
/*
 * engine/db/txn.h - what a write transaction holds, for the files that
 * build one (txn.c), show it to its writer and to later ones while it is
 * queued (txn_view.c) and apply it (apply.c).
 */
#ifndef VMDB_ENGINE_TXN_H
#define VMDB_ENGINE_TXN_H

#include "db.h"

struct txn_op {
    vmdb_table *table;
    uint64_t rid;
    uint64_t hash;       /* of the key the operation mentions */
    const char *payload; /* in the ring: the record, or the deleted key */
    uint32_t payload_len;
    uint8_t kind;        /* VMDB__WAL_PUT or VMDB__WAL_DELETE */
    bool new_rid;        /* reserved by this transaction */
};

/* Open addressing from a 64-bit key to an operation number + 1. */
struct op_map {
    uint64_t *keys;
    uint32_t *ops;
    size_t cap; /* a power of two, or 0 */
    size_t used;
};

struct vmdb_txn {
    vmdb_db *db;
    vmdb__group_node node; /* while queued for a group flush */
    enum vmdb_durability durability;
    uint64_t start; /* log position of the first record: the txn id */
    uint64_t pos;   /* where the next record goes */
    struct txn_op *ops;
    size_t count;
    size_t cap;
    struct op_map by_key;
    struct op_map by_rid;
    struct vmdb_txn *spare_next; /* among the handle's spares */
    bool lent;                   /* begun by SQL's BEGIN: its thread's
                                    statements run in it (txn_stmt.c) */
    int failed;                  /* the first failure of an operation */
    char failure[256];           /* and what it said */
};

/* What a key lookup compares: the table and the key's bytes. */
struct key_ref {
    const vmdb_table *table;
    const void *key;
    size_t len;
};

/* The maps of a transaction's operations: from a 64-bit hash (of a key, or
 * of table and record id) to the newest operation it names, `same`
 * telling a true match from a collision. map_get returns the operation's
 * number or -1. */
int vmdb__txn_map_set(struct op_map *m, uint64_t key, uint32_t op,
                      bool (*same)(const struct vmdb_txn *, uint32_t, const void *),
                      const struct vmdb_txn *txn, const void *ctx);
int vmdb__txn_map_get(const struct op_map *m, uint64_t key,
                      bool (*same)(const struct vmdb_txn *, uint32_t, const void *),
                      const struct vmdb_txn *txn, const void *ctx);
/* Empties a map, keeping its memory. */
void vmdb__txn_map_clear(struct op_map *m);
void vmdb__txn_op_key(const struct txn_op *op, const void **key, size_t *len);
bool vmdb__txn_same_key(const struct vmdb_txn *txn, uint32_t op, const void *ctx);
bool vmdb__txn_same_rid(const struct vmdb_txn *txn, uint32_t op, const void *ctx);
uint64_t vmdb__txn_rid_key(const vmdb_table *t, uint64_t rid);
void vmdb__txn_join_queue_view(vmdb_db *db, vmdb_txn *txn);
void vmdb__txn_leave_queue_view(vmdb_db *db, vmdb_txn *txn);
const struct txn_op *vmdb__txn_queued_on_key(const vmdb_db *db, const struct key_ref *ref, uint64_t hash);
const struct txn_op *vmdb__txn_newest_on_rid(const vmdb_db *db, const vmdb_txn *own, bool queue_too, const vmdb_table *t, uint64_t rid);
vmdb_txn *vmdb__txn_take_spare(vmdb_db *db);
void vmdb__txn_free(vmdb_txn *txn);
void vmdb__txn_forget(vmdb_txn *txn);

#endif
