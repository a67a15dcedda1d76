/* SPDX-License-Identifier: MIT */
/*
 * cli/import.c - rows of CSV or JSON lines put into a table (insert or
 * replace by key), in batches of transactions: `vmdb import` and the
 * shell's `.import` (cli/import.h).
 *
 * Which rows stay when a row is bad. Rows are put in transactions of
 * --batch rows (default 10000), each committed before the next begins.
 * A row that cannot be read or stored aborts the transaction it belongs
 * to, so the table keeps exactly the rows of the batches committed
 * before it: with batches of B, a bad row that is data row number n
 * (1-based, header excluded) leaves the first B * floor((n - 1) / B)
 * rows, and the message says how many that is. A failure to commit a
 * batch keeps the batches before it likewise. Rows are counted as read:
 * a key given twice is put twice, the second replacing the first.
 *
 * The default batch shrinks for large records so that a batch takes at
 * most a quarter of the log, which must hold a whole transaction; an
 * explicit --batch is taken as given, and a batch too large for the log
 * stops the import at the row that did not fit, as a bad row would.
 *
 * A table that --create made is dropped again when the import fails, so
 * that a failed import leaves the tables as they were and the same
 * command, run again once the file is fixed, chooses the schema afresh.
 * To choose it, the first SAMPLE_ROWS rows are read ahead and kept in
 * memory (stdin cannot be read twice), then put like any other row. The
 * fields are a csv file's columns, or the members of the json objects
 * read ahead in the order they first appear.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "csv.h"
#include "import.h"
#include "jsonl.h"
#include "schema_guess.h"
#include "vmdb.h"

#define DEFAULT_BATCH 10000
/* Log bytes a put takes besides the record image: its record header and
 * key, rounded up generously. */
#define LOG_BYTES_PER_PUT 64
#define PROGRESS_INTERVAL 0.25 /* seconds between redraws */
/* --create chooses the schema from this many rows at most, and from
 * fewer when their cells pass SAMPLE_BYTES, which bounds the memory they
 * hold. */
#define SAMPLE_ROWS 1000
#define SAMPLE_BYTES (16u << 20)
#define SKIPPED SIZE_MAX /* the field of a column --skip-extra ignores */

enum source_format { SOURCE_CSV, SOURCE_JSON };

typedef struct progress {
    bool enabled;   /* stderr is a terminal */
    bool drawn;     /* a line is on screen and must be cleared */
    double start;   /* seconds, CLOCK_MONOTONIC */
    double last;    /* when the line was last drawn */
    uint64_t size;  /* input bytes, 0 when unknown (a pipe) */
} progress;

/* Rows read ahead for --create, put before the rest of the file. A row
 * is the cells from its first to the next row's first; a cell says its
 * column, as a json object gives only some, in any order. */
typedef struct sampled_cell {
    size_t column;      /* in the importer's names */
    size_t start;       /* where its bytes start in data */
    size_t len;         /* bytes */
} sampled_cell;

typedef struct row_sample {
    size_t rows;        /* rows kept */
    size_t next;        /* the next row to put */
    size_t rows_cap;    /* rows lines and first have room for */
    uint64_t *lines;    /* where each row starts in the file */
    size_t *first;      /* each row's first cell in cells */
    sampled_cell *cells;
    size_t cells_len;   /* cells used */
    size_t cells_cap;   /* cells allocated */
    char *data;         /* the cells' bytes, each followed by a NUL */
    size_t data_len;    /* bytes used */
    size_t data_cap;    /* bytes allocated */
} row_sample;

typedef struct importer {
    const char *file;          /* as messages name it */
    const char *db_path;
    const char *table_name;
    vmdb_db *db;
    vmdb_table *table;
    bool created;              /* --create made the table, and the import
                               has not committed its last row yet: a
                               failure drops the table again */
    const vmdb_schema *schema;
    size_t field_count;
    size_t key_field;
    unsigned char *record;     /* the row being built, record_size bytes */
    size_t record_size;        /* bytes */
    bool *given;               /* fields the current row has set */

    enum source_format format;
    const cli_import_options *options;
    FILE *in;
    csv_reader *csv;
    jsonl_reader *json;

    /* csv */
    char delimiter;
    bool empty_error;          /* --empty=error */
    char **names;              /* the columns' names (--columns or the
                                  header's); NULL: the table's fields in
                                  order (--no-header alone) */
    size_t *name_lens;         /* bytes: a header's name may hold a NUL */
    size_t names_count;
    const char *names_from;    /* "the header" or "--columns" */
    uint64_t header_line;      /* 0 without a header row */
    size_t columns;            /* cells in every row; 0 before the first */
    size_t *column_field;      /* the field of each column, or SKIPPED */
    const char **cells;        /* the current row's cells */
    size_t *cell_lens;         /* their bytes */

    /* --create */
    row_sample sample;
    column_guess *guesses;     /* one per name */
    uint64_t *name_lines;      /* json: where each name first appears */
    size_t names_cap;          /* json: entries names, name_lens,
                                  guesses and name_lines have room for */

    /* json */
    size_t *member_field;      /* json: the field of each member position
                                  last time, SIZE_MAX if none yet */
    size_t member_cap;         /* entries in member_field */

    uint64_t batch;            /* rows per transaction */
    vmdb_txn *txn;
    uint64_t in_txn;           /* rows put in the open transaction */
    uint64_t committed;        /* rows of committed transactions */
    uint64_t line;             /* where the current row starts */
    progress progress;
} importer;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t bytes_read(const importer *im)
{
    return im->format == SOURCE_CSV ? csv_bytes_read(im->csv) : jsonl_bytes_read(im->json);
}

