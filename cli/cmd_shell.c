/* SPDX-License-Identifier: MIT */
/*
 * cli/cmd_shell.c - `vmdb shell DB`: statements typed at a prompt, or read
 * from standard input when it is not a terminal (a script).
 *
 * A statement ends with ';' outside quotes and comments and may span
 * lines; a line starting with '.' between statements is a dot command.
 * Each statement is one transaction. An error is reported with the line
 * it is on ("vmdb: line 7: syntax error at 'FORM' (col 10)") and the
 * shell goes on; a script that had any error exits with status 2.
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
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sql_run.h"

static const char usage[] =
    "usage: vmdb shell DB [--format table|csv|json]\n"
    "\n"
    "An interactive prompt for the SQL of `vmdb query` (see vmdb query\n"
    "--help) on database DB. Statements end with ';' and may span lines.\n"
    "Dot commands, alone on a line between statements:\n"
    "\n"
    "  .tables            the tables' names\n"
    "  .schema [TABLE]    each table's schema (or TABLE's)\n"
    "  .format [FORMAT]   print rows as table, csv or json (or say which)\n"
    "  .help              this list\n"
    "  .quit              leave (so does end of input, Ctrl-D)\n"
    "\n"
    "When standard input is not a terminal the shell reads a script from it\n"
    "with no prompt: each error is reported with its line number and the\n"
    "script goes on; the exit status is then 2 if any statement failed.\n"
    "Line editing and history (for the session) come from libedit when\n"
    "it is installed (Debian: libedit2).\n";

static const char dot_help[] =
    ".tables            the tables' names\n"
    ".schema [TABLE]    each table's schema (or TABLE's)\n"
    ".format [FORMAT]   print rows as table, csv or json (or say which)\n"
    ".help              this list\n"
    ".quit              leave (so does Ctrl-D)\n"
    "Statements end with ';': SELECT, INSERT, UPDATE, DELETE (vmdb query --help).\n";

typedef struct shell {
    vmdb_db *db;
    const char *db_name;
    enum cli_format format;
    bool interactive;
    bool failed;       /* a statement or command failed */
    bool quit;
    char *buf;         /* text of the statement being gathered */
    size_t len, cap;
    unsigned buf_line; /* input line of buf[0] */
    unsigned buf_col;  /* 1-based column of buf[0] on that line */
    unsigned line;     /* lines read so far */
} shell;

