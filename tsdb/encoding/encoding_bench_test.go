package encoding_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/strata-db/strata/tsdb/encoding"
)

var benchSizes = []int{10, 100, 1000}

// loop runs body in a b.Loop over n values whose encoding takes encodedLen
// bytes, with b.SetBytes(rawBytes), and reports ns/value (wall),
// cpu-ns/value (process CPU time, which an oversubscribed machine inflates
// less) and B/value.
func loop(b *testing.B, n, rawBytes, encodedLen int, body func()) {
	b.ReportAllocs()
	b.SetBytes(int64(rawBytes))
	cpu0, ok := processCPU()
	for b.Loop() {
		body()
	}
	cpu1, _ := processCPU()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/value")
	if ok {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N)/float64(n), "cpu-ns/value")
	}
	b.ReportMetric(float64(encodedLen)/float64(n), "B/value")
}

// benchCodec benchmarks encode and decode of vs (rawBytes of input).
func benchCodec[T any](b *testing.B, vs []T, rawBytes int, enc func([]byte, []T) []byte, dec func([]T, []byte) ([]T, error)) {
	n := len(vs)
	block := enc(nil, vs)
	b.Run("encode", func(b *testing.B) {
		buf := enc(nil, vs)
		loop(b, n, rawBytes, len(block), func() { buf = enc(buf[:0], vs) })
	})
	b.Run("decode", func(b *testing.B) {
		out := make([]T, 0, n)
		var err error
		loop(b, n, rawBytes, len(block), func() {
			if out, err = dec(out[:0], block); err != nil {
				b.Fatalf("decode: %v", err)
			}
		})
	})
}

// benchInts returns TSBS-like int columns: a regular and a jittered
// timestamp column and a bounded random walk 0..100.
func benchInts(n int) (regular, jittered, walk []int64) {
	r := rand.New(rand.NewPCG(11, 12))
	regular, jittered, walk = make([]int64, n), make([]int64, n), make([]int64, n)
	v := 50.0
	for i := range n {
		regular[i] = 1767225600000000000 + int64(i)*10_000_000_000
		jittered[i] = regular[i] + int64(r.IntN(1_000_000))
		v = min(100, max(0, v+r.NormFloat64()))
		walk[i] = int64(v)
	}
	return regular, jittered, walk
}

func BenchmarkTimestamps(b *testing.B) {
	for _, n := range benchSizes {
		regular, jittered, _ := benchInts(n)
		b.Run(fmt.Sprintf("regular/%d", n), func(b *testing.B) {
			benchCodec(b, regular, 8*n, encoding.AppendTimestamps, encoding.DecodeTimestamps)
		})
		b.Run(fmt.Sprintf("jittered/%d", n), func(b *testing.B) {
			benchCodec(b, jittered, 8*n, encoding.AppendTimestamps, encoding.DecodeTimestamps)
		})
	}
}

func BenchmarkIntegers(b *testing.B) {
	for _, n := range benchSizes {
		_, _, walk := benchInts(n)
		b.Run(fmt.Sprintf("walk/%d", n), func(b *testing.B) {
			benchCodec(b, walk, 8*n, encoding.AppendIntegers, encoding.DecodeIntegers)
		})
	}
}

func BenchmarkUnsigneds(b *testing.B) {
	for _, n := range benchSizes {
		r := rand.New(rand.NewPCG(13, 14))
		counter := make([]uint64, n)
		c := uint64(1 << 40)
		for i := range counter {
			c += uint64(r.IntN(5000))
			counter[i] = c
		}
		b.Run(fmt.Sprintf("counter/%d", n), func(b *testing.B) {
			benchCodec(b, counter, 8*n, encoding.AppendUnsigneds, encoding.DecodeUnsigneds)
		})
	}
}

func BenchmarkFloats(b *testing.B) {
	for _, n := range benchSizes {
		r := rand.New(rand.NewPCG(15, 16))
		walk := make([]float64, n)
		cents := make([]float64, n)
		v := 50.0
		for i := range walk {
			v = min(100, max(0, v+r.NormFloat64()))
			walk[i] = v
			cents[i] = float64(int64(v*100)) / 100 // two decimals, like gauges
		}
		b.Run(fmt.Sprintf("walk/%d", n), func(b *testing.B) {
			benchCodec(b, walk, 8*n, encoding.AppendFloats, encoding.DecodeFloats)
		})
		b.Run(fmt.Sprintf("cents/%d", n), func(b *testing.B) {
			benchCodec(b, cents, 8*n, encoding.AppendFloats, encoding.DecodeFloats)
		})
	}
}

func BenchmarkBooleans(b *testing.B) {
	for _, n := range benchSizes {
		r := rand.New(rand.NewPCG(17, 18))
		vs := make([]bool, n)
		for i := range vs {
			vs[i] = r.IntN(2) == 1
		}
		b.Run(fmt.Sprintf("random/%d", n), func(b *testing.B) {
			benchCodec(b, vs, n, encoding.AppendBooleans, encoding.DecodeBooleans)
		})
	}
}

func BenchmarkStrings(b *testing.B) {
	for _, n := range benchSizes {
		r := rand.New(rand.NewPCG(19, 20))
		vs := make([][]byte, n)
		raw := 0
		for i := range vs {
			vs[i] = fmt.Appendf(nil, "status=%d path=/api/v1/items/%d", 200+r.IntN(3)*100, r.IntN(50))
			raw += len(vs[i])
		}
		b.Run(fmt.Sprintf("log/%d", n), func(b *testing.B) {
			benchCodec(b, vs, raw, encoding.AppendStrings, encoding.DecodeStrings)
		})
	}
}

// BenchmarkTSBS encodes and decodes 1000-value blocks of the real TSBS
// cpu-only columns (the first 50: 5 hosts x 10 fields, 8,640 values each),
// timestamps and values.
func BenchmarkTSBS(b *testing.B) {
	cols := loadColumns(b, tsbsFile)
	cols = cols[:min(50, len(cols))]
	type blk struct{ ts, vals []int64 }
	var blks []blk
	values := 0
	for _, c := range cols {
		blocks(len(c.ts), blockSize, func(lo, hi int) {
			blks = append(blks, blk{c.ts[lo:hi], c.ints[lo:hi]})
			values += hi - lo
		})
	}
	encoded := make([][2][]byte, len(blks))
	size := 0
	for i, k := range blks {
		encoded[i] = [2][]byte{encoding.AppendTimestamps(nil, k.ts), encoding.AppendIntegers(nil, k.vals)}
		size += len(encoded[i][0]) + len(encoded[i][1])
	}
	b.Run("encode", func(b *testing.B) {
		var buf []byte
		loop(b, values, 16*values, size, func() {
			for _, k := range blks {
				buf = encoding.AppendTimestamps(buf[:0], k.ts)
				buf = encoding.AppendIntegers(buf[:0], k.vals)
			}
		})
	})
	b.Run("decode", func(b *testing.B) {
		ts := make([]int64, 0, blockSize)
		vals := make([]int64, 0, blockSize)
		var err error
		loop(b, values, 16*values, size, func() {
			for _, e := range encoded {
				if ts, err = encoding.DecodeTimestamps(ts[:0], e[0]); err != nil {
					b.Fatalf("decode timestamps: %v", err)
				}
				if vals, err = encoding.DecodeIntegers(vals[:0], e[1]); err != nil {
					b.Fatalf("decode values: %v", err)
				}
			}
		})
	})
}