/* ---- progress ----------------------------------------------------------- */

static void progress_draw(importer *im, double t)
{
    progress *pr = &im->progress;
    uint64_t rows = im->committed + im->in_txn;
    double elapsed = t - pr->start;
    double rate = elapsed > 0 ? (double)rows / elapsed : 0;
    char line[160];
    int n = snprintf(line, sizeof line, "\rimporting into %s: %llu rows", im->table_name,
                     (unsigned long long)rows);
    if (pr->size) {
        uint64_t done = bytes_read(im);
        double fraction = done >= pr->size ? 1.0 : (double)done / (double)pr->size;
        char bar[21];
        int filled = (int)(fraction * 20);
        for (int i = 0; i < 20; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[20] = '\0';
        n += snprintf(line + n, sizeof line - (size_t)n, " [%s] %3d%%", bar,
                      (int)(fraction * 100));
    }
    snprintf(line + n, sizeof line - (size_t)n, ", %.0f rows/s\033[K", rate);
    fputs(line, stderr);
    fflush(stderr);
    pr->drawn = true;
    pr->last = t;
}

/* Called for every row; looks at the clock every 1024 rows only. */
static void progress_tick(importer *im)
{
    progress *pr = &im->progress;
    if (!pr->enabled || (im->committed + im->in_txn) % 1024)
        return;
    double t = now();
    if (t - pr->last >= PROGRESS_INTERVAL)
        progress_draw(im, t);
}

static void progress_clear(importer *im)
{
    if (im->progress.drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        im->progress.drawn = false;
    }
}

/* ---- errors ------------------------------------------------------------- */

/* Aborts the open batch and reports the row at fault, with what the
 * table keeps. The message names the file, line and field itself. */
__attribute__((format(printf, 2, 3))) static int row_error(importer *im, const char *fmt, ...)
{
    vmdb_txn_abort(im->txn);
    im->txn = NULL;
    im->in_txn = 0;
    progress_clear(im);
    char what[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (im->created)
        return cli_error("%s (import stopped; table %s, which it created, is dropped again)", what,
                         im->table_name);
    return cli_error("%s (import stopped; %llu row%s imported, from the batches before this "
                     "row's)",
                     what, (unsigned long long)im->committed, cli_plural(im->committed));
}

/* A value the library refused: its message starts with the field's name,
 * which the table's name completes ("people.age: value 300 does not fit
 * u8"). */
static int value_error(importer *im)
{
    /* A type --create chose fits the first rows only, and the person
     * must know where to choose it instead. */
    if (im->created)
        return row_error(im, "%s:%llu: %s.%s; its type came from the first rows, and vmdb "
                             "create makes the table with another",
                         im->file, (unsigned long long)im->line, im->table_name,
                         vmdb_last_error()->message);
    return row_error(im, "%s:%llu: %s.%s", im->file, (unsigned long long)im->line,
                     im->table_name, vmdb_last_error()->message);
}

/* ---- rows --------------------------------------------------------------- */

static int set_field(importer *im, size_t field, const char *text, size_t len)
{
    const vmdb_field *f = vmdb_schema_field(im->schema, field);
    if (im->given[field])
        return row_error(im, "%s:%llu: %s.%s is given twice", im->file,
                         (unsigned long long)im->line, im->table_name, f->name);
    im->given[field] = true;
    /* The library takes NUL-terminated text: a NUL inside would cut the
     * value short without a word. */
    if (memchr(text, '\0', len))
        return row_error(im, "%s:%llu: %s.%s: the value holds a NUL byte", im->file,
                         (unsigned long long)im->line, im->table_name, f->name);
    if (vmdb_record_set_text(im->schema, im->record, field, text) < 0)
        return value_error(im);
    return CLI_OK;
}

static void start_row(importer *im, uint64_t line)
{
    im->line = line;
    memset(im->record, 0, im->record_size);
    memset(im->given, 0, im->field_count * sizeof *im->given);
}

static int commit_batch(importer *im)
{
    if (!im->txn)
        return CLI_OK;
    int rc = vmdb_txn_commit(im->txn);
    im->txn = NULL;
    if (rc < 0) {
        im->in_txn = 0;
        progress_clear(im);
        if (im->created)
            return cli_error("%s (import stopped; table %s, which it created, is dropped again)",
                             vmdb_last_error()->message, im->table_name);
        return cli_error("%s (import stopped; %llu row%s imported)", vmdb_last_error()->message,
                         (unsigned long long)im->committed, cli_plural(im->committed));
    }
    im->committed += im->in_txn;
    im->in_txn = 0;
    return CLI_OK;
}

static int put_row(importer *im)
{
    if (!im->given[im->key_field])
        return row_error(im, "%s:%llu: no value for %s.%s, the key", im->file,
                         (unsigned long long)im->line, im->table_name,
                         vmdb_schema_field(im->schema, im->key_field)->name);
    if (!im->txn && vmdb_txn_begin(im->db, VMDB_DURABILITY_DEFAULT, &im->txn) < 0) {
        im->txn = NULL;
        return row_error(im, "%s", vmdb_last_error()->message);
    }
    int rc = vmdb_txn_put(im->txn, im->table, im->record, NULL);
    if (rc == VMDB_EFULL)
        return row_error(im, "%s:%llu: a batch of %llu rows does not fit the log of %s; give a "
                             "smaller --batch",
                         im->file, (unsigned long long)im->line,
                         (unsigned long long)im->batch, im->db_path);
    if (rc < 0)
        return row_error(im, "%s:%llu: %s", im->file, (unsigned long long)im->line,
                         vmdb_last_error()->message);
    im->in_txn++;
    progress_tick(im);
    if (im->in_txn >= im->batch)
        return commit_batch(im);
    return CLI_OK;
}

/* ---- csv: columns ------------------------------------------------------- */

/* Copies `len` bytes and a NUL; NULL when out of memory. */
static char *copy_text(const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, text, len);
        copy[len] = '\0';
    }
    return copy;
}

