package install

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/event"
)

// deflatedZeros is a raw deflate stream of n zero bytes: one compressed MiB
// repeated, then the rest. A sync flush ends the MiB on a byte boundary and
// not as the last block, and its back references stay inside it, so copies
// of it follow one another as they are; the rest may refer back to zeros,
// which it always finds. It is what a bomb is: KiBs that inflate to GiBs,
// made in a millisecond.
func deflatedZeros(t testing.TB, n int64) []byte {
	t.Helper()
	const mib = 1 << 20
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	if n >= mib {
		w.Write(make([]byte, mib))
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		out = bytes.Repeat(buf.Bytes(), int(n/mib))
		buf.Reset()
	}
	w.Write(make([]byte, n%mib))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return append(out, buf.Bytes()...)
}

// zerosCRC is the CRC-32 of n zero bytes.
func zerosCRC(n int64) uint32 {
	zeros := make([]byte, 1<<20)
	var c uint32
	for ; n > 0; n -= int64(len(zeros)) {
		c = crc32.Update(c, crc32.IEEETable, zeros[:min(n, int64(len(zeros)))])
	}
	return c
}

// bomb is a file of an archive: size zero bytes.
type bomb struct {
	name string
	size int64
}

// bombZip is a zip of the files, honest about their sizes.
func bombZip(t testing.TB, files []bomb) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	raw := map[int64][]byte{}
	for _, f := range files {
		if raw[f.size] == nil {
			raw[f.size] = deflatedZeros(t, f.size)
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: f.name, Method: zip.Deflate, CRC32: zerosCRC(f.size),
			CompressedSize64: uint64(len(raw[f.size])), UncompressedSize64: uint64(f.size)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(raw[f.size]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bombTarGz is a .tar.gz of the files, as gzip members one after the other
// (which gzip readers read as one stream): each tar header alone, then the
// zeros of the file, its padding and, at the end, the two zero blocks.
func bombTarGz(t testing.TB, files []bomb) []byte {
	t.Helper()
	var out bytes.Buffer
	for i, f := range files {
		var hdr bytes.Buffer
		tw := tar.NewWriter(&hdr)
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: f.size}); err != nil {
			t.Fatal(err)
		}
		tw.Flush() // the header only: its body is the zeros that follow
		gz := gzip.NewWriter(&out)
		gz.Write(hdr.Bytes())
		gz.Close()
		zeros := f.size + (512-f.size%512)%512
		if i == len(files)-1 {
			zeros += 1024
		}
		gzipZeros(t, &out, zeros)
	}
	return out.Bytes()
}

// gzipZeros appends a gzip member of n zero bytes to w.
func gzipZeros(t testing.TB, w *bytes.Buffer, n int64) {
	w.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	w.Write(deflatedZeros(t, n))
	w.Write(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, zerosCRC(n)), uint32(n)))
}

