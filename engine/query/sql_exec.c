/* SPDX-License-Identifier: MIT */
/*
 * engine/query/sql_exec.c - runs a plan: reads the matching records, then filters,
 * groups, sorts and limits for a SELECT, or writes for INSERT, UPDATE and
 * DELETE.
 *
 * A scan reads records in place, in batches (vmdb_table_scan_next), and
 * evaluates the WHERE on the mapped bytes; only a record that matches is
 * copied, and only once the slot's sequence counter says the copy is whole
 * (vmdb_scan_valid); if a writer moved the slot meanwhile the record is
 * read again. A record that does not match costs its checksum (the
 * library checks every record it hands out, in place: a damaged one
 * fails the statement naming its file and slot, never becomes a row or a
 * wrong count) and its WHERE, nothing else: no copy, no allocation, no
 * text.
 *
 * A SELECT without ORDER BY or grouping streams its rows to the sink and
 * stops reading when LIMIT is reached. Sorting and grouping keep copies of
 * the records they need in an arena, so text values can keep pointing
 * into them; ORDER BY with a LIMIT keeps only OFFSET + LIMIT of them.
 *
 * Writes run in one transaction. UPDATE and DELETE first collect every
 * matching record, then change them, so the scan never meets its own
 * changes; any error aborts the transaction and nothing is written.
 */
#include <stdlib.h>
#include <string.h>

#include "sql_admin.h"
#include "sql_plan.h"

static int oom(sql_error *err)
{
    return sql_fail_oom(err, "running");
}

static int library_error(sql_error *err)
{
    return sql_fail_library(err, "");
}

/* ---- access ------------------------------------------------------------- */

/* Called for each matching record with a stable copy of it: 0 to go on, 1
 * to stop, -1 on error. */
typedef sql_visit_fn visit_fn;

/* The WHERE on one record, then fn if it matches: 0 to go on, 1 to stop,
 * -1 on error. */
static int visit_one(sql_plan *pl, uint64_t rid, const unsigned char *record, visit_fn fn,
                     void *ctx, sql_error *err)
{
    bool match = true;
    sql_row row = {.record = record};
    if (pl->stmt->where && sql_eval_bool(pl->stmt->where, &row, &match, err) < 0)
        return -1;
    return match ? fn(ctx, rid, record, err) : 0;
}

static int visit_keys(sql_plan *pl, unsigned char *buf, visit_fn fn, void *ctx, sql_error *err)
{
    for (size_t i = 0; i < pl->key_count; i++) {
        uint64_t rid;
        int rc = vmdb_table_get(pl->table, pl->keys[i].bytes, pl->keys[i].len, buf, &rid);
        if (rc == VMDB_ENOTFOUND)
            continue;
        if (rc < 0)
            return library_error(err);
        if ((rc = visit_one(pl, rid, buf, fn, ctx, err)) != 0)
            return rc < 0 ? -1 : 0;
    }
    return 0;
}

/* A record whose in-place read a writer disturbed: read it again as a
 * stable copy and decide on that. 0 to go on, 1 to stop, -1 on error. */
static int visit_again(sql_plan *pl, uint64_t rid, unsigned char *buf, visit_fn fn, void *ctx,
                       sql_error *err)
{
    int rc = vmdb_table_get_rid(pl->table, rid, buf);
    if (rc == VMDB_ENOTFOUND)
        return 0; /* deleted meanwhile */
    if (rc < 0)
        return library_error(err);
    return visit_one(pl, rid, buf, fn, ctx, err);
}

/*
 * Every live record in slot order, read in place in batches
 * (vmdb_table_scan_next): the WHERE is evaluated on the mapped bytes, and only a
 * record that matches is copied. Whatever the verdict, the slot's
 * sequence counter must not have moved meanwhile (vmdb_scan_valid, inline:
 * one load); if it did, the record is read again as a stable copy.
 */
