/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_slotring.c - a slot-ring file from bytes (engine/mem/slotring.c):
 * the input is written as the file and opened read-only, every slot and
 * unread message looked at, then opened for writing: its messages read
 * (copying, peeking and in place), new ones written and read back, and
 * the ring synced. Checked besides memory safety: a message read is no
 * longer than a slot, and what is written is what is read.
 */
#include <stdint.h>

#include "fuzz_scratch.h"

static void look(vmdb_slotring *r)
{
    vmdb_slotring_info st;
    FUZZ_MUST(vmdb_slotring_stat(r, &st) == 0);
    FUZZ_MUST(st.slot_count > 0 && st.used <= st.slot_count);
    for (uint64_t i = 0; i < st.slot_count && i < 1024; i++) {
        const void *ptr;
        size_t len;
        FUZZ_MUST(vmdb_slotring_slot(r, i, &ptr, &len) == 0);
        (void)*(const volatile unsigned char *)ptr;
    }
    (void)vmdb_slotring_has_data(r);
    (void)vmdb_slotring_is_full(r);
}

static void use(vmdb_slotring *r)
{
    look(r);
    vmdb_slotring_info st;
    FUZZ_MUST(vmdb_slotring_stat(r, &st) == 0);
    size_t slot_size = st.slot_size;
    FUZZ_MUST(vmdb_slotring_stride(r) >= slot_size + 8);
    unsigned char *buf = malloc(slot_size + 1);
    FUZZ_MUST(buf != NULL);
    size_t len;
    const void *ptr;
    for (int n = 0; n < 64; n++) {
        int rc = n % 3 == 0 ? vmdb_slotring_peek(r, buf, slot_size, &len)
               : n % 3 == 1 ? vmdb_slotring_read(r, buf, slot_size, &len)
                            : vmdb_slotring_read_ptr(r, &ptr, &len);
        if (rc != 0)
            break;
        FUZZ_MUST(len <= slot_size);
        if (n % 3 == 2)
            FUZZ_MUST(vmdb_slotring_advance_read(r) == 0);
    }
    static const char msg[] = "fuzz";
    size_t n = sizeof msg - 1 < slot_size ? sizeof msg - 1 : slot_size;
    if (vmdb_slotring_write(r, msg, n) == 0) {
        /* Unread messages come first: drain them, the new one is last,
         * unless a damaged one (a length past the slot) stops the drain. */
        size_t last = SIZE_MAX;
        int rc;
        while ((rc = vmdb_slotring_read(r, buf, slot_size, &len)) == 0)
            last = len;
        if (rc == VMDB_EEMPTY)
            FUZZ_MUST(last == n && memcmp(buf, msg, n) == 0);
    }
    void *wp;
    if (vmdb_slotring_write_ptr(r, &wp) == 0) {
        memset(wp, 'x', slot_size);
        FUZZ_MUST(vmdb_slotring_advance_write(r, slot_size) == 0);
    }
    (void)vmdb_slotring_sync(r, VMDB_FLUSH_SYNC);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path("fuzz.slots");
    for (int writable = 0; writable < 2; writable++) {
        fuzz_write_file(path, data, size);
        vmdb_slotring_options o = {.flags = writable ? 0 : VMDB_SLOTRING_READONLY};
        vmdb_slotring *r;
        if (vmdb_slotring_open(path, &o, &r) != 0) {
            FUZZ_MUST(r == NULL && vmdb_last_error()->message[0] != '\0');
            continue;
        }
        if (writable)
            use(r);
        else
            look(r);
        vmdb_slotring_close(r);
    }
    return 0;
}
