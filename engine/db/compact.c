/* SPDX-License-Identifier: MIT */
/*
 * engine/db/compact.c - vmdb_compact(): a table's live records into slots
 * 0..n-1, its files cut to what n records need.
 *
 * Deletes leave free slots behind, and a table file never shrinks in
 * place (docs/design.md, "Growth and shrinking"): readers in this process hold
 * pointers into the mapping and a shorter file would turn their loads
 * into SIGBUS. Compaction therefore runs in two phases, both under the
 * writer lock, which it holds from the first checkpoint to the last.
 *
 * Phase 1, moves through the log. With n the live count, every live
 * record at a rid >= n is moved into a free slot below n, the highest
 * first into the lowest hole. A move is an ordinary logged change: a PUT
 * of the record at the hole and a DELETE at its old rid, in batches that
 * are transactions of their own (COMMIT record, flush of the log range
 * whatever the database's durability, then applied with vmdb__db_apply:
 * the no-steal rule holds, and a crash or a power cut at any point is
 * repaired by replay). The PUT is applied first, and its
 * index entry is added before the old slot dies and its entry goes, so a
 * lock-free reader looking for the record always finds it at one rid or
 * the other: vmdb_table_get never misses a record that is not being deleted.
 * Record ids in the log of phase 1 are ids of the old file, so phase 1
 * starts from an empty log and ends with a checkpoint.
 *
 * Phase 2, a new file, only when the file (or the index) is larger than n
 * records need. Slots [0, n) are written byte for byte, sequence counters
 * included, into NAME.vmt.compact-PID, and a fresh index into
 * NAME.vmi.compact-PID; both are synced, then renamed over the old files,
 * with the directory synced after each rename. The old and the new table
 * hold the same records at the same ids, and so do the old and the new
 * index, so a crash between the renames leaves a consistent pair
 * whichever files made it. In memory the new maps are installed in the
 * same struct vmdb_table (users hold its address) and the old ones are
 * retired, not unmapped: a reader may be in the middle of a copy from
 * them (engine/store/table.c explains why every mix of old and new pointers
 * reads the right bytes). They are freed by vmdb__table_release_retired(),
 * which vmdb__table_close() does not call yet: until it does, they stay
 * until the process exits.
 *
 * Other handles. A handle that has the database open, in this process or
 * another, maps the old files; after the rename it would read a file
 * nobody else sees and, if it writes, write into one that no longer has
 * a name. So after the renames the layout epoch in the lock page is
 * bumped, and every handle maps the new files before its next read or
 * write (engine/db/follow.c).
 */
#include "db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "internal.h"
#include "os.h"

#define TEMP_MARK ".compact-"

/* Files a compaction that crashed left behind. Called with the writer lock
 * held, which a compaction holds throughout, so none can belong to one
 * still running. */
static int remove_leftover(void *ctx, const char *name)
{
    vmdb_db *db = ctx;
    if (strstr(name, ".vmt" TEMP_MARK) || strstr(name, ".vmi" TEMP_MARK)) {
        char *path = vmdb__format("%s/%s", db->path, name);
        if (path)
            vmdb__os_unlink(path);
        free(path);
    }
    return 0;
}

/* ---- phase 1: moves through the log ------------------------------------- */

/* The free-slot stack, frontier and live count, rebuilt from the slots. */
static int rescan(vmdb_db *db, vmdb_table *t)
{
    pthread_mutex_lock(&db->state);
    int rc = vmdb__table_scan_state(t);
    pthread_mutex_unlock(&db->state);
    return rc;
}

struct move {
    uint64_t to, from;  /* rids */
    const void *record; /* the PUT's payload, in the log */
    const void *key;    /* the DELETE's payload, in the log */
};

struct mover {
    vmdb_db *db;
    vmdb_table *t;
    uint64_t start; /* the batch's first record: its transaction id */
    uint64_t pos;   /* where the next record goes */
    struct move *moves;
    size_t count, cap;
};

