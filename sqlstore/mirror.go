package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rechargekit/rechargekit"
)

// The mirror lives in four tables (migrations/0004_mirror.sql):
// mirror_records holds each Recharge object's JSON by (resource, id),
// mirror_keys the normalised values that find its customer, one row per
// key, mirror_checkpoints where each resource's backfill and
// reconciliation stand, and mirror_lease the replica that syncs.
//
// Which of two writes of one record wins is decided by the upsert itself
// (ON CONFLICT ... DO UPDATE ... WHERE stored.updated_at < ...), which
// PostgreSQL evaluates against the newest committed row after waiting for
// a racing writer, and which SQLite runs one writer at a time: the newer
// version ends up stored whatever the order of the commits.
//
// A deletion leaves a tombstone: the record's row stays with deleted set,
// an empty doc, no keys, and the deletion's time as its updated_at, so the
// same upsert refuses a late delivery of any version up to the deletion
// (Recharge delivers at least once and in no order) and only a strictly
// later one revives the record: Recharge never reuses an id, so a later
// version is a genuine change made after the deletion. Every read skips
// tombstones; a purge removes them with the rest.

// mirrorRecordsPerTimeout is how many records PutMirror writes per
// store timeout it allows itself.
const mirrorRecordsPerTimeout = 50

// maxSearchKeys bounds the keys of one search (a query fits a handful).
const maxSearchKeys = 100

// prefixEnd follows every folded name that starts with a prefix: value >=
// prefix AND value < prefix+prefixEnd is the prefix as an index range,
// compared byte by byte (SQLite's BINARY, PostgreSQL's "C" collation).
// U+10FFFF is the highest code point, and its UTF-8 encoding is above that
// of every other one.
const prefixEnd = "\U0010FFFF"

// searchKinds are the kinds of search keys the mirror stores.
var searchKinds = []string{rechargekit.KeyEmail, rechargekit.KeyPhone, rechargekit.KeyName, rechargekit.KeyZip,
	rechargekit.KeyCustomerID, rechargekit.KeyExternalID}

// resourceOrder orders a customer's records as MirrorResources lists the
// resources.
var resourceOrder = func() string {
	var b strings.Builder
	b.WriteString("CASE resource")
	for i, r := range rechargekit.MirrorResources {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", r, i)
	}
	b.WriteString(" END")
	return b.String()
}()

func checkResource(resource string) error {
	if !rechargekit.IsMirrorResource(resource) {
		return rechargekit.Errorf(rechargekit.EINVALID, "%q is not a mirrored Recharge resource.", resource)
	}
	return nil
}

// checkSearchKey rejects a key of an unknown kind, or a value the
// databases cannot hold or compare alike (empty, invalid UTF-8, control
// characters, over rechargekit.MaxTextLength bytes).
func checkSearchKey(k rechargekit.SearchKey) error {
	switch {
	case !slices.Contains(searchKinds, k.Kind):
		return rechargekit.Errorf(rechargekit.EINVALID, "%q is not a kind of search key.", k.Kind)
	case k.Value == "" || len(k.Value) > rechargekit.MaxTextLength || !isText(k.Value):
		return rechargekit.Errorf(rechargekit.EINVALID, "A %s search key must be one line of valid UTF-8 text of 1 to %d bytes.",
			k.Kind, rechargekit.MaxTextLength)
	}
	return nil
}

// validateMirrorRecord reports, with EINVALID, what is wrong with a record
// before it is written.
func validateMirrorRecord(r *rechargekit.MirrorRecord) error {
	switch {
	case r == nil:
		return rechargekit.Errorf(rechargekit.EINVALID, "A mirrored record is required.")
	case !rechargekit.IsMirrorResource(r.Resource):
		return checkResource(r.Resource)
	case r.ID <= 0:
		return rechargekit.Errorf(rechargekit.EINVALID, "A mirrored %s record needs a positive id, not %d.", r.Resource, r.ID)
	case r.CustomerID <= 0:
		return rechargekit.Errorf(rechargekit.EINVALID, "Mirrored %s %d needs a positive customer id, not %d.", r.Resource, r.ID, r.CustomerID)
	case r.Resource == rechargekit.MirrorCustomers && r.CustomerID != r.ID:
		return rechargekit.Errorf(rechargekit.EINVALID, "Mirrored customer %d must have its own id as its customer id, not %d.", r.ID, r.CustomerID)
	case len(r.Doc) == 0:
		return rechargekit.Errorf(rechargekit.EINVALID, "Mirrored %s %d has an empty document.", r.Resource, r.ID)
	}
	for _, k := range r.Keys {
		if err := checkSearchKey(k); err != nil {
			return err
		}
	}
	return nil
}

