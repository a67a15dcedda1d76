/* SPDX-License-Identifier: MIT */
/*
 * tests/test_damage.c - the damage campaign (suite "damage"): a small
 * database with one of its files damaged (bit flips, a run of bytes
 * overwritten, truncation, extension, a page zeroed), then every command
 * of the vmdb program run on it, the reads first, then the writes, each
 * followed by reads again. Whatever the damage:
 *
 *   - every command ends by itself within COMMAND_LIMIT_MS, never by a
 *     signal, with exit status 0, 1 or 2;
 *   - no command prints a record that was never written, whatever its
 *     exit status: the csv rows of get, export and query (and the export
 *     of a backup's copy) are each compared with every version of every
 *     record the test wrote. (A record missing is not judged here: that
 *     is vmdb check's job.)
 *
 * Every failure is printed with the case's damage and how to replay it;
 * the test fails after its cases are done, so one run shows them all.
 *
 *   VMDB_DAMAGE_SEED    the campaign's seed (default 12: a run is the same
 *                       everywhere; set another to look further)
 *   VMDB_DAMAGE_CASES   cases per file (default 10)
 *   VMDB_DAMAGE_CASE    only this case number, to replay one
 */
#include <errno.h>
#include <spawn.h>
#include <sys/wait.h>

#include "cli_helpers.h"

/* Generous for a command that takes milliseconds: a busy machine, ASan. */
#define COMMAND_LIMIT_MS 20000

TestSuite(damage, .timeout = HARNESS_TIMEOUT);

extern char **environ;

/* ---- what the test wrote ------------------------------------------------ */

#define T_HEADER "k,name,n"
#define S_HEADER "name,v"
#define T_SCHEMA "k:u64 key, name:str16, n:i32"
#define S_SCHEMA "name:str8 key, v:f64"
#define MAX_ROWS 256

struct t_rec {
    uint64_t k;
    char name[16];
    int32_t n;
    uint32_t pad;
};
struct s_rec {
    char name[8];
    double v;
};

/* Every row either table ever held, as export prints it. */
static struct written {
    char t[MAX_ROWS][48];
    size_t t_count;
    char s[MAX_ROWS][48];
    size_t s_count;
} written;

static void remember(char rows[][48], size_t *count, const char *row)
{
    cr_assert_lt(*count, MAX_ROWS);
    snprintf(rows[(*count)++], 48, "%s", row);
}

static bool was_written(char rows[][48], size_t count, const char *row)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(rows[i], row) == 0)
            return true;
    return false;
}

/* Version `version` of record k of t (or of s): its bytes, and its row
 * noted as written. */
static struct t_rec t_version(uint64_t k, unsigned version)
{
    struct t_rec r = {.k = k, .n = (int32_t)(k * 10 + version)};
    snprintf(r.name, sizeof r.name, "t%llu-v%u", (unsigned long long)k, version);
    char row[48];
    snprintf(row, sizeof row, "%llu,%s,%d", (unsigned long long)k, r.name, r.n);
    remember(written.t, &written.t_count, row);
    return r;
}

static struct s_rec s_version(unsigned k, unsigned version)
{
    struct s_rec r = {.v = k + version * 0.25};
    snprintf(r.name, sizeof r.name, "s%u", k);
    char row[48];
    snprintf(row, sizeof row, "%s,%g", r.name, r.v);
    remember(written.s, &written.s_count, row);
    return r;
}

static void put_t(vmdb_txn *txn, vmdb_table *t, uint64_t k, unsigned version)
{
    struct t_rec r = t_version(k, version);
    ASSERT_OK(vmdb_txn_put(txn, t, &r, NULL));
}

static void put_s(vmdb_txn *txn, vmdb_table *s, unsigned k, unsigned version)
{
    struct s_rec r = s_version(k, version);
    ASSERT_OK(vmdb_txn_put(txn, s, &r, NULL));
}

static void del_t(vmdb_txn *txn, vmdb_table *t, uint64_t k)
{
    ASSERT_OK(vmdb_txn_delete(txn, t, &k, sizeof k));
}

static vmdb_table *open_table(vmdb_db *db, const char *name)
{
    vmdb_table *t;
    ASSERT_OK(vmdb_table_open(db, name, NULL, &t));
    return t;
}

