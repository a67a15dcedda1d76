#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs vmdb into a scratch prefix, then builds and runs a tiny program
# against the installed copy through pkg-config, linked both ways; checks
# the man page, then that make uninstall takes everything away again.
set -u
prefix=$(mktemp -d "${TMPDIR:-/tmp}/vmdb-install-XXXXXX")
trap 'rm -rf "$prefix"' EXIT
passed=0
failed=0
check() {
    name=$1
    shift
    if "$@" >"$prefix/out.txt" 2>&1; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
        sed 's/^/     /' "$prefix/out.txt"
    fi
}

check "make install PREFIX=$prefix" make --no-print-directory install PREFIX="$prefix"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cat >"$prefix/tiny.c" <<'CODE'
#include <stdio.h>
#include <string.h>
#include <vmdb.h>

int main(void)
{
    vmdb_map *m;
    vmdb_map_options o = {.len = 4096};
    if (vmdb_map_anon(&o, &m) != 0) {
        fprintf(stderr, "%s\n", vmdb_last_error()->message);
        return 1;
    }
    strcpy(vmdb_map_ptr(m), "installed");
    printf("%s %s\n", (char *)vmdb_map_ptr(m), vmdb_version_string());
    vmdb_map_close(m);
    return 0;
}
CODE

check "pkg-config finds vmdb" pkg-config --exists vmdb
version=$(pkg-config --modversion vmdb)
cflags=$(pkg-config --cflags vmdb)
libs=$(pkg-config --libs vmdb)
check "shared: builds with pkg-config --cflags --libs vmdb" \
    cc -std=c11 -Wall -Wextra -Werror $cflags "$prefix/tiny.c" -o "$prefix/tiny" $libs
check "shared: runs and reports version $version" \
    sh -c "LD_LIBRARY_PATH='$prefix/lib' '$prefix/tiny' | grep -qx 'installed $version'"
check "shared: needs the soname libvmdb.so.0" \
    sh -c "readelf -d '$prefix/tiny' | grep NEEDED | grep -q 'libvmdb.so.0'"
check "static: builds against libvmdb.a" \
    cc -std=c11 -Wall -Wextra -Werror $cflags "$prefix/tiny.c" -o "$prefix/tiny-static" \
    "$prefix/lib/libvmdb.a" $(pkg-config --static --libs vmdb | sed 's/-lvmdb//')
check "static: runs without the shared library" \
    sh -c "'$prefix/tiny-static' | grep -qx 'installed $version' && ! readelf -d '$prefix/tiny-static' | grep -q libvmdb"
check "shared: docs/examples/query_api.c (the SQL layer) builds, runs, prints query_api.out" \
    sh -c "cc -std=c11 -Wall -Wextra -Werror $cflags docs/examples/query_api.c -o '$prefix/query_api' $libs &&
           LD_LIBRARY_PATH='$prefix/lib' '$prefix/query_api' '$prefix/shop.db' | cmp -s docs/examples/query_api.out -"
check "static: docs/examples/query_api.c links with pkg-config --static" \
    cc -std=c11 -Wall -Wextra -Werror $cflags docs/examples/query_api.c -o "$prefix/query_api-static" \
    "$prefix/lib/libvmdb.a" $(pkg-config --static --libs vmdb | sed 's/-lvmdb//')
check "shared library exports no internal vmdb__ symbols" \
    sh -c "! nm -D --defined-only '$prefix/lib/libvmdb.so' | grep -q ' vmdb__'"
check "headers: vmdb.h and one per layer" \
    test -f "$prefix/include/vmdb.h" -a -f "$prefix/include/vmdb/map.h" -a -f "$prefix/include/vmdb/buffer.h" -a -f "$prefix/include/vmdb/error.h" -a -f "$prefix/include/vmdb/query.h"

check "man page: share/man/man1/vmdb.1" test -f "$prefix/share/man/man1/vmdb.1"
# Rendered with every warning on; any line on stderr fails it. Skipped on a
# machine without groff (man -l would need it too).
if command -v groff >/dev/null 2>&1; then
    check "man page: groff -man renders it without a warning" \
        sh -c "out=\$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z '$prefix/share/man/man1/vmdb.1' 2>&1) && [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
else
    echo "skip man page rendering: no groff"
fi

check "make uninstall PREFIX=$prefix" make --no-print-directory uninstall PREFIX="$prefix"
check "uninstall leaves no file of vmdb's behind" \
    sh -c "left=\$(find '$prefix/bin' '$prefix/include' '$prefix/lib' '$prefix/share' ! -type d 2>/dev/null); [ -z \"\$left\" ] || { echo \"\$left\"; exit 1; }"

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