// PutMirror implements rechargekit.MirrorStore. The batch's statements are
// prepared once for its transaction, and records are written in (resource,
// id) order, so that two batches sharing records lock them in one order on
// PostgreSQL; a record given twice is written in the order given.
func (s *Store) PutMirror(ctx context.Context, recs []*rechargekit.MirrorRecord) ([]int64, error) {
	for _, r := range recs {
		if err := validateMirrorRecord(r); err != nil {
			return nil, err
		}
	}
	changed := []int64{}
	if len(recs) == 0 {
		return changed, nil
	}
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, func(a, b *rechargekit.MirrorRecord) int {
		return cmp.Or(strings.Compare(a.Resource, b.Resource), cmp.Compare(a.ID, b.ID))
	})
	// A live card's write-through (a few dozen records) keeps the
	// store's timeout; a backfill page of 250 gets five times it.
	err := s.writeScaled(ctx, (len(sorted)+mirrorRecordsPerTimeout-1)/mirrorRecordsPerTimeout, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		gone, err := deletedCustomers(ctx, tx, sorted)
		if err != nil {
			return err
		}
		w, err := prepareMirrorWriter(ctx, tx)
		if err != nil {
			return err
		}
		defer w.close()
		for _, r := range sorted {
			// A deleted customer's records are deleted with it, held or
			// not: one of them is written again only when it changed
			// after the customer's deletion.
			if deleted, ok := gone[r.CustomerID]; ok && r.Resource != rechargekit.MirrorCustomers && !truncate(r.UpdatedAt).After(deleted) {
				continue
			}
			wrote, err := w.put(ctx, r, now)
			if err != nil {
				return fmt.Errorf("write %s %d: %w", r.Resource, r.ID, err)
			}
			if wrote {
				changed = append(changed, r.CustomerID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("write %d mirrored records", len(recs)), err)
	}
	slices.Sort(changed)
	return slices.Compact(changed), nil
}

// deletedCustomersChunk bounds the ids of one query of deletedCustomers,
// well below either database's limit of parameters.
const deletedCustomersChunk = 500

// deletedCustomers returns when each customer of recs that the mirror
// holds as a tombstone was deleted. On PostgreSQL a customer deleted by a
// transaction that commits while this one writes is not seen: a record of
// it written in that instant by another replica stays, hidden from cards
// (its customer is not found) but not from a search, until the next
// deletion or purge.
func deletedCustomers(ctx context.Context, tx *sql.Tx, recs []*rechargekit.MirrorRecord) (map[int64]time.Time, error) {
	var ids []any
	seen := map[int64]bool{}
	for _, r := range recs {
		if r.Resource != rechargekit.MirrorCustomers && !seen[r.CustomerID] {
			seen[r.CustomerID] = true
			ids = append(ids, r.CustomerID)
		}
	}
	gone := map[int64]time.Time{}
	for chunk := range slices.Chunk(ids, deletedCustomersChunk) {
		marks := make([]string, len(chunk))
		for i := range chunk {
			marks[i] = fmt.Sprintf("$%d", i+2)
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, updated_at FROM mirror_records
			WHERE resource = $1 AND deleted AND id IN (`+strings.Join(marks, ", ")+`)`,
			append([]any{rechargekit.MirrorCustomers}, chunk...)...)
		if err != nil {
			return nil, fmt.Errorf("read deleted customers: %w", err)
		}
		for rows.Next() {
			var (
				id int64
				at time.Time
			)
			if err := rows.Scan(&id, scanTime{&at}); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read deleted customers: %w", err)
			}
			gone[id] = at
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("read deleted customers: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read deleted customers: %w", err)
		}
	}
	return gone, nil
}

// mirrorWriter is PutMirror's statements, prepared in its transaction:
// a record's keys are inserted by one statement, prepared once for each
// number of keys the batch has.
type mirrorWriter struct {
	tx                                  *sql.Tx
	upsert, refresh, readKeys, dropKeys *sql.Stmt
	addKeys                             map[int]*sql.Stmt
}

func prepareMirrorWriter(ctx context.Context, tx *sql.Tx) (*mirrorWriter, error) {
	w := &mirrorWriter{tx: tx, addKeys: map[int]*sql.Stmt{}}
	for _, p := range []struct {
		st    **sql.Stmt
		query string
	}{
		// Written when new, newer, or as new with another document;
		// RETURNING yields a row only then.
		// A tombstone gives way to a strictly newer version only.
		{&w.upsert, `INSERT INTO mirror_records (resource, id, customer_id, updated_at, seen_at, doc, deleted)
			VALUES ($1, $2, $3, $4, $5, $6, FALSE)
			ON CONFLICT (resource, id) DO UPDATE SET customer_id = excluded.customer_id,
				updated_at = excluded.updated_at, seen_at = excluded.seen_at, doc = excluded.doc, deleted = FALSE
			WHERE mirror_records.updated_at < excluded.updated_at
				OR (mirror_records.updated_at = excluded.updated_at AND NOT mirror_records.deleted
					AND mirror_records.doc <> excluded.doc)
			RETURNING id`},
		// The same version again: seen, not changed.
		{&w.refresh, `UPDATE mirror_records SET seen_at = $3 WHERE resource = $1 AND id = $2 AND updated_at = $4 AND NOT deleted`},
		{&w.readKeys, `SELECT kind, value, customer_id FROM mirror_keys WHERE resource = $1 AND id = $2 ORDER BY kind, value`},
		{&w.dropKeys, `DELETE FROM mirror_keys WHERE resource = $1 AND id = $2`},
	} {
		st, err := tx.PrepareContext(ctx, p.query)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		*p.st = st
	}
	return w, nil
}

func (w *mirrorWriter) close() {
	for _, st := range []*sql.Stmt{w.upsert, w.refresh, w.readKeys, w.dropKeys} {
		if st != nil {
			st.Close()
		}
	}
	for _, st := range w.addKeys {
		st.Close()
	}
}

// addKeysStmt returns the statement that inserts n keys of one record:
// $1, $2 and $3 are the record's resource, id and customer id, then each
// key's kind and value.
func (w *mirrorWriter) addKeysStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	if st := w.addKeys[n]; st != nil {
		return st, nil
	}
	rows := make([]string, n)
	for i := range rows {
		rows[i] = fmt.Sprintf("($%d, $%d, $1, $2, $3)", 4+2*i, 5+2*i)
	}
	st, err := w.tx.PrepareContext(ctx, `INSERT INTO mirror_keys (kind, value, resource, id, customer_id) VALUES `+
		strings.Join(rows, ", ")+` ON CONFLICT DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	w.addKeys[n] = st
	return st, nil
}

// put writes one record unless the stored one is newer, and replaces its
// keys unless so; it reports whether the record changed.
func (w *mirrorWriter) put(ctx context.Context, r *rechargekit.MirrorRecord, now time.Time) (changed bool, err error) {
	updated, seen := dbTime(truncate(r.UpdatedAt)), dbTime(stamp(r.SeenAt, now))
	doc, err := packDoc(r.Doc)
	if err != nil {
		return false, err
	}
	var id int64
	err = w.upsert.QueryRowContext(ctx, r.Resource, r.ID, r.CustomerID, updated, seen, doc).Scan(&id)
	switch {
	case err == nil:
		changed = true
	case err == sql.ErrNoRows:
		n, err := rowsAffected(w.refresh.ExecContext(ctx, r.Resource, r.ID, seen, updated))
		if err != nil || n == 0 {
			return false, err // or the stored record is newer
		}
	default:
		return false, err
	}
	// The same version again gets its keys too, so that a full re-read
	// heals keys made by other rules (a new phone region). Keys that did
	// not change are left alone: reading them costs less than rewriting.
	same, err := w.sameKeys(ctx, r)
	if err != nil || same {
		return changed, err
	}
	if _, err := w.dropKeys.ExecContext(ctx, r.Resource, r.ID); err != nil || len(r.Keys) == 0 {
		return changed, err
	}
	st, err := w.addKeysStmt(ctx, len(r.Keys))
	if err != nil {
		return false, err
	}
	args := []any{r.Resource, r.ID, r.CustomerID}
	for _, k := range r.Keys {
		args = append(args, k.Kind, k.Value)
	}
	_, err = st.ExecContext(ctx, args...)
	return changed, err
}

// sameKeys reports whether the stored keys of r are r.Keys, for r's
// customer.
func (w *mirrorWriter) sameKeys(ctx context.Context, r *rechargekit.MirrorRecord) (bool, error) {
	rows, err := w.readKeys.QueryContext(ctx, r.Resource, r.ID)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	var have []rechargekit.SearchKey
	for rows.Next() {
		var (
			k        rechargekit.SearchKey
			customer int64
		)
		if err := rows.Scan(&k.Kind, &k.Value, &customer); err != nil {
			return false, err
		}
		if customer != r.CustomerID {
			return false, rows.Err()
		}
		have = append(have, k)
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	want := slices.Clone(r.Keys)
	slices.SortFunc(want, func(a, b rechargekit.SearchKey) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Value, b.Value))
	})
	return slices.Equal(have, slices.Compact(want)), nil
}

// DeleteMirror implements rechargekit.MirrorStore. The record's row,
// locked on PostgreSQL, decides: a newer version (or a later deletion)
// held refuses the deletion; otherwise the row becomes the tombstone, or
// one is inserted when nothing was held. A customer's deletion then makes
// a tombstone of every record of the customer, each at the deletion's
// time or its own updated_at when that is later.
func (s *Store) DeleteMirror(ctx context.Context, resource string, id int64, at time.Time) (int64, error) {
	if err := checkResource(resource); err != nil {
		return 0, err
	}
	if id <= 0 {
		return 0, rechargekit.Errorf(rechargekit.EINVALID, "A mirrored %s record needs a positive id, not %d.", resource, id)
	}
	var customerID int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		upTo := truncate(stamp(at, now))
		held, owner, err := s.tombstone(ctx, tx, resource, id, upTo, at.IsZero(), now)
		if err != nil {
			return err
		}
		if held {
			customerID = owner
		}
		if resource != rechargekit.MirrorCustomers || (!held && owner == 0) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mirror_keys WHERE (resource, id) IN
			(SELECT resource, id FROM mirror_records WHERE customer_id = $1 AND NOT deleted)`, id); err != nil {
			return err
		}
		n, err := rowsAffected(tx.ExecContext(ctx, `UPDATE mirror_records SET deleted = TRUE, doc = $2, seen_at = $3,
				updated_at = CASE WHEN updated_at > $4 THEN updated_at ELSE $4 END
			WHERE customer_id = $1 AND NOT deleted`, id, []byte{}, dbTime(now), dbTime(upTo)))
		if n > 0 {
			customerID = id
		}
		return err
	})
	if err != nil {
		return 0, s.wrap(fmt.Sprintf("delete mirrored %s %d", resource, id), err)
	}
	return customerID, nil
}

// tombstone makes the tombstone of one record deleted at upTo (or, when
// always, at upTo or the held record's updated_at, whichever is later).
// held reports whether a live record was removed, owner is its customer
// id, or the record's own customer (0 when unknown) for a tombstone that
// was made or moved; both are zero when a newer version refused the
// deletion.
func (s *Store) tombstone(ctx context.Context, tx *sql.Tx, resource string, id int64, upTo time.Time, always bool, now time.Time) (held bool, owner int64, err error) {
	var (
		updated time.Time
		deleted bool
	)
	for {
		err := tx.QueryRowContext(ctx, `SELECT customer_id, updated_at, deleted FROM mirror_records
			WHERE resource = $1 AND id = $2`+s.d.ForUpdate, resource, id).Scan(&owner, scanTime{&updated}, &deleted)
		if s.condition(err) != NoRows {
			if err != nil {
				return false, 0, err
			}
			break
		}
		// Nothing held: a tombstone alone, whose customer is unknown
		// unless it is one; a racing write that inserted the record
		// first makes this insert nothing, and the row is read again.
		if resource == rechargekit.MirrorCustomers {
			owner = id
		}
		n, err := rowsAffected(tx.ExecContext(ctx, `INSERT INTO mirror_records (resource, id, customer_id, updated_at, seen_at, doc, deleted)
			VALUES ($1, $2, $3, $4, $5, $6, TRUE) ON CONFLICT (resource, id) DO NOTHING`,
			resource, id, owner, dbTime(upTo), dbTime(now), []byte{}))
		if err != nil || n == 1 {
			return false, owner, err
		}
	}
	if updated.After(upTo) {
		if !always {
			return false, 0, nil
		}
		upTo = updated
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mirror_records SET deleted = TRUE, doc = $3, updated_at = $4, seen_at = $5
		WHERE resource = $1 AND id = $2`, resource, id, []byte{}, dbTime(upTo), dbTime(now)); err != nil {
		return false, 0, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM mirror_keys WHERE resource = $1 AND id = $2`, resource, id); err != nil {
		return false, 0, err
	}
	return !deleted, owner, nil
}

// MirroredCustomer implements rechargekit.MirrorStore. The records come
// without their keys.
func (s *Store) MirroredCustomer(ctx context.Context, customerID int64) ([]*rechargekit.MirrorRecord, error) {
	recs, err := list(ctx, s, fmt.Sprintf("read mirrored customer %d", customerID), scanMirrorRecord, `
		SELECT resource, id, customer_id, updated_at, seen_at, doc FROM mirror_records
		WHERE customer_id = $1 AND NOT deleted ORDER BY `+resourceOrder+`, id`, customerID)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(recs, func(r *rechargekit.MirrorRecord) bool {
		return r.Resource == rechargekit.MirrorCustomers && r.ID == customerID
	}) {
		return nil, rechargekit.Errorf(rechargekit.ENOTFOUND, "Recharge customer %d is not in the mirror.", customerID)
	}
	return recs, nil
}

func scanMirrorRecord(r row) (*rechargekit.MirrorRecord, error) {
	var m rechargekit.MirrorRecord
	var stored []byte
	if err := r.Scan(&m.Resource, &m.ID, &m.CustomerID, scanTime{&m.UpdatedAt}, scanTime{&m.SeenAt}, &stored); err != nil {
		return nil, err
	}
	doc, err := unpackDoc(stored)
	if err != nil {
		return nil, fmt.Errorf("%s %d: %w", m.Resource, m.ID, err)
	}
	m.Doc = doc
	return &m, nil
}

// SearchMirror implements rechargekit.MirrorStore: one query whose parts,
// one per key, are each a range of the keys' primary index; each customer
// keeps the row of the earliest key it matched (the lowest stored value
// among a prefix's matches).
func (s *Store) SearchMirror(ctx context.Context, keys []rechargekit.SearchKey, limit int) ([]*rechargekit.MirrorHit, error) {
	if len(keys) > maxSearchKeys {
		return nil, rechargekit.Errorf(rechargekit.EINVALID, "A search takes at most %d keys, not %d.", maxSearchKeys, len(keys))
	}
	var (
		parts []string
		args  []any
		seen  = map[rechargekit.SearchKey]bool{}
	)
	for _, k := range keys {
		if err := checkSearchKey(k); err != nil {
			return nil, err
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		args = append(args, k.Kind, k.Value)
		cond := fmt.Sprintf("kind = $%d AND value = $%d", len(args)-1, len(args))
		if k.Kind == rechargekit.KeyName {
			args = append(args, k.Value+prefixEnd)
			cond = fmt.Sprintf("kind = $%d AND value >= $%d AND value < $%d", len(args)-2, len(args)-1, len(args))
		}
		parts = append(parts, fmt.Sprintf("SELECT customer_id, kind, value, %d AS ord FROM mirror_keys WHERE %s", len(parts), cond))
	}
	if len(parts) == 0 {
		return []*rechargekit.MirrorHit{}, nil
	}
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	args = append(args, min(limit, maxLimit))
	return list(ctx, s, "search the mirror", func(r row) (*rechargekit.MirrorHit, error) {
		var h rechargekit.MirrorHit
		return &h, r.Scan(&h.CustomerID, &h.Key.Kind, &h.Key.Value)
	}, `SELECT customer_id, kind, value FROM (
			SELECT customer_id, kind, value, row_number() OVER (PARTITION BY customer_id ORDER BY ord, value) AS n
			FROM (`+strings.Join(parts, " UNION ALL ")+`) matches
		) hits WHERE n = 1 ORDER BY customer_id DESC LIMIT `+fmt.Sprintf("$%d", len(args)), args...)
}

// nullTime binds a time that may be zero: NULL when it is.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return dbTime(truncate(t))
}

// MirrorCheckpoint implements rechargekit.MirrorStore.
func (s *Store) MirrorCheckpoint(ctx context.Context, resource string) (*rechargekit.MirrorCheckpoint, error) {
	if err := checkResource(resource); err != nil {
		return nil, err
	}
	cp, err := get(ctx, s, fmt.Sprintf("read the %s mirror checkpoint", resource), errNoCheckpoint, scanCheckpoint,
		selectCheckpoints+`WHERE resource = $1`, resource)
	if err == errNoCheckpoint {
		return &rechargekit.MirrorCheckpoint{Resource: resource}, nil
	}
	return cp, err
}

// errNoCheckpoint is MirrorCheckpoint's no row, answered with a zero one.
var errNoCheckpoint = rechargekit.Errorf(rechargekit.ENOTFOUND, "There is no checkpoint.")

const selectCheckpoints = `SELECT resource, cursor, done, records, started_at, max_id, last_id, swept_to, updated_at FROM mirror_checkpoints `

func scanCheckpoint(r row) (*rechargekit.MirrorCheckpoint, error) {
	var cp rechargekit.MirrorCheckpoint
	err := r.Scan(&cp.Resource, &cp.Cursor, &cp.Done, &cp.Records, scanTime{&cp.StartedAt}, &cp.MaxID, &cp.LastID,
		scanTime{&cp.SweptTo}, scanTime{&cp.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &cp, nil
}

// SetMirrorCheckpoint implements rechargekit.MirrorStore. It sets
// cp.UpdatedAt to the store's clock.
func (s *Store) SetMirrorCheckpoint(ctx context.Context, cp *rechargekit.MirrorCheckpoint) error {
	switch {
	case cp == nil:
		return rechargekit.Errorf(rechargekit.EINVALID, "A mirror checkpoint is required.")
	case !rechargekit.IsMirrorResource(cp.Resource):
		return checkResource(cp.Resource)
	case cp.Records < 0 || cp.MaxID < 0 || cp.LastID < 0:
		return rechargekit.Errorf(rechargekit.EINVALID, "The %s mirror checkpoint's counts and ids must not be negative.", cp.Resource)
	case len(cp.Cursor) > rechargekit.MaxTextLength || !isText(cp.Cursor):
		return rechargekit.Errorf(rechargekit.EINVALID, "The %s mirror checkpoint's cursor must be one line of text of at most %d bytes.",
			cp.Resource, rechargekit.MaxTextLength)
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO mirror_checkpoints (resource, cursor, done, records, started_at, max_id, last_id, swept_to, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (resource) DO UPDATE SET cursor = excluded.cursor, done = excluded.done, records = excluded.records,
				started_at = excluded.started_at, max_id = excluded.max_id, last_id = excluded.last_id,
				swept_to = excluded.swept_to, updated_at = excluded.updated_at`,
			cp.Resource, cp.Cursor, cp.Done, cp.Records, nullTime(cp.StartedAt), cp.MaxID, cp.LastID, nullTime(cp.SweptTo), dbTime(now))
		if err == nil {
			cp.UpdatedAt = now
		}
		return err
	})
	return s.wrap(fmt.Sprintf("write the %s mirror checkpoint", cp.Resource), err)
}

