/* SPDX-License-Identifier: MIT */
/*
 * engine/db/replay.c - replaying the log into the tables: at open
 * (recovery), when a writer finds that the last one died mid-apply, and
 * as a dry run that only counts (vmdb_recovery_plan). Every record is
 * checked before it is acted on, a slot already holding a later
 * transaction is never written over, and a log that ends before what the
 * tables hold is refused as damaged in the middle.
 */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "internal.h"
#include "os.h"

/* ---- recovery ----------------------------------------------------------- */

struct replay {
    vmdb_db *db;
    vmdb_recovery *plan; /* vmdb_recovery_plan: counts, replays nothing */
    uint64_t txn;        /* the transaction being gathered, 0 for none */
    uint64_t txn_start;  /* its first record */
    uint64_t txn_records;
    int error;
};

int vmdb__db_log_record_check(vmdb_db *db, const vmdb__wal_record *rec)
{
    unsigned long long lsn = rec->lsn;
    if (rec->flags || rec->reserved)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: log record at %llu has unknown flags",
                          db->path, lsn);
    if (rec->txn > rec->lsn)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: log record at %llu belongs to a "
                                         "transaction that starts after it (%llu)",
                          db->path, lsn, (unsigned long long)rec->txn);
    if (rec->kind == VMDB__WAL_COMMIT) {
        if (rec->payload_len || rec->table || rec->rid)
            return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: COMMIT record at %llu carries a "
                                             "change",
                              db->path, lsn);
        return 0;
    }
    if (rec->kind != VMDB__WAL_PUT && rec->kind != VMDB__WAL_DELETE)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: log record at %llu is of unknown kind %u",
                          db->path, lsn, rec->kind);
    vmdb_table *t = vmdb__db_table_by_id(db, rec->table);
    if (!t)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: log record at %llu names table id %u, "
                                         "which does not exist",
                          db->path, lsn, rec->table);
    size_t want = rec->kind == VMDB__WAL_PUT ? t->record_size : t->key_size;
    bool fits = rec->kind == VMDB__WAL_PUT || !t->key_is_str ? rec->payload_len == want
                                                               : rec->payload_len <= want;
    if (!fits)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: %s record at %llu holds %u bytes, table "
                                         "'%s' %s %zu",
                          db->path, rec->kind == VMDB__WAL_PUT ? "PUT" : "DELETE", lsn,
                          rec->payload_len, t->name,
                          rec->kind == VMDB__WAL_PUT ? "records are" : "keys are", want);
    /* A new slot comes from the end of the table, one per insert: the
     * log cannot hold more inserts than it has room for PUT records. */
    uint64_t base = t->replay_base ? t->replay_base : __atomic_load_n(&t->capacity, __ATOMIC_ACQUIRE);
    uint64_t most = base + vmdb__wal_cap(db->wal) / vmdb__wal_record_len((uint32_t)t->record_size);
    if (rec->rid >= most)
        return vmdb__fail(VMDB_ECORRUPT, "%s/wal.ring: log record at %llu names record %llu of "
                                         "table '%s', which has %llu slots (no log can grow it "
                                         "past %llu)",
                          db->path, lsn, (unsigned long long)rec->rid, t->name,
                          (unsigned long long)base, (unsigned long long)most);
    return 0;
}

/* Replay grows tables as it goes: the bound on the slots a record may
 * name is taken from the tables as they were before it. */
static void note_replay_bases(vmdb_db *db, bool replaying)
{
    for (size_t i = 0; i < vmdb__db_table_count(db); i++)
        vmdb__db_table_at(db, i)->replay_base =
            replaying ? vmdb__db_table_at(db, i)->capacity + 1 : 0;
}

static int replay_one(vmdb_db *db, const vmdb__wal_record *rec, const void *payload)
{
    vmdb_table *t = vmdb__db_table_by_id(db, rec->table);
    /* A slot names the transaction that last wrote it (its first
     * record's position): one written by a later transaction already
     * holds newer data, which this older image must not replace. */
    if (rec->rid < t->capacity && vmdb__slot_lsn(vmdb__table_slot(t, rec->rid)) > rec->txn)
        return 0;
    return vmdb__table_write(t, rec->rid, rec->txn,
                             rec->kind == VMDB__WAL_PUT ? payload : NULL);
}

struct committed {
    uint64_t *starts; /* of the transactions committed in the log, ascending */
    size_t count, cap;
};

static int note_commit(void *ctx, const vmdb__wal_record *rec, const void *payload)
{
    (void)payload;
    struct committed *c = ctx;
    if (rec->kind != VMDB__WAL_COMMIT)
        return 0;
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        uint64_t *grown = realloc(c->starts, cap * sizeof *grown);
        if (!grown)
            return 1;
        c->starts = grown;
        c->cap = cap;
    }
    c->starts[c->count++] = rec->txn;
    return 0;
}

