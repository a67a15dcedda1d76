/* SPDX-License-Identifier: MIT */
/*
 * engine/store/table.h - a table file: a header and an array of record slots
 * (see the format essay at the top of table.c). The database (db.c, txn.c)
 * decides what to write; this module knows how slots are laid out, read
 * without locks and written so that readers never see half a record.
 */
#ifndef VMDB_ENGINE_TABLE_H
#define VMDB_ENGINE_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "index.h"
#include "vmdb/schema.h"
#include "vmdb/map.h"

/* The handles a table belongs to and is: declared by vmdb/db.h above this
 * layer, which a table never needs to see whole. */
typedef struct vmdb_db vmdb_db;
typedef struct vmdb_table vmdb_table;

#define VMDB__TABLE_NAME_MAX 63

/* Whether name[0, len) is a table name: [A-Za-z_][A-Za-z0-9_]*, at most
 * VMDB__TABLE_NAME_MAX bytes. Table names become file names. */
bool vmdb__table_name_valid(const char *name, size_t len);

/* A slot's header, on disk before each record: 16 bytes, so that a
 * table of small records is mostly records (docs/format.md, "Slot", says
 * why each field is as wide as it is). Read its fields through the
 * accessors below: they are loaded while the writer may change them. */
typedef struct vmdb__slot {
    uint32_t seq;      /* even when stable, odd while being written; 0 only
                          in a slot never written */
    uint32_t sum;      /* the low 32 bits of XXH3-64 of the record, seeded
                          with rid and live */
    uint64_t lsn_live; /* VMDB__SLOT_LIVE if the slot holds a record; below
                          it, the log position of the change that last
                          wrote the slot */
} vmdb__slot;

#define VMDB__SLOT_LIVE (UINT64_C(1) << 63)
/* Log positions are byte counts of the log ever written: 2^63 of them
 * is 292 years at 1 GB/s. A position at or past it is refused. */
#define VMDB__SLOT_LSN_MASK (VMDB__SLOT_LIVE - 1)

static inline uint32_t vmdb__slot_seq(const vmdb__slot *s)
{
    return __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
}

static inline bool vmdb__slot_live(const vmdb__slot *s)
{
    return (__atomic_load_n(&s->lsn_live, __ATOMIC_RELAXED) & VMDB__SLOT_LIVE) != 0;
}

static inline uint64_t vmdb__slot_lsn(const vmdb__slot *s)
{
    return __atomic_load_n(&s->lsn_live, __ATOMIC_RELAXED) & VMDB__SLOT_LSN_MASK;
}

static inline uint32_t vmdb__slot_sum(const vmdb__slot *s)
{
    return __atomic_load_n(&s->sum, __ATOMIC_RELAXED);
}

/* The slot header of table format versions 1 and 2, 32 bytes: what an
 * upgrade reads (table_upgrade.c) and `vmdb dump` shows. */
typedef struct vmdb__slot_v2 {
    uint64_t seq;
    uint64_t lsn;
    uint64_t checksum; /* all 64 bits of XXH3-64, seeded as today's */
    uint32_t live;
    uint32_t reserved;
} vmdb__slot_v2;

/* A slot never written: the file's zeros, which carry no checksum.
 * Readers skip it unverified; vmdb__table_verify also checks that no
 * written slot lies after it (a zeroed page would look like this). */
static inline bool vmdb__slot_pristine(uint64_t seq, bool live)
{
    return seq == 0 && !live;
}

/* The bytes of a slot are copied out while its writer may be changing
 * them: the seqlock keeps a copy only if the counter did not move
 * meanwhile (table.c). Both sides move them with these, eight bytes at a
 * time as relaxed atomics, so the overlap is not a data race in C11's
 * terms and ThreadSanitizer, which sees these as atomics, keeps checking
 * every other access. A relaxed load or store is a plain move on x86-64
 * and arm64. A record starts 8-byte aligned in the file (slots are
 * `stride` apart, a multiple of 8, and their header is 16 bytes); the
 * other side may have any alignment. */
