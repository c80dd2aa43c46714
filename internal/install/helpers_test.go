package install

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
)

// zipEntry is one entry of a hand-made zip; mode 0 is a regular file.
type zipEntry struct {
	name string
	body string
	mode os.FileMode
}

func makeZip(t testing.TB, entries []zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// toolchainFiles is a tiny toolchain: bin/go answers "go version".
func toolchainFiles(v string) []zipEntry {
	return []zipEntry{
		{name: "VERSION", body: "go" + v + "\ntime 2024-07-02T15:00:00Z\n"},
		{name: "bin/go", body: "#!/bin/sh\necho go version go" + v + " linux/amd64\n"},
		{name: "bin/gofmt", body: "#!/bin/sh\n"},
		{name: "pkg/tool/linux_amd64/compile", body: "#!/bin/sh\n"},
		{name: "lib/wasm/go_js_wasm_exec", body: "#!/bin/sh\n"},
		{name: "lib/time/zoneinfo.zip", body: "zones"},
		{name: "src/_go.mod", body: "module std\n"},
		{name: "src/cmd/_go.mod", body: "module cmd\n"},
		{name: "src/fmt/print.go", body: "package fmt\n"},
	}
}

// toolchainZip is the module zip of a tiny toolchain, named as the proxy
// serves it.
func toolchainZip(t testing.TB, v string, extra ...zipEntry) []byte {
	prefix := ToolchainModule + "@" + ModuleVersion(v, "linux", "amd64") + "/"
	var es []zipEntry
	for _, e := range append(toolchainFiles(v), extra...) {
		e.name = prefix + e.name
		es = append(es, e)
	}
	return makeZip(t, es)
}

func h1(t testing.TB, zipData []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(p, zipData, 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := dirhash.HashZip(p, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fakeProxy is a module proxy on loopback serving toolchain zips, with a
// checksum database of its own (a test key) behind /sumdb/NAME/.
type fakeProxy struct {
	*httptest.Server
	gosumdb string // the key, for GOSUMDB

	mu     sync.Mutex
	zips   map[string][]byte // module version -> zip served
	sums   map[string]string // module version -> h1 the database vouches for
	served map[string]int
	cut    bool // close the connection halfway through a zip
	// tamper, when set, rewrites each answer of the database to a lookup
	// (a record and its signed tree head) on its way out of the proxy
	tamper func(answer []byte) []byte
	// dbDown, when set, makes the database answer lookups with a 500
	dbDown bool
}

func newFakeProxy(t testing.TB) *fakeProxy {
	skey, vkey, err := note.GenerateKey(rand.Reader, "sum.test.example")
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeProxy{gosumdb: vkey, zips: map[string][]byte{}, sums: map[string]string{}, served: map[string]int{}}
	db := sumdb.NewServer(sumdb.NewTestServer(skey, func(path, vers string) ([]byte, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		h, ok := p.sums[vers]
		if path != ToolchainModule || !ok {
			return nil, fmt.Errorf("%s@%s: not found", path, vers)
		}
		return fmt.Appendf(nil, "%s %s %s\n", path, vers, h), nil
	}))
	mux := http.NewServeMux()
	sumdbHandler := http.StripPrefix("/sumdb/sum.test.example", db)
	mux.HandleFunc("/sumdb/sum.test.example/", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		tamper, down := p.tamper, p.dbDown
		p.mu.Unlock()
		lookup := strings.HasPrefix(r.URL.Path, "/sumdb/sum.test.example/lookup/")
		switch {
		case lookup && down:
			http.Error(w, "database unavailable", http.StatusInternalServerError)
		case lookup && tamper != nil:
			rec := httptest.NewRecorder()
			sumdbHandler.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				http.Error(w, rec.Body.String(), rec.Code)
				return
			}
			w.Write(tamper(rec.Body.Bytes()))
		default:
			sumdbHandler.ServeHTTP(w, r)
		}
	})
	mux.HandleFunc("/sumdb/sum.test.example/supported", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/golang.org/toolchain/@v/", func(w http.ResponseWriter, r *http.Request) {
		file := strings.TrimPrefix(r.URL.Path, "/golang.org/toolchain/@v/")
		p.mu.Lock()
		defer p.mu.Unlock()
		if file == "list" {
			for v := range p.zips {
				fmt.Fprintln(w, v)
			}
			return
		}
		data, ok := p.zips[strings.TrimSuffix(file, ".zip")]
		if !ok || !strings.HasSuffix(file, ".zip") {
			http.NotFound(w, r)
			return
		}
		p.served[file]++
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		if p.cut {
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Write(data)
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

// add serves data for go v and has the database vouch for vouched (the zip
// itself when nil: a forged zip is served with the real one's hash).
func (p *fakeProxy) add(t testing.TB, v string, data, vouched []byte) {
	if vouched == nil {
		vouched = data
	}
	mv := ModuleVersion(v, "linux", "amd64")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.zips[mv] = data
	p.sums[mv] = h1(t, vouched)
}

// options installs from p into a new prefix with a new state directory.
func (p *fakeProxy) options(t testing.TB, v string) Options {
	return Options{
		Version: v, Prefix: t.TempDir(), StateDir: t.TempDir(),
		GOPROXY: p.URL, GOSUMDB: p.gosumdb, GOOS: "linux", GOARCH: "amd64",
	}
}

// listDir names what is in dir, for "nothing left behind".
func listDir(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

var _ = module.Version{}
