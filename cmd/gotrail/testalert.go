package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/sink"
)

func newTestAlertCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "test-alert",
		Short: "Send a test message through every configured sink and say which worked",
		Long: `Send one test message through each [[sink]] of the configuration, at once
(a webhook's spool is bypassed), and report each sink's result.

EXIT STATUS
  0  every sink took the message
  1  a sink failed (the message says which and why; never a webhook's key)
  2  usage or configuration error`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTestAlert(cmd.Context(), g, cmd.OutOrStdout())
		},
	}
}

func runTestAlert(ctx context.Context, g *globalOptions, w io.Writer) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	if len(cfg.Sink) == 0 {
		return fmt.Errorf("test-alert: no [[sink]] in %s", g.config)
	}
	host := cfg.Host
	if host == "" {
		host = hostName(g.root)
	}
	e := &event.Event{
		Time:    event.Time{Time: time.Now().UTC().Truncate(time.Millisecond)},
		Event:   event.Meta{ID: "test:" + time.Now().UTC().Format("20060102T150405"), Action: "test"},
		Gotrail: event.Gotrail{Kind: "test", Severity: "critical"},
		Host:    event.Host{Name: host},
		Message: "gotrail test-alert: if you read this, alerts from " + host + " reach you",
	}
	event.Categorize(e)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	failed := 0
	for i, c := range cfg.Sink {
		s, err := sink.New(c, g.stateDir, log)
		if err == nil {
			err = s.(sink.Tester).Test(ctx, e)
			s.Close()
		}
		name := fmt.Sprintf("[[sink]] #%d (%s %s)", i+1, c.Type, c.Format)
		if err != nil {
			failed++
			fmt.Fprintf(w, "%s: FAILED: %v\n", name, err)
		} else {
			fmt.Fprintf(w, "%s: ok\n", name)
		}
	}
	if failed > 0 {
		return &findingsError{fmt.Sprintf("test-alert: %d of %d sinks failed", failed, len(cfg.Sink))}
	}
	return nil
}
