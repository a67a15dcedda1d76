/* SPDX-License-Identifier: MIT */
/*
 * tests/os_powerloss.c - the power-loss simulator of the test build (see
 * os_powerloss.h).
 *
 * A SIGKILLed process keeps every store it made: its dirty MAP_SHARED pages
 * live on in the page cache and reach the disk later. A power cut keeps
 * only what was made durable, plus whatever the kernel happened to write
 * back on its own, possibly half of a page. This simulator keeps the
 * first part, the durable image, and lets a test choose the second.
 *
 * The model, for the regular files directly inside one tracked directory:
 *
 *   - The durable image of a file is a shadow file, "<dir>.powerloss/<ino>"
 *     (named by inode number, so it follows the file through renames; the
 *     directory is a sibling, so nothing listing the database directory
 *     ever sees it). Turning tracking on copies every file there as it is:
 *     what exists when tracking starts is taken as durable, names included.
 *   - vmdb__os_flush(addr, len, sync=true), msync(MS_SYNC), makes the
 *     page-rounded range durable: the registry of shared file mappings
 *     made by vmdb__os_map_fixed (address range -> inode and file offset,
 *     the ring's mirror included) says which file bytes those are, and the
 *     bytes are copied from memory into the image. It also makes the
 *     file's current length durable (msync is fdatasync of the range, and
 *     fdatasync writes the length: it is needed to read the data back);
 *     bytes the image gains that way are zeros, which is what fallocated,
 *     never written blocks read as. MS_ASYNC makes nothing durable.
 *   - vmdb__os_sync(fd), fsync or fdatasync, makes the whole file durable:
 *     bytes and length, but not its name.
 *   - Names are durable only through vmdb__os_sync_dir_of(), an fsync of
 *     the directory, as on ext4 or xfs mounted without dirsync: the
 *     directory's regular files and their inodes, as listed at that
 *     moment, become the durable namespace ("<dir>.powerloss/names").
 *     A create, rename or unlink made since is not durable, however
 *     often the file itself was synced.
 *   - Writes of any kind (stores through a mapping, pwrite, write) and
 *     length changes (fallocate, ftruncate) are not durable by themselves.
 *   - The cut, run on the files after the tracked process died, first
 *     settles the names. Each change to the namespace since the last
 *     directory fsync is one group of names tied together by an inode
 *     that moved between them (a rename over an existing file is one
 *     change: the new name, the old name, and the file it replaced), and
 *     each group goes back to the durable namespace or stays as it is:
 *     LOSE and LOSE_LENGTHS (a journal that never committed) take every
 *     one back, KEEP keeps every one, TEAR and RANDOM toss a coin for
 *     each. Going back, a file created since vanishes, a renamed file
 *     takes its old name again, and an unlinked file comes back under its
 *     name with its durable image (its later bytes died with the last
 *     process that held it open; no image: empty). Then the bytes: each
 *     4 KiB page whose bytes differ from the image is lost (image bytes),
 *     kept (current bytes) or torn (each 512-byte sector one or the
 *     other), as the mode says; the length is the image's or the current
 *     one (past the image a lost page reads as zeros, past the current end
 *     the image's bytes are back), a decision of its own: the mode
 *     LOSE_LENGTHS keeps every page and loses every length change, as a
 *     kernel that wrote the data back before its journal committed the
 *     new length would. A file with no image, whose name is durable but
 *     its data never synced, has an empty one: LOSE leaves it empty.
 *   - Several processes may track one directory at once (two writers of
 *     one database): the images and the durable namespace are files, so a
 *     flush or a directory fsync by any of them counts for all, and every
 *     change to them is made under a lock on "<dir>.powerloss/lock"
 *     (fcntl, so a process forked from a tracker excludes its parent
 *     too). Each tracker holds a shared flock on "<dir>.powerloss/members";
 *     the first to start tracking, finding no other member alive, takes
 *     the directory as durable afresh, and the others join what it took.
 *   - A cut is a reboot: vmdb__os_boot_id() returns another value in the
 *     process that ran the cut and in the processes it forks afterwards.
 *
 * Not covered:
 *
 *   - Intermediate states: a kept page holds its last bytes, never bytes
 *     it held for a while before that, which the kernel might have
 *     written back and the cut might have caught.
 *   - Mappings made before tracking was turned on (flushes through them
 *     are not seen, so turn it on before opening anything), files outside
 *     the directory or in its subdirectories (and the directory's own
 *     entry in its parent), memfds, anonymous memory, and writes by other
 *     processes that do not track.
 *   - Damage finer than a sector, and the order of metadata updates other
 *     than a file's length and the names. An fsync of a new file that
 *     also commits its name, as ext4's does, is only a coin of RANDOM.
 *   - The inode number of a file that a tracker unlinked, then died, may
 *     be given to a new file, which would inherit its image.
 *
 * While tracking, the simulator holds a read-only descriptor of its own for
 * every file it knows. Reading the bytes through it needs no help from the
 * caller, and it keeps the inode, and so its number, alive: an unlinked
 * file's number cannot be reused by a new file, which would otherwise
 * inherit a stale image.
 *
 * What it sees, it sees through the seam's table of system calls
 * (engine/base/os_syscalls.h): when the test binary starts it wraps the
 * calls that open, map, unmap, flush and fsync, and each wrapper notes a
 * call that succeeded. Its own reads and writes of files and images go to
 * libc directly, so that a fault injected for the engine never hits them
 * and the simulator never watches itself.
 */
