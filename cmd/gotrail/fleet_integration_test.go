package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gotrail/gotrail/internal/testutil/auditdtest"
	"github.com/gotrail/gotrail/internal/testutil/integration"
	"github.com/gotrail/gotrail/internal/testutil/netnstest"
	"github.com/gotrail/gotrail/internal/testutil/rsyslogtest"
	"github.com/gotrail/gotrail/internal/trail"
)

// pki is a CA and the certificates of a collector and one host, made with
// openssl as an operator would.
type pki struct{ ca, serverCert, serverKey, clientCert, clientKey string }

func makePKI(t *testing.T, dir, collectorIP, host string) pki {
	t.Helper()
	p := pki{
		ca:         filepath.Join(dir, "ca.pem"),
		serverCert: filepath.Join(dir, "collector.pem"), serverKey: filepath.Join(dir, "collector.key"),
		clientCert: filepath.Join(dir, host+".pem"), clientKey: filepath.Join(dir, host+".key"),
	}
	caKey := filepath.Join(dir, "ca.key")
	openssl := integration.Tool(t, "openssl", "openssl")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ec := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"}
	run(append(append([]string{"req", "-x509"}, ec...), "-keyout", caKey, "-out", p.ca, "-subj", "/CN=gotrail fleet test CA", "-days", "2")...)
	sign := func(cert, key, cn, ext string) {
		csr := cert + ".csr"
		extFile := cert + ".ext"
		os.WriteFile(extFile, []byte(ext), 0o600)
		run(append(append([]string{"req"}, ec...), "-keyout", key, "-out", csr, "-subj", "/CN="+cn)...)
		run("x509", "-req", "-in", csr, "-CA", p.ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", extFile)
	}
	sign(p.serverCert, p.serverKey, "collector", "subjectAltName=IP:"+collectorIP+"\nextendedKeyUsage=serverAuth\n")
	sign(p.clientCert, p.clientKey, host, "extendedKeyUsage=clientAuth\n")
	return p
}

// startCollector runs rsyslogd in the collector's namespace with the
// configuration gotrail gen rsyslog-collector writes, and returns the
// directory of its per-host files.
func startCollector(t *testing.T, bin string, nets *netnstest.Pair, p pki, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "remote")
	conf := filepath.Join(dir, "collector.conf")
	gen := exec.Command(bin, "gen", "rsyslog-collector", "--port", "6514", "--dir", out,
		"--ca-file", p.ca, "--cert-file", p.serverCert, "--key-file", p.serverKey)
	data, err := gen.Output()
	if err != nil {
		t.Fatalf("gotrail gen rsyslog-collector: %v", err)
	}
	work := filepath.Join(dir, "rsyslog-work")
	os.MkdirAll(work, 0o700)
	// a private rsyslogd: its own work directory instead of the host's
	full := fmt.Sprintf("global(workDirectory=%q)\n", work) + string(data)
	os.WriteFile(conf, []byte(full), 0o644)
	if out, err := exec.Command("rsyslogd", "-N1", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1 rejects the generated collector configuration: %v\n%s\n%s", err, out, full)
	}
	log := rsyslogtest.Spawn(t, netnstest.Command(nets.Collector, "rsyslogd", "-n", "-f", conf, "-i", filepath.Join(dir, "collector.pid")))
	for deadline := time.Now().Add(10 * time.Second); ; {
		probe := netnstest.Command(nets.Host, "bash", "-c", "exec 3<>/dev/tcp/"+nets.CollectorIP+"/6514")
		if probe.Run() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector does not listen on %s:6514:\n%s", nets.CollectorIP, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return out
}

// collectedSeqs counts, per seq, the whole trail records a collector file
// holds.
func collectedSeqs(t *testing.T, file string) map[uint64]int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[uint64]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, ` payload="trail"`) {
			continue
		}
		_, v, _ := strings.Cut(line, ` seq="`)
		v, _, _ = strings.Cut(v, `"`)
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("a trail message without its seq: %q", line)
		}
		seen[seq]++
	}
	return seen
}

