/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_schema.c - the schema text parser (vmdb_schema_parse) and the
 * values that go in and out of records by text.
 *
 * Input: schema text, then optionally a NUL and values separated by NULs,
 * the first for field 0, the next for field 1, and so on round the fields.
 * Besides memory safety it holds the parser to the promises of
 * vmdb/schema.h, aborting when one breaks:
 *   - the canonical text of a parsed schema parses back to an equal one,
 *     and vmdb_schema_new of its fields gives an equal one;
 *   - every field is found by its name;
 *   - a value that set_text accepts is written back by format_text as
 *     text that set_text reads into the same bytes (NaN aside: "nan"
 *     names every NaN).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_record.h"

/* The longest text of a field: bytes4096 as hex, and its NUL. */
#define TEXT_CAP 8200

static void check_reparse(const vmdb_schema *s)
{
    size_t len;
    FUZZ_MUST(vmdb_schema_format(s, NULL, 0, &len) == VMDB_ERANGE);
    char *text = malloc(len + 1);
    FUZZ_MUST(text != NULL);
    FUZZ_MUST(vmdb_schema_format(s, text, len + 1, &len) == 0);
    FUZZ_MUST(strlen(text) == len);
    vmdb_schema *again;
    FUZZ_MUST(vmdb_schema_parse(text, &again) == 0);
    FUZZ_MUST(vmdb_schema_equal(s, again) == 0);
    vmdb_schema_free(again);
    free(text);

    size_t count = vmdb_schema_field_count(s);
    vmdb_field *fields = malloc(count * sizeof *fields);
    FUZZ_MUST(fields != NULL);
    for (size_t i = 0; i < count; i++) {
        fields[i] = *vmdb_schema_field(s, i);
        size_t at;
        FUZZ_MUST(vmdb_schema_find(s, fields[i].name, &at) == 0 && at == i);
    }
    vmdb_schema *built;
    FUZZ_MUST(vmdb_schema_new(fields, count, vmdb_schema_record_size(s), &built) == 0);
    FUZZ_MUST(vmdb_schema_equal(s, built) == 0);
    vmdb_schema_free(built);
    free(fields);
}

static bool is_float(const vmdb_field *f)
{
    return f->type == VMDB_TYPE_F32 || f->type == VMDB_TYPE_F64;
}

/* Whether the float field holds a NaN, whose payload text cannot carry. */
static bool holds_nan(const vmdb_schema *s, const unsigned char *record, size_t i)
{
    double v;
    return is_float(vmdb_schema_field(s, i)) && vmdb_record_get_f64(s, record, i, &v) == 0 &&
           isnan(v);
}

/* Sets field i from text and, if it took it, checks the round trip and
 * reads the field every other way there is. */
static void try_value(const vmdb_schema *s, unsigned char *record, unsigned char *again,
                      size_t i, const char *value)
{
    const vmdb_field *f = vmdb_schema_field(s, i);
    if (vmdb_record_set_text(s, record, i, value) != 0)
        return;
    static char text[TEXT_CAP];
    size_t len;
    FUZZ_MUST(vmdb_record_format_text(s, record, i, text, sizeof text, &len) == 0);
    FUZZ_MUST(strlen(text) == len);
    FUZZ_MUST(vmdb_record_set_text(s, again, i, text) == 0);
    if (!holds_nan(s, record, i))
        FUZZ_MUST(memcmp(record + f->offset, again + f->offset, f->size) == 0);

    int64_t i64;
    uint64_t u64;
    double f64;
    const char *str;
    size_t str_len;
    if (vmdb_record_get_i64(s, record, i, &i64) == 0)
        FUZZ_MUST(vmdb_record_set_i64(s, again, i, i64) == 0 || is_float(f));
    if (vmdb_record_get_u64(s, record, i, &u64) == 0)
        FUZZ_MUST(vmdb_record_set_u64(s, again, i, u64) == 0 || is_float(f));
    if (vmdb_record_get_f64(s, record, i, &f64) == 0)
        (void)vmdb_record_set_f64(s, again, i, f64);
    if (vmdb_record_get_str(s, record, i, &str, &str_len) == 0)
        FUZZ_MUST(str_len <= f->size);
    const void *key;
    size_t key_len;
    FUZZ_MUST(vmdb_record_key(s, record, &key, &key_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy with a NUL after it: the parser takes C strings. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    vmdb_schema *s = NULL;
    if (vmdb_schema_parse(text, &s) != 0) {
        FUZZ_MUST(s == NULL);
        free(text);
        return 0;
    }
    check_reparse(s);

    size_t record_size = vmdb_schema_record_size(s);
    unsigned char *record = calloc(1, record_size);
    unsigned char *again = calloc(1, record_size);
    FUZZ_MUST(record && again);
    size_t count = vmdb_schema_field_count(s);
    size_t field = 0;
    for (const char *v = text + strlen(text) + 1; v <= text + size; v += strlen(v) + 1)
        try_value(s, record, again, field++ % count, v);

    free(again);
    free(record);
    vmdb_schema_free(s);
    free(text);
    return 0;
}
