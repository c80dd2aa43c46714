package sink

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gotrail/gotrail/internal/atomicfile"
	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/event"
)

// Webhook posts alerts to a chat robot (WeCom, DingTalk, Feishu, Slack) or
// any HTTP endpoint (generic: the event JSON). Alerts go through a spool in
// the state directory first: they survive restarts and outages and are
// delivered once each, in order, when the endpoint answers again. The URL
// and secret hold the robot's key: they never appear in logs or errors.
type Webhook struct {
	name      string
	format    string
	url       string
	secret    string
	lang      string
	client    *http.Client
	log       *slog.Logger
	spool     *spool
	every     time.Duration // the rate limit: one message per every
	aggregate time.Duration // how long a burst is gathered into one message

	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	errs   uint64
	lastOK time.Time
}

// NewWebhook makes a webhook sink and starts its delivery from the spool.
func NewWebhook(c config.Sink, stateDir string, log *slog.Logger) (*Webhook, error) {
	return newWebhook(c, stateDir, log, webhookTuning{aggregate: aggregateWindow})
}

// webhookTuning is what tests change: how requests reach the endpoint
// (nil: the network) and how long a burst is gathered.
type webhookTuning struct {
	transport http.RoundTripper
	aggregate time.Duration
}

func newWebhook(c config.Sink, stateDir string, log *slog.Logger, tune webhookTuning) (*Webhook, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sum := sha256.Sum256([]byte(c.URL))
	id := c.Format + "-" + hex.EncodeToString(sum[:4])
	sp, err := openSpool(filepath.Join(stateDir, "spool"), "webhook-"+id)
	if err != nil {
		return nil, err
	}
	perMinute := c.RateLimit
	if perMinute <= 0 {
		perMinute = 20 // WeCom's and DingTalk's robots
		if c.Format == "slack" || c.Format == "generic" {
			perMinute = 60
		}
	}
	w := &Webhook{
		name: "webhook " + id, format: c.Format, url: c.URL, secret: c.Secret, lang: c.Lang,
		client: &http.Client{Timeout: 15 * time.Second, CheckRedirect: noRedirects, Transport: tune.transport},
		log:    log.With("sink", "webhook "+id), spool: sp,
		every:     time.Minute / time.Duration(perMinute),
		aggregate: tune.aggregate,
		wake:      make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go w.deliver()
	return w, nil
}

// Name names the sink without its URL.
func (w *Webhook) Name() string { return w.name }

// Send spools the alert; delivery is the spool's.
func (w *Webhook) Send(_ context.Context, e *event.Event) error {
	// the spool keeps the event; it is rendered at delivery, when the
	// alerts of a burst can go out as one message
	if err := w.spool.push(event.AppendJSON(nil, e)); err != nil {
		return err
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

// Test posts an alert at once, without the spool, and says whether the
// endpoint took it.
func (w *Webhook) Test(_ context.Context, e *event.Event) error {
	body, err := w.Render(e)
	if err != nil {
		return err
	}
	_, err = w.post(body)
	return err
}

// Close stops delivery; what is not delivered stays in the spool.
func (w *Webhook) Close() error {
	close(w.stop)
	<-w.done
	return w.spool.close()
}

// Errors counts failed deliveries.
func (w *Webhook) Errors() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.errs
}

// deliver posts the spool's messages in order, one per w.every, waiting
// out outages with exponential backoff and 429s as the endpoint says.
func (w *Webhook) deliver() {
	defer close(w.done)
	backoff := time.Second
	var last time.Time
	for {
		head, ok, _ := w.spool.peekN(1)
		if !ok {
			select {
			case <-w.wake:
				continue
			case <-w.stop:
				return
			}
		}
		// a burst becomes one message: wait a moment for the rest of it,
		// and for the robot's rate limit. A critical alert waits for the
		// rate limit only.
		wait := w.aggregate
		if critical(head) {
			wait = 0
		}
		if d := time.Until(last.Add(w.every)); d > wait {
			wait = d
		}
		if !w.sleep(wait) {
			return
		}
		lines, _, err := w.spool.peekN(maxBurst)
		if err != nil {
			w.log.Error("reading the spool failed", "err", err)
		}
		var events []*event.Event
		for _, l := range lines {
			var e event.Event
			if err := event.Decode(l, &e); err != nil {
				w.log.Error("a spooled alert does not parse; dropping it", "err", err)
				continue
			}
			events = append(events, &e)
		}
		last = time.Now()
		var body []byte
		if len(events) > 0 {
			body, err = w.RenderBurst(events)
		}
		if err == nil && body != nil {
			wait, err = w.post(body)
		}
		if err == nil {
			if err := w.spool.advanceN(len(lines)); err != nil {
				w.log.Error("advancing the spool failed", "err", err)
			}
			backoff = time.Second
			continue
		}
		w.mu.Lock()
		w.errs++
		w.mu.Unlock()
		var perm *permanentError
		if errors.As(err, &perm) {
			w.log.Error("the endpoint refused an alert; dropping it", "err", err)
			w.spool.advanceN(len(lines))
			continue
		}
		if wait <= 0 {
			wait = backoff
			if backoff *= 2; backoff > 5*time.Minute {
				backoff = 5 * time.Minute
			}
		}
		w.log.Warn("delivery failed; the alert stays spooled", "err", err, "retry_in", wait)
		if !w.sleep(wait) {
			return
		}
	}
}

// critical reports whether the first spooled alert is critical.
func critical(lines [][]byte) bool {
	var e event.Event
	return len(lines) > 0 && event.Decode(lines[0], &e) == nil && e.Gotrail.Severity == "critical"
}

// aggregateWindow is how long alerts are gathered into one message.
const aggregateWindow = 2 * time.Second

// maxBurst bounds the alerts one message stands for. All that waited go
// out together, the worst listed first and the rest counted (RenderBurst),
// so a critical alert never waits behind lower ones for the rate limit.
const maxBurst = 1000

func (w *Webhook) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.stop:
		return false
	}
}

