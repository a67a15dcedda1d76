/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/peer.h - one store as the peer benchmark drives it: the
 * same key-value calls over vmdb, LMDB, SQLite, RocksDB, Tkrzw and a plain
 * mapped array, so that the workloads (peers.c) are written once.
 *
 * Keys are u64, values PEER_VALUE_BYTES. Writes happen in batches between
 * begin and commit: one transaction where the store has them, a write
 * batch or nothing where it has not. A durable batch is on disk when
 * commit returns; the others may be lost by a power cut but not by a
 * crash of the process where the store promises that. Every call returns
 * 0, or -1 after printing what failed on stderr; get returns 1 for a key
 * that is not there.
 */
#ifndef VMDB_BENCH_PEER_H
#define VMDB_BENCH_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEER_VALUE_BYTES 100

typedef struct peer peer;

typedef int (*peer_scan_fn)(void *ctx, uint64_t key, const void *value);

typedef struct peer_ops {
    const char *name;
    /* One line: the version and the settings, as its users would pick
     * them for speed. */
    const char *(*config)(void);
    /* Opens a new store in the empty directory dir, for up to n keys
     * (stores that size a file up front use it). */
    int (*open)(const char *dir, uint64_t n, peer **out);
    int (*close)(peer *p);
    /* in_order: the batch's keys are ascending and above every key in the
     * store (a store with an append path may take it). */
    int (*begin)(peer *p, bool durable, bool in_order);
    int (*put)(peer *p, uint64_t key, const void *value);
    int (*commit)(peer *p);
    /* Copies the value of key into value. */
    int (*get)(peer *p, uint64_t key, void *value);
    /* Copies the values of n keys, all there, to values (PEER_VALUE_BYTES
     * each), with the store's own multi-key read; NULL if it has none. */
    int (*get_many)(peer *p, const uint64_t *keys, size_t n, unsigned char *values);
    /* A handle on the same store for another thread (its own transaction,
     * read state and buffers), detached before the store is closed. */
    int (*attach)(peer *p, peer **out);
    void (*detach)(peer *thread);
    /* Calls fn for every record, in whatever order the store keeps them;
     * stops at fn's first nonzero return. */
    int (*scan)(peer *p, peer_scan_fn fn, void *ctx);
    /* Makes durable what the batches before left in memory (a checkpoint,
     * a sync, a flush), as a program does before a phase of durable
     * commits: their figures are then the commits' own, not a write-back
     * of earlier work that happens to fall into their window. */
    int (*settle)(peer *p);
} peer_ops;

extern const peer_ops peer_vmdb, peer_lmdb, peer_lmdb_writemap, peer_sqlite, peer_rocksdb,
    peer_tkrzw, peer_array;

#endif
