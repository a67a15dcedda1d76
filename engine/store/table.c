/* SPDX-License-Identifier: MIT */
/*
 * engine/store/table.c - table files.
 *
 * Layout of NAME.vmt, little-endian:
 *
 *   [0, 4096)       header copy A  } struct table_header + the encoded
 *   [4096, 8192)    header copy B  } schema (engine/store/schema_internal.h)
 *   [8192, ...)     slots, `stride` bytes apart: a 16-byte vmdb__slot
 *                   (sequence counter, checksum, live flag and lsn),
 *                   then the record, then zeros up to the stride (a
 *                   multiple of 8)
 *
 * The header changes when the file grows (the slot count) and at each
 * checkpoint (the summary, below). Each change writes the older copy
 * with seq + 1; open takes the newest copy whose checksum holds, so a
 * torn header write is survived. The slot count a copy records is a
 * floor: the file may be longer after a crash between growing it and
 * writing the header, and the file's length wins.
 *
 * Version 2 adds a summary of the slots in the last 128 bytes of each
 * copy: the live count, the frontier (no live slot at or past it), the
 * lowest rid that may be free, the newest LSN any slot names, and the
 * checkpoint (log position and salt) it was written at, under a checksum
 * of its own seeded with the header's (which stays what version 1's is,
 * so a build that reads only version 1 refuses a version 2 copy by its
 * version, not as damage). It lets a writer
 * open without reading every slot; when it may be believed is the
 * database's business (engine/db/summary.c), and nothing here trusts it
 * with more than a hint: a rid handed out is always checked free in its
 * slot first, so a summary that lies wastes slots at worst. Version 1
 * files (no summary) are still read; the first header written turns the
 * copy written into version 2.
 *
 * Version 3 shrinks the slot header from 32 bytes to 16 (issue 15: 1M
 * records of 108 bytes took 137 MiB for 103 MiB of data): a 32-bit
 * counter and a 32-bit checksum, the live flag as the top bit of the
 * lsn. Why each is wide enough is docs/format.md's "Slot". A file of
 * version 1 or 2 opens with its 32-byte slots only to be rewritten
 * (table_upgrade.c, at the first open for writing); nothing here reads
 * or writes its slots.
 *
 * Readers take no lock. The single writer changes a slot as a seqlock
 * writer does: the counter goes odd, the bytes change, the counter goes
 * even with a release store. A reader loads the counter with acquire,
 * copies, and retries if the counter was odd or moved. Every store happens
 * after the change's commit record is in the log (no steal, docs/design.md),
 * so a slot torn by a crash is rewritten by replay.
 *
 * The file grows inside an address-space reservation of a few times its
 * length, with its blocks allocated before they are mapped (the map
 * layer), so a full disk is an error, not SIGBUS. A table that outgrows
 * the reservation moves to a larger one (VMDB_MAP_MOVABLE): `slots` is
 * stored with release before the capacity that needs it, and the old place
 * stays mapped until close, so a reader holding an old pointer, or an old
 * `slots` with the capacity it loaded before, reads the same file pages.
 * A fixed span per table (it was 256 GiB) would run a process out of
 * address space at about its 115th table.
 */
#include "table.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#include "checksum.h"
#include "create.h"
#include "internal.h"
#include "os.h"
#include "schema_internal.h"

#define TABLE_MAGIC "VMDBTABL"
#define TABLE_VERSION 3    /* what this build writes */
#define TABLE_VERSION_V1 1 /* no summary, 32-byte slot headers: upgraded */
#define TABLE_VERSION_V2 2 /* 32-byte slot headers: upgraded */
#define SLOT_HEADER_V2 32u
#define COPY_LEN 4096u
/* The summary's place in a version 2 copy, past any schema. */
#define SUMMARY_OFF (COPY_LEN - 128u)
#define HEADER_LEN (2 * COPY_LEN)
/* The least address space a table reserves: one huge page, so huge-page
 * advice can apply; the map layer reserves four times the file when more. */
#define TABLE_MIN_RESERVE ((uint64_t)2 << 20)
#define FIRST_CAPACITY 64

struct table_header {
    char magic[8];        /* TABLE_MAGIC */
    uint64_t checksum;    /* XXH3-64 of bytes [16, used_len) of this copy */
    uint32_t version;     /* TABLE_VERSION */
    uint32_t used_len;    /* bytes of this copy in use: header + schema */
    uint32_t header_len;  /* bytes before the first slot: HEADER_LEN */
    uint32_t record_size; /* bytes */
    uint32_t stride;      /* bytes per slot, header included */
    uint16_t table_id;
    uint16_t name_len;
    uint64_t seq;         /* the copy with the higher seq is newer */
    uint64_t capacity;    /* slots the file held when this was written */
    char name[64];        /* NUL-padded */
    uint32_t schema_len;  /* bytes of encoded schema after this header */
    uint32_t reserved;
};
_Static_assert(sizeof(struct table_header) == 128, "table header layout");
_Static_assert(offsetof(struct table_header, version) == 16, "table header layout");
_Static_assert(offsetof(struct table_header, stride) == 32, "table header layout");
_Static_assert(offsetof(struct table_header, seq) == 40, "table header layout");
_Static_assert(offsetof(struct table_header, capacity) == 48, "table header layout");
_Static_assert(offsetof(struct table_header, name) == 56, "table header layout");
_Static_assert(offsetof(struct table_header, schema_len) == 120, "table header layout");
_Static_assert(sizeof(vmdb__slot) == 16, "slot header layout");
_Static_assert(offsetof(vmdb__slot, sum) == 4, "slot header layout");
_Static_assert(offsetof(vmdb__slot, lsn_live) == 8, "slot header layout");
_Static_assert(sizeof(vmdb__slot_v2) == SLOT_HEADER_V2, "old slot header layout");
_Static_assert(sizeof(struct table_header) + VMDB_SCHEMA_MAX_ENCODED <= SUMMARY_OFF,
               "a header copy holds any schema before the summary");

/* The summary as a version 2 copy holds it, at SUMMARY_OFF. */
struct summary_block {
    uint64_t log_pos;
    uint64_t log_salt; /* 0: no summary */
    uint64_t frontier;
    uint64_t live_count;
    uint64_t hole_from;
    uint64_t max_lsn;
    uint64_t reserved[9]; /* 0 */
    uint64_t checksum;    /* XXH3-64 of the bytes before it, seeded with
                             the header's checksum */
};
_Static_assert(sizeof(struct summary_block) == COPY_LEN - SUMMARY_OFF, "summary layout");
_Static_assert(offsetof(struct summary_block, max_lsn) == 40, "summary layout");
_Static_assert(offsetof(struct summary_block, checksum) == 120, "summary layout");

/* The same in both versions, so that a build that reads only version 1
 * finds a version 2 copy whole and refuses it by its version. */
static uint64_t header_checksum(const struct table_header *h)
{
    return XXH3_64bits((const char *)h + 16, h->used_len - 16);
}

