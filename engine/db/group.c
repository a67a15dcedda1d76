/* SPDX-License-Identifier: MIT */
/*
 * engine/db/group.c - group commit: committers that arrive while a flush is
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
 * a transaction the log no longer has. A flusher thread per handle
 * flushes the log VMDB__NONE_DELAY_NS after the first NONE commit it
 * finds queued (only full pages while the writer is busy: a page under
 * writeback stalls whoever writes it). The writer applies what is durable
 * at its next NONE commit, in its own thread, where the pages are warm;
 * the flusher applies when the handle is idle, or when a transaction has
 * kept the writer away for a whole round. So a NONE commit reaches the
 * tables, and other handles and processes, within about twice the delay
 * plus one log flush. Readers of the committing handle see it at once:
 * point reads look through the queue's view (txn.c), scans apply the
 * queue first (vmdb__group_settle).
 *
 * A process waiting for the file lock marks itself (an OFD lock, which
 * dies with it); the flusher sees the mark and the writer's next unlock
 * drains the queue and lets the lock go, so that a writer committing
 * without a pause cannot starve other processes.
 *
 * Every flush starts at the durable LSN in the lock page, so the log on
 * disk is always a prefix, whatever mix of durabilities and processes
 * wrote it.
 */
#include "db.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "os.h"

/* Operations of queued NONE commits past which the committer flushes and
 * applies them itself (the disk is slower than the writer): every write
 * and point read probes the queue's view, which must stay in the cache. */
#define NONE_MAX_QUEUED_OPS 16384

/* The queue and the flusher: seen by no other file. */
struct vmdb__group {
    pthread_cond_t group_done;
    vmdb__group_node *queue_head, *queue_tail;
    bool group_leader;           /* a thread is flushing and applying */
    bool lead_applies;           /* the leader's batch ends with lead_last, */
    vmdb__group_node *lead_last; /* and it applies */
    uint64_t enqueued, settled;  /* queued ever, done ever */
    uint64_t queued_ops;         /* operations in the queue */
    uint64_t flushed_to;         /* this process flushed the log up to here
                                    while holding the file lock, which it
                                    has held since */
    pthread_t flusher;           /* flushes the log of NONE commits a few
                                    hundred microseconds after them */
    bool flusher_started;
    bool flusher_running;        /* it began its loop */
    bool flusher_stop;
    pthread_cond_t flusher_wake;
    /* Gathering (see gather): waiting committers the last batch released,
     * committers queued now beside them, and how long the last flush
     * took. */
    uint64_t released_last;      /* waiting (not detached) nodes released */
    uint64_t waiting_queued;     /* waiting nodes in the queue now */
    uint64_t gather_target;      /* waiting nodes a leader gathers up to */
    uint64_t last_flush_ns;
    pthread_cond_t arrived;      /* a waiting node joined the queue */
};

int vmdb__group_open(vmdb_db *db)
{
    db->group_commit = calloc(1, sizeof *db->group_commit);
    if (!db->group_commit)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    pthread_cond_init(&db->group_commit->group_done, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&db->group_commit->arrived, &attr);
    pthread_condattr_destroy(&attr);
    return 0;
}

void vmdb__group_close(vmdb_db *db)
{
    if (!db->group_commit)
        return;
    pthread_cond_destroy(&db->group_commit->group_done);
    pthread_cond_destroy(&db->group_commit->arrived);
    free(db->group_commit);
    db->group_commit = NULL;
}

void vmdb__group_forget_flushed(vmdb_db *db)
{
    pthread_mutex_lock(&db->group);
    db->group_commit->flushed_to = 0;
    pthread_mutex_unlock(&db->group);
}

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
    struct vmdb__group *g = db->group_commit;
    pthread_mutex_lock(&db->group);
    bool idle = g->queue_head == NULL && !g->group_leader;
    pthread_mutex_unlock(&db->group);
    return idle;
}

