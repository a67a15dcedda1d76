/* SPDX-License-Identifier: MIT */
/*
 * engine/db/db.h - the database handle and the calls between the db
 * layer's files (docs/architecture.md lists them in call order).
 */
#ifndef VMDB_ENGINE_DB_H
#define VMDB_ENGINE_DB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "table.h"
#include "vmdb/db.h"
#include "wal.h"

/* The lock file's first page, mapped shared by every process that has the
 * database open for writing: what a writer must learn when it takes the
 * lock after another process held it. */
typedef struct vmdb__lock_page {
    char magic[8];       /* "VMDBLOCK" */
    uint32_t version;    /* 1 */
    uint32_t reserved;
    uint64_t generation; /* bumped by every commit and checkpoint */
    uint64_t salt;       /* the log's current salt */
    /* While a backup copies without the lock: until this CLOCK_REALTIME
     * time in ns, checkpoints that a full log does not force wait, so the
     * log the backup needs stays. A hint: 0 (or a time passed) is none. */
    uint64_t checkpoint_hold_until;
    /* Bumped when a table's files are replaced by new ones (compaction):
     * every handle then maps the new files (engine/db/follow.c). */
    uint64_t layout_epoch;
    /* Transactions being applied to the tables right now, by the holder of
     * the file lock. Nonzero when the lock is free means a writer died in
     * the middle of one: the next writer finishes it from the log, and a
     * read-only open refuses (VMDB_ENEEDRECOVERY) rather than show half of
     * it. */
    uint64_t applying;
    /* The log is on disk up to here (from the checkpoint on): every flush
     * starts at this point, whichever process committed the bytes before
     * it, so the log is durable as a prefix. Set by recovery and each
     * checkpoint, advanced by the file-lock holder after each flush. */
    uint64_t durable_lsn;
    /* The machine's boot (vmdb__os_boot_id) when a writer last opened and
     * recovered. Another boot's id, or none, with log records past the
     * checkpoint means no writer of this boot has replayed them: a power
     * cut may have left the tables behind the log, and a read-only open
     * refuses (VMDB_ENEEDRECOVERY). NUL-terminated. */
    char boot_id[40];
    /* The process that holds the file lock, which flock cannot name: for
     * the message of a writer that gives up waiting. Written by the holder
     * right after it takes the lock, cleared just before it lets go; 0
     * when free, or for a moment after another process took it. A holder
     * that died leaves its pid behind until the next one takes the lock. */
    uint32_t holder_pid;
    /* Odd while the tables change (a transaction applied, the log
     * replayed, records moved by a compaction), bumped again after: a read
     * transaction that finds it unchanged at its end saw every transaction
     * whole or not at all (read.c). The changers hold the file lock, and
     * `state` within a process, so they never overlap. */
    uint64_t changes;
    /* Bumped before and after the log file is replaced by one of another
     * size (engine/db/wal_grow.c): a handle that finds it moved opens
     * wal.ring again before it writes, replays or reads the log. Before,
     * so that a grower that dies between the rename and the second bump
     * is still seen; after, so that a reader that opened the old file in
     * between looks again. */
    uint64_t wal_epoch;
} vmdb__lock_page;

/* A committed transaction waiting for the group flush (group.c). */
typedef struct vmdb__group_node {
    struct vmdb__group_node *prev, *next; /* queue order is log order */
    vmdb_txn *txn;
    uint64_t start, end; /* its log range */
    uint64_t ops;        /* its operations */
    bool done;           /* flushed and applied, or failed (rc) */
    bool detached;       /* a NONE commit: nobody waits, the leader frees it */
    int rc;
} vmdb__group_node;

/*
 * The handle. Each part of its state that changes belongs to one file,
 * behind that file's own struct and calls: the writer lock as the handle
 * holds it (lock.c), the tables open (catalog.c), the group commit's queue
 * and flusher (group.c), the queue's view and the transactions kept for
 * reuse (txn_view.c). What stays here is what open sets and nothing
 * changes after, the two mutexes that several files take by nature, the
 * two words the read path checks inline (a call there costs every read),
 * and the counters.
 */
