/* SPDX-License-Identifier: MIT */
/*
 * engine/base/internal.h - helpers shared by the engine's files; never included
 * by cli/ or by users. Internal names are vmdb__name.
 */
#ifndef VMDB_ENGINE_INTERNAL_H
#define VMDB_ENGINE_INTERNAL_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmdb/error.h"

#if defined(__GNUC__)
#define VMDB__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define VMDB__PRINTF(fmt, args)
#endif

/* Records a failure of vmdb's own (no OS error) in the thread's error
 * context and returns `code`, so a caller can write
 * `return vmdb__fail(VMDB_ERANGE, "...", ...);`. */
int vmdb__fail(int code, const char *fmt, ...) VMDB__PRINTF(2, 3);

/* Records a failed system call: `neg_errno` is what an os.h function
 * returned. The code is derived from the errno and the message is the
 * formatted context followed by ": " and the OS's text for the errno. */
int vmdb__fail_os(int neg_errno, const char *fmt, ...) VMDB__PRINTF(2, 3);

/* Writes the 8 magic bytes of a file into buf, escaping what is not
 * printable, so a message shows what the file holds instead of garbage.
 * Returns buf. */
const char *vmdb__printable_magic(const char magic[8], char buf[40]);

/* The VMDB_E* code that stands for an errno value. */
int vmdb__code_from_errno(int err);

static inline uint64_t vmdb__round_up(uint64_t v, uint64_t align)
{
    return (v + align - 1) & ~(align - 1);
}

static inline uint64_t vmdb__round_down(uint64_t v, uint64_t align)
{
    return v & ~(align - 1);
}

/* Lock-free readers wait for a sequence counter a writer left odd (a
 * table slot, the index): a writer mid-change is done in microseconds
 * unless it was preempted or died. One rule for every such wait: pause
 * first, then yield the CPU (the writer may be waiting for it), and call
 * the writer dead after VMDB__SEQLOCK_SPIN_LIMIT rounds in all, a second
 * or so. The fuzz build (VMDB_FUZZ_SHORT_WAITS) gives up sooner: mutated
 * files are full of odd counters. */
#ifdef VMDB_FUZZ_SHORT_WAITS
#define VMDB__SEQLOCK_SPIN_LIMIT 1000
#else
#define VMDB__SEQLOCK_SPIN_LIMIT 1000000
#endif
#define VMDB__SEQLOCK_PAUSES 100

/* One round of the wait; false once the limit is past. */
static inline bool vmdb__seqlock_wait(uint64_t *spins)
{
    if (++*spins > VMDB__SEQLOCK_SPIN_LIMIT)
        return false;
    if (*spins > VMDB__SEQLOCK_PAUSES) {
        sched_yield();
    } else {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield" ::: "memory");
#else
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
    }
    return true;
}

/* Options structs lead with a version: 0 (a zeroed struct) or one this
 * library knows. A larger one was filled by a program compiled against a
 * newer vmdb, whose fields this library would misread. */
int vmdb__options_version(unsigned version, unsigned known, const char *what);

/* A malloc'ed string made as printf would; NULL when out of memory
 * (engine/base/text.c). */
char *vmdb__format(const char *fmt, ...) VMDB__PRINTF(1, 2);
/* DIR/NAME followed by EXT ("" for none), malloc'ed; NULL when out of memory. */
char *vmdb__path_join(const char *dir, const char *name, const char *ext);

/* A double as the shortest text that reads back as the same value (as
 * the same float when single: an f32's value), with no exponent for
 * magnitudes from 1e-4 up to 1e16: "500", "0.1", "-0", "1e+300", "nan",
 * "inf". The one float text of every layer: vmdb get, export and the
 * SQL's results agree. Writes at most cap-1 bytes and a NUL (cap may be
 * 0); returns the text's length, as snprintf. VMDB__DOUBLE_TEXT_CAP
 * holds any. */
#define VMDB__DOUBLE_TEXT_CAP 40
size_t vmdb__double_text(double d, bool single, char *dst, size_t cap);

#endif /* VMDB_ENGINE_INTERNAL_H */
