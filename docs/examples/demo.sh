#!/bin/sh
# SPDX-License-Identifier: MIT
# The demo behind `make demo`: a database in a temporary directory, the
# people shipped in docs/examples imported from CSV, and a few of the
# things the vmdb command does with them. Each command is printed before
# its output, so the transcript reads as a session at a shell.
set -eu
cd "$(dirname "$0")/../.."
VMDB=${VMDB:-build/vmdb}
dir=$(mktemp -d "${TMPDIR:-/tmp}/vmdb-demo.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
db=$dir/demo.db

run() {
    printf '$ vmdb'
    for arg in "$@"; do
        case $arg in
        *\'*) printf ' "%s"' "$arg" ;;
        *[!A-Za-z0-9_./=:-]*) printf " '%s'" "$arg" ;;
        *) printf ' %s' "$arg" ;;
        esac
    done
    printf '\n'
    # Exit 1 is "no rows", not a failure of the demo.
    "$VMDB" "$@" || [ $? -eq 1 ]
    printf '\n'
}

echo "# a database in $dir"
echo
run create "$db" people "$(cat docs/examples/people.schema)"
run import "$db" people docs/examples/people.csv
run tables "$db"
run query "$db" "SELECT COUNT(*), MIN(age), MAX(age), AVG(score) FROM people"
run query "$db" "SELECT city, COUNT(*) AS people, AVG(age) AS age FROM people GROUP BY city ORDER BY people DESC, city LIMIT 5"
run query "$db" "SELECT id, name, city, score FROM people WHERE age BETWEEN 30 AND 35 AND score > 90 ORDER BY score DESC LIMIT 5"
run query --explain "$db" "SELECT name FROM people WHERE id IN (7, 42)"
run query "$db" "SELECT id, name, city FROM people WHERE id IN (7, 42)"
run query "$db" "UPDATE people SET score = score + 1 WHERE city = 'Oslo' AND score < 99"
run put "$db" people id=301 "name=Ada Lovelace" city=London age=36 score=99.5
run get "$db" people 301 --format json
run query "$db" "DELETE FROM people WHERE age > 75"
run stats "$db"
run check "$db"
run export "$db" people --format json | head -3
