/* SPDX-License-Identifier: MIT */
/*
 * engine/store/index.c - the primary hash index (engine/store/index.h).
 *
 * File format. Little-endian, offsets and sizes in bytes:
 *
 *   0      8  magic "VMDBINDX"
 *   8      4  format version, 1
 *   12     4  header_size: bytes before the first array, 4096
 *   16     4  entry_size: bytes per entry, 16
 *   20     4  reserved, 0
 *   24     8  checksum: XXH3-64 (seed 0) of bytes [0, 24)
 *   64     8  seq: the change counter; odd while the writer moves entries
 *   72     8  active: where the live array is, (offset / 4096) << 6 | log2(capacity)
 *   128    8  count: live entries
 *   ...       zero up to 4096
 *   then arrays ("regions"), each at a 4096-byte boundary, of capacity
 *   entries { u64 hash; u64 rid + 1 }; rid + 1 == 0 marks an empty entry,
 *   so a zero-filled file is an empty index.
 *
 * The fields before the checksum never change after creation, and the
 * checksum covers them. seq, active and count change all the time and
 * carry no checksum; open checks that they are possible instead (active
 * names a region inside the file, count <= capacity). seq and active share
 * the readers' cache line; count, written by every insert, has its own, so
 * inserts do not take that line away from the readers.
 *
 * Lookup. An entry's home slot is the top log2(capacity) bits of its hash
 * (a shift; no division and no mask), and a lookup reads entries from there
 * on until it meets an empty one. Capacity is a power of two (at least 64),
 * kept at most 3/4 full, so clusters stay short and there is always an
 * empty entry to stop at.
 *
 * Concurrency. One writer at a time, any number of readers, in threads and
 * other processes (the 8-byte atomics below are plain instructions on the
 * shared page-cache pages, so they order across processes exactly as
 * across threads). The database's write lock serializes writers; they may
 * take turns from different processes, each with its own writable handle,
 * and one that takes the lock after another process wrote calls
 * vmdb__index_refresh() before changing anything. Readers take no lock and
 * never wait for the writer to finish a hit; they rely on three rules:
 *
 *   1. Every hit is confirmed by the caller's callback against the real
 *      key, so an entry read while the writer was overwriting it (hash of
 *      one write, rid of another) costs a callback and nothing else.
 *
 *   2. An insert only ever fills an empty entry, and a replace rewrites one
 *      8-byte rid: neither moves an entry nor empties one, so neither can
 *      hide a present key from a reader, and neither touches seq. The
 *      writer stores the hash, then rid + 1 with RELEASE; a reader loads
 *      rid + 1 with ACQUIRE, then the hash, so a reader that sees the new
 *      rid sees the hash stored with it. A clear empties every entry, and
 *      a miss it causes is the true answer just after it (see
 *      vmdb__index_clear), so it does not touch seq either.
 *
 *   3. The backward shift of a removal moves other keys' entries, so it
 *      can make a key that stays present briefly invisible. It is a change
 *      bracketed by seq, as a seqlock, and a miss is believed only if seq
 *      was even and the same before and after the probe. Publishing a
 *      grown array is bracketed too, though the old array stays complete
 *      and unchanged: a reader still probing it can only miss keys
 *      inserted after its lookup began, but the bump sends it to the new
 *      array rather than answer from a stale one.
 *
 *        writer: seq = s + 1 (relaxed); release fence;
 *                move entries (relaxed stores);
 *                seq = s + 2 with RELEASE
 *        reader: s1 = seq with ACQUIRE; probe (relaxed / acquire loads);
 *                acquire fence; s2 = seq (relaxed);
 *                miss is true iff s1 == s2 and s1 is even, else probe again
 *
 *      If the probe saw any store of the change, the writer's release
 *      fence synchronizes with the reader's acquire fence, so the reader's
 *      second load sees s + 1 or later and the miss is retried. If s1 was
 *      s + 2, the acquire load made every store of the change visible.
 *
 * A reader whose miss is not confirmed probes again at once, or, while seq
 * is odd, spins (with the CPU's pause hint, no system call) until it
 * changes. A writer that died in the middle of a change leaves seq odd for
 * good: after a bounded spin the reader gives up with VMDB_EBUSY rather
 * than hang. Hits never wait.
 *
 * Growth. When an insert would pass the 0.75 load factor, the writer
 * extends the file, builds the array of twice the capacity in the new
 * space while readers keep using the old one (untouched), then publishes
 * it with one atomic store of `active` inside a seq bracket. The new array
 * is always appended after the active one, so the file holds the live
 * array plus the dead ones of earlier sizes, about twice the live array;
 * a SYNC flush (every checkpoint) then gives the dead ones' blocks back
 * to the file system (give_back_outgrown), so on disk the file takes the
 * header and the live array.
 * Reusing the dead space would hardly save anything with doubling: the
 * dead arrays before the active one add up to less than the active one
 * (64 + 128 + ... + C/2 < C, give or take the page rounding of the
 * smallest), so the next array (2C) does not fit in their space, and
 * rewriting bytes a slow reader may still be probing would need more care
 * than appending does. Appending also means no reader ever sees a region it is probing
 * being rewritten, except by a clear. The whole file lives in one map
 * with room for four times the file (VMDB_MAP_MOVABLE; a fixed terabyte
 * per index ran a process out of address space at about 115 tables), and
 * vmdb_map_grow() maps the new part in place, or, past the reservation,
 * moves the map to one four times larger. A move publishes the new `base`
 * before the `mapped` that needs it, and the old place stays mapped until
 * close, on the same file pages: readers in other threads keep probing
 * through whichever base they loaded, and `hdr` stays in the first place
 * for good.
 *
 * A reader in another process maps the file as it was when it opened. When
 * it meets an active region past its map, it extends its own map to follow
 * the file (the writer extended the file and filled the array before
 * publishing it, so the bytes are there). That is safe while other threads
 * read through the same handle because nothing already mapped changes and
 * no place is unmapped before close. A mutex in the handle
 * keeps two threads from growing the map at once (readers following, the
 * writer growing or refreshing); it is the only lock a reader ever takes,
 * once per growth of the index. The same holds for readers on a writer's
 * handle in a process that is not holding the write lock just now.
 */
