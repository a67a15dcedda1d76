/* SPDX-License-Identifier: MIT */
/*
 * cli/jsonl.h - a reader of JSON lines (one object per line, as `vmdb
 * export --format json` writes them), for `vmdb import`.
 *
 * Each non-blank line must be one JSON object whose members are strings,
 * numbers, true or false: a record's fields. Strings are decoded (every
 * escape of RFC 8259, \uXXXX included, surrogate pairs joined) into UTF-8;
 * numbers are checked against JSON's grammar and kept as their text, so
 * that the library parses them for the field's type: 18446744073709551615
 * reaches a u64 whole and 0.1 an f32 without passing through a double.
 * true and false become the text "true" and "false".
 *
 * Refused, with a message naming the file, line and column: anything that
 * is not an object, null (fields are never null in vmdb: leave the member
 * out for zero), arrays and nested objects, raw control characters and
 * unknown escapes in strings, lone surrogates, malformed numbers and
 * anything after the closing brace. Bytes of 0x80 and above are passed
 * through unchecked; "\u0000" decodes to a NUL byte, which the caller
 * decides what to make of.
 */
#ifndef VMDB_CLI_JSONL_H
#define VMDB_CLI_JSONL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum jsonl_kind { JSONL_STRING, JSONL_NUMBER, JSONL_BOOL };

/* One member of the object last read; the strings are NUL-terminated (the
 * NUL not counted in the length) and valid until the next jsonl_read. */
typedef struct jsonl_member {
    const char *name;
    size_t name_len;   /* bytes */
    const char *value; /* decoded string, number text, "true" or "false" */
    size_t value_len;  /* bytes */
    enum jsonl_kind kind;
    size_t column;     /* where the value starts on its line, 1-based byte */
} jsonl_member;

typedef struct jsonl_reader jsonl_reader;

/* A reader of `in`, which it reads but does not close; `name` (copied) is
 * the file's name in messages ("-" reads as "stdin"). NULL when out of
 * memory. */
jsonl_reader *jsonl_reader_new(FILE *in, const char *name);
void jsonl_reader_free(jsonl_reader *r);

/* Reads the next object, skipping blank lines: 1 when there is one, 0 at
 * the end of the input, -1 when it is malformed or cannot be read
 * (jsonl_reader_error). */
int jsonl_read(jsonl_reader *r);

/* The members of the object last read, in the order of the line. */
size_t jsonl_member_count(const jsonl_reader *r);
const jsonl_member *jsonl_member_at(const jsonl_reader *r, size_t i);

/* The line (1-based) of the object last read. */
uint64_t jsonl_line(const jsonl_reader *r);

/* Bytes of the input consumed so far, for progress. */
uint64_t jsonl_bytes_read(const jsonl_reader *r);

/* The file's name as messages give it. */
const char *jsonl_name(const jsonl_reader *r);

/* After jsonl_read returned -1: "FILE:LINE:COL: what is wrong". */
const char *jsonl_reader_error(const jsonl_reader *r);

#endif /* VMDB_CLI_JSONL_H */