static inline void vmdb__slot_load(void *dst, const void *in_slot, size_t len)
{
    const unsigned char *b = in_slot;
    unsigned char *d = dst;
    /* A field (a key) may start anywhere in the record. */
    for (; len && ((uintptr_t)b & 7); len--)
        *d++ = __atomic_load_n(b++, __ATOMIC_RELAXED);
    for (; len >= 8; len -= 8, d += 8, b += 8) {
        uint64_t v = __atomic_load_n((const uint64_t *)b, __ATOMIC_RELAXED);
        memcpy(d, &v, 8);
    }
    for (; len; len--)
        *d++ = __atomic_load_n(b++, __ATOMIC_RELAXED);
}

/* The writer's side of vmdb__slot_load, at the start of a record (so
 * aligned); src NULL stores zeros. */
static inline void vmdb__slot_store(void *in_slot, const void *src, size_t len)
{
    uint64_t *w = in_slot;
    const unsigned char *s = src;
    for (; len >= 8; len -= 8, w++) {
        uint64_t v = 0;
        if (s) {
            memcpy(&v, s, 8);
            s += 8;
        }
        __atomic_store_n(w, v, __ATOMIC_RELAXED);
    }
    unsigned char *b = (unsigned char *)w;
    for (size_t i = 0; i < len; i++)
        __atomic_store_n(&b[i], s ? s[i] : 0, __ATOMIC_RELAXED);
}

/* What a checkpoint wrote about the slots into the header (version 2),
 * so that a writer can open without reading them all. When it may be
 * believed is engine/db/summary.c's business; here it is only numbers. */
typedef struct vmdb__table_summary {
    uint64_t log_pos;    /* the checkpoint it was written at: the log's tail */
    uint64_t log_salt;   /* the salt that checkpoint drew; 0: no summary */
    uint64_t frontier;   /* no slot at or past it is live */
    uint64_t live_count; /* live slots */
    uint64_t hole_from;  /* every slot below it is live */
    uint64_t max_lsn;    /* no slot names a later transaction */
} vmdb__table_summary;

/* What a pass over the slots found, to hold a summary against. */
typedef struct vmdb__table_tally {
    uint64_t live;
    uint64_t frontier;   /* the highest live rid + 1 */
    uint64_t first_free; /* the lowest rid not live, at most frontier */
    uint64_t max_lsn;    /* the newest any written slot names */
} vmdb__table_tally;

/* Full passes over a table's slots this process made (writer state,
 * the log's check at open, verify): what the tests count to show that
 * an open after a clean close reads none. */
extern uint64_t vmdb__table_slot_passes;

struct vmdb_table {
    vmdb_db *db;
    char *name;
    char *path;             /* NAME.vmt */
    uint16_t id;            /* in log records */
    vmdb_schema *schema;
    size_t record_size;     /* bytes */
    size_t stride;          /* bytes from one slot to the next */
    size_t key_offset;      /* bytes into the record */
    size_t key_size;        /* bytes */
    bool key_is_str;        /* the key ends at its first NUL */
    bool readonly;
    bool verify;            /* reads check checksums (VMDB_DB_NO_VERIFY
                               clears it; backup and compaction check
                               whatever it says) */
    vmdb_map *map;
    char *slots;            /* the first slot; moves when the map outgrows
                               its reservation (stored with release before
                               the capacity that needs it; old places stay
                               mapped until close) */
    uint64_t capacity;      /* slots mapped; readers load it with acquire */
    uint64_t replay_base;   /* while the log is replayed: the capacity
                               before it, which bounds the slots the log
                               may name (db.c); 0 otherwise */
    uint64_t header_seq;    /* of the newest header copy */
    pthread_mutex_t follow; /* readers growing the map after another
                               process grew the file */
    vmdb__index *index;
    bool dropped;                  /* reads and writes find nothing
                                      (engine/db/db.c, engine/db/follow.c) */
    uint64_t file_dev, file_ino;   /* the files mapped, as they were named */
    uint64_t index_dev, index_ino; /* when opened (engine/db/follow.c) */
    uint32_t version;       /* of the header copy in use */
    vmdb__table_summary summary; /* in the header copy in use */
    /* Writer-side state, rebuilt by vmdb__table_scan_state() or taken
     * from the summary (vmdb__table_state_from_summary). */
    uint64_t *free_rids;    /* stack; the top is the lowest free rid */
    size_t free_count;
    size_t free_cap;
    uint64_t frontier;      /* no live slot at or past it */
    uint64_t live_count;
    uint64_t hole_next;     /* free slots in [hole_next, hole_end) are */
    uint64_t hole_end;      /* not on the stack: the summary counted */
    uint64_t holes_unseen;  /* them, and alloc walks up to find them */
    uint64_t max_lsn;       /* no slot names a later transaction */
    bool state_from_summary; /* taken from the summary, not the slots */
    bool state_doubtful;    /* an insert or delete found it wrong: write no summary */
};

