/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cli_base.c - what the vmdb command's files share, called
 * directly: argument parsing, the three output formats byte for byte,
 * and opening databases and tables with the command's messages.
 */
#include <errno.h>

#include "helpers.h"

#include "cli.h"
#include "os_fault.h"

TestSuite(cli_base, .timeout = SUITE_TIMEOUT);

/* ---- capturing what a call prints -------------------------------------- */

static int saved_stderr = -1;

static void capture_stderr(void)
{
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(test_path("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0 && saved_stderr >= 0);
    dup2(fd, 2);
    close(fd);
}

/* What went to stderr since capture_stderr(), NUL-terminated. */
static const char *captured_stderr(void)
{
    static char text[4096];
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    saved_stderr = -1;
    FILE *f = fopen(test_path("stderr.txt"), "rb");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* A printer writing into memory; output() closes it and returns the text. */
static char *memory;
static size_t memory_len;
static FILE *memory_file;

static cli_printer *open_printer(enum cli_format format, size_t columns,
                                 const char *const *names)
{
    free(memory);
    memory = NULL;
    memory_file = open_memstream(&memory, &memory_len);
    cr_assert_not_null(memory_file);
    cli_printer *p = cli_printer_open(format, memory_file, columns, names);
    cr_assert_not_null(p);
    return p;
}

static const char *close_printer(cli_printer *p)
{
    cr_assert_eq(cli_printer_close(p), CLI_OK);
    cr_assert_eq(fclose(memory_file), 0);
    return memory;
}

static cli_cell num(const char *s)
{
    return (cli_cell){s, strlen(s), CLI_CELL_NUMBER};
}

static cli_cell txt(const char *s)
{
    return (cli_cell){s, strlen(s), CLI_CELL_TEXT};
}

static cli_cell boolean(const char *s)
{
    return (cli_cell){s, strlen(s), CLI_CELL_BOOL};
}

/* Evaluates `got` once: it is often close_printer(). */
#define ASSERT_TEXT(got, want)                                                 \
    do {                                                                       \
        const char *got_ = (got), *want_ = (want);                             \
        cr_assert_str_eq(got_, want_, "got:\n%s\nwanted:\n%s", got_, want_);   \
    } while (0)

/* ---- arguments ---------------------------------------------------------- */

struct parsed {
    const char *format;
    bool format_given;
    const char *limit;
    bool explain;
    char *pos[3];
    size_t npos;
    bool help;
};

static int parse(struct parsed *r, int argc, char **argv)
{
    memset(r, 0, sizeof *r);
    const cli_option options[] = {
        {"format", 'f', &r->format, &r->format_given},
        {"limit", 0, &r->limit, NULL},
        {"explain", 'x', NULL, &r->explain},
    };
    return cli_parse_args(argc, argv, options, 3, r->pos, 3, &r->npos, &r->help);
}

#define ARGV(...) (char *[]){__VA_ARGS__}, (int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *))

static int parse_list(struct parsed *r, char **argv, int argc)
{
    return parse(r, argc, argv);
}

Test(cli_base, options_stand_before_between_and_after_positionals)
{
    struct parsed r;
    cr_assert_eq(parse_list(&r, ARGV("db", "--format", "json", "people", "-x", "7")), CLI_OK);
    cr_assert_eq(r.npos, 3);
    cr_assert_str_eq(r.pos[0], "db");
    cr_assert_str_eq(r.pos[1], "people");
    cr_assert_str_eq(r.pos[2], "7");
    cr_assert_str_eq(r.format, "json");
    cr_assert(r.format_given);
    cr_assert(r.explain);
    cr_assert_not(r.help);

    cr_assert_eq(parse_list(&r, ARGV("--explain", "db")), CLI_OK);
    cr_assert(r.explain);
    cr_assert_eq(r.npos, 1);
    cr_assert_null(r.format);
    cr_assert_not(r.format_given);
}

Test(cli_base, option_values_take_every_spelling)
{
    struct parsed r;
    cr_assert_eq(parse_list(&r, ARGV("--format=csv")), CLI_OK);
    cr_assert_str_eq(r.format, "csv");
    cr_assert_eq(parse_list(&r, ARGV("-f", "csv")), CLI_OK);
    cr_assert_str_eq(r.format, "csv");
    cr_assert_eq(parse_list(&r, ARGV("-fjson")), CLI_OK);
    cr_assert_str_eq(r.format, "json");
    /* An empty value is a value; the caller judges it. */
    cr_assert_eq(parse_list(&r, ARGV("--format=")), CLI_OK);
    cr_assert_str_eq(r.format, "");
    /* The last one given wins. */
    cr_assert_eq(parse_list(&r, ARGV("--format", "csv", "d", "--format", "table")), CLI_OK);
    cr_assert_str_eq(r.format, "table");
    /* A value may itself start with a dash. */
    cr_assert_eq(parse_list(&r, ARGV("--limit", "-3")), CLI_OK);
    cr_assert_str_eq(r.limit, "-3");
}

Test(cli_base, double_dash_dash_alone_and_negative_numbers_are_positionals)
{
    struct parsed r;
    cr_assert_eq(parse_list(&r, ARGV("-", "--", "--format", "-x")), CLI_OK);
    cr_assert_eq(r.npos, 3);
    cr_assert_str_eq(r.pos[0], "-");
    cr_assert_str_eq(r.pos[1], "--format");
    cr_assert_str_eq(r.pos[2], "-x");
    cr_assert_null(r.format);
    cr_assert_not(r.explain);

    cr_assert_eq(parse_list(&r, ARGV("db", "-5", "-0.25")), CLI_OK);
    cr_assert_eq(r.npos, 3);
    cr_assert_str_eq(r.pos[1], "-5");
    cr_assert_str_eq(r.pos[2], "-0.25");
}

Test(cli_base, the_global_timeout_is_taken_out_wherever_it_stands)
{
    char *argv[] = {"vmdb", "--timeout", "300", "put", "db", "--timeout=7", "t", "--",
                    "--timeout", "9", NULL};
    int argc = 10;
    cr_assert_eq(cli_take_global_options(&argc, argv), CLI_OK);
    cr_assert_eq(cli_lock_timeout_ms, 7, "the last one given wins");
    const char *want[] = {"vmdb", "put", "db", "t", "--", "--timeout", "9"};
    cr_assert_eq(argc, 7);
    for (int i = 0; i < argc; i++)
        cr_assert_str_eq(argv[i], want[i]);
    cr_assert_null(argv[argc]);

    char *bad[] = {"vmdb", "get", "--timeout", "5s", NULL};
    argc = 4;
    capture_stderr();
    cr_assert_eq(cli_take_global_options(&argc, bad), CLI_ERROR);
    ASSERT_TEXT(captured_stderr(), "vmdb: --timeout: '5s' is not a number of milliseconds\n");
    char *missing[] = {"vmdb", "get", "--timeout", NULL};
    argc = 3;
    capture_stderr();
    cr_assert_eq(cli_take_global_options(&argc, missing), CLI_ERROR);
    ASSERT_TEXT(captured_stderr(), "vmdb: option --timeout needs a value\n");
    cli_lock_timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
    remove_test_dir();
}

Test(cli_base, help_anywhere_wins_over_every_other_problem)
{
    struct parsed r;
    cr_assert_eq(parse_list(&r, ARGV("a", "b", "c", "d", "--bogus", "--help")), CLI_OK);
    cr_assert(r.help);
    cr_assert_eq(parse_list(&r, ARGV("-h")), CLI_OK);
    cr_assert(r.help);
    /* After "--" it is a positional like any other. */
    cr_assert_eq(parse_list(&r, ARGV("--", "--help")), CLI_OK);
    cr_assert_not(r.help);
    cr_assert_str_eq(r.pos[0], "--help");
}

Test(cli_base, argument_errors_name_the_option_or_argument)
{
    struct parsed r;
    capture_stderr();
    cr_assert_eq(parse_list(&r, ARGV("db", "--bogus=1")), CLI_ERROR);
    ASSERT_TEXT(captured_stderr(), "vmdb: unknown option '--bogus'\n");

    capture_stderr();
    cr_assert_eq(parse_list(&r, ARGV("-q")), CLI_ERROR);
    ASSERT_TEXT(captured_stderr(), "vmdb: unknown option '-q'\n");

    capture_stderr();
    cr_assert_eq(parse_list(&r, ARGV("db", "--format")), CLI_ERROR);
    ASSERT_TEXT(captured_stderr(), "vmdb: option --format needs a value\n");

    capture_stderr();
    cr_assert_eq(parse_list(&r, ARGV("-f")), CLI_ERROR);
    ASSERT_TEXT(captured_stderr(), "vmdb: option -f needs a value\n");

    capture_stderr();
    cr_assert_eq(parse_list(&r, ARGV("--explain=yes")), CLI_ERROR);
    ASSERT_TEXT(captured_stderr(), "vmdb: option --explain takes no value ('--explain=yes')\n");

    capture_stderr();
    cr_assert_eq(parse_list(&r, ARGV("a", "b", "c", "extra")), CLI_ERROR);
    ASSERT_TEXT(captured_stderr(), "vmdb: unexpected argument 'extra'\n");
    remove_test_dir();
}

/* ---- formats ------------------------------------------------------------ */

Test(cli_base, format_names_parse_and_others_are_refused)
{
    enum cli_format f = CLI_FORMAT_JSON;
    cr_assert_eq(cli_parse_format(NULL, &f), CLI_OK);
    cr_assert_eq(f, CLI_FORMAT_TABLE);
    cr_assert_eq(cli_parse_format("csv", &f), CLI_OK);
    cr_assert_eq(f, CLI_FORMAT_CSV);
    cr_assert_eq(cli_parse_format("json", &f), CLI_OK);
    cr_assert_eq(f, CLI_FORMAT_JSON);
    cr_assert_eq(cli_parse_format("table", &f), CLI_OK);
    cr_assert_eq(f, CLI_FORMAT_TABLE);
    capture_stderr();
    cr_assert_eq(cli_parse_format("xml", &f), CLI_ERROR);
    ASSERT_TEXT(captured_stderr(), "vmdb: unknown format 'xml' (table, csv, json)\n");
    remove_test_dir();
}

Test(cli_base, cell_kinds_follow_the_field_types)
{
    for (enum vmdb_type t = VMDB_TYPE_U8; t <= VMDB_TYPE_F64; t++)
        cr_assert_eq(cli_cell_kind_of(t), CLI_CELL_NUMBER, "type %d", (int)t);
    cr_assert_eq(cli_cell_kind_of(VMDB_TYPE_BOOL), CLI_CELL_BOOL);
    cr_assert_eq(cli_cell_kind_of(VMDB_TYPE_STR), CLI_CELL_TEXT);
    cr_assert_eq(cli_cell_kind_of(VMDB_TYPE_BYTES), CLI_CELL_TEXT);
}

static const char *const three[] = {"id", "name", "score"};

Test(cli_base, table_aligns_columns_and_right_aligns_numbers)
{
    cli_printer *p = open_printer(CLI_FORMAT_TABLE, 3, three);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("1"), txt("Alice"), num("1.5")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("20"), txt("Bob"), num("-3")}), CLI_OK);
    cr_assert_eq(cli_printer_rows(p), 2);
    /* Nothing before close: the widths are not known yet. */
    fflush(memory_file);
    cr_assert_eq(memory_len, 0);
    ASSERT_TEXT(close_printer(p), "id  name   score\n"
                                  "--  -----  -----\n"
                                  " 1  Alice    1.5\n"
                                  "20  Bob       -3\n");
}

