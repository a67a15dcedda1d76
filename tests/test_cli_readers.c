/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cli_readers.c - the CSV and JSON-lines readers of `vmdb
 * import`, fed from memory (fmemopen) or from files built to straddle the
 * readers' buffers.
 */
#include "helpers.h"

#include "csv.h"
#include "jsonl.h"

TestSuite(cli_readers, .timeout = SUITE_TIMEOUT);

/* ---- CSV ---------------------------------------------------------------- */

typedef struct csv_fixture {
    FILE *in;
    csv_reader *r;
} csv_fixture;

static csv_fixture csv_over(const char *text, size_t len)
{
    csv_fixture f;
    /* fmemopen of zero bytes is refused by some libcs: give it a byte and
     * read none of it. */
    f.in = len ? fmemopen((void *)text, len, "r") : fopen("/dev/null", "r");
    cr_assert_not_null(f.in);
    f.r = csv_reader_new(f.in, "people.csv");
    cr_assert_not_null(f.r);
    return f;
}

static void csv_done(csv_fixture *f)
{
    csv_reader_free(f->r);
    fclose(f->in);
}

/* Reads one record and asserts its fields are `want` (count of them). */
static void expect_record(csv_reader *r, uint64_t line, size_t count, const char *const *want)
{
    int rc = csv_read(r);
    cr_assert_eq(rc, 1, "csv_read -> %d: %s", rc, rc < 0 ? csv_reader_error(r) : "");
    cr_assert_eq(csv_field_count(r), count, "line %llu: %zu fields", (unsigned long long)line,
                 csv_field_count(r));
    cr_assert_eq(csv_record_line(r), line, "record at line %llu, expected %llu",
                 (unsigned long long)csv_record_line(r), (unsigned long long)line);
    for (size_t i = 0; i < count; i++) {
        size_t len;
        const char *got = csv_field(r, i, &len);
        cr_assert_eq(len, strlen(want[i]), "field %zu: '%s' (%zu bytes), expected '%s'", i, got,
                     len, want[i]);
        cr_assert_eq(memcmp(got, want[i], len), 0, "field %zu: '%s', expected '%s'", i, got,
                     want[i]);
        cr_assert_eq(got[len], '\0');
    }
}

#define EXPECT(r, line, ...)                                                   \
    do {                                                                       \
        const char *const want_[] = {__VA_ARGS__};                             \
        expect_record((r), (line), sizeof want_ / sizeof want_[0], want_);     \
    } while (0)

static void expect_csv_error(const char *text, const char *needle)
{
    csv_fixture f = csv_over(text, strlen(text));
    int rc;
    while ((rc = csv_read(f.r)) == 1)
        ;
    cr_assert_eq(rc, -1, "no error for:\n%s", text);
    cr_assert(strstr(csv_reader_error(f.r), needle) != NULL, "message \"%s\" lacks \"%s\"",
              csv_reader_error(f.r), needle);
    csv_done(&f);
}

Test(cli_readers, csv_plain_records_with_lf)
{
    const char *text = "id,name,age\n1,Ada,36\n2,Grace,45\n";
    csv_fixture f = csv_over(text, strlen(text));
    EXPECT(f.r, 1, "id", "name", "age");
    EXPECT(f.r, 2, "1", "Ada", "36");
    EXPECT(f.r, 3, "2", "Grace", "45");
    cr_assert_eq(csv_read(f.r), 0);
    cr_assert_eq(csv_read(f.r), 0, "the end stays the end");
    cr_assert_eq(csv_bytes_read(f.r), strlen(text));
    csv_done(&f);
}

Test(cli_readers, csv_crlf_and_missing_final_newline)
{
    const char *text = "id,name\r\n1,Ada\r\n2,Grace";
    csv_fixture f = csv_over(text, strlen(text));
    EXPECT(f.r, 1, "id", "name");
    EXPECT(f.r, 2, "1", "Ada");
    EXPECT(f.r, 3, "2", "Grace");
    cr_assert_eq(csv_read(f.r), 0);
    csv_done(&f);
}

