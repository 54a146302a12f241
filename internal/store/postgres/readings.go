package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

const insertReadingsSQL = `INSERT INTO readings (id, tenant, subject, device, metric, kind, value, text, unit, measured, received, sum, flags)
SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[], $7::float8[],
	$8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::float8[], $13::integer[])
ON CONFLICT DO NOTHING`

const upsertLatestSQL = `INSERT INTO latest AS l (tenant, subject, metric, device, kind, value, text, unit, measured, received, flags)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::float8[], $7::text[],
	$8::text[], $9::bigint[], $10::bigint[], $11::integer[])
ON CONFLICT (tenant, subject, metric) DO UPDATE SET device = excluded.device, kind = excluded.kind,
	value = excluded.value, text = excluded.text, unit = excluded.unit, measured = excluded.measured,
	received = excluded.received, flags = excluded.flags
WHERE excluded.measured > l.measured`

const lastSeenSQL = `UPDATE devices AS d SET last_seen = greatest(d.last_seen, u.seen)
FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u (tenant, id, seen)
WHERE d.tenant = u.tenant AND d.id = u.id`

// InsertReadings stores the readings not stored yet (by ID) in one transaction, keeps each
// subject's latest value per metric and each device's last-seen time, and returns how many
// were new. The three statements are pipelined in one round trip; rows are sent sorted by key
// so that concurrent writers lock index entries in the same order and cannot deadlock.
// A redelivered reading cannot be newer than what is stored (its ID covers tenant, device,
// metric and measured time), so latest and last-seen are computed over the whole batch.
func (s *Store) InsertReadings(ctx context.Context, rs []reading.Reading) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	for i := range rs {
		if err := checkReading(&rs[i]); err != nil {
			return 0, fmt.Errorf("postgres: insert readings: reading %d (%s): %w", i, rs[i].ID, err)
		}
	}
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(insertReadingsSQL, readingArgs(rs)...)
		b.Queue(upsertLatestSQL, latestArgs(rs)...)
		b.Queue(lastSeenSQL, lastSeenArgs(rs)...)
		res := tx.SendBatch(ctx, b)
		tag, err := res.Exec()
		if err != nil {
			res.Close()
			return fmt.Errorf("insert: %w", err)
		}
		n = tag.RowsAffected()
		if _, err := res.Exec(); err != nil {
			res.Close()
			return fmt.Errorf("latest: %w", err)
		}
		if _, err := res.Exec(); err != nil {
			res.Close()
			return fmt.Errorf("device last seen: %w", err)
		}
		return res.Close()
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: insert %d readings: %w", len(rs), err)
	}
	return int(n), nil
}

// checkReading rejects a reading that cannot be stored; its ID must match its tenant, device,
// metric and measured time, because idempotency is enforced on those columns.
func checkReading(r *reading.Reading) error {
	if math.IsNaN(r.Value) {
		return errors.New("value is NaN")
	}
	return r.Validate()
}

func readingArgs(rs []reading.Reading) []any {
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := &rs[i], &rs[j]
		return cmp.Or(strings.Compare(a.Tenant, b.Tenant), strings.Compare(a.Device, b.Device),
			strings.Compare(a.Metric, b.Metric), a.Measured.Compare(b.Measured))
	})
	n := len(rs)
	ids := make([][]byte, n)
	tenants, subjects, devices, metrics := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	kinds, flags := make([]int16, n), make([]int32, n)
	values := make([]float64, n)
	sums := make([]*float64, n)
	texts, units := make([]string, n), make([]string, n)
	measured, received := make([]int64, n), make([]int64, n)
	for k, i := range order {
		r := &rs[i]
		ids[k] = r.ID[:]
		tenants[k], subjects[k], devices[k], metrics[k] = r.Tenant, r.Subject, r.Device, r.Metric
		kinds[k], values[k], texts[k], units[k] = int16(r.Kind), r.Value, r.Text, r.Unit
		measured[k], received[k], flags[k] = r.Measured.UnixNano(), nanos(r.Received), int32(r.Flags)
		if r.HasSum {
			sums[k] = &r.Sum
		}
	}
	return []any{ids, tenants, subjects, devices, metrics, kinds, values, texts, units, measured, received, sums, flags}
}

type seriesKey struct{ tenant, subject, metric string }

