/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cli_import.c - `vmdb import` on files as people have them
 * (issue 14): empty cells, other delimiters, no header row, columns the
 * table lacks, a byte order mark and CRLF, and --create, which makes the
 * table from the file. Run as a black box: what a table holds is read
 * back with `vmdb export`.
 */
#include "helpers.h"

#include "cli_helpers.h"

#include <stdarg.h>

TestSuite(cli_import, .timeout = SUITE_TIMEOUT);

static cli_result *vmdb(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cli_result *vmdb(const char *fmt, ...)
{
    char args[3072];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return run_cli(args);
}

#define EXPECT_EXIT(res, want)                                                  \
    cr_assert_eq((res)->status, (want), "exit %d, expected %d\nstdout: %s\nstderr: %s", \
                 (res)->status, (want), (res)->out, (res)->err)

/* A message is one line, "vmdb: " first. */
#define EXPECT_ONE_LINE_ERROR(res)                                              \
    do {                                                                        \
        EXPECT_EXIT(res, 2);                                                    \
        cr_assert(!strncmp((res)->err, "vmdb: ", 6), "%s", (res)->err);         \
        cr_assert_eq(strchr((res)->err, '\n'), (res)->err + strlen((res)->err) - 1, \
                     "not one line: %s", (res)->err);                           \
    } while (0)

/* test_path's answer lives in one shared buffer: each path here gets a
 * buffer of its own. */
static const char *own_path(const char *name)
{
    static char paths[8][512];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, sizeof paths[0], "%s", test_path(name));
    return path;
}

static const char *file_of(const char *name, const char *bytes, size_t len)
{
    const char *path = own_path(name);
    write_file(path, bytes, len);
    return path;
}

static const char *text_file(const char *name, const char *text)
{
    return file_of(name, text, strlen(text));
}

/* A new database "db" holding `table` with `schema`, made by vmdb create. */
static const char *database(const char *table, const char *schema)
{
    const char *db = own_path("db");
    cli_result *res = vmdb("create '%s' %s '%s'", db, table, schema);
    EXPECT_EXIT(res, 0);
    return db;
}

/* What `vmdb export DB TABLE --format FORMAT` prints. */
static const char *exported(const char *db, const char *table, const char *format)
{
    static char out[sizeof ((cli_result *)0)->out];
    cli_result *res = vmdb("export '%s' %s --format %s", db, table, format);
    EXPECT_EXIT(res, 0);
    snprintf(out, sizeof out, "%s", res->out);
    return out;
}

static const char *schema_of(const char *db, const char *table)
{
    static char out[sizeof ((cli_result *)0)->out];
    cli_result *res = vmdb("schema '%s' %s", db, table);
    EXPECT_EXIT(res, 0);
    snprintf(out, sizeof out, "%s", res->out);
    return out;
}

/* ---- empty cells -------------------------------------------------------- */

Test(cli_import, an_empty_cell_is_zero_false_or_the_empty_string)
{
    const char *db = database("t", "id:u64 key, name:str8, age:u8, ok:bool, score:f64, n:i32");
    const char *csv = text_file("e.csv", "id,name,age,ok,score,n\n"
                                         "1,,,,,\n"
                                         "2,\"\",7,true,1.5,-3\n"
                                         "3,x,\"\",false,\"\",\n");
    cli_result *res = vmdb("import '%s' t '%s'", db, csv);
    EXPECT_EXIT(res, 0);
    ASSERT_CONTAINS(res->out, "imported 3 rows into t");
    cr_assert_str_eq(exported(db, "t", "csv"), "id,name,age,ok,score,n\n"
                                                "1,,0,false,0,0\n"
                                                "2,,7,true,1.5,-3\n"
                                                "3,x,0,false,0,0\n");
    remove_test_dir();
}

