package gen

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/elastic/go-grok"
	"github.com/gotrail/gotrail/internal/testutil/integration"
)

// TestRsyslogConfigValidates: rsyslogd -N1 accepts what gen rsyslog writes,
// alone and forwarding over tcp and tls.
func TestRsyslogConfigValidates(t *testing.T) {
	integration.Tool(t, "rsyslogd", "rsyslog")
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, nil, 0o644)
	for _, collector := range []string{"", "tcp://collector.example:514", "tls://collector.example:6514"} {
		var b bytes.Buffer
		if err := Rsyslog(&b, filepath.Join(dir, "gotrail.log"), collector, ca); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(dir, "rsyslog.conf")
		// a whole configuration: the work directory the queue needs, then ours
		os.WriteFile(conf, []byte("global(workDirectory=\""+dir+"\")\n"+b.String()), 0o644)
		if out, err := exec.Command("rsyslogd", "-N1", "-f", conf).CombinedOutput(); err != nil {
			t.Errorf("rsyslogd -N1 rejects the configuration for %q: %v\n%s\n%s", collector, err, out, b.String())
		}
	}
	if err := Rsyslog(&bytes.Buffer{}, "/x", "udp://h:1", ""); err == nil {
		t.Error("udp collector accepted")
	}
	if err := Rsyslog(&bytes.Buffer{}, "/x", "tls://h:1", ""); err == nil {
		t.Error("tls without a CA accepted")
	}
}

// TestLogrotateConfigValidates: logrotate -d reads what gen logrotate writes.
func TestLogrotateConfigValidates(t *testing.T) {
	integration.Tool(t, "logrotate", "logrotate")
	dir := t.TempDir()
	log := filepath.Join(dir, "gotrail.log")
	os.WriteFile(log, []byte("x\n"), 0o640)
	var b bytes.Buffer
	if err := Logrotate(&b, []string{log, filepath.Join(dir, "*.json")}, 90); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "logrotate.conf")
	os.WriteFile(conf, b.Bytes(), 0o644)
	out, err := exec.Command("logrotate", "-d", "-s", filepath.Join(dir, "state"), conf).CombinedOutput()
	if err != nil || bytes.Contains(bytes.ToLower(out), []byte("error")) {
		t.Errorf("logrotate -d: %v\n%s", err, out)
	}
	if !strings.Contains(b.String(), "rotate 90") {
		t.Errorf("retention not applied:\n%s", b.String())
	}
}

// TestGrokMatchesRealOutput: the grok pattern of the Logstash pipeline
// takes gotrail's RFC 5424 lines apart, hostile values included.
func TestGrokMatchesRealOutput(t *testing.T) {
	g, err := grok.NewComplete(GrokPatterns)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Compile(GrokRFC5424, true); err != nil {
		t.Fatal(err)
	}
	// as the syslog sink writes them (internal/sink golden output)
	data, err := os.ReadFile("../pipeline/testdata/corpus.rfc5424")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	lines = append(lines, `<83>1 2026-11-25T20:16:49.006Z web-01 gotrail - profile.modify [gotrail@32473 id="1795637809.006:7" kind="profile.modify" path="/etc/pro\]file\"\\n" exe="/usr/bin/vim"] alice (as root) wrote /etc/profile with vim\x1b[2J`)
	for i, l := range lines {
		m, err := g.ParseString(l)
		if err != nil || m["gotrail.kind"] == "" || m["host.name"] == "" || m["timestamp"] == "" || !strings.Contains(m["sd.params"], `id="`) || m["message"] == "" {
			t.Fatalf("line %d not taken apart: %v %v\n%s", i+1, m, err, l)
		}
	}
	var b bytes.Buffer
	if err := Logstash(&b, "/var/lib/gotrail/trail/*.jsonl", 6514); err != nil || !strings.Contains(b.String(), "codec => json") {
		t.Errorf("logstash pipeline: %v\n%s", err, b.String())
	}
	// every parameter the syslog sink writes is mapped onto its JSON name
	params := regexp.MustCompile(` ([a-z_]+)="`)
	for _, l := range lines {
		for _, m := range params.FindAllStringSubmatch(l, -1) {
			if !slices.ContainsFunc(SDFields, func(f [2]string) bool { return f[0] == m[1] }) {
				t.Errorf("SD parameter %s has no field in SDFields: %s", m[1], l)
			}
		}
	}
	for _, f := range SDFields {
		if !strings.Contains(b.String(), `"[@metadata][sd][`+f[0]+`]" => "`+f[1]+`"`) {
			t.Errorf("the pipeline does not rename %s to %s", f[0], f[1])
		}
	}
}