// noRedirects makes a 3xx the answer instead of following it: the client
// would send the robot's URL, key and all, to the redirect's target as
// Referer, and after a 301, 302 or 303 turn the POST into a GET that the
// target answers 200, so that a message nobody got counted as delivered.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

// post sends one message; wait is how long the endpoint asked to wait.
func (w *Webhook) post(body []byte) (wait time.Duration, err error) {
	msg, err := w.sign(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(http.MethodPost, msg.target, bytes.NewReader(msg.body))
	if err != nil {
		return 0, &permanentError{"webhook: bad request"} // never the URL: it holds the key
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error quotes the URL, and the URL holds the key
		}
		return 0, fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return time.Duration(max(secs, 1)) * time.Second, errors.New("webhook: 429 too many requests")
	case resp.StatusCode >= 500:
		return 0, fmt.Errorf("webhook: HTTP %d", resp.StatusCode)
	case resp.StatusCode >= 400:
		// not the reply: an endpoint that echoes the request would put the
		// key into the log
		return 0, &permanentError{fmt.Sprintf("webhook: HTTP %d", resp.StatusCode)}
	case resp.StatusCode >= 300:
		// retried as an outage is: the endpoint may be moving. Neither the
		// Location nor the reply is quoted, they may hold the key.
		return 0, fmt.Errorf("webhook: HTTP %d (redirects are not followed)", resp.StatusCode)
	}
	// robots answer 200 with an error code in the body
	var r struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
		Code    *int   `json:"code"`
		Msg     string `json:"msg"`
	}
	if json.Unmarshal(reply, &r) == nil {
		code, text := 0, ""
		if r.ErrCode != nil {
			code, text = *r.ErrCode, r.ErrMsg
		} else if r.Code != nil {
			code, text = *r.Code, r.Msg
		}
		if code != 0 {
			// the errmsg may echo the request: WeCom's quotes the URI, key and all
			text = w.redactor(msg).clean(text)
		}
		switch code {
		case 0:
		case 45009, 130101, 11232: // WeCom, DingTalk, Feishu: too frequent
			return time.Minute, fmt.Errorf("webhook: rate limited (%d %s)", code, text)
		default:
			return 0, &permanentError{fmt.Sprintf("webhook: refused (%d %s)", code, text)}
		}
	}
	w.mu.Lock()
	w.lastOK = time.Now()
	w.mu.Unlock()
	return 0, nil
}

