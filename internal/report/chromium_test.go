package report

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/testutil/integration"
)

// browser is Debian's headless Chromium, run on the page's file only, in
// a profile of its own.
type browser struct {
	bin     string
	unshare string // util-linux's unshare, for a run without a network
}

func needChromium(t *testing.T) *browser {
	t.Helper()
	var missing error
	bin, err := exec.LookPath("chromium")
	if err != nil {
		missing = errors.New("chromium is not installed (apt-get install chromium fonts-wqy-microhei)")
	}
	integration.Require(t, "Debian's headless Chromium", missing)
	b := &browser{bin: bin}
	if os.Geteuid() == 0 {
		b.unshare, _ = exec.LookPath("unshare")
	}
	return b
}

// run runs Chromium headless on file; offline cuts it off the network:
// a network namespace of its own as root (no interface but a down
// loopback), else a proxy that refuses and a resolver that finds nothing.
func (b *browser) run(t *testing.T, file string, offline bool, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	argv := append([]string{b.bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--disable-extensions", "--disable-sync", "--user-data-dir=" + t.TempDir()}, args...)
	if offline {
		argv = append(argv, "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND")
		if b.unshare != "" {
			argv = append([]string{b.unshare, "-n", "--"}, argv...)
		}
	}
	argv = append(argv, "file://"+file)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, tail(stderr.String(), 2000))
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// writePage renders rep into a file of the test's directory.
func writePage(t *testing.T, rep *Report) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(p, []byte(html(t, rep)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestChromiumRendersTheReport: the page over a trail of a real recording,
// with the host's own state, as Chromium builds it: the eight sections, the
// recording's rows, the chart's bars; and Chromium cut off from the
// network builds the same page.
func TestChromiumRendersTheReport(t *testing.T) {
	b := needChromium(t)
	rep := gather(t, writeTrail(t, recordedEvents(t)), func(o *Options) {
		o.NoHost, o.Root, o.Live, o.Lang = false, "/", os.Geteuid() == 0, "zh"
	})
	file := writePage(t, rep)
	dom := string(b.run(t, file, false, "--dump-dom"))
	for _, id := range []string{"scope", "summary", "timeline", "changes", "toolchains", "findings", "proof", "appendix"} {
		if !strings.Contains(dom, `<section id="`+id+`"`) {
			t.Errorf("the DOM has no section %s", id)
		}
	}
	// rows of the recording: gotester's rename by sed, a refused write
	for _, want := range []string{"/etc/sedYdObGy -&gt; /etc/profile", "1795638102.210:9377", "/usr/bin/sed", "gotester → root", "failure",
		"/usr/local/go/bin/go build -o /tmp/gotrail-bench/goroot/bin/hello-1 hello-1.go", "审计记录完整性证明"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM lacks %q", want)
		}
	}
	if n := strings.Count(dom, `<tr class="`); n < 75 {
		t.Errorf("%d rows in the DOM; want the recording's 75 changes at least", n)
	}
	bars := regexp.MustCompile(`<rect class="bar k(\d)" x="[0-9.]+" y="[0-9.]+" width="[0-9.]+" height="([0-9.]+)"`).FindAllStringSubmatch(dom, -1)
	if len(bars) < 2 || !strings.Contains(dom, `<svg id="chart"`) {
		t.Errorf("chart: %d bars; want goroot.modify and profile.modify", len(bars))
	}
	for _, bar := range bars {
		if bar[2] == "0.0" {
			t.Errorf("a bar of no height: %v", bar)
		}
	}
	offline := string(b.run(t, file, true, "--dump-dom"))
	if offline != dom {
		t.Errorf("Chromium without a network builds another page (%d bytes, online %d)", len(offline), len(dom))
	}
	if b.unshare == "" {
		t.Log("not root: offline meant a refusing proxy and resolver, not a network namespace")
	}
}

// TestChromiumShowsTamperingInRed: over a tampered trail the first thing
// on the page, printed or shown, is the red banner naming the record.
func TestChromiumShowsTamperingInRed(t *testing.T) {
	b := needChromium(t)
	state := writeTrail(t, recordedEvents(t))
	tamper(t, state, `"name":"sed"`, `"name":"sEd"`)
	rep := gather(t, state, nil)
	file := writePage(t, rep)
	dom := string(b.run(t, file, true, "--dump-dom"))
	body := dom[strings.Index(dom, "<body>")+len("<body>"):]
	if !strings.HasPrefix(strings.TrimSpace(body), `<div class="banner" id="tampered" role="alert">`) || !strings.Contains(body[:1500], "was modified: its hash does not match") {
		t.Errorf("the body does not open with the banner naming the record: %.400s", body)
	}
	shot := filepath.Join(t.TempDir(), "tampered.png")
	b.run(t, file, true, "--screenshot="+shot, "--window-size=1100,800")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// inside the banner: 24 px of page padding, 16 px down
	r, g, bl, _ := img.At(40, 24).RGBA()
	if r>>8 < 150 || g>>8 > 80 || bl>>8 > 80 {
		t.Errorf("the top of the page is rgb(%d,%d,%d); want the banner's red", r>>8, g>>8, bl>>8)
	}
}
