/* SPDX-License-Identifier: MIT */
/*
 * engine/mem/map.c - maps of file regions and anonymous memory (vmdb/map.h).
 *
 * Layout of a map in the address space:
 *
 *   region                       region + mapped_len     region + region_len
 *   |<- head ->|<------- len ------->|                          |
 *   [  mapped file or anonymous pages ][ PROT_NONE reservation   ]
 *              ^ vmdb_map_ptr()
 *
 * The whole region is reserved at open with PROT_NONE, and the pages in use
 * are mapped over it with MAP_FIXED. Growth maps more pages over the
 * reservation, so the base pointer does not move and no other thread can
 * ever observe the map in a half-remapped state. `head` is the part of the
 * first page before the offset the caller asked for (mmap wants page-aligned
 * file offsets; callers should not have to care).
 *
 * A movable map (VMDB_MAP_MOVABLE) that outgrows its region moves: it
 * reserves a region four times the new length, maps the file there and
 * publishes the new pointer with a release store before the new length.
 * The old region stays mapped until close: it maps the same page-cache
 * pages of the same file (shared maps only), so a thread still reading
 * through an old pointer reads the current bytes and never faults. With
 * each region four times the length that outgrew the last, the regions
 * kept add up to less than a third of the current one, so a map reserves
 * a bounded multiple of its file instead of a fixed large span; that is
 * what lets a process keep a thousand growable files open.
 *
 * For a writable file map every byte in [ptr, ptr+len) has its disk blocks
 * allocated (fallocate) before it is mapped: a store into a mapped page of
 * a sparse file on a full disk would otherwise kill the process with
 * SIGBUS instead of returning ENOSPC.
 */
#include "vmdb/map.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "os.h"

_Static_assert((int)VMDB_ADVICE_NORMAL == (int)VMDB__ADV_NORMAL &&
                   (int)VMDB_ADVICE_SEQUENTIAL == (int)VMDB__ADV_SEQUENTIAL &&
                   (int)VMDB_ADVICE_RANDOM == (int)VMDB__ADV_RANDOM &&
                   (int)VMDB_ADVICE_WILLNEED == (int)VMDB__ADV_WILLNEED &&
                   (int)VMDB_ADVICE_DONTNEED == (int)VMDB__ADV_DONTNEED,
               "vmdb_advice and vmdb__os_advice must agree");

#define ALL_FLAGS                                                              \
    (VMDB_MAP_CREATE | VMDB_MAP_EXCL | VMDB_MAP_POPULATE | VMDB_MAP_LOCK |     \
     VMDB_MAP_UPGRADABLE | VMDB_MAP_SHARED | VMDB_MAP_RESERVE_SHRINK | VMDB_MAP_MOVABLE)

/* A movable map reserves this many times the length it must reach. */
#define MOVE_FACTOR 4

/* A region a movable map left, kept for readers until close. */
struct left_region {
    char *region;
    size_t region_len;
    size_t mapped_len;
};

struct vmdb_map {
    char *path;              /* the file's path; NULL if anonymous or fd */
    char *name;              /* path, "fd N" or "anonymous map": for messages */
    int fd;                  /* our own descriptor; -1 for anonymous memory */
    bool fd_writable;
    bool shared;             /* MAP_SHARED: stores reach the file or children */
    bool locked;
    bool populate;
    bool poisoned;
    bool movable;            /* moves when growth passes the reservation */
    bool shrink;             /* VMDB_MAP_RESERVE_SHRINK */
    enum vmdb_map_mode mode; /* READ, WRITE or PRIVATE */
    enum vmdb_advice advice; /* standing advice, re-applied after growth */
    enum vmdb_pages pages;
    char *region;            /* start of the reservation, granule aligned */
    size_t region_len;       /* bytes reserved, granule multiple */
    uint64_t reserve;        /* bytes from ptr the map may grow to */
    size_t mapped_len;       /* bytes of region mapped, a granule multiple */
    size_t granule;          /* bytes: page size, or huge page for hugetlb */
    size_t head;             /* bytes from region to the first byte asked */
    uint64_t region_off;     /* file offset of region[0], bytes */
    uint64_t len;            /* accessible bytes from region + head; read
                                with acquire since other threads may ask
                                while this one grows the map */
    char *ptr;               /* region + head, stored with release before
                                a len that needs it: a reader that loads
                                len, then ptr, gets a pointer covering len */
    struct left_region *left; /* regions a movable map moved out of */
    size_t left_count;
};

size_t vmdb_page_size(void)
{
    return vmdb__os_page_size();
}

