package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gotrail/gotrail/internal/atomicfile"
)

// knownGOSUMDB is the go command's pinned key for the Go checksum database
// (cmd/go/internal/modfetch/key.go).
var knownGOSUMDB = map[string]string{
	"sum.golang.org": "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
}

// ErrSumDBOff is GOSUMDB=off: a toolchain is installed only when the
// checksum database vouches for it.
var ErrSumDBOff = errors.New("GOSUMDB=off: gotrail installs a toolchain only when the checksum database vouches for it (unset GOSUMDB, or set it to sum.golang.org)")

// checksumDB is a client of a Go checksum database: the key from GOSUMDB
// (or the pinned one), reached through the first GOPROXY entry that
// proxies it (<proxy>/sumdb/<name>/supported), else directly, else at the
// URL GOSUMDB names. The latest signed tree head it has seen and the tiles
// it has checked are kept under STATE_DIR/sumdb/, so that a database that
// later forks its history is caught.
type checksumDB struct {
	name   string
	client *sumdb.Client
	ops    *sumdbOps
}

// openChecksumDB reads GOSUMDB: "off", a name the go command knows
// (sum.golang.org, sum.golang.google.cn), or "KEY [URL]".
func openChecksumDB(ctx context.Context, gosumdb string, proxies []proxy, stateDir string, hc *http.Client) (*checksumDB, error) {
	gosumdb = strings.TrimSpace(gosumdb)
	if gosumdb == "" {
		gosumdb = "sum.golang.org"
	}
	if gosumdb == "sum.golang.google.cn" {
		gosumdb = "sum.golang.org https://sum.golang.google.cn"
	}
	if gosumdb == "off" {
		return nil, ErrSumDBOff
	}
	f := strings.Fields(gosumdb)
	if k := knownGOSUMDB[f[0]]; k != "" {
		f[0] = k
	}
	if len(f) > 2 {
		return nil, fmt.Errorf("GOSUMDB=%q: want NAME, KEY or KEY URL", gosumdb)
	}
	v, err := note.NewVerifier(f[0])
	if err != nil {
		return nil, fmt.Errorf("GOSUMDB=%q: %v", gosumdb, err)
	}
	name := v.Name()
	direct, err := url.Parse("https://" + name)
	if err != nil || strings.HasSuffix(name, "/") || direct.Host == "" || direct.String() != "https://"+name {
		return nil, fmt.Errorf("GOSUMDB: invalid database name %q (must be host[/path])", name)
	}
	ops := &sumdbOps{
		ctx: ctx, hc: hc, key: f[0], name: name, direct: "https://" + name,
		verifiers: note.VerifierList(v), keyID: fmt.Sprintf("%s+%08x", name, v.KeyHash()),
		proxies: proxies, dir: filepath.Join(stateDir, "sumdb"), records: map[string][]byte{},
	}
	if len(f) == 2 {
		u, err := url.Parse(f[1])
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("GOSUMDB URL %q: want an http(s) URL", f[1])
		}
		ops.base = strings.TrimSuffix(f[1], "/")
	}
	return &checksumDB{name: name, client: sumdb.NewClient(ops), ops: ops}, nil
}

// proof is what the checksum database said about a module version.
type proof struct {
	lines    []string // go.sum lines for the module version
	hash     string   // the h1: hash of its zip
	record   int64
	treeHead string // the signed tree head the record was proved against
	url      string // where the database was reached
}

// lookup asks the database for path@vers and returns the proof; the record
// is proved against the signed tree head, and that head against the one
// kept from before. A tree head whose signature does not verify is refused,
// and the proof returned with the error holds it, as the evidence.
func (db *checksumDB) lookup(path, vers string) (*proof, error) {
	lines, err := db.client.Lookup(path, vers)
	if err != nil {
		if f := db.ops.forgery(); f != nil {
			return &proof{url: f.url, treeHead: f.treeHead}, f.err
		}
		if msg := db.ops.securityMsg(); msg != "" {
			return nil, &RefusedError{Reason: fmt.Sprintf("checksum database %s misbehaved: %s", db.name, msg)}
		}
		if msg := err.Error(); strings.Contains(msg, ": 404 ") || strings.Contains(msg, ": 410 ") {
			return nil, fmt.Errorf("no such toolchain: the checksum database %s does not know %s@%s (%w)", db.name, path, vers, err)
		}
		return nil, fmt.Errorf("checksum database %s: %w", db.name, err)
	}
	p := &proof{lines: lines, url: db.ops.baseURL()}
	prefix := path + " " + vers + " h1:"
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			p.hash = strings.TrimPrefix(l, path+" "+vers+" ")
		}
	}
	if p.hash == "" {
		return nil, fmt.Errorf("checksum database %s has no h1: hash for %s@%s", db.name, path, vers)
	}
	if data := db.ops.record(path, vers); data != nil {
		if id, _, tree, err := tlog.ParseRecord(data); err == nil {
			p.record, p.treeHead = id, string(tree)
		}
	}
	return p, nil
}

// sumdbOps implements sumdb.ClientOps.
type sumdbOps struct {
	ctx       context.Context
	hc        *http.Client
	key       string
	verifiers note.Verifiers // the key, to check tree heads as they come
	keyID     string         // NAME+HASH of the key, for messages
	name      string
	direct    string
	proxies   []proxy
	dir       string // STATE_DIR/sumdb

	once    sync.Once
	base    string
	baseErr error

	mu       sync.Mutex
	records  map[string][]byte // raw /lookup answers, for the event
	security string
	forged   *forgedNote
}

