package index

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/strata-db/strata/tsdb/models"
)

// maxSeriesID is the largest series id; ids are stored as uint32 and
// ^uint32(0) is reserved.
const maxSeriesID = math.MaxUint32 - 1

// Index is the series index of one shard: series key ↔ id, measurement →
// series, (measurement, tag key) → tag value → series, and measurement →
// field → type. It lives in memory and is made durable by an append-only log
// with periodic snapshots in its directory. All methods are safe for
// concurrent use. Byte slices it returns must not be modified.
type Index struct {
	dir    string
	logger *slog.Logger

	mu sync.RWMutex // protects every field below
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
	// compactBytes is the log size that triggers a snapshot.
	compactBytes int64
}

// measurement is the index of one measurement.
type measurement struct {
	name   []byte
	ids    []uint32 // live series, sorted
	tags   map[string]*tagValues
	fields map[string]models.FieldType
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
	values map[string]*postings
}

// postings is the sorted id list of one tag value.
type postings struct {
	ids []uint32
}

// FieldInfo is one field of a measurement and its type.
type FieldInfo struct {
	Name []byte
	Type models.FieldType
}

// defaultCompactBytes is the log size above which the index writes a
// snapshot and starts a new log.
const defaultCompactBytes = 64 << 20

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
	if err := ix.load(); err != nil {
		return nil, fmt.Errorf("open index %s: %w", dir, err)
	}
	return ix, nil
}

// Close closes the log. It is idempotent.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil
	}
	ix.closed = true
	if ix.log == nil {
		return nil
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
	ix.mu.RLock()
	defer ix.mu.RUnlock()
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
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	m := ix.measurements[string(name)]
	if m == nil {
		return nil
	}
	return widen(m.ids)
}

// TagKeys returns a measurement's tag keys, sorted.
func (ix *Index) TagKeys(name []byte) [][]byte {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
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
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	m := ix.measurements[string(name)]
	if m == nil {
		return nil
	}
	tv := m.tags[string(key)]
	if tv == nil {
		return nil
	}
	out := make([][]byte, 0, len(tv.values))
	for v := range tv.values {
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
// exists, as replaying a log over a snapshot requires.
func (ix *Index) applySeries(id uint32, key, name []byte, tags models.Tags) {
	if ix.series.lookup(key) != 0 || ix.series.key(id) != nil {
		return
	}
	ix.series.insert(id, key)
	if id >= ix.nextID {
		ix.nextID = id + 1
	}
	m := ix.measurementFor(name)
	m.ids = insertSorted(m.ids, id)
	for _, t := range tags {
		tv := m.tags[string(t.Key)]
		if tv == nil {
			tv = &tagValues{values: make(map[string]*postings)}
			m.tags[string(t.Key)] = tv
		}
		pl := tv.values[string(t.Value)]
		if pl == nil {
			pl = &postings{}
			tv.values[string(t.Value)] = pl
		}
		pl.ids = insertSorted(pl.ids, id)
	}
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
		m    *measurement
		ids  []uint32
		tags map[*postings][]uint32
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
		name, tags, err := models.ParseSeriesKey(key)
		d := byName[string(name)]
		if err == nil && d == nil {
			if m := ix.measurements[string(name)]; m != nil {
				d = &drop{m: m, tags: map[*postings][]uint32{}}
				byName[string(name)] = d
			}
		}
		if d == nil {
			ix.series.remove(id)
			continue
		}
		d.ids = append(d.ids, id)
		for _, t := range tags {
			if tv := d.m.tags[string(t.Key)]; tv != nil {
				if pl := tv.values[string(t.Value)]; pl != nil {
					d.tags[pl] = append(d.tags[pl], id)
				}
			}
		}
		ix.series.remove(id)
	}
	for _, d := range byName {
		slices.Sort(d.ids)
		d.m.ids = removeSorted(d.m.ids, d.ids)
		for pl, dropped := range d.tags {
			slices.Sort(dropped)
			pl.ids = removeSorted(pl.ids, dropped)
		}
		// Forget tag values and keys that no series uses any more.
		for k, tv := range d.m.tags {
			for v, pl := range tv.values {
				if len(pl.ids) == 0 {
					delete(tv.values, v)
				}
			}
			if len(tv.values) == 0 {
				delete(d.m.tags, k)
			}
		}
	}
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