// TestUnpackCaps: an archive that inflates past the caps is refused, naming
// the file and the cap, whatever vouches for it; the module zip before
// anything of it is written, the .tar.gz before the file that goes over.
// At the toolchain's own caps where that writes little, at small ones
// where it would write a GiB.
func TestUnpackCaps(t *testing.T) {
	small := unpackLimits{total: 3 << 20, file: 2 << 20, files: 8}
	pre := ToolchainModule + "@" + testModule.Version + "/"
	for _, tt := range []struct {
		name  string
		tar   bool // a go.dev/dl .tar.gz, else a module zip
		lim   unpackLimits
		files []bomb
		want  string // in the refusal; "" for none
	}{
		{name: "zip: a file over the cap on one file", lim: toolchainLimits,
			files: []bomb{{"bin/go", 10}, {"bin/huge", maxUnpackedFile + 1}},
			want:  pre + "bin/huge unpacks to 268435457 bytes, over the cap of 256 MiB on one file"},
		{name: "zip: files over the cap on a toolchain", lim: toolchainLimits,
			files: []bomb{{"a", maxUnpackedFile}, {"b", maxUnpackedFile}, {"c", maxUnpackedFile}, {"d", maxUnpackedFile}, {"e", maxUnpackedFile}},
			want:  pre + "e (268435456 bytes) takes what is unpacked over the cap of 1 GiB on a whole toolchain"},
		{name: "tar: a file over the cap on one file", tar: true, lim: toolchainLimits,
			files: []bomb{{"go/bin/go", 10}, {"go/bin/huge", maxUnpackedFile + 1}},
			want:  "go/bin/huge unpacks to 268435457 bytes, over the cap of 256 MiB on one file"},

		{name: "zip: at the caps", lim: small, files: []bomb{{"a", 2 << 20}, {"b", 1 << 20}}},
		{name: "zip: over the file cap by a byte", lim: small,
			files: []bomb{{"a", 2<<20 + 1}}, want: pre + "a unpacks to 2097153 bytes, over the cap of 2 MiB on one file"},
		{name: "zip: over the total by a byte", lim: small,
			files: []bomb{{"a", 2 << 20}, {"b", 1 << 20}, {"c", 1}}, want: pre + "c (1 bytes) takes what is unpacked over the cap of 3 MiB"},
		{name: "zip: too many files", lim: small,
			files: []bomb{{"a", 0}, {"b", 0}, {"c", 0}, {"d", 0}, {"e", 0}, {"f", 0}, {"g", 0}, {"h", 0}, {"i", 0}},
			want:  pre + "i takes the files and directories unpacked over the cap of 8"},
		{name: "zip: the directories of a deep name count", lim: small,
			files: []bomb{{"a/b/c/d/e/f/g/h", 0}, {"a/b/c/d/e/f/g/i", 0}},
			want:  pre + "a/b/c/d/e/f/g/i takes the files and directories unpacked over the cap of 8"},
		{name: "zip: the go.mod copies count", lim: small,
			files: []bomb{{"a", 2 << 20}, {"src/_go.mod", 1 << 19}, {"src/cmd/_go.mod", 1 << 19}},
			want:  pre + "src/go.mod (524288 bytes) takes what is unpacked over the cap of 3 MiB"},
		{name: "tar: the directories of a deep name count", tar: true, lim: small,
			files: []bomb{{"go/a/b/c/d/e/f/g/h", 0}, {"go/a/b/c/d/e/f/g/i", 0}},
			want:  "go/a/b/c/d/e/f/g/i takes the files and directories unpacked over the cap of 8"},
		{name: "tar: at the caps", tar: true, lim: small, files: []bomb{{"go/a", 2 << 20}, {"go/b", 1 << 20}}},
		{name: "tar: over the file cap by a byte", tar: true, lim: small,
			files: []bomb{{"go/a", 2<<20 + 1}}, want: "go/a unpacks to 2097153 bytes, over the cap of 2 MiB on one file"},
		{name: "tar: over the total by a byte", tar: true, lim: small,
			files: []bomb{{"go/a", 2 << 20}, {"go/b", 1 << 20}, {"go/c", 1}}, want: "go/c (1 bytes) takes what is unpacked over the cap of 3 MiB"},
		{name: "tar: too many files", tar: true, lim: small,
			files: []bomb{{"go/a", 0}, {"go/b", 0}, {"go/c", 0}, {"go/d", 0}, {"go/e", 0}, {"go/f", 0}, {"go/g", 0}, {"go/h", 0}, {"go/i", 0}},
			want:  "go/i takes the files and directories unpacked over the cap of 8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dst := filepath.Join(base, "go") // base is the staging directory
			var err error
			if tt.tar {
				err = extractTarGz(bytes.NewReader(bombTarGz(t, tt.files)), dst, tt.lim)
			} else {
				var files []bomb
				for _, f := range tt.files {
					files = append(files, bomb{pre + f.name, f.size})
				}
				zp := filepath.Join(base, "m.zip")
				if err := os.WriteFile(zp, bombZip(t, files), 0o600); err != nil {
					t.Fatal(err)
				}
				err = extractModuleZip(zp, testModule, dst, tt.lim)
			}
			written := unpackedBytes(t, dst)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				var want int64
				for _, f := range tt.files {
					want += f.size
				}
				if written != want {
					t.Fatalf("unpacked %d bytes, want %d", written, want)
				}
				return
			}
			var re *RefusedError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want refused: %s", err, tt.want)
			}
			if written > tt.lim.total {
				t.Errorf("unpacked %d bytes before refusing, over the cap of %d", written, tt.lim.total)
			}
			if !tt.tar {
				if _, err := os.Stat(dst); err == nil {
					t.Errorf("refused, but %s was made: %v", dst, listDir(t, dst))
				}
			}
			// the file that went over is never written, not even in part
			over := strings.TrimPrefix(strings.TrimPrefix(tt.want, pre), "go/")
			over, _, _ = strings.Cut(over, " ")
			if _, err := os.Lstat(filepath.Join(dst, over)); err == nil {
				t.Errorf("%s was written", over)
			}
		})
	}
}

