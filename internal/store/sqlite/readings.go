package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// insertChunk is how many readings one INSERT statement carries (13 parameters each).
// Multi-row statements cut the per-row cost of crossing into SQLite several-fold.
const insertChunk = 256

const readingCols = 13

func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR IGNORE INTO readings (id, tenant, subject, device, metric, kind, value, text, unit, measured, received, sum, flags) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
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
// so latest and last-seen are computed over the whole batch.
func (s *Store) InsertReadings(ctx context.Context, rs []reading.Reading) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	for i := range rs {
		if err := checkReading(&rs[i]); err != nil {
			return 0, fmt.Errorf("sqlite: insert readings: reading %d (%s): %w", i, rs[i].ID, err)
		}
	}
	stmts, err := s.insertStmts(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: insert %d readings: %w", len(rs), err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: insert %d readings: begin: %w", len(rs), err)
	}
	defer tx.Rollback()
	n, err := insertRows(ctx, stmts, tx, rs)
	if err != nil {
		return 0, fmt.Errorf("sqlite: insert %d readings: %w", len(rs), err)
	}
	if err := updateLatest(ctx, tx, rs); err != nil {
		return 0, fmt.Errorf("sqlite: insert %d readings: latest: %w", len(rs), err)
	}
	if err := updateLastSeen(ctx, tx, rs); err != nil {
		return 0, fmt.Errorf("sqlite: insert %d readings: device last seen: %w", len(rs), err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlite: insert %d readings: commit: %w", len(rs), err)
	}
	return n, nil
}

// checkReading rejects a reading that cannot be stored; its ID must match its tenant, device,
// metric and measured time, because idempotency is enforced on those columns.
func checkReading(r *reading.Reading) error {
	if math.IsNaN(r.Value) {
		return errors.New("value is NaN")
	}
	return r.Validate()
}