Test(cli_base, table_left_aligns_a_last_text_column_without_trailing_spaces)
{
    const char *const names[] = {"n", "comment"};
    cli_printer *p = open_printer(CLI_FORMAT_TABLE, 2, names);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("100"), txt("hi")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("7"), txt("a longer one")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("8"), boolean("true")}), CLI_OK);
    ASSERT_TEXT(close_printer(p), "  n  comment\n"
                                  "---  ------------\n"
                                  "100  hi\n"
                                  "  7  a longer one\n"
                                  "  8  true\n");
}

Test(cli_base, table_shows_control_characters_and_bad_utf8_escaped)
{
    const char *const names[] = {"s", "t"};
    cli_printer *p = open_printer(CLI_FORMAT_TABLE, 2, names);
    cli_cell tricky = {"a\nb\tc\x01\xff", 7, CLI_CELL_TEXT};
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){tricky, txt("x")}), CLI_OK);
    /* é is two bytes but one column. */
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){txt("caf\xc3\xa9"), txt("y")}), CLI_OK);
    ASSERT_TEXT(close_printer(p), "s                t\n"
                                  "---------------  -\n"
                                  "a\\nb\\tc\\x01\\xff  x\n"
                                  "caf\xc3\xa9             y\n");
}

Test(cli_base, table_with_no_rows_prints_the_header)
{
    cli_printer *p = open_printer(CLI_FORMAT_TABLE, 3, three);
    ASSERT_TEXT(close_printer(p), "id  name  score\n"
                                  "--  ----  -----\n");
}