/* Seeded with the header's checksum: a summary moved from another copy
 * or file fails it. `h` is a whole copy (COPY_LEN bytes). */
static uint64_t summary_checksum(const struct table_header *h)
{
    return XXH3_64bits_withSeed((const char *)h + SUMMARY_OFF,
                                offsetof(struct summary_block, checksum), h->checksum);
}

static bool summary_sound(const struct table_header *h)
{
    struct summary_block b;
    memcpy(&b, (const char *)h + SUMMARY_OFF, sizeof b);
    return vmdb__checksum_matches(b.checksum, summary_checksum(h));
}

static void summary_of_copy(const char *copy, vmdb__table_summary *out)
{
    const struct table_header *h = (const struct table_header *)copy;
    memset(out, 0, sizeof *out);
    if (h->version == TABLE_VERSION_V1)
        return;
    struct summary_block b;
    memcpy(&b, copy + SUMMARY_OFF, sizeof b);
    *out = (vmdb__table_summary){
        .log_pos = b.log_pos,
        .log_salt = b.log_salt,
        .frontier = b.frontier,
        .live_count = b.live_count,
        .hole_from = b.hole_from,
        .max_lsn = b.max_lsn,
    };
}

static size_t stride_for(size_t record_size)
{
    return (size_t)vmdb__round_up(sizeof(vmdb__slot) + record_size, 8);
}

/* The stride a header copy of `version` must record. */
static size_t stride_of_version(uint32_t version, size_t record_size)
{
    if (version < TABLE_VERSION)
        return (size_t)vmdb__round_up(SLOT_HEADER_V2 + record_size, 8);
    return stride_for(record_size);
}

/* Versions 1 and 2 have a summary block only from 2 on. */
static bool has_summary(uint32_t version)
{
    return version != TABLE_VERSION_V1;
}

/* Fills a header copy in `copy` (COPY_LEN bytes); `sum` NULL: no summary. */
static int build_header(char *copy, const char *name, uint16_t id, const vmdb_schema *schema,
                        uint64_t seq, uint64_t capacity, const vmdb__table_summary *sum)
{
    memset(copy, 0, COPY_LEN);
    struct table_header *h = (struct table_header *)copy;
    size_t schema_len;
    int rc = vmdb__schema_encode(schema, copy + sizeof *h, COPY_LEN - sizeof *h, &schema_len);
    if (rc < 0)
        return rc;
    memcpy(h->magic, TABLE_MAGIC, sizeof h->magic);
    h->version = TABLE_VERSION;
    h->used_len = (uint32_t)(sizeof *h + schema_len);
    h->header_len = HEADER_LEN;
    h->record_size = (uint32_t)vmdb_schema_record_size(schema);
    h->stride = (uint32_t)stride_for(h->record_size);
    h->table_id = id;
    h->name_len = (uint16_t)strlen(name);
    h->seq = seq;
    h->capacity = capacity;
    memcpy(h->name, name, h->name_len);
    h->schema_len = (uint32_t)schema_len;
    h->checksum = header_checksum(h);
    struct summary_block b = {0};
    if (sum)
        b = (struct summary_block){
            .log_pos = sum->log_pos,
            .log_salt = sum->log_salt,
            .frontier = sum->frontier,
            .live_count = sum->live_count,
            .hole_from = sum->hole_from,
            .max_lsn = sum->max_lsn,
        };
    memcpy(copy + SUMMARY_OFF, &b, sizeof b);
    b.checksum = summary_checksum(h);
    memcpy(copy + SUMMARY_OFF, &b, sizeof b);
    return 0;
}

struct new_table {
    const char *path; /* the name it will have: the one a failure gives */
    const char *head; /* both header copies, HEADER_LEN bytes */
    size_t stride;
    uint64_t capacity; /* slots */
};

/* Failures name the file the table is made as, not the temporary one
 * (removed by then): a capacity hint too large for the disk is the
 * usual one, and the user should see which table asked for it. */
static int fill_table_file(void *ctx, int fd, const char *tmp)
{
    (void)tmp;
    const struct new_table *n = ctx;
    int rc = vmdb__os_pwrite_all(fd, n->head, HEADER_LEN, 0);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot write the header of the new table file", n->path);
    rc = vmdb__os_allocate(fd, HEADER_LEN, n->capacity * n->stride);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot allocate %llu slots of %zu bytes", n->path,
                             (unsigned long long)n->capacity, n->stride);
    return 0;
}

int vmdb__table_create_file(const char *dir, const char *name, uint16_t id,
                            const vmdb_schema *schema, uint64_t capacity)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.vmt", dir, name);
    vmdb__os_stat st;
    if (vmdb__os_stat_path(path, &st) == 0)
        return vmdb__fail(VMDB_EEXIST, "table '%s' already exists (%s)", name, path);
    char *head = calloc(1, HEADER_LEN);
    if (!head)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    /* Copy B holds seq 1, the newest, as seq mod 2 says: the first rewrite
     * (seq 2) then goes to copy A, never to the copy in use. */
    if (capacity < FIRST_CAPACITY)
        capacity = FIRST_CAPACITY;
    int rc = build_header(head, name, id, schema, 0, capacity, NULL);
    if (rc == 0)
        rc = build_header(head + COPY_LEN, name, id, schema, 1, capacity, NULL);
    struct new_table n = {path, head, stride_for(vmdb_schema_record_size(schema)), capacity};
    /* The writer lock is held: a file appearing meanwhile is a stranger's. */
    if (rc == 0)
        rc = vmdb__create_atomically(path, 0644, VMDB__CREATE_EXCL, fill_table_file, &n);
    free(head);
    return rc;
}

void vmdb__table_close(vmdb_table *t)
{
    if (!t)
        return;
    vmdb__index_close(t->index);
    vmdb_map_close(t->map);
    vmdb__table_release_retired(t);
    vmdb_schema_free(t->schema);
    pthread_mutex_destroy(&t->follow);
    free(t->free_rids);
    free(t->name);
    free(t->path);
    free(t);
}

/* The verdict on one header copy: 0 usable, else why not. */
static int check_copy(const char *path, const char *copy, size_t have, char which)
{
    const struct table_header *h = (const struct table_header *)copy;
    /* A file too short to hold a header but not starting with the magic
     * is some other file, not a table cut short. */
    if (have >= sizeof h->magic && memcmp(h->magic, TABLE_MAGIC, sizeof h->magic) != 0)
        return vmdb__fail(VMDB_EBADMAGIC, "%s: not a vmdb table file (no \"%s\" magic)", path,
                          TABLE_MAGIC);
    if (have < sizeof *h)
        return vmdb__fail(VMDB_EBADSIZE, "%s: truncated: header copy %c is cut short", path,
                          which);
    if (h->used_len < sizeof *h || h->used_len > have || h->used_len > COPY_LEN ||
        !vmdb__checksum_matches(h->checksum, header_checksum(h)))
        return vmdb__fail(VMDB_ECORRUPT, "%s: header copy %c fails its checksum", path, which);
    if (h->version < TABLE_VERSION_V1 || h->version > TABLE_VERSION)
        return vmdb__fail(VMDB_EVERSION,
                          "%s: table format version %u, this build reads versions %u to %u",
                          path, h->version, TABLE_VERSION_V1, TABLE_VERSION);
    if (has_summary(h->version) && have < COPY_LEN)
        return vmdb__fail(VMDB_EBADSIZE, "%s: truncated: header copy %c is cut short", path,
                          which);
    /* A torn write of the copy's last sector: the copy is torn. */
    if (has_summary(h->version) && !summary_sound(h))
        return vmdb__fail(VMDB_ECORRUPT, "%s: header copy %c fails its checksum (its summary)",
                          path, which);
    if (h->header_len != HEADER_LEN ||
        h->stride != stride_of_version(h->version, h->record_size) ||
        h->name_len == 0 || h->name_len > VMDB__TABLE_NAME_MAX ||
        h->schema_len != h->used_len - sizeof *h)
        return vmdb__fail(VMDB_ECORRUPT, "%s: header copy %c is impossible", path, which);
    return 0;
}

