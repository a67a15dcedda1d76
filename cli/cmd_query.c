/* SPDX-License-Identifier: MIT */
/*
 * cli/cmd_query.c - `vmdb query DB "SQL"`: statements of the SQL subset
 * (vmdb/query.h), each one transaction unless BEGIN makes them one.
 *
 * The statements are parsed before the database is opened, so that
 * SELECTs alone (or any --explain) open it read-only: no lock and no
 * recovery, and a key lookup costs the open and one vmdb_table_get.
 * Several statements run as the shell runs its SQL argument, stopping
 * at the first error.
 */
#include <string.h>

#include "shell.h"

static const char usage[] =
    "usage: vmdb query DB \"SQL\" [--format table|csv|json] [--explain]\n"
    "\n"
    "Runs SQL statements on database DB, separated by ';':\n"
    "\n"
    "  SELECT [DISTINCT] item, ... [FROM t [[AS] alias] [WHERE e]\n"
    "         [GROUP BY e, ...] [HAVING e] [ORDER BY e [ASC|DESC], ...]\n"
    "         [LIMIT n [OFFSET m] | LIMIT m, n]]\n"
    "      item: *, or e [[AS] name]; aggregates COUNT(*), SUM(e), MIN(e),\n"
    "      MAX(e), AVG(e), COUNT(DISTINCT e); GROUP BY and ORDER BY also\n"
    "      take an output's name or number\n"
    "  INSERT INTO t [(field, ...)] VALUES (e, ...), ...\n"
    "      fields not named are zero; a key that exists is an error\n"
    "  UPDATE t SET field = e, ... [WHERE e]\n"
    "  DELETE FROM t [WHERE e]\n"
    "  BEGIN [TRANSACTION]; ...; COMMIT (or END, or ROLLBACK)\n"
    "      the statements between are one transaction, which reads its own\n"
    "      writes; a statement that fails in it is undone alone\n"
    "  CREATE TABLE [IF NOT EXISTS] t (field type [KEY], ...)\n"
    "      types as `vmdb create` takes them: u8..u64, i8..i64, f32, f64,\n"
    "      bool, strN, bytesN; the KEY field, else the first, is the key\n"
    "  DROP TABLE [IF EXISTS] t\n"
    "\n"
    "Expressions: = != <> < <= > >=, AND OR NOT, + - * / %, unary -, (...),\n"
    "e [NOT] LIKE 'pattern' [ESCAPE 'c'] (% any run, _ one character,\n"
    "case-sensitive), e [NOT] IN (e, ...), e [NOT] BETWEEN a AND b;\n"
    "literals 42, 0xff, 1.5, 2e-3, 'it''s', TRUE, FALSE; bytes fields as\n"
    "'0x0a0b'; a || b; length lower upper substr trim ltrim rtrim replace\n"
    "instr abs round min max, CAST(e AS type). Keywords, table and field\n"
    "names are case-insensitive. EXPLAIN before a statement gives its plan.\n"
    "\n"
    "There is no NULL: vmdb fields always hold a value. Integers are exact\n"
    "from -2^63 to 2^64-1 (i64 and u64); a result beyond is an error, as is\n"
    "division by zero. Integer / truncates. Values stored are range-checked\n"
    "by the field's type.\n"
    "\n"
    "Each statement is one transaction (all of it happens, or none) unless\n"
    "BEGIN makes several one; text that ends inside BEGIN's transaction rolls\n"
    "it back and says so on stderr. Several statements stop at the first\n"
    "that fails (its line is named); those before it stay done. WHERE\n"
    "key = constant (or key IN (constants)), alone or AND-ed with more,\n"
    "looks the keys up in the index; anything else scans the table.\n"
    "--explain prints the plan without running the statement.\n"
    "\n"
    "A SELECT prints its rows on stdout in --format; INSERT, UPDATE and\n"
    "DELETE print how many records they changed on stderr (\"2 records\n"
    "updated\"), keeping stdout for data. Exit status: 0 rows printed or\n"
    "statement done, 1 the last statement was a SELECT that found no row,\n"
    "2 error.\n"
    "\n"
    "    vmdb query people.db \"SELECT name, age FROM people WHERE age >= 30\n"
    "                          ORDER BY age DESC LIMIT 10\"\n";

/* Whether every statement of text only reads; -1 after reporting a
 * single statement that does not parse, before anything is opened. Of
 * several, one that does not parse is reported when it is reached, the
 * statements before it having run, as sqlite3 does. */
static int only_reads(const char *text, bool *several)
{
    size_t len = strlen(text);
    size_t first = vmdb_sql_statement_length(text, len);
    *several = first && !vmdb_sql_is_blank(text + first, len - first);
    if (!*several) {
        int kind = vmdb_sql_kind(text, len, NULL);
        if (kind < 0)
            return cli_library_error(), -1;
        /* BEGIN alone is rolled back at the end, which the script runner
         * says. */
        *several = kind == VMDB_STMT_BEGIN;
        return kind == VMDB_STMT_SELECT;
    }
    bool reads = true;
    for (const char *at = text; reads && !vmdb_sql_is_blank(at, strlen(at));) {
        size_t span = vmdb_sql_statement_length(at, strlen(at));
        if (!span)
            span = strlen(at);
        const char *tail;
        if (!vmdb_sql_is_blank(at, span - (at[span - 1] == ';')))
            reads = vmdb_sql_kind(at, span, &tail) == VMDB_STMT_SELECT;
        at += span;
    }
    vmdb_error_clear();
    return reads;
}

static int run(int argc, char **argv)
{
    const char *format_text = NULL;
    bool explain = false;
    const cli_option options[] = {
        CLI_FORMAT_OPTION(&format_text),
        {"explain", 'e', NULL, &explain},
    };
    char *pos[2];
    size_t npos;
    int status;
    enum cli_format format;
    if (!cli_command_args(&cli_query_command, argc, argv, options, 2, pos, 2, 2, &npos,
                          &status))
        return status;
    if (cli_parse_format(format_text, &format) != CLI_OK)
        return CLI_ERROR;
    /* The library's messages say where in the text ("(col 10)", and the
     * line too when the statement has more than one). */
    const char *text = pos[1];
    bool several;
    int reads = only_reads(text, &several);
    if (reads < 0)
        return CLI_ERROR;
    vmdb_db *db;
    unsigned flags = explain || reads ? VMDB_DB_READONLY : 0;
    if (cli_open_db(pos[0], flags, &db) != CLI_OK)
        return CLI_ERROR;
    sql_output how = {.format = format, .explain = explain, .out = stdout};
    if (several)
        return cli_close_db(db, shell_run_text(db, pos[0], text, &how, true));
    bool reported;
    status = sql_run(db, text, strlen(text), &how, &reported);
    if (status == CLI_ERROR && !reported)
        cli_library_error();
    return cli_close_db(db, status);
}

const cli_command cli_query_command = {
    .name = "query",
    .summary = "run SQL statements (SELECT, INSERT, UPDATE, DELETE, BEGIN, CREATE TABLE...)",
    .usage = usage,
    .run = run,
};