/* A first row that renders to nothing finds the line buffer not yet
 * allocated: `SELECT ''`, and `get` or `export --format table` of a record
 * whose fields are all empty, once copied from a null pointer (UBSan). */
Test(cli_base, table_whose_first_rows_are_all_empty_cells)
{
    const char *const quoted[] = {"''"};
    cli_printer *p = open_printer(CLI_FORMAT_TABLE, 1, quoted);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){txt("")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){txt("")}), CLI_OK);
    ASSERT_TEXT(close_printer(p), "''\n"
                                  "--\n"
                                  "\n"
                                  "\n");

    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("k:str8 key, v:str4", &s));
    unsigned char rec[16] = {0};
    cr_assert_leq(vmdb_schema_record_size(s), sizeof rec);
    const char *const names[] = {"k", "v"};
    p = open_printer(CLI_FORMAT_TABLE, 2, names);
    cr_assert_eq(cli_print_record(p, s, rec), CLI_OK);
    ASSERT_TEXT(close_printer(p), "k  v\n"
                                  "-  -\n"
                                  "   \n");
    vmdb_schema_free(s);
}

Test(cli_base, table_streams_after_the_sizing_rows_and_loses_none)
{
    const char *const names[] = {"n"};
    cli_printer *p = open_printer(CLI_FORMAT_TABLE, 1, names);
    char text[32];
    for (int i = 0; i < 10000; i++) {
        /* The widest value comes last, after the widths are settled. */
        snprintf(text, sizeof text, "%d", i == 9999 ? 123456789 : i % 10);
        cr_assert_eq(cli_printer_row(p, (cli_cell[]){num(text)}), CLI_OK);
    }
    /* Settled and printed before the end: not all held in memory. */
    fflush(memory_file);
    cr_assert_gt(memory_len, 0);
    const char *out = close_printer(p);
    size_t lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 10002);
    cr_assert(!strncmp(out, "n\n-\n0\n1\n", 8), "%.20s", out);
    ASSERT_TEXT(out + strlen(out) - 11, "\n123456789\n");
}

