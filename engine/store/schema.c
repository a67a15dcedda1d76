/* SPDX-License-Identifier: MIT */
/*
 * engine/store/schema.c - schemas, their text and stored forms, and field values
 * (vmdb/schema.h, schema_internal.h).
 *
 * A schema is one allocation: the struct, its fields, then their names
 * (NUL-terminated), so a field's name pointer stays valid exactly as long
 * as the schema and freeing is one call.
 *
 * Every way of making a schema (text, a C struct, a stored encoding, a
 * copy) ends in schema_create(), which runs the one complete validation,
 * check_fields(). The text parser checks what it can first only to name
 * the token and column at fault; the decoder checks the bytes it reads
 * for the same reason, and turns the verdict of check_fields into
 * VMDB_ECORRUPT, since a stored schema was valid when it was written.
 *
 * Values: every record access goes through memcpy of exactly the field's
 * bytes at its offset, so records need no alignment and a field never
 * reads or writes its neighbours. Integers travel as a sign and a 64-bit
 * magnitude (struct intval): that covers i64 and u64 at once, and every
 * range check becomes one comparison of the magnitude.
 *
 * Nothing here touches the OS. strtod, strtof and snprintf("%g") follow
 * LC_NUMERIC: in a program that sets a locale with a decimal comma, float
 * text is read and written with commas.
 */
#include "vmdb/schema.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "schema_internal.h"

_Static_assert(VMDB_SCHEMA_MAX_ENCODED <= UINT16_MAX,
               "the encoded length is stored in 2 bytes");
_Static_assert(VMDB_SCHEMA_MAX_RECORD - 1 <= UINT16_MAX && VMDB_SCHEMA_MAX_STR <= UINT16_MAX,
               "offsets and sizes are stored in 2 bytes");
_Static_assert(VMDB_SCHEMA_MAX_NAME <= UINT8_MAX, "name lengths are stored in 1 byte");
_Static_assert(VMDB_SCHEMA_MAX_FIELDS <= UINT16_MAX, "the field count is stored in 2 bytes");

struct vmdb_schema {
    size_t count;        /* fields */
    size_t record_size;  /* bytes */
    size_t key;          /* index of the key field */
    vmdb_field fields[]; /* `count` fields, then their names */
};

/* ---- types ------------------------------------------------------------ */

struct type_info {
    const char *name;
    uint32_t size; /* bytes; 0 for str and bytes, whose size is their N */
};

static const struct type_info TYPES[] = {
    [VMDB_TYPE_U8] = {"u8", 1},    [VMDB_TYPE_U16] = {"u16", 2},
    [VMDB_TYPE_U32] = {"u32", 4},  [VMDB_TYPE_U64] = {"u64", 8},
    [VMDB_TYPE_I8] = {"i8", 1},    [VMDB_TYPE_I16] = {"i16", 2},
    [VMDB_TYPE_I32] = {"i32", 4},  [VMDB_TYPE_I64] = {"i64", 8},
    [VMDB_TYPE_F32] = {"f32", 4},  [VMDB_TYPE_F64] = {"f64", 8},
    [VMDB_TYPE_BOOL] = {"bool", 1}, [VMDB_TYPE_STR] = {"str", 0},
    [VMDB_TYPE_BYTES] = {"bytes", 0},
};

#define TYPE_LIST "u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 bool strN bytesN"

static bool type_known(enum vmdb_type t)
{
    return (unsigned)t >= VMDB_TYPE_U8 && (unsigned)t <= VMDB_TYPE_BYTES;
}

static bool is_int(enum vmdb_type t)
{
    return (unsigned)t >= VMDB_TYPE_U8 && (unsigned)t <= VMDB_TYPE_I64;
}

static bool is_signed(enum vmdb_type t)
{
    return (unsigned)t >= VMDB_TYPE_I8 && (unsigned)t <= VMDB_TYPE_I64;
}

static bool is_float(enum vmdb_type t)
{
    return t == VMDB_TYPE_F32 || t == VMDB_TYPE_F64;
}

/* str and bytes: the types whose size is chosen per field. */
static bool is_sized(enum vmdb_type t)
{
    return t == VMDB_TYPE_STR || t == VMDB_TYPE_BYTES;
}

const char *vmdb_type_name(enum vmdb_type type)
{
    return type_known(type) ? TYPES[type].name : "?";
}

/* A field's type as written in a schema: "u32", "str32". */
struct type_text {
    char s[16];
};

static const char *type_text(struct type_text *t, const vmdb_field *f)
{
    if (!is_sized(f->type))
        return vmdb_type_name(f->type);
    snprintf(t->s, sizeof t->s, "%s%" PRIu32, TYPES[f->type].name, f->size);
    return t->s;
}

/* Numbers sit at a multiple of their size, as a C compiler places them. */
static uint32_t natural_align(const vmdb_field *f)
{
    return is_int(f->type) || is_float(f->type) ? f->size : 1;
}

/* ---- small text helpers ------------------------------------------------ */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_word_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* True if the n bytes at s spell `word` (lowercase), ignoring ASCII case. */
static bool ieq(const char *s, size_t n, const char *word)
{
    if (strlen(word) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != word[i])
            return false;
    return true;
}

static size_t word_len(const char *s)
{
    size_t n = 0;
    while (is_word_char(s[n]))
        n++;
    return n;
}

