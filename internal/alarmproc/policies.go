package alarmproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/store"
)

// PolicyDoc is the API shape of an escalation policy (alarms.md §10.1), durations in seconds.
type PolicyDoc struct {
	ID              string       `json:"id"`
	Units           []string     `json:"units,omitempty"`
	Kinds           []alarm.Kind `json:"kinds,omitempty"`
	Codes           []alarm.Code `json:"codes,omitempty"`
	Priorities      []string     `json:"priorities,omitempty"` // high | medium | low
	Tiers           []TierDoc    `json:"tiers"`
	RenotifyS       int64        `json:"renotify_s"`
	ReAlarmAfterAck int64        `json:"realarm_after_ack_s"`
	AssessWithinS   int64        `json:"assess_within_s,omitempty"` // NEWS2 assessment timer (alarms.md §7); 0: the default
	Version         int          `json:"version,omitempty"`         // set by the server
	Default         bool         `json:"default,omitempty"`         // a built-in policy (read-only)
}

// TierDoc is one tier of a PolicyDoc.
type TierDoc struct {
	OffsetS    int64                 `json:"offset_s"`
	Recipients []alarm.RecipientRule `json:"recipients"`
}

// PoliciesView is a tenant's policies as the API shows them: its own (versioned) and the
// built-in defaults that apply where none of its own matches.
type PoliciesView struct {
	Version  int         `json:"version"` // 0: the tenant has defined none
	Policies []PolicyDoc `json:"policies"`
	Defaults []PolicyDoc `json:"defaults"`
}

func docOf(p alarm.Policy) PolicyDoc {
	d := PolicyDoc{ID: p.ID, Units: p.Units, Kinds: p.Kinds, Codes: p.Codes, Version: p.Version,
		RenotifyS: int64(p.Renotify / time.Second), ReAlarmAfterAck: int64(p.ReAlarmAfterAck / time.Second),
		AssessWithinS: int64(p.AssessWithin / time.Second)}
	for _, pr := range p.Priorities {
		d.Priorities = append(d.Priorities, lower(pr.String()))
	}
	for _, t := range p.Tiers {
		d.Tiers = append(d.Tiers, TierDoc{OffsetS: int64(t.Offset / time.Second), Recipients: t.Recipients})
	}
	return d
}

func policyOf(tenant string, version int, d PolicyDoc) (alarm.Policy, error) {
	p := alarm.Policy{ID: d.ID, Version: version, Tenant: tenant, Units: d.Units, Kinds: d.Kinds, Codes: d.Codes,
		Renotify: time.Duration(d.RenotifyS) * time.Second, ReAlarmAfterAck: time.Duration(d.ReAlarmAfterAck) * time.Second,
		AssessWithin: time.Duration(d.AssessWithinS) * time.Second}
	for _, s := range d.Priorities {
		var pr alarm.Priority
		if err := pr.UnmarshalText([]byte(upper(s))); err != nil {
			return p, fmt.Errorf("policy %q: priority %q: want high, medium or low", d.ID, s)
		}
		p.Priorities = append(p.Priorities, pr)
	}
	for _, t := range d.Tiers {
		p.Tiers = append(p.Tiers, alarm.Tier{Offset: time.Duration(t.OffsetS) * time.Second, Recipients: t.Recipients})
	}
	return p, p.Validate()
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// ErrInvalidPolicy wraps every validation problem of a policy save.
var ErrInvalidPolicy = errors.New("invalid escalation policy")

// loadPolicies reads every tenant's policies and returns them with the defaults after them
// (a tenant's own policy is more specific than any default, alarm.Policies.Select).
func loadPolicies(ctx context.Context, st Store) (alarm.Policies, map[string]int, error) {
	docs, err := st.AlarmPolicies(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load escalation policies: %w", err)
	}
	var out alarm.Policies
	versions := map[string]int{}
	for _, d := range docs {
		var ps []alarm.Policy
		if err := json.Unmarshal(d.JSON, &ps); err != nil {
			return nil, nil, fmt.Errorf("load escalation policies of %s: %w", d.Tenant, err)
		}
		for i := range ps {
			ps[i].Tenant, ps[i].Version = d.Tenant, d.Version
		}
		out = append(out, ps...)
		versions[d.Tenant] = d.Version
	}
	return append(out, alarm.DefaultPolicies()...), versions, nil
}

func (s *Service) currentPolicies() alarm.Policies { return *s.policies.Load() }

// Policies returns tenant's escalation policies for the API.
func (s *Service) Policies(tenant string) PoliciesView {
	v := PoliciesView{Policies: []PolicyDoc{}, Defaults: []PolicyDoc{}}
	for _, p := range s.currentPolicies() {
		switch p.Tenant {
		case tenant:
			v.Version = p.Version
			v.Policies = append(v.Policies, docOf(p))
		case "":
			d := docOf(p)
			d.Default = true
			v.Defaults = append(v.Defaults, d)
		}
	}
	s.mu.Lock()
	if ver := s.policyVersions[tenant]; ver > v.Version {
		v.Version = ver // the tenant saved an empty list
	}
	s.mu.Unlock()
	return v
}

// SavePolicies replaces tenant's escalation policies with docs as version (the shown version
// + 1; store.ErrConflict when somebody saved in between) and puts them into effect for alarms
// announced from now on. Errors wrap ErrInvalidPolicy for a document that does not validate.
func (s *Service) SavePolicies(ctx context.Context, tenant string, version int, docs []PolicyDoc, by string, at time.Time) error {
	ps := make([]alarm.Policy, 0, len(docs))
	var errs []error
	for _, d := range docs {
		p, err := policyOf(tenant, version, d)
		if err != nil {
			errs = append(errs, err)
		}
		if slices.ContainsFunc(ps, func(q alarm.Policy) bool { return q.ID == d.ID }) {
			errs = append(errs, fmt.Errorf("policy id %q is used twice", d.ID))
		}
		ps = append(ps, p)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	doc, err := json.Marshal(ps)
	if err != nil {
		return fmt.Errorf("encode escalation policies: %w", err)
	}
	if err := s.cfg.Store.SaveAlarmPolicies(ctx, store.AlarmPolicyDoc{Tenant: tenant, Version: version, JSON: doc, UpdatedBy: by, UpdatedAt: at}); err != nil {
		return err
	}
	if err := s.reloadPolicies(ctx); err != nil {
		return err
	}
	if s.cfg.Bus != nil { // the other nodes, the engine's among them
		if err := s.cfg.Bus.Broadcast(topicPolicies, []byte(tenant)); err != nil {
			s.log.Warn("tell the other nodes about new escalation policies", "err", err)
		}
	}
	return nil
}

func (s *Service) reloadPolicies(ctx context.Context) error {
	all, versions, err := loadPolicies(ctx, s.cfg.Store)
	if err != nil {
		return err
	}
	if s.leading.Load() {
		if err := s.eng.Load().SetPolicies(ctx, all); err != nil {
			return fmt.Errorf("apply escalation policies: %w", err)
		}
	}
	s.policies.Store(&all)
	s.mu.Lock()
	s.policyVersions = versions
	s.mu.Unlock()
	return nil
}