func latestArgs(rs []reading.Reading) []any {
	newest := make(map[seriesKey]int)
	for i := range rs {
		k := seriesKey{rs[i].Tenant, rs[i].Subject, rs[i].Metric}
		if j, ok := newest[k]; !ok || rs[i].Measured.After(rs[j].Measured) {
			newest[k] = i
		}
	}
	keys := make([]seriesKey, 0, len(newest))
	for k := range newest {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b seriesKey) int {
		return cmp.Or(strings.Compare(a.tenant, b.tenant), strings.Compare(a.subject, b.subject), strings.Compare(a.metric, b.metric))
	})
	n := len(keys)
	tenants, subjects, metrics, devices := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	kinds, flags := make([]int16, n), make([]int32, n)
	values := make([]float64, n)
	texts, units := make([]string, n), make([]string, n)
	measured, received := make([]int64, n), make([]int64, n)
	for k, key := range keys {
		r := &rs[newest[key]]
		tenants[k], subjects[k], metrics[k], devices[k] = key.tenant, key.subject, key.metric, r.Device
		kinds[k], values[k], texts[k], units[k] = int16(r.Kind), r.Value, r.Text, r.Unit
		measured[k], received[k], flags[k] = r.Measured.UnixNano(), nanos(r.Received), int32(r.Flags)
	}
	return []any{tenants, subjects, metrics, devices, kinds, values, texts, units, measured, received, flags}
}

type deviceKey struct{ tenant, device string }

func lastSeenArgs(rs []reading.Reading) []any {
	seen := make(map[deviceKey]int64)
	for i := range rs {
		k := deviceKey{rs[i].Tenant, rs[i].Device}
		if t := nanos(rs[i].Received); t > seen[k] {
			seen[k] = t
		}
	}
	keys := make([]deviceKey, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b deviceKey) int {
		return cmp.Or(strings.Compare(a.tenant, b.tenant), strings.Compare(a.device, b.device))
	})
	tenants, ids, times := make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		tenants[i], ids[i], times[i] = k.tenant, k.device, seen[k]
	}
	return []any{tenants, ids, times}
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
	rows, err := s.pool.Query(ctx, `SELECT measured, received, device, metric, kind, value, text, unit, flags
		FROM readings WHERE tenant = $1 AND subject = $2 AND metric = $3 AND measured >= $4 AND measured < $5
		ORDER BY measured, device LIMIT $6`, q.Tenant, q.Subject, q.Metric, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: readings of %s in tenant %s: %w", q.Metric, q.Tenant, err)
	}
	out, err := pgx.CollectRows(rows, scanPoint)
	if err != nil {
		return nil, fmt.Errorf("postgres: readings of %s in tenant %s: %w", q.Metric, q.Tenant, err)
	}
	return out, nil
}

func scanPoint(r pgx.CollectableRow) (store.Point, error) {
	var p store.Point
	var measured, received int64
	var kind int16
	var flags int32
	if err := r.Scan(&measured, &received, &p.Device, &p.Metric, &kind, &p.Value, &p.Text, &p.Unit, &flags); err != nil {
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
		return nil, fmt.Errorf("postgres: buckets of %s in tenant %s: step %v is not positive", q.Metric, q.Tenant, step)
	}
	from, to := bounds(q)
	rows, err := s.pool.Query(ctx, `SELECT measured - ((measured % $1) + $1) % $1 AS b, min(value), max(value), avg(value), count(*)
		FROM readings WHERE tenant = $2 AND subject = $3 AND metric = $4 AND measured >= $5 AND measured < $6 AND kind = $7
		GROUP BY b ORDER BY b`, int64(step), q.Tenant, q.Subject, q.Metric, from, to, int16(reading.Number))
	if err != nil {
		return nil, fmt.Errorf("postgres: buckets of %s in tenant %s: %w", q.Metric, q.Tenant, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Bucket, error) {
		var b store.Bucket
		var start int64
		err := r.Scan(&start, &b.Min, &b.Max, &b.Mean, &b.Count)
		b.Start = time.Unix(0, start).UTC()
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: buckets of %s in tenant %s: %w", q.Metric, q.Tenant, err)
	}
	return out, nil
}

// Latest returns the newest reading of each metric of the subject, by metric.
func (s *Store) Latest(ctx context.Context, tenant, subject string) ([]store.Point, error) {
	rows, err := s.pool.Query(ctx, `SELECT measured, received, device, metric, kind, value, text, unit, flags
		FROM latest WHERE tenant = $1 AND subject = $2 ORDER BY metric`, tenant, subject)
	if err != nil {
		return nil, fmt.Errorf("postgres: latest in tenant %s: %w", tenant, err)
	}
	out, err := pgx.CollectRows(rows, scanPoint)
	if err != nil {
		return nil, fmt.Errorf("postgres: latest in tenant %s: %w", tenant, err)
	}
	return out, nil
}

// Subjects lists, sorted, the non-empty subjects of tenant that have readings.
func (s *Store) Subjects(ctx context.Context, tenant string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT subject FROM latest WHERE tenant = $1 AND subject <> '' ORDER BY subject`, tenant)
	if err != nil {
		return nil, fmt.Errorf("postgres: subjects of tenant %s: %w", tenant, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: subjects of tenant %s: %w", tenant, err)
	}
	return out, nil
}
