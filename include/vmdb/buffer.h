/* SPDX-License-Identifier: MIT */
/*
 * vmdb/buffer.h - a typed array and byte stream over a map.
 *
 * A buffer holds `capacity` elements of `elem_size` bytes each, contiguous
 * at vmdb_buffer_ptr(), in anonymous memory (vmdb_buffer_new), in a file
 * mapped in place (vmdb_buffer_open: every store is a store to the file),
 * or in anonymous memory filled from a file (vmdb_buffer_load).
 *
 * The same bytes can be used as a stream: a position (in bytes, from 0 to
 * the byte size) advances with vmdb_buffer_read/write; strings are stored
 * with a 4-byte little-endian length prefix.
 *
 * A buffer may grow in place up to options.max_count elements: the
 * pointer never moves (see vmdb/map.h), so element pointers stay valid.
 *
 * Thread safety: by default a buffer is as safe as plain memory (callers
 * synchronise). With VMDB_BUFFER_THREAD_SAFE every call takes the buffer's
 * lock, and vmdb_buffer_lock/unlock group several calls into one atomic
 * step (the lock is recursive). Pointers handed out are not protected by
 * the lock once the call returns.
 */
#ifndef VMDB_BUFFER_H
#define VMDB_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "map.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmdb_buffer vmdb_buffer;

enum vmdb_buffer_flag {
    VMDB_BUFFER_THREAD_SAFE = 1u << 0, /* every call takes the buffer's lock */
    VMDB_BUFFER_READONLY = 1u << 1,    /* vmdb_buffer_open: map the file
                                          read-only; writes get
                                          VMDB_EREADONLY */
};

/* Options for the constructors; the zero value (or
 * VMDB_BUFFER_OPTIONS_INIT) is a fixed-size, unlocked, writable buffer
 * with ordinary pages. */
typedef struct vmdb_buffer_options {
    unsigned version; /* VMDB_BUFFER_OPTIONS_VERSION (the _INIT macro sets it), or 0 */
    unsigned flags;        /* enum vmdb_buffer_flag bits */
    uint64_t max_count;    /* elements the buffer may grow to in place; 0
                              or less than the capacity means no growth */
    unsigned map_flags;    /* VMDB_MAP_POPULATE, VMDB_MAP_LOCK */
    enum vmdb_advice advice;
    enum vmdb_huge huge;
} vmdb_buffer_options;

#define VMDB_BUFFER_OPTIONS_VERSION 1
#ifdef __cplusplus /* no designated initializers before C++20 */
#define VMDB_BUFFER_OPTIONS_INIT {VMDB_BUFFER_OPTIONS_VERSION}
#else
#define VMDB_BUFFER_OPTIONS_INIT {.version = VMDB_BUFFER_OPTIONS_VERSION}
#endif

/* An anonymous, zero-filled buffer of `count` elements. Close it with
 * vmdb_buffer_close(). */
VMDB_API int vmdb_buffer_new(size_t elem_size, uint64_t count,
                             const vmdb_buffer_options *opts,
                             vmdb_buffer **out);

/*
 * A buffer mapped onto `path` in place. A missing file is created with
 * `count` zeroed elements. An existing file must hold a whole number of
 * elements (VMDB_EBADSIZE otherwise, naming the file and both sizes); it
 * is extended to `count` elements if shorter and kept whole if longer, so
 * the capacity is the larger of the two. count 0 opens the file as it is.
 * Close it with vmdb_buffer_close().
 */
VMDB_API int vmdb_buffer_open(const char *path, size_t elem_size,
                              uint64_t count, const vmdb_buffer_options *opts,
                              vmdb_buffer **out);

/* A new anonymous buffer holding a copy of the file at `path`, which must
 * hold a whole number of elements (VMDB_EBADSIZE). Later changes to the
 * buffer do not touch the file. Close it with vmdb_buffer_close(). */
VMDB_API int vmdb_buffer_load(const char *path, size_t elem_size,
                              const vmdb_buffer_options *opts,
                              vmdb_buffer **out);

/* Writes all capacity * elem_size bytes to `path`, atomically: a crash
 * leaves either the old file or the new one, never a mix. */
VMDB_API int vmdb_buffer_save(vmdb_buffer *buf, const char *path);

