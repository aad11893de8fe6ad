// Package recharge is a typed client for the Recharge 2021-11 REST API and
// the adapter (Source) that gives the rest of rechargekit customers,
// subscriptions and the card's details (next charges, payment, recent
// orders, addresses, events) in the domain's shapes. Source.ReadCard reads
// a whole card in four parallel calls; details.go says which and why.
//
// The client follows google/go-github: one Client with a service per API
// area, methods shaped (ctx, ids..., opts) (T, *Response, error), a Response
// that carries the cursors and the X-Recharge-Limit state, and every non-2xx
// answer turned into an *ErrorResponse that callers test with IsNotFound,
// IsRateLimited, IsUnauthorized, IsForbidden, IsValidation and
// IsPlatformUnsupported.
//
//	c := recharge.NewClient(os.Getenv("RECHARGE_API_TOKEN"))
//	cust, _, err := c.Customers.Get(ctx, 176728490, nil)
//	switch {
//	case recharge.IsNotFound(err):
//		// no such customer
//	case err != nil:
//		return err
//	}
//	for sub, err := range c.Subscriptions.All(ctx, &recharge.SubscriptionListOptions{CustomerID: cust.ID, Limit: 250}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(sub.ID, sub.Status, sub.ProductTitle, sub.NextChargeScheduledAt)
//	}
//
// What the client does on every call:
//
//   - It sends X-Recharge-Access-Token (the token, without "Bearer"),
//     X-Recharge-Version: 2021-11, Accept and a rechargekit User-Agent. The
//     token never appears in an error, a log line or a URL.
//   - It paces requests with a client-side leaky bucket (40 requests,
//     draining at 2 per second, like Recharge's own per-token bucket) and
//     fills it further when X-Recharge-Limit says other clients of the same
//     token are busy. WithLimiter swaps in a limiter shared by replicas.
//   - It retries, in one place (shouldRetry): reads on 429, 409, 5xx,
//     network errors and truncated bodies; writes only on 429 and 409, the
//     answers that say nothing was applied. Waits grow exponentially with
//     jitter, honour Retry-After, and never pass the context's deadline:
//     when the next wait would, the call gives up at once with the last
//     error, still recognisable by IsRateLimited and friends.
//   - With WithBreaker it stops calling a failing Recharge for a while:
//     after a run of failed attempts (5xx, no answer, truncated bodies)
//     calls fail at once with ErrBreakerOpen, for an interval that grows
//     while the failures last; one call at a time probes, bounded by
//     BreakerProbeTimeout. Health reports its state.
//   - It decodes leniently, through field types rather than per-resource
//     decoders: every field is optional, unknown fields are ignored, ids and
//     counts (Int64, Int) also accept numeric strings, money (Money) keeps
//     its text whether sent as a string or a number, flags (Bool) also
//     accept 1 and 0, and Time and Date accept every timestamp form seen in
//     captured payloads.
//
// Lists return one page (List) or iterate over all of them (All, an
// iter.Seq2). All sends the caller's filters on the first request and only
// cursor and limit afterwards, because Recharge's cursor already encodes
// them, and stops when next_cursor is null or empty.
//
// Webhooks: ValidateWebhook (or a WebhookVerifier) checks the timestamped
// X-Recharge-Webhook-Signature form whenever a delivery carries it, and the
// legacy X-Recharge-Hmac-Sha256 header otherwise (a legacy-only delivery can
// be replayed: see WebhookVerifier.Verify), and ParseWebhook decodes the
// payload.
// SignWebhook and SignWebhookTimestamped produce real signatures for tests
// and for the simulator in package rechargetest.
//
// Decisions worth knowing:
//
//   - Hand-made payloads with string ids (the fixture
//     more_than_one_customer_returned) decode: "176728490" becomes
//     176728490. A string that is not an integer is a decode error.
//   - ErrorResponse.Message prefixes each message with its field
//     ("email: email already exists on store"), except for the "_schema"
//     pseudo-field, and drops repeated lines. Gladly's app shows the
//     messages without the field; ErrorResponse.Fields has them per field.
//   - A decode error on a GET is retried only when the body is cut off or
//     not JSON; well-formed JSON of an unexpected shape is not retried, as
//     asking again would give the same answer.
package recharge
