/* SPDX-License-Identifier: MIT */
/*
 * engine/store/wal.c - the write-ahead log.
 *
 * The log is a file-backed mirrored ring (engine/mem/ring.c, wal.ring in the
 * database directory) holding redo records back to back, each 8-byte
 * aligned:
 *
 *   offset  size  field
 *   0       8     lsn          the record's own ring position
 *   8       8     salt         the log's salt when it was written
 *   16      4     len          bytes of the record, header and padding
 *   20      4     payload_len  bytes of payload after the header
 *   24      8     txn          lsn of the transaction's first record
 *   32      8     rid          record id the change applies to
 *   40      2     table        table id
 *   42      1     kind         PUT (payload = after-image), DELETE
 *                              (payload = the old key), COMMIT (none)
 *   43      5     zero
 *   48      8     checksum     XXH3-64 of bytes 0-47 and the payload
 *   56      ...   payload, then zeros up to len
 *
 * There is no "end of log" pointer to keep in step: the log ends at the
 * first position whose record does not check out. A record left over from
 * an earlier lap has another lsn; one from before the last checkpoint or
 * recovery has another salt (a new random salt is drawn at each, as
 * SQLite's WAL does); a record half written when the power went has a bad
 * checksum. The ring's header copies keep the checkpoint position (the
 * tail) and, in their user bytes, the magic "VMDBWAL1", the salt and the
 * most bytes the log may grow to (0 in a log made before logs grew: the
 * database's default).
 *
 * The log grows (and shrinks) by being replaced: at a checkpoint, when
 * everything before the checkpoint position is durable in the tables, a
 * new ring file of the new size, empty, its positions starting at that
 * position and with a new salt, is built beside the old one and renamed
 * over it (vmdb__wal_replace). Positions run on across files, so the
 * slots' LSNs and the lock page's durable LSN keep their meaning; a power
 * cut leaves the old file, checkpointed and empty past the position, or
 * the new one, empty from it: both say the same. Handles that map the old
 * file learn of the new one from the lock page (engine/db/wal_grow.c).
 *
 * A transaction writes its records past the published end of the ring,
 * where nobody reads, then its COMMIT record, then publishes them all with
 * one store of the ring's head. Abort is not publishing. Durability SYNC
 * flushes the published range before commit returns; the range is written
 * back page by page because the ring is advised MADV_RANDOM (docs/design.md,
 * "Write-back granularity").
 */
#include "wal.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "checksum.h"
#include "internal.h"
#include "os.h"

_Static_assert(sizeof(vmdb__wal_record) == VMDB__WAL_HEADER_LEN, "wal record layout");
_Static_assert(offsetof(vmdb__wal_record, len) == 16, "wal record layout");
_Static_assert(offsetof(vmdb__wal_record, txn) == 24, "wal record layout");
_Static_assert(offsetof(vmdb__wal_record, rid) == 32, "wal record layout");
_Static_assert(offsetof(vmdb__wal_record, table) == 40, "wal record layout");
_Static_assert(offsetof(vmdb__wal_record, kind) == 42, "wal record layout");
_Static_assert(offsetof(vmdb__wal_record, checksum) == 48, "wal record layout");

/* What the log keeps in the ring header's user bytes. */
struct wal_user {
    char magic[8]; /* "VMDBWAL1" */
    uint64_t salt;
    uint64_t max; /* bytes the log may grow to; 0: not said */
};
#define WAL_MAGIC "VMDBWAL1"

struct vmdb__wal {
    vmdb_ring *ring;
    char *path;
    uint64_t salt;
    uint64_t cap; /* ring bytes */
    uint64_t max; /* the header's word on how far the log may grow */
};

vmdb_ring *vmdb__wal_ring(const vmdb__wal *w)
{
    return w->ring;
}

uint64_t vmdb__wal_salt(const vmdb__wal *w)
{
    return w->salt;
}

uint64_t vmdb__wal_end(const vmdb__wal *w)
{
    return vmdb_ring_head(w->ring);
}

