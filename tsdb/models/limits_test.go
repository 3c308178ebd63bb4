package models_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// TestSeriesKeyAtTheLimitParses checks that the longest series key, with
// escapes, parses, and that SeriesKeyLen agrees with AppendSeriesKey.
func TestSeriesKeyAtTheLimitParses(t *testing.T) {
	// "m,t=" then escaped spaces ("\ ", two bytes each) and one "v".
	line := "m,t=" + strings.Repeat(`\ `, (models.MaxKeyLength-5)/2) + "v f=1i 1"
	var p models.Parser
	points, err := p.Parse([]byte(line), models.PrecisionNanosecond, 0)
	if err != nil || len(points) != 1 {
		t.Fatalf("Parse of a %d-byte key: %d points, %v; want 1, nil", models.MaxKeyLength, len(points), err)
	}
	pt := &points[0]
	key := pt.AppendSeriesKey(nil)
	if len(key) != models.MaxKeyLength || models.SeriesKeyLen(pt.Measurement, pt.Tags) != len(key) {
		t.Fatalf("key length %d, SeriesKeyLen %d; want both %d", len(key), models.SeriesKeyLen(pt.Measurement, pt.Tags), models.MaxKeyLength)
	}
	if err := pt.CheckLimits(); err != nil {
		t.Fatalf("CheckLimits of a parsed point: %v", err)
	}
}

// TestCheckLimits checks what CheckLimits refuses in points built by hand.
func TestCheckLimits(t *testing.T) {
	ok := func() models.Point {
		return models.Point{Measurement: []byte("m"), Fields: []models.Field{{Key: []byte("f"), Value: models.IntegerValue(1)}}, Time: 1}
	}
	long := []byte(strings.Repeat("x", models.MaxKeyLength))
	tests := []struct {
		name   string
		mutate func(*models.Point)
		want   error
	}{
		{"fine", func(*models.Point) {}, nil},
		{"min time", func(p *models.Point) { p.Time = models.MinNanoTime }, nil},
		{"max time", func(p *models.Point) { p.Time = models.MaxNanoTime }, nil},
		{"below min time", func(p *models.Point) { p.Time = models.MinNanoTime - 1 }, models.ErrTimestampOutOfRange},
		{"above max time", func(p *models.Point) { p.Time = models.MaxNanoTime + 1 }, models.ErrTimestampOutOfRange},
		{"long measurement", func(p *models.Point) { p.Measurement = long }, nil},
		{"measurement past limit", func(p *models.Point) { p.Measurement = append(long, 'x') }, models.ErrKeyTooLong},
		{"measurement past limit by escapes", func(p *models.Point) { p.Measurement = append([]byte{','}, long[1:]...) }, models.ErrKeyTooLong},
		{"tags past limit", func(p *models.Point) { p.Tags = models.Tags{{Key: []byte("t"), Value: long[3:]}} }, models.ErrKeyTooLong},
		{"field key at limit", func(p *models.Point) { p.Fields[0].Key = long }, nil},
		{"field key past limit", func(p *models.Point) { p.Fields[0].Key = append(long, 'x') }, models.ErrKeyTooLong},
		// With Key set (its measurement is short here), its length is
		// the series key's.
		{"key at limit", func(p *models.Point) { p.Key = long }, nil},
		{"key past limit", func(p *models.Point) { p.Key = append(long, 'x') }, models.ErrKeyTooLong},
	}
	for _, tc := range tests {
		p := ok()
		tc.mutate(&p)
		if err := p.CheckLimits(); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: CheckLimits = %v; want %v", tc.name, err, tc.want)
		}
	}
}
