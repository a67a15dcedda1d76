/* SPDX-License-Identifier: MIT */
/* tests/test_error.c - error codes, names, messages and the per-thread
 * context. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>

#include "helpers.h"
#include "internal.h"
#include "vmdb/version.h"

TestSuite(error, .timeout = SUITE_TIMEOUT);

static const int all_codes[] = {
#define CODE(name, value, text) VMDB_E##name,
    VMDB_ERROR_MAP(CODE)
#undef CODE
};
static const char *const all_names[] = {
#define NAME(name, value, text) "VMDB_E" #name,
    VMDB_ERROR_MAP(NAME)
#undef NAME
};
#define NCODES (sizeof all_codes / sizeof all_codes[0])

Test(error, every_code_is_negative_distinct_and_named)
{
    for (size_t i = 0; i < NCODES; i++) {
        cr_assert_lt(all_codes[i], 0);
        cr_assert_str_eq(vmdb_error_name(all_codes[i]), all_names[i]);
        cr_assert_str_neq(vmdb_strerror(all_codes[i]), "unknown error code");
        for (size_t j = 0; j < i; j++) {
            cr_assert_neq(all_codes[i], all_codes[j]);
            cr_assert_str_neq(vmdb_strerror(all_codes[i]), vmdb_strerror(all_codes[j]));
        }
    }
    cr_assert_str_eq(vmdb_strerror(VMDB_OK), "success");
}

Test(error, unknown_code_is_reported_as_such)
{
    cr_assert_str_eq(vmdb_strerror(-9999), "unknown error code");
    cr_assert_str_eq(vmdb_error_name(12345), "VMDB_E?");
}

Test(error, failure_fills_context_with_code_errno_and_file)
{
    vmdb_map *m = (vmdb_map *)0x1;
    const char *path = test_path("missing.bin");
    ASSERT_FAILS(vmdb_map_open(path, NULL, &m), VMDB_ENOENT, path);
    cr_assert_null(m, "out parameter must be NULL after a failure");
    cr_assert_eq(vmdb_last_error()->os_errno, ENOENT);
    cr_assert(strstr(vmdb_last_error()->message, strerror(ENOENT)) != NULL,
              "message \"%s\" lacks the OS error", vmdb_last_error()->message);
    remove_test_dir();
}

Test(error, success_leaves_context_alone_and_clear_resets_it)
{
    vmdb_map *m;
    const char *path = test_path("missing.bin");
    cr_assert_lt(vmdb_map_open(path, NULL, &m), 0);
    vmdb_map_options o = {.len = 4096};
    ASSERT_OK(vmdb_map_anon(&o, &m));
    cr_assert_eq(vmdb_last_error()->code, VMDB_ENOENT);
    vmdb_map_close(m);
    vmdb_error_clear();
    cr_assert_eq(vmdb_last_error()->code, 0);
    cr_assert_str_eq(vmdb_last_error()->message, "");
    remove_test_dir();
}

static void *fail_in_thread(void *arg)
{
    vmdb_map *m;
    int rc = vmdb_map_open((const char *)arg, NULL, &m);
    cr_assert_eq(rc, VMDB_ENOENT);
    cr_assert(strstr(vmdb_last_error()->message, "thread-file") != NULL);
    return NULL;
}

Test(error, context_is_per_thread)
{
    vmdb_error_clear();
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fail_in_thread, (void *)test_path("thread-file")), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(vmdb_last_error()->code, 0, "another thread's failure leaked here: %s",
                 vmdb_last_error()->message);
    remove_test_dir();
}

Test(error, errno_values_map_to_codes)
{
    cr_assert_eq(vmdb__code_from_errno(ENOENT), VMDB_ENOENT);
    cr_assert_eq(vmdb__code_from_errno(EEXIST), VMDB_EEXIST);
    cr_assert_eq(vmdb__code_from_errno(EACCES), VMDB_EACCES);
    cr_assert_eq(vmdb__code_from_errno(EROFS), VMDB_EACCES);
    cr_assert_eq(vmdb__code_from_errno(ENOSPC), VMDB_ENOSPC);
    cr_assert_eq(vmdb__code_from_errno(EDQUOT), VMDB_ENOSPC);
    cr_assert_eq(vmdb__code_from_errno(EFBIG), VMDB_ENOSPC);
    cr_assert_eq(vmdb__code_from_errno(ENOMEM), VMDB_ENOMEM);
    cr_assert_eq(vmdb__code_from_errno(EAGAIN), VMDB_EBUSY);
    cr_assert_eq(vmdb__code_from_errno(EIO), VMDB_EIO);
    cr_assert_eq(vmdb__code_from_errno(EOPNOTSUPP), VMDB_EUNSUPPORTED);
}

Test(error, message_is_cut_with_its_length_not_overflowed)
{
    char longname[2000];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    int rc = vmdb__fail(VMDB_EINVAL, "%s", longname);
    cr_assert_eq(rc, VMDB_EINVAL);
    const char *m = vmdb_last_error()->message;
    cr_assert_eq(strlen(m), sizeof vmdb_last_error()->message - 1);
    const char *note = "xxx... (1999 bytes)";
    cr_assert_str_eq(m + strlen(m) - strlen(note), note);
}

/* ---- vmdb_printable ------------------------------------------------------ */

