package antientropy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// A shard stream carries a whole shard replica: its tombstones, then every
// live value, then a trailer with the totals (docs/wire.md). Anti-entropy
// streams a shard to an owner that lacks it; shard copies use the same
// functions.
const (
	streamMagic0, streamMagic1 = 'A', 'S'

	frameTombstones byte = 1
	frameColumns    byte = 2
	frameEnd        byte = 3

	// maxFrameSize bounds one frame a reader accepts.
	maxFrameSize = 64 << 20
)

// The widest time range.
const allTimeMin, allTimeMax = math.MinInt64, math.MaxInt64

// StreamStats counts what a shard stream carried.
type StreamStats struct {
	Tombstones int
	Values     int
	Bytes      int64
}

// WriteShardStream writes sh to w as a shard stream: tombstones, then the
// values of every series in frames of about frameSize bytes. pace, when
// not nil, is called with each frame's size before it is written (the
// caller's rate limit). It stops at ctx's end.
func WriteShardStream(ctx context.Context, w io.Writer, sh Shard, frameSize int, pace func(n int) error) (StreamStats, error) {
	var st StreamStats
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.Write([]byte{streamMagic0, streamMagic1, WireVersion}); err != nil {
		return st, fmt.Errorf("write shard stream: %w", err)
	}
	emit := func(kind byte, raw []byte) error {
		payload := compress(raw)
		if pace != nil {
			if err := pace(len(payload)); err != nil {
				return err
			}
		}
		hdr := binary.AppendUvarint([]byte{kind}, uint64(len(payload)))
		if _, err := bw.Write(hdr); err != nil {
			return fmt.Errorf("write shard stream: %w", err)
		}
		if _, err := bw.Write(payload); err != nil {
			return fmt.Errorf("write shard stream: %w", err)
		}
		st.Bytes += int64(len(hdr) + len(payload))
		return nil
	}
	ts := sh.Tombstones()
	if len(ts) > 0 {
		var b []byte
		b = binary.AppendUvarint(b, uint64(len(ts)))
		for i := range ts {
			b = appendTombstone(b, &ts[i])
		}
		if err := emit(frameTombstones, b); err != nil {
			return st, err
		}
		st.Tombstones = len(ts)
	}
	keys := sh.SeriesKeys()
	slices.SortFunc(keys, bytes.Compare)
	var cb columnBuilder
	size := 0
	flush := func() error {
		if len(cb.cols) == 0 {
			return nil
		}
		var b []byte
		b = binary.AppendUvarint(b, uint64(len(cb.cols)))
		for i := range cb.cols {
			b = appendColumn(b, &cb.cols[i])
		}
		st.Values += valuesIn(cb.cols)
		cb.cols, size = cb.cols[:0], 0
		return emit(frameColumns, b)
	}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		err := sh.SeriesPoints(k, allTimeMin, allTimeMax, func(p models.Point) error {
			cb.add(k, &p)
			size += 10 + len(p.Fields[0].Value.S)
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("read series %q: %w", k, err)
		}
		if size >= frameSize {
			if err := flush(); err != nil {
				return st, err
			}
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	end := binary.AppendUvarint(nil, uint64(st.Tombstones))
	end = binary.AppendUvarint(end, uint64(st.Values))
	if err := emit(frameEnd, end); err != nil {
		return st, err
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("write shard stream: %w", err)
	}
	return st, nil
}

// ReadShardStream applies a shard stream from r to sh: tombstones sh does
// not hold yet are recorded, then values are written. It fails with an
// error wrapping ErrCorruptMessage on bad bytes or a stream cut before its
// trailer, whose totals it checks. Values already applied stay (writes are
// idempotent, so a retried stream converges).
func ReadShardStream(ctx context.Context, r io.Reader, sh StreamTarget) (StreamStats, error) {
	var st StreamStats
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [3]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return st, fmt.Errorf("%w: shard stream header: %w", ErrCorruptMessage, err)
	}
	if hdr[0] != streamMagic0 || hdr[1] != streamMagic1 || hdr[2] != WireVersion {
		return st, fmt.Errorf("%w: not a version %d shard stream", ErrCorruptMessage, WireVersion)
	}
	have := sh.Tombstones()
	// Values the receiver deleted must not come back: a tombstone it holds
	// and the stream lacks removes the values it covers from the stream.
	localOnly := have
	var buf []byte
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		kind, err := br.ReadByte()
		if err != nil {
			return st, fmt.Errorf("%w: shard stream cut before its trailer: %w", ErrCorruptMessage, err)
		}
		n, err := binary.ReadUvarint(br)
		if err != nil || n > maxFrameSize {
			return st, fmt.Errorf("%w: shard stream frame length", ErrCorruptMessage)
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return st, fmt.Errorf("%w: shard stream frame: %w", ErrCorruptMessage, err)
		}
		st.Bytes += int64(n)
		frame, err := decompress(buf, maxFrameSize)
		if err != nil {
			return st, fmt.Errorf("shard stream frame: %w", err)
		}
		rd := newReader(frame)
		switch kind {
		case frameTombstones:
			var ts []tsdb.Tombstone
			for range rd.Count(minTombSize) {
				ts = append(ts, rd.tombstone())
			}
			if err := rd.end(); err != nil {
				return st, err
			}
			localOnly = missingTombstones(ts, have)
			if miss := missingTombstones(have, ts); len(miss) > 0 {
				if err := sh.ApplyTombstones(miss); err != nil {
					return st, fmt.Errorf("apply streamed tombstones: %w", err)
				}
			}
			st.Tombstones += len(ts)
		case frameColumns:
			var cols []Column
			for range rd.Count(minColumnSize) {
				cols = append(cols, rd.column())
			}
			if err := rd.end(); err != nil {
				return st, err
			}
			if _, _, err := writeColumns(ctx, sh, dropCovered(cols, localOnly)); err != nil {
				return st, fmt.Errorf("write streamed values: %w", err)
			}
			st.Values += valuesIn(cols)
		case frameEnd:
			tombs, values := rd.Uvarint(), rd.Uvarint()
			if err := rd.end(); err != nil {
				return st, err
			}
			if tombs != uint64(st.Tombstones) || values != uint64(st.Values) {
				return st, fmt.Errorf("%w: shard stream trailer says %d tombstones and %d values, got %d and %d",
					ErrCorruptMessage, tombs, values, st.Tombstones, st.Values)
			}
			return st, nil
		default:
			return st, fmt.Errorf("%w: shard stream frame kind %d", ErrCorruptMessage, kind)
		}
	}
}
