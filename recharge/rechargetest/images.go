package rechargetest

import (
	"bytes"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"unicode"
)

// ImagesPath is where the simulator serves product pictures of its own:
// GET /__sim/images/<slug>.png (also <slug>_small.png, _medium and _large,
// the renditions a seed's image URL is given) answers a small PNG, a
// coloured tile with the product's initials, the same for the same slug.
// Like the rest of /__sim/ it needs no token. DemoSeedWithImages points the
// demo store's products here, so that the demo's console shows real
// pictures with no network.
const ImagesPath = "/__sim/images/"

// imageSide is the pictures' width and height in pixels: twice the
// console's 96 CSS pixels, sharp on high-density screens.
const imageSide = 192

// DemoSeedWithImages is DemoSeed with every product's image served by the
// simulator itself at simURL (e.g. "http://127.0.0.1:4010") under
// ImagesPath, instead of the made-up cdn.example-store.com.
func DemoSeedWithImages(simURL string) Seed {
	return demoSeed(strings.TrimRight(simURL, "/") + ImagesPath)
}

// serveImage answers GET ImagesPath<slug>.png.
func (s *Simulator) serveImage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, ImagesPath), ".png")
	for _, size := range []string{"_small", "_medium", "_large"} {
		name = strings.TrimSuffix(name, size)
	}
	if !ok || !validSlug(name) {
		http.NotFound(w, r)
		return
	}
	b := ProductPicture(name)
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(b)
	}
}

// validSlug reports whether s is a product slug: lowercase letters, digits
// and dashes, as in "dog-lovers-tee".
func validSlug(s string) bool {
	if s == "" || len(s) > 80 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// ProductPicture draws the simulator's picture of a product slug: a tile
// in a colour of its own on a light ground, with the initials of the
// slug's first two words ("dog-lovers-tee": DL) in white block letters.
// It returns the PNG's bytes.
func ProductPicture(slug string) []byte {
	h := fnv.New32a()
	h.Write([]byte(slug))
	hue := float64(h.Sum32()%360) / 360
	bg, tile, shade := hsl(hue, .55, .93), hsl(hue, .5, .5), hsl(hue, .45, .4)

	img := image.NewRGBA(image.Rect(0, 0, imageSide, imageSide))
	const margin, radius = 20, 22
	for y := range imageSide {
		for x := range imageSide {
			c := bg
			if inRoundedRect(x, y, margin, margin, imageSide-margin, imageSide-margin, radius) {
				c = tile
				if y > imageSide-margin-28 {
					c = shade // a darker band at the bottom of the tile
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
	drawText(img, initialsOf(slug), imageSide/2, imageSide/2-8, 9, color.RGBA{255, 255, 255, 255})

	var buf bytes.Buffer
	_ = png.Encode(&buf, img) // writing to memory cannot fail
	return buf.Bytes()
}

// initialsOf returns the upper-case first letters (or digits) of the
// slug's first two words.
func initialsOf(slug string) string {
	var out []rune
	for w := range strings.SplitSeq(slug, "-") {
		if w == "" {
			continue
		}
		out = append(out, unicode.ToUpper(rune(w[0])))
		if len(out) == 2 {
			break
		}
	}
	return string(out)
}

func inRoundedRect(x, y, x0, y0, x1, y1, r int) bool {
	if x < x0 || x >= x1 || y < y0 || y >= y1 {
		return false
	}
	// Distance to the nearest corner's centre, where it matters.
	cx := min(max(x, x0+r), x1-1-r)
	cy := min(max(y, y0+r), y1-1-r)
	dx, dy := x-cx, y-cy
	return dx*dx+dy*dy <= r*r
}

// glyphs is a 5x7 block font for the initials: each row's five bits, the
// leftmost pixel in bit 4.
var glyphs = map[rune][7]uint8{
	'A': {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
	'B': {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},
	'C': {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E},
	'D': {0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E},
	'E': {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F},
	'F': {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},
	'G': {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F},
	'H': {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
	'I': {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},
	'J': {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},
	'K': {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},
	'L': {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},
	'M': {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11},
	'N': {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},
	'O': {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
	'P': {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},
	'Q': {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D},
	'R': {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},
	'S': {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E},
	'T': {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},
	'U': {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
	'V': {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},
	'W': {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A},
	'X': {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},
	'Y': {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04},
	'Z': {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},
	'0': {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E},
	'1': {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
	'2': {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F},
	'3': {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
	'4': {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02},
	'5': {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
	'6': {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E},
	'7': {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
	'8': {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E},
	'9': {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
}

// drawText draws s centred on (cx, cy), each font pixel a scale-sized
// square, one font pixel between letters; unknown letters are left out.
func drawText(img *image.RGBA, s string, cx, cy, scale int, c color.RGBA) {
	var rs []rune
	for _, r := range s {
		if _, ok := glyphs[r]; ok {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return
	}
	w := (len(rs)*6 - 1) * scale
	x0, y0 := cx-w/2, cy-7*scale/2
	for i, r := range rs {
		g := glyphs[r]
		for row := range 7 {
			for col := range 5 {
				if g[row]&(1<<(4-col)) == 0 {
					continue
				}
				px, py := x0+(i*6+col)*scale, y0+row*scale
				for y := py; y < py+scale; y++ {
					for x := px; x < px+scale; x++ {
						img.SetRGBA(x, y, c)
					}
				}
			}
		}
	}
}

// hsl converts a hue, saturation and lightness (each 0 to 1) to a colour.
func hsl(h, s, l float64) color.RGBA {
	f := func(n float64) uint8 {
		k := n + h*12
		for k >= 12 {
			k -= 12
		}
		a := s * min(l, 1-l)
		v := l - a*max(-1, min(k-3, 9-k, 1))
		return uint8(v*255 + 0.5)
	}
	return color.RGBA{f(0), f(8), f(4), 255}
}
