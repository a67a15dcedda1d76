/* SPDX-License-Identifier: MIT */
/*
 * vmdb/schema.h - the shape of a table's records, and values in and out of
 * them.
 *
 * A table holds fixed-size records. A schema names their fields: each has
 * a type, a size in bytes and an offset in bytes from the start of the
 * record, and exactly one field is the key. Types:
 *
 *   u8 u16 u32 u64 i8 i16 i32 i64   integers, host byte order
 *   f32 f64                         IEEE 754 floats, host byte order
 *   bool                            one byte, 0 is false, anything else true
 *   strN                            N bytes (1..4096) of text padded with
 *                                   NULs; a value of exactly N bytes has no
 *                                   terminating NUL
 *   bytesN                          N raw bytes (1..4096)
 *
 * vmdb runs on little-endian x86-64, so host order is little-endian; the
 * record bytes are stored in files as they are in memory.
 *
 * A schema is built from text (vmdb_schema_parse: "id:u64 key, name:str32")
 * or from a C struct (vmdb_schema_new with VMDB_FIELD / VMDB_KEY), and is
 * immutable afterwards: any number of threads may read one schema at once.
 * Every schema that either constructor accepts can be stored in a table
 * header; the limits below exist so that it can.
 *
 * Values are read and written either as text (vmdb_record_set_text and
 * vmdb_record_format_text, for the CLI and the query engine) or as C
 * numbers (vmdb_record_get_i64 and friends). Every setter checks that the
 * value fits the field and leaves the record untouched if it does not. The
 * functions taking a record read or write only the bytes of the field
 * named, through memcpy, so a record needs no particular alignment.
 *
 * Errors name the field and the value at fault, e.g.
 *   "age: value 300 does not fit u8"
 *   "schema: unknown type 'u7' for field 'age' (col 21)"
 * Values quoted in messages are cut to 40 bytes followed by "...", with
 * control characters shown as '?', so a message stays one bounded line.
 *
 * Float text is read with strtod and written with snprintf, so it follows
 * the C locale's LC_NUMERIC: a program that switches to a locale with a
 * decimal comma reads and writes "1,5".
 */
#ifndef VMDB_SCHEMA_H
#define VMDB_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDB_SCHEMA_MAX_FIELDS 256      /* fields per schema */
#define VMDB_SCHEMA_MAX_RECORD 65536    /* record size, bytes */
#define VMDB_SCHEMA_MAX_NAME 63         /* field name length, bytes */
#define VMDB_SCHEMA_MAX_STR 4096        /* N of strN and bytesN, bytes */
/* The stored form of a schema takes 16 bytes plus 7 bytes and the name's
 * length per field, and must fit in this many bytes: 135 fields
 * with 8-byte names. Larger schemas are refused with VMDB_ESCHEMA. */
#define VMDB_SCHEMA_MAX_ENCODED 2048

typedef struct vmdb_schema vmdb_schema;

enum vmdb_type {
    VMDB_TYPE_U8 = 1,
    VMDB_TYPE_U16,
    VMDB_TYPE_U32,
    VMDB_TYPE_U64,
    VMDB_TYPE_I8,
    VMDB_TYPE_I16,
    VMDB_TYPE_I32,
    VMDB_TYPE_I64,
    VMDB_TYPE_F32,
    VMDB_TYPE_F64,
    VMDB_TYPE_BOOL,
    VMDB_TYPE_STR,
    VMDB_TYPE_BYTES,
};

/* One field of a record. In a schema, `name` points into the schema and
 * lives as long as it does. */
typedef struct vmdb_field {
    const char *name;    /* [A-Za-z_][A-Za-z0-9_]*, at most 63 bytes */
    enum vmdb_type type;
    uint32_t size;       /* bytes: the type's own size for numbers and
                            bool (vmdb_schema_new also takes 0 for it), N
                            for strN and bytesN */
    uint32_t offset;     /* bytes from the start of the record */
    bool key;            /* true for the one key field */
} vmdb_field;

