/* SPDX-License-Identifier: MIT */
/*
 * cli/cmd_shell.c - `vmdb shell DB ["SQL"]`: statements typed at a prompt,
 * given as an argument, or read from standard input when it is not a
 * terminal (a script), with sqlite3's options and dot commands.
 *
 * A statement ends with ';' outside quotes and comments and may span
 * lines; a line starting with '.' between statements is a dot command.
 * Each statement is one transaction unless BEGIN opened one; input that
 * ends inside a transaction rolls it back and says so, as sqlite3 does.
 * An error is reported with the line it is on ("vmdb: line 7: syntax
 * error at 'FORM' (col 10)") and the shell goes on, unless -bail; a
 * script that had any error exits with status 2.
 *
 * At a terminal, lines are read with libedit (BSD-licensed; Debian's
 * libedit2, there on most systems): arrow keys, editing and the history
 * of the session, kept in memory only (no history file is written). It
 * is loaded with dlopen when the prompt starts, not linked: linking would
 * load it and the four libraries it needs into every vmdb process, a
 * third of a millisecond of start-up that a key lookup would pay for
 * nothing. Without libedit the prompt reads plain lines.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "shell.h"

static const char usage[] =
    "usage: vmdb shell DB [\"SQL; ...\"] [--readonly] [--bail] [--cmd COMMAND]\n"
    "                     [--header|--noheader] [--csv|--json|--table] [--format F]\n"
    "\n"
    "The SQL of `vmdb query` (see vmdb query --help) on database DB, which\n"
    "is created when it does not exist (not with --readonly, which opens it\n"
    "read-only). With SQL, runs it and leaves; otherwise reads statements at\n"
    "a prompt, or as a script from standard input when that is not a\n"
    "terminal. Statements end with ';' and may span lines. BEGIN ... COMMIT\n"
    "makes them one transaction; input that ends inside one rolls it back\n"
    "and says so.\n"
    "\n"
    "  --readonly        open read-only; a missing database is an error\n"
    "  --bail            stop at the first error (exit status 2)\n"
    "  --cmd COMMAND     run COMMAND (SQL or a dot command) first; repeatable\n"
    "  --header          print column names (the default); --noheader not\n"
    "  --csv, --json, --table   the output format (--format F the same)\n"
    "\n"
    "Each option may also be written with one dash, as sqlite3 has them\n"
    "(-bail, -cmd, -csv, -header, ...).\n"
    "\n"
    "Dot commands, alone on a line between statements:\n"
    "\n"
    "  .tables             the tables' names\n"
    "  .schema [TABLE]     each table's schema (or TABLE's)\n"
    "  .mode [MODE]        print rows as table (or column), csv or json\n"
    "  .headers on|off     column names above the rows, or not\n"
    "  .timer on|off       say on stderr how long each statement took\n"
    "  .read FILE          run the statements and commands of FILE\n"
    "  .output [FILE]      rows to FILE; alone, back to stdout\n"
    "  .import [OPTION...] FILE TABLE  vmdb import DB TABLE FILE [OPTION...]\n"
    "  .dump [TABLE]       SQL that makes the tables (or TABLE) again, rows\n"
    "                      included: vmdb shell NEW < dump.sql copies them\n"
    "  .help               this list\n"
    "  .quit               leave (so does end of input, Ctrl-D)\n"
    "\n"
    "A script's errors are reported with their line numbers and the script\n"
    "goes on (unless --bail); the exit status is then 2 if any failed.\n"
    "Line editing and history (for the session) come from libedit when\n"
    "it is installed (Debian: libedit2).\n";

static const char dot_help[] =
    ".tables             the tables' names\n"
    ".schema [TABLE]     each table's schema (or TABLE's)\n"
    ".mode [MODE]        print rows as table (or column), csv or json\n"
    ".format [FORMAT]    the same\n"
    ".headers on|off     column names above the rows, or not\n"
    ".timer on|off       say on stderr how long each statement took\n"
    ".read FILE          run the statements and commands of FILE\n"
    ".output [FILE]      rows to FILE; alone, back to stdout\n"
    ".import [OPTION...] FILE TABLE  as vmdb import DB TABLE FILE [OPTION...]\n"
    ".dump [TABLE]       SQL that makes the tables (or TABLE) again, with rows\n"
    ".help               this list\n"
    ".quit               leave (so does Ctrl-D)\n"
    "Statements end with ';': SELECT, INSERT, UPDATE, DELETE, BEGIN, COMMIT,\n"
    "ROLLBACK, CREATE TABLE, DROP TABLE (vmdb query --help).\n";

/* Words of a dot command. */
#define DOT_ARGS_MAX 32

