/* SPDX-License-Identifier: MIT */
/*
 * engine/store/index.h - the primary hash index (layer 7): key -> record id.
 *
 * A table keeps its records in slots numbered by a record id (rid). The
 * index maps a key to the rid of the record that holds it: open addressing
 * with linear probing over entries of (XXH3-64 of the key, rid) in a
 * memory-mapped file. Only hashes are stored, so every lookup confirms its
 * candidates through a callback that compares the record's real key.
 *
 * Concurrency: one writer at a time (the database's write lock; the index
 * takes no lock for it; writers in different processes may take turns, see
 * vmdb__index_refresh) and any number of lock-free readers, in other
 * threads of a writer's process (on the writer's handle or their own) and
 * in other processes (on a read-only handle of the same file). A lookup
 * takes no lock, makes no system call and allocates nothing, except on the
 * rare path where a handle must extend its mapping to follow an index that
 * a writer in another process grew.
 *
 * No steal: the database changes the index only after the WAL record that
 * describes the change is in the log, so the index keeps no log of its own;
 * after a crash the database rebuilds it from the table
 * (vmdb__index_clear(), then vmdb__index_insert() for every record). The
 * index only guarantees that a torn or garbage header is refused at open.
 *
 * Every function returns 0 or a negative VMDB_E* code and leaves a message
 * naming the file in the thread's error context, except where it says
 * otherwise (vmdb__index_find's VMDB_ENOTFOUND).
 */
#ifndef VMDB_ENGINE_INDEX_H
#define VMDB_ENGINE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmdb/map.h"

#define VMDB__INDEX_MAGIC "VMDBINDX" /* the file's first 8 bytes */
#define VMDB__INDEX_VERSION 1u
#define VMDB__INDEX_MIN_CAP 64u /* entries in the smallest array */

typedef struct vmdb__index vmdb__index;

/* Flags of vmdb__index_open(). */
enum vmdb__index_flag {
    /* Create the file if it is missing. An existing file is opened as it
     * is (and checked), whatever initial_count says. */
    VMDB__INDEX_CREATE = 1u << 0,
    /* A reader's handle: maps the file read-only; every change is refused
     * with VMDB_EREADONLY. Cannot be combined with VMDB__INDEX_CREATE. */
    VMDB__INDEX_READONLY = 1u << 1,
};

/*
 * Confirms a candidate: returns 1 if the live record `rid` holds the key
 * [key, key + key_len), 0 if it does not, or a negative VMDB_E* code (with
 * its own message) that vmdb__index_find() passes up unchanged.
 *
 * The rid may be stale or torn: a reader racing the writer can be offered
 * the rid of a record removed a moment ago, of a slot since reused, or of
 * an entry half overwritten, i.e. any rid that was ever inserted, and a
 * damaged file can offer any value at all. So the callback must check the
 * rid against the table's bounds and the slot's liveness, never trust it.
 * It may be called several times for one lookup (and for the same rid),
 * runs on the caller's thread, and must not call into the index's writer
 * side.
 */
typedef int (*vmdb__index_match)(void *ctx, uint64_t rid, const void *key, size_t key_len);

/*
 * Opens the index file at `path`. With VMDB__INDEX_CREATE a missing file
 * is created whole, with an array sized so that `initial_count` entries fit
 * under the 0.75 load factor (at least VMDB__INDEX_MIN_CAP entries), under
 * a temporary name that is renamed into place, so no one ever opens a
 * half-made file. initial_count is ignored for an existing file.
 *
 * Errors, each naming the file: VMDB_ENOENT (missing, without CREATE),
 * VMDB_EBADMAGIC (not an index), VMDB_EVERSION (another format version),
 * VMDB_ECORRUPT (header checksum mismatch, impossible active region, count
 * above capacity), VMDB_EBADSIZE (the file is shorter than its header or
 * than the active region says), VMDB_EINVAL (bad flags, initial_count
 * beyond the format's 2^40 entries), VMDB_ENOSPC (no disk for a new file),
 * VMDB_EACCES, VMDB_ENOMEM. A damaged index is never repaired here: the
 * caller deletes and rebuilds it. *out is NULL unless this returns 0.
 *
 * A writer's handle on a file whose change counter is odd (a writer died in
 * the middle of a change) opens, and vmdb__index_stats_get() reports
 * `interrupted`: the array may be inconsistent until vmdb__index_clear()
 * starts the rebuild that the database runs after every crash anyway.
 * Until then readers still find what is there but cannot confirm a miss
 * (VMDB_EBUSY).
 */
