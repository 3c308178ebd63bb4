package models

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
)

// Parser decodes line protocol with github.com/influxdata/line-protocol/v2
// into Points, a whole body at a time (Parse) or a chunk of lines at a time
// (Start, Next, Err). It is reusable and not safe for concurrent use. The
// points it returns, and every byte slice in them, are valid until its next
// call: the parser reuses the point slice, the tag and field backing arrays
// and one byte arena, so steady-state parsing allocates nothing per point.
// Every point has its series key in Key (the points of one series share it,
// but for a duplicate point of a chunk's first timestamp: see sameTime).
type Parser struct {
	dec    lineprotocol.Decoder
	points []Point
	tags   []Tag
	fields []Field
	arena  []byte
	errs   []LineError

	// Tag-order cache: bodies usually repeat one tag-key order line after
	// line (TSBS, Telegraf), so the sorting permutation of the previous good
	// line is tried first. orderKeys are that line's tag keys in input order
	// (slices of the body or the arena, so only valid within one Parse and
	// reset whenever a line is rolled back); order[i] is the input index of the i-th tag in
	// sorted order.
	orderKeys [][]byte
	order     []int32
	tagTmp    []Tag

	// Tags of a line in parseSimpleLine's form, kept free of pointers so
	// that the GC neither scans nor write-barriers them: simpleTags are the
	// line's tags in input order, simpleOrder[i] the input index of its
	// i-th tag in sorted order, and prevTagKeys the tag keys of the last
	// line sorted, in input order, each followed by '=' (simple keys have
	// none), whose order is tried first; prevTagKeyLens are their lengths
	// with the '='. simpleSorted reports that simpleOrder is the identity
	// and keysInBody holds: a new series' key is then a slice of the body.
	simpleTags   []simpleTag
	simpleOrder  []int32
	simpleSorted bool
	// keysInBody reports that points may refer to the body (Start's
	// contract), not Parse's, whose results outlive the body.
	keysInBody     bool
	prevTagKeys    []byte
	prevTagKeyLens []int32

	// Series cache: bodies repeat a few series many times (every TSBS or
	// Telegraf batch does), so a line whose measurement and tags are, byte
	// for byte, those of an earlier good line shares that point's
	// Measurement and Tags instead of copying and sorting them again.
	// Keys alias the body being parsed; the map is emptied by each Next.
	series map[string]int32 // raw "measurement,tags" text → index in points
	// The series cache is filled lazily: while every line of the chunk
	// has the timestamp text of its first line (sameTime, set by Next;
	// firstTime is that text), a line can repeat an earlier line's series
	// only as a duplicate point, so lines are not looked up and their raw
	// text is only noted (pendingSeries); the first line with another
	// timestamp, or one the decoder reads, puts them in the map. A batch
	// of new series (one timestamp of a million hosts, issue 17) then
	// never hashes them.
	sameTime      bool
	firstTime     []byte
	pendingSeries []pendingSeries

	// Line-number bookkeeping for errors detected here rather than by the
	// decoder: lineOff is an offset into body known to be on line lineNo.
	body    []byte
	lineOff int
	lineNo  int

	// The body being decoded (see Start): its precision and default time,
	// whether it is done and how many of its lines were bad.
	prec        Precision
	defaultTime int64
	done        bool
	dropped     int

	// Where the body is: lines are read by parseSimpleLine from offset off
	// until one is not in its simple form; from there on (decoding) the
	// decoder reads the rest of the body, whose first line is line
	// decLine+1 of the body.
	off      int
	decoding bool
	decLine  int
	// decodeOnly makes the decoder read every line (tests compare both ways).
	decodeOnly bool
	// lastSimple says parseSimpleLine made the last point of p.points.
	lastSimple bool
	// lastTimeText is the timestamp text of the body's last simple line
	// with one (a slice of the body, so reset with it), lastTime its value.
	lastTimeText []byte
	lastTime     int64
}

// pendingSeries is a good line's raw "measurement,tags" text,
// body[off:off+n], not yet in the series cache, and the index of its point.
type pendingSeries struct {
	off, n int
	point  int32
}

// entry tracks where the line being decoded is, for error reporting.
type entry struct {
	// anchor is the body offset of the first token of the entry that the
	// decoder returned as a slice of body (unescaped tokens are copies), or -1.
	anchor int
	// nlBefore counts newlines inside string values decoded before anchor
	// was found; they belong to the entry, not to the lines before it.
	nlBefore int
}

// Parse decodes body, in which timestamps are in units of prec, and returns
// the points of its good lines in order. Lines without a timestamp get now
// (ns since the epoch) truncated to prec. When some lines are bad, the error
// is a *PartialParseError listing them and the good points are still
// returned. The result is valid until the next Parse call; body is not
// referenced after Parse returns.
func (p *Parser) Parse(body []byte, prec Precision, now int64) ([]Point, error) {
	p.Start(body, prec, now)
	p.keysInBody = false
	points := p.Next(0)
	return points, p.Err()
}

// Start begins decoding body as Parse does; Next then returns its points a
// chunk at a time, so a large body never has all its points in memory at
// once. body must not change until Next has returned no points: unlike
// Parse's, the points may refer to it.
func (p *Parser) Start(body []byte, prec Precision, now int64) {
	p.reset(body)
	p.keysInBody, p.simpleSorted, p.prevTagKeyLens = true, false, p.prevTagKeyLens[:0]
	p.prec, p.defaultTime = prec, prec.truncate(now)
	p.done, p.dropped = false, 0
	p.off, p.decoding, p.decLine = 0, false, 0
	if p.decodeOnly {
		p.decodeFrom(0)
	}
}

