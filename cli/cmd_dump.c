/* SPDX-License-Identifier: MIT */
/*
 * cli/cmd_dump.c - `vmdb dump FILE [-n BYTES] [--slots N]`: the header and
 * a hexdump of a ring or table file, in the manner of the circular-buffer
 * seed's buffer_dump.
 *
 * The file is recognised by asking each opener in turn, read-only: the
 * library, not the CLI, knows the formats, so a damaged header gets the
 * library's precise verdict and only a file that no opener claims is
 * "not a vmdb file".
 */
#include <string.h>

#include "cli.h"
#include "vmdb.h"

#define DEFAULT_SLOT_BYTES 64
#define DEFAULT_RING_BYTES 512
#define DEFAULT_TABLE_SLOTS 16

static const char usage[] =
    "usage: vmdb dump FILE [-n BYTES] [--slots N]\n"
    "\n"
    "Prints the header of a vmdb ring or table file and a hexdump of its\n"
    "contents: for a slot ring the first BYTES of every slot (default 64),\n"
    "for a byte ring the first BYTES of the unread region (default 512),\n"
    "for a table file (NAME.vmt in a database) both header copies' state,\n"
    "the schema, and for each of the first N slots (default 16) its header\n"
    "(live, sequence counter, LSN, checksum verdict) and the first BYTES of\n"
    "its record (default 64). -n 0 and --slots 0 dump everything. BYTES\n"
    "takes k, M and G suffixes.\n";

static void print_slot_ring(const char *path, const vmdb_slotring *ring, uint64_t limit)
{
    vmdb_slotring_info st;
    vmdb_slotring_stat(ring, &st);
    printf("=== SLOT RING HEADER ===\n");
    printf("file:         %s (%llu bytes)\n", path, (unsigned long long)st.file_size);
    printf("magic:        %s, version %u\n", VMDB_SLOTRING_MAGIC, st.version);
    printf("slots:        %llu of %u bytes (stride %zu)\n", (unsigned long long)st.slot_count,
           st.slot_size, vmdb_slotring_stride(ring));
    printf("write pos:    %llu (slot %llu)\n", (unsigned long long)st.write_pos,
           (unsigned long long)(st.write_pos % st.slot_count));
    printf("read pos:     %llu (slot %llu)\n", (unsigned long long)st.read_pos,
           (unsigned long long)(st.read_pos % st.slot_count));
    printf("unread:       %llu\n", (unsigned long long)st.used);
    printf("total writes: %llu\n", (unsigned long long)st.total_writes);
    printf("total reads:  %llu\n", (unsigned long long)st.total_reads);
    printf("========================\n\n");
    uint64_t per_slot = limit && limit < st.slot_size ? limit : st.slot_size;
    printf("Dumping %llu bytes from each of %llu slots:\n", (unsigned long long)per_slot,
           (unsigned long long)st.slot_count);
    for (uint64_t i = 0; i < st.slot_count; i++) {
        const void *data;
        size_t len;
        if (vmdb_slotring_slot(ring, i, &data, &len) != 0)
            break;
        /* A slot is unread when some position in [read, write) maps to it. */
        bool unread = st.used == st.slot_count ||
                      (i - st.read_pos % st.slot_count + st.slot_count) % st.slot_count < st.used;
        printf("\nslot[%2llu] length %zu%s%s\n", (unsigned long long)i, len,
               len > st.slot_size ? " (larger than the slot: damaged)" : "",
               unread ? ", unread" : "");
        char prefix[32];
        snprintf(prefix, sizeof prefix, "slot[%2llu] ", (unsigned long long)i);
        cli_hexdump(stdout, prefix, data, (size_t)per_slot, 0);
    }
}

