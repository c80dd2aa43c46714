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
	"testing/synctest"
	"time"

	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/event"
)

// robot is a chat robot reached in process: it records what it gets and can be
// told to fail.
type robot struct {
	mu       sync.Mutex
	bodies   []string
	queries  []string
	failNext int  // answer 500 this many times
	limit    bool // answer 429 with Retry-After: 1 once
}

// quick is the tuning of tests on the network: bursts gathered for 10 ms.
var quick = webhookTuning{aggregate: 10 * time.Millisecond}

// newRobot is a robot reached in process, through RoundTrip: for
// tests on synctest's fake clock, where the network would be real time.
func newRobot() *robot { return &robot{} }

// RoundTrip answers a request as the robot does, without a network.
func (r *robot) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func (r *robot) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	{
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
	}
}

// got is what the robot received so far.
func (r *robot) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
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
// once, in order, and the robot's key is never in the log. On synctest's
// clock: the minutes of backoff pass at once.
func TestWebhookSpool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRobot()
		state := t.TempDir()
		var logs syncBuffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		cfg := config.Sink{Type: "webhook", Format: "generic", URL: "http://robot.test/cgi-bin/webhook/send?key=SECRETKEY", RateLimit: 600}
		tune := webhookTuning{transport: r, aggregate: aggregateWindow}
		r.failNext = 1 << 30 // down until further notice
		w, err := newWebhook(cfg, state, log, tune)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			e := hostile()
			e.Event.ID = "id-" + string(rune('a'+i))
			w.Send(context.Background(), e)
		}
		time.Sleep(30 * time.Second) // failed attempts, backing off
		synctest.Wait()
		w.Close() // the daemon restarts during the outage
		if n := len(r.got()); n != 0 {
			t.Fatalf("%d messages arrived during the outage", n)
		}
		r.mu.Lock()
		r.failNext, r.limit = 1, true // one more failure, a 429, then up
		r.mu.Unlock()
		w, err = newWebhook(cfg, state, log, tune)
		if err != nil {
			t.Fatal(err)
		}
		e := hostile()
		e.Event.ID = "id-d"
		w.Send(context.Background(), e)
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		w.Close()
		if ids := strings.Join(deliveredIDs(r.got()), ","); ids != "id-a,id-b,id-c,id-d" {
			t.Errorf("delivered %v, want each once in order", ids)
		}
		if strings.Contains(logs.String(), "SECRETKEY") {
			t.Errorf("the robot's key is in the log:\n%s", logs.String())
		}
		if !strings.Contains(logs.String(), "HTTP 500") || !strings.Contains(logs.String(), "429") {
			t.Errorf("the outage and the 429 were not logged:\n%s", logs.String())
		}
	})
}

// deliveredIDs are the event ids of generic-format messages: one event, or
// a burst of them as an array.
func deliveredIDs(bodies []string) []string {
	var ids []string
	for _, b := range bodies {
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
	return ids
}

// TestWebhookSigning: DingTalk's and Feishu's signatures, as their robots
// check them (on synctest's clock: the aggregation window passes at once).
func TestWebhookSigning(t *testing.T) {
	r := newRobot()
	synctest.Test(t, func(t *testing.T) {
		for _, format := range []string{"dingtalk", "feishu"} {
			w, err := newWebhook(config.Sink{Type: "webhook", Format: format, URL: "http://robot.test/robot/send?access_token=T", Secret: "SEC"}, t.TempDir(), nil,
				webhookTuning{transport: r, aggregate: aggregateWindow})
			if err != nil {
				t.Fatal(err)
			}
			w.Send(context.Background(), hostile())
			time.Sleep(10 * time.Second)
			synctest.Wait()
			w.Close()
		}
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies) != 2 {
		t.Fatalf("%d messages, want one a format", len(r.bodies))
	}
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
// message saying how many, and nothing else follows: ten seconds of
// synctest's clock pass with exactly one message.
func TestWebhookAggregatesBursts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRobot()
		w, err := newWebhook(config.Sink{Type: "webhook", Format: "wecom", URL: "http://robot.test/send?key=K", Lang: "en"}, t.TempDir(), nil,
			webhookTuning{transport: r, aggregate: aggregateWindow})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			e := hostile()
			e.Event.ID = fmt.Sprint("burst-", i)
			w.Send(context.Background(), e)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		w.Close()
		got := r.got()
		if len(got) != 1 || !strings.Contains(got[0], "×5") || strings.Count(got[0], "alice (as root)") != 5 {
			t.Errorf("%d messages for a burst of 5: %q", len(got), got)
		}
	})
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
