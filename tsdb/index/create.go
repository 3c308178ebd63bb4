package index

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"github.com/strata-db/strata/tsdb/models"
)

// maxStackKey is the series key length served from a stack buffer on the hot
// path; longer keys cost one allocation.
const maxStackKey = 512

// CreateSeriesAndFields resolves the series ids of a batch, creating the
// series and fields it does not know yet, and checks field types. ids must
// be at least as long as points; ids[i] receives the id of points[i], or 0
// for a rejected point. A point with a field whose type differs from the
// field's type in the shard (or from its type earlier in the same batch) is
// rejected as a whole and listed in conflicts with a *FieldConflictError;
// nothing of it is created. So is a point whose new series would pass the
// index's Limits (a *MaxSeriesError or *MaxValuesPerTagError). The other
// points proceed. (A point the parser
// cannot produce — no fields, unsorted tags, a token ending in a backslash —
// is rejected the same way, with an error wrapping ErrInvalidPoint, when it
// would create a series or field.)
//
// New series and fields are durable (written and fsynced to the index log,
// one fsync for the whole batch) before it returns, so the caller may then
// write its data. When every series and field already exists it takes only
// a read lock, does not touch the disk and does not allocate. err is non-nil
// only when the index cannot record new entries (closed, log I/O failure);
// then no id is valid. Safe for concurrent use.
func (ix *Index) CreateSeriesAndFields(points []models.Point, ids []uint64) (conflicts []PointError, err error) {
	if len(ids) < len(points) {
		return nil, fmt.Errorf("create series: %d ids for %d points: %w", len(ids), len(points), ErrIDsTooShort)
	}
	var (
		look   lookups
		memo   models.SeriesMemo
		fields fieldMemo
	)
	ix.mu.RLock()
	if ix.closed {
		ix.mu.RUnlock()
		return nil, ErrClosed
	}
	complete := true
	var m *measurement
	for i := range points {
		p := &points[i]
		if m == nil || string(m.name) != string(p.Measurement) {
			if m = ix.measurements[string(p.Measurement)]; m == nil {
				complete = false
				break
			}
		}
		conflict, ok := m.checkFields(p, &fields)
		if !ok {
			complete = false
			break
		}
		if conflict != nil {
			ids[i] = 0
			conflicts = append(conflicts, PointError{Index: i, Err: conflict})
			continue
		}
		if j, ok := memo.Recall(p, int32(i)); ok {
			// The series of an earlier point.
			if complete = look.repeat(ix.series, int32(i), j, ids); !complete {
				break
			}
			continue
		}
		if complete = look.add(ix.series, p, i, ids); !complete {
			break
		}
	}
	if complete {
		complete = look.flush(ix.series, ids)
	}
	l := ix.log
	ix.mu.RUnlock()
	if complete {
		if err := waitDurable(l, ids[:len(points)]); err != nil {
			return nil, err
		}
		return conflicts, nil
	}
	return ix.createSlow(points, ids)
}

// lookupBuf is the size of the stack buffer that holds the series keys
// lookups has queued: room for lookAhead keys of 256 bytes.
const lookupBuf = lookAhead*256 + maxStackKey

// lookups queues the series lookups of the hot path, up to lookAhead at a
// time (see batchKeys.touch): their keys are built into a stack buffer, then
// hashed, then their key-table slots are loaded together, and only then
// are they looked up, so that the cache misses overlap. Points repeating
// the series of a queued point (SeriesMemo) wait for it.
type lookups struct {
	buf     [lookupBuf]byte
	n       int // bytes of buf used
	np      int
	points  [lookAhead]int32
	ends    [lookAhead]int32
	hashes  [lookAhead]uint32
	nr      int
	repeats [lookAhead][2]int32 // point, earlier point of its series
	// last is the id the last queued lookup found, or 0; missed holds the
	// queued lookups the next id did not answer (see flush).
	last   uint32
	missed [lookAhead]int32
}

// queued returns the key of queued lookup k.
func (l *lookups) queued(k int32) []byte {
	start := int32(0)
	if k > 0 {
		start = l.ends[k-1]
	}
	return l.buf[start:l.ends[k]]
}