static const char *printable(const char *text, size_t len)
{
    static char buf[VMDB_PRINTABLE_CAP];
    return vmdb_printable(text, len, buf, sizeof buf);
}

#define ASSERT_SHOWN(text, want)                                               \
    do {                                                                       \
        const char *got_ = printable((text), sizeof(text) - 1);                \
        cr_assert_str_eq(got_, (want), "shown as \"%s\", expected \"%s\"", got_, (want)); \
    } while (0)

Test(error, printable_escapes_control_bytes_and_bytes_that_are_not_utf8)
{
    ASSERT_SHOWN("people", "people");
    ASSERT_SHOWN("", "");
    ASSERT_SHOWN("a\nb\tc\rd", "a\\nb\\tc\\rd");
    ASSERT_SHOWN("\x01\x1b[31m\x7f", "\\x01\\x1b[31m\\x7f");
    ASSERT_SHOWN("nul\0byte", "nul\\x00byte");
    /* A lone continuation byte, a cut sequence, an overlong '/', a
     * surrogate and a code point past U+10FFFF. */
    ASSERT_SHOWN("\x80|\xc3|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80",
                 "\\x80|\\xc3|\\xc0\\xaf|\\xed\\xa0\\x80|\\xf4\\x90\\x80\\x80");
}

Test(error, printable_keeps_text_and_escapes_what_breaks_or_reorders_a_line)
{
    ASSERT_SHOWN("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 '\\'",
                 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 '\\'");
    /* NEL (a C1 control), the line separator and a right-to-left override. */
    ASSERT_SHOWN("a\xc2\x85" "b\xe2\x80\xa8" "c\xe2\x80\xae" "d",
                 "a\\u0085b\\u2028c\\u202ed");
}

Test(error, printable_text_shows_again_unchanged)
{
    static const char tricky[] = "a\\nb\n\x01\xff\xe2\x80\xae\\x41";
    char once[VMDB_PRINTABLE_CAP], twice[VMDB_PRINTABLE_CAP];
    vmdb_printable(tricky, sizeof tricky - 1, once, sizeof once);
    vmdb_printable(once, strlen(once), twice, sizeof twice);
    cr_assert_str_eq(twice, once);
}

Test(error, printable_cuts_a_long_value_and_says_how_long_it_was)
{
    char text[5000];
    memset(text, 'y', sizeof text);
    const char *got = printable(text, sizeof text);
    cr_assert_lt(strlen(got), VMDB_PRINTABLE_CAP);
    const char *note = "... (5000 bytes)";
    cr_assert_eq(strlen(got), VMDB_PRINTABLE_CAP - 1);
    cr_assert_str_eq(got + strlen(got) - strlen(note), note);
    cr_assert_eq(strspn(got, "y"), VMDB_PRINTABLE_CAP - 1 - strlen(note));

    /* Up to VMDB_PRINTABLE_CAP - 1 bytes a value is shown whole. */
    got = printable(text, VMDB_PRINTABLE_CAP - 1);
    cr_assert_eq(strspn(got, "y"), VMDB_PRINTABLE_CAP - 1);
    cr_assert_eq(strlen(got), VMDB_PRINTABLE_CAP - 1);
}

Test(error, printable_cuts_between_characters_never_inside_one)
{
    /* Escapes of 4 bytes and characters of 2, so that no cut falls
     * between two characters by luck: the shown text is a prefix of the
     * whole one that ends after an escape or after a character. */
    char text[300];
    for (size_t i = 0; i < sizeof text; i += 3)
        memcpy(text + i, "\x01\xc3\xa9", 3);
    char *whole = malloc(4 * sizeof text + 1);
    vmdb_printable(text, sizeof text, whole, 4 * sizeof text + 1);
    cr_assert_eq(strlen(whole), sizeof text / 3 * 6, "4 bytes a byte hold the text whole");

    const char *got = printable(text, sizeof text);
    const char *note = "... (300 bytes)";
    size_t shown = strlen(got) - strlen(note);
    cr_assert_str_eq(got + shown, note);
    cr_assert(!strncmp(got, whole, shown) && (shown % 6 == 0 || shown % 6 == 4),
              "cut inside a character: %s", got);
    free(whole);
}

Test(error, a_message_is_one_line_whatever_it_was_given)
{
    vmdb__fail(VMDB_ENOENT, "%s: no such database", "two\nlines");
    cr_assert_str_eq(vmdb_last_error()->message, "two\\nlines: no such database");
}

Test(error, version_matches_macros)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", VMDB_VERSION_MAJOR, VMDB_VERSION_MINOR,
             VMDB_VERSION_PATCH);
    cr_assert_str_eq(vmdb_version_string(), want);
    cr_assert_str_eq(VMDB_VERSION_STRING, want);
    int major = -1, minor = -1, patch = -1;
    vmdb_version(&major, &minor, &patch);
    cr_assert_eq(major, VMDB_VERSION_MAJOR);
    cr_assert_eq(minor, VMDB_VERSION_MINOR);
    cr_assert_eq(patch, VMDB_VERSION_PATCH);
    cr_assert_eq(VMDB_VERSION_NUMBER, (major << 16) | (minor << 8) | patch);
    vmdb_version(NULL, &minor, NULL); /* any of them may be left out */
}

