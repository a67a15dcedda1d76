/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cli_io.c - `vmdb import` and `vmdb export`, run as a black
 * box. Databases are set up and checked through the C API, so these tests
 * lean on no other command.
 */
/* Before any header: the pseudo-terminal calls are X/Open ones, and
 * cli_helpers.h includes a system header before helpers.h asks for them. */
#define _GNU_SOURCE
#include "cli_helpers.h"

#include <poll.h>
#include <signal.h>
#include <stdarg.h>

TestSuite(cli_io, .timeout = SUITE_TIMEOUT);

#define PEOPLE "id:u64 key, name:str32, city:str24, age:u8, score:f64"

/* Creates the database `name` in the test's directory with one table and
 * returns its path (static storage, one per name slot). */
static const char *make_db(const char *name, const char *table, const char *schema_text)
{
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s", test_path(name));
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_OK(vmdb_open(path, &o, &db));
    vmdb_schema *schema;
    ASSERT_OK(vmdb_schema_parse(schema_text, &schema));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, table, schema, &t));
    vmdb_schema_free(schema);
    vmdb_close(db);
    return path;
}

/* Writes `text` to a new file `name` in the test's directory and returns
 * its path (static storage, one per name slot). */
static const char *make_file(const char *name, const char *text)
{
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s", test_path(name));
    write_file(path, text, strlen(text));
    return path;
}

/* Live records in the table. */
static uint64_t count_records(const char *db_path, const char *table)
{
    vmdb_db *db;
    ASSERT_OK(vmdb_open(db_path, NULL, &db));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, table, NULL, &t));
    vmdb_table_info info;
    ASSERT_OK(vmdb_table_stat(t, &info));
    vmdb_close(db);
    return info.records;
}

/* The record with key `key` as its fields' text joined by '|', or "(none)". */
static const char *row(const char *db_path, const char *table, const char *key)
{
    static char text[8192];
    vmdb_db *db;
    ASSERT_OK(vmdb_open(db_path, NULL, &db));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, table, NULL, &t));
    const vmdb_schema *s = vmdb_table_schema(t);
    unsigned char probe[1024] = {0}, rec[1024];
    cr_assert_leq(vmdb_schema_record_size(s), sizeof rec);
    ASSERT_OK(vmdb_record_set_text(s, probe, vmdb_schema_key(s), key));
    const void *k;
    size_t klen;
    vmdb_record_key(s, probe, &k, &klen);
    if (vmdb_table_get(t, k, klen, rec, NULL) != 0) {
        vmdb_close(db);
        return "(none)";
    }
    size_t n = 0;
    for (size_t i = 0; i < vmdb_schema_field_count(s); i++) {
        size_t len;
        if (i)
            text[n++] = '|';
        ASSERT_OK(vmdb_record_format_text(s, rec, i, text + n, sizeof text - n, &len));
        n += len;
    }
    vmdb_close(db);
    return text;
}

static cli_result *runf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cli_result *runf(const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return run_cli(args);
}

#define ASSERT_STATUS(res, want)                                               \
    cr_assert_eq((res)->status, (want), "exit %d, expected %d\nstdout: %s\nstderr: %s", \
                 (res)->status, (want), (res)->out, (res)->err)

/* ---- import ------------------------------------------------------------- */

Test(cli_io, import_csv_puts_rows_and_zeroes_fields_not_in_the_header)
{
    const char *db = make_db("db", "people", PEOPLE);
    const char *csv = make_file("people.csv", "age,id,name\r\n"
                                              "36,1,Ada\r\n"
                                              "45,2,\"Hopper, Grace\"\r\n"
                                              "0,18446744073709551615,\"say \"\"hi\"\"\nthere\"\r\n");
    cli_result *res = runf("import '%s' people '%s'", db, csv);
    ASSERT_STATUS(res, 0);
    ASSERT_CONTAINS(res->out, "imported 3 rows into people in ");
    cr_assert_str_eq(res->err, "", "no progress line when stderr is not a terminal");
    cr_assert_str_eq(row(db, "people", "1"), "1|Ada||36|0");
    cr_assert_str_eq(row(db, "people", "2"), "2|Hopper, Grace||45|0");
    cr_assert_str_eq(row(db, "people", "18446744073709551615"),
                     "18446744073709551615|say \"hi\"\nthere||0|0");
    cr_assert_eq(count_records(db, "people"), 3);
    remove_test_dir();
}

