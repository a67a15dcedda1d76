/* SPDX-License-Identifier: MIT */
/*
 * cli/cli.h - what the vmdb command's files share. The CLI is a thin layer
 * over the public API (-Iinclude only): it parses arguments, calls the
 * library and prints; it keeps no storage logic of its own.
 */
#ifndef VMDB_CLI_H
#define VMDB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmdb.h"

/* Exit statuses, as grep's: found/done, not found/no rows, error. */
enum { CLI_OK = 0, CLI_NOT_FOUND = 1, CLI_ERROR = 2 };

/* A command: its name, a one-line summary, its usage text and its entry
 * point, which gets the arguments after the command name. */
typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;
    int (*run)(int argc, char **argv);
} cli_command;

extern const cli_command cli_dump_command;
extern const cli_command cli_create_command, cli_tables_command, cli_schema_command,
    cli_drop_command;
extern const cli_command cli_put_command, cli_get_command, cli_del_command;
extern const cli_command cli_stats_command, cli_check_command, cli_checkpoint_command,
    cli_compact_command, cli_backup_command;
extern const cli_command cli_wal_command, cli_recover_command;
extern const cli_command cli_import_command, cli_export_command;
extern const cli_command cli_query_command, cli_shell_command;

/* Prints "vmdb: " and the formatted message on stderr, one line whatever
 * its arguments hold (control characters are escaped), and returns
 * CLI_ERROR so a command can `return cli_error(...)`. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The same for a message that is not an error: "vmdb: waiting for ...". */
void cli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* `text`, a name or value that came from the user or a file, as a message
 * shows it (vmdb_printable): escaped, and cut past about 64 bytes with
 * its length. Every message that echoes one goes through this. Returns
 * buf. */
const char *cli_show(char buf[VMDB_PRINTABLE_CAP], const char *text);

/* Reports the library's last error ("vmdb: <message>") and returns
 * CLI_ERROR. */
int cli_library_error(void);

/*
 * Output that shows one committed state of db (cli/consistent.c), for
 * export, which prints records; a SELECT gets this from the library:
 * produce(ctx, out, limit) prints on out and returns a CLI status, or
 * CLI_OUTPUT_FULL once cli_output_full(out, limit) says it printed past
 * `limit` (0: no limit). It may run more than once: only the output of
 * the run that saw one state reaches `out`, and none of it if that run
 * failed (unless it printed straight out, past the buffer). Returns
 * produce's status.
 */
enum { CLI_OUTPUT_FULL = 3 };
typedef int (*cli_producer)(void *ctx, FILE *out, size_t limit);
int cli_read_consistently(vmdb_db *db, FILE *out, cli_producer produce, void *ctx);
bool cli_output_full(FILE *out, size_t limit);

/* True if `arg` is -h or --help. */
bool cli_is_help(const char *arg);

/* "s" unless n is 1: "1 table", "2 tables". */
const char *cli_plural(uint64_t n);

/* Parses a byte count such as "64", "4k" or "1M" into *out; false if it is
 * not one. */
bool cli_parse_size(const char *text, uint64_t *out);

/* Prints `len` bytes as hexdump -C does, 16 to a line, each line headed
 * by `prefix` and the offset from `first_offset`. */
void cli_hexdump(FILE *out, const char *prefix, const void *data, size_t len,
                 uint64_t first_offset);


/* ---- arguments ---------------------------------------------------------- */

/*
 * An option a command accepts. Options may stand before or after the
 * positional arguments (docs/design.md, "The CLI contract"): "--name value",
 * "--name=value", "-c value" or "-cvalue" for a short name; "--" ends the
 * options, and "-" alone (standard input or output) and a negative number
 * ("-5", "-0.5": a key, say) are positional arguments.
 */
typedef struct cli_option {
    const char *name;    /* long name without the dashes: "format" */
    char short_name;     /* 'n' for -n, or 0 */
    const char **value;  /* where the value goes; NULL for a flag */
    bool *present;       /* set to true when given; may be NULL */
} cli_option;

/*
 * Splits argv into the options in `options` and the positional arguments,
 * which are stored in order into pos (capacity max_pos) and counted in
 * *npos. -h and --help set *help (and nothing else is checked, so
 * "vmdb put --help" works whatever else is there). An unknown option, a
 * missing value or more than max_pos positionals print one line naming
 * it on stderr and return CLI_ERROR; otherwise CLI_OK.
 */
int cli_parse_args(int argc, char **argv, const cli_option *options, size_t count,
                   char **pos, size_t max_pos, size_t *npos, bool *help);

/*
 * The start of every command: parses argv with cli_parse_args; --help
 * prints cmd->usage on stdout; fewer than min_pos positionals is
 * "vmdb: NAME: missing arguments; usage: <the usage's first line>". True
 * when the command should go on; otherwise *status is what it returns
 * (CLI_OK after --help, CLI_ERROR after a message).
 */
bool cli_command_args(const cli_command *cmd, int argc, char **argv, const cli_option *options,
                      size_t count, char **pos, size_t min_pos, size_t max_pos, size_t *npos,
                      int *status);

/* ---- record output ------------------------------------------------------ */

/* --format: an aligned table for people (the default), CSV with a header
 * row (RFC 4180 quoting), or JSON lines (one object per row, numbers as
 * numbers, strings escaped). */
enum cli_format { CLI_FORMAT_TABLE, CLI_FORMAT_CSV, CLI_FORMAT_JSON };

/* The --format (-f) option, for a command's options array. */
#define CLI_FORMAT_OPTION(where) {"format", 'f', (where), NULL}

