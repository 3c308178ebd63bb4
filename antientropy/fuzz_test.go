package antientropy_test

import (
	"bytes"
	"context"
	"encoding"
	"errors"
	"testing"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// maxFuzzInput bounds fuzz inputs (decoders bound allocations by size).
const maxFuzzInput = 1 << 20

type message interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// fuzzDecoder checks that decoding arbitrary bytes never panics, fails
// only with ErrCorruptMessage, and that what decodes re-encodes to bytes
// that decode to the same encoding again.
func fuzzDecoder(f *testing.F, seed message, fresh func() message) {
	b, err := seed.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		m := fresh()
		if err := m.UnmarshalBinary(in); err != nil {
			if !errors.Is(err, antientropy.ErrCorruptMessage) {
				t.Fatalf("error %v does not wrap ErrCorruptMessage", err)
			}
			return
		}
		out, _ := m.MarshalBinary()
		m2 := fresh()
		if err := m2.UnmarshalBinary(out); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		out2, _ := m2.MarshalBinary()
		if !bytes.Equal(out, out2) {
			t.Fatalf("re-encoding is not stable:\n%x\n%x", out, out2)
		}
	})
}

var (
	fuzzDigest = tsdb.Digest{1, 2, 3}
	fuzzTomb   = tsdb.Tombstone{SeriesKey: []byte("cpu,host=a"), Field: []byte("usage"), Min: -5, Max: 99, Created: 7}
	fuzzCols   = []antientropy.Column{
		{Series: []byte("cpu,host=a"), Field: []byte("f"), Type: models.FieldTypeFloat, Times: []int64{1, 2}, Values: []models.Value{models.FloatValue(1.5), models.FloatValue(-2)}},
		{Series: []byte("cpu,host=a"), Field: []byte("s"), Type: models.FieldTypeString, Times: []int64{3}, Values: []models.Value{models.StringValue([]byte("x"))}},
		{Series: []byte("cpu,host=b"), Field: []byte("b"), Type: models.FieldTypeBoolean, Times: []int64{4}, Values: []models.Value{models.BooleanValue(true)}},
		{Series: []byte("cpu,host=b"), Field: []byte("u"), Type: models.FieldTypeUnsigned, Times: []int64{5}, Values: []models.Value{models.UnsignedValue(9)}},
		{Series: []byte("cpu,host=b"), Field: []byte("i"), Type: models.FieldTypeInteger, Times: []int64{6, 70}, Values: []models.Value{models.IntegerValue(-1), models.IntegerValue(3)}},
	}
)

func FuzzRootRequest(f *testing.F) {
	fuzzDecoder(f, &antientropy.RootRequest{Shard: 3, From: 1, Buckets: 4096, Window: 3600e9, Before: 99, Root: fuzzDigest},
		func() message { return &antientropy.RootRequest{} })
}

func FuzzRootResponse(f *testing.F) {
	fuzzDecoder(f, &antientropy.RootResponse{State: antientropy.RootDiffer, Windows: []antientropy.WindowRoot{{Start: 5, Root: fuzzDigest}}},
		func() message { return &antientropy.RootResponse{} })
}

func FuzzNodesRequest(f *testing.F) {
	fuzzDecoder(f, &antientropy.NodesRequest{Shard: 1, Nodes: []antientropy.NodeRef{{Window: 1, Level: 2, Index: 3}}},
		func() message { return &antientropy.NodesRequest{} })
}

func FuzzNodesResponse(f *testing.F) {
	fuzzDecoder(f, &antientropy.NodesResponse{Children: [][]antientropy.Child{{{Index: 4, Digest: fuzzDigest}}, nil}},
		func() message { return &antientropy.NodesResponse{} })
}

func FuzzSeriesRequest(f *testing.F) {
	fuzzDecoder(f, &antientropy.SeriesRequest{Shard: 1, Buckets: []tsdb.BucketID{{SeriesBucket: 7, WindowStart: -3600}}},
		func() message { return &antientropy.SeriesRequest{} })
}

func FuzzSeriesResponse(f *testing.F) {
	fuzzDecoder(f, &antientropy.SeriesResponse{Buckets: [][]antientropy.SeriesDigest{{{Key: []byte("cpu,host=a"), Hash: antientropy.SeriesHash{9}}}}},
		func() message { return &antientropy.SeriesResponse{} })
}

func FuzzSlicesRequest(f *testing.F) {
	fuzzDecoder(f, &antientropy.SlicesRequest{Shard: 1, Items: []antientropy.SeriesWindow{{Key: []byte("k"), Window: 3}}},
		func() message { return &antientropy.SlicesRequest{} })
}

func FuzzSlicesResponse(f *testing.F) {
	fuzzDecoder(f, &antientropy.SlicesResponse{Items: []antientropy.SliceHashes{{1, 2, 3}}},
		func() message { return &antientropy.SlicesResponse{} })
}

func FuzzFetchRequest(f *testing.F) {
	fuzzDecoder(f, &antientropy.FetchRequest{Shard: 1, Ranges: []antientropy.SeriesRange{{Key: []byte("k"), Min: 1, Max: 2}}},
		func() message { return &antientropy.FetchRequest{} })
}

func FuzzFetchResponse(f *testing.F) {
	fuzzDecoder(f, &antientropy.FetchResponse{Served: 2, Tombstones: []tsdb.Tombstone{fuzzTomb}, Columns: fuzzCols},
		func() message { return &antientropy.FetchResponse{} })
}

func FuzzApplyRequest(f *testing.F) {
	fuzzDecoder(f, &antientropy.ApplyRequest{Shard: 1, Tombstones: []tsdb.Tombstone{fuzzTomb}, Columns: fuzzCols},
		func() message { return &antientropy.ApplyRequest{} })
}

func FuzzApplyResponse(f *testing.F) {
	fuzzDecoder(f, &antientropy.ApplyResponse{Written: 5, Dropped: 1}, func() message { return &antientropy.ApplyResponse{} })
}

func FuzzStreamRequest(f *testing.F) {
	fuzzDecoder(f, &antientropy.StreamRequest{Shard: 8}, func() message { return &antientropy.StreamRequest{} })
}

// FuzzReadShardStream: arbitrary bytes never panic ReadShardStream, and
// every error but a store failure wraps ErrCorruptMessage.
func FuzzReadShardStream(f *testing.F) {
	src := openTestShard(f)
	if err := src.WritePoints(context.Background(), series("a", base, 20, func(i int) int64 { return int64(i) })); err != nil {
		f.Fatal(err)
	}
	if err := src.DeleteSeriesRange([][]byte{seriesKey("a")}, base, base+5); err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := antientropy.WriteShardStream(context.Background(), &buf, testShardT{src}, 1<<20, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()-3])
	dst := openTestShard(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		if _, err := antientropy.ReadShardStream(context.Background(), bytes.NewReader(in), testShardT{dst}); err != nil &&
			!errors.Is(err, antientropy.ErrCorruptMessage) {
			t.Fatalf("error %v does not wrap ErrCorruptMessage", err)
		}
	})
}