static int hex_value(char c)
{
    if (is_digit(c))
        return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A name or value quoted in a message, as vmdb_printable shows it: one
 * line, a long one cut. The room past VMDB_PRINTABLE_CAP is for quotes
 * around it (token_at). */
struct clip {
    char s[VMDB_PRINTABLE_CAP + 8];
};

static const char *clip(struct clip *c, const char *s, size_t n)
{
    return vmdb_printable(s, n, c->s, VMDB_PRINTABLE_CAP);
}

static const char *clip_str(struct clip *c, const char *s)
{
    return clip(c, s, strlen(s));
}

/* Text written into a caller's buffer: `len` counts every byte asked for,
 * only those that fit are stored, so one pass both writes and measures. */
struct out {
    char *dst;
    size_t cap; /* bytes at dst */
    size_t len; /* bytes of text so far, stored or not */
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->dst + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* NUL-terminates the text, or fails naming `what` if it did not fit. */
static int finish(struct out *o, const char *what, size_t *len)
{
    *len = o->len;
    if (o->len >= o->cap)
        return vmdb__fail(VMDB_ERANGE, "%s: the text needs %zu bytes and a NUL, the buffer holds %zu",
                          what, o->len, o->cap);
    o->dst[o->len] = '\0';
    return 0;
}

/* ---- validation and construction --------------------------------------- */

static size_t encoded_len(const vmdb_field *fields, size_t count)
{
    size_t n = VMDB__SCHEMA_HEADER_LEN;
    for (size_t i = 0; i < count; i++)
        n += VMDB__SCHEMA_ENTRY_LEN + strlen(fields[i].name);
    return n;
}

/* Checks the n bytes at name (not necessarily NUL-terminated) against
 * [A-Za-z_][A-Za-z0-9_]{0,62}; i is the field's index for the message. */
static int check_name(const char *name, size_t n, size_t i)
{
    bool ok = n >= 1 && n <= VMDB_SCHEMA_MAX_NAME && !is_digit(name[0]);
    for (size_t j = 0; ok && j < n; j++)
        ok = is_word_char(name[j]);
    if (ok)
        return 0;
    struct clip c;
    return vmdb__fail(VMDB_ESCHEMA,
                      "schema: fields[%zu]: '%s' is not a valid name (letters, digits and '_', "
                      "not starting with a digit, 1 to %d bytes)",
                      i, clip(&c, name, n), VMDB_SCHEMA_MAX_NAME);
}

static int check_type_and_size(const vmdb_field *f)
{
    if (!type_known(f->type))
        return vmdb__fail(VMDB_ESCHEMA, "schema: field '%s': unknown type %d", f->name, (int)f->type);
    const char *tn = vmdb_type_name(f->type);
    if (is_sized(f->type)) {
        if (f->size < 1)
            return vmdb__fail(VMDB_ESCHEMA, "schema: field '%s': %s size 0 is less than 1", f->name, tn);
        if (f->size > VMDB_SCHEMA_MAX_STR)
            return vmdb__fail(VMDB_ESCHEMA, "schema: field '%s': %s size %" PRIu32 " is more than %d",
                              f->name, tn, f->size, VMDB_SCHEMA_MAX_STR);
    } else if (f->size != TYPES[f->type].size) {
        return vmdb__fail(VMDB_ESCHEMA, "schema: field '%s': size %" PRIu32 " does not match %s (%" PRIu32 " bytes)",
                          f->name, f->size, tn, TYPES[f->type].size);
    }
    return 0;
}

/* Each field on its own: name, type, size, and within the record. */
static int check_field(const vmdb_field *f, size_t i, size_t record_size)
{
    if (!f->name)
        return vmdb__fail(VMDB_ESCHEMA, "schema: fields[%zu] has no name", i);
    int rc = check_name(f->name, strnlen(f->name, VMDB_SCHEMA_MAX_NAME + 1), i);
    if (rc == 0)
        rc = check_type_and_size(f);
    if (rc == 0 && (uint64_t)f->offset + f->size > record_size)
        rc = vmdb__fail(VMDB_ESCHEMA,
                        "schema: field '%s' (offset %" PRIu32 ", %" PRIu32 " bytes) ends past the record size %zu",
                        f->name, f->offset, f->size, record_size);
    return rc;
}

/* Pairs of fields: names unique, bytes not shared. Quadratic, but 256
 * fields make 32640 pairs, once per schema. */
static int check_pairs(const vmdb_field *fields, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const vmdb_field *a = &fields[i];
        for (size_t j = i + 1; j < count; j++) {
            const vmdb_field *b = &fields[j];
            if (strcmp(a->name, b->name) == 0)
                return vmdb__fail(VMDB_ESCHEMA, "schema: duplicate field '%s'", a->name);
            if (a->offset < (uint64_t)b->offset + b->size && b->offset < (uint64_t)a->offset + a->size)
                return vmdb__fail(VMDB_ESCHEMA,
                                  "schema: fields '%s' (bytes %" PRIu32 "..%" PRIu32 ") and '%s' (bytes %" PRIu32
                                  "..%" PRIu32 ") overlap",
                                  a->name, a->offset, a->offset + a->size - 1, b->name, b->offset,
                                  b->offset + b->size - 1);
        }
    }
    return 0;
}

static int find_key(const vmdb_field *fields, size_t count, size_t *key)
{
    *key = SIZE_MAX;
    for (size_t i = 0; i < count; i++) {
        if (!fields[i].key)
            continue;
        if (*key != SIZE_MAX)
            return vmdb__fail(VMDB_ESCHEMA, "schema: two key fields, '%s' and '%s'", fields[*key].name,
                              fields[i].name);
        *key = i;
    }
    if (*key == SIZE_MAX)
        return vmdb__fail(VMDB_ESCHEMA, "schema: no key field (mark one with VMDB_KEY or .key = true)");
    return 0;
}

/* Refused up front, so that every schema can go into a table header. */
static int check_storable(const vmdb_field *fields, size_t count)
{
    size_t enc = encoded_len(fields, count);
    if (enc > VMDB_SCHEMA_MAX_ENCODED)
        return vmdb__fail(VMDB_ESCHEMA,
                          "schema: too large to store: %zu bytes encoded, more than %d "
                          "(use fewer fields or shorter names)",
                          enc, VMDB_SCHEMA_MAX_ENCODED);
    return 0;
}

/* The one complete validation; see the top of the file. */
static int check_fields(const vmdb_field *fields, size_t count, size_t record_size, size_t *key)
{
    if (count == 0)
        return vmdb__fail(VMDB_ESCHEMA, "schema: no fields");
    if (count > VMDB_SCHEMA_MAX_FIELDS)
        return vmdb__fail(VMDB_ESCHEMA, "schema: %zu fields, more than %d", count, VMDB_SCHEMA_MAX_FIELDS);
    if (record_size == 0 || record_size > VMDB_SCHEMA_MAX_RECORD)
        return vmdb__fail(VMDB_ESCHEMA, "schema: record size %zu is not in 1..%d", record_size,
                          VMDB_SCHEMA_MAX_RECORD);
    for (size_t i = 0; i < count; i++) {
        int rc = check_field(&fields[i], i, record_size);
        if (rc)
            return rc;
    }
    int rc = check_pairs(fields, count);
    if (rc == 0)
        rc = find_key(fields, count, key);
    if (rc == 0)
        rc = check_storable(fields, count);
    return rc;
}

/* Validates the fields and copies them, names and all, into one block. */
static int schema_create(const vmdb_field *fields, size_t count, size_t record_size, vmdb_schema **out)
{
    size_t key = 0;
    int rc = check_fields(fields, count, record_size, &key);
    if (rc)
        return rc;
    size_t names = 0;
    for (size_t i = 0; i < count; i++)
        names += strlen(fields[i].name) + 1;
    vmdb_schema *s = malloc(sizeof *s + count * sizeof s->fields[0] + names);
    if (!s)
        return vmdb__fail(VMDB_ENOMEM, "schema: out of memory for %zu fields", count);
    s->count = count;
    s->record_size = record_size;
    s->key = key;
    char *name = (char *)&s->fields[count];
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(fields[i].name) + 1;
        s->fields[i] = fields[i];
        s->fields[i].name = memcpy(name, fields[i].name, n);
        name += n;
    }
    *out = s;
    return 0;
}