/* Reads both header copies and keeps the newer valid one in `best`.
 * A writer in another process rewrites a copy in place (the older one,
 * but a reader slow enough sees the copy it chose become the older one
 * and be rewritten), so the private copy is checked again, and the choice
 * made again while it does not hold. */
static int read_header_once(const char *path, const vmdb_map *map, char *best);

static int read_header(const char *path, const vmdb_map *map, char *best)
{
    int rc = 0;
    for (int attempt = 0; attempt < 1000; attempt++) {
        rc = read_header_once(path, map, best);
        if (rc < 0)
            return rc;
        if (check_copy(path, best, COPY_LEN, 'A') == 0)
            return 0;
        sched_yield();
    }
    return vmdb__fail(VMDB_EBUSY, "%s: its header keeps changing while it is read", path);
}

/* A copy of a header copy, taken while a writer of this process may be
 * rewriting it (each checkpoint does): with the slots' relaxed atomic
 * loads, which that writer's stores match (publish_copy), so the overlap
 * is no data race; a torn result fails its checksum, and is read again. */
static void load_copy(char *dst, const char *in_map, size_t have)
{
    vmdb__slot_load(dst, in_map, have);
    memset(dst + have, 0, COPY_LEN - have);
}

/* The writer's side: a copy built aside, then stored into the map. */
static void publish_copy(char *in_map, const char *built)
{
    vmdb__slot_store(in_map, built, COPY_LEN);
}

/* Picks from both copies, taken aside in `base` (HEADER_LEN bytes) from a
 * file of `len` bytes. */
static int choose_copy(const char *path, uint64_t len, const char *base, char *best)
{
    int rc[2];
    const struct table_header *h[2];
    for (int i = 0; i < 2; i++) {
        size_t off = (size_t)i * COPY_LEN;
        size_t have = len > off ? (size_t)(len - off) : 0;
        if (have > COPY_LEN)
            have = COPY_LEN;
        h[i] = (const struct table_header *)(base + off);
        rc[i] = have >= 8 || i == 0 ? check_copy(path, base + off, have, (char)('A' + i))
                                    : VMDB_EBADSIZE;
    }
    int pick = -1;
    for (int i = 0; i < 2; i++)
        if (rc[i] == 0 && (pick < 0 || h[i]->seq > h[pick]->seq))
            pick = i;
    if (pick < 0) {
        /* Report copy A's verdict, unless A is merely torn and B says more. */
        if (rc[0] == VMDB_ECORRUPT && rc[1] != VMDB_EBADMAGIC && rc[1] != VMDB_EBADSIZE)
            return check_copy(path, base + COPY_LEN, COPY_LEN, 'B');
        if (rc[0] == VMDB_ECORRUPT)
            return vmdb__fail(VMDB_ECORRUPT, "%s: both header copies fail their checksum",
                              path);
        if (rc[0] == VMDB_EBADMAGIC && len < sizeof(struct table_header))
            return vmdb__fail(VMDB_EBADMAGIC, "%s: not a vmdb table file", path);
        return check_copy(path, base, len < COPY_LEN ? (size_t)len : COPY_LEN, 'A');
    }
    memcpy(best, h[pick], COPY_LEN);
    return 0;
}

static int read_header_once(const char *path, const vmdb_map *map, char *best)
{
    uint64_t len = vmdb_map_len(map);
    const char *in_map = vmdb_map_ptr(map);
    char *base = malloc(HEADER_LEN);
    if (!base)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    for (size_t off = 0; off < HEADER_LEN; off += COPY_LEN) {
        size_t have = len > off ? (size_t)(len - off) : 0;
        load_copy(base + off, in_map + off, have > COPY_LEN ? COPY_LEN : have);
    }
    int rc = choose_copy(path, len, base, best);
    free(base);
    return rc;
}

bool vmdb__table_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > VMDB__TABLE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static int adopt_header(vmdb_table *t, const char *copy)
{
    const struct table_header *h = (const struct table_header *)copy;
    int rc = vmdb__schema_decode(copy + sizeof *h, h->schema_len, &t->schema);
    if (rc < 0)
        return vmdb__fail(rc, "%s: %s", t->path, vmdb_last_error()->message);
    if (vmdb_schema_record_size(t->schema) != h->record_size)
        return vmdb__fail(VMDB_ECORRUPT, "%s: record size %u, the schema says %zu", t->path,
                          h->record_size, vmdb_schema_record_size(t->schema));
    /* Names become file names: a crafted one must not reach a path. */
    if (!vmdb__table_name_valid(h->name, h->name_len))
        return vmdb__fail(VMDB_ECORRUPT, "%s: the table name in its header is not a table name "
                                         "([A-Za-z_][A-Za-z0-9_]*)",
                          t->path);
    t->name = strndup(h->name, h->name_len);
    if (!t->name)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", t->path);
    t->id = h->table_id;
    t->record_size = h->record_size;
    t->stride = h->stride;
    t->header_seq = h->seq;
    t->version = h->version;
    summary_of_copy(copy, &t->summary);
    const vmdb_field *key = vmdb_schema_field(t->schema, vmdb_schema_key(t->schema));
    t->key_offset = key->offset;
    t->key_size = key->size;
    t->key_is_str = key->type == VMDB_TYPE_STR;
    uint64_t len = vmdb_map_len(t->map);
    vmdb__os_stat st;
    if (len < HEADER_LEN + h->capacity * t->stride && vmdb__os_stat_path(t->path, &st) == 0 &&
        st.size >= HEADER_LEN + h->capacity * t->stride) {
        /* Another process grew the file between its mapping and the read
         * of the header (an open without the writer lock): follow it. */
        int rc = vmdb_map_grow(t->map, HEADER_LEN + h->capacity * t->stride);
        if (rc < 0)
            return rc;
        len = vmdb_map_len(t->map);
    }
    if (len < HEADER_LEN + h->capacity * t->stride)
        return vmdb__fail(VMDB_EBADSIZE,
                          "%s: truncated: %llu bytes, the header says %llu slots of %zu bytes",
                          t->path, (unsigned long long)len, (unsigned long long)h->capacity,
                          t->stride);
    /* The file may hold more slots than the header recorded (a crash
     * between growing the file and writing the header): use them all. */
    uint64_t capacity = (len - HEADER_LEN) / t->stride;
    if (len != HEADER_LEN + capacity * t->stride && !t->readonly) {
        /* A partial slot at the end: a growth cut short. Map whole slots. */
        len = HEADER_LEN + capacity * t->stride;
    }
    t->slots = (char *)vmdb_map_ptr(t->map) + HEADER_LEN;
    __atomic_store_n(&t->capacity, capacity, __ATOMIC_RELEASE);
    return 0;
}

