/* SPDX-License-Identifier: MIT */
/*
 * engine/base/text.c - strings the engine builds: file names and
 * messages, malloc'ed, so that no caller guesses a buffer's size.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

char *vmdb__format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n < 0 ? NULL : malloc((size_t)n + 1);
    if (p) {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}

char *vmdb__path_join(const char *dir, const char *name, const char *ext)
{
    return vmdb__format("%s/%s%s", dir, name, ext);
}