/* An options struct filled by a program built against a newer vmdb has
 * fields this library does not know: refused by name, never misread. A
 * zeroed struct and the _INIT macros' version are this library's own. */
Test(error, options_from_a_newer_library_are_refused_and_ours_accepted)
{
    const char *dir = test_path("opts");
    mkdir(dir, 0755);
    char path[PATH_MAX];

    vmdb_map *m;
    vmdb_map_options mo = VMDB_MAP_OPTIONS_INIT;
    mo.len = 4096;
    ASSERT_OK(vmdb_map_anon(&mo, &m));
    vmdb_map_close(m);
    mo.version = VMDB_MAP_OPTIONS_VERSION + 1;
    cr_assert_eq(vmdb_map_anon(&mo, &m), VMDB_EVERSION);
    cr_assert(strstr(vmdb_last_error()->message, "newer than this library"), "%s",
              vmdb_last_error()->message);

    vmdb_buffer *b;
    vmdb_buffer_options bo = VMDB_BUFFER_OPTIONS_INIT;
    ASSERT_OK(vmdb_buffer_new(8, 4, &bo, &b));
    vmdb_buffer_close(b);
    bo.version = VMDB_BUFFER_OPTIONS_VERSION + 1;
    cr_assert_eq(vmdb_buffer_new(8, 4, &bo, &b), VMDB_EVERSION);

    vmdb_ring *r;
    vmdb_ring_options ro = VMDB_RING_OPTIONS_INIT;
    ro.cap = 4096;
    ASSERT_OK(vmdb_ring_new(&ro, &r));
    vmdb_ring_close(r);
    ro.version = VMDB_RING_OPTIONS_VERSION + 1;
    cr_assert_eq(vmdb_ring_new(&ro, &r), VMDB_EVERSION);

    vmdb_slotring *s;
    vmdb_slotring_options so = VMDB_SLOTRING_OPTIONS_INIT;
    so.flags = VMDB_SLOTRING_CREATE;
    so.slot_size = 64;
    so.slot_count = 8;
    snprintf(path, sizeof path, "%s/ring", dir);
    ASSERT_OK(vmdb_slotring_open(path, &so, &s));
    vmdb_slotring_close(s);
    so.version = VMDB_SLOTRING_OPTIONS_VERSION + 1;
    cr_assert_eq(vmdb_slotring_open(path, &so, &s), VMDB_EVERSION);

    vmdb_db *db;
    vmdb_db_options dbo = VMDB_DB_OPTIONS_INIT;
    dbo.flags = VMDB_DB_CREATE;
    snprintf(path, sizeof path, "%s/db", dir);
    dbo.version = VMDB_DB_OPTIONS_VERSION + 1;
    cr_assert_eq(vmdb_open(path, &dbo, &db), VMDB_EVERSION);
    cr_assert_null(db);
    dbo.version = 0;
    ASSERT_OK(vmdb_open(path, &dbo, &db));
    ASSERT_OK(vmdb_close(db));
    remove_test_dir();
}
