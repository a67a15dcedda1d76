/* tests/test_error.c - error codes, names, messages and the per-thread
 * context. */
#include <errno.h>
#include <pthread.h>

#include "helpers.h"
#include "internal.h"

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

Test(error, message_is_truncated_not_overflowed)
{
    char longname[2000];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    int rc = vmdb__fail(VMDB_EINVAL, "%s", longname);
    cr_assert_eq(rc, VMDB_EINVAL);
    cr_assert_eq(strlen(vmdb_last_error()->message), sizeof vmdb_last_error()->message - 1);
}

Test(error, version_matches_macros)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", VMDB_VERSION_MAJOR, VMDB_VERSION_MINOR,
             VMDB_VERSION_PATCH);
    cr_assert_str_eq(vmdb_version(), want);
    cr_assert_str_eq(VMDB_VERSION_STRING, want);
}