struct vmdb_db {
    /* Set at open. */
    char *path;
    bool readonly;
    bool as_is;                 /* read-only, even after a writer's death */
    bool verify;                /* reads check checksums (not NO_VERIFY) */
    unsigned open_flags;        /* vmdb_db_options.flags */
    enum vmdb_durability durability;
    unsigned checkpoint_percent; /* log fill that triggers a checkpoint */
    uint64_t wal_max;           /* the most this handle grows the log to */
    uint64_t fork_generation;   /* vmdb__fork_generation at open */
    vmdb_recovery recovery;     /* what the open's recovery did */
    vmdb__lock_page *lock_page; /* mapped by lock.c */
    vmdb__wal *wal;             /* the log: replaced, when it grows or
                                   shrinks, by wal_grow.c under the writer
                                   mutex (the old one is kept until
                                   close); readers without the mutex take
                                   it from vmdb__db_wal_now */
    struct vmdb__walgrow *walgrow;        /* wal_grow.c's */
    struct vmdb__lockfile *lockfile;      /* lock.c's */
    struct vmdb__catalog *catalog;        /* catalog.c's */
    struct vmdb__group *group_commit;     /* group.c's */
    struct vmdb__txn_view *txn_view;      /* txn_view.c's */

    pthread_mutex_t state;      /* free-slot stacks and counters, which a
                                   group leader's apply and the current
                                   writer's inserts both change */
    pthread_mutex_t group;      /* the group commit's queue and its view */

    /* The read path's. */
    uint64_t seen_layout_epoch; /* the files this handle maps (follow.c);
                                   atomic */
    uint64_t pending;           /* NONE commits queued, not yet applied
                                   (group.c); atomic */

    /* Under the writer lock: files changed outside the log since the last
     * checkpoint (checkpoint.c clears it). */
    bool unflushed;
    /* Under the writer lock: a table file of an older version was
     * replaced by its upgrade (catalog.c); every other handle must map
     * the new one (db.c bumps the layout epoch). */
    bool tables_upgraded;

    /* For vmdb_db_stat, each counted where it happens; atomic. */
    uint64_t commits;
    uint64_t flushes;
    uint64_t checkpoints;
    unsigned backups;           /* copying now: tables may not be dropped
                                   or compacted under them */
    uint64_t backup_retries;    /* copies begun again because a checkpoint
                                   freed the log they needed */
};

/* Writer lock: the in-process mutex, then the file lock; brings this
 * process up to date with changes other processes made meanwhile. */
int vmdb__db_lock(vmdb_db *db);
/* vmdb__db_lock, then applies the queued commits: for the changes made
 * outside a transaction (an index rebuilt, a table compacted or created),
 * which the flusher's applying must not meet. */
int vmdb__db_lock_drained(vmdb_db *db);
void vmdb__db_unlock(vmdb_db *db);

/* With `writer` held: gives the file lock back to other processes. */
void vmdb__db_release_file_lock(vmdb_db *db);

/* Whether every field of a log record is one this database can act on:
 * a known kind, an existing table, a payload of that table's size, a
 * record id the log could have grown the table to. 0, or VMDB_ECORRUPT
 * naming the record's position. */
int vmdb__db_log_record_check(vmdb_db *db, const vmdb__wal_record *rec);

/* The table with log id `id`, or NULL. */
vmdb_table *vmdb__db_table_by_id(vmdb_db *db, uint16_t id);

/* With the writer lock held: flushes tables and indexes, then frees the
 * log up to `pos`. */
int vmdb__db_checkpoint_locked(vmdb_db *db, uint64_t pos);

/* Whether the log is full enough for an automatic checkpoint: past the
 * threshold, unless a backup holds checkpoints back and the log still has
 * room (a tenth of it). */
bool vmdb__db_checkpoint_due(vmdb_db *db);

/* ---- the log's size (engine/db/wal_grow.c) ---- */
/* A new log's size, and the default most it grows to (docs/design.md,
 * "A log that grows"); busy checkpoints grow it up to VMDB__WAL_BUSY_MAX
 * at most, transactions that need it up to the maximum. */
#define VMDB__WAL_START ((uint64_t)1 << 20)
#define VMDB__WAL_MAX_DEFAULT ((uint64_t)1 << 30)
#define VMDB__WAL_BUSY_MAX ((uint64_t)64 << 20)
/* The size a log starts at under a maximum of `max` bytes. */
uint64_t vmdb__db_wal_start_size(uint64_t max);
/* At open, before the log is opened: notes the lock page's log epoch.
 * At close: closes the logs replaced meanwhile. */
int vmdb__walgrow_open(vmdb_db *db);
void vmdb__walgrow_close(vmdb_db *db);
/* With the writer mutex and the file lock (writer.c): opens the log again
 * if another handle replaced it. */
