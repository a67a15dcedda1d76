/* SPDX-License-Identifier: MIT */
/*
 * vmdb/db.h - the record store: a database of tables, transactions over
 * them, and lock-free reads.
 *
 * A database is a directory holding one file per table (NAME.vmt), one per
 * primary index (NAME.vmi), the write-ahead log (wal.ring) and a lock file
 * (vmdb.lock). vmdb_open() creates or opens it and replays the log, so a
 * database that was open in a process that crashed is whole again before
 * vmdb_open() returns.
 *
 * Writes go through transactions, one at a time across the threads of a
 * process and across processes (an in-process mutex plus flock on the lock
 * file). A transaction writes its redo records straight into the log; only
 * once its commit record is there are the tables and indexes changed in
 * place. Abort costs nothing but dropping the log bytes.
 *
 * Reads take no lock and make no system call: a reader copies a record
 * under the slot's sequence counter and retries if a writer moved it, so
 * it never sees half a record. (The exception is a handle with NONE
 * commits of its own waiting for their log flush: its point reads look
 * through them under a mutex, and a scan applies them first.) Records are updated in place, with no older
 * version kept, so a transaction is all or nothing against crashes and
 * for other writers, but a reader that reads several records while a
 * commit is being applied may see some of its changes and not yet others.
 *
 * Handles: a vmdb_db is the caller's, from vmdb_open() to vmdb_close(). A
 * vmdb_table is borrowed from its database: never closed by the caller,
 * valid until the database is closed (a dropped table's handle stays
 * valid and finds nothing). A vmdb_txn is the caller's until commit or
 * abort, which end it either way.
 */
#ifndef VMDB_DB_H
#define VMDB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "schema.h"
#include "table_file.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmdb_db vmdb_db;
typedef struct vmdb_table vmdb_table;
typedef struct vmdb_txn vmdb_txn;

/* What a commit survives. */
enum vmdb_durability {
    VMDB_DURABILITY_DEFAULT = 0, /* in vmdb_txn_begin: the database's */
    /* The commit is in the log, in the page cache, when it returns: it
     * survives the crash of the process. A power cut may lose the last
     * NONE commits, never part of one: the database comes back as it was
     * after some prefix of the commits (SQLite's WAL at synchronous=
     * NORMAL). Its changes reach the tables once its log is on disk, a
     * background flush some milliseconds later; until then the handle that
     * committed reads them through its queue, and other handles and
     * processes see the state before it (docs/architecture.md, "What each
     * durability level promises"). The fastest. */
    VMDB_DURABILITY_NONE,
    /* The log up to the end of the transaction is on disk before commit
     * returns, with every commit before it, of any durability and any
     * process. */
    VMDB_DURABILITY_SYNC,
    /* As SYNC, but committers that arrive while a flush is running wait
     * for the next one together: one flush serves them all. */
    VMDB_DURABILITY_GROUP,
};

enum vmdb_db_flag {
    VMDB_DB_CREATE = 1u << 0,   /* create the directory if it is missing */
    /* Reads only: no lock, no recovery. VMDB_ENEEDRECOVERY if a writer
     * died before all its commits reached the tables (in the middle of
     * applying one, or with NONE commits waiting for their log flush),
     * which only an open for writing (or any writer's next transaction)
     * finishes, or if the log holds transactions that no writer has
     * replayed since the machine started (a power cut), which an open for
     * writing recovers. */
    VMDB_DB_READONLY = 1u << 1,
    /* Reads check checksums by default now (see "Damaged records" below);
     * this flag, which once turned that on, is kept so that programs
     * passing it still build and run. It changes nothing. */
    VMDB_DB_VERIFY = 1u << 2,
    /* With READONLY: open even when a writer died in the middle of
     * applying a transaction or the log was not replayed since a power cut
     * (otherwise VMDB_ENEEDRECOVERY), to inspect the files as they are;
     * reads may show part of that transaction, or none of the log. */
    VMDB_DB_AS_IS = 1u << 3,
    /* For a log damaged in the middle, which an open for writing refuses
     * (VMDB_ECORRUPT: the tables hold transactions the log no longer has
     * whole): replay the log's valid prefix anyway, never over the newer
     * data the tables hold, and keep what they hold of the lost
     * transactions (a redo log cannot undo it). vmdb_recovery says what
     * was kept beyond the log. `vmdb recover --point-in-time`. */
    VMDB_DB_POINT_IN_TIME = 1u << 4,
    /* Reads trust the files: no checksum on vmdb_table_get, vmdb_table_get_rid,
     * vmdb_table_get_ptr, cursors, scans and batch scans (about twice their
     * speed on small records, docs/benchmarks.md), so a damaged record is
     * returned as if whole. vmdb_check, vmdb_backup and vmdb_compact
     * check every record whatever this says. Not with VMDB_DB_VERIFY. */
    VMDB_DB_NO_VERIFY = 1u << 5,
};