int vmdb_schema_new(const vmdb_field *fields, size_t count, size_t record_size, vmdb_schema **out)
{
    if (!out)
        return vmdb__fail(VMDB_EINVAL, "schema: no place for the result (out is NULL)");
    *out = NULL;
    if (!fields && count)
        return vmdb__fail(VMDB_EINVAL, "schema: fields is NULL but count is %zu", count);
    if (count > VMDB_SCHEMA_MAX_FIELDS)
        return vmdb__fail(VMDB_ESCHEMA, "schema: %zu fields, more than %d", count, VMDB_SCHEMA_MAX_FIELDS);
    /* Size 0 means "the type's own size", which the stored schema spells
     * out; a copy keeps the caller's array untouched. */
    vmdb_field copy[VMDB_SCHEMA_MAX_FIELDS];
    for (size_t i = 0; i < count; i++) {
        copy[i] = fields[i];
        if (copy[i].size == 0 && type_known(copy[i].type) && !is_sized(copy[i].type))
            copy[i].size = TYPES[copy[i].type].size;
    }
    return schema_create(copy, count, record_size, out);
}

void vmdb_schema_free(vmdb_schema *schema)
{
    free(schema);
}

int vmdb_schema_copy(const vmdb_schema *schema, vmdb_schema **out)
{
    if (!out)
        return vmdb__fail(VMDB_EINVAL, "schema: no place for the result (out is NULL)");
    *out = NULL;
    return schema_create(schema->fields, schema->count, schema->record_size, out);
}

size_t vmdb_schema_record_size(const vmdb_schema *schema)
{
    return schema->record_size;
}

size_t vmdb_schema_field_count(const vmdb_schema *schema)
{
    return schema->count;
}

const vmdb_field *vmdb_schema_field(const vmdb_schema *schema, size_t i)
{
    return i < schema->count ? &schema->fields[i] : NULL;
}

size_t vmdb_schema_key(const vmdb_schema *schema)
{
    return schema->key;
}

static bool lookup(const vmdb_schema *s, const char *name, size_t *index)
{
    for (size_t i = 0; i < s->count; i++) {
        if (strcmp(s->fields[i].name, name) == 0) {
            *index = i;
            return true;
        }
    }
    return false;
}

int vmdb_schema_find(const vmdb_schema *schema, const char *name, size_t *index)
{
    *index = SIZE_MAX;
    struct clip c;
    if (!name)
        return vmdb__fail(VMDB_EINVAL, "schema: no field name (NULL)");
    if (!lookup(schema, name, index))
        return vmdb__fail(VMDB_ENOTFOUND, "schema: no field '%s'", clip_str(&c, name));
    return 0;
}

/* ---- the text form ----------------------------------------------------- */

/* Fields parsed so far, with room for their names: the parser and the
 * decoder build a schema here before schema_create copies it. */
struct draft {
    size_t count;
    vmdb_field f[VMDB_SCHEMA_MAX_FIELDS];
    char names[VMDB_SCHEMA_MAX_FIELDS][VMDB_SCHEMA_MAX_NAME + 1];
};

struct scan {
    const char *text;
    size_t pos;       /* bytes from text */
    size_t key;       /* index of the field marked key, or SIZE_MAX */
    size_t end;       /* bytes of record the fields so far take */
};

static void skip_space(struct scan *sc)
{
    while (is_space(sc->text[sc->pos]))
        sc->pos++;
}

static size_t col(const struct scan *sc)
{
    return sc->pos + 1;
}

/* The token at p, for a message: a word, or one character (with the rest
 * of its UTF-8 sequence), or "the end". */
static const char *token_at(struct clip *c, const char *p)
{
    if (!*p)
        return "the end";
    size_t n = word_len(p);
    if (n == 0)
        for (n = 1; ((unsigned char)p[n] & 0xC0) == 0x80; n++)
            ;
    struct clip inner;
    snprintf(c->s, sizeof c->s, "'%s'", clip(&inner, p, n));
    return c->s;
}

/* Sets f's type and size from the type token tok (n bytes). */
static int parse_type(const char *tok, size_t n, const char *field, size_t column, vmdb_field *f)
{
    for (int t = VMDB_TYPE_U8; t <= VMDB_TYPE_BOOL; t++) {
        if (ieq(tok, n, TYPES[t].name)) {
            f->type = (enum vmdb_type)t;
            f->size = TYPES[t].size;
            return 0;
        }
    }
    struct clip c;
    for (int t = VMDB_TYPE_STR; t <= VMDB_TYPE_BYTES; t++) {
        size_t pn = strlen(TYPES[t].name);
        if (n < pn || !ieq(tok, pn, TYPES[t].name))
            continue;
        const char *digits = tok + pn;
        size_t dn = n - pn, size = 0;
        for (size_t i = 0; i < dn; i++)
            if (!is_digit(digits[i]))
                goto unknown; /* "string": not a sized type after all */
        /* Saturates, so that a size of 40 digits cannot wrap around. */
        for (size_t i = 0; i < dn && size <= VMDB_SCHEMA_MAX_STR; i++)
            size = size * 10 + (size_t)(digits[i] - '0');
        if (dn == 0)
            return vmdb__fail(VMDB_ESCHEMA, "schema: %s needs a size, e.g. %s32 (field '%s', col %zu)",
                              TYPES[t].name, TYPES[t].name, field, column);
        if (size < 1 || size > VMDB_SCHEMA_MAX_STR)
            return vmdb__fail(VMDB_ESCHEMA, "schema: %s size %s is %s (field '%s', col %zu)", TYPES[t].name,
                              clip(&c, digits, dn), size < 1 ? "less than 1" : "more than 4096", field, column);
        f->type = (enum vmdb_type)t;
        f->size = (uint32_t)size;
        return 0;
    }
unknown:
    return vmdb__fail(VMDB_ESCHEMA, "schema: unknown type '%s' for field '%s' (col %zu); types are " TYPE_LIST,
                      clip(&c, tok, n), field, column);
}