Test(cli_import, an_empty_number_key_is_refused_and_an_empty_str_key_is_a_key)
{
    const char *db = database("t", "id:u64 key, name:str8");
    const char *csv = text_file("k.csv", "id,name\n1,a\n,b\n");
    cli_result *res = vmdb("import '%s' t '%s'", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    char want[1024];
    snprintf(want, sizeof want, "vmdb: %s:3: column 1 (t.id, the key) is empty (import stopped; "
                                "0 rows imported, from the batches before this row's)\n", csv);
    cr_assert_str_eq(res->err, want);
    cr_assert_str_eq(exported(db, "t", "csv"), "id,name\n");

    /* export writes the empty string key as an empty cell: it must come
     * back. */
    cli_result *made = vmdb("create '%s' s 'name:str8 key, n:u8'", db);
    EXPECT_EXIT(made, 0);
    csv = text_file("s.csv", "name,n\n,1\nb,2\n");
    EXPECT_EXIT(vmdb("import '%s' s '%s'", db, csv), 0);
    cr_assert_str_eq(exported(db, "s", "csv"), "name,n\n,1\nb,2\n");
    remove_test_dir();
}

Test(cli_import, empty_error_refuses_an_empty_cell_naming_file_line_and_column)
{
    const char *db = database("t", "id:u64 key, name:str8, age:u8");
    const char *csv = text_file("e.csv", "id,name,age\n1,a,3\n2,b,\n");
    cli_result *res = vmdb("import '%s' t '%s' --empty=error", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    char want[1024];
    snprintf(want, sizeof want, "vmdb: %s:3: column 3 (t.age) is empty (--empty=error) (import "
                                "stopped; 0 rows imported, from the batches before this row's)\n",
             csv);
    cr_assert_str_eq(res->err, want);
    cr_assert_str_eq(exported(db, "t", "csv"), "id,name,age\n",
                     "nothing of the failed batch is kept");

    csv = text_file("q.csv", "id,name,age\n1,\"\",3\n");
    res = vmdb("import '%s' t '%s' --empty error", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "q.csv:2: column 2 (t.name) is empty (--empty=error)");

    EXPECT_EXIT(vmdb("import '%s' t '%s' --empty zero", db, csv), 0);
    cr_assert_str_eq(exported(db, "t", "csv"), "id,name,age\n1,,3\n");
    res = vmdb("import '%s' t '%s' --empty=null", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    cr_assert_str_eq(res->err, "vmdb: import: --empty 'null' is not zero or error\n");
    remove_test_dir();
}

/* ---- delimiters, header, columns ---------------------------------------- */

Test(cli_import, delimiter_takes_one_character_or_a_tab)
{
    const char *db = database("t", "id:u64 key, name:str16, note:str16");
    const char *semi = text_file("s.csv", "id;name;note\n1;\"a;b\";x,y\n");
    EXPECT_EXIT(vmdb("import '%s' t '%s' --delimiter ';'", db, semi), 0);
    const char *tsv = text_file("t.tsv", "id\tname\tnote\n2\tc d\t\"e\tf\"\n");
    EXPECT_EXIT(vmdb("import '%s' t '%s' --format csv --delimiter '\\t'", db, tsv), 0);
    tsv = text_file("t.tsv", "id\tname\tnote\n3\tg\th\n");
    EXPECT_EXIT(vmdb("import '%s' t '%s' --format csv -d tab", db, tsv), 0);
    tsv = text_file("t.tsv", "id\tname\tnote\n4\ti\tj\n");
    EXPECT_EXIT(vmdb("import '%s' t '%s' --format csv --delimiter '\t'", db, tsv), 0);
    cr_assert_str_eq(exported(db, "t", "json"),
                     "{\"id\":1,\"name\":\"a;b\",\"note\":\"x,y\"}\n"
                     "{\"id\":2,\"name\":\"c d\",\"note\":\"e\\tf\"}\n"
                     "{\"id\":3,\"name\":\"g\",\"note\":\"h\"}\n"
                     "{\"id\":4,\"name\":\"i\",\"note\":\"j\"}\n");

    /* A comma is then data, and a closing quote must meet the delimiter. */
    const char *bad = text_file("b.csv", "id;name\n5;\"x\",\n");
    cli_result *res = vmdb("import '%s' t '%s' --delimiter ';'", db, bad);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "b.csv:2: ',' after the closing quote of field 2 (expected ';' or "
                              "the end of the line)");

    static const char *const refused[] = {"ab", "\"", "", "\\n"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        res = vmdb("import '%s' t '%s' --delimiter '%s'", db, semi, refused[i]);
        EXPECT_ONE_LINE_ERROR(res);
        ASSERT_CONTAINS(res->err, "vmdb: import: --delimiter '");
        ASSERT_CONTAINS(res->err, "' is not one character other than a quote or a line ending");
    }
    remove_test_dir();
}

Test(cli_import, no_header_puts_the_columns_into_the_fields_in_order)
{
    const char *db = database("t", "id:u64 key, name:str8, age:u8");
    const char *csv = text_file("n.csv", "1,Ada,36\n2,Bob,41\n");
    cli_result *res = vmdb("import '%s' t '%s' --no-header", db, csv);
    EXPECT_EXIT(res, 0);
    ASSERT_CONTAINS(res->out, "imported 2 rows into t");
    /* Fewer columns than fields: the rest are zero. */
    csv = text_file("n.csv", "3,Cy\n");
    EXPECT_EXIT(vmdb("import '%s' t '%s' --no-header", db, csv), 0);
    cr_assert_str_eq(exported(db, "t", "csv"), "id,name,age\n1,Ada,36\n2,Bob,41\n3,Cy,0\n");

    csv = text_file("w.csv", "4,Di,50,extra\n");
    res = vmdb("import '%s' t '%s' --no-header", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    char want[1024];
    snprintf(want, sizeof want, "vmdb: %s:1: 4 columns, but table t has 3 fields (--skip-extra "
                                "ignores the columns past them)\n", csv);
    cr_assert_str_eq(res->err, want);
    EXPECT_EXIT(vmdb("import '%s' t '%s' --no-header --skip-extra", db, csv), 0);
    cr_assert_str_eq(exported(db, "t", "csv"), "id,name,age\n1,Ada,36\n2,Bob,41\n3,Cy,0\n4,Di,50\n");

    /* The key is the second field: one column does not reach it. */
    cli_result *made = vmdb("create '%s' k 'name:str8, id:u64 key'", db);
    EXPECT_EXIT(made, 0);
    csv = text_file("k.csv", "x\n");
    res = vmdb("import '%s' k '%s' --no-header", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "k.csv:1: 1 column, but k.id, the key, is field 2");

    /* An empty file without a header is no rows. */
    csv = text_file("e.csv", "");
    res = vmdb("import '%s' t '%s' --no-header", db, csv);
    EXPECT_EXIT(res, 0);
    ASSERT_CONTAINS(res->out, "imported 0 rows into t");
    remove_test_dir();
}

Test(cli_import, columns_name_the_fields_with_or_without_a_header_row)
{
    const char *db = database("t", "id:u64 key, name:str8, age:u8");
    const char *csv = text_file("c.csv", "36,Ada,1\n41,Bob,2\n");
    EXPECT_EXIT(vmdb("import '%s' t '%s' --no-header --columns 'age, name,id'", db, csv), 0);
    /* A header whose names are not the table's is skipped. */
    csv = text_file("h.csv", "Age,Full Name,Number\n50,Cy,3\n");
    EXPECT_EXIT(vmdb("import '%s' t '%s' --columns age,name,id", db, csv), 0);
    cr_assert_str_eq(exported(db, "t", "csv"), "id,name,age\n1,Ada,36\n2,Bob,41\n3,Cy,50\n");

    cli_result *res = vmdb("import '%s' t '%s' --columns age,name", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    char want[1024];
    snprintf(want, sizeof want, "vmdb: %s:1: the header has 3 columns, but --columns names 2\n",
             csv);
    cr_assert_str_eq(res->err, want);

    csv = text_file("c.csv", "4,Di,1\n5,Ed,2\n");
    res = vmdb("import '%s' t '%s' --no-header --columns id,name", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "c.csv:1: 3 columns, but --columns names 2 (import stopped; 0 rows");

    res = vmdb("import '%s' t '%s' --no-header --columns age,nmae,id", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    cr_assert_str_eq(res->err, "vmdb: import: table t has no field 'nmae' (column 2 "
                               "of --columns; --skip-extra ignores such columns)\n");
    res = vmdb("import '%s' t '%s' --no-header --columns age,,id", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    cr_assert_str_eq(res->err, "vmdb: import: --columns 'age,,id': name 2 is empty\n");
    res = vmdb("import '%s' t '%s' --no-header --columns age,name,age", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "field 'age' is named twice in --columns");
    res = vmdb("import '%s' t '%s' --no-header --columns age,name", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "vmdb: import: --columns lacks t.id, the key");
    cr_assert_str_eq(exported(db, "t", "csv"), "id,name,age\n1,Ada,36\n2,Bob,41\n3,Cy,50\n");
    remove_test_dir();
}

Test(cli_import, skip_extra_ignores_columns_and_members_the_table_lacks)
{
    const char *db = database("t", "id:u64 key, name:str8");
    const char *csv = text_file("x.csv", "id,email,name,phone\n1,a@b,Ada,555\n");
    cli_result *res = vmdb("import '%s' t '%s'", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    char want[1024];
    snprintf(want, sizeof want, "vmdb: %s:1: table t has no field 'email' (column 2 of the "
                                "header; --skip-extra ignores such columns)\n", csv);
    cr_assert_str_eq(res->err, want);
    EXPECT_EXIT(vmdb("import '%s' t '%s' --skip-extra", db, csv), 0);
    const char *json = text_file("x.json", "{\"id\": 2, \"email\": \"c@d\", \"name\": \"Bob\"}\n"
                                           "{\"name\": \"Cy\", \"id\": 3, \"zip\": 1}\n");
    res = vmdb("import '%s' t '%s'", db, json);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "x.json:1: table t has no field 'email'");
    EXPECT_EXIT(vmdb("import '%s' t '%s' --skip-extra", db, json), 0);
    cr_assert_str_eq(exported(db, "t", "csv"), "id,name\n1,Ada\n2,Bob\n3,Cy\n");
    remove_test_dir();
}

Test(cli_import, a_byte_order_mark_is_skipped_and_crlf_ends_lines)
{
    const char *db = database("t", "id:u64 key, name:str16");
    static const char bytes[] = "\xEF\xBB\xBFid,name\r\n1,\"two\r\nlines\"\r\n2,plain\r\n";
    const char *csv = file_of("b.csv", bytes, sizeof bytes - 1);
    EXPECT_EXIT(vmdb("import '%s' t '%s'", db, csv), 0);
    /* The same through a pipe, and without a header. */
    static const char data[] = "\xEF\xBB\xBF" "3,\"x\r\ny\"\r\n4,z\r\n";
    const char *raw = file_of("r.csv", data, sizeof data - 1);
    EXPECT_EXIT(vmdb("import '%s' t - --no-header < '%s'", db, raw), 0);
    /* A CRLF inside quotes is data, as RFC 4180 has it. */
    cr_assert_str_eq(exported(db, "t", "json"), "{\"id\":1,\"name\":\"two\\r\\nlines\"}\n"
                                                 "{\"id\":2,\"name\":\"plain\"}\n"
                                                 "{\"id\":3,\"name\":\"x\\r\\ny\"}\n"
                                                 "{\"id\":4,\"name\":\"z\"}\n");
    remove_test_dir();
}

Test(cli_import, csv_only_options_are_refused_for_json)
{
    const char *db = database("t", "id:u64 key");
    const char *json = text_file("j.json", "{\"id\": 1}\n");
    static const char *const options[][2] = {
        {"--delimiter ';'", "--delimiter"}, {"--no-header", "--no-header"},
        {"--columns id", "--columns"},      {"--empty error", "--empty"},
    };
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        cli_result *res = vmdb("import '%s' t '%s' %s", db, json, options[i][0]);
        EXPECT_ONE_LINE_ERROR(res);
        char want[1024];
        snprintf(want, sizeof want, "vmdb: import: %s is for csv files, and %s is read as json "
                                    "lines\n", options[i][1], json);
        cr_assert_str_eq(res->err, want);
    }
    cli_result *res = vmdb("import '%s' t '%s' --key id", db, json);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "import: --key chooses the key of the table --create makes");
    cr_assert_str_eq(exported(db, "t", "csv"), "id\n");
    remove_test_dir();
}

/* ---- --create ----------------------------------------------------------- */

Test(cli_import, create_chooses_the_narrowest_type_for_each_column_and_says_so)
{
    const char *db = own_path("new.db");
    const char *csv = text_file("c.csv", "id,small,wide,neg,big,ratio,flag,name,zip,blank,huge\n"
                                         "1,0,70000,-1,18446744073709551615,1.5,true,Ada,02134,,"
                                         "99999999999999999999\n"
                                         "2,255,1,-40000,0,2,False,Grace Hopper,10001,,1\n"
                                         "3,,,,,-1e3,TRUE,,,,\n");
    cli_result *res = vmdb("import '%s' people '%s' --create", db, csv);
    EXPECT_EXIT(res, 0);
    static const char schema[] = "id:u8 key, small:u8, wide:u32, neg:i32, big:u64, ratio:f64, "
                                 "flag:bool, name:str16, zip:str8, blank:str8, huge:str32";
    char want[1024];
    snprintf(want, sizeof want, "created table people: %s\nimported 3 rows into people in ",
             schema);
    cr_assert(!strncmp(res->out, want, strlen(want)), "%s", res->out);
    cr_assert_str_eq(res->err, "");
    snprintf(want, sizeof want, "%s\n", schema);
    cr_assert_str_eq(schema_of(db, "people"), want);
    cr_assert_str_eq(exported(db, "people", "csv"),
                     "id,small,wide,neg,big,ratio,flag,name,zip,blank,huge\n"
                     "1,0,70000,-1,18446744073709551615,1.5,true,Ada,02134,,99999999999999999999\n"
                     "2,255,1,-40000,0,2,false,Grace Hopper,10001,,1\n"
                     "3,0,0,0,0,-1000,true,,,,\n");
    remove_test_dir();
}

Test(cli_import, create_takes_the_key_from_key_and_the_names_from_columns)
{
    const char *db = own_path("db");
    const char *csv = text_file("k.csv", "Ada,-5,x\nBob,7,y\n");
    cli_result *res = vmdb("import '%s' t '%s' --create --no-header --columns 'name,n,tag' "
                           "--key n -q",
                           db, csv);
    /* -q is no option: nothing may be made. */
    EXPECT_ONE_LINE_ERROR(res);
    cr_assert_eq(access(db, F_OK), -1, "a refused command creates no database");
    res = vmdb("import '%s' t '%s' --create --no-header --columns 'name,n,tag' --key n", db, csv);
    EXPECT_EXIT(res, 0);
    ASSERT_CONTAINS(res->out, "created table t: name:str8, n:i8 key, tag:str8\n");
    cr_assert_str_eq(exported(db, "t", "csv"), "name,n,tag\nAda,-5,x\nBob,7,y\n");

    res = vmdb("import '%s' u '%s' --create --no-header --key n", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    cr_assert_str_eq(res->err, "vmdb: import: --create needs the columns' names: a header row, "
                               "or --columns with --no-header\n");
    res = vmdb("import '%s' u '%s' --create --no-header --columns a,b,c --key d", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    cr_assert_str_eq(res->err, "vmdb: import: --key d names no column of --columns\n");
    remove_test_dir();
}

/* The sample sets the width; a longer value past it is an error naming
 * its line and field, never cut short, and the table made for the
 * import goes again. */
Test(cli_import, a_value_too_long_for_the_chosen_type_after_the_sample_stops_the_import)
{
    const char *db = own_path("db");
    size_t cap = 1100 * 32;
    char *text = malloc(cap);
    size_t len = (size_t)snprintf(text, cap, "id,name\n");
    for (int i = 1; i <= 1000; i++)
        len += (size_t)snprintf(text + len, cap - len, "%d,n%d\n", i, i % 10);
    len += (size_t)snprintf(text + len, cap - len, "1001,a name longer than eight\n");
    const char *csv = file_of("long.csv", text, len);
    free(text);
    cli_result *res = vmdb("import '%s' t '%s' --create --batch 100", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->out, "created table t: id:u16 key, name:str8\n");
    char want[1024];
    snprintf(want, sizeof want, "vmdb: %s:1002: t.name: 'a name longer than eight' is 24 bytes, "
                                "more than str8; its type came from the first rows, and vmdb "
                                "create makes the table with another (import stopped; table t, "
                                "which it created, is dropped again)\n", csv);
    cr_assert_str_eq(res->err, want);
    res = vmdb("tables '%s'", db);
    EXPECT_EXIT(res, 1);

    /* A number past the sample's widest is refused likewise. */
    csv = text_file("wide.csv", "id,n\n1,200\n");
    EXPECT_EXIT(vmdb("import '%s' t '%s' --create", db, csv), 0);
    csv = text_file("wider.csv", "id,n\n2,300\n");
    res = vmdb("import '%s' t '%s' --create", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "wider.csv:2: t.n: value 300 does not fit u8 (import stopped; 0 "
                              "rows imported");
    cr_assert_str_eq(exported(db, "t", "csv"), "id,n\n1,200\n", "a table it did not make stays");
    remove_test_dir();
}

Test(cli_import, create_on_an_existing_table_imports_into_it)
{
    const char *db = database("t", "id:u64 key, name:str32");
    const char *csv = text_file("e.csv", "id,name\n1,Ada\n");
    cli_result *res = vmdb("import '%s' t '%s' --create", db, csv);
    EXPECT_EXIT(res, 0);
    cr_assert(!strstr(res->out, "created"), "%s", res->out);
    cr_assert_str_eq(schema_of(db, "t"), "id:u64 key, name:str32\n");
    cr_assert_str_eq(exported(db, "t", "csv"), "id,name\n1,Ada\n");
    res = vmdb("import '%s' t '%s' --create --key name", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    cr_assert_str_eq(res->err, "vmdb: import: table t exists, with id for its key, not name\n");
    remove_test_dir();
}

Test(cli_import, create_refuses_names_that_are_not_field_names)
{
    char db[512]; /* past the slots of own_path, which the loop goes round */
    snprintf(db, sizeof db, "%s", own_path("db"));
    static const char *const cases[][2] = {
        {"id,first name\n1,x\n", "c.csv:1: column 2 of the header, 'first name', is not a field "
                                 "name (letters, digits and '_', not starting with a digit, at "
                                 "most 63 bytes); --columns names the columns instead"},
        {"id,2nd\n1,x\n", "c.csv:1: column 2 of the header, '2nd', is not a field name"},
        {"id,\n1,x\n", "c.csv:1: column 2 of the header, '', is not a field name"},
        {"id,a,id\n1,x,2\n", "c.csv:1: columns 1 and 3 of the header are both named 'id'"},
        {"\"i\nd\",a\n1,x\n", "c.csv:1: column 1 of the header, 'i\\nd', is not a field name"},
        {"", "c.csv: empty: a header row naming the fields was expected"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *csv = text_file("c.csv", cases[i][0]);
        cli_result *res = vmdb("import '%s' t '%s' --create", db, csv);
        EXPECT_ONE_LINE_ERROR(res);
        ASSERT_CONTAINS(res->err, cases[i][1]);
    }
    char *wide = malloc(5100);
    strcpy(wide, "id,t\n1,");
    memset(wide + 7, 'x', 5000);
    strcpy(wide + 5007, "\n");
    const char *csv = text_file("c.csv", wide);
    free(wide);
    cli_result *res = vmdb("import '%s' t '%s' --create", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "c.csv:2: column 2 (t) holds 5000 bytes, more than a field holds "
                              "(str4096)");
    csv = text_file("c.csv", "id\n1\n");
    res = vmdb("import '%s' 't-1' '%s' --create", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "vmdb: import: 't-1' is not a table name");
    res = vmdb("import '%s' t '%s' --create --no-header --columns 'a b'", db, csv);
    EXPECT_ONE_LINE_ERROR(res);
    cr_assert_str_eq(res->err, "vmdb: import: column 1 of --columns, 'a b', is not a field name "
                               "(letters, digits and '_', not starting with a digit, at most 63 "
                               "bytes)\n");
    res = vmdb("tables '%s'", db);
    EXPECT_EXIT(res, 1);
    remove_test_dir();
}

Test(cli_import, create_from_a_header_alone_makes_str8_fields)
{
    const char *db = own_path("db");
    const char *csv = text_file("h.csv", "\xEF\xBB\xBFid;name\r\n");
    cli_result *res = vmdb("import '%s' t - --create --delimiter ';' < '%s'", db, csv);
    EXPECT_EXIT(res, 0);
    ASSERT_CONTAINS(res->out, "created table t: id:str8 key, name:str8\nimported 0 rows into t");
    remove_test_dir();
}

Test(cli_import, create_from_json_lines_makes_a_field_of_each_member)
{
    const char *db = own_path("db");
    const char *json = text_file("j.jsonl",
                                 "{\"id\": 1, \"name\": \"Ada\", \"zip\": \"02134\", \"n\": -5}\n"
                                 "\n"
                                 "{\"id\": 2, \"name\": \"Grace Hopper\", \"score\": 1.5, "
                                 "\"ok\": true, \"code\": \"12\"}\n");
    cli_result *res = vmdb("import '%s' t '%s' --create", db, json);
    EXPECT_EXIT(res, 0);
    ASSERT_CONTAINS(res->out, "created table t: id:u8 key, name:str16, zip:str8, n:i8, "
                              "score:f64, ok:bool, code:str8\nimported 2 rows into t");
    cr_assert_str_eq(exported(db, "t", "json"),
                     "{\"id\":1,\"name\":\"Ada\",\"zip\":\"02134\",\"n\":-5,\"score\":0,"
                     "\"ok\":false,\"code\":\"\"}\n"
                     "{\"id\":2,\"name\":\"Grace Hopper\",\"zip\":\"\",\"n\":0,"
                     "\"score\":1.5,\"ok\":true,\"code\":\"12\"}\n");

    /* What export writes, import --create reads back into the same table. */
    json = text_file("back.jsonl", exported(db, "t", "json"));
    res = vmdb("import '%s' u '%s' --create --key name", db, json);
    EXPECT_EXIT(res, 0);
    ASSERT_CONTAINS(res->out, "created table u: id:u8, name:str16 key, zip:str8, n:i8, "
                              "score:f64, ok:bool, code:str8\n");

    json = text_file("bad.jsonl", "{\"id\": 1}\n{\"id\": 2, \"first name\": \"x\"}\n");
    res = vmdb("import '%s' v '%s' --create", db, json);
    EXPECT_ONE_LINE_ERROR(res);
    char want[1024];
    snprintf(want, sizeof want, "vmdb: %s:2: member 'first name' is not a field name (letters, "
                                "digits and '_', not starting with a digit, at most 63 bytes)\n",
             json);
    cr_assert_str_eq(res->err, want);
    json = text_file("empty.jsonl", "\n");
    res = vmdb("import '%s' v '%s' --create", db, json);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "empty.jsonl: no object to make table v from");
    json = text_file("nokey.jsonl", "{\"id\": 1}\n{\"name\": \"x\"}\n");
    res = vmdb("import '%s' v '%s' --create", db, json);
    EXPECT_ONE_LINE_ERROR(res);
    ASSERT_CONTAINS(res->err, "nokey.jsonl:2: no value for v.id, the key (import stopped; table "
                              "v, which it created, is dropped again)");
    res = vmdb("tables '%s'", db);
    EXPECT_EXIT(res, 0);
    cr_assert(!strstr(res->out, "\nv "), "%s", res->out);
    remove_test_dir();
}
