package index

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/strata-db/strata/tsdb/models"
)

// maxSeriesID is the largest series id: ids are stored as uint32, and tag
// postings use the top bit to mark an inline id (see valueRef).
const maxSeriesID = math.MaxInt32

// Index is the series index of one shard: series key ↔ id, measurement →
// series, (measurement, tag key) → tag value → series, and measurement →
// field → type. It lives in memory and is made durable by an append-only log
// with periodic snapshots in its directory. All methods are safe for
// concurrent use. Byte slices it returns must not be modified.
type Index struct {
	dir    string
	logger *slog.Logger

	mu sync.RWMutex // protects every field below, except the postings
	// pmu protects the postings: each measurement's ids, tags, lists and
	// unindexed, and turn. It is taken after mu, by readers of the
	// postings together with mu, and alone by a batch adding its new
	// series to the postings after it released mu (see createSlow).
	pmu sync.RWMutex
	// tickets (guarded by mu) numbers the batches that add new series to
	// the postings after releasing mu, in the order of their ids; turn is
	// the ticket whose batch is next, and turnDone (on pmu) signals that
	// it advanced. Holders of mu and pmu wait until turn reaches tickets:
	// then the postings hold every series of the key table.
	tickets  uint64
	turn     uint64
	turnDone sync.Cond
	// series maps keys to ids and back.
	series *seriesTable
	// measurements holds every measurement with series or fields.
	measurements map[string]*measurement
	nextID       uint32
	log          *logFile
	// err is sticky: after a failed log write the index refuses changes,
	// because the log's content is unknown until it is reopened.
	err    error
	closed bool
	// scratch is the encode buffer for log records (guarded by mu).
	scratch []byte
	// tagBuf is reused to parse series keys (guarded by mu).
	tagBuf models.Tags
	// compactBytes is the log size that triggers a snapshot, unless
	// snapshotGrowth times the last snapshot is larger: then the log may
	// grow to that size. A snapshot encodes the whole index and a log
	// record is about as large as a series' part of a snapshot, so the log
	// growing in proportion bounds the snapshots' work at a constant
	// factor of the log's, where a fixed 64 MiB made a burst of a million
	// new series encode the growing index three times (issue 17).
	compactBytes int64
	// snapBytes is the size of the snapshot last loaded or written.
	snapBytes int64
	// compacting is set while a background snapshot runs (compact).
	compacting bool
	// snapMu is held by a background snapshot while it encodes, part of it
	// without mu (see snapshotCut), and taken before mu by whatever drops
	// series, so that no series key the snapshot reads is dropped under it.
	snapMu sync.Mutex
	// compactions counts the background snapshots running (zero or one);
	// Close waits for them.
	compactions sync.WaitGroup
	// limits bound the series writes add (see SetLimits).
	limits Limits
	// loading is set while Open replays the snapshot and log: series
	// records then skip the tag postings, which buildPostings makes once
	// the live series are known (a format 2 snapshot brings its series'
	// postings along).
	loading bool
}

// measurement is the index of one measurement. ids, tags, lists and
// unindexed are guarded by Index.pmu, the rest by Index.mu.
type measurement struct {
	name   []byte
	ids    []uint32 // live series, sorted
	tags   map[string]*tagValues
	fields map[string]models.FieldType
	// lists holds the sorted id postings of tag values with two series or
	// more (see valueRef); an emptied list stays as a nil hole until reopen.
	lists [][]uint32
	// unindexed holds, while Open replays, the series added without their
	// tag postings (see Index.loading).
	unindexed []uint32
	// sigs caches up to maxFieldSigs field-key lists seen in complete
	// points, so the write hot path checks a point's field types with a few
	// byte comparisons instead of a map lookup per field. Written under the
	// read lock, hence atomic; the lists are immutable, and valid for the
	// life of the measurement because a field's type never changes.
	sigs atomic.Pointer[[]*fieldSig]
}

// fieldSig is one field-key list of a measurement and the fields' types.
type fieldSig struct {
	keys  [][]byte
	types []models.FieldType
}

// maxFieldSigs bounds the cached field-key lists per measurement (and so the
// hot path's allocations over a measurement's life).
const maxFieldSigs = 4

// tagValues indexes one tag key of a measurement.
type tagValues struct {
	values valueMap
}

// valueRef locates the series of one tag value: the id itself when only one
// series has the value (inlineRef set; typical of host names, and it saves a
// list per series), else the index of a sorted list in measurement.lists.
type valueRef uint32

const inlineRef valueRef = 1 << 31