// decodeFrom hands the rest of the body, from offset off (the start of a
// line), to the decoder.
func (p *Parser) decodeFrom(off int) {
	p.decLine = p.lineOf(entry{anchor: off}) - 1
	p.dec = *lineprotocol.NewDecoderWithBytes(p.body[off:])
	p.decoding = true
}

// Next returns the points of the next max good lines of the body given to
// Start (all the rest when max <= 0), or none once the body is done. The
// points are valid until the next call of Next, Start or Parse. Bad lines
// are skipped and reported by Err.
func (p *Parser) Next(max int) []Point {
	p.points, p.tags, p.fields = p.points[:0], p.tags[:0], p.fields[:0]
	p.orderKeys = p.orderKeys[:0]
	clear(p.series) // it indexes p.points
	p.sameTime, p.pendingSeries = true, p.pendingSeries[:0]
	if p.done {
		return nil
	}
	if max <= 0 && cap(p.arena) < len(p.body) {
		// Unescaped tokens and series keys are about as long as the
		// body's text of them, so the arena rarely grows during the call
		// (points keep slices of an outgrown arena, which stay valid).
		p.arena = make([]byte, 0, len(p.body))
	}
	p.arena = p.arena[:0]
	for max <= 0 || len(p.points) < max {
		if !p.decoding {
			if p.off >= len(p.body) {
				p.finish()
				break
			}
			end := len(p.body)
			if i := bytes.IndexByte(p.body[p.off:], '\n'); i >= 0 {
				end = p.off + i
			}
			if end == p.off || p.parseSimpleLine(p.off, end) {
				p.off = end + 1
				if len(p.points) == 1 {
					p.presize(len(p.body), max)
				}
				continue
			}
			p.decodeFrom(p.off)
		}
		if !p.dec.Next() {
			p.finish()
			break
		}
		nt, nf, na := len(p.tags), len(p.fields), len(p.arena)
		line, err := p.parseEntry(p.prec, p.defaultTime)
		if err == nil {
			if len(p.points) == 1 {
				p.presize(len(p.body), max)
			}
			continue
		}
		// Roll back what the bad line added.
		p.tags, p.fields, p.arena = p.tags[:nt], p.fields[:nf], p.arena[:na]
		p.orderKeys = p.orderKeys[:0]
		p.dropped++
		if len(p.errs) < maxLineErrors {
			p.errs = append(p.errs, LineError{Line: line, Err: err})
		}
	}
	return p.points
}

// finish marks the body done.
func (p *Parser) finish() {
	p.done = true
	p.body, p.lastTimeText, p.firstTime = nil, nil, nil
	clear(p.series) // its keys alias body
}

// Err returns, once Next has returned no points (or after Parse), a
// *PartialParseError listing the bad lines of the whole body, or nil.
func (p *Parser) Err() error {
	if p.dropped == 0 {
		return nil
	}
	return &PartialParseError{Lines: slices.Clone(p.errs), Dropped: p.dropped}
}

// presize gives the point and field arrays room for the whole body (or
// for maxLines lines when that is fewer),
// estimated from the first point's line length and field count. (Tags are
// not presized: lines repeating a series share its tags, so a body usually
// needs far fewer than a line's tags per line; appendTag doubles instead.)
// Points keep slices of these arrays, so every regrowth mid-Parse would
// leave the older arrays alive until the next Parse: for a 5,000-line TSBS
// body that summed to about five times the final arrays (33 MB instead of
// 7 MB per parser).
func (p *Parser) presize(bodyLen, maxLines int) {
	first := &p.points[0]
	// The first line's saved bytes (its key, in the arena unless it is
	// a slice of the body), a lower bound of its length.
	lineLen := max(len(p.arena), len(first.Key), 16)
	// The first line and the rest, with headroom so a reused parser
	// settles on one size; a body of one wide line needs no more room.
	lines := 1 + (bodyLen-lineLen)/lineLen*5/4
	if maxLines > 0 {
		lines = min(lines, maxLines)
	}
	if cap(p.points) < lines {
		p.points = slices.Grow(p.points, lines-len(p.points))
	}
	if want := lines * len(first.Fields); cap(p.fields) < want {
		p.fields = slices.Grow(p.fields, want-len(p.fields))
	}
}

func (p *Parser) reset(body []byte) {
	p.points = p.points[:0]
	p.tags = p.tags[:0]
	p.fields = p.fields[:0]
	p.errs = p.errs[:0]
	p.orderKeys = p.orderKeys[:0]
	p.arena = p.arena[:0]
	p.body = body
	p.lineOff, p.lineNo = 0, 1
	p.lastTimeText = nil
}