// unpackedBytes adds up the sizes of the files under dir.
func unpackedBytes(t testing.TB, dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// TestDeflatedZeros: the bombs above are what they claim to be.
func TestDeflatedZeros(t *testing.T) {
	for _, n := range []int64{0, 1, 1<<20 - 1, 1 << 20, 3<<20 + 7} {
		got, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflatedZeros(t, n))))
		if err != nil || int64(len(got)) != n || bytes.IndexFunc(got, func(r rune) bool { return r != 0 }) >= 0 {
			t.Errorf("%d zeros: inflated to %d bytes, %v", n, len(got), err)
		}
	}
	tgz := bombTarGz(t, []bomb{{"go/a", 1<<20 + 3}, {"go/b", 5}})
	gz, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for _, want := range []bomb{{"go/a", 1<<20 + 3}, {"go/b", 5}} {
		h, err := tr.Next()
		if err != nil || h.Name != want.name || h.Size != want.size {
			t.Fatalf("tar: %+v, %v; want %v", h, err, want)
		}
		if n, err := io.Copy(io.Discard, tr); n != want.size || err != nil {
			t.Fatalf("tar %s: %d bytes, %v", want.name, n, err)
		}
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Fatalf("tar end: %v", err)
	}
}

// TestBombsRefusedOnInstall: through Install, a zip the checksum database
// does not vouch for is refused on its hash before anything of it is
// unpacked, and one that it does vouch for (or a .tar.gz whose sha256 the
// go.dev/dl index has) is refused by the caps all the same. Nothing is
// left under the prefix.
func TestBombsRefusedOnInstall(t *testing.T) {
	pre := ToolchainModule + "@" + ModuleVersion("1.22.5", "linux", "amd64") + "/"
	huge := bomb{pre + "bin/huge", maxUnpackedFile + 1}
	t.Run("proxy, not vouched for", func(t *testing.T) {
		p := newFakeProxy(t)
		p.add(t, "1.22.5", bombZip(t, []bomb{{pre + "VERSION", 8}, {pre + "bin/zeros", 64 << 20}}), toolchainZip(t, "1.22.5"))
		o := p.options(t, "1.22.5")
		r, err := Install(context.Background(), o)
		if !r.Refused() || !strings.Contains(err.Error(), "does not match the checksum database") {
			t.Fatalf("got %v", err)
		}
		if r.Unpack != 0 || r.Files != 0 {
			t.Errorf("unpacked (%s, %d files) before the hash was compared", r.Unpack, r.Files)
		}
		if got := listDir(t, o.Prefix); len(got) != 0 {
			t.Fatalf("left under the prefix: %v", got)
		}
	})
	t.Run("proxy, vouched for", func(t *testing.T) {
		p := newFakeProxy(t)
		p.add(t, "1.22.5", bombZip(t, []bomb{{pre + "VERSION", 8}, huge}), nil)
		o := p.options(t, "1.22.5")
		r, err := Install(context.Background(), o)
		want := "before hashing: unsafe archive: " + huge.name + " unpacks to 268435457 bytes, over the cap of 256 MiB"
		if !r.Refused() || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p.URL) {
			t.Fatalf("got %v, want refused: the download from %s… %s", err, p.URL, want)
		}
		if got := listDir(t, o.Prefix); len(got) != 0 {
			t.Fatalf("left under the prefix: %v", got)
		}
	})
	t.Run("dl", func(t *testing.T) {
		srv := dlServer(t, map[string][]byte{"1.22.5": bombTarGz(t, []bomb{{"go/VERSION", 8}, {"go/bin/huge", maxUnpackedFile + 1}})}, nil)
		o := Options{Version: "1.22.5", Source: "dl", DLURL: srv.URL + "/dl/", Prefix: t.TempDir(), StateDir: t.TempDir(), GOOS: "linux", GOARCH: "amd64"}
		r, err := Install(context.Background(), o)
		if !r.Refused() || !strings.Contains(err.Error(), "go/bin/huge unpacks to 268435457 bytes, over the cap of 256 MiB") {
			t.Fatalf("got %v", err)
		}
		if got := listDir(t, o.Prefix); len(got) != 0 {
			t.Fatalf("left under the prefix: %v", got)
		}
	})
}

// TestEventHidesProxyCredentials: a GOPROXY with credentials never reaches
// the record: not its URL, error or message.
func TestEventHidesProxyCredentials(t *testing.T) {
	r := &Result{Action: "install", Version: "go1.22.5", Source: "proxy",
		URL: "https://alice:hun/ter2@goproxy.corp/golang.org/toolchain/@v/v0.0.1-go1.22.5.linux-amd64.zip",
		Err: errors.New("GET https://alice:hun/ter2@goproxy.corp/golang.org/toolchain/@v/list: 503")}
	e := r.Event(Who{Host: "web-01", UID: "0", User: "root"}, time.Now())
	b := event.AppendJSON(nil, e)
	if bytes.Contains(b, []byte("ter2")) || !bytes.Contains(b, []byte("https://xxxxx@goproxy.corp/golang.org/toolchain/@v/v0.0.1-go1.22.5.linux-amd64.zip")) {
		t.Errorf("the record holds the proxy's password:\n%s", b)
	}
}