Test(cli_readers, csv_quoted_fields_hold_commas_quotes_and_newlines)
{
    const char *text = "a,b,c\n"
                       "\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n"
                       "\"\",\"crlf\r\ninside\",\"\"\"\"\r\n"
                       "last,\"\",\"3\n\n\"\n";
    csv_fixture f = csv_over(text, strlen(text));
    EXPECT(f.r, 1, "a", "b", "c");
    EXPECT(f.r, 2, "x, y", "say \"hi\"", "two\nlines");
    /* The record above spanned two lines, so this one starts at line 4. */
    EXPECT(f.r, 4, "", "crlf\r\ninside", "\"");
    EXPECT(f.r, 6, "last", "", "3\n\n");
    cr_assert_eq(csv_read(f.r), 0);
    csv_done(&f);
}

Test(cli_readers, csv_empty_fields_and_trailing_comma)
{
    const char *text = "a,b,c\n,,\n1,,\nx,y,\n";
    csv_fixture f = csv_over(text, strlen(text));
    EXPECT(f.r, 1, "a", "b", "c");
    EXPECT(f.r, 2, "", "", "");
    EXPECT(f.r, 3, "1", "", "");
    EXPECT(f.r, 4, "x", "y", "");
    cr_assert_eq(csv_read(f.r), 0);
    csv_done(&f);
}

Test(cli_readers, csv_blank_lines_are_skipped_but_counted)
{
    const char *text = "\na,b\n\n1,2\r\n\r\n\n3,4\n\n";
    csv_fixture f = csv_over(text, strlen(text));
    EXPECT(f.r, 2, "a", "b");
    EXPECT(f.r, 4, "1", "2");
    EXPECT(f.r, 7, "3", "4");
    cr_assert_eq(csv_read(f.r), 0);
    csv_done(&f);
}

Test(cli_readers, csv_blank_line_is_an_empty_field_when_records_have_one)
{
    const char *text = "name\nAda\n\n\"\"\nGrace\n";
    csv_fixture f = csv_over(text, strlen(text));
    EXPECT(f.r, 1, "name");
    EXPECT(f.r, 2, "Ada");
    EXPECT(f.r, 3, "");
    EXPECT(f.r, 4, "");
    EXPECT(f.r, 5, "Grace");
    cr_assert_eq(csv_read(f.r), 0);
    csv_done(&f);
}

Test(cli_readers, csv_byte_order_mark_is_skipped)
{
    const char *text = "\xEF\xBB\xBFid,name\n1,\xC3\xA9t\xC3\xA9\n";
    csv_fixture f = csv_over(text, strlen(text));
    EXPECT(f.r, 1, "id", "name");
    EXPECT(f.r, 2, "1", "\xC3\xA9t\xC3\xA9");
    csv_done(&f);
}

Test(cli_readers, csv_quote_inside_unquoted_field_and_lone_cr_are_data)
{
    const char *text = "h,w\n5'10\",a\rb\n";
    csv_fixture f = csv_over(text, strlen(text));
    EXPECT(f.r, 1, "h", "w");
    EXPECT(f.r, 2, "5'10\"", "a\rb");
    cr_assert_eq(csv_read(f.r), 0);
    csv_done(&f);
}

Test(cli_readers, csv_spaces_are_kept)
{
    /* Spaces belong to an unquoted field, and a field that starts with a
     * space is unquoted even if a quote follows. */
    const char *text = "a,b\n  x , \" y \" \n";
    csv_fixture f = csv_over(text, strlen(text));
    EXPECT(f.r, 1, "a", "b");
    EXPECT(f.r, 2, "  x ", " \" y \" ");
    csv_done(&f);

    text = "a,b\n  x ,\" y \"\n";
    f = csv_over(text, strlen(text));
    EXPECT(f.r, 1, "a", "b");
    EXPECT(f.r, 2, "  x ", " y ");
    csv_done(&f);

    /* After a closing quote they are junk: RFC 4180 has no room for them. */
    expect_csv_error("a,b\n\"x\" ,y\n",
                     "people.csv:2: ' ' after the closing quote of field 1 (expected ',' or the "
                     "end of the line)");
}