// parseEntry decodes one line with the decoder. On failure it returns the
// 1-based line number and the reason.
func (p *Parser) parseEntry(prec Precision, defaultTime int64) (int, error) {
	d := &p.dec
	e := entry{anchor: -1}
	m, err := d.Measurement()
	if err != nil {
		return p.decodeErrLine(err), err
	}
	p.locate(&e, m)
	na := len(p.arena)
	name := p.save(m)
	// raw spans the line's measurement and tags in the body while every one
	// of those tokens points into it (no escapes), for the series cache.
	rawStart := offsetIn(p.body, m)
	rawEnd := rawStart + len(m)

	t0 := len(p.tags)
	for {
		k, v, err := d.NextTag()
		if err != nil {
			return p.decodeErrLine(err), err
		}
		if k == nil {
			break
		}
		p.locate(&e, k)
		p.locate(&e, v)
		if rawStart >= 0 {
			if vo := offsetIn(p.body, v); vo >= 0 && offsetIn(p.body, k) >= 0 {
				rawEnd = vo + len(v)
			} else {
				rawStart = -1
			}
		}
		p.appendTag(Tag{Key: p.save(k), Value: p.save(v)})
	}
	var raw string
	if rawStart >= 0 {
		raw = unsafe.String(&p.body[rawStart], rawEnd-rawStart)
	}
	var tags Tags
	var key []byte
	var semErr error
	p.endSameTime()
	if n, t, k, ok := p.knownSeries(raw); ok {
		// An earlier good line had these very bytes: share its series.
		p.tags, p.arena = p.tags[:t0], p.arena[:na]
		name, tags, key, raw = n, t, k, ""
	} else {
		tags, semErr = p.ownTags(name, t0)
	}

	f0 := len(p.fields)
	var lf lineFields
	for {
		k, kind, data, err := d.NextFieldBytes()
		if err != nil {
			return p.decodeErrLine(err), err
		}
		if k == nil {
			break
		}
		p.locate(&e, k)
		if err := checkFieldKey(k); err != nil {
			return p.lineOf(e), err
		}
		var fv Value
		if kind == lineprotocol.String {
			// The decoder has unescaped and UTF-8-checked the string.
			if e.anchor < 0 && !p.locate(&e, data) {
				e.nlBefore += bytes.Count(data, newline)
			}
			fv = StringValue(p.save(data))
		} else {
			p.locate(&e, data)
			if fv, err = parseValue(kind, data); err != nil {
				return p.lineOf(e), fmt.Errorf("field %q: %w", k, err)
			}
		}
		p.addField(&lf, e, f0, k, fv)
	}
	if len(p.fields) == f0 {
		// line-protocol/v2 already rejects a line without fields; keep the
		// check so the invariant does not depend on it.
		return p.lineOf(e), errNoFields
	}

	tb, err := d.TimeBytes()
	if err != nil {
		return p.decodeErrLine(err), err
	}
	ts := defaultTime
	if tb != nil {
		p.locate(&e, tb)
		if ts, err = prec.timestamp(tb); err != nil {
			return p.lineOf(e), err
		}
	}
	if semErr != nil {
		return p.lineOf(e), semErr
	}
	if key == nil {
		key = p.saveKey(name, tags)
	}
	p.appendPoint(raw, name, tags, key, f0, ts)
	p.lastSimple = false
	return 0, nil
}

// knownSeries returns the measurement, tags and series key of an earlier
// good line whose raw "measurement,tags" text is raw (never the empty
// string).
func (p *Parser) knownSeries(raw string) ([]byte, Tags, []byte, bool) {
	if i, ok := p.series[raw]; ok && raw != "" {
		pt := &p.points[i]
		return pt.Measurement, pt.Tags, pt.Key, true
	}
	return nil, nil, nil, false
}

// checkSameTime ends the chunk's first timestamp (see Parser.sameTime)
// unless line, in parseSimpleLine's form, ends with the same text as the
// chunk's first line, which line is when first is true. That text is the
// timestamp; a first line without one (its last text has a field's '=')
// ends it at once, since lines without a timestamp may repeat a series.
func (p *Parser) checkSameTime(line []byte, first bool) {
	if n := len(line) - len(p.firstTime); !first && n > 0 && line[n-1] == ' ' && string(line[n:]) == string(p.firstTime) {
		// The usual line: it ends with a space and the first timestamp
		// (which has no space), so that is its last text.
		return
	}
	line = bytes.TrimRight(line, " ")
	t := line[bytes.LastIndexByte(line, ' ')+1:]
	switch {
	case first && bytes.IndexByte(t, '=') < 0:
		p.firstTime = t
	case first || string(t) != string(p.firstTime):
		p.endSameTime()
	}
}

// endSameTime puts the series noted while the lines of the chunk had its
// first timestamp in the series cache, and fills it directly from now on.
func (p *Parser) endSameTime() {
	if !p.sameTime {
		return
	}
	p.sameTime = false
	if len(p.pendingSeries) > 0 && p.series == nil {
		p.series = make(map[string]int32, len(p.pendingSeries))
	}
	// Backwards, so a text noted twice (a duplicate point) ends on its
	// first point, as when the cache was filled line by line.
	for i := len(p.pendingSeries) - 1; i >= 0; i-- {
		ps := p.pendingSeries[i]
		p.series[unsafe.String(&p.body[ps.off], ps.n)] = ps.point
	}
	p.pendingSeries = p.pendingSeries[:0]
}

// saveKey appends the series key of name and tags to the arena and
// returns it.
func (p *Parser) saveKey(name []byte, tags Tags) []byte {
	start := len(p.arena)
	p.arena = AppendSeriesKey(p.arena, name, tags)
	return p.arena[start:len(p.arena):len(p.arena)]
}

// ownTags sorts the tags a line appended from p.tags[t0] and returns them
// with the reason its series cannot be stored, if any.
func (p *Parser) ownTags(name []byte, t0 int) (Tags, error) {
	tags := Tags(p.tags[t0:len(p.tags):len(p.tags)])
	err := p.sortTags(tags)
	if err == nil {
		err = checkSeriesKey(name, tags)
	}
	return tags, err
}

