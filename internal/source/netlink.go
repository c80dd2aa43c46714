package source

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// auditReadLog is AUDIT_NLGRP_READLOG: the multicast group of every record
// the kernel emits (needs CAP_AUDIT_READ).
const auditReadLog = 1

// ErrLost is reported (with a count) when the kernel dropped records because
// the socket's receive buffer was full.
var ErrLost = errors.New("netlink receive buffer overflowed: records lost")

// Netlink reads audit records from the kernel's multicast group: for hosts
// without auditd, or beside it. Records come in RAW format (no names).
type Netlink struct {
	fd int
}

// OpenNetlink joins the kernel's audit multicast group.
func OpenNetlink() (*Netlink, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("netlink audit socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: auditReadLog}); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("join the audit multicast group: %w (needs CAP_AUDIT_READ: run as root)", err)
		}
		return nil, fmt.Errorf("join the audit multicast group: %w", err)
	}
	// a burst must not overflow the socket: 8 MiB, beyond rmem_max as root
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	return &Netlink{fd: fd}, nil
}

// Close leaves the group.
func (n *Netlink) Close() error { return unix.Close(n.fd) }

// Run calls handle with each record as a log line ("type=NAME msg=audit(…):
// …") until ctx ends. lost is called with ErrLost when records were dropped.
func (n *Netlink) Run(ctx context.Context, handle func(line []byte) error, lost func(error), idle func()) error {
	buf := make([]byte, 1<<17)
	var line []byte
	lastIdle := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// a stream that never pauses still gets its quiet-moment work done
		if idle != nil && time.Since(lastIdle) > 200*time.Millisecond {
			idle()
			lastIdle = time.Now()
		}
		fds := []unix.PollFd{{Fd: int32(n.fd), Events: unix.POLLIN}}
		ready, err := unix.Poll(fds, 200)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("netlink: poll: %w", err)
		}
		if ready == 0 {
			if idle != nil {
				idle()
				lastIdle = time.Now()
			}
			continue
		}
		m, _, err := unix.Recvfrom(n.fd, buf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.ENOBUFS) {
			lost(ErrLost)
			continue
		}
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink: receive: %w", err)
		}
		for b := buf[:m]; len(b) >= unix.NLMSG_HDRLEN; {
			size := int(binary.NativeEndian.Uint32(b[0:4]))
			typ := binary.NativeEndian.Uint16(b[4:6])
			if size < unix.NLMSG_HDRLEN || size > len(b) {
				break
			}
			payload := b[unix.NLMSG_HDRLEN:size]
			for len(payload) > 0 && (payload[len(payload)-1] == 0 || payload[len(payload)-1] == '\n') {
				payload = payload[:len(payload)-1]
			}
			line = append(line[:0], "type="...)
			line = append(line, TypeName(typ)...)
			line = append(line, " msg="...)
			line = append(line, payload...)
			if err := handle(line); err != nil {
				return err
			}
			adv := (size + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
			if adv > len(b) {
				break
			}
			b = b[adv:]
		}
	}
}

var (
	typeOnce  sync.Once
	typeNames map[uint16]string
)

// TypeName names an audit record type number as auditd does, UNKNOWN[N]
// when it has no name.
func TypeName(n uint16) string {
	typeOnce.Do(loadTypes)
	if s, ok := typeNames[n]; ok {
		return s
	}
	return "UNKNOWN[" + strconv.Itoa(int(n)) + "]"
}