#include "index.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "checksum.h"
#include "create.h"
#include "internal.h"
#include "os.h"

#define HEADER_SIZE 4096u
#define ENTRY_SIZE 16u
#define REGION_ALIGN 4096u /* `active` stores a region's offset in these */
#define CHECKED_BYTES 24u  /* header bytes the checksum covers */
#define MIN_BITS 6u        /* log2(VMDB__INDEX_MIN_CAP) */
#define MAX_BITS 40u       /* 2^40 entries: 16 TiB of array */
#define MAX_PAGES ((uint64_t)1 << 40) /* region offsets below 4 PiB */

/* A lookup whose miss cannot be confirmed because seq stays odd gives up
 * as every seqlock reader does (vmdb__seqlock_wait). One whose miss keeps
 * failing because seq keeps moving gives up after this many probes. */
#define RETRY_LIMIT ((uint64_t)1 << 20)

_Static_assert(((uint64_t)1 << MIN_BITS) == VMDB__INDEX_MIN_CAP, "MIN_BITS");

struct index_header {
    char magic[8];        /* VMDB__INDEX_MAGIC */
    uint32_t version;     /* VMDB__INDEX_VERSION */
    uint32_t header_size; /* bytes before the first region: HEADER_SIZE */
    uint32_t entry_size;  /* bytes per entry: ENTRY_SIZE */
    uint32_t reserved;    /* zero */
    uint64_t checksum;    /* XXH3-64 of the CHECKED_BYTES before it */
    uint8_t zero1[32];
    uint64_t seq;         /* change counter, odd during a change */
    uint64_t active;      /* region word: (offset / 4096) << 6 | log2(cap) */
    uint8_t zero2[48];
    uint64_t count;       /* live entries */
};
_Static_assert(sizeof(struct index_header) == 136, "index_header layout");
_Static_assert(offsetof(struct index_header, version) == 8, "index_header layout");
_Static_assert(offsetof(struct index_header, header_size) == 12, "index_header layout");
_Static_assert(offsetof(struct index_header, entry_size) == 16, "index_header layout");
_Static_assert(offsetof(struct index_header, reserved) == 20, "index_header layout");
_Static_assert(offsetof(struct index_header, checksum) == CHECKED_BYTES, "index_header layout");
_Static_assert(offsetof(struct index_header, seq) == 64, "index_header layout");
_Static_assert(offsetof(struct index_header, active) == 72, "index_header layout");
_Static_assert(offsetof(struct index_header, count) == 128, "index_header layout");

struct entry {
    uint64_t hash; /* XXH3-64 of the key */
    uint64_t rid1; /* rid + 1; 0 = empty */
};
_Static_assert(sizeof(struct entry) == ENTRY_SIZE, "entry layout");
_Static_assert(offsetof(struct entry, rid1) == 8, "entry layout");

struct vmdb__index {
    char *path;
    vmdb_map *map;
    unsigned char *base;       /* vmdb_map_ptr(map): file offset 0; moves
                                  with the map, stored before `mapped`,
                                  loaded after it */
    struct index_header *hdr;  /* the header in the first place the map
                                  had, which stays mapped until close */
    uint64_t mapped;           /* bytes of the file mapped; readers load it
                                  with acquire, growth stores with release */
    bool readonly;
    bool poisoned;             /* a flush failed: refuse changes */
    bool interrupted;          /* seq was odd at open: a writer died mid-change;
                                  the writer clears it, stats may read it from
                                  any thread, so both use atomics */
    pthread_mutex_t follow_lock; /* one thread grows the map at a time */
    uint64_t given_back;         /* the writer's: file bytes before this
                                    offset went back to the file system */
};

/* The least address space an index reserves; the map layer reserves four
 * times the file when that is more. */
#define INDEX_MIN_RESERVE ((uint64_t)1 << 20)

/* A decoded region word. */
struct region {
    struct entry *slots;
    uint64_t off;   /* file offset, bytes */
    uint64_t bytes; /* ENTRY_SIZE << bits */
    uint64_t mask;  /* capacity - 1 */
    unsigned bits;  /* log2(capacity) */
};

/* ---- atomics ------------------------------------------------------------ */

