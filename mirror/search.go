package mirror

import (
	"context"

	"github.com/rechargekit/rechargekit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/search"
)

// SearchCustomers finds customers in the mirror by normalised keys (see
// the search package): ok is false, with no error, until the backfill is
// complete, so the caller asks Recharge meanwhile. Each match says which
// key found it. Errors: EINVALID, EUPSTREAM (the database failed).
func (m *Mirror) SearchCustomers(ctx context.Context, keys []rechargekit.SearchKey, limit int) ([]*rechargekit.Match, bool, error) {
	if usable, _, _ := m.mirrorState(ctx); !usable {
		return nil, false, nil
	}
	hits, err := m.store.SearchMirror(ctx, keys, limit)
	if err != nil {
		return nil, true, storeError(err)
	}
	out := make([]*rechargekit.Match, 0, len(hits))
	for _, h := range hits {
		recs, err := m.store.MirroredCustomer(ctx, h.CustomerID)
		if rechargekit.ErrorCode(err) == rechargekit.ENOTFOUND {
			continue // deleted since the search
		}
		if err != nil {
			return nil, true, storeError(err)
		}
		d, err := cardData(recs)
		if err != nil {
			return nil, true, storeError(err)
		}
		out = append(out, &rechargekit.Match{
			Customer: recharge.DomainCustomer(d.Customer),
			By:       search.MatchKind(h.Key.Kind),
			Value:    h.Key.Value,
		})
	}
	return out, true, nil
}

// storeError keeps EINVALID and makes any other failure of the mirror's
// database EUPSTREAM, as CustomerIndex says.
func storeError(err error) error {
	if rechargekit.ErrorCode(err) == rechargekit.EINVALID {
		return err
	}
	return rechargekit.WrapError(rechargekit.EUPSTREAM, "The mirror's database could not be searched.", err)
}
