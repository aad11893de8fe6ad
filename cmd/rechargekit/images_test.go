package main

import (
	"html"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDemoShowsProductImages: the demo's console shows each product's
// picture, served by the demo's own simulator through the console's image
// proxy, which the demo allows to fetch from that one local address.
func TestDemoShowsProductImages(t *testing.T) {
	t.Parallel()
	base, out := startServer(t, nil, "demo", "--addr", "127.0.0.1:0")
	var password string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "agent" && f[2] == "password" {
			password = f[3]
		}
	}
	client := signIn(t, base, "agent@example.com", password)
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, page := get("/profiles/alex-rivera")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("profile page = %d", resp.StatusCode)
	}
	srcs := regexp.MustCompile(`<img class="sub__img" src="(/img\?[^"]*)"`).FindAllSubmatch(page, -1)
	if len(srcs) != 3 {
		t.Fatalf("%d proxied product images on Alex's card, want 3", len(srcs))
	}
	for _, m := range srcs {
		resp, body := get(html.UnescapeString(string(m[1])))
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(string(body), "\x89PNG") {
			t.Errorf("GET %s = %d %q", m[1], resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// TestImageProxyAllowHostsSetting: serve reads the image proxy's allowed
// hosts from --image-proxy-allow-hosts or $IMAGE_PROXY_ALLOW_HOSTS (none
// by default) and refuses, at start-up, an entry that is not a host:port.
func TestImageProxyAllowHostsSetting(t *testing.T) {
	t.Parallel()
	parse := func(env map[string]string, args ...string) (*serveCommand, error) {
		c := &serveCommand{m: &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }}}
		return c, c.parseFlags(args)
	}
	if c, err := parse(nil); err != nil || len(c.imageAllow) != 0 {
		t.Errorf("default: %q, %v; want none", c.imageAllow, err)
	}
	c, err := parse(map[string]string{"IMAGE_PROXY_ALLOW_HOSTS": "127.0.0.1:4010, images.internal:8080"})
	if err != nil || !slices.Equal(c.imageAllow, []string{"127.0.0.1:4010", "images.internal:8080"}) {
		t.Errorf("from $IMAGE_PROXY_ALLOW_HOSTS: %q, %v", c.imageAllow, err)
	}
	for _, bad := range []string{"127.0.0.1", "http://127.0.0.1:4010/"} {
		if _, err := parse(nil, "--image-proxy-allow-hosts", bad); err == nil || !strings.Contains(err.Error(), "IMAGE_PROXY_ALLOW_HOSTS") {
			t.Errorf("--image-proxy-allow-hosts %q: %v, want an error naming the setting", bad, err)
		}
	}
}
