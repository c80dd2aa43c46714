package audit

import "testing"

// TestTypeSlots: the record types of a busy host each have a slot of their
// own for their last shape, so that records of two types in turn are both
// split by their shape.
func TestTypeSlots(t *testing.T) {
	types := []string{"SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE", "BPRM_FCAPS", "SOCKADDR", "CONFIG_CHANGE",
		"USER_START", "USER_END", "CRED_ACQ", "CRED_DISP", "USER_AUTH", "USER_ACCT", "USER_CMD", "LOGIN", "SERVICE_START",
		"SERVICE_STOP", "ANOM_ABEND", "AVC", "NETFILTER_CFG", "MMAP", "FD_PAIR", "KERN_MODULE", "CRED_REFR", "USER_LOGIN",
		"USER_ERR", "DAEMON_START", "DAEMON_END", "OBJ_PID", "SECCOMP", "TTY"}
	seen := map[int]string{}
	for _, typ := range types {
		s := typeSlot(typ)
		if other, ok := seen[s]; ok {
			t.Errorf("%s and %s share slot %d", typ, other, s)
		}
		seen[s] = typ
	}
}
