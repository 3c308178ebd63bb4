package query

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FormatOptions say how results are rendered.
type FormatOptions struct {
	// Epoch renders times as integers in this unit ("ns", "u", "µ", "ms",
	// "s", "m", "h"); empty renders RFC3339Nano strings (JSON) or integer
	// nanoseconds (CSV), as InfluxDB does.
	Epoch string
	// Pretty indents JSON.
	Pretty bool
}

// Validate reports an unknown epoch.
func (o FormatOptions) Validate() error {
	_, err := epochUnit(o.Epoch)
	return err
}

func epochUnit(epoch string) (int64, error) {
	switch epoch {
	case "":
		return 0, nil
	case "ns", "n":
		return 1, nil
	case "u", "µ":
		return int64(time.Microsecond), nil
	case "ms":
		return int64(time.Millisecond), nil
	case "s":
		return int64(time.Second), nil
	case "m":
		return int64(time.Minute), nil
	case "h":
		return int64(time.Hour), nil
	}
	return 0, fmt.Errorf("invalid epoch %q: %w", epoch, ErrInvalidQuery)
}

type jsonResponse struct {
	Results []jsonResult `json:"results"`
}

type jsonResult struct {
	StatementID int        `json:"statement_id"`
	Series      []jsonRow  `json:"series,omitempty"`
	Messages    []*Message `json:"messages,omitempty"`
	Partial     bool       `json:"partial,omitempty"`
	Err         string     `json:"error,omitempty"`
}

// jsonRow is one series of a JSON answer; appendJSONRow encodes it (its
// MarshalJSON too, for the pretty output of encoding/json).
type jsonRow struct {
	Name    string
	Tags    map[string]string
	Columns []string
	Values  [][]any
	Partial bool
	// time says how the first value of each row is written.
	time timeFormat
}

// MarshalJSON implements json.Marshaler.
func (r jsonRow) MarshalJSON() ([]byte, error) { return appendJSONRow(nil, &r, nil) }

// timeFormat says how a row's time column (int64 ns since the epoch) is
// written: it is rendered as the row is encoded, not copied beforehand.
type timeFormat struct {
	// on marks rows whose first column is a time: a SELECT's, or any
	// whose first column is named "time".
	on bool
	// unit is the epoch unit of an integer time; 0 renders RFC3339Nano.
	unit int64
	// loc is the zone of an RFC3339Nano time (a tz() clause); nil is UTC.
	loc *time.Location
}

func timeFormatOf(r *Row, unit int64) timeFormat {
	return timeFormat{on: r.hasTime || (len(r.Columns) > 0 && r.Columns[0] == "time"), unit: unit, loc: r.loc}
}

// appendJSON appends v, a row's first value, as a time; ok is false when
// f does not render it (no time column, or v is not an int64). d carries
// the date of the previous UTC time from row to row.
func (f timeFormat) appendJSON(b []byte, v any, d *utcDate) (_ []byte, ok bool) {
	t, ok := v.(int64)
	if !f.on || !ok {
		return b, false
	}
	if f.unit > 0 {
		return strconv.AppendInt(b, t/f.unit, 10), true
	}
	if f.loc == nil && t >= 0 {
		return append(d.appendRFC3339Nano(append(b, '"'), t), '"'), true
	}
	tm := time.Unix(0, t).UTC()
	if f.loc != nil {
		tm = tm.In(f.loc)
	}
	b = append(b, '"')
	return append(tm.AppendFormat(b, time.RFC3339Nano), '"'), true // no character of it needs escaping
}

// utcDate formats UTC times as time.RFC3339Nano does, keeping the text of
// the last date written: a raw answer's rows mostly share their date, and
// time.Time.AppendFormat computed it anew for every row.
type utcDate struct {
	day  int64  // days since the epoch of text, when text is set
	text []byte // "2006-01-02T"
}

const nsPerDay = 24 * int64(time.Hour)

