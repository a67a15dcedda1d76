/* SPDX-License-Identifier: MIT */
/*
 * cli/jsonl.c - the JSON-lines reader of `vmdb import` (what it accepts is
 * in jsonl.h).
 *
 * A line is read whole (getline) and parsed by recursive descent over its
 * bytes, which makes columns exact and keeps a malformed line from
 * consuming the next. Decoded names and values are packed into one
 * growing buffer and addressed by offsets until the line is done, since
 * the buffer moves when it grows; the members' pointers are set at the
 * end.
 */
#include "jsonl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct jsonl_reader {
    FILE *in;
    char *name;
    char *line_buf;        /* the current line, from getline */
    size_t line_cap;       /* bytes allocated for it */
    uint64_t line;         /* its number, 1-based */
    uint64_t consumed;     /* bytes of the input read so far */

    char *data;            /* decoded names and values, NUL-terminated */
    size_t data_len;       /* bytes used */
    size_t data_cap;       /* bytes allocated */
    jsonl_member *members;
    size_t *name_offsets;  /* where member i's name starts in data */
    size_t *value_offsets; /* and its value */
    size_t count;          /* members of the current object */
    size_t members_cap;    /* entries allocated in the three arrays */
    char error[512];
};

/* The parse of one line: where it is and what it is. */
typedef struct cursor {
    jsonl_reader *r;
    const char *s;         /* the line */
    size_t len;            /* its bytes */
    size_t i;              /* the byte being looked at */
} cursor;

jsonl_reader *jsonl_reader_new(FILE *in, const char *name)
{
    jsonl_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->in = in;
    r->name = strdup(strcmp(name, "-") ? name : "stdin");
    r->data_cap = 256;
    r->data = malloc(r->data_cap);
    r->members_cap = 16;
    r->members = malloc(r->members_cap * sizeof *r->members);
    r->name_offsets = malloc(r->members_cap * sizeof *r->name_offsets);
    r->value_offsets = malloc(r->members_cap * sizeof *r->value_offsets);
    if (!r->name || !r->data || !r->members || !r->name_offsets || !r->value_offsets) {
        jsonl_reader_free(r);
        return NULL;
    }
    return r;
}

void jsonl_reader_free(jsonl_reader *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->line_buf);
    free(r->data);
    free(r->members);
    free(r->name_offsets);
    free(r->value_offsets);
    free(r);
}

