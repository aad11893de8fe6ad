// Package metrics exports rechargekit's events to Prometheus: it implements
// rechargekit.Metrics with client_golang collectors on a registry of its own
// and serves them, with the Go runtime and process metrics, from Handler
// (mounted at GET /metrics by the server).
//
// Every label value comes from a small fixed set (desks, levels, outcomes,
// routes with ids replaced, HTTP statuses, webhook topics), never from
// customer data, request text or secrets.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rechargekit/rechargekit"
)

// Latency buckets, in seconds. Lookups span a warm answer (well under a
// millisecond) to a cold one at Gladly's 15 s limit; Recharge calls and
// rate-limit waits span a fast answer to a retry's wait.
var (
	lookupBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15}
	callBuckets   = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	waitBuckets   = []float64{.001, .01, .1, .25, .5, 1, 2.5, 5, 10}
)

// delayedWait is the wait for the rate budget that counts as a delay:
// long enough that scheduling and GC pauses on a busy machine do not.
const delayedWait = 10 * time.Millisecond

// Registry holds rechargekit's collectors. Create it with New; it is safe
// for concurrent use.
type Registry struct {
	reg *prometheus.Registry

	lookups         *prometheus.CounterVec
	lookupSeconds   *prometheus.HistogramVec
	calls           *prometheus.CounterVec
	callSeconds     *prometheus.HistogramVec
	waitSeconds     prometheus.Histogram
	delayed         prometheus.Counter
	cache           *prometheus.CounterVec
	webhooks        *prometheus.CounterVec
	webhookTopicsOK map[string]bool
	signIns         *prometheus.CounterVec

	mirrorWritten   *prometheus.CounterVec
	mirrorApplied   *prometheus.CounterVec
	mirrorRecreated *prometheus.CounterVec
}

var _ rechargekit.Metrics = (*Registry)(nil)

