package loadgen

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// QuerySpace is the extent of the cpu data the queries are drawn over: the
// hosts host_0 … host_<Hosts-1> reporting from Start until End, as
// GenerateCPU and TSBS's generator write them.
type QuerySpace struct {
	// Hosts is the number of hosts in the data.
	Hosts int
	// Start and End bound the data's timestamps ([Start, End)).
	Start, End time.Time
}

// QueryShape is one of TSBS's cpu-only ("devops" use case, cpu
// measurement) query types, as TSBS's generator writes it for InfluxDB.
type QueryShape struct {
	// Name is TSBS's name for the query type (--query-type).
	Name string
	// hosts is how many random hosts one query names (0: none).
	hosts int
	// window is the random time range one query covers (0: none).
	window time.Duration
	// build writes one query's InfluxQL from its hosts and range.
	build func(hosts []string, start, end time.Time) string
}

// cpuMetrics returns the first n of TSBS's cpu fields.
func cpuMetrics(n int) []string { return cpuFields[:n] }

// aggregates is "fn(m1), fn(m2), …" joined by sep.
func aggregates(fn string, metrics []string, sep string) string {
	parts := make([]string, len(metrics))
	for i, m := range metrics {
		parts[i] = fn + "(" + m + ")"
	}
	return strings.Join(parts, sep)
}

// hostClause is "(hostname = 'a' or hostname = 'b' …)".
func hostClause(hosts []string) string {
	parts := make([]string, len(hosts))
	for i, h := range hosts {
		parts[i] = "hostname = '" + h + "'"
	}
	return "(" + strings.Join(parts, " or ") + ")"
}

// rfc3339 is how TSBS writes a time bound.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// groupByTime is TSBS's single-groupby-M-H-T: max of m metrics of h hosts
// over a random window by 1 minute.
func groupByTime(m, h int, window time.Duration) QueryShape {
	return QueryShape{
		Name:   fmt.Sprintf("single-groupby-%d-%d-%d", m, h, window/time.Hour),
		hosts:  h,
		window: window,
		build: func(hosts []string, start, end time.Time) string {
			return fmt.Sprintf("SELECT %s from cpu where %s and time >= '%s' and time < '%s' group by time(1m)",
				aggregates("max", cpuMetrics(m), ", "), hostClause(hosts), rfc3339(start), rfc3339(end))
		},
	}
}

// maxAllCPU is TSBS's cpu-max-all-H: max of every metric of h hosts over
// a random 8 hours by 1 hour.
func maxAllCPU(h int) QueryShape {
	return QueryShape{
		Name:   fmt.Sprintf("cpu-max-all-%d", h),
		hosts:  h,
		window: 8 * time.Hour,
		build: func(hosts []string, start, end time.Time) string {
			return fmt.Sprintf("SELECT %s from cpu where %s and time >= '%s' and time < '%s' group by time(1h)",
				aggregates("max", cpuFields[:], ","), hostClause(hosts), rfc3339(start), rfc3339(end))
		},
	}
}

// doubleGroupBy is TSBS's double-groupby-M: mean of m metrics over a
// random 12 hours by 1 hour and host.
func doubleGroupBy(name string, m int) QueryShape {
	return QueryShape{
		Name:   "double-groupby-" + name,
		window: 12 * time.Hour,
		build: func(_ []string, start, end time.Time) string {
			return fmt.Sprintf("SELECT %s from cpu where time >= '%s' and time < '%s' group by time(1h),hostname",
				aggregates("mean", cpuMetrics(m), ", "), rfc3339(start), rfc3339(end))
		},
	}
}

// highCPU is TSBS's high-cpu-H: every field of the rows of h hosts (all
// when h is 0) whose usage_user is over 90 in a random 12 hours.
func highCPU(name string, h int) QueryShape {
	return QueryShape{
		Name:   "high-cpu-" + name,
		hosts:  h,
		window: 12 * time.Hour,
		build: func(hosts []string, start, end time.Time) string {
			where := ""
			if len(hosts) > 0 {
				where = "and " + hostClause(hosts) + " "
			}
			return fmt.Sprintf("SELECT * from cpu where usage_user > 90.0 %sand time >= '%s' and time < '%s'",
				where, rfc3339(start), rfc3339(end))
		},
	}
}

// QueryShapes returns TSBS's cpu-only query types in the order of its
// documentation, each building the InfluxQL TSBS's generator writes for
// InfluxDB.
func QueryShapes() []QueryShape {
	return []QueryShape{
		groupByTime(1, 1, time.Hour),
		groupByTime(1, 1, 12*time.Hour),
		groupByTime(1, 8, time.Hour),
		groupByTime(5, 1, time.Hour),
		groupByTime(5, 1, 12*time.Hour),
		groupByTime(5, 8, time.Hour),
		maxAllCPU(1),
		maxAllCPU(8),
		doubleGroupBy("1", 1),
		doubleGroupBy("5", 5),
		doubleGroupBy("all", len(cpuFields)),
		highCPU("1", 1),
		highCPU("all", 0),
		{
			Name: "lastpoint",
			build: func([]string, time.Time, time.Time) string {
				return `SELECT * from cpu group by "hostname" order by time desc limit 1`
			},
		},
		{
			// The last 5 minutes' max before a random end; TSBS draws
			// the end as that of a random hour.
			Name:   "groupby-orderby-limit",
			window: time.Hour,
			build: func(_ []string, _, end time.Time) string {
				return fmt.Sprintf("SELECT max(usage_user) from cpu WHERE time < '%s' group by time(1m) limit 5", rfc3339(end))
			},
		},
	}
}

// SelectQueryShapes returns the shapes a comma-separated list names, in
// the list's order; "all" is every shape.
func SelectQueryShapes(list string) ([]QueryShape, error) {
	all := QueryShapes()
	if strings.TrimSpace(list) == "all" {
		return all, nil
	}
	var out []QueryShape
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(all, func(s QueryShape) bool { return s.Name == name })
		if i < 0 {
			names := make([]string, len(all))
			for j, s := range all {
				names[j] = s.Name
			}
			return nil, fmt.Errorf("%w: unknown query type %q (known: all, %s)", ErrInvalidConfig, name, strings.Join(names, ", "))
		}
		out = append(out, all[i])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no query type given", ErrInvalidConfig)
	}
	return out, nil
}

// Generate returns n queries of the shape over space, each with its own
// random hosts and time range, drawn from seed: the same arguments give
// the same queries, so two servers can be sent the very same ones.
func (s QueryShape) Generate(space QuerySpace, n int, seed uint64) ([]string, error) {
	if s.hosts > space.Hosts {
		return nil, fmt.Errorf("%w: %s needs %d hosts, the data has %d", ErrInvalidConfig, s.Name, s.hosts, space.Hosts)
	}
	span := space.End.Sub(space.Start)
	if s.window > span {
		return nil, fmt.Errorf("%w: %s covers %s, the data spans %s", ErrInvalidConfig, s.Name, s.window, span)
	}
	name := fnv.New64a()
	name.Write([]byte(s.Name))
	rng := rand.New(rand.NewPCG(seed, name.Sum64()))
	out := make([]string, n)
	for i := range out {
		var hosts []string
		for len(hosts) < s.hosts {
			h := fmt.Sprintf("host_%d", rng.IntN(space.Hosts))
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
		start := space.Start
		if free := span - s.window; free > 0 {
			start = start.Add(time.Duration(rng.Int64N(int64(free)))).Truncate(time.Second)
		}
		out[i] = s.build(hosts, start, start.Add(s.window))
	}
	return out, nil
}
