/* SPDX-License-Identifier: MIT */
/*
 * cli/csv.h - a streaming reader of CSV as RFC 4180 writes it, for
 * `vmdb import`.
 *
 * Accepted:
 *   - fields separated by ',' (or the delimiter set), records ended by LF
 *     or CRLF; the last record may lack its line ending;
 *   - a field in double quotes may hold commas, line endings (kept as they
 *     are in the file) and quotes written twice ("" for ");
 *   - a quote in the middle of an unquoted field is kept as data (5'10"),
 *     as most writers produce it and nothing else could be meant;
 *   - a UTF-8 byte order mark before the first record is skipped;
 *   - a blank line is skipped, except when the records have one field, in
 *     which case it is what RFC 4180 says: a record of one empty field.
 * Refused, with a message naming the file and line:
 *   - a quoted field that never ends (the line where its quote opened);
 *   - anything but the delimiter or a line ending after a closing quote;
 *   - a record whose field count differs from the first record's (the
 *     header row of an import);
 *   - a record longer than CSV_MAX_RECORD bytes, which is also how a
 *     stray quote that swallows the rest of a large file is caught early.
 * Bytes are passed through untouched: no encoding is checked, and a NUL
 * byte is data (the caller decides what to make of it).
 */
#ifndef VMDB_CLI_CSV_H
#define VMDB_CLI_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CSV_MAX_RECORD (1u << 20) /* bytes of field data in one record */

typedef struct csv_reader csv_reader;

/* A reader of `in`, which it reads but does not close; `name` (copied) is
 * the file's name in messages ("-" reads as "stdin"). NULL when out of
 * memory. */
csv_reader *csv_reader_new(FILE *in, const char *name);
void csv_reader_free(csv_reader *r);

/* Fields are separated by `delimiter` instead of ',' (a tab, say), from
 * the next record read on. It must not be '"', CR, LF or NUL: the
 * grammar would be ambiguous. */
void csv_set_delimiter(csv_reader *r, char delimiter);

/* Reads the next record: 1 when there is one, 0 at the end of the input,
 * -1 when the input is malformed or cannot be read (csv_reader_error). */
int csv_read(csv_reader *r);

/* The fields of the record last read. Field i's bytes are at
 * csv_field(r, i, &len), followed by a NUL that is not counted in len;
 * valid until the next csv_read. */
size_t csv_field_count(const csv_reader *r);
const char *csv_field(const csv_reader *r, size_t i, size_t *len);

/* The line (1-based) where the record last read starts; a quoted line
 * ending makes a record span lines. */
uint64_t csv_record_line(const csv_reader *r);

/* Bytes of the input consumed so far, for progress. */
uint64_t csv_bytes_read(const csv_reader *r);

/* The file's name as messages give it. */
const char *csv_name(const csv_reader *r);

/* After csv_read returned -1: "FILE:LINE: what is wrong", one line. */
const char *csv_reader_error(const csv_reader *r);

#endif /* VMDB_CLI_CSV_H */