/*
 * Initialisers for the fields of a C struct, to build an array for
 * vmdb_schema_new:
 *
 *   struct person { uint64_t id; char name[32]; uint32_t age; };
 *   static const vmdb_field person_fields[] = {
 *       VMDB_KEY(struct person, id, VMDB_TYPE_U64),
 *       VMDB_FIELD(struct person, name, VMDB_TYPE_STR),
 *       VMDB_FIELD(struct person, age, VMDB_TYPE_U32),
 *   };
 *   vmdb_schema_new(person_fields, 3, sizeof(struct person), &schema);
 *
 * The field's name is the member's name; its size and offset come from
 * sizeof and offsetof, so a member of the wrong size for its type (a
 * uint16_t declared VMDB_TYPE_U32) is caught by vmdb_schema_new.
 */
#define VMDB_FIELD(st, member, ty)                                             \
    {                                                                          \
        .name = #member, .type = (ty),                                         \
        .size = (uint32_t)sizeof(((st *)0)->member),                           \
        .offset = (uint32_t)offsetof(st, member), .key = false                 \
    }
#define VMDB_KEY(st, member, ty)                                               \
    {                                                                          \
        .name = #member, .type = (ty),                                         \
        .size = (uint32_t)sizeof(((st *)0)->member),                           \
        .offset = (uint32_t)offsetof(st, member), .key = true                  \
    }

/*
 * Parses a schema's text form:
 *
 *   schema := field { "," field }
 *   field  := name ":" type [ "key" ]
 *   type   := u8 | u16 | u32 | u64 | i8 | i16 | i32 | i64 | f32 | f64
 *           | bool | str<N> | bytes<N>          (N = 1..4096, e.g. str32)
 *
 * e.g. "id:u64 key, name:str32, age:u32, score:f64". Whitespace (including
 * newlines) may stand between any two tokens; type names and "key" are
 * case-insensitive, field names are not.
 *
 * Layout: fields in the order given, each at the next offset that is a
 * multiple of its natural alignment (its size for numbers; 1 for bool,
 * str and bytes), and the record size rounded up to a multiple of 8. The
 * example above has id at 0, name at 8, age at 40, score at 48 and a
 * record of 56 bytes: the layout of the equivalent C struct on x86-64.
 *
 * At most one field may say "key"; if none does, the FIRST field is the
 * key.
 *
 * Errors name the token and its column (1-based byte offset into text):
 *   VMDB_ESYNTAX  text that is not a schema: a name that does not start
 *                 with a letter or '_', a missing ':', type or ',', an
 *                 empty field after a ','
 *   VMDB_ESCHEMA  a well-formed schema that is not allowed: an unknown
 *                 type, a str/bytes size out of 1..4096, a name longer
 *                 than 63, a duplicate field, two key fields, no fields,
 *                 more than 256 fields, a record over 65536 bytes, or an
 *                 encoding over VMDB_SCHEMA_MAX_ENCODED bytes
 * On success *out is a new schema to free with vmdb_schema_free(); on
 * failure it is NULL.
 */
VMDB_API int vmdb_schema_parse(const char *text, vmdb_schema **out);

/*
 * A schema for records of `record_size` bytes described by `count` fields,
 * in any offset order and with any gaps between them (the layout of the
 * caller's own struct). The schema copies the fields and their names;
 * `fields` may be freed or reused afterwards. A number's offset need not
 * be aligned: values are copied in and out with memcpy.
 *
 * VMDB_ESCHEMA, naming the field, for: no fields or more than 256, an
 * unknown type, a size that does not agree with the type (0 means the
 * type's own size for numbers and bool), a str/bytes size out of 1..4096,
 * a NULL or invalid name, a duplicate name, a field that ends past
 * record_size, two fields that share a byte, a record size out of
 * 1..65536, no key or more than one (here, unlike in text, the key must
 * be marked), or an encoding over VMDB_SCHEMA_MAX_ENCODED bytes.
 * VMDB_EINVAL if fields is NULL and count is not 0.
 */
VMDB_API int vmdb_schema_new(const vmdb_field *fields, size_t count,
                             size_t record_size, vmdb_schema **out);

/* Frees a schema and its names; accepts NULL. */
VMDB_API void vmdb_schema_free(vmdb_schema *schema);

