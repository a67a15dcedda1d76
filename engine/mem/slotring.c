/* SPDX-License-Identifier: MIT */
/*
 * engine/mem/slotring.c - a persistent ring of fixed-size slots in a file
 * (vmdb/slotring.h).
 *
 * File format. Little-endian, offsets and sizes in bytes:
 *
 *   0      8  magic "VMDBSLOT"
 *   8      4  format version, 1
 *   12     4  header size, 4096
 *   16     4  slot_size: message bytes per slot, 1 .. 2^30
 *   20     4  stride: bytes from one slot to the next, round_up(8 + slot_size, 8)
 *   24     8  slot_count: 1 .. 2^40
 *   32     8  checksum: XXH3-64 (seed 0) of bytes [0, 32)
 *   64     8  write position   \ the producer's cache line
 *   72     8  total writes     /
 *   128    8  read position    \ the consumer's cache line
 *   136    8  total reads      /
 *   ...       zero up to 4096
 *   4096 + i * stride: slot i = u32 message length, u32 reserved (0),
 *                      then slot_size bytes of message
 *
 * The fields before the checksum are written once, at creation, and the
 * checksum covers them, so a damaged header is refused instead of being
 * trusted to size a mapping. The positions and totals change on every
 * message and carry no checksum; open checks that they are possible
 * (read <= write <= read + slot_count) instead. A file longer than its
 * geometry needs is accepted; the bytes past the last slot are ignored.
 *
 * Positions are free-running 64-bit counters of messages: the message at
 * position p lives in slot p % slot_count, used = write - read, empty is
 * write == read and full is used == slot_count. At 10^9 messages a second
 * they wrap after 584 years.
 *
 * Creation is crash-safe: the whole file (header, zeroed slots with their
 * disk blocks reserved) is built under a temporary name in the same
 * directory, fsynced, renamed into place and the directory fsynced. A
 * crash therefore leaves either no ring under the real name or a complete
 * empty one, plus at worst a stray "<name>.vmdb-new-*" file.
 *
 * Memory ordering. One producer and one consumer share the mapped header,
 * in two threads or in two processes (each maps the same page-cache pages,
 * and the 8-byte atomics are plain lock-free instructions on that shared
 * memory, so they order across processes exactly as across threads):
 *
 *   producer: store message bytes and length; then
 *             store write = p + 1 with RELEASE
 *   consumer: load write with ACQUIRE; if it is past p, the release/acquire
 *             pair guarantees the bytes and length of slot p are visible;
 *             copy the message out; then store read = p + 1 with RELEASE
 *   producer: load read with ACQUIRE before reusing slot p, which
 *             guarantees the consumer's copy finished before the producer
 *             overwrites the slot (without the release, the consumer's
 *             loads of the slot could be reordered after its store of read)
 *
 * Each side also keeps the other side's position, as last loaded, in its
 * handle, and loads the shared one again only when the cached value says
 * full (producer) or empty (consumer). Positions only grow, so a stale
 * read position can only understate the room and a stale write position
 * only the messages: the cache is always safe, and in steady state each
 * side's header line is written by its owner and rarely read by the other
 * instead of bouncing between the two cores on every message. The two
 * cached values sit on separate cache lines of the handle for the same
 * reason.
 *
 * The totals are updated by their own side only, with relaxed atomic
 * stores: a monitor reading them at the same time gets a whole value, and
 * needs no ordering.
 */
#include "vmdb/slotring.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "checksum.h"
#include "create.h"
#include "internal.h"
#include "os.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
/* The positions are used in place with atomic instructions, so they cannot
 * be byte-swapped on the way in and out: a big-endian host needs a format
 * of its own. */
#error "slot ring files are little-endian; this host is not"
#endif

_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
               "positions shared between processes need lock-free 8-byte atomics");

#define HEADER_SIZE 4096u
#define CACHE_LINE 64u
#define MAX_SLOT_SIZE (UINT32_C(1) << 30)
#define MAX_SLOT_COUNT (UINT64_C(1) << 40)
#define ALL_FLAGS (VMDB_SLOTRING_CREATE | VMDB_SLOTRING_EXCL | VMDB_SLOTRING_READONLY)

/* The header page, exactly as it lies in the file (see the top of the
 * file). Only the positions and totals change after creation. */