#define _GNU_SOURCE
#include "os_powerloss.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os.h"
#include "os_syscalls.h"

#define PL_PAGE 4096u
#define PL_SECTOR 512u
#define PL_NAMES "names"
#define PL_LOCK "lock"
#define PL_MEMBERS "members"
#define PL_STAGE "stage"

struct pl_file {
    dev_t dev;
    ino_t ino;
    int fd;        /* our own read-only descriptor of the file */
    int shadow_fd; /* its durable image, opened at the first need */
};

/* A shared mapping of a tracked file: [addr, addr + len) shows the file's
 * bytes from offset `off` on. */
struct pl_map {
    uintptr_t addr;
    size_t len;   /* bytes */
    dev_t dev;
    ino_t ino;
    uint64_t off; /* bytes */
};

static struct {
    pthread_mutex_t lock; /* guards everything below but `on` */
    bool on;              /* read by every hook without the lock */
    char shadow_dir[PATH_MAX];
    dev_t dir_dev;
    ino_t dir_ino;
    int guard_fd;  /* "<shadow>/lock", fcntl-locked around changes to the images */
    int member_fd; /* "<shadow>/members", flock-shared while this process tracks */
    struct pl_file *files;
    size_t file_count, file_cap;
    struct pl_map *maps;
    size_t map_count, map_cap;
} pl = {.lock = PTHREAD_MUTEX_INITIALIZER, .guard_fd = -1, .member_fd = -1};

/* Power cuts this process, or the one it was forked from, has run: each
 * one is a reboot for vmdb__os_boot_id(). Atomic. */
static uint64_t pl_boots;

static bool pl_on(void)
{
    return __atomic_load_n(&pl.on, __ATOMIC_ACQUIRE);
}

/* The simulator cannot keep its image: the test it serves would be
 * meaningless, so it stops the process loudly. */
static void pl_die(const char *what, int err)
{
    fprintf(stderr, "vmdb power-loss simulator: %s: %s\n", what, strerror(err));
    abort();
}

/* "<dir>.powerloss", with the trailing slashes of dir dropped. */
static int pl_shadow_dir_of(const char *dir, char *out, size_t cap)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    int w = snprintf(out, cap, "%.*s.powerloss", (int)n, dir);
    return w < 0 || (size_t)w >= cap ? -ENAMETOOLONG : 0;
}

/* The shared state's lock between processes (pl.lock is the one between
 * threads). A POSIX record lock belongs to the process, not to the open
 * file, so a child forked from a tracker waits for its parent. */
static void pl_guard(int fd, bool take)
{
    struct flock l = {.l_type = take ? F_WRLCK : F_UNLCK, .l_whence = SEEK_SET};
    while (fcntl(fd, F_SETLKW, &l) < 0)
        if (errno != EINTR)
            pl_die("the lock of the power-loss state", errno);
}

/* pwrite of all of src; not vmdb__os_pwrite_all, whose injected faults
 * belong to the engine and whose writes the simulator would watch. */
static int pl_write_all(int fd, const void *src, size_t len, uint64_t off)
{
    const char *p = src;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static struct pl_file *pl_find(dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < pl.file_count; i++)
        if (pl.files[i].dev == dev && pl.files[i].ino == ino)
            return &pl.files[i];
    return NULL;
}

/* Adds a file, taking ownership of `fd`, our own descriptor of it. */
static struct pl_file *pl_add(int fd, const struct stat *sb)
{
    if (pl.file_count == pl.file_cap) {
        size_t cap = pl.file_cap ? pl.file_cap * 2 : 16;
        struct pl_file *grown = realloc(pl.files, cap * sizeof *grown);
        if (!grown)
            pl_die("out of memory for the file table", ENOMEM);
        pl.files = grown;
        pl.file_cap = cap;
    }
    struct pl_file *f = &pl.files[pl.file_count++];
    *f = (struct pl_file){.dev = sb->st_dev, .ino = sb->st_ino, .fd = fd, .shadow_fd = -1};
    return f;
}

static int pl_shadow_fd(struct pl_file *f)
{
    if (f->shadow_fd < 0) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%llu", pl.shadow_dir, (unsigned long long)f->ino);
        f->shadow_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (f->shadow_fd < 0)
            pl_die(path, errno);
    }
    return f->shadow_fd;
}

static uint64_t pl_file_size(const struct pl_file *f)
{
    struct stat sb;
    if (fstat(f->fd, &sb) < 0)
        pl_die("fstat of a tracked file", errno);
    return (uint64_t)sb.st_size;
}

