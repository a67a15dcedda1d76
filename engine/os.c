/*
 * engine/os.c - Linux implementation of the os seam (see os.h).
 *
 * Nothing outside this file includes <sys/mman.h>, <fcntl.h> or <unistd.h>
 * for system calls. Each wrapper returns 0 or -errno and keeps no state,
 * except the fault table of a VMDB_FAULT_INJECTION build.
 */
#define _GNU_SOURCE
#include "os.h"

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
#include <unistd.h>
#ifdef VMDB_FAULT_INJECTION
#include <pthread.h>
#include <stdarg.h>
#endif

#ifdef VMDB_FAULT_INJECTION
static struct {
    int err;
    unsigned skip;
    bool armed;
} faults[VMDB__OS_OP_COUNT];

void vmdb__os_inject_fault(enum vmdb__os_op op, int err, unsigned skip)
{
    faults[op].err = err;
    faults[op].skip = skip;
    faults[op].armed = true;
}

void vmdb__os_clear_faults(void)
{
    memset(faults, 0, sizeof faults);
}

static int injected(enum vmdb__os_op op)
{
    if (!faults[op].armed)
        return 0;
    if (faults[op].skip > 0) {
        faults[op].skip--;
        return 0;
    }
    faults[op].armed = false;
    return -faults[op].err;
}
#define INJECT(op)                                                             \
    do {                                                                       \
        int injected_rc_ = injected(VMDB__OS_OP_##op);                         \
        if (injected_rc_)                                                      \
            return injected_rc_;                                               \
    } while (0)

/* ---- Power loss (test builds only) ---------------------------------------
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
 *     what exists when tracking starts is taken as durable.
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
 *     bytes and length.
 *   - Writes of any kind (stores through a mapping, pwrite, write) and
 *     length changes (fallocate, ftruncate) are not durable by themselves.
 *   - The cut, run on the files after the tracked process died: each 4 KiB
 *     page whose bytes differ from the image is lost (image bytes), kept
 *     (current bytes) or torn (each 512-byte sector one or the other),
 *     as the mode says; the length is the image's or the current one
 *     (past the image a lost page reads as zeros, past the current end
 *     the image's bytes are back), a decision of its own: the mode
 *     LOSE_LENGTHS keeps every page and loses every length change, as a
 *     kernel that wrote the data back before its journal committed the
 *     new length would. A file with no image, created after tracking
 *     started and never synced, has an empty one: LOSE leaves it empty,
 *     as a file whose directory entry survived but not its data.
 *
 * Not covered:
 *
 *   - Directory entries. A create, rename or unlink is durable the moment
 *     it happens, and vmdb__os_sync_dir_of() is not needed for anything:
 *     a missing directory fsync is not caught. (A rename of a file that
 *     was never synced is: its image is empty.)
 *   - Intermediate states: a kept page holds its last bytes, never bytes
 *     it held for a while before that, which the kernel might have
 *     written back and the cut might have caught.
 *   - Mappings made before tracking was turned on (flushes through them
 *     are not seen, so turn it on before opening anything), files outside
 *     the directory or in its subdirectories, memfds, anonymous memory,
 *     and writes by other processes that do not track.
 *   - Damage finer than a sector, and the order of metadata updates other
 *     than a file's length.
 *
 * While tracking, the layer holds a read-only descriptor of its own for
 * every file it knows. Reading the bytes through it needs no help from the
 * caller, and it keeps the inode, and so its number, alive: an unlinked
 * file's number cannot be reused by a new file, which would otherwise
 * inherit a stale image. The hooks in the wrappers below are POWERLOSS(...),
 * which is nothing at all in a build without VMDB_FAULT_INJECTION.
 */
#define PL_PAGE 4096u
#define PL_SECTOR 512u

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
    struct pl_file *files;
    size_t file_count, file_cap;
    struct pl_map *maps;
    size_t map_count, map_cap;
} pl = {.lock = PTHREAD_MUTEX_INITIALIZER};

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

#define POWERLOSS(call) (pl_on() ? (void)(call) : (void)0)

/* "<dir>.powerloss", with the trailing slashes of dir dropped. */
static int pl_shadow_dir_of(const char *dir, char *out, size_t cap)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    int w = snprintf(out, cap, "%.*s.powerloss", (int)n, dir);
    return w < 0 || (size_t)w >= cap ? -ENAMETOOLONG : 0;
}

/* pwrite of all of src; not vmdb__os_pwrite_all, whose injected faults
 * belong to the engine. */
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

/* A file just opened through the layer: known from now on if it is in
 * the tracked directory. */
static void pl_note_open(const char *path, int fd)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
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

static void pl_note_map(void *addr, size_t len, const vmdb__os_mapping *how, int fd,
                        uint64_t off)
{
    struct stat sb;
    bool file = fd >= 0 && how->shared && fstat(fd, &sb) == 0;
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
    pthread_mutex_unlock(&pl.lock);
}

static void pl_note_sync(int fd)
{
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return;
    pthread_mutex_lock(&pl.lock);
    struct pl_file *f = pl.on ? pl_find(sb.st_dev, sb.st_ino) : NULL;
    if (f)
        pl_copy_all(f);
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
}

/* Takes every regular file directly in `dir` as durable now. The images
 * are made under a temporary name and renamed into place when complete, so
 * a process killed halfway leaves no images at all rather than some. */