struct slotring_header {
    char magic[8];           /* VMDB_SLOTRING_MAGIC, no terminator */
    uint32_t version;        /* VMDB_SLOTRING_VERSION */
    uint32_t header_size;    /* bytes, HEADER_SIZE */
    uint32_t slot_size;      /* message bytes per slot */
    uint32_t stride;         /* bytes from one slot to the next */
    uint64_t slot_count;     /* slots */
    uint64_t checksum;       /* XXH3-64 of the bytes before it */
    unsigned char pad0[24];
    uint64_t write_pos;      /* messages published, a position */
    uint64_t total_writes;   /* messages ever written; reset keeps it */
    unsigned char pad1[48];
    uint64_t read_pos;       /* messages consumed, a position */
    uint64_t total_reads;    /* messages ever read; reset keeps it */
    unsigned char pad2[HEADER_SIZE - 144];
};

_Static_assert(sizeof(struct slotring_header) == HEADER_SIZE, "header is one 4 KiB page");
_Static_assert(offsetof(struct slotring_header, magic) == 0, "magic at 0");
_Static_assert(offsetof(struct slotring_header, version) == 8, "version at 8");
_Static_assert(offsetof(struct slotring_header, header_size) == 12, "header_size at 12");
_Static_assert(offsetof(struct slotring_header, slot_size) == 16, "slot_size at 16");
_Static_assert(offsetof(struct slotring_header, stride) == 20, "stride at 20");
_Static_assert(offsetof(struct slotring_header, slot_count) == 24, "slot_count at 24");
_Static_assert(offsetof(struct slotring_header, checksum) == 32, "checksum at 32");
_Static_assert(offsetof(struct slotring_header, write_pos) == 64, "write_pos at 64");
_Static_assert(offsetof(struct slotring_header, total_writes) == 72, "total_writes at 72");
_Static_assert(offsetof(struct slotring_header, read_pos) == 128, "read_pos at 128");
_Static_assert(offsetof(struct slotring_header, total_reads) == 136, "total_reads at 136");
_Static_assert(offsetof(struct slotring_header, write_pos) % CACHE_LINE == 0 &&
                   offsetof(struct slotring_header, read_pos) % CACHE_LINE == 0 &&
                   offsetof(struct slotring_header, read_pos) -
                           offsetof(struct slotring_header, write_pos) >= CACHE_LINE,
               "producer and consumer positions on cache lines of their own");

/* The bytes the checksum covers: every field fixed at creation. */
#define CHECKED_BYTES offsetof(struct slotring_header, checksum)

/* The start of every slot; the message follows it. */
struct slot_head {
    uint32_t len;      /* message bytes, <= slot_size in a sound file */
    uint32_t reserved; /* 0; keeps the message 8-byte aligned */
};

_Static_assert(sizeof(struct slot_head) == 8, "slot head is 8 bytes");
_Static_assert(offsetof(struct slot_head, len) == 0, "length at 0");
_Static_assert(offsetof(struct slot_head, reserved) == 4, "reserved at 4");

struct vmdb_slotring {
    /* Fixed at open and read by both sides. */
    vmdb_map *map;
    char *path;
    struct slotring_header *hdr; /* the mapped header page */
    unsigned char *slots;        /* slot 0, HEADER_SIZE bytes into the map */
    uint64_t slot_count;         /* slots */
    uint64_t file_size;          /* bytes, at open */
    uint32_t slot_size;          /* message bytes per slot */
    uint32_t stride;             /* bytes from one slot to the next */
    bool readonly;

    /* The producer's line: touched on every write, never by the consumer. */
    _Alignas(CACHE_LINE) uint64_t seen_read_pos; /* read position as last
                                                    loaded; <= the real one */
    bool poisoned; /* a sync failed; accessed with atomic builtins, as
                      sync may run on another thread than the producer */

    /* The consumer's line. */
    _Alignas(CACHE_LINE) uint64_t seen_write_pos; /* write position as last
                                                     loaded; <= the real one */
};

static uint64_t load_pos(const uint64_t *pos)
{
    return __atomic_load_n(pos, __ATOMIC_ACQUIRE);
}

static void publish_pos(uint64_t *pos, uint64_t value)
{
    __atomic_store_n(pos, value, __ATOMIC_RELEASE);
}

