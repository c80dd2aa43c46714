// Command gotrail gives a Linux host an audit trail of its Go toolchain
// environment, built on the kernel's audit subsystem. This package only wires
// flags to the internal packages; see DESIGN.md for the data flow.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses, the same for every command.
const (
	exitOK       = 0
	exitFindings = 1 // findings, differences, failed verification, --strict input problems
	exitError    = 2 // usage or runtime error
)

// findingsError carries exit status 1: the command worked and found something.
type findingsError struct{ msg string }

func (e *findingsError) Error() string { return e.msg }

// usageError is a mistake on the command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var fe *findingsError
	if errors.As(err, &fe) {
		if fe.msg != "" {
			fmt.Fprintln(os.Stderr, "gotrail: "+fe.msg)
		}
		return exitFindings
	}
	fmt.Fprintln(os.Stderr, "gotrail: "+err.Error())
	return exitError
}
