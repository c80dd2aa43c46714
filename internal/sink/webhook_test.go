package sink

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/event"
)

// robot is a chat robot on loopback: it records what it gets and can be
// told to fail.
type robot struct {
	mu       sync.Mutex
	bodies   []string
	queries  []string
	failNext int  // answer 500 this many times
	limit    bool // answer 429 with Retry-After: 1 once
	srv      *httptest.Server
}

func newRobot(t *testing.T) *robot {
	r := &robot{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.failNext > 0 {
			r.failNext--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if r.limit {
			r.limit = false
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		r.bodies = append(r.bodies, string(body))
		r.queries = append(r.queries, req.URL.RawQuery)
		w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *robot) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r.mu.Lock()
		got := append([]string(nil), r.bodies...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("robot got %d messages, want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebhookFormats(t *testing.T) {
	e := hostile()
	for _, tt := range []struct {
		format, lang string
		want         []string
	}{
		{"wecom", "zh", []string{`"msgtype":"markdown"`, "登录用户: alice (身份 root)", "没有任何 [[policy]] 允许 alice 进行 profile.modify 变更", "> 主机: web-01"}},
		{"dingtalk", "en", []string{`"msgtype":"markdown"`, `"title":"gotrail: Go environment alert [HIGH]"`, "Login user: alice (as root)", "no [[policy]] allows alice to make a profile.modify change"}},
		{"feishu", "en", []string{`"msg_type":"text"`, "Host: web-01"}},
		{"slack", "en", []string{`{"text":"gotrail: Go environment alert [HIGH]`}},
		{"generic", "", []string{`"event":{"id":"1795637809.006:7","kind":"alert"`, `"gotrail":{"kind":"profile.modify","severity":"high","authorized":false}`, `"severity":73`}},
	} {
		w := &Webhook{format: tt.format, lang: tt.lang}
		b, err := w.Render(e)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Errorf("%s: not JSON: %s", tt.format, b)
		}
		for _, s := range tt.want {
			if !strings.Contains(string(b), s) {
				t.Errorf("%s: %s lacks %q", tt.format, b, s)
			}
		}
		if bytes.ContainsAny(b, "\x1b\x07") {
			t.Errorf("%s: control characters in %q", tt.format, b)
		}
	}
}

// TestWebhookSpool: an outage, a 429 and a restart; every alert arrives
// once, in order, and the robot's key is never in the log.
func TestWebhookSpool(t *testing.T) {
	defer func(d time.Duration) { aggregateWindow = d }(aggregateWindow)
	aggregateWindow = 100 * time.Millisecond
	r := newRobot(t)
	state := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	url := r.srv.URL + "/cgi-bin/webhook/send?key=SECRETKEY"
	cfg := config.Sink{Type: "webhook", Format: "generic", URL: url, RateLimit: 600}
	r.failNext = 1 << 30 // down until further notice
	w, err := NewWebhook(cfg, state, log)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e := hostile()
		e.Event.ID = "id-" + string(rune('a'+i))
		w.Send(context.Background(), e)
	}
	time.Sleep(500 * time.Millisecond) // some failed attempts
	w.Close()                          // the daemon restarts during the outage
	r.mu.Lock()
	r.failNext, r.limit = 1, true // one more failure, a 429, then up
	r.mu.Unlock()
	w, err = NewWebhook(cfg, state, log)
	if err != nil {
		t.Fatal(err)
	}
	e := hostile()
	e.Event.ID = "id-d"
	w.Send(context.Background(), e)
	r.wait(t, 1)
	var ids []string
	deadline := time.Now().Add(15 * time.Second)
	for len(ids) < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		r.mu.Lock()
		ids = ids[:0]
		for _, b := range r.bodies {
			// one event, or a burst of them as an array
			var evs []event.Event
			if strings.HasPrefix(b, "[") {
				json.Unmarshal([]byte(b), &evs)
			} else {
				var ev event.Event
				json.Unmarshal([]byte(b), &ev)
				evs = append(evs, ev)
			}
			for _, ev := range evs {
				ids = append(ids, ev.Event.ID)
			}
		}
		r.mu.Unlock()
	}
	w.Close()
	if strings.Join(ids, ",") != "id-a,id-b,id-c,id-d" {
		t.Errorf("delivered %v, want each once in order", ids)
	}
	if strings.Contains(logs.String(), "SECRETKEY") {
		t.Errorf("the robot's key is in the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "HTTP 500") || !strings.Contains(logs.String(), "429") {
		t.Errorf("the outage and the 429 were not logged:\n%s", logs.String())
	}
}

func TestWebhookSigning(t *testing.T) {
	r := newRobot(t)
	for _, format := range []string{"dingtalk", "feishu"} {
		w, err := NewWebhook(config.Sink{Type: "webhook", Format: format, URL: r.srv.URL + "/robot/send?access_token=T", Secret: "SEC"}, t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Send(context.Background(), hostile())
		r.wait(t, len(r.bodies)+1)
		w.Close()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// DingTalk: timestamp and sign in the query, HMAC-SHA256 of "ts\nsecret"
	q := r.queries[0]
	if !strings.Contains(q, "access_token=T&timestamp=") || !strings.Contains(q, "&sign=") {
		t.Errorf("dingtalk query %q", q)
	}
	// Feishu: timestamp and sign in the body, HMAC keyed with "ts\nsecret"
	var fb struct {
		Timestamp string `json:"timestamp"`
		Sign      string `json:"sign"`
	}
	json.Unmarshal([]byte(r.bodies[1]), &fb)
	mac := hmac.New(sha256.New, []byte(fb.Timestamp+"\nSEC"))
	if fb.Sign == "" || fb.Sign != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Errorf("feishu signature %+v", fb)
	}
}

// TestWebhookAggregatesBursts: alerts arriving together go out as one
// message saying how many.
func TestWebhookAggregatesBursts(t *testing.T) {
	r := newRobot(t)
	w, err := NewWebhook(config.Sink{Type: "webhook", Format: "wecom", URL: r.srv.URL + "/send?key=K", Lang: "en"}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 5 {
		e := hostile()
		e.Event.ID = fmt.Sprint("burst-", i)
		w.Send(context.Background(), e)
	}
	got := r.wait(t, 1)
	time.Sleep(300 * time.Millisecond)
	r.mu.Lock()
	n := len(r.bodies)
	r.mu.Unlock()
	if n != 1 || !strings.Contains(got[0], "×5") || strings.Count(got[0], "alice (as root)") != 5 {
		t.Errorf("%d messages for a burst of 5: %s", n, got[0])
	}
}

// TestBurstPutsTheWorstFirst: a storm of 105 info alerts with one critical
// removal last is one message that lists the removal first and counts the
// rest by kind, severity and user: nothing is cut at twenty.
func TestBurstPutsTheWorstFirst(t *testing.T) {
	w := &Webhook{format: "wecom", lang: "en"}
	var events []*event.Event
	for i := range 105 {
		e := hostile()
		e.Event.ID = fmt.Sprintf("load-%d", i)
		e.Gotrail.Kind, e.Gotrail.Severity = event.KindTamper, "info"
		e.User.Audit = &event.Ident{ID: "0", Name: "root"}
		events = append(events, e)
	}
	rm := hostile()
	rm.Event.ID, rm.Gotrail.Kind, rm.Gotrail.Severity = "removal", event.KindTamper, "critical"
	rm.Gotrail.AuditChange = &event.AuditChange{Removed: []event.RuleCount{{Key: "gotrail-profile", Rules: 1}}}
	rm.Message = "alice (as root) removed 1 rule (gotrail-profile in /etc/) with auditctl"
	events = append(events, rm)
	b, err := w.RenderBurst(events)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Markdown struct{ Content string } `json:"markdown"`
	}
	if err := json.Unmarshal(b, &msg); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	lines := strings.Split(msg.Markdown.Content, "\n")
	if !strings.Contains(lines[0], "[CRITICAL] ×106") || !strings.Contains(lines[1], "removed 1 rule (gotrail-profile in /etc/)") {
		t.Errorf("the removal is not first:\n%s", msg.Markdown.Content)
	}
	if !strings.Contains(msg.Markdown.Content, "and 96 more: audit.tamper info root ×96") {
		t.Errorf("the rest is not counted:\n%s", msg.Markdown.Content)
	}
	if n := strings.Count(msg.Markdown.Content, "\n> "); n != maxListed {
		t.Errorf("%d alerts listed one by one, want %d", n, maxListed)
	}
}