Test(cli_io, import_replaces_a_record_with_the_same_key)
{
    const char *db = make_db("db", "people", PEOPLE);
    const char *csv = make_file("a.csv", "id,name,age\n1,Ada,36\n2,Grace,45\n1,Ada L.,37\n");
    cli_result *res = runf("import '%s' people '%s'", db, csv);
    ASSERT_STATUS(res, 0);
    ASSERT_CONTAINS(res->out, "imported 3 rows into people");
    cr_assert_str_eq(row(db, "people", "1"), "1|Ada L.||37|0");
    cr_assert_eq(count_records(db, "people"), 2);
    remove_test_dir();
}

Test(cli_io, import_json_lines_decodes_strings_and_numbers)
{
    const char *db = make_db("db", "people", PEOPLE);
    const char *json = make_file("people.jsonl",
                                 "{\"id\": 1, \"name\": \"Zo\\u00eb \\ud83d\\ude00\", \"score\": -0.1}\n"
                                 "\n"
                                 "{\"city\": \"Lagos\", \"id\": 18446744073709551615, \"age\": 255, "
                                 "\"score\": 1e300}\r\n"
                                 "{\"id\":3,\"name\":\"tab\\there\",\"score\":\"inf\"}\n");
    cli_result *res = runf("import '%s' people '%s'", db, json);
    ASSERT_STATUS(res, 0);
    ASSERT_CONTAINS(res->out, "imported 3 rows into people");
    cr_assert_str_eq(row(db, "people", "1"), "1|Zo\xC3\xAB \xF0\x9F\x98\x80||0|-0.1");
    cr_assert_str_eq(row(db, "people", "18446744073709551615"),
                     "18446744073709551615||Lagos|255|1e+300");
    cr_assert_str_eq(row(db, "people", "3"), "3|tab\there||0|inf");
    remove_test_dir();
}

Test(cli_io, import_format_comes_from_the_name_or_the_option)
{
    const char *db = make_db("db", "people", PEOPLE);
    const char *ndjson = make_file("a.ndjson", "{\"id\": 1}\n");
    ASSERT_STATUS(runf("import '%s' people '%s'", db, ndjson), 0);
    const char *json = make_file("b.JSON", "{\"id\": 2}\n");
    ASSERT_STATUS(runf("import '%s' people '%s'", db, json), 0);
    const char *txt = make_file("c.txt", "{\"id\": 3}\n");
    cli_result *res = runf("import '%s' people '%s'", db, txt);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "c.txt: cannot tell the format from the name");
    ASSERT_STATUS(runf("import '%s' people '%s' --format json", db, txt), 0);
    /* The option wins over the name. */
    const char *csv_named_json = make_file("d.json", "id\n4\n");
    ASSERT_STATUS(runf("import --format=csv '%s' people '%s'", db, csv_named_json), 0);
    res = runf("import '%s' people '%s' --format xml", db, txt);
    ASSERT_STATUS(res, 2);
    cr_assert_str_eq(res->err, "vmdb: import: unknown format 'xml' (csv, json)\n");
    cr_assert_eq(count_records(db, "people"), 4);
    remove_test_dir();
}

Test(cli_io, import_reads_stdin_as_csv_unless_told)
{
    const char *db = make_db("db", "people", PEOPLE);
    const char *csv = make_file("in.data", "id,name\n7,Ken\n");
    cli_result *res = runf("import '%s' people - < '%s'", db, csv);
    ASSERT_STATUS(res, 0);
    ASSERT_CONTAINS(res->out, "imported 1 row into people");
    cr_assert_str_eq(row(db, "people", "7"), "7|Ken||0|0");

    const char *json = make_file("in2.data", "{\"id\": 8, \"name\": \"Linus\"}\n");
    res = runf("import '%s' people - --format json < '%s'", db, json);
    ASSERT_STATUS(res, 0);
    cr_assert_str_eq(row(db, "people", "8"), "8|Linus||0|0");

    /* Through a pipe, and messages call it stdin. */
    res = runf("--version >/dev/null; printf 'id,age\\n9,300\\n' | %s import '%s' people -",
               cli_binary(), db);
    ASSERT_STATUS(res, 2);
    cr_assert_str_eq(res->err, "vmdb: stdin:2: people.age: value 300 does not fit u8 (import "
                               "stopped; 0 rows imported, from the batches before this row's)\n");
    remove_test_dir();
}

