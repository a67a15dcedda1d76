/* SPDX-License-Identifier: MIT */
/* tests/test_schema.c - schemas from text and from structs, their
 * comparison and stored form, and values in and out of records. */
#include <float.h>
#include <math.h>
#include <stdalign.h>
#include <stddef.h>

#include "helpers.h"
#include "vmdb/schema.h"
#include "schema_internal.h"

TestSuite(schema, .timeout = SUITE_TIMEOUT);

static vmdb_schema *parse(const char *text)
{
    vmdb_schema *s = NULL;
    ASSERT_OK(vmdb_schema_parse(text, &s));
    return s;
}

/* The field called name: it must exist. */
static const vmdb_field *field(const vmdb_schema *s, const char *name)
{
    size_t i;
    ASSERT_OK(vmdb_schema_find(s, name, &i));
    return vmdb_schema_field(s, i);
}

static size_t index_of(const vmdb_schema *s, const char *name)
{
    size_t i;
    ASSERT_OK(vmdb_schema_find(s, name, &i));
    return i;
}

/* Parsing `text` fails with `code` and a message naming `needle`, and
 * leaves no schema behind. */
#define PARSE_FAILS(text, code, needle)                                        \
    do {                                                                       \
        vmdb_schema *s_ = (vmdb_schema *)1;                                    \
        ASSERT_FAILS(vmdb_schema_parse((text), &s_), (code), (needle));        \
        cr_assert_null(s_);                                                    \
    } while (0)

/* The text of a schema, in a static buffer. */
static const char *format(const vmdb_schema *s)
{
    static char buf[8192];
    size_t len;
    ASSERT_OK(vmdb_schema_format(s, buf, sizeof buf, &len));
    cr_assert_eq(len, strlen(buf));
    return buf;
}

/* ---- text and layout ---------------------------------------------------- */

struct person {
    uint64_t id;
    char name[32];
    uint32_t age;
    double score;
};

Test(schema, parse_lays_fields_out_like_a_c_struct)
{
    vmdb_schema *s = parse("id:u64 key, name:str32, age:u32, score:f64");
    cr_assert_eq(vmdb_schema_field_count(s), 4);
    cr_assert_eq(vmdb_schema_record_size(s), sizeof(struct person));
    cr_assert_eq(vmdb_schema_key(s), 0);
    const vmdb_field *f = vmdb_schema_field(s, 1);
    cr_assert_str_eq(f->name, "name");
    cr_assert_eq(f->type, VMDB_TYPE_STR);
    cr_assert_eq(f->size, 32);
    cr_assert_eq(f->offset, offsetof(struct person, name));
    cr_assert(!f->key);
    cr_assert(vmdb_schema_field(s, 0)->key);
    cr_assert_eq(field(s, "age")->offset, offsetof(struct person, age));
    cr_assert_eq(field(s, "score")->offset, offsetof(struct person, score));
    cr_assert_null(vmdb_schema_field(s, 4));
    vmdb_schema_free(s);
}

Test(schema, parse_aligns_each_number_and_pads_the_record_to_8)
{
    vmdb_schema *s = parse("a:u8, b:u16, c:u8, d:u32, e:bool, f:i64, g:bytes3, h:f32, i:i8, j:str5");
    const uint32_t want[] = {0, 2, 4, 8, 12, 16, 24, 28, 32, 33};
    for (size_t i = 0; i < 10; i++)
        cr_assert_eq(vmdb_schema_field(s, i)->offset, want[i], "field %zu at %u", i,
                     vmdb_schema_field(s, i)->offset);
    cr_assert_eq(vmdb_schema_record_size(s), 40);
    vmdb_schema_free(s);
    s = parse("a:u8");
    cr_assert_eq(vmdb_schema_record_size(s), 8);
    vmdb_schema_free(s);
    s = parse("a:u8, b:u64");
    cr_assert_eq(field(s, "b")->offset, 8);
    cr_assert_eq(vmdb_schema_record_size(s), 16);
    vmdb_schema_free(s);
}

Test(schema, parse_tolerates_whitespace_and_any_case_of_type_names)
{
    vmdb_schema *s = parse("  id :\tU64   KEY ,\n name: Str8,flag : BOOL,Blob:BYTES2 \n");
    cr_assert_str_eq(format(s), "id:u64 key, name:str8, flag:bool, Blob:bytes2");
    vmdb_schema_free(s);
    /* Field names are case-sensitive: these are two fields. */
    s = parse("x:u8, X:u8");
    cr_assert_eq(vmdb_schema_field_count(s), 2);
    vmdb_schema_free(s);
}

Test(schema, parse_makes_the_first_field_the_key_when_none_is_marked)
{
    vmdb_schema *s = parse("name:str16, age:u8");
    cr_assert_eq(vmdb_schema_key(s), 0);
    cr_assert(vmdb_schema_field(s, 0)->key);
    cr_assert(!vmdb_schema_field(s, 1)->key);
    cr_assert_str_eq(format(s), "name:str16 key, age:u8");
    vmdb_schema_free(s);
    s = parse("a:u8, b:str3 key, key:u32");
    cr_assert_eq(vmdb_schema_key(s), 1);
    cr_assert_eq(index_of(s, "key"), 2, "a field may be called key");
    vmdb_schema_free(s);
}

Test(schema, every_type_formats_and_parses_back_to_an_equal_schema)
{
    const char *text = "a:u8, b:u16, c:u32, d:u64, e:i8, f:i16, g:i32, h:i64 key, i:f32, j:f64, "
                       "k:bool, l:str1, m:str4096, n:bytes1, o:bytes4096";
    vmdb_schema *s = parse(text);
    cr_assert_str_eq(format(s), text);
    vmdb_schema *back = parse(format(s));
    ASSERT_OK(vmdb_schema_equal(s, back));
    vmdb_schema_free(back);
    vmdb_schema_free(s);
}

Test(schema, format_reports_the_length_it_needs)
{
    vmdb_schema *s = parse("id:u64 key, name:str32");
    char buf[64];
    size_t len = 0;
    ASSERT_FAILS(vmdb_schema_format(s, buf, 22, &len), VMDB_ERANGE, "needs 22 bytes");
    cr_assert_eq(len, 22);
    ASSERT_FAILS(vmdb_schema_format(s, NULL, 0, &len), VMDB_ERANGE, "holds 0");
    cr_assert_eq(len, 22);
    ASSERT_OK(vmdb_schema_format(s, buf, 23, &len));
    cr_assert_str_eq(buf, "id:u64 key, name:str32");
    vmdb_schema_free(s);
}

Test(schema, type_names_are_the_schema_spellings)
{
    cr_assert_str_eq(vmdb_type_name(VMDB_TYPE_U8), "u8");
    cr_assert_str_eq(vmdb_type_name(VMDB_TYPE_I64), "i64");
    cr_assert_str_eq(vmdb_type_name(VMDB_TYPE_F32), "f32");
    cr_assert_str_eq(vmdb_type_name(VMDB_TYPE_BOOL), "bool");
    cr_assert_str_eq(vmdb_type_name(VMDB_TYPE_STR), "str");
    cr_assert_str_eq(vmdb_type_name(VMDB_TYPE_BYTES), "bytes");
    cr_assert_str_eq(vmdb_type_name((enum vmdb_type)0), "?");
    cr_assert_str_eq(vmdb_type_name((enum vmdb_type)14), "?");
}

Test(schema, find_is_case_sensitive_and_names_a_missing_field)
{
    vmdb_schema *s = parse("id:u64, name:str8");
    size_t i;
    ASSERT_OK(vmdb_schema_find(s, "name", &i));
    cr_assert_eq(i, 1);
    ASSERT_FAILS(vmdb_schema_find(s, "Name", &i), VMDB_ENOTFOUND, "no field 'Name'");
    cr_assert_eq(i, SIZE_MAX);
    vmdb_schema_free(s);
}

/* ---- text errors ---------------------------------------------------------- */

