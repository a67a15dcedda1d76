/* SPDX-License-Identifier: MIT */
/*
 * engine/db/catalog.c - the tables a handle has open: finding them by
 * name and by the id log records carry, opening the table files of the
 * directory with their indexes (rebuilt when they do not match), and
 * forgetting a table another handle dropped.
 */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "internal.h"
#include "os.h"

/* The tables a handle has open, catalog.c's own: others go through
 * vmdb__db_table_count and vmdb__db_table_at. */
struct vmdb__catalog {
    /* The list changes only with the writer mutex held (create, drop,
     * following other handles), and its writer-side readers hold that
     * mutex too; `lock` is for the readers that do not (vmdb_table_open,
     * vmdb_table_foreach, check, stat), against a change that moves the
     * array. */
    pthread_mutex_t lock;
    vmdb_table **tables;   /* sorted by name */
    size_t count;          /* atomic: stat reads it without the lock */
    vmdb_table **dropped;  /* dropped, here or by other handles: kept for
                              the pointers users hold, until close */
    size_t dropped_count;
    size_t dropped_room;   /* slots of `dropped` allocated */
};

int vmdb__db_catalog_open(vmdb_db *db)
{
    db->catalog = calloc(1, sizeof *db->catalog);
    if (!db->catalog)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    pthread_mutex_init(&db->catalog->lock, NULL);
    return 0;
}

void vmdb__db_catalog_close(vmdb_db *db)
{
    struct vmdb__catalog *c = db->catalog;
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++)
        vmdb__table_close(c->tables[i]);
    for (size_t i = 0; i < c->dropped_count; i++)
        vmdb__table_close(c->dropped[i]);
    free(c->dropped);
    free(c->tables);
    pthread_mutex_destroy(&c->lock);
    free(c);
    db->catalog = NULL;
}

size_t vmdb__db_table_count(const vmdb_db *db)
{
    return __atomic_load_n(&db->catalog->count, __ATOMIC_RELAXED);
}

/* A table enters the list before its index is open (a create, a table
 * another handle made): readers without the writer mutex find it there
 * and must not use it until the index is in place, which they learn by
 * loading it with acquire (vmdb__table_index) and finding it set. */
static void publish_index(vmdb_table *t, vmdb__index *ix)
{
    __atomic_store_n(&t->index, ix, __ATOMIC_RELEASE);
}

static bool ready(const vmdb_table *t)
{
    return vmdb__table_index(t) != NULL;
}

int vmdb__db_tables_snapshot(vmdb_db *db, vmdb_table ***out, size_t *count)
{
    struct vmdb__catalog *c = db->catalog;
    pthread_mutex_lock(&c->lock);
    size_t n = 0;
    vmdb_table **copy = malloc((c->count ? c->count : 1) * sizeof *copy);
    for (size_t i = 0; copy && i < c->count; i++)
        if (ready(c->tables[i]))
            copy[n++] = c->tables[i];
    pthread_mutex_unlock(&c->lock);
    if (!copy)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    *out = copy;
    *count = n;
    return 0;
}

vmdb_table *vmdb__db_table_at(const vmdb_db *db, size_t i)
{
    return db->catalog->tables[i];
}

int vmdb__db_make_room_to_forget(vmdb_db *db)
{
    struct vmdb__catalog *c = db->catalog;
    if (c->dropped_count < c->dropped_room)
        return 0;
    vmdb_table **grown = realloc(c->dropped, (c->dropped_room + 1) * sizeof *grown);
    if (!grown)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    c->dropped = grown;
    c->dropped_room++;
    return 0;
}

/* ---- small helpers ------------------------------------------------------ */

vmdb_table *vmdb__db_table_by_id(vmdb_db *db, uint16_t id)
{
    struct vmdb__catalog *c = db->catalog;
    vmdb_table *found = NULL;
    /* vmdb_check and the log's listing look tables up without the writer
     * mutex, as vmdb_table_open does. */
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->count && !found; i++)
        if (c->tables[i]->id == id)
            found = c->tables[i];
    pthread_mutex_unlock(&c->lock);
    return found;
}

vmdb_table *vmdb__db_table_by_name(vmdb_db *db, const char *name)
{
    struct vmdb__catalog *c = db->catalog;
    vmdb_table *found = NULL;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->count && !found; i++)
        if (!strcmp(c->tables[i]->name, name))
            found = c->tables[i];
    pthread_mutex_unlock(&c->lock);
    return found;
}

