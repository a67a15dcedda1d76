/* SPDX-License-Identifier: MIT */
/*
 * engine/mem/ring.c - the mirrored byte ring (vmdb/ring.h).
 *
 * Address space of a ring, reserved in one piece so the three mappings
 * below are adjacent:
 *
 *   region                  data                 data + cap         data + 2 cap
 *   [ header page(s)       ][ data pages         ][ the same data pages again ]
 *     file [0, header_len)   file [header_len, +cap)   file [header_len, +cap)
 *
 * The second mapping of the data pages makes data[off .. off + cap) valid
 * for every off < cap, so a span that crosses the end of the ring is read
 * and written through one pointer: the kernel, not a copy loop, handles
 * the wrap. A memory ring uses a memfd for the same trick, since only a
 * file can be mapped twice.
 *
 * File format, little-endian, header_len = the page size at creation:
 *
 *   [0, 128)      header copy A  } struct disk_header, each alone in its
 *   [512, 640)    header copy B  } own 512-byte sector
 *   [1024, 1032)  live head      } struct live_positions: the positions the
 *   [1088, 1096)  live tail      } producer and consumer update, on their
 *                                  own cache lines
 *   [header_len, header_len + cap)   data
 *
 * The live positions change with every commit and consume; they are what a
 * reopen after a process crash uses, since the page cache kept them. The
 * header copies change only at vmdb_ring_sync(), which first flushes the
 * live data and then writes the positions into the older copy (seq + 1)
 * and flushes it. A torn copy fails its checksum and the other, older one
 * is used, so the header survives a torn write. After a power cut the
 * live positions may be older than the newest copy (their sector was not
 * written back); open then trusts the copy.
 *
 * Memory ordering: the producer stores the bytes, then the head with
 * release; the consumer loads the head with acquire before reading bytes.
 * The consumer finishes reading, then stores the tail with release; the
 * producer loads the tail with acquire before reusing those bytes. In
 * overwrite mode both sides move the tail, so both use compare-and-swap,
 * and the producer moves the tail *before* it writes over the bytes it
 * drops: a consumer whose CAS from the tail it started at succeeds knows
 * nothing it read was overwritten.
 */
#include "vmdb/ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "checksum.h"
#include "create.h"
#include "internal.h"
#include "os.h"

#define COPY_SECTOR 512u
#define LIVE_OFFSET 1024u
#define CACHE_LINE 64u

struct disk_header {
    char magic[8];      /* VMDB_RING_MAGIC */
    uint32_t version;   /* VMDB_RING_VERSION */
    uint32_t header_len; /* bytes before the data; the page size at creation */
    uint64_t cap;       /* data bytes, a multiple of header_len */
    uint64_t seq;       /* the copy with the higher seq is the newer */
    uint64_t head;      /* write position at the sync, bytes */
    uint64_t tail;      /* read position at the sync, bytes */
    uint8_t user[64];   /* reserved for the layer above (the WAL); zero */
    uint64_t checksum;  /* XXH3-64 of the bytes before it */
};
_Static_assert(sizeof(struct disk_header) == 120, "disk_header layout");
_Static_assert(offsetof(struct disk_header, version) == 8, "disk_header layout");
_Static_assert(offsetof(struct disk_header, header_len) == 12, "disk_header layout");
_Static_assert(offsetof(struct disk_header, cap) == 16, "disk_header layout");
_Static_assert(offsetof(struct disk_header, seq) == 24, "disk_header layout");
_Static_assert(offsetof(struct disk_header, head) == 32, "disk_header layout");
_Static_assert(offsetof(struct disk_header, tail) == 40, "disk_header layout");
_Static_assert(offsetof(struct disk_header, user) == 48, "disk_header layout");
_Static_assert(offsetof(struct disk_header, checksum) == 112, "disk_header layout");
_Static_assert(sizeof(((struct disk_header *)0)->user) == VMDB_RING_USER_LEN, "user area");

struct live_positions {
    uint64_t head; /* bytes ever written; only the producer stores it */
    char pad1[CACHE_LINE - 8];
    uint64_t tail; /* bytes ever consumed or dropped */
    char pad2[CACHE_LINE - 8];
};
_Static_assert(sizeof(struct live_positions) == 2 * CACHE_LINE, "live layout");
_Static_assert(LIVE_OFFSET >= 2 * COPY_SECTOR, "live positions follow the copies");

