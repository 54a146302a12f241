package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// insertChunk is how many readings one INSERT statement carries (readingCols parameters
// each). Multi-row statements cut the per-row cost of crossing into SQLite several-fold.
const insertChunk = 256

const readingCols = 10

func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR IGNORE INTO readings (dsid, measured, ssid, kind, value, text, unit, lag, sum, flags) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

const upsertLatestSQL = `INSERT INTO latest (tenant, subject, metric, device, kind, value, text, unit, measured, received, flags)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant, subject, metric) DO UPDATE SET device = excluded.device, kind = excluded.kind,
	value = excluded.value, text = excluded.text, unit = excluded.unit, measured = excluded.measured,
	received = excluded.received, flags = excluded.flags
WHERE excluded.measured > latest.measured`

const lastSeenSQL = "UPDATE devices SET last_seen = max(last_seen, ?) WHERE tenant = ? AND id = ?"

// InsertReadings stores the readings not stored yet (by ID) in one transaction, keeps each
// subject's latest value per metric and each device's last-seen time, and returns how many
// were new. A reading whose ID is stored already is skipped; since the ID covers tenant,
// device, metric and measured time, such a redelivery cannot be newer than what is stored,
// so latest and last-seen are computed over the whole batch. Series ids come from the Store's
// cache, or are found or created in the same transaction and cached once it has committed.
func (s *Store) InsertReadings(ctx context.Context, rs []reading.Reading) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	for i := range rs {
		if err := checkReading(&rs[i]); err != nil {
			return 0, fmt.Errorf("sqlite: insert readings: reading %d (%s): %w", i, rs[i].ID, err)
		}
	}
	stmts, err := s.writeStmts(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: insert %d readings: %w", len(rs), err)
	}
	refs, missing := s.series.lookup(rs)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: insert %d readings: begin: %w", len(rs), err)
	}
	defer tx.Rollback()
	if missing != nil {
		if err := missing.resolve(ctx, tx, rs, refs); err != nil {
			return 0, fmt.Errorf("sqlite: insert %d readings: series: %w", len(rs), err)
		}
	}
	n, err := insertRows(ctx, stmts, tx, rs, refs)
	if err != nil {
		return 0, fmt.Errorf("sqlite: insert %d readings: %w", len(rs), err)
	}
	if err := updateLatest(ctx, stmts, tx, rs); err != nil {
		return 0, fmt.Errorf("sqlite: insert %d readings: latest: %w", len(rs), err)
	}
	if err := updateLastSeen(ctx, stmts, tx, rs); err != nil {
		return 0, fmt.Errorf("sqlite: insert %d readings: device last seen: %w", len(rs), err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlite: insert %d readings: commit: %w", len(rs), err)
	}
	// Only committed series ids may be cached: a rolled-back id can be handed out again.
	s.series.add(missing)
	return n, nil
}

// checkReading rejects a reading that cannot be stored; its ID must match its tenant, device,
// metric and measured time, because idempotency is enforced on (dsid, measured), which stand
// for exactly those.
func checkReading(r *reading.Reading) error {
	if math.IsNaN(r.Value) {
		return errors.New("value is NaN")
	}
	return r.Validate()
}

