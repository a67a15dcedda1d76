/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/peer_array.c - the ceiling: a mapped file of 128-byte slots
 * indexed by key, no index, no log, no checksum. Keys must be below the n
 * given at open. A durable commit msyncs the pages the batch touched,
 * which is what one record's durable write costs at least in a mapped
 * design.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "peer.h"

#define SLOT 128

struct peer {
    unsigned char *base;
    uint64_t n;
    size_t len;
    bool durable;
    uint64_t lo, hi; /* the batch's slots, for msync */
};

static int array_attach(peer *p, peer **out)
{
    peer *t = calloc(1, sizeof *t);
    *t = (peer){.base = p->base, .n = p->n, .len = p->len};
    *out = t;
    return 0;
}

static void array_detach(peer *t)
{
    free(t);
}

static const char *array_config(void)
{
    return "mmap MAP_SHARED of n x 128-byte slots, slot = key; durable = msync(MS_SYNC) of the "
           "pages written";
}

static int array_open(const char *dir, uint64_t n, peer **out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/array", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
    peer *p = calloc(1, sizeof *p);
    p->n = n;
    p->len = n * SLOT;
    if (fd < 0 || ftruncate(fd, (off_t)p->len) < 0) {
        perror(path);
        return -1;
    }
    p->base = mmap(NULL, p->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p->base == MAP_FAILED) {
        perror(path);
        return -1;
    }
    *out = p;
    return 0;
}

static int array_close(peer *p)
{
    munmap(p->base, p->len);
    free(p);
    return 0;
}

static int array_begin(peer *p, bool durable, bool in_order)
{
    (void)in_order;
    p->durable = durable;
    p->lo = UINT64_MAX;
    p->hi = 0;
    return 0;
}

static int array_put(peer *p, uint64_t key, const void *value)
{
    if (key >= p->n) {
        fprintf(stderr, "array: key %llu past the %llu slots\n", (unsigned long long)key,
                (unsigned long long)p->n);
        return -1;
    }
    unsigned char *slot = p->base + key * SLOT;
    memcpy(slot, &key, 8);
    memcpy(slot + 8, value, PEER_VALUE_BYTES);
    slot[8 + PEER_VALUE_BYTES] = 1; /* live */
    if (key < p->lo)
        p->lo = key;
    if (key > p->hi)
        p->hi = key;
    return 0;
}

static int array_commit(peer *p)
{
    if (!p->durable || p->lo > p->hi)
        return 0;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = (uintptr_t)(p->base + p->lo * SLOT) & ~(page - 1);
    uintptr_t to = (uintptr_t)(p->base + (p->hi + 1) * SLOT);
    if (msync((void *)from, to - from, MS_SYNC) < 0) {
        perror("array: msync");
        return -1;
    }
    return 0;
}

static int array_get(peer *p, uint64_t key, void *value)
{
    if (key >= p->n || !p->base[key * SLOT + 8 + PEER_VALUE_BYTES])
        return 1;
    memcpy(value, p->base + key * SLOT + 8, PEER_VALUE_BYTES);
    return 0;
}

static int array_scan(peer *p, peer_scan_fn fn, void *ctx)
{
    for (uint64_t k = 0; k < p->n; k++) {
        const unsigned char *slot = p->base + k * SLOT;
        if (slot[8 + PEER_VALUE_BYTES] && fn(ctx, k, slot + 8))
            break;
    }
    return 0;
}

/* Every page written back. */
static int array_settle(peer *p)
{
    if (msync(p->base, p->len, MS_SYNC) < 0) {
        perror("array: msync");
        return -1;
    }
    return 0;
}

const peer_ops peer_array = {.name = "array",
                             .config = array_config,
                             .open = array_open,
                             .close = array_close,
                             .begin = array_begin,
                             .put = array_put,
                             .commit = array_commit,
                             .get = array_get,
                             .attach = array_attach,
                             .detach = array_detach,
                             .scan = array_scan,
                             .settle = array_settle};
