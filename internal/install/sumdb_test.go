package install

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// rewriteTreeHead applies fn to the signed tree head of a lookup answer
// (record id, record text, blank line, signed note).
func rewriteTreeHead(t testing.TB, answer []byte, fn func(head []byte) []byte) []byte {
	t.Helper()
	_, _, head, err := tlog.ParseRecord(answer)
	if err != nil {
		t.Errorf("the database's answer does not parse: %v\n%s", err, answer)
		return answer
	}
	out := bytes.Clone(answer[:len(answer)-len(head)])
	return append(out, fn(head)...)
}

// splitNote cuts a signed note into its text (ending in a newline) and its
// signature lines.
func splitNote(t testing.TB, head []byte) (text []byte, sigs []string) {
	t.Helper()
	i := bytes.LastIndex(head, []byte("\n\n"))
	if i < 0 {
		t.Fatalf("not a signed note: %q", head)
	}
	return head[:i+1], strings.Split(strings.TrimSuffix(string(head[i+2:]), "\n"), "\n")
}

// TestForgedTreeHeadRefused: a proxy that serves a tree head of the checksum
// database whose signature does not verify against the database's key has
// forged or altered it. That is refused as a download that does not match
// the database is (severity high: an alert, exit status 1), before anything
// is downloaded, naming the database, the key and where the note came from;
// the forged head is kept in the event and not as the latest seen. A
// database that is merely unreachable stays a plain failure.
func TestForgedTreeHeadRefused(t *testing.T) {
	otherSigner, _, err := note.GenerateKey(rand.Reader, "sum.test.example")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(otherSigner)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		tamper  func(t testing.TB, head []byte) []byte
		down    bool
		refused bool
		want    string // in the error, besides the database and the URL
	}{
		{
			name: "signature bytes altered",
			tamper: func(t testing.TB, head []byte) []byte {
				text, sigs := splitNote(t, head)
				name, b64, _ := strings.Cut(strings.TrimPrefix(sigs[0], "— "), " ")
				sig, err := base64.StdEncoding.DecodeString(b64)
				if err != nil {
					t.Fatal(err)
				}
				sig[len(sig)-1] ^= 1 // past the 4-byte key hash: the key still matches
				sigs[0] = "— " + name + " " + base64.StdEncoding.EncodeToString(sig)
				return append(append(text, '\n'), strings.Join(sigs, "\n")+"\n"...)
			},
			refused: true, want: "(the signature is invalid)",
		},
		{
			name: "tree altered under the real signature",
			tamper: func(t testing.TB, head []byte) []byte {
				text, sigs := splitNote(t, head)
				lines := strings.Split(string(text), "\n") // go.sum database tree, N, hash
				lines[2] = base64.StdEncoding.EncodeToString(make([]byte, 32))
				return []byte(strings.Join(lines, "\n") + "\n" + strings.Join(sigs, "\n") + "\n")
			},
			refused: true, want: "(the signature is invalid)",
		},
		{
			name: "signed by another key of the same name",
			tamper: func(t testing.TB, head []byte) []byte {
				text, _ := splitNote(t, head)
				forged, err := note.Sign(&note.Note{Text: string(text)}, s)
				if err != nil {
					t.Fatal(err)
				}
				return forged
			},
			refused: true, want: "(signed only by other keys: sum.test.example+",
		},
		{
			name: "database unavailable", down: true,
			refused: false, want: "500 Internal Server Error",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeProxy(t)
			p.add(t, "1.22.4", toolchainZip(t, "1.22.4"), nil)
			p.add(t, "1.22.5", toolchainZip(t, "1.22.5"), nil)
			o := p.options(t, "1.22.4")
			if _, err := Install(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			latest := filepath.Join(o.StateDir, "sumdb", "sum.test.example", "latest")
			kept, err := os.ReadFile(latest)
			if err != nil {
				t.Fatal(err)
			}
			before := listDir(t, o.Prefix)

			var served []byte
			p.mu.Lock()
			p.dbDown = tt.down
			if tt.tamper != nil {
				p.tamper = func(answer []byte) []byte {
					out := rewriteTreeHead(t, answer, func(head []byte) []byte { return tt.tamper(t, head) })
					_, _, served, _ = tlog.ParseRecord(out)
					return out
				}
			}
			p.mu.Unlock()
			o.Version = "1.22.5"
			r, err := Install(context.Background(), o)
			if err == nil {
				t.Fatal("installed")
			}
			t.Log(err)
			if r.Refused() != tt.refused {
				t.Fatalf("refused = %v, want %v: %v", r.Refused(), tt.refused, err)
			}
			lookupURL := p.URL + "/sumdb/sum.test.example/lookup/golang.org/toolchain@v0.0.1-go1.22.5.linux-amd64"
			for _, w := range []string{"checksum database sum.test.example", tt.want, lookupURL} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the message does not say %q: %v", w, err)
				}
			}
			wantSeverity := "medium"
			if tt.refused {
				wantSeverity = "high"
				if !strings.Contains(err.Error(), "did not verify against the database's key sum.test.example+") {
					t.Errorf("the message does not say the signature did not verify: %v", err)
				}
			}
			e := r.Event(Who{Host: "web-01", UID: "0", User: "root", AUID: "1001", AUser: "alice", PID: 7}, time.Now())
			if e.Event.Outcome != "failure" || e.Gotrail.Severity != wantSeverity {
				t.Errorf("event outcome %s severity %s, want failure %s", e.Event.Outcome, e.Gotrail.Severity, wantSeverity)
			}
			if tt.refused {
				if !strings.HasPrefix(e.Message, "alice (as root) was refused go1.22.5") {
					t.Errorf("event message: %s", e.Message)
				}
				if sdb := e.Gotrail.Toolchain.SumDB; sdb == nil || sdb.TreeHead != string(served) || sdb.URL != lookupURL {
					t.Errorf("the event does not keep the forged tree head and where it came from: %+v", sdb)
				}
			}
			p.mu.Lock()
			downloads := p.served["v0.0.1-go1.22.5.linux-amd64.zip"]
			p.mu.Unlock()
			if downloads != 0 {
				t.Errorf("downloaded the toolchain %d times", downloads)
			}
			if after := listDir(t, o.Prefix); !slices.Equal(before, after) {
				t.Errorf("prefix changed:\n before %v\n after  %v", before, after)
			}
			if now, err := os.ReadFile(latest); err != nil || !bytes.Equal(now, kept) {
				t.Errorf("the latest tree head kept changed (%v):\n%s", err, now)
			}
			var re *RefusedError
			if errors.As(err, &re) != tt.refused {
				t.Errorf("RefusedError in the chain: %v, want %v", !tt.refused, tt.refused)
			}
		})
	}
}
