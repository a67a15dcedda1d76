/* SPDX-License-Identifier: MIT */
/*
 * engine/mem/buffer.c - typed array and byte stream over a map (vmdb/buffer.h).
 *
 * The buffer is a thin layer: the bytes are the map's, the capacity is the
 * map's length divided by the element size, and growth is the map's growth
 * in place. What the buffer adds is element arithmetic with bounds checks,
 * the stream position, and the optional lock.
 */
#include "vmdb/buffer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "os.h"

struct vmdb_buffer {
    vmdb_map *map;
    char *name;          /* the file's path or "anonymous buffer" */
    size_t elem_size;    /* bytes per element, > 0 */
    uint64_t count;      /* capacity, elements */
    uint64_t max_count;  /* growth limit, elements (>= count) */
    uint64_t pos;        /* stream position, bytes, <= count * elem_size */
    bool thread_safe;
    pthread_mutex_t lock;
};

static void lock(vmdb_buffer *b)
{
    if (b->thread_safe)
        pthread_mutex_lock(&b->lock);
}

static void unlock(vmdb_buffer *b)
{
    if (b->thread_safe)
        pthread_mutex_unlock(&b->lock);
}

void vmdb_buffer_lock(vmdb_buffer *b)
{
    if (b)
        lock(b);
}

void vmdb_buffer_unlock(vmdb_buffer *b)
{
    if (b)
        unlock(b);
}

void vmdb_buffer_close(vmdb_buffer *b)
{
    if (!b)
        return;
    vmdb_map_close(b->map);
    if (b->thread_safe)
        pthread_mutex_destroy(&b->lock);
    free(b->name);
    free(b);
}


static const vmdb_buffer_options default_options;

static int check_options(const char *name, size_t elem_size, const vmdb_buffer_options *o)
{
    int rc = vmdb__options_version(o->version, VMDB_BUFFER_OPTIONS_VERSION, name);
    if (rc < 0)
        return rc;
    if (elem_size == 0)
        return vmdb__fail(VMDB_EINVAL, "%s: element size must be at least 1 byte", name);
    if (o->flags & ~(unsigned)(VMDB_BUFFER_THREAD_SAFE | VMDB_BUFFER_READONLY))
        return vmdb__fail(VMDB_EINVAL, "%s: unknown buffer flag bits 0x%x", name, o->flags);
    if (o->map_flags & ~(unsigned)(VMDB_MAP_POPULATE | VMDB_MAP_LOCK))
        return vmdb__fail(VMDB_EINVAL, "%s: buffer map_flags accept POPULATE and LOCK only", name);
    return 0;
}

/* elements -> bytes, refusing products that do not fit in 64 bits */
static int bytes_for(const char *name, size_t elem_size, uint64_t count, uint64_t *bytes)
{
    if (count > UINT64_MAX / elem_size)
        return vmdb__fail(VMDB_ERANGE, "%s: %llu elements of %zu bytes overflow", name,
                          (unsigned long long)count, elem_size);
    *bytes = count * elem_size;
    return 0;
}

static vmdb_buffer *buffer_new(const char *name, size_t elem_size, const vmdb_buffer_options *o)
{
    vmdb_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->name = strdup(name);
    b->elem_size = elem_size;
    b->thread_safe = (o->flags & VMDB_BUFFER_THREAD_SAFE) != 0;
    if (b->thread_safe) {
        pthread_mutexattr_t attr;
        pthread_mutexattr_init(&attr);
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
        if (pthread_mutex_init(&b->lock, &attr) != 0)
            b->thread_safe = false, free(b->name), b->name = NULL;
        pthread_mutexattr_destroy(&attr);
    }
    if (!b->name) {
        free(b);
        return NULL;
    }
    return b;
}

/* Map options shared by all constructors: the address space reserved is
 * max_count elements, so growth never moves the pointer. */
static int map_options_for(vmdb_buffer *b, const vmdb_buffer_options *o, uint64_t count,
                           vmdb_map_options *mo)
{
    uint64_t max = o->max_count > count ? o->max_count : count;
    uint64_t len = 0, reserve = 0;
    int rc = bytes_for(b->name, b->elem_size, count, &len);
    if (rc == 0)
        rc = bytes_for(b->name, b->elem_size, max, &reserve);
    if (rc < 0)
        return rc;
    *mo = (vmdb_map_options){
        .len = len,
        /* A map needs at least one reserved page even for 0 elements. */
        .reserve = reserve ? reserve : 1,
        .flags = o->map_flags,
        .advice = o->advice,
        .huge = o->huge,
    };
    b->count = count;
    b->max_count = max;
    return 0;
}

