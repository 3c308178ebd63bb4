package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-db/strata/loadgen"
)

// errQueriesFailed is returned when a query of `strata bench --queries`
// failed on some server.
var errQueriesFailed = errors.New("bench: some queries failed")

// runQueryBench is `strata bench --queries`: it times TSBS's cpu-only
// queries against --url (and --compare-url) and prints the report.
func runQueryBench(cmd *cobra.Command, cfg loadgen.Config, gen loadgen.CPUConfig, opts benchOptions) error {
	for _, name := range []string{"file", "batch-size", "gzip", "interval", "consistency", "precision", "retries"} {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("bench: --%s is for writes and cannot be combined with --queries", name)
		}
	}
	shapes, err := loadgen.SelectQueryShapes(opts.queries)
	if err != nil {
		return fmt.Errorf("bench: --queries: %w", err)
	}
	duration, err := parseRetention(opts.duration)
	if err != nil {
		return fmt.Errorf("bench: --duration: %w", err)
	}
	start, err := time.Parse(time.RFC3339Nano, opts.start)
	if err != nil {
		return fmt.Errorf("bench: --start: %w", err)
	}
	labels := strings.Split(opts.labels, ",")
	urls := []string{cfg.URL}
	if opts.compareURL != "" {
		urls = append(urls, opts.compareURL)
	}
	if len(labels) < len(urls) {
		return fmt.Errorf("bench: --labels needs a name for each of the %d URLs", len(urls))
	}
	qc := loadgen.QueryConfig{
		Database: cfg.Database,
		Username: cfg.Username,
		Password: cfg.Password,
		TLS:      cfg.TLS,
		Workers:  cfg.Workers,
		Queries:  opts.queryCount,
		Timeout:  cfg.Timeout,
		Seed:     gen.Seed,
		Space:    loadgen.QuerySpace{Hosts: gen.Hosts, Start: start, End: start.Add(duration)},
	}
	for i, u := range urls {
		qc.Targets = append(qc.Targets, loadgen.QueryTarget{Name: strings.TrimSpace(labels[i]), URL: u})
	}
	b, err := loadgen.NewQueryBench(qc)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer b.Close()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if opts.mixed {
		res, runErr := b.RunMix(ctx, shapes)
		if err := writeMixReport(stdout, res, len(shapes), opts.json); err != nil {
			return err
		}
		if runErr != nil {
			return fmt.Errorf("bench: %w", runErr)
		}
		for _, r := range res {
			if r.Single.Errors+r.Concurrent.Errors > 0 {
				return errQueriesFailed
			}
		}
		return nil
	}
	var progress io.Writer
	if opts.progress != "off" {
		progress = stderr
	}
	res, runErr := b.RunShapes(ctx, shapes, progress)
	if err := writeShapeReport(stdout, res, opts.json); err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("bench: %w", runErr)
	}
	for _, r := range res {
		for _, st := range r.Stats {
			if st.Errors > 0 {
				return errQueriesFailed
			}
		}
	}
	return nil
}

// ms renders d in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// writeShapeReport prints one line per query type: each target's mean,
// p50 and p99 in ms, and with two targets the ratio of their means.
func writeShapeReport(w io.Writer, res []loadgen.ShapeResult, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	if len(res) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "query type\t")
	for _, st := range res[0].Stats {
		fmt.Fprintf(tw, "%[1]s mean ms\t%[1]s p50\t%[1]s p99\t", st.Target)
	}
	if len(res[0].Stats) == 2 {
		fmt.Fprintf(tw, "mean %s/%s\t", res[0].Stats[0].Target, res[0].Stats[1].Target)
	}
	fmt.Fprintln(tw, "errors\t")
	var notes []string
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t", r.Shape)
		errs := 0
		for _, st := range r.Stats {
			fmt.Fprintf(tw, "%s\t%s\t%s\t", ms(st.Mean), ms(st.P50), ms(st.P99))
			errs += st.Errors
			if st.FirstError != "" {
				notes = append(notes, fmt.Sprintf("%s on %s: %d failed, first: %.300s", r.Shape, st.Target, st.Errors, st.FirstError))
			}
		}
		if len(r.Stats) == 2 {
			fmt.Fprintf(tw, "%.2f\t", float64(r.Stats[0].Mean)/float64(max(r.Stats[1].Mean, 1)))
		}
		fmt.Fprintf(tw, "%d\t\n", errs)
		if r.Mismatch != "" {
			notes = append(notes, fmt.Sprintf("%s: %s to %s", r.Shape, r.Mismatch, r.Example))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		if _, err := fmt.Fprintln(w, "note:", n); err != nil {
			return err
		}
	}
	return nil
}

// writeMixReport prints, per target, the mix from one client and from
// many, and the concurrent p99 over the one-client mean.
func writeMixReport(w io.Writer, res []loadgen.MixResult, types int, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "mix of %d query types\tclients\tqueries\tqueries/s\tmean ms\tp50\tp90\tp99\tmax\terrors\t\n", types)
	for _, r := range res {
		for _, st := range []loadgen.QueryStats{r.Single, r.Concurrent} {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t%d\t\n",
				r.Target, st.Workers, st.Queries, st.Rate, ms(st.Mean), ms(st.P50), ms(st.P90), ms(st.P99), ms(st.Max), st.Errors)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range res {
		if _, err := fmt.Fprintf(w, "%s: p99 with %d clients / mean with 1 client = %.2f\n", r.Target, r.Concurrent.Workers, r.P99Ratio()); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s by query type\t1-client mean ms\t%d-client mean\t%[2]d-client p99\tp99/1-client mean\t\n", r.Target, r.Concurrent.Workers)
		for _, s := range r.Shapes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t\n", s.Shape, ms(s.Single.Mean), ms(s.Concurrent.Mean), ms(s.Concurrent.P99), s.P99Ratio())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, st := range []loadgen.QueryStats{r.Single, r.Concurrent} {
			if st.FirstError != "" {
				fmt.Fprintf(w, "note: %s, %d clients: %d failed, first: %.300s\n", r.Target, st.Workers, st.Errors, st.FirstError)
			}
		}
	}
	return nil
}