/* How long a wait for the write lock lasts before busy_notice is called. */
#define VMDB_BUSY_NOTICE_MS 1000

/* Options for vmdb_open(); the zero value opens an existing database with
 * durability NONE, a log that grows up to 1 GiB, checkpoints at half
 * full, and writers that wait for the write lock as long as it takes. */
typedef struct vmdb_db_options {
    unsigned version; /* VMDB_DB_OPTIONS_VERSION (the _INIT macro sets it), or 0 */
    unsigned flags;                  /* enum vmdb_db_flag bits */
    enum vmdb_durability durability; /* default for transactions; 0 = NONE */
    /* The most bytes the log grows to, and so the largest transaction
     * (a record takes its size plus 56 to 63 bytes of log); 0 = what the
     * database was created with, by default 1 GiB. The log starts at
     * 1 MiB (or wal_size, if smaller) and doubles, at a checkpoint, when
     * a transaction does not fit it or checkpoints come less than a
     * second apart (up to 64 MiB for that); a clean close takes it back
     * to its start. Given at creation, it is kept in the log's header
     * for later opens; given at a later open, it holds for this handle's
     * growths and is kept from the next one on. */
    uint64_t wal_size;
    unsigned checkpoint_percent;     /* log fill that triggers a checkpoint;
                                        0 = 50 */
    /* How long, in ms, a writer waits for the write lock while another
     * process (or another handle on the database) holds it, before it
     * gives up with VMDB_EBUSY naming the holder's pid: at vmdb_open, and
     * in every call that takes the write lock (transactions, checkpoints,
     * table creation and drop, compaction, backup, index rebuild). 0 waits
     * as long as it takes. Threads sharing this handle take turns without
     * it: a thread waits for another thread's transaction to end. */
    unsigned busy_timeout_ms;
    /* Optional: called once in a wait for the write lock that has lasted
     * VMDB_BUSY_NOTICE_MS, with busy_notice_ctx, the database's path and
     * the holder's pid (0 if it is not known), so that a program can say
     * why it does not answer; the wait then goes on. It runs on the
     * waiting thread, which holds this handle's lock: it must not call
     * the library on this database. */
    void (*busy_notice)(void *ctx, const char *path, long holder_pid);
    void *busy_notice_ctx;
} vmdb_db_options;

#define VMDB_DB_OPTIONS_VERSION 1
#ifdef __cplusplus /* no designated initializers before C++20 */
#define VMDB_DB_OPTIONS_INIT {VMDB_DB_OPTIONS_VERSION}
#else
#define VMDB_DB_OPTIONS_INIT {.version = VMDB_DB_OPTIONS_VERSION}
#endif

/* What the last recovery replayed (vmdb_recovery_report). */
typedef struct vmdb_recovery {
    uint64_t transactions; /* committed transactions replayed */
    uint64_t records;      /* their redo records */
    uint64_t bytes;        /* log bytes replayed */
    uint64_t first_lsn;    /* log position where replay started */
    uint64_t end_lsn;      /* where the valid log ended */
    uint64_t discarded;    /* records of transactions that never committed */
    bool torn_tail;        /* replay stopped at a damaged record, not at
                              the end of what was written */
    bool index_rebuilt;
    /* The log is damaged in the middle: slots hold transactions from
     * beyond its valid end, or that it lost. Recovery refuses unless
     * VMDB_DB_POINT_IN_TIME; vmdb_recovery_plan says so too. */
    uint64_t slots_beyond_log; /* such slots */
    uint64_t first_lost_lsn;   /* the first such transaction (its start) */
    bool refused;              /* vmdb_recovery_plan: an open for writing
                                  would refuse (VMDB_ECORRUPT) */
} vmdb_recovery;

