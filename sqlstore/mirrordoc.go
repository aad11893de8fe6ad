package sqlstore

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"sync"
)

// A mirrored record's document is stored DEFLATE-compressed (RFC 1951,
// the default level): Recharge's JSON repeats its field names in every
// object and shrinks about fivefold, and a charge of 2.5 KB no longer
// spills into SQLite's overflow pages. Compression is deterministic for
// one input and level, so the upsert's comparison of stored documents
// still tells an unchanged record from a changed one. Documents are
// compressed and expanded here only; MirrorStore's callers see JSON.

var docWriters = sync.Pool{New: func() any {
	w, err := flate.NewWriter(io.Discard, flate.DefaultCompression)
	if err != nil {
		panic(err) // only for an invalid level
	}
	return w
}}

// packDoc compresses a document for storage.
func packDoc(doc []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(doc)/3 + 16)
	w := docWriters.Get().(*flate.Writer)
	defer docWriters.Put(w)
	w.Reset(&b)
	if _, err := w.Write(doc); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// maxDocBytes bounds an expanded document: a stored one that expands past
// it is corrupt, not a Recharge object.
const maxDocBytes = 16 << 20

// unpackDoc expands a stored document.
func unpackDoc(stored []byte) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(stored))
	defer r.Close()
	doc, err := io.ReadAll(io.LimitReader(r, maxDocBytes+1))
	if err != nil {
		return nil, fmt.Errorf("expand a mirrored document: %w", err)
	}
	if len(doc) > maxDocBytes {
		return nil, fmt.Errorf("expand a mirrored document: over %d bytes", maxDocBytes)
	}
	return doc, nil
}