/* Commits the batch (COMMIT record, publish, flush), then applies it. */
static int commit_batch(struct mover *m)
{
    vmdb_db *db = m->db;
    if (m->count == 0)
        return 0;
    vmdb__wal_write(db->wal, &m->pos, VMDB__WAL_COMMIT, 0, m->start, 0, NULL, 0);
    int rc = vmdb__wal_publish(db->wal, m->pos);
    if (rc < 0)
        return rc;
    /* Durable before a single slot changes, whatever the database's
     * durability: a power cut could otherwise keep the DELETE's page and
     * lose both the PUT's page and the log. */
    rc = vmdb__db_flush_log(db, m->pos);
    if (rc < 0)
        return rc;
    /* No group commit can be queued (the checkpoint before this batch
     * drained the queue, and none can join it without the writer lock),
     * but the free-slot state is db->state's to guard all the same. */
    pthread_mutex_lock(&db->state);
    vmdb__db_applying(db, true);
    vmdb__db_changing(db, true);
    for (size_t i = 0; rc == 0 && i < m->count; i++) {
        const struct move *mv = &m->moves[i];
        rc = vmdb__db_apply(db, m->t, VMDB__WAL_PUT, mv->to, m->start, mv->record);
        if (rc == 0)
            rc = vmdb__db_apply(db, m->t, VMDB__WAL_DELETE, mv->from, m->start, mv->key);
    }
    if (rc == 0) {
        vmdb__db_changing(db, false);
        vmdb__db_applying(db, false);
    }
    pthread_mutex_unlock(&db->state);
    if (rc < 0)
        return vmdb__db_poison(db, rc); /* the log has it: recovery finishes */
    m->count = 0;
    return 0;
}

static int start_batch(struct mover *m)
{
    int rc = vmdb__db_checkpoint_locked(m->db, vmdb__wal_end(m->db->wal));
    m->start = m->pos = vmdb__wal_end(m->db->wal);
    return rc;
}

/* Logs the move of record `from` into the free slot `to`. */
static int log_move(struct mover *m, uint64_t to, uint64_t from)
{
    vmdb_table *t = m->t;
    const char *record = (const char *)(vmdb__table_slot(t, from) + 1);
    const void *key;
    size_t key_len;
    vmdb__table_key(t, record, &key, &key_len);
    uint64_t need = (uint64_t)vmdb__wal_record_len(t->record_size) +
                    vmdb__wal_record_len(key_len) + vmdb__wal_record_len(0);
    if (vmdb__wal_room(m->db->wal, m->pos) < need) {
        if (m->count == 0)
            return vmdb__fail(VMDB_EFULL, "%s: the log (%llu bytes) cannot hold the move of "
                                          "one record",
                              m->db->path, (unsigned long long)vmdb__wal_cap(m->db->wal));
        int rc = commit_batch(m);
        if (rc == 0)
            rc = start_batch(m);
        if (rc < 0)
            return rc;
    }
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        struct move *grown = realloc(m->moves, cap * sizeof *grown);
        if (!grown)
            return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", t->path);
        m->moves = grown;
        m->cap = cap;
    }
    struct move *mv = &m->moves[m->count++];
    mv->to = to;
    mv->from = from;
    mv->record = vmdb__wal_write(m->db->wal, &m->pos, VMDB__WAL_PUT, t->id, m->start, to,
                                 record, (uint32_t)t->record_size);
    mv->key = vmdb__wal_write(m->db->wal, &m->pos, VMDB__WAL_DELETE, t->id, m->start, from,
                              key, (uint32_t)key_len);
    return 0;
}

/* Moves every live record at a rid >= n into a hole below n. The log is
 * empty when this starts. *moved says whether anything moved. */
static int move_down(vmdb_db *db, vmdb_table *t, uint64_t n, bool *moved)
{
    struct mover m = {.db = db, .t = t};
    m.start = m.pos = vmdb__wal_end(db->wal);
    uint64_t hole = 0, top = t->capacity;
    int rc = 0;
    *moved = false;
    for (;;) {
        /* Slots below `hole` are live or taken by a logged move; slots at
         * `top` and above are free or given up by one. */
        while (hole < n && vmdb__slot_live(vmdb__table_slot(t, hole)))
            hole++;
        while (top > n && !vmdb__slot_live(vmdb__table_slot(t, top - 1)))
            top--;
        if (hole >= n || top <= n)
            break;
        rc = log_move(&m, hole, top - 1);
        if (rc < 0)
            break;
        *moved = true;
        hole++;
        top--;
    }
    if (rc == 0)
        rc = commit_batch(&m);
    free(m.moves);
    return rc;
}

/* ---- phase 2: new files ------------------------------------------------- */

/* Entries a fresh index for `count` records holds: as vmdb__index_open
 * sizes it (at least 64, at most 3/4 full). */
static uint64_t index_capacity_for(uint64_t count)
{
    uint64_t cap = VMDB__INDEX_MIN_CAP;
    while (count > cap / 4 * 3)
        cap *= 2;
    return cap;
}