/* 25 rows in batches of 10; row 23 (line 24) is bad: the batches of rows
 * 1-10 and 11-20 stay, rows 21 and 22 are rolled back with it. */
Test(cli_io, bad_row_stops_the_import_and_earlier_batches_stay)
{
    const char *db = make_db("db", "people", PEOPLE);
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text, "id,name,age\n");
    for (int i = 1; i <= 25; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%d,p%d,%d\n", i, i, i == 23 ? 300 : i);
    const char *csv = make_file("rows.csv", text);
    cli_result *res = runf("import '%s' people '%s' --batch 10", db, csv);
    ASSERT_STATUS(res, 2);
    cr_assert_str_eq(res->out, "");
    char want[1024];
    snprintf(want, sizeof want,
             "vmdb: %s:24: people.age: value 300 does not fit u8 (import stopped; 20 rows "
             "imported, from the batches before this row's)\n",
             csv);
    cr_assert_str_eq(res->err, want);
    cr_assert_eq(count_records(db, "people"), 20);
    cr_assert_str_eq(row(db, "people", "20"), "20|p20||20|0");
    cr_assert_str_eq(row(db, "people", "21"), "(none)");
    cr_assert_str_eq(row(db, "people", "22"), "(none)");

    /* The default batch holds all 25: nothing stays. */
    const char *db2 = make_db("db2", "people", PEOPLE);
    res = runf("import '%s' people '%s'", db2, csv);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, ":24: people.age: value 300 does not fit u8 (import stopped; 0 rows");
    cr_assert_eq(count_records(db2, "people"), 0);
    remove_test_dir();
}

/* A log of 1 MiB holds about 900 puts of these 1 KiB records: the
 * default batch shrinks to fit, an explicit one that does not fit stops
 * the import at the row that did not. */
Test(cli_io, batch_too_large_for_the_log_stops_at_the_row_that_does_not_fit)
{
    char db[512];
    snprintf(db, sizeof db, "%s", test_path("db"));
    vmdb_db *h;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE, .wal_size = 1 << 20};
    ASSERT_OK(vmdb_open(db, &o, &h));
    vmdb_schema *schema;
    ASSERT_OK(vmdb_schema_parse("id:u64 key, blob:bytes1016", &schema));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(h, "blobs", schema, &t));
    vmdb_schema_free(schema);
    vmdb_close(h);

    static char text[65536];
    size_t n = (size_t)snprintf(text, sizeof text, "id,blob\n");
    for (int i = 1; i <= 3000; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%d,0x%02x\n", i, i & 0xff);
    const char *csv = make_file("blobs.csv", text);
    cli_result *res = runf("import '%s' blobs '%s'", db, csv);
    ASSERT_STATUS(res, 0);
    ASSERT_CONTAINS(res->out, "imported 3000 rows into blobs");
    cr_assert_eq(count_records(db, "blobs"), 3000);

    res = runf("import '%s' blobs '%s' --batch 3000", db, csv);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "blobs.csv:");
    ASSERT_CONTAINS(res->err, ": a batch of 3000 rows does not fit the log of ");
    ASSERT_CONTAINS(res->err, "; give a smaller --batch (import stopped; 0 rows imported");
    remove_test_dir();
}

