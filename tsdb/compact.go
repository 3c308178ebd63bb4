package tsdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/strata-db/strata/internal/durable"

	"github.com/strata-db/strata/tsdb/tsm"
)

const (
	// levelRun is how many adjacent files of one level trigger a compaction
	// into the next level (InfluxDB compacts L1 files in groups of 4-8).
	levelRun = 4
	// maxRun bounds the inputs of one level compaction.
	maxRun = 8
	// maxPlannedLevel is the highest level a level compaction produces;
	// full compactions go above it.
	maxPlannedLevel = 4
	// sparseLevelRun is the run of sparse level-1 files (fewer than
	// sparseValuesPerKey values per key) that triggers their compaction.
	// A burst of new series makes such files: a snapshot of a million
	// series holds a value or two per key, so a compaction rewrites a
	// key's block and index entry for each value, once per level. Merging
	// them in runs of 16 rather than 4 rewrites each key once where runs
	// of 4 rewrote it two or three times during the burst (issue 17).
	sparseLevelRun = 16
	// sparseMaxRun is the run of sparse level-1 files that triggers their
	// compaction while ingest outruns the snapshots (see sparseHot), and
	// the most one compaction merges. Such a burst is CPU-bound, and
	// merging its files then only takes the CPU from the snapshots the
	// writers depend on; the merge waits for the burst to ease, up to
	// this bound on the file count (a point read pays a lookup in each
	// file: ~0.2 µs CPU a file).
	sparseMaxRun = 64
	// sparseHot is how long after ingest last outran the snapshots (a
	// write left the live cache full while a snapshot was being written,
	// a writer waited for cache room, or a snapshot was split into
	// parts) or the last snapshot of a burst of new series (see
	// sparseBurstFill) sparse level-1 runs wait for sparseMaxRun files.
	sparseHot = 10 * time.Second
	// sparseBurstFill: a snapshot of sparse files whose cache filled
	// within this time of the previous snapshot's end is of a burst of
	// new series (at a million series a cache fills in about half a
	// second).
	sparseBurstFill = 2 * time.Second
	// sparseValuesPerKey is the average values per key under which a
	// level-1 file of at least sparseMinKeys keys is sparse.
	sparseValuesPerKey = 4
	sparseMinKeys      = 10_000
	// mediumValuesPerKey is the average values per key under which a
	// level-1 file of at least sparseMinKeys keys that is not sparse is
	// medium-sparse: the snapshots of ten thousand series hold ~10 values
	// a key, and runs of levelRun decoded and encoded each value again at
	// levels 2, 3 and 4 on its way to blocks of hundreds of values, 2 of
	// the 7 CPU-seconds of the 10 k-series load (issue 17). Such files
	// merge in runs of mediumLevelRun, of up to ~1000 values a key (a
	// full block, tsm.MaxPointsPerBlock) from files of fewer than 64.
	mediumValuesPerKey = 64
	// mediumLevelRun is the run of medium-sparse level-1 files that
	// triggers their compaction, and the most one compaction merges. It
	// is levelRun squared: such a run is written at level 3, as if two
	// levels of runs of levelRun had merged it, so each value is encoded
	// twice on its way to level 4 where it was encoded three times.
	mediumLevelRun = levelRun * levelRun
	// sparseIdle is how long a shard must go without writes before a run
	// of sparse level-1 files shorter than sparseLevelRun (but at least
	// levelRun) is compacted anyway.
	sparseIdle = time.Minute
)

// errCompactionAborted is returned when Close interrupts a compaction.
var errCompactionAborted = errors.New("compaction aborted by close")