struct vmdb_ring {
    char *path;           /* NULL for a memory ring */
    char *name;           /* path or "memory ring": for messages */
    int fd;
    char *region;         /* header_len + 2 cap bytes of address space */
    size_t region_len;
    char *data;           /* region + header_len */
    uint64_t cap;         /* data bytes */
    size_t header_len;    /* bytes */
    uint64_t *head;       /* the live positions, or `fallback` below for a */
    uint64_t *tail;       /* read-only map whose live area is stale */
    bool overwrite;
    bool readonly;
    bool poisoned;
    uint32_t version;
    uint64_t sync_seq;    /* seq of the newest valid header copy */
    uint64_t synced_head; /* its positions, bytes */
    uint64_t synced_tail;
    uint8_t user[VMDB_RING_USER_LEN]; /* staged for the next sync */
    bool user_staged;     /* set since the last sync: `user` is newer */
    struct live_positions fallback;
    /* Each side's private cache of the other's position, on its own line
     * so the producer and consumer threads never write the same line. */
    _Alignas(CACHE_LINE) uint64_t producer_tail; /* last tail the producer saw */
    uint64_t dropped;     /* bytes dropped by overwrite, producer-owned */
    _Alignas(CACHE_LINE) uint64_t consumer_head; /* last head the consumer saw */
    uint64_t consumer_tail; /* the tail its last span started at */
};

/* ---- positions ---------------------------------------------------------- */

static inline uint64_t load_acquire(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store_release(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

uint64_t vmdb_ring_cap(const vmdb_ring *r)
{
    return r ? r->cap : 0;
}

uint64_t vmdb_ring_head(const vmdb_ring *r)
{
    return r ? load_acquire(r->head) : 0;
}

uint64_t vmdb_ring_tail(const vmdb_ring *r)
{
    return r ? load_acquire(r->tail) : 0;
}

uint64_t vmdb_ring_used(const vmdb_ring *r)
{
    if (!r)
        return 0;
    /* Tail first: a head loaded after it can only be further ahead, so the
     * difference never underflows even while both sides run. */
    uint64_t t = load_acquire(r->tail);
    return load_acquire(r->head) - t;
}

uint64_t vmdb_ring_avail(const vmdb_ring *r)
{
    return r ? r->cap - vmdb_ring_used(r) : 0;
}

void *vmdb_ring_pos_ptr(const vmdb_ring *r, uint64_t pos)
{
    return r ? r->data + pos % r->cap : NULL;
}

/* ---- header copies ------------------------------------------------------ */

static uint64_t header_checksum(const struct disk_header *h)
{
    return XXH3_64bits(h, offsetof(struct disk_header, checksum));
}

static struct disk_header *header_copy(const vmdb_ring *r, unsigned which)
{
    return (struct disk_header *)(r->region + which * COPY_SECTOR);
}

static void fill_header(struct disk_header *h, uint32_t header_len, uint64_t cap,
                        uint64_t seq, uint64_t head, uint64_t tail, const uint8_t *user)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, VMDB_RING_MAGIC, sizeof h->magic);
    h->version = VMDB_RING_VERSION;
    h->header_len = header_len;
    h->cap = cap;
    h->seq = seq;
    h->head = head;
    h->tail = tail;
    if (user)
        memcpy(h->user, user, sizeof h->user);
    h->checksum = header_checksum(h);
}

enum copy_verdict { COPY_OK, COPY_BAD_MAGIC, COPY_BAD_VERSION, COPY_BAD_SUM, COPY_BAD_VALUES };

static enum copy_verdict check_copy(const struct disk_header *h)
{
    if (memcmp(h->magic, VMDB_RING_MAGIC, sizeof h->magic) != 0)
        return COPY_BAD_MAGIC;
    if (!vmdb__checksum_matches(h->checksum, header_checksum(h)))
        return COPY_BAD_SUM;
    if (h->version != VMDB_RING_VERSION)
        return COPY_BAD_VERSION;
    uint64_t hl = h->header_len;
    if (hl < LIVE_OFFSET + sizeof(struct live_positions) || (hl & (hl - 1)) ||
        h->cap == 0 || h->cap % hl || h->tail > h->head || h->head - h->tail > h->cap)
        return COPY_BAD_VALUES;
    return COPY_OK;
}

/* Picks the newer of the two copies that pass their checks, or explains
 * why neither does, naming the file. */
static int choose_copy(const char *name, const unsigned char *page, size_t have,
                       struct disk_header *out)
{
    struct disk_header copy[2];
    enum copy_verdict verdict[2];
    for (unsigned i = 0; i < 2; i++) {
        memset(&copy[i], 0, sizeof copy[i]);
        if (have >= i * COPY_SECTOR + sizeof copy[i]) {
            memcpy(&copy[i], page + i * COPY_SECTOR, sizeof copy[i]);
            verdict[i] = check_copy(&copy[i]);
        } else {
            verdict[i] = COPY_BAD_MAGIC;
        }
    }
    int best = -1;
    for (int i = 0; i < 2; i++)
        if (verdict[i] == COPY_OK && (best < 0 || copy[i].seq > copy[best].seq))
            best = i;
    if (best >= 0) {
        *out = copy[best];
        return 0;
    }
    if (have < sizeof copy[0] && have >= 8 && memcmp(page, VMDB_RING_MAGIC, 8) == 0)
        return vmdb__fail(VMDB_EBADSIZE, "%s: truncated: %zu bytes, not even a ring header",
                          name, have);
    if (verdict[0] == COPY_BAD_MAGIC && verdict[1] == COPY_BAD_MAGIC)
        return vmdb__fail(VMDB_EBADMAGIC, "%s: not a vmdb ring file (no \"%s\" magic)", name,
                          VMDB_RING_MAGIC);
    for (int i = 0; i < 2; i++)
        if (verdict[i] == COPY_BAD_VERSION)
            return vmdb__fail(VMDB_EVERSION, "%s: ring format version %u, this build reads %u",
                              name, copy[i].version, VMDB_RING_VERSION);
    for (int i = 0; i < 2; i++)
        if (verdict[i] == COPY_BAD_VALUES)
            return vmdb__fail(VMDB_ECORRUPT,
                              "%s: header copy %c is impossible (header_len %u, cap %llu, "
                              "head %llu, tail %llu)",
                              name, 'A' + i, copy[i].header_len, (unsigned long long)copy[i].cap,
                              (unsigned long long)copy[i].head, (unsigned long long)copy[i].tail);
    return vmdb__fail(VMDB_ECORRUPT, "%s: both header copies fail their checksum", name);
}

