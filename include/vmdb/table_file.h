/* SPDX-License-Identifier: MIT */
/*
 * vmdb/table_file.h - a table file opened on its own, without its
 * database, for tools: what `vmdb dump` shows. Part of the store layer,
 * below the database: it reads one file and changes nothing.
 */
#ifndef VMDB_TABLE_FILE_H
#define VMDB_TABLE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The first bytes of every table file. */
#define VMDB_TABLE_MAGIC "VMDBTABL"

/* A table file opened read-only on its own, without its database: what
 * `vmdb dump` shows. Nothing is checked beyond what opening needs (a
 * header copy that holds), so a damaged file can still be looked at. */
typedef struct vmdb_table_file vmdb_table_file;

typedef struct vmdb_table_file_info {
    const char *name;          /* the table's; lives with the handle */
    const vmdb_schema *schema; /* likewise */
    unsigned id;               /* in log records */
    unsigned version;          /* of the file format */
    uint64_t capacity;         /* slots in the file */
    uint64_t file_bytes;
    size_t header_bytes;       /* bytes before the first slot */
    size_t slot_size;          /* bytes per slot, its header included */
    size_t slot_header_bytes;  /* the slot header before each record */
    size_t record_size;
    uint64_t header_seq;       /* of the header copy in use */
    char copy_in_use;          /* 'A' or 'B' */
    int copy_status[2];        /* 0, or the VMDB_E* verdict on copy A, B */
    char copy_problem[2][200]; /* "", or the verdict's message */
} vmdb_table_file_info;

/* One slot as it is on disk. */
typedef struct vmdb_slot_info {
    uint64_t seq;        /* sequence counter: odd while being written */
    uint64_t lsn;        /* log position of the change that last wrote it */
    uint64_t checksum;   /* as stored */
    bool live;
    bool checksum_ok;    /* the stored checksum matches the bytes, or the
                            slot was never written (seq 0) */
    const void *slot;    /* slot_size bytes, header included, in the map */
    const void *record;  /* record_size bytes, in the map */
} vmdb_slot_info;

/* Errors name the path: VMDB_ENOENT, VMDB_EBADMAGIC (not a table file),
 * VMDB_ECORRUPT and VMDB_EBADSIZE when neither header copy holds. */
VMDB_API int vmdb_table_file_open(const char *path, vmdb_table_file **out);
VMDB_API void vmdb_table_file_close(vmdb_table_file *file);
/* What the file says about itself; VMDB_EINVAL without a file or info. */
VMDB_API int vmdb_table_file_stat(vmdb_table_file *file, vmdb_table_file_info *info);
/* Slot `rid`; VMDB_ERANGE past the capacity. */
VMDB_API int vmdb_table_file_slot(vmdb_table_file *file, uint64_t rid, vmdb_slot_info *slot);

#ifdef __cplusplus
}
#endif

#endif
