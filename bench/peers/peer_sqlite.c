/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/peer_sqlite.c - SQLite as its users run it for speed: WAL
 * mode, synchronous OFF for batches that need not be durable and FULL for
 * a durable one, a table kv(k INTEGER PRIMARY KEY, v BLOB) so that the
 * key is the rowid, prepared statements reused, a batch in one BEGIN /
 * COMMIT, a 256 MiB page cache and memory-mapped reads (mmap_size).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"

struct peer {
    char path[4200];
    sqlite3 *db;
    sqlite3_stmt *put, *get, *scan, *begin, *commit;
    bool durable; /* what synchronous is set to now */
};

static int fail(peer *p, const char *what)
{
    fprintf(stderr, "sqlite: %s: %s\n", what, p->db ? sqlite3_errmsg(p->db) : "out of memory");
    return -1;
}

static const char *sqlite_config(void)
{
    static char line[200];
    snprintf(line, sizeof line,
             "SQLite %s, journal_mode=WAL, synchronous=OFF (durable: FULL), INTEGER PRIMARY KEY, "
             "prepared statements, a connection per thread, BEGIN IMMEDIATE, cache_size 256 MiB, mmap_size 4 GiB",
             sqlite3_libversion());
    return line;
}

static int exec(peer *p, const char *sql)
{
    return sqlite3_exec(p->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(p, sql);
}

static int prepare(peer *p, const char *sql, sqlite3_stmt **out)
{
    return sqlite3_prepare_v2(p->db, sql, -1, out, NULL) == SQLITE_OK ? 0 : fail(p, sql);
}

/* One connection with its settings and statements: the store's own, or
 * another thread's (a connection is not shared between threads). */
static int connect(peer *p, bool create)
{
    if (sqlite3_open(p->path, &p->db) != SQLITE_OK)
        return fail(p, p->path);
    sqlite3_busy_timeout(p->db, 60000);
    if ((create && exec(p, "PRAGMA journal_mode=WAL")) || exec(p, "PRAGMA synchronous=OFF") ||
        exec(p, "PRAGMA cache_size=-262144") || exec(p, "PRAGMA mmap_size=4294967296") ||
        (create && exec(p, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v BLOB NOT NULL)")) ||
        prepare(p, "INSERT OR REPLACE INTO kv(k, v) VALUES(?, ?)", &p->put) ||
        prepare(p, "SELECT v FROM kv WHERE k = ?", &p->get) ||
        prepare(p, "SELECT k, v FROM kv", &p->scan) ||
        /* IMMEDIATE: a writer waits for the lock at BEGIN, rather than
         * failing with SQLITE_BUSY when it first writes. */
        prepare(p, "BEGIN IMMEDIATE", &p->begin) || prepare(p, "COMMIT", &p->commit))
        return -1;
    return 0;
}

static int sqlite_open(const char *dir, uint64_t n, peer **out)
{
    (void)n;
    peer *p = calloc(1, sizeof *p);
    snprintf(p->path, sizeof p->path, "%s/kv.sqlite", dir);
    if (connect(p, true) < 0)
        return -1;
    *out = p;
    return 0;
}

static int sqlite_attach(peer *p, peer **out)
{
    peer *t = calloc(1, sizeof *t);
    memcpy(t->path, p->path, sizeof t->path);
    if (connect(t, false) < 0)
        return -1;
    *out = t;
    return 0;
}

static int sqlite_close(peer *p)
{
    sqlite3_stmt *all[] = {p->put, p->get, p->scan, p->begin, p->commit};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        sqlite3_finalize(all[i]);
    int rc = sqlite3_close(p->db) == SQLITE_OK ? 0 : fail(p, "close");
    free(p);
    return rc;
}

static void sqlite_detach(peer *t)
{
    sqlite_close(t);
}

static int step_done(peer *p, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : fail(p, what);
}

static int sqlite_begin(peer *p, bool durable, bool in_order)
{
    (void)in_order;
    if (durable != p->durable) {
        if (exec(p, durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF"))
            return -1;
        p->durable = durable;
    }
    return step_done(p, p->begin, "BEGIN");
}

static int sqlite_put(peer *p, uint64_t key, const void *value)
{
    sqlite3_bind_int64(p->put, 1, (sqlite3_int64)key);
    sqlite3_bind_blob(p->put, 2, value, PEER_VALUE_BYTES, SQLITE_STATIC);
    return step_done(p, p->put, "INSERT");
}

static int sqlite_commit(peer *p)
{
    return step_done(p, p->commit, "COMMIT");
}

static int sqlite_get(peer *p, uint64_t key, void *value)
{
    sqlite3_bind_int64(p->get, 1, (sqlite3_int64)key);
    int rc = sqlite3_step(p->get);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(p->get, 0) != PEER_VALUE_BYTES) {
        sqlite3_reset(p->get);
        fprintf(stderr, "sqlite: key %llu: a value of %d bytes\n", (unsigned long long)key,
                sqlite3_column_bytes(p->get, 0));
        return -1;
    }
    if (rc == SQLITE_ROW)
        memcpy(value, sqlite3_column_blob(p->get, 0), PEER_VALUE_BYTES);
    sqlite3_reset(p->get);
    if (rc == SQLITE_DONE)
        return 1;
    return rc == SQLITE_ROW ? 0 : fail(p, "SELECT");
}

static int sqlite_scan(peer *p, peer_scan_fn fn, void *ctx)
{
    int rc;
    while ((rc = sqlite3_step(p->scan)) == SQLITE_ROW) {
        uint64_t key = (uint64_t)sqlite3_column_int64(p->scan, 0);
        if (fn(ctx, key, sqlite3_column_blob(p->scan, 1)))
            break;
    }
    sqlite3_reset(p->scan);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(p, "scan");
}

/* The WAL written back into the database file and truncated. */
static int sqlite_settle(peer *p)
{
    return exec(p, "PRAGMA wal_checkpoint(TRUNCATE)");
}

const peer_ops peer_sqlite = {.name = "sqlite",
                              .config = sqlite_config,
                              .open = sqlite_open,
                              .close = sqlite_close,
                              .begin = sqlite_begin,
                              .put = sqlite_put,
                              .commit = sqlite_commit,
                              .get = sqlite_get,
                              .attach = sqlite_attach,
                              .detach = sqlite_detach,
                              .scan = sqlite_scan,
                              .settle = sqlite_settle};
