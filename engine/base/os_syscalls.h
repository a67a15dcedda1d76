/* SPDX-License-Identifier: MIT */
/*
 * engine/base/os_syscalls.h - the system calls of the os seam that a test
 * build can replace.
 *
 * os.c makes through this table the calls by which the engine writes,
 * grows, names, maps and makes durable its files, so that the test build
 * can wrap them (tests/os_fault.c fails them on demand,
 * tests/os_powerloss.c watches them to know what a power cut would keep)
 * while the release library contains none of that code. Every entry has
 * the signature and the errno convention of the libc call it stands for,
 * so a wrapper can hand a call on unchanged. The calls no test needs to
 * see (stat, locks, reads, reservations of address space, the open of a
 * directory to fsync it) go to the OS directly.
 *
 * Internal: neither installed nor part of any public header.
 */
#ifndef VMDB_ENGINE_OS_SYSCALLS_H
#define VMDB_ENGINE_OS_SYSCALLS_H

#include <stddef.h>
#include <sys/types.h>

struct vmdb__os_syscalls {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*memfd_create)(const char *name, unsigned flags);
    int (*fallocate)(int fd, int mode, off_t off, off_t len);
    ssize_t (*pwrite)(int fd, const void *src, size_t len, off_t off);
    ssize_t (*write)(int fd, const void *src, size_t len);
    int (*fsync)(int fd); /* of a regular file or of a directory */
    int (*fdatasync)(int fd);
    int (*rename)(const char *from, const char *to);
    void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
    int (*munmap)(void *addr, size_t len);
    int (*msync)(void *addr, size_t len, int flags);
    /* Not a system call but the OS's word on which boot this is (see
     * vmdb__os_boot_id): a simulated power cut is a reboot. */
    int (*read_boot_id)(char out[37]);
};

/* The table os.c calls through now: the real calls until replaced. */
const struct vmdb__os_syscalls *vmdb__os_syscalls(void);
/* Makes os.c call through `calls` (NULL: the real calls again). The table
 * is not copied, so it must outlive its use. Meant for a process's start,
 * before any thread calls the seam: a wrapper copies the table it
 * replaces, swaps the entries it intercepts, and hands each call on to
 * the copy's. */
void vmdb__os_set_syscalls(const struct vmdb__os_syscalls *calls);

#endif /* VMDB_ENGINE_OS_SYSCALLS_H */
