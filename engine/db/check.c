/* SPDX-License-Identifier: MIT */
/*
 * engine/db/check.c - vmdb_check(): does every file say what it should?
 *
 * For each table: both header copies (opening survives a damaged one, but
 * it is damage all the same, repaired by the next open for writing);
 * every live slot's checksum; that every live record is
 * found through the index at its own id; that every index entry names a
 * live record whose key hashes to the entry's hash, and as many entries as
 * live records; and that the header's summary of the slots, when it is
 * the one an open would believe (engine/db/summary.c), says what the slots
 * do. Then the log: from the checkpoint, records check out until the end,
 * and the end is not a torn record.
 */
#include "db.h"

#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "internal.h"

static int match(void *ctx, uint64_t rid, const void *key, size_t len)
{
    return vmdb__table_key_equals(ctx, rid, key, len);
}

struct slot_check {
    vmdb_table *table;
    uint64_t live;
};

/* A live slot that checked out: the index finds it, at its own id. */
static int check_indexed(void *ctx, uint64_t rid, const void *record)
{
    struct slot_check *c = ctx;
    vmdb_table *t = c->table;
    c->live++;
    const void *key;
    size_t len;
    vmdb__table_key(t, record, &key, &len);
    uint64_t found;
    int rc = vmdb__index_find(t->index, vmdb__index_hash(key, len), key, len, match, t, &found);
    if (rc == VMDB_ENOTFOUND)
        return vmdb__fail(VMDB_ECORRUPT, "%s: record %llu is missing from the index", t->name,
                          (unsigned long long)rid);
    if (rc < 0)
        return rc;
    if (found != rid)
        return vmdb__fail(VMDB_ECORRUPT, "%s: the index finds record %llu's key at record %llu",
                          t->name, (unsigned long long)rid, (unsigned long long)found);
    return 0;
}

static int check_slots(vmdb_table *t, uint64_t *live, vmdb__table_tally *tally)
{
    struct slot_check c = {.table = t};
    int rc = vmdb__table_verify_tally(t, check_indexed, &c, tally);
    *live = c.live;
    return rc;
}

struct entry_check {
    vmdb_table *table;
    uint64_t entries;
    int rc;
};

static int check_entry(void *ctx, uint64_t hash, uint64_t rid)
{
    struct entry_check *c = ctx;
    vmdb_table *t = c->table;
    c->entries++;
    if (rid >= t->capacity || !vmdb__slot_live(vmdb__table_slot(t, rid))) {
        c->rc = vmdb__fail(VMDB_ECORRUPT, "%s: an index entry names record %llu, which is not "
                                          "live",
                           t->name, (unsigned long long)rid);
        return 1;
    }
    const void *key;
    size_t len;
    vmdb__table_key(t, vmdb__table_slot(t, rid) + 1, &key, &len);
    if (vmdb__index_hash(key, len) != hash) {
        c->rc = vmdb__fail(VMDB_ECORRUPT, "%s: the index entry of record %llu has a stale hash",
                           t->name, (unsigned long long)rid);
        return 1;
    }
    return 0;
}

static int check_table(vmdb_table *t)
{
    uint64_t live = 0;
    vmdb__table_tally tally;
    vmdb__table_summary sum;
    /* Another process may have grown it: the index names its new slots. */
    int rc = vmdb__table_follow(t);
    if (rc == 0)
        rc = vmdb__table_check_headers(t);
    /* Whether the summary is current is judged by the log, which must
     * be the one other handles write: a log another process replaced,
     * empty from the position that process's close checkpointed at
     * twice, made a summary look current while commits went on into the
     * new log, and a sound table was called damaged. A handle that
     * cannot follow now holds the summary to nothing. */
    bool log_current = rc == 0 && vmdb__db_wal_current(t->db);
    /* The summary before the slots: a commit in between makes the log
     * hold it (no longer current) or the read transaction retry. */
    if (rc == 0)
        rc = vmdb__table_summary_now(t, &sum);
    if (rc == 0)
        rc = check_slots(t, &live, &tally);
    if (rc == 0 && log_current)
        rc = vmdb__db_check_summary(t->db, t, &sum, &tally);
    if (rc < 0)
        return rc;
    struct entry_check c = {.table = t};
    vmdb__index_foreach(t->index, check_entry, &c);
    if (c.rc < 0)
        return c.rc;
    if (c.entries != live)
        return vmdb__fail(VMDB_ECORRUPT, "%s: %llu index entries for %llu live records",
                          t->name, (unsigned long long)c.entries, (unsigned long long)live);
    return 0;
}

static int check_tables(vmdb_db *db)
{
    vmdb_table **tables = NULL;
    size_t count = 0;
    int rc = vmdb__db_tables_snapshot(db, &tables, &count);
    for (size_t i = 0; rc == 0 && i < count; i++)
        if (!__atomic_load_n(&tables[i]->dropped, __ATOMIC_ACQUIRE))
            rc = check_table(tables[i]);
    free(tables);
    return rc < 0 ? rc : 0;
}

/* In a read transaction: a table checked while a transaction is applied
 * can count an index entry its record does not have yet. Only a finding
 * on one committed state is damage. */
static int check_tables_at_rest(vmdb_db *db)
{
    if (vmdb__read_open_on(db))
        return check_tables(db); /* the caller's read transaction */
    vmdb_read r;
    int rc = vmdb_read_begin(db, 0, &r);
    if (rc < 0)
        return rc;
    for (;;) {
        rc = check_tables(db);
        int valid = vmdb_read_validate(&r);
        if (valid == VMDB_ERETRY)
            continue;
        if (valid < 0)
            rc = valid;
        break;
    }
    vmdb_read_end(&r);
    return rc;
}

/* Every field of a log record, as replay would check it. A table
 * created or grown by another process since this handle looked explains
 * a record it cannot place: look again before calling it damage. */
static int check_log_record(void *ctx, const vmdb__wal_record *rec, const void *payload)
{
    (void)payload;
    vmdb_db *db = ctx;
    if (vmdb__db_log_record_check(db, rec) == 0)
        return 0;
    int rc = vmdb__follow(db);
    vmdb_table *t = vmdb__db_table_by_id(db, rec->table);
    if (rc == 0 && t)
        rc = vmdb__table_follow(t);
    if (rc == 0)
        rc = vmdb__db_log_record_check(db, rec);
    return rc;
}

int vmdb_check(vmdb_db *db)
{
    if (!db)
        return vmdb__fail(VMDB_EINVAL, "vmdb_check: db is required");
    int rc = check_tables_at_rest(db);
    if (rc < 0)
        return rc;
    vmdb__wal_scan_end end;
    int lrc = vmdb__wal_check_live(vmdb__db_wal_pin(db), &db->lock_page->salt, check_log_record,
                                   db, &end);
    vmdb__db_wal_unpin(db);
    if (lrc < 0)
        return lrc;
    if (lrc)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: damaged record at log position %llu",
                          db->path, (unsigned long long)end.pos);
    return 0;
}