Test(cli_base, csv_quotes_as_rfc4180_says)
{
    cli_printer *p = open_printer(CLI_FORMAT_CSV, 3, three);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("1"), txt("Smith, J."), num("0.5")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("2"), txt("say \"hi\""), num("inf")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("3"), txt("two\nlines\r"), num("-0")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("4"), txt(""), num("1e+300")}), CLI_OK);
    cli_cell raw = {"\xff\x01 ok", 5, CLI_CELL_TEXT};
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("5"), raw, boolean("false")}), CLI_OK);
    ASSERT_TEXT(close_printer(p), "id,name,score\n"
                                  "1,\"Smith, J.\",0.5\n"
                                  "2,\"say \"\"hi\"\"\",inf\n"
                                  "3,\"two\nlines\r\",-0\n"
                                  "4,,1e+300\n"
                                  "5,\xff\x01 ok,false\n");
}

Test(cli_base, csv_quotes_header_names_and_a_lone_empty_field)
{
    const char *const names[] = {"a,b"};
    cli_printer *p = open_printer(CLI_FORMAT_CSV, 1, names);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){txt("")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){txt("x")}), CLI_OK);
    ASSERT_TEXT(close_printer(p), "\"a,b\"\n\"\"\nx\n");

    p = open_printer(CLI_FORMAT_CSV, 3, three);
    ASSERT_TEXT(close_printer(p), "id,name,score\n");
}

