/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_plan.h - what the planner (sql_plan.c) hands the executor
 * (sql_exec.c). Private to those two files.
 */
#ifndef VMDB_CLI_SQL_PLAN_H
#define VMDB_CLI_SQL_PLAN_H

#include "sql.h"

/* One key to look up in the index: its bytes inside `record`. */
typedef struct sql_key {
    unsigned char *record; /* record_size bytes, the key field set */
    const void *bytes;     /* into record */
    size_t len;
} sql_key;

struct sql_plan {
    sql_stmt *stmt;
    vmdb_db *db;
    vmdb_table *table;          /* NULL for a SELECT without FROM */
    const vmdb_schema *schema;
    size_t record_size;         /* bytes */
    sql_arena *arena;           /* the plan's own nodes and buffers */

    /* Access path. */
    bool use_index;
    size_t key_field;
    sql_key *keys;              /* distinct keys, in the order written */
    size_t key_count;
    const sql_expr *index_term; /* the conjunct the index answers */

    /* SELECT: output columns (a '*' expanded to its fields). */
    size_t out_count;
    sql_expr **out_exprs;
    const char **out_names;
    enum sql_type *out_types;
    bool grouped;               /* GROUP BY or an aggregate */
    sql_expr **aggs;            /* every aggregate node, by agg_slot */
    size_t agg_count;
    bool agg_may_be_empty;      /* an AVG, MIN or MAX: no value over no rows */
    sql_expr **order_exprs;
    bool *order_desc;
    size_t order_count;

    /* INSERT: the field each value goes to; UPDATE: the fields set. */
    size_t *fields;
    size_t field_count;
};

/* Stores v into field `field` of record through the library's range-
 * checked setters; -1 with the library's message prefixed with the
 * table's name ("people.age: value 300 does not fit u8"). */
int sql_assign(const sql_plan *plan, unsigned char *record, size_t field, const sql_value *v,
               sql_error *err);

#endif /* VMDB_CLI_SQL_PLAN_H */
