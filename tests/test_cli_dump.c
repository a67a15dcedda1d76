/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cli_dump.c - `vmdb dump`, run as a black box.
 */
#include "cli_helpers.h"

TestSuite(cli_dump, .timeout = SUITE_TIMEOUT);

Test(cli_dump, slot_ring_header_and_slots_are_printed)
{
    const char *path = test_path("game.slots");
    vmdb_slotring *r;
    vmdb_slotring_options o = {.flags = VMDB_SLOTRING_CREATE, .slot_size = 32, .slot_count = 4};
    ASSERT_OK(vmdb_slotring_open(path, &o, &r));
    for (int i = 0; i < 6; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "frame %d ####", i);
        ASSERT_OK(vmdb_slotring_write(r, msg, (size_t)n));
        if (i < 3) {
            size_t len;
            ASSERT_OK(vmdb_slotring_read(r, msg, sizeof msg, &len));
        }
    }
    vmdb_slotring_close(r);

    char args[600];
    snprintf(args, sizeof args, "dump '%s'", path);
    cli_result *res = run_cli(args);
    cr_assert_eq(res->status, 0, "stderr: %s", res->err);
    ASSERT_CONTAINS(res->out, "=== SLOT RING HEADER ===");
    ASSERT_CONTAINS(res->out, "slots:        4 of 32 bytes");
    ASSERT_CONTAINS(res->out, "write pos:    6 (slot 2)");
    ASSERT_CONTAINS(res->out, "read pos:     3 (slot 3)");
    ASSERT_CONTAINS(res->out, "unread:       3");
    ASSERT_CONTAINS(res->out, "total writes: 6");
    ASSERT_CONTAINS(res->out, "total reads:  3");
    ASSERT_CONTAINS(res->out, "Dumping 32 bytes from each of 4 slots");
    /* Slot 1 holds frame 5, which is unread; slot 2 holds frame 2, read. */
    ASSERT_CONTAINS(res->out, "slot[ 1] length 12, unread");
    ASSERT_CONTAINS(res->out, "slot[ 1] 00000000: 66 72 61 6d 65 20 35 20 23 23 23 23 00 00 00 00  |frame 5 ####....|");
    ASSERT_CONTAINS(res->out, "slot[ 2] length 12\n");
    ASSERT_CONTAINS(res->out, "|frame 2 ####....|");

    snprintf(args, sizeof args, "dump -n 8 '%s'", path);
    res = run_cli(args);
    cr_assert_eq(res->status, 0);
    ASSERT_CONTAINS(res->out, "Dumping 8 bytes from each of 4 slots");
    ASSERT_CONTAINS(res->out, "slot[ 3] 00000000: 66 72 61 6d 65 20 33 20                          |frame 3 |");
    remove_test_dir();
}

Test(cli_dump, byte_ring_live_region_is_printed_across_the_wrap)
{
    const char *path = test_path("events.ring");
    vmdb_ring *r;
    vmdb_ring_options o = {.cap = 4096, .flags = VMDB_RING_CREATE};
    ASSERT_OK(vmdb_ring_open(path, &o, &r));
    /* Move to 10 bytes before the end, so the text wraps. */
    ASSERT_OK(vmdb_ring_commit(r, 4086));
    ASSERT_OK(vmdb_ring_consume(r, 4086));
    ASSERT_OK(vmdb_ring_printf(r, "hello across the end\n"));
    ASSERT_OK(vmdb_ring_sync(r));
    vmdb_ring_close(r);

    char args[600];
    snprintf(args, sizeof args, "dump '%s' -n 0", path);
    cli_result *res = run_cli(args);
    cr_assert_eq(res->status, 0, "stderr: %s", res->err);
    ASSERT_CONTAINS(res->out, "=== BYTE RING HEADER ===");
    ASSERT_CONTAINS(res->out, "capacity:     4096 bytes");
    ASSERT_CONTAINS(res->out, "write pos:    4107 (offset 11)");
    ASSERT_CONTAINS(res->out, "read pos:     4086 (offset 4086)");
    ASSERT_CONTAINS(res->out, "unread:       21 bytes");
    ASSERT_CONTAINS(res->out, "last sync:    #2, write pos 4107, read pos 4086");
    ASSERT_CONTAINS(res->out, "00000ff6: 68 65 6c 6c 6f 20 61 63 72 6f 73 73 20 74 68 65  |hello across the|");
    ASSERT_CONTAINS(res->out, "00001006: 20 65 6e 64 0a                                   | end.|");
    remove_test_dir();
}

Test(cli_dump, unrecognised_file_is_exit_2_naming_it)
{
    const char *path = test_path("notes.txt");
    write_file(path, "just some text, nothing vmdb would write\n", 41);
    char args[600];
    snprintf(args, sizeof args, "dump '%s'", path);
    cli_result *res = run_cli(args);
    cr_assert_eq(res->status, 2);
    ASSERT_CONTAINS(res->err, "vmdb: ");
    ASSERT_CONTAINS(res->err, "notes.txt: not a vmdb file");
    cr_assert_eq(res->out[0], '\0', "nothing on stdout");
    remove_test_dir();
}

