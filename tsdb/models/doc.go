// Package models defines Strata's data model: points, tags, field values and
// series keys, and a zero-allocation line-protocol parser built on
// github.com/influxdata/line-protocol/v2.
//
// It is a leaf package: it imports nothing else from Strata, so every layer
// (storage engine, coordinator, hinted handoff, anti-entropy) can share it.
//
// # Series keys
//
// A series key is the measurement followed by the sorted tag set, in
// canonical line-protocol escaping (see docs/series-key.md). It is the unit
// of routing (fnv64a of the key picks the shard) and of indexing. The parser
// builds each point's key once, into [Point.Key] (the measurement and tags
// point into it), so routing, the index and the WAL copy it instead of
// escaping it again; [Point.AppendSeriesKey] uses Key when it is set.
//
// # Parsing
//
// A [Parser] turns a line-protocol body into []Point. A malformed line costs
// only that line: it is reported in a [*PartialParseError] with its 1-based
// line number and the good lines are still returned. The parser reuses its
// buffers, so points are only valid until the next Parse call; use
// [Point.Clone] to keep one longer.
//
// line-protocol/v2 defines what a line means, but most lines never reach
// its decoder: a line in the form nearly every writer sends (no escapes,
// no control characters, single-line string values) is read by a scanner
// of that form alone, which recognises a line repeating an earlier line's
// series from its raw bytes and skips parsing its tags (a new series' tags
// are located, sorted and copied once, into its key, through a scratch
// array without pointers: the GC neither scans it nor write-barriers it,
// which matters at a million series, where nearly every line is new);
// field keys that
// repeat the previous line's, in order, are recognised by comparing bytes;
// small non-negative integers and a timestamp repeating the previous
// line's skip the general number parsing. From the first line
// in any other form, the decoder reads the rest of the body. Both give the
// same points and errors for every input (FuzzParseSimpleLines); the
// scanner takes about a quarter of the CPU of the bare decoder on TSBS data.
//
// Behaviour worth knowing (InfluxDB 1.x semantics unless noted):
//   - a missing timestamp becomes the caller's "now", truncated to the
//     precision; a timestamp outside [MinNanoTime, MaxNanoTime] (InfluxDB's
//     range, -9223372036854775806 to 9223372036854775806 ns) after scaling
//     by the precision is a line error;
//   - a series key (escaped) or a field key longer than MaxKeyLength (65,535
//     bytes, InfluxDB's limit) is a line error: the engine's readers refuse
//     longer keys, so they are refused before anything is acknowledged;
//   - tags are sorted by key; a repeated tag key is a line error;
//   - a repeated field key keeps the last value (at the first key's position);
//   - a line without a measurement or without fields is a line error;
//   - floats must be finite: NaN and ±Inf are rejected by line-protocol/v2;
//   - invalid UTF-8 anywhere in a measurement, tag key, tag value, field key
//     or string field value is a line error (line-protocol/v2 validates every
//     token), and so are control characters (0x00-0x1f, 0x7f) in measurements,
//     tag keys, tag values and field keys;
//   - inside string field values line-protocol/v2 unescapes \\, \", \n, \r and
//     \t (InfluxDB 1.x only unescapes \\ and \"); [Point.AppendLine] escapes
//     the same set, so output round-trips through the parser;
//   - blank lines, lines of spaces and comment lines (starting with '#') are
//     skipped, and CRLF line endings are accepted.
package models