// lineFields is what addField keeps about the fields of one line.
type lineFields struct {
	seen uint64 // bloom filter of the line's field keys
	// byKey indexes the line's fields by key once it has fieldIndexMin of
	// them, so a repeated key is found without comparing it with every
	// earlier one (a 10 MB line of 714,000 fields took over 10 minutes).
	byKey map[string]int
}

// addField adds field k = v to the line of entry e, whose fields start at
// p.fields[f0]; a repeated key keeps the last value.
func (p *Parser) addField(lf *lineFields, e entry, f0 int, k []byte, v Value) {
	if n := len(p.fields) - f0; n >= fieldIndexMin {
		if lf.byKey == nil {
			lf.byKey = p.indexFields(f0, p.fieldsLeft(e, k, n))
		}
		p.setFieldByKey(lf.byKey, f0, k, v)
		return
	}
	if bit := fieldBit(k); lf.seen&bit == 0 {
		lf.seen |= bit
		p.fields = append(p.fields, Field{Key: p.fieldKey(f0, k), Value: v})
	} else {
		p.setField(f0, k, v)
	}
}

// fieldBit is key k's bit in lineFields.seen.
func fieldBit(k []byte) uint64 {
	return uint64(1) << ((uint(len(k)) ^ uint(k[len(k)-1])*7 ^ uint(k[len(k)/2])*13) & 63)
}

// learn adds the keys of fields, a line's distinct first fields added
// without addField, to the bloom filter. (From fieldIndexMin fields on,
// addField indexes the line's fields itself.)
func (lf *lineFields) learn(fields []Field) {
	if len(fields) >= fieldIndexMin {
		return
	}
	for i := range fields {
		lf.seen |= fieldBit(fields[i].Key)
	}
}

// appendPoint appends the point of a good line. newRaw is the line's raw
// "measurement,tags" text for the series cache to learn, or empty when
// the cache knows it already or it is not in the body as is; key is the
// series key of name and tags.
func (p *Parser) appendPoint(newRaw string, name []byte, tags Tags, key []byte, f0 int, ts int64) {
	if newRaw != "" && p.sameTime {
		off := int(uintptr(unsafe.Pointer(unsafe.StringData(newRaw))) - uintptr(unsafe.Pointer(unsafe.SliceData(p.body))))
		p.pendingSeries = append(p.pendingSeries, pendingSeries{off: off, n: len(newRaw), point: int32(len(p.points))})
	} else if newRaw != "" {
		if p.series == nil {
			p.series = make(map[string]int32)
		}
		p.series[newRaw] = int32(len(p.points))
	}
	n := len(p.points)
	if n == cap(p.points) {
		p.points = slices.Grow(p.points, 1)
	}
	p.points = p.points[:n+1]
	// Member by member, as parseSimpleLine appends a field.
	pt := &p.points[n]
	pt.Measurement, pt.Tags, pt.Fields = name, tags, p.fields[f0:len(p.fields):len(p.fields)]
	pt.Time, pt.Key = ts, key
}