static void free_names(importer *im)
{
    for (size_t i = 0; i < im->names_count; i++)
        free(im->names[i]);
    free(im->names);
    free(im->name_lens);
    im->names = NULL;
    im->name_lens = NULL;
    im->names_count = 0;
}

/* Splits --columns "a, b,c" into names, spaces around each dropped. Its
 * syntax was checked by check_columns. */
static int names_from_option(importer *im, const char *text)
{
    size_t count = 1;
    for (const char *p = text; *p; p++)
        count += *p == ',';
    im->names = calloc(count, sizeof *im->names);
    im->name_lens = calloc(count, sizeof *im->name_lens);
    if (!im->names || !im->name_lens)
        return cli_error("out of memory");
    const char *p = text;
    for (size_t i = 0; i < count; i++) {
        size_t len = strcspn(p, ",");
        const char *start = p, *end = p + len;
        while (start < end && *start == ' ')
            start++;
        while (end > start && end[-1] == ' ')
            end--;
        im->name_lens[i] = (size_t)(end - start);
        if (!(im->names[i] = copy_text(start, im->name_lens[i])))
            return cli_error("out of memory");
        im->names_count++;
        p += len + (p[len] == ',');
    }
    im->names_from = "--columns";
    return CLI_OK;
}

static int names_from_header(importer *im)
{
    size_t count = csv_field_count(im->csv);
    im->names = calloc(count, sizeof *im->names);
    im->name_lens = calloc(count, sizeof *im->name_lens);
    if (!im->names || !im->name_lens)
        return cli_error("out of memory");
    for (size_t c = 0; c < count; c++) {
        const char *name = csv_field(im->csv, c, &im->name_lens[c]);
        if (!(im->names[c] = copy_text(name, im->name_lens[c])))
            return cli_error("out of memory");
        im->names_count++;
    }
    im->names_from = "the header";
    return CLI_OK;
}

/* Reads the header row, unless there is none, and takes the columns'
 * names from it or from --columns. */
static int read_csv_names(importer *im)
{
    const cli_import_options *o = im->options;
    if (o->columns && names_from_option(im, o->columns) != CLI_OK)
        return CLI_ERROR;
    if (o->no_header)
        return CLI_OK;
    int rc = csv_read(im->csv);
    if (rc < 0)
        return cli_error("%s", csv_reader_error(im->csv));
    if (rc == 0)
        return cli_error("%s: empty: a header row naming the fields was expected", im->file);
    im->header_line = csv_record_line(im->csv);
    if (!o->columns)
        return names_from_header(im);
    if (csv_field_count(im->csv) != im->names_count)
        return cli_error("%s:%llu: the header has %zu column%s, but --columns names %zu",
                         im->file, (unsigned long long)im->header_line,
                         csv_field_count(im->csv), cli_plural(csv_field_count(im->csv)),
                         im->names_count);
    return CLI_OK;
}

static bool names_from_option_given(const importer *im)
{
    return im->names_from && !strcmp(im->names_from, "--columns");
}

/* "FILE:LINE: " for a message about the columns' names: the header's
 * line, or "import: " for --columns, which the message names. */
static const char *names_place(const importer *im, char *buf, size_t cap)
{
    if (names_from_option_given(im))
        snprintf(buf, cap, "import: ");
    else
        snprintf(buf, cap, "%s:%llu: ", im->file, (unsigned long long)im->header_line);
    return buf;
}

/* Maps the columns, `columns` of them, to fields: by name, or by
 * position when no names are given. */
static int map_columns(importer *im, size_t columns, uint64_t line)
{
    char place[512], shown[VMDB_PRINTABLE_CAP];
    im->columns = columns;
    im->column_field = malloc(columns * sizeof *im->column_field);
    im->cells = malloc(columns * sizeof *im->cells);
    im->cell_lens = malloc(columns * sizeof *im->cell_lens);
    if (!im->column_field || !im->cells || !im->cell_lens)
        return cli_error("out of memory");
    const vmdb_field *key = vmdb_schema_field(im->schema, im->key_field);
    if (!im->names) {
        if (columns > im->field_count && !im->options->skip_extra)
            return cli_error("%s:%llu: %zu columns, but table %s has %zu field%s (--skip-extra "
                             "ignores the columns past them)",
                             im->file, (unsigned long long)line, columns, im->table_name,
                             im->field_count, cli_plural(im->field_count));
        for (size_t c = 0; c < columns; c++)
            im->column_field[c] = c < im->field_count ? c : SKIPPED;
        if (im->key_field >= columns)
            return cli_error("%s:%llu: %zu column%s, but %s.%s, the key, is field %zu",
                             im->file, (unsigned long long)line, columns, cli_plural(columns),
                             im->table_name, key->name, im->key_field + 1);
        return CLI_OK;
    }
    memset(im->given, 0, im->field_count * sizeof *im->given);
    for (size_t c = 0; c < columns; c++) {
        const char *name = im->names[c];
        size_t len = im->name_lens[c], field;
        if (strlen(name) != len || vmdb_schema_find(im->schema, name, &field) < 0) {
            if (im->options->skip_extra) {
                im->column_field[c] = SKIPPED;
                continue;
            }
            return cli_error("%stable %s has no field '%s' (column %zu of %s; --skip-extra "
                             "ignores such columns)",
                             names_place(im, place, sizeof place), im->table_name,
                             vmdb_printable(name, len, shown, sizeof shown), c + 1,
                             im->names_from);
        }
        if (im->given[field])
            return cli_error("%sfield '%s' is named twice in %s",
                             names_place(im, place, sizeof place), cli_show(shown, name),
                             im->names_from);
        im->given[field] = true;
        im->column_field[c] = field;
    }
    if (!im->given[im->key_field])
        return cli_error("%s%s lacks %s.%s, the key", names_place(im, place, sizeof place),
                         im->names_from, im->table_name, key->name);
    return CLI_OK;
}

