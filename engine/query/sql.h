/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql.h - the SQL subset of `vmdb query` and `vmdb shell`: tokens, the
 * syntax tree, values, and the plan that runs a statement over a table.
 *
 *   text --sql_lex--> tokens --sql_parse--> sql_stmt (syntax tree)
 *        --sql_plan--> sql_plan (names bound to fields, types checked,
 *                      access path chosen) --sql_execute--> rows / changes
 *
 * The language (docs: `vmdb query --help`):
 *
 *   SELECT item, ... [FROM t [WHERE e] [GROUP BY col, ...]
 *          [ORDER BY e [ASC|DESC], ...] [LIMIT n [OFFSET m]]]
 *       item := * | e [[AS] alias];  aggregates COUNT(*), COUNT(e),
 *       SUM(e), MIN(e), MAX(e), AVG(e)
 *   INSERT INTO t [(col, ...)] VALUES (e, ...), ...
 *   UPDATE t SET col = e, ... [WHERE e]
 *   DELETE FROM t [WHERE e]
 *
 *   e := e OR e | e AND e | NOT e | e cmp e | e [NOT] LIKE e [ESCAPE 'c']
 *      | e [NOT] IN (e, ...) | e [NOT] BETWEEN e AND e
 *      | e + e | e - e | e * e | e / e | e % e | -e | (e)
 *      | 123 | 0x7f | 1.5 | 1e-3 | 'it''s' | TRUE | FALSE | col | t.col
 *   cmp := = | != | <> | < | <= | > | >=
 *
 * There is no NULL: a vmdb record has fixed-size fields that always hold a
 * value, so every expression has a value and logic is two-valued. NULL in
 * a statement is an error that says so. An aggregate over no rows has no
 * value either: COUNT and SUM give 0, and a query asking MIN, MAX or AVG
 * of no rows returns no row.
 *
 * Types are static: each expression's type follows from the fields' types
 * and the literals, and the planner refuses mixtures (text = 5) before a
 * row is read. Integers are exact over [-2^63, 2^64-1], the union of i64
 * and u64, so every integer field's value is representable and compares
 * correctly with every other; an integer result outside that range is an
 * error naming the operation. Integer / and % truncate toward zero.
 * Floats are IEEE doubles; a comparison of an integer with a float is
 * exact. Division or modulo by zero is an error for both. Text compares
 * bytewise; LIKE is case-sensitive, '_' matches one UTF-8 character, and
 * has no escape character unless ESCAPE names one. A bytesN field's value
 * is its raw bytes, compared with memcmp, written as 0x... hex; a text
 * literal compared with one must be hex ('0x0a0b').
 */
#ifndef VMDB_CLI_SQL_H
#define VMDB_CLI_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmdb.h"

/* ---- errors ------------------------------------------------------------- */

/* What went wrong, without the "vmdb: " prefix, and where in the
 * statement's text when a token is at fault (line and col are 1-based;
 * col 0 means no position). */
typedef struct sql_error {
    char message[600];
    int code;      /* the VMDB_E* code the public API returns for it; 0 for
                      the caller's default (vmdb_prepare: VMDB_ESYNTAX
                      while parsing, VMDB_EINVAL while planning) */
    unsigned line; /* line within the statement's text */
    unsigned col;  /* byte within that line */
} sql_error;

/* Formats the error as one line into dst: the message, then "(col C)", or
 * "(line L, col C)" when with_line is set. */
void sql_error_text(const sql_error *err, bool with_line, char *dst, size_t cap);

