/* SPDX-License-Identifier: MIT */
/*
 * engine/base/os.h - the operating-system seam.
 *
 * Every system call vmdb makes (open, mmap, msync, madvise, fallocate,
 * fsync, flock, memfd_create, ...) is behind one of these functions, and
 * engine/base/os.c is the only file that includes the OS headers that declare
 * them. A port to another OS replaces os.c. The calls that write, name,
 * map and make durable a file go through a table (os_syscalls.h) that the
 * test build wraps: tests/os_fault.c makes any of them fail on demand, and
 * tests/os_powerloss.c keeps a durable image of each tracked file that
 * only flushes update, so a test can cut the power after a crash.
 *
 * Convention: every function returns 0 or a negative errno value and leaves
 * the error context alone. The caller knows which file and which offset
 * the call was about, so it is the caller that turns the errno into a
 * VMDB_E* code with a message (vmdb__fail_os).
 */
#ifndef VMDB_ENGINE_OS_H
#define VMDB_ENGINE_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Open flags, translated to the OS's own in os.c. */
enum {
    VMDB__OS_RDONLY = 0,
    VMDB__OS_RDWR = 1 << 0,
    VMDB__OS_CREATE = 1 << 1,
    VMDB__OS_EXCL = 1 << 2,
    VMDB__OS_TRUNC = 1 << 3,
};

enum vmdb__os_prot { VMDB__PROT_NONE, VMDB__PROT_READ, VMDB__PROT_RW };

/* What an open file descriptor refers to. */
typedef struct vmdb__os_stat {
    uint64_t size; /* bytes */
    uint64_t dev, ino; /* which file: a rename over the name changes it */
    bool is_regular;
    bool is_dir;
} vmdb__os_stat;

/* How a range of memory is mapped. */
typedef struct vmdb__os_mapping {
    enum vmdb__os_prot prot;
    bool shared;   /* MAP_SHARED rather than a private copy-on-write map */
    bool populate; /* pre-fault every page now */
    bool hugetlb;  /* anonymous memory from the huge page pool */
} vmdb__os_mapping;

size_t vmdb__os_page_size(void);
/* The PMD-sized huge page the kernel would use (2 MiB on x86-64). */
size_t vmdb__os_huge_page_size(void);

int vmdb__os_open(const char *path, int flags, unsigned perm, int *fd);
int vmdb__os_dup(int fd, int *out);
void vmdb__os_close(int fd);
int vmdb__os_fstat(int fd, vmdb__os_stat *st);
/* Whether `fd` was opened for writing. */
int vmdb__os_fd_writable(int fd, bool *writable);
int vmdb__os_stat_path(const char *path, vmdb__os_stat *st);
/* Reserves disk blocks for [off, off+len), extending the file if needed,
 * so a later store through a mapping cannot meet ENOSPC as SIGBUS. */
int vmdb__os_allocate(int fd, uint64_t off, uint64_t len);
/* Gives the disk blocks of [off, off+len) back, keeping the length: the
 * range reads as zeros after. A file system that cannot is left as it
 * is (0): the bytes stay, which costs space and nothing else; so is a
 * tmpfs, where reading a punched page through a map allocates it again,
 * a SIGBUS when the tmpfs is full. */
int vmdb__os_punch_hole(int fd, uint64_t off, uint64_t len);
int vmdb__os_truncate(int fd, uint64_t size);
int vmdb__os_sync(int fd, bool data_only);
int vmdb__os_sync_dir_of(const char *path);
/* Whole-buffer I/O: loops over short transfers and EINTR. */
int vmdb__os_pread_all(int fd, void *dst, size_t len, uint64_t off);
int vmdb__os_pwrite_all(int fd, const void *src, size_t len, uint64_t off);
/* One read(2) or write(2) of up to len bytes, retried on EINTR; *done =
 * bytes moved (0 from read means end of file). */
int vmdb__os_read_some(int fd, void *dst, size_t len, size_t *done);
int vmdb__os_write_some(int fd, const void *src, size_t len, size_t *done);
int vmdb__os_rename(const char *from, const char *to);
/* An anonymous file in memory (memfd), sealed against nothing: it exists so
 * the same pages can be mapped twice. `name` shows in /proc/PID/maps. */
int vmdb__os_memfd(const char *name, int *fd);
/* Fills dst with len random bytes from the kernel (getrandom). */
int vmdb__os_random(void *dst, size_t len);
/* Takes (exclusive) or releases an advisory lock on the whole file
 * (flock): the kernel drops it when the process dies, however it dies. */
