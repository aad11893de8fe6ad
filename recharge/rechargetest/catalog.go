package rechargetest

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Products, plans, token information, store and webhooks (spec sections 1,
// 7, 8, 13).

// platformError is what 2021-11 /products answers on a Shopify store.
func platformError() response {
	return fieldError("platform", "This API is not compatible with your platform")
}

func (c *call) listProducts() response {
	st := c.s.st
	if st.platform != PlatformCustom {
		return platformError()
	}
	lq, resp, ok := parseList(productSpec, c.r.URL.Query())
	if !ok {
		return resp
	}
	set := lq.f.sset("external_product_ids")
	items := make([]listItem, 0, len(st.products))
	for _, p := range st.products {
		if set != nil && !set[p.ExternalProductID] {
			continue
		}
		items = append(items, listItem{id: p.seq, obj: p})
	}
	return lq.respond(items)
}

func (c *call) getProduct() response {
	st := c.s.st
	if st.platform != PlatformCustom {
		return platformError()
	}
	p := st.products[c.params[0]]
	if p == nil {
		return notFound()
	}
	return jsonResponse(http.StatusOK, map[string]any{"product": p})
}

func (c *call) listPlans() response {
	st := c.s.st
	lq, resp, ok := parseList(planSpec, c.r.URL.Query())
	if !ok {
		return resp
	}
	items := make([]listItem, 0, len(st.plans))
	for _, p := range st.plans {
		if v, ok := lq.f.str("external_product_id"); ok && v != p.ExternalProductID.value() {
			continue
		}
		if set := lq.f.set("ids"); set != nil && !set[p.ID] {
			continue
		}
		if v, ok := lq.f.str("type"); ok && v != p.Type {
			continue
		}
		if !lq.f.timeIn("updated_at", p.UpdatedAt.Time) {
			continue
		}
		items = append(items, listItem{id: p.ID, created: p.CreatedAt.Time, updated: p.UpdatedAt.Time, obj: p})
	}
	return lq.respond(items)
}

func (c *call) getPlan() response {
	id, ok := c.id()
	p := c.s.st.plans[id]
	if !ok || p == nil {
		return notFound()
	}
	return jsonResponse(http.StatusOK, map[string]any{"plan": p})
}

func (c *call) tokenInformation() response {
	scopes := slices.Clone(c.s.cfg.Scopes)
	slices.Sort(scopes)
	return jsonResponse(http.StatusOK, map[string]any{"token_information": tokenInformationJSON{
		Client:       tokenClient{ContactEmail: "developers@example-store.com", Name: "rechargekit simulator"},
		ContactEmail: "developers@example-store.com",
		Name:         "Simulated API token",
		Scopes:       scopes,
	}})
}

func (c *call) storeInfo() response {
	st := c.s.st
	created := st.created
	if created.IsZero() {
		created = c.now.AddDate(-3, 0, 0)
	}
	platform := "shopify"
	if st.platform == PlatformCustom {
		platform = "custom"
	}
	return jsonResponse(http.StatusOK, map[string]any{"store": storeJSON{
		ID:                           81230,
		CheckoutPlatform:             platform,
		CreatedAt:                    sec(created),
		Currency:                     "USD",
		CustomerPortalBaseURL:        "https://example-store.com/tools/recurring",
		DefaultAPIVersion:            APIVersion,
		DisabledCurrenciesHistorical: []string{},
		Email:                        "support@example-store.com",
		EnabledPresentmentCurrencies: []string{"USD"},
		EnabledPresentmentCurrenciesSymbols: []currencySymbol{
			{Currency: "USD", LocaleName: "en-US", Symbol: "$"},
		},
		ExternalPlatform:      platform,
		Identifier:            "example-store.myshopify.com",
		MerchantPortalBaseURL: "https://example-store-sp.admin.rechargeapps.com",
		Name:                  "Example Store",
		Phone:                 strp("+15550100100"),
		// Dates (next_charge_scheduled_at, scheduled_at) are UTC calendar
		// days in the simulator, so the store says it runs on UTC.
		Timezone:   storeTimezone{IANAName: "Etc/UTC", Name: "(GMT+00:00) UTC"},
		UpdatedAt:  sec(created),
		WeightUnit: "lb",
	}})
}

// webhookTopics are the topics POST /webhooks accepts (spec section 13).
var webhookTopics = []string{
	"address/created", "address/updated", "address/deleted",
	"charge/created", "charge/updated", "charge/paid", "charge/failed", "charge/upcoming",
	"charge/max_retries_reached", "charge/refunded", "charge/deleted",
	"customer/created", "customer/updated", "customer/activated", "customer/deactivated",
	"customer/deleted", "customer/payment_method_updated",
	"order/created", "order/updated", "order/deleted", "order/processed",
	"plan/created", "plan/updated", "plan/deleted",
	"subscription/created", "subscription/updated", "subscription/activated", "subscription/cancelled",
	"subscription/deleted", "subscription/skipped", "subscription/unskipped", "subscription/swapped",
	"subscription/paused",
	"store/updated", "recharge/uninstalled",
}

// topicScope is the read scope a webhook topic needs.
func topicScope(topic string) string {
	switch strings.SplitN(topic, "/", 2)[0] {
	case "address", "customer":
		return "read_customers"
	case "charge", "order":
		return "read_orders"
	case "subscription":
		return "read_subscriptions"
	case "plan":
		return "read_products"
	}
	return "store_info"
}

func (c *call) listWebhooks() response {
	st := c.s.st
	lq, resp, ok := parseList(webhookSpec, c.r.URL.Query())
	if !ok {
		return resp
	}
	items := make([]listItem, 0, len(st.webhooks))
	for _, id := range slices.Sorted(maps.Keys(st.webhooks)) {
		w := st.webhooks[id]
		if v, ok := lq.f.str("topic"); ok && v != w.Topic {
			continue
		}
		items = append(items, listItem{id: w.ID, obj: w})
	}
	return lq.respond(items)
}

func (c *call) webhook() (*webhookJSON, bool) {
	id, ok := c.id()
	w := c.s.st.webhooks[id]
	return w, ok && w != nil
}

func (c *call) getWebhook() response {
	w, ok := c.webhook()
	if !ok {
		return notFound()
	}
	return jsonResponse(http.StatusOK, map[string]any{"webhook": w})
}

// applyWebhook validates and copies address, topic and included_objects.
func (c *call) applyWebhook(f *form, w *webhookJSON) (response, bool) {
	if v, set := f.str("address"); set {
		u, err := url.Parse(deref(v))
		if v == nil || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			f.fail("address", "Not a valid URL.")
		} else {
			w.Address = *v
		}
	}
	if v, set := f.str("topic"); set {
		if v == nil || !slices.Contains(webhookTopics, *v) {
			f.fail("topic", "Must be one of: "+strings.Join(webhookTopics, ", ")+".")
		} else {
			w.Topic = *v
		}
	}
	if raw, set := f.body["included_objects"]; set {
		var objs []string
		if err := json.Unmarshal(raw, &objs); err != nil {
			f.fail("included_objects", "Not a valid list.")
		} else if objs != nil {
			w.IncludedObjects = objs
		}
	}
	if !f.ok() {
		return f.response(), false
	}
	if sc := topicScope(w.Topic); !c.s.scopes[sc] {
		return forbidden(sc), false
	}
	return response{}, true
}