int vmdb__db_wal_follow_locked(vmdb_db *db);
/* The log as it is now, for a reader without the writer mutex: followed
 * first if another handle replaced it. */
vmdb__wal *vmdb__db_wal_now(vmdb_db *db);
/* vmdb__db_wal_now, then whether the handle maps the log other handles
 * write: false when it could not follow (a read transaction holding
 * writers back does not, nor a failed open). */
bool vmdb__db_wal_current(vmdb_db *db);
/* vmdb__db_wal_now for a reader that keeps looking at the log: the log it
 * returns stays mapped until vmdb__db_wal_unpin. */
vmdb__wal *vmdb__db_wal_pin(vmdb_db *db);
void vmdb__db_wal_unpin(vmdb_db *db);
/* With the writer mutex and no transaction of the handle open: unmaps the
 * logs this handle replaced or followed away from, unless a reader is
 * pinned in one. */
void vmdb__db_wal_close_retired(vmdb_db *db);
/* With the writer lock, for a transaction: the due checkpoint, after
 * which the log doubles, as many times as it takes to bring the next one
 * a second away at the pace of the last, if that came within a second
 * (of the open, or of the log's last replacement). */
int vmdb__db_auto_checkpoint(vmdb_db *db);
#ifdef VMDB_TEST_HOOKS
/* Tests make "close together" mean what they need, whatever the speed
 * of the machine (or of valgrind). */
extern uint64_t vmdb__wal_grow_interval_ns;
#endif
/* With the writer lock: a transaction that began at `start` needs `need`
 * bytes of log from there. Checkpoints at start and replaces the log by
 * one that holds them, doubled as often as it takes; VMDB_EFULL past the
 * maximum, naming the database and the sizes. */
int vmdb__db_grow_log_for(vmdb_db *db, uint64_t start, uint64_t need);
/* With the writer lock and the log empty (a close's checkpoint): a log
 * that grew goes back to its starting size. */
int vmdb__db_shrink_log(vmdb_db *db);

/* A backup copying without the lock holds checkpoints back for a few
 * seconds from now (renewed as it goes), or lets them go. */
void vmdb__db_hold_checkpoints(vmdb_db *db, bool hold);

#ifdef VMDB_TEST_HOOKS
/* Called by a backup between copying the table files, without the lock,
 * and taking the log written meanwhile: where a test commits or
 * checkpoints "during" the copy. */
extern void (*vmdb__backup_test_hook)(vmdb_db *db);
#endif

/* ---- following replaced files (engine/db/follow.c) ---- */

/* Records which files table t maps now (before mapping them: see
 * follow.c; engine/db/catalog.c). */
int vmdb__db_note_files(vmdb_table *t, const char *table_path, const char *index_path);

/* With `writer` held: maps the new files of every table whose files were
 * replaced since this handle last looked. */
int vmdb__follow_locked(vmdb_db *db);

/* With `writer` held (db.c, for follow.c): table t's file is gone, dropped
 * by another handle; it leaves the list of tables. */
int vmdb__db_forget_table(vmdb_db *db, vmdb_table *t);
/* With `writer` held: opens the tables other handles created since. */
int vmdb__db_open_new_tables(vmdb_db *db);

/* Readers: follows replaced files, when the lock page says there are. */
int vmdb__follow_slow(vmdb_db *db);
static inline int vmdb__follow(vmdb_db *db)
{
    if (__builtin_expect(__atomic_load_n(&db->lock_page->layout_epoch, __ATOMIC_ACQUIRE) !=
                             __atomic_load_n(&db->seen_layout_epoch, __ATOMIC_RELAXED),
                         0))
        return vmdb__follow_slow(db);
    return 0;
}

/* With `writer` and the file lock held, after replacing table files: tells
 * every other handle. */
void vmdb__follow_publish(vmdb_db *db);

/* Applies one logged change to its table and index (writer lock held). */
int vmdb__db_apply(vmdb_db *db, vmdb_table *t, uint8_t kind, uint64_t rid, uint64_t lsn,
                   const void *payload);

/* Group commit (group.c). enqueue: the writer, after publishing its
 * records, with `writer` held. wait: after releasing `writer`, until a
 * leader has flushed and applied the transaction. drain: with `writer`
 * held, flushes and applies everything queued (before a checkpoint, or a
 * commit that must apply after them). */
void vmdb__group_enqueue(vmdb_db *db, vmdb__group_node *node);
int vmdb__group_wait(vmdb_db *db, vmdb__group_node *node);
int vmdb__group_drain(vmdb_db *db);
bool vmdb__group_idle(vmdb_db *db);
/* As vmdb__group_idle, for the writer letting go of `writer`: waits for a
 * leader that is applying the whole queue, so that the one who empties it
 * is always one who can give the file lock back. */
