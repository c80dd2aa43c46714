package collect

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/gen"
	"github.com/gotrail/gotrail/internal/testutil/rsyslogtest"
)

// TestCollectedByRealRsyslog: a real rsyslogd runs the configuration of
// gen rsyslog-collector; two hosts send their trails over mutual TLS in
// the wire format (one record split so that its first part is exactly the
// largest message the sink sends); the verifier proves the files rsyslog
// wrote, in RSYSLOG_SyslogProtocol23Format and as raw messages; a line
// deleted or a record edited there is named; a client without a
// certificate, or with one of another name, is refused.
func TestCollectedByRealRsyslog(t *testing.T) {
	rsyslogtest.Required(t)
	dir := t.TempDir()
	certs := rsyslogtest.MakeCerts(t, dir)
	port := rsyslogtest.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logs, raw := filepath.Join(dir, "logs"), filepath.Join(dir, "raw")
	var b bytes.Buffer
	err := gen.RsyslogCollector(&b, gen.CollectorOptions{Port: port, Address: "127.0.0.1", CAFile: certs.CA, CertFile: certs.Cert, KeyFile: certs.Key,
		Dir: logs, PermittedPeers: []string{"web-01", "db-01"}})
	if err != nil {
		t.Fatal(err)
	}
	// the raw message as well, beside the file of the generated configuration
	conf := strings.Replace(b.String(), `dirCreateMode="0750")`, `dirCreateMode="0750")
    action(type="omfile" dynaFile="rawFile" template="rawMsg" createDirs="on")`, 1)
	conf = fmt.Sprintf("template(name=\"rawMsg\" type=\"string\" string=\"%%rawmsg%%\\n\")\ntemplate(name=\"rawFile\" type=\"string\" string=\"%s/%%hostname%%.log\")\n", raw) + conf
	confPath := filepath.Join(dir, "collector.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	rsyslogtest.Run(t, confPath, addr)

	web := makeTrailWith(t, "web-01", 30, 10, func(i int, e *event.Event) {
		if i == 7 {
			e.Message = strings.Repeat("a long command line ", 5000) // 100 KB: split in two parts
		}
	})
	db := makeTrail(t, "db-01", 20, 5)
	keys := t.TempDir()
	web.writeKey(t, keys)
	db.writeKey(t, keys)
	webMsgs := web.stream(2)
	for i, m := range webMsgs {
		if strings.Contains(m, ` seq="7" `) && !strings.Contains(m, "trail.checkpoint") {
			webMsgs = append(webMsgs[:i], append(web.sinkParts(7, gen.DefaultMaxMessage), webMsgs[i+1:]...)...)
			break
		}
	}
	send(t, addr, certs, "web-01", webMsgs)
	send(t, addr, certs, "db-01", db.stream(0))
	refused(t, addr, certs, "")        // no client certificate
	refused(t, addr, certs, "mallory") // a certificate the CA signed, of a name not permitted

	webFile, dbFile := filepath.Join(logs, "web-01", "trail.log"), filepath.Join(logs, "db-01", "trail.log")
	waitLines(t, webFile, len(webMsgs))
	waitLines(t, dbFile, len(db.stream(0)))
	waitLines(t, filepath.Join(raw, "web-01.log"), len(webMsgs))
	waitLines(t, filepath.Join(raw, "db-01.log"), len(db.stream(0)))
	if entries, _ := os.ReadDir(logs); len(entries) != 2 {
		t.Errorf("rsyslog wrote the files of %d hosts, want 2 (refused clients kept out)", len(entries))
	}
	for name, files := range map[string][]string{"protocol23": {webFile, dbFile}, "raw": {filepath.Join(raw, "web-01.log"), filepath.Join(raw, "db-01.log")}} {
		rep, err := VerifyFiles(files, Options{KeyDir: keys})
		if err != nil || !rep.Complete || len(rep.Hosts) != 2 {
			t.Fatalf("%s: %v %+v", name, err, rep)
		}
		want{complete: true, records: 20, first: 1, last: 20, proven: 20}.check(t, rep.Hosts[0])
		want{complete: true, records: 30, first: 1, last: 30, proven: 30}.check(t, rep.Hosts[1])
	}

	// tampering at the collector: a line deleted, a record edited
	data, _ := os.ReadFile(webFile)
	lines := strings.SplitAfter(string(data), "\n")
	for i, l := range lines {
		if strings.Contains(l, ` payload="trail" seq="12" `) {
			lines = append(lines[:i], lines[i+1:]...)
			break
		}
	}
	os.WriteFile(webFile, []byte(strings.Join(lines, "")), 0o640)
	data, _ = os.ReadFile(dbFile)
	os.WriteFile(dbFile, bytes.Replace(data, []byte("bob wrote"), []byte("eve wrote"), 1), 0o640)
	rep, err := VerifyFiles([]string{webFile, dbFile}, Options{KeyDir: keys})
	if err != nil || rep.Complete {
		t.Fatalf("tampered files verify: %v", err)
	}
	want{records: 20, first: 1, last: 20, proven: 20, problems: []string{"modified 1"}, counts: Counts{Modified: 1}}.check(t, rep.Hosts[0])
	want{records: 29, first: 1, last: 30, proven: 30, missing: []SeqRange{{12, 12}}, problems: []string{"missing 12"}}.check(t, rep.Hosts[1])
}

// sinkParts splits record seq in two as the sink does for a line over
// max: the first message exactly max bytes long.
func (f *trailFixture) sinkParts(seq, max int) []string {
	line := f.lines[seq-1]
	hdr := func(i int) string {
		return fmt.Sprintf(`<85>1 2026-11-25T20:16:00.000Z %s gotrail - goenv.modify [gotrail@32473 payload="trail" seq="%d" hash="%s" part="%d/2"] `,
			f.host, seq, f.hashOf(seq), i)
	}
	cut := max - len(hdr(1))
	return []string{hdr(1) + line[:cut], hdr(2) + line[cut:]}
}

// send writes messages octet-counted (RFC 6587) over TLS with a client
// certificate named name.
func send(t *testing.T, addr string, certs *rsyslogtest.Certs, name string, msgs []string) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: certs.Pool(t), ServerName: "127.0.0.1", Certificates: []tls.Certificate{certs.Client(t, name)}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer c.Close()
	var b []byte
	for _, m := range msgs {
		b = append(strconv.AppendInt(b, int64(len(m)), 10), ' ')
		b = append(b, m...)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatalf("%s: send: %v", name, err)
	}
}

// refused: a client without a certificate (name "") or with one not
// permitted gets no session: the handshake, or the first read after it,
// fails, and what it sent is not kept.
func refused(t *testing.T, addr string, certs *rsyslogtest.Certs, name string) {
	t.Helper()
	cfg := &tls.Config{RootCAs: certs.Pool(t), ServerName: "127.0.0.1"}
	if name != "" {
		cfg.Certificates = []tls.Certificate{certs.Client(t, name)}
	}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return // refused in the handshake
	}
	defer c.Close()
	m := `<85>1 2026-11-25T20:16:00.000Z intruder gotrail - goenv.modify - let me in`
	c.Write([]byte(strconv.Itoa(len(m)) + " " + m))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("client %q: the collector kept the session open (%v)", name, err)
	}
}

func waitLines(t *testing.T, path string, n int) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		data, _ := os.ReadFile(path)
		if got := bytes.Count(data, []byte("\n")); got >= n {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("%s: %d lines, want %d", path, got, n)
		}
	}
}