Test(cli_io, bad_values_name_file_line_table_and_field)
{
    const char *db = make_db("db", "people", PEOPLE);
    static const char *const cases[][2] = {
        {"id,name\n1,Ada\nx,Bob\n", "bad.csv:3: people.id: 'x' is not a number"},
        {"id,age\n1,1.5\n", "bad.csv:2: people.age: '1.5' is not an integer"},
        {"id,age\n1,-1\n", "bad.csv:2: people.age: value -1 does not fit u8"},
        {"id,name\n1,abcdefghijabcdefghijabcdefghijabc\n",
         "bad.csv:2: people.name: 'abcdefghijabcdefghijabcdefghijabc' is 33 bytes, more than str32"},
        {"id,score\n1,1e999\n", "bad.csv:2: people.score:"},
        {"id,name\n\n\n1,\"multi\nline\"\n2,\"x\"\n3,\"\n\"\n4,a\n5,\"b\n\nc\",\n",
         "bad.csv:10: 3 fields, but the first row has 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *csv = make_file("bad.csv", cases[i][0]);
        cli_result *res = runf("import '%s' people '%s'", db, csv);
        ASSERT_STATUS(res, 2);
        cr_assert(!strncmp(res->err, "vmdb: ", 6), "%s", res->err);
        ASSERT_CONTAINS(res->err, cases[i][1]);
        cr_assert_eq(strchr(res->err, '\n'), res->err + strlen(res->err) - 1,
                     "one line: %s", res->err);
    }
    remove_test_dir();
}

Test(cli_io, unknown_duplicate_and_missing_key_fields_are_errors)
{
    const char *db = make_db("db", "people", PEOPLE);
    const char *csv = make_file("h.csv", "id,name,emial\n1,Ada,a@b\n");
    cli_result *res = runf("import '%s' people '%s'", db, csv);
    ASSERT_STATUS(res, 2);
    char want[1024];
    snprintf(want, sizeof want,
             "vmdb: %s:1: table people has no field 'emial' (column 3 of the header; --skip-extra "
             "ignores such columns)\n",
             csv);
    cr_assert_str_eq(res->err, want);

    csv = make_file("h.csv", "id,age,age\n1,2,3\n");
    res = runf("import '%s' people '%s'", db, csv);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "h.csv:1: field 'age' is named twice in the header");

    csv = make_file("h.csv", "name,age\nAda,36\n");
    res = runf("import '%s' people '%s'", db, csv);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "h.csv:1: the header lacks people.id, the key");

    const char *json = make_file("j.json", "{\"id\": 1}\n{\"id\": 2, \"nmae\": \"x\"}\n");
    res = runf("import '%s' people '%s'", db, json);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "j.json:2: table people has no field 'nmae' (import stopped; 0 rows");

    json = make_file("j.json", "{\"id\": 1}\n\n{\"name\": \"x\"}\n");
    res = runf("import '%s' people '%s'", db, json);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "j.json:3: no value for people.id, the key (import stopped");

    json = make_file("j.json", "{\"id\": 1, \"age\": 3, \"age\": 4}\n");
    res = runf("import '%s' people '%s'", db, json);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "j.json:1: people.age is given twice");
    cr_assert_eq(count_records(db, "people"), 0);
    remove_test_dir();
}

/* A header name echoed raw once made a message of two lines out of one
 * with a newline in it, and a line as long as itself out of a long one. */
