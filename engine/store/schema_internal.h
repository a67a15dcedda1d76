/* SPDX-License-Identifier: MIT */
/*
 * engine/store/schema_internal.h - the stored form of a schema, for the table
 * file header. Never included by cli/ or by users.
 *
 * Encoding, version 1. Little-endian; offsets and sizes in bytes:
 *
 *   0      4  magic "VSCH"
 *   4      2  encoding version, 1
 *   6      2  total length of the encoding, header included: 16 + the sum
 *             of the field entries, at most VMDB_SCHEMA_MAX_ENCODED
 *   8      4  record size, 1 .. 65536
 *   12     2  field count, 1 .. 256
 *   14     2  reserved, 0
 *   16        field entries, in schema order, each:
 *     +0   1  type, an enum vmdb_type value (1 .. 13)
 *     +1   1  flags: bit 0 set for the key field; the other bits 0
 *     +2   2  size, 1 .. 4096, the type's own size for numbers and bool
 *     +4   2  offset, 0 .. 65535 (offset + size <= record size)
 *     +6   1  name length n, 1 .. 63
 *     +7   n  name, [A-Za-z_][A-Za-z0-9_]*, no NUL
 *
 * So a schema takes 16 + sum(7 + n) bytes, and the parse and new
 * constructors refuse any schema over VMDB_SCHEMA_MAX_ENCODED up front, so
 * every schema can be stored.
 *
 * The encoding is canonical: every byte is determined by the schema and
 * decoding checks every one of them, so decode(b) succeeds exactly when b
 * is encode(some valid schema) (followed by any bytes past the total
 * length, which belong to whoever reserved the space). It carries no
 * checksum of its own: the table header around it has one. Decoding still
 * trusts nothing: it reads from a file that may be damaged, so it checks
 * every length against the buffer before reading and every field as
 * vmdb_schema_new does.
 */
#ifndef VMDB_ENGINE_SCHEMA_INTERNAL_H
#define VMDB_ENGINE_SCHEMA_INTERNAL_H

#include <stddef.h>

#include "vmdb/schema.h"

#define VMDB__SCHEMA_MAGIC "VSCH"
#define VMDB__SCHEMA_ENCODING_VERSION 1
#define VMDB__SCHEMA_HEADER_LEN 16  /* bytes before the first field entry */
#define VMDB__SCHEMA_ENTRY_LEN 7    /* bytes of a field entry before its name */

/* The most bytes vmdb__schema_encode ever writes: the space a table
 * header reserves for a schema. */
size_t vmdb__schema_encoded_max(void);

/* The number of bytes vmdb__schema_encode writes for this schema. */
size_t vmdb__schema_encoded_len(const vmdb_schema *schema);

/* Writes the encoding of schema into dst (cap bytes) and sets *len to its
 * length. VMDB_ERANGE if cap is smaller than that (*len still tells the
 * length, and nothing is written). */
int vmdb__schema_encode(const vmdb_schema *schema, void *dst, size_t cap,
                        size_t *len);

/*
 * A new schema from the encoding at src. len is the bytes available and
 * may be more than the encoding's own length (the rest is ignored).
 * VMDB_ECORRUPT naming what is wrong ("schema encoding: field 3: ...")
 * for a damaged or truncated encoding, VMDB_EVERSION for a version other
 * than 1. *out is NULL on failure.
 */
int vmdb__schema_decode(const void *src, size_t len, vmdb_schema **out);

#endif /* VMDB_ENGINE_SCHEMA_INTERNAL_H */
