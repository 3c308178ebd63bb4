package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/index"
	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// ErrInvalidReadRequest means a shard read or delete request is malformed
// (an unknown kind, a window of width <= 0).
var ErrInvalidReadRequest = errors.New("invalid shard read request")

// MetaKind says what a MetaRequest asks for.
type MetaKind uint8

// Kinds of metadata a shard answers.
const (
	// MetaMeasurements asks for the names of measurements with a series
	// matching the condition.
	MetaMeasurements MetaKind = iota + 1
	// MetaTagKeys asks for a measurement's tag keys.
	MetaTagKeys
	// MetaTagValues asks for the values of a measurement's tag TagKey.
	MetaTagValues
	// MetaSeriesKeys asks for canonical series keys.
	MetaSeriesKeys
	// MetaFieldKeys asks for a measurement's fields and their types.
	MetaFieldKeys
)

// MetaRequest asks one shard for metadata taken from its index.
type MetaRequest struct {
	Kind MetaKind
	// Measurement is the measurement asked about; for MetaSeriesKeys ""
	// means every measurement. Ignored by MetaMeasurements.
	Measurement string
	// TagKey is the tag of MetaTagValues.
	TagKey string
	// Condition is on tags only; nil matches every series. Ignored by
	// MetaFieldKeys.
	Condition influxql.Expr
}

// MetaResult is one shard's answer to a MetaRequest: Values (sorted) for
// every kind but MetaFieldKeys, which fills Fields (sorted by name).
type MetaResult struct {
	Values []string
	Fields []query.FieldKey
}

// DeleteKind says what a DeleteRequest removes.
type DeleteKind uint8

// Kinds of deletes a shard applies.
const (
	// DeleteMeasurement drops a measurement with all its series (DROP
	// MEASUREMENT).
	DeleteMeasurement DeleteKind = iota + 1
	// DeleteSeries drops the matching series and their data (DROP SERIES).
	DeleteSeries
	// DeleteRange deletes the matching series' values with
	// Min <= time <= Max (DELETE).
	DeleteRange
)

// DeleteRequest asks one shard to delete data.
type DeleteRequest struct {
	Kind DeleteKind
	// Measurement is the measurement to delete from; for DeleteSeries and
	// DeleteRange "" means every measurement.
	Measurement string
	// Condition is on tags only; nil matches every series.
	Condition influxql.Expr
	// Min and Max bound DeleteRange, inclusive, in ns.
	Min, Max int64
}

// ShardReader reads and deletes the data of shards held by one node: the
// local store (LocalShardReader), or a peer seen through the RPC.
// Implementations are safe for concurrent use and report a shard they do
// not hold with an error wrapping ErrShardNotFound.
type ShardReader interface {
	// ScanShard calls fn, serially, once per series of req.Measurement in
	// the shard that matches req.Condition and has data for a requested
	// field in [req.Min, req.Max]. Windows always carry their Count, asked
	// for or not. The batch is valid only during the call; an error from
	// fn stops the scan and is returned as is.
	ScanShard(ctx context.Context, shardID uint64, req *query.ScanRequest, fn func(*query.SeriesBatch) error) error
	// ShardMeta answers req from the shard's index.
	ShardMeta(ctx context.Context, shardID uint64, req *MetaRequest) (MetaResult, error)
	// DeleteFromShard applies req to the shard, durably.
	DeleteFromShard(ctx context.Context, shardID uint64, req *DeleteRequest) error
}

// RemoteShardReader is a ShardReader for the shards of other data nodes:
// the same calls with the owner's node id. RPCClient implements it.
type RemoteShardReader interface {
	// ScanShard is ShardReader.ScanShard on node nodeID.
	ScanShard(ctx context.Context, nodeID, shardID uint64, req *query.ScanRequest, fn func(*query.SeriesBatch) error) error
	// ShardMeta is ShardReader.ShardMeta on node nodeID.
	ShardMeta(ctx context.Context, nodeID, shardID uint64, req *MetaRequest) (MetaResult, error)
	// DeleteFromShard is ShardReader.DeleteFromShard on node nodeID.
	DeleteFromShard(ctx context.Context, nodeID, shardID uint64, req *DeleteRequest) error
}

