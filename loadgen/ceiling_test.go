package loadgen_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/strata-db/strata/loadgen"
)

func TestMeasureCeiling(t *testing.T) {
	w := loadgen.SplitLines([]byte("m a=1,b=2 1\nm a=1 2\nbad line here\nm c=\"x\" 3\n"), 2)
	c, err := loadgen.MeasureCeiling(w)
	if err != nil {
		t.Fatalf("MeasureCeiling: %v", err)
	}
	if c.Passes < 1 || c.Lines != 3*int64(c.Passes) || c.Values != 4*int64(c.Passes) {
		t.Errorf("%d passes decoded %d lines %d values, want 3 and 4 per pass (the bad line skipped)", c.Passes, c.Lines, c.Values)
	}
	if c.Elapsed < loadgen.MinCeilingTime || c.ValuesPerSec <= 0 {
		t.Errorf("elapsed %s rate %.0f, want >= %s and > 0", c.Elapsed, c.ValuesPerSec, loadgen.MinCeilingTime)
	}
	if runtime.GOOS == "linux" && (c.CPUTime <= 0 || c.ValuesPerCPUSec < c.ValuesPerSec) {
		t.Errorf("cpu time %s, %.0f values per CPU-second; want > 0 and >= the wall rate %.0f", c.CPUTime, c.ValuesPerCPUSec, c.ValuesPerSec)
	}
	if err := w.Compress(); err != nil {
		t.Fatal(err)
	}
	if _, err := loadgen.MeasureCeiling(w); !errors.Is(err, loadgen.ErrCompressed) {
		t.Errorf("MeasureCeiling on a compressed workload = %v, want ErrCompressed", err)
	}
}