Test(schema, parse_errors_name_the_token_and_its_column)
{
    PARSE_FAILS("id:u64 key, age:u7", VMDB_ESCHEMA, "unknown type 'u7' for field 'age' (col 17)");
    PARSE_FAILS("id:u64, id:u32", VMDB_ESCHEMA, "duplicate field 'id' (col 9)");
    PARSE_FAILS("id:u64, name:str5000", VMDB_ESCHEMA, "str size 5000 is more than 4096 (field 'name', col 14)");
    PARSE_FAILS("id:u64, b:bytes99999999999999999999999", VMDB_ESCHEMA,
                "bytes size 99999999999999999999999 is more than 4096");
    PARSE_FAILS("name:str0", VMDB_ESCHEMA, "str size 0 is less than 1 (field 'name', col 6)");
    PARSE_FAILS("name:str", VMDB_ESCHEMA, "str needs a size, e.g. str32 (field 'name', col 6)");
    PARSE_FAILS("name:string", VMDB_ESCHEMA, "unknown type 'string'");
    PARSE_FAILS("id:u64 key, x:u8 KEY", VMDB_ESCHEMA, "two key fields, 'id' and 'x' (col 18)");
    PARSE_FAILS("", VMDB_ESCHEMA, "no fields");
    PARSE_FAILS(" \n\t", VMDB_ESCHEMA, "no fields");
}

Test(schema, parse_syntax_errors_say_what_was_expected)
{
    PARSE_FAILS("id u64", VMDB_ESYNTAX, "expected ':' after field 'id', found 'u64' (col 4)");
    PARSE_FAILS("9id:u8", VMDB_ESYNTAX, "expected a field name, found '9id' (col 1)");
    PARSE_FAILS("id:u8,", VMDB_ESYNTAX, "expected a field name, found the end (col 7)");
    PARSE_FAILS("id:u8,,b:u8", VMDB_ESYNTAX, "found ',' (col 7)");
    PARSE_FAILS("id:", VMDB_ESYNTAX, "expected a type for field 'id', found the end (col 4)");
    PARSE_FAILS("id: :u8", VMDB_ESYNTAX, "expected a type for field 'id', found ':' (col 5)");
    PARSE_FAILS("id:u8 primary", VMDB_ESYNTAX, "expected ',' or 'key' after field 'id', found 'primary' (col 7)");
    PARSE_FAILS("id:u8 key key", VMDB_ESYNTAX, "expected ',' after field 'id', found 'key' (col 11)");
    PARSE_FAILS("id:u8; b:u8", VMDB_ESYNTAX, "found ';' (col 6)");
    PARSE_FAILS("na-me:u8", VMDB_ESYNTAX, "expected ':' after field 'na', found '-' (col 3)");
    PARSE_FAILS("id:u8, é:u8", VMDB_ESYNTAX, "found 'é' (col 8)");
}

Test(schema, parse_refuses_names_types_and_sizes_past_the_limits)
{
    char text[80000];
    char name[70];
    memset(name, 'n', 63);
    name[63] = '\0';
    snprintf(text, sizeof text, "%s:u8", name);
    vmdb_schema_free(parse(text));
    snprintf(text, sizeof text, "a:u8, n%s:u8", name);
    PARSE_FAILS(text, VMDB_ESCHEMA, "is longer than 63 bytes (col 7)");

    /* 16 fields of 4096 bytes fill a record exactly; a 17th passes it. */
    size_t len = 0;
    for (int i = 0; i < 16; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%sf%d:bytes4096", i ? ", " : "", i);
    vmdb_schema *s = parse(text);
    cr_assert_eq(vmdb_schema_record_size(s), VMDB_SCHEMA_MAX_RECORD);
    vmdb_schema_free(s);
    snprintf(text + len, sizeof text - len, ", last:u8");
    PARSE_FAILS(text, VMDB_ESCHEMA, "the record passes 65536 bytes at field 'last'");

    len = 0;
    for (int i = 0; i < 257; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%sf%d:u8", i ? "," : "", i);
    PARSE_FAILS(text, VMDB_ESCHEMA, "more than 256 fields (field 'f256'");
}

/* The encoding takes 16 bytes, plus 7 and the name per field: 180 fields
 * named f000..f179 take 16 + 180 * 11 = 1996, and one more with a name of
 * 45 bytes brings it to exactly 2048. */
Test(schema, schema_too_large_to_store_is_refused_up_front)
{
    char text[4096];
    size_t len = 0;
    for (int i = 0; i < 180; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "f%03d:u8, ", i);
    memset(text + len, 'z', 45);
    strcpy(text + len + 45, ":u8");
    vmdb_schema *s = parse(text);
    cr_assert_eq(vmdb__schema_encoded_len(s), VMDB_SCHEMA_MAX_ENCODED);
    size_t enc;
    unsigned char *buf = malloc(VMDB_SCHEMA_MAX_ENCODED);
    ASSERT_OK(vmdb__schema_encode(s, buf, VMDB_SCHEMA_MAX_ENCODED, &enc));
    vmdb_schema *back;
    ASSERT_OK(vmdb__schema_decode(buf, enc, &back));
    vmdb_schema_free(back);
    free(buf);
    vmdb_schema_free(s);
    /* One byte more. */
    memset(text + len, 'z', 46);
    strcpy(text + len + 46, ":u8");
    PARSE_FAILS(text, VMDB_ESCHEMA, "too large to store: 2049 bytes encoded, more than 2048");
    /* vmdb_schema_new applies the same limit. */
    vmdb_field f[181];
    char names[181][16];
    for (unsigned i = 0; i < 181; i++) {
        snprintf(names[i], sizeof names[i], "field%u", i);
        f[i] = (vmdb_field){names[i], VMDB_TYPE_U8, 1, i, i == 0};
    }
    vmdb_schema *t = (vmdb_schema *)1;
    ASSERT_FAILS(vmdb_schema_new(f, 181, 181, &t), VMDB_ESCHEMA, "too large to store");
    cr_assert_null(t);
}

/* ---- from a C struct ------------------------------------------------------ */

struct item {
    uint16_t kind;
    char title[20];
    uint64_t sku;
    int8_t delta;
    double price;
    bool active;
    unsigned char tag[5];
    float weight;
    int64_t stock;
};

static const vmdb_field item_fields[] = {
    VMDB_FIELD(struct item, kind, VMDB_TYPE_U16),
    VMDB_FIELD(struct item, title, VMDB_TYPE_STR),
    VMDB_KEY(struct item, sku, VMDB_TYPE_U64),
    VMDB_FIELD(struct item, delta, VMDB_TYPE_I8),
    VMDB_FIELD(struct item, price, VMDB_TYPE_F64),
    VMDB_FIELD(struct item, active, VMDB_TYPE_BOOL),
    VMDB_FIELD(struct item, tag, VMDB_TYPE_BYTES),
    VMDB_FIELD(struct item, weight, VMDB_TYPE_F32),
    VMDB_FIELD(struct item, stock, VMDB_TYPE_I64),
};
#define ITEM_FIELDS (sizeof item_fields / sizeof item_fields[0])

Test(schema, new_describes_a_c_struct_with_the_field_macros)
{
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_new(item_fields, ITEM_FIELDS, sizeof(struct item), &s));
    cr_assert_eq(vmdb_schema_record_size(s), sizeof(struct item));
    cr_assert_eq(vmdb_schema_key(s), 2);
    cr_assert_eq(field(s, "title")->size, 20);
    cr_assert_eq(field(s, "title")->offset, offsetof(struct item, title));
    cr_assert_eq(field(s, "tag")->offset, offsetof(struct item, tag));
    cr_assert_eq(field(s, "stock")->offset, offsetof(struct item, stock));
    cr_assert_str_eq(format(s), "kind:u16, title:str20, sku:u64 key, delta:i8, price:f64, active:bool, "
                                "tag:bytes5, weight:f32, stock:i64");

    /* Values set through the schema land in the struct's members. */
    struct item it = {0};
    ASSERT_OK(vmdb_record_set_text(s, &it, index_of(s, "sku"), "123456789012"));
    ASSERT_OK(vmdb_record_set_text(s, &it, index_of(s, "title"), "widget"));
    ASSERT_OK(vmdb_record_set_text(s, &it, index_of(s, "price"), "9.5"));
    ASSERT_OK(vmdb_record_set_text(s, &it, index_of(s, "delta"), "-3"));
    ASSERT_OK(vmdb_record_set_text(s, &it, index_of(s, "active"), "yes"));
    ASSERT_OK(vmdb_record_set_text(s, &it, index_of(s, "weight"), "0.25"));
    ASSERT_OK(vmdb_record_set_text(s, &it, index_of(s, "stock"), "-9000000000"));
    cr_assert_eq(it.sku, 123456789012ull);
    cr_assert_str_eq(it.title, "widget");
    cr_assert_eq(it.price, 9.5);
    cr_assert_eq(it.delta, -3);
    cr_assert(it.active);
    cr_assert_eq(it.weight, 0.25f);
    cr_assert_eq(it.stock, -9000000000ll);
    vmdb_schema_free(s);
}

Test(schema, new_of_the_natural_layout_equals_the_parsed_text)
{
    static const vmdb_field f[] = {
        VMDB_KEY(struct person, id, VMDB_TYPE_U64),
        VMDB_FIELD(struct person, name, VMDB_TYPE_STR),
        VMDB_FIELD(struct person, age, VMDB_TYPE_U32),
        VMDB_FIELD(struct person, score, VMDB_TYPE_F64),
    };
    vmdb_schema *a, *b = parse("id:u64 key, name:str32, age:u32, score:f64");
    ASSERT_OK(vmdb_schema_new(f, 4, sizeof(struct person), &a));
    ASSERT_OK(vmdb_schema_equal(a, b));
    vmdb_schema_free(a);
    vmdb_schema_free(b);
}

Test(schema, new_keeps_its_own_copy_of_the_names)
{
    char name[8] = "alpha";
    vmdb_field f[] = {{.name = name, .type = VMDB_TYPE_U32, .size = 0, .offset = 0, .key = true}};
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_new(f, 1, 4, &s));
    strcpy(name, "beta");
    f[0].type = VMDB_TYPE_U8;
    cr_assert_str_eq(vmdb_schema_field(s, 0)->name, "alpha");
    cr_assert_eq(vmdb_schema_field(s, 0)->size, 4, "size 0 means the type's own size");
    cr_assert_eq(vmdb_schema_field(s, 0)->type, VMDB_TYPE_U32);
    vmdb_schema *c;
    ASSERT_OK(vmdb_schema_copy(s, &c));
    vmdb_schema_free(s);
    cr_assert_str_eq(vmdb_schema_field(c, 0)->name, "alpha");
    cr_assert_eq(vmdb_schema_record_size(c), 4);
    vmdb_schema_free(c);
    vmdb_schema_free(NULL);
}

