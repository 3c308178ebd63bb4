package hh_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/internal/clock"
)

// TestPurgeAfterClockStepsBack queues records while the node's clock is
// two minutes ahead, steps the clock back (internal/clock, as the chaos
// campaign's clock-jump fault or an NTP correction does) and purges: every
// queued record is dropped, though each is stamped later than the clock
// now reads.
func TestPurgeAfterClockStepsBack(t *testing.T) {
	t.Cleanup(func() { clock.SetOffset(0) })
	svc := openService(t, testConfig(t.TempDir()), &fakeSender{fn: down}, prometheus.NewRegistry())
	clock.SetOffset(2 * time.Minute)
	enqueue(t, svc, 3, 6, 100)
	clock.SetOffset(0)
	res, err := svc.Purge(context.Background(), 2)
	if err != nil || res.Records != 3 || res.Points != 30 {
		t.Fatalf("Purge = %+v, %v; want 3 records, 30 points", res, err)
	}
	if svc.Pending(2) {
		t.Error("Pending after Purge")
	}
}