/* .read of a file that reads itself stops here. */
#define READ_DEPTH_MAX 16

/* What is being read: the statement gathered so far and where it is. */
typedef struct input {
    const char *source; /* a .read file's name, for messages; NULL */
    char *buf;          /* text of the statement being gathered */
    size_t len, cap;
    unsigned buf_line;  /* input line of buf[0] */
    unsigned buf_col;   /* 1-based column of buf[0] on that line */
    unsigned line;      /* lines read so far */
} input;

typedef struct shell {
    vmdb_db *db;
    const char *db_name;
    bool readonly;
    sql_output how;    /* how->out is stdout or .output's file */
    bool interactive;
    bool bail;
    bool timer;
    bool failed;       /* a statement or command failed */
    bool quit;         /* .quit, or an error under --bail */
    bool in_txn;       /* BEGIN ran and no COMMIT or ROLLBACK since */
    int last_status;   /* of the last statement: CLI_NOT_FOUND for no row */
    unsigned depth;    /* .read files open */
    input *in;
} shell;

/* "vmdb: [FILE: ]line N: message", one line whatever the message echoes. */
static void shell_error(shell *sh, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void shell_error(shell *sh, unsigned line, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fflush(sh->how.out);
    if (sh->in->source)
        cli_say("%s: line %u: %s", sh->in->source, line, msg);
    else
        cli_say("line %u: %s", line, msg);
    sh->failed = true;
    if (sh->bail)
        sh->quit = true;
}

static int handle_line(shell *sh, char *line, size_t n);
static void finish_input(shell *sh);

/* ---- dot commands ------------------------------------------------------- */

static int print_name(void *ctx, vmdb_table *table)
{
    fprintf(ctx, "%s\n", vmdb_table_name(table));
    return 0;
}

static char *schema_text(vmdb_table *table)
{
    const vmdb_schema *s = vmdb_table_schema(table);
    size_t len;
    vmdb_schema_format(s, NULL, 0, &len);
    char *text = malloc(len + 1);
    if (text)
        vmdb_schema_format(s, text, len + 1, &len);
    return text;
}

static int print_schema(void *ctx, vmdb_table *table)
{
    char *text = schema_text(table);
    if (!text)
        return cli_error("out of memory");
    fprintf(ctx, "%s: %s\n", vmdb_table_name(table), text);
    free(text);
    return 0;
}

typedef struct name_match {
    const char *name;
    vmdb_table *found, *also; /* the tables named so in any case */
} name_match;

static int match_name(void *ctx, vmdb_table *table)
{
    name_match *m = ctx;
    if (strcasecmp(vmdb_table_name(table), m->name) == 0) {
        if (m->found)
            m->also = table;
        else
            m->found = table;
    }
    return 0;
}

/* The TABLE of .schema and .dump, named as the statements name it: the
 * table of that name, else the only one whose name differs in case
 * alone. False after saying why. */
static bool named_table(shell *sh, const char *name, vmdb_table **out)
{
    char shown[VMDB_PRINTABLE_CAP];
    int rc = vmdb_table_open(sh->db, name, NULL, out);
    if (rc == 0)
        return true;
    if (rc != VMDB_ENOTFOUND) {
        shell_error(sh, sh->in->line, "%s", vmdb_last_error()->message);
        return false;
    }
    name_match m = {.name = name};
    vmdb_table_foreach(sh->db, match_name, &m);
    if (m.found && !m.also) {
        *out = m.found;
        return true;
    }
    if (m.also)
        shell_error(sh, sh->in->line, "'%s' is ambiguous: tables %s and %s differ only in case",
                    cli_show(shown, name), vmdb_table_name(m.found), vmdb_table_name(m.also));
    else
        shell_error(sh, sh->in->line, "%s: no table '%s'", sh->db_name, cli_show(shown, name));
    return false;
}

/* ---- .dump -------------------------------------------------------------- */

/* A name as SQL reads it back whatever it is (a keyword, say). */
static void put_name(FILE *out, const char *name)
{
    fputc('"', out);
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

static void put_text_literal(FILE *out, const char *text, size_t len)
{
    fputc('\'', out);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\'')
            fputc('\'', out);
        fputc(text[i], out);
    }
    fputc('\'', out);
}

typedef struct dump_ctx {
    FILE *out;
    vmdb_table *table;
} dump_ctx;