bool vmdb__group_idle_at_unlock(vmdb_db *db)
{
    struct vmdb__group *g = db->group_commit;
    pthread_mutex_lock(&db->group);
    /* A leader applying all that is queued will leave the queue empty
     * with the writer gone: nobody would give the file lock back then
     * (the leader cannot: it does not hold `writer`). Wait for it. */
    while (g->group_leader && g->lead_applies && g->lead_last == g->queue_tail)
        pthread_cond_wait(&g->group_done, &db->group);
    bool idle = g->queue_head == NULL && !g->group_leader;
    pthread_mutex_unlock(&db->group);
    return idle;
}

static void enqueue_locked(vmdb_db *db, vmdb__group_node *node)
{
    struct vmdb__group *g = db->group_commit;
    node->next = NULL;
    node->prev = g->queue_tail;
    node->done = false;
    node->rc = 0;
    if (g->queue_tail)
        g->queue_tail->next = node;
    else
        g->queue_head = node;
    g->queue_tail = node;
    g->enqueued++;
    g->queued_ops += node->ops;
    vmdb__txn_join_queue_view(db, node->txn);
    /* The lock page's applying count went up before the commit was
     * published (txn.c) and comes down once it is applied (lead). */
}

void vmdb__group_enqueue(vmdb_db *db, vmdb__group_node *node)
{
    pthread_mutex_lock(&db->group);
    node->detached = false;
    enqueue_locked(db, node);
    db->group_commit->waiting_queued++;
    pthread_cond_signal(&db->group_commit->arrived);
    pthread_mutex_unlock(&db->group);
}

/* With `group` held and no other leader. Flushes the log of everything
 * queued now (when `flush`), then, when `apply`, applies in log order the
 * queued transactions whose log is durable and completes them. `group` is
 * dropped for the slow parts; the batch stays in the queue (visible to
 * writers) until applied. */
enum lead_flush { NO_FLUSH, FLUSH_WHOLE_PAGES, FLUSH_ALL };

static void lead(vmdb_db *db, enum lead_flush flush, bool apply)
{
    struct vmdb__group *g = db->group_commit;
    g->group_leader = true;
    g->lead_applies = apply;
    vmdb__group_node *first = g->queue_head, *last = g->queue_tail;
    g->lead_last = last;
    uint64_t flushed = g->flushed_to;
    pthread_mutex_unlock(&db->group);

    uint64_t to = last->end;
    /* A page being written back cannot change until the write is done
     * (stable pages): flushing the page the writer appends to would stall
     * its next commit for a disk write. Full pages only, unless the
     * writer is idle or the oldest commit would wait past its bound. */
    if (flush == FLUSH_WHOLE_PAGES && vmdb__round_down(to, vmdb__os_page_size()) >= first->end)
        to = vmdb__round_down(to, vmdb__os_page_size());
    int rc = vmdb__db_poisoned(db) ? VMDB_EPOISONED : 0;
    uint64_t flush_ns = 0;
    if (rc == 0 && flush != NO_FLUSH && to > flushed) {
        uint64_t began = vmdb__os_now_ns();
        rc = vmdb__db_flush_log(db, to);
        flush_ns = vmdb__os_now_ns() - began;
        if (rc == 0)
            flushed = to;
    }
    if (rc == 0 && apply) {
        /* The durable part of the batch: the queue is in log order. */
        vmdb__group_node *n = first;
        while (n != last && n->next->end <= flushed)
            n = n->next;
        last = n;
        apply = first->end <= flushed;
    }
    bool applied = false;
    /* `state` is taken for one transaction at a time, so that the writer
     * (reserving record ids) waits for one apply, not the batch. */
    for (vmdb__group_node *n = first; rc == 0 && apply; n = n->next) {
        pthread_mutex_lock(&db->state);
        rc = vmdb__txn_apply(db, n->txn);
        if (rc == 0)
            vmdb__db_applying(db, false);
        pthread_mutex_unlock(&db->state);
        if (rc < 0)
            rc = vmdb__db_poison(db, rc); /* the log has it: recovery finishes */
        applied = true;
        if (n == last)
            break;
    }
    if (rc == 0 && applied) {
        /* This process has held the file lock since the batch was queued,
         * so the bump is its own: its next writer must not take it for
         * another process's change and reload every table. */
        pthread_mutex_lock(&db->state);
        vmdb__db_publish_generation(db);
        pthread_mutex_unlock(&db->state);
    }

    pthread_mutex_lock(&db->group);
    if (flushed > g->flushed_to)
        g->flushed_to = flushed;
    if (flush_ns)
        g->last_flush_ns = flush_ns;
    if (rc < 0 || applied) {
        uint64_t released = 0;
        for (vmdb__group_node *n = first;; n = n->next) {
            released += !n->detached;
            if (n == last)
                break;
        }
        g->waiting_queued -= released;
        /* The next leader gathers those still queued and those released
         * now, which are a few microseconds from committing again. */
        g->gather_target = g->waiting_queued + released;
        g->released_last = released;
        /* Applied, or failed: a failure fails the whole batch. */
        g->queue_head = last->next;
        if (g->queue_head)
            g->queue_head->prev = NULL;
        else
            g->queue_tail = NULL;
        for (vmdb__group_node *n = first, *next;; n = next) {
            bool end = n == last;
            next = n->next;
            if (rc == 0 && !n->detached) /* a NONE commit counted when queued */
                __atomic_add_fetch(&db->commits, 1, __ATOMIC_RELAXED);
            g->settled++;
            g->queued_ops -= n->ops;
            vmdb__txn_leave_queue_view(db, n->txn);
            n->done = true;
            n->rc = rc;
            if (n->detached) {
                /* After the apply: a reader that sees the count drop sees
                 * the tables with the transaction in them. */
                __atomic_sub_fetch(&db->pending, 1, __ATOMIC_RELEASE);
                vmdb__txn_free(n->txn);
            }
            if (end)
                break;
        }
    }
    g->group_leader = false;
    pthread_cond_broadcast(&g->group_done);
}

