/* SPDX-License-Identifier: MIT */
/*
 * vmdb/map.h - memory maps of a file region or of anonymous memory.
 *
 * A vmdb_map is one contiguous range of bytes at a pointer that does not
 * move when the map grows: at open the map reserves `reserve` bytes of
 * address space (no memory, no disk), maps the first `len` of them, and
 * vmdb_map_grow() maps more inside the same reservation. Other threads may
 * keep reading through the pointer while a map grows; they never see a
 * remap. A VMDB_MAP_MOVABLE map moves instead of failing when it outgrows
 * its reservation, and pointers into its old place stay good until close.
 *
 * File maps own a duplicate of the file descriptor they were opened from,
 * so the caller's descriptor may be closed at once. A file map may start at
 * any offset: the page alignment the kernel wants is handled inside, and
 * vmdb_map_ptr() points at the byte requested.
 *
 * Bytes past vmdb_map_len() are never accessible, even on the last page:
 * touching them is a bug that the reservation turns into SIGSEGV.
 */
#ifndef VMDB_MAP_H
#define VMDB_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmdb_map vmdb_map;

/* Access mode. The zero value is read-only for a file map and read-write
 * for anonymous memory. */
enum vmdb_map_mode {
    VMDB_MAP_DEFAULT = 0,
    VMDB_MAP_READ,    /* read-only */
    VMDB_MAP_WRITE,   /* read-write; stores reach the file (MAP_SHARED) */
    VMDB_MAP_PRIVATE, /* read-write copy-on-write; the file never changes */
};

/* Open flags (vmdb_map_options.flags); 0 is the default for each. */
enum vmdb_map_flag {
    /* Create the file if it is missing and extend it to offset + len if it
     * is shorter, reserving its disk blocks. */
    VMDB_MAP_CREATE = 1u << 0,
    /* With VMDB_MAP_CREATE: fail with VMDB_EEXIST if the file exists. */
    VMDB_MAP_EXCL = 1u << 1,
    /* Pre-fault every page at open and at growth (MAP_POPULATE), so the
     * first touch costs no page fault. */
    VMDB_MAP_POPULATE = 1u << 2,
    /* Lock the pages in RAM (mlock); fails if RLIMIT_MEMLOCK is too low. */
    VMDB_MAP_LOCK = 1u << 3,
    /* Open the file read-write even for a read-only map, so that
     * vmdb_map_protect() can make it writable later. */
    VMDB_MAP_UPGRADABLE = 1u << 4,
    /* Anonymous memory shared with child processes forked later
     * (MAP_SHARED) instead of private to this process. */
    VMDB_MAP_SHARED = 1u << 5,
    /* Take less room to grow rather than fail where `reserve` bytes of
     * address space are refused (ulimit -v, overcommit, valgrind's 32 GiB):
     * a quarter, then a quarter of that, down to len. vmdb_map_stat()
     * tells what was reserved. */
    VMDB_MAP_RESERVE_SHRINK = 1u << 6,
    /* A shared file map (READ or WRITE mode) that grows past its
     * reservation moves instead of failing with VMDB_EFULL: it reserves
     * four times the new length elsewhere, maps the file there and
     * vmdb_map_ptr() returns the new place. The old place stays mapped
     * until vmdb_map_close(); it maps the same file pages, so pointers
     * into it go on reading the current bytes. At open the map reserves
     * four times len (at least `reserve`); the places left behind add
     * up to less than a third of the current reservation. A thread reading while
     * another grows the map loads vmdb_map_len() before vmdb_map_ptr():
     * the pointer then covers the length. VMDB_EINVAL for private and
     * anonymous maps. */
    VMDB_MAP_MOVABLE = 1u << 7,
};

/* Access-pattern advice (madvise). */
enum vmdb_advice {
    VMDB_ADVICE_NORMAL = 0,
    VMDB_ADVICE_SEQUENTIAL, /* aggressive read-ahead, early drop behind */
    VMDB_ADVICE_RANDOM,     /* no read-ahead; also keeps write-back per page */
    VMDB_ADVICE_WILLNEED,   /* start reading the range in now (prefetch) */
    VMDB_ADVICE_DONTNEED,   /* drop the pages from this map; a private map
                               loses its unsaved changes */
};

/* What huge pages to ask for (vmdb_map_options.huge). */
enum vmdb_huge {
    VMDB_HUGE_OFF = 0, /* ordinary pages; the kernel's defaults apply */
    /* The best the system offers, never failing: hugetlb pages for
     * anonymous memory when the pool has enough free, else transparent huge
     * page advice, else ordinary pages. */
    VMDB_HUGE_TRY,
    /* Anonymous maps: hugetlb pages or VMDB_EUNSUPPORTED. File maps:
     * transparent huge page advice accepted or VMDB_EUNSUPPORTED. */
    VMDB_HUGE_REQUIRE,
};

