#!/usr/bin/env python3
"""A schema-only pg_dump of one database in binary-upgrade mode (the only mode
in which pg_dump writes an extension's member objects), with what differs
between two equal catalogs taken out: OIDs, the dump's random \\restrict key,
comments, and the columns a table keeps after DROP COLUMN (binary upgrades
keep them for their attribute numbers; a fresh install never had them).
  upgrade_dump.py PORT DB [pg_dump options...]  > normalized dump"""
import re
import subprocess
import sys

port, db, *extra = sys.argv[1:]
dump = subprocess.run(
    ["pg_dump", "-h", "/tmp", "-p", port, "-U", "postgres", "--schema-only",
     "--binary-upgrade", *extra, db],
    check=True, capture_output=True, text=True).stdout

out = []
skip_block = False
lines = dump.splitlines()
i = 0
while i < len(lines):
    line = lines[i]
    i += 1
    # transaction ids of the tables (pg_upgrade's): UPDATE, SET, WHERE
    if line == "UPDATE pg_catalog.pg_class" and i < len(lines) and lines[i].startswith("SET relfrozenxid"):
        i += 2
        continue
    if skip_block:
        # the dropped column's repair block ends at its blank line
        if line.strip() == "":
            skip_block = False
        continue
    if line.startswith("-- For binary upgrade, recreate dropped column"):
        skip_block = True
        continue
    if line.startswith(("\\restrict", "\\unrestrict", "--")) or line.strip() == "":
        continue
    # sequence positions (pg_dump writes those of configuration tables)
    if line.startswith("SELECT pg_catalog.setval("):
        continue
    if "binary_upgrade_set_next_" in line or "binary_upgrade_set_missing_value" in line \
            or "binary_upgrade_set_record_init_privs" in line:
        continue
    if "binary_upgrade_create_empty_extension" in line:
        # the OIDs of the configuration tables: compared by name elsewhere
        line = re.sub(r"'\{[0-9,]*\}'", "'{oids}'", line)
    if '"........pg.dropped.' in line:
        continue
    out.append(line)

# A column list whose last column was dropped now ends with a comma.
text = "\n".join(out) + "\n"
text = re.sub(r",\n(\s*\)[^\n]*;?)\n", r"\n\1\n", text)
sys.stdout.write(text)
