package index

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/tsdb/models"
)

// TestSeriesWaitForTheirLogWrite checks what a batch of new series being
// written after the lock (see createSlow) may show: another writer finding
// those series does not return before the write ends, and when it fails
// both fail, the series are gone and existing series still take writes.
// The log's file is replaced by a pipe, whose writes block until the test
// reads them and whose fsync fails.
func TestSeriesWaitForTheirLogWrite(t *testing.T) {
	dir := t.TempDir()
	ix := mustOpenIndex(t, dir)
	mustCreate(t, ix, "cpu,host=a usage=1 1")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ix.mu.Lock()
	file := ix.log.f
	ix.log.f = w
	ix.mu.Unlock()

	// More records than the pipe buffers, so that the write blocks.
	var lp strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&lp, "cpu,host=h%04d,pad=%s usage=1 1\n", i, strings.Repeat("x", 50))
	}
	batch := func() []models.Point {
		var p models.Parser
		pts, err := p.Parse([]byte(lp.String()), 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		return pts
	}
	create := func(pts []models.Point, done chan<- error) {
		_, err := ix.CreateSeriesAndFields(pts, make([]uint64, len(pts)))
		done <- err
	}
	first, second := make(chan error, 1), make(chan error, 1)
	go create(batch(), first)
	for ix.SeriesN() < 2001 {
		time.Sleep(time.Millisecond)
	}
	// The series are in memory while their write is under way.
	go create(batch(), second)
	select {
	case err := <-second:
		t.Fatalf("a writer finding series whose log write was under way returned (error %v) before it ended", err)
	case <-time.After(100 * time.Millisecond):
	}
	go io.Copy(io.Discard, r)
	if err := <-first; err == nil {
		t.Errorf("batch whose log fsync failed: got nil error")
	}
	if err := <-second; err == nil {
		t.Errorf("batch finding series whose log fsync failed: got nil error")
	}
	if _, ok := ix.SeriesID([]byte("cpu,host=h0000,pad=" + strings.Repeat("x", 50))); ok || ix.SeriesN() != 1 {
		t.Errorf("series of a failed write are visible (found %v, SeriesN %d)", ok, ix.SeriesN())
	}
	if got := ix.MatchSeries([]byte("cpu"), TagMatch{Key: "pad", Op: Equal, Value: strings.Repeat("x", 50)}); len(got) != 0 {
		t.Errorf("postings of a failed write: got %d series; want none", len(got))
	}
	var p models.Parser
	pts, _ := p.Parse([]byte("cpu,host=a usage=2 2"), 1, 1)
	if _, err := ix.CreateSeriesAndFields(pts, make([]uint64, 1)); err != nil {
		t.Errorf("existing series after a log failure: got %v; want nil", err)
	}
	ix.mu.Lock()
	ix.log.f = file
	ix.mu.Unlock()
	w.Close()
	ix.Close()
	ix = mustOpenIndex(t, dir)
	defer ix.Close()
	if ix.SeriesN() != 1 {
		t.Errorf("SeriesN after reopen: got %d; want 1", ix.SeriesN())
	}
}
