package index

import (
	"fmt"
	"regexp"
	"slices"
)

// TagExpr is a predicate over a series' tags: a TagMatch, or And / Or of two
// predicates.
type TagExpr interface {
	tagExpr()
}

// MatchOp is the comparison of a TagMatch.
type MatchOp uint8

// Comparisons, as in InfluxQL WHERE clauses on tags.
const (
	Equal         MatchOp = iota // tag = 'v'
	NotEqual                     // tag != 'v'
	RegexMatch                   // tag =~ /re/
	RegexNotMatch                // tag !~ /re/
)

// TagMatch compares the value of tag Key with Value (Equal, NotEqual) or
// Regex (RegexMatch, RegexNotMatch). As in InfluxDB, a series without the tag
// is treated as having the empty value: `host = ”` matches series without
// a host tag, and `host != 'a'` and `host !~ /a/` match them too.
type TagMatch struct {
	Key   string
	Op    MatchOp
	Value string
	Regex *regexp.Regexp
}

// And matches series matched by both L and R.
type And struct{ L, R TagExpr }

// Or matches series matched by L or R.
type Or struct{ L, R TagExpr }

func (TagMatch) tagExpr() {}
func (And) tagExpr()      {}
func (Or) tagExpr()       {}

// MatchSeries returns the sorted ids of the measurement's series that match
// expr; a nil expr matches all of them. A RegexMatch/RegexNotMatch without a
// Regex, or an unknown expression type, matches nothing.
func (ix *Index) MatchSeries(name []byte, expr TagExpr) []uint64 {
	ix.rlockPostings()
	defer ix.runlockPostings()
	m := ix.measurements[string(name)]
	if m == nil || len(m.ids) == 0 {
		return nil
	}
	return widen(m.match(expr))
}

// match evaluates expr; the result may alias index memory and must not be
// modified.
func (m *measurement) match(expr TagExpr) []uint32 {
	switch e := expr.(type) {
	case nil:
		return m.ids
	case TagMatch:
		return m.matchTag(&e)
	case *TagMatch:
		return m.matchTag(e)
	case And:
		return intersect(m.match(e.L), m.match(e.R))
	case *And:
		return intersect(m.match(e.L), m.match(e.R))
	case Or:
		return union(m.match(e.L), m.match(e.R))
	case *Or:
		return union(m.match(e.L), m.match(e.R))
	}
	return nil
}

// matchTag evaluates one comparison. With v(s) the series' value of the tag
// ("" when absent): Equal keeps v(s) == Value, NotEqual its negation,
// RegexMatch keeps Regex matching v(s), RegexNotMatch its negation.
func (m *measurement) matchTag(e *TagMatch) []uint32 {
	tv := m.tags[e.Key]
	var (
		hit        []uint32 // series that have the tag and whose value matches
		emptyMatch bool     // whether the empty value (tag absent) matches
		negate     bool
	)
	switch e.Op {
	case Equal, NotEqual:
		negate = e.Op == NotEqual
		emptyMatch = e.Value == ""
		if tv != nil {
			if r, ok := tv.values.get(e.Value); ok {
				hit = m.postingsOf(r)
			}
		}
	case RegexMatch, RegexNotMatch:
		if e.Regex == nil {
			return nil
		}
		negate = e.Op == RegexNotMatch
		emptyMatch = e.Regex.MatchString("")
		if tv != nil {
			var lists [][]uint32
			for v, r := range tv.values.all() {
				if e.Regex.MatchString(v) {
					lists = append(lists, m.postingsOf(r))
				}
			}
			hit = unionAll(lists)
		}
	default:
		return nil
	}
	if emptyMatch {
		// hit ∪ (series without the tag) = all − (with the tag − hit).
		hit = difference(m.ids, difference(m.withTag(tv), hit))
	}
	if negate {
		return difference(m.ids, hit)
	}
	return hit
}

// withTag returns the series that have the tag at all.
func (m *measurement) withTag(tv *tagValues) []uint32 {
	if tv == nil {
		return nil
	}
	lists := make([][]uint32, 0, tv.values.len())
	for _, r := range tv.values.all() {
		lists = append(lists, m.postingsOf(r))
	}
	return unionAll(lists)
}

// unionAll merges sorted lists (a series has one value per tag, so the lists
// are disjoint and a concatenate-and-sort is enough).
func unionAll(lists [][]uint32) []uint32 {
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]uint32, 0, n)
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return out
}

// DropSeries removes series by id, durably (logged and fsynced before it
// returns). Unknown ids are ignored.
func (ix *Index) DropSeries(ids []uint64) error {
	ix.lockAll()
	defer ix.unlockAll()
	if err := ix.writable(); err != nil {
		return fmt.Errorf("drop series: %w", err)
	}
	buf := ix.scratch[:0]
	drop := make([]uint32, 0, len(ids))
	for _, id := range ids {
		if id == 0 || id > maxSeriesID || ix.series.key(uint32(id)) == nil {
			continue
		}
		drop = append(drop, uint32(id))
		buf = appendRecord(buf, &record{typ: recSeriesDropped, id: id})
	}
	ix.scratch = buf[:0]
	if len(drop) == 0 {
		return nil
	}
	if err := ix.logChange(buf); err != nil {
		return fmt.Errorf("drop series: %w", err)
	}
	ix.applyDropSeries(drop)
	return nil
}

// DropMeasurement removes a measurement with all its series and fields,
// durably. Dropping an unknown measurement is not an error.
func (ix *Index) DropMeasurement(name []byte) error {
	ix.lockAll()
	defer ix.unlockAll()
	if err := ix.writable(); err != nil {
		return fmt.Errorf("drop measurement: %w", err)
	}
	if ix.measurements[string(name)] == nil {
		return nil
	}
	buf := appendRecord(ix.scratch[:0], &record{typ: recMeasurementDropped, measurement: name})
	ix.scratch = buf[:0]
	if err := ix.logChange(buf); err != nil {
		return fmt.Errorf("drop measurement %q: %w", name, err)
	}
	ix.applyDropMeasurement(name)
	return nil
}

// writable reports why the index cannot change, if it cannot. Caller holds mu.
func (ix *Index) writable() error {
	if ix.closed {
		return ErrClosed
	}
	if ix.err != nil {
		return fmt.Errorf("index log failed earlier: %w", ix.err)
	}
	return nil
}

// logChange appends records durably, making a failure sticky. Caller holds mu.
func (ix *Index) logChange(b []byte) error {
	if err := ix.log.append(b, ix.nextID); err != nil {
		ix.err = err
		ix.logger.Error("index log write failed; refusing changes until reopened", "dir", ix.dir, "err", err)
		return err
	}
	return nil
}