/*
 * Opens (or with VMDB_DB_CREATE creates) the database in directory
 * `path`, then recovers it. Errors name the path: VMDB_ENOENT, VMDB_EINVAL
 * (a directory that is not a database), VMDB_EBADMAGIC / VMDB_EVERSION /
 * VMDB_ECORRUPT / VMDB_EBADSIZE for damaged files, VMDB_ENEEDRECOVERY
 * for a read-only open that must not show what it finds (see
 * VMDB_DB_READONLY). An open for writing recovers under the write lock:
 * while another process holds it, the open waits, and fails with
 * VMDB_EBUSY naming the holder's pid once it has waited busy_timeout_ms
 * (never, with 0). A read-only open never waits.
 *
 * A handle belongs to the process that opened it, as in LMDB: a child
 * made by fork() opens the database again. On a handle it inherited, the
 * child may only call vmdb_close(), which then frees the child's copy and
 * leaves the parent's lock, queued commits and files alone; a write, a
 * checkpoint or any other call that takes the write lock fails with
 * VMDB_EINVAL.
 */
VMDB_API int vmdb_open(const char *path, const vmdb_db_options *opts, vmdb_db **out);

/* Aborts the transaction the calling thread left open, applies the NONE
 * commits still queued, checkpoints (unless read-only) and closes. The
 * handle is gone whatever it returns: 0, or the failure of that last
 * checkpoint (VMDB_EIO, VMDB_ENOSPC, VMDB_EPOISONED: what was committed is
 * in the log, and the next open recovers it). When another process holds
 * the write lock for busy_timeout_ms, the checkpoint is left to the next
 * writer, as SQLite leaves its WAL: 0, as everything this handle
 * committed is already in the log and the tables, or VMDB_EBUSY if it had
 * also changed files outside the log (an index rebuilt) that only the
 * checkpoint makes durable. Accepts NULL. Every table handle and pointer
 * obtained from the database dies with it. */
VMDB_API int vmdb_close(vmdb_db *db);

/* What the recovery at this handle's open replayed. */
VMDB_API int vmdb_recovery_report(const vmdb_db *db, vmdb_recovery *report);

/* What a recovery of the log as it is now would do, changing nothing (a
 * read-only handle will do, VMDB_DB_AS_IS included): the transactions it
 * would replay, the records it would discard, where the valid log ends,
 * and whether it would refuse a log damaged in the middle. `vmdb recover
 * --dry-run`. */
VMDB_API int vmdb_recovery_plan(vmdb_db *db, vmdb_recovery *plan);

/* Counters and log positions of an open database (vmdb_db_stat). */
typedef struct vmdb_db_info {
    uint64_t wal_size;       /* log capacity now, bytes */
    uint64_t wal_used;       /* bytes from the checkpoint to the end */
    uint64_t checkpoint_lsn; /* where replay would start */
    uint64_t last_lsn;       /* the end of the log */
    uint64_t commits;        /* transactions this handle committed */
    uint64_t flushes;        /* log flushes this handle made: one per SYNC
                                commit, fewer for GROUP, one per round of
                                the NONE flusher */
    uint64_t checkpoints;    /* made by this handle */
    size_t tables;
    uint64_t wal_max;        /* the most this handle grows the log to */
} vmdb_db_info;

VMDB_API int vmdb_db_stat(vmdb_db *db, vmdb_db_info *info);

/* The path the database was opened with, as given to vmdb_open: what
 * the layers above name it by in their messages. */
VMDB_API const char *vmdb_db_path(const vmdb_db *db);

/* ---- tables ------------------------------------------------------------ */

/* Creates table `name` ([A-Za-z_][A-Za-z0-9_]*, up to 63 bytes) with the
 * given schema; durable when it returns. VMDB_EEXIST if it exists;
 * VMDB_EBUSY as vmdb_txn_begin says (it takes the write lock). The
 * handle belongs to the database. Other database handles open it when they
 * next look (vmdb_table_open, vmdb_table_foreach). */
VMDB_API int vmdb_table_create(vmdb_db *db, const char *name, const vmdb_schema *schema,
                               vmdb_table **out);

/* What vmdb_table_create_with takes beyond vmdb_table_create; zero is the
 * default of each field. */
