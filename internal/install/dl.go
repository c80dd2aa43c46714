package install

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"
)

// dlRelease is one release of the go.dev/dl JSON index.
type dlRelease struct {
	Version string   `json:"version"` // go1.22.5
	Stable  bool     `json:"stable"`
	Files   []dlFile `json:"files"`
}

type dlFile struct {
	Filename string `json:"filename"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Version  string `json:"version"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	Kind     string `json:"kind"` // archive, installer, source
}

// fetchIndex reads BASE?mode=json&include=all.
func fetchIndex(ctx context.Context, o *Options) ([]dlRelease, error) {
	u := strings.TrimSuffix(o.DLURL, "/") + "/?mode=json&include=all"
	data, err := getBytes(ctx, o.HTTP, u)
	if err != nil {
		return nil, fmt.Errorf("go.dev/dl index: %w", err)
	}
	var idx []dlRelease
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("go.dev/dl index %s: %w", redact(u), err)
	}
	return idx, nil
}

func latestFromIndex(idx []dlRelease, goos, goarch string) (string, error) {
	var vs []string
	for _, rel := range idx {
		if rel.Stable && findArchive(idx, strings.TrimPrefix(rel.Version, "go"), goos, goarch) != nil {
			vs = append(vs, strings.TrimPrefix(rel.Version, "go"))
		}
	}
	if best := latestStable(vs); best != "" {
		return best, nil
	}
	return "", fmt.Errorf("latest: the go.dev/dl index lists no stable archive for %s/%s", goos, goarch)
}

func findArchive(idx []dlRelease, v, goos, goarch string) *dlFile {
	for _, rel := range idx {
		if rel.Version != "go"+v {
			continue
		}
		for i, f := range rel.Files {
			if f.Kind == "archive" && f.OS == goos && f.Arch == goarch && strings.HasSuffix(f.Filename, ".tar.gz") {
				return &rel.Files[i]
			}
		}
	}
	return nil
}

// fromDL downloads the release archive named by the go.dev/dl index, checks
// its sha256 against the index and unpacks it into tree.
func fromDL(ctx context.Context, o *Options, r *Result, v string, idx []dlRelease, archive *os.File, tree string) error {
	var err error
	if idx == nil {
		if idx, err = fetchIndex(ctx, o); err != nil {
			return err
		}
	}
	f := findArchive(idx, v, o.GOOS, o.GOARCH)
	if f == nil {
		return fmt.Errorf("the go.dev/dl index at %s has no archive of go%s for %s/%s", redact(o.DLURL), v, o.GOOS, o.GOARCH)
	}
	if f.Filename == "" || strings.ContainsAny(f.Filename, "/\\?#%") || strings.HasPrefix(f.Filename, ".") || len(f.SHA256) != 64 {
		return &RefusedError{Reason: fmt.Sprintf("the go.dev/dl index names a bad archive %q (sha256 %q)", f.Filename, f.SHA256)}
	}
	u := strings.TrimSuffix(o.DLURL, "/") + "/" + url.PathEscape(f.Filename)
	r.URL = redact(u)
	o.Log.Info("downloading", "url", r.URL)
	start := time.Now()
	sha, n, err := download(ctx, o.HTTP, u, archive, maxArchive, o.Progress)
	r.Download = time.Since(start)
	if err != nil {
		return err
	}
	r.ArchiveSHA256, r.Bytes = sha, n
	// compared over the archive as downloaded, before a byte of it is
	// inflated
	if !strings.EqualFold(sha, f.SHA256) {
		return &RefusedError{Reason: fmt.Sprintf("the download from %s has sha256 %s, the go.dev/dl index says %s", r.URL, sha, f.SHA256)}
	}
	if _, err := archive.Seek(0, io.SeekStart); err != nil {
		return err
	}
	start = time.Now()
	if err := extractTarGz(archive, tree, toolchainLimits); err != nil {
		return err
	}
	r.Unpack = time.Since(start)
	return nil
}