uint64_t vmdb__wal_start(const vmdb__wal *w)
{
    return vmdb_ring_tail(w->ring);
}

uint64_t vmdb__wal_cap(const vmdb__wal *w)
{
    return w->cap;
}

uint64_t vmdb__wal_max(const vmdb__wal *w)
{
    return w->max;
}

void vmdb__wal_close(vmdb__wal *w)
{
    if (!w)
        return;
    vmdb_ring_close(w->ring);
    free(w->path);
    free(w);
}

static int draw_salt(const char *path, uint64_t *salt)
{
    int rc = vmdb__os_random(salt, sizeof *salt);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot draw a salt", path);
    *salt |= 1; /* never 0, the salt of a zero-filled record */
    return 0;
}

int vmdb__wal_draw_salt(vmdb__wal *w, uint64_t *salt)
{
    return draw_salt(w->path, salt);
}

static struct wal_user user_bytes(uint64_t salt, uint64_t max)
{
    struct wal_user user;
    memset(&user, 0, sizeof user);
    memcpy(user.magic, WAL_MAGIC, sizeof user.magic);
    user.salt = salt;
    user.max = max;
    return user;
}

static int set_salt(vmdb__wal *w, uint64_t salt)
{
    w->salt = salt;
    struct wal_user user = user_bytes(w->salt, w->max);
    return vmdb_ring_set_user(w->ring, &user, sizeof user);
}

int vmdb__wal_open(const char *path, uint64_t size, uint64_t max, bool create, bool readonly,
                   vmdb__wal **out)
{
    *out = NULL;
    vmdb__wal *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    }
    vmdb_ring_options o = {
        .cap = size,
        .flags = (create ? VMDB_RING_CREATE | VMDB_RING_EXCL : 0) |
                 (readonly ? VMDB_RING_READONLY : 0),
        .advice = VMDB_ADVICE_RANDOM,
    };
    w->max = max;
    int rc = vmdb_ring_open(path, &o, &w->ring);
    if (rc == 0)
        w->cap = vmdb_ring_cap(w->ring);
    uint64_t salt = 0;
    if (rc == 0 && create && (rc = vmdb__wal_draw_salt(w, &salt)) == 0) {
        rc = set_salt(w, salt);
        if (rc == 0)
            rc = vmdb_ring_sync(w->ring);
    } else if (rc == 0) {
        struct wal_user user;
        vmdb_ring_user(w->ring, &user, sizeof user);
        if (memcmp(user.magic, WAL_MAGIC, sizeof user.magic) != 0)
            rc = vmdb__fail(VMDB_EBADMAGIC, "%s: a ring file, but not a vmdb log", path);
        /* Records lie 8-byte aligned from position 0 on, so the ring's
         * positions are multiples of 8: others come from a damaged ring
         * header, and a scan from there would read records misaligned. */
        uint64_t tail = vmdb_ring_tail(w->ring), head = vmdb_ring_head(w->ring);
        if (rc == 0 && (tail % 8 || head % 8))
            rc = vmdb__fail(VMDB_ECORRUPT,
                            "%s: log positions %llu to %llu are not 8-byte aligned", path,
                            (unsigned long long)tail, (unsigned long long)head);
        w->salt = user.salt;
        w->max = user.max;
    }
    if (rc < 0) {
        vmdb__wal_close(w);
        return rc;
    }
    *out = w;
    return 0;
}

static uint64_t record_checksum(const vmdb__wal_record *h, const void *payload)
{
    uint64_t head = XXH3_64bits(h, offsetof(vmdb__wal_record, checksum));
    return XXH3_64bits_withSeed(payload, h->payload_len, head);
}

uint64_t vmdb__wal_room(const vmdb__wal *w, uint64_t pos)
{
    uint64_t tail = vmdb_ring_tail(w->ring);
    return w->cap - (pos - tail);
}

