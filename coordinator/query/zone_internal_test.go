package query

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestZoneWindowPartition checks that zoneWindow cuts time into windows
// that tile it: t lies in its window, the window of its start is itself
// and the next one starts at its end, so the executor's window list
// (start to end) and per-point lookups agree; and that every edge lies
// on the pushdown grid newWindowing picks.
func TestZoneWindowPartition(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	zones := []string{"America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham"}
	intervals := []time.Duration{time.Minute, 45 * time.Minute, time.Hour, 2 * time.Hour, 90 * time.Minute, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}
	lo := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	span := int64(2 * 365 * 24 * time.Hour)
	for _, z := range zones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			t.Fatalf("LoadLocation(%q): got %v, want nil", z, err)
		}
		for _, iv := range intervals {
			every := int64(iv)
			offset := r.Int64N(every)
			if r.IntN(2) == 0 {
				offset = 0
			}
			min := lo + r.Int64N(span)
			max := min + r.Int64N(int64(60*24*time.Hour))
			w := newWindowing(loc, every, offset, min, max)
			p := &plan{windowing: w}
			for range 200 {
				ts := min + r.Int64N(max-min+1)
				start := p.windowStart(ts)
				end := p.windowEnd(start)
				if start > ts || end <= ts {
					t.Fatalf("%s every %v offset %v: t %v in [%v, %v)", z, iv, time.Duration(offset), time.Unix(0, ts).UTC(), time.Unix(0, start).UTC(), time.Unix(0, end).UTC())
				}
				if p.windowStart(start) != start || p.windowStart(end) != end {
					t.Fatalf("%s every %v offset %v: window [%v, %v) of %v does not tile", z, iv, time.Duration(offset), time.Unix(0, start).UTC(), time.Unix(0, end).UTC(), time.Unix(0, ts).UTC())
				}
				if w.loc == nil && end-start != every {
					t.Fatalf("%s every %v: one-width window [%v, %v)", z, iv, time.Unix(0, start).UTC(), time.Unix(0, end).UTC())
				}
				if w.gridEvery > 0 {
					for _, edge := range []int64{start, end} {
						if floorMod(edge-w.gridOffset, w.gridEvery) != 0 {
							t.Fatalf("%s every %v: edge %v off the grid every %v offset %v", z, iv, time.Unix(0, edge).UTC(), time.Duration(w.gridEvery), time.Duration(w.gridOffset))
						}
					}
				}
			}
		}
	}
}

// TestZoneWindowDSTDays pins InfluxDB's day lengths across New York's
// 2026 changes and the fixed width without one.
func TestZoneWindowDSTDays(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatalf("LoadLocation: got %v, want nil", err)
	}
	day := int64(24 * time.Hour)
	for _, tc := range []struct {
		at   string
		want time.Duration
	}{
		{"2026-03-08T12:00:00-04:00", 23 * time.Hour},
		{"2026-11-01T12:00:00-05:00", 25 * time.Hour},
		{"2026-07-01T12:00:00-04:00", 24 * time.Hour},
	} {
		at, err := time.Parse(time.RFC3339, tc.at)
		if err != nil {
			t.Fatalf("Parse: got %v, want nil", err)
		}
		start, end := zoneWindow(at.UnixNano(), day, 0, ny)
		if got := time.Duration(end - start); got != tc.want {
			t.Errorf("day of %s: got %v, want %v", tc.at, got, tc.want)
		}
		if h, m, _ := time.Unix(0, start).In(ny).Clock(); h != 0 || m != 0 {
			t.Errorf("day of %s starts at %v, want local midnight", tc.at, time.Unix(0, start).In(ny))
		}
	}
}
