/* SPDX-License-Identifier: MIT */
/*
 * engine/base/os.c - Linux implementation of the os seam (see os.h).
 *
 * Nothing outside this file includes <sys/mman.h>, <fcntl.h> or <unistd.h>
 * for system calls. Each wrapper returns 0 or -errno and keeps no state.
 * The calls on the engine's files go through the table of os_syscalls.h,
 * where the test build's fault injector and power-loss simulator
 * (tests/os_fault.c, tests/os_powerloss.c) wrap them: this file is the
 * same in every build.
 */
#define _GNU_SOURCE
#include "os.h"
#include "os_syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

/* ---- the calls a test build can replace (os_syscalls.h) ---- */

/* open(2) is variadic, and a call through a pointer of another type would
 * be undefined: this one has the table's type. */
static int real_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}

static int real_read_boot_id(char out[37])
{
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[64];
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    int rc = n < 0 ? -errno : 0;
    close(fd);
    if (rc < 0)
        return rc;
    if (n < 36)
        return -EIO;
    memcpy(out, buf, 36);
    out[36] = '\0';
    return 0;
}

static const struct vmdb__os_syscalls real_syscalls = {
    .open = real_open,
    .memfd_create = memfd_create,
    .fallocate = fallocate,
    .pwrite = pwrite,
    .write = write,
    .fsync = fsync,
    .fdatasync = fdatasync,
    .rename = rename,
    .mmap = mmap,
    .munmap = munmap,
    .msync = msync,
    .read_boot_id = real_read_boot_id,
};

/* Replaced only at a process's start, but read by every thread: atomic,
 * which costs a plain load. */
static const struct vmdb__os_syscalls *syscalls_now = &real_syscalls;

static const struct vmdb__os_syscalls *sys(void)
{
    return __atomic_load_n(&syscalls_now, __ATOMIC_ACQUIRE);
}

const struct vmdb__os_syscalls *vmdb__os_syscalls(void)
{
    return sys();
}

void vmdb__os_set_syscalls(const struct vmdb__os_syscalls *calls)
{
    __atomic_store_n(&syscalls_now, calls ? calls : &real_syscalls, __ATOMIC_RELEASE);
}

size_t vmdb__os_page_size(void)
{
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

size_t vmdb__os_huge_page_size(void)
{
    static size_t huge;
    if (!huge) {
        unsigned long long v = 0;
        FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "re");
        if (f) {
            if (fscanf(f, "%llu", &v) != 1)
                v = 0;
            fclose(f);
        }
        huge = v ? (size_t)v : (size_t)2 << 20;
    }
    return huge;
}

int vmdb__os_open(const char *path, int flags, unsigned perm, int *fd)
{
    /* Non-blocking: a FIFO planted where a database file belongs would
     * hold a read-only open until a writer came (the callers refuse what
     * is not a regular file, for which the flag changes nothing). */
    int oflags = O_CLOEXEC | O_NONBLOCK | ((flags & VMDB__OS_RDWR) ? O_RDWR : O_RDONLY);
    if (flags & VMDB__OS_CREATE)
        oflags |= O_CREAT;
    if (flags & VMDB__OS_EXCL)
        oflags |= O_EXCL;
    if (flags & VMDB__OS_TRUNC)
        oflags |= O_TRUNC;
    int rc;
    do
        rc = sys()->open(path, oflags, (mode_t)perm);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    *fd = rc;
    return 0;
}

int vmdb__os_dup(int fd, int *out)
{
    int rc = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (rc < 0)
        return -errno;
    *out = rc;
    return 0;
}

void vmdb__os_close(int fd)
{
    /* Linux releases the descriptor even when close reports EINTR, so a
     * retry could close a descriptor another thread just opened. */
    if (fd >= 0)
        (void)close(fd);
}

static void fill_stat(const struct stat *sb, vmdb__os_stat *st)
{
    st->size = (uint64_t)sb->st_size;
    st->dev = (uint64_t)sb->st_dev;
    st->ino = (uint64_t)sb->st_ino;
    st->is_regular = S_ISREG(sb->st_mode);
    st->is_dir = S_ISDIR(sb->st_mode);
}

int vmdb__os_fstat(int fd, vmdb__os_stat *st)
{
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return -errno;
    fill_stat(&sb, st);
    return 0;
}

