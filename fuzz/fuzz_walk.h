/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_walk.h - reads everything an open database shows, every way
 * the public API offers, so that what a damaged file makes of the
 * engine's state is looked at: the tables and their stats, each record
 * by cursor, by zero-copy scan and by key, every field as text, and the
 * log's records. Failures are expected answers here (the files are
 * hostile); only a crash, a sanitizer report or a broken promise counts.
 */
#ifndef VMDB_FUZZ_WALK_H
#define VMDB_FUZZ_WALK_H

#include "fuzz_record.h"

/* Bounds a walk over a table whose header claims millions of slots. */
#define FUZZ_WALK_MAX_RECORDS 4096

static void fuzz_walk_fields(const vmdb_schema *s, const void *record)
{
    static char text[8200];
    for (size_t f = 0; f < vmdb_schema_field_count(s); f++) {
        size_t len;
        FUZZ_MUST(vmdb_record_format_text(s, record, f, text, sizeof text, &len) == 0);
    }
}

static int fuzz_walk_table(void *ctx, vmdb_table *t)
{
    (void)ctx;
    const vmdb_schema *s = vmdb_table_schema(t);
    FUZZ_MUST(s != NULL && vmdb_table_name(t) != NULL);
    vmdb_table_info info;
    (void)vmdb_table_stat(t, &info);
    size_t size = vmdb_schema_record_size(s);
    unsigned char *record = malloc(size), *again = malloc(size);
    FUZZ_MUST(record && again);

    vmdb_table_cursor c;
    vmdb_table_cursor_init(&c, t);
    uint64_t rid;
    for (int n = 0; n < FUZZ_WALK_MAX_RECORDS && vmdb_table_cursor_next(&c, &rid, record) == 0; n++) {
        fuzz_walk_fields(s, record);
        const void *key;
        size_t key_len;
        FUZZ_MUST(vmdb_record_key(s, record, &key, &key_len) == 0);
        uint64_t found;
        (void)vmdb_table_get(t, key, key_len, again, &found);
        (void)vmdb_table_get_rid(t, rid, again);
        const void *ptr;
        uint64_t seq;
        if (vmdb_table_get_ptr(t, rid, &ptr, &seq) == 0)
            (void)vmdb_table_read_valid(t, rid, seq);
    }

    vmdb_table_scan_batch b = {.next_rid = 0};
    for (int n = 0; n < FUZZ_WALK_MAX_RECORDS / VMDB_SCAN_BATCH && vmdb_table_scan_next(t, &b) == 0;
         n++)
        for (size_t i = 0; i < b.count; i++) {
            memcpy(record, b.record[i], size);
            if (vmdb_scan_valid(&b, i))
                fuzz_walk_fields(s, record);
        }
    free(record);
    free(again);
    return 0;
}

static int fuzz_walk_log_entry(void *ctx, const vmdb_wal_entry *e)
{
    int *left = ctx;
    FUZZ_MUST(e->kind != NULL && e->table != NULL);
    return --*left > 0 ? 0 : 1;
}

static inline void fuzz_walk(vmdb_db *db)
{
    vmdb_db_info info;
    (void)vmdb_db_stat(db, &info);
    vmdb_recovery rep;
    (void)vmdb_recovery_report(db, &rep);
    (void)vmdb_table_foreach(db, fuzz_walk_table, NULL);
    int left = FUZZ_WALK_MAX_RECORDS;
    (void)vmdb_wal_foreach(db, fuzz_walk_log_entry, &left);
    (void)vmdb_check(db);
}

#endif /* VMDB_FUZZ_WALK_H */