// appendRFC3339Nano appends t (>= 0, ns since the epoch) as
// time.Unix(0, t).UTC().AppendFormat(b, time.RFC3339Nano) does.
func (d *utcDate) appendRFC3339Nano(b []byte, t int64) []byte {
	day := t / nsPerDay
	if d.text == nil || d.day != day {
		d.text = time.Unix(0, day*nsPerDay).UTC().AppendFormat(d.text[:0], "2006-01-02T")
		d.day = day
	}
	b = append(b, d.text...)
	rem := t - day*nsPerDay
	s, ns := rem/int64(time.Second), rem%int64(time.Second)
	b = append(b, byte('0'+s/36000), byte('0'+s/3600%10), ':', byte('0'+s/600%6), byte('0'+s/60%10), ':',
		byte('0'+s%60/10), byte('0'+s%10))
	if ns != 0 { // the fraction without its trailing zeros
		var frac [10]byte
		frac[0] = '.'
		for k := 9; k > 0; k-- {
			frac[k] = byte('0' + ns%10)
			ns /= 10
		}
		n := len(frac)
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

// csv returns v, a row's first value, as CSV writes a time (integer
// nanoseconds, or the epoch unit's); ok is false when f does not render it.
func (f timeFormat) csv(v any) (_ string, ok bool) {
	t, ok := v.(int64)
	if !f.on || !ok {
		return "", false
	}
	if f.unit > 0 {
		t /= f.unit
	}
	return strconv.FormatInt(t, 10), true
}

func toJSONResult(res *Result, unit int64) jsonResult {
	jr := jsonResult{StatementID: res.StatementID, Messages: res.Messages}
	if res.Err != nil {
		jr.Err = res.Err.Error()
		return jr
	}
	for _, r := range res.Series {
		jr.Series = append(jr.Series, jsonRow{
			Name: r.Name, Tags: r.Tags, Columns: r.Columns,
			Values: r.Values, Partial: r.Partial, time: timeFormatOf(r, unit),
		})
	}
	return jr
}

// WriteJSON writes results as InfluxDB 1.x's JSON response body. An
// answer holding a value JSON cannot carry (±Inf) is written as InfluxDB
// 1.8 writes it: the error alone, {"error":"json: unsupported value: +Inf"}.
func WriteJSON(w io.Writer, results []*Result, opts FormatOptions) error {
	unit, err := epochUnit(opts.Epoch)
	if err != nil {
		return err
	}
	resp := jsonResponse{Results: make([]jsonResult, 0, len(results))}
	for _, res := range results {
		resp.Results = append(resp.Results, toJSONResult(res, unit))
	}
	return writeResponse(w, &resp, opts.Pretty)
}

// responseBuffers recycles the buffers compact answers are encoded into,
// up to maxPooledResponse bytes each (a larger one goes to the collector).
var responseBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledResponse = 1 << 20

// writeResponse writes resp as one JSON document: compact (the direct
// encoder, through a pooled buffer) or pretty (encoding/json). A compact
// answer whose values all encode is streamed, written whenever
// streamChunk bytes are ready; one holding a value encoding/json refuses
// (NaN, ±Inf) or one the direct encoder hands to encoding/json is encoded
// whole first, so that its error still comes before any byte is written.
// Such an error is then written instead of resp, as InfluxDB 1.8 does
// (WriteError with encoding/json's message); only a failed write is
// returned.
func writeResponse(w io.Writer, resp *jsonResponse, pretty bool) error {
	if pretty {
		b, err := json.MarshalIndent(resp, "", "    ")
		if err != nil {
			return writeEncodeError(w, err, true)
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
		return nil
	}
	var out io.Writer
	if encodesDirectly(resp) {
		out = w
	}
	buf := responseBuffers.Get().(*[]byte)
	b, err := appendJSONResponse((*buf)[:0], resp, out)
	switch {
	case err != nil && out == nil:
		err = writeEncodeError(w, err, false)
	case err == nil:
		if _, err = w.Write(b); err != nil {
			err = fmt.Errorf("write json: %w", err)
		}
	}
	if cap(b) <= maxPooledResponse {
		*buf = b[:0]
		responseBuffers.Put(buf)
	}
	return err
}

// encodesDirectly reports whether every value of resp is one the direct
// encoder writes without error (nil, bool, integers, finite floats,
// strings).
func encodesDirectly(resp *jsonResponse) bool {
	for i := range resp.Results {
		for j := range resp.Results[i].Series {
			for _, row := range resp.Results[i].Series[j].Values {
				for _, v := range row {
					switch v := v.(type) {
					case nil, bool, int64, int, uint64, string:
					case float64:
						if math.IsNaN(v) || math.IsInf(v, 0) {
							return false
						}
					default:
						return false
					}
				}
			}
		}
	}
	return true
}

// writeEncodeError writes the failure to encode an answer (nothing of it
// written) as InfluxDB 1.8 does: {"error": …} with encoding/json's own
// message ("json: unsupported value: +Inf"), not the wrapping of a
// MarshalJSON call.
func writeEncodeError(w io.Writer, err error, pretty bool) error {
	var unsupported *json.UnsupportedValueError
	if errors.As(err, &unsupported) {
		err = unsupported
	}
	return WriteError(w, err, pretty)
}

func encodeJSON(w io.Writer, v any, pretty bool) error {
	enc := json.NewEncoder(w)
	if pretty {
		enc.SetIndent("", "    ")
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return nil
}

// WriteError writes InfluxDB's whole-request error body {"error":"…"}.
func WriteError(w io.Writer, err error, pretty bool) error {
	return encodeJSON(w, struct {
		Err string `json:"error"`
	}{err.Error()}, pretty)
}

// LimitRows cuts results to at most limit values in all (0: no limit),
// as InfluxDB's max-row-limit does for a non-chunked answer: the series
// reaching the limit keeps what fits and is marked partial, the series
// after it in its statement are dropped, and each later statement keeps
// one empty, partial series.
func LimitRows(results []*Result, limit int) {
	if limit <= 0 {
		return
	}
	rows := 0
	for _, res := range results {
		for i, r := range res.Series {
			if n := limit - rows; n < len(r.Values) {
				r.Values = r.Values[:n]
				r.Partial = true
			}
			rows += len(r.Values)
			if rows >= limit {
				res.Series = res.Series[:i+1]
				break
			}
		}
	}
}

// WriteChunked writes results the way InfluxDB answers chunked=true (see
// ChunkWriter), all at once.
func WriteChunked(w io.Writer, results []*Result, opts FormatOptions, chunkSize int) error {
	cw, err := NewChunkWriter(w, opts, chunkSize)
	if err != nil {
		return err
	}
	for _, res := range results {
		cw.Start(res.StatementID)
		if err := cw.End(res); err != nil {
			return err
		}
	}
	return nil
}

// ChunkWriter writes results the way InfluxDB answers chunked=true, as
// they are produced: one JSON object per line, each holding one
// statement's next chunk of at most chunkSize values (default 10,000),
// which may span several series. A series continued in the next chunk
// is marked "partial", and so is a statement result that has more
// chunks. A chunk is written (and flushed, when the writer is an
// http.Flusher) once it is full and more values follow, so at most one
// chunk is held. Per statement: Start, then WriteRow (it is the RowSink
// of the statement) as values come, then End.
type ChunkWriter struct {
	w       io.Writer
	flusher http.Flusher
	opts    FormatOptions
	unit    int64
	size    int
	chunk   jsonResult
	n       int  // values in chunk
	last    *Row // series of the chunk's last values
	written bool // a chunk of this statement is out
}

// NewChunkWriter returns a ChunkWriter writing to w.
func NewChunkWriter(w io.Writer, opts FormatOptions, chunkSize int) (*ChunkWriter, error) {
	unit, err := epochUnit(opts.Epoch)
	if err != nil {
		return nil, err
	}
	if chunkSize <= 0 {
		chunkSize = 10000
	}
	cw := &ChunkWriter{w: w, opts: opts, unit: unit, size: chunkSize}
	cw.flusher, _ = w.(http.Flusher)
	return cw, nil
}

// Start begins the answer of statement statementID.
func (c *ChunkWriter) Start(statementID int) {
	c.chunk.StatementID = statementID
}

// WriteRow implements RowSink: r's values join the current chunk.
func (c *ChunkWriter) WriteRow(r *Row) error {
	vals := r.Values
	for len(vals) > 0 {
		if c.n == c.size {
			if c.last != nil && sameSeries(c.last, r) {
				c.chunk.Series[len(c.chunk.Series)-1].Partial = true
			}
			c.chunk.Partial = true
			if err := c.emit(); err != nil {
				return err
			}
		}
		take := min(c.size-c.n, len(vals))
		if k := len(c.chunk.Series) - 1; k >= 0 && c.last != nil && sameSeries(c.last, r) {
			c.chunk.Series[k].Values = append(c.chunk.Series[k].Values, vals[:take]...)
		} else {
			c.chunk.Series = append(c.chunk.Series, jsonRow{Name: r.Name, Tags: r.Tags, Columns: r.Columns,
				Values: vals[:take:take], time: timeFormatOf(r, c.unit)})
		}
		c.chunk.Series[len(c.chunk.Series)-1].Partial = r.Partial
		c.last = r
		c.n += take
		vals = vals[take:]
	}
	return nil
}

// End finishes the statement of res: the values streamed to WriteRow
// and res's own Series, its messages, or its error alone.
func (c *ChunkWriter) End(res *Result) error {
	defer func() { c.chunk, c.n, c.last, c.written = jsonResult{}, 0, nil, false }()
	if res.Err != nil {
		c.chunk = toJSONResult(res, c.unit)
		return c.emit()
	}
	for _, r := range res.Series {
		if err := c.WriteRow(r); err != nil {
			return err
		}
		if len(r.Values) == 0 { // a series with columns only
			c.chunk.Series = append(c.chunk.Series, jsonRow{Name: r.Name, Tags: r.Tags, Columns: r.Columns, Partial: r.Partial})
			c.last = nil
		}
	}
	c.chunk.Messages = res.Messages
	if len(c.chunk.Series) > 0 || !c.written || len(res.Messages) > 0 {
		return c.emit()
	}
	return nil
}

// emit writes the chunk as one line and starts the next.
func (c *ChunkWriter) emit() error {
	id := c.chunk.StatementID
	err := writeResponse(c.w, &jsonResponse{Results: []jsonResult{c.chunk}}, c.opts.Pretty)
	c.chunk, c.n, c.last, c.written = jsonResult{StatementID: id}, 0, nil, true
	if err != nil {
		return err
	}
	if c.flusher != nil {
		c.flusher.Flush()
	}
	return nil
}

// WriteCSV writes results as InfluxDB 1.x's CSV (Accept: application/csv):
// per statement, a header "name,tags,<columns>" from its first series
// (repeated after a blank line when the columns change), then one line per
// value with the series name and its tags as "k=v,k2=v2" (escaped as in a
// series key); statements are separated by a blank line. As in InfluxDB,
// statements without series — including failed ones — are not written;
// use WriteCSVError for a whole-request error.
func WriteCSV(w io.Writer, results []*Result, opts FormatOptions) error {
	unit, err := epochUnit(opts.Epoch)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	newline := func() error {
		cw.Flush()
		_, err := bw.WriteString("\n")
		return err
	}
	stmt := -1
	for _, res := range results {
		if len(res.Series) == 0 {
			continue
		}
		if stmt >= 0 {
			if err := newline(); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
		}
		stmt = res.StatementID
		for i, r := range res.Series {
			if i > 0 && !equalStrings(res.Series[i-1].Columns, r.Columns) {
				if err := newline(); err != nil {
					return fmt.Errorf("write csv: %w", err)
				}
			}
			if i == 0 || !equalStrings(res.Series[i-1].Columns, r.Columns) {
				if err := cw.Write(append([]string{"name", "tags"}, r.Columns...)); err != nil {
					return fmt.Errorf("write csv: %w", err)
				}
			}
			tags := formatTags(r.Tags)
			tf := timeFormatOf(r, unit)
			for _, v := range r.Values {
				rec := make([]string, 0, len(v)+2)
				rec = append(rec, r.Name, tags)
				for j, x := range v {
					if t, ok := tf.csv(x); ok && j == 0 {
						rec = append(rec, t)
						continue
					}
					rec = append(rec, csvValue(x))
				}
				if err := cw.Write(rec); err != nil {
					return fmt.Errorf("write csv: %w", err)
				}
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// WriteCSVError writes a whole-request error in CSV form: a line "error"
// and a line with the message.
func WriteCSVError(w io.Writer, err error) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"error"})
	_ = cw.Write([]string{err.Error()})
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tagEscaper escapes tag keys and values as in a series key.
var tagEscaper = strings.NewReplacer(",", `\,`, "=", `\=`, " ", `\ `)

func formatTags(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(tagEscaper.Replace(k))
		sb.WriteByte('=')
		sb.WriteString(tagEscaper.Replace(tags[k]))
	}
	return sb.String()
}

func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}