/* ---- csv: --create ------------------------------------------------------ */

static void sample_free(row_sample *s)
{
    free(s->lines);
    free(s->first);
    free(s->cells);
    free(s->data);
}

/* Keeps one cell of the row being sampled. */
static int sample_cell(row_sample *s, size_t column, const char *text, size_t len)
{
    if (s->cells_len == s->cells_cap) {
        size_t cap = s->cells_cap ? 2 * s->cells_cap : 256;
        sampled_cell *cells = realloc(s->cells, cap * sizeof *cells);
        if (!cells)
            return cli_error("out of memory");
        s->cells = cells;
        s->cells_cap = cap;
    }
    if (s->data_len + len + 1 > s->data_cap) {
        size_t cap = s->data_cap ? s->data_cap : 4096;
        while (cap < s->data_len + len + 1)
            cap *= 2;
        char *data = realloc(s->data, cap);
        if (!data)
            return cli_error("out of memory");
        s->data = data;
        s->data_cap = cap;
    }
    memcpy(s->data + s->data_len, text, len);
    s->data[s->data_len + len] = '\0';
    s->cells[s->cells_len++] = (sampled_cell){column, s->data_len, len};
    s->data_len += len + 1;
    return CLI_OK;
}

/* Ends the row being sampled, whose cells started at `first`. */
static int sample_row(row_sample *s, size_t first, uint64_t line)
{
    if (s->rows == s->rows_cap) {
        size_t cap = s->rows_cap ? 2 * s->rows_cap : 64;
        uint64_t *lines = realloc(s->lines, cap * sizeof *lines);
        if (lines)
            s->lines = lines;
        size_t *firsts = lines ? realloc(s->first, cap * sizeof *firsts) : NULL;
        if (!firsts)
            return cli_error("out of memory");
        s->first = firsts;
        s->rows_cap = cap;
    }
    s->lines[s->rows] = line;
    s->first[s->rows++] = first;
    return CLI_OK;
}

/* The next sampled row's cells, [*from, *to) of s->cells, and its line;
 * false when every one was given. */
static bool sample_next(row_sample *s, size_t *from, size_t *to, uint64_t *line)
{
    if (s->next == s->rows)
        return false;
    size_t r = s->next++;
    *from = s->first[r];
    *to = r + 1 < s->rows ? s->first[r + 1] : s->cells_len;
    *line = s->lines[r];
    return true;
}

/* A new name for a json member, first seen on `line`: its column. */
static int add_name(importer *im, const char *name, size_t len, uint64_t line, size_t *column)
{
    if (im->names_count == im->names_cap) {
        size_t cap = im->names_cap ? 2 * im->names_cap : 16;
        char **names = realloc(im->names, cap * sizeof *names);
        if (names)
            im->names = names;
        size_t *lens = names ? realloc(im->name_lens, cap * sizeof *lens) : NULL;
        if (lens)
            im->name_lens = lens;
        column_guess *guesses = lens ? realloc(im->guesses, cap * sizeof *guesses) : NULL;
        if (guesses)
            im->guesses = guesses;
        uint64_t *lines = guesses ? realloc(im->name_lines, cap * sizeof *lines) : NULL;
        if (!lines)
            return cli_error("out of memory");
        im->name_lines = lines;
        im->names_cap = cap;
    }
    size_t c = im->names_count;
    if (!(im->names[c] = copy_text(name, len)))
        return cli_error("out of memory");
    im->name_lens[c] = len;
    im->name_lines[c] = line;
    column_guess_start(&im->guesses[c]);
    im->names_count++;
    *column = c;
    return CLI_OK;
}

/* Reads up to SAMPLE_ROWS objects ahead, each member's name a column. */
static int sample_json(importer *im)
{
    row_sample *s = &im->sample;
    im->names_from = "the objects";
    int rc = 1;
    while (s->rows < SAMPLE_ROWS && s->data_len < SAMPLE_BYTES &&
           (rc = jsonl_read(im->json)) == 1) {
        uint64_t line = jsonl_line(im->json);
        size_t first = s->cells_len;
        for (size_t k = 0; k < jsonl_member_count(im->json); k++) {
            const jsonl_member *m = jsonl_member_at(im->json, k);
            size_t c = 0;
            while (c < im->names_count && (im->name_lens[c] != m->name_len ||
                                           memcmp(im->names[c], m->name, m->name_len)))
                c++;
            if (c == im->names_count && add_name(im, m->name, m->name_len, line, &c) != CLI_OK)
                return CLI_ERROR;
            /* A json string is text, whatever it looks like. */
            if (m->kind == JSONL_STRING)
                column_guess_add_text(&im->guesses[c], m->value_len, line);
            else
                column_guess_add(&im->guesses[c], m->value, m->value_len, line);
            if (sample_cell(s, c, m->value, m->value_len) != CLI_OK)
                return CLI_ERROR;
        }
        if (sample_row(s, first, line) != CLI_OK)
            return CLI_ERROR;
    }
    if (rc < 0)
        return cli_error("%s", jsonl_reader_error(im->json));
    if (!im->names_count)
        return cli_error("%s: no object to make table %s from", im->file, im->table_name);
    return CLI_OK;
}