static void print_byte_ring(const char *path, const vmdb_ring *ring, uint64_t limit)
{
    vmdb_ring_info in;
    vmdb_ring_stat(ring, &in);
    printf("=== BYTE RING HEADER ===\n");
    printf("file:         %s\n", path);
    printf("magic:        %s, version %u\n", VMDB_RING_MAGIC, in.version);
    printf("capacity:     %llu bytes (header %zu bytes)\n", (unsigned long long)in.cap,
           in.header_len);
    printf("write pos:    %llu (offset %llu)\n", (unsigned long long)in.head,
           (unsigned long long)(in.head % in.cap));
    printf("read pos:     %llu (offset %llu)\n", (unsigned long long)in.tail,
           (unsigned long long)(in.tail % in.cap));
    printf("unread:       %llu bytes\n", (unsigned long long)in.used);
    printf("last sync:    #%llu, write pos %llu, read pos %llu\n",
           (unsigned long long)in.sync_seq, (unsigned long long)in.synced_head,
           (unsigned long long)in.synced_tail);
    printf("========================\n\n");
    uint64_t n = limit && limit < in.used ? limit : in.used;
    printf("Dumping %llu of the %llu unread bytes, from position %llu:\n",
           (unsigned long long)n, (unsigned long long)in.used, (unsigned long long)in.tail);
    /* The mirror makes the unread bytes contiguous however they wrap. */
    cli_hexdump(stdout, "", vmdb_ring_pos_ptr(ring, in.tail), (size_t)n, in.tail);
}

static void print_table_file(const char *path, vmdb_table_file *file, uint64_t limit,
                             uint64_t max_slots)
{
    vmdb_table_file_info in;
    vmdb_table_file_stat(file, &in);
    char schema[VMDB_SCHEMA_MAX_ENCODED * 2];
    size_t schema_len;
    if (vmdb_schema_format(in.schema, schema, sizeof schema, &schema_len) < 0)
        snprintf(schema, sizeof schema, "(%zu bytes of text, too long to show)", schema_len);
    uint64_t live = 0;
    for (uint64_t rid = 0; rid < in.capacity; rid++) {
        vmdb_slot_info s;
        if (vmdb_table_file_slot(file, rid, &s) == 0 && s.live)
            live++;
    }
    printf("=== TABLE FILE HEADER ===\n");
    printf("file:         %s (%llu bytes)\n", path, (unsigned long long)in.file_bytes);
    printf("magic:        %s, version %u\n", VMDB_TABLE_MAGIC, in.version);
    printf("table:        %s (id %u)\n", in.name, in.id);
    printf("schema:       %s\n", schema);
    printf("record:       %zu bytes, in slots of %zu (a %zu-byte slot header first)\n",
           in.record_size, in.slot_size, in.slot_header_bytes);
    printf("slots:        %llu from offset %zu, %llu live\n", (unsigned long long)in.capacity,
           in.header_bytes, (unsigned long long)live);
    printf("header:       copy %c in use, seq %llu\n", in.copy_in_use,
           (unsigned long long)in.header_seq);
    for (int i = 0; i < 2; i++)
        printf("copy %c:       %s\n", 'A' + i,
               in.copy_status[i] == 0 ? "ok" : in.copy_problem[i]);
    printf("=========================\n\n");
    uint64_t per_slot = limit && limit < in.record_size ? limit : in.record_size;
    uint64_t shown = max_slots && max_slots < in.capacity ? max_slots : in.capacity;
    printf("Dumping %llu bytes of the record in each of the first %llu slots:\n",
           (unsigned long long)per_slot, (unsigned long long)shown);
    for (uint64_t rid = 0; rid < shown; rid++) {
        vmdb_slot_info s;
        if (vmdb_table_file_slot(file, rid, &s) != 0)
            break;
        /* 32 bits since table format 3, 64 before. */
        int sum_digits = in.slot_header_bytes < 32 ? 8 : 16;
        printf("\nslot[%4llu] %s, seq %llu%s, lsn %llu, checksum %0*llx%s\n",
               (unsigned long long)rid, s.live ? "live" : "free", (unsigned long long)s.seq,
               s.seq & 1 ? " (mid-write)" : "", (unsigned long long)s.lsn, sum_digits,
               (unsigned long long)s.checksum,
               !s.seq ? " (never written)" : s.checksum_ok ? " ok" : " MISMATCH");
        char prefix[32];
        snprintf(prefix, sizeof prefix, "slot[%4llu] ", (unsigned long long)rid);
        cli_hexdump(stdout, prefix, s.record, (size_t)per_slot, 0);
    }
}