typedef struct vmdb_table_options {
    unsigned version;  /* VMDB_TABLE_OPTIONS_VERSION (the _INIT macro sets it), or 0 */
    /* The records the table is expected to hold (a hint): the table file
     * and the index are made that large at once, so that filling the table
     * never stops to grow them; the file's slots take their disk space
     * from the start. 0: start small and grow by doubling. At most 2^40. */
    uint64_t capacity;
} vmdb_table_options;
#define VMDB_TABLE_OPTIONS_VERSION 1
#ifdef __cplusplus
#define VMDB_TABLE_OPTIONS_INIT {VMDB_TABLE_OPTIONS_VERSION}
#else
#define VMDB_TABLE_OPTIONS_INIT {.version = VMDB_TABLE_OPTIONS_VERSION}
#endif

/* vmdb_table_create with options (NULL: the defaults). VMDB_EINVAL names a
 * capacity past 2^40. */
VMDB_API int vmdb_table_create_with(vmdb_db *db, const char *name, const vmdb_schema *schema,
                                    const vmdb_table_options *options, vmdb_table **out);

/* The open table `name`; VMDB_ENOTFOUND naming it if there is none. When
 * `expect` is not NULL the table's schema must equal it (VMDB_ESCHEMA
 * naming the first field that differs). */
VMDB_API int vmdb_table_open(vmdb_db *db, const char *name, const vmdb_schema *expect,
                             vmdb_table **out);

/* Removes a table and its index, after a checkpoint so that no log record
 * refers to it any more. Every vmdb_table for it, this handle's at once
 * and other database handles' (in this process or others) at their next
 * call, stays valid memory until its database closes but finds nothing
 * (VMDB_ENOTFOUND for reads and for changes), and a table created later
 * under the same name is a new vmdb_table. Takes the write lock:
 * VMDB_EBUSY as vmdb_txn_begin says, or while a backup of this handle
 * copies the table. */
VMDB_API int vmdb_table_drop(vmdb_db *db, const char *name);

/* Calls fn(ctx, table) for each table in name order; stops at the first
 * nonzero return and returns it. */
VMDB_API int vmdb_table_foreach(vmdb_db *db, int (*fn)(void *ctx, vmdb_table *table),
                                void *ctx);

VMDB_API const char *vmdb_table_name(const vmdb_table *table);
/* The table's schema; valid while the database is open. */
VMDB_API const vmdb_schema *vmdb_table_schema(const vmdb_table *table);

typedef struct vmdb_table_info {
    uint64_t records;      /* live records */
    uint64_t capacity;     /* slots in the file */
    uint64_t high_water;   /* one past the highest live record id (free
                              slots below it are reused first) */
    uint64_t file_bytes;   /* table file */
    uint64_t index_bytes;  /* index file */
    uint64_t index_capacity;
    double index_load;     /* entries / index capacity */
    size_t record_size;    /* bytes */
    size_t slot_size;      /* bytes per slot on disk, header included */
} vmdb_table_info;

VMDB_API int vmdb_table_stat(vmdb_table *table, vmdb_table_info *info);

/* ---- transactions ------------------------------------------------------ */

/*
 * Begins the write transaction, waiting for the write lock (held by
 * another thread or process). durability DEFAULT takes the database's.
 * The transaction must end with vmdb_txn_commit() or vmdb_txn_abort(), on
 * the thread that began it.
 *
 * VMDB_EBUSY, here and from every other call that takes the write lock
 * (checkpoint, table creation and drop, index rebuild, compaction,
 * backup), in two cases: another process (or handle) held the lock for
 * the options' busy_timeout_ms, and the message names its pid ("PATH:
 * database is locked (pid N holds the write lock; waited MS ms)"); or the
 * calling thread has a transaction open on the database, which would wait
 * for itself.
 */
VMDB_API int vmdb_txn_begin(vmdb_db *db, enum vmdb_durability durability, vmdb_txn **out);

/*
 * The operations below that answer "not found" or "exists" (each says
 * which code) change nothing: the transaction goes on, as in LMDB.
 * Any other failure fails the transaction: VMDB_EINVAL (a NULL argument,
 * a table of another database), VMDB_EFULL (the transaction outgrew the
 * most the log may grow to, wal_size), VMDB_ENOMEM, VMDB_EREADONLY, VMDB_EPOISONED. From then on every
 * operation returns that first code again, its message naming the first
 * failure, and vmdb_txn_commit() aborts the transaction and returns it:
 * a program that checks only the commit loses nothing silently.
 */

/* Insert or replace by key. `record` is the table's record_size bytes.
 * *rid (may be NULL) gets the record id. */
VMDB_API int vmdb_txn_put(vmdb_txn *txn, vmdb_table *table, const void *record,
                          uint64_t *rid);