// add queues the lookup of points[i]'s (p's) series. It returns false
// when a lookup it had to make found no series.
func (l *lookups) add(t *seriesTable, p *models.Point, i int, ids []uint64) bool {
	if l.np == lookAhead || len(l.buf)-l.n < maxStackKey {
		if !l.flush(t, ids) {
			return false
		}
	}
	key := p.AppendSeriesKey(l.buf[l.n:l.n])
	if len(key) > len(l.buf)-l.n {
		// Longer than the room left, so it went to the heap: look it up
		// now.
		id := t.lookup(key)
		ids[i] = uint64(id)
		return id != 0
	}
	l.n += len(key)
	l.points[l.np], l.ends[l.np] = int32(i), int32(l.n)
	l.np++
	return true
}

// repeat gives point i the series of the earlier point j, now if it is
// known, else once it is. It returns false when a lookup it had to make
// found no series.
func (l *lookups) repeat(t *seriesTable, i, j int32, ids []uint64) bool {
	if l.np == 0 || j < l.points[0] {
		ids[i] = ids[j]
		return true
	}
	if l.nr == lookAhead {
		if !l.flush(t, ids) {
			return false
		}
		ids[i] = ids[j]
		return true
	}
	l.repeats[l.nr] = [2]int32{i, j}
	l.nr++
	return true
}

// flush makes the queued lookups. It returns false when one found no
// series.
//
// A load that writes its series in the order they were created (each
// round of a TSBS load) finds each at the id after the one before, so a
// lookup first compares its key with that id's: those keys are read in
// the order they were stored, where the key table's slot of each is a
// cache and TLB miss at a million series. The comparison decides, so
// any order is found correctly; the lookups the next id does not
// answer, and those after them in the queue, go to the key table.
func (l *lookups) flush(t *seriesTable, ids []uint64) bool {
	start := int32(0)
	nm := 0
	for k, end := range l.ends[:l.np] {
		if next := l.last + 1; l.last != 0 && bytes.Equal(t.key(next), l.buf[start:end]) {
			ids[l.points[k]] = uint64(next)
			l.last = next
		} else {
			l.last = 0
			l.missed[nm] = int32(k)
			nm++
		}
		start = end
	}
	for _, k := range l.missed[:nm] {
		l.hashes[k] = t.hash(l.queued(k))
	}
	// A loop of its own: see batchKeys.touch.
	for _, k := range l.missed[:nm] {
		t.touch(l.hashes[k])
	}
	for _, k := range l.missed[:nm] {
		id := t.lookupHash(l.queued(k), l.hashes[k])
		if id == 0 {
			return false
		}
		ids[l.points[k]] = uint64(id)
		l.last = id
	}
	for _, r := range l.repeats[:l.nr] {
		ids[r[0]] = ids[r[1]]
	}
	l.n, l.np, l.nr = 0, 0, 0
	return true
}

// fieldMemo remembers, for the points of one call, the field-key list
// (fieldSig) of m that the last point checked had, and that point's fields.
// The parser gives a line with the previous line's field keys the very
// same key slices, so the next point's keys are recognised by their
// addresses and lengths, with no byte comparison: comparing the ten keys
// of a TSBS point with a cached list was a twentieth of a million-series
// load's index time (issue 17). The points do not change during the call,
// so equal slices hold equal bytes.
type fieldMemo struct {
	m      *measurement
	sig    *fieldSig
	fields []models.Field
}

// same reports whether fields are the memo's measurement's fields held by
// the same memory as the memo's.
func (fm *fieldMemo) same(m *measurement, fields []models.Field) bool {
	return fm.m == m && sameKeySlices(fields, fm.fields)
}

// sameKeySlices reports whether the keys of a and b are the same slices:
// the same memory and length.
func sameKeySlices(a, b []models.Field) bool {
	if len(a) != len(b) {
		return false
	}
	for j := range a {
		ka, kb := a[j].Key, b[j].Key
		if len(ka) != len(kb) || unsafe.SliceData(ka) != unsafe.SliceData(kb) {
			return false
		}
	}
	return true
}

// checkFields checks p's field types against m's fields under the read
// lock. ok is false when a field does not exist yet; otherwise conflict is
// the first type mismatch, or nil. memo carries what the call's points
// before p found (see fieldMemo).
func (m *measurement) checkFields(p *models.Point, memo *fieldMemo) (conflict error, ok bool) {
	if memo.same(m, p.Fields) {
		return m.checkTypes(memo.sig, p), true
	}
	if sigs := m.sigs.Load(); sigs != nil {
		for _, sig := range *sigs {
			if sig.matches(p.Fields) {
				*memo = fieldMemo{m: m, sig: sig, fields: p.Fields}
				return m.checkTypes(sig, p), true
			}
		}
	}
	for j := range p.Fields {
		f := &p.Fields[j]
		t, ok := m.fields[string(f.Key)]
		if !ok {
			return nil, false
		}
		if t != f.Value.Type && conflict == nil {
			conflict = m.conflict(f.Key, t, f.Value.Type)
		}
	}
	m.addSig(p.Fields)
	return conflict, true
}

