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

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vmdb: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_ERROR;
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