/* *out = an independent copy of schema, to free with vmdb_schema_free. */
VMDB_API int vmdb_schema_copy(const vmdb_schema *schema, vmdb_schema **out);

/* Record size in bytes. */
VMDB_API size_t vmdb_schema_record_size(const vmdb_schema *schema);
/* Number of fields. */
VMDB_API size_t vmdb_schema_field_count(const vmdb_schema *schema);
/* Field i in schema order, or NULL if i is out of range. The field and its
 * name point into the schema and live as long as it does. */
VMDB_API const vmdb_field *vmdb_schema_field(const vmdb_schema *schema,
                                             size_t i);
/* Index of the key field. */
VMDB_API size_t vmdb_schema_key(const vmdb_schema *schema);

/* *index = the index of the field called `name` (case-sensitive), or
 * VMDB_ENOTFOUND naming it, *index then being SIZE_MAX. */
VMDB_API int vmdb_schema_find(const vmdb_schema *schema, const char *name,
                              size_t *index);

/*
 * Writes the schema's canonical text, e.g. "id:u64 key, name:str32,
 * age:u32", NUL-terminated, into dst (cap bytes; dst may be NULL when cap
 * is 0). *len gets the text's length without the NUL, also when the call
 * fails with VMDB_ERANGE because cap < *len + 1; dst then holds nothing
 * useful. The key is always marked, even when it is the first field.
 *
 * vmdb_schema_parse of this text gives an equal schema when the layout is
 * the natural one (every schema from text has it). Text cannot express
 * offsets, so a schema from vmdb_schema_new with gaps or its own order
 * parses back to a different layout (vmdb_schema_equal tells which).
 */
VMDB_API int vmdb_schema_format(const vmdb_schema *schema, char *dst,
                                size_t cap, size_t *len);

/*
 * 0 if a and b are identical: the same fields in the same order with the
 * same names, types, sizes, offsets and key, and the same record size.
 * Otherwise VMDB_ESCHEMA with a message about the first difference, `a`
 * being the caller's schema ("here") and `b` the stored one ("in the
 * table"):
 *   "field 'age': u32 here, u16 in the table"
 *   "field 'email' is not in the table"
 *   "field 'x' is in the table, not here"
 *   "field 'age': offset 8 here, 12 in the table"
 *   "field 'id': the key here, not the key in the table"
 *   "field 'age': position 2 here, 3 in the table" (1-based)
 *   "record size 48 here, 40 in the table"
 */
VMDB_API int vmdb_schema_equal(const vmdb_schema *a, const vmdb_schema *b);

/* The type's name as written in a schema without its size: "u8", ...,
 * "bool", "str", "bytes"; "?" for a value outside the enum. Static. */
VMDB_API const char *vmdb_type_name(enum vmdb_type type);

/*
 * The record functions below take `record`, a record of
 * vmdb_schema_record_size() bytes, and `field`, an index in the schema.
 * A field index out of range is VMDB_EINVAL. A setter that fails leaves
 * the record unchanged. Messages start with the field's name.
 */

/*
 * Parses `text` (NUL-terminated) for the field's type and stores it:
 *   integers  decimal or 0x hex, with an optional sign: "-12", "0xff",
 *             "-0x10". No spaces, no junk after the digits; negative
 *             values for unsigned types are out of range (except -0).
 *   floats    as strtod: "1.5", "1e300", "0x1p-3", "inf", "-inf", "nan".
 *             A finite value too large for the type is out of range
 *             (1e40 in an f32), never turned into inf; a value too small
 *             for it becomes 0 or a subnormal, as any float rounding.
 *   bool      true/false/yes/no/1/0, case-insensitive; stored as 1 or 0.
 *   strN      the text's bytes, up to N, NUL-padded to N.
 *   bytesN    hex only: "0x" and an even number of hex digits for up to N
 *             bytes, zero-padded to N ("0x" alone is N zero bytes). Raw
 *             text is not accepted, so that the text of
 *             vmdb_record_format_text always reads back the same bytes.
 * VMDB_ERANGE for a value that does not fit:
 *   "age: value 300 does not fit u8"
 *   "name: 'xxxx...' is 40 bytes, more than str32"
 * VMDB_EINVAL for text that is not a value of the type:
 *   "age: 'abc' is not a number"   "age: '1.5' is not an integer"
 *   "flag: 'maybe' is not a bool (true/false/1/0)"
 *   "blob: 'xyz' is not hex bytes (0x...)"
 */