/* vmdb_schema_new(fields, count, record_size) fails with code and needle. */
static void new_fails(const vmdb_field *f, size_t count, size_t record_size, int code, const char *needle)
{
    vmdb_schema *s = (vmdb_schema *)1;
    ASSERT_FAILS(vmdb_schema_new(f, count, record_size, &s), code, needle);
    cr_assert_null(s);
}

Test(schema, new_refuses_overlap_out_of_range_and_bad_fields)
{
    vmdb_field f[3] = {
        {"id", VMDB_TYPE_U64, 8, 0, true},
        {"a", VMDB_TYPE_U32, 4, 8, false},
        {"b", VMDB_TYPE_U16, 2, 12, false},
    };
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_new(f, 3, 14, &s));
    vmdb_schema_free(s);

    f[2].offset = 10;
    new_fails(f, 3, 16, VMDB_ESCHEMA, "fields 'a' (bytes 8..11) and 'b' (bytes 10..11) overlap");
    f[2].offset = 12;
    new_fails(f, 3, 13, VMDB_ESCHEMA, "field 'b' (offset 12, 2 bytes) ends past the record size 13");
    f[2].offset = UINT32_MAX;
    new_fails(f, 3, 16, VMDB_ESCHEMA, "field 'b' (offset 4294967295");
    f[2].offset = 12;
    f[2].name = "a";
    new_fails(f, 3, 16, VMDB_ESCHEMA, "duplicate field 'a'");
    f[2].name = "b";
    f[0].key = false;
    new_fails(f, 3, 16, VMDB_ESCHEMA, "no key field");
    f[0].key = true;
    f[2].key = true;
    new_fails(f, 3, 16, VMDB_ESCHEMA, "two key fields, 'id' and 'b'");
    f[2].key = false;
    f[1].size = 2;
    new_fails(f, 3, 16, VMDB_ESCHEMA, "field 'a': size 2 does not match u32 (4 bytes)");
    f[1].size = 4;
    f[1].type = (enum vmdb_type)99;
    new_fails(f, 3, 16, VMDB_ESCHEMA, "field 'a': unknown type 99");
    f[1].type = VMDB_TYPE_STR;
    f[1].size = 0;
    new_fails(f, 3, 16, VMDB_ESCHEMA, "field 'a': str size 0 is less than 1");
    f[1].size = 5000;
    new_fails(f, 3, 6000, VMDB_ESCHEMA, "field 'a': str size 5000 is more than 4096");
    f[1] = (vmdb_field){"a", VMDB_TYPE_U32, 4, 8, false};
    f[1].name = "2a";
    new_fails(f, 3, 16, VMDB_ESCHEMA, "fields[1]: '2a' is not a valid name");
    f[1].name = "a b";
    new_fails(f, 3, 16, VMDB_ESCHEMA, "fields[1]: 'a b' is not a valid name");
    f[1].name = "";
    new_fails(f, 3, 16, VMDB_ESCHEMA, "fields[1]: '' is not a valid name");
    f[1].name = NULL;
    new_fails(f, 3, 16, VMDB_ESCHEMA, "fields[1] has no name");
    f[1].name = "a";
    new_fails(f, 0, 16, VMDB_ESCHEMA, "no fields");
    new_fails(f, 257, 16, VMDB_ESCHEMA, "257 fields, more than 256");
    new_fails(f, 3, 0, VMDB_ESCHEMA, "record size 0 is not in 1..65536");
    new_fails(f, 3, 65537, VMDB_ESCHEMA, "record size 65537");
    new_fails(NULL, 3, 16, VMDB_EINVAL, "fields is NULL");
}

Test(schema, new_catches_a_member_of_the_wrong_size_for_its_type)
{
    struct wrong {
        uint64_t id;
        uint16_t small;
    };
    const vmdb_field f[] = {
        VMDB_KEY(struct wrong, id, VMDB_TYPE_U64),
        VMDB_FIELD(struct wrong, small, VMDB_TYPE_U32),
    };
    new_fails(f, 2, sizeof(struct wrong), VMDB_ESCHEMA, "field 'small': size 2 does not match u32");
}

Test(schema, new_accepts_its_own_field_order_and_gaps)
{
    const vmdb_field f[] = {
        {"b", VMDB_TYPE_U32, 4, 12, false},
        {"a", VMDB_TYPE_U8, 1, 0, true},
        {"c", VMDB_TYPE_U16, 2, 3, false}, /* unaligned: copied with memcpy */
    };
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_new(f, 3, 16, &s));
    unsigned char rec[16] = {0};
    ASSERT_OK(vmdb_record_set_text(s, rec, 2, "0x1234"));
    cr_assert(rec[3] == 0x34 && rec[4] == 0x12);
    /* The text has no offsets: it parses back to another layout, and
     * equal says where they part. */
    vmdb_schema *back = parse(format(s));
    ASSERT_FAILS(vmdb_schema_equal(s, back), VMDB_ESCHEMA, "field 'b': offset 12 here, 0 in the table");
    vmdb_schema_free(back);
    vmdb_schema_free(s);
}

/* ---- comparison ------------------------------------------------------------ */

/* equal(parse(a), parse(b)) fails naming needle. */
static void differ(const char *a, const char *b, const char *needle)
{
    vmdb_schema *sa = parse(a), *sb = parse(b);
    ASSERT_FAILS(vmdb_schema_equal(sa, sb), VMDB_ESCHEMA, needle);
    vmdb_schema_free(sa);
    vmdb_schema_free(sb);
}