// ShardStore gives the local shards by id. *tsdb.Store implements it.
type ShardStore interface {
	// Shard returns the open shard, or nil if this node does not hold it.
	Shard(id uint64) *tsdb.Shard
}

// LocalShardReader is the ShardReader of the shards in this node's tsdb
// store. It is safe for concurrent use.
type LocalShardReader struct {
	store ShardStore
}

// NewLocalShardReader returns a reader of store's shards.
func NewLocalShardReader(store ShardStore) *LocalShardReader {
	return &LocalShardReader{store: store}
}

func (r *LocalShardReader) shard(id uint64) (*tsdb.Shard, error) {
	sh := r.store.Shard(id)
	if sh == nil {
		return nil, fmt.Errorf("shard %d: %w", id, ErrShardNotFound)
	}
	return sh, nil
}

// ctxCheckEvery is how many series a local scan reads between checks of
// its context.
const ctxCheckEvery = 64

// ScanShard implements ShardReader.
func (r *LocalShardReader) ScanShard(ctx context.Context, shardID uint64, req *query.ScanRequest, fn func(*query.SeriesBatch) error) error {
	if req.Window != nil && req.Window.Every <= 0 {
		return fmt.Errorf("scan shard %d: window every %d: %w", shardID, req.Window.Every, ErrInvalidReadRequest)
	}
	sh, err := r.shard(shardID)
	if err != nil {
		return err
	}
	expr, err := TagExprFromCondition(req.Condition)
	if err != nil {
		return fmt.Errorf("scan shard %d: %w", shardID, err)
	}
	if req.Min > req.Max {
		return nil
	}
	ix := sh.Index()
	name := []byte(req.Measurement)
	fields := make([]scanField, 0, len(req.Fields))
	for i, f := range req.Fields {
		if t, ok := ix.FieldType(name, []byte(f)); ok {
			fields = append(fields, scanField{name: f, bname: []byte(f), typ: t, idx: i})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	var filter *rowFilter
	if req.Filter != nil && req.Window == nil {
		if rf, ok := query.CompileRowFilter(req.Filter, req.Fields); ok {
			filter = newRowFilter(rf, fields, len(req.Fields))
			defer filter.release()
		}
	}
	var batch query.SeriesBatch
	scratch := takeWindowScratch() // reused by every windowed read of this scan
	defer putWindowScratch(scratch)
	for i, id := range ix.MatchSeries(name, expr) {
		if i%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("scan shard %d: %w", shardID, err)
			}
		}
		key := ix.SeriesKey(id)
		if key == nil {
			continue // dropped meanwhile
		}
		if filter != nil {
			if err := filter.scan(sh, key, req.Min, req.Max, &batch); err != nil {
				return fmt.Errorf("scan shard %d series %q: %w", shardID, key, err)
			}
			if len(batch.Fields) > 0 {
				if err := fn(&batch); err != nil {
					return err
				}
			}
			continue
		}
		batch.Fields, batch.Filtered = batch.Fields[:0], false
		for _, f := range fields {
			col := query.FieldColumn{Name: f.name, Type: f.typ}
			if req.Window == nil {
				col.Points, err = readPoints(sh, key, f.bname, req.Min, req.Max)
			} else {
				col.Windows, err = readWindows(sh, key, f.bname, req.Min, req.Max, req.Window, scratch)
			}
			if err != nil {
				return fmt.Errorf("scan shard %d series %q field %q: %w", shardID, key, f.name, err)
			}
			if len(col.Points) > 0 || len(col.Windows) > 0 {
				batch.Fields = append(batch.Fields, col)
			}
		}
		if len(batch.Fields) == 0 {
			continue
		}
		_, tags, err := models.ParseSeriesKey(key)
		if err != nil {
			return fmt.Errorf("scan shard %d: series key %q: %w", shardID, key, err)
		}
		// readWindows makes each column's windows afresh.
		batch.Key, batch.Tags, batch.Owned = string(key), tags, req.Window != nil
		if err := fn(&batch); err != nil {
			return err
		}
	}
	return nil
}