static int dump_row(void *ctx, vmdb_stmt *stmt)
{
    dump_ctx *d = ctx;
    fputs("INSERT INTO ", d->out);
    put_name(d->out, vmdb_table_name(d->table));
    fputs(" VALUES (", d->out);
    for (int i = 0; i < vmdb_column_count(stmt); i++) {
        const char *text;
        size_t len;
        if (vmdb_column_text(stmt, i, &text, &len) < 0)
            return cli_library_error();
        if (i)
            fputs(", ", d->out);
        enum vmdb_value_type type = vmdb_column_type(stmt, i);
        /* inf and nan have no SQL literal: as text, a float field parses
         * them as `vmdb put` does. Bytes are written as their hex text. */
        bool bare = type == VMDB_VALUE_INT || type == VMDB_VALUE_BOOL ||
                    (type == VMDB_VALUE_FLOAT && strspn(text, "0123456789+-.e") == len);
        if (bare)
            fwrite(text, 1, len, d->out);
        /* "-0" would be read as an integer, whose minus loses the sign. */
        if (bare && type == VMDB_VALUE_FLOAT && strspn(text, "0123456789-") == len)
            fputs(".0", d->out);
        else if (!bare)
            put_text_literal(d->out, text, len);
    }
    fputs(");\n", d->out);
    return 0;
}

/* CREATE TABLE from the schema text ("id:u64 key, name:str32"): each
 * field's name quoted, its type and key as they are. */
static int dump_create(FILE *out, vmdb_table *table)
{
    char *text = schema_text(table);
    if (!text)
        return cli_error("out of memory");
    fputs("CREATE TABLE ", out);
    put_name(out, vmdb_table_name(table));
    fputs(" (", out);
    char *save = NULL;
    bool first = true;
    for (char *field = strtok_r(text, ",", &save); field; field = strtok_r(NULL, ",", &save)) {
        field += strspn(field, " ");
        char *colon = strchr(field, ':');
        if (!colon)
            continue;
        *colon = '\0';
        if (!first)
            fputs(", ", out);
        first = false;
        put_name(out, field);
        fprintf(out, " %s", colon + 1);
    }
    fputs(");\n", out);
    free(text);
    return 0;
}

static int dump_table(void *ctx, vmdb_table *table)
{
    shell *sh = ctx;
    FILE *out = sh->how.out;
    if (dump_create(out, table) != CLI_OK)
        return 1;
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", vmdb_table_name(table));
    /* The rows go in one transaction: one log flush, not one a row. */
    fputs("BEGIN;\n", out);
    dump_ctx d = {out, table};
    if (vmdb_exec(sh->db, sql, dump_row, &d) != 0) {
        shell_error(sh, sh->in->line, "%s", vmdb_last_error()->message);
        return 1;
    }
    fputs("COMMIT;\n", out);
    return 0;
}

typedef struct twins {
    vmdb_db *db;
    name_match m;
} twins;

/* Stops at the first table that has a twin: another whose name differs
 * from its in case alone. */
static int find_twin(void *ctx, vmdb_table *table)
{
    twins *t = ctx;
    t->m = (name_match){.name = vmdb_table_name(table)};
    vmdb_table_foreach(t->db, match_name, &t->m);
    return t->m.also != NULL;
}

static void dump(shell *sh, const char *name)
{
    if (!name) {
        /* SQL's names are case-insensitive: the second of two tables whose
         * names differ in case alone would find the first at its CREATE
         * TABLE, and its rows would go into it. */
        twins t = {.db = sh->db};
        if (vmdb_table_foreach(sh->db, find_twin, &t) > 0) {
            shell_error(sh, sh->in->line, ".dump: tables %s and %s differ only in case, which "
                        "SQL does not tell apart: dump each alone (.dump %s) into a database "
                        "of its own, or copy the database with vmdb backup",
                        vmdb_table_name(t.m.found), vmdb_table_name(t.m.also),
                        vmdb_table_name(t.m.found));
            return;
        }
        vmdb_table_foreach(sh->db, dump_table, sh);
        return;
    }
    vmdb_table *t;
    if (named_table(sh, name, &t))
        dump_table(sh, t);
}

/* ---- .read, .import, .output -------------------------------------------- */

