/* SPDX-License-Identifier: MIT */
/*
 * cli/main.c - the vmdb command: finds the command named by the first
 * argument and hands it the rest.
 */
#include <string.h>

#include "cli.h"
#include "vmdb.h"

static const cli_command *const commands[] = {
    &cli_create_command, &cli_tables_command, &cli_schema_command, &cli_drop_command,
    &cli_put_command,    &cli_get_command,    &cli_del_command,    &cli_query_command,
    &cli_shell_command,  &cli_import_command, &cli_export_command, &cli_stats_command,
    &cli_check_command,  &cli_wal_command,    &cli_recover_command, &cli_checkpoint_command,
    &cli_compact_command, &cli_backup_command, &cli_dump_command,
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void print_usage(FILE *out)
{
    fprintf(out, "usage: vmdb [--timeout MS] COMMAND [ARGS...]   (vmdb COMMAND --help for "
                 "details)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\noptions:\n"
                 "  --help        this text\n"
                 "  --version     the vmdb version\n"
                 "  --timeout MS  how long a command that writes waits for the write lock\n"
                 "                another process holds, saying after a second which pid\n"
                 "                it waits for (default %u, 0 = forever); anywhere on the\n"
                 "                line, as a command's own options\n"
                 "\nexit status: 0 done or found, 1 not found, 2 error\n",
            CLI_DEFAULT_TIMEOUT_MS);
}

int main(int argc, char **argv)
{
    if (cli_take_global_options(&argc, argv) != CLI_OK)
        return CLI_ERROR;
    if (argc < 2) {
        print_usage(stderr);
        return CLI_ERROR;
    }
    const char *name = argv[1];
    if (cli_is_help(name)) {
        print_usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("vmdb %s\n", vmdb_version_string());
        return CLI_OK;
    }
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (!strcmp(name, commands[i]->name))
            return commands[i]->run(argc - 2, argv + 2);
    char shown[VMDB_PRINTABLE_CAP];
    return cli_error("unknown command '%s' (vmdb --help lists them)", cli_show(shown, name));
}
