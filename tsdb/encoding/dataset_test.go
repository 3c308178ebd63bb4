package encoding_test

import (
	"bufio"
	"compress/gzip"
	"errors"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/strata-db/strata/internal/datasets"
)

// column is one (series, field) of a dataset: timestamps and integer or
// float values (exactly one of ints and floats is used).
type column struct {
	series, field string
	ts            []int64
	ints          []int64
	floats        []float64
}

var loaded sync.Map // file name -> *datasetOnce

type datasetOnce struct {
	once sync.Once
	cols []column
	err  error
}

// loadColumns parses a gzip line-protocol dataset into columns, sorted by
// series then field, once per process. It skips the test when the file is
// absent.
func loadColumns(t testing.TB, name string) []column {
	t.Helper()
	p := datasets.Path(t, name)
	v, _ := loaded.LoadOrStore(name, new(datasetOnce))
	d := v.(*datasetOnce)
	d.once.Do(func() { d.cols, d.err = parseColumns(p) })
	if d.err != nil {
		t.Fatalf("load %s: %v", p, d.err)
	}
	return d.cols
}

func parseColumns(p string) ([]column, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	dec := lineprotocol.NewDecoder(bufio.NewReaderSize(zr, 1<<20))
	type seriesCols struct {
		fields map[string]*column
	}
	bySeries := map[string]*seriesCols{}
	var all []*column
	var key []byte
	for dec.Next() {
		m, err := dec.Measurement()
		if err != nil {
			return nil, err
		}
		key = append(key[:0], m...)
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				return nil, err
			}
			if k == nil {
				break
			}
			key = append(append(append(append(key, ','), k...), '='), v...)
		}
		sc := bySeries[string(key)]
		if sc == nil {
			sc = &seriesCols{fields: map[string]*column{}}
			bySeries[string(key)] = sc
		}
		var cols []*column
		var vals []lineprotocol.Value
		for {
			k, v, err := dec.NextField()
			if err != nil {
				return nil, err
			}
			if k == nil {
				break
			}
			c := sc.fields[string(k)]
			if c == nil {
				c = &column{series: string(key), field: string(k)}
				sc.fields[string(k)] = c
				all = append(all, c)
			}
			cols = append(cols, c)
			vals = append(vals, v)
		}
		ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		if err != nil {
			return nil, err
		}
		for i, c := range cols {
			switch v := vals[i]; v.Kind() {
			case lineprotocol.Int:
				c.ints = append(c.ints, v.IntV())
			case lineprotocol.Uint:
				c.ints = append(c.ints, int64(v.UintV()))
			case lineprotocol.Float:
				c.floats = append(c.floats, v.FloatV())
			default:
				continue // strings and booleans are not measured
			}
			c.ts = append(c.ts, ts.UnixNano())
		}
	}
	if err := dec.Err(); err != nil {
		return nil, err
	}
	cols := make([]column, 0, len(all))
	for _, c := range all {
		if len(c.ints) > 0 && len(c.floats) > 0 {
			return nil, errors.New("field " + c.field + " of " + c.series + " mixes types")
		}
		if len(c.ts) > 0 {
			cols = append(cols, *c)
		}
	}
	sort.Slice(cols, func(i, j int) bool {
		if cols[i].series != cols[j].series {
			return cols[i].series < cols[j].series
		}
		return cols[i].field < cols[j].field
	})
	return cols, nil
}

// blocks calls fn for each cut of n values of [0, total).
func blocks(total, n int, fn func(lo, hi int)) {
	for lo := 0; lo < total; lo += n {
		fn(lo, min(lo+n, total))
	}
}
