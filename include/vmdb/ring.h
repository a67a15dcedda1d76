/* SPDX-License-Identifier: MIT */
/*
 * vmdb/ring.h - the mirrored byte ring.
 *
 * A ring of `cap` bytes (a page multiple) whose data pages are mapped
 * twice, back to back, so that [p, p + cap) is valid for any p inside the
 * first copy: every readable span and every writable span is one
 * contiguous pointer, whatever the wrap. Nothing is ever copied to get
 * around the end of the buffer.
 *
 * A ring lives in anonymous shared memory (vmdb_ring_new: a memfd, shared
 * with children forked later) or in a file (vmdb_ring_open): a header page
 * followed by the data pages. A file ring reopened after its process
 * exited, or was killed, finds its bytes and positions.
 *
 * Positions are free-running 64-bit byte counters: the write position
 * (head) and the read position (tail) only grow, used = head - tail, and
 * full and empty can never be confused. Byte `pos` lives at data offset
 * pos % cap; vmdb_ring_pos_ptr() turns a position into a pointer.
 *
 * Concurrency: one producer thread (write_span/commit, write, printf) and
 * one consumer thread (read_span/consume, read, read_line) may run at the
 * same time without a lock; the positions are published with release
 * stores and read with acquire loads. Anything else needs the caller's
 * lock. In VMDB_RING_OVERWRITE mode the producer moves the tail itself
 * when it must drop old bytes; a concurrent consumer then learns of it
 * through VMDB_EOVERRUN (see vmdb_ring_consume).
 *
 * Durability of a file ring: stores reach the page cache at once, so they
 * survive a crash of the process. vmdb_ring_sync() makes the data and
 * positions survive a power cut too: it flushes the live bytes, then
 * writes the positions into the older of two checksummed header copies,
 * so a torn header write leaves the newer intact copy in charge.
 */
#ifndef VMDB_RING_H
#define VMDB_RING_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "map.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The first 8 bytes of every ring file. */
#define VMDB_RING_MAGIC "VMDBRING"
#define VMDB_RING_VERSION 1

typedef struct vmdb_ring vmdb_ring;

enum vmdb_ring_flag {
    /* vmdb_ring_open: create the file if it is missing (cap needed). */
    VMDB_RING_CREATE = 1u << 0,
    /* With CREATE: fail with VMDB_EEXIST if the file exists. */
    VMDB_RING_EXCL = 1u << 1,
    /* Writes that do not fit drop the oldest unread bytes instead of
     * failing with VMDB_EFULL (vmap's InfiniteRing). */
    VMDB_RING_OVERWRITE = 1u << 2,
    /* vmdb_ring_open: map read-only, for inspection; every call that would
     * move a position fails with VMDB_EREADONLY. */
    VMDB_RING_READONLY = 1u << 3,
};

/*
 * Options; the zero value opens an existing file ring as it is. cap is
 * required to create a ring and is rounded up to the page size; for an
 * existing file a non-zero cap must match the file's (VMDB_EBADSIZE).
 */
typedef struct vmdb_ring_options {
    unsigned version; /* VMDB_RING_OPTIONS_VERSION (the _INIT macro sets it), or 0 */
    uint64_t cap;            /* data bytes; rounded up to a page multiple */
    unsigned flags;          /* enum vmdb_ring_flag bits */
    unsigned perm;           /* permission bits of a created file; 0: 0644 */
    enum vmdb_advice advice; /* for the data pages; a ring that is synced
                                often wants VMDB_ADVICE_RANDOM, which keeps
                                write-back to the pages actually dirtied */
} vmdb_ring_options;

#define VMDB_RING_OPTIONS_VERSION 1
#ifdef __cplusplus /* no designated initializers before C++20 */
#define VMDB_RING_OPTIONS_INIT {VMDB_RING_OPTIONS_VERSION}
#else
#define VMDB_RING_OPTIONS_INIT {.version = VMDB_RING_OPTIONS_VERSION}
#endif

