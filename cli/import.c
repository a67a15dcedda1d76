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
#include "vmdb.h"

#define DEFAULT_BATCH 10000
/* Log bytes a put takes besides the record image: its record header and
 * key, rounded up generously. */
#define LOG_BYTES_PER_PUT 64
#define PROGRESS_INTERVAL 0.25 /* seconds between redraws */

enum source_format { SOURCE_CSV, SOURCE_JSON };

typedef struct progress {
    bool enabled;   /* stderr is a terminal */
    bool drawn;     /* a line is on screen and must be cleared */
    double start;   /* seconds, CLOCK_MONOTONIC */
    double last;    /* when the line was last drawn */
    uint64_t size;  /* input bytes, 0 when unknown (a pipe) */
} progress;

typedef struct importer {
    const char *file;          /* as messages name it */
    const char *db_path;
    const char *table_name;
    vmdb_db *db;
    vmdb_table *table;
    const vmdb_schema *schema;
    size_t field_count;
    size_t key_field;
    unsigned char *record;     /* the row being built, record_size bytes */
    size_t record_size;        /* bytes */
    bool *given;               /* fields the current row has set */

    enum source_format format;
    FILE *in;
    csv_reader *csv;
    jsonl_reader *json;
    size_t *column_field;      /* csv: the field of each header column */
    size_t columns;            /* csv: columns in the header */
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
    return cli_error("%s (import stopped; %llu row%s imported, from the batches before this "
                     "row's)",
                     what, (unsigned long long)im->committed, cli_plural(im->committed));
}

/* A value the library refused: its message starts with the field's name,
 * which the table's name completes ("people.age: value 300 does not fit
 * u8"). */
static int value_error(importer *im)
{
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

/* Maps the header row's names to fields. */
static int read_csv_header(importer *im)
{
    int rc = csv_read(im->csv);
    if (rc < 0)
        return cli_error("%s", csv_reader_error(im->csv));
    if (rc == 0)
        return cli_error("%s: empty: a header row naming the fields was expected", im->file);
    uint64_t line = csv_record_line(im->csv);
    im->columns = csv_field_count(im->csv);
    im->column_field = malloc(im->columns * sizeof *im->column_field);
    if (!im->column_field)
        return cli_error("out of memory");
    start_row(im, line);
    for (size_t c = 0; c < im->columns; c++) {
        size_t len;
        const char *name = csv_field(im->csv, c, &len);
        size_t field;
        char shown[VMDB_PRINTABLE_CAP];
        if (strlen(name) != len || vmdb_schema_find(im->schema, name, &field) < 0)
            return cli_error("%s:%llu: table %s has no field '%s' (column %zu of the header)",
                             im->file, (unsigned long long)line, im->table_name,
                             vmdb_printable(name, len, shown, sizeof shown), c + 1);
        if (im->given[field])
            return cli_error("%s:%llu: field '%s' is named twice in the header", im->file,
                             (unsigned long long)line, name);
        im->given[field] = true;
        im->column_field[c] = field;
    }
    if (!im->given[im->key_field])
        return cli_error("%s:%llu: the header lacks %s.%s, the key", im->file,
                         (unsigned long long)line, im->table_name,
                         vmdb_schema_field(im->schema, im->key_field)->name);
    return CLI_OK;
}

static int import_csv(importer *im)
{
    if (read_csv_header(im) != CLI_OK)
        return CLI_ERROR;
    int rc;
    while ((rc = csv_read(im->csv)) == 1) {
        start_row(im, csv_record_line(im->csv));
        for (size_t c = 0; c < im->columns; c++) {
            size_t len;
            const char *text = csv_field(im->csv, c, &len);
            if (set_field(im, im->column_field[c], text, len) != CLI_OK)
                return CLI_ERROR;
        }
        if (put_row(im) != CLI_OK)
            return CLI_ERROR;
    }
    if (rc < 0)
        return row_error(im, "%s", csv_reader_error(im->csv));
    return CLI_OK;
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
    if (strlen(m->name) != m->name_len || vmdb_schema_find(im->schema, m->name, field) < 0)
        return row_error(im, "%s:%llu: table %s has no field '%s'", im->file,
                         (unsigned long long)im->line, im->table_name,
                         vmdb_printable(m->name, m->name_len, shown, sizeof shown));
    im->member_field[k] = *field;
    return CLI_OK;
}

static int import_json(importer *im)
{
    int rc;
    while ((rc = jsonl_read(im->json)) == 1) {
        start_row(im, jsonl_line(im->json));
        size_t count = jsonl_member_count(im->json);
        for (size_t k = 0; k < count; k++) {
            const jsonl_member *m = jsonl_member_at(im->json, k);
            size_t field;
            if (member_field(im, k, m, &field) != CLI_OK ||
                set_field(im, field, m->value, m->value_len) != CLI_OK)
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

/* The default batch, shrunk so that it takes at most a quarter of the
 * log. */
static uint64_t default_batch(importer *im)
{
    vmdb_db_info info;
    if (vmdb_db_stat(im->db, &info) < 0)
        return DEFAULT_BATCH;
    uint64_t fits = info.wal_size / 4 / (im->record_size + LOG_BYTES_PER_PUT);
    if (fits < 1)
        fits = 1;
    return fits < DEFAULT_BATCH ? fits : DEFAULT_BATCH;
}

static void importer_free(importer *im)
{
    vmdb_txn_abort(im->txn);
    csv_reader_free(im->csv);
    jsonl_reader_free(im->json);
    if (im->in && im->in != stdin)
        fclose(im->in);
    free(im->record);
    free(im->given);
    free(im->column_field);
    free(im->member_field);
}

static int import(importer *im, const cli_import_options *options)
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

    if (cli_open_table(im->db, im->db_path, im->table_name, &im->table) != CLI_OK)
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
    if (!options->batch)
        im->batch = default_batch(im);

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
    progress_clear(im);
    if (options->quiet)
        return CLI_OK;
    printf("imported %llu row%s into %s in %.2f s\n", (unsigned long long)im->committed,
           cli_plural(im->committed), im->table_name, now() - im->progress.start);
    if (fflush(stdout) != 0)
        return cli_error("cannot write the output: %s", strerror(errno));
    return CLI_OK;
}

int cli_import_check(const char *file, const cli_import_options *options)
{
    enum source_format format;
    uint64_t batch;
    if (choose_format(options->format, file, &format) != CLI_OK ||
        (options->batch && parse_batch(options->batch, &batch) != CLI_OK))
        return CLI_ERROR;
    return CLI_OK;
}

int cli_import_file(vmdb_db *db, const char *db_path, const char *table, const char *file,
                    const cli_import_options *options)
{
    static const cli_import_options defaults;
    if (!options)
        options = &defaults;
    importer im = {.file = file, .db = db, .db_path = db_path, .table_name = table};
    /* Every option is checked before anything is read or written. */
    if (choose_format(options->format, file, &im.format) != CLI_OK ||
        (options->batch && parse_batch(options->batch, &im.batch) != CLI_OK))
        return CLI_ERROR;
    im.in = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!im.in)
        return cli_error("%s: cannot open: %s", file, strerror(errno));
    int status = import(&im, options);
    importer_free(&im);
    return status;
}