// insertRows inserts rs in primary-key order, so that consecutive rows go to the same leaf
// pages. Of readings with the same ID the first in rs comes first and is the one stored, as if
// rs were inserted in order. It reorders refs.
func insertRows(ctx context.Context, stmts *writeStmts, tx *sql.Tx, rs []reading.Reading, refs []seriesRef) (int, error) {
	slices.SortFunc(refs, func(a, b seriesRef) int {
		return cmp.Or(cmp.Compare(a.dsid, b.dsid), cmp.Compare(a.measured, b.measured), cmp.Compare(a.i, b.i))
	})
	args := make([]any, 0, min(len(rs), insertChunk)*readingCols)
	total := 0
	for start := 0; start < len(rs); {
		// Chunks are powers of two up to insertChunk, so every statement is a cached prepared
		// one and no batch size makes SQLite parse SQL again.
		size := insertChunk
		for size > len(rs)-start {
			size /= 2
		}
		args = args[:0]
		for _, ref := range refs[start : start+size] {
			r := &rs[ref.i]
			// NULL binds without copying a string into SQLite and stores in no bytes.
			var text, unit, sum any
			if r.Text != "" {
				text = r.Text
			}
			if r.Unit != ref.unit {
				unit = r.Unit
			}
			if r.HasSum {
				sum = r.Sum
			}
			// received - measured is a few bytes where received is eight; wrapping is undone on read.
			args = append(args, ref.dsid, ref.measured, ref.ssid, int64(r.Kind), r.Value, text, unit,
				r.Received.UnixNano()-ref.measured, sum, int64(r.Flags))
		}
		res, err := tx.StmtContext(ctx, stmts.insert[size]).ExecContext(ctx, args...)
		if err != nil {
			return 0, fmt.Errorf("rows %d..%d in key order: %w", start, start+size-1, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		total += int(n)
		start += size
	}
	return total, nil
}

// writeStmts are the statements InsertReadings runs, prepared once on the writer connection.
type writeStmts struct {
	insert   map[int]*sql.Stmt // multi-row inserts, by row count (1, 2, 4 … insertChunk)
	latest   *sql.Stmt         // upsertLatestSQL
	lastSeen *sql.Stmt         // lastSeenSQL
}

func (ws *writeStmts) close() {
	for _, st := range ws.insert {
		st.Close()
	}
	if ws.latest != nil {
		ws.latest.Close()
	}
	if ws.lastSeen != nil {
		ws.lastSeen.Close()
	}
}

// writeStmts returns InsertReadings' statements, preparing them on first use. It must be
// called outside a transaction: the writer has one connection, which a transaction holds.
func (s *Store) writeStmts(ctx context.Context) (*writeStmts, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if s.stmts != nil {
		return s.stmts, nil
	}
	ws := &writeStmts{insert: map[int]*sql.Stmt{}}
	prepare := func(query string) (*sql.Stmt, error) {
		st, err := s.w.PrepareContext(ctx, query)
		if err != nil {
			ws.close()
			return nil, fmt.Errorf("prepare %.40q…: %w", query, err)
		}
		return st, nil
	}
	var err error
	for n := 1; n <= insertChunk; n *= 2 {
		if ws.insert[n], err = prepare(insertSQL(n)); err != nil {
			return nil, err
		}
	}
	if ws.latest, err = prepare(upsertLatestSQL); err != nil {
		return nil, err
	}
	if ws.lastSeen, err = prepare(lastSeenSQL); err != nil {
		return nil, err
	}
	s.stmts = ws
	return ws, nil
}

type seriesKey struct{ tenant, subject, metric string }
type deviceKey struct{ tenant, device string }

// newestPerSeries returns, per series, the index in rs of its newest reading by measured time.
func newestPerSeries(rs []reading.Reading) map[seriesKey]int {
	m := make(map[seriesKey]int)
	for i := range rs {
		k := seriesKey{rs[i].Tenant, rs[i].Subject, rs[i].Metric}
		if j, ok := m[k]; !ok || rs[i].Measured.After(rs[j].Measured) {
			m[k] = i
		}
	}
	return m
}

// lastSeenPerDevice returns each device's newest received time in rs.
func lastSeenPerDevice(rs []reading.Reading) map[deviceKey]int64 {
	m := make(map[deviceKey]int64)
	for i := range rs {
		k := deviceKey{rs[i].Tenant, rs[i].Device}
		if t := nanos(rs[i].Received); t > m[k] {
			m[k] = t
		}
	}
	return m
}

func updateLatest(ctx context.Context, stmts *writeStmts, tx *sql.Tx, rs []reading.Reading) error {
	stmt := tx.StmtContext(ctx, stmts.latest)
	for k, i := range newestPerSeries(rs) {
		r := &rs[i]
		if _, err := stmt.ExecContext(ctx, k.tenant, k.subject, k.metric, r.Device, int64(r.Kind), r.Value, r.Text,
			r.Unit, r.Measured.UnixNano(), nanos(r.Received), int64(r.Flags)); err != nil {
			return fmt.Errorf("latest of metric %s: %w", k.metric, err) // no subject: it may identify a patient
		}
	}
	return nil
}

func updateLastSeen(ctx context.Context, stmts *writeStmts, tx *sql.Tx, rs []reading.Reading) error {
	stmt := tx.StmtContext(ctx, stmts.lastSeen)
	for k, t := range lastSeenPerDevice(rs) {
		if _, err := stmt.ExecContext(ctx, t, k.tenant, k.device); err != nil {
			return fmt.Errorf("device %s: %w", k.device, err)
		}
	}
	return nil
}

// defaultLimit is how many raw points Readings returns when the query sets no limit.
const defaultLimit = 10_000

// bounds turns [From, To) into nanoseconds; a zero From or To leaves that side open.
func bounds(q store.ReadingQuery) (from, to int64) {
	from, to = math.MinInt64, math.MaxInt64
	if !q.From.IsZero() {
		from = q.From.UnixNano()
	}
	if !q.To.IsZero() {
		to = q.To.UnixNano()
	}
	return from, to
}

// seriesPart is one device series of a subject series.
type seriesPart struct {
	dsid         int64
	device, unit string
}

// readSeries calls fn, within one read transaction (a consistent snapshot), with the ssid of
// q's subject series and its device series; fn is not called when the series does not exist.
func (s *Store) readSeries(ctx context.Context, q store.ReadingQuery, fn func(tx *sql.Tx, ssid int64, parts []seriesPart) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // read only: nothing to commit
	rows, err := tx.QueryContext(ctx, `SELECT s.ssid, d.dsid, d.device, d.unit
		FROM subject_series AS s CROSS JOIN series_links AS l ON l.ssid = s.ssid
			CROSS JOIN device_series AS d ON d.dsid = l.dsid
		WHERE s.tenant = ? AND s.subject = ? AND s.metric = ?`, q.Tenant, q.Subject, q.Metric)
	if err != nil {
		return err
	}
	defer rows.Close()
	var ssid int64
	var parts []seriesPart
	for rows.Next() {
		var p seriesPart
		if err := rows.Scan(&ssid, &p.dsid, &p.device, &p.unit); err != nil {
			return err
		}
		parts = append(parts, p)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(parts) == 0 {
		return nil
	}
	return fn(tx, ssid, parts)
}

// Readings returns the subject's points of the metric in [q.From, q.To) in measured-time
// order (ties by device), at most q.Limit (0: 10,000). A zero From or To leaves that side open.
// Each device series of the subject series is read in key order and the results merged.
func (s *Store) Readings(ctx context.Context, q store.ReadingQuery) ([]store.Point, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	from, to := bounds(q)
	var out []store.Point
	err := s.readSeries(ctx, q, func(tx *sql.Tx, ssid int64, parts []seriesPart) error {
		for _, part := range parts {
			if err := readPart(ctx, tx, &out, part, ssid, q.Metric, from, to, limit); err != nil {
				return fmt.Errorf("device %s: %w", part.device, err)
			}
		}
		if len(parts) > 1 {
			slices.SortFunc(out, func(a, b store.Point) int {
				return cmp.Or(a.Measured.Compare(b.Measured), cmp.Compare(a.Device, b.Device))
			})
			out = out[:min(len(out), limit)]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: readings of %s in tenant %s: %w", q.Metric, q.Tenant, err)
	}
	return out, nil
}

// readPart appends to out the points of subject series ssid in device series part with
// measured time in [from, to), at most limit, in measured-time order.
func readPart(ctx context.Context, tx *sql.Tx, out *[]store.Point, part seriesPart, ssid int64, metric string, from, to int64, limit int) error {
	rows, err := tx.QueryContext(ctx, `SELECT measured, lag, kind, value, coalesce(text, ''), unit, flags FROM readings
		WHERE dsid = ? AND measured >= ? AND measured < ? AND ssid = ? ORDER BY measured LIMIT ?`,
		part.dsid, from, to, ssid, limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		p := store.Point{Device: part.device, Metric: metric}
		var measured, lag, kind, flags int64
		var unit sql.NullString
		if err := rows.Scan(&measured, &lag, &kind, &p.Value, &p.Text, &unit, &flags); err != nil {
			return err
		}
		p.Measured, p.Received = time.Unix(0, measured).UTC(), time.Unix(0, measured+lag).UTC()
		p.Kind, p.Flags, p.Unit = reading.Kind(kind), reading.Flags(flags), part.unit
		if unit.Valid {
			p.Unit = unit.String
		}
		*out = append(*out, p)
	}
	return rows.Err()
}

func scanPoint(sc scanner) (store.Point, error) {
	var p store.Point
	var measured, received, kind, flags int64
	if err := sc.Scan(&measured, &received, &p.Device, &p.Metric, &kind, &p.Value, &p.Text, &p.Unit, &flags); err != nil {
		return store.Point{}, err
	}
	p.Measured, p.Received, p.Kind, p.Flags = fromNanos(measured), fromNanos(received), reading.Kind(kind), reading.Flags(flags)
	return p, nil
}

// bucketSum is a bucket under construction.
type bucketSum struct {
	start    int64
	min, max float64
	sum      float64
	count    int
}

// Buckets returns min, max, mean and count of the numeric (reading.Number) points of the
// metric in [q.From, q.To) per step, each bucket starting at a multiple of step since the
// Unix epoch (floored, also before 1970); empty buckets are left out. q.Limit is ignored.
func (s *Store) Buckets(ctx context.Context, q store.ReadingQuery, step time.Duration) ([]store.Bucket, error) {
	if step <= 0 {
		return nil, fmt.Errorf("sqlite: buckets of %s in tenant %s: step %v is not positive", q.Metric, q.Tenant, step)
	}
	from, to := bounds(q)
	var sums []bucketSum
	err := s.readSeries(ctx, q, func(tx *sql.Tx, ssid int64, parts []seriesPart) error {
		for _, part := range parts {
			if err := bucketPart(ctx, tx, &sums, part.dsid, ssid, from, to, int64(step)); err != nil {
				return fmt.Errorf("device %s: %w", part.device, err)
			}
		}
		if len(parts) > 1 {
			sums = mergeBuckets(sums)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: buckets of %s in tenant %s: %w", q.Metric, q.Tenant, err)
	}
	out := make([]store.Bucket, len(sums))
	for i, b := range sums {
		out[i] = store.Bucket{Start: time.Unix(0, b.start).UTC(), Min: b.min, Max: b.max, Mean: b.sum / float64(b.count), Count: b.count}
	}
	return out, nil
}

// bucketPart appends to out the buckets of the numeric points of subject series ssid in device
// series dsid in [from, to), in order. Points come in key order (measured ascending), so a
// bucket is closed as it is passed: one pass, no sort.
func bucketPart(ctx context.Context, tx *sql.Tx, out *[]bucketSum, dsid, ssid, from, to, step int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT measured, value FROM readings
		WHERE dsid = ? AND measured >= ? AND measured < ? AND ssid = ? AND kind = ? ORDER BY measured`,
		dsid, from, to, ssid, int64(reading.Number))
	if err != nil {
		return err
	}
	defer rows.Close()
	var cur bucketSum
	var mv, vv any // scanning into any skips database/sql's reflection, a fifth of the time here
	for rows.Next() {
		if err := rows.Scan(&mv, &vv); err != nil {
			return err
		}
		m, ok := mv.(int64)
		if !ok {
			return fmt.Errorf("measured time of type %T", mv)
		}
		v, err := asFloat(vv)
		if err != nil {
			return err
		}
		b := m - ((m%step)+step)%step
		if cur.count == 0 || b != cur.start {
			if cur.count > 0 {
				*out = append(*out, cur)
			}
			cur = bucketSum{start: b, min: v, max: v}
		}
		cur.min, cur.max = min(cur.min, v), max(cur.max, v)
		cur.sum += v
		cur.count++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if cur.count > 0 {
		*out = append(*out, cur)
	}
	return nil
}

// asFloat returns a REAL column's value, which the driver may also return as an integer.
func asFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	}
	return 0, fmt.Errorf("value of type %T", v)
}

// mergeBuckets sorts the buckets of several device series by start and combines those with
// the same start.
func mergeBuckets(bs []bucketSum) []bucketSum {
	slices.SortStableFunc(bs, func(a, b bucketSum) int { return cmp.Compare(a.start, b.start) })
	out := bs[:0]
	for _, b := range bs {
		if n := len(out); n > 0 && out[n-1].start == b.start {
			last := &out[n-1]
			last.min, last.max = min(last.min, b.min), max(last.max, b.max)
			last.sum += b.sum
			last.count += b.count
			continue
		}
		out = append(out, b)
	}
	return out
}

// Latest returns the newest reading of each metric of the subject, by metric.
func (s *Store) Latest(ctx context.Context, tenant, subject string) ([]store.Point, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT measured, received, device, metric, kind, value, text, unit, flags
		FROM latest WHERE tenant = ? AND subject = ? ORDER BY metric`, tenant, subject)
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest in tenant %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []store.Point
	for rows.Next() {
		p, err := scanPoint(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: latest in tenant %s: %w", tenant, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: latest in tenant %s: %w", tenant, err)
	}
	return out, nil
}

// Subjects lists, sorted, the non-empty subjects of tenant that have readings.
func (s *Store) Subjects(ctx context.Context, tenant string) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT subject FROM latest WHERE tenant = ? AND subject <> '' ORDER BY subject`, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite: subjects of tenant %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var subj string
		if err := rows.Scan(&subj); err != nil {
			return nil, fmt.Errorf("sqlite: subjects of tenant %s: %w", tenant, err)
		}
		out = append(out, subj)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: subjects of tenant %s: %w", tenant, err)
	}
	return out, nil
}
