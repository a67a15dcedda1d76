#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks that the engine's layers stay layered (docs/architecture.md):
#   1. no file includes a public header of a layer above its own (the
#      include paths already refuse the engine's own headers);
#   2. no object calls or reads a symbol defined in a layer above its own;
#   3. no cycle of calls between the engine's files, so that every file
#      can be read, tested and replaced knowing only the files below it.
# Usage: tools/check_layers.sh BUILD_DIR (the objects of `make all`).
set -u
build=${1:-build}
layers="base mem store db query"
failed=0

rank() {
    i=0
    for l in $layers; do
        [ "$l" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo 99
}

# The layer each public header belongs to.
header_layer() {
    case $1 in
    vmdb/error.h | vmdb/version.h) echo base ;;
    vmdb/map.h | vmdb/buffer.h | vmdb/ring.h | vmdb/slotring.h) echo mem ;;
    vmdb/schema.h | vmdb/table_file.h) echo store ;;
    vmdb/db.h) echo db ;;
    vmdb/query.h | vmdb.h) echo query ;;
    *) echo "" ;;
    esac
}

# 1. Includes of public headers, from the engine and from the headers.
for l in $layers; do
    for f in engine/$l/*.[ch]; do
        [ -e "$f" ] || continue
        for h in $(sed -n 's/^#include "\(vmdb[^"]*\)".*/\1/p' "$f"); do
            hl=$(header_layer "$h")
            if [ -z "$hl" ]; then
                echo "check-layers: $f includes $h, a public header of no known layer"
                failed=1
            elif [ "$(rank "$hl")" -gt "$(rank "$l")" ]; then
                echo "check-layers: $f (layer $l) includes $h (layer $hl)"
                failed=1
            fi
        done
    done
done
for f in include/vmdb/*.h; do
    own=$(header_layer "vmdb/${f##*/}")
    # They include each other by bare name.
    for h in $(sed -n 's/^#include "\([^"]*\)".*/vmdb\/\1/p' "$f"); do
        hl=$(header_layer "$h")
        if [ -z "$hl" ] || [ "$(rank "$hl")" -gt "$(rank "$own")" ]; then
            echo "check-layers: $f (layer $own) includes $h (layer $hl)"
            failed=1
        fi
    done
done

# 2 and 3. Who uses whom, from the objects' symbol tables.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmdb-layers-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/defs"
: >"$tmp/uses"
for l in $layers; do
    for o in "$build"/engine/$l/*.o; do
        [ -e "$o" ] || { echo "check-layers: no objects in $build/engine/$l: run make first"; exit 1; }
        name=$l/$(basename "$o" .o)
        nm --defined-only -g "$o" | awk -v f="$name" 'NF == 3 {print $3, f}' >>"$tmp/defs"
        nm -u "$o" | awk -v f="$name" '{print $2, f}' >>"$tmp/uses"
    done
done
sort -o "$tmp/defs" "$tmp/defs"
sort -o "$tmp/uses" "$tmp/uses"
# user definer symbol, one line per file pair and symbol
join "$tmp/uses" "$tmp/defs" | awk '$2 != $3 {print $2, $3, $1}' | sort -u >"$tmp/edges"
while read -r user definer symbol; do
    ul=${user%%/*}
    dl=${definer%%/*}
    if [ "$(rank "$dl")" -gt "$(rank "$ul")" ]; then
        echo "check-layers: engine/$user.c (layer $ul) uses $symbol of engine/$definer.c (layer $dl)"
        failed=1
    fi
done <"$tmp/edges"
awk '{print $2, $1}' "$tmp/edges" | sort -u >"$tmp/pairs"
if ! tsort "$tmp/pairs" >/dev/null 2>"$tmp/loops"; then
    echo "check-layers: files that call each other round a cycle:"
    sed -n 's/^tsort: //p' "$tmp/loops" | grep -v "input contains a loop" | sed 's/^/    engine\//; s/$/.c/'
    echo "  the calls between them:"
    for f in $(sed -n 's/^tsort: //p' "$tmp/loops" | grep -v "input contains a loop" | sort -u); do
        for g in $(sed -n 's/^tsort: //p' "$tmp/loops" | grep -v "input contains a loop" | sort -u); do
            awk -v u="$f" -v d="$g" '$1 == u && $2 == d {print "    engine/" u ".c -> engine/" d ".c: " $3}' "$tmp/edges"
        done
    done | sort -u
    failed=1
fi
[ $failed = 0 ] && echo "check-layers: $(echo $layers | wc -w) layers, $(wc -l <"$tmp/pairs") file dependencies, no upward use, no cycle"
exit $failed
