package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// deviceSeries identifies a row of device_series, as seriesKey one of subject_series.
type deviceSeries struct{ tenant, device, metric string }

// deviceSeriesID is a device series' id and the unit its readings store as NULL.
type deviceSeriesID struct {
	id   int64
	unit string
}

// seriesLink is a row of series_links.
type seriesLink struct{ ssid, dsid int64 }

// seriesRef is where one reading goes: its device and subject series, the unit of the former,
// and its measured time; i is the reading's index in the batch.
type seriesRef struct {
	dsid, ssid int64
	measured   int64
	unit       string
	i          int
}

// seriesCache holds series ids and links committed to the database. Series and link rows are
// never changed or deleted, so an entry never goes stale, also when other processes write the
// same file. It is safe for concurrent use.
type seriesCache struct {
	mu     sync.Mutex
	device map[deviceSeries]deviceSeriesID
	subj   map[seriesKey]int64
	links  map[seriesLink]struct{}
}

// newSeries collects what a batch needs that is not cached: series ids (resolved by resolve)
// and links.
type newSeries struct {
	device map[deviceSeries]deviceSeriesID
	subj   map[seriesKey]int64
	links  map[seriesLink]struct{}
	first  map[deviceSeries]int // index of the first reading of each new device series, for its unit
	todo   []int                // readings whose refs lack an id
}

// lookup returns the refs of rs as far as the cache knows them, and what is missing (nil when
// nothing is).
func (c *seriesCache) lookup(rs []reading.Reading) ([]seriesRef, *newSeries) {
	refs := make([]seriesRef, len(rs))
	var ns *newSeries
	need := func() {
		if ns == nil {
			ns = &newSeries{device: map[deviceSeries]deviceSeriesID{}, subj: map[seriesKey]int64{},
				links: map[seriesLink]struct{}{}, first: map[deviceSeries]int{}}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range rs {
		r := &rs[i]
		dk, sk := deviceSeries{r.Tenant, r.Device, r.Metric}, seriesKey{r.Tenant, r.Subject, r.Metric}
		d, okD := c.device[dk]
		ss, okS := c.subj[sk]
		refs[i] = seriesRef{dsid: d.id, ssid: ss, measured: r.Measured.UnixNano(), unit: d.unit, i: i}
		if okD && okS {
			if l := (seriesLink{ss, d.id}); !hasKey(c.links, l) {
				need()
				ns.links[l] = struct{}{}
			}
			continue
		}
		need()
		ns.todo = append(ns.todo, i)
		if _, seen := ns.first[dk]; !okD && !seen {
			ns.first[dk] = i
		}
		if !okS {
			ns.subj[sk] = 0
		}
	}
	return refs, ns
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

// add caches ns, which must have been committed; ns may be nil.
func (c *seriesCache) add(ns *newSeries) {
	if ns == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.device == nil {
		c.device, c.subj, c.links = map[deviceSeries]deviceSeriesID{}, map[seriesKey]int64{}, map[seriesLink]struct{}{}
	}
	maps.Copy(c.device, ns.device)
	maps.Copy(c.subj, ns.subj)
	maps.Copy(c.links, ns.links)
}

// resolve finds or creates, within tx, each series in ns, completes refs, and records the
// links of the batch; a new device series takes the unit of its first reading in rs. The
// writer's transactions begin IMMEDIATE, so no other writer can create a series between the
// SELECT and the INSERT.
func (ns *newSeries) resolve(ctx context.Context, tx *sql.Tx, rs []reading.Reading, refs []seriesRef) error {
	for k, i := range ns.first {
		var d deviceSeriesID
		err := tx.QueryRowContext(ctx, "SELECT dsid, unit FROM device_series WHERE tenant = ? AND device = ? AND metric = ?",
			k.tenant, k.device, k.metric).Scan(&d.id, &d.unit)
		if errors.Is(err, sql.ErrNoRows) {
			d.unit = rs[i].Unit
			err = tx.QueryRowContext(ctx, "INSERT INTO device_series (tenant, device, metric, unit) VALUES (?, ?, ?, ?) RETURNING dsid",
				k.tenant, k.device, k.metric, d.unit).Scan(&d.id)
		}
		if err != nil {
			return fmt.Errorf("device %s metric %s: %w", k.device, k.metric, err)
		}
		ns.device[k] = d
	}
	for k := range ns.subj {
		var id int64
		err := tx.QueryRowContext(ctx, "SELECT ssid FROM subject_series WHERE tenant = ? AND subject = ? AND metric = ?",
			k.tenant, k.subject, k.metric).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.QueryRowContext(ctx, "INSERT INTO subject_series (tenant, subject, metric) VALUES (?, ?, ?) RETURNING ssid",
				k.tenant, k.subject, k.metric).Scan(&id)
		}
		if err != nil {
			return fmt.Errorf("subject series of metric %s: %w", k.metric, err) // no subject: it may identify a patient
		}
		ns.subj[k] = id
	}
	for _, i := range ns.todo {
		r := &rs[i]
		if d, ok := ns.device[deviceSeries{r.Tenant, r.Device, r.Metric}]; ok {
			refs[i].dsid, refs[i].unit = d.id, d.unit
		}
		if id, ok := ns.subj[seriesKey{r.Tenant, r.Subject, r.Metric}]; ok {
			refs[i].ssid = id
		}
		ns.links[seriesLink{refs[i].ssid, refs[i].dsid}] = struct{}{}
	}
	for l := range ns.links {
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO series_links (ssid, dsid) VALUES (?, ?)", l.ssid, l.dsid); err != nil {
			return fmt.Errorf("link of series %d and %d: %w", l.ssid, l.dsid, err)
		}
	}
	return nil
}
