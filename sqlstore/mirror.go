package sqlstore

// PLACEHOLDER: replaced by the mirror-store branch; these methods only
// let the tree build while the mirror is written.

import (
	"context"
	"time"

	"github.com/rechargekit/rechargekit"
)

var errMirrorTODO = rechargekit.Errorf(rechargekit.EINTERNAL, "The mirror is not built yet.")

func (s *Store) PutMirror(ctx context.Context, recs []*rechargekit.MirrorRecord) ([]int64, error) {
	return nil, errMirrorTODO
}
func (s *Store) DeleteMirror(ctx context.Context, resource string, id int64, at time.Time) (int64, error) {
	return 0, errMirrorTODO
}
func (s *Store) MirroredCustomer(ctx context.Context, customerID int64) ([]*rechargekit.MirrorRecord, error) {
	return nil, errMirrorTODO
}
func (s *Store) SearchMirror(ctx context.Context, keys []rechargekit.SearchKey, limit int) ([]*rechargekit.MirrorHit, error) {
	return nil, errMirrorTODO
}
func (s *Store) MirrorCheckpoint(ctx context.Context, resource string) (*rechargekit.MirrorCheckpoint, error) {
	return nil, errMirrorTODO
}
func (s *Store) SetMirrorCheckpoint(ctx context.Context, cp *rechargekit.MirrorCheckpoint) error {
	return errMirrorTODO
}
func (s *Store) MirrorStats(ctx context.Context) (*rechargekit.MirrorStats, error) {
	return nil, errMirrorTODO
}
func (s *Store) PurgeMirror(ctx context.Context) error { return errMirrorTODO }
func (s *Store) AcquireMirrorLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (bool, *rechargekit.MirrorLease, error) {
	return false, nil, errMirrorTODO
}
func (s *Store) ReleaseMirrorLease(ctx context.Context, holder string) error { return errMirrorTODO }
