/*
 * engine/base/os.h - the operating-system seam.
 *
 * Every system call vmdb makes (open, mmap, msync, madvise, fallocate,
 * fsync, flock, memfd_create, ...) is behind one of these functions, and
 * engine/base/os.c is the only file that includes the OS headers that declare
 * them. A port to another OS replaces os.c; a test build compiled with
 * VMDB_FAULT_INJECTION can make any operation fail on demand, and keeps a
 * durable image of each tracked file that only flushes update, so a test
 * can cut the power after a crash (vmdb__os_powerloss_cut).
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
 * In test builds each simulated power cut is a reboot (see below). */
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

#ifdef VMDB_FAULT_INJECTION
/* Operations a test can make fail. */
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

/*
 * The power-loss simulator (the model, and what it does not cover, is
 * described in os.c under "Power loss").
 *
 * vmdb__os_powerloss_track(dir, true) takes every regular file directly in
 * `dir`, bytes and name, as durable as it is now, and from then on keeps,
 * for each file of that directory the process opens through this layer, a
 * durable image: a shadow file in the sibling directory "<dir>.powerloss",
 * named by the file's inode number, which only a flush (vmdb__os_flush
 * with sync) or a vmdb__os_sync updates. Names are durable only through
 * vmdb__os_sync_dir_of: a create, rename or unlink is not until then.
 * Turn it on before the files are opened and mapped: mappings made
 * earlier are not seen. Off stops tracking and leaves the images for a
 * cut. Several processes may track one directory at once: the first
 * takes the files as durable, the others join it, and a flush or a
 * directory fsync by any of them counts for all.
 *
 * vmdb__os_powerloss_cut(dir, ...) is the power cut, applied to the files
 * as they are now, normally in another process after the tracking ones
 * were killed. First the names: each change since the last directory
 * fsync (a create, a rename with what it replaced, an unlink) is taken
 * back (LOSE, LOSE_LENGTHS), kept (KEEP) or either by a coin of its own
 * (TEAR, RANDOM); taken back, a new file vanishes, a renamed one has its
 * old name and an unlinked one comes back with its durable image. Then
 * the bytes: every 4 KiB page of a file that differs from its image is
 * lost, kept or torn as `mode` says, the file's length is the image's or
 * the current one (LOSE: the image's, KEEP: the current, TEAR and RANDOM:
 * a coin decides), and the result is written into the file. A file with
 * no image (never synced since tracking began) has an empty one. The
 * images are deleted afterwards, so tracking starts afresh, and the cut
 * is a reboot: vmdb__os_boot_id() returns a new id in this process and in
 * the processes it forks from then on.
 */
enum vmdb__powerloss_mode {
    VMDB__POWERLOSS_LOSE,   /* every page written since its last flush is lost */
    VMDB__POWERLOSS_KEEP,   /* every such page reached the disk anyway */
    VMDB__POWERLOSS_TEAR,   /* each 512-byte sector of such a page: old or new */
    VMDB__POWERLOSS_RANDOM, /* one of the three, drawn for each page */
    /* Every page kept, every length back to the image's: the kernel wrote
     * the data back, the journal never committed the new lengths. */
    VMDB__POWERLOSS_LOSE_LENGTHS,
};

typedef struct vmdb__powerloss_report {
    unsigned files;               /* regular files in the directory */
    unsigned files_without_image; /* never synced since tracking began */
    unsigned files_resized;       /* whose length the cut changed */
    uint64_t pages_differ;        /* pages whose bytes differed from the image */
    uint64_t pages_lost;          /* of those: back to the image */
    uint64_t pages_kept;          /* of those: the bytes as written */
    uint64_t pages_torn;          /* of those: sector by sector, old or new */
    unsigned name_changes;        /* changes of names since the last
                                     directory fsync (a rename and the file
                                     it replaced are one) */
    unsigned name_changes_lost;   /* of those: taken back */
    unsigned files_vanished;      /* never named durably: gone */
    unsigned files_restored;      /* unlinked, but the unlink was taken back */
    char summary[1536];           /* one "name: ..." clause per file that
                                     changed, for failure messages */
} vmdb__powerloss_report;

int vmdb__os_powerloss_track(const char *dir, bool on);
/* `report` may be NULL. -ENOENT if `dir` was never tracked. */
int vmdb__os_powerloss_cut(const char *dir, uint64_t seed, enum vmdb__powerloss_mode mode,
                           vmdb__powerloss_report *report);
const char *vmdb__os_powerloss_mode_name(enum vmdb__powerloss_mode mode);
#endif

/* ---- backup and compaction ---------------------------------------------- */

/* Removes the empty directory `path`. */
int vmdb__os_rmdir(const char *path);

#endif /* VMDB_ENGINE_OS_H */
