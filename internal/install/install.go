// Package install installs a Go toolchain the way an auditor can follow:
// downloaded from a module proxy and proved by the Go checksum database (or
// from go.dev/dl against its published sha256), unpacked with
// golang.org/x/mod/zip's safety checks into a fresh directory beside its
// destination, switched to with one rename(2) of the PREFIX/go symlink
// (the one before kept for Rollback), and described by a manifest of every
// file's sha256 kept in the state directory for `gotrail verify
// --toolchain`. Every attempt, success or failure, is a Result that the
// caller records as a toolchain.install event (Result.Event) in the trail
// and the sinks.
//
// Its neighbours: internal/event (the event it makes), internal/trail and
// internal/sink (where cmd/gotrail sends it).
package install

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/sys/unix"

	"github.com/gotrail/gotrail/internal/event"
)

// RefusedError is a download that does not match what vouches for it (the
// checksum database, the go.dev/dl index) or an archive that is unsafe to
// unpack: possibly an attack, so its event is of high severity.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "refused: " + e.Reason }

// Options say what to install and from where.
type Options struct {
	Version  string // 1.22.5, go1.22.5 or latest
	Source   string // proxy (default) or dl
	Prefix   string // default /usr/local
	StateDir string
	GOPROXY  string // as `go env GOPROXY`
	GOSUMDB  string // as `go env GOSUMDB`
	DLURL    string // --source dl: the index and archives (default https://go.dev/dl/)
	GOOS     string // default runtime.GOOS
	GOARCH   string // default runtime.GOARCH
	Force    bool   // replace PREFIX/goVERSION when it exists (kept aside)
	Profile  string // write this profile.d script ("" none)
	Progress Progress
	Log      *slog.Logger
	HTTP     *http.Client
	Now      func() time.Time
}

// DefaultDLURL is where --source dl looks.
const DefaultDLURL = "https://go.dev/dl/"

// Result is what an attempt did, for the event and the summary.
type Result struct {
	Action        string // install or rollback
	Version       string // go1.22.5 ("" when latest could not be resolved)
	Source        string // proxy or dl
	URL           string // the archive's URL
	ArchiveSHA256 string
	ModuleHash    string // h1: (source proxy)
	SumDB         *event.SumDB
	Dir           string   // PREFIX/go1.22.5
	Link          string   // PREFIX/go
	Previous      string   // what Link named before
	Aside         string   // an existing PREFIX/go1.22.5 kept aside by Force
	Manifest      string   // its file in the state directory
	Profile       string   // the profile script written ("" untouched)
	Created       []string // directories of the prefix that did not exist, made 0755 (mkdir -p)
	Files         int
	Bytes         int64
	Download      time.Duration
	Unpack        time.Duration
	Hash          time.Duration
	Err           error
}

// Refused reports whether the attempt was refused for a bad download.
func (r *Result) Refused() bool {
	var re *RefusedError
	return errors.As(r.Err, &re)
}

// Install installs a toolchain. The Result is never nil: on failure it
// says how far it got, and nothing of the attempt is left under the
// prefix.
func Install(ctx context.Context, o Options) (*Result, error) {
	r := &Result{Action: "install", Source: o.Source}
	err := install(ctx, &o, r)
	if err != nil {
		unmakePrefix(r)
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("interrupted: %w", err)
	}
	r.Err = err
	return r, err
}

func (o *Options) defaults() error {
	if o.Source == "" {
		o.Source = "proxy"
	}
	if o.Source != "proxy" && o.Source != "dl" {
		return fmt.Errorf("source %q: want proxy or dl", o.Source)
	}
	if o.Prefix == "" {
		o.Prefix = "/usr/local"
	}
	if !filepath.IsAbs(o.Prefix) {
		return fmt.Errorf("prefix %q: want an absolute directory", o.Prefix)
	}
	o.Prefix = filepath.Clean(o.Prefix)
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	if o.GOARCH == "" {
		o.GOARCH = runtime.GOARCH
	}
	if o.DLURL == "" {
		o.DLURL = DefaultDLURL
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.HTTP == nil {
		o.HTTP = newHTTPClient()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// makePrefix creates the missing directories of prefix as mkdir -p does,
// each mode 0755 (owned by whoever installs: root, as a rule), and records
// them in r.
func makePrefix(prefix string, r *Result) error {
	fi, err := os.Stat(prefix)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("prefix %s: not a directory", prefix)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("prefix: %w", err)
	}
	if err := makePrefix(filepath.Dir(prefix), r); err != nil {
		return err
	}
	if err := os.Mkdir(prefix, 0o755); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("prefix: %w", err)
		}
		// made meanwhile by someone else: theirs, not recorded as ours
		if fi, err := os.Lstat(prefix); err != nil || !fi.IsDir() {
			return fmt.Errorf("prefix %s: not a directory", prefix)
		}
		return nil
	}
	if err := os.Chmod(prefix, 0o755); err != nil { // past the umask
		return fmt.Errorf("prefix: %w", err)
	}
	r.Created = append(r.Created, prefix)
	return nil
}

