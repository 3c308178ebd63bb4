package antientropy

import (
	"encoding/binary"

	"github.com/strata-db/strata/tsdb"
)

// WireVersion is the version byte every anti-entropy message and shard
// stream starts with (docs/wire.md). A node refuses another version rather
// than guessing at its layout.
const WireVersion = 1

// Message kinds, the second byte of every message.
const (
	kindRootRequest byte = iota + 1
	kindRootResponse
	kindNodesRequest
	kindNodesResponse
	kindSeriesRequest
	kindSeriesResponse
	kindSlicesRequest
	kindSlicesResponse
	kindFetchRequest
	kindFetchResponse
	kindApplyRequest
	kindApplyResponse
	kindStreamRequest
)

// digestSize is the length of a tsdb.Digest (SHA-256).
const digestSize = len(tsdb.Digest{})

// Sizes that bound decoding: the fewest bytes an element can take.
const (
	minBucketSize = 2              // uvarint series bucket, varint window
	minNodeSize   = 3              // varint window, level byte, uvarint index
	minChildSize  = 1 + digestSize // uvarint index, digest
	minKeySize    = 2              // length byte and at least one key byte
	minRangeSize  = 4              // key, min, max
	minTombSize   = 5              // key, field, min, max, created
	minColumnSize = 6              // series, field, type, two block lengths
	minWindowSize = 1 + digestSize // varint start, digest
)

// SeriesHash is a series' hash within one window: the first 16 bytes of the
// SHA-256 of its values in the canonical form of tsdb/docs/digest.md.
type SeriesHash [16]byte

// Slices is the number of time slices a window is cut into when one
// series differs, so that only the slices that differ are moved.
const Slices = 16

// Root states a RootResponse reports.
const (
	// RootEqual: the peer's root over the settled windows is the requester's.
	RootEqual byte = iota
	// RootDiffer: the roots differ; Windows holds the peer's window roots.
	RootDiffer
	// RootMissing: the peer does not hold the shard or holds no data in it:
	// the requester streams the shard to it whole.
	RootMissing
	// RootDeferred: the peer still has hinted-handoff data queued for the
	// requester; compare on the next round.
	RootDeferred
)

// RootRequest opens an exchange: the requester's root over the windows
// that start before Before, with the digest layout both sides must share.
type RootRequest struct {
	Shard   uint64
	From    uint64 // the requesting node
	Buckets uint32 // digest-series-buckets
	Window  int64  // digest-window in ns
	Before  int64  // windows starting before this are compared
	Root    tsdb.Digest
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *RootRequest) MarshalBinary() ([]byte, error) {
	b := appendHeader(nil, kindRootRequest)
	b = binary.AppendUvarint(b, m.Shard)
	b = binary.AppendUvarint(b, m.From)
	b = binary.AppendUvarint(b, uint64(m.Buckets))
	b = binary.AppendVarint(b, m.Window)
	b = binary.AppendVarint(b, m.Before)
	return append(b, m.Root[:]...), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage.
func (m *RootRequest) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindRootRequest)
	*m = RootRequest{Shard: r.Uvarint(), From: r.Uvarint(), Buckets: r.uint32(), Window: r.Varint(), Before: r.Varint(), Root: r.digest()}
	if r.Err() == nil && (m.Buckets == 0 || m.Window <= 0) {
		r.Fail("digest layout must be positive")
	}
	return r.end()
}

// WindowRoot is the root of one window's tree.
type WindowRoot struct {
	Start int64
	Root  tsdb.Digest
}

// RootResponse answers a RootRequest.
type RootResponse struct {
	State   byte
	Windows []WindowRoot // the peer's non-empty settled windows, ascending (RootDiffer only)
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *RootResponse) MarshalBinary() ([]byte, error) {
	b := appendHeader(nil, kindRootResponse)
	b = append(b, m.State)
	b = binary.AppendUvarint(b, uint64(len(m.Windows)))
	for _, w := range m.Windows {
		b = binary.AppendVarint(b, w.Start)
		b = append(b, w.Root[:]...)
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage.
func (m *RootResponse) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindRootResponse)
	*m = RootResponse{State: r.Byte()}
	if r.Err() == nil && m.State > RootDeferred {
		r.Fail("unknown root state")
	}
	n := r.Count(minWindowSize)
	for range n {
		m.Windows = append(m.Windows, WindowRoot{Start: r.Varint(), Root: r.digest()})
	}
	return r.end()
}

