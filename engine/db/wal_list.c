/* SPDX-License-Identifier: MIT */
/*
 * engine/db/wal_list.c - vmdb_wal_foreach: the log since the last checkpoint,
 * record by record, for people inspecting a database (`vmdb wal`).
 *
 * Whether a record's transaction committed is only known once its commit
 * record is reached, so the records are gathered first and handed out
 * after the scan. A transaction's records are contiguous in the log (one
 * writer at a time), which lets a commit mark its records by walking back.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "internal.h"

struct listing {
    vmdb_db *db;
    vmdb_wal_entry *entries;
    size_t count, cap;
    int error;
};

static const char *kind_name(uint8_t kind)
{
    switch (kind) {
    case VMDB__WAL_PUT:
        return "put";
    case VMDB__WAL_DELETE:
        return "delete";
    case VMDB__WAL_COMMIT:
        return "commit";
    default:
        return "?";
    }
}

static const char *table_name(vmdb_db *db, const vmdb__wal_record *rec)
{
    if (rec->kind == VMDB__WAL_COMMIT)
        return "";
    vmdb_table *t = vmdb__db_table_by_id(db, rec->table);
    return t ? t->name : "?";
}

static void describe(vmdb_db *db, const vmdb__wal_record *rec, vmdb_wal_entry *e)
{
    *e = (vmdb_wal_entry){
        .lsn = rec->lsn,
        .txn = rec->txn,
        .rid = rec->kind == VMDB__WAL_COMMIT ? 0 : rec->rid,
        .kind = kind_name(rec->kind),
        .table = table_name(db, rec),
        .len = rec->len,
        .payload_len = rec->payload_len,
        .valid = true,
    };
}

static int gather(void *ctx, const vmdb__wal_record *rec, const void *payload)
{
    (void)payload;
    struct listing *l = ctx;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        vmdb_wal_entry *grown = realloc(l->entries, cap * sizeof *grown);
        if (!grown) {
            l->error = vmdb__fail(VMDB_ENOMEM, "%s: out of memory listing the log",
                                  l->db->path);
            return 1;
        }
        l->entries = grown;
        l->cap = cap;
    }
    vmdb_wal_entry *e = &l->entries[l->count++];
    describe(l->db, rec, e);
    if (rec->kind == VMDB__WAL_COMMIT)
        for (size_t i = l->count; i-- > 0 && l->entries[i].txn == rec->txn;)
            l->entries[i].committed = true;
    return 0;
}

int vmdb_wal_foreach(vmdb_db *db, int (*fn)(void *ctx, const vmdb_wal_entry *entry), void *ctx)
{
    if (!db || !fn)
        return vmdb__fail(VMDB_EINVAL, "vmdb_wal_foreach: db and fn are required");
    struct listing l = {.db = db};
    vmdb__wal_scan_end end;
    vmdb__wal *wal = vmdb__db_wal_pin(db);
    vmdb__wal_scan(wal, vmdb__wal_start(wal), UINT64_MAX, gather, &l, &end);
    int rc = l.error;
    for (size_t i = 0; rc == 0 && i < l.count; i++)
        rc = fn(ctx, &l.entries[i]);
    if (rc == 0 && !l.error && end.torn) {
        /* Its lsn and salt are this log's, the rest is suspect: show what
         * the header claims, marked invalid. */
        const vmdb__wal_record *rec = vmdb_ring_pos_ptr(vmdb__wal_ring(wal), end.pos);
        vmdb_wal_entry torn;
        describe(db, rec, &torn);
        torn.valid = false;
        torn.committed = false;
        rc = fn(ctx, &torn);
    }
    vmdb__db_wal_unpin(db);
    free(l.entries);
    return rc;
}