func (r valueRef) inline() (uint32, bool) { return uint32(r &^ inlineRef), r&inlineRef != 0 }

// FieldInfo is one field of a measurement and its type.
type FieldInfo struct {
	Name []byte
	Type models.FieldType
}

// defaultCompactBytes is the log size above which the index writes a
// snapshot and starts a new log.
const defaultCompactBytes = 64 << 20

// snapshotGrowth is how many times the last snapshot's size the log may
// grow to before the next snapshot. While series pile up, each snapshot is
// then (1+snapshotGrowth) times the one before, and all of them together
// encode about (1+snapshotGrowth)/snapshotGrowth times the final index:
// 1.5 times instead of 2 at a growth of 1, which at a million new series
// is one full encode fewer. The price is a longer log to replay after a
// crash (a clean Close snapshots anyway).
const snapshotGrowth = 2

// Open opens (creating if needed) the index stored in dir, replaying its
// snapshot and log. A torn record at the end of the log (a crash mid-write)
// is truncated and logged. logger may be nil.
func Open(dir string, logger *slog.Logger) (*Index, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ix := &Index{
		dir:          dir,
		logger:       logger,
		series:       newSeriesTable(),
		measurements: make(map[string]*measurement),
		nextID:       1,
		compactBytes: defaultCompactBytes,
	}
	ix.turnDone.L = &ix.pmu
	if err := ix.load(); err != nil {
		return nil, fmt.Errorf("open index %s: %w", dir, err)
	}
	return ix, nil
}

// closeSnapshotBytes is the log size past which Close folds the log into a
// snapshot, so that the next Open loads the index instead of replaying
// (and re-indexing) the log: a million short series keys fit under
// defaultCompactBytes (issue 17: restart at a million series).
const closeSnapshotBytes = 1 << 20

// Close closes the log, first writing a snapshot if the log holds more
// than closeSnapshotBytes. It is idempotent.
func (ix *Index) Close() error { return ix.close(true) }

// Discard closes the index of a shard about to be deleted: as Close, but
// without the snapshot that only serves the next open.
func (ix *Index) Discard() error { return ix.close(false) }

func (ix *Index) close(snapshot bool) error {
	ix.mu.Lock()
	if ix.closed {
		ix.mu.Unlock()
		return nil
	}
	ix.closed = true
	ix.mu.Unlock()
	// A background snapshot that has not started gives up once it sees
	// closed; one under way finishes (the log is still open).
	ix.compactions.Wait()
	ix.lockAll()
	defer ix.unlockAll()
	if ix.log == nil {
		return nil
	}
	if snapshot && ix.err == nil && !ix.compacting && ix.log.size > closeSnapshotBytes {
		if err := ix.compactNow(); err != nil {
			ix.logger.Warn("index snapshot at close failed; the log still holds every change", "dir", ix.dir, "err", err)
		}
	}
	if err := ix.log.close(); err != nil {
		return fmt.Errorf("close index %s: %w", ix.dir, err)
	}
	return nil
}

// SeriesN returns the number of live series.
func (ix *Index) SeriesN() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.series.live
}

// SeriesID returns the id of the series with the given key.
func (ix *Index) SeriesID(key []byte) (uint64, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	id := ix.series.lookup(key)
	return uint64(id), id != 0
}