/* Reads up to SAMPLE_ROWS rows ahead. */
static int sample_csv(importer *im)
{
    row_sample *s = &im->sample;
    im->guesses = malloc(im->names_count * sizeof *im->guesses);
    if (!im->guesses)
        return cli_error("out of memory");
    for (size_t c = 0; c < im->names_count; c++)
        column_guess_start(&im->guesses[c]);
    int rc = 1;
    while (s->rows < SAMPLE_ROWS && s->data_len < SAMPLE_BYTES &&
           (rc = csv_read(im->csv)) == 1) {
        uint64_t line = csv_record_line(im->csv);
        if (csv_field_count(im->csv) != im->names_count)
            return cli_error("%s:%llu: %zu column%s, but --columns names %zu", im->file,
                             (unsigned long long)line, csv_field_count(im->csv),
                             cli_plural(csv_field_count(im->csv)), im->names_count);
        size_t first = s->cells_len;
        for (size_t c = 0; c < im->names_count; c++) {
            size_t len;
            const char *cell = csv_field(im->csv, c, &len);
            column_guess_add(&im->guesses[c], cell, len, line);
            if (sample_cell(s, c, cell, len) != CLI_OK)
                return CLI_ERROR;
        }
        if (sample_row(s, first, line) != CLI_OK)
            return CLI_ERROR;
    }
    if (rc < 0)
        return cli_error("%s", csv_reader_error(im->csv));
    return CLI_OK;
}

/* The column the key is: --key's, or the first. */
static int key_column(importer *im, size_t *out)
{
    const char *key = im->options->key;
    *out = 0;
    if (!key)
        return CLI_OK;
    for (size_t c = 0; c < im->names_count; c++) {
        if (!strcmp(im->names[c], key)) {
            *out = c;
            return CLI_OK;
        }
    }
    char shown[VMDB_PRINTABLE_CAP];
    return cli_error("import: --key %s names no column of %s", cli_show(shown, key),
                     im->names_from);
}

/* "FILE:LINE: " for a message about the name of column c. */
static const char *name_place(const importer *im, size_t c, char *buf, size_t cap)
{
    if (im->name_lines) {
        snprintf(buf, cap, "%s:%llu: ", im->file, (unsigned long long)im->name_lines[c]);
        return buf;
    }
    return names_place(im, buf, cap);
}

/* Reads up to SAMPLE_ROWS rows ahead, chooses a type for each column
 * from them, and creates the table. */
static int create_table(importer *im)
{
    char place[512], shown[VMDB_PRINTABLE_CAP];
    if (im->csv && !im->names)
        return cli_error("import: --create needs the columns' names: a header row, or "
                         "--columns with --no-header");
    if (!schema_guess_valid_name(im->table_name, strlen(im->table_name)))
        return cli_error("import: '%s' is not a table name (letters, digits and '_', not "
                         "starting with a digit, at most 63 bytes)",
                         cli_show(shown, im->table_name));
    if ((im->csv ? sample_csv(im) : sample_json(im)) != CLI_OK)
        return CLI_ERROR;
    for (size_t c = 0; c < im->names_count; c++) {
        const char *name = im->names[c];
        if (!schema_guess_valid_name(name, im->name_lens[c]) && im->json)
            return cli_error("%smember '%s' is not a field name (letters, digits and '_', not "
                             "starting with a digit, at most 63 bytes)",
                             name_place(im, c, place, sizeof place),
                             vmdb_printable(name, im->name_lens[c], shown, sizeof shown));
        if (!schema_guess_valid_name(name, im->name_lens[c]))
            return cli_error("%scolumn %zu of %s, '%s', is not a field name (letters, digits "
                             "and '_', not starting with a digit, at most 63 bytes)%s",
                             name_place(im, c, place, sizeof place), c + 1, im->names_from,
                             vmdb_printable(name, im->name_lens[c], shown, sizeof shown),
                             names_from_option_given(im) ? ""
                                                         : "; --columns names the columns "
                                                           "instead");
        for (size_t d = 0; d < c; d++)
            if (!strcmp(im->names[d], name))
                return cli_error("%scolumns %zu and %zu of %s are both named '%s'",
                                 name_place(im, c, place, sizeof place), d + 1, c + 1,
                                 im->names_from, name);
    }
    size_t key;
    if (key_column(im, &key) != CLI_OK)
        return CLI_ERROR;
    column_guess *guesses = im->guesses;
    int rc;

    /* name:type, 63 + 1 + 15 bytes and ", " or " key" */
    char *text = malloc(im->names_count * (VMDB_SCHEMA_MAX_NAME + COLUMN_GUESS_TYPE_CAP + 8) + 1);
    if (!text)
        return cli_error("out of memory");
    size_t len = 0;
    for (size_t c = 0; c < im->names_count; c++) {
        char type[COLUMN_GUESS_TYPE_CAP];
        if (!column_guess_type(&guesses[c], type)) {
            rc = cli_error("%s:%llu: column %zu (%s) holds %zu bytes, more than a field holds "
                           "(str%d)",
                           im->file, (unsigned long long)guesses[c].longest_line, c + 1,
                           im->names[c], guesses[c].longest, VMDB_SCHEMA_MAX_STR);
            free(text);
            return rc;
        }
        len += (size_t)sprintf(text + len, "%s%s:%s%s", c ? ", " : "", im->names[c], type,
                               c == key ? " key" : "");
    }
    vmdb_schema *schema;
    if (vmdb_schema_parse(text, &schema) < 0) {
        rc = cli_error("import: table %s cannot be made from %s: %s", im->table_name,
                       im->names_from, vmdb_last_error()->message);
        free(text);
        return rc;
    }
    free(text);
    rc = vmdb_table_create(im->db, im->table_name, schema, &im->table);
    vmdb_schema_free(schema);
    if (rc == VMDB_EEXIST) /* another process made it meanwhile: import into it */
        return cli_open_table(im->db, im->db_path, im->table_name, &im->table);
    if (rc < 0)
        return cli_library_error();
    im->created = true;
    if (!im->options->quiet) {
        size_t shown_len;
        const vmdb_schema *made = vmdb_table_schema(im->table);
        vmdb_schema_format(made, NULL, 0, &shown_len);
        char *canonical = malloc(shown_len + 1);
        if (canonical && vmdb_schema_format(made, canonical, shown_len + 1, &shown_len) == 0)
            printf("created table %s: %s\n", im->table_name, canonical);
        free(canonical);
        /* Before any message about the rows, which stderr shows at once. */
        fflush(stdout);
    }
    return CLI_OK;
}