static int check_options(const vmdb_map_options *o)
{
    int rc = vmdb__options_version(o->version, VMDB_MAP_OPTIONS_VERSION, "map options");
    if (rc < 0)
        return rc;
    if ((unsigned)o->mode > VMDB_MAP_PRIVATE)
        return vmdb__fail(VMDB_EINVAL, "map options: mode %d is not a vmdb_map_mode", (int)o->mode);
    if ((unsigned)o->advice > VMDB_ADVICE_DONTNEED)
        return vmdb__fail(VMDB_EINVAL, "map options: advice %d is not a vmdb_advice", (int)o->advice);
    if ((unsigned)o->huge > VMDB_HUGE_REQUIRE)
        return vmdb__fail(VMDB_EINVAL, "map options: huge %d is not a vmdb_huge", (int)o->huge);
    if (o->flags & ~ALL_FLAGS)
        return vmdb__fail(VMDB_EINVAL, "map options: unknown flag bits 0x%x", o->flags & ~ALL_FLAGS);
    if ((o->flags & VMDB_MAP_EXCL) && !(o->flags & VMDB_MAP_CREATE))
        return vmdb__fail(VMDB_EINVAL, "map options: VMDB_MAP_EXCL needs VMDB_MAP_CREATE");
    /* A private map's own changes would stay behind in the old region. */
    if ((o->flags & VMDB_MAP_MOVABLE) && o->mode == VMDB_MAP_PRIVATE)
        return vmdb__fail(VMDB_EINVAL, "map options: a private map cannot be VMDB_MAP_MOVABLE");
    return 0;
}

static vmdb_map *map_new(const char *name, const vmdb_map_options *o)
{
    vmdb_map *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->name = strdup(name);
    if (!m->name) {
        free(m);
        return NULL;
    }
    m->fd = -1;
    m->mode = o->mode;
    m->advice = o->advice;
    m->populate = (o->flags & VMDB_MAP_POPULATE) != 0;
    m->movable = (o->flags & VMDB_MAP_MOVABLE) != 0;
    m->shrink = (o->flags & VMDB_MAP_RESERVE_SHRINK) != 0;
    m->granule = vmdb__os_page_size();
    return m;
}

void vmdb_map_close(vmdb_map *m)
{
    if (!m)
        return;
    if (m->region)
        vmdb__os_unmap(m->region, m->region_len);
    for (size_t i = 0; i < m->left_count; i++)
        vmdb__os_unmap(m->left[i].region, m->left[i].region_len);
    free(m->left);
    vmdb__os_close(m->fd);
    free(m->path);
    free(m->name);
    free(m);
}

/* Reserves address space for `bytes` from the region start. Huge pages
 * need the virtual address aligned like the file offset, so any region of
 * a huge page or more is aligned to one. With `shrink`, a refused
 * reservation (ulimit -v or overcommit say ENOMEM, valgrind says EINVAL
 * past 32 GiB) is tried again at a quarter of the size, down to
 * `min_bytes`. */
static int reserve_space(const vmdb_map *m, uint64_t bytes, uint64_t min_bytes, bool shrink,
                         char **region, size_t *region_len)
{
    size_t huge = vmdb__os_huge_page_size();
    for (;;) {
        uint64_t len = vmdb__round_up(bytes ? bytes : 1, m->granule);
        int rc;
        if (len > SIZE_MAX / 2) {
            rc = -ENOMEM;
        } else {
            size_t align = len >= huge ? huge : m->granule;
            void *p;
            rc = vmdb__os_reserve((size_t)len, align, &p);
            if (rc == 0) {
                *region = p;
                *region_len = (size_t)len;
                return 0;
            }
        }
        int code = vmdb__code_from_errno(-rc);
        bool refused = code == VMDB_ENOMEM || code == VMDB_EINVAL;
        if (!shrink || !refused || bytes <= min_bytes)
            return vmdb__fail_os(rc, "%s: cannot reserve %llu bytes of address space",
                                 m->name, (unsigned long long)len);
        bytes = bytes / 4 > min_bytes ? bytes / 4 : min_bytes;
    }
}

static int reserve_region(vmdb_map *m, uint64_t bytes, uint64_t min_bytes, bool shrink)
{
    int rc = reserve_space(m, bytes, min_bytes, shrink, &m->region, &m->region_len);
    if (rc == 0)
        __atomic_store_n(&m->ptr, m->region + m->head, __ATOMIC_RELEASE);
    return rc;
}

/* Applies the map's standing options to [from, to) of `region`, a range
 * that has just been mapped. */
