/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_arena.c - memory for a statement's nodes and strings,
 * and for what the planner and the evaluator keep beside them, freed all
 * at once: chunks of 8 KiB (or one of the size asked, when larger),
 * handed out in 16-byte aligned pieces and never given back one by one.
 */
#include <stdlib.h>
#include <string.h>

#include "sql.h"

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap; /* bytes of data[] */
    _Alignas(16) unsigned char data[];
};

struct sql_arena {
    struct arena_chunk *head;
};

void *sql_arena_alloc(sql_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void sql_arena_free(sql_arena *a)
{
    if (!a)
        return;
    while (a->head) {
        struct arena_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    free(a);
}

sql_arena *sql_arena_new(void)
{
    return calloc(1, sizeof(sql_arena));
}

