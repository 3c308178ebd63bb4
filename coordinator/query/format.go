package query

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
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

type jsonRow struct {
	Name    string            `json:"name,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
	Columns []string          `json:"columns"`
	Values  jsonValues        `json:"values,omitempty"`
	Partial bool              `json:"partial,omitempty"`
}

// renderTime converts the time column of rows whose first column is
// "time" (int64 ns) to its output form.
func renderTime(r *Row, vals [][]any, unit int64, csvMode bool) [][]any {
	if !r.hasTime && (len(r.Columns) == 0 || r.Columns[0] != "time") {
		return vals
	}
	out := make([][]any, len(vals))
	for i, v := range vals {
		t, ok := v[0].(int64)
		if !ok {
			out[i] = v
			continue
		}
		nv := make([]any, len(v))
		copy(nv, v)
		switch {
		case unit > 0:
			nv[0] = t / unit
		case csvMode:
			nv[0] = t
		case r.loc != nil:
			nv[0] = time.Unix(0, t).In(r.loc).Format(time.RFC3339Nano)
		default:
			nv[0] = time.Unix(0, t).UTC().Format(time.RFC3339Nano)
		}
		out[i] = nv
	}
	return out
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
			Values: renderTime(r, r.Values, unit, false), Partial: r.Partial,
		})
	}
	return jr
}

// WriteJSON writes results as InfluxDB 1.x's JSON response body.
func WriteJSON(w io.Writer, results []*Result, opts FormatOptions) error {
	unit, err := epochUnit(opts.Epoch)
	if err != nil {
		return err
	}
	resp := jsonResponse{Results: make([]jsonResult, 0, len(results))}
	for _, res := range results {
		resp.Results = append(resp.Results, toJSONResult(res, unit))
	}
	if opts.Pretty {
		return encodeJSON(w, resp, true)
	}
	b, err := appendJSONResponse(nil, &resp)
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
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

// WriteChunked writes results the way InfluxDB answers chunked=true: one
// JSON object per line, each holding one statement's next chunk of at
// most chunkSize values (default 10,000), which may span several series.
// A series continued in the next chunk is marked "partial", and so is a
// statement result that has more chunks. If w is an http.Flusher, each
// chunk is flushed.
func WriteChunked(w io.Writer, results []*Result, opts FormatOptions, chunkSize int) error {
	unit, err := epochUnit(opts.Epoch)
	if err != nil {
		return err
	}
	if chunkSize <= 0 {
		chunkSize = 10000
	}
	flusher, _ := w.(http.Flusher)
	emit := func(jr jsonResult) error {
		if err := encodeJSON(w, jsonResponse{Results: []jsonResult{jr}}, opts.Pretty); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	for _, res := range results {
		if res.Err != nil || len(res.Series) == 0 {
			if err := emit(toJSONResult(res, unit)); err != nil {
				return err
			}
			continue
		}
		chunk := jsonResult{StatementID: res.StatementID, Messages: res.Messages}
		n := 0 // values in chunk
		for si, r := range res.Series {
			vals := r.Values
			for {
				take := min(chunkSize-n, len(vals))
				more := take < len(vals)
				chunk.Series = append(chunk.Series, jsonRow{
					Name: r.Name, Tags: r.Tags, Columns: r.Columns,
					Values: renderTime(r, vals[:take], unit, false), Partial: more || r.Partial,
				})
				n += take
				vals = vals[take:]
				last := !more && si == len(res.Series)-1
				if n == chunkSize && !last {
					chunk.Partial = true
					if err := emit(chunk); err != nil {
						return err
					}
					chunk = jsonResult{StatementID: res.StatementID}
					n = 0
				}
				if !more {
					break
				}
			}
		}
		if len(chunk.Series) > 0 {
			if err := emit(chunk); err != nil {
				return err
			}
		}
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
			for _, v := range renderTime(r, r.Values, unit, true) {
				rec := make([]string, 0, len(v)+2)
				rec = append(rec, r.Name, tags)
				for _, x := range v {
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