static void read_file(shell *sh, const char *path)
{
    char shown[VMDB_PRINTABLE_CAP];
    if (sh->depth >= READ_DEPTH_MAX) {
        shell_error(sh, sh->in->line, ".read %s: files read each other more than %d deep",
                    cli_show(shown, path), READ_DEPTH_MAX);
        return;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        shell_error(sh, sh->in->line, ".read %s: cannot open: %s", cli_show(shown, path),
                    strerror(errno));
        return;
    }
    input file = {.source = path, .buf_line = 1, .buf_col = 1};
    input *outer = sh->in;
    sh->in = &file;
    sh->depth++;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (!sh->quit && (n = getline(&line, &cap, f)) >= 0)
        if (handle_line(sh, line, (size_t)n) != CLI_OK)
            sh->quit = true;
    /* A file that opens but cannot be read (a directory) is no empty
     * script, and the statement a failed read cut short does not run. */
    int read_errno = ferror(f) ? errno : 0;
    if (read_errno)
        file.len = 0;
    free(line);
    fclose(f);
    finish_input(sh);
    free(file.buf);
    sh->depth--;
    sh->in = outer;
    if (read_errno)
        shell_error(sh, sh->in->line, ".read %s: cannot read: %s", cli_show(shown, path),
                    strerror(read_errno));
}

/* `.import [OPTION...] FILE TABLE`, sqlite3's order, is `vmdb import DB
 * TABLE FILE [OPTION...]`, run as that command runs: its own handle on
 * the database, its batches, its messages. sqlite3's --csv is its
 * --format csv. */
static void import(shell *sh, char **args, size_t count)
{
    if (count < 2) {
        shell_error(sh, sh->in->line, ".import: usage: .import [OPTION...] FILE TABLE");
        return;
    }
    if (sh->readonly) {
        shell_error(sh, sh->in->line, ".import: the shell opened %s read-only", sh->db_name);
        return;
    }
    if (sh->in_txn) {
        shell_error(sh, sh->in->line, ".import: not inside a transaction (COMMIT or ROLLBACK "
                    "it first): the import commits its own");
        return;
    }
    static char format_csv[] = "--format=csv";
    char *argv[DOT_ARGS_MAX + 4];
    size_t argc = 0;
    argv[argc++] = (char *)sh->db_name;
    argv[argc++] = args[count - 1];
    argv[argc++] = args[count - 2];
    for (size_t i = 0; i + 2 < count; i++)
        argv[argc++] = strcmp(args[i], "--csv") ? args[i] : format_csv;
    argv[argc] = NULL;
    fflush(sh->how.out);
    if (cli_import_command.run((int)argc, argv) != CLI_OK) {
        sh->failed = true;
        if (sh->bail)
            sh->quit = true;
    }
}

static void set_output(shell *sh, const char *path)
{
    FILE *f = stdout;
    if (path && !(f = fopen(path, "w"))) {
        char shown[VMDB_PRINTABLE_CAP];
        shell_error(sh, sh->in->line, ".output %s: cannot open: %s", cli_show(shown, path),
                    strerror(errno));
        return;
    }
    if (sh->how.out != stdout && fclose(sh->how.out) != 0)
        shell_error(sh, sh->in->line, ".output: cannot write the output: %s", strerror(errno));
    sh->how.out = f;
}

static bool set_mode(shell *sh, const char *mode)
{
    if (!strcmp(mode, "table") || !strcmp(mode, "column") || !strcmp(mode, "box"))
        sh->how.format = CLI_FORMAT_TABLE;
    else if (!strcmp(mode, "csv"))
        sh->how.format = CLI_FORMAT_CSV;
    else if (!strcmp(mode, "json"))
        sh->how.format = CLI_FORMAT_JSON;
    else
        return false;
    return true;
}

static int on_off(const char *arg)
{
    if (arg && (!strcmp(arg, "on") || !strcmp(arg, "yes") || !strcmp(arg, "1")))
        return 1;
    if (arg && (!strcmp(arg, "off") || !strcmp(arg, "no") || !strcmp(arg, "0")))
        return 0;
    return -1;
}

/* What a dot command printed (.dump's above all: a backup made with
 * `.dump > FILE`) that did not reach its file is an error, as a
 * statement's rows are. */
static void check_output(shell *sh, unsigned line)
{
    FILE *out = sh->how.out;
    int failed = fflush(out) != 0 ? errno : ferror(out) ? EIO : 0;
    if (!failed)
        return;
    clearerr(out);
    shell_error(sh, line, "cannot write the output: %s", strerror(failed));
}

/* Splits text into at most `cap` words at blanks, in place. As in
 * sqlite3, a word in '...' or "..." may hold blanks and its quotes are no
 * part of it (`.output 'my rows.csv'`). The count, or -1 for a quote left
 * open. */