int vmdb_buffer_new(size_t elem_size, uint64_t count, const vmdb_buffer_options *opts,
                    vmdb_buffer **out)
{
    const vmdb_buffer_options *o = opts ? opts : &default_options;
    const char *name = "anonymous buffer";
    if (out)
        *out = NULL;
    if (!out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_new: out is required");
    int rc = check_options(name, elem_size, o);
    if (rc < 0)
        return rc;
    if (o->flags & VMDB_BUFFER_READONLY)
        return vmdb__fail(VMDB_EINVAL, "%s: VMDB_BUFFER_READONLY applies to files", name);
    vmdb_buffer *b = buffer_new(name, elem_size, o);
    if (!b)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", name);
    vmdb_map_options mo;
    rc = map_options_for(b, o, count, &mo);
    if (rc == 0)
        rc = vmdb_map_anon(&mo, &b->map);
    if (rc < 0) {
        vmdb_buffer_close(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* The number of whole elements in a file of `size` bytes, or VMDB_EBADSIZE
 * naming the file: a torn or foreign file must not be read as elements. */
static int whole_elements(const char *path, uint64_t size, size_t elem_size, uint64_t *count)
{
    if (size % elem_size)
        return vmdb__fail(VMDB_EBADSIZE,
                          "%s: file size %llu is not a multiple of the element size %zu",
                          path, (unsigned long long)size, elem_size);
    *count = size / elem_size;
    return 0;
}

int vmdb_buffer_open(const char *path, size_t elem_size, uint64_t count,
                     const vmdb_buffer_options *opts, vmdb_buffer **out)
{
    const vmdb_buffer_options *o = opts ? opts : &default_options;
    if (out)
        *out = NULL;
    if (!path || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_open: path and out are required");
    int rc = check_options(path, elem_size, o);
    if (rc < 0)
        return rc;
    bool readonly = (o->flags & VMDB_BUFFER_READONLY) != 0;
    uint64_t have = 0;
    vmdb__os_stat st;
    rc = vmdb__os_stat_path(path, &st);
    if (rc == 0) {
        if (!st.is_regular)
            return vmdb__fail(VMDB_EINVAL, "%s: not a regular file", path);
        rc = whole_elements(path, st.size, elem_size, &have);
        if (rc < 0)
            return rc;
    } else if (rc != -ENOENT /* a missing file is created below */ || readonly) {
        return vmdb__fail_os(rc, "%s: cannot open", path);
    }
    if (readonly && count > have)
        return vmdb__fail(VMDB_ERANGE, "%s: holds %llu elements, %llu asked of a read-only buffer",
                          path, (unsigned long long)have, (unsigned long long)count);
    vmdb_buffer *b = buffer_new(path, elem_size, o);
    if (!b)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    vmdb_map_options mo;
    rc = map_options_for(b, o, count > have ? count : have, &mo);
    if (rc == 0) {
        mo.mode = readonly ? VMDB_MAP_READ : VMDB_MAP_WRITE;
        if (!readonly)
            mo.flags |= VMDB_MAP_CREATE;
        rc = vmdb_map_open(path, &mo, &b->map);
    }
    if (rc < 0) {
        vmdb_buffer_close(b);
        return rc;
    }
    *out = b;
    return 0;
}

int vmdb_buffer_load(const char *path, size_t elem_size, const vmdb_buffer_options *opts,
                     vmdb_buffer **out)
{
    const vmdb_buffer_options *o = opts ? opts : &default_options;
    if (out)
        *out = NULL;
    if (!path || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_load: path and out are required");
    int rc = check_options(path, elem_size, o);
    if (rc < 0)
        return rc;
    int fd;
    rc = vmdb__os_open(path, VMDB__OS_RDONLY, 0, &fd);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot open", path);
    vmdb__os_stat st;
    uint64_t count = 0;
    vmdb_buffer *b = NULL;
    rc = vmdb__os_fstat(fd, &st);
    if (rc < 0)
        rc = vmdb__fail_os(rc, "%s: fstat", path);
    else if (!st.is_regular)
        rc = vmdb__fail(VMDB_EINVAL, "%s: not a regular file", path);
    else
        rc = whole_elements(path, st.size, elem_size, &count);
    if (rc == 0) {
        vmdb_buffer_options anon = *o;
        anon.flags &= ~(unsigned)VMDB_BUFFER_READONLY;
        rc = vmdb_buffer_new(elem_size, count, &anon, &b);
    }
    if (rc == 0 && st.size) {
        rc = vmdb__os_pread_all(fd, vmdb_buffer_ptr(b), (size_t)st.size, 0);
        if (rc < 0)
            rc = vmdb__fail_os(rc, "%s: cannot read %llu bytes", path, (unsigned long long)st.size);
    }
    vmdb__os_close(fd);
    if (rc < 0) {
        vmdb_buffer_close(b);
        return rc;
    }
    if (b) {
        free(b->name);
        b->name = strdup(path);
        if (!b->name) {
            vmdb_buffer_close(b);
            return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
        }
    }
    *out = b;
    return 0;
}

/* Write to a temporary file, make it durable, then rename it over the
 * target and make the rename durable: at every instant the target is
 * either the complete old file or the complete new one. */
int vmdb_buffer_save(vmdb_buffer *b, const char *path)
{
    if (!b || !path)
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_save: buffer and path are required");
    size_t n = strlen(path);
    char *tmp = malloc(n + sizeof ".vmdb-save");
    if (!tmp)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".vmdb-save", sizeof ".vmdb-save");
    lock(b);
    int fd = -1;
    int rc = vmdb__os_open(tmp, VMDB__OS_RDWR | VMDB__OS_CREATE | VMDB__OS_TRUNC, 0644, &fd);
    if (rc < 0) {
        rc = vmdb__fail_os(rc, "%s: cannot create", tmp);
        goto out;
    }
    uint64_t bytes = b->count * b->elem_size;
    rc = vmdb__os_pwrite_all(fd, vmdb_map_ptr(b->map), (size_t)bytes, 0);
    if (rc < 0) {
        rc = vmdb__fail_os(rc, "%s: cannot write %llu bytes", tmp, (unsigned long long)bytes);
        goto out;
    }
    rc = vmdb__os_sync(fd, true);
    if (rc < 0) {
        rc = vmdb__fail_os(rc, "%s: fdatasync", tmp);
        goto out;
    }
    rc = vmdb__os_rename(tmp, path);
    if (rc < 0) {
        rc = vmdb__fail_os(rc, "%s: cannot rename %s over it", path, tmp);
        goto out;
    }
    rc = vmdb__os_sync_dir_of(path);
    if (rc < 0)
        rc = vmdb__fail_os(rc, "%s: fsync of its directory", path);
out:
    unlock(b);
    if (fd >= 0)
        vmdb__os_close(fd);
    if (rc < 0)
        vmdb__os_unlink(tmp);
    free(tmp);
    return rc;
}

size_t vmdb_buffer_elem_size(const vmdb_buffer *b)
{
    return b ? b->elem_size : 0;
}

uint64_t vmdb_buffer_capacity(const vmdb_buffer *b)
{
    return b ? __atomic_load_n(&b->count, __ATOMIC_ACQUIRE) : 0;
}

uint64_t vmdb_buffer_byte_size(const vmdb_buffer *b)
{
    return b ? vmdb_buffer_capacity(b) * b->elem_size : 0;
}

void *vmdb_buffer_ptr(const vmdb_buffer *b)
{
    return b ? vmdb_map_ptr(b->map) : NULL;
}

vmdb_map *vmdb_buffer_map(const vmdb_buffer *b)
{
    return b ? b->map : NULL;
}

int vmdb_buffer_check_elem(const vmdb_buffer *b, size_t elem_size)
{
    if (!b)
        return vmdb__fail(VMDB_EINVAL, "buffer is NULL");
    if (b->elem_size != elem_size)
        return vmdb__fail(VMDB_EINVAL, "%s: elements are %zu bytes, the typed access wants %zu",
                          b->name, b->elem_size, elem_size);
    return 0;
}

static int index_error(const vmdb_buffer *b, uint64_t index)
{
    return vmdb__fail(VMDB_ERANGE, "%s: index %llu is out of range (capacity %llu)", b->name,
                      (unsigned long long)index, (unsigned long long)b->count);
}

int vmdb_buffer_get(vmdb_buffer *b, uint64_t index, void *dst)
{
    if (!b || !dst)
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_get: buffer and dst are required");
    lock(b);
    int rc = index < b->count ? vmdb_map_read(b->map, index * b->elem_size, dst, b->elem_size)
                              : index_error(b, index);
    unlock(b);
    return rc;
}

int vmdb_buffer_set(vmdb_buffer *b, uint64_t index, const void *src)
{
    if (!b || !src)
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_set: buffer and src are required");
    lock(b);
    int rc = index < b->count ? vmdb_map_write(b->map, index * b->elem_size, src, b->elem_size)
                              : index_error(b, index);
    unlock(b);
    return rc;
}

int vmdb_buffer_at(vmdb_buffer *b, uint64_t index, void **ptr)
{
    if (ptr)
        *ptr = NULL;
    if (!b || !ptr)
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_at: buffer and ptr are required");
    lock(b);
    int rc = index < b->count ? 0 : index_error(b, index);
    if (rc == 0)
        *ptr = (char *)vmdb_map_ptr(b->map) + index * b->elem_size;
    unlock(b);
    return rc;
}

static int grow_locked(vmdb_buffer *b, uint64_t count)
{
    if (count < b->count)
        return vmdb__fail(VMDB_EINVAL, "%s: cannot shrink from %llu to %llu elements", b->name,
                          (unsigned long long)b->count, (unsigned long long)count);
    if (count > b->max_count)
        return vmdb__fail(VMDB_EFULL, "%s: cannot grow to %llu elements: max_count is %llu",
                          b->name, (unsigned long long)count, (unsigned long long)b->max_count);
    int rc = vmdb_map_grow(b->map, count * b->elem_size);
    if (rc == 0)
        __atomic_store_n(&b->count, count, __ATOMIC_RELEASE);
    return rc;
}

int vmdb_buffer_grow(vmdb_buffer *b, uint64_t count)
{
    if (!b)
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_grow: buffer is required");
    lock(b);
    int rc = grow_locked(b, count);
    unlock(b);
    return rc;
}

uint64_t vmdb_buffer_tell(vmdb_buffer *b)
{
    if (!b)
        return 0;
    lock(b);
    uint64_t pos = b->pos;
    unlock(b);
    return pos;
}

int vmdb_buffer_seek(vmdb_buffer *b, int64_t off, int whence, uint64_t *pos)
{
    if (!b)
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_seek: buffer is required");
    lock(b);
    uint64_t size = b->count * b->elem_size;
    int64_t base;
    int rc = 0;
    switch (whence) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)b->pos;
        break;
    case SEEK_END:
        base = (int64_t)size;
        break;
    default:
        rc = vmdb__fail(VMDB_EINVAL, "%s: whence %d is not SEEK_SET, SEEK_CUR or SEEK_END",
                        b->name, whence);
        goto out;
    }
    if ((off < 0 && -(off + 1) >= base) || (off > 0 && (uint64_t)off > size - (uint64_t)base)) {
        rc = vmdb__fail(VMDB_ERANGE, "%s: seek to %lld%+lld leaves the stream [0, %llu]", b->name,
                        (long long)base, (long long)off, (unsigned long long)size);
        goto out;
    }
    b->pos = (uint64_t)(base + off);
    if (pos)
        *pos = b->pos;
out:
    unlock(b);
    return rc;
}

bool vmdb_buffer_eos(vmdb_buffer *b)
{
    if (!b)
        return true;
    lock(b);
    bool end = b->pos >= b->count * b->elem_size;
    unlock(b);
    return end;
}

int vmdb_buffer_read(vmdb_buffer *b, void *dst, size_t len, size_t *nread)
{
    if (nread)
        *nread = 0;
    if (!b || (!dst && len) || !nread)
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_read: buffer, dst and nread are required");
    lock(b);
    uint64_t left = b->count * b->elem_size - b->pos;
    size_t n = len < left ? len : (size_t)left;
    memcpy(dst, (char *)vmdb_map_ptr(b->map) + b->pos, n);
    b->pos += n;
    *nread = n;
    unlock(b);
    return 0;
}

int vmdb_buffer_read_exact(vmdb_buffer *b, void *dst, size_t len)
{
    if (!b || (!dst && len))
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_read_exact: buffer and dst are required");
    lock(b);
    int rc = 0;
    uint64_t left = b->count * b->elem_size - b->pos;
    if (len > left) {
        rc = vmdb__fail(VMDB_ERANGE, "%s: read of %zu bytes at position %llu: only %llu remain",
                        b->name, len, (unsigned long long)b->pos, (unsigned long long)left);
    } else {
        memcpy(dst, (char *)vmdb_map_ptr(b->map) + b->pos, len);
        b->pos += len;
    }
    unlock(b);
    return rc;
}

/* Makes room for `len` bytes at the position, growing (doubling, capped
 * by max_count) when allowed. */
static int make_room(vmdb_buffer *b, uint64_t len)
{
    uint64_t size = b->count * b->elem_size;
    if (len <= size - b->pos)
        return 0;
    uint64_t need_bytes = b->pos + len;
    uint64_t need = need_bytes / b->elem_size + (need_bytes % b->elem_size != 0);
    if (len > UINT64_MAX - b->pos || need > b->max_count)
        return vmdb__fail(VMDB_ERANGE,
                          "%s: write of %llu bytes at position %llu does not fit "
                          "(%llu bytes, max_count %llu elements)",
                          b->name, (unsigned long long)len, (unsigned long long)b->pos,
                          (unsigned long long)size, (unsigned long long)b->max_count);
    uint64_t doubled = b->count > b->max_count / 2 ? b->max_count : b->count * 2;
    return grow_locked(b, need > doubled ? need : doubled);
}

int vmdb_buffer_write(vmdb_buffer *b, const void *src, size_t len)
{
    if (!b || (!src && len))
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_write: buffer and src are required");
    lock(b);
    int rc = make_room(b, len);
    if (rc == 0)
        rc = vmdb_map_write(b->map, b->pos, src, len);
    if (rc == 0)
        b->pos += len;
    unlock(b);
    return rc;
}

int vmdb_buffer_write_str(vmdb_buffer *b, const char *s, size_t len)
{
    if (!b || (!s && len))
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_write_str: buffer and s are required");
    if (len > UINT32_MAX)
        return vmdb__fail(VMDB_EINVAL, "%s: string of %zu bytes exceeds the 4 GiB prefix",
                          b->name, len);
    unsigned char prefix[4] = {(unsigned char)len, (unsigned char)(len >> 8),
                               (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
    lock(b);
    /* Room for both first, so a failure writes neither. */
    int rc = make_room(b, sizeof prefix + (uint64_t)len);
    if (rc == 0)
        rc = vmdb_map_write(b->map, b->pos, prefix, sizeof prefix);
    if (rc == 0)
        rc = vmdb_map_write(b->map, b->pos + sizeof prefix, s, len);
    if (rc == 0)
        b->pos += sizeof prefix + len;
    unlock(b);
    return rc;
}

/* Decodes the string at the position without consuming it. */
static int peek_str(vmdb_buffer *b, const char **s, size_t *len)
{
    uint64_t left = b->count * b->elem_size - b->pos;
    const unsigned char *p = (const unsigned char *)vmdb_map_ptr(b->map) + b->pos;
    if (left < 4)
        return vmdb__fail(VMDB_ERANGE, "%s: no string at position %llu: end of stream", b->name,
                          (unsigned long long)b->pos);
    uint32_t n = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (n > left - 4)
        return vmdb__fail(VMDB_ECORRUPT,
                          "%s: string at position %llu claims %u bytes, only %llu remain", b->name,
                          (unsigned long long)b->pos, n, (unsigned long long)(left - 4));
    *s = (const char *)p + 4;
    *len = n;
    return 0;
}

int vmdb_buffer_read_str(vmdb_buffer *b, char *dst, size_t cap, size_t *len)
{
    if (len)
        *len = 0;
    if (!b || !len || (!dst && cap))
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_read_str: buffer, dst and len are required");
    lock(b);
    const char *s;
    size_t n;
    int rc = peek_str(b, &s, &n);
    if (rc == 0) {
        *len = n;
        if (cap < n + 1) {
            rc = vmdb__fail(VMDB_ERANGE, "%s: string of %zu bytes at position %llu needs %zu "
                                         "bytes of room, %zu given",
                            b->name, n, (unsigned long long)b->pos, n + 1, cap);
        } else {
            memcpy(dst, s, n);
            dst[n] = '\0';
            b->pos += 4 + n;
        }
    }
    unlock(b);
    return rc;
}

int vmdb_buffer_view_str(vmdb_buffer *b, const char **s, size_t *len)
{
    if (s)
        *s = NULL;
    if (len)
        *len = 0;
    if (!b || !s || !len)
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_view_str: buffer, s and len are required");
    lock(b);
    int rc = peek_str(b, s, len);
    if (rc == 0)
        b->pos += 4 + *len;
    unlock(b);
    return rc;
}

int vmdb_buffer_flush(vmdb_buffer *b, enum vmdb_flush how)
{
    if (!b)
        return vmdb__fail(VMDB_EINVAL, "vmdb_buffer_flush: buffer is required");
    lock(b);
    int rc = b->count ? vmdb_map_flush(b->map, 0, 0, how) : 0;
    unlock(b);
    return rc;
}