/* Insert only: VMDB_EEXIST naming the table if the key is present. */
VMDB_API int vmdb_txn_insert(vmdb_txn *txn, vmdb_table *table, const void *record,
                             uint64_t *rid);
/* Replace the record whose key `record` holds: VMDB_ENOTFOUND if none. */
VMDB_API int vmdb_txn_update(vmdb_txn *txn, vmdb_table *table, const void *record);
/* Replace record `rid` (VMDB_ENOTFOUND if it is not live); the key may
 * change, unless another record holds the new one (VMDB_EEXIST). */
VMDB_API int vmdb_txn_update_rid(vmdb_txn *txn, vmdb_table *table, uint64_t rid,
                                 const void *record);
/* Delete by key (its bytes as vmdb_record_key() gives them) or by id:
 * VMDB_ENOTFOUND if absent. */
VMDB_API int vmdb_txn_delete(vmdb_txn *txn, vmdb_table *table, const void *key,
                             size_t key_len);
VMDB_API int vmdb_txn_delete_rid(vmdb_txn *txn, vmdb_table *table, uint64_t rid);

/* Reads as the transaction sees the database: its own changes first, then
 * what is committed (vmdb_table_get and vmdb_table_get_rid's contract otherwise:
 * VMDB_ENOTFOUND when there is no such record). A
 * read-modify-write in a transaction reads here, not with vmdb_table_get, which
 * does not see the transaction's changes until it commits. */
VMDB_API int vmdb_txn_get(vmdb_txn *txn, vmdb_table *table, const void *key, size_t key_len,
                          void *record, uint64_t *rid);
VMDB_API int vmdb_txn_get_rid(vmdb_txn *txn, vmdb_table *table, uint64_t rid, void *record);

/* Commits and frees the transaction. A failed transaction (see above) is
 * aborted and its first failure returned: nothing of it is committed.
 * After a failed flush the database is poisoned (VMDB_EPOISONED) until
 * reopened. */
VMDB_API int vmdb_txn_commit(vmdb_txn *txn);
/* Drops every change and frees the transaction. Accepts NULL. */
VMDB_API void vmdb_txn_abort(vmdb_txn *txn);

/* ---- reads (no lock, no system call) ----------------------------------- */

/*
 * Damaged records. Every read below checks what it returns against the
 * record's checksum (XXH3-64 of the record, seeded with its id and live
 * flag; about 7 ns for a 100-byte record): a damaged record is
 * VMDB_ECORRUPT with a message naming the table's file and slot
 * ("people.vmt: slot 812: checksum mismatch ..."), never returned. The
 * copying reads check their copy; the zero-copy ones (vmdb_table_get_ptr,
 * vmdb_table_scan_next) check the record where it lies before handing out the
 * pointer, under the same sequence counter the caller validates after.
 * Free slots once written are checked too, so a record whose live flag
 * was cleared is an error rather than a record silently skipped. A slot
 * never written (all zeros) carries no checksum and is skipped: a page
 * of records zeroed is found by vmdb_check, which also checks that no
 * written slot lies after one never written. VMDB_DB_NO_VERIFY turns
 * the checks off for a handle that would rather trust its files.
 */

/* Copies the record with key `key` into `record` (record_size bytes);
 * *rid (may be NULL) gets its id. With `record` NULL it only looks the key
 * up: *rid, then vmdb_table_get_ptr, read the record without a copy. VMDB_ENOTFOUND, which leaves the error
 * context alone: not finding is an answer, not a failure; it leaves
 * `record` as it was, even when a writer deletes the key meanwhile. A key of a
 * length the key field cannot hold is VMDB_EINVAL (vmdb_record_key in
 * schema.h says how keys are read). */
VMDB_API int vmdb_table_get(vmdb_table *table, const void *key, size_t key_len, void *record,
                      uint64_t *rid);
/*
 * Looks up n keys at once, as n vmdb_table_get calls would, with the
 * memory reads of several keys in flight together: several times faster
 * than a loop of gets once the table outgrows the CPU's caches. Key i is
 * at keys + i * key_size (key_size bytes, as vmdb_table_get takes them: a
 * str key ends at its first NUL); record i is copied to records + i *
 * record_size (vmdb_schema_record_size); found[i] (found may be NULL) says
 * whether key i was there, and a missing key leaves its record as it was.
 * Returns how many keys were found, or the first error (VMDB_EINVAL for a
 * key of the wrong size, VMDB_ECORRUPT...), the records before it copied.
 */
