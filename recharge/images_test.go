package recharge_test

import (
	"context"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/internal/testkit"
	"github.com/rechargekit/rechargekit/recharge"
	"github.com/rechargekit/rechargekit/recharge/rechargetest"
)

// imageSeed is a store with one catalog product and two customers whose
// cancelled subscriptions to it have no charges, so no charge line carries
// its image.
func imageSeed() rechargetest.Seed {
	noCharges := rechargetest.SeedSubscription{VariantID: "900001", Status: "cancelled", PastCharges: 0}
	withCharges := rechargetest.SeedSubscription{VariantID: "900001", PastCharges: 2}
	return rechargetest.Seed{
		Products: []rechargetest.SeedProduct{{
			ExternalProductID: "800001", Title: "Trail Socks", Image: "https://cdn.example-store.com/socks.png",
			Variants: []rechargetest.SeedVariant{{ExternalVariantID: "900001", Title: "M", SKU: "SOCK-M", Price: "12.00"}},
		}},
		Customers: []rechargetest.SeedCustomer{
			{ID: 101, Email: "first@example.com", Subscriptions: []rechargetest.SeedSubscription{noCharges}},
			{ID: 102, Email: "second@example.com", Subscriptions: []rechargetest.SeedSubscription{noCharges}},
			{ID: 103, Email: "charged@example.com", Subscriptions: []rechargetest.SeedSubscription{withCharges}},
		},
	}
}

func image(t *testing.T, src *recharge.Source, customerID int64) string {
	t.Helper()
	subs, err := src.Subscriptions(context.Background(), customerID)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 {
		t.Fatalf("customer %d has %d subscriptions, want 1", customerID, len(subs))
	}
	return subs[0].Product.ImageURL
}

func TestSourceRemembersCatalogImages(t *testing.T) {
	t.Parallel()
	sim := rechargetest.NewServer(t, rechargetest.Config{Platform: rechargetest.PlatformCustom})
	sim.Load(imageSeed())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := &recharge.Source{Client: sim.Client(), Now: func() time.Time { return now }}

	if img := image(t, src, 101); img == "" {
		t.Fatal("no catalog image for a subscription without charges")
	}
	if got := sim.Stats().ByRoute["GET /products"]; got != 1 {
		t.Fatalf("catalog calls = %d, want 1", got)
	}
	// Another customer with the same product: the remembered image, no call.
	if img := image(t, src, 102); img == "" {
		t.Error("the remembered image was not used")
	}
	if got := sim.Stats().ByRoute["GET /products"]; got != 1 {
		t.Errorf("catalog calls = %d after a second customer, want still 1", got)
	}
	// Past ProductTTL the catalog is asked again.
	now = now.Add(recharge.DefaultProductTTL + time.Minute)
	image(t, src, 102)
	if got := sim.Stats().ByRoute["GET /products"]; got != 2 {
		t.Errorf("catalog calls = %d after the TTL, want 2", got)
	}
}

func TestSourceRemembersChargeImagesOnShopify(t *testing.T) {
	t.Parallel()
	sim := rechargetest.NewServer(t, rechargetest.Config{}) // Shopify: no catalog
	sim.Load(imageSeed())
	src := &recharge.Source{Client: sim.Client()}

	if img := image(t, src, 101); img != "" {
		t.Fatalf("image %q before any charge showed the product", img)
	}
	charged := image(t, src, 103)
	if charged == "" {
		t.Fatal("no image from the charge lines")
	}
	if img := image(t, src, 101); img != charged {
		t.Errorf("image = %q, want the one learned from another customer's charge %q", img, charged)
	}
}

// A lookup never waits for another lookup's catalog probe: with the probe
// stuck on a slow /products, a second lookup returns at once without
// catalog images (before, it queued behind the probe's lock).
func TestSourceDoesNotWaitForAnotherCatalogProbe(t *testing.T) {
	t.Parallel()
	sim := rechargetest.NewServer(t, rechargetest.Config{Platform: rechargetest.PlatformCustom})
	sim.Load(imageSeed())
	sim.SetFaults(rechargetest.Faults{Delay: time.Minute, Route: "GET /products"})
	src := &recharge.Source{Client: sim.Client()}

	probeCtx, stopProbe := context.WithCancel(context.Background())
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		src.Subscriptions(probeCtx, 101)
	}()
	defer func() { stopProbe(); <-probed }()
	testkit.WaitFor(t, "the probe to be held in /products", func() bool {
		select {
		case <-probed:
			t.Fatal("the probe ended before reaching /products")
		default:
		}
		return sim.Stats().FaultsInjected > 0
	})

	subs, err := src.Subscriptions(context.Background(), 102)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-probed:
		t.Error("the second lookup returned only after the probe had ended: it waited for it")
	default:
	}
	if len(subs) != 1 || subs[0].Product.ImageURL != "" {
		t.Errorf("subscriptions = %+v, want one without an image", subs)
	}
}

func TestImagesBestKeepsOnlyWebURLs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		im   recharge.Images
		want string
	}{
		{recharge.Images{Medium: "javascript:alert(1)", Small: "https://cdn.example.com/s.png"}, "https://cdn.example.com/s.png"},
		{recharge.Images{Medium: "data:image/png;base64,AA", Original: "/relative.png"}, ""},
		{recharge.Images{Medium: " https://cdn.example.com/m.png "}, "https://cdn.example.com/m.png"},
	} {
		if got := tt.im.Best(); got != tt.want {
			t.Errorf("Best(%+v) = %q, want %q", tt.im, got, tt.want)
		}
	}
}
