// This file holds how the console tells the client's address, which the
// sign-in limits count by, from behind trusted proxies.

package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address of the client: the peer address, or, when the
// peer is one of Config.TrustedProxies, the rightmost X-Forwarded-For
// address that is not itself a trusted proxy. Behind a load balancer
// without it, every client would share the balancer's address, and one
// person's failed sign-ins would lock everyone out. From any other peer
// X-Forwarded-For is ignored: anyone can send it.
func (c *console) clientIP(r *http.Request) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !c.trustedProxy(addr) {
		return peer
	}
	client := addr
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			if ap, err2 := netip.ParseAddrPort(strings.TrimSpace(hops[i])); err2 == nil {
				hop, err = ap.Addr(), nil
			}
		}
		if err != nil {
			break // a hop the proxies did not write: trust nothing left of it
		}
		client = hop
		if !c.trustedProxy(hop) {
			break
		}
	}
	return client.Unmap().WithZone("").String()
}

func (c *console) trustedProxy(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range c.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