VMDB_API long vmdb_table_get_many(vmdb_table *table, const void *keys, size_t key_size, size_t n,
                                  void *records, bool *found);
/* Copies record `rid`; VMDB_ENOTFOUND if the slot is not live (or past
 * the table's end), leaving `record` as it was. */
VMDB_API int vmdb_table_get_rid(vmdb_table *table, uint64_t rid, void *record);

/*
 * Zero-copy reads. *ptr points at record `rid` in the mapped file and
 * *seq is the slot's sequence counter; read what you need through ptr,
 * then vmdb_table_read_valid() says whether a writer changed the slot meanwhile
 * (if so, what you read may be torn: start again). The record was checked
 * against its checksum at *seq: valid means what you read is what was
 * written. The pointer stays valid until the database is closed,
 * whatever happens to the record.
 */
VMDB_API int vmdb_table_get_ptr(vmdb_table *table, uint64_t rid, const void **ptr, uint64_t *seq);
VMDB_API bool vmdb_table_read_valid(vmdb_table *table, uint64_t rid, uint64_t seq);

/*
 * Zero-copy scans in batches, for code that looks at many records and
 * keeps few (a query's WHERE): no copy and no call per record.
 * vmdb_table_scan_next fills the batch with up to VMDB_SCAN_BATCH live records
 * from b->next_rid on (set it to 0 to start) and advances next_rid past
 * them: 0 with b->count > 0, or VMDB_ENOTFOUND at the end of the table;
 * VMDB_ECORRUPT naming the slot if a record it came to is damaged (the
 * batch then holds nothing to use; the scan cannot go past it).
 * record[i] points at the record in the mapped file, as vmdb_table_get_ptr()
 * gives it, checked against its checksum at seq[i]; read it, then
 * vmdb_scan_valid(b, i) says whether a writer changed the slot meanwhile
 * (if so, what was read may be torn: read the record again, e.g. with
 * vmdb_table_get_rid). The pointers stay valid until the database is closed.
 */
#define VMDB_SCAN_BATCH 64
typedef struct vmdb_table_scan_batch {
    uint64_t next_rid;
    size_t count;
    uint64_t rid[VMDB_SCAN_BATCH];
    const void *record[VMDB_SCAN_BATCH];
    uint64_t seq[VMDB_SCAN_BATCH];                /* the slot's counter then */
    const uint32_t *seq_at[VMDB_SCAN_BATCH];      /* and where it lives (32 bits
                                                     since table format 3) */
} vmdb_table_scan_batch;

VMDB_API int vmdb_table_scan_next(vmdb_table *table, vmdb_table_scan_batch *b);

