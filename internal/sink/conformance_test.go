package sink

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/config"
)

// receiver collects what a sink delivered, as text.
type receiver struct {
	mu  sync.Mutex
	got []string
}

func (r *receiver) add(s string) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
}

func (r *receiver) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.got, "\n")
}

// sinkCase makes a sink and the receiver at its other end.
type sinkCase struct {
	name string
	make func(t *testing.T, secret string) (Sink, *receiver)
}

var sinkCases = []sinkCase{
	{"syslog tcp", func(t *testing.T, _ string) (Sink, *receiver) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		r := &receiver{}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					// octet counting: LEN SP MSG
					br := bufio.NewReader(c)
					for {
						l, err := br.ReadString(' ')
						if err != nil {
							return
						}
						n, _ := strconv.Atoi(strings.TrimSpace(l))
						msg := make([]byte, n)
						if _, err := io.ReadFull(br, msg); err != nil {
							return
						}
						r.add(string(msg))
					}
				}()
			}
		}()
		s, err := NewSyslog(config.Sink{Type: "syslog", Address: "tcp://" + ln.Addr().String()})
		if err != nil {
			t.Fatal(err)
		}
		return s, r
	}},
	{"syslog udp", func(t *testing.T, _ string) (Sink, *receiver) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		r := &receiver{}
		go func() {
			buf := make([]byte, 65536)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				r.add(string(buf[:n]))
			}
		}()
		s, err := NewSyslog(config.Sink{Type: "syslog", Address: "udp://" + pc.LocalAddr().String()})
		if err != nil {
			t.Fatal(err)
		}
		return s, r
	}},
}

func init() {
	for _, format := range []string{"wecom", "dingtalk", "feishu", "slack", "generic"} {
		format := format
		sinkCases = append(sinkCases, sinkCase{"webhook " + format, func(t *testing.T, secret string) (Sink, *receiver) {
			r := &receiver{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				b, _ := io.ReadAll(req.Body)
				r.add(string(b))
				w.Write([]byte(`{"errcode":0}`))
			}))
			t.Cleanup(srv.Close)
			s, err := newWebhook(config.Sink{Type: "webhook", Format: format, URL: srv.URL + "/send?key=" + secret, Secret: secret}, t.TempDir(), nil, quick)
			if err != nil {
				t.Fatal(err)
			}
			return s, r
		}})
	}
}

// TestSinkConformance runs the same checks against every sink: an event
// arrives with its id, hostile text never arrives raw, the sink's name
// carries no secret, and Close returns.
func TestSinkConformance(t *testing.T) {
	for _, c := range sinkCases {
		t.Run(c.name, func(t *testing.T) {
			const secret = "S3CRETKEY"
			s, r := c.make(t, secret)
			if strings.Contains(s.Name(), secret) {
				t.Errorf("Name() %q holds the secret", s.Name())
			}
			if err := s.Send(context.Background(), hostile()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(r.all(), "1795637809.006:7") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			got := r.all()
			if !strings.Contains(got, "1795637809.006:7") && !strings.Contains(got, "alice") {
				t.Fatalf("nothing arrived: %q", got)
			}
			if strings.ContainsAny(got, "\x1b\x07") {
				t.Errorf("control characters arrived raw: %q", got)
			}
			done := make(chan error, 1)
			go func() { done <- s.Close() }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Close does not return")
			}
		})
	}
}
