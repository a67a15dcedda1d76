/*
 * engine/error.c - error codes, their names, and the per-thread context.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local vmdb_error last_error;

const char *vmdb_strerror(int code)
{
    switch (code) {
    case VMDB_OK:
        return "success";
#define VMDB__ERROR_TEXT(name, value, text)                                    \
    case VMDB_E##name:                                                         \
        return text;
        VMDB_ERROR_MAP(VMDB__ERROR_TEXT)
#undef VMDB__ERROR_TEXT
    }
    return "unknown error code";
}

const char *vmdb_error_name(int code)
{
    switch (code) {
    case VMDB_OK:
        return "VMDB_OK";
#define VMDB__ERROR_NAME(name, value, text)                                    \
    case VMDB_E##name:                                                         \
        return "VMDB_E" #name;
        VMDB_ERROR_MAP(VMDB__ERROR_NAME)
#undef VMDB__ERROR_NAME
    }
    return "VMDB_E?";
}

const vmdb_error *vmdb_last_error(void)
{
    return &last_error;
}

void vmdb_error_clear(void)
{
    memset(&last_error, 0, sizeof last_error);
}

const char *vmdb_version(void)
{
    return VMDB_VERSION_STRING;
}

int vmdb__code_from_errno(int err)
{
    switch (err) {
    case 0:
        return VMDB_OK;
    case ENOENT:
    case ENOTDIR:
        return VMDB_ENOENT;
    case EEXIST:
        return VMDB_EEXIST;
    case EACCES:
    case EPERM:
    case EROFS:
        return VMDB_EACCES;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        /* EFBIG (RLIMIT_FSIZE or the file system's largest file) is the
         * same verdict for a caller: the file cannot have more bytes. */
        return VMDB_ENOSPC;
    case ENOMEM:
        return VMDB_ENOMEM;
    case EINVAL:
    case EISDIR:
    case ENAMETOOLONG:
        return VMDB_EINVAL;
    case EBUSY:
    case EAGAIN: /* also EWOULDBLOCK: a lock held elsewhere */
        return VMDB_EBUSY;
    case EOPNOTSUPP:
    case ENODEV:
        return VMDB_EUNSUPPORTED;
    case ENODATA:
        return VMDB_EBADSIZE;
    default:
        return VMDB_EIO;
    }
}

static void record(int code, int os_errno, const char *fmt, va_list ap)
{
    last_error.code = code;
    last_error.os_errno = os_errno;
    int n = vsnprintf(last_error.message, sizeof last_error.message, fmt, ap);
    if (n < 0)
        last_error.message[0] = '\0';
    if (os_errno) {
        size_t used = strlen(last_error.message);
        snprintf(last_error.message + used, sizeof last_error.message - used,
                 ": %s", strerror(os_errno));
    }
}

int vmdb__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int vmdb__fail_os(int neg_errno, const char *fmt, ...)
{
    int err = -neg_errno;
    int code = vmdb__code_from_errno(err);
    va_list ap;
    va_start(ap, fmt);
    record(code, err, fmt, ap);
    va_end(ap);
    return code;
}

const char *vmdb__printable_magic(const char magic[8], char buf[40])
{
    char *p = buf;
    for (int i = 0; i < 8; i++) {
        unsigned char c = (unsigned char)magic[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            *p++ = (char)c;
        else
            p += sprintf(p, "\\x%02x", c);
    }
    *p = '\0';
    return buf;
}