/* ---- tables and indexes ------------------------------------------------- */

static int index_match(void *ctx, uint64_t rid, const void *key, size_t len)
{
    return vmdb__table_key_equals(ctx, rid, key, len);
}

int vmdb__db_index_rebuild(vmdb_table *t)
{
    /* The index is rebuilt from the slots alone: a record whose live flag
     * was cleared, or a zeroed page, would silently drop out of it. A
     * table that fails its checks keeps the index it has. So does one
     * where two live slots hold the same key (a log that put a record
     * onto another's key, replayed): an index holds one of them, and the
     * other would be found by scans, never by its key. */
    vmdb__table_tally tally;
    int rc = vmdb__table_verify_tally(t, NULL, NULL, &tally);
    if (rc < 0) {
        char why[sizeof vmdb_last_error()->message];
        snprintf(why, sizeof why, "%s", vmdb_last_error()->message);
        return vmdb__fail(rc, "%s; its index is not rebuilt from it", why);
    }
    /* Room for the records the slots hold, not the writer's count: that
     * may come from a header's summary, which a crafted file can make
     * anything, and a reservation that fails after the clear would leave
     * the index empty. */
    rc = vmdb__index_clear(t->index);
    if (rc == 0)
        rc = vmdb__index_reserve(t->index, tally.live);
    /* Slots are read in order but their keys land all over the index:
     * each record's home entry is prefetched REBUILD_AHEAD records before
     * it is inserted, so that the cache misses overlap. */
    enum { REBUILD_AHEAD = 16 };
    struct {
        uint64_t rid, hash;
    } ahead[REBUILD_AHEAD];
    size_t queued = 0, next = 0;
    for (uint64_t rid = 0; rc == 0 && (rid < t->capacity || queued > 0); rid++) {
        if (rid < t->capacity) {
            const vmdb__slot *s = vmdb__table_slot(t, rid);
            if (!vmdb__slot_live(s))
                continue;
            const void *key;
            size_t len;
            vmdb__table_key(t, s + 1, &key, &len);
            uint64_t hash = vmdb__index_hash(key, len);
            vmdb__index_prefetch(t->index, hash);
            size_t at = (next + queued) % REBUILD_AHEAD;
            ahead[at].rid = rid;
            ahead[at].hash = hash;
            if (++queued < REBUILD_AHEAD)
                continue;
        }
        uint64_t due = ahead[next].rid, hash = ahead[next].hash, other;
        next = (next + 1) % REBUILD_AHEAD;
        queued--;
        const void *key;
        size_t len;
        vmdb__table_key(t, vmdb__table_slot(t, due) + 1, &key, &len);
        rc = vmdb__index_insert_key(t->index, hash, key, len, index_match, t, due, &other);
        if (rc == VMDB_EEXIST)
            rc = vmdb__fail(VMDB_ECORRUPT,
                            "%s: records %llu and %llu hold the same key; its index is not "
                            "rebuilt from it",
                            t->path, (unsigned long long)other, (unsigned long long)due);
    }
    return rc;
}

/* An index rebuilt while readers may be reading it: it lacks keys until
 * the rebuild ends, which a read transaction must not end on. */
int vmdb__db_index_rebuild_seen(vmdb_table *t)
{
    vmdb__db_changing(t->db, true);
    int rc = vmdb__db_index_rebuild(t);
    if (rc == 0)
        vmdb__db_changing(t->db, false);
    return rc;
}

/* Opens the index of table t, creating and rebuilding it when it is
 * missing or cannot be trusted (a writer only). */
