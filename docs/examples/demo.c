/* SPDX-License-Identifier: MIT */
/*
 * docs/examples/demo.c - what `make demo` runs: the layers that exist so
 * far, on a small file of records in a temporary folder.
 *
 * 1. A typed buffer file of 10,000 fixed-size records is filled in place.
 * 2. It is reopened as a read-only map and scanned with zero copies.
 * 3. A log buffer grows in place while a pointer into it stays valid.
 * 4. Mistakes get errors that name the file and the value at fault.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmdb.h"

struct person {
    uint64_t id;
    char name[24];
    uint32_t age;
    float score;
};

VMDB_BUFFER_TYPED(people, struct person)

#define CHECK(expr)                                                            \
    do {                                                                       \
        if ((expr) != 0) {                                                     \
            fprintf(stderr, "demo: %s\n", vmdb_last_error()->message);         \
            exit(2);                                                           \
        }                                                                      \
    } while (0)

static const char *names[] = {"Ada", "Brian", "Dennis", "Grace", "Ken", "Linus", "Margaret"};

int main(void)
{
    char dir[] = "/tmp/vmdb-demo-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    char path[256], log_path[256];
    snprintf(path, sizeof path, "%s/people.vmb", dir);
    snprintf(log_path, sizeof log_path, "%s/log.vmb", dir);
    printf("vmdb %s demo in %s\n\n", vmdb_version_string(), dir);

    /* 1. Fill a file of records in place. */
    vmdb_buffer *people;
    CHECK(people_open(path, 10000, NULL, &people));
    struct person *rows = people_data(people);
    for (uint64_t i = 0; i < people_count(people); i++) {
        rows[i].id = i + 1;
        snprintf(rows[i].name, sizeof rows[i].name, "%s-%u", names[i % 7],
                 (unsigned)(i + 1) % 100000u);
        rows[i].age = (uint32_t)(18 + (i * 7919) % 60);
        rows[i].score = (float)((i * 104729) % 1000) / 10.0f;
    }
    CHECK(vmdb_buffer_flush(people, VMDB_FLUSH_SYNC));
    printf("wrote %llu records of %zu bytes to %s (%llu bytes)\n",
           (unsigned long long)people_count(people), sizeof(struct person), path,
           (unsigned long long)vmdb_buffer_byte_size(people));
    vmdb_buffer_close(people);

    /* 2. Reopen read-only and scan in place: no read(), no copy. */
    vmdb_map *map;
    vmdb_map_options ro = {.advice = VMDB_ADVICE_SEQUENTIAL, .huge = VMDB_HUGE_TRY};
    CHECK(vmdb_map_open(path, &ro, &map));
    const struct person *p = vmdb_map_ptr(map);
    uint64_t n = vmdb_map_len(map) / sizeof *p, over_60 = 0;
    double sum = 0;
    const struct person *best = p;
    for (uint64_t i = 0; i < n; i++) {
        over_60 += p[i].age > 60;
        sum += p[i].age;
        if (p[i].score > best->score)
            best = &p[i];
    }
    vmdb_map_info info;
    CHECK(vmdb_map_stat(map, &info));
    printf("scanned %llu records: mean age %.1f, %llu over 60, best score %.1f (%s, id %llu)\n",
           (unsigned long long)n, sum / (double)n, (unsigned long long)over_60, best->score,
           best->name, (unsigned long long)best->id);
    printf("map: %llu bytes, %s, huge pages: %s\n\n", (unsigned long long)info.len,
           info.mode == VMDB_MAP_READ ? "read-only" : "writable",
           info.pages == VMDB_PAGES_THP       ? "transparent (advised)"
           : info.pages == VMDB_PAGES_HUGETLB ? "hugetlb"
                                              : "none");
    vmdb_map_close(map);

    /* 3. A log that grows in place: the first entry's address never moves. */
    vmdb_buffer *log;
    vmdb_buffer_options grow = {.max_count = 1 << 20};
    CHECK(vmdb_buffer_open(log_path, 1, 64, &grow, &log));
    const char *first = vmdb_buffer_ptr(log);
    for (int i = 0; i < 2000; i++) {
        char line[64];
        int len = snprintf(line, sizeof line, "event %d: %s logged in", i, names[i % 7]);
        CHECK(vmdb_buffer_write_str(log, line, (size_t)len));
    }
    printf("log: 2000 entries, %llu bytes, base pointer %s\n",
           (unsigned long long)vmdb_buffer_tell(log),
           first == vmdb_buffer_ptr(log) ? "unchanged by growth" : "MOVED");
    CHECK(vmdb_buffer_seek(log, 0, SEEK_SET, NULL));
    for (int i = 0; i < 3; i++) {
        char line[64];
        size_t len;
        CHECK(vmdb_buffer_read_str(log, line, sizeof line, &len));
        printf("  %s\n", line);
    }
    vmdb_buffer_close(log);

    /* 4. Errors name what is at fault. */
    printf("\nerrors name what is at fault:\n");
    struct person one;
    CHECK(people_open(path, 0, NULL, &people));
    int rc = people_get(people, 10000, &one);
    printf("  %s: %s\n", vmdb_error_name(rc), vmdb_last_error()->message);
    vmdb_buffer_close(people);
    vmdb_buffer *wrong;
    rc = vmdb_buffer_open(path, 33, 0, NULL, &wrong);
    printf("  %s: %s\n", vmdb_error_name(rc), vmdb_last_error()->message);
    vmdb_map_options past = {.offset = 1 << 30};
    rc = vmdb_map_open(path, &past, &map);
    printf("  %s: %s\n", vmdb_error_name(rc), vmdb_last_error()->message);

    unlink(path);
    unlink(log_path);
    rmdir(dir);
    return 0;
}
