/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/peer_lmdb.c - LMDB as its users run it for speed: integer
 * keys (MDB_INTEGERKEY), a map of 8 GiB, MDB_NOSYNC for the batches that
 * need not be durable (switched off for a durable one), MDB_APPEND for
 * keys in order, one read transaction kept open and renewed per read
 * (mdb_txn_reset / mdb_txn_renew), zero-copy reads. The writemap variant
 * adds MDB_WRITEMAP, which LMDB documents as faster for writes.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"

struct peer {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *write, *read;
    bool in_order;
    unsigned flags;
};

static int lmdb_attach(peer *p, peer **out)
{
    peer *t = calloc(1, sizeof *t);
    *t = (peer){.env = p->env, .dbi = p->dbi, .flags = p->flags};
    *out = t;
    return 0;
}

static void lmdb_detach(peer *t)
{
    if (t->read)
        mdb_txn_abort(t->read);
    free(t);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "lmdb: %s: %s\n", what, mdb_strerror(rc));
    return -1;
}

static const char *config(bool writemap)
{
    static char line[2][200];
    int major, minor, patch;
    mdb_version(&major, &minor, &patch);
    snprintf(line[writemap], sizeof line[writemap],
             "LMDB %d.%d.%d, MDB_INTEGERKEY, mapsize 8 GiB, MDB_NOSYNC unless durable%s, "
             "MDB_APPEND for keys in order, renewed read txn, zero-copy get",
             major, minor, patch, writemap ? ", MDB_WRITEMAP" : "");
    return line[writemap];
}
static const char *lmdb_config(void) { return config(false); }
static const char *lmdb_wm_config(void) { return config(true); }

static int open_env(const char *dir, unsigned extra, peer **out)
{
    peer *p = calloc(1, sizeof *p);
    int rc = mdb_env_create(&p->env);
    if (!rc)
        rc = mdb_env_set_mapsize(p->env, (size_t)8 << 30);
    p->flags = MDB_NOSYNC | MDB_NOTLS | extra;
    if (!rc)
        rc = mdb_env_open(p->env, dir, p->flags, 0644);
    MDB_txn *txn = NULL;
    if (!rc)
        rc = mdb_txn_begin(p->env, NULL, 0, &txn);
    if (!rc)
        rc = mdb_dbi_open(txn, NULL, MDB_INTEGERKEY, &p->dbi);
    if (!rc)
        rc = mdb_txn_commit(txn);
    if (rc)
        return fail("open", rc);
    *out = p;
    return 0;
}

static int lmdb_open(const char *dir, uint64_t n, peer **out)
{
    (void)n;
    return open_env(dir, 0, out);
}

static int lmdb_wm_open(const char *dir, uint64_t n, peer **out)
{
    (void)n;
    return open_env(dir, MDB_WRITEMAP, out);
}

static int lmdb_close(peer *p)
{
    if (p->read)
        mdb_txn_abort(p->read);
    int rc = mdb_env_sync(p->env, 1);
    mdb_env_close(p->env);
    free(p);
    return rc ? fail("sync at close", rc) : 0;
}

static int lmdb_begin(peer *p, bool durable, bool in_order)
{
    int rc = mdb_env_set_flags(p->env, MDB_NOSYNC, durable ? 0 : 1);
    if (!rc)
        rc = mdb_txn_begin(p->env, NULL, 0, &p->write);
    p->in_order = in_order;
    return rc ? fail("begin", rc) : 0;
}

static int lmdb_put(peer *p, uint64_t key, const void *value)
{
    MDB_val k = {sizeof key, &key}, v = {PEER_VALUE_BYTES, (void *)value};
    int rc = mdb_put(p->write, p->dbi, &k, &v, p->in_order ? MDB_APPEND : 0);
    return rc ? fail("put", rc) : 0;
}

static int lmdb_commit(peer *p)
{
    int rc = mdb_txn_commit(p->write);
    p->write = NULL;
    return rc ? fail("commit", rc) : 0;
}

static int read_txn(peer *p)
{
    int rc = p->read ? mdb_txn_renew(p->read) : mdb_txn_begin(p->env, NULL, MDB_RDONLY, &p->read);
    return rc ? fail("read txn", rc) : 0;
}

static int lmdb_get(peer *p, uint64_t key, void *value)
{
    if (read_txn(p))
        return -1;
    MDB_val k = {sizeof key, &key}, v;
    int rc = mdb_get(p->read, p->dbi, &k, &v);
    if (rc == 0)
        memcpy(value, v.mv_data, PEER_VALUE_BYTES);
    mdb_txn_reset(p->read);
    if (rc == MDB_NOTFOUND)
        return 1;
    return rc ? fail("get", rc) : 0;
}

static int lmdb_scan(peer *p, peer_scan_fn fn, void *ctx)
{
    if (read_txn(p))
        return -1;
    MDB_cursor *c = NULL;
    int rc = mdb_cursor_open(p->read, p->dbi, &c);
    MDB_val k, v;
    for (int op = MDB_FIRST; !rc && !(rc = mdb_cursor_get(c, &k, &v, op)); op = MDB_NEXT) {
        uint64_t key;
        memcpy(&key, k.mv_data, 8);
        if (fn(ctx, key, v.mv_data))
            break;
    }
    if (c)
        mdb_cursor_close(c);
    mdb_txn_reset(p->read);
    return rc && rc != MDB_NOTFOUND ? fail("scan", rc) : 0;
}

/* MDB_NOSYNC's commits flushed: mdb_env_sync with force. */
static int lmdb_settle(peer *p)
{
    int rc = mdb_env_sync(p->env, 1);
    if (rc) {
        fprintf(stderr, "lmdb: env_sync: %s\n", mdb_strerror(rc));
        return -1;
    }
    return 0;
}

const peer_ops peer_lmdb = {.name = "lmdb",
                            .config = lmdb_config,
                            .open = lmdb_open,
                            .close = lmdb_close,
                            .begin = lmdb_begin,
                            .put = lmdb_put,
                            .commit = lmdb_commit,
                            .get = lmdb_get,
                            .attach = lmdb_attach,
                            .detach = lmdb_detach,
                            .scan = lmdb_scan,
                            .settle = lmdb_settle};
const peer_ops peer_lmdb_writemap = {.name = "lmdb-writemap",
                                     .config = lmdb_wm_config,
                                     .open = lmdb_wm_open,
                                     .close = lmdb_close,
                                     .begin = lmdb_begin,
                                     .put = lmdb_put,
                                     .commit = lmdb_commit,
                                     .get = lmdb_get,
                                     .attach = lmdb_attach,
                                     .detach = lmdb_detach,
                                     .scan = lmdb_scan,
                                     .settle = lmdb_settle};
