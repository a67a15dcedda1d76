/* Shared setup for the query API reproducers: a fresh database with
 * table people(id:u32 key, name:str16, age:u8) and a few rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vmdb.h>

#define CHECK(x) do { int rc_ = (x); if (rc_ < 0) { fprintf(stderr, "%s:%d %s -> %d %s\n", __FILE__, __LINE__, #x, rc_, vmdb_last_error()->message); exit(3); } } while (0)

static char db_path[256];

static vmdb_db *fresh_db(const char *tag)
{
    snprintf(db_path, sizeof db_path, "/tmp/qbreak-%s-%d.db", tag, (int)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", db_path);
    if (system(cmd)) {}
    vmdb_db_options o = VMDB_DB_OPTIONS_INIT;
    o.flags = VMDB_DB_CREATE;
    vmdb_db *db;
    CHECK(vmdb_open(db_path, &o, &db));
    vmdb_schema *s;
    vmdb_table *t;
    CHECK(vmdb_schema_parse("id:u32, name:str16, age:u8", &s));
    CHECK(vmdb_table_create(db, "people", s, &t));
    vmdb_schema_free(s);
    CHECK(vmdb_exec(db, "INSERT INTO people VALUES (1,'ann',30),(2,'bob',40),(3,'cy',50)", NULL, NULL));
    return db;
}

static void cleanup_db(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", db_path);
    if (system(cmd)) {}
}
