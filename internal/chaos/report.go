package chaos

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Report is what a campaign did and what its checkers found.
type Report struct {
	Seed      int64
	Duration  time.Duration // the configured bound
	Elapsed   time.Duration
	Race      bool
	DataNodes int
	// Rounds is the number of fault rounds run.
	Rounds int
	// Faults counts the faults injected by kind; FaultLog lists them.
	Faults   map[Kind]int
	FaultLog []string
	// Writes counts points by consistency level and outcome.
	Writes map[string]map[Outcome]int
	// Final is the data checkers' verdict over every point of the run.
	Final dataVerdict
	// Convergence is, per round, the time from the last fault healing
	// (writers stopped) to every queue drained, equal roots and every
	// acknowledged point on every owner.
	Convergence []time.Duration
	RootsEqual  bool
	// MetaOps is the length of the meta history; MetaResult porcupine's
	// verdict on it.
	MetaOps     int
	MetaResult  porcupine.CheckResult
	Resources   []string
	ReadsOK     int
	ReadsFailed int
	LogFindings []string
	Notes       []string
	// Failures lists every checker that failed; empty means the campaign
	// passed.
	Failures []string
}

func (r *Report) fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// verdict is "PASS" or "FAIL".
func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// percentile returns the p-th percentile (0..100) of sorted ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[(len(ds)-1)*p/100]
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Seed %d\n\n", r.Seed)
	fmt.Fprintf(&b, "- bound %v, ran %v, %d fault rounds, 3 meta + %d data processes, race detector: %v\n",
		r.Duration, r.Elapsed.Round(time.Second), r.Rounds, r.DataNodes, r.Race)
	fmt.Fprintf(&b, "- verdict: **%s**\n\n", verdict(len(r.Failures) == 0))

	b.WriteString("Faults injected by kind:\n\n| kind | count |\n|---|---|\n")
	total := 0
	for _, k := range Kinds {
		fmt.Fprintf(&b, "| %s | %d |\n", k, r.Faults[k])
		total += r.Faults[k]
	}
	fmt.Fprintf(&b, "| total | %d |\n\n", total)

	b.WriteString("Points written, by consistency level and outcome:\n\n| level | acked | refused | unknown |\n|---|---|---|---|\n")
	for _, l := range Levels {
		m := r.Writes[l]
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", l, m[Acked], m[Refused], m[Unknown])
	}
	b.WriteString("\n")

	conv := slices.Clone(r.Convergence)
	slices.Sort(conv)
	fmt.Fprintf(&b, "Convergence after the last fault of a round healed (%d rounds): min %v, median %v, p90 %v, max %v (bound %v).\n\n",
		len(conv), percentile(conv, 0).Round(time.Millisecond), percentile(conv, 50).Round(time.Millisecond),
		percentile(conv, 90).Round(time.Millisecond), percentile(conv, 100).Round(time.Millisecond), ConvergenceBound)

	b.WriteString("Checkers:\n\n| checker | verdict | detail |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| acknowledged (≥ one) on every owner, exact value | %s | %d acknowledged points, %d (point, owner) pairs lost |\n",
		verdict(r.Final.Lost == 0 && r.Final.Acked > 0), r.Final.Acked, r.Final.Lost)
	fmt.Fprintf(&b, "| acknowledged at any on every owner (informational) | %s | %d points, %d (point, owner) pairs missing |\n",
		verdict(r.Final.LostAny == 0), r.Final.AckedAny, r.Final.LostAny)
	fmt.Fprintf(&b, "| nothing no writer sent | %s | %d foreign points |\n", verdict(r.Final.Unsent == 0), r.Final.Unsent)
	fmt.Fprintf(&b, "| Merkle roots equal on all owners at the end | %s | |\n", verdict(r.RootsEqual))
	fmt.Fprintf(&b, "| every round converged within the bound | %s | %d of %d |\n", verdict(len(r.Convergence) == r.Rounds), len(r.Convergence), r.Rounds)
	fmt.Fprintf(&b, "| meta DDL linearizable (porcupine) | %s | %d operations: %s |\n", verdict(r.MetaResult != porcupine.Illegal), r.MetaOps, r.MetaResult)
	growth := true
	for _, f := range r.Failures {
		if strings.HasPrefix(f, "resource growth") {
			growth = false
		}
	}
	fmt.Fprintf(&b, "| no goroutine / fd growth | %s | %s |\n", verdict(growth), strings.Join(r.Resources, "; "))
	fmt.Fprintf(&b, "| no panic / fatal error / race report in logs | %s | %d findings |\n", verdict(len(r.LogFindings) == 0), len(r.LogFindings))
	fmt.Fprintf(&b, "| queries (load, not a checker) | | %d answered, %d failed |\n\n", r.ReadsOK, r.ReadsFailed)

	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if len(r.Failures) > 0 {
		b.WriteString("\nFailures:\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	if len(r.Final.Examples) > 0 {
		b.WriteString("\nExamples:\n\n")
		for _, e := range r.Final.Examples {
			fmt.Fprintf(&b, "- %s\n", e)
		}
	}
	b.WriteString("\n<details><summary>Fault log</summary>\n\n```\n")
	for _, l := range r.FaultLog {
		b.WriteString(l + "\n")
	}
	b.WriteString("```\n</details>\n")
	return b.String()
}
