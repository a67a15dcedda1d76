/* SPDX-License-Identifier: MIT */
/*
 * engine/base/checksum.h - the one place a stored checksum is compared with the
 * one computed from the bytes.
 *
 * The fuzz build (make fuzz) defines VMDB_FUZZ_NO_CHECKSUMS, under which
 * every comparison passes: a mutated file almost never carries a matching
 * XXH3 sum, so without the bypass a fuzzer stops at the first checksum and
 * never reaches the parsing and validation behind it, which must hold up
 * on their own against crafted files whose checksums are right. The sum is
 * still computed, so the code that computes it (over a length the file
 * gives) is exercised too. No other build defines it.
 */
#ifndef VMDB_ENGINE_CHECKSUM_H
#define VMDB_ENGINE_CHECKSUM_H

#include <stdbool.h>
#include <stdint.h>

static inline bool vmdb__checksum_matches(uint64_t stored, uint64_t computed)
{
#ifdef VMDB_FUZZ_NO_CHECKSUMS
    (void)stored;
    (void)computed;
    return true;
#else
    return stored == computed;
#endif
}

#endif /* VMDB_ENGINE_CHECKSUM_H */
