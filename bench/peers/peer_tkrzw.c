/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/peer_tkrzw.c - Tkrzw's HashDBM as its users run it for
 * speed: buckets sized for the keys up front, no transactions (a batch is
 * its puts; a durable batch ends with a hard synchronize, the only
 * durability HashDBM offers), gets and scans through the zero-copy record
 * processor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tkrzw_langc.h>

#include "peer.h"

struct peer {
    TkrzwDBM *dbm;
    bool durable;
};

static int tkrzw_peer_attach(peer *p, peer **out)
{
    peer *t = calloc(1, sizeof *t);
    t->dbm = p->dbm;
    *out = t;
    return 0;
}

static void tkrzw_peer_detach(peer *t)
{
    free(t);
}

static int fail(const char *what)
{
    fprintf(stderr, "tkrzw: %s: %s\n", what, tkrzw_get_last_status_message());
    return -1;
}

static const char *tkrzw_config(void)
{
    static char line[200];
    snprintf(line, sizeof line,
             "Tkrzw %s HashDBM, num_buckets = 2 x keys, no transactions (durable: "
             "synchronize(hard) after the batch), zero-copy process/process_each",
             TKRZW_PACKAGE_VERSION);
    return line;
}

static int tkrzw_peer_open(const char *dir, uint64_t n, peer **out)
{
    peer *p = calloc(1, sizeof *p);
    char path[4096], params[128];
    snprintf(path, sizeof path, "%s/kv.tkh", dir);
    snprintf(params, sizeof params, "dbm=HashDBM,truncate=true,num_buckets=%llu",
             (unsigned long long)(n * 2));
    p->dbm = tkrzw_dbm_open(path, true, params);
    if (!p->dbm)
        return fail(path);
    *out = p;
    return 0;
}

static int tkrzw_peer_close(peer *p)
{
    int rc = tkrzw_dbm_close(p->dbm) ? 0 : fail("close");
    free(p);
    return rc;
}

static int tkrzw_peer_begin(peer *p, bool durable, bool in_order)
{
    (void)in_order;
    p->durable = durable;
    return 0;
}

static int tkrzw_peer_put(peer *p, uint64_t key, const void *value)
{
    return tkrzw_dbm_set(p->dbm, (const char *)&key, 8, value, PEER_VALUE_BYTES, true)
               ? 0
               : fail("set");
}

static int tkrzw_peer_commit(peer *p)
{
    if (p->durable && !tkrzw_dbm_synchronize(p->dbm, true, NULL, NULL, ""))
        return fail("synchronize");
    return 0;
}

struct get_ctx {
    void *value;
    int found;
};

static const char *copy_value(void *arg, const char *key, int32_t ksize, const char *value,
                              int32_t vsize, int32_t *new_size)
{
    (void)key, (void)ksize, (void)new_size;
    struct get_ctx *g = arg;
    if (value && vsize == PEER_VALUE_BYTES) {
        memcpy(g->value, value, PEER_VALUE_BYTES);
        g->found = 1;
    } else if (value) {
        g->found = -1;
    }
    return TKRZW_REC_PROC_NOOP;
}

static int tkrzw_peer_get(peer *p, uint64_t key, void *value)
{
    struct get_ctx g = {value, 0};
    if (!tkrzw_dbm_process(p->dbm, (const char *)&key, 8, copy_value, &g, false))
        return fail("get");
    if (g.found < 0) {
        fprintf(stderr, "tkrzw: key %llu: a value of another size\n", (unsigned long long)key);
        return -1;
    }
    return g.found ? 0 : 1;
}

struct scan_ctx {
    peer_scan_fn fn;
    void *ctx;
    bool stopped;
};

static const char *visit(void *arg, const char *key, int32_t ksize, const char *value,
                         int32_t vsize, int32_t *new_size)
{
    (void)new_size, (void)vsize;
    struct scan_ctx *s = arg;
    if (!key || ksize != 8 || s->stopped) /* called once more at the end, with NULL */
        return TKRZW_REC_PROC_NOOP;
    uint64_t k;
    memcpy(&k, key, 8);
    s->stopped = s->fn(s->ctx, k, value) != 0;
    return TKRZW_REC_PROC_NOOP;
}

static int tkrzw_peer_scan(peer *p, peer_scan_fn fn, void *ctx)
{
    struct scan_ctx s = {fn, ctx, false};
    return tkrzw_dbm_process_each(p->dbm, visit, &s, false) ? 0 : fail("scan");
}

/* A hard synchronize: the file written and fsynced. */
static int tkrzw_peer_settle(peer *p)
{
    return tkrzw_dbm_synchronize(p->dbm, true, NULL, NULL, "") ? 0 : fail("synchronize");
}

const peer_ops peer_tkrzw = {.name = "tkrzw",
                             .config = tkrzw_config,
                             .open = tkrzw_peer_open,
                             .close = tkrzw_peer_close,
                             .begin = tkrzw_peer_begin,
                             .put = tkrzw_peer_put,
                             .commit = tkrzw_peer_commit,
                             .get = tkrzw_peer_get,
                             .attach = tkrzw_peer_attach,
                             .detach = tkrzw_peer_detach,
                             .scan = tkrzw_peer_scan,
                             .settle = tkrzw_peer_settle};