// MirrorStats implements rechargekit.MirrorStore. Every resource has a
// count (without tombstones) and a checkpoint (a zero one when none was written); a lease that
// expired by the store's clock is nobody's.
func (s *Store) MirrorStats(ctx context.Context) (*rechargekit.MirrorStats, error) {
	type count struct {
		resource string
		n        int64
	}
	counts, err := list(ctx, s, "count mirrored records", func(r row) (count, error) {
		var c count
		return c, r.Scan(&c.resource, &c.n)
	}, `SELECT resource, count(*) FROM mirror_records WHERE NOT deleted GROUP BY resource`)
	if err != nil {
		return nil, err
	}
	cps, err := list(ctx, s, "read the mirror checkpoints", scanCheckpoint, selectCheckpoints)
	if err != nil {
		return nil, err
	}
	st := &rechargekit.MirrorStats{Records: map[string]int64{}, Checkpoints: map[string]*rechargekit.MirrorCheckpoint{}}
	for _, r := range rechargekit.MirrorResources {
		st.Records[r] = 0
		st.Checkpoints[r] = &rechargekit.MirrorCheckpoint{Resource: r}
	}
	for _, c := range counts {
		st.Records[c.resource] = c.n
	}
	for _, cp := range cps {
		st.Checkpoints[cp.Resource] = cp
	}
	st.Lease, err = get(ctx, s, "read the mirror lease", errNoLease, scanLease,
		`SELECT holder, expires FROM mirror_lease WHERE id = 1 AND expires > $1`, dbTime(truncate(s.Now())))
	if err == errNoLease {
		err = nil
	}
	return st, err
}