int vmdb__os_fd_writable(int fd, bool *writable)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    *writable = (fl & O_ACCMODE) != O_RDONLY;
    return 0;
}

int vmdb__os_stat_path(const char *path, vmdb__os_stat *st)
{
    struct stat sb;
    if (stat(path, &sb) < 0)
        return -errno;
    fill_stat(&sb, st);
    return 0;
}

int vmdb__os_allocate(int fd, uint64_t off, uint64_t len)
{
    if (len == 0)
        return 0;
    if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
        return -EFBIG;
    int rc;
    do
        rc = sys()->fallocate(fd, 0, (off_t)off, (off_t)len);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return 0;
    if (errno != EOPNOTSUPP)
        return -errno;
    /* A file system without fallocate: glibc's emulation writes a byte in
     * every block, which reserves the blocks just the same. */
    return -posix_fallocate(fd, (off_t)off, (off_t)len);
}

/* tmpfs's f_type (linux/magic.h). */
#define TMPFS_MAGIC_NUMBER 0x01021994

int vmdb__os_punch_hole(int fd, uint64_t off, uint64_t len)
{
    if (len == 0)
        return 0;
    /* On tmpfs, a read through a shared map of a punched page allocates
     * the page again, and on a full tmpfs that read is a SIGBUS: a reader
     * may read a range its writer gave back. Kept as it is there. */
    struct statfs fs;
    if (fstatfs(fd, &fs) == 0 && fs.f_type == TMPFS_MAGIC_NUMBER)
        return 0;
    if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
        return -EFBIG;
    int rc;
    do
        rc = sys()->fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                              (off_t)len);
    while (rc < 0 && errno == EINTR);
    return rc == 0 || errno == EOPNOTSUPP ? 0 : -errno;
}

