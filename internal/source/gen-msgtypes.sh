#!/bin/sh
# Regenerates msgtypes.tsv: the record type numbers of the names auditd
# knows, from linux/audit.h (linux-libc-dev) and libaudit.h (libaudit-dev).
set -eu
names=$(ausearch -m help 2>&1 | sed 's/Valid message types are: //')
cat /usr/include/linux/audit.h /usr/include/libaudit.h |
	grep -E '^#define AUDIT_[A-Z_0-9]+[[:space:]]+[0-9]+' |
	awk '{print $3"\t"substr($2,7)}' | sort -n -u > /tmp/msgtypes.all
for n in $names; do awk -F'\t' -v n="$n" '$2==n' /tmp/msgtypes.all; done | sort -n -u
