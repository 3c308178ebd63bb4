// Package data is a Strata data node: it registers with the meta cluster,
// keeps the shards it owns in a tsdb.Store, serves the InfluxDB 1.x client
// HTTP API (/write, /query, /ping, /health, /metrics) and the internode RPC
// port, and wires the coordinator's PointsWriter to the local store and to
// remote owners.
//
// Open and Close order the components: Open starts the store, the meta
// client, registration, the shard lifecycle loop and finally the listeners;
// Close stops them in reverse, draining in-flight writes first.
package data