/* The whole file becomes durable: bytes and length. */
static void pl_copy_all(struct pl_file *f)
{
    int out = pl_shadow_fd(f);
    uint64_t size = pl_file_size(f);
    static char buf[1 << 16]; /* under pl.lock */
    for (uint64_t off = 0; off < size;) {
        size_t want = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
        ssize_t n = pread(f->fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            pl_die("reading a tracked file", n < 0 ? errno : ENODATA);
        int rc = pl_write_all(out, buf, (size_t)n, off);
        if (rc < 0)
            pl_die("writing a durable image", -rc);
        off += (uint64_t)n;
    }
    if (ftruncate(out, (off_t)size) < 0)
        pl_die("sizing a durable image", errno);
}

/* ---- the namespace: which name holds which inode ---- */

struct pl_name {
    char *name;
    uint64_t ino;
};

struct pl_names {
    struct pl_name *v;
    size_t n, cap;
};

static void pl_names_push(struct pl_names *ns, const char *name, uint64_t ino)
{
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 32;
        struct pl_name *grown = realloc(ns->v, cap * sizeof *grown);
        if (!grown)
            pl_die("out of memory for a list of names", ENOMEM);
        ns->v = grown;
        ns->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        pl_die("out of memory for a list of names", ENOMEM);
    ns->v[ns->n++] = (struct pl_name){.name = copy, .ino = ino};
}

static void pl_names_free(struct pl_names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i].name);
    free(ns->v);
    *ns = (struct pl_names){0};
}

static const struct pl_name *pl_names_find(const struct pl_names *ns, const char *name)
{
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i].name, name))
            return &ns->v[i];
    return NULL;
}

/* The regular files directly in directory `dir` (relative to directory
 * descriptor `at`), with their inodes. */
static int pl_list_names(int at, const char *dir, struct pl_names *out)
{
    int fd = openat(at, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int err = errno;
        close(fd);
        return -err;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
            pl_names_push(out, e->d_name, (uint64_t)sb.st_ino);
    }
    closedir(d);
    return 0;
}

/* The durable namespace is a text file of "INODE NAME" lines, replaced
 * whole by a rename so a reader never sees half of one. */
static int pl_write_names(const char *shadow, const struct pl_names *ns)
{
    char tmp[PATH_MAX + 32], final[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", shadow, PL_NAMES);
    snprintf(final, sizeof final, "%s/%s", shadow, PL_NAMES);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    for (size_t i = 0; i < ns->n; i++)
        fprintf(f, "%llu %s\n", (unsigned long long)ns->v[i].ino, ns->v[i].name);
    if (fclose(f) != 0)
        return -errno;
    return rename(tmp, final) < 0 ? -errno : 0;
}

static int pl_read_names(const char *shadow, struct pl_names *out)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", shadow, PL_NAMES);
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        char *name;
        unsigned long long ino = strtoull(line, &name, 10);
        if (*name != ' ')
            rc = -EINVAL;
        else
            pl_names_push(out, name + 1, ino);
    }
    free(line);
    fclose(f);
    return rc;
}

/* ---- hooks ---- */

static void pl_push_map(struct pl_map m)
{
    if (pl.map_count == pl.map_cap) {
        size_t cap = pl.map_cap ? pl.map_cap * 2 : 16;
        struct pl_map *grown = realloc(pl.maps, cap * sizeof *grown);
        if (!grown)
            pl_die("out of memory for the mapping registry", ENOMEM);
        pl.maps = grown;
        pl.map_cap = cap;
    }
    pl.maps[pl.map_count++] = m;
}

/* Removes [a, b) from the mapping registry, splitting entries that
 * straddle either end. */
static void pl_forget_range(uintptr_t a, uintptr_t b)
{
    for (size_t i = 0; i < pl.map_count;) {
        struct pl_map m = pl.maps[i];
        uintptr_t end = m.addr + m.len;
        if (end <= a || m.addr >= b) {
            i++;
            continue;
        }
        bool left = m.addr < a, right = end > b;
        if (left) {
            pl.maps[i].len = a - m.addr;
        } else {
            pl.maps[i] = pl.maps[--pl.map_count];
        }
        if (right)
            pl_push_map((struct pl_map){.addr = b, .len = end - b, .dev = m.dev, .ino = m.ino,
                                        .off = m.off + (b - m.addr)});
        if (left)
            i++;
    }
}

/* The directory part of `path`, as the kernel would resolve it. */
static int pl_dir_part(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(dir, cap, ".") < 0 ? -EINVAL : 0;
    if (slash == path)
        return snprintf(dir, cap, "/") < 0 ? -EINVAL : 0;
    if ((size_t)(slash - path) >= cap)
        return -ENAMETOOLONG;
    snprintf(dir, cap, "%.*s", (int)(slash - path), path);
    return 0;
}

/* A file just opened through the seam: known from now on if it is in
 * the tracked directory. */
