/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_api.c - sequences of API calls checked against a model: the
 * input's bytes decode to put, delete, get, commit, abort, checkpoint,
 * reopen and scan on one table of a fresh database, and a plain array of
 * its 16 possible keys says what each read must find. Any difference
 * aborts: a committed record lost or changed, an aborted or failed one
 * visible, a transaction not seeing its own writes.
 *
 * Each byte is one operation: its low 3 bits the kind, the next 4 the key
 * (0-15), the top bit the durability of the commit it may start (SYNC or
 * NONE); a put's value is the byte's position in the input, so every put
 * writes a value no other put did.
 */
#include <stdint.h>

#include "fuzz_scratch.h"

#define KEYS 16

typedef struct item {
    uint64_t key;
    uint64_t value;
} item;

typedef struct model {
    bool present[KEYS];
    uint64_t value[KEYS];
} model;

static const vmdb_field item_fields[] = {
    VMDB_KEY(item, key, VMDB_TYPE_U64),
    VMDB_FIELD(item, value, VMDB_TYPE_U64),
};

static vmdb_db *db;
static vmdb_table *table;

static void open_db(bool create)
{
    vmdb_db_options o = {.flags = create ? VMDB_DB_CREATE : 0, .wal_size = 1u << 16};
    FUZZ_MUST(vmdb_open(fuzz_path("db"), &o, &db) == 0);
    if (create) {
        vmdb_schema *s;
        FUZZ_MUST(vmdb_schema_new(item_fields, 2, sizeof(item), &s) == 0);
        FUZZ_MUST(vmdb_table_create(db, "m", s, &table) == 0);
        vmdb_schema_free(s);
    } else {
        FUZZ_MUST(vmdb_table_open(db, "m", NULL, &table) == 0);
    }
}

/* Every key read as committed state shows it, and a scan finds as many. */
static void check_committed(const model *m)
{
    uint64_t live = 0;
    for (uint64_t k = 0; k < KEYS; k++) {
        item it;
        int rc = vmdb_table_get(table, &k, sizeof k, &it, NULL);
        if (m->present[k]) {
            FUZZ_MUST(rc == 0 && it.key == k && it.value == m->value[k]);
            live++;
        } else {
            FUZZ_MUST(rc == VMDB_ENOTFOUND);
        }
    }
    vmdb_table_cursor c;
    vmdb_table_cursor_init(&c, table);
    uint64_t rid, seen = 0;
    item it;
    while (vmdb_table_cursor_next(&c, &rid, &it) == 0) {
        FUZZ_MUST(it.key < KEYS && m->present[it.key] && m->value[it.key] == it.value);
        seen++;
    }
    FUZZ_MUST(seen == live);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_empty_dir(fuzz_path("db"));
    open_db(true);
    model committed = {0}, pending = {0};
    vmdb_txn *txn = NULL;
    bool failed = false; /* an operation failed the transaction: commit must refuse */

    for (size_t i = 0; i < size && i < 512; i++) {
        unsigned op = data[i] & 7;
        uint64_t k = (data[i] >> 3) & 15;
        enum vmdb_durability d = data[i] & 0x80 ? VMDB_DURABILITY_NONE : VMDB_DURABILITY_SYNC;
        if ((op <= 1) && !txn) {
            FUZZ_MUST(vmdb_txn_begin(db, d, &txn) == 0);
            pending = committed;
            failed = false;
        }
        switch (op) {
        case 0: { /* put */
            item it = {k, i + 1};
            int rc = vmdb_txn_put(txn, table, &it, NULL);
            FUZZ_MUST(rc == 0 || rc == VMDB_EFULL);
            if (rc == 0 && !failed) {
                pending.present[k] = true;
                pending.value[k] = i + 1;
            }
            failed |= rc != 0;
            break;
        }
        case 1: { /* delete */
            int rc = vmdb_txn_delete(txn, table, &k, sizeof k);
            if (!failed)
                FUZZ_MUST(rc == (pending.present[k] ? 0 : VMDB_ENOTFOUND) || rc == VMDB_EFULL);
            if (rc == 0)
                pending.present[k] = false;
            failed |= rc != 0 && rc != VMDB_ENOTFOUND;
            break;
        }
        case 2: { /* get, in the transaction if one is open */
            item it;
            if (txn && !failed) {
                int rc = vmdb_txn_get(txn, table, &k, sizeof k, &it, NULL);
                FUZZ_MUST(pending.present[k] ? rc == 0 && it.value == pending.value[k]
                                             : rc == VMDB_ENOTFOUND);
            }
            int rc = vmdb_table_get(table, &k, sizeof k, &it, NULL);
            FUZZ_MUST(committed.present[k] ? rc == 0 && it.value == committed.value[k]
                                           : rc == VMDB_ENOTFOUND);
            break;
        }
        case 3: /* commit */
            if (txn) {
                int rc = vmdb_txn_commit(txn);
                txn = NULL;
                FUZZ_MUST(failed ? rc != 0 : rc == 0);
                if (rc == 0)
                    committed = pending;
            }
            break;
        case 4: /* abort */
            vmdb_txn_abort(txn);
            txn = NULL;
            break;
        case 5: /* checkpoint */
            if (!txn)
                FUZZ_MUST(vmdb_checkpoint(db) == 0);
            break;
        case 6: /* reopen: an open transaction is aborted by the close */
            vmdb_txn_abort(txn);
            txn = NULL;
            FUZZ_MUST(vmdb_close(db) == 0);
            open_db(false);
            check_committed(&committed);
            break;
        case 7:
            check_committed(&committed);
            break;
        }
    }
    vmdb_txn_abort(txn);
    FUZZ_MUST(vmdb_close(db) == 0);
    open_db(false);
    check_committed(&committed);
    FUZZ_MUST(vmdb_check(db) == 0);
    FUZZ_MUST(vmdb_close(db) == 0);
    return 0;
}