// parseSimpleLine parses the line body[start:end] (end is at its newline or
// the body's end) when it has the form nearly every writer sends: a
// measurement, tags and fields of printable bytes without a backslash
// (outside string values too) or a space in them, single-line string
// values, and an optional timestamp. It then appends the line's point and
// returns true; for any other line (escapes, a comment, a leading space, a
// bad line) it changes nothing and returns false, and the decoder reads
// the line. Of the lines in that form it accepts exactly those the
// decoder accepts and makes the same points (FuzzParseSimpleLines checks
// it), at a fraction of the decoder's cost: a line repeating an earlier
// line's series is recognised by its raw bytes before they are parsed.
func (p *Parser) parseSimpleLine(start, end int) bool {
	line := p.body[start:end]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return false
	}
	t0, f0, na := len(p.tags), len(p.fields), len(p.arena)
	raw := unsafe.String(&line[0], sp)
	if p.sameTime {
		p.checkSameTime(line, len(p.points) == 0)
	}
	var name, key []byte
	var tags Tags
	var known bool
	if !p.sameTime {
		name, tags, key, known = p.knownSeries(raw)
	}
	if !known {
		// Without escapes the key is as long as the line's text of it.
		ks := line[:sp]
		nameLen, sameKeys, ok := p.scanSimpleSeries(ks)
		if !ok || !sameKeys && !p.sortSimpleTags(ks) || len(ks) > MaxKeyLength {
			return p.rejectSimple(t0, f0, na)
		}
		name, tags, key = p.saveSimpleSeries(ks, nameLen)
	}

	i := sp + 1
	for i < len(line) && line[i] == ' ' {
		i++
	}
	e := entry{anchor: start}
	var lf lineFields
	// While the line's field keys are, in order, those of the previous
	// point (which this function made, so they are in its form, and are
	// distinct), a key is recognised by comparing bytes: it needs no
	// scan, no check and no duplicate search.
	var prevFields []Field
	if len(p.points) > 0 && p.lastSimple {
		prevFields = p.points[len(p.points)-1].Fields
	}
	same := true
	for {
		var k []byte
		if n := len(p.fields) - f0; same && n < len(prevFields) && keyAt(line, i, prevFields[n].Key) {
			k = prevFields[n].Key
			i += len(k)
		} else {
			if same {
				same = false
				lf.learn(p.fields[f0:])
			}
			k0 := i
			var high byte
			for i < len(line) && simpleClass[line[i]]&inKey != 0 {
				high |= line[i]
				i++
			}
			if i == k0 || i+1 >= len(line) || line[i] != '=' {
				return p.rejectSimple(t0, f0, na)
			}
			k = line[k0:i]
			if high >= utf8.RuneSelf && !utf8.Valid(k) || checkFieldKey(k) != nil {
				return p.rejectSimple(t0, f0, na)
			}
		}
		i++
		var v Value
		if line[i] == '"' {
			n := bytes.IndexByte(line[i+1:], '"')
			if n < 0 {
				return p.rejectSimple(t0, f0, na)
			}
			s := line[i+1 : i+1+n]
			if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) {
				return p.rejectSimple(t0, f0, na)
			}
			v = StringValue(p.save(s))
			i += n + 2
		} else if u, n := shortInteger(line[i:]); n > 0 {
			v = IntegerValue(int64(u))
			i += n
		} else {
			v0 := i
			for i < len(line) && line[i] != ',' && line[i] != ' ' {
				i++
			}
			var ok bool
			if v, ok = simpleValue(line[v0:i]); !ok {
				return p.rejectSimple(t0, f0, na)
			}
		}
		if same {
			// Appended member by member: append(p.fields, Field{...})
			// builds the field on the stack with 8-byte stores and
			// copies it with 16-byte loads, which wait for those stores
			// to complete (a failed store forward), and that copy was
			// most of the cost of a field.
			if len(p.fields) == cap(p.fields) {
				p.fields = slices.Grow(p.fields, 1)
			}
			p.fields = p.fields[:len(p.fields)+1]
			f := &p.fields[len(p.fields)-1]
			f.Key, f.Value.Type, f.Value.N, f.Value.S = k, v.Type, v.N, v.S
		} else {
			p.addField(&lf, e, f0, k, v)
		}
		if i == len(line) || line[i] != ',' {
			break
		}
		i++
	}

	ts := p.defaultTime
	if i < len(line) {
		if line[i] != ' ' {
			return p.rejectSimple(t0, f0, na)
		}
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i < len(line) {
			tb := line[i:]
			if n := bytes.IndexByte(tb, ' '); n >= 0 {
				if strings.TrimLeft(unsafe.String(&tb[n], len(tb)-n), " ") != "" {
					return p.rejectSimple(t0, f0, na)
				}
				tb = tb[:n]
			}
			if string(tb) == string(p.lastTimeText) {
				// Lines of a batch often share their timestamp.
				ts = p.lastTime
			} else {
				var err error
				if ts, err = p.prec.timestamp(tb); err != nil {
					return p.rejectSimple(t0, f0, na)
				}
				p.lastTimeText, p.lastTime = tb, ts
			}
		}
	}
	if known {
		raw = ""
	}
	p.appendPoint(raw, name, tags, key, f0, ts)
	p.lastSimple = true
	return true
}

// shortInteger reads the usual field value, a non-negative integer of at
// most 18 digits ("58i", so it fits an int64), from the start of b up to
// the ',' or ' ' after it or b's end, and returns it with the bytes it
// took; n is 0 when b does not start with one (simpleValue reads it).
func shortInteger(b []byte) (u uint64, n int) {
	for n < len(b) && n < 18 && b[n]-'0' <= 9 {
		u = u*10 + uint64(b[n]-'0')
		n++
	}
	if n == 0 || n == len(b) || b[n] != 'i' || n+1 < len(b) && b[n+1] != ',' && b[n+1] != ' ' {
		return 0, 0
	}
	return u, n + 1
}

// keyAt reports whether line holds key k at offset i, followed by '=' and
// at least one more byte (a value), as parseSimpleLine's scan of a field
// key would find it.
func keyAt(line []byte, i int, k []byte) bool {
	j := i + len(k)
	return j+1 < len(line) && line[j] == '=' && sameShort(line[i:j], k)
}

// sameShort reports whether a and b hold the same bytes. Keys of 8 to 16
// bytes, the usual tag and field keys, are compared with two overlapping
// loads of each instead of a call.
func sameShort(a, b []byte) bool {
	if n := len(a); n >= 8 && n <= 16 && len(b) == n {
		return binary.LittleEndian.Uint64(a) == binary.LittleEndian.Uint64(b) &&
			binary.LittleEndian.Uint64(a[n-8:]) == binary.LittleEndian.Uint64(b[n-8:])
	}
	return string(a) == string(b)
}

// rejectSimple drops what parseSimpleLine added for a line it leaves to
// the decoder, and returns false.
func (p *Parser) rejectSimple(t0, f0, na int) bool {
	p.tags, p.fields, p.arena = p.tags[:t0], p.fields[:f0], p.arena[:na]
	return false
}

// simpleTag locates a tag in the "measurement,tags" text of a line in
// parseSimpleLine's form: its key is text[key:eq], its value
// text[eq+1:end].
type simpleTag struct{ key, eq, end int }