// Compact runs one compaction now: with full, every file is merged into one
// (applying all tombstones, which are then dropped); otherwise the planner's
// next level compaction, if any. Writes continue meanwhile. Safe for
// concurrent use (compactions of a shard serialize).
func (s *Shard) Compact(full bool) error {
	if s.closed.Load() {
		return ErrEngineClosed
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	if full {
		return s.compactFull()
	}
	inputs, level := s.planLevel()
	if inputs == nil {
		return nil
	}
	return s.compact(inputs, level, false)
}

// compactPlanned is the background planner's step: level compactions
// while there are any, then a full compaction of a cold shard.
func (s *Shard) compactPlanned(cold bool) {
	select {
	case s.compSem <- struct{}{}:
	default:
		return // the Store's compaction slots are busy; try next tick
	}
	defer func() { <-s.compSem }()
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	s.settleTombstones()
	var err error
	if inputs, level := s.planLevel(); inputs != nil {
		err = s.compact(inputs, level, false)
	} else if cold {
		err = s.compactFull()
	}
	if err != nil && !errors.Is(err, ErrEngineClosed) && !errors.Is(err, errCompactionAborted) {
		s.metrics.compactionError.Inc()
		s.logger.Error("compaction failed", "err", err)
	}
}

// planLevel returns the first run of at least levelRun adjacent files of
// one level below maxPlannedLevel, and the level to write. Adjacent in
// sequence order matters: merging non-adjacent files would let the output
// (which takes its newest input's sequence) shadow a newer file between
// them. A run of sparse level-1 files waits until it is sparseLevelRun
// long (sparseMaxRun while ingest outruns the snapshots or a burst of new
// series goes on) or the shard has been idle for sparseIdle, and merges up
// to sparseMaxRun files; a run of medium-sparse ones waits until it is
// mediumLevelRun long or the shard has been idle for sparseIdle, and
// merges up to mediumLevelRun files into level 3.
func (s *Shard) planLevel() ([]*dataFile, int) {
	hot := time.Since(time.Unix(0, max(s.lastBehind.Load(), s.lastBurst.Load()))) < sparseHot
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := 0; i < len(s.files); {
		j, class := i, sizeClass(s.files[i])
		for j < len(s.files) && s.files[j].level == s.files[i].level && sizeClass(s.files[j]) == class {
			j++
		}
		lvl, run, width := s.files[i].level, levelRun, maxRun
		switch class {
		case classSparse:
			run, width = sparseLevelRun, sparseMaxRun
			if hot {
				run = sparseMaxRun
			}
		case classMedium:
			run, width = mediumLevelRun, mediumLevelRun
		}
		if class != classDense && s.idle() >= sparseIdle {
			run = levelRun
		}
		if lvl < maxPlannedLevel && j-i >= run {
			out := lvl + 1
			if class == classMedium {
				// As many values a key as two levels of runs of
				// levelRun would hold, in one merge; a run merged
				// idle goes to level 3 too, next to the runs before
				// and after it (a level-2 file between them would
				// keep them from merging into level 4).
				out = lvl + 2
			}
			return slices.Clone(s.files[i:min(j, i+width)]), out
		}
		i = j
	}
	// Files of one level whose classes alternate (their values a key
	// hover at a class bound) make no run of one class: merge them once
	// they are sparseMaxRun long, so that a point read's file count stays
	// bounded.
	for i := 0; i < len(s.files); {
		j := i
		for j < len(s.files) && s.files[j].level == s.files[i].level {
			j++
		}
		if lvl := s.files[i].level; lvl < maxPlannedLevel && j-i >= sparseMaxRun {
			return slices.Clone(s.files[i : i+sparseMaxRun]), lvl + 1
		}
		i = j
	}
	return nil, 0
}

// The size classes of data files the planner merges in runs of different
// lengths (sizeClass).
const (
	classDense = iota
	classMedium
	classSparse
)

// sizeClass returns classSparse for a sparse file, classMedium for a
// level-1 file of at least sparseMinKeys keys of fewer than
// mediumValuesPerKey values on average, and classDense for any other
// (a file whose value count is unknown included).
func sizeClass(f *dataFile) int {
	keys, values := int64(f.r.KeyCount()), f.values
	switch {
	case f.level != 1 || keys < sparseMinKeys || values < 0 || values >= mediumValuesPerKey*keys:
		return classDense
	case values < sparseValuesPerKey*keys:
		return classSparse
	}
	return classMedium
}

// sparse reports whether f is a level-1 file of many keys of few values
// (a file whose value count is unknown is not: one a list of validated
// files written before value counts were listed).
func sparse(f *dataFile) bool {
	keys, values := int64(f.r.KeyCount()), f.values
	return f.level == 1 && keys >= sparseMinKeys && values >= 0 && values < sparseValuesPerKey*keys
}

// compactFull merges every file into one when there is more than one file
// or any tombstone to apply.
func (s *Shard) compactFull() error {
	s.mu.RLock()
	inputs := slices.Clone(s.files)
	s.mu.RUnlock()
	s.settleTombstones()
	pending := slices.ContainsFunc(s.tombs.all(), func(t Tombstone) bool { return !t.Applied })
	if len(inputs) == 0 || (len(inputs) == 1 && (!pending || s.tombDrop != nil)) {
		return nil
	}
	level := 0
	for _, f := range inputs {
		level = max(level, f.level)
	}
	return s.compact(inputs, max(level+1, 2), true)
}

// compact merges inputs (adjacent in sequence order, oldest first) into one
// file of the given level, named by the newest input's sequence, applying
// overwrites and the tombstones that concern each input.
func (s *Shard) compact(inputs []*dataFile, level int, full bool) error {
	tombs := s.tombs.all()
	nTombs := len(tombs)
	id := fileID{minSeq: inputs[0].minSeq, seq: inputs[len(inputs)-1].seq, level: level}
	for _, f := range inputs {
		id.minSeq, id.seq = min(id.minSeq, f.minSeq), max(id.seq, f.seq)
	}
	path := filepath.Join(s.dir, dataFileName(id.minSeq, id.seq, id.level))
	start := time.Now()
	w, err := tsm.NewWriter(path)
	if err != nil {
		return fmt.Errorf("compact shard %d: %w", s.id, err)
	}
	dm := newDigestMerge(inputs, path, s.dig.window)
	if err := s.mergeInto(w, dm, inputs, tombs, start); err != nil {
		dm.close()
		_ = w.Remove()
		return fmt.Errorf("compact shard %d into %s: %w", s.id, path, err)
	}
	if err := w.Close(); err != nil {
		dm.close()
		_ = w.Remove()
		return fmt.Errorf("compact shard %d: %w", s.id, err)
	}
	s.finishDigestFile(dm.finish())
	out, err := openWrittenFile(w, id)
	if err != nil {
		return fmt.Errorf("compact shard %d: reopen %s: %w", s.id, path, err)
	}
	if err := s.replaceFiles(inputs, []*dataFile{out}); err != nil {
		out.obsolete.Store(true)
		out.release()
		return fmt.Errorf("compact shard %d: %w", s.id, err)
	}
	if full {
		paths := make([]string, len(inputs))
		for i, f := range inputs {
			paths[i] = f.path
		}
		s.tombDrop = &tombstoneDrop{n: nTombs, out: out, inputs: paths}
		s.settleTombstones()
	}
	s.metrics.compactions.WithLabelValues(strconv.Itoa(level)).Inc()
	s.logger.Info("compacted files", "inputs", len(inputs), "level", level,
		"bytes", out.size, "duration", time.Since(start))
	return nil
}

// tombstoneDrop is the tombstone bookkeeping of a full compaction, waiting
// for the compaction's inputs to be deleted from disk.
type tombstoneDrop struct {
	n      int       // the first n tombstones were applied
	out    *dataFile // the compaction output
	inputs []string  // input paths that must be gone first
}

// settleTombstones runs on every planner tick and compaction. It finishes
// a pending full compaction's tombstone bookkeeping once that compaction's
// inputs are deleted (readers may still hold them) and the deletion is
// durable: marking a tombstone applied (no longer filtering reads) while an
// input could reappear after a crash would resurrect deleted data. Of the
// tombstones the compaction applied, those no other file or pending snapshot
// still needs are marked applied. Applied tombstones older than
// Config.TombstoneRetention are dropped. The caller holds compactMu.
func (s *Shard) settleTombstones() {
	expire := time.Now().Add(-time.Duration(s.cfg.TombstoneRetention)).UnixNano()
	n, apply := 0, func(*Tombstone) bool { return false }
	d := s.tombDrop
	if d != nil && s.inputsGone(d.inputs) {
		s.mu.RLock()
		minSeq := uint64(1<<64 - 1)
		for _, f := range s.files {
			if f != d.out {
				minSeq = min(minSeq, f.seq)
			}
		}
		if s.snap != nil {
			minSeq = min(minSeq, s.snap.seq)
		}
		s.mu.RUnlock()
		n, apply = d.n, func(t *Tombstone) bool { return t.Seq <= minSeq }
	}
	if err := s.tombs.settle(n, apply, expire); err != nil {
		s.logger.Warn("settling tombstones failed", "err", err)
		return
	}
	if n > 0 {
		s.tombDrop = nil
	}
}

// inputsGone reports whether every path is deleted, durably.
func (s *Shard) inputsGone(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			return false
		}
	}
	if err := durable.SyncDir(s.dir); err != nil {
		s.logger.Warn("sync shard dir failed", "err", err)
		return false
	}
	return true
}

