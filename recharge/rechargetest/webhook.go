package rechargetest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Webhook headers, as Recharge sends them (spec section 13).
const (
	headerTopic              = "X-Recharge-Topic"
	headerHmacSha256         = "X-Recharge-Hmac-Sha256"
	headerWebhookTimestamp   = "X-Recharge-Webhook-Timestamp"
	headerWebhookSignature   = "X-Recharge-Webhook-Signature"
	maxWebhookBackoff        = time.Minute
	webhookResponseBodyLimit = 64 << 10
)

// The simulator signs with its own code, written from the spec, and the
// tests check the result with the client's recharge.SignWebhook and
// recharge.SignWebhookTimestamped, so that one cannot hide a bug of the
// other.

// legacySignature is hex(SHA-256(secret || body)): not an HMAC, despite the
// header's name.
func legacySignature(secret string, body []byte) string {
	sum := sha256.Sum256(append([]byte(secret), body...))
	return hex.EncodeToString(sum[:])
}

// timestampedSignature is "t=<unix>,v1=<hex(HMAC-SHA256(secret, "<unix>." + body))>".
func timestampedSignature(secret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// event is one change to announce: its topic and the body GET would give.
type event struct {
	topic string
	body  []byte
	at    time.Time
}

// delivery is one event for one receiver.
type delivery struct {
	url     string
	hook    int64 // the registration (POST /webhooks); 0 for Config.WebhookURL
	topic   string
	body    []byte
	attempt int // attempts made so far
}

// target is one receiver of an event: Config.WebhookURL (hook 0) or a
// registered webhook.
type target struct {
	url  string
	hook int64
}

// deliverer posts webhooks from one background goroutine, started with the
// first delivery, in the order of the changes; a failed attempt is retried
// after a doubling backoff, up to Config.WebhookMaxAttempts attempts.
type deliverer struct {
	s      *Simulator
	client *http.Client

	mu      sync.Mutex
	queue   []*delivery
	timers  map[*time.Timer]struct{}
	started bool
	closed  bool

	// observe, when set (by tests, before the first delivery), is called
	// after each attempt has been counted.
	observe func(dl *delivery, ok bool)

	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newDeliverer(s *Simulator) *deliverer {
	ctx, cancel := context.WithCancel(context.Background())
	return &deliverer{
		s:      s,
		client: &http.Client{Timeout: s.cfg.WebhookTimeout},
		timers: map[*time.Timer]struct{}{},
		wake:   make(chan struct{}, 1),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
	}
}

// targets lists the receivers of an event: Config.WebhookURL (when a
// secret is set too) and the webhooks registered for the topic. It runs
// with Simulator.mu held.
func (s *Simulator) targets(topic string) []target {
	var out []target
	if s.cfg.WebhookURL != "" && s.cfg.WebhookSecret != "" {
		out = append(out, target{url: s.cfg.WebhookURL})
	}
	return append(out, s.st.hookTargets(topic)...)
}

func (d *deliverer) enqueue(ds []*delivery) {
	ds = d.s.lose(ds)
	if len(ds) == 0 {
		return
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.queue = append(d.queue, ds...)
	if !d.started {
		d.started = true
		go d.run()
	}
	d.mu.Unlock()
	d.s.addStat(func(st *Stats) { st.WebhooksQueued += len(ds) })
	d.poke()
}

func (d *deliverer) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *deliverer) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		var next *delivery
		if len(d.queue) > 0 {
			next = d.queue[0]
			d.queue = d.queue[1:]
		}
		d.mu.Unlock()
		if next == nil {
			select {
			case <-d.wake:
				continue
			case <-d.ctx.Done():
				return
			}
		}
		d.deliver(next)
		if d.ctx.Err() != nil {
			return
		}
	}
}

func (d *deliverer) deliver(dl *delivery) {
	if !d.s.hookExists(dl.hook) { // deleted since the change
		d.s.addStat(func(st *Stats) { st.WebhooksDropped++ })
		return
	}
	dl.attempt++
	ok := d.post(dl)
	deleted := d.s.hookFailed(dl.hook, ok)
	d.s.addStat(func(st *Stats) {
		st.WebhookAttempts++
		switch {
		case ok:
			st.WebhooksDelivered++
		case deleted || dl.attempt >= d.s.cfg.WebhookMaxAttempts:
			st.WebhookFailures++
			st.WebhooksDropped++
		default:
			st.WebhookFailures++
		}
	})
	if d.observe != nil {
		d.observe(dl, ok)
	}
	if ok || deleted || dl.attempt >= d.s.cfg.WebhookMaxAttempts {
		if !ok && !deleted {
			d.s.log.Warn("recharge simulator: webhook dropped", "topic", dl.topic, "attempts", dl.attempt)
		}
		return
	}
	wait := d.s.cfg.WebhookBackoff << (dl.attempt - 1)
	if wait <= 0 || wait > maxWebhookBackoff {
		wait = maxWebhookBackoff
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(wait, func() {
		d.mu.Lock()
		delete(d.timers, t)
		if d.closed {
			d.mu.Unlock()
			return
		}
		d.queue = append(d.queue, dl)
		d.mu.Unlock()
		d.poke()
	})
	d.timers[t] = struct{}{}
}

// post makes one attempt; a 2xx is a success, anything else (another
// status, a timeout, a refused connection) a failure.
func (d *deliverer) post(dl *delivery) bool {
	req, err := http.NewRequestWithContext(d.ctx, http.MethodPost, dl.url, bytes.NewReader(dl.body))
	if err != nil {
		return false
	}
	secret := d.s.cfg.WebhookSecret
	now := d.s.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Recharge-Webhooks (rechargekit simulator)")
	req.Header.Set(headerTopic, dl.topic)
	req.Header.Set(headerHmacSha256, legacySignature(secret, dl.body))
	req.Header.Set(headerWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(headerWebhookSignature, timestampedSignature(secret, dl.body, now))
	resp, err := d.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, webhookResponseBodyLimit))
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// close stops the goroutine and the retry timers and waits for the
// goroutine to end; queued deliveries are dropped.
func (d *deliverer) close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	started := d.started
	for t := range d.timers {
		t.Stop()
	}
	clear(d.timers)
	d.queue = nil
	d.mu.Unlock()
	d.cancel()
	if started {
		<-d.done
	}
}