bool vmdb__group_idle_at_unlock(vmdb_db *db);

/* How long the flusher lets NONE commits gather before it flushes the
 * log for them: one round. A NONE commit reaches the tables within about
 * two rounds and one log flush (group.c). */
#define VMDB__NONE_DELAY_NS (500ull * 1000)
#ifdef VMDB_TEST_HOOKS
/* Tests lengthen the round to hold NONE commits in the queue. */
extern uint64_t vmdb__none_delay_ns;
#endif

/* A NONE commit, with `writer` held after publishing its records: queued
 * like a group commit, but nobody waits. It reaches the tables once its
 * log is durable (group.c), so no table page can reach the disk before
 * the log that describes it. Applies, in this thread, the queued commits
 * the flusher has made durable. */
int vmdb__group_enqueue_detached(vmdb_db *db, vmdb__group_node *node);
/* Bumped in every child a fork makes (group.c): a handle opened before
 * the fork belongs to the parent, which holds its lock, queue and flusher
 * thread. The child may only close it, which then just unmaps; anything
 * else is refused. */
extern uint64_t vmdb__fork_generation;
static inline bool vmdb__db_inherited(const vmdb_db *db)
{
    return db->fork_generation != __atomic_load_n(&vmdb__fork_generation, __ATOMIC_RELAXED);
}
/* At open: the handle belongs to this process. */
void vmdb__group_note_owner(vmdb_db *db);
/* At the close of an inherited handle: forgets the parent's queue. */
void vmdb__group_forget_inherited(vmdb_db *db);
/* Frees a transaction without giving it back for reuse. */
void vmdb__txn_forget(vmdb_txn *txn);
/* The group commit's own state, made at open and freed at close (after
 * vmdb__group_stop). */
int vmdb__group_open(vmdb_db *db);
void vmdb__group_close(vmdb_db *db);
/* With the file lock newly taken: other processes may have written the
 * log since, so the next flush starts from the lock page's LSN. */
void vmdb__group_forget_flushed(vmdb_db *db);
/* Stops the flusher thread at close, after the queue was drained. */
void vmdb__group_stop(vmdb_db *db);
/* Flushes the log from the durable LSN up to `to` (a published position),
 * with the file lock held. */
int vmdb__db_flush_log(vmdb_db *db, uint64_t to);

/* Readers of this handle see its NONE commits at once: point reads look
 * through the queue (txn.c); a scan that finds NONE commits queued applies
 * them first (one log flush), so that nothing committed before it is
 * missing from it. */
void vmdb__group_settle(vmdb_db *db);
/* Read transactions (read.c): whether this thread has one open on db, and
 * whether it holds writers back (then it must not wait for the write
 * lock, nor for anything a writer waiting on it could hold). A read
 * transaction settles the queue when it begins and reads the tables
 * alone after that: the queue is not covered by its counter. */
/* The read transaction the calling thread has open (engine/db/read_state.c). */
vmdb_read *vmdb__read_current(void);
void vmdb__read_set_current(vmdb_read *r);
bool vmdb__read_open_on(const vmdb_db *db);
bool vmdb__read_holding(const vmdb_db *db);
/* At close: ends this thread's read transaction on db, if it has one. */
void vmdb__read_end_on(vmdb_db *db);
static inline void vmdb__db_reader_settle(vmdb_db *db)
{
    if (__builtin_expect(__atomic_load_n(&db->pending, __ATOMIC_ACQUIRE) != 0, 0) &&
        !vmdb__db_inherited(db) && !vmdb__read_open_on(db))
        vmdb__group_settle(db);
}
/* Opens the lock file again, read-only: an open file of the caller's own,
 * whose flock is apart from the handle's. */
int vmdb__db_open_lock_file(vmdb_db *db, int *fd);

/* Frees a transaction a NONE commit left queued (group.c, once applied). */
void vmdb__txn_free(vmdb_txn *txn);
/* With `group` held: a transaction joins the queue's view (as its newest
 * operations) or leaves it (its entries that no newer transaction took
 * over). Joining cannot fail: vmdb__txn_commit made room before it
 * published the transaction. */
void vmdb__txn_join_queue_view(vmdb_db *db, vmdb_txn *txn);
void vmdb__txn_leave_queue_view(vmdb_db *db, vmdb_txn *txn);
/* The queue's view and the transactions kept for reuse: made at open,
 * freed at close (with the queue empty). */
