/* SPDX-License-Identifier: MIT */
/*
 * tests/old_table.h - table files as builds before table format 3 wrote
 * them (32-byte slot headers: u64 seq, u64 lsn, u64 checksum, u32 live,
 * u32 reserved; docs/format.md, "Versions 1 and 2"), made by hand from
 * a file of today's layout, so that the suites can open what an older
 * build left without keeping an older build around.
 */
#ifndef VMDB_TESTS_OLD_TABLE_H
#define VMDB_TESTS_OLD_TABLE_H

#include <xxhash.h>

#include "helpers.h"

#define OLD_TABLE_COPY 4096u
#define OLD_TABLE_HEADER 8192u
#define OLD_TABLE_SUMMARY_AT 3968u
#define OLD_SLOT_HEADER 32u
#define NEW_SLOT_HEADER 16u

static inline uint32_t old_table_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t old_table_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Reseals a header copy of `version` (1: no summary, zeros there). */
static inline void old_table_reseal(unsigned char *h, uint32_t version)
{
    memcpy(h + 16, &version, 4);
    uint32_t used_len = old_table_u32(h + 20);
    uint64_t sum = XXH3_64bits(h + 16, used_len - 16);
    memcpy(h + 8, &sum, 8);
    if (version == 1) {
        memset(h + OLD_TABLE_SUMMARY_AT, 0, OLD_TABLE_COPY - OLD_TABLE_SUMMARY_AT);
    } else {
        uint64_t ssum = XXH3_64bits_withSeed(h + OLD_TABLE_SUMMARY_AT, 120, sum);
        memcpy(h + OLD_TABLE_SUMMARY_AT + 120, &ssum, 8);
    }
}

/* Rewrites the version 3 table file at `path` as version `version` (1 or
 * 2) would hold the same slots: each header copy restamped and resealed
 * (its stride that of 32-byte slot headers), each slot's counter, lsn and
 * live flag widened, its checksum the full XXH3-64 of its record (a slot
 * never written stays all zeros). */
static inline void make_old_table(const char *path, uint32_t version)
{
    size_t len;
    unsigned char *now = read_file(path, &len);
    uint32_t record_size = old_table_u32(now + 28);
    uint32_t stride = old_table_u32(now + 32);
    cr_assert_eq(old_table_u32(now + 16), 3, "%s: not a version 3 table", path);
    cr_assert_eq(stride, (NEW_SLOT_HEADER + record_size + 7) / 8 * 8);
    uint32_t old_stride = (OLD_SLOT_HEADER + record_size + 7) / 8 * 8;
    uint64_t cap = (len - OLD_TABLE_HEADER) / stride;
    size_t old_len = OLD_TABLE_HEADER + cap * old_stride;
    unsigned char *old = calloc(1, old_len);
    cr_assert(old);
    memcpy(old, now, OLD_TABLE_HEADER);
    for (int copy = 0; copy < 2; copy++) {
        unsigned char *h = old + copy * OLD_TABLE_COPY;
        memcpy(h + 32, &old_stride, 4);
        old_table_reseal(h, version);
    }
    for (uint64_t rid = 0; rid < cap; rid++) {
        const unsigned char *s = now + OLD_TABLE_HEADER + rid * stride;
        unsigned char *o = old + OLD_TABLE_HEADER + rid * old_stride;
        uint64_t seq = old_table_u32(s);
        uint64_t lsn_live = old_table_u64(s + 8);
        uint32_t live = (uint32_t)(lsn_live >> 63);
        uint64_t lsn = lsn_live & ~(UINT64_C(1) << 63);
        const unsigned char *record = s + NEW_SLOT_HEADER;
        uint64_t sum = seq == 0 && !live
                           ? 0
                           : XXH3_64bits_withSeed(record, record_size, rid << 1 | live);
        cr_assert_eq((uint32_t)sum, old_table_u32(s + 4), "%s: slot %llu is damaged already",
                     path, (unsigned long long)rid);
        memcpy(o, &seq, 8);
        memcpy(o + 8, &lsn, 8);
        memcpy(o + 16, &sum, 8);
        memcpy(o + 24, &live, 4);
        memcpy(o + OLD_SLOT_HEADER, record, record_size);
    }
    write_file(path, old, old_len);
    free(old);
    free(now);
}

#endif /* VMDB_TESTS_OLD_TABLE_H */