Test(cli_base, json_writes_numbers_bare_and_the_rest_as_strings)
{
    const char *const names[] = {"i", "f", "b", "s"};
    cli_printer *p = open_printer(CLI_FORMAT_JSON, 4, names);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("-12"), num("1e+300"), boolean("true"),
                                                 txt("plain")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("0"), num("inf"), boolean("false"),
                                                 txt("")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("18446744073709551615"), num("-inf"),
                                                 boolean("1"), txt("0")}), CLI_OK);
    /* Text that is no JSON number is quoted rather than written broken. */
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("0x10"), num("nan"), boolean("maybe"),
                                                 txt("1.")}), CLI_OK);
    ASSERT_TEXT(close_printer(p),
                "{\"i\":-12,\"f\":1e+300,\"b\":true,\"s\":\"plain\"}\n"
                "{\"i\":0,\"f\":\"inf\",\"b\":false,\"s\":\"\"}\n"
                "{\"i\":18446744073709551615,\"f\":\"-inf\",\"b\":true,\"s\":\"0\"}\n"
                "{\"i\":\"0x10\",\"f\":\"nan\",\"b\":\"maybe\",\"s\":\"1.\"}\n");
}

Test(cli_base, json_escapes_quotes_backslashes_and_control_characters)
{
    const char *const names[] = {"s\"q"};
    cli_printer *p = open_printer(CLI_FORMAT_JSON, 1, names);
    cli_cell all = {"\"\\/\b\f\n\r\t\x01\x1f\x7f\0z", 13, CLI_CELL_TEXT};
    cr_assert_eq(cli_printer_row(p, &all), CLI_OK);
    ASSERT_TEXT(close_printer(p),
                "{\"s\\\"q\":\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\\u0000z\"}\n");
}

Test(cli_base, json_keeps_valid_utf8_and_replaces_invalid_bytes)
{
    const char *const names[] = {"s"};
    cli_printer *p = open_printer(CLI_FORMAT_JSON, 1, names);
    /* é, €, 😀 pass through; a lone 0xff, an overlong '/', a surrogate and
     * a sequence cut short each give one U+FFFD per byte. */
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){txt("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80")}),
                 CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){txt("a\xff" "b")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){txt("\xc0\xaf")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){txt("\xed\xa0\x80")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){txt("x\xe2\x82")}), CLI_OK);
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){txt("\xf4\x90\x80\x80")}), CLI_OK);
#define R "\xef\xbf\xbd"
    ASSERT_TEXT(close_printer(p), "{\"s\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}\n"
                                  "{\"s\":\"a" R "b\"}\n"
                                  "{\"s\":\"" R R "\"}\n"
                                  "{\"s\":\"" R R R "\"}\n"
                                  "{\"s\":\"x" R R "\"}\n"
                                  "{\"s\":\"" R R R R "\"}\n");
#undef R
}

Test(cli_base, json_with_no_rows_prints_nothing)
{
    cli_printer *p = open_printer(CLI_FORMAT_JSON, 3, three);
    ASSERT_TEXT(close_printer(p), "");
    cr_assert_eq(cli_printer_close(NULL), CLI_OK);
}

