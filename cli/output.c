/* SPDX-License-Identifier: MIT */
/*
 * cli/output.c - messages, argument helpers and the hexdump the commands
 * share.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vmdb.h"

/*
 * The one place a message reaches stderr. The names and values in it are
 * shown (cli_show) by whoever formats it; the whole line is shown once
 * more, which leaves those alone and escapes what was passed whole, such
 * as a path holding a newline, so the message stays one line.
 */
static void say(const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    char line[1024], shown[4 * sizeof line + 1];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    size_t len = n < 0 ? 0 : (size_t)n;
    char *long_line = NULL, *long_shown = NULL;
    if (len >= sizeof line) {
        long_line = malloc(len + 1);
        long_shown = long_line ? malloc(4 * len + 1) : NULL;
    }
    if (long_shown) {
        vsnprintf(long_line, len + 1, fmt, again);
        fprintf(stderr, "vmdb: %s\n", vmdb_printable(long_line, len, long_shown, 4 * len + 1));
    } else {
        /* Out of memory for a line this long: its start will do. */
        size_t start = len < sizeof line ? len : sizeof line - 1;
        fprintf(stderr, "vmdb: %s\n", vmdb_printable(line, start, shown, sizeof shown));
    }
    va_end(again);
    free(long_line);
    free(long_shown);
}

void cli_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
    return CLI_ERROR;
}

const char *cli_show(char buf[VMDB_PRINTABLE_CAP], const char *text)
{
    return vmdb_printable(text, strlen(text), buf, VMDB_PRINTABLE_CAP);
}

int cli_library_error(void)
{
    return cli_error("%s", vmdb_last_error()->message);
}

bool cli_is_help(const char *arg)
{
    return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

const char *cli_plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

bool cli_parse_size(const char *text, uint64_t *out)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return false;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k': case 'K':
        shift = 10;
        break;
    case 'm': case 'M':
        shift = 20;
        break;
    case 'g': case 'G':
        shift = 30;
        break;
    default:
        return false;
    }
    if (*end && end[1] != '\0')
        return false;
    if (shift && v > (UINT64_MAX >> shift))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

void cli_hexdump(FILE *out, const char *prefix, const void *data, size_t len,
                 uint64_t first_offset)
{
    const unsigned char *p = data;
    for (size_t line = 0; line < len; line += 16) {
        size_t n = len - line < 16 ? len - line : 16;
        fprintf(out, "%s%08llx: ", prefix, (unsigned long long)(first_offset + line));
        for (size_t i = 0; i < 16; i++) {
            if (i < n)
                fprintf(out, "%02x ", p[line + i]);
            else
                fputs("   ", out);
        }
        fputs(" |", out);
        for (size_t i = 0; i < n; i++)
            fputc(isprint(p[line + i]) ? p[line + i] : '.', out);
        fputs("|\n", out);
    }
}
