/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cli_schema_guess.c - the field type `vmdb import --create`
 * chooses for a column from its values (cli/schema_guess.c).
 */
#include "helpers.h"

#include "schema_guess.h"

TestSuite(cli_schema_guess, .timeout = SUITE_TIMEOUT);

/* The type chosen for the values, given as a NULL-terminated list. */
static const char *type_of(const char *const *values)
{
    static char type[COLUMN_GUESS_TYPE_CAP];
    column_guess g;
    column_guess_start(&g);
    for (size_t i = 0; values[i]; i++)
        column_guess_add(&g, values[i], strlen(values[i]), i + 2);
    cr_assert(column_guess_type(&g, type));
    return type;
}

#define EXPECT_TYPE(want, ...)                                                 \
    do {                                                                       \
        const char *const values_[] = {__VA_ARGS__, NULL};                     \
        cr_assert_str_eq(type_of(values_), (want), "values: %s", #__VA_ARGS__); \
    } while (0)

Test(cli_schema_guess, integers_take_the_narrowest_type_that_holds_them_all)
{
    EXPECT_TYPE("u8", "0", "255", "");
    EXPECT_TYPE("u16", "256", "1");
    EXPECT_TYPE("u32", "65536");
    EXPECT_TYPE("u32", "4294967295");
    EXPECT_TYPE("u64", "4294967296");
    EXPECT_TYPE("u64", "18446744073709551615");
    EXPECT_TYPE("u8", "-0", "7");
    EXPECT_TYPE("i8", "-128", "127");
    EXPECT_TYPE("i16", "-129", "1");
    EXPECT_TYPE("i16", "-1", "128");
    EXPECT_TYPE("i32", "-40000");
    EXPECT_TYPE("i64", "-2147483649");
    EXPECT_TYPE("i64", "-9223372036854775808", "9223372036854775807");
}

Test(cli_schema_guess, integers_no_type_holds_exactly_are_text)
{
    EXPECT_TYPE("str32", "18446744073709551616");
    EXPECT_TYPE("str32", "-9223372036854775809");
    EXPECT_TYPE("str32", "-1", "18446744073709551615");
}

Test(cli_schema_guess, decimals_are_f64_and_codes_that_look_like_numbers_are_text)
{
    EXPECT_TYPE("f64", "1.5");
    EXPECT_TYPE("f64", "1", "2.25", "-3");
    EXPECT_TYPE("f64", ".5", "1.", "-1e3", "2E+10", "0.001");
    EXPECT_TYPE("str8", "1e999");
    EXPECT_TYPE("str8", "02134", "10001");
    EXPECT_TYPE("str8", "+5");
    EXPECT_TYPE("str8", "0x10");
    EXPECT_TYPE("str8", "inf");
    EXPECT_TYPE("str8", "nan");
    EXPECT_TYPE("str8", "1,5");
    EXPECT_TYPE("str8", " 1");
    EXPECT_TYPE("str8", "-");
    EXPECT_TYPE("str8", "1e");
    EXPECT_TYPE("str8", "00.5");
}

Test(cli_schema_guess, true_and_false_are_bool_and_nothing_else_is)
{
    EXPECT_TYPE("bool", "true", "FALSE", "True");
    EXPECT_TYPE("str8", "true", "yes");
    EXPECT_TYPE("u8", "1", "0");
    EXPECT_TYPE("str8", "true", "1");
}

Test(cli_schema_guess, text_is_str_of_the_longest_value_rounded_up_to_a_power_of_two)
{
    EXPECT_TYPE("str8", "");
    EXPECT_TYPE("str8", "a");
    EXPECT_TYPE("str8", "abcdefgh");
    EXPECT_TYPE("str16", "abcdefghi");
    EXPECT_TYPE("str16", "x", "1", "0123456789abcdef");
    EXPECT_TYPE("str32", "0123456789abcdefg");

    column_guess g;
    column_guess_start(&g);
    char *value = malloc(4097);
    memset(value, 'v', 4097);
    char type[COLUMN_GUESS_TYPE_CAP];
    column_guess_add(&g, value, 4096, 2);
    cr_assert(column_guess_type(&g, type));
    cr_assert_str_eq(type, "str4096");
    column_guess_add(&g, value, 4097, 9);
    cr_assert_not(column_guess_type(&g, type), "no strN holds 4097 bytes");
    cr_assert_eq(g.longest, 4097);
    cr_assert_eq(g.longest_line, 9);
    free(value);
}

Test(cli_schema_guess, a_json_string_is_text_whatever_it_holds)
{
    column_guess g;
    column_guess_start(&g);
    column_guess_add(&g, "12", 2, 1);
    column_guess_add_text(&g, 2, 2);
    char type[COLUMN_GUESS_TYPE_CAP];
    cr_assert(column_guess_type(&g, type));
    cr_assert_str_eq(type, "str8");
    column_guess_start(&g);
    column_guess_add_text(&g, 0, 1);
    cr_assert(column_guess_type(&g, type));
    cr_assert_str_eq(type, "str8");
}

Test(cli_schema_guess, field_names_are_letters_digits_and_underscores)
{
    cr_assert(schema_guess_valid_name("id", 2));
    cr_assert(schema_guess_valid_name("_x9", 3));
    cr_assert_not(schema_guess_valid_name("9x", 2));
    cr_assert_not(schema_guess_valid_name("first name", 10));
    cr_assert_not(schema_guess_valid_name("", 0));
    cr_assert_not(schema_guess_valid_name("a\0b", 3));
    char name[65];
    memset(name, 'n', sizeof name);
    cr_assert(schema_guess_valid_name(name, 63));
    cr_assert_not(schema_guess_valid_name(name, 64));
}