// signed is a message as it is posted, and what of it is as secret as the
// robot's key.
type signed struct {
	target string
	body   []byte
	// secrets are what the signature adds to the body (Feishu); the
	// target's own parts are found in the target
	secrets []string
}

// sign adds what DingTalk and Feishu robots with a signing secret want, at
// send time (their signatures expire).
func (w *Webhook) sign(body []byte) (signed, error) {
	if w.secret == "" {
		return signed{target: w.url, body: body}, nil
	}
	switch w.format {
	case "dingtalk":
		ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
		mac := hmac.New(sha256.New, []byte(w.secret))
		mac.Write([]byte(ts + "\n" + w.secret))
		sig := url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		sep := "?"
		if strings.Contains(w.url, "?") {
			sep = "&"
		}
		return signed{target: w.url + sep + "timestamp=" + ts + "&sign=" + sig, body: body}, nil
	case "feishu":
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte(ts+"\n"+w.secret))
		sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return signed{}, err
		}
		m["timestamp"], m["sign"] = ts, sig
		b, err := json.Marshal(m)
		return signed{target: w.url, body: b, secrets: []string{ts, sig}}, err
	}
	return signed{target: w.url, body: body}, nil
}

// spool is an append-only file of messages and the offset of the first
// not yet delivered.
type spool struct {
	mu     sync.Mutex
	path   string
	f      *os.File
	offset int64
}

func openSpool(dir, name string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{path: filepath.Join(dir, name+".jsonl")}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s.f = f
	// a crash in the middle of a write leaves a partial last line: cut it,
	// so that the next alert does not glue onto it
	if data, err := os.ReadFile(s.path); err == nil && len(data) > 0 && data[len(data)-1] != '\n' {
		if err := f.Truncate(int64(bytes.LastIndexByte(data, '\n') + 1)); err != nil {
			f.Close()
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	if b, err := os.ReadFile(s.path + ".offset"); err == nil {
		s.offset, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	return s, nil
}

func (s *spool) push(msg []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bytes.IndexByte(msg, '\n') >= 0 {
		return errors.New("spool: a message must be one line")
	}
	if _, err := s.f.Write(append(msg, '\n')); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return s.f.Sync()
}

// peekN returns up to n messages to deliver, in order.
func (s *spool) peekN(n int) ([][]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := bufio.NewReader(io.NewSectionReader(s.f, s.offset, 1<<62))
	var out [][]byte
	for len(out) < n {
		line, err := r.ReadBytes('\n')
		if err != nil {
			break // nothing whole any more
		}
		out = append(out, line[:len(line)-1])
	}
	return out, len(out) > 0, nil
}

// advanceN marks the next n messages delivered; an emptied spool starts
// over.
func (s *spool) advanceN(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := bufio.NewReader(io.NewSectionReader(s.f, s.offset, 1<<62))
	for range n {
		line, err := r.ReadBytes('\n')
		if err != nil {
			break
		}
		s.offset += int64(len(line))
	}
	if fi, err := s.f.Stat(); err == nil && fi.Size() == s.offset {
		// all delivered: start over. The offset goes to 0 first, so that a
		// crash in between repeats old alerts rather than skipping new ones.
		if err := atomicfile.Write(s.path+".offset", []byte("0"), 0o600); err != nil {
			return err
		}
		if err := s.f.Truncate(0); err != nil {
			return err
		}
		s.offset = 0
		return nil
	}
	return atomicfile.Write(s.path+".offset", []byte(strconv.FormatInt(s.offset, 10)), 0o600)
}

func (s *spool) close() error { return s.f.Close() }
