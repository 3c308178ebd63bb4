package loadgen

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// Batch is one request body: whole lines, counted once when the batch was
// cut.
type Batch struct {
	// Body is the request body: line protocol, or gzip of it once the
	// Workload is compressed.
	Body []byte
	// Lines is the number of points (blank and comment lines not counted).
	Lines int
	// Values is the number of field values.
	Values int
	// RawBytes is the size of the uncompressed line protocol.
	RawBytes int
}

// Workload is everything one run sends, pre-batched in memory.
type Workload struct {
	// Batches in sending order.
	Batches []Batch
	// Lines, Values and RawBytes are the totals over Batches.
	Lines, Values, RawBytes int64
	// WireBytes is the total size of the bodies as sent.
	WireBytes int64
	// Gzipped says Compress has replaced every Body with its gzip.
	Gzipped bool
	// Precision is the unit of the timestamps in the data (nanoseconds
	// unless the generator was told otherwise); MeasureCeiling uses it.
	Precision string
}

// SplitLines cuts data into batches of batchSize lines (the last one may be
// shorter) without copying: every Body is a sub-slice of data. Blank lines
// and # comments travel in the body of the batch they fall in but are not
// counted as lines. A batchSize < 1 is treated as 1.
func SplitLines(data []byte, batchSize int) *Workload {
	if batchSize < 1 {
		batchSize = 1
	}
	w := &Workload{}
	start, lines, values := 0, 0, 0
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end >= 0 {
			end += pos
			next = end + 1
		} else {
			end = len(data)
		}
		line := data[pos:end]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		pos = next
		if isPointLine(line) {
			lines++
			values += countFields(line)
			if lines == batchSize {
				w.add(data[start:pos], lines, values)
				start, lines, values = pos, 0, 0
			}
		}
	}
	switch {
	case lines > 0:
		w.add(data[start:], lines, values)
	case start < len(data) && len(w.Batches) > 0:
		// Trailing blank or comment lines join the last batch.
		last := &w.Batches[len(w.Batches)-1]
		extra := len(data) - start
		last.Body = data[start-len(last.Body):]
		last.RawBytes += extra
		w.RawBytes += int64(extra)
		w.WireBytes += int64(extra)
	}
	return w
}

// isPointLine reports whether line holds a point: not blank, not a comment.
func isPointLine(line []byte) bool {
	for _, c := range line {
		switch c {
		case ' ', '\t':
			continue
		case '#':
			return false
		default:
			return true
		}
	}
	return false
}

func (w *Workload) add(body []byte, lines, values int) {
	w.Batches = append(w.Batches, Batch{Body: body, Lines: lines, Values: values, RawBytes: len(body)})
	w.Lines += int64(lines)
	w.Values += int64(values)
	w.RawBytes += int64(len(body))
	w.WireBytes += int64(len(body))
}

// ReadFile loads a line-protocol file, gunzipping it when it starts with the
// gzip magic bytes, and cuts it into batches as SplitLines does.
func ReadFile(path string, batchSize int) (*Workload, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open line-protocol file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat line-protocol file: %w", err)
	}
	data, err := readAll(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	w := SplitLines(data, batchSize)
	if w.Lines == 0 {
		return nil, fmt.Errorf("read %s: %w", path, ErrEmptyWorkload)
	}
	return w, nil
}

// readAll reads f (size bytes on disk), gunzipped if it is gzip.
func readAll(f *os.File, size int64) ([]byte, error) {
	var magic [2]byte
	n, err := io.ReadFull(f, magic[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if n < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
		_, err := buf.ReadFrom(f)
		return buf.Bytes(), err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("open gzip: %w", err)
	}
	defer zr.Close()
	buf := bytes.NewBuffer(make([]byte, 0, gzipSizeHint(f, size)))
	if _, err := buf.ReadFrom(zr); err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	return buf.Bytes(), nil
}

// gzipSizeHint reads the ISIZE trailer of a gzip file (the uncompressed size
// of its last member mod 2^32) as a capacity hint, bounded by a 64:1 ratio
// so a bogus trailer cannot make us allocate much.
func gzipSizeHint(f *os.File, size int64) int64 {
	var trailer [4]byte
	if size < 18 {
		return 0
	}
	if _, err := f.ReadAt(trailer[:], size-4); err != nil {
		return 0
	}
	hint := int64(binary.LittleEndian.Uint32(trailer[:])) + bytes.MinRead
	return min(hint, 64*size)
}

// Compress replaces every Body with its gzip (klauspost/compress at the
// default level), using up to GOMAXPROCS goroutines, all finished when it
// returns. Calling it on a compressed workload does nothing.
func (w *Workload) Compress() error {
	if w.Gzipped {
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), len(w.Batches))
	var (
		wg       sync.WaitGroup
		next     = make(chan int, len(w.Batches))
		errOnce  sync.Once
		firstErr error
	)
	for i := range w.Batches {
		next <- i
	}
	close(next)
	for range workers {
		wg.Go(func() {
			zw, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
			for i := range next {
				b := &w.Batches[i]
				var buf bytes.Buffer
				buf.Grow(len(b.Body) / 4)
				zw.Reset(&buf)
				_, err := zw.Write(b.Body)
				if err == nil {
					err = zw.Close()
				}
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("gzip batch %d: %w", i, err) })
					return
				}
				b.Body = buf.Bytes()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	w.WireBytes = 0
	for _, b := range w.Batches {
		w.WireBytes += int64(len(b.Body))
	}
	w.Gzipped = true
	return nil
}
