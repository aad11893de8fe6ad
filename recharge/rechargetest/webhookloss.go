package rechargetest

import (
	"bytes"
	"net/http"
	"slices"
)

// WebhookLoss makes the simulator lose webhook deliveries, as a network or
// a receiver down for a while would, so that tests can show what
// reconciliation heals: the change is made and answered as usual, but its
// webhook is never sent (Stats.WebhooksLost counts them).
type WebhookLoss struct {
	// Next loses the next Next deliveries, whatever their topic.
	Next int `json:"next,omitempty"`
	// Topics loses every delivery of these topics (e.g.
	// "subscription/updated") until the loss is cleared.
	Topics []string `json:"topics,omitempty"`
}

// LoseWebhooks replaces the webhook loss; the zero WebhookLoss (or Reset)
// delivers everything again.
func (s *Simulator) LoseWebhooks(l WebhookLoss) {
	l.Topics = slices.Clone(l.Topics)
	s.ctl.Lock()
	s.loss = l
	s.ctl.Unlock()
}

// WebhookLosses returns the webhook loss still to apply: the deliveries
// left to lose and the topics lost.
func (s *Simulator) WebhookLosses() WebhookLoss {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	l := s.loss
	l.Topics = slices.Clone(l.Topics)
	return l
}

// lose removes the deliveries to lose from ds and counts them.
func (s *Simulator) lose(ds []*delivery) []*delivery {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	if s.loss.Next == 0 && len(s.loss.Topics) == 0 {
		return ds
	}
	kept := ds[:0]
	for _, dl := range ds {
		switch {
		case slices.Contains(s.loss.Topics, dl.topic):
		case s.loss.Next > 0:
			s.loss.Next--
		default:
			kept = append(kept, dl)
			continue
		}
		s.stats.WebhooksLost++
	}
	return kept
}

// hookFailed counts a failed delivery attempt to a registered webhook and
// deletes the registration after Config.WebhookDeleteAfter in a row, as
// Recharge does; ok resets the count. It reports whether the registration
// was deleted now.
func (s *Simulator) hookFailed(hook int64, ok bool) bool {
	if hook == 0 {
		return false
	}
	s.ctl.Lock()
	if ok {
		delete(s.hookFailures, hook)
		s.ctl.Unlock()
		return false
	}
	s.hookFailures[hook]++
	n := s.hookFailures[hook]
	if n < s.cfg.WebhookDeleteAfter {
		s.ctl.Unlock()
		return false
	}
	delete(s.hookFailures, hook)
	s.ctl.Unlock()

	s.mu.Lock()
	w := s.st.webhooks[hook]
	delete(s.st.webhooks, hook)
	s.mu.Unlock()
	if w == nil {
		return false
	}
	s.addStat(func(st *Stats) { st.WebhooksDeleted++ })
	s.log.Warn("recharge simulator: webhook deleted after failed deliveries", "webhook_id", hook, "topic", w.Topic, "failures", n)
	return true
}

// hookExists reports whether a delivery's registration is still there
// (always true for Config.WebhookURL).
func (s *Simulator) hookExists(hook int64) bool {
	if hook == 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.webhooks[hook] != nil
}

// listPage says whether a request was a list page answered with a 200
// (whose body, written by listQuery.respond, starts with its cursor), and
// names the page: the route and its cursor, or, for a first page, the
// route and its query.
func listPage(r *http.Request, pattern string, resp response) (string, bool) {
	if resp.status != http.StatusOK || r.Method != http.MethodGet || !bytes.HasPrefix(resp.body, []byte(`{"next_cursor":`)) {
		return "", false
	}
	q := r.URL.Query()
	if c := q.Get("cursor"); c != "" {
		return pattern + " cursor=" + c, true
	}
	q.Del("limit")
	return pattern + " ?" + q.Encode(), true
}