/* Which kind of pages a map got (vmdb_map_info.pages). */
enum vmdb_pages {
    VMDB_PAGES_NORMAL = 0,
    VMDB_PAGES_THP,     /* transparent huge pages advised; the kernel uses
                           them where it can (see vmdb_map_huge_bytes) */
    VMDB_PAGES_HUGETLB, /* reserved huge pages from the hugetlb pool */
};

/* How vmdb_map_flush() waits. */
enum vmdb_flush {
    VMDB_FLUSH_SYNC = 0, /* write back and wait until the disk has it */
    VMDB_FLUSH_ASYNC,    /* start write-back and return */
};

/*
 * Options for vmdb_map_open(), vmdb_map_open_fd() and vmdb_map_anon().
 * The zero value ({0} or VMDB_MAP_OPTIONS_INIT) maps the whole file
 * read-only with ordinary pages, no advice and no room to grow.
 */
typedef struct vmdb_map_options {
    unsigned version; /* VMDB_MAP_OPTIONS_VERSION (the _INIT macro sets it), or 0 */
    uint64_t offset;  /* file offset in bytes; any alignment; ignored for
                         anonymous memory */
    uint64_t len;     /* bytes to map; 0 means from offset to the end of the
                         file (required for anonymous memory unless reserve
                         is given) */
    uint64_t reserve; /* bytes of address space to reserve for growth in
                         place; 0 or less than len means exactly len */
    unsigned flags;   /* enum vmdb_map_flag bits */
    unsigned perm;    /* permission bits for a created file; 0 means 0644 */
    enum vmdb_map_mode mode;
    enum vmdb_advice advice;
    enum vmdb_huge huge;
} vmdb_map_options;

#define VMDB_MAP_OPTIONS_VERSION 1
#ifdef __cplusplus /* no designated initializers before C++20 */
#define VMDB_MAP_OPTIONS_INIT {VMDB_MAP_OPTIONS_VERSION}
#else
#define VMDB_MAP_OPTIONS_INIT {.version = VMDB_MAP_OPTIONS_VERSION}
#endif

/* A snapshot of a map's state (vmdb_map_stat()). */
typedef struct vmdb_map_info {
    const char *path;    /* the file's path, or NULL for anonymous memory;
                            valid while the map is open */
    uint64_t offset;     /* file offset of vmdb_map_ptr(), bytes */
    uint64_t len;        /* accessible bytes */
    uint64_t reserved;   /* bytes the map can grow to in place */
    size_t page_size;    /* granule of the mapping: 4 KiB, or the huge page
                            size for hugetlb memory */
    enum vmdb_map_mode mode; /* READ, WRITE or PRIVATE, never DEFAULT */
    enum vmdb_pages pages;
    enum vmdb_advice advice;
    bool anonymous;
    bool locked;
    bool populated;
    bool poisoned;
} vmdb_map_info;

/*
 * Maps `path`. Errors: VMDB_ENOENT (missing file without VMDB_MAP_CREATE),
 * VMDB_EEXIST (VMDB_MAP_EXCL), VMDB_EACCES, VMDB_EINVAL (bad options, not a
 * regular file), VMDB_ERANGE (offset or offset + len beyond the end of the
 * file without VMDB_MAP_CREATE), VMDB_ENOSPC (no disk for the created
 * length), VMDB_ENOMEM, VMDB_EUNSUPPORTED (VMDB_HUGE_REQUIRE).
 * `opts` may be NULL for the defaults. *out is NULL unless this succeeds.
 */
VMDB_API int vmdb_map_open(const char *path, const vmdb_map_options *opts,
                           vmdb_map **out);

/* As vmdb_map_open(), for a descriptor the caller already has open; the map
 * keeps its own duplicate. VMDB_MAP_CREATE extends but cannot create. */
VMDB_API int vmdb_map_open_fd(int fd, const vmdb_map_options *opts,
                              vmdb_map **out);

/* Maps anonymous, zero-filled memory of opts->len bytes. */
VMDB_API int vmdb_map_anon(const vmdb_map_options *opts, vmdb_map **out);

/* Unmaps and closes. Does not flush: call vmdb_map_flush() first if the
 * bytes must be on disk (the kernel writes them back eventually anyway).
 * Accepts NULL. */
VMDB_API void vmdb_map_close(vmdb_map *map);