/* Creates NAME.vmt in `dir` atomically (temporary file, sync, rename, sync
 * of the directory), with room for `capacity` records (at least the first
 * capacity, 64). VMDB_EEXIST if it is there. */
int vmdb__table_create_file(const char *dir, const char *name, uint16_t id,
                            const vmdb_schema *schema, uint64_t capacity);

/* Opens the table file at `path`. The index is opened separately. */
int vmdb__table_open(const char *path, bool readonly, bool verify, vmdb_table **out);
void vmdb__table_close(vmdb_table *t);

/* The index a reader searches. A compaction installs a new one while
 * readers go on (vmdb__table_install_index stores it with release), so a
 * reader loads it with acquire: what it finds there was built before. */
static inline vmdb__index *vmdb__table_index(const vmdb_table *t)
{
    return __atomic_load_n(&t->index, __ATOMIC_ACQUIRE);
}

/* rid must be below a capacity the caller loaded (with acquire) before. */
static inline vmdb__slot *vmdb__table_slot(const vmdb_table *t, uint64_t rid)
{
    return (vmdb__slot *)(__atomic_load_n(&t->slots, __ATOMIC_RELAXED) + rid * t->stride);
}

/* Pulls the cache lines of slot rid, for a read that comes soon. A
 * prefetch never faults, so rid may be stale or out of range. */
static inline void vmdb__table_prefetch(const vmdb_table *t, uint64_t rid)
{
    const char *s = __atomic_load_n(&t->slots, __ATOMIC_RELAXED) + rid * t->stride;
    for (size_t off = 0; off < t->stride; off += 64)
        __builtin_prefetch(s + off);
    __builtin_prefetch(s + t->stride - 1);
}

/* A key a caller passed, as records hold it: a str key ends at its first
 * NUL (passed with its NUL, or in a larger buffer, it is the same key) and
 * fits the field; any other key is exactly the field's size. *len is
 * trimmed; VMDB_EINVAL names the table, the field and the size wanted. */
int vmdb__table_caller_key(const vmdb_table *t, const void *key, size_t *len);

/* The key inside a record's bytes. */
static inline void vmdb__table_key(const vmdb_table *t, const void *record, const void **key,
                                   size_t *len)
{
    const char *k = (const char *)record + t->key_offset;
    size_t n = t->key_size;
    if (t->key_is_str) {
        const char *nul = memchr(k, '\0', n);
        if (nul)
            n = (size_t)(nul - k);
    }
    *key = k;
    *len = n;
}

/* Copies record `rid` under its sequence counter and checks the copy
 * against its checksum (unless t->verify is off). 0 and *live, or VMDB_ENOTFOUND past the capacity
 * (error context untouched), VMDB_EBUSY if the slot stays mid-write (a
 * writer died: reopen for writing), VMDB_ECORRUPT naming the file and
 * slot if the checksum is wrong. */
int vmdb__table_read(vmdb_table *t, uint64_t rid, void *record, bool *live);

/* Whether `body` (slot rid's record, copied whole or read in place under
 * an unchanged counter) carries the checksum `sum` stored with it and the
 * live flag: 0, or VMDB_ECORRUPT naming the file and slot (and saying so
 * when the record is whole but its live flag was cleared). */
int vmdb__table_check_slot(const vmdb_table *t, uint64_t rid, bool live, uint32_t sum,
                           const void *body);

/* For zero-copy readers: checks slot rid's record where it lies, against
 * the stable counter `seq` and live flag the caller read it with. 0 if it
 * is intact, VMDB_ECORRUPT naming the slot, or 1 if a writer moved the
 * slot meanwhile (what was hashed may be torn: look again). */
int vmdb__table_verify_in_place(vmdb_table *t, uint64_t rid, uint64_t seq, bool live);

