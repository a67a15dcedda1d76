/* SPDX-License-Identifier: MIT */
/*
 * engine/base/error.c - error codes, their names, and the per-thread context.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local vmdb_error last_error;

const char *vmdb_strerror(int code)
{
    switch (code) {
    case VMDB_OK:
        return "success";
#define VMDB__ERROR_TEXT(name, value, text)                                    \
    case VMDB_E##name:                                                         \
        return text;
        VMDB_ERROR_MAP(VMDB__ERROR_TEXT)
#undef VMDB__ERROR_TEXT
    }
    return "unknown error code";
}

const char *vmdb_error_name(int code)
{
    switch (code) {
    case VMDB_OK:
        return "VMDB_OK";
#define VMDB__ERROR_NAME(name, value, text)                                    \
    case VMDB_E##name:                                                         \
        return "VMDB_E" #name;
        VMDB_ERROR_MAP(VMDB__ERROR_NAME)
#undef VMDB__ERROR_NAME
    }
    return "VMDB_E?";
}

const vmdb_error *vmdb_last_error(void)
{
    return &last_error;
}

void vmdb_error_clear(void)
{
    memset(&last_error, 0, sizeof last_error);
}


int vmdb__code_from_errno(int err)
{
    switch (err) {
    case 0:
        return VMDB_OK;
    case ENOENT:
    case ENOTDIR:
        return VMDB_ENOENT;
    case EEXIST:
        return VMDB_EEXIST;
    case EACCES:
    case EPERM:
    case EROFS:
        return VMDB_EACCES;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        /* EFBIG (RLIMIT_FSIZE or the file system's largest file) is the
         * same verdict for a caller: the file cannot have more bytes. */
        return VMDB_ENOSPC;
    case ENOMEM:
        return VMDB_ENOMEM;
    case EINVAL:
    case EISDIR:
    case ENAMETOOLONG:
        return VMDB_EINVAL;
    case EBUSY:
    case EAGAIN: /* also EWOULDBLOCK: a lock held elsewhere */
        return VMDB_EBUSY;
    case EOPNOTSUPP:
    case ENODEV:
        return VMDB_EUNSUPPORTED;
    case ENODATA:
        return VMDB_EBADSIZE;
    default:
        return VMDB_EIO;
    }
}

/* ---- text a message did not write itself -------------------------------- */

/* The length of the valid UTF-8 sequence at s (n bytes available) and its
 * code point, or 0 if the bytes there are not one: overlong forms,
 * surrogates and code points past U+10FFFF are refused (RFC 3629). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        *cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        *cp = c & 0x0f;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        *cp = c & 0x07;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
        *cp = *cp << 6 | (s[i] & 0x3f);
    }
    return len;
}

/* Characters that are valid text but would end the message's line on
 * some terminal, or make it read in another order than it is stored. */
static bool breaks_the_line(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == 0x200e ||
           cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* How the character at s (n bytes available) is shown: its text into
 * unit, its length into *unit_len; returns the bytes of s it stands for. */
static size_t show_one(const unsigned char *s, size_t n, char unit[12], size_t *unit_len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = s[0];
    uint32_t cp;
    size_t len = c >= 0x80 ? utf8_decode(s, n, &cp) : 0;
    if ((c >= 0x20 && c < 0x7f) || (len && !breaks_the_line(cp))) {
        size_t k = len ? len : 1;
        memcpy(unit, s, k);
        *unit_len = k;
        return k;
    }
    if (len) {
        *unit_len = (size_t)snprintf(unit, 12, "\\u%04x", (unsigned)cp);
        return len;
    }
    unit[0] = '\\';
    if (c == '\n' || c == '\t' || c == '\r') {
        unit[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
        *unit_len = 2;
    } else {
        unit[1] = 'x';
        unit[2] = hex[c >> 4];
        unit[3] = hex[c & 15];
        *unit_len = 4;
    }
    return 1;
}

/* vmdb_printable, with the note of a cut naming `total` bytes: a caller
 * that formatted its text into a buffer too small knows how long it was. */
static const char *show(const void *text, size_t len, size_t total, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    const unsigned char *s = text;
    char note[40];
    int note_len = snprintf(note, sizeof note, "... (%zu bytes)", total);
    /* The text up to `keep` leaves room for the note, should a later
     * character not fit. */
    size_t room = cap - 1, out = 0, keep = 0, i = 0;
    while (i < len) {
        char unit[12];
        size_t unit_len;
        size_t used = show_one(s + i, len - i, unit, &unit_len);
        if (out + unit_len > room)
            break;
        memcpy(buf + out, unit, unit_len);
        out += unit_len;
        if (out + (size_t)note_len <= room)
            keep = out;
        i += used;
    }
    if (i == len && total == len) {
        buf[out] = '\0';
        return buf;
    }
    snprintf(buf + keep, cap - keep, "%s", note);
    return buf;
}

const char *vmdb_printable(const void *text, size_t len, char *buf, size_t cap)
{
    return show(text, len, len, buf, cap);
}

/* ---- the thread's error context ----------------------------------------- */

/*
 * Every message goes through show(): the names and values a caller quotes
 * are shown already, and this catches what it passes whole, such as a
 * path with a newline in it, so that the message stays one line.
 */
static void record(int code, int os_errno, const char *fmt, va_list ap)
{
    last_error.code = code;
    last_error.os_errno = os_errno;
    char raw[2 * sizeof last_error.message];
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    if (n < 0)
        n = 0;
    size_t len = (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;
    show(raw, len, (size_t)n, last_error.message, sizeof last_error.message);
    if (os_errno) {
        size_t used = strlen(last_error.message);
        snprintf(last_error.message + used, sizeof last_error.message - used,
                 ": %s", strerror(os_errno));
    }
}

int vmdb__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int vmdb__fail_os(int neg_errno, const char *fmt, ...)
{
    int err = -neg_errno;
    int code = vmdb__code_from_errno(err);
    va_list ap;
    va_start(ap, fmt);
    record(code, err, fmt, ap);
    va_end(ap);
    return code;
}

const char *vmdb__printable_magic(const char magic[8], char buf[40])
{
    char *p = buf;
    for (int i = 0; i < 8; i++) {
        unsigned char c = (unsigned char)magic[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            *p++ = (char)c;
        else
            p += sprintf(p, "\\x%02x", c);
    }
    *p = '\0';
    return buf;
}

int vmdb__options_version(unsigned version, unsigned known, const char *what)
{
    if (version > known)
        return vmdb__fail(VMDB_EVERSION,
                          "%s: options version %u is newer than this library's (%u): the "
                          "program was compiled against a newer vmdb",
                          what, version, known);
    return 0;
}
