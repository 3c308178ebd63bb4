package models_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/datasets"
	"github.com/strata-db/strata/loadgen"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/strata-db/strata/tsdb/models"
)

const benchBatch = 5000

// rawDecode decodes body with a bare lineprotocol.Decoder, reading every
// token and field value, and returns the number of values. It is the floor
// Parser is compared against.
func rawDecode(body []byte) int {
	n := 0
	dec := lineprotocol.NewDecoderWithBytes(body)
	for dec.Next() {
		if _, err := dec.Measurement(); err != nil {
			continue
		}
		for {
			k, _, err := dec.NextTag()
			if err != nil || k == nil {
				break
			}
		}
		for {
			k, _, err := dec.NextField()
			if err != nil || k == nil {
				break
			}
			n++
		}
		_, _ = dec.Time(lineprotocol.Nanosecond, time.Time{})
	}
	return n
}

func countValues(b *testing.B, batches [][]byte) (values, bytes int) {
	var p models.Parser
	for _, body := range batches {
		pts, err := p.Parse(body, 1, 0)
		if err != nil {
			b.Fatalf("Parse: got error %v; want none", err)
		}
		for i := range pts {
			values += len(pts[i].Fields)
		}
		bytes += len(body)
	}
	return values, bytes
}

func benchParse(b *testing.B, batches [][]byte) {
	values, size := countValues(b, batches)
	// each runs parse on every batch in turn and reports values/s.
	each := func(name string, parse func(batch []byte) error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size / len(batches)))
			i := 0
			for b.Loop() {
				if err := parse(batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(values)/float64(len(batches))*float64(b.N)/b.Elapsed().Seconds(), "values/s")
		})
	}
	each("lineprotocol", func(batch []byte) error { rawDecode(batch); return nil })
	var parsed models.Parser
	each("models", func(batch []byte) error {
		_, err := parsed.Parse(batch, 1, 0)
		return err
	})
	// next reads each batch as the write handler does, with Start and Next,
	// whose points may refer to the body (a new series' key among them).
	var streamed models.Parser
	each("next", func(batch []byte) error {
		streamed.Start(batch, 1, 0)
		for len(streamed.Next(0)) > 0 {
		}
		return streamed.Err()
	})
	// vs-raw alternates the bare decoder and Parser on the same batch,
	// measuring the CPU time of the benchmark's thread, and reports both
	// speeds in values per CPU-second and Parser's as a fraction of the
	// decoder's ("x-raw"). This cancels most of the noise of a shared machine.
	b.Run("vs-raw", func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		b.ReportAllocs()
		var p models.Parser
		var rawCPU, modelsCPU time.Duration
		i := 0
		for b.Loop() {
			body := batches[i%len(batches)]
			t0 := threadCPU()
			rawDecode(body)
			t1 := threadCPU()
			if _, err := p.Parse(body, 1, 0); err != nil {
				b.Fatal(err)
			}
			rawCPU += t1 - t0
			modelsCPU += threadCPU() - t1
			i++
		}
		n := float64(values) / float64(len(batches)) * float64(b.N)
		b.ReportMetric(n/rawCPU.Seconds(), "raw-values/cpu-s")
		b.ReportMetric(n/modelsCPU.Seconds(), "values/cpu-s")
		b.ReportMetric(rawCPU.Seconds()/modelsCPU.Seconds(), "x-raw")
	})
}

// BenchmarkParse parses TSBS cpu-only data in batches of 5,000 lines (one op
// is one batch) and a synthetic body with every value type and escapes.
// "values/s" counts field values; vs-raw reports "x-raw", Parser's speed as a
// fraction of a bare lineprotocol.Decoder's on the same batches, by CPU time.
func BenchmarkParse(b *testing.B) {
	b.Run("tsbs-cpu", func(b *testing.B) {
		batches := datasets.Batches(b, "tsbs-cpu-only-s100-1d.lp.gz", benchBatch, 40*benchBatch)
		benchParse(b, batches)
	})
	b.Run("tsbs-cpu-new-series", func(b *testing.B) {
		benchParse(b, newSeriesBatches(b, 4*benchBatch))
	})
	b.Run("synthetic", func(b *testing.B) {
		var body []byte
		for i := range benchBatch {
			body = fmt.Appendf(body, `weather,location=loc\ %d,station=s%d,zone=z%d temp=%d.25,hum=%di,count=%du,ok=true,note="n\"%d" %d`+"\n",
				i%37, i%100, i%7, i, i%100, i, i, 1767225600000000000+int64(i)*1e9)
		}
		benchParse(b, [][]byte{body})
	})
}

// newSeriesBatches returns lines of `strata bench --hosts N` for lines
// hosts at one time step, in batches of benchBatch: every line is a series
// of its own, as in the 1 M-series load.
func newSeriesBatches(b *testing.B, lines int) [][]byte {
	cfg := loadgen.NewCPUConfig()
	cfg.Hosts, cfg.Duration = lines, cfg.Interval
	g, err := loadgen.NewCPUGenerator(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var batches [][]byte
	for done := false; !done; {
		var body []byte
		for range benchBatch {
			var ok bool
			if body, ok = g.Next(body); !ok {
				done = true
				break
			}
		}
		if len(body) > 0 {
			batches = append(batches, body)
		}
	}
	return batches
}

func BenchmarkAppendSeriesKey(b *testing.B) {
	var p models.Parser
	pts, err := p.Parse([]byte("cpu,hostname=host_0,region=eu-central-1,datacenter=eu-central-1a,rack=6,os=Ubuntu15.10,arch=x86,team=SF,service=19,service_version=1,service_environment=test usage_user=58i 1\n"), 1, 0)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(pts[0].AppendSeriesKey(nil))))
	for b.Loop() {
		dst = pts[0].AppendSeriesKey(dst[:0])
	}
}

// wideLine returns one line of measurement "wide" with integer fields
// f0=0,f1=1,... until it is at least size bytes long, and the field count.
func wideLine(size int) ([]byte, int) {
	line := []byte("wide,host=a ")
	n := 0
	for len(line) < size {
		if n > 0 {
			line = append(line, ',')
		}
		line = fmt.Appendf(line, "f%d=%di", n, n)
		n++
	}
	return append(line, " 1\n"...), n
}

// BenchmarkParseWideLine parses one line of about 10 MB holding some
// 670,000 fields (issue 9: the duplicate-field check compared each field
// with every earlier one, more than 10 minutes for such a line). One op is
// the whole line; the target is under 1 s. The 1 MB case shows how the
// time grows with the line (about 10 times for a linear parser).
// "cpu-s/op" is the CPU time of the benchmark's thread per parse, steadier
// than wall time on a shared machine (it leaves out the GC's own threads).
func BenchmarkParseWideLine(b *testing.B) {
	for _, size := range []int{1 << 20, 10 << 20} {
		line, n := wideLine(size)
		b.Run(fmt.Sprintf("%dMB", size>>20), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.SetBytes(int64(len(line)))
			var p models.Parser
			var cpu time.Duration
			for b.Loop() {
				t0 := threadCPU()
				pts, err := p.Parse(line, 1, 0)
				cpu += threadCPU() - t0
				if err != nil || len(pts) != 1 || len(pts[0].Fields) != n {
					b.Fatalf("Parse: %d points, error %v; want 1 point of %d fields", len(pts), err, n)
				}
			}
			b.ReportMetric(float64(n), "fields")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}
