/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_csv.c - the CSV reader of `vmdb import` (cli/csv.c).
 *
 * The input is the file. Every record is read as the importer reads it,
 * and each field is stored into a record of a fixed schema, as import
 * does for the column of that type. Checked, besides memory safety:
 *   - every record has the first record's field count (the reader refuses
 *     a file where one does not), each field NUL-terminated;
 *   - what the reader accepted, written back by the exporter's CSV printer
 *     (cli/printer.c) and read again, gives the same fields: export then
 *     import is the identity on every file import accepts;
 *   - the same holds when the file is read with another delimiter (taken
 *     from its size), the export still writing commas;
 *   - the type `import --create` chooses for a column (cli/schema_guess.c)
 *     takes every value of the column's kept rows.
 */
#define _GNU_SOURCE /* fmemopen, open_memstream */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "csv.h"
#include "fuzz_record.h"
#include "schema_guess.h"

#define MAX_RECORDS 64 /* kept for the round trip; more are only read */

typedef struct table {
    size_t columns;
    size_t rows;             /* header row included */
    char **fields;           /* rows * columns copies */
    size_t *lens;
} table;

static void table_free(table *t)
{
    for (size_t i = 0; i < t->rows * t->columns; i++)
        free(t->fields[i]);
    free(t->fields);
    free(t->lens);
}

/* Reads every record of `in`; keeps the first MAX_RECORDS. 1 if the whole
 * input was accepted, 0 if the reader refused it. */
static int read_all(FILE *in, table *t, bool store, char delimiter)
{
    csv_reader *r = csv_reader_new(in, "fuzz.csv");
    FUZZ_MUST(r != NULL);
    csv_set_delimiter(r, delimiter);
    *t = (table){0};
    int rc;
    while ((rc = csv_read(r)) == 1) {
        size_t count = csv_field_count(r);
        FUZZ_MUST(count > 0);
        if (t->rows == 0)
            t->columns = count;
        FUZZ_MUST(count == t->columns);
        for (size_t i = 0; i < count; i++) {
            size_t len;
            const char *f = csv_field(r, i, &len);
            FUZZ_MUST(f[len] == '\0');
            if (store)
                fuzz_record_set(i, f);
        }
        if (t->rows < MAX_RECORDS) {
            t->fields = realloc(t->fields, (t->rows + 1) * count * sizeof *t->fields);
            t->lens = realloc(t->lens, (t->rows + 1) * count * sizeof *t->lens);
            FUZZ_MUST(t->fields && t->lens);
            for (size_t i = 0; i < count; i++) {
                size_t len;
                const char *f = csv_field(r, i, &len);
                t->fields[t->rows * count + i] = malloc(len + 1);
                FUZZ_MUST(t->fields[t->rows * count + i] != NULL);
                memcpy(t->fields[t->rows * count + i], f, len + 1);
                t->lens[t->rows * count + i] = len;
            }
            t->rows++;
        }
    }
    if (rc < 0)
        FUZZ_MUST(csv_reader_error(r)[0] != '\0');
    csv_reader_free(r);
    return rc == 0;
}

/* The exporter writes names with strlen, and a byte order mark opening
 * the file is skipped by the reader wherever it came from: a header that
 * holds either cannot come back the same, and no table's names do. */
static bool header_exportable(const table *t)
{
    for (size_t i = 0; i < t->columns; i++)
        if (strlen(t->fields[i]) != t->lens[i])
            return false;
    return memcmp(t->fields[0], "\xef\xbb\xbf", t->lens[0] < 3 ? t->lens[0] : 3) != 0 ||
           t->lens[0] < 3;
}

static void round_trip(const table *t)
{
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    FUZZ_MUST(f != NULL);
    cli_printer *p = cli_printer_open(CLI_FORMAT_CSV, f, t->columns,
                                      (const char *const *)t->fields);
    FUZZ_MUST(p != NULL);
    cli_cell *cells = calloc(t->columns, sizeof *cells);
    FUZZ_MUST(cells != NULL);
    for (size_t r = 1; r < t->rows; r++) {
        for (size_t i = 0; i < t->columns; i++)
            cells[i] = (cli_cell){t->fields[r * t->columns + i], t->lens[r * t->columns + i],
                                  CLI_CELL_TEXT};
        FUZZ_MUST(cli_printer_row(p, cells) == CLI_OK);
    }
    free(cells);
    FUZZ_MUST(cli_printer_close(p) == CLI_OK);
    FUZZ_MUST(fclose(f) == 0);
    if (t->rows == 1) { /* no row: the exporter writes nothing, not even the header */
        free(out);
        return;
    }

    FILE *in = fmemopen(out, out_len, "r");
    FUZZ_MUST(in != NULL);
    table back;
    FUZZ_MUST(read_all(in, &back, false, ',') == 1);
    fclose(in);
    FUZZ_MUST(back.columns == t->columns && back.rows == t->rows);
    for (size_t i = 0; i < t->rows * t->columns; i++)
        FUZZ_MUST(back.lens[i] == t->lens[i] && !memcmp(back.fields[i], t->fields[i], t->lens[i]));
    table_free(&back);
    free(out);
}

/* Every data row's value of each column, stored into a field of the type
 * chosen from them, must be taken. */
static void guessed_types_take_their_values(const table *t)
{
    for (size_t c = 0; c < t->columns; c++) {
        column_guess g;
        column_guess_start(&g);
        for (size_t r = 1; r < t->rows; r++)
            column_guess_add(&g, t->fields[r * t->columns + c], t->lens[r * t->columns + c], r);
        char type[COLUMN_GUESS_TYPE_CAP];
        if (!column_guess_type(&g, type)) {
            FUZZ_MUST(g.longest > VMDB_SCHEMA_MAX_STR);
            continue;
        }
        char text[64];
        snprintf(text, sizeof text, "v:%s", type);
        vmdb_schema *schema;
        FUZZ_MUST(vmdb_schema_parse(text, &schema) == 0);
        unsigned char *record = calloc(1, vmdb_schema_record_size(schema));
        FUZZ_MUST(record != NULL);
        for (size_t r = 1; r < t->rows; r++) {
            const char *value = t->fields[r * t->columns + c];
            /* The importer refuses a NUL inside a value before any type
             * sees it. */
            if (t->lens[r * t->columns + c] && strlen(value) == t->lens[r * t->columns + c])
                FUZZ_MUST(vmdb_record_set_text(schema, record, 0, value) == 0);
        }
        free(record);
        vmdb_schema_free(schema);
    }
}

static void read_and_check(const uint8_t *data, size_t size, char delimiter, bool store)
{
    FILE *in = fmemopen((void *)data, size, "r");
    FUZZ_MUST(in != NULL);
    table t;
    int whole = read_all(in, &t, store, delimiter);
    fclose(in);
    if (whole && t.rows > 0 && t.rows < MAX_RECORDS && header_exportable(&t))
        round_trip(&t);
    if (whole)
        guessed_types_take_their_values(&t);
    table_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer */
    read_and_check(data, size, ',', true);
    static const char others[] = {';', '\t', '|'};
    if (size % 4)
        read_and_check(data, size, others[size % 4 - 1], false);
    return 0;
}