Test(cli_readers, csv_nul_byte_is_data)
{
    const char text[] = "a,b\nx\0y,z\n";
    csv_fixture f = csv_over(text, sizeof text - 1);
    EXPECT(f.r, 1, "a", "b");
    cr_assert_eq(csv_read(f.r), 1);
    size_t len;
    const char *got = csv_field(f.r, 0, &len);
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(got, "x\0y", 3), 0);
    csv_done(&f);
}

Test(cli_readers, csv_empty_input_has_no_records)
{
    csv_fixture f = csv_over("", 0);
    cr_assert_eq(csv_read(f.r), 0);
    csv_done(&f);
}

Test(cli_readers, csv_stdin_is_named_stdin)
{
    const char *text = "a\n\"x";
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    csv_reader *r = csv_reader_new(in, "-");
    cr_assert_str_eq(csv_name(r), "stdin");
    cr_assert_eq(csv_read(r), 1);
    cr_assert_eq(csv_read(r), -1);
    cr_assert_str_eq(csv_reader_error(r), "stdin:2: quoted field 1 never ends (its quote opens here)");
    csv_reader_free(r);
    fclose(in);
}

Test(cli_readers, csv_unterminated_quote_names_the_line_where_it_opens)
{
    expect_csv_error("a,b\n1,2\n3,\"open\nmore\nstill\n",
                     "people.csv:3: quoted field 2 never ends (its quote opens here)");
    expect_csv_error("a\n\"", "people.csv:2: quoted field 1 never ends");
}

Test(cli_readers, csv_junk_after_closing_quote_is_an_error)
{
    expect_csv_error("a,b\n\"x\"y,2\n",
                     "people.csv:2: 'y' after the closing quote of field 1 (expected ',' or the "
                     "end of the line)");
    expect_csv_error("a,b\n1,\"two\nlines\"\"\"!\n",
                     "people.csv:3: '!' after the closing quote of field 2");
    /* A CR after a closing quote must be the start of CRLF. */
    expect_csv_error("a,b\n1,\"x\"\rz\n", "people.csv:2: 0x0d after the closing quote of field 2");
}

Test(cli_readers, csv_wrong_field_count_names_the_line)
{
    expect_csv_error("id,name,age\n1,Ada,36\n2,Grace\n",
                     "people.csv:3: 2 fields, but the first row has 3");
    expect_csv_error("id,name,age\n1,Ada,36\n\"2\n\",Grace,45,extra\n",
                     "people.csv:3: 4 fields, but the first row has 3");
    expect_csv_error("id,name\n1,Ada\nlonely\n", "people.csv:3: 1 field, but the first row has 2");
}

Test(cli_readers, csv_record_longer_than_the_limit_is_an_error)
{
    size_t len = CSV_MAX_RECORD + 64;
    char *text = malloc(len + 1);
    memcpy(text, "a\n\"", 3);
    memset(text + 3, 'x', len - 3);
    text[len] = '\0';
    expect_csv_error(text, "people.csv:2: record longer than 1048576 bytes");
    free(text);
}

/* The reader looks one byte ahead after a quote and after a CR. Slide a
 * segment holding every such case across the boundary of its 64 KiB read
 * buffer, one byte at a time, so that each look-ahead meets a refill. */
