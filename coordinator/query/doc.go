// Package query executes InfluxQL: it plans SELECT and SHOW statements over
// a Storage (the cluster's shards, wherever they live), merges what the
// shards return, applies functions, grouping, fill, ordering and limits,
// and formats InfluxDB 1.x's JSON and CSV answers.
package query
