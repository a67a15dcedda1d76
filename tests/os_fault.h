/* SPDX-License-Identifier: MIT */
/*
 * tests/os_fault.h - makes a call of the os seam fail on demand, so that
 * a test can provoke every failure path of the engine. Test builds only:
 * tests/os_fault.c wraps the seam's system calls (engine/base/os_syscalls.h)
 * when the test binary starts; the release library has none of it.
 */
#ifndef VMDB_TESTS_OS_FAULT_H
#define VMDB_TESTS_OS_FAULT_H

#include <stdbool.h>

/* Operations a test can make fail, counted in the system calls that the
 * seam makes for them: an open is one of vmdb__os_open or vmdb__os_memfd,
 * a sync one of vmdb__os_sync or vmdb__os_sync_dir_of, a write one of
 * vmdb__os_pwrite_all (one pwrite, unless the kernel takes less than it
 * was given) or vmdb__os_write_some. A call that has nothing to do (a
 * write or an allocation of no bytes) makes none and is not counted. */
enum vmdb__os_op {
    VMDB__OS_OP_OPEN,
    VMDB__OS_OP_ALLOCATE,
    VMDB__OS_OP_MAP,
    VMDB__OS_OP_FLUSH,
    VMDB__OS_OP_SYNC,
    VMDB__OS_OP_WRITE,
    VMDB__OS_OP_RENAME,
    VMDB__OS_OP_COUNT
};
/* The call of `op` after the next `skip` ones fails once with -err. */
void vmdb__os_inject_fault(enum vmdb__os_op op, int err, unsigned skip);
void vmdb__os_clear_faults(void);
/* Whether the fault set for `op` is still waiting for its call. */
bool vmdb__os_fault_armed(enum vmdb__os_op op);

#endif /* VMDB_TESTS_OS_FAULT_H */
