package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/config"
)

// keys of the robots in these tests: what must never be in an error or a log.
const (
	robotKey    = "2f9c1e0a-7b4d-4e21-9d3a-5c6b7a8e9f01"
	robotSecret = "SEC3a1f0c9e8d7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1"
)

// hits counts the requests a server got.
type hits struct {
	mu  sync.Mutex
	n   int
	req []string // method and Referer of each
}

func (h *hits) add(r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	h.req = append(h.req, r.Method+" Referer: "+r.Header.Get("Referer"))
}

func (h *hits) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// redirecting is a robot that sends every request elsewhere with code: to
// a server that answers like a robot that took the message, and would see
// the robot's URL as the Referer.
func redirecting(t *testing.T, code int) (robot *httptest.Server, elsewhere *httptest.Server, got *hits) {
	got = &hits{}
	elsewhere = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.add(r)
		w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	t.Cleanup(elsewhere.Close)
	robot = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, elsewhere.URL+"/moved?token=LOCATIONTOKEN", code)
	}))
	t.Cleanup(robot.Close)
	return robot, elsewhere, got
}

// TestWebhookDoesNotFollowRedirects: a 3xx is a failed delivery that names
// its status only; the redirect's target never hears of the robot.
func TestWebhookDoesNotFollowRedirects(t *testing.T) {
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			robot, elsewhere, got := redirecting(t, code)
			u := robot.URL + "/cgi-bin/webhook/send?key=" + robotKey
			w, err := NewWebhook(config.Sink{Type: "webhook", Format: "wecom", URL: u}, t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			err = w.Test(context.Background(), hostile())
			if err == nil {
				t.Fatalf("a %d counts as delivered (test-alert says ok)", code)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", code)) {
				t.Errorf("the error does not name the status: %v", err)
			}
			for _, leak := range []string{robotKey, "LOCATIONTOKEN", elsewhere.URL, robot.URL, strings.TrimPrefix(elsewhere.URL, "http://")} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("the error holds %q: %v", leak, err)
				}
			}
			if n := got.count(); n != 0 {
				t.Errorf("the redirect was followed: %v", got.req)
			}
		})
	}
}

// TestWebhookRedirectStaysSpooled: an alert answered with a redirect stays
// in the spool and goes out when the endpoint takes it again, as after a
// 5xx; the log names the status, not the robot's key or where it pointed.
func TestWebhookRedirectStaysSpooled(t *testing.T) {
	got := &hits{}
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.add(r)
		w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	defer elsewhere.Close()
	var mu sync.Mutex
	redirects := 1
	delivered := make(chan string, 10)
	robot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if redirects > 0 {
			redirects--
			http.Redirect(w, r, elsewhere.URL+"/moved?token=LOCATIONTOKEN", http.StatusFound)
			return
		}
		delivered <- string(body)
		w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	defer robot.Close()
	var logs syncBuffer
	w, err := newWebhook(config.Sink{Type: "webhook", Format: "wecom", URL: robot.URL + "/send?key=" + robotKey, Lang: "en", RateLimit: 600},
		t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)), quick)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Send(context.Background(), hostile())
	select {
	case body := <-delivered:
		if !strings.Contains(body, "1795637809.006:7") {
			t.Errorf("delivered %s", body)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the alert was not delivered after the redirect; log:\n%s", logs.String())
	}
	if n := got.count(); n != 0 {
		t.Errorf("the redirect was followed: %v", got.req)
	}
	if w.Errors() == 0 || !strings.Contains(logs.String(), "HTTP 302") {
		t.Errorf("the redirect was not a failed delivery (%d errors); log:\n%s", w.Errors(), logs.String())
	}
	for _, leak := range []string{robotKey, "LOCATIONTOKEN", elsewhere.URL} {
		if strings.Contains(logs.String(), leak) {
			t.Errorf("the log holds %q:\n%s", leak, logs.String())
		}
	}
}

// syncBuffer is a log the delivery goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// echo is an endpoint that quotes back what it got, as WeCom's errmsg does
// with the request URI: every way the key, the secret and the signature
// could come back. seen collects them all, to look for in errors.
type echo struct {
	mu   sync.Mutex
	seen []string
}

func (e *echo) quote(r *http.Request, body []byte, secret string) string {
	full := "http://" + r.Host + r.URL.RequestURI()
	parts := []string{r.URL.RequestURI(), full, url.QueryEscape(full), strings.ToLower(url.QueryEscape(full)), r.URL.Path, secret}
	for _, vs := range r.URL.Query() {
		parts = append(parts, vs...)
	}
	var signed struct{ Timestamp, Sign string }
	if json.Unmarshal(body, &signed) == nil && signed.Sign != "" {
		parts = append(parts, signed.Timestamp, signed.Sign)
	}
	e.mu.Lock()
	e.seen = append(e.seen, parts...)
	e.mu.Unlock()
	return strings.Join(parts, " | ")
}

func (e *echo) leaks(text string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, s := range e.seen {
		if s != "" && strings.Contains(text, s) {
			out = append(out, s)
		}
	}
	return out
}

