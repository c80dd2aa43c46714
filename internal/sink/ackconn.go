package sink

import (
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// ackConn is a TCP connection that knows how much of what it wrote the
// peer's TCP has acknowledged: bytes written minus what the kernel still
// holds in the send queue (SIOCOUTQ counts the sent-but-unacknowledged and
// the unsent). RFC 5425 has no acknowledgements of its own, so this is how
// a syslog sender learns which messages reached the collector and which
// must go again after the connection breaks: never one twice, never one
// lost. A TLS connection is layered on top; its bytes are counted here.
type ackConn struct {
	*net.TCPConn
	written uint64
}

func (c *ackConn) Write(b []byte) (int, error) {
	n, err := c.TCPConn.Write(b)
	c.written += uint64(n)
	return n, err
}

// acked returns how many of the bytes written the peer acknowledged.
func (c *ackConn) acked() (uint64, error) {
	rc, err := c.TCPConn.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("acknowledged bytes: %w", err)
	}
	var queued int
	var ierr error
	if err := rc.Control(func(fd uintptr) { queued, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err != nil {
		return 0, fmt.Errorf("acknowledged bytes: %w", err)
	}
	if ierr != nil {
		return 0, fmt.Errorf("acknowledged bytes: SIOCOUTQ: %w", ierr)
	}
	if uint64(queued) > c.written {
		return 0, nil
	}
	return c.written - uint64(queued), nil
}

// abort closes with a reset, dropping what the peer did not acknowledge:
// it is sent again on the next connection, so the old one must not deliver
// it late.
func (c *ackConn) abort() error {
	c.TCPConn.SetLinger(0)
	return c.TCPConn.Close()
}

// userTimeout is how long written data may stay unacknowledged before the
// kernel gives the connection up (TCP_USER_TIMEOUT). Longer than a link
// that drops for a while: the connection rides that out and delivers what
// is queued, in order, when the link is back.
const userTimeout = 5 * time.Minute

func tuneTCP(c *net.TCPConn) {
	c.SetKeepAlive(true)
	c.SetKeepAlivePeriod(30 * time.Second)
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(userTimeout/time.Millisecond))
		})
	}
}
