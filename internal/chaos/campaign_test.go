package chaos

import (
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/proctest"
)

var (
	seedsFlag     = flag.String("chaos.seeds", "1,2", "comma-separated seeds; each runs its own campaign on a fresh cluster")
	durationFlag  = flag.Duration("chaos.duration", 40*time.Second, "how long each seed's campaign injects faults")
	reportFlag    = flag.String("chaos.report", "", "append each campaign's report (markdown) to this file")
	raceFlag      = flag.Bool("chaos.race", true, "run strata binaries built with the race detector")
	perRoundFlag  = flag.Int("chaos.faults-per-round", 3, "faults injected in a round before the cluster must converge")
	dataNodesFlag = flag.Int("chaos.data-nodes", 3, "data processes (at least 3)")
	logDirFlag    = flag.String("chaos.logs", "", "copy every process log under this directory (seed-N/)")
	tmpfsFlag     = flag.Int64("chaos.tmpfs-mib", 256, "size of the tmpfs under data0 for the disk-full fault; 0 leaves it out")
)

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

// TestCampaign runs one campaign per seed of -chaos.seeds and fails on
// any checker's failure. With the defaults it is the short campaign of
// `make test`; scripts/chaos.sh runs the long one.
func TestCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process campaign skipped in -short mode")
	}
	if *dataNodesFlag < 3 {
		t.Fatalf("-chaos.data-nodes %d: the RF 3 database needs at least 3", *dataNodesFlag)
	}
	for _, s := range strings.Split(*seedsFlag, ",") {
		seed, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			t.Fatalf("-chaos.seeds: %q is not a number", s)
		}
		t.Run("seed="+strconv.FormatInt(seed, 10), func(t *testing.T) {
			r := Run(t, Config{Seed: seed, Duration: *durationFlag, DataNodes: *dataNodesFlag,
				FaultsPerRound: *perRoundFlag, TmpfsBytes: *tmpfsFlag << 20, Race: *raceFlag, LogDir: *logDirFlag})
			md := r.Markdown()
			t.Log("\n" + md)
			if *reportFlag != "" {
				f, err := os.OpenFile(*reportFlag, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString(md + "\n")
				f.Close()
			}
			for _, f := range r.Failures {
				t.Errorf("seed %d: %s", seed, f)
			}
		})
	}
}
