/* SPDX-License-Identifier: MIT */
/*
 * cli/printer.c - rows of cells out in the three --format styles:
 *
 *   table  for people: a header, a line of dashes, columns two spaces
 *          apart, numbers right-aligned. Control characters are shown as
 *          \n, \t, \r or \xHH and bytes that are not UTF-8 as \xHH, so one
 *          row stays one line whatever a string holds. Widths count code
 *          points (a wide CJK character counts as one).
 *   csv    RFC 4180 quoting: a field holding a comma, a double quote, CR
 *          or LF is quoted, its quotes doubled; bytes are passed through
 *          untouched, so csv is the lossless text format. A header row;
 *          lines end in LF, as Unix tools expect (RFC 4180 readers accept
 *          it).
 *   json   one object per line, keys in column order. Numbers are bare
 *          unless their text is not a JSON number (inf, -inf, nan), which
 *          is then a string; bools are true/false; strings are escaped
 *          (", \, control characters), and a byte that is not part of
 *          valid UTF-8 becomes U+FFFD, since JSON text must be Unicode:
 *          use csv to keep such bytes.
 *
 * The table format must know every cell's width before it prints the
 * first line, so it buffers rows; past TABLE_SIZING_ROWS rows or
 * TABLE_SIZING_BYTES bytes it settles the widths on what it has and
 * streams the rest (a later, wider cell pushes its line out of line
 * rather than being cut), so a million-row answer does not sit in memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define TABLE_SIZING_ROWS 4096
#define TABLE_SIZING_BYTES (32u << 20)
#define COLUMN_GAP "  "

/* A cell as the table format shows it: its escaped text is at `off` in
 * its row's text, `len` bytes, `width` columns on screen. */
typedef struct shown_cell {
    size_t off;
    size_t len;
    size_t width;
    enum cli_cell_kind kind;
} shown_cell;

/* One buffered row: `columns` shown cells, then their text. */
typedef struct shown_row {
    shown_cell *cells;
    char *text;
} shown_row;

struct cli_printer {
    enum cli_format format;
    FILE *out;
    size_t columns;
    char **names;
    uint64_t rows;
    bool failed;          /* a message has been printed; say it once */
    bool header_printed;
    bool no_header;       /* cli_printer_no_header: rows alone */
    /* table format */
    size_t *widths;       /* columns on screen, settled at the header */
    bool *right_aligned;  /* the header follows the first row's kinds */
    shown_row *buffered;
    size_t buffered_count;
    size_t buffered_cap;
    size_t buffered_bytes;
    /* the line being built, written with one fwrite */
    char *line;
    size_t line_len;
    size_t line_cap;
    /* cli_print_record's formatted fields */
    char *scratch;
    size_t scratch_cap;
    size_t *scratch_offs;
    cli_cell *scratch_cells;
};

int cli_parse_format(const char *text, enum cli_format *out)
{
    char shown[VMDB_PRINTABLE_CAP];
    if (!text || !strcmp(text, "table"))
        *out = CLI_FORMAT_TABLE;
    else if (!strcmp(text, "csv"))
        *out = CLI_FORMAT_CSV;
    else if (!strcmp(text, "json"))
        *out = CLI_FORMAT_JSON;
    else
        return cli_error("unknown format '%s' (table, csv, json)", cli_show(shown, text));
    return CLI_OK;
}

enum cli_cell_kind cli_cell_kind_of(enum vmdb_type type)
{
    switch (type) {
    case VMDB_TYPE_BOOL:
        return CLI_CELL_BOOL;
    case VMDB_TYPE_STR:
    case VMDB_TYPE_BYTES:
        return CLI_CELL_TEXT;
    default:
        return CLI_CELL_NUMBER;
    }
}

cli_cell cli_u64_cell(char *buf, uint64_t v)
{
    int n = snprintf(buf, CLI_U64_TEXT, "%llu", (unsigned long long)v);
    return (cli_cell){buf, (size_t)n, CLI_CELL_NUMBER};
}

cli_cell cli_text_cell(const char *text)
{
    return (cli_cell){text, strlen(text), CLI_CELL_TEXT};
}

/* ---- text helpers ------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at s (n bytes available), or 0
 * if the bytes there are not one: overlong forms, surrogates and code
 * points past U+10FFFF are refused (RFC 3629). */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, the whole text. */