/* Whether the table file or its index is larger than n records need. */
static int needs_rewrite(vmdb_table *t, uint64_t n, bool *rewrite)
{
    vmdb__index_stats st;
    int rc = vmdb__index_stats_get(t->index, &st);
    if (rc < 0)
        return rc;
    uint64_t cap = index_capacity_for(n);
    /* A fresh index file is a 4096-byte header and one array. */
    *rewrite = t->capacity > n || st.capacity > cap || st.file_size > 4096 + cap * 16;
    return 0;
}

/* Builds the index of slots [0, n) in a new file at `path`, synced. */
static int build_index(vmdb_table *t, const char *path, uint64_t n)
{
    vmdb__os_unlink(path); /* left by a compaction that crashed */
    vmdb__index *ix = NULL;
    int rc = vmdb__index_open(path, VMDB__INDEX_CREATE, n, &ix);
    for (uint64_t rid = 0; rc == 0 && rid < n; rid++) {
        const vmdb__slot *s = vmdb__table_slot(t, rid);
        const void *key;
        size_t len;
        vmdb__table_key(t, s + 1, &key, &len);
        rc = vmdb__index_insert(ix, vmdb__index_hash(key, len), rid);
    }
    if (rc == 0)
        rc = vmdb__index_flush(ix, VMDB_FLUSH_SYNC);
    vmdb__index_close(ix);
    if (rc < 0)
        vmdb__os_unlink(path);
    return rc;
}

/* Renames `from` over `to`, then syncs the directory. *renamed says
 * whether the name moved: a failed rename changed nothing, a failed sync
 * after it leaves the rename done but perhaps not durable, and poisons
 * the database as any failed sync does. */
static int rename_durably(vmdb_db *db, const char *from, const char *to, bool *renamed)
{
    *renamed = false;
    int rc = vmdb__os_rename(from, to);
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot rename %s over it", to, from);
    *renamed = true;
    rc = vmdb__os_sync_dir_of(to);
    if (rc < 0)
        return vmdb__db_poison(db, vmdb__fail_os(rc, "%s: fsync of its directory", to));
    return 0;
}

/* Opens the file now at t->path and installs it in t; the old map goes
 * into a retired husk. Any failure here leaves t on a file that has no
 * name any more, so it poisons the database: reopening finds the new one. */
static int install_table(vmdb_db *db, vmdb_table *t, uint64_t pad_len, vmdb_table **husk)
{
    vmdb_table *fresh = NULL;
    int rc = vmdb__table_open(t->path, false, t->verify, &fresh);
    if (rc == 0 && (fresh->stride != t->stride || fresh->id != t->id))
        rc = vmdb__fail(VMDB_ECORRUPT, "%s: the compacted file does not match the table",
                        t->path);
    if (rc == 0)
        rc = vmdb__table_pad(fresh, pad_len);
    if (rc == 0)
        rc = vmdb__table_retire(t, fresh);
    if (rc < 0) {
        vmdb__table_close(fresh);
        return vmdb__db_poison(db, rc);
    }
    vmdb__table_install(t, fresh);
    *husk = fresh;
    return 0;
}

/* Writes the new files, renames them over the old ones and installs them.
 * Phase 1 has put the n live records in slots [0, n). */
