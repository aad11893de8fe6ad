package recharge

import (
	"context"
	"iter"
	"net/url"
)

// RetentionStrategiesService reads the store's retention strategies: its
// own list of cancellation reasons, each with an optional save offer (spec
// recharge-actions section 1.1). Reading them needs read_subscriptions.
// Offer the reasons verbatim when cancelling, so that the store's churn
// reports stay clean.
type RetentionStrategiesService struct{ client *Client }

// RetentionStrategy is one of the store's cancellation reasons.
type RetentionStrategy struct {
	ID     Int64  `json:"id"`
	Reason String `json:"reason"`
	// PreventionText is what the customer is shown to keep them.
	PreventionText String `json:"prevention_text"`
	// IncentiveType is delay_subscription, discount, skip_charge,
	// swap_product, or empty when there is no offer.
	IncentiveType String `json:"incentive_type"`
	DiscountCode  String `json:"discount_code"`
	// CancellationFlowType is subscription or membership.
	CancellationFlowType String `json:"cancellation_flow_type"`
	CreatedAt            Time   `json:"created_at"`
	UpdatedAt            Time   `json:"updated_at"`
}

// RetentionStrategyListOptions pages GET /retention_strategies.
type RetentionStrategyListOptions struct {
	SortBy string // id-desc (default), id-asc, ...
	Limit  int    // page size, at most 250 (default 50)
	Cursor string
}

func (o *RetentionStrategyListOptions) values() url.Values {
	q := query{}
	if o == nil {
		return url.Values(q)
	}
	q.str("sort_by", o.SortBy)
	q.page(o.Limit, o.Cursor)
	return url.Values(q)
}

// List returns one page of retention strategies; Response.NextCursor leads
// to the next.
func (s *RetentionStrategiesService) List(ctx context.Context, opts *RetentionStrategyListOptions) ([]*RetentionStrategy, *Response, error) {
	return listPage[RetentionStrategy](ctx, s.client, "/retention_strategies", opts.values(), "retention_strategies")
}

// All iterates over every retention strategy, following the cursors.
func (s *RetentionStrategiesService) All(ctx context.Context, opts *RetentionStrategyListOptions) iter.Seq2[*RetentionStrategy, error] {
	return listAll[RetentionStrategy](ctx, s.client, "/retention_strategies", opts.values(), "retention_strategies")
}