Test(cli_io, field_names_in_messages_are_escaped_and_a_long_one_is_cut)
{
    const char *db = make_db("db", "people", PEOPLE);
    const char *csv = make_file("h.csv", "id,\"na\nme\"\n1,x\n");
    cli_result *res = runf("import '%s' people '%s'", db, csv);
    ASSERT_STATUS(res, 2);
    char want[1024];
    snprintf(want, sizeof want,
             "vmdb: %s:1: table people has no field 'na\\nme' (column 2 of the header; --skip-extra "
             "ignores such columns)\n",
             csv);
    cr_assert_str_eq(res->err, want);

    char *text = malloc(5000 + 16);
    memcpy(text, "id,", 3);
    memset(text + 3, 'y', 5000);
    strcpy(text + 5003, "\n1,2\n");
    csv = make_file("long.csv", text);
    free(text);
    res = runf("import '%s' people '%s'", db, csv);
    ASSERT_STATUS(res, 2);
    snprintf(want, sizeof want,
             "vmdb: %s:1: table people has no field '%.63s... (5000 bytes)' (column 2 of the "
             "header; --skip-extra ignores such columns)\n",
             csv, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
    cr_assert_str_eq(res->err, want);

    const char *json = make_file("j.json", "{\"id\": 1, \"na\\u000ame\": 2}\n");
    res = runf("import '%s' people '%s'", db, json);
    ASSERT_STATUS(res, 2);
    snprintf(want, sizeof want,
             "vmdb: %s:1: table people has no field 'na\\nme' (import stopped; 0 rows imported, "
             "from the batches before this row's)\n",
             json);
    cr_assert_str_eq(res->err, want);
    cr_assert_eq(count_records(db, "people"), 0);
    remove_test_dir();
}

Test(cli_io, malformed_input_is_an_error_naming_the_line)
{
    const char *db = make_db("db", "people", PEOPLE);
    static const char *const csv_cases[][2] = {
        {"id,name\n1,Ada\n2,\"open\n3,x\n", "m.csv:3: quoted field 2 never ends (its quote opens here)"},
        {"id,name\n1,\"Ada\"x\n", "m.csv:2: 'x' after the closing quote of field 2"},
        {"id,name\n1,Ada,36\n", "m.csv:2: 3 fields, but the first row has 2"},
        {"id,name\n1\n", "m.csv:2: 1 field, but the first row has 2"},
        {"id,name\n1,a\0b\n", "m.csv:2: people.name: the value holds a NUL byte"},
    };
    for (size_t i = 0; i < sizeof csv_cases / sizeof csv_cases[0]; i++) {
        /* The NUL case has its length from the text up to the second
         * newline after the NUL. */
        const char *text = csv_cases[i][0];
        size_t len = strlen(text);
        if (strstr(csv_cases[i][1], "NUL"))
            len = sizeof "id,name\n1,a\0b\n" - 1;
        const char *path = test_path("m.csv");
        write_file(path, text, len);
        cli_result *res = runf("import '%s' people '%s'", db, path);
        ASSERT_STATUS(res, 2);
        ASSERT_CONTAINS(res->err, csv_cases[i][1]);
        ASSERT_CONTAINS(res->err, "(import stopped; 0 rows imported");
    }
    const char *json = make_file("m.json", "{\"id\": 1}\n{\"id\": null}\n");
    cli_result *res = runf("import '%s' people '%s'", db, json);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "m.json:2:8: null is not a value");
    json = make_file("m.json", "{\"id\": 1}\n[1]\n");
    res = runf("import '%s' people '%s'", db, json);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "m.json:2:1: '[' where an object should start");
    cr_assert_eq(count_records(db, "people"), 0);
    remove_test_dir();
}

Test(cli_io, empty_file_and_header_only)
{
    const char *db = make_db("db", "people", PEOPLE);
    const char *csv = make_file("e.csv", "");
    cli_result *res = runf("import '%s' people '%s'", db, csv);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "e.csv: empty: a header row naming the fields was expected");
    csv = make_file("h.csv", "id,name\n");
    res = runf("import '%s' people '%s'", db, csv);
    ASSERT_STATUS(res, 0);
    ASSERT_CONTAINS(res->out, "imported 0 rows into people");
    const char *json = make_file("e.json", "\n\n");
    res = runf("import '%s' people '%s'", db, json);
    ASSERT_STATUS(res, 0);
    ASSERT_CONTAINS(res->out, "imported 0 rows into people");
    remove_test_dir();
}

Test(cli_io, missing_file_database_or_table_and_bad_arguments)
{
    const char *db = make_db("db", "people", PEOPLE);
    char missing[512], nodb[512];
    snprintf(missing, sizeof missing, "%s", test_path("nope.csv"));
    snprintf(nodb, sizeof nodb, "%s", test_path("nodb"));
    cli_result *res = runf("import '%s' people '%s'", db, missing);
    ASSERT_STATUS(res, 2);
    char want[1024];
    snprintf(want, sizeof want, "vmdb: %s: cannot open: No such file or directory\n", missing);
    cr_assert_str_eq(res->err, want);

    const char *csv = make_file("ok.csv", "id\n1\n");
    res = runf("import '%s' people '%s'", nodb, csv);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "no such database");
    cr_assert_eq(access(nodb, F_OK), -1, "import must not create a database");

    res = runf("import '%s' persons '%s'", db, csv);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "no table 'persons'");

    res = runf("import '%s' people '%s' --batch 0", db, csv);
    ASSERT_STATUS(res, 2);
    cr_assert_str_eq(res->err, "vmdb: import: --batch '0' is not a row count (1 or more)\n");
    res = runf("import '%s' people", db);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "usage: vmdb import DB TABLE FILE");
    res = runf("import --help");
    ASSERT_STATUS(res, 0);
    ASSERT_CONTAINS(res->out, "usage: vmdb import DB TABLE FILE");

    res = runf("export '%s' persons", db);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "no table 'persons'");
    res = runf("export '%s' people", nodb);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "no such database");
    res = runf("export '%s' people --format yaml", db);
    ASSERT_STATUS(res, 2);
    ASSERT_CONTAINS(res->err, "unknown format 'yaml'");
    remove_test_dir();
}

