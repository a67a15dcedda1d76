/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_lex.c - splits SQL text into tokens, and the error helpers the
 * SQL files share.
 *
 * A token keeps a pointer into the text and its line and column, so that
 * every later message (the parser's, the planner's) can say where the
 * trouble is. Keywords are recognised here, case-insensitively; anything
 * else that looks like a name is an identifier, compared case-sensitively
 * later since field names are case-sensitive in vmdb.
 */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "sql.h"

/* ---- errors ------------------------------------------------------------- */

int sql_fail(sql_error *err, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->line = line;
    err->col = col;
    return -1;
}

int sql_fail_library(sql_error *err, const char *prefix)
{
    sql_fail(err, 0, 0, "%s%s", prefix, vmdb_last_error()->message);
    err->code = vmdb_last_error()->code;
    return -1;
}

int sql_fail_oom(sql_error *err, const char *doing)
{
    sql_fail(err, 0, 0, "out of memory %s the statement", doing);
    err->code = VMDB_ENOMEM;
    return -1;
}

void sql_error_text(const sql_error *err, bool with_line, char *dst, size_t cap)
{
    if (err->col == 0)
        snprintf(dst, cap, "%s", err->message);
    else if (with_line)
        snprintf(dst, cap, "%s (line %u, col %u)", err->message, err->line, err->col);
    else
        snprintf(dst, cap, "%s (col %u)", err->message, err->col);
}

/* ---- keywords ----------------------------------------------------------- */

static const struct {
    const char *name;
    enum sql_keyword kw;
} keywords[] = {
    {"SELECT", SQL_KW_SELECT}, {"FROM", SQL_KW_FROM},       {"WHERE", SQL_KW_WHERE},
    {"GROUP", SQL_KW_GROUP},   {"BY", SQL_KW_BY},           {"ORDER", SQL_KW_ORDER},
    {"ASC", SQL_KW_ASC},       {"DESC", SQL_KW_DESC},       {"LIMIT", SQL_KW_LIMIT},
    {"OFFSET", SQL_KW_OFFSET}, {"INSERT", SQL_KW_INSERT},   {"INTO", SQL_KW_INTO},
    {"VALUES", SQL_KW_VALUES}, {"UPDATE", SQL_KW_UPDATE},   {"SET", SQL_KW_SET},
    {"DELETE", SQL_KW_DELETE}, {"AND", SQL_KW_AND},         {"OR", SQL_KW_OR},
    {"NOT", SQL_KW_NOT},       {"LIKE", SQL_KW_LIKE},       {"ESCAPE", SQL_KW_ESCAPE},
    {"IN", SQL_KW_IN},         {"BETWEEN", SQL_KW_BETWEEN}, {"AS", SQL_KW_AS},
    {"TRUE", SQL_KW_TRUE},     {"FALSE", SQL_KW_FALSE},     {"NULL", SQL_KW_NULL},
    {"IS", SQL_KW_IS},         {"DISTINCT", SQL_KW_DISTINCT}, {"HAVING", SQL_KW_HAVING},
    {"CAST", SQL_KW_CAST},
};

const char *sql_keyword_name(enum sql_keyword kw)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (keywords[i].kw == kw)
            return keywords[i].name;
    return "?";
}

static enum sql_keyword keyword_of(const char *text, size_t len)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strlen(keywords[i].name) == len && !strncasecmp(keywords[i].name, text, len))
            return keywords[i].kw;
    return SQL_KW_NONE;
}

/* ---- the lexer ---------------------------------------------------------- */

void sql_lex_init(sql_lexer *lx, const char *text, size_t len)
{
    lx->text = text;
    lx->len = len;
    lx->pos = 0;
    lx->line = 1;
    lx->line_start = 0;
}

static bool is_name_start(int c)
{
    return isalpha(c) || c == '_';
}

static bool is_name_char(int c)
{
    return isalnum(c) || c == '_';
}

static int peek(const sql_lexer *lx, size_t ahead)
{
    return lx->pos + ahead < lx->len ? (unsigned char)lx->text[lx->pos + ahead] : -1;
}

static void advance(sql_lexer *lx)
{
    if (lx->text[lx->pos] == '\n') {
        lx->line++;
        lx->line_start = lx->pos + 1;
    }
    lx->pos++;
}

static void skip_space(sql_lexer *lx)
{
    for (;;) {
        int c = peek(lx, 0);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            advance(lx);
        } else if (c == '-' && peek(lx, 1) == '-') {
            while (peek(lx, 0) != -1 && peek(lx, 0) != '\n')
                advance(lx);
        } else {
            return;
        }
    }
}

static int bad_token(sql_error *err, const sql_token *tok, const char *what)
{
    char q[VMDB_PRINTABLE_CAP];
    vmdb_printable(tok->text, tok->len, q, sizeof q);
    return sql_fail(err, tok->line, tok->col, "syntax error: %s '%s'", what, q);
}

/* A quoted string or name: the closing quote doubled stands for itself. */
static int lex_quoted(sql_lexer *lx, sql_token *tok, char quote, sql_error *err)
{
    advance(lx);
    for (;;) {
        int c = peek(lx, 0);
        if (c == -1) {
            tok->len = lx->pos - tok->offset;
            return bad_token(err, tok,
                             quote == '\'' ? "unterminated string" : "unterminated quoted name");
        }
        advance(lx);
        if (c == quote) {
            if (peek(lx, 0) != quote)
                break;
            advance(lx);
        }
    }
    tok->len = lx->pos - tok->offset;
    return 0;
}

