/* SPDX-License-Identifier: MIT */
/*
 * vmdb/slotring.h - a persistent ring of fixed-size slots in a file.
 *
 * A slot ring is a file holding a header page and `slot_count` slots of
 * `slot_size` bytes each; the geometry is chosen when the file is created
 * and stored in the header, so any program can open the file without
 * knowing it. Each slot keeps the length of the message written into it.
 * Messages are read in the order they were written, once.
 *
 * One producer and one consumer may use a ring at the same time without a
 * lock, in two threads of one process or in two processes that each open
 * the file: the write and read positions live in the mapped header and are
 * published with release stores and read with acquire loads. More than one
 * producer, or more than one consumer, needs the caller's own lock.
 *
 * Positions are free-running 64-bit counters (slot = pos % slot_count),
 * so "full" (write - read == slot_count) and "empty" (write == read) are
 * never confused and can never wrap in practice.
 *
 * "Full" (VMDB_EFULL) and "empty" (VMDB_EEMPTY) from write, write_ptr,
 * advance_write, read, peek and read_ptr are answers a spinning side
 * polls for, not failures: they come back in a few nanoseconds and leave
 * the thread's error context alone (no message is formatted).
 *
 * Persistence: every store goes to the file's page cache, so the messages
 * and positions survive the exit or crash of either process. To survive a
 * power cut as well, call vmdb_slotring_sync().
 *
 * File layout (little-endian, see engine/mem/slotring.c for the details):
 *
 *   [0, 4096)          header: magic "VMDBSLOT", format version, slot size,
 *                      slot count, a checksum of those, then the write and
 *                      read positions and the lifetime totals, each pair on
 *                      its own cache line
 *   [4096, ...)        slot_count slots of vmdb_slotring_stride() bytes:
 *                      a 4-byte message length, 4 reserved bytes, then
 *                      slot_size bytes of message
 */
#ifndef VMDB_SLOTRING_H
#define VMDB_SLOTRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "map.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The first 8 bytes of every slot ring file. */
#define VMDB_SLOTRING_MAGIC "VMDBSLOT"
#define VMDB_SLOTRING_VERSION 1

typedef struct vmdb_slotring vmdb_slotring;

enum vmdb_slotring_flag {
    /* Create the file if it is missing (slot_size and slot_count needed). */
    VMDB_SLOTRING_CREATE = 1u << 0,
    /* With CREATE: fail with VMDB_EEXIST if the file exists. */
    VMDB_SLOTRING_EXCL = 1u << 1,
    /* Map the file read-only: for inspection (vmdb dump); every call that
     * would change the ring fails with VMDB_EREADONLY. */
    VMDB_SLOTRING_READONLY = 1u << 2,
};

/*
 * Options for vmdb_slotring_open(). The zero value opens an existing
 * file, whatever its geometry. When slot_size or slot_count is non-zero
 * and the file exists, it must match the file (VMDB_EBADSIZE naming the
 * field otherwise).
 */
typedef struct vmdb_slotring_options {
    unsigned version; /* VMDB_SLOTRING_OPTIONS_VERSION (the _INIT macro sets it), or 0 */
    unsigned flags;      /* enum vmdb_slotring_flag bits */
    uint32_t slot_size;  /* message bytes per slot, 1 .. 2^30 */
    uint64_t slot_count; /* slots, 1 .. 2^40 */
    unsigned perm;       /* permission bits of a created file; 0 is 0644 */
} vmdb_slotring_options;

#define VMDB_SLOTRING_OPTIONS_VERSION 1
#ifdef __cplusplus /* no designated initializers before C++20 */
#define VMDB_SLOTRING_OPTIONS_INIT {VMDB_SLOTRING_OPTIONS_VERSION}
#else
#define VMDB_SLOTRING_OPTIONS_INIT {.version = VMDB_SLOTRING_OPTIONS_VERSION}
#endif

/* A snapshot of a ring (vmdb_slotring_info). The positions are read with
 * acquire loads, each on its own, so under concurrent use they are a
 * consistent-enough view for monitoring, not a transaction. */
typedef struct vmdb_slotring_info {
    uint32_t slot_size;    /* message bytes per slot */
    uint64_t slot_count;   /* slots */
    uint64_t write_pos;    /* messages written since creation or reset */
    uint64_t read_pos;     /* messages read since creation or reset */
    uint64_t used;         /* slots holding unread messages */
    uint64_t total_writes; /* messages ever written; reset keeps it */
    uint64_t total_reads;  /* messages ever read; reset keeps it */
    uint32_t version;      /* format version of the file */
    uint64_t file_size;    /* bytes */
} vmdb_slotring_info;

