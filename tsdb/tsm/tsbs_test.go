package tsm_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"os"
	"sort"
	"sync"
	"testing"

	"github.com/strata-db/strata/internal/datasets"
	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// dataset is a TSBS file loaded as sorted columns.
type dataset struct {
	cols   []column
	values int
}

var (
	datasetOnce = map[string]*sync.Once{}
	loaded      = map[string]*dataset{}
	datasetMu   sync.Mutex
)

// loadDataset parses a gzipped line-protocol file into sorted columns,
// once per process.
func loadDataset(tb testing.TB, name string) *dataset {
	tb.Helper()
	path := datasets.Path(tb, name)
	datasetMu.Lock()
	once := datasetOnce[name]
	if once == nil {
		once = &sync.Once{}
		datasetOnce[name] = once
	}
	datasetMu.Unlock()
	once.Do(func() {
		ds, err := parseDataset(path)
		if err != nil {
			tb.Fatalf("load %s: got error %v; want nil", path, err)
		}
		datasetMu.Lock()
		loaded[name] = ds
		datasetMu.Unlock()
	})
	datasetMu.Lock()
	defer datasetMu.Unlock()
	if loaded[name] == nil {
		tb.Fatalf("dataset %s failed to load earlier", name)
	}
	return loaded[name]
}

func parseDataset(path string) (*dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*tsm.Array{}
	var p models.Parser
	var batch []byte
	var key []byte
	flush := func() error {
		pts, err := p.Parse(batch, models.PrecisionNanosecond, 0)
		if err != nil {
			return err
		}
		for i := range pts {
			pt := &pts[i]
			key = pt.AppendSeriesKey(key[:0])
			for _, fl := range pt.Fields {
				k := string(key) + "\x00" + string(fl.Key)
				a := byKey[k]
				if a == nil {
					a = &tsm.Array{}
					byKey[k] = a
				}
				if err := a.Append(pt.Time, fl.Value); err != nil {
					return err
				}
			}
		}
		batch = batch[:0]
		return nil
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines := 0
	for sc.Scan() {
		batch = append(append(batch, sc.Bytes()...), '\n')
		if lines++; lines%5000 == 0 {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	ds := &dataset{}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a := byKey[k]
		a.SortDedupe()
		i := bytes.IndexByte([]byte(k), 0)
		ds.cols = append(ds.cols, column{series: k[:i], field: k[i+1:], arr: a})
		ds.values += a.Len()
	}
	return ds, nil
}

// TestTSBSBytesPerValue writes the TSBS cpu-only s100 1d dataset as one
// fully compacted file and checks the size target of issue 3: at most
// 0.35 bytes per value (InfluxDB 1.8: 0.48).
func TestTSBSBytesPerValue(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 8.6 M values; skipped in -short mode")
	}
	if raceEnabled {
		t.Skip("loads 8.6 M values and has no concurrency; skipped under -race")
	}
	ds := loadDataset(t, "tsbs-cpu-only-s100-1d.lp.gz")
	path := writeFile(t, t.TempDir(), "tsbs.tsm", ds.cols)
	r := mustOpen(t, path)
	bpv := float64(r.Size()) / float64(ds.values)
	t.Logf("%d values, %d keys, %d blocks, file %d bytes (index %d): %.4f bytes/value",
		ds.values, r.KeyCount(), r.BlockCount(), r.Size(), r.IndexSize(), bpv)
	if bpv > 0.35 {
		t.Errorf("bytes per value = %.4f; want <= 0.35", bpv)
	}
}