func insertRows(ctx context.Context, stmts map[int]*sql.Stmt, tx *sql.Tx, rs []reading.Reading) (int, error) {
	args := make([]any, 0, min(len(rs), insertChunk)*readingCols)
	total := 0
	for start := 0; start < len(rs); {
		// Chunks are powers of two up to insertChunk, so every statement is a cached prepared
		// one and no batch size makes SQLite parse SQL again.
		size := insertChunk
		for size > len(rs)-start {
			size /= 2
		}
		chunk := rs[start : start+size]
		args = args[:0]
		for i := range chunk {
			r := &chunk[i]
			var sum any
			if r.HasSum {
				sum = r.Sum
			}
			args = append(args, r.ID[:], r.Tenant, r.Subject, r.Device, r.Metric, int64(r.Kind), r.Value, r.Text,
				r.Unit, r.Measured.UnixNano(), nanos(r.Received), sum, int64(r.Flags))
		}
		res, err := tx.StmtContext(ctx, stmts[size]).ExecContext(ctx, args...)
		if err != nil {
			return 0, fmt.Errorf("readings %d..%d: %w", start, start+len(chunk)-1, err)
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

// insertStmts returns the prepared INSERTs of 1, 2, 4 … insertChunk rows on the writer
// connection, preparing them on first use. It must be called outside a transaction: the
// writer has one connection, which a transaction holds.
func (s *Store) insertStmts(ctx context.Context) (map[int]*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if s.stmts != nil {
		return s.stmts, nil
	}
	stmts := map[int]*sql.Stmt{}
	for n := 1; n <= insertChunk; n *= 2 {
		st, err := s.w.PrepareContext(ctx, insertSQL(n))
		if err != nil {
			for _, st := range stmts {
				st.Close()
			}
			return nil, fmt.Errorf("prepare insert of %d rows: %w", n, err)
		}
		stmts[n] = st
	}
	s.stmts = stmts
	return stmts, nil
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

func updateLatest(ctx context.Context, tx *sql.Tx, rs []reading.Reading) error {
	stmt, err := tx.PrepareContext(ctx, upsertLatestSQL)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for k, i := range newestPerSeries(rs) {
		r := &rs[i]
		if _, err := stmt.ExecContext(ctx, k.tenant, k.subject, k.metric, r.Device, int64(r.Kind), r.Value, r.Text,
			r.Unit, r.Measured.UnixNano(), nanos(r.Received), int64(r.Flags)); err != nil {
			return fmt.Errorf("subject %q metric %s: %w", k.subject, k.metric, err)
		}
	}
	return nil
}

func updateLastSeen(ctx context.Context, tx *sql.Tx, rs []reading.Reading) error {
	stmt, err := tx.PrepareContext(ctx, lastSeenSQL)
	if err != nil {
		return err
	}
	defer stmt.Close()
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

// Readings returns the subject's points of the metric in [q.From, q.To) in measured-time
// order (ties by device), at most q.Limit (0: 10,000). A zero From or To leaves that side open.
func (s *Store) Readings(ctx context.Context, q store.ReadingQuery) ([]store.Point, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	from, to := bounds(q)
	rows, err := s.r.QueryContext(ctx, `SELECT measured, received, device, metric, kind, value, text, unit, flags
		FROM readings WHERE tenant = ? AND subject = ? AND metric = ? AND measured >= ? AND measured < ?
		ORDER BY measured, device LIMIT ?`, q.Tenant, q.Subject, q.Metric, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: readings of %s in tenant %s: %w", q.Metric, q.Tenant, err)
	}
	defer rows.Close()
	var out []store.Point
	for rows.Next() {
		p, err := scanPoint(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: readings of %s in tenant %s: %w", q.Metric, q.Tenant, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: readings of %s in tenant %s: %w", q.Metric, q.Tenant, err)
	}
	return out, nil
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

// Buckets returns min, max, mean and count of the numeric (reading.Number) points of the
// metric in [q.From, q.To) per step, each bucket starting at a multiple of step since the
// Unix epoch (floored, also before 1970); empty buckets are left out. q.Limit is ignored.
func (s *Store) Buckets(ctx context.Context, q store.ReadingQuery, step time.Duration) ([]store.Bucket, error) {
	if step <= 0 {
		return nil, fmt.Errorf("sqlite: buckets of %s in tenant %s: step %v is not positive", q.Metric, q.Tenant, step)
	}
	from, to := bounds(q)
	st := int64(step)
	// Points come in index order (measured ascending), so buckets are closed as they are
	// passed: no sort, one pass, no temporary b-tree as a SQL GROUP BY on an expression needs.
	rows, err := s.r.QueryContext(ctx, `SELECT measured, value FROM readings
		WHERE tenant = ? AND subject = ? AND metric = ? AND measured >= ? AND measured < ? AND kind = ?
		ORDER BY measured`, q.Tenant, q.Subject, q.Metric, from, to, int64(reading.Number))
	if err != nil {
		return nil, fmt.Errorf("sqlite: buckets of %s in tenant %s: %w", q.Metric, q.Tenant, err)
	}
	defer rows.Close()
	var out []store.Bucket
	var cur store.Bucket
	var start int64
	var sum float64
	flush := func() {
		if cur.Count > 0 {
			cur.Start, cur.Mean = time.Unix(0, start).UTC(), sum/float64(cur.Count)
			out = append(out, cur)
		}
	}
	for rows.Next() {
		var m int64
		var v float64
		if err := rows.Scan(&m, &v); err != nil {
			return nil, fmt.Errorf("sqlite: buckets of %s in tenant %s: %w", q.Metric, q.Tenant, err)
		}
		b := m - ((m%st)+st)%st
		if cur.Count == 0 || b != start {
			flush()
			cur, start, sum = store.Bucket{Min: v, Max: v}, b, 0
		}
		cur.Min, cur.Max = min(cur.Min, v), max(cur.Max, v)
		cur.Count++
		sum += v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: buckets of %s in tenant %s: %w", q.Metric, q.Tenant, err)
	}
	flush()
	return out, nil
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