static int apply_standing_options(vmdb_map *m, char *region, size_t from, size_t to)
{
    int rc;
    if (from >= to)
        return 0;
    if (m->advice != VMDB_ADVICE_NORMAL) {
        rc = vmdb__os_advise(region + from, to - from, (enum vmdb__os_advice)m->advice);
        if (rc < 0)
            return vmdb__fail_os(rc, "%s: madvise", m->name);
    }
    if (m->pages == VMDB_PAGES_THP) {
        rc = vmdb__os_advise_huge(region + from, to - from, true);
        if (rc < 0)
            return vmdb__fail_os(rc, "%s: transparent huge page advice", m->name);
    }
    if (m->locked) {
        rc = vmdb__os_lock_ram(region + from, to - from, true);
        if (rc < 0)
            return vmdb__fail_os(rc, "%s: cannot lock %zu bytes in RAM (RLIMIT_MEMLOCK?)",
                                 m->name, to - from);
    }
    return 0;
}

/* Maps region[from, to) (granule multiples) over a reservation: the
 * map's own or one it is moving to. */
static int map_pages(vmdb_map *m, char *region, size_t from, size_t to)
{
    if (from >= to)
        return 0;
    vmdb__os_mapping how = {
        .prot = m->mode == VMDB_MAP_READ ? VMDB__PROT_READ : VMDB__PROT_RW,
        .shared = m->shared,
        .populate = m->populate,
        .hugetlb = m->pages == VMDB_PAGES_HUGETLB,
    };
    int rc = vmdb__os_map_fixed(region + from, to - from, &how, m->fd, m->region_off + from);
    if (rc < 0) {
        if (m->fd >= 0)
            return vmdb__fail_os(rc, "%s: cannot map %zu bytes at file offset %llu",
                                 m->name, to - from, (unsigned long long)(m->region_off + from));
        return vmdb__fail_os(rc, "%s: cannot map %zu bytes", m->name, to - from);
    }
    return apply_standing_options(m, region, from, to);
}

static int map_range(vmdb_map *m, size_t from, size_t to)
{
    int rc = map_pages(m, m->region, from, to);
    if (rc == 0 && from < to)
        m->mapped_len = to;
    return rc;
}

/* MOVE_FACTOR * bytes, or the most a size_t holds. */
static uint64_t room_for(uint64_t bytes)
{
    return bytes > SIZE_MAX / MOVE_FACTOR ? SIZE_MAX : bytes * MOVE_FACTOR;
}

/* Moves a movable map to a new reservation that reaches at least `need`
 * bytes from the pointer (MOVE_FACTOR times that if it can), mapping
 * `len` bytes of the file there. The old region is kept for readers.
 * Nothing changes on failure. */
static int move_map(vmdb_map *m, uint64_t need, uint64_t len)
{
    struct left_region *left = realloc(m->left, (m->left_count + 1) * sizeof *left);
    if (!left)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", m->name);
    m->left = left;
    uint64_t want = room_for(need);
    char *region;
    size_t region_len;
    int rc = reserve_space(m, m->head + want, m->head + need, m->shrink, &region, &region_len);
    if (rc < 0)
        return rc;
    size_t to = (size_t)vmdb__round_up(m->head + len, m->granule);
    rc = map_pages(m, region, 0, to);
    if (rc < 0) {
        vmdb__os_unmap(region, region_len);
        return rc;
    }
    /* The old region's pages are the same pages: locking them twice
     * would count them twice against RLIMIT_MEMLOCK. */
    if (m->locked)
        vmdb__os_lock_ram(m->region, m->mapped_len, false);
    m->left[m->left_count++] = (struct left_region){m->region, m->region_len, m->mapped_len};
    m->region = region;
    m->region_len = region_len;
    m->mapped_len = to;
    m->reserve = region_len - m->head < want ? region_len - m->head : want;
    __atomic_store_n(&m->ptr, region + m->head, __ATOMIC_RELEASE);
    return 0;
}

/* The huge page choice for a file map: only transparent huge page advice
 * exists for files, and the kernel decides where it applies. */
static int choose_file_pages(vmdb_map *m, enum vmdb_huge huge)
{
    if (huge == VMDB_HUGE_OFF)
        return 0;
    int rc = vmdb__os_advise_huge(m->region, m->region_len, true);
    if (rc == 0) {
        m->pages = VMDB_PAGES_THP;
        return 0;
    }
    if (huge == VMDB_HUGE_REQUIRE)
        return vmdb__fail_os(rc, "%s: transparent huge pages refused for this file", m->name);
    return 0;
}

