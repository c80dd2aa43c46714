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
	"github.com/gotrail/gotrail/internal/testutil/rsyslogtest"
)

// TestRsyslogConfigValidates: rsyslogd -N1 accepts what gen rsyslog writes,
// alone and forwarding over tcp and tls (with a client certificate too),
// and its forwarding queue is disk-assisted and saved on shutdown.
func TestRsyslogConfigValidates(t *testing.T) {
	integration.Tool(t, "rsyslogd", "rsyslog")
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, nil, 0o644)
	for _, o := range []RsyslogOptions{{}, {Collector: "tcp://collector.example:514"}, {Collector: "tls://collector.example:6514", CAFile: ca},
		{Collector: "tls://collector.example:6514", CAFile: ca, CertFile: ca, KeyFile: ca, SpoolDir: dir}} {
		collector := o.Collector
		o.File = filepath.Join(dir, "gotrail.log")
		var b bytes.Buffer
		if err := Rsyslog(&b, o); err != nil {
			t.Fatal(err)
		}
		if collector != "" {
			for _, want := range []string{`queue.type="LinkedList" queue.filename="gotrail-forward"`, `queue.saveOnShutdown="on"`, `queue.spoolDirectory="`} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("forwarding to %s: no %s:\n%s", collector, want, b.String())
				}
			}
		}
		if o.CertFile != "" && !strings.Contains(b.String(), `StreamDriver.CertFile="`+ca+`" StreamDriver.KeyFile="`+ca+`"`) {
			t.Errorf("no client certificate:\n%s", b.String())
		}
		conf := filepath.Join(dir, "rsyslog.conf")
		// a whole configuration: the work directory the queue needs, then ours
		os.WriteFile(conf, []byte("global(workDirectory=\""+dir+"\")\n"+b.String()), 0o644)
		if out, err := exec.Command("rsyslogd", "-N1", "-f", conf).CombinedOutput(); err != nil {
			t.Errorf("rsyslogd -N1 rejects the configuration for %q: %v\n%s\n%s", collector, err, out, b.String())
		}
	}
	for _, bad := range []RsyslogOptions{{Collector: "udp://h:1"}, {Collector: "tls://h:1"}, {Collector: "tls://h:1", CAFile: ca, CertFile: ca},
		{Collector: "tcp://h:1", CertFile: ca, KeyFile: ca}} {
		bad.File = "/x"
		if err := Rsyslog(&bytes.Buffer{}, bad); err == nil {
			t.Errorf("accepted: %+v", bad)
		}
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

// TestRsyslogCollectorConfigValidates: rsyslogd -N1 accepts what gen
// rsyslog-collector writes, with permitted peers and without, alone and
// after a Debian rsyslog.conf's own inputs; what cannot work is refused.
func TestRsyslogCollectorConfigValidates(t *testing.T) {
	integration.Tool(t, "rsyslogd", "rsyslog")
	dir := t.TempDir()
	certs := rsyslogtest.MakeCerts(t, dir)
	for _, peers := range [][]string{nil, {"web-01.example", "db-01.example"}} {
		var b bytes.Buffer
		err := RsyslogCollector(&b, CollectorOptions{Port: 16514, CAFile: certs.CA, CertFile: certs.Cert, KeyFile: certs.Key, Dir: filepath.Join(dir, "logs"), PermittedPeers: peers})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`global(maxMessageSize="65536")`, `streamDriver.name="gtls" streamDriver.mode="1"`, `$app-name == "gotrail"`,
			`dynaFile="gotrailCollectorFile" template="RSYSLOG_SyslogProtocol23Format"`, `property(name="hostname" securepath="replace")`} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("no %s:\n%s", want, b.String())
			}
		}
		auth := `streamDriver.authMode="x509/certvalid"`
		if peers != nil {
			auth = `streamDriver.authMode="x509/name" permittedPeer=["web-01.example", "db-01.example"]`
		}
		if !strings.Contains(b.String(), auth) {
			t.Errorf("no %s:\n%s", auth, b.String())
		}
		// alone, and as a drop-in after what Debian's rsyslog.conf sets up
		for _, pre := range []string{"", "module(load=\"imuxsock\")\n$WorkDirectory " + dir + "\n"} {
			conf := filepath.Join(dir, "collector.conf")
			os.WriteFile(conf, []byte(pre+b.String()), 0o644)
			if out, err := exec.Command("rsyslogd", "-N1", "-f", conf).CombinedOutput(); err != nil {
				t.Errorf("rsyslogd -N1 rejects the collector configuration: %v\n%s\n%s", err, out, pre+b.String())
			}
		}
	}
	for _, bad := range []CollectorOptions{{CAFile: certs.CA}, {CAFile: certs.CA, CertFile: certs.Cert, KeyFile: certs.Key, Dir: "logs"},
		{CAFile: certs.CA, CertFile: certs.Cert, KeyFile: certs.Key, MaxMessage: 8192}, {CAFile: certs.CA, CertFile: certs.Cert, KeyFile: certs.Key, PermittedPeers: []string{`a"b`}}} {
		if err := RsyslogCollector(&bytes.Buffer{}, bad); err == nil {
			t.Errorf("accepted: %+v", bad)
		}
	}
}

// TestLogrotateCoversCollector: gen logrotate takes the collector's files
// by a glob, one directory per host.
func TestLogrotateCoversCollector(t *testing.T) {
	integration.Tool(t, "logrotate", "logrotate")
	dir := t.TempDir()
	for _, h := range []string{"web-01", "db-01"} {
		os.MkdirAll(filepath.Join(dir, h), 0o750)
		os.WriteFile(filepath.Join(dir, h, "trail.log"), []byte("x\n"), 0o640)
	}
	var b bytes.Buffer
	if err := Logrotate(&b, []string{filepath.Join(dir, "*", "trail.log")}, 365); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "logrotate.conf")
	os.WriteFile(conf, b.Bytes(), 0o644)
	out, err := exec.Command("logrotate", "-d", "-s", filepath.Join(dir, "state"), conf).CombinedOutput()
	if err != nil || bytes.Contains(bytes.ToLower(out), []byte("error")) {
		t.Fatalf("logrotate -d: %v\n%s", err, out)
	}
	for _, h := range []string{"web-01", "db-01"} {
		if !bytes.Contains(out, []byte(filepath.Join(dir, h, "trail.log"))) {
			t.Errorf("logrotate does not consider %s's file:\n%s", h, out)
		}
	}
}
