package loadgen

import (
	"fmt"
	"runtime"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/strata-db/strata/internal/cputime"
)

// MinCeilingTime is the least time MeasureCeiling decodes for: a small
// workload is decoded again until this much time has passed, so the figure
// is not dominated by timer resolution and warm-up.
const MinCeilingTime = 300 * time.Millisecond

// Ceiling is how fast github.com/influxdata/line-protocol/v2 alone decoded
// the workload on one core: every measurement, tag, field value (parsed)
// and timestamp. ValuesPerSec is by wall time, so it shares the run's
// noise; ValuesPerCPUSec is by the thread's CPU time (Linux only, else 0)
// and shows what one uncontended core does.
type Ceiling struct {
	// Passes is how many times the whole workload was decoded.
	Passes int `json:"passes"`
	// Lines and Values decoded without error, over all passes.
	Lines  int64 `json:"lines"`
	Values int64 `json:"values"`
	// Elapsed is the wall time and CPUTime the thread's CPU time (0 when
	// unknown) of all passes.
	Elapsed time.Duration `json:"-"`
	CPUTime time.Duration `json:"-"`
	// ValuesPerSec and LinesPerSec are by wall time.
	ValuesPerSec float64 `json:"values_per_sec"`
	LinesPerSec  float64 `json:"lines_per_sec"`
	// ValuesPerCPUSec is by the thread's CPU time; 0 when unknown.
	ValuesPerCPUSec float64 `json:"values_per_cpu_sec,omitempty"`
}

// MeasureCeiling decodes w's bodies with line-protocol/v2 on the calling
// goroutine, locked to its OS thread, for at least MinCeilingTime and whole
// passes over the workload. It must run before Compress (ErrCompressed
// otherwise). A line the decoder rejects is skipped, as a server would;
// its values are not counted.
func MeasureCeiling(w *Workload) (*Ceiling, error) {
	if w.Gzipped {
		return nil, ErrCompressed
	}
	prec, err := lineprotocolPrecision(w.Precision)
	if err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c := &Ceiling{}
	cpu0 := cputime.Thread()
	start := time.Now()
	for c.Passes == 0 || time.Since(start) < MinCeilingTime {
		for i := range w.Batches {
			lines, values := decodeAll(w.Batches[i].Body, prec)
			c.Lines += lines
			c.Values += values
		}
		c.Passes++
	}
	c.Elapsed = time.Since(start)
	if cpu0 > 0 {
		c.CPUTime = cputime.Thread() - cpu0
	}
	if secs := c.CPUTime.Seconds(); secs > 0 {
		c.ValuesPerCPUSec = float64(c.Values) / secs
	}
	if secs := c.Elapsed.Seconds(); secs > 0 {
		c.ValuesPerSec = float64(c.Values) / secs
		c.LinesPerSec = float64(c.Lines) / secs
	}
	return c, nil
}

// decodeAll decodes every line of body and returns the lines and values
// decoded without error.
func decodeAll(body []byte, prec lineprotocol.Precision) (lines, values int64) {
	dec := lineprotocol.NewDecoderWithBytes(body)
	for dec.Next() {
		if _, err := dec.Measurement(); err != nil {
			continue
		}
		ok := true
		for {
			k, _, err := dec.NextTag()
			if err != nil {
				ok = false
				break
			}
			if k == nil {
				break
			}
		}
		var n int64
		for ok {
			k, _, err := dec.NextField()
			if err != nil {
				ok = false
				break
			}
			if k == nil {
				break
			}
			n++
		}
		if !ok {
			continue
		}
		if _, err := dec.Time(prec, time.Time{}); err != nil {
			continue
		}
		lines++
		values += n
	}
	return lines, values
}

func lineprotocolPrecision(s string) (lineprotocol.Precision, error) {
	unit, err := ParsePrecision(s)
	if err != nil {
		return 0, err
	}
	switch unit {
	case time.Nanosecond:
		return lineprotocol.Nanosecond, nil
	case time.Microsecond:
		return lineprotocol.Microsecond, nil
	case time.Millisecond:
		return lineprotocol.Millisecond, nil
	case time.Second:
		return lineprotocol.Second, nil
	}
	// line-protocol/v2 has no minute or hour precision: decode as seconds,
	// which costs the same.
	return lineprotocol.Second, nil
}

// String describes the ceiling in one line.
func (c *Ceiling) String() string {
	passes := "passes"
	if c.Passes == 1 {
		passes = "pass"
	}
	s := fmt.Sprintf("%s values/s (%d %s, %d values in %s", humanRate(c.ValuesPerSec), c.Passes, passes, c.Values, c.Elapsed.Round(time.Millisecond))
	if c.ValuesPerCPUSec > 0 {
		s += fmt.Sprintf("; %s values per CPU-second", humanRate(c.ValuesPerCPUSec))
	}
	return s + ")"
}
