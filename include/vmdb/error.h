/* SPDX-License-Identifier: MIT */
/*
 * vmdb/error.h - the error model shared by every layer.
 *
 * Every public vmdb function that can fail returns an int: 0 on success or
 * a negative VMDB_E* code. errno is never returned; the OS error, together
 * with the file, offset or field at fault, is kept in a per-thread error
 * context that the failing call fills in and vmdb_last_error() returns.
 *
 * Output parameters are set to NULL (or zero) on entry and assigned only on
 * success, so a caller never sees a half-built object. Destructors return
 * void and accept NULL.
 */
#ifndef VMDB_ERROR_H
#define VMDB_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VMDB_API __attribute__((visibility("default")))
#else
#define VMDB_API
#endif


/*
 * The one list of error codes: it generates the enum below and the names
 * and messages behind vmdb_strerror() and vmdb_error_name(), so the three
 * can never disagree. Codes are stable; new ones are only ever appended.
 */
#define VMDB_ERROR_MAP(X)                                                      \
    X(INVAL, -1, "invalid argument")                                           \
    X(NOMEM, -2, "out of memory")                                              \
    X(IO, -3, "input/output error")                                            \
    X(NOENT, -4, "no such file or directory")                                  \
    X(EXIST, -5, "file already exists")                                        \
    X(ACCES, -6, "permission denied")                                          \
    X(NOSPC, -7, "no space left on device")                                    \
    X(RANGE, -8, "out of range")                                               \
    X(READONLY, -9, "read-only")                                               \
    X(FULL, -10, "no room left (full ring or exhausted reservation)")       \
    X(BADSIZE, -11, "size does not fit the layout")                            \
    X(BADMAGIC, -12, "not a vmdb file (bad magic)")                            \
    X(VERSION, -13, "unsupported format version")                              \
    X(CORRUPT, -14, "corrupted data")                                          \
    X(NOTFOUND, -15, "not found")                                              \
    X(BUSY, -16, "resource busy")                                              \
    X(POISONED, -17, "handle poisoned by a failed flush")                      \
    X(UNSUPPORTED, -18, "not supported on this system")                       \
    X(EMPTY, -19, "nothing to read")                                           \
    X(OVERRUN, -20, "overwritten by the writer while being read")             \
    X(SCHEMA, -21, "schema mismatch or bad schema")                           \
    X(SYNTAX, -22, "syntax error")                                            \
    X(NEEDRECOVERY, -23, "needs recovery: open it for writing once")           \
    X(RETRY, -24, "changed while being read: read again")

enum vmdb_error_code {
    VMDB_OK = 0,
#define VMDB__ERROR_ENUM(name, value, text) VMDB_E##name = value,
    VMDB_ERROR_MAP(VMDB__ERROR_ENUM)
#undef VMDB__ERROR_ENUM
};

/*
 * What the last failing call on this thread left behind. `code` is the
 * VMDB_E* value it returned, `os_errno` the errno behind it (0 when the
 * failure was vmdb's own verdict), and `message` a one-line description that
 * names the operation and the file, offset or field at fault, e.g.
 * "map 'data.bin': offset 8192 is beyond the end of the file (4096 bytes)".
 */
typedef struct vmdb_error {
    int code;
    int os_errno;
    char message[512];
} vmdb_error;

/* A static string naming `code`, e.g. "out of range"; never NULL. */
VMDB_API const char *vmdb_strerror(int code);

/* The symbolic name of `code`, e.g. "VMDB_ERANGE"; never NULL. */
VMDB_API const char *vmdb_error_name(int code);

/*
 * The calling thread's error context. The pointer stays valid for the life
 * of the thread; its contents are overwritten by the next failing call on
 * the same thread and are left alone by successful calls. Before any
 * failure, code is 0 and message is empty.
 */
VMDB_API const vmdb_error *vmdb_last_error(void);

/* Resets the calling thread's error context to "no error". */
VMDB_API void vmdb_error_clear(void);

/*
 * Writes `len` bytes of `text`, a name or value that came from a user or a
 * file, into buf (cap bytes, at least 40) as a one-line message shows it,
 * NUL-terminated, and returns buf:
 *   - \n, \t and \r as those two characters; other control bytes, DEL
 *     and bytes that are not UTF-8 as \xHH;
 *   - characters that break or reorder a line on a terminal (U+0080 to
 *     U+009F, U+2028, U+2029 and the bidirectional controls) as \uXXXX;
 *   - everything else as it is. A backslash is not doubled, so shown text
 *     shows again unchanged and a message built of shown parts can be
 *     shown whole.
 * What does not fit is cut between two characters and "... (N bytes)"
 * ends it, N being len. VMDB_PRINTABLE_CAP is the size messages use for
 * a name or value: text up to 79 bytes whole, a longer one cut to about
 * 64. 4 * len + 1 bytes always hold the text whole. vmdb's own messages
 * show names and values this way, and show control bytes in anything else
 * (a path) the same way, so vmdb_last_error()->message is one line.
 */
#define VMDB_PRINTABLE_CAP 80
VMDB_API const char *vmdb_printable(const void *text, size_t len, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* VMDB_ERROR_H */
