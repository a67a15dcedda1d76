/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_valset.c - a set of rows of values, for what keeps the
 * first of equal rows only: SELECT DISTINCT and COUNT(DISTINCT x).
 *
 * A row is kept as bytes in which equal values are equal bytes: each
 * value its type, then an integer's 16 bytes, a float's 8 (-0.0 as 0.0,
 * every NaN as one NaN, since DISTINCT calls them one value), a bool's
 * one, or text's length and bytes. The bytes live in an arena, so a row
 * added costs one copy and the set frees all at once; the table is open
 * addressing over their hashes, at most half full.
 */
#include <stdlib.h>
#include <string.h>

#include "sql.h"

typedef struct entry {
    uint64_t hash;
    const unsigned char *key;
    size_t len;
} entry;

struct sql_valset {
    sql_arena *arena;
    entry *slots;
    size_t cap, count; /* slots; a power of two */
    unsigned char *scratch;
    size_t scratch_cap;
};

sql_valset *sql_valset_new(void)
{
    sql_valset *s = calloc(1, sizeof *s);
    if (s && !(s->arena = sql_arena_new())) {
        free(s);
        return NULL;
    }
    return s;
}

void sql_valset_free(sql_valset *s)
{
    if (!s)
        return;
    sql_arena_free(s->arena);
    free(s->slots);
    free(s->scratch);
    free(s);
}

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

/* The row's bytes into s->scratch; their length, or SIZE_MAX out of
 * memory. */
static size_t encode(sql_valset *s, const sql_value *vals, size_t count)
{
    size_t need = 0;
    for (size_t i = 0; i < count; i++)
        need += 1 + sizeof(sql_int) + sizeof(size_t) +
                (vals[i].type == SQL_T_TEXT || vals[i].type == SQL_T_BYTES ? vals[i].s.len : 0);
    if (need > s->scratch_cap) {
        unsigned char *n = realloc(s->scratch, need);
        if (!n)
            return SIZE_MAX;
        s->scratch = n;
        s->scratch_cap = need;
    }
    unsigned char *p = s->scratch;
    for (size_t i = 0; i < count; i++) {
        const sql_value *v = &vals[i];
        *p++ = (unsigned char)v->type;
        switch (v->type) {
        case SQL_T_INT:
            memcpy(p, &v->i, sizeof v->i);
            p += sizeof v->i;
            break;
        case SQL_T_FLOAT: {
            double f = v->f == 0 ? 0.0 : v->f != v->f ? __builtin_nan("") : v->f;
            memcpy(p, &f, sizeof f);
            p += sizeof f;
            break;
        }
        case SQL_T_BOOL:
            *p++ = v->b;
            break;
        default:
            memcpy(p, &v->s.len, sizeof v->s.len);
            p += sizeof v->s.len;
            if (v->s.len)
                memcpy(p, v->s.ptr, v->s.len);
            p += v->s.len;
            break;
        }
    }
    return (size_t)(p - s->scratch);
}

static int grow(sql_valset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i].key)
            continue;
        size_t j = s->slots[i].hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int sql_valset_add(sql_valset *s, const sql_value *vals, size_t count)
{
    size_t len = encode(s, vals, count);
    if (len == SIZE_MAX)
        return -1;
    if ((s->count + 1) * 2 > s->cap && grow(s) < 0)
        return -1;
    uint64_t h = hash_bytes(s->scratch, len);
    size_t j = h & (s->cap - 1);
    for (; s->slots[j].key; j = (j + 1) & (s->cap - 1))
        if (s->slots[j].hash == h && s->slots[j].len == len &&
            !memcmp(s->slots[j].key, s->scratch, len))
            return 0;
    unsigned char *key = sql_arena_alloc(s->arena, len ? len : 1);
    if (!key)
        return -1;
    memcpy(key, s->scratch, len);
    s->slots[j] = (entry){h, key, len};
    s->count++;
    return 1;
}
