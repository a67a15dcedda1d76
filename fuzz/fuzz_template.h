/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_template.h - the small database the file harnesses start
 * from, made the same way by the harnesses (at start-up) and by
 * make_seeds.c (whose log and table files are the seeds): the same tables
 * created in the same order get the same ids, and the same changes the
 * same log positions, so a seed's log records name tables and positions
 * that the harness's database has.
 *
 * The files of a database are kept in memory (fuzz_db_files) and written
 * out again before each run, the input replacing one of them: a run never
 * sees what the run before it changed.
 */
#ifndef VMDB_FUZZ_TEMPLATE_H
#define VMDB_FUZZ_TEMPLATE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_record.h"

#define FUZZ_T_SCHEMA "k:u64 key, name:str12, v:i32, f:f64"
#define FUZZ_U_SCHEMA "s:str8 key, n:u16, ok:bool"
/* The smallest log: one page of data behind the header page. */
#define FUZZ_WAL_SIZE 4096

/* The files of a database directory, as fuzz_db_files_load found them. */
#define FUZZ_DB_FILE_COUNT 6
static const char *const fuzz_db_file_names[FUZZ_DB_FILE_COUNT] = {
    "t.vmt", "t.vmi", "u.vmt", "u.vmi", "wal.ring", "vmdb.lock",
};
typedef struct fuzz_db_files {
    unsigned char *data[FUZZ_DB_FILE_COUNT];
    size_t len[FUZZ_DB_FILE_COUNT]; /* bytes */
} fuzz_db_files;

static inline vmdb_table *fuzz_template_table(vmdb_db *db, const char *name, const char *schema)
{
    vmdb_schema *s;
    FUZZ_MUST(vmdb_schema_parse(schema, &s) == 0);
    vmdb_table *t;
    FUZZ_MUST(vmdb_table_create(db, name, s, &t) == 0);
    vmdb_schema_free(s);
    return t;
}

/* Puts a record given as text, one value per field. */
static inline void fuzz_template_put(vmdb_txn *txn, vmdb_table *t, const char *const *values)
{
    const vmdb_schema *s = vmdb_table_schema(t);
    unsigned char record[64] = {0};
    FUZZ_MUST(vmdb_schema_record_size(s) <= sizeof record);
    for (size_t f = 0; f < vmdb_schema_field_count(s); f++)
        FUZZ_MUST(vmdb_record_set_text(s, record, f, values[f]) == 0);
    FUZZ_MUST(vmdb_txn_put(txn, t, record, NULL) == 0);
}

/* Creates the database in dir (which must not exist) and closes it:
 * tables t and u, three records in t (one deleted after), two in u. */
static inline void fuzz_template_create(const char *dir)
{
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .durability = VMDB_DURABILITY_SYNC,
                         .wal_size = FUZZ_WAL_SIZE};
    vmdb_db *db;
    FUZZ_MUST(vmdb_open(dir, &o, &db) == 0);
    vmdb_table *t = fuzz_template_table(db, "t", FUZZ_T_SCHEMA);
    vmdb_table *u = fuzz_template_table(db, "u", FUZZ_U_SCHEMA);
    vmdb_txn *txn;
    FUZZ_MUST(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) == 0);
    fuzz_template_put(txn, t, (const char *[]){"1", "one", "-1", "0.5"});
    fuzz_template_put(txn, t, (const char *[]){"2", "two", "2", "nan"});
    fuzz_template_put(txn, t, (const char *[]){"3", "three", "3", "1e300"});
    fuzz_template_put(txn, u, (const char *[]){"x", "7", "true"});
    fuzz_template_put(txn, u, (const char *[]){"yy", "65535", "false"});
    FUZZ_MUST(vmdb_txn_commit(txn) == 0);
    FUZZ_MUST(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn) == 0);
    uint64_t k = 2;
    FUZZ_MUST(vmdb_txn_delete(txn, t, &k, sizeof k) == 0);
    FUZZ_MUST(vmdb_txn_commit(txn) == 0);
    FUZZ_MUST(vmdb_close(db) == 0);
}

static inline unsigned char *fuzz_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    FUZZ_MUST(f != NULL);
    FUZZ_MUST(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    FUZZ_MUST(n >= 0 && fseek(f, 0, SEEK_SET) == 0);
    unsigned char *data = malloc((size_t)n + 1);
    FUZZ_MUST(data != NULL && fread(data, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

static inline void fuzz_db_files_load(const char *dir, fuzz_db_files *files)
{
    char path[600];
    for (int i = 0; i < FUZZ_DB_FILE_COUNT; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, fuzz_db_file_names[i]);
        files->data[i] = fuzz_read_file(path, &files->len[i]);
    }
}

/* Writes every file into dir (which exists), except that the file named
 * `replaced` gets data[0, len) instead. */
static inline void fuzz_db_files_store(const char *dir, const fuzz_db_files *files,
                                       const char *replaced, const void *data, size_t len)
{
    char path[600];
    for (int i = 0; i < FUZZ_DB_FILE_COUNT; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, fuzz_db_file_names[i]);
        bool mine = strcmp(fuzz_db_file_names[i], replaced) == 0;
        FILE *f = fopen(path, "wb");
        FUZZ_MUST(f != NULL);
        size_t n = mine ? len : files->len[i];
        FUZZ_MUST(n == 0 || fwrite(mine ? data : files->data[i], 1, n, f) == n);
        FUZZ_MUST(fclose(f) == 0);
    }
}

/*
 * A whole database directory as one input: for each file in
 * fuzz_db_file_names' order, a 4-byte little-endian length and that many
 * bytes. Where the input ends, the remaining files are the template's; a
 * length past the end takes what is there.
 */
static inline void fuzz_db_files_store_packed(const char *dir, const fuzz_db_files *files,
                                              const uint8_t *data, size_t size)
{
    char path[600];
    size_t at = 0;
    for (int i = 0; i < FUZZ_DB_FILE_COUNT; i++) {
        const unsigned char *bytes = files->data[i];
        size_t n = files->len[i];
        if (at + 4 <= size) {
            uint32_t len = (uint32_t)data[at] | (uint32_t)data[at + 1] << 8 |
                           (uint32_t)data[at + 2] << 16 | (uint32_t)data[at + 3] << 24;
            at += 4;
            n = len < size - at ? len : size - at;
            bytes = data + at;
            at += n;
        }
        snprintf(path, sizeof path, "%s/%s", dir, fuzz_db_file_names[i]);
        FILE *f = fopen(path, "wb");
        FUZZ_MUST(f != NULL);
        FUZZ_MUST(n == 0 || fwrite(bytes, 1, n, f) == n);
        FUZZ_MUST(fclose(f) == 0);
    }
}

/* The packed form of the files of `dir`, for seeds. */
static inline unsigned char *fuzz_db_files_pack(const char *dir, size_t *len)
{
    fuzz_db_files files;
    fuzz_db_files_load(dir, &files);
    size_t total = 0;
    for (int i = 0; i < FUZZ_DB_FILE_COUNT; i++)
        total += 4 + files.len[i];
    unsigned char *out = malloc(total), *p = out;
    FUZZ_MUST(out != NULL);
    for (int i = 0; i < FUZZ_DB_FILE_COUNT; i++) {
        uint32_t n = (uint32_t)files.len[i];
        for (int b = 0; b < 4; b++)
            *p++ = (unsigned char)(n >> (8 * b));
        memcpy(p, files.data[i], files.len[i]);
        p += files.len[i];
        free(files.data[i]);
    }
    *len = total;
    return out;
}

#endif /* VMDB_FUZZ_TEMPLATE_H */
