/* SPDX-License-Identifier: MIT */
/*
 * engine/db/lock.c - the writer lock, both levels: the handle's mutex,
 * which makes one thread at a time the writer, and the lock file's flock,
 * which makes one process at a time the writer, taken fairly and within
 * the busy timeout; the lock file's shared page, which every handle maps;
 * and the poison mark of a failed flush. What a handle does once it holds
 * the lock (following other handles, finishing a dead writer) is
 * writer.c's.
 */
#include "db.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "os.h"

/* ---- the writer lock as this handle holds it ---------------------------- */

/* lock.c's own: the two levels of the writer lock (the handle's mutex for
 * its threads, the lock file's flock for processes), who holds them, and
 * what the holder last knew of other processes. */
struct vmdb__lockfile {
    int fd;                   /* the flock is taken on it */
    vmdb_map *map;            /* the lock page, read-only for readers */
    unsigned busy_timeout_ms; /* vmdb_db_options' */
    void (*busy_notice)(void *ctx, const char *path, long holder_pid);
    void *busy_notice_ctx;
    pthread_mutex_t writer; /* one write transaction per process */
    unsigned long holder;   /* atomic: the thread that holds `writer`
                               through vmdb__db_lock, or 0 */
    vmdb_txn *open_txn;     /* under `writer`: the transaction open */
    bool flock_held;        /* under `writer`: this process has the file
                               lock (kept while transactions wait in the
                               group queue, whose changes other processes
                               could not see) */
    bool yielded;           /* under `writer`: the file lock went while
                               another process was marked waiting */
    bool yield_asked;       /* atomic: set by the flusher when a process
                               waits for the file lock; the writer's next
                               unlock drains the queue and lets it go */
    bool poisoned;          /* atomic: a flush failed; no more writes */
    uint64_t seen_generation; /* atomic: the lock page's generation as
                                 this process last knew it */
};

int vmdb__db_lock_init(vmdb_db *db, const vmdb_db_options *o)
{
    db->lockfile = calloc(1, sizeof *db->lockfile);
    if (!db->lockfile)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    db->lockfile->fd = -1;
    db->lockfile->busy_timeout_ms = o->busy_timeout_ms;
    db->lockfile->busy_notice = o->busy_notice;
    db->lockfile->busy_notice_ctx = o->busy_notice_ctx;
    pthread_mutex_init(&db->lockfile->writer, NULL);
    return 0;
}

void vmdb__db_lock_close(vmdb_db *db)
{
    if (!db->lockfile)
        return;
    vmdb_map_close(db->lockfile->map);
    vmdb__os_close(db->lockfile->fd);
    pthread_mutex_destroy(&db->lockfile->writer);
    free(db->lockfile);
    db->lockfile = NULL;
}

int vmdb__db_poison(vmdb_db *db, int rc)
{
    __atomic_store_n(&db->lockfile->poisoned, true, __ATOMIC_RELEASE);
    return rc;
}

bool vmdb__db_poisoned(const vmdb_db *db)
{
    return __atomic_load_n(&db->lockfile->poisoned, __ATOMIC_ACQUIRE);
}

/* Bumped in every child a fork makes (group.c's fork handler): defined
 * here, the lowest file that asks whether a handle was inherited. */
uint64_t vmdb__fork_generation;

/* ---- the handle's writer mutex ------------------------------------------ */

void vmdb__db_mutex_lock(vmdb_db *db)
{
    pthread_mutex_lock(&db->lockfile->writer);
}

bool vmdb__db_mutex_trylock(vmdb_db *db)
{
    return pthread_mutex_trylock(&db->lockfile->writer) == 0;
}

void vmdb__db_mutex_unlock(vmdb_db *db)
{
    pthread_mutex_unlock(&db->lockfile->writer);
}

/* fork() copies the calling thread, id and all: in a child, the holder
 * noted is a thread of the parent that looks like this one, and the lock
 * is the parent's (an inherited handle holds nothing). */
bool vmdb__db_held_by_me(const vmdb_db *db)
{
    return __atomic_load_n(&db->lockfile->holder, __ATOMIC_RELAXED) ==
               (unsigned long)pthread_self() &&
           !vmdb__db_inherited(db);
}

void vmdb__db_note_holder(vmdb_db *db, bool me)
{
    __atomic_store_n(&db->lockfile->holder, me ? (unsigned long)pthread_self() : 0,
                     __ATOMIC_RELAXED);
    if (!me)
        db->lockfile->open_txn = NULL;
}

vmdb_txn *vmdb__db_open_txn(const vmdb_db *db)
{
    return db->lockfile->open_txn;
}

void vmdb__db_note_open_txn(vmdb_db *db, vmdb_txn *txn)
{
    db->lockfile->open_txn = txn;
}