Test(schema, equal_names_the_first_difference)
{
    vmdb_schema *a = parse("id:u64 key, age:u32"), *b = parse("id : U64 KEY , age : u32");
    ASSERT_OK(vmdb_schema_equal(a, b));
    vmdb_schema_free(a);
    vmdb_schema_free(b);
    differ("id:u64, age:u32", "id:u64, age:u16", "field 'age': u32 here, u16 in the table");
    differ("id:u64, name:str32", "id:u64, name:str16", "field 'name': str32 here, str16 in the table");
    differ("id:u64, email:str8, age:u32", "id:u64, age:u32", "field 'email' is not in the table");
    differ("id:u64", "id:u64, x:u8", "field 'x' is in the table, not here");
    differ("id:u64, a:u8, b:u8", "id:u64, b:u8, a:u8", "field 'a': offset 8 here, 9 in the table");
    differ("id:u64, x:u8 key", "id:u64 key, x:u8", "field 'id': not the key here, the key in the table");
    differ("id:u64, a:u32, b:u32", "id:u64, a:u32, b:u32, c:u16", "field 'c' is in the table, not here");
    differ("a:u8, b:u8", "a:u8, b:u8, c:str6", "field 'c' is in the table");
}

Test(schema, equal_compares_record_size_and_position)
{
    vmdb_field f[] = {
        {"id", VMDB_TYPE_U64, 8, 0, true},
        {"age", VMDB_TYPE_U32, 4, 8, false},
    };
    vmdb_schema *a, *b;
    ASSERT_OK(vmdb_schema_new(f, 2, 48, &a));
    ASSERT_OK(vmdb_schema_new(f, 2, 40, &b));
    ASSERT_FAILS(vmdb_schema_equal(a, b), VMDB_ESCHEMA, "record size 48 here, 40 in the table");
    vmdb_schema_free(b);
    vmdb_field g[] = {f[1], f[0]};
    ASSERT_OK(vmdb_schema_new(g, 2, 48, &b));
    ASSERT_FAILS(vmdb_schema_equal(a, b), VMDB_ESCHEMA, "field 'id': position 1 here, 2 in the table");
    vmdb_schema_free(a);
    vmdb_schema_free(b);
}

/* ---- values as text ---------------------------------------------------------- */

/* One record of every type, with a schema to address it by name. */
struct all {
    vmdb_schema *s;
    unsigned char rec[8192];
};

static struct all all_types(void)
{
    struct all a = {0};
    a.s = parse("k:u64 key, u8:u8, u16:u16, u32:u32, u64:u64, i8:i8, i16:i16, i32:i32, i64:i64, "
                "f32:f32, f64:f64, flag:bool, name:str32, blob:bytes4");
    return a;
}

/* Sets field `name` from text and checks the text it formats back. */
static void round_trip(struct all *a, const char *name, const char *text, const char *want)
{
    size_t i = index_of(a->s, name);
    ASSERT_OK(vmdb_record_set_text(a->s, a->rec, i, text));
    char buf[8300];
    size_t len;
    ASSERT_OK(vmdb_record_format_text(a->s, a->rec, i, buf, sizeof buf, &len));
    cr_assert_eq(len, strlen(want), "%s: '%s' gave '%s'", name, text, buf);
    cr_assert_eq(memcmp(buf, want, len), 0, "%s: '%s' gave '%s', expected '%s'", name, text, buf, want);
    cr_assert_eq(buf[len], '\0');
}

/* Setting field `name` from text fails with code and needle, and leaves
 * the record as it was. */
static void set_fails(struct all *a, const char *name, const char *text, int code, const char *needle)
{
    unsigned char before[sizeof a->rec];
    memcpy(before, a->rec, sizeof before);
    ASSERT_FAILS(vmdb_record_set_text(a->s, a->rec, index_of(a->s, name), text), code, needle);
    cr_assert_eq(memcmp(before, a->rec, sizeof before), 0, "a failed set changed the record");
}

Test(schema, unsigned_integers_take_decimal_and_hex_within_range)
{
    struct all a = all_types();
    round_trip(&a, "u8", "255", "255");
    round_trip(&a, "u8", "0xff", "255");
    round_trip(&a, "u8", "0XFf", "255");
    round_trip(&a, "u8", "+7", "7");
    round_trip(&a, "u8", "-0", "0");
    round_trip(&a, "u8", "007", "7");
    set_fails(&a, "u8", "256", VMDB_ERANGE, "u8: value 256 does not fit u8");
    set_fails(&a, "u8", "0x100", VMDB_ERANGE, "u8: value 0x100 does not fit u8");
    set_fails(&a, "u8", "-1", VMDB_ERANGE, "u8: value -1 does not fit u8");
    round_trip(&a, "u16", "65535", "65535");
    set_fails(&a, "u16", "65536", VMDB_ERANGE, "does not fit u16");
    round_trip(&a, "u32", "4294967295", "4294967295");
    set_fails(&a, "u32", "4294967296", VMDB_ERANGE, "does not fit u32");
    round_trip(&a, "u64", "18446744073709551615", "18446744073709551615");
    round_trip(&a, "u64", "0xffffffffffffffff", "18446744073709551615");
    set_fails(&a, "u64", "18446744073709551616", VMDB_ERANGE, "value 18446744073709551616 does not fit u64");
    set_fails(&a, "u64", "0x10000000000000000", VMDB_ERANGE, "does not fit u64");
    set_fails(&a, "u64", "99999999999999999999999999999", VMDB_ERANGE, "does not fit u64");
    vmdb_schema_free(a.s);
}

Test(schema, signed_integers_reach_both_ends_of_their_range)
{
    struct all a = all_types();
    round_trip(&a, "i8", "-128", "-128");
    round_trip(&a, "i8", "127", "127");
    round_trip(&a, "i8", "-0x80", "-128");
    set_fails(&a, "i8", "-129", VMDB_ERANGE, "i8: value -129 does not fit i8");
    set_fails(&a, "i8", "128", VMDB_ERANGE, "i8: value 128 does not fit i8");
    round_trip(&a, "i16", "-32768", "-32768");
    set_fails(&a, "i16", "32768", VMDB_ERANGE, "does not fit i16");
    round_trip(&a, "i32", "-2147483648", "-2147483648");
    set_fails(&a, "i32", "2147483648", VMDB_ERANGE, "does not fit i32");
    round_trip(&a, "i64", "-9223372036854775808", "-9223372036854775808");
    round_trip(&a, "i64", "9223372036854775807", "9223372036854775807");
    set_fails(&a, "i64", "-9223372036854775809", VMDB_ERANGE, "does not fit i64");
    set_fails(&a, "i64", "9223372036854775808", VMDB_ERANGE, "does not fit i64");
    /* The neighbours of a field are never touched. */
    round_trip(&a, "i16", "-1", "-1");
    round_trip(&a, "i8", "5", "5");
    round_trip(&a, "i16", "-1", "-1");
    vmdb_schema_free(a.s);
}

Test(schema, integer_text_must_be_all_digits)
{
    struct all a = all_types();
    set_fails(&a, "u32", "abc", VMDB_EINVAL, "u32: 'abc' is not a number");
    set_fails(&a, "u32", "12x", VMDB_EINVAL, "u32: '12x' is not a number");
    set_fails(&a, "u32", "", VMDB_EINVAL, "u32: '' is not a number");
    set_fails(&a, "u32", " 12", VMDB_EINVAL, "' 12' is not a number");
    set_fails(&a, "u32", "12 ", VMDB_EINVAL, "'12 ' is not a number");
    set_fails(&a, "u32", "-", VMDB_EINVAL, "'-' is not a number");
    set_fails(&a, "u32", "0x", VMDB_EINVAL, "'0x' is not a number");
    set_fails(&a, "u32", "0xfg", VMDB_EINVAL, "'0xfg' is not a number");
    set_fails(&a, "u32", "--1", VMDB_EINVAL, "'--1' is not a number");
    set_fails(&a, "i32", "1.5", VMDB_EINVAL, "i32: '1.5' is not an integer");
    set_fails(&a, "i32", "1e3", VMDB_EINVAL, "is not an integer");
    vmdb_schema_free(a.s);
}

