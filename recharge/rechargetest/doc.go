// Package rechargetest is an in-process simulator of the Recharge 2021-11
// REST API, for tests, benchmarks and demos.
//
// A Simulator is an http.Handler that answers like api.rechargeapps.com:
// the same routes, envelopes, key order, lowercase enums, string prices,
// "+00:00" timestamps, date-only schedule fields, cursor pagination in the
// real cursor format, the per-token leaky bucket with X-Recharge-Limit, the
// polymorphic error bodies, and signed webhooks. It keeps its own wire
// structs (see wire.go) instead of the client's types, so that a bug in the
// client's decoding cannot be hidden by the same bug in the simulator.
//
// Test code usually starts it with NewServer, which returns an httptest
// server closed at the end of the test and a Client helper wired to it:
//
//	srv := rechargetest.NewServer(t, rechargetest.Config{})
//	srv.Load(rechargetest.DemoSeed())
//	client := srv.Client()
//
// Everything under /__sim/ is a test-control surface, kept apart from the
// Recharge API: it needs no token, is not rate limited and is not counted in
// the Recharge statistics. GET /__sim/stats, POST /__sim/faults,
// POST /__sim/reset and GET /__sim/customers are available.
//
// Decisions where Recharge's behaviour is not documented (spec section 17):
//   - the email filter of GET /customers is case-insensitive (an exact match
//     otherwise);
//   - limit above 250 is clamped to 250; below 1 or not an integer is a 422;
//   - a request that carries a cursor ignores every other filter and the
//     sort_by parameter (limit still applies);
//   - a 429 carries the body {"errors":"Too many requests"} and no Retry-After;
//   - an empty POST or PUT body counts as {}; any other body that is not a
//     JSON object gets 415.
//
// The simulator is modelled on golang/pkgsite's internal/proxy/proxytest.
package rechargetest
