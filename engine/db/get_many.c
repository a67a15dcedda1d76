/* SPDX-License-Identifier: MIT */
/*
 * engine/db/get_many.c - many point reads at once. A single get waits
 * for two cache misses in turn, the index entry and then the record it
 * names, and the memory here serves several misses in flight nearly as
 * fast as one. So the keys go through a pipeline: a key's index line is
 * prefetched, DEPTH keys later its record's lines (from an unchecked
 * look at the index), and DEPTH keys after that it is read by the plain
 * get, whose every check stays as it is: the prefetches are hints, and a
 * wrong hint costs time, never an answer.
 */
#include "db.h"

#include "index.h"
#include "internal.h"

/* Keys between the prefetch of an index line and its use, and again
 * between a record's prefetch and its read: enough misses in flight to
 * cover the memory's latency, few enough that the lines stay cached. */
#define DEPTH 8
#define WINDOW 32 /* a power of two above 2 * DEPTH */

long vmdb_table_get_many(vmdb_table *t, const void *keys, size_t key_size, size_t n,
                         void *records, bool *found)
{
    if (!t || (n && (!keys || !records)))
        return vmdb__fail(VMDB_EINVAL,
                          "vmdb_table_get_many: table, keys and records are required");
    if (!key_size)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_get_many: %s: key_size is 0", t->path);
    const unsigned char *key_at = keys;
    unsigned char *record_at = records;
    uint64_t hashes[WINDOW], hints[WINDOW];
    bool hashed[WINDOW];
    long hits = 0;
    for (size_t i = 0; i < n + 2 * DEPTH; i++) {
        vmdb__index *ix = vmdb__table_index(t);
        if (i < n) {
            size_t len = key_size;
            const void *key = key_at + i * key_size;
            hashed[i % WINDOW] = vmdb__table_caller_key(t, key, &len) == 0;
            if (hashed[i % WINDOW]) {
                hashes[i % WINDOW] = vmdb__index_hash(key, len);
                vmdb__index_prefetch(ix, hashes[i % WINDOW]);
            } else {
                vmdb_error_clear(); /* the get below reports it */
            }
        }
        if (i >= DEPTH && i - DEPTH < n) {
            size_t j = (i - DEPTH) % WINDOW;
            hints[j] = hashed[j] ? vmdb__index_hint(ix, hashes[j]) : UINT64_MAX;
            if (hints[j] != UINT64_MAX)
                vmdb__table_prefetch(t, hints[j]);
        }
        if (i >= 2 * DEPTH) {
            size_t k = i - 2 * DEPTH;
#ifdef VMDB_MUTANT_GET_MANY_TRUSTS_HINT
            /* The bug a shortcut would bring: the hint taken as the answer. */
            int rc = hints[k % WINDOW] == UINT64_MAX
                         ? VMDB_ENOTFOUND
                         : vmdb_table_get_rid(t, hints[k % WINDOW], record_at + k * t->record_size);
#else
            int rc = vmdb_table_get(t, key_at + k * key_size, key_size,
                                    record_at + k * t->record_size, NULL);
#endif
            if (rc < 0 && rc != VMDB_ENOTFOUND)
                return rc;
            if (found)
                found[k] = rc == 0;
            hits += rc == 0;
        }
    }
    return hits;
}