int vmdb__table_open(const char *path, bool readonly, bool verify, vmdb_table **out)
{
    *out = NULL;
    vmdb_table *t = calloc(1, sizeof *t);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    }
    pthread_mutex_init(&t->follow, NULL);
    t->readonly = readonly;
    t->verify = verify;
    vmdb_map_options mo = {
        .mode = readonly ? VMDB_MAP_READ : VMDB_MAP_WRITE,
        .reserve = TABLE_MIN_RESERVE,
        .flags = VMDB_MAP_RESERVE_SHRINK | VMDB_MAP_MOVABLE,
        /* Random reads of a large table are dominated by TLB misses; huge
         * folios halve a get's cost (docs/benchmarks.md). The price is
         * paid at checkpoints: a dirtied folio is written back whole. */
        .huge = VMDB_HUGE_TRY,
    };
    char *copy = malloc(COPY_LEN);
    int rc = copy ? vmdb_map_open(path, &mo, &t->map)
                  : vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    if (rc == 0)
        rc = read_header(path, t->map, copy);
    if (rc == 0)
        rc = adopt_header(t, copy);
    free(copy);
    if (rc < 0) {
        vmdb__table_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

uint32_t vmdb__table_checksum(const vmdb_table *t, uint64_t rid, bool live, const void *record)
{
    /* The low half of what versions 1 and 2 stored, so an upgrade keeps
     * the old sums (and the damage they catch) without hashing again. */
    return (uint32_t)XXH3_64bits_withSeed(record, t->record_size, rid << 1 | (live ? 1 : 0));
}

/* Waits out a writer in the middle of slot s: the even counter, or
 * VMDB_EBUSY when it stays odd (its writer died mid-write). */
static int stable_seq(const vmdb_table *t, uint64_t rid, const vmdb__slot *s, uint64_t *seq)
{
    for (uint64_t spins = 0;;) {
        uint32_t v = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if (!(v & 1)) {
            *seq = v;
            return 0;
        }
        if (!vmdb__seqlock_wait(&spins))
            return vmdb__fail(VMDB_EBUSY,
                              "%s: slot %llu stays mid-write (a writer died? open the "
                              "database for writing to recover it)",
                              t->path, (unsigned long long)rid);
    }
}

static bool seq_unchanged(const vmdb__slot *s, uint64_t seq)
{
    /* The copy's loads must not drift past the second load of the counter. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&s->seq, __ATOMIC_RELAXED) == seq;
}

int vmdb__table_check_slot(const vmdb_table *t, uint64_t rid, bool live, uint32_t sum,
                           const void *body)
{
    uint32_t want = vmdb__table_checksum(t, rid, live, body);
    if (vmdb__checksum_matches(sum, want))
        return 0;
    if (!live && sum == vmdb__table_checksum(t, rid, true, body))
        return vmdb__fail(VMDB_ECORRUPT, "%s: slot %llu holds a record whose live flag was cleared",
                          t->path, (unsigned long long)rid);
    return vmdb__fail(VMDB_ECORRUPT,
                      "%s: slot %llu: checksum mismatch (stored %08lx, computed %08lx)",
                      t->path, (unsigned long long)rid, (unsigned long)sum, (unsigned long)want);
}

int vmdb__table_read(vmdb_table *t, uint64_t rid, void *record, bool *live)
{
    if (rid >= __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE)) {
        vmdb__table_follow(t);
        if (rid >= __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE))
            return VMDB_ENOTFOUND;
    }
    const vmdb__slot *s = vmdb__table_slot(t, rid);
    const char *body = (const char *)(s + 1);
    for (;;) {
        uint64_t seq = 0;
        int rc = stable_seq(t, rid, s, &seq);
        if (rc < 0)
            return rc;
        bool is_live = vmdb__slot_live(s);
        uint32_t sum = vmdb__slot_sum(s);
        vmdb__slot_load(record, body, t->record_size);
        if (!seq_unchanged(s, seq))
            continue;
        /* The copy is whole, so a wrong checksum is damage, not a race. A
         * slot never written is all zeros, checksum included. */
        if (t->verify && !vmdb__slot_pristine(seq, is_live) &&
            (rc = vmdb__table_check_slot(t, rid, is_live, sum, record)) < 0)
            return rc;
        *live = is_live;
        return 0;
    }
}

int vmdb__table_verify_in_place(vmdb_table *t, uint64_t rid, uint64_t seq, bool live)
{
    const vmdb__slot *s = vmdb__table_slot(t, rid);
    uint32_t sum = vmdb__slot_sum(s);
    uint32_t computed = vmdb__table_checksum(t, rid, live, s + 1);
    if (!seq_unchanged(s, seq))
        return 1;
    return sum == computed ? 0 : vmdb__table_check_slot(t, rid, live, sum, s + 1);
}

int vmdb__table_peek(vmdb_table *t, uint64_t rid, uint64_t *seq, bool *live)
{
    const vmdb__slot *s = vmdb__table_slot(t, rid);
    for (;;) {
        int rc = stable_seq(t, rid, s, seq);
        if (rc < 0)
            return rc;
        *live = vmdb__slot_live(s);
        if (seq_unchanged(s, *seq))
            return 0;
    }
}

int vmdb__table_key_equals(vmdb_table *t, uint64_t rid, const void *key, size_t len)
{
    if (rid >= __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE))
        return 0;
    const vmdb__slot *s = vmdb__table_slot(t, rid);
    const char *stored = (const char *)(s + 1) + t->key_offset;
    char copy[VMDB_SCHEMA_MAX_STR];
    for (;;) {
        uint64_t seq = 0;
        int rc = stable_seq(t, rid, s, &seq);
        if (rc < 0)
            return rc;
        bool is_live = vmdb__slot_live(s);
        vmdb__slot_load(copy, stored, t->key_size);
        if (!seq_unchanged(s, seq))
            continue;
        if (!is_live)
            return 0;
        size_t n = t->key_size;
        if (t->key_is_str) {
            const char *nul = memchr(copy, '\0', n);
            if (nul)
                n = (size_t)(nul - copy);
        }
        return n == len && memcmp(copy, key, len) == 0;
    }
}