// NodeRef names an inner node of a window tree: Level counts up from the
// leaves (1 is the leaves' parents), Index is its position in that level.
type NodeRef struct {
	Window int64
	Level  uint8
	Index  uint32
}

// NodesRequest asks for the children of inner nodes.
type NodesRequest struct {
	Shard uint64
	Nodes []NodeRef
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *NodesRequest) MarshalBinary() ([]byte, error) {
	b := appendHeader(nil, kindNodesRequest)
	b = binary.AppendUvarint(b, m.Shard)
	b = binary.AppendUvarint(b, uint64(len(m.Nodes)))
	for _, n := range m.Nodes {
		b = binary.AppendVarint(b, n.Window)
		b = append(b, n.Level)
		b = binary.AppendUvarint(b, uint64(n.Index))
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage.
func (m *NodesRequest) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindNodesRequest)
	*m = NodesRequest{Shard: r.Uvarint()}
	n := r.Count(minNodeSize)
	for range n {
		ref := NodeRef{Window: r.Varint(), Level: r.Byte(), Index: r.uint32()}
		if r.Err() == nil && ref.Level == 0 {
			r.Fail("level 0 has no children")
		}
		m.Nodes = append(m.Nodes, ref)
	}
	return r.end()
}

// Child is a non-empty child of an inner node: its index in its own level
// and its digest.
type Child struct {
	Index  uint32
	Digest tsdb.Digest
}

// NodesResponse answers a NodesRequest: per requested node, in order, its
// non-empty children in ascending index order.
type NodesResponse struct {
	Children [][]Child
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *NodesResponse) MarshalBinary() ([]byte, error) {
	b := appendHeader(nil, kindNodesResponse)
	b = binary.AppendUvarint(b, uint64(len(m.Children)))
	for _, cs := range m.Children {
		b = binary.AppendUvarint(b, uint64(len(cs)))
		for _, c := range cs {
			b = binary.AppendUvarint(b, uint64(c.Index))
			b = append(b, c.Digest[:]...)
		}
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage.
func (m *NodesResponse) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindNodesResponse)
	*m = NodesResponse{}
	n := r.Count(1)
	for range n {
		k := r.Count(minChildSize)
		cs := make([]Child, 0, k)
		for range k {
			cs = append(cs, Child{Index: r.uint32(), Digest: r.digest()})
		}
		m.Children = append(m.Children, cs)
	}
	return r.end()
}

// SeriesRequest asks for the per-series hashes of leaves (buckets).
type SeriesRequest struct {
	Shard   uint64
	Buckets []tsdb.BucketID
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *SeriesRequest) MarshalBinary() ([]byte, error) {
	b := appendHeader(nil, kindSeriesRequest)
	b = binary.AppendUvarint(b, m.Shard)
	b = binary.AppendUvarint(b, uint64(len(m.Buckets)))
	for _, bk := range m.Buckets {
		b = binary.AppendUvarint(b, uint64(bk.SeriesBucket))
		b = binary.AppendVarint(b, bk.WindowStart)
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage.
func (m *SeriesRequest) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindSeriesRequest)
	*m = SeriesRequest{Shard: r.Uvarint()}
	n := r.Count(minBucketSize)
	for range n {
		m.Buckets = append(m.Buckets, tsdb.BucketID{SeriesBucket: r.uint32(), WindowStart: r.Varint()})
	}
	return r.end()
}

// SeriesDigest is one series of a bucket and its hash.
type SeriesDigest struct {
	Key  []byte
	Hash SeriesHash
}

