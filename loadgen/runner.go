package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata/internal/cputime"
)

// Progress intervals: a TTY line is rewritten every second; a log file or
// pipe gets a plain line every ten seconds.
const (
	DefaultProgressIntervalTTY   = time.Second
	DefaultProgressIntervalPlain = 10 * time.Second
)

// RunnerOptions are the Runner's dependencies and output. The zero value
// logs nothing and prints no progress.
type RunnerOptions struct {
	// Logger gets state changes (start, end, first failure); nil discards.
	Logger *slog.Logger
	// Progress receives the live progress line; nil prints none.
	Progress io.Writer
	// ProgressTTY rewrites one line with \r instead of printing lines.
	ProgressTTY bool
	// ProgressInterval is the time between progress lines; 0 picks
	// DefaultProgressIntervalTTY or DefaultProgressIntervalPlain.
	ProgressInterval time.Duration
}

// Runner writes a Workload to one server. Its methods may be called from
// one goroutine at a time; Run itself fans out to Config.Workers goroutines
// and waits for all of them before it returns.
type Runner struct {
	cfg    Config
	opts   RunnerOptions
	logger *slog.Logger
	client *client
}

// NewRunner validates cfg and returns a Runner.
func NewRunner(cfg Config, opts RunnerOptions) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = DefaultProgressIntervalPlain
		if opts.ProgressTTY {
			opts.ProgressInterval = DefaultProgressIntervalTTY
		}
	}
	return &Runner{cfg: cfg, opts: opts, logger: logger, client: c}, nil
}

// Close drops the Runner's idle keep-alive connections. It is safe to call
// more than once.
func (r *Runner) Close() error {
	r.client.close()
	return nil
}

// CreateDatabase sends `CREATE DATABASE "<db>"` to /query, as TSBS's loader
// does before a load. InfluxDB answers success when it already exists.
func (r *Runner) CreateDatabase(ctx context.Context) error {
	if err := r.client.createDatabase(ctx); err != nil {
		return err
	}
	r.logger.Info("database created", "db", r.cfg.Database)
	return nil
}

// Run sends every batch of w, Config.Workers at a time, and returns the
// Summary. When ctx is cancelled no new batch is started; batches in flight
// finish (each within Config.Timeout) and Run returns the Summary with an
// error wrapping ErrInterrupted. When any batch failed after its retries the
// error wraps ErrWriteFailed. The Summary's Ceiling is left for the caller.
func (r *Runner) Run(ctx context.Context, w *Workload) (*Summary, error) {
	st := newStats()
	var (
		next    atomic.Int64
		workers sync.WaitGroup
		done    = make(chan struct{})
		printer sync.WaitGroup
	)
	// Requests in flight outlive a cancelled ctx: an interrupted run still
	// reports on every batch it started.
	sendCtx := context.WithoutCancel(ctx)
	r.logger.Info("load started", "batches", len(w.Batches), "lines", w.Lines, "values", w.Values, "workers", r.cfg.Workers)
	cpu0 := cputime.Process()
	start := time.Now()
	for range r.cfg.Workers {
		workers.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(w.Batches)) {
					return
				}
				r.send(ctx, sendCtx, &w.Batches[i], w.Gzipped, st)
			}
		})
	}
	if r.opts.Progress != nil {
		p := newProgress(r.opts.Progress, r.opts.ProgressTTY, w.Values, start)
		printer.Go(func() { p.loop(done, r.opts.ProgressInterval, st) })
	}
	workers.Wait()
	elapsed := time.Since(start)
	close(done)
	printer.Wait()

	s := st.summary(r.cfg, w, elapsed)
	if cpu0 > 0 {
		s.ClientCPU = cputime.Process() - cpu0
	}
	r.logger.Info("load finished", "lines", s.Lines, "values", s.Values, "failed_batches", s.BatchesFailed, "elapsed", elapsed)
	var errs []error
	if s.BatchesFailed > 0 {
		errs = append(errs, fmt.Errorf("%d of %d batches: %w", s.BatchesFailed, len(w.Batches), ErrWriteFailed))
	}
	if s.Interrupted {
		errs = append(errs, ErrInterrupted)
	}
	return s, errors.Join(errs...)
}

// send writes one batch, retrying what may succeed later, and records the
// outcome in st.
func (r *Runner) send(ctx, sendCtx context.Context, b *Batch, gzipped bool, st *stats) {
	backoff := r.cfg.RetryBackoff
	for attempt := 0; ; attempt++ {
		t0 := time.Now()
		err := r.client.write(sendCtx, b.Body, gzipped)
		if err == nil {
			st.ok(b, time.Since(t0))
			return
		}
		if attempt >= r.cfg.Retries || !retryable(err) || ctx.Err() != nil {
			if st.fail(err) {
				r.logger.Warn("first write failure", "err", err)
			}
			return
		}
		st.retries.Add(1)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			st.fail(err)
			return
		}
		backoff = min(2*backoff, MaxRetryBackoff)
	}
}

// retryable reports whether a write that failed with err may succeed when
// resent: transport errors, 429 and 5xx. Other statuses (400 partial
// write, 401, 404 database not found, 413) would fail again.
func retryable(err error) bool {
	var he *HTTPError
	if !errors.As(err, &he) {
		return true
	}
	return he.StatusCode == http.StatusTooManyRequests || he.StatusCode >= 500
}