Test(cli_readers, csv_lookahead_across_the_read_buffer_boundary)
{
    static const char segment[] = "2,\"q\"\"x\"\r\n\"y\",a\rb\r\n4,z\r\n\"e\",\"\"\n";
    size_t seg_len = sizeof segment - 1;
    size_t cap = 65536 + 2 * seg_len + 64;
    char *text = malloc(cap);
    for (size_t shift = 0; shift <= seg_len; shift++) {
        /* "n,text\r\n1,AAA...\r\n" ends seg_len - shift bytes before the
         * boundary, so segment byte k lands at 65536 - seg_len + shift + k. */
        size_t pad = 65536 - seg_len + shift - strlen("n,text\r\n1,\r\n");
        size_t n = 0;
        n += (size_t)sprintf(text + n, "n,text\r\n1,");
        memset(text + n, 'A', pad);
        n += pad;
        n += (size_t)sprintf(text + n, "\r\n%s", segment);
        FILE *in = fmemopen(text, n, "r");
        csv_reader *r = csv_reader_new(in, "people.csv");
        EXPECT(r, 1, "n", "text");
        cr_assert_eq(csv_read(r), 1);
        size_t len;
        csv_field(r, 1, &len);
        cr_assert_eq(len, pad);
        EXPECT(r, 3, "2", "q\"x");
        EXPECT(r, 4, "y", "a\rb");
        EXPECT(r, 5, "4", "z");
        EXPECT(r, 6, "e", "");
        cr_assert_eq(csv_read(r), 0);
        cr_assert_eq(csv_bytes_read(r), n);
        csv_reader_free(r);
        fclose(in);
    }
    free(text);
}

Test(cli_readers, csv_delimiter_set_separates_fields_and_a_comma_is_data)
{
    const char *text = "a;b\tc;\"d;e\"\r\n1,5;\"x\"\"\";\n";
    csv_fixture f = csv_over(text, strlen(text));
    csv_set_delimiter(f.r, ';');
    EXPECT(f.r, 1, "a", "b\tc", "d;e");
    EXPECT(f.r, 2, "1,5", "x\"", "");
    cr_assert_eq(csv_read(f.r), 0);
    csv_done(&f);

    text = "a\tb\n\"1\"\t2\n\"3\",4\n";
    f = csv_over(text, strlen(text));
    csv_set_delimiter(f.r, '\t');
    EXPECT(f.r, 1, "a", "b");
    EXPECT(f.r, 2, "1", "2");
    cr_assert_eq(csv_read(f.r), -1);
    cr_assert_str_eq(csv_reader_error(f.r), "people.csv:3: ',' after the closing quote of field 1 "
                                            "(expected 0x09 or the end of the line)");
    csv_done(&f);
}

/* An empty field at the very end of the input (no line ending after it)
 * appends no byte, yet takes a NUL: with the fields before it filling the
 * reader's buffer exactly, that NUL once went one byte past it (found by
 * libFuzzer: 255 zeros and a comma). Every length up to a few doublings of
 * the buffer puts the boundary under it once; ASan sees the stray byte. */
Test(cli_readers, csv_empty_last_field_at_the_end_of_the_input_stays_in_bounds)
{
    enum { LONGEST = 2100 };
    char *text = malloc(LONGEST + 2);
    for (size_t len = 0; len <= LONGEST; len++) {
        memset(text, '0', len);
        text[len] = ',';
        csv_fixture f = csv_over(text, len + 1);
        cr_assert_eq(csv_read(f.r), 1, "%zu zeros and a comma: %s", len, csv_reader_error(f.r));
        cr_assert_eq(csv_field_count(f.r), 2);
        size_t first, last;
        csv_field(f.r, 0, &first);
        const char *empty = csv_field(f.r, 1, &last);
        cr_assert(first == len && last == 0 && empty[0] == '\0', "%zu zeros and a comma", len);
        cr_assert_eq(csv_read(f.r), 0);
        csv_done(&f);
    }
    /* Many empty fields, the last one at the end of the input. */
    memset(text, ',', LONGEST);
    csv_fixture f = csv_over(text, LONGEST);
    cr_assert_eq(csv_read(f.r), 1, "%s", csv_reader_error(f.r));
    cr_assert_eq(csv_field_count(f.r), LONGEST + 1);
    csv_done(&f);
    free(text);
}

/* ---- JSON lines --------------------------------------------------------- */

typedef struct jsonl_fixture {
    FILE *in;
    jsonl_reader *r;
} jsonl_fixture;

static jsonl_fixture jsonl_over(const char *text)
{
    jsonl_fixture f;
    f.in = fmemopen((void *)text, strlen(text), "r");
    cr_assert_not_null(f.in);
    f.r = jsonl_reader_new(f.in, "people.json");
    cr_assert_not_null(f.r);
    return f;
}