/* A snapshot of a ring (vmdb_ring_stat). */
typedef struct vmdb_ring_info {
    const char *path;     /* the file, or NULL for a memory ring */
    uint64_t cap;         /* data bytes */
    uint64_t head;        /* write position, bytes ever written */
    uint64_t tail;        /* read position, bytes ever consumed or dropped */
    uint64_t used;        /* head - tail */
    uint64_t dropped;     /* bytes this handle dropped in overwrite mode */
    uint64_t synced_head; /* positions as of the last vmdb_ring_sync() */
    uint64_t synced_tail;
    uint64_t sync_seq;    /* how many times the header has been synced */
    uint32_t version;     /* format version of the file */
    size_t header_len;    /* bytes before the data pages in the file */
    bool overwrite;
    bool readonly;
} vmdb_ring_info;

/* A ring in anonymous shared memory; opts->cap is required. Close it with
 * vmdb_ring_close(). */
VMDB_API int vmdb_ring_new(const vmdb_ring_options *opts, vmdb_ring **out);

/*
 * Opens or creates the ring file at `path`. Refused with a message naming
 * the file and the value at fault: not a ring file (VMDB_EBADMAGIC),
 * another format version (VMDB_EVERSION), both header copies damaged or
 * impossible positions (VMDB_ECORRUPT), a file shorter than its header
 * says (VMDB_EBADSIZE), a cap that differs from the file's (VMDB_EBADSIZE).
 * Close it with vmdb_ring_close().
 */
VMDB_API int vmdb_ring_open(const char *path, const vmdb_ring_options *opts,
                            vmdb_ring **out);

/* Unmaps and closes, however the ring was made; does not sync. Accepts
 * NULL. */
VMDB_API void vmdb_ring_close(vmdb_ring *ring);

VMDB_API uint64_t vmdb_ring_cap(const vmdb_ring *ring);
/* Write and read positions (acquire loads). */
VMDB_API uint64_t vmdb_ring_head(const vmdb_ring *ring);
VMDB_API uint64_t vmdb_ring_tail(const vmdb_ring *ring);
/* Unread bytes, and bytes that can be written without dropping any. */
VMDB_API uint64_t vmdb_ring_used(const vmdb_ring *ring);
VMDB_API uint64_t vmdb_ring_avail(const vmdb_ring *ring);
/* The address of the byte at position `pos`; [ptr, ptr + cap) is valid
 * memory whatever pos is. Valid until the ring is closed. */
VMDB_API void *vmdb_ring_pos_ptr(const vmdb_ring *ring, uint64_t pos);

/*
 * Producer, zero copy: *len = bytes that can be written now, all of them
 * contiguous at the returned pointer (NULL for a read-only ring). Fill
 * some, then vmdb_ring_commit(n) publishes the first n; VMDB_ERANGE if n
 * is more than the span. The span stays valid until the next commit.
 */
VMDB_API void *vmdb_ring_write_span(vmdb_ring *ring, size_t *len);
VMDB_API int vmdb_ring_commit(vmdb_ring *ring, size_t n);

/* Overwrite mode: drop the oldest bytes until `len` bytes are writable
 * (VMDB_ERANGE if len > cap). Otherwise VMDB_EFULL if they are not. */
VMDB_API int vmdb_ring_make_room(vmdb_ring *ring, size_t len);

/*
 * Consumer, zero copy: the unread bytes, contiguous. They stay unchanged
 * until vmdb_ring_consume() hands them back to the producer, except in
 * overwrite mode, where the producer may drop them at any time: there
 * vmdb_ring_consume() fails with VMDB_EOVERRUN, consuming nothing, if any
 * of the n bytes was dropped since the span was taken, and the caller must
 * discard what it read and take a new span.
 */
VMDB_API const void *vmdb_ring_read_span(vmdb_ring *ring, size_t *len);
VMDB_API int vmdb_ring_consume(vmdb_ring *ring, size_t n);

/* Copies len bytes in, all or nothing: VMDB_EFULL when they do not fit
 * (overwrite mode drops old bytes instead), VMDB_ERANGE if len > cap. */
VMDB_API int vmdb_ring_write(vmdb_ring *ring, const void *src, size_t len);

/* Copies out and consumes up to cap bytes; *len = bytes read.
 * VMDB_EEMPTY when there are none. In overwrite mode the copy is
 * validated against the producer and retried, so it is never torn. */
VMDB_API int vmdb_ring_read(vmdb_ring *ring, void *dst, size_t cap,
                            size_t *len);