/* The name of the next field into d->names; checks it is new. */
static int parse_name(struct scan *sc, struct draft *d)
{
    const char *p = sc->text + sc->pos;
    size_t n = word_len(p);
    struct clip c;
    if (n == 0 || is_digit(p[0]))
        return vmdb__fail(VMDB_ESYNTAX, "schema: expected a field name, found %s (col %zu)", token_at(&c, p),
                          col(sc));
    if (n > VMDB_SCHEMA_MAX_NAME)
        return vmdb__fail(VMDB_ESCHEMA, "schema: field name '%s' is longer than %d bytes (col %zu)",
                          clip(&c, p, n), VMDB_SCHEMA_MAX_NAME, col(sc));
    if (d->count == VMDB_SCHEMA_MAX_FIELDS)
        return vmdb__fail(VMDB_ESCHEMA, "schema: more than %d fields (field '%s', col %zu)",
                          VMDB_SCHEMA_MAX_FIELDS, clip(&c, p, n), col(sc));
    char *name = d->names[d->count];
    memcpy(name, p, n);
    name[n] = '\0';
    for (size_t i = 0; i < d->count; i++)
        if (strcmp(d->f[i].name, name) == 0)
            return vmdb__fail(VMDB_ESCHEMA, "schema: duplicate field '%s' (col %zu)", name, col(sc));
    d->f[d->count].name = name;
    sc->pos += n;
    return 0;
}

/* An optional "key" after the type. */
static int parse_key(struct scan *sc, struct draft *d)
{
    const char *p = sc->text + sc->pos;
    size_t n = word_len(p);
    if (!ieq(p, n, "key"))
        return 0;
    if (sc->key != SIZE_MAX)
        return vmdb__fail(VMDB_ESCHEMA, "schema: two key fields, '%s' and '%s' (col %zu)", d->f[sc->key].name,
                          d->f[d->count].name, col(sc));
    sc->key = d->count;
    d->f[d->count].key = true;
    sc->pos += n;
    return 0;
}

/* Places the new field at its natural alignment after the ones before. */
static int place(struct scan *sc, struct draft *d, size_t column)
{
    vmdb_field *f = &d->f[d->count];
    uint64_t off = vmdb__round_up(sc->end, natural_align(f));
    if (off + f->size > VMDB_SCHEMA_MAX_RECORD)
        return vmdb__fail(VMDB_ESCHEMA, "schema: the record passes %d bytes at field '%s' (col %zu)",
                          VMDB_SCHEMA_MAX_RECORD, f->name, column);
    f->offset = (uint32_t)off;
    sc->end = (size_t)off + f->size;
    return 0;
}

/* name ":" type ["key"] */
static int parse_field(struct scan *sc, struct draft *d)
{
    skip_space(sc);
    size_t name_col = col(sc);
    int rc = parse_name(sc, d);
    if (rc)
        return rc;
    const char *name = d->f[d->count].name;
    struct clip c;
    skip_space(sc);
    if (sc->text[sc->pos] != ':')
        return vmdb__fail(VMDB_ESYNTAX, "schema: expected ':' after field '%s', found %s (col %zu)", name,
                          token_at(&c, sc->text + sc->pos), col(sc));
    sc->pos++;
    skip_space(sc);
    const char *tok = sc->text + sc->pos;
    size_t n = word_len(tok);
    if (n == 0)
        return vmdb__fail(VMDB_ESYNTAX, "schema: expected a type for field '%s', found %s (col %zu)", name,
                          token_at(&c, tok), col(sc));
    rc = parse_type(tok, n, name, col(sc), &d->f[d->count]);
    sc->pos += n;
    skip_space(sc);
    if (rc == 0)
        rc = parse_key(sc, d);
    if (rc == 0)
        rc = place(sc, d, name_col);
    if (rc == 0)
        d->count++;
    return rc;
}

static int parse_fields(struct scan *sc, struct draft *d)
{
    skip_space(sc);
    if (!sc->text[sc->pos])
        return vmdb__fail(VMDB_ESCHEMA, "schema: no fields");
    for (;;) {
        int rc = parse_field(sc, d);
        if (rc)
            return rc;
        skip_space(sc);
        char ch = sc->text[sc->pos];
        if (!ch)
            return 0;
        if (ch != ',') {
            const vmdb_field *last = &d->f[d->count - 1];
            struct clip c;
            return vmdb__fail(VMDB_ESYNTAX, "schema: expected ',' %safter field '%s', found %s (col %zu)",
                              last->key ? "" : "or 'key' ", last->name, token_at(&c, sc->text + sc->pos),
                              col(sc));
        }
        sc->pos++;
    }
}

int vmdb_schema_parse(const char *text, vmdb_schema **out)
{
    if (!out)
        return vmdb__fail(VMDB_EINVAL, "schema: no place for the result (out is NULL)");
    *out = NULL;
    if (!text)
        return vmdb__fail(VMDB_EINVAL, "schema: no text (NULL)");
    struct draft *d = calloc(1, sizeof *d);
    if (!d)
        return vmdb__fail(VMDB_ENOMEM, "schema: out of memory");
    struct scan sc = {.text = text, .key = SIZE_MAX};
    int rc = parse_fields(&sc, d);
    if (rc == 0) {
        /* Documented: with no field marked, the first is the key. */
        if (sc.key == SIZE_MAX)
            d->f[0].key = true;
        rc = schema_create(d->f, d->count, vmdb__round_up(sc.end, 8), out);
    }
    free(d);
    return rc;
}

int vmdb_schema_format(const vmdb_schema *schema, char *dst, size_t cap, size_t *len)
{
    struct out o = {dst, cap, 0};
    for (size_t i = 0; i < schema->count; i++) {
        const vmdb_field *f = &schema->fields[i];
        struct type_text t;
        if (i)
            put_str(&o, ", ");
        put_str(&o, f->name);
        put_str(&o, ":");
        put_str(&o, type_text(&t, f));
        if (f->key)
            put_str(&o, " key");
    }
    return finish(&o, "schema format", len);
}

/* ---- comparison -------------------------------------------------------- */