int vmdb__os_lock_file(int fd, bool lock);
/* Takes the exclusive lock of vmdb__os_lock_file if it is free: 0, or
 * -EWOULDBLOCK when another open file holds it. */
int vmdb__os_try_lock_file(int fd);
/* As vmdb__os_lock_file(fd, true), but gives up at CLOCK_MONOTONIC time
 * deadline_ns (vmdb__os_now_ns): 0, or -EWOULDBLOCK when another open file
 * still holds the lock then. It tries again after short naps rather than
 * blocking, so it notices a release a few milliseconds late. */
int vmdb__os_lock_file_until(int fd, uint64_t deadline_ns);
/* The same for the shared lock. */
int vmdb__os_lock_file_shared_until(int fd, uint64_t deadline_ns);
/* CLOCK_MONOTONIC in ns: for deadlines, never for dates. */
uint64_t vmdb__os_now_ns(void);
/* A process about to wait for the exclusive lock marks itself a waiter (a
 * shared lock on byte 0, held through fd's open file, so it dies with the
 * process) and unmarks itself once it has the lock; the holder asks whether
 * anyone waits (1) or not (0). */
int vmdb__os_mark_waiter(int fd, bool waiting);
int vmdb__os_has_waiter(int fd);
/* Takes a shared lock on the file if nobody holds the exclusive one: 0
 * (give it back with vmdb__os_lock_file(fd, false)), or -EWOULDBLOCK. */
int vmdb__os_try_lock_file_shared(int fd);
/* Takes the shared lock, waiting while another open file holds the
 * exclusive one. */
int vmdb__os_lock_file_shared(int fd);
/* Opens directory `path` and takes an exclusive advisory lock on it
 * (flock), waiting for it: closing *fd gives it back. */
int vmdb__os_lock_dir(const char *path, int *fd);
/* Creates directory `path` (mode 0755); -EEXIST if it is there. */
int vmdb__os_mkdir(const char *path);
/* Calls fn(ctx, name) for each entry of directory `path` but . and ..;
 * stops at fn's first nonzero return and returns it. */
int vmdb__os_list_dir(const char *path, int (*fn)(void *ctx, const char *name), void *ctx);
/* The calling process's id, for names of temporary files. */
long vmdb__os_pid(void);
/* The id of the running boot of the machine (Linux: the 36-character
 * UUID of /proc/sys/kernel/random/boot_id), NUL-terminated: a value in a
 * file that differs from it was written before the machine last started.
 * In the test build each simulated power cut is a reboot
 * (tests/os_powerloss.h). */
int vmdb__os_boot_id(char out[37]);
int vmdb__os_unlink(const char *path);

/* Reserves `len` bytes of address space, aligned to `align` (a power of two
 * at least the page size), with no access and no memory committed. */
int vmdb__os_reserve(size_t len, size_t align, void **out);
/* Maps over [addr, addr+len), which must lie inside a reservation. fd < 0
 * maps anonymous memory. */
int vmdb__os_map_fixed(void *addr, size_t len, const vmdb__os_mapping *how,
                       int fd, uint64_t off);
int vmdb__os_unmap(void *addr, size_t len);
int vmdb__os_protect(void *addr, size_t len, enum vmdb__os_prot prot);
int vmdb__os_flush(void *addr, size_t len, bool sync);
/* Access-pattern advice; map.c asserts these match enum vmdb_advice. */
enum vmdb__os_advice {
    VMDB__ADV_NORMAL,
    VMDB__ADV_SEQUENTIAL,
    VMDB__ADV_RANDOM,
    VMDB__ADV_WILLNEED,
    VMDB__ADV_DONTNEED
};
int vmdb__os_advise(void *addr, size_t len, enum vmdb__os_advice advice);
int vmdb__os_advise_huge(void *addr, size_t len, bool on);
int vmdb__os_lock_ram(void *addr, size_t len, bool on);
/* Bytes of [addr, addr+len) backed by huge pages right now (THP or
 * hugetlb), read from /proc/self/smaps. */
int vmdb__os_huge_bytes(void *addr, size_t len, uint64_t *bytes);
/* Bytes of [addr, addr+len) resident in memory right now. */
int vmdb__os_resident_bytes(void *addr, size_t len, uint64_t *bytes);
/* Free pages in the hugetlb pool, or 0 when there is none. */
uint64_t vmdb__os_hugetlb_free(void);

/* ---- backup and compaction ---------------------------------------------- */

/* Removes the empty directory `path`. */
int vmdb__os_rmdir(const char *path);

#endif /* VMDB_ENGINE_OS_H */