// checkTypes returns the first field of p, whose field keys are sig's,
// whose type differs from sig's, or nil.
func (m *measurement) checkTypes(sig *fieldSig, p *models.Point) error {
	for j := range p.Fields {
		if t := sig.types[j]; t != p.Fields[j].Value.Type {
			return m.conflict(p.Fields[j].Key, t, p.Fields[j].Value.Type)
		}
	}
	return nil
}

func (m *measurement) conflict(field []byte, existing, got models.FieldType) error {
	return &FieldConflictError{Measurement: string(m.name), Field: string(field), Existing: existing, Got: got}
}

// matches reports whether fields has exactly the signature's keys, in order.
func (s *fieldSig) matches(fields []models.Field) bool {
	if len(fields) != len(s.keys) {
		return false
	}
	for j := range fields {
		if string(fields[j].Key) != string(s.keys[j]) {
			return false
		}
	}
	return true
}

// addSig caches the field-key list of fields, which all exist in m, unless
// the cache is full. Concurrent callers may race; a lost update only costs
// a later retry.
func (m *measurement) addSig(fields []models.Field) {
	old := m.sigs.Load()
	if old != nil && len(*old) >= maxFieldSigs {
		return
	}
	sig := &fieldSig{keys: make([][]byte, len(fields)), types: make([]models.FieldType, len(fields))}
	for j := range fields {
		sig.keys[j] = bytes.Clone(fields[j].Key)
		sig.types[j] = m.fields[string(fields[j].Key)]
	}
	var sigs []*fieldSig
	if old != nil {
		sigs = append(sigs, *old...)
	}
	sigs = append(sigs, sig)
	m.sigs.CompareAndSwap(old, &sigs)
}

// lookAhead is the number of points whose series keys createSlow hashes,
// and whose key-table slots it loads, before it resolves them.
const lookAhead = 16

// batchKeys holds the series keys of a batch's points, their hashes and
// what validKey found wrong with them. createSlow finds them before it
// takes the write lock (find), so that resolving the batch under the lock
// only looks the keys up: building, hashing and checking them there was a
// third of the time every other writer waited for it (issue 17).
type batchKeys struct {
	keys   [][]byte // the points' Key, or slices of buf
	hashes []uint32
	buf    []byte
	bad    []pointError // the invalid points, in order
	next   int          // the first of bad that invalid may return
}

// pointError is what is wrong with point i.
type pointError struct {
	i   int
	err error
}

// find fills bk for points, hashing their keys with t's seed (which never
// changes). It reads only the points, so it needs no lock.
func (bk *batchKeys) find(t *seriesTable, points []models.Point) {
	bk.keys = slices.Grow(bk.keys[:0], len(points))
	bk.hashes = slices.Grow(bk.hashes[:0], len(points))
	bk.bad, bk.next = bk.bad[:0], 0
	n := 0
	for i := range points {
		if p := &points[i]; p.Key == nil {
			n += len(p.Measurement)
			for _, t := range p.Tags {
				n += 2 + len(t.Key) + len(t.Value)
			}
		}
	}
	// Room enough that buf does not move unless escapes make keys longer.
	bk.buf = slices.Grow(bk.buf[:0], n)
	var checked []models.Field
	for i := range points {
		p := &points[i]
		if err := validKey(p, &checked); err != nil {
			bk.bad = append(bk.bad, pointError{i, err})
		}
		key := p.Key
		if key == nil {
			start := len(bk.buf)
			bk.buf = p.AppendSeriesKey(bk.buf)
			key = bk.buf[start:len(bk.buf):len(bk.buf)]
		}
		bk.keys = append(bk.keys, key)
		bk.hashes = append(bk.hashes, t.hash(key))
	}
}

// invalid returns what is wrong with point i, or nil; calls must ask for
// ascending i.
func (bk *batchKeys) invalid(i int) error {
	for bk.next < len(bk.bad) && bk.bad[bk.next].i < i {
		bk.next++
	}
	if bk.next < len(bk.bad) && bk.bad[bk.next].i == i {
		return bk.bad[bk.next].err
	}
	return nil
}