/* Releases a buffer, however it was made; accepts NULL. Does not flush. */
VMDB_API void vmdb_buffer_close(vmdb_buffer *buf);

VMDB_API size_t vmdb_buffer_elem_size(const vmdb_buffer *buf);
VMDB_API uint64_t vmdb_buffer_capacity(const vmdb_buffer *buf); /* elements */
VMDB_API uint64_t vmdb_buffer_byte_size(const vmdb_buffer *buf); /* bytes */
/* The first element; valid until the buffer is freed, across growth. */
VMDB_API void *vmdb_buffer_ptr(const vmdb_buffer *buf);
/* The map underneath, for vmdb_map_advise(), vmdb_map_stat() and friends;
 * owned by the buffer. */
VMDB_API vmdb_map *vmdb_buffer_map(const vmdb_buffer *buf);

/* Bounds-checked element access: VMDB_ERANGE when index >= capacity. */
VMDB_API int vmdb_buffer_get(vmdb_buffer *buf, uint64_t index, void *dst);
VMDB_API int vmdb_buffer_set(vmdb_buffer *buf, uint64_t index,
                             const void *src);
/* *ptr = address of element `index` (NULL on error). */
VMDB_API int vmdb_buffer_at(vmdb_buffer *buf, uint64_t index, void **ptr);

/* Grows the capacity to `count` elements in place (zero-filled);
 * VMDB_EFULL beyond max_count, VMDB_EINVAL to shrink. */
VMDB_API int vmdb_buffer_grow(vmdb_buffer *buf, uint64_t count);

/* Stream position in bytes. */
VMDB_API uint64_t vmdb_buffer_tell(vmdb_buffer *buf);
/* whence is SEEK_SET, SEEK_CUR or SEEK_END; the new position must lie in
 * [0, byte size] (VMDB_ERANGE). *pos (may be NULL) gets the new position. */
VMDB_API int vmdb_buffer_seek(vmdb_buffer *buf, int64_t off, int whence,
                              uint64_t *pos);
/* True when the position is at the byte size: nothing left to read. */
VMDB_API bool vmdb_buffer_eos(vmdb_buffer *buf);

/* Copies up to len bytes from the position into dst and advances; *nread
 * is less than len only at the end of the stream. */
VMDB_API int vmdb_buffer_read(vmdb_buffer *buf, void *dst, size_t len,
                              size_t *nread);
/* As vmdb_buffer_read, but all len bytes or nothing (VMDB_ERANGE). */
VMDB_API int vmdb_buffer_read_exact(vmdb_buffer *buf, void *dst, size_t len);
/* Writes len bytes at the position and advances. All or nothing: a write
 * that does not fit grows the buffer (up to max_count) or fails with
 * VMDB_ERANGE, writing nothing. */
VMDB_API int vmdb_buffer_write(vmdb_buffer *buf, const void *src, size_t len);

/* Writes a 4-byte little-endian length and then the len bytes of s (which
 * need no NUL). len must be below 2^32. */
VMDB_API int vmdb_buffer_write_str(vmdb_buffer *buf, const char *s,
                                   size_t len);
/*
 * Reads a string written by vmdb_buffer_write_str into dst, NUL-terminated.
 * *len gets its length. If cap < length + 1 nothing is consumed and the
 * call fails with VMDB_ERANGE, *len still telling the length. A prefix
 * claiming more bytes than remain is VMDB_ECORRUPT.
 */
VMDB_API int vmdb_buffer_read_str(vmdb_buffer *buf, char *dst, size_t cap,
                                  size_t *len);
/* As vmdb_buffer_read_str without a copy: *s points into the buffer (not
 * NUL-terminated) and stays valid while the buffer does. */
VMDB_API int vmdb_buffer_view_str(vmdb_buffer *buf, const char **s,
                                  size_t *len);

/* Writes a file-backed buffer's bytes to disk (anonymous: nothing to do). */
VMDB_API int vmdb_buffer_flush(vmdb_buffer *buf, enum vmdb_flush how);

/* Group calls under the lock of a VMDB_BUFFER_THREAD_SAFE buffer (no-ops
 * for others). The lock is recursive. */
VMDB_API void vmdb_buffer_lock(vmdb_buffer *buf);
VMDB_API void vmdb_buffer_unlock(vmdb_buffer *buf);

