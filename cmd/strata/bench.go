package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/loadgen"
)

// benchOptions are the flags of `strata bench` that are not loadgen.Config
// or loadgen.CPUConfig fields as such.
type benchOptions struct {
	file     string
	interval string
	duration string
	start    string
	ceiling  bool
	json     bool
	progress string
	tls      tlsFlags
	// Query mode (--queries).
	queries    string
	compareURL string
	labels     string
	queryCount int
	mixed      bool
}

// newBenchCommand is `strata bench`, the load generator (issue 4).
func newBenchCommand() *cobra.Command {
	cfg := loadgen.NewConfig()
	gen := loadgen.NewCPUConfig()
	opts := benchOptions{
		interval: loadgen.DefaultInterval.String(),
		duration: "1h",
		start:    loadgen.DefaultStart.Format(time.RFC3339),
		ceiling:  true,
		progress: "auto",
	}
	cmd := &cobra.Command{
		Use:   "bench --url URL --db NAME [--file F | --hosts N --interval D --duration D | --queries TYPES]",
		Short: "Load generator: write TSBS-style cpu data or a line-protocol file and report the rate, or time TSBS queries",
		Example: `  strata bench --url http://127.0.0.1:8086 --db benchmark --hosts 100 --duration 1h
  strata bench --url http://127.0.0.1:8086 --db tsbs --file tsbs-cpu-only-s100-1d.lp.gz --batch-size 5000
  strata bench --queries all --url http://127.0.0.1:8086 --compare-url http://127.0.0.1:9086 \
      --labels strata,influxd --db tsbs --hosts 100 --duration 24h --workers 2`,
		Long: `bench writes line protocol to /write as fast as the server takes it and reports
values/s, lines/s, errors and batch latency percentiles, live and at the end.

The data is either TSBS "cpu-only" data generated from --seed (--hosts hosts,
one line every --interval for --duration from --start) or a line-protocol
file (--file, gzip detected). All of it is read, batched (and gzipped with
--gzip) in memory before the clock starts. With --ceiling (the default) the
same data is first decoded by github.com/influxdata/line-protocol/v2 alone on
one core, and the result is shown next to that ceiling: the machine may be
shared and noisy, and the ratio is the comparable figure.

Exits non-zero when any batch failed after --retries, or on Ctrl-C (the
summary is printed either way; a second Ctrl-C exits at once).

With --queries, bench writes nothing: it sends TSBS's cpu-only queries of
the listed types ("all", or names such as high-cpu-1,lastpoint) to /query
over HTTP GET with --workers clients, as TSBS's query runner does, and
reports each type's mean and percentiles. The data is described by --hosts,
--start and --duration (the TSBS file tsbs-cpu-only-s100-1d is --hosts 100
--duration 24h); each query's hosts and time range are drawn from --seed.
--compare-url sends the very same queries to a second server holding the
same data (any InfluxDB 1.x) in the same run and reports the ratio; the
first answer of each type from both is compared. --mixed sends all the
types interleaved, from one client and then from --workers clients, and
reports the concurrent p99 over the one-client mean. Exits non-zero when a
query failed.

Every flag can also be set as STRATA_BENCH_<FLAG> (--batch-size is
STRATA_BENCH_BATCH_SIZE).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags(), "STRATA_BENCH_"); err != nil {
				return err
			}
			if opts.queries != "" {
				return runQueryBench(cmd, cfg, gen, opts)
			}
			if opts.file != "" {
				for _, name := range []string{"hosts", "interval", "duration", "start", "seed"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("bench: --%s generates data and cannot be combined with --file", name)
					}
				}
			}
			tc, err := opts.tls.config()
			if err != nil {
				return err
			}
			cfg.TLS = tc
			return runBench(cmd, cfg, gen, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.URL, "url", cfg.URL, "data node client API URL")
	opts.tls.register(fs, "the data node")
	fs.StringVar(&cfg.Database, "db", cfg.Database, "database to write to")
	fs.StringVar(&cfg.RetentionPolicy, "rp", "", "retention policy (empty: the database's default)")
	fs.StringVar(&cfg.Precision, "precision", "", "timestamp precision of the data and the write: n, u, ms, s, m, h (empty: ns)")
	fs.StringVar(&cfg.Consistency, "consistency", "", "write consistency: any, one, quorum, all (empty: the server's default)")
	fs.StringVar(&cfg.Username, "username", "", "user for HTTP basic auth")
	fs.StringVar(&cfg.Password, "password", "", "password for HTTP basic auth")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent writers, one keep-alive connection each")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "lines per write request")
	fs.BoolVar(&cfg.Gzip, "gzip", false, "gzip the bodies (compressed before the clock starts)")
	fs.BoolVar(&cfg.CreateDatabase, "create-db", cfg.CreateDatabase, "send CREATE DATABASE to /query before the load")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "timeout of each HTTP request")
	fs.IntVar(&cfg.Retries, "retries", 0, "resend a batch that failed with no answer, 429 or 5xx up to this many times")
	fs.DurationVar(&cfg.RetryBackoff, "retry-backoff", cfg.RetryBackoff, "first pause before a retry; doubles up to 5s")
	fs.StringVar(&opts.file, "file", "", "line-protocol file to send (gzip detected) instead of generated data")
	fs.IntVar(&gen.Hosts, "hosts", gen.Hosts, "generated data: number of hosts (series)")
	fs.StringVar(&opts.interval, "interval", opts.interval, "generated data: time between two lines of one host")
	fs.StringVar(&opts.duration, "duration", opts.duration, "generated data: time span (units ns..h, d, w)")
	fs.StringVar(&opts.start, "start", opts.start, "generated data: first timestamp (RFC 3339)")
	fs.Uint64Var(&gen.Seed, "seed", gen.Seed, "generated data: random seed (same seed, same data)")
	fs.BoolVar(&opts.ceiling, "ceiling", opts.ceiling, "first measure line-protocol/v2 decoding the same data on one core, and report the ratio")
	fs.BoolVar(&opts.json, "json", false, "print the final summary as JSON on stdout")
	fs.StringVar(&opts.queries, "queries", "", `query mode: TSBS cpu-only query types to time ("all" or a comma-separated list); nothing is written`)
	fs.StringVar(&opts.compareURL, "compare-url", "", "query mode: a second server with the same data, sent the same queries")
	fs.StringVar(&opts.labels, "labels", "url,compare", "query mode: names of --url and --compare-url in the report")
	fs.IntVar(&opts.queryCount, "query-count", 100, "query mode: queries of each type sent to each server")
	fs.BoolVar(&opts.mixed, "mixed", false, "query mode: send the types interleaved, from 1 client then from --workers clients")
	fs.StringVar(&opts.progress, "progress", opts.progress, "progress line: auto, tty (rewritten every 1s), plain (a line every 10s) or off")
	return cmd
}

// runBench loads the workload, measures the ceiling, runs the load and
// prints the summary.
func runBench(cmd *cobra.Command, cfg loadgen.Config, gen loadgen.CPUConfig, opts benchOptions) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	progressOpts, err := progressOptions(opts.progress, stderr)
	if err != nil {
		return err
	}
	w, err := loadWorkload(stderr, cfg, gen, opts)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var ceiling *loadgen.Ceiling
	if opts.ceiling {
		if ceiling, err = loadgen.MeasureCeiling(w); err != nil {
			return fmt.Errorf("bench: measure ceiling: %w", err)
		}
		fmt.Fprintf(stderr, "ceiling: line-protocol/v2 decodes this data at %s on one core\n", ceiling)
	}
	if cfg.Gzip {
		t0 := time.Now()
		if err := w.Compress(); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		fmt.Fprintf(stderr, "gzipped %.1f MB into %.1f MB in %s\n",
			float64(w.RawBytes)/1e6, float64(w.WireBytes)/1e6, time.Since(t0).Round(time.Millisecond))
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, restore the default handling: a second
	// Ctrl-C kills the process instead of waiting for batches in flight.
	context.AfterFunc(ctx, stop)

	r, err := loadgen.NewRunner(cfg, progressOpts)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer r.Close()
	if cfg.CreateDatabase {
		if err := r.CreateDatabase(ctx); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	sum, runErr := r.Run(ctx, w)
	sum.Ceiling = ceiling
	if opts.json {
		err = sum.WriteJSON(stdout)
	} else {
		err = sum.WriteText(stdout)
	}
	if runErr != nil {
		return fmt.Errorf("bench: %w", runErr)
	}
	return err
}

// loadWorkload reads --file or generates cpu data, and reports what it
// loaded on stderr.
func loadWorkload(stderr io.Writer, cfg loadgen.Config, gen loadgen.CPUConfig, opts benchOptions) (*loadgen.Workload, error) {
	t0 := time.Now()
	var (
		w    *loadgen.Workload
		err  error
		what string
	)
	if opts.file != "" {
		if w, err = loadgen.ReadFile(opts.file, cfg.BatchSize); err != nil {
			return nil, err
		}
		w.Precision = cfg.Precision
		what = opts.file
	} else {
		if gen.Interval, err = parseRetention(opts.interval); err != nil {
			return nil, fmt.Errorf("--interval: %w", err)
		}
		if gen.Duration, err = parseRetention(opts.duration); err != nil {
			return nil, fmt.Errorf("--duration: %w", err)
		}
		if gen.Start, err = time.Parse(time.RFC3339Nano, opts.start); err != nil {
			return nil, fmt.Errorf("--start: %w", err)
		}
		gen.Precision = cfg.Precision
		if w, err = loadgen.GenerateCPU(gen, cfg.BatchSize); err != nil {
			return nil, err
		}
		what = fmt.Sprintf("generated cpu data (%d hosts, every %s for %s, seed %d)", gen.Hosts, gen.Interval, gen.Duration, gen.Seed)
	}
	fmt.Fprintf(stderr, "loaded %s: %d lines, %d values, %.1f MB in %d batches in %s\n",
		what, w.Lines, w.Values, float64(w.RawBytes)/1e6, len(w.Batches), time.Since(t0).Round(time.Millisecond))
	return w, nil
}

// progressOptions maps --progress to the runner's progress output on
// stderr; auto means tty when stderr is a terminal, plain otherwise.
func progressOptions(mode string, stderr io.Writer) (loadgen.RunnerOptions, error) {
	switch mode {
	case "off":
		return loadgen.RunnerOptions{}, nil
	case "tty":
		return loadgen.RunnerOptions{Progress: stderr, ProgressTTY: true}, nil
	case "plain":
		return loadgen.RunnerOptions{Progress: stderr}, nil
	case "auto":
		return loadgen.RunnerOptions{Progress: stderr, ProgressTTY: isTerminal(stderr)}, nil
	}
	return loadgen.RunnerOptions{}, errors.New("bench: --progress must be auto, tty, plain or off")
}

// isTerminal reports whether stream (a reader or writer) is a character
// device (a terminal).
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