int vmdb__os_truncate(int fd, uint64_t size)
{
    if (size > (uint64_t)INT64_MAX)
        return -EFBIG;
    int rc;
    do
        rc = ftruncate(fd, (off_t)size);
    while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

int vmdb__os_sync(int fd, bool data_only)
{
    int rc = data_only ? sys()->fdatasync(fd) : sys()->fsync(fd);
    return rc < 0 ? -errno : 0;
}

/* A rename or create is durable only once its directory entry is: fsync
 * the directory that holds `path`. */
int vmdb__os_sync_dir_of(const char *path)
{
#ifdef VMDB_MUTANT_NO_DIR_FSYNC
    /* A known bug put back on purpose, for the tests that must catch it. */
    (void)path;
    return 0;
#endif
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir)
            return -ENAMETOOLONG;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = sys()->fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int vmdb__os_pread_all(int fd, void *dst, size_t len, uint64_t off)
{
    char *p = dst;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -ENODATA; /* the file ended first */
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int vmdb__os_pwrite_all(int fd, const void *src, size_t len, uint64_t off)
{
    const char *p = src;
    while (len > 0) {
        ssize_t n = sys()->pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int vmdb__os_read_some(int fd, void *dst, size_t len, size_t *done)
{
    ssize_t n;
    do
        n = read(fd, dst, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    *done = (size_t)n;
    return 0;
}

int vmdb__os_write_some(int fd, const void *src, size_t len, size_t *done)
{
    ssize_t n;
    do
        n = sys()->write(fd, src, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    *done = (size_t)n;
    return 0;
}

int vmdb__os_rename(const char *from, const char *to)
{
    return sys()->rename(from, to) < 0 ? -errno : 0;
}

int vmdb__os_memfd(const char *name, int *fd)
{
    int rc = sys()->memfd_create(name, MFD_CLOEXEC);
    if (rc < 0)
        return -errno;
    *fd = rc;
    return 0;
}

int vmdb__os_random(void *dst, size_t len)
{
    char *p = dst;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int vmdb__os_lock_file(int fd, bool lock)
{
    int rc;
    do
        rc = flock(fd, lock ? LOCK_EX : LOCK_UN);
    while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

int vmdb__os_try_lock_file(int fd)
{
    int rc;
    do
        rc = flock(fd, LOCK_EX | LOCK_NB);
    while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

uint64_t vmdb__os_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* flock has no timed wait, and interrupting a blocking one takes a signal
 * the library does not own: so it tries again after naps. They start at a
 * millisecond, so that a short wait (the usual one, a commit) costs
 * little, and grow to ten, so that a long one costs a few hundred wakeups
 * a second at most. */
#define LOCK_NAP_FIRST_NS (1000u * 1000)
#define LOCK_NAP_MAX_NS (10u * 1000 * 1000)

static int lock_file_until(int fd, bool shared, uint64_t deadline_ns)
{
    uint64_t nap_ns = LOCK_NAP_FIRST_NS;
    for (;;) {
        int rc = shared ? vmdb__os_try_lock_file_shared(fd) : vmdb__os_try_lock_file(fd);
        if (rc != -EWOULDBLOCK)
            return rc;
        uint64_t now = vmdb__os_now_ns();
        if (now >= deadline_ns)
            return -EWOULDBLOCK;
        uint64_t this_nap = deadline_ns - now < nap_ns ? deadline_ns - now : nap_ns;
        nanosleep(&(struct timespec){(time_t)(this_nap / 1000000000u),
                                     (long)(this_nap % 1000000000u)},
                  NULL);
        nap_ns = nap_ns * 2 < LOCK_NAP_MAX_NS ? nap_ns * 2 : LOCK_NAP_MAX_NS;
    }
}

int vmdb__os_lock_file_until(int fd, uint64_t deadline_ns)
{
    return lock_file_until(fd, false, deadline_ns);
}

int vmdb__os_lock_file_shared_until(int fd, uint64_t deadline_ns)
{
    return lock_file_until(fd, true, deadline_ns);
}

/* Open file description locks (F_OFD_*) are independent of flock, belong
 * to one open file like it, and F_OFD_GETLK tells whether another open
 * file holds one: a waiter count that no death can leave behind. */
int vmdb__os_mark_waiter(int fd, bool waiting)
{
    struct flock fl = {.l_type = waiting ? F_RDLCK : F_UNLCK, .l_whence = SEEK_SET,
                       .l_start = 0, .l_len = 1};
    int rc;
    do
        rc = fcntl(fd, F_OFD_SETLKW, &fl);
    while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

int vmdb__os_has_waiter(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return -errno;
    return fl.l_type != F_UNLCK;
}

int vmdb__os_try_lock_file_shared(int fd)
{
    int rc;
    do
        rc = flock(fd, LOCK_SH | LOCK_NB);
    while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

int vmdb__os_lock_file_shared(int fd)
{
    int rc;
    do
        rc = flock(fd, LOCK_SH);
    while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

int vmdb__os_lock_dir(const char *path, int *fd)
{
    int d = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return -errno;
    int rc = vmdb__os_lock_file(d, true);
    if (rc < 0) {
        close(d);
        return rc;
    }
    *fd = d;
    return 0;
}

int vmdb__os_mkdir(const char *path)
{
    return mkdir(path, 0755) < 0 ? -errno : 0;
}

int vmdb__os_list_dir(const char *path, int (*fn)(void *ctx, const char *name), void *ctx)
{
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        rc = fn(ctx, e->d_name);
    }
    closedir(d);
    return rc;
}

long vmdb__os_pid(void)
{
    return (long)getpid();
}

int vmdb__os_boot_id(char out[37])
{
    return sys()->read_boot_id(out);
}

int vmdb__os_unlink(const char *path)
{
    return unlink(path) < 0 ? -errno : 0;
}

static int to_prot(enum vmdb__os_prot prot)
{
    switch (prot) {
    case VMDB__PROT_READ:
        return PROT_READ;
    case VMDB__PROT_RW:
        return PROT_READ | PROT_WRITE;
    case VMDB__PROT_NONE:
        break;
    }
    return PROT_NONE;
}

/* Over-reserves by `align` and trims both ends, the portable way to get an
 * aligned range: huge pages need 2 MiB-aligned virtual addresses. Only
 * address space, so mmap and munmap are called directly, not through the
 * table: a MAP fault a test injects is for vmdb__os_map_fixed alone. */
int vmdb__os_reserve(size_t len, size_t align, void **out)
{
    size_t page = vmdb__os_page_size();
    if (align < page)
        align = page;
    if (len > SIZE_MAX - align)
        return -ENOMEM;
    size_t span = len + (align > page ? align : 0);
    char *p = mmap(NULL, span, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    char *start = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
    if (start > p)
        munmap(p, (size_t)(start - p));
    char *end = start + len;
    if (end < p + span)
        munmap(end, (size_t)(p + span - end));
    *out = start;
    return 0;
}

int vmdb__os_map_fixed(void *addr, size_t len, const vmdb__os_mapping *how,
                       int fd, uint64_t off)
{
    int flags = MAP_FIXED | (how->shared ? MAP_SHARED : MAP_PRIVATE);
    if (how->populate)
        flags |= MAP_POPULATE;
    if (fd < 0) {
        flags |= MAP_ANONYMOUS;
        if (how->hugetlb)
            flags |= MAP_HUGETLB;
        off = 0;
    }
    void *p = sys()->mmap(addr, len, to_prot(how->prot), flags, fd, (off_t)off);
    return p == MAP_FAILED ? -errno : 0;
}

int vmdb__os_unmap(void *addr, size_t len)
{
    return sys()->munmap(addr, len) < 0 ? -errno : 0;
}

int vmdb__os_protect(void *addr, size_t len, enum vmdb__os_prot prot)
{
    return mprotect(addr, len, to_prot(prot)) < 0 ? -errno : 0;
}

int vmdb__os_flush(void *addr, size_t len, bool sync)
{
    return sys()->msync(addr, len, sync ? MS_SYNC : MS_ASYNC) < 0 ? -errno : 0;
}

int vmdb__os_advise(void *addr, size_t len, enum vmdb__os_advice advice)
{
    static const int native[] = {
        [VMDB__ADV_NORMAL] = MADV_NORMAL,
        [VMDB__ADV_SEQUENTIAL] = MADV_SEQUENTIAL,
        [VMDB__ADV_RANDOM] = MADV_RANDOM,
        [VMDB__ADV_WILLNEED] = MADV_WILLNEED,
        [VMDB__ADV_DONTNEED] = MADV_DONTNEED,
    };
    return madvise(addr, len, native[advice]) < 0 ? -errno : 0;
}

int vmdb__os_advise_huge(void *addr, size_t len, bool on)
{
    return madvise(addr, len, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) < 0 ? -errno : 0;
}

int vmdb__os_lock_ram(void *addr, size_t len, bool on)
{
    int rc = on ? mlock(addr, len) : munlock(addr, len);
    return rc < 0 ? -errno : 0;
}

/* Sums the huge-page counters of every smaps entry that overlaps the range.
 * Entries are headed by "start-end perms ..." lines; counters are in kB. */
int vmdb__os_huge_bytes(void *addr, size_t len, uint64_t *bytes)
{
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f)
        return -errno;
    uintptr_t lo = (uintptr_t)addr, hi = lo + len;
    bool inside = false;
    uint64_t total_kb = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long start, end;
        unsigned long long kb;
        char key[64];
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = start < hi && end > lo;
        } else if (inside && sscanf(line, "%63[^:]: %llu kB", key, &kb) == 2) {
            if (!strcmp(key, "AnonHugePages") || !strcmp(key, "FilePmdMapped") ||
                !strcmp(key, "ShmemPmdMapped") || !strcmp(key, "Shared_Hugetlb") ||
                !strcmp(key, "Private_Hugetlb"))
                total_kb += kb;
        }
    }
    fclose(f);
    *bytes = total_kb * 1024;
    return 0;
}

int vmdb__os_resident_bytes(void *addr, size_t len, uint64_t *bytes)
{
    size_t page = vmdb__os_page_size();
    size_t pages = (len + page - 1) / page;
    unsigned char *vec = malloc(pages ? pages : 1);
    if (!vec)
        return -ENOMEM;
    uint64_t n = 0;
    int rc = 0;
    if (pages && mincore(addr, len, vec) < 0) {
        rc = -errno;
    } else {
        for (size_t i = 0; i < pages; i++)
            n += vec[i] & 1;
    }
    free(vec);
    if (rc == 0)
        *bytes = n * page;
    return rc;
}

uint64_t vmdb__os_hugetlb_free(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (!f)
        return 0;
    char line[256];
    unsigned long long n = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "HugePages_Free: %llu", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* ---- backup and compaction ---------------------------------------------- */

int vmdb__os_rmdir(const char *path)
{
    return rmdir(path) < 0 ? -errno : 0;
}