// touch loads the key-table slots of the lookAhead points from i on,
// one after the other, before any of them is looked up: at a million
// series the table is far larger than the cache, and the loads, issued
// close together, are in flight at once, where one lookup after the
// other paid each miss in full.
func (bk *batchKeys) touch(t *seriesTable, i int) {
	for _, h := range bk.hashes[i:min(i+lookAhead, len(bk.hashes))] {
		t.touch(h)
	}
}

// pendingField is a field created by the batch being processed.
type pendingField struct {
	measurement, field string
}

// createSlow is CreateSeriesAndFields when something must be created: under
// the write lock it resolves every point again and puts each new series in
// the key table as soon as it is found, so that later points of the batch
// find it there; then it adds the new series to the postings and logs
// what is new with one fsync.
//
// A batch that creates only series does the last two steps after the
// write lock is released, one after the other, so that the next writer
// resolves its batch meanwhile (at a million new series one of the two
// writers was waiting for the lock most of the time): the postings under
// pmu, in the order of the batches' ids (a ticket taken under the lock:
// ids are appended to the lists), then the log write and fsync (see
// logFile). The series are in memory before they are durable, so every
// caller that finds a series not yet durable waits for it (waitDurable),
// and if the write fails they are removed again. A batch that creates a field logs it
// first and applies it after, all under the lock as before: a field's
// type must not be seen before it is durable, as the hot path caches it
// (sigs).
func (ix *Index) createSlow(points []models.Point, ids []uint64) ([]PointError, error) {
	lb := createBufs.get()
	defer createBufs.put(lb)
	ix.series.prepareSlab()
	lb.keys.find(ix.series, points)
	ix.mu.Lock()
	// The limit on values per tag reads the postings.
	postingsLocked := ix.limits.MaxValuesPerTag > 0
	if postingsLocked {
		ix.lockPostings()
	}
	r := ix.resolve(points, ids, lb)
	if r.err != nil || len(lb.log) == 0 {
		if postingsLocked {
			ix.pmu.Unlock()
		}
		l := ix.log
		ix.mu.Unlock()
		if r.err != nil {
			return nil, r.err
		}
		// Every series exists, but some may have been created by a batch
		// whose write is under way.
		if err := waitDurable(l, ids[:len(points)]); err != nil {
			return nil, err
		}
		return r.conflicts, nil
	}
	if len(r.fieldOrder) > 0 {
		if !postingsLocked {
			ix.lockPostings()
		}
		defer func() {
			ix.pmu.Unlock()
			ix.mu.Unlock()
		}()
		if err := ix.log.append(lb.log, ix.nextID); err != nil {
			for _, ns := range lb.series {
				ix.series.remove(ns.id)
			}
			return nil, ix.logFailed(err)
		}
		for _, pf := range r.fieldOrder {
			ix.applyField([]byte(pf.measurement), []byte(pf.field), r.newFields[pf])
		}
		lb.tags.find(points, lb.series)
		ix.indexNewSeries(lb.series, &lb.tags)
		ix.maybeCompact()
		// The series found may be of a batch whose write was under way:
		// append waited for it, and it failed unless append did.
		return r.conflicts, nil
	}
	if postingsLocked {
		ix.pmu.Unlock()
	}
	l, ticket := ix.log, ix.tickets
	ix.tickets++
	end := l.queue(lb.log, ix.nextID)
	ix.maybeCompact()
	ix.mu.Unlock()
	lb.tags.find(points, lb.series)
	ix.pmu.Lock()
	for ix.turn != ticket {
		ix.turnDone.Wait()
	}
	ix.indexNewSeries(lb.series, &lb.tags)
	ix.turn++
	ix.turnDone.Broadcast()
	ix.pmu.Unlock()
	if err := l.sync(end); err != nil {
		ix.lockAll()
		defer ix.unlockAll()
		dropped := make([]uint32, len(lb.series))
		for k, ns := range lb.series {
			dropped[k] = ns.id
		}
		ix.applyDropSeries(dropped)
		return nil, ix.logFailed(err)
	}
	// The series found that others created were queued before these, so
	// they are durable too.
	return r.conflicts, nil
}

// createBuf holds what createSlow builds for the new series and fields of
// a batch, reused: the points' keys, the log records, the new series and
// their tags.
type createBuf struct {
	keys   batchKeys
	log    []byte
	series []newSeries
	tags   batchTags
}

// newSeries is a series createSlow creates.
type newSeries struct {
	point int          // its first point
	id    uint32       // its series id
	key   []byte       // its stored key (see seriesTable.insertHash)
	m     *measurement // its measurement
}

