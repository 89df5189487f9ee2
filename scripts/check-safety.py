#!/usr/bin/env python3
"""Every unsafe block and unsafe impl in src/ has a `// SAFETY:` comment on
one of the four lines before it (or on its own line). Prints the ones that
do not and exits 1."""
import glob
import re
import sys

missing = []
for f in sorted(glob.glob("src/**/*.rs", recursive=True)):
    lines = open(f).read().split("\n")
    for i, line in enumerate(lines):
        if re.search(r"\bunsafe\s*\{", line) or re.match(r"\s*unsafe impl", line):
            if "SAFETY" not in "\n".join(lines[max(0, i - 4) : i + 1]):
                missing.append(f"{f}:{i + 1}: {line.strip()}")
if missing:
    print("unsafe without a // SAFETY: note:")
    print("\n".join(missing))
    sys.exit(1)