const void *vmdb__wal_write(vmdb__wal *w, uint64_t *pos, enum vmdb__wal_kind kind,
                            uint16_t table, uint64_t txn, uint64_t rid, const void *payload,
                            uint32_t payload_len)
{
    uint32_t len = vmdb__wal_record_len(payload_len);
    char *at = vmdb_ring_pos_ptr(w->ring, *pos);
    vmdb__wal_record *h = (vmdb__wal_record *)at;
    *h = (vmdb__wal_record){
        .lsn = *pos,
        .salt = w->salt,
        .len = len,
        .payload_len = payload_len,
        .txn = txn,
        .rid = rid,
        .table = table,
        .kind = (uint8_t)kind,
    };
    char *body = at + VMDB__WAL_HEADER_LEN;
    if (payload_len && payload != body) /* resealing rewrites a record in place */
        memcpy(body, payload, payload_len);
    memset(body + payload_len, 0, len - VMDB__WAL_HEADER_LEN - payload_len);
    h->checksum = record_checksum(h, body);
    *pos += len;
    return body;
}

int vmdb__wal_publish(vmdb__wal *w, uint64_t pos)
{
    uint64_t head = vmdb_ring_head(w->ring);
    return vmdb_ring_commit(w->ring, (size_t)(pos - head));
}

int vmdb__wal_flush(vmdb__wal *w, uint64_t from, uint64_t to)
{
#ifdef VMDB_MUTANT_NO_LOG_FLUSH
    return 0; /* mutant (test-mutants): durable commits never reach the disk */
#endif
    return vmdb_ring_flush(w->ring, from, to, VMDB_FLUSH_SYNC);
}

#ifdef VMDB_TEST_HOOKS
void (*vmdb__wal_scan_test_hook)(const char *stage, const void *rec);
#define SCAN_STAGE(name, rec)                                                   \
    do {                                                                        \
        if (vmdb__wal_scan_test_hook)                                           \
            vmdb__wal_scan_test_hook(name, rec);                                \
    } while (0)
#else
#define SCAN_STAGE(name, rec) ((void)0)
#endif

/* A record at `pos` checks out: 1 valid, 0 not a record of this log here,
 * -1 a record of this log here but damaged (a torn write). */
static int check_record(const vmdb__wal *w, uint64_t salt, uint64_t pos, uint64_t limit,
                        const vmdb__wal_record **out)
{
    const vmdb__wal_record *h = vmdb_ring_pos_ptr(w->ring, pos);
    *out = h;
    if (limit - pos < VMDB__WAL_HEADER_LEN)
        return 0;
    /* Checked and summed as one copy: a reader without the lock scans
     * the live log, where a writer in another process writes over a
     * record once a checkpoint freed its place, and a length read again
     * after it was checked took the checksum past the log's map. */
    vmdb__wal_record c;
    memcpy(&c, h, sizeof c);
    if (c.lsn != pos || c.salt != salt)
        return 0;
    if (c.len < VMDB__WAL_HEADER_LEN || c.len % 8 || c.len > limit - pos ||
        c.payload_len > c.len - VMDB__WAL_HEADER_LEN ||
        vmdb__wal_record_len(c.payload_len) != c.len)
        return -1;
    SCAN_STAGE("fields checked", h);
    if (!vmdb__checksum_matches(c.checksum,
                                record_checksum(&c, (const char *)h + VMDB__WAL_HEADER_LEN)))
        return -1;
    return 1;
}

static int scan_with_salt(vmdb__wal *w, uint64_t salt, uint64_t from, uint64_t to,
                          int (*fn)(void *ctx, const vmdb__wal_record *rec,
                                    const void *payload),
                          void *ctx, vmdb__wal_scan_end *end)
{
    /* Nothing past tail + cap can belong to this lap of the log. */
    uint64_t limit = vmdb_ring_tail(w->ring) + w->cap;
    if (to < limit)
        limit = to;
    uint64_t pos = from;
    int rc = 0;
    end->torn = false;
    for (;;) {
        const vmdb__wal_record *h;
        int verdict = check_record(w, salt, pos, limit, &h);
        if (verdict <= 0) {
            end->torn = verdict < 0;
            break;
        }
        SCAN_STAGE("record checked", h);
        rc = fn ? fn(ctx, h, (const char *)h + VMDB__WAL_HEADER_LEN) : 0;
        if (rc)
            break;
        pos += h->len;
    }
    end->pos = pos;
    return rc;
}