// createBufs holds createSlow's buffers: one is in use by each batch
// being created, which may outlast the lock.
var createBufs bufList

// maxFreeBufs is the number of unused createBufs kept: one per writer
// usually suffices.
const maxFreeBufs = 4

// bufList is a free list of createBufs. Unlike a sync.Pool, which empties
// at every garbage collection, it keeps them: at a million new series a
// collection came every few batches, and the batch's tags (2.4 MB at 5,000
// new series) were then allocated again in fresh memory, its pages faulted
// in (see prepareSlab), and grown.
type bufList struct {
	mu   sync.Mutex
	free []*createBuf
}

// get returns an unused buffer.
func (bl *bufList) get() *createBuf {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	if n := len(bl.free); n > 0 {
		b := bl.free[n-1]
		bl.free = bl.free[:n-1]
		return b
	}
	return new(createBuf)
}

// put returns b, unused, to the list, or drops it if the list is full.
// A kept buffer refers to no index memory (keys, measurements), so that a
// closed index can be collected.
func (bl *bufList) put(b *createBuf) {
	// Only what the batch used: each put clears what its batch wrote, so
	// nothing past it refers to anything.
	clear(b.keys.keys)
	clear(b.keys.bad)
	clear(b.series)
	b.tags.clear()
	bl.mu.Lock()
	defer bl.mu.Unlock()
	if len(bl.free) < maxFreeBufs {
		bl.free = append(bl.free, b)
	}
}

// logFailed makes a failure to log new series sticky and returns the error
// for the caller. The caller holds mu.
func (ix *Index) logFailed(err error) error {
	if ix.err == nil {
		ix.err = err
		ix.logger.Error("index log write failed; refusing new series until reopened", "dir", ix.dir, "err", err)
	}
	return fmt.Errorf("create series: %w", err)
}

// waitDurable returns once the series of ids, found in memory when the log
// was l, are durable, or with the error of the write that should have made
// them so. A series is in memory before its write ends (see createSlow).
func waitDurable(l *logFile, ids []uint64) error {
	top := uint64(0)
	for _, id := range ids {
		top = max(top, id)
	}
	if err := l.syncID(uint32(top)); err != nil {
		return fmt.Errorf("create series: %w", err)
	}
	return nil
}

// resolved is what resolve found in a batch besides its new series.
type resolved struct {
	conflicts  []PointError
	newFields  map[pendingField]models.FieldType
	fieldOrder []pendingField
	err        error
}

// resolve resolves every point of a batch under the write lock, checking
// its fields and the limits, gives each new series an id and puts it in
// the key table and its measurement in ix.measurements, and fills buf
// with the new series and the log records of what is new. On error it
// removes the series it put in the table.
func (ix *Index) resolve(points []models.Point, ids []uint64, buf *createBuf) (r resolved) {
	buf.log, buf.series = buf.log[:0], buf.series[:0]
	if ix.closed {
		r.err = ErrClosed
		return r
	}
	if ix.err != nil {
		r.err = fmt.Errorf("create series: index log failed earlier: %w", ix.err)
		return r
	}
	var (
		key    []byte
		keys   = &buf.keys
		nextID = ix.nextID
		limits = limitCheck{limits: ix.limits}
		fields fieldMemo
	)
	r.newFields = map[pendingField]models.FieldType{}
	for i := range points {
		if i%lookAhead == 0 {
			keys.touch(ix.series, i)
		}
		p := &points[i]
		m := ix.measurements[string(p.Measurement)]
		var conflict error
		// Usually every field exists: the field-key lists cached for the
		// hot path say so in a few comparisons.
		fieldsExist := false
		if m != nil {
			conflict, fieldsExist = m.checkFields(p, &fields)
		}
		if !fieldsExist {
			conflict = checkNewFields(m, p, r.newFields)
		}
		if conflict == nil {
			conflict = keys.invalid(i)
		}
		var id, h uint32
		if conflict == nil {
			key, h = keys.keys[i], keys.hashes[i]
			if id = ix.series.lookupHash(key, h); id == 0 {
				conflict = ix.refuse(&limits, p)
			}
		}
		if conflict != nil {
			ids[i] = 0
			r.conflicts = append(r.conflicts, PointError{Index: i, Err: conflict})
			continue
		}
		for j := 0; !fieldsExist && j < len(p.Fields); j++ {
			f := &p.Fields[j]
			if m != nil {
				if _, ok := m.fields[string(f.Key)]; ok {
					continue
				}
			}
			pf := pendingField{string(p.Measurement), string(f.Key)}
			if _, ok := r.newFields[pf]; !ok {
				r.newFields[pf] = f.Value.Type
				r.fieldOrder = append(r.fieldOrder, pf)
				buf.log = appendRecord(buf.log, &record{typ: recFieldCreated, measurement: p.Measurement, field: f.Key, fieldType: f.Value.Type})
			}
		}
		if id == 0 {
			if nextID > maxSeriesID {
				for _, ns := range buf.series {
					ix.series.remove(ns.id)
				}
				r.err = fmt.Errorf("create series %q: %w", key, ErrIndexFull)
				return r
			}
			id = nextID
			nextID++
			if m == nil {
				m = ix.measurementFor(p.Measurement)
			}
			stored := ix.series.insertHash(id, key, h)
			buf.series = append(buf.series, newSeries{point: i, id: id, key: stored, m: m})
			buf.log = appendRecord(buf.log, &record{typ: recSeriesCreated, id: uint64(id), key: key})
		}
		ids[i] = uint64(id)
	}
	ix.nextID = nextID
	return r
}