static int visit_scan(sql_plan *pl, unsigned char *buf, visit_fn fn, void *ctx, sql_error *err)
{
    const sql_expr *where = pl->stmt->where;
    size_t size = pl->record_size;
    vmdb_table_scan_batch *b = malloc(sizeof *b);
    if (!b)
        return oom(err);
    b->next_rid = 0;
    int rc;
    while ((rc = vmdb_table_scan_next(pl->table, b)) == 0) {
        for (size_t i = 0; i < b->count; i++) {
            const void *ptr = b->record[i];
            uint64_t rid = b->rid[i];
            bool match = true;
            if (where && where->fast_range) {
                match = sql_range_holds(where, ptr);
            } else if (where) {
                sql_row row = {.record = ptr};
                if (sql_eval_bool(where, &row, &match, err) < 0) {
                    /* An overflow found in a torn read is no overflow. */
                    if (vmdb_scan_valid(b, i))
                        goto failed;
                    memset(err, 0, sizeof *err);
                    rc = visit_again(pl, rid, buf, fn, ctx, err);
                    if (rc != 0)
                        goto stopped;
                    continue;
                }
            }
            if (match)
                memcpy(buf, ptr, size);
            if (!vmdb_scan_valid(b, i)) {
                rc = visit_again(pl, rid, buf, fn, ctx, err);
                if (rc != 0)
                    goto stopped;
                continue;
            }
            if (match && (rc = fn(ctx, rid, buf, err)) != 0)
                goto stopped;
        }
    }
    free(b);
    if (rc == VMDB_ENOTFOUND)
        return 0;
    return library_error(err);
failed:
    free(b);
    return -1;
stopped:
    free(b);
    return rc < 0 ? -1 : 0;
}

/* Calls fn for every record the plan's WHERE selects. */
static int visit(sql_plan *pl, visit_fn fn, void *ctx, sql_error *err)
{
    /* Inside BEGIN's transaction, reads see its writes. */
    vmdb_txn *txn = sql_txn_current(pl->db);
    if (txn)
        return sql_txn_visit(pl, txn, fn, ctx, err);
    unsigned char *buf = malloc(pl->record_size);
    if (!buf)
        return oom(err);
    int rc = pl->use_index ? visit_keys(pl, buf, fn, ctx, err) : visit_scan(pl, buf, fn, ctx, err);
    free(buf);
    return rc;
}

/* ---- output rows -------------------------------------------------------- */

typedef struct output {
    sql_plan *pl;
    const sql_sink *sink;
    sql_value *cells;
    uint64_t skip;   /* rows of OFFSET still to drop */
    uint64_t rows;   /* rows sent */
    int sink_rc;     /* the sink's nonzero return */
    sql_valset *seen;/* SELECT DISTINCT: the rows sent or skipped so far */
} output;

/* Sends one row: 1 once LIMIT is reached, or if the sink said stop. */
static int emit(output *o, const sql_row *row, sql_error *err)
{
    const sql_stmt *st = o->pl->stmt;
    if (o->seen) {
        /* DISTINCT comes before OFFSET and LIMIT: a repeat counts for
         * neither. */
        for (size_t i = 0; i < o->pl->out_count; i++)
            if (sql_eval(o->pl->out_exprs[i], row, &o->cells[i], err) < 0)
                return -1;
        int fresh = sql_valset_add(o->seen, o->cells, o->pl->out_count);
        if (fresh < 0)
            return oom(err);
        if (!fresh)
            return 0;
    }
    if (o->skip) {
        o->skip--;
        return 0;
    }
    for (size_t i = 0; i < o->pl->out_count && !o->seen; i++)
        if (sql_eval(o->pl->out_exprs[i], row, &o->cells[i], err) < 0)
            return -1;
    int rc = o->sink->row(o->sink->ctx, o->cells);
    if (rc != 0) {
        o->sink_rc = rc;
        return 1;
    }
    o->rows++;
    return st->has_limit && o->rows >= st->limit ? 1 : 0;
}

static int emit_record(void *ctx, uint64_t rid, const unsigned char *record, sql_error *err)
{
    (void)rid;
    sql_row row = {.record = record};
    return emit(ctx, &row, err);
}

/* ---- sorting ------------------------------------------------------------ */

/* A row waiting to be sorted: its record (and aggregates, for a group)
 * and its ORDER BY keys. */
typedef struct sort_row {
    sql_row row;
    uint64_t seq; /* arrival order: equal keys keep it (a stable sort) */
    sql_value keys[];
} sort_row;