Test(schema, floats_format_as_the_shortest_text_that_reads_back)
{
    struct all a = all_types();
    round_trip(&a, "f64", "0.1", "0.1");
    round_trip(&a, "f64", "1e300", "1e+300");
    round_trip(&a, "f64", "-2.5", "-2.5");
    round_trip(&a, "f64", "123456789", "123456789");
    round_trip(&a, "f64", "0.30000000000000004", "0.30000000000000004");
    round_trip(&a, "f64", "1.7976931348623157e308", "1.7976931348623157e+308");
    round_trip(&a, "f64", "-0", "-0");
    round_trip(&a, "f64", "0x1p-3", "0.125");
    round_trip(&a, "f64", "inf", "inf");
    round_trip(&a, "f64", "-Infinity", "-inf");
    round_trip(&a, "f64", "nan", "nan");
    round_trip(&a, "f32", "0.1", "0.1");
    round_trip(&a, "f32", "3.4028235e38", "3.4028235e+38");
    round_trip(&a, "f32", "16777217", "16777216"); /* rounded to the float */
    round_trip(&a, "f32", "-inf", "-inf");
    /* Tiny values round to 0 or a subnormal, as any float rounding. */
    round_trip(&a, "f32", "1e-50", "0");
    /* The shortest text that reads back: one digit for the least subnormal. */
    round_trip(&a, "f64", "4.9406564584124654e-324", "5e-324");
    vmdb_schema_free(a.s);
}

Test(schema, float_text_out_of_range_or_not_a_number_is_refused)
{
    struct all a = all_types();
    set_fails(&a, "f32", "1e39", VMDB_ERANGE, "f32: value 1e39 does not fit f32");
    set_fails(&a, "f32", "-3.5e38", VMDB_ERANGE, "value -3.5e38 does not fit f32");
    set_fails(&a, "f64", "1e400", VMDB_ERANGE, "f64: value 1e400 does not fit f64");
    set_fails(&a, "f64", "-1e400", VMDB_ERANGE, "does not fit f64");
    set_fails(&a, "f64", "abc", VMDB_EINVAL, "f64: 'abc' is not a number");
    set_fails(&a, "f64", "1.5x", VMDB_EINVAL, "'1.5x' is not a number");
    set_fails(&a, "f64", "", VMDB_EINVAL, "'' is not a number");
    set_fails(&a, "f64", " 1", VMDB_EINVAL, "' 1' is not a number");
    set_fails(&a, "f64", "1 ", VMDB_EINVAL, "'1 ' is not a number");
    vmdb_schema_free(a.s);
}

Test(schema, bools_take_six_spellings_in_any_case)
{
    struct all a = all_types();
    size_t i = index_of(a.s, "flag");
    size_t off = vmdb_schema_field(a.s, i)->offset;
    const char *yes[] = {"true", "TRUE", "True", "yes", "YES", "1"};
    const char *no[] = {"false", "False", "no", "NO", "0"};
    for (size_t j = 0; j < 6; j++) {
        round_trip(&a, "flag", yes[j], "true");
        cr_assert_eq(a.rec[off], 1);
    }
    for (size_t j = 0; j < 5; j++) {
        round_trip(&a, "flag", no[j], "false");
        cr_assert_eq(a.rec[off], 0);
    }
    set_fails(&a, "flag", "maybe", VMDB_EINVAL, "flag: 'maybe' is not a bool (true/false/1/0)");
    set_fails(&a, "flag", "2", VMDB_EINVAL, "'2' is not a bool");
    set_fails(&a, "flag", "", VMDB_EINVAL, "'' is not a bool");
    set_fails(&a, "flag", "truex", VMDB_EINVAL, "'truex' is not a bool");
    a.rec[off] = 7; /* any non-zero byte written by C code reads as true */
    char buf[8];
    size_t len;
    ASSERT_OK(vmdb_record_format_text(a.s, a.rec, i, buf, sizeof buf, &len));
    cr_assert_str_eq(buf, "true");
    vmdb_schema_free(a.s);
}

Test(schema, strings_fill_their_field_exactly_or_are_refused)
{
    struct all a = all_types();
    size_t i = index_of(a.s, "name");
    const unsigned char *p = a.rec + vmdb_schema_field(a.s, i)->offset;
    const char *s32 = "0123456789abcdef0123456789ABCDEF";
    round_trip(&a, "name", s32, s32);
    cr_assert_eq(p[31], 'F', "a value of exactly N bytes has no NUL");
    round_trip(&a, "name", "bob", "bob");
    for (int j = 3; j < 32; j++)
        cr_assert_eq(p[j], 0, "byte %d of a shorter value is not NUL", j);
    round_trip(&a, "name", "", "");
    round_trip(&a, "name", "a, \"quoted\"\ttab 'x' ünï ✓", "a, \"quoted\"\ttab 'x' ünï ✓");
    char s33[40];
    snprintf(s33, sizeof s33, "%sG", s32);
    set_fails(&a, "name", s33, VMDB_ERANGE, "is 33 bytes, more than str32");
    /* The message quotes a long value cut, as vmdb_printable does. */
    char longer[200];
    memset(longer, 'x', 199);
    longer[199] = '\0';
    set_fails(&a, "name", longer, VMDB_ERANGE,
              "name: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (199 bytes)' "
              "is 199 bytes, more than str32");
    vmdb_schema_free(a.s);
}

Test(schema, bytes_are_read_and_written_as_hex)
{
    struct all a = all_types();
    size_t i = index_of(a.s, "blob");
    const unsigned char *p = a.rec + vmdb_schema_field(a.s, i)->offset;
    round_trip(&a, "blob", "0xdeadBEEF", "0xdeadbeef");
    cr_assert(p[0] == 0xde && p[1] == 0xad && p[2] == 0xbe && p[3] == 0xef);
    round_trip(&a, "blob", "0x01", "0x01000000");
    round_trip(&a, "blob", "0x", "0x00000000");
    set_fails(&a, "blob", "hello", VMDB_EINVAL, "blob: 'hello' is not hex bytes (0x...)");
    set_fails(&a, "blob", "0x12g4", VMDB_EINVAL, "'0x12g4' is not hex bytes");
    set_fails(&a, "blob", "0x123", VMDB_EINVAL, "'0x123' has an odd number of hex digits");
    set_fails(&a, "blob", "0x0102030405", VMDB_ERANGE, "blob: '0x0102030405' is 5 bytes, more than bytes4");
    vmdb_schema_free(a.s);
}

Test(schema, format_text_reports_the_length_it_needs)
{
    struct all a = all_types();
    size_t i = index_of(a.s, "u32");
    ASSERT_OK(vmdb_record_set_text(a.s, a.rec, i, "12345"));
    char buf[8] = "zzzzzzz";
    size_t len = 0;
    ASSERT_FAILS(vmdb_record_format_text(a.s, a.rec, i, buf, 5, &len), VMDB_ERANGE, "u32: the text needs 5 bytes");
    cr_assert_eq(len, 5);
    ASSERT_FAILS(vmdb_record_format_text(a.s, a.rec, i, NULL, 0, &len), VMDB_ERANGE, "holds 0");
    cr_assert_eq(len, 5);
    ASSERT_OK(vmdb_record_format_text(a.s, a.rec, i, buf, 6, &len));
    cr_assert_str_eq(buf, "12345");
    /* The longest text of all: bytes4096. */
    vmdb_schema *s = parse("b:bytes4096");
    static unsigned char rec[4096];
    static char big[8195];
    ASSERT_FAILS(vmdb_record_format_text(s, rec, 0, big, 8194, &len), VMDB_ERANGE, "needs 8194");
    ASSERT_OK(vmdb_record_format_text(s, rec, 0, big, sizeof big, &len));
    cr_assert_eq(len, 8194);
    vmdb_schema_free(s);
    vmdb_schema_free(a.s);
}