/* Writes the header copy that is not the newest, recording the capacity. */
static void write_header(vmdb_table *t)
{
    char *base = vmdb_map_ptr(t->map);
    uint64_t seq = t->header_seq + 1;
    _Alignas(8) char built[COPY_LEN];
    if (build_header(built, t->name, t->id, t->schema, seq, t->capacity, &t->summary) == 0) {
        publish_copy(base + (seq % 2) * COPY_LEN, built);
        t->header_seq = seq;
        t->version = TABLE_VERSION;
    }
}

int vmdb__table_copy_status(vmdb_table *t, int which)
{
    const char *base = vmdb_map_ptr(t->map);
    uint64_t len = vmdb_map_len(t->map), off = (uint64_t)which * COPY_LEN;
    size_t have = len > off ? (size_t)(len - off < COPY_LEN ? len - off : COPY_LEN) : 0;
    return check_copy(t->path, base + off, have, (char)('A' + which));
}

uint64_t vmdb__table_copy_seq(vmdb_table *t, int which)
{
    const char *base = vmdb_map_ptr(t->map);
    return ((const struct table_header *)(base + (size_t)which * COPY_LEN))->seq;
}

int vmdb__table_check_headers(vmdb_table *t)
{
    const char *base = vmdb_map_ptr(t->map);
    _Alignas(8) char copy[COPY_LEN];
    for (int i = 0; i < 2; i++) {
        load_copy(copy, base + (size_t)i * COPY_LEN, COPY_LEN);
        int rc = check_copy(t->path, copy, COPY_LEN, (char)('A' + i));
        if (rc < 0)
            return rc;
    }
    return 0;
}

int vmdb__table_repair_headers(vmdb_table *t)
{
    char *base = vmdb_map_ptr(t->map);
    int bad = -1;
    vmdb_error saved = *vmdb_last_error();
    for (int i = 0; i < 2; i++)
        if (check_copy(t->path, base + (size_t)i * COPY_LEN, COPY_LEN, (char)('A' + i)) < 0)
            bad = i;
    *(vmdb_error *)vmdb_last_error() = saved; /* a verdict, not a failure */
    if (bad < 0)
        return 0;
    /* The next write_header goes to copy seq % 2: pick the sequence
     * number that lands this one on the damaged copy. */
    uint64_t seq = t->header_seq + 1;
    if (seq % 2 != (uint64_t)bad)
        seq++;
    _Alignas(8) char built[COPY_LEN];
    int rc = build_header(built, t->name, t->id, t->schema, seq, t->capacity, &t->summary);
    if (rc < 0)
        return rc;
    publish_copy(base + (size_t)bad * COPY_LEN, built);
    t->header_seq = seq;
    return 1;
}

/* After growth, which may have moved the map. The caller holds t->follow
 * and stores the new capacity after this: a reader that sees the capacity
 * then loads a slots pointer whose mapping covers it. */
static void publish_slots(vmdb_table *t)
{
    __atomic_store_n(&t->slots, (char *)vmdb_map_ptr(t->map) + HEADER_LEN, __ATOMIC_RELEASE);
}

/* Grows t's map to `len` bytes and publishes `cap` slots. The caller
 * holds t->follow. */
static int grow_slots(vmdb_table *t, uint64_t len, uint64_t cap)
{
    int rc = vmdb_map_grow(t->map, len);
    if (rc == 0) {
        publish_slots(t);
        __atomic_store_n(&t->capacity, cap, __ATOMIC_RELEASE);
    }
    return rc;
}

int vmdb__table_reserve(vmdb_table *t, uint64_t count)
{
    if (count <= t->capacity)
        return 0;
    uint64_t cap = t->capacity ? t->capacity : FIRST_CAPACITY;
    while (cap < count)
        cap = cap < (1u << 20) ? cap * 2 : cap + (cap >> 2);
    uint64_t len = HEADER_LEN + cap * t->stride;
    /* Readers of this handle may be growing the map to follow another
     * process's growth (vmdb__table_follow). */
    pthread_mutex_lock(&t->follow);
    int rc = vmdb_map_grow(t->map, len);
    if (rc == 0)
        publish_slots(t);
    /* The new length must be durable before a header copy claims it: the
     * kernel may write the header page back at any moment, and after a
     * power cut a header that promises more slots than the file holds
     * would make the table unopenable. Syncing any page of the file syncs
     * its length; this happens once per growth, not per commit. */
#ifndef VMDB_MUTANT_GROWTH_WITHOUT_LENGTH_FLUSH /* test-mutants: header before length */
    if (rc == 0)
        rc = vmdb_map_flush(t->map, len - 1, 1, VMDB_FLUSH_SYNC);
#endif
    if (rc == 0)
        __atomic_store_n(&t->capacity, cap, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&t->follow);
    if (rc < 0)
        return rc;
    write_header(t);
    return 0;
}

int vmdb__table_verify(vmdb_table *t, int (*fn)(void *ctx, uint64_t rid, const void *record),
                       void *ctx)
{
    vmdb__table_tally tally;
    return vmdb__table_verify_tally(t, fn, ctx, &tally);
}

int vmdb__table_verify_tally(vmdb_table *t,
                             int (*fn)(void *ctx, uint64_t rid, const void *record), void *ctx,
                             vmdb__table_tally *tally)
{
    uint64_t cap = __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE);
    uint64_t never_written = UINT64_MAX; /* the first such slot */
    uint64_t first_free = UINT64_MAX;
    *tally = (vmdb__table_tally){0};
    __atomic_add_fetch(&vmdb__table_slot_passes, 1, __ATOMIC_RELAXED);
    for (uint64_t rid = 0; rid < cap; rid++) {
        const vmdb__slot *s = vmdb__table_slot(t, rid);
        const void *body = s + 1;
        uint32_t seq = vmdb__slot_seq(s);
        bool live = vmdb__slot_live(s);
        uint64_t lsn = vmdb__slot_lsn(s);
        if (seq & 1)
            return vmdb__fail(VMDB_ECORRUPT, "%s: slot %llu was left mid-write", t->path,
                              (unsigned long long)rid);
        if (!live && first_free == UINT64_MAX)
            first_free = rid;
        if (seq == 0 && vmdb__slot_sum(s) == 0 && !live && lsn == 0) {
            if (never_written == UINT64_MAX)
                never_written = rid;
            continue;
        }
        /* Slots are handed out from the start of the file, so every slot
         * ever written lies before every slot never written. */
        if (never_written != UINT64_MAX)
            return vmdb__fail(VMDB_ECORRUPT,
                              "%s: slot %llu holds nothing ever written, but slot %llu after "
                              "it was written (a page zeroed or lost?)",
                              t->path, (unsigned long long)never_written,
                              (unsigned long long)rid);
        int rc = vmdb__table_check_slot(t, rid, live, vmdb__slot_sum(s), body);
        if (rc < 0)
            return rc;
        if (lsn > tally->max_lsn)
            tally->max_lsn = lsn;
        if (live) {
            tally->live++;
            tally->frontier = rid + 1;
        }
        if (live && fn && (rc = fn(ctx, rid, body)) != 0)
            return rc;
    }
    tally->first_free = first_free < tally->frontier ? first_free : tally->frontier;
    return 0;
}

