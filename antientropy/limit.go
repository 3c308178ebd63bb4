package antientropy

import (
	"context"
	"io"
	"sync"
	"time"
)

// rateLimiter paces repair bytes to a rate: each call reserves the time its
// bytes take at the rate and sleeps until the reservation starts. Safe for
// concurrent use; a zero rate never waits.
type rateLimiter struct {
	rate int64 // bytes per second

	mu   sync.Mutex // protects next
	next time.Time
}

// wait blocks until n more bytes may move, or ctx ends.
func (l *rateLimiter) wait(ctx context.Context, n int) error {
	if l.rate <= 0 || n <= 0 {
		return ctx.Err()
	}
	cost := time.Duration(float64(n) / float64(l.rate) * float64(time.Second))
	now := time.Now()
	l.mu.Lock()
	start := l.next
	if start.Before(now) {
		start = now
	}
	l.next = start.Add(cost)
	l.mu.Unlock()
	return sleep(ctx, start.Sub(now))
}

// pacedReader reads r at the limiter's rate: each read's bytes are paid
// for before the next read. Not safe for concurrent use.
type pacedReader struct {
	ctx     context.Context
	r       io.Reader
	limiter *rateLimiter
}

func (p *pacedReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		if werr := p.limiter.wait(p.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// cpuBudget keeps one exchange's duty cycle at or below a fraction: after a
// stretch of work lasting d, pause sleeps d·(1−f)/f.
type cpuBudget struct {
	fraction float64
}

// pause returns how long to sleep off the work done since start.
func (b cpuBudget) pause(start time.Time) time.Duration {
	if b.fraction >= 1 {
		return 0
	}
	return time.Duration(float64(time.Since(start)) * (1 - b.fraction) / b.fraction)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// PaceCopy returns r read at copy-rate-limit, the pace of a shard copy's
// traffic on its destination (a file-level copy's transfer uses it, as
// the copy's exchanges do). Reads are cut to pacedChunk bytes, so a
// large read from a fast connection does not outrun the limit.
func (s *Service) PaceCopy(ctx context.Context, r io.Reader) io.Reader {
	if s.copyLimiter.rate <= 0 {
		return r
	}
	return &pacedReader{ctx: ctx, r: chunkedReader{r}, limiter: s.copyLimiter}
}

// pacedChunk bounds one read of a paced copy.
const pacedChunk = 16 << 10

// chunkedReader reads at most pacedChunk bytes a call.
type chunkedReader struct{ r io.Reader }

func (c chunkedReader) Read(b []byte) (int, error) {
	if len(b) > pacedChunk {
		b = b[:pacedChunk]
	}
	return c.r.Read(b)
}