static inline uint64_t load_relaxed(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline uint64_t load_acquire(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store_relaxed(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline void store_release(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- regions ------------------------------------------------------------ */

static uint64_t region_word(uint64_t off, unsigned bits)
{
    return (off / REGION_ALIGN) << 6 | bits;
}

/* Whether a region word could have been written by a writer: its array
 * starts after the header and both its offset and size are in range. */
static bool word_possible(uint64_t w)
{
    unsigned bits = (unsigned)(w & 63);
    uint64_t pages = w >> 6;
    return bits >= MIN_BITS && bits <= MAX_BITS && pages >= HEADER_SIZE / REGION_ALIGN &&
           pages < MAX_PAGES;
}

/* Decodes a word that word_possible() accepted. */
static struct region decode(const vmdb__index *ix, uint64_t w)
{
    struct region r;
    r.bits = (unsigned)(w & 63);
    r.off = (w >> 6) * REGION_ALIGN;
    r.bytes = (uint64_t)ENTRY_SIZE << r.bits;
    r.mask = ((uint64_t)1 << r.bits) - 1;
    r.slots = (struct entry *)(__atomic_load_n(&ix->base, __ATOMIC_RELAXED) + r.off);
    return r;
}

/* The writer's own view: it alone stores `active`, so a relaxed load is
 * enough. */
static struct region writer_region(const vmdb__index *ix)
{
    return decode(ix, load_relaxed(&ix->hdr->active));
}

static inline uint64_t home_of(uint64_t hash, unsigned bits)
{
    return hash >> (64 - bits);
}

/* The smallest log2(capacity) that holds `count` entries at load <= 0.75,
 * or MAX_BITS + 1 if none does. */
static unsigned bits_for(uint64_t count)
{
    unsigned bits = MIN_BITS;
    while (bits <= MAX_BITS && count > ((uint64_t)3 << bits) / 4)
        bits++;
    return bits;
}

/* ---- the change counter ------------------------------------------------- */

/* Starts a change that may hide present entries from readers (see the
 * essay). While the handle is `interrupted`, seq is already odd and stays
 * so until vmdb__index_clear(). */
static bool is_interrupted(const vmdb__index *ix)
{
    return __atomic_load_n(&ix->interrupted, __ATOMIC_RELAXED);
}

static void change_begin(vmdb__index *ix)
{
    if (is_interrupted(ix))
        return;
    uint64_t s = load_relaxed(&ix->hdr->seq);
    store_relaxed(&ix->hdr->seq, s + 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void change_end(vmdb__index *ix)
{
    if (is_interrupted(ix))
        return;
    uint64_t s = load_relaxed(&ix->hdr->seq);
    store_release(&ix->hdr->seq, s + 1);
}

/* ---- creating the file -------------------------------------------------- */

static void fill_header(struct index_header *h, unsigned bits)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, VMDB__INDEX_MAGIC, sizeof h->magic);
    h->version = VMDB__INDEX_VERSION;
    h->header_size = HEADER_SIZE;
    h->entry_size = ENTRY_SIZE;
    h->checksum = XXH3_64bits(h, CHECKED_BYTES);
    h->active = region_word(HEADER_SIZE, bits);
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

/* The new file's contents: the header and a zeroed first array with its
 * disk blocks reserved. */
static int fill_file(void *ctx, int fd, const char *tmp)
{
    unsigned bits = *(const unsigned *)ctx;
    struct index_header h;
    fill_header(&h, bits);
    uint64_t bytes = HEADER_SIZE + ((uint64_t)ENTRY_SIZE << bits);
    int rc = vmdb__os_allocate(fd, 0, bytes);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot reserve %llu bytes for a new index", tmp,
                             (unsigned long long)bytes);
    rc = vmdb__os_pwrite_all(fd, &h, sizeof h, 0);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot write the header of a new index", tmp);
    return 0;
}

/* One appearing meanwhile is kept: there is one writer, so that one is as
 * new and empty as ours. */
static int create_if_missing(const char *path, unsigned bits)
{
    int rc = path_exists(path);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    return vmdb__create_atomically(path, 0644, VMDB__CREATE_KEEP, fill_file, &bits);
}

/* ---- opening ------------------------------------------------------------ */

/* active and count as they stood at one moment: count only moves with
 * inserts and removes, which keep it within the capacity of the array
 * active names, so a pair read with the same active before and after is
 * consistent even while a writer runs. */
static void load_active_and_count(const struct index_header *h, uint64_t *w, uint64_t *count)
{
    uint64_t before = load_acquire(&h->active);
    for (int attempt = 0; attempt < 1000; attempt++) {
        *count = load_relaxed(&h->count);
        uint64_t after = load_acquire(&h->active);
        if (after == before)
            break;
        before = after;
    }
    *w = before;
}

/* Every check a mapped file passes before its header is trusted, in the
 * order that gives the most telling message. */
static int check_file(vmdb__index *ix, uint64_t size)
{
    const char *path = ix->path;
    const struct index_header *h = ix->hdr;
    char buf[40];
    if (size >= sizeof h->magic && memcmp(h->magic, VMDB__INDEX_MAGIC, sizeof h->magic) != 0)
        return vmdb__fail(VMDB_EBADMAGIC, "%s: not a vmdb index: magic \"%s\", expected \"%s\"",
                          path, vmdb__printable_magic(h->magic, buf), VMDB__INDEX_MAGIC);
    if (size < HEADER_SIZE)
        return vmdb__fail(VMDB_EBADSIZE,
                          "%s: truncated: %llu bytes, an index header alone needs %u", path,
                          (unsigned long long)size, HEADER_SIZE);
    if (h->version != VMDB__INDEX_VERSION)
        return vmdb__fail(VMDB_EVERSION, "%s: index format version %u; this library reads %u",
                          path, h->version, VMDB__INDEX_VERSION);
    uint64_t sum = XXH3_64bits(h, CHECKED_BYTES);
    if (!vmdb__checksum_matches(h->checksum, sum))
        return vmdb__fail(VMDB_ECORRUPT,
                          "%s: header checksum mismatch (stored %016llx, computed %016llx)", path,
                          (unsigned long long)h->checksum, (unsigned long long)sum);
    if (h->header_size != HEADER_SIZE || h->entry_size != ENTRY_SIZE)
        return vmdb__fail(VMDB_ECORRUPT, "%s: header size %u and entry size %u, expected %u and %u",
                          path, h->header_size, h->entry_size, HEADER_SIZE, ENTRY_SIZE);
    uint64_t w, count;
    load_active_and_count(h, &w, &count);
    if (!word_possible(w))
        return vmdb__fail(VMDB_ECORRUPT,
                          "%s: impossible active region (word %#llx: offset %llu, capacity 2^%u)",
                          path, (unsigned long long)w,
                          (unsigned long long)((w >> 6) * REGION_ALIGN), (unsigned)(w & 63));
    struct region r = decode(ix, w);
    vmdb__os_stat st;
    if (r.off + r.bytes > size && vmdb__os_stat_path(path, &st) == 0 &&
        st.size >= r.off + r.bytes) {
        /* A writer in another process grew the file and switched to the
         * new array between the mapping and this look: follow it. */
        int rc = vmdb_map_grow(ix->map, r.off + r.bytes);
        if (rc < 0)
            return rc;
        size = ix->mapped = vmdb_map_len(ix->map);
    }
    if (r.off + r.bytes > size)
        return vmdb__fail(VMDB_EBADSIZE,
                          "%s: truncated: the active array ends at %llu bytes, the file has %llu",
                          path, (unsigned long long)(r.off + r.bytes), (unsigned long long)size);
    if (count > r.mask + 1)
        return vmdb__fail(VMDB_ECORRUPT, "%s: count %llu is above the capacity %llu", path,
                          (unsigned long long)count, (unsigned long long)(r.mask + 1));
    return 0;
}

/* Maps the whole file with room to grow; where even that much address
 * space is refused, with less, and the map moves when it outgrows it. */
static int map_file(vmdb__index *ix)
{
    vmdb_map_options o = {
        .mode = ix->readonly ? VMDB_MAP_READ : VMDB_MAP_WRITE,
        .reserve = INDEX_MIN_RESERVE,
        .flags = VMDB_MAP_MOVABLE | VMDB_MAP_RESERVE_SHRINK,
    };
    return vmdb_map_open(ix->path, &o, &ix->map);
}

static vmdb__index *index_new(const char *path, bool readonly)
{
    vmdb__index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return NULL;
    ix->path = strdup(path);
    if (!ix->path || pthread_mutex_init(&ix->follow_lock, NULL) != 0) {
        free(ix->path);
        free(ix);
        return NULL;
    }
    ix->readonly = readonly;
    return ix;
}

void vmdb__index_close(vmdb__index *ix)
{
    if (!ix)
        return;
    vmdb_map_close(ix->map);
    pthread_mutex_destroy(&ix->follow_lock);
    free(ix->path);
    free(ix);
}

int vmdb__index_open(const char *path, unsigned flags, uint64_t initial_count,
                     vmdb__index **out)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb__index_open: path and out are required");
    unsigned known = VMDB__INDEX_CREATE | VMDB__INDEX_READONLY;
    if (flags & ~known)
        return vmdb__fail(VMDB_EINVAL, "%s: unknown index flag bits 0x%x", path, flags & ~known);
    bool readonly = (flags & VMDB__INDEX_READONLY) != 0;
    if (readonly && (flags & VMDB__INDEX_CREATE))
        return vmdb__fail(VMDB_EINVAL, "%s: a read-only index handle cannot create the file",
                          path);
    unsigned bits = bits_for(initial_count);
    if (bits > MAX_BITS)
        return vmdb__fail(VMDB_EINVAL, "%s: initial_count %llu is more than an index holds", path,
                          (unsigned long long)initial_count);
    int rc = 0;
    if (flags & VMDB__INDEX_CREATE)
        rc = create_if_missing(path, bits);
    if (rc < 0)
        return rc;
    vmdb__index *ix = index_new(path, readonly);
    if (!ix)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    rc = map_file(ix);
    if (rc == 0) {
        ix->base = vmdb_map_ptr(ix->map);
        ix->hdr = (struct index_header *)ix->base;
        ix->mapped = vmdb_map_len(ix->map);
        rc = check_file(ix, ix->mapped);
    }
    if (rc < 0) {
        vmdb__index_close(ix);
        return rc;
    }
    /* Only the writer can tell a dead writer from a live one: a reader may
     * simply have opened in the middle of a change. */
    ix->interrupted = !readonly && (load_relaxed(&ix->hdr->seq) & 1);
    *out = ix;
    return 0;
}

const vmdb_map *vmdb__index_map(const vmdb__index *ix)
{
    return ix ? ix->map : NULL;
}

uint64_t vmdb__index_hash(const void *key, size_t len)
{
    return XXH3_64bits(key, len);
}

/* ---- lookup ------------------------------------------------------------- */

/* After the map grew, which may have moved it. The caller holds
 * follow_lock and stores `mapped` after this, with release: a reader that
 * loads `mapped` with acquire, then `base`, gets a base that covers it. */
static void publish_base(vmdb__index *ix)
{
    __atomic_store_n(&ix->base, (unsigned char *)vmdb_map_ptr(ix->map), __ATOMIC_RELAXED);
}

/*
 * Maps the file up to `end` bytes, for a region some writer published.
 * The caller holds follow_lock. A writable map's growth would extend the
 * file (fallocate), and a reader must never extend a file on the word of
 * a damaged header, so a writer's handle first checks that the bytes
 * exist; a read-only map's growth checks that itself.
 */
static int map_up_to(vmdb__index *ix, uint64_t end)
{
    int rc = 0;
    if (end > vmdb_map_len(ix->map)) {
        if (!ix->readonly) {
            vmdb__os_stat st;
            rc = vmdb__os_stat_path(ix->path, &st);
            if (rc < 0)
                return vmdb__fail_os(rc, "%s: cannot stat", ix->path);
            if (st.size < end)
                return vmdb__fail(VMDB_EBADSIZE, "%s: truncated: the active array ends at %llu "
                                  "bytes, the file has %llu", ix->path, (unsigned long long)end,
                                  (unsigned long long)st.size);
        }
        rc = vmdb_map_grow(ix->map, end);
        if (rc == 0)
            publish_base(ix);
        if (rc == VMDB_ERANGE)
            rc = vmdb__fail(VMDB_EBADSIZE, "%s: truncated: the active array ends at %llu bytes, "
                            "past the end of the file", ix->path, (unsigned long long)end);
    }
    if (rc == 0)
        store_release(&ix->mapped, vmdb_map_len(ix->map));
    return rc;
}

/*
 * The rare path of a lookup: the region word is impossible (a damaged
 * header), or names a region past this handle's map, which a writer in
 * another process grew. The map then grows to follow the file; it grows
 * in place, so threads probing through it meanwhile are not disturbed, and
 * the mutex keeps two threads from growing it at once.
 */
static int follow(vmdb__index *ix, uint64_t w)
{
    if (!word_possible(w))
        return vmdb__fail(VMDB_ECORRUPT, "%s: impossible active region (word %#llx)", ix->path,
                          (unsigned long long)w);
    struct region r = decode(ix, w);
    uint64_t end = r.off + r.bytes;
    if (end <= load_acquire(&ix->mapped))
        return 0;
    pthread_mutex_lock(&ix->follow_lock);
    int rc = map_up_to(ix, end);
    pthread_mutex_unlock(&ix->follow_lock);
    return rc;
}

/* Waits for seq to leave the odd value `odd`; false when its writer is
 * taken for dead (vmdb__seqlock_wait). */
static bool wait_for_change(const struct index_header *h, uint64_t odd, uint64_t *spins)
{
    while (load_relaxed(&h->seq) == odd)
        if (!vmdb__seqlock_wait(spins))
            return false;
    return true;
}

int vmdb__index_find(vmdb__index *ix, uint64_t hash, const void *key, size_t key_len,
                     vmdb__index_match match, void *ctx, uint64_t *rid)
{
    if (rid)
        *rid = UINT64_MAX;
    if (unlikely(!ix || !match || !rid))
        return vmdb__fail(VMDB_EINVAL, "vmdb__index_find: index, match and rid are required");
    const struct index_header *h = ix->hdr;
    uint64_t spins = 0;
    for (uint64_t attempt = 0;; attempt++) {
        uint64_t s1 = load_acquire(&h->seq);
        uint64_t w = load_acquire(&h->active);
        unsigned bits = (unsigned)(w & 63);
        uint64_t pages = w >> 6;
        if (unlikely(bits < MIN_BITS || bits > MAX_BITS || pages == 0 || pages >= MAX_PAGES ||
                     pages * REGION_ALIGN + ((uint64_t)ENTRY_SIZE << bits) >
                         load_acquire(&ix->mapped))) {
            int rc = follow(ix, w);
            if (rc < 0)
                return rc;
        }
        /* After `mapped` (acquire): this base covers the region. */
        const unsigned char *base = __atomic_load_n(&ix->base, __ATOMIC_RELAXED);
        const struct entry *slots = (const struct entry *)(base + pages * REGION_ALIGN);
        uint64_t mask = ((uint64_t)1 << bits) - 1;
        uint64_t i = home_of(hash, bits);
        uint64_t probed = 0;
        for (;;) {
            uint64_t r1 = load_acquire(&slots[i].rid1);
            if (r1 == 0)
                break;
            if (load_relaxed(&slots[i].hash) == hash) {
                int m = match(ctx, r1 - 1, key, key_len);
                if (m > 0) {
                    *rid = r1 - 1;
                    return 0;
                }
                if (m < 0)
                    return m;
            }
            i = (i + 1) & mask;
            if (unlikely(++probed > mask))
                break; /* no empty entry anywhere: changing under us, or damaged */
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint64_t s2 = load_relaxed(&h->seq);
        if (likely(s1 == s2 && !(s1 & 1))) {
            if (unlikely(probed > mask))
                return vmdb__fail(VMDB_ECORRUPT, "%s: the array of %llu entries has no empty "
                                  "entry", ix->path, (unsigned long long)(mask + 1));
            return VMDB_ENOTFOUND; /* expected: no message, by design */
        }
        if (s2 & 1) {
            if (!wait_for_change(h, s2, &spins))
                return vmdb__fail(VMDB_EBUSY, "%s: cannot confirm a miss: the writer has been in "
                                  "the middle of a change (seq %llu) for too long; a writer that "
                                  "died mid-change leaves the index to rebuild", ix->path,
                                  (unsigned long long)s2);
        } else if (attempt >= RETRY_LIMIT) {
            return vmdb__fail(VMDB_EBUSY, "%s: cannot confirm a miss: the index changed during "
                              "each of %llu probes", ix->path, (unsigned long long)attempt);
        }
    }
}

/* The entry at `hash`'s home, if the region this handle maps holds it:
 * for hints only, read without the seqlock (a hint may be stale). The
 * hint loads the entry, so `mapped` is loaded with acquire as a lookup
 * does: after a move of the map, a `base` older than the `mapped` that
 * covers the region may end before it. */
static const struct entry *home_entry(const vmdb__index *ix, uint64_t hash)
{
    uint64_t w = load_relaxed(&ix->hdr->active);
    unsigned bits = (unsigned)(w & 63);
    uint64_t pages = w >> 6;
    if (bits < MIN_BITS || bits > MAX_BITS || pages == 0 || pages >= MAX_PAGES ||
        pages * REGION_ALIGN + ((uint64_t)ENTRY_SIZE << bits) > load_acquire(&ix->mapped))
        return NULL;
    const unsigned char *base = __atomic_load_n(&ix->base, __ATOMIC_RELAXED);
    return (const struct entry *)(base + pages * REGION_ALIGN) + home_of(hash, bits);
}

void vmdb__index_prefetch(const vmdb__index *ix, uint64_t hash)
{
    const struct entry *e = home_entry(ix, hash);
    if (e)
        __builtin_prefetch(e);
}

uint64_t vmdb__index_hint(const vmdb__index *ix, uint64_t hash)
{
    const struct entry *e = home_entry(ix, hash);
    if (!e)
        return UINT64_MAX;
    uint64_t r1 = load_relaxed(&e->rid1);
    return r1 && load_relaxed(&e->hash) == hash ? r1 - 1 : UINT64_MAX;
}

/* ---- the writer --------------------------------------------------------- */

static int check_writer(vmdb__index *ix, const char *op)
{
    if (!ix)
        return vmdb__fail(VMDB_EINVAL, "vmdb__index_%s: index is required", op);
    if (ix->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: %s on a read-only index handle", ix->path, op);
    if (ix->poisoned)
        return vmdb__fail(VMDB_EPOISONED, "%s: %s refused: a flush failed earlier; reopen the "
                          "index", ix->path, op);
    return 0;
}

enum { ABSENT, PRESENT, NO_EMPTY };

/*
 * Looks for the entry (hash, rid1) in its cluster. PRESENT with *at = its
 * slot, or ABSENT with *at = the empty slot that ends the cluster (where an
 * insert goes). NO_EMPTY if the whole array was probed without meeting an
 * empty slot, which the load factor makes impossible in a sound file.
 */
static int locate(const struct region *r, uint64_t hash, uint64_t rid1, uint64_t *at)
{
    uint64_t i = home_of(hash, r->bits);
    for (uint64_t n = 0; n <= r->mask; n++) {
        uint64_t r1 = load_relaxed(&r->slots[i].rid1);
        if (r1 == 0) {
            *at = i;
            return ABSENT;
        }
        if (r1 == rid1 && load_relaxed(&r->slots[i].hash) == hash) {
            *at = i;
            return PRESENT;
        }
        i = (i + 1) & r->mask;
    }
    return NO_EMPTY;
}

static int no_empty(const vmdb__index *ix, const struct region *r)
{
    return vmdb__fail(VMDB_ECORRUPT, "%s: the array of %llu entries has no empty entry "
                      "(count %llu): rebuild the index", ix->path,
                      (unsigned long long)(r->mask + 1),
                      (unsigned long long)load_relaxed(&ix->hdr->count));
}

static int not_present(const vmdb__index *ix, uint64_t hash, uint64_t rid)
{
    return vmdb__fail(VMDB_ENOTFOUND, "%s: hash %016llx, rid %llu is not in the index", ix->path,
                      (unsigned long long)hash, (unsigned long long)rid);
}

static int already_present(const vmdb__index *ix, uint64_t hash, uint64_t rid)
{
    return vmdb__fail(VMDB_EEXIST, "%s: hash %016llx, rid %llu is already in the index",
                      ix->path, (unsigned long long)hash, (unsigned long long)rid);
}

/* Stores an entry into an empty slot: the hash first, then rid + 1 with
 * release, so a reader that sees the rid sees the hash (rule 2). */
static void put(struct entry *e, uint64_t hash, uint64_t rid1)
{
    store_relaxed(&e->hash, hash);
    store_release(&e->rid1, rid1);
}

/* Fills a fresh array from the active one; nothing reads it yet. */
static void rehash(const struct region *from, const struct region *to)
{
    for (uint64_t j = 0; j <= from->mask; j++) {
        uint64_t r1 = load_relaxed(&from->slots[j].rid1);
        if (r1 == 0)
            continue;
        uint64_t hash = load_relaxed(&from->slots[j].hash);
        uint64_t i = home_of(hash, to->bits);
        while (load_relaxed(&to->slots[i].rid1) != 0)
            i = (i + 1) & to->mask;
        put(&to->slots[i], hash, r1);
    }
}

/*
 * Replaces the active array by one of 2^bits entries, appended after it
 * (see the essay for why appending). The file and the map grow first, so
 * a full disk is VMDB_ENOSPC here and the old array stays active. The new
 * range is zeroed: the file may already hold bytes there (an earlier
 * growth, here or in another writer's process, that failed before it was
 * published; no reader ever saw them), and fallocate keeps what is there.
 * Readers keep probing the old array until the one atomic store of
 * `active`.
 */
static int grow_to(vmdb__index *ix, unsigned bits)
{
    if (bits > MAX_BITS)
        return vmdb__fail(VMDB_EFULL, "%s: cannot grow the index past 2^%u entries", ix->path,
                          MAX_BITS);
    struct region old = writer_region(ix);
    uint64_t off = vmdb__round_up(old.off + old.bytes, REGION_ALIGN);
    uint64_t bytes = (uint64_t)ENTRY_SIZE << bits;
    int rc = 0;
    pthread_mutex_lock(&ix->follow_lock);
    if (off + bytes > vmdb_map_len(ix->map))
        rc = vmdb_map_grow(ix->map, off + bytes);
    if (rc == 0)
        publish_base(ix);
    /* Readers of this handle must see the longer map before the region. */
    store_release(&ix->mapped, vmdb_map_len(ix->map));
    pthread_mutex_unlock(&ix->follow_lock);
    if (rc < 0)
        return rc;
    struct region fresh = decode(ix, region_word(off, bits));
    memset(fresh.slots, 0, bytes);
    rehash(&old, &fresh);
    change_begin(ix);
    store_release(&ix->hdr->active, region_word(off, bits));
    change_end(ix);
    return 0;
}

int vmdb__index_insert(vmdb__index *ix, uint64_t hash, uint64_t rid)
{
    int rc = check_writer(ix, "insert");
    if (rc < 0)
        return rc;
    if (rid == UINT64_MAX)
        return vmdb__fail(VMDB_EINVAL, "%s: rid %llu cannot be indexed", ix->path,
                          (unsigned long long)rid);
    struct region r = writer_region(ix);
    uint64_t empty;
    int where = locate(&r, hash, rid + 1, &empty);
    if (where == PRESENT)
        return already_present(ix, hash, rid);
    if (where == NO_EMPTY)
        return no_empty(ix, &r);
    uint64_t count = load_relaxed(&ix->hdr->count);
    if ((count + 1) * 4 > (r.mask + 1) * 3) {
        rc = grow_to(ix, r.bits + 1);
        if (rc < 0)
            return rc;
        r = writer_region(ix);
        if (locate(&r, hash, rid + 1, &empty) != ABSENT)
            return no_empty(ix, &r);
    }
    put(&r.slots[empty], hash, rid + 1);
    store_relaxed(&ix->hdr->count, count + 1);
    return 0;
}

/*
 * Backward-shift deletion: after the removed entry, each entry of the
 * cluster that may sit earlier (its home is not between the hole and its
 * own slot, cyclically) moves into the hole, and its old slot becomes the
 * hole, until an empty entry ends the cluster. No tombstones, so lookups
 * stay as short as if the entry had never been there. A reader probing
 * the cluster meanwhile can miss an entry in flight, hence the seq
 * bracket.
 */
/* Where key's probe ends: ABSENT at the empty entry *at, or PRESENT with
 * the record holding it in *other (or a negative code from match). */
static int locate_key(const struct region *r, uint64_t hash, const void *key, size_t key_len,
                      vmdb__index_match match, void *ctx, uint64_t *at, uint64_t *other)
{
    uint64_t i = home_of(hash, r->bits);
    for (uint64_t n = 0; n <= r->mask; n++) {
        uint64_t r1 = load_relaxed(&r->slots[i].rid1);
        if (r1 == 0) {
            *at = i;
            return ABSENT;
        }
        if (load_relaxed(&r->slots[i].hash) == hash) {
            int m = match(ctx, r1 - 1, key, key_len);
            if (m < 0)
                return m;
            if (m > 0) {
                *other = r1 - 1;
                return PRESENT;
            }
        }
        i = (i + 1) & r->mask;
    }
    return NO_EMPTY;
}

int vmdb__index_insert_key(vmdb__index *ix, uint64_t hash, const void *key, size_t key_len,
                           vmdb__index_match match, void *ctx, uint64_t rid, uint64_t *other)
{
    int rc = check_writer(ix, "insert");
    if (rc < 0)
        return rc;
    if (rid == UINT64_MAX)
        return vmdb__fail(VMDB_EINVAL, "%s: rid %llu cannot be indexed", ix->path,
                          (unsigned long long)rid);
    struct region r = writer_region(ix);
    uint64_t empty;
    int where = locate_key(&r, hash, key, key_len, match, ctx, &empty, other);
    if (where < 0)
        return where;
    if (where == PRESENT)
        return VMDB_EEXIST;
    if (where == NO_EMPTY)
        return no_empty(ix, &r);
    uint64_t count = load_relaxed(&ix->hdr->count);
    if ((count + 1) * 4 > (r.mask + 1) * 3) {
        rc = grow_to(ix, r.bits + 1);
        if (rc < 0)
            return rc;
        r = writer_region(ix);
        where = locate_key(&r, hash, key, key_len, match, ctx, &empty, other);
        if (where < 0)
            return where;
        if (where == PRESENT)
            return VMDB_EEXIST;
        if (where == NO_EMPTY)
            return no_empty(ix, &r);
    }
    put(&r.slots[empty], hash, rid + 1);
    store_relaxed(&ix->hdr->count, count + 1);
    return 0;
}

int vmdb__index_remove(vmdb__index *ix, uint64_t hash, uint64_t rid)
{
    int rc = check_writer(ix, "remove");
    if (rc < 0)
        return rc;
    struct region r = writer_region(ix);
    uint64_t hole;
    if (rid == UINT64_MAX || locate(&r, hash, rid + 1, &hole) != PRESENT)
        return not_present(ix, hash, rid);
    change_begin(ix);
    /* At most mask steps: in a sound array an empty entry comes first. */
    uint64_t j = hole;
    for (uint64_t n = 0; n < r.mask; n++) {
        j = (j + 1) & r.mask;
        uint64_t r1 = load_relaxed(&r.slots[j].rid1);
        if (r1 == 0)
            break;
        uint64_t h = load_relaxed(&r.slots[j].hash);
        uint64_t from_home = (j - home_of(h, r.bits)) & r.mask;
        if (from_home >= ((j - hole) & r.mask)) {
            store_relaxed(&r.slots[hole].hash, h);
            store_relaxed(&r.slots[hole].rid1, r1);
            hole = j;
        }
    }
    store_relaxed(&r.slots[hole].rid1, 0);
    store_relaxed(&r.slots[hole].hash, 0);
    change_end(ix);
    uint64_t count = load_relaxed(&ix->hdr->count);
    if (count > 0) /* else a damaged count: stay at zero rather than wrap */
        store_relaxed(&ix->hdr->count, count - 1);
    return 0;
}

int vmdb__index_replace(vmdb__index *ix, uint64_t hash, uint64_t old_rid, uint64_t new_rid)
{
    int rc = check_writer(ix, "replace");
    if (rc < 0)
        return rc;
    if (old_rid == UINT64_MAX || new_rid == UINT64_MAX)
        return vmdb__fail(VMDB_EINVAL, "%s: rid %llu cannot be indexed", ix->path,
                          (unsigned long long)UINT64_MAX);
    struct region r = writer_region(ix);
    uint64_t at, other;
    if (locate(&r, hash, old_rid + 1, &at) != PRESENT)
        return not_present(ix, hash, old_rid);
    if (old_rid == new_rid)
        return 0;
    if (locate(&r, hash, new_rid + 1, &other) == PRESENT)
        return already_present(ix, hash, new_rid);
    /* One 8-byte store: a reader sees the old rid or the new one. */
    store_release(&r.slots[at].rid1, new_rid + 1);
    return 0;
}

/*
 * Zeroes the active array with 8-byte atomic stores (readers may be loading
 * the same words). No seq bracket: a clear removes every key, so a reader
 * whose lookup overlaps it may answer as of after it, and a miss it causes
 * is true; bracketing it would only make readers spin through the clear of
 * a large array. If a writer died mid-change, seq is odd: the clear, which
 * leaves a consistent (empty) array, makes it even again.
 */
int vmdb__index_clear(vmdb__index *ix)
{
    int rc = check_writer(ix, "clear");
    if (rc < 0)
        return rc;
    struct region r = writer_region(ix);
    for (uint64_t j = 0; j <= r.mask; j++) {
        store_relaxed(&r.slots[j].rid1, 0);
        store_relaxed(&r.slots[j].hash, 0);
    }
    store_relaxed(&ix->hdr->count, 0);
    if (is_interrupted(ix)) {
        __atomic_store_n(&ix->interrupted, false, __ATOMIC_RELAXED);
        change_end(ix);
    }
    return 0;
}

int vmdb__index_make_room(vmdb__index *ix, uint64_t count)
{
    int rc = check_writer(ix, "make room");
    if (rc < 0)
        return rc;
    unsigned bits = bits_for(count);
    struct region r = writer_region(ix);
    if (bits <= r.bits)
        return 0;
    if (bits > MAX_BITS)
        return vmdb__fail(VMDB_EFULL, "%s: cannot make room for %llu entries: an index holds "
                          "at most 2^%u", ix->path, (unsigned long long)count, MAX_BITS);
    /* The arrays the inserts will append, one doubling at a time, as
     * grow_to places them. */
    uint64_t end = r.off + r.bytes;
    for (unsigned b = r.bits + 1; b <= bits; b++)
        end = vmdb__round_up(end, REGION_ALIGN) + ((uint64_t)ENTRY_SIZE << b);
    pthread_mutex_lock(&ix->follow_lock);
    if (end > vmdb_map_len(ix->map))
        rc = vmdb_map_grow(ix->map, end);
    if (rc == 0)
        publish_base(ix);
    store_release(&ix->mapped, vmdb_map_len(ix->map));
    pthread_mutex_unlock(&ix->follow_lock);
    return rc;
}

int vmdb__index_reserve(vmdb__index *ix, uint64_t count)
{
    int rc = check_writer(ix, "reserve");
    if (rc < 0)
        return rc;
    unsigned bits = bits_for(count);
    if (bits > MAX_BITS)
        return vmdb__fail(VMDB_EFULL, "%s: cannot reserve room for %llu entries: an index holds "
                          "at most 2^%u", ix->path, (unsigned long long)count, MAX_BITS);
    if (bits <= writer_region(ix).bits)
        return 0;
    return grow_to(ix, bits);
}

/*
 * The arrays the index outgrew lie before the active one (growth appends),
 * dead. Once the header that names the active array is on disk, nothing
 * durable names them either, and their blocks go back to the file system:
 * the file keeps its length (so every map of it stays whole) and the range
 * reads as zeros. A reader still probing a dead array when its bytes turn
 * to zeros meets an empty entry, which ends its probe as a miss, and a
 * miss counts only when seq did not change since the probe began, which
 * the growth that killed the array changed: the reader probes again, in
 * the active array. Housekeeping: a failure leaves the space used and
 * nothing else.
 */
static void give_back_outgrown(vmdb__index *ix, const struct region *active)
{
    uint64_t from = ix->given_back > HEADER_SIZE ? ix->given_back : HEADER_SIZE;
    if (active->off <= from)
        return;
    if (vmdb_map_punch(ix->map, from, active->off - from) == 0)
        ix->given_back = active->off;
    else
        vmdb_error_clear();
}

int vmdb__index_flush(vmdb__index *ix, enum vmdb_flush how)
{
    int rc = check_writer(ix, "flush");
    if (rc < 0)
        return rc;
    struct region r = writer_region(ix);
    rc = vmdb_map_flush(ix->map, 0, HEADER_SIZE, how);
    if (rc == 0)
        rc = vmdb_map_flush(ix->map, r.off, r.bytes, how);
    if (rc < 0 && how == VMDB_FLUSH_SYNC)
        ix->poisoned = true;
    if (rc == 0 && how == VMDB_FLUSH_SYNC)
        give_back_outgrown(ix, &r);
    return rc;
}

/* The active region as a reader may use it: mapped, or an error. */
static int reader_region(vmdb__index *ix, struct region *r)
{
    uint64_t w = load_acquire(&ix->hdr->active);
    int rc = follow(ix, w);
    if (rc < 0)
        return rc;
    *r = decode(ix, w);
    return 0;
}

bool vmdb__index_interrupted(const vmdb__index *ix)
{
    return is_interrupted(ix);
}

int vmdb__index_summary(vmdb__index *ix, vmdb__index_stats *stats)
{
    if (!ix || !stats)
        return vmdb__fail(VMDB_EINVAL, "vmdb__index_summary: index and stats are required");
    memset(stats, 0, sizeof *stats);
    struct region r;
    int rc = reader_region(ix, &r);
    if (rc < 0)
        return rc;
    vmdb__os_stat st;
    rc = vmdb__os_stat_path(ix->path, &st);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot stat", ix->path);
    stats->count = load_relaxed(&ix->hdr->count);
    stats->capacity = r.mask + 1;
    stats->file_size = st.size;
    stats->load = (double)stats->count / (double)stats->capacity;
    stats->interrupted = is_interrupted(ix);
    return 0;
}

int vmdb__index_stats_get(vmdb__index *ix, vmdb__index_stats *stats)
{
    int rc = vmdb__index_summary(ix, stats);
    if (rc < 0)
        return rc;
    struct region r;
    rc = reader_region(ix, &r);
    if (rc < 0)
        return rc;
    uint64_t longest = 0;
    for (uint64_t j = 0; j <= r.mask; j++) {
        if (load_relaxed(&r.slots[j].rid1) == 0)
            continue;
        uint64_t probe = ((j - home_of(load_relaxed(&r.slots[j].hash), r.bits)) & r.mask) + 1;
        if (probe > longest)
            longest = probe;
    }
    stats->max_probe = longest;
    return 0;
}

int vmdb__index_foreach(vmdb__index *ix, int (*fn)(void *ctx, uint64_t hash, uint64_t rid),
                        void *ctx)
{
    if (!ix || !fn)
        return vmdb__fail(VMDB_EINVAL, "vmdb__index_foreach: index and fn are required");
    struct region r;
    int rc = reader_region(ix, &r);
    if (rc < 0)
        return rc;
    for (uint64_t j = 0; j <= r.mask; j++) {
        uint64_t r1 = load_acquire(&r.slots[j].rid1);
        if (r1 == 0)
            continue;
        rc = fn(ctx, load_relaxed(&r.slots[j].hash), r1 - 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/*
 * A writer that takes the database's write lock after another process
 * wrote may find the index grown past its own map: the other writer
 * extended the file and published a region there. Map up to it. Only the
 * lock holder calls this, so no other writer moves `active` meanwhile, and
 * an odd seq means the previous holder died in the middle of a change: the
 * handle becomes `interrupted`, as at open, until a clear.
 */
int vmdb__index_refresh(vmdb__index *ix)
{
    int rc = check_writer(ix, "refresh");
    if (rc < 0)
        return rc;
    uint64_t w = load_acquire(&ix->hdr->active);
    if (!word_possible(w))
        return vmdb__fail(VMDB_ECORRUPT, "%s: impossible active region (word %#llx)", ix->path,
                          (unsigned long long)w);
    struct region r = decode(ix, w);
    pthread_mutex_lock(&ix->follow_lock);
    rc = map_up_to(ix, r.off + r.bytes);
    pthread_mutex_unlock(&ix->follow_lock);
    if (rc == 0 && (load_relaxed(&ix->hdr->seq) & 1))
        __atomic_store_n(&ix->interrupted, true, __ATOMIC_RELAXED);
    return rc;
}
