/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/peer_vmdb.c - vmdb as its users would run it for speed: one
 * table "kv" of (key u64 KEY, value bytes100), default options, batches
 * in one transaction each (durability NONE, or SYNC for a durable batch),
 * reads outside transactions, scans through the zero-copy batch scan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"
#include "vmdb/db.h"
#include "vmdb/schema.h"
#include "vmdb/version.h"

#define RECORD_BYTES (8 + PEER_VALUE_BYTES)

struct peer {
    vmdb_db *db;
    vmdb_table *table;
    vmdb_txn *txn;
    size_t record_size; /* the schema rounds up */
    bool attached;      /* another thread's: the store is not its own */
    unsigned char record[256];
};

static int fail(const char *what)
{
    fprintf(stderr, "vmdb: %s: %s\n", what, vmdb_last_error()->message);
    return -1;
}

static const char *vmdb_config(void)
{
    static char line[256];
    snprintf(line, sizeof line,
             "vmdb %s, default options, table capacity = keys, batches durability NONE (durable: GROUP, which serves concurrent committers with one flush), zero-copy "
             "batch scan",
             vmdb_version_string());
    return line;
}

static int vmdb_peer_open(const char *dir, uint64_t n, peer **out)
{
    peer *p = calloc(1, sizeof *p);
    vmdb_db_options o = VMDB_DB_OPTIONS_INIT;
    o.flags = VMDB_DB_CREATE;
    if (vmdb_open(dir, &o, &p->db))
        return fail("open");
    vmdb_schema *s;
    if (vmdb_schema_parse("key:u64 key, value:bytes100", &s))
        return fail("schema");
    /* Sized for the keys up front, as Tkrzw's buckets are. */
    vmdb_table_options to = VMDB_TABLE_OPTIONS_INIT;
    to.capacity = n;
    int rc = vmdb_table_create_with(p->db, "kv", s, &to, &p->table);
    vmdb_schema_free(s);
    if (rc)
        return fail("create table");
    p->record_size = vmdb_schema_record_size(vmdb_table_schema(p->table));
    if (p->record_size > sizeof p->record || p->record_size < RECORD_BYTES)
        return fail("record size");
    *out = p;
    return 0;
}

static int vmdb_peer_attach(peer *p, peer **out)
{
    peer *t = calloc(1, sizeof *t);
    *t = (peer){.db = p->db, .table = p->table, .record_size = p->record_size, .attached = true};
    *out = t;
    return 0;
}

static void vmdb_peer_detach(peer *t)
{
    free(t);
}

static int vmdb_peer_close(peer *p)
{
    int rc = vmdb_close(p->db) ? fail("close") : 0;
    free(p);
    return rc;
}

static int vmdb_peer_begin(peer *p, bool durable, bool in_order)
{
    (void)in_order;
    if (vmdb_txn_begin(p->db, durable ? VMDB_DURABILITY_GROUP : VMDB_DURABILITY_NONE, &p->txn))
        return fail("begin");
    return 0;
}

static int vmdb_peer_put(peer *p, uint64_t key, const void *value)
{
    memcpy(p->record, &key, 8);
    memcpy(p->record + 8, value, PEER_VALUE_BYTES);
    if (vmdb_txn_put(p->txn, p->table, p->record, NULL))
        return fail("put");
    return 0;
}

static int vmdb_peer_commit(peer *p)
{
    int rc = vmdb_txn_commit(p->txn);
    p->txn = NULL;
    return rc ? fail("commit") : 0;
}

static int vmdb_peer_get(peer *p, uint64_t key, void *value)
{
    int rc = vmdb_table_get(p->table, &key, sizeof key, p->record, NULL);
    if (rc == VMDB_ENOTFOUND)
        return 1;
    if (rc)
        return fail("get");
    memcpy(value, p->record + 8, PEER_VALUE_BYTES);
    return 0;
}

static int vmdb_peer_get_many(peer *p, const uint64_t *keys, size_t n, unsigned char *values)
{
    enum { CHUNK = 64 };
    unsigned char records[CHUNK * 256];
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        long got = vmdb_table_get_many(p->table, keys + i, sizeof *keys, m, records, NULL);
        if (got < 0)
            return fail("get_many");
        if ((size_t)got != m) {
            fprintf(stderr, "vmdb: get_many found %ld of %zu keys the fill put\n", got, m);
            return -1;
        }
        for (size_t j = 0; j < m; j++)
            memcpy(values + (i + j) * PEER_VALUE_BYTES, records + j * p->record_size + 8,
                   PEER_VALUE_BYTES);
    }
    return 0;
}

static int vmdb_peer_scan(peer *p, peer_scan_fn fn, void *ctx)
{
    vmdb_table_scan_batch b = {0};
    for (;;) {
        int rc = vmdb_table_scan_next(p->table, &b);
        if (rc == VMDB_ENOTFOUND)
            return 0;
        if (rc)
            return fail("scan");
        for (size_t i = 0; i < b.count; i++) {
            const unsigned char *rec = b.record[i];
            uint64_t key;
            memcpy(&key, rec, 8);
            /* Nothing writes during the scan: a changed slot is a bug. */
            if (!vmdb_scan_valid(&b, i)) {
                fprintf(stderr, "vmdb: scan: record %llu changed under a scan with no writer\n",
                        (unsigned long long)b.rid[i]);
                return -1;
            }
            if (fn(ctx, key, rec + 8))
                return 0;
        }
    }
}

/* A checkpoint: the tables and indexes on disk, the log empty. */
static int vmdb_peer_settle(peer *p)
{
    return vmdb_checkpoint(p->db) ? fail("checkpoint") : 0;
}

const peer_ops peer_vmdb = {.name = "vmdb",
                            .config = vmdb_config,
                            .open = vmdb_peer_open,
                            .close = vmdb_peer_close,
                            .begin = vmdb_peer_begin,
                            .put = vmdb_peer_put,
                            .commit = vmdb_peer_commit,
                            .get = vmdb_peer_get,
                            .get_many = vmdb_peer_get_many,
                            .attach = vmdb_peer_attach,
                            .detach = vmdb_peer_detach,
                            .scan = vmdb_peer_scan,
                            .settle = vmdb_peer_settle};
