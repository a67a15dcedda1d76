/* SPDX-License-Identifier: MIT */
/*
 * cli/args.c - splits a command's arguments into options and positional
 * arguments, options being allowed anywhere (docs/design.md, "The CLI
 * contract"), as `vmdb get DB people 7 --format json` and `vmdb get
 * --format json DB people 7` are the same request.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A help request wins over everything else on the line, so that a user
 * who got an error can append --help to the same command and read the
 * usage instead of the same error again. */
static bool asks_for_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return false;
        if (cli_is_help(argv[i]))
            return true;
    }
    return false;
}

/* "-5" and "-0.5" are values (a negative key, say), not options: no
 * option has a digit for its short name, so nothing is lost. */
static bool looks_like_number(const char *arg)
{
    return arg[0] == '-' && (isdigit((unsigned char)arg[1]) ||
                             (arg[1] == '.' && isdigit((unsigned char)arg[2])));
}

static const cli_option *find_long(const cli_option *options, size_t count, const char *name,
                                   size_t name_len)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(options[i].name) == name_len && !strncmp(options[i].name, name, name_len))
            return &options[i];
    return NULL;
}

static const cli_option *find_short(const cli_option *options, size_t count, char c)
{
    for (size_t i = 0; i < count; i++)
        if (options[i].short_name && options[i].short_name == c)
            return &options[i];
    return NULL;
}

static void take(const cli_option *opt, const char *value)
{
    if (opt->value)
        *opt->value = value;
    if (opt->present)
        *opt->present = true;
}

/*
 * One option at argv[*i]: "--name", "--name=value", "--name value", "-c",
 * "-c value" or "-cvalue". *i moves past the value when it is the next
 * argument.
 */
static int parse_option(int argc, char **argv, int *i, const cli_option *options, size_t count)
{
    const char *arg = argv[*i];
    const cli_option *opt;
    const char *inline_value = NULL;
    char shown[VMDB_PRINTABLE_CAP];
    if (arg[1] == '-') {
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        opt = find_long(options, count, name, name_len);
        if (!opt)
            return cli_error("unknown option '%s'",
                             vmdb_printable(arg, name_len + 2, shown, sizeof shown));
        if (eq) {
            if (!opt->value)
                return cli_error("option --%s takes no value ('%s')", opt->name,
                                 cli_show(shown, arg));
            inline_value = eq + 1;
        }
    } else {
        opt = find_short(options, count, arg[1]);
        if (!opt)
            return cli_error("unknown option '-%s'",
                             vmdb_printable(arg + 1, 1, shown, sizeof shown));
        if (arg[2] != '\0') {
            if (!opt->value)
                return cli_error("option -%c takes no value ('%s')", arg[1], cli_show(shown, arg));
            inline_value = arg + 2;
        }
    }
    if (!opt->value) {
        take(opt, NULL);
        return CLI_OK;
    }
    if (!inline_value) {
        if (*i + 1 >= argc)
            return cli_error("option %s needs a value", cli_show(shown, arg));
        inline_value = argv[++*i];
    }
    take(opt, inline_value);
    return CLI_OK;
}

int cli_parse_args(int argc, char **argv, const cli_option *options, size_t count,
                   char **pos, size_t max_pos, size_t *npos, bool *help)
{
    *npos = 0;
    *help = false;
    if (asks_for_help(argc, argv)) {
        *help = true;
        return CLI_OK;
    }
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i];
        if (!options_done && !strcmp(arg, "--")) {
            options_done = true;
            continue;
        }
        if (!options_done && arg[0] == '-' && arg[1] != '\0' && !looks_like_number(arg)) {
            if (parse_option(argc, argv, &i, options, count) != CLI_OK)
                return CLI_ERROR;
            continue;
        }
        char shown[VMDB_PRINTABLE_CAP];
        if (*npos >= max_pos)
            return cli_error("unexpected argument '%s'", cli_show(shown, arg));
        pos[(*npos)++] = arg;
    }
    return CLI_OK;
}

static int parse_timeout(const char *text)
{
    char *end;
    errno = 0;
    unsigned long ms = strtoul(text, &end, 10);
    /* strtoul would take a sign or leading blanks: a digit must come first. */
    char shown[VMDB_PRINTABLE_CAP];
    if (!isdigit((unsigned char)text[0]) || *end || errno || ms > UINT_MAX)
        return cli_error("--timeout: '%s' is not a number of milliseconds", cli_show(shown, text));
    cli_lock_timeout_ms = (unsigned)ms;
    return CLI_OK;
}

/* Global options are taken out before the command parses the rest, which
 * keeps them out of every command's option table while they still stand
 * anywhere, as the command's own options do. */
int cli_take_global_options(int *argc, char **argv)
{
    static const char timeout[] = "--timeout";
    int kept = 0;
    bool options_done = false;
    for (int i = 0; i < *argc; i++) {
        const char *arg = argv[i];
        options_done |= !strcmp(arg, "--");
        if (!options_done && !strcmp(arg, timeout)) {
            if (i + 1 >= *argc)
                return cli_error("option --timeout needs a value");
            if (parse_timeout(argv[++i]) != CLI_OK)
                return CLI_ERROR;
        } else if (!options_done && !strncmp(arg, timeout, sizeof timeout - 1) &&
                   arg[sizeof timeout - 1] == '=') {
            if (parse_timeout(arg + sizeof timeout) != CLI_OK)
                return CLI_ERROR;
        } else {
            argv[kept++] = argv[i];
        }
    }
    argv[kept] = NULL;
    *argc = kept;
    return CLI_OK;
}

/* "usage: vmdb create DB TABLE SCHEMA\n..." gives "vmdb create DB TABLE
 * SCHEMA": the one line an error message has room for. */
static int usage_error(const cli_command *cmd, const char *what)
{
    const char *line = cmd->usage;
    if (!strncmp(line, "usage: ", 7))
        line += 7;
    int len = (int)strcspn(line, "\n");
    return cli_error("%s: %s; usage: %.*s", cmd->name, what, len, line);
}

bool cli_command_args(const cli_command *cmd, int argc, char **argv, const cli_option *options,
                      size_t count, char **pos, size_t min_pos, size_t max_pos, size_t *npos,
                      int *status)
{
    bool help;
    *status = cli_parse_args(argc, argv, options, count, pos, max_pos, npos, &help);
    if (*status != CLI_OK)
        return false;
    if (help) {
        fputs(cmd->usage, stdout);
        return false;
    }
    if (*npos < min_pos) {
        *status = usage_error(cmd, "missing arguments");
        return false;
    }
    return true;
}