/* ---- csv: rows ---------------------------------------------------------- */

/* The next row's cells into im->cells: the sample's first, then the
 * reader's. 1, 0 at the end of the input, CLI_ERROR after a message. */
static int next_csv_row(importer *im)
{
    row_sample *s = &im->sample;
    size_t from, to;
    uint64_t line;
    if (sample_next(s, &from, &to, &line)) {
        for (size_t i = from; i < to; i++) {
            im->cells[s->cells[i].column] = s->data + s->cells[i].start;
            im->cell_lens[s->cells[i].column] = s->cells[i].len;
        }
        start_row(im, line);
        return 1;
    }
    int rc = csv_read(im->csv);
    if (rc < 0)
        return row_error(im, "%s", csv_reader_error(im->csv));
    if (rc == 0)
        return 0;
    size_t count = csv_field_count(im->csv);
    if (!im->columns && map_columns(im, count, csv_record_line(im->csv)) != CLI_OK)
        return CLI_ERROR;
    /* The reader holds every row to the first one's count, which --columns
     * may not have given. */
    if (count != im->columns)
        return row_error(im, "%s:%llu: %zu column%s, but %s names %zu", im->file,
                         (unsigned long long)csv_record_line(im->csv), count, cli_plural(count),
                         im->names_from, im->columns);
    for (size_t c = 0; c < count; c++)
        im->cells[c] = csv_field(im->csv, c, &im->cell_lens[c]);
    start_row(im, csv_record_line(im->csv));
    return 1;
}

/* An empty cell is the field's zero (0, false, the empty string), as a
 * field the file leaves out is, except in a number key: there several
 * rows with no key would silently become the one with key 0. */
static int store_empty_cell(importer *im, size_t column, size_t field)
{
    const vmdb_field *f = vmdb_schema_field(im->schema, field);
    if (im->empty_error)
        return row_error(im, "%s:%llu: column %zu (%s.%s) is empty (--empty=error)", im->file,
                         (unsigned long long)im->line, column + 1, im->table_name, f->name);
    if (field == im->key_field && f->type != VMDB_TYPE_STR)
        return row_error(im, "%s:%llu: column %zu (%s.%s, the key) is empty", im->file,
                         (unsigned long long)im->line, column + 1, im->table_name, f->name);
    im->given[field] = true;
    return CLI_OK;
}

static int import_csv(importer *im)
{
    if (im->names && map_columns(im, im->names_count, im->header_line) != CLI_OK)
        return CLI_ERROR;
    int rc;
    while ((rc = next_csv_row(im)) == 1) {
        for (size_t c = 0; c < im->columns; c++) {
            size_t field = im->column_field[c];
            if (field == SKIPPED)
                continue;
            rc = im->cell_lens[c] ? set_field(im, field, im->cells[c], im->cell_lens[c])
                                  : store_empty_cell(im, c, field);
            if (rc != CLI_OK)
                return CLI_ERROR;
        }
        if (put_row(im) != CLI_OK)
            return CLI_ERROR;
    }
    return rc == 0 ? CLI_OK : CLI_ERROR;
}

/* The field member k names; lines of one file usually give their members
 * in the same order, so the last answer for position k is tried first. */
static int member_field(importer *im, size_t k, const jsonl_member *m, size_t *field)
{
    if (k >= im->member_cap) {
        size_t cap = im->member_cap ? 2 * im->member_cap : 16;
        while (cap <= k)
            cap *= 2;
        size_t *grown = realloc(im->member_field, cap * sizeof *grown);
        if (!grown)
            return row_error(im, "out of memory");
        for (size_t i = im->member_cap; i < cap; i++)
            grown[i] = SIZE_MAX;
        im->member_field = grown;
        im->member_cap = cap;
    }
    size_t cached = im->member_field[k];
    if (cached != SIZE_MAX && !strcmp(vmdb_schema_field(im->schema, cached)->name, m->name)) {
        *field = cached;
        return CLI_OK;
    }
    char shown[VMDB_PRINTABLE_CAP];
    if (strlen(m->name) != m->name_len || vmdb_schema_find(im->schema, m->name, field) < 0) {
        if (im->options->skip_extra) {
            *field = SKIPPED;
            return CLI_OK;
        }
        return row_error(im, "%s:%llu: table %s has no field '%s'", im->file,
                         (unsigned long long)im->line, im->table_name,
                         vmdb_printable(m->name, m->name_len, shown, sizeof shown));
    }
    im->member_field[k] = *field;
    return CLI_OK;
}