__attribute__((format(printf, 2, 3))) static int fail(cursor *c, const char *fmt, ...)
{
    jsonl_reader *r = c->r;
    int n = snprintf(r->error, sizeof r->error, "%s:%llu:%zu: ", r->name,
                     (unsigned long long)r->line, c->i + 1);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof r->error)
        vsnprintf(r->error + n, sizeof r->error - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* The byte at the cursor, or -1 at the end of the line. */
static int at(const cursor *c)
{
    return c->i < c->len ? (unsigned char)c->s[c->i] : -1;
}

/* How the byte at the cursor is named in a message. */
static const char *shown(const cursor *c, char buf[24])
{
    int b = at(c);
    if (b < 0)
        return "the end of the line";
    if (b >= 0x20 && b < 0x7f && b != '\'')
        snprintf(buf, 24, "'%c'", b);
    else
        snprintf(buf, 24, "byte 0x%02x", (unsigned char)b);
    return buf;
}

static void skip_space(cursor *c)
{
    while (c->i < c->len &&
           (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\r' || c->s[c->i] == '\n'))
        c->i++;
}

static int append(cursor *c, const void *bytes, size_t len)
{
    jsonl_reader *r = c->r;
    if (r->data_len + len + 1 > r->data_cap) {
        size_t cap = r->data_cap;
        while (cap < r->data_len + len + 1)
            cap *= 2;
        char *grown = realloc(r->data, cap);
        if (!grown)
            return fail(c, "out of memory");
        r->data = grown;
        r->data_cap = cap;
    }
    memcpy(r->data + r->data_len, bytes, len);
    r->data_len += len;
    return 0;
}

static int terminate(cursor *c)
{
    if (append(c, "", 1) < 0)
        return -1;
    return 0;
}

static int hex_digit(int b)
{
    if (b >= '0' && b <= '9')
        return b - '0';
    if (b >= 'a' && b <= 'f')
        return b - 'a' + 10;
    if (b >= 'A' && b <= 'F')
        return b - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits of a \u escape whose "\u" is consumed. */
static int read_hex4(cursor *c, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int d = hex_digit(at(c));
        if (d < 0) {
            char buf[24];
            return fail(c, "%s in a \\u escape (4 hex digits expected)", shown(c, buf));
        }
        v = v << 4 | (unsigned)d;
        c->i++;
    }
    *out = v;
    return 0;
}

static int append_utf8(cursor *c, unsigned cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return append(c, b, n);
}

/* A \u escape, its "\u" consumed; a high surrogate must be followed by a
 * \u escape of a low one, and the pair is one code point. */
static int read_unicode_escape(cursor *c)
{
    size_t escape_at = c->i - 2;
    unsigned cp;
    if (read_hex4(c, &cp) < 0)
        return -1;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        c->i = escape_at;
        return fail(c, "\\u%04X is a low surrogate without a high one before it", cp);
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned low = 0;
        if (at(c) != '\\' || c->i + 1 >= c->len || c->s[c->i + 1] != 'u') {
            c->i = escape_at;
            return fail(c, "\\u%04X is a high surrogate without a low one after it", cp);
        }
        c->i += 2;
        if (read_hex4(c, &low) < 0)
            return -1;
        if (low < 0xDC00 || low > 0xDFFF) {
            c->i = escape_at;
            return fail(c, "\\u%04X is a high surrogate followed by \\u%04X, not a low one", cp,
                        low);
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    return append_utf8(c, cp);
}

/* A string at the cursor's '"', decoded into data and NUL-terminated;
 * *offset gets where it starts and *len its length. */
static int read_string(cursor *c, size_t *offset, size_t *len)
{
    size_t opened = c->i;
    c->i++;
    *offset = c->r->data_len;
    for (;;) {
        size_t run = c->i;
        while (c->i < c->len && c->s[c->i] != '"' && c->s[c->i] != '\\' &&
               (unsigned char)c->s[c->i] >= 0x20)
            c->i++;
        if (append(c, c->s + run, c->i - run) < 0)
            return -1;
        int b = at(c);
        if (b == '"')
            break;
        if (b < 0) {
            c->i = opened;
            return fail(c, "string never ends on its line");
        }
        if (b != '\\')
            return fail(c, "control character 0x%02x in a string (escape it)", (unsigned char)b);
        c->i++;
        int e = at(c);
        const char *plain = NULL;
        switch (e) {
        case '"': plain = "\""; break;
        case '\\': plain = "\\"; break;
        case '/': plain = "/"; break;
        case 'b': plain = "\b"; break;
        case 'f': plain = "\f"; break;
        case 'n': plain = "\n"; break;
        case 'r': plain = "\r"; break;
        case 't': plain = "\t"; break;
        case 'u':
            c->i++;
            if (read_unicode_escape(c) < 0)
                return -1;
            continue;
        default:
            c->i--;
            if (e >= 0x21 && e < 0x7f)
                return fail(c, "unknown escape '\\%c'", e);
            return fail(c, "'\\' followed by %s, not an escape",
                        e < 0 ? "the end of the line" : "a control character");
        }
        if (append(c, plain, 1) < 0)
            return -1;
        c->i++;
    }
    c->i++;
    *len = c->r->data_len - *offset;
    return terminate(c);
}

static bool is_digit(int b)
{
    return b >= '0' && b <= '9';
}

/* A number as JSON writes it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
 * copied as text. */
static int read_number(cursor *c, size_t *offset, size_t *len)
{
    size_t start = c->i;
    char buf[24];
    if (at(c) == '-')
        c->i++;
    if (at(c) == '0') {
        c->i++;
        if (is_digit(at(c))) {
            c->i = start;
            return fail(c, "a number may not have a leading zero");
        }
    } else if (is_digit(at(c))) {
        while (is_digit(at(c)))
            c->i++;
    } else {
        return fail(c, "%s where a digit should be", shown(c, buf));
    }
    if (at(c) == '.') {
        c->i++;
        if (!is_digit(at(c)))
            return fail(c, "%s where a digit of the fraction should be", shown(c, buf));
        while (is_digit(at(c)))
            c->i++;
    }
    if (at(c) == 'e' || at(c) == 'E') {
        c->i++;
        if (at(c) == '+' || at(c) == '-')
            c->i++;
        if (!is_digit(at(c)))
            return fail(c, "%s where a digit of the exponent should be", shown(c, buf));
        while (is_digit(at(c)))
            c->i++;
    }
    *offset = c->r->data_len;
    *len = c->i - start;
    if (append(c, c->s + start, *len) < 0)
        return -1;
    return terminate(c);
}

/* Consumes `word` if the line has it at the cursor as a whole word. */
static bool read_word(cursor *c, const char *word)
{
    size_t n = strlen(word);
    if (c->len - c->i < n || memcmp(c->s + c->i, word, n))
        return false;
    int after = c->i + n < c->len ? (unsigned char)c->s[c->i + n] : -1;
    if ((after >= 'a' && after <= 'z') || (after >= 'A' && after <= 'Z') || is_digit(after) ||
        after == '_')
        return false;
    c->i += n;
    return true;
}

static int read_value(cursor *c, jsonl_member *m, size_t *offset)
{
    char buf[24];
    m->column = c->i + 1;
    int b = at(c);
    if (b == '"') {
        m->kind = JSONL_STRING;
        return read_string(c, offset, &m->value_len);
    }
    if (b == '-' || is_digit(b)) {
        m->kind = JSONL_NUMBER;
        return read_number(c, offset, &m->value_len);
    }
    const char *word = read_word(c, "true") ? "true" : read_word(c, "false") ? "false" : NULL;
    if (word) {
        m->kind = JSONL_BOOL;
        *offset = c->r->data_len;
        m->value_len = strlen(word);
        if (append(c, word, m->value_len) < 0)
            return -1;
        return terminate(c);
    }
    if (read_word(c, "null")) {
        c->i -= 4;
        return fail(c, "null is not a value: vmdb fields are never null (leave the field out "
                       "for zero)");
    }
    if (b == '[' || b == '{')
        return fail(c, "%s: arrays and objects are not field values", b == '[' ? "array" : "object");
    return fail(c, "%s where a value should be (a string, number, true or false)",
                shown(c, buf));
}

static int add_member(cursor *c)
{
    jsonl_reader *r = c->r;
    if (r->count < r->members_cap)
        return 0;
    size_t cap = r->members_cap * 2;
    jsonl_member *members = realloc(r->members, cap * sizeof *members);
    if (!members)
        return fail(c, "out of memory");
    r->members = members;
    size_t *names = realloc(r->name_offsets, cap * sizeof *names);
    if (!names)
        return fail(c, "out of memory");
    r->name_offsets = names;
    size_t *values = realloc(r->value_offsets, cap * sizeof *values);
    if (!values)
        return fail(c, "out of memory");
    r->value_offsets = values;
    r->members_cap = cap;
    return 0;
}

/* Parses the line as one object: 1 done, 0 a blank line, -1 malformed. */
static int parse_line(jsonl_reader *r, const char *s, size_t len)
{
    /* The line ending is not part of the object; without it, "the end of
     * the line" is simply the end of the text. */
    if (len && s[len - 1] == '\n')
        len--;
    if (len && s[len - 1] == '\r')
        len--;
    cursor c = {r, s, len, 0};
    char buf[24];
    r->count = 0;
    r->data_len = 0;
    skip_space(&c);
    if (c.i == len)
        return 0;
    if (at(&c) != '{')
        return fail(&c, "%s where an object should start ('{'; one object per line)",
                    shown(&c, buf));
    c.i++;
    skip_space(&c);
    if (at(&c) == '}') {
        c.i++;
    } else {
        for (;;) {
            skip_space(&c);
            if (at(&c) != '"')
                return fail(&c, "%s where a field name in double quotes should be",
                            shown(&c, buf));
            if (add_member(&c) < 0)
                return -1;
            jsonl_member *m = &r->members[r->count];
            if (read_string(&c, &r->name_offsets[r->count], &m->name_len) < 0)
                return -1;
            skip_space(&c);
            if (at(&c) != ':')
                return fail(&c, "%s where ':' should be", shown(&c, buf));
            c.i++;
            skip_space(&c);
            if (read_value(&c, m, &r->value_offsets[r->count]) < 0)
                return -1;
            r->count++;
            skip_space(&c);
            if (at(&c) == '}') {
                c.i++;
                break;
            }
            if (at(&c) != ',')
                return fail(&c, "%s where ',' or '}' should be", shown(&c, buf));
            c.i++;
        }
    }
    skip_space(&c);
    if (c.i != len)
        return fail(&c, "%s after the object (one object per line)", shown(&c, buf));
    for (size_t k = 0; k < r->count; k++) {
        r->members[k].name = r->data + r->name_offsets[k];
        r->members[k].value = r->data + r->value_offsets[k];
    }
    return 1;
}

int jsonl_read(jsonl_reader *r)
{
    for (;;) {
        errno = 0;
        ssize_t n = getline(&r->line_buf, &r->line_cap, r->in);
        if (n < 0) {
            r->count = 0;
            if (ferror(r->in)) {
                snprintf(r->error, sizeof r->error, "%s: cannot read: %s", r->name,
                         strerror(errno ? errno : EIO));
                return -1;
            }
            return 0;
        }
        r->line++;
        r->consumed += (uint64_t)n;
        int rc = parse_line(r, r->line_buf, (size_t)n);
        if (rc != 0)
            return rc;
    }
}

size_t jsonl_member_count(const jsonl_reader *r)
{
    return r->count;
}

const jsonl_member *jsonl_member_at(const jsonl_reader *r, size_t i)
{
    return &r->members[i];
}

uint64_t jsonl_line(const jsonl_reader *r)
{
    return r->line;
}

uint64_t jsonl_bytes_read(const jsonl_reader *r)
{
    return r->consumed;
}

const char *jsonl_name(const jsonl_reader *r)
{
    return r->name;
}

const char *jsonl_reader_error(const jsonl_reader *r)
{
    return r->error;
}