int vmdb__db_open_index(vmdb_db *db, vmdb_table *t, bool *rebuilt)
{
    char *path = vmdb__path_join(db->path, t->name, ".vmi");
    if (!path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    unsigned flags = db->readonly ? VMDB__INDEX_READONLY : 0;
    vmdb__os_stat file;
    int named = vmdb__os_stat_path(path, &file); /* before mapping: follow.c */
    vmdb__index *ix;
    int rc = vmdb__index_open(path, flags, 0, &ix);
    if (rc == 0)
        publish_index(t, ix);
    if (rc == 0 && named == 0) {
        t->index_dev = file.dev;
        t->index_ino = file.ino;
    }
    if (rc == 0 && !db->readonly && vmdb__index_interrupted(t->index)) {
        /* A writer died in the middle of changing it. */
        rc = vmdb__db_index_rebuild(t);
        if (rc == 0 && rebuilt)
            *rebuilt = true;
        free(path);
        return rc;
    }
    if (rc < 0 && !db->readonly) {
        /* An index is derived data: a damaged or missing one is rebuilt. */
        vmdb__os_unlink(path);
        rc = vmdb__index_open(path, VMDB__INDEX_CREATE, t->live_count, &ix);
        if (rc == 0)
            publish_index(t, ix);
        if (rc == 0)
            rc = vmdb__db_note_files(t, NULL, path);
        if (rc == 0)
            rc = vmdb__db_index_rebuild(t);
        if (rc == 0 && rebuilt)
            *rebuilt = true;
    }
    free(path);
    return rc;
}

/* The index of a table just created, whose slots are all free: made
 * empty, with room for `capacity` keys, and never rebuilt, since a
 * rebuild reads every slot and for a large capacity would fault in every
 * page of the table file only to find nothing. A file left by a create
 * that crashed goes first. */
int vmdb__db_create_index(vmdb_db *db, vmdb_table *t, uint64_t capacity)
{
    char *path = vmdb__path_join(db->path, t->name, ".vmi");
    if (!path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    vmdb__os_unlink(path);
    vmdb__index *ix;
    int rc = vmdb__index_open(path, VMDB__INDEX_CREATE, capacity, &ix);
    if (rc == 0) {
        publish_index(t, ix);
        rc = vmdb__db_note_files(t, NULL, path);
    }
    free(path);
    return rc;
}

static int add_table(vmdb_db *db, vmdb_table *t)
{
    struct vmdb__catalog *c = db->catalog;
    pthread_mutex_lock(&c->lock);
    vmdb_table **grown = realloc(c->tables, (c->count + 1) * sizeof *grown);
    if (!grown) {
        pthread_mutex_unlock(&c->lock);
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    }
    c->tables = grown;
    size_t at = c->count;
    while (at > 0 && strcmp(c->tables[at - 1]->name, t->name) > 0) {
        c->tables[at] = c->tables[at - 1];
        at--;
    }
    c->tables[at] = t;
    __atomic_store_n(&c->count, c->count + 1, __ATOMIC_RELAXED);
    t->db = db;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* A table file of an older version (32-byte slot headers) is rewritten
 * by the writer that opens it, holding the lock (engine/store/
 * table_upgrade.c). Anyone else cannot read it and is told the remedy:
 * VMDB_ENEEDRECOVERY, as for a log a writer must replay, so the command's
 * readers open for writing once and then read. */
static int upgrade_table(vmdb_db *db, vmdb_table **t)
{
    if (db->readonly || !vmdb__db_file_lock_held(db)) {
        int rc = vmdb__fail(VMDB_ENEEDRECOVERY,
                            "%s: table of an older format (32-byte slot headers): open the "
                            "database for writing once to upgrade it",
                            (*t)->path);
        vmdb__table_close(*t);
        *t = NULL;
        return rc;
    }
    int rc = vmdb__table_upgrade(t);
    if (rc < 0) {
        vmdb__table_close(*t);
        *t = NULL;
        return rc;
    }
    db->tables_upgraded = true;
    return 0;
}

int vmdb__db_open_table_file(vmdb_db *db, const char *file)
{
    char *path = vmdb__path_join(db->path, file, "");
    if (!path)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", db->path);
    vmdb_table *t;
    vmdb__os_stat st;
    int named = vmdb__os_stat_path(path, &st); /* before mapping: follow.c */
    int rc = vmdb__table_open(path, db->readonly, db->verify, &t);
    if (rc == 0 && vmdb__table_needs_upgrade(t)) {
        rc = upgrade_table(db, &t);
        if (rc == 0)
            named = vmdb__os_stat_path(path, &st); /* the new file's */
    }
    free(path);
    if (rc < 0)
        return rc;
    if (named == 0) {
        t->file_dev = st.dev;
        t->file_ino = st.ino;
    }
    /* File names are built from the header's name (the index, a
     * compaction's copies): it must be the name this file goes by. */
    size_t file_len = strlen(file) - 4; /* without ".vmt" */
    if (strlen(t->name) != file_len || memcmp(t->name, file, file_len) != 0) {
        rc = vmdb__fail(VMDB_ECORRUPT, "%s: its header names table '%s', not '%.*s'", t->path,
                        t->name, (int)file_len, file);
        vmdb__table_close(t);
        return rc;
    }
    if (vmdb__db_table_by_name(db, t->name) || vmdb__db_table_by_id(db, t->id)) {
        rc = vmdb__fail(VMDB_ECORRUPT, "%s: table '%s' (id %u) is there twice", t->path,
                        t->name, t->id);
        vmdb__table_close(t);
        return rc;
    }
    rc = add_table(db, t);
    if (rc < 0)
        vmdb__table_close(t);
    return rc;
}

struct table_listing {
    vmdb_db *db;
    int rc; /* the first failure, a VMDB_E* code */
    bool new_only; /* skip the tables already open */
};

/* The directory walk's callback: its return value shares a channel with
 * errno values, so a failure is kept in the listing and signalled by 1. */
static int open_if_table(void *ctx, const char *name)
{
    struct table_listing *l = ctx;
    size_t n = strlen(name);
    if (n < 5 || strcmp(name + n - 4, ".vmt") != 0)
        return 0;
    if (l->new_only) {
        char table[VMDB__TABLE_NAME_MAX + 1];
        if (n - 4 > VMDB__TABLE_NAME_MAX)
            return 0;
        memcpy(table, name, n - 4);
        table[n - 4] = '\0';
        if (vmdb__db_table_by_name(l->db, table))
            return 0;
    }
    if (!vmdb__db_file_lock_held(l->db)) {
        /* Without the lock this may be a table another process is
         * creating: its index comes next, then the layout epoch that makes
         * every handle look again. Until then it is not there. */
        char *index_path = vmdb__path_join(l->db->path, name, "");
        if (!index_path) {
            l->rc = vmdb__fail(VMDB_ENOMEM, "%s: out of memory", l->db->path);
            return 1;
        }
        memcpy(index_path + strlen(index_path) - 4, ".vmi", 4); /* NAME.vmt -> NAME.vmi */
        vmdb__os_stat st;
        bool indexed = vmdb__os_stat_path(index_path, &st) == 0;
        free(index_path);
        if (!indexed)
            return 0;
    }
    l->rc = vmdb__db_open_table_file(l->db, name);
    return l->rc < 0;
}

int vmdb__db_open_tables(vmdb_db *db)
{
    struct table_listing listing = {.db = db};
    int list = vmdb__os_list_dir(db->path, open_if_table, &listing);
    if (list < 0)
        return vmdb__fail_os(list, "%s: cannot list the directory", db->path);
    return listing.rc;
}

int vmdb__db_open_new_tables(vmdb_db *db)
{
    struct table_listing listing = {.db = db, .new_only = true};
    size_t before = db->catalog->count;
    int list = vmdb__os_list_dir(db->path, open_if_table, &listing);
    if (list < 0)
        return vmdb__fail_os(list, "%s: cannot list the directory", db->path);
    if (listing.rc < 0)
        return listing.rc;
    /* The new ones (anywhere in the sorted list): their indexes, and a
     * writer's free-slot state. */
    for (size_t i = 0; i < db->catalog->count && db->catalog->count > before; i++) {
        vmdb_table *t = db->catalog->tables[i];
        if (t->index)
            continue;
        int rc = db->readonly ? 0 : vmdb__table_scan_state(t);
        if (rc == 0)
            rc = vmdb__db_open_index(db, t, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int vmdb__db_forget_table(vmdb_db *db, vmdb_table *t)
{
    int rc = vmdb__db_make_room_to_forget(db);
    if (rc < 0)
        return rc;
    struct vmdb__catalog *c = db->catalog;
    pthread_mutex_lock(&c->lock);
    c->dropped[c->dropped_count++] = t;
    size_t i = 0;
    while (c->tables[i] != t)
        i++;
    memmove(&c->tables[i], &c->tables[i + 1], (c->count - i - 1) * sizeof t);
    __atomic_store_n(&c->count, c->count - 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&c->lock);
    __atomic_store_n(&t->dropped, true, __ATOMIC_RELEASE);
    return 0;
}

int vmdb__db_note_files(vmdb_table *t, const char *table_path, const char *index_path)
{
    vmdb__os_stat st;
    if (table_path) {
        int rc = vmdb__os_stat_path(table_path, &st);
        if (rc < 0)
            return vmdb__fail_os(rc, "%s: cannot stat", table_path);
        t->file_dev = st.dev;
        t->file_ino = st.ino;
    }
    if (index_path) {
        int rc = vmdb__os_stat_path(index_path, &st);
        if (rc < 0)
            return vmdb__fail_os(rc, "%s: cannot stat", index_path);
        t->index_dev = st.dev;
        t->index_ino = st.ino;
    }
    return 0;
}