Test(cli_base, a_record_prints_every_field_in_each_format)
{
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u64 key, name:str8, ok:bool, score:f64, blob:bytes2, "
                                "t:i8",
                                &s));
    unsigned char rec[64] = {0};
    cr_assert_lt(vmdb_schema_record_size(s), sizeof rec);
    ASSERT_OK(vmdb_record_set_text(s, rec, 0, "7"));
    ASSERT_OK(vmdb_record_set_text(s, rec, 1, "Al\"x,y"));
    ASSERT_OK(vmdb_record_set_text(s, rec, 2, "yes"));
    ASSERT_OK(vmdb_record_set_text(s, rec, 3, "0.1"));
    ASSERT_OK(vmdb_record_set_text(s, rec, 4, "0x0102"));
    ASSERT_OK(vmdb_record_set_text(s, rec, 5, "-128"));
    const char *const names[] = {"id", "name", "ok", "score", "blob", "t"};

    cli_printer *p = open_printer(CLI_FORMAT_JSON, 6, names);
    cr_assert_eq(cli_print_record(p, s, rec), CLI_OK);
    ASSERT_TEXT(close_printer(p), "{\"id\":7,\"name\":\"Al\\\"x,y\",\"ok\":true,\"score\":0.1,"
                                  "\"blob\":\"0x0102\",\"t\":-128}\n");
    p = open_printer(CLI_FORMAT_CSV, 6, names);
    cr_assert_eq(cli_print_record(p, s, rec), CLI_OK);
    cr_assert_eq(cli_print_record(p, s, rec), CLI_OK);
    ASSERT_TEXT(close_printer(p), "id,name,ok,score,blob,t\n"
                                  "7,\"Al\"\"x,y\",true,0.1,0x0102,-128\n"
                                  "7,\"Al\"\"x,y\",true,0.1,0x0102,-128\n");
    p = open_printer(CLI_FORMAT_TABLE, 6, names);
    cr_assert_eq(cli_print_record(p, s, rec), CLI_OK);
    ASSERT_TEXT(close_printer(p), "id  name    ok    score  blob       t\n"
                                  "--  ------  ----  -----  ------  ----\n"
                                  " 7  Al\"x,y  true    0.1  0x0102  -128\n");
    vmdb_schema_free(s);
}

Test(cli_base, a_record_with_long_fields_grows_the_scratch)
{
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("k:u8, a:bytes4096, b:str4096", &s));
    unsigned char *rec = calloc(1, vmdb_schema_record_size(s));
    memset(rec + 1, 0xab, 4096);
    memset(rec + 1 + 4096, 'q', 4096);
    const char *const names[] = {"k", "a", "b"};
    cli_printer *p = open_printer(CLI_FORMAT_CSV, 3, names);
    cr_assert_eq(cli_print_record(p, s, rec), CLI_OK);
    const char *out = close_printer(p);
    cr_assert_eq(strlen(out), strlen("k,a,b\n") + 2 + 2 + 8192 + 1 + 4096 + 1);
    cr_assert(!strncmp(out, "k,a,b\n0,0xabab", 14));
    free(rec);
    vmdb_schema_free(s);
}

Test(cli_base, a_write_that_fails_is_an_error_at_close)
{
    FILE *full = fopen("/dev/full", "w");
    cr_assert_not_null(full);
    cli_printer *p = cli_printer_open(CLI_FORMAT_JSON, full, 3, three);
    cr_assert_not_null(p);
    capture_stderr();
    cr_assert_eq(cli_printer_row(p, (cli_cell[]){num("1"), txt("a"), num("2")}), CLI_OK);
    cr_assert_eq(cli_printer_close(p), CLI_ERROR);
    const char *err = captured_stderr();
    cr_assert(!strncmp(err, "vmdb: cannot write the output: ", 31), "%s", err);
    fclose(full);
    remove_test_dir();
}

/* ---- database access ---------------------------------------------------- */

Test(cli_base, opening_a_missing_database_names_it)
{
    const char *path = test_path("nowhere");
    vmdb_db *db = (vmdb_db *)1;
    capture_stderr();
    cr_assert_eq(cli_open_db(path, VMDB_DB_READONLY, &db), CLI_ERROR);
    const char *err = captured_stderr();
    cr_assert_null(db);
    char want[600];
    snprintf(want, sizeof want, "vmdb: %s: no such database\n", path);
    ASSERT_TEXT(err, want);
    remove_test_dir();
}

