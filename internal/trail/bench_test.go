package trail

import "testing"

// BenchmarkAppend is the trail's cost per event for gotrail watch: one line
// written (and, across processes, locked) per event, synced in batches.
func BenchmarkAppend(b *testing.B) {
	w, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	e := sampleEvent(1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := w.Append(e); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			if err := w.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
