package trail

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A line cut short by a crash that the tail has read in part, then
// repaired by a Writer (cut, and the record written again): what the tail
// hands over is the record as the trail holds it, never the old half
// glued to the new line's end.
func TestTailAcrossARepair(t *testing.T) {
	dir := t.TempDir()
	writeTrail(t, dir, 5)
	other := t.TempDir()
	writeTrail(t, other, 6)
	segs, _ := segments(filepath.Join(other, dirName))
	data, _ := os.ReadFile(segs[len(segs)-1])
	theirs := data[len(data)-1-lastLineLen(data):]
	mine, _ := segments(filepath.Join(dir, dirName))
	f, _ := os.OpenFile(mine[len(mine)-1], os.O_WRONLY|os.O_APPEND, 0)
	f.Write(append([]byte("{\"padding\":\""+string(bytes.Repeat([]byte("x"), 200))+"\","), theirs[1:len(theirs)/2]...))
	f.Close()
	tl, err := OpenTail(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	if next := drain(t, tl, 1); next != 6 {
		t.Fatalf("read up to %d", next-1)
	}
	w, err := Open(dir, Options{MaxSegment: 1 << 20}) // cuts the half line
	if err != nil {
		t.Fatal(err)
	}
	w.Append(sampleEvent(6))
	w.Close()
	var got []byte
	for {
		r, err := tl.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append([]byte(nil), r.Line...)
	}
	var want []byte
	Read(dir, func(l []byte) error { want = append([]byte(nil), l...); return nil })
	if !bytes.Equal(got, want) {
		t.Fatalf("after the repair the tail read\n %.120q…\nthe trail holds\n %.120q…", got, want)
	}
}