typedef struct sorter {
    sql_plan *pl;
    sql_arena *arena;
    sort_row **rows;
    size_t count, cap;
} sorter;

/* A text key that does not point into the row's record (a function's
 * result, in its node's buffer until the next row) is copied into the
 * arena, to last until the rows are sorted. */
static int keep_key(sql_arena *arena, const sql_plan *pl, const sql_row *row, sql_value *key,
                    sql_error *err)
{
    if (key->type != SQL_T_TEXT && key->type != SQL_T_BYTES)
        return 0;
    const char *rec = (const char *)row->record;
    if (rec && key->s.ptr >= rec && key->s.ptr + key->s.len <= rec + pl->record_size)
        return 0;
    char *copy = sql_arena_alloc(arena, key->s.len ? key->s.len : 1);
    if (!copy)
        return oom(err);
    if (key->s.len)
        memcpy(copy, key->s.ptr, key->s.len);
    key->s.ptr = copy;
    return 0;
}

static int sort_add(sorter *s, const unsigned char *record, const sql_value *aggs, sql_error *err)
{
    sql_plan *pl = s->pl;
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        sort_row **n = realloc(s->rows, cap * sizeof *n);
        if (!n)
            return oom(err);
        s->rows = n;
        s->cap = cap;
    }
    sort_row *r = sql_arena_alloc(s->arena, sizeof *r + pl->order_count * sizeof(sql_value));
    if (!r)
        return oom(err);
    r->row.aggs = aggs;
    r->row.record = record;
    r->seq = s->count;
    for (size_t i = 0; i < pl->order_count; i++)
        if (sql_eval(pl->order_exprs[i], &r->row, &r->keys[i], err) < 0 ||
            keep_key(s->arena, pl, &r->row, &r->keys[i], err) < 0)
            return -1;
    s->rows[s->count++] = r;
    return 0;
}

