package shellchain

import (
	"io/fs"
	"syscall"
)

// owner returns fi's uid and gid.
func owner(fi fs.FileInfo) (int, int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}
