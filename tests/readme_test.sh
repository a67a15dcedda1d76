#!/bin/sh
# Compiles and runs every ```c block of README.md against the built static
# library, in order, in one scratch directory: the README's examples are
# programs that must keep working, not prose.
set -u
top=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/vmdb-readme-XXXXXX")
trap 'rm -rf "$work"' EXIT
awk -v dir="$work" '
    /^```c$/ { n++; file = sprintf("%s/example%d.c", dir, n); inside = 1; next }
    /^```$/  { inside = 0; next }
    inside   { print > file }
' README.md
passed=0
failed=0
for src in $(ls "$work"/example*.c | sort -V); do
    name=$(basename "$src" .c)
    if cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -I"$top/include" "$src" \
            -o "$work/$name" "$top/build/libvmdb.a" -lxxhash -pthread >"$work/$name.log" 2>&1 &&
        (cd "$work" && "./$name") >>"$work/$name.log" 2>&1; then
        passed=$((passed + 1))
        echo "ok   README $name: $(tail -n 1 "$work/$name.log")"
    else
        failed=$((failed + 1))
        echo "FAIL README $name"
        sed 's/^/     /' "$work/$name.log"
    fi
done
[ "$passed" -gt 0 ] || { echo "no examples found in README.md"; failed=1; }
echo "readme: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