/* Puts the objects --create read ahead. */
static int import_json_sample(importer *im)
{
    row_sample *s = &im->sample;
    size_t from, to;
    uint64_t line;
    while (sample_next(s, &from, &to, &line)) {
        start_row(im, line);
        for (size_t i = from; i < to; i++) {
            const sampled_cell *cell = &s->cells[i];
            jsonl_member m = {.name = im->names[cell->column],
                              .name_len = im->name_lens[cell->column],
                              .value = s->data + cell->start,
                              .value_len = cell->len};
            size_t field;
            if (member_field(im, i - from, &m, &field) != CLI_OK)
                return CLI_ERROR;
            if (field != SKIPPED && set_field(im, field, m.value, m.value_len) != CLI_OK)
                return CLI_ERROR;
        }
        if (put_row(im) != CLI_OK)
            return CLI_ERROR;
    }
    return CLI_OK;
}

static int import_json(importer *im)
{
    if (import_json_sample(im) != CLI_OK)
        return CLI_ERROR;
    int rc;
    while ((rc = jsonl_read(im->json)) == 1) {
        start_row(im, jsonl_line(im->json));
        size_t count = jsonl_member_count(im->json);
        for (size_t k = 0; k < count; k++) {
            const jsonl_member *m = jsonl_member_at(im->json, k);
            size_t field;
            if (member_field(im, k, m, &field) != CLI_OK)
                return CLI_ERROR;
            if (field != SKIPPED && set_field(im, field, m->value, m->value_len) != CLI_OK)
                return CLI_ERROR;
        }
        if (put_row(im) != CLI_OK)
            return CLI_ERROR;
    }
    if (rc < 0)
        return row_error(im, "%s", jsonl_reader_error(im->json));
    return CLI_OK;
}

/* ---- setting up ---------------------------------------------------------- */

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && !strcasecmp(name + n - s, suffix);
}

static int choose_format(const char *format, const char *file, enum source_format *out)
{
    char shown[VMDB_PRINTABLE_CAP];
    if (format) {
        if (!strcmp(format, "csv"))
            *out = SOURCE_CSV;
        else if (!strcmp(format, "json"))
            *out = SOURCE_JSON;
        else
            return cli_error("import: unknown format '%s' (csv, json)", cli_show(shown, format));
        return CLI_OK;
    }
    if (!strcmp(file, "-") || has_suffix(file, ".csv")) {
        *out = SOURCE_CSV;
        return CLI_OK;
    }
    if (has_suffix(file, ".json") || has_suffix(file, ".jsonl") || has_suffix(file, ".ndjson")) {
        *out = SOURCE_JSON;
        return CLI_OK;
    }
    return cli_error("%s: cannot tell the format from the name (.csv, .json, .jsonl, "
                     ".ndjson); give --format csv or --format json",
                     file);
}

static int parse_batch(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
    char shown[VMDB_PRINTABLE_CAP];
    if (text[0] < '0' || text[0] > '9' || *end || errno || v == 0)
        return cli_error("import: --batch '%s' is not a row count (1 or more)",
                         cli_show(shown, text));
    *out = v;
    return CLI_OK;
}

/* Every option, as cli_import_check and cli_import_file take them in. */
typedef struct parsed_options {
    enum source_format format;
    uint64_t batch;  /* 0: the default */
    char delimiter;
    bool empty_error;
} parsed_options;

/* "," ";" "|", a tab itself, or "\t" and "tab", which a shell passes
 * more easily. */
static int parse_delimiter(const char *text, char *out)
{
    char shown[VMDB_PRINTABLE_CAP];
    if (!strcmp(text, "\\t") || !strcmp(text, "tab"))
        *out = '\t';
    else if (strlen(text) == 1 && !strchr("\"\r\n", text[0]))
        *out = text[0];
    else
        return cli_error("import: --delimiter '%s' is not one character other than a quote or a "
                         "line ending (\\t or tab for a tab)",
                         cli_show(shown, text));
    return CLI_OK;
}

/* --columns: names separated by ',', none of them empty. */
static int check_columns(const char *text)
{
    char shown[VMDB_PRINTABLE_CAP];
    size_t column = 1;
    for (const char *p = text;; column++) {
        size_t len = strcspn(p, ",");
        size_t blank = strspn(p, " ");
        if (blank >= len)
            return cli_error("import: --columns '%s': name %zu is empty", cli_show(shown, text),
                             column);
        if (!p[len])
            return CLI_OK;
        p += len + 1;
    }
}

static int parse_options(const char *file, const cli_import_options *o, parsed_options *out)
{
    *out = (parsed_options){.delimiter = ','};
    char shown[VMDB_PRINTABLE_CAP];
    if (choose_format(o->format, file, &out->format) != CLI_OK ||
        (o->batch && parse_batch(o->batch, &out->batch) != CLI_OK) ||
        (o->delimiter && parse_delimiter(o->delimiter, &out->delimiter) != CLI_OK) ||
        (o->columns && check_columns(o->columns) != CLI_OK))
        return CLI_ERROR;
    if (o->empty) {
        if (!strcmp(o->empty, "error"))
            out->empty_error = true;
        else if (strcmp(o->empty, "zero"))
            return cli_error("import: --empty '%s' is not zero or error", cli_show(shown, o->empty));
    }
    if (o->key && !o->create)
        return cli_error("import: --key chooses the key of the table --create makes; give "
                         "--create too");
    if (out->format == SOURCE_JSON) {
        const char *csv_only = o->delimiter ? "--delimiter"
                               : o->no_header ? "--no-header"
                               : o->columns   ? "--columns"
                               : o->empty     ? "--empty"
                               : NULL;
        if (csv_only)
            return cli_error("import: %s is for csv files, and %s is read as json lines",
                             csv_only, file);
    }
    return CLI_OK;
}

