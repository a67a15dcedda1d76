/* SPDX-License-Identifier: MIT */
/*
 * tests/tsan_arena.c - linked into the ThreadSanitizer test build only
 * (`make tsan`), so that Criterion's runner starts under TSan.
 *
 * Criterion's BoxFort maps an "inheritable arena" at an address it
 * picks with rand_r(): 0x2000'0000'0000 plus (rand_r() & 0x3fffff) times
 * 16 MiB, so somewhere in [32 TiB, 96 TiB), and gives up after ten
 * addresses that are taken. TSan's x86-64 layout (gcc 12) keeps all of
 * that range for its shadow and meta memory, or protects it, except
 * [0x5500'0000'0000, 0x5680'0000'0000), where position-independent
 * binaries go: 2.3% of it. Without help four starts in five fail
 * ("criterion: Could not initialize inheritable arena: Resource
 * temporarily unavailable"), and a run needs several arenas.
 *
 * This rand_r, found before libc's because the executable defines it,
 * keeps its values in the part of BoxFort's range that TSan leaves to
 * the program. BoxFort still checks with mincore() that an address is
 * free before it maps there, and tries another if not. Nothing else in
 * the test binary calls rand_r (engine/, cli/ and tests/ do not); the
 * generator is xorshift32 over the caller's seed, as rand_r's contract
 * asks (all state in *seed).
 */
#include <stdlib.h>

/* BoxFort's arithmetic: address = 0x2000'0000'0000 + (r & 0x3fffff) << 24. */
#define ARENA_BASE 0x200000000000ull
#define ARENA_STEP_SHIFT 24
/* TSan's application window for PIE binaries, minus 16 GiB at the top
 * so an arena that grows stays inside it. */
#define APP_LO 0x550000000000ull
#define APP_HI 0x567c00000000ull
#define STEP_LO ((APP_LO - ARENA_BASE) >> ARENA_STEP_SHIFT)
#define STEP_COUNT ((APP_HI - APP_LO) >> ARENA_STEP_SHIFT)

_Static_assert(STEP_LO + STEP_COUNT <= 0x3fffff, "the window is inside BoxFort's mask");

int rand_r(unsigned *seed)
{
    unsigned x = *seed ? *seed : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *seed = x;
    return (int)(STEP_LO + x % STEP_COUNT);
}
