#!/bin/sh
# SPDX-License-Identifier: MIT
# Every source file names its licence (LICENSE) in an SPDX line near its
# top, so that a file copied out of the project still says what it is.
set -u
missing=$(git ls-files '*.c' '*.h' '*.sh' '*.awk' '*.1' Makefile .ci/run 'tools/*' 2>/dev/null |
    while read -r f; do
        head -3 "$f" | grep -q 'SPDX-License-Identifier: MIT' || echo "$f"
    done)
if [ -n "$missing" ]; then
    echo "check-spdx: no SPDX-License-Identifier line in:"
    echo "$missing" | sed 's/^/    /'
    exit 1
fi
echo "check-spdx: every source file names its licence"
