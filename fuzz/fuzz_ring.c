/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_ring.c - a byte-ring file from bytes (engine/mem/ring.c): the
 * input is written as the file and opened read-only and then for writing,
 * in both modes, as a program that finds it on disk would.
 *
 * Read-only, every unread byte is looked at (read span, lines); for
 * writing, everything is consumed, new bytes written, read back and
 * compared, and the header synced. Checked besides memory safety: the
 * positions an opened ring reports hold (tail <= head, used <= cap), and
 * what is written is what is read.
 */
#include <stdint.h>

#include "fuzz_scratch.h"

static void check_positions(vmdb_ring *r)
{
    uint64_t cap = vmdb_ring_cap(r), head = vmdb_ring_head(r), tail = vmdb_ring_tail(r);
    FUZZ_MUST(tail <= head && head - tail <= cap);
    FUZZ_MUST(vmdb_ring_used(r) + vmdb_ring_avail(r) == cap);
    vmdb_ring_info info;
    FUZZ_MUST(vmdb_ring_stat(r, &info) == 0);
    unsigned char user[VMDB_RING_USER_LEN];
    FUZZ_MUST(vmdb_ring_user(r, user, sizeof user) == 0);
}

static void look(vmdb_ring *r)
{
    check_positions(r);
    size_t len;
    const unsigned char *span = vmdb_ring_read_span(r, &len);
    FUZZ_MUST(len == vmdb_ring_used(r));
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += span[i]; /* every unread byte must be mapped */
    (void)sum;
}

static void use(vmdb_ring *r)
{
    look(r);
    char line[256];
    size_t len;
    while (vmdb_ring_read_line(r, line, sizeof line, &len) == 0)
        FUZZ_MUST(len < sizeof line && line[len] == '\0');
    size_t used = (size_t)vmdb_ring_used(r);
    FUZZ_MUST(vmdb_ring_consume(r, used) == 0);
    FUZZ_MUST(vmdb_ring_used(r) == 0);

    static const char msg[] = "written after the fuzzer's bytes\n";
    FUZZ_MUST(vmdb_ring_write(r, msg, sizeof msg - 1) == 0 || vmdb_ring_cap(r) < sizeof msg);
    if (vmdb_ring_used(r) == sizeof msg - 1) {
        char back[sizeof msg];
        FUZZ_MUST(vmdb_ring_read(r, back, sizeof back, &len) == 0);
        FUZZ_MUST(len == sizeof msg - 1 && memcmp(back, msg, len) == 0);
    }
    FUZZ_MUST(vmdb_ring_printf(r, "%d", 42) == 0);
    (void)vmdb_ring_sync(r);
    check_positions(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path("fuzz.ring");
    static const unsigned modes[] = {VMDB_RING_READONLY, 0, VMDB_RING_OVERWRITE};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        fuzz_write_file(path, data, size);
        vmdb_ring_options o = {.flags = modes[m]};
        vmdb_ring *r;
        if (vmdb_ring_open(path, &o, &r) != 0) {
            FUZZ_MUST(r == NULL && vmdb_last_error()->message[0] != '\0');
            continue;
        }
        if (modes[m] & VMDB_RING_READONLY)
            look(r);
        else
            use(r);
        vmdb_ring_close(r);
    }
    return 0;
}