static int split_words(char *text, char **words, int cap)
{
    int count = 0;
    char *p = text;
    for (;;) {
        p += strspn(p, " \t\r\n");
        if (!*p || count == cap)
            return count;
        if (*p == '\'' || *p == '"') {
            char *end = strchr(p + 1, *p);
            if (!end)
                return -1;
            *end = '\0';
            words[count++] = p + 1;
            p = end + 1;
            continue;
        }
        words[count++] = p;
        p += strcspn(p, " \t\r\n");
        if (*p)
            *p++ = '\0';
    }
}

static void dot_command(shell *sh, char *text)
{
    char *words[DOT_ARGS_MAX + 1];
    int n = split_words(text, words, DOT_ARGS_MAX + 1);
    unsigned line = sh->in->line;
    char shown[VMDB_PRINTABLE_CAP], shown_cmd[VMDB_PRINTABLE_CAP];
    if (n < 0) {
        /* The command, which starts with '.', was cut off as a word. */
        shell_error(sh, line, "%s: a quote left open", cli_show(shown_cmd, text));
        return;
    }
    char *cmd = words[0];
    char **args = words + 1;
    size_t count = (size_t)n - 1;
    char *arg = count ? args[0] : NULL;
    /* The commands that take at most one argument. */
    bool one = strcmp(cmd, ".import") != 0;
    FILE *out = sh->how.out;
    if (one && count > 1) {
        shell_error(sh, line, "%s: unexpected '%s'", cli_show(shown_cmd, cmd),
                    cli_show(shown, args[1]));
    } else if (!strcmp(cmd, ".quit") || !strcmp(cmd, ".exit")) {
        sh->quit = true;
    } else if (!strcmp(cmd, ".help")) {
        fputs(dot_help, out);
    } else if (!strcmp(cmd, ".tables") && !arg) {
        vmdb_table_foreach(sh->db, print_name, out);
    } else if (!strcmp(cmd, ".schema")) {
        if (!arg) {
            vmdb_table_foreach(sh->db, print_schema, out);
        } else {
            vmdb_table *t;
            if (named_table(sh, arg, &t))
                print_schema(out, t);
        }
    } else if (!strcmp(cmd, ".format") || !strcmp(cmd, ".mode")) {
        static const char *const names[] = {"table", "csv", "json"};
        if (!arg)
            fprintf(out, "%s\n", names[sh->how.format]);
        else if (!set_mode(sh, arg))
            shell_error(sh, line, "unknown %s '%s' (%s)", !strcmp(cmd, ".mode") ? "mode" : "format",
                        cli_show(shown, arg),
                        !strcmp(cmd, ".mode") ? "table, column, csv, json" : "table, csv, json");
    } else if (!strcmp(cmd, ".headers") || !strcmp(cmd, ".header")) {
        int on = on_off(arg);
        if (on < 0)
            shell_error(sh, line, "%s takes on or off", cmd);
        else
            sh->how.no_header = !on;
    } else if (!strcmp(cmd, ".timer")) {
        int on = on_off(arg);
        if (on < 0)
            shell_error(sh, line, ".timer takes on or off");
        else
            sh->timer = on;
    } else if (!strcmp(cmd, ".read")) {
        if (!arg)
            shell_error(sh, line, ".read needs a FILE");
        else
            read_file(sh, arg);
    } else if (!strcmp(cmd, ".output")) {
        set_output(sh, arg);
    } else if (!strcmp(cmd, ".import")) {
        import(sh, args, count);
    } else if (!strcmp(cmd, ".dump")) {
        dump(sh, arg);
    } else if (!strcmp(cmd, ".tables")) {
        shell_error(sh, line, ".tables: unexpected '%s'", cli_show(shown, arg));
    } else {
        shell_error(sh, line, "unknown command '%s' (.help lists them)", cli_show(shown, cmd));
    }
    check_output(sh, line);
}

/* ---- statements --------------------------------------------------------- */

