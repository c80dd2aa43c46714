package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gotrail/gotrail/internal/sink"
)

// block is how many records of one host are written together: the stream
// interleaves hosts, as one collector file of many hosts does.
const block = 100

var cpTime = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// generate writes the whole fleet's stream to w, hashing each host's chain
// on every CPU; it returns the bytes written.
func (f *fleet) generate(w io.Writer) (int64, error) {
	workers := max(runtime.NumCPU(), 1)
	chunks := make(chan []byte, 4*workers)
	free := make(chan []byte, 8*workers) // chunks' buffers, used again
	var wg sync.WaitGroup
	for k := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.work(k, workers, chunks, free)
		}()
	}
	go func() {
		wg.Wait()
		close(chunks)
	}()
	var n int64
	var werr error
	for c := range chunks {
		if werr == nil {
			m, err := w.Write(c)
			n, werr = n+int64(m), err
		}
		select {
		case free <- c[:0]:
		default:
		}
	}
	return n, werr
}

// work generates the hosts k, k+workers, … block by block.
func (f *fleet) work(k, workers int, chunks chan<- []byte, free chan []byte) {
	var mine []int
	for i := k; i < f.hosts; i += workers {
		mine = append(mine, i+1)
	}
	prev := make([][64]byte, len(mine))
	for i := range prev {
		copy(prev[i][:], []byte(genesis))
	}
	scratch := make([]byte, 0, 4096)
	for from := 1; from <= f.records; from += block {
		for i, h := range mine {
			var b []byte
			select {
			case b = <-free:
			default:
				b = make([]byte, 0, 256<<10)
			}
			b, scratch = f.chunk(b, scratch, hostName(h), from, &prev[i])
			chunks <- b
		}
	}
}

const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// chunk appends records from..from+block-1 of host, and the checkpoints
// due among them.
func (f *fleet) chunk(b, scratch []byte, host string, from int, prev *[64]byte) ([]byte, []byte) {
	for seq := from; seq < from+block && seq <= f.records; seq++ {
		t := (seq - 1) % len(f.canons)
		canon := append(scratch[:0], f.canons[t]...)
		copy(canon[f.nameAt[t]:], host)
		sum := sha256.New()
		sum.Write(prev[:])
		sum.Write(canon)
		var hash [64]byte
		hex.Encode(hash[:], sum.Sum(nil))
		b = fmt.Appendf(b, `<85>1 2026-11-25T20:16:49.006Z %s gotrail - goenv.modify [gotrail@32473 payload="trail" seq="%d" hash="%s" severity="medium"] `, host, seq, hash[:])
		b = append(b, canon[:len(canon)-1]...)
		b = append(b, `,"trail":{"seq":`...)
		b = strconv.AppendInt(b, int64(seq), 10)
		b = append(b, `,"prev":"`...)
		b = append(b, prev[:]...)
		b = append(b, `","hash":"`...)
		b = append(b, hash[:]...)
		b = append(b, "\"}}\n"...)
		*prev = hash
		scratch = canon
		if seq%f.every == 0 || seq == f.records {
			b = f.checkpoint(b, host, seq, string(hash[:]))
		}
	}
	return b, scratch
}

func (f *fleet) checkpoint(b []byte, host string, seq int, hash string) []byte {
	text := fmt.Sprintf("gotrail trail checkpoint\n%s\n%d\n%s\n%s\n", host, seq, hash, cpTime.Format(time.RFC3339))
	msg, err := note.Sign(&note.Note{Text: text}, f.signer)
	if err != nil {
		// the verifier then finds the host unproven, and the run fails
		slog.Error("bench/collected: sign a checkpoint", "host", host, "seq", seq, "err", err)
		return b
	}
	b = sink.RFC5424{}.Append(b, sink.Checkpoint(host, uint64(seq), hash, cpTime, msg))
	return append(b, '\n')
}