static void jsonl_done(jsonl_fixture *f)
{
    jsonl_reader_free(f->r);
    fclose(f->in);
}

static void expect_member(jsonl_reader *r, size_t i, const char *name, const char *value,
                          size_t value_len, enum jsonl_kind kind)
{
    cr_assert_lt(i, jsonl_member_count(r));
    const jsonl_member *m = jsonl_member_at(r, i);
    cr_assert_eq(m->name_len, strlen(name));
    cr_assert_str_eq(m->name, name);
    cr_assert_eq(m->value_len, value_len, "%s: %zu bytes, expected %zu", name, m->value_len,
                 value_len);
    cr_assert_eq(memcmp(m->value, value, value_len), 0, "%s: '%s', expected '%s'", name,
                 m->value, value);
    cr_assert_eq(m->value[value_len], '\0');
    cr_assert_eq(m->kind, kind, "%s: kind %d, expected %d", name, m->kind, kind);
}

#define MEMBER(r, i, name, value, kind) expect_member((r), (i), (name), (value), strlen(value), (kind))

static void expect_jsonl_error(const char *text, const char *message)
{
    jsonl_fixture f = jsonl_over(text);
    int rc;
    while ((rc = jsonl_read(f.r)) == 1)
        ;
    cr_assert_eq(rc, -1, "no error for: %s", text);
    cr_assert_str_eq(jsonl_reader_error(f.r), message, "for: %s\ngot:      %s\nexpected: %s", text,
                     jsonl_reader_error(f.r), message);
    jsonl_done(&f);
}

Test(cli_readers, jsonl_objects_give_members_in_order)
{
    const char *text = "{\"id\": 1, \"name\": \"Ada\", \"score\": -0.5e-3, \"ok\": true}\n"
                       "{\"ok\":false,\"id\":18446744073709551615}\n";
    jsonl_fixture f = jsonl_over(text);
    cr_assert_eq(jsonl_read(f.r), 1);
    cr_assert_eq(jsonl_line(f.r), 1);
    cr_assert_eq(jsonl_member_count(f.r), 4);
    MEMBER(f.r, 0, "id", "1", JSONL_NUMBER);
    MEMBER(f.r, 1, "name", "Ada", JSONL_STRING);
    MEMBER(f.r, 2, "score", "-0.5e-3", JSONL_NUMBER);
    MEMBER(f.r, 3, "ok", "true", JSONL_BOOL);
    cr_assert_eq(jsonl_member_at(f.r, 1)->column, 19);
    cr_assert_eq(jsonl_read(f.r), 1);
    cr_assert_eq(jsonl_line(f.r), 2);
    cr_assert_eq(jsonl_member_count(f.r), 2);
    MEMBER(f.r, 0, "ok", "false", JSONL_BOOL);
    MEMBER(f.r, 1, "id", "18446744073709551615", JSONL_NUMBER);
    cr_assert_eq(jsonl_read(f.r), 0);
    cr_assert_eq(jsonl_bytes_read(f.r), strlen(text));
    jsonl_done(&f);
}

Test(cli_readers, jsonl_blank_lines_crlf_and_empty_objects)
{
    const char *text = "\n  \t\r\n{}\r\n\n { \"a\" : \"x\" } \r\n{\"b\":2}";
    jsonl_fixture f = jsonl_over(text);
    cr_assert_eq(jsonl_read(f.r), 1);
    cr_assert_eq(jsonl_line(f.r), 3);
    cr_assert_eq(jsonl_member_count(f.r), 0);
    cr_assert_eq(jsonl_read(f.r), 1);
    cr_assert_eq(jsonl_line(f.r), 5);
    MEMBER(f.r, 0, "a", "x", JSONL_STRING);
    cr_assert_eq(jsonl_read(f.r), 1);
    cr_assert_eq(jsonl_line(f.r), 6);
    MEMBER(f.r, 0, "b", "2", JSONL_NUMBER);
    cr_assert_eq(jsonl_read(f.r), 0);
    jsonl_done(&f);
}

