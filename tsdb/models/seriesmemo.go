package models

import "unsafe"

// seriesMemoSlots is the size of a SeriesMemo's table: comfortably more
// than the distinct series of a typical batch (a 5,000-line TSBS batch has
// 100), so few of them evict each other.
const seriesMemoSlots = 1 << seriesMemoBits

const seriesMemoBits = 9

// seriesMemoProbes is how many slots from its hash a series may take.
const seriesMemoProbes = 8

// SeriesMemo recognises, within one batch, points that share their
// Measurement and Tags slices with an earlier point, as the points Parser
// returns for lines repeating a series do: such points have the same series
// key, so work derived from the key (the key itself, its hash, its series
// id) can be done once per series instead of once per point.
//
// It compares slice identity (address and length), not bytes, so a check
// costs a few nanoseconds and a miss (distinct slices, as decoded RPC
// batches have) only costs the work it was meant to save. Identity implies
// equal bytes only while the points are unchanged: use one memo per batch
// (Reset between batches). A small table of recent series is kept, so a
// hit is likely but not certain; callers must treat a miss as "compute".
// The zero value is ready; it is not safe for concurrent use.
type SeriesMemo struct {
	gen uint32
	// filled counts the slots of the current generation, and maxTags is
	// the highest Tags address recalled in it: a point whose Tags lie
	// above it is new, and is remembered without comparing it with any
	// slot (a batch of new series, whose tags the parser appends one
	// series after the other, has nearly only such points).
	filled  int
	maxTags uintptr
	slots   [seriesMemoSlots]seriesMemoSlot
}

// seriesMemoSlot identifies a point's slices by address (a uintptr, so an
// idle memo keeps no batch alive; Reset makes stale addresses unmatchable).
type seriesMemoSlot struct {
	measurement, tags uintptr
	mLen, tLen        int
	gen               uint32
	value             int32
}

// Reset forgets every point remembered so far, in constant time.
func (m *SeriesMemo) Reset() {
	m.filled, m.maxTags = 0, 0
	m.gen++
	if m.gen == 0 { // wrapped: stale slots could look current
		m.slots = [seriesMemoSlots]seriesMemoSlot{}
		m.gen = 1
	}
}

// Recall returns the value remembered for a point with the very same
// Measurement and Tags slices as p, and true; otherwise it remembers value
// for p's slices and returns false.
func (m *SeriesMemo) Recall(p *Point, value int32) (int32, bool) {
	if m.gen == 0 {
		m.gen = 1
	}
	mp := uintptr(unsafe.Pointer(unsafe.SliceData(p.Measurement)))
	tp := uintptr(unsafe.Pointer(unsafe.SliceData(p.Tags)))
	ml, tl := len(p.Measurement), len(p.Tags)
	h := (uint64(tp) ^ uint64(mp)<<7 ^ uint64(tl)) * 0x9e3779b97f4a7c15
	home := int(h >> (64 - seriesMemoBits))
	// Linear probing over a few slots: series that hash alike would
	// otherwise evict each other on every round of a batch.
	if tp > m.maxTags {
		// Not seen: the slot the probe would take.
		m.maxTags = tp
		if m.filled < seriesMemoSlots {
			for k := range seriesMemoProbes {
				if s := &m.slots[(home+k)&(seriesMemoSlots-1)]; s.gen != m.gen {
					m.fill(s, mp, tp, ml, tl, value)
					m.filled++
					return 0, false
				}
			}
		}
	} else {
		for k := range seriesMemoProbes {
			s := &m.slots[(home+k)&(seriesMemoSlots-1)]
			if s.gen != m.gen {
				m.fill(s, mp, tp, ml, tl, value)
				m.filled++
				return 0, false
			}
			if s.measurement == mp && s.tags == tp && s.mLen == ml && s.tLen == tl {
				return s.value, true
			}
		}
	}
	// The neighbourhood is full: forget its first series for this one.
	m.fill(&m.slots[home], mp, tp, ml, tl, value)
	return 0, false
}

// fill remembers value for a point's slices in slot s, member by member
// (a composite literal is built on the stack and copied with loads that
// wait for those stores).
func (m *SeriesMemo) fill(s *seriesMemoSlot, mp, tp uintptr, ml, tl int, value int32) {
	s.measurement, s.tags, s.mLen, s.tLen, s.gen, s.value = mp, tp, ml, tl, m.gen, value
}