/* The default batch, shrunk so that it takes at most a quarter of the
 * most the log grows to. */
static uint64_t default_batch(importer *im)
{
    vmdb_db_info info;
    if (vmdb_db_stat(im->db, &info) < 0)
        return DEFAULT_BATCH;
    uint64_t fits = info.wal_max / 4 / (im->record_size + LOG_BYTES_PER_PUT);
    if (fits < 1)
        fits = 1;
    return fits < DEFAULT_BATCH ? fits : DEFAULT_BATCH;
}

static void importer_free(importer *im)
{
    vmdb_txn_abort(im->txn);
    im->txn = NULL;
    csv_reader_free(im->csv);
    jsonl_reader_free(im->json);
    if (im->in && im->in != stdin)
        fclose(im->in);
    free(im->record);
    free(im->given);
    free_names(im);
    free(im->column_field);
    free(im->cells);
    free(im->cell_lens);
    sample_free(&im->sample);
    free(im->guesses);
    free(im->name_lines);
    free(im->member_field);
}

/* The table to import into: the one there is, or with --create a new
 * one made from the file's first rows; the csv's column names are read
 * on the way. */
static int find_table(importer *im)
{
    const cli_import_options *o = im->options;
    int rc = vmdb_table_open(im->db, im->table_name, NULL, &im->table);
    if (rc == VMDB_ENOTFOUND && o->create) {
        if ((im->csv && read_csv_names(im) != CLI_OK) || create_table(im) != CLI_OK)
            return CLI_ERROR;
    } else if (rc == VMDB_ENOTFOUND) {
        char shown[VMDB_PRINTABLE_CAP];
        return cli_error("%s: no table '%s' (import --create makes it from the file)",
                         im->db_path, cli_show(shown, im->table_name));
    } else if (rc < 0) {
        return cli_library_error();
    } else if (im->csv && read_csv_names(im) != CLI_OK) {
        return CLI_ERROR;
    }
    const vmdb_schema *schema = vmdb_table_schema(im->table);
    const char *key = vmdb_schema_field(schema, vmdb_schema_key(schema))->name;
    char shown[VMDB_PRINTABLE_CAP];
    if (o->key && strcmp(o->key, key))
        return cli_error("import: table %s exists, with %s for its key, not %s", im->table_name,
                         key, cli_show(shown, o->key));
    return CLI_OK;
}

static int import(importer *im, const parsed_options *parsed)
{
    struct stat st;
    if (fstat(fileno(im->in), &st) == 0 && S_ISREG(st.st_mode))
        im->progress.size = (uint64_t)st.st_size;
    if (im->format == SOURCE_CSV)
        im->csv = csv_reader_new(im->in, im->file);
    else
        im->json = jsonl_reader_new(im->in, im->file);
    if (!im->csv && !im->json)
        return cli_error("out of memory");
    /* The readers say "stdin" for "-"; so must the importer's messages. */
    im->file = im->csv ? csv_name(im->csv) : jsonl_name(im->json);
    if (im->csv)
        csv_set_delimiter(im->csv, parsed->delimiter);
    im->empty_error = parsed->empty_error;

    if (find_table(im) != CLI_OK)
        return CLI_ERROR;
    im->table_name = vmdb_table_name(im->table);
    im->schema = vmdb_table_schema(im->table);
    im->field_count = vmdb_schema_field_count(im->schema);
    im->key_field = vmdb_schema_key(im->schema);
    im->record_size = vmdb_schema_record_size(im->schema);
    im->record = malloc(im->record_size);
    im->given = malloc(im->field_count * sizeof *im->given);
    if (!im->record || !im->given)
        return cli_error("out of memory");
    im->batch = parsed->batch ? parsed->batch : default_batch(im);

    im->progress.enabled = isatty(STDERR_FILENO);
    /* The line is first drawn at the first tick, so that an import long
     * enough to tick shows it at once. */
    im->progress.start = now();
    im->progress.last = im->progress.start - PROGRESS_INTERVAL;
    int rc = im->format == SOURCE_CSV ? import_csv(im) : import_json(im);
    if (rc == CLI_OK)
        rc = commit_batch(im);
    if (rc != CLI_OK)
        return rc;
    /* Every row is in: a failure to report it must not drop them. */
    im->created = false;
    progress_clear(im);
    if (im->options->quiet)
        return CLI_OK;
    printf("imported %llu row%s into %s in %.2f s\n", (unsigned long long)im->committed,
           cli_plural(im->committed), im->table_name, now() - im->progress.start);
    if (fflush(stdout) != 0)
        return cli_error("cannot write the output: %s", strerror(errno));
    return CLI_OK;
}

int cli_import_check(const char *file, const cli_import_options *options)
{
    parsed_options parsed;
    return parse_options(file, options, &parsed);
}

int cli_import_file(vmdb_db *db, const char *table, const char *file,
                    const cli_import_options *options)
{
    static const cli_import_options defaults;
    if (!options)
        options = &defaults;
    parsed_options parsed;
    if (parse_options(file, options, &parsed) != CLI_OK)
        return CLI_ERROR;
    importer im = {.file = file, .db = db, .db_path = vmdb_db_path(db), .table_name = table,
                   .format = parsed.format, .options = options};
    im.in = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!im.in)
        return cli_error("%s: cannot open: %s", file, strerror(errno));
    int status = import(&im, &parsed);
    importer_free(&im);
    if (status != CLI_OK && im.created && vmdb_table_drop(db, table) < 0)
        cli_library_error();
    return status;
}