// mergeInto writes the merged content of inputs to w, and their digest
// records to dm. It walks the inputs' key iterators side by side (each
// file is sorted by (series, field)), so it holds no key set: collecting
// and sorting every key of the inputs cost gigabytes and most of the
// compaction's CPU at a million series (issue 17).
//
// When the smallest key is at one input only, that input's keys are copied
// one after another, block bytes unchanged, for as long as they sort before
// every other input's current key (a run), with one comparison per key and
// no heap operation. The snapshots of a burst of new series hold disjoint
// sets of series, and the keys of one input come in runs of thousands.
func (s *Shard) mergeInto(w *tsm.Writer, dm *digestMerge, inputs []*dataFile, tombs []Tombstone, start time.Time) error {
	its := make([]*tsm.Iterator, len(inputs))
	next := keyHeap{its: its}
	for i, f := range inputs {
		its[i] = f.r.Iterator()
		if its[i].Next() {
			next.push(i)
			dm.next(i)
		}
	}
	m := keyMerger{s: s, w: w, dm: dm, inputs: inputs, its: its, tombs: tombs, start: start,
		throttled: -throttleCheckBytes, metas: make([][]tsm.BlockMeta, len(inputs)),
		accs: make([]tsm.Array, len(inputs))}
	defer dropInputPages(inputs)
	var at []int // the inputs at the current key, in input order
	for len(next.idx) > 0 {
		i := next.pop()
		if len(next.idx) == 0 || m.before(i, next.idx[0]) {
			// Only input i holds the smallest key: copy its run.
			for {
				if err := m.copyKey(i); err != nil {
					return err
				}
				if !its[i].Next() {
					break
				}
				dm.next(i)
				if len(next.idx) > 0 && !m.before(i, next.idx[0]) {
					next.push(i)
					break
				}
			}
			continue
		}
		// The smallest key's bytes alias input i's mapping or iterator
		// buffer: valid until input i's next Next, after mergeKey.
		series, field := its[i].Series(), its[i].Field()
		at = append(at[:0], i)
		for len(next.idx) > 0 && compareKey(its[next.idx[0]].Series(), its[next.idx[0]].Field(), series, field) == 0 {
			at = append(at, next.pop())
		}
		slices.Sort(at)
		if err := m.mergeKey(at); err != nil {
			return err
		}
		for _, i := range at {
			if its[i].Next() {
				next.push(i)
				dm.next(i)
			}
		}
	}
	return nil
}