// scanSimpleSeries reads ks, the "measurement,tags" text of a line, into
// p.simpleTags and returns the length of its measurement; ok is false when
// ks is not in parseSimpleLine's form or the decoder would refuse it.
// sameKeys reports that the tags have the keys, in order, of the last line
// sortSimpleTags sorted, so p.simpleOrder is their order: those keys are
// recognised by comparing bytes rather than scanned (a batch of new series
// repeats one list of tag keys line after line).
func (p *Parser) scanSimpleSeries(ks []byte) (nameLen int, sameKeys, ok bool) {
	if ks[0] == '#' { // a comment line
		return 0, false, false
	}
	var high byte
	i := 0
	for i < len(ks) && simpleClass[ks[i]]&inMeasurement != 0 {
		high |= ks[i]
		i++
	}
	if i == 0 {
		return 0, false, false
	}
	nameLen = i
	p.simpleTags = p.simpleTags[:0]
	prev, prevLens := p.prevTagKeys, p.prevTagKeyLens
	// same holds while the tags read so far have the keys of prev.
	same := len(p.simpleOrder) == len(prevLens)
	prevOff := 0
	for i < len(ks) {
		if ks[i] != ',' {
			return 0, false, false
		}
		i++
		k0 := i
		var eq int
		if t := len(p.simpleTags); same && t < len(prevLens) && i+int(prevLens[t]) <= len(ks) &&
			sameShort(ks[i:i+int(prevLens[t])], prev[prevOff:prevOff+int(prevLens[t])]) {
			// The previous line's key, with its '=': checked then.
			prevOff += int(prevLens[t])
			eq = i + int(prevLens[t]) - 1
		} else {
			same = false
			for i < len(ks) && simpleClass[ks[i]]&inKey != 0 {
				high |= ks[i]
				i++
			}
			if i == k0 || i == len(ks) || ks[i] != '=' {
				return 0, false, false
			}
			eq = i
		}
		i = eq + 1
		v0 := i
		for i < len(ks) && simpleClass[ks[i]]&inKey != 0 {
			high |= ks[i]
			i++
		}
		if i == v0 {
			return 0, false, false
		}
		// Member by member, as parseSimpleLine appends a field.
		t := len(p.simpleTags)
		if t == cap(p.simpleTags) {
			p.simpleTags = slices.Grow(p.simpleTags, 1)
		}
		p.simpleTags = p.simpleTags[:t+1]
		st := &p.simpleTags[t]
		st.key, st.eq, st.end = k0, eq, i
	}
	// The separators are ASCII, so the text is valid UTF-8 exactly when
	// every token is, as the decoder checks (the keys compared with the
	// previous line's were).
	return nameLen, same && len(p.simpleTags) == len(prevLens), high < utf8.RuneSelf || utf8.Valid(ks)
}

// sortSimpleTags sets p.simpleOrder to the sorted order of the tags
// scanSimpleSeries read from ks (whose keys are not those of the last line
// sorted) and remembers their keys for scanSimpleSeries; it reports false
// when two tags have the same key.
func (p *Parser) sortSimpleTags(ks []byte) bool {
	tags := p.simpleTags
	order := p.simpleOrder[:0]
	for i := range tags {
		order = append(order, int32(i))
	}
	key := func(i int32) string { t := tags[i]; return unsafe.String(&ks[t.key], t.eq-t.key) }
	if len(order) <= 64 {
		for i := 1; i < len(order); i++ {
			for j := i; j > 0 && key(order[j-1]) > key(order[j]); j-- {
				order[j-1], order[j] = order[j], order[j-1]
			}
		}
	} else {
		slices.SortFunc(order, func(a, b int32) int { return strings.Compare(key(a), key(b)) })
	}
	p.simpleOrder = order
	p.simpleSorted = p.keysInBody
	for i, j := range order {
		if int(j) != i {
			p.simpleSorted = false
			break
		}
	}
	p.prevTagKeys, p.prevTagKeyLens = p.prevTagKeys[:0], p.prevTagKeyLens[:0]
	for i := 1; i < len(order); i++ {
		if key(order[i-1]) == key(order[i]) {
			// No keys to try: simpleOrder's length differs from theirs
			// (the line has tags).
			return false
		}
	}
	for _, t := range tags {
		p.prevTagKeys = append(p.prevTagKeys, ks[t.key:t.eq+1]...)
		p.prevTagKeyLens = append(p.prevTagKeyLens, int32(t.eq+1-t.key))
	}
	return true
}

// saveSimpleSeries copies the series key of ks, a line's "measurement,
// tags" text read by scanSimpleSeries and sortSimpleTags, into the arena
// (tags sorted; there is nothing to escape), appends the tags, and returns
// the measurement and the tags pointing at their bytes in the key: one
// copy serves as the point's Key and its tokens. When the tags are in
// sorted order already (Telegraf and the Go client sort them; TSBS does
// not) and the points may refer to the body (Start, not Parse), ks is the
// key byte for byte and is used without a copy: the body, which it is a
// slice of, does not change until Next has returned no points, longer
// than the arena lives, which each Next reuses.
func (p *Parser) saveSimpleSeries(ks []byte, nameLen int) (name []byte, tags Tags, key []byte) {
	t0, n := len(p.tags), len(p.simpleOrder)
	if cap(p.tags)-t0 < n {
		// Doubled, as appendTag does.
		p.tags = slices.Grow(p.tags, max(len(p.tags), 64, n))
	}
	tags = p.tags[t0 : t0+n : t0+n]
	p.tags = p.tags[:t0+n]
	if p.simpleSorted {
		for i, t := range p.simpleTags[:n] {
			tg := &tags[i]
			tg.Key, tg.Value = ks[t.key:t.eq:t.eq], ks[t.eq+1:t.end:t.end]
		}
		key = ks[:len(ks):len(ks)]
		return key[:nameLen:nameLen], tags, key
	}
	// The arena is grown once, so the key's tags can point into it as it
	// is copied: the key is as long as ks.
	start := len(p.arena)
	arena := slices.Grow(p.arena, len(ks))
	arena = append(arena, ks[:nameLen]...)
	for i, j := range p.simpleOrder {
		t := p.simpleTags[j]
		k0 := len(arena) + 1
		arena = append(append(arena, ','), ks[t.key:t.end]...)
		eq := k0 + t.eq - t.key
		// Member by member: a composite literal is built on the stack
		// and copied in 16-byte moves that wait on its 8-byte stores.
		tg := &tags[i]
		tg.Key, tg.Value = arena[k0:eq:eq], arena[eq+1:len(arena):len(arena)]
	}
	p.arena = arena
	key = arena[start:len(arena):len(arena)]
	return key[:nameLen:nameLen], tags, key
}