Test(cli_readers, jsonl_string_escapes_decode_to_utf8)
{
    const char *text = "{\"s\": \"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\", "
                       "\"u\": \"\\u00e9\\u20AC\\uD83D\\uDE00\\u0041\", "
                       "\"raw\": \"\xC3\xA9t\xC3\xA9\", \"esc\\u0061ped name\": \"\"}\n";
    jsonl_fixture f = jsonl_over(text);
    cr_assert_eq(jsonl_read(f.r), 1, "%s", jsonl_reader_error(f.r));
    MEMBER(f.r, 0, "s", "q\" b\\ s/ \b\f\n\r\t", JSONL_STRING);
    MEMBER(f.r, 1, "u", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80" "A", JSONL_STRING);
    MEMBER(f.r, 2, "raw", "\xC3\xA9t\xC3\xA9", JSONL_STRING);
    MEMBER(f.r, 3, "escaped name", "", JSONL_STRING);
    jsonl_done(&f);
}

Test(cli_readers, jsonl_u0000_decodes_to_a_nul_byte)
{
    jsonl_fixture f = jsonl_over("{\"s\": \"a\\u0000b\"}\n");
    cr_assert_eq(jsonl_read(f.r), 1);
    expect_member(f.r, 0, "s", "a\0b", 3, JSONL_STRING);
    jsonl_done(&f);
}

Test(cli_readers, jsonl_many_members_and_long_strings)
{
    /* More members than the reader starts with room for, and a value
     * longer than its first buffer. */
    char text[8192];
    size_t n = 0;
    n += (size_t)snprintf(text + n, sizeof text - n, "{");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s\"f%d\":%d", i ? "," : "", i, i * 7);
    n += (size_t)snprintf(text + n, sizeof text - n, ",\"long\":\"");
    for (int i = 0; i < 3000; i++)
        text[n++] = (char)('a' + i % 26);
    n += (size_t)snprintf(text + n, sizeof text - n, "\"}\n");
    jsonl_fixture f = jsonl_over(text);
    cr_assert_eq(jsonl_read(f.r), 1, "%s", jsonl_reader_error(f.r));
    cr_assert_eq(jsonl_member_count(f.r), 41);
    MEMBER(f.r, 39, "f39", "273", JSONL_NUMBER);
    const jsonl_member *m = jsonl_member_at(f.r, 40);
    cr_assert_eq(m->value_len, 3000);
    cr_assert_eq(m->value[2999], 'a' + 2999 % 26);
    jsonl_done(&f);
}

/* The JSON reader's twin of csv_empty_last_field_at_the_end_of_the_input_
 * stays_in_bounds: an empty string ending the input, its NUL after names
 * of every length that fill the buffer up to it. */
Test(cli_readers, jsonl_empty_last_value_at_the_end_of_the_input_stays_in_bounds)
{
    enum { LONGEST = 1100 };
    char *text = malloc(LONGEST + 16);
    for (size_t len = 1; len <= LONGEST; len++) {
        size_t n = 0;
        text[n++] = '{';
        text[n++] = '"';
        memset(text + n, 'n', len);
        n += len;
        memcpy(text + n, "\":\"\"}", 6);
        n += 6;
        text[n] = '\0';
        jsonl_fixture f = jsonl_over(text);
        cr_assert_eq(jsonl_read(f.r), 1, "a name of %zu bytes: %s", len, jsonl_reader_error(f.r));
        const jsonl_member *m = jsonl_member_at(f.r, 0);
        cr_assert(m->name_len == len && m->value_len == 0 && m->value[0] == '\0',
                  "a name of %zu bytes", len);
        cr_assert_eq(jsonl_read(f.r), 0);
        jsonl_done(&f);
    }
    free(text);
}