static int pl_start_locked(const char *dir)
{
    char final[sizeof pl.shadow_dir];
    int rc = pl_shadow_dir_of(dir, final, sizeof final);
    if (rc < 0)
        return rc;
    if ((size_t)snprintf(pl.shadow_dir, sizeof pl.shadow_dir, "%s.new", final) >=
        sizeof pl.shadow_dir)
        return -ENAMETOOLONG;
    struct stat ds;
    if (stat(dir, &ds) < 0)
        return -errno;
    if (!S_ISDIR(ds.st_mode))
        return -ENOTDIR;
    pl.dir_dev = ds.st_dev;
    pl.dir_ino = ds.st_ino;
    if ((rc = pl_remove_dir(final)) < 0 || (rc = pl_remove_dir(pl.shadow_dir)) < 0)
        return rc;
    if (mkdir(pl.shadow_dir, 0755) < 0)
        return -errno;
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *e;
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
    }
    closedir(d);
    /* The images opened so far stay open across the rename. */
    if (rc == 0 && rename(pl.shadow_dir, final) < 0)
        rc = -errno;
    if (rc == 0)
        strcpy(pl.shadow_dir, final);
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

static uint64_t pl_rand(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
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

/* The cut for one file: see the model above. */
static int pl_cut_file(int dir_fd, const char *name, uint64_t seed,
                       enum vmdb__powerloss_mode mode, vmdb__powerloss_report *r)
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
        snprintf(path, sizeof path, "%s/%llu", pl.shadow_dir, (unsigned long long)sb.st_ino);
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
    /* Per file, so a file's fate does not depend on the directory order. */
    uint64_t s = seed;
    for (const char *p = name; *p; p++)
        s = (s ^ (unsigned char)*p) * 0x100000001b3ULL;
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
    int rc = pl_shadow_dir_of(dir, pl.shadow_dir, sizeof pl.shadow_dir);
    struct stat ss;
    if (rc == 0 && stat(pl.shadow_dir, &ss) < 0)
        rc = -errno;
    DIR *d = rc == 0 ? opendir(dir) : NULL;
    if (rc == 0 && !d)
        rc = -errno;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
            continue;
        rc = pl_cut_file(dirfd(d), e->d_name, seed, mode, r);
    }
    if (d)
        closedir(d);
    if (rc == 0)
        rc = pl_remove_dir(pl.shadow_dir);
    pthread_mutex_unlock(&pl.lock);
    return rc;
}
#else
#define INJECT(op) ((void)0)
#define POWERLOSS(call) ((void)0)
#endif

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
    INJECT(OPEN);
    int oflags = O_CLOEXEC | ((flags & VMDB__OS_RDWR) ? O_RDWR : O_RDONLY);
    if (flags & VMDB__OS_CREATE)
        oflags |= O_CREAT;
    if (flags & VMDB__OS_EXCL)
        oflags |= O_EXCL;
    if (flags & VMDB__OS_TRUNC)
        oflags |= O_TRUNC;
    int rc;
    do
        rc = open(path, oflags, (mode_t)perm);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    POWERLOSS(pl_note_open(path, rc));
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
    INJECT(ALLOCATE);
    if (len == 0)
        return 0;
    if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
        return -EFBIG;
    int rc;
    do
        rc = fallocate(fd, 0, (off_t)off, (off_t)len);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return 0;
    if (errno != EOPNOTSUPP)
        return -errno;
    /* A file system without fallocate: glibc's emulation writes a byte in
     * every block, which reserves the blocks just the same. */
    return -posix_fallocate(fd, (off_t)off, (off_t)len);
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
    INJECT(SYNC);
    int rc = data_only ? fdatasync(fd) : fsync(fd);
    if (rc < 0)
        return -errno;
    POWERLOSS(pl_note_sync(fd));
    return 0;
}

/* A rename or create is durable only once its directory entry is: fsync
 * the directory that holds `path`. */
int vmdb__os_sync_dir_of(const char *path)
{
    INJECT(SYNC);
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
    int rc = fsync(fd) < 0 ? -errno : 0;
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
    INJECT(WRITE);
    const char *p = src;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
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
    INJECT(WRITE);
    ssize_t n;
    do
        n = write(fd, src, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    *done = (size_t)n;
    return 0;
}

int vmdb__os_rename(const char *from, const char *to)
{
    INJECT(RENAME);
    return rename(from, to) < 0 ? -errno : 0;
}

int vmdb__os_memfd(const char *name, int *fd)
{
    INJECT(OPEN);
    int rc = memfd_create(name, MFD_CLOEXEC);
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

int vmdb__os_try_lock_file_shared(int fd)
{
    int rc;
    do
        rc = flock(fd, LOCK_SH | LOCK_NB);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    flock(fd, LOCK_UN);
    return 0;
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
 * aligned range: huge pages need 2 MiB-aligned virtual addresses. */
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
    INJECT(MAP);
    int flags = MAP_FIXED | (how->shared ? MAP_SHARED : MAP_PRIVATE);
    if (how->populate)
        flags |= MAP_POPULATE;
    if (fd < 0) {
        flags |= MAP_ANONYMOUS;
        if (how->hugetlb)
            flags |= MAP_HUGETLB;
        off = 0;
    }
    void *p = mmap(addr, len, to_prot(how->prot), flags, fd, (off_t)off);
    if (p == MAP_FAILED)
        return -errno;
    POWERLOSS(pl_note_map(addr, len, how, fd, off));
    return 0;
}

int vmdb__os_unmap(void *addr, size_t len)
{
    if (munmap(addr, len) < 0)
        return -errno;
    POWERLOSS(pl_note_unmap(addr, len));
    return 0;
}

int vmdb__os_protect(void *addr, size_t len, enum vmdb__os_prot prot)
{
    return mprotect(addr, len, to_prot(prot)) < 0 ? -errno : 0;
}

int vmdb__os_flush(void *addr, size_t len, bool sync)
{
    INJECT(FLUSH);
    if (msync(addr, len, sync ? MS_SYNC : MS_ASYNC) < 0)
        return -errno;
    POWERLOSS(pl_note_flush(addr, len, sync));
    return 0;
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
