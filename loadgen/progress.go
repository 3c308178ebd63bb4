package loadgen

import (
	"fmt"
	"io"
	"time"
)

// progress prints the live line. It is used by one goroutine only.
type progress struct {
	out         io.Writer
	tty         bool
	totalValues int64
	start       time.Time

	// previous sample, for per-interval rates and latencies
	lastAt     time.Time
	lastValues int64
	lastLines  int64
	lastLat    histCounts
	cur        histCounts
}

func newProgress(out io.Writer, tty bool, totalValues int64, start time.Time) *progress {
	return &progress{out: out, tty: tty, totalValues: totalValues, start: start, lastAt: start}
}

// loop prints a line every interval until done is closed, then ends the
// TTY line so the summary starts on a fresh one.
func (p *progress) loop(done <-chan struct{}, interval time.Duration, st *stats) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			p.print(now, st)
		case <-done:
			if p.tty {
				p.print(time.Now(), st)
				fmt.Fprintln(p.out)
			}
			return
		}
	}
}

// print writes one progress line: rates and latency percentiles over the
// interval since the previous line, totals since the start.
func (p *progress) print(now time.Time, st *stats) {
	values, lines := st.values.Load(), st.lines.Load()
	failed := st.batchesFailed.Load()
	st.latency.Snapshot(&p.cur)
	secs := now.Sub(p.lastAt).Seconds()
	var vps, lps float64
	if secs > 0 {
		vps = float64(values-p.lastValues) / secs
		lps = float64(lines-p.lastLines) / secs
	}
	pct := 100.0
	if p.totalValues > 0 {
		pct = 100 * float64(values) / float64(p.totalValues)
	}
	line := fmt.Sprintf("[%5.1f%%] %s values/s  %s lines/s  errors %d  p50 %s  p99 %s  elapsed %s",
		pct, humanRate(vps), humanRate(lps), failed,
		formatLatency(p.cur.quantile(&p.lastLat, 0.50)), formatLatency(p.cur.quantile(&p.lastLat, 0.99)),
		now.Sub(p.start).Round(time.Second))
	if p.tty {
		// \r returns to the start of the line, ESC[K clears its rest.
		fmt.Fprintf(p.out, "\r%s\x1b[K", line)
	} else {
		fmt.Fprintln(p.out, line)
	}
	p.lastAt, p.lastValues, p.lastLines, p.lastLat = now, values, lines, p.cur
}

// humanRate prints a rate with a k or M suffix and three significant digits.
func humanRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk", r/1e3)
	default:
		return fmt.Sprintf("%.0f", r)
	}
}

// formatLatency prints a latency in milliseconds, or "-" when none was
// recorded.
func formatLatency(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
