/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/peer_rocksdb.c - RocksDB as its users run it for speed:
 * the WAL on, sync false (true for a durable batch), a write batch per
 * batch, big-endian keys so that byte order is key order, level-style
 * compaction tuned by optimize_level_style_compaction, parallelism for
 * the machine's CPUs, LZ4, a 256 MiB block cache, pinned (zero-copy)
 * gets.
 */
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peer.h"

struct peer {
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_block_based_table_options_t *table_options;
    rocksdb_cache_t *cache;
    rocksdb_writeoptions_t *write_options;
    rocksdb_readoptions_t *read_options;
    rocksdb_writebatch_t *batch;
};

static int rocksdb_peer_attach(peer *p, peer **out)
{
    peer *t = calloc(1, sizeof *t);
    *t = (peer){.db = p->db, .read_options = p->read_options};
    t->write_options = rocksdb_writeoptions_create();
    t->batch = rocksdb_writebatch_create();
    *out = t;
    return 0;
}

static void rocksdb_peer_detach(peer *t)
{
    rocksdb_writebatch_destroy(t->batch);
    rocksdb_writeoptions_destroy(t->write_options);
    free(t);
}

static int fail(const char *what, char *err)
{
    fprintf(stderr, "rocksdb: %s: %s\n", what, err ? err : "failed");
    free(err);
    return -1;
}

static const char *rocksdb_config(void)
{
    static char line[240];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(line, sizeof line,
             "RocksDB (Debian librocksdb 7.8), WAL on, sync=false (durable: sync=true), write "
             "batches, optimize_level_style_compaction(512 MiB), increase_parallelism(%ld), LZ4, 256 MiB "
             "block cache, pinned gets",
             cpus);
    return line;
}

static void big_endian(uint64_t key, char out[8])
{
    for (int i = 7; i >= 0; i--, key >>= 8)
        out[i] = (char)(key & 0xff);
}

static int rocksdb_peer_open(const char *dir, uint64_t n, peer **out)
{
    (void)n;
    peer *p = calloc(1, sizeof *p);
    p->options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(p->options, 1);
    rocksdb_options_increase_parallelism(p->options, (int)sysconf(_SC_NPROCESSORS_ONLN));
    rocksdb_options_optimize_level_style_compaction(p->options, (uint64_t)512 << 20);
    rocksdb_options_set_compression(p->options, rocksdb_lz4_compression);
    p->cache = rocksdb_cache_create_lru((size_t)256 << 20);
    p->table_options = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(p->table_options, p->cache);
    rocksdb_options_set_block_based_table_factory(p->options, p->table_options);
    char *err = NULL;
    p->db = rocksdb_open(p->options, dir, &err);
    if (err)
        return fail("open", err);
    p->write_options = rocksdb_writeoptions_create();
    p->read_options = rocksdb_readoptions_create();
    p->batch = rocksdb_writebatch_create();
    *out = p;
    return 0;
}

static int rocksdb_peer_close(peer *p)
{
    rocksdb_writebatch_destroy(p->batch);
    rocksdb_readoptions_destroy(p->read_options);
    rocksdb_writeoptions_destroy(p->write_options);
    rocksdb_close(p->db);
    rocksdb_options_destroy(p->options);
    rocksdb_block_based_options_destroy(p->table_options);
    rocksdb_cache_destroy(p->cache);
    free(p);
    return 0;
}

static int rocksdb_peer_begin(peer *p, bool durable, bool in_order)
{
    (void)in_order;
    rocksdb_writeoptions_set_sync(p->write_options, durable);
    rocksdb_writebatch_clear(p->batch);
    return 0;
}

static int rocksdb_peer_put(peer *p, uint64_t key, const void *value)
{
    char k[8];
    big_endian(key, k);
    rocksdb_writebatch_put(p->batch, k, 8, value, PEER_VALUE_BYTES);
    return 0;
}

static int rocksdb_peer_commit(peer *p)
{
    char *err = NULL;
    rocksdb_write(p->db, p->write_options, p->batch, &err);
    return err ? fail("write", err) : 0;
}

static int rocksdb_peer_get(peer *p, uint64_t key, void *value)
{
    char k[8], *err = NULL;
    big_endian(key, k);
    rocksdb_pinnableslice_t *v = rocksdb_get_pinned(p->db, p->read_options, k, 8, &err);
    if (err)
        return fail("get", err);
    if (!v)
        return 1;
    size_t len;
    const char *data = rocksdb_pinnableslice_value(v, &len);
    int rc = 0;
    if (len == PEER_VALUE_BYTES)
        memcpy(value, data, len);
    else
        rc = fail("get: a value of another size", NULL);
    rocksdb_pinnableslice_destroy(v);
    return rc;
}

static int rocksdb_peer_scan(peer *p, peer_scan_fn fn, void *ctx)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(p->db, p->read_options);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const unsigned char *k = (const unsigned char *)rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        uint64_t key = 0;
        for (size_t i = 0; i < 8 && i < klen; i++)
            key = key << 8 | k[i];
        if (fn(ctx, key, v))
            break;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    return err ? fail("scan", err) : 0;
}

/* The memtable flushed to an SST file, and the WAL synced. */
static int rocksdb_peer_settle(peer *p)
{
    char *err = NULL;
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    rocksdb_flush(p->db, fo, &err);
    rocksdb_flushoptions_destroy(fo);
    if (!err)
        rocksdb_flush_wal(p->db, 1, &err);
    if (err) {
        fprintf(stderr, "rocksdb: flush: %s\n", err);
        free(err);
        return -1;
    }
    return 0;
}

const peer_ops peer_rocksdb = {.name = "rocksdb",
                               .config = rocksdb_config,
                               .open = rocksdb_peer_open,
                               .close = rocksdb_peer_close,
                               .begin = rocksdb_peer_begin,
                               .put = rocksdb_peer_put,
                               .commit = rocksdb_peer_commit,
                               .get = rocksdb_peer_get,
                               .attach = rocksdb_peer_attach,
                               .detach = rocksdb_peer_detach,
                               .scan = rocksdb_peer_scan,
                               .settle = rocksdb_peer_settle};