static int lex_number(sql_lexer *lx, sql_token *tok, sql_error *err)
{
    tok->kind = SQL_TOK_INT;
    if (peek(lx, 0) == '0' && (peek(lx, 1) == 'x' || peek(lx, 1) == 'X') && isxdigit(peek(lx, 2))) {
        lx->pos += 2;
        while (isxdigit(peek(lx, 0)))
            lx->pos++;
    } else {
        while (isdigit(peek(lx, 0)))
            lx->pos++;
        if (peek(lx, 0) == '.') {
            tok->kind = SQL_TOK_FLOAT;
            lx->pos++;
            while (isdigit(peek(lx, 0)))
                lx->pos++;
        }
        if ((peek(lx, 0) == 'e' || peek(lx, 0) == 'E') &&
            (isdigit(peek(lx, 1)) ||
             ((peek(lx, 1) == '+' || peek(lx, 1) == '-') && isdigit(peek(lx, 2))))) {
            tok->kind = SQL_TOK_FLOAT;
            lx->pos += 2;
            while (isdigit(peek(lx, 0)))
                lx->pos++;
        }
    }
    /* "12abc" is neither a number nor a name: name the whole run. */
    if (is_name_char(peek(lx, 0)) || peek(lx, 0) == '.') {
        while (is_name_char(peek(lx, 0)) || peek(lx, 0) == '.')
            lx->pos++;
        tok->len = lx->pos - tok->offset;
        return bad_token(err, tok, "bad number");
    }
    tok->len = lx->pos - tok->offset;
    return 0;
}

static enum sql_op op_of(const sql_lexer *lx, size_t *len)
{
    int c = peek(lx, 0), d = peek(lx, 1);
    *len = 1;
    switch (c) {
    case '(': return SQL_OP_LPAREN;
    case ')': return SQL_OP_RPAREN;
    case ',': return SQL_OP_COMMA;
    case ';': return SQL_OP_SEMI;
    case '.': return SQL_OP_DOT;
    case '*': return SQL_OP_STAR;
    case '+': return SQL_OP_PLUS;
    case '-': return SQL_OP_MINUS;
    case '/': return SQL_OP_SLASH;
    case '%': return SQL_OP_PERCENT;
    case '?': return SQL_OP_QUESTION;
    case '|':
        if (d == '|') {
            *len = 2;
            return SQL_OP_CONCAT;
        }
        return SQL_OP_NONE;
    case '=':
        if (d == '=')
            *len = 2;
        return SQL_OP_EQ;
    case '!':
        if (d == '=') {
            *len = 2;
            return SQL_OP_NE;
        }
        return SQL_OP_NONE;
    case '<':
        if (d == '=' || d == '>') {
            *len = 2;
            return d == '=' ? SQL_OP_LE : SQL_OP_NE;
        }
        return SQL_OP_LT;
    case '>':
        if (d == '=') {
            *len = 2;
            return SQL_OP_GE;
        }
        return SQL_OP_GT;
    default:
        return SQL_OP_NONE;
    }
}

int sql_lex_next(sql_lexer *lx, sql_token *tok, sql_error *err)
{
    skip_space(lx);
    memset(tok, 0, sizeof *tok);
    tok->offset = lx->pos;
    tok->text = lx->text + lx->pos;
    tok->line = lx->line;
    tok->col = (unsigned)(lx->pos - lx->line_start + 1);
    int c = peek(lx, 0);
    if (c == -1) {
        tok->kind = SQL_TOK_END;
        return 0;
    }
    if (is_name_start(c)) {
        while (is_name_char(peek(lx, 0)))
            lx->pos++;
        tok->len = lx->pos - tok->offset;
        tok->keyword = keyword_of(tok->text, tok->len);
        tok->kind = tok->keyword ? SQL_TOK_KEYWORD : SQL_TOK_IDENT;
        return 0;
    }
    if (isdigit(c) || (c == '.' && isdigit(peek(lx, 1))))
        return lex_number(lx, tok, err);
    if (c == '\'') {
        tok->kind = SQL_TOK_STRING;
        return lex_quoted(lx, tok, '\'', err);
    }
    if (c == '"') {
        tok->kind = SQL_TOK_IDENT;
        int rc = lex_quoted(lx, tok, '"', err);
        if (rc == 0 && tok->len == 2) {
            return bad_token(err, tok, "empty quoted name");
        }
        return rc;
    }
    size_t len;
    enum sql_op op = op_of(lx, &len);
    if (op == SQL_OP_NONE) {
        /* Name one whole UTF-8 character, not a broken byte of it. */
        size_t n = 1;
        if (c >= 0xc0)
            while (n < 4 && (peek(lx, n) & 0xc0) == 0x80)
                n++;
        tok->len = n;
        return bad_token(err, tok, "unexpected character");
    }
    tok->kind = SQL_TOK_OP;
    tok->op = op;
    tok->len = len;
    lx->pos += len;
    return 0;
}

/* ---- statement boundaries for the shell --------------------------------- */

size_t sql_statement_end(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\'' || c == '"') {
            /* A doubled quote reopens the string at once: no special case. */
            size_t j = i + 1;
            while (j < len && text[j] != c)
                j++;
            if (j >= len)
                return 0;
            i = j;
        } else if (c == '-' && i + 1 < len && text[i + 1] == '-') {
            while (i < len && text[i] != '\n')
                i++;
        } else if (c == ';') {
            return i + 1;
        }
    }
    return 0;
}

bool sql_is_blank(const char *text, size_t len)
{
    sql_lexer lx;
    sql_lex_init(&lx, text, len);
    skip_space(&lx);
    return lx.pos >= len;
}
