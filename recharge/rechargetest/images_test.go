package rechargetest

import (
	"bytes"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestProductPictures: the simulator serves a PNG per product slug under
// ImagesPath, every rendition alike, without a token; the picture is the
// same for the same slug, differs between products and shows the initials
// in white; anything that is not a slug's picture is a 404.
func TestProductPictures(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, Config{})
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	resp, tee := get(ImagesPath + "dog-lovers-tee_small.png?v=1718035200")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET a picture = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	img, err := png.Decode(bytes.NewReader(tee))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != imageSide || b.Dy() != imageSide {
		t.Errorf("picture is %v, want %dx%d", b, imageSide, imageSide)
	}
	// The centre holds the initials' white pixels, the corner the ground.
	white := 0
	for y := imageSide/2 - 30; y < imageSide/2+20; y++ {
		for x := imageSide/2 - 50; x < imageSide/2+50; x++ {
			if r, g, b, _ := img.At(x, y).RGBA(); r == 0xffff && g == 0xffff && b == 0xffff {
				white++
			}
		}
	}
	if white < 500 {
		t.Errorf("only %d white pixels where the initials are", white)
	}
	if _, large := get(ImagesPath + "dog-lovers-tee_large.png"); !bytes.Equal(large, tee) {
		t.Error("the renditions of one product differ")
	}
	if _, cat := get(ImagesPath + "cat-pajama-pants.png"); bytes.Equal(cat, tee) {
		t.Error("two products have the same picture")
	}
	if srv.Stats().Requests != 0 {
		t.Errorf("pictures were counted as API requests: %+v", srv.Stats())
	}
	for _, path := range []string{
		ImagesPath + "dog-lovers-tee.jpg",
		ImagesPath + "Dog.png",
		ImagesPath + "../stats.png",
		ImagesPath + ".png",
		ImagesPath + strings.Repeat("a", 81) + ".png",
	} {
		if resp, _ := get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
	}
}

// TestDemoSeedWithImages: the demo store's products point at the
// simulator's own pictures, and every one of those addresses answers a
// PNG; DemoSeed keeps the made-up CDN.
func TestDemoSeedWithImages(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, Config{})
	seed := DemoSeedWithImages(srv.URL + "/")
	if len(seed.Products) != len(DemoSeed().Products) {
		t.Fatalf("%d products, want %d", len(seed.Products), len(DemoSeed().Products))
	}
	for _, p := range seed.Products {
		if !strings.HasPrefix(p.Image, srv.URL+ImagesPath) {
			t.Errorf("%s: image %q is not the simulator's", p.Title, p.Image)
			continue
		}
		for _, rendition := range []string{p.Image, imageSet(p.Image, 1).Small} {
			resp, err := http.Get(rendition)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
				t.Errorf("%s: GET %s = %d", p.Title, rendition, resp.StatusCode)
			}
		}
	}
	for _, p := range DemoSeed().Products {
		if !strings.HasPrefix(p.Image, demoImageHost) {
			t.Errorf("DemoSeed %s: image %q", p.Title, p.Image)
		}
	}
}