// SeriesKey returns the key of series id, or nil if there is none.
func (ix *Index) SeriesKey(id uint64) []byte {
	if id == 0 || id > maxSeriesID {
		return nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.series.key(uint32(id))
}

// Measurements returns the names of the measurements that have series,
// sorted.
func (ix *Index) Measurements() [][]byte {
	ix.rlockPostings()
	defer ix.runlockPostings()
	out := make([][]byte, 0, len(ix.measurements))
	for _, m := range ix.measurements {
		if len(m.ids) > 0 {
			out = append(out, m.name)
		}
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}

// MeasurementSeriesIDs returns the sorted ids of a measurement's series.
func (ix *Index) MeasurementSeriesIDs(name []byte) []uint64 {
	ix.rlockPostings()
	defer ix.runlockPostings()
	m := ix.measurements[string(name)]
	if m == nil {
		return nil
	}
	return widen(m.ids)
}

// TagKeys returns a measurement's tag keys, sorted.
func (ix *Index) TagKeys(name []byte) [][]byte {
	ix.rlockPostings()
	defer ix.runlockPostings()
	m := ix.measurements[string(name)]
	if m == nil {
		return nil
	}
	out := make([][]byte, 0, len(m.tags))
	for k := range m.tags {
		out = append(out, []byte(k))
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}

// TagValues returns the values of a measurement's tag key, sorted.
func (ix *Index) TagValues(name, key []byte) [][]byte {
	ix.rlockPostings()
	defer ix.runlockPostings()
	m := ix.measurements[string(name)]
	if m == nil {
		return nil
	}
	tv := m.tags[string(key)]
	if tv == nil {
		return nil
	}
	out := make([][]byte, 0, tv.values.len())
	for v := range tv.values.all() {
		out = append(out, []byte(v))
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}

// FieldType returns the type of a measurement's field.
func (ix *Index) FieldType(name, field []byte) (models.FieldType, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	m := ix.measurements[string(name)]
	if m == nil {
		return models.FieldTypeUnknown, false
	}
	t, ok := m.fields[string(field)]
	return t, ok
}

// Fields returns a measurement's fields sorted by name.
func (ix *Index) Fields(name []byte) []FieldInfo {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	m := ix.measurements[string(name)]
	if m == nil {
		return nil
	}
	out := make([]FieldInfo, 0, len(m.fields))
	for f, t := range m.fields {
		out = append(out, FieldInfo{Name: []byte(f), Type: t})
	}
	slices.SortFunc(out, func(a, b FieldInfo) int { return bytes.Compare(a.Name, b.Name) })
	return out
}

// EachField calls fn for each field of a measurement, in no particular
// order, with the index's own string of its name (nothing is copied), under
// the index's read lock: fn must not call the index.
func (ix *Index) EachField(name []byte, fn func(field string, t models.FieldType)) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if m := ix.measurements[string(name)]; m != nil {
		for f, t := range m.fields {
			fn(f, t)
		}
	}
}

// rlockPostings takes the read locks of the index and of its postings,
// once the postings hold every series of the key table.
func (ix *Index) rlockPostings() {
	ix.mu.RLock()
	ix.pmu.RLock()
	for ix.turn != ix.tickets {
		ix.pmu.RUnlock()
		ix.lockPostings()
		ix.pmu.Unlock()
		ix.pmu.RLock()
	}
}

// lockPostings takes pmu for writing once the postings hold every series
// of the key table. The caller holds mu.
func (ix *Index) lockPostings() {
	ix.pmu.Lock()
	for ix.turn != ix.tickets {
		ix.turnDone.Wait()
	}
}

// runlockPostings releases what rlockPostings took.
func (ix *Index) runlockPostings() {
	ix.pmu.RUnlock()
	ix.mu.RUnlock()
}

// lockAll takes the write locks of the index and of its postings (see
// lockPostings).
func (ix *Index) lockAll() {
	ix.snapMu.Lock()
	ix.mu.Lock()
	ix.lockPostings()
}

// unlockAll releases what lockAll took.
func (ix *Index) unlockAll() {
	ix.pmu.Unlock()
	ix.mu.Unlock()
	ix.snapMu.Unlock()
}

func widen(ids []uint32) []uint64 {
	out := make([]uint64, len(ids))
	for i, id := range ids {
		out[i] = uint64(id)
	}
	return out
}

// measurementFor returns the measurement, creating it in memory.
func (ix *Index) measurementFor(name []byte) *measurement {
	m := ix.measurements[string(name)]
	if m == nil {
		m = &measurement{
			name:   bytes.Clone(name),
			tags:   make(map[string]*tagValues),
			fields: make(map[string]models.FieldType),
		}
		ix.measurements[string(m.name)] = m
	}
	return m
}

// applySeries adds a series to memory. It is idempotent on a key that
// exists, as replaying a log over a snapshot requires. key must parse (see
// validKey); a key that does not is reported as corrupt.
func (ix *Index) applySeries(id uint32, key []byte) error {
	if ix.series.lookup(key) != 0 || ix.series.key(id) != nil {
		return nil
	}
	ix.series.insert(id, key)
	// Parse the stored copy: unescaped tokens then alias the slab, whose
	// bytes never change, so the maps can use them as keys without copying.
	name, tags, err := models.ParseSeriesKeyAppend(ix.tagBuf[:0], ix.series.key(id))
	if err != nil {
		ix.series.remove(id)
		return fmt.Errorf("series %d: %w", id, errors.Join(err, ErrCorrupt))
	}
	if id >= ix.nextID {
		ix.nextID = id + 1
	}
	ix.tagBuf = tags[:0]
	m := ix.measurementFor(name)
	m.ids = insertSorted(m.ids, id)
	if ix.loading {
		m.unindexed = append(m.unindexed, id)
	} else {
		m.addTags(id, tags, &tagKeys{})
	}
	return nil
}

// parseStored parses stored, the stored key of a new series whose
// tokens needed escaping (see unescapedKey), appending its tags to dst.
func parseStored(dst models.Tags, stored []byte) models.Tags {
	_, tags, err := models.ParseSeriesKeyAppend(dst, stored)
	if err != nil {
		// validKey admitted the point, so its key parses.
		panic(fmt.Sprintf("BUG: series key %q of a valid point: %v", stored, err))
	}
	return tags
}

// unescapedKey reports whether key, p's series key, holds p's measurement
// and tags as they are, no token of it having needed escaping: the key is
// then exactly the tokens and their separators, and tagAt finds each tag
// at a known offset without parsing the key.
func unescapedKey(key []byte, p *models.Point) bool {
	n := len(p.Measurement)
	for _, t := range p.Tags {
		n += 2 + len(t.Key) + len(t.Value)
	}
	return n == len(key) // escapes make it longer
}

// tagAt returns tag t of a point as slices of key, the point's unescaped
// series key (see unescapedKey), given off, the offset of the comma before
// it (the measurement's length for the first tag), and the offset of the
// comma after it, for the next tag.
func tagAt(key []byte, t *models.Tag, off int) (k, v []byte, next int) {
	k = key[off+1 : off+1+len(t.Key) : off+1+len(t.Key)]
	off += 2 + len(t.Key)
	v = key[off : off+len(t.Value) : off+len(t.Value)]
	return k, v, off + len(t.Value)
}

// tagKeys remembers, by position, the tag keys of the series last indexed
// in a measurement and their tagValues: the series of a measurement mostly
// have the same tag keys, so the next one finds each by comparing the key
// instead of hashing it into m.tags (a seventh of indexing a new series'
// tags at a million TSBS series, issue 17). It is only valid while the
// caller holds the write lock throughout, so that no tag key is removed
// meanwhile.
type tagKeys struct {
	m    *measurement
	keys []string // alias key slabs, as the map's keys do
	tvs  []*tagValues
}

// addTags records the tags of series id in the measurement's postings.
// The tags must alias the index's key slab (see applySeries).
func (m *measurement) addTags(id uint32, tags models.Tags, tk *tagKeys) {
	for i, t := range tags {
		m.addPosting(m.tagValuesAt(tk, i, t.Key), t.Value, hashValue(bytesString(t.Value)), id)
	}
}

// tagValuesAt returns the tagValues of key, the i-th tag key of a series
// of m, creating it if needed, and remembers it in tk. The tag keys of a
// series are visited in order.
func (m *measurement) tagValuesAt(tk *tagKeys, i int, key []byte) *tagValues {
	if tk.m != m {
		*tk = tagKeys{m: m, keys: tk.keys[:0], tvs: tk.tvs[:0]}
	}
	if tv := tk.at(m, i, key); tv != nil {
		return tv
	}
	tv := m.tags[string(key)]
	if tv == nil {
		tv = &tagValues{}
		m.tags[bytesString(key)] = tv
	}
	// len(tk.keys) >= i: each position before i was matched or set.
	if i < len(tk.keys) {
		tk.keys[i], tk.tvs[i] = bytesString(key), tv
	} else {
		tk.keys, tk.tvs = append(tk.keys, bytesString(key)), append(tk.tvs, tv)
	}
	return tv
}

// at returns the tagValues tk remembers for key at position i of a series
// of m, or nil.
func (tk *tagKeys) at(m *measurement, i int, key []byte) *tagValues {
	if tk.m == m && i < len(tk.keys) && tk.keys[i] == string(key) {
		return tk.tvs[i]
	}
	return nil
}

// presizeProbe is how many of a measurement's series buildPostings indexes
// before it sizes the value maps of its high-cardinality tag keys.
const presizeProbe = 1024

// buildPostings makes the tag postings of the series Open replayed without
// them (see loading): those of a format 1 snapshot and of the log. Building
// them from the final series, in id order, skips the postings of series
// dropped later in the log, appends every id to the end of its list, and
// lets the maps of tag keys with a value per series (host names) be
// allocated at their final size instead of growing a million entries
// through a dozen rehashes, which was a quarter of the index's load time.
func (ix *Index) buildPostings() {
	for _, m := range ix.measurements {
		// Presize only maps this build starts: one a snapshot loaded
		// already has its size.
		presize := len(m.tags) == 0
		built := 0
		var tk tagKeys
		for _, id := range m.unindexed {
			key := ix.series.key(id)
			if key == nil {
				continue // dropped later in the log
			}
			if built == presizeProbe && presize {
				m.presizeTags(built, len(m.unindexed))
			}
			// The key parsed when applySeries stored it, and the slab's
			// bytes never change.
			_, tags, _ := models.ParseSeriesKeyAppend(ix.tagBuf[:0], key)
			ix.tagBuf = tags[:0]
			m.addTags(id, tags, &tk)
			built++
		}
		m.unindexed = nil
	}
}

// presizeTags re-allocates, once the first seen of the measurement's total
// series have their postings, the value map of each tag key that so far
// has a distinct value for more than every other series, at the size that
// rate projects for all total series (at most total entries).
func (m *measurement) presizeTags(seen, total int) {
	for _, tv := range m.tags {
		if n := tv.values.len(); n*2 > seen {
			tv.values.reserve(n * total / seen)
		}
	}
}

// bytesString returns b as a string without copying. Only for bytes that
// are never modified afterwards: the index's key slabs and fresh copies.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// applyField records a field type unless the field exists.
func (ix *Index) applyField(name, field []byte, t models.FieldType) {
	m := ix.measurementFor(name)
	if _, ok := m.fields[string(field)]; !ok {
		m.fields[string(field)] = t
	}
}

// applyDropSeries removes series from memory; unknown ids are ignored.
func (ix *Index) applyDropSeries(ids []uint32) {
	// Group by measurement and by (tag key, value) so each list is
	// filtered once.
	type drop struct {
		m       *measurement
		ids     []uint32
		lists   map[uint32][]uint32 // list index → dropped ids
		touched []touchedValue
	}
	byName := map[string]*drop{}
	for _, id := range ids {
		key := ix.series.key(id)
		if key == nil {
			continue
		}
		// Stored keys parse (they are checked on the way in), and their
		// measurement exists (applySeries creates it); if either ever
		// failed, dropping the id from the table is still right.
		name, tags, err := models.ParseSeriesKeyAppend(ix.tagBuf[:0], key)
		ix.tagBuf = tags[:0]
		d := byName[string(name)]
		if err == nil && d == nil {
			if m := ix.measurements[string(name)]; m != nil {
				d = &drop{m: m, lists: map[uint32][]uint32{}}
				byName[string(name)] = d
			}
		}
		if d == nil {
			ix.series.remove(id)
			continue
		}
		d.ids = append(d.ids, id)
		for _, t := range tags {
			tv := d.m.tags[string(t.Key)]
			if tv == nil {
				continue
			}
			r, ok := tv.values.get(bytesString(t.Value))
			if !ok {
				continue
			}
			if one, inline := r.inline(); inline {
				if one == id {
					tv.values.delete(bytesString(t.Value))
					d.touched = append(d.touched, touchedValue{key: string(t.Key)})
				}
				continue
			}
			d.lists[uint32(r)] = append(d.lists[uint32(r)], id)
			d.touched = append(d.touched, touchedValue{key: string(t.Key), value: string(t.Value), ref: r})
		}
		ix.series.remove(id)
	}
	for _, d := range byName {
		slices.Sort(d.ids)
		d.m.ids = removeSorted(d.m.ids, d.ids)
		for li, dropped := range d.lists {
			slices.Sort(dropped)
			d.m.lists[li] = removeSorted(d.m.lists[li], dropped)
		}
		// Shrink what became empty or single, and forget unused tag keys.
		for _, tc := range d.touched {
			tv := d.m.tags[tc.key]
			if tv == nil {
				continue
			}
			// A value is touched once per dropped series that had it; act
			// only while it still refers to its list.
			if r, ok := tv.values.get(tc.value); ok && r == tc.ref {
				switch l := d.m.lists[uint32(tc.ref)]; len(l) {
				case 0:
					tv.values.delete(tc.value)
				case 1:
					tv.values.set(tc.value, inlineRef|valueRef(l[0]))
					d.m.lists[uint32(tc.ref)] = nil
				}
			}
			if tv.values.len() == 0 {
				delete(d.m.tags, tc.key)
			}
		}
	}
}

// touchedValue is a tag value whose postings a drop changed.
type touchedValue struct {
	key, value string
	ref        valueRef
}

// applyDropMeasurement removes a measurement, its series and its fields.
func (ix *Index) applyDropMeasurement(name []byte) {
	m := ix.measurements[string(name)]
	if m == nil {
		return
	}
	for _, id := range m.ids {
		ix.series.remove(id)
	}
	delete(ix.measurements, string(name))
}