// unmakePrefix removes, on failure, the prefix directories this attempt
// created, if they are still empty: nothing of a failed attempt is left.
func unmakePrefix(r *Result) {
	for i := len(r.Created) - 1; i >= 0; i-- {
		if os.Remove(r.Created[i]) != nil {
			return
		}
	}
	r.Created = nil
}

// install installs as o says, filling in r as it goes: the checks that
// need no download first, then the download into a staging directory,
// which becomes the toolchain only once it is proved and complete.
func install(ctx context.Context, o *Options, r *Result) error {
	if err := o.defaults(); err != nil {
		return err
	}
	r.Source = o.Source
	r.Link = filepath.Join(o.Prefix, "go")
	v, err := ParseVersion(o.Version)
	if err != nil {
		return err
	}
	if v != "latest" {
		r.Version = "go" + v
	}
	if err := makePrefix(o.Prefix, r); err != nil {
		return err
	}

	unlock, err := lockState(o.StateDir)
	if err != nil {
		return err
	}
	defer unlock()
	removeStale(o.Prefix, o.Log)

	src, err := openSource(ctx, o)
	if err != nil {
		return err
	}
	if v == "latest" {
		if v, err = src.latest(ctx, o); err != nil {
			return err
		}
		r.Version = "go" + v
	}
	r.Dir = filepath.Join(o.Prefix, "go"+v)

	// everything of this attempt lives in staging until the final rename:
	// a directory with an unpredictable name beside the destination, on
	// the same filesystem
	staging, err := os.MkdirTemp(o.Prefix, stagingPrefix)
	if err != nil {
		return fmt.Errorf("staging directory: %w", err)
	}
	defer os.RemoveAll(staging)
	tree := filepath.Join(staging, "go")
	files, err := fetchTree(ctx, o, r, v, src, staging, tree)
	if err != nil {
		return err
	}
	return putInPlace(o, r, v, staging, tree, files)
}

// source is where a toolchain comes from: the module proxies, proved by
// the checksum database, or the go.dev/dl index.
type source struct {
	db      *checksumDB
	proxies []proxy
	idx     []dlRelease // fetched once, when "latest" needed it
}

// openSource opens the source o names. For the proxy it does so before
// any download, so that GOSUMDB=off and a GOPROXY without a proxy are
// refused at once.
func openSource(ctx context.Context, o *Options) (*source, error) {
	src := &source{}
	if o.Source != "proxy" {
		return src, nil
	}
	var err error
	if src.proxies, err = parseGOPROXY(o.GOPROXY); err != nil {
		return nil, err
	}
	if src.db, err = openChecksumDB(ctx, o.GOSUMDB, src.proxies, o.StateDir, o.HTTP); err != nil {
		return nil, err
	}
	return src, nil
}

// latest is the newest version src has for o's platform.
func (src *source) latest(ctx context.Context, o *Options) (string, error) {
	if o.Source == "proxy" {
		return latestFromProxy(ctx, o.HTTP, src.proxies, o.GOOS, o.GOARCH)
	}
	idx, err := fetchIndex(ctx, o)
	if err != nil {
		return "", err
	}
	src.idx = idx
	return latestFromIndex(idx, o.GOOS, o.GOARCH)
}