Test(cli_base, a_command_whose_close_fails_after_its_write_is_an_error)
{
    const char *path = test_path("db");
    vmdb_db *db;
    cr_assert_eq(cli_open_db(path, VMDB_DB_CREATE, &db), CLI_OK);
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u8 key, name:str4", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "people", s, &t));
    vmdb_schema_free(s);
    ASSERT_OK(vmdb_close(db));
    /* The put commits (NONE: no flush before it returns); the flush of its
     * log fails, in the flusher or in the close's checkpoint, and only the
     * close can say so. */
    vmdb__os_inject_fault(VMDB__OS_OP_FLUSH, EIO, 0);
    vmdb__os_inject_fault(VMDB__OS_OP_SYNC, EIO, 0);
    /* put writes into its FIELD=VALUE arguments, as into main's. */
    char db_arg[512], table[] = "people", id[] = "id=1", name[] = "name=Ann";
    snprintf(db_arg, sizeof db_arg, "%s", path);
    char *argv[] = {db_arg, table, id, name, NULL};
    capture_stderr();
    int status = cli_put_command.run(4, argv);
    const char *err = captured_stderr();
    vmdb__os_clear_faults();
    cr_assert_eq(status, CLI_ERROR, "exit %d; stderr: %s", status, err);
    cr_assert(!strncmp(err, "vmdb: ", 6) && strchr(err, '\n') == err + strlen(err) - 1,
              "one line: %s", err);
    /* The next open recovers what the log holds. */
    cr_assert_eq(cli_open_db(path, 0, &db), CLI_OK);
    vmdb_close(db);
    remove_test_dir();
}

Test(cli_base, tables_open_by_name_and_a_missing_one_is_named)
{
    const char *path = test_path("db");
    vmdb_db *db;
    cr_assert_eq(cli_open_db(path, VMDB_DB_CREATE, &db), CLI_OK);
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u8 key, name:str4", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "people", s, &t));
    vmdb_schema_free(s);

    vmdb_table *found;
    cr_assert_eq(cli_open_table(db, path, "people", &found), CLI_OK);
    cr_assert_eq(found, t);

    capture_stderr();
    cr_assert_eq(cli_open_table(db, path, "pets", &found), CLI_ERROR);
    const char *err = captured_stderr();
    char want[600];
    snprintf(want, sizeof want, "vmdb: %s: no table 'pets'\n", path);
    ASSERT_TEXT(err, want);
    vmdb_close(db);
    remove_test_dir();
}

Test(cli_base, keys_from_text_and_their_errors_name_table_and_field)
{
    const char *path = test_path("db");
    vmdb_db *db;
    cr_assert_eq(cli_open_db(path, VMDB_DB_CREATE, &db), CLI_OK);
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("n:u32, id:u8 key", &s));
    vmdb_table *nums;
    ASSERT_OK(vmdb_table_create(db, "nums", s, &nums));
    vmdb_schema_free(s);
    ASSERT_OK(vmdb_schema_parse("name:str8 key", &s));
    vmdb_table *names;
    ASSERT_OK(vmdb_table_create(db, "names", s, &names));
    vmdb_schema_free(s);

    unsigned char rec[16] = {0};
    const void *key;
    size_t key_len;
    cr_assert_eq(cli_key_from_text(nums, "200", rec, &key, &key_len), CLI_OK);
    cr_assert_eq(key_len, 1);
    cr_assert_eq(key, rec + 4);
    cr_assert_eq(rec[4], 200);

    memset(rec, 0, sizeof rec);
    cr_assert_eq(cli_key_from_text(names, "bob", rec, &key, &key_len), CLI_OK);
    cr_assert_eq(key_len, 3, "a str key stops at its first NUL");
    cr_assert_eq(memcmp(key, "bob", 3), 0);

    capture_stderr();
    cr_assert_eq(cli_key_from_text(nums, "300", rec, &key, &key_len), CLI_ERROR);
    ASSERT_TEXT(captured_stderr(), "vmdb: nums.id: value 300 does not fit u8\n");
    capture_stderr();
    cr_assert_eq(cli_key_from_text(nums, "abc", rec, &key, &key_len), CLI_ERROR);
    ASSERT_TEXT(captured_stderr(), "vmdb: nums.id: 'abc' is not a number\n");
    capture_stderr();
    cr_assert_eq(cli_key_from_text(names, "much too long", rec, &key, &key_len), CLI_ERROR);
    ASSERT_TEXT(captured_stderr(), "vmdb: names.name: 'much too long' is 13 bytes, more than str8\n");
    vmdb_close(db);
    remove_test_dir();
}
