/* SPDX-License-Identifier: MIT */
/*
 * cli/cmd_query.c - `vmdb query DB "SQL"`: one statement of the SQL subset
 * (vmdb/query.h), run as one transaction.
 *
 * The statement is parsed before the database is opened, so that a
 * SELECT (or any --explain) opens it read-only: no lock and no recovery,
 * and a key lookup costs the open and one vmdb_table_get.
 */
#include <string.h>

#include "sql_run.h"

static const char usage[] =
    "usage: vmdb query DB \"SQL\" [--format table|csv|json] [--explain]\n"
    "\n"
    "Runs one SQL statement on database DB:\n"
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
    "Each statement is one transaction: all of it happens, or none. WHERE\n"
    "key = constant (or key IN (constants)), alone or AND-ed with more,\n"
    "looks the keys up in the index; anything else scans the table.\n"
    "--explain prints the plan without running the statement.\n"
    "\n"
    "A SELECT prints its rows on stdout in --format; INSERT, UPDATE and\n"
    "DELETE print how many records they changed on stderr (\"2 records\n"
    "updated\"), keeping stdout for data. Exit status: 0 rows printed or\n"
    "statement done, 1 a SELECT found no row, 2 error.\n"
    "\n"
    "    vmdb query people.db \"SELECT name, age FROM people WHERE age >= 30\n"
    "                          ORDER BY age DESC LIMIT 10\"\n";

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
    int kind = vmdb_sql_kind(text, strlen(text), NULL);
    if (kind < 0)
        return cli_library_error();
    vmdb_db *db;
    unsigned flags = explain || kind == VMDB_STMT_SELECT ? VMDB_DB_READONLY : 0;
    if (cli_open_db(pos[0], flags, &db) != CLI_OK)
        return CLI_ERROR;
    bool reported;
    status = sql_run(db, text, strlen(text), format, explain, stdout, &reported);
    if (status == CLI_ERROR && !reported)
        cli_library_error();
    return cli_close_db(db, status);
}

const cli_command cli_query_command = {
    .name = "query",
    .summary = "run a SQL statement (SELECT, INSERT, UPDATE, DELETE)",
    .usage = usage,
    .run = run,
};