// scanField is a requested field a shard has: its name, type and index
// in the request's fields.
type scanField struct {
	name  string
	bname []byte
	typ   models.FieldType
	idx   int
}

// rowFilter keeps the rows of a series its compiled ScanRequest.Filter
// passes, so a selective condition (TSBS's high-cpu) builds points only
// for the few rows that pass instead of for every value read. It reads
// the fields the filter looks at first; when a row needs one of them to
// pass, the other fields are then read only from the blocks holding a
// passing row, and not at all when none passes. Its buffers are reused
// from series to series, its batches' points included, and from scan to
// scan: a scan's rowFilter comes from a pool and goes back to it when the
// scan ends, when none of its batches may be referred to any more.
type rowFilter struct {
	query.RowFilter
	fields []scanField
	vals   []models.Value // indexed as the request's fields
	arrays []tsm.Array    // indexed as fields
	names  [][]byte       // the fields a read reads, nil for the others
	pos    []int
	keep   []int64       // times of the passing rows
	pts    []query.Point // the last batch's points
	// cond lists the fields (indexes in fields) the filter reads, rest
	// the others; all is every field.
	cond, rest, all []int
}

// rowFilters holds released rowFilters, whose buffers a scan reuses.
var rowFilters = sync.Pool{New: func() any { return new(rowFilter) }}

// newRowFilter returns a rowFilter from the pool (release puts it back)
// set for rf and fields, of the request's nFields.
func newRowFilter(rf query.RowFilter, fields []scanField, nFields int) *rowFilter {
	f := rowFilters.Get().(*rowFilter)
	f.RowFilter, f.fields = rf, fields
	f.vals = resize(f.vals, nFields)
	f.arrays = resize(f.arrays, len(fields)) // capacity kept
	f.names = resize(f.names, len(fields))
	f.pos = resize(f.pos, len(fields))
	f.cond, f.rest, f.all = f.cond[:0], f.rest[:0], f.all[:0]
	for j, fl := range fields {
		if rf.Reads[fl.idx] {
			f.cond = append(f.cond, j)
		} else {
			f.rest = append(f.rest, j)
		}
		f.all = append(f.all, j)
	}
	return f
}

// release puts f back in the pool, dropping its references to the
// request and to values read. The batches its scans made must no longer
// be referred to.
func (f *rowFilter) release() {
	f.RowFilter, f.fields = query.RowFilter{}, nil
	clear(f.vals)
	for i := range f.arrays {
		f.arrays[i].Reset(models.FieldTypeUnknown)
	}
	clear(f.names)
	// f.pts is left as it is: clearing it would cost what reusing it
	// saves, and the next scan clears what it uses.
	rowFilters.Put(f)
}

// resize returns s of length n, reusing its capacity; the elements kept
// from earlier use are left as they were.
func resize[E any](s []E, n int) []E {
	return slices.Grow(s[:0], n)[:n]
}

