package report

import (
	"bytes"
	"encoding/json"
	"html/template"
	"regexp"
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/event"
)

// TestSections: a page over a trail of a real recording has the eight
// sections in order, in both languages, the recording's rows, and a chart
// with bars.
func TestSections(t *testing.T) {
	state := writeTrail(t, recordedEvents(t))
	for _, tc := range []struct {
		lang     string
		headings []string
	}{
		{"en", []string{"1. Scope", "2. Summary", "3. Changes per day", "4. Every change", "5. Toolchains", "6. Current check findings", "7. The trail's proof", "8. Appendix"}},
		{"zh", []string{"1. 审计范围", "2. 变更汇总", "3. 每日变更趋势", "4. 变更明细", "5. Go 工具链", "6. 当前安全检查结果", "7. 审计记录完整性证明", "8. 附录"}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			rep := gather(t, state, func(o *Options) { o.Lang = tc.lang })
			page := html(t, rep)
			last := 0
			for i, id := range []string{"scope", "summary", "timeline", "changes", "toolchains", "findings", "proof", "appendix"} {
				at := strings.Index(page, `<section id="`+id+`"`)
				h := strings.Index(page, "<h2>"+template.HTMLEscapeString(tc.headings[i]))
				if at < last || h < at {
					t.Errorf("section %s (%q) missing or out of order", id, tc.headings[i])
				}
				last = at
			}
			// the recording: 75 changes (26 goroot, 49 profile), 40 runs of go
			if rep.Summary.Changes != 75 || rep.Execs.Total != 40 || rep.Changes.Len() != 75 {
				t.Errorf("changes %d, runs %d, rows %d; want 75, 40, 75", rep.Summary.Changes, rep.Execs.Total, rep.Changes.Len())
			}
			for _, want := range []string{"/etc/sedYdObGy -&gt; /etc/profile", "1795638102.210:9377", `<svg id="chart"`, `class="bar k2"`} {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if rep.Proof.Problem != "" || rep.Proof.To != 115 || rep.Proof.CheckpointsTotal != 1 {
				t.Errorf("proof %+v; want a whole chain of 115 records and one checkpoint", rep.Proof)
			}
		})
	}
}

// hostile are strings a log can carry to a page: markup, a closing tag,
// a terminal escape, a bidi override.
var hostile = []struct{ in, raw, shown string }{
	{"<img src=x onerror=alert(1)>", "<img", "&lt;img src=x onerror=alert(1)&gt;"},
	{"/tmp/x</td><td>forged", "</td><td>forged", "/tmp/x&lt;/td&gt;&lt;td&gt;forged"},
	{"go build \x1b[31mred\x1b[0m", "\x1b", `go build \x1b[31mred\x1b[0m`},
	{"/etc/profile.d/\u202egpj.sh", "\u202e", `/etc/profile.d/\u202egpj.sh`},
}