/* The input line and column of offset `off` into buf. */
static void position_of(const input *in, size_t off, unsigned *line, unsigned *col)
{
    *line = in->buf_line;
    *col = in->buf_col;
    for (size_t i = 0; i < off; i++) {
        if (in->buf[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs buf[0, len): one statement, its ';' included (or not, at the end
 * of the input). */
static void run_statement(shell *sh, size_t len)
{
    input *in = sh->in;
    const char *text = in->buf;
    if (vmdb_sql_is_blank(text, len))
        return;
    size_t first = 0;
    while (first < len && (text[first] == ' ' || text[first] == '\t' || text[first] == '\n' ||
                           text[first] == '\r'))
        first++;
    unsigned stmt_line, stmt_col;
    position_of(in, first, &stmt_line, &stmt_col);
    int kind = vmdb_sql_kind(text, len, NULL);
    bool reported;
    double start = now();
    int status = sql_run(sh->db, text, len, &sh->how, &reported);
    if (sh->timer)
        cli_say("run time: %.3f s", now() - start);
    fflush(sh->how.out);
    /* A COMMIT or ROLLBACK ends the transaction whether it worked or not
     * (a commit that fails aborts it). */
    if (kind == VMDB_STMT_BEGIN && status != CLI_ERROR)
        sh->in_txn = true;
    else if (kind == VMDB_STMT_COMMIT || kind == VMDB_STMT_ROLLBACK)
        sh->in_txn = false;
    sh->last_status = status;
    if (status != CLI_ERROR)
        return;
    if (reported) {
        sh->failed = true;
        if (sh->bail)
            sh->quit = true;
        return;
    }
    const char *message = vmdb_last_error()->message;
    vmdb_sql_position at;
    vmdb_sql_error_position(&at);
    if (at.col == 0) {
        shell_error(sh, stmt_line, "%s", message);
        return;
    }
    /* The position counts from the statement's first byte, which may
     * stand after another statement on its line. */
    unsigned line = in->buf_line + at.line - 1;
    unsigned col = at.line == 1 ? in->buf_col + at.col - 1 : at.col;
    shell_error(sh, line, "%.*s (col %u)", (int)at.message_len, message, col);
}

/* Adds a line of input and runs every statement it completes. */
static int add_line(shell *sh, const char *line, size_t n)
{
    input *in = sh->in;
    if (in->len + n + 2 > in->cap) {
        size_t cap = (in->len + n + 2) * 2;
        char *b = realloc(in->buf, cap);
        if (!b)
            return cli_error("out of memory");
        in->buf = b;
        in->cap = cap;
    }
    memcpy(in->buf + in->len, line, n);
    in->len += n;
    in->buf[in->len++] = '\n';
    in->buf[in->len] = '\0';
    size_t end;
    while (!sh->quit && (end = vmdb_sql_statement_length(in->buf, in->len)) > 0) {
        run_statement(sh, end);
        unsigned line_no, col;
        position_of(in, end, &line_no, &col);
        memmove(in->buf, in->buf + end, in->len - end + 1);
        in->len -= end;
        in->buf_line = line_no;
        in->buf_col = col;
    }
    if (vmdb_sql_is_blank(in->buf, in->len)) {
        /* Nothing pending: the next statement starts on the next line. */
        in->len = 0;
        in->buf[0] = '\0';
        in->buf_line = in->line + 1;
        in->buf_col = 1;
    }
    return CLI_OK;
}

/* The quote (' or ") that text[0, len) leaves open after `open`, or 0,
 * by the rules of vmdb_sql_statement_length: a doubled quote closes and
 * opens again, and "--" comments to the line's end. */
static char open_quote(char open, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (open) {
            if (c == open)
                open = 0;
        } else if (c == '\'' || c == '"') {
            open = c;
        } else if (c == '-' && i + 1 < len && text[i + 1] == '-') {
            while (i + 1 < len && text[i + 1] != '\n')
                i++;
        }
    }
    return open;
}

/* Takes line[0, n), which getline may have read with a NUL inside. */
static int handle_line(shell *sh, char *line, size_t n)
{
    input *in = sh->in;
    in->line++;
    const char *nul = memchr(line, '\0', n);
    if (nul) {
        /* The text is handled as a C string: what follows the NUL would
         * be cut off without a word, and the rest of its statement run. */
        shell_error(sh, in->line, "a NUL byte in the input (col %zu): the statement is not run",
                    (size_t)(nul - line) + 1);
        in->len = 0;
        in->buf_line = in->line + 1;
        in->buf_col = 1;
        return CLI_OK;
    }
    if (n && line[n - 1] == '\n')
        line[--n] = '\0';
    /* A CRLF line's '\r' is no part of the statement, unless a string
     * goes on past it: text with "\r\n" in it (.dump writes it so) keeps
     * its '\r'. */
    if (n && line[n - 1] == '\r' && !open_quote(open_quote(0, in->buf, in->len), line, n - 1))
        line[--n] = '\0';
    const char *p = line + strspn(line, " \t");
    if (in->len == 0 && *p == '.') {
        dot_command(sh, (char *)p);
        in->buf_line = in->line + 1;
        in->buf_col = 1;
        return CLI_OK;
    }
    return add_line(sh, line, n);
}

/* A statement without its ';' at the end of the input still runs. */
static void finish_input(shell *sh)
{
    if (!sh->quit && sh->in->len)
        run_statement(sh, sh->in->len);
    sh->in->len = 0;
}

/* Each line of text, as if read. */
static int run_lines(shell *sh, const char *text)
{
    char *copy = strdup(text);
    if (!copy)
        return cli_error("out of memory");
    char *save = NULL;
    int rc = CLI_OK;
    /* strtok_r would skip empty lines, which count. */
    for (char *line = copy; line && rc == CLI_OK && !sh->quit; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        rc = handle_line(sh, line, strlen(line));
    }
    free(copy);
    return rc;
}

static int read_script(shell *sh)
{
    char *line = NULL;
    size_t cap = 0;
    int rc = CLI_OK;
    ssize_t n;
    while (rc == CLI_OK && !sh->quit && (n = getline(&line, &cap, stdin)) >= 0)
        rc = handle_line(sh, line, (size_t)n);
    free(line);
    if (rc == CLI_OK && ferror(stdin)) {
        sh->in->len = 0; /* a statement the failed read cut short */
        rc = cli_error("cannot read the script: %s", strerror(errno));
    }
    return rc;
}

/* libedit's readline interface, as far as the prompt uses it. */
typedef struct line_editor {
    void *lib;
    char *(*readline)(const char *prompt);
    int (*add_history)(const char *line);
    void (*clear_history)(void);
} line_editor;

static bool editor_load(line_editor *ed)
{
    ed->lib = dlopen("libedit.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!ed->lib)
        return false;
    ed->readline = (char *(*)(const char *))dlsym(ed->lib, "readline");
    ed->add_history = (int (*)(const char *))dlsym(ed->lib, "add_history");
    ed->clear_history = (void (*)(void))dlsym(ed->lib, "clear_history");
    if (ed->readline && ed->add_history && ed->clear_history)
        return true;
    dlclose(ed->lib);
    ed->lib = NULL;
    return false;
}

/* A line without its newline, malloc'ed; NULL at the end of the input. */
static char *prompt_line(line_editor *ed, const char *prompt)
{
    if (ed->lib)
        return ed->readline(prompt);
    fputs(prompt, stdout);
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, stdin) < 0) {
        free(line);
        return NULL;
    }
    return line;
}

static int read_terminal(shell *sh)
{
    printf("vmdb %s shell on %s: statements end with ';', .help for more\n", vmdb_version_string(),
           sh->db_name);
    line_editor ed = {0};
    editor_load(&ed);
    int rc = CLI_OK;
    while (rc == CLI_OK && !sh->quit) {
        char *line = prompt_line(&ed, sh->in->len ? "   ...> " : "vmdb> ");
        if (!line) {
            putchar('\n');
            break;
        }
        if (ed.lib && line[strspn(line, " \t")])
            ed.add_history(line);
        rc = handle_line(sh, line, strlen(line));
        free(line);
    }
    /* Not dlclose: libedit's readline keeps its editor in static memory,
     * and the process ends here anyway. */
    if (ed.lib)
        ed.clear_history();
    return rc;
}

/* The input ended inside BEGIN's transaction: rolled back, as sqlite3
 * does, and said, since what it wrote is gone. */
static void end_transaction(shell *sh)
{
    if (!sh->in_txn)
        return;
    sh->in_txn = false;
    fflush(sh->how.out);
    if (vmdb_exec(sh->db, "ROLLBACK", NULL, NULL) == 0)
        cli_say("%s: the input ended inside a transaction (BEGIN without COMMIT): rolled back",
                sh->db_name);
}

int shell_run_text(vmdb_db *db, const char *db_name, const char *text, const sql_output *how,
                   bool bail)
{
    input in = {.buf_line = 1, .buf_col = 1};
    shell sh = {.db = db, .db_name = db_name, .how = *how, .bail = bail, .in = &in};
    int rc = run_lines(&sh, text);
    finish_input(&sh);
    end_transaction(&sh);
    free(in.buf);
    if (rc != CLI_OK || sh.failed)
        return CLI_ERROR;
    return sh.last_status;
}

/* sqlite3 spells its options with one dash (-bail, -csv); the argument
 * parser reads "-bail" as -b with a value, so they are spelled again with
 * two before it sees them. */
static void two_dashes(int argc, char **argv)
{
    static const char *const words[] = {"bail",     "cmd",  "header", "noheader", "csv",
                                        "json",     "table", "readonly", "column", "no-header"};
    static char spelled[sizeof words / sizeof words[0]][16];
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return;
        if (argv[i][0] != '-' || argv[i][1] == '-')
            continue;
        for (size_t w = 0; w < sizeof words / sizeof words[0]; w++)
            if (!strcmp(argv[i] + 1, words[w])) {
                snprintf(spelled[w], sizeof spelled[w], "--%s", words[w]);
                argv[i] = spelled[w];
            }
    }
}

/* --cmd may be given several times: they are taken out here, in order. */
#define CMDS_MAX 16
static int take_cmds(int *argc, char **argv, const char **cmds, size_t *count)
{
    int kept = 0;
    *count = 0;
    bool done = false;
    for (int i = 0; i < *argc; i++) {
        done |= !strcmp(argv[i], "--");
        const char *value = NULL;
        if (!done && !strcmp(argv[i], "--cmd")) {
            if (i + 1 >= *argc)
                return cli_error("option --cmd needs a value");
            value = argv[++i];
        } else if (!done && !strncmp(argv[i], "--cmd=", 6)) {
            value = argv[i] + 6;
        } else {
            argv[kept++] = argv[i];
            continue;
        }
        if (*count == CMDS_MAX)
            return cli_error("--cmd: at most %d", CMDS_MAX);
        cmds[(*count)++] = value;
    }
    argv[kept] = NULL;
    *argc = kept;
    return CLI_OK;
}

static int run(int argc, char **argv)
{
    two_dashes(argc, argv);
    const char *cmds[CMDS_MAX];
    size_t cmd_count;
    if (take_cmds(&argc, argv, cmds, &cmd_count) != CLI_OK)
        return CLI_ERROR;
    const char *format_text = NULL;
    bool readonly = false, bail = false, header = false, noheader = false, csv = false,
         json = false, table = false, column = false, no_header = false;
    const cli_option options[] = {
        CLI_FORMAT_OPTION(&format_text),
        {"readonly", 0, NULL, &readonly},
        {"bail", 0, NULL, &bail},
        {"header", 0, NULL, &header},
        {"noheader", 0, NULL, &noheader},
        {"no-header", 0, NULL, &no_header},
        {"csv", 0, NULL, &csv},
        {"json", 0, NULL, &json},
        {"table", 0, NULL, &table},
        {"column", 0, NULL, &column},
    };
    char *pos[2];
    size_t npos;
    int status;
    if (!cli_command_args(&cli_shell_command, argc, argv, options,
                          sizeof options / sizeof options[0], pos, 1, 2, &npos, &status))
        return status;
    input in = {.buf_line = 1, .buf_col = 1};
    shell sh = {.db_name = pos[0], .readonly = readonly, .bail = bail, .in = &in};
    sh.how.out = stdout;
    if (cli_parse_format(format_text, &sh.how.format) != CLI_OK)
        return CLI_ERROR;
    if (csv + json + table + column > 1)
        return cli_error("shell: one of --csv, --json, --table");
    if (csv)
        sh.how.format = CLI_FORMAT_CSV;
    else if (json)
        sh.how.format = CLI_FORMAT_JSON;
    else if (table || column)
        sh.how.format = CLI_FORMAT_TABLE;
    sh.how.no_header = (noheader || no_header) && !header;
    /* As sqlite3 does, a database that is not there is made, unless the
     * shell is only to read. */
    bool create = !readonly && access(pos[0], F_OK) != 0 && errno == ENOENT;
    if (cli_open_db(pos[0], readonly ? VMDB_DB_READONLY : create ? VMDB_DB_CREATE : 0,
                    &sh.db) != CLI_OK)
        return CLI_ERROR;
    if (create)
        cli_say("%s: no such database: created it", pos[0]);
    status = CLI_OK;
    for (size_t i = 0; i < cmd_count && status == CLI_OK && !sh.quit; i++) {
        status = run_lines(&sh, cmds[i]);
        finish_input(&sh);
    }
    sh.interactive = npos < 2 && isatty(STDIN_FILENO);
    if (status == CLI_OK && !sh.quit)
        status = npos == 2 ? run_lines(&sh, pos[1]) : sh.interactive ? read_terminal(&sh)
                                                                    : read_script(&sh);
    finish_input(&sh);
    end_transaction(&sh);
    free(in.buf);
    if (sh.how.out != stdout && fclose(sh.how.out) != 0 && status == CLI_OK)
        status = cli_error("cannot write the output: %s", strerror(errno));
    if (status == CLI_OK)
        status = sh.failed && !sh.interactive ? CLI_ERROR : CLI_OK;
    return cli_close_db(sh.db, status);
}

const cli_command cli_shell_command = {
    .name = "shell",
    .summary = "the SQL prompt of sqlite3's kind; runs a script or SQL given",
    .usage = usage,
    .run = run,
};
