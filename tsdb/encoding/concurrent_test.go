package encoding_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/strata-db/strata/tsdb/encoding"
)

// TestConcurrentUse runs encoders and decoders from several goroutines at
// once; the pooled scratch space must never be shared (run with -race).
func TestConcurrentUse(t *testing.T) {
	cases := intCases()
	floats := floatCases()
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				for name, vs := range cases {
					if len(vs) > 1000 {
						continue
					}
					got, err := encoding.DecodeIntegers(nil, encoding.AppendIntegers(nil, vs))
					if err != nil || !slices.Equal(got, vs) {
						errs <- "goroutine " + string(rune('0'+g)) + ": integers " + name + " did not round trip"
						return
					}
				}
				for name, vs := range floats {
					got, err := encoding.DecodeFloats(nil, encoding.AppendFloats(nil, vs))
					if err != nil || !floatsBitEqual(got, vs) {
						errs <- "goroutine " + string(rune('0'+g)) + ": floats " + name + " did not round trip"
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
