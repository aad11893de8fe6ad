package rechargekit

import "context"

type correlationKey struct{}

// WithCorrelationID returns a context that carries the desk's correlation id
// (Gladly-Correlation-Id), so every log line and Recharge call made for one
// lookup can be tied back to it.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationID returns the correlation id carried by ctx, or "".
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}