static bool is_json_number(const char *s, size_t n)
{
    size_t i = 0;
#define DIGIT(k) ((k) < n && s[k] >= '0' && s[k] <= '9')
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (DIGIT(i))
        while (DIGIT(i))
            i++;
    else
        return false;
    if (i < n && s[i] == '.') {
        i++;
        if (!DIGIT(i))
            return false;
        while (DIGIT(i))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!DIGIT(i))
            return false;
        while (DIGIT(i))
            i++;
    }
#undef DIGIT
    return i == n;
}

/* ---- the line buffer ---------------------------------------------------- */

static int out_of_memory(cli_printer *p)
{
    p->failed = true;
    return cli_error("out of memory while printing");
}

static bool line_reserve(cli_printer *p, size_t more)
{
    if (p->line_len + more <= p->line_cap)
        return true;
    size_t cap = p->line_cap ? p->line_cap : 256;
    while (cap < p->line_len + more)
        cap *= 2;
    char *grown = realloc(p->line, cap);
    if (!grown)
        return false;
    p->line = grown;
    p->line_cap = cap;
    return true;
}

/* Appends without checking room: callers reserve first. */
static void put(cli_printer *p, const void *s, size_t n)
{
    memcpy(p->line + p->line_len, s, n);
    p->line_len += n;
}

static void put_char(cli_printer *p, char c)
{
    p->line[p->line_len++] = c;
}

static void put_spaces(cli_printer *p, size_t n)
{
    memset(p->line + p->line_len, ' ', n);
    p->line_len += n;
}

/* Writes the built line and starts the next one. */
static int line_flush(cli_printer *p)
{
    if (p->line_len && fwrite(p->line, 1, p->line_len, p->out) != p->line_len) {
        p->line_len = 0;
        if (!p->failed) {
            p->failed = true;
            return cli_error("cannot write the output: %s", strerror(errno));
        }
        return CLI_ERROR;
    }
    p->line_len = 0;
    return CLI_OK;
}

/* ---- csv ---------------------------------------------------------------- */

static bool csv_put_field(cli_printer *p, const char *s, size_t n, bool alone)
{
    bool quote = n == 0 && alone; /* an empty line would be no row at all */
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!line_reserve(p, 2 * n + 3))
        return false;
    if (!quote) {
        put(p, s, n);
        return true;
    }
    put_char(p, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            put_char(p, '"');
        put_char(p, s[i]);
    }
    put_char(p, '"');
    return true;
}

static int csv_line(cli_printer *p, const char *const *texts, const size_t *lens)
{
    for (size_t i = 0; i < p->columns; i++) {
        if (i && !line_reserve(p, 1))
            return out_of_memory(p);
        if (i)
            put_char(p, ',');
        if (!csv_put_field(p, texts[i], lens[i], p->columns == 1))
            return out_of_memory(p);
    }
    if (!line_reserve(p, 1))
        return out_of_memory(p);
    put_char(p, '\n');
    return line_flush(p);
}

/* ---- json --------------------------------------------------------------- */

static bool json_put_string(cli_printer *p, const char *text, size_t n)
{
    /* \u00XX is the longest form of one byte; U+FFFD takes 3 bytes. */
    if (!line_reserve(p, 6 * n + 2))
        return false;
    const unsigned char *s = (const unsigned char *)text;
    put_char(p, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            put_char(p, '\\');
            put_char(p, (char)c);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            const char *esc = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r"
                            : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (esc) {
                put(p, esc, 2);
            } else {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                put(p, u, 6);
            }
            i++;
        } else {
            size_t len = utf8_sequence(s + i, n - i);
            if (len) {
                put(p, s + i, len);
                i += len;
            } else {
                put(p, "\xef\xbf\xbd", 3);
                i++;
            }
        }
    }
    put_char(p, '"');
    return true;
}

static bool json_put_value(cli_printer *p, const cli_cell *cell)
{
    const char *s = cell->text;
    size_t n = cell->len;
    if (cell->kind == CLI_CELL_NUMBER && is_json_number(s, n)) {
        if (!line_reserve(p, n))
            return false;
        put(p, s, n);
        return true;
    }
    if (cell->kind == CLI_CELL_BOOL) {
        const char *word = NULL;
        if ((n == 4 && !memcmp(s, "true", 4)) || (n == 1 && s[0] == '1'))
            word = "true";
        else if ((n == 5 && !memcmp(s, "false", 5)) || (n == 1 && s[0] == '0'))
            word = "false";
        if (word) {
            if (!line_reserve(p, 5))
                return false;
            put(p, word, strlen(word));
            return true;
        }
    }
    return json_put_string(p, s, n);
}