/* Fills *err (position line/col, 0 for none) and returns -1. */
int sql_fail(sql_error *err, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A library call failed: *err takes its message (after prefix) and code;
 * -1. */
int sql_fail_library(sql_error *err, const char *prefix);
/* Out of memory while `doing` ("running", "planning") the statement:
 * VMDB_ENOMEM; -1. */
int sql_fail_oom(sql_error *err, const char *doing);

/* ---- tokens ------------------------------------------------------------- */

enum sql_token_kind {
    SQL_TOK_END,     /* end of the text */
    SQL_TOK_IDENT,   /* name, or "quoted name" */
    SQL_TOK_KEYWORD, /* a reserved word; see sql_keyword */
    SQL_TOK_INT,     /* 123, 0x7f */
    SQL_TOK_FLOAT,   /* 1.5, 1e9, .5 */
    SQL_TOK_STRING,  /* 'text', '' inside for a quote */
    SQL_TOK_OP,      /* punctuation and operators; see sql_op */
};

enum sql_keyword {
    SQL_KW_NONE,
    SQL_KW_SELECT, SQL_KW_FROM, SQL_KW_WHERE, SQL_KW_GROUP, SQL_KW_BY,
    SQL_KW_ORDER, SQL_KW_ASC, SQL_KW_DESC, SQL_KW_LIMIT, SQL_KW_OFFSET,
    SQL_KW_INSERT, SQL_KW_INTO, SQL_KW_VALUES, SQL_KW_UPDATE, SQL_KW_SET,
    SQL_KW_DELETE, SQL_KW_AND, SQL_KW_OR, SQL_KW_NOT, SQL_KW_LIKE,
    SQL_KW_ESCAPE, SQL_KW_IN, SQL_KW_BETWEEN, SQL_KW_AS, SQL_KW_TRUE,
    SQL_KW_FALSE, SQL_KW_NULL, SQL_KW_IS,
    SQL_KW_DISTINCT, SQL_KW_HAVING, SQL_KW_CAST,
};

enum sql_op {
    SQL_OP_NONE,
    SQL_OP_LPAREN, SQL_OP_RPAREN, SQL_OP_COMMA, SQL_OP_SEMI, SQL_OP_DOT,
    SQL_OP_STAR, SQL_OP_PLUS, SQL_OP_MINUS, SQL_OP_SLASH, SQL_OP_PERCENT,
    SQL_OP_EQ, SQL_OP_NE, SQL_OP_LT, SQL_OP_LE, SQL_OP_GT, SQL_OP_GE,
    SQL_OP_QUESTION, /* a parameter's placeholder */
    SQL_OP_CONCAT,   /* || */
};

typedef struct sql_token {
    enum sql_token_kind kind;
    enum sql_keyword keyword; /* for SQL_TOK_KEYWORD */
    enum sql_op op;           /* for SQL_TOK_OP */
    const char *text;         /* into the statement's text: the token as
                                 written, quotes included */
    size_t len;               /* bytes of text */
    size_t offset;            /* bytes from the start of the statement */
    unsigned line, col;       /* 1-based */
} sql_token;

typedef struct sql_lexer {
    const char *text;
    size_t len;
    size_t pos;          /* bytes from the start */
    unsigned line;       /* of pos, 1-based */
    size_t line_start;   /* offset of the first byte of that line */
} sql_lexer;

void sql_lex_init(sql_lexer *lx, const char *text, size_t len);

/* The next token, skipping spaces and -- comments. A character that
 * starts no token, a number run into letters ("12ab") and a string or
 * quoted name without its closing quote are errors naming the token and
 * its position: -1 with *err filled. At the end, SQL_TOK_END forever. */
int sql_lex_next(sql_lexer *lx, sql_token *tok, sql_error *err);

/* The name of a keyword in capitals ("SELECT"), for messages. */
const char *sql_keyword_name(enum sql_keyword kw);

/*
 * For the shell: the length of the first complete statement in text[0,
 * len), its ';' included, skipping quotes and comments; 0 when no ';'
 * outside them has come yet (more lines needed).
 */
size_t sql_statement_end(const char *text, size_t len);

/* True if text holds nothing but spaces and comments. */
bool sql_is_blank(const char *text, size_t len);

/* ---- values ------------------------------------------------------------- */

/* Integers are exact in [-2^63, 2^64-1]: a 128-bit signed integer holds
 * every i64 and u64 with room for the checks. */
__extension__ typedef __int128 sql_int;
#define SQL_INT_MIN ((sql_int)INT64_MIN)
#define SQL_INT_MAX ((sql_int)UINT64_MAX)

enum sql_type {
    SQL_T_NONE, /* not yet known (before planning) */
    SQL_T_INT,
    SQL_T_FLOAT,
    SQL_T_TEXT,
    SQL_T_BOOL,
    SQL_T_BYTES,
};

/* The type's name for messages: "integer", "float", "text", "bool",
 * "bytes". */
const char *sql_type_name(enum sql_type type);

typedef struct sql_value {
    enum sql_type type;
    bool single; /* a float read from an f32: written with f32 precision */
    union {
        sql_int i;
        double f;
        bool b;
        struct {
            const char *ptr; /* not NUL-terminated; into a record, the
                                statement or the plan's storage */
            size_t len;
        } s;                 /* text and bytes */
    };
} sql_value;

/* Arithmetic: 0, or -1 with *err naming the operation and its operands
 * ("integer overflow in addition: 18446744073709551615 + 1", "division by
 * zero: 7 / 0"). Operands are INT or FLOAT; INT op INT stays INT. op is
 * SQL_OP_PLUS, MINUS, STAR, SLASH or PERCENT. */
int sql_arith(enum sql_op op, const sql_value *a, const sql_value *b, sql_value *out,
              sql_error *err);
int sql_negate(const sql_value *a, sql_value *out, sql_error *err);

/* Compares two values of comparable types (both numbers, both text, both
 * bool or both bytes) and returns <0, 0 or >0; *unordered is set when a
 * float is NaN, which no comparison but != holds for. */
int sql_compare(const sql_value *a, const sql_value *b, bool *unordered);

/* A total order for sorting and grouping: as sql_compare, with NaN after
 * every other number. */
int sql_compare_total(const sql_value *a, const sql_value *b);

/* Does text match the LIKE pattern? '%' matches any run of characters,
 * '_' one UTF-8 character (a malformed byte counts as one); after the
 * escape character (escape >= 0, a code point) any character is literal,
 * and at the very end of the pattern the escape stands for itself; every
 * other byte matches itself, case-sensitively. */
bool sql_like(const char *text, size_t text_len, const char *pat, size_t pat_len, int escape);
/* For the planner's reading of a pattern: the bytes of the escape
 * character (escape a code point, or -1 for none) if it stands at
 * pat[pi], else 0; and the bytes of the UTF-8 character at s[0] of n > 0
 * (1 for a malformed byte). */
size_t sql_like_escape_at(const char *pat, size_t pat_len, size_t pi, int escape);
size_t sql_like_char_len(const char *s, size_t n);
/* The UTF-8 bytes of code point cp into out[4]; their count. */
size_t sql_utf8_encode(unsigned cp, unsigned char *out);

/* The value as text for output: integers in decimal, floats in the
 * shortest form that reads back the same (f32 precision for single),
 * true/false, text as it is, bytes as 0x and hex. Writes at most cap-1
 * bytes and a NUL when the text is not the value's own bytes; *text/
 * *len get the text (pointing into dst or at the value's bytes). */
void sql_value_text(const sql_value *v, char *dst, size_t cap, const char **text, size_t *len);

/* Text bytes needed by sql_value_text for v, NUL included. */
size_t sql_value_text_cap(const sql_value *v);

/* A set of rows of values (sql_valset.c), for DISTINCT: equal values
 * are one (-0.0 and 0.0, every NaN). add gives 1 for a row not yet in
 * the set (now in it, copied), 0 for one that was, -1 out of memory. */
typedef struct sql_valset sql_valset;
sql_valset *sql_valset_new(void);
void sql_valset_free(sql_valset *set);
int sql_valset_add(sql_valset *set, const sql_value *vals, size_t count);

/* ---- syntax tree -------------------------------------------------------- */

enum sql_expr_kind {
    SQL_E_LITERAL, /* value in .value */
    SQL_E_COLUMN,  /* .name; bound to .field by the planner */
    SQL_E_UNARY,   /* .op MINUS or PLUS applied to .a */
    SQL_E_NOT,     /* NOT .a */
    SQL_E_BINARY,  /* arithmetic: .op PLUS MINUS STAR SLASH PERCENT */
    SQL_E_COMPARE, /* .op EQ NE LT LE GT GE */
    SQL_E_AND,
    SQL_E_OR,
    SQL_E_LIKE,    /* .a LIKE .b [ESCAPE .c]; .negate for NOT LIKE */
    SQL_E_IN,      /* .a IN (.list); .negate for NOT IN */
    SQL_E_BETWEEN, /* .a BETWEEN .b AND .c; .negate */
    SQL_E_AGG,     /* .agg(.a), .a NULL for COUNT(*) */
    SQL_E_PARAM,   /* '?': parameter number .param, whose value is bound
                      later (vmdb/query.h); before it is, the planner
                      gives it the type of what it meets */
    SQL_E_FUNC,    /* scalar function .func of .list[.count]; CAST(.list[0]
                      AS .cast_type); a || b is SQL_FN_CONCAT */
};

/* The scalar functions (sql_func.c). */
enum sql_func {
    SQL_FN_LENGTH, SQL_FN_LOWER, SQL_FN_UPPER, SQL_FN_SUBSTR, SQL_FN_TRIM, SQL_FN_LTRIM,
    SQL_FN_RTRIM, SQL_FN_REPLACE, SQL_FN_INSTR, SQL_FN_ABS, SQL_FN_ROUND, SQL_FN_MIN,
    SQL_FN_MAX, SQL_FN_CAST, SQL_FN_CONCAT,
};

/* The function called name (len bytes, any case), false for none; and a
 * function's name in capitals, for messages and --explain. */
bool sql_func_named(const char *name, size_t len, enum sql_func *out);
const char *sql_func_name(enum sql_func fn);

/* Where a function's text result is written: a buffer of the node's own
 * that grows in the plan's arena, so that evaluating a row allocates
 * nothing once it is large enough. A result lives until the node is
 * evaluated again: what keeps values across rows (sorting, grouping,
 * DISTINCT, kept rows) copies them. */
typedef struct sql_scratch {
    struct sql_arena *arena;
    char *ptr;
    size_t cap; /* bytes */
} sql_scratch;

enum sql_agg { SQL_AGG_COUNT, SQL_AGG_SUM, SQL_AGG_MIN, SQL_AGG_MAX, SQL_AGG_AVG };

/* How the planner reads a column from the record bytes. */
enum sql_load {
    SQL_LOAD_U8, SQL_LOAD_U16, SQL_LOAD_U32, SQL_LOAD_U64,
    SQL_LOAD_I8, SQL_LOAD_I16, SQL_LOAD_I32, SQL_LOAD_I64,
    SQL_LOAD_F32, SQL_LOAD_F64, SQL_LOAD_BOOL, SQL_LOAD_STR, SQL_LOAD_BYTES,
};

enum sql_like_form {
    SQL_LIKE_GENERAL, /* sql_like() */
    SQL_LIKE_EXACT,   /* 'abc' */
    SQL_LIKE_PREFIX,  /* 'abc%' */
    SQL_LIKE_SUFFIX,  /* '%abc' */
    SQL_LIKE_CONTAINS /* '%abc%' */
};

/*
 * How deeply an expression may nest. Each operator, function call and
 * pair of parentheses is a level, and so is the operand at the bottom:
 * "1+1+...+1" of n terms is n levels deep (the parser builds it left-deep),
 * as are n-1 NOTs or n-1 parentheses around a value. The parser refuses
 * anything deeper ("expression nested deeper than 1000 levels at '+'"),
 * so every later pass (planner, evaluator, printer) may recurse over a
 * tree: its recursion is at most this deep. The parser's own is the
 * deepest, eight frames per parenthesis: 999 of them take about 0.6 MiB
 * of stack, 2 MiB under AddressSanitizer, against the usual 8 MiB.
 */
#define SQL_MAX_DEPTH 1000

typedef struct sql_expr sql_expr;
struct sql_expr {
    enum sql_expr_kind kind;
    enum sql_op op;
    bool negate;
    unsigned line, col;   /* of the token that names the node */
    size_t start, end;    /* its source text: [start, end) offsets */
    unsigned height;      /* levels from here down to the deepest leaf, as
                             the parser built it (at most SQL_MAX_DEPTH) */
    sql_expr *a, *b, *c;
    sql_expr **list;      /* IN's items */
    size_t count;
    sql_value value;      /* literal */
    const char *name;     /* column (NUL-terminated, in the arena) */
    const char *qualifier;/* table before the dot, or NULL */
    enum sql_agg agg;
    bool distinct;        /* aggregate: over distinct values (COUNT(DISTINCT x)) */
    enum sql_func func;   /* SQL_E_FUNC */
    enum sql_type cast_type;   /* CAST: the type it makes */
    const char *cast_name;     /* CAST: the type as written ("u8", "INTEGER") */
    sql_int cast_lo, cast_hi;  /* CAST to an integer type: its range; to
                                  f32: hi 32 */
    sql_scratch *scratch;      /* SQL_E_FUNC: its result's buffer (planner) */
    unsigned param;       /* parameter: its 1-based number */

    /* Set by the planner. */
    enum sql_type type;   /* the expression's static type */
    bool param_field;     /* parameter: compared with or stored in the
                             field .field, whose range its value must fit */
    size_t field;         /* column: field index */
    uint32_t offset;      /* column: bytes from the record start */
    uint32_t size;        /* column: field bytes */
    enum sql_load load;
    size_t agg_slot;      /* aggregate: its accumulator */
    int escape;           /* LIKE's escape character (a code point), or -1 */
    /* An integer field compared with constants (col op K, col BETWEEN K1
     * AND K2): true iff the field's value is in [lo, hi], or outside it
     * when negate; .a is the field. The scan's common case, evaluated
     * without building values. */
    bool fast_range;
    sql_int lo, hi;
    /* LIKE with a constant pattern whose only wildcards are '%' at its
     * ends: matched with memcmp on like_lit (like_len bytes). */
    enum sql_like_form like_form;
    const char *like_lit;
    size_t like_len;
    /* IN over constants only (in a WHERE): the count values of its list
     * in sql_compare_total's order, for a binary search. NULL otherwise. */
    const sql_value *in_sorted;
};

/* In vmdb_stmt_kind's order (vmdb/query.h). BEGIN and what follows are
 * engine/query/sql_admin.h's. */
enum sql_stmt_kind {
    SQL_SELECT, SQL_INSERT, SQL_UPDATE, SQL_DELETE,
    SQL_BEGIN, SQL_COMMIT, SQL_ROLLBACK, SQL_CREATE_TABLE, SQL_DROP_TABLE,
};

typedef struct sql_select_item {
    sql_expr *expr;       /* NULL for '*' */
    const char *alias;    /* AS name, or NULL */
    const char *label;    /* the item's text as written (column header) */
} sql_select_item;

typedef struct sql_order_item {
    sql_expr *expr;
    bool desc;
} sql_order_item;

typedef struct sql_set_item {
    const char *column;
    unsigned line, col;
    sql_expr *expr;
} sql_set_item;

/* Memory for a statement's nodes and strings, freed all at once. */
typedef struct sql_arena sql_arena;
sql_arena *sql_arena_new(void);
/* n zeroed bytes aligned for any type (16 bytes); NULL when out of
 * memory. */
void *sql_arena_alloc(sql_arena *arena, size_t n);
/* Frees the arena and everything allocated in it; accepts NULL. */
void sql_arena_free(sql_arena *arena);

typedef struct sql_stmt {
    enum sql_stmt_kind kind;
    sql_arena *arena;      /* owns every node and string below */
    const char *text;      /* the statement's text (copied) */
    const char *table;     /* NULL for SELECT without FROM */
    unsigned table_line, table_col;

    /* SELECT */
    sql_select_item *items;
    size_t item_count;
    sql_expr *where;       /* also UPDATE, DELETE */
    sql_expr **group_by;   /* columns */
    size_t group_count;
    sql_order_item *order_by;
    size_t order_count;
    bool has_limit;
    uint64_t limit, offset;
    const char *table_alias; /* FROM t [AS] alias, or NULL */
    bool distinct;         /* SELECT DISTINCT: repeated rows dropped */
    sql_expr *having;      /* a grouped query's filter on its groups */
    bool explain;          /* EXPLAIN [QUERY PLAN] before the statement:
                              its plan is its rows, and it does not run */

    /* INSERT: columns (NULL = every field in order) and rows of values */
    const char **columns;
    unsigned *column_cols; /* the column of each name, for messages */
    size_t column_count;
    sql_expr ***rows;
    size_t row_count;
    size_t *row_lengths;

    /* UPDATE */
    sql_set_item *sets;
    size_t set_count;

    unsigned param_count;  /* '?' placeholders, numbered in text order */

    /* CREATE TABLE, DROP TABLE (engine/query/sql_table.c) */
    struct sql_table_def *table_def;
} sql_stmt;

/*
 * Parses one statement (a trailing ';' is allowed). Errors name the token
 * and its position: "syntax error at 'FORM'", "syntax error at end of
 * input", "expression nested deeper than 1000 levels at '+'"; *out is NULL
 * on failure. The statement copies `text`.
 */
int sql_parse(const char *text, size_t len, sql_stmt **out, sql_error *err);
void sql_stmt_free(sql_stmt *stmt);

/* The expression fully parenthesised, as the parser understood it:
 * "((a + (b * 2)) > 3)". For tests and --explain. */
void sql_expr_format(const sql_expr *e, char *dst, size_t cap);

/* ---- evaluation ------------------------------------------------------- */

/* What an expression is evaluated against: a record's bytes (NULL for
 * expressions of constants only), and for the rows of a grouped query the
 * values of its aggregates, by agg_slot. */
typedef struct sql_row {
    const unsigned char *record;
    const sql_value *aggs;
} sql_row;

/* Evaluates a planned expression (types checked, columns bound): 0, or -1
 * with *err (integer overflow, division by zero) naming the operation and
 * where it is in the statement. Text results point into the record or
 * the statement. */
int sql_eval(const sql_expr *e, const sql_row *row, sql_value *out, sql_error *err);

/* A scalar function's value from its arguments' values v[0..count)
 * (sql_func.c), for sql_eval, which evaluates them: every function but
 * MIN and MAX of several, which sql_eval compares itself. */
int sql_func_apply(const sql_expr *e, const sql_value *v, sql_value *out, sql_error *err);

/* The same for a bool expression, without building a value: the WHERE of
 * a scan runs through here for every record. */
int sql_eval_bool(const sql_expr *e, const sql_row *row, bool *out, sql_error *err);

/* The fast range test of a node marked fast_range, inline so that a
 * scan's loop pays no call for it. */
static inline bool sql_range_holds(const sql_expr *e, const unsigned char *record)
{
    const unsigned char *at = record + e->a->offset;
    sql_int v;
    switch (e->a->load) {
    case SQL_LOAD_U8: v = *at; break;
    case SQL_LOAD_I8: v = (int8_t)*at; break;
    case SQL_LOAD_U16: { uint16_t x; __builtin_memcpy(&x, at, 2); v = x; break; }
    case SQL_LOAD_I16: { int16_t x; __builtin_memcpy(&x, at, 2); v = x; break; }
    case SQL_LOAD_U32: { uint32_t x; __builtin_memcpy(&x, at, 4); v = x; break; }
    case SQL_LOAD_I32: { int32_t x; __builtin_memcpy(&x, at, 4); v = x; break; }
    case SQL_LOAD_U64: { uint64_t x; __builtin_memcpy(&x, at, 8); v = x; break; }
    default: { int64_t x; __builtin_memcpy(&x, at, 8); v = x; break; }
    }
    return (v >= e->lo && v <= e->hi) != e->negate;
}

/* ---- names (engine/query/sql_names.c) ----------------------------------- */

/* The table `name` means in SQL: the one of that exact name, else the one
 * whose name differs in case alone (*real); *also is a second such, which
 * makes the name ambiguous, or NULL. The names live as long as the tables'
 * handles. 0, VMDB_ENOTFOUND, or a library error. */
int sql_table_named(vmdb_db *db, const char *name, const char **real, const char **also);

/* ---- plan and execution ------------------------------------------------- */

typedef struct sql_plan sql_plan;

/* The rows of a SELECT go to a sink: columns once, then each row. A
 * nonzero return stops the statement and is returned by sql_execute. */
typedef struct sql_sink {
    int (*columns)(void *ctx, size_t count, const char *const *names,
                   const enum sql_type *types);
    int (*row)(void *ctx, const sql_value *cells);
    void *ctx;
} sql_sink;

/*
 * Binds the statement's names to table `stmt->table` of db (the label
 * db_name names the database in messages: "DB: no table 'x'"), checks
 * types and chooses the access path. The planner writes its findings
 * into the statement's nodes (their types and fields), so the plan refers
 * to stmt, which must outlive it.
 */
int sql_plan_new(vmdb_db *db, const char *db_name, sql_stmt *stmt, sql_plan **out,
                 sql_error *err);
void sql_plan_free(sql_plan *plan);

/* The access path and the steps after it, one per line:
 *   "index lookup on people.id (2 keys)" or "full scan of people", then
 *   e.g. "filter: (age > 30)", "group by: city", "sort by: age DESC",
 *   "limit 10 offset 5", "update people: 2 fields". */
void sql_plan_explain(const sql_plan *plan, FILE *out);

/* The plan's statement and, when it has a FROM, its table's schema
 * (NULL without): for the public layer, which reads the planner's
 * findings (output columns, parameters' types) from them. */
const sql_stmt *sql_plan_stmt(const sql_plan *plan);
const vmdb_schema *sql_plan_schema(const sql_plan *plan);
/* The output columns of a SELECT (0 for the other statements). */
size_t sql_plan_columns(const sql_plan *plan, const char *const **names,
                        const enum sql_type **types);

/* True if the plan reads the index rather than scanning. */
bool sql_plan_uses_index(const sql_plan *plan);

/*
 * Runs the plan. A SELECT sends its rows to sink; INSERT, UPDATE and
 * DELETE run in one transaction (any error aborts it: all or nothing) and
 * set *changed to the records they wrote. *rows gets the rows sent. 0, a
 * sink's nonzero return, or -1 with *err.
 */
int sql_execute(sql_plan *plan, const sql_sink *sink, uint64_t *rows, uint64_t *changed,
                sql_error *err);

#endif /* VMDB_CLI_SQL_H */