int vmdb__table_summary_agrees(const vmdb_table *t, const vmdb__table_summary *sum,
                               const vmdb__table_tally *tally)
{
    const char *wrong = NULL;
    unsigned long long says = 0, is = 0;
    if (sum->live_count != tally->live)
        wrong = "live records", says = sum->live_count, is = tally->live;
    else if (sum->frontier < tally->frontier)
        wrong = "frontier (a live slot at or past it)", says = sum->frontier,
        is = tally->frontier;
    else if (sum->frontier > t->capacity)
        wrong = "frontier (past the slots)", says = sum->frontier, is = t->capacity;
    else if (sum->hole_from > tally->first_free)
        wrong = "first free slot", says = sum->hole_from, is = tally->first_free;
    else if (sum->max_lsn < tally->max_lsn)
        wrong = "newest LSN", says = sum->max_lsn, is = tally->max_lsn;
    if (!wrong)
        return 0;
    return vmdb__fail(VMDB_ECORRUPT,
                      "%s: the header's summary of the slots is wrong: %s %llu, the slots say "
                      "%llu",
                      t->path, wrong, says, is);
}

/* The even counter a write that made the slot `odd` ends with. It skips
 * 0, which only a slot never written holds: a counter that wrapped around
 * to it would make a written slot look never written, and its record
 * would go unchecked by reads. */
static uint32_t seq_after(uint32_t odd)
{
    uint32_t even = odd + 1;
#ifndef VMDB_MUTANT_SEQ_WRAPS_TO_ZERO /* test-mutants: a wrapped counter reads as never written */
    if (even == 0)
        even = 2;
#endif
    return even;
}

int vmdb__table_write(vmdb_table *t, uint64_t rid, uint64_t lsn, const void *record)
{
    if (lsn & VMDB__SLOT_LIVE)
        return vmdb__fail(VMDB_ECORRUPT, "%s: log position %llu is past what a slot holds (2^63)",
                          t->path, (unsigned long long)lsn);
    if (rid >= t->capacity) {
        int rc = vmdb__table_reserve(t, rid + 1);
        if (rc < 0)
            return rc;
    }
    vmdb__slot *s = vmdb__table_slot(t, rid);
    char *body = (char *)(s + 1);
    uint32_t seq = vmdb__slot_seq(s) | 1; /* a slot a crash left odd stays odd */
    __atomic_store_n(&s->seq, seq, __ATOMIC_RELAXED);
    /* The odd counter must be visible before any byte of the record
     * changes (on x86 stores are not reordered with stores; this also
     * keeps the compiler from doing it). */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    vmdb__slot_store(body, record, t->record_size);
    /* Readers load these while the counter is odd too (and discard them). */
    __atomic_store_n(&s->lsn_live, lsn | (record ? VMDB__SLOT_LIVE : 0), __ATOMIC_RELAXED);
    if (lsn > t->max_lsn)
        t->max_lsn = lsn;
    __atomic_store_n(&s->sum, vmdb__table_checksum(t, rid, record != NULL, body),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&s->seq, seq_after(seq), __ATOMIC_RELEASE);
    return 0;
}

static int push_free(vmdb_table *t, uint64_t rid)
{
    if (t->free_count == t->free_cap) {
        size_t cap = t->free_cap ? t->free_cap * 2 : 64;
        uint64_t *grown = realloc(t->free_rids, cap * sizeof *grown);
        if (!grown)
            return vmdb__fail(VMDB_ENOMEM, "%s: out of memory for the free list", t->path);
        t->free_rids = grown;
        t->free_cap = cap;
    }
    t->free_rids[t->free_count++] = rid;
    return 0;
}

uint64_t vmdb__table_slot_passes;

void vmdb__table_state_empty(vmdb_table *t)
{
    t->free_count = 0;
    t->live_count = 0;
    t->frontier = 0;
    t->hole_next = 0;
    t->hole_end = 0;
    t->holes_unseen = 0;
    t->max_lsn = 0;
    t->state_from_summary = false;
    t->state_doubtful = false;
}

