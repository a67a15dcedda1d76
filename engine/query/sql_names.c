/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_names.c - table names in any case, as SQL has them.
 * vmdb's tables are files, named in one case; SQL's names are not. A
 * name means the table of that exact name, else the only one whose name
 * differs from it in case alone; two such are ambiguous.
 */
#include "sql.h"

#include <string.h>
#include <strings.h>

typedef struct table_match {
    const char *name;
    const char *found, *also; /* the tables named so in any case */
} table_match;

static int match_table(void *ctx, vmdb_table *t)
{
    table_match *m = ctx;
    if (strcasecmp(vmdb_table_name(t), m->name) == 0) {
        if (m->found)
            m->also = vmdb_table_name(t);
        else
            m->found = vmdb_table_name(t);
    }
    return 0;
}

int sql_table_named(vmdb_db *db, const char *name, const char **real, const char **also)
{
    *real = *also = NULL;
    vmdb_table *t;
    int rc = vmdb_table_open(db, name, NULL, &t);
    if (rc == 0) {
        *real = vmdb_table_name(t);
        return 0;
    }
    if (rc != VMDB_ENOTFOUND)
        return rc;
    vmdb_error_clear();
    table_match m = {.name = name};
    if ((rc = vmdb_table_foreach(db, match_table, &m)) < 0)
        return rc;
    if (!m.found)
        return VMDB_ENOTFOUND;
    *real = m.found;
    *also = m.also;
    return 0;
}