// forgedNote is a signed tree head served for the database whose signature
// did not verify against its key.
type forgedNote struct {
	url      string // where it came from
	treeHead string
	err      *RefusedError
}

func (o *sumdbOps) baseURL() string {
	o.once.Do(o.findBase)
	return o.base
}

// findBase finds how to reach the database, as the go command does: the
// first proxy that answers 200 for /sumdb/NAME/supported proxies it; a 404
// or 410 (or any error after '|') moves on; reaching the end of the list
// means going directly.
func (o *sumdbOps) findBase() {
	if o.base != "" {
		return
	}
	for _, p := range o.proxies {
		u := p.url + "/sumdb/" + o.name
		_, err := getBytes(o.ctx, o.hc, u+"/supported")
		if err == nil {
			o.base = u
			return
		}
		if notFound(err) || p.anyError {
			continue
		}
		o.baseErr = fmt.Errorf("checksum database %s through %s: %w", o.name, redact(p.url), err)
		return
	}
	o.base = o.direct
}

func (o *sumdbOps) ReadRemote(path string) ([]byte, error) {
	base := o.baseURL()
	if o.baseErr != nil {
		return nil, o.baseErr
	}
	data, err := getBytes(o.ctx, o.hc, base+path)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(path, "/lookup/") {
		if err := o.checkSignature(redact(base+path), data); err != nil {
			return nil, err
		}
		o.mu.Lock()
		o.records[strings.TrimPrefix(path, "/lookup/")] = data
		o.mu.Unlock()
	}
	return data, nil
}

// checkSignature verifies the signed tree head of a lookup answer, before
// the sumdb client reads it. The client verifies it too, but reports a bad
// signature as an error string like a network failure's; here it is told
// apart, because it is evidence of tampering: only the database holds the
// private key, so a tree head for it that does not verify was forged or
// altered by whoever served it (the proxy, or something on the way to it).
// The refusal is kept for lookup, since the client's error carries no type.
// A note that does not parse is left to the client: it is not a signature
// that failed, and the client says what is wrong with it.
func (o *sumdbOps) checkSignature(u string, data []byte) error {
	_, _, tree, err := tlog.ParseRecord(data)
	if err != nil {
		return nil
	}
	_, err = note.Open(tree, o.verifiers)
	var why string
	var invalid *note.InvalidSignatureError
	var unverified *note.UnverifiedNoteError
	switch {
	case errors.As(err, &invalid):
		why = "the signature is invalid"
	case errors.As(err, &unverified):
		var by []string
		for _, s := range unverified.Note.UnverifiedSigs {
			by = append(by, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		why = "signed only by other keys: " + strings.Join(by, ", ")
	default:
		return nil
	}
	f := &forgedNote{url: u, treeHead: string(tree), err: &RefusedError{Reason: fmt.Sprintf(
		"checksum database %s: the signed tree head served by %s did not verify against the database's key %s (%s): forged, or altered on its way",
		o.name, u, o.keyID, why)}}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.forged == nil {
		o.forged = f
	}
	return f.err
}

func (o *sumdbOps) forgery() *forgedNote {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.forged
}

// record is the raw answer to the lookup of path@vers.
func (o *sumdbOps) record(path, vers string) []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, v := range o.records {
		if strings.HasSuffix(k, "@"+vers) {
			return v
		}
	}
	return nil
}

// configPath maps the library's file names (NAME/latest) into dir.
func (o *sumdbOps) configPath(file string) (string, error) {
	clean := filepath.Clean(file)
	if !filepath.IsLocal(clean) {
		return "", fmt.Errorf("sumdb: bad file name %q", file)
	}
	return filepath.Join(o.dir, clean), nil
}

func (o *sumdbOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.key), nil
	}
	p, err := o.configPath(file)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return []byte{}, nil // no tree head yet: start from the empty tree
	}
	return data, err
}

// WriteConfig keeps the latest tree head. gotrail install holds the install
// lock of the state directory, so compare-and-replace needs no more.
func (o *sumdbOps) WriteConfig(file string, old, new []byte) error {
	if file == "key" {
		return errors.New("sumdb: the key is not written")
	}
	p, err := o.configPath(file)
	if err != nil {
		return err
	}
	cur, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if len(cur) > 0 && !bytes.Equal(cur, old) {
		return sumdb.ErrWriteConflict
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(p, new, 0o600)
}

// ReadCache serves checked tiles kept from earlier installs. Lookups are
// never served from the cache: each install asks the database afresh, so
// that the record comes with a current signed tree head.
func (o *sumdbOps) ReadCache(file string) ([]byte, error) {
	if strings.Contains(file, "/lookup/") {
		return nil, fs.ErrNotExist
	}
	p, err := o.configPath(filepath.Join("cache", file))
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err == nil && len(data) == 0 {
		err = fs.ErrNotExist
	}
	return data, err
}

func (o *sumdbOps) WriteCache(file string, data []byte) {
	if strings.Contains(file, "/lookup/") {
		return
	}
	p, err := o.configPath(filepath.Join("cache", file))
	if err != nil {
		return
	}
	if os.MkdirAll(filepath.Dir(p), 0o700) == nil {
		atomicfile.Write(p, data, 0o600)
	}
}

func (o *sumdbOps) Log(string) {}

func (o *sumdbOps) SecurityError(msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.security = msg
}

func (o *sumdbOps) securityMsg() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.security
}