static int map_file(vmdb_map *m, const vmdb_map_options *o)
{
    vmdb__os_stat st;
    int rc = vmdb__os_fstat(m->fd, &st);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: fstat", m->name);
    if (!st.is_regular)
        return vmdb__fail(VMDB_EINVAL, "%s: not a regular file", m->name);
    bool create = (o->flags & VMDB_MAP_CREATE) != 0;
    if (o->offset > st.size && !create)
        return vmdb__fail(VMDB_ERANGE, "%s: offset %llu is beyond the end of the file (%llu bytes)",
                          m->name, (unsigned long long)o->offset, (unsigned long long)st.size);
    uint64_t len = o->len;
    if (len == 0 && o->offset < st.size)
        len = st.size - o->offset;
    if (len > UINT64_MAX - o->offset)
        return vmdb__fail(VMDB_ERANGE, "%s: offset %llu + length %llu overflows",
                          m->name, (unsigned long long)o->offset, (unsigned long long)len);
    uint64_t end = o->offset + len;
    if (end > st.size) {
        if (!create)
            return vmdb__fail(VMDB_ERANGE,
                              "%s: range [%llu, %llu) is beyond the end of the file (%llu bytes)",
                              m->name, (unsigned long long)o->offset, (unsigned long long)end,
                              (unsigned long long)st.size);
        rc = vmdb__os_allocate(m->fd, st.size, end - st.size);
        if (rc < 0)
            return vmdb__fail_os(rc, "%s: cannot extend the file to %llu bytes", m->name,
                                 (unsigned long long)end);
    }
    m->shared = m->mode != VMDB_MAP_PRIVATE;
    m->head = (size_t)(o->offset % m->granule);
    m->region_off = o->offset - m->head;
    uint64_t reserve = o->reserve > len ? o->reserve : len;
    if (m->movable && room_for(len) > reserve)
        reserve = room_for(len);
    if (reserve > UINT64_MAX - m->granule - m->head)
        return vmdb__fail(VMDB_ERANGE, "%s: reserve %llu is too large", m->name,
                          (unsigned long long)reserve);
    rc = reserve_region(m, m->head + reserve, m->head + len,
                        (o->flags & VMDB_MAP_RESERVE_SHRINK) != 0);
    if (rc < 0)
        return rc;
    m->reserve = m->region_len - m->head < reserve ? m->region_len - m->head : reserve;
    rc = choose_file_pages(m, o->huge);
    if (rc < 0)
        return rc;
    rc = map_range(m, 0, (size_t)vmdb__round_up(m->head + len, m->granule));
    if (rc < 0)
        return rc;
    m->len = len;
    return 0;
}

static int lock_at_open(vmdb_map *m, const vmdb_map_options *o)
{
    if (!(o->flags & VMDB_MAP_LOCK))
        return 0;
    return vmdb_map_lock_ram(m, true);
}

