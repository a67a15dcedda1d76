/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_jsonl.c - the JSON-lines reader of `vmdb import` (cli/jsonl.c).
 *
 * The input is the file. Every object is read as the importer reads it,
 * and each member's value is stored into a record of a fixed schema, as
 * import does. Checked, besides memory safety: each object the reader
 * accepts, written back by the exporter's JSON printer (cli/printer.c)
 * and read again, has the same members, kinds and values. Values with
 * bytes of 0x80 and above are compared only for kind: the printer writes
 * invalid UTF-8 as U+FFFD, which the reader does not check for.
 */
#define _GNU_SOURCE /* fmemopen, open_memstream */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fuzz_record.h"
#include "jsonl.h"

static bool ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

static enum cli_cell_kind cell_kind(enum jsonl_kind kind)
{
    return kind == JSONL_NUMBER ? CLI_CELL_NUMBER : kind == JSONL_BOOL ? CLI_CELL_BOOL
                                                                       : CLI_CELL_TEXT;
}

/* Prints the object just read as export would, reads it back, compares. */
static void round_trip(const jsonl_reader *r)
{
    size_t count = jsonl_member_count(r);
    const char **names = calloc(count + 1, sizeof *names);
    cli_cell *cells = calloc(count + 1, sizeof *cells);
    FUZZ_MUST(names && cells);
    for (size_t i = 0; i < count; i++) {
        const jsonl_member *m = jsonl_member_at(r, i);
        if (strlen(m->name) != m->name_len) { /* a name with \u0000: no field has one */
            free(names);
            free(cells);
            return;
        }
        names[i] = m->name;
        cells[i] = (cli_cell){m->value, m->value_len, cell_kind(m->kind)};
    }
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    FUZZ_MUST(f != NULL);
    cli_printer *p = cli_printer_open(CLI_FORMAT_JSON, f, count, names);
    FUZZ_MUST(p != NULL);
    FUZZ_MUST(cli_printer_row(p, cells) == CLI_OK);
    FUZZ_MUST(cli_printer_close(p) == CLI_OK);
    FUZZ_MUST(fclose(f) == 0);

    FILE *in = fmemopen(out, out_len, "r");
    FUZZ_MUST(in != NULL);
    jsonl_reader *back = jsonl_reader_new(in, "exported.json");
    FUZZ_MUST(back != NULL);
    int rc = jsonl_read(back);
    if (rc != 1)
        fprintf(stderr, "re-reading \"%.*s\": %s\n", (int)out_len, out, jsonl_reader_error(back));
    FUZZ_MUST(rc == 1);
    FUZZ_MUST(jsonl_member_count(back) == count);
    for (size_t i = 0; i < count; i++) {
        const jsonl_member *a = jsonl_member_at(r, i), *b = jsonl_member_at(back, i);
        FUZZ_MUST(a->kind == b->kind);
        if (!ascii(a->name, a->name_len) || !ascii(a->value, a->value_len))
            continue;
        FUZZ_MUST(a->name_len == b->name_len && !memcmp(a->name, b->name, a->name_len));
        FUZZ_MUST(a->value_len == b->value_len && !memcmp(a->value, b->value, a->value_len));
    }
    FUZZ_MUST(jsonl_read(back) == 0);
    jsonl_reader_free(back);
    fclose(in);
    free(out);
    free(names);
    free(cells);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer */
    FILE *in = fmemopen((void *)data, size, "r");
    FUZZ_MUST(in != NULL);
    jsonl_reader *r = jsonl_reader_new(in, "fuzz.json");
    FUZZ_MUST(r != NULL);
    int rc;
    while ((rc = jsonl_read(r)) == 1) {
        for (size_t i = 0; i < jsonl_member_count(r); i++) {
            const jsonl_member *m = jsonl_member_at(r, i);
            FUZZ_MUST(m->name[m->name_len] == '\0' && m->value[m->value_len] == '\0');
            FUZZ_MUST(m->column >= 1);
            fuzz_record_set(i, m->value);
        }
        round_trip(r);
    }
    if (rc < 0)
        FUZZ_MUST(jsonl_reader_error(r)[0] != '\0');
    jsonl_reader_free(r);
    fclose(in);
    return 0;
}