/* a (index i, "here") against b (index j, "in the table"). */
static int compare_field(const vmdb_field *a, size_t i, const vmdb_field *b, size_t j)
{
    struct type_text ta, tb;
    if (a->type != b->type || a->size != b->size)
        return vmdb__fail(VMDB_ESCHEMA, "field '%s': %s here, %s in the table", a->name, type_text(&ta, a),
                          type_text(&tb, b));
    if (a->offset != b->offset)
        return vmdb__fail(VMDB_ESCHEMA, "field '%s': offset %" PRIu32 " here, %" PRIu32 " in the table", a->name,
                          a->offset, b->offset);
    if (a->key != b->key)
        return vmdb__fail(VMDB_ESCHEMA, "field '%s': %s here, %s in the table", a->name,
                          a->key ? "the key" : "not the key", b->key ? "the key" : "not the key");
    if (i != j)
        return vmdb__fail(VMDB_ESCHEMA, "field '%s': position %zu here, %zu in the table", a->name, i + 1, j + 1);
    return 0;
}

int vmdb_schema_equal(const vmdb_schema *a, const vmdb_schema *b)
{
    size_t j;
    for (size_t i = 0; i < a->count; i++) {
        if (!lookup(b, a->fields[i].name, &j))
            return vmdb__fail(VMDB_ESCHEMA, "field '%s' is not in the table", a->fields[i].name);
        int rc = compare_field(&a->fields[i], i, &b->fields[j], j);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < b->count; i++)
        if (!lookup(a, b->fields[i].name, &j))
            return vmdb__fail(VMDB_ESCHEMA, "field '%s' is in the table, not here", b->fields[i].name);
    if (a->record_size != b->record_size)
        return vmdb__fail(VMDB_ESCHEMA, "record size %zu here, %zu in the table", a->record_size,
                          b->record_size);
    return 0;
}

/* ---- the stored form (schema_internal.h) ------------------------------- */

static void put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, size_t v)
{
    put16(p, v & 0xffff);
    put16(p + 2, v >> 16);
}

static size_t get16(const uint8_t *p)
{
    return (size_t)p[0] | (size_t)p[1] << 8;
}

static size_t get32(const uint8_t *p)
{
    return get16(p) | get16(p + 2) << 16;
}

size_t vmdb__schema_encoded_max(void)
{
    return VMDB_SCHEMA_MAX_ENCODED;
}

size_t vmdb__schema_encoded_len(const vmdb_schema *schema)
{
    return encoded_len(schema->fields, schema->count);
}

int vmdb__schema_encode(const vmdb_schema *schema, void *dst, size_t cap, size_t *len)
{
    size_t total = vmdb__schema_encoded_len(schema);
    *len = total;
    if (cap < total)
        return vmdb__fail(VMDB_ERANGE, "schema encoding: needs %zu bytes, the space holds %zu", total, cap);
    uint8_t *p = dst;
    memcpy(p, VMDB__SCHEMA_MAGIC, 4);
    put16(p + 4, VMDB__SCHEMA_ENCODING_VERSION);
    put16(p + 6, total);
    put32(p + 8, schema->record_size);
    put16(p + 12, schema->count);
    put16(p + 14, 0);
    p += VMDB__SCHEMA_HEADER_LEN;
    for (size_t i = 0; i < schema->count; i++) {
        const vmdb_field *f = &schema->fields[i];
        size_t n = strlen(f->name);
        p[0] = (uint8_t)f->type;
        p[1] = f->key ? 1 : 0;
        put16(p + 2, f->size);
        put16(p + 4, f->offset);
        p[6] = (uint8_t)n;
        memcpy(p + VMDB__SCHEMA_ENTRY_LEN, f->name, n);
        p += VMDB__SCHEMA_ENTRY_LEN + n;
    }
    return 0;
}

/* A verdict of check_fields on decoded fields means the bytes are
 * damaged: same message, but ECORRUPT and said of the encoding. */
static int as_corrupt(int rc)
{
    if (rc != VMDB_ESCHEMA)
        return rc;
    char msg[sizeof vmdb_last_error()->message];
    const char *m = vmdb_last_error()->message;
    if (strncmp(m, "schema: ", 8) == 0)
        m += 8;
    size_t n = strnlen(m, sizeof msg - 1);
    memcpy(msg, m, n);
    msg[n] = '\0';
    return vmdb__fail(VMDB_ECORRUPT, "schema encoding: %s", msg);
}

/* Checks the 16-byte header; *total and *count get what it says. */
static int decode_header(const uint8_t *p, size_t len, size_t *total, size_t *count)
{
    if (len < VMDB__SCHEMA_HEADER_LEN)
        return vmdb__fail(VMDB_ECORRUPT, "schema encoding: %zu bytes, shorter than its %d-byte header", len,
                          VMDB__SCHEMA_HEADER_LEN);
    if (memcmp(p, VMDB__SCHEMA_MAGIC, 4) != 0)
        return vmdb__fail(VMDB_ECORRUPT, "schema encoding: bad magic %02x %02x %02x %02x (expected \"%s\")", p[0],
                          p[1], p[2], p[3], VMDB__SCHEMA_MAGIC);
    size_t version = get16(p + 4);
    if (version != VMDB__SCHEMA_ENCODING_VERSION)
        return vmdb__fail(VMDB_EVERSION, "schema encoding: version %zu is not supported (this vmdb reads %d)",
                          version, VMDB__SCHEMA_ENCODING_VERSION);
    *total = get16(p + 6);
    size_t min = VMDB__SCHEMA_HEADER_LEN + VMDB__SCHEMA_ENTRY_LEN + 1;
    if (*total < min || *total > VMDB_SCHEMA_MAX_ENCODED)
        return vmdb__fail(VMDB_ECORRUPT, "schema encoding: length %zu is not in %zu..%d", *total, min,
                          VMDB_SCHEMA_MAX_ENCODED);
    if (*total > len)
        return vmdb__fail(VMDB_ECORRUPT, "schema encoding: length %zu, but only %zu bytes are there", *total, len);
    *count = get16(p + 12);
    if (*count < 1 || *count > VMDB_SCHEMA_MAX_FIELDS)
        return vmdb__fail(VMDB_ECORRUPT, "schema encoding: field count %zu is not in 1..%d", *count,
                          VMDB_SCHEMA_MAX_FIELDS);
    if (get16(p + 14) != 0)
        return vmdb__fail(VMDB_ECORRUPT, "schema encoding: reserved bytes 14..15 are 0x%04zx, not 0",
                          get16(p + 14));
    return 0;
}

/* The entry at p + *pos into field i of d; every length is checked
 * against total before the bytes behind it are read. */
