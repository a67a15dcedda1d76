/* SPDX-License-Identifier: MIT */
/*
 * engine/store/wal.h - the write-ahead log: redo records in a file-backed
 * mirrored ring (see the format essay at the top of wal.c).
 */
#ifndef VMDB_ENGINE_WAL_H
#define VMDB_ENGINE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmdb/ring.h"

enum vmdb__wal_kind {
    VMDB__WAL_PUT = 1,    /* payload: the record's full after-image */
    VMDB__WAL_DELETE = 2, /* payload: the deleted record's key bytes */
    VMDB__WAL_COMMIT = 3, /* no payload; ends transaction `txn` */
};

/* The header of every log record, on disk, little-endian. */
typedef struct vmdb__wal_record {
    uint64_t lsn;         /* log position of this record: its ring position */
    uint64_t salt;        /* the log's salt when it was written */
    uint32_t len;         /* bytes of the whole record, a multiple of 8 */
    uint32_t payload_len; /* bytes of payload after this header */
    uint64_t txn;         /* the transaction: the lsn of its first record */
    uint64_t rid;         /* the record id the change applies to */
    uint16_t table;       /* the table's id */
    uint8_t kind;         /* enum vmdb__wal_kind */
    uint8_t flags;        /* zero */
    uint32_t reserved;    /* zero */
    uint64_t checksum;    /* XXH3-64 of the 48 bytes before it and the payload */
} vmdb__wal_record;

#define VMDB__WAL_HEADER_LEN 56u

typedef struct vmdb__wal vmdb__wal;

/* Opens or creates the log at `path` (`size` bytes of ring at creation,
 * and `max`, the most it may grow to, kept in its header; both unused
 * when opening). */
int vmdb__wal_open(const char *path, uint64_t size, uint64_t max, bool create, bool readonly,
                   vmdb__wal **out);
void vmdb__wal_close(vmdb__wal *wal);

vmdb_ring *vmdb__wal_ring(const vmdb__wal *wal);
uint64_t vmdb__wal_salt(const vmdb__wal *wal);
/* Where the next transaction's first record goes: the ring's head. */
uint64_t vmdb__wal_end(const vmdb__wal *wal);
/* Where replay starts: the ring's tail, the last checkpoint. */
uint64_t vmdb__wal_start(const vmdb__wal *wal);
uint64_t vmdb__wal_cap(const vmdb__wal *wal);
/* The most bytes the log may grow to, as its header says (0: a log made
 * before logs grew says nothing). */
uint64_t vmdb__wal_max(const vmdb__wal *wal);

/* Bytes a record with `payload_len` bytes of payload takes in the log. */
static inline uint32_t vmdb__wal_record_len(size_t payload_len)
{
    return (uint32_t)((VMDB__WAL_HEADER_LEN + payload_len + 7) & ~(size_t)7);
}

/*
 * Writes a record at position *pos, beyond the published end of the log
 * (nothing reads it before vmdb__wal_publish), and advances *pos. The
 * caller has checked that it fits (vmdb__wal_room). Returns the payload's
 * address in the ring, stable until the ring wraps over it.
 */
const void *vmdb__wal_write(vmdb__wal *wal, uint64_t *pos, enum vmdb__wal_kind kind,
                            uint16_t table, uint64_t txn, uint64_t rid, const void *payload,
                            uint32_t payload_len);

/* Bytes free for records from position `pos` on, before the log would
 * overwrite what the last checkpoint still needs. */
uint64_t vmdb__wal_room(const vmdb__wal *wal, uint64_t pos);

/* Publishes the records in [end, pos): they become part of the log. */
int vmdb__wal_publish(vmdb__wal *wal, uint64_t pos);

/* Writes the log bytes [from, to) to disk. */
int vmdb__wal_flush(vmdb__wal *wal, uint64_t from, uint64_t to);

/* Why a scan stopped. */
typedef struct vmdb__wal_scan_end {
    uint64_t pos;   /* the first position that holds no valid record */
    bool torn;      /* a record was there (its lsn and salt matched) but
                       its length or checksum was wrong */
} vmdb__wal_scan_end;

/*
 * Calls fn for each valid record from `from` on, in order, until a record
 * fails its checks (the end of the log) or fn returns nonzero (returned).
 * A record is valid when its lsn is its position, its salt is the log's,
 * its length is sane and its checksum matches. Records that end past `to`
 * are not read (UINT64_MAX: read as far as records check out, which is how
 * recovery finds the end; the published head bounds everything else).
 * *end says where and why it stopped.
 */
int vmdb__wal_scan(vmdb__wal *wal, uint64_t from, uint64_t to,
                   int (*fn)(void *ctx, const vmdb__wal_record *rec, const void *payload),
                   void *ctx, vmdb__wal_scan_end *end);

/* Checks that the log, from its tail to its head, is records that check
 * out, while writers in other processes may append and checkpoint: with
 * the salt they share at *live_salt (the lock page's), all read again
 * when a checkpoint came in between. Calls fn (if not NULL) for each
 * record, as vmdb__wal_scan does. 0; 1 with end->pos at the first
 * damaged record; or fn's nonzero return. */
int vmdb__wal_check_live(vmdb__wal *wal, const uint64_t *live_salt,
                         int (*fn)(void *ctx, const vmdb__wal_record *rec, const void *payload),
                         void *ctx, vmdb__wal_scan_end *end);

/* Takes the salt the log's header holds now, which another handle's
 * checkpoint may have changed: the one recovery reads records by. */
int vmdb__wal_follow_salt(vmdb__wal *wal);
#ifdef VMDB_MUTANT_SALT_FROM_LOCK_PAGE
void vmdb__wal_adopt_salt(vmdb__wal *wal, uint64_t salt);
#endif

/* Frees the log up to `pos` with a new salt: the ring restarts at pos and
 * the header (durable when this returns) records pos and the salt. Only
 * after everything the records before pos describe is durable in the
 * tables. */
int vmdb__wal_checkpoint(vmdb__wal *wal, uint64_t pos, uint64_t salt);

/* A new random salt for a checkpoint, drawn before it: the tables'
 * summaries name the checkpoint they were written for by its salt, and
 * are flushed before the log's header moves (engine/db/summary.c). */
int vmdb__wal_draw_salt(vmdb__wal *wal, uint64_t *salt);

/*
 * Puts a new, empty log of `size` bytes in place of wal's file, its
 * positions starting at `pos`, with a new salt and `max` in its header,
 * durable (file and name) when this returns, and opens it into *out.
 * Only once everything the records before pos describe is durable in the
 * tables and nothing past pos is published: a power cut may leave either
 * file. wal itself still maps the old file, unlinked, and stays usable
 * for reading until closed.
 */
int vmdb__wal_replace(const vmdb__wal *wal, uint64_t size, uint64_t max, uint64_t pos,
                      vmdb__wal **out);

#ifdef VMDB_TEST_HOOKS
/* Called as a scan reads a record: "fields checked" (its lengths passed,
 * its checksum not computed yet) and "record checked" (about to be handed
 * to the scan's callback), so that a test can change the record there as
 * another process's writer would. */
extern void (*vmdb__wal_scan_test_hook)(const char *stage, const void *rec);
#endif

#endif /* VMDB_ENGINE_WAL_H */
