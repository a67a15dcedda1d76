/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_text.c - values as the text `vmdb query` prints, and
 * the UTF-8 characters that LIKE, the text functions and ESCAPE count.
 * Beneath the evaluator and the functions alike, calling neither.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "sql.h"

/* Bytes of the UTF-8 character at s[0] (of n > 0): 1 for a byte that
 * does not start a well-formed sequence. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t want = s[0] < 0xc0 ? 1 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf8 ? 4 : 1;
    if (want > n)
        return 1;
    for (size_t i = 1; i < want; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 1;
    return want;
}

size_t sql_utf8_encode(unsigned cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

size_t sql_like_char_len(const char *s, size_t n)
{
    return utf8_len((const unsigned char *)s, n);
}

static void int_text(sql_int v, char *dst, size_t cap)
{
    if (v < 0)
        snprintf(dst, cap, "%lld", (long long)v);
    else
        snprintf(dst, cap, "%llu", (unsigned long long)v);
}

size_t sql_value_text_cap(const sql_value *v)
{
    return v->type == SQL_T_BYTES ? 2 * v->s.len + 3 : 64;
}

void sql_value_text(const sql_value *v, char *dst, size_t cap, const char **text, size_t *len)
{
    static const char hex[] = "0123456789abcdef";
    switch (v->type) {
    case SQL_T_TEXT:
        *text = v->s.ptr;
        *len = v->s.len;
        return;
    case SQL_T_BOOL:
        *text = v->b ? "true" : "false";
        *len = strlen(*text);
        return;
    case SQL_T_INT:
        int_text(v->i, dst, cap);
        break;
    case SQL_T_FLOAT:
        vmdb__double_text(v->f, v->single, dst, cap);
        break;
    case SQL_T_BYTES: {
        size_t n = 0;
        for (size_t i = 0; i < 2 && n + 1 < cap; i++)
            dst[n++] = "0x"[i];
        for (size_t i = 0; i < v->s.len && n + 2 < cap; i++) {
            unsigned char c = (unsigned char)v->s.ptr[i];
            dst[n++] = hex[c >> 4];
            dst[n++] = hex[c & 15];
        }
        dst[n] = '\0';
        break;
    }
    default:
        snprintf(dst, cap, "?");
        break;
    }
    *text = dst;
    *len = strlen(dst);
}

