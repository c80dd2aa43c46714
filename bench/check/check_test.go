// Package check benchmarks `gotrail check` on this host: every login
// user's simulated login, the Go environment, the GOROOT walk and the
// kernel's audit state, as the command does them. The target is under
// 300 ms (DESIGN.md).
package check

import (
	"context"
	"testing"

	"github.com/gotrail/gotrail/internal/check"
	"github.com/gotrail/gotrail/internal/hostenv"
)

func BenchmarkCheckHost(b *testing.B) {
	for b.Loop() {
		host, err := hostenv.Load(context.Background(), "/", "", nil)
		if err != nil {
			b.Fatal(err)
		}
		check.Run(check.Input{Host: host, Audit: check.ReadAudit(host.Found, nil)})
	}
}

func BenchmarkSimulateLogins(b *testing.B) {
	for b.Loop() {
		if _, err := hostenv.Load(context.Background(), "/", "", nil); err != nil {
			b.Fatal(err)
		}
	}
}
