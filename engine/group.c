/*
 * engine/group.c - group commit: committers that arrive while a flush is
 * running share the next one.
 *
 * A GROUP transaction writes and publishes its records like any other,
 * then joins a queue and lets go of the in-process writer lock, so the
 * next transaction can start while it waits. The first waiter becomes the
 * leader: it flushes the log range of everything queued (one msync for
 * all of them), then applies the queued transactions in log order and
 * wakes their owners. Their changes may not touch a table before their
 * records are on disk (no steal), so until applied they stay visible to
 * later writers only through the queue, which txn.c consults as layers
 * between a transaction's own changes and the tables.
 *
 * The file lock stays with this process while anything is queued: another
 * process could not see the queue, and would decide on stale tables.
 * Checkpoints and commits of other durabilities drain the queue first, so
 * changes are always applied in log order.
 *
 * NONE commits take the same queue without waiting (SQLite's WAL with
 * synchronous=NORMAL is the model): a table page changed in place can
 * reach the disk whenever the kernel likes, so it may change only after
 * the log that describes it is durable, or a power cut could keep half of
 * a transaction the log no longer has. A flusher thread per handle leads
 * the queue VMDB__NONE_DELAY_NS after the first NONE commit queued (at
 * once when many are queued, and the committer itself when the queue is
 * long, which bounds the layers a writer consults); a reader of this
 * handle that finds NONE commits queued applies them first, so a read
 * sees every commit made before it.
 *
 * Every flush starts at the durable LSN in the lock page, so the log on
 * disk is always a prefix, whatever mix of durabilities and processes
 * wrote it.
 */
#include "db.h"

#include <errno.h>
#include <time.h>

#include "internal.h"

/* NONE commits queued that make the flusher go at once, and that make
 * the committer lead itself. */
#define NONE_HURRY 64
#define NONE_MAX_QUEUED 256

int vmdb__db_flush_log(vmdb_db *db, uint64_t to)
{
    uint64_t from = __atomic_load_n(&db->lock_page->durable_lsn, __ATOMIC_ACQUIRE);
    uint64_t start = vmdb__wal_start(db->wal);
    /* Below the checkpoint it means the checkpoint; past `to` it is not a
     * value this log ever had (the lock page is not flushed, and a power
     * cut may have left anything there until recovery resets it). */
    if (from < start || from > to)
        from = start;
    int rc = vmdb__wal_flush(db->wal, from, to);
    if (rc < 0)
        return vmdb__db_poison(db, rc);
    __atomic_store_n(&db->lock_page->durable_lsn, to, __ATOMIC_RELEASE);
    __atomic_add_fetch(&db->flushes, 1, __ATOMIC_RELAXED);
    return 0;
}

bool vmdb__group_idle(vmdb_db *db)
{
    pthread_mutex_lock(&db->group);
    bool idle = db->queue_head == NULL && !db->group_leader;
    pthread_mutex_unlock(&db->group);
    return idle;
}

static void enqueue_locked(vmdb_db *db, vmdb__group_node *node)
{
    node->next = NULL;
    node->prev = db->queue_tail;
    node->done = false;
    node->rc = 0;
    if (db->queue_tail)
        db->queue_tail->next = node;
    else
        db->queue_head = node;
    db->queue_tail = node;
    db->enqueued++;
    vmdb__txn_count_queued(db, node->txn, 1);
}

void vmdb__group_enqueue(vmdb_db *db, vmdb__group_node *node)
{
    pthread_mutex_lock(&db->group);
    node->detached = false;
    enqueue_locked(db, node);
    pthread_mutex_unlock(&db->group);
}

/* With `group` held and no other leader: flushes and applies every
 * transaction queued now. The lock is dropped for the slow parts; the
 * batch stays in the queue (visible to writers) until applied. */