static int decode_field(const uint8_t *p, size_t total, size_t *pos, size_t i, struct draft *d)
{
    const uint8_t *e = p + *pos;
    if (total - *pos < VMDB__SCHEMA_ENTRY_LEN || total - *pos - VMDB__SCHEMA_ENTRY_LEN < e[6])
        return vmdb__fail(VMDB_ECORRUPT, "schema encoding: field %zu at byte %zu runs past the end (%zu bytes)", i,
                          *pos, total);
    size_t n = e[6];
    if (e[1] & ~1u)
        return vmdb__fail(VMDB_ECORRUPT, "schema encoding: field %zu: unknown flag bits 0x%02x", i,
                          e[1] & ~1u);
    const char *name = (const char *)e + VMDB__SCHEMA_ENTRY_LEN;
    int rc = check_name(name, n, i);
    if (rc)
        return as_corrupt(rc);
    memcpy(d->names[i], name, n);
    d->names[i][n] = '\0';
    d->f[i] = (vmdb_field){
        .name = d->names[i],
        .type = (enum vmdb_type)e[0],
        .size = (uint32_t)get16(e + 2),
        .offset = (uint32_t)get16(e + 4),
        .key = e[1] & 1,
    };
    *pos += VMDB__SCHEMA_ENTRY_LEN + n;
    return 0;
}

int vmdb__schema_decode(const void *src, size_t len, vmdb_schema **out)
{
    *out = NULL;
    const uint8_t *p = src;
    size_t total = 0, count = 0;
    int rc = decode_header(p, len, &total, &count);
    if (rc)
        return rc;
    struct draft *d = malloc(sizeof *d);
    if (!d)
        return vmdb__fail(VMDB_ENOMEM, "schema encoding: out of memory");
    size_t pos = VMDB__SCHEMA_HEADER_LEN;
    for (size_t i = 0; rc == 0 && i < count; i++)
        rc = decode_field(p, total, &pos, i, d);
    if (rc == 0 && pos != total)
        rc = vmdb__fail(VMDB_ECORRUPT, "schema encoding: %zu stray bytes after the last field", total - pos);
    if (rc == 0)
        rc = as_corrupt(schema_create(d->f, count, get32(p + 8), out));
    free(d);
    return rc;
}

/* ---- values ------------------------------------------------------------- */

/* An integer of any field type: sign and magnitude, so i64 and u64 need
 * no separate paths. neg with mag 0 is -0, which fits everything. */
struct intval {
    bool neg;
    uint64_t mag;
};

/* A number for a message: "-12". */
struct num_text {
    char s[VMDB__DOUBLE_TEXT_CAP];
};

static const char *int_text(struct num_text *t, struct intval v)
{
    snprintf(t->s, sizeof t->s, "%s%" PRIu64, v.neg && v.mag ? "-" : "", v.mag);
    return t->s;
}

static int bad_index(const vmdb_schema *s, size_t i)
{
    return vmdb__fail(VMDB_EINVAL, "record: field index %zu is out of range (%zu fields)", i, s->count);
}

static bool int_fits(const vmdb_field *f, struct intval v)
{
    if (v.mag == 0)
        return true;
    if (f->type == VMDB_TYPE_BOOL)
        return !v.neg && v.mag == 1;
    unsigned bits = f->size * 8;
    if (is_signed(f->type)) {
        uint64_t limit = (uint64_t)1 << (bits - 1);
        return v.neg ? v.mag <= limit : v.mag < limit;
    }
    return !v.neg && (bits == 64 || v.mag < (uint64_t)1 << bits);
}

/* The low `size` bytes of bits, in host order, at p. */
static void store_bits(unsigned char *p, uint64_t bits, uint32_t size)
{
    uint8_t b8 = (uint8_t)bits;
    uint16_t b16 = (uint16_t)bits;
    uint32_t b32 = (uint32_t)bits;
    switch (size) {
    case 1: memcpy(p, &b8, 1); break;
    case 2: memcpy(p, &b16, 2); break;
    case 4: memcpy(p, &b32, 4); break;
    default: memcpy(p, &bits, 8); break;
    }
}

static uint64_t load_bits(const unsigned char *p, uint32_t size)
{
    uint8_t b8;
    uint16_t b16;
    uint32_t b32;
    uint64_t b64;
    switch (size) {
    case 1: memcpy(&b8, p, 1); return b8;
    case 2: memcpy(&b16, p, 2); return b16;
    case 4: memcpy(&b32, p, 4); return b32;
    default: memcpy(&b64, p, 8); return b64;
    }
}

/* The value of an integer or bool field (bool: any non-zero byte is 1). */
static struct intval load_int(const vmdb_field *f, const unsigned char *rec)
{
    uint64_t bits = load_bits(rec + f->offset, f->size);
    if (f->type == VMDB_TYPE_BOOL)
        return (struct intval){false, bits != 0};
    unsigned width = f->size * 8;
    if (is_signed(f->type) && width < 64 && (bits >> (width - 1)) & 1)
        bits |= ~(uint64_t)0 << width; /* sign-extend */
    bool neg = is_signed(f->type) && bits >> 63;
    return (struct intval){neg, neg ? 0 - bits : bits};
}

/* Stores v, which the caller has checked fits; two's complement of the
 * magnitude gives the right low bytes for every width. */
static void store_int(const vmdb_field *f, unsigned char *rec, struct intval v)
{
    store_bits(rec + f->offset, v.neg ? 0 - v.mag : v.mag, f->size);
}

static int set_int(const vmdb_field *f, unsigned char *rec, struct intval v, const char *shown)
{
    if (!int_fits(f, v))
        return vmdb__fail(VMDB_ERANGE, "%s: value %s does not fit %s", f->name, shown, vmdb_type_name(f->type));
    store_int(f, rec, v);
    return 0;
}

static double load_float(const vmdb_field *f, const unsigned char *rec)
{
    if (f->type == VMDB_TYPE_F32) {
        float x;
        memcpy(&x, rec + f->offset, sizeof x);
        return x;
    }
    double d;
    memcpy(&d, rec + f->offset, sizeof d);
    return d;
}

/* Below this magnitude a double rounds to a finite float (FLT_MAX plus
 * half its ulp; the tie rounds to even, which is infinity). Checking
 * before the conversion keeps it defined behaviour. */
#define F32_OVERFLOW 0x1.ffffffp+127

static int set_float(const vmdb_field *f, unsigned char *rec, double d, const char *shown)
{
    if (f->type == VMDB_TYPE_F64) {
        memcpy(rec + f->offset, &d, sizeof d);
        return 0;
    }
    if (isfinite(d) && (d >= F32_OVERFLOW || d <= -F32_OVERFLOW))
        return vmdb__fail(VMDB_ERANGE, "%s: value %s does not fit f32", f->name, shown);
    float x = (float)d;
    memcpy(rec + f->offset, &x, sizeof x);
    return 0;
}