Test(schema, record_calls_refuse_a_field_index_out_of_range)
{
    struct all a = all_types();
    size_t n = vmdb_schema_field_count(a.s);
    char buf[16];
    size_t len;
    int64_t v;
    const char *s;
    ASSERT_FAILS(vmdb_record_set_text(a.s, a.rec, n, "1"), VMDB_EINVAL, "field index 14 is out of range (14 fields)");
    ASSERT_FAILS(vmdb_record_format_text(a.s, a.rec, n, buf, sizeof buf, &len), VMDB_EINVAL, "field index 14");
    ASSERT_FAILS(vmdb_record_get_i64(a.s, a.rec, n, &v), VMDB_EINVAL, "field index 14");
    ASSERT_FAILS(vmdb_record_set_i64(a.s, a.rec, SIZE_MAX, 1), VMDB_EINVAL, "out of range");
    ASSERT_FAILS(vmdb_record_set_f64(a.s, a.rec, n, 1), VMDB_EINVAL, "out of range");
    ASSERT_FAILS(vmdb_record_get_str(a.s, a.rec, n, &s, &len), VMDB_EINVAL, "out of range");
    ASSERT_FAILS(vmdb_record_set_text(a.s, a.rec, 1, NULL), VMDB_EINVAL, "u8: no value");
    vmdb_schema_free(a.s);
}

/* ---- typed access --------------------------------------------------------------- */

Test(schema, typed_getters_convert_and_check_range)
{
    struct all a = all_types();
    int64_t i;
    uint64_t u;
    double d;
    ASSERT_OK(vmdb_record_set_text(a.s, a.rec, index_of(a.s, "u64"), "18446744073709551615"));
    ASSERT_FAILS(vmdb_record_get_i64(a.s, a.rec, index_of(a.s, "u64"), &i), VMDB_ERANGE,
                 "u64: value 18446744073709551615 does not fit i64");
    cr_assert_eq(i, 0);
    ASSERT_OK(vmdb_record_get_u64(a.s, a.rec, index_of(a.s, "u64"), &u));
    cr_assert_eq(u, UINT64_MAX);
    ASSERT_OK(vmdb_record_get_f64(a.s, a.rec, index_of(a.s, "u64"), &d));
    cr_assert_eq(d, 18446744073709551616.0);
    ASSERT_OK(vmdb_record_set_text(a.s, a.rec, index_of(a.s, "u64"), "9223372036854775807"));
    ASSERT_OK(vmdb_record_get_i64(a.s, a.rec, index_of(a.s, "u64"), &i));
    cr_assert_eq(i, INT64_MAX);

    ASSERT_OK(vmdb_record_set_text(a.s, a.rec, index_of(a.s, "i8"), "-128"));
    ASSERT_OK(vmdb_record_get_i64(a.s, a.rec, index_of(a.s, "i8"), &i));
    cr_assert_eq(i, -128);
    ASSERT_FAILS(vmdb_record_get_u64(a.s, a.rec, index_of(a.s, "i8"), &u), VMDB_ERANGE,
                 "i8: value -128 does not fit u64");
    ASSERT_OK(vmdb_record_get_f64(a.s, a.rec, index_of(a.s, "i8"), &d));
    cr_assert_eq(d, -128.0);
    ASSERT_OK(vmdb_record_set_text(a.s, a.rec, index_of(a.s, "i64"), "-9223372036854775808"));
    ASSERT_OK(vmdb_record_get_i64(a.s, a.rec, index_of(a.s, "i64"), &i));
    cr_assert_eq(i, INT64_MIN);
    ASSERT_OK(vmdb_record_set_text(a.s, a.rec, index_of(a.s, "u32"), "4294967295"));
    ASSERT_OK(vmdb_record_get_i64(a.s, a.rec, index_of(a.s, "u32"), &i));
    cr_assert_eq(i, 4294967295);

    ASSERT_OK(vmdb_record_set_text(a.s, a.rec, index_of(a.s, "flag"), "true"));
    ASSERT_OK(vmdb_record_get_i64(a.s, a.rec, index_of(a.s, "flag"), &i));
    cr_assert_eq(i, 1);
    ASSERT_OK(vmdb_record_set_text(a.s, a.rec, index_of(a.s, "f32"), "0.5"));
    ASSERT_OK(vmdb_record_get_f64(a.s, a.rec, index_of(a.s, "f32"), &d));
    cr_assert_eq(d, 0.5);
    ASSERT_FAILS(vmdb_record_get_i64(a.s, a.rec, index_of(a.s, "f32"), &i), VMDB_EINVAL,
                 "f32: f32 is not an integer");
    ASSERT_FAILS(vmdb_record_get_u64(a.s, a.rec, index_of(a.s, "name"), &u), VMDB_EINVAL,
                 "name: str32 is not an integer");
    ASSERT_FAILS(vmdb_record_get_f64(a.s, a.rec, index_of(a.s, "blob"), &d), VMDB_EINVAL,
                 "blob: bytes4 is not a number");
    vmdb_schema_free(a.s);
}

/* A typed set on field `name` fails with code and needle and changes
 * nothing. */
#define TYPED_SET_FAILS(a, call, code, needle)                                 \
    do {                                                                       \
        unsigned char before_[sizeof (a).rec];                                 \
        memcpy(before_, (a).rec, sizeof before_);                              \
        ASSERT_FAILS((call), (code), (needle));                                \
        cr_assert_eq(memcmp(before_, (a).rec, sizeof before_), 0);             \
    } while (0)

