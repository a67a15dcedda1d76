/* SPDX-License-Identifier: MIT */
/*
 * engine/store/table_file.c - a table file opened on its own, read-only, for
 * tools that show what is on disk (`vmdb dump`): the header copies, the
 * schema, and each slot's header and bytes as they are, verdicts included
 * rather than refusals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#include "checksum.h"
#include "internal.h"
#include "table.h"
#include "vmdb/table_file.h"

struct vmdb_table_file {
    vmdb_table *table;
};

int vmdb_table_file_open(const char *path, vmdb_table_file **out)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_file_open: path and out are required");
    vmdb_table_file *f = calloc(1, sizeof *f);
    if (!f)
        return vmdb__fail(VMDB_ENOMEM, "%s: out of memory", path);
    int rc = vmdb__table_open(path, true, false, &f->table);
    if (rc < 0) {
        free(f);
        return rc;
    }
    *out = f;
    return 0;
}

void vmdb_table_file_close(vmdb_table_file *f)
{
    if (!f)
        return;
    vmdb__table_close(f->table);
    free(f);
}

int vmdb_table_file_stat(vmdb_table_file *f, vmdb_table_file_info *info)
{
    if (!f || !info)
        return vmdb__fail(VMDB_EINVAL, "vmdb_table_file_stat: file and info are required");
    vmdb_table *t = f->table;
    *info = (vmdb_table_file_info){
        .name = t->name,
        .schema = t->schema,
        .id = t->id,
        .version = t->version,
        .capacity = t->capacity,
        .file_bytes = vmdb_map_len(t->map),
        .header_bytes = (size_t)(t->slots - (char *)vmdb_map_ptr(t->map)),
        .slot_size = t->stride,
        .slot_header_bytes =
            vmdb__table_needs_upgrade(t) ? sizeof(vmdb__slot_v2) : sizeof(vmdb__slot),
        .record_size = t->record_size,
        .header_seq = t->header_seq,
    };
    /* The verdicts are for showing, not failures of this call. */
    vmdb_error saved = *vmdb_last_error();
    for (int i = 0; i < 2; i++) {
        info->copy_status[i] = vmdb__table_copy_status(t, i);
        if (info->copy_status[i] < 0)
            snprintf(info->copy_problem[i], sizeof info->copy_problem[i], "%.199s",
                     vmdb_last_error()->message);
    }
    *(vmdb_error *)vmdb_last_error() = saved; /* this thread's own */
    /* The copy in use is the valid one whose sequence number opening
     * adopted (the higher). */
    info->copy_in_use = info->copy_status[0] == 0 && vmdb__table_copy_seq(t, 0) == t->header_seq
                            ? 'A'
                            : 'B';
    return 0;
}

/* A slot of a file of version 1 or 2, which only a writer's upgrade
 * rewrites: shown as it is, its full 64-bit checksum checked. */
static int old_slot(const vmdb_table *t, uint64_t rid, vmdb_slot_info *out)
{
    const char *at = t->slots + rid * t->stride;
    vmdb__slot_v2 s;
    memcpy(&s, at, sizeof s);
    *out = (vmdb_slot_info){
        .seq = s.seq,
        .lsn = s.lsn,
        .checksum = s.checksum,
        .live = s.live != 0,
        .slot = at,
        .record = at + sizeof s,
    };
    uint64_t want = XXH3_64bits_withSeed(at + sizeof s, t->record_size,
                                         rid << 1 | (out->live ? 1 : 0));
    out->checksum_ok = (s.seq == 0 && s.checksum == 0) ||
                       vmdb__checksum_matches(s.checksum, want);
    return 0;
}

int vmdb_table_file_slot(vmdb_table_file *f, uint64_t rid, vmdb_slot_info *out)
{
    vmdb_table *t = f->table;
    if (rid >= t->capacity)
        return vmdb__fail(VMDB_ERANGE, "%s: slot %llu is past the last (%llu slots)", t->path,
                          (unsigned long long)rid, (unsigned long long)t->capacity);
    if (vmdb__table_needs_upgrade(t))
        return old_slot(t, rid, out);
    const vmdb__slot *s = vmdb__table_slot(t, rid);
    *out = (vmdb_slot_info){
        .seq = vmdb__slot_seq(s),
        .lsn = vmdb__slot_lsn(s),
        .checksum = vmdb__slot_sum(s),
        .live = vmdb__slot_live(s),
        .slot = s,
        .record = s + 1,
    };
    out->checksum_ok = (out->seq == 0 && out->checksum == 0) ||
                       vmdb__checksum_matches(out->checksum,
                                              vmdb__table_checksum(t, rid, out->live, s + 1));
    return 0;
}