/* The one float text of every layer (engine/base/text.c). */
static const char *float_text(struct num_text *t, double d, bool single)
{
    vmdb__double_text(d, single, t->s, sizeof t->s);
    return t->s;
}

/* Parses all of text as an optionally signed decimal or 0x hex integer.
 * Returns 0, -1 if it is not one, or 1 if its magnitude passes 2^64 - 1. */
static int parse_int(const char *text, struct intval *v)
{
    const char *p = text;
    *v = (struct intval){false, 0};
    if (*p == '+' || *p == '-')
        v->neg = *p++ == '-';
    unsigned base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    if (!*p)
        return -1;
    bool over = false;
    for (; *p; p++) {
        int digit = hex_value(*p);
        if (digit < 0 || (unsigned)digit >= base)
            return -1;
        if (v->mag > (UINT64_MAX - (unsigned)digit) / base)
            over = true;
        else
            v->mag = v->mag * base + (unsigned)digit;
    }
    return over ? 1 : 0;
}

/* strtod over all of text, refusing leading space and trailing junk; -1
 * if it is not a number, 1 if it overflows a double, else 0. */
static int parse_float(const char *text, double *d)
{
    if (!*text || is_space(text[0]))
        return -1;
    char *end;
    int saved = errno;
    errno = 0;
    *d = strtod(text, &end);
    bool overflow = errno == ERANGE && isinf(*d);
    errno = saved;
    if (end == text || *end)
        return -1;
    return overflow ? 1 : 0;
}

static int int_from_text(const vmdb_field *f, unsigned char *rec, const char *text)
{
    struct intval v;
    struct clip c;
    double d;
    int r = parse_int(text, &v);
    if (r < 0)
        return vmdb__fail(VMDB_EINVAL, "%s: '%s' is not %s", f->name, clip_str(&c, text),
                          parse_float(text, &d) == 0 ? "an integer" : "a number");
    if (r > 0)
        return vmdb__fail(VMDB_ERANGE, "%s: value %s does not fit %s", f->name, clip_str(&c, text),
                          vmdb_type_name(f->type));
    return set_int(f, rec, v, clip_str(&c, text));
}

static int float_from_text(const vmdb_field *f, unsigned char *rec, const char *text)
{
    double d;
    struct clip c;
    int r = parse_float(text, &d);
    if (r < 0)
        return vmdb__fail(VMDB_EINVAL, "%s: '%s' is not a number", f->name, clip_str(&c, text));
    if (r > 0)
        return vmdb__fail(VMDB_ERANGE, "%s: value %s does not fit %s", f->name, clip_str(&c, text),
                          vmdb_type_name(f->type));
    return set_float(f, rec, d, clip_str(&c, text));
}

static int bool_from_text(const vmdb_field *f, unsigned char *rec, const char *text)
{
    static const char *const truth[] = {"true", "yes", "1"};
    static const char *const falsity[] = {"false", "no", "0"};
    size_t n = strlen(text);
    for (size_t i = 0; i < 3; i++) {
        if (ieq(text, n, truth[i]) || ieq(text, n, falsity[i])) {
            rec[f->offset] = ieq(text, n, truth[i]);
            return 0;
        }
    }
    struct clip c;
    return vmdb__fail(VMDB_EINVAL, "%s: '%s' is not a bool (true/false/1/0)", f->name, clip_str(&c, text));
}

static int str_from_text(const vmdb_field *f, unsigned char *rec, const char *text)
{
    size_t n = strlen(text);
    struct clip c;
    if (n > f->size)
        return vmdb__fail(VMDB_ERANGE, "%s: '%s' is %zu bytes, more than str%" PRIu32, f->name,
                          clip(&c, text, n), n, f->size);
    memcpy(rec + f->offset, text, n);
    memset(rec + f->offset + n, 0, f->size - n);
    return 0;
}

/* "0x" and pairs of hex digits; checked whole before a byte is stored. */
static int bytes_from_text(const vmdb_field *f, unsigned char *rec, const char *text)
{
    struct clip c;
    size_t n = strlen(text);
    bool hex = n >= 2 && text[0] == '0' && lower(text[1]) == 'x';
    for (size_t i = 2; hex && i < n; i++)
        hex = hex_value(text[i]) >= 0;
    if (!hex)
        return vmdb__fail(VMDB_EINVAL, "%s: '%s' is not hex bytes (0x...)", f->name, clip(&c, text, n));
    if (n % 2)
        return vmdb__fail(VMDB_EINVAL, "%s: '%s' has an odd number of hex digits", f->name, clip(&c, text, n));
    size_t count = (n - 2) / 2;
    if (count > f->size)
        return vmdb__fail(VMDB_ERANGE, "%s: '%s' is %zu bytes, more than bytes%" PRIu32, f->name,
                          clip(&c, text, n), count, f->size);
    unsigned char *p = rec + f->offset;
    for (size_t i = 0; i < count; i++)
        p[i] = (unsigned char)(hex_value(text[2 + 2 * i]) << 4 | hex_value(text[3 + 2 * i]));
    memset(p + count, 0, f->size - count);
    return 0;
}

int vmdb_record_set_text(const vmdb_schema *schema, void *record, size_t field, const char *text)
{
    const vmdb_field *f = vmdb_schema_field(schema, field);
    if (!f)
        return bad_index(schema, field);
    if (!text)
        return vmdb__fail(VMDB_EINVAL, "%s: no value (NULL text)", f->name);
    if (is_int(f->type))
        return int_from_text(f, record, text);
    if (is_float(f->type))
        return float_from_text(f, record, text);
    switch (f->type) {
    case VMDB_TYPE_BOOL: return bool_from_text(f, record, text);
    case VMDB_TYPE_STR: return str_from_text(f, record, text);
    default: return bytes_from_text(f, record, text);
    }
}

static void put_hex(struct out *o, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    put_str(o, "0x");
    for (size_t i = 0; i < n; i++) {
        char pair[2] = {digits[p[i] >> 4], digits[p[i] & 15]};
        put(o, pair, 2);
    }
}