// New returns a registry with every rechargekit metric, the Go runtime's and
// the process's. webhookTopics are the topics counted by name; any other
// topic is counted as "other", so that a caller cannot grow the label set.
func New(webhookTopics []string) *Registry {
	m := &Registry{
		reg: prometheus.NewRegistry(),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rechargekit_lookups_total",
			Help: "Card lookups answered to a desk, by desk (gladly, console, api), level (BASIC, DETAILED, card) and outcome (ok, stale, not_found, unavailable, refused, bad_request, error).",
		}, []string{"desk", "level", "outcome"}),
		lookupSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rechargekit_lookup_duration_seconds",
			Help:    "Time to answer a card lookup, inside rechargekit, by desk and level.",
			Buckets: lookupBuckets,
		}, []string{"desk", "level"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rechargekit_recharge_requests_total",
			Help: "HTTP requests to Recharge (each attempt, retries included), by route and status; status 0 means no complete answer (network error, timeout, truncated body).",
		}, []string{"route", "status"}),
		callSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rechargekit_recharge_request_duration_seconds",
			Help:    "Time for one request to Recharge, by route.",
			Buckets: callBuckets,
		}, []string{"route"}),
		waitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rechargekit_recharge_rate_limit_wait_seconds",
			Help:    "Time each request to Recharge waited for the token's rate budget before it was sent.",
			Buckets: waitBuckets,
		}),
		delayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rechargekit_recharge_rate_limit_delays_total",
			Help: "Requests to Recharge that had to wait for the token's rate budget.",
		}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rechargekit_card_cache_total",
			Help: "Card cache events: hit (served from the cache within its TTL), miss (a fetch from Recharge started), shared (a lookup joined a fetch in progress), stale (a card past its TTL served because Recharge failed; the lookup also counted miss or shared), refresh (a background refresh started).",
		}, []string{"result"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rechargekit_webhooks_total",
			Help: "Recharge webhook deliveries, by topic and outcome (accepted, bad_signature, bad_request, failed); \"unknown\" is the topic of a delivery refused before its signature was checked, \"other\" a topic outside the card topics.",
		}, []string{"topic", "outcome"}),
		webhookTopicsOK: make(map[string]bool, len(webhookTopics)),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rechargekit_console_sign_ins_total",
			Help: "Console sign-in attempts, by outcome: ok, wrong (email and password did not match), limited (refused after too many failures from that address or for that account). A rise in wrong or limited is password guessing.",
		}, []string{"outcome"}),
		mirrorWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rechargekit_mirror_records_written_total",
			Help: "Records the mirror's backfill and reconciliation wrote, by resource (customers, addresses, subscriptions, charges, payment_methods, events).",
		}, []string{"resource"}),
		mirrorApplied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rechargekit_mirror_webhooks_applied_total",
			Help: "Webhook payloads applied to the mirror, by outcome: applied, ignored_older (the mirror held a newer version), deleted, failed.",
		}, []string{"outcome"}),
		mirrorRecreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rechargekit_mirror_webhooks_recreated_total",
			Help: "Webhook registrations Recharge had deleted (it does after 20 failed deliveries) that the mirror re-created, by topic; \"other\" is a topic outside the card topics.",
		}, []string{"topic"}),
	}
	for _, o := range []string{rechargekit.SignInOK, rechargekit.SignInWrong, rechargekit.SignInLimited} {
		m.signIns.WithLabelValues(o) // present at 0, so that a rate alert has a series from the start
	}
	for _, t := range webhookTopics {
		m.webhookTopicsOK[t] = true
	}
	m.reg.MustRegister(
		m.lookups, m.lookupSeconds, m.calls, m.callSeconds, m.waitSeconds, m.delayed, m.cache, m.webhooks, m.signIns,
		m.mirrorWritten, m.mirrorApplied, m.mirrorRecreated,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the registry in Prometheus's text format (or OpenMetrics,
// when the scraper asks for it).
func (m *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Register adds another collector, e.g. a gauge read from a component at
// scrape time.
func (m *Registry) Register(c prometheus.Collector) error { return m.reg.Register(c) }

// Lookup implements rechargekit.Metrics.
func (m *Registry) Lookup(desk, level, outcome string, took time.Duration) {
	m.lookups.WithLabelValues(desk, level, outcome).Inc()
	m.lookupSeconds.WithLabelValues(desk, level).Observe(took.Seconds())
}

// RechargeCall implements rechargekit.Metrics.
func (m *Registry) RechargeCall(route string, status int, took time.Duration) {
	m.calls.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.callSeconds.WithLabelValues(route).Observe(took.Seconds())
}

// RateLimitWait implements rechargekit.Metrics.
func (m *Registry) RateLimitWait(took time.Duration) {
	m.waitSeconds.Observe(took.Seconds())
	if took >= delayedWait {
		m.delayed.Inc()
	}
}

// CardCache implements rechargekit.Metrics.
func (m *Registry) CardCache(result string) { m.cache.WithLabelValues(result).Inc() }

// Webhook implements rechargekit.Metrics.
func (m *Registry) Webhook(topic, outcome string) {
	if !m.webhookTopicsOK[topic] && topic != "unknown" {
		topic = "other"
	}
	m.webhooks.WithLabelValues(topic, outcome).Inc()
}

// SignIn implements rechargekit.Metrics.
func (m *Registry) SignIn(outcome string) { m.signIns.WithLabelValues(outcome).Inc() }

// MirrorRecords implements mirror.Metrics: records the backfill or a
// reconciliation wrote.
func (m *Registry) MirrorRecords(resource string, n int64) {
	if !rechargekit.IsMirrorResource(resource) {
		resource = "other"
	}
	m.mirrorWritten.WithLabelValues(resource).Add(float64(n))
}

// MirrorWebhookApplied implements mirror.Metrics: one webhook payload
// applied to the mirror, and how.
func (m *Registry) MirrorWebhookApplied(outcome string) {
	switch outcome {
	case "applied", "ignored_older", "deleted", "failed":
	default:
		outcome = "other"
	}
	m.mirrorApplied.WithLabelValues(outcome).Inc()
}

// MirrorWebhookRecreated implements mirror.Metrics: a webhook registration
// Recharge had deleted, re-created.
func (m *Registry) MirrorWebhookRecreated(topic string) {
	if !m.webhookTopicsOK[topic] {
		topic = "other"
	}
	m.mirrorRecreated.WithLabelValues(topic).Inc()
}

// MirrorView is what the mirror's gauges read at each scrape.
type MirrorView struct {
	State   string           // rechargekit.MirrorOff, MirrorSyncing, MirrorReady, MirrorBehind
	Percent float64          // how far the backfill is, 0..100
	Records map[string]int64 // held, by resource
}

// MirrorGauges returns the collector of the mirror's gauges, read from
// view at each scrape: rechargekit_mirror_state{state} (1 for the current
// state, 0 for the others, like the other state gauges),
// rechargekit_mirror_records{resource} (the records held) and
// rechargekit_mirror_backfill_percent.
func MirrorGauges(view func() MirrorView) prometheus.Collector {
	return &mirrorGauges{
		view:    view,
		state:   prometheus.NewDesc("rechargekit_mirror_state", "The local mirror of the store's Recharge data: 1 for the current state (off: every card is read from Recharge; syncing: the backfill is running; ready: complete and current; behind: complete, but the last reconciliation is overdue or failed), 0 for the others.", []string{"state"}, nil),
		records: prometheus.NewDesc("rechargekit_mirror_records", "Records the mirror holds, by resource.", []string{"resource"}, nil),
		percent: prometheus.NewDesc("rechargekit_mirror_backfill_percent", "How far the mirror's backfill is, 0 to 100 (100 once it is complete).", nil, nil),
	}
}

// mirrorStates are the states of rechargekit_mirror_state.
var mirrorStates = []string{rechargekit.MirrorOff, rechargekit.MirrorSyncing, rechargekit.MirrorReady, rechargekit.MirrorBehind}

type mirrorGauges struct {
	view                    func() MirrorView
	state, records, percent *prometheus.Desc
}

func (g *mirrorGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.state
	ch <- g.records
	ch <- g.percent
}

func (g *mirrorGauges) Collect(ch chan<- prometheus.Metric) {
	v := g.view()
	for _, s := range mirrorStates {
		n := 0.0
		if s == v.State {
			n = 1
		}
		ch <- prometheus.MustNewConstMetric(g.state, prometheus.GaugeValue, n, s)
	}
	if v.State == rechargekit.MirrorOff {
		return
	}
	for _, r := range rechargekit.MirrorResources {
		ch <- prometheus.MustNewConstMetric(g.records, prometheus.GaugeValue, float64(v.Records[r]), r)
	}
	ch <- prometheus.MustNewConstMetric(g.percent, prometheus.GaugeValue, v.Percent)
}

// StateGauge returns a collector for a component's current state: at each
// scrape it reads state() and reports name{state="<it>"} 1, and 0 for every
// other of the states, so that an alert can watch one series per state.
func StateGauge(name, help string, states []string, state func() string) prometheus.Collector {
	return &stateGauge{
		desc:   prometheus.NewDesc(name, help, []string{"state"}, nil),
		states: states,
		state:  state,
	}
}

type stateGauge struct {
	desc   *prometheus.Desc
	states []string
	state  func() string
}

func (g *stateGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *stateGauge) Collect(ch chan<- prometheus.Metric) {
	cur := g.state()
	for _, s := range g.states {
		v := 0.0
		if s == cur {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v, s)
	}
}
