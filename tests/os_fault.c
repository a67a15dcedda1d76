/* SPDX-License-Identifier: MIT */
/*
 * tests/os_fault.c - the fault injector of the test build (see os_fault.h).
 *
 * It replaces, when the test binary starts, the seam's system calls that
 * can fail with a wrapper that fails the call a test asked for and hands
 * every other on. A failed call does nothing, as a system call that fails
 * early would: it sets errno and returns what the call returns on error.
 */
#define _GNU_SOURCE
#include "os_fault.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "os_syscalls.h"

static struct {
    int err;
    unsigned skip;
    bool armed;
} faults[VMDB__OS_OP_COUNT];

/* The calls this file replaced, where each wrapper hands its call on. */
static struct vmdb__os_syscalls next;

void vmdb__os_inject_fault(enum vmdb__os_op op, int err, unsigned skip)
{
    faults[op].err = err;
    faults[op].skip = skip;
    faults[op].armed = true;
}

bool vmdb__os_fault_armed(enum vmdb__os_op op)
{
    return faults[op].armed;
}

void vmdb__os_clear_faults(void)
{
    memset(faults, 0, sizeof faults);
}

/* The errno this call of `op` fails with, or 0 when it goes ahead. */
static int injected(enum vmdb__os_op op)
{
    if (!faults[op].armed)
        return 0;
    if (faults[op].skip > 0) {
        faults[op].skip--;
        return 0;
    }
    faults[op].armed = false;
    return faults[op].err;
}

/* Fails the call with -1 and errno when a fault of `op` is due. */
#define FAIL_IF_INJECTED(op, failed)                                           \
    do {                                                                       \
        int err_ = injected(VMDB__OS_OP_##op);                                 \
        if (err_) {                                                            \
            errno = err_;                                                      \
            return failed;                                                     \
        }                                                                      \
    } while (0)

static int faulty_open(const char *path, int flags, mode_t mode)
{
    FAIL_IF_INJECTED(OPEN, -1);
    return next.open(path, flags, mode);
}

static int faulty_memfd_create(const char *name, unsigned flags)
{
    FAIL_IF_INJECTED(OPEN, -1);
    return next.memfd_create(name, flags);
}

static int faulty_fallocate(int fd, int mode, off_t off, off_t len)
{
    FAIL_IF_INJECTED(ALLOCATE, -1);
    return next.fallocate(fd, mode, off, len);
}

static ssize_t faulty_pwrite(int fd, const void *src, size_t len, off_t off)
{
    FAIL_IF_INJECTED(WRITE, -1);
    return next.pwrite(fd, src, len, off);
}

static ssize_t faulty_write(int fd, const void *src, size_t len)
{
    FAIL_IF_INJECTED(WRITE, -1);
    return next.write(fd, src, len);
}

static int faulty_fsync(int fd)
{
    FAIL_IF_INJECTED(SYNC, -1);
    return next.fsync(fd);
}

static int faulty_fdatasync(int fd)
{
    FAIL_IF_INJECTED(SYNC, -1);
    return next.fdatasync(fd);
}

static int faulty_rename(const char *from, const char *to)
{
    FAIL_IF_INJECTED(RENAME, -1);
    return next.rename(from, to);
}

static void *faulty_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    FAIL_IF_INJECTED(MAP, MAP_FAILED);
    return next.mmap(addr, len, prot, flags, fd, off);
}

static int faulty_msync(void *addr, size_t len, int flags)
{
    FAIL_IF_INJECTED(FLUSH, -1);
    return next.msync(addr, len, flags);
}

/* Before main, so before any thread calls the seam. */
__attribute__((constructor)) static void install_fault_injector(void)
{
    next = *vmdb__os_syscalls();
    static struct vmdb__os_syscalls faulty;
    faulty = next;
    faulty.open = faulty_open;
    faulty.memfd_create = faulty_memfd_create;
    faulty.fallocate = faulty_fallocate;
    faulty.pwrite = faulty_pwrite;
    faulty.write = faulty_write;
    faulty.fsync = faulty_fsync;
    faulty.fdatasync = faulty_fdatasync;
    faulty.rename = faulty_rename;
    faulty.mmap = faulty_mmap;
    faulty.msync = faulty_msync;
    vmdb__os_set_syscalls(&faulty);
}