static inline bool vmdb_scan_valid(const vmdb_table_scan_batch *b, size_t i)
{
    /* The reads of the record must not drift past the counter's load. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(b->seq_at[i], __ATOMIC_RELAXED) == b->seq[i];
}

/* Calls fn(ctx, rid, record) for every live record in slot order, with a
 * stable copy of each; stops at fn's first nonzero return and returns it. */
VMDB_API int vmdb_table_scan(vmdb_table *table,
                       int (*fn)(void *ctx, uint64_t rid, const void *record), void *ctx);

/* A cursor over the live records in slot order. next copies the record and
 * returns 0, or VMDB_ENOTFOUND at the end, or VMDB_ECORRUPT naming the
 * slot of a damaged record (a next after it goes on with the slot after:
 * the caller decides whether to skip it). */
typedef struct vmdb_table_cursor {
    vmdb_table *table;
    uint64_t next_rid;
} vmdb_table_cursor;
VMDB_API void vmdb_table_cursor_init(vmdb_table_cursor *cursor, vmdb_table *table);
VMDB_API int vmdb_table_cursor_next(vmdb_table_cursor *cursor, uint64_t *rid, void *record);

/* ---- read transactions ------------------------------------------------- */

/*
 * Reads outside a read transaction are lock-free and see each record
 * whole, but a transaction that changes several records reaches them one
 * by one: a scan may see one account debited and the other not yet
 * credited. Inside a read transaction, on this thread, every committed
 * transaction is seen whole or not at all, whichever thread or process
 * committed it:
 *
 *     vmdb_read r;
 *     rc = vmdb_read_begin(db, 0, &r);
 *     do {
 *         sum = 0;
 *         rc = vmdb_table_scan(accounts, add_balance, &sum);
 *     } while (rc == 0 && (rc = vmdb_read_validate(&r)) == VMDB_ERETRY);
 *     vmdb_read_end(&r);
 *
 * The reads themselves cost what they cost outside one. begin waits
 * while a transaction is being applied (microseconds) and notes the
 * database's change counter; validate compares it: VMDB_ERETRY means a
 * transaction was applied meanwhile, so what was read since begin (or
 * the last retry) may mix states and must be read again. After
 * VMDB_READ_OPTIMISTIC_TRIES such retries, validate holds writers back
 * before it returns (a shared lock on the lock file, as the write lock
 * is): the next attempt cannot be disturbed, and writers in every process
 * wait until vmdb_read_end. With VMDB_READ_HOLD, begin holds them back at
 * once: for reads that cannot be done again, such as rows already
 * printed. A reader that dies while holding them back releases them.
 *
 * The view is of the commits applied when begin (or the retry) returned,
 * including this handle's own NONE commits; commits made during it are
 * seen after it ends. One read transaction per thread at a time; it may
 * be opened inside this thread's write transaction (which does not see
 * its own uncommitted writes then), where the write lock holds writers
 * back until that transaction ends: the next validate then returns
 * VMDB_ERETRY and holds them back itself. A write transaction cannot be
 * begun while this thread's read holds writers back (VMDB_EBUSY). Errors: VMDB_EBUSY (this thread has one open,
 * or, with busy_timeout_ms, a writer kept it from holding writers back
 * that long: the message names the writer's pid),
 * VMDB_ENEEDRECOVERY (a writer died while applying a transaction: open
 * the database for writing once), the lock file's I/O errors.
 */
typedef struct vmdb_read {
    vmdb_db *db;
    uint64_t changes; /* the counter at begin or the last retry */
    unsigned tries;
    int hold_fd;      /* -1, or the lock file held shared */
    bool drained;     /* this thread holds the write lock: nothing applies */
} vmdb_read;

#define VMDB_READ_HOLD 1u
#define VMDB_READ_OPTIMISTIC_TRIES 3

/* Begins this thread's read transaction: VMDB_EBUSY or
 * VMDB_ENEEDRECOVERY as said above. */
VMDB_API int vmdb_read_begin(vmdb_db *db, unsigned flags, vmdb_read *r);
/* 0: everything read since begin, or since the last VMDB_ERETRY, is one
 * committed state. VMDB_ERETRY: read it again; the transaction stays
 * open. */
VMDB_API int vmdb_read_validate(vmdb_read *r);
VMDB_API void vmdb_read_end(vmdb_read *r);

/* ---- maintenance ------------------------------------------------------- */

/* Applies the NONE commits still waiting for their log flush, flushes
 * every table and index, then frees the log up to here. Takes the write
 * lock: VMDB_EBUSY as vmdb_txn_begin says. */
VMDB_API int vmdb_checkpoint(vmdb_db *db);

/* Verifies headers, every live record's checksum, that index and table
 * agree both ways, and the log. 0 when all hold; otherwise the first
 * problem's code (VMDB_ECORRUPT for damage found), with a message naming
 * the file, slot or entry. Writers
 * may go on meanwhile: it checks one committed state (a read transaction
 * of its own; inside the caller's, a finding counts only if the caller's
 * validate then returns 0). */
VMDB_API int vmdb_check(vmdb_db *db);

/* Rebuilds a table's index from its records, under the write lock
 * (VMDB_EBUSY as vmdb_txn_begin says). */
VMDB_API int vmdb_index_rebuild(vmdb_table *table);

/* One record of the log, as vmdb_wal_foreach() lists it. */
typedef struct vmdb_wal_entry {
    uint64_t lsn;         /* its log position */
    uint64_t txn;         /* its transaction: the lsn of the first record */
    uint64_t rid;         /* the record id it changes (0 for a commit) */
    const char *kind;     /* "put", "delete" or "commit"; "?" if damaged */
    const char *table;    /* the table's name; "" for a commit, "?" for an
                             id no open table has */
    uint32_t len;         /* bytes it takes in the log, header included */
    uint32_t payload_len; /* bytes of record image or key */
    bool valid;           /* its checksum, length and salt check out; only
                             the last entry listed can be invalid: it is
                             where replay stops (a torn tail) */
    bool committed;       /* its transaction's commit record is in the log */
} vmdb_wal_entry;

/*
 * Calls fn(ctx, entry) for each record in the log from the last checkpoint
 * to the end, in log order, then once for the damaged record that ends
 * the log, if there is one (valid false). Stops at fn's first nonzero
 * return and returns it. Reads only: works on a read-only handle, and
 * lists what recovery would replay. The entry's strings live as long as
 * the database handle.
 */
VMDB_API int vmdb_wal_foreach(vmdb_db *db, int (*fn)(void *ctx, const vmdb_wal_entry *entry),
                              void *ctx);

/* ---- backup and compaction ---- */

/*
 * Writes a consistent copy of the database into the new directory
 * `dest_dir`: every table and index exactly as the last committed
 * transaction left them (record ids included), a fresh empty log of the
 * same size and a lock file, so that vmdb_open(dest_dir) opens it with
 * nothing to replay.
 *
 * Readers and writers, in this process and others, go on during the
 * copy: the table files are copied from their live mappings, then the
 * transactions committed meanwhile are replayed into the copy from the
 * log (writers wait only while those log bytes are copied). The copy is
 * the state between two commits: the last one before vmdb_backup() took
 * the lock the second time. Automatic checkpoints wait while a backup
 * copies (until the log is nine tenths full); if one frees the log the
 * copy needs, the copy starts again, and the third time it holds the
 * write lock throughout. A table cannot be dropped or compacted through
 * this handle while it copies (VMDB_EBUSY).
 *
 * The copy is built in "dest_dir.tmp-PID", every file and the directory
 * synced, then renamed to dest_dir, and dest_dir's parent synced: a crash
 * part way leaves that temporary directory behind, never a dest_dir that
 * opens with the wrong contents. Errors name the path: VMDB_EEXIST if
 * dest_dir exists and is not an empty directory (an empty one is
 * replaced), VMDB_EREADONLY for a read-only handle (a backup needs the
 * write lock), VMDB_EBUSY when another process held that lock for
 * busy_timeout_ms (vmdb_txn_begin), VMDB_EPOISONED, VMDB_ENOSPC and other
 * I/O errors, after which the temporary directory is removed.
 */
VMDB_API int vmdb_backup(vmdb_db *db, const char *dest_dir);

/*
 * Compacts table `table_name`, or every table when it is NULL: moves its
 * live records into slots 0..n-1 with no holes, then, when the files are
 * larger than n records need, writes a table file of exactly n slots and
 * a fresh index, renames them over the old ones (each rename followed by
 * a sync of the directory) and switches to them.
 *
 *   RECORD IDS CHANGE. A record id is stable across every operation
 *   except this one: a record may move to a lower id. Ids kept from
 *   before (vmdb_table_get_rid, vmdb_txn_update_rid, vmdb_txn_delete_rid, a
 *   vmdb_table_cursor mid-scan) name other records, or none, afterwards. Keys
 *   never change; look records up by key after compacting.
 *
 * Holds the write lock throughout (writers wait). Lock-free readers in
 * this process go on reading during the compaction and find every record
 * by key that is not being deleted; a scan running meanwhile may miss or
 * repeat records that move. The vmdb_table handle stays the same, and
 * pointers from vmdb_table_get_ptr() stay readable until the database is
 * closed: the old mappings are kept, not unmapped (each compaction that
 * rewrote a table keeps the old file's pages and some address space,
 * reserved but not committed, until the process ends).
 *
 * Crash safe at every step: moves are logged as transactions; the new
 * files are complete and synced before they replace the old ones, which
 * stay whole until then; old and new hold the same records.
 *
 * Other handles, in this process and in others, readers and writers,
 * may stay open: each maps the new files before its next read or write
 * (the lock file's page carries a layout epoch the compaction bumps; a
 * read compares it, one load of shared memory). Their record ids change
 * as this handle's do.
 *
 * Errors: VMDB_EBUSY while a backup of this handle copies the tables, or
 * when another process held the write lock for busy_timeout_ms
 * (vmdb_txn_begin), VMDB_ENOTFOUND naming an unknown table, VMDB_EREADONLY,
 * VMDB_EPOISONED, and I/O errors naming the file. A failure before the
 * new table file is renamed into place changes nothing; after it, the
 * database is poisoned if the switch cannot be completed (reopen it).
 */
VMDB_API int vmdb_compact(vmdb_db *db, const char *table_name);

#ifdef __cplusplus
}
#endif

#endif /* VMDB_DB_H */