void vmdb__db_ask_yield(vmdb_db *db)
{
    __atomic_store_n(&db->lockfile->yield_asked, true, __ATOMIC_RELAXED);
}

bool vmdb__db_yield_asked(vmdb_db *db)
{
    return __atomic_exchange_n(&db->lockfile->yield_asked, false, __ATOMIC_RELAXED);
}

uint64_t vmdb__db_seen_generation(const vmdb_db *db)
{
    return __atomic_load_n(&db->lockfile->seen_generation, __ATOMIC_RELAXED);
}

void vmdb__db_note_generation(vmdb_db *db, uint64_t generation)
{
    __atomic_store_n(&db->lockfile->seen_generation, generation, __ATOMIC_RELAXED);
}

bool vmdb__db_file_lock_held(const vmdb_db *db)
{
    return db->lockfile->flock_held;
}

/* ---- the lock file ------------------------------------------------------ */

unsigned vmdb__db_busy_timeout_ms(const vmdb_db *db)
{
    return db->lockfile->busy_timeout_ms;
}

bool vmdb__db_waiter_marked(const vmdb_db *db)
{
    return vmdb__os_has_waiter(db->lockfile->fd) > 0;
}

int vmdb__db_open_lock(vmdb_db *db)
{
    char *path = vmdb__path_join(db->path, VMDB__LOCK_NAME, "");
    if (!path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    /* Readers map it too, read-only, to follow replaced files (follow.c). */
    vmdb_map_options mo = {.mode = db->readonly ? VMDB_MAP_READ : VMDB_MAP_WRITE,
                           .len = vmdb_page_size()};
    int rc = vmdb_map_open(path, &mo, &db->lockfile->map);
    if (rc == 0) {
        db->lock_page = vmdb_map_ptr(db->lockfile->map);
        if (memcmp(db->lock_page->magic, VMDB__LOCK_MAGIC, 8) != 0)
            rc = vmdb__fail(VMDB_EBADMAGIC, "%s: not a vmdb lock file", path);
        else if (db->lock_page->version != 1)
            rc = vmdb__fail(VMDB_EVERSION, "%s: lock file version %u, this build reads 1", path,
                            db->lock_page->version);
    }
    if (rc == 0 && (rc = vmdb__os_open(path, VMDB__OS_RDONLY, 0, &db->lockfile->fd)) < 0)
        rc = vmdb__fail_os(rc, "%s: cannot open", path);
    /* A reader cannot finish what a dead writer left half applied; it must
     * not show it either. A writer holding the lock may be applying now,
     * legitimately: only a free lock with the count up means a death, and
     * the count is read again under the lock, as a writer may have brought
     * it down and let go meanwhile. */
    bool dead_writer = false;
    if (rc == 0 && db->readonly && !db->as_is &&
        __atomic_load_n(&db->lock_page->applying, __ATOMIC_ACQUIRE) != 0 &&
        vmdb__os_try_lock_file_shared(db->lockfile->fd) == 0) {
        dead_writer = __atomic_load_n(&db->lock_page->applying, __ATOMIC_ACQUIRE) != 0;
        vmdb__os_lock_file(db->lockfile->fd, false);
    }
    if (dead_writer)
        rc = vmdb__fail(VMDB_ENEEDRECOVERY,
                        "%s: a writer stopped before all its commits reached the tables (it "
                        "died, or a write to the disk failed); open the database for writing "
                        "once to finish it (vmdb recover %s)",
                        db->path, db->path);
    if (rc == 0)
        db->seen_layout_epoch = db->lock_page->layout_epoch;
    free(path);
    return rc;
}

int vmdb__db_open_lock_file(vmdb_db *db, int *fd)
{
    char *path = vmdb__path_join(db->path, VMDB__LOCK_NAME, "");
    if (!path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    int rc = vmdb__os_open(path, VMDB__OS_RDONLY, 0, fd);
    if (rc < 0)
        rc = vmdb__fail_os(rc, "%s: cannot open", path);
    free(path);
    return rc;
}

/* Most 20 us naps a writer that just let the lock go to a waiting process
 * takes before it competes for the lock again. */
#define YIELD_NAPS 10000

_Static_assert(offsetof(vmdb__lock_page, holder_pid) == 104,
               "every build that opens a database shares the lock page's layout");
_Static_assert(offsetof(vmdb__lock_page, wal_epoch) == 120,
               "every build that opens a database shares the lock page's layout");

static long lock_holder(vmdb_db *db)
{
    return (long)__atomic_load_n(&db->lock_page->holder_pid, __ATOMIC_RELAXED);
}

static int busy_error(vmdb_db *db)
{
    long pid = lock_holder(db);
    if (pid == 0)
        return vmdb__fail(VMDB_EBUSY,
                          "%s: database is locked (by another process, pid unknown; waited %u ms)",
                          db->path, db->lockfile->busy_timeout_ms);
    if (pid == vmdb__os_pid())
        return vmdb__fail(VMDB_EBUSY,
                          "%s: database is locked (pid %ld holds the write lock: this process, "
                          "through another handle; waited %u ms)",
                          db->path, pid, db->lockfile->busy_timeout_ms);
    return vmdb__fail(VMDB_EBUSY, "%s: database is locked (pid %ld holds the write lock; "
                                  "waited %u ms)",
                      db->path, pid, db->lockfile->busy_timeout_ms);
}

/*
 * Waits for the file lock another process holds, as the options say: as
 * long as it takes in one blocking call when there is neither a timeout
 * nor a notice, otherwise in naps (os.c) up to the notice, then up to the
 * timeout. -EWOULDBLOCK when the timeout passed.
 */
static int wait_for_file_lock(vmdb_db *db)
{
    if (!db->lockfile->busy_timeout_ms && !db->lockfile->busy_notice)
        return vmdb__os_lock_file(db->lockfile->fd, true);
    uint64_t start = vmdb__os_now_ns();
    uint64_t give_up = db->lockfile->busy_timeout_ms ? start + db->lockfile->busy_timeout_ms * 1000000ull : UINT64_MAX;
    uint64_t notice_at = start + VMDB_BUSY_NOTICE_MS * 1000000ull;
    if (db->lockfile->busy_notice && notice_at < give_up) {
        int rc = vmdb__os_lock_file_until(db->lockfile->fd, notice_at);
        if (rc != -EWOULDBLOCK)
            return rc;
        db->lockfile->busy_notice(db->lockfile->busy_notice_ctx, db->path, lock_holder(db));
    }
    if (give_up == UINT64_MAX)
        return vmdb__os_lock_file(db->lockfile->fd, true);
    return vmdb__os_lock_file_until(db->lockfile->fd, give_up);
}

/*
 * The file lock, fairly. A holder keeps it while its NONE commits wait
 * for their log flush (group.c), unless it sees a waiter: so a process
 * that waits marks itself, for the whole wait. flock itself is not fair:
 * the holder that lets go would take it again at its next transaction,
 * before the waiter it woke has run. So a holder that just let go for a
 * waiter first waits for the waiters to get their turn (their mark goes
 * once they have the lock), a bounded while.
 *
 * Returns 0 or a VMDB_E* code with its message: VMDB_EBUSY when another
 * process held the lock for busy_timeout_ms.
 */
int vmdb__db_take_file_lock(vmdb_db *db)
{
    if (db->lockfile->yielded) {
        db->lockfile->yielded = false;
        for (int i = 0; i < YIELD_NAPS && vmdb__os_has_waiter(db->lockfile->fd) > 0; i++)
            nanosleep(&(struct timespec){0, 20 * 1000}, NULL);
    }
    int rc = vmdb__os_try_lock_file(db->lockfile->fd);
    if (rc == -EWOULDBLOCK) {
        vmdb__os_mark_waiter(db->lockfile->fd, true);
        rc = wait_for_file_lock(db);
        vmdb__os_mark_waiter(db->lockfile->fd, false);
        if (rc == -EWOULDBLOCK)
            return busy_error(db);
    }
    if (rc < 0)
        return vmdb__fail_os(rc, "%s: cannot take the write lock", db->path);
    __atomic_store_n(&db->lock_page->holder_pid, (uint32_t)vmdb__os_pid(), __ATOMIC_RELAXED);
    db->lockfile->flock_held = true;
    return 0;
}

/* Every way the lock goes (a commit's unlock, the flusher's idle round, a
 * yield) leaves the next take_file_lock to let a marked waiter in first:
 * a holder whose flusher let go while its writer was between transactions
 * would otherwise take the lock straight back, round after round, while
 * the woken waiter was still on its way (seen under valgrind, where the
 * waiter is slow to run). */
void vmdb__db_release_file_lock(vmdb_db *db)
{
    __atomic_store_n(&db->lock_page->holder_pid, 0, __ATOMIC_RELAXED);
    vmdb__os_lock_file(db->lockfile->fd, false);
    db->lockfile->flock_held = false;
    db->lockfile->yielded = vmdb__os_has_waiter(db->lockfile->fd) > 0;
}

/* Called with the lock held after every change other processes must see. */
void vmdb__db_publish_generation(vmdb_db *db)
{
    /* vmdb_check loads it without the lock (vmdb__wal_check_live). */
    __atomic_store_n(&db->lock_page->salt, vmdb__wal_salt(db->wal), __ATOMIC_RELEASE);
    vmdb__db_note_generation(db, __atomic_add_fetch(&db->lock_page->generation, 1,
                                                    __ATOMIC_ACQ_REL));
}