static void lead(vmdb_db *db)
{
    db->group_leader = true;
    vmdb__group_node *first = db->queue_head, *last = db->queue_tail;
    pthread_mutex_unlock(&db->group);

    int rc = db->poisoned ? VMDB_EPOISONED : 0;
    if (rc == 0)
        rc = vmdb__db_flush_log(db, last->end);
    /* `state` is taken for one transaction at a time, so that the writer
     * (reserving record ids) waits for one apply, not the batch. */
    for (vmdb__group_node *n = first; rc == 0; n = n->next) {
        pthread_mutex_lock(&db->state);
        rc = vmdb__txn_apply(db, n->txn);
        pthread_mutex_unlock(&db->state);
        if (rc < 0)
            rc = vmdb__db_poison(db, rc); /* the log has it: recovery finishes */
        if (n == last)
            break;
    }
    pthread_mutex_lock(&db->state);
    if (rc == 0) {
        db->lock_page->salt = vmdb__wal_salt(db->wal);
        /* This process has held the file lock since the batch was queued,
         * so the bump is its own: its next writer must not take it for
         * another process's change and reload every table. */
        __atomic_store_n(&db->seen_generation,
                         __atomic_add_fetch(&db->lock_page->generation, 1, __ATOMIC_ACQ_REL),
                         __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&db->state);

    pthread_mutex_lock(&db->group);
    db->queue_head = last->next;
    if (db->queue_head)
        db->queue_head->prev = NULL;
    else
        db->queue_tail = NULL;
    for (vmdb__group_node *n = first, *next;; n = next) {
        bool end = n == last;
        next = n->next;
        if (rc == 0)
            __atomic_add_fetch(&db->commits, 1, __ATOMIC_RELAXED);
        db->settled++;
        vmdb__txn_count_queued(db, n->txn, -1);
        n->done = true;
        n->rc = rc;
        if (n->detached) {
            /* After the apply: a reader that sees the count drop sees the
             * tables with the transaction in them. */
            __atomic_sub_fetch(&db->pending, 1, __ATOMIC_RELEASE);
            vmdb__txn_free(n->txn);
        }
        if (end)
            break;
    }
    db->group_leader = false;
    pthread_cond_broadcast(&db->group_done);
}

/* Gives the file lock back once nothing is queued and no writer is in a
 * transaction; if one is, its unlock will. */
static void release_file_lock_if_idle(vmdb_db *db)
{
    if (pthread_mutex_trylock(&db->writer) != 0)
        return;
    if (db->flock_held && vmdb__group_idle(db))
        vmdb__db_release_file_lock(db);
    pthread_mutex_unlock(&db->writer);
}

int vmdb__group_wait(vmdb_db *db, vmdb__group_node *node)
{
    pthread_mutex_lock(&db->group);
    while (!node->done) {
        if (!db->group_leader && db->queue_head)
            lead(db);
        else
            pthread_cond_wait(&db->group_done, &db->group);
    }
    int rc = node->rc;
    pthread_mutex_unlock(&db->group);
    release_file_lock_if_idle(db);
    if (rc == VMDB_EPOISONED && vmdb_last_error()->code != VMDB_EPOISONED)
        rc = vmdb__fail(VMDB_EPOISONED, "%s: the group flush failed; reopen the database",
                        db->path);
    return rc;
}

int vmdb__group_drain(vmdb_db *db)
{
    pthread_mutex_lock(&db->group);
    int rc = 0;
    while (db->queue_head || db->group_leader) {
        if (!db->group_leader)
            lead(db);
        else
            pthread_cond_wait(&db->group_done, &db->group);
    }
    if (db->poisoned)
        rc = VMDB_EPOISONED;
    pthread_mutex_unlock(&db->group);
    if (rc)
        return vmdb__fail(rc, "%s: a flush failed earlier; reopen the database", db->path);
    return 0;
}

/* ---- NONE commits ------------------------------------------------------- */

static void deadline_after(struct timespec *ts, uint64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ns += (uint64_t)ts->tv_nsec;
    ts->tv_sec += (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

/*
 * fork() copies only the calling thread: a flusher caught inside malloc or
 * holding a lock of the C library leaves that lock held for good in the
 * child, whose next malloc hangs (seen with ASan's allocator). Flushers
 * work under the read side of this lock and fork waits for the write side,
 * so no flusher is in the middle of anything when a process forks.
 */
static pthread_rwlock_t fork_guard = PTHREAD_RWLOCK_INITIALIZER;
static pthread_once_t fork_guard_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
    pthread_rwlock_wrlock(&fork_guard);
}

static void fork_parent(void)
{
    pthread_rwlock_unlock(&fork_guard);
}

/* The child's thread has another id than the one that write-locked the
 * guard, which glibc's unlock would take for a reader: start afresh. */
static void fork_child(void)
{
    pthread_rwlock_t fresh = PTHREAD_RWLOCK_INITIALIZER;
    fork_guard = fresh;
}

static void register_fork_guard(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void *flusher_main(void *arg)
{
    vmdb_db *db = arg;
    pthread_mutex_lock(&db->group);
    db->flusher_running = true;
    pthread_cond_broadcast(&db->group_done);
    while (!db->flusher_stop) {
        if (!db->queue_head || db->group_leader) {
            pthread_cond_wait(&db->flusher_wake, &db->group);
            continue;
        }
        /* Let more commits share the flush, for at most the delay. */
        struct timespec deadline;
        deadline_after(&deadline, VMDB__NONE_DELAY_NS);
        while (!db->flusher_stop && db->queue_head && !db->group_leader &&
               __atomic_load_n(&db->pending, __ATOMIC_RELAXED) < NONE_HURRY)
            if (pthread_cond_timedwait(&db->flusher_wake, &db->group, &deadline) == ETIMEDOUT)
                break;
        if (db->queue_head && !db->group_leader) {
            /* The guard before `group`, as fork_prepare takes it alone. */
            pthread_mutex_unlock(&db->group);
            pthread_rwlock_rdlock(&fork_guard);
            pthread_mutex_lock(&db->group);
            if (db->queue_head && !db->group_leader)
                lead(db);
            pthread_mutex_unlock(&db->group);
            release_file_lock_if_idle(db);
            pthread_rwlock_unlock(&fork_guard);
            pthread_mutex_lock(&db->group);
        }
    }
    pthread_mutex_unlock(&db->group);
    return NULL;
}

int vmdb__group_enqueue_detached(vmdb_db *db, vmdb__group_node *node)
{
    pthread_mutex_lock(&db->group);
    node->detached = true;
    enqueue_locked(db, node);
    uint64_t pending = __atomic_add_fetch(&db->pending, 1, __ATOMIC_RELEASE);
    bool thread = db->flusher_started;
    if (!thread && !db->flusher_stop) {
        pthread_once(&fork_guard_once, register_fork_guard);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&db->flusher_wake, &attr);
        pthread_condattr_destroy(&attr);
        thread = pthread_create(&db->flusher, NULL, flusher_main, db) == 0;
        if (thread) {
            db->flusher_started = true;
            /* A thread starting up allocates (its stack, the C library's
             * and a sanitizer's state of it): a fork then would copy those
             * locks held. Return only once it runs. */
            while (!db->flusher_running)
                pthread_cond_wait(&db->group_done, &db->group);
        } else {
            pthread_cond_destroy(&db->flusher_wake);
        }
    }
    if (thread && (pending == 1 || pending == NONE_HURRY))
        pthread_cond_signal(&db->flusher_wake);
    pthread_mutex_unlock(&db->group);
    /* No thread (it could not be made), or a queue so long that a writer
     * walking it would slow down: the committer flushes and applies. */
    if (!thread || pending >= NONE_MAX_QUEUED)
        return vmdb__group_drain(db);
    return 0;
}

void vmdb__group_settle(vmdb_db *db)
{
    pthread_mutex_lock(&db->group);
    /* What was queued when the read began; later commits are not its
     * business, and a busy writer must not keep it here. */
    uint64_t target = db->enqueued;
    while (db->settled < target) {
        if (!db->group_leader && db->queue_head)
            lead(db);
        else
            pthread_cond_wait(&db->group_done, &db->group);
    }
    pthread_mutex_unlock(&db->group);
    release_file_lock_if_idle(db);
}

void vmdb__group_stop(vmdb_db *db)
{
    pthread_mutex_lock(&db->group);
    db->flusher_stop = true;
    bool started = db->flusher_started;
    if (started)
        pthread_cond_signal(&db->flusher_wake);
    pthread_mutex_unlock(&db->group);
    if (started) {
        pthread_join(db->flusher, NULL);
        pthread_cond_destroy(&db->flusher_wake);
        db->flusher_started = false;
    }
    /* Whatever is still queued (a poisoned handle's close) is dropped
     * from memory; the log has it for recovery. */
    vmdb__group_drain(db);
}