// SeriesResponse answers a SeriesRequest: per requested bucket, in order,
// the series holding values in it, ascending by key.
type SeriesResponse struct {
	Buckets [][]SeriesDigest
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *SeriesResponse) MarshalBinary() ([]byte, error) {
	b := appendHeader(nil, kindSeriesResponse)
	b = binary.AppendUvarint(b, uint64(len(m.Buckets)))
	for _, ss := range m.Buckets {
		b = binary.AppendUvarint(b, uint64(len(ss)))
		for _, s := range ss {
			b = appendBytes(b, s.Key)
			b = append(b, s.Hash[:]...)
		}
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage. Keys alias data.
func (m *SeriesResponse) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindSeriesResponse)
	*m = SeriesResponse{}
	n := r.Count(1)
	for range n {
		k := r.Count(minKeySize + len(SeriesHash{}))
		ss := make([]SeriesDigest, 0, k)
		for range k {
			s := SeriesDigest{Key: r.Bytes()}
			copy(s.Hash[:], r.Fixed(len(s.Hash)))
			if r.Err() == nil && len(s.Key) == 0 {
				r.Fail("empty series key")
			}
			ss = append(ss, s)
		}
		m.Buckets = append(m.Buckets, ss)
	}
	return r.end()
}

// SeriesWindow names one series within one window.
type SeriesWindow struct {
	Key    []byte
	Window int64
}

// SlicesRequest asks for the slice hashes of series within windows.
type SlicesRequest struct {
	Shard uint64
	Items []SeriesWindow
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *SlicesRequest) MarshalBinary() ([]byte, error) {
	b := appendHeader(nil, kindSlicesRequest)
	b = binary.AppendUvarint(b, m.Shard)
	b = binary.AppendUvarint(b, uint64(len(m.Items)))
	for _, it := range m.Items {
		b = appendBytes(b, it.Key)
		b = binary.AppendVarint(b, it.Window)
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage. Keys alias data.
func (m *SlicesRequest) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindSlicesRequest)
	*m = SlicesRequest{Shard: r.Uvarint()}
	n := r.Count(minKeySize + 1)
	for range n {
		it := SeriesWindow{Key: r.Bytes(), Window: r.Varint()}
		if r.Err() == nil && len(it.Key) == 0 {
			r.Fail("empty series key")
		}
		m.Items = append(m.Items, it)
	}
	return r.end()
}

// SliceHashes holds a series' hash per time slice of a window; 0 marks an
// empty slice.
type SliceHashes [Slices]uint64

// SlicesResponse answers a SlicesRequest, one SliceHashes per item.
type SlicesResponse struct {
	Items []SliceHashes
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *SlicesResponse) MarshalBinary() ([]byte, error) {
	b := appendHeader(nil, kindSlicesResponse)
	b = binary.AppendUvarint(b, uint64(len(m.Items)))
	for _, it := range m.Items {
		for _, h := range it {
			b = binary.LittleEndian.AppendUint64(b, h)
		}
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage.
func (m *SlicesResponse) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindSlicesResponse)
	*m = SlicesResponse{}
	n := r.Count(8 * Slices)
	m.Items = make([]SliceHashes, n)
	for i := range n {
		for j := range Slices {
			m.Items[i][j] = r.Uint64LE()
		}
	}
	return r.end()
}

// SeriesRange names the values of one series with Min <= time <= Max.
type SeriesRange struct {
	Key      []byte
	Min, Max int64
}

// FetchRequest asks for the values and tombstones of series ranges.
type FetchRequest struct {
	Shard  uint64
	Ranges []SeriesRange
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *FetchRequest) MarshalBinary() ([]byte, error) {
	b := appendHeader(nil, kindFetchRequest)
	b = binary.AppendUvarint(b, m.Shard)
	b = appendRanges(b, m.Ranges)
	return b, nil
}

func appendRanges(b []byte, rs []SeriesRange) []byte {
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for _, sr := range rs {
		b = appendBytes(b, sr.Key)
		b = binary.AppendVarint(b, sr.Min)
		b = binary.AppendVarint(b, sr.Max)
	}
	return b
}