/* "vmdb: line N: message", one line whatever the message echoes. */
static void shell_error(shell *sh, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void shell_error(shell *sh, unsigned line, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fflush(stdout);
    cli_say("line %u: %s", line, msg);
    sh->failed = true;
}

/* ---- dot commands ------------------------------------------------------- */

static int print_name(void *ctx, vmdb_table *table)
{
    (void)ctx;
    printf("%s\n", vmdb_table_name(table));
    return 0;
}

static int print_schema(void *ctx, vmdb_table *table)
{
    (void)ctx;
    const vmdb_schema *s = vmdb_table_schema(table);
    size_t len;
    vmdb_schema_format(s, NULL, 0, &len);
    char *text = malloc(len + 1);
    if (!text)
        return cli_error("out of memory");
    vmdb_schema_format(s, text, len + 1, &len);
    printf("%s: %s\n", vmdb_table_name(table), text);
    free(text);
    return 0;
}

static void dot_command(shell *sh, char *text)
{
    char *save = NULL;
    char *cmd = strtok_r(text, " \t\r\n", &save);
    char *arg = strtok_r(NULL, " \t\r\n", &save);
    char *extra = arg ? strtok_r(NULL, " \t\r\n", &save) : NULL;
    char shown[VMDB_PRINTABLE_CAP], shown_cmd[VMDB_PRINTABLE_CAP];
    if (extra) {
        shell_error(sh, sh->line, "%s: unexpected '%s'", cli_show(shown_cmd, cmd),
                    cli_show(shown, extra));
    } else if (!strcmp(cmd, ".quit") || !strcmp(cmd, ".exit")) {
        sh->quit = true;
    } else if (!strcmp(cmd, ".help")) {
        fputs(dot_help, stdout);
    } else if (!strcmp(cmd, ".tables") && !arg) {
        vmdb_table_foreach(sh->db, print_name, NULL);
    } else if (!strcmp(cmd, ".schema")) {
        if (!arg) {
            vmdb_table_foreach(sh->db, print_schema, NULL);
        } else {
            vmdb_table *t;
            int rc = vmdb_table_open(sh->db, arg, NULL, &t);
            if (rc == VMDB_ENOTFOUND)
                shell_error(sh, sh->line, "%s: no table '%s'", sh->db_name, cli_show(shown, arg));
            else if (rc < 0)
                shell_error(sh, sh->line, "%s", vmdb_last_error()->message);
            else
                print_schema(NULL, t);
        }
    } else if (!strcmp(cmd, ".format")) {
        static const char *const names[] = {"table", "csv", "json"};
        if (!arg)
            printf("%s\n", names[sh->format]);
        else if (!strcmp(arg, "table") || !strcmp(arg, "csv") || !strcmp(arg, "json"))
            sh->format = !strcmp(arg, "table") ? CLI_FORMAT_TABLE
                         : !strcmp(arg, "csv") ? CLI_FORMAT_CSV
                                               : CLI_FORMAT_JSON;
        else
            shell_error(sh, sh->line, "unknown format '%s' (table, csv, json)",
                        cli_show(shown, arg));
    } else if (!strcmp(cmd, ".tables")) {
        shell_error(sh, sh->line, ".tables: unexpected '%s'", cli_show(shown, arg));
    } else {
        shell_error(sh, sh->line, "unknown command '%s' (.help lists them)",
                    cli_show(shown, cmd));
    }
    fflush(stdout);
}

/* ---- statements --------------------------------------------------------- */

/* The input line and column of offset `off` into buf. */
static void position_of(const shell *sh, size_t off, unsigned *line, unsigned *col)
{
    *line = sh->buf_line;
    *col = sh->buf_col;
    for (size_t i = 0; i < off; i++) {
        if (sh->buf[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

/* Runs buf[0, len): one statement, its ';' included (or not, at the end
 * of the input). */
static void run_statement(shell *sh, size_t len)
{
    const char *text = sh->buf;
    if (vmdb_sql_is_blank(text, len))
        return;
    size_t first = 0;
    while (first < len && (text[first] == ' ' || text[first] == '\t' || text[first] == '\n' ||
                           text[first] == '\r'))
        first++;
    unsigned stmt_line, stmt_col;
    position_of(sh, first, &stmt_line, &stmt_col);
    bool reported;
    int status = sql_run(sh->db, text, len, sh->format, false, stdout, &reported);
    fflush(stdout);
    if (status != CLI_ERROR)
        return;
    if (reported) {
        sh->failed = true;
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
    unsigned line = sh->buf_line + at.line - 1;
    unsigned col = at.line == 1 ? sh->buf_col + at.col - 1 : at.col;
    shell_error(sh, line, "%.*s (col %u)", (int)at.message_len, message, col);
}

/* Adds a line of input and runs every statement it completes. */
static int add_line(shell *sh, const char *line, size_t n)
{
    if (sh->len + n + 2 > sh->cap) {
        size_t cap = (sh->len + n + 2) * 2;
        char *b = realloc(sh->buf, cap);
        if (!b)
            return cli_error("out of memory");
        sh->buf = b;
        sh->cap = cap;
    }
    memcpy(sh->buf + sh->len, line, n);
    sh->len += n;
    sh->buf[sh->len++] = '\n';
    sh->buf[sh->len] = '\0';
    size_t end;
    while (!sh->quit && (end = vmdb_sql_statement_length(sh->buf, sh->len)) > 0) {
        run_statement(sh, end);
        unsigned line_no, col;
        position_of(sh, end, &line_no, &col);
        memmove(sh->buf, sh->buf + end, sh->len - end + 1);
        sh->len -= end;
        sh->buf_line = line_no;
        sh->buf_col = col;
    }
    if (vmdb_sql_is_blank(sh->buf, sh->len)) {
        /* Nothing pending: the next statement starts on the next line. */
        sh->len = 0;
        sh->buf[0] = '\0';
        sh->buf_line = sh->line + 1;
        sh->buf_col = 1;
    }
    return CLI_OK;
}

static int handle_line(shell *sh, char *line)
{
    sh->line++;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    const char *p = line + strspn(line, " \t");
    if (sh->len == 0 && *p == '.') {
        dot_command(sh, (char *)p);
        sh->buf_line = sh->line + 1;
        sh->buf_col = 1;
        return CLI_OK;
    }
    return add_line(sh, line, n);
}

static int read_script(shell *sh)
{
    char *line = NULL;
    size_t cap = 0;
    int rc = CLI_OK;
    while (rc == CLI_OK && !sh->quit && getline(&line, &cap, stdin) >= 0)
        rc = handle_line(sh, line);
    free(line);
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
        char *line = prompt_line(&ed, sh->len ? "   ...> " : "vmdb> ");
        if (!line) {
            putchar('\n');
            break;
        }
        if (ed.lib && line[strspn(line, " \t")])
            ed.add_history(line);
        rc = handle_line(sh, line);
        free(line);
    }
    /* Not dlclose: libedit's readline keeps its editor in static memory,
     * and the process ends here anyway. */
    if (ed.lib)
        ed.clear_history();
    return rc;
}

static int run(int argc, char **argv)
{
    char *pos[1];
    int status;
    shell sh = {.buf_line = 1, .buf_col = 1};
    if (!cli_start_db_command(&cli_shell_command, argc, argv, 1, pos, NULL, 0, &sh.format, &sh.db,
                              &status))
        return status;
    sh.db_name = pos[0];
    sh.interactive = isatty(STDIN_FILENO);
    status = sh.interactive ? read_terminal(&sh) : read_script(&sh);
    /* A statement without its ';' at the end of the input still runs. */
    if (status == CLI_OK && !sh.quit && sh.len)
        run_statement(&sh, sh.len);
    free(sh.buf);
    if (status == CLI_OK)
        status = sh.failed && !sh.interactive ? CLI_ERROR : CLI_OK;
    return cli_close_db(sh.db, status);
}

const cli_command cli_shell_command = {
    .name = "shell",
    .summary = "an interactive SQL prompt; runs a script from stdin",
    .usage = usage,
    .run = run,
};
