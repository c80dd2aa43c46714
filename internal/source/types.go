package source

import (
	_ "embed"
	"strconv"
	"strings"
)

// msgtypes.tsv numbers the record types auditd 3.0.9 knows (ausearch -m
// help), from linux/audit.h and libaudit.h: `sh gen-msgtypes.sh >
// msgtypes.tsv` regenerates it.
//
//go:embed msgtypes.tsv
var msgtypes string

func loadTypes() {
	typeNames = map[uint16]string{}
	for _, line := range strings.Split(strings.TrimSpace(msgtypes), "\n") {
		num, name, ok := strings.Cut(line, "\t")
		n, err := strconv.Atoi(num)
		if ok && err == nil && n > 0 && n < 1<<16 {
			typeNames[uint16(n)] = name
		}
	}
}
