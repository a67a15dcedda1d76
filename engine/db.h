/*
 * engine/db.h - the database handle, shared by db.c (open, recovery,
 * checkpoints, tables) and txn.c (transactions and reads).
 */
#ifndef VMDB_ENGINE_DB_H
#define VMDB_ENGINE_DB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "table.h"
#include "vmdb/db.h"
#include "wal.h"

/* The lock file's first page, mapped shared by every process that has the
 * database open for writing: what a writer must learn when it takes the
 * lock after another process held it. */
typedef struct vmdb__lock_page {
    char magic[8];       /* "VMDBLOCK" */
    uint32_t version;    /* 1 */
    uint32_t reserved;
    uint64_t generation; /* bumped by every commit and checkpoint */
    uint64_t salt;       /* the log's current salt */
} vmdb__lock_page;

struct vmdb_db {
    char *path;
    bool readonly;
    bool verify;
    bool poisoned;              /* a flush failed: no more writes */
    enum vmdb_durability durability;
    uint64_t checkpoint_bytes;  /* log use that triggers a checkpoint */
    int lock_fd;
    vmdb_map *lock_map;         /* the lock page, NULL when read-only */
    vmdb__lock_page *lock_page;
    uint64_t seen_generation;   /* what this process last knew */
    pthread_mutex_t writer;     /* one write transaction per process */
    vmdb__wal *wal;
    vmdb_table **tables;        /* sorted by name */
    size_t table_count;
    vmdb_recovery recovery;
};

/* Writer lock: the in-process mutex, then the file lock; brings this
 * process up to date with changes other processes made meanwhile. */
int vmdb__db_lock(vmdb_db *db);
void vmdb__db_unlock(vmdb_db *db);

/* The table with log id `id`, or NULL. */
vmdb_table *vmdb__db_table_by_id(vmdb_db *db, uint16_t id);

/* With the writer lock held: flushes tables and indexes, then frees the
 * log up to `pos`. */
int vmdb__db_checkpoint_locked(vmdb_db *db, uint64_t pos);

/* Applies one logged change to its table and index (writer lock held). */
int vmdb__db_apply(vmdb_db *db, vmdb_table *t, uint8_t kind, uint64_t rid, uint64_t lsn,
                   const void *payload);

/* Marks the database unusable for writes after a failed flush. */
int vmdb__db_poison(vmdb_db *db, int rc);

#endif /* VMDB_ENGINE_DB_H */
