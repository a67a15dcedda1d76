#!/bin/sh
# SPDX-License-Identifier: MIT
# Each public header compiles alone, first thing in a file: as C99 with
# -pedantic and as C++, warnings as errors. A header that leans on
# another being included first, or on a C11 or GNU feature in its
# declarations, fails here before it fails a user.
set -u
cc=${CC:-gcc}
cxx=${CXX:-g++}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmdb-headers-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
count=0
for h in include/vmdb.h include/vmdb/*.h; do
    name=${h#include/}
    printf '#include <%s>\nint vmdb_header_test_%s;\n' "$name" "$(echo "$name" | tr -c 'a-z0-9\n' '_')" >"$tmp/t.c"
    # The options' _INIT macros, used as a program would.
    for init in $(sed -n 's/^#define \(VMDB_[A-Z]*_OPTIONS_INIT\) .*/\1/p' "$h" | sort -u); do
        type=$(echo "$init" | sed 's/^VMDB_\(.*\)_OPTIONS_INIT$/\1/' | tr 'A-Z' 'a-z')
        printf 'vmdb_%s_options vmdb_header_test_%s = %s;\n' "$type" "$type" "$init" >>"$tmp/t.c"
    done
    cp "$tmp/t.c" "$tmp/t.cpp"
    if ! $cc -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -fsyntax-only "$tmp/t.c" 2>"$tmp/err"; then
        echo "check-headers: $name does not compile alone as C99 -pedantic:"
        sed 's/^/    /' "$tmp/err"
        failed=1
    fi
    if command -v "$cxx" >/dev/null 2>&1; then
        if ! $cxx -std=c++11 -pedantic -Wall -Wextra -Wno-missing-field-initializers -Werror -Iinclude -fsyntax-only "$tmp/t.cpp" 2>"$tmp/err"; then
            echo "check-headers: $name does not compile alone as C++11:"
            sed 's/^/    /' "$tmp/err"
            failed=1
        fi
    else
        echo "check-headers: no $cxx, the C++ half skipped"
    fi
    count=$((count + 1))
done
[ $failed = 0 ] && echo "check-headers: $count public headers compile alone as C99 -pedantic and as C++11"
exit $failed
