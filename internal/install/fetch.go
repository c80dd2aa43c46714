package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// proxy is one entry of GOPROXY.
type proxy struct {
	url string
	// anyError: the entry was followed by '|', so any error moves on to the
	// next entry; after ',' only "not found" (404, 410) does, as for the go
	// command.
	anyError bool
}

// parseGOPROXY reads GOPROXY the way the go command does. Toolchain modules
// come only from a module proxy: "direct" entries are skipped, and "off"
// ends the list.
func parseGOPROXY(s string) ([]proxy, error) {
	if strings.TrimSpace(s) == "" {
		s = "https://proxy.golang.org,direct"
	}
	var out []proxy
	for s != "" {
		i := strings.IndexAny(s, ",|")
		entry, sep := s, byte(0)
		if i >= 0 {
			entry, sep, s = s[:i], s[i], s[i+1:]
		} else {
			s = ""
		}
		entry = strings.TrimSpace(entry)
		switch entry {
		case "":
			continue
		case "off":
			s = ""
			continue
		case "direct", "noproxy":
			continue
		}
		u, err := url.Parse(entry)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("GOPROXY entry %q: want an http(s) URL, direct or off", entry)
		}
		out = append(out, proxy{url: strings.TrimSuffix(entry, "/"), anyError: sep == '|'})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("GOPROXY=%q names no module proxy, and Go toolchains are published only through one (set GOPROXY=https://proxy.golang.org, or use --source dl)", s)
	}
	return out, nil
}

// httpError is a response other than 200.
type httpError struct {
	url    string
	status int
	body   string
}

func (e *httpError) Error() string {
	msg := fmt.Sprintf("%s: %d %s", e.url, e.status, http.StatusText(e.status))
	if b := strings.TrimSpace(e.body); b != "" {
		msg += ": " + b
	}
	return msg
}

// notFound reports whether err is a 404 or 410, which moves on to the next
// proxy whatever the separator.
func notFound(err error) bool {
	var he *httpError
	return errors.As(err, &he) && (he.status == http.StatusNotFound || he.status == http.StatusGone)
}

// newHTTPClient is the client for proxies, checksum databases and
// go.dev/dl: no overall timeout (a toolchain is large), but a bound on
// waiting for a server to answer.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: t}
}

// get returns the response body of a GET that answered 200.
func get(ctx context.Context, c *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "gotrail-install")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, &httpError{url: redact(u), status: resp.StatusCode, body: firstLine(string(body))}
	}
	return resp, nil
}

// getBytes reads a small document (at most 16 MiB).
func getBytes(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	resp, err := get(ctx, c, u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", redact(u), err)
	}
	if len(data) > 16<<20 {
		return nil, fmt.Errorf("%s: larger than 16 MiB", redact(u))
	}
	return data, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// redact drops a URL's user information (a proxy's credentials).
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Redacted()
}

// Progress hears how a download goes: done bytes of total (-1 unknown).
type Progress func(done, total int64)

// download writes what u serves to f (truncated first), returning the
// sha256 of the bytes. A body shorter than its Content-Length, a broken
// connection or a cancelled ctx is an error: the caller removes f.
func download(ctx context.Context, c *http.Client, u string, f *os.File, maxSize int64, progress Progress) (sha string, n int64, err error) {
	resp, err := get(ctx, c, u)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > maxSize {
		return "", 0, fmt.Errorf("%s: %d bytes, more than the %d a toolchain may have", redact(u), resp.ContentLength, maxSize)
	}
	if err := f.Truncate(0); err != nil {
		return "", 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	h := sha256.New()
	pw := &progressWriter{total: resp.ContentLength, fn: progress}
	n, err = io.Copy(io.MultiWriter(f, h, pw), io.LimitReader(resp.Body, maxSize+1))
	if err != nil {
		return "", n, fmt.Errorf("download %s: %w (after %d bytes)", redact(u), err, n)
	}
	if n > maxSize {
		return "", n, fmt.Errorf("download %s: more than the %d bytes a toolchain may have", redact(u), maxSize)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return "", n, fmt.Errorf("download %s: got %d of %d bytes", redact(u), n, resp.ContentLength)
	}
	if err := f.Sync(); err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

type progressWriter struct {
	done, total int64
	last        time.Time
	fn          Progress
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if p.fn != nil {
		if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || p.done == p.total {
			p.last = now
			p.fn(p.done, p.total)
		}
	}
	return len(b), nil
}