/* The slot's stable sequence counter and live flag, for zero-copy readers
 * (VMDB_EBUSY as vmdb__table_read). rid must be below the capacity. */
int vmdb__table_peek(vmdb_table *t, uint64_t rid, uint64_t *seq, bool *live);

/* Compares record rid's key with key[0..len) under the sequence counter:
 * 1 equal and live, 0 not. */
int vmdb__table_key_equals(vmdb_table *t, uint64_t rid, const void *key, size_t len);

/* Writer: stores record (or, when NULL, a deletion) into slot rid, growing
 * the file first if rid is past the capacity. */
int vmdb__table_write(vmdb_table *t, uint64_t rid, uint64_t lsn, const void *record);

/* The verdict on header copy `which` (0 for A, 1 for B): 0 or a VMDB_E*
 * code, with its message. */
int vmdb__table_copy_status(vmdb_table *t, int which);

/* The sequence number header copy `which` claims (valid or not). */
uint64_t vmdb__table_copy_seq(vmdb_table *t, int which);

/* Both header copies check out: 0, or the first one's fault (a torn
 * write survived on the other copy, which opening used). */
int vmdb__table_check_headers(vmdb_table *t);

/* Writer: rewrites a damaged header copy from the one in use: 1 if it
 * did (the file then needs a flush), 0 if both were whole. */
int vmdb__table_repair_headers(vmdb_table *t);

/* Writer: makes room for slots [0, count). */
int vmdb__table_reserve(vmdb_table *t, uint64_t count);

/* Writer: rebuilds the free-slot stack, frontier and live count from the
 * slots, and fixes slots left odd by a writer that died mid-write. */
int vmdb__table_scan_state(vmdb_table *t);
/* Writer, for a table file just created: every slot free, none read. */
void vmdb__table_state_empty(vmdb_table *t);

/* Writer: takes the free-slot state from t->summary instead of the slots
 * (the holes below the frontier are then found as inserts need them).
 * false, changing nothing, when the summary is absent or its numbers
 * cannot be; the caller then scans. Whether it is current is the
 * caller's to know. */
bool vmdb__table_state_from_summary(vmdb_table *t);

/* Writer, at a checkpoint at log position log_pos drawing log_salt,
 * with every committed change applied and no transaction open: writes a
 * header copy whose summary is the writer-side state. It reaches the
 * disk with the table's next flush. */
void vmdb__table_write_summary(vmdb_table *t, uint64_t log_pos, uint64_t log_salt);

/* The summary in the newest valid header copy as the file holds it now
 * (another process may have written one since this handle looked). */
int vmdb__table_summary_now(vmdb_table *t, vmdb__table_summary *out);

/* Whether `sum` says what a pass over the slots found: 0, or
 * VMDB_ECORRUPT naming the file and the number that is wrong. */
int vmdb__table_summary_agrees(const vmdb_table *t, const vmdb__table_summary *sum,
                               const vmdb__table_tally *tally);

/* Calls fn for every written slot whose lsn is `start` or later (written
 * since the checkpoint at start), stopping at its first nonzero return,
 * which it returns. One full pass over the slots. */
int vmdb__table_lsns_since(vmdb_table *t, uint64_t start,
                           int (*fn)(void *ctx, uint64_t rid, uint64_t lsn), void *ctx);

/* Writer: a free rid for an insert (lowest first), and back on abort. */
int vmdb__table_alloc_rid(vmdb_table *t, uint64_t *rid);
int vmdb__table_release_rid(vmdb_table *t, uint64_t rid);

/* The checksum a slot must carry for these bytes. */
uint32_t vmdb__table_checksum(const vmdb_table *t, uint64_t rid, bool live, const void *record);

/* Writes every slot and the header back to disk. */
int vmdb__table_flush(vmdb_table *t);

/* Writer, on taking the lock after another process wrote: maps the slots
 * it added and learns which header copy is the newest. */
int vmdb__table_refresh(vmdb_table *t);

/* Checks every slot on its own, without the index: a live one against
 * its checksum; a free one against a free slot's (the live flag is in the
 * checksum's seed, so a cleared flag shows), or as never written (all
 * zero); and that no slot never written lies before one that was (slots
 * are handed out from the start: a zeroed page shows). Calls fn for each
 * live slot, stopping at its first nonzero return. 0, or VMDB_ECORRUPT
 * naming the slot. With the writer lock held, or inside a read
 * transaction. */