static vmdb_db *open_small(const char *path, unsigned flags)
{
    vmdb_db *db;
    vmdb_db_options o = {.flags = flags, .wal_size = 64 << 10,
                         .durability = VMDB_DURABILITY_SYNC};
    ASSERT_OK(vmdb_open(path, &o, &db));
    return db;
}

/* The history both databases share: fills, deletes that leave free slots,
 * updates, inserts into the freed slots, over three checkpoints. */
static void write_history(const char *path)
{
    vmdb_db *db = open_small(path, VMDB_DB_CREATE);
    vmdb_schema *schema;
    vmdb_table *t, *s;
    ASSERT_OK(vmdb_schema_parse(T_SCHEMA, &schema));
    ASSERT_OK(vmdb_table_create(db, "t", schema, &t));
    vmdb_schema_free(schema);
    ASSERT_OK(vmdb_schema_parse(S_SCHEMA, &schema));
    ASSERT_OK(vmdb_table_create(db, "s", schema, &s));
    vmdb_schema_free(schema);
    vmdb_txn *txn;
    for (uint64_t k = 1; k <= 24; k += 8) {
        ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
        for (uint64_t i = k; i < k + 8; i++)
            put_t(txn, t, i, 1);
        ASSERT_OK(vmdb_txn_commit(txn));
    }
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    for (unsigned k = 1; k <= 6; k++)
        put_s(txn, s, k, 1);
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_checkpoint(db));
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    del_t(txn, t, 3);
    del_t(txn, t, 7);
    del_t(txn, t, 11);
    put_t(txn, t, 2, 2);
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_txn_begin(db, 0, &txn));
    put_t(txn, t, 25, 1);
    put_t(txn, t, 5, 2);
    put_s(txn, s, 2, 2);
    ASSERT_OK(vmdb_txn_commit(txn));
    ASSERT_OK(vmdb_close(db));
}

/* The transactions a writer committed and applied before it was killed:
 * the log holds them, so wal lists them and any writer replays them. */
