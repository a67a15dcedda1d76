/* SPDX-License-Identifier: MIT */
/*
 * cli/schema_guess.c - a field type chosen from a column's values (the
 * rules are in schema_guess.h).
 */
#include "schema_guess.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_STR 4096 /* VMDB_SCHEMA_MAX_STR */
#define MIN_STR 8

void column_guess_start(column_guess *g)
{
    *g = (column_guess){.integers = true, .numbers = true, .bools = true};
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Digits from text[*i] on; false for none, or for a leading zero before
 * another digit. */
static bool digits(const char *text, size_t len, size_t *i)
{
    size_t start = *i;
    while (*i < len && is_digit(text[*i]))
        (*i)++;
    return *i > start && !(text[start] == '0' && *i - start > 1);
}

enum value_kind { VALUE_INTEGER, VALUE_BIG_INTEGER, VALUE_DECIMAL, VALUE_TEXT };

/* A decimal integer: *negative and *magnitude, when it fits i64 or u64
 * (VALUE_INTEGER); VALUE_BIG_INTEGER when it does not; else VALUE_TEXT. */
static enum value_kind parse_integer(const char *text, size_t len, bool *negative,
                                     uint64_t *magnitude)
{
    *negative = text[0] == '-';
    size_t i = *negative;
    if (!digits(text, len, &i) || i != len)
        return VALUE_TEXT;
    uint64_t v = 0;
    for (size_t k = *negative; k < len; k++) {
        unsigned d = (unsigned)(text[k] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return VALUE_BIG_INTEGER;
        v = v * 10 + d;
    }
    if (*negative && v > (uint64_t)INT64_MAX + 1)
        return VALUE_BIG_INTEGER;
    *magnitude = v;
    return VALUE_INTEGER;
}

/* -?(digits)?(.digits)?([eE][+-]?digits)? with a digit in the mantissa,
 * whose value is finite. */
static bool is_decimal(const char *text, size_t len)
{
    size_t i = text[0] == '-';
    bool whole = i < len && is_digit(text[i]);
    if (whole && !digits(text, len, &i))
        return false;
    bool fraction = false;
    if (i < len && text[i] == '.') {
        i++;
        size_t start = i;
        while (i < len && is_digit(text[i]))
            i++;
        fraction = i > start;
    }
    if (!whole && !fraction)
        return false;
    if (i < len && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        if (i < len && (text[i] == '+' || text[i] == '-'))
            i++;
        size_t start = i;
        while (i < len && is_digit(text[i]))
            i++;
        if (i == start)
            return false;
    }
    if (i != len)
        return false;
    /* The grammar above is a subset of strtod's; a value past a double's
     * range (1e999) would not fit an f64 field. */
    char *copy = malloc(len + 1);
    if (!copy)
        return false; /* text is the type that holds anything */
    memcpy(copy, text, len);
    copy[len] = '\0';
    bool finite = isfinite(strtod(copy, NULL));
    free(copy);
    return finite;
}

static bool is_bool(const char *text, size_t len)
{
    return (len == 4 && !strncasecmp(text, "true", 4)) ||
           (len == 5 && !strncasecmp(text, "false", 5));
}

void column_guess_add(column_guess *g, const char *text, size_t len, uint64_t line)
{
    if (len == 0)
        return;
    g->values++;
    if (len > g->longest) {
        g->longest = len;
        g->longest_line = line;
    }
    bool negative = false;
    uint64_t magnitude = 0;
    enum value_kind kind = parse_integer(text, len, &negative, &magnitude);
    if (kind == VALUE_TEXT && g->numbers && is_decimal(text, len))
        kind = VALUE_DECIMAL;
    if (kind == VALUE_INTEGER && negative && magnitude) {
        int64_t v = magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)magnitude;
        if (v < g->least)
            g->least = v;
    } else if (kind == VALUE_INTEGER && magnitude > g->greatest) {
        g->greatest = magnitude;
    }
    g->integers &= kind == VALUE_INTEGER;
    /* An f64 would round a big integer: such a column stays exact as text. */
    g->numbers &= kind == VALUE_INTEGER || kind == VALUE_DECIMAL;
    if (g->bools)
        g->bools = is_bool(text, len);
}

void column_guess_add_text(column_guess *g, size_t len, uint64_t line)
{
    g->values++;
    if (len > g->longest) {
        g->longest = len;
        g->longest_line = line;
    }
    g->integers = g->numbers = g->bools = false;
}

/* The narrowest integer type that holds every value, or NULL. */
static const char *integer_type(const column_guess *g)
{
    if (g->least == 0) {
        if (g->greatest <= UINT8_MAX)
            return "u8";
        if (g->greatest <= UINT16_MAX)
            return "u16";
        if (g->greatest <= UINT32_MAX)
            return "u32";
        return "u64";
    }
    if (g->least >= INT8_MIN && g->greatest <= INT8_MAX)
        return "i8";
    if (g->least >= INT16_MIN && g->greatest <= INT16_MAX)
        return "i16";
    if (g->least >= INT32_MIN && g->greatest <= INT32_MAX)
        return "i32";
    if (g->greatest <= INT64_MAX)
        return "i64";
    return NULL;
}

bool column_guess_type(const column_guess *g, char buf[COLUMN_GUESS_TYPE_CAP])
{
    const char *type = NULL;
    if (g->values && g->bools)
        type = "bool";
    else if (g->values && g->integers)
        type = integer_type(g);
    else if (g->values && g->numbers)
        type = "f64";
    if (type) {
        snprintf(buf, COLUMN_GUESS_TYPE_CAP, "%s", type);
        return true;
    }
    if (g->longest > MAX_STR)
        return false;
    /* A power of two leaves room for the longer values that the rows after
     * the sample may hold, at the cost of at most half the field unused. */
    size_t n = MIN_STR;
    while (n < g->longest)
        n *= 2;
    snprintf(buf, COLUMN_GUESS_TYPE_CAP, "str%zu", n);
    return true;
}

bool schema_guess_valid_name(const char *name, size_t len)
{
    if (len == 0 || len > 63 || is_digit(name[0]))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'))
            return false;
    }
    return true;
}