// indexNewSeries adds the series resolve created to their measurements and
// tag postings; tags holds their tags, grouped (batchTags.find). The
// caller holds pmu for writing.
func (ix *Index) indexNewSeries(series []newSeries, tags *batchTags) {
	for _, ns := range series {
		ns.m.ids = appendID(ns.m.ids, ns.id)
	}
	tags.addPostings()
}

// checkNewFields returns the first field of p whose type differs from the
// field's type in m (which may be nil) or in the batch so far (newFields).
func checkNewFields(m *measurement, p *models.Point, newFields map[pendingField]models.FieldType) error {
	for j := range p.Fields {
		f := &p.Fields[j]
		t, ok := models.FieldTypeUnknown, false
		if m != nil {
			t, ok = m.fields[string(f.Key)]
		}
		if !ok {
			t, ok = newFields[pendingField{string(p.Measurement), string(f.Key)}]
		}
		if ok && t != f.Value.Type {
			return &FieldConflictError{Measurement: string(p.Measurement), Field: string(f.Key), Existing: t, Got: f.Value.Type}
		}
	}
	return nil
}

// validKey checks what a stored series key needs to parse back into the
// same measurement and tags, and what the log reader accepts: keys no
// longer than models.MaxKeyLength, non-empty, sorted, unique tag keys with
// non-empty values, and no token ending in a backslash (which would escape
// the separator after it). The line-protocol parser never produces others.
// checked holds the fields of a point of the batch whose keys passed: the
// field keys of a point with the very same key slices (see fieldMemo) are
// not checked again.
func validKey(p *models.Point, checked *[]models.Field) error {
	if len(p.Measurement) == 0 || len(p.Fields) == 0 {
		return fmt.Errorf("no measurement or no fields: %w", ErrInvalidPoint)
	}
	// With its series key given, CheckKeys checks only that key's length
	// and the field keys.
	if p.Key == nil || len(p.Key) > models.MaxKeyLength || !sameKeySlices(p.Fields, *checked) {
		if err := p.CheckKeys(); err != nil {
			// The log reader refuses longer keys: storing one would lose
			// the shard's index on the next open.
			return fmt.Errorf("%w: %w", ErrInvalidPoint, err)
		}
		*checked = p.Fields
	}
	if endsInBackslash(p.Measurement) {
		return fmt.Errorf("measurement ends in a backslash: %w", ErrInvalidPoint)
	}
	for i, t := range p.Tags {
		if len(t.Key) == 0 || len(t.Value) == 0 {
			return fmt.Errorf("tag %d: empty key or value: %w", i, ErrInvalidPoint)
		}
		if endsInBackslash(t.Key) || endsInBackslash(t.Value) {
			return fmt.Errorf("tag %q ends in a backslash: %w", t.Key, ErrInvalidPoint)
		}
		// Keys are not empty: most differ in their first byte.
		if i > 0 && (p.Tags[i-1].Key[0] > t.Key[0] || p.Tags[i-1].Key[0] == t.Key[0] && string(p.Tags[i-1].Key) >= string(t.Key)) {
			return fmt.Errorf("tags not sorted or not unique at %q: %w", t.Key, ErrInvalidPoint)
		}
	}
	return nil
}

func endsInBackslash(b []byte) bool { return len(b) > 0 && b[len(b)-1] == '\\' }