// scan fills b with the passing rows of the series key in [min, max]:
// one column per field holding values in them, and the key and tags.
func (f *rowFilter) scan(sh *tsdb.Shard, key []byte, min, max int64, b *query.SeriesBatch) error {
	b.Fields = b.Fields[:0]
	_, tags, err := models.ParseSeriesKey(key)
	if err != nil {
		return fmt.Errorf("series key: %w", err)
	}
	// A row holding none of the filter's fields passes or fails on the
	// series' tags alone; when it fails, only the times of the filter's
	// fields can pass.
	clear(f.vals)
	first, rest := f.cond, f.rest
	if f.Pass(f.vals, tags) {
		first, rest = f.all, nil
	}
	f.name(first)
	if err := sh.ReadArrays(f.arrays, key, f.names, min, max); err != nil {
		return err
	}
	f.keep = f.keep[:0]
	f.align(first, func(t int64) {
		if f.Pass(f.vals, tags) {
			f.keep = append(f.keep, t)
		}
	})
	if len(f.keep) == 0 {
		return nil
	}
	// The other fields are read only where a row passed.
	f.name(rest)
	if err := sh.ReadArraysAt(f.arrays, key, f.names, f.keep); err != nil {
		return err
	}
	// One backing array holds every column's points, reused from series
	// to series: a batch is valid only during its call, and one filtered
	// batch is not Owned, so the executor copies what it keeps.
	// Its points are cleared once and their numbers then set field by
	// field: storing whole values, string slice included, cost a write
	// barrier per point while the collector ran.
	total := len(f.keep) * len(f.fields)
	pts := resize(f.pts, total)
	clear(pts)
	n := 0
	for j, fl := range f.fields {
		a := &f.arrays[j]
		start := n
		i := 0
		for _, t := range f.keep {
			for i < len(a.Timestamps) && a.Timestamps[i] < t {
				i++
			}
			if i < len(a.Timestamps) && a.Timestamps[i] == t {
				p := &pts[n]
				p.Time = t
				if a.Type == models.FieldTypeString {
					p.Value = ownValue(a.Value(i))
				} else {
					p.Value.Type, p.Value.N = a.Type, numBits(a, i)
				}
				n++
			}
		}
		if n > start {
			b.Fields = append(b.Fields, query.FieldColumn{Name: fl.name, Type: fl.typ, Points: pts[start:n:n]})
		}
	}
	f.pts = pts
	b.Key, b.Tags, b.Filtered = string(key), tags, true
	return nil
}

// name sets f.names to the fields listed in which (indexes in f.fields),
// nil for the others: what a read then reads.
func (f *rowFilter) name(which []int) {
	clear(f.names)
	for _, j := range which {
		f.names[j] = f.fields[j].bname
	}
}

// align calls fn for each time of the fields listed in which (indexes in
// f.fields), in order, with f.vals holding their values at that time
// (Type 0 for a field without one; the others' entries are left alone).
func (f *rowFilter) align(which []int, fn func(t int64)) {
	if len(which) == 1 {
		// One field (a condition on one field): no merge of times.
		a, v := &f.arrays[which[0]], &f.vals[f.fields[which[0]].idx]
		if a.Type == models.FieldTypeString {
			for i, t := range a.Timestamps {
				*v = a.Value(i)
				fn(t)
			}
			return
		}
		// Only the number changes from row to row: no write barrier
		// for the value's string slice.
		*v = models.Value{Type: a.Type}
		for i, t := range a.Timestamps {
			v.N = numBits(a, i)
			fn(t)
		}
		return
	}
	for _, j := range which {
		f.pos[j] = 0
	}
	for {
		t, some := int64(0), false
		for _, j := range which {
			if a := &f.arrays[j]; f.pos[j] < a.Len() && (!some || a.Timestamps[f.pos[j]] < t) {
				t, some = a.Timestamps[f.pos[j]], true
			}
		}
		if !some {
			return
		}
		for _, j := range which {
			v := &f.vals[f.fields[j].idx]
			*v = models.Value{}
			if a := &f.arrays[j]; f.pos[j] < a.Len() && a.Timestamps[f.pos[j]] == t {
				*v = a.Value(f.pos[j])
				f.pos[j]++
			}
		}
		fn(t)
	}
}

// numBits returns the i-th value of a, an array of any type but string,
// as models.Value holds it (N).
func numBits(a *tsm.Array, i int) uint64 {
	switch a.Type {
	case models.FieldTypeFloat:
		return math.Float64bits(a.Floats[i])
	case models.FieldTypeInteger:
		return uint64(a.Integers[i])
	case models.FieldTypeUnsigned:
		return a.Unsigneds[i]
	}
	return a.Value(i).N
}

// readPoints returns the values of one series field in [min, max], string
// bytes copied.
func readPoints(sh *tsdb.Shard, key, field []byte, min, max int64) ([]query.Point, error) {
	c, err := sh.Cursor(key, field, min, max, true)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if c.Len() == 0 {
		return nil, nil
	}
	pts := make([]query.Point, 0, c.Len())
	for {
		t, v, ok := c.Next()
		if !ok {
			return pts, nil
		}
		pts = append(pts, query.Point{Time: t, Value: ownValue(v)})
	}
}