static bool committed_in_log(const struct committed *c, uint64_t start)
{
    size_t lo = 0, hi = c->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->starts[mid] < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->count && c->starts[lo] == start;
}

/*
 * Before anything is replayed: every slot written since the checkpoint
 * must have been written by a transaction whose COMMIT the log still
 * holds, since a change reaches a table only once its log is durable. A
 * slot that names one past the log's end, or one the log lost, means the
 * log is damaged in the middle, not torn at its tail: replaying the
 * valid part would put older images back under newer ones and leave the
 * later transactions half there. VMDB_ECORRUPT names where.
 */
struct unlogged {
    const struct committed *log;
    vmdb_recovery *rep;
    const vmdb_table *table, *first_table;
    uint64_t first_rid;
};

static int note_unlogged(void *ctx, uint64_t rid, uint64_t lsn)
{
    struct unlogged *u = ctx;
    if (committed_in_log(u->log, lsn))
        return 0;
    if (u->rep->slots_beyond_log++ == 0 || lsn < u->rep->first_lost_lsn) {
        u->rep->first_lost_lsn = lsn;
        u->first_table = u->table;
        u->first_rid = rid;
    }
    return 0;
}

/* A table whose state came from its summary at this open was not
 * written since the checkpoint (engine/db/summary.c): none of its slots
 * names a transaction at or past the log's start, so it is not read. */
static int log_holds_what_tables_hold(vmdb_db *db, vmdb_recovery *rep)
{
    uint64_t start = vmdb__wal_start(db->wal);
    struct committed c = {0};
    vmdb__wal_scan_end end;
    if (vmdb__wal_scan(db->wal, start, UINT64_MAX, note_commit, &c, &end)) {
        free(c.starts);
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    }
    struct unlogged u = {.log = &c, .rep = rep};
    for (size_t i = 0; i < vmdb__db_table_count(db); i++) {
        vmdb_table *t = vmdb__db_table_at(db, i);
        if (t->state_from_summary)
            continue;
        u.table = t;
        vmdb__table_lsns_since(t, start, note_unlogged, &u);
    }
    free(c.starts);
    const vmdb_table *first_table = u.first_table;
    uint64_t first_rid = u.first_rid;
    if (!first_table || (db->open_flags & VMDB_DB_POINT_IN_TIME))
        return 0;
    return vmdb__fail(VMDB_ECORRUPT,
                      "%s/wal.ring: the log's valid part ends at %llu%s, but slot %llu of table "
                      "'%s' holds the transaction at %llu, which the log does not have whole "
                      "(%llu slot%s such): the log is damaged in the middle; `vmdb recover "
                      "--dry-run` says what a recovery would keep, `vmdb recover "
                      "--point-in-time` keeps it",
                      db->path, (unsigned long long)end.pos,
                      end.torn ? " (a damaged record)" : "", (unsigned long long)first_rid,
                      first_table->name, (unsigned long long)rep->first_lost_lsn,
                      (unsigned long long)rep->slots_beyond_log,
                      rep->slots_beyond_log == 1 ? "" : "s");
}

/* Replays the records of transaction r->txn, from r->txn_start up to its
 * COMMIT at `commit_lsn`. They are still in the ring: read them there. */
static int replay_txn(struct replay *r, uint64_t commit_lsn)
{
    vmdb_ring *ring = vmdb__wal_ring(r->db->wal);
    for (uint64_t pos = r->txn_start; pos < commit_lsn;) {
        const vmdb__wal_record *rec = vmdb_ring_pos_ptr(ring, pos);
        int rc = replay_one(r->db, rec, (const char *)rec + VMDB__WAL_HEADER_LEN);
        if (rc < 0)
            return rc;
        pos += rec->len;
    }
    return 0;
}

static int gather(void *ctx, const vmdb__wal_record *rec, const void *payload)
{
    (void)payload;
    struct replay *r = ctx;
    vmdb_recovery *rep = r->plan ? r->plan : &r->db->recovery;
    /* Every record is checked before any of its transaction is applied:
     * a damaged one refuses the log, it is not replayed as whatever its
     * fields happen to say. */
    int valid = vmdb__db_log_record_check(r->db, rec);
    if (valid < 0) {
        r->error = valid;
        return 1;
    }
    if (rec->txn != r->txn) {
        /* A new transaction: whatever was gathered never committed. */
        rep->discarded += r->txn_records;
        r->txn = rec->txn;
        r->txn_start = rec->lsn;
        r->txn_records = 0;
    }
    if (rec->kind != VMDB__WAL_COMMIT) {
        r->txn_records++;
        return 0;
    }
    int rc = r->plan ? 0 : replay_txn(r, rec->lsn);
    if (rc < 0) {
        r->error = rc;
        return 1;
    }
    rep->transactions++;
    rep->records += r->txn_records;
    rep->bytes += rec->lsn + rec->len - r->txn_start;
    r->txn = 0;
    r->txn_records = 0;
    return 0;
}