/* Parses "table", "csv" or "json" (NULL gives the default, table);
 * anything else prints "vmdb: unknown format 'x' (table, csv, json)" and
 * returns CLI_ERROR. */
int cli_parse_format(const char *text, enum cli_format *out);

/* How a cell is written in JSON: a number (unquoted; "inf", "-inf" and
 * "nan", which JSON lacks, are written as strings), true/false, or a
 * string. */
enum cli_cell_kind { CLI_CELL_NUMBER, CLI_CELL_BOOL, CLI_CELL_TEXT };

typedef struct cli_cell {
    const char *text; /* the value as text; not NUL-terminated */
    size_t len;
    enum cli_cell_kind kind;
} cli_cell;

/* Cells for values a command computes: a number written into buf (at
 * least CLI_U64_TEXT bytes, which must outlive the cell), and a text
 * (NUL-terminated, referenced, not copied). */
#define CLI_U64_TEXT 24
cli_cell cli_u64_cell(char *buf, uint64_t v);
cli_cell cli_text_cell(const char *text);

typedef struct cli_printer cli_printer;

/* Starts printing rows of `columns` cells named `names` (copied) to `out`
 * in `format`. The table format buffers rows to size its columns, so
 * nothing may appear until cli_printer_close. NULL only when out of
 * memory (message printed). */
cli_printer *cli_printer_open(enum cli_format format, FILE *out, size_t columns,
                              const char *const *names);
/* Leaves the header out (the table's names and dashes, the csv's first
 * line), for a shell's `.headers off`; before the first row. */
void cli_printer_no_header(cli_printer *p);
/* Prints (or buffers) one row of `columns` cells; the cells are copied. */
int cli_printer_row(cli_printer *p, const cli_cell *cells);
/* Rows given so far. */
uint64_t cli_printer_rows(const cli_printer *p);
/* Prints what is buffered, flushes and frees the printer; CLI_ERROR with a
 * message when the output could not be written (a full disk, a closed
 * pipe), else CLI_OK. Accepts NULL. */
int cli_printer_close(cli_printer *p);

/* The cell kind for a field of the given type. */
enum cli_cell_kind cli_cell_kind_of(enum vmdb_type type);

/* Prints every field of `record` as one row (the printer's columns being
 * the schema's fields in order). */
int cli_print_record(cli_printer *p, const vmdb_schema *schema, const void *record);

/* ---- database access ---------------------------------------------------- */

/* The global option --timeout MS: how long a command that writes waits
 * for the write lock another process holds before it fails with "vmdb:
 * DB: database is locked (pid N ...)"; 0 waits as long as it takes. */
#define CLI_DEFAULT_TIMEOUT_MS 5000
extern unsigned cli_lock_timeout_ms;

/*
 * Takes the global options (--timeout MS, --timeout=MS) out of argv,
 * wherever they stand before a "--", so that the commands never see them;
 * *argc shrinks to match and argv[*argc] becomes NULL (argv holds *argc +
 * 1 entries, as main's does). A bad value prints one line and returns
 * CLI_ERROR.
 */
int cli_take_global_options(int *argc, char **argv);

/*
 * Opens the database in directory `path` for a command. `flags` are
 * vmdb_db_flag bits: VMDB_DB_READONLY for commands that only read,
 * VMDB_DB_CREATE for `create`. A missing database is
 * "vmdb: PATH: no such database"; other failures print the library's
 * message. An open for writing waits cli_lock_timeout_ms for the write
 * lock, and after a second of it says on stderr whom it waits for.
 * Returns CLI_OK or CLI_ERROR.
 */
int cli_open_db(const char *path, unsigned flags, vmdb_db **out);

/* Closes a database the command opened and returns the command's exit
 * status: `status`, or CLI_ERROR with the library's message when the
 * close failed (its last checkpoint) and nothing was reported yet.
 * Accepts NULL. */
int cli_close_db(vmdb_db *db, int status);

/*
 * The start of a command of the form `vmdb NAME DB [ARG...] [--format F]`
 * taking exactly `npos` positionals (DB first): parses the arguments, the
 * format (`default_format` when none is given; NULL for the usual) and
 * opens DB with `flags`. True when the command should go on, with pos,
 * *format and *db set; otherwise *status is what it returns.
 */
bool cli_start_db_command(const cli_command *cmd, int argc, char **argv, size_t npos, char **pos,
                          const char *default_format, unsigned flags, enum cli_format *format,
                          vmdb_db **db, int *status);

/* Ends a command that listed rows through `printer` (which may be NULL):
 * closes it and the database, and returns the exit status: CLI_ERROR
 * when `status` or either close failed, CLI_NOT_FOUND when no row was
 * listed, else CLI_OK. */
int cli_end_listing(cli_printer *printer, vmdb_db *db, int status);

/* The open table `name`: "vmdb: DB: no table 'name'" if it is missing. */
int cli_open_table(vmdb_db *db, const char *db_path, const char *name, vmdb_table **out);

/* Reports the library's last error prefixed with the table's name, since
 * record messages start with the field: "vmdb: people.age: value 300 does
 * not fit u8". Only for the vmdb_record_* calls: other messages start
 * with a path. Returns CLI_ERROR. */
int cli_table_error(const char *table);

/*
 * Fills `record` (zeroed by the caller, record_size bytes) with the key
 * given as text and points *key / *key_len at the key bytes inside it, as
 * vmdb_table_get and vmdb_txn_delete take them. A text that is not a value of
 * the key's type prints the library's message prefixed with the table
 * and returns CLI_ERROR.
 */
int cli_key_from_text(vmdb_table *table, const char *text, void *record, const void **key,
                      size_t *key_len);

#endif /* VMDB_CLI_H */
