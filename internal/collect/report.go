package collect

import (
	"fmt"
	"time"
)

// Kind names what is wrong with a host's collected trail.
type Kind string

// The problems a host's collected trail can have. Each makes it incomplete.
const (
	Missing    Kind = "missing"    // records that never arrived, or were removed
	Modified   Kind = "modified"   // a record whose hash or link does not check, cut, or rewritten after a checkpoint
	Duplicated Kind = "duplicated" // a second copy of a seq that is not the same record resent
	Reordered  Kind = "reordered"  // a record that arrived after higher seqs
	WrongHost  Kind = "wrong-host" // a record or checkpoint that names another host than the one that sent it
	Forged     Kind = "forged"     // a checkpoint that does not verify with the host's key
	NoKey      Kind = "no-key"     // no public key for the host: nothing can be proven
	Unproven   Kind = "unproven"   // no checkpoint matches the records
	// UnmatchedCheckpoint is a checkpoint (not an anchor) that arrived
	// after its record left the window: the sink sends each right after
	// its record.
	UnmatchedCheckpoint Kind = "unmatched-checkpoint"
)

// Problem is one thing wrong, naming the record and where it was read.
type Problem struct {
	Kind  Kind   `json:"kind"`
	Seq   uint64 `json:"seq,omitempty"`
	Where string `json:"where,omitempty"` // FILE:LINE
	Text  string `json:"text"`
}

// Proven is the newest checkpoint that matched the records.
type Proven struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Anchor bool      `json:"anchor,omitempty"` // an anchor of retention, not a checkpoint
	Where  string    `json:"where"`
}

// HostReport is what one host's collected trail holds.
type HostReport struct {
	Host    string `json:"host"`
	KeyFile string `json:"key_file"`
	Records uint64 `json:"records"` // each seq once: whole, readable or not
	First   uint64 `json:"first_seq"`
	Last    uint64 `json:"last_seq"`
	// StartsAfter is the seq of the anchor the chain starts after, when
	// the host's retention removed the records before it.
	StartsAfter uint64 `json:"starts_after,omitempty"`
	// CheckedFrom is the first record checked when Options.FromFirst took
	// the chain from the first record the files hold.
	CheckedFrom uint64  `json:"checked_from,omitempty"`
	Proven      *Proven `json:"proven"`
	// HashOnly are the records after the proven checkpoint: covered by the
	// chain's hashes only, which anyone can recompute, until the next.
	HashOnly    uint64 `json:"hash_only"`
	Checkpoints uint64 `json:"checkpoints"` // checkpoints that verified and matched

	Missing      []SeqRange `json:"missing,omitempty"`
	MissingCount uint64     `json:"missing_count"`
	MissingMore  uint64     `json:"missing_more,omitempty"` // of MissingCount, in ranges not listed

	Counts Counts `json:"counts"`

	Problems     []Problem `json:"problems,omitempty"`
	MoreProblems uint64    `json:"more_problems,omitempty"` // beyond the ones listed
	// Notes say what is worth knowing but wrong with nothing: resends
	// after a cut-off, checkpoints that came too late to match.
	Notes    []string `json:"notes,omitempty"`
	Complete bool     `json:"complete"`
}

// Counts are the records of each kind, all of them (Problems lists the
// first few).
type Counts struct {
	Modified   uint64 `json:"modified"`
	Duplicated uint64 `json:"duplicated"`
	Reordered  uint64 `json:"reordered"`
	WrongHost  uint64 `json:"wrong_host"`
	Forged     uint64 `json:"forged"`
	// Resent are cut-off copies each followed by the whole message, and
	// whole records that arrived again byte for byte: what a dropped
	// connection leaves, counted, not a problem.
	Resent uint64 `json:"resent"`
	// Late are anchors of retention that arrived too long after their
	// record to be matched (beyond Options.Window records); a later one
	// proves as much.
	Late uint64 `json:"late_checkpoints"`
	// Unmatched are checkpoints (not anchors) that arrived that late: each
	// a problem, UnmatchedCheckpoint.
	Unmatched uint64 `json:"unmatched_checkpoints"`
	// Events are gotrail messages without the trail record (a sink without
	// payload = "trail"): not part of the chain.
	Events uint64 `json:"events"`
}

// Report is what VerifyFiles found, per host in name order.
type Report struct {
	Files   []string `json:"files"`
	Lines   uint64   `json:"lines"`
	Skipped uint64   `json:"skipped"`  // lines of other programs, or not syslog
	TooLong uint64   `json:"too_long"` // lines longer than any a collector stores
	// LongHostName are gotrail lines whose HOSTNAME is longer than RFC
	// 5424's 255 bytes: unreadable, no host's.
	LongHostName uint64        `json:"long_host_name"`
	Hosts        []*HostReport `json:"hosts"`
	// Refused, when set, are the lines of hosts beyond the most a run
	// takes: not verified, so the run is not complete.
	Refused *Refused `json:"refused,omitempty"`
	// Complete says every host's trail is whole up to its newest proven
	// checkpoint, there is at least one host, and no line was refused.
	Complete bool `json:"complete"`
}

// Refused are the lines of host names beyond the first MaxHosts.
type Refused struct {
	Lines uint64 `json:"lines"`
	// Hosts are the host names refused, counted up to MaxHosts: at
	// MaxHosts, there may be more.
	Hosts    uint64 `json:"hosts"`
	MaxHosts int    `json:"max_hosts"`
}

func (r *Refused) String() string {
	more := ""
	if r.Hosts >= uint64(r.MaxHosts) {
		more = "at least "
	}
	return fmt.Sprintf("%d lines of %s%d more host names refused, beyond the %d hosts a run takes: not verified", r.Lines, more, r.Hosts, r.MaxHosts)
}

// Incomplete lists the hosts that are not complete, and then the refused
// lines, if any: what makes the run not complete.
func (r *Report) Incomplete() []string {
	var out []string
	for _, h := range r.Hosts {
		if !h.Complete {
			out = append(out, h.Host)
		}
	}
	if r.Refused != nil {
		out = append(out, r.Refused.String())
	}
	return out
}
