/* SPDX-License-Identifier: MIT */
/*
 * engine/db/read.c - read transactions: every committed transaction seen
 * whole or not at all.
 *
 * Records are updated in place, so there is no older version to read
 * while a transaction is applied; instead a reader learns whether one was.
 * Every change to the tables is bracketed by the lock page's `changes`
 * counter, odd while it lasts (vmdb__db_changing). A read transaction
 * waits for an even value at its start and finds the same value at its
 * end, or reads again: a seqlock over the whole database, so the reads
 * in between stay as they are outside one, lock-free and without a
 * system call.
 *
 * A long scan under a steady stream of commits would read again forever.
 * After a few tries the reader holds writers back instead: it takes the
 * lock file's flock shared, through an open file of its own, which no
 * writer's exclusive flock can coexist with, in this process or another,
 * and every change to the tables happens under that exclusive flock. It
 * marks itself a waiter first, so a holder that keeps the lock for its
 * queued NONE commits lets it go (group.c). The kernel drops the lock of
 * a reader that dies.
 *
 * A thread that holds the write lock itself cannot wait for it: it
 * applies its handle's queue instead, after which nothing applies until
 * it lets go.
 */
#include "db.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>

#include "internal.h"
#include "os.h"

/* Yields a reader takes while a transaction is being applied before it
 * waits for the lock instead: an apply takes microseconds, but its
 * thread may have been preempted. */
#define APPLY_WAIT_YIELDS 200

static uint64_t changes_now(const vmdb_db *db)
{
    return __atomic_load_n(&db->lock_page->changes, __ATOMIC_ACQUIRE);
}

static int hold_writers(vmdb_read *r)
{
    vmdb_db *db = r->db;
    if (vmdb__db_held_by_me(db)) {
        /* The write lock is this thread's: no other process applies, and
         * in this one only the queue's leader could, until it is empty.
         * That lasts until the thread lets the lock go (validate). */
        int rc = vmdb__group_drain(db);
        if (rc < 0)
            return rc;
        r->drained = true;
        return 0;
    }
    int fd;
    int rc = vmdb__db_open_lock_file(db, &fd);
    if (rc < 0)
        return rc;
    for (;;) {
        /* Files replaced by a compaction are followed before the hold:
         * following takes `writer`, which a writer waiting for this
         * reader may hold. */
        rc = vmdb__follow(db);
        if (rc < 0) {
            vmdb__os_close(fd);
            return rc;
        }
        vmdb__os_mark_waiter(fd, true);
        /* A writer in the middle of a long transaction keeps the reader
         * waiting: as long as a writer would wait for it. */
        rc = vmdb__db_busy_timeout_ms(db)
                 ? vmdb__os_lock_file_shared_until(fd, vmdb__os_now_ns() +
                                                           vmdb__db_busy_timeout_ms(db) * 1000000ull)
                 : vmdb__os_lock_file_shared(fd);
        vmdb__os_mark_waiter(fd, false);
        if (rc == -EWOULDBLOCK) {
            vmdb__os_close(fd);
            long holder = (long)__atomic_load_n(&db->lock_page->holder_pid, __ATOMIC_RELAXED);
            char who[48] = "pid unknown";
            if (holder)
                snprintf(who, sizeof who, "pid %ld holds the write lock", holder);
            return vmdb__fail(VMDB_EBUSY,
                              "%s: database is locked (%s; waited %u ms to read it whole)",
                              db->path, who, vmdb__db_busy_timeout_ms(db));
        }
        if (rc < 0) {
            vmdb__os_close(fd);
            return vmdb__fail_os(rc, "%s: cannot hold writers back for a read", db->path);
        }
        if (__atomic_load_n(&db->lock_page->layout_epoch, __ATOMIC_ACQUIRE) ==
            __atomic_load_n(&db->seen_layout_epoch, __ATOMIC_RELAXED))
            break;
        vmdb__os_lock_file(fd, false); /* replaced meanwhile: follow again */
    }
    r->hold_fd = fd;
    /* Nobody holds the write lock now, so nobody is changing the tables:
     * an odd count is the mark of a writer that died doing so. */
    if (changes_now(db) & 1)
        return vmdb__fail(VMDB_ENEEDRECOVERY,
                          "%s: a writer stopped while applying a transaction (it died, or a write failed); open the "
                          "database for writing once to finish it (vmdb recover %s)",
                          db->path, db->path);
    return 0;
}