int vmdb__index_open(const char *path, unsigned flags, uint64_t initial_count,
                     vmdb__index **out);

/* Unmaps and frees. Does not flush (vmdb__index_flush() does). Accepts
 * NULL. No reader may be inside vmdb__index_find() on this handle. */
void vmdb__index_close(vmdb__index *ix);

/* XXH3-64 (seed 0) of the key bytes: the hash every call below takes. */
uint64_t vmdb__index_hash(const void *key, size_t len);

/* For a reader that looks up many keys at once: prefetch pulls the cache
 * line of hash's home entry; hint then reads it, without the seqlock, for
 * the record a lookup of hash will most likely land on (UINT64_MAX if
 * none). Neither is an answer: vmdb__index_find gives that. */
void vmdb__index_prefetch(const vmdb__index *ix, uint64_t hash);
uint64_t vmdb__index_hint(const vmdb__index *ix, uint64_t hash);

/*
 * Looks up `hash` (vmdb__index_hash of key) and sets *rid to the record
 * that `match` confirms holds the key. Lock-free: safe on any handle, from
 * any number of threads, while the writer changes the index; no lock, no
 * system call and no allocation on the common path, usually one or two
 * cache lines of the array and one callback.
 *
 * Returns 0, or VMDB_ENOTFOUND, an expected outcome that leaves the error
 * context untouched (formatting a message costs more than the lookup), or
 * a negative code from `match`, or VMDB_EBUSY when a miss cannot be
 * confirmed because the writer stays in the middle of a change for too
 * long (stalled, or died mid-change: see `interrupted`), VMDB_ECORRUPT /
 * VMDB_EBADSIZE when the header or file became impossible, or an error
 * from extending the handle's map. *rid is UINT64_MAX unless this
 * returns 0 (0 is a valid rid).
 */
int vmdb__index_find(vmdb__index *ix, uint64_t hash, const void *key, size_t key_len,
                     vmdb__index_match match, void *ctx, uint64_t *rid);

/*
 * Adds the entry (hash, rid). Writer only. Grows the array first when the
 * load factor would pass 0.75. rid must be below UINT64_MAX (VMDB_EINVAL).
 * Inserting a (hash, rid) pair that is already present is the caller's
 * bug and returns VMDB_EEXIST (the probe passes over it anyway, so the
 * check is free). Errors from growth name the file: VMDB_ENOSPC, VMDB_EFULL
 * (the address space reserved for the file is exhausted), VMDB_EPOISONED;
 * the index is unchanged and still usable after any of them.
 * VMDB_EREADONLY on a reader's handle.
 */
int vmdb__index_insert(vmdb__index *ix, uint64_t hash, uint64_t rid);

/*
 * Adds (hash, rid) for a key the index must not hold yet, in one probe
 * that both looks for the key and finds the empty entry: a bulk rebuild
 * would otherwise probe twice per record (a find, then an insert). If
 * `match` confirms an entry of the probe holds the key, nothing changes,
 * *other is that entry's record and the result is VMDB_EEXIST, with no
 * message. Writer only; errors otherwise as vmdb__index_insert's.
 */
int vmdb__index_insert_key(vmdb__index *ix, uint64_t hash, const void *key, size_t key_len,
                           vmdb__index_match match, void *ctx, uint64_t rid, uint64_t *other);

/* Removes the entry (hash, rid), shifting the entries after it back (no
 * tombstones). Writer only. VMDB_ENOTFOUND (with a message) if that exact
 * pair is absent. */
int vmdb__index_remove(vmdb__index *ix, uint64_t hash, uint64_t rid);