// TestWebhookErrorsHoldNoSecret: an endpoint that echoes the request URI,
// the URL, the secret and the signature in its errmsg or in the body of a
// non-2xx answer: none of it is in the error test-alert prints, while the
// code and the rest of the explanation are.
func TestWebhookErrorsHoldNoSecret(t *testing.T) {
	for _, tt := range []struct {
		name, format, path string
		status             int
		reply              string // %s is the echo
		want               []string
	}{
		{"wecom errmsg", "wecom", "/cgi-bin/webhook/send?key=" + robotKey, 200,
			`{"errcode":93000,"errmsg":"invalid webhook url, uri: %s, more info at https://open.work.weixin.qq.com/devtool/query?e=93000"}`,
			[]string{"refused (93000 invalid webhook url, uri: [redacted]"}},
		{"wecom too frequent", "wecom", "/cgi-bin/webhook/send?key=" + robotKey, 200,
			`{"errcode":45009,"errmsg":"api freq out of limit, %s"}`, []string{"rate limited (45009 api freq out of limit"}},
		{"dingtalk signed", "dingtalk", "/robot/send?access_token=" + strings.Repeat("ab12", 16), 200,
			`{"errcode":310000,"errmsg":"sign not match, more: %s"}`, []string{"refused (310000 sign not match, more: [redacted]"}},
		{"feishu signed", "feishu", "/open-apis/bot/v2/hook/" + robotKey, 200,
			`{"code":19021,"msg":"sign match fail or timestamp is not within one hour from signature %s","data":{}}`, []string{"refused (19021 sign match fail"}},
		{"slack token in the path", "slack", "/services/T0001/B0002/XyZ0123456789abcdefGHIJ", 200,
			`{"errcode":1,"errmsg":"no such hook %s"}`, []string{"refused (1 no such hook [redacted]"}},
		{"400 body", "wecom", "/cgi-bin/webhook/send?key=" + robotKey, 400, `bad request %s`, []string{"HTTP 400"}},
		{"500 body", "dingtalk", "/robot/send?access_token=" + strings.Repeat("cd34", 16), 500, `<html>oops %s</html>`, []string{"HTTP 500"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := &echo{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				q, _ := json.Marshal(e.quote(r, body, robotSecret))
				w.WriteHeader(tt.status)
				fmt.Fprintf(w, tt.reply, strings.Trim(string(q), `"`))
			}))
			defer srv.Close()
			w, err := NewWebhook(config.Sink{Type: "webhook", Format: tt.format, URL: srv.URL + tt.path, Secret: robotSecret}, t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			err = w.Test(context.Background(), hostile())
			if err == nil {
				t.Fatal("the endpoint's refusal is not an error")
			}
			t.Log(err)
			if leaks := e.leaks(err.Error()); len(leaks) > 0 {
				t.Errorf("the error holds %q:\n%v", leaks, err)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("the error lacks %q: %v", s, err)
				}
			}
		})
	}
}

// TestWebhookLogHoldsNoSecret: the same echo through the spool, where the
// refusal is logged.
func TestWebhookLogHoldsNoSecret(t *testing.T) {
	e := &echo{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		q, _ := json.Marshal(e.quote(r, body, robotSecret))
		fmt.Fprintf(w, `{"errcode":310000,"errmsg":"sign not match, %s"}`, strings.Trim(string(q), `"`))
	}))
	defer srv.Close()
	var logs syncBuffer
	w, err := newWebhook(config.Sink{Type: "webhook", Format: "dingtalk", URL: srv.URL + "/robot/send?access_token=" + robotKey, Secret: robotSecret},
		t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)), quick)
	if err != nil {
		t.Fatal(err)
	}
	w.Send(context.Background(), hostile())
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "refused") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	w.Close()
	if !strings.Contains(logs.String(), "refused (310000 sign not match") {
		t.Fatalf("the refusal was not logged:\n%s", logs.String())
	}
	if leaks := e.leaks(logs.String()); len(leaks) > 0 {
		t.Errorf("the log holds %q:\n%s", leaks, logs.String())
	}
}

// TestReplyTextBounded: an errmsg is cut to maxReplyText bytes (whole
// characters) and cannot steer a terminal.
func TestReplyTextBounded(t *testing.T) {
	r := (&Webhook{url: "https://x/send?key=" + robotKey}).redactor(signed{target: "https://x/send?key=" + robotKey})
	for _, tt := range []struct{ in, want string }{
		{strings.Repeat("é", 300), strings.Repeat("é", maxReplyText/2) + "…"},
		{"bad\x1b[2J\u202euri\n", `bad\x1b[2J\u202euri\n`},
		{"got key=" + strings.ToUpper(robotKey) + ", " + robotKey[:8] + " ok", "got [redacted], " + robotKey[:8] + " ok"}, // a part is no key
		{strings.Repeat("x", maxReplyText-3) + robotKey, strings.Repeat("x", maxReplyText-3) + "[re…"},
	} {
		if got := r.clean(tt.in); got != tt.want {
			t.Errorf("clean(%q) =\n%q, want\n%q", tt.in, got, tt.want)
		}
	}
	// a URL without a path leaves the slashes of the text alone
	bare := (&Webhook{url: "https://hooks.example"}).redactor(signed{target: "https://hooks.example"})
	if got := bare.clean("see https://docs.example/a/b"); got != "see https://docs.example/a/b" {
		t.Errorf("clean = %q", got)
	}
}
