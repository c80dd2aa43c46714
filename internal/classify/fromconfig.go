package classify

import (
	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/enrich"
)

// FromConfig is the classifier the configuration describes (its GOROOTs):
// for gotrail events, report, and the daemon at start and on SIGHUP.
func FromConfig(cfg *config.Config) *Classifier {
	return &Classifier{GOROOTs: cfg.GOROOTs}
}

// PolicyFromConfig is the configuration's [[policy]], with the groups of
// allow_groups read from the host's files under root.
func PolicyFromConfig(cfg *config.Config, root string) *Policy {
	return &Policy{Rules: cfg.Policy, Groups: enrich.NewGroups(root)}
}
