/* SPDX-License-Identifier: MIT */
/*
 * cli/consistent.c - output that shows one committed state of the
 * database, never part of a transaction (a read transaction, vmdb_read).
 *
 * A read transaction may have to be read again, and printed rows cannot
 * be taken back: so the first tries print into memory, and what is
 * printed is the try that validated, unless it failed. A try whose output outgrows the
 * buffer, or the try after VMDB_READ_OPTIMISTIC_TRIES failed ones, runs
 * with writers held back and prints straight out: writers in every
 * process then wait until the output is written, as they wait for a
 * reader in SQLite's rollback-journal mode.
 */
#define _GNU_SOURCE /* open_memstream */
#include <stdlib.h>

#include "cli.h"

/* Output a try may buffer before it is done again with writers held
 * back: what a terminal or a pipe takes in well under a second. */
#define BUFFERED_OUTPUT_MAX (16u << 20)

bool cli_output_full(FILE *out, size_t limit)
{
    if (limit == 0)
        return false;
    long at = ftell(out);
    return at < 0 || (size_t)at > limit;
}

static int held_try(vmdb_db *db, vmdb_read *r, cli_producer produce, void *ctx, FILE *out)
{
    vmdb_read_end(r);
    if (vmdb_read_begin(db, VMDB_READ_HOLD, r) < 0)
        return cli_library_error();
    int status = produce(ctx, out, 0);
    vmdb_read_end(r);
    return status;
}

int cli_read_consistently(vmdb_db *db, FILE *out, cli_producer produce, void *ctx)
{
    vmdb_read r;
    if (vmdb_read_begin(db, 0, &r) < 0)
        return cli_library_error();
    for (;;) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        if (!mem) {
            vmdb_read_end(&r);
            return cli_error("out of memory");
        }
        int status = produce(ctx, mem, BUFFERED_OUTPUT_MAX);
        fclose(mem);
        if (status == CLI_OUTPUT_FULL) {
            free(buf);
            return held_try(db, &r, produce, ctx, out);
        }
        int valid = vmdb_read_validate(&r);
        if (valid == VMDB_ERETRY) {
            free(buf);
            if (r.tries >= VMDB_READ_OPTIMISTIC_TRIES) {
                /* Writers are held back now: this try stands. */
                status = produce(ctx, out, 0);
                vmdb_read_end(&r);
                return status;
            }
            continue;
        }
        vmdb_read_end(&r);
        if (valid < 0) {
            free(buf);
            return cli_library_error();
        }
        /* A try that failed (a damaged record, an error in an expression)
         * printed the rows before the fault: a part looks like the whole,
         * so none of it is shown. */
        if (status == CLI_ERROR)
            len = 0;
        bool written = fwrite(buf, 1, len, out) == len;
        free(buf);
        if (!written)
            return cli_error("cannot write the output");
        return status;
    }
}