static void let_writers_go(vmdb_read *r)
{
    if (r->hold_fd >= 0) {
        /* A child made by fork shares the open file, and with it the
         * parent's lock: it only closes its descriptor. */
        if (!vmdb__db_inherited(r->db))
            vmdb__os_lock_file(r->hold_fd, false);
        vmdb__os_close(r->hold_fd);
        r->hold_fd = -1;
    }
}

/* Whether writers are held back now: by this read's lock, or by the
 * write lock this thread held when it began holding. */
static bool holding(const vmdb_read *r)
{
    return r->hold_fd >= 0 || (r->drained && vmdb__db_held_by_me(r->db));
}

/* Notes the counter once no change is under way: the start of a try. */
static int start_try(vmdb_read *r)
{
    vmdb_db *db = r->db;
    for (int i = 0;; i++) {
        uint64_t now = changes_now(db);
        if (!(now & 1)) {
            r->changes = now;
            return 0;
        }
        if (holding(r))
            /* Held back, and still odd: the changer is dead. */
            return vmdb__fail(VMDB_ENEEDRECOVERY,
                              "%s: a writer stopped while applying a transaction (it died, or a write failed); open the "
                              "database for writing once to finish it (vmdb recover %s)",
                              db->path, db->path);
        if (i >= APPLY_WAIT_YIELDS) {
            /* A preempted applier, or a dead one: waiting for the lock
             * tells them apart. */
            int rc = hold_writers(r);
            if (rc < 0)
                return rc;
            continue;
        }
        sched_yield();
    }
}

int vmdb_read_begin(vmdb_db *db, unsigned flags, vmdb_read *r)
{
    if (!db || !r)
        return vmdb__fail(VMDB_EINVAL, "vmdb_read_begin: database and read are required");
    if (vmdb__read_current()) {
        /* The open one may be this very struct: its hold stays its own. */
        if (vmdb__read_current() != r)
            *r = (vmdb_read){.db = db, .hold_fd = -1};
        return vmdb__fail(VMDB_EBUSY, "%s: this thread has a read transaction open already",
                          vmdb__read_current()->db->path);
    }
    *r = (vmdb_read){.db = db, .hold_fd = -1};
    if (flags & ~VMDB_READ_HOLD)
        return vmdb__fail(VMDB_EINVAL, "vmdb_read_begin: unknown flags %#x", flags);
    /* Follow replaced files and apply this handle's NONE commits now: both
     * take locks that a writer waiting on this reader could hold. */
    int rc = vmdb__follow(db);
    if (rc < 0)
        return rc;
    vmdb__db_reader_settle(db);
    if (flags & VMDB_READ_HOLD)
        rc = hold_writers(r);
    if (rc == 0)
        rc = start_try(r);
    if (rc < 0) {
        let_writers_go(r);
        return rc;
    }
    vmdb__read_set_current(r);
    return 0;
}

int vmdb_read_validate(vmdb_read *r)
{
    if (!r || vmdb__read_current() != r)
        return vmdb__fail(VMDB_EINVAL, "vmdb_read_validate: not this thread's open read "
                                       "transaction");
    if (r->drained && !vmdb__db_held_by_me(r->db)) {
        /* This thread let its write lock go since: what it read after
         * that was not held still, and its own commit may be among it.
         * From now on its own lock holds the writers back. */
        r->drained = false;
        int rc = hold_writers(r);
        if (rc == 0)
            rc = start_try(r);
        return rc < 0 ? rc : VMDB_ERETRY;
    }
    /* The reads of the try must not drift past the counter's load. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
#ifdef VMDB_MUTANT_READ_UNVALIDATED
    return 0; /* Mutant (test-mutants): what was read is taken as it is. */
#endif
    if (__atomic_load_n(&r->db->lock_page->changes, __ATOMIC_RELAXED) == r->changes)
        return 0;
    r->tries++;
    int rc = 0;
    if (r->tries >= VMDB_READ_OPTIMISTIC_TRIES && !holding(r))
        rc = hold_writers(r);
    if (rc == 0)
        rc = start_try(r);
    return rc < 0 ? rc : VMDB_ERETRY;
}

void vmdb__read_end_on(vmdb_db *db)
{
    if (vmdb__read_open_on(db))
        vmdb_read_end(vmdb__read_current());
}

void vmdb_read_end(vmdb_read *r)
{
    if (!r)
        return;
    let_writers_go(r);
    if (vmdb__read_current() == r)
        vmdb__read_set_current(NULL);
}
