package sqlstore

import (
	"bytes"
	"strings"
	"testing"
)

func TestPackDoc(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"id":1,"line_items":[` + strings.Repeat(`{"title":"Organic Coffee Beans","sku":"COF-ORG-WB"},`, 40) + `{}]}`)
	a, err := packDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := packDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	// The upsert compares stored documents: one input must always pack
	// to the same bytes.
	if !bytes.Equal(a, b) {
		t.Error("packing one document twice gave different bytes")
	}
	if len(a) >= len(doc)/3 {
		t.Errorf("packed %d bytes into %d; want a JSON document to shrink at least threefold", len(doc), len(a))
	}
	got, err := unpackDoc(a)
	if err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("unpackDoc = %q, %v; want the document back", got, err)
	}
	if _, err := unpackDoc([]byte("not deflate")); err == nil {
		t.Error("unpackDoc of corrupt bytes succeeded")
	}
}
