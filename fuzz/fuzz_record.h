/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_record.h - shared by the harnesses: an abort that says why,
 * and the importer's last step, a field's text stored into a record.
 */
#ifndef VMDB_FUZZ_RECORD_H
#define VMDB_FUZZ_RECORD_H

#include <stdio.h>
#include <stdlib.h>

#include "vmdb.h"

/* A broken promise is a finding: abort, which libFuzzer reports with the
 * input, after saying which promise and the library's last message. */
#define FUZZ_MUST(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: %s failed; last error: %s\n", __FILE__,    \
                    __LINE__, #cond, vmdb_last_error()->message);              \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* One field of every kind of type, so that a column's text meets the
 * parser of each type in turn. */
#define FUZZ_RECORD_SCHEMA                                                     \
    "k:u64 key, s:str8, f:f32, b:bool, x:bytes4, i:i16, d:f64, u:u8, n:i64"

/* Stores text (NUL-terminated) into field `column` modulo the field
 * count of a record of FUZZ_RECORD_SCHEMA, as the importer stores a
 * column; a refusal must name the field. */
static inline void fuzz_record_set(size_t column, const char *text)
{
    static vmdb_schema *schema;
    static unsigned char record[128];
    if (!schema) {
        FUZZ_MUST(vmdb_schema_parse(FUZZ_RECORD_SCHEMA, &schema) == 0);
        FUZZ_MUST(vmdb_schema_record_size(schema) <= sizeof record);
    }
    size_t field = column % vmdb_schema_field_count(schema);
    if (vmdb_record_set_text(schema, record, field, text) != 0)
        FUZZ_MUST(vmdb_last_error()->message[0] != '\0');
}

#endif /* VMDB_FUZZ_RECORD_H */
