package rechargetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Retention strategies (spec recharge-actions section 1.1): the store's own
// list of cancellation reasons, each with an optional save offer. Agents
// offer these reasons verbatim so that the store's churn reports stay clean.

// RetentionStrategy is one of the store's cancellation reasons, as a seed,
// as the body of POST /__sim/retention_strategies, and (with an id and
// timestamps added) as GET /retention_strategies answers it. Only Reason is
// required.
type RetentionStrategy struct {
	Reason string `json:"reason"`
	// PreventionText is what the customer portal shows to keep the
	// customer; "" means null.
	PreventionText string `json:"prevention_text,omitempty"`
	// IncentiveType is delay_subscription, discount, skip_charge,
	// swap_product or "" (none).
	IncentiveType string `json:"incentive_type,omitempty"`
	// DiscountCode goes with the discount incentive; "" means null.
	DiscountCode string `json:"discount_code,omitempty"`
	// CancellationFlowType is subscription (default) or membership.
	CancellationFlowType string `json:"cancellation_flow_type,omitempty"`
}

var (
	incentiveTypes = []string{"delay_subscription", "discount", "skip_charge", "swap_product"}
	flowTypes      = []string{"subscription", "membership"}
)

// validate checks a strategy as Recharge's admin would: a reason, and the
// enums of spec section 1.1.
func (rs RetentionStrategy) validate() error {
	if strings.TrimSpace(rs.Reason) == "" {
		return errors.New("a retention strategy needs a reason")
	}
	if rs.IncentiveType != "" && !slices.Contains(incentiveTypes, rs.IncentiveType) {
		return fmt.Errorf("incentive_type %q is not one of %s", rs.IncentiveType, strings.Join(incentiveTypes, ", "))
	}
	if rs.CancellationFlowType != "" && !slices.Contains(flowTypes, rs.CancellationFlowType) {
		return fmt.Errorf("cancellation_flow_type %q is not one of %s", rs.CancellationFlowType, strings.Join(flowTypes, ", "))
	}
	return nil
}

// retentionJSON is a retention strategy on the wire.
type retentionJSON struct {
	ID                   int64   `json:"id"`
	CancellationFlowType string  `json:"cancellation_flow_type"`
	CreatedAt            stamp   `json:"created_at"`
	DiscountCode         *string `json:"discount_code"`
	IncentiveType        *string `json:"incentive_type"`
	PreventionText       *string `json:"prevention_text"`
	Reason               string  `json:"reason"`
	UpdatedAt            stamp   `json:"updated_at"`
}

// setRetention replaces the store's retention strategies; ids ascend in
// the given order. It runs with Simulator.mu held.
func (st *store) setRetention(list []RetentionStrategy, now time.Time) {
	st.retention = st.retention[:0]
	for _, rs := range list {
		flow := rs.CancellationFlowType
		if flow == "" {
			flow = "subscription"
		}
		st.retention = append(st.retention, &retentionJSON{
			ID:                   st.nextID(kindRetention),
			CancellationFlowType: flow,
			CreatedAt:            sec(now),
			DiscountCode:         optStr(rs.DiscountCode),
			IncentiveType:        optStr(rs.IncentiveType),
			PreventionText:       optStr(rs.PreventionText),
			Reason:               rs.Reason,
			UpdatedAt:            sec(now),
		})
	}
}

// SetRetentionStrategies replaces the store's retention strategies (the
// reasons GET /retention_strategies lists). An empty list means the store
// has none. A strategy without a reason, or with an unknown incentive or
// flow type, is an error and changes nothing.
func (s *Simulator) SetRetentionStrategies(list []RetentionStrategy) error {
	for i, rs := range list {
		if err := rs.validate(); err != nil {
			return fmt.Errorf("retention strategy %d: %w", i+1, err)
		}
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.setRetention(list, now)
	return nil
}

// RetentionStrategies returns the store's retention strategies in id order.
func (s *Simulator) RetentionStrategies() []RetentionStrategy {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RetentionStrategy, 0, len(s.st.retention))
	for _, r := range s.st.retention {
		out = append(out, RetentionStrategy{Reason: r.Reason, PreventionText: deref(r.PreventionText),
			IncentiveType: deref(r.IncentiveType), DiscountCode: deref(r.DiscountCode), CancellationFlowType: r.CancellationFlowType})
	}
	return out
}

// listRetentionStrategies is GET /retention_strategies, a cursor-paged
// list like the others.
func (c *call) listRetentionStrategies() response {
	lq, resp, ok := parseList(retentionSpec, c.r.URL.Query())
	if !ok {
		return resp
	}
	items := make([]listItem, 0, len(c.s.st.retention))
	for _, r := range c.s.st.retention {
		if set := lq.f.set("ids"); set != nil && !set[r.ID] {
			continue
		}
		items = append(items, listItem{id: r.ID, created: r.CreatedAt.Time, updated: r.UpdatedAt.Time, obj: r})
	}
	return lq.respond(items)
}

// serveRetentionControl is GET and POST /__sim/retention_strategies: POST
// takes a JSON list of RetentionStrategy (at least {"reason": "..."}) and
// replaces the store's list with it; both answer the list now in force.
func (s *Simulator) serveRetentionControl(w http.ResponseWriter, r *http.Request, write func(int, any)) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		var list []RetentionStrategy
		b, err := readAllLimited(r, maxBody)
		if err == nil {
			err = json.Unmarshal(b, &list)
		}
		if err == nil && list == nil {
			err = errors.New("the body must be a JSON list")
		}
		if err == nil {
			err = s.SetRetentionStrategies(list)
		}
		if err != nil {
			write(http.StatusBadRequest, map[string]string{"errors": "invalid retention strategies: " + err.Error()})
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		write(http.StatusMethodNotAllowed, map[string]string{"errors": "Method Not Allowed"})
		return
	}
	write(http.StatusOK, map[string]any{"retention_strategies": s.RetentionStrategies()})
}
