/* SPDX-License-Identifier: MIT */
/*
 * cli/csv.c - the CSV reader of `vmdb import` (the grammar is in csv.h).
 *
 * The input is read through a buffer of its own rather than getc(), and
 * runs of ordinary bytes are found by scanning that buffer and copied in
 * one go: an import of millions of rows spends its time in the library,
 * not here. Field bytes of a record are packed one after the other, each
 * followed by a NUL, in one growing buffer; fields are kept as offsets
 * into it because it moves when it grows.
 */
#include "csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_BYTES 65536

struct csv_reader {
    FILE *in;
    char *name;
    unsigned char *input;  /* INPUT_BYTES read ahead */
    size_t pos;            /* next byte of input to look at */
    size_t end;            /* bytes of input that hold data */
    uint64_t consumed;     /* bytes of the input before `input` */
    char delimiter;        /* between fields: ',' unless set */
    bool eof;
    int read_errno;        /* nonzero once a read failed */
    bool started;          /* the byte order mark has been looked for */
    uint64_t line;         /* line of the byte at pos, 1-based */
    uint64_t record_line;  /* line where the current record starts */

    char *data;            /* field bytes, each field NUL-terminated */
    size_t data_len;       /* bytes used */
    size_t data_cap;       /* bytes allocated */
    size_t *offsets;       /* where field i starts in data */
    size_t *lens;          /* field i's length, bytes, NUL excluded */
    size_t count;          /* fields in the current record */
    size_t fields_cap;     /* entries allocated in offsets and lens */
    size_t expected;       /* fields of the first record; 0 before it */
    char error[512];
};

csv_reader *csv_reader_new(FILE *in, const char *name)
{
    csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->in = in;
    r->name = strdup(strcmp(name, "-") ? name : "stdin");
    r->input = malloc(INPUT_BYTES);
    r->data_cap = 256;
    r->data = malloc(r->data_cap);
    r->fields_cap = 16;
    r->offsets = malloc(r->fields_cap * sizeof *r->offsets);
    r->lens = malloc(r->fields_cap * sizeof *r->lens);
    r->line = 1;
    r->delimiter = ',';
    if (!r->name || !r->input || !r->data || !r->offsets || !r->lens) {
        csv_reader_free(r);
        return NULL;
    }
    return r;
}

void csv_reader_free(csv_reader *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->input);
    free(r->data);
    free(r->offsets);
    free(r->lens);
    free(r);
}