func (c *call) createWebhook() response {
	st := c.s.st
	f := c.form()
	f.required("address", "topic")
	if !f.ok() {
		return f.response()
	}
	w := &webhookJSON{IncludedObjects: []string{}, Version: APIVersion}
	if resp, ok := c.applyWebhook(f, w); !ok {
		return resp
	}
	w.ID = st.nextID(kindWebhook)
	st.webhooks[w.ID] = w
	return jsonResponse(http.StatusCreated, map[string]any{"webhook": w})
}

func (c *call) updateWebhook() response {
	w, ok := c.webhook()
	if !ok {
		return notFound()
	}
	next := *w
	if resp, ok := c.applyWebhook(c.form(), &next); !ok {
		return resp
	}
	*w = next
	return jsonResponse(http.StatusOK, map[string]any{"webhook": w})
}

func (c *call) deleteWebhook() response {
	w, ok := c.webhook()
	if !ok {
		return notFound()
	}
	delete(c.s.st.webhooks, w.ID)
	return response{status: http.StatusNoContent}
}

// hookTargets returns the registered webhooks for a topic.
func (st *store) hookTargets(topic string) []target {
	var out []target
	for _, id := range slices.Sorted(maps.Keys(st.webhooks)) {
		if w := st.webhooks[id]; w.Topic == topic {
			out = append(out, target{url: w.Address, hook: id})
		}
	}
	return out
}