// fetchTree downloads version v from src into staging, proves it and
// unpacks it to tree, and returns the manifest of tree.
func fetchTree(ctx context.Context, o *Options, r *Result, v string, src *source, staging, tree string) ([]FileEntry, error) {
	archive, err := os.OpenFile(filepath.Join(staging, "archive"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	defer archive.Close()
	if o.Source == "proxy" {
		err = fromProxy(ctx, o, r, v, src.db, src.proxies, archive, tree)
	} else {
		err = fromDL(ctx, o, r, v, src.idx, archive, tree)
	}
	if err != nil {
		return nil, err
	}
	archive.Close()
	os.Remove(archive.Name())

	start := time.Now()
	files, err := BuildManifest(tree)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	r.Hash, r.Files = time.Since(start), len(files)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return files, nil
}

// putInPlace renames tree to r.Dir, records its manifest and switches
// the link to it. Until the link is switched a failure puts back what was
// there before; after, the toolchain is installed and only the records
// of it can fail.
func putInPlace(o *Options, r *Result, v, staging, tree string, files []FileEntry) error {
	now := o.Now()
	if err := moveIn(o, r, v, tree, now); err != nil {
		return err
	}
	undo := func() {
		os.Rename(r.Dir, filepath.Join(staging, "failed"))
		if r.Aside != "" {
			os.Rename(r.Aside, r.Dir)
		}
	}
	m := &Manifest{Version: "go" + v, GOOS: o.GOOS, GOARCH: o.GOARCH, Dir: r.Dir, Created: now.UTC(), Source: r.URL, Files: files}
	mp := manifestPath(o.StateDir, v, o.GOOS, o.GOARCH, r.Dir)
	if err := writeManifest(mp, m); err != nil {
		undo()
		return fmt.Errorf("manifest: %w", err)
	}
	r.Manifest = mp
	prev, err := switchLink(r.Link, r.Dir, now)
	if err != nil {
		undo()
		os.Remove(mp)
		r.Manifest = ""
		return err
	}
	r.Previous = prev
	if prev == r.Dir && r.Aside != "" {
		r.Previous = r.Aside // reinstalled: the one before is the one kept aside
	}
	return recordInstalled(o, r, now)
}

// moveIn renames tree to r.Dir; a toolchain already there is refused, or
// with --force kept aside.
func moveIn(o *Options, r *Result, v, tree string, now time.Time) error {
	if _, err := os.Lstat(r.Dir); err == nil {
		if !o.Force {
			return fmt.Errorf("%s exists already (gotrail verify --toolchain %s says whether it is intact; --force installs afresh and keeps it aside)", r.Dir, r.Dir)
		}
		if r.Aside, err = asideName(o.Prefix, "go"+v+"-replaced-", now); err != nil {
			return err
		}
		if err := os.Rename(r.Dir, r.Aside); err != nil {
			return fmt.Errorf("keep %s aside: %w", r.Dir, err)
		}
	}
	if err := os.Rename(tree, r.Dir); err != nil {
		return fmt.Errorf("install %s: %w", r.Dir, err)
	}
	return nil
}

// recordInstalled saves the link's state for --rollback and puts the
// link's bin on PATH in the profile o names.
func recordInstalled(o *Options, r *Result, now time.Time) error {
	if err := saveLink(o.StateDir, r.Link, linkState{Current: r.Dir, Previous: r.Previous, Changed: now.UTC()}); err != nil {
		return fmt.Errorf("installed %s, but saving the state for --rollback failed: %w", r.Dir, err)
	}
	if o.Profile != "" {
		changed, err := writeProfile(o.Profile, filepath.Join(r.Link, "bin"))
		if err != nil {
			return fmt.Errorf("installed %s, but %w", r.Dir, err)
		}
		if changed {
			r.Profile = o.Profile
		}
	}
	return nil
}

const stagingPrefix = ".gotrail-install-"

// removeStale removes the staging directories of attempts killed before
// they could clean up (SIGKILL, power loss); the state lock says no other
// install is running.
func removeStale(prefix string, log *slog.Logger) {
	old, _ := filepath.Glob(filepath.Join(prefix, stagingPrefix+"*"))
	for _, d := range old {
		if err := os.RemoveAll(d); err != nil {
			log.Warn("could not remove what an interrupted install left", "dir", d, "err", err)
		}
	}
}

// lockState takes STATE_DIR/install.lock: one install or rollback at a time.
func lockState(stateDir string) (func(), error) {
	if stateDir == "" {
		return nil, errors.New("no state directory")
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(stateDir, "install.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another gotrail install is running (it holds %s)", f.Name())
		}
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// fromProxy fetches the toolchain module, proves it by the checksum
// database and unpacks it into tree.
func fromProxy(ctx context.Context, o *Options, r *Result, v string, db *checksumDB, proxies []proxy, archive *os.File, tree string) error {
	m := module.Version{Path: ToolchainModule, Version: ModuleVersion(v, o.GOOS, o.GOARCH)}
	// what the checksum database says first: no download is worth making
	// when the database cannot vouch for it
	pf, err := db.lookup(m.Path, m.Version)
	if pf != nil {
		// also when refused: a forged tree head is the evidence
		r.SumDB = &event.SumDB{Name: db.name, URL: pf.url, Record: pf.record, Lines: pf.lines, TreeHead: pf.treeHead}
	}
	if err != nil {
		return err
	}
	epath, _ := module.EscapePath(m.Path)
	evers, _ := module.EscapeVersion(m.Version)
	start := time.Now()
	var lastErr error
	for _, p := range proxies {
		u := p.url + "/" + epath + "/@v/" + evers + ".zip"
		r.URL = redact(u)
		o.Log.Info("downloading", "url", r.URL)
		sha, n, err := download(ctx, o.HTTP, u, archive, maxArchive, o.Progress)
		if err == nil {
			r.ArchiveSHA256, r.Bytes, lastErr = sha, n, nil
			break
		}
		lastErr = err
		if ctx.Err() != nil || !(notFound(err) || p.anyError) {
			break
		}
	}
	r.Download = time.Since(start)
	if lastErr != nil {
		return lastErr
	}
	// The module hash is compared first, over the zip as downloaded:
	// nothing of a zip the database does not vouch for is unpacked. The
	// hash reads every file of the zip, so the sizes its central directory
	// declares (which bound what archive/zip inflates) are checked before.
	z, err := zip.OpenReader(archive.Name())
	if err != nil {
		return &RefusedError{Reason: fmt.Sprintf("the download from %s is not a module zip: %v", r.URL, err)}
	}
	err = checkZipSizes(&z.Reader, toolchainLimits)
	z.Close()
	if err != nil {
		reason := err.Error()
		var re *RefusedError
		if errors.As(err, &re) {
			reason = re.Reason
		}
		return &RefusedError{Reason: fmt.Sprintf("the download from %s, before hashing: %s", r.URL, reason)}
	}
	h, err := dirhash.HashZip(archive.Name(), dirhash.Hash1)
	if err != nil {
		return &RefusedError{Reason: fmt.Sprintf("the download from %s is not a module zip: %v", r.URL, err)}
	}
	r.ModuleHash = h
	if h != pf.hash {
		return &RefusedError{Reason: fmt.Sprintf("the download from %s does not match the checksum database %s: it hashes to %s, the database has %s for %s@%s",
			r.URL, db.name, h, pf.hash, m.Path, m.Version)}
	}
	// vouched for, and unpacked within toolchainLimits all the same
	start = time.Now()
	if err := extractModuleZip(archive.Name(), m, tree, toolchainLimits); err != nil {
		return err
	}
	r.Unpack = time.Since(start)
	return nil
}

// latestFromProxy lists golang.org/toolchain on the first proxy that has
// it and picks the newest stable release for goos/goarch.
func latestFromProxy(ctx context.Context, hc *http.Client, proxies []proxy, goos, goarch string) (string, error) {
	var lastErr error
	for _, p := range proxies {
		data, err := getBytes(ctx, hc, p.url+"/"+ToolchainModule+"/@v/list")
		if err != nil {
			lastErr = err
			if notFound(err) || p.anyError {
				continue
			}
			break
		}
		var vs []string
		suffix := "." + goos + "-" + goarch
		for _, l := range strings.Fields(string(data)) {
			if s, ok := strings.CutPrefix(l, "v0.0.1-go"); ok && strings.HasSuffix(s, suffix) {
				vs = append(vs, strings.TrimSuffix(s, suffix))
			}
		}
		if best := latestStable(vs); best != "" {
			return best, nil
		}
		lastErr = fmt.Errorf("%s lists no stable toolchain for %s/%s", redact(p.url), goos, goarch)
	}
	return "", fmt.Errorf("latest: %w", lastErr)
}