static int rewrite(vmdb_db *db, vmdb_table *t, uint64_t n)
{
    long pid = vmdb__os_pid();
    char *tmp_table = vmdb__format("%s" TEMP_MARK "%ld", t->path, pid);
    char *index_path = vmdb__format("%s/%s.vmi", db->path, t->name);
    char *tmp_index = vmdb__format("%s/%s.vmi" TEMP_MARK "%ld", db->path, t->name, pid);
    int rc = 0;
    if (!tmp_table || !index_path || !tmp_index)
        rc = vmdb__fail(VMDB_ENOMEM, "%s: out of memory", t->path);
    bool table_renamed = false, index_renamed = false;
    vmdb_table *husk = NULL;
    if (rc == 0)
        rc = vmdb__table_write_prefix(t, tmp_table, n);
    if (rc == 0) {
        /* Open it once under its temporary name: the header must parse,
         * and the address space it needs must be there, before the
         * rename makes it the table. */
        vmdb_table *probe;
        rc = vmdb__table_open(tmp_table, false, false, &probe);
        if (rc == 0 && probe->capacity != n)
            rc = vmdb__fail(VMDB_ECORRUPT, "%s: written with %llu slots, opens with %llu",
                            tmp_table, (unsigned long long)n,
                            (unsigned long long)probe->capacity);
        vmdb__table_close(probe);
    }
    if (rc == 0)
        rc = build_index(t, tmp_index, n);
    /* Readers may have loaded any capacity this table ever had. */
    uint64_t pad_len = vmdb_map_len(t->map);
    uint64_t retired = vmdb__table_retired_len(t);
    if (retired > pad_len)
        pad_len = retired;
    if (rc == 0) {
        rc = rename_durably(db, tmp_table, t->path, &table_renamed);
        if (table_renamed) {
            int irc = install_table(db, t, pad_len, &husk);
            if (rc == 0)
                rc = irc;
        }
    }
    if (rc == 0) {
        rc = rename_durably(db, tmp_index, index_path, &index_renamed);
        if (index_renamed) {
            vmdb__index *ix;
            int irc = vmdb__index_open(index_path, 0, 0, &ix);
            if (irc == 0)
                vmdb__table_install_index(t, husk, ix);
            else
                vmdb__db_poison(db, irc);
            if (rc == 0)
                rc = irc;
        }
    }
    if (table_renamed || index_renamed) {
        /* Every other handle maps the new files before it reads or
         * writes again (engine/db/follow.c). */
        int nrc = vmdb__db_note_files(t, table_renamed ? t->path : NULL,
                                    index_renamed ? index_path : NULL);
        vmdb__follow_publish(db);
        if (rc == 0)
            rc = nrc;
    }
    if (rc == 0)
        rc = rescan(db, t);
    if (tmp_table && !table_renamed)
        vmdb__os_unlink(tmp_table);
    if (tmp_index && !index_renamed)
        vmdb__os_unlink(tmp_index);
    free(tmp_table);
    free(tmp_index);
    free(index_path);
    return rc;
}

/* ---- one table, all tables ---------------------------------------------- */

static int compact_table(vmdb_db *db, vmdb_table *t)
{
    /* An empty log: phase 1's record ids must not meet older ones. */
    int rc = vmdb__db_checkpoint_locked(db, vmdb__wal_end(db->wal));
    if (rc == 0)
        rc = rescan(db, t);
    /* A move writes the record again under a new checksum (its slot is in
     * the seed): a damaged record moved would come out looking whole, and
     * a cleared live flag would be compacted away. So nothing moves in a
     * table that fails its checks. */
    if (rc == 0)
        rc = vmdb__table_verify(t, NULL, NULL);
    uint64_t n = t->live_count;
    bool moved = false, again = false;
    if (rc == 0)
        rc = move_down(db, t, n, &moved);
    if (rc == 0 && moved)
        rc = rescan(db, t);
    if (rc == 0 && moved)
        rc = vmdb__db_checkpoint_locked(db, vmdb__wal_end(db->wal));
    if (rc == 0 && t->frontier != n)
        rc = vmdb__fail(VMDB_ECORRUPT, "%s: %llu live records, but one is at slot %llu after "
                                       "compaction",
                        t->path, (unsigned long long)n, (unsigned long long)(t->frontier - 1));
    if (rc == 0)
        rc = needs_rewrite(t, n, &again);
    if (rc == 0 && again)
        rc = rewrite(db, t, n);
    /* Flushes the new files' maps, and tells other processes (none, we
     * checked) that something changed. */
    if (rc == 0)
        rc = vmdb__db_checkpoint_locked(db, vmdb__wal_end(db->wal));
    return rc;
}

int vmdb_compact(vmdb_db *db, const char *table_name)
{
    if (!db)
        return vmdb__fail(VMDB_EINVAL, "vmdb_compact: db is required");
    if (db->readonly)
        return vmdb__fail(VMDB_EREADONLY, "%s: opened read-only", db->path);
    int rc = vmdb__db_lock_drained(db);
    if (rc < 0)
        return rc;
    vmdb_table *only = NULL;
    if (table_name)
        rc = vmdb_table_open(db, table_name, NULL, &only);
    if (rc == 0 && __atomic_load_n(&db->backups, __ATOMIC_RELAXED))
        rc = vmdb__fail(VMDB_EBUSY, "%s: a backup is copying the tables; compact after",
                        db->path);
    if (rc == 0)
        vmdb__os_list_dir(db->path, remove_leftover, db);
    for (size_t i = 0; rc == 0 && i < vmdb__db_table_count(db); i++)
        if (!only || vmdb__db_table_at(db, i) == only)
            rc = compact_table(db, vmdb__db_table_at(db, i));
    vmdb__db_unlock(db);
    return rc;
}
