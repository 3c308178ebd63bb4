package query

import (
	"context"
	"sync"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/models"
)

// Storage is where the executor reads a database's data from, wherever its
// shards live. The cluster implements it in package coordinator (shard
// mapping, local reads, RPC to other owners); tests use an in-memory one.
//
// Every call covers the shards of db/rp whose time range overlaps
// [min, max] (inclusive, ns since the epoch). rp is never empty: the
// executor resolves the default policy first. cond, where present, is a
// condition on tags only (the executor keeps field and time conditions
// for itself); nil matches every series. Implementations are safe for
// concurrent use.
type Storage interface {
	// MeasurementNames returns the sorted names of the measurements that
	// have at least one series matching cond.
	MeasurementNames(ctx context.Context, db, rp string, cond influxql.Expr, min, max int64) ([]string, error)
	// FieldKeys returns measurement's field keys with their types, sorted
	// by key. A field with different types in different shards appears
	// once per type.
	FieldKeys(ctx context.Context, db, rp, measurement string, min, max int64) ([]FieldKey, error)
	// TagKeys returns the sorted tag keys of the series of measurement
	// that match cond.
	TagKeys(ctx context.Context, db, rp, measurement string, cond influxql.Expr, min, max int64) ([]string, error)
	// TagValues returns the sorted values of tag key among the series of
	// measurement that match cond.
	TagValues(ctx context.Context, db, rp, measurement, key string, cond influxql.Expr, min, max int64) ([]string, error)
	// SeriesKeys returns the sorted, de-duplicated canonical series keys of
	// measurement that match cond.
	SeriesKeys(ctx context.Context, db, rp, measurement string, cond influxql.Expr, min, max int64) ([]string, error)
	// Scan calls fn for the data of every series of req.Measurement that
	// matches req.Condition. fn may be called several times for one series
	// (once per shard holding it; different shards of one series cover
	// disjoint time ranges), in no particular order, never concurrently.
	// The batch is only valid during the call, unless it says Owned.
	Scan(ctx context.Context, req ScanRequest, fn func(*SeriesBatch) error) error
}

// FieldKey is a field and its type.
type FieldKey struct {
	Name string
	Type models.FieldType
}

// ScanRequest says what Storage.Scan reads.
type ScanRequest struct {
	Database, RetentionPolicy, Measurement string
	// Condition is on tags only; nil matches every series.
	Condition influxql.Expr
	// Fields are the field keys to read; fields a series lacks are absent
	// from its batch.
	Fields []string
	// Min and Max bound the time range, inclusive, in ns.
	Min, Max int64
	// Window, when set, asks for per-window partial aggregates of each
	// field instead of raw values (aggregate pushdown).
	Window *WindowRequest
	// Filter, when set on a raw scan (no Window), is a condition on each
	// row: the values of Fields at one time (a reference of type
	// influxql.Tag, or naming no field of Fields, is a tag). A storage may
	// leave out the rows it does not pass (see CompileRowFilter) or
	// ignore it: the executor applies it to every row it gets.
	Filter influxql.Expr
}

// WindowRequest asks for partial aggregates per time window. Windows start
// at multiples of Every shifted by Offset (InfluxQL GROUP BY time(every,
// offset)): a point at t falls in the window starting at
// t - ((t - Offset) mod Every), with mod taken non-negative.
type WindowRequest struct {
	Every, Offset int64
	Aggregates    AggregateSet
}

// AggregateSet is a set of partial aggregates a WindowRequest asks for.
type AggregateSet uint8

// Partial aggregates that split across shards and merge exactly.
const (
	AggregateCount AggregateSet = 1 << iota
	AggregateSum
	AggregateMin
	AggregateMax
	AggregateFirst
	AggregateLast
	// AggregateTimes is FirstTime and LastTime without First and Last
	// (what a count of values and their extent needs: a storage may then
	// leave the values undecoded).
	AggregateTimes
	// AggregateCountAny relaxes AggregateCount: a window holding values
	// need only have a Count of at least 1, not their number, so that a
	// storage may read First or Last from its sources' edges alone (the
	// one point per field and series a raw LIMIT 1 query needs).
	AggregateCountAny
)

// SeriesBatch is the data of one series from one shard.
type SeriesBatch struct {
	// Key is the canonical series key (models.AppendSeriesKey form).
	Key string
	// Tags are the series' tags, sorted by key.
	Tags models.Tags
	// Fields holds one column per requested field the series has.
	Fields []FieldColumn
	// Filtered says the storage kept only the rows the request's Filter
	// passes, so the executor need not evaluate it again.
	Filtered bool
	// Owned says the Windows of Fields (string bytes included) were made
	// for this batch alone: the executor may keep them past the call
	// instead of copying them, and reuse them (MakeWindows) once its
	// rows are built. The storage neither reuses nor changes them.
	Owned bool
}

// windowBufs holds the window buffers of owned batches whose rows are
// built: a small windowed query's answer comes from one series' windows,
// a third of the bytes such a query allocated (issue 17 item 1).
var windowBufs sync.Pool

// maxPooledWindows bounds the buffers windowBufs keeps, so that one large
// scan leaves no large buffer behind.
const maxPooledWindows = 4096

// MakeWindows returns n windows for the Fields of a batch that says
// Owned, recycled from an earlier query when one fits. Their contents are
// left over: the caller sets every field of each.
func MakeWindows(n int) []Window {
	if p, ok := windowBufs.Get().(*[]Window); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]Window, n)
}

// recycleWindows gives ws, which nothing references any more, to
// MakeWindows.
func recycleWindows(ws []Window) {
	if cap(ws) == 0 || cap(ws) > maxPooledWindows {
		return
	}
	ws = ws[:cap(ws)]
	clear(ws) // no string of a query kept alive
	windowBufs.Put(&ws)
}

// FieldColumn is one field's values in a SeriesBatch: raw points (sorted
// by time, one per timestamp) or, for a windowed scan, window aggregates
// (sorted by start, only windows holding at least one point).
type FieldColumn struct {
	Name    string
	Type    models.FieldType
	Points  []Point
	Windows []Window
}

// Point is one raw value.
type Point struct {
	Time  int64
	Value models.Value
}

// Window holds the partial aggregates of one field over one window. Only
// the aggregates asked for are meaningful. Sum, Min and Max have the
// field's type (integer sums stay integers); First and Last carry their
// point's time.
type Window struct {
	Start               int64
	Count               int64
	Sum, Min, Max       models.Value
	First, Last         models.Value
	FirstTime, LastTime int64
}