int vmdb_map_open(const char *path, const vmdb_map_options *opts, vmdb_map **out)
{
    static const vmdb_map_options defaults;
    const vmdb_map_options *o = opts ? opts : &defaults;
    if (out)
        *out = NULL;
    if (!path || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_open: path and out are required");
    int rc = check_options(o);
    if (rc < 0)
        return rc;
    vmdb_map *m = map_new(path, o);
    if (!m || !(m->path = strdup(path))) {
        vmdb_map_close(m);
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    }
    if (m->mode == VMDB_MAP_DEFAULT)
        m->mode = VMDB_MAP_READ;
    m->fd_writable = m->mode == VMDB_MAP_WRITE ||
                     (o->flags & (VMDB_MAP_CREATE | VMDB_MAP_UPGRADABLE));
    int oflags = m->fd_writable ? VMDB__OS_RDWR : VMDB__OS_RDONLY;
    if (o->flags & VMDB_MAP_CREATE)
        oflags |= VMDB__OS_CREATE;
    if (o->flags & VMDB_MAP_EXCL)
        oflags |= VMDB__OS_EXCL;
    rc = vmdb__os_open(path, oflags, o->perm ? o->perm : 0644, &m->fd);
    if (rc < 0) {
        rc = vmdb__fail_os(rc, "%s: cannot open", path);
    } else {
        rc = map_file(m, o);
        if (rc == 0)
            rc = lock_at_open(m, o);
    }
    if (rc < 0) {
        vmdb_map_close(m);
        return rc;
    }
    *out = m;
    return 0;
}

int vmdb_map_open_fd(int fd, const vmdb_map_options *opts, vmdb_map **out)
{
    static const vmdb_map_options defaults;
    const vmdb_map_options *o = opts ? opts : &defaults;
    if (out)
        *out = NULL;
    if (fd < 0 || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_open_fd: a descriptor and out are required");
    int rc = check_options(o);
    if (rc < 0)
        return rc;
    char name[32];
    snprintf(name, sizeof name, "fd %d", fd);
    vmdb_map *m = map_new(name, o);
    if (!m)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", name);
    if (m->mode == VMDB_MAP_DEFAULT)
        m->mode = VMDB_MAP_READ;
    rc = vmdb__os_fd_writable(fd, &m->fd_writable);
    if (rc < 0) {
        rc = vmdb__fail_os(rc, "%s: not an open descriptor", name);
    } else if (!m->fd_writable &&
               (m->mode == VMDB_MAP_WRITE || (o->flags & VMDB_MAP_CREATE))) {
        rc = vmdb__fail(VMDB_EACCES, "%s: opened read-only, cannot map it for writing", name);
    } else if ((rc = vmdb__os_dup(fd, &m->fd)) < 0) {
        rc = vmdb__fail_os(rc, "%s: dup", name);
    } else {
        rc = map_file(m, o);
        if (rc == 0)
            rc = lock_at_open(m, o);
    }
    if (rc < 0) {
        vmdb_map_close(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* hugetlb pages come from a pool the administrator sizes; asking when the
 * pool is short would only fail later, at a page fault, with SIGBUS. */
static bool hugetlb_pool_has(uint64_t bytes)
{
    size_t huge = vmdb__os_huge_page_size();
    return vmdb__os_hugetlb_free() >= vmdb__round_up(bytes, huge) / huge;
}

int vmdb_map_anon(const vmdb_map_options *opts, vmdb_map **out)
{
    if (out)
        *out = NULL;
    if (!opts || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_anon: options (with len) and out are required");
    const vmdb_map_options *o = opts;
    int rc = check_options(o);
    if (rc < 0)
        return rc;
    if (o->len == 0 && o->reserve == 0)
        return vmdb__fail(VMDB_EINVAL, "anonymous map: len or reserve must be given");
    if (o->flags & (VMDB_MAP_CREATE | VMDB_MAP_EXCL | VMDB_MAP_UPGRADABLE | VMDB_MAP_MOVABLE))
        return vmdb__fail(VMDB_EINVAL,
                          "anonymous map: CREATE, EXCL, UPGRADABLE and MOVABLE apply to files");
    vmdb_map *m = map_new("anonymous map", o);
    if (!m)
        return vmdb__fail(VMDB_ENOMEM, "anonymous map: out of memory");
    if (m->mode == VMDB_MAP_DEFAULT)
        m->mode = VMDB_MAP_WRITE;
    m->shared = (o->flags & VMDB_MAP_SHARED) != 0;
    uint64_t reserve = o->reserve > o->len ? o->reserve : o->len;
    if (o->huge != VMDB_HUGE_OFF) {
        if (hugetlb_pool_has(o->len)) {
            m->pages = VMDB_PAGES_HUGETLB;
            m->granule = vmdb__os_huge_page_size();
        } else if (o->huge == VMDB_HUGE_REQUIRE) {
            vmdb_map_close(m);
            return vmdb__fail(VMDB_EUNSUPPORTED,
                              "anonymous map: %llu hugetlb pages needed, %llu free "
                              "(see /proc/sys/vm/nr_hugepages)",
                              (unsigned long long)(vmdb__round_up(o->len, vmdb__os_huge_page_size()) /
                                                   vmdb__os_huge_page_size()),
                              (unsigned long long)vmdb__os_hugetlb_free());
        }
    }
    rc = reserve_region(m, reserve, o->len, (o->flags & VMDB_MAP_RESERVE_SHRINK) != 0);
    if (rc == 0)
        m->reserve = m->region_len < reserve ? m->region_len : reserve;
    if (rc == 0 && m->pages == VMDB_PAGES_HUGETLB) {
        rc = map_range(m, 0, (size_t)vmdb__round_up(o->len, m->granule));
        if (rc < 0 && o->huge == VMDB_HUGE_TRY) {
            /* The pool emptied between the check and the map: fall back. */
            m->pages = VMDB_PAGES_NORMAL;
            m->granule = vmdb__os_page_size();
            vmdb_error_clear();
            rc = 0;
        } else if (rc < 0) {
            rc = vmdb__fail(VMDB_EUNSUPPORTED, "anonymous map: hugetlb pages unavailable: %s",
                            vmdb_last_error()->message);
        }
    }
    if (rc == 0 && m->pages == VMDB_PAGES_NORMAL) {
        if (o->huge != VMDB_HUGE_OFF &&
            vmdb__os_advise_huge(m->region, m->region_len, true) == 0)
            m->pages = VMDB_PAGES_THP;
        rc = map_range(m, 0, (size_t)vmdb__round_up(o->len, m->granule));
    }
    if (rc == 0)
        rc = lock_at_open(m, o);
    if (rc < 0) {
        vmdb_map_close(m);
        return rc;
    }
    m->len = o->len;
    *out = m;
    return 0;
}

void *vmdb_map_ptr(const vmdb_map *m)
{
    return m ? __atomic_load_n(&m->ptr, __ATOMIC_ACQUIRE) : NULL;
}

uint64_t vmdb_map_len(const vmdb_map *m)
{
    return m ? __atomic_load_n(&m->len, __ATOMIC_ACQUIRE) : 0;
}

int vmdb_map_stat(const vmdb_map *m, vmdb_map_info *info)
{
    if (!m || !info)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_stat: map and info are required");
    *info = (vmdb_map_info){
        .path = m->path,
        .offset = m->region_off + m->head,
        .len = vmdb_map_len(m),
        .reserved = m->reserve,
        .page_size = m->granule,
        .mode = m->mode,
        .pages = m->pages,
        .advice = m->advice,
        .anonymous = m->fd < 0,
        .locked = m->locked,
        .populated = m->populate,
        .poisoned = m->poisoned,
    };
    return 0;
}

/* Checks that [off, off+len) lies inside the map; len 0 means "to the end"
 * only where the caller passes want_rest. */
static int check_range(const vmdb_map *m, const char *op, uint64_t off, uint64_t *len)
{
    uint64_t have = vmdb_map_len(m);
    if (off > have || *len > have - off)
        return vmdb__fail(VMDB_ERANGE, "%s: %s of [%llu, +%llu) leaves the map (%llu bytes)",
                          m->name, op, (unsigned long long)off, (unsigned long long)*len,
                          (unsigned long long)have);
    return 0;
}

int vmdb_map_read(const vmdb_map *m, uint64_t off, void *dst, size_t len)
{
    if (!m || (!dst && len))
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_read: map and dst are required");
    uint64_t n = len;
    int rc = check_range(m, "read", off, &n);
    if (rc < 0)
        return rc;
    memcpy(dst, (char *)vmdb_map_ptr(m) + off, len);
    return 0;
}

int vmdb_map_write(vmdb_map *m, uint64_t off, const void *src, size_t len)
{
    if (!m || (!src && len))
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_write: map and src are required");
    if (m->mode == VMDB_MAP_READ)
        return vmdb__fail(VMDB_EREADONLY, "%s: write of %zu bytes at %llu: the map is read-only",
                          m->name, len, (unsigned long long)off);
    if (m->poisoned)
        return vmdb__fail(VMDB_EPOISONED, "%s: a flush failed earlier; reopen the file", m->name);
    uint64_t n = len;
    int rc = check_range(m, "write", off, &n);
    if (rc < 0)
        return rc;
    memcpy((char *)vmdb_map_ptr(m) + off, src, len);
    return 0;
}

/* Resolves len 0 to "the rest of the map" and checks the range. */
static int whole_or_range(const vmdb_map *m, const char *op, uint64_t off, uint64_t *len)
{
    if (*len == 0) {
        uint64_t have = vmdb_map_len(m);
        if (off > have)
            return check_range(m, op, off, len);
        *len = have - off;
    }
    return check_range(m, op, off, len);
}

int vmdb_map_flush(vmdb_map *m, uint64_t off, uint64_t len, enum vmdb_flush how)
{
    if (!m)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_flush: map is required");
    if ((unsigned)how > VMDB_FLUSH_ASYNC)
        return vmdb__fail(VMDB_EINVAL, "%s: flush mode %d is not a vmdb_flush", m->name, (int)how);
    if (m->poisoned)
        return vmdb__fail(VMDB_EPOISONED, "%s: a flush failed earlier; reopen the file", m->name);
    int rc = whole_or_range(m, "flush", off, &len);
    if (rc < 0 || len == 0 || m->fd < 0 || !m->shared)
        return rc;
    /* The length was loaded first: this region covers it. */
    char *region = (char *)vmdb_map_ptr(m) - m->head;
    size_t start = (size_t)vmdb__round_down(m->head + off, m->granule);
    size_t end = (size_t)(m->head + off + len);
    rc = vmdb__os_flush(region + start, end - start, how == VMDB_FLUSH_SYNC);
    if (rc < 0) {
        m->poisoned = true;
        return vmdb__fail_os(rc, "%s: flush of [%llu, +%llu) failed, map poisoned until reopened",
                             m->name, (unsigned long long)off, (unsigned long long)len);
    }
    return 0;
}

int vmdb_map_punch(vmdb_map *m, uint64_t off, uint64_t len)
{
    if (!m)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_punch: map is required");
    if (m->fd < 0 || !m->shared || m->mode != VMDB_MAP_WRITE)
        return vmdb__fail(VMDB_EINVAL, "%s: only a writable shared file map can give blocks back",
                          m->name);
    if (m->poisoned)
        return vmdb__fail(VMDB_EPOISONED, "%s: a flush failed earlier; reopen the file", m->name);
    if (len == 0)
        return 0; /* not "to the end", as elsewhere: too easy to lose a file */
    int rc = whole_or_range(m, "punch", off, &len);
    if (rc < 0)
        return rc;
    uint64_t page = vmdb__os_page_size();
    uint64_t from = vmdb__round_up(m->region_off + m->head + off, page);
    uint64_t to = vmdb__round_down(m->region_off + m->head + off + len, page);
    if (to <= from)
        return 0;
    rc = vmdb__os_punch_hole(m->fd, from, to - from);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot give back [%llu, +%llu)", m->name,
                             (unsigned long long)off, (unsigned long long)len);
    return 0;
}

int vmdb_map_advise(vmdb_map *m, uint64_t off, uint64_t len, enum vmdb_advice advice)
{
    if (!m)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_advise: map is required");
    if ((unsigned)advice > VMDB_ADVICE_DONTNEED)
        return vmdb__fail(VMDB_EINVAL, "%s: advice %d is not a vmdb_advice", m->name, (int)advice);
    bool whole = off == 0 && len == 0;
    int rc = whole_or_range(m, "advise", off, &len);
    if (rc < 0 || len == 0)
        return rc;
    char *region = (char *)vmdb_map_ptr(m) - m->head;
    size_t start = (size_t)vmdb__round_down(m->head + off, m->granule);
    size_t end = (size_t)vmdb__round_up(m->head + off + len, m->granule);
    rc = vmdb__os_advise(region + start, end - start, (enum vmdb__os_advice)advice);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: advice for [%llu, +%llu)", m->name,
                             (unsigned long long)off, (unsigned long long)len);
    /* Advice about the whole map describes how it is used, so it should
     * hold for pages growth adds too; WILLNEED and DONTNEED are one-off
     * actions. */
    if (whole && advice <= VMDB_ADVICE_RANDOM)
        m->advice = advice;
    return 0;
}

int vmdb_map_protect(vmdb_map *m, enum vmdb_map_mode mode)
{
    if (!m)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_protect: map is required");
    if (mode != VMDB_MAP_READ && mode != VMDB_MAP_WRITE)
        return vmdb__fail(VMDB_EINVAL, "%s: protect accepts VMDB_MAP_READ or VMDB_MAP_WRITE", m->name);
    if (m->mode == VMDB_MAP_PRIVATE)
        return vmdb__fail(VMDB_EINVAL, "%s: a private map cannot change mode", m->name);
    if (mode == m->mode)
        return 0;
    if (mode == VMDB_MAP_WRITE && m->fd >= 0 && !m->fd_writable)
        return vmdb__fail(VMDB_EACCES,
                          "%s: the file was opened read-only (use VMDB_MAP_UPGRADABLE)", m->name);
    if (mode == VMDB_MAP_WRITE && m->poisoned)
        return vmdb__fail(VMDB_EPOISONED, "%s: a flush failed earlier; reopen the file", m->name);
    int prot = mode == VMDB_MAP_WRITE ? VMDB__PROT_RW : VMDB__PROT_READ;
    int rc = vmdb__os_protect(m->region, m->mapped_len, prot);
    for (size_t i = 0; rc == 0 && i < m->left_count; i++)
        rc = vmdb__os_protect(m->left[i].region, m->left[i].mapped_len, prot);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: mprotect", m->name);
    m->mode = mode;
    return 0;
}

int vmdb_map_grow(vmdb_map *m, uint64_t new_len)
{
    if (!m)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_grow: map is required");
    uint64_t len = m->len;
    if (m->poisoned)
        return vmdb__fail(VMDB_EPOISONED, "%s: a flush failed earlier; reopen the file", m->name);
    if (new_len < len)
        return vmdb__fail(VMDB_EINVAL, "%s: cannot shrink a map in place (%llu to %llu bytes)",
                          m->name, (unsigned long long)len, (unsigned long long)new_len);
    if (new_len == len)
        return 0;
    if (new_len > m->reserve && !m->movable)
        return vmdb__fail(VMDB_EFULL, "%s: cannot grow to %llu bytes: %llu are reserved",
                          m->name, (unsigned long long)new_len, (unsigned long long)m->reserve);
    if (new_len > UINT64_MAX - m->granule - m->head)
        return vmdb__fail(VMDB_ERANGE, "%s: cannot grow to %llu bytes", m->name,
                          (unsigned long long)new_len);
    int rc;
    if (m->fd >= 0) {
        uint64_t old_end = m->region_off + m->head + len;
        uint64_t new_end = m->region_off + m->head + new_len;
        if (m->mode == VMDB_MAP_WRITE) {
            rc = vmdb__os_allocate(m->fd, old_end, new_end - old_end);
            if (rc < 0)
                return vmdb__fail_os(rc, "%s: cannot extend the file to %llu bytes", m->name,
                                     (unsigned long long)new_end);
        } else {
            vmdb__os_stat st;
            rc = vmdb__os_fstat(m->fd, &st);
            if (rc < 0)
                return vmdb__fail_os(rc, "%s: fstat", m->name);
            if (st.size < new_end)
                return vmdb__fail(VMDB_ERANGE,
                                  "%s: cannot grow a %s map to file offset %llu: the file has "
                                  "%llu bytes and this map does not extend it",
                                  m->name, m->mode == VMDB_MAP_READ ? "read-only" : "private",
                                  (unsigned long long)new_end, (unsigned long long)st.size);
        }
    }
    if (new_len > m->reserve) {
        rc = move_map(m, new_len, new_len);
    } else {
        size_t want = (size_t)vmdb__round_up(m->head + new_len, m->granule);
        rc = map_range(m, m->mapped_len, want);
    }
    if (rc < 0)
        return rc;
    __atomic_store_n(&m->len, new_len, __ATOMIC_RELEASE);
    return 0;
}

int vmdb_map_make_room(vmdb_map *m, uint64_t bytes)
{
    if (!m)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_make_room: map is required");
    if (bytes <= m->reserve)
        return 0;
    if (!m->movable)
        return vmdb__fail(VMDB_EFULL, "%s: cannot make room for %llu bytes: %llu are reserved",
                          m->name, (unsigned long long)bytes, (unsigned long long)m->reserve);
    if (m->poisoned)
        return vmdb__fail(VMDB_EPOISONED, "%s: a flush failed earlier; reopen the file", m->name);
    if (bytes > UINT64_MAX - m->granule - m->head)
        return vmdb__fail(VMDB_ERANGE, "%s: cannot make room for %llu bytes", m->name,
                          (unsigned long long)bytes);
    return move_map(m, bytes, m->len);
}

int vmdb_map_lock_ram(vmdb_map *m, bool on)
{
    if (!m)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_lock_ram: map is required");
    if (m->mapped_len) {
        int rc = vmdb__os_lock_ram(m->region, m->mapped_len, on);
        if (rc < 0)
            return vmdb__fail_os(rc, "%s: cannot %slock %zu bytes in RAM (RLIMIT_MEMLOCK?)",
                                 m->name, on ? "" : "un", m->mapped_len);
    }
    m->locked = on;
    return 0;
}

int vmdb_map_huge_bytes(const vmdb_map *m, uint64_t *bytes)
{
    if (!m || !bytes)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_huge_bytes: map and bytes are required");
    *bytes = 0;
    if (!m->mapped_len)
        return 0;
    int rc = vmdb__os_huge_bytes(m->region, m->mapped_len, bytes);
    return rc < 0 ? vmdb__fail_os(rc, "%s: reading /proc/self/smaps", m->name) : 0;
}

int vmdb_map_resident_bytes(const vmdb_map *m, uint64_t *bytes)
{
    if (!m || !bytes)
        return vmdb__fail(VMDB_EINVAL, "vmdb_map_resident_bytes: map and bytes are required");
    *bytes = 0;
    if (!m->mapped_len)
        return 0;
    int rc = vmdb__os_resident_bytes(m->region, m->mapped_len, bytes);
    return rc < 0 ? vmdb__fail_os(rc, "%s: mincore", m->name) : 0;
}