static void write_and_die(const char *path)
{
    pid_t pid = fork_child();
    if (pid == 0) {
        vmdb_db *db = open_small(path, 0);
        vmdb_table *t = open_table(db, "t"), *s = open_table(db, "s");
        vmdb_txn *txn;
        if (vmdb_txn_begin(db, 0, &txn))
            _exit(1);
        put_t(txn, t, 1, 3);
        put_t(txn, t, 30, 1);
        del_t(txn, t, 9);
        if (vmdb_txn_commit(txn) || vmdb_txn_begin(db, 0, &txn))
            _exit(1);
        put_t(txn, t, 4, 3);
        put_s(txn, s, 5, 3);
        if (vmdb_txn_commit(txn))
            _exit(1);
        raise(SIGKILL);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the writer failed");
    /* What the child wrote, noted in this process's list. */
    t_version(1, 3);
    t_version(30, 1);
    t_version(4, 3);
    s_version(5, 3);
}

/* ---- running the command ------------------------------------------------ */

struct run {
    int status;      /* exit status; -1 killed by a signal; -2 over the limit */
    int signal;
    char out[16384]; /* stdout, NUL-terminated, cut to fit */
    char err[2048];
};

static void read_into(const char *path, char *dst, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(dst, 1, cap - 1, f) : 0;
    dst[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs the vmdb command with argv[1..] (argv[0] is filled in) and waits
 * for it at most COMMAND_LIMIT_MS, then kills it. */
static void run_vmdb(char **argv, struct run *r)
{
    const char *out = test_path("cmd.out"), *err = test_path("cmd.err");
    char out_path[600], err_path[600];
    snprintf(out_path, sizeof out_path, "%s", out);
    snprintf(err_path, sizeof err_path, "%s", err);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    argv[0] = (char *)cli_binary();
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "cannot run %s: %s", argv[0], strerror(rc));
    int status = 0;
    uint64_t start = now_ns();
    struct timespec nap = {0, 50000};
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            break;
        cr_assert(got == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
        if (now_ns() - start > (uint64_t)COMMAND_LIMIT_MS * 1000000u) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            r->status = -2;
            r->signal = 0;
            goto done;
        }
        nanosleep(&nap, NULL);
        if (nap.tv_nsec < 2000000)
            nap.tv_nsec *= 2;
    }
    r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
done:
    read_into(out_path, r->out, sizeof r->out);
    read_into(err_path, r->err, sizeof r->err);
}

/* ---- damage ------------------------------------------------------------- */

static uint64_t rng;

static uint64_t rnd(void)
{
    /* splitmix64: any seed gives a good sequence, so case seeds can be
     * consecutive. */
    uint64_t z = (rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* An offset where the damage lands: the whole file, or its first 32 KiB
 * as often, where the log's records and the tables' slots are. */
static uint64_t offset_in(uint64_t len)
{
    uint64_t span = rnd() & 1 && len > 32768 ? 32768 : len;
    return below(span);
}

/* Damages `path` as case rng says, and describes what it did. */
static void damage(const char *path, char *what, size_t cap)
{
    size_t len;
    unsigned char *bytes = read_file(path, &len);
    const char *name = strrchr(path, '/') + 1;
    switch (below(5)) {
    case 0: {
        unsigned flips = 1 + (unsigned)below(4);
        int at = snprintf(what, cap, "%s: %u bit flip(s) at", name, flips);
        for (unsigned i = 0; i < flips && len; i++) {
            uint64_t off = offset_in(len);
            unsigned bit = (unsigned)below(8);
            bytes[off] ^= (unsigned char)(1u << bit);
            at += snprintf(what + at, cap - (size_t)at, " %llu.%u", (unsigned long long)off, bit);
        }
        write_file(path, bytes, len);
        break;
    }
    case 1: {
        uint64_t off = offset_in(len), run = 1 + below(below(2) ? 16 : 512);
        if (off + run > len)
            run = len - off;
        int fill = below(3) == 0 ? 0 : below(2) ? 0xff : -1;
        for (uint64_t i = 0; i < run; i++)
            bytes[off + i] = fill < 0 ? (unsigned char)rnd() : (unsigned char)fill;
        write_file(path, bytes, len);
        snprintf(what, cap, "%s: %llu bytes at %llu set to %s", name, (unsigned long long)run,
                 (unsigned long long)off, fill < 0 ? "random" : fill ? "0xff" : "0");
        break;
    }
    case 2: {
        uint64_t to = below(2) ? below(len / 4096 + 1) * 4096 : below(len);
        if (to > len)
            to = len;
        write_file(path, bytes, to);
        snprintf(what, cap, "%s: cut from %zu to %llu bytes", name, len, (unsigned long long)to);
        break;
    }
    case 3: {
        uint64_t more = 1 + below(below(2) ? 64 : 8192);
        bool random = below(2);
        unsigned char *grown = realloc(bytes, len + more);
        cr_assert_not_null(grown);
        bytes = grown;
        for (uint64_t i = 0; i < more; i++)
            bytes[len + i] = random ? (unsigned char)rnd() : 0;
        write_file(path, bytes, len + more);
        snprintf(what, cap, "%s: %llu %s bytes added to its %zu", name, (unsigned long long)more,
                 random ? "random" : "zero", len);
        break;
    }
    default: {
        uint64_t pages = (len + 4095) / 4096;
        uint64_t page = below(2) ? below(pages < 8 ? pages : 8) : below(pages);
        uint64_t from = page * 4096, to = from + 4096 < len ? from + 4096 : len;
        if (from < len)
            memset(bytes + from, 0, (size_t)(to - from));
        write_file(path, bytes, len);
        snprintf(what, cap, "%s: page %llu (bytes %llu-%llu) zeroed", name,
                 (unsigned long long)page, (unsigned long long)from, (unsigned long long)to);
        break;
    }
    }
    free(bytes);
}

/* ---- one case ----------------------------------------------------------- */

static const char *const db_files[] = {"t.vmt", "t.vmi", "s.vmt", "s.vmi", "wal.ring",
                                       "vmdb.lock"};

static void copy_db(const char *from, const char *to)
{
    cr_assert(mkdir(to, 0755) == 0 || errno == EEXIST, "mkdir %s", to);
    for (size_t i = 0; i < sizeof db_files / sizeof db_files[0]; i++) {
        char src[700], dst[700];
        snprintf(src, sizeof src, "%s/%s", from, db_files[i]);
        snprintf(dst, sizeof dst, "%s/%s", to, db_files[i]);
        size_t len;
        unsigned char *bytes = read_file(src, &len);
        write_file(dst, bytes, len);
        free(bytes);
    }
}

struct campaign {
    const char *file;   /* the file this test damages */
    uint64_t seed;
    unsigned failures;
    unsigned commands;
};

/* The rows of a csv output that exited 0: the header, then rows that were
 * each written. The first fault found, or NULL. */
static const char *judge_rows(const char *out, const char *table, char *why, size_t cap)
{
    bool t = strcmp(table, "t") == 0;
    const char *header = t ? T_HEADER : S_HEADER;
    size_t hlen = strlen(header);
    if (strncmp(out, header, hlen) != 0 || out[hlen] != '\n') {
        snprintf(why, cap, "the header is not '%s'", header);
        return why;
    }
    for (const char *line = out + hlen + 1; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        char row[64];
        snprintf(row, sizeof row, "%.*s", (int)(n < 63 ? n : 63), line);
        if (n >= 63 || !(t ? was_written(written.t, written.t_count, row)
                           : was_written(written.s, written.s_count, row))) {
            snprintf(why, cap, "row '%s' of table %s was never written", row, table);
            return why;
        }
        line += n + (end ? 1 : 0);
    }
    return NULL;
}

/* Runs one command of case `n`; `table` names the table whose csv rows it
 * prints, or is NULL. Returns its exit status. */
static int command(struct campaign *c, unsigned n, const char *what, const char *table,
                   char **argv)
{
    static struct run r;
    run_vmdb(argv, &r);
    c->commands++;
    char why[200];
    const char *fault = NULL;
    if (r.status == -2)
        fault = "it did not end within the limit (a hang?)";
    else if (r.status == -1)
        snprintf(why, sizeof why, "killed by signal %d (%s)", r.signal, strsignal(r.signal)),
            fault = why;
    else if (r.status > 2)
        snprintf(why, sizeof why, "exit status %d", r.status), fault = why;
    else if (table && (r.status == 0 || r.out[0]))
        fault = judge_rows(r.out, table, why, sizeof why);
    if (fault) {
        char line[1000];
        int at = 0;
        for (size_t i = 1; argv[i] && at < (int)sizeof line - 1; i++)
            at += snprintf(line + at, sizeof line - (size_t)at, " %s", argv[i]);
        fprintf(stderr,
                "damage: %s\n  case %u (replay: VMDB_DAMAGE_SEED=%llu VMDB_DAMAGE_CASE=%u "
                "--filter 'damage/*')\n  damage: %s\n  command: vmdb%s\n  exit %d\n"
                "  stdout: %.600s\n  stderr: %.600s\n",
                fault, n, (unsigned long long)c->seed, n, what, line, r.status, r.out, r.err);
        c->failures++;
    }
    return r.status;
}

#define CMD(table, ...) command(c, n, what, table, (char *[]){NULL, __VA_ARGS__, NULL})

/* Every command on the damaged copy `d`: the reads, then each write
 * followed by reads, as a user repairing the database might go. */
static void run_commands(struct campaign *c, unsigned n, const char *what, char *d)
{
    char backup[600];
    snprintf(backup, sizeof backup, "%s.copy", d);
    char *gets[] = {"1", "2", "4", "5", "30", "9"};
    for (size_t i = 0; i < 6; i++)
        CMD("t", "get", d, "t", gets[i], "--format", "csv");
    CMD("s", "get", d, "s", "s2", "--format", "csv");
    CMD("t", "export", d, "t");
    CMD("s", "export", d, "s");
    CMD(NULL, "export", d, "t", "--format", "json");
    CMD("t", "query", d, "SELECT * FROM t", "--format", "csv");
    CMD("t", "query", d, "SELECT * FROM t WHERE n > 100", "--format", "csv");
    CMD("t", "query", d, "SELECT * FROM t WHERE k = 4", "--format", "csv");
    CMD("s", "query", d, "SELECT * FROM s ORDER BY v DESC", "--format", "csv");
    CMD(NULL, "query", d, "SELECT count(*), sum(n) FROM t");
    CMD(NULL, "check", d);
    CMD(NULL, "stats", d);
    CMD(NULL, "tables", d);
    CMD(NULL, "schema", d, "t");
    CMD(NULL, "wal", d);
    char file[700];
    snprintf(file, sizeof file, "%s/t.vmt", d);
    CMD(NULL, "dump", file, "--slots", "4");
    snprintf(file, sizeof file, "%s/wal.ring", d);
    CMD(NULL, "dump", file);
    if (CMD(NULL, "backup", d, backup) == 0) {
        CMD("t", "export", backup, "t");
        CMD("s", "export", backup, "s");
        CMD(NULL, "check", backup);
    }
    /* The writes, each with a short wait for a lock that damage may make
     * look held. */
    if (CMD(NULL, "--timeout", "2000", "put", d, "t", "k=40", "name=new40", "n=400") == 0)
        CMD("t", "get", d, "t", "40", "--format", "csv");
    CMD(NULL, "--timeout", "2000", "del", d, "t", "2");
    CMD("t", "export", d, "t");
    CMD(NULL, "--timeout", "2000", "recover", d);
    CMD("t", "export", d, "t");
    CMD(NULL, "--timeout", "2000", "checkpoint", d);
    CMD("s", "export", d, "s");
    CMD(NULL, "--timeout", "2000", "compact", d);
    CMD("t", "export", d, "t");
    CMD("s", "export", d, "s");
    CMD("t", "query", d, "SELECT * FROM t", "--format", "csv");
    CMD(NULL, "check", d);
}

/* The two databases every case starts from, made once per test: "live",
 * with a killed writer's transactions in the log, and "clean", closed
 * with everything checkpointed. */
static void make_databases(char live[600], char clean[600])
{
    snprintf(live, 600, "%s", test_path("live"));
    snprintf(clean, 600, "%s", test_path("clean"));
    memset(&written, 0, sizeof written);
    write_history(live);
    write_history(clean);
    write_and_die(live);
    /* The command's own put, which the writes below make. */
    remember(written.t, &written.t_count, "40,new40,400");
}

static void campaign(const char *file)
{
    char live[600], clean[600];
    make_databases(live, clean);
    const char *env = getenv("VMDB_DAMAGE_SEED");
    struct campaign c = {.file = file, .seed = env ? strtoull(env, NULL, 0) : 12};
    env = getenv("VMDB_DAMAGE_CASES");
    unsigned cases = env ? (unsigned)strtoul(env, NULL, 0) : 10;
    env = getenv("VMDB_DAMAGE_CASE");
    unsigned only = env ? (unsigned)strtoul(env, NULL, 0) : UINT32_MAX;

    /* The undamaged databases pass every command. */
    char what[300] = "none";
    for (int which = 0; which < 2; which++) {
        char d[700];
        snprintf(d, sizeof d, "%s/pristine%d", test_dir(), which);
        copy_db(which ? clean : live, d);
        unsigned before = c.failures;
        run_commands(&c, UINT32_MAX, what, d);
        cr_assert_eq(c.failures, before, "the undamaged database failed (above)");
    }

    /* The case's seed: the campaign's, the file's name and the case number,
     * so each file's cases differ and one case replays alone. */
    uint64_t file_hash = 0;
    for (const char *p = file; *p; p++)
        file_hash = file_hash * 131 + (unsigned char)*p;
    for (unsigned n = 0; n < cases; n++) {
        if (only != UINT32_MAX && n != only)
            continue;
        rng = c.seed * 0x100000001b3u ^ file_hash ^ (uint64_t)n << 40;
        bool from_live = below(2);
        char d[700], path[800];
        snprintf(d, sizeof d, "%s/case%u", test_dir(), n);
        copy_db(from_live ? live : clean, d);
        snprintf(path, sizeof path, "%s/%s", d, file);
        char desc[240];
        damage(path, desc, sizeof desc);
        snprintf(what, sizeof what, "%s, of the %s database", desc, from_live ? "live" : "clean");
        run_commands(&c, n, what, d);
        char rm[1800];
        snprintf(rm, sizeof rm, "rm -rf '%s' '%s.copy'", d, d);
        cr_assert_eq(system(rm), 0);
    }
    cr_log_info("damage %s: %u cases, %u commands, %u failures (seed %llu)", file, cases,
                c.commands, c.failures, (unsigned long long)c.seed);
    cr_assert_eq(c.failures, 0, "%s: %u commands failed the campaign (above)", file, c.failures);
    remove_test_dir();
}

Test(damage, table_file) { campaign("t.vmt"); }
Test(damage, index_file) { campaign("t.vmi"); }
Test(damage, second_table_file) { campaign("s.vmt"); }
Test(damage, second_index_file) { campaign("s.vmi"); }
Test(damage, log) { campaign("wal.ring"); }
Test(damage, lock_file) { campaign("vmdb.lock"); }