int vmdb__table_scan_state(vmdb_table *t)
{
    vmdb__table_state_empty(t);
    __atomic_add_fetch(&vmdb__table_slot_passes, 1, __ATOMIC_RELAXED);
    uint64_t cap = t->capacity;
    for (uint64_t rid = 0; rid < cap; rid++) {
        vmdb__slot *s = vmdb__table_slot(t, rid);
        uint32_t seq = vmdb__slot_seq(s);
        if (seq & 1) /* its writer died; replay has rewritten or will rewrite it */
            __atomic_store_n(&s->seq, seq_after(seq), __ATOMIC_RELEASE);
        if (vmdb__slot_lsn(s) > t->max_lsn)
            t->max_lsn = vmdb__slot_lsn(s);
        if (vmdb__slot_live(s)) {
            t->live_count++;
            t->frontier = rid + 1;
        }
    }
    /* Every hole goes on the stack: no walk for holes is left. */
    /* Lowest free rid on top of the stack, so inserts fill holes in order. */
    for (uint64_t rid = t->frontier; rid-- > 0;) {
        if (!vmdb__slot_live(vmdb__table_slot(t, rid))) {
            int rc = push_free(t, rid);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static const char *key_field_name(const vmdb_table *t)
{
    return vmdb_schema_field(t->schema, vmdb_schema_key(t->schema))->name;
}

int vmdb__table_caller_key(const vmdb_table *t, const void *key, size_t *len)
{
    if (t->key_is_str) {
        const char *nul = memchr(key, '\0', *len);
        size_t n = nul ? (size_t)(nul - (const char *)key) : *len;
        if (n > t->key_size)
            return vmdb__fail(VMDB_EINVAL,
                              "%s: a key of %zu bytes; key field '%s' (str%zu) holds at most %zu",
                              t->name, n, key_field_name(t), t->key_size, t->key_size);
        *len = n;
        return 0;
    }
    if (*len != t->key_size) {
        const vmdb_field *f = vmdb_schema_field(t->schema, vmdb_schema_key(t->schema));
        return vmdb__fail(VMDB_EINVAL, "%s: a key of %zu bytes; key field '%s' (%s) takes %zu",
                          t->name, *len, f->name, vmdb_type_name(f->type), t->key_size);
    }
    return 0;
}

bool vmdb__table_state_from_summary(vmdb_table *t)
{
    const vmdb__table_summary *s = &t->summary;
    /* The holes, frontier - live_count of them, lie in [hole_from,
     * frontier); numbers that cannot be are no summary. */
    if (!s->log_salt || s->frontier > t->capacity || s->live_count > s->frontier ||
        s->hole_from > s->live_count)
        return false;
    vmdb__table_state_empty(t);
    t->frontier = s->frontier;
    t->live_count = s->live_count;
    t->hole_next = s->hole_from;
    t->hole_end = s->frontier;
    t->holes_unseen = s->frontier - s->live_count;
    t->max_lsn = s->max_lsn;
    t->state_from_summary = true;
    return true;
}

void vmdb__table_write_summary(vmdb_table *t, uint64_t log_pos, uint64_t log_salt)
{
    uint64_t lowest = t->holes_unseen && t->hole_next < t->hole_end ? t->hole_next : t->frontier;
    for (size_t i = 0; i < t->free_count; i++)
        if (t->free_rids[i] < lowest)
            lowest = t->free_rids[i];
    /* A state caught disagreeing with the slots would pass its error on:
     * no summary, and the next open reads the slots. */
    t->summary = (vmdb__table_summary){
        .log_pos = log_pos,
        .log_salt = t->state_doubtful ? 0 : log_salt,
        .frontier = t->frontier,
        .live_count = t->live_count,
        .hole_from = lowest < t->live_count ? lowest : t->live_count,
        .max_lsn = t->max_lsn,
    };
    write_header(t);
}

int vmdb__table_summary_now(vmdb_table *t, vmdb__table_summary *out)
{
    char *copy = malloc(COPY_LEN);
    if (!copy)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", t->path);
    int rc = read_header(t->path, t->map, copy);
    if (rc == 0)
        summary_of_copy(copy, out);
    free(copy);
    return rc;
}

/* Whether slot rid may be handed out: free in the file, or past it. The
 * writer-side state says so already; the slot is asked too because that
 * state may come from a header's summary, which is only as good as the
 * file it was read from. */
static bool slot_free(const vmdb_table *t, uint64_t rid)
{
    return rid >= t->capacity || !vmdb__slot_live(vmdb__table_slot(t, rid));
}

int vmdb__table_alloc_rid(vmdb_table *t, uint64_t *rid)
{
    while (t->free_count) {
        uint64_t r = t->free_rids[--t->free_count];
        if (slot_free(t, r)) {
            *rid = r;
            return 0;
        }
        t->state_doubtful = true;
    }
    /* Holes not yet found (a state taken from the summary): walk up to the
     * next one. The walk only moves up, so a session reads each slot
     * below the frontier at most once, and only while holes remain. No
     * rid handed out from the frontier lies in [hole_next, hole_end), so
     * a free slot there is free indeed, not one in a transaction. */
    while (t->holes_unseen && t->hole_next < t->hole_end) {
        uint64_t r = t->hole_next++;
        if (slot_free(t, r)) {
            t->holes_unseen--;
            *rid = r;
            return 0;
        }
    }
    if (t->holes_unseen)
        t->state_doubtful = true; /* fewer holes than the summary said */
    t->holes_unseen = 0;
    /* A live slot at the frontier means the summary set it too low: the
     * records past it are stepped over, never written over. */
    while (!slot_free(t, t->frontier)) {
        t->frontier++;
        t->state_doubtful = true;
    }
    *rid = t->frontier++;
    return 0;
}

int vmdb__table_release_rid(vmdb_table *t, uint64_t rid)
{
    /* Past the frontier: a summary set it too low. On the stack the rid
     * could go out twice, once from there and once from the frontier as
     * it steps up to a slot still free in the file (the first insert not
     * yet applied). Left alone, the frontier alone hands it out. */
    if (rid >= t->frontier) {
        t->state_doubtful = true;
        return 0;
    }
    if (rid + 1 == t->frontier) {
        t->frontier--;
        /* The frontier hands this rid out again: the walk must not. */
        if (t->hole_end > t->frontier)
            t->hole_end = t->frontier;
        return 0;
    }
    /* Where the walk for holes has yet to go, it finds this one itself. */
    if (rid >= t->hole_next && rid < t->hole_end) {
        t->holes_unseen++;
        return 0;
    }
    return push_free(t, rid);
}

int vmdb__table_lsns_since(vmdb_table *t, uint64_t start,
                           int (*fn)(void *ctx, uint64_t rid, uint64_t lsn), void *ctx)
{
    __atomic_add_fetch(&vmdb__table_slot_passes, 1, __ATOMIC_RELAXED);
    for (uint64_t rid = 0; rid < t->capacity; rid++) {
        const vmdb__slot *slot = vmdb__table_slot(t, rid);
        if (vmdb__slot_seq(slot) == 0 || vmdb__slot_lsn(slot) < start)
            continue; /* never written, or written before the checkpoint */
        int rc = fn(ctx, rid, vmdb__slot_lsn(slot));
        if (rc)
            return rc;
    }
    return 0;
}

int vmdb__table_flush(vmdb_table *t)
{
    return vmdb_map_flush(t->map, 0, 0, VMDB_FLUSH_SYNC);
}

int vmdb__table_follow(vmdb_table *t)
{
    pthread_mutex_lock(&t->follow);
    vmdb__os_stat st;
    int rc = vmdb__os_stat_path(t->path, &st);
    /* The file may have been grown by this handle's writer too, which
     * leaves capacity and map in step: only a longer file is news. */
    if (rc == 0 && st.size > HEADER_LEN + t->capacity * t->stride &&
        st.size > vmdb_map_len(t->map)) {
        uint64_t cap = (st.size - HEADER_LEN) / t->stride;
        rc = grow_slots(t, HEADER_LEN + cap * t->stride, cap);
    }
    pthread_mutex_unlock(&t->follow);
    return rc < 0 ? rc : 0;
}

int vmdb__table_refresh(vmdb_table *t)
{
    vmdb__os_stat st;
    int rc = vmdb__os_stat_path(t->path, &st);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot stat", t->path);
    uint64_t cap = st.size > HEADER_LEN ? (st.size - HEADER_LEN) / t->stride : 0;
    pthread_mutex_lock(&t->follow);
    if (cap > t->capacity)
        rc = grow_slots(t, HEADER_LEN + cap * t->stride, cap);
    pthread_mutex_unlock(&t->follow);
    if (rc < 0)
        return rc;
    const char *base = vmdb_map_ptr(t->map);
    for (int i = 0; i < 2; i++) {
        const struct table_header *h = (const struct table_header *)(base + i * COPY_LEN);
        if (h->used_len >= sizeof *h && h->used_len <= COPY_LEN &&
            vmdb__checksum_matches(h->checksum, header_checksum(h)) &&
            (!has_summary(h->version) || summary_sound(h)) && h->seq > t->header_seq) {
            t->header_seq = h->seq;
            t->version = h->version;
            summary_of_copy((const char *)h, &t->summary);
        }
    }
    return 0;
}

bool vmdb__table_needs_upgrade(const vmdb_table *t)
{
    return t->version < TABLE_VERSION;
}

int vmdb__table_build_headers(const vmdb_table *t, char *head, uint64_t capacity,
                              const vmdb__table_summary *sum)
{
    /* As a new table's (vmdb__table_create_file): B newest. */
    int rc = build_header(head, t->name, t->id, t->schema, 0, capacity, sum);
    if (rc == 0)
        rc = build_header(head + COPY_LEN, t->name, t->id, t->schema, 1, capacity, sum);
    return rc;
}

/* ---- compaction (engine/db/compact.c) ---------------------------------------
 *
 * Compaction never shrinks a mapped file: it writes the table's slots
 * [0, n) into a new file, renames that over the old one, and installs the
 * new file's map in the same struct vmdb_table, whose address users hold.
 * Lock-free readers of this process may be anywhere in a read at that
 * moment, holding the old `slots` pointer, an old capacity, or a pointer
 * from vmdb_table_get_ptr(), so the old map is never unmapped while the table
 * is open: it is retired, with the old index, into a husk (a table handle
 * that holds them) kept in the list below. compact.c first moves every
 * record below n through the log, so old and new files hold the same
 * bytes in [0, n) when the swap happens, and a reader that mixes old and
 * new pointers still reads the right record. The one mix that could
 * fault, an old (larger) capacity with the new (smaller) slots, reads the
 * zero pages vmdb__table_pad() maps behind the new file: free slots.
 *
 * Cost: each husk keeps its file's pages and address-space reservations
 * (a few times each file's length, reserved, not committed) until
 * vmdb__table_release_retired().
 */

int vmdb__table_write_prefix(vmdb_table *t, const char *path, uint64_t count)
{
    char *head = calloc(1, HEADER_LEN);
    if (!head)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    /* As a new table's (vmdb__table_create_file): B newest. */
    int rc = build_header(head, t->name, t->id, t->schema, 0, count, NULL);
    if (rc == 0)
        rc = build_header(head + COPY_LEN, t->name, t->id, t->schema, 1, count, NULL);
    if (rc < 0) {
        free(head);
        return vmdb__fail(rc, "%s: %s", path, vmdb_last_error()->message);
    }
    uint64_t body = count * t->stride;
    int fd = -1;
    const char *step = "create";
    vmdb__os_unlink(path); /* left by a compaction that crashed */
    rc = vmdb__os_open(path, VMDB__OS_RDWR | VMDB__OS_CREATE | VMDB__OS_EXCL, 0644, &fd);
    if (rc == 0 && (rc = vmdb__os_allocate(fd, 0, HEADER_LEN + body)) < 0)
        step = "allocate the blocks of";
    if (rc == 0 && (rc = vmdb__os_pwrite_all(fd, head, HEADER_LEN, 0)) < 0)
        step = "write the header of";
    if (rc == 0 && body && (rc = vmdb__os_pwrite_all(fd, t->slots, (size_t)body, HEADER_LEN)) < 0)
        step = "write the slots of";
    if (rc == 0 && (rc = vmdb__os_sync(fd, false)) < 0)
        step = "sync";
    vmdb__os_close(fd);
    free(head);
    if (rc < 0) {
        vmdb__os_unlink(path);
        return vmdb__fail_os(rc, "%s: cannot %s the compacted table file", path, step);
    }
    return 0;
}

int vmdb__table_pad(vmdb_table *fresh, uint64_t len)
{
    size_t page = vmdb_page_size();
    /* The zero pages go inside the reservation, so that growing the map
     * later maps the file over them in place, and the map moves only for
     * a length past them. */
    int rc = vmdb_map_make_room(fresh->map, len);
    if (rc < 0)
        return rc;
    /* A fresh map has no readers: its slots may follow a move unordered. */
    fresh->slots = (char *)vmdb_map_ptr(fresh->map) + HEADER_LEN;
    uint64_t from = vmdb__round_up(vmdb_map_len(fresh->map), page);
    uint64_t to = vmdb__round_up(len, page);
    if (to <= from)
        return 0;
    /* The map starts at file offset 0, so its pointer is the start of its
     * reservation, page aligned, and [from, to) lies inside it. */
    vmdb__os_mapping how = {.prot = VMDB__PROT_READ};
    char *base = vmdb_map_ptr(fresh->map);
    rc = vmdb__os_map_fixed(base + from, (size_t)(to - from), &how, -1, 0);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot map %llu bytes of zero pages behind the slots",
                             fresh->path, (unsigned long long)(to - from));
    return 0;
}

void vmdb__table_install(vmdb_table *t, vmdb_table *fresh)
{
    pthread_mutex_lock(&t->follow);
    vmdb_map *old_map = t->map;
    char *old_slots = t->slots;
    uint64_t old_capacity = t->capacity;
    uint64_t old_header_seq = t->header_seq;
    vmdb__table_summary old_summary = t->summary;
    uint32_t old_version = t->version;
    /* Readers load the capacity, then the slots pointer, then the slot.
     * Every mix is safe (see above); the smaller capacity goes first so the
     * padded mix lasts as short as it can. */
    __atomic_store_n(&t->capacity, fresh->capacity, __ATOMIC_RELEASE);
    __atomic_store_n(&t->slots, fresh->slots, __ATOMIC_RELEASE);
    __atomic_store_n(&t->map, fresh->map, __ATOMIC_RELEASE);
    t->header_seq = fresh->header_seq;
    t->summary = fresh->summary;
    t->version = fresh->version;
    fresh->map = old_map;
    fresh->slots = old_slots;
    fresh->capacity = old_capacity;
    fresh->header_seq = old_header_seq;
    fresh->summary = old_summary;
    fresh->version = old_version;
    pthread_mutex_unlock(&t->follow);
}

void vmdb__table_install_index(vmdb_table *t, vmdb_table *husk, vmdb__index *ix)
{
    husk->index = t->index;
    __atomic_store_n(&t->index, ix, __ATOMIC_RELEASE);
}

struct retired {
    const vmdb_table *owner;
    vmdb_table *husk;
    struct retired *next;
};

/* Process-wide, because struct vmdb_table has no field for it: husks of
 * every table, found by their owner's address. */
static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;
static struct retired *retired_list;

int vmdb__table_retire(vmdb_table *owner, vmdb_table *husk)
{
    struct retired *r = malloc(sizeof *r);
    if (!r)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", owner->path);
    r->owner = owner;
    r->husk = husk;
    pthread_mutex_lock(&retired_lock);
    r->next = retired_list;
    retired_list = r;
    pthread_mutex_unlock(&retired_lock);
    return 0;
}

uint64_t vmdb__table_retired_len(const vmdb_table *owner)
{
    uint64_t longest = 0;
    pthread_mutex_lock(&retired_lock);
    for (struct retired *r = retired_list; r; r = r->next)
        if (r->owner == owner && r->husk->map && vmdb_map_len(r->husk->map) > longest)
            longest = vmdb_map_len(r->husk->map);
    pthread_mutex_unlock(&retired_lock);
    return longest;
}

void vmdb__table_release_retired(const vmdb_table *owner)
{
    struct retired *mine = NULL;
    pthread_mutex_lock(&retired_lock);
    for (struct retired **p = &retired_list; *p;) {
        struct retired *r = *p;
        if (r->owner == owner) {
            *p = r->next;
            r->next = mine;
            mine = r;
        } else {
            p = &r->next;
        }
    }
    pthread_mutex_unlock(&retired_lock);
    while (mine) {
        struct retired *next = mine->next;
        vmdb__table_close(mine->husk);
        free(mine);
        mine = next;
    }
}