int vmdb_recovery_plan(vmdb_db *db, vmdb_recovery *plan)
{
    if (!db || !plan)
        return vmdb__fail(VMDB_EINVAL, "vmdb_recovery_plan: db and plan are required");
    *plan = (vmdb_recovery){.first_lsn = vmdb__wal_start(db->wal)};
    struct replay r = {.db = db, .plan = plan};
    vmdb__wal_scan_end end;
    vmdb__wal_scan(db->wal, plan->first_lsn, UINT64_MAX, gather, &r, &end);
    if (r.error)
        return r.error;
    plan->discarded += r.txn_records;
    plan->end_lsn = end.pos;
    plan->torn_tail = end.torn;
    unsigned flags = db->open_flags;
    db->open_flags |= VMDB_DB_POINT_IN_TIME; /* count, do not fail */
    int rc = log_holds_what_tables_hold(db, plan);
    db->open_flags = flags;
    plan->refused = plan->slots_beyond_log > 0;
    return rc;
}

bool vmdb__db_log_is_empty(vmdb_db *db)
{
    return vmdb__wal_start(db->wal) == vmdb__wal_end(db->wal);
}

/* After recovery: the tables are up to date with the log in this boot.
 * The lock page is never flushed, so after a power cut it holds an older
 * boot's id, or none: that is what a reader goes by. */
static void note_boot(vmdb_db *db)
{
    char boot[37];
    if (vmdb__os_boot_id(boot) < 0)
        boot[0] = '\0'; /* no boot known: readers check the log instead */
    char *to = db->lock_page->boot_id;
    memset(to, 0, sizeof db->lock_page->boot_id);
    memcpy(to, boot, strlen(boot));
}

/* A read-only open cannot replay the log. If no writer has recovered the
 * database in this boot and the log holds records past the checkpoint,
 * a power cut may have left the tables behind them: refuse rather than
 * show that. A writer of this boot applies what it logs before it lets
 * go of the lock, so its records in the log are no such sign. */
static bool recovered_this_boot(vmdb_db *db)
{
    char seen[sizeof db->lock_page->boot_id], boot[37];
    memcpy(seen, db->lock_page->boot_id, sizeof seen);
    seen[sizeof seen - 1] = '\0';
    return vmdb__os_boot_id(boot) == 0 && strcmp(seen, boot) == 0;
}

int vmdb__db_check_recovered_this_boot(vmdb_db *db)
{
    if (recovered_this_boot(db))
        return 0;
    uint64_t start = vmdb__wal_start(db->wal);
    vmdb__wal_scan_end end;
    vmdb__wal_scan(db->wal, start, UINT64_MAX, NULL, NULL, &end);
    if (end.pos == start)
        return 0;
    return vmdb__fail(VMDB_ENEEDRECOVERY,
                      "%s: the log holds transactions from LSN %llu to %llu that no writer has "
                      "replayed since the machine started (a power cut?); open the database "
                      "for writing once to recover them (vmdb recover %s)",
                      db->path, (unsigned long long)start, (unsigned long long)end.pos,
                      db->path);
}

/* Replay changes table pages in place, which the kernel may write back at
 * once: the log they come from must be on disk first, or a power cut
 * during the replay, or before the checkpoint after it, leaves tables
 * holding transactions whose log is gone (a process that died left its
 * last commits in the page cache only). */
static int flush_log_before_replay(vmdb_db *db)
{
    uint64_t start = vmdb__wal_start(db->wal), end = vmdb__wal_end(db->wal);
    int rc = end > start ? vmdb__wal_flush(db->wal, start, end) : 0;
    if (rc < 0)
        return vmdb__db_poison(db, rc);
    __atomic_store_n(&db->lock_page->durable_lsn, end, __ATOMIC_RELEASE);
    return 0;
}

/* The part recovery at open and finishing a dead writer share: the log
 * made durable first, refused when it ends before what the tables hold,
 * then replayed from its start up to `to` inside the changes counter's
 * bracket (readers in other processes may be open: until the indexes
 * match the replayed tables, no read transaction may end on what it
 * saw). The bracket stays open for the caller, who rebuilds indexes. */
