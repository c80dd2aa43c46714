package main

import (
	"github.com/spf13/cobra"
)

func newPluginCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "plugin [CONFIG]",
		Short: "Run as an auditd plugin: gotrail watch --source stdin",
		Long: `Run the daemon as auditd's plugin: auditd starts it with the configuration
file as its one argument (auditd passes plugins at most two) and writes every
record to its standard input. It is gotrail watch --source stdin with the
state directory and policy of that file. gotrail gen audisp prints the plugin
configuration that starts it.

EXIT STATUS
  0  auditd closed its standard input, or a signal stopped it, after saving everything
  2  runtime error (configuration, state directory)`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				g.config, g.configNamed = args[0], true
			}
			return runWatch(cmd.Context(), g, &watchOptions{source: "stdin", checkpointEvery: 1000, catchExecs: true})
		},
	}
}