/* ---- export and the round trip ------------------------------------------ */

#define EVERY_TYPE                                                             \
    "id:i64 key, a:u8, b:u16, c:u32, d:u64, e:i8, f:i16, g:i32, x:f32, y:f64, " \
    "ok:bool, s:str40, raw:bytes4"

/* Puts records with the awkward values of every type. */
static void fill_every_type(const char *db_path)
{
    static const char *const rows[][13] = {
        {"-9223372036854775808", "255", "65535", "4294967295", "18446744073709551615", "-128",
         "-32768", "-2147483648", "0.1", "0.1", "true", "comma, \"quote\" and\nnewline",
         "0xdeadbeef"},
        {"9223372036854775807", "0", "0", "0", "0", "127", "32767", "2147483647", "-3.4028235e38",
         "1e-320", "false", "\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "0x00000001"},
        {"0", "1", "2", "3", "4", "-1", "-2", "-3", "1.17549435e-38", "-0", "true",
         "  spaces  ", "0x"},
        {"-1", "7", "7", "7", "7", "7", "7", "7", "inf", "-inf", "false", "", "0xff"},
        {"42", "7", "7", "7", "7", "7", "7", "7", "nan", "2.2250738585072014e-308", "true",
         "cr\r\nlf\ttab,\"\"", "0x0102"},
        {"43", "7", "7", "7", "7", "7", "7", "7", "16777216", "9007199254740993", "false",
         "\"", "0x00"},
    };
    vmdb_db *db;
    ASSERT_OK(vmdb_open(db_path, NULL, &db));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "t", NULL, &t));
    const vmdb_schema *s = vmdb_table_schema(t);
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn));
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        unsigned char rec[256] = {0};
        cr_assert_leq(vmdb_schema_record_size(s), sizeof rec);
        for (size_t f = 0; f < 13; f++)
            ASSERT_OK(vmdb_record_set_text(s, rec, f, rows[r][f]));
        ASSERT_OK(vmdb_txn_put(txn, t, rec, NULL));
    }
    ASSERT_OK(vmdb_txn_commit(txn));
    vmdb_close(db);
}

static void expect_round_trip(const char *format, const char *ext)
{
    const char *db1 = make_db("db1", "t", EVERY_TYPE);
    fill_every_type(db1);
    char first[600], second[600];
    snprintf(first, sizeof first, "%s/first.%s", test_dir(), ext);
    snprintf(second, sizeof second, "%s/second.%s", test_dir(), ext);

    cli_result *res = runf("export '%s' t --format %s", db1, format);
    ASSERT_STATUS(res, 0);
    write_file(first, res->out, strlen(res->out));
    const char *db2 = make_db("db2", "t", EVERY_TYPE);
    res = runf("import '%s' t '%s'", db2, first);
    ASSERT_STATUS(res, 0);
    ASSERT_CONTAINS(res->out, "imported 6 rows into t");
    res = runf("export '%s' t --format %s", db2, format);
    ASSERT_STATUS(res, 0);
    write_file(second, res->out, strlen(res->out));

    size_t len1, len2;
    unsigned char *a = read_file(first, &len1), *b = read_file(second, &len2);
    cr_assert_gt(len1, 100);
    cr_assert(len1 == len2 && !memcmp(a, b, len1), "%s export differs after import:\n%.*s\n---\n%.*s",
              format, (int)len1, a, (int)len2, b);
    free(a);
    free(b);

    /* Every record equal field by field, the key included. */
    const char *keys[] = {"-9223372036854775808", "9223372036854775807", "0", "-1", "42", "43"};
    for (size_t i = 0; i < 6; i++) {
        char want[8192];
        snprintf(want, sizeof want, "%s", row(db1, "t", keys[i]));
        cr_assert_str_eq(row(db2, "t", keys[i]), want);
    }
    remove_test_dir();
}

