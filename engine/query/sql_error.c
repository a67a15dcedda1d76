/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_error.c - a SQL error as the library reports errors
 * (vmdb/error.h): a code and the thread's message, the position of the
 * token at fault in it, and apart for a caller that words it itself
 * (vmdb_sql_error_position).
 */
#include <string.h>

#include "internal.h"
#include "stmt.h"

static _Thread_local vmdb_sql_position last_position;
/* The message last_position belongs to: a later error of another layer
 * replaces it, and the position must not outlive it. */
static _Thread_local char last_message[sizeof ((vmdb_error *)0)->message];

/* Records err as the thread's error: its code (or default_code), and its
 * message with the position in text ("(col C)", with the line when text
 * spans lines). Returns the code. */
int vmdb__sql_fail(const sql_error *err, int default_code, const char *text, size_t len)
{
    int code = err->code < 0 ? err->code : default_code;
    char line[sizeof err->message + 64];
    sql_error_text(err, len && memchr(text, '\n', len) != NULL, line, sizeof line);
    vmdb__fail(code, "%s", line);
    size_t offset = 0;
    if (err->col) {
        unsigned at_line = 1;
        while (offset < len && at_line < err->line)
            if (text[offset++] == '\n')
                at_line++;
        offset += err->col - 1;
    }
    size_t message_len = strlen(err->message);
    size_t recorded = strlen(vmdb_last_error()->message);
    last_position = (vmdb_sql_position){err->line, err->col, offset,
                                        message_len < recorded ? message_len : recorded};
    memcpy(last_message, vmdb_last_error()->message, sizeof last_message);
    return code;
}

int vmdb__sql_error_rebase(int code, const char *text, size_t base)
{
    vmdb_sql_position pos;
    vmdb_sql_error_position(&pos);
    if (!pos.col)
        return code; /* no position, or not an SQL error of this thread's */
    size_t len = strlen(text);
    size_t offset = base + pos.offset;
    unsigned line = 1, col = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char said[sizeof last_message];
    memcpy(said, last_message, pos.message_len);
    said[pos.message_len] = '\0';
    if (memchr(text, '\n', len))
        vmdb__fail(code, "%s (line %u, col %u)", said, line, col);
    else
        vmdb__fail(code, "%s (col %u)", said, col);
    last_position = (vmdb_sql_position){line, col, offset, pos.message_len};
    memcpy(last_message, vmdb_last_error()->message, sizeof last_message);
    return code;
}

void vmdb_sql_error_position(vmdb_sql_position *pos)
{
    if (!pos)
        return;
    const vmdb_error *e = vmdb_last_error();
    if (e->code && !strcmp(e->message, last_message))
        *pos = last_position;
    else
        *pos = (vmdb_sql_position){0, 0, 0, 0};
}