/* The first byte of the map. Stable until vmdb_map_close(), across growth,
 * except that a VMDB_MAP_MOVABLE map's moves to a new place (where the old
 * pointer stays good until close). Writing through it is allowed only in VMDB_MAP_WRITE/PRIVATE mode (and
 * for anonymous maps); writing a read-only map raises SIGSEGV, which is why
 * vmdb_map_write() exists for callers who want an error instead. */
VMDB_API void *vmdb_map_ptr(const vmdb_map *map);

/* Accessible bytes. Safe to call from any thread while another grows the
 * map: it returns the length before or after the growth, never between. */
VMDB_API uint64_t vmdb_map_len(const vmdb_map *map);

VMDB_API int vmdb_map_stat(const vmdb_map *map, vmdb_map_info *info);

/* Bounds-checked copies. VMDB_ERANGE if [off, off+len) leaves the map,
 * VMDB_EREADONLY for a write to a read-only map, VMDB_EPOISONED after a
 * failed flush. */
VMDB_API int vmdb_map_read(const vmdb_map *map, uint64_t off, void *dst,
                           size_t len);
VMDB_API int vmdb_map_write(vmdb_map *map, uint64_t off, const void *src,
                            size_t len);

/*
 * Writes [off, off+len) back to the file; len 0 means to the end. SYNC
 * returns when the disk has the bytes. A failed SYNC flush poisons the
 * map: Linux marks the pages clean after failed write-back, so a retry
 * would "succeed" with the data lost; every later write, flush or growth
 * returns VMDB_EPOISONED until the file is reopened. Anonymous and private
 * maps have nothing to write back and return 0.
 */
VMDB_API int vmdb_map_flush(vmdb_map *map, uint64_t off, uint64_t len,
                            enum vmdb_flush how);

/* Gives the disk blocks under [off, off+len) back to the file system,
 * whole pages only (the range is rounded inwards to the page size); the
 * file keeps its length and the range reads as zeros from then on, here
 * and in every other map of the file. For space a file no longer uses
 * (vmdb's index gives back the arrays it outgrew). A file system that
 * cannot leaves the bytes as they are, and this returns 0; so does a
 * tmpfs, where a read of a punched page through a map takes memory again
 * (and on a full tmpfs is a SIGBUS). */
VMDB_API int vmdb_map_punch(vmdb_map *map, uint64_t off, uint64_t len);

/* Gives access-pattern advice for [off, off+len); len 0 means to the end.
 * The advice given at open also applies to ranges added by growth. */
VMDB_API int vmdb_map_advise(vmdb_map *map, uint64_t off, uint64_t len,
                             enum vmdb_advice advice);

/* Switches a map between VMDB_MAP_READ and VMDB_MAP_WRITE in place. A file
 * map can become writable only if its file was opened read-write
 * (VMDB_MAP_WRITE, VMDB_MAP_CREATE or VMDB_MAP_UPGRADABLE): VMDB_EACCES
 * otherwise. A private map cannot change mode (VMDB_EINVAL). */
VMDB_API int vmdb_map_protect(vmdb_map *map, enum vmdb_map_mode mode);

/*
 * Grows the map to new_len bytes in place: vmdb_map_ptr() does not change
 * (unless a VMDB_MAP_MOVABLE map outgrows its reservation and moves).
 * A writable file map first reserves the disk blocks (fallocate), so a
 * full disk is VMDB_ENOSPC here rather than SIGBUS at a later store; a
 * read-only or private file map can only follow a file that someone else
 * has grown (VMDB_ERANGE otherwise). VMDB_EFULL past the reservation,
 * VMDB_EINVAL for new_len < len (maps never shrink in place).
 */
VMDB_API int vmdb_map_grow(vmdb_map *map, uint64_t new_len);

/* Makes room for the map to grow to `bytes` where it is: a
 * VMDB_MAP_MOVABLE map whose reservation is shorter moves now (mapping
 * what it maps today), so that pages mapped past its length by hand stay
 * inside the reservation; other maps fail with VMDB_EFULL. */
VMDB_API int vmdb_map_make_room(vmdb_map *map, uint64_t bytes);

/* Locks the map's pages in RAM (on) or unlocks them (off). */
VMDB_API int vmdb_map_lock_ram(vmdb_map *map, bool on);

/* Bytes of the map backed by huge pages at this moment, as the kernel
 * reports them: the answer to "did I get huge pages?". */
VMDB_API int vmdb_map_huge_bytes(const vmdb_map *map, uint64_t *bytes);

/* Bytes of the map resident in memory at this moment. */
VMDB_API int vmdb_map_resident_bytes(const vmdb_map *map, uint64_t *bytes);

/* The system page size in bytes. */
VMDB_API size_t vmdb_page_size(void);

#ifdef __cplusplus
}
#endif

#endif /* VMDB_MAP_H */
