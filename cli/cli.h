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

/* Prints "vmdb: " and the formatted message on stderr, one line, and
 * returns CLI_ERROR so a command can `return cli_error(...)`. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports the library's last error ("vmdb: <message>") and returns
 * CLI_ERROR. */
int cli_library_error(void);

/* True if `arg` is -h or --help. */
bool cli_is_help(const char *arg);

/* Parses a byte count such as "64", "4k" or "1M" into *out; false if it is
 * not one. */
bool cli_parse_size(const char *text, uint64_t *out);

/* Prints `len` bytes as hexdump -C does, 16 to a line, each line headed
 * by `prefix` and the offset from `first_offset`. */
void cli_hexdump(FILE *out, const char *prefix, const void *data, size_t len,
                 uint64_t first_offset);

#endif /* VMDB_CLI_H */
