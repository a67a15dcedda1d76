/* SPDX-License-Identifier: MIT */
/*
 * engine/db/follow.c - following table files that another handle replaced.
 *
 * Compaction writes a table's records into a new file and renames it over
 * the old one (engine/db/compact.c), and likewise the index. A handle that
 * mapped the old files, in another process or in this one, would go on
 * reading a file that no longer has a name and, worse, writing into it.
 * So the compactor bumps `layout_epoch` in the lock page, which every
 * handle maps, and each handle compares it with the epoch of the files it
 * maps: a writer when it takes the lock (before it can write anything), a
 * reader at each read call (one load of shared memory, no system call).
 * On a difference the handle stats each table's names and maps the new
 * files of those whose inode changed, keeping the old mappings for
 * readers that are still in them, exactly as the compactor does for its
 * own handle. Creating and dropping a table bump the epoch too: a table
 * whose file is gone leaves the handle's list (its struct stays, for the
 * pointers users hold, and finds nothing), and new files are opened.
 *
 * Which file a handle maps is recorded by statting the name *before* the
 * file is mapped: if a rename slips in between, the handle maps the new
 * file but remembers the old inode, and merely maps the new file again at
 * the next epoch it sees. Recording after mapping could remember the new
 * inode for the old mapping and never move. The epoch itself is read when
 * the database is opened, before any table is, for the same reason.
 *
 * A reader that finds the epoch changed takes this handle's writer mutex
 * to follow: it can only wait for a thread of this process that is itself
 * following (a writer holding the file lock saw the epoch when it took
 * it, and no epoch can change while it holds the lock).
 */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "internal.h"
#include "os.h"

static char *index_path_of(const vmdb_table *t)
{
    size_t n = strlen(t->path);
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, t->path, n + 1);
        memcpy(p + n - 4, ".vmi", 4); /* NAME.vmt -> NAME.vmi */
    }
    return p;
}

/* What a file under the table's name now is. */
enum replacement { SAME_TABLE_MOVED, ANOTHER_TABLE };

/* Maps the file now named t->path into t (stat'ed as `st` before). The
 * old mapping goes into a retired husk, returned in *husk. A file that
 * holds another table (another id or record size: the table was dropped
 * and made again, where compaction keeps both) is left alone:
 * ANOTHER_TABLE. */
static int follow_table_file(vmdb_table *t, const vmdb__os_stat *st, vmdb_table **husk)
{
    vmdb_table *fresh = NULL;
    int rc = vmdb__table_open(t->path, t->readonly, t->verify, &fresh);
    if (rc == 0 && (fresh->stride != t->stride || fresh->id != t->id)) {
        vmdb__table_close(fresh);
        return ANOTHER_TABLE;
    }
    /* Readers may have loaded any capacity this table ever had. */
    uint64_t pad_len = vmdb_map_len(t->map);
    uint64_t retired = vmdb__table_retired_len(t);
    if (retired > pad_len)
        pad_len = retired;
    if (rc == 0)
        rc = vmdb__table_pad(fresh, pad_len);
    if (rc == 0)
        rc = vmdb__table_retire(t, fresh);
    if (rc < 0) {
        vmdb__table_close(fresh);
        return rc;
    }
    vmdb__table_install(t, fresh);
    t->file_dev = st->dev;
    t->file_ino = st->ino;
    *husk = fresh;
    return SAME_TABLE_MOVED;
}

static int follow_index_file(vmdb_table *t, const char *path, const vmdb__os_stat *st,
                             vmdb_table **husk)
{
    vmdb__index *ix;
    int rc = vmdb__index_open(path, t->readonly ? VMDB__INDEX_READONLY : 0, 0, &ix);
    if (rc < 0)
        return rc;
    if (!*husk) {
        /* Only the index changed: a husk of its own keeps the old one. */
        *husk = calloc(1, sizeof **husk);
        if (!*husk || vmdb__table_retire(t, *husk) < 0) {
            free(*husk);
            *husk = NULL;
            vmdb__index_close(ix);
            return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
        }
    }
    vmdb__table_install_index(t, *husk, ix);
    t->index_dev = st->dev;
    t->index_ino = st->ino;
    return 0;
}

static int follow_table(vmdb_table *t)
{
    char *index_path = index_path_of(t);
    if (!index_path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", t->path);
    vmdb__os_stat st;
    vmdb_table *husk = NULL;
    int rc = 0;
    int named = vmdb__os_stat_path(t->path, &st);
    if (named == 0 && (st.dev != t->file_dev || st.ino != t->file_ino))
        rc = follow_table_file(t, &st, &husk);
    if (named == -ENOENT || rc == ANOTHER_TABLE) {
        /* Another handle dropped it (and maybe made another table under
         * the name, which vmdb__db_open_new_tables opens): this one
         * forgets it, keeping its files mapped for the pointers users
         * hold, until it closes. */
        free(index_path);
        return vmdb__db_forget_table(t->db, t);
    }
    if (rc == 0 && vmdb__os_stat_path(index_path, &st) == 0 &&
        (st.dev != t->index_dev || st.ino != t->index_ino))
        rc = follow_index_file(t, index_path, &st, &husk);
    free(index_path);
    return rc;
}

int vmdb__follow_locked(vmdb_db *db)
{
    uint64_t epoch = __atomic_load_n(&db->lock_page->layout_epoch, __ATOMIC_ACQUIRE);
    if (epoch == __atomic_load_n(&db->seen_layout_epoch, __ATOMIC_RELAXED))
        return 0;
    /* Backwards: a dropped table leaves the list as it is found. */
    for (size_t i = vmdb__db_table_count(db); i-- > 0;) {
        int rc = follow_table(vmdb__db_table_at(db, i));
        if (rc < 0)
            return rc;
    }
    int rc = vmdb__db_open_new_tables(db);
    if (rc < 0)
        return rc;
    __atomic_store_n(&db->seen_layout_epoch, epoch, __ATOMIC_RELAXED);
    return 0;
}

int vmdb__follow_slow(vmdb_db *db)
{
    /* A read inside this thread's own transaction: it holds the lock. In
     * a child made by fork, the handle's mutex is a copy, locked for good
     * if a thread of the parent held it then: an inherited handle follows
     * without it (so a child's threads must not share one while files are
     * replaced). */
    if (vmdb__db_held_by_me(db) || vmdb__db_inherited(db))
        return vmdb__follow_locked(db);
    /* A writer of this process may wait for this reader with `writer`
     * held; the reader followed when it took its hold, and no file can be
     * replaced while it keeps it. */
    if (vmdb__read_holding(db))
        return 0;
    vmdb__db_mutex_lock(db);
    int rc = vmdb__follow_locked(db);
    vmdb__db_mutex_unlock(db);
    return rc;
}

void vmdb__follow_publish(vmdb_db *db)
{
    uint64_t epoch = __atomic_add_fetch(&db->lock_page->layout_epoch, 1, __ATOMIC_ACQ_REL);
    __atomic_store_n(&db->seen_layout_epoch, epoch, __ATOMIC_RELAXED);
}