/*
 * Opens or creates the slot ring at `path`. A file that is not a slot ring
 * (VMDB_EBADMAGIC), of another format version (VMDB_EVERSION), whose
 * header checksum is wrong (VMDB_ECORRUPT), whose positions are impossible
 * (VMDB_ECORRUPT) or which is shorter than its geometry says
 * (VMDB_EBADSIZE) is refused, with a message naming the file and the
 * value at fault. *out is NULL unless this succeeds.
 */
VMDB_API int vmdb_slotring_open(const char *path,
                                const vmdb_slotring_options *opts,
                                vmdb_slotring **out);

/* Unmaps and closes; does not sync. Accepts NULL. */
VMDB_API void vmdb_slotring_close(vmdb_slotring *ring);

/* Bytes from one slot to the next in the file (length word included). */
VMDB_API size_t vmdb_slotring_stride(const vmdb_slotring *ring);

/* Producer. Copies len bytes (len <= slot_size, VMDB_ERANGE otherwise)
 * into the next slot and publishes it; VMDB_EFULL when every slot holds
 * an unread message. */
VMDB_API int vmdb_slotring_write(vmdb_slotring *ring, const void *data,
                                 size_t len);

/* Consumer. Copies the oldest unread message into dst and consumes it;
 * *len gets its length. VMDB_EEMPTY when there is none; VMDB_ERANGE,
 * consuming nothing, when cap is smaller than the message (*len still
 * tells its length). */
VMDB_API int vmdb_slotring_read(vmdb_slotring *ring, void *dst, size_t cap,
                                size_t *len);

/* As vmdb_slotring_read, without consuming the message. */
VMDB_API int vmdb_slotring_peek(vmdb_slotring *ring, void *dst, size_t cap,
                                size_t *len);

/*
 * Zero-copy producer: *ptr = the next free slot's slot_size bytes
 * (VMDB_EFULL if none). Fill it, then vmdb_slotring_advance_write(len)
 * stores the length and publishes the slot. Until then the consumer
 * cannot see it; calling write_ptr again returns the same slot.
 */
VMDB_API int vmdb_slotring_write_ptr(vmdb_slotring *ring, void **ptr);
VMDB_API int vmdb_slotring_advance_write(vmdb_slotring *ring, size_t len);

/*
 * Zero-copy consumer: *ptr and *len = the oldest unread message, in place
 * (VMDB_EEMPTY if none). The bytes stay valid and unchanged until
 * vmdb_slotring_advance_read() hands the slot back to the producer.
 */
VMDB_API int vmdb_slotring_read_ptr(vmdb_slotring *ring, const void **ptr,
                                    size_t *len);
VMDB_API int vmdb_slotring_advance_read(vmdb_slotring *ring);

VMDB_API bool vmdb_slotring_has_data(const vmdb_slotring *ring);
VMDB_API bool vmdb_slotring_is_full(const vmdb_slotring *ring);
/* Positions, totals and geometry, as they are now. */
VMDB_API int vmdb_slotring_stat(const vmdb_slotring *ring,
                                     vmdb_slotring_info *stats);

/* Raw access to slot `index` (0 .. slot_count-1) whatever its state, for
 * inspection: *ptr = its message bytes, *len = its stored length (which
 * may be stale or, in a damaged file, larger than slot_size: callers that
 * print it must clamp). VMDB_ERANGE for an index out of range. */
VMDB_API int vmdb_slotring_slot(const vmdb_slotring *ring, uint64_t index,
                                const void **ptr, size_t *len);

/* Drops every unread message, zeroes the slots and sets both positions to
 * 0; the totals are kept. Only while no other thread or process uses the
 * ring; other handles open on it keep cached positions, so a consumer
 * handle must be reopened after a reset done through another one. */
VMDB_API int vmdb_slotring_reset(vmdb_slotring *ring);

/* Writes the slots and header back to disk (msync) so they survive a power
 * cut. A failure poisons the ring (VMDB_EPOISONED on every later write)
 * until it is reopened. */
VMDB_API int vmdb_slotring_sync(vmdb_slotring *ring, enum vmdb_flush how);

#ifdef __cplusplus
}
#endif

#endif /* VMDB_SLOTRING_H */