VMDB_API int vmdb_record_set_text(const vmdb_schema *schema, void *record,
                                  size_t field, const char *text);

/*
 * Writes the field's value as text, NUL-terminated, into dst (cap bytes;
 * dst may be NULL when cap is 0): integers in decimal; floats in the
 * shortest %g form that reads back as the same value ("0.1", "1e+300",
 * "inf", "-inf", "nan"); bool as true/false; str as its bytes up to the
 * first NUL, unescaped (escaping belongs to the output format); bytes as
 * "0x" and 2N lowercase hex digits. *len gets the text's length without
 * the NUL, also when the call fails with VMDB_ERANGE because
 * cap < *len + 1; dst then holds nothing useful. The longest text is that
 * of bytes4096: 8194 bytes.
 */
VMDB_API int vmdb_record_format_text(const vmdb_schema *schema,
                                     const void *record, size_t field,
                                     char *dst, size_t cap, size_t *len);

/*
 * Typed reads, for the query engine; *v is 0 on failure.
 *   get_i64: any integer type or bool; VMDB_ERANGE for a u64 above
 *            INT64_MAX.
 *   get_u64: any integer type or bool; VMDB_ERANGE for a negative value.
 *   get_f64: any number or bool (u64 and i64 beyond 2^53 are rounded).
 * VMDB_EINVAL for a field of another type ("name: str32 is not an
 * integer").
 */
VMDB_API int vmdb_record_get_i64(const vmdb_schema *schema,
                                 const void *record, size_t field,
                                 int64_t *v);
VMDB_API int vmdb_record_get_u64(const vmdb_schema *schema,
                                 const void *record, size_t field,
                                 uint64_t *v);
VMDB_API int vmdb_record_get_f64(const vmdb_schema *schema,
                                 const void *record, size_t field,
                                 double *v);

/*
 * Typed writes, range-checked as vmdb_record_set_text and with the same
 * messages ("age: value 300 does not fit u8"):
 *   set_i64, set_u64: into any number or bool (bool takes 0 and 1 only;
 *            a float field takes the nearest float).
 *   set_f64: into any number or bool. An integer or bool field takes
 *            only a whole value that fits (VMDB_EINVAL "age: value 1.5 is
 *            not an integer", and for nan); a float field follows the
 *            rules of set_text.
 * VMDB_EINVAL for str and bytes fields.
 */
VMDB_API int vmdb_record_set_i64(const vmdb_schema *schema, void *record,
                                 size_t field, int64_t v);
VMDB_API int vmdb_record_set_u64(const vmdb_schema *schema, void *record,
                                 size_t field, uint64_t v);
VMDB_API int vmdb_record_set_f64(const vmdb_schema *schema, void *record,
                                 size_t field, double v);

/*
 * *s = the field's bytes inside `record` (not NUL-terminated, valid as
 * long as the record is) and *len their count: up to the first NUL for
 * str, N for bytes. VMDB_EINVAL for other types; *s NULL and *len 0 on
 * failure.
 */
VMDB_API int vmdb_record_get_str(const vmdb_schema *schema,
                                 const void *record, size_t field,
                                 const char **s, size_t *len);

/*
 * *key = the key field's bytes inside `record` (valid as long as the
 * record is) and *len their count: the field's size, except for a str key
 * whose length stops at the first NUL, so "bob" and "bob\0\0" are the same
 * key. These are the bytes the index hashes and compares. Numbers compare
 * by their bytes, so for an f32/f64 key 0.0 and -0.0 are two keys. Never
 * fails: returns 0. A key passed to vmdb_table_get or vmdb_txn_delete is read
 * the same way: a str key up to its first NUL (with or without it), at
 * most the field's N bytes; any other key exactly the field's size, or
 * VMDB_EINVAL naming the table, the key field and the size it takes.
 */
VMDB_API int vmdb_record_key(const vmdb_schema *schema, const void *record,
                             const void **key, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* VMDB_SCHEMA_H */