// ownValue returns v with its string bytes copied.
func ownValue(v models.Value) models.Value {
	if v.Type == models.FieldTypeString {
		v.S = append([]byte(nil), v.S...)
	}
	return v
}

// readWindows aggregates one series field per window of w over [min, max];
// Count is set whatever w asks for. tsdb shifts its windows by w's offset,
// so blocks inside one window are aggregated from their statistics for
// every offset. scratch is tsdb's result buffer, reused across the reads of
// one scan.
func readWindows(sh *tsdb.Shard, key, field []byte, min, max int64, w *query.WindowRequest, scratch *[]tsdb.Window) ([]query.Window, error) {
	// Count always: a window's count is what says it holds points.
	ws, err := sh.AppendWindowAggregate((*scratch)[:0], key, field, min, max, w.Every, w.Offset, tsdbAggregates(w.Aggregates)|tsdb.AggCount)
	if err != nil {
		return nil, err
	}
	*scratch = ws
	if len(ws) == 0 {
		return nil, nil
	}
	out := query.MakeWindows(len(ws))
	for i := range ws {
		x := &ws[i]
		out[i] = query.Window{Start: x.Start, Count: x.Count, Sum: x.Sum, Min: x.Min, Max: x.Max,
			First: ownValue(x.First), Last: ownValue(x.Last), FirstTime: x.FirstTime, LastTime: x.LastTime}
	}
	return out, nil
}

// windowScratch recycles readWindows' tsdb buffers across scans: a small
// query's scan reads one series, so a buffer made per scan was one more
// copy of its windows to allocate (issue 17 item 1).
var windowScratch sync.Pool

// maxPooledWindows bounds the buffers kept in windowScratch, so that one
// large scan does not leave a large buffer behind.
const maxPooledWindows = 4096

// takeWindowScratch returns an empty buffer for readWindows.
func takeWindowScratch() *[]tsdb.Window {
	if p, ok := windowScratch.Get().(*[]tsdb.Window); ok {
		return p
	}
	return new([]tsdb.Window)
}

// putWindowScratch gives a buffer of takeWindowScratch back.
func putWindowScratch(p *[]tsdb.Window) {
	if cap(*p) > maxPooledWindows {
		return
	}
	clear((*p)[:cap(*p)]) // no string of a read kept alive
	*p = (*p)[:0]
	windowScratch.Put(p)
}

// tsdbAggregates maps the query's aggregate set onto tsdb's.
func tsdbAggregates(a query.AggregateSet) tsdb.AggregateSet {
	var out tsdb.AggregateSet
	for _, m := range [...]struct {
		q query.AggregateSet
		t tsdb.AggregateSet
	}{
		{query.AggregateCount, tsdb.AggCount}, {query.AggregateSum, tsdb.AggSum},
		{query.AggregateMin, tsdb.AggMin}, {query.AggregateMax, tsdb.AggMax},
		{query.AggregateFirst, tsdb.AggFirst}, {query.AggregateLast, tsdb.AggLast},
		{query.AggregateTimes, tsdb.AggTimes},
		{query.AggregateCountAny, tsdb.AggCountAny},
	} {
		if a&m.q != 0 {
			out |= m.t
		}
	}
	return out
}