/* VMDB_EINVAL, naming both sizes, unless the buffer's elements are
 * elem_size bytes: the check behind the typed wrappers below. */
VMDB_API int vmdb_buffer_check_elem(const vmdb_buffer *buf, size_t elem_size);

/*
 * VMDB_BUFFER_TYPED(points, struct point) defines static inline wrappers
 * that take and return `struct point` instead of void *:
 *
 *   points_new(count, opts, &buf)      points_open(path, count, opts, &buf)
 *   points_load(path, opts, &buf)      points_data(buf) -> struct point *
 *   points_get(buf, i, &p)             points_set(buf, i, &p)
 *   points_at(buf, i, &ptr)            points_count(buf)
 *   points_write(buf, &p)              points_read(buf, &p)  (stream)
 *
 * Every wrapper that touches elements first checks that the buffer's
 * element size is sizeof(type), so a buffer of another type cannot be
 * read past its elements through them.
 */
#define VMDB_BUFFER_TYPED(prefix, type)                                        \
    static inline int prefix##_new(uint64_t count,                            \
                                   const vmdb_buffer_options *opts,           \
                                   vmdb_buffer **out)                         \
    {                                                                          \
        return vmdb_buffer_new(sizeof(type), count, opts, out);                \
    }                                                                          \
    static inline int prefix##_open(const char *path, uint64_t count,         \
                                    const vmdb_buffer_options *opts,          \
                                    vmdb_buffer **out)                        \
    {                                                                          \
        return vmdb_buffer_open(path, sizeof(type), count, opts, out);         \
    }                                                                          \
    static inline int prefix##_load(const char *path,                         \
                                    const vmdb_buffer_options *opts,          \
                                    vmdb_buffer **out)                        \
    {                                                                          \
        return vmdb_buffer_load(path, sizeof(type), opts, out);                \
    }                                                                          \
    static inline type *prefix##_data(vmdb_buffer *buf)                        \
    {                                                                          \
        return vmdb_buffer_elem_size(buf) == sizeof(type)                      \
                   ? (type *)vmdb_buffer_ptr(buf)                              \
                   : (type *)0;                                                \
    }                                                                          \
    static inline uint64_t prefix##_count(const vmdb_buffer *buf)             \
    {                                                                          \
        return vmdb_buffer_capacity(buf);                                      \
    }                                                                          \
    static inline int prefix##_get(vmdb_buffer *buf, uint64_t i, type *v)      \
    {                                                                          \
        int rc_ = vmdb_buffer_check_elem(buf, sizeof(type));                   \
        return rc_ ? rc_ : vmdb_buffer_get(buf, i, v);                         \
    }                                                                          \
    static inline int prefix##_set(vmdb_buffer *buf, uint64_t i,               \
                                   const type *v)                              \
    {                                                                          \
        int rc_ = vmdb_buffer_check_elem(buf, sizeof(type));                   \
        return rc_ ? rc_ : vmdb_buffer_set(buf, i, v);                         \
    }                                                                          \
    static inline int prefix##_at(vmdb_buffer *buf, uint64_t i, type **p)      \
    {                                                                          \
        void *q_ = (void *)0;                                                  \
        int rc_ = vmdb_buffer_check_elem(buf, sizeof(type));                   \
        if (!rc_)                                                              \
            rc_ = vmdb_buffer_at(buf, i, &q_);                                 \
        *p = (type *)q_;                                                       \
        return rc_;                                                            \
    }                                                                          \
    static inline int prefix##_write(vmdb_buffer *buf, const type *v)          \
    {                                                                          \
        int rc_ = vmdb_buffer_check_elem(buf, sizeof(type));                   \
        return rc_ ? rc_ : vmdb_buffer_write(buf, v, sizeof(type));            \
    }                                                                          \
    static inline int prefix##_read(vmdb_buffer *buf, type *v)                 \
    {                                                                          \
        int rc_ = vmdb_buffer_check_elem(buf, sizeof(type));                   \
        return rc_ ? rc_ : vmdb_buffer_read_exact(buf, v, sizeof(type));       \
    }

#ifdef __cplusplus
}
#endif

#endif /* VMDB_BUFFER_H */