/* Gives the file lock back once nothing is queued and no writer is in a
 * transaction; if one is, its unlock will. */
static void release_file_lock_if_idle(vmdb_db *db)
{
    if (!vmdb__db_mutex_trylock(db))
        return;
    if (vmdb__db_file_lock_held(db) && vmdb__group_idle(db))
        vmdb__db_release_file_lock(db);
    vmdb__db_mutex_unlock(db);
}

static void deadline_after(struct timespec *ts, uint64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ns += (uint64_t)ts->tv_nsec;
    ts->tv_sec += (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

#define GATHER_MAX_NS (2ull * 1000 * 1000)

/*
 * Committers that commit without a pause fall into two halves that take
 * turns: those released by one flush commit again while the next flush,
 * of the others, runs, so each flush serves half of them. Before it
 * flushes, a leader waits for the committers the last flush released to
 * be queued again (they are a few microseconds away), for at most half a
 * flush (and GATHER_MAX_NS: a slow disk's flush is no reason to wait for
 * committers that stopped): a flush then serves them all. A lone committer is the one the
 * last flush released, so it never waits; nor does a drain or a NONE
 * commit's flush. With `group` held; false when the wait timed out.
 */
static bool gather(struct vmdb__group *g, pthread_mutex_t *group)
{
    if (g->waiting_queued >= g->gather_target || g->released_last < 2)
        return true;
    struct timespec deadline;
    deadline_after(&deadline, g->last_flush_ns / 2 < GATHER_MAX_NS ? g->last_flush_ns / 2
                                                                   : GATHER_MAX_NS);
    while (g->waiting_queued < g->gather_target && !g->group_leader)
        if (pthread_cond_timedwait(&g->arrived, group, &deadline) == ETIMEDOUT)
            return false;
    return true;
}

int vmdb__group_wait(vmdb_db *db, vmdb__group_node *node)
{
    struct vmdb__group *g = db->group_commit;
    pthread_mutex_lock(&db->group);
    while (!node->done) {
        if (!g->group_leader && g->queue_head) {
            if (!gather(g, &db->group))
                g->gather_target = 0; /* they did not come: stop waiting for them */
            if (!g->group_leader && g->queue_head && !node->done)
                lead(db, FLUSH_ALL, true);
        } else {
            pthread_cond_wait(&g->group_done, &db->group);
        }
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
    struct vmdb__group *g = db->group_commit;
    pthread_mutex_lock(&db->group);
    int rc = 0;
    while (g->queue_head || g->group_leader) {
        if (!g->group_leader)
            lead(db, FLUSH_ALL, true);
        else
            pthread_cond_wait(&g->group_done, &db->group);
    }
    if (vmdb__db_poisoned(db))
        rc = VMDB_EPOISONED;
    pthread_mutex_unlock(&db->group);
    if (rc)
        return vmdb__fail(rc, "%s: a flush failed earlier; reopen the database", db->path);
    return 0;
}

/* ---- NONE commits ------------------------------------------------------- */

#ifdef VMDB_TEST_HOOKS
uint64_t vmdb__none_delay_ns = VMDB__NONE_DELAY_NS;
static uint64_t none_delay_ns(void)
{
    return __atomic_load_n(&vmdb__none_delay_ns, __ATOMIC_RELAXED);
}
#else
static uint64_t none_delay_ns(void)
{
    return VMDB__NONE_DELAY_NS;
}
#endif

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
 * guard, which glibc's unlock would take for a reader: start afresh. The
 * handles the child inherited are its parent's (vmdb__db_inherited). */
static void fork_child(void)
{
    pthread_rwlock_t fresh = PTHREAD_RWLOCK_INITIALIZER;
    fork_guard = fresh;
    __atomic_add_fetch(&vmdb__fork_generation, 1, __ATOMIC_RELAXED);
}

static void register_fork_guard(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void vmdb__group_note_owner(vmdb_db *db)
{
    pthread_once(&fork_guard_once, register_fork_guard);
    db->fork_generation = __atomic_load_n(&vmdb__fork_generation, __ATOMIC_RELAXED);
}

void vmdb__group_forget_inherited(vmdb_db *db)
{
    struct vmdb__group *g = db->group_commit;
    /* The queue is the parent's: its flusher applies it. Only this
     * process's copies of the transactions go. */
    for (vmdb__group_node *n = g->queue_head, *next; n; n = next) {
        next = n->next;
        if (n->detached) {
            vmdb__txn_forget(n->txn);
        }
    }
    g->queue_head = g->queue_tail = NULL;
    g->flusher_started = false;
}

static void *flusher_main(void *arg)
{
    vmdb_db *db = arg;
    struct vmdb__group *g = db->group_commit;
    pthread_mutex_lock(&db->group);
    g->flusher_running = true;
    pthread_cond_broadcast(&g->group_done);
    while (!g->flusher_stop) {
        if (!g->queue_head) {
            pthread_cond_wait(&g->flusher_wake, &db->group);
            continue;
        }
        if (g->group_leader) {
            /* Another thread leads: the queue may still hold commits when
             * it is done, and no commit would wake this thread for them. */
            pthread_cond_wait(&g->group_done, &db->group);
            continue;
        }
        /* Let the commits of the next VMDB__NONE_DELAY_NS share a flush. */
        struct timespec deadline;
        deadline_after(&deadline, none_delay_ns());
        while (!g->flusher_stop && g->queue_head)
            if (pthread_cond_timedwait(&g->flusher_wake, &db->group, &deadline) == ETIMEDOUT)
                break;
        if (g->flusher_stop || !g->queue_head || g->group_leader)
            continue;
        /* The guard before `group`, as fork_prepare takes it alone. */
        pthread_mutex_unlock(&db->group);
        pthread_rwlock_rdlock(&fork_guard);
        /* No transaction open on this handle: nobody will apply the
         * batch soon, so the flusher does. Otherwise the writer applies it
         * at its next commit, in its own thread, where the tables' pages
         * are already in its cache. */
        bool idle = vmdb__db_mutex_trylock(db);
        pthread_mutex_lock(&db->group);
        if (g->queue_head && !g->group_leader) {
            /* Durable since the last round and still queued: the writer
             * is in a long transaction; apply it now, within the bound. */
            bool overdue = g->queue_head->end <= g->flushed_to;
            lead(db, idle || overdue ? FLUSH_ALL : FLUSH_WHOLE_PAGES, idle || overdue);
        }
        if (idle) {
            if (vmdb__db_file_lock_held(db) && !g->queue_head && !g->group_leader)
                vmdb__db_release_file_lock(db);
            vmdb__db_mutex_unlock(db);
        } else if (g->queue_head && vmdb__db_waiter_marked(db)) {
            vmdb__db_ask_yield(db);
        }
        pthread_mutex_unlock(&db->group);
        /* The writer may have let go while this round applied the last of
         * the queue: then nobody else would give the file lock back. */
        if (!idle)
            release_file_lock_if_idle(db);
        pthread_rwlock_unlock(&fork_guard);
        pthread_mutex_lock(&db->group);
    }
    pthread_mutex_unlock(&db->group);
    return NULL;
}

int vmdb__group_enqueue_detached(vmdb_db *db, vmdb__group_node *node)
{
    struct vmdb__group *g = db->group_commit;
    pthread_mutex_lock(&db->group);
    bool thread = g->flusher_started;
    if (!thread && !g->flusher_stop) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&g->flusher_wake, &attr);
        pthread_condattr_destroy(&attr);
        thread = pthread_create(&g->flusher, NULL, flusher_main, db) == 0;
        if (thread) {
            g->flusher_started = true;
            /* A thread starting up allocates (its stack, the C library's
             * and a sanitizer's state of it): a fork then would copy those
             * locks held. Return only once it runs. */
            while (!g->flusher_running)
                pthread_cond_wait(&g->group_done, &db->group);
        } else {
            pthread_cond_destroy(&g->flusher_wake);
        }
    }
    /* Queued only now that `group` is held for good: from here on the
     * flusher may apply and free the node whenever `group` is free. */
    node->detached = true;
    enqueue_locked(db, node);
    __atomic_add_fetch(&db->commits, 1, __ATOMIC_RELAXED); /* done, as far as its owner knows */
    uint64_t pending = __atomic_add_fetch(&db->pending, 1, __ATOMIC_RELEASE);
    if (thread && pending == 1)
        pthread_cond_signal(&g->flusher_wake);
    /* No thread (it could not be made), or a queue grown too long: the
     * committer flushes and applies. */
    if (!thread || g->queued_ops > NONE_MAX_QUEUED_OPS) {
        pthread_mutex_unlock(&db->group);
        return vmdb__group_drain(db);
    }
    /* What the flusher made durable, this thread applies. */
    if (!g->group_leader && g->queue_head && g->queue_head->end <= g->flushed_to)
        lead(db, NO_FLUSH, true);
    pthread_mutex_unlock(&db->group);
    return 0;
}

void vmdb__group_settle(vmdb_db *db)
{
    struct vmdb__group *g = db->group_commit;
    pthread_mutex_lock(&db->group);
    /* What was queued when the read began; later commits are not its
     * business, and a busy writer must not keep it here. */
    uint64_t target = g->enqueued;
    while (g->settled < target) {
        if (!g->group_leader && g->queue_head)
            lead(db, FLUSH_ALL, true);
        else
            pthread_cond_wait(&g->group_done, &db->group);
    }
    pthread_mutex_unlock(&db->group);
    release_file_lock_if_idle(db);
}

void vmdb__group_stop(vmdb_db *db)
{
    struct vmdb__group *g = db->group_commit;
    pthread_mutex_lock(&db->group);
    g->flusher_stop = true;
    bool started = g->flusher_started;
    if (started) {
        pthread_cond_signal(&g->flusher_wake);
        pthread_cond_broadcast(&g->group_done);
    }
    pthread_mutex_unlock(&db->group);
    if (started) {
        pthread_join(g->flusher, NULL);
        pthread_cond_destroy(&g->flusher_wake);
        g->flusher_started = false;
    }
    /* Whatever is still queued (a poisoned handle's close) is dropped
     * from memory; the log has it for recovery. */
    vmdb__group_drain(db);
}
