/* SPDX-License-Identifier: MIT */
/*
 * engine/base/text.c - strings the engine builds: file names and
 * messages, malloc'ed, so that no caller guesses a buffer's size; and the
 * one text of a float that every layer prints.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * The fewest significant digits (1 to 17; 9 for a float) whose decimal
 * reads back as the same value are found with %.*e; the text is then
 * written without an exponent when the decimal exponent is in [-4, 16),
 * as Python's repr does, so that 500.0 is "500" and not "5e+02", and
 * 1e300 stays "1e+300" rather than 301 digits. Both forms round at the same
 * decimal place, so they give the same digits.
 */
size_t vmdb__double_text(double d, bool single, char *dst, size_t cap)
{
    char tmp[VMDB__DOUBLE_TEXT_CAP];
    if (isnan(d))
        snprintf(tmp, sizeof tmp, "nan");
    else if (isinf(d))
        snprintf(tmp, sizeof tmp, d < 0 ? "-inf" : "inf");
    else if (d == 0)
        snprintf(tmp, sizeof tmp, signbit(d) ? "-0" : "0");
    else {
        int digits = 1;
        for (; digits < 17; digits++) {
            snprintf(tmp, sizeof tmp, "%.*e", digits - 1, d);
            if (single ? strtof(tmp, NULL) == (float)d : strtod(tmp, NULL) == d)
                break;
        }
        snprintf(tmp, sizeof tmp, "%.*e", digits - 1, d);
        int exp = atoi(strchr(tmp, 'e') + 1);
        if (exp >= -4 && exp < 16) {
            int decimals = digits - 1 - exp;
            snprintf(tmp, sizeof tmp, "%.*f", decimals > 0 ? decimals : 0, d);
        }
        /* Otherwise %e's own text is it: "1.5e+300". */
    }
    size_t len = strlen(tmp);
    if (cap) {
        size_t n = len < cap ? len : cap - 1;
        memcpy(dst, tmp, n);
        dst[n] = '\0';
    }
    return len;
}