int vmdb_record_format_text(const vmdb_schema *schema, const void *record, size_t field, char *dst, size_t cap,
                            size_t *len)
{
    *len = 0;
    const vmdb_field *f = vmdb_schema_field(schema, field);
    if (!f)
        return bad_index(schema, field);
    const unsigned char *rec = record;
    struct out o = {dst, cap, 0};
    struct num_text t;
    if (f->type == VMDB_TYPE_BOOL)
        put_str(&o, rec[f->offset] ? "true" : "false");
    else if (is_int(f->type))
        put_str(&o, int_text(&t, load_int(f, rec)));
    else if (is_float(f->type))
        put_str(&o, float_text(&t, load_float(f, rec), f->type == VMDB_TYPE_F32));
    else if (f->type == VMDB_TYPE_STR)
        put(&o, (const char *)rec + f->offset, strnlen((const char *)rec + f->offset, f->size));
    else
        put_hex(&o, rec + f->offset, f->size);
    return finish(&o, f->name, len);
}

/* ---- typed access -------------------------------------------------------- */

static int not_a(const vmdb_field *f, const char *what)
{
    struct type_text t;
    return vmdb__fail(VMDB_EINVAL, "%s: %s is not %s", f->name, type_text(&t, f), what);
}

/* The integer in an integer or bool field; EINVAL for any other type. */
static int get_int(const vmdb_schema *s, const void *record, size_t field, const vmdb_field **f,
                   struct intval *v)
{
    *f = vmdb_schema_field(s, field);
    if (!*f)
        return bad_index(s, field);
    if (!is_int((*f)->type) && (*f)->type != VMDB_TYPE_BOOL)
        return not_a(*f, "an integer");
    *v = load_int(*f, record);
    return 0;
}

int vmdb_record_get_i64(const vmdb_schema *schema, const void *record, size_t field, int64_t *v)
{
    *v = 0;
    const vmdb_field *f = NULL;
    struct intval x = {false, 0};
    int rc = get_int(schema, record, field, &f, &x);
    if (rc)
        return rc;
    if (!x.neg && x.mag > INT64_MAX) {
        struct num_text t;
        return vmdb__fail(VMDB_ERANGE, "%s: value %s does not fit i64", f->name, int_text(&t, x));
    }
    /* -(mag - 1) - 1 reaches INT64_MIN without overflowing on the way. */
    *v = x.neg && x.mag ? -(int64_t)(x.mag - 1) - 1 : (int64_t)x.mag;
    return 0;
}

int vmdb_record_get_u64(const vmdb_schema *schema, const void *record, size_t field, uint64_t *v)
{
    *v = 0;
    const vmdb_field *f = NULL;
    struct intval x = {false, 0};
    int rc = get_int(schema, record, field, &f, &x);
    if (rc)
        return rc;
    if (x.neg && x.mag) {
        struct num_text t;
        return vmdb__fail(VMDB_ERANGE, "%s: value %s does not fit u64", f->name, int_text(&t, x));
    }
    *v = x.mag;
    return 0;
}

int vmdb_record_get_f64(const vmdb_schema *schema, const void *record, size_t field, double *v)
{
    *v = 0;
    const vmdb_field *f = vmdb_schema_field(schema, field);
    if (!f)
        return bad_index(schema, field);
    if (is_float(f->type)) {
        *v = load_float(f, record);
        return 0;
    }
    if (!is_int(f->type) && f->type != VMDB_TYPE_BOOL)
        return not_a(f, "a number");
    struct intval x = load_int(f, record);
    *v = x.neg ? -(double)x.mag : (double)x.mag;
    return 0;
}

/* An integer into any number or bool field. */
static int set_intval(const vmdb_schema *s, void *record, size_t field, struct intval v)
{
    const vmdb_field *f = vmdb_schema_field(s, field);
    if (!f)
        return bad_index(s, field);
    struct num_text t;
    if (is_float(f->type))
        return set_float(f, record, v.neg ? -(double)v.mag : (double)v.mag, int_text(&t, v));
    if (!is_int(f->type) && f->type != VMDB_TYPE_BOOL)
        return not_a(f, "a number");
    return set_int(f, record, v, int_text(&t, v));
}

int vmdb_record_set_i64(const vmdb_schema *schema, void *record, size_t field, int64_t v)
{
    /* 0 - (uint64_t)v is |v| for every v, INT64_MIN included. */
    struct intval x = {v < 0, v < 0 ? 0 - (uint64_t)v : (uint64_t)v};
    return set_intval(schema, record, field, x);
}

int vmdb_record_set_u64(const vmdb_schema *schema, void *record, size_t field, uint64_t v)
{
    return set_intval(schema, record, field, (struct intval){false, v});
}

/* A double into an integer or bool field: only whole values that fit.
 * The bounds are checked before the conversion, which would otherwise be
 * undefined for values beyond 64 bits. */
static int set_whole(const vmdb_field *f, unsigned char *rec, double d)
{
    struct num_text t;
    const char *shown = float_text(&t, d, false);
    if (isnan(d))
        return vmdb__fail(VMDB_EINVAL, "%s: value %s is not an integer", f->name, shown);
    if (d >= 0x1p64 || d < -0x1p63)
        return vmdb__fail(VMDB_ERANGE, "%s: value %s does not fit %s", f->name, shown, vmdb_type_name(f->type));
    double a = d < 0 ? -d : d;
    struct intval v = {d < 0, (uint64_t)a};
    if ((double)v.mag != a)
        return vmdb__fail(VMDB_EINVAL, "%s: value %s is not an integer", f->name, shown);
    return set_int(f, rec, v, shown);
}

int vmdb_record_set_f64(const vmdb_schema *schema, void *record, size_t field, double v)
{
    const vmdb_field *f = vmdb_schema_field(schema, field);
    if (!f)
        return bad_index(schema, field);
    if (is_float(f->type)) {
        struct num_text t;
        return set_float(f, record, v, float_text(&t, v, false));
    }
    if (!is_int(f->type) && f->type != VMDB_TYPE_BOOL)
        return not_a(f, "a number");
    return set_whole(f, record, v);
}

int vmdb_record_get_str(const vmdb_schema *schema, const void *record, size_t field, const char **s, size_t *len)
{
    *s = NULL;
    *len = 0;
    const vmdb_field *f = vmdb_schema_field(schema, field);
    if (!f)
        return bad_index(schema, field);
    if (!is_sized(f->type))
        return not_a(f, "str or bytes");
    const char *p = (const char *)record + f->offset;
    *len = f->type == VMDB_TYPE_STR ? strnlen(p, f->size) : f->size;
    *s = p;
    return 0;
}

int vmdb_record_key(const vmdb_schema *schema, const void *record, const void **key, size_t *len)
{
    const vmdb_field *f = &schema->fields[schema->key];
    const char *p = (const char *)record + f->offset;
    *key = p;
    *len = f->type == VMDB_TYPE_STR ? strnlen(p, f->size) : f->size;
    return 0;
}