// simpleValue parses a non-string field value token as the decoder and
// parseValue do; ok is false when either would refuse it.
func simpleValue(b []byte) (Value, bool) {
	if len(b) == 0 {
		return Value{}, false
	}
	var kind lineprotocol.ValueKind
	switch c := b[0]; {
	case c == 't' || c == 'T' || c == 'f' || c == 'F':
		kind = lineprotocol.Bool
	case c == '-' || c == '.' || c >= '0' && c <= '9':
		switch b[len(b)-1] {
		case 'i':
			// The usual integer, without parseValue's error plumbing.
			if u, ok := parseDigits(b[:len(b)-1]); ok && u <= math.MaxInt64 {
				return IntegerValue(int64(u)), true
			}
			kind, b = lineprotocol.Int, b[:len(b)-1]
		case 'u':
			kind, b = lineprotocol.Uint, b[:len(b)-1]
		default:
			kind = lineprotocol.Float
		}
	default:
		return Value{}, false
	}
	v, err := parseValue(kind, b)
	return v, err == nil
}

// Byte classes of parseSimpleLine's form: simpleClass[c] says where byte c
// may appear. Bytes from 0x80 may appear anywhere a name may, when the
// name is valid UTF-8.
const (
	inMeasurement = 1 << iota // in a measurement
	inKey                     // in a tag key, a tag value or a field key
)

var simpleClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c < 0x20 || c == 0x7f || c == ' ' || c == ',' || c == '\\':
		case c == '=':
			t[c] = inMeasurement
		default:
			t[c] = inMeasurement | inKey
		}
	}
	return t
}()

// appendTag appends t to the tag array, doubling its capacity when full:
// points keep slices of the older arrays until the next Parse, and doubling
// bounds what they add up to by the final array's size.
func (p *Parser) appendTag(t Tag) {
	if len(p.tags) == cap(p.tags) {
		p.tags = slices.Grow(p.tags, max(len(p.tags), 64))
	}
	p.tags = append(p.tags, t)
}

// fieldKey returns k saved in the arena, or the same key of the previous
// point when it has one at the same position (lines of a batch usually
// list the same fields in the same order).
func (p *Parser) fieldKey(f0 int, k []byte) []byte {
	if len(p.points) > 0 {
		prev := p.points[len(p.points)-1].Fields
		if i := len(p.fields) - f0; i < len(prev) && string(prev[i].Key) == string(k) {
			return prev[i].Key
		}
	}
	return p.save(k)
}

var (
	newline     = []byte{'\n'}
	errNoFields = errors.New("no fields")
)

// setField appends a field, or overwrites the value of an earlier field of
// the same point with the same key (last value wins, as in InfluxDB).
func (p *Parser) setField(f0 int, k []byte, v Value) {
	for i := f0; i < len(p.fields); i++ {
		fk := p.fields[i].Key
		if len(fk) == len(k) && string(fk) == string(k) {
			p.fields[i].Value = v
			return
		}
	}
	p.fields = append(p.fields, Field{Key: p.save(k), Value: v})
}

// fieldIndexMin is the field count of a line from which its fields are
// indexed by key: below it, the bloom filter and a scan of the line's few
// fields are cheaper than a map.
const fieldIndexMin = 64

// indexFields returns the index by key of the line's fields (those from
// f0), with room for hint more, and makes room for them in p.fields too:
// growing both as the fields come costs more than parsing them. Keys are
// the fields' own bytes, which do not change during the Parse.
func (p *Parser) indexFields(f0, hint int) map[string]int {
	byKey := make(map[string]int, len(p.fields)-f0+hint)
	for i := f0; i < len(p.fields); i++ {
		key := p.fields[i].Key
		byKey[unsafe.String(unsafe.SliceData(key), len(key))] = i
	}
	p.fields = slices.Grow(p.fields, hint)
	return byKey
}

// fieldsLeft estimates how many fields follow field key k, the (n+1)-th
// of entry e's line, from the bytes the line took so far; 0 when k is not
// in the body.
func (p *Parser) fieldsLeft(e entry, k []byte, n int) int {
	off := offsetIn(p.body, k)
	if off <= e.anchor || e.anchor < 0 {
		return 0
	}
	rest := bytes.IndexByte(p.body[off:], '\n')
	if rest < 0 {
		rest = len(p.body) - off
	}
	return rest / max((off-e.anchor)/n, 1)
}

