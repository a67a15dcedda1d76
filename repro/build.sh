#!/bin/sh
# Builds each reproducer against the library with ASan+UBSan:
#   repro/build.sh [name...]   (from the worktree; needs build/asan/libvmdb_asan.a,
#   made from the build/asan/engine objects, or falls back to build/libvmdb.a)
cd "$(dirname "$0")/.." || exit 2
lib=build/asan/libvmdb_asan.a
[ -f $lib ] || lib=build/libvmdb.a
mkdir -p build/repro
for n in ${@:-$(cd repro && ls *.c | sed 's/\.c$//')}; do
  gcc -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
      -Iinclude -Irepro repro/$n.c $lib -lxxhash -lm -pthread -o build/repro/$n || exit 1
done
