package collect

import "time"

// Kind names what is wrong with a host's collected trail.
type Kind string

// The problems a host's collected trail can have. Each makes it incomplete.
const (
	Missing    Kind = "missing"    // records that never arrived, or were removed
	Modified   Kind = "modified"   // a record whose hash or link does not check, cut, or rewritten after a checkpoint
	Duplicated Kind = "duplicated" // a second copy of a seq, not a resend after a cut-off
	Reordered  Kind = "reordered"  // a record that arrived after higher seqs
	WrongHost  Kind = "wrong-host" // a record or checkpoint that names another host than the one that sent it
	Forged     Kind = "forged"     // a checkpoint that does not verify with the host's key
	NoKey      Kind = "no-key"     // no public key for the host: nothing can be proven
	Unproven   Kind = "unproven"   // no checkpoint matches the records
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
	StartsAfter uint64  `json:"starts_after,omitempty"`
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
	// Resent are cut-off copies each followed by the whole message: what a
	// dropped connection leaves, counted, not a problem.
	Resent uint64 `json:"resent"`
	// Late are checkpoints that arrived too long after their record to be
	// matched (beyond Options.Window records); a later one proves as much.
	Late uint64 `json:"late_checkpoints"`
	// Events are gotrail messages without the trail record (a sink without
	// payload = "trail"): not part of the chain.
	Events uint64 `json:"events"`
}

// Report is what VerifyFiles found, per host in name order.
type Report struct {
	Files   []string      `json:"files"`
	Lines   uint64        `json:"lines"`
	Skipped uint64        `json:"skipped"`  // lines of other programs, or not syslog
	TooLong uint64        `json:"too_long"` // lines longer than any a collector stores
	Hosts   []*HostReport `json:"hosts"`
	// Complete says every host's trail is whole up to its newest proven
	// checkpoint, and there is at least one host.
	Complete bool `json:"complete"`
}

// Incomplete lists the hosts that are not complete.
func (r *Report) Incomplete() []string {
	var out []string
	for _, h := range r.Hosts {
		if !h.Complete {
			out = append(out, h.Host)
		}
	}
	return out
}