int vmdb__wal_scan(vmdb__wal *w, uint64_t from, uint64_t to,
                   int (*fn)(void *ctx, const vmdb__wal_record *rec, const void *payload),
                   void *ctx, vmdb__wal_scan_end *end)
{
    return scan_with_salt(w, w->salt, from, to, fn, ctx, end);
}

/* Checkpoints of other processes meanwhile a scan may meet: each moves
 * the tail and draws a salt, and the records after it are overwritten. */
#define LIVE_SCAN_TRIES 100

int vmdb__wal_check_live(vmdb__wal *w, const uint64_t *live_salt,
                         int (*fn)(void *ctx, const vmdb__wal_record *rec, const void *payload),
                         void *ctx, vmdb__wal_scan_end *end)
{
    for (int i = 0;; i++) {
        uint64_t from = vmdb_ring_tail(w->ring);
        uint64_t salt = __atomic_load_n(live_salt, __ATOMIC_ACQUIRE);
        uint64_t to = vmdb_ring_head(w->ring);
        int rc = scan_with_salt(w, salt, from, to, fn, ctx, end);
        /* The handle's own salt is the truth where the shared one is not
         * kept (a read-only look after a power cut). */
        if (rc == 0 && end->pos != to && w->salt != salt)
            rc = scan_with_salt(w, w->salt, from, to, fn, ctx, end);
        /* A finding on a record a checkpoint freed meanwhile may be the
         * records written over it since: only one on a log that stayed
         * put is damage. */
        bool moved = vmdb_ring_tail(w->ring) != from ||
                     __atomic_load_n(live_salt, __ATOMIC_ACQUIRE) != salt;
        if (rc && moved && i + 1 < LIVE_SCAN_TRIES) {
            vmdb_error_clear();
            continue;
        }
        if (rc)
            return rc;
        if (end->pos == to)
            return 0;
        if ((vmdb_ring_tail(w->ring) == from &&
             __atomic_load_n(live_salt, __ATOMIC_ACQUIRE) == salt) ||
            i + 1 == LIVE_SCAN_TRIES)
            return 1;
    }
}

int vmdb__wal_checkpoint(vmdb__wal *w, uint64_t pos, uint64_t salt)
{
    int rc = vmdb_ring_reset(w->ring, pos);
    if (rc == 0)
        rc = set_salt(w, salt);
    if (rc == 0)
        rc = vmdb_ring_sync(w->ring);
    return rc;
}

int vmdb__wal_replace(const vmdb__wal *w, uint64_t size, uint64_t max, uint64_t pos,
                      vmdb__wal **out)
{
    *out = NULL;
    uint64_t salt;
    int rc = draw_salt(w->path, &salt);
    if (rc < 0)
        return rc;
    struct wal_user user = user_bytes(salt, max);
    vmdb_ring_options o = {.cap = size};
    rc = vmdb_ring_replace(w->path, &o, pos, &user, sizeof user);
    if (rc == 0)
        rc = vmdb__wal_open(w->path, 0, 0, false, false, out);
    return rc;
}

#ifdef VMDB_MUTANT_SALT_FROM_LOCK_PAGE
/* Mutant (test-mutants): the salt the lock page names, as writers took it
 * before they read the log's header at every lock. */
void vmdb__wal_adopt_salt(vmdb__wal *w, uint64_t salt)
{
    w->salt = salt;
}
#endif

int vmdb__wal_follow_salt(vmdb__wal *w)
{
    struct wal_user user;
    int rc = vmdb_ring_user(w->ring, &user, sizeof user);
    if (rc == 0)
        w->salt = user.salt;
    return rc;
}