static int dump(const char *path, bool limit_given, uint64_t limit, uint64_t max_slots)
{
    vmdb_ring_options ro = {.flags = VMDB_RING_READONLY};
    vmdb_ring *ring;
    int rc = vmdb_ring_open(path, &ro, &ring);
    if (rc == 0) {
        print_byte_ring(path, ring, limit_given ? limit : DEFAULT_RING_BYTES);
        vmdb_ring_close(ring);
        return CLI_OK;
    }
    if (rc != VMDB_EBADMAGIC)
        return cli_library_error();
    vmdb_slotring_options so = {.flags = VMDB_SLOTRING_READONLY};
    vmdb_slotring *slots;
    rc = vmdb_slotring_open(path, &so, &slots);
    if (rc == 0) {
        print_slot_ring(path, slots, limit_given ? limit : DEFAULT_SLOT_BYTES);
        vmdb_slotring_close(slots);
        return CLI_OK;
    }
    if (rc != VMDB_EBADMAGIC)
        return cli_library_error();
    vmdb_table_file *table;
    rc = vmdb_table_file_open(path, &table);
    if (rc == 0) {
        print_table_file(path, table, limit_given ? limit : DEFAULT_SLOT_BYTES, max_slots);
        vmdb_table_file_close(table);
        return CLI_OK;
    }
    if (rc != VMDB_EBADMAGIC)
        return cli_library_error();
    return cli_error("%s: not a vmdb file (not a byte ring \"%s\", a slot ring \"%s\" or a "
                     "table \"%s\")",
                     path, VMDB_RING_MAGIC, VMDB_SLOTRING_MAGIC, VMDB_TABLE_MAGIC);
}

static int run(int argc, char **argv)
{
    const char *path = NULL;
    bool limit_given = false;
    uint64_t limit = 0, max_slots = DEFAULT_TABLE_SLOTS;
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        char shown[VMDB_PRINTABLE_CAP];
        if (!options_done && cli_is_help(arg)) {
            fputs(usage, stdout);
            return CLI_OK;
        }
        if (!options_done && !strcmp(arg, "--")) {
            options_done = true;
        } else if (!options_done && (!strcmp(arg, "-n") || !strcmp(arg, "--bytes"))) {
            if (i + 1 >= argc)
                return cli_error("dump: %s needs a byte count", arg);
            if (!cli_parse_size(argv[++i], &limit))
                return cli_error("dump: %s: '%s' is not a byte count", arg,
                                 cli_show(shown, argv[i]));
            limit_given = true;
        } else if (!options_done && !strcmp(arg, "--slots")) {
            if (i + 1 >= argc)
                return cli_error("dump: --slots needs a count");
            if (!cli_parse_size(argv[++i], &max_slots))
                return cli_error("dump: --slots: '%s' is not a count", cli_show(shown, argv[i]));
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            return cli_error("dump: unknown option '%s' (vmdb dump --help)", cli_show(shown, arg));
        } else if (!path) {
            path = arg;
        } else {
            return cli_error("dump: one FILE only, '%s' is extra", cli_show(shown, arg));
        }
    }
    if (!path) {
        fputs(usage, stderr);
        return CLI_ERROR;
    }
    return dump(path, limit_given, limit, max_slots);
}

const cli_command cli_dump_command = {
    .name = "dump",
    .summary = "header and hexdump of a ring or table file",
    .usage = usage,
    .run = run,
};