// waitCollected waits until the collector holds every record of the
// host's trail.
func waitCollected(t *testing.T, state, file string, stderr *logBuffer) uint64 {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; {
		head, err := trail.ReadHead(state)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(file); err == nil && head > 0 && collectedSeqs(t, file)[head] > 0 {
			return head
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector does not have seq %d of the trail:\nwatcher said:\n%s", head, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// verifyCollected runs gotrail verify --collected and returns its output
// and exit status.
func verifyCollected(t *testing.T, bin, keys string, files ...string) (string, int) {
	t.Helper()
	args := []string{"verify", "--pubkeys", keys}
	for _, f := range files {
		args = append(args, "--collected", f)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestFleetTrailReachesTheCollectorWhole: a host in a network namespace of
// its own ships its trail over mutual TLS to rsyslog in another; a burst
// arrives complete; the link is cut for 30 s in the middle of a second
// burst and restored, and every record still arrives exactly once; the
// collector's copy proves deletion and edits there, and a rewrite of the
// host's trail re-signed with the host's own key.
func TestFleetTrailReachesTheCollectorWhole(t *testing.T) {
	auditdtest.Required(t)
	rsyslogtest.Required(t)
	netnstest.Required(t)
	bin := buildGotrail(t)
	nets := netnstest.New(t)
	dir := t.TempDir()
	p := makePKI(t, dir, nets.CollectorIP, "web-01")
	remote := startCollector(t, bin, nets, p, dir)
	collected := filepath.Join(remote, "web-01", "trail.log")

	profile := filepath.Join(dir, "profile")
	os.WriteFile(profile, nil, 0o644)
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "gotrail.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`host = "web-01"
state_dir = %q
[[sink]]
type = "syslog"
address = "tls://%s:6514"
payload = "trail"
ca_file = %q
cert_file = %q
key_file = %q
`, state, nets.CollectorIP, p.ca, p.clientCert, p.clientKey)), 0o644)
	a := auditdtest.Start(t)
	a.AddRule(t, "-w", profile, "-p", "wa", "-k", "gotrail-profile")
	w, stderr := startWatcher(t, "ip", "netns", "exec", nets.Host, bin, "watch", "--audit-log", a.LogPath(),
		"--config", cfg, "--checkpoint-every", "25")

	burst := func(n int, pause string) {
		t.Helper()
		script := fmt.Sprintf("i=0; while [ $i -lt %d ]; do echo $i >> %s; sleep %s; i=$((i+1)); done", n, profile, pause)
		if out, err := auditdtest.RunAsLogin(t, 4243, "sh", "-c", script); err != nil {
			t.Fatalf("burst: %v %s", err, out)
		}
	}

	// completeness
	burst(100, "0")
	a.Sync(t)
	head := waitCollected(t, state, collected, stderr)
	keys := filepath.Join(dir, "keys")
	os.MkdirAll(keys, 0o755)
	pub, err := os.ReadFile(filepath.Join(state, "trail.pub"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(keys, "web-01.pub"), pub, 0o644)
	if out, code := verifyCollected(t, bin, keys, collected); code != 0 {
		t.Fatalf("verify --collected after a burst of 100 (head %d): exit %d\n%s", head, code, out)
	}

	// the link drops for 30 s during a burst of about 40 s
	done := make(chan struct{})
	go func() { defer close(done); burst(800, "0.05") }()
	time.Sleep(5 * time.Second)
	nets.Down(t)
	downAt := time.Now()
	time.Sleep(30 * time.Second)
	nets.Up(t)
	t.Logf("link down %s", time.Since(downAt).Round(time.Millisecond))
	<-done
	a.Sync(t)
	waitCollected(t, state, collected, stderr)
	w.Process.Signal(syscall.SIGTERM) // signs the last records and drains the sink
	w.Wait()
	head, _ = trail.ReadHead(state)
	seen := collectedSeqs(t, collected)
	for seq := uint64(1); seq <= head; seq++ {
		if seen[seq] != 1 {
			t.Errorf("the collector holds seq %d %d times, want exactly once", seq, seen[seq])
		}
	}
	if len(seen) != int(head) {
		t.Errorf("the collector holds %d records, the trail %d", len(seen), head)
	}
	out, code := verifyCollected(t, bin, keys, collected)
	if code != 0 || !strings.Contains(out, "web-01") {
		t.Fatalf("verify --collected after the link came back: exit %d\n%s\nwatcher said:\n%s", code, out, stderr.String())
	}
	t.Logf("collector after the outage (head %d):\n%s", head, out)

	// tampering at the collector: a line deleted, a record edited
	data, _ := os.ReadFile(collected)
	lines := strings.SplitAfter(string(data), "\n")
	victim := -1
	for i, l := range lines {
		if strings.Contains(l, ` payload="trail" seq="150"`) {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatal("seq 150 is not in the collector's file")
	}
	deleted := filepath.Join(dir, "deleted.log")
	os.WriteFile(deleted, []byte(strings.Join(append(append([]string(nil), lines[:victim]...), lines[victim+1:]...), "")), 0o644)
	if out, code := verifyCollected(t, bin, keys, deleted); code != 1 || !strings.Contains(out, "150") {
		t.Errorf("a deleted line: exit %d, want 1 naming seq 150:\n%s", code, out)
	}
	edited := filepath.Join(dir, "edited.log")
	changed := append([]string(nil), lines...)
	changed[victim] = strings.Replace(changed[victim], `"auditd":`, `"auditd" :`, 1)
	if changed[victim] == lines[victim] {
		t.Fatalf("nothing to edit in %q", lines[victim])
	}
	os.WriteFile(edited, []byte(strings.Join(changed, "")), 0o644)
	if out, code := verifyCollected(t, bin, keys, edited); code != 1 || !strings.Contains(out, "150") {
		t.Errorf("an edited record: exit %d, want 1 naming seq 150:\n%s", code, out)
	}

	// root rewrites the host's trail and signs it again with the host's key
	if out, err := exec.Command(bin, "verify", "--state-dir", state, "--pubkey", filepath.Join(keys, "web-01.pub"), "--checkpoints", collected).CombinedOutput(); err != nil {
		t.Fatalf("verify --checkpoints before the rewrite: %v\n%s", err, out)
	}
	rewriteAndResign(t, state, 120)
	if out, err := exec.Command(bin, "verify", "--state-dir", state, "--pubkey", filepath.Join(state, "trail.pub")).CombinedOutput(); err != nil {
		t.Fatalf("the rewritten trail should verify on the host alone (that is the point): %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "verify", "--state-dir", state, "--pubkey", filepath.Join(keys, "web-01.pub"), "--checkpoints", collected)
	out2, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("a rewritten, re-signed trail against the collector's checkpoints: %v, want exit 1\n%s", err, out2)
	}
}

// rewriteAndResign edits the record of seq `from` in the host's trail,
// recomputes every hash after it (across segments: a run that crosses
// midnight has two) and signs the checkpoints again with the key in the
// state directory: what root on the host can do.
func rewriteAndResign(t *testing.T, state string, from uint64) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(state, "trail", "trail-*.jsonl"))
	if len(segs) == 0 {
		t.Fatalf("no trail segment in %s", state)
	}
	// trail-DAY-FIRSTSEQ.jsonl, FIRSTSEQ zero-padded: the chain's order
	firstSeq := func(name string) string { return name[strings.LastIndexByte(name, '-')+1:] }
	slices.SortFunc(segs, func(a, b string) int { return strings.Compare(firstSeq(a), firstSeq(b)) })
	const marker = `,"trail":{"seq":`
	prev := trail.Genesis
	hashes := map[uint64]string{}
	for _, seg := range segs {
		data, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			i := strings.LastIndex(l, marker)
			if i < 0 {
				t.Fatalf("%s: a line without %s: %q", seg, marker, l)
			}
			seq, _ := strconv.ParseUint(strings.SplitN(l[i+len(marker):], ",", 2)[0], 10, 64)
			canon := l[:i] + "}"
			if seq == from {
				canon = strings.Replace(canon, `"outcome":"success"`, `"outcome":"failure"`, 1)
			}
			sum := sha256.Sum256([]byte(prev + canon))
			hash := hex.EncodeToString(sum[:])
			fmt.Fprintf(&out, "%s%s%d,\"prev\":\"%s\",\"hash\":\"%s\"}}\n", canon[:len(canon)-1], marker, seq, prev, hash)
			prev, hashes[seq] = hash, hash
		}
		if err := os.WriteFile(seg, out.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	skey, _ := os.ReadFile(filepath.Join(state, "trail.key"))
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	cps, _, _, _ := trail.CheckpointsFrom(state, 0)
	var resigned bytes.Buffer
	for _, c := range cps {
		text := fmt.Sprintf("gotrail trail checkpoint\n%s\n%d\n%s\n%s\n", c.Host, c.Head.Seq, hashes[c.Head.Seq], c.Time.UTC().Format(time.RFC3339))
		msg, err := note.Sign(&note.Note{Text: text}, signer)
		if err != nil {
			t.Fatal(err)
		}
		resigned.WriteString(base64.StdEncoding.EncodeToString(msg) + "\n")
	}
	os.WriteFile(filepath.Join(state, "trail", "checkpoints"), resigned.Bytes(), 0o600)
}
