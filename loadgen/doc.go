// Package loadgen is the load generator behind `strata bench`: it writes
// line protocol to an InfluxDB 1.x compatible /write endpoint as fast as the
// client side allows, and measures what the server sustains.
//
// A run has three phases, and only the last one is timed:
//
//  1. Build a Workload: TSBS-style cpu data generated from a seed
//     (GenerateCPU) or a line-protocol file, gzip or not (ReadFile). Either
//     way all data is held in memory, cut into batches of whole lines, and
//     the lines and values of every batch are counted once, while batching.
//  2. Optionally measure the ceiling (MeasureCeiling): how fast
//     github.com/influxdata/line-protocol/v2 alone decodes the same data on
//     one core, in the same run, so a figure measured on a shared, noisy
//     machine can be read next to what that machine could do at that moment.
//     Then optionally gzip every body (Workload.Compress).
//  3. Run: Workers goroutines, each with one keep-alive connection, take
//     the next batch, POST it and record the outcome and latency. A progress
//     line is printed while it runs; a Summary is returned at the end.
//
// The package has no global state; every Runner owns its HTTP transport and
// closes its idle connections when Run returns.
package loadgen