// keyMerger writes the keys of a merge, one at a time, and throttles it.
type keyMerger struct {
	s      *Shard
	w      *tsm.Writer
	dm     *digestMerge
	inputs []*dataFile
	its    []*tsm.Iterator
	tombs  []Tombstone
	start  time.Time

	// Scratch reused across keys: the block entries of each input, the
	// values of each source slot and the merge buffers. A key's values
	// are dead once WriteValues returns (it encodes them into the file and
	// keeps no reference to them), so the next key may overwrite them.
	// String bytes are shared, not copied: tsm.DecodeBlock puts each
	// block's strings in fresh memory that no later decode reuses.
	metas [][]tsm.BlockMeta
	accs  []tsm.Array
	parts []tsm.Array
	bufs  mergeBufs
	blk   tsm.Array

	throttled  int64 // w.Size() at the last check; the first key checks
	blocksRead int64 // bytes of the inputs' blocks read so far
	dropped    int64 // inputRead when the inputs' pages were last dropped
}

// before reports whether input a's current key sorts before input b's.
func (m *keyMerger) before(a, b int) bool {
	ia, ib := m.its[a], m.its[b]
	return compareKey(ia.Series(), ia.Field(), ib.Series(), ib.Field()) < 0
}

// copyKey writes input i's current key, which no other input holds: its
// blocks unchanged unless a tombstone deletes from it.
func (m *keyMerger) copyKey(i int) error {
	it, f := m.its[i], m.inputs[i]
	if tombstoned(m.tombs, f.seq, it.Series(), it.Field()) {
		return m.mergeKey([]int{i})
	}
	before := m.w.Size()
	if err := m.w.CopyKey(it); err != nil {
		return err
	}
	m.dm.copyKey(i)
	m.blocksRead += m.w.Size() - before
	return m.check()
}

// mergeKey writes the key the inputs at (in input order) are at, merging
// their values (the newest input's win) and applying tombstones.
func (m *keyMerger) mergeKey(at []int) error {
	series, field := m.its[at[0]].Series(), m.its[at[0]].Field()
	m.parts = m.parts[:0]
	for n, i := range at {
		it, f := m.its[i], m.inputs[i]
		m.metas[i] = append(m.metas[i][:0], it.Entries()...)
		acc := &m.accs[n]
		acc.Reset(it.Type())
		for _, b := range m.metas[i] {
			m.blocksRead += b.Size
			if err := f.r.ReadArray(b, &m.blk); err != nil {
				return err
			}
			appendShared(acc, &m.blk)
		}
		applyTombstones(acc, m.tombs, f.seq, series, field)
		m.parts = append(m.parts, *acc)
	}
	merged := m.bufs.merge(m.parts)
	m.dm.addArray(&merged)
	if err := m.w.WriteValues(series, field, &merged); err != nil {
		return err
	}
	return m.check()
}