static void pl_note_open(const char *path, int fd)
{
    char dir[PATH_MAX];
    if (pl_dir_part(path, dir, sizeof dir) < 0)
        return;
    struct stat ds, sb;
    if (stat(dir, &ds) < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
        return;
    pthread_mutex_lock(&pl.lock);
    if (pl.on && ds.st_dev == pl.dir_dev && ds.st_ino == pl.dir_ino &&
        !pl_find(sb.st_dev, sb.st_ino)) {
        /* A descriptor of our own, not a dup: a dup would share the
         * caller's flock, and keep it after the caller closed its copy. */
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        int own = open(self, O_RDONLY | O_CLOEXEC);
        if (own < 0)
            pl_die(self, errno);
        pl_add(own, &sb);
    }
    pthread_mutex_unlock(&pl.lock);
}

static void pl_note_map(void *addr, size_t len, bool shared, int fd, uint64_t off)
{
    struct stat sb;
    bool file = fd >= 0 && shared && fstat(fd, &sb) == 0;
    pthread_mutex_lock(&pl.lock);
    pl_forget_range((uintptr_t)addr, (uintptr_t)addr + len);
    if (pl.on && file && pl_find(sb.st_dev, sb.st_ino)) {
        pl_push_map((struct pl_map){.addr = (uintptr_t)addr, .len = len, .dev = sb.st_dev,
                                    .ino = sb.st_ino, .off = off});
    }
    pthread_mutex_unlock(&pl.lock);
}

static void pl_note_unmap(void *addr, size_t len)
{
    pthread_mutex_lock(&pl.lock);
    pl_forget_range((uintptr_t)addr, (uintptr_t)addr + len);
    pthread_mutex_unlock(&pl.lock);
}

/* msync(MS_SYNC) succeeded on [addr, addr + len): the pages it covers,
 * and each file's length, are durable. */
static void pl_note_flush(void *addr, size_t len, bool sync)
{
    if (!sync || len == 0)
        return;
    uintptr_t page = vmdb__os_page_size();
    uintptr_t a = (uintptr_t)addr & ~(page - 1);
    uintptr_t b = ((uintptr_t)addr + len + page - 1) & ~(page - 1);
    pthread_mutex_lock(&pl.lock);
    if (pl.on)
        pl_guard(pl.guard_fd, true);
    for (size_t i = 0; pl.on && i < pl.map_count; i++) {
        const struct pl_map *m = &pl.maps[i];
        uintptr_t lo = a > m->addr ? a : m->addr;
        uintptr_t hi = b < m->addr + m->len ? b : m->addr + m->len;
        struct pl_file *f = lo < hi ? pl_find(m->dev, m->ino) : NULL;
        if (!f)
            continue;
        uint64_t size = pl_file_size(f);
        int out = pl_shadow_fd(f);
        if (ftruncate(out, (off_t)size) < 0)
            pl_die("sizing a durable image", errno);
        uint64_t off = m->off + (lo - m->addr);
        if (off >= size)
            continue; /* past the end of the file: no bytes there */
        size_t n = hi - lo;
        if (n > size - off)
            n = (size_t)(size - off);
        int rc = pl_write_all(out, (const void *)lo, n, off);
        if (rc < 0)
            pl_die("writing a durable image", -rc);
    }
    if (pl.on)
        pl_guard(pl.guard_fd, false);
    pthread_mutex_unlock(&pl.lock);
}

static void pl_note_sync(int fd)
{
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return;
    pthread_mutex_lock(&pl.lock);
    struct pl_file *f = pl.on ? pl_find(sb.st_dev, sb.st_ino) : NULL;
    if (f) {
        pl_guard(pl.guard_fd, true);
        pl_copy_all(f);
        pl_guard(pl.guard_fd, false);
    }
    pthread_mutex_unlock(&pl.lock);
}

/* fsync of directory `dir_fd` succeeded: if it is the tracked one, its
 * entries as they are now are the durable namespace. */
static void pl_note_sync_dir(int dir_fd, const struct stat *ds)
{
    pthread_mutex_lock(&pl.lock);
    if (pl.on && ds->st_dev == pl.dir_dev && ds->st_ino == pl.dir_ino) {
        pl_guard(pl.guard_fd, true);
        struct pl_names now = {0};
        int rc = pl_list_names(dir_fd, ".", &now);
        if (rc == 0)
            rc = pl_write_names(pl.shadow_dir, &now);
        if (rc < 0)
            pl_die("recording the directory's durable names", -rc);
        pl_names_free(&now);
        pl_guard(pl.guard_fd, false);
    }
    pthread_mutex_unlock(&pl.lock);
}

/* Deletes the files of directory `path` and the directory. */
static int pl_remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) < 0 && rc == 0)
            rc = -errno;
    }
    closedir(d);
    if (rmdir(path) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* ---- tracking on and off ---- */

static void pl_stop_locked(void)
{
    __atomic_store_n(&pl.on, false, __ATOMIC_RELEASE);
    for (size_t i = 0; i < pl.file_count; i++) {
        close(pl.files[i].fd);
        if (pl.files[i].shadow_fd >= 0)
            close(pl.files[i].shadow_fd);
    }
    free(pl.files);
    free(pl.maps);
    pl.files = NULL;
    pl.maps = NULL;
    pl.file_count = pl.file_cap = pl.map_count = pl.map_cap = 0;
    /* Closing the members file gives up membership. */
    if (pl.member_fd >= 0)
        close(pl.member_fd);
    if (pl.guard_fd >= 0)
        close(pl.guard_fd);
    pl.member_fd = pl.guard_fd = -1;
}

/* With the guard held and no other tracker alive: forgets whatever an
 * earlier tracking left and takes every regular file directly in `dir`,
 * and its name, as durable now. The names are written last: until they
 * are, the state is not there for a cut, so a process killed halfway
 * leaves no images rather than some. */
static int pl_fresh_locked(const char *dir)
{
    int rc = 0;
    DIR *s = opendir(pl.shadow_dir);
    if (!s)
        return -errno;
    struct dirent *e;
    while (rc == 0 && (e = readdir(s)) != NULL) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, PL_LOCK) ||
            !strcmp(n, PL_MEMBERS))
            continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", pl.shadow_dir, n);
        if (!strcmp(n, PL_STAGE))
            rc = pl_remove_dir(path);
        else if (unlink(path) < 0)
            rc = -errno;
    }
    closedir(s);
    DIR *d = rc == 0 ? opendir(dir) : NULL;
    if (rc == 0 && !d)
        rc = -errno;
    struct pl_names names = {0};
    while (rc == 0 && (e = readdir(d)) != NULL) {
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = -errno;
            break;
        }
        if (fstat(fd, &sb) < 0) {
            rc = -errno;
            close(fd);
            break;
        }
        pl_copy_all(pl_add(fd, &sb));
        pl_names_push(&names, e->d_name, (uint64_t)sb.st_ino);
    }
    if (d)
        closedir(d);
    if (rc == 0)
        rc = pl_write_names(pl.shadow_dir, &names);
    pl_names_free(&names);
    return rc;
}

