/* Error positions of vmdb_exec: query.h says positions count "from the
 * start of the text given to the failing call", but for the second and
 * later statements of a text they count from the end of the one before. */
#include "common.h"

static void try(vmdb_db *db, const char *sql)
{
    int rc = vmdb_exec(db, sql, NULL, NULL);
    vmdb_sql_position at;
    vmdb_sql_error_position(&at);
    printf("%-50s -> %d %s\n   line %u col %u offset %zu: text there '%.8s'\n", sql, rc,
           vmdb_last_error()->message, at.line, at.col, at.offset,
           at.offset < strlen(sql) ? sql + at.offset : "");
}

int main(void)
{
    vmdb_db *db = fresh_db("pos");
    try(db, "SELECT nmae FROM people");
    try(db, "SELECT 1; SELECT nmae FROM people");
    try(db, "SELECT 1;\nSELECT 2;\nSELECT nmae FROM people");
    try(db, "SELECT 1; SELECT 2 FORM people");
    try(db, "SELECT 1; SELECT 1/0");
    try(db, "SELECT 1;;");
    CHECK(vmdb_close(db));
    cleanup_db();
    return 0;
}
