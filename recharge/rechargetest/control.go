package rechargetest

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The test-control surface under /__sim/. It needs no token, is not rate
// limited, gets no latency or faults and is not counted in Stats.
//
//	GET  /__sim/stats      the Stats as JSON
//	GET  /__sim/faults     the current Faults
//	POST /__sim/faults     set Faults (the body is Faults as JSON; {} clears)
//	POST /__sim/reset      Reset: clear stats, faults, webhook losses and
//	                       buckets (204)
//	GET  /__sim/webhooks/lose  the webhook loss still to apply
//	POST /__sim/webhooks/lose  lose webhook deliveries: {"next": 3} the next
//	                       three, {"topics": ["subscription/updated"]}
//	                       every one of a topic; {} delivers all again
//	                       (see WebhookLoss)
//	GET  /__sim/customers  a summary of the customers (?limit=, default all)
//	GET  /__sim/retention_strategies  the store's retention strategies
//	POST /__sim/retention_strategies  replace them (a JSON list of
//	                       {"reason": "..."}, see RetentionStrategy)
//	POST /__sim/charges/{id}/process  process a queued or failed charge
//	                       now: {"outcome":"success"} or {"outcome":"error",
//	                       "error_type":"CARD_DECLINED"} (see ProcessRequest)
//	GET  /__sim/images/... product pictures (see ImagesPath)
func (s *Simulator) serveControl(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, ImagesPath) {
		s.serveImage(w, r)
		return
	}
	write := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(encodeJSON(v))
	}
	methodNotAllowed := func(allow string) {
		w.Header().Set("Allow", allow)
		write(http.StatusMethodNotAllowed, map[string]string{"errors": "Method Not Allowed"})
	}
	switch r.URL.Path {
	case "/__sim/stats":
		if r.Method != http.MethodGet {
			methodNotAllowed("GET")
			return
		}
		write(http.StatusOK, s.Stats())
	case "/__sim/faults":
		switch r.Method {
		case http.MethodGet:
			s.ctl.Lock()
			f := s.faults
			s.ctl.Unlock()
			write(http.StatusOK, f)
		case http.MethodPost:
			var f Faults
			if err := decodeControl(r, &f); err != nil {
				write(http.StatusBadRequest, map[string]string{"errors": "invalid faults: " + err.Error()})
				return
			}
			if f.Rate < 0 || f.Rate > 1 || f.Count < 0 || f.Delay < 0 || (f.Status != 0 && (f.Status < 100 || f.Status > 599)) {
				write(http.StatusBadRequest, map[string]string{"errors": "invalid faults: rate must be 0..1, count and delay non-negative, status 100..599"})
				return
			}
			s.SetFaults(f)
			write(http.StatusOK, f)
		default:
			methodNotAllowed("GET, POST")
		}
	case "/__sim/reset":
		if r.Method != http.MethodPost {
			methodNotAllowed("POST")
			return
		}
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	case "/__sim/webhooks/lose":
		switch r.Method {
		case http.MethodGet:
			write(http.StatusOK, s.WebhookLosses())
		case http.MethodPost:
			var l WebhookLoss
			if err := decodeControl(r, &l); err != nil {
				write(http.StatusBadRequest, map[string]string{"errors": "invalid webhook loss: " + err.Error()})
				return
			}
			if l.Next < 0 {
				write(http.StatusBadRequest, map[string]string{"errors": "invalid webhook loss: next must not be negative"})
				return
			}
			s.LoseWebhooks(l)
			write(http.StatusOK, s.WebhookLosses())
		default:
			methodNotAllowed("GET, POST")
		}
	case "/__sim/retention_strategies":
		s.serveRetentionControl(w, r, write)
	case "/__sim/customers":
		if r.Method != http.MethodGet {
			methodNotAllowed("GET")
			return
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		write(http.StatusOK, map[string]any{"customers": s.customerSummaries(limit)})
	default:
		if rest, ok := strings.CutPrefix(r.URL.Path, "/__sim/charges/"); ok {
			s.serveProcess(w, r, rest)
			return
		}
		write(http.StatusNotFound, map[string]string{"errors": "Not Found"})
	}
}

// decodeControl reads a control request's JSON body into v; an empty body
// leaves v as it is.
func decodeControl(r *http.Request, v any) error {
	b, err := readAllLimited(r, maxBody)
	if err == nil && len(b) > 0 {
		err = json.Unmarshal(b, v)
	}
	return err
}

// CustomerSummary is one line of GET /__sim/customers: enough to pick demo
// accounts to look up.
type CustomerSummary struct {
	ID                  int64  `json:"id"`
	Email               string `json:"email"`
	FirstName           string `json:"first_name"`
	LastName            string `json:"last_name"`
	Phone               string `json:"phone,omitempty"`
	ExternalCustomerID  string `json:"external_customer_id,omitempty"`
	SubscriptionsTotal  int    `json:"subscriptions_total_count"`
	SubscriptionsActive int    `json:"subscriptions_active_count"`
}

// Customers returns a summary of the customers in ascending id order; limit
// <= 0 means all.
func (s *Simulator) Customers(limit int) []CustomerSummary { return s.customerSummaries(limit) }

func (s *Simulator) customerSummaries(limit int) []CustomerSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.st.customers))
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]CustomerSummary, 0, len(ids))
	for _, id := range ids {
		c := s.st.customers[id]
		out = append(out, CustomerSummary{
			ID: c.ID, Email: c.Email, FirstName: c.FirstName, LastName: c.LastName,
			Phone: deref(c.Phone), ExternalCustomerID: c.ExternalCustomerID.value(),
			SubscriptionsTotal: c.SubscriptionsTotalCount, SubscriptionsActive: c.SubscriptionsActiveCount,
		})
	}
	return out
}