/* ---- open and close ----------------------------------------------------- */

static vmdb_ring *ring_alloc(const char *name)
{
    vmdb_ring *r = aligned_alloc(CACHE_LINE, vmdb__round_up(sizeof *r, CACHE_LINE));
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->name = strdup(name);
    if (!r->name) {
        free(r);
        return NULL;
    }
    return r;
}

void vmdb_ring_close(vmdb_ring *r)
{
    if (!r)
        return;
    if (r->region)
        vmdb__os_unmap(r->region, r->region_len);
    vmdb__os_close(r->fd);
    free(r->path);
    free(r->name);
    free(r);
}


static int check_options(const vmdb_ring_options *o, bool file)
{
    int rc = vmdb__options_version(o->version, VMDB_RING_OPTIONS_VERSION, "ring options");
    if (rc < 0)
        return rc;
    unsigned known = VMDB_RING_CREATE | VMDB_RING_EXCL | VMDB_RING_OVERWRITE | VMDB_RING_READONLY;
    if (o->flags & ~known)
        return vmdb__fail(VMDB_EINVAL, "ring options: unknown flag bits 0x%x", o->flags & ~known);
    if (!file && (o->flags & (VMDB_RING_CREATE | VMDB_RING_EXCL | VMDB_RING_READONLY)))
        return vmdb__fail(VMDB_EINVAL,
                          "ring options: CREATE, EXCL and READONLY apply to file rings");
    if ((o->flags & VMDB_RING_EXCL) && !(o->flags & VMDB_RING_CREATE))
        return vmdb__fail(VMDB_EINVAL, "ring options: VMDB_RING_EXCL needs VMDB_RING_CREATE");
    if ((o->flags & VMDB_RING_READONLY) && (o->flags & VMDB_RING_CREATE))
        return vmdb__fail(VMDB_EINVAL, "ring options: READONLY cannot CREATE");
    if ((unsigned)o->advice > VMDB_ADVICE_DONTNEED)
        return vmdb__fail(VMDB_EINVAL, "ring options: advice %d is not a vmdb_advice",
                          (int)o->advice);
    if (o->cap > ((uint64_t)1 << 46))
        return vmdb__fail(VMDB_EINVAL, "ring options: cap %llu is more than 64 TiB",
                          (unsigned long long)o->cap);
    return 0;
}

/* Maps the header and the data pages twice into one reservation, and
 * points the handle at the live positions. */
static int map_mirror(vmdb_ring *r, enum vmdb_advice advice)
{
    r->region_len = r->header_len + 2 * (size_t)r->cap;
    void *p;
    int rc = vmdb__os_reserve(r->region_len, r->header_len, &p);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot reserve %zu bytes of address space", r->name,
                             r->region_len);
    r->region = p;
    r->data = r->region + r->header_len;
    vmdb__os_mapping how = {
        .prot = r->readonly ? VMDB__PROT_READ : VMDB__PROT_RW,
        .shared = true,
    };
    rc = vmdb__os_map_fixed(r->region, r->header_len + (size_t)r->cap, &how, r->fd, 0);
    if (rc == 0)
        rc = vmdb__os_map_fixed(r->data + r->cap, (size_t)r->cap, &how, r->fd, r->header_len);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot map the %llu data bytes twice", r->name,
                             (unsigned long long)r->cap);
    if (advice != VMDB_ADVICE_NORMAL) {
        rc = vmdb__os_advise(r->data, 2 * (size_t)r->cap, (enum vmdb__os_advice)advice);
        if (rc < 0)
            return vmdb__fail_os(rc, "%s: madvise", r->name);
    }
    struct live_positions *live = (struct live_positions *)(r->region + LIVE_OFFSET);
    r->head = &live->head;
    r->tail = &live->tail;
    return 0;
}