// check stops the merge when the shard closes, throttles it and releases
// the inputs' pages, every throttleCheckBytes written: checking for Close
// and the clock per key was 10 % of a compaction of tiny keys (issue 17).
func (m *keyMerger) check() error {
	if m.w.Size()-m.throttled < throttleCheckBytes {
		return nil
	}
	m.throttled = m.w.Size()
	select {
	case <-m.s.stopCh:
		return errCompactionAborted
	default:
	}
	if err := m.s.throttle(m.throttled, m.start); err != nil {
		return err
	}
	if read := inputRead(m.its, m.blocksRead); read-m.dropped >= dropPagesBytes {
		m.dropped = read
		dropInputPages(m.inputs)
	}
	return nil
}

// dropPagesBytes is how much of its inputs a compaction reads between two
// releases of their resident pages. Counting 64 MiB of what it wrote
// instead let the pages reach ~200 MB at 1 M series and ~300 MB at 100 k
// (where sixteen inputs holding the same keys merge into an output a
// tenth their size), at the data node's memory peak (issue 17).
const dropPagesBytes = 32 << 20

// inputRead returns how many bytes of its inputs a merge has read: the
// index records its iterators passed and blocksRead.
func inputRead(its []*tsm.Iterator, blocksRead int64) int64 {
	for _, it := range its {
		blocksRead += it.IndexRead()
	}
	return blocksRead
}

// dropInputPages releases the resident pages of a compaction's inputs: a
// compaction reads them whole, and at a million series they are gigabytes
// (issue 17). Failing to is harmless (the pages stay until unmapped).
func dropInputPages(inputs []*dataFile) {
	for _, f := range inputs {
		_ = f.r.DropPages()
	}
}

// keyHeap is a binary min-heap of merge inputs (indexes into its) ordered
// by their iterators' current keys, ties by index: a merge of k inputs
// finds its next key in O(log k) comparisons, where a scan of every input
// took k (sparse level-1 runs merge sparseLevelRun files at once).
type keyHeap struct {
	its []*tsm.Iterator
	idx []int
}

func (h *keyHeap) less(a, b int) bool {
	ia, ib := h.idx[a], h.idx[b]
	if c := compareKey(h.its[ia].Series(), h.its[ia].Field(), h.its[ib].Series(), h.its[ib].Field()); c != 0 {
		return c < 0
	}
	return ia < ib
}

func (h *keyHeap) push(i int) {
	h.idx = append(h.idx, i)
	for j := len(h.idx) - 1; j > 0; {
		parent := (j - 1) / 2
		if !h.less(j, parent) {
			break
		}
		h.idx[j], h.idx[parent] = h.idx[parent], h.idx[j]
		j = parent
	}
}

func (h *keyHeap) pop() int {
	top := h.idx[0]
	last := len(h.idx) - 1
	h.idx[0] = h.idx[last]
	h.idx = h.idx[:last]
	for j := 0; ; {
		l, m := 2*j+1, j
		if l < last && h.less(l, m) {
			m = l
		}
		if l+1 < last && h.less(l+1, m) {
			m = l + 1
		}
		if m == j {
			break
		}
		h.idx[j], h.idx[m] = h.idx[m], h.idx[j]
		j = m
	}
	return top
}

// tombstoned reports whether any tombstone deletes from (series, field) in
// a file of sequence seq.
func tombstoned(tombs []Tombstone, seq uint64, series, field []byte) bool {
	for i := range tombs {
		if tombs[i].appliesTo(seq, series, field) {
			return true
		}
	}
	return false
}

// throttleCheckBytes is how much a compaction writes between two checks
// for Close and the throttle.
const throttleCheckBytes = 256 << 10

// throttle sleeps so that compaction writes stay under
// Config.CompactThroughput bytes per second.
func (s *Shard) throttle(written int64, start time.Time) error {
	if s.cfg.CompactThroughput <= 0 {
		return nil
	}
	due := start.Add(time.Duration(float64(written) / float64(s.cfg.CompactThroughput) * float64(time.Second)))
	wait := time.Until(due)
	if wait < 10*time.Millisecond {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-s.stopCh:
		return errCompactionAborted
	case <-t.C:
		return nil
	}
}