func (r *reader) ranges() []SeriesRange {
	n := r.Count(minRangeSize)
	out := make([]SeriesRange, 0, n)
	for range n {
		sr := SeriesRange{Key: r.Bytes(), Min: r.Varint(), Max: r.Varint()}
		if r.Err() == nil && (len(sr.Key) == 0 || sr.Min > sr.Max) {
			r.Fail("range without series or with min > max")
		}
		out = append(out, sr)
	}
	return out
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage. Keys alias data.
func (m *FetchRequest) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindFetchRequest)
	*m = FetchRequest{Shard: r.Uvarint(), Ranges: r.ranges()}
	return r.end()
}

// FetchResponse answers a FetchRequest for its first Served ranges (the
// rest did not fit the batch bound and are asked for again): the
// tombstones of those series that overlap them, and their values.
type FetchResponse struct {
	Served     uint32
	Tombstones []tsdb.Tombstone
	Columns    []Column
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *FetchResponse) MarshalBinary() ([]byte, error) {
	b := appendHeader(nil, kindFetchResponse)
	b = binary.AppendUvarint(b, uint64(m.Served))
	return appendData(b, m.Tombstones, m.Columns), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage. Byte slices alias data.
func (m *FetchResponse) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindFetchResponse)
	*m = FetchResponse{Served: r.uint32()}
	m.Tombstones, m.Columns = r.data()
	return r.end()
}

func appendData(b []byte, ts []tsdb.Tombstone, cs []Column) []byte {
	b = binary.AppendUvarint(b, uint64(len(ts)))
	for i := range ts {
		b = appendTombstone(b, &ts[i])
	}
	b = binary.AppendUvarint(b, uint64(len(cs)))
	for i := range cs {
		b = appendColumn(b, &cs[i])
	}
	return b
}

func (r *reader) data() ([]tsdb.Tombstone, []Column) {
	nt := r.Count(minTombSize)
	var ts []tsdb.Tombstone
	for range nt {
		ts = append(ts, r.tombstone())
	}
	nc := r.Count(minColumnSize)
	var cs []Column
	for range nc {
		cs = append(cs, r.column())
	}
	return ts, cs
}

// ApplyRequest carries what the requester's merge decided the peer lacks:
// tombstones to record (first) and values to write (then).
type ApplyRequest struct {
	Shard      uint64
	Tombstones []tsdb.Tombstone
	Columns    []Column
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *ApplyRequest) MarshalBinary() ([]byte, error) {
	b := appendHeader(nil, kindApplyRequest)
	b = binary.AppendUvarint(b, m.Shard)
	return appendData(b, m.Tombstones, m.Columns), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage. Byte slices alias data.
func (m *ApplyRequest) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindApplyRequest)
	*m = ApplyRequest{Shard: r.Uvarint()}
	m.Tombstones, m.Columns = r.data()
	return r.end()
}

// ApplyResponse reports what an ApplyRequest wrote.
type ApplyResponse struct {
	Written uint64 // values written
	Dropped uint64 // values refused (a field type conflict)
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *ApplyResponse) MarshalBinary() ([]byte, error) {
	b := appendHeader(nil, kindApplyResponse)
	b = binary.AppendUvarint(b, m.Written)
	return binary.AppendUvarint(b, m.Dropped), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage.
func (m *ApplyResponse) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindApplyResponse)
	*m = ApplyResponse{Written: r.Uvarint(), Dropped: r.Uvarint()}
	return r.end()
}

// StreamRequest asks a peer to stream a whole shard back (ShardSendPath).
type StreamRequest struct {
	Shard uint64
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (m *StreamRequest) MarshalBinary() ([]byte, error) {
	return binary.AppendUvarint(appendHeader(nil, kindStreamRequest), m.Shard), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler; errors wrap
// ErrCorruptMessage.
func (m *StreamRequest) UnmarshalBinary(data []byte) error {
	r := newReader(data)
	r.header(kindStreamRequest)
	*m = StreamRequest{Shard: r.Uvarint()}
	return r.end()
}
