#!/bin/sh
# SPDX-License-Identifier: MIT
# Compiles and runs every ```c block of README.md against the built static
# library, in order, in one scratch directory, and docs/sql.md's example
# program (docs/examples/query_api.c, its output checked), and replays
# every ```console block with the built command: the examples are programs
# and sessions that must keep working, not prose.
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
# docs/sql.md's C example is a file of its own, with the output it must
# print beside it.
example=docs/examples/query_api
if cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -I"$top/include" "$example.c" \
        -o "$work/query_api" "$top/build/libvmdb.a" -lxxhash -pthread -lm >"$work/query_api.log" 2>&1 &&
    (cd "$work" && ./query_api shop.db) >"$work/query_api.got" 2>>"$work/query_api.log" &&
    cmp -s "$example.out" "$work/query_api.got" &&
    awk '/^```c$/ { inside = 1; next } /^```$/ { inside = 0; next } inside' docs/sql.md \
        >"$work/sql_excerpt.c" &&
    awk -v f="$example.c" 'BEGIN { while ((getline l < f) > 0) whole = whole l "\n" }
        { shown = shown $0 "\n" } END { exit !(shown != "" && index(whole, shown)) }' \
        "$work/sql_excerpt.c"; then
    passed=$((passed + 1))
    echo "ok   docs/sql.md $example.c: $(wc -l <"$example.out") lines as $example.out"
else
    failed=$((failed + 1))
    echo "FAIL docs/sql.md $example.c"
    sed 's/^/     /' "$work/query_api.log"
    [ -e "$work/query_api.got" ] && diff "$example.out" "$work/query_api.got" | sed 's/^/     /'
fi
# Every ```console block is a shell session with the built vmdb command:
# each "$ " line is run (in a scratch directory of its own per block) and
# what it prints, stdout and stderr together, must be the lines that follow
# it in the README, exactly.
awk -v dir="$work" '
    /^```console$/ { n++; inside = 1; cmd = 0; next }
    /^```$/        { inside = 0; next }
    inside && /^\$ / { cmd++; f = sprintf("%s/session%d.%03d", dir, n, cmd);
                       print substr($0, 3) > (f ".cmd"); printf "" > (f ".want"); next }
    inside         { print >> (f ".want") }
' README.md
for first in "$work"/session*.001.cmd; do
    [ -e "$first" ] || break
    session=${first%.001.cmd}
    name=$(basename "$session")
    mkdir "$session.dir"
    ok=1
    for cmd in $(ls "$session".*.cmd | sort); do
        step=${cmd%.cmd}
        (cd "$session.dir" && PATH="$top/build:$PATH" sh -c "$(cat "$cmd")") >"$step.got" 2>&1
        if ! cmp -s "$step.want" "$step.got"; then
            ok=0
            echo "FAIL README $name: \$ $(cat "$cmd")"
            diff "$step.want" "$step.got" | sed 's/^/     /'
        fi
    done
    if [ $ok -eq 1 ]; then
        passed=$((passed + 1))
        echo "ok   README $name: $(ls "$session".*.cmd | wc -l) commands"
    else
        failed=$((failed + 1))
    fi
done
[ "$passed" -gt 0 ] || { echo "no examples found in README.md"; failed=1; }
echo "readme: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