// setFieldByKey is setField for a line of many fields, through byKey, the
// index of the line's fields by key (see indexFields).
func (p *Parser) setFieldByKey(byKey map[string]int, f0 int, k []byte, v Value) {
	if i, ok := byKey[string(k)]; ok {
		p.fields[i].Value = v
		return
	}
	key := p.fieldKey(f0, k)
	byKey[unsafe.String(unsafe.SliceData(key), len(key))] = len(p.fields)
	p.fields = append(p.fields, Field{Key: key, Value: v})
}

// save copies b into the arena and returns the copy, capped so that appends
// by the caller cannot overwrite neighbouring tokens.
func (p *Parser) save(b []byte) []byte {
	start := len(p.arena)
	p.arena = append(p.arena, b...)
	return p.arena[start:len(p.arena):len(p.arena)]
}

// locate records tok as the entry's anchor if it is the first token of the
// entry that points into the body. It reports whether the entry has an anchor.
func (p *Parser) locate(e *entry, tok []byte) bool {
	if e.anchor >= 0 {
		return true
	}
	if off := offsetIn(p.body, tok); off >= 0 {
		e.anchor = off
		return true
	}
	return false
}

// offsetIn returns the offset of tok within body, or -1 if tok does not point
// into body. The pointers are only compared, never converted back.
func offsetIn(body, tok []byte) int {
	if len(tok) == 0 || len(body) == 0 {
		return -1
	}
	b := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	t := uintptr(unsafe.Pointer(unsafe.SliceData(tok)))
	if t < b || t >= b+uintptr(len(body)) {
		return -1
	}
	return int(t - b)
}

// lineOf returns the 1-based line on which entry e starts. Offsets only grow
// during a Parse, so counting newlines from the previous answer keeps the
// total cost linear. When no token of the entry points into the body (every
// token escaped and no timestamp) the answer is the line after the last one
// located, a best effort.
func (p *Parser) lineOf(e entry) int {
	if e.anchor < 0 {
		return p.lineNo + 1
	}
	if e.anchor >= p.lineOff {
		p.lineNo += bytes.Count(p.body[p.lineOff:e.anchor], newline)
		p.lineOff = e.anchor
	}
	return max(p.lineNo-e.nlBefore, 1)
}

// decodeErrLine returns the line in the body of a line-protocol/v2 decode
// error, which it corrects to that line (the decoder started at line
// decLine+1).
func (p *Parser) decodeErrLine(err error) int {
	var de *lineprotocol.DecodeError
	if errors.As(err, &de) {
		de.Line += int64(p.decLine)
		return int(de.Line)
	}
	return 0
}

// sortTags sorts one line's tags by key and reports a repeated key. It
// reuses the previous line's permutation when the keys come in the same
// order, and otherwise sorts (insertion sort of indices for the usual
// handful of tags) and remembers the new permutation. It does not allocate
// in steady state.
func (p *Parser) sortTags(tags Tags) error {
	n := len(tags)
	if n < 2 {
		return nil
	}
	if len(p.orderKeys) == n && sameKeys(tags, p.orderKeys) {
		p.permute(tags)
		return nil
	}
	keys := p.orderKeys[:0]
	order := p.order[:0]
	for i := range tags {
		keys = append(keys, tags[i].Key)
		order = append(order, int32(i))
	}
	if n <= 64 {
		for i := 1; i < n; i++ {
			for j := i; j > 0 && bytes.Compare(tags[order[j-1]].Key, tags[order[j]].Key) > 0; j-- {
				order[j-1], order[j] = order[j], order[j-1]
			}
		}
	} else {
		slices.SortFunc(order, func(a, b int32) int { return bytes.Compare(tags[a].Key, tags[b].Key) })
	}
	p.order = order
	p.permute(tags)
	for i := 1; i < n; i++ {
		if bytes.Equal(tags[i-1].Key, tags[i].Key) {
			p.orderKeys = keys[:0]
			return fmt.Errorf("%w %q", ErrDuplicateTagKey, tags[i].Key)
		}
	}
	p.orderKeys = keys
	return nil
}

// permute reorders tags by p.order.
func (p *Parser) permute(tags Tags) {
	p.tagTmp = append(p.tagTmp[:0], tags...)
	for i, j := range p.order {
		tags[i] = p.tagTmp[j]
	}
}

func sameKeys(tags Tags, keys [][]byte) bool {
	for i := range tags {
		if string(tags[i].Key) != string(keys[i]) {
			return false
		}
	}
	return true
}

// timestamp returns tb, a line's timestamp in units of prec, in
// nanoseconds, or why it is not one in [MinNanoTime, MaxNanoTime].
func (prec Precision) timestamp(tb []byte) (int64, error) {
	raw, err := parseTimestamp(tb)
	if err != nil {
		return 0, err
	}
	ts, ok := prec.scale(raw)
	if !ok {
		return 0, timeRangeError(fmt.Sprintf("%d at precision %dns", raw, max(int64(prec), 1)))
	}
	if err := checkTime(ts); err != nil {
		return 0, err
	}
	return ts, nil
}

// parseTimestamp parses a decimal int64 without allocating.
func parseTimestamp(b []byte) (int64, error) {
	digits := b
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		digits = b[1:]
	}
	u, ok := parseDigits(digits)
	switch {
	case !ok && u != math.MaxUint64:
		return 0, fmt.Errorf("%w %q", ErrInvalidTimestamp, b)
	case !ok, neg && u > 1<<63, !neg && u > math.MaxInt64:
		return 0, timeRangeError(string(b))
	case neg:
		return -int64(u), nil
	}
	return int64(u), nil
}
