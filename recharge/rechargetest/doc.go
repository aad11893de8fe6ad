// Package rechargetest is an in-process simulator of the Recharge 2021-11
// REST API, for tests, benchmarks and demos.
//
// A Simulator is an http.Handler that answers like api.rechargeapps.com:
// the same routes, envelopes, key order ("id", then foreign keys, then the
// rest alphabetically), lowercase enums, string prices, "+00:00"
// timestamps, date-only schedule fields, cursor pagination in the real
// cursor format, the per-token leaky bucket with X-Recharge-Limit, the
// polymorphic error bodies, and signed webhooks. It keeps its own wire
// structs (wire.go) instead of the client's types, so that a bug in the
// client's decoding cannot be hidden by the same bug in the simulator, and
// it signs webhooks with its own code. LoadJSON loads captured response
// bodies, after which the simulator answers with them byte for byte.
//
// Test code usually starts it with NewServer, which returns an httptest
// server closed at the end of the test and a Client helper wired to it:
//
//	srv := rechargetest.NewServer(t, rechargetest.Config{})
//	srv.Load(rechargetest.DemoSeed())
//	client := srv.Client()
//
// # Routes
//
//	GET/POST /customers, GET/PUT/DELETE /customers/{id} (?include=addresses,payment_methods,subscriptions),
//	GET /customers/{id}/delivery_schedule
//	GET/POST /addresses, GET/PUT/DELETE /addresses/{id}
//	GET/POST /subscriptions, GET/PUT/DELETE /subscriptions/{id},
//	POST /subscriptions/{id}/cancel|activate|set_next_charge_date|change_address
//	GET /charges, GET /charges/{id}, POST /charges/{id}/skip|unskip|apply_discount|remove_discount
//	GET /orders, GET /orders/{id}
//	GET/POST /payment_methods, GET /payment_methods/{id}
//	GET /events
//	GET /retention_strategies
//	GET /products, GET /products/{external_product_id} (custom platform only)
//	GET /plans, GET /plans/{id}, GET /token_information, GET /store
//	GET/POST /webhooks, GET/PUT/DELETE /webhooks/{id}
//
// Checks run in this order: token (401 {"error":"bad authentication"}),
// X-Recharge-Version (missing or 2021-11; else 426), the leaky bucket (429
// {"errors":"Too many requests"}), the route (404 {"errors":"Not Found"},
// 405), the token's scopes (403), injected faults, then the route itself
// (415 for a body that is not a JSON object, 422 field maps for invalid
// input).
//
// Everything under /__sim/ is a test-control surface, kept apart from the
// Recharge API: it needs no token, is not rate limited, gets no latency or
// faults and is not counted in the statistics:
//
//	GET  /__sim/stats      the Stats as JSON
//	GET  /__sim/faults     the current Faults
//	POST /__sim/faults     set Faults (same JSON; {} clears; "delay":"250ms")
//	POST /__sim/reset      Reset: clear stats, faults and buckets (204)
//	GET  /__sim/customers  a summary of the customers (?limit=)
//	GET/POST /__sim/retention_strategies  the store's cancellation reasons;
//	                       POST replaces them with a JSON list of {"reason": ...}
//	POST /__sim/charges/{id}/process  process a queued or failed charge now,
//	                       {"outcome":"success"} or {"outcome":"error",
//	                       "error_type":"CARD_DECLINED"} (ProcessRequest)
//	GET  /__sim/images/... product pictures (ImagesPath, DemoSeedWithImages)
//
// # Decisions where Recharge's behaviour is not documented (spec section 17)
//
//   - The email filter of GET /customers is case-insensitive (an exact match
//     otherwise).
//   - limit above 250 is clamped to 250; below 1 or not an integer is a 422.
//   - A request that carries a cursor ignores every other filter and
//     sort_by (limit still applies).
//   - A 429 carries {"errors":"Too many requests"} and no Retry-After.
//   - An empty POST or PUT body counts as {}; any other body that is not a
//     JSON object gets 415.
//   - Cancelling a cancelled subscription is a 422 {"errors":{"subscription":
//     ["item already set to cancelled"]}}, like activating an active one.
//   - Deleting a customer deletes its addresses, subscriptions and charges;
//     deleting an address (without active subscriptions) deletes its
//     inactive subscriptions and unprocessed charges.
//   - Dates are UTC calendar days; GET /store reports the Etc/UTC timezone.
//   - Skipping moves each skipped subscription's next charge one interval on
//     and queues it there; skipping some lines of a merged charge splits them
//     into a new skipped charge. Unskipped lines rejoin the charge already
//     queued for that address and date, and the charge shows the pending
//     shipping placeholder until a regeneration quotes shipping again.
//   - Every other change of a subscription (create, PUT, cancel, activate,
//     set_next_charge_date, change_address) regenerates the queued charges
//     it leaves and joins: they are replaced by charges with new ids
//     (webhooks charge/deleted and charge/created), so a charge id read
//     before a change never works after it. Active subscriptions of one
//     address on one date (and currency) share one queued charge.
//   - A missing or blank cancellation_reason is a 422 (the texts are ours);
//     cancellation_reason_comments longer than 1024 characters is a 422.
//   - Activating restores the subscription's own schedule: the next date it
//     had when cancelled (else one interval after its last charge), rolled
//     forward by whole intervals past today.
//   - A frequency change through PUT drops the skips of that subscription
//     still ahead; with Config.RecalculateNextChargeDate it sets the next
//     date one new interval after the last charge (rolled past today),
//     otherwise the date stays (or returns to the earliest dropped skip).
//   - Processing a charge (a control call: the simulator has no scheduler)
//     succeeds or fails whatever its date. Success creates its order (order
//     id and number follow the charge id; external_order_name "#<number>"),
//     moves each subscription one interval past the charge's date (rolled
//     past today) and queues it there. A failure counts charge_attempts,
//     sets last_charge_attempt and a retry date three days on (a date after
//     odd attempts, a timestamp after even ones: both occur on Recharge),
//     and puts the customer in dunning; the sixth failure ends in
//     CLOSED_MAX_RETRIES_REACHED without a retry date, marks the
//     subscriptions max_retries_reached and ends the dunning. The store
//     setting that would then cancel them is not simulated.
//   - Webhooks of processing: charge/paid, order/created (then charge/created
//     and subscription/updated for the next charge); charge/failed (and
//     charge/max_retries_reached); customer/updated when the dunning flag
//     changes.
//   - Every change writes an event on the customer's timeline (GET /events,
//     newest first, no sort_by), except the charge bookkeeping of
//     regenerations (charge/created, updated, deleted). The source is the
//     API token by name (origin api, TokenName), Recharge itself for
//     processing (origin recharge), and, in seeds, the customer in the
//     portal (origin portal) or an admin (origin merchant, MerchantEmail).
//   - Payment methods carry fake processor tokens ("cus_simtok…",
//     "pm_simtok…") so that tests can grep answers, pages and logs for them.
//     POST /payment_methods takes payment_details from the body (the
//     simulator has no processor to ask) or makes a Visa up.
//   - Discount values are strings with two decimals; the store knows the
//     codes SAVE10 (10 %), FREESHIP (shipping) and those of its seeds. A
//     charge discount is lost when the charge regenerates; an address
//     discount is copied onto every charge of the address.
//
// The simulator is modelled on golang/pkgsite's internal/proxy/proxytest.
package rechargetest