/*
 * Reads one line, through its '\n', into dst and NUL-terminates it; *len
 * = its length with the '\n'. VMDB_EEMPTY if no complete line is there
 * yet, VMDB_ERANGE (consuming nothing, *len = the length needed without
 * the NUL) if dst is too small or the ring is full without a '\n'.
 */
VMDB_API int vmdb_ring_read_line(vmdb_ring *ring, char *dst, size_t cap,
                                 size_t *len);

/* Formats straight into the write span: all or nothing, VMDB_EFULL when
 * the text does not fit (overwrite mode drops old bytes instead). No NUL
 * is stored. */
VMDB_API int vmdb_ring_printf(vmdb_ring *ring, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
VMDB_API int vmdb_ring_vprintf(vmdb_ring *ring, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/*
 * Buffered I/O with the ring as the buffer (vmap's BufReader/BufWriter),
 * zero copy: fill reads from `fd` straight into the write span, one
 * read(2) of as much as is free, and commits what arrived; drain writes
 * the read span to `fd` with one write(2) and consumes what was taken.
 * *n = bytes moved; 0 from fill means end of file, or a full ring, which
 * vmdb_ring_avail() tells apart. OS errors come back as VMDB_E* codes
 * naming the descriptor (VMDB_EBUSY for a non-blocking one with nothing
 * to do).
 */
VMDB_API int vmdb_ring_fill(vmdb_ring *ring, int fd, size_t *n);
VMDB_API int vmdb_ring_drain(vmdb_ring *ring, int fd, size_t *n);

/*
 * Writes back the bytes of positions [from, to) of a file ring (to - from
 * <= cap, VMDB_ERANGE otherwise) without touching the header: the cheap
 * flush of a log that finds its own end (the WAL). A failed flush poisons
 * the ring (VMDB_EPOISONED on every later write) until it is reopened.
 */
VMDB_API int vmdb_ring_flush(vmdb_ring *ring, uint64_t from, uint64_t to,
                             enum vmdb_flush how);

/* Makes the unread bytes and both positions durable: flushes [tail, head),
 * then writes and flushes the older header copy. A memory ring returns 0. */
VMDB_API int vmdb_ring_sync(vmdb_ring *ring);

VMDB_API int vmdb_ring_stat(const vmdb_ring *ring, vmdb_ring_info *info);

/*
 * The layer above (the WAL) keeps up to VMDB_RING_USER_LEN bytes of its
 * own in the header copies: vmdb_ring_set_user() stages them for the next
 * vmdb_ring_sync(), which makes them durable together with the positions;
 * vmdb_ring_user() copies out those of the newest valid copy in the file
 * now, which another handle may have synced since this one opened (or this
 * handle's staged ones, from a set until its next sync; a read-only
 * handle: those of its open). Both VMDB_ERANGE if len > VMDB_RING_USER_LEN.
 */
#define VMDB_RING_USER_LEN 64
VMDB_API int vmdb_ring_set_user(vmdb_ring *ring, const void *data, size_t len);
VMDB_API int vmdb_ring_user(const vmdb_ring *ring, void *dst, size_t len);

/* Discards every unread byte and moves both positions to `pos`, which
 * must not be below the tail (VMDB_ERANGE): how a log that found its own
 * end after a crash restarts there. Only while no other thread or process
 * uses the ring; durable at the next vmdb_ring_sync(). */
VMDB_API int vmdb_ring_reset(vmdb_ring *ring, uint64_t pos);

/* Puts a new, empty file ring of opts->cap bytes at `path`, in place of
 * the file there if any, its head and tail at `pos` and its header
 * holding `user` (user_len bytes, at most VMDB_RING_USER_LEN): built under
 * a temporary name, synced, renamed over `path` and the directory synced,
 * so that a crash leaves the old file or the new one, whole, and the new
 * one is durable when this returns. Handles that map the old file keep
 * mapping it, unlinked: telling them is the caller's business (a ring of
 * another size under the same name: the log growing). VMDB_EINVAL without
 * a cap, VMDB_ERANGE for too many user bytes, or what creating the file
 * returns. */
VMDB_API int vmdb_ring_replace(const char *path, const vmdb_ring_options *opts, uint64_t pos,
                               const void *user, size_t user_len);

#ifdef __cplusplus
}
#endif

#endif /* VMDB_RING_H */