/* Totals have a single writer each; relaxed is enough for a whole value. */
static void count_one(uint64_t *total)
{
    __atomic_store_n(total, __atomic_load_n(total, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

static uint32_t stride_for(uint32_t slot_size)
{
    return (uint32_t)vmdb__round_up((uint64_t)sizeof(struct slot_head) + slot_size, 8);
}

static uint64_t file_bytes_for(uint32_t stride, uint64_t slot_count)
{
    return HEADER_SIZE + slot_count * stride;
}

/* NULL when the geometry makes a ring this library can lay out, or what is
 * wrong with it. The size limit keeps every offset inside an off_t. */
static const char *geometry_fault(uint32_t slot_size, uint64_t slot_count)
{
    if (slot_size == 0 || slot_size > MAX_SLOT_SIZE)
        return "slot_size must be 1 .. 2^30";
    if (slot_count == 0 || slot_count > MAX_SLOT_COUNT)
        return "slot_count must be 1 .. 2^40";
    if (slot_count > ((uint64_t)INT64_MAX - HEADER_SIZE) / stride_for(slot_size))
        return "the file would be larger than 2^63 bytes";
    return NULL;
}

/* ---- Opening: options, creation, validation -------------------------- */

static int check_options(const char *path, const vmdb_slotring_options *o)
{
    int rc = vmdb__options_version(o->version, VMDB_SLOTRING_OPTIONS_VERSION, path);
    if (rc < 0)
        return rc;
    bool create = (o->flags & VMDB_SLOTRING_CREATE) != 0;
    if (o->flags & ~(unsigned)ALL_FLAGS)
        return vmdb__fail(VMDB_EINVAL, "%s: unknown slot ring flag bits 0x%x", path,
                          o->flags & ~(unsigned)ALL_FLAGS);
    if ((o->flags & VMDB_SLOTRING_EXCL) && !create)
        return vmdb__fail(VMDB_EINVAL, "%s: VMDB_SLOTRING_EXCL needs VMDB_SLOTRING_CREATE", path);
    if (create && (o->flags & VMDB_SLOTRING_READONLY))
        return vmdb__fail(VMDB_EINVAL,
                          "%s: VMDB_SLOTRING_CREATE and VMDB_SLOTRING_READONLY exclude each other",
                          path);
    if (create && (o->slot_size == 0 || o->slot_count == 0))
        return vmdb__fail(VMDB_EINVAL,
                          "%s: VMDB_SLOTRING_CREATE needs slot_size and slot_count (%u, %llu given)",
                          path, o->slot_size, (unsigned long long)o->slot_count);
    if (o->slot_size > MAX_SLOT_SIZE)
        return vmdb__fail(VMDB_EINVAL, "%s: slot_size %u is larger than 2^30", path, o->slot_size);
    if (o->slot_count > MAX_SLOT_COUNT)
        return vmdb__fail(VMDB_EINVAL, "%s: slot_count %llu is larger than 2^40", path,
                          (unsigned long long)o->slot_count);
    const char *fault = o->slot_size && o->slot_count
                            ? geometry_fault(o->slot_size, o->slot_count) : NULL;
    if (fault)
        return vmdb__fail(VMDB_EINVAL, "%s: slot_size %u, slot_count %llu: %s", path,
                          o->slot_size, (unsigned long long)o->slot_count, fault);
    if (o->perm & ~07777u)
        return vmdb__fail(VMDB_EINVAL, "%s: perm 0%o is not a permission mode", path, o->perm);
    return 0;
}

/* 1 if something exists at path, 0 if nothing does, or a negative code. */
static int path_exists(const char *path)
{
    vmdb__os_stat st;
    int rc = vmdb__os_stat_path(path, &st);
    if (rc == 0)
        return 1;
    if (rc == -ENOENT)
        return 0;
    return vmdb__fail_os(rc, "%s: cannot stat", path);
}

static void fill_header(struct slotring_header *h, uint32_t slot_size, uint64_t slot_count)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, VMDB_SLOTRING_MAGIC, sizeof h->magic);
    h->version = VMDB_SLOTRING_VERSION;
    h->header_size = HEADER_SIZE;
    h->slot_size = slot_size;
    h->stride = stride_for(slot_size);
    h->slot_count = slot_count;
    h->checksum = XXH3_64bits(h, CHECKED_BYTES);
}

struct new_ring {
    uint32_t slot_size;
    uint64_t slot_count;
};

/* The new file's contents: the blocks reserved (zeroed slots, and no
 * ENOSPC as SIGBUS later) and the header. */
static int fill_file(void *ctx, int fd, const char *tmp)
{
    const struct new_ring *n = ctx;
    struct slotring_header h;
    fill_header(&h, n->slot_size, n->slot_count);
    uint64_t bytes = file_bytes_for(h.stride, n->slot_count);
    int rc = vmdb__os_allocate(fd, 0, bytes);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot reserve %llu bytes", tmp, (unsigned long long)bytes);
    rc = vmdb__os_pwrite_all(fd, &h, sizeof h, 0);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot write the header", tmp);
    return 0;
}

/* A concurrent creator that got there first keeps its file, as complete
 * as ours would be, unless EXCL asked for a new one. */
static int create_file(const char *path, const vmdb_slotring_options *o)
{
    struct new_ring n = {o->slot_size, o->slot_count};
    return vmdb__create_atomically(path, o->perm ? o->perm : 0644,
                                   (o->flags & VMDB_SLOTRING_EXCL) ? VMDB__CREATE_EXCL
                                                                   : VMDB__CREATE_KEEP,
                                   fill_file, &n);
}

static int create_if_missing(const char *path, const vmdb_slotring_options *o)
{
    if (!(o->flags & VMDB_SLOTRING_CREATE))
        return 0;
    int rc = path_exists(path);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return (o->flags & VMDB_SLOTRING_EXCL)
                   ? vmdb__fail(VMDB_EEXIST, "%s: already exists", path) : 0;
    return create_file(path, o);
}

static int check_identity(const char *path, const struct slotring_header *h)
{
    char buf[40];
    if (memcmp(h->magic, VMDB_SLOTRING_MAGIC, sizeof h->magic) != 0)
        return vmdb__fail(VMDB_EBADMAGIC, "%s: not a slot ring: magic \"%s\", expected \"%s\"",
                          path, vmdb__printable_magic(h->magic, buf), VMDB_SLOTRING_MAGIC);
    if (h->version != VMDB_SLOTRING_VERSION)
        return vmdb__fail(VMDB_EVERSION, "%s: slot ring format version %u; this library reads %u",
                          path, h->version, VMDB_SLOTRING_VERSION);
    uint64_t sum = XXH3_64bits(h, CHECKED_BYTES);
    if (!vmdb__checksum_matches(h->checksum, sum))
        return vmdb__fail(VMDB_ECORRUPT,
                          "%s: header checksum mismatch (stored %016llx, computed %016llx)", path,
                          (unsigned long long)h->checksum, (unsigned long long)sum);
    return 0;
}

/* The checksum matched, so these were written by some creator: a failure
 * here means a bug or a deliberate forgery, but must still not size a
 * mapping. */
static int check_geometry(const char *path, const struct slotring_header *h)
{
    if (h->header_size != HEADER_SIZE)
        return vmdb__fail(VMDB_ECORRUPT, "%s: header size %u, expected %u", path,
                          h->header_size, HEADER_SIZE);
    const char *fault = geometry_fault(h->slot_size, h->slot_count);
    if (fault)
        return vmdb__fail(VMDB_ECORRUPT, "%s: slot_size %u, slot_count %llu: %s", path,
                          h->slot_size, (unsigned long long)h->slot_count, fault);
    if (h->stride != stride_for(h->slot_size))
        return vmdb__fail(VMDB_ECORRUPT, "%s: stride %u, but slot_size %u needs %u", path,
                          h->stride, h->slot_size, stride_for(h->slot_size));
    return 0;
}

/* Both positions as they stood at one instant: if the read position is the
 * same before and after the write position is loaded, the pair coexisted
 * (positions only grow). A consumer moving meanwhile just costs a retry. */
static void load_positions(const struct slotring_header *h, uint64_t *write, uint64_t *read)
{
    uint64_t before = load_pos(&h->read_pos);
    for (int attempt = 0; attempt < 1000; attempt++) {
        *write = load_pos(&h->write_pos);
        uint64_t after = load_pos(&h->read_pos);
        if (after == before)
            break;
        before = after;
    }
    *read = before;
}

static int check_positions(const char *path, const struct slotring_header *h)
{
    uint64_t write, read;
    load_positions(h, &write, &read);
    if (read > write)
        return vmdb__fail(VMDB_ECORRUPT, "%s: read position %llu is past write position %llu",
                          path, (unsigned long long)read, (unsigned long long)write);
    if (write - read > h->slot_count)
        return vmdb__fail(VMDB_ECORRUPT,
                          "%s: write position %llu is %llu messages ahead of read position %llu, "
                          "but the ring has %llu slots",
                          path, (unsigned long long)write, (unsigned long long)(write - read),
                          (unsigned long long)read, (unsigned long long)h->slot_count);
    return 0;
}

static int check_wanted_geometry(const char *path, const struct slotring_header *h,
                                 const vmdb_slotring_options *o)
{
    if (o->slot_size && o->slot_size != h->slot_size)
        return vmdb__fail(VMDB_EBADSIZE, "%s: slot_size is %u in the file, %u asked", path,
                          h->slot_size, o->slot_size);
    if (o->slot_count && o->slot_count != h->slot_count)
        return vmdb__fail(VMDB_EBADSIZE, "%s: slot_count is %llu in the file, %llu asked", path,
                          (unsigned long long)h->slot_count, (unsigned long long)o->slot_count);
    return 0;
}

/* Every check a mapped file must pass before its header is trusted, in the
 * order that gives the most telling message: a file that is not a ring at
 * all says so before its sizes are blamed. */
static int check_file(const char *path, const void *base, uint64_t size,
                      const vmdb_slotring_options *o)
{
    const struct slotring_header *h = base;
    if (size < sizeof h->magic)
        return vmdb__fail(VMDB_EBADMAGIC, "%s: not a slot ring (%llu bytes, no magic)", path,
                          (unsigned long long)size);
    if (memcmp(h->magic, VMDB_SLOTRING_MAGIC, sizeof h->magic) != 0) {
        char buf[40];
        return vmdb__fail(VMDB_EBADMAGIC, "%s: not a slot ring: magic \"%s\", expected \"%s\"",
                          path, vmdb__printable_magic(h->magic, buf), VMDB_SLOTRING_MAGIC);
    }
    if (size < HEADER_SIZE)
        return vmdb__fail(VMDB_EBADSIZE,
                          "%s: truncated: %llu bytes, a slot ring header alone needs %u", path,
                          (unsigned long long)size, HEADER_SIZE);
    int rc = check_identity(path, h);
    if (rc == 0)
        rc = check_geometry(path, h);
    if (rc < 0)
        return rc;
    uint64_t need = file_bytes_for(h->stride, h->slot_count);
    if (size < need)
        return vmdb__fail(VMDB_EBADSIZE,
                          "%s: truncated: the file has %llu bytes, %llu slots of %u bytes need %llu",
                          path, (unsigned long long)size, (unsigned long long)h->slot_count,
                          h->stride, (unsigned long long)need);
    rc = check_positions(path, h);
    if (rc == 0)
        rc = check_wanted_geometry(path, h, o);
    return rc;
}

static int map_ring(vmdb_slotring *r, const vmdb_slotring_options *o)
{
    vmdb_map_options mo = {.mode = r->readonly ? VMDB_MAP_READ : VMDB_MAP_WRITE};
    int rc = vmdb_map_open(r->path, &mo, &r->map);
    if (rc < 0)
        return rc;
    r->file_size = vmdb_map_len(r->map);
    rc = check_file(r->path, vmdb_map_ptr(r->map), r->file_size, o);
    if (rc < 0)
        return rc;
    r->hdr = vmdb_map_ptr(r->map);
    r->slots = (unsigned char *)r->hdr + HEADER_SIZE;
    r->slot_size = r->hdr->slot_size;
    r->stride = r->hdr->stride;
    r->slot_count = r->hdr->slot_count;
    r->seen_read_pos = load_pos(&r->hdr->read_pos);
    r->seen_write_pos = load_pos(&r->hdr->write_pos);
    return 0;
}

/* The handle is cache-line aligned so that the producer's and the
 * consumer's fields really do sit on different lines. */
static vmdb_slotring *ring_new(const char *path, bool readonly)
{
    size_t bytes = (size_t)vmdb__round_up(sizeof(vmdb_slotring), CACHE_LINE);
    vmdb_slotring *r = aligned_alloc(CACHE_LINE, bytes);
    if (!r)
        return NULL;
    memset(r, 0, bytes);
    r->path = strdup(path);
    if (!r->path) {
        free(r);
        return NULL;
    }
    r->readonly = readonly;
    return r;
}

int vmdb_slotring_open(const char *path, const vmdb_slotring_options *opts, vmdb_slotring **out)
{
    static const vmdb_slotring_options defaults = VMDB_SLOTRING_OPTIONS_INIT;
    const vmdb_slotring_options *o = opts ? opts : &defaults;
    if (out)
        *out = NULL;
    if (!path || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_slotring_open: path and out are required");
    int rc = check_options(path, o);
    if (rc == 0)
        rc = create_if_missing(path, o);
    if (rc < 0)
        return rc;
    vmdb_slotring *r = ring_new(path, (o->flags & VMDB_SLOTRING_READONLY) != 0);
    if (!r)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    rc = map_ring(r, o);
    if (rc < 0) {
        vmdb_slotring_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void vmdb_slotring_close(vmdb_slotring *r)
{
    if (!r)
        return;
    vmdb_map_close(r->map);
    free(r->path);
    free(r);
}

size_t vmdb_slotring_stride(const vmdb_slotring *r)
{
    return r ? r->stride : 0;
}

/* ---- Slots ----------------------------------------------------------- */

static struct slot_head *slot_at(const vmdb_slotring *r, uint64_t pos)
{
    return (struct slot_head *)(r->slots + (pos % r->slot_count) * r->stride);
}

static unsigned char *message_of(struct slot_head *s)
{
    return (unsigned char *)(s + 1);
}

/* Loaded exactly once: the length is checked against slot_size and then
 * used, and a second load could see another value (a damaged file, or a
 * stray writer in another process) and copy past the slot. */
static uint32_t stored_len(const struct slot_head *s)
{
    return __atomic_load_n(&s->len, __ATOMIC_RELAXED);
}

/* ---- Producer -------------------------------------------------------- */

static int check_producer(vmdb_slotring *r, const char *op)
{
    if (r->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: %s refused: the slot ring was opened read-only",
                          r->path, op);
    if (__atomic_load_n(&r->poisoned, __ATOMIC_RELAXED))
        return vmdb__fail(VMDB_EPOISONED, "%s: %s refused: a sync failed earlier; reopen the ring",
                          r->path, op);
    return 0;
}

/* Whether slot `write_pos` is free, looking at the consumer's real
 * position only when the cached one says the ring is full. */
static bool has_room(vmdb_slotring *r, uint64_t write_pos)
{
    if (write_pos - r->seen_read_pos < r->slot_count)
        return true;
    r->seen_read_pos = load_pos(&r->hdr->read_pos);
    return write_pos - r->seen_read_pos < r->slot_count;
}

/* The next free slot, or VMDB_EFULL. *pos gets its position. A full ring
 * is an answer a spinning producer polls for, not a failure: no message is
 * formatted (that would cost more than the poll) and the error context is
 * left alone. */
static int free_slot(vmdb_slotring *r, uint64_t *pos, struct slot_head **slot)
{
    *pos = load_pos(&r->hdr->write_pos);
    if (!has_room(r, *pos))
        return VMDB_EFULL;
    *slot = slot_at(r, *pos);
    return 0;
}

static int check_message_len(const vmdb_slotring *r, size_t len)
{
    if (len > r->slot_size)
        return vmdb__fail(VMDB_ERANGE, "%s: message of %zu bytes does not fit a slot of %u bytes",
                          r->path, len, r->slot_size);
    return 0;
}

/* The length is stored before the release of the write position, so the
 * consumer that sees the position sees the length too. */
static void publish_message(vmdb_slotring *r, uint64_t pos, struct slot_head *s, size_t len)
{
    __atomic_store_n(&s->len, (uint32_t)len, __ATOMIC_RELAXED);
    count_one(&r->hdr->total_writes);
    publish_pos(&r->hdr->write_pos, pos + 1);
}

int vmdb_slotring_write(vmdb_slotring *r, const void *data, size_t len)
{
    if (!r || (!data && len))
        return vmdb__fail(VMDB_EINVAL, "vmdb_slotring_write: ring and data are required");
    int rc = check_producer(r, "write");
    if (rc == 0)
        rc = check_message_len(r, len);
    uint64_t pos;
    struct slot_head *s;
    if (rc == 0)
        rc = free_slot(r, &pos, &s);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(message_of(s), data, len);
    publish_message(r, pos, s, len);
    return 0;
}

int vmdb_slotring_write_ptr(vmdb_slotring *r, void **ptr)
{
    if (ptr)
        *ptr = NULL;
    if (!r || !ptr)
        return vmdb__fail(VMDB_EINVAL, "vmdb_slotring_write_ptr: ring and ptr are required");
    int rc = check_producer(r, "write_ptr");
    uint64_t pos;
    struct slot_head *s;
    if (rc == 0)
        rc = free_slot(r, &pos, &s);
    if (rc < 0)
        return rc;
    *ptr = message_of(s);
    return 0;
}

int vmdb_slotring_advance_write(vmdb_slotring *r, size_t len)
{
    if (!r)
        return vmdb__fail(VMDB_EINVAL, "vmdb_slotring_advance_write: ring is required");
    int rc = check_producer(r, "advance_write");
    if (rc == 0)
        rc = check_message_len(r, len);
    uint64_t pos;
    struct slot_head *s;
    if (rc == 0)
        rc = free_slot(r, &pos, &s);
    if (rc < 0)
        return rc;
    publish_message(r, pos, s, len);
    return 0;
}

/* ---- Consumer -------------------------------------------------------- */

/* Whether a message waits at `read_pos`, looking at the producer's real
 * position only when the cached one says the ring is empty. A cached value
 * more than slot_count ahead, which a sound ring never has, is not trusted
 * either (it can be left behind by a reset done through another handle;
 * see vmdb_slotring_reset for why such handles are reopened anyway). */
static bool has_message(vmdb_slotring *r, uint64_t read_pos)
{
    if (r->seen_write_pos - read_pos - 1 < r->slot_count)
        return true;
    r->seen_write_pos = load_pos(&r->hdr->write_pos);
    return r->seen_write_pos != read_pos;
}

/* The oldest unread message, in place, or VMDB_EEMPTY / VMDB_ECORRUPT.
 * *pos gets its position. */
static int oldest_message(vmdb_slotring *r, uint64_t *pos, const unsigned char **msg,
                          size_t *len)
{
    *pos = load_pos(&r->hdr->read_pos);
    if (!has_message(r, *pos))
        return VMDB_EEMPTY; /* an answer, like a full ring: see free_slot() */
    struct slot_head *s = slot_at(r, *pos);
    uint32_t n = stored_len(s);
    if (n > r->slot_size)
        return vmdb__fail(VMDB_ECORRUPT,
                          "%s: slot %llu: stored length %u is larger than the slot size %u",
                          r->path, (unsigned long long)(*pos % r->slot_count), n, r->slot_size);
    *msg = message_of(s);
    *len = n;
    return 0;
}

/* The consumer's reads of the slot are done before the release, so the
 * producer that sees the new read position cannot overwrite them early. */
static void consume(vmdb_slotring *r, uint64_t pos)
{
    count_one(&r->hdr->total_reads);
    publish_pos(&r->hdr->read_pos, pos + 1);
}

static int check_consumer(const vmdb_slotring *r, const char *op)
{
    if (r->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: %s refused: the slot ring was opened read-only",
                          r->path, op);
    return 0;
}

/* read and peek: copy the oldest message out, consuming it or not. */
static int copy_oldest(vmdb_slotring *r, void *dst, size_t cap, size_t *len, bool take)
{
    uint64_t pos;
    const unsigned char *msg;
    size_t n;
    int rc = oldest_message(r, &pos, &msg, &n);
    if (rc < 0)
        return rc;
    if (n > cap) {
        *len = n;
        return vmdb__fail(VMDB_ERANGE,
                          "%s: message of %zu bytes does not fit the %zu bytes given; "
                          "nothing consumed", r->path, n, cap);
    }
    if (n)
        memcpy(dst, msg, n);
    *len = n;
    if (take)
        consume(r, pos);
    return 0;
}

int vmdb_slotring_read(vmdb_slotring *r, void *dst, size_t cap, size_t *len)
{
    if (len)
        *len = 0;
    if (!r || !len || (!dst && cap))
        return vmdb__fail(VMDB_EINVAL, "vmdb_slotring_read: ring, dst and len are required");
    int rc = check_consumer(r, "read");
    return rc < 0 ? rc : copy_oldest(r, dst, cap, len, true);
}

int vmdb_slotring_peek(vmdb_slotring *r, void *dst, size_t cap, size_t *len)
{
    if (len)
        *len = 0;
    if (!r || !len || (!dst && cap))
        return vmdb__fail(VMDB_EINVAL, "vmdb_slotring_peek: ring, dst and len are required");
    return copy_oldest(r, dst, cap, len, false);
}

int vmdb_slotring_read_ptr(vmdb_slotring *r, const void **ptr, size_t *len)
{
    if (ptr)
        *ptr = NULL;
    if (len)
        *len = 0;
    if (!r || !ptr || !len)
        return vmdb__fail(VMDB_EINVAL, "vmdb_slotring_read_ptr: ring, ptr and len are required");
    uint64_t pos;
    const unsigned char *msg;
    size_t n;
    int rc = oldest_message(r, &pos, &msg, &n);
    if (rc < 0)
        return rc;
    *ptr = msg;
    *len = n;
    return 0;
}

int vmdb_slotring_advance_read(vmdb_slotring *r)
{
    if (!r)
        return vmdb__fail(VMDB_EINVAL, "vmdb_slotring_advance_read: ring is required");
    int rc = check_consumer(r, "advance_read");
    if (rc < 0)
        return rc;
    uint64_t pos = load_pos(&r->hdr->read_pos);
    if (!has_message(r, pos))
        return vmdb__fail(VMDB_EEMPTY, "%s: advance_read on an empty slot ring", r->path);
    consume(r, pos);
    return 0;
}

/* ---- Inspection ------------------------------------------------------ */

bool vmdb_slotring_has_data(const vmdb_slotring *r)
{
    if (!r)
        return false;
    uint64_t write, read;
    load_positions(r->hdr, &write, &read);
    return write != read;
}

bool vmdb_slotring_is_full(const vmdb_slotring *r)
{
    if (!r)
        return false;
    uint64_t write, read;
    load_positions(r->hdr, &write, &read);
    return write - read >= r->slot_count;
}

int vmdb_slotring_stat(const vmdb_slotring *r, vmdb_slotring_info *stats)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!r || !stats)
        return vmdb__fail(VMDB_EINVAL, "vmdb_slotring_stat: ring and stats are required");
    uint64_t write, read;
    load_positions(r->hdr, &write, &read);
    *stats = (vmdb_slotring_info){
        .slot_size = r->slot_size,
        .slot_count = r->slot_count,
        .write_pos = write,
        .read_pos = read,
        /* Clamped: a ring damaged under us must not report more messages
         * than it has slots. */
        .used = write - read <= r->slot_count ? write - read : r->slot_count,
        .total_writes = __atomic_load_n(&r->hdr->total_writes, __ATOMIC_RELAXED),
        .total_reads = __atomic_load_n(&r->hdr->total_reads, __ATOMIC_RELAXED),
        .version = r->hdr->version,
        .file_size = r->file_size,
    };
    return 0;
}

int vmdb_slotring_slot(const vmdb_slotring *r, uint64_t index, const void **ptr, size_t *len)
{
    if (ptr)
        *ptr = NULL;
    if (len)
        *len = 0;
    if (!r || !ptr || !len)
        return vmdb__fail(VMDB_EINVAL, "vmdb_slotring_slot: ring, ptr and len are required");
    if (index >= r->slot_count)
        return vmdb__fail(VMDB_ERANGE, "%s: slot index %llu is out of range (slot_count %llu)",
                          r->path, (unsigned long long)index, (unsigned long long)r->slot_count);
    struct slot_head *s = slot_at(r, index);
    *ptr = message_of(s);
    *len = stored_len(s);
    return 0;
}

/* ---- Maintenance ----------------------------------------------------- */

/* Each step leaves a ring that opens: first it is emptied where it stands
 * (read = write), then the slots are zeroed, then the positions go back to
 * 0. Only the instant between the last two stores (write 0, read not yet)
 * would be refused as impossible if the process died or the header page
 * reached the disk right then. */
int vmdb_slotring_reset(vmdb_slotring *r)
{
    if (!r)
        return vmdb__fail(VMDB_EINVAL, "vmdb_slotring_reset: ring is required");
    int rc = check_producer(r, "reset");
    if (rc < 0)
        return rc;
    publish_pos(&r->hdr->read_pos, load_pos(&r->hdr->write_pos));
    memset(r->slots, 0, (size_t)(r->slot_count * r->stride));
    publish_pos(&r->hdr->write_pos, 0);
    publish_pos(&r->hdr->read_pos, 0);
    r->seen_read_pos = 0;
    r->seen_write_pos = 0;
    return 0;
}

/* The map poisons itself when a flush fails; the ring copies the verdict
 * into the handle so that the producer's calls and reset can refuse with
 * one load. The consumer's calls still work: draining what is in memory
 * loses nothing more than the failed write-back already did. */
int vmdb_slotring_sync(vmdb_slotring *r, enum vmdb_flush how)
{
    if (!r)
        return vmdb__fail(VMDB_EINVAL, "vmdb_slotring_sync: ring is required");
    int rc = vmdb_map_flush(r->map, 0, 0, how);
    vmdb_map_info info;
    if (rc < 0 && vmdb_map_stat(r->map, &info) == 0 && info.poisoned)
        __atomic_store_n(&r->poisoned, true, __ATOMIC_RELAXED);
    return rc;
}