// TestHostileStringsInert: every string from a log is text on the page
// (no element, no terminal escape, no bidi control) and exact in the JSON.
func TestHostileStringsInert(t *testing.T) {
	var evs []*event.Event
	for i, h := range hostile {
		c := change(i, "mallory", h.in, false)
		c.Process.Executable = h.in
		evs = append(evs, c, execEvent(i, h.in, "go", "run", h.in))
	}
	rep := gather(t, writeTrail(t, evs), nil)
	page := html(t, rep)
	for _, h := range hostile {
		if strings.Contains(page, h.raw) {
			t.Errorf("page holds %q raw", h.raw)
		}
		if !strings.Contains(page, h.shown) {
			t.Errorf("page does not show %q as %q", h.in, h.shown)
		}
	}
	if n := strings.Count(page, "<td"); n < 8 {
		t.Errorf("only %d cells", n)
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsRune(js.Bytes(), '\u202e') || bytes.ContainsRune(js.Bytes(), 0x1b) {
		t.Error("JSON holds a raw bidi control or ESC")
	}
	var doc struct {
		Changes []Row `json:"changes"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for i, h := range hostile {
		if r := doc.Changes[i]; r.Object != h.in || r.Program != h.in {
			t.Errorf("JSON row %d: object %q, program %q; want %q", i, r.Object, r.Program, h.in)
		}
	}
}

// TestNothingFetched: no src, href, url() or @import on the page names
// anything but an anchor of the page itself.
func TestNothingFetched(t *testing.T) {
	evs := recordedEvents(t)
	evs = append(evs, change(1, "mallory", "https://evil.example/x.png", false))
	page := html(t, gather(t, writeTrail(t, evs), nil))
	refs := regexp.MustCompile(`(?i)(?:\b(?:src|href|action|xlink:href|srcset|poster|data)\s*=\s*["']?([^"'\s>]*))|url\(\s*["']?([^"')]*)|@import\s+["']?([^"';\s]*)`)
	for _, m := range refs.FindAllStringSubmatch(page, -1) {
		ref := m[1] + m[2] + m[3]
		if !strings.HasPrefix(ref, "#") {
			t.Errorf("the page refers to %q (%s)", ref, m[0])
		}
	}
	if got := len(refs.FindAllString(page, -1)); got < 8 {
		t.Errorf("%d anchors; want the table of contents' 8", got)
	}
	for _, tag := range []string{"<script", "<link", "<img", "<iframe", "<object", "<embed", "@font-face"} {
		if strings.Contains(strings.ToLower(page), tag) {
			t.Errorf("the page has %s", tag)
		}
	}
}

// TestTamperedTrail: an edit of a record (hashes not recomputed) puts a
// red banner naming it first in the body; the JSON says so too.
func TestTamperedTrail(t *testing.T) {
	state := writeTrail(t, recordedEvents(t))
	tamper(t, state, `"name":"sed"`, `"name":"sEd"`)
	rep := gather(t, state, nil)
	if !rep.Tampered() || !strings.Contains(rep.Proof.Problem, "was modified") {
		t.Fatalf("problem %q; want the modified record named", rep.Proof.Problem)
	}
	page := html(t, rep)
	body := page[strings.Index(page, "<body>")+len("<body>"):]
	if !strings.HasPrefix(strings.TrimSpace(body), `<div class="banner" id="tampered" role="alert">`) {
		t.Errorf("the body does not start with the banner: %.200s", body)
	}
	if !strings.Contains(body[:2000], safe(rep.Proof.Problem)) {
		t.Error("the banner does not name the problem")
	}
	if !regexp.MustCompile(`\.banner \{[^}]*background: var\(--alert\)`).MatchString(page) || !strings.Contains(page, "--alert: #b42318") {
		t.Error("the banner is not red")
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(js.Bytes(), []byte(`"problem":"record seq`)) {
		t.Error("the JSON does not carry the problem")
	}
	if whole := html(t, gather(t, writeTrail(t, recordedEvents(t)), nil)); strings.Contains(whole, `id="tampered"`) {
		t.Error("a whole trail has the banner")
	}
}

// TestExecsSummarized: go runs are counted by user and command line, and
// listed one by one with --all.
func TestExecsSummarized(t *testing.T) {
	var evs []*event.Event
	for i := range 30 {
		evs = append(evs, execEvent(i, []string{"alice", "bob"}[i%2], "go", "build", "./..."))
	}
	evs = append(evs, execEvent(99, "alice", "go", "env", "-w", "GOPROXY=direct"), change(1, "alice", "/etc/profile", true))
	state := writeTrail(t, evs)
	for _, tc := range []struct {
		all    bool
		rows   int64
		groups []ExecGroup
	}{
		{false, 1, []ExecGroup{{Login: "alice", Command: "/usr/local/go/bin/go build ./...", Count: 15}, {Login: "bob", Command: "/usr/local/go/bin/go build ./...", Count: 15},
			{Login: "alice", Command: "/usr/local/go/bin/go env -w GOPROXY=direct", Count: 1}}},
		{true, 32, nil},
	} {
		rep := gather(t, state, func(o *Options) { o.All = tc.all })
		if rep.Changes.Len() != tc.rows || rep.Execs.Total != 31 || rep.Summary.Changes != 1 {
			t.Errorf("all=%v: %d rows, %d runs, %d changes; want %d, 31, 1", tc.all, rep.Changes.Len(), rep.Execs.Total, rep.Summary.Changes, tc.rows)
		}
		for i, g := range tc.groups {
			got := rep.Execs.Groups[i]
			if got.Login != g.Login || got.Command != g.Command || got.Count != g.Count {
				t.Errorf("group %d: %+v; want %+v", i, got, g)
			}
		}
	}
}

// TestUnauthorizedFirst: the summary starts with the unauthorized
// changes, and a page over more changes than it lists keeps every alert,
// says how many rows it left out and how to list them.
func TestUnauthorizedFirst(t *testing.T) {
	var evs []*event.Event
	for i := range MaxHTMLRows + 100 {
		evs = append(evs, change(i, "alice", "/etc/profile", true))
	}
	for i := range 7 {
		evs = append(evs, change(MaxHTMLRows+100+i, "mallory", "/etc/environment", false))
	}
	rep := gather(t, writeTrail(t, evs), func(o *Options) { o.Since = evs[0].Time.Time.AddDate(0, 0, -1) })
	if g := rep.Summary.Groups[0]; g.Verdict != Unauthorized || g.User != "mallory" || g.Count != 7 {
		t.Errorf("first summary line %+v; want mallory's 7 unauthorized changes", g)
	}
	page := html(t, rep)
	if n := strings.Count(page, `<tr class="alert"><td class="t">`); n != 7 {
		t.Errorf("%d unauthorized rows on the page; want all 7", n)
	}
	changes := page[strings.Index(page, `<section id="changes">`):strings.Index(page, `<h3 id="execs">`)]
	if n := strings.Count(changes, `<td class="t">`); n != MaxHTMLRows {
		t.Errorf("%d rows; want %d", n, MaxHTMLRows)
	}
	if !strings.Contains(page, `id="more-rows">107 more changes are not shown here (5107 rows in all`) || !strings.Contains(page, "gotrail events --trail --since 2026-11-19T10:00:00Z --kind goroot.modify") {
		t.Errorf("no line saying what was left out: %s", page[strings.Index(page, "more-rows")-20:][:400])
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Listed  int64 `json:"changes_listed"`
		Changes []Row `json:"changes"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.Listed != 5107 || len(doc.Changes) != 5107 {
		t.Errorf("JSON: %d rows of %d (%v); want every one", len(doc.Changes), doc.Listed, err)
	}
}

// TestScanMatchesEncodingJSON: the fast scanner reads every field the
// report uses as encoding/json does, on the recording and hostile lines;
// what it cannot read goes to encoding/json.
func TestScanMatchesEncodingJSON(t *testing.T) {
	evs := recordedEvents(t)
	for i, h := range hostile {
		c := change(i, h.in, h.in, false)
		c.Process.Args = []string{"v\"i\\m", h.in, `a"b`}
		c.Gotrail.PreviousPath = "/old\\path"
		evs = append(evs, c)
	}
	var lines [][]byte
	for _, e := range evs {
		lines = append(lines, event.AppendJSON(nil, e))
	}
	lines = append(lines, []byte(`{"gotrail":{"kind":"go.exec"},"process":{"args":["a"],"executable":"/x"}}`), // args before executable
		[]byte(`{"@timestamp":"2026-11-25T20:21:42.210Z","gotrail":{"kind":"profile.modify"},"file":null}`))
	for i, line := range lines {
		var fast, slow view
		var arena []byte
		decodeView(line, &fast, &arena)
		var e event.Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatal(err)
		}
		fromEvent(&e, &slow)
		rf, rs := toRow(&fast, kindOf(fast.Kind)), toRow(&slow, kindOf(slow.Kind))
		if rf != rs || string(command(&fast)) != string(command(&slow)) || !fast.Time.Equal(slow.Time) {
			t.Errorf("line %d:\nscanner       %+v %q\nencoding/json %+v %q", i, rf, command(&fast), rs, command(&slow))
		}
	}
}

// TestDefaultLang follows the locale as gettext does.
func TestDefaultLang(t *testing.T) {
	for _, tc := range []struct{ all, lang, want string }{
		{"", "zh_CN.UTF-8", "zh"}, {"", "en_US.UTF-8", "en"}, {"C", "zh_CN.UTF-8", "en"}, {"zh_TW", "", "zh"}, {"", "", "en"},
	} {
		t.Setenv("LC_ALL", tc.all)
		t.Setenv("LC_MESSAGES", "")
		t.Setenv("LANG", tc.lang)
		if got := DefaultLang(); got != tc.want {
			t.Errorf("LC_ALL=%q LANG=%q: %s; want %s", tc.all, tc.lang, got, tc.want)
		}
	}
}