Test(schema, typed_setters_check_range_like_text)
{
    struct all a = all_types();
    size_t u8 = index_of(a.s, "u8"), i64 = index_of(a.s, "i64"), u64 = index_of(a.s, "u64");
    size_t f32 = index_of(a.s, "f32"), f64 = index_of(a.s, "f64"), flag = index_of(a.s, "flag");
    int64_t i;
    uint64_t u;
    double d;
    ASSERT_OK(vmdb_record_set_i64(a.s, a.rec, u8, 255));
    TYPED_SET_FAILS(a, vmdb_record_set_i64(a.s, a.rec, u8, 300), VMDB_ERANGE, "u8: value 300 does not fit u8");
    TYPED_SET_FAILS(a, vmdb_record_set_i64(a.s, a.rec, u8, -1), VMDB_ERANGE, "u8: value -1 does not fit u8");
    ASSERT_OK(vmdb_record_set_i64(a.s, a.rec, i64, INT64_MIN));
    ASSERT_OK(vmdb_record_get_i64(a.s, a.rec, i64, &i));
    cr_assert_eq(i, INT64_MIN);
    TYPED_SET_FAILS(a, vmdb_record_set_u64(a.s, a.rec, i64, UINT64_MAX), VMDB_ERANGE,
                    "i64: value 18446744073709551615 does not fit i64");
    ASSERT_OK(vmdb_record_set_u64(a.s, a.rec, u64, UINT64_MAX));
    ASSERT_OK(vmdb_record_get_u64(a.s, a.rec, u64, &u));
    cr_assert_eq(u, UINT64_MAX);
    TYPED_SET_FAILS(a, vmdb_record_set_i64(a.s, a.rec, u64, -5), VMDB_ERANGE, "u64: value -5 does not fit u64");
    ASSERT_OK(vmdb_record_set_i64(a.s, a.rec, flag, 1));
    TYPED_SET_FAILS(a, vmdb_record_set_i64(a.s, a.rec, flag, 2), VMDB_ERANGE, "flag: value 2 does not fit bool");

    /* Integers into floats take the nearest float. */
    ASSERT_OK(vmdb_record_set_i64(a.s, a.rec, f64, -3));
    ASSERT_OK(vmdb_record_get_f64(a.s, a.rec, f64, &d));
    cr_assert_eq(d, -3.0);
    ASSERT_OK(vmdb_record_set_u64(a.s, a.rec, f32, UINT64_MAX));
    ASSERT_OK(vmdb_record_get_f64(a.s, a.rec, f32, &d));
    cr_assert_eq(d, 18446744073709551616.0);

    /* Doubles into integers: whole values that fit. */
    ASSERT_OK(vmdb_record_set_f64(a.s, a.rec, u8, 255.0));
    ASSERT_OK(vmdb_record_get_i64(a.s, a.rec, u8, &i));
    cr_assert_eq(i, 255);
    TYPED_SET_FAILS(a, vmdb_record_set_f64(a.s, a.rec, u8, 256.0), VMDB_ERANGE, "u8: value 256 does not fit u8");
    TYPED_SET_FAILS(a, vmdb_record_set_f64(a.s, a.rec, u8, 1.5), VMDB_EINVAL, "u8: value 1.5 is not an integer");
    TYPED_SET_FAILS(a, vmdb_record_set_f64(a.s, a.rec, u8, NAN), VMDB_EINVAL, "u8: value nan is not an integer");
    TYPED_SET_FAILS(a, vmdb_record_set_f64(a.s, a.rec, u8, INFINITY), VMDB_ERANGE, "value inf does not fit u8");
    TYPED_SET_FAILS(a, vmdb_record_set_f64(a.s, a.rec, u64, 1e20), VMDB_ERANGE, "value 1e+20 does not fit u64");
    TYPED_SET_FAILS(a, vmdb_record_set_f64(a.s, a.rec, i64, -1e19), VMDB_ERANGE, "does not fit i64");
    ASSERT_OK(vmdb_record_set_f64(a.s, a.rec, i64, -9223372036854775808.0));
    ASSERT_OK(vmdb_record_get_i64(a.s, a.rec, i64, &i));
    cr_assert_eq(i, INT64_MIN);
    ASSERT_OK(vmdb_record_set_f64(a.s, a.rec, u64, 18446744073709549568.0)); /* the last double below 2^64 */
    ASSERT_OK(vmdb_record_get_u64(a.s, a.rec, u64, &u));
    cr_assert_eq(u, 18446744073709549568ull);
    ASSERT_OK(vmdb_record_set_f64(a.s, a.rec, flag, 0.0));
    TYPED_SET_FAILS(a, vmdb_record_set_f64(a.s, a.rec, flag, 0.5), VMDB_EINVAL, "flag: value 0.5 is not an integer");

    /* Doubles into f32: the boundary is FLT_MAX plus half an ulp. */
    ASSERT_OK(vmdb_record_set_f64(a.s, a.rec, f32, 0x1.fffffefffffffp127));
    ASSERT_OK(vmdb_record_get_f64(a.s, a.rec, f32, &d));
    cr_assert_eq(d, FLT_MAX);
    TYPED_SET_FAILS(a, vmdb_record_set_f64(a.s, a.rec, f32, 0x1.ffffffp127), VMDB_ERANGE, "does not fit f32");
    TYPED_SET_FAILS(a, vmdb_record_set_f64(a.s, a.rec, f32, -1e300), VMDB_ERANGE,
                    "f32: value -1e+300 does not fit f32");
    ASSERT_OK(vmdb_record_set_f64(a.s, a.rec, f32, -INFINITY));
    ASSERT_OK(vmdb_record_get_f64(a.s, a.rec, f32, &d));
    cr_assert(isinf(d) && d < 0);

    TYPED_SET_FAILS(a, vmdb_record_set_i64(a.s, a.rec, index_of(a.s, "name"), 1), VMDB_EINVAL,
                    "name: str32 is not a number");
    TYPED_SET_FAILS(a, vmdb_record_set_f64(a.s, a.rec, index_of(a.s, "blob"), 1), VMDB_EINVAL,
                    "blob: bytes4 is not a number");
    vmdb_schema_free(a.s);
}

Test(schema, get_str_points_into_the_record)
{
    struct all a = all_types();
    size_t name = index_of(a.s, "name"), blob = index_of(a.s, "blob");
    const char *s;
    size_t len;
    ASSERT_OK(vmdb_record_set_text(a.s, a.rec, name, "carol"));
    ASSERT_OK(vmdb_record_get_str(a.s, a.rec, name, &s, &len));
    cr_assert_eq(len, 5);
    cr_assert_eq((const void *)s, a.rec + vmdb_schema_field(a.s, name)->offset);
    cr_assert_eq(memcmp(s, "carol", 5), 0);
    ASSERT_OK(vmdb_record_set_text(a.s, a.rec, blob, "0x0100"));
    ASSERT_OK(vmdb_record_get_str(a.s, a.rec, blob, &s, &len));
    cr_assert_eq(len, 4, "bytes are always N long");
    cr_assert(s[0] == 1 && s[1] == 0);
    ASSERT_FAILS(vmdb_record_get_str(a.s, a.rec, index_of(a.s, "u32"), &s, &len), VMDB_EINVAL,
                 "u32: u32 is not str or bytes");
    cr_assert_null(s);
    cr_assert_eq(len, 0);
    vmdb_schema_free(a.s);
}

Test(schema, str_key_stops_at_the_first_nul)
{
    vmdb_schema *s = parse("id:str8 key, n:u32");
    unsigned char r1[16], r2[16];
    memset(r1, 0, sizeof r1);
    memset(r2, 0xff, sizeof r2);
    ASSERT_OK(vmdb_record_set_text(s, r1, 0, "bob"));
    ASSERT_OK(vmdb_record_set_text(s, r2, 0, "bob"));
    const void *k1, *k2;
    size_t l1, l2;
    ASSERT_OK(vmdb_record_key(s, r1, &k1, &l1));
    ASSERT_OK(vmdb_record_key(s, r2, &k2, &l2));
    cr_assert_eq(k1, (const void *)r1);
    cr_assert(l1 == 3 && l2 == 3);
    cr_assert_eq(memcmp(k1, k2, 3), 0);
    ASSERT_OK(vmdb_record_set_text(s, r1, 0, "12345678"));
    ASSERT_OK(vmdb_record_key(s, r1, &k1, &l1));
    cr_assert_eq(l1, 8, "a full str key has no NUL");
    vmdb_schema_free(s);

    s = parse("n:u32, id:u64 key");
    unsigned char rec[16] = {0};
    ASSERT_OK(vmdb_record_set_u64(s, rec, 1, 42));
    ASSERT_OK(vmdb_record_key(s, rec, &k1, &l1));
    cr_assert_eq(k1, (const void *)(rec + 8));
    cr_assert_eq(l1, 8);
    cr_assert_eq(*(const uint64_t *)k1, 42);
    vmdb_schema_free(s);
}

/* ---- the stored form --------------------------------------------------------- */

static unsigned char *encode(const vmdb_schema *s, size_t *len)
{
    unsigned char *buf = malloc(VMDB_SCHEMA_MAX_ENCODED);
    ASSERT_OK(vmdb__schema_encode(s, buf, VMDB_SCHEMA_MAX_ENCODED, len));
    cr_assert_eq(*len, vmdb__schema_encoded_len(s));
    cr_assert_leq(*len, vmdb__schema_encoded_max());
    return buf;
}

Test(schema, encoding_round_trips_every_schema)
{
    vmdb_schema *schemas[3];
    schemas[0] = parse("id:u64 key, name:str32, age:u32, score:f64");
    schemas[1] = parse("a:u8, b:u16, c:u32, d:u64, e:i8, f:i16, g:i32, h:i64, i:f32, j:f64 key, k:bool, "
                       "l:str4096, m:bytes4096");
    ASSERT_OK(vmdb_schema_new(item_fields, ITEM_FIELDS, sizeof(struct item), &schemas[2]));
    for (int i = 0; i < 3; i++) {
        size_t len;
        unsigned char *buf = encode(schemas[i], &len);
        cr_assert_eq(memcmp(buf, "VSCH\1\0", 6), 0);
        cr_assert_eq((size_t)(buf[6] | buf[7] << 8), len);
        /* Exactly the encoding, in a block of its own size, so ASan sees
         * any read past it. */
        unsigned char *exact = malloc(len);
        memcpy(exact, buf, len);
        vmdb_schema *back;
        ASSERT_OK(vmdb__schema_decode(exact, len, &back));
        ASSERT_OK(vmdb_schema_equal(schemas[i], back));
        ASSERT_OK(vmdb_schema_equal(back, schemas[i]));
        vmdb_schema_free(back);
        /* Bytes after the encoding belong to the caller. */
        memset(buf + len, 0xAB, VMDB_SCHEMA_MAX_ENCODED - len);
        ASSERT_OK(vmdb__schema_decode(buf, VMDB_SCHEMA_MAX_ENCODED, &back));
        ASSERT_OK(vmdb_schema_equal(schemas[i], back));
        vmdb_schema_free(back);
        free(exact);
        free(buf);
        vmdb_schema_free(schemas[i]);
    }
}