static int sort_cmp(const sql_plan *pl, const sort_row *a, const sort_row *b)
{
    for (size_t i = 0; i < pl->order_count; i++) {
        int c = sql_compare_total(&a->keys[i], &b->keys[i]);
        if (c)
            return pl->order_desc[i] ? -c : c;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Merge sort (rows with equal keys keep the order they were read in, by
 * their seq) that takes the plan as context, which qsort cannot. */
static void merge_sort(const sql_plan *pl, sort_row **a, sort_row **tmp, size_t n)
{
    if (n < 2)
        return;
    size_t half = n / 2;
    merge_sort(pl, a, tmp, half);
    merge_sort(pl, a + half, tmp, n - half);
    size_t i = 0, j = half, k = 0;
    while (i < half && j < n)
        tmp[k++] = sort_cmp(pl, a[j], a[i]) < 0 ? a[j++] : a[i++];
    while (i < half)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

static int sort_emit(sorter *s, output *o, sql_error *err)
{
    if (s->count > 1) {
        sort_row **tmp = malloc(s->count * sizeof *tmp);
        if (!tmp)
            return oom(err);
        merge_sort(s->pl, s->rows, tmp, s->count);
        free(tmp);
    }
    for (size_t i = 0; i < s->count; i++) {
        int rc = emit(o, &s->rows[i]->row, err);
        if (rc < 0)
            return -1;
        if (rc > 0)
            break;
    }
    return 0;
}

static int collect_for_sort(void *ctx, uint64_t rid, const unsigned char *record, sql_error *err)
{
    (void)rid;
    sorter *s = ctx;
    unsigned char *copy = sql_arena_alloc(s->arena, s->pl->record_size);
    if (!copy)
        return oom(err);
    memcpy(copy, record, s->pl->record_size);
    return sort_add(s, copy, NULL, err);
}

/*
 * ORDER BY with a LIMIT needs only the OFFSET + LIMIT first rows of the
 * order: they are kept in a heap whose root is the last of them, and a
 * row read later replaces the root only if it sorts before it. Memory is
 * that of k rows, not of the table, and a row costs its keys and, for a
 * row that gets in, log k comparisons.
 */
#define TOPK_MAX 65536

typedef struct topk {
    sorter *s;
    size_t k;
    uint64_t seen;
    sort_row *scratch; /* a candidate's keys, before it is admitted */
} topk;

static void topk_sift_down(topk *t, size_t i)
{
    sort_row **h = t->s->rows;
    size_t n = t->s->count;
    for (;;) {
        size_t worst = i, l = 2 * i + 1, r = l + 1;
        if (l < n && sort_cmp(t->s->pl, h[l], h[worst]) > 0)
            worst = l;
        if (r < n && sort_cmp(t->s->pl, h[r], h[worst]) > 0)
            worst = r;
        if (worst == i)
            return;
        sort_row *tmp = h[i];
        h[i] = h[worst];
        h[worst] = tmp;
        i = worst;
    }
}

static void topk_sift_up(topk *t, size_t i)
{
    sort_row **h = t->s->rows;
    while (i > 0 && sort_cmp(t->s->pl, h[i], h[(i - 1) / 2]) > 0) {
        sort_row *tmp = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

/* The row's keys; kept (keep_key) into arena unless it is NULL, for a
 * candidate judged at once. */
static int eval_keys(const sql_plan *pl, sort_row *r, sql_arena *arena, sql_error *err)
{
    for (size_t i = 0; i < pl->order_count; i++)
        if (sql_eval(pl->order_exprs[i], &r->row, &r->keys[i], err) < 0 ||
            (arena && keep_key(arena, pl, &r->row, &r->keys[i], err) < 0))
            return -1;
    return 0;
}

static int topk_offer(void *ctx, uint64_t rid, const unsigned char *record, sql_error *err)
{
    (void)rid;
    topk *t = ctx;
    sorter *s = t->s;
    const sql_plan *pl = s->pl;
    uint64_t seq = t->seen++;
    if (s->count < t->k) {
        unsigned char *copy = sql_arena_alloc(s->arena, pl->record_size);
        if (!copy)
            return oom(err);
        memcpy(copy, record, pl->record_size);
        if (sort_add(s, copy, NULL, err) < 0)
            return -1;
        s->rows[s->count - 1]->seq = seq;
        topk_sift_up(t, s->count - 1);
        return 0;
    }
    /* Full: judge the candidate on its keys before copying anything. */
    t->scratch->row.record = record;
    t->scratch->seq = seq;
    if (eval_keys(pl, t->scratch, NULL, err) < 0)
        return -1;
    sort_row *root = s->rows[0];
    if (sort_cmp(pl, t->scratch, root) >= 0)
        return 0;
    /* The root's record buffer takes the candidate; its keys are
     * evaluated again there, since text keys point into the record. */
    memcpy((unsigned char *)root->row.record, record, pl->record_size);
    root->seq = seq;
    if (eval_keys(pl, root, s->arena, err) < 0)
        return -1;
    topk_sift_down(t, 0);
    return 0;
}

/* ---- grouping ----------------------------------------------------------- */

typedef struct accumulator {
    uint64_t count;
    sql_int isum;   /* SUM and AVG of integers */
    double fsum;    /* of floats */
    sql_value best; /* MIN, MAX */
    bool has;
    char *text;     /* MIN/MAX of text: the bytes best points to */
    size_t text_cap;
    sql_valset *seen; /* an aggregate of DISTINCT values: those met */
} accumulator;

typedef struct group {
    uint64_t hash;
    const unsigned char *key;
    size_t key_len;
    const unsigned char *record; /* the group's first record */
    accumulator *accs;
} group;

typedef struct grouper {
    sql_plan *pl;
    sql_arena *arena;
    group **groups;   /* in order of first appearance */
    size_t count, cap;
    group **table;    /* open addressing; cap a power of two */
    size_t table_cap;
    unsigned char *key; /* scratch for the key of the current record */
    size_t key_cap;     /* bytes */
} grouper;

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

/* The group key: each GROUP BY value in a form where equal values have
 * equal bytes (-0.0 is 0.0, every NaN is one NaN). */
static size_t group_key(grouper *g, const sql_row *row, sql_error *err)
{
    const sql_stmt *st = g->pl->stmt;
    size_t n = 0;
    for (size_t i = 0; i < st->group_count; i++) {
        sql_value v;
        if (sql_eval(st->group_by[i], row, &v, err) < 0)
            return SIZE_MAX;
        /* A GROUP BY expression's text has no bound: the key grows. */
        size_t need = n + sizeof(sql_int) + sizeof(uint32_t) +
                      (v.type == SQL_T_TEXT || v.type == SQL_T_BYTES ? v.s.len : 0);
        if (need > g->key_cap) {
            size_t cap = need > 2 * g->key_cap ? need : 2 * g->key_cap;
            unsigned char *k = realloc(g->key, cap);
            if (!k) {
                oom(err);
                return SIZE_MAX;
            }
            g->key = k;
            g->key_cap = cap;
        }
        switch (v.type) {
        case SQL_T_INT:
            memcpy(g->key + n, &v.i, sizeof v.i);
            n += sizeof v.i;
            break;
        case SQL_T_FLOAT: {
            double f = v.f == 0 ? 0.0 : v.f != v.f ? __builtin_nan("") : v.f;
            memcpy(g->key + n, &f, sizeof f);
            n += sizeof f;
            break;
        }
        case SQL_T_BOOL:
            g->key[n++] = v.b;
            break;
        default: {
            uint32_t len = (uint32_t)v.s.len;
            memcpy(g->key + n, &len, sizeof len);
            if (len)
                memcpy(g->key + n + sizeof len, v.s.ptr, len);
            n += sizeof len + len;
            break;
        }
        }
    }
    return n;
}

static int table_grow(grouper *g, sql_error *err)
{
    size_t cap = g->table_cap ? g->table_cap * 2 : 64;
    group **t = calloc(cap, sizeof *t);
    if (!t)
        return oom(err);
    for (size_t i = 0; i < g->count; i++) {
        size_t j = g->groups[i]->hash & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = g->groups[i];
    }
    free(g->table);
    g->table = t;
    g->table_cap = cap;
    return 0;
}

static group *new_group(grouper *g, uint64_t hash, size_t key_len, const unsigned char *record,
                        sql_error *err)
{
    sql_plan *pl = g->pl;
    if (g->count == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        group **n = realloc(g->groups, cap * sizeof *n);
        if (!n) {
            oom(err);
            return NULL;
        }
        g->groups = n;
        g->cap = cap;
    }
    if ((g->count + 1) * 2 > g->table_cap && table_grow(g, err) < 0)
        return NULL;
    group *gr = sql_arena_alloc(g->arena, sizeof *gr);
    unsigned char *key = sql_arena_alloc(g->arena, key_len + 1);
    unsigned char *rec = sql_arena_alloc(g->arena, pl->record_size ? pl->record_size : 1);
    accumulator *accs = sql_arena_alloc(g->arena, (pl->agg_count + 1) * sizeof *accs);
    if (!gr || !key || !rec || !accs) {
        oom(err);
        return NULL;
    }
    if (key_len)
        memcpy(key, g->key, key_len);
    if (record)
        memcpy(rec, record, pl->record_size);
    *gr = (group){hash, key, key_len, rec, accs};
    size_t j = hash & (g->table_cap - 1);
    while (g->table[j])
        j = (j + 1) & (g->table_cap - 1);
    g->table[j] = gr;
    g->groups[g->count++] = gr;
    return gr;
}

static int accumulate(accumulator *acc, const sql_expr *agg, const sql_row *row,
                      sql_error *err)
{
    sql_value v;
    if (agg->distinct) {
        /* A value met before is not met again. */
        if (sql_eval(agg->a, row, &v, err) < 0)
            return -1;
        if (!acc->seen && !(acc->seen = sql_valset_new()))
            return oom(err);
        int fresh = sql_valset_add(acc->seen, &v, 1);
        if (fresh < 0)
            return oom(err);
        if (!fresh)
            return 0;
    }
    acc->count++;
    if (agg->agg == SQL_AGG_COUNT)
        return 0; /* no NULLs: COUNT(e) counts rows as COUNT(*) does */
    if (!agg->distinct && sql_eval(agg->a, row, &v, err) < 0)
        return -1;
    switch (agg->agg) {
    case SQL_AGG_SUM:
    case SQL_AGG_AVG:
        /* 128 bits hold the sum of 2^63 values of 64 bits: only the
         * result is checked, so a sum that dips out of range and comes
         * back is not an overflow. */
        if (v.type == SQL_T_INT) {
            acc->isum += v.i;
        } else {
            acc->fsum += v.f;
        }
        return 0;
    default: {
        if (acc->has) {
            int c = sql_compare_total(&v, &acc->best);
            if (agg->agg == SQL_AGG_MIN ? c >= 0 : c <= 0)
                return 0;
        }
        acc->best = v;
        acc->has = true;
        if (v.type == SQL_T_TEXT || v.type == SQL_T_BYTES) {
            if (v.s.len > acc->text_cap) {
                char *t = realloc(acc->text, v.s.len);
                if (!t)
                    return oom(err);
                acc->text = t;
                acc->text_cap = v.s.len;
            }
            if (v.s.len)
                memcpy(acc->text, v.s.ptr, v.s.len);
            acc->best.s.ptr = acc->text;
        }
        return 0;
    }
    }
}

static int group_record(void *ctx, uint64_t rid, const unsigned char *record, sql_error *err)
{
    (void)rid;
    grouper *g = ctx;
    sql_plan *pl = g->pl;
    sql_row row = {.record = record};
    size_t len = group_key(g, &row, err);
    if (len == SIZE_MAX)
        return -1;
    uint64_t h = hash_bytes(g->key, len);
    group *gr = NULL;
    if (g->table_cap) {
        size_t j = h & (g->table_cap - 1);
        for (; g->table[j]; j = (j + 1) & (g->table_cap - 1)) {
            group *c = g->table[j];
            if (c->hash == h && c->key_len == len && !memcmp(c->key, g->key, len)) {
                gr = c;
                break;
            }
        }
    }
    if (!gr && !(gr = new_group(g, h, len, record, err)))
        return -1;
    for (size_t i = 0; i < pl->agg_count; i++)
        if (accumulate(&gr->accs[i], pl->aggs[i], &row, err) < 0)
            return -1;
    return 0;
}

/* The value of each aggregate of a finished group. */
static sql_value *final_values(grouper *g, const group *gr, sql_error *err)
{
    sql_plan *pl = g->pl;
    sql_value *vals = sql_arena_alloc(g->arena, (pl->agg_count + 1) * sizeof *vals);
    if (!vals) {
        oom(err);
        return NULL;
    }
    for (size_t i = 0; i < pl->agg_count; i++) {
        const sql_expr *agg = pl->aggs[i];
        const accumulator *acc = &gr->accs[i];
        sql_value *v = &vals[i];
        switch (agg->agg) {
        case SQL_AGG_COUNT:
            v->type = SQL_T_INT;
            v->i = acc->count;
            break;
        case SQL_AGG_SUM:
            v->type = agg->type;
            if (v->type == SQL_T_FLOAT) {
                v->f = acc->fsum;
            } else if (acc->isum < SQL_INT_MIN || acc->isum > SQL_INT_MAX) {
                char text[256];
                sql_expr_format(agg, text, sizeof text);
                sql_fail(err, agg->line, agg->col, "integer overflow in %s", text);
                return NULL;
            } else {
                v->i = acc->isum;
            }
            break;
        case SQL_AGG_AVG:
            v->type = SQL_T_FLOAT;
            v->f = agg->a->type == SQL_T_INT ? (double)acc->isum / (double)acc->count
                                             : acc->fsum / (double)acc->count;
            break;
        default:
            *v = acc->best;
            break;
        }
    }
    return vals;
}

static void grouper_free(grouper *g)
{
    for (size_t i = 0; i < g->count; i++)
        for (size_t k = 0; k < g->pl->agg_count; k++) {
            free(g->groups[i]->accs[k].text);
            sql_valset_free(g->groups[i]->accs[k].seen);
        }
    free(g->groups);
    free(g->table);
    free(g->key);
}

static int run_grouped(sql_plan *pl, output *o, sorter *s, sql_error *err)
{
    /* The key buffer is never NULL, even for the one group of no GROUP
     * BY, whose key is empty: memcmp and memcpy must not see NULL. */
    grouper g = {.pl = pl, .arena = s->arena, .key = malloc(64), .key_cap = 64};
    int rc = -1;
    if (!g.key) {
        oom(err);
        goto done;
    }
    if (visit(pl, group_record, &g, err) < 0)
        goto done;
    /* Without GROUP BY the whole table is one group, even when empty; MIN,
     * MAX and AVG of nothing have no value, and without NULL that means
     * no row. */
    if (g.count == 0 && pl->stmt->group_count == 0) {
        if (pl->agg_may_be_empty) {
            rc = 0;
            goto done;
        }
        if (!new_group(&g, 0, 0, NULL, err))
            goto done;
    }
    for (size_t i = 0; i < g.count; i++) {
        sql_value *vals = final_values(&g, g.groups[i], err);
        if (!vals)
            goto done;
        if (pl->stmt->having) {
            bool keep;
            sql_row row = {.record = g.groups[i]->record, .aggs = vals};
            if (sql_eval_bool(pl->stmt->having, &row, &keep, err) < 0)
                goto done;
            if (!keep)
                continue;
        }
        if (pl->order_count) {
            if (sort_add(s, g.groups[i]->record, vals, err) < 0)
                goto done;
            continue;
        }
        sql_row row = {.record = g.groups[i]->record, .aggs = vals};
        int e = emit(o, &row, err);
        if (e < 0)
            goto done;
        if (e > 0)
            break;
    }
    /* MIN and MAX of text point into the accumulators: emit before freeing. */
    rc = pl->order_count ? sort_emit(s, o, err) : 0;
done:
    grouper_free(&g);
    return rc;
}

/* ---- statements --------------------------------------------------------- */

static int run_select(sql_plan *pl, const sql_sink *sink, uint64_t *rows, sql_error *err)
{
    const sql_stmt *st = pl->stmt;
    output o = {.pl = pl, .sink = sink, .skip = st->offset};
    sorter s = {.pl = pl};
    int rc = sink->columns(sink->ctx, pl->out_count, pl->out_names, pl->out_types);
    if (rc != 0)
        return rc;
    o.cells = calloc(pl->out_count + 1, sizeof *o.cells);
    s.arena = sql_arena_new();
    if (st->distinct)
        o.seen = sql_valset_new();
    if (!o.cells || !s.arena || (st->distinct && !o.seen)) {
        rc = oom(err);
    } else if (st->has_limit && st->limit == 0) {
        rc = 0;
    } else if (!pl->table) {
        sql_row row = {0};
        rc = emit(&o, &row, err) < 0 ? -1 : 0;
    } else if (pl->grouped) {
        rc = run_grouped(pl, &o, &s, err);
    } else if (pl->order_count && st->has_limit && !st->distinct && st->limit <= TOPK_MAX &&
               st->offset <= TOPK_MAX - st->limit) {
        topk t = {.s = &s, .k = (size_t)(st->offset + st->limit)};
        t.scratch = sql_arena_alloc(s.arena, sizeof *t.scratch +
                                                 pl->order_count * sizeof(sql_value));
        rc = t.scratch ? visit(pl, topk_offer, &t, err) : oom(err);
        if (rc == 0)
            rc = sort_emit(&s, &o, err);
    } else if (pl->order_count) {
        rc = visit(pl, collect_for_sort, &s, err);
        if (rc == 0)
            rc = sort_emit(&s, &o, err);
    } else {
        rc = visit(pl, emit_record, &o, err);
    }
    free(s.rows);
    sql_arena_free(s.arena);
    sql_valset_free(o.seen);
    free(o.cells);
    *rows = o.rows;
    if (rc == 0 && o.sink_rc)
        return o.sink_rc;
    return rc;
}

static int run_insert(sql_plan *pl, vmdb_txn *txn, uint64_t *changed, sql_error *err)
{
    const sql_stmt *st = pl->stmt;
    unsigned char *rec = malloc(pl->record_size);
    if (!rec)
        return oom(err);
    sql_row none = {0};
    int rc = 0;
    for (size_t r = 0; r < st->row_count && rc == 0; r++) {
        memset(rec, 0, pl->record_size);
        for (size_t i = 0; i < pl->field_count && rc == 0; i++) {
            sql_value v;
            rc = sql_eval(st->rows[r][i], &none, &v, err);
            if (rc == 0)
                rc = sql_assign(pl, rec, pl->fields[i], &v, err);
        }
        if (rc == 0 && vmdb_txn_insert(txn, pl->table, rec, NULL) < 0)
            rc = library_error(err);
        if (rc == 0)
            ++*changed;
    }
    free(rec);
    return rc;
}

/* UPDATE and DELETE: the records to change, with their ids. */
typedef struct matches {
    sql_plan *pl;
    sql_arena *arena;
    uint64_t *rids;
    const unsigned char **records; /* UPDATE only */
    size_t count, cap;
    bool copy;
} matches;

static int collect_match(void *ctx, uint64_t rid, const unsigned char *record, sql_error *err)
{
    matches *m = ctx;
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        uint64_t *r = realloc(m->rids, cap * sizeof *r);
        if (r)
            m->rids = r;
        const unsigned char **p = realloc(m->records, cap * sizeof *p);
        if (p)
            m->records = p;
        if (!r || !p)
            return oom(err);
        m->cap = cap;
    }
    m->rids[m->count] = rid;
    m->records[m->count] = NULL;
    if (m->copy) {
        unsigned char *c = sql_arena_alloc(m->arena, m->pl->record_size);
        if (!c)
            return oom(err);
        memcpy(c, record, m->pl->record_size);
        m->records[m->count] = c;
    }
    m->count++;
    return 0;
}

static int run_change(sql_plan *pl, vmdb_txn *txn, uint64_t *changed, sql_error *err)
{
    const sql_stmt *st = pl->stmt;
    matches m = {.pl = pl, .copy = st->kind == SQL_UPDATE};
    unsigned char *rec = malloc(pl->record_size);
    int rc = -1;
    if (!rec || !(m.arena = sql_arena_new())) {
        oom(err);
        goto done;
    }
    if (visit(pl, collect_match, &m, err) < 0)
        goto done;
    for (size_t i = 0; i < m.count; i++) {
        if (st->kind == SQL_DELETE) {
            if (vmdb_txn_delete_rid(txn, pl->table, m.rids[i]) < 0) {
                library_error(err);
                goto done;
            }
            continue;
        }
        /* Every SET sees the record as it was: SET a = b, b = a swaps. */
        sql_row old = {.record = m.records[i]};
        memcpy(rec, m.records[i], pl->record_size);
        for (size_t k = 0; k < st->set_count; k++) {
            sql_value v;
            if (sql_eval(st->sets[k].expr, &old, &v, err) < 0 ||
                sql_assign(pl, rec, pl->fields[k], &v, err) < 0)
                goto done;
        }
        if (vmdb_txn_update_rid(txn, pl->table, m.rids[i], rec) < 0) {
            library_error(err);
            goto done;
        }
    }
    *changed = m.count;
    rc = 0;
done:
    free(rec);
    free(m.rids);
    free(m.records);
    sql_arena_free(m.arena);
    return rc;
}

int sql_execute(sql_plan *pl, const sql_sink *sink, uint64_t *rows, uint64_t *changed,
                sql_error *err)
{
    memset(err, 0, sizeof *err);
    *rows = 0;
    *changed = 0;
    if (pl->stmt->kind == SQL_SELECT)
        return run_select(pl, sink, rows, err);
    if (pl->stmt->kind > SQL_DELETE)
        return sql_admin_execute(pl->db, pl->stmt, err);
    sql_write w;
    if (sql_write_begin(pl->db, &w, err) < 0)
        return -1;
    /* The statement checked its table before it waited for the write
     * lock: a drop may have come in between, and a dropped table finds
     * nothing, so the statement would say it changed no record of a
     * table that is not there. Under the lock, nothing drops it now. */
    vmdb_table *now;
    if (vmdb_table_open(pl->db, vmdb_table_name(pl->table), NULL, &now) < 0 ||
        now != pl->table) {
        sql_write_undo(&w);
        sql_fail(err, 0, 0, "%s: no table '%s': dropped since the statement was prepared",
                 vmdb_db_path(pl->db), vmdb_table_name(pl->table));
        err->code = VMDB_ENOTFOUND;
        return -1;
    }
    uint64_t n = 0;
    int rc = pl->stmt->kind == SQL_INSERT ? run_insert(pl, w.txn, &n, err)
                                          : run_change(pl, w.txn, &n, err);
    if (rc < 0) {
        sql_write_undo(&w);
        return -1;
    }
    if (sql_write_end(&w, err) < 0)
        return -1;
    *changed = n;
    return 0;
}
