/* SPDX-License-Identifier: MIT */
/*
 * tests/rows.h - the two-field table (u64 key, u64 value) that several
 * suites write and read: the record, its schema and the table's creation.
 */
#ifndef VMDB_TESTS_ROWS_H
#define VMDB_TESTS_ROWS_H

#include "helpers.h"
#include "vmdb/db.h"
#include "vmdb/schema.h"

struct row {
    uint64_t id;
    uint64_t value;
};

static const vmdb_field row_fields[] = {
    VMDB_KEY(struct row, id, VMDB_TYPE_U64),
    VMDB_FIELD(struct row, value, VMDB_TYPE_U64),
};

/* Creates table "rows" in db. */
static inline vmdb_table *rows_table(vmdb_db *db)
{
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_new(row_fields, 2, sizeof(struct row), &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "rows", s, &t));
    vmdb_schema_free(s);
    return t;
}

#endif