// ShardMeta implements ShardReader.
func (r *LocalShardReader) ShardMeta(ctx context.Context, shardID uint64, req *MetaRequest) (MetaResult, error) {
	sh, err := r.shard(shardID)
	if err != nil {
		return MetaResult{}, err
	}
	expr, err := TagExprFromCondition(req.Condition)
	if err != nil {
		return MetaResult{}, fmt.Errorf("shard %d metadata: %w", shardID, err)
	}
	ix := sh.Index()
	name := []byte(req.Measurement)
	var res MetaResult
	switch req.Kind {
	case MetaMeasurements:
		for _, m := range ix.Measurements() {
			if expr == nil || len(ix.MatchSeries(m, expr)) > 0 {
				res.Values = append(res.Values, string(m))
			}
		}
	case MetaFieldKeys:
		// The index's own strings: a small query lists its measurement's
		// fields on every run.
		ix.EachField(name, func(f string, t models.FieldType) {
			res.Fields = append(res.Fields, query.FieldKey{Name: f, Type: t})
		})
		slices.SortFunc(res.Fields, func(a, b query.FieldKey) int { return strings.Compare(a.Name, b.Name) })
	case MetaTagKeys:
		if expr == nil {
			res.Values = stringsOf(ix.TagKeys(name))
			break
		}
		res.Values, err = tagsOfSeries(ix, name, expr, func(t models.Tag, add func([]byte)) { add(t.Key) })
	case MetaTagValues:
		if expr == nil {
			res.Values = stringsOf(ix.TagValues(name, []byte(req.TagKey)))
			break
		}
		res.Values, err = tagsOfSeries(ix, name, expr, func(t models.Tag, add func([]byte)) {
			if string(t.Key) == req.TagKey {
				add(t.Value)
			}
		})
	case MetaSeriesKeys:
		names := [][]byte{name}
		if req.Measurement == "" {
			names = ix.Measurements()
		}
		for _, m := range names {
			for _, id := range ix.MatchSeries(m, expr) {
				if k := ix.SeriesKey(id); k != nil {
					res.Values = append(res.Values, string(k))
				}
			}
		}
		slices.Sort(res.Values)
	default:
		return MetaResult{}, fmt.Errorf("shard %d metadata kind %d: %w", shardID, req.Kind, ErrInvalidReadRequest)
	}
	if err != nil {
		return MetaResult{}, fmt.Errorf("shard %d metadata: %w", shardID, err)
	}
	return res, nil
}

// tagsOfSeries collects, sorted and de-duplicated, what pick adds from the
// tags of the measurement's series matching expr.
func tagsOfSeries(ix *index.Index, name []byte, expr index.TagExpr, pick func(models.Tag, func([]byte))) ([]string, error) {
	seen := make(map[string]struct{})
	add := func(b []byte) {
		if _, ok := seen[string(b)]; !ok {
			seen[string(b)] = struct{}{}
		}
	}
	var tags models.Tags
	for _, id := range ix.MatchSeries(name, expr) {
		k := ix.SeriesKey(id)
		if k == nil {
			continue
		}
		var err error
		if _, tags, err = models.ParseSeriesKeyAppend(tags[:0], k); err != nil {
			return nil, fmt.Errorf("series key %q: %w", k, err)
		}
		for _, t := range tags {
			pick(t, add)
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}

func stringsOf(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// DeleteFromShard implements ShardReader.
func (r *LocalShardReader) DeleteFromShard(ctx context.Context, shardID uint64, req *DeleteRequest) error {
	sh, err := r.shard(shardID)
	if err != nil {
		return err
	}
	expr, err := TagExprFromCondition(req.Condition)
	if err != nil {
		return fmt.Errorf("delete in shard %d: %w", shardID, err)
	}
	ix := sh.Index()
	names := [][]byte{[]byte(req.Measurement)}
	if req.Measurement == "" {
		names = ix.Measurements()
	}
	switch req.Kind {
	case DeleteMeasurement:
		err = sh.DropMeasurement([]byte(req.Measurement))
	case DeleteSeries:
		for _, m := range names {
			if err = sh.DropSeries(m, expr); err != nil {
				break
			}
		}
	case DeleteRange:
		for _, m := range names {
			var keys [][]byte
			for _, id := range ix.MatchSeries(m, expr) {
				if k := ix.SeriesKey(id); k != nil {
					keys = append(keys, k)
				}
			}
			if err = sh.DeleteSeriesRange(keys, req.Min, req.Max); err != nil {
				break
			}
		}
	default:
		return fmt.Errorf("delete in shard %d: kind %d: %w", shardID, req.Kind, ErrInvalidReadRequest)
	}
	if err != nil {
		return fmt.Errorf("delete in shard %d: %w", shardID, err)
	}
	return nil
}