// errNoLease is no lease row: nobody holds the lease.
var errNoLease = rechargekit.Errorf(rechargekit.ENOTFOUND, "Nobody holds the mirror lease.")

func scanLease(r row) (*rechargekit.MirrorLease, error) {
	var l rechargekit.MirrorLease
	if err := r.Scan(&l.Holder, scanTime{&l.Expires}); err != nil {
		return nil, err
	}
	return &l, nil
}

// PurgeMirror implements rechargekit.MirrorStore; tombstones go with
// the records.
func (s *Store) PurgeMirror(ctx context.Context) error {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		for _, table := range []string{"mirror_keys", "mirror_records", "mirror_checkpoints"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table); err != nil {
				return fmt.Errorf("empty %s: %w", table, err)
			}
		}
		return nil
	})
	return s.wrap("purge the mirror", err)
}

// AcquireMirrorLease implements rechargekit.MirrorStore with one upsert
// that takes the lease when nobody holds it, renews it for its holder and
// takes it over once it expired, and otherwise changes nothing: a racing
// taker on PostgreSQL waits for the first one's row and then finds it
// held, and SQLite runs one writer at a time, so exactly one wins.
func (s *Store) AcquireMirrorLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (bool, *rechargekit.MirrorLease, error) {
	switch {
	case strings.TrimSpace(holder) == "" || len(holder) > rechargekit.MaxIDLength || !isText(holder):
		return false, nil, rechargekit.Errorf(rechargekit.EINVALID, "A mirror lease holder must be a name of 1 to %d bytes of text.", rechargekit.MaxIDLength)
	case ttl <= 0:
		return false, nil, rechargekit.Errorf(rechargekit.EINVALID, "A mirror lease needs a positive duration, not %s.", ttl)
	}
	now = truncate(now)
	var (
		ok  bool
		cur *rechargekit.MirrorLease
	)
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		var err error
		cur, err = scanLease(tx.QueryRowContext(ctx, `
			INSERT INTO mirror_lease (id, holder, expires) VALUES (1, $1, $2)
			ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
				WHERE mirror_lease.holder = excluded.holder OR mirror_lease.expires <= $3
			RETURNING holder, expires`, holder, dbTime(now.Add(ttl)), dbTime(now)))
		if s.condition(err) != NoRows {
			ok = err == nil
			return err
		}
		cur, err = scanLease(tx.QueryRowContext(ctx, `SELECT holder, expires FROM mirror_lease WHERE id = 1`))
		return err
	})
	if err != nil {
		return false, nil, s.wrap("take the mirror lease", err)
	}
	return ok, cur, nil
}

// ReleaseMirrorLease implements rechargekit.MirrorStore.
func (s *Store) ReleaseMirrorLease(ctx context.Context, holder string) error {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM mirror_lease WHERE id = 1 AND holder = $1`, holder)
		return err
	})
	return s.wrap("release the mirror lease", err)
}