Test(cli_readers, jsonl_stdin_is_named_stdin)
{
    const char *text = "{}\n[]\n";
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    jsonl_reader *r = jsonl_reader_new(in, "-");
    cr_assert_str_eq(jsonl_name(r), "stdin");
    cr_assert_eq(jsonl_read(r), 1);
    cr_assert_eq(jsonl_read(r), -1);
    cr_assert_str_eq(jsonl_reader_error(r),
                     "stdin:2:1: '[' where an object should start ('{'; one object per line)");
    jsonl_reader_free(r);
    fclose(in);
}

Test(cli_readers, jsonl_malformed_lines_name_line_and_column)
{
    /* Each case: the text, then the whole message. */
    static const char *const cases[][2] = {
        {"{}\n\"id\"\n", "people.json:2:1: '\"' where an object should start ('{'; one object per line)"},
        {"{\"id\": null}\n", "people.json:1:8: null is not a value: vmdb fields are never null (leave the field out for zero)"},
        {"{\"id\": [1]}\n", "people.json:1:8: array: arrays and objects are not field values"},
        {"{\"id\": {\"a\": 1}}\n", "people.json:1:8: object: arrays and objects are not field values"},
        {"{\"id\": tru}\n", "people.json:1:8: 't' where a value should be (a string, number, true or false)"},
        {"{\"id\": truex}\n", "people.json:1:8: 't' where a value should be (a string, number, true or false)"},
        {"{\"id\": 'x'}\n", "people.json:1:8: byte 0x27 where a value should be (a string, number, true or false)"},
        {"{\"id\": }\n", "people.json:1:8: '}' where a value should be (a string, number, true or false)"},
        {"{\"id\" 1}\n", "people.json:1:7: '1' where ':' should be"},
        {"{\"id\": 1 \"x\": 2}\n", "people.json:1:10: '\"' where ',' or '}' should be"},
        {"{\"id\": 1,}\n", "people.json:1:10: '}' where a field name in double quotes should be"},
        {"{id: 1}\n", "people.json:1:2: 'i' where a field name in double quotes should be"},
        {"{\"id\": 1\n", "people.json:1:9: the end of the line where ',' or '}' should be"},
        {"{\"id\": 1} x\n", "people.json:1:11: 'x' after the object (one object per line)"},
        {"{\"id\": 1}{}\n", "people.json:1:10: '{' after the object (one object per line)"},
        {"{\"a\": \"open\n", "people.json:1:7: string never ends on its line"},
        {"{\"a\": \"open\r\n", "people.json:1:7: string never ends on its line"},
        {"{\"a\": \"tab\there\"}\n", "people.json:1:11: control character 0x09 in a string (escape it)"},
        {"{\"a\": \"\\x41\"}\n", "people.json:1:8: unknown escape '\\x'"},
        {"{\"a\": \"\\\n", "people.json:1:8: '\\' followed by the end of the line, not an escape"},
        {"{\"a\": \"\\u12G4\"}\n", "people.json:1:12: 'G' in a \\u escape (4 hex digits expected)"},
        {"{\"a\": \"x\\uDE00\"}\n", "people.json:1:9: \\uDE00 is a low surrogate without a high one before it"},
        {"{\"a\": \"\\uD83Dx\"}\n", "people.json:1:8: \\uD83D is a high surrogate without a low one after it"},
        {"{\"a\": \"\\uD83D\\u0041\"}\n", "people.json:1:8: \\uD83D is a high surrogate followed by \\u0041, not a low one"},
        {"{\"a\": 01}\n", "people.json:1:7: a number may not have a leading zero"},
        {"{\"a\": -}\n", "people.json:1:8: '}' where a digit should be"},
        {"{\"a\": 1.}\n", "people.json:1:9: '}' where a digit of the fraction should be"},
        {"{\"a\": 1e+}\n", "people.json:1:10: '}' where a digit of the exponent should be"},
        {"{\"a\": +1}\n", "people.json:1:7: '+' where a value should be (a string, number, true or false)"},
        {"{\"a\": 1}\n{\"b\": 2}\n\n{\"c\" 3}\n", "people.json:4:6: '3' where ':' should be"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_jsonl_error(cases[i][0], cases[i][1]);
}