int vmdb__table_verify(vmdb_table *t, int (*fn)(void *ctx, uint64_t rid, const void *record),
                       void *ctx);
/* vmdb__table_verify, also telling what it counted. */
int vmdb__table_verify_tally(vmdb_table *t,
                             int (*fn)(void *ctx, uint64_t rid, const void *record), void *ctx,
                             vmdb__table_tally *tally);

/* Readers: map slots another process added to the file. */
int vmdb__table_follow(vmdb_table *t);

/* ---- upgrade of older files (table_upgrade.c) ------------------------------ */

/* Whether t's file is of a version before 3 (32-byte slot headers): such
 * a handle is good only for vmdb__table_upgrade; its slots are not read
 * or written as they are. */
bool vmdb__table_needs_upgrade(const vmdb_table *t);

/* Both header copies of a file holding t's table with `capacity` slots
 * of the current layout, and `sum` (NULL: none), into `head` (8192
 * bytes). */
int vmdb__table_build_headers(const vmdb_table *t, char *head, uint64_t capacity,
                              const vmdb__table_summary *sum);

/* Writer, holding the write lock, with *t open on a file of an older
 * version: rewrites it in the current layout under a temporary name
 * (NAME.vmt.upgrade-PID), synced, renames it over the old one, syncs
 * the directory, and replaces *t with a handle on the new file. The
 * same records at the same rids, under the same checksums (their low
 * 32 bits), so the index stays good and damage stays damage. A crash at
 * any point leaves the old file or the new one under the name, whole;
 * the next upgrade removes what a crashed one left. On failure *t is
 * still the old handle, and its file is unchanged. */
int vmdb__table_upgrade(vmdb_table **t);

#ifdef VMDB_TEST_HOOKS
/* Called at each stage of an upgrade: "written" (the new file synced
 * under its temporary name), "renamed", "durable" (the directory
 * synced), so that a test can kill the process there. */
extern void (*vmdb__table_upgrade_test_hook)(const char *stage);
#endif

/* ---- compaction (engine/db/compact.c) -------------------------------------- */

/* Writer: writes a new table file at `path` (replacing any file there)
 * with t's name, id and schema, a capacity of `count` slots, and slots
 * [0, count) byte for byte as they are now, sequence counters included;
 * synced when it returns. The caller holds the writer lock, so no slot is
 * mid-write. Errors name `path`. */
int vmdb__table_write_prefix(vmdb_table *t, const char *path, uint64_t count);

/* Maps read-only zero pages over the unused reservation of `fresh` (a
 * handle just opened on a file) from the end of its file up to `len`
 * bytes, so that a reader that loaded an older, larger capacity before
 * fresh's slots are installed reads free slots there instead of faulting.
 * Growing the map later maps the file over them. */
int vmdb__table_pad(vmdb_table *fresh, uint64_t len);

/* Writer: installs the file mapped by `fresh` (opened on the file that has
 * just been renamed over t's) as t's slots: t keeps its identity, every
 * pointer users hold to it stays good, and `fresh` is left holding t's old
 * map, which must stay mapped for readers (vmdb__table_retire). */
void vmdb__table_install(vmdb_table *t, vmdb_table *fresh);

/* Writer: makes `ix` t's index; `husk` keeps the old one for readers. */
void vmdb__table_install_index(vmdb_table *t, vmdb_table *husk, vmdb__index *ix);

/* Keeps `husk` (a table handle holding a map and index that `owner`'s
 * readers may still be using) until vmdb__table_release_retired(owner).
 * Call it before vmdb__table_install so that nothing can fail after. */
int vmdb__table_retire(vmdb_table *owner, vmdb_table *husk);

/* The longest map among owner's retired husks, in bytes (0 if none). */
uint64_t vmdb__table_retired_len(const vmdb_table *owner);

/* Closes every husk retired for `owner`. Only when no reader can still be
 * using them: when owner itself is closed. */
void vmdb__table_release_retired(const vmdb_table *owner);

#endif /* VMDB_ENGINE_TABLE_H */