static int pl_start_locked(const char *dir)
{
    int rc = pl_shadow_dir_of(dir, pl.shadow_dir, sizeof pl.shadow_dir);
    if (rc < 0)
        return rc;
    struct stat ds;
    if (stat(dir, &ds) < 0)
        return -errno;
    if (!S_ISDIR(ds.st_mode))
        return -ENOTDIR;
    pl.dir_dev = ds.st_dev;
    pl.dir_ino = ds.st_ino;
    if (mkdir(pl.shadow_dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", pl.shadow_dir, PL_LOCK);
    pl.guard_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (pl.guard_fd < 0)
        return -errno;
    snprintf(path, sizeof path, "%s/%s", pl.shadow_dir, PL_MEMBERS);
    pl.member_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (pl.member_fd < 0)
        return -errno;
    pl_guard(pl.guard_fd, true);
    /* Under the guard nobody joins or leaves meanwhile: an exclusive lock
     * means no tracker is alive, and what is there is an earlier run's. */
    if (flock(pl.member_fd, LOCK_EX | LOCK_NB) == 0)
        rc = pl_fresh_locked(dir);
    else if (errno != EWOULDBLOCK)
        rc = -errno;
    if (rc == 0 && flock(pl.member_fd, LOCK_SH) < 0)
        rc = -errno;
    pl_guard(pl.guard_fd, false);
    return rc;
}

int vmdb__os_powerloss_track(const char *dir, bool on)
{
    pthread_mutex_lock(&pl.lock);
    pl_stop_locked();
    int rc = 0;
    if (on) {
        rc = pl_start_locked(dir);
        if (rc < 0)
            pl_stop_locked();
        else
            __atomic_store_n(&pl.on, true, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&pl.lock);
    return rc;
}

const char *vmdb__os_powerloss_mode_name(enum vmdb__powerloss_mode mode)
{
    switch (mode) {
    case VMDB__POWERLOSS_LOSE:
        return "lose";
    case VMDB__POWERLOSS_KEEP:
        return "keep";
    case VMDB__POWERLOSS_TEAR:
        return "tear";
    case VMDB__POWERLOSS_RANDOM:
        return "random";
    case VMDB__POWERLOSS_LOSE_LENGTHS:
        return "lose-lengths";
    }
    return "?";
}

/* ---- the cut ---- */

static uint64_t pl_rand(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A generator state of its own for each name, so a file's fate does not
 * depend on the order of the directory. */
static uint64_t pl_seed_for(uint64_t seed, const char *name)
{
    uint64_t s = seed;
    for (const char *p = name; *p; p++)
        s = (s ^ (unsigned char)*p) * 0x100000001b3ULL;
    return s;
}

/* Reads all of fd (len bytes) into a new buffer. */
static int pl_slurp(int fd, size_t len, unsigned char **out)
{
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf)
        return -ENOMEM;
    int rc = vmdb__os_pread_all(fd, buf, len, 0);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

static void pl_say(vmdb__powerloss_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pl_say(vmdb__powerloss_report *r, const char *fmt, ...)
{
    size_t used = strlen(r->summary);
    if (used + 1 >= sizeof r->summary)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->summary + used, sizeof r->summary - used, fmt, ap);
    va_end(ap);
}

/* Makes dir/name anew from the image of inode `ino` (empty without one):
 * an unlinked file whose unlink did not last. */
static int pl_restore(int dir_fd, const char *name, const char *shadow, uint64_t ino)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%llu", shadow, (unsigned long long)ino);
    unsigned char *img = NULL;
    size_t len = 0;
    int rc = 0;
    int sfd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat ss;
    if (sfd < 0 && errno != ENOENT)
        return -errno;
    if (sfd >= 0) {
        rc = fstat(sfd, &ss) < 0 ? -errno : 0;
        if (rc == 0) {
            len = (size_t)ss.st_size;
            rc = pl_slurp(sfd, len, &img);
        }
        close(sfd);
    }
    int fd = rc == 0 ? openat(dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : -1;
    if (rc == 0 && fd < 0)
        rc = -errno;
    if (rc == 0)
        rc = pl_write_all(fd, img, len, 0);
    if (fd >= 0)
        close(fd);
    free(img);
    return rc;
}

static size_t pl_root(size_t *parent, size_t i)
{
    while (parent[i] != i)
        i = parent[i] = parent[parent[i]];
    return i;
}

/*
 * The names, as the model above says: every name durable or current is
 * one entry; entries are joined into one change when an inode is durable
 * under one and current under the other; each change that differs from
 * the durable namespace is kept or taken back whole. Files that leave are
 * staged in "<shadow>/stage/<ino>" first, so that a name can be given
 * back to its durable inode whatever the order. Files made anew from an
 * image are listed in `restored` (name -> the inode of their image).
 */
static int pl_cut_names(const char *dir, const char *shadow, uint64_t seed,
                        enum vmdb__powerloss_mode mode, vmdb__powerloss_report *r,
                        struct pl_names *restored)
{
    struct pl_names dur = {0}, cur = {0}, all = {0};
    int rc = pl_read_names(shadow, &dur);
    if (rc == 0)
        rc = pl_list_names(AT_FDCWD, dir, &cur);
    for (size_t i = 0; rc == 0 && i < dur.n; i++)
        pl_names_push(&all, dur.v[i].name, 0);
    for (size_t i = 0; rc == 0 && i < cur.n; i++)
        if (!pl_names_find(&dur, cur.v[i].name))
            pl_names_push(&all, cur.v[i].name, 0);
    size_t n = all.n;
    size_t *parent = malloc((n ? n : 1) * sizeof *parent);
    /* per root: 0 unchanged, 1 kept, 2 taken back */
    unsigned char *fate = calloc(n ? n : 1, 1);
    if (rc == 0 && (!parent || !fate))
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++)
        parent[i] = i;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct pl_name *d = pl_names_find(&dur, all.v[i].name);
        for (size_t j = 0; d && j < n; j++) {
            const struct pl_name *c = pl_names_find(&cur, all.v[j].name);
            if (c && c->ino == d->ino)
                parent[pl_root(parent, i)] = pl_root(parent, j);
        }
    }
    /* The coin of a change is drawn from its first name in sorted order,
     * which no directory order changes. */
    size_t *first = malloc((n ? n : 1) * sizeof *first);
    if (rc == 0 && !first)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++)
        first[i] = SIZE_MAX;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct pl_name *d = pl_names_find(&dur, all.v[i].name);
        const struct pl_name *c = pl_names_find(&cur, all.v[i].name);
        size_t root = pl_root(parent, i);
        if ((d == NULL) != (c == NULL) || (d && d->ino != c->ino))
            fate[root] = 1;
        if (first[root] == SIZE_MAX || strcmp(all.v[i].name, all.v[first[root]].name) < 0)
            first[root] = i;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (pl_root(parent, i) != i || !fate[i])
            continue;
        bool back = mode == VMDB__POWERLOSS_LOSE || mode == VMDB__POWERLOSS_LOSE_LENGTHS;
        if (mode == VMDB__POWERLOSS_TEAR || mode == VMDB__POWERLOSS_RANDOM) {
            uint64_t s = pl_seed_for(seed ^ 0x6e616d6573ULL, all.v[first[i]].name);
            back = pl_rand(&s) & 1;
        }
        fate[i] = back ? 2 : 1;
        r->name_changes++;
        r->name_changes_lost += back;
    }
    char stage[PATH_MAX + 32];
    snprintf(stage, sizeof stage, "%s/%s", shadow, PL_STAGE);
    int dir_fd = rc == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    int stage_fd = -1;
    if (rc == 0 && dir_fd < 0)
        rc = -errno;
    if (rc == 0 && r->name_changes_lost > 0) {
        if (mkdir(stage, 0755) < 0 && errno != EEXIST)
            rc = -errno;
        else if ((stage_fd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            rc = -errno;
    }
    /* Out of the way: every current file whose change is taken back. */
    for (size_t i = 0; rc == 0 && stage_fd >= 0 && i < n; i++) {
        const struct pl_name *c = pl_names_find(&cur, all.v[i].name);
        if (!c || fate[pl_root(parent, i)] != 2)
            continue;
        char ino[32];
        snprintf(ino, sizeof ino, "%llu", (unsigned long long)c->ino);
        if (renameat(dir_fd, c->name, stage_fd, ino) < 0)
            rc = -errno;
    }
    /* Back under its durable name: the file itself if it is still there,
     * else its image. */
    for (size_t i = 0; rc == 0 && stage_fd >= 0 && i < n; i++) {
        const struct pl_name *d = pl_names_find(&dur, all.v[i].name);
        if (!d || fate[pl_root(parent, i)] != 2)
            continue;
        char ino[32];
        snprintf(ino, sizeof ino, "%llu", (unsigned long long)d->ino);
        if (renameat(stage_fd, ino, dir_fd, d->name) == 0) {
            if (!pl_names_find(&cur, d->name) ||
                pl_names_find(&cur, d->name)->ino != d->ino)
                pl_say(r, "%s: renamed back; ", d->name);
            continue;
        }
        if (errno != ENOENT) {
            rc = -errno;
            break;
        }
        rc = pl_restore(dir_fd, d->name, shadow, d->ino);
        if (rc == 0) {
            pl_names_push(restored, d->name, d->ino);
            r->files_restored++;
            pl_say(r, "%s: its unlink (or the rename over it) lost, back from its image; ",
                   d->name);
        }
    }
    /* What is left in the stage never had a durable name. */
    for (size_t i = 0; rc == 0 && stage_fd >= 0 && i < n; i++) {
        const struct pl_name *c = pl_names_find(&cur, all.v[i].name);
        if (!c || fate[pl_root(parent, i)] != 2)
            continue;
        char ino[32];
        snprintf(ino, sizeof ino, "%llu", (unsigned long long)c->ino);
        if (unlinkat(stage_fd, ino, 0) == 0) {
            r->files_vanished++;
            pl_say(r, "%s: never named durably, gone; ", c->name);
        } else if (errno != ENOENT) {
            rc = -errno;
        }
    }
    if (stage_fd >= 0) {
        close(stage_fd);
        if (rc == 0 && rmdir(stage) < 0)
            rc = -errno;
    }
    if (dir_fd >= 0)
        close(dir_fd);
    free(first);
    free(parent);
    free(fate);
    pl_names_free(&dur);
    pl_names_free(&cur);
    pl_names_free(&all);
    return rc;
}

/* The cut of one file's bytes, against the image of inode `ino`: see the
 * model above. */
static int pl_cut_file(int dir_fd, const char *name, const char *shadow, uint64_t ino,
                       uint64_t seed, enum vmdb__powerloss_mode mode, vmdb__powerloss_report *r)
{
    int fd = openat(dir_fd, name, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat sb;
    unsigned char *cur = NULL, *img = NULL, *out = NULL;
    size_t cur_len = 0, img_len = 0;
    bool has_image = false;
    int rc = fstat(fd, &sb) < 0 ? -errno : 0;
    if (rc == 0) {
        cur_len = (size_t)sb.st_size;
        rc = pl_slurp(fd, cur_len, &cur);
    }
    if (rc == 0) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%llu", shadow, (unsigned long long)ino);
        int sfd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat ss;
        if (sfd < 0 && errno != ENOENT) {
            rc = -errno;
        } else if (sfd >= 0) {
            has_image = true;
            rc = fstat(sfd, &ss) < 0 ? -errno : 0;
            if (rc == 0) {
                img_len = (size_t)ss.st_size;
                rc = pl_slurp(sfd, img_len, &img);
            }
            close(sfd);
        }
    }
    uint64_t s = pl_seed_for(seed, name);
    size_t len = cur_len;
    if (cur_len != img_len) {
        bool keep = mode == VMDB__POWERLOSS_KEEP ||
                    ((mode == VMDB__POWERLOSS_TEAR || mode == VMDB__POWERLOSS_RANDOM) &&
                     (pl_rand(&s) & 1));
        len = keep ? cur_len : img_len;
    }
    if (rc == 0 && !(out = malloc(len ? len : 1)))
        rc = -ENOMEM;
    uint64_t pages = 0, differ = 0, lost = 0, kept = 0, torn = 0;
    for (size_t at = 0; rc == 0 && at < len; at += PL_PAGE) {
        size_t n = len - at < PL_PAGE ? len - at : PL_PAGE;
        unsigned char now[PL_PAGE], old[PL_PAGE];
        /* Past the current end the image is back (a shrink that did not
         * last); past the image's end, never durable blocks read zero. */
        for (size_t i = 0; i < n; i++) {
            size_t o = at + i;
            old[i] = o < img_len ? img[o] : 0;
            now[i] = o < cur_len ? cur[o] : old[i];
        }
        pages++;
        memcpy(out + at, now, n);
        if (memcmp(now, old, n) == 0)
            continue;
        differ++;
        enum vmdb__powerloss_mode fate = mode;
        if (fate == VMDB__POWERLOSS_LOSE_LENGTHS)
            fate = VMDB__POWERLOSS_KEEP;
        if (fate == VMDB__POWERLOSS_RANDOM)
            fate = (enum vmdb__powerloss_mode)(pl_rand(&s) % 3);
        if (fate == VMDB__POWERLOSS_LOSE) {
            memcpy(out + at, old, n);
            lost++;
        } else if (fate == VMDB__POWERLOSS_KEEP) {
            kept++;
        } else {
            for (size_t sec = 0; sec < n; sec += PL_SECTOR)
                if (pl_rand(&s) & 1)
                    memcpy(out + at + sec, old + sec, n - sec < PL_SECTOR ? n - sec : PL_SECTOR);
            torn++;
        }
    }
    if (rc == 0)
        rc = pl_write_all(fd, out, len, 0);
    if (rc == 0 && ftruncate(fd, (off_t)len) < 0)
        rc = -errno;
    if (rc == 0) {
        r->files++;
        r->files_without_image += !has_image;
        r->files_resized += len != cur_len;
        r->pages_differ += differ;
        r->pages_lost += lost;
        r->pages_kept += kept;
        r->pages_torn += torn;
        if (differ || len != cur_len || !has_image)
            pl_say(r, "%s%s: %llu of %llu pages differed (%llu lost, %llu kept, %llu torn), "
                      "length %zu -> %zu (image %zu); ",
                   name, has_image ? "" : " (no image)", (unsigned long long)differ,
                   (unsigned long long)pages, (unsigned long long)lost,
                   (unsigned long long)kept, (unsigned long long)torn, cur_len, len, img_len);
    }
    free(cur);
    free(img);
    free(out);
    close(fd);
    return rc;
}

int vmdb__os_powerloss_cut(const char *dir, uint64_t seed, enum vmdb__powerloss_mode mode,
                           vmdb__powerloss_report *report)
{
    vmdb__powerloss_report local;
    vmdb__powerloss_report *r = report ? report : &local;
    memset(r, 0, sizeof *r);
    if ((unsigned)mode > VMDB__POWERLOSS_LOSE_LENGTHS)
        return -EINVAL;
    pthread_mutex_lock(&pl.lock);
    if (pl.on) {
        /* The process that tracked is the one that died, not this one. */
        pthread_mutex_unlock(&pl.lock);
        return -EBUSY;
    }
    char shadow[PATH_MAX], path[PATH_MAX + 32];
    int rc = pl_shadow_dir_of(dir, shadow, sizeof shadow);
    snprintf(path, sizeof path, "%s/%s", shadow, PL_NAMES);
    struct stat ss;
    if (rc == 0 && stat(path, &ss) < 0)
        rc = -errno; /* never tracked, or its state is gone: nothing to go by */
    snprintf(path, sizeof path, "%s/%s", shadow, PL_LOCK);
    int guard = rc == 0 ? open(path, O_RDWR | O_CLOEXEC) : -1;
    if (rc == 0 && guard < 0)
        rc = -errno;
    if (guard >= 0)
        pl_guard(guard, true);
    struct pl_names restored = {0};
    if (rc == 0)
        rc = pl_cut_names(dir, shadow, seed, mode, r, &restored);
    DIR *d = rc == 0 ? opendir(dir) : NULL;
    if (rc == 0 && !d)
        rc = -errno;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
            continue;
        const struct pl_name *back = pl_names_find(&restored, e->d_name);
        rc = pl_cut_file(dirfd(d), e->d_name, shadow, back ? back->ino : (uint64_t)sb.st_ino,
                         seed, mode, r);
    }
    if (d)
        closedir(d);
    pl_names_free(&restored);
    if (guard >= 0) {
        pl_guard(guard, false);
        close(guard);
    }
    if (rc == 0)
        rc = pl_remove_dir(shadow);
    if (rc == 0)
        __atomic_add_fetch(&pl_boots, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(&pl.lock);
    return rc;
}

/* ---- the wrapped system calls ---- */

/* The calls this file replaced, where each wrapper hands its call on. */
static struct vmdb__os_syscalls next;

static int watched_open(const char *path, int flags, mode_t mode)
{
    int fd = next.open(path, flags, mode);
    if (fd >= 0 && pl_on())
        pl_note_open(path, fd);
    return fd;
}

static void *watched_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void *p = next.mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && pl_on())
        pl_note_map(p, len, flags & MAP_SHARED, fd, (uint64_t)off);
    return p;
}