Test(cli_dump, damaged_and_missing_files_get_the_library_verdict)
{
    const char *path = test_path("torn.slots");
    vmdb_slotring *r;
    vmdb_slotring_options o = {.flags = VMDB_SLOTRING_CREATE, .slot_size = 16, .slot_count = 2};
    ASSERT_OK(vmdb_slotring_open(path, &o, &r));
    vmdb_slotring_close(r);
    cr_assert_eq(truncate(path, 4096 + 10), 0);
    char args[600];
    snprintf(args, sizeof args, "dump '%s'", path);
    cli_result *res = run_cli(args);
    cr_assert_eq(res->status, 2);
    ASSERT_CONTAINS(res->err, "torn.slots");
    cr_assert(strchr(res->err, '\n') == res->err + strlen(res->err) - 1, "one line: %s", res->err);

    snprintf(args, sizeof args, "dump '%s'", test_path("absent.ring"));
    res = run_cli(args);
    cr_assert_eq(res->status, 2);
    ASSERT_CONTAINS(res->err, "absent.ring");
    remove_test_dir();
}

Test(cli_dump, usage_errors_are_exit_2_and_help_is_exit_0)
{
    cli_result *res = run_cli("dump");
    cr_assert_eq(res->status, 2);
    ASSERT_CONTAINS(res->err, "usage: vmdb dump FILE");
    res = run_cli("dump x -n lots");
    cr_assert_eq(res->status, 2);
    ASSERT_CONTAINS(res->err, "'lots' is not a byte count");
    res = run_cli("dump x --frobnicate");
    cr_assert_eq(res->status, 2);
    ASSERT_CONTAINS(res->err, "unknown option '--frobnicate'");
    res = run_cli("dump --help");
    cr_assert_eq(res->status, 0);
    ASSERT_CONTAINS(res->out, "usage: vmdb dump FILE");
    res = run_cli("--version");
    cr_assert_eq(res->status, 0);
    ASSERT_CONTAINS(res->out, "vmdb " VMDB_VERSION_STRING);
    res = run_cli("undump");
    cr_assert_eq(res->status, 2);
    ASSERT_CONTAINS(res->err, "unknown command 'undump'");
    remove_test_dir();
}

Test(cli_dump, table_file_header_slots_and_damage_are_shown)
{
    char dir[600], vmt[640];
    snprintf(dir, sizeof dir, "%s", test_path("db"));
    snprintf(vmt, sizeof vmt, "%s/people.vmt", dir);
    vmdb_db *db;
    vmdb_db_options o = {.flags = VMDB_DB_CREATE};
    ASSERT_OK(vmdb_open(dir, &o, &db));
    vmdb_schema *s;
    ASSERT_OK(vmdb_schema_parse("id:u64 key, name:str16, age:u8", &s));
    vmdb_table *t;
    ASSERT_OK(vmdb_table_create(db, "people", s, &t));
    vmdb_schema_free(s);
    struct {
        uint64_t id;
        char name[16];
        uint8_t age, pad[7];
    } r1 = {1, "Ada", 36, {0}}, r2 = {2, "Bob", 41, {0}};
    vmdb_txn *txn;
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    ASSERT_OK(vmdb_txn_put(txn, t, &r1, NULL));
    ASSERT_OK(vmdb_txn_put(txn, t, &r2, NULL));
    ASSERT_OK(vmdb_txn_delete(txn, t, &r1.id, sizeof r1.id));
    ASSERT_OK(vmdb_txn_commit(txn));
    vmdb_close(db);

    char args[800];
    snprintf(args, sizeof args, "dump '%s' --slots 3 -n 16", vmt);
    cli_result *res = run_cli(args);
    cr_assert_eq(res->status, 0, "stderr: %s", res->err);
    ASSERT_CONTAINS(res->out, "=== TABLE FILE HEADER ===");
    ASSERT_CONTAINS(res->out, "table:        people (id 1)\n");
    ASSERT_CONTAINS(res->out, "schema:       id:u64 key, name:str16, age:u8\n");
    ASSERT_CONTAINS(res->out, "record:       32 bytes, in slots of 48 (a 16-byte slot header first)\n");
    ASSERT_CONTAINS(res->out, "slots:        64 from offset 8192, 1 live\n");
    ASSERT_CONTAINS(res->out, "copy A:       ok\ncopy B:       ok\n");
    ASSERT_CONTAINS(res->out, "Dumping 16 bytes of the record in each of the first 3 slots:");
    ASSERT_CONTAINS(res->out, "slot[   1] live, seq 2,");
    ASSERT_CONTAINS(res->out, "|........Bob.....|");
    ASSERT_CONTAINS(res->out, "slot[   2] free, seq 0, lsn 0, checksum 00000000 (never written)");
    cr_assert(strstr(res->out, "slot[   3]") == NULL, "--slots 3 shows three slots");

    /* A damaged header copy is named; a damaged record fails its checksum. */
    xor_byte_at(vmt, 4096 + 70, 0x20);
    xor_byte_at(vmt, 8192 + 48 + 16 + 9, 0x20);
    res = run_cli(args);
    cr_assert_eq(res->status, 0, "stderr: %s", res->err);
    ASSERT_CONTAINS(res->out, "header copy B fails its checksum");
    ASSERT_CONTAINS(res->out, "|........BOb.....|");
    ASSERT_CONTAINS(res->out, " MISMATCH\n");
    remove_test_dir();
}