__attribute__((format(printf, 3, 4))) static int fail(csv_reader *r, uint64_t line,
                                                      const char *fmt, ...)
{
    int n = snprintf(r->error, sizeof r->error, "%s:%llu: ", r->name,
                     (unsigned long long)line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof r->error)
        vsnprintf(r->error + n, sizeof r->error - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int read_failure(csv_reader *r)
{
    snprintf(r->error, sizeof r->error, "%s: cannot read: %s", r->name,
             strerror(r->read_errno));
    return -1;
}

/* True when input[pos] holds a byte, reading more if needed. */
static bool fill(csv_reader *r)
{
    if (r->pos < r->end)
        return true;
    if (r->eof)
        return false;
    r->consumed += r->end;
    r->pos = r->end = 0;
    size_t n = fread(r->input, 1, INPUT_BYTES, r->in);
    if (n == 0) {
        r->eof = true;
        if (ferror(r->in))
            r->read_errno = errno ? errno : EIO;
        return false;
    }
    r->end = n;
    return true;
}

static int peek(csv_reader *r)
{
    return fill(r) ? r->input[r->pos] : EOF;
}

/* A printable rendering of byte c for a message. */
static const char *shown(int c, char buf[16])
{
    if (c == EOF)
        return "the end of the file";
    if (c >= 0x20 && c < 0x7f && c != '\'')
        snprintf(buf, 16, "'%c'", c);
    else
        snprintf(buf, 16, "0x%02x", (unsigned char)c);
    return buf;
}

/* Makes room in data for `len` more bytes and a NUL after them. */
static int reserve(csv_reader *r, size_t len)
{
    /* Counting the NULs of earlier fields too is close enough to the
     * limit's purpose and keeps this one comparison. */
    if (r->data_len + len > CSV_MAX_RECORD)
        return fail(r, r->record_line,
                    "record longer than %u bytes (a quote that is never closed?)",
                    CSV_MAX_RECORD);
    if (r->data_len + len + 1 > r->data_cap) {
        size_t cap = r->data_cap;
        while (cap < r->data_len + len + 1)
            cap *= 2;
        char *grown = realloc(r->data, cap);
        if (!grown)
            return fail(r, r->record_line, "out of memory");
        r->data = grown;
        r->data_cap = cap;
    }
    return 0;
}

static int append(csv_reader *r, const void *bytes, size_t len)
{
    if (reserve(r, len) < 0)
        return -1;
    memcpy(r->data + r->data_len, bytes, len);
    r->data_len += len;
    return 0;
}

static int start_field(csv_reader *r)
{
    if (r->count == r->fields_cap) {
        size_t cap = r->fields_cap * 2;
        size_t *offsets = realloc(r->offsets, cap * sizeof *offsets);
        if (offsets)
            r->offsets = offsets;
        size_t *lens = offsets ? realloc(r->lens, cap * sizeof *lens) : NULL;
        if (!lens)
            return fail(r, r->record_line, "out of memory");
        r->lens = lens;
        r->fields_cap = cap;
    }
    r->offsets[r->count] = r->data_len;
    return 0;
}

static int end_field(csv_reader *r)
{
    /* The room append() keeps for a NUL is not enough: an empty field at
     * the end of the input appends nothing, and the previous field's NUL
     * may have filled the buffer exactly. */
    if (reserve(r, 0) < 0)
        return -1;
    r->lens[r->count] = r->data_len - r->offsets[r->count];
    r->count++;
    r->data[r->data_len++] = '\0';
    return 0;
}

/* Reads an unquoted field up to the delimiter, a line ending or the end
 * of the input, consuming the terminator, which *terminator gets (the
 * delimiter or '\n'; EOF for the end). A CR not followed by LF is data. */
static int read_unquoted(csv_reader *r, int *terminator)
{
    for (;;) {
        if (!fill(r)) {
            *terminator = EOF;
            return r->read_errno ? read_failure(r) : 0;
        }
        const unsigned char *from = r->input + r->pos, *stop = r->input + r->end;
        const unsigned char *p = from;
        const unsigned char delimiter = (unsigned char)r->delimiter;
        while (p < stop && *p != delimiter && *p != '\n' && *p != '\r')
            p++;
        if (append(r, from, (size_t)(p - from)) < 0)
            return -1;
        r->pos += (size_t)(p - from);
        if (p == stop)
            continue;
        int c = *p;
        r->pos++;
        if (c == '\r') {
            if (peek(r) != '\n') {
                if (append(r, "\r", 1) < 0)
                    return -1;
                continue;
            }
            r->pos++;
            c = '\n';
        }
        if (c == '\n')
            r->line++;
        *terminator = c;
        return 0;
    }
}

/* Reads a quoted field whose opening quote has been consumed, then the
 * delimiter or line ending after it. */
static int read_quoted(csv_reader *r, int *terminator)
{
    uint64_t opened = r->line;
    for (;;) {
        if (!fill(r)) {
            if (r->read_errno)
                return read_failure(r);
            return fail(r, opened, "quoted field %zu never ends (its quote opens here)",
                        r->count + 1);
        }
        const unsigned char *from = r->input + r->pos, *stop = r->input + r->end;
        const unsigned char *p = from;
        while (p < stop && *p != '"' && *p != '\n')
            p++;
        if (append(r, from, (size_t)(p - from)) < 0)
            return -1;
        r->pos += (size_t)(p - from);
        if (p == stop)
            continue;
        r->pos++;
        if (*p == '\n') {
            r->line++;
            if (append(r, "\n", 1) < 0)
                return -1;
            continue;
        }
        /* A quote: doubled, it stands for itself; alone, it closes. */
        if (peek(r) == '"') {
            r->pos++;
            if (append(r, "\"", 1) < 0)
                return -1;
            continue;
        }
        break;
    }
    int c = peek(r);
    if (c == EOF && r->read_errno)
        return read_failure(r);
    if (c != EOF)
        r->pos++;
    if (c == '\r' && peek(r) == '\n') {
        r->pos++;
        c = '\n';
    }
    if (c == (unsigned char)r->delimiter || c == '\n' || c == EOF) {
        if (c == '\n')
            r->line++;
        *terminator = c;
        return 0;
    }
    char buf[16], delimiter[16];
    return fail(r, r->line, "%s after the closing quote of field %zu (expected %s or the end of the line)",
                shown(c, buf), r->count + 1, shown((unsigned char)r->delimiter, delimiter));
}

static void skip_byte_order_mark(csv_reader *r)
{
    r->started = true;
    if (fill(r) && r->end - r->pos >= 3 && !memcmp(r->input + r->pos, "\xEF\xBB\xBF", 3))
        r->pos += 3;
}

int csv_read(csv_reader *r)
{
    if (!r->started)
        skip_byte_order_mark(r);
    for (;;) {
        r->count = 0;
        r->data_len = 0;
        if (peek(r) == EOF)
            return r->read_errno ? read_failure(r) : 0;
        r->record_line = r->line;
        bool first_quoted = false;
        int terminator = EOF;
        do {
            if (start_field(r) < 0)
                return -1;
            int rc;
            if (peek(r) == '"') {
                r->pos++;
                first_quoted |= r->count == 0;
                rc = read_quoted(r, &terminator);
            } else {
                rc = read_unquoted(r, &terminator);
            }
            if (rc < 0 || end_field(r) < 0)
                return -1;
        } while (terminator == (unsigned char)r->delimiter);

        bool blank = r->count == 1 && r->lens[0] == 0 && !first_quoted;
        if (blank && r->expected != 1)
            continue;
        if (r->expected == 0) {
            r->expected = r->count;
        } else if (r->count != r->expected) {
            return fail(r, r->record_line, "%zu field%s, but the first row has %zu", r->count,
                        r->count == 1 ? "" : "s", r->expected);
        }
        return 1;
    }
}

void csv_set_delimiter(csv_reader *r, char delimiter)
{
    r->delimiter = delimiter;
}

size_t csv_field_count(const csv_reader *r)
{
    return r->count;
}

const char *csv_field(const csv_reader *r, size_t i, size_t *len)
{
    *len = r->lens[i];
    return r->data + r->offsets[i];
}

uint64_t csv_record_line(const csv_reader *r)
{
    return r->record_line;
}

uint64_t csv_bytes_read(const csv_reader *r)
{
    return r->consumed + r->pos;
}

const char *csv_name(const csv_reader *r)
{
    return r->name;
}

const char *csv_reader_error(const csv_reader *r)
{
    return r->error;
}