int vmdb_ring_new(const vmdb_ring_options *opts, vmdb_ring **out)
{
    if (out)
        *out = NULL;
    if (!opts || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_new: options (with cap) and out are required");
    int rc = check_options(opts, false);
    if (rc < 0)
        return rc;
    if (opts->cap == 0)
        return vmdb__fail(VMDB_EINVAL, "memory ring: cap is required");
    vmdb_ring *r = ring_alloc("memory ring");
    if (!r)
        return vmdb__fail(VMDB_ENOMEM, "memory ring: out of memory");
    r->header_len = vmdb__os_page_size();
    r->cap = vmdb__round_up(opts->cap, r->header_len);
    r->overwrite = (opts->flags & VMDB_RING_OVERWRITE) != 0;
    r->version = VMDB_RING_VERSION;
    rc = vmdb__os_memfd("vmdb-ring", &r->fd);
    if (rc < 0) {
        rc = vmdb__fail_os(rc, "memory ring: memfd_create");
    } else if ((rc = vmdb__os_allocate(r->fd, 0, r->header_len + r->cap)) < 0) {
        /* Allocated up front: a memfd is tmpfs, which would otherwise
         * answer a full tmpfs with SIGBUS at the first store. */
        rc = vmdb__fail_os(rc, "memory ring: cannot allocate %llu bytes",
                           (unsigned long long)r->cap);
    } else {
        rc = map_mirror(r, opts->advice);
    }
    if (rc < 0) {
        vmdb_ring_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

/*
 * Creates a ring file atomically: the whole file is built under a
 * temporary name, synced, and renamed into place, so a crash never leaves
 * a half-initialised ring under the real name.
 */
struct new_ring {
    const unsigned char *page; /* the header page, both copies */
    size_t header_len;
    uint64_t cap;
};

static int fill_ring_file(void *ctx, int fd, const char *tmp)
{
    const struct new_ring *n = ctx;
    int rc = vmdb__os_pwrite_all(fd, n->page, n->header_len, 0);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot write the header of the new ring file", tmp);
    rc = vmdb__os_allocate(fd, n->header_len, n->cap);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot allocate the data of the new ring file", tmp);
    return 0;
}

/* Without EXCL a ring file already there is replaced (a racing creator
 * of the same file builds an identical empty ring, so losing that race is
 * harmless). Both header copies hold `pos` and `user`: the new ring is
 * empty, its positions continuing from pos. */
static int create_file(const char *path, const vmdb_ring_options *o, uint64_t pos,
                       const uint8_t *user, enum vmdb__create_mode mode)
{
    size_t header_len = vmdb__os_page_size();
    uint64_t cap = vmdb__round_up(o->cap, header_len);
    unsigned char *page = calloc(1, header_len);
    if (!page)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    fill_header((struct disk_header *)page, (uint32_t)header_len, cap, 1, pos, pos, user);
    fill_header((struct disk_header *)(page + COPY_SECTOR), (uint32_t)header_len, cap, 0, pos,
                pos, user);
    struct new_ring n = {page, header_len, cap};
    int rc = vmdb__create_atomically(path, o->perm ? o->perm : 0644, mode, fill_ring_file, &n);
    free(page);
    return rc;
}

int vmdb_ring_replace(const char *path, const vmdb_ring_options *opts, uint64_t pos,
                      const void *user, size_t user_len)
{
    if (!path || !opts || opts->cap == 0 || (!user && user_len))
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_replace: path, options with a cap, and "
                                       "the user bytes given are required");
    int rc = check_options(opts, true);
    if (rc < 0)
        return rc;
    if (user_len > VMDB_RING_USER_LEN)
        return vmdb__fail(VMDB_ERANGE, "%s: %zu user bytes, the header keeps %d", path,
                          user_len, VMDB_RING_USER_LEN);
    uint8_t staged[VMDB_RING_USER_LEN] = {0};
    if (user_len)
        memcpy(staged, user, user_len);
    return create_file(path, opts, pos, staged, VMDB__CREATE_REPLACE);
}

/* Chooses the positions to start from: the live ones, which a crashed
 * process left in the page cache, unless they are older than the newest
 * header copy or impossible; then the copy's. */
static int adopt_positions(vmdb_ring *r, const struct disk_header *h)
{
    uint64_t head = load_acquire(r->head), tail = load_acquire(r->tail);
    bool live_ok = tail <= head && head - tail <= r->cap && tail >= h->tail && head >= h->head;
    if (!live_ok) {
        if (r->readonly) {
            r->fallback.head = h->head;
            r->fallback.tail = h->tail;
            r->head = &r->fallback.head;
            r->tail = &r->fallback.tail;
        } else {
            store_release(r->tail, h->tail);
            store_release(r->head, h->head);
        }
    }
    r->producer_tail = load_acquire(r->tail);
    r->consumer_tail = r->producer_tail;
    r->consumer_head = load_acquire(r->head);
    return 0;
}

static int open_file(vmdb_ring *r, const vmdb_ring_options *o)
{
    int rc = vmdb__os_open(r->path, r->readonly ? VMDB__OS_RDONLY : VMDB__OS_RDWR, 0, &r->fd);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot open", r->path);
    vmdb__os_stat st;
    rc = vmdb__os_fstat(r->fd, &st);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: fstat", r->name);
    if (!st.is_regular)
        return vmdb__fail(VMDB_EINVAL, "%s: not a regular file", r->name);
    unsigned char page[LIVE_OFFSET];
    size_t have = st.size < sizeof page ? (size_t)st.size : sizeof page;
    rc = vmdb__os_pread_all(r->fd, page, have, 0);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot read the header", r->name);
    struct disk_header h = {0};
    rc = choose_copy(r->name, page, have, &h);
    if (rc < 0)
        return rc;
    if (h.header_len != vmdb__os_page_size())
        return vmdb__fail(VMDB_EUNSUPPORTED, "%s: made with %u-byte pages, this system has %zu",
                          r->name, h.header_len, vmdb__os_page_size());
    if (st.size < h.header_len + h.cap)
        return vmdb__fail(VMDB_EBADSIZE,
                          "%s: truncated: %llu bytes, the header says %u + %llu",
                          r->name, (unsigned long long)st.size, h.header_len,
                          (unsigned long long)h.cap);
    if (o->cap && vmdb__round_up(o->cap, h.header_len) != h.cap)
        return vmdb__fail(VMDB_EBADSIZE, "%s: cap is %llu bytes, not the %llu asked for",
                          r->name, (unsigned long long)h.cap, (unsigned long long)o->cap);
    r->header_len = h.header_len;
    r->cap = h.cap;
    r->version = h.version;
    r->sync_seq = h.seq;
    r->synced_head = h.head;
    r->synced_tail = h.tail;
    memcpy(r->user, h.user, sizeof r->user);
    rc = map_mirror(r, o->advice);
    if (rc < 0)
        return rc;
    return adopt_positions(r, &h);
}

int vmdb_ring_open(const char *path, const vmdb_ring_options *opts, vmdb_ring **out)
{
    static const vmdb_ring_options defaults;
    const vmdb_ring_options *o = opts ? opts : &defaults;
    if (out)
        *out = NULL;
    if (!path || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_open: path and out are required");
    int rc = check_options(o, true);
    if (rc < 0)
        return rc;
    vmdb__os_stat st;
    bool exists = vmdb__os_stat_path(path, &st) == 0;
    if (exists && (o->flags & VMDB_RING_EXCL))
        return vmdb__fail(VMDB_EEXIST, "%s: ring file already exists", path);
    if (!exists && (o->flags & VMDB_RING_CREATE)) {
        if (o->cap == 0)
            return vmdb__fail(VMDB_EINVAL, "%s: cap is required to create a ring", path);
        rc = create_file(path, o, 0, NULL,
                         (o->flags & VMDB_RING_EXCL) ? VMDB__CREATE_EXCL : VMDB__CREATE_REPLACE);
        if (rc < 0)
            return rc;
    }
    vmdb_ring *r = ring_alloc(path);
    if (!r || !(r->path = strdup(path))) {
        vmdb_ring_close(r);
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    }
    r->overwrite = (o->flags & VMDB_RING_OVERWRITE) != 0;
    r->readonly = (o->flags & VMDB_RING_READONLY) != 0;
    rc = open_file(r, o);
    if (rc < 0) {
        vmdb_ring_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ---- producer ----------------------------------------------------------- */

static int check_writable(const vmdb_ring *r)
{
    if (r->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: opened read-only", r->name);
    if (r->poisoned)
        return vmdb__fail(VMDB_EPOISONED, "%s: a flush failed earlier; reopen the ring", r->name);
    return 0;
}

/* Bytes the producer may write, refreshing its view of the tail only when
 * the cached one says there are fewer than `want`. */
static uint64_t producer_space(vmdb_ring *r, uint64_t head, uint64_t want)
{
    uint64_t space = r->cap - (head - r->producer_tail);
    if (space < want) {
        r->producer_tail = load_acquire(r->tail);
        space = r->cap - (head - r->producer_tail);
    }
    return space;
}

void *vmdb_ring_write_span(vmdb_ring *r, size_t *len)
{
    if (len)
        *len = 0;
    if (!r || !len || r->readonly)
        return NULL;
    uint64_t head = *r->head; /* only this thread stores the head */
    *len = (size_t)producer_space(r, head, r->cap);
    return r->data + head % r->cap;
}

int vmdb_ring_commit(vmdb_ring *r, size_t n)
{
    if (!r)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_commit: ring is required");
    int rc = check_writable(r);
    if (rc < 0)
        return rc;
    uint64_t head = *r->head;
    uint64_t space = producer_space(r, head, n);
    if (n > space)
        return vmdb__fail(VMDB_ERANGE, "%s: commit of %zu bytes, only %llu were writable",
                          r->name, n, (unsigned long long)space);
    store_release(r->head, head + n);
    return 0;
}

int vmdb_ring_make_room(vmdb_ring *r, size_t len)
{
    if (!r)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_make_room: ring is required");
    int rc = check_writable(r);
    if (rc < 0)
        return rc;
    if (len > r->cap)
        return vmdb__fail(VMDB_ERANGE, "%s: %zu bytes can never fit a ring of %llu",
                          r->name, len, (unsigned long long)r->cap);
    uint64_t head = *r->head;
    if (producer_space(r, head, len) >= len)
        return 0;
    if (!r->overwrite)
        return vmdb__fail(VMDB_EFULL, "%s: %zu bytes do not fit, %llu are free", r->name, len,
                          (unsigned long long)(r->cap - (head - r->producer_tail)));
    /* Drop just enough of the oldest bytes. The tail moves before any of
     * them is overwritten, so a consumer that still reads them finds out
     * when its own compare-and-swap of the tail fails. */
    uint64_t tail = load_acquire(r->tail);
    uint64_t want = head + len - r->cap;
    while (tail < want &&
           !__atomic_compare_exchange_n(r->tail, &tail, want, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
        ;
    if (tail < want)
        r->dropped += want - tail;
    r->producer_tail = tail < want ? want : tail;
    return 0;
}

int vmdb_ring_write(vmdb_ring *r, const void *src, size_t len)
{
    if (!r || (!src && len))
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_write: ring and src are required");
    int rc = vmdb_ring_make_room(r, len);
    if (rc < 0)
        return rc;
    uint64_t head = *r->head;
    memcpy(r->data + head % r->cap, src, len);
    store_release(r->head, head + len);
    return 0;
}

int vmdb_ring_vprintf(vmdb_ring *r, const char *fmt, va_list ap)
{
    if (!r || !fmt)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_printf: ring and format are required");
    int rc = check_writable(r);
    if (rc < 0)
        return rc;
    uint64_t head = *r->head;
    uint64_t space = producer_space(r, head, r->cap);
    va_list again;
    va_copy(again, ap);
    /* Formatting in place is the common case. Free space belongs to the
     * producer, so a text that turns out too long scribbles only there. */
    int n = vsnprintf(r->data + head % r->cap, (size_t)space, fmt, ap);
    if (n >= 0 && (uint64_t)n < space) {
        va_end(again);
        store_release(r->head, head + (uint64_t)n);
        return 0;
    }
    if (n < 0) {
        va_end(again);
        return vmdb__fail(VMDB_EINVAL, "%s: printf: bad format \"%s\"", r->name, fmt);
    }
    /* It fits only by dropping old bytes, or fits exactly with no room for
     * vsnprintf's NUL: format aside, then copy in. */
    char *text = malloc((size_t)n + 1);
    if (!text) {
        va_end(again);
        return vmdb__fail(VMDB_ENOMEM, "%s: printf: out of memory for %d bytes", r->name, n);
    }
    vsnprintf(text, (size_t)n + 1, fmt, again);
    va_end(again);
    rc = vmdb_ring_write(r, text, (size_t)n);
    free(text);
    return rc;
}

int vmdb_ring_printf(vmdb_ring *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vmdb_ring_vprintf(r, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- consumer ----------------------------------------------------------- */

const void *vmdb_ring_read_span(vmdb_ring *r, size_t *len)
{
    if (len)
        *len = 0;
    if (!r || !len)
        return NULL;
    uint64_t tail = load_acquire(r->tail);
    r->consumer_tail = tail;
    r->consumer_head = load_acquire(r->head);
    *len = (size_t)(r->consumer_head - tail);
    return r->data + tail % r->cap;
}

/* Moves the tail from `tail` past n bytes the consumer has finished with.
 * In overwrite mode the producer may have moved it meanwhile, dropping
 * bytes that were read: VMDB_EOVERRUN, and nothing is consumed. */
static int advance_tail(vmdb_ring *r, uint64_t tail, size_t n)
{
    if (!r->overwrite) {
        store_release(r->tail, tail + n);
        return 0;
    }
    uint64_t expect = tail;
    if (__atomic_compare_exchange_n(r->tail, &expect, tail + n, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        /* The rest of the span now starts here: a later consume from it
         * must expect the tail this one left, not the one it found. */
        r->consumer_tail = tail + n;
        return 0;
    }
    return vmdb__fail(VMDB_EOVERRUN,
                      "%s: the writer dropped bytes [%llu, %llu) while they were being read",
                      r->name, (unsigned long long)tail, (unsigned long long)expect);
}

int vmdb_ring_consume(vmdb_ring *r, size_t n)
{
    if (!r)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_consume: ring is required");
    if (r->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: opened read-only", r->name);
    /* In overwrite mode the bytes consumed must be the ones the span
     * showed, so the tail to move is the one the span started at. */
    uint64_t tail = r->overwrite ? r->consumer_tail : load_acquire(r->tail);
    if (n > r->consumer_head - tail) {
        r->consumer_head = load_acquire(r->head);
        if (n > r->consumer_head - tail)
            return vmdb__fail(VMDB_ERANGE, "%s: consume of %zu bytes, only %llu are unread",
                              r->name, n, (unsigned long long)(r->consumer_head - tail));
    }
    return advance_tail(r, tail, n);
}

int vmdb_ring_read(vmdb_ring *r, void *dst, size_t cap, size_t *len)
{
    if (len)
        *len = 0;
    if (!r || !len || (!dst && cap))
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_read: ring, dst and len are required");
    if (r->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: opened read-only", r->name);
    for (;;) {
        size_t have;
        const void *src = vmdb_ring_read_span(r, &have);
        if (have == 0)
            return vmdb__fail(VMDB_EEMPTY, "%s: nothing to read", r->name);
        size_t n = have < cap ? have : cap;
        memcpy(dst, src, n);
        int rc = advance_tail(r, r->consumer_tail, n);
        if (rc == VMDB_EOVERRUN)
            continue; /* the copy may be torn: take it again */
        if (rc == 0)
            *len = n;
        return rc;
    }
}

int vmdb_ring_read_line(vmdb_ring *r, char *dst, size_t cap, size_t *len)
{
    if (len)
        *len = 0;
    if (!r || !dst || !len)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_read_line: ring, dst and len are required");
    if (r->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: opened read-only", r->name);
    for (;;) {
        uint64_t tail = load_acquire(r->tail);
        uint64_t head = load_acquire(r->head);
        const char *src = r->data + tail % r->cap;
        size_t have = (size_t)(head - tail);
        const char *nl = memchr(src, '\n', have);
        if (!nl) {
            if (have == r->cap) {
                *len = have;
                return vmdb__fail(VMDB_ERANGE, "%s: the ring is full and holds no newline",
                                  r->name);
            }
            return vmdb__fail(VMDB_EEMPTY, "%s: no complete line to read", r->name);
        }
        size_t n = (size_t)(nl - src) + 1;
        if (n + 1 > cap) {
            *len = n;
            return vmdb__fail(VMDB_ERANGE, "%s: a line of %zu bytes does not fit %zu", r->name,
                              n, cap);
        }
        memcpy(dst, src, n);
        dst[n] = '\0';
        int rc = advance_tail(r, tail, n);
        if (rc == VMDB_EOVERRUN)
            continue; /* the copy may be torn: take it again */
        if (rc == 0)
            *len = n;
        return rc;
    }
}

/* ---- buffered I/O ------------------------------------------------------ */

int vmdb_ring_fill(vmdb_ring *r, int fd, size_t *n)
{
    if (n)
        *n = 0;
    if (!r || !n || fd < 0)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_fill: ring, descriptor and n are required");
    int rc = check_writable(r);
    if (rc < 0)
        return rc;
    size_t span;
    void *w = vmdb_ring_write_span(r, &span);
    if (span == 0)
        return 0;
    size_t got;
    rc = vmdb__os_read_some(fd, w, span, &got);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: read from fd %d", r->name, fd);
    store_release(r->head, *r->head + got);
    *n = got;
    return 0;
}

int vmdb_ring_drain(vmdb_ring *r, int fd, size_t *n)
{
    if (n)
        *n = 0;
    if (!r || !n || fd < 0)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_drain: ring, descriptor and n are required");
    if (r->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: opened read-only", r->name);
    size_t span;
    const void *rd = vmdb_ring_read_span(r, &span);
    if (span == 0)
        return 0;
    size_t put;
    int rc = vmdb__os_write_some(fd, rd, span, &put);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: write to fd %d", r->name, fd);
    /* Bytes already written out cannot be taken back: if overwrite mode
     * dropped some of them meanwhile, what went out may be torn, and the
     * caller hears of it. */
    rc = advance_tail(r, r->consumer_tail, put);
    if (rc == 0)
        *n = put;
    return rc;
}

/* ---- durability --------------------------------------------------------- */

static int flush_range(vmdb_ring *r, uint64_t from, uint64_t to, bool sync)
{
    if (to == from)
        return 0;
    /* The mirror makes [from, to) one contiguous range of addresses even
     * when it wraps; msync through the second copy writes back the same
     * file pages. */
    size_t page = r->header_len;
    size_t start = (size_t)(from % r->cap);
    size_t aligned = (size_t)vmdb__round_down(start, page);
    int rc = vmdb__os_flush(r->data + aligned, (size_t)(to - from) + (start - aligned), sync);
    if (rc < 0) {
        r->poisoned = true;
        return vmdb__fail_os(rc, "%s: flush of positions [%llu, %llu) failed, ring poisoned "
                                 "until reopened",
                             r->name, (unsigned long long)from, (unsigned long long)to);
    }
    return 0;
}

int vmdb_ring_flush(vmdb_ring *r, uint64_t from, uint64_t to, enum vmdb_flush how)
{
    if (!r)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_flush: ring is required");
    if ((unsigned)how > VMDB_FLUSH_ASYNC)
        return vmdb__fail(VMDB_EINVAL, "%s: flush mode %d is not a vmdb_flush", r->name, (int)how);
    if (r->poisoned)
        return vmdb__fail(VMDB_EPOISONED, "%s: a flush failed earlier; reopen the ring", r->name);
    if (to < from || to - from > r->cap)
        return vmdb__fail(VMDB_ERANGE, "%s: cannot flush positions [%llu, %llu) of a %llu-byte ring",
                          r->name, (unsigned long long)from, (unsigned long long)to,
                          (unsigned long long)r->cap);
    if (!r->path)
        return 0;
    return flush_range(r, from, to, how == VMDB_FLUSH_SYNC);
}

/* The header page is shared by every handle of the file, in this process
 * and others: another handle may have synced since this one did, so the
 * next copy is numbered from the newest copy in the page, not from this
 * handle's own count. Numbered below it, the copy written now would lose
 * to an older one at the next open. */
static uint64_t newest_seq(const vmdb_ring *r)
{
    uint64_t newest = r->sync_seq;
#ifndef VMDB_MUTANT_HANDLE_SYNC_SEQ
    for (unsigned i = 0; i < 2; i++) {
        struct disk_header copy;
        memcpy(&copy, header_copy(r, i), sizeof copy);
        if (check_copy(&copy) == COPY_OK && copy.seq > newest)
            newest = copy.seq;
    }
#endif
    return newest;
}

int vmdb_ring_sync(vmdb_ring *r)
{
    if (!r)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_sync: ring is required");
    int rc = check_writable(r);
    if (rc < 0 || !r->path)
        return rc;
    uint64_t tail = load_acquire(r->tail);
    uint64_t head = load_acquire(r->head);
    /* Data first: a header that points past bytes still in memory would,
     * after a power cut, hand the reader garbage as data. */
    rc = flush_range(r, tail, head, true);
    if (rc < 0)
        return rc;
    uint64_t seq = newest_seq(r) + 1;
    struct disk_header *older = header_copy(r, (unsigned)(seq % 2));
    fill_header(older, (uint32_t)r->header_len, r->cap, seq, head, tail, r->user);
    rc = vmdb__os_flush(r->region, r->header_len, true);
    if (rc < 0) {
        r->poisoned = true;
        return vmdb__fail_os(rc, "%s: flush of the header failed, ring poisoned until reopened",
                             r->name);
    }
    r->sync_seq = seq;
    r->synced_head = head;
    r->synced_tail = tail;
    r->user_staged = false;
    return 0;
}

int vmdb_ring_set_user(vmdb_ring *r, const void *data, size_t len)
{
    if (!r || (!data && len))
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_set_user: ring and data are required");
    if (len > sizeof r->user)
        return vmdb__fail(VMDB_ERANGE, "%s: %zu user bytes, the header keeps %zu", r->name, len,
                          sizeof r->user);
    memset(r->user, 0, sizeof r->user);
    memcpy(r->user, data, len);
    r->user_staged = true;
    return 0;
}

int vmdb_ring_user(const vmdb_ring *r, void *dst, size_t len)
{
    if (!r || (!dst && len))
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_user: ring and dst are required");
    if (len > sizeof r->user)
        return vmdb__fail(VMDB_ERANGE, "%s: %zu user bytes asked, the header keeps %zu", r->name,
                          len, sizeof r->user);
    /* Another handle of the file, in this process or another, may have
     * synced newer bytes since this one read them at its open: the page
     * holds them. A copy torn by a sync under way fails its checks. A
     * read-only handle keeps those of its open: it reads no page that a
     * thread of its process may be writing. */
    const uint8_t *user = r->user;
    struct disk_header newest;
    bool found = false;
    for (unsigned i = 0; r->path && !r->readonly && !r->user_staged && i < 2; i++) {
        struct disk_header copy;
        memcpy(&copy, header_copy(r, i), sizeof copy);
        if (check_copy(&copy) == COPY_OK && (!found || copy.seq > newest.seq)) {
            newest = copy;
            found = true;
        }
    }
    if (found)
        user = newest.user;
    memcpy(dst, user, len);
    return 0;
}

int vmdb_ring_reset(vmdb_ring *r, uint64_t pos)
{
    if (!r)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_reset: ring is required");
    int rc = check_writable(r);
    if (rc < 0)
        return rc;
    uint64_t tail = load_acquire(r->tail);
    if (pos < tail)
        return vmdb__fail(VMDB_ERANGE, "%s: cannot reset to position %llu, below the tail %llu",
                          r->name, (unsigned long long)pos, (unsigned long long)tail);
    /* Head first, so that no moment shows tail > head to a reader. */
    store_release(r->head, pos);
    store_release(r->tail, pos);
    r->producer_tail = r->consumer_tail = r->consumer_head = pos;
    return 0;
}

int vmdb_ring_stat(const vmdb_ring *r, vmdb_ring_info *info)
{
    if (!r || !info)
        return vmdb__fail(VMDB_EINVAL, "vmdb_ring_stat: ring and info are required");
    uint64_t tail = load_acquire(r->tail);
    uint64_t head = load_acquire(r->head);
    *info = (vmdb_ring_info){
        .path = r->path,
        .cap = r->cap,
        .head = head,
        .tail = tail,
        .used = head - tail,
        .dropped = r->dropped,
        .synced_head = r->synced_head,
        .synced_tail = r->synced_tail,
        .sync_seq = r->sync_seq,
        .version = r->version,
        .header_len = r->header_len,
        .overwrite = r->overwrite,
        .readonly = r->readonly,
    };
    return 0;
}
