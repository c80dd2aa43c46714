// Package netnstest gives a test two network namespaces of its own, joined
// by a veth pair with addresses from 198.18.0.0/15 (RFC 2544's benchmark
// range, which nothing outside the machine uses), so that a link between
// a host and its collector can be cut and restored without touching the
// machine's own network. Everything is removed when the test ends.
package netnstest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/testutil/integration"
)

// Pair is two namespaces and the link between them.
type Pair struct {
	Host, Collector     string // namespace names
	HostIP, CollectorIP string
	hostLink            string
}

// Required lets the test go on only under GOTRAIL_INTEGRATION=1, as root
// with iproute2's ip (integration.Require).
func Required(t testing.TB) {
	t.Helper()
	var missing error
	if os.Geteuid() != 0 {
		missing = errors.New("network namespaces are made as root")
	} else if _, err := exec.LookPath("ip"); err != nil {
		missing = fmt.Errorf("iproute2's ip is needed (apt-get install iproute2): %w", err)
	}
	integration.Require(t, "network namespaces and a veth pair of the test's own", missing)
}

// New makes the pair: namespaces gth-PID and gtc-PID, veth gtvh-PID in the
// first (198.18.0.1/30) and gtvc-PID in the second (198.18.0.2/30), up.
func New(t testing.TB) *Pair {
	t.Helper()
	id := fmt.Sprint(os.Getpid() % 100000)
	p := &Pair{Host: "gth-" + id, Collector: "gtc-" + id, HostIP: "198.18.0.1", CollectorIP: "198.18.0.2", hostLink: "gtvh-" + id}
	peer := "gtvc-" + id
	remove := func() {
		exec.Command("ip", "netns", "del", p.Host).Run()
		exec.Command("ip", "netns", "del", p.Collector).Run()
	}
	remove() // what a killed run of the same pid left behind
	t.Cleanup(remove)
	steps := [][]string{
		{"netns", "add", p.Host},
		{"netns", "add", p.Collector},
		{"link", "add", p.hostLink, "netns", p.Host, "type", "veth", "peer", "name", peer, "netns", p.Collector},
		{"-n", p.Host, "addr", "add", p.HostIP + "/30", "dev", p.hostLink},
		{"-n", p.Collector, "addr", "add", p.CollectorIP + "/30", "dev", peer},
		{"-n", p.Host, "link", "set", "lo", "up"},
		{"-n", p.Collector, "link", "set", "lo", "up"},
		{"-n", p.Host, "link", "set", p.hostLink, "up"},
		{"-n", p.Collector, "link", "set", peer, "up"},
	}
	for _, s := range steps {
		ip(t, s...)
	}
	return p
}

func ip(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Command runs name with args in namespace ns.
func Command(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Down cuts the link on the host's side: packets are dropped, connections
// stay open, as when a cable or a switch goes.
func (p *Pair) Down(t testing.TB) { ip(t, "-n", p.Host, "link", "set", p.hostLink, "down") }

// Up restores the link.
func (p *Pair) Up(t testing.TB) { ip(t, "-n", p.Host, "link", "set", p.hostLink, "up") }