Test(schema, encode_needs_room_for_the_whole_encoding)
{
    vmdb_schema *s = parse("id:u64 key, name:str32");
    unsigned char buf[64];
    memset(buf, 0x5A, sizeof buf);
    size_t len = 0;
    /* 16 + (7 + 2) + (7 + 4) = 36 */
    ASSERT_FAILS(vmdb__schema_encode(s, buf, 35, &len), VMDB_ERANGE, "needs 36 bytes");
    cr_assert_eq(len, 36);
    cr_assert_eq(buf[0], 0x5A, "a failed encode writes nothing");
    ASSERT_OK(vmdb__schema_encode(s, buf, 36, &len));
    vmdb_schema_free(s);
}

/* decode of buf (len bytes, copied into a block of exactly that size)
 * fails with code and needle. */
static void decode_fails(const unsigned char *buf, size_t len, int code, const char *needle)
{
    unsigned char *exact = malloc(len ? len : 1);
    memcpy(exact, buf, len);
    vmdb_schema *s = (vmdb_schema *)1;
    ASSERT_FAILS(vmdb__schema_decode(exact, len, &s), code, needle);
    cr_assert_null(s);
    free(exact);
}

Test(schema, decode_refuses_every_truncation)
{
    vmdb_schema *s = parse("id:u64 key, name:str32, age:u32, score:f64, flags:bytes3");
    size_t len;
    unsigned char *buf = encode(s, &len);
    for (size_t cut = 0; cut < len; cut++)
        decode_fails(buf, cut, VMDB_ECORRUPT, "schema encoding: ");
    decode_fails(buf, 10, VMDB_ECORRUPT, "10 bytes, shorter than its 16-byte header");
    decode_fails(buf, len - 1, VMDB_ECORRUPT, "but only");
    free(buf);
    vmdb_schema_free(s);
}

/* The encoding of text with one byte changed fails with code and needle. */
static void damaged(const char *text, size_t at, unsigned char value, int code, const char *needle)
{
    vmdb_schema *s = parse(text);
    size_t len;
    unsigned char *buf = encode(s, &len);
    cr_assert_lt(at, len);
    buf[at] = value;
    decode_fails(buf, len, code, needle);
    free(buf);
    vmdb_schema_free(s);
}

static void decode_with(size_t at, unsigned char value, int code, const char *needle)
{
    damaged("id:u64 key, name:str32", at, value, code, needle);
}

Test(schema, decode_names_what_is_wrong)
{
    /* Header: magic 0..3, version 4..5, length 6..7, record size 8..11,
     * count 12..13, reserved 14..15; field 0 at 16, field 1 at 25. */
    decode_with(0, 'X', VMDB_ECORRUPT, "bad magic 58 53 43 48");
    decode_with(4, 2, VMDB_EVERSION, "version 2 is not supported");
    decode_with(6, 200, VMDB_ECORRUPT, "length 200, but only 36 bytes");
    decode_with(6, 3, VMDB_ECORRUPT, "length 3 is not in 24..2048");
    decode_with(7, 0x10, VMDB_ECORRUPT, "is not in 24..2048");
    decode_with(8, 39, VMDB_ECORRUPT, "field 'name' (offset 8, 32 bytes) ends past the record size 39");
    decode_with(10, 1, VMDB_ECORRUPT, "record size 65576 is not in 1..65536");
    decode_with(12, 0, VMDB_ECORRUPT, "field count 0 is not in 1..256");
    decode_with(12, 3, VMDB_ECORRUPT, "field 2 at byte 36 runs past the end");
    decode_with(12, 1, VMDB_ECORRUPT, "11 stray bytes after the last field");
    decode_with(14, 1, VMDB_ECORRUPT, "reserved bytes 14..15 are 0x0001");
    decode_with(16, 14, VMDB_ECORRUPT, "field 'id': unknown type 14");
    decode_with(16, VMDB_TYPE_U32, VMDB_ECORRUPT, "field 'id': size 8 does not match u32");
    decode_with(17, 3, VMDB_ECORRUPT, "field 0: unknown flag bits 0x02");
    decode_with(17, 0, VMDB_ECORRUPT, "no key field");
    decode_with(26, 1, VMDB_ECORRUPT, "two key fields, 'id' and 'name'");
    decode_with(27, 0, VMDB_ECORRUPT, "field 'name': str size 0 is less than 1");
    decode_with(29, 0, VMDB_ECORRUPT, "fields 'id' (bytes 0..7) and 'name' (bytes 0..31) overlap");
    decode_with(22, 0, VMDB_ECORRUPT, "fields[0]: '' is not a valid name");
    decode_with(22, 250, VMDB_ECORRUPT, "field 0 at byte 16 runs past the end (36 bytes)");
    decode_with(22, 3, VMDB_ECORRUPT, "fields[0]: 'id\\x0c' is not a valid name");
    decode_with(31, 2, VMDB_ECORRUPT, "2 stray bytes after the last field");
    decode_with(23, '1', VMDB_ECORRUPT, "fields[0]: '1d' is not a valid name");
    decode_with(24, 0, VMDB_ECORRUPT, "fields[0]: 'i\\x00' is not a valid name");
    damaged("ab:u8 key, ac:u8", 33, 'b', VMDB_ECORRUPT, "schema encoding: duplicate field 'ab'");
}


static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Random damage never crashes or reads past the buffer: decode either
 * fails cleanly or yields a schema that is valid in every respect, whose
 * own encoding is exactly the damaged bytes (the encoding is canonical). */
Test(schema, decode_survives_random_byte_flips)
{
    uint64_t rng = test_seed(20240611);
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_new(item_fields, ITEM_FIELDS, sizeof(struct item), &s));
    size_t len;
    unsigned char *good = encode(s, &len);
    unsigned char *bad = malloc(len);
    int decoded = 0;
    for (int round = 0; round < 50000; round++) {
        memcpy(bad, good, len);
        int flips = 1 + (int)(splitmix(&rng) % 3);
        for (int i = 0; i < flips; i++) {
            uint64_t r = splitmix(&rng);
            /* Half the time a single bit, else a whole random byte. */
            if (r & 1)
                bad[(r >> 8) % len] ^= (unsigned char)(1u << ((r >> 4) & 7));
            else
                bad[(r >> 8) % len] = (unsigned char)(r >> 40);
        }
        vmdb_schema *out = (vmdb_schema *)1;
        vmdb_error_clear();
        int rc = vmdb__schema_decode(bad, len, &out);
        if (rc != 0) {
            cr_assert(rc == VMDB_ECORRUPT || rc == VMDB_EVERSION, "round %d: %s", round, vmdb_error_name(rc));
            cr_assert_null(out);
            cr_assert_eq(strncmp(vmdb_last_error()->message, "schema encoding: ", 17), 0, "round %d: %s", round,
                         vmdb_last_error()->message);
            continue;
        }
        decoded++;
        vmdb_field f[VMDB_SCHEMA_MAX_FIELDS];
        size_t n = vmdb_schema_field_count(out);
        for (size_t i = 0; i < n; i++)
            f[i] = *vmdb_schema_field(out, i);
        vmdb_schema *check;
        ASSERT_OK(vmdb_schema_new(f, n, vmdb_schema_record_size(out), &check));
        vmdb_schema_free(check);
        unsigned char again[VMDB_SCHEMA_MAX_ENCODED];
        size_t again_len;
        ASSERT_OK(vmdb__schema_encode(out, again, sizeof again, &again_len));
        cr_assert(again_len <= len && memcmp(again, bad, again_len) == 0, "round %d: not canonical", round);
        vmdb_schema_free(out);
    }
    cr_log_info("%d of 50000 damaged encodings were still valid schemas", decoded);
    free(bad);
    free(good);
    vmdb_schema_free(s);
}