int vmdb__txn_view_open(vmdb_db *db);
void vmdb__txn_view_close(vmdb_db *db);
/* Before a commit publishes txn: room in the view for its operations. */
int vmdb__txn_view_reserve(vmdb_db *db, size_t ops);

/* Counts a transaction being applied in the lock page, or done. */
static inline void vmdb__db_applying(vmdb_db *db, bool begin)
{
    if (begin)
        __atomic_add_fetch(&db->lock_page->applying, 1, __ATOMIC_ACQ_REL);
    else
        __atomic_sub_fetch(&db->lock_page->applying, 1, __ATOMIC_ACQ_REL);
}

/* Brackets a change to the tables that readers must see whole (with the
 * file lock held). A begin that finds the count odd finds the mark of a
 * changer that died: it keeps it odd, and the end makes it even again. */
static inline void vmdb__db_changing(vmdb_db *db, bool begin)
{
    uint64_t *changes = &db->lock_page->changes;
    uint64_t now = __atomic_load_n(changes, __ATOMIC_RELAXED);
    if (begin && (now & 1))
        return;
    __atomic_store_n(changes, now + 1, begin ? __ATOMIC_RELAXED : __ATOMIC_RELEASE);
    /* The odd mark must be seen before any slot it covers is touched. */
    if (begin)
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

#ifdef VMDB_TEST_HOOKS
/* Called by vmdb_open for writing just before it takes the file lock:
 * where a test lets another process change the database "meanwhile". */
extern void (*vmdb__open_test_hook)(const char *path);
#endif

#ifdef VMDB_TEST_HOOKS
/* Called after each change a transaction applies: where a test kills the
 * writer in the middle of applying. */
extern void (*vmdb__apply_test_hook)(vmdb_db *db, size_t applied);
/* Called by a commit just after it published its records, before
 * anything else: where a test kills the committer. */
extern void (*vmdb__published_test_hook)(vmdb_db *db);
#endif

/* Applies a committed transaction's changes (txn.c). */
int vmdb__txn_apply(vmdb_db *db, vmdb_txn *txn);


/* ---- the files of a database directory ---- */
#define VMDB__LOCK_MAGIC "VMDBLOCK"
#define VMDB__LOCK_NAME "vmdb.lock"
#define VMDB__WAL_NAME "wal.ring"

/* ---- the writer lock (engine/db/lock.c) ---- */
/* Marks the database unusable for writes after a failed flush, returning
 * rc; and whether it is. */
int vmdb__db_poison(vmdb_db *db, int rc);
bool vmdb__db_poisoned(const vmdb_db *db);
/* The handle's writer mutex alone: vmdb__db_lock (writer.c) takes it with
 * the file lock; the flusher and a following reader take it bare. */
void vmdb__db_mutex_lock(vmdb_db *db);
bool vmdb__db_mutex_trylock(vmdb_db *db);
void vmdb__db_mutex_unlock(vmdb_db *db);
/* Whether the calling thread holds the mutex through vmdb__db_lock; noted
 * by writer.c as it takes and lets go (letting go forgets the open
 * transaction). */
bool vmdb__db_held_by_me(const vmdb_db *db);
void vmdb__db_note_holder(vmdb_db *db, bool me);
/* Under the mutex: the transaction open (txn.c), or NULL. */
vmdb_txn *vmdb__db_open_txn(const vmdb_db *db);
void vmdb__db_note_open_txn(vmdb_db *db, vmdb_txn *txn);
/* The flusher asks the writer to let a waiting process in; the writer's
 * unlock takes the request (true once per ask). */
void vmdb__db_ask_yield(vmdb_db *db);
bool vmdb__db_yield_asked(vmdb_db *db);
/* The lock page's generation as this process last knew it: a different
 * one when it takes the lock means another process wrote. */
uint64_t vmdb__db_seen_generation(const vmdb_db *db);
void vmdb__db_note_generation(vmdb_db *db, uint64_t generation);
/* Under the mutex: whether this process holds the file lock (taken by
 * vmdb__db_take_file_lock, given back by vmdb__db_release_file_lock). */
bool vmdb__db_file_lock_held(const vmdb_db *db);
/* Made at open with the options' busy timeout and notice, before the
 * file is opened; closed, with the page and the file, at close. */
int vmdb__db_lock_init(vmdb_db *db, const vmdb_db_options *o);
void vmdb__db_lock_close(vmdb_db *db);
unsigned vmdb__db_busy_timeout_ms(const vmdb_db *db);
/* Whether another process is marked as waiting for the file lock. */
bool vmdb__db_waiter_marked(const vmdb_db *db);
/* Maps the lock page and opens the file the flock is taken on. */
int vmdb__db_open_lock(vmdb_db *db);
/* The file lock, fairly: a marked waiter first after this handle let go;
 * VMDB_EBUSY after busy_timeout_ms. */
int vmdb__db_take_file_lock(vmdb_db *db);
/* With the lock, after every change other processes must see. */
void vmdb__db_publish_generation(vmdb_db *db);

/* ---- the tables a handle has open (engine/db/catalog.c) ---- */
vmdb_table *vmdb__db_table_by_name(vmdb_db *db, const char *name);
/* The tables open, in name order: made at open, closed (dropped ones
 * too) at close. */
int vmdb__db_catalog_open(vmdb_db *db);
void vmdb__db_catalog_close(vmdb_db *db);
/* count and at: with the writer mutex held, under which alone the list
 * changes (count alone may be read anywhere, as a figure). */
size_t vmdb__db_table_count(const vmdb_db *db);
vmdb_table *vmdb__db_table_at(const vmdb_db *db, size_t i);
/* For readers without the writer mutex: a malloc'ed copy of the list (the
 * tables themselves live until close). */
int vmdb__db_tables_snapshot(vmdb_db *db, vmdb_table ***out, size_t *count);
/* Room to forget one more table, made before a drop's point of no
 * return, so that vmdb__db_forget_table cannot fail after it. */
int vmdb__db_make_room_to_forget(vmdb_db *db);
/* Opens every table file of the directory (at open), or the one named
 * FILE (NAME.vmt, just created). */
int vmdb__db_open_tables(vmdb_db *db);
int vmdb__db_open_table_file(vmdb_db *db, const char *file);
/* Opens t's index, rebuilding it when it does not match the table
 * (*rebuilt says so; may be NULL). */
int vmdb__db_open_index(vmdb_db *db, vmdb_table *t, bool *rebuilt);
/* The empty index of a table just created, sized for `capacity` keys. */
int vmdb__db_create_index(vmdb_db *db, vmdb_table *t, uint64_t capacity);
int vmdb__db_index_rebuild(vmdb_table *t);
/* Rebuilds inside the changes counter's bracket, for readers. */
int vmdb__db_index_rebuild_seen(vmdb_table *t);

/* ---- the tables' summaries (engine/db/summary.c) ---- */
/* At an open for writing: whether the tables' summaries may be believed
 * at all (the log empty, no writer died changing, this boot). */
bool vmdb__db_summaries_usable(vmdb_db *db, bool this_boot);
/* Whether summary s was written at the checkpoint the log's header names
 * (its tail and `salt`), and its numbers fit that. */
bool vmdb__db_summary_current(vmdb_db *db, const vmdb__table_summary *s, uint64_t salt);
/* At an open for writing, once usable: takes t's writer-side state from
 * its summary if that is current; false, and the caller scans. */
bool vmdb__db_adopt_summary(vmdb_db *db, vmdb_table *t);
/* At a checkpoint at `pos` drawing `salt`, before the tables' flush:
 * every table's summary, unless a transaction is open or the log goes on
 * past pos. */
void vmdb__db_write_summaries(vmdb_db *db, uint64_t pos, uint64_t salt);
/* For vmdb_check: 0 when t's summary s (read before the slots that made
 * `tally`) is older than the slots or agrees with them; VMDB_ECORRUPT
 * naming what it gets wrong. */
int vmdb__db_check_summary(vmdb_db *db, vmdb_table *t, const vmdb__table_summary *s,
                           const vmdb__table_tally *tally);

/* ---- replaying the log (engine/db/replay.c) ---- */
/* At open, with the lock: replays the log, rebuilds what replay changed
 * under the indexes, and checkpoints when anything was replayed. */
int vmdb__db_recover(vmdb_db *db);
/* With the lock, when the lock page says a writer died mid-apply. */
int vmdb__db_finish_dead_writer(vmdb_db *db);
/* A read-only open: VMDB_ENEEDRECOVERY when the log holds transactions no
 * writer replayed in this boot. */
int vmdb__db_check_recovered_this_boot(vmdb_db *db);
bool vmdb__db_log_is_empty(vmdb_db *db);

#endif /* VMDB_ENGINE_DB_H */