Test(cli_io, csv_export_import_export_gives_the_same_bytes)
{
    expect_round_trip("csv", "csv");
}

Test(cli_io, json_export_import_export_gives_the_same_bytes)
{
    expect_round_trip("json", "jsonl");
}

Test(cli_io, export_writes_csv_by_default_and_json_lines)
{
    const char *db = make_db("db", "people", PEOPLE);
    cli_result *res = runf("export '%s' people", db);
    ASSERT_STATUS(res, 0);
    cr_assert_str_eq(res->out, "id,name,city,age,score\n", "an empty table is its header");

    const char *csv = make_file("p.csv", "id,name,city,age,score\n2,Grace,\"New York, NY\",45,0.5\n"
                                         "1,Ada,London,36,1e-05\n");
    ASSERT_STATUS(runf("import '%s' people '%s'", db, csv), 0);
    res = runf("export '%s' people", db);
    ASSERT_STATUS(res, 0);
    cr_assert_str_eq(res->out, "id,name,city,age,score\n"
                               "2,Grace,\"New York, NY\",45,0.5\n"
                               "1,Ada,London,36,1e-05\n");
    res = runf("export --format json '%s' people", db);
    ASSERT_STATUS(res, 0);
    cr_assert_str_eq(res->out,
                     "{\"id\":2,\"name\":\"Grace\",\"city\":\"New York, NY\",\"age\":45,\"score\":0.5}\n"
                     "{\"id\":1,\"name\":\"Ada\",\"city\":\"London\",\"age\":36,\"score\":1e-05}\n");
    res = runf("export '%s' people -f table", db);
    ASSERT_STATUS(res, 0);
    ASSERT_CONTAINS(res->out, "id  name   city          age  score\n");
    remove_test_dir();
}

/* The cursor's message names the table's file; export once put the
 * table's name and a dot before it, as before a record's message:
 * "people./path/people.vmt: slot 0 stays mid-write". */
Test(cli_io, export_names_a_slot_left_mid_write_by_its_file_alone)
{
    const char *db = make_db("db", "people", PEOPLE);
    const char *csv = make_file("one.csv", "id,name\n1,Ada\n");
    ASSERT_STATUS(runf("import '%s' people '%s'", db, csv), 0);
    /* An odd sequence number in slot 0's header: a writer that died in the
     * middle of it. */
    char table[600];
    snprintf(table, sizeof table, "%s/people.vmt", db);
    xor_byte_at(table, 8192, 1);
    cli_result *res = runf("export '%s' people", db);
    ASSERT_STATUS(res, 2);
    char want[1024];
    snprintf(want, sizeof want,
             "vmdb: %s: slot 0 stays mid-write (a writer died? open the database for writing to "
             "recover it)\n",
             table);
    cr_assert_str_eq(res->err, want);
    remove_test_dir();
}

Test(cli_io, export_reads_without_the_write_lock)
{
    /* A writer holds the lock in a transaction: a read-only export does
     * not wait for it, and does not see its uncommitted row. */
    const char *db_path = make_db("db", "people", PEOPLE);
    const char *csv = make_file("p.csv", "id,name\n1,Ada\n");
    ASSERT_STATUS(runf("import '%s' people '%s'", db_path, csv), 0);
    vmdb_db *db;
    ASSERT_OK(vmdb_open(db_path, NULL, &db));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, "people", NULL, &t));
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, VMDB_DURABILITY_DEFAULT, &txn));
    unsigned char rec[256] = {0};
    cr_assert_leq(vmdb_schema_record_size(vmdb_table_schema(t)), sizeof rec);
    ASSERT_OK(vmdb_record_set_text(vmdb_table_schema(t), rec, 0, "2"));
    ASSERT_OK(vmdb_txn_put(txn, t, rec, NULL));
    cli_result *res = runf("export '%s' people", db_path);
    ASSERT_STATUS(res, 0);
    cr_assert_str_eq(res->out, "id,name,city,age,score\n1,Ada,,0,0\n");
    vmdb_txn_abort(txn);
    vmdb_close(db);
    remove_test_dir();
}

