/* SPDX-License-Identifier: MIT */
/*
 * cli/schema_guess.h - a field type chosen from the values a column of
 * a file shows, for `vmdb import --create`.
 *
 * The rules, for the non-empty values seen (an empty cell says nothing):
 *   - every value true or false (any case)            -> bool
 *   - every value a decimal integer                   -> the narrowest of
 *     u8 u16 u32 u64 that holds them all when none is negative, else of
 *     i8 i16 i32 i64; none that holds them all         -> str
 *   - every value a decimal number, some not integers -> f64
 *   - anything else, a json string (even "12" or ""),
 *     and a column with no value                      -> strN, N the
 *     longest value's bytes rounded up to a power of two, at least 8
 * A decimal integer is an optional '-' and digits; a decimal number may
 * add a fraction and an exponent ("-1.5", ".5", "2e10"). A number with a
 * leading zero ("007", "02134") or a '+' is text: it is an identifier or
 * a code, whose zeros a number would lose. "0x10", "inf" and "nan" are
 * text too, since nothing in the column says they are meant as numbers.
 * Integers stay exact: a column of integers beyond i64 and u64 together is
 * text, not f64.
 */
#ifndef VMDB_CLI_SCHEMA_GUESS_H
#define VMDB_CLI_SCHEMA_GUESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a column's values have shown so far; zeroed, then
 * column_guess_start. */
typedef struct column_guess {
    uint64_t values;       /* non-empty values seen */
    bool integers;         /* every value a decimal integer within
                              i64 or u64 */
    bool numbers;          /* every value a decimal number */
    bool bools;            /* every value true or false */
    int64_t least;         /* the least integer, when negative; else 0 */
    uint64_t greatest;     /* the greatest non-negative integer */
    size_t longest;        /* bytes of the longest value */
    uint64_t longest_line; /* the line that holds it */
} column_guess;

void column_guess_start(column_guess *g);

/* Takes one value of the column (`len` bytes, which may hold anything),
 * found on `line`. An empty value is ignored. */
void column_guess_add(column_guess *g, const char *text, size_t len, uint64_t line);

/* Takes a value that is text whatever it looks like (a json string, even
 * "12" or ""): the column is then strN. */
void column_guess_add_text(column_guess *g, size_t len, uint64_t line);

/* The type of the values seen, as the schema text writes it ("u16",
 * "f64", "str32") into buf; false when the longest value is longer than
 * any strN can hold (4096 bytes), which g->longest_line names. */
#define COLUMN_GUESS_TYPE_CAP 16
bool column_guess_type(const column_guess *g, char buf[COLUMN_GUESS_TYPE_CAP]);

/* True if the `len` bytes of `name` make a field (or table) name:
 * [A-Za-z_][A-Za-z0-9_]*, at most 63 bytes. */
bool schema_guess_valid_name(const char *name, size_t len);

#endif /* VMDB_CLI_SCHEMA_GUESS_H */