static int replay_log(vmdb_db *db, uint64_t to, vmdb__wal_scan_end *end)
{
    vmdb_recovery *rep = &db->recovery;
    memset(rep, 0, sizeof *rep);
    rep->first_lsn = vmdb__wal_start(db->wal);
    struct replay r = {.db = db};
    int rc = flush_log_before_replay(db);
    if (rc == 0)
        rc = log_holds_what_tables_hold(db, rep);
    if (rc < 0)
        return rc;
    vmdb__db_changing(db, true);
    note_replay_bases(db, true);
    vmdb__wal_scan(db->wal, rep->first_lsn, to, gather, &r, end);
    note_replay_bases(db, false);
    if (r.error)
        return r.error;
    rep->discarded += r.txn_records;
    rep->end_lsn = end->pos;
    return 0;
}

int vmdb__db_recover(vmdb_db *db)
{
    vmdb_recovery *rep = &db->recovery;
    vmdb__wal_scan_end end;
    /* After a clean close the tables' summaries stand for their slots,
     * which are then not read (engine/db/summary.c). */
    bool usable = vmdb__db_summaries_usable(db, recovered_this_boot(db));
    for (size_t i = 0; usable && i < vmdb__db_table_count(db); i++)
        vmdb__db_adopt_summary(db, vmdb__db_table_at(db, i));
    int rc = replay_log(db, UINT64_MAX, &end);
    if (rc < 0)
        return rc;
    rep->torn_tail = end.torn;
    for (size_t i = 0; rc == 0 && i < vmdb__db_table_count(db); i++) {
        vmdb_table *t = vmdb__db_table_at(db, i);
        if (!t->state_from_summary)
            rc = vmdb__table_scan_state(t);
        /* Only this open's check of the log may skip the table. */
        t->state_from_summary = false;
        if (rc == 0)
            rc = vmdb__table_repair_headers(t);
        if (rc > 0) {
            db->unflushed = true;
            rc = 0;
        }
    }
    for (size_t i = 0; rc == 0 && i < vmdb__db_table_count(db); i++) {
        bool rebuilt = false;
        rc = vmdb__db_open_index(db, vmdb__db_table_at(db, i), &rebuilt);
        if (rc == 0 && rep->transactions > 0 && !rebuilt) {
            /* Replay changed the table under the index: rebuild it. */
            rc = vmdb__db_index_rebuild(vmdb__db_table_at(db, i));
            rebuilt = true;
        }
        rep->index_rebuilt |= rebuilt;
    }
    if (rc == 0)
        vmdb__db_changing(db, false);
    db->unflushed |= rep->index_rebuilt;
    /* A clean database (the usual open) needs no checkpoint: its log is
     * empty, so the last one left the files durable. Skipping it makes
     * opening cost no flush. Not after a power cut (another boot): the
     * cut may have kept log pages past a lost one, records with the
     * current salt that the scan did not reach; once new records fill
     * the gap, the next recovery would replay them. The checkpoint's new
     * salt retires them. */
    if (rc == 0 && (!vmdb__db_log_is_empty(db) || end.pos != vmdb__wal_end(db->wal) || db->unflushed ||
                    !recovered_this_boot(db)))
        rc = vmdb__db_checkpoint_locked(db, end.pos);
    else if (rc == 0)
        /* The lock page is not flushed, so after a power cut it may name an
         * older salt than the log's: a writer adopting that would write
         * records recovery cannot see. The log's own salt is the truth. */
        vmdb__db_publish_generation(db);
    if (rc == 0) {
        /* Whatever the lock page held (it is never flushed): the log now
         * ends where recovery found its end, all of it on disk. */
        __atomic_store_n(&db->lock_page->durable_lsn, vmdb__wal_end(db->wal), __ATOMIC_RELEASE);
        __atomic_store_n(&db->lock_page->applying, 0, __ATOMIC_RELEASE);
        note_boot(db);
    }
    return rc;
}

/* With the writer lock, when the lock page says a transaction was being
 * applied: its writer died part way (nobody else can be applying while
 * this process holds the file lock). Its transaction is in the log, whole:
 * replaying the log from the checkpoint finishes it, as recovery at open
 * would, and the indexes are rebuilt for the tables it changed under
 * them. */
int vmdb__db_finish_dead_writer(vmdb_db *db)
{
    vmdb_recovery *rep = &db->recovery;
    vmdb__wal_scan_end end;
    int rc = replay_log(db, vmdb__wal_end(db->wal), &end);
    if (rc < 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < vmdb__db_table_count(db); i++) {
        rc = vmdb__table_scan_state(vmdb__db_table_at(db, i));
        if (rc == 0)
            rc = vmdb__db_index_rebuild(vmdb__db_table_at(db, i));
    }
    rep->index_rebuilt = vmdb__db_table_count(db) > 0;
    if (rc == 0)
        vmdb__db_changing(db, false);
    if (rc == 0)
        rc = vmdb__db_checkpoint_locked(db, vmdb__wal_end(db->wal));
    if (rc == 0)
        __atomic_store_n(&db->lock_page->applying, 0, __ATOMIC_RELEASE);
    return rc;
}