/* Points the entry (hash, old_rid) at new_rid with one atomic store, for
 * a record that moved: readers see the old or the new rid, never neither.
 * Writer only. VMDB_ENOTFOUND if (hash, old_rid) is absent, VMDB_EEXIST if
 * (hash, new_rid) is already present. */
int vmdb__index_replace(vmdb__index *ix, uint64_t hash, uint64_t old_rid, uint64_t new_rid);

/* Removes every entry, keeping the capacity, to start a rebuild. Writer
 * only. A lookup that overlaps it may miss any key (the answer as of just
 * after it); afterwards every key not yet inserted again is missed, so
 * readers see a partial index until the rebuild ends. Ends the
 * `interrupted` state. */
int vmdb__index_clear(vmdb__index *ix);

/* Grows the array now, so that `count` entries fit under the load factor,
 * before a bulk rebuild; does nothing if they already fit. Writer only.
 * Errors as vmdb__index_insert's growth. */
int vmdb__index_reserve(vmdb__index *ix, uint64_t count);

/* Allocates the file space the inserts up to `count` entries will grow
 * the array into, and changes nothing else: a full disk is VMDB_ENOSPC
 * here, before a transaction commits, and the growths at apply find
 * their room. The array stays as it is, so a crash leaves no index
 * change that the log does not explain. Writer only. */
int vmdb__index_make_room(vmdb__index *ix, uint64_t count);

/* Writes the header and the active array back to the file (msync), for a
 * checkpoint. Writer only. A failed flush poisons the handle: every later
 * change returns VMDB_EPOISONED until the file is reopened. */
int vmdb__index_flush(vmdb__index *ix, enum vmdb_flush how);

/* A snapshot of the index, exact on the writer's handle; on a reader's
 * handle while the writer runs, a close approximation. */
typedef struct vmdb__index_stats {
    uint64_t count;     /* live entries */
    uint64_t capacity;  /* entries the active array holds */
    uint64_t file_size; /* bytes of the file, dead arrays of earlier sizes
                           included */
    double load;        /* count / capacity */
    uint64_t max_probe; /* entries the longest successful lookup reads
                           (1 = every entry at its home slot; 0 if empty) */
    bool interrupted;   /* a writer died mid-change; rebuild (clear, then
                           insert every record) */
} vmdb__index_stats;

/* Whether a writer died in the middle of changing the index, which must
 * then be rebuilt: what an open asks, without the whole-array walk of
 * vmdb__index_stats_get. */
bool vmdb__index_interrupted(const vmdb__index *ix);

/* Fills *stats. Reads the whole active array (for max_probe): a tool's
 * call, not a hot path. */
int vmdb__index_stats_get(vmdb__index *ix, vmdb__index_stats *stats);

/* As vmdb__index_stats_get without reading the array: max_probe is 0. */
int vmdb__index_summary(vmdb__index *ix, vmdb__index_stats *stats);

/*
 * Calls fn(ctx, hash, rid) for every entry of the active array, in slot
 * order, for `vmdb check` (index against table). Stops at the first
 * nonzero return of fn and returns it; 0 after the last entry. Meant for
 * the writer's handle or for a moment when no writer runs: with a writer
 * moving entries meanwhile, an entry can be visited twice or not at all.
 */
int vmdb__index_foreach(vmdb__index *ix, int (*fn)(void *ctx, uint64_t hash, uint64_t rid),
                        void *ctx);

/* The handle's map of the file, for tests and diagnostics (its pointer
 * must never move while the index grows). Do not write or grow it. */
const vmdb_map *vmdb__index_map(const vmdb__index *ix);

/* Writer, after another process held the database's write lock: maps the
 * array that process may have grown the file to. If that process died in
 * the middle of a change, the handle becomes `interrupted` (see
 * vmdb__index_open): rebuild. Errors: VMDB_ECORRUPT, VMDB_EBADSIZE,
 * VMDB_EREADONLY, and those of extending the map. */
int vmdb__index_refresh(vmdb__index *ix);

#endif /* VMDB_ENGINE_INDEX_H */