static int json_row(cli_printer *p, const cli_cell *cells)
{
    if (!line_reserve(p, 1))
        return out_of_memory(p);
    put_char(p, '{');
    for (size_t i = 0; i < p->columns; i++) {
        if (!line_reserve(p, 2))
            return out_of_memory(p);
        if (i)
            put_char(p, ',');
        if (!json_put_string(p, p->names[i], strlen(p->names[i])) || !line_reserve(p, 1))
            return out_of_memory(p);
        put_char(p, ':');
        if (!json_put_value(p, &cells[i]))
            return out_of_memory(p);
    }
    if (!line_reserve(p, 2))
        return out_of_memory(p);
    put(p, "}\n", 2);
    return line_flush(p);
}

/* ---- table -------------------------------------------------------------- */

/* Appends text as the table shows it to the line buffer and returns its
 * width on screen; false when out of memory. */
static bool table_render(cli_printer *p, const char *text, size_t n, size_t *width)
{
    static const char hex[] = "0123456789abcdef";
    if (!line_reserve(p, 4 * n))
        return false;
    const unsigned char *s = (const unsigned char *)text;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x20 || c == 0x7f ? 0 : utf8_sequence(s + i, n - i);
        if (len) {
            put(p, s + i, len);
            w++;
            i += len;
            continue;
        }
        if (c == '\n' || c == '\t' || c == '\r') {
            put_char(p, '\\');
            put_char(p, c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
            w += 2;
        } else {
            char x[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            put(p, x, 4);
            w += 4;
        }
        i++;
    }
    *width = w;
    return true;
}

/* Renders a row's cells into one allocation: the shown cells, then their
 * text. */
static int table_shown_row(cli_printer *p, const cli_cell *cells, shown_row *row)
{
    p->line_len = 0;
    shown_cell *shown = malloc(p->columns * sizeof *shown);
    if (!shown)
        return out_of_memory(p);
    for (size_t i = 0; i < p->columns; i++) {
        shown[i].off = p->line_len;
        shown[i].kind = cells[i].kind;
        if (!table_render(p, cells[i].text, cells[i].len, &shown[i].width)) {
            free(shown);
            return out_of_memory(p);
        }
        shown[i].len = p->line_len - shown[i].off;
    }
    char *text = malloc(p->line_len ? p->line_len : 1);
    if (!text) {
        free(shown);
        return out_of_memory(p);
    }
    /* A row of empty cells renders nothing, and if it comes first the
     * line was never allocated: memcpy from NULL is undefined even for
     * zero bytes. */
    if (p->line_len)
        memcpy(text, p->line, p->line_len);
    p->line_len = 0;
    row->cells = shown;
    row->text = text;
    return CLI_OK;
}

static bool table_put_cell(cli_printer *p, size_t column, const char *text, size_t len,
                           size_t width, bool right)
{
    size_t pad = p->widths[column] > width ? p->widths[column] - width : 0;
    bool last = column + 1 == p->columns;
    if (!line_reserve(p, len + pad + sizeof COLUMN_GAP))
        return false;
    if (column)
        put(p, COLUMN_GAP, sizeof COLUMN_GAP - 1);
    if (right)
        put_spaces(p, pad);
    put(p, text, len);
    if (!right && !last)
        put_spaces(p, pad);
    return true;
}

static int table_print_row(cli_printer *p, const shown_row *row)
{
    for (size_t i = 0; i < p->columns; i++) {
        const shown_cell *c = &row->cells[i];
        if (!table_put_cell(p, i, row->text + c->off, c->len, c->width,
                            c->kind == CLI_CELL_NUMBER))
            return out_of_memory(p);
    }
    if (!line_reserve(p, 1))
        return out_of_memory(p);
    put_char(p, '\n');
    return line_flush(p);
}

/* Settles the widths on the buffered rows, prints the header and the
 * buffered rows, and frees them: later rows stream. */
static int table_settle(cli_printer *p)
{
    shown_row header;
    cli_cell *names = malloc(p->columns * sizeof *names);
    if (!names)
        return out_of_memory(p);
    for (size_t i = 0; i < p->columns; i++)
        names[i] = (cli_cell){p->names[i], strlen(p->names[i]), CLI_CELL_TEXT};
    int rc = table_shown_row(p, names, &header);
    free(names);
    if (rc != CLI_OK)
        return rc;
    for (size_t i = 0; i < p->columns; i++) {
        p->widths[i] = header.cells[i].width;
        p->right_aligned[i] = p->buffered_count &&
                              p->buffered[0].cells[i].kind == CLI_CELL_NUMBER;
        for (size_t r = 0; r < p->buffered_count; r++)
            if (p->buffered[r].cells[i].width > p->widths[i])
                p->widths[i] = p->buffered[r].cells[i].width;
    }
    p->header_printed = true;
    for (size_t i = 0; i < p->columns; i++)
        header.cells[i].kind = p->right_aligned[i] ? CLI_CELL_NUMBER : CLI_CELL_TEXT;
    rc = p->no_header ? CLI_OK : table_print_row(p, &header);
    free(header.cells);
    free(header.text);
    for (size_t i = 0; rc == CLI_OK && !p->no_header && i < p->columns; i++) {
        if (!line_reserve(p, p->widths[i] + sizeof COLUMN_GAP + 1)) {
            rc = out_of_memory(p);
            break;
        }
        if (i)
            put(p, COLUMN_GAP, sizeof COLUMN_GAP - 1);
        memset(p->line + p->line_len, '-', p->widths[i]);
        p->line_len += p->widths[i];
    }
    if (rc == CLI_OK && !p->no_header && !line_reserve(p, 1))
        rc = out_of_memory(p);
    if (rc == CLI_OK && !p->no_header) {
        put_char(p, '\n');
        rc = line_flush(p);
    }
    for (size_t r = 0; r < p->buffered_count; r++) {
        if (rc == CLI_OK)
            rc = table_print_row(p, &p->buffered[r]);
        free(p->buffered[r].cells);
        free(p->buffered[r].text);
    }
    free(p->buffered);
    p->buffered = NULL;
    p->buffered_count = p->buffered_cap = p->buffered_bytes = 0;
    return rc;
}

static int table_row(cli_printer *p, const cli_cell *cells)
{
    shown_row row;
    int rc = table_shown_row(p, cells, &row);
    if (rc != CLI_OK)
        return rc;
    if (p->header_printed) {
        rc = table_print_row(p, &row);
        free(row.cells);
        free(row.text);
        return rc;
    }
    if (p->buffered_count == p->buffered_cap) {
        size_t cap = p->buffered_cap ? 2 * p->buffered_cap : 64;
        shown_row *grown = realloc(p->buffered, cap * sizeof *grown);
        if (!grown) {
            free(row.cells);
            free(row.text);
            return out_of_memory(p);
        }
        p->buffered = grown;
        p->buffered_cap = cap;
    }
    p->buffered[p->buffered_count++] = row;
    for (size_t i = 0; i < p->columns; i++)
        p->buffered_bytes += row.cells[i].len + sizeof(shown_cell);
    if (p->buffered_count >= TABLE_SIZING_ROWS || p->buffered_bytes >= TABLE_SIZING_BYTES)
        return table_settle(p);
    return CLI_OK;
}

/* ---- the printer -------------------------------------------------------- */

static void printer_free(cli_printer *p)
{
    if (!p)
        return;
    for (size_t r = 0; r < p->buffered_count; r++) {
        free(p->buffered[r].cells);
        free(p->buffered[r].text);
    }
    free(p->buffered);
    if (p->names)
        for (size_t i = 0; i < p->columns; i++)
            free(p->names[i]);
    free(p->names);
    free(p->widths);
    free(p->right_aligned);
    free(p->line);
    free(p->scratch);
    free(p->scratch_offs);
    free(p->scratch_cells);
    free(p);
}

cli_printer *cli_printer_open(enum cli_format format, FILE *out, size_t columns,
                              const char *const *names)
{
    cli_printer *p = calloc(1, sizeof *p);
    if (!p)
        goto fail;
    p->format = format;
    p->out = out;
    p->columns = columns;
    /* One more than needed, so that zero columns allocate something. */
    p->names = calloc(columns + 1, sizeof *p->names);
    p->widths = calloc(columns + 1, sizeof *p->widths);
    p->right_aligned = calloc(columns + 1, sizeof *p->right_aligned);
    if (!p->names || !p->widths || !p->right_aligned)
        goto fail;
    for (size_t i = 0; i < columns; i++)
        if (!(p->names[i] = strdup(names[i])))
            goto fail;
    return p;
fail:
    printer_free(p);
    cli_error("out of memory while printing");
    return NULL;
}

void cli_printer_no_header(cli_printer *p)
{
    p->no_header = true;
    if (p->format == CLI_FORMAT_CSV)
        p->header_printed = true;
}

static int csv_header(cli_printer *p)
{
    const char **texts = malloc((p->columns + 1) * sizeof *texts);
    size_t *lens = malloc((p->columns + 1) * sizeof *lens);
    int rc;
    if (!texts || !lens) {
        rc = out_of_memory(p);
    } else {
        for (size_t i = 0; i < p->columns; i++) {
            texts[i] = p->names[i];
            lens[i] = strlen(p->names[i]);
        }
        rc = csv_line(p, texts, lens);
    }
    free(texts);
    free(lens);
    p->header_printed = true;
    return rc;
}

int cli_printer_row(cli_printer *p, const cli_cell *cells)
{
    if (p->failed)
        return CLI_ERROR;
    p->rows++;
    switch (p->format) {
    case CLI_FORMAT_TABLE:
        return table_row(p, cells);
    case CLI_FORMAT_CSV: {
        if (!p->header_printed && csv_header(p) != CLI_OK)
            return CLI_ERROR;
        const char **texts = malloc((p->columns + 1) * sizeof *texts);
        size_t *lens = malloc((p->columns + 1) * sizeof *lens);
        int rc;
        if (!texts || !lens) {
            rc = out_of_memory(p);
        } else {
            for (size_t i = 0; i < p->columns; i++) {
                texts[i] = cells[i].text;
                lens[i] = cells[i].len;
            }
            rc = csv_line(p, texts, lens);
        }
        free(texts);
        free(lens);
        return rc;
    }
    case CLI_FORMAT_JSON:
        return json_row(p, cells);
    }
    return CLI_ERROR;
}

uint64_t cli_printer_rows(const cli_printer *p)
{
    return p->rows;
}

int cli_printer_close(cli_printer *p)
{
    if (!p)
        return CLI_OK;
    int rc = p->failed ? CLI_ERROR : CLI_OK;
    if (rc == CLI_OK && !p->header_printed) {
        /* The header is printed even with no rows, so that a reader of
         * the table or the csv sees which columns came back empty. */
        if (p->format == CLI_FORMAT_TABLE)
            rc = table_settle(p);
        else if (p->format == CLI_FORMAT_CSV)
            rc = csv_header(p);
    }
    bool flushed = fflush(p->out) == 0 && !ferror(p->out);
    if (!flushed && !p->failed)
        rc = cli_error("cannot write the output: %s", strerror(errno));
    else if (p->failed)
        rc = CLI_ERROR;
    printer_free(p);
    return rc;
}

/* ---- records ------------------------------------------------------------ */

int cli_print_record(cli_printer *p, const vmdb_schema *schema, const void *record)
{
    size_t count = vmdb_schema_field_count(schema);
    if (count != p->columns)
        return cli_error("a record of %zu fields for %zu columns", count, p->columns);
    if (!p->scratch_offs) {
        p->scratch_offs = malloc((count + 1) * sizeof *p->scratch_offs);
        p->scratch_cells = malloc((count + 1) * sizeof *p->scratch_cells);
        if (!p->scratch_offs || !p->scratch_cells)
            return out_of_memory(p);
    }
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len;
        int rc = vmdb_record_format_text(schema, record, i, p->scratch ? p->scratch + used : NULL,
                                         p->scratch_cap - used, &len);
        if (rc == VMDB_ERANGE) {
            size_t cap = p->scratch_cap ? p->scratch_cap : 1024;
            while (cap < used + len + 1)
                cap *= 2;
            char *grown = realloc(p->scratch, cap);
            if (!grown)
                return out_of_memory(p);
            p->scratch = grown;
            p->scratch_cap = cap;
            rc = vmdb_record_format_text(schema, record, i, p->scratch + used,
                                         p->scratch_cap - used, &len);
        }
        if (rc < 0)
            return cli_library_error();
        p->scratch_offs[i] = used;
        used += len + 1;
        const vmdb_field *f = vmdb_schema_field(schema, i);
        p->scratch_cells[i].len = len;
        p->scratch_cells[i].kind = cli_cell_kind_of(f->type);
    }
    for (size_t i = 0; i < count; i++)
        p->scratch_cells[i].text = p->scratch + p->scratch_offs[i];
    return cli_printer_row(p, p->scratch_cells);
}
