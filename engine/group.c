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
 */
#include "db.h"

#include "internal.h"

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

void vmdb__group_enqueue(vmdb_db *db, vmdb__group_node *node)
{
    pthread_mutex_lock(&db->group);
    node->next = NULL;
    node->prev = db->queue_tail;
    node->done = false;
    node->rc = 0;
    if (db->queue_tail)
        db->queue_tail->next = node;
    else
        db->queue_head = node;
    db->queue_tail = node;
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
    pthread_mutex_lock(&db->state);
    for (vmdb__group_node *n = first; rc == 0; n = n->next) {
        rc = vmdb__txn_apply(db, n->txn);
        if (rc < 0)
            rc = vmdb__db_poison(db, rc); /* the log has it: recovery finishes */
        if (n == last)
            break;
    }
    if (rc == 0) {
        db->lock_page->salt = vmdb__wal_salt(db->wal);
        __atomic_add_fetch(&db->lock_page->generation, 1, __ATOMIC_ACQ_REL);
    }
    pthread_mutex_unlock(&db->state);

    pthread_mutex_lock(&db->group);
    for (vmdb__group_node *n = first;; n = n->next) {
        if (rc == 0)
            __atomic_add_fetch(&db->commits, 1, __ATOMIC_RELAXED);
        if (n == last)
            break;
    }
    for (vmdb__group_node *n = first;; n = n->next) {
        n->done = true;
        n->rc = rc;
        if (n == last)
            break;
    }
    db->queue_head = last->next;
    if (db->queue_head)
        db->queue_head->prev = NULL;
    else
        db->queue_tail = NULL;
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
