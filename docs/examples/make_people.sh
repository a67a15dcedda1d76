#!/bin/sh
# SPDX-License-Identifier: MIT
# Writes docs/examples/people.csv, the made-up people that `make demo`
# imports: 300 rows of id, name, city, age, score, for the table
#
#     vmdb create DB people "$(cat docs/examples/people.schema)"
#
# The rows come from a fixed-seed Park-Miller generator computed in awk's
# doubles (every product stays below 2^53, so it is exact in any awk): the
# file is the same on every machine, and rerunning this script must leave
# it unchanged. A few names carry accents (UTF-8) and a few cities a
# comma, so the CSV shows its quoting.
#
#     sh docs/examples/make_people.sh > docs/examples/people.csv
set -eu
ROWS=${1:-300}
awk -v rows="$ROWS" 'BEGIN {
    split("Ada Alan Barbara Brian Charles Dennis Edsger Frances Grace Guido " \
          "Hedy Ivan Jean Joan José Ken Linus Margaret Niklaus Radia " \
          "Søren Tim Whitfield Zoë Ælfgifu Małgorzata Chidi Aiko Priya Mateo", first, " ")
    split("Lovelace Turing Liskov Kernighan Babbage Ritchie Dijkstra Allen " \
          "Hopper Rossum Lamarr Sutherland Sammet Clarke Müller Thompson " \
          "Torvalds Hamilton Wirth Perlman Kierkegaard Berners-Lee Diffie " \
          "Nakamura Okafor Nowak Rao García Smith O'\''Brien", last, " ")
    split("London|Paris|Berlin|Tokyo|Lagos|São Paulo|Toronto|Kraków|Mumbai|" \
          "Reykjavík|Austin|Nairobi|Seoul|Oslo|Lima|Portland, Oregon|" \
          "Portland, Maine|Zürich|Cape Town|Melbourne", city, "|")
    nfirst = 30; nlast = 30; ncity = 20
    seed = 20261125
    print "id,name,city,age,score"
    for (id = 1; id <= rows; id++) {
        name = first[1 + next_int(nfirst)] " " last[1 + next_int(nlast)]
        c = city[1 + next_int(ncity)]
        if (index(c, ",")) c = "\"" c "\""
        age = 18 + next_int(70)
        score = next_int(1001) / 10
        printf "%d,%s,%s,%d,%.1f\n", id, name, c, age, score
    }
}
# The next value of the generator, reduced to 0..n-1.
function next_int(n) {
    seed = (seed * 16807) % 2147483647
    return int(seed / 2147483647 * n)
}'