Test(cli_io, demo_people_csv_imports_whole)
{
    const char *db = make_db("db", "people", "id:u64 key, name:str32, city:str24, age:u8, score:f64");
    cli_result *res = runf("import '%s' people docs/examples/people.csv", db);
    ASSERT_STATUS(res, 0);
    ASSERT_CONTAINS(res->out, "imported 300 rows into people");
    cr_assert_eq(count_records(db, "people"), 300);
    remove_test_dir();
}

/* ---- the progress line -------------------------------------------------- */

/* Runs `vmdb import` with stderr on a pseudo-terminal and stdin from
 * `stdin_path`, or from a pipe fed with `pipe_text`; returns what the
 * terminal received. */
static const char *import_on_terminal(const char *db, const char *file_arg,
                                      const char *stdin_path, const char *pipe_text)
{
    static char seen[65536];
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert(master >= 0);
    cr_assert_eq(grantpt(master), 0);
    cr_assert_eq(unlockpt(master), 0);
    const char *slave_name = ptsname(master);
    cr_assert_not_null(slave_name);
    int feed[2];
    cr_assert_eq(pipe(feed), 0);
    pid_t pid = fork_child();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int slave = open(slave_name, O_RDWR | O_NOCTTY);
        int in = stdin_path ? open(stdin_path, O_RDONLY) : feed[0];
        int out = open("/dev/null", O_WRONLY);
        if (slave < 0 || in < 0 || out < 0)
            _exit(99);
        dup2(in, 0);
        dup2(out, 1);
        dup2(slave, 2);
        close(feed[1]);
        execl(cli_binary(), "vmdb", "import", db, "people", file_arg, (char *)NULL);
        _exit(98);
    }
    close(feed[0]);
    if (pipe_text) {
        signal(SIGPIPE, SIG_IGN);
        size_t len = strlen(pipe_text);
        cr_assert_eq(write(feed[1], pipe_text, len), (ssize_t)len);
    }
    close(feed[1]);
    size_t n = 0;
    for (;;) {
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 100) == 0) {
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "import failed");
                pid = 0;
                /* Drain what is left, then stop. */
                while (poll(&p, 1, 0) > 0) {
                    ssize_t got = read(master, seen + n, sizeof seen - 1 - n);
                    if (got <= 0)
                        break;
                    n += (size_t)got;
                }
                break;
            }
            continue;
        }
        ssize_t got = read(master, seen + n, sizeof seen - 1 - n);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (pid > 0) {
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "import failed");
    }
    close(master);
    seen[n] = '\0';
    return seen;
}

Test(cli_io, progress_line_on_a_terminal_shows_rows_and_percent_when_size_is_known)
{
    const char *db = make_db("db", "people", PEOPLE);
    static char text[200000];
    size_t n = (size_t)snprintf(text, sizeof text, "id,name\n");
    for (int i = 1; i <= 3000; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%d,person %d\n", i, i);
    const char *csv = make_file("many.csv", text);

    const char *seen = import_on_terminal(db, csv, "/dev/null", NULL);
    ASSERT_CONTAINS(seen, "\rimporting into people: 1024 rows [");
    ASSERT_CONTAINS(seen, "%, ");
    ASSERT_CONTAINS(seen, " rows/s");
    /* The line is cleared at the end, so the summary (on stdout) and the
     * prompt start on a clean line. */
    cr_assert(strlen(seen) >= 4 && !strcmp(seen + strlen(seen) - 4, "\r\033[K"), "ends: %s",
              seen);

    /* From a pipe the size is unknown: rows and rate, no percent. */
    seen = import_on_terminal(db, "-", NULL, text);
    ASSERT_CONTAINS(seen, "\rimporting into people: 1024 rows, ");
    ASSERT_CONTAINS(seen, " rows/s");
    cr_assert_null(strchr(seen, '%'), "no percent for a pipe: %s", seen);
    cr_assert_eq(count_records(db, "people"), 3000);
    remove_test_dir();
}
