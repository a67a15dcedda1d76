/* SPDX-License-Identifier: MIT */
/*
 * engine/db/read_state.c - which read transaction the calling thread has
 * open, if any. Below everything that must behave differently inside
 * one: a thread holding writers back cannot become the writer (it would
 * wait for itself), and following replaced files must not pull the
 * tables from under a read that is still running. read.c opens and ends
 * the transactions themselves.
 */
#include "db.h"

static _Thread_local vmdb_read *open_read;

vmdb_read *vmdb__read_current(void)
{
    return open_read;
}

void vmdb__read_set_current(vmdb_read *r)
{
    open_read = r;
}

bool vmdb__read_open_on(const vmdb_db *db)
{
    return open_read && open_read->db == db;
}

bool vmdb__read_holding(const vmdb_db *db)
{
    return vmdb__read_open_on(db) && open_read->hold_fd >= 0;
}