static int watched_munmap(void *addr, size_t len)
{
    int rc = next.munmap(addr, len);
    if (rc == 0 && pl_on())
        pl_note_unmap(addr, len);
    return rc;
}

static int watched_msync(void *addr, size_t len, int flags)
{
    int rc = next.msync(addr, len, flags);
    if (rc == 0 && pl_on())
        pl_note_flush(addr, len, flags & MS_SYNC);
    return rc;
}

/* An fsync of a directory makes its names durable, of a file its bytes. */
static int watched_fsync(int fd)
{
    int rc = next.fsync(fd);
    struct stat sb;
    if (rc == 0 && pl_on() && fstat(fd, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            pl_note_sync_dir(fd, &sb);
        else
            pl_note_sync(fd);
    }
    return rc;
}

static int watched_fdatasync(int fd)
{
    int rc = next.fdatasync(fd);
    if (rc == 0 && pl_on())
        pl_note_sync(fd);
    return rc;
}

/* A simulated power cut is a reboot: the last group of the id, 48 bits,
 * moves by an odd step per cut, so no count of cuts below 2^48 gives the
 * real id back. */
static int rebooted_boot_id(char out[37])
{
    int rc = next.read_boot_id(out);
    uint64_t boots = __atomic_load_n(&pl_boots, __ATOMIC_ACQUIRE);
    if (rc == 0 && boots) {
        unsigned long long last = strtoull(out + 24, NULL, 16);
        last = (last + boots * 0x9e3779b97f4bULL) & 0xffffffffffffULL;
        snprintf(out + 24, 13, "%012llx", last);
    }
    return rc;
}

/* Before main, so before any thread calls the seam. */
__attribute__((constructor)) static void install_powerloss_simulator(void)
{
    next = *vmdb__os_syscalls();
    static struct vmdb__os_syscalls watched;
    watched = next;
    watched.open = watched_open;
    watched.mmap = watched_mmap;
    watched.munmap = watched_munmap;
    watched.msync = watched_msync;
    watched.fsync = watched_fsync;
    watched.fdatasync = watched_fdatasync;
    watched.read_boot_id = rebooted_boot_id;
    vmdb__os_set_syscalls(&watched);
}
